/* Executor ops of the data family about shapes and generated values:
 * Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size, Range, ConstantOfShape,
 * QuantizeLinear, DequantizeLinear. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "graph/exec/data_exec.h"
#include "graph/onnx.h"

#define OUT0(call) ((call)->n_out > 0 ? (call)->out[0] : NULL)

static avf_tensor *out_or_scratch(avf_exec_call *call, avf_tensor *scratch) {
    avf_tensor *y = OUT0(call);
    return y ? y : scratch;
}

/* Reshape-like ops copy x into y (views later). */
static avf_status copy_run(const void *params, avf_exec_call *call) {
    return avf_op_copy(call->ctx, call->in[0], OUT0(call));
}

/* ---------------------------------------------------------------- Reshape */

static avf_status reshape_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_reshape_params *p = (avf_reshape_params *)params;
    memset(p, 0, sizeof *p);
    int64_t az = 0;
    if (opset >= 14)
        AVF_TRY(avf_exec_attr_int(n, "allowzero", 0, &az));
    p->allowzero = az != 0;
    return AVF_OK;
}

static avf_status reshape_infer(void *params, avf_exec_call *call) {
    avf_reshape_params *p = (avf_reshape_params *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_ints(call, 1, p->shape, AVF_MAX_DIMS, &p->ndim));
    if (p->ndim < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Reshape): shape input is missing",
                        call->node->name);
    return avf_reshape_shape(p, x, out_or_scratch(call, &tmp));
}

const avf_exec_op avf_exec_data_reshape = {"Reshape", 1u << 1, 0, reshape_prepare, reshape_infer,
                                           copy_run};

/* ---------------------------------------------------------------- Flatten */

static avf_status flatten_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_flatten_params *p = (avf_flatten_params *)params;
    return avf_exec_attr_int(n, "axis", 1, &p->axis);
}

static avf_status flatten_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    return avf_flatten_shape(params, x, out_or_scratch(call, &tmp));
}

const avf_exec_op avf_exec_data_flatten = {"Flatten", 0, 0, flatten_prepare, flatten_infer,
                                           copy_run};

/* ---------------------------------------------------------------- Squeeze, Unsqueeze */

typedef struct axes_exec {
    avf_axes_params p;
    int inputs; /* opset >= 13: axes is input 1 */
} axes_exec;

static avf_status axes_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    axes_exec *e = (axes_exec *)params;
    memset(e, 0, sizeof *e);
    if (opset >= 13) {
        e->inputs = 1;
        return AVF_OK;
    }
    AVF_TRY(avf_exec_attr_ints(n, "axes", e->p.axes, AVF_MAX_DIMS, &e->p.naxes));
    if (e->p.naxes < 0) {
        if (strcmp(n->op_type, "Unsqueeze") == 0)
            return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (Unsqueeze): attribute 'axes' is required",
                            n->name);
        e->p.naxes = 0;
    }
    return AVF_OK;
}

static avf_status axes_read(axes_exec *e, avf_exec_call *call, const avf_tensor **x) {
    AVF_TRY(avf_data_exec_in(call, 0, x));
    if (e->inputs) {
        AVF_TRY(avf_data_exec_ints(call, 1, e->p.axes, AVF_MAX_DIMS, &e->p.naxes));
        if (e->p.naxes < 0)
            e->p.naxes = 0;
    }
    return AVF_OK;
}

static avf_status squeeze_infer(void *params, avf_exec_call *call) {
    axes_exec *e = (axes_exec *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(axes_read(e, call, &x));
    return avf_squeeze_shape(&e->p, x, out_or_scratch(call, &tmp));
}

static avf_status unsqueeze_infer(void *params, avf_exec_call *call) {
    axes_exec *e = (axes_exec *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(axes_read(e, call, &x));
    if (e->inputs && (call->n_in < 2 || !call->in[1]))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Unsqueeze): axes input is missing",
                        call->node->name);
    return avf_unsqueeze_shape(&e->p, x, out_or_scratch(call, &tmp));
}

const avf_exec_op avf_exec_data_squeeze = {"Squeeze", 1u << 1, 0, axes_prepare, squeeze_infer,
                                           copy_run};
const avf_exec_op avf_exec_data_unsqueeze = {"Unsqueeze", 1u << 1, 0, axes_prepare,
                                             unsqueeze_infer, copy_run};

/* ---------------------------------------------------------------- Shape, Size */

static avf_status shape_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_shape_params *p = (avf_shape_params *)params;
    p->start = 0;
    p->end = INT64_MAX;
    if (opset >= 15) {
        AVF_TRY(avf_exec_attr_int(n, "start", 0, &p->start));
        AVF_TRY(avf_exec_attr_int(n, "end", INT64_MAX, &p->end));
    }
    return AVF_OK;
}

static avf_status shape_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    return avf_shape_shape(params, x, out_or_scratch(call, &tmp));
}

static avf_status shape_run(const void *params, avf_exec_call *call) {
    return avf_op_shape(call->ctx, params, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_shape = {"Shape", 0, 0, shape_prepare, shape_infer, shape_run};

static avf_status size_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return AVF_OK;
}

static avf_status size_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    return avf_size_shape(x, out_or_scratch(call, &tmp));
}

static avf_status size_run(const void *params, avf_exec_call *call) {
    return avf_op_size(call->ctx, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_size = {"Size", 0, 0, size_prepare, size_infer, size_run};

/* ---------------------------------------------------------------- Range */

static avf_status range_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    memset(params, 0, sizeof(avf_range_params));
    return AVF_OK;
}

/* A scalar host input of Range as double and (for integers) exact int64. */
static avf_status range_scalar(const avf_exec_call *call, int i, avf_dtype dt, double *d,
                               int64_t *v) {
    const avf_tensor *t = i < call->n_in ? call->in_host[i] : NULL;
    if (!t)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Range): input %d is missing",
                        call->node->name, i);
    if (t->dtype != dt || avf_tensor_numel(t) != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Range): input %d must be one %s",
                        call->node->name, i, avf_dtype_name(dt));
    *v = 0;
    switch (dt) {
    case AVF_DTYPE_F32: *d = *(const float *)t->data; break;
    case AVF_DTYPE_F64: *d = *(const double *)t->data; break;
    case AVF_DTYPE_I16: *v = *(const int16_t *)t->data; break;
    case AVF_DTYPE_I32: *v = *(const int32_t *)t->data; break;
    case AVF_DTYPE_I64: *v = *(const int64_t *)t->data; break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Range): dtype %s", call->node->name,
                        avf_dtype_name(dt));
    }
    if (dt == AVF_DTYPE_I16 || dt == AVF_DTYPE_I32 || dt == AVF_DTYPE_I64)
        *d = (double)*v;
    return AVF_OK;
}

static avf_status range_infer(void *params, avf_exec_call *call) {
    avf_range_params *p = (avf_range_params *)params;
    const avf_tensor *s;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &s));
    p->dtype = s->dtype;
    AVF_TRY(range_scalar(call, 0, p->dtype, &p->start, &p->istart));
    AVF_TRY(range_scalar(call, 1, p->dtype, &p->limit, &p->ilimit));
    AVF_TRY(range_scalar(call, 2, p->dtype, &p->delta, &p->idelta));
    return avf_range_shape(p, out_or_scratch(call, &tmp));
}

static avf_status range_run(const void *params, avf_exec_call *call) {
    return avf_op_range(call->ctx, params, OUT0(call));
}

const avf_exec_op avf_exec_data_range = {"Range", 0x7u, 0, range_prepare, range_infer, range_run};

/* ---------------------------------------------------------------- ConstantOfShape */

static avf_status cos_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_constant_of_shape_params *p = (avf_constant_of_shape_params *)params;
    memset(p, 0, sizeof *p);
    p->dtype = AVF_DTYPE_F32; /* default: one float 0 */
    const avf_graph_attr *a = avf_graph_node_attr(n, "value");
    if (!a)
        return AVF_OK;
    if (a->type != AVF_ATTR_TENSOR || !a->t)
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (ConstantOfShape): 'value' is not a tensor",
                        n->name);
    if (avf_tensor_numel(a->t) != 1)
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (ConstantOfShape): 'value' has %lld elements",
                        n->name, (long long)avf_tensor_numel(a->t));
    p->dtype = a->t->dtype;
    return avf_data_exec_scalar_bytes(a->t, "ConstantOfShape value", &p->value);
}

static avf_status cos_infer(void *params, avf_exec_call *call) {
    avf_constant_of_shape_params *p = (avf_constant_of_shape_params *)params;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_ints(call, 0, p->shape, AVF_MAX_DIMS, &p->ndim));
    if (p->ndim < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (ConstantOfShape): input is missing",
                        call->node->name);
    return avf_constant_of_shape_shape(p, out_or_scratch(call, &tmp));
}

static avf_status cos_run(const void *params, avf_exec_call *call) {
    return avf_op_constant_of_shape(call->ctx, params, OUT0(call));
}

const avf_exec_op avf_exec_data_constant_of_shape = {"ConstantOfShape", 1u, 0, cos_prepare,
                                                     cos_infer, cos_run};

/* ---------------------------------------------------------------- Quantize */

static avf_status quant_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_quant_params *p = (avf_quant_params *)params;
    memset(p, 0, sizeof *p);
    p->out_dtype = AVF_DTYPE_U8;
    AVF_TRY(avf_exec_attr_int(n, "axis", 1, &p->axis));
    int64_t block = 0, odt = 0;
    AVF_TRY(avf_exec_attr_int(n, "block_size", 0, &block));
    if (block != 0)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): block quantization", n->name,
                        n->op_type);
    AVF_TRY(avf_exec_attr_int(n, "output_dtype", 0, &odt));
    if (odt != 0) {
        int dt = avf_onnx_dtype((int32_t)odt);
        if (dt != AVF_DTYPE_U8 && dt != AVF_DTYPE_I8)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): output_dtype %lld", n->name,
                            n->op_type, (long long)odt);
        p->out_dtype = (avf_dtype)dt;
    }
    return AVF_OK;
}

static const avf_tensor *opt_in(const avf_exec_call *call, int i) {
    return i < call->n_in ? call->in[i] : NULL;
}

static avf_status quant_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x, *s;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_in(call, 1, &s));
    return avf_quantize_shape(params, x, s, opt_in(call, 2), out_or_scratch(call, &tmp));
}

static avf_status quant_run(const void *params, avf_exec_call *call) {
    return avf_op_quantize(call->ctx, params, call->in[0], call->in[1], opt_in(call, 2),
                           OUT0(call));
}

const avf_exec_op avf_exec_data_quantize = {"QuantizeLinear", 0, 0, quant_prepare, quant_infer,
                                            quant_run};

static avf_status dequant_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x, *s;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_in(call, 1, &s));
    return avf_dequantize_shape(params, x, s, opt_in(call, 2), out_or_scratch(call, &tmp));
}

static avf_status dequant_run(const void *params, avf_exec_call *call) {
    return avf_op_dequantize(call->ctx, params, call->in[0], call->in[1], opt_in(call, 2),
                             OUT0(call));
}

const avf_exec_op avf_exec_data_dequantize = {"DequantizeLinear", 0, 0, quant_prepare,
                                              dequant_infer, dequant_run};
