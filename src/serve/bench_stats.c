/* Statistics of `avflow bench` and a Prometheus text scanner. */
#include "serve/bench_stats.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "serve/obs.h"

void avf_bench_stats_init(avf_bench_stats *s) { memset(s, 0, sizeof *s); }

void avf_bench_stats_free(avf_bench_stats *s) {
    free(s->lat_us);
    memset(s, 0, sizeof *s);
}

static int push(avf_bench_stats *s, double v) {
    if (s->n_lat == s->cap_lat) {
        uint64_t cap = s->cap_lat ? s->cap_lat * 2 : 4096;
        double *p = realloc(s->lat_us, sizeof(double) * cap);
        if (!p) {
            s->oom = 1;
            return 0;
        }
        s->lat_us = p;
        s->cap_lat = cap;
    }
    s->lat_us[s->n_lat++] = v;
    return 1;
}

void avf_bench_stats_add(avf_bench_stats *s, int status, double latency_us) {
    if (status < 0 || status >= AVF_BENCH_STATUS_MAX)
        status = 0;
    s->total++;
    s->by_status[status]++;
    if (status >= 200 && status < 300)
        push(s, latency_us);
}

void avf_bench_stats_merge(avf_bench_stats *into, const avf_bench_stats *from) {
    into->total += from->total;
    for (int i = 0; i < AVF_BENCH_STATUS_MAX; i++)
        into->by_status[i] += from->by_status[i];
    for (uint64_t i = 0; i < from->n_lat; i++)
        if (!push(into, from->lat_us[i]))
            break;
    into->oom |= from->oom;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void avf_bench_summarize(avf_bench_stats *s, double seconds, avf_bench_summary *o) {
    memset(o, 0, sizeof *o);
    o->requests = s->total;
    for (int i = 200; i < 300; i++)
        o->ok += s->by_status[i];
    o->errors = o->requests - o->ok;
    o->seconds = seconds;
    o->throughput_rps = seconds > 0 ? (double)o->ok / seconds : 0.0;
    uint64_t n = s->n_lat;
    if (!n)
        return;
    qsort(s->lat_us, n, sizeof(double), cmp);
    double sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += s->lat_us[i];
    o->mean_us = sum / (double)n;
    o->min_us = s->lat_us[0];
    o->max_us = s->lat_us[n - 1];
    o->p50_us = avf_srv_obs_percentile(s->lat_us, n, 0.50);
    o->p90_us = avf_srv_obs_percentile(s->lat_us, n, 0.90);
    o->p95_us = avf_srv_obs_percentile(s->lat_us, n, 0.95);
    o->p99_us = avf_srv_obs_percentile(s->lat_us, n, 0.99);
}

int avf_prom_scan(const char *text, size_t len, const char *name, const char *label,
                  double *sum, double *max) {
    *sum = *max = 0;
    int count = 0;
    size_t nlen = strlen(name);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        size_t l = (size_t)(eol - p);
        if (l > nlen && l < 4096 && p[0] != '#' && memcmp(p, name, nlen) == 0 &&
            (p[nlen] == '{' || p[nlen] == ' ')) {
            char line[4096];
            memcpy(line, p, l);
            line[l] = '\0';
            char *labels_end = p[nlen] == '{' ? strchr(line, '}') : line + nlen;
            int match = !label;
            if (label && labels_end) { /* search the labels only */
                char keep = *labels_end;
                *labels_end = '\0';
                match = strstr(line, label) != NULL;
                *labels_end = keep;
            }
            if (labels_end && match) {
                char *e;
                double v = strtod(labels_end + 1, &e);
                if (e != labels_end + 1 && isfinite(v)) {
                    *sum += v;
                    if (count == 0 || v > *max)
                        *max = v;
                    count++;
                }
            }
        }
        p = eol + 1;
    }
    return count;
}

int avf_prom_by_label(const char *text, size_t len, const char *name, const char *key,
                      char (*keys)[32], double *values, int cap) {
    int count = 0;
    size_t nlen = strlen(name);
    char pat[72];
    if (snprintf(pat, sizeof pat, "%s=\"", key) >= (int)sizeof pat)
        return 0;
    const char *p = text, *end = text + len;
    while (p < end && count < cap) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        size_t l = (size_t)(eol - p);
        if (l > nlen && l < 4096 && p[0] != '#' && memcmp(p, name, nlen) == 0 &&
            p[nlen] == '{') {
            char line[4096];
            memcpy(line, p, l);
            line[l] = '\0';
            char *labels_end = strchr(line, '}');
            char *k = labels_end ? strstr(line + nlen, pat) : NULL;
            /* the key must start a label: after '{' or ',' */
            if (k && k < labels_end && (k[-1] == '{' || k[-1] == ',')) {
                char *v = k + strlen(pat), *q = strchr(v, '"');
                char *e;
                double x = strtod(labels_end + 1, &e);
                if (q && q < labels_end && e != labels_end + 1 && isfinite(x)) {
                    size_t n = (size_t)(q - v) < 31 ? (size_t)(q - v) : 31;
                    memcpy(keys[count], v, n);
                    keys[count][n] = '\0';
                    values[count++] = x;
                }
            }
        }
        p = eol + 1;
    }
    return count;
}

double avf_bench_poisson_gap(double rate, double u) {
    if (u <= 0 || u > 1)
        u = 1;
    return -log(u) / rate;
}
