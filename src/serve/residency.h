/* avflow serve: which models stay loaded — a VRAM budget, LRU eviction of
 * idle models, pinning, and the pool's watermark.
 *
 * Accounting: a resident model costs its weights (the parameter bytes the
 * engine reports at load, uploaded once per device) plus the arenas of its
 * captured plans (avf_model_get_plan_stats; 0 on the CPU), read live. Those
 * live outside the run pool (weights are one allocation per device, each plan
 * has its own arena), so the pool's bytes in use cannot tell them; the
 * engine's sizes can.
 *
 * Admission (avf_srv_residency_admit, called by the repository while it loads
 * a model, after the file is parsed and before anything runs): when the
 * resident bytes plus the new model's would exceed the budget, the least
 * recently used *idle* model (no request holds it: nothing queued, running or
 * being answered) that is not pinned is unloaded, repeatedly; when none is
 * left the load fails with AVF_ERR_OUT_OF_MEMORY (503) and nothing is
 * evicted beyond what was needed. Loads are admitted one at a time, and a
 * model being loaded counts with its bytes, so two loads cannot both take
 * the same room.
 *
 * Watermark: the server's pool calls avf_srv_residency_on_watermark when its
 * bytes in use cross 85 % (and 95 %) of its limit; a background thread then
 * unloads the least recently used idle unpinned model (one per crossing: the
 * pool re-arms when usage falls back). The callback itself only signals, so
 * no allocation ever waits for an unload.
 *
 * Pinned models (config.json "pinned": true, or --pin NAME) are never
 * evicted, by the budget or the watermark; an explicit unload still unloads
 * them.
 *
 * Devices (lanes.h): each device has its own budget and its own resident
 * bytes (the weights of every replica there plus their arenas on that
 * device). Admission places a model by the rule of placement.h: a replica
 * on every allowed device where it fits, else eviction on one device at a
 * time, of models that have a replica on that device only. The watermark of
 * a device's pool evicts among the models on that device. With one device
 * this is exactly the single-budget behaviour above.
 *
 * Lock order: the residency mutex, then the repository's.
 */
#ifndef AVF_SERVE_RESIDENCY_H
#define AVF_SERVE_RESIDENCY_H

#include <stdint.h>

#include "avflow/pool.h"
#include "avflow/status.h"
#include "serve/buf.h"
#include "serve/lanes.h"

#define AVF_SRV_MAX_PINS 64

typedef struct avf_srv_repo avf_srv_repo;
typedef struct avf_srv_residency avf_srv_residency;

/* What the metrics code reads (observability renders it in /metrics). */
typedef struct avf_srv_residency_stats {
    int resident_count;          /* loaded (and loading) models */
    uint64_t resident_bytes;     /* their accounted bytes, every device's replicas */
    uint64_t budget_bytes;       /* the devices' budgets summed; 0: no budget */
    uint64_t evictions;          /* every residency eviction so far */
    uint64_t evictions_budget;   /* of them, to make room under the budget */
    uint64_t evictions_watermark;/* of them, after a pool watermark crossing */
    uint64_t refused_loads;      /* loads refused: no room even after evicting */
    uint64_t watermark_events;   /* pool watermark callbacks seen */
} avf_srv_residency_stats;

/* pins: model names that are pinned whatever their config says (n_pins <=
 * AVF_SRV_MAX_PINS, copied). The budgets are the lanes' (budget_bytes 0:
 * none there; the watermark still evicts). */
avf_status avf_srv_residency_create(const char *const *pins, int n_pins,
                                    avf_srv_residency **out);
/* Start the watermark thread on `repo` and its lanes (both outlive the
 * residency's use of them: call avf_srv_residency_stop before freeing them). */
avf_status avf_srv_residency_start(avf_srv_residency *res, avf_srv_repo *repo);
/* Join the watermark thread; later watermark callbacks are ignored. */
void avf_srv_residency_stop(avf_srv_residency *res);
/* NULL is ignored. Stops first. */
void avf_srv_residency_free(avf_srv_residency *res);

/* The pool's avf_pool_watermark_fn (user = the residency). Only signals. */
void avf_srv_residency_on_watermark(avf_pool *pool, avf_pool_watermark level,
                                    const avf_pool_stats *stats, void *user);

/* 1 when `name` was pinned by the server's options. */
int avf_srv_residency_pinned(const avf_srv_residency *res, const char *name);

/* Place a model `name` of `bytes` (per replica) being loaded on lanes of
 * `allowed`, making room as above. On AVF_OK *placed (non-zero) has its
 * lanes and its bytes are reserved on them in the repository (counted from
 * now on). AVF_ERR_OUT_OF_MEMORY when it fits on no allowed device; the
 * message says why. */
avf_status avf_srv_residency_admit(avf_srv_residency *res, const char *name, uint64_t bytes,
                                   uint32_t allowed, uint32_t *placed);

void avf_srv_residency_get_stats(avf_srv_residency *res, avf_srv_residency_stats *out);
/* Resident bytes and replicas on each lane (out[lane], at most n). */
void avf_srv_residency_lane_usage(avf_srv_residency *res, int n, uint64_t *bytes, int *models);

/* GET /api/residency: {"budget_bytes", "resident_bytes", "resident_count",
 * "evictions", "evictions_budget", "evictions_watermark", "refused_loads",
 * "watermark_events", "pool": {in_use_bytes, reserved_bytes, limit_bytes,
 * peak_in_use_bytes, failed_allocs}, "models": [{"name", "version",
 * "state", "bytes", "weight_bytes", "arena_bytes", "last_use_ms_ago",
 * "pinned", "busy"}]} (models: loaded or loading, least recently used
 * first). */
void avf_srv_residency_json(avf_srv_residency *res, avf_srv_buf *out);

#endif
