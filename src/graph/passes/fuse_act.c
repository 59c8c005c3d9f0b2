/* Activation fusions (see passes.h):
 *
 *   acts       x*clip(x+3,0,6)/6 (or *(1/6)) -> Act(HardSwish6)
 *              HardSigmoid(x)*x              -> Act(HardSwish, alpha, beta)
 *              Sigmoid(x)*x                  -> Act(Swish)
 *   conv_act   Conv -> activation            -> FusedConv(activation)
 *              (ConvTranspose likewise -> FusedConvTranspose)
 *   matmul_bias MatMul(A, W[K,N]) + C[N]     -> FusedMatMul(A, W, C)
 *   epilogue   FusedConv/FusedMatMul without activation -> activation, and
 *              any fused node -> Mul/Add/Sub/Div by one constant value:
 *              absorbed into the node's epilogue.
 *
 * Every intermediate must have the pattern's node as its only reader; the
 * constants must be f32 initializers with exactly the values the formulas
 * need, and a constant may only broadcast where it cannot change the shape
 * (one element, rank <= the other operand's known rank).
 */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "graph/passes/passes.h"
#include "ops/fused.h"

static int is_op(const avf_graph_node *n, const char *op) {
    return !n->domain[0] && strcmp(n->op_type, op) == 0;
}

static int is_internal(const avf_graph_node *n, const char *op) {
    return strcmp(n->domain, AVF_DOMAIN_INTERNAL) == 0 && strcmp(n->op_type, op) == 0;
}

/* Constant `c` read against operand x: one f32 element that broadcasting
 * cannot turn into a new shape. */
static int scalar_for(const avf_pass *p, int c, int x, double *val) {
    const avf_tensor *t = avf_pass_const(p, c);
    if (!t || t->dtype != AVF_DTYPE_F32 || avf_tensor_numel(t) != 1 || !t->data)
        return 0;
    if (t->ndim > avf_pass_min_rank(p, x, 0))
        return 0;
    *val = *(const float *)t->data;
    return 1;
}

/* Binary node n reads x and a constant: the constant's value (side: its
 * input index). */
static int binary_const(const avf_pass *p, const avf_graph_node *n, const char *op, int x,
                        double *val, int *side) {
    if (!is_op(n, op) || n->n_inputs != 2)
        return 0;
    for (int s = 0; s < 2; s++)
        if (n->inputs[1 - s] == x && n->inputs[s] != x && scalar_for(p, n->inputs[s], x, val)) {
            *side = s;
            return 1;
        }
    return 0;
}

/* Clip bounds (opset >= 11: constant inputs; before: attributes). */
static int clip_bounds(const avf_pass *p, const avf_graph_node *n, double *lo, double *hi) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (avf_graph_get_opset(p->g, "") >= 11) {
        for (int k = 1; k < n->n_inputs && k < 3; k++) {
            if (n->inputs[k] < 0)
                continue;
            const avf_tensor *t = avf_pass_const(p, n->inputs[k]);
            if (!t || t->dtype != AVF_DTYPE_F32 || avf_tensor_numel(t) > 1 || t->ndim > 1)
                return 0;
            if (avf_tensor_numel(t) == 1)
                *(k == 1 ? lo : hi) = *(const float *)t->data;
        }
        return 1;
    }
    const avf_graph_attr *a = avf_graph_node_attr(n, "min");
    if (a)
        *lo = a->f;
    if ((a = avf_graph_node_attr(n, "max")))
        *hi = a->f;
    return n->n_inputs == 1;
}

/* Turn node i into Act(x) with `ep`, keeping its output. */
static avf_status make_act(avf_pass *p, int i, int x, const avf_epilogue_params *ep) {
    avf_graph_node *n = &p->g->nodes[i];
    while (n->n_attrs)
        avf_pass_attr_remove(n, n->attrs[0].name);
    AVF_TRY(avf_pass_set_op(p, n, AVF_DOMAIN_INTERNAL, "Act"));
    AVF_TRY(avf_pass_set_inputs(n, 1, &x));
    AVF_TRY(avf_pass_attr_string(n, "activation", avf_act_name(ep->act)));
    AVF_TRY(avf_pass_attr_float(n, "alpha", ep->alpha));
    AVF_TRY(avf_pass_attr_float(n, "beta", ep->beta));
    AVF_TRY(avf_pass_attr_float(n, "post_mul", ep->post_mul));
    AVF_TRY(avf_pass_attr_float(n, "post_add", ep->post_add));
    AVF_TRY(avf_pass_check(p, n, "acts"));
    return avf_pass_recount(p);
}

/* Node i is Mul(x, s) with s = f(x) computed by node j (j reads x, s has
 * only this reader): returns j, else -1. */
static int mul_by_fn_of_x(const avf_pass *p, const avf_graph_node *m, int *x) {
    if (!is_op(m, "Mul") || m->n_inputs != 2)
        return -1;
    for (int s = 0; s < 2; s++) {
        int f = m->inputs[s], xv = m->inputs[1 - s];
        int j = avf_pass_producer(p, f);
        if (j < 0 || avf_pass_sole_reader(p, f) < 0)
            continue;
        const avf_graph_node *fn = &p->g->nodes[j];
        if (fn->n_inputs >= 1 && fn->inputs[0] == xv) {
            *x = xv;
            return j;
        }
        /* x*clip(x+3, ...): the Clip reads Add(x, 3) */
        if (is_op(fn, "Clip") && fn->n_inputs >= 1) {
            int a = avf_pass_producer(p, fn->inputs[0]);
            if (a >= 0 && is_op(&p->g->nodes[a], "Add") && avf_pass_sole_reader(p, fn->inputs[0]) == j) {
                const avf_graph_node *an = &p->g->nodes[a];
                if (an->n_inputs == 2 && (an->inputs[0] == xv || an->inputs[1] == xv)) {
                    *x = xv;
                    return j;
                }
            }
        }
    }
    return -1;
}

avf_status avf_pass_acts(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->dead[i])
            continue;
        avf_graph_node *n = &g->nodes[i];
        avf_epilogue_params ep = {AVF_ACT_NONE, 0.0f, 0.0f, 1.0f, 0.0f};
        int x = -1, kill[3] = {-1, -1, -1};
        /* HardSwish6: the last node is Div(m, 6) or Mul(m, 1/6) */
        double v;
        int side, m_val = -1;
        if (is_op(n, "Div") && n->n_inputs == 2 &&
            binary_const(p, n, "Div", n->inputs[0], &v, &side) && side == 1 && v == 6.0)
            m_val = n->inputs[0];
        for (int s2 = 0; s2 < 2 && m_val < 0 && is_op(n, "Mul") && n->n_inputs == 2; s2++)
            if (n->inputs[s2] != n->inputs[1 - s2] &&
                scalar_for(p, n->inputs[s2], n->inputs[1 - s2], &v) &&
                (float)v == (float)(1.0 / 6.0))
                m_val = n->inputs[1 - s2];
        int mi = m_val >= 0 && avf_pass_sole_reader(p, m_val) == i ? avf_pass_producer(p, m_val)
                                                                  : -1;
        if (mi >= 0) {
            int j = mul_by_fn_of_x(p, &g->nodes[mi], &x);
            if (j >= 0 && is_op(&g->nodes[j], "Clip")) {
                double lo, hi, three;
                int a = avf_pass_producer(p, g->nodes[j].inputs[0]);
                if (clip_bounds(p, &g->nodes[j], &lo, &hi) && lo == 0.0 && hi == 6.0 && a >= 0 &&
                    binary_const(p, &g->nodes[a], "Add", x, &three, &side) && three == 3.0 &&
                    avf_pass_is_f32(p, x, 0)) {
                    ep.act = AVF_ACT_HARD_SWISH6;
                    kill[0] = mi;
                    kill[1] = j;
                    kill[2] = a;
                }
            }
        }
        /* HardSigmoid(x) * x and Sigmoid(x) * x: the last node is the Mul */
        if (ep.act == AVF_ACT_NONE) {
            int j = mul_by_fn_of_x(p, n, &x);
            const avf_graph_node *fn = j >= 0 ? &g->nodes[j] : NULL;
            if (fn && fn->n_inputs == 1 && avf_pass_is_f32(p, x, 0)) {
                if (is_op(fn, "Sigmoid")) {
                    ep.act = AVF_ACT_SWISH;
                } else if (is_op(fn, "HardSigmoid")) {
                    const avf_graph_attr *al = avf_graph_node_attr(fn, "alpha");
                    const avf_graph_attr *be = avf_graph_node_attr(fn, "beta");
                    ep.act = AVF_ACT_HARD_SWISH;
                    ep.alpha = al ? al->f : 0.2f;
                    ep.beta = be ? be->f : 0.5f;
                }
                if (ep.act != AVF_ACT_NONE)
                    kill[0] = j;
            }
        }
        if (ep.act == AVF_ACT_NONE)
            continue;
        for (int k = 0; k < 3; k++)
            avf_pass_kill(p, kill[k]);
        AVF_TRY(make_act(p, i, x, &ep));
        ++*count;
    }
    return AVF_OK;
}

/* ------------------------------------------------------------ epilogues */

/* Node r applies an activation to v alone: its epilogue parameters. */
static int act_of(const avf_pass *p, const avf_graph_node *r, int v, avf_epilogue_params *ep) {
    if (r->n_inputs < 1 || r->inputs[0] != v || r->n_outputs != 1)
        return 0;
    memset(ep, 0, sizeof *ep);
    ep->post_mul = 1.0f;
    const avf_graph_attr *a;
    if (is_internal(r, "Act")) {
        const char *s = (a = avf_graph_node_attr(r, "activation")) ? a->s : "";
        if (avf_act_parse(s, &ep->act) != AVF_OK) {
            avf_clear_error();
            return 0;
        }
        ep->alpha = (a = avf_graph_node_attr(r, "alpha")) ? a->f : 0.0f;
        ep->beta = (a = avf_graph_node_attr(r, "beta")) ? a->f : 0.0f;
        ep->post_mul = (a = avf_graph_node_attr(r, "post_mul")) ? a->f : 1.0f;
        ep->post_add = (a = avf_graph_node_attr(r, "post_add")) ? a->f : 0.0f;
        return 1;
    }
    if (r->domain[0])
        return 0;
    if (strcmp(r->op_type, "Clip") == 0) {
        double lo, hi;
        if (!clip_bounds(p, r, &lo, &hi))
            return 0;
        ep->act = AVF_ACT_CLIP;
        ep->alpha = (float)lo;
        ep->beta = (float)hi;
        return 1;
    }
    if (r->n_inputs != 1)
        return 0;
    if (strcmp(r->op_type, "Relu") == 0) {
        ep->act = AVF_ACT_RELU;
    } else if (strcmp(r->op_type, "Sigmoid") == 0) {
        ep->act = AVF_ACT_SIGMOID;
    } else if (strcmp(r->op_type, "LeakyRelu") == 0) {
        ep->act = AVF_ACT_LEAKY_RELU;
        ep->alpha = (a = avf_graph_node_attr(r, "alpha")) ? a->f : 0.01f;
    } else if (strcmp(r->op_type, "HardSigmoid") == 0 || strcmp(r->op_type, "HardSwish") == 0) {
        int sig = r->op_type[4] == 'S' && r->op_type[5] == 'i';
        ep->act = sig ? AVF_ACT_HARD_SIGMOID : AVF_ACT_HARD_SWISH;
        ep->alpha = sig ? ((a = avf_graph_node_attr(r, "alpha")) ? a->f : 0.2f) : 1.0f / 6.0f;
        ep->beta = sig ? ((a = avf_graph_node_attr(r, "beta")) ? a->f : 0.5f) : 0.5f;
    } else {
        return 0;
    }
    return 1;
}

static avf_status write_epilogue(avf_graph_node *n, const avf_epilogue_params *ep) {
    AVF_TRY(avf_pass_attr_string(n, "activation", avf_act_name(ep->act)));
    AVF_TRY(avf_pass_attr_float(n, "alpha", ep->alpha));
    AVF_TRY(avf_pass_attr_float(n, "beta", ep->beta));
    AVF_TRY(avf_pass_attr_float(n, "post_mul", ep->post_mul));
    return avf_pass_attr_float(n, "post_add", ep->post_add);
}

static void read_epilogue(const avf_graph_node *n, avf_epilogue_params *ep) {
    const avf_graph_attr *a;
    ep->act = AVF_ACT_NONE;
    if ((a = avf_graph_node_attr(n, "activation")) && avf_act_parse(a->s, &ep->act) != AVF_OK)
        avf_clear_error();
    ep->alpha = (a = avf_graph_node_attr(n, "alpha")) ? a->f : 0.0f;
    ep->beta = (a = avf_graph_node_attr(n, "beta")) ? a->f : 0.0f;
    ep->post_mul = (a = avf_graph_node_attr(n, "post_mul")) ? a->f : 1.0f;
    ep->post_add = (a = avf_graph_node_attr(n, "post_add")) ? a->f : 0.0f;
}

/* Node i takes over reader r's output (r is killed). */
static void absorb(avf_pass *p, int i, int r) {
    int out = p->g->nodes[r].outputs[0];
    avf_pass_kill(p, r);
    avf_pass_set_output(p, i, 0, out);
}

avf_status avf_pass_conv_act(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        int tr = is_op(n, "ConvTranspose");
        if (p->dead[i] || !(is_op(n, "Conv") || tr) || n->n_outputs != 1 || n->outputs[0] < 0)
            continue;
        int r = avf_pass_sole_reader(p, n->outputs[0]);
        avf_epilogue_params ep;
        if (r < 0 || !act_of(p, &g->nodes[r], n->outputs[0], &ep))
            continue;
        AVF_TRY(avf_pass_set_op(p, n, AVF_DOMAIN_INTERNAL, tr ? "FusedConvTranspose" : "FusedConv"));
        AVF_TRY(write_epilogue(n, &ep));
        absorb(p, i, r);
        AVF_TRY(avf_pass_check(p, n, "conv_act"));
        ++*count;
    }
    return AVF_OK;
}

avf_status avf_pass_matmul_bias(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (p->dead[i] || !is_op(n, "MatMul") || n->n_inputs != 2 || n->n_outputs != 1 ||
            n->outputs[0] < 0)
            continue;
        const avf_tensor *w = avf_pass_const(p, n->inputs[1]);
        int y = n->outputs[0];
        int r = avf_pass_sole_reader(p, y);
        if (!w || w->ndim != 2 || w->dtype != AVF_DTYPE_F32 || r < 0)
            continue;
        const avf_graph_node *a = &g->nodes[r];
        if (!is_op(a, "Add") || a->n_inputs != 2 || a->n_outputs != 1)
            continue;
        int c = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
        const avf_tensor *b = avf_pass_const(p, c);
        if (c == y || !b || b->dtype != AVF_DTYPE_F32 || b->ndim != 1 || b->shape[0] != w->shape[1])
            continue;
        int ins[3] = {n->inputs[0], n->inputs[1], c};
        AVF_TRY(avf_pass_set_inputs(n, 3, ins));
        AVF_TRY(avf_pass_set_op(p, n, AVF_DOMAIN_INTERNAL, "FusedMatMul"));
        avf_epilogue_params ep = {AVF_ACT_NONE, 0.0f, 0.0f, 1.0f, 0.0f};
        AVF_TRY(write_epilogue(n, &ep));
        absorb(p, i, r);
        AVF_TRY(avf_pass_recount(p));
        AVF_TRY(avf_pass_check(p, n, "matmul_bias"));
        ++*count;
    }
    return AVF_OK;
}

/* One absorption into fused node i; returns 1 when it happened. */
static int absorb_next(avf_pass *p, int i, avf_epilogue_params *ep) {
    avf_graph_node *n = &p->g->nodes[i];
    int y = n->outputs[0];
    int r = avf_pass_sole_reader(p, y);
    if (r < 0)
        return 0;
    const avf_graph_node *rn = &p->g->nodes[r];
    avf_epilogue_params next;
    int identity_post = ep->post_mul == 1.0f && ep->post_add == 0.0f;
    if (ep->act == AVF_ACT_NONE && identity_post && !is_internal(n, "Act") &&
        act_of(p, rn, y, &next)) {
        *ep = next;
        absorb(p, i, r);
        return 1;
    }
    double v;
    int side;
    float pm = ep->post_mul, pa = ep->post_add;
    if (binary_const(p, rn, "Mul", y, &v, &side)) {
        pm = (float)(pm * v);
        pa = (float)(pa * v);
    } else if (binary_const(p, rn, "Add", y, &v, &side)) {
        pa = (float)(pa + v);
    } else if (binary_const(p, rn, "Sub", y, &v, &side) && side == 1) {
        pa = (float)(pa - v);
    } else if (binary_const(p, rn, "Div", y, &v, &side) && side == 1 && v != 0.0) {
        pm = (float)(pm / v);
        pa = (float)(pa / v);
    } else {
        return 0;
    }
    ep->post_mul = pm;
    ep->post_add = pa;
    absorb(p, i, r);
    return 1;
}

avf_status avf_pass_epilogue(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (p->dead[i] || n->n_outputs != 1 || n->outputs[0] < 0 ||
            !(is_internal(n, "FusedConv") || is_internal(n, "FusedConvTranspose") ||
              is_internal(n, "FusedMatMul") || is_internal(n, "Act")))
            continue;
        avf_epilogue_params ep;
        read_epilogue(n, &ep);
        int k = 0;
        while (k < 16 && absorb_next(p, i, &ep))
            k++;
        if (!k)
            continue;
        AVF_TRY(write_epilogue(&g->nodes[i], &ep));
        AVF_TRY(avf_pass_check(p, &g->nodes[i], "epilogue"));
        *count += k;
    }
    return AVF_OK;
}
