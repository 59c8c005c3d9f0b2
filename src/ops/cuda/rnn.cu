/* CUDA LSTM / GRU / RNN.
 *
 * One GEMM projects the inputs of every step and direction (XW = X W^T);
 * then per step one strided-batched GEMM (over directions) for H_prev R^T
 * and one fused kernel for the gates and state update of every direction,
 * batch entry and unit. The state lives in pool scratch; nothing syncs the
 * host. Mirrors cpu/rnn.c line for line in the gate math.
 *
 * Where the layout allows (layout 0: initial_h/c and Y_h/Y_c are laid out
 * as the scratch state; no sequence_lens, so every entry's last step is
 * the last one; initial states given), the first step reads initial_h/c
 * and the last writes Y_h/Y_c directly: no state copies. Silero VAD's
 * single-step LSTM is then 3 kernels, not 7.
 */
#include <limits.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/libs.h"
#include "ops/cuda/rnn_cuda.h"

namespace {

struct rnn_args {
    avf_rnn_params p;
    avf_rnn_dims d;
    const float *xw;     /* [seq*batch rows in X's order, dirs*G*H] */
    float *hr;           /* [dirs, batch, G*H] */
    float *h, *c, *rh;   /* [dirs, batch, H] */
    /* this step's state in and out: h/c (in place), or initial_h/c and
     * Y_h/Y_c on the direct path (see the header) */
    const float *h_prev, *c_prev;
    float *h_next, *c_next;
    const float *bias;   /* B or NULL */
    const float *peep;   /* P or NULL */
    const int32_t *lens; /* sequence_lens or NULL */
    float *y;            /* Y or NULL */
};

__device__ float act_dev(const avf_rnn_act &a, float x) {
    switch (a.kind) {
    case AVF_RNN_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case AVF_RNN_ACT_TANH:
        return tanhf(x);
    case AVF_RNN_ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case AVF_RNN_ACT_AFFINE:
        return a.alpha * x + a.beta;
    case AVF_RNN_ACT_LEAKY_RELU:
        return x >= 0.0f ? x : a.alpha * x;
    case AVF_RNN_ACT_THRESHOLDED_RELU:
        return x > a.alpha ? x : 0.0f;
    case AVF_RNN_ACT_SCALED_TANH:
        return a.alpha * tanhf(a.beta * x);
    case AVF_RNN_ACT_HARD_SIGMOID: {
        float v = a.alpha * x + a.beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case AVF_RNN_ACT_ELU:
        return x >= 0.0f ? x : a.alpha * (expf(x) - 1.0f);
    case AVF_RNN_ACT_SOFTSIGN:
        return x / (1.0f + fabsf(x));
    case AVF_RNN_ACT_SOFTPLUS:
        return x > 20.0f ? x : log1pf(expf(x));
    default:
        return x;
    }
}

__device__ __forceinline__ float clip_dev(const avf_rnn_params &p, float x) {
    if (!p.has_clip)
        return x;
    return fminf(fmaxf(x, -p.clip), p.clip);
}

__device__ __forceinline__ int64_t seq_len_dev(const rnn_args &a, int64_t b) {
    if (!a.lens)
        return a.d.seq;
    int64_t l = a.lens[b];
    return l < 0 ? 0 : l > a.d.seq ? a.d.seq : l;
}

__device__ __forceinline__ int64_t x_row_dev(const rnn_args &a, int64_t t, int64_t b) {
    return a.p.layout ? b * a.d.seq + t : t * a.d.batch + b;
}

__device__ __forceinline__ int64_t y_off_dev(const rnn_args &a, int64_t t, int dir, int64_t b) {
    const avf_rnn_dims &d = a.d;
    return (a.p.layout ? (b * d.seq + t) * d.dirs + dir : (t * d.dirs + dir) * d.batch + b) *
           d.hidden;
}

__device__ __forceinline__ int64_t st_off_dev(const avf_rnn_params &p, const avf_rnn_dims &d,
                                              int dir, int64_t b) {
    return (p.layout ? b * d.dirs + dir : (int64_t)dir * d.batch + b) * d.hidden;
}

/* state[dir,b,j] <- src in the layout's order (or 0), and back when `out`. */
__global__ void state_copy_kernel(avf_rnn_params p, avf_rnn_dims d, float *state,
                                  float *ext, int out) {
    int64_t hd = d.hidden, total = (int64_t)d.dirs * d.batch * hd;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int dir = (int)(e / (d.batch * hd));
        int64_t b = (e / hd) % d.batch, j = e % hd;
        int64_t o = st_off_dev(p, d, dir, b) + j;
        if (out)
            ext[o] = state[e];
        else
            state[e] = ext ? ext[o] : 0.0f;
    }
}

/* GRU, linear_before_reset = 0: rh = r (.) H_prev for the h-gate GEMM. */
__global__ void gru_reset_kernel(rnn_args a, int64_t s) {
    const avf_rnn_dims &d = a.d;
    int64_t hd = d.hidden, gh = 3 * hd, dgh = d.dirs * gh, total = (int64_t)d.dirs * d.batch * hd;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int dir = (int)(e / (d.batch * hd));
        int64_t b = (e / hd) % d.batch, j = e % hd;
        int64_t len = seq_len_dev(a, b);
        if (s >= len)
            continue; /* this entry is done; its h gate is not computed */
        int reverse = a.p.direction == AVF_RNN_REVERSE || dir == 1;
        int64_t t = reverse ? len - 1 - s : s;
        const float *xw = a.xw + x_row_dev(a, t, b) * dgh + dir * gh;
        const float *hr = a.hr + ((int64_t)dir * d.batch + b) * gh;
        float pre = xw[hd + j] + hr[hd + j];
        if (a.bias) {
            const float *wb = a.bias + (int64_t)dir * 2 * gh;
            pre += wb[hd + j] + wb[gh + hd + j];
        }
        a.rh[e] = act_dev(a.p.act[dir][0], clip_dev(a.p, pre)) * a.h_prev[e];
    }
}

/* The gates and state update of step s for every (dir, b, j). */
__global__ void gates_kernel(rnn_args a, int64_t s) {
    const avf_rnn_dims &d = a.d;
    const avf_rnn_params &p = a.p;
    int64_t hd = d.hidden, gh = d.gates * hd, dgh = d.dirs * gh;
    int64_t total = (int64_t)d.dirs * d.batch * hd;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int dir = (int)(e / (d.batch * hd));
        int64_t b = (e / hd) % d.batch, j = e % hd;
        int64_t len = seq_len_dev(a, b);
        if (s >= len) { /* past this entry's end: state kept, Y zero */
            if (a.y)
                a.y[y_off_dev(a, s, dir, b) + j] = 0.0f;
            continue;
        }
        int reverse = p.direction == AVF_RNN_REVERSE || dir == 1;
        int64_t t = reverse ? len - 1 - s : s;
        const float *xw = a.xw + x_row_dev(a, t, b) * dgh + dir * gh;
        const float *hr = a.hr + ((int64_t)dir * d.batch + b) * gh;
        const float *wb = a.bias ? a.bias + (int64_t)dir * 2 * gh : NULL;
        const float *rb = wb ? wb + gh : NULL;
        const avf_rnn_act *act = p.act[dir];
        float hn;
        if (p.kind == AVF_RNN_SIMPLE) {
            float pre = xw[j] + hr[j] + (wb ? wb[j] + rb[j] : 0.0f);
            hn = act_dev(act[0], clip_dev(p, pre));
        } else if (p.kind == AVF_RNN_GRU) {
            float pz = xw[j] + hr[j] + (wb ? wb[j] + rb[j] : 0.0f);
            float z = act_dev(act[0], clip_dev(p, pz));
            float ph;
            if (p.linear_before_reset) {
                float pr = xw[hd + j] + hr[hd + j] + (wb ? wb[hd + j] + rb[hd + j] : 0.0f);
                float rg = act_dev(act[0], clip_dev(p, pr));
                ph = xw[2 * hd + j] + rg * (hr[2 * hd + j] + (rb ? rb[2 * hd + j] : 0.0f)) +
                     (wb ? wb[2 * hd + j] : 0.0f);
            } else {
                ph = xw[2 * hd + j] + hr[2 * hd + j] + (wb ? wb[2 * hd + j] + rb[2 * hd + j] : 0.0f);
            }
            float hh = act_dev(act[1], clip_dev(p, ph));
            hn = (1.0f - z) * hh + z * a.h_prev[e];
        } else { /* LSTM, gates i, o, f, c */
            const float *pp = a.peep ? a.peep + (int64_t)dir * 3 * hd : NULL;
            float bi = 0.0f, bo = 0.0f, bfg = 0.0f, bc = 0.0f;
            if (wb) {
                bi = wb[j] + rb[j];
                bo = wb[hd + j] + rb[hd + j];
                bfg = wb[2 * hd + j] + rb[2 * hd + j];
                bc = wb[3 * hd + j] + rb[3 * hd + j];
            }
            float cp = a.c_prev[e];
            float pi = xw[j] + hr[j] + bi + (pp ? pp[j] * cp : 0.0f);
            float ig = act_dev(act[0], clip_dev(p, pi));
            float fg;
            if (p.input_forget) {
                fg = 1.0f - ig;
            } else {
                float pf = xw[2 * hd + j] + hr[2 * hd + j] + bfg + (pp ? pp[2 * hd + j] * cp : 0.0f);
                fg = act_dev(act[0], clip_dev(p, pf));
            }
            float pc = xw[3 * hd + j] + hr[3 * hd + j] + bc;
            float cg = act_dev(act[1], clip_dev(p, pc));
            float cn = fg * cp + ig * cg;
            float po = xw[hd + j] + hr[hd + j] + bo + (pp ? pp[hd + j] * cn : 0.0f);
            float og = act_dev(act[0], clip_dev(p, po));
            a.c_next[e] = cn; /* only this thread reads or writes element e */
            hn = og * act_dev(act[2], cn);
        }
        a.h_next[e] = hn; /* the step's GEMM already consumed H_prev */
        if (a.y)
            a.y[y_off_dev(a, t, dir, b) + j] = hn;
    }
}

unsigned grid_for(int64_t n, unsigned block) {
    int64_t g = (n + block - 1) / block;
    if (g < 1)
        g = 1;
    return (unsigned)(g > 65535 ? 65535 : g);
}

/* hr[dir] (gate columns g0..g0+ng) = H[dir] R_g[dir]^T for every direction. */
avf_status recur_gemm(cublasHandle_t h, cublasComputeType_t ct, const avf_rnn_dims &d,
                      const float *hbuf, const float *r, int g0, int ng, float *hr) {
    int64_t hd = d.hidden, gh = d.gates * hd;
    const float one = 1.0f, zero = 0.0f;
    AVF_CUBLAS_TRY(cublasGemmStridedBatchedEx(
        h, CUBLAS_OP_T, CUBLAS_OP_N, (int)(ng * hd), (int)d.batch, (int)hd, &one,
        r + (int64_t)g0 * hd * hd, CUDA_R_32F, (int)hd, (long long)(gh * hd), hbuf, CUDA_R_32F,
        (int)hd, (long long)(d.batch * hd), &zero, hr + g0 * hd, CUDA_R_32F, (int)gh,
        (long long)(d.batch * gh), d.dirs, ct, CUBLAS_GEMM_DEFAULT));
    return AVF_OK;
}

avf_status run(avf_op_ctx *ctx, cudaStream_t s, rnn_args &a, const avf_tensor *const in[8],
               avf_tensor *const out[3]) {
    const avf_rnn_dims &d = a.d;
    int64_t hd = d.hidden, rows = d.seq * d.batch, dgh = d.dirs * d.gates * hd;
    int64_t nstate = (int64_t)d.dirs * d.batch * hd;
    unsigned grid = grid_for(nstate, 256);
    cublasHandle_t h;
    AVF_TRY(avf_cuda_cublas(ctx, &h));
    cublasComputeType_t ct = ctx->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const float one = 1.0f, zero = 0.0f;

    const float *init_h = in[AVF_RNN_IN_INITIAL_H] ? (const float *)in[AVF_RNN_IN_INITIAL_H]->data
                                                   : NULL;
    const float *init_c = in[AVF_RNN_IN_INITIAL_C] ? (const float *)in[AVF_RNN_IN_INITIAL_C]->data
                                                   : NULL;
    const bool direct = a.p.layout == 0 && !a.lens && d.seq >= 1 && init_h &&
                        (a.p.kind != AVF_RNN_LSTM || init_c);
    if (!direct) {
        state_copy_kernel<<<grid, 256, 0, s>>>(a.p, d, a.h, (float *)init_h, 0);
        AVF_CUDA_TRY(cudaGetLastError());
        if (a.p.kind == AVF_RNN_LSTM) {
            state_copy_kernel<<<grid, 256, 0, s>>>(a.p, d, a.c, (float *)init_c, 0);
            AVF_CUDA_TRY(cudaGetLastError());
        }
    }
    if (rows > 0 && dgh > 0) {
        if (d.input > 0)
            AVF_CUBLAS_TRY(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)dgh, (int)rows,
                                        (int)d.input, &one, in[AVF_RNN_IN_W]->data, CUDA_R_32F,
                                        (int)d.input, in[AVF_RNN_IN_X]->data, CUDA_R_32F,
                                        (int)d.input, &zero, (void *)a.xw, CUDA_R_32F, (int)dgh,
                                        ct, CUBLAS_GEMM_DEFAULT));
        else
            AVF_CUDA_TRY(cudaMemsetAsync((void *)a.xw, 0, (size_t)(rows * dgh) * sizeof(float), s));
    }
    const float *r = (const float *)in[AVF_RNN_IN_R]->data;
    int lbr0 = a.p.kind == AVF_RNN_GRU && !a.p.linear_before_reset;
    float *out_h = out[1] ? (float *)out[1]->data : NULL;
    float *out_c = out[2] ? (float *)out[2]->data : NULL;
    for (int64_t step = 0; step < d.seq && nstate > 0; step++) {
        const bool first = step == 0, last = step == d.seq - 1;
        a.h_prev = direct && first ? init_h : a.h;
        a.c_prev = direct && first ? init_c : a.c;
        a.h_next = direct && last && out_h ? out_h : a.h;
        a.c_next = direct && last && out_c ? out_c : a.c;
        AVF_TRY(recur_gemm(h, ct, d, a.h_prev, r, 0, lbr0 ? 2 : d.gates, a.hr));
        if (lbr0) {
            gru_reset_kernel<<<grid, 256, 0, s>>>(a, step);
            AVF_CUDA_TRY(cudaGetLastError());
            AVF_TRY(recur_gemm(h, ct, d, a.rh, r, 2, 1, a.hr));
        }
        gates_kernel<<<grid, 256, 0, s>>>(a, step);
        AVF_CUDA_TRY(cudaGetLastError());
    }
    if (out_h && nstate > 0 && !direct) {
        state_copy_kernel<<<grid, 256, 0, s>>>(a.p, d, a.h, out_h, 1);
        AVF_CUDA_TRY(cudaGetLastError());
    }
    if (out_c && nstate > 0 && !direct) {
        state_copy_kernel<<<grid, 256, 0, s>>>(a.p, d, a.c, out_c, 1);
        AVF_CUDA_TRY(cudaGetLastError());
    }
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_rnn(avf_op_ctx *ctx, const avf_rnn_params *p,
                                   const avf_rnn_dims *d, const avf_tensor *const in[8],
                                   avf_tensor *const out[3]) {
    int64_t hd = d->hidden, gh = d->gates * hd, rows = d->seq * d->batch, dgh = d->dirs * gh;
    if (rows > INT_MAX || dgh > INT_MAX || d->batch > INT_MAX || gh > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "recurrent op (CUDA): sizes exceed cuBLAS's int range");
    size_t n_xw = (size_t)(rows * dgh), n_hr = (size_t)(d->dirs * d->batch * gh);
    size_t n_h = (size_t)(d->dirs * d->batch * hd);
    size_t total = n_xw + n_hr + 3 * n_h;
    if (total == 0)
        return AVF_OK;
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, total * sizeof(float), ctx->stream, &scratch));
    rnn_args a;
    a.p = *p;
    a.d = *d;
    float *base = (float *)scratch;
    a.xw = base;
    a.hr = base + n_xw;
    a.h = a.hr + n_hr;
    a.c = a.h + n_h;
    a.rh = a.c + n_h;
    a.bias = in[AVF_RNN_IN_B] ? (const float *)in[AVF_RNN_IN_B]->data : NULL;
    a.peep = in[AVF_RNN_IN_P] ? (const float *)in[AVF_RNN_IN_P]->data : NULL;
    a.lens = in[AVF_RNN_IN_SEQ_LENS] ? (const int32_t *)in[AVF_RNN_IN_SEQ_LENS]->data : NULL;
    a.y = out[0] ? (float *)out[0]->data : NULL;
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    avf_status st = run(ctx, s, a, in, out);
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return st != AVF_OK ? st : fs;
}
