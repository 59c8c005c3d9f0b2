/* The CPU kernels' thread pool (see parallel.h).
 *
 * A loop is cut into chunks (up to AVF_CPU_CHUNKS_PER_THREAD per thread),
 * which the caller and the woken workers claim one at a time from a shared
 * counter: on a machine whose cores are shared with other processes, a
 * worker that is slow to be scheduled only does fewer chunks instead of
 * holding up the loop. The counter carries the loop's generation in its
 * high bits, so a worker that wakes late can never claim a chunk of a later
 * loop. Workers sleep on a condition variable between loops; the caller
 * sleeps only when the last chunks are still running elsewhere. A worker
 * that cannot be created only lowers the thread count.
 */
#include "ops/cpu/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "avflow/log.h"
#include "core/thread_name.h"

#define AVF_CPU_MAX_THREADS 64
#define AVF_CPU_CHUNKS_PER_THREAD 4

static struct {
    pthread_once_t once, workers_once;
    atomic_int threads;   /* workers + the caller */
    pthread_mutex_t busy; /* held by the caller of the running loop */
    pthread_mutex_t mu;   /* guards the loop description below and the conds */
    pthread_cond_t go, done;
    uint32_t gen; /* bumped per loop */
    int64_t n, chunks;
    avf_cpu_range_fn fn;
    void *arg;
    atomic_uint_least64_t next; /* gen << 32 | next chunk to claim */
    atomic_int_least64_t finished; /* chunks of the current loop done */
} pool = {.once = PTHREAD_ONCE_INIT,
          .workers_once = PTHREAD_ONCE_INIT,
          .busy = PTHREAD_MUTEX_INITIALIZER,
          .mu = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

typedef struct loop_view {
    uint32_t gen;
    int64_t n, chunks;
    avf_cpu_range_fn fn;
    void *arg;
} loop_view;

/* Claim and run chunks of loop `l` until none is left; returns how many. */
static int64_t run_chunks(const loop_view *l, int slot) {
    int64_t ran = 0;
    uint64_t v = atomic_load(&pool.next);
    for (;;) {
        if ((uint32_t)(v >> 32) != l->gen || (int64_t)(v & 0xffffffffu) >= l->chunks)
            break;
        if (!atomic_compare_exchange_weak(&pool.next, &v, v + 1))
            continue; /* v was reloaded */
        int64_t c = (int64_t)(v & 0xffffffffu);
        int64_t lo = l->n * c / l->chunks, hi = l->n * (c + 1) / l->chunks;
        if (lo < hi)
            l->fn(l->arg, lo, hi, slot);
        ran++;
        v = atomic_load(&pool.next);
    }
    return ran;
}

/* Count `ran` chunks as finished; wake the caller after the last one. */
static void finish(const loop_view *l, int64_t ran) {
    if (ran == 0)
        return;
    if (atomic_fetch_add(&pool.finished, ran) + ran == l->chunks) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.mu);
    }
}

static void *worker(void *v) {
    int slot = (int)(intptr_t)v; /* 1 .. threads - 1 */
    avf_thread_set_name("avf-cpu");
    uint32_t seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen)
            pthread_cond_wait(&pool.go, &pool.mu);
        loop_view l = {pool.gen, pool.n, pool.chunks, pool.fn, pool.arg};
        seen = l.gen;
        pthread_mutex_unlock(&pool.mu);
        finish(&l, run_chunks(&l, slot));
        pthread_mutex_lock(&pool.mu);
    }
    return NULL;
}

static int env_threads(const char *name) {
    const char *e = getenv(name);
    if (!e || !*e)
        return 0;
    char *end = NULL;
    long v = strtol(e, &end, 10);
    if (*end != '\0' || v < 1)
        return 0;
    return v > AVF_CPU_MAX_THREADS ? AVF_CPU_MAX_THREADS : (int)v;
}

static void pool_start(void) {
    int t = env_threads("AVF_CPU_THREADS");
    if (!t)
        t = env_threads("OPENBLAS_NUM_THREADS");
    if (!t)
        t = env_threads("OMP_NUM_THREADS");
    if (!t) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        t = c < 1 ? 1 : c > AVF_CPU_MAX_THREADS ? AVF_CPU_MAX_THREADS : (int)c;
    }
    openblas_set_num_threads(1);
    atomic_store(&pool.threads, t);
}

/* The workers start with the first loop that needs them: a process whose
 * loops are all too small to split (Silero VAD) stays single-threaded, which
 * keeps glibc's single-thread fast paths (measured: 37 us of a 220 us VAD
 * step when an idle worker merely exists). */
static void workers_start(void) {
    int t = atomic_load(&pool.threads);
    int made = 1;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (; made < t; made++) {
        pthread_t tid;
        if (pthread_create(&tid, &attr, worker, (void *)(intptr_t)made) != 0) {
            AVF_WARN("cpu: %d of %d CPU threads started", made, t);
            break;
        }
    }
    pthread_attr_destroy(&attr);
    atomic_store(&pool.threads, made);
}

int avf_cpu_threads(void) {
    pthread_once(&pool.once, pool_start);
    return atomic_load(&pool.threads);
}

void avf_cpu_parallel_for(int64_t n, int64_t grain, avf_cpu_range_fn fn, void *arg) {
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    int t = avf_cpu_threads();
    int64_t chunks = n / grain, max_chunks = (int64_t)t * AVF_CPU_CHUNKS_PER_THREAD;
    if (chunks > max_chunks)
        chunks = max_chunks;
    if (t >= 2 && chunks >= 2) {
        pthread_once(&pool.workers_once, workers_start);
        t = atomic_load(&pool.threads); /* fewer if some could not start */
        if (chunks > (int64_t)t * AVF_CPU_CHUNKS_PER_THREAD)
            chunks = (int64_t)t * AVF_CPU_CHUNKS_PER_THREAD;
    }
    if (t < 2 || chunks < 2 || pthread_mutex_trylock(&pool.busy) != 0) {
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    loop_view l = {pool.gen + 1, n, chunks, fn, arg};
    if (l.gen == 0) /* 0 is the workers' "seen nothing yet" */
        l.gen = 1;
    pool.n = n;
    pool.chunks = chunks;
    pool.fn = fn;
    pool.arg = arg;
    atomic_store(&pool.finished, 0);
    atomic_store(&pool.next, (uint64_t)l.gen << 32);
    pool.gen = l.gen;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    finish(&l, run_chunks(&l, 0));
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.finished) < chunks)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.busy);
}
