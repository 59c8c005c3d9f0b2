/* Checks and dispatch of the drawing ops (ops/image.h): a draw call becomes
 * one avf_px_draw (ops/image_draw_px.h), passed to the kernel by value. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/image_cpu.h"
#include "ops/cuda/image_cuda.h"
#include "ops/image_impl.h"

static const avf_dtype u8_only[] = {AVF_DTYPE_U8};

/* img is an RGB u8 image of one item; fills the image fields of d. */
static avf_status draw_target(avf_op_ctx *ctx, const char *op, avf_image_layout layout,
                              avf_tensor *img, avf_px_draw *d) {
    AVF_CHECK_ARG(ctx != NULL && img != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, img, "img"));
    AVF_TRY(avf_op_check_dtype(img, "img", u8_only, 1));
    int64_t N, C, H, W, sn;
    AVF_TRY(avf_image_dims(op, "img", img->ndim, img->shape, layout, &N, &C, &H, &W));
    if (N != 1 || C != 3)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: img must be one RGB image (%lld x %lld ch)", op,
                        (long long)N, (long long)C);
    memset(d, 0, sizeof *d);
    d->img = (uint8_t *)img->data;
    d->H = H;
    d->W = W;
    avf_image_strides(layout, C, H, W, &sn, &d->sc, &d->sh, &d->sw);
    return AVF_OK;
}

avf_status avf_op_draw_rects(avf_op_ctx *ctx, avf_image_layout layout, const avf_draw_rect *rects,
                             int n, avf_tensor *img) {
    avf_px_draw d;
    AVF_TRY(draw_target(ctx, "draw_rects", layout, img, &d));
    if (n < 0 || n > AVF_DRAW_MAX_RECTS || (n > 0 && !rects))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_rects: %d rectangles (0..%d per call)", n,
                        AVF_DRAW_MAX_RECTS);
    for (int i = 0; i < n; i++) {
        const avf_draw_rect *r = &rects[i];
        /* coordinates may lie off the image, but bounded so that x + w and
         * the kernel's comparisons cannot overflow */
        if (r->r.w < 0 || r->r.h < 0 || r->r.w > 4 * AVF_IMAGE_MAX_SIDE ||
            r->r.h > 4 * AVF_IMAGE_MAX_SIDE || r->r.x < -4 * AVF_IMAGE_MAX_SIDE ||
            r->r.x > 4 * AVF_IMAGE_MAX_SIDE || r->r.y < -4 * AVF_IMAGE_MAX_SIDE ||
            r->r.y > 4 * AVF_IMAGE_MAX_SIDE)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_rects: rectangle %d (%d,%d %dx%d) is out "
                            "of bounds", i, r->r.x, r->r.y, r->r.w, r->r.h);
        if (r->thickness < 1 || r->thickness > 256)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_rects: rectangle %d has thickness %d "
                            "(1..256)", i, r->thickness);
    }
    if (n == 0)
        return AVF_OK;
    d.kind = AVF_PX_DRAW_RECTS;
    d.n = n;
    memcpy(d.u.rects, rects, (size_t)n * sizeof *rects);
    return AVF_IMAGE_DISPATCH(ctx, image_draw, &d);
}

avf_status avf_op_draw_mask(avf_op_ctx *ctx, avf_image_layout layout, const avf_tensor *mask,
                            const uint8_t rgb[3], float alpha, avf_tensor *img) {
    avf_px_draw d;
    AVF_TRY(draw_target(ctx, "draw_mask", layout, img, &d));
    AVF_CHECK_ARG(mask != NULL && rgb != NULL);
    static const avf_dtype mask_dt[] = {AVF_DTYPE_U8, AVF_DTYPE_F32};
    AVF_TRY(avf_op_check_tensor(ctx, mask, "mask"));
    AVF_TRY(avf_op_check_dtype(mask, "mask", mask_dt, 2));
    int64_t md[2] = {d.H, d.W};
    AVF_TRY(avf_op_check_shape(mask, "mask", 2, md));
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_mask: alpha %g is outside [0, 1]",
                        (double)alpha);
    d.kind = AVF_PX_DRAW_MASK;
    d.u.m.mask = mask->data;
    d.u.m.mask_dt = (int)mask->dtype;
    d.u.m.alpha = alpha;
    memcpy(d.u.m.rgb, rgb, 3);
    return AVF_IMAGE_DISPATCH(ctx, image_draw, &d);
}

avf_status avf_op_draw_text(avf_op_ctx *ctx, avf_image_layout layout, const avf_draw_label *labels,
                            int n, avf_tensor *img) {
    avf_px_draw d;
    AVF_TRY(draw_target(ctx, "draw_text", layout, img, &d));
    if (n < 0 || n > AVF_DRAW_MAX_LABELS || (n > 0 && !labels))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_text: %d labels (0..%d per call)", n,
                        AVF_DRAW_MAX_LABELS);
    for (int i = 0; i < n; i++) {
        const avf_draw_label *l = &labels[i];
        if (l->scale < 1 || l->scale > 16)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_text: label %d has scale %d (1..16)", i,
                            l->scale);
        if (l->x < -4 * AVF_IMAGE_MAX_SIDE || l->x > 4 * AVF_IMAGE_MAX_SIDE ||
            l->y < -4 * AVF_IMAGE_MAX_SIDE || l->y > 4 * AVF_IMAGE_MAX_SIDE)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_text: label %d at %d,%d is out of bounds",
                            i, l->x, l->y);
        if (memchr(l->text, '\0', sizeof l->text) == NULL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "draw_text: label %d is not NUL-terminated "
                            "within %d bytes", i, AVF_DRAW_MAX_TEXT);
    }
    if (n == 0)
        return AVF_OK;
    d.kind = AVF_PX_DRAW_TEXT;
    d.n = n;
    memcpy(d.u.t.labels, labels, (size_t)n * sizeof *labels);
    avf_font_build(d.u.t.font);
    return AVF_IMAGE_DISPATCH(ctx, image_draw, &d);
}
