/* CPU LSTM / GRU / RNN: one sgemm projects the inputs of every step and
 * direction, then per step and direction an sgemm for the recurrent part and
 * a loop for the gates. The CUDA version (cuda/rnn.cu) has the same
 * structure, with the gate loop as one kernel. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/blas.h"
#include "ops/rnn.h"

typedef struct rnn_bufs {
    float *xw;   /* [seq*batch rows in X's order, dirs*G*H] */
    float *hr;   /* [batch, G*H] recurrent products of the current step */
    float *h;    /* [batch, H] state of the current direction */
    float *c;    /* [batch, H] (LSTM) */
    float *rh;   /* [batch, H] r (.) H_prev (GRU, linear_before_reset = 0) */
} rnn_bufs;

static float clipf(const avf_rnn_params *p, float x) {
    if (!p->has_clip)
        return x;
    return x < -p->clip ? -p->clip : x > p->clip ? p->clip : x;
}

/* Index of (t, b) in X's rows, and of (t, d, b) / (d, b) in Y / Y_h. */
static int64_t x_row(const avf_rnn_params *p, const avf_rnn_dims *d, int64_t t, int64_t b) {
    return p->layout ? b * d->seq + t : t * d->batch + b;
}
static int64_t y_off(const avf_rnn_params *p, const avf_rnn_dims *d, int64_t t, int dir,
                     int64_t b) {
    return (p->layout ? (b * d->seq + t) * d->dirs + dir : (t * d->dirs + dir) * d->batch + b) *
           d->hidden;
}
static int64_t st_off(const avf_rnn_params *p, const avf_rnn_dims *d, int dir, int64_t b) {
    return (p->layout ? b * d->dirs + dir : (int64_t)dir * d->batch + b) * d->hidden;
}

static int64_t seq_len(const avf_rnn_dims *d, const int32_t *lens, int64_t b) {
    if (!lens)
        return d->seq;
    int64_t l = lens[b];
    return l < 0 ? 0 : l > d->seq ? d->seq : l;
}

/* hr = H_prev * R_g^T for gate rows [g0, g0+ng) into columns from g0. */
static void recur_gemm(const avf_rnn_dims *d, const float *h, const float *r, int g0, int ng,
                       float *hr) {
    int64_t hd = d->hidden, gh = d->gates * hd;
    if (d->batch == 0 || hd == 0)
        return;
    avf_cpu_sgemm(CblasNoTrans, CblasTrans, (int)d->batch, (int)(ng * hd), (int)hd,
                1.0f, h, (int)hd, r + (int64_t)g0 * hd * hd, (int)hd, 0.0f, hr + g0 * hd,
                (int)gh);
}

static void run_direction(const avf_rnn_params *p, const avf_rnn_dims *d, int dir,
                          const avf_tensor *const in[8], avf_tensor *const out[3], rnn_bufs *bf) {
    int64_t hd = d->hidden, G = d->gates, gh = G * hd, dgh = d->dirs * gh;
    const float *r = (const float *)in[AVF_RNN_IN_R]->data + (int64_t)dir * gh * hd;
    const float *wb = in[AVF_RNN_IN_B] ? (const float *)in[AVF_RNN_IN_B]->data + dir * 2 * gh : NULL;
    const float *rb = wb ? wb + gh : NULL;
    const float *pp = in[AVF_RNN_IN_P] ? (const float *)in[AVF_RNN_IN_P]->data + dir * 3 * hd : NULL;
    const int32_t *lens = in[AVF_RNN_IN_SEQ_LENS] ? (const int32_t *)in[AVF_RNN_IN_SEQ_LENS]->data : NULL;
    const avf_rnn_act *act = p->act[dir];
    int reverse = p->direction == AVF_RNN_REVERSE || dir == 1;
    float *y = out[0] ? (float *)out[0]->data : NULL;

    /* initial state */
    for (int64_t b = 0; b < d->batch; b++) {
        int64_t so = st_off(p, d, dir, b);
        if (in[AVF_RNN_IN_INITIAL_H])
            memcpy(bf->h + b * hd, (const float *)in[AVF_RNN_IN_INITIAL_H]->data + so,
                   (size_t)hd * sizeof(float));
        else
            memset(bf->h + b * hd, 0, (size_t)hd * sizeof(float));
        if (p->kind == AVF_RNN_LSTM) {
            if (in[AVF_RNN_IN_INITIAL_C])
                memcpy(bf->c + b * hd, (const float *)in[AVF_RNN_IN_INITIAL_C]->data + so,
                       (size_t)hd * sizeof(float));
            else
                memset(bf->c + b * hd, 0, (size_t)hd * sizeof(float));
        }
    }

    for (int64_t s = 0; s < d->seq; s++) {
        int lbr0 = p->kind == AVF_RNN_GRU && !p->linear_before_reset;
        /* GRU without linear_before_reset needs r before the h-gate product */
        recur_gemm(d, bf->h, r, 0, lbr0 ? 2 : (int)G, bf->hr);
        if (lbr0) {
            for (int64_t b = 0; b < d->batch; b++) {
                int64_t len = seq_len(d, lens, b);
                int64_t t = reverse ? len - 1 - s : s;
                const float *xw = bf->xw + (s < len ? x_row(p, d, t, b) * dgh : 0) + dir * gh;
                for (int64_t j = 0; j < hd; j++) {
                    float pre = xw[hd + j] + bf->hr[b * gh + hd + j];
                    if (wb)
                        pre += wb[hd + j] + rb[hd + j];
                    float rg = avf_rnn_act_apply(&act[0], clipf(p, pre));
                    bf->rh[b * hd + j] = rg * bf->h[b * hd + j];
                }
            }
            recur_gemm(d, bf->rh, r, 2, 1, bf->hr);
        }
        for (int64_t b = 0; b < d->batch; b++) {
            int64_t len = seq_len(d, lens, b);
            if (s >= len) { /* past this entry's end: state kept, Y zero */
                if (y)
                    memset(y + y_off(p, d, s, dir, b), 0, (size_t)hd * sizeof(float));
                continue;
            }
            int64_t t = reverse ? len - 1 - s : s;
            const float *xw = bf->xw + x_row(p, d, t, b) * dgh + dir * gh;
            const float *hr = bf->hr + b * gh;
            float *h = bf->h + b * hd;
            for (int64_t j = 0; j < hd; j++) {
                float hn;
                if (p->kind == AVF_RNN_SIMPLE) {
                    float pre = xw[j] + hr[j] + (wb ? wb[j] + rb[j] : 0.0f);
                    hn = avf_rnn_act_apply(&act[0], clipf(p, pre));
                } else if (p->kind == AVF_RNN_GRU) {
                    float pz = xw[j] + hr[j] + (wb ? wb[j] + rb[j] : 0.0f);
                    float z = avf_rnn_act_apply(&act[0], clipf(p, pz));
                    float ph;
                    if (p->linear_before_reset) {
                        float pr = xw[hd + j] + hr[hd + j] + (wb ? wb[hd + j] + rb[hd + j] : 0.0f);
                        float rg = avf_rnn_act_apply(&act[0], clipf(p, pr));
                        ph = xw[2 * hd + j] + rg * (hr[2 * hd + j] + (rb ? rb[2 * hd + j] : 0.0f)) +
                             (wb ? wb[2 * hd + j] : 0.0f);
                    } else {
                        ph = xw[2 * hd + j] + hr[2 * hd + j] +
                             (wb ? wb[2 * hd + j] + rb[2 * hd + j] : 0.0f);
                    }
                    float hh = avf_rnn_act_apply(&act[1], clipf(p, ph));
                    hn = (1.0f - z) * hh + z * h[j];
                } else { /* LSTM, gates i, o, f, c */
                    float bi = 0, bo = 0, bfg = 0, bc = 0;
                    if (wb) {
                        bi = wb[j] + rb[j];
                        bo = wb[hd + j] + rb[hd + j];
                        bfg = wb[2 * hd + j] + rb[2 * hd + j];
                        bc = wb[3 * hd + j] + rb[3 * hd + j];
                    }
                    float cp = bf->c[b * hd + j];
                    float pi = xw[j] + hr[j] + bi + (pp ? pp[j] * cp : 0.0f);
                    float ig = avf_rnn_act_apply(&act[0], clipf(p, pi));
                    float fg;
                    if (p->input_forget) {
                        fg = 1.0f - ig;
                    } else {
                        float pf = xw[2 * hd + j] + hr[2 * hd + j] + bfg + (pp ? pp[2 * hd + j] * cp : 0.0f);
                        fg = avf_rnn_act_apply(&act[0], clipf(p, pf));
                    }
                    float pc = xw[3 * hd + j] + hr[3 * hd + j] + bc;
                    float cg = avf_rnn_act_apply(&act[1], clipf(p, pc));
                    float cn = fg * cp + ig * cg;
                    float po = xw[hd + j] + hr[hd + j] + bo + (pp ? pp[hd + j] * cn : 0.0f);
                    float og = avf_rnn_act_apply(&act[0], clipf(p, po));
                    bf->c[b * hd + j] = cn;
                    hn = og * avf_rnn_act_apply(&act[2], cn);
                }
                h[j] = hn;
            }
            if (y)
                memcpy(y + y_off(p, d, t, dir, b), h, (size_t)hd * sizeof(float));
        }
    }
    for (int64_t b = 0; b < d->batch; b++) {
        int64_t so = st_off(p, d, dir, b);
        if (out[1])
            memcpy((float *)out[1]->data + so, bf->h + b * hd, (size_t)hd * sizeof(float));
        if (out[2])
            memcpy((float *)out[2]->data + so, bf->c + b * hd, (size_t)hd * sizeof(float));
    }
}

avf_status avf_cpu_rnn(avf_op_ctx *ctx, const avf_rnn_params *p, const avf_rnn_dims *d,
                       const avf_tensor *const in[8], avf_tensor *const out[3]) {
    int64_t hd = d->hidden, gh = d->gates * hd, rows = d->seq * d->batch, dgh = d->dirs * gh;
    if (rows > INT_MAX || dgh > INT_MAX || d->batch > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "recurrent op: sizes exceed the BLAS int range");
    size_t n_xw = (size_t)(rows * dgh), n_hr = (size_t)(d->batch * gh), n_h = (size_t)(d->batch * hd);
    size_t total = n_xw + n_hr + 3 * n_h;
    if (total == 0) { /* nothing to compute; empty outputs stay as they are */
        return AVF_OK;
    }
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, total * sizeof(float), ctx->stream, &scratch));
    rnn_bufs bf;
    bf.xw = (float *)scratch;
    bf.hr = bf.xw + n_xw;
    bf.h = bf.hr + n_hr;
    bf.c = bf.h + n_h;
    bf.rh = bf.c + n_h;
    memset(scratch, 0, total * sizeof(float));
    /* Every step's input projection at once: XW = X * W^T over all
     * directions (W is [dirs*G*H, input] as one matrix). */
    if (rows > 0 && dgh > 0 && d->input > 0)
        avf_cpu_sgemm(CblasNoTrans, CblasTrans, (int)rows, (int)dgh, (int)d->input,
                    1.0f, (const float *)in[AVF_RNN_IN_X]->data, (int)d->input,
                    (const float *)in[AVF_RNN_IN_W]->data, (int)d->input, 0.0f, bf.xw, (int)dgh);
    for (int dir = 0; dir < d->dirs; dir++)
        run_direction(p, d, dir, in, out, &bf);
    return avf_pool_free(ctx->pool, scratch, ctx->stream);
}
