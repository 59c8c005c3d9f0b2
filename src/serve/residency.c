/* The residency manager: budget admission, watermark-driven eviction, the
 * counters the metrics read, and /api/residency. The models themselves live
 * in the repository (repo.c); this file only decides which to unload. */
#include "serve/residency.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/log.h"
#include "core/error.h"
#include "serve/placement.h"
#include "serve/repo.h"
#include "serve/request.h"

struct avf_srv_residency {
    int n_pins;
    char pins[AVF_SRV_MAX_PINS][128];
    avf_srv_repo *repo;
    avf_srv_lanes *lanes;
    pthread_mutex_t mu;          /* admission and eviction, one at a time */
    /* the watermark thread: crossings pending per lane */
    pthread_mutex_t wm_mu;
    pthread_cond_t wm_cond;
    int wm_pending[AVF_SRV_MAX_LANES], wm_stop, started;
    pthread_t thread;
    atomic_uint_least64_t evictions_budget, evictions_watermark, refused, watermark_events;
};

avf_status avf_srv_residency_create(const char *const *pins, int n_pins,
                                    avf_srv_residency **out) {
    *out = NULL;
    AVF_CHECK_ARG(n_pins >= 0 && n_pins <= AVF_SRV_MAX_PINS && (n_pins == 0 || pins));
    avf_srv_residency *res = calloc(1, sizeof *res);
    if (!res)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "residency: out of memory");
    for (int i = 0; i < n_pins; i++) {
        if (!avf_srv_model_name_ok(pins[i])) {
            free(res);
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "pin: '%s' is not a model name", pins[i]);
        }
        memcpy(res->pins[i], pins[i], strlen(pins[i]) + 1);
    }
    res->n_pins = n_pins;
    pthread_mutex_init(&res->mu, NULL);
    pthread_mutex_init(&res->wm_mu, NULL);
    pthread_cond_init(&res->wm_cond, NULL);
    *out = res;
    return AVF_OK;
}

int avf_srv_residency_pinned(const avf_srv_residency *res, const char *name) {
    for (int i = 0; res && i < res->n_pins; i++)
        if (strcmp(res->pins[i], name) == 0)
            return 1;
    return 0;
}

#define MAX_ROWS 256

/* Resident bytes per lane (out[0..lanes->n)) of every model but `except`;
 * returns the number of models counted. rows: scratch of MAX_ROWS. */
static int lane_usage(avf_srv_residency *res, avf_srv_resident *rows, const char *except,
                      uint64_t *bytes, int *models) {
    int nl = res->lanes->n;
    for (int l = 0; l < nl; l++) {
        bytes[l] = 0;
        if (models)
            models[l] = 0;
    }
    int n = avf_srv_repo_residents(res->repo, rows, MAX_ROWS), c = 0;
    for (int i = 0; i < n; i++) {
        if (except && strcmp(rows[i].name, except) == 0)
            continue;
        c++;
        for (int l = 0; l < nl; l++)
            if (rows[i].lanes & (1u << l)) {
                bytes[l] += rows[i].weight_bytes + rows[i].lane_arena_bytes[l];
                if (models)
                    models[l]++;
            }
    }
    return c;
}

static avf_status place(avf_srv_residency *res, avf_srv_resident *rows, const char *name,
                        uint64_t bytes, uint32_t allowed, uint32_t *placed) {
    int nl = res->lanes->n;
    uint64_t used[AVF_SRV_MAX_LANES];
    avf_srv_place_lane pl[AVF_SRV_MAX_LANES];
    lane_usage(res, rows, name, used, NULL);
    for (int l = 0; l < nl; l++)
        pl[l] = (avf_srv_place_lane){res->lanes->lane[l].budget_bytes, used[l]};
    uint32_t fit = 0;
    int order[AVF_SRV_MAX_LANES], n_order = 0;
    AVF_TRY(avf_srv_place(nl, pl, allowed, bytes, &fit, order, &n_order));
    if (fit) {
        *placed = fit;
        return AVF_OK;
    }
    /* no room anywhere now: evict on one lane at a time (placement.h) */
    for (int k = 0; k < n_order; k++) {
        int l = order[k];
        for (;;) {
            lane_usage(res, rows, name, used, NULL);
            uint64_t budget = res->lanes->lane[l].budget_bytes;
            if (used[l] <= budget && bytes <= budget - used[l]) {
                *placed = 1u << l;
                return AVF_OK;
            }
            if (avf_srv_repo_evict_lru_on(res->repo, l) != AVF_OK)
                break;
            atomic_fetch_add(&res->evictions_budget, 1);
        }
    }
    int l = order[0];
    lane_usage(res, rows, name, used, NULL);
    return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "the VRAM budget (%llu bytes%s%s) is taken by "
                    "busy or pinned models (%llu bytes); this model needs %llu",
                    (unsigned long long)res->lanes->lane[l].budget_bytes, nl > 1 ? " on " : "",
                    nl > 1 ? res->lanes->lane[l].name : "", (unsigned long long)used[l],
                    (unsigned long long)bytes);
}

avf_status avf_srv_residency_admit(avf_srv_residency *res, const char *name, uint64_t bytes,
                                   uint32_t allowed, uint32_t *placed) {
    AVF_CHECK_ARG(res && res->repo && name && placed);
    *placed = 0;
    avf_srv_resident *rows = malloc(MAX_ROWS * sizeof *rows);
    if (!rows)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "residency: out of memory");
    pthread_mutex_lock(&res->mu);
    avf_status st = place(res, rows, name, bytes, allowed, placed);
    if (st == AVF_OK)
        avf_srv_repo_reserve(res->repo, name, bytes, *placed);
    else
        atomic_fetch_add(&res->refused, 1);
    pthread_mutex_unlock(&res->mu);
    free(rows);
    return st;
}

void avf_srv_residency_on_watermark(avf_pool *pool, avf_pool_watermark level,
                                    const avf_pool_stats *stats, void *user) {
    avf_srv_residency *res = user;
    atomic_fetch_add(&res->watermark_events, 1);
    pthread_mutex_lock(&res->wm_mu);
    int lane = res->started ? avf_srv_lanes_find_pool(res->lanes, pool) : -1;
    if (res->started && !res->wm_stop && lane >= 0) {
        res->wm_pending[lane]++;
        pthread_cond_signal(&res->wm_cond);
    }
    pthread_mutex_unlock(&res->wm_mu);
}

static void *watermark_main(void *arg) {
    avf_srv_residency *res = arg;
    pthread_mutex_lock(&res->wm_mu);
    for (;;) {
        int lane = -1;
        while (!res->wm_stop) {
            for (int l = 0; lane < 0 && l < res->lanes->n; l++)
                if (res->wm_pending[l])
                    lane = l;
            if (lane >= 0)
                break;
            pthread_cond_wait(&res->wm_cond, &res->wm_mu);
        }
        if (res->wm_stop)
            break;
        res->wm_pending[lane]--;
        pthread_mutex_unlock(&res->wm_mu);
        pthread_mutex_lock(&res->mu);
        /* the pool of `lane` is short: only models with a replica there help */
        if (avf_srv_repo_evict_lru_on(res->repo, lane) == AVF_OK)
            atomic_fetch_add(&res->evictions_watermark, 1);
        pthread_mutex_unlock(&res->mu);
        pthread_mutex_lock(&res->wm_mu);
    }
    pthread_mutex_unlock(&res->wm_mu);
    return NULL;
}

avf_status avf_srv_residency_start(avf_srv_residency *res, avf_srv_repo *repo) {
    AVF_CHECK_ARG(res && repo && !res->started);
    res->repo = repo;
    res->lanes = avf_srv_repo_lanes(repo);
    pthread_mutex_lock(&res->wm_mu);
    res->started = pthread_create(&res->thread, NULL, watermark_main, res) == 0;
    pthread_mutex_unlock(&res->wm_mu);
    if (!res->started)
        return AVF_FAIL(AVF_ERR_INTERNAL, "residency: cannot start the watermark thread");
    return AVF_OK;
}

void avf_srv_residency_stop(avf_srv_residency *res) {
    if (!res)
        return;
    pthread_mutex_lock(&res->wm_mu);
    int join = res->started && !res->wm_stop;
    res->wm_stop = 1;
    pthread_cond_broadcast(&res->wm_cond);
    pthread_mutex_unlock(&res->wm_mu);
    if (join)
        pthread_join(res->thread, NULL);
}

void avf_srv_residency_free(avf_srv_residency *res) {
    if (!res)
        return;
    avf_srv_residency_stop(res);
    pthread_cond_destroy(&res->wm_cond);
    pthread_mutex_destroy(&res->wm_mu);
    pthread_mutex_destroy(&res->mu);
    free(res);
}

void avf_srv_residency_get_stats(avf_srv_residency *res, avf_srv_residency_stats *out) {
    memset(out, 0, sizeof *out);
    if (!res)
        return;
    for (int l = 0; res->lanes && l < res->lanes->n; l++)
        out->budget_bytes += res->lanes->lane[l].budget_bytes;
    if (res->repo) {
        avf_srv_resident *rows = malloc(MAX_ROWS * sizeof *rows);
        uint64_t bytes[AVF_SRV_MAX_LANES];
        if (rows) {
            out->resident_count = lane_usage(res, rows, NULL, bytes, NULL);
            for (int l = 0; l < res->lanes->n; l++)
                out->resident_bytes += bytes[l];
        }
        free(rows);
    }
    out->evictions_budget = atomic_load(&res->evictions_budget);
    out->evictions_watermark = atomic_load(&res->evictions_watermark);
    out->evictions = out->evictions_budget + out->evictions_watermark;
    out->refused_loads = atomic_load(&res->refused);
    out->watermark_events = atomic_load(&res->watermark_events);
}

void avf_srv_residency_lane_usage(avf_srv_residency *res, int n, uint64_t *bytes, int *models) {
    for (int l = 0; l < n; l++) {
        bytes[l] = 0;
        models[l] = 0;
    }
    if (!res || !res->repo)
        return;
    avf_srv_resident *rows = malloc(MAX_ROWS * sizeof *rows);
    uint64_t b[AVF_SRV_MAX_LANES];
    int m[AVF_SRV_MAX_LANES];
    if (!rows)
        return;
    lane_usage(res, rows, NULL, b, m);
    free(rows);
    for (int l = 0; l < n && l < res->lanes->n; l++) {
        bytes[l] = b[l];
        models[l] = m[l];
    }
}

static void pool_json(avf_srv_buf *out, const avf_pool_stats *ps) {
    avf_srv_buf_printf(out,
                       "{\"in_use_bytes\":%llu,\"reserved_bytes\":%llu,\"limit_bytes\":%llu,"
                       "\"peak_in_use_bytes\":%llu,\"failed_allocs\":%llu}",
                       (unsigned long long)ps->in_use_bytes, (unsigned long long)ps->reserved_bytes,
                       (unsigned long long)ps->limit_bytes,
                       (unsigned long long)ps->peak_in_use_bytes,
                       (unsigned long long)ps->failed_count);
}

void avf_srv_residency_json(avf_srv_residency *res, avf_srv_buf *out) {
    avf_srv_residency_stats s;
    avf_srv_residency_get_stats(res, &s);
    avf_srv_lanes *lanes = res ? res->lanes : NULL;
    avf_pool_stats ps = {0};
    if (lanes)
        avf_pool_get_stats(lanes->lane[0].pool, &ps);
    avf_srv_buf_printf(out,
                       "{\"budget_bytes\":%llu,\"resident_bytes\":%llu,\"resident_count\":%d,"
                       "\"evictions\":%llu,\"evictions_budget\":%llu,\"evictions_watermark\":%llu,"
                       "\"refused_loads\":%llu,\"watermark_events\":%llu,\"pool\":",
                       (unsigned long long)s.budget_bytes, (unsigned long long)s.resident_bytes,
                       s.resident_count, (unsigned long long)s.evictions,
                       (unsigned long long)s.evictions_budget,
                       (unsigned long long)s.evictions_watermark,
                       (unsigned long long)s.refused_loads,
                       (unsigned long long)s.watermark_events);
    pool_json(out, &ps);
    avf_srv_buf_printf(out, ",\"devices\":[");
    uint64_t bytes[AVF_SRV_MAX_LANES];
    int models[AVF_SRV_MAX_LANES];
    int nl = lanes ? lanes->n : 0;
    avf_srv_residency_lane_usage(res, nl, bytes, models);
    for (int l = 0; l < nl; l++) {
        avf_pool_stats lp = {0};
        avf_pool_get_stats(lanes->lane[l].pool, &lp);
        /* device names are [a-z0-9:]: no JSON escaping needed */
        avf_srv_buf_printf(out, "%s{\"name\":\"%s\",\"budget_bytes\":%llu,\"resident_bytes\":"
                           "%llu,\"resident_count\":%d,\"pool\":", l ? "," : "",
                           lanes->lane[l].name, (unsigned long long)lanes->lane[l].budget_bytes,
                           (unsigned long long)bytes[l], models[l]);
        pool_json(out, &lp);
        avf_srv_buf_printf(out, "}");
    }
    avf_srv_buf_printf(out, "],\"models\":[");
    avf_srv_resident *rows = res && res->repo ? malloc(MAX_ROWS * sizeof *rows) : NULL;
    int n = rows ? avf_srv_repo_residents(res->repo, rows, MAX_ROWS) : 0;
    uint64_t now = avf_srv_now_ns();
    for (int i = 0; i < n; i++) {
        const avf_srv_resident *x = &rows[i];
        double ago = x->last_used_ns && now > x->last_used_ns
                         ? (double)(now - x->last_used_ns) / 1e6 : 0.0;
        uint64_t arena = 0;
        int replicas = 0;
        for (int l = 0; l < nl; l++)
            if (x->lanes & (1u << l)) {
                arena += x->lane_arena_bytes[l];
                replicas++;
            }
        if (nl == 1)
            arena = x->arena_bytes; /* every device's plans, as before lanes */
        /* names are [A-Za-z0-9_.-] and versions digits: no JSON escaping needed */
        avf_srv_buf_printf(out,
                           "%s{\"name\":\"%s\",\"version\":\"%s\",\"state\":\"%s\",\"bytes\":%llu,"
                           "\"weight_bytes\":%llu,\"arena_bytes\":%llu,\"last_use_ms_ago\":%.1f,"
                           "\"pinned\":%s,\"busy\":%s,\"devices\":[",
                           i ? "," : "", x->name, x->version, x->loading ? "LOADING" : "READY",
                           (unsigned long long)(x->weight_bytes * (uint64_t)(replicas ? replicas : 1)
                                                + arena),
                           (unsigned long long)x->weight_bytes,
                           (unsigned long long)arena, ago,
                           x->pinned ? "true" : "false", x->busy ? "true" : "false");
        for (int l = 0, k = 0; l < nl; l++)
            if (x->lanes & (1u << l))
                avf_srv_buf_printf(out, "%s\"%s\"", k++ ? "," : "", lanes->lane[l].name);
        avf_srv_buf_printf(out, "]}");
    }
    free(rows);
    avf_srv_buf_printf(out, "]}");
}
