/* The pass framework's helpers (see passes.h): use counts, constants,
 * initializers, node edits and compaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/op_registry.h"
#include "graph/passes/passes.h"

static avf_status oom(void) { return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "passes: out of memory"); }

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

avf_status avf_pass_init(avf_pass *p, avf_graph *g) {
    memset(p, 0, sizeof *p);
    p->g = g;
    return avf_pass_recount(p);
}

void avf_pass_release(avf_pass *p) {
    free(p->uses);
    free(p->pinned);
    free(p->dead);
    avf_pool_free_all(p->pool);
    memset(p, 0, sizeof *p);
}

avf_status avf_pass_recount(avf_pass *p) {
    avf_graph *g = p->g;
    if (g->n_values > p->cap_values) {
        int cap = g->n_values + 64;
        int *u = realloc(p->uses, (size_t)cap * sizeof *u);
        if (!u)
            return oom();
        p->uses = u;
        uint8_t *pn = realloc(p->pinned, (size_t)cap);
        if (!pn)
            return oom();
        p->pinned = pn;
        p->cap_values = cap;
    }
    if (g->n_nodes > p->cap_nodes) {
        int cap = g->n_nodes + 16;
        uint8_t *d = realloc(p->dead, (size_t)cap);
        if (!d)
            return oom();
        memset(d + p->cap_nodes, 0, (size_t)(cap - p->cap_nodes));
        p->dead = d;
        p->cap_nodes = cap;
    }
    if (p->cap_values) {
        memset(p->uses, 0, (size_t)p->cap_values * sizeof *p->uses);
        memset(p->pinned, 0, (size_t)p->cap_values);
    }
    for (int k = 0; k < g->n_outputs; k++)
        p->pinned[g->outputs[k]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->dead[i])
            continue;
        const avf_graph_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                p->uses[n->inputs[k]]++;
        for (int k = 0; k < n->n_implicit; k++) {
            p->uses[n->implicit[k]]++;
            p->pinned[n->implicit[k]] = 1;
        }
    }
    return AVF_OK;
}

const avf_tensor *avf_pass_const(const avf_pass *p, int v) {
    const avf_graph *g = p->g;
    while (g && v >= 0 && v < g->n_values && g->values[v].kind == AVF_VALUE_OUTER) {
        v = g->values[v].outer;
        g = g->parent;
    }
    if (!g || v < 0 || v >= g->n_values || g->values[v].kind != AVF_VALUE_INITIALIZER)
        return NULL;
    int k = g->values[v].init;
    return k >= 0 && k < g->n_inits ? &g->inits[k] : NULL;
}

int avf_pass_const_scalar(const avf_pass *p, int v, double *out) {
    const avf_tensor *t = avf_pass_const(p, v);
    if (!t || avf_tensor_numel(t) != 1 || !t->data)
        return 0;
    if (t->dtype == AVF_DTYPE_F32)
        *out = *(const float *)t->data;
    else if (t->dtype == AVF_DTYPE_F64)
        *out = *(const double *)t->data;
    else
        return 0;
    return 1;
}

int avf_pass_sole_reader(const avf_pass *p, int v) {
    if (v < 0 || v >= p->g->n_values || p->pinned[v] || p->uses[v] != 1)
        return -1;
    const avf_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p->dead[i])
            continue;
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v)
                return i;
    }
    return -1;
}

int avf_pass_removable(const avf_pass *p, int v) {
    return v >= 0 && v < p->g->n_values && !p->pinned[v];
}

int avf_pass_producer(const avf_pass *p, int v) {
    const avf_graph *g = p->g;
    if (v < 0 || v >= g->n_values || g->values[v].kind != AVF_VALUE_NODE)
        return -1;
    int i = g->values[v].producer;
    return i >= 0 && i < g->n_nodes && !p->dead[i] ? i : -1;
}

const avf_graph_node *avf_pass_producer_op(const avf_pass *p, int v, const char *op, int *index) {
    int i = avf_pass_producer(p, v);
    if (i < 0)
        return NULL;
    const avf_graph_node *n = &p->g->nodes[i];
    if (n->domain[0] || strcmp(n->op_type, op) != 0)
        return NULL;
    *index = i;
    return n;
}

static int is_op(const avf_graph_node *n, const char *op) {
    return !n->domain[0] && strcmp(n->op_type, op) == 0;
}

static int is_internal(const avf_graph_node *n, const char *op) {
    return strcmp(n->domain, AVF_DOMAIN_INTERNAL) == 0 && strcmp(n->op_type, op) == 0;
}

/* A lower bound on the rank of value v (0 when nothing is known). */
int avf_pass_min_rank(const avf_pass *p, int v, int depth) {
    const avf_graph *g = p->g;
    if (v < 0 || depth > 32)
        return 0;
    const avf_tensor *c = avf_pass_const(p, v);
    if (c)
        return c->ndim;
    if (g->values[v].ndim >= 0)
        return g->values[v].ndim;
    int i = avf_pass_producer(p, v);
    if (i < 0)
        return 0;
    const avf_graph_node *n = &g->nodes[i];
    if ((is_op(n, "Conv") || is_internal(n, "FusedConv") || is_op(n, "ConvTranspose") ||
         is_internal(n, "FusedConvTranspose")) &&
        n->n_inputs >= 2) {
        const avf_tensor *w = avf_pass_const(p, n->inputs[1]);
        return w ? w->ndim : 3;
    }
    if (is_op(n, "BatchNormalization"))
        return 2;
    static const char *const keep[] = {"Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",
                                       "Clip", "Tanh", "Add", "Sub", "Mul", "Div", NULL};
    int r = 0;
    for (const char *const *k = keep; *k; k++)
        if (is_op(n, *k)) {
            for (int in = 0; in < n->n_inputs && in < 2; in++) {
                int m = avf_pass_min_rank(p, n->inputs[in], depth + 1);
                r = m > r ? m : r;
            }
            return r;
        }
    if (is_internal(n, "Act") || is_internal(n, "FusedMatMul"))
        return n->n_inputs ? avf_pass_min_rank(p, n->inputs[0], depth + 1) : 0;
    return 0;
}

/* v is known to be f32 (from its type, a constant, or its producer). */
int avf_pass_is_f32(const avf_pass *p, int v, int depth) {
    const avf_graph *g = p->g;
    if (v < 0 || depth > 32)
        return 0;
    const avf_tensor *c = avf_pass_const(p, v);
    if (c)
        return c->dtype == AVF_DTYPE_F32;
    if (g->values[v].has_dtype)
        return g->values[v].dtype == AVF_DTYPE_F32;
    int i = avf_pass_producer(p, v);
    if (i < 0)
        return 0;
    const avf_graph_node *n = &g->nodes[i];
    if (!n->domain[0] && (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Cast") == 0 ||
                          strcmp(n->op_type, "Size") == 0))
        return 0;
    /* every other op the passes look at has inputs and output of one dtype */
    for (int k = 0; k < n->n_inputs && k < 3; k++)
        if (avf_pass_is_f32(p, n->inputs[k], depth + 1))
            return 1;
    return 0;
}

static avf_status push_init(avf_graph *g, void *data, avf_dtype dt, int ndim,
                            const int64_t *shape, int v) {
    avf_device *cpu = NULL;
    AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_tensor t;
    AVF_TRY(avf_tensor_init_borrowed(&t, data, dt, ndim, shape, cpu));
    avf_tensor *inits = realloc(g->inits, (size_t)(g->n_inits + 1) * sizeof *inits);
    if (!inits)
        return oom();
    g->inits = inits;
    int *iv = realloc(g->init_values, (size_t)(g->n_inits + 1) * sizeof *iv);
    if (!iv)
        return oom();
    g->init_values = iv;
    g->inits[g->n_inits] = t;
    g->init_values[g->n_inits] = v;
    avf_graph_value *val = &g->values[v];
    val->kind = AVF_VALUE_INITIALIZER;
    val->init = g->n_inits++;
    val->producer = -1;
    val->has_dtype = 1;
    val->dtype = dt;
    val->ndim = ndim;
    for (int d = 0; d < AVF_MAX_DIMS; d++) {
        val->dims[d] = d < ndim ? shape[d] : -1;
        free(val->dim_names[d]);
        val->dim_names[d] = NULL;
    }
    return AVF_OK;
}

avf_status avf_pass_add_init(avf_pass *p, const char *hint, void *data, avf_dtype dt, int ndim,
                             const int64_t *shape, int *value) {
    avf_graph *g = p->g;
    char name[256];
    snprintf(name, sizeof name, "%s", hint);
    for (int k = 1; avf_graph_find_value(g, name) >= 0 && k < 1000000; k++)
        snprintf(name, sizeof name, "%.200s_%d", hint, k);
    int v = -1;
    avf_status st = avf_graph_add_value(g, name, AVF_VALUE_NODE, &v);
    if (st == AVF_OK)
        st = push_init(g, data, dt, ndim, shape, v);
    if (st != AVF_OK) {
        free(data);
        return st;
    }
    *value = v;
    return avf_pass_recount(p);
}

avf_status avf_pass_make_init(avf_pass *p, int v, void *data, avf_dtype dt, int ndim,
                              const int64_t *shape) {
    avf_status st = push_init(p->g, data, dt, ndim, shape, v);
    if (st != AVF_OK)
        free(data);
    return st;
}

void avf_pass_kill(avf_pass *p, int node) {
    if (node < 0 || node >= p->g->n_nodes || p->dead[node])
        return;
    p->dead[node] = 1;
    const avf_graph_node *n = &p->g->nodes[node];
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            p->uses[n->inputs[k]]--;
    for (int k = 0; k < n->n_implicit; k++)
        p->uses[n->implicit[k]]--;
}

void avf_pass_set_output(avf_pass *p, int node, int k, int v) {
    avf_graph_node *n = &p->g->nodes[node];
    int old = n->outputs[k];
    if (old >= 0 && p->g->values[old].producer == node)
        p->g->values[old].producer = -1;
    n->outputs[k] = v;
    if (v >= 0) {
        p->g->values[v].kind = AVF_VALUE_NODE;
        p->g->values[v].producer = node;
    }
}

avf_status avf_pass_set_op(avf_pass *p, avf_graph_node *n, const char *domain,
                           const char *op_type) {
    char *d = dup_str(domain), *o = dup_str(op_type);
    if (!d || !o) {
        free(d);
        free(o);
        return oom();
    }
    free(n->domain);
    free(n->op_type);
    n->domain = d;
    n->op_type = o;
    if (strcmp(domain, AVF_DOMAIN_INTERNAL) == 0)
        p->added_internal = 1;
    return AVF_OK;
}

avf_status avf_pass_set_inputs(avf_graph_node *n, int count, const int *values) {
    int *in = malloc((size_t)(count ? count : 1) * sizeof *in);
    if (!in)
        return oom();
    memcpy(in, values, (size_t)count * sizeof *in);
    free(n->inputs);
    n->inputs = in;
    n->n_inputs = count;
    return AVF_OK;
}

static avf_graph_attr *attr_slot(avf_graph_node *n, const char *name, avf_attr_type type) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            if (n->attrs[i].type != type)
                return NULL;
            return &n->attrs[i];
        }
    char *nm = dup_str(name);
    avf_graph_attr *a = nm ? realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a) : NULL;
    if (!a) {
        free(nm);
        return NULL;
    }
    n->attrs = a;
    memset(&a[n->n_attrs], 0, sizeof a[0]);
    a[n->n_attrs].name = nm;
    a[n->n_attrs].type = type;
    return &a[n->n_attrs++];
}

avf_status avf_pass_attr_float(avf_graph_node *n, const char *name, float v) {
    avf_graph_attr *a = attr_slot(n, name, AVF_ATTR_FLOAT);
    if (!a)
        return oom();
    a->f = v;
    return AVF_OK;
}

avf_status avf_pass_attr_int(avf_graph_node *n, const char *name, int64_t v) {
    avf_graph_attr *a = attr_slot(n, name, AVF_ATTR_INT);
    if (!a)
        return oom();
    a->i = v;
    return AVF_OK;
}

avf_status avf_pass_attr_string(avf_graph_node *n, const char *name, const char *v) {
    avf_graph_attr *a = attr_slot(n, name, AVF_ATTR_STRING);
    char *s = a ? dup_str(v) : NULL;
    if (!s)
        return oom();
    free(a->s);
    a->s = s;
    return AVF_OK;
}

void avf_pass_attr_remove(avf_graph_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++) {
        avf_graph_attr *a = &n->attrs[i];
        if (strcmp(a->name, name) != 0)
            continue;
        /* only plain attributes are removed (no tensors or graphs here) */
        free(a->name);
        free(a->s);
        free(a->floats);
        free(a->ints);
        memmove(a, a + 1, (size_t)(n->n_attrs - i - 1) * sizeof *a);
        n->n_attrs--;
        return;
    }
}

/* The internal domain's opset import, on the main graph. */
static avf_status import_internal(avf_graph *g) {
    while (g->parent)
        g = g->parent;
    for (int i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, AVF_DOMAIN_INTERNAL) == 0)
            return AVF_OK;
    avf_graph_opset *o = realloc(g->opsets, (size_t)(g->n_opsets + 1) * sizeof *o);
    if (!o)
        return oom();
    g->opsets = o;
    if (!(o[g->n_opsets].domain = dup_str(AVF_DOMAIN_INTERNAL)))
        return oom();
    o[g->n_opsets++].version = 1;
    return AVF_OK;
}

avf_status avf_pass_check(avf_pass *p, avf_graph_node *n, const char *pass) {
    if (strcmp(n->domain, AVF_DOMAIN_INTERNAL) == 0)
        AVF_TRY(import_internal(p->g));
    avf_status st = avf_op_check_node(p->g, n);
    if (st == AVF_ERR_OUT_OF_MEMORY)
        return st;
    if (st != AVF_OK)
        return AVF_FAIL(AVF_ERR_INTERNAL, "pass %s built an unsupported node: %s", pass,
                        n->unsupported ? n->unsupported : avf_last_error());
    return AVF_OK;
}

avf_status avf_pass_compact(avf_pass *p) {
    avf_graph *g = p->g;
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        avf_graph_node *n = &g->nodes[i];
        if (!p->dead[i]) {
            g->nodes[w++] = *n;
            continue;
        }
        /* a dead node's outputs are produced by nothing now */
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] >= 0 && g->values[n->outputs[o]].kind == AVF_VALUE_NODE &&
                g->values[n->outputs[o]].producer == i)
                g->values[n->outputs[o]].producer = -1;
        avf_graph_node_release(n);
    }
    g->n_nodes = w;
    if (p->dead)
        memset(p->dead, 0, (size_t)p->cap_nodes);
    AVF_TRY(avf_pass_recount(p));
    /* initializers nobody reads any more (outer reads count through the
     * owner nodes' implicit inputs) */
    int k2 = 0;
    for (int k = 0; k < g->n_inits; k++) {
        int v = g->init_values[k];
        if (p->uses[v] > 0 || p->pinned[v]) {
            g->inits[k2] = g->inits[k];
            g->init_values[k2] = v;
            g->values[v].init = k2++;
            continue;
        }
        free(g->inits[k].data);
        g->values[v].kind = AVF_VALUE_NODE; /* an orphan: no producer, no reader */
        g->values[v].init = -1;
        g->values[v].producer = -1;
    }
    g->n_inits = k2;
    return avf_graph_sort(g);
}
