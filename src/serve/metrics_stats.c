/* Triton's statistics extension from the per-model counters of metrics.c:
 *
 *   {"model_stats": [{"name", "version", "last_inference" (ms since 1970),
 *     "inference_count", "execution_count",
 *     "inference_stats": {"success", "fail", "queue", "compute_input",
 *                         "compute_infer", "compute_output", "cache_hit",
 *                         "cache_miss"}: each {"count", "ns"},
 *     "batch_stats": [{"batch_size", "compute_input", "compute_infer",
 *                      "compute_output"}]}]}
 *
 * perf_analyzer reads these between its measurement windows to split the
 * server's latency. avflow times a batch as one span, from its start on the
 * device to its outputs being back (the copies in and out are inside it), so
 * compute_infer holds all of it and compute_input / compute_output count the
 * same requests with 0 ns; there is no response cache (cache_* are 0).
 * Durations are kept in microseconds and given here in ns. */
#include <stdio.h>

#include "serve/metrics.h"

static void pair(avf_srv_buf *o, const char *name, uint64_t count, uint64_t us, int comma) {
    avf_srv_buf_printf(o, "%s\"%s\":{\"count\":%llu,\"ns\":%llu}", comma ? "," : "", name,
                       (unsigned long long)count, (unsigned long long)us * 1000ull);
}

void avf_srv_metrics_stats_json(avf_srv_buf *o, const avf_srv_metrics_row *rows, int n) {
    avf_srv_buf_printf(o, "{\"model_stats\":[");
    for (int i = 0; i < n; i++) {
        const avf_srv_metrics_data *d = &rows[i].d;
        avf_srv_buf_printf(o,
                           "%s{\"name\":\"%s\",\"version\":\"%s\",\"last_inference\":%llu,"
                           "\"inference_count\":%llu,\"execution_count\":%llu,"
                           "\"inference_stats\":{",
                           i ? "," : "", rows[i].model, rows[i].version,
                           (unsigned long long)d->last_inference_ms,
                           (unsigned long long)d->inference_count,
                           (unsigned long long)d->exec_count);
        pair(o, "success", d->success, d->request_ok_us, 0);
        pair(o, "fail", d->failure, d->request_us - d->request_ok_us, 1);
        pair(o, "queue", d->success, d->queue_ok_us, 1);
        pair(o, "compute_input", d->success, 0, 1);
        pair(o, "compute_infer", d->success, d->compute_ok_us, 1);
        pair(o, "compute_output", d->success, 0, 1);
        pair(o, "cache_hit", 0, 0, 1);
        pair(o, "cache_miss", 0, 0, 1);
        avf_srv_buf_printf(o, "},\"batch_stats\":[");
        int first = 1;
        /* the padded batch sizes that ran (the last bucket, past 1024,
         * may hold several sizes and is left out) */
        for (int k = 0; k < AVF_SRV_BATCH_BUCKETS; k++) {
            if (!d->batch_hist[k])
                continue;
            avf_srv_buf_printf(o, "%s{\"batch_size\":%d,", first ? "" : ",", d->batch_size[k]);
            pair(o, "compute_input", d->batch_hist[k], 0, 0);
            pair(o, "compute_infer", d->batch_hist[k], d->batch_compute_us[k], 1);
            pair(o, "compute_output", d->batch_hist[k], 0, 1);
            avf_srv_buf_printf(o, "}");
            first = 0;
        }
        avf_srv_buf_printf(o, "]}");
    }
    avf_srv_buf_printf(o, "]}");
}
