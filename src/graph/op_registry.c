/* The table of supported ONNX ops and the load-time check against it. */
#include "graph/exec_op.h"
#include "graph/op_registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/onnx.h"
#include "graph/passes/passes.h"

#define F AVF_ATTR_FLOAT
#define I AVF_ATTR_INT
#define S AVF_ATTR_STRING
#define T AVF_ATTR_TENSOR
#define G AVF_ATTR_GRAPH
#define FS AVF_ATTR_FLOATS
#define IS AVF_ATTR_INTS
#define SS AVF_ATTR_STRINGS

/* ---------------------------------------------------------- value checks */

static int say(char *msg, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int say(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return 1;
}

/* A string attribute, when present, must be one of `allowed` (NULL-ended). */
static int check_enum(const avf_graph_node *n, const char *attr, const char *const *allowed,
                      char *msg, size_t cap) {
    const avf_graph_attr *a = avf_graph_node_attr(n, attr);
    if (!a)
        return 0;
    for (const char *const *p = allowed; *p; p++)
        if (strcmp(a->s, *p) == 0)
            return 0;
    return say(msg, cap, "unsupported attribute value %s='%s'", attr, a->s);
}

/* An int attribute, when present, must be one of `allowed` (count n). */
static int check_int(const avf_graph_node *n, const char *attr, const int64_t *allowed, int count,
                     char *msg, size_t cap) {
    const avf_graph_attr *a = avf_graph_node_attr(n, attr);
    if (!a)
        return 0;
    for (int i = 0; i < count; i++)
        if (a->i == allowed[i])
            return 0;
    return say(msg, cap, "unsupported attribute value %s=%lld", attr, (long long)a->i);
}

static const char *const auto_pads[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL};

static int check_pool(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    return check_enum(n, "auto_pad", auto_pads, msg, cap);
}

static int check_bn(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const int64_t zero[] = {0}, both[] = {0, 1}, one[] = {1};
    /* training_mode (opset >= 14) normalizes with batch statistics; the
     * opset < 14 training outputs and spatial=0 (per-element statistics,
     * opset < 9) are rare */
    return check_int(n, "training_mode", opset >= 14 ? both : zero, opset >= 14 ? 2 : 1, msg,
                     cap) ||
           check_int(n, "spatial", one, 1, msg, cap);
}

static int check_resize(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
    static const char *const coords[] = {"half_pixel",         "half_pixel_symmetric",
                                         "pytorch_half_pixel", "align_corners",
                                         "asymmetric",         "tf_half_pixel_for_nn",
                                         "tf_crop_and_resize", NULL};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil", NULL};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller", NULL};
    static const int64_t zero[] = {0};
    return check_enum(n, "mode", modes, msg, cap) ||
           check_enum(n, "coordinate_transformation_mode", coords, msg, cap) ||
           check_enum(n, "nearest_mode", nearest, msg, cap) ||
           check_enum(n, "keep_aspect_ratio_policy", policies, msg, cap) ||
           check_int(n, "antialias", zero, 1, msg, cap);
}

static int check_pad(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const char *const modes[] = {"constant", "reflect", "edge", NULL};
    return check_enum(n, "mode", modes, msg, cap);
}

static int check_dtype_attr(const avf_graph_node *n, const char *attr, char *msg, size_t cap) {
    const avf_graph_attr *a = avf_graph_node_attr(n, attr);
    if (a && (a->i < INT32_MIN || a->i > INT32_MAX || avf_onnx_dtype((int32_t)a->i) < 0))
        return say(msg, cap, "unsupported attribute value %s=%lld (data type %s)", attr,
                   (long long)a->i,
                   a->i >= 0 && a->i <= INT32_MAX ? avf_onnx_dtype_name((int32_t)a->i) : "?");
    return 0;
}

static int check_cast(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    if (!avf_graph_node_attr(n, "to"))
        return say(msg, cap, "missing attribute 'to'");
    return check_dtype_attr(n, "to", msg, cap);
}

static int check_quantize(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const int64_t zero[] = {0};
    return check_dtype_attr(n, "output_dtype", msg, cap) ||
           check_int(n, "block_size", zero, 1, msg, cap);
}

static int check_gelu(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const char *const approx[] = {"none", "tanh", NULL};
    return check_enum(n, "approximate", approx, msg, cap);
}

static int check_rnn(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const char *const dirs[] = {"forward", "reverse", "bidirectional", NULL};
    static const int64_t layouts[] = {0, 1};
    if (check_enum(n, "direction", dirs, msg, cap) || check_int(n, "layout", layouts, 2, msg, cap))
        return 1;
    /* activations: the kernels' prepare checks the names (all 11 of ONNX). */
    return 0;
}

static int check_scatter(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    static const char *const red[] = {"none", "add", "mul", "max", "min", NULL};
    return check_enum(n, "reduction", red, msg, cap);
}

static int check_constant(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    if (n->n_attrs != 1)
        return say(msg, cap, "needs exactly one value attribute, has %d", n->n_attrs);
    return 0;
}

static int check_const_of_shape(const avf_graph_node *n, int64_t opset, char *msg, size_t cap) {
    const avf_graph_attr *a = avf_graph_node_attr(n, "value");
    if (a && avf_tensor_numel(a->t) != 1)
        return say(msg, cap, "attribute 'value' must hold one element, has %lld",
                   (long long)avf_tensor_numel(a->t));
    return 0;
}

/* ---------------------------------------------------------- attribute sets */

#define END {NULL, 0}
static const avf_op_attr_def a_none[] = {END};
static const avf_op_attr_def a_axis[] = {{"axis", I}, END};
static const avf_op_attr_def a_conv[] = {{"auto_pad", S}, {"dilations", IS}, {"group", I},
                                         {"kernel_shape", IS}, {"pads", IS}, {"strides", IS},
                                         END};
static const avf_op_attr_def a_convt[] = {
    {"auto_pad", S}, {"dilations", IS}, {"group", I}, {"kernel_shape", IS}, {"pads", IS},
    {"strides", IS}, {"output_padding", IS}, {"output_shape", IS}, END};
static const avf_op_attr_def a_bn[] = {{"epsilon", F}, {"momentum", F}, {"spatial", I},
                                       {"training_mode", I}, END};
static const avf_op_attr_def a_clip[] = {{"min", F}, {"max", F}, END};
static const avf_op_attr_def a_alpha[] = {{"alpha", F}, END};
static const avf_op_attr_def a_hsig[] = {{"alpha", F}, {"beta", F}, END};
static const avf_op_attr_def a_gelu[] = {{"approximate", S}, END};
static const avf_op_attr_def a_gemm[] = {{"alpha", F}, {"beta", F}, {"transA", I},
                                         {"transB", I}, END};
static const avf_op_attr_def a_reduce[] = {{"axes", IS}, {"keepdims", I},
                                           {"noop_with_empty_axes", I}, END};
static const avf_op_attr_def a_avgpool[] = {
    {"auto_pad", S}, {"ceil_mode", I}, {"count_include_pad", I}, {"dilations", IS},
    {"kernel_shape", IS}, {"pads", IS}, {"strides", IS}, END};
static const avf_op_attr_def a_maxpool[] = {
    {"auto_pad", S}, {"ceil_mode", I}, {"dilations", IS}, {"kernel_shape", IS}, {"pads", IS},
    {"storage_order", I}, {"strides", IS}, END};
static const avf_op_attr_def a_resize[] = {
    {"mode", S}, {"coordinate_transformation_mode", S}, {"nearest_mode", S},
    {"cubic_coeff_a", F}, {"exclude_outside", I}, {"extrapolation_value", F},
    {"antialias", I}, {"axes", IS}, {"keep_aspect_ratio_policy", S}, END};
static const avf_op_attr_def a_pad[] = {{"mode", S}, {"pads", IS}, {"value", F}, END};
static const avf_op_attr_def a_split[] = {{"axis", I}, {"split", IS}, {"num_outputs", I}, END};
static const avf_op_attr_def a_slice[] = {{"starts", IS}, {"ends", IS}, {"axes", IS}, END};
static const avf_op_attr_def a_perm[] = {{"perm", IS}, END};
static const avf_op_attr_def a_reshape[] = {{"allowzero", I}, END};
static const avf_op_attr_def a_axes[] = {{"axes", IS}, END};
static const avf_op_attr_def a_cast[] = {{"to", I}, {"saturate", I}, END};
static const avf_op_attr_def a_shape[] = {{"start", I}, {"end", I}, END};
static const avf_op_attr_def a_value[] = {{"value", T}, END};
static const avf_op_attr_def a_layernorm[] = {{"axis", I}, {"epsilon", F}, {"stash_type", I},
                                              END};
static const avf_op_attr_def a_argmax[] = {{"axis", I}, {"keepdims", I},
                                           {"select_last_index", I}, END};
static const avf_op_attr_def a_topk[] = {{"axis", I}, {"k", I}, {"largest", I}, {"sorted", I},
                                         END};
static const avf_op_attr_def a_cumsum[] = {{"exclusive", I}, {"reverse", I}, END};
static const avf_op_attr_def a_scatter[] = {{"reduction", S}, END};
static const avf_op_attr_def a_quant[] = {{"axis", I}, {"saturate", I}, {"block_size", I},
                                          {"output_dtype", I}, END};
static const avf_op_attr_def a_dequant[] = {{"axis", I}, {"block_size", I}, END};
static const avf_op_attr_def a_lstm[] = {
    {"activation_alpha", FS}, {"activation_beta", FS}, {"activations", SS}, {"clip", F},
    {"direction", S}, {"hidden_size", I}, {"input_forget", I}, {"layout", I}, END};
static const avf_op_attr_def a_gru[] = {
    {"activation_alpha", FS}, {"activation_beta", FS}, {"activations", SS}, {"clip", F},
    {"direction", S}, {"hidden_size", I}, {"layout", I}, {"linear_before_reset", I}, END};
static const avf_op_attr_def a_rnn[] = {
    {"activation_alpha", FS}, {"activation_beta", FS}, {"activations", SS}, {"clip", F},
    {"direction", S}, {"hidden_size", I}, {"layout", I}, END};
static const avf_op_attr_def a_upsample[] = {{"mode", S}, {"scales", FS}, END};
static const avf_op_attr_def a_if[] = {{"then_branch", G}, {"else_branch", G}, END};
static const avf_op_attr_def a_loop[] = {{"body", G}, END};
static const avf_op_attr_def a_constant[] = {{"value", T}, {"value_float", F},
                                             {"value_floats", FS}, {"value_int", I},
                                             {"value_ints", IS}, END};
static const avf_op_attr_def a_dropout[] = {{"ratio", F}, {"seed", I}, END};

/* ---------------------------------------------------------- the table */

/* `since` is the first opset whose form of the op avflow implements. Most
 * ops changed before opset 7 (consumed_inputs, legacy broadcast/axis
 * attributes, shape attributes that later became inputs), so they start at
 * 7; the ones whose earliest form is the one avflow runs keep theirs
 * (GlobalAveragePool, GlobalMaxPool and Not are unchanged since opset 1,
 * HardSigmoid since 6). */

#define V (-1) /* variadic */
#define UNARY(name, since) {name, since, 1, 1, 1, 1, a_none, NULL}
#define BINARY(name, since) {name, since, 2, 2, 1, 1, a_none, NULL}

static const avf_op_def avf_ops[] = {
    /* control flow */
    {"If", 7, 1, 1, 1, V, a_if, NULL},
    {"Loop", 7, 0, V, 0, V, a_loop, NULL}, /* M and cond may both be omitted */
    /* recurrent */
    {"LSTM", 7, 3, 8, 0, 3, a_lstm, check_rnn},
    {"GRU", 7, 3, 6, 0, 2, a_gru, check_rnn},
    {"RNN", 7, 3, 6, 0, 2, a_rnn, check_rnn},
    /* convolution, normalization, pooling */
    {"Conv", 7, 2, 3, 1, 1, a_conv, check_pool},
    {"ConvTranspose", 7, 2, 3, 1, 1, a_convt, check_pool},
    {"BatchNormalization", 7, 5, 5, 1, 5, a_bn, check_bn},
    {"LayerNormalization", 17, 2, 3, 1, 3, a_layernorm, NULL},
    {"GlobalAveragePool", 1, 1, 1, 1, 1, a_none, NULL},
    {"GlobalMaxPool", 1, 1, 1, 1, 1, a_none, NULL},
    {"AveragePool", 7, 1, 1, 1, 1, a_avgpool, check_pool},
    {"MaxPool", 7, 1, 1, 1, 2, a_maxpool, check_pool},
    /* activations */
    {"Clip", 7, 1, 3, 1, 1, a_clip, NULL},
    UNARY("Relu", 7),
    {"LeakyRelu", 7, 1, 1, 1, 1, a_alpha, NULL},
    UNARY("Sigmoid", 7),
    {"HardSigmoid", 6, 1, 1, 1, 1, a_hsig, NULL},
    UNARY("HardSwish", 14),
    UNARY("Tanh", 7),
    UNARY("Erf", 9),
    {"Gelu", 20, 1, 1, 1, 1, a_gelu, check_gelu},
    {"Softmax", 7, 1, 1, 1, 1, a_axis, NULL},
    {"LogSoftmax", 7, 1, 1, 1, 1, a_axis, NULL},
    /* linear algebra and elementwise */
    BINARY("MatMul", 7),
    {"Gemm", 7, 2, 3, 1, 1, a_gemm, NULL},
    BINARY("Add", 7),
    BINARY("Sub", 7),
    BINARY("Mul", 7),
    BINARY("Div", 7),
    BINARY("Pow", 7),
    UNARY("Sqrt", 7),
    UNARY("Exp", 7),
    UNARY("Log", 7),
    UNARY("Neg", 7),
    UNARY("Abs", 7),
    {"Max", 7, 1, V, 1, 1, a_none, NULL},
    {"Min", 7, 1, V, 1, 1, a_none, NULL},
    {"ReduceMean", 7, 1, 2, 1, 1, a_reduce, NULL},
    {"ReduceSum", 7, 1, 2, 1, 1, a_reduce, NULL},
    {"ReduceMax", 7, 1, 2, 1, 1, a_reduce, NULL},
    {"ReduceMin", 7, 1, 2, 1, 1, a_reduce, NULL},
    /* comparison and logic */
    {"Where", 9, 3, 3, 1, 1, a_none, NULL},
    BINARY("Equal", 7),
    BINARY("Less", 7),
    BINARY("Greater", 7),
    BINARY("LessOrEqual", 12),
    BINARY("GreaterOrEqual", 12),
    UNARY("Not", 1),
    BINARY("And", 7),
    BINARY("Or", 7),
    /* shape and data movement */
    {"Resize", 10, 1, 4, 1, 1, a_resize, check_resize},
    {"Upsample", 7, 1, 2, 1, 1, a_upsample, NULL},
    {"Pad", 7, 1, 4, 1, 1, a_pad, check_pad},
    {"Concat", 7, 1, V, 1, 1, a_axis, NULL},
    {"Split", 7, 1, 2, 1, V, a_split, NULL},
    {"Slice", 7, 1, 5, 1, 1, a_slice, NULL},
    {"Gather", 7, 2, 2, 1, 1, a_axis, NULL},
    {"Transpose", 7, 1, 1, 1, 1, a_perm, NULL},
    {"Reshape", 7, 2, 2, 1, 1, a_reshape, NULL},
    {"Flatten", 7, 1, 1, 1, 1, a_axis, NULL},
    {"Squeeze", 7, 1, 2, 1, 1, a_axes, NULL},
    {"Unsqueeze", 7, 1, 2, 1, 1, a_axes, NULL},
    BINARY("Expand", 8),
    BINARY("Tile", 7),
    {"Cast", 7, 1, 1, 1, 1, a_cast, check_cast},
    {"Shape", 7, 1, 1, 1, 1, a_shape, NULL},
    UNARY("Size", 7),
    {"Range", 11, 3, 3, 1, 1, a_none, NULL},
    {"ConstantOfShape", 9, 1, 1, 1, 1, a_value, check_const_of_shape},
    {"Constant", 7, 0, 0, 1, 1, a_constant, check_constant},
    UNARY("Identity", 7),
    {"Dropout", 7, 1, 3, 1, 2, a_dropout, NULL},
    /* indices and search */
    {"ArgMax", 7, 1, 1, 1, 1, a_argmax, NULL},
    {"TopK", 7, 1, 2, 2, 2, a_topk, NULL},
    {"CumSum", 11, 2, 2, 1, 1, a_cumsum, NULL},
    UNARY("NonZero", 9),
    {"ScatterND", 11, 3, 3, 1, 1, a_scatter, check_scatter},
    /* quantization */
    {"QuantizeLinear", 10, 2, 3, 1, 1, a_quant, check_quantize},
    {"DequantizeLinear", 10, 2, 3, 1, 1, a_dequant, check_quantize},
};

int avf_op_count(void) { return (int)(sizeof avf_ops / sizeof avf_ops[0]); }

const avf_op_def *avf_op_at(int i) {
    return i >= 0 && i < avf_op_count() ? &avf_ops[i] : NULL;
}

static int is_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* The internal domain (graph/passes/passes.h): fused nodes the passes
 * create. Each takes the epilogue attributes; FusedConv also Conv's,
 * FusedConvTranspose ConvTranspose's. */
static const avf_op_attr_def a_epilogue[] = {{"activation", S}, {"alpha", F}, {"beta", F},
                                             {"post_mul", F}, {"post_add", F}, END};
static const avf_op_attr_def a_fused_conv[] = {
    {"auto_pad", S}, {"dilations", IS}, {"group", I}, {"kernel_shape", IS}, {"pads", IS},
    {"strides", IS}, {"activation", S}, {"alpha", F}, {"beta", F}, {"post_mul", F},
    {"post_add", F}, END};
static const avf_op_attr_def a_fused_convt[] = {
    {"auto_pad", S}, {"dilations", IS}, {"group", I}, {"kernel_shape", IS}, {"pads", IS},
    {"strides", IS}, {"output_padding", IS}, {"output_shape", IS}, {"activation", S},
    {"alpha", F}, {"beta", F}, {"post_mul", F}, {"post_add", F}, END};
static const avf_op_attr_def a_pair_magnitude[] = {{"axis", I}, {"half", I}, END};
static const avf_op_def avf_internal_ops[] = {
    {"FusedConv", 1, 2, 3, 1, 1, a_fused_conv, check_pool},
    {"FusedConvTranspose", 1, 2, 3, 1, 1, a_fused_convt, check_pool},
    {"FusedMatMul", 1, 2, 3, 1, 1, a_epilogue, NULL},
    {"Act", 1, 1, 1, 1, 1, a_epilogue, NULL},
    {"LayerNormalization", 1, 2, 3, 1, 3, a_layernorm, NULL},
    {"PairMagnitude", 1, 1, 1, 1, 1, a_pair_magnitude, NULL},
};

const avf_op_def *avf_op_find(const char *domain, const char *op_type) {
    if (op_type && domain && strcmp(domain, AVF_DOMAIN_INTERNAL) == 0) {
        for (size_t i = 0; i < sizeof avf_internal_ops / sizeof avf_internal_ops[0]; i++)
            if (strcmp(avf_internal_ops[i].op_type, op_type) == 0)
                return &avf_internal_ops[i];
        return NULL;
    }
    if (!op_type || !is_default_domain(domain))
        return NULL;
    for (int i = 0; i < avf_op_count(); i++)
        if (strcmp(avf_ops[i].op_type, op_type) == 0)
            return &avf_ops[i];
    return NULL;
}

/* The reason a node is unsupported (without the node prefix), or 0. */
static int why_unsupported(const avf_graph *g, const avf_graph_node *n, char *msg, size_t cap) {
    const char *domain = is_default_domain(n->domain) ? "ai.onnx" : n->domain;
    int64_t opset = avf_graph_get_opset(g, n->domain);
    const avf_op_def *op = avf_op_find(n->domain, n->op_type);
    if (!op)
        return say(msg, cap, "unsupported op '%s' (domain '%s', opset %lld)", n->op_type, domain,
                   (long long)opset);
    if (opset < op->since)
        return say(msg, cap, "unsupported op '%s' (domain '%s', opset %lld; avflow runs it from "
                   "opset %d)", n->op_type, domain, (long long)opset, op->since);
    /* trailing omitted inputs do not count */
    int nin = n->n_inputs;
    while (nin > 0 && n->inputs[nin - 1] < 0)
        nin--;
    if (nin < op->min_inputs || (op->max_inputs >= 0 && nin > op->max_inputs))
        return say(msg, cap, "takes %d to %d inputs, has %d", op->min_inputs, op->max_inputs, nin);
    for (int i = 0; i < op->min_inputs; i++)
        if (n->inputs[i] < 0)
            return say(msg, cap, "required input %d is missing", i);
    if (n->n_outputs < op->min_outputs ||
        (op->max_outputs >= 0 && n->n_outputs > op->max_outputs))
        return say(msg, cap, "takes %d to %d outputs, has %d", op->min_outputs, op->max_outputs,
                   n->n_outputs);
    for (int i = 0; i < n->n_attrs; i++) {
        const avf_graph_attr *a = &n->attrs[i];
        const avf_op_attr_def *d = op->attrs;
        while (d->name && strcmp(d->name, a->name) != 0)
            d++;
        if (!d->name)
            return say(msg, cap, "unsupported attribute '%s'", a->name);
        if (d->type != a->type)
            return say(msg, cap, "attribute '%s' must be %s, is %s", a->name,
                       avf_attr_type_name(d->type), avf_attr_type_name(a->type));
    }
    if (op->check && op->check(n, opset, msg, cap))
        return 1;
    /* Supported means runnable: a kernel is registered and its prepare
     * accepts the attributes, so a model that loads does not fail later for
     * a missing kernel. prepare only reads the node into a params blob. */
    const avf_exec_op *x = avf_exec_find(n->domain, n->op_type);
    if (!x)
        return say(msg, cap, "no kernel for op '%s' yet", n->op_type);
    if (x->prepare) {
        _Alignas(16) unsigned char params[AVF_EXEC_PARAMS_MAX];
        if (x->prepare(n, opset, params) != AVF_OK) {
            /* prepare's message names node and op already; keep the reason. */
            const char *why = avf_last_error();
            const char *colon = strstr(why, "): ");
            return say(msg, cap, "%s", colon ? colon + 3 : why);
        }
    }
    return 0;
}

avf_status avf_op_check_node(const avf_graph *g, avf_graph_node *n) {
    AVF_CHECK_ARG(g && n);
    char why[320];
    free(n->unsupported);
    n->unsupported = NULL;
    n->supported = 1;
    if (!why_unsupported(g, n, why, sizeof why))
        return AVF_OK;
    n->supported = 0;
    size_t len = strlen(n->name) + strlen(n->op_type) + strlen(why) + 16;
    n->unsupported = malloc(len);
    if (!n->unsupported)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "op check: out of memory");
    snprintf(n->unsupported, len, "node '%s' (%s): %s", n->name, n->op_type, why);
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s", n->unsupported);
}

typedef struct check_ctx {
    int strict;
    int count;
} check_ctx;

static avf_status check_one(avf_graph *g, avf_graph_node *n, void *arg) {
    check_ctx *cx = arg;
    avf_status st = avf_op_check_node(g, n);
    if (st == AVF_ERR_UNSUPPORTED) {
        cx->count++;
        return cx->strict ? st : AVF_OK;
    }
    return st;
}

avf_status avf_op_check_graph(avf_graph *g, int strict, int *n_unsupported) {
    AVF_CHECK_ARG(g);
    check_ctx cx = {strict, 0};
    avf_status st = avf_graph_visit(g, check_one, &cx);
    if (n_unsupported)
        *n_unsupported = cx.count;
    if (st == AVF_OK)
        avf_clear_error();
    return st;
}
