/* Executor ops of the data family that move elements: Transpose, Concat,
 * Split, Slice, Pad, Expand, Tile, Gather, ScatterND, NonZero. */
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec/data_exec.h"

#define OUT0(call) ((call)->n_out > 0 ? (call)->out[0] : NULL)

/* Shape functions write a descriptor; outputs nobody reads are NULL. */
static avf_tensor *out_or_scratch(avf_exec_call *call, avf_tensor *scratch) {
    avf_tensor *y = OUT0(call);
    return y ? y : scratch;
}

/* ---------------------------------------------------------------- Transpose */

static avf_status transpose_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_transpose_params *p = (avf_transpose_params *)params;
    memset(p, 0, sizeof *p);
    int count;
    AVF_TRY(avf_exec_attr_ints(n, "perm", p->perm, AVF_MAX_DIMS, &count));
    p->nperm = count < 0 ? 0 : count;
    return AVF_OK;
}

static avf_status transpose_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    return avf_transpose_shape(params, x, out_or_scratch(call, &tmp));
}

static avf_status transpose_run(const void *params, avf_exec_call *call) {
    return avf_op_transpose(call->ctx, params, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_transpose = {"Transpose", 0, 0, transpose_prepare,
                                             transpose_infer, transpose_run};

/* ---------------------------------------------------------------- Concat */

static avf_status concat_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_concat_params *p = (avf_concat_params *)params;
    if (!avf_graph_node_attr(n, "axis"))
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (Concat): attribute 'axis' is required",
                        n->name);
    return avf_exec_attr_int(n, "axis", 0, &p->axis);
}

static avf_status concat_infer(void *params, avf_exec_call *call) {
    avf_tensor tmp;
    for (int i = 0; i < call->n_in; i++) {
        const avf_tensor *x;
        AVF_TRY(avf_data_exec_in(call, i, &x));
    }
    return avf_concat_shape(params, call->in, call->n_in, out_or_scratch(call, &tmp));
}

static avf_status concat_run(const void *params, avf_exec_call *call) {
    return avf_op_concat(call->ctx, params, call->in, call->n_in, OUT0(call));
}

const avf_exec_op avf_exec_data_concat = {"Concat", 0, 0, concat_prepare, concat_infer,
                                          concat_run};

/* ---------------------------------------------------------------- Split */

typedef struct split_exec {
    avf_split_params p;
    int split_input; /* opset >= 13: sizes come from input 1 */
} split_exec;

static avf_status split_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    split_exec *e = (split_exec *)params;
    memset(e, 0, sizeof *e);
    AVF_TRY(avf_exec_attr_int(n, "axis", 0, &e->p.axis));
    e->p.nsplit = -1;
    if (opset < 13) {
        AVF_TRY(avf_exec_attr_ints(n, "split", e->p.split, AVF_SPLIT_MAX, &e->p.nsplit));
    } else {
        e->split_input = 1;
        if (opset >= 18)
            AVF_TRY(avf_exec_attr_int(n, "num_outputs", 0, &e->p.num_outputs));
    }
    return AVF_OK;
}

static avf_status split_infer(void *params, avf_exec_call *call) {
    split_exec *e = (split_exec *)params;
    const avf_tensor *x;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    if (e->split_input)
        AVF_TRY(avf_data_exec_ints(call, 1, e->p.split, AVF_SPLIT_MAX, &e->p.nsplit));
    return avf_split_shape(&e->p, x, call->out, call->n_out);
}

static avf_status split_run(const void *params, avf_exec_call *call) {
    const split_exec *e = (const split_exec *)params;
    return avf_op_split(call->ctx, &e->p, call->in[0], call->out, call->n_out);
}

const avf_exec_op avf_exec_data_split = {"Split", 1u << 1, 0, split_prepare, split_infer,
                                         split_run};

/* ---------------------------------------------------------------- Slice */

typedef struct slice_exec {
    avf_slice_params p;
    int inputs; /* opset >= 10: starts/ends/axes/steps are inputs 1..4 */
} slice_exec;

static avf_status slice_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    slice_exec *e = (slice_exec *)params;
    memset(e, 0, sizeof *e);
    if (opset >= 10) {
        e->inputs = 1;
        return AVF_OK;
    }
    int ns, ne, na;
    AVF_TRY(avf_exec_attr_ints(n, "starts", e->p.starts, AVF_MAX_DIMS, &ns));
    AVF_TRY(avf_exec_attr_ints(n, "ends", e->p.ends, AVF_MAX_DIMS, &ne));
    AVF_TRY(avf_exec_attr_ints(n, "axes", e->p.axes, AVF_MAX_DIMS, &na));
    if (ns < 0 || ne != ns || (na >= 0 && na != ns))
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (Slice): starts/ends/axes disagree", n->name);
    e->p.n = ns;
    e->p.has_axes = na >= 0;
    return AVF_OK;
}

static avf_status slice_infer(void *params, avf_exec_call *call) {
    slice_exec *e = (slice_exec *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    if (e->inputs) {
        int ns, ne, na, nt;
        AVF_TRY(avf_data_exec_ints(call, 1, e->p.starts, AVF_MAX_DIMS, &ns));
        AVF_TRY(avf_data_exec_ints(call, 2, e->p.ends, AVF_MAX_DIMS, &ne));
        AVF_TRY(avf_data_exec_ints(call, 3, e->p.axes, AVF_MAX_DIMS, &na));
        AVF_TRY(avf_data_exec_ints(call, 4, e->p.steps, AVF_MAX_DIMS, &nt));
        if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "node '%s' (Slice): starts/ends/axes/steps have different lengths",
                            call->node->name);
        e->p.n = ns;
        e->p.has_axes = na >= 0;
        e->p.has_steps = nt >= 0;
    }
    return avf_slice_shape(&e->p, x, out_or_scratch(call, &tmp));
}

static avf_status slice_run(const void *params, avf_exec_call *call) {
    const slice_exec *e = (const slice_exec *)params;
    return avf_op_slice(call->ctx, &e->p, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_slice = {"Slice", 0x1eu, 0, slice_prepare, slice_infer,
                                         slice_run};

/* ---------------------------------------------------------------- Pad */

typedef struct pad_exec {
    avf_pad_params p;
    int inputs;          /* opset >= 11: pads, constant_value, axes are inputs */
    int npads;           /* opset < 11: pads attribute */
    int64_t pads[2 * AVF_MAX_DIMS];
    float value;         /* opset < 11 */
} pad_exec;

static avf_status pad_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    pad_exec *e = (pad_exec *)params;
    memset(e, 0, sizeof *e);
    const char *mode;
    AVF_TRY(avf_exec_attr_string(n, "mode", "constant", &mode));
    if (strcmp(mode, "constant") == 0)
        e->p.mode = AVF_BORDER_CONSTANT;
    else if (strcmp(mode, "edge") == 0)
        e->p.mode = AVF_BORDER_EDGE;
    else if (strcmp(mode, "reflect") == 0)
        e->p.mode = AVF_BORDER_REFLECT;
    else if (strcmp(mode, "wrap") == 0 && opset >= 19)
        e->p.mode = AVF_BORDER_WRAP;
    else
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Pad): mode '%s'", n->name, mode);
    if (opset >= 11) {
        e->inputs = 1;
        return AVF_OK;
    }
    AVF_TRY(avf_exec_attr_ints(n, "pads", e->pads, 2 * AVF_MAX_DIMS, &e->npads));
    if (e->npads < 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (Pad): attribute 'pads' is required", n->name);
    return avf_exec_attr_float(n, "value", 0.0f, &e->value);
}

static avf_status pad_infer(void *params, avf_exec_call *call) {
    pad_exec *e = (pad_exec *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    int r = x->ndim, npads = e->npads, naxes = -1;
    int64_t pads[2 * AVF_MAX_DIMS], axes[AVF_MAX_DIMS];
    memcpy(pads, e->pads, sizeof pads);
    if (e->inputs) {
        AVF_TRY(avf_data_exec_ints(call, 1, pads, 2 * AVF_MAX_DIMS, &npads));
        if (npads < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Pad): pads input is missing",
                            call->node->name);
        AVF_TRY(avf_data_exec_ints(call, 3, axes, AVF_MAX_DIMS, &naxes));
        const avf_tensor *cv = call->n_in > 2 ? call->in_host[2] : NULL;
        if (cv && cv->dtype != x->dtype)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Pad): constant_value is %s, data %s",
                            call->node->name, avf_dtype_name(cv->dtype), avf_dtype_name(x->dtype));
        if (call->n_in > 2 && call->in[2] && !cv)
            return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (Pad): constant_value not on the host",
                            call->node->name);
        AVF_TRY(avf_data_exec_scalar_bytes(cv, "Pad constant_value", &e->p.value));
    } else {
        AVF_TRY(avf_data_exec_value_bytes(x->dtype, e->value, &e->p.value));
    }
    /* Without axes, pads covers every dim; with axes (opset 18) only those. */
    int n = naxes >= 0 ? naxes : r;
    if (npads != 2 * n)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Pad): %d pads for %d axes",
                        call->node->name, npads, n);
    memset(e->p.pads, 0, sizeof e->p.pads);
    int seen[AVF_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) {
        int a = i;
        if (naxes >= 0)
            AVF_TRY(avf_norm_axis(axes[i], r, &a));
        if (seen[a])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Pad): axis %d repeats",
                            call->node->name, a);
        seen[a] = 1;
        e->p.pads[a] = pads[i];
        e->p.pads[r + a] = pads[n + i];
    }
    return avf_pad_shape(&e->p, x, out_or_scratch(call, &tmp));
}

static avf_status pad_run(const void *params, avf_exec_call *call) {
    const pad_exec *e = (const pad_exec *)params;
    return avf_op_pad(call->ctx, &e->p, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_pad = {"Pad", 0xeu, 0, pad_prepare, pad_infer, pad_run};

/* ---------------------------------------------------------------- Expand */

static avf_status expand_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    memset(params, 0, sizeof(avf_expand_params));
    return AVF_OK;
}

static avf_status expand_infer(void *params, avf_exec_call *call) {
    avf_expand_params *p = (avf_expand_params *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_ints(call, 1, p->shape, AVF_MAX_DIMS, &p->ndim));
    if (p->ndim < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Expand): shape input is missing",
                        call->node->name);
    return avf_expand_shape(p, x, out_or_scratch(call, &tmp));
}

static avf_status expand_run(const void *params, avf_exec_call *call) {
    return avf_op_expand(call->ctx, params, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_expand = {"Expand", 1u << 1, 0, expand_prepare, expand_infer,
                                          expand_run};

/* ---------------------------------------------------------------- Tile */

static avf_status tile_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    memset(params, 0, sizeof(avf_tile_params));
    return AVF_OK;
}

static avf_status tile_infer(void *params, avf_exec_call *call) {
    avf_tile_params *p = (avf_tile_params *)params;
    const avf_tensor *x;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_ints(call, 1, p->repeats, AVF_MAX_DIMS, &p->n));
    if (p->n < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Tile): repeats input is missing",
                        call->node->name);
    return avf_tile_shape(p, x, out_or_scratch(call, &tmp));
}

static avf_status tile_run(const void *params, avf_exec_call *call) {
    return avf_op_tile(call->ctx, params, call->in[0], OUT0(call));
}

const avf_exec_op avf_exec_data_tile = {"Tile", 1u << 1, 0, tile_prepare, tile_infer, tile_run};

/* ---------------------------------------------------------------- Gather */

static avf_status gather_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_gather_params *p = (avf_gather_params *)params;
    return avf_exec_attr_int(n, "axis", 0, &p->axis);
}

static avf_status gather_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x, *idx;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    AVF_TRY(avf_data_exec_in(call, 1, &idx));
    return avf_gather_shape(params, x, idx, out_or_scratch(call, &tmp));
}

static avf_status gather_run(const void *params, avf_exec_call *call) {
    return avf_op_gather(call->ctx, params, call->in[0], call->in[1], OUT0(call));
}

const avf_exec_op avf_exec_data_gather = {"Gather", 0, 0, gather_prepare, gather_infer,
                                          gather_run};

/* ---------------------------------------------------------------- ScatterND */

static avf_status scatternd_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    avf_scatternd_params *p = (avf_scatternd_params *)params;
    const char *r;
    AVF_TRY(avf_exec_attr_string(n, "reduction", "none", &r));
    if (strcmp(r, "none") == 0)
        p->reduction = AVF_SCATTER_NONE;
    else if (strcmp(r, "add") == 0 && opset >= 16)
        p->reduction = AVF_SCATTER_ADD;
    else if (strcmp(r, "mul") == 0 && opset >= 16)
        p->reduction = AVF_SCATTER_MUL;
    else if (strcmp(r, "max") == 0 && opset >= 18)
        p->reduction = AVF_SCATTER_MAX;
    else if (strcmp(r, "min") == 0 && opset >= 18)
        p->reduction = AVF_SCATTER_MIN;
    else
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (ScatterND): reduction '%s' in opset %lld",
                        n->name, r, (long long)opset);
    return AVF_OK;
}

static avf_status scatternd_infer(void *params, avf_exec_call *call) {
    const avf_tensor *d, *i, *u;
    avf_tensor tmp;
    AVF_TRY(avf_data_exec_in(call, 0, &d));
    AVF_TRY(avf_data_exec_in(call, 1, &i));
    AVF_TRY(avf_data_exec_in(call, 2, &u));
    return avf_scatternd_shape(params, d, i, u, out_or_scratch(call, &tmp));
}

static avf_status scatternd_run(const void *params, avf_exec_call *call) {
    return avf_op_scatternd(call->ctx, params, call->in[0], call->in[1], call->in[2], OUT0(call));
}

const avf_exec_op avf_exec_data_scatternd = {"ScatterND", 0, 0, scatternd_prepare,
                                             scatternd_infer, scatternd_run};

/* ---------------------------------------------------------------- NonZero */

static avf_status nonzero_prepare(const avf_graph_node *n, int64_t opset, void *params) {
    return AVF_OK;
}

/* The count is unknown until run: shape [rank, -1]. */
static avf_status nonzero_infer(void *params, avf_exec_call *call) {
    const avf_tensor *x;
    AVF_TRY(avf_data_exec_in(call, 0, &x));
    avf_tensor *y = OUT0(call);
    if (y) {
        y->dtype = AVF_DTYPE_I64;
        y->ndim = 2;
        y->shape[0] = x->ndim > 0 ? x->ndim : 1;
        y->shape[1] = -1;
    }
    return AVF_OK;
}

/* Data dependent: out[0] is unallocated; the op allocates it from the
 * context's pool (the caller owns and releases it). */
static avf_status nonzero_run(const void *params, avf_exec_call *call) {
    avf_tensor *y = OUT0(call);
    avf_tensor unused;
    memset(&unused, 0, sizeof unused);
    AVF_TRY(avf_op_nonzero(call->ctx, call->in[0], y ? y : &unused));
    if (!y)
        avf_tensor_release(&unused, call->ctx->stream);
    return AVF_OK;
}

const avf_exec_op avf_exec_data_nonzero = {"NonZero", 0, 1, nonzero_prepare, nonzero_infer,
                                           nonzero_run};
