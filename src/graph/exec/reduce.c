/* Executor ops of the reduce family (see graph/exec_op.h): ONNX attributes
 * and host inputs -> ops/reduce.h params, for every opset 7..21 form.
 *
 * Values read from host inputs (axes, K, CumSum's axis) are resolved again
 * in run from call->in_host rather than kept from infer, so one prepared
 * node can serve several shape signatures. */
#include <string.h>

#include "core/error.h"
#include "graph/exec_op.h"
#include "ops/reduce.h"

/* ---------------------------------------------------------------- helpers */

static void set_out(avf_tensor *t, avf_dtype dt, int ndim, const int64_t *dims) {
    if (!t)
        return;
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = dims[d];
}

static avf_status need_input(const avf_exec_call *call, int i, const char *what) {
    if (call->n_in <= i || !call->in[i])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %s is missing",
                        call->node->name, call->node->op_type, what);
    return AVF_OK;
}

static avf_status bool_attr(const avf_graph_node *n, const char *name, int64_t def, int *out) {
    int64_t v;
    AVF_TRY(avf_exec_attr_int(n, name, def, &v));
    if (v != 0 && v != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): attribute '%s' = %lld, expected 0 or 1",
                        n->name, n->op_type, name, (long long)v);
    *out = (int)v;
    return AVF_OK;
}

/* An output the node does not need but the kernel writes: a temporary from
 * the context's pool (released by the caller with avf_tensor_release). */
static avf_status temp_like(avf_exec_call *call, avf_dtype dt, int ndim, const int64_t *dims,
                            avf_tensor *t) {
    return avf_tensor_alloc(t, call->ctx->pool, dt, ndim, dims, call->ctx->stream);
}

/* ---------------------------------------------------------------- Reduce* */

typedef struct exec_reduce {
    avf_reduce_params p;
    int axes_input; /* this opset takes axes as input 1 */
} exec_reduce;

static avf_status reduce_prepare(const avf_graph_node *n, int64_t opset, void *params,
                                 avf_reduce_kind kind) {
    exec_reduce *e = params;
    memset(e, 0, sizeof *e);
    e->p.kind = kind;
    e->axes_input = kind == AVF_REDUCE_SUM ? opset >= 13 : opset >= 18;
    AVF_TRY(bool_attr(n, "keepdims", 1, &e->p.keepdims));
    AVF_TRY(bool_attr(n, "noop_with_empty_axes", 0, &e->p.noop_with_empty_axes));
    if (!e->axes_input)
        e->p.noop_with_empty_axes = 0; /* the attribute came with the axes input */
    int count;
    AVF_TRY(avf_exec_attr_ints(n, "axes", e->p.axes, AVF_MAX_DIMS, &count));
    e->p.n_axes = count < 0 ? 0 : count;
    return AVF_OK;
}

#define REDUCE_PREPARE(fn, kind)                                                    \
    static avf_status fn(const avf_graph_node *n, int64_t opset, void *params) {   \
        return reduce_prepare(n, opset, params, kind);                             \
    }
REDUCE_PREPARE(reduce_sum_prepare, AVF_REDUCE_SUM)
REDUCE_PREPARE(reduce_mean_prepare, AVF_REDUCE_MEAN)
REDUCE_PREPARE(reduce_max_prepare, AVF_REDUCE_MAX)
REDUCE_PREPARE(reduce_min_prepare, AVF_REDUCE_MIN)

static avf_status reduce_resolve(const exec_reduce *e, const avf_exec_call *call,
                                 avf_reduce_params *p) {
    *p = e->p;
    if (e->axes_input && call->n_in > 1 && call->in[1]) {
        if (!call->in_host[1])
            return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (%s): axes not on the host",
                            call->node->name, call->node->op_type);
        AVF_TRY(avf_exec_host_ints(call->in_host[1], "axes", p->axes, AVF_MAX_DIMS, &p->n_axes));
    }
    return AVF_OK;
}

static avf_status reduce_infer(void *params, avf_exec_call *call) {
    avf_reduce_params p;
    AVF_TRY(need_input(call, 0, "data"));
    AVF_TRY(reduce_resolve(params, call, &p));
    const avf_tensor *x = call->in[0];
    avf_dtype dt;
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_reduce_shape(&p, x->dtype, x->ndim, x->shape, &dt, &nd, dims));
    set_out(call->out[0], dt, nd, dims);
    return AVF_OK;
}

static avf_status reduce_run(const void *params, avf_exec_call *call) {
    avf_reduce_params p;
    AVF_TRY(reduce_resolve(params, call, &p));
    if (!call->out[0])
        return AVF_OK;
    return avf_op_reduce(call->ctx, &p, call->in[0], call->out[0]);
}

static const avf_exec_op op_reduce_sum = {"ReduceSum", 1u << 1, 0, reduce_sum_prepare,
                                          reduce_infer, reduce_run};
static const avf_exec_op op_reduce_mean = {"ReduceMean", 1u << 1, 0, reduce_mean_prepare,
                                           reduce_infer, reduce_run};
static const avf_exec_op op_reduce_max = {"ReduceMax", 1u << 1, 0, reduce_max_prepare,
                                          reduce_infer, reduce_run};
static const avf_exec_op op_reduce_min = {"ReduceMin", 1u << 1, 0, reduce_min_prepare,
                                          reduce_infer, reduce_run};

/* ---------------------------------------------------------------- ArgMax */

static avf_status argmax_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_argmax_params *p = params;
    memset(p, 0, sizeof *p);
    AVF_TRY(avf_exec_attr_int(n, "axis", 0, &p->axis));
    AVF_TRY(bool_attr(n, "keepdims", 1, &p->keepdims));
    AVF_TRY(bool_attr(n, "select_last_index", 0, &p->select_last_index));
    return AVF_OK;
}

static avf_status argmax_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "data"));
    const avf_tensor *x = call->in[0];
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_argmax_shape(params, x->dtype, x->ndim, x->shape, &nd, dims));
    set_out(call->out[0], AVF_DTYPE_I64, nd, dims);
    return AVF_OK;
}

static avf_status argmax_run(const void *params, avf_exec_call *call) {
    if (!call->out[0])
        return AVF_OK;
    return avf_op_argmax(call->ctx, params, call->in[0], call->out[0]);
}

static const avf_exec_op op_argmax = {"ArgMax", 0, 0, argmax_prepare, argmax_infer, argmax_run};

/* ---------------------------------------------------------------- Softmax, LogSoftmax */

static avf_status softmax_prepare_any(const avf_graph_node *n, int64_t opset, void *params,
                                      int log) {
    avf_softmax_params *p = params;
    memset(p, 0, sizeof *p);
    p->legacy = opset < 13; /* before 13: coerced to 2-D at axis, default 1 */
    p->log = log;
    return avf_exec_attr_int(n, "axis", p->legacy ? 1 : -1, &p->axis);
}

static avf_status softmax_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return softmax_prepare_any(n, opset, params, 0);
}

static avf_status logsoftmax_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return softmax_prepare_any(n, opset, params, 1);
}

static avf_status softmax_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "input"));
    const avf_tensor *x = call->in[0];
    AVF_TRY(avf_softmax_shape(params, x->dtype, x->ndim, x->shape));
    set_out(call->out[0], x->dtype, x->ndim, x->shape);
    return AVF_OK;
}

static avf_status softmax_run(const void *params, avf_exec_call *call) {
    if (!call->out[0])
        return AVF_OK;
    return avf_op_softmax(call->ctx, params, call->in[0], call->out[0]);
}

static const avf_exec_op op_softmax = {"Softmax", 0, 0, softmax_prepare, softmax_infer,
                                       softmax_run};
static const avf_exec_op op_logsoftmax = {"LogSoftmax", 0, 0, logsoftmax_prepare, softmax_infer,
                                          softmax_run};

/* ---------------------------------------------------------------- LayerNormalization */

static avf_status layernorm_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_layernorm_params *p = params;
    memset(p, 0, sizeof *p);
    AVF_TRY(avf_exec_attr_int(n, "axis", -1, &p->axis));
    AVF_TRY(avf_exec_attr_float(n, "epsilon", 1e-5f, &p->epsilon));
    int64_t stash;
    AVF_TRY(avf_exec_attr_int(n, "stash_type", 1, &stash));
    if (stash != 1) /* 1 = FLOAT: statistics in f32, which is what the kernels do */
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (LayerNormalization): stash_type %lld "
                        "(only 1, float, is supported)", n->name, (long long)stash);
    return AVF_OK;
}

static const avf_tensor *opt_in(const avf_exec_call *call, int i) {
    return call->n_in > i ? call->in[i] : NULL;
}

static avf_status layernorm_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "X"));
    AVF_TRY(need_input(call, 1, "Scale"));
    const avf_tensor *x = call->in[0];
    int snd;
    int64_t sd[AVF_MAX_DIMS];
    AVF_TRY(avf_layernorm_shape(params, x, call->in[1], opt_in(call, 2), &snd, sd));
    set_out(call->out[0], x->dtype, x->ndim, x->shape);
    if (call->n_out > 1)
        set_out(call->out[1], AVF_DTYPE_F32, snd, sd);
    if (call->n_out > 2)
        set_out(call->out[2], AVF_DTYPE_F32, snd, sd);
    return AVF_OK;
}

static avf_status layernorm_run(const void *params, avf_exec_call *call) {
    avf_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    avf_tensor *y = call->out[0];
    const avf_tensor *x = call->in[0];
    if (!y)
        AVF_TRY(temp_like(call, x->dtype, x->ndim, x->shape, &tmp));
    avf_status st = avf_op_layernorm(call->ctx, params, x, call->in[1], opt_in(call, 2),
                                     y ? y : &tmp, call->n_out > 1 ? call->out[1] : NULL,
                                     call->n_out > 2 ? call->out[2] : NULL);
    avf_tensor_release(&tmp, call->ctx->stream);
    return st;
}

static const avf_exec_op op_layernorm = {"LayerNormalization", 0, 0, layernorm_prepare,
                                         layernorm_infer, layernorm_run};

/* ---------------------------------------------------------------- BatchNormalization */

static avf_status batchnorm_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_batchnorm_params *p = params;
    memset(p, 0, sizeof *p);
    AVF_TRY(avf_exec_attr_float(n, "epsilon", 1e-5f, &p->epsilon));
    AVF_TRY(avf_exec_attr_float(n, "momentum", 0.9f, &p->momentum));
    int64_t training = 0, spatial = 1;
    AVF_TRY(avf_exec_attr_int(n, "training_mode", 0, &training));
    AVF_TRY(avf_exec_attr_int(n, "spatial", 1, &spatial));
    /* training_mode exists from opset 14 (outputs Y, running_mean,
     * running_var); earlier opsets' training outputs (saved statistics) are
     * not implemented */
    if (training != 0 && (training != 1 || opset < 14))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (BatchNormalization): training_mode=%lld "
                        "at opset %lld; only 0, or 1 from opset 14, is supported", n->name,
                        (long long)training, (long long)opset);
    if (spatial != 1)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (BatchNormalization): spatial=%lld; only "
                        "spatial=1 is supported", n->name, (long long)spatial);
    if (training && !(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (BatchNormalization): momentum %g is "
                        "outside [0, 1]", n->name, (double)p->momentum);
    p->training = (int)training;
    return AVF_OK;
}

static avf_status batchnorm_infer(void *params, avf_exec_call *call) {
    static const char *const names[5] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 0; i < 5; i++)
        AVF_TRY(need_input(call, i, names[i]));
    const avf_tensor *x = call->in[0];
    AVF_TRY(avf_batchnorm_shape(params, x, call->in[1], call->in[2], call->in[3], call->in[4]));
    set_out(call->out[0], x->dtype, x->ndim, x->shape);
    /* Outputs 1..2: the running mean / var (unchanged statistics in
     * inference, updated with the batch's in training); 3..4 (saved batch
     * statistics, opset < 14) are not produced. */
    for (int i = 1; i < call->n_out; i++) {
        if (!call->out[i])
            continue;
        if (i > 2)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (BatchNormalization): output %d "
                            "(saved statistics, opset < 14 training) is not supported",
                            call->node->name, i);
        const avf_tensor *src = call->in[i + 2];
        set_out(call->out[i], src->dtype, src->ndim, src->shape);
    }
    return AVF_OK;
}

static avf_status batchnorm_run(const void *params, avf_exec_call *call) {
    const avf_batchnorm_params *p = params;
    const avf_tensor *const *in = call->in;
    if (p->training) {
        avf_tensor tmp = {0}, *y = call->out[0];
        if (!y) /* Y unused: the statistics are still wanted */
            AVF_TRY(avf_tensor_alloc(&tmp, call->ctx->pool, in[0]->dtype, in[0]->ndim,
                                     in[0]->shape, call->ctx->stream));
        avf_status st = avf_op_batchnorm_train(call->ctx, p, in[0], in[1], in[2], in[3], in[4],
                                               y ? y : &tmp, call->n_out > 1 ? call->out[1] : NULL,
                                               call->n_out > 2 ? call->out[2] : NULL);
        avf_tensor_release(&tmp, call->ctx->stream);
        return st;
    }
    if (call->out[0])
        AVF_TRY(avf_op_batchnorm(call->ctx, params, in[0], in[1], in[2], in[3], in[4],
                                 call->out[0]));
    for (int i = 1; i < call->n_out && i <= 2; i++) {
        size_t bytes = avf_tensor_nbytes(in[i + 2]);
        if (!call->out[i] || bytes == 0)
            continue;
        AVF_TRY(avf_memcpy_async(call->ctx->dev, call->out[i]->data, in[i + 2]->data, bytes,
                                 avf_op_device_is_cpu(call->ctx) ? AVF_COPY_H2H : AVF_COPY_D2D,
                                 call->ctx->stream, "batchnorm"));
    }
    return AVF_OK;
}

static const avf_exec_op op_batchnorm = {"BatchNormalization", 0, 0, batchnorm_prepare,
                                         batchnorm_infer, batchnorm_run};

/* ---------------------------------------------------------------- GlobalAveragePool */

static avf_status gap_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return AVF_OK;
}

static avf_status gap_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "X"));
    const avf_tensor *x = call->in[0];
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_global_avg_pool_shape(x->dtype, x->ndim, x->shape, &nd, dims));
    set_out(call->out[0], x->dtype, nd, dims);
    return AVF_OK;
}

static avf_status gap_run(const void *params, avf_exec_call *call) {
    if (!call->out[0])
        return AVF_OK;
    return avf_op_global_avg_pool(call->ctx, call->in[0], call->out[0]);
}

static const avf_exec_op op_gap = {"GlobalAveragePool", 0, 0, gap_prepare, gap_infer, gap_run};

/* ---------------------------------------------------------------- CumSum */

static avf_status cumsum_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_cumsum_params *p = params;
    memset(p, 0, sizeof *p);
    AVF_TRY(bool_attr(n, "exclusive", 0, &p->exclusive));
    AVF_TRY(bool_attr(n, "reverse", 0, &p->reverse));
    return AVF_OK;
}

static avf_status cumsum_resolve(const void *params, const avf_exec_call *call,
                                 avf_cumsum_params *p) {
    *p = *(const avf_cumsum_params *)params;
    AVF_TRY(need_input(call, 1, "axis"));
    int64_t axis[1];
    int count;
    AVF_TRY(avf_exec_host_ints(call->in_host[1], "CumSum axis", axis, 1, &count));
    if (count != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (CumSum): axis holds %d values, expected 1",
                        call->node->name, count);
    p->axis = axis[0];
    return AVF_OK;
}

static avf_status cumsum_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "x"));
    avf_cumsum_params p;
    AVF_TRY(cumsum_resolve(params, call, &p));
    const avf_tensor *x = call->in[0];
    AVF_TRY(avf_cumsum_shape(&p, x->dtype, x->ndim, x->shape));
    set_out(call->out[0], x->dtype, x->ndim, x->shape);
    return AVF_OK;
}

static avf_status cumsum_run(const void *params, avf_exec_call *call) {
    avf_cumsum_params p;
    AVF_TRY(cumsum_resolve(params, call, &p));
    if (!call->out[0])
        return AVF_OK;
    return avf_op_cumsum(call->ctx, &p, call->in[0], call->out[0]);
}

static const avf_exec_op op_cumsum = {"CumSum", 1u << 1, 0, cumsum_prepare, cumsum_infer,
                                      cumsum_run};

/* ---------------------------------------------------------------- TopK */

typedef struct exec_topk {
    avf_topk_params p;
    int k_input; /* opset >= 10: K is input 1 */
} exec_topk;

static avf_status topk_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    exec_topk *e = params;
    memset(e, 0, sizeof *e);
    e->k_input = opset >= 10;
    AVF_TRY(avf_exec_attr_int(n, "axis", -1, &e->p.axis));
    AVF_TRY(bool_attr(n, "largest", 1, &e->p.largest));
    AVF_TRY(bool_attr(n, "sorted", 1, &e->p.sorted));
    if (!e->k_input) {
        AVF_TRY(avf_exec_attr_int(n, "k", -1, &e->p.k));
        if (e->p.k < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (TopK): attribute 'k' is missing or "
                            "negative", n->name);
    }
    return AVF_OK;
}

static avf_status topk_resolve(const exec_topk *e, const avf_exec_call *call, avf_topk_params *p) {
    *p = e->p;
    if (!e->k_input)
        return AVF_OK;
    AVF_TRY(need_input(call, 1, "K"));
    int64_t k[1];
    int count;
    AVF_TRY(avf_exec_host_ints(call->in_host[1], "TopK K", k, 1, &count));
    if (count != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (TopK): K holds %d values, expected 1",
                        call->node->name, count);
    p->k = k[0];
    return AVF_OK;
}

static avf_status topk_infer(void *params, avf_exec_call *call) {
    AVF_TRY(need_input(call, 0, "X"));
    avf_topk_params p;
    AVF_TRY(topk_resolve(params, call, &p));
    const avf_tensor *x = call->in[0];
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_topk_shape(&p, x->dtype, x->ndim, x->shape, &nd, dims));
    set_out(call->out[0], x->dtype, nd, dims);
    if (call->n_out > 1)
        set_out(call->out[1], AVF_DTYPE_I64, nd, dims);
    return AVF_OK;
}

static avf_status topk_run(const void *params, avf_exec_call *call) {
    avf_topk_params p;
    AVF_TRY(topk_resolve(params, call, &p));
    const avf_tensor *x = call->in[0];
    avf_tensor *vals = call->out[0], *idx = call->n_out > 1 ? call->out[1] : NULL;
    if (!vals && !idx)
        return AVF_OK;
    int nd;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_topk_shape(&p, x->dtype, x->ndim, x->shape, &nd, dims));
    avf_tensor tv, ti;
    memset(&tv, 0, sizeof tv);
    memset(&ti, 0, sizeof ti);
    avf_status st = AVF_OK;
    if (!vals)
        st = temp_like(call, x->dtype, nd, dims, &tv);
    if (st == AVF_OK && !idx)
        st = temp_like(call, AVF_DTYPE_I64, nd, dims, &ti);
    if (st == AVF_OK)
        st = avf_op_topk(call->ctx, &p, x, vals ? vals : &tv, idx ? idx : &ti);
    avf_tensor_release(&tv, call->ctx->stream);
    avf_tensor_release(&ti, call->ctx->stream);
    return st;
}

static const avf_exec_op op_topk = {"TopK", 1u << 1, 0, topk_prepare, topk_infer, topk_run};

/* ---------------------------------------------------------------- table */

const avf_exec_op *const avf_exec_ops_reduce[] = {
    &op_reduce_sum, &op_reduce_mean, &op_reduce_max, &op_reduce_min, &op_argmax,
    &op_softmax,    &op_logsoftmax,  &op_layernorm,  &op_batchnorm,  &op_gap,
    &op_cumsum,     &op_topk,        NULL,
};
