/* avflow serve: observability beyond the per-model counters of metrics.h.
 *
 * Two halves:
 *  - process-wide recorders (this file's avf_srv_obs_* record functions):
 *    every finished request (model or app) for the rolling throughput and
 *    latency window and the CPU-seconds-per-request figure, per-path
 *    latency histograms of application endpoints, and model evictions (the
 *    residency manager calls avf_srv_obs_model_evicted). Process-wide like
 *    the transfer ledger: a process normally runs one server; lock-light
 *    (one mutex, held for a few stores).
 *  - a snapshot (avf_srv_obs_snapshot) of everything /metrics and
 *    /api/performance/status report, gathered by obs_collect.c from a
 *    server, and rendered by pure functions (obs_render.c, obs_status.c)
 *    that the unit tests call on hand-made snapshots.
 */
#ifndef AVF_SERVE_OBS_H
#define AVF_SERVE_OBS_H

#include <stdint.h>

#include "avflow/pool.h"
#include "serve/app.h"
#include "serve/buf.h"
#include "serve/lanes.h"
#include "serve/metrics.h"
#include "serve/nvml.h"
#include "serve/repo.h"

/* Completions kept for the rolling window (throughput, percentiles). */
#define AVF_SRV_OBS_RING 65536
#define AVF_SRV_OBS_WINDOW_S 10
#define AVF_SRV_OBS_PATHS 32

/* ---- recorders (thread-safe) ---- */

/* A finished request: latency from arrival to answer, ok = answered 200. */
void avf_srv_obs_request(uint64_t latency_us, int ok);
/* A finished application request on /v1/<path>. Also counts as a request. */
void avf_srv_obs_app_request(const char *path, uint64_t latency_us, int http_status);
/* A model the residency manager unloaded to make room. */
void avf_srv_obs_model_evicted(const char *model);
/* Forget everything recorded (tests). */
void avf_srv_obs_reset(void);

/* ---- snapshot ---- */

typedef struct avf_srv_obs_path {
    char path[64];
    uint64_t ok, failed;
    uint64_t lat_hist[AVF_SRV_LAT_BUCKETS + 1];  /* bounds: avf_srv_latency_bounds_us */
    uint64_t lat_sum_us;
} avf_srv_obs_path;

typedef avf_srv_repo_row avf_srv_obs_model;  /* metrics row, state, queued */

typedef struct avf_srv_obs_app {
    char path[64];
    avf_srv_app_stats st;
    uint64_t queued;
} avf_srv_obs_app;

typedef struct avf_srv_obs_window {
    double seconds;               /* span the figures cover (<= AVF_SRV_OBS_WINDOW_S) */
    uint64_t count;               /* successful completions in it */
    double throughput_rps;
    double p50_us, p90_us, p95_us, p99_us, mean_us;
} avf_srv_obs_window;

typedef struct avf_srv_obs_snapshot {
    double uptime_s;
    char device[32];
    int nvml;                     /* NVML loaded */
    char nvml_reason[256];
    int n_gpus;
    avf_srv_gpu_sample gpus[AVF_SRV_NVML_MAX_GPUS];
    int has_pool;
    avf_pool_stats pool;          /* the first device's */
    int n_devices;                /* the server's lanes (0 in hand-made snapshots) */
    avf_srv_lane_stats devices[AVF_SRV_MAX_LANES];
    uint64_t xfer_bytes[4], xfer_copies[4];   /* avf_copy_kind order: h2d, d2h, d2d, h2h */
    double cpu_seconds;           /* process user + system (getrusage) */
    uint64_t requests, failures;  /* every finished request since start */
    uint64_t evicted;
    avf_srv_obs_window window;
    int n_paths;
    avf_srv_obs_path paths[AVF_SRV_OBS_PATHS];
    int n_models;                 /* entries of models (caller-allocated, cap models_cap) */
    int models_cap;
    avf_srv_obs_model *models;
    int n_apps;
    avf_srv_obs_app apps[AVF_SRV_APP_MAX];
} avf_srv_obs_snapshot;

/* Fill the recorder half (uptime, cpu, requests, evicted, window, paths)
 * at time `now_ns` (avf_srv_now_ns clock). */
void avf_srv_obs_snapshot_recorders(avf_srv_obs_snapshot *s, uint64_t now_ns);
/* Percentile `p` in [0, 1] of n sorted values (linear between ranks); 0 when n is 0. */
double avf_srv_obs_percentile(const double *sorted, uint64_t n, double p);

/* Prometheus text of everything in the snapshot that metrics.c does not
 * already render (GPU, pool, transfers, CPU, residency, queues, paths). */
void avf_srv_obs_render_metrics(const avf_srv_obs_snapshot *s, avf_srv_buf *out);
/* The JSON of GET /api/performance/status (see docs/ARCHITECTURE.md). */
void avf_srv_obs_render_status(const avf_srv_obs_snapshot *s, avf_srv_buf *out);

/* ---- the server's side (obs_collect.c) ---- */

struct avf_server;
/* Snapshot a running server: allocates s->models (free with
 * avf_srv_obs_snapshot_free). On out of memory the model list is empty. */
void avf_srv_obs_collect(struct avf_server *srv, avf_srv_obs_snapshot *s);
void avf_srv_obs_snapshot_free(avf_srv_obs_snapshot *s);
/* The /metrics additions and the status body for `srv`, appended to out. */
void avf_srv_obs_metrics(struct avf_server *srv, avf_srv_buf *out);
void avf_srv_obs_status(struct avf_server *srv, avf_srv_buf *out);
/* The reply of GET /: the dashboard page (dashboard.c; the HTML is
 * src/serve/dashboard.html, embedded at build time). */
struct avf_srv_reply;
void avf_srv_obs_dashboard(struct avf_srv_reply *out);

#endif
