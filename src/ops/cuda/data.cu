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

/* Maps that copy contiguous runs (Concat, Split, unit-step Slice: no border,
 * unit steps, the last dims contiguous on both sides): after merging the
 * dims that are contiguous on both sides, a row of the merged view is one
 * memcpy. Blocks take (row, chunk) pairs and copy with 16-byte vectors
 * where every row start is aligned, so there is no per-element index
 * arithmetic. In an fp16 plan trace of the OCR detector the per-element
 * kernel above spent ~220 us on each of its Concats (~40 MB each). */
struct runs_geo {
    int nd;                       /* merged dims; the last is the run */
    int64_t shape[AVF_MAX_DIMS];
    int64_t ostr[AVF_MAX_DIMS], istr[AVF_MAX_DIMS]; /* bytes */
    int64_t obase, ibase;         /* bytes */
    int64_t rows, run_bytes;
};

template <typename V>
__global__ void runs_kernel(const runs_geo g, const char *__restrict__ x, char *__restrict__ y) {
    const int64_t nv = g.run_bytes / (int64_t)sizeof(V);
    const int64_t chunk = (int64_t)blockDim.x * 4;
    for (int64_t r = blockIdx.x; r < g.rows; r += gridDim.x) {
        int64_t rem = r, yo = g.obase, xo = g.ibase;
        for (int d = g.nd - 2; d >= 0; d--) {
            int64_t o = rem % g.shape[d];
            rem /= g.shape[d];
            yo += o * g.ostr[d];
            xo += o * g.istr[d];
        }
        const V *src = reinterpret_cast<const V *>(x + xo);
        V *dst = reinterpret_cast<V *>(y + yo);
        for (int64_t c = (int64_t)blockIdx.y * chunk; c < nv; c += (int64_t)gridDim.y * chunk) {
            int64_t end = c + chunk < nv ? c + chunk : nv;
            for (int64_t i = c + threadIdx.x; i < end; i += blockDim.x)
                dst[i] = src[i];
        }
    }
}

/* Fill g when m copies runs of at least 256 bytes; false otherwise. */
bool runs_plan(const avf_copy_map *m, runs_geo *g) {
    const int64_t es = m->elem_size;
    int nd = 0;
    int64_t shape[AVF_MAX_DIMS], ostr[AVF_MAX_DIMS], istr[AVF_MAX_DIMS];
    int64_t ibase = m->in_base;
    for (int d = 0; d < m->ndim; d++) {
        if (m->in_step[d] != 1 || m->in_start[d] < 0 || m->in_start[d] + m->shape[d] > m->in_dim[d])
            return false; /* steps, borders, padding: the general kernel */
        ibase += m->in_start[d] * m->in_stride[d];
        if (m->shape[d] == 1)
            continue;
        if (nd > 0 && ostr[nd - 1] == m->out_stride[d] * m->shape[d] &&
            istr[nd - 1] == m->in_stride[d] * m->shape[d]) {
            shape[nd - 1] *= m->shape[d]; /* contiguous with the dim before on both sides */
            ostr[nd - 1] = m->out_stride[d];
            istr[nd - 1] = m->in_stride[d];
            continue;
        }
        shape[nd] = m->shape[d];
        ostr[nd] = m->out_stride[d];
        istr[nd] = m->in_stride[d];
        nd++;
    }
    if (nd == 0 || ostr[nd - 1] != 1 || istr[nd - 1] != 1 || shape[nd - 1] * es < 256)
        return false;
    g->nd = nd;
    g->rows = 1;
    for (int d = 0; d < nd; d++) {
        g->shape[d] = shape[d];
        g->ostr[d] = ostr[d] * es;
        g->istr[d] = istr[d] * es;
        if (d < nd - 1)
            g->rows *= shape[d];
    }
    g->obase = m->out_base * es;
    g->ibase = ibase * es;
    g->run_bytes = shape[nd - 1] * es;
    return true;
}

template <typename V>
avf_status launch_runs(avf_op_ctx *ctx, const runs_geo &g, const void *x, void *y) {
    int64_t nv = g.run_bytes / (int64_t)sizeof(V);
    int64_t chunks = (nv + kThreads * 4 - 1) / (kThreads * 4);
    dim3 grid((unsigned)(g.rows < (1 << 20) ? g.rows : (1 << 20)),
              (unsigned)(chunks < 65535 ? chunks : 65535));
    runs_kernel<V><<<grid, kThreads, 0, stream_of(ctx)>>>(g, (const char *)x, (char *)y);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* The widest vector every row start, the run length and both pointers
 * allow. */
avf_status copy_runs(avf_op_ctx *ctx, const runs_geo &g, const void *x, void *y) {
    uint64_t a = (uint64_t)(uintptr_t)x | (uint64_t)(uintptr_t)y | (uint64_t)g.obase |
                 (uint64_t)g.ibase | (uint64_t)g.run_bytes;
    for (int d = 0; d < g.nd - 1; d++)
        a |= (uint64_t)g.ostr[d] | (uint64_t)g.istr[d];
    if (a % 16 == 0)
        return launch_runs<uint4>(ctx, g, x, y);
    if (a % 8 == 0)
        return launch_runs<uint2>(ctx, g, x, y);
    if (a % 4 == 0)
        return launch_runs<unsigned>(ctx, g, x, y);
    if (a % 2 == 0)
        return launch_runs<unsigned short>(ctx, g, x, y);
    return launch_runs<unsigned char>(ctx, g, x, y);
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
    runs_geo g;
    if (runs_plan(m, &g))
        return copy_runs(ctx, g, x, y);
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
