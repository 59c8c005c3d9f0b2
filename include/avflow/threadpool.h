/* avflow thread pool: N worker threads fed from one bounded avf_queue.
 *
 * Tasks are (function, argument) pairs. Submission applies back-pressure:
 * when the queue is full, avf_threadpool_submit waits up to timeout_us
 * (0: fail at once with AVF_ERR_FULL). avf_threadpool_wait_idle blocks until
 * every submitted task has finished. avf_threadpool_free drains the queued
 * tasks (they run), then joins the workers.
 */
#ifndef AVFLOW_THREADPOOL_H
#define AVFLOW_THREADPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_threadpool avf_threadpool;
typedef void (*avf_task_fn)(void *arg);

/* threads in [1, 1024] (0 selects the number of online CPUs); queue_capacity
 * in [1, 1<<24] (0 selects 1024). */
avf_status avf_threadpool_create(int threads, size_t queue_capacity, avf_threadpool **out);
void avf_threadpool_free(avf_threadpool *tp);

avf_status avf_threadpool_submit(avf_threadpool *tp, avf_task_fn fn, void *arg,
                                 int64_t timeout_us);
/* Block until the queue is empty and no task is running. Called from one of
 * the pool's own tasks it returns AVF_ERR_INVALID_ARG instead of deadlocking
 * (likewise avf_threadpool_free from a task logs an error and does nothing). */
avf_status avf_threadpool_wait_idle(avf_threadpool *tp);
int avf_threadpool_size(const avf_threadpool *tp);
/* Tasks completed since creation. */
uint64_t avf_threadpool_completed(avf_threadpool *tp);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_THREADPOOL_H */
