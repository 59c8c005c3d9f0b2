/* CUDA kernels: Reduce{Sum,Mean,Max,Min} and ArgMax.
 *
 * A reduce sees the tensor through avf_reduce_view (kept and reduced dims,
 * merged). When the innermost dim is reduced, each output is a row: TPR
 * threads stride over its elements (coalesced) and combine with shuffles.
 * When the innermost dim is kept, neighbouring threads own neighbouring
 * outputs and each walks its reduced elements, so a warp's loads are again
 * contiguous. f32/f16 accumulate in f32, i64 in i64.
 */
#include <stdint.h>

#include "core/error.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/cuda/reduce_dev_cuda.h"

using namespace avf_red;

namespace {

struct rview {
    int nk, nr;
    long long ks[AVF_MAX_DIMS], kst[AVF_MAX_DIMS];
    long long rs[AVF_MAX_DIMS], rst[AVF_MAX_DIMS];
    long long m, r;
};

__device__ __forceinline__ long long offset_of(int n, const long long *size,
                                               const long long *stride, long long idx) {
    if (n == 1)
        return idx * stride[0];
    long long off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (idx % size[d]) * stride[d];
        idx /= size[d];
    }
    return off;
}

/* Accumulator type: f32 for float kinds, i64 for i64. */
template <typename T> struct acc_of { typedef float type; };
template <> struct acc_of<long long> { typedef long long type; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ long long to_acc(long long v) { return v; }
__device__ __forceinline__ void put(float *p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void put(__half *p, long long i, float v) { p[i] = __float2half(v); }
__device__ __forceinline__ void put(long long *p, long long i, long long v) { p[i] = v; }

template <int K, typename A> struct kind_ops;
template <typename A> struct kind_ops<AVF_REDUCE_SUM, A> {
    typedef op_add op;
    static __device__ A init() { return A(0); }
    static __device__ A finish(A a, long long) { return a; }
};
template <typename A> struct kind_ops<AVF_REDUCE_MEAN, A> {
    typedef op_add op;
    static __device__ A init() { return A(0); }
    static __device__ A finish(A a, long long r) { return a / (A)r; } /* r == 0: NaN */
};
template <> struct kind_ops<AVF_REDUCE_MAX, float> {
    typedef op_max op;
    static __device__ float init() { return -INFINITY; }
    static __device__ float finish(float a, long long) { return a; }
};
template <> struct kind_ops<AVF_REDUCE_MAX, long long> {
    typedef op_max op;
    static __device__ long long init() { return (long long)INT64_MIN; }
    static __device__ long long finish(long long a, long long) { return a; }
};
template <> struct kind_ops<AVF_REDUCE_MIN, float> {
    typedef op_min op;
    static __device__ float init() { return INFINITY; }
    static __device__ float finish(float a, long long) { return a; }
};
template <> struct kind_ops<AVF_REDUCE_MIN, long long> {
    typedef op_min op;
    static __device__ long long init() { return (long long)INT64_MAX; }
    static __device__ long long finish(long long a, long long) { return a; }
};

template <typename T, int K, int TPR>
__global__ void reduce_rows(const T *__restrict__ x, T *__restrict__ y, rview v) {
    typedef typename acc_of<T>::type A;
    typedef kind_ops<K, A> ko;
    typename ko::op op;
    __shared__ A shm[kWarps];
    const int lane = threadIdx.x % TPR;
    const long long groups = blockDim.x / TPR;
    for (long long o = blockIdx.x * groups + threadIdx.x / TPR; o < v.m;
         o += (long long)gridDim.x * groups) {
        long long base = offset_of(v.nk, v.ks, v.kst, o);
        A a = ko::init();
        for (long long j = lane; j < v.r; j += TPR)
            a = op(a, to_acc(x[base + offset_of(v.nr, v.rs, v.rst, j)]));
        a = group_reduce<TPR>(a, op, shm);
        if (lane == 0)
            put(y, o, ko::finish(a, v.r));
    }
}

template <typename T, int K>
__global__ void reduce_cols(const T *__restrict__ x, T *__restrict__ y, rview v) {
    typedef typename acc_of<T>::type A;
    typedef kind_ops<K, A> ko;
    typename ko::op op;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < v.m;
         o += (long long)gridDim.x * blockDim.x) {
        long long base = offset_of(v.nk, v.ks, v.kst, o);
        A a = ko::init();
        for (long long j = 0; j < v.r; j++)
            a = op(a, to_acc(x[base + offset_of(v.nr, v.rs, v.rst, j)]));
        put(y, o, ko::finish(a, v.r));
    }
}

template <typename T, int K>
avf_status launch_reduce(const avf_op_ctx *ctx, const rview &v, const void *x, void *y) {
    cudaStream_t s = stream_of(ctx);
    const T *xp = (const T *)x;
    T *yp = (T *)y;
    if (v.r > 1 && v.nr > 0 && v.rst[v.nr - 1] == 1) {
        if (v.r >= 1024)
            reduce_rows<T, K, kBlock><<<grid_for(v.m, 1), kBlock, 0, s>>>(xp, yp, v);
        else
            reduce_rows<T, K, 32><<<grid_for(v.m, kWarps), kBlock, 0, s>>>(xp, yp, v);
    } else {
        reduce_cols<T, K><<<grid_for(v.m, kBlock), kBlock, 0, s>>>(xp, yp, v);
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status launch_kind(const avf_op_ctx *ctx, avf_reduce_kind kind, const rview &v, const void *x,
                       void *y) {
    switch (kind) {
    case AVF_REDUCE_SUM: return launch_reduce<T, AVF_REDUCE_SUM>(ctx, v, x, y);
    case AVF_REDUCE_MAX: return launch_reduce<T, AVF_REDUCE_MAX>(ctx, v, x, y);
    case AVF_REDUCE_MIN: return launch_reduce<T, AVF_REDUCE_MIN>(ctx, v, x, y);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_INTERNAL, "reduce: kind %d not handled", (int)kind);
}

/* Mean exists for float kinds only (the entry point rejects i64). */
template <typename T>
avf_status launch_kind_f(const avf_op_ctx *ctx, avf_reduce_kind kind, const rview &v,
                         const void *x, void *y) {
    if (kind == AVF_REDUCE_MEAN)
        return launch_reduce<T, AVF_REDUCE_MEAN>(ctx, v, x, y);
    return launch_kind<T>(ctx, kind, v, x, y);
}

/* ---------------------------------------------------------------- ArgMax */

template <typename T> struct key_of { typedef float type; };
template <> struct key_of<long long> { typedef long long type; };

/* (a, ai) comes before (b, bi): greater value (NaN above all numbers), then
 * the lower index (the higher with select_last). A total order, so the
 * combine below is associative. */
__device__ __forceinline__ bool before(float a, long long ai, float b, long long bi, int last) {
    bool na = a != a, nb = b != b;
    if (na != nb)
        return na;
    if (!na && a != b)
        return a > b;
    return last ? ai > bi : ai < bi;
}
__device__ __forceinline__ bool before(long long a, long long ai, long long b, long long bi,
                                       int last) {
    if (a != b)
        return a > b;
    return last ? ai > bi : ai < bi;
}

template <typename T, int TPR>
__global__ void argmax_rows(const T *__restrict__ x, long long *__restrict__ y, long long rows,
                            long long n, int last) {
    typedef typename key_of<T>::type K;
    __shared__ K shv[kWarps];
    __shared__ long long shi[kWarps];
    const int lane = threadIdx.x % TPR;
    const long long groups = blockDim.x / TPR;
    for (long long row = blockIdx.x * groups + threadIdx.x / TPR; row < rows;
         row += (long long)gridDim.x * groups) {
        const T *p = x + row * n;
        K best = (K)to_acc(p[0]);
        long long bi = 0;
        for (long long j = lane; j < n; j += TPR) {
            K v = (K)to_acc(p[j]);
            if (before(v, j, best, bi, last)) {
                best = v;
                bi = j;
            }
        }
        for (int m = 16; m > 0; m >>= 1) {
            K ov = shfl_xor(best, m);
            long long oi = shfl_xor(bi, m);
            if (before(ov, oi, best, bi, last)) {
                best = ov;
                bi = oi;
            }
        }
        if (TPR > 32) {
            __syncthreads();
            if ((threadIdx.x & 31) == 0) {
                shv[threadIdx.x >> 5] = best;
                shi[threadIdx.x >> 5] = bi;
            }
            __syncthreads();
            for (int w = 0; w < kWarps; w++)
                if (before(shv[w], shi[w], best, bi, last)) {
                    best = shv[w];
                    bi = shi[w];
                }
        }
        if (lane == 0)
            y[row] = bi;
    }
}

template <typename T>
__global__ void argmax_cols(const T *__restrict__ x, long long *__restrict__ y, long long outer,
                            long long n, long long inner, int last) {
    typedef typename key_of<T>::type K;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < outer * inner;
         e += (long long)gridDim.x * blockDim.x) {
        long long o = e / inner, i = e % inner;
        const T *p = x + o * n * inner + i;
        K best = (K)to_acc(p[0]);
        long long bi = 0;
        for (long long j = 1; j < n; j++) {
            K v = (K)to_acc(p[j * inner]);
            if (before(v, j, best, bi, last)) {
                best = v;
                bi = j;
            }
        }
        y[e] = bi;
    }
}

template <typename T>
avf_status launch_argmax(const avf_op_ctx *ctx, long long outer, long long n, long long inner,
                         int last, const void *x, void *y) {
    cudaStream_t s = stream_of(ctx);
    const T *xp = (const T *)x;
    long long *yp = (long long *)y;
    if (inner == 1) {
        if (n >= 1024)
            argmax_rows<T, kBlock><<<grid_for(outer, 1), kBlock, 0, s>>>(xp, yp, outer, n, last);
        else
            argmax_rows<T, 32><<<grid_for(outer, kWarps), kBlock, 0, s>>>(xp, yp, outer, n, last);
    } else {
        argmax_cols<T><<<grid_for(outer * inner, kBlock), kBlock, 0, s>>>(xp, yp, outer, n, inner,
                                                                          last);
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_reduce(avf_op_ctx *ctx, avf_reduce_kind kind,
                                      const avf_reduce_view *v, const avf_tensor *x,
                                      avf_tensor *y) {
    rview r;
    r.nk = v->nk;
    r.nr = v->nr;
    for (int d = 0; d < AVF_MAX_DIMS; d++) {
        r.ks[d] = v->k_size[d];
        r.kst[d] = v->k_stride[d];
        r.rs[d] = v->r_size[d];
        r.rst[d] = v->r_stride[d];
    }
    r.m = v->m;
    r.r = v->r;
    if (r.m == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32: return launch_kind_f<float>(ctx, kind, r, x->data, y->data);
    case AVF_DTYPE_F16: return launch_kind_f<__half>(ctx, kind, r, x->data, y->data);
    case AVF_DTYPE_I64: return launch_kind<long long>(ctx, kind, r, x->data, y->data);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "reduce (CUDA): dtype %s", avf_dtype_name(x->dtype));
}

extern "C" avf_status avf_cuda_argmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                                      int select_last, const avf_tensor *x, avf_tensor *y) {
    if (outer * inner == 0)
        return AVF_OK;
    switch (x->dtype) {
    case AVF_DTYPE_F32:
        return launch_argmax<float>(ctx, outer, n, inner, select_last, x->data, y->data);
    case AVF_DTYPE_F16:
        return launch_argmax<__half>(ctx, outer, n, inner, select_last, x->data, y->data);
    case AVF_DTYPE_I64:
        return launch_argmax<long long>(ctx, outer, n, inner, select_last, x->data, y->data);
    default: break;
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "ArgMax (CUDA): dtype %s", avf_dtype_name(x->dtype));
}
