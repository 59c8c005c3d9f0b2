/* CUDA kernels: LayerNormalization (TPR threads per row: mean, then the
 * centred variance, then the write, all in f32), BatchNormalization
 * (elementwise with per-channel parameters) and its training-mode batch
 * statistics (one block per channel). */
#include "core/error.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/cuda/reduce_dev_cuda.h"

using namespace avf_red;

namespace {

template <typename T, int TPR>
__global__ void layernorm_rows(const T *__restrict__ x, const T *__restrict__ scale,
                               long long s_step, const T *__restrict__ bias, long long b_step,
                               T *__restrict__ y, float *__restrict__ mean,
                               float *__restrict__ inv_std, long long rows, long long n,
                               float eps) {
    __shared__ float shm[kWarps];
    const int lane = threadIdx.x % TPR;
    const long long groups = blockDim.x / TPR;
    for (long long row = blockIdx.x * groups + threadIdx.x / TPR; row < rows;
         row += (long long)gridDim.x * groups) {
        const T *p = x + row * n;
        float sum = 0.0f;
        for (long long j = lane; j < n; j += TPR)
            sum += to_f(p[j]);
        float mu = group_reduce<TPR>(sum, op_add(), shm) / (float)n;
        float sq = 0.0f;
        for (long long j = lane; j < n; j += TPR) {
            float d = to_f(p[j]) - mu;
            sq += d * d;
        }
        float var = group_reduce<TPR>(sq, op_add(), shm) / (float)n;
        float inv = 1.0f / sqrtf(var + eps);
        for (long long j = lane; j < n; j += TPR) {
            float v = (to_f(p[j]) - mu) * inv * to_f(scale[j * s_step]);
            if (bias)
                v += to_f(bias[j * b_step]);
            store(y, row * n + j, v);
        }
        if (lane == 0) {
            if (mean)
                mean[row] = mu;
            if (inv_std)
                inv_std[row] = inv;
        }
    }
}

template <typename T>
avf_status launch_ln(const avf_op_ctx *ctx, long long rows, long long n, float eps,
                     const avf_tensor *x, const avf_tensor *scale, const avf_tensor *bias,
                     avf_tensor *y, avf_tensor *mean, avf_tensor *inv_std) {
    cudaStream_t s = stream_of(ctx);
    long long s_step = avf_tensor_numel(scale) == 1 ? 0 : 1;
    long long b_step = bias && avf_tensor_numel(bias) == 1 ? 0 : 1;
    const T *xp = (const T *)x->data, *sp = (const T *)scale->data;
    const T *bp = bias ? (const T *)bias->data : (const T *)0;
    T *yp = (T *)y->data;
    float *mp = mean ? (float *)mean->data : (float *)0;
    float *ip = inv_std ? (float *)inv_std->data : (float *)0;
    if (n >= 1024)
        layernorm_rows<T, kBlock><<<grid_for(rows, 1), kBlock, 0, s>>>(xp, sp, s_step, bp, b_step, yp,
                                                                      mp, ip, rows, n, eps);
    else
        layernorm_rows<T, 32><<<grid_for(rows, kWarps), kBlock, 0, s>>>(xp, sp, s_step, bp, b_step,
                                                                       yp, mp, ip, rows, n, eps);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* Parameters may each be f32 or f16 (is_half bits 0..3: scale, bias, mean,
 * var), so they are read through load_any. */
template <typename T>
__global__ void batchnorm_kernel(const T *__restrict__ x, T *__restrict__ y, const void *scale,
                                 const void *bias, const void *mean, const void *var,
                                 int is_half, long long total, long long c, long long spatial,
                                 float eps) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        long long ch = (e / spatial) % c;
        float a = load_any(scale, is_half & 1, ch) /
                  sqrtf(load_any(var, (is_half >> 3) & 1, ch) + eps);
        float v = (to_f(x[e]) - load_any(mean, (is_half >> 2) & 1, ch)) * a +
                  load_any(bias, (is_half >> 1) & 1, ch);
        store(y, e, v);
    }
}

/* One block per channel (grid-stride over channels): the mean, then the
 * centred squares (two passes, no cancellation), in f32 as LayerNorm does.
 * mean/var (and run_*) hold f32 or f16 (is_half bit 0: mean, bit 1: var). */
template <typename T>
__global__ void bn_stats_kernel(const T *__restrict__ x, const void *mean, const void *var,
                                int is_half, float *__restrict__ bmean, float *__restrict__ bvar,
                                void *run_mean, void *run_var, long long batch, long long c,
                                long long spatial, float momentum) {
    __shared__ float shm[kWarps];
    const long long cnt = batch * spatial;
    for (long long ch = blockIdx.x; ch < c; ch += gridDim.x) {
        float sum = 0.0f;
        for (long long e = threadIdx.x; e < cnt; e += blockDim.x)
            sum += to_f(x[((e / spatial) * c + ch) * spatial + e % spatial]);
        float mu = group_reduce<kBlock>(sum, op_add(), shm) / (float)cnt;
        float sq = 0.0f;
        for (long long e = threadIdx.x; e < cnt; e += blockDim.x) {
            float d = to_f(x[((e / spatial) * c + ch) * spatial + e % spatial]) - mu;
            sq += d * d;
        }
        float v = group_reduce<kBlock>(sq, op_add(), shm) / (float)cnt;
        if (threadIdx.x == 0) {
            bmean[ch] = mu;
            bvar[ch] = v;
            float rm = load_any(mean, is_half & 1, ch) * momentum + mu * (1.0f - momentum);
            float rv = load_any(var, (is_half >> 1) & 1, ch) * momentum + v * (1.0f - momentum);
            if (run_mean) {
                if (is_half & 1)
                    ((__half *)run_mean)[ch] = __float2half(rm);
                else
                    ((float *)run_mean)[ch] = rm;
            }
            if (run_var) {
                if ((is_half >> 1) & 1)
                    ((__half *)run_var)[ch] = __float2half(rv);
                else
                    ((float *)run_var)[ch] = rv;
            }
        }
    }
}

} // namespace

extern "C" avf_status avf_cuda_layernorm(avf_op_ctx *ctx, int64_t rows, int64_t n, float eps,
                                         const avf_tensor *x, const avf_tensor *scale,
                                         const avf_tensor *bias, avf_tensor *y, avf_tensor *mean,
                                         avf_tensor *inv_std) {
    if (rows == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        return launch_ln<float>(ctx, rows, n, eps, x, scale, bias, y, mean, inv_std);
    case AVF_DTYPE_F16:
        return launch_ln<__half>(ctx, rows, n, eps, x, scale, bias, y, mean, inv_std);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "LayerNormalization (CUDA): dtype %s",
                    avf_dtype_name(x->dtype));
}

extern "C" avf_status avf_cuda_batchnorm(avf_op_ctx *ctx, int64_t batch, int64_t c,
                                         int64_t spatial, float eps, const avf_tensor *x,
                                         const avf_tensor *scale, const avf_tensor *bias,
                                         const avf_tensor *mean, const avf_tensor *var,
                                         avf_tensor *y) {
    long long total = (long long)batch * c * spatial;
    if (total == 0)
        return AVF_OK;
    int is_half = (scale->dtype == AVF_DTYPE_F16) | (bias->dtype == AVF_DTYPE_F16) << 1 |
                  (mean->dtype == AVF_DTYPE_F16) << 2 | (var->dtype == AVF_DTYPE_F16) << 3;
    cudaStream_t s = stream_of(ctx);
    unsigned grid = grid_for(total, kBlock);
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        batchnorm_kernel<float><<<grid, kBlock, 0, s>>>((const float *)x->data, (float *)y->data,
                                                        scale->data, bias->data, mean->data,
                                                        var->data, is_half, total, c, spatial, eps);
        break;
    case AVF_DTYPE_F16:
        batchnorm_kernel<__half><<<grid, kBlock, 0, s>>>((const __half *)x->data,
                                                         (__half *)y->data, scale->data, bias->data,
                                                         mean->data, var->data, is_half, total, c,
                                                         spatial, eps);
        break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "BatchNormalization (CUDA): dtype %s",
                        avf_dtype_name(x->dtype));
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_batchnorm_stats(avf_op_ctx *ctx, int64_t batch, int64_t c,
                                               int64_t spatial, float momentum,
                                               const avf_tensor *x, const avf_tensor *mean,
                                               const avf_tensor *var, avf_tensor *bmean,
                                               avf_tensor *bvar, avf_tensor *run_mean,
                                               avf_tensor *run_var) {
    if (c == 0)
        return AVF_OK;
    int is_half = (mean->dtype == AVF_DTYPE_F16) | (var->dtype == AVF_DTYPE_F16) << 1;
    cudaStream_t s = stream_of(ctx);
    unsigned grid = grid_for(c, 1);
    float *bm = (float *)bmean->data, *bv = (float *)bvar->data;
    void *rm = run_mean ? run_mean->data : NULL, *rv = run_var ? run_var->data : NULL;
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        bn_stats_kernel<float><<<grid, kBlock, 0, s>>>((const float *)x->data, mean->data,
                                                       var->data, is_half, bm, bv, rm, rv, batch,
                                                       c, spatial, momentum);
        break;
    case AVF_DTYPE_F16:
        bn_stats_kernel<__half><<<grid, kBlock, 0, s>>>((const __half *)x->data, mean->data,
                                                        var->data, is_half, bm, bv, rm, rv, batch,
                                                        c, spatial, momentum);
        break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "BatchNormalization (CUDA): dtype %s",
                        avf_dtype_name(x->dtype));
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}
