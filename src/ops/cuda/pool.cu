/* CUDA AveragePool / MaxPool: one thread per output element, the same
 * window rules as the CPU kernel (ops/cpu/pool.c), accumulated in f32
 * (max) or double-free f32 sums (average; windows are small). MaxPool's
 * Indices, when asked for, come from the tap that set the maximum. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <math.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/conv_cuda.h"

namespace {

struct pool_geo {
    int64_t nc;
    int64_t in[3], k[3], o[3], s[3], d[3], pb[3], pe[3];
    int is_max, include_pad, storage_order;
};

template <typename T>
__global__ void pool_kernel(const T *__restrict__ x, T *__restrict__ y,
                            long long *__restrict__ ind, pool_geo g) {
    int64_t ovol = g.o[0] * g.o[1] * g.o[2], ivol = g.in[0] * g.in[1] * g.in[2];
    int64_t total = g.nc * ovol;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = i / ovol, j = i % ovol;
        int64_t o0 = j / (g.o[1] * g.o[2]), o1 = (j / g.o[2]) % g.o[1], o2 = j % g.o[2];
        const T *xp = x + p * ivol;
        float acc = g.is_max ? -INFINITY : 0.0f;
        int64_t count = 0, padded = 0, best = -1;
        for (int64_t t0 = 0; t0 < g.k[0]; t0++) {
            int64_t i0 = o0 * g.s[0] - g.pb[0] + t0 * g.d[0];
            if (i0 >= g.in[0] + g.pe[0])
                break;
            for (int64_t t1 = 0; t1 < g.k[1]; t1++) {
                int64_t i1 = o1 * g.s[1] - g.pb[1] + t1 * g.d[1];
                if (i1 >= g.in[1] + g.pe[1])
                    break;
                for (int64_t t2 = 0; t2 < g.k[2]; t2++) {
                    int64_t i2 = o2 * g.s[2] - g.pb[2] + t2 * g.d[2];
                    if (i2 >= g.in[2] + g.pe[2])
                        break;
                    padded++;
                    if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= g.in[0] || i1 >= g.in[1] ||
                        i2 >= g.in[2])
                        continue;
                    float v = (float)xp[(i0 * g.in[1] + i1) * g.in[2] + i2];
                    count++;
                    if (g.is_max) {
                        if (v > acc || isnan(v) || best < 0) {
                            acc = v;
                            best = avf_pool_flat_index(g.storage_order, g.in, i0, i1, i2);
                        }
                    } else {
                        acc += v;
                    }
                }
            }
        }
        if (!g.is_max) {
            int64_t div = g.include_pad ? padded : count;
            acc = div > 0 ? acc / (float)div : 0.0f;
        } else if (acc == -INFINITY && sizeof(T) == 1) {
            acc = 0.0f; /* window wholly in the padding; keep integer casts defined */
        }
        y[i] = (T)acc;
        if (ind)
            ind[i] = best < 0 ? -1 : p * ivol + best;
    }
}

template <typename T>
avf_status launch(cudaStream_t st, const void *x, void *y, long long *ind, const pool_geo &g) {
    int64_t total = g.nc * g.o[0] * g.o[1] * g.o[2];
    int64_t blocks = (total + 255) / 256;
    if (blocks > (1 << 20))
        blocks = 1 << 20;
    pool_kernel<T><<<(unsigned)blocks, 256, 0, st>>>((const T *)x, (T *)y, ind, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_pool(avf_op_ctx *ctx, const avf_pool_params *p,
                                    const avf_conv_geom *cg, const avf_tensor *x, avf_tensor *y,
                                    avf_tensor *ind) {
    pool_geo g;
    g.nc = cg->n * cg->c_in;
    for (int i = 0; i < 3; i++) {
        g.in[i] = cg->in[i];
        g.k[i] = cg->k[i];
        g.o[i] = cg->out[i];
        g.s[i] = cg->stride[i];
        g.d[i] = cg->dil[i];
        g.pb[i] = cg->pad_b[i];
        g.pe[i] = cg->pad_e[i];
    }
    g.is_max = p->kind == AVF_POOL_MAX;
    g.include_pad = p->count_include_pad != 0;
    g.storage_order = p->storage_order != 0;
    long long *ip = ind ? (long long *)ind->data : NULL;
    cudaStream_t st = (cudaStream_t)avf_stream_native(ctx->stream);
    switch (x->dtype) {
    case AVF_DTYPE_F32: return launch<float>(st, x->data, y->data, ip, g);
    case AVF_DTYPE_F16: return launch<__half>(st, x->data, y->data, ip, g);
    case AVF_DTYPE_BF16: return launch<__nv_bfloat16>(st, x->data, y->data, ip, g);
    case AVF_DTYPE_I8: return launch<int8_t>(st, x->data, y->data, ip, g);
    case AVF_DTYPE_U8: return launch<uint8_t>(st, x->data, y->data, ip, g);
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CUDA pool: dtype %s", avf_dtype_name(x->dtype));
    }
}
