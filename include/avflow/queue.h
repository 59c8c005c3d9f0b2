/* avflow bounded multi-producer multi-consumer queue of pointers.
 *
 * Fixed capacity chosen at creation (a bound on everything that waits in
 * avflow, so back-pressure is explicit). Blocking operations take a timeout
 * in microseconds (-1 waits forever, 0 never waits). After avf_queue_close
 * pushes fail with AVF_ERR_CLOSED and pops drain what is left, then fail with
 * AVF_ERR_CLOSED. The queue stores pointers; it never owns what they point to.
 */
#ifndef AVFLOW_QUEUE_H
#define AVFLOW_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_queue avf_queue;

/* capacity in [1, 1<<24]. */
avf_status avf_queue_create(size_t capacity, avf_queue **out);
/* Free the queue (items left inside are not touched). NULL is ignored.
 * No thread may be blocked on the queue. */
void avf_queue_free(avf_queue *q);

/* AVF_ERR_FULL when full and timeout 0, AVF_ERR_TIMEOUT when the wait ran
 * out, AVF_ERR_CLOSED after close. */
avf_status avf_queue_push(avf_queue *q, void *item, int64_t timeout_us);
/* AVF_ERR_TIMEOUT when the queue stays empty for timeout_us (at once for
 * timeout 0), AVF_ERR_CLOSED when closed and drained. */
avf_status avf_queue_pop(avf_queue *q, void **item, int64_t timeout_us);

/* Wake all waiters; further pushes fail. Idempotent. */
void avf_queue_close(avf_queue *q);
size_t avf_queue_size(avf_queue *q);
size_t avf_queue_capacity(const avf_queue *q);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_QUEUE_H */
