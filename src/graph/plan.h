/* Internal: plans — a device run of a model compiled once per shape
 * signature and replayed as one CUDA graph.
 *
 * The interpreter (exec_run.c) costs host time on every node: shape
 * inference, pool bookkeeping, descriptor set-up, one launch or more. For a
 * model of 500-900 nodes that is milliseconds per run with the GPU idle in
 * between. A plan removes all of it from the request path:
 *
 *   key        the run device, the run flags, every input's dtype, shape and
 *              where it lives, and the values of small integer inputs given
 *              on the host (they steer shape arithmetic and If branches, so a
 *              captured run is only valid for those values);
 *   arena      a private pool, so every address the captured kernels use
 *              stays valid and unshared for the plan's life; intermediates
 *              reuse it in execution order as they die (the pool's free lists
 *              keyed by the one plan stream), so the arena is the peak of live
 *              intermediates, not their sum (both are reported);
 *   inputs     device buffers in the arena the caller's inputs are copied
 *              into before each replay;
 *   graph      the run captured on the plan's own stream.
 *
 * Life of a plan: the first run with a new key runs the interpreter on the
 * plan's stream and arena (warm-up: library handles, algorithm choices,
 * arena segments, the bytes uploaded from the host); if that run waited for
 * the device anywhere (a data-dependent shape, a value read back), the key
 * is remembered as eager-only and runs interpret from then on. Otherwise the
 * second run is captured, and every later run is: wait for the caller's
 * stream, copy inputs in, launch the graph, copy outputs out on the caller's
 * stream. No host synchronization anywhere; the caller's stream orders it.
 *
 * A plan serves one run at a time (its arena is reused); concurrent runs of
 * the same key build further instances of it, up to a small number, and
 * interpret beyond that.
 */
#ifndef AVF_GRAPH_PLAN_H
#define AVF_GRAPH_PLAN_H

#include <pthread.h>
#include <stdint.h>

#include "avflow/model.h"
#include "graph/exec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Plans a cache keeps (all devices together); the least recently used idle
 * plan is freed beyond this. */
#define AVF_PLAN_CACHE_MAX 32
/* Instances of one key for concurrent runs. */
#define AVF_PLAN_INSTANCES_MAX 4
/* Host-given integer inputs of at most this many elements are part of the
 * key (their values), not data. */
#define AVF_PLAN_KEY_NUMEL 16

typedef struct avf_exec_plan avf_exec_plan;

typedef struct avf_exec_plan_cache {
    pthread_mutex_t mu;
    avf_exec_plan *head;
    int count;
    uint64_t clock;
} avf_exec_plan_cache;

avf_status avf_exec_plan_cache_init(avf_exec_plan_cache *c);
/* Frees every plan (waits for their work). No run may be in progress. */
void avf_exec_plan_cache_free(avf_exec_plan_cache *c);

/* Try to run through a plan. `r` is a prepared device run (ctx on the
 * caller's stream and pool); `ins` the bound input slots (borrowed from the
 * caller). *handled = 0: no plan took the run (eager-only key, every
 * instance busy, or plans off): the caller interprets it; the slots are
 * untouched. *handled = 1: the return value is the run's status and the
 * requested outputs are the caller's, as avf_model_run promises. */
avf_status avf_exec_plan_run(avf_exec_plan_cache *c, avf_exec_run *r, const avf_exec_graph *main,
                             avf_exec_slot *ins, int n_outputs, const char *const *output_names,
                             avf_tensor *outputs, int *handled);

/* Sum over the cache's plans on `dev` (NULL: all). */
avf_status avf_exec_plan_stats(avf_exec_plan_cache *c, const avf_device *dev,
                               avf_model_plan_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_PLAN_H */
