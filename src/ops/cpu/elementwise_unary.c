/* CPU reference kernels of the elementwise family: unary ops and Cast.
 *
 * One loop per (dtype class, op): the op switch sits outside the loop so the
 * loops stay simple enough for the compiler to vectorize. f32 and f64 compute
 * in double, f16/bf16 in float (as the CUDA kernels do, so their results
 * agree to the last bit for the exactly rounded ops). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/elementwise_cpu.h"

#define GELU_K1 0.70710678118654752440  /* 1/sqrt(2) */
#define GELU_K2 0.79788456080286535588  /* sqrt(2/pi) */

/* ------------------------------------------------- per-element access */

int avf_cpu_ew_is_float(avf_dtype d) {
    return d == AVF_DTYPE_F32 || d == AVF_DTYPE_F16 || d == AVF_DTYPE_BF16 || d == AVF_DTYPE_F64;
}

int64_t avf_cpu_ew_f2i(double v) {
    if (v != v)
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v; /* C truncates toward zero */
}

uint64_t avf_cpu_ew_f2u64(double v) {
    /* [2^63, 2^64) fits u64 but not i64; above saturates; below 2^63 as
     * f2i (negative values wrap, as every narrower integer does) */
    if (v >= 18446744073709551616.0)
        return UINT64_MAX;
    if (v >= 9223372036854775808.0)
        return (uint64_t)v;
    return (uint64_t)avf_cpu_ew_f2i(v);
}

int64_t avf_cpu_ew_load_i(avf_dtype d, const void *p, int64_t i) {
    switch (d) {
    case AVF_DTYPE_I64: return ((const int64_t *)p)[i];
    case AVF_DTYPE_I32: return ((const int32_t *)p)[i];
    case AVF_DTYPE_I16: return ((const int16_t *)p)[i];
    case AVF_DTYPE_I8: return ((const int8_t *)p)[i];
    case AVF_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AVF_DTYPE_U16: return ((const uint16_t *)p)[i];
    case AVF_DTYPE_U32: return ((const uint32_t *)p)[i];
    case AVF_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i]; /* the bits; see load_f */
    case AVF_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return avf_cpu_ew_f2i(avf_cpu_ew_load_f(d, p, i));
    }
}

double avf_cpu_ew_load_f(avf_dtype d, const void *p, int64_t i) {
    switch (d) {
    case AVF_DTYPE_F32: return ((const float *)p)[i];
    case AVF_DTYPE_F64: return ((const double *)p)[i];
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_BF16: return avf_bf16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return (double)avf_cpu_ew_load_i(d, p, i);
    }
}

void avf_cpu_ew_store_i(avf_dtype d, void *p, int64_t i, int64_t v) {
    /* narrowing conversions wrap (two's complement, as gcc and nvcc do) */
    switch (d) {
    case AVF_DTYPE_I64: ((int64_t *)p)[i] = v; break;
    case AVF_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case AVF_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case AVF_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case AVF_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case AVF_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case AVF_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case AVF_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case AVF_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: avf_cpu_ew_store_f(d, p, i, (double)v); break;
    }
}

void avf_cpu_ew_store_f(avf_dtype d, void *p, int64_t i, double v) {
    switch (d) {
    case AVF_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case AVF_DTYPE_F64: ((double *)p)[i] = v; break;
    case AVF_DTYPE_F16: ((uint16_t *)p)[i] = avf_f32_to_f16((float)v); break;
    case AVF_DTYPE_BF16: ((uint16_t *)p)[i] = avf_f32_to_bf16((float)v); break;
    case AVF_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break; /* NaN is true */
    case AVF_DTYPE_U64: ((uint64_t *)p)[i] = avf_cpu_ew_f2u64(v); break;
    default: avf_cpu_ew_store_i(d, p, i, avf_cpu_ew_f2i(v)); break;
    }
}

avf_status avf_cpu_cast(const avf_tensor *x, avf_tensor *y) {
    int64_t n = avf_tensor_numel(x);
    /* u64 above 2^63 reads as a negative int64: to a float it goes by value */
    if (avf_cpu_ew_is_float(x->dtype) ||
        (x->dtype == AVF_DTYPE_U64 && avf_cpu_ew_is_float(y->dtype))) {
        for (int64_t i = 0; i < n; i++)
            avf_cpu_ew_store_f(y->dtype, y->data, i, avf_cpu_ew_load_f(x->dtype, x->data, i));
    } else {
        for (int64_t i = 0; i < n; i++)
            avf_cpu_ew_store_i(y->dtype, y->data, i, avf_cpu_ew_load_i(x->dtype, x->data, i));
    }
    return AVF_OK;
}

/* ------------------------------------------------- unary */

#define LD_ID(v) (v)
#define LD_F16(v) avf_f16_to_f32(v)
#define ST_F16(v) avf_f32_to_f16(v)
#define LD_BF16(v) avf_bf16_to_f32(v)
#define ST_BF16(v) avf_f32_to_bf16(v)
#define ST_F32(v) ((float)(v))

/* Float unary ops. C is the compute type; F is the function suffix of
 * <math.h> for it (f for float, empty for double). */
#define LOOP(C, LD, ST, EXPR)                      \
    for (int64_t i = 0; i < n; i++) {   \
        C v = (C)LD(x[i]);              \
        y[i] = ST(EXPR);                \
    }

#define DEFINE_FLOAT_UNARY(NAME, T, C, LD, ST, EXP, TANH, ERF, SQRT, LOG, FABS)              \
    static avf_status NAME(const avf_unary_params *p, int64_t n, const void *vx, void *vy) { \
        const T *x = (const T *)vx;                                                          \
        T *y = (T *)vy;                                                                      \
        const C alpha = (C)p->alpha, beta = (C)p->beta, zero = 0, one = 1;                   \
        const C lo = p->has_min ? (C)p->fmin : (C)-INFINITY;                                  \
        const C hi = p->has_max ? (C)p->fmax : (C)INFINITY;                                   \
        switch (p->op) {                                                                     \
        case AVF_UNARY_RELU: LOOP(C, LD, ST, v < zero ? zero : v); break;                               \
        case AVF_UNARY_LEAKY_RELU: LOOP(C, LD, ST, v < zero ? alpha * v : v); break;                    \
        case AVF_UNARY_SIGMOID: LOOP(C, LD, ST, one / (one + EXP(-v))); break;                          \
        case AVF_UNARY_HARD_SIGMOID: {                                                       \
            LOOP(C, LD, ST, alpha * v + beta < zero ? zero : (alpha * v + beta > one ? one : alpha * v + beta)); \
            break;                                                                           \
        }                                                                                    \
        case AVF_UNARY_HARD_SWISH: {                                                         \
            const C s = (C)(1.0 / 6.0), h = (C)0.5;                                           \
            LOOP(C, LD, ST, v * (v * s + h < zero ? zero : (v * s + h > one ? one : v * s + h)));       \
            break;                                                                           \
        }                                                                                    \
        case AVF_UNARY_TANH: LOOP(C, LD, ST, TANH(v)); break;                                           \
        case AVF_UNARY_ERF: LOOP(C, LD, ST, ERF(v)); break;                                             \
        case AVF_UNARY_GELU: LOOP(C, LD, ST, (C)0.5 * v * (one + ERF(v * (C)GELU_K1))); break;          \
        case AVF_UNARY_GELU_TANH:                                                            \
            LOOP(C, LD, ST, (C)0.5 * v * (one + TANH((C)GELU_K2 * (v + (C)0.044715 * v * v * v))));    \
            break;                                                                           \
        case AVF_UNARY_SQRT: LOOP(C, LD, ST, SQRT(v)); break;                                           \
        case AVF_UNARY_EXP: LOOP(C, LD, ST, EXP(v)); break;                                             \
        case AVF_UNARY_LOG: LOOP(C, LD, ST, LOG(v)); break;                                             \
        case AVF_UNARY_NEG: LOOP(C, LD, ST, -v); break;                                                 \
        case AVF_UNARY_ABS: LOOP(C, LD, ST, FABS(v)); break;                                            \
        case AVF_UNARY_CLIP: /* min first: min > max gives max */                        \
            LOOP(C, LD, ST, (v < lo ? lo : v) > hi ? hi : (v < lo ? lo : v)); break;            \
        default:                                                                             \
            return AVF_FAIL(AVF_ERR_INTERNAL, "unary: op %s on a float dtype",               \
                            avf_unary_op_name(p->op));                                       \
        }                                                                                    \
        return AVF_OK;                                                                       \
    }

DEFINE_FLOAT_UNARY(unary_f32, float, double, LD_ID, ST_F32, exp, tanh, erf, sqrt, log, fabs)
DEFINE_FLOAT_UNARY(unary_f64, double, double, LD_ID, LD_ID, exp, tanh, erf, sqrt, log, fabs)
DEFINE_FLOAT_UNARY(unary_f16, uint16_t, float, LD_F16, ST_F16, expf, tanhf, erff, sqrtf, logf,
                   fabsf)
DEFINE_FLOAT_UNARY(unary_bf16, uint16_t, float, LD_BF16, ST_BF16, expf, tanhf, erff, sqrtf, logf,
                   fabsf)

/* u64 (the bits in int64 would order wrongly): Relu and Abs are copies,
 * Clip compares unsigned (Neg is refused for unsigned dtypes). */
static avf_status unary_u64(const avf_unary_params *p, const avf_tensor *x, avf_tensor *y) {
    int64_t n = avf_tensor_numel(x);
    const uint64_t *a = (const uint64_t *)x->data;
    uint64_t *b = (uint64_t *)y->data;
    uint64_t lo = (uint64_t)p->imin, hi = (uint64_t)p->imax;
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = a[i];
        switch (p->op) {
        case AVF_UNARY_RELU:
        case AVF_UNARY_ABS: break;
        case AVF_UNARY_CLIP:
            v = p->has_min && v < lo ? lo : v;
            v = p->has_max && v > hi ? hi : v;
            break;
        default:
            return AVF_FAIL(AVF_ERR_INTERNAL, "unary: op %s on u64", avf_unary_op_name(p->op));
        }
        b[i] = v;
    }
    return AVF_OK;
}

/* Integer ops in int64 (negation through uint64 so INT64_MIN wraps, not UB),
 * stored back with wrap-around. */
static avf_status unary_int(const avf_unary_params *p, const avf_tensor *x, avf_tensor *y) {
    int64_t n = avf_tensor_numel(x);
    avf_dtype d = x->dtype;
    if (d == AVF_DTYPE_U64)
        return unary_u64(p, x, y);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = avf_cpu_ew_load_i(d, x->data, i), r;
        int64_t neg = (int64_t)(0u - (uint64_t)v);
        switch (p->op) {
        case AVF_UNARY_RELU: r = v < 0 ? 0 : v; break;
        case AVF_UNARY_NEG: r = neg; break;
        case AVF_UNARY_ABS: r = v < 0 ? neg : v; break;
        case AVF_UNARY_CLIP:
            r = p->has_min && v < p->imin ? p->imin : v;
            r = p->has_max && r > p->imax ? p->imax : r;
            break;
        default:
            return AVF_FAIL(AVF_ERR_INTERNAL, "unary: op %s on an integer dtype",
                            avf_unary_op_name(p->op));
        }
        avf_cpu_ew_store_i(d, y->data, i, r);
    }
    return AVF_OK;
}

avf_status avf_cpu_unary(const avf_unary_params *p, const avf_tensor *x, avf_tensor *y) {
    int64_t n = avf_tensor_numel(x);
    switch (x->dtype) {
    case AVF_DTYPE_F32: return unary_f32(p, n, x->data, y->data);
    case AVF_DTYPE_F64: return unary_f64(p, n, x->data, y->data);
    case AVF_DTYPE_F16: return unary_f16(p, n, x->data, y->data);
    case AVF_DTYPE_BF16: return unary_bf16(p, n, x->data, y->data);
    case AVF_DTYPE_BOOL: {
        if (p->op != AVF_UNARY_NOT)
            break;
        const uint8_t *a = (const uint8_t *)x->data;
        uint8_t *b = (uint8_t *)y->data;
        for (int64_t i = 0; i < n; i++)
            b[i] = !a[i];
        return AVF_OK;
    }
    default: return unary_int(p, x, y);
    }
    return AVF_FAIL(AVF_ERR_INTERNAL, "unary: op %s on %s", avf_unary_op_name(p->op),
                    avf_dtype_name(x->dtype));
}
