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
    int cw, ch;           /* crop size in pixels */
    float hm[8];          /* X = (h0 s + h1 t + h2) / (h6 s + h7 t + 1), Y likewise h3..h5 */
    float inv_cw, inv_ch; /* crop pixel (u, v) is at s = u / cw, t = v / ch */
    float rx, ry;         /* resize scales crop / output (cw / out_w, ch / H) */
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

/* OpenCV's bicubic weights (A = -0.75) for fraction f. */
AVF_HD void avf_qc_cubic(float f, float w[4]) {
    const float A = -0.75f;
    float x = f + 1.0f;
    w[0] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
    w[1] = ((A + 2.0f) * f - (A + 3.0f)) * f * f + 1.0f;
    x = 1.0f - f;
    w[2] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
    w[3] = 1.0f - w[0] - w[1] - w[2];
}

/* Where crop pixel (u, v) is in the source, and its cubic weights. */
typedef struct avf_qc_tapset {
    int x0, y0;
    float wx[4], wy[4];
} avf_qc_tapset;

AVF_HD void avf_qc_locate(const avf_qc_desc *d, int u, int v, avf_qc_tapset *ts) {
    float s = (float)u * d->inv_cw, t = (float)v * d->inv_ch;
    float w = d->hm[6] * s + d->hm[7] * t + 1.0f;
    float X = (d->hm[0] * s + d->hm[1] * t + d->hm[2]) / w;
    float Y = (d->hm[3] * s + d->hm[4] * t + d->hm[5]) / w;
    /* clamp far-outside points so the int conversion stays defined */
    float lim = 4.0f * (float)(d->sw > d->sh ? d->sw : d->sh) + 4.0f;
    X = !(X > -lim) ? -lim : X > lim ? lim : X;
    Y = !(Y > -lim) ? -lim : Y > lim ? lim : Y;
    float fx = floorf(X), fy = floorf(Y);
    ts->x0 = (int)fx - 1;
    ts->y0 = (int)fy - 1;
    avf_qc_cubic(X - fx, ts->wx);
    avf_qc_cubic(Y - fy, ts->wy);
}

/* The warped crop's pixel on channel plane pl: bicubic, border replicated,
 * rounded to u8 as warpPerspective's u8 output is. */
AVF_HD float avf_qc_crop_px(const avf_qc_desc *d, const uint8_t *pl, const avf_qc_tapset *ts) {
    float acc = 0.0f;
    for (int j = 0; j < 4; j++) {
        float row = 0.0f;
        for (int i = 0; i < 4; i++)
            row += ts->wx[i] * avf_qc_tap(pl, d->sw, d->sh, ts->x0 + i, ts->y0 + j);
        acc += ts->wy[j] * row;
    }
    return (float)avf_px_u8(acc);
}

/* cv2.resize's bilinear source index and weight along one axis. */
AVF_HD void avf_qc_axis(int64_t dst, float scale, int size, int *i0, int *i1, float *f) {
    float p = ((float)dst + 0.5f) * scale - 0.5f;
    float fl = floorf(p);
    int i = (int)fl;
    float fr = p - fl;
    if (i < 0) {
        i = 0;
        fr = 0.0f;
    }
    if (i >= size - 1) {
        i = size - 1;
        fr = 0.0f;
    }
    *i0 = i;
    *i1 = i + 1 < size ? i + 1 : size - 1;
    *f = fr;
}

/* Output pixel (x, y) of item d, every channel: the warped crop (cw x ch,
 * bicubic, u8) resized bilinearly (u8), then y = v * a + b. */
AVF_HD void avf_qc_pixel(const avf_qc_desc *d, const avf_qc_out *o, int64_t x, int64_t y) {
    int64_t plane = o->H * o->W;
    int64_t base = (int64_t)d->slot * o->C * plane + y * o->W + x;
    if (x >= d->out_w) {
        for (int c = 0; c < o->C; c++)
            avf_px_store(o->data, o->dt, base + c * plane, o->pad);
        return;
    }
    int u0, u1, v0, v1;
    float fu, fv;
    avf_qc_axis(x, d->rx, d->cw, &u0, &u1, &fu);
    avf_qc_axis(y, d->ry, d->ch, &v0, &v1, &fv);
    avf_qc_tapset t00, t01, t10, t11;
    avf_qc_locate(d, u0, v0, &t00);
    avf_qc_locate(d, u1, v0, &t01);
    avf_qc_locate(d, u0, v1, &t10);
    avf_qc_locate(d, u1, v1, &t11);
    int64_t sp = (int64_t)d->sw * d->sh;
    for (int c = 0; c < o->C; c++) {
        const uint8_t *pl = d->src + c * sp;
        float p00 = avf_qc_crop_px(d, pl, &t00), p01 = avf_qc_crop_px(d, pl, &t01);
        float p10 = avf_qc_crop_px(d, pl, &t10), p11 = avf_qc_crop_px(d, pl, &t11);
        float top = p00 + (p01 - p00) * fu, bot = p10 + (p11 - p10) * fu;
        float v = (float)avf_px_u8(top + (bot - top) * fv);
        avf_px_store(o->data, o->dt, base + c * plane, v * o->a[c] + o->b[c]);
    }
}

#endif /* AVF_OPS_IMAGE_CROP_PX_H */
