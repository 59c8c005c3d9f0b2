/* avflow serve: a KServe v2 (Triton-compatible) HTTP inference server with
 * dynamic batching, embedded in any program.
 *
 * avf_server_create() loads nothing: models in the repository load on their
 * first request. It binds the socket and serves from libmicrohttpd's
 * threads at once; requests that reach a model are queued in its batcher
 * and answered when their batch has run, without holding an HTTP thread.
 * The HTTP surface is described in docs/ARCHITECTURE.md (src/serve).
 */
#ifndef AVFLOW_SERVE_H
#define AVFLOW_SERVE_H

#include <stdint.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_SERVER_MAX_DEVICES 16

typedef struct avf_server_options {
    char model_repository[4096];
    char host[256];             /* IPv4/IPv6 literal or "localhost" */
    int port;                   /* 0: any free port (see avf_server_port) */
    char device[32];            /* "cpu" or "cuda:N": the one device (devices empty) */
    char devices[256];          /* "": `device` alone; else a list ("cuda:0,cuda:1",
                                   "all", "cpu:0,cpu:1"): one lane per device */
    char api_key[256];          /* "": repository control needs no key */
    uint64_t max_body_bytes;    /* larger request bodies get 413 */
    int threads;                /* HTTP threads, [1, 256] */
    /* Residency and reliability (docs/ARCHITECTURE.md, src/serve): */
    uint64_t vram_budget_bytes; /* 0: none; loaded models' weights + plan arenas stay under it
                                   (least recently used idle models are unloaded) */
    int n_device_budgets;       /* 0: vram_budget_bytes on every device; else one
                                   budget per device of `devices`, in order */
    uint64_t device_budget_bytes[AVF_SERVER_MAX_DEVICES];
    uint64_t pool_cap_bytes;    /* 0: none; cap of each device's run pool (out of it: 503) */
    int64_t default_timeout_us; /* deadline of requests whose model sets none; 0: none */
    int n_pins;                 /* models never evicted (--pin NAME), <= 64 */
    char pins[64][128];
} avf_server_options;

typedef struct avf_server avf_server;

/* 127.0.0.1:8000, cpu, no key, 64 MiB bodies, 4 HTTP threads, no repository. */
void avf_server_options_default(avf_server_options *o);
/* Read a JSON options file over *o: keys model_repository, host, port,
 * device, devices, api_key, max_body_bytes, threads, vram_budget_bytes (an
 * integer, or an array: one per device of devices), pool_cap_bytes,
 * default_timeout_us, pin (array of model names). Unknown keys are an
 * error. */
avf_status avf_server_options_load(const char *path, avf_server_options *o);

/* "N": vram_budget_bytes N on every device; "N,N,...": one budget per
 * device of `devices`, in order (n_device_budgets). AVF_ERR_INVALID_ARG for
 * anything else, a budget over 2^50 or more than AVF_SERVER_MAX_DEVICES. */
avf_status avf_server_options_set_budgets(avf_server_options *o, const char *text);

/* Check the options, open the devices and repository, start listening. */
avf_status avf_server_create(const avf_server_options *o, avf_server **out);
/* The port the server listens on. */
int avf_server_port(const avf_server *s);
/* Graceful stop: stop accepting connections, let in-flight requests finish
 * (at most drain_ms; -1 waits for all), then stop every HTTP thread. */
avf_status avf_server_shutdown(avf_server *s, int64_t drain_ms);
/* Shut down (if not yet) without a drain limit, unload every model, free.
 * NULL is ignored. */
void avf_server_free(avf_server *s);


/* ---- Application endpoints: POST /v1/<path> ----
 *
 * An application (src/apps: VAD, OCR, ...) takes a raw request body (an
 * audio file, an image) and answers JSON. The server queues its jobs in a
 * bounded queue (full: 429 with Retry-After); each of `workers` threads
 * takes the first job, waits at most max_delay_us for more, up to
 * max_batch, and hands them to run_batch together, so that one GPU batch
 * serves many concurrent requests. The connection waits suspended: no HTTP
 * thread is held. */
typedef struct avf_server_job avf_server_job;

/* The request body (valid until the job is answered). */
const void *avf_server_job_body(const avf_server_job *j, size_t *len);
/* A URL query argument ("?threshold=0.4"), NULL when absent. At most 16
 * arguments of 255 bytes each are kept; more is a 400 before queueing. */
const char *avf_server_job_arg(const avf_server_job *j, const char *key);
/* Answer 200 with `json` (malloc'd; the job takes it; NULL: 500). */
void avf_server_job_reply(avf_server_job *j, char *json);
/* Answer `http_status` with {"error": msg}. */
void avf_server_job_fail(avf_server_job *j, int http_status, const char *msg);

typedef struct avf_server_app {
    char path[64];          /* "audio/vad" serves POST /v1/audio/vad */
    int max_batch;          /* jobs per run_batch, [1, 256] */
    int64_t max_delay_us;   /* wait for more jobs after the first, [0, 1 s] */
    int queue_capacity;     /* waiting jobs, [1, 65536] */
    int workers;            /* threads calling run_batch, [1, 16] */
    /* Answer every job (reply or fail); a job left unanswered gets a 500.
     * Runs on a worker thread; with workers > 1, concurrently. */
    void (*run_batch)(void *user, int n, avf_server_job *const *jobs);
    void *user;             /* the caller's; must outlive the server */
} avf_server_app;

/* The HTTP status avflow answers for a status: 400 for bad input (invalid,
 * corrupt, unsupported), 404, 429 full, 503 out of memory or closing, 504
 * timeout, 500 otherwise. For apps mapping their per-request failures. */
int avf_server_http_status(avf_status st);

/* Serve an application endpoint from now on (at most 16 per server). */
avf_status avf_server_add_app(avf_server *s, const avf_server_app *app);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_SERVE_H */
