/* Internal: the per-pixel rule of avf_op_quad_crop (ops/image_crop.h),
 * compiled for the CPU kernel (plain C) and the CUDA kernel (host + device),
 * so both compute every output pixel with the same operations in the same
 * order. The host turns each item into an avf_qc_desc: the projective map
 * from the unit square to the quad (8 coefficients, h22 = 1) and the affine
 * map from output pixels to the unit square. */
#ifndef AVF_OPS_IMAGE_CROP_PX_H
#define AVF_OPS_IMAGE_CROP_PX_H

#include <math.h>
#include <stdint.h>

#include "ops/image_crop.h"
#include "ops/image_px.h"

typedef struct avf_qc_desc {
    const uint8_t *src;   /* [C, sh, sw] planes */
    int sw, sh;
    int out_w;            /* valid columns */
    int slot;
    float hm[8];          /* X = (h0 s + h1 t + h2) / (h6 s + h7 t + 1), Y likewise h3..h5 */
    float sx, ox, sy, oy; /* s = x * sx + ox, t = y * sy + oy */
} avf_qc_desc;

typedef struct avf_qc_out {
    void *data;           /* [N, C, H, W] */
    int dt;               /* AVF_DTYPE_F32 or AVF_DTYPE_F16 */
    int C;
    int64_t H, W;
    float a[AVF_QUAD_CROP_MAX_CHANNELS], b[AVF_QUAD_CROP_MAX_CHANNELS];
    float pad;
} avf_qc_out;

AVF_HD float avf_qc_tap(const uint8_t *plane, int sw, int sh, int x, int y) {
    x = x < 0 ? 0 : x >= sw ? sw - 1 : x;
    y = y < 0 ? 0 : y >= sh ? sh - 1 : y;
    return (float)plane[(int64_t)y * sw + x];
}

/* Output pixel (x, y) of item d, every channel. */
AVF_HD void avf_qc_pixel(const avf_qc_desc *d, const avf_qc_out *o, int64_t x, int64_t y) {
    int64_t plane = o->H * o->W;
    int64_t base = (int64_t)d->slot * o->C * plane + y * o->W + x;
    if (x >= d->out_w) {
        for (int c = 0; c < o->C; c++)
            avf_px_store(o->data, o->dt, base + c * plane, o->pad);
        return;
    }
    float s = (float)x * d->sx + d->ox, t = (float)y * d->sy + d->oy;
    float w = d->hm[6] * s + d->hm[7] * t + 1.0f;
    float X = (d->hm[0] * s + d->hm[1] * t + d->hm[2]) / w;
    float Y = (d->hm[3] * s + d->hm[4] * t + d->hm[5]) / w;
    /* clamp far outside points first so the int conversion stays defined */
    float lim = 4.0f * (float)(d->sw > d->sh ? d->sw : d->sh) + 4.0f;
    X = !(X > -lim) ? -lim : X > lim ? lim : X;
    Y = !(Y > -lim) ? -lim : Y > lim ? lim : Y;
    float fx = floorf(X), fy = floorf(Y);
    int x0 = (int)fx, y0 = (int)fy;
    float ax = X - fx, ay = Y - fy;
    int64_t sp = (int64_t)d->sw * d->sh;
    for (int c = 0; c < o->C; c++) {
        const uint8_t *pl = d->src + c * sp;
        float v00 = avf_qc_tap(pl, d->sw, d->sh, x0, y0);
        float v01 = avf_qc_tap(pl, d->sw, d->sh, x0 + 1, y0);
        float v10 = avf_qc_tap(pl, d->sw, d->sh, x0, y0 + 1);
        float v11 = avf_qc_tap(pl, d->sw, d->sh, x0 + 1, y0 + 1);
        float top = v00 + (v01 - v00) * ax, bot = v10 + (v11 - v10) * ax;
        float v = top + (bot - top) * ay;
        avf_px_store(o->data, o->dt, base + c * plane, v * o->a[c] + o->b[c]);
    }
}

#endif /* AVF_OPS_IMAGE_CROP_PX_H */
