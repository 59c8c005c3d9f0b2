/* avflow bounded MPMC queue: a ring buffer under one mutex, with one
 * condition variable per direction (not_empty for poppers, not_full for
 * pushers).
 *
 * A mutex + condvars is chosen over a lock-free ring because every user of
 * the queue also needs to block (workers waiting for work, producers under
 * back-pressure), and blocking needs a lock anyway. The condvars use
 * CLOCK_MONOTONIC so that timeouts do not jump when the wall clock is set.
 */
#include "avflow/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

#define AVF_QUEUE_MAX_CAPACITY ((size_t)1 << 24)

struct avf_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items;
    size_t capacity;
    size_t head;  /* index of the oldest item */
    size_t count;
    int closed;
};

avf_status avf_queue_create(size_t capacity, avf_queue **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    if (capacity < 1 || capacity > AVF_QUEUE_MAX_CAPACITY)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "queue capacity %zu is outside [1, %zu]", capacity,
                        AVF_QUEUE_MAX_CAPACITY);
    avf_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "queue: out of host memory");
    q->items = calloc(capacity, sizeof(void *));
    if (!q->items) {
        free(q);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "queue: cannot allocate %zu slots", capacity);
    }
    q->capacity = capacity;

    int rc = pthread_mutex_init(&q->mu, NULL);
    if (rc != 0) {
        free(q->items);
        free(q);
        return AVF_FAIL(AVF_ERR_INTERNAL, "queue: pthread_mutex_init: %s", strerror(rc));
    }
    pthread_condattr_t attr;
    rc = pthread_condattr_init(&attr);
    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0) {
            rc = pthread_cond_init(&q->not_empty, &attr);
            if (rc == 0) {
                rc = pthread_cond_init(&q->not_full, &attr);
                if (rc != 0)
                    pthread_cond_destroy(&q->not_empty);
            }
        }
        pthread_condattr_destroy(&attr);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&q->mu);
        free(q->items);
        free(q);
        return AVF_FAIL(AVF_ERR_INTERNAL, "queue: condition variable setup: %s", strerror(rc));
    }
    *out = q;
    return AVF_OK;
}

void avf_queue_free(avf_queue *q) {
    if (!q)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->items);
    free(q);
}

/* Absolute CLOCK_MONOTONIC deadline `timeout_us` from now. Timeouts so long
 * that the deadline would overflow time_t are treated as "forever" by the
 * caller (returns 0). */
static int avf_deadline(int64_t timeout_us, struct timespec *ts) {
    /* ~292 years: far beyond any real wait, and safe to add to tv_sec. */
    if (timeout_us > (int64_t)1 << 53)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(timeout_us / 1000000);
    ts->tv_nsec += (long)(timeout_us % 1000000) * 1000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
    return 1;
}

/* One wait on cv; the caller re-checks its predicate. Returns ETIMEDOUT when
 * the deadline passed; `has_deadline` 0 waits without a deadline. */
static int avf_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int has_deadline,
                         const struct timespec *deadline) {
    if (!has_deadline)
        return pthread_cond_wait(cv, mu);
    return pthread_cond_timedwait(cv, mu, deadline);
}

avf_status avf_queue_push(avf_queue *q, void *item, int64_t timeout_us) {
    AVF_CHECK_ARG(q != NULL);
    AVF_CHECK_ARG(timeout_us >= -1);
    struct timespec deadline;
    int has_deadline = 0;

    pthread_mutex_lock(&q->mu);
    while (!q->closed && q->count == q->capacity) {
        if (timeout_us == 0) {
            pthread_mutex_unlock(&q->mu);
            return AVF_FAIL(AVF_ERR_FULL, "queue is full (%zu items)", q->capacity);
        }
        /* The deadline is taken on the first wait only, so spurious wakeups
         * and lost races do not extend the total wait. */
        if (timeout_us > 0 && !has_deadline)
            has_deadline = avf_deadline(timeout_us, &deadline);
        int rc = avf_cond_wait(&q->not_full, &q->mu, has_deadline, &deadline);
        /* On ETIMEDOUT re-check once: the wait may have consumed a signal
         * meant for us (POSIX allows that), and the space may be there. */
        if (rc == ETIMEDOUT && !q->closed && q->count == q->capacity) {
            pthread_mutex_unlock(&q->mu);
            return AVF_FAIL(AVF_ERR_TIMEOUT, "queue push timed out after %lld us",
                            (long long)timeout_us);
        }
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return AVF_FAIL(AVF_ERR_CLOSED, "queue is closed");
    }
    size_t tail = q->head + q->count;
    if (tail >= q->capacity)
        tail -= q->capacity;
    q->items[tail] = item;
    q->count++;
    /* One item wakes one popper. Signalled under the lock: once we unlock,
     * a consumer may finish and the owner free the queue, so touching the
     * condvar after unlocking could be a use after free. */
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return AVF_OK;
}

avf_status avf_queue_pop(avf_queue *q, void **item, int64_t timeout_us) {
    AVF_CHECK_ARG(q != NULL);
    AVF_CHECK_ARG(item != NULL);
    *item = NULL;
    AVF_CHECK_ARG(timeout_us >= -1);
    struct timespec deadline;
    int has_deadline = 0;

    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed) {
        if (timeout_us == 0) {
            pthread_mutex_unlock(&q->mu);
            return AVF_FAIL(AVF_ERR_TIMEOUT, "queue is empty");
        }
        if (timeout_us > 0 && !has_deadline)
            has_deadline = avf_deadline(timeout_us, &deadline);
        int rc = avf_cond_wait(&q->not_empty, &q->mu, has_deadline, &deadline);
        if (rc == ETIMEDOUT && q->count == 0 && !q->closed) {
            pthread_mutex_unlock(&q->mu);
            return AVF_FAIL(AVF_ERR_TIMEOUT, "queue pop timed out after %lld us",
                            (long long)timeout_us);
        }
    }
    /* Items left at close are still handed out: close means "no more
     * input", not "drop what is queued". */
    if (q->count == 0) {
        pthread_mutex_unlock(&q->mu);
        return AVF_FAIL(AVF_ERR_CLOSED, "queue is closed and drained");
    }
    *item = q->items[q->head];
    q->items[q->head] = NULL;
    q->head = q->head + 1 == q->capacity ? 0 : q->head + 1;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return AVF_OK;
}

void avf_queue_close(avf_queue *q) {
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t avf_queue_size(avf_queue *q) {
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t avf_queue_capacity(const avf_queue *q) {
    /* Immutable after creation, so no lock. */
    return q ? q->capacity : 0;
}
