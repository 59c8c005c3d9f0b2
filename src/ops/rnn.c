/* LSTM, GRU, RNN: activations, shape function, checks and dispatch. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "ops/rnn.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/rnn_cuda.h"
#endif

static const char *const avf_rnn_names[] = {"RNN", "GRU", "LSTM"};

int avf_rnn_gates(avf_rnn_kind kind) {
    return kind == AVF_RNN_LSTM ? 4 : kind == AVF_RNN_GRU ? 3 : 1;
}

int avf_rnn_num_acts(avf_rnn_kind kind) {
    return kind == AVF_RNN_LSTM ? 3 : kind == AVF_RNN_GRU ? 2 : 1;
}

void avf_rnn_default_acts(avf_rnn_params *p) {
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < AVF_RNN_MAX_ACTS; i++) {
            /* LSTM: Sigmoid, Tanh, Tanh; GRU: Sigmoid, Tanh; RNN: Tanh */
            int tanh_slot = p->kind == AVF_RNN_SIMPLE || i > 0;
            p->act[d][i].kind = tanh_slot ? AVF_RNN_ACT_TANH : AVF_RNN_ACT_SIGMOID;
            p->act[d][i].alpha = 0.0f;
            p->act[d][i].beta = 0.0f;
        }
}

avf_status avf_rnn_act_parse(const char *name, avf_rnn_act *out, int *has_alpha, int *has_beta) {
    static const struct {
        const char *name;
        avf_rnn_act_kind kind;
        int has_alpha, has_beta;
        float alpha, beta; /* the defaults of the ONNX op of the same name */
    } table[] = {
        {"Sigmoid", AVF_RNN_ACT_SIGMOID, 0, 0, 0.0f, 0.0f},
        {"Tanh", AVF_RNN_ACT_TANH, 0, 0, 0.0f, 0.0f},
        {"Relu", AVF_RNN_ACT_RELU, 0, 0, 0.0f, 0.0f},
        {"Affine", AVF_RNN_ACT_AFFINE, 1, 1, 1.0f, 0.0f},
        {"LeakyRelu", AVF_RNN_ACT_LEAKY_RELU, 1, 0, 0.01f, 0.0f},
        {"ThresholdedRelu", AVF_RNN_ACT_THRESHOLDED_RELU, 1, 0, 1.0f, 0.0f},
        {"ScaledTanh", AVF_RNN_ACT_SCALED_TANH, 1, 1, 1.0f, 1.0f},
        {"HardSigmoid", AVF_RNN_ACT_HARD_SIGMOID, 1, 1, 0.2f, 0.5f},
        {"Elu", AVF_RNN_ACT_ELU, 1, 0, 1.0f, 0.0f},
        {"Softsign", AVF_RNN_ACT_SOFTSIGN, 0, 0, 0.0f, 0.0f},
        {"Softplus", AVF_RNN_ACT_SOFTPLUS, 0, 0, 0.0f, 0.0f},
    };
    AVF_CHECK_ARG(name != NULL && out != NULL);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(name, table[i].name) == 0) {
            out->kind = table[i].kind;
            out->alpha = table[i].alpha;
            out->beta = table[i].beta;
            if (has_alpha)
                *has_alpha = table[i].has_alpha;
            if (has_beta)
                *has_beta = table[i].has_beta;
            return AVF_OK;
        }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "recurrent op: unsupported activation '%s'", name);
}

float avf_rnn_act_apply(const avf_rnn_act *a, float x) {
    switch (a->kind) {
    case AVF_RNN_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case AVF_RNN_ACT_TANH:
        return tanhf(x);
    case AVF_RNN_ACT_RELU:
        return x > 0.0f ? x : 0.0f;
    case AVF_RNN_ACT_AFFINE:
        return a->alpha * x + a->beta;
    case AVF_RNN_ACT_LEAKY_RELU:
        return x >= 0.0f ? x : a->alpha * x;
    case AVF_RNN_ACT_THRESHOLDED_RELU:
        return x > a->alpha ? x : 0.0f;
    case AVF_RNN_ACT_SCALED_TANH:
        return a->alpha * tanhf(a->beta * x);
    case AVF_RNN_ACT_HARD_SIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case AVF_RNN_ACT_ELU:
        return x >= 0.0f ? x : a->alpha * (expf(x) - 1.0f);
    case AVF_RNN_ACT_SOFTSIGN:
        return x / (1.0f + fabsf(x));
    case AVF_RNN_ACT_SOFTPLUS:
        return x > 20.0f ? x : log1pf(expf(x)); /* no overflow for large x */
    default:
        return x;
    }
}

static avf_status expect(const char *op, const char *what, int ndim, const int64_t *dims, int wn,
                         const int64_t *want) {
    int ok = ndim == wn;
    for (int i = 0; ok && i < wn; i++)
        ok = dims[i] == want[i];
    if (ok)
        return AVF_OK;
    char have[128] = "", exp[128] = "";
    size_t h = 0, e = 0;
    for (int i = 0; i < ndim && h < sizeof have - 24; i++)
        h += (size_t)snprintf(have + h, sizeof have - h, "%s%lld", i ? "," : "", (long long)dims[i]);
    for (int i = 0; i < wn && e < sizeof exp - 24; i++)
        e += (size_t)snprintf(exp + e, sizeof exp - e, "%s%lld", i ? "," : "", (long long)want[i]);
    return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s has shape [%s], expected [%s]", op, what, have, exp);
}

/* The dims implied by X, W and the params, after validating X. */
static avf_status rnn_dims(const avf_rnn_params *p, const avf_rnn_shapes *in, avf_rnn_dims *d) {
    const char *op = avf_rnn_names[p->kind];
    if (p->layout != 0 && p->layout != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: layout %d (0 or 1)", op, p->layout);
    if (in->ndim[AVF_RNN_IN_X] != 3)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X must be 3-D (rank %d)", op,
                        in->ndim[AVF_RNN_IN_X]);
    if (in->ndim[AVF_RNN_IN_W] != 3 || in->ndim[AVF_RNN_IN_R] != 3)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: W and R must be 3-D (ranks %d and %d)", op,
                        in->ndim[AVF_RNN_IN_W], in->ndim[AVF_RNN_IN_R]);
    const int64_t *x = in->dims[AVF_RNN_IN_X];
    d->seq = p->layout ? x[1] : x[0];
    d->batch = p->layout ? x[0] : x[1];
    d->input = x[2];
    d->hidden = p->hidden_size > 0 ? p->hidden_size : in->dims[AVF_RNN_IN_R][2];
    d->dirs = p->direction == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    d->gates = avf_rnn_gates(p->kind);
    if (d->hidden > (int64_t)1 << 30 || d->input > ((int64_t)1 << 31) - 1)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: hidden %lld / input %lld too large", op,
                        (long long)d->hidden, (long long)d->input);
    return AVF_OK;
}

avf_status avf_rnn_shape(const avf_rnn_params *p, const avf_rnn_shapes *in, int out_ndim[3],
                         int64_t out_dims[3][AVF_MAX_DIMS]) {
    AVF_CHECK_ARG(p != NULL && in != NULL && out_ndim != NULL && out_dims != NULL);
    AVF_CHECK_ARG(p->kind >= AVF_RNN_SIMPLE && p->kind <= AVF_RNN_LSTM);
    const char *op = avf_rnn_names[p->kind];
    avf_rnn_dims d;
    AVF_TRY(rnn_dims(p, in, &d));
    int64_t gh = d.gates * d.hidden;
    int64_t w[3] = {d.dirs, gh, d.input};
    AVF_TRY(expect(op, "W", in->ndim[AVF_RNN_IN_W], in->dims[AVF_RNN_IN_W], 3, w));
    int64_t r[3] = {d.dirs, gh, d.hidden};
    AVF_TRY(expect(op, "R", in->ndim[AVF_RNN_IN_R], in->dims[AVF_RNN_IN_R], 3, r));
    if (in->ndim[AVF_RNN_IN_B] >= 0) {
        int64_t b[2] = {d.dirs, 2 * gh};
        AVF_TRY(expect(op, "B", in->ndim[AVF_RNN_IN_B], in->dims[AVF_RNN_IN_B], 2, b));
    }
    if (in->ndim[AVF_RNN_IN_SEQ_LENS] >= 0) {
        int64_t s[1] = {d.batch};
        AVF_TRY(expect(op, "sequence_lens", in->ndim[AVF_RNN_IN_SEQ_LENS],
                       in->dims[AVF_RNN_IN_SEQ_LENS], 1, s));
    }
    int64_t st[3] = {d.dirs, d.batch, d.hidden};
    if (p->layout) {
        st[0] = d.batch;
        st[1] = d.dirs;
    }
    if (in->ndim[AVF_RNN_IN_INITIAL_H] >= 0)
        AVF_TRY(expect(op, "initial_h", in->ndim[AVF_RNN_IN_INITIAL_H],
                       in->dims[AVF_RNN_IN_INITIAL_H], 3, st));
    if (p->kind != AVF_RNN_LSTM && (in->ndim[AVF_RNN_IN_INITIAL_C] >= 0 || in->ndim[AVF_RNN_IN_P] >= 0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: initial_c and P are LSTM inputs", op);
    if (in->ndim[AVF_RNN_IN_INITIAL_C] >= 0)
        AVF_TRY(expect(op, "initial_c", in->ndim[AVF_RNN_IN_INITIAL_C],
                       in->dims[AVF_RNN_IN_INITIAL_C], 3, st));
    if (in->ndim[AVF_RNN_IN_P] >= 0) {
        int64_t pp[2] = {d.dirs, 3 * d.hidden};
        AVF_TRY(expect(op, "P", in->ndim[AVF_RNN_IN_P], in->dims[AVF_RNN_IN_P], 2, pp));
    }
    out_ndim[0] = 4;
    if (p->layout) {
        int64_t y[4] = {d.batch, d.seq, d.dirs, d.hidden};
        memcpy(out_dims[0], y, sizeof y);
    } else {
        int64_t y[4] = {d.seq, d.dirs, d.batch, d.hidden};
        memcpy(out_dims[0], y, sizeof y);
    }
    out_ndim[1] = 3;
    memcpy(out_dims[1], st, sizeof st);
    out_ndim[2] = p->kind == AVF_RNN_LSTM ? 3 : -1;
    memcpy(out_dims[2], st, sizeof st);
    for (int i = 0; i < 3; i++) {
        int64_t numel;
        if (out_ndim[i] >= 0)
            AVF_TRY(avf_shape_numel(out_ndim[i], out_dims[i], &numel));
    }
    return AVF_OK;
}

avf_status avf_op_rnn(avf_op_ctx *ctx, const avf_rnn_params *p, const avf_tensor *const in[8],
                      avf_tensor *const out[3]) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL && in != NULL && out != NULL);
    AVF_CHECK_ARG(p->kind >= AVF_RNN_SIMPLE && p->kind <= AVF_RNN_LSTM);
    static const char *const in_names[8] = {"X", "W", "R", "B", "sequence_lens", "initial_h",
                                            "initial_c", "P"};
    static const char *const out_names[3] = {"Y", "Y_h", "Y_c"};
    const char *op = avf_rnn_names[p->kind];
    static const avf_dtype f32[] = {AVF_DTYPE_F32};
    static const avf_dtype i32[] = {AVF_DTYPE_I32};
    char what[48];
    avf_rnn_shapes shapes;
    for (int i = 0; i < 8; i++) {
        shapes.ndim[i] = -1;
        if (!in[i]) {
            if (i <= AVF_RNN_IN_R)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: input %s is required", op, in_names[i]);
            continue;
        }
        snprintf(what, sizeof what, "%s %s", op, in_names[i]);
        AVF_TRY(avf_op_check_tensor(ctx, in[i], what));
        AVF_TRY(avf_op_check_dtype(in[i], what, i == AVF_RNN_IN_SEQ_LENS ? i32 : f32, 1));
        shapes.ndim[i] = in[i]->ndim;
        memcpy(shapes.dims[i], in[i]->shape, sizeof shapes.dims[i]);
    }
    int on[3];
    int64_t od[3][AVF_MAX_DIMS];
    AVF_TRY(avf_rnn_shape(p, &shapes, on, od));
    for (int i = 0; i < 3; i++) {
        if (!out[i])
            continue;
        snprintf(what, sizeof what, "%s %s", op, out_names[i]);
        if (on[i] < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s has no Y_c output", op, op);
        AVF_TRY(avf_op_check_tensor(ctx, out[i], what));
        AVF_TRY(avf_op_check_dtype(out[i], what, f32, 1));
        AVF_TRY(avf_op_check_shape(out[i], what, on[i], od[i]));
    }
    avf_rnn_dims d;
    AVF_TRY(rnn_dims(p, &shapes, &d));
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_rnn(ctx, p, &d, in, out);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_rnn(ctx, p, &d, in, out);
#else
    return AVF_OP_NO_CUDA(op);
#endif
}
