/* Internal, CUDA C++ only: device helpers shared by the reduce family's
 * kernels (reduce.cu, reduce_scan.cu, softmax.cu, norm.cu).
 *
 * Row kernels give each row TPR threads (32: one warp; 256: the whole
 * block, blockDim.x == 256), so short rows do not leave 224 threads idle and
 * long rows get a whole block. Rows are visited with a grid-stride loop whose
 * condition is uniform across a group, so every thread of a group reaches
 * the same shuffles and barriers.
 */
#ifndef AVF_OPS_CUDA_REDUCE_DEV_CUDA_H
#define AVF_OPS_CUDA_REDUCE_DEV_CUDA_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/cuda/check.h"
#include "ops/op.h"

namespace avf_red {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;

static inline cudaStream_t stream_of(const avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

/* Blocks for `work` items of `per_block` each, capped (grid-stride loops
 * cover the rest). */
static inline unsigned grid_for(long long work, long long per_block) {
    long long b = (work + per_block - 1) / per_block;
    if (b < 1)
        b = 1;
    if (b > 65535LL * 16)
        b = 65535LL * 16;
    return (unsigned)b;
}

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ void store(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half *p, long long i, float v) { p[i] = __float2half(v); }

/* A float from a buffer that holds f32 (is_half 0) or f16. */
__device__ __forceinline__ float load_any(const void *p, int is_half, long long i) {
    return is_half ? __half2float(((const __half *)p)[i]) : ((const float *)p)[i];
}

__device__ __forceinline__ float shfl_xor(float v, int m) {
    return __shfl_xor_sync(0xffffffffu, v, m);
}
__device__ __forceinline__ long long shfl_xor(long long v, int m) {
    return __shfl_xor_sync(0xffffffffu, v, m);
}

/* Reduce v over a group of TPR threads with the associative `op`; every
 * thread of the group gets the result. shm: kWarps slots (TPR == kBlock). */
template <int TPR, typename V, typename Op>
__device__ __forceinline__ V group_reduce(V v, Op op, V *shm) {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1)
        v = op(v, shfl_xor(v, m));
    if (TPR == 32)
        return v;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    __syncthreads(); /* shm may still be read from the previous row */
    if (lane == 0)
        shm[w] = v;
    __syncthreads();
    v = shm[0];
#pragma unroll
    for (int i = 1; i < kWarps; i++)
        v = op(v, shm[i]);
    return v;
}

struct op_add {
    template <typename V> __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
/* NaN wins (ONNX's reference propagates it). */
struct op_max {
    __device__ __forceinline__ float operator()(float a, float b) const {
        return (b != b || b > a) ? b : a;
    }
    __device__ __forceinline__ long long operator()(long long a, long long b) const {
        return b > a ? b : a;
    }
};
struct op_min {
    __device__ __forceinline__ float operator()(float a, float b) const {
        return (b != b || b < a) ? b : a;
    }
    __device__ __forceinline__ long long operator()(long long a, long long b) const {
        return b < a ? b : a;
    }
};

} // namespace avf_red

#endif /* AVF_OPS_CUDA_REDUCE_DEV_CUDA_H */
