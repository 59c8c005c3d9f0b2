/* bench_pool: what an allocation costs with avf_pool, raw cudaMalloc/cudaFree
 * and stream-ordered cudaMallocAsync/cudaFreeAsync, replaying one
 * inference-shaped trace side by side.
 *
 * The trace (seeded, deterministic) interleaves several streams. Each stream
 * serves requests of a model of its own: per request a batch and a length
 * bucket scale the layer shapes; each layer allocates an activation
 * (64 KiB - 64 MiB, the layer input freed once the output exists, some kept
 * for skip connections) and a few small tensors (512 B - 256 KiB), most of
 * them temporaries freed at once in LIFO order; now and then a request needs a
 * large buffer (100 - 500 MiB). Everything a request allocated is freed by its
 * end, so the live set is bounded and every replay starts empty.
 *
 * Each allocator replays the trace once untimed (warm-up; for the pools that
 * is reported as the cold replay) and then R times timed; medians are
 * reported. The whole trace runs twice, in one process:
 *  - "api": nothing but the allocate/free calls, timed end to end (host
 *    monotonic clock around the replay and a final cudaDeviceSynchronize).
 *    This is the allocator's own cost, and the targets are judged on it.
 *  - "work": each allocation also gets a 256-byte cudaMemsetAsync on its
 *    stream, the same for every allocator, so stream ordering is exercised
 *    and cudaMalloc/cudaFree's implicit synchronization shows. The launches
 *    cost about a microsecond each for everyone, so this ratio is smaller.
 * CUDA events on each stream give the device-side span of a replay as a
 * cross-check.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "avflow.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define MAX_STREAMS 16
#define MAX_LAYERS 16
#define MAX_SMALL 6

#define CK(call)                                                                          \
    do {                                                                                  \
        cudaError_t ck_e_ = (call);                                                       \
        if (ck_e_ != cudaSuccess) {                                                       \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call,      \
                    cudaGetErrorString(ck_e_), cudaGetErrorName(ck_e_));                  \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

#define AK(call)                                                                          \
    do {                                                                                  \
        avf_status ak_s_ = (call);                                                        \
        if (ak_s_ != AVF_OK) {                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,       \
                    avf_status_name(ak_s_), avf_last_error());                            \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* ------------------------------------------------------------------ trace */

typedef struct trace_op {
    size_t size;     /* allocation size (alloc ops) */
    uint32_t slot;   /* index of the pointer in the replay's table */
    uint8_t stream;
    uint8_t is_alloc;
} trace_op;

typedef struct trace {
    trace_op *ops;
    size_t n, cap;
    size_t allocs, frees;
    uint32_t nslots;
    uint64_t peak_live_bytes; /* requested bytes live at the worst point */
    size_t peak_op;           /* index of the op after which that is reached */
    size_t small_allocs, act_allocs, large_allocs;
} trace;

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Log-uniform in [lo, hi], a multiple of 64 bytes. */
static size_t rng_logsize(uint64_t *s, size_t lo, size_t hi) {
    double l = (double)lo, h = (double)hi;
    double v = l * pow(h / l, rng_unit(s));
    size_t r = (size_t)v / 64 * 64;
    return r < lo ? lo : r > hi ? hi : r;
}

typedef struct model {
    int nlayers;
    size_t act_unit[MAX_LAYERS]; /* activation bytes per unit of batch x length */
    int nsmall[MAX_LAYERS];
    size_t small[MAX_LAYERS][MAX_SMALL];
    int small_scales[MAX_LAYERS][MAX_SMALL]; /* 1: grows with the batch */
    int small_kept[MAX_LAYERS][MAX_SMALL];   /* 1: lives to the end of the request */
    int skip[MAX_LAYERS];                    /* 1: the layer's output feeds a later layer */
    size_t large[3];                         /* the model's occasional big buffers */
} model;

/* One stream's ops, generated a request at a time and drained into the trace. */
typedef struct gen_stream {
    model m;
    trace_op *q;
    size_t qn, qi, qcap;
} gen_stream;

typedef struct slots {
    uint32_t *free_ids;
    size_t nfree, cap;
    uint32_t next;
} slots;

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", n);
        exit(1);
    }
    return q;
}

static uint32_t slot_get(slots *sl) {
    if (sl->nfree)
        return sl->free_ids[--sl->nfree];
    return sl->next++;
}

static void slot_put(slots *sl, uint32_t id) {
    if (sl->nfree == sl->cap) {
        sl->cap = sl->cap ? sl->cap * 2 : 256;
        sl->free_ids = xrealloc(sl->free_ids, sl->cap * sizeof *sl->free_ids);
    }
    sl->free_ids[sl->nfree++] = id;
}

static void q_push(gen_stream *g, size_t size, uint32_t slot, int is_alloc) {
    if (g->qn == g->qcap) {
        g->qcap = g->qcap ? g->qcap * 2 : 256;
        g->q = xrealloc(g->q, g->qcap * sizeof *g->q);
    }
    g->q[g->qn++] = (trace_op){size, slot, 0, (uint8_t)is_alloc};
}

static size_t clampz(size_t v, size_t lo, size_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void model_make(model *m, uint64_t *rng) {
    m->nlayers = 6 + (int)(rng_next(rng) % 11); /* 6..16 */
    for (int l = 0; l < m->nlayers; l++) {
        m->act_unit[l] = rng_logsize(rng, 64 * KIB / 8, 2 * MIB); /* x 1..32 */
        m->nsmall[l] = 2 + (int)(rng_next(rng) % 5);               /* 2..6 */
        for (int j = 0; j < m->nsmall[l]; j++) {
            m->small[l][j] = rng_logsize(rng, 512, 64 * KIB);
            m->small_scales[l][j] = (rng_next(rng) % 2) == 0;
            m->small_kept[l][j] = (rng_next(rng) % 10) < 3;
        }
        m->skip[l] = (rng_next(rng) % 10) == 0;
    }
    for (int i = 0; i < 3; i++)
        m->large[i] = rng_logsize(rng, 100 * MIB, 500 * MIB);
}

/* Append one request of stream g's model to its queue. Slots are taken here
 * and given back when the free op is emitted into the trace. */
static size_t gen_request(gen_stream *g, uint64_t *rng, slots *sl, unsigned large_pct, trace *t) {
    const model *m = &g->m;
    g->qn = g->qi = 0;
    size_t batch = (size_t)1 << (rng_next(rng) % 4); /* 1, 2, 4, 8 */
    size_t length = 1 + (size_t)(rng_next(rng) % 4);  /* length bucket 1..4 */
    size_t allocs = 0;
    uint32_t kept[MAX_LAYERS * MAX_SMALL + MAX_LAYERS], temps[MAX_SMALL];
    int nkept = 0;
    int large = (rng_next(rng) % 100) < large_pct;
    uint32_t large_slot = 0;
    if (large) {
        large_slot = slot_get(sl);
        q_push(g, m->large[rng_next(rng) % 3], large_slot, 1);
        t->large_allocs++;
        allocs++;
    }
    int have_prev = 0;
    uint32_t prev = 0;
    for (int l = 0; l < m->nlayers; l++) {
        uint32_t act = slot_get(sl);
        q_push(g, clampz(m->act_unit[l] * batch * length, 64 * KIB, 64 * MIB), act, 1);
        t->act_allocs++;
        allocs++;
        int ntemp = 0;
        for (int j = 0; j < m->nsmall[l]; j++) {
            uint32_t id = slot_get(sl);
            size_t sz = m->small[l][j] * (m->small_scales[l][j] ? batch : 1);
            q_push(g, clampz(sz, 512, 256 * KIB), id, 1);
            t->small_allocs++;
            allocs++;
            if (m->small_kept[l][j])
                kept[nkept++] = id;
            else
                temps[ntemp++] = id;
        }
        while (ntemp > 0) /* temporaries die in LIFO order */
            q_push(g, 0, temps[--ntemp], 0);
        if (have_prev) {
            if (m->skip[l - 1])
                kept[nkept++] = prev; /* needed again later in the request */
            else
                q_push(g, 0, prev, 0);
        }
        prev = act;
        have_prev = 1;
    }
    if (have_prev)
        q_push(g, 0, prev, 0);
    while (nkept > 0)
        q_push(g, 0, kept[--nkept], 0);
    if (large)
        q_push(g, 0, large_slot, 0);
    return allocs;
}

static void trace_push(trace *t, trace_op op) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->ops = xrealloc(t->ops, t->cap * sizeof *t->ops);
    }
    t->ops[t->n++] = op;
}

static void trace_build(trace *t, size_t target_allocs, int nstreams, uint64_t seed, unsigned large_pct) {
    memset(t, 0, sizeof *t);
    uint64_t rng = seed ? seed : 1;
    gen_stream g[MAX_STREAMS];
    memset(g, 0, sizeof g);
    for (int k = 0; k < nstreams; k++)
        model_make(&g[k].m, &rng);
    slots sl = {0};
    size_t *slot_size = NULL;
    size_t slot_cap = 0;
    size_t allocs_started = 0;
    int active = nstreams;
    int done[MAX_STREAMS] = {0};
    uint64_t live = 0;
    while (active > 0) {
        int k = (int)(rng_next(&rng) % (uint64_t)nstreams);
        if (done[k])
            continue;
        gen_stream *gs = &g[k];
        if (gs->qi == gs->qn) {
            if (allocs_started >= target_allocs) {
                done[k] = 1;
                active--;
                continue;
            }
            allocs_started += gen_request(gs, &rng, &sl, large_pct, t);
        }
        trace_op op = gs->q[gs->qi++];
        op.stream = (uint8_t)k;
        if (op.slot >= slot_cap) {
            size_t nc = slot_cap ? slot_cap : 256;
            while (nc <= op.slot)
                nc *= 2;
            slot_size = xrealloc(slot_size, nc * sizeof *slot_size);
            memset(slot_size + slot_cap, 0, (nc - slot_cap) * sizeof *slot_size);
            slot_cap = nc;
        }
        if (op.is_alloc) {
            slot_size[op.slot] = op.size;
            live += op.size;
            t->allocs++;
        } else {
            live -= slot_size[op.slot];
            slot_put(&sl, op.slot);
            t->frees++;
        }
        trace_push(t, op);
        if (live > t->peak_live_bytes) {
            t->peak_live_bytes = live;
            t->peak_op = t->n - 1;
        }
    }
    t->nslots = sl.next;
    for (int k = 0; k < nstreams; k++)
        free(g[k].q);
    free(sl.free_ids);
    free(slot_size);
}

/* ----------------------------------------------------------------- replay */

typedef enum alloc_kind { K_MALLOC = 0, K_ASYNC = 1, K_AVF = 2, K_COUNT } alloc_kind;
static const char *const kind_name[K_COUNT] = {"cudaMalloc", "cudaMallocAsync", "avf_pool"};

typedef struct bench_ctx {
    int nstreams;
    int memset_on;
    cudaStream_t cs[MAX_STREAMS];
    avf_stream *as[MAX_STREAMS];
    cudaEvent_t ev_start[MAX_STREAMS], ev_end[MAX_STREAMS];
    avf_pool *pool;
    void **ptrs;
    avf_pool_stats at_peak; /* avf_pool stats at the trace's peak */
} bench_ctx;

typedef struct replay_time {
    double wall_ns;   /* whole replay + device synchronize */
    double device_ms; /* longest stream span between CUDA events */
} replay_time;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static replay_time replay(bench_ctx *c, const trace *t, alloc_kind kind) {
    replay_time r = {0, 0};
    for (int k = 0; k < c->nstreams; k++)
        CK(cudaEventRecord(c->ev_start[k], c->cs[k]));
    double t0 = now_ns();
    for (size_t i = 0; i < t->n; i++) {
        const trace_op *op = &t->ops[i];
        cudaStream_t st = c->cs[op->stream];
        void *p = NULL;
        if (op->is_alloc) {
            switch (kind) {
            case K_MALLOC: CK(cudaMalloc(&p, op->size)); break;
            case K_ASYNC: CK(cudaMallocAsync(&p, op->size, st)); break;
            default: AK(avf_pool_alloc(c->pool, op->size, c->as[op->stream], &p)); break;
            }
            c->ptrs[op->slot] = p;
            if (c->memset_on)
                CK(cudaMemsetAsync(p, 0, op->size < 256 ? op->size : 256, st));
        } else {
            p = c->ptrs[op->slot];
            c->ptrs[op->slot] = NULL;
            switch (kind) {
            case K_MALLOC: CK(cudaFree(p)); break;
            case K_ASYNC: CK(cudaFreeAsync(p, st)); break;
            default: AK(avf_pool_free(c->pool, p, c->as[op->stream])); break;
            }
        }
        if (kind == K_AVF && i == t->peak_op)
            AK(avf_pool_get_stats(c->pool, &c->at_peak));
    }
    for (int k = 0; k < c->nstreams; k++)
        CK(cudaEventRecord(c->ev_end[k], c->cs[k]));
    CK(cudaDeviceSynchronize());
    r.wall_ns = now_ns() - t0;
    for (int k = 0; k < c->nstreams; k++) {
        float ms = 0.0f;
        CK(cudaEventElapsedTime(&ms, c->ev_start[k], c->ev_end[k]));
        if (ms > r.device_ms)
            r.device_ms = ms;
    }
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct result {
    replay_time cold;
    double wall_ns, device_ms; /* medians of the timed replays */
} result;

/* One untimed replay (the cold one), then `reps` timed ones. */
static result run_kind(bench_ctx *c, const trace *t, alloc_kind kind, int reps) {
    result res;
    memset(&res, 0, sizeof res);
    res.cold = replay(c, t, kind);
    double *w = calloc((size_t)reps, sizeof *w), *d = calloc((size_t)reps, sizeof *d);
    if (!w || !d) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    if (kind == K_AVF)
        avf_pool_reset_counters(c->pool); /* warm statistics from here on */
    for (int i = 0; i < reps; i++) {
        replay_time r = replay(c, t, kind);
        w[i] = r.wall_ns;
        d[i] = r.device_ms;
    }
    res.wall_ns = median(w, reps);
    res.device_ms = median(d, reps);
    free(w);
    free(d);
    return res;
}

/* One phase: every allocator over the trace, with or without memsets. */
typedef struct phase {
    result res[K_COUNT];
    avf_pool_stats cold_st, warm_st, peak_st;
} phase;

static void run_phase(bench_ctx *c, const trace *t, avf_device *dev, int devidx, int reps,
                      int memset_on, phase *ph) {
    memset(ph, 0, sizeof *ph);
    c->memset_on = memset_on;
    /* (a) raw cudaMalloc/cudaFree: nothing persists between replays. */
    ph->res[K_MALLOC] = run_kind(c, t, K_MALLOC, reps);

    /* (b) the device's default memory pool, caching everything. */
    cudaMemPool_t mp;
    CK(cudaDeviceGetDefaultMemPool(&mp, devidx));
    uint64_t threshold = UINT64_MAX;
    CK(cudaMemPoolSetAttribute(mp, cudaMemPoolAttrReleaseThreshold, &threshold));
    CK(cudaMemPoolTrimTo(mp, 0)); /* so its first replay is cold */
    ph->res[K_ASYNC] = run_kind(c, t, K_ASYNC, reps);
    CK(cudaDeviceSynchronize());
    CK(cudaMemPoolTrimTo(mp, 0));

    /* (c) a fresh avf_pool, default configuration (no cap). */
    AK(avf_pool_create(dev, NULL, &c->pool));
    ph->res[K_AVF] = run_kind(c, t, K_AVF, reps);
    /* run_kind reset the counters after the cold replay, so the cold figures
     * are taken from a second pool's first replay. */
    AK(avf_pool_get_stats(c->pool, &ph->warm_st));
    ph->peak_st = c->at_peak;
    avf_pool_free_all(c->pool);
    AK(avf_pool_create(dev, NULL, &c->pool));
    (void)replay(c, t, K_AVF);
    AK(avf_pool_get_stats(c->pool, &ph->cold_st));
    avf_pool_free_all(c->pool);
    c->pool = NULL;
}

static void print_phase(const char *title, const phase *ph, double nops) {
    printf("\n%s\n", title);
    printf("%-16s %12s %12s %16s\n", "allocator", "ns/op", "device ms", "cold ns/op");
    for (int k = 0; k < K_COUNT; k++) {
        printf("%-16s %12.1f %12.3f", kind_name[k], ph->res[k].wall_ns / nops, ph->res[k].device_ms);
        if (k == K_MALLOC)
            printf(" %16s\n", "-");
        else
            printf(" %16.1f\n", ph->res[k].cold.wall_ns / nops);
    }
    printf("ratio cudaMalloc/avf_pool: %.1fx   cudaMallocAsync/avf_pool: %.2fx\n",
           ph->res[K_MALLOC].wall_ns / ph->res[K_AVF].wall_ns,
           ph->res[K_ASYNC].wall_ns / ph->res[K_AVF].wall_ns);
}

static void json_phase(FILE *f, const char *name, const phase *ph, double nops, int last) {
    fprintf(f, "    \"%s\": {\n", name);
    for (int k = 0; k < K_COUNT; k++)
        fprintf(f,
                "      \"%s\": {\"ns_per_op\": %.2f, \"device_ms\": %.4f, "
                "\"cold_ns_per_op\": %.2f},\n",
                kind_name[k], ph->res[k].wall_ns / nops, ph->res[k].device_ms,
                ph->res[k].cold.wall_ns / nops);
    fprintf(f,
            "      \"ratio_cudaMalloc_over_avf\": %.3f, \"ratio_cudaMallocAsync_over_avf\": %.3f,\n"
            "      \"avf_cold_reuse_rate\": %.6f, \"avf_warm_reuse_rate\": %.6f, "
            "\"avf_warm_stolen\": %" PRIu64 ", \"avf_warm_driver_allocs\": %" PRIu64 ", "
            "\"avf_fragmentation_at_peak\": %.6f, \"avf_peak_reserved_bytes\": %" PRIu64 "\n"
            "    }%s\n",
            ph->res[K_MALLOC].wall_ns / ph->res[K_AVF].wall_ns,
            ph->res[K_ASYNC].wall_ns / ph->res[K_AVF].wall_ns, ph->cold_st.reuse_rate,
            ph->warm_st.reuse_rate, ph->warm_st.stolen_count, ph->warm_st.driver_alloc_count,
            ph->peak_st.fragmentation, ph->warm_st.peak_reserved_bytes, last ? "" : ",");
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_pool [options]\n"
            "Replays an inference-shaped allocation trace against cudaMalloc/cudaFree,\n"
            "cudaMallocAsync/cudaFreeAsync (default pool, release threshold UINT64_MAX) and\n"
            "avf_pool, and checks the targets: avf_pool >= 50x faster than cudaMalloc and\n"
            "at least as fast as cudaMallocAsync, per op, on the median replay time of\n"
            "the allocate/free calls alone. A second phase adds a 256-byte memset per\n"
            "allocation to show the cost with work in the streams.\n"
            "\n"
            "  --ops N        allocations in the trace (default 20000, at least 10000)\n"
            "  --streams N    streams, 1..%d (default 4)\n"
            "  --reps R       timed replays per allocator; the median is reported (default 5)\n"
            "  --seed S       trace seed (default 1)\n"
            "  --large-pct P  percent of requests that take a 100-500 MiB buffer (default 3)\n"
            "  --device N     CUDA device (default 0)\n"
            "  --no-work      skip the second phase (memset per allocation)\n"
            "  --json FILE    also write the results as JSON\n"
            "  --help         this text\n"
            "\n"
            "Exit status: 0 when the targets are met, 2 when not, 1 on errors.\n",
            MAX_STREAMS);
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    long ops = 20000, nstreams = 4, reps = 5, seed = 1, large_pct = 3, devidx = 0;
    int work_on = 1;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long *target = NULL, lo = 0, hi = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-work")) {
            work_on = 0;
            continue;
        } else if (!strcmp(a, "--json") && i + 1 < argc) {
            json = argv[++i];
            continue;
        } else if (!strcmp(a, "--ops")) {
            target = &ops, lo = 10000, hi = 100000000;
        } else if (!strcmp(a, "--streams")) {
            target = &nstreams, lo = 1, hi = MAX_STREAMS;
        } else if (!strcmp(a, "--reps")) {
            target = &reps, lo = 1, hi = 1000;
        } else if (!strcmp(a, "--seed")) {
            target = &seed, lo = 0, hi = 0x7fffffffL;
        } else if (!strcmp(a, "--large-pct")) {
            target = &large_pct, lo = 0, hi = 100;
        } else if (!strcmp(a, "--device")) {
            target = &devidx, lo = 0, hi = 1023;
        }
        if (!target || i + 1 >= argc || parse_long(argv[++i], lo, hi, target) != 0) {
            fprintf(stderr, "bench_pool: bad argument '%s' (or its value)\n\n", a);
            usage(stderr);
            return 1;
        }
    }

    trace t;
    trace_build(&t, (size_t)ops, (int)nstreams, (uint64_t)seed, (unsigned)large_pct);

    avf_device *dev = NULL;
    AK(avf_device_get(AVF_DEVICE_CUDA, (int)devidx, &dev));
    avf_device_props props;
    AK(avf_device_get_props(dev, &props));
    CK(cudaSetDevice((int)devidx));
    int rt = 0, drv = 0;
    CK(cudaRuntimeGetVersion(&rt));
    CK(cudaDriverGetVersion(&drv));

    bench_ctx c;
    memset(&c, 0, sizeof c);
    c.nstreams = (int)nstreams;
    for (int k = 0; k < c.nstreams; k++) {
        AK(avf_stream_create(dev, &c.as[k]));
        c.cs[k] = (cudaStream_t)avf_stream_native(c.as[k]);
        CK(cudaEventCreate(&c.ev_start[k]));
        CK(cudaEventCreate(&c.ev_end[k]));
    }
    c.ptrs = calloc(t.nslots ? t.nslots : 1, sizeof *c.ptrs);
    if (!c.ptrs) {
        fprintf(stderr, "out of host memory\n");
        return 1;
    }

    printf("bench_pool: %s (cuda:%ld), CUDA runtime %d.%d, driver %d.%d\n", props.name, devidx,
           rt / 1000, rt % 1000 / 10, drv / 1000, drv % 1000 / 10);
    printf("trace: seed %ld, %ld streams, %zu ops (%zu allocs: %zu small, %zu activations, "
           "%zu large; %zu frees), peak live %.1f MiB requested\n",
           seed, nstreams, t.n, t.allocs, t.small_allocs, t.act_allocs, t.large_allocs, t.frees,
           (double)t.peak_live_bytes / (double)MIB);

    /* Wake the device and its clocks up once before anything is timed. */
    {
        void *w = NULL;
        CK(cudaMalloc(&w, MIB));
        for (int k = 0; k < c.nstreams; k++)
            CK(cudaMemsetAsync(w, 0, MIB, c.cs[k]));
        CK(cudaDeviceSynchronize());
        CK(cudaFree(w));
    }

    double nops = (double)t.n;
    phase api, work;
    run_phase(&c, &t, dev, (int)devidx, (int)reps, 0, &api);
    print_phase("api: allocate/free calls only (targets judged here)", &api, nops);
    if (work_on) {
        run_phase(&c, &t, dev, (int)devidx, (int)reps, 1, &work);
        print_phase("work: plus a 256-byte cudaMemsetAsync per allocation", &work, nops);
    }

    const phase *ph = &api;
    printf("\navf cold replay: reuse rate %.4f, %" PRIu64 " driver allocations, peak reserved %.1f MiB\n",
           ph->cold_st.reuse_rate, ph->cold_st.driver_alloc_count,
           (double)ph->cold_st.peak_reserved_bytes / (double)MIB);
    printf("avf warm replays: reuse rate %.4f (%" PRIu64 " of %" PRIu64 "), %" PRIu64
           " stolen, %" PRIu64 " driver allocations\n",
           ph->warm_st.reuse_rate, ph->warm_st.reused_count, ph->warm_st.alloc_count,
           ph->warm_st.stolen_count, ph->warm_st.driver_alloc_count);
    printf("avf at the trace's peak: in use %.1f MiB, reserved %.1f MiB, fragmentation %.3f\n",
           (double)ph->peak_st.in_use_bytes / (double)MIB,
           (double)ph->peak_st.reserved_bytes / (double)MIB, ph->peak_st.fragmentation);
    printf("avf peak reserved %.1f MiB vs peak requested %.1f MiB (%.2fx)\n",
           (double)ph->warm_st.peak_reserved_bytes / (double)MIB,
           (double)t.peak_live_bytes / (double)MIB,
           (double)ph->warm_st.peak_reserved_bytes / (double)t.peak_live_bytes);

    double r_malloc = api.res[K_MALLOC].wall_ns / api.res[K_AVF].wall_ns;
    double r_async = api.res[K_ASYNC].wall_ns / api.res[K_AVF].wall_ns;
    int pass = r_malloc >= 50.0 && r_async >= 1.0;
    printf("\n%s: avf_pool %.1fx faster than cudaMalloc/cudaFree (target 50x), %.2fx vs "
           "cudaMallocAsync (target >= 1.0x), median replay time per op, api phase\n",
           pass ? "PASS" : "FAIL", r_malloc, r_async);

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "bench_pool: cannot write %s: %s\n", json, strerror(errno));
            return 1;
        }
        char date[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(f, "{\n  \"bench\": \"pool\",\n  \"date\": \"%s\",\n  \"device\": \"%s\",\n", date,
                props.name);
        fprintf(f, "  \"cuda_runtime\": %d,\n  \"cuda_driver\": %d,\n  \"reps\": %ld,\n", rt, drv, reps);
        fprintf(f,
                "  \"trace\": {\"seed\": %ld, \"streams\": %ld, \"ops\": %zu, \"allocs\": %zu, "
                "\"frees\": %zu, \"small\": %zu, \"activations\": %zu, \"large\": %zu, "
                "\"peak_requested_bytes\": %" PRIu64 "},\n",
                seed, nstreams, t.n, t.allocs, t.frees, t.small_allocs, t.act_allocs,
                t.large_allocs, t.peak_live_bytes);
        fprintf(f, "  \"phases\": {\n");
        json_phase(f, "api", &api, nops, !work_on);
        if (work_on)
            json_phase(f, "work", &work, nops, 1);
        fprintf(f, "  },\n");
        fprintf(f, "  \"targets\": {\"vs_cudaMalloc\": 50.0, \"vs_cudaMallocAsync\": 1.0},\n");
        fprintf(f, "  \"pass\": %s\n}\n", pass ? "true" : "false");
        if (fclose(f) != 0) {
            fprintf(stderr, "bench_pool: writing %s failed\n", json);
            return 1;
        }
    }

    for (int k = 0; k < c.nstreams; k++) {
        CK(cudaEventDestroy(c.ev_start[k]));
        CK(cudaEventDestroy(c.ev_end[k]));
        avf_stream_free(c.as[k]);
    }
    free(c.ptrs);
    free(t.ops);
    return pass ? 0 : 2;
}
