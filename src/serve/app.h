/* avflow serve: application endpoints (POST /v1/<path>), the internal side
 * of avf_server_add_app (avflow/serve.h).
 *
 * A job is one HTTP request to an application. It is reference-counted like
 * avf_srv_request: the connection holds one reference, the app queue one
 * while the job waits or runs. Its body and query arguments are copied out
 * of libmicrohttpd before it is queued, so worker threads never touch the
 * connection. on_done runs exactly once per queued job, on a worker thread.
 */
#ifndef AVF_SERVE_APP_H
#define AVF_SERVE_APP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "avflow/serve.h"

#define AVF_SRV_APP_MAX 16
#define AVF_SRV_JOB_ARGS 16
#define AVF_SRV_JOB_ARG_MAX 256

struct avf_server_job {
    atomic_int refs;
    void *body;                      /* owned */
    size_t len;
    int n_args;
    char keys[AVF_SRV_JOB_ARGS][AVF_SRV_JOB_ARG_MAX];
    char vals[AVF_SRV_JOB_ARGS][AVF_SRV_JOB_ARG_MAX];
    /* The answer, set by the app through avf_server_job_reply/_fail: */
    int answered;
    int http_status;
    char *reply;                     /* JSON, malloc'd */
    uint64_t t_arrive_ns, t_start_ns, t_end_ns;
    int batch;                       /* jobs in the run_batch call it was in */
    void (*on_done)(avf_server_job *j, void *user);
    void *user;
};

/* A zeroed job with one reference that takes `body` (malloc'd). NULL when
 * out of memory (body is then freed). */
avf_server_job *avf_srv_job_new(void *body, size_t len);
/* Add a query argument; AVF_ERR_INVALID_ARG past the bounds. */
avf_status avf_srv_job_add_arg(avf_server_job *j, const char *key, const char *val);
void avf_srv_job_ref(avf_server_job *j);
void avf_srv_job_unref(avf_server_job *j);

/* One application's queue and workers. */
typedef struct avf_srv_app_queue avf_srv_app_queue;

/* Check the app's bounds and start its workers. */
avf_status avf_srv_app_queue_create(const avf_server_app *app, avf_srv_app_queue **out);
const avf_server_app *avf_srv_app_queue_app(const avf_srv_app_queue *q);
/* Queue a job. On AVF_OK the queue holds a reference and will call
 * on_done; AVF_ERR_FULL (429) or AVF_ERR_CLOSED otherwise, and it holds
 * nothing. Never blocks. */
avf_status avf_srv_app_queue_submit(avf_srv_app_queue *q, avf_server_job *j);
size_t avf_srv_app_queue_waiting(avf_srv_app_queue *q);

typedef struct avf_srv_app_stats {
    uint64_t success, failure;       /* answered 200 / otherwise */
    uint64_t rejected;               /* refused at submit (queue full, closing) */
    uint64_t batches, batched_jobs;  /* run_batch calls and the jobs in them */
    uint64_t queue_us, compute_us, request_us; /* summed over answered jobs */
} avf_srv_app_stats;
void avf_srv_app_queue_stats(avf_srv_app_queue *q, avf_srv_app_stats *out);
/* Stop taking jobs, answer every queued one, join the workers, free. */
void avf_srv_app_queue_free(avf_srv_app_queue *q);

#endif
