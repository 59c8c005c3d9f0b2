/* CPU kernels of the data family: ScatterND, NonZero, quantization. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/data_impl.h"

/* ---------------------------------------------------------------- ScatterND */

#define AVF_SCATTER_T(T, dst, src, n, red)                                         \
    do {                                                                           \
        T *d_ = (T *)(dst);                                                        \
        const T *s_ = (const T *)(src);                                            \
        for (int64_t i_ = 0; i_ < (n); i_++) {                                     \
            T a_ = d_[i_], b_ = s_[i_];                                            \
            d_[i_] = (red) == AVF_SCATTER_ADD   ? (T)(a_ + b_)                     \
                     : (red) == AVF_SCATTER_MUL ? (T)(a_ * b_)                     \
                     : (red) == AVF_SCATTER_MAX ? (a_ > b_ ? a_ : b_)              \
                                                : (a_ < b_ ? a_ : b_);             \
        }                                                                          \
    } while (0)

/* Half types combine in f32 and round back, like the CUDA kernel. */
static void scatter_half(int bf16, int red, uint16_t *d, const uint16_t *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = bf16 ? avf_bf16_to_f32(d[i]) : avf_f16_to_f32(d[i]);
        float b = bf16 ? avf_bf16_to_f32(s[i]) : avf_f16_to_f32(s[i]);
        float r = red == AVF_SCATTER_ADD ? a + b
                  : red == AVF_SCATTER_MUL ? a * b
                  : red == AVF_SCATTER_MAX ? (a > b ? a : b)
                                           : (a < b ? a : b);
        d[i] = bf16 ? avf_f32_to_bf16(r) : avf_f32_to_f16(r);
    }
}

static void scatter_combine(avf_dtype dt, int red, void *dst, const void *src, int64_t n) {
    switch (dt) {
    case AVF_DTYPE_F32: AVF_SCATTER_T(float, dst, src, n, red); break;
    case AVF_DTYPE_F64: AVF_SCATTER_T(double, dst, src, n, red); break;
    case AVF_DTYPE_I64: AVF_SCATTER_T(int64_t, dst, src, n, red); break;
    case AVF_DTYPE_I32: AVF_SCATTER_T(int32_t, dst, src, n, red); break;
    case AVF_DTYPE_I16: AVF_SCATTER_T(int16_t, dst, src, n, red); break;
    case AVF_DTYPE_I8: AVF_SCATTER_T(int8_t, dst, src, n, red); break;
    case AVF_DTYPE_U8: AVF_SCATTER_T(uint8_t, dst, src, n, red); break;
    case AVF_DTYPE_F16: scatter_half(0, red, (uint16_t *)dst, (const uint16_t *)src, n); break;
    case AVF_DTYPE_BF16: scatter_half(1, red, (uint16_t *)dst, (const uint16_t *)src, n); break;
    default: break; /* bool: rejected by the shape function */
    }
}

avf_status avf_cpu_scatternd(const avf_scatter_geom *g, const int64_t *idx, const void *upd,
                             void *y) {
    const size_t es = avf_dtype_size(g->dtype);
    /* Validate every tuple first so a bad index leaves y untouched. */
    for (int64_t u = 0; u < g->nupd; u++)
        for (int i = 0; i < g->k; i++) {
            int64_t v = idx[u * g->k + i];
            if (v < -g->dims[i] || v >= g->dims[i])
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "ScatterND: index %lld outside [-%lld, %lld) on axis %d",
                                (long long)v, (long long)g->dims[i], (long long)g->dims[i], i);
        }
    for (int64_t u = 0; u < g->nupd; u++) {
        int64_t off = 0;
        for (int i = 0; i < g->k; i++) {
            int64_t v = idx[u * g->k + i];
            off += (v < 0 ? v + g->dims[i] : v) * g->stride[i];
        }
        char *dst = (char *)y + (size_t)off * es;
        const char *src = (const char *)upd + (size_t)(u * g->slice) * es;
        if (g->reduction == AVF_SCATTER_NONE)
            memcpy(dst, src, (size_t)g->slice * es);
        else
            scatter_combine(g->dtype, g->reduction, dst, src, g->slice);
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- NonZero */

static int elem_nonzero(const unsigned char *p, size_t es, int is_float) {
    uint64_t v = 0;
    memcpy(&v, p, es); /* little-endian: the element in the low bytes */
    if (is_float) /* drop the sign bit: -0.0 is zero */
        v &= ~((uint64_t)1 << (es * 8 - 1));
    return v != 0;
}

avf_status avf_cpu_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    const size_t es = avf_dtype_size(x->dtype);
    const int is_float = avf_dtype_is_float(x->dtype);
    const int64_t n = avf_tensor_numel(x);
    const unsigned char *xb = (const unsigned char *)x->data;
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        count += elem_nonzero(xb + i * es, es, is_float);
    /* A scalar is treated as a 1-element vector, as numpy does. */
    int rank = x->ndim > 0 ? x->ndim : 1;
    int64_t shape[2] = {rank, count};
    AVF_TRY(avf_tensor_alloc(y, ctx->pool, AVF_DTYPE_I64, 2, shape, ctx->stream));
    int64_t *out = (int64_t *)y->data;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!elem_nonzero(xb + i * es, es, is_float))
            continue;
        int64_t rem = i;
        for (int d = x->ndim - 1; d >= 0; d--) {
            out[d * count + k] = rem % x->shape[d];
            rem /= x->shape[d];
        }
        if (x->ndim == 0)
            out[k] = 0;
        k++;
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- quantization */

static inline float load_float(avf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_BF16: return avf_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

static inline void store_float(avf_dtype t, void *p, int64_t i, float v) {
    switch (t) {
    case AVF_DTYPE_F16: ((uint16_t *)p)[i] = avf_f32_to_f16(v); break;
    case AVF_DTYPE_BF16: ((uint16_t *)p)[i] = avf_f32_to_bf16(v); break;
    default: ((float *)p)[i] = v; break;
    }
}

static inline int32_t load_q(avf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case AVF_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AVF_DTYPE_I8: return ((const int8_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

void avf_cpu_quantize(const avf_quant_geom *g, const void *x, const void *scale, const void *zp,
                      void *y) {
    const float lo = g->yt == AVF_DTYPE_U8 ? 0.0f : -128.0f;
    const float hi = g->yt == AVF_DTYPE_U8 ? 255.0f : 127.0f;
    for (int64_t i = 0; i < g->n; i++) {
        int64_t a = g->per_axis ? (i / g->inner) % g->axis_dim : 0;
        float s = load_float(g->st, scale, a);
        float z = g->has_zp ? (float)load_q(g->zt, zp, a) : 0.0f;
        /* Round half to even (the default rounding mode), as ONNX asks. */
        float q = nearbyintf(load_float(g->xt, x, i) / s);
        if (isnan(q))
            q = 0.0f;
        q += z;
        q = q < lo ? lo : (q > hi ? hi : q);
        if (g->yt == AVF_DTYPE_U8)
            ((uint8_t *)y)[i] = (uint8_t)q;
        else
            ((int8_t *)y)[i] = (int8_t)q;
    }
}

void avf_cpu_dequantize(const avf_quant_geom *g, const void *x, const void *scale,
                        const void *zp, void *y) {
    for (int64_t i = 0; i < g->n; i++) {
        int64_t a = g->per_axis ? (i / g->inner) % g->axis_dim : 0;
        int64_t z = g->has_zp ? load_q(g->zt, zp, a) : 0;
        float v = (float)((int64_t)load_q(g->xt, x, i) - z) * load_float(g->st, scale, a);
        store_float(g->yt, y, i, v);
    }
}
