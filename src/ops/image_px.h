/* Internal: the per-pixel rules of the image family (ops/image.h), written
 * once for the CPU kernels (plain C) and the CUDA kernels (host + device), so
 * both compute every output pixel with the same operations in the same order.
 *
 * A kernel on either device is a loop over output pixels that calls
 *   avf_px_plane_sample   one channel of a tensor image, resized/cropped
 *   avf_px_yuv_sample     the RGB of a YUV frame, resized/cropped
 * with an avf_px_map (the output box and the source ROI of one image), then
 * stores with avf_px_store. Area weights are exact integer overlaps (no
 * floating-point boundaries), bilinear taps use one float scale computed on
 * the host.
 */
#ifndef AVF_OPS_IMAGE_PX_H
#define AVF_OPS_IMAGE_PX_H

#include <math.h>
#include <stdint.h>

#include "ops/image.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#else
#include "core/half.h"
#endif

/* ---- scalar load/store by dtype (AVF_DTYPE_U8, _F32, _F16) ---- */

AVF_HD float avf_px_h2f(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#elif defined(__CUDACC__)
    __half_raw r;
    r.x = h;
    return __half2float(__half(r));
#else
    return avf_f16_to_f32(h);
#endif
}

AVF_HD uint16_t avf_px_f2h(float f) {
#ifdef __CUDA_ARCH__
    return __half_as_ushort(__float2half_rn(f));
#elif defined(__CUDACC__)
    __half_raw r = (__half_raw)__float2half_rn(f);
    return r.x;
#else
    return avf_f32_to_f16(f);
#endif
}

/* Round half up and saturate; NaN gives 0. */
AVF_HD uint8_t avf_px_u8(float v) {
    return !(v > 0.0f) ? (uint8_t)0 : v >= 255.0f ? (uint8_t)255 : (uint8_t)(v + 0.5f);
}

AVF_HD float avf_px_load(const void *p, int dt, int64_t i) {
    if (dt == AVF_DTYPE_U8)
        return (float)((const uint8_t *)p)[i];
    if (dt == AVF_DTYPE_F16)
        return avf_px_h2f(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

AVF_HD void avf_px_store(void *p, int dt, int64_t i, float v) {
    if (dt == AVF_DTYPE_U8)
        ((uint8_t *)p)[i] = avf_px_u8(v);
    else if (dt == AVF_DTYPE_F16)
        ((uint16_t *)p)[i] = avf_px_f2h(v);
    else
        ((float *)p)[i] = v;
}

/* ---- geometry of one image: output box <- source ROI ---- */

typedef struct avf_px_map {
    int mode;                  /* avf_resize_mode */
    int64_t roi_x, roi_y, roi_w, roi_h; /* in the source */
    int64_t box_x, box_y, box_w, box_h; /* in the output */
    float scale_x, scale_y;    /* roi / box, for bilinear */
} avf_px_map;

/* One bilinear axis: taps i0, i1 (source, ROI-relative) and i1's weight. */
typedef struct avf_px_lin {
    int64_t i0, i1;
    float w1;
} avf_px_lin;

AVF_HD avf_px_lin avf_px_linear_tap(int64_t d, int64_t in, int64_t out, float scale) {
    avf_px_lin t;
    if (in == out) { /* exact copy: no arithmetic on the coordinate */
        t.i0 = t.i1 = d;
        t.w1 = 0.0f;
        return t;
    }
    float s = ((float)d + 0.5f) * scale - 0.5f;
    if (!(s > 0.0f))
        s = 0.0f;
    int64_t i0 = (int64_t)s; /* s >= 0: truncation is floor */
    if (i0 >= in - 1) {
        t.i0 = t.i1 = in - 1;
        t.w1 = 0.0f;
        return t;
    }
    t.i0 = i0;
    t.i1 = i0 + 1;
    t.w1 = s - (float)i0;
    return t;
}

/* Area: output pixel d covers [d*in, (d+1)*in) in units of 1/out of an input
 * pixel; input pixel i covers [i*out, (i+1)*out). Their overlap (an integer,
 * 0..out) is i's weight; the weights of one output pixel sum to `in`. */
AVF_HD void avf_px_area_span(int64_t d, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    *lo = d * in / out;
    *hi = ((d + 1) * in + out - 1) / out;
}

AVF_HD int64_t avf_px_area_overlap(int64_t i, int64_t d, int64_t in, int64_t out) {
    int64_t a = i * out, b = a + out, c = d * in, e = c + in;
    int64_t lo = a > c ? a : c, hi = b < e ? b : e;
    return hi > lo ? hi - lo : 0;
}

/* ---- tensor image planes ---- */

typedef struct avf_px_plane {
    const void *data;          /* image n's first element */
    int dt;
    int64_t sc, sh, sw;        /* element strides of channel, row, column */
} avf_px_plane;

AVF_HD float avf_px_plane_at(const avf_px_plane *p, int64_t c, int64_t y, int64_t x) {
    return avf_px_load(p->data, p->dt, c * p->sc + y * p->sh + x * p->sw);
}

/* Channel c at output pixel (dx, dy) of the box (box-relative coordinates). */
AVF_HD float avf_px_plane_sample(const avf_px_plane *p, const avf_px_map *m, int64_t c,
                                 int64_t dx, int64_t dy) {
    if (m->mode == AVF_RESIZE_AREA && (m->roi_w != m->box_w || m->roi_h != m->box_h)) {
        int64_t x0, x1, y0, y1;
        avf_px_area_span(dx, m->roi_w, m->box_w, &x0, &x1);
        avf_px_area_span(dy, m->roi_h, m->box_h, &y0, &y1);
        float acc = 0.0f;
        for (int64_t y = y0; y < y1; y++) {
            float row = 0.0f;
            for (int64_t x = x0; x < x1; x++)
                row += avf_px_plane_at(p, c, m->roi_y + y, m->roi_x + x) *
                       (float)avf_px_area_overlap(x, dx, m->roi_w, m->box_w);
            acc += row * (float)avf_px_area_overlap(y, dy, m->roi_h, m->box_h);
        }
        return acc / ((float)m->roi_w * (float)m->roi_h);
    }
    avf_px_lin tx = avf_px_linear_tap(dx, m->roi_w, m->box_w, m->scale_x);
    avf_px_lin ty = avf_px_linear_tap(dy, m->roi_h, m->box_h, m->scale_y);
    int64_t ya = m->roi_y + ty.i0, yb = m->roi_y + ty.i1;
    int64_t xa = m->roi_x + tx.i0, xb = m->roi_x + tx.i1;
    float top = avf_px_plane_at(p, c, ya, xa);
    float bot = avf_px_plane_at(p, c, yb, xa);
    if (tx.w1 != 0.0f) {
        top += (avf_px_plane_at(p, c, ya, xb) - top) * tx.w1;
        bot += (avf_px_plane_at(p, c, yb, xb) - bot) * tx.w1;
    }
    return ty.w1 != 0.0f ? top + (bot - top) * ty.w1 : top;
}

/* ---- YUV 4:2:0 frames ---- */

/* A frame and its conversion: R = ky*(Y-oy) + crv*(V-oc), G = ky*(Y-oy) +
 * cgu*(U-oc) + cgv*(V-oc), B = ky*(Y-oy) + cbu*(U-oc), on the 8-bit scale,
 * Y/U/V in code values (P010: the 10-bit value). Built on the host by
 * avf_px_yuv_coefs (ops/image.c). */
typedef struct avf_px_yuv {
    const uint8_t *y, *uv;
    int64_t y_pitch, uv_pitch;
    int p010;
    float ky, oy, oc, crv, cgu, cgv, cbu;
} avf_px_yuv;

AVF_HD float avf_px_sample_code(const uint8_t *row, int p010, int64_t i) {
    if (p010)
        return (float)(((const uint16_t *)row)[i] >> 6);
    return (float)row[i];
}

AVF_HD float avf_px_clamp255(float v) {
    return !(v > 0.0f) ? 0.0f : v > 255.0f ? 255.0f : v;
}

/* RGB (clamped, 8-bit scale) of frame pixel (x, y). */
AVF_HD void avf_px_yuv_rgb(const avf_px_yuv *f, int64_t x, int64_t y, float *rgb) {
    float Y = avf_px_sample_code(f->y + y * f->y_pitch, f->p010, x);
    const uint8_t *cr = f->uv + (y >> 1) * f->uv_pitch;
    float U = avf_px_sample_code(cr, f->p010, (x >> 1) * 2) - f->oc;
    float V = avf_px_sample_code(cr, f->p010, (x >> 1) * 2 + 1) - f->oc;
    float l = f->ky * (Y - f->oy);
    rgb[0] = avf_px_clamp255(l + f->crv * V);
    rgb[1] = avf_px_clamp255(l + f->cgu * U + f->cgv * V);
    rgb[2] = avf_px_clamp255(l + f->cbu * U);
}

/* The RGB of output pixel (dx, dy) of the box: each tap converted, then
 * weighted exactly as avf_px_plane_sample weights an RGB image. */
AVF_HD void avf_px_yuv_sample(const avf_px_yuv *f, const avf_px_map *m, int64_t dx, int64_t dy,
                              float *rgb) {
    float t[3];
    if (m->mode == AVF_RESIZE_AREA && (m->roi_w != m->box_w || m->roi_h != m->box_h)) {
        int64_t x0, x1, y0, y1;
        avf_px_area_span(dx, m->roi_w, m->box_w, &x0, &x1);
        avf_px_area_span(dy, m->roi_h, m->box_h, &y0, &y1);
        float acc[3] = {0.0f, 0.0f, 0.0f};
        for (int64_t y = y0; y < y1; y++) {
            float row[3] = {0.0f, 0.0f, 0.0f};
            for (int64_t x = x0; x < x1; x++) {
                float w = (float)avf_px_area_overlap(x, dx, m->roi_w, m->box_w);
                avf_px_yuv_rgb(f, m->roi_x + x, m->roi_y + y, t);
                for (int c = 0; c < 3; c++)
                    row[c] += t[c] * w;
            }
            float w = (float)avf_px_area_overlap(y, dy, m->roi_h, m->box_h);
            for (int c = 0; c < 3; c++)
                acc[c] += row[c] * w;
        }
        float den = (float)m->roi_w * (float)m->roi_h;
        for (int c = 0; c < 3; c++)
            rgb[c] = acc[c] / den;
        return;
    }
    avf_px_lin tx = avf_px_linear_tap(dx, m->roi_w, m->box_w, m->scale_x);
    avf_px_lin ty = avf_px_linear_tap(dy, m->roi_h, m->box_h, m->scale_y);
    int64_t ya = m->roi_y + ty.i0, yb = m->roi_y + ty.i1;
    int64_t xa = m->roi_x + tx.i0, xb = m->roi_x + tx.i1;
    float top[3], bot[3];
    avf_px_yuv_rgb(f, xa, ya, top);
    avf_px_yuv_rgb(f, xa, yb, bot);
    if (tx.w1 != 0.0f) {
        avf_px_yuv_rgb(f, xb, ya, t);
        for (int c = 0; c < 3; c++)
            top[c] += (t[c] - top[c]) * tx.w1;
        avf_px_yuv_rgb(f, xb, yb, t);
        for (int c = 0; c < 3; c++)
            bot[c] += (t[c] - bot[c]) * tx.w1;
    }
    for (int c = 0; c < 3; c++)
        rgb[c] = ty.w1 != 0.0f ? top[c] + (bot[c] - top[c]) * ty.w1 : top[c];
}

/* ---- one item of the fused preprocess (and of colour conversion) ---- */

typedef struct avf_px_item {
    avf_px_yuv f;
    avf_px_map m;
    int64_t slot;
} avf_px_item;

/* What the fused kernel does per output pixel, besides the item: output
 * tensor layout and normalization (y = rgb[order] * a + b) and the pad. */
typedef struct avf_px_out {
    void *data;
    int dt;
    int64_t H, W;
    int64_t sn, sc, sh, sw;    /* element strides */
    int bgr;
    float a[3], b[3], pad[3];
} avf_px_out;

/* Writes output pixel (x, y) of item `it`'s slot. */
AVF_HD void avf_px_preprocess_pixel(const avf_px_item *it, const avf_px_out *o, int64_t x,
                                    int64_t y) {
    const avf_px_map *m = &it->m;
    int64_t base = it->slot * o->sn + y * o->sh + x * o->sw;
    float rgb[3];
    int inside = x >= m->box_x && x < m->box_x + m->box_w && y >= m->box_y &&
                 y < m->box_y + m->box_h;
    if (inside)
        avf_px_yuv_sample(&it->f, m, x - m->box_x, y - m->box_y, rgb);
    for (int c = 0; c < 3; c++) {
        float v = inside ? rgb[o->bgr ? 2 - c : c] : o->pad[c];
        avf_px_store(o->data, o->dt, base + c * o->sc, v * o->a[c] + o->b[c]);
    }
}

/* ---- one op on tensor images: resize, letterbox, crop, normalize ---- */

/* Every image n of the batch maps the same way: output pixel (x, y) of
 * image n, channel c = box ? sample : pad[c], stored as v * a[c] + b[c]. */
typedef struct avf_px_tensor_op {
    avf_px_map m;
    avf_px_plane in;           /* data: image 0 */
    int64_t in_sn;
    void *out;
    int out_dt;
    int64_t C, H, W;
    int64_t sn, sc, sh, sw;    /* output element strides */
    float a[AVF_IMAGE_MAX_CHANNELS], b[AVF_IMAGE_MAX_CHANNELS], pad[AVF_IMAGE_MAX_CHANNELS];
} avf_px_tensor_op;

AVF_HD void avf_px_tensor_pixel(const avf_px_tensor_op *t, int64_t n, int64_t x, int64_t y) {
    const avf_px_map *m = &t->m;
    avf_px_plane p = t->in;
    p.data = (const char *)p.data + n * t->in_sn * (int64_t)(t->in.dt == AVF_DTYPE_U8 ? 1
                                                             : t->in.dt == AVF_DTYPE_F16 ? 2 : 4);
    int inside = x >= m->box_x && x < m->box_x + m->box_w && y >= m->box_y &&
                 y < m->box_y + m->box_h;
    int64_t base = n * t->sn + y * t->sh + x * t->sw;
    for (int64_t c = 0; c < t->C; c++) {
        float v = inside ? avf_px_plane_sample(&p, m, c, x - m->box_x, y - m->box_y) : t->pad[c];
        avf_px_store(t->out, t->out_dt, base + c * t->sc, v * t->a[c] + t->b[c]);
    }
}

/* ---- scene-cut features: luma code values, no range conversion ---- */

AVF_HD int avf_px_luma_bin(const uint8_t *row, int p010, int64_t x, int bins) {
    if (p010)
        return (int)((((const uint16_t *)row)[x] >> 6) * (unsigned)bins >> 10);
    return (int)(row[x] * (unsigned)bins >> 8);
}

AVF_HD float avf_px_hist_fraction(uint32_t count, const avf_px_map *m) {
    return (float)((double)count / ((double)m->roi_w * (double)m->roi_h));
}

/* Thumbnail pixel (x, y) of box box_w x box_h: the area average over the
 * item's ROI, on the 8-bit scale (P010 / 4). */
AVF_HD float avf_px_luma_area(const avf_px_item *it, int64_t dx, int64_t dy) {
    const avf_px_map *m = &it->m;
    int64_t x0, x1, y0, y1;
    avf_px_area_span(dx, m->roi_w, m->box_w, &x0, &x1);
    avf_px_area_span(dy, m->roi_h, m->box_h, &y0, &y1);
    float acc = 0.0f;
    for (int64_t y = y0; y < y1; y++) {
        const uint8_t *row = it->f.y + (m->roi_y + y) * it->f.y_pitch;
        float r = 0.0f;
        for (int64_t x = x0; x < x1; x++)
            r += avf_px_sample_code(row, it->f.p010, m->roi_x + x) *
                 (float)avf_px_area_overlap(x, dx, m->roi_w, m->box_w);
        acc += r * (float)avf_px_area_overlap(y, dy, m->roi_h, m->box_h);
    }
    return acc / ((float)m->roi_w * (float)m->roi_h) * (it->f.p010 ? 0.25f : 1.0f);
}

#endif /* AVF_OPS_IMAGE_PX_H */
