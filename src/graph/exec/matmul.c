/* Executor ops of the matmul family (see graph/exec_op.h): MatMul, Gemm,
 * LSTM, GRU, RNN, ONNX opsets 7-21. */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec_op.h"
#include "ops/matmul.h"
#include "ops/rnn.h"


static avf_status float_operands(const avf_exec_call *call, const char *op, int n) {
    const avf_tensor *a = avf_exec_in(call, 0);
    if (!a)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input A is missing", call->node->name, op);
    if (a->dtype != AVF_DTYPE_F32 && a->dtype != AVF_DTYPE_F16 && a->dtype != AVF_DTYPE_BF16 &&
        a->dtype != AVF_DTYPE_F64)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): dtype %s is not supported",
                        call->node->name, op, avf_dtype_name(a->dtype));
    for (int i = 1; i < n; i++) {
        const avf_tensor *t = avf_exec_in(call, i);
        if (t && t->dtype != a->dtype)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %d is %s, input 0 is %s",
                            call->node->name, op, i, avf_dtype_name(t->dtype),
                            avf_dtype_name(a->dtype));
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- MatMul */

static avf_status matmul_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)node;
    (void)opset;
    (void)params;
    return AVF_OK;
}

static avf_status matmul_infer(void *params, avf_exec_call *call) {
    (void)params;
    AVF_TRY(float_operands(call, "MatMul", 2));
    const avf_tensor *a = avf_exec_in(call, 0), *b = avf_exec_in(call, 1);
    if (!b)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (MatMul): input B is missing", call->node->name);
    int n = 0;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_matmul_shape(a->ndim, a->shape, b->ndim, b->shape, &n, dims));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], a->dtype, n, dims);
    return AVF_OK;
}

static avf_status matmul_run(const void *params, avf_exec_call *call) {
    (void)params;
    if (!avf_exec_out(call, 0))
        return AVF_OK;
    return avf_op_matmul(call->ctx, avf_exec_in(call, 0), avf_exec_in(call, 1), call->out[0]);
}

static const avf_exec_op exec_matmul = {"MatMul", 0, 0, matmul_prepare, matmul_infer, matmul_run};

/* ---------------------------------------------------------------- Gemm */

typedef struct gemm_exec {
    avf_gemm_params p;
    int c_required; /* opsets before 11 */
} gemm_exec;

static avf_status gemm_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    gemm_exec *g = (gemm_exec *)params;
    int64_t ta = 0, tb = 0;
    AVF_TRY(avf_exec_attr_int(node, "transA", 0, &ta));
    AVF_TRY(avf_exec_attr_int(node, "transB", 0, &tb));
    AVF_TRY(avf_exec_attr_float(node, "alpha", 1.0f, &g->p.alpha));
    AVF_TRY(avf_exec_attr_float(node, "beta", 1.0f, &g->p.beta));
    g->p.trans_a = ta != 0;
    g->p.trans_b = tb != 0;
    g->c_required = opset < 11;
    return AVF_OK;
}

static avf_status gemm_infer(void *params, avf_exec_call *call) {
    gemm_exec *g = (gemm_exec *)params;
    AVF_TRY(float_operands(call, "Gemm", 3));
    const avf_tensor *a = avf_exec_in(call, 0), *b = avf_exec_in(call, 1), *c = avf_exec_in(call, 2);
    if (!b)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Gemm): input B is missing", call->node->name);
    if (!c && g->c_required)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Gemm): input C is required before opset 11",
                        call->node->name);
    int n = 0;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_gemm_shape(&g->p, a->ndim, a->shape, b->ndim, b->shape, c ? c->ndim : -1,
                           c ? c->shape : NULL, &n, dims));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], a->dtype, n, dims);
    return AVF_OK;
}

static avf_status gemm_run(const void *params, avf_exec_call *call) {
    const gemm_exec *g = (const gemm_exec *)params;
    if (!avf_exec_out(call, 0))
        return AVF_OK;
    return avf_op_gemm(call->ctx, &g->p, avf_exec_in(call, 0), avf_exec_in(call, 1), avf_exec_in(call, 2),
                       call->out[0]);
}

static const avf_exec_op exec_gemm = {"Gemm", 0, 0, gemm_prepare, gemm_infer, gemm_run};

/* ---------------------------------------------------------------- LSTM, GRU, RNN */

static avf_status rnn_prepare(const avf_graph_node *node, avf_rnn_kind kind, int64_t opset,
                              avf_rnn_params *p) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    const char *dir = NULL;
    AVF_TRY(avf_exec_attr_string(node, "direction", "forward", &dir));
    if (strcmp(dir, "forward") == 0)
        p->direction = AVF_RNN_FORWARD;
    else if (strcmp(dir, "reverse") == 0)
        p->direction = AVF_RNN_REVERSE;
    else if (strcmp(dir, "bidirectional") == 0)
        p->direction = AVF_RNN_BIDIRECTIONAL;
    else
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): direction '%s'", node->name,
                        node->op_type, dir);
    int64_t v = 0;
    AVF_TRY(avf_exec_attr_int(node, "hidden_size", 0, &v));
    if (v < 0 || v > ((int64_t)1 << 30))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): hidden_size %lld", node->name,
                        node->op_type, (long long)v);
    p->hidden_size = v; /* 0: taken from R at infer */
    AVF_TRY(avf_exec_attr_int(node, "layout", 0, &v));
    if (v != 0 && v != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): layout %lld", node->name,
                        node->op_type, (long long)v);
    if (v && opset < 14)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): layout needs opset 14", node->name,
                        node->op_type);
    p->layout = (int)v;
    AVF_TRY(avf_exec_attr_int(node, "input_forget", 0, &v));
    p->input_forget = v != 0;
    AVF_TRY(avf_exec_attr_int(node, "linear_before_reset", 0, &v));
    p->linear_before_reset = v != 0;
    if (avf_graph_node_attr(node, "clip")) {
        AVF_TRY(avf_exec_attr_float(node, "clip", 0.0f, &p->clip));
        if (!(p->clip > 0.0f))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): clip %g must be positive",
                            node->name, node->op_type, (double)p->clip);
        p->has_clip = 1;
    }
    avf_rnn_default_acts(p);
    const avf_graph_attr *acts = avf_graph_node_attr(node, "activations");
    if (!acts)
        return AVF_OK;
    const avf_graph_attr *al = avf_graph_node_attr(node, "activation_alpha");
    const avf_graph_attr *be = avf_graph_node_attr(node, "activation_beta");
    if (acts->type != AVF_ATTR_STRINGS || (al && al->type != AVF_ATTR_FLOATS) ||
        (be && be->type != AVF_ATTR_FLOATS))
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): activation attributes of the wrong type",
                        node->name, node->op_type);
    int per = avf_rnn_num_acts(kind), dirs = p->direction == AVF_RNN_BIDIRECTIONAL ? 2 : 1;
    if (acts->n != per * dirs)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): %d activations, expected %d",
                        node->name, node->op_type, acts->n, per * dirs);
    /* alpha and beta values are consumed in order by the activations that
     * take them; missing ones keep the function's default */
    int ia = 0, ib = 0;
    for (int i = 0; i < acts->n; i++) {
        avf_rnn_act *a = &p->act[i / per][i % per];
        int has_a = 0, has_b = 0;
        AVF_TRY(avf_rnn_act_parse(acts->strings[i], a, &has_a, &has_b));
        if (has_a && al && ia < al->n)
            a->alpha = al->floats[ia++];
        if (has_b && be && ib < be->n)
            a->beta = be->floats[ib++];
    }
    return AVF_OK;
}

static avf_status lstm_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    return rnn_prepare(node, AVF_RNN_LSTM, opset, (avf_rnn_params *)params);
}
static avf_status gru_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    return rnn_prepare(node, AVF_RNN_GRU, opset, (avf_rnn_params *)params);
}
static avf_status simple_rnn_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    return rnn_prepare(node, AVF_RNN_SIMPLE, opset, (avf_rnn_params *)params);
}

static avf_status rnn_infer(void *params, avf_exec_call *call) {
    avf_rnn_params *p = (avf_rnn_params *)params;
    avf_rnn_shapes shapes;
    const avf_tensor *x = avf_exec_in(call, 0);
    if (x && x->dtype != AVF_DTYPE_F32)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): dtype %s (only f32 runs)",
                        call->node->name, call->node->op_type, avf_dtype_name(x->dtype));
    for (int i = 0; i < 8; i++) {
        const avf_tensor *t = avf_exec_in(call, i);
        shapes.ndim[i] = t ? t->ndim : -1;
        if (t)
            memcpy(shapes.dims[i], t->shape, sizeof shapes.dims[i]);
        if (i <= AVF_RNN_IN_R && !t)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %d is required",
                            call->node->name, call->node->op_type, i);
    }
    int on[3];
    int64_t od[3][AVF_MAX_DIMS];
    AVF_TRY(avf_rnn_shape(p, &shapes, on, od));
    for (int i = 0; i < 3; i++) {
        avf_tensor *o = avf_exec_out(call, i);
        if (o && on[i] >= 0)
            avf_exec_set_out(o, AVF_DTYPE_F32, on[i], od[i]);
    }
    return AVF_OK;
}

static avf_status rnn_run(const void *params, avf_exec_call *call) {
    const avf_tensor *in[8];
    avf_tensor *out[3];
    for (int i = 0; i < 8; i++)
        in[i] = avf_exec_in(call, i);
    for (int i = 0; i < 3; i++)
        out[i] = avf_exec_out(call, i);
    return avf_op_rnn(call->ctx, (const avf_rnn_params *)params, in, out);
}

static const avf_exec_op exec_lstm = {"LSTM", 0, 0, lstm_prepare, rnn_infer, rnn_run};
static const avf_exec_op exec_gru = {"GRU", 0, 0, gru_prepare, rnn_infer, rnn_run};
static const avf_exec_op exec_rnn = {"RNN", 0, 0, simple_rnn_prepare, rnn_infer, rnn_run};

const avf_exec_op *const avf_exec_ops_matmul[] = {
    &exec_matmul, &exec_gemm, &exec_lstm, &exec_gru, &exec_rnn, NULL,
};

_Static_assert(sizeof(gemm_exec) <= AVF_EXEC_PARAMS_MAX, "Gemm params too large");
_Static_assert(sizeof(avf_rnn_params) <= AVF_EXEC_PARAMS_MAX, "RNN params too large");
