/* The written-out layer norm (exporters for opsets < 17) -> one
 * avflow:LayerNormalization (see passes.h):
 *
 *   m = ReduceMean(x, axes=[-1]); d = x - m; v = ReduceMean(d ^ 2, axes=[-1])
 *   y = d / Sqrt(v + eps) * gamma + beta         (gamma, beta: f32 [D])
 *
 * Exactly this chain: both means over the last axis only with keepdims,
 * the exponent 2, eps one constant value, gamma and beta 1-D constants of
 * one length, and every intermediate read only by the next node (d by the
 * Pow and the Div). The product with gamma and the sum with beta may have
 * their operands in either order. */
#include <string.h>

#include "core/error.h"
#include "graph/passes/passes.h"

/* ReduceMean over the last axis only, keepdims. */
static int mean_last(const avf_pass *p, const avf_graph_node *n) {
    const avf_graph_attr *k = avf_graph_node_attr(n, "keepdims");
    if (k && k->i != 1)
        return 0;
    const avf_graph_attr *a = avf_graph_node_attr(n, "axes");
    if (a && n->n_inputs == 1)
        return a->type == AVF_ATTR_INTS && a->n == 1 && a->ints[0] == -1;
    if (!a && n->n_inputs == 2 && n->inputs[1] >= 0) { /* opset 18: axes as input */
        const avf_tensor *t = avf_pass_const(p, n->inputs[1]);
        return t && t->dtype == AVF_DTYPE_I64 && avf_tensor_numel(t) == 1 &&
               *(const int64_t *)t->data == -1;
    }
    return 0;
}

/* Binary node n reads `x` and a constant: returns the constant's value index. */
static int other_const(const avf_pass *p, const avf_graph_node *n, int x) {
    if (n->n_inputs != 2)
        return -1;
    for (int s = 0; s < 2; s++)
        if (n->inputs[1 - s] == x && n->inputs[s] != x && avf_pass_const(p, n->inputs[s]))
            return n->inputs[s];
    return -1;
}

static int scalar_f32(const avf_pass *p, int v, double *out) {
    const avf_tensor *t = avf_pass_const(p, v);
    if (!t || t->dtype != AVF_DTYPE_F32 || t->ndim > 1 || avf_tensor_numel(t) != 1)
        return 0;
    *out = *(const float *)t->data;
    return 1;
}

/* Every node of the chain ending at Add node i; fills nodes[9] (the Add
 * last) and x, gamma, beta, eps. */
static int match(const avf_pass *p, int i, int *nodes, int *x, int *gamma, int *beta,
                 double *eps) {
    const avf_graph *g = p->g;
    const avf_graph_node *add = &g->nodes[i];
    if (add->domain[0] || strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2)
        return 0;
    int ia = -1, im = -1, idv = -1, isq = -1, ie = -1, iv = -1, ip = -1, is = -1, imu = -1;
    const avf_graph_node *mul = NULL;
    for (int s = 0; s < 2 && !mul; s++) {
        mul = avf_pass_producer_op(p, add->inputs[s], "Mul", &im);
        if (mul && (*beta = other_const(p, add, add->inputs[s])) < 0)
            mul = NULL;
        if (mul)
            ia = add->inputs[s];
    }
    if (!mul || avf_pass_sole_reader(p, ia) != i)
        return 0;
    const avf_graph_node *div = NULL;
    int q = -1;
    for (int s = 0; s < 2 && !div; s++) {
        div = avf_pass_producer_op(p, mul->inputs[s], "Div", &idv);
        if (div && (*gamma = other_const(p, mul, mul->inputs[s])) < 0)
            div = NULL;
        if (div)
            q = mul->inputs[s];
    }
    if (!div || div->n_inputs != 2 || avf_pass_sole_reader(p, q) != im)
        return 0;
    int d = div->inputs[0], sd = div->inputs[1];
    const avf_graph_node *sq = avf_pass_producer_op(p, sd, "Sqrt", &isq);
    if (!sq || avf_pass_sole_reader(p, sd) != idv)
        return 0;
    const avf_graph_node *ae = avf_pass_producer_op(p, sq->inputs[0], "Add", &ie);
    if (!ae || avf_pass_sole_reader(p, sq->inputs[0]) != isq)
        return 0;
    int var = -1, ec = -1;
    for (int s = 0; s < 2 && var < 0; s++)
        if (scalar_f32(p, ae->inputs[s], eps) && ae->inputs[1 - s] != ae->inputs[s]) {
            ec = ae->inputs[s];
            var = ae->inputs[1 - s];
        }
    (void)ec;
    const avf_graph_node *rv = var >= 0 ? avf_pass_producer_op(p, var, "ReduceMean", &iv) : NULL;
    if (!rv || !mean_last(p, rv) || avf_pass_sole_reader(p, var) != ie)
        return 0;
    const avf_graph_node *pw = avf_pass_producer_op(p, rv->inputs[0], "Pow", &ip);
    double two;
    if (!pw || pw->n_inputs != 2 || pw->inputs[0] != d || !scalar_f32(p, pw->inputs[1], &two) ||
        two != 2.0 || avf_pass_sole_reader(p, rv->inputs[0]) != iv)
        return 0;
    /* d: read by the Pow and the Div only */
    const avf_graph_node *sub = avf_pass_producer_op(p, d, "Sub", &is);
    if (!sub || sub->n_inputs != 2 || p->pinned[d] || p->uses[d] != 2)
        return 0;
    *x = sub->inputs[0];
    const avf_graph_node *rm = avf_pass_producer_op(p, sub->inputs[1], "ReduceMean", &imu);
    if (!rm || !mean_last(p, rm) || rm->inputs[0] != *x ||
        avf_pass_sole_reader(p, sub->inputs[1]) != is)
        return 0;
    const avf_tensor *gt = avf_pass_const(p, *gamma), *bt = avf_pass_const(p, *beta);
    if (gt->dtype != AVF_DTYPE_F32 || bt->dtype != AVF_DTYPE_F32 || gt->ndim != 1 ||
        bt->ndim != 1 || gt->shape[0] != bt->shape[0])
        return 0;
    int list[9] = {imu, is, ip, iv, ie, isq, idv, im, i};
    memcpy(nodes, list, sizeof list);
    return 1;
}

avf_status avf_pass_layernorm(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int nodes[9], x = -1, gamma = -1, beta = -1;
        double eps = 0;
        if (p->dead[i] || !match(p, i, nodes, &x, &gamma, &beta, &eps))
            continue;
        for (int k = 0; k < 8; k++)
            avf_pass_kill(p, nodes[k]);
        avf_graph_node *n = &g->nodes[i];
        int ins[3] = {x, gamma, beta};
        AVF_TRY(avf_pass_set_inputs(n, 3, ins));
        AVF_TRY(avf_pass_set_op(p, n, AVF_DOMAIN_INTERNAL, "LayerNormalization"));
        AVF_TRY(avf_pass_attr_int(n, "axis", -1));
        AVF_TRY(avf_pass_attr_float(n, "epsilon", (float)eps));
        AVF_TRY(avf_pass_recount(p));
        AVF_TRY(avf_pass_check(p, n, "layernorm"));
        ++*count;
    }
    return AVF_OK;
}
