/* avflow serve: one lane per device the server drives.
 *
 * A lane is a device with its own run pool, VRAM budget and load figures.
 * Every loaded model has one replica per lane it is placed on (placement.h
 * decides which): the model's batcher starts instance_count workers per
 * replica, each with a stream of that lane's device, all pulling from the
 * model's one queue (batcher.h says how a worker decides to pull). With one
 * device there is one lane, and everything behaves as before lanes existed.
 *
 * Load: `inflight` counts the batches being formed or run on the lane's
 * device, by every model; `dispatched` the batches started so far. The
 * routing rule compares lanes by (inflight, dispatched): fewer batches in
 * flight first, then the lane that has started fewer (so that idle devices
 * take turns instead of the first one taking everything).
 *
 * The counters are atomics: workers update them without a lock, readers
 * (routing, /metrics) see each one consistent, not all of them at one
 * instant, which is all routing and monitoring need.
 */
#ifndef AVF_SERVE_LANES_H
#define AVF_SERVE_LANES_H

#include <stdatomic.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/status.h"

#define AVF_SRV_MAX_LANES 16   /* lane masks are uint32_t */

typedef struct avf_srv_lane {
    int id;                      /* index in the lane set */
    avf_device *dev;
    char name[32];               /* the device's name: "cuda:1", "cpu:2" */
    avf_pool *pool;              /* the lane's run pool (owned by the lane set) */
    uint64_t budget_bytes;       /* VRAM budget of resident models here; 0: none */
    atomic_int inflight;         /* batches being formed or run, every model */
    atomic_uint_least64_t dispatched;       /* batches started */
    atomic_uint_least64_t exec_count;       /* batches run successfully */
    atomic_uint_least64_t inference_count;  /* their rows (requests' batch dims) */
    atomic_uint_least64_t request_count;    /* their requests */
    atomic_uint_least64_t compute_us;       /* their run time */
} avf_srv_lane;

typedef struct avf_srv_lanes {
    int n;
    avf_srv_lane lane[AVF_SRV_MAX_LANES];
} avf_srv_lanes;

/* One lane per device (n in [1, AVF_SRV_MAX_LANES], no device twice), each
 * with a pool created from `pc` (may be NULL: defaults) and the budget
 * budgets[i] (budgets may be NULL: none). On failure nothing is left. */
avf_status avf_srv_lanes_create(avf_device *const *devs, int n, const avf_pool_config *pc,
                                const uint64_t *budgets, avf_srv_lanes **out);
/* Frees every pool (no run may be using them). NULL is ignored. */
void avf_srv_lanes_free(avf_srv_lanes *l);

/* The lane of `dev`, or -1. */
int avf_srv_lanes_find(const avf_srv_lanes *l, const avf_device *dev);
/* The lane whose pool is `pool`, or -1. */
int avf_srv_lanes_find_pool(const avf_srv_lanes *l, const avf_pool *pool);
/* Resolve device names (avf_device_parse spellings: "cuda" is "cuda:0")
 * into a lane mask. AVF_ERR_INVALID_ARG naming the first name that is not a
 * device or not one of the lanes (the message lists the lanes). */
avf_status avf_srv_lanes_mask(const avf_srv_lanes *l, int n_names, char (*names)[32],
                              uint32_t *mask);
/* Every lane: (1 << n) - 1. */
uint32_t avf_srv_lanes_all(const avf_srv_lanes *l);

/* Routing order: 1 when lane a is less loaded than lane b (fewer batches in
 * flight, then fewer started; ties: the lower id). */
int avf_srv_lane_less_loaded(const avf_srv_lane *a, const avf_srv_lane *b);
/* A worker starts forming a batch on the lane / is done with it. */
void avf_srv_lane_begin(avf_srv_lane *l);
void avf_srv_lane_end(avf_srv_lane *l);
/* A batch ran successfully: per-device counters for /metrics. */
void avf_srv_lane_exec(avf_srv_lane *l, int n_requests, int64_t rows, uint64_t compute_ns);

/* A copy of one lane's figures for /metrics and the status page. */
typedef struct avf_srv_lane_stats {
    char name[32];
    int kind;                    /* avf_device_kind */
    int inflight;
    uint64_t dispatched, exec_count, inference_count, request_count, compute_us;
    uint64_t budget_bytes;
    uint64_t resident_bytes;     /* filled by the residency manager */
    int models_resident;         /* replicas here */
    int has_pool;
    avf_pool_stats pool;
} avf_srv_lane_stats;

void avf_srv_lane_get_stats(const avf_srv_lane *l, avf_srv_lane_stats *out);

#endif
