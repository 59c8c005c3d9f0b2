/* CUDA Conv and ConvTranspose through cuDNN's legacy convolution API.
 *
 * Algorithm choice: cudnnGetConvolution*Algorithm_v7 heuristics, never the
 * *Find* functions (they cudaMalloc and time kernels). The choice is cached
 * in a small process-wide table keyed by device, dtype, math mode and the
 * full geometry, protected by a mutex (contexts on many threads share it);
 * entries are replaced round-robin when it fills. The workspace comes from
 * ctx->pool and is freed stream-ordered.
 *
 * Math: f32 with ctx->allow_tf32 == 0 runs with CUDNN_FMA_MATH (no TF32; on
 * Ampere+ CUDNN_DEFAULT_MATH may use TF32); with allow_tf32 the heuristics'
 * math type (tensor ops) is used. f16 computes in f32 (pseudo-half) with
 * tensor-op math.
 *
 * Geometry cuDNN cannot express:
 *   Conv with asymmetric pads: X is zero-padded explicitly into scratch and
 *   the convolution runs unpadded.
 *   ConvTranspose with asymmetric pads, output_padding or output_shape: the
 *   full unpadded output is computed into scratch and cropped (plus bias).
 * 1-D convolutions run as 2-D with a unit height.
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <limits.h>
#include <mutex>
#include <string.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/conv_cuda.h"
#include "ops/cuda/libs.h"

namespace {

const size_t kMaxWorkspace = size_t(1) << 30; /* never ask the pool for more */
const int kThreads = 256;

unsigned grid_for(int64_t n) {
    int64_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

/* ---------------------------------------------------------------- cache */

struct algo_key {
    int dev, dtype, tf32, dir, nsd;
    int64_t v[22]; /* n, c_in, c_out, group, then per dim: x, k, y, pad, stride, dil */
};

struct algo_entry {
    int used;
    algo_key key;
    int algo;
    cudnnMathType_t math;
};

std::mutex g_cache_mu;
algo_entry g_cache[128];
int g_cache_next;

bool cache_get(const algo_key &k, int *algo, cudnnMathType_t *math) {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    for (auto &e : g_cache)
        if (e.used && memcmp(&e.key, &k, sizeof k) == 0) {
            *algo = e.algo;
            *math = e.math;
            return true;
        }
    return false;
}

void cache_put(const algo_key &k, int algo, cudnnMathType_t math) {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    algo_entry &e = g_cache[g_cache_next];
    g_cache_next = (g_cache_next + 1) % (int)(sizeof g_cache / sizeof g_cache[0]);
    e.used = 1;
    e.key = k;
    e.algo = algo;
    e.math = math;
}

/* ---------------------------------------------------------------- descriptors */

struct descs {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t c = nullptr;
    ~descs() {
        if (x) cudnnDestroyTensorDescriptor(x);
        if (y) cudnnDestroyTensorDescriptor(y);
        if (b) cudnnDestroyTensorDescriptor(b);
        if (w) cudnnDestroyFilterDescriptor(w);
        if (c) cudnnDestroyConvolutionDescriptor(c);
    }
};

avf_status to_int(int64_t v, int *out) {
    if (v < INT_MIN || v > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "cuDNN convolution: size %lld exceeds int",
                        (long long)v);
    *out = (int)v;
    return AVF_OK;
}

/* A packed NC<spatial> tensor descriptor of nsd spatial dims taken from the
 * last nsd entries of sp[3]. */
avf_status set_tensor(cudnnTensorDescriptor_t d, cudnnDataType_t dt, int64_t n, int64_t c,
                      const int64_t *sp, int nsd) {
    int dims[5], strides[5];
    AVF_TRY(to_int(n, &dims[0]));
    AVF_TRY(to_int(c, &dims[1]));
    for (int i = 0; i < nsd; i++)
        AVF_TRY(to_int(sp[3 - nsd + i], &dims[2 + i]));
    int64_t s = 1;
    for (int i = nsd + 1; i >= 0; i--) {
        AVF_TRY(to_int(s, &strides[i]));
        s *= dims[i];
    }
    AVF_CUDNN_TRY(cudnnSetTensorNdDescriptor(d, dt, nsd + 2, dims, strides));
    return AVF_OK;
}

avf_status set_filter(cudnnFilterDescriptor_t d, cudnnDataType_t dt, int64_t k, int64_t c,
                      const int64_t *sp, int nsd) {
    int dims[5];
    AVF_TRY(to_int(k, &dims[0]));
    AVF_TRY(to_int(c, &dims[1]));
    for (int i = 0; i < nsd; i++)
        AVF_TRY(to_int(sp[3 - nsd + i], &dims[2 + i]));
    AVF_CUDNN_TRY(cudnnSetFilterNdDescriptor(d, dt, CUDNN_TENSOR_NCHW, nsd + 2, dims));
    return AVF_OK;
}

avf_status set_conv(cudnnConvolutionDescriptor_t d, const avf_conv_geom *g, const int64_t *pads,
                    int nsd, cudnnDataType_t compute) {
    int pad[3], str[3], dil[3];
    for (int i = 0; i < nsd; i++) {
        int j = 3 - nsd + i;
        AVF_TRY(to_int(pads[j], &pad[i]));
        AVF_TRY(to_int(g->stride[j], &str[i]));
        AVF_TRY(to_int(g->dil[j], &dil[i]));
    }
    AVF_CUDNN_TRY(cudnnSetConvolutionNdDescriptor(d, nsd, pad, str, dil, CUDNN_CROSS_CORRELATION,
                                                  compute));
    int grp;
    AVF_TRY(to_int(g->group, &grp));
    AVF_CUDNN_TRY(cudnnSetConvolutionGroupCount(d, grp));
    return AVF_OK;
}

void fill_key(algo_key *k, avf_op_ctx *ctx, const avf_tensor *x, int dir, int nsd,
              const avf_conv_geom *g, const int64_t *pads, const int64_t *xsp,
              const int64_t *ysp) {
    memset(k, 0, sizeof *k); /* padding bytes too: keys are compared with memcmp */
    k->dev = avf_device_get_index(ctx->dev);
    k->dtype = (int)x->dtype;
    k->tf32 = ctx->allow_tf32 != 0;
    k->dir = dir;
    k->nsd = nsd;
    int64_t *v = k->v;
    *v++ = g->n;
    *v++ = g->c_in;
    *v++ = g->c_out;
    *v++ = g->group;
    for (int i = 0; i < 3; i++) {
        *v++ = xsp[i];
        *v++ = g->k[i];
        *v++ = ysp[i];
        *v++ = pads[i];
        *v++ = g->stride[i];
        *v++ = g->dil[i];
    }
}

cudnnMathType_t base_math(avf_op_ctx *ctx, const avf_tensor *x) {
    if (x->dtype == AVF_DTYPE_F16)
        return CUDNN_TENSOR_OP_MATH;
    return ctx->allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
}

/* Whether a heuristic result may be used under the context's precision. */
bool math_ok(avf_op_ctx *ctx, const avf_tensor *x, cudnnMathType_t m) {
    if (x->dtype == AVF_DTYPE_F16 || ctx->allow_tf32)
        return true;
    return m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH;
}

/* ---------------------------------------------------------------- kernels */

/* dst (N, C, out sp) = src shifted by `off` per spatial dim (dst index o
 * reads src o + off), zero outside src; plus bias[c] when given. Used for
 * the explicit padding of Conv (off = -pad_b) and the crop of ConvTranspose
 * (off = pad_b, with bias). */
template <typename T>
__global__ void shift_kernel(const T *__restrict__ src, T *__restrict__ dst, const T *bias,
                             int64_t nc, int64_t c, int64_t s0, int64_t s1, int64_t s2,
                             int64_t d0, int64_t d1, int64_t d2, int64_t o0, int64_t o1,
                             int64_t o2) {
    int64_t total = nc * d0 * d1 * d2;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t w = i % d2, h = (i / d2) % d1, d = (i / (d1 * d2)) % d0, p = i / (d0 * d1 * d2);
        int64_t sd = d + o0, sh = h + o1, sw = w + o2;
        float v = 0.0f;
        if (sd >= 0 && sd < s0 && sh >= 0 && sh < s1 && sw >= 0 && sw < s2)
            v = (float)src[((p * s0 + sd) * s1 + sh) * s2 + sw];
        if (bias)
            v += (float)bias[p % c];
        dst[i] = (T)v;
    }
}

template <typename T>
avf_status launch_shift(cudaStream_t st, const void *src, void *dst, const void *bias, int64_t nc,
                        int64_t c, const int64_t *s, const int64_t *d, const int64_t *off) {
    int64_t total = nc * d[0] * d[1] * d[2];
    shift_kernel<T><<<grid_for(total), kThreads, 0, st>>>(
        (const T *)src, (T *)dst, (const T *)bias, nc, c, s[0], s[1], s[2], d[0], d[1], d[2],
        off[0], off[1], off[2]);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

avf_status shift(cudaStream_t st, avf_dtype dt, const void *src, void *dst, const void *bias,
                 int64_t nc, int64_t c, const int64_t *s, const int64_t *d, const int64_t *off) {
    if (dt == AVF_DTYPE_F16)
        return launch_shift<__half>(st, src, dst, bias, nc, c, s, d, off);
    return launch_shift<float>(st, src, dst, bias, nc, c, s, d, off);
}

/* Scratch from the pool, freed stream-ordered by the destructor. */
struct scratch {
    avf_op_ctx *ctx;
    void *p = nullptr;
    explicit scratch(avf_op_ctx *c) : ctx(c) {}
    avf_status alloc(size_t bytes) { return avf_pool_alloc(ctx->pool, bytes, ctx->stream, &p); }
    ~scratch() {
        if (p)
            avf_pool_free(ctx->pool, p, ctx->stream);
    }
};

/* ---------------------------------------------------------------- forward */

avf_status conv_forward(avf_op_ctx *ctx, cudnnHandle_t h, const avf_conv_geom *g,
                        const avf_tensor *x, const void *xdata, const int64_t *xsp,
                        const int64_t *pads, const avf_tensor *w, const avf_tensor *b,
                        avf_tensor *y) {
    int nsd = g->nsp == 3 ? 3 : 2;
    cudnnDataType_t dt = x->dtype == AVF_DTYPE_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    descs d;
    AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.x));
    AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.y));
    AVF_CUDNN_TRY(cudnnCreateFilterDescriptor(&d.w));
    AVF_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&d.c));
    AVF_TRY(set_tensor(d.x, dt, g->n, g->c_in, xsp, nsd));
    AVF_TRY(set_tensor(d.y, dt, g->n, g->c_out, g->out, nsd));
    AVF_TRY(set_filter(d.w, dt, g->c_out, g->c_in / g->group, g->k, nsd));
    AVF_TRY(set_conv(d.c, g, pads, nsd, CUDNN_DATA_FLOAT));
    cudnnMathType_t math = base_math(ctx, x);
    AVF_CUDNN_TRY(cudnnSetConvolutionMathType(d.c, math));

    algo_key key;
    fill_key(&key, ctx, x, 0, nsd, g, pads, xsp, g->out);
    int algo_i = 0;
    cudnnMathType_t algo_math = math;
    if (!cache_get(key, &algo_i, &algo_math)) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        AVF_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(
            h, d.x, d.w, d.c, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf));
        algo_i = (int)CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM; /* needs no workspace */
        algo_math = math;
        for (int i = 0; i < got; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace &&
                math_ok(ctx, x, perf[i].mathType)) {
                algo_i = (int)perf[i].algo;
                algo_math = math == CUDNN_FMA_MATH ? math : perf[i].mathType;
                break;
            }
        cache_put(key, algo_i, algo_math);
    }
    AVF_CUDNN_TRY(cudnnSetConvolutionMathType(d.c, algo_math));
    cudnnConvolutionFwdAlgo_t algo = (cudnnConvolutionFwdAlgo_t)algo_i;
    size_t ws_bytes = 0;
    AVF_CUDNN_TRY(cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.c, d.y, algo, &ws_bytes));
    scratch ws(ctx);
    if (ws_bytes)
        AVF_TRY(ws.alloc(ws_bytes));
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t s = cudnnConvolutionForward(h, &one, d.x, xdata, d.w, w->data, d.c, algo, ws.p,
                                              ws_bytes, &zero, d.y, y->data);
    if (s == CUDNN_STATUS_NOT_SUPPORTED && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) {
        /* a heuristic pick the math mode rules out: the always-valid one */
        s = cudnnConvolutionForward(h, &one, d.x, xdata, d.w, w->data, d.c,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero,
                                    d.y, y->data);
    }
    if (s != CUDNN_STATUS_SUCCESS)
        return avf_cudnn_status(s, "cudnnConvolutionForward", __FILE__, __LINE__);
    if (b) {
        AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.b));
        const int64_t unit[3] = {1, 1, 1};
        AVF_TRY(set_tensor(d.b, dt, 1, g->c_out, unit, nsd));
        AVF_CUDNN_TRY(cudnnAddTensor(h, &one, d.b, b->data, &one, d.y, y->data));
    }
    return AVF_OK;
}

/* Y = convT(X) into `out` (N, c_out, osp), with cuDNN pads `pads`. */
avf_status conv_backward_data(avf_op_ctx *ctx, cudnnHandle_t h, const avf_conv_geom *g,
                              const avf_tensor *x, const avf_tensor *w, const int64_t *osp,
                              const int64_t *pads, void *out) {
    int nsd = g->nsp == 3 ? 3 : 2;
    cudnnDataType_t dt = x->dtype == AVF_DTYPE_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    descs d;
    AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.x));
    AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.y));
    AVF_CUDNN_TRY(cudnnCreateFilterDescriptor(&d.w));
    AVF_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&d.c));
    /* cuDNN's view: the forward convolution maps Y (dx) to X (dy), with the
     * filter (K = C_in, C = C_out / group) exactly ONNX's ConvTranspose W. */
    AVF_TRY(set_tensor(d.x, dt, g->n, g->c_in, g->in, nsd));
    AVF_TRY(set_tensor(d.y, dt, g->n, g->c_out, osp, nsd));
    AVF_TRY(set_filter(d.w, dt, g->c_in, g->c_out / g->group, g->k, nsd));
    AVF_TRY(set_conv(d.c, g, pads, nsd, CUDNN_DATA_FLOAT));
    cudnnMathType_t math = base_math(ctx, x);
    AVF_CUDNN_TRY(cudnnSetConvolutionMathType(d.c, math));

    algo_key key;
    fill_key(&key, ctx, x, 1, nsd, g, pads, g->in, osp);
    int algo_i = 0;
    cudnnMathType_t algo_math = math;
    if (!cache_get(key, &algo_i, &algo_math)) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int got = 0;
        AVF_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            h, d.w, d.x, d.c, d.y, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        algo_i = (int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
        algo_math = math;
        for (int i = 0; i < got; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace &&
                math_ok(ctx, x, perf[i].mathType)) {
                algo_i = (int)perf[i].algo;
                algo_math = math == CUDNN_FMA_MATH ? math : perf[i].mathType;
                break;
            }
        cache_put(key, algo_i, algo_math);
    }
    AVF_CUDNN_TRY(cudnnSetConvolutionMathType(d.c, algo_math));
    cudnnConvolutionBwdDataAlgo_t algo = (cudnnConvolutionBwdDataAlgo_t)algo_i;
    size_t ws_bytes = 0;
    AVF_CUDNN_TRY(
        cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.x, d.c, d.y, algo, &ws_bytes));
    scratch ws(ctx);
    if (ws_bytes)
        AVF_TRY(ws.alloc(ws_bytes));
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t s = cudnnConvolutionBackwardData(h, &one, d.w, w->data, d.x, x->data, d.c, algo,
                                                   ws.p, ws_bytes, &zero, d.y, out);
    if (s == CUDNN_STATUS_NOT_SUPPORTED && algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_0)
        s = cudnnConvolutionBackwardData(h, &one, d.w, w->data, d.x, x->data, d.c,
                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, nullptr, 0, &zero,
                                         d.y, out);
    if (s != CUDNN_STATUS_SUCCESS)
        return avf_cudnn_status(s, "cudnnConvolutionBackwardData", __FILE__, __LINE__);
    return AVF_OK;
}

int64_t vol3(const int64_t *d) { return d[0] * d[1] * d[2]; }

} // namespace

extern "C" avf_status avf_cuda_conv(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                                    const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    if (avf_cuda_conv_dw_ok(g, x->dtype)) /* depthwise: the direct kernel (conv_dw.cu says why) */
        return avf_cuda_conv_dw(ctx, g, x, w, b, nullptr, y);
    if (avf_cuda_conv_short1d_ok(g, x->dtype)) /* short 1-D outputs: conv_short1d.cu says why */
        return avf_cuda_conv_short1d(ctx, g, x, w, b, nullptr, y);
    cudnnHandle_t h;
    AVF_TRY(avf_cuda_cudnn(ctx, &h));
    bool sym = true;
    for (int i = 0; i < 3; i++)
        sym = sym && g->pad_b[i] == g->pad_e[i];
    if (sym)
        return conv_forward(ctx, h, g, x, x->data, g->in, g->pad_b, w, b, y);
    /* asymmetric pads: pad X explicitly, convolve without pads */
    int64_t psp[3], off[3];
    const int64_t zero3[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        psp[i] = g->in[i] + g->pad_b[i] + g->pad_e[i];
        off[i] = -g->pad_b[i];
    }
    size_t es = avf_dtype_size(x->dtype);
    scratch xp(ctx);
    AVF_TRY(xp.alloc((size_t)(g->n * g->c_in * vol3(psp)) * es));
    cudaStream_t st = (cudaStream_t)avf_stream_native(ctx->stream);
    AVF_TRY(shift(st, x->dtype, x->data, xp.p, nullptr, g->n * g->c_in, g->c_in, g->in, psp, off));
    return conv_forward(ctx, h, g, x, xp.p, psp, zero3, w, b, y);
}

extern "C" avf_status avf_cuda_conv_transpose(avf_op_ctx *ctx, const avf_conv_geom *g,
                                              const avf_tensor *x, const avf_tensor *w,
                                              const avf_tensor *b, avf_tensor *y) {
    cudnnHandle_t h;
    AVF_TRY(avf_cuda_cudnn(ctx, &h));
    cudaStream_t st = (cudaStream_t)avf_stream_native(ctx->stream);
    /* The direct form: symmetric non-negative pads and an output exactly the
     * full size minus them (no output_padding / larger output_shape). */
    bool direct = true;
    int64_t full[3];
    for (int i = 0; i < 3; i++) {
        full[i] = (g->in[i] - 1) * g->stride[i] + (g->k[i] - 1) * g->dil[i] + 1;
        direct = direct && g->pad_b[i] == g->pad_e[i] && g->pad_b[i] >= 0 &&
                 g->out[i] == full[i] - 2 * g->pad_b[i];
    }
    if (direct) {
        AVF_TRY(conv_backward_data(ctx, h, g, x, w, g->out, g->pad_b, y->data));
        if (b) {
            int nsd = g->nsp == 3 ? 3 : 2;
            cudnnDataType_t dt = x->dtype == AVF_DTYPE_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
            descs d;
            AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.b));
            AVF_CUDNN_TRY(cudnnCreateTensorDescriptor(&d.y));
            const int64_t unit[3] = {1, 1, 1};
            AVF_TRY(set_tensor(d.b, dt, 1, g->c_out, unit, nsd));
            AVF_TRY(set_tensor(d.y, dt, g->n, g->c_out, g->out, nsd));
            const float one = 1.0f;
            AVF_CUDNN_TRY(cudnnAddTensor(h, &one, d.b, b->data, &one, d.y, y->data));
        }
        return AVF_OK;
    }
    /* full output into scratch, then crop (Y[o] = full[o + pad_b], zero
     * where that falls outside) and add the bias */
    const int64_t zero3[3] = {0, 0, 0};
    size_t es = avf_dtype_size(x->dtype);
    scratch fb(ctx);
    AVF_TRY(fb.alloc((size_t)(g->n * g->c_out * vol3(full)) * es));
    AVF_TRY(conv_backward_data(ctx, h, g, x, w, full, zero3, fb.p));
    return shift(st, x->dtype, fb.p, y->data, b ? b->data : nullptr, g->n * g->c_out, g->c_out,
                 full, g->out, g->pad_b);
}
