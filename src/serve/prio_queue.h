/* avflow serve: the bounded priority queue of one model's batcher.
 *
 * `levels` FIFO lanes, lane 0 the most urgent; pop takes the oldest item of
 * the most urgent non-empty lane. The capacity bounds the items of all lanes
 * together (a full queue is AVF_ERR_FULL: the HTTP layer's 429), so a flood
 * of low-priority requests is refused, not buffered. Thread-safe (one mutex,
 * one condition variable). After close, push fails with AVF_ERR_CLOSED and
 * pop drains what is left, then fails with AVF_ERR_CLOSED.
 */
#ifndef AVF_SERVE_PRIO_QUEUE_H
#define AVF_SERVE_PRIO_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#define AVF_SRV_MAX_PRIORITY_LEVELS 16

typedef struct avf_srv_prio_queue avf_srv_prio_queue;

/* capacity in [1, 2^24], levels in [1, AVF_SRV_MAX_PRIORITY_LEVELS]. */
avf_status avf_srv_prio_queue_create(size_t capacity, int levels, avf_srv_prio_queue **out);
/* NULL is ignored. Items still queued are not touched (close and drain first). */
void avf_srv_prio_queue_free(avf_srv_prio_queue *q);
/* Never blocks: AVF_ERR_FULL when `capacity` items wait, AVF_ERR_CLOSED
 * after close, AVF_ERR_INVALID_ARG for a lane outside [0, levels). */
avf_status avf_srv_prio_queue_push(avf_srv_prio_queue *q, void *item, int lane);
/* Wait at most timeout_us (-1: forever, 0: not at all) for an item.
 * AVF_ERR_TIMEOUT when none came, AVF_ERR_CLOSED when closed and empty. */
avf_status avf_srv_prio_queue_pop(avf_srv_prio_queue *q, void **item, int64_t timeout_us);
void avf_srv_prio_queue_close(avf_srv_prio_queue *q);
/* Items waiting in every lane. */
size_t avf_srv_prio_queue_size(avf_srv_prio_queue *q);
size_t avf_srv_prio_queue_capacity(const avf_srv_prio_queue *q);

#endif
