/* avflow bench: what a load run measures, and reading a server's /metrics.
 *
 * A run records one sample per request: its HTTP status (0 for a request
 * that got no response: refused, reset, timed out) and its latency. The
 * summary gives throughput over the measured span, latency percentiles of
 * the successful (2xx) requests, and the error count by status.
 */
#ifndef AVF_SERVE_BENCH_STATS_H
#define AVF_SERVE_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#define AVF_BENCH_STATUS_MAX 600

typedef struct avf_bench_stats {
    double *lat_us;             /* successful requests' latencies */
    uint64_t n_lat, cap_lat;
    uint64_t total;             /* requests finished */
    uint64_t by_status[AVF_BENCH_STATUS_MAX]; /* [0]: no response */
    int oom;                    /* a latency could not be stored (summary is then partial) */
} avf_bench_stats;

typedef struct avf_bench_summary {
    uint64_t requests, ok, errors;
    double seconds, throughput_rps;       /* successful requests per second */
    double p50_us, p90_us, p95_us, p99_us, mean_us, min_us, max_us;
} avf_bench_summary;

void avf_bench_stats_init(avf_bench_stats *s);
void avf_bench_stats_free(avf_bench_stats *s);
/* One finished request. status outside [0, 599] counts as 0. */
void avf_bench_stats_add(avf_bench_stats *s, int status, double latency_us);
/* Fold `from` into `into` (from is left as it was). */
void avf_bench_stats_merge(avf_bench_stats *into, const avf_bench_stats *from);
/* Sorts s->lat_us in place. */
void avf_bench_summarize(avf_bench_stats *s, double seconds, avf_bench_summary *out);

/* Over every sample of metric `name` in Prometheus text whose label set
 * contains `label` (NULL: any): how many, their sum and maximum. Returns the
 * number of samples (0: none, then *sum = *max = 0). Lines are parsed with
 * bounds; malformed ones are skipped. */
int avf_prom_scan(const char *text, size_t len, const char *name, const char *label,
                  double *sum, double *max);

/* The samples of metric `name` by the value of their label `key`
 * (`device` in avflow_device_exec_count{device="cuda:1"} 12): at most cap,
 * keys[i] (truncated to 31 bytes) and values[i]; samples without the label
 * are skipped. Returns how many were written. */
int avf_prom_by_label(const char *text, size_t len, const char *name, const char *key,
                      char (*keys)[32], double *values, int cap);

/* Inter-arrival gap of a Poisson process of `rate` per second, from a
 * uniform u in (0, 1]: -ln(u) / rate seconds. */
double avf_bench_poisson_gap(double rate, double u);

#endif
