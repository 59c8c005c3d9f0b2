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
#include "serve/repo.h"
#include "serve/request.h"

struct avf_srv_residency {
    uint64_t budget;
    int n_pins;
    char pins[AVF_SRV_MAX_PINS][128];
    avf_srv_repo *repo;
    avf_pool *pool;
    pthread_mutex_t mu;          /* admission and eviction, one at a time */
    /* the watermark thread */
    pthread_mutex_t wm_mu;
    pthread_cond_t wm_cond;
    int wm_pending, wm_stop, started;
    pthread_t thread;
    atomic_uint_least64_t evictions_budget, evictions_watermark, refused, watermark_events;
};

avf_status avf_srv_residency_create(uint64_t budget_bytes, const char *const *pins, int n_pins,
                                    avf_srv_residency **out) {
    *out = NULL;
    AVF_CHECK_ARG(n_pins >= 0 && n_pins <= AVF_SRV_MAX_PINS && (n_pins == 0 || pins));
    avf_srv_residency *res = calloc(1, sizeof *res);
    if (!res)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "residency: out of memory");
    res->budget = budget_bytes;
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

static uint64_t resident_bytes(avf_srv_repo *repo, const char *except, int *count) {
    avf_srv_resident rows[256];
    int n = avf_srv_repo_residents(repo, rows, 256);
    uint64_t total = 0;
    int c = 0;
    for (int i = 0; i < n; i++)
        if (!except || strcmp(rows[i].name, except) != 0) {
            total += rows[i].weight_bytes + rows[i].arena_bytes;
            c++;
        }
    if (count)
        *count = c;
    return total;
}

avf_status avf_srv_residency_admit(avf_srv_residency *res, const char *name, uint64_t bytes) {
    AVF_CHECK_ARG(res && res->repo && name);
    pthread_mutex_lock(&res->mu);
    avf_status st = AVF_OK;
    if (res->budget && bytes > res->budget) {
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "the model needs %llu bytes, more than the whole "
                      "VRAM budget (%llu)", (unsigned long long)bytes,
                      (unsigned long long)res->budget);
    }
    while (st == AVF_OK && res->budget) {
        uint64_t used = resident_bytes(res->repo, name, NULL);
        if (used + bytes <= res->budget)
            break;
        if (avf_srv_repo_evict_lru(res->repo) != AVF_OK) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "the VRAM budget (%llu bytes) is taken by "
                          "busy or pinned models (%llu bytes); this model needs %llu",
                          (unsigned long long)res->budget, (unsigned long long)used,
                          (unsigned long long)bytes);
            break;
        }
        atomic_fetch_add(&res->evictions_budget, 1);
    }
    if (st == AVF_OK)
        avf_srv_repo_reserve(res->repo, name, bytes);
    else
        atomic_fetch_add(&res->refused, 1);
    pthread_mutex_unlock(&res->mu);
    return st;
}

void avf_srv_residency_on_watermark(avf_pool *pool, avf_pool_watermark level,
                                    const avf_pool_stats *stats, void *user) {
    avf_srv_residency *res = user;
    atomic_fetch_add(&res->watermark_events, 1);
    pthread_mutex_lock(&res->wm_mu);
    if (res->started && !res->wm_stop) {
        res->wm_pending++;
        pthread_cond_signal(&res->wm_cond);
    }
    pthread_mutex_unlock(&res->wm_mu);
}

static void *watermark_main(void *arg) {
    avf_srv_residency *res = arg;
    pthread_mutex_lock(&res->wm_mu);
    for (;;) {
        while (!res->wm_pending && !res->wm_stop)
            pthread_cond_wait(&res->wm_cond, &res->wm_mu);
        if (res->wm_stop)
            break;
        res->wm_pending--;
        pthread_mutex_unlock(&res->wm_mu);
        pthread_mutex_lock(&res->mu);
        if (avf_srv_repo_evict_lru(res->repo) == AVF_OK)
            atomic_fetch_add(&res->evictions_watermark, 1);
        pthread_mutex_unlock(&res->mu);
        pthread_mutex_lock(&res->wm_mu);
    }
    pthread_mutex_unlock(&res->wm_mu);
    return NULL;
}

avf_status avf_srv_residency_start(avf_srv_residency *res, avf_srv_repo *repo, avf_pool *pool) {
    AVF_CHECK_ARG(res && repo && pool && !res->started);
    res->repo = repo;
    res->pool = pool;
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
    out->budget_bytes = res->budget;
    if (res->repo)
        out->resident_bytes = resident_bytes(res->repo, NULL, &out->resident_count);
    out->evictions_budget = atomic_load(&res->evictions_budget);
    out->evictions_watermark = atomic_load(&res->evictions_watermark);
    out->evictions = out->evictions_budget + out->evictions_watermark;
    out->refused_loads = atomic_load(&res->refused);
    out->watermark_events = atomic_load(&res->watermark_events);
}

void avf_srv_residency_json(avf_srv_residency *res, avf_srv_buf *out) {
    avf_srv_residency_stats s;
    avf_srv_residency_get_stats(res, &s);
    avf_pool_stats ps = {0};
    if (res && res->pool)
        avf_pool_get_stats(res->pool, &ps);
    avf_srv_buf_printf(out,
                       "{\"budget_bytes\":%llu,\"resident_bytes\":%llu,\"resident_count\":%d,"
                       "\"evictions\":%llu,\"evictions_budget\":%llu,\"evictions_watermark\":%llu,"
                       "\"refused_loads\":%llu,\"watermark_events\":%llu,\"pool\":{"
                       "\"in_use_bytes\":%llu,\"reserved_bytes\":%llu,\"limit_bytes\":%llu,"
                       "\"peak_in_use_bytes\":%llu,\"failed_allocs\":%llu},\"models\":[",
                       (unsigned long long)s.budget_bytes, (unsigned long long)s.resident_bytes,
                       s.resident_count, (unsigned long long)s.evictions,
                       (unsigned long long)s.evictions_budget,
                       (unsigned long long)s.evictions_watermark,
                       (unsigned long long)s.refused_loads,
                       (unsigned long long)s.watermark_events,
                       (unsigned long long)ps.in_use_bytes, (unsigned long long)ps.reserved_bytes,
                       (unsigned long long)ps.limit_bytes,
                       (unsigned long long)ps.peak_in_use_bytes,
                       (unsigned long long)ps.failed_count);
    avf_srv_resident rows[256];
    int n = res && res->repo ? avf_srv_repo_residents(res->repo, rows, 256) : 0;
    uint64_t now = avf_srv_now_ns();
    for (int i = 0; i < n; i++) {
        const avf_srv_resident *x = &rows[i];
        double ago = x->last_used_ns && now > x->last_used_ns
                         ? (double)(now - x->last_used_ns) / 1e6 : 0.0;
        /* names are [A-Za-z0-9_.-] and versions digits: no JSON escaping needed */
        avf_srv_buf_printf(out,
                           "%s{\"name\":\"%s\",\"version\":\"%s\",\"state\":\"%s\",\"bytes\":%llu,"
                           "\"weight_bytes\":%llu,\"arena_bytes\":%llu,\"last_use_ms_ago\":%.1f,"
                           "\"pinned\":%s,\"busy\":%s}",
                           i ? "," : "", x->name, x->version, x->loading ? "LOADING" : "READY",
                           (unsigned long long)(x->weight_bytes + x->arena_bytes),
                           (unsigned long long)x->weight_bytes,
                           (unsigned long long)x->arena_bytes, ago,
                           x->pinned ? "true" : "false", x->busy ? "true" : "false");
    }
    avf_srv_buf_printf(out, "]}");
}
