/* avflow thread pool: N workers popping (fn, arg) tasks from one avf_queue.
 *
 * The bounded queue gives submit its back-pressure. Idleness is tracked by
 * a counter of tasks submitted but not yet finished (`pending`), changed
 * under a mutex with a condvar that wait_idle sleeps on; counting from
 * submit (not from pop) means a task sitting in the queue keeps the pool
 * busy, so wait_idle cannot return between a push and the worker's pop.
 */
#include "avflow/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avflow/log.h"
#include "core/thread_name.h"
#include "avflow/queue.h"
#include "core/error.h"

#define AVF_THREADPOOL_MAX_THREADS 1024
#define AVF_THREADPOOL_DEFAULT_QUEUE 1024
#define AVF_THREADPOOL_MAX_QUEUE ((size_t)1 << 24)

typedef struct avf_task {
    avf_task_fn fn;
    void *arg;
} avf_task;

struct avf_threadpool {
    avf_queue *queue;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t idle_cv;
    uint64_t pending; /* submitted, not finished; guarded by mu */
    _Atomic uint64_t completed;
};

/* The pool the current thread works for, so that wait_idle/free called from
 * inside a task can refuse instead of deadlocking on itself. */
static _Thread_local avf_threadpool *avf_current_pool;

static void avf_threadpool_task_done(avf_threadpool *tp) {
    pthread_mutex_lock(&tp->mu);
    if (--tp->pending == 0)
        pthread_cond_broadcast(&tp->idle_cv);
    pthread_mutex_unlock(&tp->mu);
}

static void *avf_threadpool_worker(void *p) {
    avf_threadpool *tp = p;
    avf_thread_set_name("avf-pool");
    avf_current_pool = tp;
    for (;;) {
        void *item = NULL;
        /* Blocks until a task arrives; CLOSED only once the queue is closed
         * and drained, which is how free() ends the workers. */
        if (avf_queue_pop(tp->queue, &item, -1) != AVF_OK)
            break;
        avf_task *task = item;
        task->fn(task->arg);
        free(task);
        atomic_fetch_add_explicit(&tp->completed, 1, memory_order_relaxed);
        avf_threadpool_task_done(tp);
    }
    avf_current_pool = NULL;
    return NULL;
}

/* Stop and join the first `n` workers (used by free and by create's error
 * path). */
static void avf_threadpool_join(avf_threadpool *tp, int n) {
    avf_queue_close(tp->queue);
    for (int i = 0; i < n; i++)
        pthread_join(tp->threads[i], NULL);
}

avf_status avf_threadpool_create(int threads, size_t queue_capacity, avf_threadpool **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    if (threads < 0 || threads > AVF_THREADPOOL_MAX_THREADS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "threads %d is outside [0, %d]", threads,
                        AVF_THREADPOOL_MAX_THREADS);
    if (queue_capacity > AVF_THREADPOOL_MAX_QUEUE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "queue capacity %zu is above %zu", queue_capacity,
                        AVF_THREADPOOL_MAX_QUEUE);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : (n > AVF_THREADPOOL_MAX_THREADS ? AVF_THREADPOOL_MAX_THREADS : (int)n);
    }
    if (queue_capacity == 0)
        queue_capacity = AVF_THREADPOOL_DEFAULT_QUEUE;

    avf_threadpool *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "threadpool: out of host memory");
    tp->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (!tp->threads) {
        free(tp);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "threadpool: out of host memory");
    }
    avf_status st = avf_queue_create(queue_capacity, &tp->queue);
    if (st != AVF_OK) {
        free(tp->threads);
        free(tp);
        return st;
    }
    int rc = pthread_mutex_init(&tp->mu, NULL);
    if (rc == 0) {
        rc = pthread_cond_init(&tp->idle_cv, NULL);
        if (rc != 0)
            pthread_mutex_destroy(&tp->mu);
    }
    if (rc != 0) {
        avf_queue_free(tp->queue);
        free(tp->threads);
        free(tp);
        return AVF_FAIL(AVF_ERR_INTERNAL, "threadpool: mutex/condvar init: %s", strerror(rc));
    }
    atomic_init(&tp->completed, 0);

    for (int i = 0; i < threads; i++) {
        rc = pthread_create(&tp->threads[i], NULL, avf_threadpool_worker, tp);
        if (rc != 0) {
            avf_threadpool_join(tp, i);
            pthread_cond_destroy(&tp->idle_cv);
            pthread_mutex_destroy(&tp->mu);
            avf_queue_free(tp->queue);
            free(tp->threads);
            free(tp);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "threadpool: cannot start thread %d of %d: %s",
                            i + 1, threads, strerror(rc));
        }
    }
    tp->nthreads = threads;
    *out = tp;
    return AVF_OK;
}

void avf_threadpool_free(avf_threadpool *tp) {
    if (!tp)
        return;
    if (avf_current_pool == tp) {
        /* Joining ourselves would hang forever; leaking is the lesser harm,
         * and free() has no status to report it through. */
        AVF_ERROR("avf_threadpool_free called from one of the pool's own tasks; not freed");
        return;
    }
    /* Close first: the workers keep popping until the queue is drained, so
     * every task already submitted still runs. */
    avf_threadpool_join(tp, tp->nthreads);
    pthread_cond_destroy(&tp->idle_cv);
    pthread_mutex_destroy(&tp->mu);
    avf_queue_free(tp->queue);
    free(tp->threads);
    free(tp);
}

avf_status avf_threadpool_submit(avf_threadpool *tp, avf_task_fn fn, void *arg,
                                 int64_t timeout_us) {
    AVF_CHECK_ARG(tp != NULL);
    AVF_CHECK_ARG(fn != NULL);
    AVF_CHECK_ARG(timeout_us >= -1);
    avf_task *task = malloc(sizeof(*task));
    if (!task)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "threadpool: cannot allocate a task");
    task->fn = fn;
    task->arg = arg;

    /* Count before pushing: a worker may finish the task before push even
     * returns, and the count must never go below zero. */
    pthread_mutex_lock(&tp->mu);
    tp->pending++;
    pthread_mutex_unlock(&tp->mu);

    avf_status st = avf_queue_push(tp->queue, task, timeout_us);
    if (st != AVF_OK) {
        free(task);
        avf_threadpool_task_done(tp);
        /* The queue's message (full / timeout / closed) stands. */
        return st;
    }
    return AVF_OK;
}

avf_status avf_threadpool_wait_idle(avf_threadpool *tp) {
    AVF_CHECK_ARG(tp != NULL);
    if (avf_current_pool == tp)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "wait_idle from one of the pool's own tasks would wait for itself");
    pthread_mutex_lock(&tp->mu);
    while (tp->pending > 0)
        pthread_cond_wait(&tp->idle_cv, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
    return AVF_OK;
}

int avf_threadpool_size(const avf_threadpool *tp) {
    return tp ? tp->nthreads : 0;
}

uint64_t avf_threadpool_completed(avf_threadpool *tp) {
    return tp ? atomic_load_explicit(&tp->completed, memory_order_relaxed) : 0;
}
