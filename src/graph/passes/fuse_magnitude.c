/* The written-out magnitude of two halves -> one avflow:PairMagnitude (see
 * passes.h and ops/magnitude.h):
 *
 *   re = Slice(X, [0], [h], [axis]); im = Slice(X, [h], [2h or to the end], [axis])
 *   Y  = Sqrt(Pow(re, 2) + Pow(im, 2))        (the Add's operands in either order)
 *
 * Silero VAD's STFT magnitude (its DFT is a Conv with 2 x 129 filters): six
 * kernels for 2 x 129 x 4 values per chunk, now one. Exactly this chain:
 * Slices with one constant start/end/axis each and unit (or no) steps, on
 * one X along one axis, exponents the constant 2, and every intermediate
 * read only inside the pattern. The op checks at run time that the axis is
 * 2h long (an `end` past the dim leaves the second half's length to X). */
#include <string.h>

#include "core/error.h"
#include "graph/passes/passes.h"

/* One i64 element of constant v. */
static int const_i64(const avf_pass *p, int v, int64_t *out) {
    const avf_tensor *t = v >= 0 ? avf_pass_const(p, v) : NULL;
    if (!t || !t->data || t->dtype != AVF_DTYPE_I64 || avf_tensor_numel(t) != 1)
        return 0;
    *out = *(const int64_t *)t->data;
    return 1;
}

/* Slice node n: one constant start, end and axis (opset >= 10 inputs; no
 * axes input = axis 0), step 1 or none. */
static int slice_1d(const avf_pass *p, const avf_graph_node *n, int64_t *start, int64_t *end,
                    int64_t *axis) {
    if (n->n_inputs < 3 || n->n_inputs > 5 || n->n_outputs != 1 || n->inputs[0] < 0)
        return 0;
    if (!const_i64(p, n->inputs[1], start) || !const_i64(p, n->inputs[2], end))
        return 0;
    *axis = 0;
    if (n->n_inputs > 3 && n->inputs[3] >= 0 && !const_i64(p, n->inputs[3], axis))
        return 0;
    int64_t step = 1;
    if (n->n_inputs > 4 && n->inputs[4] >= 0 && !const_i64(p, n->inputs[4], &step))
        return 0;
    return step == 1;
}

/* Pow(s, 2) read only by node `reader`, s a Slice read only by the Pow:
 * the Slice's node index, or -1. */
static int squared_slice(const avf_pass *p, int v, int reader, int *pow_index) {
    const avf_graph_node *pw = avf_pass_producer_op(p, v, "Pow", pow_index);
    double e = 0;
    if (!pw || pw->n_inputs != 2 || avf_pass_sole_reader(p, v) != reader ||
        !avf_pass_const_scalar(p, pw->inputs[1], &e) || e != 2.0)
        return -1;
    int si = -1;
    if (!avf_pass_producer_op(p, pw->inputs[0], "Slice", &si) ||
        avf_pass_sole_reader(p, pw->inputs[0]) != *pow_index)
        return -1;
    return si;
}

/* The chain ending at Sqrt node i: nodes[5] = {slice, slice, pow, pow, add},
 * X, the axis and the half size. */
static int match(const avf_pass *p, int i, int *nodes, int *x, int64_t *axis, int64_t *half) {
    const avf_graph *g = p->g;
    const avf_graph_node *sq = &g->nodes[i];
    if (sq->domain[0] || strcmp(sq->op_type, "Sqrt") != 0 || sq->n_inputs != 1 ||
        sq->n_outputs != 1)
        return 0;
    int ia = -1;
    const avf_graph_node *add = avf_pass_producer_op(p, sq->inputs[0], "Add", &ia);
    if (!add || add->n_inputs != 2 || add->inputs[0] == add->inputs[1] ||
        avf_pass_sole_reader(p, sq->inputs[0]) != i)
        return 0;
    int ip0 = -1, ip1 = -1;
    int s0 = squared_slice(p, add->inputs[0], ia, &ip0);
    int s1 = s0 >= 0 ? squared_slice(p, add->inputs[1], ia, &ip1) : -1;
    if (s0 < 0 || s1 < 0 || s0 == s1)
        return 0;
    const avf_graph_node *a = &g->nodes[s0], *b = &g->nodes[s1];
    int64_t sa, ea, xa, sb, eb, xb;
    if (a->inputs[0] != b->inputs[0] || !slice_1d(p, a, &sa, &ea, &xa) ||
        !slice_1d(p, b, &sb, &eb, &xb) || xa != xb)
        return 0;
    if (sa != 0) { /* the first half second in the Add */
        int64_t t;
        t = sa, sa = sb, sb = t;
        t = ea, ea = eb, eb = t;
    }
    const int64_t h = ea, to_end = (int64_t)1 << 62;
    if (sa != 0 || h < 1 || h >= to_end || sb != h || (eb != 2 * h && eb < to_end))
        return 0;
    int list[5] = {s0, s1, ip0, ip1, ia};
    memcpy(nodes, list, sizeof list);
    *x = a->inputs[0];
    *axis = xa;
    *half = h;
    return 1;
}

avf_status avf_pass_magnitude(avf_pass *p, int *count) {
    avf_graph *g = p->g;
    *count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int nodes[5], x = -1;
        int64_t axis = 0, half = 0;
        if (p->dead[i] || !match(p, i, nodes, &x, &axis, &half))
            continue;
        for (int k = 0; k < 5; k++)
            avf_pass_kill(p, nodes[k]);
        avf_graph_node *n = &g->nodes[i];
        AVF_TRY(avf_pass_set_inputs(n, 1, &x));
        AVF_TRY(avf_pass_set_op(p, n, AVF_DOMAIN_INTERNAL, "PairMagnitude"));
        AVF_TRY(avf_pass_attr_int(n, "axis", axis));
        AVF_TRY(avf_pass_attr_int(n, "half", half));
        AVF_TRY(avf_pass_recount(p));
        AVF_TRY(avf_pass_check(p, n, "magnitude"));
        ++*count;
    }
    return AVF_OK;
}
