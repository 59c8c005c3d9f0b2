/* Constant passes (see passes.h): Constant nodes -> initializers, constant
 * folding through the exec ops on the CPU, and removal of nodes that pass
 * their input through (Identity, x*1, x+0, x-0, x/1, Dropout, a Slice that
 * keeps everything, a Cast of f32 to f32). */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec.h"
#include "graph/exec_op.h"
#include "graph/passes/passes.h"

/* ------------------------------------------------------------ Constant */

avf_status avf_pass_constants(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (p->dead[i] || strcmp(n->op_type, "Constant") != 0 || n->domain[0] ||
            n->n_outputs != 1 || n->outputs[0] < 0 || !n->supported)
            continue;
        avf_tensor t;
        void *owned = NULL;
        if (avf_exec_constant_host(n, &t, &owned) != AVF_OK) {
            avf_clear_error();
            continue; /* left to fail where it always did */
        }
        void *data = owned;
        if (!data) {
            /* the tensor attribute's data moves to the initializer */
            avf_graph_attr *a = &n->attrs[0];
            data = a->t->data;
            a->t->data = NULL;
        }
        AVF_TRY(avf_pass_make_init(p, n->outputs[0], data, t.dtype, t.ndim, t.shape));
        avf_pass_kill(p, i);
        ++*count;
    }
    return AVF_OK;
}

/* ------------------------------------------------------------ folding */

typedef union params_buf {
    max_align_t align;
    unsigned char b[AVF_EXEC_PARAMS_MAX];
} params_buf;

static int foldable(const avf_pass *p, const avf_graph_node *n, const avf_exec_op **op) {
    if (!n->supported || n->n_implicit || n->n_inputs > AVF_EXEC_MAX_IO ||
        n->n_outputs > AVF_EXEC_MAX_IO || n->n_outputs < 1)
        return 0;
    if (strcmp(n->op_type, "Constant") == 0 || strcmp(n->op_type, "If") == 0 ||
        strcmp(n->op_type, "Loop") == 0)
        return 0;
    *op = avf_exec_find(n->domain, n->op_type);
    if (!*op || (*op)->data_dependent || !(*op)->infer || !(*op)->run)
        return 0;
    int any = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            continue;
        if (!avf_pass_const(p, n->inputs[k]))
            return 0;
        any = 1;
    }
    return any; /* a node without inputs (RandomNormal-like) is left alone */
}

/* Evaluate node i; *done = 1 when its outputs became initializers. A node
 * that fails to evaluate is kept: running it reports the error as before. */
static avf_status eval_node(avf_pass *p, int i, avf_op_ctx *ctx, const avf_exec_op *op,
                            int *done) {
    avf_graph_node *n = &p->g->nodes[i];
    *done = 0;
    params_buf pb;
    memset(&pb, 0, sizeof pb);
    int64_t opset = avf_graph_get_opset(p->g, n->domain);
    avf_exec_call call;
    memset(&call, 0, sizeof call);
    call.ctx = ctx;
    call.node = n;
    call.opset = opset;
    call.n_in = n->n_inputs;
    call.n_out = n->n_outputs;
    for (int k = 0; k < n->n_inputs; k++)
        call.in[k] = call.in_host[k] = n->inputs[k] >= 0 ? avf_pass_const(p, n->inputs[k]) : NULL;
    avf_tensor outs[AVF_EXEC_MAX_IO];
    memset(outs, 0, sizeof outs);
    for (int o = 0; o < n->n_outputs; o++)
        call.out[o] = n->outputs[o] >= 0 ? &outs[o] : NULL;
    if ((op->prepare && op->prepare(n, opset, pb.b) != AVF_OK) || op->infer(pb.b, &call) != AVF_OK) {
        avf_clear_error();
        return AVF_OK;
    }
    avf_status st = AVF_OK;
    int n_alloc = 0;
    for (int o = 0; o < n->n_outputs && st == AVF_OK; o++, n_alloc = o) {
        if (!call.out[o])
            continue;
        size_t nb = 0;
        int64_t numel = 0;
        if (avf_shape_numel(outs[o].ndim, outs[o].shape, &numel) != AVF_OK || numel == 0 ||
            (uint64_t)numel > AVF_PASS_FOLD_MAX_BYTES ||
            (nb = (size_t)numel * avf_dtype_size(outs[o].dtype)) > AVF_PASS_FOLD_MAX_BYTES ||
            nb == 0) {
            st = AVF_ERR_UNSUPPORTED; /* too large (or empty): keep the node */
            break;
        }
        void *data = malloc(nb);
        if (!data) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "passes: out of memory");
            break;
        }
        avf_tensor want = outs[o];
        if ((st = avf_tensor_init_borrowed(&outs[o], data, want.dtype, want.ndim, want.shape,
                                           ctx->dev)) != AVF_OK)
            free(data);
    }
    if (st == AVF_OK)
        n_alloc = n->n_outputs;
    if (st == AVF_OK && op->run(pb.b, &call) != AVF_OK)
        st = AVF_ERR_UNSUPPORTED;
    if (st != AVF_OK) {
        for (int o = 0; o < n_alloc; o++)
            if (call.out[o])
                free(outs[o].data);
        if (st == AVF_ERR_OUT_OF_MEMORY)
            return st;
        avf_clear_error();
        return AVF_OK;
    }
    for (int o = 0; o < n->n_outputs; o++) {
        if (!call.out[o])
            continue;
        if (st == AVF_OK)
            st = avf_pass_make_init(p, n->outputs[o], outs[o].data, outs[o].dtype, outs[o].ndim,
                                    outs[o].shape);
        else
            free(outs[o].data);
    }
    AVF_TRY(st);
    avf_pass_kill(p, i);
    *done = 1;
    return AVF_OK;
}

avf_status avf_pass_fold(avf_pass *p, int *count) {
    *count = 0;
    avf_device *cpu = NULL;
    AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_op_ctx ctx;
    int have_ctx = 0;
    /* nodes are in topological order: one sweep folds whole constant chains */
    for (int i = 0; i < p->g->n_nodes; i++) {
        const avf_exec_op *op = NULL;
        if (p->dead[i] || !foldable(p, &p->g->nodes[i], &op))
            continue;
        if (!have_ctx) {
            if (!p->pool)
                AVF_TRY(avf_pool_create(cpu, NULL, &p->pool));
            AVF_TRY(avf_op_ctx_init(&ctx, cpu, NULL, p->pool));
            have_ctx = 1;
        }
        int done = 0;
        avf_status st = eval_node(p, i, &ctx, op, &done);
        if (st != AVF_OK) {
            avf_op_ctx_release(&ctx);
            return st;
        }
        *count += done;
    }
    if (have_ctx)
        avf_op_ctx_release(&ctx);
    return AVF_OK;
}

/* ------------------------------------------------------------ identities */

/* Every element of constant v equals `want` (float dtypes). */
static int const_all(const avf_pass *p, int v, double want) {
    const avf_tensor *t = avf_pass_const(p, v);
    if (!t || !t->data || t->dtype != AVF_DTYPE_F32)
        return 0;
    int64_t n = avf_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        if (((const float *)t->data)[i] != (float)want)
            return 0;
    return n > 0;
}

/* v is f32 for certain: its type or constant says so, or it is a Cast to
 * float, or the output of an op whose output dtype is its first input's
 * (data movement, same-dtype math, Conv, LSTM) with that input f32 for
 * certain. Stricter than avf_pass_is_f32 (which takes any f32 input of the
 * producer as the answer, true of Equal's operands but not its output):
 * this one decides whether a Cast is a no-op. */
static int surely_f32(const avf_pass *p, int v, int depth) {
    static const char *const same_dtype[] = {
        "Slice", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Flatten",
        "Concat", "Split", "Pad", "Gather", "Expand", "Tile", "Conv", "ConvTranspose", "MatMul",
        "Gemm", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Abs", "Neg", "Sqrt", "Exp",
        "Log", "Add", "Sub", "Mul", "Div", "Pow", "Softmax", "LSTM", "GRU", "ReduceMean",
        "ReduceSum", "ReduceMax", "ReduceMin", "BatchNormalization", "MaxPool", "AveragePool",
        "GlobalAveragePool"};
    if (v < 0 || depth > 64)
        return 0;
    const avf_tensor *c = avf_pass_const(p, v);
    if (c)
        return c->dtype == AVF_DTYPE_F32;
    const avf_graph *g = p->g;
    if (g->values[v].has_dtype)
        return g->values[v].dtype == AVF_DTYPE_F32;
    int i = avf_pass_producer(p, v);
    if (i < 0)
        return 0;
    const avf_graph_node *n = &g->nodes[i];
    if (n->domain[0] || n->n_inputs < 1)
        return 0;
    if (strcmp(n->op_type, "Cast") == 0) {
        const avf_graph_attr *to = avf_graph_node_attr(n, "to");
        return to && to->type == AVF_ATTR_INT && to->i == 1; /* TensorProto FLOAT */
    }
    for (size_t k = 0; k < sizeof same_dtype / sizeof same_dtype[0]; k++)
        if (strcmp(n->op_type, same_dtype[k]) == 0)
            return surely_f32(p, n->inputs[0], depth + 1);
    return 0;
}

/* A Slice that keeps everything: constant starts all 0, steps all 1 (or
 * none), ends all past any dimension (PyTorch writes INT64_MAX for `:`).
 * Silero VAD's STFT has three. */
static int slice_whole(const avf_pass *p, const avf_graph_node *n) {
    if (n->n_inputs < 3 || n->n_outputs != 1 || n->inputs[0] < 0 || n->inputs[1] < 0 ||
        n->inputs[2] < 0)
        return 0;
    const avf_tensor *st = avf_pass_const(p, n->inputs[1]), *en = avf_pass_const(p, n->inputs[2]);
    const avf_tensor *sp = n->n_inputs > 4 && n->inputs[4] >= 0 ? avf_pass_const(p, n->inputs[4])
                                                                : NULL;
    if (!st || !en || !st->data || !en->data || st->dtype != AVF_DTYPE_I64 ||
        en->dtype != AVF_DTYPE_I64 || avf_tensor_numel(st) != avf_tensor_numel(en) ||
        avf_tensor_numel(st) < 1)
        return 0;
    if (n->n_inputs > 4 && n->inputs[4] >= 0 &&
        (!sp || !sp->data || sp->dtype != AVF_DTYPE_I64 ||
         avf_tensor_numel(sp) != avf_tensor_numel(st)))
        return 0;
    const int64_t *starts = st->data, *ends = en->data, *steps = sp ? sp->data : NULL;
    for (int64_t k = 0; k < avf_tensor_numel(st); k++)
        if (starts[k] != 0 || ends[k] < ((int64_t)1 << 62) || (steps && steps[k] != 1))
            return 0;
    return 1;
}

/* The value node n passes through unchanged, or -1. A binary op with a
 * constant qualifies only when the constant cannot change the shape or the
 * dtype: one f32 element of rank <= the other operand's known rank, which
 * is known to be f32. */
static int passthrough(const avf_pass *p, const avf_graph_node *n) {
    if (n->domain[0])
        return -1;
    if (strcmp(n->op_type, "Identity") == 0 && n->n_inputs == 1)
        return n->inputs[0];
    if (strcmp(n->op_type, "Dropout") == 0 && n->n_inputs == 1 &&
        (n->n_outputs == 1 || (n->n_outputs == 2 && n->outputs[1] < 0)))
        return n->inputs[0]; /* inference: Dropout is the identity */
    if (strcmp(n->op_type, "Slice") == 0 && slice_whole(p, n))
        return n->inputs[0];
    if (strcmp(n->op_type, "Cast") == 0 && n->n_inputs == 1 && n->n_outputs == 1) {
        const avf_graph_attr *to = avf_graph_node_attr(n, "to");
        if (to && to->type == AVF_ATTR_INT && to->i == 1 && surely_f32(p, n->inputs[0], 0))
            return n->inputs[0]; /* f32 -> f32 */
    }
    if (n->n_inputs != 2 || n->inputs[0] < 0 || n->inputs[1] < 0)
        return -1;
    int is_mul = strcmp(n->op_type, "Mul") == 0, is_add = strcmp(n->op_type, "Add") == 0;
    int is_div = strcmp(n->op_type, "Div") == 0, is_sub = strcmp(n->op_type, "Sub") == 0;
    if (!is_mul && !is_add && !is_div && !is_sub)
        return -1;
    for (int side = 0; side < 2; side++) {
        int c = n->inputs[side], x = n->inputs[1 - side];
        if ((is_div || is_sub) && side == 0)
            continue; /* 1/x and 0-x are not x */
        const avf_tensor *t = avf_pass_const(p, c);
        if (!t || avf_tensor_numel(t) != 1 || t->ndim > 1)
            continue;
        if (t->ndim > avf_pass_min_rank(p, x, 0) || !avf_pass_is_f32(p, x, 0))
            continue;
        if (const_all(p, c, is_mul || is_div ? 1.0 : 0.0))
            return x;
    }
    return -1;
}

/* Replace every read of `from` by live nodes with `to`. */
static void redirect(avf_pass *p, int from, int to) {
    avf_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->dead[i])
            continue;
        avf_graph_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == from) {
                n->inputs[k] = to;
                p->uses[from]--;
                p->uses[to]++;
            }
    }
}

avf_status avf_pass_identities(avf_pass *p, int *count) {
    *count = 0;
    avf_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (p->dead[i] || n->n_outputs < 1 || n->outputs[0] < 0)
            continue;
        int y = n->outputs[0];
        int x = passthrough(p, n);
        /* the output's name must survive when it is a graph output or read
         * by a subgraph (which names it) */
        if (x < 0 || !avf_pass_removable(p, y))
            continue;
        redirect(p, y, x);
        avf_pass_kill(p, i);
        ++*count;
    }
    return AVF_OK;
}
