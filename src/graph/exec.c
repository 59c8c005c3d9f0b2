/* The executor's model-wide part: compiling a graph once (node list, params,
 * release lists, constants), the per-device weight cache, and the entry point
 * that binds a run's inputs and outputs (see graph/exec.h). */
#include "graph/exec.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "graph/plan.h"

/* One device's copy of every constant. */
typedef struct avf_exec_weights {
    avf_device *dev;
    void *block;       /* one allocation from the device, NULL on the CPU */
    avf_tensor *t;     /* per constant */
} avf_exec_weights;

struct avf_exec_model {
    const avf_graph *g;
    pthread_mutex_t mu; /* compile and first upload per device only */
    _Atomic(avf_exec_graph *) main;
    /* constants, numbered model-wide; host views of initializers (data in
     * the graph) and of Constant nodes (data in const_owned or the graph) */
    int n_consts, cap_consts;
    avf_tensor *consts;
    void **const_owned;
    /* every compiled graph, for freeing */
    int n_graphs, cap_graphs;
    avf_exec_graph **graphs;
    avf_pool *host_pool; /* host copies and host-side nodes of device runs */
    /* per device: the constants as they are, and for fp16 runs with every
     * f32 constant stored as f16 (slot AVF_EXEC_MAX_DEVICES + device) */
    _Atomic(avf_exec_weights *) weights[2 * AVF_EXEC_MAX_DEVICES];
    avf_exec_plan_cache plans; /* device runs per shape signature (graph/plan.h) */
};

static avf_status oom(void) { return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "executor: out of memory"); }

avf_status avf_exec_model_create(const avf_graph *g, avf_exec_model **out) {
    AVF_CHECK_ARG(g != NULL && out != NULL);
    *out = NULL;
    avf_exec_model *em = calloc(1, sizeof *em);
    if (!em)
        return oom();
    em->g = g;
    if (pthread_mutex_init(&em->mu, NULL) != 0) {
        free(em);
        return AVF_FAIL(AVF_ERR_INTERNAL, "executor: pthread_mutex_init failed");
    }
    avf_status st = avf_exec_plan_cache_init(&em->plans);
    if (st != AVF_OK) {
        pthread_mutex_destroy(&em->mu);
        free(em);
        return st;
    }
    *out = em;
    return AVF_OK;
}

static void free_graph(avf_exec_graph *eg) {
    if (!eg)
        return;
    for (int i = 0; i < eg->n_nodes; i++) {
        free(eg->nodes[i].params);
        free(eg->nodes[i].release);
    }
    free(eg->nodes);
    free(eg->const_id);
    free(eg->pinned);
    free(eg);
}

void avf_exec_model_free(avf_exec_model *em) {
    if (!em)
        return;
    avf_exec_plan_cache_free(&em->plans); /* before the weights its graphs read */
    for (int d = 0; d < 2 * AVF_EXEC_MAX_DEVICES; d++) {
        avf_exec_weights *w = atomic_load(&em->weights[d]);
        if (!w)
            continue;
        if (w->block)
            (void)avf_device_free(w->dev, w->block);
        if (w->t != em->consts)
            free(w->t);
        free(w);
    }
    for (int i = 0; i < em->n_graphs; i++)
        free_graph(em->graphs[i]);
    free(em->graphs);
    for (int i = 0; i < em->n_consts; i++)
        free(em->const_owned[i]);
    free(em->consts);
    free(em->const_owned);
    avf_pool_free_all(em->host_pool);
    pthread_mutex_destroy(&em->mu);
    free(em);
}

/* ------------------------------------------------------------ compile */

static avf_status add_const(avf_exec_model *em, const avf_tensor *t, void *owned, int *id) {
    if (em->n_consts == em->cap_consts) {
        int cap = em->cap_consts ? em->cap_consts * 2 : 64;
        avf_tensor *c = realloc(em->consts, (size_t)cap * sizeof *c);
        if (!c)
            return oom();
        em->consts = c;
        void **o = realloc(em->const_owned, (size_t)cap * sizeof *o);
        if (!o)
            return oom();
        em->const_owned = o;
        em->cap_consts = cap;
    }
    /* a borrowed host view: the data belongs to the graph or to const_owned */
    em->consts[em->n_consts] = *t;
    em->consts[em->n_consts].flags = 0;
    em->consts[em->n_consts].pool = NULL;
    em->const_owned[em->n_consts] = owned;
    *id = em->n_consts++;
    return AVF_OK;
}

static avf_status add_release(avf_exec_node *en, int v) {
    int *p = realloc(en->release, (size_t)(en->n_release + 1) * sizeof *p);
    if (!p)
        return oom();
    p[en->n_release++] = v;
    en->release = p;
    return AVF_OK;
}

static int is_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static avf_status compile_graph(avf_exec_model *em, const avf_graph *g, avf_exec_graph **out);

/* Once per node at compile time: the op's params from the node's attributes. */
static avf_status prepare_node(avf_exec_node *en, const avf_graph_node *n) {
    /* aligned for any params struct (max_align_t) */
    if (!(en->params = aligned_alloc(alignof(max_align_t), AVF_EXEC_PARAMS_MAX)))
        return oom();
    memset(en->params, 0, AVF_EXEC_PARAMS_MAX);
    return en->op->prepare(n, en->opset, en->params);
}

static avf_status compile_node(avf_exec_model *em, avf_exec_graph *eg, int i) {
    const avf_graph *g = eg->g;
    const avf_graph_node *n = &g->nodes[i];
    avf_exec_node *en = &eg->nodes[i];
    en->node = n;
    en->opset = avf_graph_get_opset(g, n->domain);
    en->op = avf_exec_find(n->domain, n->op_type);
    en->kind = AVF_EXEC_NODE_OP;
    if (!n->supported)
        return AVF_OK; /* fails when reached */
    if (!is_default_domain(n->domain)) {
        /* the internal domain's nodes (the passes' fused ops) are prepared
         * here like the rest: preparing at every run parsed their attributes
         * and looked their inner op up by name each time */
        if (en->op && en->op->prepare)
            return prepare_node(en, n);
        return AVF_OK; /* an unknown domain fails when reached */
    }
    if (strcmp(n->op_type, "Constant") == 0) {
        en->kind = AVF_EXEC_NODE_CONST;
        avf_tensor t;
        void *owned = NULL;
        AVF_TRY(avf_exec_constant_host(n, &t, &owned));
        int id = -1;
        avf_status st = add_const(em, &t, owned, &id);
        if (st != AVF_OK) {
            free(owned);
            return st;
        }
        if (n->n_outputs >= 1 && n->outputs[0] >= 0)
            eg->const_id[n->outputs[0]] = id;
        return AVF_OK;
    }
    int is_if = strcmp(n->op_type, "If") == 0, is_loop = strcmp(n->op_type, "Loop") == 0;
    if (is_if || is_loop) {
        en->kind = is_if ? AVF_EXEC_NODE_IF : AVF_EXEC_NODE_LOOP;
        const char *names[2] = {is_if ? "then_branch" : "body", is_if ? "else_branch" : NULL};
        for (int b = 0; b < 2 && names[b]; b++) {
            const avf_graph_attr *a = avf_graph_node_attr(n, names[b]);
            if (!a || a->type != AVF_ATTR_GRAPH || !a->g)
                return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): missing graph attribute '%s'",
                                n->name, n->op_type, names[b]);
            AVF_TRY(compile_graph(em, a->g, &en->sub[b]));
        }
    }
    if (en->op && en->op->prepare)
        return prepare_node(en, n);
    return AVF_OK;
}

/* Release lists: a value is released after the last node that reads it
 * (implicit reads by subgraphs included); a value nobody reads right after
 * its producer. Graph outputs, constants and outer values never are. */
static avf_status compute_lifetimes(avf_exec_graph *eg) {
    const avf_graph *g = eg->g;
    int *last = malloc((size_t)(g->n_values ? g->n_values : 1) * sizeof *last);
    if (!last)
        return oom();
    for (int v = 0; v < g->n_values; v++)
        last[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const avf_graph_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs + n->n_implicit; k++) {
            int v = k < n->n_inputs ? n->inputs[k] : n->implicit[k - n->n_inputs];
            if (v >= 0 && v < g->n_values)
                last[v] = i;
        }
    }
    avf_status st = AVF_OK;
    for (int v = 0; v < g->n_values && st == AVF_OK; v++) {
        const avf_graph_value *val = &g->values[v];
        if (eg->pinned[v] || eg->const_id[v] >= 0 || val->kind == AVF_VALUE_OUTER ||
            val->kind == AVF_VALUE_INITIALIZER)
            continue;
        int at = last[v];
        if (at < 0 && val->kind == AVF_VALUE_NODE)
            at = val->producer;
        if (at >= 0 && at < g->n_nodes)
            st = add_release(&eg->nodes[at], v);
    }
    free(last);
    return st;
}

static avf_status compile_graph(avf_exec_model *em, const avf_graph *g, avf_exec_graph **out) {
    *out = NULL;
    if (em->n_graphs == em->cap_graphs) {
        int cap = em->cap_graphs ? em->cap_graphs * 2 : 8;
        avf_exec_graph **p = realloc(em->graphs, (size_t)cap * sizeof *p);
        if (!p)
            return oom();
        em->graphs = p;
        em->cap_graphs = cap;
    }
    avf_exec_graph *eg = calloc(1, sizeof *eg);
    if (!eg)
        return oom();
    em->graphs[em->n_graphs++] = eg; /* freed with the model from here on */
    eg->g = g;
    size_t nv = (size_t)(g->n_values ? g->n_values : 1);
    if (!(eg->const_id = malloc(nv * sizeof *eg->const_id)) || !(eg->pinned = calloc(nv, 1)) ||
        (g->n_nodes && !(eg->nodes = calloc((size_t)g->n_nodes, sizeof *eg->nodes))))
        return oom();
    eg->n_nodes = g->n_nodes;
    for (int v = 0; v < g->n_values; v++)
        eg->const_id[v] = -1;
    for (int k = 0; k < g->n_outputs; k++)
        eg->pinned[g->outputs[k]] = 1;
    for (int k = 0; k < g->n_inits; k++) {
        int id = -1;
        AVF_TRY(add_const(em, &g->inits[k], NULL, &id));
        eg->const_id[g->init_values[k]] = id;
    }
    for (int i = 0; i < g->n_nodes; i++)
        AVF_TRY(compile_node(em, eg, i));
    AVF_TRY(compute_lifetimes(eg));
    *out = eg;
    return AVF_OK;
}

static avf_status ensure_compiled(avf_exec_model *em, const avf_exec_graph **out) {
    avf_exec_graph *eg = atomic_load_explicit(&em->main, memory_order_acquire);
    if (eg) {
        *out = eg;
        return AVF_OK;
    }
    pthread_mutex_lock(&em->mu);
    avf_status st = AVF_OK;
    eg = atomic_load_explicit(&em->main, memory_order_relaxed);
    if (!eg) {
        avf_device *cpu = NULL;
        st = avf_device_get(AVF_DEVICE_CPU, 0, &cpu);
        if (st == AVF_OK && !em->host_pool)
            st = avf_pool_create(cpu, NULL, &em->host_pool);
        if (st == AVF_OK)
            st = compile_graph(em, em->g, &eg);
        if (st != AVF_OK) {
            /* start over next time: drop what this attempt built */
            for (int i = 0; i < em->n_graphs; i++)
                free_graph(em->graphs[i]);
            em->n_graphs = 0;
            for (int i = 0; i < em->n_consts; i++)
                free(em->const_owned[i]);
            em->n_consts = 0;
            eg = NULL;
        } else {
            atomic_store_explicit(&em->main, eg, memory_order_release);
        }
    }
    pthread_mutex_unlock(&em->mu);
    *out = eg;
    return st;
}

/* ------------------------------------------------------------ weights */

static int device_slot(const avf_device *dev) {
    if (avf_device_get_kind(dev) == AVF_DEVICE_CPU)
        return 0;
    int i = avf_device_get_index(dev);
    return i >= 0 && i < AVF_EXEC_MAX_DEVICES - 1 ? i + 1 : -1;
}

static avf_dtype weight_dtype(const avf_tensor *h, int fp16) {
    return fp16 && h->dtype == AVF_DTYPE_F32 ? AVF_DTYPE_F16 : h->dtype;
}

static avf_status upload_weights(avf_exec_model *em, avf_device *dev, int fp16,
                                 avf_exec_weights **out) {
    avf_exec_weights *w = calloc(1, sizeof *w);
    if (!w)
        return oom();
    w->dev = dev;
    if (avf_device_get_kind(dev) == AVF_DEVICE_CPU) {
        w->t = em->consts; /* the host tensors are the CPU weights */
        *out = w;
        return AVF_OK;
    }
    if (!(w->t = calloc((size_t)(em->n_consts ? em->n_consts : 1), sizeof *w->t))) {
        free(w);
        return oom();
    }
    /* one allocation, 256-byte aligned offsets: weights stay resident for the
     * model's life, so the run pool is not the place for them */
    uint64_t total = 0, most16 = 0;
    for (int i = 0; i < em->n_consts; i++) {
        const avf_tensor *h = &em->consts[i];
        uint64_t nb = (uint64_t)avf_tensor_numel(h) * avf_dtype_size(weight_dtype(h, fp16));
        total += (nb + 255) & ~(uint64_t)255;
        if (weight_dtype(h, fp16) != h->dtype && nb > most16)
            most16 = nb;
    }
    avf_status st = AVF_OK;
    if (total > 0)
        st = avf_device_malloc(dev, (size_t)total, &w->block);
    /* f32 -> f16 on the host, through one buffer (the copies are synchronous
     * from pageable memory, so it can be refilled right after each) */
    uint16_t *half = NULL;
    if (st == AVF_OK && most16 && !(half = malloc((size_t)most16)))
        st = oom();
    uint64_t off = 0;
    for (int i = 0; i < em->n_consts && st == AVF_OK; i++) {
        const avf_tensor *h = &em->consts[i];
        avf_dtype dt = weight_dtype(h, fp16);
        int64_t numel = avf_tensor_numel(h);
        size_t nb = (size_t)numel * avf_dtype_size(dt);
        void *p = nb ? (char *)w->block + off : NULL;
        st = avf_tensor_init_borrowed(&w->t[i], p, dt, h->ndim, h->shape, dev);
        const void *src = h->data;
        if (st == AVF_OK && nb && dt != h->dtype) {
            for (int64_t k = 0; k < numel; k++)
                half[k] = avf_f32_to_f16(((const float *)h->data)[k]);
            src = half;
        }
        if (st == AVF_OK && nb)
            st = avf_memcpy_async(dev, p, src, nb, AVF_COPY_H2D, NULL, "weights");
        if (st == AVF_OK && nb && dt != h->dtype)
            st = avf_device_synchronize(dev);
        off += (nb + 255) & ~(uint64_t)255;
    }
    free(half);
    if (st == AVF_OK)
        st = avf_device_synchronize(dev);
    if (st != AVF_OK) {
        if (w->block)
            (void)avf_device_free(dev, w->block);
        free(w->t);
        free(w);
        return st;
    }
    *out = w;
    return AVF_OK;
}

static avf_status get_weights(avf_exec_model *em, avf_device *dev, int fp16,
                              const avf_tensor **out) {
    int slot = device_slot(dev);
    if (slot < 0)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "executor: device %s is beyond the weight cache",
                        avf_device_get_name(dev));
    if (fp16)
        slot += AVF_EXEC_MAX_DEVICES;
    avf_exec_weights *w = atomic_load_explicit(&em->weights[slot], memory_order_acquire);
    if (!w) {
        pthread_mutex_lock(&em->mu);
        avf_status st = AVF_OK;
        w = atomic_load_explicit(&em->weights[slot], memory_order_relaxed);
        if (!w && (st = upload_weights(em, dev, fp16, &w)) == AVF_OK)
            atomic_store_explicit(&em->weights[slot], w, memory_order_release);
        pthread_mutex_unlock(&em->mu);
        AVF_TRY(st);
    }
    *out = w->t;
    return AVF_OK;
}

/* ------------------------------------------------------------ run entry */

static avf_status check_input(const avf_graph_value *v, const avf_tensor *t, avf_device *dev) {
    char buf[128];
    if (!t->device || (t->device != dev && avf_device_get_kind(t->device) != AVF_DEVICE_CPU))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': tensor is on %s, the run is on %s",
                        v->name, t->device ? avf_device_get_name(t->device) : "no device",
                        avf_device_get_name(dev));
    if (!avf_tensor_is_contiguous(t) || (!t->data && avf_tensor_numel(t) > 0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': tensor is not contiguous or has no data",
                        v->name);
    if (v->has_dtype && v->dtype != t->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': dtype %s, the model wants %s", v->name,
                        avf_dtype_name(t->dtype), avf_dtype_name(v->dtype));
    int ok = v->ndim < 0 || v->ndim == t->ndim;
    for (int d = 0; ok && v->ndim > 0 && d < v->ndim; d++)
        ok = v->dims[d] < 0 || v->dims[d] == t->shape[d];
    if (!ok) {
        char want[128];
        int n = 0;
        want[0] = '\0';
        for (int d = 0; d < v->ndim && n < (int)sizeof want - 24; d++) {
            if (v->dims[d] >= 0)
                n += snprintf(want + n, sizeof want - (size_t)n, "%s%lld", d ? "," : "",
                              (long long)v->dims[d]);
            else
                n += snprintf(want + n, sizeof want - (size_t)n, "%s?", d ? "," : "");
        }
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': shape %s, the model wants [%s]",
                        v->name, avf_tensor_describe(t, buf, sizeof buf), want);
    }
    return AVF_OK;
}

static avf_status bind_inputs(avf_exec_run *r, const avf_graph *g, int n_inputs,
                              const char *const *names, const avf_tensor *inputs,
                              avf_exec_slot *slots) {
    if (n_inputs < 0 || (n_inputs > 0 && !inputs))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: %d inputs and inputs %s", n_inputs,
                        inputs ? "given" : "NULL");
    if (!names && n_inputs != g->n_inputs)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: %d inputs given, the model has %d", n_inputs,
                        g->n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        int k = i;
        if (names) {
            if (!names[i])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: input name %d is NULL", i);
            for (k = 0; k < g->n_inputs; k++)
                if (strcmp(g->values[g->inputs[k]].name, names[i]) == 0)
                    break;
            if (k == g->n_inputs)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: the model has no input '%s'",
                                names[i]);
        }
        const avf_graph_value *v = &g->values[g->inputs[k]];
        avf_exec_slot *s = &slots[k];
        if (s->has_t || s->has_host)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: input '%s' is fed twice", v->name);
        AVF_TRY(check_input(v, &inputs[i], r->dev));
        avf_tensor t = inputs[i];
        t.flags = 0; /* the caller keeps it */
        t.pool = NULL;
        if (t.device == r->dev) {
            s->t = t;
            s->has_t = 1;
        } else {
            s->host = t;
            s->has_host = 1;
        }
    }
    for (int k = 0; k < g->n_inputs; k++)
        if (!slots[k].has_t && !slots[k].has_host)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: input '%s' is not fed",
                            g->values[g->inputs[k]].name);
    return AVF_OK;
}

avf_status avf_exec_output_index(const avf_graph *g, const char *const *names, int i, int *k) {
    *k = i;
    if (!names)
        return AVF_OK;
    if (!names[i])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: output name %d is NULL", i);
    for (int j = 0; j < g->n_outputs; j++)
        if (strcmp(g->values[g->outputs[j]].name, names[i]) == 0) {
            *k = j;
            return AVF_OK;
        }
    return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: the model has no output '%s'", names[i]);
}

/* Hand the requested outputs to the caller: moved when the run owns the
 * device tensor, copied otherwise (constants, inputs, a repeated name). */
static avf_status take_outputs(avf_exec_run *r, const avf_graph *g, avf_exec_slot *outs,
                               int n_outputs, const char *const *names, avf_tensor *outputs) {
    for (int i = 0; i < n_outputs; i++) {
        int k = i;
        AVF_TRY(avf_exec_output_index(g, names, i, &k));
        avf_exec_slot *s = &outs[k];
        const avf_tensor *t = NULL;
        AVF_TRY(avf_exec_slot_device(r, s, &t));
        if (s->own_t && t == &s->t) {
            outputs[i] = s->t;
            s->own_t = 0; /* moved: the slot keeps a view it no longer frees */
            continue;
        }
        AVF_TRY(avf_tensor_alloc(&outputs[i], r->ctx.pool, t->dtype, t->ndim, t->shape,
                                 r->ctx.stream));
        AVF_TRY(avf_memcpy_async(r->dev, outputs[i].data, t->data, avf_tensor_nbytes(t),
                                 r->on_cpu ? AVF_COPY_H2H : AVF_COPY_D2D, r->ctx.stream,
                                 "outputs"));
    }
    return AVF_OK;
}

/* AVF_PROFILE=1: every run syncs after each node and prints where its time
 * went, per op type, to stderr (plans are bypassed). */
static int profile_enabled(void) {
    static atomic_int cached = -1;
    int v = atomic_load(&cached);
    if (v < 0) {
        const char *e = getenv("AVF_PROFILE");
        v = e && e[0] && strcmp(e, "0") != 0;
        atomic_store(&cached, v);
    }
    return v;
}

static int by_ms_desc(const void *a, const void *b) {
    double x = ((const avf_exec_profile_row *)a)->ms, y = ((const avf_exec_profile_row *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void print_profile(avf_exec_profile *p, const char *dev) {
    qsort(p->rows, (size_t)p->n, sizeof p->rows[0], by_ms_desc);
    double total = 0;
    int64_t nodes = 0;
    for (int i = 0; i < p->n; i++) {
        total += p->rows[i].ms;
        nodes += p->rows[i].count;
    }
    fprintf(stderr, "profile (%s, a device wait after every node): %lld nodes, %.3f ms\n", dev,
            (long long)nodes, total);
    fprintf(stderr, "  %-24s %8s %12s %10s %7s\n", "op", "nodes", "ms", "us/node", "share");
    for (int i = 0; i < p->n; i++)
        fprintf(stderr, "  %-24s %8lld %12.3f %10.1f %6.1f%%\n", p->rows[i].op_type,
                (long long)p->rows[i].count, p->rows[i].ms,
                p->rows[i].count ? 1e3 * p->rows[i].ms / (double)p->rows[i].count : 0.0,
                total > 0 ? 100.0 * p->rows[i].ms / total : 0.0);
}

avf_status avf_exec_model_plan_stats(avf_exec_model *em, const avf_device *dev,
                                     avf_model_plan_stats *out) {
    AVF_CHECK_ARG(em != NULL && out != NULL);
    return avf_exec_plan_stats(&em->plans, dev, out);
}

avf_status avf_exec_model_run(avf_exec_model *em, const avf_run_options *opts, int n_inputs,
                              const char *const *input_names, const avf_tensor *inputs,
                              int n_outputs, const char *const *output_names,
                              avf_tensor *outputs) {
    AVF_CHECK_ARG(em != NULL && opts != NULL);
    if (!opts->pool)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: options need a pool");
    const avf_graph *g = em->g;
    if (n_outputs < 0 || (n_outputs > 0 && !outputs) ||
        (!output_names && n_outputs != g->n_outputs))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "run: %d outputs asked, the model has %d",
                        n_outputs, g->n_outputs);
    if (outputs && n_outputs > 0)
        memset(outputs, 0, (size_t)n_outputs * sizeof *outputs);

    avf_exec_run r;
    memset(&r, 0, sizeof r);
    r.em = em;
    r.dev = opts->device ? opts->device : avf_pool_device(opts->pool);
    r.on_cpu = avf_device_get_kind(r.dev) == AVF_DEVICE_CPU;
    r.fp16 = opts->fp16 != 0;
    if (r.fp16 && r.on_cpu)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "run: fp16 execution is for CUDA devices (the CPU runs f32)");
    const avf_exec_graph *main = NULL;
    AVF_TRY(ensure_compiled(em, &main));
    AVF_TRY(get_weights(em, r.dev, r.fp16, &r.weights));
    r.consts = em->consts;
    AVF_TRY(avf_op_ctx_init(&r.ctx, r.dev, opts->stream, opts->pool));
    r.ctx.allow_tf32 = opts->allow_tf32;
    r.device_only = opts->device_only;
    avf_status st = AVF_OK;
    if (r.on_cpu) {
        r.host_ctx = r.ctx;
    } else {
        avf_device *cpu = NULL;
        if ((st = avf_device_get(AVF_DEVICE_CPU, 0, &cpu)) == AVF_OK)
            st = avf_op_ctx_init(&r.host_ctx, cpu, NULL, em->host_pool);
    }

    avf_exec_slot *ins = calloc((size_t)(g->n_inputs + 1), sizeof *ins);
    avf_exec_slot *outs = calloc((size_t)(g->n_outputs + 1), sizeof *outs);
    if (st == AVF_OK && (!ins || !outs))
        st = oom();
    avf_exec_profile *prof = NULL;
    if (st == AVF_OK && profile_enabled() && !(prof = calloc(1, sizeof *prof)))
        st = oom();
    r.profile = prof;
    if (st == AVF_OK)
        st = bind_inputs(&r, g, n_inputs, input_names, inputs, ins);
    int planned = 0;
    if (st == AVF_OK && !opts->disable_graphs) {
        st = avf_exec_plan_run(&em->plans, &r, main, ins, n_outputs, output_names, outputs,
                               &planned);
        if (planned)
            memset(ins, 0, (size_t)g->n_inputs * sizeof *ins); /* borrowed: nothing to free */
    }
    if (planned)
        ; /* done, or failed with the outputs released */
    else if (st == AVF_OK)
        st = avf_exec_graph_run(&r, main, NULL, g->n_inputs, ins, g->n_outputs, outs);
    else
        for (int k = 0; ins && k < g->n_inputs; k++)
            avf_exec_slot_release(&r, &ins[k]);
    if (st == AVF_OK && !planned)
        st = take_outputs(&r, g, outs, n_outputs, output_names, outputs);
    if (prof) {
        if (st == AVF_OK)
            print_profile(prof, avf_device_get_name(r.dev));
        free(prof);
    }
    for (int k = 0; outs && k < g->n_outputs; k++)
        avf_exec_slot_release(&r, &outs[k]);
    if (st != AVF_OK)
        for (int i = 0; outputs && i < n_outputs; i++)
            avf_tensor_release(&outputs[i], r.ctx.stream);
    free(ins);
    free(outs);
    if (!r.on_cpu)
        avf_op_ctx_release(&r.host_ctx);
    avf_op_ctx_release(&r.ctx);
    return st;
}
