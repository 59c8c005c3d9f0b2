/* A bounded multi-lane FIFO: one ring per lane, each able to hold the whole
 * capacity (a lane may take every slot), a shared count for the bound. */
#include "serve/prio_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"

typedef struct lane {
    void **ring;
    size_t head, n;
} lane;

struct avf_srv_prio_queue {
    pthread_mutex_t mu;
    pthread_cond_t ready;
    size_t capacity, count;
    int levels, closed;
    lane lanes[AVF_SRV_MAX_PRIORITY_LEVELS];
};

avf_status avf_srv_prio_queue_create(size_t capacity, int levels, avf_srv_prio_queue **out) {
    *out = NULL;
    if (capacity < 1 || capacity > ((size_t)1 << 24) || levels < 1 ||
        levels > AVF_SRV_MAX_PRIORITY_LEVELS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "priority queue: capacity %zu or levels %d out of "
                        "bounds", capacity, levels);
    avf_srv_prio_queue *q = calloc(1, sizeof *q);
    if (!q)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "priority queue: out of memory");
    q->capacity = capacity;
    q->levels = levels;
    pthread_mutex_init(&q->mu, NULL);
    /* timed waits on the monotonic clock: a wall-clock jump must not stretch a batch delay */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->ready, &ca);
    pthread_condattr_destroy(&ca);
    for (int l = 0; l < levels; l++)
        if (!(q->lanes[l].ring = malloc(capacity * sizeof(void *)))) {
            avf_srv_prio_queue_free(q);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "priority queue: out of memory");
        }
    *out = q;
    return AVF_OK;
}

void avf_srv_prio_queue_free(avf_srv_prio_queue *q) {
    if (!q)
        return;
    for (int l = 0; l < q->levels; l++)
        free(q->lanes[l].ring);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

avf_status avf_srv_prio_queue_push(avf_srv_prio_queue *q, void *item, int lane_i) {
    if (lane_i < 0 || lane_i >= q->levels)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "priority lane %d outside [0, %d)", lane_i,
                        q->levels);
    pthread_mutex_lock(&q->mu);
    avf_status st = AVF_OK;
    if (q->closed)
        st = AVF_ERR_CLOSED;
    else if (q->count == q->capacity)
        st = AVF_ERR_FULL;
    else {
        lane *l = &q->lanes[lane_i];
        l->ring[(l->head + l->n) % q->capacity] = item;
        l->n++;
        q->count++;
        pthread_cond_signal(&q->ready);
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

static void deadline_after(int64_t us, struct timespec *ts) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(us / 1000000);
    ts->tv_nsec += (long)(us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

avf_status avf_srv_prio_queue_pop(avf_srv_prio_queue *q, void **item, int64_t timeout_us) {
    *item = NULL;
    struct timespec until;
    if (timeout_us > 0)
        deadline_after(timeout_us, &until);
    pthread_mutex_lock(&q->mu);
    avf_status st = AVF_OK;
    while (q->count == 0 && !q->closed) {
        if (timeout_us == 0) {
            st = AVF_ERR_TIMEOUT;
            break;
        }
        int rc = timeout_us < 0 ? pthread_cond_wait(&q->ready, &q->mu)
                                : pthread_cond_timedwait(&q->ready, &q->mu, &until);
        if (rc == ETIMEDOUT && q->count == 0) {
            st = AVF_ERR_TIMEOUT;
            break;
        }
    }
    if (st == AVF_OK && q->count == 0)
        st = AVF_ERR_CLOSED;
    if (st == AVF_OK) {
        int l = 0;
        while (q->lanes[l].n == 0)
            l++;
        lane *ln = &q->lanes[l];
        *item = ln->ring[ln->head];
        ln->head = (ln->head + 1) % q->capacity;
        ln->n--;
        q->count--;
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

void avf_srv_prio_queue_close(avf_srv_prio_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->mu);
}

size_t avf_srv_prio_queue_size(avf_srv_prio_queue *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t avf_srv_prio_queue_capacity(const avf_srv_prio_queue *q) { return q->capacity; }
