/* avflow serve: per-model counters and histograms, rendered in the
 * Prometheus text format with Triton's metric names (so dashboards built for
 * Triton work), and as the JSON of /api/performance/status.
 *
 *   nv_inference_request_success / _failure     requests (counter)
 *   nv_inference_count                          inferences: batch rows of
 *                                               successful requests
 *   nv_inference_exec_count                     batches the model ran
 *   nv_inference_request_duration_us            arrival to response, summed
 *   nv_inference_queue_duration_us              queued until its batch ran
 *   nv_inference_compute_infer_duration_us      its batch's run, per request
 *   avflow_batch_size                           histogram of padded batches
 *   avflow_request_duration_us                  histogram of request latency
 *
 * The same counters answer Triton's statistics extension (metrics_stats.c).
 * Labels: model, version. One mutex per model; rendering takes a snapshot.
 * Per device (a lane's id, lanes.h), each model also counts its batches,
 * their rows and run time; obs_render.c renders them with a device label.
 */
#ifndef AVF_SERVE_METRICS_H
#define AVF_SERVE_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "serve/buf.h"
#include "serve/lanes.h"
#include "serve/request.h"

#define AVF_SRV_BATCH_BUCKETS 11   /* 1, 2, 4, ..., 1024 */
#define AVF_SRV_LAT_BUCKETS 14

typedef struct avf_srv_metrics_data {
    uint64_t success, failure, inference_count, exec_count;
    uint64_t request_us, queue_us, compute_us;
    /* the successes' share of request_us, queue_us and compute_us (Triton's
     * statistics count successful requests only) */
    uint64_t request_ok_us, queue_ok_us, compute_ok_us;
    uint64_t last_inference_ms; /* wall clock (ms since 1970) of the last success, 0: none */
    uint64_t batch_hist[AVF_SRV_BATCH_BUCKETS + 1]; /* last: +Inf */
    uint64_t batch_compute_us[AVF_SRV_BATCH_BUCKETS + 1]; /* run time of those batches */
    /* the padded size of the bucket's batches: a power of two or the model's
     * max_batch_size (avf_srv_bucket), so one size per bucket up to 1024 */
    int batch_size[AVF_SRV_BATCH_BUCKETS + 1];
    uint64_t batch_sum, batch_n;
    uint64_t lat_hist[AVF_SRV_LAT_BUCKETS + 1];
    uint64_t lat_sum_us, lat_n;
    /* per lane: batches run there, their rows, their run time */
    uint64_t lane_exec[AVF_SRV_MAX_LANES], lane_rows[AVF_SRV_MAX_LANES];
    uint64_t lane_compute_us[AVF_SRV_MAX_LANES];
} avf_srv_metrics_data;

typedef struct avf_srv_metrics {
    pthread_mutex_t mu;
    avf_srv_metrics_data d;
} avf_srv_metrics;

/* Upper bounds of the latency histogram's buckets, microseconds. */
extern const double avf_srv_latency_bounds_us[AVF_SRV_LAT_BUCKETS];

void avf_srv_metrics_init(avf_srv_metrics *m);
void avf_srv_metrics_destroy(avf_srv_metrics *m);
/* A finished request (success or failure), timings from its fields; the
 * request duration ends at `now_ns`. */
void avf_srv_metrics_request(avf_srv_metrics *m, const avf_srv_request *r, uint64_t now_ns);
/* A request that failed before it was queued (bad input, queue full). */
void avf_srv_metrics_failure(avf_srv_metrics *m);
/* One executed batch of padded size exec_batch that ran compute_ns (the
 * batcher's on_exec). */
void avf_srv_metrics_exec(avf_srv_metrics *m, int exec_batch, uint64_t compute_ns);
/* One executed batch on lane `lane` (the batcher's on_lane_exec). */
void avf_srv_metrics_lane_exec(avf_srv_metrics *m, int lane, int64_t rows, uint64_t compute_ns);
void avf_srv_metrics_snapshot(avf_srv_metrics *m, avf_srv_metrics_data *out);

typedef struct avf_srv_metrics_row {
    const char *model;   /* stable: repository entries are never removed */
    char version[24];
    avf_srv_metrics_data d;
} avf_srv_metrics_row;

/* Every family, each with one sample (or histogram) per row. */
void avf_srv_metrics_render(avf_srv_buf *out, const avf_srv_metrics_row *rows, int n);
/* Triton's statistics extension (GET /v2/models[/NAME[/versions/V]]/stats):
 * {"model_stats": [...]} for the rows (metrics_stats.c). */
void avf_srv_metrics_stats_json(avf_srv_buf *out, const avf_srv_metrics_row *rows, int n);

#endif
