/* Depthwise convolution (group == C_in == C_out, one filter per channel) on
 * NCHW, with FusedConv's epilogue act(y + B[c]) * post_mul + post_add in the
 * same pass.
 *
 * Why not cuDNN: for depthwise layers its fastest algorithms run in NHWC, so
 * each call is a transpose in, the kernel, a transpose out, and then our
 * epilogue reads and writes the output once more. A trace of the OCR
 * classifier at batch 256 fp16 (bench/results/engine-h200-2026-12-02-1c44fca)
 * put those depthwise layers, their transposes and epilogues at about 1 ms of
 * its 2.3 ms. They are memory-bound (at most 49 multiply-adds per output):
 * one thread per output, the input window read through L1 (neighbouring
 * threads share it), weights and bias broadcast within a warp, f32
 * accumulation, one write. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/ldst.cuh"
#include "ops/cuda/conv_cuda.h"

namespace {

using avf_ldst::ld;
using avf_ldst::st;

struct dw_geo {
    int c, h, w, oh, ow;      /* channels, input and output rows/columns */
    int kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t rows;             /* n * c * oh */
    avf_epilogue_params ep;
};

/* x: (N*C, H, W); y: (N*C, OH, OW). A block is 32 columns x 8 rows of the
 * output (a row = one (n, c, oh)); blockIdx.y walks the columns. K > 0 fixes
 * the kernel size at compile time (the loops unroll), K == 0 reads it. */
template <typename T, int K>
__global__ void dw_kernel(const T *__restrict__ x, const T *__restrict__ wt,
                          const T *__restrict__ bias, T *__restrict__ y, dw_geo g) {
    int64_t row = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
    int ox = blockIdx.y * blockDim.x + threadIdx.x;
    if (row >= g.rows || ox >= g.ow)
        return;
    const int kh = K ? K : g.kh, kw = K ? K : g.kw; /* constants when K > 0: loops unroll */
    int64_t nc;
    int oy, c;
    if (g.rows <= 0x7fffffff) { /* 32-bit division: 64-bit is a long software sequence */
        unsigned r = (unsigned)row, q = r / (unsigned)g.oh;
        nc = q;
        oy = (int)(r - q * (unsigned)g.oh);
        c = (int)(q % (unsigned)g.c);
    } else {
        nc = row / g.oh;
        oy = (int)(row - nc * g.oh);
        c = (int)(nc % g.c);
    }
    const T *xp = x + nc * (int64_t)g.h * g.w;
    const T *wp = wt + (int64_t)c * kh * kw;
    int iy0 = oy * g.sh - g.ph, ix0 = ox * g.sw - g.pw;
    float acc = 0.0f;
#pragma unroll
    for (int i = 0; i < kh; i++) {
        int iy = iy0 + i * g.dh;
        if (iy < 0 || iy >= g.h)
            continue;
        const T *xr = xp + (int64_t)iy * g.w;
#pragma unroll
        for (int j = 0; j < kw; j++) {
            int ix = ix0 + j * g.dw;
            if (ix >= 0 && ix < g.w)
                acc += ld(xr, ix) * ld(wp, i * kw + j);
        }
    }
    if (bias)
        acc += ld(bias, c);
    st(y, row * g.ow + ox,
       avf_act_eval(g.ep.act, g.ep.alpha, g.ep.beta, g.ep.post_mul, g.ep.post_add, acc));
}

template <typename T>
avf_status launch(cudaStream_t s, const T *x, const T *w, const T *b, T *y, const dw_geo &g) {
    dim3 block(32, 8);
    int64_t gx = (g.rows + block.y - 1) / block.y;
    unsigned gy = (unsigned)((g.ow + block.x - 1) / block.x);
    if (gx > 0x7fffffff || gy > 65535)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "depthwise conv: output of %lld rows x %d columns "
                        "is past the launch grid", (long long)g.rows, g.ow);
    dim3 grid((unsigned)gx, gy);
    if (g.kh == 3 && g.kw == 3)
        dw_kernel<T, 3><<<grid, block, 0, s>>>(x, w, b, y, g);
    else if (g.kh == 5 && g.kw == 5)
        dw_kernel<T, 5><<<grid, block, 0, s>>>(x, w, b, y, g);
    else
        dw_kernel<T, 0><<<grid, block, 0, s>>>(x, w, b, y, g);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

/* 1-D and 2-D, one filter per channel; spatial sizes, kernel, strides,
 * dilations and pads small enough for the kernel's 32-bit index math (sizes
 * to 2^24, strides and dilations to 64), at most 16 x 16 taps (past that the
 * direct loop loses to cuDNN's GEMM). */
extern "C" int avf_cuda_conv_dw_ok(const avf_conv_geom *g, avf_dtype dt) {
    if (g->nsp < 1 || g->nsp > 2 || g->group < 2 || g->c_in != g->group ||
        g->c_out != g->group)
        return 0;
    /* geom dims are right-aligned; those of a 1-D conv's H are 1 (and 0 pads) */
    for (int i = AVF_CONV_MAX_SP - 2; i < AVF_CONV_MAX_SP; i++)
        if (g->k[i] < 1 || g->k[i] > 16 || g->in[i] < 1 || g->in[i] > (1 << 24) ||
            g->out[i] > (1 << 24) || g->stride[i] < 1 || g->stride[i] > 64 || g->dil[i] < 1 ||
            g->dil[i] > 64 || g->pad_b[i] < 0 || g->pad_b[i] > 4096)
            return 0;
    if (g->c_in > (1 << 24) || g->n > (1 << 24))
        return 0;
    /* Measured on an H200 against the cuDNN-only run of the day before
     * (bench/results/gpu-h200-2026-12-03-2052fc9.txt vs
     * engine-h200-2026-12-02-928b8a9.txt), with every depthwise layer here:
     * f32 faster or level everywhere (cls b256 3.09 -> 2.67 ms, rec b256
     * 25.1 -> 24.3, det b32 20.9 -> 21.2); f16 faster at batch 1 and for the
     * classifier (b256 2.30 -> 1.89 ms, layers up to 9.8 M outputs), slower
     * for the big f16 layers (rec b256 11.0 -> 14.4 ms, layers of 15-63 M
     * outputs; det b32 8.4 -> 9.4, some of 20-52 M): there cuDNN's f16 NHWC
     * kernel wins despite its transposes, and this kernel's 2-byte loads, 9
     * or 25 per output, bound it. So f16 layers over 10 Mi outputs go to
     * cuDNN. Measured with the split (gpu-h200-2026-12-03-a4b897c): rec b256
     * f16 back to 11.04 ms, det b32 f16 9.37 ms (not back to 8.4: some of
     * its layers under the cut still lose). */
    int64_t outputs = g->n * g->c_out * g->out[AVF_CONV_MAX_SP - 2] * g->out[AVF_CONV_MAX_SP - 1];
    if (dt == AVF_DTYPE_F16 && outputs > ((int64_t)10 << 20))
        return 0;
    return 1;
}

extern "C" avf_status avf_cuda_conv_dw(avf_op_ctx *ctx, const avf_conv_geom *g,
                                       const avf_tensor *x, const avf_tensor *w,
                                       const avf_tensor *b, const avf_epilogue_params *ep,
                                       avf_tensor *y) {
    if (!avf_cuda_conv_dw_ok(g, x->dtype))
        return AVF_FAIL(AVF_ERR_INTERNAL, "depthwise conv: geometry not supported");
    const int H = AVF_CONV_MAX_SP - 2, W = AVF_CONV_MAX_SP - 1; /* 1-D: H is 1 */
    dw_geo d;
    d.c = (int)g->c_in;
    d.h = (int)g->in[H];
    d.w = (int)g->in[W];
    d.oh = (int)g->out[H];
    d.ow = (int)g->out[W];
    d.kh = (int)g->k[H];
    d.kw = (int)g->k[W];
    d.sh = (int)g->stride[H];
    d.sw = (int)g->stride[W];
    d.dh = (int)g->dil[H];
    d.dw = (int)g->dil[W];
    d.ph = (int)g->pad_b[H];
    d.pw = (int)g->pad_b[W];
    d.rows = g->n * g->c_in * g->out[H];
    if (ep)
        d.ep = *ep;
    else
        d.ep = avf_epilogue_params{AVF_ACT_NONE, 0.0f, 0.0f, 1.0f, 0.0f};
    if (d.rows == 0 || d.ow == 0)
        return AVF_OK;
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    if (x->dtype == AVF_DTYPE_F16)
        return launch<__half>(s, (const __half *)x->data, (const __half *)w->data,
                              b ? (const __half *)b->data : nullptr, (__half *)y->data, d);
    return launch<float>(s, (const float *)x->data, (const float *)w->data,
                         b ? (const float *)b->data : nullptr, (float *)y->data, d);
}
