/* GET /api/performance/status: one JSON object summarising the server for
 * the dashboard and for scripts. Pure: renders a snapshot.
 *
 *  uptime_s, device
 *  window {seconds, count, throughput_rps, latency_us {p50,p90,p95,p99,mean}}
 *  requests_total, failures_total, cpu_seconds, cpu_seconds_per_request
 *  queue_depth (all models and apps), models_resident, models_evicted
 *  batch {avg, buckets [{le, count}]} over every model
 *  nvml, nvml_reason, gpus [{uuid, name, index, utilization, memory_used_bytes,
 *                            memory_total_bytes, power_watts, decoder_utilization}]
 *  pool {in_use_bytes, reserved_bytes, peak_in_use_bytes, peak_reserved_bytes,
 *        limit_bytes, reuse_rate, fragmentation}
 *  transfers {h2d_bytes, d2h_bytes}
 *  devices [{name, kind, batches_in_flight, exec_count, inference_count,
 *            request_count, compute_us, vram_budget_bytes, resident_bytes,
 *            models_resident, pool {in_use_bytes, reserved_bytes, peak_in_use_bytes,
 *            limit_bytes}}]   one per device the server drives
 *  model_stats [...]   per model (unchanged from before: name, version, state,
 *                      counts and averages) plus queue_depth
 *  apps [{path, success, failure, rejected, queue_depth, avg_request_us}]
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "serve/obs.h"

static const char *state_name(avf_srv_state s) {
    return s == AVF_SRV_READY ? "READY" : s == AVF_SRV_LOADING ? "LOADING" : "UNAVAILABLE";
}

static json_t *jnum_u(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *gpus(const avf_srv_obs_snapshot *s) {
    json_t *a = json_array();
    for (int i = 0; i < s->n_gpus; i++) {
        const avf_srv_gpu_sample *g = &s->gpus[i];
        json_t *o = json_pack("{s:s,s:s,s:i}", "uuid", g->uuid, "name", g->name, "index",
                              g->index);
        if (!o)
            continue; /* a UUID that is not UTF-8 */
        json_object_set_new(o, "utilization", g->has_util ? json_real(g->util) : json_null());
        json_object_set_new(o, "memory_used_bytes",
                            g->has_mem ? jnum_u(g->mem_used_bytes) : json_null());
        json_object_set_new(o, "memory_total_bytes",
                            g->has_mem ? jnum_u(g->mem_total_bytes) : json_null());
        json_object_set_new(o, "power_watts",
                            g->has_power ? json_real(g->power_watts) : json_null());
        json_object_set_new(o, "decoder_utilization",
                            g->has_dec ? json_real(g->dec_util) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *models(const avf_srv_obs_snapshot *s, uint64_t *queued, int *resident,
                      uint64_t *batch_hist, uint64_t *batch_sum, uint64_t *batch_n) {
    json_t *a = json_array();
    for (int i = 0; i < s->n_models; i++) {
        const avf_srv_obs_model *m = &s->models[i];
        const avf_srv_metrics_data *d = &m->m.d;
        uint64_t reqs = d->success + d->failure;
        *queued += m->queued;
        *resident += m->state == AVF_SRV_READY;
        for (int k = 0; k <= AVF_SRV_BATCH_BUCKETS; k++)
            batch_hist[k] += d->batch_hist[k];
        *batch_sum += d->batch_sum;
        *batch_n += d->batch_n;
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:I}", "name",
                         m->m.model, "version", m->m.version, "state", state_name(m->state),
                         "request_success", (json_int_t)d->success, "request_failure",
                         (json_int_t)d->failure, "inference_count",
                         (json_int_t)d->inference_count, "execution_count",
                         (json_int_t)d->exec_count, "avg_batch_size",
                         d->batch_n ? (double)d->batch_sum / (double)d->batch_n : 0.0,
                         "avg_request_us", reqs ? (double)d->request_us / (double)reqs : 0.0,
                         "avg_queue_us",
                         d->success ? (double)d->queue_us / (double)d->success : 0.0,
                         "avg_compute_us",
                         d->success ? (double)d->compute_us / (double)d->success : 0.0,
                         "queue_depth", (json_int_t)m->queued));
    }
    return a;
}

static json_t *apps(const avf_srv_obs_snapshot *s, uint64_t *queued) {
    json_t *a = json_array();
    for (int i = 0; i < s->n_apps; i++) {
        const avf_srv_obs_app *p = &s->apps[i];
        uint64_t answered = p->st.success + p->st.failure;
        *queued += p->queued;
        json_array_append_new(
            a, json_pack("{s:s,s:I,s:I,s:I,s:I,s:f}", "path", p->path, "success",
                         (json_int_t)p->st.success, "failure", (json_int_t)p->st.failure,
                         "rejected", (json_int_t)p->st.rejected, "queue_depth",
                         (json_int_t)p->queued, "avg_request_us",
                         answered ? (double)p->st.request_us / (double)answered : 0.0));
    }
    return a;
}

static json_t *devices(const avf_srv_obs_snapshot *s) {
    json_t *a = json_array();
    for (int l = 0; a && l < s->n_devices; l++) {
        const avf_srv_lane_stats *d = &s->devices[l];
        json_t *pool = d->has_pool
                           ? json_pack("{s:I,s:I,s:I,s:I}", "in_use_bytes",
                                       (json_int_t)d->pool.in_use_bytes, "reserved_bytes",
                                       (json_int_t)d->pool.reserved_bytes, "peak_in_use_bytes",
                                       (json_int_t)d->pool.peak_in_use_bytes, "limit_bytes",
                                       (json_int_t)d->pool.limit_bytes)
                           : json_null();
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:o}", "name", d->name,
                         "kind", d->kind == AVF_DEVICE_CUDA ? "cuda" : "cpu", "batches_in_flight",
                         d->inflight, "exec_count", (json_int_t)d->exec_count,
                         "inference_count", (json_int_t)d->inference_count, "request_count",
                         (json_int_t)d->request_count, "compute_us", (json_int_t)d->compute_us,
                         "vram_budget_bytes", (json_int_t)d->budget_bytes, "resident_bytes",
                         (json_int_t)d->resident_bytes, "models_resident", d->models_resident,
                         "pool", pool));
    }
    return a;
}

void avf_srv_obs_render_status(const avf_srv_obs_snapshot *s, avf_srv_buf *out) {
    uint64_t queued = 0, bh[AVF_SRV_BATCH_BUCKETS + 1] = {0}, bsum = 0, bn = 0;
    int resident = 0;
    json_t *ms = models(s, &queued, &resident, bh, &bsum, &bn);
    json_t *as = apps(s, &queued);
    json_t *buckets = json_array();
    for (int k = 0; k <= AVF_SRV_BATCH_BUCKETS; k++) {
        json_t *le = k == AVF_SRV_BATCH_BUCKETS ? json_string("+Inf") : json_integer(1 << k);
        json_array_append_new(buckets, json_pack("{s:o,s:I}", "le", le, "count",
                                                 (json_int_t)bh[k]));
    }
    const avf_srv_obs_window *w = &s->window;
    json_t *pool = json_null();
    if (s->has_pool)
        pool = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "in_use_bytes",
                         (json_int_t)s->pool.in_use_bytes, "reserved_bytes",
                         (json_int_t)s->pool.reserved_bytes, "peak_in_use_bytes",
                         (json_int_t)s->pool.peak_in_use_bytes, "peak_reserved_bytes",
                         (json_int_t)s->pool.peak_reserved_bytes, "limit_bytes",
                         (json_int_t)s->pool.limit_bytes, "reuse_rate", s->pool.reuse_rate,
                         "fragmentation", s->pool.fragmentation);
    json_t *j = json_pack(
        "{s:f,s:s,s:{s:f,s:I,s:f,s:{s:f,s:f,s:f,s:f,s:f}},s:I,s:I,s:f,s:f,s:I,s:i,s:I,"
        "s:{s:f,s:o},s:b,s:s,s:o,s:o,s:{s:I,s:I},s:o,s:o,s:o}",
        "uptime_s", s->uptime_s, "device", s->device, "window", "seconds", w->seconds,
        "count", (json_int_t)w->count, "throughput_rps", w->throughput_rps, "latency_us",
        "p50", w->p50_us, "p90", w->p90_us, "p95", w->p95_us, "p99", w->p99_us, "mean",
        w->mean_us, "requests_total", (json_int_t)s->requests, "failures_total",
        (json_int_t)s->failures, "cpu_seconds", s->cpu_seconds, "cpu_seconds_per_request",
        s->requests ? s->cpu_seconds / (double)s->requests : 0.0, "queue_depth",
        (json_int_t)queued, "models_resident", resident, "models_evicted",
        (json_int_t)s->evicted, "batch", "avg", bn ? (double)bsum / (double)bn : 0.0,
        "buckets", buckets, "nvml", s->nvml, "nvml_reason", s->nvml_reason, "gpus", gpus(s),
        "pool", pool, "transfers", "h2d_bytes", (json_int_t)s->xfer_bytes[0], "d2h_bytes",
        (json_int_t)s->xfer_bytes[1], "model_stats", ms, "apps", as, "devices", devices(s));
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!text) {
        out->failed = 1;
        return;
    }
    avf_srv_buf_printf(out, "%s", text);
    free(text);
}
