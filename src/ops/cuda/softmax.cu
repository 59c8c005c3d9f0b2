/* CUDA kernels: Softmax and LogSoftmax over the middle axis of [outer, n,
 * inner], computed as exp(x - max) / sum (log: x - max - log(sum)) in f32.
 * inner == 1 (the common last-axis case): TPR threads per row, three passes
 * over the row (max, sum, write), combined with warp shuffles. inner > 1:
 * one thread per (outer, inner) line, so a warp reads contiguous memory. */
#include "core/error.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/cuda/reduce_dev_cuda.h"

using namespace avf_red;

namespace {

template <typename T, int TPR>
__global__ void softmax_rows(const T *__restrict__ x, T *__restrict__ y, long long rows,
                             long long n, int is_log) {
    __shared__ float shm[kWarps];
    const int lane = threadIdx.x % TPR;
    const long long groups = blockDim.x / TPR;
    for (long long row = blockIdx.x * groups + threadIdx.x / TPR; row < rows;
         row += (long long)gridDim.x * groups) {
        const T *p = x + row * n;
        float mx = -INFINITY;
        for (long long j = lane; j < n; j += TPR)
            mx = op_max()(mx, to_f(p[j]));
        mx = group_reduce<TPR>(mx, op_max(), shm);
        float sum = 0.0f;
        for (long long j = lane; j < n; j += TPR)
            sum += expf(to_f(p[j]) - mx);
        sum = group_reduce<TPR>(sum, op_add(), shm);
        if (is_log) {
            float ls = mx + logf(sum);
            for (long long j = lane; j < n; j += TPR)
                store(y, row * n + j, to_f(p[j]) - ls);
        } else {
            float inv = 1.0f / sum;
            for (long long j = lane; j < n; j += TPR)
                store(y, row * n + j, expf(to_f(p[j]) - mx) * inv);
        }
    }
}

template <typename T>
__global__ void softmax_cols(const T *__restrict__ x, T *__restrict__ y, long long outer,
                             long long n, long long inner, int is_log) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < outer * inner;
         e += (long long)gridDim.x * blockDim.x) {
        long long base = (e / inner) * n * inner + e % inner;
        float mx = -INFINITY;
        for (long long j = 0; j < n; j++)
            mx = op_max()(mx, to_f(x[base + j * inner]));
        float sum = 0.0f;
        for (long long j = 0; j < n; j++)
            sum += expf(to_f(x[base + j * inner]) - mx);
        float ls = mx + logf(sum), inv = 1.0f / sum;
        for (long long j = 0; j < n; j++) {
            float v = to_f(x[base + j * inner]);
            store(y, base + j * inner, is_log ? v - ls : expf(v - mx) * inv);
        }
    }
}

template <typename T>
avf_status launch(const avf_op_ctx *ctx, long long outer, long long n, long long inner, int is_log,
                  const void *x, void *y) {
    cudaStream_t s = stream_of(ctx);
    const T *xp = (const T *)x;
    T *yp = (T *)y;
    if (inner == 1) {
        if (n >= 1024)
            softmax_rows<T, kBlock><<<grid_for(outer, 1), kBlock, 0, s>>>(xp, yp, outer, n, is_log);
        else
            softmax_rows<T, 32><<<grid_for(outer, kWarps), kBlock, 0, s>>>(xp, yp, outer, n, is_log);
    } else {
        softmax_cols<T><<<grid_for(outer * inner, kBlock), kBlock, 0, s>>>(xp, yp, outer, n, inner,
                                                                           is_log);
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_softmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                                       int is_log, const avf_tensor *x, avf_tensor *y) {
    if (outer * n * inner == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32: return launch<float>(ctx, outer, n, inner, is_log, x->data, y->data);
    case AVF_DTYPE_F16: return launch<__half>(ctx, outer, n, inner, is_log, x->data, y->data);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Softmax (CUDA): dtype %s", avf_dtype_name(x->dtype));
}
