/* Helpers for the elementwise kernel tests: host buffers of any dtype read
 * and written as doubles, random fills that suit each op, a naive broadcast
 * index, and running an op on the CPU or the GPU from host bytes. */
#ifndef AVF_TEST_ELEMENTWISE_UTIL_H
#define AVF_TEST_ELEMENTWISE_UTIL_H

#include "op_test_util.h"
#include "ops/elementwise.h"

static inline int ew_is_unsigned(avf_dtype d) {
    return d == AVF_DTYPE_U8 || d == AVF_DTYPE_U16 || d == AVF_DTYPE_U32 || d == AVF_DTYPE_U64;
}
static inline int ew_is_float(avf_dtype d) {
    return d == AVF_DTYPE_F32 || d == AVF_DTYPE_F16 || d == AVF_DTYPE_BF16 || d == AVF_DTYPE_F64;
}

static inline double ew_get(avf_dtype d, const void *p, int64_t i) {
    switch (d) {
    case AVF_DTYPE_F32: return ((const float *)p)[i];
    case AVF_DTYPE_F64: return ((const double *)p)[i];
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_BF16: return avf_bf16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case AVF_DTYPE_I32: return ((const int32_t *)p)[i];
    case AVF_DTYPE_I16: return ((const int16_t *)p)[i];
    case AVF_DTYPE_I8: return ((const int8_t *)p)[i];
    case AVF_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AVF_DTYPE_U16: return ((const uint16_t *)p)[i];
    case AVF_DTYPE_U32: return ((const uint32_t *)p)[i];
    case AVF_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    case AVF_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return NAN;
    }
}

/* v must be representable (integers in range for integer dtypes). */
static inline void ew_set(avf_dtype d, void *p, int64_t i, double v) {
    switch (d) {
    case AVF_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case AVF_DTYPE_F64: ((double *)p)[i] = v; break;
    case AVF_DTYPE_F16: ((uint16_t *)p)[i] = avf_f32_to_f16((float)v); break;
    case AVF_DTYPE_BF16: ((uint16_t *)p)[i] = avf_f32_to_bf16((float)v); break;
    case AVF_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case AVF_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case AVF_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case AVF_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case AVF_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    /* through int64: negative values wrap (a double -> unsigned would be UB) */
    case AVF_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)(int64_t)v; break;
    case AVF_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)(int64_t)v; break;
    case AVF_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)(int64_t)v; break;
    case AVF_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

/* An integer result saturated at int64, then wrapped into dtype d. */
static inline double ew_wrap(avf_dtype d, double v) {
    int64_t t = v >= 9223372036854775807.0    ? INT64_MAX
                : v <= -9223372036854775808.0 ? INT64_MIN
                                              : (int64_t)v;
    switch (d) {
    case AVF_DTYPE_I32: return (int32_t)t;
    case AVF_DTYPE_I16: return (int16_t)t;
    case AVF_DTYPE_I8: return (int8_t)t;
    case AVF_DTYPE_U8: return (uint8_t)t;
    case AVF_DTYPE_U16: return (uint16_t)t;
    case AVF_DTYPE_U32: return (uint32_t)t;
    case AVF_DTYPE_U64: return (double)(uint64_t)t;
    default: return (double)t;
    }
}

static inline int64_t ew_numel(int nd, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= s[i];
    return n;
}

/* A host buffer of n elements of d (at least 1 byte so malloc never fails
 * on empty tensors), filled uniformly in [lo, hi) (integers: rounded). */
static inline void *ew_rand(avf_dtype d, int64_t n, uint64_t *seed, double lo, double hi) {
    void *p = calloc((size_t)(n > 0 ? n : 1), 8);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) {
        double v = avf_test_rand(seed, lo, hi);
        if (d == AVF_DTYPE_BOOL)
            v = v > (lo + hi) / 2;
        else if (!ew_is_float(d))
            v = floor(v);
        ew_set(d, p, i, v);
    }
    return p;
}

/* Index into an input of shape (nd, s) broadcast to the output (ond, os)
 * for the output's flat index i (naive, for references). */
static inline int64_t ew_bidx(int ond, const int64_t *os, int nd, const int64_t *s, int64_t i) {
    int64_t idx = 0, mul = 1;
    for (int d = ond - 1; d >= 0; d--) {
        int64_t c = i % os[d];
        i /= os[d];
        int j = d - (ond - nd);
        if (j >= 0) {
            if (s[j] != 1)
                idx += c * mul;
            mul *= s[j];
        }
    }
    return idx;
}

/* A device tensor from host bytes (NULL host: poisoned). */
static inline void ew_tensor(const avf_op_ctx *ctx, avf_tensor *t, avf_dtype d, int nd,
                             const int64_t *s, const void *host) {
    avf_test_tensor(ctx, t, d, nd, s, host);
}

/* Read a tensor into a fresh host buffer. */
static inline void *ew_read(const avf_op_ctx *ctx, const avf_tensor *t) {
    void *p = calloc((size_t)(avf_tensor_numel(t) > 0 ? avf_tensor_numel(t) : 1), 8);
    assert_non_null(p);
    avf_test_read(ctx, t, p);
    return p;
}

/* Relative error of a buffer of d against double values. */
static inline double ew_err(avf_dtype d, const void *got, const double *want, int64_t n) {
    float *g = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
    assert_non_null(g);
    for (int64_t i = 0; i < n; i++)
        g[i] = (float)ew_get(d, got, i);
    double e = avf_test_rel_err(g, want, n);
    free(g);
    return e;
}

/* Number of elements of two buffers of d that differ (NaN == NaN). */
static inline int64_t ew_mismatch(avf_dtype d, const void *a, const void *b, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = ew_get(d, a, i), y = ew_get(d, b, i);
        if (!(x == y || (isnan(x) && isnan(y))))
            bad++;
    }
    return bad;
}

#endif /* AVF_TEST_ELEMENTWISE_UTIL_H */
