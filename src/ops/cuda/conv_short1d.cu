/* 1-D convolution with few output positions (group 1) as tiles of dot
 * products, with FusedConv's epilogue act(y + B[c]) * post_mul +
 * post_add in the same pass.
 *
 * Why not cuDNN: Silero VAD runs six 1-D convolutions on 4, 2 or 1 output
 * positions (its STFT as a 258-filter bank of 256 taps at stride 128, then
 * 129->128->64->64->128 channels of 3 taps, then 128->1 of one tap). A
 * kernel trace at batch 256 on an H200 (bench/results/gpu-h200-2026-12-03-
 * a4b897c.txt) had cuDNN's implicit-GEMM kernels at about 10 us each for the
 * encoder and its fallback implicit_convolve_sgemm at 16-27 us for the filter
 * bank, for 50-70 M multiply-adds each: tiles sized for long outputs, mostly
 * idle here, and the ReLU/Sigmoid as a second pass.
 *
 * Here each output is a dot product over R = C_in * K (a filter row is
 * contiguous in W). A tile of 4 output positions x 8 output channels is
 * one warp's (lanes stride over R, 32 accumulators each, summed by a
 * butterfly of shuffles) or, when there are too few tiles to fill the GPU
 * (batch 1), one block's (its 256 threads stride over R). Every step loads
 * 8 weights and 4 inputs for 32 products. On the H200: one position per
 * warp (weights re-read for every output) ran 12 us per call at batch 1 and
 * 31 us at 256, slower than cuDNN; 8 x 8 tiles (64 accumulators, 140
 * registers, one block per SM) 3.4 us at batch 1 but 26 us for the big
 * layers at 256, latency-bound at that occupancy; these 4 x 8 tiles, 3
 * blocks per SM, 2.2-3.0 us at batch 1 and, at 256, 19.5 us for the STFT and
 * 15.5 for the first encoder layer (bench/results/gpu-h200-2026-12-04-
 * 11a2996.txt; an im2col + cuBLAS form of those two measured there was no
 * faster per call: 5 more launches). */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/ldst.cuh"
#include "ops/cuda/conv_cuda.h"

namespace {

constexpr int kCo = 8;    /* output channels per tile */
constexpr int kPos = 4;   /* output positions (n, x) per tile: kPos * kCo == 32 */
constexpr int kWarps = 8; /* warps per block */

using avf_ldst::ld;
using avf_ldst::st;

struct s1_geo {
    int c_in, c_out, l, ol, k, s, d, p; /* channels, input/output length, taps, stride, dilation, pad */
    int r;                              /* c_in * k */
    int co_blocks;                      /* ceil(c_out / kCo) */
    int64_t positions;                  /* n * ol */
    int64_t pos_groups;                 /* ceil(positions / kPos) */
    int64_t tiles;                      /* pos_groups * co_blocks */
    avf_epilogue_params ep;
};

/* Sums acc[0..31] over the 32 lanes of a warp in 31 shuffles: a butterfly
 * that halves the values each step (the lane with the step's bit set keeps
 * the upper half), after which lane i holds the sum of entry i. The steps
 * are template instances: with a loop over them nvcc kept acc in local
 * memory. */
template <int kHalf>
__device__ __forceinline__ void butterfly_step(float (&acc)[32], int lane) {
    const bool upper = lane & kHalf;
#pragma unroll
    for (int i = 0; i < kHalf; i++) {
        float send = upper ? acc[i] : acc[i + kHalf];
        float keep = upper ? acc[i + kHalf] : acc[i];
        acc[i] = keep + __shfl_xor_sync(0xffffffffu, send, kHalf);
    }
}
__device__ __forceinline__ float warp_reduce32(float (&acc)[32], int lane) {
    butterfly_step<16>(acc, lane);
    butterfly_step<8>(acc, lane);
    butterfly_step<4>(acc, lane);
    butterfly_step<2>(acc, lane);
    butterfly_step<1>(acc, lane);
    return acc[0];
}

/* One tile = kPos output positions x kCo output channels, each a dot
 * product over j < R = C_in * K (j = ci * K + kk: a weight row is
 * contiguous). kSplit == false: a warp per tile, lanes stride over R.
 * kSplit == true (few tiles, e.g. batch 1): a block per tile, its 256
 * threads stride over R, the warps' sums added through shared memory, so
 * that the latency of a long serial loop is not the kernel's time. Each
 * step loads kCo weights and kPos inputs and makes 32 products: weights are
 * read once per kPos positions, not once per output. kTaps > 0: K is that
 * (the division of j by it a multiply); kTaps == -1: C_in is 1 (j is the
 * tap); 0: K read at run time. Offsets are 32-bit (avf_cuda_conv_short1d_ok
 * bounds the sizes): 64-bit index math was a good part of the loop. */
template <typename T, bool kSplit, int kTaps>
__global__ void __launch_bounds__(32 * kWarps, 3) /* 3 blocks per SM: latency-bound */
    short1d_kernel(const T *__restrict__ x, const T *__restrict__ wt, const T *__restrict__ bias,
                   T *__restrict__ y, s1_geo g) {
    const int lane = threadIdx.x, warp_in_block = threadIdx.y;
    int64_t tile = kSplit ? (int64_t)blockIdx.x : (int64_t)blockIdx.x * kWarps + warp_in_block;
    if (tile >= g.tiles)
        return; /* kSplit: the whole block leaves together */
    /* consecutive tiles: consecutive position groups of one channel block,
     * so a block's warps share their weight rows in L1 */
    int64_t pg = tile % g.pos_groups;
    const int co0 = (int)(tile / g.pos_groups) * kCo;
    const int nco = min(kCo, g.c_out - co0);
    const int64_t pos0 = pg * kPos;
    int xoff[kPos];
    int ix0[kPos];
#pragma unroll
    for (int q = 0; q < kPos; q++) {
        int64_t pos = pos0 + q;
        if (pos < g.positions) {
            int64_t n = pos / g.ol;
            int ox = (int)(pos - n * g.ol);
            xoff[q] = (int)n * g.c_in * g.l;
            ix0[q] = ox * g.s - g.p;
        } else {
            xoff[q] = 0;
            ix0[q] = -(1 << 30); /* every tap out of range: contributes 0 */
        }
    }
    const T *w0 = wt + co0 * g.r;
    float acc[kPos * kCo];
#pragma unroll
    for (int i = 0; i < kPos * kCo; i++)
        acc[i] = 0.0f;
    const int t0 = kSplit ? warp_in_block * 32 + lane : lane;
    const int step = kSplit ? 32 * kWarps : 32;
#pragma unroll 2
    for (int j = t0; j < g.r; j += step) {
        const int k = kTaps > 0 ? kTaps : g.k;
        const int ci = kTaps == -1 ? 0 : j / k, kk = kTaps == -1 ? j : j - ci * k;
        const int tap = kk * g.d, xrow = ci * g.l;
        float wv[kCo], xv[kPos];
#pragma unroll
        for (int c = 0; c < kCo; c++)
            wv[c] = c < nco ? ld(w0, c * g.r + j) : 0.0f;
#pragma unroll
        for (int q = 0; q < kPos; q++) {
            int ix = ix0[q] + tap;
            xv[q] = (ix >= 0 && ix < g.l) ? ld(x, xoff[q] + xrow + ix) : 0.0f;
        }
#pragma unroll
        for (int q = 0; q < kPos; q++)
#pragma unroll
            for (int c = 0; c < kCo; c++)
                acc[q * kCo + c] += xv[q] * wv[c];
    }
    float v = warp_reduce32(acc, lane); /* output lane: position lane / kCo, channel lane % kCo */
    if (kSplit) {
        __shared__ float part[kWarps][32];
        part[warp_in_block][lane] = v;
        __syncthreads();
        if (warp_in_block != 0)
            return;
        v = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; w++)
            v += part[w][lane];
    }
    const int q = lane / kCo, c = lane % kCo;
    const int64_t pos = pos0 + q;
    if (pos < g.positions && c < nco) {
        const int co = co0 + c;
        const int64_t n = pos / g.ol;
        const int ox = (int)(pos - n * g.ol);
        if (bias)
            v += ld(bias, co);
        st(y, (n * g.c_out + co) * (int64_t)g.ol + ox,
           avf_act_eval(g.ep.act, g.ep.alpha, g.ep.beta, g.ep.post_mul, g.ep.post_add, v));
    }
}

template <typename T>
avf_status launch(cudaStream_t s, const T *x, const T *w, const T *b, T *y, const s1_geo &g) {
    dim3 block(32, kWarps);
    /* Fewer tiles than about 8 warps per SM on an H200 (132 SMs): split each
     * tile's reduction over a whole block instead. */
    const bool split = g.tiles < 132 * 8;
    int64_t blocks = split ? g.tiles : (g.tiles + kWarps - 1) / kWarps;
    if (blocks > 0x7fffffff)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "short 1-D conv: %lld tiles are past the launch grid",
                        (long long)g.tiles);
    const int taps = g.c_in == 1 ? -1 : g.k == 1 ? 1 : g.k == 3 ? 3 : 0;
#define AVF_S1_LAUNCH(SPLIT, TAPS) \
    short1d_kernel<T, SPLIT, TAPS><<<(unsigned)blocks, block, 0, s>>>(x, w, b, y, g)
    if (split) {
        if (taps == -1)
            AVF_S1_LAUNCH(true, -1);
        else if (taps == 1)
            AVF_S1_LAUNCH(true, 1);
        else if (taps == 3)
            AVF_S1_LAUNCH(true, 3);
        else
            AVF_S1_LAUNCH(true, 0);
    } else {
        if (taps == -1)
            AVF_S1_LAUNCH(false, -1);
        else if (taps == 1)
            AVF_S1_LAUNCH(false, 1);
        else if (taps == 3)
            AVF_S1_LAUNCH(false, 3);
        else
            AVF_S1_LAUNCH(false, 0);
    }
#undef AVF_S1_LAUNCH
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

/* A 1-D group-1 convolution (also a 2-D one whose H is 1 everywhere) with at
 * most 64 output positions and a reduction of at most 16 Ki taps: the shapes
 * of Silero VAD, where this kernel replaces cuDNN (the header comment says
 * why). Longer outputs stay on cuDNN, whose tiles then fill. */
extern "C" int avf_cuda_conv_short1d_ok(const avf_conv_geom *g, avf_dtype dt) {
    (void)dt;
    const int W = AVF_CONV_MAX_SP - 1;
    if (g->nsp < 1 || g->nsp > 2 || g->group != 1)
        return 0;
    for (int i = 0; i < W; i++) /* leading dims (1-D: H too) must be trivial */
        if (g->in[i] != 1 || g->k[i] != 1 || g->out[i] != 1 || g->pad_b[i] != 0)
            return 0;
    if (g->out[W] < 1 || g->out[W] > 64 || g->k[W] < 1 || g->in[W] > (1 << 24) ||
        g->stride[W] < 1 || g->stride[W] > 4096 || g->dil[W] < 1 || g->dil[W] > 4096 ||
        g->pad_b[W] < 0 || g->pad_b[W] > 4096)
        return 0;
    if (g->c_in < 1 || g->c_out < 1 || g->c_out > (1 << 20) || g->c_in * g->k[W] > (16 << 10) ||
        g->n < 1 || g->n > (1 << 24))
        return 0;
    /* 32-bit offsets in the kernel: X, W and Y under 2^31 elements */
    if (g->n * g->c_in * g->in[W] >= ((int64_t)1 << 31) ||
        g->c_out * g->c_in * g->k[W] >= ((int64_t)1 << 31) ||
        g->n * g->c_out * g->out[W] >= ((int64_t)1 << 31))
        return 0;
    /* the last tap's position fits the kernel's int math */
    if ((g->out[W] - 1) * g->stride[W] + (g->k[W] - 1) * g->dil[W] > (1 << 24))
        return 0;
    return 1;
}

extern "C" avf_status avf_cuda_conv_short1d(avf_op_ctx *ctx, const avf_conv_geom *g,
                                            const avf_tensor *x, const avf_tensor *w,
                                            const avf_tensor *b, const avf_epilogue_params *ep,
                                            avf_tensor *y) {
    if (!avf_cuda_conv_short1d_ok(g, x->dtype))
        return AVF_FAIL(AVF_ERR_INTERNAL, "short 1-D conv: geometry not supported");
    const int W = AVF_CONV_MAX_SP - 1;
    s1_geo d;
    d.c_in = (int)g->c_in;
    d.c_out = (int)g->c_out;
    d.l = (int)g->in[W];
    d.ol = (int)g->out[W];
    d.k = (int)g->k[W];
    d.s = (int)g->stride[W];
    d.d = (int)g->dil[W];
    d.p = (int)g->pad_b[W];
    d.r = d.c_in * d.k;
    d.co_blocks = (d.c_out + kCo - 1) / kCo;
    d.positions = g->n * (int64_t)d.ol;
    d.pos_groups = (d.positions + kPos - 1) / kPos;
    d.tiles = d.pos_groups * d.co_blocks;
    d.ep = ep ? *ep : avf_epilogue_params{AVF_ACT_NONE, 0.0f, 0.0f, 1.0f, 0.0f};
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    if (x->dtype == AVF_DTYPE_F16)
        return launch<__half>(s, (const __half *)x->data, (const __half *)w->data,
                              b ? (const __half *)b->data : nullptr, (__half *)y->data, d);
    return launch<float>(s, (const float *)x->data, (const float *)w->data,
                         b ? (const float *)b->data : nullptr, (float *)y->data, d);
}
