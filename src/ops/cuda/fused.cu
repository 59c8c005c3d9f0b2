/* CUDA kernel of the fused epilogue (see ops/fused.h): a grid-stride loop,
 * one element per thread step, in place when y == x. The activation is a
 * template parameter so each kernel is a straight line of arithmetic. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/fused.h"

namespace {

__device__ __forceinline__ float ld(const float *p, long long i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, long long i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, long long i, float v) { p[i] = __float2half(v); }

template <typename T, int ACT>
__global__ void epilogue_kernel(const T *x, const T *bias, T *y, long long n, long long channels,
                                long long inner, float al, float be, float pm, float pa) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = ld(x, i);
        if (bias)
            v += ld(bias, (i / inner) % channels);
        st(y, i, avf_act_eval((avf_act_kind)ACT, al, be, pm, pa, v));
    }
}

template <typename T>
avf_status launch(const avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                  const avf_tensor *bias, long long channels, long long inner, avf_tensor *y) {
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    long long n = avf_tensor_numel(x);
    const int block = 256;
    long long blocks = (n + block - 1) / block;
    unsigned grid = (unsigned)(blocks > 65535 * 8 ? 65535 * 8 : blocks);
    const T *xp = (const T *)x->data;
    const T *bp = bias ? (const T *)bias->data : (const T *)0;
    T *yp = (T *)y->data;
    const float al = p->alpha, be = p->beta, pm = p->post_mul, pa = p->post_add;
#define CASE(K)                                                                               \
    case K:                                                                                   \
        epilogue_kernel<T, K><<<grid, block, 0, s>>>(xp, bp, yp, n, channels, inner, al, be,  \
                                                     pm, pa);                                 \
        break;
    switch (p->act) {
        CASE(AVF_ACT_NONE)
        CASE(AVF_ACT_RELU)
        CASE(AVF_ACT_LEAKY_RELU)
        CASE(AVF_ACT_CLIP)
        CASE(AVF_ACT_SIGMOID)
        CASE(AVF_ACT_HARD_SIGMOID)
        CASE(AVF_ACT_HARD_SWISH)
        CASE(AVF_ACT_HARD_SWISH6)
        CASE(AVF_ACT_SWISH)
    default:
        return AVF_FAIL(AVF_ERR_INTERNAL, "epilogue: activation %d", (int)p->act);
    }
#undef CASE
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p,
                                        const avf_tensor *x, const avf_tensor *bias,
                                        int64_t channels, int64_t inner, avf_tensor *y) {
    if (x->dtype == AVF_DTYPE_F32)
        return launch<float>(ctx, p, x, bias, channels, inner, y);
    if (x->dtype == AVF_DTYPE_F16)
        return launch<__half>(ctx, p, x, bias, channels, inner, y);
    return AVF_FAIL(AVF_ERR_INTERNAL, "epilogue: dtype %s", avf_dtype_name(x->dtype));
}
