/* `avflow bench`: drive load against an HTTP endpoint (avflow serve, Triton,
 * or anything behind a proxy) and report throughput and latency.
 *
 * Closed loop (--concurrency N): N connections, each sends its next request
 * when the previous one answered. Open loop (--rate R): requests are
 * scheduled at Poisson arrivals of R per second, independently of the
 * answers; latency is counted from the scheduled time, so a server that
 * falls behind shows its queueing (no coordinated omission); up to
 * --concurrency connections (default 64) carry them.
 *
 * Warm-up requests (--warmup seconds) are sent but not counted. The
 * server's /metrics is read before and after the measured span, and once a
 * second during it, for GPU utilization, GPU memory, the device pool's peak
 * and the server's CPU seconds per request.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"
#include "cli_util.h"
#include "commands.h"
#include "serve/bench_body.h"
#include "serve/bench_stats.h"
#include "serve/http_client.h"

#define MAX_CONNS 4096

typedef struct bench_opts {
    char host[256], prefix[512];
    int port;
    char model[128], version[24];
    avf_bench_input inputs[AVF_BENCH_MAX_INPUTS];
    int n_inputs;
    long long batch;
    char endpoint[1024];
    char body_file[4096];
    char content_type[128];
    int concurrency;
    double rate;
    double duration, warmup;
    long long requests;
    int timeout_ms;
    int json, quiet, metrics;
    unsigned long long seed;
} bench_opts;

typedef struct bench_run {
    const bench_opts *o;
    const char *path, *ctype, *headers;
    const char *body;
    size_t body_len;
    double t0;                   /* start, seconds (monotonic) */
    double measure_from;         /* warm-up ends */
    double end;                  /* no request starts after this (duration mode) */
    atomic_int stop;
    atomic_llong issued;         /* measured requests started (--requests) */
    pthread_mutex_t mu;          /* open loop: the arrival schedule */
    double next_arrival;
    uint64_t rng;
    /* Progress, reset each second by the main thread. */
    atomic_llong tick_ok, tick_err, tick_lat_us;
    atomic_llong done_measured;
} bench_run;

typedef struct worker {
    bench_run *r;
    avf_bench_stats stats;
    int failed_connect;
    char err[256];
    char no_response[256];       /* why its first measured no-response request failed */
    double last_done;            /* when its last measured request finished */
} worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t) {
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* The scheduled time of the next request, or < 0 when the run is over. */
static double next_start(bench_run *r) {
    const bench_opts *o = r->o;
    if (atomic_load(&r->stop))
        return -1;
    double t;
    if (o->rate > 0) {
        pthread_mutex_lock(&r->mu);
        t = r->next_arrival;
        double u = ((double)(xorshift(&r->rng) >> 11) + 1.0) / 9007199254740993.0;
        r->next_arrival += avf_bench_poisson_gap(o->rate, u);
        pthread_mutex_unlock(&r->mu);
    } else {
        t = now_s();
    }
    if (o->requests > 0) {
        if (t >= r->measure_from && atomic_fetch_add(&r->issued, 1) >= o->requests)
            return -1;
    } else if (t >= r->end) {
        return -1;
    }
    return t;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    bench_run *r = w->r;
    const bench_opts *o = r->o;
    avf_http_conn *c = NULL;
    if (avf_http_connect(o->host, o->port, o->timeout_ms, 256u << 20, &c) != AVF_OK) {
        w->failed_connect = 1;
        snprintf(w->err, sizeof w->err, "%s", avf_last_error());
        /* Keep going: a proxy's backend may come back; each request retries. */
    }
    for (;;) {
        double t = next_start(r);
        if (t < 0)
            break;
        sleep_until(t);
        if (atomic_load(&r->stop))
            break;
        int status = 0;
        if (!c && avf_http_connect(o->host, o->port, o->timeout_ms, 256u << 20, &c) != AVF_OK)
            c = NULL;
        if (c) {
            avf_http_response resp;
            if (avf_http_request(c, "POST", r->path, r->ctype, r->headers, r->body,
                                 r->body_len, &resp) == AVF_OK)
                status = resp.status;
        }
        if (status == 0 && t >= r->measure_from && !w->no_response[0])
            snprintf(w->no_response, sizeof w->no_response, "%s",
                     avf_last_error()[0] ? avf_last_error() : "no response");
        double done = now_s();
        double lat_us = (done - t) * 1e6;
        if (t >= r->measure_from) {
            avf_bench_stats_add(&w->stats, status, lat_us);
            w->last_done = done;
            atomic_fetch_add(&r->done_measured, 1);
        }
        if (status >= 200 && status < 300) {
            atomic_fetch_add(&r->tick_ok, 1);
            atomic_fetch_add(&r->tick_lat_us, (long long)lat_us);
        } else {
            atomic_fetch_add(&r->tick_err, 1);
            if (status == 0) /* no answer: do not spin on a dead server */
                sleep_until(now_s() + 0.01);
        }
    }
    avf_http_close(c);
    return NULL;
}

/* ---- the server's /metrics ---- */

typedef struct server_figures {
    int ok;
    int n_gpus;
    double gpu_util_sum, gpu_util_max;
    double gpu_mem_max;
    double pool_peak;
    double cpu_s, requests;
    /* per device (avflow_device_* of a multi-device server): batches, rows */
    int n_dev;
    char dev[16][32];
    double dev_exec[16], dev_rows[16];
} server_figures;

static void scrape(const bench_opts *o, avf_http_conn **c, server_figures *f) {
    memset(f, 0, sizeof *f);
    if (!o->metrics)
        return;
    if (!*c && avf_http_connect(o->host, o->port, o->timeout_ms, 64u << 20, c) != AVF_OK)
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/metrics", o->prefix);
    avf_http_response resp;
    if (avf_http_request(*c, "GET", path, NULL, NULL, NULL, 0, &resp) != AVF_OK ||
        resp.status != 200)
        return;
    double sum, max;
    f->ok = 1;
    f->n_gpus = avf_prom_scan(resp.body, resp.len, "nv_gpu_utilization", NULL, &sum, &max);
    f->gpu_util_sum = sum;
    f->gpu_util_max = max;
    avf_prom_scan(resp.body, resp.len, "nv_gpu_memory_used_bytes", NULL, &sum, &f->gpu_mem_max);
    avf_prom_scan(resp.body, resp.len, "avflow_pool_bytes_peak_in_use", NULL, &f->pool_peak,
                  &max);
    avf_prom_scan(resp.body, resp.len, "process_cpu_seconds_total", NULL, &f->cpu_s, &max);
    avf_prom_scan(resp.body, resp.len, "avflow_requests_total", NULL, &f->requests, &max);
    f->n_dev = avf_prom_by_label(resp.body, resp.len, "avflow_device_exec_count", "device",
                                 f->dev, f->dev_exec, 16);
    char keys[16][32];
    double rows[16];
    int n = avf_prom_by_label(resp.body, resp.len, "avflow_device_inference_count", "device",
                              keys, rows, 16);
    for (int i = 0; i < f->n_dev; i++)
        for (int k = 0; k < n; k++)
            if (strcmp(f->dev[i], keys[k]) == 0)
                f->dev_rows[i] = rows[k];
}

/* The run's share of each device: batches and rows between the two scrapes. */
typedef struct device_split {
    int n;
    char name[16][32];
    double batches[16], rows[16], share[16];
} device_split;

static void split_devices(const server_figures *before, const server_figures *after,
                          device_split *d) {
    memset(d, 0, sizeof *d);
    double total = 0;
    for (int i = 0; i < after->n_dev; i++) {
        double b0 = 0, r0 = 0;
        for (int k = 0; k < before->n_dev; k++)
            if (strcmp(before->dev[k], after->dev[i]) == 0) {
                b0 = before->dev_exec[k];
                r0 = before->dev_rows[k];
            }
        snprintf(d->name[d->n], sizeof d->name[0], "%s", after->dev[i]);
        d->batches[d->n] = after->dev_exec[i] - b0;
        d->rows[d->n] = after->dev_rows[i] - r0;
        total += d->rows[d->n];
        d->n++;
    }
    for (int i = 0; i < d->n; i++)
        d->share[i] = total > 0 ? d->rows[i] / total : 0;
}

/* ---- options ---- */

static void usage(FILE *out) {
    fprintf(out,
            "usage: avflow bench --model NAME [options]          (KServe v2 inference)\n"
            "       avflow bench --endpoint PATH --body FILE [--content-type T] [options]\n\n"
            "Load an HTTP inference endpoint and report throughput and latency.\n\n"
            "target:\n"
            "  --url URL              server (default http://127.0.0.1:8000)\n"
            "  --model NAME           POST /v2/models/NAME/infer, inputs from its metadata\n"
            "  --version V            a model version (default: the served one)\n"
            "  --input NAME=FILE.npy  an input from a .npy file\n"
            "  --input NAME=D0xD1x..  an input of random data of that shape\n"
            "                         (inputs not given: random, dynamic dim 0 = --batch)\n"
            "  --batch N              dim 0 of inputs not given (default 1)\n"
            "  --endpoint PATH        POST the raw --body FILE to PATH (e.g. /v1/audio/vad)\n"
            "  --content-type T       Content-Type of --body (default application/octet-stream)\n"
            "load:\n"
            "  --concurrency N        closed loop with N connections (default 1); with\n"
            "                         --rate, the connections carrying it (default 64)\n"
            "  --rate R               open loop: Poisson arrivals, R requests/s\n"
            "  --duration S           measure for S seconds (default 10)\n"
            "  --requests N           measure N requests instead\n"
            "  --warmup S             seconds of requests not counted first (default 1)\n"
            "  --timeout-ms MS        per socket operation (default 30000)\n"
            "  --seed N               random inputs and arrivals (default 1)\n"
            "output:\n"
            "  --json                 the summary as one JSON object on stdout\n"
            "  --quiet                no progress line each second (stderr)\n"
            "  --no-metrics           do not read the server's /metrics\n\n"
            "Latency percentiles are of successful (2xx) requests; errors are counted by\n"
            "HTTP status ('0' = no response). exit status: 0 when the run finished with\n"
            "at least one success, 1 otherwise, 2 on bad usage.\n");
}

static int want_num(const char *flag, const char *v, double lo, double hi, double *out) {
    char *e;
    errno = 0;
    double x = strtod(v, &e);
    if (errno || e == v || *e || !(x >= lo && x <= hi)) {
        fprintf(stderr, "avflow bench: %s wants a number in [%g, %g], got '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

static int copy(const char *flag, const char *v, char *dst, size_t cap) {
    if (strlen(v) >= cap) {
        fprintf(stderr, "avflow bench: %s value too long\n", flag);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int parse(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    char url[1024] = "http://127.0.0.1:8000";
    o->batch = 1;
    o->duration = 10;
    o->warmup = 1;
    o->timeout_ms = 30000;
    o->metrics = 1;
    o->seed = 1;
    int conc_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double x = 0;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (strcmp(a, "--no-metrics") == 0) {
            o->metrics = 0;
            continue;
        }
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "avflow bench: %s '%s'\n\n",
                    strncmp(a, "--", 2) ? "unexpected argument" : "no value for", a);
            usage(stderr);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--url") == 0)
            bad = copy(a, v, url, sizeof url);
        else if (strcmp(a, "--model") == 0)
            bad = copy(a, v, o->model, sizeof o->model);
        else if (strcmp(a, "--version") == 0)
            bad = copy(a, v, o->version, sizeof o->version);
        else if (strcmp(a, "--endpoint") == 0)
            bad = copy(a, v, o->endpoint, sizeof o->endpoint);
        else if (strcmp(a, "--body") == 0)
            bad = copy(a, v, o->body_file, sizeof o->body_file);
        else if (strcmp(a, "--content-type") == 0)
            bad = copy(a, v, o->content_type, sizeof o->content_type);
        else if (strcmp(a, "--input") == 0) {
            if (o->n_inputs == AVF_BENCH_MAX_INPUTS) {
                fprintf(stderr, "avflow bench: at most %d --input\n", AVF_BENCH_MAX_INPUTS);
                return -1;
            }
            if (avf_bench_input_parse(v, &o->inputs[o->n_inputs++]) != AVF_OK) {
                fprintf(stderr, "avflow bench: %s\n", avf_last_error());
                return -1;
            }
        } else if (strcmp(a, "--batch") == 0)
            bad = want_num(a, v, 1, 1 << 20, &x) || (o->batch = (long long)x, 0);
        else if (strcmp(a, "--concurrency") == 0)
            bad = want_num(a, v, 1, MAX_CONNS, &x) || (o->concurrency = (int)x, conc_given = 1, 0);
        else if (strcmp(a, "--rate") == 0)
            bad = want_num(a, v, 0.001, 1e7, &o->rate);
        else if (strcmp(a, "--duration") == 0)
            bad = want_num(a, v, 0.1, 86400, &o->duration);
        else if (strcmp(a, "--requests") == 0)
            bad = want_num(a, v, 1, 1e12, &x) || (o->requests = (long long)x, 0);
        else if (strcmp(a, "--warmup") == 0)
            bad = want_num(a, v, 0, 3600, &o->warmup);
        else if (strcmp(a, "--timeout-ms") == 0)
            bad = want_num(a, v, 1, 3600000, &x) || (o->timeout_ms = (int)x, 0);
        else if (strcmp(a, "--seed") == 0)
            bad = want_num(a, v, 0, 1e18, &x) || (o->seed = (unsigned long long)x, 0);
        else {
            fprintf(stderr, "avflow bench: unknown option '%s'\n\n", a);
            usage(stderr);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (!!o->model[0] == !!o->endpoint[0]) {
        fprintf(stderr, "avflow bench: give either --model or --endpoint\n\n");
        usage(stderr);
        return -1;
    }
    if (o->endpoint[0] && !o->body_file[0]) {
        fprintf(stderr, "avflow bench: --endpoint needs --body FILE\n");
        return -1;
    }
    if (avf_http_parse_url(url, o->host, sizeof o->host, &o->port, o->prefix,
                           sizeof o->prefix) != AVF_OK) {
        fprintf(stderr, "avflow bench: %s\n", avf_last_error());
        return -1;
    }
    if (!conc_given)
        o->concurrency = o->rate > 0 ? 64 : 1;
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n <= (1L << 30) && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1))) {
            if (fread(p, 1, (size_t)n, f) != (size_t)n) {
                free(p);
                p = NULL;
            } else {
                *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return p;
}

/* The request: path, body, headers. */
static int prepare(const bench_opts *o, char *path, size_t path_cap, char **body, size_t *len,
                   char *headers, size_t headers_cap) {
    headers[0] = '\0';
    if (o->endpoint[0]) {
        snprintf(path, path_cap, "%s%s%s", o->prefix, o->endpoint[0] == '/' ? "" : "/",
                 o->endpoint);
        *body = read_file(o->body_file, len);
        if (!*body) {
            fprintf(stderr, "avflow bench: cannot read %s\n", o->body_file);
            return -1;
        }
        return 0;
    }
    char meta_path[1024];
    if (o->version[0])
        snprintf(meta_path, sizeof meta_path, "%s/v2/models/%s/versions/%s", o->prefix, o->model,
                 o->version);
    else
        snprintf(meta_path, sizeof meta_path, "%s/v2/models/%s", o->prefix, o->model);
    snprintf(path, path_cap, "%s/infer", meta_path);
    avf_http_conn *c = NULL;
    avf_http_response resp;
    if (avf_http_connect(o->host, o->port, o->timeout_ms, 16u << 20, &c) != AVF_OK ||
        avf_http_request(c, "GET", meta_path, NULL, NULL, NULL, 0, &resp) != AVF_OK) {
        fprintf(stderr, "avflow bench: %s\n", avf_last_error());
        avf_http_close(c);
        return -1;
    }
    if (resp.status != 200) {
        fprintf(stderr, "avflow bench: GET %s answered %d: %.300s\n", meta_path, resp.status,
                resp.body);
        avf_http_close(c);
        return -1;
    }
    size_t json_len = 0;
    avf_status st = avf_bench_infer_body(resp.body, resp.len, o->inputs, o->n_inputs, o->batch,
                                         o->seed, body, len, &json_len);
    avf_http_close(c);
    if (st != AVF_OK) {
        fprintf(stderr, "avflow bench: %s\n", avf_last_error());
        return -1;
    }
    snprintf(headers, headers_cap, "Inference-Header-Content-Length: %zu\r\n", json_len);
    return 0;
}

/* "1.5 KiB", "12.0 MiB", "3.2 GiB" */
static const char *human(double bytes, char *buf, size_t cap) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int k = 0;
    while (bytes >= 1024 && k < 4) {
        bytes /= 1024;
        k++;
    }
    snprintf(buf, cap, k ? "%.1f %s" : "%.0f %s", bytes, unit[k]);
    return buf;
}

static void print_summary(const bench_opts *o, const avf_bench_summary *s,
                          const avf_bench_stats *st, const char *no_response,
                          const server_figures *before,
                          const server_figures *after, double util_avg, double util_max,
                          double mem_peak, int util_samples) {
    double dreq = after->requests - before->requests;
    int have_cpu = before->ok && after->ok && dreq > 0;
    double cpu_per = have_cpu ? (after->cpu_s - before->cpu_s) / dreq : 0;
    device_split split;
    memset(&split, 0, sizeof split);
    if (before->ok && after->ok) /* each device's share of this run (multi-device servers) */
        split_devices(before, after, &split);
    if (o->json) {
        printf("{\"mode\":\"%s\",\"concurrency\":%d,\"rate\":%g,\"seconds\":%.6f,"
               "\"requests\":%llu,\"ok\":%llu,\"errors\":%llu,\"errors_by_status\":{",
               o->rate > 0 ? "open" : "closed", o->concurrency, o->rate, s->seconds,
               (unsigned long long)s->requests, (unsigned long long)s->ok,
               (unsigned long long)s->errors);
        int first = 1;
        for (int i = 0; i < AVF_BENCH_STATUS_MAX; i++)
            if (st->by_status[i] && !(i >= 200 && i < 300)) {
                printf("%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)st->by_status[i]);
                first = 0;
            }
        printf("},\"no_response_error\":");
        if (no_response[0])
            avf_cli_json_string(no_response);
        else
            printf("null");
        printf(",\"throughput_rps\":%.3f,\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,"
               "\"p95\":%.1f,\"p99\":%.1f,\"mean\":%.1f,\"min\":%.1f,\"max\":%.1f},",
               s->throughput_rps, s->p50_us, s->p90_us, s->p95_us, s->p99_us, s->mean_us,
               s->min_us, s->max_us);
        printf("\"server\":{\"metrics\":%s,", after->ok ? "true" : "false");
        if (util_samples)
            printf("\"gpu_utilization_avg\":%.4f,\"gpu_utilization_max\":%.4f,"
                   "\"gpu_memory_used_peak_bytes\":%.0f,",
                   util_avg, util_max, mem_peak);
        else
            printf("\"gpu_utilization_avg\":null,\"gpu_utilization_max\":null,"
                   "\"gpu_memory_used_peak_bytes\":null,");
        if (after->ok)
            printf("\"pool_peak_in_use_bytes\":%.0f,", after->pool_peak);
        else
            printf("\"pool_peak_in_use_bytes\":null,");
        printf("\"devices\":[");
        for (int i = 0; i < split.n; i++)
            printf("%s{\"name\":\"%s\",\"batches\":%.0f,\"inferences\":%.0f,\"share\":%.4f}",
                   i ? "," : "", split.name[i], split.batches[i], split.rows[i], split.share[i]);
        printf("],");
        if (have_cpu)
            /* %.17g round-trips a double, so a reader can check the ratio exactly;
             * fixed decimals made cpu_seconds / requests differ from the printed
             * ratio in the last digits. */
            printf("\"cpu_seconds\":%.17g,\"requests\":%.0f,\"cpu_seconds_per_request\":%.17g}}\n",
                   after->cpu_s - before->cpu_s, dreq, cpu_per);
        else
            printf("\"cpu_seconds\":null,\"requests\":null,\"cpu_seconds_per_request\":null}}\n");
        return;
    }
    printf("avflow bench: %s loop, %d connections%s, %.2f s measured\n",
           o->rate > 0 ? "open" : "closed", o->concurrency, o->rate > 0 ? " (Poisson)" : "",
           s->seconds);
    if (o->rate > 0)
        printf("  offered      %.1f requests/s\n", o->rate);
    printf("  requests     %llu (%llu ok, %llu errors)\n", (unsigned long long)s->requests,
           (unsigned long long)s->ok, (unsigned long long)s->errors);
    printf("  throughput   %.1f requests/s\n", s->throughput_rps);
    printf("  latency ms   p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  (mean %.3f, max %.3f)\n",
           s->p50_us / 1e3, s->p90_us / 1e3, s->p95_us / 1e3, s->p99_us / 1e3, s->mean_us / 1e3,
           s->max_us / 1e3);
    if (s->errors) {
        printf("  errors      ");
        for (int i = 0; i < AVF_BENCH_STATUS_MAX; i++)
            if (st->by_status[i] && !(i >= 200 && i < 300)) {
                if (i == 0)
                    printf(" no-response: %llu", (unsigned long long)st->by_status[i]);
                else
                    printf(" HTTP %d: %llu", i, (unsigned long long)st->by_status[i]);
            }
        printf("\n");
        if (no_response[0])
            printf("  first no-response error: %s\n", no_response);
    }
    char hb[32];
    if (util_samples)
        printf("  server GPU   utilization avg %.1f %%, max %.1f %%; memory used peak %s\n",
               100 * util_avg, 100 * util_max, human(mem_peak, hb, sizeof hb));
    else if (after->ok)
        printf("  server GPU   no figures (the server reports no nv_gpu_* series)\n");
    if (after->ok)
        printf("  server pool  peak in use %s\n", human(after->pool_peak, hb, sizeof hb));
    if (have_cpu)
        printf("  server CPU   %.3f ms per request (%.3f s over %.0f requests)\n", 1e3 * cpu_per,
               after->cpu_s - before->cpu_s, dreq);
    for (int i = 0; i < split.n; i++)
        printf("  %-12s %-8s %5.1f %% of the inferences (%.0f in %.0f batches)\n",
               i ? "" : "server split", split.name[i], 100 * split.share[i], split.rows[i],
               split.batches[i]);
}

int avf_cmd_bench(int argc, char **argv) {
    bench_opts o;
    int pr = parse(argc, argv, &o);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    char path[2048], headers[256];
    char *body = NULL;
    size_t len = 0;
    if (prepare(&o, path, sizeof path, &body, &len, headers, sizeof headers) != 0)
        return 1;
    bench_run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    r.path = path;
    r.body = body;
    r.body_len = len;
    r.headers = headers;
    r.ctype = o.endpoint[0] ? (o.content_type[0] ? o.content_type : "application/octet-stream")
                            : "application/octet-stream";
    r.rng = o.seed * 0x9E3779B97F4A7C15ull + 1;
    pthread_mutex_init(&r.mu, NULL);
    r.t0 = now_s();
    r.measure_from = r.t0 + o.warmup;
    r.end = o.requests > 0 ? INFINITY : r.measure_from + o.duration;
    r.next_arrival = r.t0;
    worker *w = calloc((size_t)o.concurrency, sizeof *w);
    pthread_t *th = calloc((size_t)o.concurrency, sizeof *th);
    if (!w || !th) {
        fprintf(stderr, "avflow bench: out of memory\n");
        return 1;
    }
    int started = 0;
    for (int i = 0; i < o.concurrency; i++) {
        w[i].r = &r;
        avf_bench_stats_init(&w[i].stats);
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
            break;
        started++;
    }
    if (started == 0) {
        fprintf(stderr, "avflow bench: cannot start threads\n");
        return 1;
    }
    avf_http_conn *mc = NULL;
    server_figures before = {0}, after = {0}, f;
    int util_samples = 0;
    double util_sum = 0, util_max = 0, mem_peak = 0;
    double last = r.t0;
    /* Warm-up: a progress line each second, then the "before" scrape right
     * where measuring starts; then a line (and a /metrics sample) each
     * second of the measured span, the last one at its end. */
    for (double tick = r.t0 + 1; tick < r.measure_from; tick += 1) {
        sleep_until(tick);
        long long ok = atomic_exchange(&r.tick_ok, 0), err = atomic_exchange(&r.tick_err, 0);
        long long lat = atomic_exchange(&r.tick_lat_us, 0);
        if (!o.quiet)
            fprintf(stderr, "[warm-up %4.0f s] %8.1f req/s  mean %8.3f ms  errors %lld\n",
                    tick - r.t0, (double)ok / (tick - last), ok ? lat / 1e3 / (double)ok : 0.0,
                    err);
        last = tick;
    }
    sleep_until(r.measure_from);
    scrape(&o, &mc, &before);
    for (int sec = 1;; sec++) {
        double tick = r.measure_from + sec;
        if (tick > r.end)
            tick = r.end;
        /* Sleep to the tick in short steps: a --requests run may end before it. */
        while (now_s() < tick && !(o.requests > 0 && atomic_load(&r.done_measured) >= o.requests))
            sleep_until(fmin(tick, now_s() + 0.02));
        double t = now_s();
        int over = o.requests > 0 ? atomic_load(&r.done_measured) >= o.requests : t >= r.end;
        if (!over) {
            scrape(&o, &mc, &f);
            if (f.ok && f.n_gpus) {
                util_sum += f.gpu_util_sum / f.n_gpus;
                if (f.gpu_util_max > util_max)
                    util_max = f.gpu_util_max;
                if (f.gpu_mem_max > mem_peak)
                    mem_peak = f.gpu_mem_max;
                util_samples++;
            }
        }
        long long ok = atomic_exchange(&r.tick_ok, 0), err = atomic_exchange(&r.tick_err, 0);
        long long lat = atomic_exchange(&r.tick_lat_us, 0);
        if (!o.quiet)
            fprintf(stderr, "[%4.0f s] %8.1f req/s  mean %8.3f ms  errors %lld\n",
                    t - r.measure_from, (double)ok / (t - last),
                    ok ? lat / 1e3 / (double)ok : 0.0, err);
        last = t;
        if (over)
            break;
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double measured_end = r.measure_from;
    for (int i = 0; i < started; i++)
        if (w[i].last_done > measured_end)
            measured_end = w[i].last_done;
    scrape(&o, &mc, &after);
    if (after.ok && after.n_gpus) { /* the last sample too */
        util_sum += after.gpu_util_sum / after.n_gpus;
        if (after.gpu_util_max > util_max)
            util_max = after.gpu_util_max;
        if (after.gpu_mem_max > mem_peak)
            mem_peak = after.gpu_mem_max;
        util_samples++;
    }
    avf_http_close(mc);
    avf_bench_stats all;
    avf_bench_stats_init(&all);
    int connect_failures = 0;
    const char *no_response = "";
    for (int i = 0; i < started; i++) {
        if (!no_response[0] && w[i].no_response[0])
            no_response = w[i].no_response;
        avf_bench_stats_merge(&all, &w[i].stats);
        avf_bench_stats_free(&w[i].stats);
        if (w[i].failed_connect && !connect_failures++)
            fprintf(stderr, "avflow bench: %s\n", w[i].err);
    }
    avf_bench_summary s;
    /* The measured span: from the end of warm-up to the last measured answer. */
    avf_bench_summarize(&all, measured_end - r.measure_from, &s);
    print_summary(&o, &s, &all, no_response, &before, &after, util_samples ? util_sum / util_samples : 0,
                  util_max, mem_peak, util_samples);
    if (all.oom)
        fprintf(stderr, "avflow bench: out of memory storing latencies: percentiles partial\n");
    avf_bench_stats_free(&all);
    free(w);
    free(th);
    free(body);
    pthread_mutex_destroy(&r.mu);
    return s.ok > 0 ? 0 : 1;
}
