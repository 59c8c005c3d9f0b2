/* CUDA kernels of the elementwise family: unary ops and Cast.
 *
 * One grid-stride kernel template per op class, the op a template parameter
 * (so each instantiation is a straight-line loop), vectorized to 16-byte
 * accesses when both pointers allow it. Float dtypes compute in f32;
 * integer ops (Relu, Neg, Abs, Clip) take i64 i32 i16 i8 u8. */
#include <limits.h>

#include <type_traits>

#include "ops/cuda/elementwise_common.cuh"

using namespace avf_ew;

namespace {

struct uargs {
    float alpha, beta, lo, hi;
    long long ilo, ihi;
    int has_min, has_max;
};

template <int OP> __device__ __forceinline__ float unary_f(float v, const uargs &a) {
    if constexpr (OP == AVF_UNARY_RELU)
        return v < 0.f ? 0.f : v; /* NaN passes through */
    else if constexpr (OP == AVF_UNARY_LEAKY_RELU)
        return v < 0.f ? a.alpha * v : v;
    else if constexpr (OP == AVF_UNARY_SIGMOID)
        return 1.f / (1.f + expf(-v));
    else if constexpr (OP == AVF_UNARY_HARD_SIGMOID) {
        float t = a.alpha * v + a.beta;
        return t < 0.f ? 0.f : (t > 1.f ? 1.f : t);
    } else if constexpr (OP == AVF_UNARY_HARD_SWISH) {
        float t = v * (1.f / 6.f) + 0.5f;
        return v * (t < 0.f ? 0.f : (t > 1.f ? 1.f : t));
    } else if constexpr (OP == AVF_UNARY_TANH)
        return tanhf(v);
    else if constexpr (OP == AVF_UNARY_ERF)
        return erff(v);
    else if constexpr (OP == AVF_UNARY_GELU)
        return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    else if constexpr (OP == AVF_UNARY_GELU_TANH)
        return 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    else if constexpr (OP == AVF_UNARY_SQRT)
        return sqrtf(v);
    else if constexpr (OP == AVF_UNARY_EXP)
        return expf(v);
    else if constexpr (OP == AVF_UNARY_LOG)
        return logf(v);
    else if constexpr (OP == AVF_UNARY_NEG)
        return -v;
    else if constexpr (OP == AVF_UNARY_ABS)
        return fabsf(v);
    else { /* CLIP; unset bounds are -inf/+inf */
        static_assert(OP == AVF_UNARY_CLIP, "float unary op");
        float t = v < a.lo ? a.lo : v; /* min first: min > max gives max */
        return t > a.hi ? a.hi : t;
    }
}

/* Integer ops; negation through the unsigned type so the minimum wraps. */
template <int OP, typename T> __device__ __forceinline__ T unary_i(T v, const uargs &a) {
    using U = typename std::make_unsigned<T>::type;
    T neg = (T)(U)((U)0 - (U)v);
    if constexpr (!std::is_signed<T>::value && (OP == AVF_UNARY_RELU || OP == AVF_UNARY_ABS))
        return v; /* unsigned: nothing below zero */
    else if constexpr (OP == AVF_UNARY_RELU)
        return v < 0 ? (T)0 : v;
    else if constexpr (OP == AVF_UNARY_NEG)
        return neg;
    else if constexpr (OP == AVF_UNARY_ABS)
        return v < 0 ? neg : v;
    else {
        static_assert(OP == AVF_UNARY_CLIP, "integer unary op");
        /* the bounds hold the bounds tensor's bits in int64: u64 compares
         * unsigned (above 2^63 it would read negative), as the CPU does;
         * narrower dtypes fit int64 exactly */
        using W = typename std::conditional<std::is_same<T, unsigned long long>::value,
                                            unsigned long long, long long>::type;
        T r = a.has_min && (W)v < (W)a.ilo ? (T)a.ilo : v;
        return a.has_max && (W)r > (W)a.ihi ? (T)a.ihi : r;
    }
}

template <int OP, typename T> __device__ __forceinline__ T unary_apply(T v, const uargs &a) {
    if constexpr (OP == AVF_UNARY_NOT)
        return ewbool{(unsigned char)!v.v};
    else if constexpr (traits<T>::is_float)
        return traits<T>::st(unary_f<OP>(traits<T>::ld(v), a));
    else
        return unary_i<OP, T>(v, a);
}

/* y may alias x (each element is read and written by one thread), so no
 * __restrict__ here. */
template <int OP, typename T, int V>
__global__ void unary_kernel(const T *x, T *y, int64_t n, uargs a) {
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    int64_t nv = n / V;
    const vec<T, V> *xv = reinterpret_cast<const vec<T, V> *>(x);
    vec<T, V> *yv = reinterpret_cast<vec<T, V> *>(y);
    for (int64_t i = tid; i < nv; i += stride) {
        vec<T, V> t = xv[i];
#pragma unroll
        for (int j = 0; j < V; j++)
            t.v[j] = unary_apply<OP, T>(t.v[j], a);
        yv[i] = t;
    }
    for (int64_t i = nv * V + tid; i < n; i += stride)
        y[i] = unary_apply<OP, T>(x[i], a);
}

template <int OP, typename T>
avf_status launch_unary(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y, const uargs &a) {
    constexpr int V = 16 / sizeof(T) > 0 ? (int)(16 / sizeof(T)) : 1;
    int64_t n = avf_tensor_numel(x);
    cudaStream_t s = stream_of(ctx);
    if (aligned(x->data, 16) && aligned(y->data, 16))
        unary_kernel<OP, T, V><<<grid_for(n / V + 1), kThreads, 0, s>>>(
            (const T *)x->data, (T *)y->data, n, a);
    else
        unary_kernel<OP, T, 1><<<grid_for(n), kThreads, 0, s>>>((const T *)x->data,
                                                                 (T *)y->data, n, a);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

#define UCASE(OP)                                                                  \
    case OP:                                                                       \
        return launch_unary<OP, T>(ctx, x, y, a);

template <typename T>
avf_status unary_float(avf_op_ctx *ctx, avf_unary_op op, const avf_tensor *x, avf_tensor *y,
                       const uargs &a) {
    switch (op) {
        UCASE(AVF_UNARY_RELU)
        UCASE(AVF_UNARY_LEAKY_RELU)
        UCASE(AVF_UNARY_SIGMOID)
        UCASE(AVF_UNARY_HARD_SIGMOID)
        UCASE(AVF_UNARY_HARD_SWISH)
        UCASE(AVF_UNARY_TANH)
        UCASE(AVF_UNARY_ERF)
        UCASE(AVF_UNARY_GELU)
        UCASE(AVF_UNARY_GELU_TANH)
        UCASE(AVF_UNARY_SQRT)
        UCASE(AVF_UNARY_EXP)
        UCASE(AVF_UNARY_LOG)
        UCASE(AVF_UNARY_NEG)
        UCASE(AVF_UNARY_ABS)
        UCASE(AVF_UNARY_CLIP)
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: not a float op on CUDA", avf_unary_op_name(op));
    }
}

template <typename T>
avf_status unary_int(avf_op_ctx *ctx, avf_unary_op op, const avf_tensor *x, avf_tensor *y,
                     const uargs &a) {
    switch (op) {
        UCASE(AVF_UNARY_RELU)
        UCASE(AVF_UNARY_NEG)
        UCASE(AVF_UNARY_ABS)
        UCASE(AVF_UNARY_CLIP)
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: not an integer op on CUDA",
                        avf_unary_op_name(op));
    }
}

/* ------------------------------------------------------------- Cast */


template <typename TO> __device__ __forceinline__ TO from_double(double d) {
    if constexpr (std::is_same<TO, double>::value)
        return d;
    else if constexpr (std::is_same<TO, float>::value)
        return (float)d;
    else if constexpr (std::is_same<TO, __half>::value)
        return __float2half_rn((float)d); /* through f32, as the CPU does */
    else if constexpr (std::is_same<TO, __nv_bfloat16>::value)
        return __float2bfloat16_rn((float)d);
    else if constexpr (std::is_same<TO, ewbool>::value)
        return ewbool{(unsigned char)(d != 0.0)};
    else if constexpr (std::is_same<TO, unsigned long long>::value)
        return f2u64(d);
    else
        return (TO)f2i(d); /* narrowing wraps */
}

template <typename TO> __device__ __forceinline__ TO from_int(long long v) {
    if constexpr (std::is_same<TO, ewbool>::value)
        return ewbool{(unsigned char)(v != 0)};
    else if constexpr (std::is_integral<TO>::value)
        return (TO)v;
    else
        return from_double<TO>((double)v);
}

template <typename TI, typename TO> __device__ __forceinline__ TO cast_one(TI v) {
    if constexpr (std::is_same<TI, double>::value)
        return from_double<TO>(v);
    else if constexpr (traits<TI>::is_float)
        return from_double<TO>((double)traits<TI>::ld(v));
    else if constexpr (std::is_same<TI, ewbool>::value)
        return from_int<TO>(v.v != 0);
    else if constexpr (std::is_same<TI, unsigned long long>::value && !std::is_integral<TO>::value &&
                       !std::is_same<TO, ewbool>::value)
        return from_double<TO>((double)v); /* by value: above 2^63 is not negative */
    else
        return from_int<TO>((long long)v);
}

template <typename TI, typename TO> __global__ void cast_kernel(const TI *x, TO *y, int64_t n) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = cast_one<TI, TO>(x[i]);
}

template <typename TI, typename TO> avf_status launch_cast(avf_op_ctx *ctx, const avf_tensor *x,
                                                           avf_tensor *y) {
    int64_t n = avf_tensor_numel(x);
    cast_kernel<TI, TO><<<grid_for(n), kThreads, 0, stream_of(ctx)>>>((const TI *)x->data,
                                                                       (TO *)y->data, n);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename TI> avf_status cast_from(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    switch (y->dtype) {
    case AVF_DTYPE_F32: return launch_cast<TI, float>(ctx, x, y);
    case AVF_DTYPE_F16: return launch_cast<TI, __half>(ctx, x, y);
    case AVF_DTYPE_BF16: return launch_cast<TI, __nv_bfloat16>(ctx, x, y);
    case AVF_DTYPE_F64: return launch_cast<TI, double>(ctx, x, y);
    case AVF_DTYPE_I64: return launch_cast<TI, long long>(ctx, x, y);
    case AVF_DTYPE_I32: return launch_cast<TI, int>(ctx, x, y);
    case AVF_DTYPE_I16: return launch_cast<TI, short>(ctx, x, y);
    case AVF_DTYPE_I8: return launch_cast<TI, signed char>(ctx, x, y);
    case AVF_DTYPE_U8: return launch_cast<TI, unsigned char>(ctx, x, y);
    case AVF_DTYPE_U16: return launch_cast<TI, unsigned short>(ctx, x, y);
    case AVF_DTYPE_U32: return launch_cast<TI, unsigned int>(ctx, x, y);
    case AVF_DTYPE_U64: return launch_cast<TI, unsigned long long>(ctx, x, y);
    case AVF_DTYPE_BOOL: return launch_cast<TI, ewbool>(ctx, x, y);
    default: return AVF_FAIL(AVF_ERR_INVALID_ARG, "Cast: invalid output dtype");
    }
}

} // namespace

extern "C" avf_status avf_cuda_unary(avf_op_ctx *ctx, const avf_unary_params *p,
                                     const avf_tensor *x, avf_tensor *y) {
    AVF_TRY(set_device(ctx));
    uargs a;
    a.alpha = p->alpha;
    a.beta = p->beta;
    a.has_min = p->has_min;
    a.has_max = p->has_max;
    a.lo = p->has_min ? (float)p->fmin : -INFINITY;
    a.hi = p->has_max ? (float)p->fmax : INFINITY;
    a.ilo = p->imin;
    a.ihi = p->imax;
    switch (x->dtype) {
    case AVF_DTYPE_F32: return unary_float<float>(ctx, p->op, x, y, a);
    case AVF_DTYPE_F16: return unary_float<__half>(ctx, p->op, x, y, a);
    case AVF_DTYPE_BF16: return unary_float<__nv_bfloat16>(ctx, p->op, x, y, a);
    case AVF_DTYPE_I64: return unary_int<long long>(ctx, p->op, x, y, a);
    case AVF_DTYPE_I32: return unary_int<int>(ctx, p->op, x, y, a);
    case AVF_DTYPE_I16: return unary_int<short>(ctx, p->op, x, y, a);
    case AVF_DTYPE_I8: return unary_int<signed char>(ctx, p->op, x, y, a);
    case AVF_DTYPE_U8: return unary_int<unsigned char>(ctx, p->op, x, y, a);
    case AVF_DTYPE_U16: return unary_int<unsigned short>(ctx, p->op, x, y, a);
    case AVF_DTYPE_U32: return unary_int<unsigned int>(ctx, p->op, x, y, a);
    case AVF_DTYPE_U64: return unary_int<unsigned long long>(ctx, p->op, x, y, a);
    case AVF_DTYPE_BOOL:
        if (p->op == AVF_UNARY_NOT)
            return launch_unary<AVF_UNARY_NOT, ewbool>(ctx, x, y, a);
        break;
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported on CUDA",
                    avf_unary_op_name(p->op), avf_dtype_name(x->dtype));
}

extern "C" avf_status avf_cuda_cast(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    AVF_TRY(set_device(ctx));
    switch (x->dtype) {
    case AVF_DTYPE_F32: return cast_from<float>(ctx, x, y);
    case AVF_DTYPE_F16: return cast_from<__half>(ctx, x, y);
    case AVF_DTYPE_BF16: return cast_from<__nv_bfloat16>(ctx, x, y);
    case AVF_DTYPE_F64: return cast_from<double>(ctx, x, y);
    case AVF_DTYPE_I64: return cast_from<long long>(ctx, x, y);
    case AVF_DTYPE_I32: return cast_from<int>(ctx, x, y);
    case AVF_DTYPE_I16: return cast_from<short>(ctx, x, y);
    case AVF_DTYPE_I8: return cast_from<signed char>(ctx, x, y);
    case AVF_DTYPE_U8: return cast_from<unsigned char>(ctx, x, y);
    case AVF_DTYPE_U16: return cast_from<unsigned short>(ctx, x, y);
    case AVF_DTYPE_U32: return cast_from<unsigned int>(ctx, x, y);
    case AVF_DTYPE_U64: return cast_from<unsigned long long>(ctx, x, y);
    case AVF_DTYPE_BOOL: return cast_from<ewbool>(ctx, x, y);
    default: return AVF_FAIL(AVF_ERR_INVALID_ARG, "Cast: invalid input dtype");
    }
}
