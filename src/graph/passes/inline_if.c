/* If with a constant condition -> the taken branch's nodes, moved into the
 * enclosing graph (see passes.h). The branch's values get names of their
 * own there (unique), its initializers move along, its reads of outer
 * values become plain reads, and each If output is produced by the branch
 * node that computed it (or by an Identity when the branch returns an outer
 * value, a constant or one value twice). Branches that hold subgraphs of
 * their own are left alone (their outer references would need renumbering
 * through every level). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/passes/passes.h"

static avf_status oom(void) { return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "passes: out of memory"); }

/* The condition as a truth value; 0 when it is not a one-element constant. */
static int const_cond(const avf_pass *p, int v, int *out) {
    const avf_tensor *t = avf_pass_const(p, v);
    if (!t || avf_tensor_numel(t) != 1 || !t->data)
        return 0;
    switch (t->dtype) {
    case AVF_DTYPE_BOOL:
    case AVF_DTYPE_U8: *out = *(const uint8_t *)t->data != 0; return 1;
    case AVF_DTYPE_I32: *out = *(const int32_t *)t->data != 0; return 1;
    case AVF_DTYPE_I64: *out = *(const int64_t *)t->data != 0; return 1;
    case AVF_DTYPE_F32: *out = *(const float *)t->data != 0.0f; return 1;
    default: return 0;
    }
}

static int inlinable(const avf_graph *b, const avf_graph_node *n) {
    if (b->n_inputs || b->n_outputs < n->n_outputs)
        return 0;
    for (int i = 0; i < b->n_nodes; i++)
        for (int a = 0; a < b->nodes[i].n_attrs; a++)
            if (b->nodes[i].attrs[a].g)
                return 0;
    return 1;
}

static avf_status new_value(avf_graph *g, const char *prefix, const avf_graph_value *src,
                            int *out) {
    char name[300];
    snprintf(name, sizeof name, "%.120s/%.160s", prefix, src->name);
    for (int k = 1; avf_graph_find_value(g, name) >= 0 && k < 1000000; k++)
        snprintf(name, sizeof name, "%.120s/%.160s_%d", prefix, src->name, k);
    AVF_TRY(avf_graph_add_value(g, name, AVF_VALUE_NODE, out));
    avf_graph_value *v = &g->values[*out];
    v->has_dtype = src->has_dtype;
    v->dtype = src->dtype;
    v->ndim = src->ndim;
    for (int d = 0; d < AVF_MAX_DIMS; d++)
        v->dims[d] = src->dims[d];
    return AVF_OK;
}

static avf_status identity_node(avf_graph_node *n, const char *name, int in, int out) {
    memset(n, 0, sizeof *n);
    size_t len = strlen(name) + 16;
    n->name = malloc(len);
    n->op_type = malloc(9);
    n->domain = calloc(1, 1);
    n->inputs = malloc(sizeof *n->inputs);
    n->outputs = malloc(sizeof *n->outputs);
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs)
        return oom(); /* the caller frees what was allocated through the node */
    snprintf(n->name, len, "%s/identity", name);
    memcpy(n->op_type, "Identity", 9);
    n->n_inputs = n->n_outputs = 1;
    n->inputs[0] = in;
    n->outputs[0] = out;
    n->supported = 1;
    return AVF_OK;
}

static avf_status inline_one(avf_pass *p, int i, avf_graph *b) {
    avf_graph *g = p->g;
    int nb = b->n_values;
    int *map = malloc((size_t)(nb ? nb : 1) * sizeof *map);
    if (!map)
        return oom();
    for (int v = 0; v < nb; v++)
        map[v] = -1;
    const char *prefix = g->nodes[i].name[0] ? g->nodes[i].name : "if";
    char pfx[128];
    snprintf(pfx, sizeof pfx, "%s", prefix);
    avf_status st = AVF_OK;
    /* branch outputs computed by its nodes become the If's outputs */
    int n_out = g->nodes[i].n_outputs;
    int *direct = calloc((size_t)(n_out ? n_out : 1), sizeof *direct);
    if (!direct)
        st = oom();
    for (int k = 0; k < n_out && st == AVF_OK; k++) {
        int bv = b->outputs[k], gv = g->nodes[i].outputs[k];
        if (gv >= 0 && b->values[bv].kind == AVF_VALUE_NODE && map[bv] < 0) {
            map[bv] = gv;
            direct[k] = 1;
        }
    }
    for (int v = 0; v < nb && st == AVF_OK; v++) {
        const avf_graph_value *bv = &b->values[v];
        if (map[v] >= 0)
            continue;
        if (bv->kind == AVF_VALUE_OUTER) {
            map[v] = bv->outer;
        } else if (bv->kind == AVF_VALUE_INITIALIZER && bv->init >= 0) {
            avf_tensor *t = &b->inits[bv->init];
            char hint[300];
            snprintf(hint, sizeof hint, "%.120s/%.160s", pfx, bv->name);
            void *data = t->data;
            t->data = NULL; /* moves to the enclosing graph */
            st = avf_pass_add_init(p, hint, data, t->dtype, t->ndim, t->shape, &map[v]);
        } else if (bv->kind == AVF_VALUE_NODE) {
            st = new_value(g, pfx, bv, &map[v]);
        }
    }
    int extra = 0;
    for (int k = 0; k < n_out; k++)
        extra += !direct[k] && g->nodes[i].outputs[k] >= 0;
    avf_graph_node *nodes = NULL;
    if (st == AVF_OK &&
        !(nodes = realloc(g->nodes, (size_t)(g->n_nodes + b->n_nodes + extra) * sizeof *nodes)))
        st = oom();
    if (st != AVF_OK) {
        free(map);
        free(direct);
        return st;
    }
    g->nodes = nodes;
    /* move the branch's nodes over, reading and writing the mapped values */
    for (int j = 0; j < b->n_nodes; j++) {
        avf_graph_node *n = &b->nodes[j];
        for (int k = 0; k < n->n_inputs; k++)
            n->inputs[k] = n->inputs[k] >= 0 ? map[n->inputs[k]] : -1;
        for (int k = 0; k < n->n_outputs; k++) {
            n->outputs[k] = n->outputs[k] >= 0 ? map[n->outputs[k]] : -1;
            if (n->outputs[k] >= 0) {
                g->values[n->outputs[k]].kind = AVF_VALUE_NODE;
                g->values[n->outputs[k]].producer = g->n_nodes;
            }
        }
        g->nodes[g->n_nodes++] = *n;
    }
    b->n_nodes = 0; /* the nodes belong to g now */
    int at = g->n_nodes;
    for (int k = 0; k < n_out && st == AVF_OK; k++) {
        int gv = g->nodes[i].outputs[k];
        if (direct[k] || gv < 0)
            continue;
        /* g->nodes[at] counts only once filled, so a failure leaks nothing
         * the graph does not free */
        st = identity_node(&g->nodes[at], g->nodes[i].name, map[b->outputs[k]], gv);
        g->n_nodes = ++at;
        g->values[gv].producer = at - 1;
    }
    free(map);
    free(direct);
    AVF_TRY(st);
    AVF_TRY(avf_pass_recount(p));
    avf_pass_kill(p, i);
    return AVF_OK;
}

avf_status avf_pass_inline_if(avf_pass *p, int *count) {
    *count = 0;
    for (int i = 0; i < p->g->n_nodes; i++) {
        avf_graph_node *n = &p->g->nodes[i];
        int cond = 0;
        if (p->dead[i] || n->domain[0] || strcmp(n->op_type, "If") != 0 || n->n_inputs < 1 ||
            !const_cond(p, n->inputs[0], &cond))
            continue;
        const avf_graph_attr *a = avf_graph_node_attr(n, cond ? "then_branch" : "else_branch");
        if (!a || a->type != AVF_ATTR_GRAPH || !a->g || !inlinable(a->g, n))
            continue;
        AVF_TRY(inline_one(p, i, a->g));
        ++*count;
    }
    return AVF_OK;
}
