/* avflow serve: where a model's replicas go (pure: no locks, no models).
 *
 * A model of `bytes` (its weights, counted once per device) may go to the
 * lanes of `allowed` (every lane by default; a config.json "devices" list
 * pins it to some). The rule:
 *
 *  1. Replicated: it is placed on every allowed lane where it fits now
 *     (used + bytes <= budget, or no budget). More replicas mean more
 *     devices to route its batches to.
 *  2. When it fits on none, it must not be refused while eviction could
 *     make room somewhere, but one new model should not empty several
 *     devices for extra replicas: the caller evicts (least recently used
 *     idle models of that lane only) on one lane at a time, in `order`:
 *     the allowed lanes whose budget could hold it, most free bytes first,
 *     and places it on the first lane where room was made.
 *  3. AVF_ERR_OUT_OF_MEMORY when the model is bigger than the whole budget
 *     of every allowed lane (no eviction can help); the message says so.
 *
 * With one lane this is the single-device admission of before: fit, else
 * evict least recently used until it fits, else 503.
 */
#ifndef AVF_SERVE_PLACEMENT_H
#define AVF_SERVE_PLACEMENT_H

#include <stdint.h>

#include "avflow/status.h"
#include "serve/lanes.h"

typedef struct avf_srv_place_lane {
    uint64_t budget;   /* 0: none */
    uint64_t used;     /* bytes of the models resident there (the new one excluded) */
} avf_srv_place_lane;

/* n lanes (<= AVF_SRV_MAX_LANES). On AVF_OK either *fit is the (non-zero)
 * mask of lanes to place replicas on now, or *fit is 0 and order[0..*n_order)
 * (*n_order >= 1) are the lanes to try evicting on. allowed 0 is
 * AVF_ERR_INVALID_ARG. */
avf_status avf_srv_place(int n, const avf_srv_place_lane *lanes, uint32_t allowed,
                         uint64_t bytes, uint32_t *fit, int *order, int *n_order);

#endif
