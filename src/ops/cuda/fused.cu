/* CUDA kernels of the fused epilogue (see ops/fused.h), in place when
 * y == x. The activation is a template parameter so each kernel is a
 * straight line of arithmetic. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/fused.h"

namespace {

__device__ __forceinline__ float ld(const float *p, long long i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, long long i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, long long i, float v) { p[i] = __float2half(v); }

/* Three shapes of the same arithmetic, chosen by launch(). A trace of the
 * plans (bench/engine/kernel_trace.c) showed the first version, one
 * grid-stride loop with a 64-bit (i / inner) % channels per element, at 6x
 * below memory bandwidth and the top kernel of every OCR model: 64-bit
 * division is a long software sequence on the GPU. Now:
 *   rows_kernel   bias with inner >= 256: a 2-D grid, y over the rows
 *                 (n * c), x over a row; one bias load per row, no division
 *                 per element; 16-byte vectors when the row allows.
 *   flat_kernel   no bias: 16-byte vectors, no index math.
 *   small_kernel  bias with a short inner (SE blocks, MatMul outputs):
 *                 32-bit index math, or 64-bit past 2^31 elements. */
template <typename T> struct vec;
template <> struct vec<float> { static const int n = 4; };
template <> struct vec<__half> { static const int n = 8; };

template <typename T, int ACT>
__device__ __forceinline__ void apply_vec(const T *x, T *y, long long i, float b, float al,
                                          float be, float pm, float pa) {
    const int V = vec<T>::n;
    uint4 raw = *reinterpret_cast<const uint4 *>(x + i);
    const T *e = reinterpret_cast<const T *>(&raw);
    uint4 outv;
    T *o = reinterpret_cast<T *>(&outv);
#pragma unroll
    for (int k = 0; k < V; k++)
        st(o, k, avf_act_eval((avf_act_kind)ACT, al, be, pm, pa, ld(e, k) + b));
    *reinterpret_cast<uint4 *>(y + i) = outv;
}

template <typename T, int ACT, bool VEC>
__global__ void rows_kernel(const T *x, const T *bias, T *y, long long rows, long long channels,
                            long long inner, float al, float be, float pm, float pa) {
    const int V = VEC ? vec<T>::n : 1;
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        float b = ld(bias, r % channels);
        long long base = r * inner;
        for (long long j = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * V; j < inner;
             j += (long long)gridDim.x * blockDim.x * V) {
            if (VEC)
                apply_vec<T, ACT>(x, y, base + j, b, al, be, pm, pa);
            else
                st(y, base + j, avf_act_eval((avf_act_kind)ACT, al, be, pm, pa, ld(x, base + j) + b));
        }
    }
}

template <typename T, int ACT, bool VEC>
__global__ void flat_kernel(const T *x, T *y, long long n, float al, float be, float pm,
                            float pa) {
    const int V = VEC ? vec<T>::n : 1;
    for (long long i = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * V; i < n;
         i += (long long)gridDim.x * blockDim.x * V) {
        if (VEC)
            apply_vec<T, ACT>(x, y, i, 0.0f, al, be, pm, pa);
        else
            st(y, i, avf_act_eval((avf_act_kind)ACT, al, be, pm, pa, ld(x, i)));
    }
}

template <typename T, int ACT, typename I>
__global__ void small_kernel(const T *x, const T *bias, T *y, I n, I channels, I inner, float al,
                             float be, float pm, float pa) {
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I c = inner == 1 ? i % channels : (i / inner) % channels;
        st(y, i, avf_act_eval((avf_act_kind)ACT, al, be, pm, pa, ld(x, i) + ld(bias, c)));
    }
}

unsigned grid_1d(long long work, int block) {
    long long b = (work + block - 1) / block;
    return (unsigned)(b < 1 ? 1 : b > 65535LL * 8 ? 65535LL * 8 : b);
}

template <typename T, int ACT>
void launch_act(cudaStream_t s, const T *xp, const T *bp, T *yp, long long n, long long channels,
                long long inner, float al, float be, float pm, float pa) {
    const int block = 256, V = vec<T>::n;
    bool aligned = ((uintptr_t)xp % 16 == 0) && ((uintptr_t)yp % 16 == 0);
    if (!bp) {
        if (aligned && n % V == 0)
            flat_kernel<T, ACT, true><<<grid_1d(n / V, block), block, 0, s>>>(xp, yp, n, al, be,
                                                                              pm, pa);
        else
            flat_kernel<T, ACT, false><<<grid_1d(n, block), block, 0, s>>>(xp, yp, n, al, be, pm,
                                                                           pa);
    } else if (inner >= 256) {
        long long rows = n / inner;
        bool v = aligned && inner % V == 0;
        long long per = v ? inner / V : inner;
        dim3 grid((unsigned)((per + block - 1) / block), (unsigned)(rows > 65535 ? 65535 : rows));
        if (v)
            rows_kernel<T, ACT, true><<<grid, block, 0, s>>>(xp, bp, yp, rows, channels, inner, al,
                                                             be, pm, pa);
        else
            rows_kernel<T, ACT, false><<<grid, block, 0, s>>>(xp, bp, yp, rows, channels, inner,
                                                              al, be, pm, pa);
    } else if (n < (1LL << 31)) {
        small_kernel<T, ACT, unsigned><<<grid_1d(n, block), block, 0, s>>>(
            xp, bp, yp, (unsigned)n, (unsigned)channels, (unsigned)inner, al, be, pm, pa);
    } else {
        small_kernel<T, ACT, long long><<<grid_1d(n, block), block, 0, s>>>(
            xp, bp, yp, n, channels, inner, al, be, pm, pa);
    }
}

template <typename T>
avf_status launch(const avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                  const avf_tensor *bias, long long channels, long long inner, avf_tensor *y) {
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    long long n = avf_tensor_numel(x);
    const T *xp = (const T *)x->data;
    const T *bp = bias ? (const T *)bias->data : (const T *)0;
    T *yp = (T *)y->data;
    const float al = p->alpha, be = p->beta, pm = p->post_mul, pa = p->post_add;
#define CASE(K)                                                                               \
    case K:                                                                                   \
        launch_act<T, K>(s, xp, bp, yp, n, channels, inner, al, be, pm, pa);                  \
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
