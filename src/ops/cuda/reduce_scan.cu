/* CUDA kernels: CumSum and TopK over the middle axis of [outer, n, inner].
 *
 * CumSum: one thread per (outer, inner) line scans it in order; lines are
 * independent and neighbouring threads read neighbouring memory when
 * inner > 1. (A parallel scan would only pay off for a few very long lines,
 * which no model we run has.)
 *
 * TopK: one block per line and k rounds of selection: each round finds,
 * with a block reduction, the best element strictly after the previous
 * winner in the op's total order (value, then lower index). Needs no scratch
 * and no sort, works for any line length, costs O(k * n / 256) per line;
 * good for the small k of detection/classification heads.
 */
#include "core/error.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/cuda/reduce_dev_cuda.h"

using namespace avf_red;

namespace {

__device__ __forceinline__ float key(float v) { return v; }
__device__ __forceinline__ float key(__half v) { return __half2float(v); }
__device__ __forceinline__ long long key(long long v) { return v; }
template <typename T> struct key_of { typedef float type; };
template <> struct key_of<long long> { typedef long long type; };

/* ------------------------------------------------------------ CumSum */

template <typename T> struct scan_acc { typedef float type; };
template <> struct scan_acc<double> { typedef double type; };
template <> struct scan_acc<long long> { typedef unsigned long long type; };
template <> struct scan_acc<int> { typedef unsigned long long type; };

__device__ __forceinline__ float scan_in(float v) { return v; }
__device__ __forceinline__ float scan_in(__half v) { return __half2float(v); }
__device__ __forceinline__ double scan_in(double v) { return v; }
__device__ __forceinline__ unsigned long long scan_in(long long v) { return (unsigned long long)v; }
__device__ __forceinline__ unsigned long long scan_in(int v) { return (unsigned long long)(long long)v; }
__device__ __forceinline__ void scan_out(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void scan_out(__half *p, long long i, float v) { p[i] = __float2half(v); }
__device__ __forceinline__ void scan_out(double *p, long long i, double v) { p[i] = v; }
__device__ __forceinline__ void scan_out(long long *p, long long i, unsigned long long v) {
    p[i] = (long long)v;
}
__device__ __forceinline__ void scan_out(int *p, long long i, unsigned long long v) {
    p[i] = (int)(unsigned)v; /* wraps, as the i32 sum would */
}

template <typename T>
__global__ void cumsum_lines(const T *__restrict__ x, T *__restrict__ y, long long outer,
                             long long n, long long inner, int exclusive, int reverse) {
    typedef typename scan_acc<T>::type A;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < outer * inner;
         e += (long long)gridDim.x * blockDim.x) {
        long long base = (e / inner) * n * inner + e % inner;
        A acc = 0;
        for (long long t = 0; t < n; t++) {
            long long at = base + (reverse ? n - 1 - t : t) * inner;
            A v = scan_in(x[at]);
            scan_out(y, at, exclusive ? acc : acc + v);
            acc += v;
        }
    }
}

template <typename T>
avf_status launch_cumsum(const avf_op_ctx *ctx, long long outer, long long n, long long inner,
                         int exclusive, int reverse, const void *x, void *y) {
    cumsum_lines<T><<<grid_for(outer * inner, kBlock), kBlock, 0, stream_of(ctx)>>>(
        (const T *)x, (T *)y, outer, n, inner, exclusive, reverse);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* ------------------------------------------------------------ TopK */

/* (a, ai) comes before (b, bi): larger (smaller) value first, NaN above
 * every number, equal values by lower index. A total order. */
__device__ __forceinline__ bool first(float a, long long ai, float b, long long bi, int largest) {
    bool na = a != a, nb = b != b;
    if (na != nb)
        return largest ? na : nb;
    if (!na && a != b)
        return largest ? a > b : a < b;
    return ai < bi;
}
__device__ __forceinline__ bool first(long long a, long long ai, long long b, long long bi,
                                      int largest) {
    if (a != b)
        return largest ? a > b : a < b;
    return ai < bi;
}

template <typename T>
__global__ void topk_select(const T *__restrict__ x, T *__restrict__ vals,
                            long long *__restrict__ idx, long long outer, long long n,
                            long long inner, long long k, int largest) {
    typedef typename key_of<T>::type K;
    __shared__ K shv[kWarps];
    __shared__ long long shi[kWarps];
    for (long long line = blockIdx.x; line < outer * inner; line += gridDim.x) {
        long long o = line / inner, i = line % inner;
        const T *p = x + o * n * inner + i;
        long long obase = o * k * inner + i;
        K pv = K(0);
        long long pi = -1; /* previous winner; -1 before the first round */
        for (long long t = 0; t < k; t++) {
            K bv = K(0);
            long long bi = -1; /* -1: no candidate */
            for (long long j = threadIdx.x; j < n; j += blockDim.x) {
                K v = key(p[j * inner]);
                if (pi >= 0 && !first(pv, pi, v, j, largest))
                    continue; /* already taken */
                if (bi < 0 || first(v, j, bv, bi, largest)) {
                    bv = v;
                    bi = j;
                }
            }
            for (int m = 16; m > 0; m >>= 1) {
                K ov = shfl_xor(bv, m);
                long long oi = shfl_xor(bi, m);
                if (oi >= 0 && (bi < 0 || first(ov, oi, bv, bi, largest))) {
                    bv = ov;
                    bi = oi;
                }
            }
            __syncthreads(); /* the previous round's reads of shv/shi are done */
            if ((threadIdx.x & 31) == 0) {
                shv[threadIdx.x >> 5] = bv;
                shi[threadIdx.x >> 5] = bi;
            }
            __syncthreads();
            for (int w = 0; w < kWarps; w++)
                if (shi[w] >= 0 && (bi < 0 || first(shv[w], shi[w], bv, bi, largest))) {
                    bv = shv[w];
                    bi = shi[w];
                }
            /* bi >= 0 here: k <= n, so each round has a candidate */
            if (threadIdx.x == 0 && bi >= 0) {
                vals[obase + t * inner] = p[bi * inner];
                idx[obase + t * inner] = bi;
            }
            pv = bv;
            pi = bi;
        }
    }
}

template <typename T>
avf_status launch_topk(const avf_op_ctx *ctx, long long outer, long long n, long long inner,
                       long long k, int largest, const void *x, void *v, void *ix) {
    topk_select<T><<<grid_for(outer * inner, 1), kBlock, 0, stream_of(ctx)>>>(
        (const T *)x, (T *)v, (long long *)ix, outer, n, inner, k, largest);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_cumsum(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                                      int exclusive, int reverse, const avf_tensor *x,
                                      avf_tensor *y) {
    if (outer * n * inner == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        return launch_cumsum<float>(ctx, outer, n, inner, exclusive, reverse, x->data, y->data);
    case AVF_DTYPE_F16:
        return launch_cumsum<__half>(ctx, outer, n, inner, exclusive, reverse, x->data, y->data);
    case AVF_DTYPE_F64:
        return launch_cumsum<double>(ctx, outer, n, inner, exclusive, reverse, x->data, y->data);
    case AVF_DTYPE_I64:
        return launch_cumsum<long long>(ctx, outer, n, inner, exclusive, reverse, x->data, y->data);
    case AVF_DTYPE_I32:
        return launch_cumsum<int>(ctx, outer, n, inner, exclusive, reverse, x->data, y->data);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CumSum (CUDA): dtype %s", avf_dtype_name(x->dtype));
}

extern "C" avf_status avf_cuda_topk(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                                    int64_t k, int largest, const avf_tensor *x,
                                    avf_tensor *values, avf_tensor *indices) {
    if (outer * inner * k == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        return launch_topk<float>(ctx, outer, n, inner, k, largest, x->data, values->data,
                                  indices->data);
    case AVF_DTYPE_F16:
        return launch_topk<__half>(ctx, outer, n, inner, k, largest, x->data, values->data,
                                   indices->data);
    case AVF_DTYPE_I64:
        return launch_topk<long long>(ctx, outer, n, inner, k, largest, x->data, values->data,
                                      indices->data);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "TopK (CUDA): dtype %s", avf_dtype_name(x->dtype));
}
