/* Helpers shared by the image family's tests (tests/ops/test_image*.c):
 * synthetic NV12/P010 frames with pitch > width (host bytes, uploaded to a
 * device on demand), the colour formula in double, and reading any image
 * dtype back as floats. */
#ifndef AVF_TEST_IMAGE_UTIL_H
#define AVF_TEST_IMAGE_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_test_util.h"
#include "ops/image.h"

typedef struct test_frame {
    avf_yuv_format fmt;
    int w, h;
    int64_t yp, uvp;          /* pitches in bytes */
    uint8_t *y, *uv;          /* host planes */
    avf_tensor ty, tuv;       /* device copies (tf_desc on a GPU context) */
} test_frame;

static inline int tf_bps(const test_frame *f) { return f->fmt == AVF_YUV_P010 ? 2 : 1; }

/* Store code value v (P010: 10-bit, with random low bits that must be ignored). */
static inline void tf_put(test_frame *f, uint8_t *plane, int64_t pitch, int64_t x, int64_t y,
                          unsigned v, uint64_t *seed) {
    if (f->fmt == AVF_YUV_P010) {
        uint16_t w = (uint16_t)((v << 6) | ((unsigned)avf_test_rand(seed, 0, 64) & 63u));
        memcpy(plane + y * pitch + 2 * x, &w, 2);
    } else {
        plane[y * pitch + x] = (uint8_t)v;
    }
}

static inline unsigned tf_get(const test_frame *f, const uint8_t *plane, int64_t pitch, int64_t x,
                              int64_t y) {
    if (f->fmt == AVF_YUV_P010) {
        uint16_t w;
        memcpy(&w, plane + y * pitch + 2 * x, 2);
        return w >> 6;
    }
    return plane[y * pitch + x];
}

/* Random codes over the whole range (so limited-range clamping is exercised)
 * unless lo/hi narrow it; `pad` extra bytes per row. */
static inline void tf_make_range(test_frame *f, avf_yuv_format fmt, int w, int h, int pad,
                                 uint64_t *seed, unsigned lo, unsigned hi) {
    memset(f, 0, sizeof *f);
    f->fmt = fmt;
    f->w = w;
    f->h = h;
    f->yp = f->uvp = (int64_t)w * tf_bps(f) + pad;
    f->y = malloc((size_t)(f->yp * h));
    f->uv = malloc((size_t)(f->uvp * (h / 2)));
    memset(f->y, 0xAB, (size_t)(f->yp * h));
    memset(f->uv, 0xCD, (size_t)(f->uvp * (h / 2)));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            tf_put(f, f->y, f->yp, x, y, (unsigned)avf_test_rand(seed, lo, hi + 1), seed);
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w; x++)
            tf_put(f, f->uv, f->uvp, x, y, (unsigned)avf_test_rand(seed, lo, hi + 1), seed);
}

static inline void tf_make(test_frame *f, avf_yuv_format fmt, int w, int h, int pad,
                           uint64_t *seed) {
    tf_make_range(f, fmt, w, h, pad, seed, 0, fmt == AVF_YUV_P010 ? 1023 : 255);
}

/* The frame as seen by ctx: host planes on the CPU, uploaded copies on a GPU. */
static inline avf_yuv_frame tf_desc(test_frame *f, const avf_op_ctx *ctx) {
    avf_yuv_frame d = {f->fmt, f->w, f->h, f->y, f->uv, f->yp, f->uvp, ctx->dev};
    if (!avf_op_device_is_cpu(ctx)) {
        if (!f->ty.data) {
            int64_t ny = f->yp * f->h, nuv = f->uvp * (f->h / 2);
            avf_test_tensor(ctx, &f->ty, AVF_DTYPE_U8, 1, &ny, f->y);
            avf_test_tensor(ctx, &f->tuv, AVF_DTYPE_U8, 1, &nuv, f->uv);
        }
        d.y = f->ty.data;
        d.uv = f->tuv.data;
    }
    return d;
}

static inline void tf_free(test_frame *f, avf_stream *s) {
    avf_tensor_release(&f->ty, s);
    avf_tensor_release(&f->tuv, s);
    free(f->y);
    free(f->uv);
    memset(f, 0, sizeof *f);
}

/* The published conversion, in double: RGB on [0, 255], clamped. */
static inline void tf_ref_rgb(const test_frame *f, avf_yuv_matrix mat, avf_yuv_range rng, int x,
                              int y, double *rgb) {
    double n = f->fmt == AVF_YUV_P010 ? 10 : 8, k = pow(2.0, n - 8), mx = pow(2.0, n) - 1;
    double Y = tf_get(f, f->y, f->yp, x, y);
    double U = tf_get(f, f->uv, f->uvp, (x / 2) * 2, y / 2);
    double V = tf_get(f, f->uv, f->uvp, (x / 2) * 2 + 1, y / 2);
    double yn, cb, cr;
    if (rng == AVF_YUV_LIMITED) {
        yn = (Y - 16 * k) / (219 * k);
        cb = (U - 128 * k) / (224 * k);
        cr = (V - 128 * k) / (224 * k);
    } else {
        yn = Y / mx;
        cb = (U - pow(2.0, n - 1)) / mx;
        cr = (V - pow(2.0, n - 1)) / mx;
    }
    double r, g, b;
    if (mat == AVF_YUV_BT601) {
        r = yn + 1.402 * cr;
        g = yn - 0.344136 * cb - 0.714136 * cr;
        b = yn + 1.772 * cb;
    } else {
        r = yn + 1.5748 * cr;
        g = yn - 0.187324 * cb - 0.468124 * cr;
        b = yn + 1.8556 * cb;
    }
    double v[3] = {r, g, b};
    for (int c = 0; c < 3; c++)
        rgb[c] = fmin(255.0, fmax(0.0, v[c] * 255.0));
}

/* A tensor's values as floats (u8, f32, f16), synchronizing ctx. */
static inline float *read_f32(const avf_op_ctx *ctx, const avf_tensor *t) {
    int64_t n = avf_tensor_numel(t);
    size_t bytes = avf_tensor_nbytes(t);
    void *raw = malloc(bytes ? bytes : 1);
    float *out = malloc((size_t)(n ? n : 1) * sizeof *out);
    avf_test_read(ctx, t, raw);
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == AVF_DTYPE_U8)
            out[i] = ((uint8_t *)raw)[i];
        else if (t->dtype == AVF_DTYPE_F16)
            out[i] = avf_f16_to_f32(((uint16_t *)raw)[i]);
        else
            out[i] = ((float *)raw)[i];
    }
    free(raw);
    return out;
}

/* Host bytes of n values given as floats, in dtype dt (rounded). */
static inline void *host_as(avf_dtype dt, const float *v, int64_t n) {
    void *p = malloc((size_t)(n ? n : 1) * 4);
    for (int64_t i = 0; i < n; i++) {
        if (dt == AVF_DTYPE_U8)
            ((uint8_t *)p)[i] = (uint8_t)v[i];
        else if (dt == AVF_DTYPE_F16)
            ((uint16_t *)p)[i] = avf_f32_to_f16(v[i]);
        else
            ((float *)p)[i] = v[i];
    }
    return p;
}

static inline double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN propagates */
    }
    return m;
}

/* CUDA result against the CPU one with the family's tolerance per dtype. */
static inline void assert_gpu_matches(avf_dtype dt, const float *gpu, const float *cpu, int64_t n) {
    if (dt == AVF_DTYPE_U8) {
        double d = max_abs_diff(gpu, cpu, n);
        if (d > 1.0)
            print_error("u8: max abs diff %g\n", d);
        assert_true(d <= 1.0);
    } else {
        assert_rel_err_below(avf_test_rel_err_f32(gpu, cpu, n), dt == AVF_DTYPE_F16 ? 1e-3 : 1e-5);
    }
}

#define SKIP_WITHOUT_GPU(e, on_gpu)       \
    do {                                  \
        if ((on_gpu) && !(e)->gpu) {      \
            avf_test_env_free(e);         \
            skip();                       \
        }                                 \
    } while (0)

#endif /* AVF_TEST_IMAGE_UTIL_H */
