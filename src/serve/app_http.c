/* POST /v1/<path>: the HTTP side of application endpoints. A request's body
 * and query arguments become a job in the app's queue and the connection is
 * suspended until a worker has answered it, like inference requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "serve/app.h"
#include "serve/server_impl.h"

avf_status avf_server_add_app(avf_server *s, const avf_server_app *app) {
    AVF_CHECK_ARG(s && app);
    pthread_mutex_lock(&s->mu);
    int n = atomic_load(&s->n_apps);
    avf_status st = AVF_OK;
    for (int i = 0; i < n && st == AVF_OK; i++)
        if (strcmp(avf_srv_app_queue_app(s->apps[i])->path, app->path) == 0)
            st = AVF_FAIL(AVF_ERR_INVALID_ARG, "app /v1/%s is served already", app->path);
    if (st == AVF_OK && n == AVF_SRV_APP_MAX)
        st = AVF_FAIL(AVF_ERR_FULL, "more than %d apps", AVF_SRV_APP_MAX);
    if (st == AVF_OK)
        st = avf_srv_app_queue_create(app, &s->apps[n]);
    if (st == AVF_OK) /* published after the slot is filled: routing reads without the lock */
        atomic_store(&s->n_apps, n + 1);
    pthread_mutex_unlock(&s->mu);
    return st;
}

int avf_server_http_status(avf_status st) { return avf_srv_http_status(st); }

void avf_srv_apps_free(avf_server *s) {
    int n = atomic_load(&s->n_apps);
    for (int i = 0; i < n; i++)
        avf_srv_app_queue_free(s->apps[i]);
    atomic_store(&s->n_apps, 0);
}

static void on_done(avf_server_job *j, void *user) {
    (void)j;
    avf_srv_conn *c = user;
    pthread_mutex_lock(&c->mu);
    c->phase = CONN_FINISHED;
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->mu);
}

typedef struct arg_ctx {
    avf_server_job *job;
    avf_status st;
} arg_ctx;

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value) {
    (void)kind;
    arg_ctx *a = cls;
    if (a->st == AVF_OK)
        a->st = avf_srv_job_add_arg(a->job, key, value);
    return a->st == AVF_OK ? MHD_YES : MHD_NO;
}

int avf_srv_app_handle(avf_srv_conn *c, const char *method, const char *path,
                       avf_srv_reply *out) {
    avf_server *s = c->s;
    avf_srv_app_queue *q = NULL;
    int n = atomic_load(&s->n_apps);
    for (int i = 0; i < n && !q; i++)
        if (strcmp(avf_srv_app_queue_app(s->apps[i])->path, path) == 0)
            q = s->apps[i];
    if (!q) {
        char msg[160];
        snprintf(msg, sizeof msg, "no application at /v1/%.64s (this server has %d)", path, n);
        avf_srv_reply_error(out, 404, msg);
        return 0;
    }
    if (strcmp(method, "POST") != 0) {
        avf_srv_reply_error(out, 405, "application endpoints take POST with the input as body");
        return 0;
    }
    if (c->len == 0) {
        avf_srv_reply_error(out, 400, "empty request body: send the audio or image file");
        return 0;
    }
    avf_server_job *j = avf_srv_job_new(c->body, c->len);
    c->body = NULL;
    c->len = c->cap = 0;
    if (!j) {
        avf_srv_reply_error(out, 503, "out of memory");
        return 0;
    }
    c->job = j;
    arg_ctx a = {j, AVF_OK};
    MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, copy_arg, &a);
    if (a.st != AVF_OK) {
        avf_srv_reply_error(out, 400, avf_srv_strip_location(avf_last_error()));
        return 0;
    }
    j->on_done = on_done;
    j->user = c;
    pthread_mutex_lock(&c->mu);
    avf_status st = avf_srv_app_queue_submit(q, j);
    if (st == AVF_OK) { /* on_done needs mu: it cannot resume before this suspend */
        c->phase = CONN_QUEUED;
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&c->mu);
    if (st != AVF_OK) {
        avf_srv_reply_error(out, avf_srv_http_status(st), avf_srv_strip_location(avf_last_error()));
        return 0;
    }
    return 1;
}

void avf_srv_app_finished(avf_srv_conn *c, avf_srv_reply *out) {
    avf_server_job *j = c->job;
    pthread_mutex_lock(&c->mu); /* the worker's resume has returned */
    pthread_mutex_unlock(&c->mu);
    memset(out, 0, sizeof *out);
    out->status = j->http_status;
    out->body = j->reply; /* the response frees it */
    out->len = j->reply ? strlen(j->reply) : 0;
    out->content_type = "application/json";
    if (out->status == 429)
        out->retry_after = 1;
    j->reply = NULL;
}

void avf_srv_apps_metrics(avf_server *s, avf_srv_buf *b) {
    int n = atomic_load(&s->n_apps);
    if (n == 0)
        return;
    static const struct {
        const char *name, *help;
        size_t off;
    } fam[] = {
        {"avflow_app_request_success", "Application requests answered 200",
         offsetof(avf_srv_app_stats, success)},
        {"avflow_app_request_failure", "Application requests answered with an error",
         offsetof(avf_srv_app_stats, failure)},
        {"avflow_app_request_rejected", "Application requests refused at the queue (429)",
         offsetof(avf_srv_app_stats, rejected)},
        {"avflow_app_exec_count", "Application batches run", offsetof(avf_srv_app_stats, batches)},
        {"avflow_app_batched_requests", "Requests in those batches",
         offsetof(avf_srv_app_stats, batched_jobs)},
        {"avflow_app_queue_duration_us", "Queue time, summed",
         offsetof(avf_srv_app_stats, queue_us)},
        {"avflow_app_compute_duration_us", "Batch run time per request, summed",
         offsetof(avf_srv_app_stats, compute_us)},
        {"avflow_app_request_duration_us", "Arrival to answer, summed",
         offsetof(avf_srv_app_stats, request_us)},
    };
    avf_srv_app_stats st[AVF_SRV_APP_MAX];
    for (int i = 0; i < n; i++)
        avf_srv_app_queue_stats(s->apps[i], &st[i]);
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        avf_srv_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help,
                           fam[f].name);
        for (int i = 0; i < n; i++) {
            uint64_t v = *(const uint64_t *)((const char *)&st[i] + fam[f].off);
            avf_srv_buf_printf(b, "%s{app=\"%s\"} %llu\n", fam[f].name,
                               avf_srv_app_queue_app(s->apps[i])->path, (unsigned long long)v);
        }
    }
    for (int i = 0; i < n; i++)
        avf_srv_buf_printf(b, "avflow_app_queue_depth{app=\"%s\"} %zu\n",
                           avf_srv_app_queue_app(s->apps[i])->path,
                           avf_srv_app_queue_waiting(s->apps[i]));
}
