/* Plans: per shape signature, a warmed-up arena and a captured CUDA graph
 * (see graph/plan.h for the design). */
#include "graph/plan.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/ledger.h"
#include "avflow/log.h"
#include "core/backend.h"
#include "core/error.h"

typedef enum plan_state {
    PLAN_NEW = 0, /* nothing run yet: the next run warms up */
    PLAN_WARM,    /* warmed up without a device wait: the next run is captured */
    PLAN_GRAPHED, /* replays its graph */
    PLAN_EAGER,   /* runs of this key wait for the device: interpreted */
} plan_state;

struct avf_exec_plan {
    avf_exec_plan *next;
    unsigned char *key;
    size_t key_len;
    plan_state state;
    int busy;          /* under the cache mutex */
    uint64_t last_use; /* cache clock */
    avf_device *dev;
    avf_stream *stream;
    avf_pool *pool;    /* the arena */
    avf_op_ctx ctx;    /* on stream/pool: handles and workspaces stay put */
    int has_ctx;
    avf_event *ready, *ran, *done;
    int done_recorded;
    int n_in, n_out;
    avf_tensor *ins;   /* device buffer per data input (ndim -1: a key input) */
    avf_exec_slot *outs; /* the captured run's graph outputs */
    avf_graph_exec *exec;
    unsigned char *pinned;
    uint64_t pinned_cap;
    uint64_t warm_uploads, warm_upload_bytes;
    uint64_t arena_bytes, arena_peak, intermediate_bytes;
    uint64_t replays;
};

static avf_status oom(void) { return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "plan: out of memory"); }

avf_status avf_exec_plan_cache_init(avf_exec_plan_cache *c) {
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->mu, NULL) != 0)
        return AVF_FAIL(AVF_ERR_INTERNAL, "plan: pthread_mutex_init failed");
    return AVF_OK;
}

static void release_outs(avf_exec_plan *p) {
    for (int k = 0; p->outs && k < p->n_out; k++) {
        avf_exec_slot *s = &p->outs[k];
        if (s->has_t && s->own_t)
            avf_tensor_release(&s->t, p->stream);
        if (s->has_host && s->own_host)
            avf_tensor_release(&s->host, NULL);
        memset(s, 0, sizeof *s);
    }
}

static void plan_free(avf_exec_plan *p) {
    if (!p)
        return;
    /* the last replay and the caller's copies out of the arena must be done */
    if (p->stream)
        (void)avf_stream_synchronize(p->stream);
    if (p->done && p->done_recorded)
        (void)avf_event_synchronize(p->done);
    avf_graph_exec_free(p->exec);
    if (p->pool) {
        release_outs(p);
        for (int k = 0; p->ins && k < p->n_in; k++)
            if (p->ins[k].ndim >= 0 && p->ins[k].data)
                avf_tensor_release(&p->ins[k], p->stream);
    }
    if (p->has_ctx)
        avf_op_ctx_release(&p->ctx);
    avf_pool_free_all(p->pool);
    avf_event_free(p->ready);
    avf_event_free(p->ran);
    avf_event_free(p->done);
    avf_stream_free(p->stream);
    if (p->pinned)
        (void)avf_host_free_pinned(p->dev, p->pinned);
    free(p->ins);
    free(p->outs);
    free(p->key);
    free(p);
}

void avf_exec_plan_cache_free(avf_exec_plan_cache *c) {
    avf_exec_plan *p = c->head;
    while (p) {
        avf_exec_plan *next = p->next;
        plan_free(p);
        p = next;
    }
    c->head = NULL;
    c->count = 0;
    pthread_mutex_destroy(&c->mu);
}

/* ------------------------------------------------------------ keys */

static int is_key_input(const avf_exec_slot *s) {
    return !s->has_t && s->has_host && avf_tensor_numel(&s->host) <= AVF_PLAN_KEY_NUMEL &&
           (s->host.dtype == AVF_DTYPE_I64 || s->host.dtype == AVF_DTYPE_I32 ||
            s->host.dtype == AVF_DTYPE_BOOL);
}

typedef struct key_buf {
    unsigned char *b;
    size_t n, cap;
    int failed;
} key_buf;

static void key_put(key_buf *k, const void *p, size_t n) {
    if (k->failed)
        return;
    if (k->n + n > k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        while (cap < k->n + n)
            cap *= 2;
        unsigned char *b = realloc(k->b, cap);
        if (!b) {
            k->failed = 1;
            return;
        }
        k->b = b;
        k->cap = cap;
    }
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

static avf_status make_key(const avf_exec_run *r, int n_in, const avf_exec_slot *ins,
                           key_buf *k) {
    int32_t head[5] = {avf_device_get_index(r->dev), r->ctx.allow_tf32, r->device_only, r->fp16,
                       n_in};
    key_put(k, head, sizeof head);
    for (int i = 0; i < n_in; i++) {
        const avf_exec_slot *s = &ins[i];
        const avf_tensor *t = s->has_t ? &s->t : &s->host;
        int32_t d[3] = {(int32_t)t->dtype, t->ndim, is_key_input(s)};
        key_put(k, d, sizeof d);
        key_put(k, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
        if (d[2])
            key_put(k, t->data, avf_tensor_nbytes(t));
    }
    if (k->failed) {
        free(k->b);
        k->b = NULL;
        return oom();
    }
    return AVF_OK;
}

/* ------------------------------------------------------------ the cache */

/* An idle instance of the key, marked busy; else a new one (NULL when the
 * key is eager-only or every instance is busy and the limit reached). The
 * least recently used idle plan is unlinked into *evict when the cache is
 * full; the caller frees it outside the lock. */
static avf_status acquire(avf_exec_plan_cache *c, key_buf *k, avf_device *dev,
                          avf_exec_plan **out, avf_exec_plan **evict) {
    *out = *evict = NULL;
    pthread_mutex_lock(&c->mu);
    int instances = 0, eager = 0;
    avf_exec_plan *found = NULL;
    for (avf_exec_plan *p = c->head; p; p = p->next) {
        if (p->key_len != k->n || memcmp(p->key, k->b, k->n) != 0)
            continue;
        instances++;
        if (p->state == PLAN_EAGER)
            eager = 1;
        else if (!p->busy && !found)
            found = p;
    }
    avf_status st = AVF_OK;
    if (eager) {
        found = NULL;
    } else if (!found && instances < AVF_PLAN_INSTANCES_MAX) {
        if (c->count >= AVF_PLAN_CACHE_MAX) {
            avf_exec_plan **victim = NULL;
            for (avf_exec_plan **pp = &c->head; *pp; pp = &(*pp)->next)
                if (!(*pp)->busy && (!victim || (*pp)->last_use < (*victim)->last_use))
                    victim = pp;
            if (victim) {
                *evict = *victim;
                *victim = (*victim)->next;
                c->count--;
            }
        }
        if (c->count < AVF_PLAN_CACHE_MAX) {
            found = calloc(1, sizeof *found);
            if (!found) {
                st = oom();
            } else {
                found->key = k->b; /* taken over */
                found->key_len = k->n;
                k->b = NULL;
                found->dev = dev;
                found->next = c->head;
                c->head = found;
                c->count++;
            }
        }
    }
    if (found) {
        found->busy = 1;
        found->last_use = ++c->clock;
    }
    pthread_mutex_unlock(&c->mu);
    *out = found;
    return st;
}

static void release(avf_exec_plan_cache *c, avf_exec_plan *p) {
    pthread_mutex_lock(&c->mu);
    p->busy = 0;
    pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------ running */

static avf_status setup(avf_exec_plan *p, const avf_exec_run *r, int n_in,
                        const avf_exec_slot *ins, int n_out) {
    AVF_TRY(avf_stream_create(p->dev, &p->stream));
    AVF_TRY(avf_pool_create(p->dev, NULL, &p->pool));
    AVF_TRY(avf_event_create(p->dev, 0, &p->ready));
    AVF_TRY(avf_event_create(p->dev, 0, &p->ran));
    AVF_TRY(avf_event_create(p->dev, 0, &p->done));
    AVF_TRY(avf_op_ctx_init(&p->ctx, p->dev, p->stream, p->pool));
    p->has_ctx = 1;
    p->ctx.allow_tf32 = r->ctx.allow_tf32;
    p->n_in = n_in;
    p->n_out = n_out;
    if (!(p->ins = calloc((size_t)(n_in + 1), sizeof *p->ins)) ||
        !(p->outs = calloc((size_t)(n_out + 1), sizeof *p->outs)))
        return oom();
    for (int i = 0; i < n_in; i++) {
        const avf_exec_slot *s = &ins[i];
        p->ins[i].ndim = -1;
        if (is_key_input(s))
            continue;
        const avf_tensor *t = s->has_t ? &s->t : &s->host;
        AVF_TRY(avf_tensor_alloc(&p->ins[i], p->pool, t->dtype, t->ndim, t->shape, p->stream));
    }
    return AVF_OK;
}

/* The run's input slots: data inputs borrowed from the plan's buffers (after
 * copying the caller's values in), key inputs from the caller's host memory. */
static avf_status bind(avf_exec_plan *p, const avf_exec_slot *ins, avf_exec_slot *slots) {
    for (int i = 0; i < p->n_in; i++) {
        memset(&slots[i], 0, sizeof slots[i]);
        if (p->ins[i].ndim < 0) {
            slots[i].host = ins[i].host;
            slots[i].has_host = 1;
            continue;
        }
        const avf_tensor *src = ins[i].has_t ? &ins[i].t : &ins[i].host;
        AVF_TRY(avf_memcpy_async(p->dev, p->ins[i].data, src->data, avf_tensor_nbytes(src),
                                 ins[i].has_t ? AVF_COPY_D2D : AVF_COPY_H2D, p->stream,
                                 "exec.plan.inputs"));
        avf_tensor v = p->ins[i];
        v.flags = 0;
        v.pool = NULL;
        slots[i].t = v;
        slots[i].has_t = 1;
    }
    return AVF_OK;
}

/* A run of the interpreter on the plan's stream and arena. The run works on
 * a copy of the plan's op context: plan_run_done takes back the library
 * handles (and the cuBLAS workspace the captured graph uses) it acquired. */
static void plan_run_init(avf_exec_plan *p, const avf_exec_run *r, avf_exec_run *pr) {
    *pr = *r;
    pr->ctx = p->ctx;
    pr->n_syncs = 0;
    pr->upload_count = pr->upload_bytes = 0;
    pr->cap = NULL;
    pr->profile = NULL;
}

static void plan_run_done(avf_exec_plan *p, const avf_exec_run *pr) { p->ctx = pr->ctx; }

/* Every graph output as a device tensor in the arena. */
static avf_status outs_on_device(avf_exec_run *pr, avf_exec_plan *p) {
    for (int k = 0; k < p->n_out; k++) {
        const avf_tensor *t = NULL;
        AVF_TRY(avf_exec_slot_device(pr, &p->outs[k], &t));
    }
    return AVF_OK;
}

static avf_status warm_up(avf_exec_plan *p, const avf_exec_run *r, const avf_exec_graph *main,
                          const avf_exec_slot *ins) {
    avf_exec_run pr;
    plan_run_init(p, r, &pr);
    avf_exec_slot *slots = calloc((size_t)(p->n_in + 1), sizeof *slots);
    if (!slots)
        return oom();
    avf_pool_reset_counters(p->pool);
    avf_status st = bind(p, ins, slots);
    if (st == AVF_OK)
        st = avf_exec_graph_run(&pr, main, NULL, p->n_in, slots, p->n_out, p->outs);
    if (st == AVF_OK)
        st = outs_on_device(&pr, p);
    plan_run_done(p, &pr);
    free(slots);
    if (st != AVF_OK)
        return st;
    /* the input buffers are part of the arena too */
    avf_pool_stats ps;
    if (avf_pool_get_stats(p->pool, &ps) == AVF_OK) {
        p->intermediate_bytes = ps.alloc_bytes_total;
        for (int i = 0; i < p->n_in; i++)
            if (p->ins[i].ndim >= 0)
                p->intermediate_bytes += avf_tensor_nbytes(&p->ins[i]);
    }
    p->warm_uploads = pr.upload_count;
    p->warm_upload_bytes = pr.upload_bytes;
    /* a run that waited for the device cannot be captured */
    if (p->state != PLAN_EAGER)
        p->state = pr.n_syncs ? PLAN_EAGER : PLAN_WARM;
    if (pr.n_syncs)
        AVF_INFO("plan: %u device wait(s) in a run: this signature stays eager", pr.n_syncs);
    return AVF_OK;
}

static avf_status capture(avf_exec_plan *p, const avf_exec_run *r, const avf_exec_graph *main,
                          const avf_exec_slot *ins) {
    avf_exec_run pr;
    plan_run_init(p, r, &pr);
    avf_exec_capture cap = {1, NULL, 0, 0};
    uint64_t need = p->warm_upload_bytes + 64 * p->warm_uploads;
    if (need) {
        AVF_TRY(avf_host_alloc_pinned(p->dev, (size_t)need, (void **)&p->pinned));
        p->pinned_cap = need;
    }
    cap.pinned = p->pinned;
    cap.pinned_cap = p->pinned_cap;
    pr.cap = &cap;
    avf_exec_slot *slots = calloc((size_t)(p->n_in + 1), sizeof *slots);
    if (!slots)
        return oom();
    /* inputs are copied before the capture: the graph reads the buffers */
    avf_status st = bind(p, ins, slots);
    if (st == AVF_OK)
        st = avf_stream_capture_begin(p->stream);
    if (st != AVF_OK) {
        free(slots);
        return st;
    }
    st = avf_exec_graph_run(&pr, main, NULL, p->n_in, slots, p->n_out, p->outs);
    if (st == AVF_OK)
        st = outs_on_device(&pr, p);
    if (st == AVF_OK && pr.n_syncs)
        st = AVF_FAIL(AVF_ERR_INTERNAL, "plan: the captured run waited for the device");
    char why[512] = "";
    if (st != AVF_OK)
        snprintf(why, sizeof why, "%s", avf_last_error());
    avf_graph_exec *g = NULL;
    avf_status ce = avf_stream_capture_end(p->stream, &g);
    plan_run_done(p, &pr);
    free(slots);
    if (st == AVF_OK && ce != AVF_OK)
        snprintf(why, sizeof why, "%s", avf_last_error());
    if (st != AVF_OK || ce != AVF_OK) {
        avf_graph_exec_free(g);
        release_outs(p);
        p->state = PLAN_EAGER;
        AVF_WARN("plan: capture failed, this signature stays eager: %s", why);
        return AVF_OK;
    }
    p->exec = g;
    p->state = PLAN_GRAPHED;
    avf_pool_stats ps;
    if (avf_pool_get_stats(p->pool, &ps) == AVF_OK) {
        p->arena_bytes = ps.reserved_bytes;
        p->arena_peak = ps.peak_in_use_bytes;
    }
    return AVF_OK;
}

/* The caller's stream (NULL: the device's default stream) waits for ev. */
static avf_status wait_on(const avf_exec_run *r, avf_event *ev) {
    if (r->ctx.stream)
        return avf_stream_wait_event(r->ctx.stream, ev);
    return r->dev->ops->stream_wait_event(avf_device_get_index(r->dev), NULL,
                                          ((struct avf_event *)ev)->native);
}

/* Hand the requested outputs to the caller: allocated from the caller's
 * pool on the caller's stream, copied there once the plan's stream is done. */
static avf_status hand_out(avf_exec_plan *p, const avf_exec_run *r, const avf_graph *g,
                           int n_outputs, const char *const *names, avf_tensor *outputs) {
    AVF_TRY(avf_event_record(p->ran, p->stream));
    AVF_TRY(wait_on(r, p->ran));
    for (int i = 0; i < n_outputs; i++) {
        int k = 0;
        AVF_TRY(avf_exec_output_index(g, names, i, &k));
        const avf_tensor *t = &p->outs[k].t;
        AVF_TRY(avf_tensor_alloc(&outputs[i], r->ctx.pool, t->dtype, t->ndim, t->shape,
                                 r->ctx.stream));
        AVF_TRY(avf_memcpy_async(r->dev, outputs[i].data, t->data, avf_tensor_nbytes(t),
                                 AVF_COPY_D2D, r->ctx.stream, "outputs"));
    }
    AVF_TRY(avf_event_record(p->done, r->ctx.stream));
    p->done_recorded = 1;
    return AVF_OK;
}

/* Free everything of an eager-only plan but its key (waits for its work). */
static void shrink(avf_exec_plan *p) {
    avf_exec_plan keep = *p;
    memset(p, 0, sizeof *p);
    p->next = keep.next;
    p->key = keep.key;
    p->key_len = keep.key_len;
    p->state = keep.state;
    p->busy = keep.busy;
    p->last_use = keep.last_use;
    p->dev = keep.dev;
    avf_exec_plan *copy = malloc(sizeof *copy);
    if (!copy) {
        *p = keep; /* keep it all: freed with the cache */
        return;
    }
    *copy = keep;
    copy->key = NULL; /* stays with p */
    plan_free(copy);
}

static avf_status plan_exec(avf_exec_plan *p, const avf_exec_run *r, const avf_exec_graph *main,
                            const avf_exec_slot *ins, int n_outputs, const char *const *names,
                            avf_tensor *outputs) {
    const avf_graph *g = main->g;
    if (p->state == PLAN_NEW && !p->stream)
        AVF_TRY(setup(p, r, g->n_inputs, ins, g->n_outputs));
    /* after the caller's work so far, and after the previous caller's copies
     * out of the arena */
    AVF_TRY(avf_event_record(p->ready, r->ctx.stream));
    AVF_TRY(avf_stream_wait_event(p->stream, p->ready));
    if (p->done_recorded)
        AVF_TRY(avf_stream_wait_event(p->stream, p->done));
    plan_state was = p->state;
    if (was == PLAN_NEW)
        AVF_TRY(warm_up(p, r, main, ins));
    else if (was == PLAN_WARM)
        AVF_TRY(capture(p, r, main, ins));
    if (p->state == PLAN_EAGER && was != PLAN_NEW) {
        /* the capture failed: this one run still needs its results */
        AVF_TRY(warm_up(p, r, main, ins));
        was = PLAN_NEW;
    }
    if (p->state == PLAN_GRAPHED) {
        if (was == PLAN_GRAPHED) {
            avf_exec_slot *slots = calloc((size_t)(p->n_in + 1), sizeof *slots);
            if (!slots)
                return oom();
            avf_status st = bind(p, ins, slots);
            free(slots);
            AVF_TRY(st);
        }
        AVF_TRY(avf_graph_exec_launch(p->exec, p->stream));
        p->replays++;
        /* what the graph copies from pinned host memory on every replay */
        if (p->warm_upload_bytes)
            avf_ledger_record(avf_ledger_global(), "exec.plan.uploads", AVF_COPY_H2D,
                              p->warm_upload_bytes);
    }
    AVF_TRY(hand_out(p, r, g, n_outputs, names, outputs));
    if (was == PLAN_NEW) {
        /* warm-up outputs go back to the arena once the caller has them */
        AVF_TRY(avf_stream_wait_event(p->stream, p->done));
        release_outs(p);
    }
    if (p->state == PLAN_EAGER)
        shrink(p); /* once per such key: only the key is kept */
    return AVF_OK;
}

static int graphs_disabled_by_env(void) {
    static atomic_int cached = -1;
    int v = atomic_load(&cached);
    if (v < 0) {
        const char *e = getenv("AVF_GRAPHS");
        v = e && strcmp(e, "0") == 0;
        atomic_store(&cached, v);
    }
    return v;
}

avf_status avf_exec_plan_run(avf_exec_plan_cache *c, avf_exec_run *r, const avf_exec_graph *main,
                             avf_exec_slot *ins, int n_outputs, const char *const *output_names,
                             avf_tensor *outputs, int *handled) {
    *handled = 0;
    if (r->on_cpu || r->profile || graphs_disabled_by_env())
        return AVF_OK;
    key_buf k = {0};
    if (make_key(r, main->g->n_inputs, ins, &k) != AVF_OK)
        return AVF_OK; /* no memory for a key: interpret */
    avf_exec_plan *p = NULL, *evict = NULL;
    avf_status st = acquire(c, &k, r->dev, &p, &evict);
    free(k.b);
    plan_free(evict);
    if (st != AVF_OK || !p)
        return AVF_OK;
    *handled = 1;
    st = plan_exec(p, r, main, ins, n_outputs, output_names, outputs);
    if (st != AVF_OK) {
        for (int i = 0; i < n_outputs; i++)
            avf_tensor_release(&outputs[i], r->ctx.stream);
        /* a plan that failed half-way is not trusted again */
        pthread_mutex_lock(&c->mu);
        for (avf_exec_plan **pp = &c->head; *pp; pp = &(*pp)->next)
            if (*pp == p) {
                *pp = p->next;
                c->count--;
                break;
            }
        pthread_mutex_unlock(&c->mu);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", avf_last_error());
        plan_free(p);
        return AVF_FAIL(st, "%s", msg);
    }
    release(c, p);
    return AVF_OK;
}

avf_status avf_exec_plan_stats(avf_exec_plan_cache *c, const avf_device *dev,
                               avf_model_plan_stats *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    for (avf_exec_plan *p = c->head; p; p = p->next) {
        if (dev && p->dev != dev)
            continue;
        out->plans++;
        if (p->state == PLAN_GRAPHED) {
            out->graphed++;
            out->arena_bytes += p->arena_bytes;
            out->arena_peak_bytes += p->arena_peak;
            out->intermediate_bytes += p->intermediate_bytes;
        }
        if (p->state == PLAN_EAGER)
            out->eager_only++;
        out->replays += p->replays;
    }
    pthread_mutex_unlock(&c->mu);
    return AVF_OK;
}
