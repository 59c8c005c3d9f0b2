/* libavf_kernel_trace.so: per-kernel GPU time of everything a process runs
 * inside CUDA graphs (avflow's captured plans), through CUPTI's activity
 * API. Preload it into any benchmark:
 *
 *   AVF_KTRACE_OUT=trace.txt LD_PRELOAD=libavf_kernel_trace.so bench_engine ...
 *
 * At exit it writes one line per kernel name (count, total and mean GPU
 * time, share), sorted by total. Only kernels launched from graphs are
 * counted (graphId != 0), so the interpreter's warm-up runs do not mix in;
 * AVF_KTRACE_ALL=1 counts every kernel. Profiling tool, not part of
 * libavflow: CUPTI serializes nothing here (concurrent-kernel records), but
 * the buffers cost a little host time. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cupti.h>

#define BUF_SIZE (8u << 20)
#define MAX_NAMES 4096

typedef struct row {
    char *name;
    uint64_t count, ns;
} row;

static row g_rows[MAX_NAMES];
static int g_n;
static int g_all;
static uint64_t g_dropped;

static void add(const char *name, uint64_t ns) {
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_rows[i].name, name) == 0) {
            g_rows[i].count++;
            g_rows[i].ns += ns;
            return;
        }
    if (g_n == MAX_NAMES) {
        g_dropped++;
        return;
    }
    g_rows[g_n].name = strdup(name);
    g_rows[g_n].count = 1;
    g_rows[g_n].ns = ns;
    g_n++;
}

static void trace_report(void);

static void CUPTIAPI buffer_requested(uint8_t **buf, size_t *size, size_t *max_records) {
    /* Registered here, after the CUDA runtime registered its own exit
     * handler, so that ours runs first, while CUPTI can still flush. */
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(trace_report);
    }
    *buf = aligned_alloc(8, BUF_SIZE);
    *size = *buf ? BUF_SIZE : 0;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buf, size_t size,
                                      size_t valid) {
    (void)ctx, (void)stream, (void)size;
    CUpti_Activity *rec = NULL;
    while (cuptiActivityGetNextRecord(buf, valid, &rec) == CUPTI_SUCCESS) {
        if (rec->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL &&
            rec->kind != CUPTI_ACTIVITY_KIND_KERNEL)
            continue;
        const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)rec;
        if (!g_all && k->graphId == 0)
            continue;
        add(k->name ? k->name : "?", k->end - k->start);
    }
    free(buf);
}

static int by_ns(const void *a, const void *b) {
    uint64_t x = ((const row *)a)->ns, y = ((const row *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

__attribute__((constructor)) static void trace_start(void) {
    g_all = getenv("AVF_KTRACE_ALL") != NULL;
    if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS)
        fprintf(stderr, "kernel_trace: CUPTI unavailable, nothing will be traced\n");
}

static void trace_report(void) {
    cuptiActivityFlushAll(1);
    const char *path = getenv("AVF_KTRACE_OUT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f)
        f = stderr;
    uint64_t total = 0, count = 0;
    for (int i = 0; i < g_n; i++) {
        total += g_rows[i].ns;
        count += g_rows[i].count;
    }
    qsort(g_rows, (size_t)g_n, sizeof g_rows[0], by_ns);
    fprintf(f, "# kernel_trace: %llu kernels, %.3f ms GPU time in total (%s)%s\n",
            (unsigned long long)count, total / 1e6, g_all ? "all kernels" : "graph kernels only",
            g_dropped ? ", some names dropped" : "");
    fprintf(f, "%10s %12s %10s %7s  %s\n", "count", "total_ms", "mean_us", "share", "kernel");
    for (int i = 0; i < g_n; i++)
        fprintf(f, "%10llu %12.3f %10.2f %6.1f%%  %.200s\n", (unsigned long long)g_rows[i].count,
                g_rows[i].ns / 1e6, g_rows[i].ns / 1e3 / (double)g_rows[i].count,
                total ? 100.0 * (double)g_rows[i].ns / (double)total : 0.0, g_rows[i].name);
    if (f != stderr)
        fclose(f);
    g_n = 0;
}
