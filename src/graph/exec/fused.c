/* Executor ops of the internal domain "avflow" (see graph/exec_op.h): the
 * nodes the graph passes (src/graph/passes) create.
 *
 *   FusedConv(X, W, B?)     Conv without its bias, then one epilogue kernel
 *                           in place: act(y + B[c]) * post_mul + post_add
 *   FusedConvTranspose      the same around ConvTranspose
 *   FusedMatMul(A, B, C?)   MatMul, then the epilogue with C along the last axis
 *   Act(X)                  the epilogue alone (a written-out activation chain)
 *   LayerNormalization      ONNX LayerNormalization under any opset (the
 *                           written-out form exporters of opset < 17 emit)
 *   PairMagnitude(X)        sqrt(first half^2 + second half^2) along `axis`,
 *                           halves of `half` (ops/magnitude.h: a written-out
 *                           STFT magnitude)
 *
 * Attributes of the epilogue: activation (string, see ops/fused.h; "" none),
 * alpha, beta, post_mul, post_add. FusedConv also takes Conv's attributes.
 * The convolution and the product are delegated to the Conv and MatMul exec
 * ops, so their attribute rules and shape checks are the same ones.
 *
 * The executor prepares these nodes at compile time like any other;
 * infer still prepares when it sees `prepared` == 0 (a caller that runs an
 * op without compiling a graph).
 */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec_op.h"
#include "ops/conv.h"
#include "ops/fused.h"
#include "ops/magnitude.h"

typedef struct fused_exec {
    avf_epilogue_params ep;
    int prepared;
    const avf_exec_op *inner; /* Conv, MatMul, LayerNormalization or NULL */
    union {
        max_align_t align;
        unsigned char b[AVF_EXEC_PARAMS_MAX - 128];
    } ip; /* the inner op's params */
} fused_exec;

_Static_assert(sizeof(fused_exec) <= AVF_EXEC_PARAMS_MAX, "fused params fit the params blob");

static avf_status read_epilogue(const avf_graph_node *n, avf_epilogue_params *ep) {
    const char *act = NULL;
    AVF_TRY(avf_exec_attr_string(n, "activation", "", &act));
    avf_status st = avf_act_parse(act, &ep->act);
    if (st != AVF_OK)
        return AVF_FAIL(st, "node '%s' (%s): unknown activation '%s'", n->name, n->op_type, act);
    float da = 0.0f, db = 0.0f;
    switch (ep->act) {
    case AVF_ACT_LEAKY_RELU: da = 0.01f; break;
    case AVF_ACT_HARD_SIGMOID: da = 0.2f; db = 0.5f; break;
    case AVF_ACT_HARD_SWISH: da = 1.0f / 6.0f; db = 0.5f; break;
    case AVF_ACT_CLIP: da = -INFINITY; db = INFINITY; break;
    default: break;
    }
    AVF_TRY(avf_exec_attr_float(n, "alpha", da, &ep->alpha));
    AVF_TRY(avf_exec_attr_float(n, "beta", db, &ep->beta));
    AVF_TRY(avf_exec_attr_float(n, "post_mul", 1.0f, &ep->post_mul));
    AVF_TRY(avf_exec_attr_float(n, "post_add", 0.0f, &ep->post_add));
    return AVF_OK;
}

static avf_status prepare_with(const avf_graph_node *n, int64_t opset, void *params,
                               const char *inner_op, int epilogue) {
    fused_exec *f = (fused_exec *)params;
    memset(f, 0, sizeof *f);
    f->ep.post_mul = 1.0f;
    if (epilogue)
        AVF_TRY(read_epilogue(n, &f->ep));
    if (inner_op) {
        f->inner = avf_exec_find("", inner_op);
        if (!f->inner)
            return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (%s): no exec op %s", n->name,
                            n->op_type, inner_op);
        /* the inner op reads only its own attributes of the node */
        if (f->inner->prepare)
            AVF_TRY(f->inner->prepare(n, opset, f->ip.b));
    }
    f->prepared = 1;
    return AVF_OK;
}

static avf_status conv_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return prepare_with(n, opset, params, "Conv", 1);
}
static avf_status convt_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return prepare_with(n, opset, params, "ConvTranspose", 1);
}
static avf_status matmul_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return prepare_with(n, opset, params, "MatMul", 1);
}
static avf_status act_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return prepare_with(n, opset, params, NULL, 1);
}
static avf_status ln_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return prepare_with(n, opset, params, "LayerNormalization", 0);
}

static avf_status ensure_prepared(fused_exec *f, avf_exec_call *call,
                                  avf_status (*prep)(const avf_graph_node *, int64_t, void *)) {
    return f->prepared ? AVF_OK : prep(call->node, call->opset, f);
}

/* The call without input `drop` onward (the bias the epilogue adds). */
static avf_exec_call without_inputs_from(const avf_exec_call *call, int drop) {
    avf_exec_call c = *call;
    if (c.n_in > drop)
        c.n_in = drop;
    return c;
}

static avf_status float_x(const avf_exec_call *call) {
    const avf_tensor *x = avf_exec_in(call, 0);
    if (!x)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input 0 is missing",
                        call->node->name, call->node->op_type);
    if (x->dtype != AVF_DTYPE_F32 && x->dtype != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): dtype %s is not supported",
                        call->node->name, call->node->op_type, avf_dtype_name(x->dtype));
    return AVF_OK;
}

/* ---------------------------------------------------------------- FusedConv */

static avf_status conv_infer_any(void *params, avf_exec_call *call,
                                 avf_status (*prep)(const avf_graph_node *, int64_t, void *)) {
    fused_exec *f = (fused_exec *)params;
    AVF_TRY(ensure_prepared(f, call, prep));
    AVF_TRY(float_x(call));
    /* Conv's infer sees the bias too, so its shape is checked there */
    return f->inner->infer(f->ip.b, call);
}

static avf_status conv_infer(void *params, avf_exec_call *call) {
    return conv_infer_any(params, call, conv_prepare);
}
static avf_status convt_infer(void *params, avf_exec_call *call) {
    return conv_infer_any(params, call, convt_prepare);
}

/* Conv and its epilogue in one op call (one kernel where the device has a
 * fused one: CUDA depthwise). */
static avf_status conv_run(const void *params, avf_exec_call *call) {
    const fused_exec *f = (const fused_exec *)params;
    avf_tensor *y = avf_exec_out(call, 0);
    if (!y)
        return AVF_OK;
    return avf_op_conv_epilogue(call->ctx, avf_exec_conv_resolved(f->ip.b), avf_exec_in(call, 0),
                                avf_exec_in(call, 1), avf_exec_in(call, 2), &f->ep, y);
}

static avf_status convt_run(const void *params, avf_exec_call *call) {
    const fused_exec *f = (const fused_exec *)params;
    avf_tensor *y = avf_exec_out(call, 0);
    if (!y)
        return AVF_OK;
    avf_exec_call c = without_inputs_from(call, 2);
    AVF_TRY(f->inner->run(f->ip.b, &c));
    return avf_op_epilogue(call->ctx, &f->ep, y, avf_exec_in(call, 2), 1, y);
}

/* ---------------------------------------------------------------- FusedMatMul */

static avf_status matmul_infer(void *params, avf_exec_call *call) {
    fused_exec *f = (fused_exec *)params;
    AVF_TRY(ensure_prepared(f, call, matmul_prepare));
    AVF_TRY(float_x(call));
    avf_exec_call c = without_inputs_from(call, 2);
    AVF_TRY(f->inner->infer(f->ip.b, &c));
    const avf_tensor *bias = avf_exec_in(call, 2);
    avf_tensor *y = avf_exec_out(call, 0);
    if (bias && y) {
        int last = y->ndim - 1;
        if (last < 0 || bias->ndim != 1 || bias->shape[0] != y->shape[last] ||
            bias->dtype != y->dtype)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "node '%s' (FusedMatMul): bias must be 1-D with as many elements "
                            "as the product's last dim, of its dtype",
                            call->node->name);
    }
    return AVF_OK;
}

static avf_status matmul_run(const void *params, avf_exec_call *call) {
    const fused_exec *f = (const fused_exec *)params;
    avf_tensor *y = avf_exec_out(call, 0);
    if (!y)
        return AVF_OK;
    avf_exec_call c = without_inputs_from(call, 2);
    AVF_TRY(f->inner->run(f->ip.b, &c));
    return avf_op_epilogue(call->ctx, &f->ep, y, avf_exec_in(call, 2), y->ndim - 1, y);
}

/* ---------------------------------------------------------------- Act */

static avf_status act_infer(void *params, avf_exec_call *call) {
    fused_exec *f = (fused_exec *)params;
    AVF_TRY(ensure_prepared(f, call, act_prepare));
    AVF_TRY(float_x(call));
    const avf_tensor *x = avf_exec_in(call, 0);
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], x->dtype, x->ndim, x->shape);
    return AVF_OK;
}

static avf_status act_run(const void *params, avf_exec_call *call) {
    const fused_exec *f = (const fused_exec *)params;
    avf_tensor *y = avf_exec_out(call, 0);
    if (!y)
        return AVF_OK;
    return avf_op_epilogue(call->ctx, &f->ep, avf_exec_in(call, 0), NULL, 0, y);
}

/* ---------------------------------------------------------------- LayerNormalization */

static avf_status ln_infer(void *params, avf_exec_call *call) {
    fused_exec *f = (fused_exec *)params;
    AVF_TRY(ensure_prepared(f, call, ln_prepare));
    return f->inner->infer(f->ip.b, call);
}

static avf_status ln_run(const void *params, avf_exec_call *call) {
    const fused_exec *f = (const fused_exec *)params;
    return f->inner->run(f->ip.b, call);
}

/* ---------------------------------------------------------------- PairMagnitude */

/* No params: the one attribute is read from the node (infer once per shape
 * signature, run once per plan capture). */
static avf_status mag_infer(void *params, avf_exec_call *call) {
    (void)params;
    AVF_TRY(float_x(call));
    int64_t axis = 0, half = 0;
    AVF_TRY(avf_exec_attr_int(call->node, "axis", 1, &axis));
    AVF_TRY(avf_exec_attr_int(call->node, "half", 0, &half));
    const avf_tensor *x = avf_exec_in(call, 0);
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    AVF_TRY(avf_pair_magnitude_shape(x->ndim, x->shape, axis, half, &ynd, ys));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], x->dtype, ynd, ys);
    return AVF_OK;
}

static avf_status mag_run(const void *params, avf_exec_call *call) {
    (void)params;
    avf_tensor *y = avf_exec_out(call, 0);
    if (!y)
        return AVF_OK;
    int64_t axis = 0, half = 0;
    AVF_TRY(avf_exec_attr_int(call->node, "axis", 1, &axis));
    AVF_TRY(avf_exec_attr_int(call->node, "half", 0, &half));
    return avf_op_pair_magnitude(call->ctx, avf_exec_in(call, 0), axis, half, y);
}

static const avf_exec_op op_fused_conv = {"FusedConv", 0, 0, conv_prepare, conv_infer, conv_run};
static const avf_exec_op op_fused_convt = {"FusedConvTranspose", 0, 0, convt_prepare, convt_infer,
                                           convt_run};
static const avf_exec_op op_fused_matmul = {"FusedMatMul", 0, 0, matmul_prepare, matmul_infer,
                                            matmul_run};
static const avf_exec_op op_act = {"Act", 0, 0, act_prepare, act_infer, act_run};
static const avf_exec_op op_ln = {"LayerNormalization", 0, 0, ln_prepare, ln_infer, ln_run};
static const avf_exec_op op_mag = {"PairMagnitude", 0, 0, NULL, mag_infer, mag_run};

const avf_exec_op *const avf_exec_ops_fused[] = {
    &op_fused_conv, &op_fused_convt, &op_fused_matmul, &op_act, &op_ln, &op_mag, NULL,
};
