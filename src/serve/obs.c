/* The process-wide recorders of obs.h: a ring of recent completions for the
 * rolling window, totals, per-path histograms, evictions. */
#include "serve/obs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "serve/request.h"

typedef struct completion {
    uint64_t t_ns;
    uint32_t lat_us;      /* saturated at 2^32-1 us (71 minutes) */
} completion;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static completion g_ring[AVF_SRV_OBS_RING];
static uint64_t g_ring_n;              /* completions ever pushed */
static uint64_t g_first_ns;            /* the library's load: about the process start */
static uint64_t g_requests, g_failures, g_evicted;
static int g_n_paths;
static avf_srv_obs_path g_paths[AVF_SRV_OBS_PATHS];

#if defined(__GNUC__)
__attribute__((constructor)) static void note_start(void) { g_first_ns = avf_srv_now_ns(); }
#endif

/* Under g_mu. */
static void record(uint64_t latency_us, int ok, uint64_t now) {
    if (!g_first_ns)
        g_first_ns = now;
    g_requests++;
    if (!ok) {
        g_failures++;
        return; /* the window's latencies are of answered requests only */
    }
    completion *c = &g_ring[g_ring_n % AVF_SRV_OBS_RING];
    c->t_ns = now;
    c->lat_us = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    g_ring_n++;
}

void avf_srv_obs_request(uint64_t latency_us, int ok) {
    uint64_t now = avf_srv_now_ns();
    pthread_mutex_lock(&g_mu);
    record(latency_us, ok, now);
    pthread_mutex_unlock(&g_mu);
}

void avf_srv_obs_app_request(const char *path, uint64_t latency_us, int http_status) {
    uint64_t now = avf_srv_now_ns();
    int ok = http_status == 200;
    int k = 0;
    while (k < AVF_SRV_LAT_BUCKETS && (double)latency_us > avf_srv_latency_bounds_us[k])
        k++;
    pthread_mutex_lock(&g_mu);
    record(latency_us, ok, now);
    avf_srv_obs_path *p = NULL;
    for (int i = 0; i < g_n_paths && !p; i++)
        if (strcmp(g_paths[i].path, path) == 0)
            p = &g_paths[i];
    if (!p && g_n_paths < AVF_SRV_OBS_PATHS && strlen(path) < sizeof p->path) {
        p = &g_paths[g_n_paths++];
        memset(p, 0, sizeof *p);
        memcpy(p->path, path, strlen(path) + 1);
    }
    if (p) { /* paths past the table are still in the totals */
        if (ok)
            p->ok++;
        else
            p->failed++;
        p->lat_hist[k]++;
        p->lat_sum_us += latency_us;
    }
    pthread_mutex_unlock(&g_mu);
}

void avf_srv_obs_model_evicted(const char *model) {
    (void)model;
    pthread_mutex_lock(&g_mu);
    g_evicted++;
    pthread_mutex_unlock(&g_mu);
}

void avf_srv_obs_reset(void) {
    pthread_mutex_lock(&g_mu);
    g_first_ns = avf_srv_now_ns();
    g_ring_n = g_requests = g_failures = g_evicted = 0;
    g_n_paths = 0;
    pthread_mutex_unlock(&g_mu);
}

double avf_srv_obs_percentile(const double *v, uint64_t n, double p) {
    if (n == 0)
        return 0.0;
    if (p <= 0)
        return v[0];
    if (p >= 1)
        return v[n - 1];
    double rank = p * (double)(n - 1);
    uint64_t lo = (uint64_t)rank;
    double frac = rank - (double)lo;
    return lo + 1 < n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void avf_srv_obs_snapshot_recorders(avf_srv_obs_snapshot *s, uint64_t now_ns) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    /* Latencies of the window, copied out under the lock, sorted outside. */
    double *lat = malloc(sizeof(double) * AVF_SRV_OBS_RING);
    uint64_t n = 0, oldest = now_ns;
    uint64_t window_ns = (uint64_t)AVF_SRV_OBS_WINDOW_S * 1000000000ull;
    uint64_t since = now_ns > window_ns ? now_ns - window_ns : 0;
    pthread_mutex_lock(&g_mu);
    s->requests = g_requests;
    s->failures = g_failures;
    s->evicted = g_evicted;
    s->n_paths = g_n_paths;
    memcpy(s->paths, g_paths, sizeof(g_paths[0]) * (size_t)g_n_paths);
    uint64_t first = g_first_ns;
    uint64_t have = g_ring_n < AVF_SRV_OBS_RING ? g_ring_n : AVF_SRV_OBS_RING;
    int ring_full_in_window = 0;
    for (uint64_t i = 0; i < have && lat; i++) {
        const completion *c = &g_ring[(g_ring_n - 1 - i) % AVF_SRV_OBS_RING];
        if (c->t_ns < since)
            break;
        lat[n++] = c->lat_us;
        oldest = c->t_ns;
        if (i + 1 == have && g_ring_n > AVF_SRV_OBS_RING)
            ring_full_in_window = 1;
    }
    pthread_mutex_unlock(&g_mu);
    s->uptime_s = first && now_ns > first ? (double)(now_ns - first) / 1e9 : 0.0;
    avf_srv_obs_window *w = &s->window;
    memset(w, 0, sizeof *w);
    /* The span: the whole window, or less when the server is younger, or
     * when the ring overflowed inside the window (then up to its oldest). */
    double span = AVF_SRV_OBS_WINDOW_S;
    if (s->uptime_s < span)
        span = s->uptime_s;
    if (ring_full_in_window)
        span = (double)(now_ns - oldest) / 1e9;
    w->seconds = span;
    w->count = n;
    w->throughput_rps = span > 1e-3 ? (double)n / span : 0.0;
    if (n) {
        qsort(lat, n, sizeof *lat, cmp_double);
        double sum = 0;
        for (uint64_t i = 0; i < n; i++)
            sum += lat[i];
        w->mean_us = sum / (double)n;
        w->p50_us = avf_srv_obs_percentile(lat, n, 0.50);
        w->p90_us = avf_srv_obs_percentile(lat, n, 0.90);
        w->p95_us = avf_srv_obs_percentile(lat, n, 0.95);
        w->p99_us = avf_srv_obs_percentile(lat, n, 0.99);
    }
    free(lat);
}
