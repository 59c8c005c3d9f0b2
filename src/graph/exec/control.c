/* Executor ops of the control family (see graph/exec_op.h): Constant, If and
 * Loop. The executor folds Constant nodes into model constants at compile
 * time and runs If/Loop itself (they need its frames: avf_exec_run_if/loop
 * below); their table entries validate attributes and make the ops known. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec.h"
#include "graph/exec_op.h"

/* ------------------------------------------------------------ Constant */

avf_status avf_exec_constant_host(const avf_graph_node *n, avf_tensor *out, void **owned) {
    *owned = NULL;
    memset(out, 0, sizeof *out);
    avf_device *cpu = NULL;
    AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    const avf_graph_attr *a = n->n_attrs == 1 ? &n->attrs[0] : NULL;
    if (!a)
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (Constant): needs exactly one value attribute",
                        n->name);
    if (strcmp(a->name, "value") == 0 && a->type == AVF_ATTR_TENSOR && a->t) {
        *out = *a->t; /* the graph owns the data */
        out->flags = 0;
        out->pool = NULL;
        out->device = cpu;
        return AVF_OK;
    }
    int is_f = strcmp(a->name, "value_float") == 0 && a->type == AVF_ATTR_FLOAT;
    int is_fs = strcmp(a->name, "value_floats") == 0 && a->type == AVF_ATTR_FLOATS;
    int is_i = strcmp(a->name, "value_int") == 0 && a->type == AVF_ATTR_INT;
    int is_is = strcmp(a->name, "value_ints") == 0 && a->type == AVF_ATTR_INTS;
    if (!is_f && !is_fs && !is_i && !is_is)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "node '%s' (Constant): attribute '%s' (%s) is not supported", n->name,
                        a->name, avf_attr_type_name(a->type));
    int64_t count = is_fs || is_is ? a->n : 1;
    size_t esize = is_f || is_fs ? sizeof(float) : sizeof(int64_t);
    void *data = malloc((size_t)(count ? count : 1) * esize);
    if (!data)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "Constant: out of memory");
    if (is_f)
        *(float *)data = a->f;
    else if (is_i)
        *(int64_t *)data = a->i;
    else if (is_fs && count)
        memcpy(data, a->floats, (size_t)count * esize);
    else if (count)
        memcpy(data, a->ints, (size_t)count * esize);
    avf_status st = avf_tensor_init_borrowed(out, data, is_f || is_fs ? AVF_DTYPE_F32 : AVF_DTYPE_I64,
                                             is_fs || is_is ? 1 : 0, &count, cpu);
    if (st != AVF_OK) {
        free(data);
        return st;
    }
    *owned = data;
    return AVF_OK;
}

typedef struct constant_params {
    const avf_graph_node *node; /* the graph lives as long as the model */
} constant_params;

static avf_status constant_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    avf_tensor t;
    void *owned = NULL;
    AVF_TRY(avf_exec_constant_host(node, &t, &owned)); /* validates */
    free(owned);
    ((constant_params *)params)->node = node;
    return AVF_OK;
}

static avf_status constant_infer(void *params, avf_exec_call *call) {
    avf_tensor t;
    void *owned = NULL;
    AVF_TRY(avf_exec_constant_host(((constant_params *)params)->node, &t, &owned));
    free(owned);
    if (call->n_out >= 1 && call->out[0]) {
        call->out[0]->dtype = t.dtype;
        call->out[0]->ndim = t.ndim;
        memcpy(call->out[0]->shape, t.shape, sizeof t.shape);
    }
    return AVF_OK;
}

static avf_status constant_run(const void *params, avf_exec_call *call) {
    if (call->n_out < 1 || !call->out[0])
        return AVF_OK;
    avf_tensor t;
    void *owned = NULL;
    AVF_TRY(avf_exec_constant_host(((const constant_params *)params)->node, &t, &owned));
    avf_tensor *o = call->out[0];
    avf_status st = AVF_OK;
    if (avf_tensor_nbytes(o) != avf_tensor_nbytes(&t))
        st = AVF_FAIL(AVF_ERR_INTERNAL, "Constant: output has %zu bytes, the value %zu",
                      avf_tensor_nbytes(o), avf_tensor_nbytes(&t));
    else
        st = avf_memcpy_async(call->ctx->dev, o->data, t.data, avf_tensor_nbytes(&t),
                              avf_op_device_is_cpu(call->ctx) ? AVF_COPY_H2H : AVF_COPY_H2D,
                              call->ctx->stream, "constant");
    free(owned); /* pageable source: the copy has read it on return */
    return st;
}

const avf_exec_op avf_exec_op_constant = {"Constant", 0, 0, constant_prepare, constant_infer,
                                          constant_run};

/* ------------------------------------------------------------ If / Loop */

static avf_status control_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    (void)params;
    int is_if = strcmp(node->op_type, "If") == 0;
    const char *names[2] = {is_if ? "then_branch" : "body", is_if ? "else_branch" : NULL};
    for (int b = 0; b < 2 && names[b]; b++) {
        const avf_graph_attr *a = avf_graph_node_attr(node, names[b]);
        if (!a || a->type != AVF_ATTR_GRAPH || !a->g)
            return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): missing graph attribute '%s'",
                            node->name, node->op_type, names[b]);
    }
    return AVF_OK;
}

static avf_status control_run(const void *params, avf_exec_call *call) {
    (void)params;
    return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (%s): runs inside the executor only",
                    call->node->name, call->node->op_type);
}

const avf_exec_op avf_exec_op_if = {"If", 1, 0, control_prepare, NULL, control_run};
const avf_exec_op avf_exec_op_loop = {"Loop", 3, 0, control_prepare, NULL, control_run};

/* A scalar (or one-element) host value as a truth value / integer. */
static avf_status host_scalar(avf_exec_run *r, avf_exec_slot *s, const char *what, int64_t *out) {
    const avf_tensor *t = NULL;
    if (!s)
        return AVF_FAIL(AVF_ERR_INTERNAL, "%s: value not found", what);
    AVF_TRY(avf_exec_slot_host(r, s, &t));
    if (avf_tensor_numel(t) != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s must hold one element, has %lld", what,
                        (long long)avf_tensor_numel(t));
    switch (t->dtype) {
    case AVF_DTYPE_BOOL:
    case AVF_DTYPE_U8: *out = *(const uint8_t *)t->data; break;
    case AVF_DTYPE_I8: *out = *(const int8_t *)t->data; break;
    case AVF_DTYPE_I32: *out = *(const int32_t *)t->data; break;
    case AVF_DTYPE_I64: *out = *(const int64_t *)t->data; break;
    case AVF_DTYPE_F32: *out = *(const float *)t->data != 0.0f; break;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s", what, avf_dtype_name(t->dtype));
    }
    return AVF_OK;
}

avf_status avf_exec_run_if(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en,
                           avf_exec_slot *out) {
    const avf_graph_node *n = en->node;
    if (n->n_inputs < 1 || n->inputs[0] < 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "If: no condition");
    int64_t cond = 0;
    AVF_TRY(host_scalar(r, avf_exec_frame_slot(f, n->inputs[0]), "If condition", &cond));
    const avf_exec_graph *b = en->sub[cond ? 0 : 1];
    int nb = b->g->n_outputs;
    if (nb < n->n_outputs)
        return AVF_FAIL(AVF_ERR_CORRUPT, "If: the %s branch has %d outputs, the node %d",
                        cond ? "then" : "else", nb, n->n_outputs);
    avf_exec_slot *outs = calloc((size_t)(nb ? nb : 1), sizeof *outs);
    if (!outs)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "If: out of memory");
    avf_status st = avf_exec_graph_run(r, b, f, 0, NULL, nb, outs);
    if (st == AVF_OK) {
        for (int o = 0; o < n->n_outputs; o++) {
            out[o] = outs[o];
            memset(&outs[o], 0, sizeof outs[o]);
        }
        for (int o = n->n_outputs; o < nb; o++)
            avf_exec_slot_release(r, &outs[o]);
    }
    free(outs);
    return st;
}

/* A new scalar on the host (the device tensor on a CPU run). */
static avf_status new_scalar(avf_exec_run *r, avf_dtype dt, int64_t v, avf_exec_slot *s) {
    memset(s, 0, sizeof *s);
    avf_tensor *t = r->on_cpu ? &s->t : &s->host;
    AVF_TRY(avf_tensor_alloc(t, r->host_ctx.pool, dt, 0, NULL, NULL));
    if (dt == AVF_DTYPE_I64)
        *(int64_t *)t->data = v;
    else
        *(uint8_t *)t->data = v != 0;
    if (r->on_cpu)
        s->has_t = s->own_t = 1;
    else
        s->has_host = s->own_host = 1;
    return AVF_OK;
}

typedef struct scan_list {
    int n, cap;
    avf_exec_slot *items;
} scan_list;

static avf_status scan_push(scan_list *l, avf_exec_slot *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        avf_exec_slot *p = realloc(l->items, (size_t)cap * sizeof *p);
        if (!p)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "Loop: out of memory");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = *s;
    memset(s, 0, sizeof *s);
    return AVF_OK;
}

/* Stack the per-iteration values of a scan output along a new axis 0. */
static avf_status scan_stack(avf_exec_run *r, const avf_graph_value *bv, scan_list *l,
                             avf_exec_slot *out) {
    memset(out, 0, sizeof *out);
    int64_t shape[AVF_MAX_DIMS];
    avf_dtype dt = bv->has_dtype ? bv->dtype : AVF_DTYPE_F32;
    int ndim = 1;
    shape[0] = l->n;
    const avf_tensor *first = NULL;
    if (l->n > 0) {
        AVF_TRY(avf_exec_slot_device(r, &l->items[0], &first));
        if (first->ndim + 1 > AVF_MAX_DIMS)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Loop: scan output '%s' has rank %d", bv->name,
                            first->ndim);
        dt = first->dtype;
        ndim = first->ndim + 1;
        memcpy(shape + 1, first->shape, (size_t)first->ndim * sizeof *shape);
    } else if (bv->ndim >= 0 && bv->ndim < AVF_MAX_DIMS) {
        /* no iteration: [0, the declared dims] where they are known */
        ndim = bv->ndim + 1;
        for (int d = 0; d < bv->ndim; d++)
            shape[d + 1] = bv->dims[d] >= 0 ? bv->dims[d] : 0;
    }
    AVF_TRY(avf_tensor_alloc(&out->t, r->ctx.pool, dt, ndim, shape, r->ctx.stream));
    out->has_t = out->own_t = 1;
    size_t each = l->n ? avf_tensor_nbytes(first) : 0;
    for (int i = 0; i < l->n; i++) {
        const avf_tensor *t = NULL;
        AVF_TRY(avf_exec_slot_device(r, &l->items[i], &t));
        int same = t->dtype == dt && t->ndim == ndim - 1;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == shape[d + 1];
        if (!same)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                            "Loop: scan output '%s' changes dtype or shape at iteration %d",
                            bv->name, i);
        AVF_TRY(avf_memcpy_async(r->dev, (char *)out->t.data + (size_t)i * each, t->data, each,
                                 r->on_cpu ? AVF_COPY_H2H : AVF_COPY_D2D, r->ctx.stream, "exec"));
    }
    return AVF_OK;
}

avf_status avf_exec_run_loop(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en,
                             avf_exec_slot *out) {
    const avf_graph_node *n = en->node;
    const avf_exec_graph *body = en->sub[0];
    const avf_graph *bg = body->g;
    int N = n->n_inputs - 2;
    int K = bg->n_outputs - 1 - N;
    if (N < 0 || bg->n_inputs != N + 2 || K < 0 || n->n_outputs > N + K)
        return AVF_FAIL(AVF_ERR_CORRUPT,
                        "Loop: %d inputs and %d outputs, the body has %d inputs and %d outputs",
                        n->n_inputs, n->n_outputs, bg->n_inputs, bg->n_outputs);
    int has_m = n->inputs[0] >= 0, has_cond = n->inputs[1] >= 0;
    int64_t trips = 0, cond = 1;
    if (has_m)
        AVF_TRY(host_scalar(r, avf_exec_frame_slot(f, n->inputs[0]), "Loop M", &trips));
    if (has_cond)
        AVF_TRY(host_scalar(r, avf_exec_frame_slot(f, n->inputs[1]), "Loop cond", &cond));
    if (!has_m && !has_cond)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Loop: neither M nor cond is given (endless loop)");

    avf_exec_slot *carried = calloc((size_t)(N + 1), sizeof *carried);
    avf_exec_slot *ins = calloc((size_t)(N + 2), sizeof *ins);
    avf_exec_slot *outs = calloc((size_t)(1 + N + K), sizeof *outs);
    scan_list *scans = calloc((size_t)(K + 1), sizeof *scans);
    avf_status st = AVF_OK;
    if (!carried || !ins || !outs || !scans)
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "Loop: out of memory");
    for (int j = 0; j < N && st == AVF_OK; j++) {
        /* the first iteration borrows the initial values */
        if (n->inputs[2 + j] < 0) {
            st = AVF_FAIL(AVF_ERR_CORRUPT, "Loop: loop-carried input %d is omitted", j);
            break;
        }
        carried[j] = *avf_exec_frame_slot(f, n->inputs[2 + j]);
        carried[j].own_t = carried[j].own_host = 0;
    }
    for (int64_t it = 0; st == AVF_OK && (!has_m || it < trips) && (!has_cond || cond); it++) {
        if ((st = new_scalar(r, AVF_DTYPE_I64, it, &ins[0])) != AVF_OK ||
            (st = new_scalar(r, AVF_DTYPE_BOOL, cond, &ins[1])) != AVF_OK)
            break;
        for (int j = 0; j < N; j++) {
            ins[2 + j] = carried[j];
            memset(&carried[j], 0, sizeof carried[j]);
        }
        if ((st = avf_exec_graph_run(r, body, f, N + 2, ins, 1 + N + K, outs)) != AVF_OK)
            break;
        if (has_cond)
            st = host_scalar(r, &outs[0], "Loop body cond", &cond);
        avf_exec_slot_release(r, &outs[0]);
        for (int j = 0; j < N; j++) {
            carried[j] = outs[1 + j];
            memset(&outs[1 + j], 0, sizeof outs[1 + j]);
        }
        for (int k = 0; k < K && st == AVF_OK; k++)
            st = scan_push(&scans[k], &outs[1 + N + k]);
        for (int k = 0; k < 1 + N + K; k++)
            avf_exec_slot_release(r, &outs[k]);
    }
    for (int o = 0; o < n->n_outputs && st == AVF_OK; o++) {
        if (o < N) {
            out[o] = carried[o];
            memset(&carried[o], 0, sizeof carried[o]);
            st = avf_exec_slot_own(r, &out[o]); /* zero iterations: still borrowed */
        } else {
            st = scan_stack(r, &bg->values[bg->outputs[1 + o]], &scans[o - N], &out[o]);
        }
    }
    for (int j = 0; carried && j < N; j++)
        avf_exec_slot_release(r, &carried[j]);
    for (int j = 0; ins && j < N + 2; j++)
        avf_exec_slot_release(r, &ins[j]);
    for (int k = 0; scans && k < K; k++) {
        for (int i = 0; i < scans[k].n; i++)
            avf_exec_slot_release(r, &scans[k].items[i]);
        free(scans[k].items);
    }
    if (st != AVF_OK)
        for (int o = 0; o < n->n_outputs; o++)
            avf_exec_slot_release(r, &out[o]);
    free(carried);
    free(ins);
    free(outs);
    free(scans);
    return st;
}

const avf_exec_op *const avf_exec_ops_control[] = {
    &avf_exec_op_if,
    &avf_exec_op_loop,
    &avf_exec_op_constant,
    NULL,
};
