/* CUDA kernels of the data family: ScatterND, NonZero, quantization. */
#include <cub/device/device_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <string.h>

#include "ops/cuda/data_common.cuh"

using namespace avf_data;

namespace {

/* ---------------------------------------------------------------- ScatterND */

/* The element offset of update tuple u in y, or -1 when an index is out of
 * range (such tuples are skipped: no error can be raised without a sync). */
__device__ __forceinline__ int64_t scatter_offset(const avf_scatter_geom &g,
                                                  const long long *__restrict__ idx, int64_t u) {
    int64_t off = 0;
    for (int i = 0; i < g.k; i++) {
        int64_t v = idx[u * g.k + i];
        if (v < 0)
            v += g.dims[i];
        if (v < 0 || v >= g.dims[i])
            return -1;
        off += v * g.stride[i];
    }
    return off;
}

/* reduction none: every (tuple, element) pair in parallel. */
template <typename T>
__global__ void scatter_set_kernel(avf_scatter_geom g, const long long *__restrict__ idx,
                                   const T *__restrict__ upd, T *__restrict__ y) {
    AVF_GRID_STRIDE(i, g.nupd * g.slice) {
        int64_t u = i / g.slice, e = i % g.slice;
        int64_t off = scatter_offset(g, idx, u);
        if (off >= 0)
            y[off + e] = upd[i];
    }
}

template <typename T> __device__ __forceinline__ float to_f(T v) { return (float)v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <typename T> __device__ __forceinline__ T combine(int red, T a, T b) {
    switch (red) {
    case AVF_SCATTER_ADD: return (T)(a + b);
    case AVF_SCATTER_MUL: return (T)(a * b);
    case AVF_SCATTER_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}
/* Half types combine in f32 and round back, like the CPU kernel. */
template <typename H> __device__ __forceinline__ H combine_half(int red, H a, H b) {
    float x = to_f(a), y = to_f(b);
    float r = red == AVF_SCATTER_ADD   ? x + y
              : red == AVF_SCATTER_MUL ? x * y
              : red == AVF_SCATTER_MAX ? (x > y ? x : y)
                                       : (x < y ? x : y);
    return (H)r;
}
template <> __device__ __forceinline__ __half combine<__half>(int red, __half a, __half b) {
    return combine_half(red, a, b);
}
template <> __device__ __forceinline__ __nv_bfloat16 combine<__nv_bfloat16>(int red,
                                                                            __nv_bfloat16 a,
                                                                            __nv_bfloat16 b) {
    return combine_half(red, a, b);
}

/* With a reduction, duplicates must combine in order: one thread per slice
 * element walks all tuples serially. Tuple offsets are multiples of `slice`,
 * so thread e only ever touches elements congruent to e: no races, and the
 * result equals the CPU's sequential order. */
template <typename T>
__global__ void scatter_reduce_kernel(avf_scatter_geom g, const long long *__restrict__ idx,
                                      const T *__restrict__ upd, T *__restrict__ y) {
    AVF_GRID_STRIDE(e, g.slice) {
        for (int64_t u = 0; u < g.nupd; u++) {
            int64_t off = scatter_offset(g, idx, u);
            if (off >= 0)
                y[off + e] = combine<T>(g.reduction, y[off + e], upd[u * g.slice + e]);
        }
    }
}

template <typename T>
avf_status launch_scatter_reduce(avf_op_ctx *ctx, const avf_scatter_geom *g, const void *idx,
                                 const void *upd, void *y) {
    scatter_reduce_kernel<T><<<grid_for(g->slice), kThreads, 0, stream_of(ctx)>>>(
        *g, (const long long *)idx, (const T *)upd, (T *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status launch_scatter_set(avf_op_ctx *ctx, const avf_scatter_geom *g, const void *idx,
                              const void *upd, void *y) {
    scatter_set_kernel<T><<<grid_for(g->nupd * g->slice), kThreads, 0, stream_of(ctx)>>>(
        *g, (const long long *)idx, (const T *)upd, (T *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* ---------------------------------------------------------------- NonZero */

struct nz_shape {
    int ndim;
    long long dims[AVF_MAX_DIMS];
};

template <typename T>
__global__ void nz_flag_kernel(const T *__restrict__ x, int64_t n, T mask,
                               long long *__restrict__ flags) {
    AVF_GRID_STRIDE(i, n) flags[i] = (x[i] & mask) != 0;
}

/* pos: inclusive prefix sum of the flags, so element i (when non-zero) is
 * the pos[i]-th hit. */
__global__ void nz_fill_kernel(const long long *__restrict__ flags,
                               const long long *__restrict__ pos, int64_t n, nz_shape s,
                               int64_t count, long long *__restrict__ y) {
    AVF_GRID_STRIDE(i, n) {
        if (!flags[i])
            continue;
        int64_t k = pos[i] - 1, rem = i;
        for (int d = s.ndim - 1; d >= 0; d--) {
            y[d * count + k] = rem % s.dims[d];
            rem /= s.dims[d];
        }
        if (s.ndim == 0)
            y[k] = 0;
    }
}

template <typename T>
avf_status launch_nz_flags(avf_op_ctx *ctx, const avf_tensor *x, int64_t n, long long *flags) {
    T mask = (T)~(T)0;
    if (avf_dtype_is_float(x->dtype)) /* ignore the sign bit: -0.0 is zero */
        mask = (T)(mask >> 1);
    nz_flag_kernel<T><<<grid_for(n), kThreads, 0, stream_of(ctx)>>>((const T *)x->data, n, mask,
                                                                     flags);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* Steps after the scratch is allocated; the caller frees it. */
avf_status nonzero_run(avf_op_ctx *ctx, const avf_tensor *x, int64_t n, long long *flags,
                       long long *pos, avf_tensor *y) {
    cudaStream_t s = stream_of(ctx);
    switch (avf_dtype_size(x->dtype)) {
    case 1: AVF_TRY(launch_nz_flags<elem<1>::type>(ctx, x, n, flags)); break;
    case 2: AVF_TRY(launch_nz_flags<elem<2>::type>(ctx, x, n, flags)); break;
    case 4: AVF_TRY(launch_nz_flags<elem<4>::type>(ctx, x, n, flags)); break;
    default: AVF_TRY(launch_nz_flags<elem<8>::type>(ctx, x, n, flags)); break;
    }
    size_t tmp_bytes = 0;
    AVF_CUDA_TRY(cub::DeviceScan::InclusiveSum(NULL, tmp_bytes, flags, pos, n, s));
    void *tmp = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, tmp_bytes ? tmp_bytes : 1, ctx->stream, &tmp));
    cudaError_t e = cub::DeviceScan::InclusiveSum(tmp, tmp_bytes, flags, pos, n, s);
    avf_status fst = avf_pool_free(ctx->pool, tmp, ctx->stream);
    AVF_CUDA_TRY(e);
    AVF_TRY(fst);
    /* The one synchronization of this op: the output's size is the count. */
    long long count = 0;
    AVF_TRY(avf_memcpy_async(ctx->dev, &count, pos + (n - 1), sizeof count, AVF_COPY_D2H,
                             ctx->stream, "nonzero"));
    if (ctx->stream)
        AVF_TRY(avf_stream_synchronize(ctx->stream));
    else
        AVF_TRY(avf_device_synchronize(ctx->dev));
    int rank = x->ndim > 0 ? x->ndim : 1;
    int64_t shape[2] = {rank, count};
    AVF_TRY(avf_tensor_alloc(y, ctx->pool, AVF_DTYPE_I64, 2, shape, ctx->stream));
    if (count == 0)
        return AVF_OK;
    nz_shape sh;
    sh.ndim = x->ndim;
    for (int d = 0; d < AVF_MAX_DIMS; d++)
        sh.dims[d] = d < x->ndim ? x->shape[d] : 1;
    nz_fill_kernel<<<grid_for(n), kThreads, 0, s>>>(flags, pos, n, sh, count,
                                                    (long long *)y->data);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* ---------------------------------------------------------------- quantization */

__device__ __forceinline__ float load_float(avf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case AVF_DTYPE_F16: return __half2float(((const __half *)p)[i]);
    case AVF_DTYPE_BF16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

__device__ __forceinline__ int load_q(avf_dtype t, const void *p, int64_t i) {
    switch (t) {
    case AVF_DTYPE_U8: return ((const uint8_t *)p)[i];
    case AVF_DTYPE_I8: return ((const int8_t *)p)[i];
    default: return ((const int *)p)[i];
    }
}

__global__ void quantize_kernel(avf_quant_geom g, const void *__restrict__ x,
                                const void *__restrict__ scale, const void *__restrict__ zp,
                                void *__restrict__ y) {
    const float lo = g.yt == AVF_DTYPE_U8 ? 0.0f : -128.0f;
    const float hi = g.yt == AVF_DTYPE_U8 ? 255.0f : 127.0f;
    AVF_GRID_STRIDE(i, g.n) {
        int64_t a = g.per_axis ? (i / g.inner) % g.axis_dim : 0;
        float z = g.has_zp ? (float)load_q(g.zt, zp, a) : 0.0f;
        float q = rintf(load_float(g.xt, x, i) / load_float(g.st, scale, a)); /* half to even */
        if (isnan(q))
            q = 0.0f;
        q = fminf(fmaxf(q + z, lo), hi);
        if (g.yt == AVF_DTYPE_U8)
            ((uint8_t *)y)[i] = (uint8_t)q;
        else
            ((int8_t *)y)[i] = (int8_t)q;
    }
}

__global__ void dequantize_kernel(avf_quant_geom g, const void *__restrict__ x,
                                  const void *__restrict__ scale, const void *__restrict__ zp,
                                  void *__restrict__ y) {
    AVF_GRID_STRIDE(i, g.n) {
        int64_t a = g.per_axis ? (i / g.inner) % g.axis_dim : 0;
        long long z = g.has_zp ? load_q(g.zt, zp, a) : 0;
        float v = (float)((long long)load_q(g.xt, x, i) - z) * load_float(g.st, scale, a);
        switch (g.yt) {
        case AVF_DTYPE_F16: ((__half *)y)[i] = __float2half_rn(v); break;
        case AVF_DTYPE_BF16: ((__nv_bfloat16 *)y)[i] = __float2bfloat16_rn(v); break;
        default: ((float *)y)[i] = v; break;
        }
    }
}

} // namespace

extern "C" avf_status avf_cuda_scatternd(avf_op_ctx *ctx, const avf_scatter_geom *g,
                                         const int64_t *idx, const void *upd, void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    if (g->reduction == AVF_SCATTER_NONE) {
        switch (avf_dtype_size(g->dtype)) {
        case 1: return launch_scatter_set<elem<1>::type>(ctx, g, idx, upd, y);
        case 2: return launch_scatter_set<elem<2>::type>(ctx, g, idx, upd, y);
        case 4: return launch_scatter_set<elem<4>::type>(ctx, g, idx, upd, y);
        default: return launch_scatter_set<elem<8>::type>(ctx, g, idx, upd, y);
        }
    }
    switch (g->dtype) {
    case AVF_DTYPE_F32: return launch_scatter_reduce<float>(ctx, g, idx, upd, y);
    case AVF_DTYPE_F64: return launch_scatter_reduce<double>(ctx, g, idx, upd, y);
    case AVF_DTYPE_F16: return launch_scatter_reduce<__half>(ctx, g, idx, upd, y);
    case AVF_DTYPE_BF16: return launch_scatter_reduce<__nv_bfloat16>(ctx, g, idx, upd, y);
    case AVF_DTYPE_I64: return launch_scatter_reduce<long long>(ctx, g, idx, upd, y);
    case AVF_DTYPE_I32: return launch_scatter_reduce<int>(ctx, g, idx, upd, y);
    case AVF_DTYPE_I16: return launch_scatter_reduce<short>(ctx, g, idx, upd, y);
    case AVF_DTYPE_I8: return launch_scatter_reduce<signed char>(ctx, g, idx, upd, y);
    case AVF_DTYPE_U8: return launch_scatter_reduce<unsigned char>(ctx, g, idx, upd, y);
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "ScatterND: reduction on %s",
                        avf_dtype_name(g->dtype));
    }
}

extern "C" avf_status avf_cuda_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    memset(y, 0, sizeof *y); /* safe to release on any failure below */
    AVF_TRY_CUDA_DEVICE(ctx);
    int64_t n = avf_tensor_numel(x);
    if (n == 0) {
        int64_t shape[2] = {x->ndim > 0 ? x->ndim : 1, 0};
        return avf_tensor_alloc(y, ctx->pool, AVF_DTYPE_I64, 2, shape, ctx->stream);
    }
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)n * 2 * sizeof(long long), ctx->stream, &scratch));
    long long *flags = (long long *)scratch;
    avf_status st = nonzero_run(ctx, x, n, flags, flags + n, y);
    avf_status fst = avf_pool_free(ctx->pool, scratch, ctx->stream);
    if (st != AVF_OK) {
        avf_tensor_release(y, ctx->stream);
        return st;
    }
    return fst;
}

extern "C" avf_status avf_cuda_quantize(avf_op_ctx *ctx, const avf_quant_geom *g, const void *x,
                                        const void *scale, const void *zp, void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    quantize_kernel<<<grid_for(g->n), kThreads, 0, stream_of(ctx)>>>(*g, x, scale, zp, y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_dequantize(avf_op_ctx *ctx, const avf_quant_geom *g, const void *x,
                                          const void *scale, const void *zp, void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    dequantize_kernel<<<grid_for(g->n), kThreads, 0, stream_of(ctx)>>>(*g, x, scale, zp, y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}
