/* Counters and histograms per model; Prometheus text rendering. Model names
 * are limited to [A-Za-z0-9_.-] by the repository, so label values never
 * need escaping. */
#include "serve/metrics.h"

#include "serve/obs.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const double avf_srv_latency_bounds_us[AVF_SRV_LAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    5000000};

void avf_srv_metrics_init(avf_srv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void avf_srv_metrics_destroy(avf_srv_metrics *m) { pthread_mutex_destroy(&m->mu); }

static uint64_t us_between(uint64_t a, uint64_t b) { return b > a && a ? (b - a) / 1000u : 0; }

void avf_srv_metrics_request(avf_srv_metrics *m, const avf_srv_request *r, uint64_t now_ns) {
    uint64_t total = us_between(r->t_arrive_ns, now_ns);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const uint64_t wall_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    pthread_mutex_lock(&m->mu);
    if (r->status == AVF_OK) {
        m->d.success++;
        m->d.inference_count += (uint64_t)r->batch;
        m->d.request_ok_us += total;
        m->d.last_inference_ms = wall_ms;
    } else {
        m->d.failure++;
    }
    m->d.request_us += total;
    if (r->t_start_ns) {
        const uint64_t q = us_between(r->t_enqueue_ns, r->t_start_ns),
                       c = us_between(r->t_start_ns, r->t_end_ns);
        m->d.queue_us += q;
        m->d.compute_us += c;
        if (r->status == AVF_OK) {
            m->d.queue_ok_us += q;
            m->d.compute_ok_us += c;
        }
    }
    int k = 0;
    while (k < AVF_SRV_LAT_BUCKETS && (double)total > avf_srv_latency_bounds_us[k])
        k++;
    m->d.lat_hist[k]++;
    m->d.lat_sum_us += total;
    m->d.lat_n++;
    pthread_mutex_unlock(&m->mu);
    avf_srv_obs_request(total, r->status == AVF_OK); /* rolling window, CPU per request */
}

void avf_srv_metrics_failure(avf_srv_metrics *m) {
    pthread_mutex_lock(&m->mu);
    m->d.failure++;
    pthread_mutex_unlock(&m->mu);
    avf_srv_obs_request(0, 0);
}

void avf_srv_metrics_exec(avf_srv_metrics *m, int exec_batch, uint64_t compute_ns) {
    int k = 0;
    while (k < AVF_SRV_BATCH_BUCKETS && exec_batch > (1 << k))
        k++;
    pthread_mutex_lock(&m->mu);
    m->d.exec_count++;
    m->d.batch_hist[k]++;
    m->d.batch_compute_us[k] += compute_ns / 1000u;
    m->d.batch_size[k] = exec_batch;
    m->d.batch_sum += (uint64_t)exec_batch;
    m->d.batch_n++;
    pthread_mutex_unlock(&m->mu);
}

void avf_srv_metrics_lane_exec(avf_srv_metrics *m, int lane, int64_t rows, uint64_t compute_ns) {
    if (lane < 0 || lane >= AVF_SRV_MAX_LANES)
        return;
    pthread_mutex_lock(&m->mu);
    m->d.lane_exec[lane]++;
    m->d.lane_rows[lane] += rows > 0 ? (uint64_t)rows : 0;
    m->d.lane_compute_us[lane] += compute_ns / 1000u;
    pthread_mutex_unlock(&m->mu);
}

void avf_srv_metrics_snapshot(avf_srv_metrics *m, avf_srv_metrics_data *out) {
    pthread_mutex_lock(&m->mu);
    *out = m->d;
    pthread_mutex_unlock(&m->mu);
}

static void counter(avf_srv_buf *o, const char *name, const char *help,
                    const avf_srv_metrics_row *rows, int n, size_t field) {
    avf_srv_buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&rows[i].d + field, sizeof v);
        avf_srv_buf_printf(o, "%s{model=\"%s\",version=\"%s\"} %llu\n", name, rows[i].model,
                           rows[i].version, (unsigned long long)v);
    }
}

static void histogram(avf_srv_buf *o, const char *name, const char *help,
                      const avf_srv_metrics_row *rows, int n, int batch) {
    avf_srv_buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    int nb = batch ? AVF_SRV_BATCH_BUCKETS : AVF_SRV_LAT_BUCKETS;
    for (int i = 0; i < n; i++) {
        const avf_srv_metrics_data *d = &rows[i].d;
        const uint64_t *h = batch ? d->batch_hist : d->lat_hist;
        uint64_t cum = 0;
        for (int k = 0; k <= nb; k++) {
            cum += h[k];
            char le[32];
            if (k == nb)
                memcpy(le, "+Inf", 5);
            else if (batch)
                snprintf(le, sizeof le, "%d", 1 << k);
            else
                snprintf(le, sizeof le, "%.0f", avf_srv_latency_bounds_us[k]);
            avf_srv_buf_printf(o, "%s_bucket{model=\"%s\",version=\"%s\",le=\"%s\"} %llu\n", name,
                               rows[i].model, rows[i].version, le, (unsigned long long)cum);
        }
        avf_srv_buf_printf(o, "%s_sum{model=\"%s\",version=\"%s\"} %llu\n", name, rows[i].model,
                           rows[i].version,
                           (unsigned long long)(batch ? d->batch_sum : d->lat_sum_us));
        avf_srv_buf_printf(o, "%s_count{model=\"%s\",version=\"%s\"} %llu\n", name, rows[i].model,
                           rows[i].version, (unsigned long long)(batch ? d->batch_n : d->lat_n));
    }
}

#define FIELD(f) offsetof(avf_srv_metrics_data, f)

void avf_srv_metrics_render(avf_srv_buf *o, const avf_srv_metrics_row *rows, int n) {
    counter(o, "nv_inference_request_success", "Number of successful inference requests",
            rows, n, FIELD(success));
    counter(o, "nv_inference_request_failure", "Number of failed inference requests", rows, n,
            FIELD(failure));
    counter(o, "nv_inference_count", "Number of inferences performed (batch rows)", rows, n,
            FIELD(inference_count));
    counter(o, "nv_inference_exec_count", "Number of model executions (batches)", rows, n,
            FIELD(exec_count));
    counter(o, "nv_inference_request_duration_us", "Cumulative inference request duration",
            rows, n, FIELD(request_us));
    counter(o, "nv_inference_queue_duration_us", "Cumulative inference queuing duration", rows,
            n, FIELD(queue_us));
    counter(o, "nv_inference_compute_infer_duration_us", "Cumulative compute inference duration",
            rows, n, FIELD(compute_us));
    histogram(o, "avflow_batch_size", "Padded batch sizes the model ran", rows, n, 1);
    histogram(o, "avflow_request_duration_us", "Request latency, arrival to response", rows, n,
              0);
}
