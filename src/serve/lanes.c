/* The lane set: a pool per device and the load counters routing reads. */
#include "serve/lanes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

avf_status avf_srv_lanes_create(avf_device *const *devs, int n, const avf_pool_config *pc,
                                const uint64_t *budgets, avf_srv_lanes **out) {
    *out = NULL;
    AVF_CHECK_ARG(devs && n >= 1);
    if (n > AVF_SRV_MAX_LANES)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%d devices, more than the %d a server drives", n,
                        AVF_SRV_MAX_LANES);
    for (int i = 0; i < n; i++) {
        AVF_CHECK_ARG(devs[i] != NULL);
        for (int j = 0; j < i; j++)
            if (devs[j] == devs[i])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "device %s is listed twice",
                                avf_device_get_name(devs[i]));
    }
    avf_srv_lanes *l = calloc(1, sizeof *l);
    if (!l)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "lanes: out of memory");
    avf_status st = AVF_OK;
    for (int i = 0; st == AVF_OK && i < n; i++) {
        avf_srv_lane *x = &l->lane[i];
        x->id = i;
        x->dev = devs[i];
        snprintf(x->name, sizeof x->name, "%s", avf_device_get_name(devs[i]));
        x->budget_bytes = budgets ? budgets[i] : 0;
        st = avf_pool_create(devs[i], pc, &x->pool);
        if (st == AVF_OK)
            l->n = i + 1;
    }
    if (st != AVF_OK) {
        avf_srv_lanes_free(l);
        return st;
    }
    *out = l;
    return AVF_OK;
}

void avf_srv_lanes_free(avf_srv_lanes *l) {
    if (!l)
        return;
    for (int i = 0; i < l->n; i++)
        avf_pool_free_all(l->lane[i].pool);
    free(l);
}

int avf_srv_lanes_find(const avf_srv_lanes *l, const avf_device *dev) {
    for (int i = 0; l && i < l->n; i++)
        if (l->lane[i].dev == dev)
            return i;
    return -1;
}

int avf_srv_lanes_find_pool(const avf_srv_lanes *l, const avf_pool *pool) {
    for (int i = 0; l && i < l->n; i++)
        if (l->lane[i].pool == pool)
            return i;
    return -1;
}

uint32_t avf_srv_lanes_all(const avf_srv_lanes *l) {
    return l->n >= 32 ? UINT32_MAX : ((uint32_t)1 << l->n) - 1;
}

avf_status avf_srv_lanes_mask(const avf_srv_lanes *l, int n_names, char (*names)[32],
                              uint32_t *mask) {
    *mask = 0;
    char served[AVF_SRV_MAX_LANES * 34] = "";
    size_t at = 0;
    for (int i = 0; i < l->n && at < sizeof served; i++)
        at += (size_t)snprintf(served + at, sizeof served - at, "%s%s", i ? "," : "",
                               l->lane[i].name);
    for (int k = 0; k < n_names; k++) {
        avf_device *d = NULL;
        int lane = avf_device_parse(names[k], &d) == AVF_OK ? avf_srv_lanes_find(l, d) : -1;
        if (lane < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "config: device '%s' is not one the server "
                            "drives (%s)", names[k], served);
        *mask |= (uint32_t)1 << lane;
    }
    avf_clear_error(); /* a failed parse above left its message */
    return AVF_OK;
}

int avf_srv_lane_less_loaded(const avf_srv_lane *a, const avf_srv_lane *b) {
    int ia = atomic_load(&a->inflight), ib = atomic_load(&b->inflight);
    if (ia != ib)
        return ia < ib;
    uint64_t da = atomic_load(&a->dispatched), db = atomic_load(&b->dispatched);
    if (da != db)
        return da < db;
    return a->id < b->id;
}

void avf_srv_lane_begin(avf_srv_lane *l) {
    atomic_fetch_add(&l->inflight, 1);
    atomic_fetch_add(&l->dispatched, 1);
}

void avf_srv_lane_end(avf_srv_lane *l) { atomic_fetch_sub(&l->inflight, 1); }

void avf_srv_lane_exec(avf_srv_lane *l, int n_requests, int64_t rows, uint64_t compute_ns) {
    atomic_fetch_add(&l->exec_count, 1);
    atomic_fetch_add(&l->inference_count, rows > 0 ? (uint64_t)rows : 0);
    atomic_fetch_add(&l->request_count, n_requests > 0 ? (uint64_t)n_requests : 0);
    atomic_fetch_add(&l->compute_us, compute_ns / 1000u);
}

void avf_srv_lane_get_stats(const avf_srv_lane *l, avf_srv_lane_stats *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", l->name);
    out->kind = (int)avf_device_get_kind(l->dev);
    out->inflight = atomic_load(&l->inflight);
    out->dispatched = atomic_load(&l->dispatched);
    out->exec_count = atomic_load(&l->exec_count);
    out->inference_count = atomic_load(&l->inference_count);
    out->request_count = atomic_load(&l->request_count);
    out->compute_us = atomic_load(&l->compute_us);
    out->budget_bytes = l->budget_bytes;
    out->has_pool = l->pool && avf_pool_get_stats(l->pool, &out->pool) == AVF_OK;
}
