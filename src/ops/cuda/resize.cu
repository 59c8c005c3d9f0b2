/* CUDA Resize (nearest, linear): one thread per output element; source
 * coordinates from the mapping shared with the CPU kernel (ops/resize_map.h),
 * in double so both devices pick the same pixels. Nearest copies elements of
 * any width; linear blends in f32 over the axes that move. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/conv_cuda.h"
#include "ops/resize_map.h"

namespace {

struct resize_geo {
    int nd, coord, nearest;
    int64_t in[AVF_MAX_DIMS], out[AVF_MAX_DIMS], istr[AVF_MAX_DIMS];
    double scale[AVF_MAX_DIMS];
    int64_t total;
};

template <typename T>
__global__ void nearest_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, off = 0;
        for (int a = g.nd - 1; a >= 0; a--) {
            int64_t o = rem % g.out[a];
            rem /= g.out[a];
            double xs = avf_resize_src(g.coord, (double)o, g.in[a], g.out[a], g.scale[a]);
            off += avf_resize_nearest_index(g.nearest, xs, g.in[a]) * g.istr[a];
        }
        y[i] = x[off];
    }
}

template <typename T>
__global__ void linear_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, base = 0;
        int64_t d0[AVF_MAX_DIMS], d1[AVF_MAX_DIMS]; /* offsets of the two taps */
        float w1[AVF_MAX_DIMS];
        int na = 0;
        for (int a = g.nd - 1; a >= 0; a--) {
            int64_t o = rem % g.out[a];
            rem /= g.out[a];
            double xs = avf_resize_src(g.coord, (double)o, g.in[a], g.out[a], g.scale[a]);
            int64_t i0, i1;
            double w;
            avf_resize_linear_taps(xs, g.in[a], &i0, &i1, &w);
            if (w == 0.0 || i0 == i1) {
                base += i0 * g.istr[a];
            } else {
                d0[na] = i0 * g.istr[a];
                d1[na] = i1 * g.istr[a];
                w1[na] = (float)w;
                na++;
            }
        }
        float acc = 0.0f;
        for (int c = 0; c < (1 << na); c++) {
            int64_t off = base;
            float w = 1.0f;
            for (int t = 0; t < na; t++) {
                bool hi = (c >> t) & 1;
                off += hi ? d1[t] : d0[t];
                w *= hi ? w1[t] : 1.0f - w1[t];
            }
            acc += w * (float)x[off];
        }
        y[i] = (T)acc;
    }
}

unsigned blocks_for(int64_t n) {
    int64_t b = (n + 255) / 256;
    return (unsigned)(b > (1 << 20) ? (1 << 20) : b < 1 ? 1 : b);
}

template <typename T>
avf_status nearest(cudaStream_t st, const void *x, void *y, const resize_geo &g) {
    nearest_kernel<T><<<blocks_for(g.total), 256, 0, st>>>((const T *)x, (T *)y, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status linear(cudaStream_t st, const void *x, void *y, const resize_geo &g) {
    linear_kernel<T><<<blocks_for(g.total), 256, 0, st>>>((const T *)x, (T *)y, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_resize(avf_op_ctx *ctx, const avf_resize_params *p,
                                      const avf_tensor *x, avf_tensor *y) {
    resize_geo g;
    g.nd = p->ndim;
    g.coord = (int)p->coord;
    g.nearest = (int)p->nearest;
    g.total = avf_tensor_numel(y);
    int64_t s = 1;
    for (int a = p->ndim - 1; a >= 0; a--) {
        g.in[a] = x->shape[a];
        g.out[a] = p->out[a];
        g.scale[a] = p->scales[a];
        g.istr[a] = s;
        s *= x->shape[a];
    }
    cudaStream_t st = (cudaStream_t)avf_stream_native(ctx->stream);
    if (p->mode == AVF_RESIZE_NEAREST) {
        switch (avf_dtype_size(x->dtype)) {
        case 1: return nearest<uint8_t>(st, x->data, y->data, g);
        case 2: return nearest<uint16_t>(st, x->data, y->data, g);
        case 4: return nearest<uint32_t>(st, x->data, y->data, g);
        case 8: return nearest<uint64_t>(st, x->data, y->data, g);
        default: break;
        }
    } else {
        switch (x->dtype) {
        case AVF_DTYPE_F32: return linear<float>(st, x->data, y->data, g);
        case AVF_DTYPE_F16: return linear<__half>(st, x->data, y->data, g);
        case AVF_DTYPE_BF16: return linear<__nv_bfloat16>(st, x->data, y->data, g);
        default: break;
        }
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CUDA Resize: dtype %s", avf_dtype_name(x->dtype));
}
