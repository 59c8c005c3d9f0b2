/* The queue and workers of one application endpoint: jobs are gathered
 * into batches (the first job, then whatever arrives within max_delay_us,
 * up to max_batch) and handed to the app's run_batch together. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/queue.h"
#include "core/error.h"
#include "core/thread_name.h"
#include "serve/app.h"
#include "serve/bodies.h"
#include "serve/infer_json.h"
#include "serve/obs.h"
#include "serve/request.h"

#define MAX_WORKERS 16

struct avf_srv_app_queue {
    avf_server_app app;
    avf_queue *queue;
    int n_workers;
    pthread_t workers[MAX_WORKERS];
    pthread_mutex_t mu;              /* guards stats */
    avf_srv_app_stats stats;
    atomic_ullong rejected;
};

avf_server_job *avf_srv_job_new(void *body, size_t len) {
    avf_server_job *j = calloc(1, sizeof *j);
    if (!j) {
        avf_srv_body_free(body);
        return NULL;
    }
    atomic_init(&j->refs, 1);
    j->body = body;
    j->len = len;
    j->t_arrive_ns = avf_srv_now_ns();
    return j;
}

avf_status avf_srv_job_add_arg(avf_server_job *j, const char *key, const char *val) {
    if (!val)
        val = "";
    if (j->n_args == AVF_SRV_JOB_ARGS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "more than %d query arguments", AVF_SRV_JOB_ARGS);
    if (strlen(key) >= AVF_SRV_JOB_ARG_MAX || strlen(val) >= AVF_SRV_JOB_ARG_MAX)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "a query argument over %d bytes",
                        AVF_SRV_JOB_ARG_MAX - 1);
    memcpy(j->keys[j->n_args], key, strlen(key) + 1);
    memcpy(j->vals[j->n_args], val, strlen(val) + 1);
    j->n_args++;
    return AVF_OK;
}

void avf_srv_job_ref(avf_server_job *j) { atomic_fetch_add(&j->refs, 1); }

void avf_srv_job_unref(avf_server_job *j) {
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    avf_srv_body_free(j->body);
    free(j->reply);
    free(j);
}

const void *avf_server_job_body(const avf_server_job *j, size_t *len) {
    if (len)
        *len = j ? j->len : 0;
    return j ? j->body : NULL;
}

const char *avf_server_job_arg(const avf_server_job *j, const char *key) {
    if (!j || !key)
        return NULL;
    for (int i = 0; i < j->n_args; i++)
        if (strcmp(j->keys[i], key) == 0)
            return j->vals[i];
    return NULL;
}

void avf_server_job_reply(avf_server_job *j, char *json) {
    if (!j) {
        free(json);
        return;
    }
    if (j->answered) { /* the first answer stands */
        free(json);
        return;
    }
    j->answered = 1;
    j->http_status = json ? 200 : 500;
    j->reply = json;
}

void avf_server_job_fail(avf_server_job *j, int http_status, const char *msg) {
    if (!j || j->answered)
        return;
    j->answered = 1;
    j->http_status = http_status >= 400 && http_status <= 599 ? http_status : 500;
    j->reply = avf_srv_error_json(msg ? msg : "failed");
}

static void finish(avf_srv_app_queue *q, avf_server_job *j) {
    if (!j->answered)
        avf_server_job_fail(j, 500, "the application did not answer");
    j->t_end_ns = avf_srv_now_ns();
    pthread_mutex_lock(&q->mu);
    if (j->http_status == 200)
        q->stats.success++;
    else
        q->stats.failure++;
    q->stats.queue_us += (j->t_start_ns - j->t_arrive_ns) / 1000u;
    q->stats.compute_us += (j->t_end_ns - j->t_start_ns) / 1000u;
    q->stats.request_us += (j->t_end_ns - j->t_arrive_ns) / 1000u;
    pthread_mutex_unlock(&q->mu);
    avf_srv_obs_app_request(q->app.path, (j->t_end_ns - j->t_arrive_ns) / 1000u, j->http_status);
    if (j->on_done)
        j->on_done(j, j->user);
    avf_srv_job_unref(j);
}

static void *worker_main(void *arg) {
    avf_srv_app_queue *q = arg;
    avf_thread_set_name("avf-app");
    int cap = q->app.max_batch;
    avf_server_job **batch = calloc((size_t)cap, sizeof *batch);
    for (;;) {
        void *item;
        if (avf_queue_pop(q->queue, &item, -1) != AVF_OK)
            break; /* closed and drained */
        if (!batch) { /* no memory for a batch: run one by one */
            avf_server_job *j = item;
            j->t_start_ns = avf_srv_now_ns();
            j->batch = 1;
            q->app.run_batch(q->app.user, 1, &j);
            finish(q, j);
            continue;
        }
        int n = 0;
        batch[n++] = item;
        uint64_t until = avf_srv_now_ns() + (uint64_t)q->app.max_delay_us * 1000u;
        while (n < cap) {
            uint64_t now = avf_srv_now_ns();
            int64_t wait_us = now < until ? (int64_t)((until - now) / 1000u) : 0;
            if (avf_queue_pop(q->queue, &item, wait_us) != AVF_OK)
                break;
            batch[n++] = item;
        }
        uint64_t t0 = avf_srv_now_ns();
        for (int i = 0; i < n; i++) {
            batch[i]->t_start_ns = t0;
            batch[i]->batch = n;
        }
        q->app.run_batch(q->app.user, n, batch);
        pthread_mutex_lock(&q->mu);
        q->stats.batches++;
        q->stats.batched_jobs += (uint64_t)n;
        pthread_mutex_unlock(&q->mu);
        for (int i = 0; i < n; i++)
            finish(q, batch[i]);
    }
    free(batch);
    return NULL;
}

avf_status avf_srv_app_queue_create(const avf_server_app *app, avf_srv_app_queue **out) {
    *out = NULL;
    AVF_CHECK_ARG(app && app->run_batch);
    if (!app->path[0] || memchr(app->path, '\0', sizeof app->path) == NULL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "app: path must be a non-empty string");
    if (app->max_batch < 1 || app->max_batch > 256 || app->max_delay_us < 0 ||
        app->max_delay_us > 1000000 || app->queue_capacity < 1 ||
        app->queue_capacity > 65536 || app->workers < 1 || app->workers > MAX_WORKERS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "app %s: max_batch [1,256], max_delay_us [0,1e6], queue_capacity "
                        "[1,65536], workers [1,%d]",
                        app->path, MAX_WORKERS);
    avf_srv_app_queue *q = calloc(1, sizeof *q);
    if (!q)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "app %s: out of memory", app->path);
    q->app = *app;
    pthread_mutex_init(&q->mu, NULL);
    avf_status st = avf_queue_create((size_t)app->queue_capacity, &q->queue);
    for (int i = 0; st == AVF_OK && i < app->workers; i++) {
        if (pthread_create(&q->workers[i], NULL, worker_main, q) != 0)
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "app %s: cannot start a worker", app->path);
        else
            q->n_workers++;
    }
    if (st != AVF_OK) {
        avf_srv_app_queue_free(q);
        return st;
    }
    *out = q;
    return AVF_OK;
}

const avf_server_app *avf_srv_app_queue_app(const avf_srv_app_queue *q) { return &q->app; }

avf_status avf_srv_app_queue_submit(avf_srv_app_queue *q, avf_server_job *j) {
    avf_srv_job_ref(j);
    avf_status st = avf_queue_push(q->queue, j, 0);
    if (st != AVF_OK) {
        avf_srv_job_unref(j);
        atomic_fetch_add(&q->rejected, 1);
        return st == AVF_ERR_FULL
                   ? AVF_FAIL(AVF_ERR_FULL, "%s: queue full (%d waiting)", q->app.path,
                              q->app.queue_capacity)
                   : AVF_FAIL(AVF_ERR_CLOSED, "%s: shutting down", q->app.path);
    }
    return AVF_OK;
}

void avf_srv_app_queue_stats(avf_srv_app_queue *q, avf_srv_app_stats *out) {
    pthread_mutex_lock(&q->mu);
    *out = q->stats;
    pthread_mutex_unlock(&q->mu);
    out->rejected = atomic_load(&q->rejected);
}

size_t avf_srv_app_queue_waiting(avf_srv_app_queue *q) { return avf_queue_size(q->queue); }

void avf_srv_app_queue_free(avf_srv_app_queue *q) {
    if (!q)
        return;
    if (q->queue)
        avf_queue_close(q->queue);
    for (int i = 0; i < q->n_workers; i++)
        pthread_join(q->workers[i], NULL);
    avf_queue_free(q->queue);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
