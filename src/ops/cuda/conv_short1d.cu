/* 1-D convolution with few output positions (group 1), one warp per dot
 * product block, with FusedConv's epilogue act(y + B[c]) * post_mul +
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
 * Here the reduction runs over R = C_in * K (a filter row is contiguous in W,
 * so lanes read it coalesced): a warp owns one (n, x position) and kCo output
 * channels; each lane walks R with stride 32, loads the input tap once and
 * multiplies it into kCo accumulators (the weight rows come through L1/L2:
 * every warp of a block reads the same ones), then the warp sums them with
 * shuffles and lanes 0..kCo-1 write, bias and epilogue applied. */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/conv_cuda.h"

namespace {

constexpr int kCo = 8;     /* output channels per warp */
constexpr int kWarps = 8;  /* warps per block */

__device__ __forceinline__ float ld(const float *p, int64_t i) { return __ldg(p + i); }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half(v); }

struct s1_geo {
    int c_in, c_out, l, ol, k, s, d, p; /* channels, input/output length, taps, stride, dilation, pad */
    int r;                              /* c_in * k */
    int co_blocks;                      /* ceil(c_out / kCo) */
    int64_t warps;                      /* n * ol * co_blocks */
    avf_epilogue_params ep;
};

/* Warp w: co block = w % co_blocks (neighbouring warps share the input
 * window), then the output position, then the batch item. */
template <typename T>
__global__ void __launch_bounds__(32 * kWarps)
    short1d_kernel(const T *__restrict__ x, const T *__restrict__ wt, const T *__restrict__ bias,
                   T *__restrict__ y, s1_geo g) {
    int64_t warp = (int64_t)blockIdx.x * kWarps + threadIdx.y;
    if (warp >= g.warps)
        return;
    const int lane = threadIdx.x;
    int cb = (int)(warp % g.co_blocks);
    int64_t pos = warp / g.co_blocks;
    int ox = (int)(pos % g.ol);
    int64_t n = pos / g.ol;
    const int co0 = cb * kCo;
    const int nco = min(kCo, g.c_out - co0);
    const T *xn = x + n * (int64_t)g.c_in * g.l;
    const T *w0 = wt + (int64_t)co0 * g.r;
    const int ix0 = ox * g.s - g.p;
    float acc[kCo];
#pragma unroll
    for (int c = 0; c < kCo; c++)
        acc[c] = 0.0f;
    for (int j = lane; j < g.r; j += 32) {
        int ci = j / g.k, kk = j - ci * g.k;
        int ix = ix0 + kk * g.d;
        float xv = (ix >= 0 && ix < g.l) ? ld(xn, (int64_t)ci * g.l + ix) : 0.0f;
#pragma unroll
        for (int c = 0; c < kCo; c++)
            if (c < nco)
                acc[c] += xv * ld(w0, (int64_t)c * g.r + j);
    }
#pragma unroll
    for (int c = 0; c < kCo; c++)
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            acc[c] += __shfl_xor_sync(0xffffffffu, acc[c], off);
    /* every lane holds every sum now; lane c writes channel co0 + c */
    float v = 0.0f;
#pragma unroll
    for (int c = 0; c < kCo; c++)
        if (lane == c)
            v = acc[c];
    if (lane < nco) {
        int co = co0 + lane;
        if (bias)
            v += ld(bias, co);
        st(y, (n * g.c_out + co) * (int64_t)g.ol + ox,
           avf_act_eval(g.ep.act, g.ep.alpha, g.ep.beta, g.ep.post_mul, g.ep.post_add, v));
    }
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
    d.warps = g->n * (int64_t)d.ol * d.co_blocks;
    d.ep = ep ? *ep : avf_epilogue_params{AVF_ACT_NONE, 0.0f, 0.0f, 1.0f, 0.0f};
    int64_t blocks = (d.warps + kWarps - 1) / kWarps;
    if (blocks > 0x7fffffff)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "short 1-D conv: %lld warps are past the launch grid",
                        (long long)d.warps);
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    dim3 block(32, kWarps);
    if (x->dtype == AVF_DTYPE_F16)
        short1d_kernel<__half><<<(unsigned)blocks, block, 0, s>>>(
            (const __half *)x->data, (const __half *)w->data,
            b ? (const __half *)b->data : nullptr, (__half *)y->data, d);
    else
        short1d_kernel<float><<<(unsigned)blocks, block, 0, s>>>(
            (const float *)x->data, (const float *)w->data, b ? (const float *)b->data : nullptr,
            (float *)y->data, d);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}
