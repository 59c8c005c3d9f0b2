/* The graph IR: values, nodes, a name map, topological sort, freeing. */
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Bounds that keep index arithmetic in int far from overflow. */
#define AVF_GRAPH_MAX_VALUES (1 << 26)

static char *dup_str(const char *s) {
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s ? s : "", n + 1);
    return d;
}

avf_status avf_graph_create(avf_graph *parent, const char *name, avf_graph **out) {
    AVF_CHECK_ARG(out);
    *out = NULL;
    avf_graph *g = calloc(1, sizeof *g);
    if (!g)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
    g->name = dup_str(name);
    if (!g->name) {
        free(g);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
    }
    g->parent = parent;
    g->owner_node = -1;
    g->depth = parent ? parent->depth + 1 : 0;
    *out = g;
    return AVF_OK;
}

static void free_attr(avf_graph_attr *a) {
    free(a->name);
    free(a->s);
    if (a->t) {
        free(a->t->data);
        free(a->t);
    }
    avf_graph_free(a->g);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int i = 0; i < a->n; i++)
            free(a->strings[i]);
    free(a->strings);
}

void avf_graph_node_release(avf_graph_node *n) {
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    free(n->implicit);
    free(n->unsupported);
    if (n->attrs)
        for (int a = 0; a < n->n_attrs; a++)
            free_attr(&n->attrs[a]);
    free(n->attrs);
}

void avf_graph_free(avf_graph *g) {
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        for (int d = 0; d < AVF_MAX_DIMS; d++)
            free(g->values[i].dim_names[d]);
    }
    free(g->values);
    if (g->nodes) {
        for (int i = 0; i < g->n_nodes; i++)
            avf_graph_node_release(&g->nodes[i]);
    }
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    if (g->inits)
        for (int i = 0; i < g->n_inits; i++)
            free(g->inits[i].data);
    free(g->inits);
    free(g->init_values);
    free(g->map);
    for (int i = 0; i < g->n_opsets; i++)
        free(g->opsets[i].domain);
    free(g->opsets);
    free(g->producer);
    free(g->name);
    free(g);
}

/* FNV-1a: names are short and the map is rebuilt rarely. */
static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void map_insert(int *map, int cap, const avf_graph_value *values, int index) {
    uint32_t mask = (uint32_t)cap - 1;
    uint32_t h = hash_name(values[index].name) & mask;
    while (map[h] >= 0)
        h = (h + 1) & mask;
    map[h] = index;
}

int avf_graph_find_value(const avf_graph *g, const char *name) {
    if (!g || !name || !g->map)
        return -1;
    uint32_t mask = (uint32_t)g->map_cap - 1;
    for (uint32_t h = hash_name(name) & mask;; h = (h + 1) & mask) {
        int v = g->map[h];
        if (v < 0)
            return -1;
        if (strcmp(g->values[v].name, name) == 0)
            return v;
    }
}

/* Keep the map at most half full so probes stay short and always end. */
static avf_status grow(avf_graph *g) {
    if (g->n_values == g->cap_values) {
        if (g->n_values >= AVF_GRAPH_MAX_VALUES)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "graph '%s': more than %d values", g->name,
                            AVF_GRAPH_MAX_VALUES);
        int cap = g->cap_values ? g->cap_values * 2 : 16;
        avf_graph_value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
        g->values = v;
        g->cap_values = cap;
    }
    if ((g->n_values + 1) * 2 > g->map_cap) {
        int cap = g->map_cap ? g->map_cap * 2 : 32;
        int *map = malloc((size_t)cap * sizeof *map);
        if (!map)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
        memset(map, 0xff, (size_t)cap * sizeof *map);
        for (int i = 0; i < g->n_values; i++)
            map_insert(map, cap, g->values, i);
        free(g->map);
        g->map = map;
        g->map_cap = cap;
    }
    return AVF_OK;
}

avf_status avf_graph_add_value(avf_graph *g, const char *name, avf_value_kind kind, int *index) {
    AVF_CHECK_ARG(g && name && index);
    if (avf_graph_find_value(g, name) >= 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': value '%s' is defined twice", g->name,
                        name);
    AVF_TRY(grow(g));
    avf_graph_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = dup_str(name);
    if (!v->name)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
    v->kind = kind;
    v->ndim = -1;
    v->producer = v->init = v->outer = -1;
    for (int d = 0; d < AVF_MAX_DIMS; d++)
        v->dims[d] = -1;
    *index = g->n_values++;
    map_insert(g->map, g->map_cap, g->values, *index);
    return AVF_OK;
}

static avf_status add_implicit(avf_graph_node *n, int value) {
    for (int i = 0; i < n->n_implicit; i++)
        if (n->implicit[i] == value)
            return AVF_OK;
    int *p = realloc(n->implicit, (size_t)(n->n_implicit + 1) * sizeof *p);
    if (!p)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
    p[n->n_implicit++] = value;
    n->implicit = p;
    return AVF_OK;
}

avf_status avf_graph_resolve(avf_graph *g, const char *name, int *index) {
    AVF_CHECK_ARG(g && name && index);
    *index = avf_graph_find_value(g, name);
    if (*index >= 0 || !g->parent)
        return AVF_OK;
    /* Recursion is bounded by the subgraph depth limit. */
    int outer = -1;
    AVF_TRY(avf_graph_resolve(g->parent, name, &outer));
    if (outer < 0)
        return AVF_OK;
    if (g->owner_node < 0 || g->owner_node >= g->parent->n_nodes)
        return AVF_FAIL(AVF_ERR_INTERNAL, "graph '%s': subgraph without an owner node", g->name);
    AVF_TRY(add_implicit(&g->parent->nodes[g->owner_node], outer));
    int v = -1;
    AVF_TRY(avf_graph_add_value(g, name, AVF_VALUE_OUTER, &v));
    /* Carry the type the outer graph knows. */
    const avf_graph_value *src = &g->parent->values[outer];
    avf_graph_value *dst = &g->values[v];
    dst->outer = outer;
    dst->has_dtype = src->has_dtype;
    dst->dtype = src->dtype;
    dst->ndim = src->ndim;
    for (int d = 0; d < AVF_MAX_DIMS; d++) {
        dst->dims[d] = src->dims[d];
        if (src->dim_names[d] && !(dst->dim_names[d] = dup_str(src->dim_names[d])))
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
    }
    *index = v;
    return AVF_OK;
}

int64_t avf_graph_get_opset(const avf_graph *g, const char *domain) {
    while (g && g->parent)
        g = g->parent;
    if (!g)
        return 0;
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain;
        if (strcmp(d, "ai.onnx") == 0)
            d = "";
        if (strcmp(d, domain) == 0)
            return g->opsets[i].version;
    }
    return 0;
}

/* Kahn's algorithm over "node reads a value another node of this graph
 * writes", implicit (subgraph) reads included. Picking the lowest ready index
 * each time would be O(n^2); a FIFO of ready nodes seeded in file order keeps
 * already-sorted graphs in their order, which is what exporters produce. */
avf_status avf_graph_sort(avf_graph *g) {
    AVF_CHECK_ARG(g);
    int n = g->n_nodes;
    if (n <= 0)
        return AVF_OK;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == AVF_VALUE_NODE)
            g->values[v].producer = -1;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0)
                g->values[g->nodes[i].outputs[o]].producer = i;

    int *indeg = calloc((size_t)n, sizeof *indeg);
    int *order = malloc((size_t)n * sizeof *order);
    /* consumers as a CSR: for each node, the nodes that read its outputs */
    int *cstart = calloc((size_t)n + 1, sizeof *cstart);
    avf_status st = AVF_OK;
    int *cons = NULL;
    avf_graph_node *sorted = NULL;
    if (!indeg || !order || !cstart) {
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
        goto done;
    }
    int64_t edges = 0;
    for (int i = 0; i < n; i++) {
        const avf_graph_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs + nd->n_implicit; k++) {
            int v = k < nd->n_inputs ? nd->inputs[k] : nd->implicit[k - nd->n_inputs];
            if (v < 0 || g->values[v].kind != AVF_VALUE_NODE)
                continue;
            int p = g->values[v].producer;
            if (p < 0)
                continue;
            cstart[p + 1]++;
            indeg[i]++;
            edges++;
        }
    }
    for (int i = 0; i < n; i++)
        cstart[i + 1] += cstart[i];
    cons = malloc((size_t)(edges ? edges : 1) * sizeof *cons);
    int *fill = malloc((size_t)n * sizeof *fill);
    if (!cons || !fill) {
        free(fill);
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
        goto done;
    }
    memcpy(fill, cstart, (size_t)n * sizeof *fill);
    for (int i = 0; i < n; i++) {
        const avf_graph_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs + nd->n_implicit; k++) {
            int v = k < nd->n_inputs ? nd->inputs[k] : nd->implicit[k - nd->n_inputs];
            if (v < 0 || g->values[v].kind != AVF_VALUE_NODE || g->values[v].producer < 0)
                continue;
            cons[fill[g->values[v].producer]++] = i;
        }
    }
    free(fill);
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        int i = order[head++];
        for (int c = cstart[i]; c < cstart[i + 1]; c++)
            if (--indeg[cons[c]] == 0)
                order[tail++] = cons[c];
    }
    if (tail < n) {
        int stuck = 0;
        while (stuck < n && indeg[stuck] == 0)
            stuck++;
        st = AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': cycle through node '%s' (%s)", g->name,
                      g->nodes[stuck].name, g->nodes[stuck].op_type);
        goto done;
    }
    sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        sorted[i] = g->nodes[order[i]];
    /* Subgraphs name their owner by index: renumber them. */
    for (int i = 0; i < n; i++)
        for (int a = 0; a < sorted[i].n_attrs; a++)
            if (sorted[i].attrs[a].g)
                sorted[i].attrs[a].g->owner_node = i;
    free(g->nodes);
    g->nodes = sorted;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0)
                g->values[g->nodes[i].outputs[o]].producer = i;
done:
    free(indeg);
    free(order);
    free(cstart);
    free(cons);
    return st;
}

const avf_graph_attr *avf_graph_node_attr(const avf_graph_node *n, const char *name) {
    if (!n || !name)
        return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

const char *avf_attr_type_name(avf_attr_type t) {
    static const char *names[AVF_ATTR_TYPE_COUNT] = {"float", "int",   "string", "tensor",
                                                     "graph", "floats", "ints",  "strings"};
    return (unsigned)t < AVF_ATTR_TYPE_COUNT ? names[t] : "invalid";
}

avf_status avf_graph_visit(avf_graph *g, avf_graph_visit_fn fn, void *ctx) {
    AVF_CHECK_ARG(g && fn);
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        AVF_TRY(fn(g, n, ctx));
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g)
                AVF_TRY(avf_graph_visit(n->attrs[a].g, fn, ctx));
    }
    return AVF_OK;
}

static void add_tensor(const avf_tensor *t, int64_t *count, uint64_t *bytes) {
    *count += avf_tensor_numel(t);
    *bytes += avf_tensor_nbytes(t);
}

void avf_graph_param_totals(const avf_graph *g, int64_t *count, uint64_t *bytes) {
    int64_t c = 0;
    uint64_t b = 0;
    for (int i = 0; i < g->n_inits; i++)
        add_tensor(&g->inits[i], &c, &b);
    for (int i = 0; i < g->n_nodes; i++) {
        const avf_graph_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].t)
                add_tensor(n->attrs[a].t, &c, &b);
            if (n->attrs[a].g) {
                int64_t sc = 0;
                uint64_t sb = 0;
                avf_graph_param_totals(n->attrs[a].g, &sc, &sb);
                c += sc;
                b += sb;
            }
        }
    }
    *count = c;
    *bytes = b;
}
