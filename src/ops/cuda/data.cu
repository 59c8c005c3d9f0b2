/* CUDA kernels of the data family: the copy map (Transpose, Concat, Split,
 * Slice, Pad, Expand, Tile), fills, small i64 writes, Gather, Range. */
#include "ops/cuda/data_common.cuh"

using namespace avf_data;

namespace {


/* One thread per element of the iteration space: unravel the index, map
 * each coordinate, gather one element. The map travels as a kernel argument
 * (about 450 bytes, well under the 4 KiB limit). */
template <typename T>
__global__ void copy_map_kernel(const avf_copy_map m, int64_t total, const T *__restrict__ x,
                                T *__restrict__ y) {
    const T fill = (T)m.fill; /* the low bytes: little-endian */
    AVF_GRID_STRIDE(i, total) {
        int64_t rem = i, yo = m.out_base, xo = m.in_base;
        int outside = 0;
        for (int d = m.ndim - 1; d >= 0; d--) {
            int64_t o = rem % m.shape[d];
            rem /= m.shape[d];
            yo += o * m.out_stride[d];
            int64_t c = avf_border_coord(m.border, m.in_start[d] + o * m.in_step[d], m.in_dim[d],
                                     &outside);
            xo += c * m.in_stride[d];
        }
        y[yo] = outside ? fill : x[xo];
    }
}

template <typename T> __global__ void fill_kernel(T v, int64_t n, T *__restrict__ y) {
    AVF_GRID_STRIDE(i, n) y[i] = v;
}

struct i64_vals {
    long long v[AVF_MAX_DIMS];
};

__global__ void write_i64_kernel(i64_vals vals, int n, long long *y) {
    int i = threadIdx.x;
    if (i < n)
        y[i] = vals.v[i];
}

template <typename T, typename I>
__global__ void gather_kernel(avf_gather_geom g, int64_t total, const T *__restrict__ x,
                              const I *__restrict__ idx, T *__restrict__ y) {
    AVF_GRID_STRIDE(i, total) {
        int64_t in = i % g.inner, t = i / g.inner;
        int64_t j = t % g.nidx, o = t / g.nidx;
        int64_t k = (int64_t)idx[j];
        if (k < 0)
            k += g.axis_dim;
        /* Out of range: zero (the CPU path reports an error instead). */
        y[i] = (k >= 0 && k < g.axis_dim) ? x[(o * g.axis_dim + k) * g.inner + in] : (T)0;
    }
}

template <typename T>
__global__ void range_int_kernel(long long start, long long delta, int64_t n, T *y) {
    AVF_GRID_STRIDE(i, n) y[i] = (T)(start + (long long)i * delta);
}

template <typename T>
__global__ void range_float_kernel(double start, double delta, int64_t n, T *y) {
    AVF_GRID_STRIDE(i, n) y[i] = (T)(start + (double)i * delta);
}

template <typename T>
avf_status launch_copy_map(avf_op_ctx *ctx, const avf_copy_map *m, int64_t total, const void *x,
                           void *y) {
    copy_map_kernel<T><<<grid_for(total), kThreads, 0, stream_of(ctx)>>>(*m, total, (const T *)x,
                                                                          (T *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status launch_fill(avf_op_ctx *ctx, uint64_t value, int64_t n, void *y) {
    fill_kernel<T><<<grid_for(n), kThreads, 0, stream_of(ctx)>>>((T)value, n, (T *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status launch_gather(avf_op_ctx *ctx, const avf_gather_geom *g, const void *x,
                         const void *idx, void *y) {
    int64_t total = g->outer * g->nidx * g->inner;
    if (g->idx_i64)
        gather_kernel<T, long long><<<grid_for(total), kThreads, 0, stream_of(ctx)>>>(
            *g, total, (const T *)x, (const long long *)idx, (T *)y);
    else
        gather_kernel<T, int><<<grid_for(total), kThreads, 0, stream_of(ctx)>>>(
            *g, total, (const T *)x, (const int *)idx, (T *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_copy_map(avf_op_ctx *ctx, const avf_copy_map *m, const void *x,
                                        void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    int64_t total = 1;
    for (int d = 0; d < m->ndim; d++)
        total *= m->shape[d];
    if (total == 0)
        return AVF_OK;
    switch (m->elem_size) {
    case 1: return launch_copy_map<elem<1>::type>(ctx, m, total, x, y);
    case 2: return launch_copy_map<elem<2>::type>(ctx, m, total, x, y);
    case 4: return launch_copy_map<elem<4>::type>(ctx, m, total, x, y);
    default: return launch_copy_map<elem<8>::type>(ctx, m, total, x, y);
    }
}

extern "C" avf_status avf_cuda_fill(avf_op_ctx *ctx, int elem_size, uint64_t value, int64_t n,
                                    void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    if (n == 0)
        return AVF_OK;
    switch (elem_size) {
    case 1: return launch_fill<elem<1>::type>(ctx, value, n, y);
    case 2: return launch_fill<elem<2>::type>(ctx, value, n, y);
    case 4: return launch_fill<elem<4>::type>(ctx, value, n, y);
    default: return launch_fill<elem<8>::type>(ctx, value, n, y);
    }
}

extern "C" avf_status avf_cuda_write_i64(avf_op_ctx *ctx, const int64_t *vals, int n, void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    i64_vals v;
    for (int i = 0; i < AVF_MAX_DIMS; i++)
        v.v[i] = i < n ? (long long)vals[i] : 0;
    write_i64_kernel<<<1, AVF_MAX_DIMS, 0, stream_of(ctx)>>>(v, n, (long long *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_gather(avf_op_ctx *ctx, const avf_gather_geom *g, const void *x,
                                      const void *idx, void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    switch (g->elem_size) {
    case 1: return launch_gather<elem<1>::type>(ctx, g, x, idx, y);
    case 2: return launch_gather<elem<2>::type>(ctx, g, x, idx, y);
    case 4: return launch_gather<elem<4>::type>(ctx, g, x, idx, y);
    default: return launch_gather<elem<8>::type>(ctx, g, x, idx, y);
    }
}

extern "C" avf_status avf_cuda_range(avf_op_ctx *ctx, const avf_range_params *p, int64_t n,
                                     void *y) {
    AVF_TRY_CUDA_DEVICE(ctx);
    unsigned grid = grid_for(n);
    cudaStream_t s = stream_of(ctx);
    switch (p->dtype) {
    case AVF_DTYPE_F32:
        range_float_kernel<float><<<grid, kThreads, 0, s>>>(p->start, p->delta, n, (float *)y);
        break;
    case AVF_DTYPE_F64:
        range_float_kernel<double><<<grid, kThreads, 0, s>>>(p->start, p->delta, n, (double *)y);
        break;
    case AVF_DTYPE_I16:
        range_int_kernel<int16_t><<<grid, kThreads, 0, s>>>(p->istart, p->idelta, n, (int16_t *)y);
        break;
    case AVF_DTYPE_I32:
        range_int_kernel<int><<<grid, kThreads, 0, s>>>(p->istart, p->idelta, n, (int *)y);
        break;
    case AVF_DTYPE_I64:
        range_int_kernel<long long><<<grid, kThreads, 0, s>>>(p->istart, p->idelta, n,
                                                              (long long *)y);
        break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Range: dtype %s", avf_dtype_name(p->dtype));
    }
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}
