/* CPU reference kernels of the image family (ops/image.h): loops over output
 * pixels calling the rules of ops/image_px.h and ops/image_draw_px.h, which
 * the CUDA kernels call too. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/image_cpu.h"

avf_status avf_cpu_image_tensor(avf_op_ctx *ctx, const avf_px_tensor_op *t, int64_t N) {
    (void)ctx;
    for (int64_t n = 0; n < N; n++)
        for (int64_t y = 0; y < t->H; y++)
            for (int64_t x = 0; x < t->W; x++)
                avf_px_tensor_pixel(t, n, x, y);
    return AVF_OK;
}

avf_status avf_cpu_image_preprocess(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                    const avf_px_out *o) {
    (void)ctx;
    for (int i = 0; i < n; i++)
        for (int64_t y = 0; y < o->H; y++)
            for (int64_t x = 0; x < o->W; x++)
                avf_px_preprocess_pixel(&items[i], o, x, y);
    return AVF_OK;
}

avf_status avf_cpu_luma_hist(avf_op_ctx *ctx, const avf_px_item *items, int n, int bins,
                             float *hist) {
    (void)ctx;
    uint32_t counts[256];
    for (int i = 0; i < n; i++) {
        const avf_px_item *it = &items[i];
        memset(counts, 0, sizeof counts);
        for (int64_t y = 0; y < it->m.roi_h; y++) {
            const uint8_t *row = it->f.y + (it->m.roi_y + y) * it->f.y_pitch;
            for (int64_t x = 0; x < it->m.roi_w; x++)
                counts[avf_px_luma_bin(row, it->f.p010, it->m.roi_x + x, bins)]++;
        }
        for (int b = 0; b < bins; b++)
            hist[(int64_t)i * bins + b] = avf_px_hist_fraction(counts[b], &it->m);
    }
    return AVF_OK;
}

avf_status avf_cpu_luma_thumb(avf_op_ctx *ctx, const avf_px_item *items, int n, int64_t th,
                              int64_t tw, float *thumb) {
    (void)ctx;
    for (int i = 0; i < n; i++)
        for (int64_t y = 0; y < th; y++)
            for (int64_t x = 0; x < tw; x++)
                thumb[((int64_t)i * th + y) * tw + x] = avf_px_luma_area(&items[i], x, y);
    return AVF_OK;
}

avf_status avf_cpu_image_draw(avf_op_ctx *ctx, const avf_px_draw *d) {
    (void)ctx;
    for (int64_t y = 0; y < d->H; y++)
        for (int64_t x = 0; x < d->W; x++)
            avf_px_draw_pixel(d, x, y);
    return AVF_OK;
}
