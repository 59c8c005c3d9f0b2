/* The dynamic batcher: workers that form batches from one bounded queue. */
#include "serve/batcher.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/thread_name.h"
#include "serve/hostbuf.h"
#include "serve/prio_queue.h"

/* A growable host buffer, pinned for the worker's device. */
typedef struct staging_buf {
    void *p;
    size_t cap;
} staging_buf;

typedef struct worker {
    avf_srv_batcher *b;
    const avf_srv_batcher_config *cfg; /* its lane's: device, pool, exec hook */
    int lane;                 /* index in the batcher's lanes */
    pthread_t thread;
    int started;
    avf_stream *stream;
    staging_buf in[AVF_SRV_MAX_IO];
    avf_srv_request *carry;   /* taken from the queue, starts the next batch */
} worker;

/* What a lane's exec hook needs to know. */
typedef struct lane_ctx {
    avf_srv_batcher *b;
    avf_srv_lane *load;
} lane_ctx;

struct avf_srv_batcher {
    avf_srv_batcher_config cfg;
    char *out_names[AVF_SRV_MAX_IO];
    avf_srv_prio_queue *queue;
    /* one output buffer pool per lane, pinned for its device: a batch's
     * outputs, rows shared by its requests */
    avf_srv_hostbuf_pool *outbufs[AVF_SRV_MAX_LANES];
    int n_lanes;
    avf_srv_batcher_config lane_cfg[AVF_SRV_MAX_LANES];
    lane_ctx lane_ctx[AVF_SRV_MAX_LANES];
    avf_srv_lane own[AVF_SRV_MAX_LANES]; /* load of lanes given none */
    /* routing between lanes (n_lanes > 1), under mu: idle workers per lane,
     * the lane a request was handed to (-1: none), closing */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int idle[AVF_SRV_MAX_LANES];
    int handoff;
    int closing;
    int n_workers;
    worker *workers;
};

int64_t avf_srv_bucket(int64_t rows, int max_batch) {
    if (max_batch <= 0)
        return rows;
    int64_t b = 1;
    while (b < rows)
        b *= 2;
    return b > max_batch ? max_batch : b;
}

static avf_status model_run(void *user, avf_stream *stream, avf_pool *pool, int n_inputs,
                            const avf_tensor *inputs, int n_outputs, avf_tensor *outputs) {
    avf_run_options o = {.device = avf_pool_device(pool), .stream = stream, .pool = pool};
    return avf_model_run(user, &o, n_inputs, NULL, inputs, n_outputs, NULL, outputs);
}

avf_status avf_srv_batcher_config_model(avf_srv_batcher_config *c, const avf_model *m) {
    c->n_inputs = avf_model_num_inputs(m);
    c->n_outputs = avf_model_num_outputs(m);
    if (c->n_inputs > AVF_SRV_MAX_IO || c->n_outputs > AVF_SRV_MAX_IO)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "more than %d inputs or outputs", AVF_SRV_MAX_IO);
    for (int i = 0; i < c->n_outputs; i++) {
        avf_model_value_info info;
        AVF_TRY(avf_model_output_info(m, i, &info));
        c->output_names[i] = info.name;
    }
    c->run = model_run;
    c->run_user = (void *)m;
    return AVF_OK;
}

static avf_status staging_reserve(avf_device *dev, staging_buf *s, size_t bytes) {
    if (bytes <= s->cap)
        return AVF_OK;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < bytes)
        cap *= 2;
    void *p = NULL;
    AVF_TRY(avf_host_alloc_pinned(dev, cap, &p));
    if (s->p)
        avf_host_free_pinned(dev, s->p);
    s->p = p;
    s->cap = cap;
    return AVF_OK;
}

static int same_signature(const avf_srv_batcher *b, const avf_srv_request *x,
                          const avf_srv_request *y) {
    for (int i = 0; i < b->cfg.n_inputs; i++) {
        const avf_srv_tensor *p = &x->inputs[x->feed[i]], *q = &y->inputs[y->feed[i]];
        if (p->dtype != q->dtype || p->ndim != q->ndim)
            return 0;
        for (int d = 1; d < p->ndim; d++)
            if (p->shape[d] != q->shape[d])
                return 0;
    }
    return 1;
}

static uint64_t deadline_ns(const avf_srv_batcher *b, const avf_srv_request *r) {
    int64_t t = r->timeout_us ? r->timeout_us : b->cfg.model.timeout_us;
    return t > 0 ? r->t_arrive_ns + (uint64_t)t * 1000u : UINT64_MAX;
}

static void finish(avf_srv_request *r) {
    r->t_end_ns = avf_srv_now_ns();
    if (r->on_done)
        r->on_done(r, r->user);
    avf_srv_request_unref(r);
}

static void finish_failed(avf_srv_request *r, avf_status st, const char *msg) {
    avf_srv_request_fail(r, st, msg);
    finish(r);
}

/* A request past its deadline fails here and is not run. */
static int expired(avf_srv_batcher *b, avf_srv_request *r) {
    if (avf_srv_now_ns() < deadline_ns(b, r))
        return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "the request timed out after %.0f us in the queue",
             (double)(avf_srv_now_ns() - r->t_arrive_ns) / 1e3);
    finish_failed(r, AVF_ERR_TIMEOUT, msg);
    return 1;
}

static int is_preferred(const avf_srv_model_config *c, int64_t rows) {
    for (int i = 0; i < c->n_preferred; i++)
        if (c->preferred[i] == rows)
            return 1;
    return 0;
}

/* Run one batch and finish its requests. */
static void run_batch(worker *w, avf_srv_request **reqs, int n, int64_t rows) {
    const avf_srv_batcher_config *c = w->cfg;
    avf_device *cpu = NULL, *dev = c->device;
    int batching = c->model.max_batch_size > 0;
    int64_t bucket = batching ? avf_srv_bucket(rows, c->model.max_batch_size) : 1;
    avf_tensor in[AVF_SRV_MAX_IO], out[AVF_SRV_MAX_IO];
    memset(out, 0, sizeof out);
    avf_status st = avf_device_get(AVF_DEVICE_CPU, 0, &cpu);
    uint64_t t0 = avf_srv_now_ns();
    for (int k = 0; k < n; k++)
        reqs[k]->t_start_ns = t0;

    /* Inputs: one request filling its bucket is fed in place, otherwise
     * rows are copied into staging and the padding repeats the last row. */
    for (int i = 0; st == AVF_OK && i < c->n_inputs; i++) {
        const avf_srv_tensor *t0i = &reqs[0]->inputs[reqs[0]->feed[i]];
        int64_t shape[AVF_MAX_DIMS];
        memcpy(shape, t0i->shape, sizeof shape);
        if (!batching || (n == 1 && bucket == rows)) {
            /* In place on the CPU when aligned (binary tensors sit at any
             * offset of the body, and kernels read whole elements); through
             * pinned staging on a GPU, so the upload is asynchronous. */
            const void *src = t0i->data;
            if (dev != cpu || (uintptr_t)src % 64 != 0) {
                st = staging_reserve(dev, &w->in[i], t0i->nbytes + 1);
                if (st != AVF_OK)
                    break;
                if (t0i->nbytes)
                    memcpy(w->in[i].p, src, t0i->nbytes);
                src = w->in[i].p;
            }
            st = avf_tensor_init_borrowed(&in[i], (void *)src, t0i->dtype, t0i->ndim, shape, cpu);
            continue;
        }
        size_t row_bytes = t0i->nbytes / (size_t)reqs[0]->batch;
        shape[0] = bucket;
        st = staging_reserve(dev, &w->in[i], row_bytes * (size_t)bucket + 1);
        if (st != AVF_OK)
            break;
        char *dst = w->in[i].p;
        size_t at = 0;
        for (int k = 0; k < n; k++) {
            const avf_srv_tensor *t = &reqs[k]->inputs[reqs[k]->feed[i]];
            memcpy(dst + at, t->data, t->nbytes);
            at += t->nbytes;
        }
        for (int64_t r = rows; r < bucket && row_bytes; r++, at += row_bytes)
            memcpy(dst + at, dst + at - row_bytes, row_bytes);
        st = avf_tensor_init_borrowed(&in[i], dst, t0i->dtype, t0i->ndim, shape, cpu);
    }
    if (st == AVF_OK)
        st = c->run(c->run_user, w->stream, c->pool, c->n_inputs, in, c->n_outputs, out);
    /* Outputs back to the host, into one buffer for the whole batch (64-byte
     * aligned per output); each request then points at its rows and holds
     * the buffer until its reply has gone out (serve/hostbuf.h). */
    size_t at_out[AVF_SRV_MAX_IO] = {0}, total = 0;
    for (int o = 0; st == AVF_OK && o < c->n_outputs; o++) {
        if (batching && (out[o].ndim < 1 || out[o].shape[0] != bucket))
            st = AVF_FAIL(AVF_ERR_UNSUPPORTED, "output '%s' has no batch dim 0 (a batch of %lld "
                          "gave dim 0 = %lld): set max_batch_size 0 in config.json",
                          c->output_names[o], (long long)bucket,
                          out[o].ndim ? (long long)out[o].shape[0] : -1LL);
        at_out[o] = total;
        total += (avf_tensor_nbytes(&out[o]) + 63u) & ~(size_t)63u;
    }
    avf_srv_hostbuf *hb = NULL;
    if (st == AVF_OK)
        st = avf_srv_hostbuf_get(w->b->outbufs[w->lane], total, &hb);
    for (int o = 0; st == AVF_OK && o < c->n_outputs; o++) {
        size_t bytes = avf_tensor_nbytes(&out[o]);
        char *dst = (char *)hb->p + at_out[o];
        if (!bytes)
            continue;
        if (dev != cpu)
            st = avf_memcpy_async(dev, dst, out[o].data, bytes, AVF_COPY_D2H, w->stream,
                                  "serve.output");
        else
            memcpy(dst, out[o].data, bytes);
    }
    if (st == AVF_OK && dev != cpu)
        st = avf_stream_synchronize(w->stream);
    uint64_t t1 = avf_srv_now_ns();

    /* Split: request k gets rows [off, off + batch) of every output. */
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        avf_srv_request *r = reqs[k];
        r->exec_batch = (int)bucket;
        for (int o = 0; st == AVF_OK && o < c->n_outputs; o++) {
            avf_srv_tensor *t = &r->outputs[o];
            size_t bytes = avf_tensor_nbytes(&out[o]);
            size_t row_bytes = batching ? bytes / (size_t)bucket : bytes;
            snprintf(t->name, sizeof t->name, "%s", c->output_names[o]);
            t->dtype = out[o].dtype;
            t->ndim = out[o].ndim;
            memcpy(t->shape, out[o].shape, sizeof t->shape);
            if (batching)
                t->shape[0] = r->batch;
            t->nbytes = row_bytes * (size_t)(batching ? r->batch : 1);
            t->data = (char *)hb->p + at_out[o] + (size_t)off * row_bytes;
            t->owned = 0;
            avf_srv_hostbuf_ref(hb);
            t->hold = hb;
            r->n_outputs = o + 1;
        }
        if (st != AVF_OK)
            avf_srv_request_fail(r, st, avf_last_error());
        off += r->batch;
    }
    avf_srv_hostbuf_unref(hb);
    for (int o = 0; o < c->n_outputs; o++)
        avf_tensor_release(&out[o], w->stream);
    if (c->on_exec && st == AVF_OK)
        c->on_exec(c->exec_user, n, rows, (int)bucket, t1 - t0);
    for (int k = 0; k < n; k++)
        finish(reqs[k]);
}

/* Under b->mu: the least loaded lane with an idle worker (see batcher.h). */
static int best_idle_lane(const avf_srv_batcher *b) {
    int best = -1;
    for (int l = 0; l < b->n_lanes; l++)
        if (b->idle[l] > 0 &&
            (best < 0 || avf_srv_lane_less_loaded(b->lane_ctx[l].load, b->lane_ctx[best].load)))
            best = l;
    return best;
}

/* The first request of the worker's next batch: AVF_OK, or AVF_ERR_CLOSED
 * when the batcher is closed and drained. On AVF_OK the lane counts the
 * batch as in flight. */
static avf_status take_first(worker *w, avf_srv_request **out) {
    avf_srv_batcher *b = w->b;
    avf_srv_lane *load = b->lane_ctx[w->lane].load;
    avf_status st;
    if (b->n_lanes == 1) {
        st = avf_srv_prio_queue_pop(b->queue, (void **)out, -1);
        if (st == AVF_OK)
            avf_srv_lane_begin(load);
        return st;
    }
    pthread_mutex_lock(&b->mu);
    b->idle[w->lane]++;
    for (;;) {
        if (avf_srv_prio_queue_size(b->queue) == 0) {
            if (b->closing) {
                st = AVF_ERR_CLOSED;
                break;
            }
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        int best = b->handoff == w->lane ? w->lane : best_idle_lane(b);
        if (best == w->lane) {
            st = avf_srv_prio_queue_pop(b->queue, (void **)out, 0);
            if (st == AVF_OK || st == AVF_ERR_CLOSED)
                break;
            continue; /* a worker forming a batch took it first */
        }
        /* hand it to the better lane: its idle worker is waiting on cv or
         * about to look, and it takes a hand-off without comparing again */
        b->handoff = best;
        pthread_cond_broadcast(&b->cv);
        pthread_cond_wait(&b->cv, &b->mu);
    }
    if (b->handoff == w->lane)
        b->handoff = -1;
    b->idle[w->lane]--;
    if (st == AVF_OK)
        avf_srv_lane_begin(load); /* before unlocking: the next comparison sees it */
    pthread_cond_broadcast(&b->cv); /* the idle set changed: others look again */
    pthread_mutex_unlock(&b->mu);
    return st;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    avf_srv_batcher *b = w->b;
    avf_srv_lane *load = b->lane_ctx[w->lane].load;
    const avf_srv_model_config *mc = &b->cfg.model;
    avf_srv_request *batch[AVF_SRV_MAX_BATCH];
    avf_thread_set_name("avf-batch");
    for (;;) {
        avf_srv_request *first = w->carry;
        w->carry = NULL;
        if (first)
            avf_srv_lane_begin(load);
        else if (take_first(w, &first) != AVF_OK)
            break; /* closed and drained */
        if (expired(b, first)) {
            avf_srv_lane_end(load);
            continue;
        }
        int n = 0;
        batch[n++] = first;
        int64_t rows = first->batch;
        if (mc->max_batch_size > 0) {
            uint64_t until = avf_srv_now_ns() + (uint64_t)mc->max_queue_delay_us * 1000u;
            while (rows < mc->max_batch_size && n < AVF_SRV_MAX_BATCH) {
                if (is_preferred(mc, rows) && avf_srv_prio_queue_size(b->queue) == 0)
                    break;
                uint64_t now = avf_srv_now_ns();
                int64_t wait_us = now < until ? (int64_t)((until - now) / 1000u) : 0;
                avf_srv_request *r = NULL;
                if (avf_srv_prio_queue_pop(b->queue, (void **)&r, wait_us) != AVF_OK)
                    break; /* delay over, or closed: run what we have */
                if (expired(b, r))
                    continue;
                if (!same_signature(b, first, r) || rows + r->batch > mc->max_batch_size) {
                    w->carry = r;
                    break;
                }
                batch[n++] = r;
                rows += r->batch;
            }
        }
        run_batch(w, batch, n, rows);
        avf_srv_lane_end(load);
    }
    return NULL;
}

/* The exec hook of every lane: per-device counters, then the caller's. */
static void lane_exec(void *user, int n, int64_t rows, int exec_batch, uint64_t ns) {
    lane_ctx *x = user;
    const avf_srv_batcher_config *c = &x->b->cfg;
    avf_srv_lane_exec(x->load, n, rows, ns);
    if (c->on_exec)
        c->on_exec(c->exec_user, n, rows, exec_batch, ns);
    if (c->on_lane_exec)
        c->on_lane_exec(c->exec_user, x->load->id, n, rows, exec_batch, ns);
}

int avf_srv_batcher_lanes(const avf_srv_batcher *b) { return b ? b->n_lanes : 0; }

int avf_srv_batcher_idle_workers(avf_srv_batcher *b) {
    if (!b || b->n_lanes == 1)
        return -1;
    int n = 0;
    pthread_mutex_lock(&b->mu);
    for (int l = 0; l < b->n_lanes; l++)
        n += b->idle[l];
    pthread_mutex_unlock(&b->mu);
    return n;
}

avf_status avf_srv_batcher_create(const avf_srv_batcher_config *c, avf_srv_batcher **out) {
    *out = NULL;
    AVF_CHECK_ARG(c && c->run && c->n_lanes >= 0 && c->n_lanes <= AVF_SRV_MAX_LANES);
    AVF_CHECK_ARG(c->n_lanes > 0 || (c->device && c->pool));
    for (int l = 0; l < c->n_lanes; l++)
        AVF_CHECK_ARG(c->lanes[l].device && c->lanes[l].pool);
    AVF_CHECK_ARG(c->n_inputs >= 0 && c->n_inputs <= AVF_SRV_MAX_IO);
    AVF_CHECK_ARG(c->n_outputs >= 0 && c->n_outputs <= AVF_SRV_MAX_IO);
    AVF_CHECK_ARG(c->model.max_batch_size >= 0 && c->model.max_batch_size <= AVF_SRV_MAX_BATCH);
    AVF_CHECK_ARG(c->model.instance_count >= 1 && c->model.instance_count <= AVF_SRV_MAX_INSTANCES);
    AVF_CHECK_ARG(c->model.queue_capacity >= 1 && c->model.queue_capacity <= AVF_SRV_MAX_QUEUE);
    AVF_CHECK_ARG(c->model.priority_levels >= 1 &&
                  c->model.priority_levels <= AVF_SRV_MAX_PRIORITY_LEVELS);
    AVF_CHECK_ARG(c->model.default_priority_level >= 1 &&
                  c->model.default_priority_level <= c->model.priority_levels);
    avf_srv_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "batcher: out of memory");
    b->cfg = *c;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->handoff = -1;
    b->n_lanes = c->n_lanes ? c->n_lanes : 1;
    for (int l = 0; l < b->n_lanes; l++) {
        const avf_srv_batcher_lane *bl = c->n_lanes ? &c->lanes[l] : NULL;
        b->own[l].id = l;
        b->lane_ctx[l].b = b;
        b->lane_ctx[l].load = bl && bl->lane ? bl->lane : &b->own[l];
        avf_srv_batcher_config *lc = &b->lane_cfg[l];
        *lc = b->cfg;
        if (bl) {
            lc->device = bl->device;
            lc->pool = bl->pool;
        }
        lc->on_exec = lane_exec;
        lc->exec_user = &b->lane_ctx[l];
    }
    avf_status st = AVF_OK;
    for (int o = 0; st == AVF_OK && o < c->n_outputs; o++) {
        b->out_names[o] = strdup(c->output_names[o] ? c->output_names[o] : "");
        b->cfg.output_names[o] = b->out_names[o];
        for (int l = 0; l < b->n_lanes; l++)
            b->lane_cfg[l].output_names[o] = b->out_names[o];
        if (!b->out_names[o])
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "batcher: out of memory");
    }
    if (st == AVF_OK)
        st = avf_srv_prio_queue_create((size_t)c->model.queue_capacity,
                                       c->model.priority_levels, &b->queue);
    /* Two idle output buffers per worker: one being filled while the last
     * batch's replies are still on the wire. More in flight are allocated
     * and freed on release. */
    for (int l = 0; st == AVF_OK && l < b->n_lanes; l++)
        st = avf_srv_hostbuf_pool_create(b->lane_cfg[l].device, 2 * c->model.instance_count,
                                         &b->outbufs[l]);
    int total = b->n_lanes * c->model.instance_count;
    if (st == AVF_OK && !(b->workers = calloc((size_t)total, sizeof *b->workers)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "batcher: out of memory");
    for (int i = 0; st == AVF_OK && i < total; i++) {
        worker *w = &b->workers[i];
        w->b = b;
        w->lane = i % b->n_lanes; /* lanes interleaved: each gets its first worker early */
        w->cfg = &b->lane_cfg[w->lane];
        b->n_workers = i + 1;
        st = avf_stream_create(w->cfg->device, &w->stream);
        if (st == AVF_OK && pthread_create(&w->thread, NULL, worker_main, w) != 0)
            st = AVF_FAIL(AVF_ERR_INTERNAL, "batcher: cannot start a worker thread");
        w->started = st == AVF_OK;
    }
    if (st != AVF_OK) {
        avf_srv_batcher_free(b);
        return st;
    }
    *out = b;
    return AVF_OK;
}

avf_status avf_srv_batcher_submit(avf_srv_batcher *b, avf_srv_request *req) {
    AVF_CHECK_ARG(b && req);
    req->t_enqueue_ns = avf_srv_now_ns();
    const avf_srv_model_config *mc = &b->cfg.model;
    int level = req->priority ? req->priority : mc->default_priority_level;
    if (level < 1 || level > mc->priority_levels)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "priority %d outside [1, %d] (0: the default, %d)",
                        req->priority, mc->priority_levels, mc->default_priority_level);
    avf_srv_request_ref(req);
    avf_status st = avf_srv_prio_queue_push(b->queue, req, level - 1);
    if (st == AVF_OK && b->n_lanes > 1) { /* the idle workers of every lane look */
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    if (st != AVF_OK) {
        avf_srv_request_unref(req);
        return st == AVF_ERR_FULL ? AVF_FAIL(AVF_ERR_FULL, "the model's queue is full (%zu "
                                             "requests)", avf_srv_prio_queue_capacity(b->queue))
                                  : AVF_FAIL(AVF_ERR_CLOSED, "the model is unloading");
    }
    return AVF_OK;
}

size_t avf_srv_batcher_queued(avf_srv_batcher *b) { return b ? avf_srv_prio_queue_size(b->queue) : 0; }

void avf_srv_batcher_free(avf_srv_batcher *b) {
    if (!b)
        return;
    if (b->queue)
        avf_srv_prio_queue_close(b->queue);
    pthread_mutex_lock(&b->mu);
    b->closing = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->n_workers; i++) {
        worker *w = &b->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        if (w->carry) /* cannot happen after a drain; finish it rather than leak */
            finish_failed(w->carry, AVF_ERR_CLOSED, "the model is unloading");
        for (int k = 0; k < AVF_SRV_MAX_IO; k++) {
            if (w->in[k].p)
                avf_host_free_pinned(w->cfg->device, w->in[k].p);
        }
        if (w->stream) {
            avf_pool_release_stream(w->cfg->pool, w->stream);
            avf_stream_free(w->stream);
        }
    }
    free(b->workers);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    avf_srv_prio_queue_free(b->queue);
    for (int l = 0; l < AVF_SRV_MAX_LANES; l++) /* buffers of replies in flight live on */
        avf_srv_hostbuf_pool_release(b->outbufs[l]);
    for (int o = 0; o < AVF_SRV_MAX_IO; o++)
        free(b->out_names[o]);
    free(b);
}
