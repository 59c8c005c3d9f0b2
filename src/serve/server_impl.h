/* Internal to src/serve: the server object and one HTTP request's state,
 * shared by the libmicrohttpd plumbing (server.c) and the endpoints
 * (handlers.c). */
#ifndef AVF_SERVE_SERVER_IMPL_H
#define AVF_SERVE_SERVER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <microhttpd.h>

#include "avflow/serve.h"
#include "serve/app.h"
#include "serve/buf.h"
#include "serve/lanes.h"
#include "serve/repo.h"
#include "serve/request.h"
#include "serve/residency.h"

struct avf_server {
    avf_server_options o;
    avf_srv_lanes *lanes;        /* one per device (server_lanes.c) */
    avf_device *dev;             /* lanes->lane[0]'s */
    avf_pool *pool;              /* lanes->lane[0]'s */
    avf_srv_repo *repo;
    avf_srv_residency *res;      /* budget, pins, watermark evictions */
    struct avf_srv_reaper *reaper; /* closes connections epoll missed hanging up */
    struct MHD_Daemon *daemon;
    int port;
    atomic_int draining;
    pthread_mutex_t mu;          /* guards inflight for the drain wait */
    pthread_cond_t idle;
    int inflight;                /* requests between first byte and completion */
    int stopped;
    /* the listen socket MHD_quiesce_daemon handed back: closed only after
     * MHD_stop_daemon, which may still remove it from its epoll set */
    int quiesced_fd, has_quiesced_fd;
    avf_srv_app_queue *apps[AVF_SRV_APP_MAX]; /* filled under mu, then n_apps published */
    atomic_int n_apps;
};

typedef enum conn_phase {
    CONN_RECEIVING = 0,          /* body arriving */
    CONN_QUEUED,                 /* suspended, its request in a batcher */
    CONN_FINISHED,               /* the batcher is done with the request */
} conn_phase;

typedef struct avf_srv_conn {
    avf_server *s;
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    int too_big;
    int replied;                 /* a response is queued already */
    /* Headers the endpoints need, read before routing. */
    const char *header_len;      /* Inference-Header-Content-Length */
    const char *authorization;
    const char *content_encoding;
    avf_srv_request *req;        /* our reference */
    avf_srv_instance *inst;      /* our reference while req is alive */
    avf_server_job *job;         /* an application request: our reference */
    pthread_mutex_t mu;          /* orders suspend (HTTP thread) before resume (worker) */
    conn_phase phase;
    int suspended;
} avf_srv_conn;

typedef struct avf_srv_reply {
    int status;
    char *body;                  /* malloc'd, handed to the response */
    size_t len;
    size_t json_len;             /* > 0: send Inference-Header-Content-Length */
    const char *content_type;
    int retry_after;             /* seconds, for 429 */
    int auth_challenge;          /* 401: WWW-Authenticate: Bearer */
    /* Sent after body without a copy (binary output tensors): they point
     * into hold's outputs, and the response keeps that reference until it
     * has been sent. len counts body only. */
    int n_segs;
    const void *seg[AVF_SRV_MAX_IO];
    size_t seg_len[AVF_SRV_MAX_IO];
    avf_srv_request *hold;
} avf_srv_reply;

/* The server's devices from its options (`devices`, else `device`), each
 * with its pool (cap pool_cap_bytes, watermark -> the residency) and budget,
 * and the residency manager. On failure neither is left. */
avf_status avf_srv_server_lanes(const avf_server_options *o, avf_srv_residency **res,
                                avf_srv_lanes **lanes);

/* Route a complete request. Returns 1 when the request went to a batcher
 * and the connection is suspended (no reply yet), else 0 with *out set. */
int avf_srv_handle(avf_srv_conn *c, const char *method, const char *url, avf_srv_reply *out);
/* The reply of a request the batcher finished. */
void avf_srv_handle_finished(avf_srv_conn *c, avf_srv_reply *out);
/* POST /v1/<path>: queue a job for the app at `path` (app_http.c); same
 * return convention as avf_srv_handle. */
int avf_srv_app_handle(avf_srv_conn *c, const char *method, const char *path,
                       avf_srv_reply *out);
/* The reply of a job its app answered. */
void avf_srv_app_finished(avf_srv_conn *c, avf_srv_reply *out);
/* Per-app counters in the Prometheus text format. */
void avf_srv_apps_metrics(avf_server *s, avf_srv_buf *b);
/* Stop every app queue (after the HTTP daemon stopped). */
void avf_srv_apps_free(avf_server *s);
/* {"error": msg} with `status`. */
void avf_srv_reply_error(avf_srv_reply *out, int status, const char *msg);

#endif
