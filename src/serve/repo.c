/* The model repository: entries found on disk, loading on demand (one load
 * per model, others wait on a condition variable), reference-counted loaded
 * instances so unload never frees a model a request still uses. */
#include "serve/repo.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "avflow/log.h"
#include "core/error.h"
#include "serve/obs.h"
#include "serve/request.h"

/* Room for the repository path plus a model name, a version and a file name. */
#define PATH_CAP (PATH_MAX + 512)

typedef struct instance {
    avf_srv_instance pub;
    int refs;                /* under the repo mutex */
    struct entry *entry;
} instance;

typedef struct entry {
    char name[128];
    avf_srv_state state;
    char reason[AVF_SRV_ERROR_MAX];
    instance *inst;          /* READY: the loaded instance (the repo holds a ref) */
    uint64_t last_used_ns;
    char version[24];        /* served version found at the last scan */
    uint64_t weight_bytes;   /* LOADING (reserved) and READY: the engine's parameter bytes */
    uint32_t lanes;          /* LOADING (reserved) and READY: the replicas' lanes */
    avf_srv_metrics metrics;
} entry;

struct avf_srv_repo {
    char dir[PATH_MAX];
    avf_srv_lanes *lanes;
    pthread_mutex_t mu;
    pthread_cond_t changed;  /* a load finished */
    avf_srv_repo_policy policy;
    int n;
    entry *entries[AVF_SRV_MAX_MODELS];
};

int avf_srv_model_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 127 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* The highest numbered version directory holding model.onnx, or "" . */
static void latest_version(const avf_srv_repo *r, const char *name, char *out, size_t cap) {
    char path[PATH_CAP];
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    DIR *d = opendir(path);
    if (!d)
        return;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        errno = 0;
        long v = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || v < 1 || errno || e->d_name[0] == '+' ||
            e->d_name[0] == '0')
            continue;
        char f[PATH_CAP + 300];
        struct stat sb;
        if (snprintf(f, sizeof f, "%s/%s/model.onnx", path, e->d_name) < (int)sizeof f &&
            stat(f, &sb) == 0 && S_ISREG(sb.st_mode) && v > best)
            best = v;
    }
    closedir(d);
    if (best > 0)
        snprintf(out, cap, "%ld", best);
}

static entry *find(avf_srv_repo *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->entries[i]->name, name) == 0)
            return r->entries[i];
    return NULL;
}

/* Under the mutex: the entry for `name`, created when the directory has a
 * version; refreshes the served version of unloaded models. */
static entry *lookup(avf_srv_repo *r, const char *name) {
    if (!avf_srv_model_name_ok(name))
        return NULL;
    entry *e = find(r, name);
    char v[24];
    if (e && e->state != AVF_SRV_UNLOADED && e->state != AVF_SRV_FAILED)
        return e;
    latest_version(r, name, v, sizeof v);
    if (e) {
        if (v[0])
            memcpy(e->version, v, sizeof v);
        return e;
    }
    if (!v[0] || r->n == AVF_SRV_MAX_MODELS)
        return NULL;
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    memcpy(e->version, v, sizeof v);
    avf_srv_metrics_init(&e->metrics);
    r->entries[r->n++] = e;
    return e;
}

static void scan(avf_srv_repo *r) {
    DIR *d = opendir(r->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (avf_srv_model_name_ok(de->d_name))
            lookup(r, de->d_name);
    closedir(d);
}

avf_status avf_srv_repo_create(const char *dir, avf_srv_lanes *lanes, avf_srv_repo **out) {
    *out = NULL;
    AVF_CHECK_ARG(dir && lanes && lanes->n >= 1);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "model repository %s is not a directory", dir);
    if (strlen(dir) >= PATH_MAX - 300)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "model repository path too long");
    avf_srv_repo *r = calloc(1, sizeof *r);
    if (!r)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "repository: out of memory");
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->lanes = lanes;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->changed, NULL);
    pthread_mutex_lock(&r->mu);
    scan(r);
    pthread_mutex_unlock(&r->mu);
    *out = r;
    return AVF_OK;
}

void avf_srv_repo_set_policy(avf_srv_repo *r, const avf_srv_repo_policy *p) { r->policy = *p; }

avf_srv_lanes *avf_srv_repo_lanes(avf_srv_repo *r) { return r->lanes; }

static void on_exec(void *user, int n, int64_t rows, int exec_batch, uint64_t ns) {
    avf_srv_metrics_exec(user, exec_batch, ns);
}

static void on_lane_exec(void *user, int lane, int n, int64_t rows, int exec_batch,
                         uint64_t ns) {
    avf_srv_metrics_lane_exec(user, lane, rows, ns);
}

static void instance_free(avf_srv_repo *r, instance *in) {
    avf_srv_batcher_free(in->pub.batcher); /* drains: every queued request finishes */
    avf_model_free(in->pub.model);
    for (int l = 0; l < r->lanes->n; l++) /* unload gives the memory back to the driver */
        if (in->pub.lanes & (1u << l))
            avf_pool_trim(r->lanes->lane[l].pool, NULL);
    free(in);
}

/* Outside the mutex: load model, config and batcher of `e`. */
static avf_status load_instance(avf_srv_repo *r, entry *e, const char *version,
                                instance **out) {
    char path[PATH_CAP];
    *out = NULL;
    instance *in = calloc(1, sizeof *in);
    if (!in)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(in->pub.name, sizeof in->pub.name, "%s", e->name);
    snprintf(in->pub.version, sizeof in->pub.version, "%s", version);
    in->pub.metrics = &e->metrics;
    in->entry = e;
    avf_srv_config_default(&in->pub.cfg);
    snprintf(path, sizeof path, "%s/%s/config.json", r->dir, e->name);
    avf_status st = avf_srv_config_load(path, &in->pub.cfg);
    if (st == AVF_ERR_NOT_FOUND)
        st = AVF_OK;
    snprintf(path, sizeof path, "%s/%s/%s/model.onnx", r->dir, e->name, version);
    if (st == AVF_OK)
        st = avf_model_load(path, NULL, &in->pub.model);
    if (st == AVF_OK)
        st = avf_srv_config_autofill(&in->pub.cfg, in->pub.model);
    if (st == AVF_OK && !in->pub.cfg.timeout_us)
        in->pub.cfg.timeout_us = r->policy.default_timeout_us;
    avf_srv_residency *res = r->policy.residency;
    uint32_t allowed = avf_srv_lanes_all(r->lanes), placed = allowed;
    if (st == AVF_OK && in->pub.cfg.n_devices) /* "devices": pinned to some lanes */
        st = avf_srv_lanes_mask(r->lanes, in->pub.cfg.n_devices, in->pub.cfg.devices, &allowed);
    placed = allowed;
    if (st == AVF_OK && res) {
        /* admitted before anything runs, so weights never go up past a budget */
        avf_model_summary sum;
        st = avf_model_get_summary(in->pub.model, &sum);
        if (st == AVF_OK)
            st = avf_srv_residency_admit(res, e->name, sum.param_bytes, allowed, &placed);
        in->pub.cfg.pinned |= avf_srv_residency_pinned(res, e->name);
    }
    in->pub.lanes = placed;
    avf_srv_batcher_config bc = {.model = in->pub.cfg, .on_exec = on_exec,
                                 .on_lane_exec = on_lane_exec, .exec_user = &e->metrics};
    for (int l = 0; l < r->lanes->n; l++) {
        avf_srv_lane *x = &r->lanes->lane[l];
        if (placed & (1u << l))
            bc.lanes[bc.n_lanes++] = (avf_srv_batcher_lane){x->dev, x->pool, x};
    }
    if (st == AVF_OK)
        st = avf_srv_batcher_config_model(&bc, in->pub.model);
    if (st == AVF_OK)
        st = avf_srv_batcher_create(&bc, &in->pub.batcher);
    if (st != AVF_OK) {
        avf_model_free(in->pub.model);
        free(in);
        return st;
    }
    in->refs = 1; /* the repository's */
    *out = in;
    return AVF_OK;
}

/* Under the mutex: wait for a running load, then start one if needed (the
 * mutex is dropped while loading). */
static avf_status ensure_loaded(avf_srv_repo *r, entry *e, int load, int retry_failed) {
    while (e->state == AVF_SRV_LOADING)
        pthread_cond_wait(&r->changed, &r->mu);
    if (e->state == AVF_SRV_READY)
        return AVF_OK;
    if (e->state == AVF_SRV_FAILED && !retry_failed)
        return AVF_FAIL(AVF_ERR_CLOSED, "model '%s' failed to load: %s", e->name, e->reason);
    if (!load)
        return AVF_FAIL(AVF_ERR_CLOSED, "model '%s' is not loaded", e->name);
    char version[24];
    memcpy(version, e->version, sizeof version);
    e->state = AVF_SRV_LOADING;
    pthread_mutex_unlock(&r->mu);
    instance *in = NULL;
    avf_status st = load_instance(r, e, version, &in);
    char reason[AVF_SRV_ERROR_MAX];
    snprintf(reason, sizeof reason, "%s", st == AVF_OK ? "" : avf_srv_strip_location(avf_last_error()));
    pthread_mutex_lock(&r->mu);
    e->inst = in;
    e->state = st == AVF_OK ? AVF_SRV_READY : AVF_SRV_FAILED;
    if (st != AVF_OK) {
        e->weight_bytes = 0;
        e->lanes = 0;
    } else {
        e->lanes = in->pub.lanes;
    }
    memcpy(e->reason, reason, sizeof reason);
    pthread_cond_broadcast(&r->changed);
    if (st != AVF_OK && st == AVF_ERR_OUT_OF_MEMORY) {
        /* out of room (the budget, the device): not remembered as a broken
         * model; the next request tries again once something is idle */
        e->state = AVF_SRV_UNLOADED;
        return AVF_FAIL(st, "model '%s' cannot be loaded now: %s", e->name, reason);
    }
    if (st != AVF_OK)
        return AVF_FAIL(AVF_ERR_CLOSED, "model '%s' failed to load: %s", e->name, reason);
    return AVF_OK;
}

avf_status avf_srv_repo_acquire(avf_srv_repo *r, const char *name, const char *version,
                                int load, avf_srv_instance **out) {
    *out = NULL;
    pthread_mutex_lock(&r->mu);
    entry *e = lookup(r, name);
    avf_status st = AVF_OK;
    if (!e)
        st = AVF_FAIL(AVF_ERR_NOT_FOUND, "unknown model '%s'", name);
    else if (version && version[0] && strcmp(version, e->version) != 0 &&
             !(e->inst && strcmp(version, e->inst->pub.version) == 0))
        st = AVF_FAIL(AVF_ERR_NOT_FOUND, "model '%s' has no version '%s' served (serving %s)",
                      name, version, e->inst ? e->inst->pub.version : e->version);
    else
        st = ensure_loaded(r, e, load, 0);
    if (st == AVF_OK) {
        e->inst->refs++;
        e->last_used_ns = avf_srv_now_ns();
        *out = &e->inst->pub;
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

void avf_srv_repo_release(avf_srv_repo *r, avf_srv_instance *pub) {
    if (!pub)
        return;
    instance *in = (instance *)pub;
    pthread_mutex_lock(&r->mu);
    int last = --in->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        instance_free(r, in);
}

avf_status avf_srv_repo_load(avf_srv_repo *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    entry *e = lookup(r, name);
    avf_status st = e ? ensure_loaded(r, e, 1, 1)
                      : AVF_FAIL(AVF_ERR_NOT_FOUND, "unknown model '%s'", name);
    pthread_mutex_unlock(&r->mu);
    return st;
}

/* Under the mutex: detach e's instance; the caller drops the returned ref
 * outside it. */
static instance *detach(entry *e) {
    instance *in = e->inst;
    e->inst = NULL;
    e->state = AVF_SRV_UNLOADED;
    e->weight_bytes = 0;
    e->lanes = 0;
    e->reason[0] = '\0';
    return in;
}

avf_status avf_srv_repo_unload(avf_srv_repo *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    entry *e = avf_srv_model_name_ok(name) ? find(r, name) : NULL;
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "unknown model '%s'", name);
    }
    while (e->state == AVF_SRV_LOADING)
        pthread_cond_wait(&r->changed, &r->mu);
    instance *in = detach(e);
    pthread_mutex_unlock(&r->mu);
    if (in)
        avf_srv_repo_release(r, &in->pub);
    return AVF_OK;
}

avf_status avf_srv_repo_evict_lru(avf_srv_repo *r) { return avf_srv_repo_evict_lru_on(r, -1); }

avf_status avf_srv_repo_evict_lru_on(avf_srv_repo *r, int lane) {
    pthread_mutex_lock(&r->mu);
    entry *best = NULL;
    for (int i = 0; i < r->n; i++) {
        entry *e = r->entries[i];
        /* idle: only the repository's own reference */
        if (e->state == AVF_SRV_READY && !e->inst->pub.cfg.pinned && e->inst->refs == 1 &&
            (lane < 0 || (e->inst->pub.lanes & (1u << lane))) &&
            (!best || e->last_used_ns < best->last_used_ns))
            best = e;
    }
    char name[128] = "";
    if (best)
        memcpy(name, best->name, sizeof name);
    instance *in = best ? detach(best) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (!in)
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "no idle unpinned model to evict%s%s",
                        lane >= 0 ? " on " : "", lane >= 0 ? r->lanes->lane[lane].name : "");
    if (lane >= 0 && r->lanes->n > 1)
        AVF_INFO("serve: evicting model '%s' (least recently used, idle, on %s)", name,
                 r->lanes->lane[lane].name);
    else
        AVF_INFO("serve: evicting model '%s' (least recently used, idle)", name);
    avf_srv_obs_model_evicted(name); /* /metrics: avflow models evicted */
    avf_srv_repo_release(r, &in->pub);
    return AVF_OK;
}

int avf_srv_repo_residents(avf_srv_repo *r, avf_srv_resident *rows, int cap) {
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && n < cap; i++) {
        entry *e = r->entries[i];
        if (e->state != AVF_SRV_READY && !(e->state == AVF_SRV_LOADING && e->weight_bytes))
            continue;
        avf_srv_resident *x = &rows[n++];
        memset(x, 0, sizeof *x);
        memcpy(x->name, e->name, sizeof x->name);
        memcpy(x->version, e->inst ? e->inst->pub.version : e->version, sizeof x->version);
        x->loading = e->state == AVF_SRV_LOADING;
        x->weight_bytes = e->weight_bytes;
        x->last_used_ns = e->last_used_ns;
        x->lanes = e->lanes;
        if (e->inst) {
            avf_model_plan_stats ps;
            if (avf_model_get_plan_stats(e->inst->pub.model, NULL, &ps) == AVF_OK)
                x->arena_bytes = ps.arena_bytes;
            for (int l = 0; l < r->lanes->n; l++)
                if ((e->lanes & (1u << l)) &&
                    avf_model_get_plan_stats(e->inst->pub.model, r->lanes->lane[l].dev, &ps) ==
                        AVF_OK)
                    x->lane_arena_bytes[l] = ps.arena_bytes;
            x->pinned = e->inst->pub.cfg.pinned;
            x->busy = e->inst->refs > 1;
        }
    }
    pthread_mutex_unlock(&r->mu);
    /* least recently used first (insertion sort: a few models) */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && rows[j].last_used_ns < rows[j - 1].last_used_ns; j--) {
            avf_srv_resident t = rows[j];
            rows[j] = rows[j - 1];
            rows[j - 1] = t;
        }
    return n;
}

void avf_srv_repo_reserve(avf_srv_repo *r, const char *name, uint64_t bytes, uint32_t lanes) {
    pthread_mutex_lock(&r->mu);
    entry *e = find(r, name);
    if (e && e->state == AVF_SRV_LOADING) {
        e->weight_bytes = bytes;
        e->lanes = lanes;
    }
    pthread_mutex_unlock(&r->mu);
}

void avf_srv_repo_free(avf_srv_repo *r) {
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        pthread_mutex_lock(&r->mu);
        instance *in = detach(r->entries[i]);
        pthread_mutex_unlock(&r->mu);
        if (in)
            avf_srv_repo_release(r, &in->pub);
    }
    for (int i = 0; i < r->n; i++) {
        avf_srv_metrics_destroy(&r->entries[i]->metrics);
        free(r->entries[i]);
    }
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static const char *state_name(avf_srv_state s) {
    return s == AVF_SRV_READY ? "READY" : s == AVF_SRV_LOADING ? "LOADING" : "UNAVAILABLE";
}

avf_status avf_srv_repo_index(avf_srv_repo *r, int ready_only, avf_srv_buf *out) {
    json_t *arr = json_array();
    if (!arr)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
    pthread_mutex_lock(&r->mu);
    scan(r);
    for (int i = 0; i < r->n; i++) {
        entry *e = r->entries[i];
        if (ready_only && e->state != AVF_SRV_READY)
            continue;
        const char *reason = e->state == AVF_SRV_FAILED ? e->reason
                             : e->state == AVF_SRV_UNLOADED ? "unloaded" : "";
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "name", e->name, "version",
                                             e->inst ? e->inst->pub.version : e->version,
                                             "state", state_name(e->state), "reason", reason));
    }
    pthread_mutex_unlock(&r->mu);
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!s)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
    avf_srv_buf_printf(out, "%s", s);
    free(s);
    return AVF_OK;
}

/* Snapshot every entry (names are stable: entries are never removed). */
static int rows_of(avf_srv_repo *r, avf_srv_metrics_row *rows, avf_srv_state *states) {
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    for (int i = 0; i < n; i++) {
        entry *e = r->entries[i];
        rows[i].model = e->name;
        snprintf(rows[i].version, sizeof rows[i].version, "%s",
                 e->inst ? e->inst->pub.version : e->version);
        if (states)
            states[i] = e->state;
        avf_srv_metrics_snapshot(&e->metrics, &rows[i].d);
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

void avf_srv_repo_metrics(avf_srv_repo *r, avf_srv_buf *out) {
    avf_srv_metrics_row *rows = calloc(AVF_SRV_MAX_MODELS, sizeof *rows);
    if (!rows) {
        out->failed = 1;
        return;
    }
    int n = rows_of(r, rows, NULL);
    avf_srv_metrics_render(out, rows, n);
    free(rows);
}

avf_status avf_srv_repo_stats(avf_srv_repo *r, const char *name, const char *version,
                              avf_srv_buf *out) {
    avf_srv_metrics_row *rows = calloc(AVF_SRV_MAX_MODELS, sizeof *rows);
    if (!rows)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory for the statistics");
    int n = 0;
    avf_status st = AVF_OK;
    if (!name) {
        n = rows_of(r, rows, NULL);
    } else {
        pthread_mutex_lock(&r->mu);
        entry *e = lookup(r, name); /* a model of the directory not yet loaded: zeros */
        const char *served = e ? (e->inst ? e->inst->pub.version : e->version) : NULL;
        if (!e)
            st = AVF_FAIL(AVF_ERR_NOT_FOUND, "unknown model '%s'", name);
        else if (version && version[0] && strcmp(version, served) != 0)
            st = AVF_FAIL(AVF_ERR_NOT_FOUND, "model '%s' has no version '%s' served (serving %s)",
                          name, version, served);
        if (st == AVF_OK) {
            rows[0].model = e->name;
            snprintf(rows[0].version, sizeof rows[0].version, "%s", served);
        }
        pthread_mutex_unlock(&r->mu);
        if (st == AVF_OK) {
            avf_srv_metrics_snapshot(&e->metrics, &rows[0].d); /* entries are never freed */
            n = 1;
        }
    }
    if (st == AVF_OK)
        avf_srv_metrics_stats_json(out, rows, n);
    free(rows);
    return st;
}

void avf_srv_repo_performance(avf_srv_repo *r, avf_srv_buf *out) {
    avf_srv_metrics_row *rows = calloc(AVF_SRV_MAX_MODELS, sizeof *rows);
    avf_srv_state *states = calloc(AVF_SRV_MAX_MODELS, sizeof *states);
    if (!rows || !states) {
        free(rows);
        free(states);
        out->failed = 1;
        return;
    }
    int n = rows_of(r, rows, states);
    avf_srv_buf_printf(out, "{\"model_stats\":[");
    for (int i = 0; i < n; i++) {
        const avf_srv_metrics_data *d = &rows[i].d;
        uint64_t reqs = d->success + d->failure;
        avf_srv_buf_printf(
            out,
            "%s{\"name\":\"%s\",\"version\":\"%s\",\"state\":\"%s\",\"request_success\":%llu,"
            "\"request_failure\":%llu,\"inference_count\":%llu,\"execution_count\":%llu,"
            "\"avg_batch_size\":%.3f,\"avg_request_us\":%.1f,\"avg_queue_us\":%.1f,"
            "\"avg_compute_us\":%.1f}",
            i ? "," : "", rows[i].model, rows[i].version, state_name(states[i]),
            (unsigned long long)d->success, (unsigned long long)d->failure,
            (unsigned long long)d->inference_count, (unsigned long long)d->exec_count,
            d->batch_n ? (double)d->batch_sum / (double)d->batch_n : 0.0,
            reqs ? (double)d->request_us / (double)reqs : 0.0,
            d->success ? (double)d->queue_us / (double)d->success : 0.0,
            d->success ? (double)d->compute_us / (double)d->success : 0.0);
    }
    avf_srv_buf_printf(out, "]}");
    free(rows);
    free(states);
}

int avf_srv_repo_rows(avf_srv_repo *r, avf_srv_repo_row *rows, int cap) {
    pthread_mutex_lock(&r->mu);
    int n = r->n < cap ? r->n : cap;
    for (int i = 0; i < n; i++) {
        entry *e = r->entries[i];
        rows[i].m.model = e->name;
        snprintf(rows[i].m.version, sizeof rows[i].m.version, "%s",
                 e->inst ? e->inst->pub.version : e->version);
        rows[i].state = e->state;
        rows[i].queued = e->inst ? (uint64_t)avf_srv_batcher_queued(e->inst->pub.batcher) : 0;
        avf_srv_metrics_snapshot(&e->metrics, &rows[i].m.d);
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}
