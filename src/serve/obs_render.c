/* /metrics additions, in the Prometheus text format: Triton's GPU series
 * (nv_gpu_*, label gpu_uuid), then avflow's own (avflow_*), and the
 * standard process_cpu_seconds_total. Pure: renders a snapshot. */
#include <stdio.h>
#include <string.h>

#include "serve/obs.h"

static const char *const DIRECTION[4] = {"h2d", "d2h", "d2d", "h2h"};

/* A label value as Prometheus wants it: \ " and newline escaped. NVML
 * strings come from the driver, so they are escaped, never trusted. */
static void escape(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (; *in && o + 3 < cap; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void head(avf_srv_buf *o, const char *name, const char *type, const char *help) {
    avf_srv_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef enum gpu_field { GPU_UTIL, GPU_USED, GPU_TOTAL, GPU_POWER, GPU_DEC } gpu_field;

static void gpu_family(avf_srv_buf *o, const avf_srv_obs_snapshot *s, const char *name,
                       const char *help, gpu_field f) {
    head(o, name, "gauge", help);
    for (int i = 0; i < s->n_gpus; i++) {
        const avf_srv_gpu_sample *g = &s->gpus[i];
        char uuid[200];
        escape(g->uuid, uuid, sizeof uuid);
        int has = f == GPU_UTIL ? g->has_util
                  : f == GPU_DEC ? g->has_dec
                  : f == GPU_POWER ? g->has_power
                                   : g->has_mem;
        if (!has)
            continue;
        if (f == GPU_USED || f == GPU_TOTAL)
            avf_srv_buf_printf(o, "%s{gpu_uuid=\"%s\"} %llu\n", name, uuid,
                               (unsigned long long)(f == GPU_USED ? g->mem_used_bytes
                                                                  : g->mem_total_bytes));
        else
            avf_srv_buf_printf(o, "%s{gpu_uuid=\"%s\"} %.6g\n", name, uuid,
                               f == GPU_UTIL ? g->util : f == GPU_DEC ? g->dec_util
                                                                      : g->power_watts);
    }
}

/* The pools: one row per device (the snapshot's own pool and device name
 * in hand-made snapshots and with one device, as before lanes). */
typedef enum pool_field {
    P_IN_USE, P_RESERVED, P_PEAK_IN_USE, P_PEAK_RESERVED, P_LIMIT, P_REUSE, P_FRAG, P_ALLOCS,
    P_DRIVER, P_COUNT
} pool_field;

static const struct {
    const char *name, *type, *help;
} POOL_FAMILY[P_COUNT] = {
    {"avflow_pool_bytes_in_use", "gauge", "Device pool bytes in live blocks"},
    {"avflow_pool_bytes_reserved", "gauge", "Device pool bytes held from the driver"},
    {"avflow_pool_bytes_peak_in_use", "gauge", "Peak device pool bytes in use"},
    {"avflow_pool_bytes_peak_reserved", "gauge", "Peak device pool bytes reserved"},
    {"avflow_pool_bytes_limit", "gauge", "Device pool cap (device memory if none)"},
    {"avflow_pool_reuse_rate", "gauge", "Fraction of pool allocations served without a driver call"},
    {"avflow_pool_fragmentation", "gauge", "1 - largest cached free block / cached free bytes"},
    {"avflow_pool_allocations_total", "counter", "Successful pool allocations"},
    {"avflow_pool_driver_allocations_total", "counter", "Segments the pool took from the driver"},
};

static void pool_row(avf_srv_buf *o, pool_field f, const char *dev, const avf_pool_stats *p) {
    const char *name = POOL_FAMILY[f].name;
    if (f == P_REUSE || f == P_FRAG) {
        avf_srv_buf_printf(o, "%s{device=\"%s\"} %.6f\n", name, dev,
                           f == P_REUSE ? p->reuse_rate : p->fragmentation);
        return;
    }
    uint64_t v = f == P_IN_USE ? p->in_use_bytes
                 : f == P_RESERVED ? p->reserved_bytes
                 : f == P_PEAK_IN_USE ? p->peak_in_use_bytes
                 : f == P_PEAK_RESERVED ? p->peak_reserved_bytes
                 : f == P_LIMIT ? p->limit_bytes
                 : f == P_ALLOCS ? p->alloc_count
                                 : p->driver_alloc_count;
    avf_srv_buf_printf(o, "%s{device=\"%s\"} %llu\n", name, dev, (unsigned long long)v);
}

static void pool(avf_srv_buf *o, const avf_srv_obs_snapshot *s) {
    int many = s->n_devices > 1;
    if (!many && !s->has_pool)
        return;
    char dev[80];
    for (int f = 0; f < P_COUNT; f++) {
        head(o, POOL_FAMILY[f].name, POOL_FAMILY[f].type, POOL_FAMILY[f].help);
        if (!many) {
            escape(s->device, dev, sizeof dev);
            pool_row(o, (pool_field)f, dev, &s->pool);
            continue;
        }
        for (int l = 0; l < s->n_devices; l++)
            if (s->devices[l].has_pool) {
                escape(s->devices[l].name, dev, sizeof dev);
                pool_row(o, (pool_field)f, dev, &s->devices[l].pool);
            }
    }
}

/* Per device (label device): the batches routed there, their work, the
 * load routing sees, and residency; then the same split per model. */
static void devices(avf_srv_buf *o, const avf_srv_obs_snapshot *s) {
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"avflow_device_exec_count", "counter", "Batches run on the device, every model"},
        {"avflow_device_inference_count", "counter", "Rows (inferences) of those batches"},
        {"avflow_device_request_count", "counter", "Requests of those batches"},
        {"avflow_device_compute_infer_duration_us", "counter", "Run time of those batches"},
        {"avflow_device_batches_in_flight", "gauge",
         "Batches being formed or run on the device now (the load routing compares)"},
        {"avflow_device_vram_budget_bytes", "gauge", "VRAM budget of the device (0: none)"},
        {"avflow_device_resident_bytes", "gauge", "Bytes of the model replicas resident there"},
        {"avflow_device_models_resident", "gauge", "Model replicas resident on the device"},
    };
    char dev[80];
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        head(o, fam[f].name, fam[f].type, fam[f].help);
        for (int l = 0; l < s->n_devices; l++) {
            const avf_srv_lane_stats *d = &s->devices[l];
            uint64_t v = f == 0 ? d->exec_count
                         : f == 1 ? d->inference_count
                         : f == 2 ? d->request_count
                         : f == 3 ? d->compute_us
                         : f == 4 ? (uint64_t)(d->inflight > 0 ? d->inflight : 0)
                         : f == 5 ? d->budget_bytes
                         : f == 6 ? d->resident_bytes
                                  : (uint64_t)d->models_resident;
            escape(d->name, dev, sizeof dev);
            avf_srv_buf_printf(o, "%s{device=\"%s\"} %llu\n", fam[f].name, dev,
                               (unsigned long long)v);
        }
    }
    static const struct {
        const char *name, *help;
    } per_model[] = {
        {"avflow_model_device_exec_count", "Batches of the model run on the device"},
        {"avflow_model_device_inference_count", "Rows of those batches"},
        {"avflow_model_device_compute_infer_duration_us", "Run time of those batches"},
    };
    for (int f = 0; f < 3; f++) {
        head(o, per_model[f].name, "counter", per_model[f].help);
        for (int i = 0; i < s->n_models; i++) {
            const avf_srv_metrics_data *m = &s->models[i].m.d;
            for (int l = 0; l < s->n_devices; l++) {
                uint64_t v = f == 0 ? m->lane_exec[l] : f == 1 ? m->lane_rows[l]
                                                             : m->lane_compute_us[l];
                if (!m->lane_exec[l])
                    continue; /* only where it ran: a row per model and device otherwise */
                escape(s->devices[l].name, dev, sizeof dev);
                avf_srv_buf_printf(o, "%s{model=\"%s\",version=\"%s\",device=\"%s\"} %llu\n",
                                   per_model[f].name, s->models[i].m.model,
                                   s->models[i].m.version, dev, (unsigned long long)v);
            }
        }
    }
}

static void paths(avf_srv_buf *o, const avf_srv_obs_snapshot *s) {
    head(o, "avflow_http_requests_total", "counter",
         "Application endpoint requests by path and outcome");
    for (int i = 0; i < s->n_paths; i++) {
        const avf_srv_obs_path *p = &s->paths[i];
        avf_srv_buf_printf(o, "avflow_http_requests_total{path=\"/v1/%s\",outcome=\"ok\"} %llu\n",
                           p->path, (unsigned long long)p->ok);
        avf_srv_buf_printf(o,
                           "avflow_http_requests_total{path=\"/v1/%s\",outcome=\"error\"} %llu\n",
                           p->path, (unsigned long long)p->failed);
    }
    head(o, "avflow_http_request_duration_us", "histogram",
         "Application endpoint latency, arrival to answer, by path");
    for (int i = 0; i < s->n_paths; i++) {
        const avf_srv_obs_path *p = &s->paths[i];
        uint64_t cum = 0;
        for (int k = 0; k <= AVF_SRV_LAT_BUCKETS; k++) {
            cum += p->lat_hist[k];
            char le[32];
            if (k == AVF_SRV_LAT_BUCKETS)
                snprintf(le, sizeof le, "+Inf");
            else
                snprintf(le, sizeof le, "%.0f", avf_srv_latency_bounds_us[k]);
            avf_srv_buf_printf(o, "avflow_http_request_duration_us_bucket{path=\"/v1/%s\",le=\"%s\"} %llu\n",
                               p->path, le, (unsigned long long)cum);
        }
        avf_srv_buf_printf(o, "avflow_http_request_duration_us_sum{path=\"/v1/%s\"} %llu\n",
                           p->path, (unsigned long long)p->lat_sum_us);
        avf_srv_buf_printf(o, "avflow_http_request_duration_us_count{path=\"/v1/%s\"} %llu\n",
                           p->path, (unsigned long long)cum);
    }
}

void avf_srv_obs_render_metrics(const avf_srv_obs_snapshot *s, avf_srv_buf *o) {
    head(o, "avflow_nvml_available", "gauge", "1 when NVML was loaded (GPU series reported)");
    avf_srv_buf_printf(o, "avflow_nvml_available %d\n", s->nvml ? 1 : 0);
    gpu_family(o, s, "nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", GPU_UTIL);
    gpu_family(o, s, "nv_gpu_memory_total_bytes", "GPU total memory, in bytes", GPU_TOTAL);
    gpu_family(o, s, "nv_gpu_memory_used_bytes", "GPU used memory, in bytes", GPU_USED);
    gpu_family(o, s, "nv_gpu_power_usage", "GPU power usage in watts", GPU_POWER);
    gpu_family(o, s, "avflow_gpu_decoder_utilization", "NVDEC utilization rate [0.0 - 1.0]",
               GPU_DEC);
    pool(o, s);
    devices(o, s);
    head(o, "avflow_transfer_bytes_total", "counter",
         "Bytes copied between host and device (transfer ledger)");
    for (int k = 0; k < 4; k++)
        avf_srv_buf_printf(o, "avflow_transfer_bytes_total{direction=\"%s\"} %llu\n",
                           DIRECTION[k], (unsigned long long)s->xfer_bytes[k]);
    head(o, "avflow_transfer_copies_total", "counter", "Copies made (transfer ledger)");
    for (int k = 0; k < 4; k++)
        avf_srv_buf_printf(o, "avflow_transfer_copies_total{direction=\"%s\"} %llu\n",
                           DIRECTION[k], (unsigned long long)s->xfer_copies[k]);
    head(o, "process_cpu_seconds_total", "counter", "User and system CPU time of the process");
    avf_srv_buf_printf(o, "process_cpu_seconds_total %.6f\n", s->cpu_seconds);
    head(o, "avflow_requests_total", "counter", "Finished requests, models and applications");
    avf_srv_buf_printf(o, "avflow_requests_total %llu\n", (unsigned long long)s->requests);
    head(o, "avflow_cpu_seconds_per_request", "gauge",
         "Process CPU seconds over finished requests since start");
    avf_srv_buf_printf(o, "avflow_cpu_seconds_per_request %.9f\n",
                       s->requests ? s->cpu_seconds / (double)s->requests : 0.0);
    int resident = 0;
    for (int i = 0; i < s->n_models; i++)
        resident += s->models[i].state == AVF_SRV_READY;
    head(o, "avflow_models_resident", "gauge", "Models loaded and ready");
    avf_srv_buf_printf(o, "avflow_models_resident %d\n", resident);
    head(o, "avflow_models_evicted_total", "counter", "Models unloaded to make room");
    avf_srv_buf_printf(o, "avflow_models_evicted_total %llu\n", (unsigned long long)s->evicted);
    head(o, "avflow_queue_depth", "gauge", "Requests waiting in a loaded model's batcher");
    for (int i = 0; i < s->n_models; i++)
        if (s->models[i].state == AVF_SRV_READY)
            avf_srv_buf_printf(o, "avflow_queue_depth{model=\"%s\",version=\"%s\"} %llu\n",
                               s->models[i].m.model, s->models[i].m.version,
                               (unsigned long long)s->models[i].queued);
    paths(o, s);
}
