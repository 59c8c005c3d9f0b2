/* avflow serve: the model repository and the residency of its models.
 *
 * Layout (Triton's): <repo>/<model>/config.json (optional, see config.h)
 * and <repo>/<model>/<version>/model.onnx, versions being positive integers.
 * The highest version is served; a request for another version is answered
 * 404. Model names are 1-127 bytes of [A-Za-z0-9_.-] not starting with '.',
 * so a name can never leave the repository directory.
 *
 * Models load on demand: the first request for a model loads it (model,
 * config, batcher) while concurrent requests for it wait for that one load.
 * A failed load is remembered (its reason is served) until an explicit load
 * retries it. Unload detaches the model at once (new requests load it
 * again); its memory is freed when the last request using it finishes, after
 * the batcher has drained.
 *
 * Devices: the repository runs models on a lane set (lanes.h), one lane per
 * device. A loaded model has one replica per lane it was placed on (its
 * `lanes` mask, decided at load by the residency manager, placement.h);
 * its batcher runs workers on each.
 *
 * Memory pressure: avf_srv_repo_evict_lru_on() unloads the least recently
 * used idle, unpinned model that has a replica on a lane; the residency
 * manager (residency.h) calls it to keep each device's models under its
 * budget and after pool watermark crossings. An evicted model goes from
 * every device at once (the engine frees a model's weights on all devices
 * together), but only models on the lane that needs room are candidates.
 * With a residency attached, every load is admitted by it first.
 */
#ifndef AVF_SERVE_REPO_H
#define AVF_SERVE_REPO_H

#include "avflow/device.h"
#include "avflow/model.h"
#include "avflow/pool.h"
#include "serve/batcher.h"
#include "serve/buf.h"
#include "serve/config.h"
#include "serve/lanes.h"
#include "serve/metrics.h"
#include "serve/residency.h"

#define AVF_SRV_MAX_MODELS 4096

typedef struct avf_srv_repo avf_srv_repo;

typedef struct avf_srv_instance {
    char name[128];
    char version[24];
    avf_model *model;
    avf_srv_model_config cfg;
    avf_srv_batcher *batcher;
    avf_srv_metrics *metrics;   /* the entry's; lives as long as the repo */
    uint32_t lanes;             /* the lanes its replicas are on */
} avf_srv_instance;

typedef enum avf_srv_state {
    AVF_SRV_UNLOADED = 0,
    AVF_SRV_LOADING,
    AVF_SRV_READY,
    AVF_SRV_FAILED,
} avf_srv_state;

/* Scan `dir` (must exist). lanes: where models run (outlives the repo). */
avf_status avf_srv_repo_create(const char *dir, avf_srv_lanes *lanes, avf_srv_repo **out);
/* Unload everything (draining each batcher) and free. No request may hold
 * an instance. */
void avf_srv_repo_free(avf_srv_repo *r);

/* The model `name` (version NULL or "": the served one), loading it when
 * `load` is set and it is not loaded. On AVF_OK *out holds a reference:
 * give it back with avf_srv_repo_release. AVF_ERR_NOT_FOUND: no such model
 * or version; AVF_ERR_CLOSED (-> 503) when not loaded and `load` is 0 or
 * the load failed (the message says why). */
avf_status avf_srv_repo_acquire(avf_srv_repo *r, const char *name, const char *version,
                                int load, avf_srv_instance **out);
void avf_srv_repo_release(avf_srv_repo *r, avf_srv_instance *inst);

/* Explicit load (retries a failed load; a loaded model stays as it is). */
avf_status avf_srv_repo_load(avf_srv_repo *r, const char *name);
/* AVF_ERR_NOT_FOUND for an unknown model; unloading an unloaded model is
 * AVF_OK. */
avf_status avf_srv_repo_unload(avf_srv_repo *r, const char *name);
/* Unload the least recently used idle, unpinned loaded model with a replica
 * on lane `lane` (-1: any); AVF_ERR_NOT_FOUND when none. */
avf_status avf_srv_repo_evict_lru_on(avf_srv_repo *r, int lane);
/* avf_srv_repo_evict_lru_on(r, -1). */
avf_status avf_srv_repo_evict_lru(avf_srv_repo *r);

/* Rescan the directory, then append the index as a JSON array:
 * [{"name", "version", "state": "READY"|"UNAVAILABLE"|"LOADING", "reason"}].
 * ready_only: only READY models. */
avf_status avf_srv_repo_index(avf_srv_repo *r, int ready_only, avf_srv_buf *out);
/* Prometheus text for every model ever seen. */
void avf_srv_repo_metrics(avf_srv_repo *r, avf_srv_buf *out);
/* Triton's statistics extension: {"model_stats": [...]} for every model
 * ever seen (name NULL) or for `name` (and `version`, when given, must be
 * the one served); AVF_ERR_NOT_FOUND for an unknown model or version. */
avf_status avf_srv_repo_stats(avf_srv_repo *r, const char *name, const char *version,
                              avf_srv_buf *out);
/* {"model_stats": [{"name", "version", "state", counts, averages}]} */
void avf_srv_repo_performance(avf_srv_repo *r, avf_srv_buf *out);

/* Observability (obs_collect.c): for each of at most `cap` entries, its
 * metrics row, state and requests waiting in its batcher (0 when not
 * loaded). Returns how many were written. */
typedef struct avf_srv_repo_row {
    avf_srv_metrics_row m;
    avf_srv_state state;
    uint64_t queued;
} avf_srv_repo_row;
int avf_srv_repo_rows(avf_srv_repo *r, avf_srv_repo_row *rows, int cap);
/* Server-wide policy, set once before the first request. residency may be
 * NULL (no budget, no pins); default_timeout_us applies to models whose
 * config.json sets no timeout_us (0: none). */
typedef struct avf_srv_repo_policy {
    avf_srv_residency *residency;
    int64_t default_timeout_us;
} avf_srv_repo_policy;
void avf_srv_repo_set_policy(avf_srv_repo *r, const avf_srv_repo_policy *p);

/* One loaded or loading model, as the residency manager sees it. */
typedef struct avf_srv_resident {
    char name[128];
    char version[24];
    int loading;                 /* being loaded: its weights are reserved */
    uint64_t weight_bytes;       /* parameter bytes the engine reported */
    uint64_t arena_bytes;        /* captured plans' arenas, read now */
    uint64_t last_used_ns;       /* monotonic */
    int pinned;
    int busy;                    /* a request holds it (queued, running, answering) */
    uint32_t lanes;              /* its replicas (reserved ones while loading) */
    uint64_t lane_arena_bytes[AVF_SRV_MAX_LANES]; /* arena_bytes per lane */
} avf_srv_resident;

/* Snapshot of the resident models, least recently used first; at most cap
 * rows. Returns the number of rows. */
int avf_srv_repo_residents(avf_srv_repo *r, avf_srv_resident *rows, int cap);
/* Under the residency's admission: record `bytes` reserved on each lane of
 * `lanes` for `name`, which is being loaded. */
void avf_srv_repo_reserve(avf_srv_repo *r, const char *name, uint64_t bytes, uint32_t lanes);
/* The lanes the repository's models run on. */
avf_srv_lanes *avf_srv_repo_lanes(avf_srv_repo *r);

/* 1 when `name` is a valid model name. */
int avf_srv_model_name_ok(const char *name);

#endif
