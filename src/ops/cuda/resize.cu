/* CUDA Resize (nearest, linear, cubic): one thread per output element;
 * source coordinates and tap weights from the mapping shared with the CPU
 * kernel (ops/resize_map.h), in double so both devices pick the same pixels.
 * Nearest copies elements of any width; linear and cubic blend in f32 over
 * the axes that move. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <string.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/conv_cuda.h"
#include "ops/resize_map.h"

namespace {

struct resize_geo {
    int nd, mode, coord, nearest, exclude_outside;
    int64_t in[AVF_MAX_DIMS], out[AVF_MAX_DIMS], istr[AVF_MAX_DIMS];
    double scale[AVF_MAX_DIMS], roi[2 * AVF_MAX_DIMS];
    double cubic_a;
    float ext;          /* extrapolation value (linear, cubic) */
    uint64_t ext_bits;  /* the same as one element of X's dtype (nearest) */
    int64_t total;
};

template <typename T>
__global__ void nearest_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, off = 0;
        bool out = false;
        for (int a = g.nd - 1; a >= 0; a--) {
            int64_t o = rem % g.out[a];
            rem /= g.out[a];
            double xs = avf_resize_src(g.coord, (double)o, g.in[a], g.out[a], g.scale[a],
                                       g.roi[a], g.roi[g.nd + a]);
            out = out || avf_resize_outside(g.coord, xs, g.in[a]);
            off += avf_resize_nearest_index(g.nearest, xs, g.in[a]) * g.istr[a];
        }
        if (out) {
            T e;
            memcpy(&e, &g.ext_bits, sizeof e); /* little-endian: the low bytes */
            y[i] = e;
        } else {
            y[i] = x[off];
        }
    }
}

/* Nearest over rank >= 2, the shape Resize has in CNNs (N, C, H, W): a 3-D
 * grid, x over the last axis, y over the one before, z over the slices of
 * the leading axes. Each thread maps its column and row once; the slice's
 * source offset is decomposed once per block. The one-thread-per-element
 * kernel above did four 64-bit div/mods and four double mappings per
 * element, and was the top kernel of the OCR detector in a plan trace. */
template <typename T>
__global__ void nearest2d_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g,
                                 int64_t slices) {
    const int a1 = g.nd - 1, a0 = g.nd - 2;
    int64_t w = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    int64_t h = blockIdx.y * (int64_t)blockDim.y + threadIdx.y;
    bool live = w < g.out[a1] && h < g.out[a0];
    int64_t off_w = 0, off_h = 0;
    bool out_wh = false;
    if (live) {
        double xs = avf_resize_src(g.coord, (double)w, g.in[a1], g.out[a1], g.scale[a1],
                                   g.roi[a1], g.roi[g.nd + a1]);
        double ys = avf_resize_src(g.coord, (double)h, g.in[a0], g.out[a0], g.scale[a0],
                                   g.roi[a0], g.roi[g.nd + a0]);
        out_wh = avf_resize_outside(g.coord, xs, g.in[a1]) || avf_resize_outside(g.coord, ys, g.in[a0]);
        off_w = avf_resize_nearest_index(g.nearest, xs, g.in[a1]) * g.istr[a1];
        off_h = avf_resize_nearest_index(g.nearest, ys, g.in[a0]) * g.istr[a0];
    }
    __shared__ int64_t lead;
    __shared__ int lead_out;
    int64_t plane = g.out[a0] * g.out[a1];
    for (int64_t z = blockIdx.z; z < slices; z += gridDim.z) {
        if (threadIdx.x == 0 && threadIdx.y == 0) {
            int64_t rem = z, off = 0;
            int o_flag = 0;
            for (int a = a0 - 1; a >= 0; a--) {
                int64_t o = rem % g.out[a];
                rem /= g.out[a];
                double s = avf_resize_src(g.coord, (double)o, g.in[a], g.out[a], g.scale[a],
                                          g.roi[a], g.roi[g.nd + a]);
                o_flag |= avf_resize_outside(g.coord, s, g.in[a]);
                off += avf_resize_nearest_index(g.nearest, s, g.in[a]) * g.istr[a];
            }
            lead = off;
            lead_out = o_flag;
        }
        __syncthreads();
        if (live) {
            int64_t i = z * plane + h * g.out[a1] + w;
            if (out_wh || lead_out) {
                T e;
                memcpy(&e, &g.ext_bits, sizeof e);
                y[i] = e;
            } else {
                y[i] = x[lead + off_h + off_w];
            }
        }
        __syncthreads(); /* lead is rewritten for the next slice */
    }
}

/* Nearest when only the last two axes move (the upsampling of CNN feature
 * pyramids: N and C map to themselves) on a contiguous input: output rows
 * are gathered from one source row each. A thread writes V consecutive
 * outputs of a row (16 bytes, one vector store where the row allows it);
 * the column map is computed once per block into shared memory and the
 * row's source once per V outputs, with 32-bit index arithmetic. In an
 * fp16 plan trace of the OCR detector the 3-D-grid kernel below took
 * ~530 us per call, a quarter of the model, for ~100 MB of traffic. */
template <typename T, int V, bool VEC>
__global__ void nearest_rows_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g,
                                    uint32_t rows, uint32_t units_per_row) {
    extern __shared__ int32_t colmap[];
    const int a1 = g.nd - 1, a0 = g.nd - 2;
    const uint32_t ow = (uint32_t)g.out[a1], oh = (uint32_t)g.out[a0];
    const uint32_t iw = (uint32_t)g.in[a1], ih = (uint32_t)g.in[a0];
    for (uint32_t w = threadIdx.x; w < ow; w += blockDim.x)
        colmap[w] = (int32_t)avf_resize_nearest_index(
            g.nearest,
            avf_resize_src(g.coord, (double)w, g.in[a1], g.out[a1], g.scale[a1], g.roi[a1],
                           g.roi[g.nd + a1]),
            g.in[a1]);
    __syncthreads();
    const uint32_t units = rows * units_per_row;
    for (uint32_t u = blockIdx.x * blockDim.x + threadIdx.x; u < units;
         u += gridDim.x * blockDim.x) {
        uint32_t r = u / units_per_row, w0 = (u - r * units_per_row) * V;
        uint32_t z = r / oh, h = r - z * oh;
        uint32_t hs = (uint32_t)avf_resize_nearest_index(
            g.nearest,
            avf_resize_src(g.coord, (double)h, g.in[a0], g.out[a0], g.scale[a0], g.roi[a0],
                           g.roi[g.nd + a0]),
            g.in[a0]);
        const T *src = x + ((size_t)z * ih + hs) * iw;
        T *dst = y + (size_t)r * ow + w0;
        if (VEC) { /* ow % V == 0 and y 16-byte aligned */
            union {
                uint4 v;
                T e[V];
            } pack;
#pragma unroll
            for (int k = 0; k < V; k++)
                pack.e[k] = src[colmap[w0 + k]];
            *reinterpret_cast<uint4 *>(dst) = pack.v;
        } else {
            for (uint32_t k = 0; k < (uint32_t)V && w0 + k < ow; k++)
                dst[k] = src[colmap[w0 + k]];
        }
    }
}

/* The leading axes map every index to itself, nothing is extrapolated and
 * the input is contiguous: nearest_rows_kernel applies. */
bool nearest_rows_ok(const resize_geo &g) {
    if (g.nd < 2 || g.coord == AVF_RESIZE_TF_CROP_AND_RESIZE)
        return false;
    int64_t stride = 1;
    for (int a = g.nd - 1; a >= 0; a--) {
        if (g.istr[a] != stride)
            return false;
        stride *= g.in[a];
    }
    for (int a = 0; a < g.nd - 2; a++) {
        if (g.in[a] != g.out[a] || g.out[a] > 65536)
            return false;
        for (int64_t o = 0; o < g.out[a]; o++)
            if (avf_resize_nearest_index(g.nearest,
                                         avf_resize_src(g.coord, (double)o, g.in[a], g.out[a],
                                                        g.scale[a], g.roi[a], g.roi[g.nd + a]),
                                         g.in[a]) != o)
                return false;
    }
    int64_t ow = g.out[g.nd - 1];
    return ow <= 8192 && g.in[g.nd - 1] <= INT32_MAX && g.total < ((int64_t)1 << 31);
}

template <typename T>
avf_status nearest_rows(cudaStream_t st, const void *x, void *y, const resize_geo &g) {
    constexpr int V = 16 / sizeof(T) > 0 ? (int)(16 / sizeof(T)) : 1;
    int64_t ow = g.out[g.nd - 1];
    uint32_t rows = (uint32_t)(g.total / ow);
    uint32_t upr = (uint32_t)((ow + V - 1) / V);
    int64_t units = (int64_t)rows * upr;
    unsigned blocks = (unsigned)((units + 255) / 256);
    if (blocks > 132u * 32u)
        blocks = 132u * 32u; /* grid-stride: keep the per-block column map amortised */
    size_t shm = (size_t)ow * sizeof(int32_t);
    bool vec = sizeof(T) * V == 16 && ow % V == 0 && ((uintptr_t)y & 15) == 0;
    if (vec)
        nearest_rows_kernel<T, V, true><<<blocks, 256, shm, st>>>((const T *)x, (T *)y, g, rows, upr);
    else
        nearest_rows_kernel<T, V, false><<<blocks, 256, shm, st>>>((const T *)x, (T *)y, g, rows, upr);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

/* Linear (K = 2) and cubic (K = 4): the K^k tap combinations of the k axes
 * that move, blended in f32. */
template <typename T, int K>
__global__ void interp_kernel(const T *__restrict__ x, T *__restrict__ y, resize_geo g) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rem = i, base = 0;
        int64_t d[AVF_MAX_DIMS][K]; /* tap offsets */
        float w[AVF_MAX_DIMS][K];
        int na = 0;
        bool out = false;
        for (int a = g.nd - 1; a >= 0 && !out; a--) {
            int64_t o = rem % g.out[a];
            rem /= g.out[a];
            int64_t idx[4];
            double wt[4];
            int n = avf_resize_taps(g.mode, g.coord, (double)o, g.in[a], g.out[a], g.scale[a],
                                    g.roi[a], g.roi[g.nd + a], g.cubic_a, g.exclude_outside,
                                    idx, wt);
            if (n == 0) {
                out = true;
                break;
            }
            /* an axis reading one tap with weight 1 adds no combinations */
            int single = -1;
            for (int k = 0; k < K; k++)
                if (wt[k] == 1.0) {
                    single = k;
                    for (int q = 0; q < K; q++)
                        if (q != k && wt[q] != 0.0)
                            single = -1;
                    break;
                }
            if (single >= 0) {
                base += idx[single] * g.istr[a];
            } else {
                for (int k = 0; k < K; k++) {
                    d[na][k] = idx[k] * g.istr[a];
                    w[na][k] = (float)wt[k];
                }
                na++;
            }
        }
        if (out) {
            y[i] = (T)g.ext;
            continue;
        }
        int combos = 1;
        for (int t = 0; t < na; t++)
            combos *= K;
        float acc = 0.0f;
        for (int c = 0; c < combos; c++) {
            int64_t off = base;
            float wc = 1.0f;
            int r = c;
            for (int t = 0; t < na; t++) {
                int k = r % K;
                r /= K;
                off += d[t][k];
                wc *= w[t][k];
            }
            if (wc != 0.0f)
                acc += wc * (float)x[off];
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
    if (g.total > 0 && nearest_rows_ok(g))
        return nearest_rows<T>(st, x, y, g);
    if (g.nd >= 2 && g.total > 0) {
        int64_t ow = g.out[g.nd - 1], oh = g.out[g.nd - 2];
        int64_t slices = g.total / (ow * oh);
        dim3 block(32, 8);
        dim3 grid((unsigned)((ow + 31) / 32), (unsigned)((oh + 7) / 8),
                  (unsigned)(slices > 65535 ? 65535 : slices));
        if (grid.x <= 65535u * 1024u && grid.y <= 65535u) {
            nearest2d_kernel<T><<<grid, block, 0, st>>>((const T *)x, (T *)y, g, slices);
            AVF_CUDA_TRY(cudaGetLastError());
            return AVF_OK;
        }
    }
    nearest_kernel<T><<<blocks_for(g.total), 256, 0, st>>>((const T *)x, (T *)y, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

template <typename T>
avf_status interp(cudaStream_t st, const void *x, void *y, const resize_geo &g) {
    if (g.mode == AVF_RESIZE_CUBIC)
        interp_kernel<T, 4><<<blocks_for(g.total), 256, 0, st>>>((const T *)x, (T *)y, g);
    else
        interp_kernel<T, 2><<<blocks_for(g.total), 256, 0, st>>>((const T *)x, (T *)y, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_resize(avf_op_ctx *ctx, const avf_resize_params *p,
                                      const avf_tensor *x, avf_tensor *y) {
    resize_geo g;
    g.nd = p->ndim;
    g.mode = (int)p->mode;
    g.coord = (int)p->coord;
    g.nearest = (int)p->nearest;
    g.exclude_outside = p->exclude_outside != 0;
    g.cubic_a = p->cubic_a;
    g.ext = (float)p->extrapolation;
    g.ext_bits = 0;
    for (int a = 0; a < 2 * p->ndim; a++)
        g.roi[a] = p->roi[a];
    if (x->dtype == AVF_DTYPE_F32) {
        memcpy(&g.ext_bits, &g.ext, 4);
    } else if (x->dtype == AVF_DTYPE_F16) {
        __half h = __float2half(g.ext);
        memcpy(&g.ext_bits, &h, 2);
    } else if (x->dtype == AVF_DTYPE_BF16) {
        __nv_bfloat16 h = __float2bfloat16(g.ext);
        memcpy(&g.ext_bits, &h, 2);
    }
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
        case AVF_DTYPE_F32: return interp<float>(st, x->data, y->data, g);
        case AVF_DTYPE_F16: return interp<__half>(st, x->data, y->data, g);
        case AVF_DTYPE_BF16: return interp<__nv_bfloat16>(st, x->data, y->data, g);
        default: break;
        }
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CUDA Resize: dtype %s", avf_dtype_name(x->dtype));
}
