/* Internal (CUDA C++): helpers shared by the elementwise kernels: dtype
 * traits (load into the compute type, store back), aligned vectors, and the
 * launch shape of grid-stride loops. */
#ifndef AVF_OPS_CUDA_ELEMENTWISE_COMMON_CUH
#define AVF_OPS_CUDA_ELEMENTWISE_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/elementwise_cuda.h"

namespace avf_ew {

/* Compute type and conversions: float-like dtypes compute in f32, integers
 * in themselves, bool (uint8_t) as 0/1. */
template <typename T> struct traits {
    using C = T;
    static constexpr bool is_float = false;
    __device__ __forceinline__ static C ld(T v) { return v; }
    __device__ __forceinline__ static T st(C v) { return v; }
};
template <> struct traits<float> {
    using C = float;
    static constexpr bool is_float = true;
    __device__ __forceinline__ static C ld(float v) { return v; }
    __device__ __forceinline__ static float st(C v) { return v; }
};
/* f64 (binary ops only) computes in double. */
template <> struct traits<double> {
    using C = double;
    static constexpr bool is_float = true;
    __device__ __forceinline__ static C ld(double v) { return v; }
    __device__ __forceinline__ static double st(C v) { return v; }
};
template <> struct traits<__half> {
    using C = float;
    static constexpr bool is_float = true;
    __device__ __forceinline__ static C ld(__half v) { return __half2float(v); }
    __device__ __forceinline__ static __half st(C v) { return __float2half_rn(v); }
};
template <> struct traits<__nv_bfloat16> {
    using C = float;
    static constexpr bool is_float = true;
    __device__ __forceinline__ static C ld(__nv_bfloat16 v) { return __bfloat162float(v); }
    __device__ __forceinline__ static __nv_bfloat16 st(C v) { return __float2bfloat16_rn(v); }
};

/* bool tensors hold one byte 0/1; a type of its own so that it does not
 * collide with uint8_t (u8) in templates. Nonzero bytes read as true. */
struct ewbool {
    unsigned char v;
};
template <> struct traits<ewbool> {
    using C = int;
    static constexpr bool is_float = false;
    __device__ __forceinline__ static C ld(ewbool v) { return v.v != 0; }
    __device__ __forceinline__ static ewbool st(C v) { return ewbool{(unsigned char)(v != 0)}; }
};

/* Float -> integer as the CPU does (ops/cpu/elementwise_unary.c): truncate
 * toward zero, saturate at the int64 range, NaN -> 0; callers then narrow
 * by wrap-around. */
__device__ __forceinline__ long long f2i(double d) {
    if (d != d)
        return 0;
    if (d >= 9223372036854775807.0)
        return 0x7fffffffffffffffLL;
    if (d <= -9223372036854775808.0)
        return -0x7fffffffffffffffLL - 1;
    return (long long)d;
}

/* Float -> u64 as the CPU's avf_cpu_ew_f2u64: f2i below 2^63, by value up
 * to 2^64, saturating above. */
__device__ __forceinline__ unsigned long long f2u64(double d) {
    if (d >= 18446744073709551616.0)
        return 0xffffffffffffffffULL;
    if (d >= 9223372036854775808.0)
        return (unsigned long long)d;
    return (unsigned long long)f2i(d);
}

/* A vector of N elements loaded/stored in one access (16 bytes or less). */
template <typename T, int N> struct alignas(sizeof(T) * N) vec {
    T v[N];
};

static inline bool aligned(const void *p, size_t bytes) {
    return ((uintptr_t)p % bytes) == 0;
}

/* Grid for a grid-stride loop over `work` items: enough blocks to fill the
 * GPU several times over, capped so the grid size stays legal. */
static constexpr int kThreads = 256;
static inline unsigned grid_for(int64_t work) {
    int64_t b = (work + kThreads - 1) / kThreads;
    if (b > 8192)
        b = 8192;
    return (unsigned)(b < 1 ? 1 : b);
}

static inline avf_status set_device(avf_op_ctx *ctx) {
    AVF_CUDA_TRY(cudaSetDevice(avf_device_get_index(ctx->dev)));
    return AVF_OK;
}

static inline cudaStream_t stream_of(avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

} // namespace avf_ew

#endif /* AVF_OPS_CUDA_ELEMENTWISE_COMMON_CUH */
