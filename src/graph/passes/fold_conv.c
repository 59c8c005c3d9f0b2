/* Folding per-channel affine maps into the preceding Conv or ConvTranspose
 * (see passes.h):
 *
 *   Conv(X, W, B) -> BatchNormalization(scale, bias, mean, var, eps)
 *   Conv(X, W, B) -> Mul / Add / Sub / Div by a constant
 *
 * become one Conv(X, W', B') with W'[m] = W[m] * s[m], B'[m] = B[m] * s[m] +
 * t[m] (computed in double, rounded once). The constant must be one value
 * or one value per output channel laid out along axis 1 of the Conv's
 * output (so broadcasting cannot change the output shape), the Conv's
 * output must have no other reader, and W, B and the constant must be f32
 * initializers. Repeats while the next node still folds (Conv, BN, Mul, Add
 * become one Conv). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/passes/passes.h"

/* s[m], t[m] of the affine y*s + t that node r computes from the Conv's
 * output y (input index `yi` of r). Returns 0 when r is not such a node. */
static int affine_of(const avf_pass *p, const avf_graph_node *r, int y, int64_t M, int rank,
                     double *s, double *t) {
    if (r->domain[0])
        return 0;
    if (strcmp(r->op_type, "BatchNormalization") == 0) {
        if (r->n_inputs != 5 || r->inputs[0] != y)
            return 0;
        /* training mode normalizes with the batch's statistics, not constants */
        const avf_graph_attr *tm = avf_graph_node_attr(r, "training_mode");
        if (tm && tm->type == AVF_ATTR_INT && tm->i != 0)
            return 0;
        for (int o = 1; o < r->n_outputs; o++)
            if (r->outputs[o] >= 0 && (p->uses[r->outputs[o]] || p->pinned[r->outputs[o]]))
                return 0;
        const avf_tensor *c[4];
        for (int k = 0; k < 4; k++) {
            c[k] = avf_pass_const(p, r->inputs[1 + k]);
            if (!c[k] || c[k]->dtype != AVF_DTYPE_F32 || c[k]->ndim != 1 || c[k]->shape[0] != M)
                return 0;
        }
        const avf_graph_attr *a = avf_graph_node_attr(r, "epsilon");
        double eps = a && a->type == AVF_ATTR_FLOAT ? a->f : 1e-5f;
        const float *sc = c[0]->data, *bi = c[1]->data, *mu = c[2]->data, *va = c[3]->data;
        for (int64_t m = 0; m < M; m++) {
            /* the BN kernel computes in f32: var + eps rounds there first */
            double k = (double)sc[m] / sqrt((double)(float)(va[m] + (float)eps));
            s[m] = k;
            t[m] = (double)bi[m] - (double)mu[m] * k;
        }
        return 1;
    }
    int is_mul = strcmp(r->op_type, "Mul") == 0, is_add = strcmp(r->op_type, "Add") == 0;
    int is_sub = strcmp(r->op_type, "Sub") == 0, is_div = strcmp(r->op_type, "Div") == 0;
    if ((!is_mul && !is_add && !is_sub && !is_div) || r->n_inputs != 2)
        return 0;
    int side = r->inputs[0] == y ? 1 : 0; /* the constant's input */
    if (r->inputs[1 - side] != y || r->inputs[side] == y || ((is_sub || is_div) && side == 0))
        return 0;
    const avf_tensor *c = avf_pass_const(p, r->inputs[side]);
    if (!c || c->dtype != AVF_DTYPE_F32 || c->ndim > rank || !c->data)
        return 0;
    int per_channel = 0;
    for (int j = 0; j < c->ndim; j++) {
        int axis = rank - c->ndim + j;
        if (c->shape[j] == 1)
            continue;
        if (axis != 1 || c->shape[j] != M)
            return 0;
        per_channel = 1;
    }
    const float *cv = c->data;
    for (int64_t m = 0; m < M; m++) {
        double v = cv[per_channel ? m : 0];
        if (is_div && v == 0.0)
            return 0; /* x/0 stays as the graph says */
        s[m] = is_mul ? v : is_div ? 1.0 / v : 1.0;
        t[m] = is_add ? v : is_sub ? -v : 0.0;
    }
    return 1;
}

/* One fold into Conv node i; *done = 1 when it happened. */
static avf_status fold_once(avf_pass *p, int i, double *s, double *t, int *done) {
    avf_graph *g = p->g;
    *done = 0;
    avf_graph_node *n = &g->nodes[i];
    if (n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 2)
        return AVF_OK;
    const avf_tensor *w = avf_pass_const(p, n->inputs[1]);
    const avf_tensor *b = n->n_inputs > 2 && n->inputs[2] >= 0 ? avf_pass_const(p, n->inputs[2])
                                                                 : NULL;
    /* ConvTranspose: W is [C, M/group, k...], output channel of W[c, j] is
     * (c / (C/group)) * (M/group) + j */
    int transpose = strcmp(n->op_type, "ConvTranspose") == 0;
    const avf_graph_attr *ga = avf_graph_node_attr(n, "group");
    int64_t group = ga && ga->type == AVF_ATTR_INT ? ga->i : 1;
    if (!w || w->dtype != AVF_DTYPE_F32 || w->ndim < 3 || !w->data || group < 1 ||
        (transpose && w->shape[0] % group != 0))
        return AVF_OK;
    int64_t M = transpose ? w->shape[1] * group : w->shape[0];
    if (M <= 0 || M > 1 << 20 ||
        (n->n_inputs > 2 && n->inputs[2] >= 0 &&
         (!b || b->dtype != AVF_DTYPE_F32 || b->ndim != 1 || b->shape[0] != M)))
        return AVF_OK;
    int y = n->outputs[0];
    int ri = avf_pass_sole_reader(p, y);
    if (ri < 0)
        return AVF_OK;
    avf_graph_node *r = &g->nodes[ri];
    if (r->n_outputs < 1 || r->outputs[0] < 0 || !affine_of(p, r, y, M, w->ndim, s, t))
        return AVF_OK;
    int64_t per = avf_tensor_numel(w) / w->shape[0] / w->shape[1]; /* kernel elements */
    int64_t cin_g = w->shape[0] / group, mg = w->shape[1];
    float *w2 = malloc((size_t)avf_tensor_nbytes(w));
    float *b2 = malloc((size_t)M * sizeof *b2);
    if (!w2 || !b2) {
        free(w2);
        free(b2);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "passes: out of memory");
    }
    const float *wv = w->data, *bv = b ? b->data : NULL;
    for (int64_t r0 = 0; r0 < w->shape[0]; r0++)
        for (int64_t r1 = 0; r1 < w->shape[1]; r1++) {
            int64_t m = transpose ? (r0 / cin_g) * mg + r1 : r0;
            int64_t at = (r0 * w->shape[1] + r1) * per;
            for (int64_t e = 0; e < per; e++)
                w2[at + e] = (float)((double)wv[at + e] * s[m]);
        }
    for (int64_t m = 0; m < M; m++)
        b2[m] = (float)((bv ? (double)bv[m] : 0.0) * s[m] + t[m]);
    char hint[200];
    snprintf(hint, sizeof hint, "%.180s.folded_w", g->values[n->inputs[1]].name);
    int wv2 = -1, bv2 = -1;
    int64_t bshape[1] = {M}, wshape[AVF_MAX_DIMS];
    int wnd = w->ndim;
    memcpy(wshape, w->shape, sizeof wshape); /* w moves when initializers grow */
    AVF_TRY(avf_pass_add_init(p, hint, w2, AVF_DTYPE_F32, wnd, wshape, &wv2));
    snprintf(hint, sizeof hint, "%.180s.folded_b", g->nodes[i].name);
    AVF_TRY(avf_pass_add_init(p, hint, b2, AVF_DTYPE_F32, 1, bshape, &bv2));
    n = &g->nodes[i]; /* add_init may not move nodes, but stay safe */
    int ins[3] = {n->inputs[0], wv2, bv2};
    int out = g->nodes[ri].outputs[0];
    avf_pass_kill(p, ri);
    AVF_TRY(avf_pass_set_inputs(n, 3, ins));
    avf_pass_set_output(p, i, 0, out);
    AVF_TRY(avf_pass_recount(p));
    *done = 1;
    return AVF_OK;
}

avf_status avf_pass_conv_affine(avf_pass *p, int *count) {
    *count = 0;
    avf_graph *g = p->g;
    double *s = NULL, *t = NULL;
    avf_status st = AVF_OK;
    for (int i = 0; i < g->n_nodes && st == AVF_OK; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (p->dead[i] || n->domain[0] ||
            (strcmp(n->op_type, "Conv") != 0 && strcmp(n->op_type, "ConvTranspose") != 0))
            continue;
        const avf_tensor *w = n->n_inputs >= 2 ? avf_pass_const(p, n->inputs[1]) : NULL;
        if (!w || w->ndim < 3 || w->shape[0] <= 0 || w->shape[0] > 1 << 20 ||
            w->shape[1] <= 0 || w->shape[1] > 1 << 20)
            continue;
        /* enough for M of either layout (ConvTranspose: group * W.shape[1]
         * <= W.shape[0] * W.shape[1]) */
        int64_t cap = w->shape[0] > w->shape[1] ? w->shape[0] : w->shape[1];
        if (strcmp(n->op_type, "ConvTranspose") == 0)
            cap = w->shape[0] * w->shape[1];
        if (cap > 1 << 24)
            continue;
        free(s);
        free(t);
        s = malloc((size_t)cap * sizeof *s);
        t = malloc((size_t)cap * sizeof *t);
        if (!s || !t) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "passes: out of memory");
            break;
        }
        for (int done = 1; done && st == AVF_OK;) {
            st = fold_once(p, i, s, t, &done);
            *count += done;
        }
    }
    free(s);
    free(t);
    return st;
}
