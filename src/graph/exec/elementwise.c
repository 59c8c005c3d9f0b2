/* Executor ops of the elementwise family (see graph/exec_op.h): ONNX
 * activations and unary math, Cast, Identity, broadcasting binary ops,
 * variadic Max/Min, logic and Where, for every opset 7-21 form. */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "graph/exec_op.h"
#include "graph/onnx.h"
#include "ops/elementwise.h"

/* The params blob (max_align_t aligned by the executor). */
typedef struct ew_params {
    avf_unary_params u;
    avf_binary_op bop;
    avf_dtype to;        /* Cast */
    int clip_inputs;     /* Clip opset >= 11: bounds are inputs 1 and 2 */
} ew_params;

static avf_status set_out(avf_exec_call *call, avf_dtype dt, int nd, const int64_t *shape) {
    avf_tensor *y = call->n_out > 0 ? call->out[0] : NULL;
    if (!y)
        return AVF_OK;
    y->dtype = dt;
    y->ndim = nd;
    if (nd)
        memcpy(y->shape, shape, (size_t)nd * sizeof *shape);
    return AVF_OK;
}

static avf_status need_in(const avf_exec_call *call, int n) {
    for (int i = 0; i < n; i++)
        if (i >= call->n_in || !call->in[i])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %d is missing",
                            call->node->name, call->node->op_type, i);
    return AVF_OK;
}

/* ------------------------------------------------------------- unary */

static const struct {
    const char *name;
    avf_unary_op op;
} unary_names[] = {
    {"Relu", AVF_UNARY_RELU},   {"LeakyRelu", AVF_UNARY_LEAKY_RELU},
    {"Sigmoid", AVF_UNARY_SIGMOID}, {"HardSigmoid", AVF_UNARY_HARD_SIGMOID},
    {"HardSwish", AVF_UNARY_HARD_SWISH}, {"Tanh", AVF_UNARY_TANH},
    {"Erf", AVF_UNARY_ERF},     {"Gelu", AVF_UNARY_GELU},
    {"Sqrt", AVF_UNARY_SQRT},   {"Exp", AVF_UNARY_EXP},
    {"Log", AVF_UNARY_LOG},     {"Neg", AVF_UNARY_NEG},
    {"Abs", AVF_UNARY_ABS},     {"Clip", AVF_UNARY_CLIP},
    {"Not", AVF_UNARY_NOT},     {"Identity", AVF_UNARY_IDENTITY},
};

static avf_status unary_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    ew_params *p = (ew_params *)params;
    memset(p, 0, sizeof *p);
    size_t i = 0, n = sizeof unary_names / sizeof unary_names[0];
    while (i < n && strcmp(unary_names[i].name, node->op_type) != 0)
        i++;
    if (i == n)
        return AVF_FAIL(AVF_ERR_INTERNAL, "elementwise: no unary op '%s'", node->op_type);
    p->u.op = unary_names[i].op;
    switch (p->u.op) {
    case AVF_UNARY_LEAKY_RELU:
        return avf_exec_attr_float(node, "alpha", 0.01f, &p->u.alpha);
    case AVF_UNARY_HARD_SIGMOID:
        AVF_TRY(avf_exec_attr_float(node, "alpha", 0.2f, &p->u.alpha));
        return avf_exec_attr_float(node, "beta", 0.5f, &p->u.beta);
    case AVF_UNARY_GELU: {
        const char *approx = NULL;
        AVF_TRY(avf_exec_attr_string(node, "approximate", "none", &approx));
        if (strcmp(approx, "tanh") == 0)
            p->u.op = AVF_UNARY_GELU_TANH;
        else if (strcmp(approx, "none") != 0)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Gelu): approximate='%s'",
                            node->name, approx);
        return AVF_OK;
    }
    case AVF_UNARY_CLIP:
        if (opset >= 11) {
            p->clip_inputs = 1;
            return AVF_OK;
        }
        /* opset 6: float attributes, absent = unbounded */
        if (avf_graph_node_attr(node, "min")) {
            float v;
            AVF_TRY(avf_exec_attr_float(node, "min", 0.f, &v));
            p->u.has_min = 1;
            p->u.fmin = v;
        }
        if (avf_graph_node_attr(node, "max")) {
            float v;
            AVF_TRY(avf_exec_attr_float(node, "max", 0.f, &v));
            p->u.has_max = 1;
            p->u.fmax = v;
        }
        return AVF_OK;
    default:
        return AVF_OK;
    }
}

/* A Clip bound from its host copy: a scalar (or one-element) tensor of x's
 * dtype; an empty tensor means no bound. */
static avf_status clip_bound(const avf_exec_call *call, int i, int *has, double *f, int64_t *iv) {
    const avf_tensor *t = i < call->n_in ? call->in_host[i] : NULL;
    *has = 0;
    if (i < call->n_in && call->in[i] && !t)
        return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (Clip): bound %d not on the host",
                        call->node->name, i);
    if (!t || avf_tensor_numel(t) == 0)
        return AVF_OK;
    if (avf_tensor_numel(t) != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Clip): input %d has %lld values, "
                        "expected a scalar", call->node->name, i, (long long)avf_tensor_numel(t));
    /* fp16 runs keep host copies of float constants in f32 while x is f16:
     * a float bound of another float dtype is the same number */
    avf_dtype bt = t->dtype, xt = call->in[0]->dtype;
    int both_float = (bt == AVF_DTYPE_F32 || bt == AVF_DTYPE_F16) &&
                     (xt == AVF_DTYPE_F32 || xt == AVF_DTYPE_F16);
    if (t->dtype != call->in[0]->dtype && !both_float)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Clip): bound dtype %s differs from %s",
                        call->node->name, avf_dtype_name(t->dtype),
                        avf_dtype_name(call->in[0]->dtype));
    const void *d = t->data;
    switch (t->dtype) {
    case AVF_DTYPE_F32: *f = *(const float *)d; break;
    case AVF_DTYPE_F64: *f = *(const double *)d; break;
    case AVF_DTYPE_F16: *f = avf_f16_to_f32(*(const uint16_t *)d); break;
    case AVF_DTYPE_BF16: *f = avf_bf16_to_f32(*(const uint16_t *)d); break;
    case AVF_DTYPE_I64: *iv = *(const int64_t *)d; break;
    case AVF_DTYPE_I32: *iv = *(const int32_t *)d; break;
    case AVF_DTYPE_I16: *iv = *(const int16_t *)d; break;
    case AVF_DTYPE_I8: *iv = *(const int8_t *)d; break;
    case AVF_DTYPE_U8: *iv = *(const uint8_t *)d; break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Clip): dtype %s", call->node->name,
                        avf_dtype_name(t->dtype));
    }
    *has = 1;
    return AVF_OK;
}

static avf_status unary_infer(void *params, avf_exec_call *call) {
    ew_params *p = (ew_params *)params;
    AVF_TRY(need_in(call, 1));
    const avf_tensor *x = call->in[0];
    if (p->clip_inputs) {
        AVF_TRY(clip_bound(call, 1, &p->u.has_min, &p->u.fmin, &p->u.imin));
        AVF_TRY(clip_bound(call, 2, &p->u.has_max, &p->u.fmax, &p->u.imax));
    }
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_unary_shape(&p->u, x->dtype, x->ndim, x->shape, &dt, &nd, shape));
    return set_out(call, dt, nd, shape);
}

static avf_status unary_run(const void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    if (!call->out[0])
        return AVF_OK;
    return avf_op_unary(call->ctx, &p->u, call->in[0], call->out[0]);
}

/* ------------------------------------------------------------- Cast */

static avf_status cast_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    ew_params *p = (ew_params *)params;
    memset(p, 0, sizeof *p);
    int64_t to = -1;
    AVF_TRY(avf_exec_attr_int(node, "to", -1, &to));
    int dt = to >= 0 && to <= INT32_MAX ? avf_onnx_dtype((int32_t)to) : -1;
    if (dt < 0)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Cast): unsupported 'to'=%lld",
                        node->name, (long long)to);
    p->to = (avf_dtype)dt;
    return AVF_OK;
}

static avf_status cast_infer(void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    AVF_TRY(need_in(call, 1));
    const avf_tensor *x = call->in[0];
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_cast_shape(p->to, x->dtype, x->ndim, x->shape, &dt, &nd, shape));
    return set_out(call, dt, nd, shape);
}

static avf_status cast_run(const void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    if (!call->out[0])
        return AVF_OK;
    return avf_op_cast(call->ctx, p->to, call->in[0], call->out[0]);
}

/* ------------------------------------------------------------- binary */

static const struct {
    const char *name;
    avf_binary_op op;
} binary_names[] = {
    {"Add", AVF_BINARY_ADD},         {"Sub", AVF_BINARY_SUB},
    {"Mul", AVF_BINARY_MUL},         {"Div", AVF_BINARY_DIV},
    {"Pow", AVF_BINARY_POW},         {"Max", AVF_BINARY_MAX},
    {"Min", AVF_BINARY_MIN},         {"Equal", AVF_BINARY_EQUAL},
    {"Less", AVF_BINARY_LESS},       {"LessOrEqual", AVF_BINARY_LESS_EQUAL},
    {"Greater", AVF_BINARY_GREATER}, {"GreaterOrEqual", AVF_BINARY_GREATER_EQUAL},
    {"And", AVF_BINARY_AND},         {"Or", AVF_BINARY_OR},
};

static avf_status binary_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    ew_params *p = (ew_params *)params;
    memset(p, 0, sizeof *p);
    size_t i = 0, n = sizeof binary_names / sizeof binary_names[0];
    while (i < n && strcmp(binary_names[i].name, node->op_type) != 0)
        i++;
    if (i == n)
        return AVF_FAIL(AVF_ERR_INTERNAL, "elementwise: no binary op '%s'", node->op_type);
    p->bop = binary_names[i].op;
    /* opset < 7 broadcast only with broadcast=1 and an axis: not supported */
    const avf_graph_attr *bc = avf_graph_node_attr(node, "axis");
    if (bc)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): legacy 'axis' broadcasting",
                        node->name, node->op_type);
    return AVF_OK;
}

static avf_status binary_infer(void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    AVF_TRY(need_in(call, 2));
    const avf_tensor *a = call->in[0], *b = call->in[1];
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_binary_shape(p->bop, a->dtype, a->ndim, a->shape, b->dtype, b->ndim, b->shape, &dt,
                             &nd, shape));
    return set_out(call, dt, nd, shape);
}

static avf_status binary_run(const void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    if (!call->out[0])
        return AVF_OK;
    return avf_op_binary(call->ctx, p->bop, call->in[0], call->in[1], call->out[0]);
}

/* Max/Min: 1..N inputs (opset 8+ broadcast; before, same shapes, which
 * broadcasting accepts too). */
static avf_status variadic_infer(void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    if (call->n_in < 1 || call->n_in > AVF_EW_MAX_VARIADIC)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): %d inputs", call->node->name,
                        call->node->op_type, call->n_in);
    AVF_TRY(need_in(call, call->n_in));
    avf_dtype dts[AVF_EW_MAX_VARIADIC];
    int ndims[AVF_EW_MAX_VARIADIC];
    const int64_t *shapes[AVF_EW_MAX_VARIADIC];
    for (int i = 0; i < call->n_in; i++) {
        dts[i] = call->in[i]->dtype;
        ndims[i] = call->in[i]->ndim;
        shapes[i] = call->in[i]->shape;
    }
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_binary_n_shape(p->bop, call->n_in, dts, ndims, shapes, &dt, &nd, shape));
    return set_out(call, dt, nd, shape);
}

static avf_status variadic_run(const void *params, avf_exec_call *call) {
    const ew_params *p = (const ew_params *)params;
    if (!call->out[0])
        return AVF_OK;
    return avf_op_binary_n(call->ctx, p->bop, call->n_in, call->in, call->out[0]);
}

/* ------------------------------------------------------------- Where */

static avf_status where_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    memset(params, 0, sizeof(ew_params));
    return AVF_OK;
}

static avf_status where_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_in(call, 3));
    const avf_tensor *c = call->in[0], *x = call->in[1], *y = call->in[2];
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_where_shape(c->dtype, c->ndim, c->shape, x->dtype, x->ndim, x->shape, y->dtype,
                            y->ndim, y->shape, &dt, &nd, shape));
    return set_out(call, dt, nd, shape);
}

static avf_status where_run(const void *params, avf_exec_call *call) {
    if (!call->out[0])
        return AVF_OK;
    return avf_op_where(call->ctx, call->in[0], call->in[1], call->in[2], call->out[0]);
}

/* ------------------------------------------------------------- table */

#define UNARY_OP(name, var) \
    static const avf_exec_op var = {name, 0, 0, unary_prepare, unary_infer, unary_run};
#define BINARY_OP(name, var) \
    static const avf_exec_op var = {name, 0, 0, binary_prepare, binary_infer, binary_run};

UNARY_OP("Relu", op_relu)
UNARY_OP("LeakyRelu", op_leaky_relu)
UNARY_OP("Sigmoid", op_sigmoid)
UNARY_OP("HardSigmoid", op_hard_sigmoid)
UNARY_OP("HardSwish", op_hard_swish)
UNARY_OP("Tanh", op_tanh)
UNARY_OP("Erf", op_erf)
UNARY_OP("Gelu", op_gelu)
UNARY_OP("Sqrt", op_sqrt)
UNARY_OP("Exp", op_exp)
UNARY_OP("Log", op_log)
UNARY_OP("Neg", op_neg)
UNARY_OP("Abs", op_abs)
UNARY_OP("Not", op_not)
UNARY_OP("Identity", op_identity)
/* Clip's min/max inputs (opset 11+) are read on the host. */
static const avf_exec_op op_clip = {"Clip", 0x6, 0, unary_prepare, unary_infer, unary_run};
static const avf_exec_op op_cast = {"Cast", 0, 0, cast_prepare, cast_infer, cast_run};

BINARY_OP("Add", op_add)
BINARY_OP("Sub", op_sub)
BINARY_OP("Mul", op_mul)
BINARY_OP("Div", op_div)
BINARY_OP("Pow", op_pow)
BINARY_OP("Equal", op_equal)
BINARY_OP("Less", op_less)
BINARY_OP("LessOrEqual", op_less_equal)
BINARY_OP("Greater", op_greater)
BINARY_OP("GreaterOrEqual", op_greater_equal)
BINARY_OP("And", op_and)
BINARY_OP("Or", op_or)
static const avf_exec_op op_max = {"Max", 0, 0, binary_prepare, variadic_infer, variadic_run};
static const avf_exec_op op_min = {"Min", 0, 0, binary_prepare, variadic_infer, variadic_run};
static const avf_exec_op op_where = {"Where", 0, 0, where_prepare, where_infer, where_run};

const avf_exec_op *const avf_exec_ops_elementwise[] = {
    &op_relu, &op_leaky_relu, &op_sigmoid, &op_hard_sigmoid, &op_hard_swish, &op_tanh,
    &op_erf,  &op_gelu,       &op_sqrt,    &op_exp,          &op_log,        &op_neg,
    &op_abs,  &op_not,        &op_identity, &op_clip,        &op_cast,       &op_add,
    &op_sub,  &op_mul,        &op_div,     &op_pow,          &op_equal,      &op_less,
    &op_less_equal, &op_greater, &op_greater_equal, &op_and, &op_or,         &op_max,
    &op_min,  &op_where,      NULL,
};
