/* Unit tests for the thread pool: throughput, wait_idle, back-pressure,
 * draining on free, defaults and bad arguments. */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static void sleep_us(int64_t us) {
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void count_task(void *arg) {
    atomic_fetch_add((_Atomic uint64_t *)arg, 1);
}

static void test_many_tasks(void **state) {
    (void)state;
    enum { N = 100000 };
    avf_threadpool *tp = NULL;
    assert_avf_ok(avf_threadpool_create(4, 256, &tp));
    assert_int_equal(avf_threadpool_size(tp), 4);
    _Atomic uint64_t counter = 0;
    for (int i = 0; i < N; i++)
        assert_avf_ok(avf_threadpool_submit(tp, count_task, &counter, -1));
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&counter), N);
    assert_int_equal(avf_threadpool_completed(tp), N);
    /* wait_idle on an idle pool returns at once, and the pool is reusable. */
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    for (int i = 0; i < 10; i++)
        assert_avf_ok(avf_threadpool_submit(tp, count_task, &counter, 0));
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&counter), N + 10);
    avf_threadpool_free(tp);
    avf_threadpool_free(NULL);
}

typedef struct {
    _Atomic int started;
    _Atomic int finished;
    int64_t sleep_us;
} slow_ctx;

static void slow_task(void *arg) {
    slow_ctx *c = arg;
    atomic_fetch_add(&c->started, 1);
    sleep_us(c->sleep_us);
    atomic_fetch_add(&c->finished, 1);
}

static void test_wait_idle_waits(void **state) {
    (void)state;
    avf_threadpool *tp = NULL;
    assert_avf_ok(avf_threadpool_create(2, 16, &tp));
    slow_ctx c = {.sleep_us = 20000};
    /* 8 tasks of 20 ms on 2 threads: at least 80 ms of work, so returning
     * early would be seen. */
    for (int i = 0; i < 8; i++)
        assert_avf_ok(avf_threadpool_submit(tp, slow_task, &c, -1));
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&c.finished), 8);
    assert_int_equal(avf_threadpool_completed(tp), 8);
    avf_threadpool_free(tp);
}

/* A task that blocks until the test opens a gate. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    _Atomic int entered;
    _Atomic int done;
} gate;

static void gate_task(void *arg) {
    gate *g = arg;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->done, 1);
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void wait_entered(gate *g, int n) {
    for (int i = 0; i < 5000 && atomic_load(&g->entered) < n; i++)
        sleep_us(1000);
    assert_int_equal(atomic_load(&g->entered), n);
}

static void test_back_pressure(void **state) {
    (void)state;
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    avf_threadpool *tp = NULL;
    assert_avf_ok(avf_threadpool_create(1, 1, &tp));
    /* First task occupies the only worker... */
    assert_avf_ok(avf_threadpool_submit(tp, gate_task, &g, -1));
    wait_entered(&g, 1);
    /* ...the second fills the queue of capacity 1... */
    assert_avf_ok(avf_threadpool_submit(tp, gate_task, &g, 0));
    /* ...so the third is refused at once, or after its timeout. */
    assert_avf_fails(avf_threadpool_submit(tp, gate_task, &g, 0), AVF_ERR_FULL);
    assert_avf_fails(avf_threadpool_submit(tp, gate_task, &g, 20000), AVF_ERR_TIMEOUT);
    /* Refused tasks do not count as pending: wait_idle must still finish. */
    gate_open(&g);
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&g.done), 2);
    assert_int_equal(avf_threadpool_completed(tp), 2);
    avf_threadpool_free(tp);
}

static void test_free_runs_queued(void **state) {
    (void)state;
    gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    _Atomic uint64_t counter = 0;
    avf_threadpool *tp = NULL;
    assert_avf_ok(avf_threadpool_create(2, 64, &tp));
    assert_avf_ok(avf_threadpool_submit(tp, gate_task, &g, -1));
    assert_avf_ok(avf_threadpool_submit(tp, gate_task, &g, -1));
    wait_entered(&g, 2);
    /* Both workers are blocked, so these wait in the queue. */
    for (int i = 0; i < 50; i++)
        assert_avf_ok(avf_threadpool_submit(tp, count_task, &counter, 0));
    gate_open(&g);
    avf_threadpool_free(tp); /* must run all 50 before joining */
    assert_int_equal(atomic_load(&counter), 50);
    assert_int_equal(atomic_load(&g.done), 2);
}

static void test_default_threads(void **state) {
    (void)state;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    if (n > 1024)
        n = 1024;
    avf_threadpool *tp = NULL;
    assert_avf_ok(avf_threadpool_create(0, 0, &tp));
    assert_int_equal(avf_threadpool_size(tp), n);
    _Atomic uint64_t counter = 0;
    /* Default capacity (1024) takes 1024 submissions without waiting even
     * if no worker has started yet. */
    for (int i = 0; i < 1024; i++)
        assert_avf_ok(avf_threadpool_submit(tp, count_task, &counter, 0));
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&counter), 1024);
    avf_threadpool_free(tp);
}

typedef struct {
    avf_threadpool *tp;
    avf_status status;
} self_wait_ctx;

static void self_wait_task(void *arg) {
    self_wait_ctx *c = arg;
    c->status = avf_threadpool_wait_idle(c->tp);
}

static void test_wait_idle_from_task(void **state) {
    (void)state;
    self_wait_ctx c = {.status = AVF_OK};
    assert_avf_ok(avf_threadpool_create(1, 4, &c.tp));
    assert_avf_ok(avf_threadpool_submit(c.tp, self_wait_task, &c, -1));
    assert_avf_ok(avf_threadpool_wait_idle(c.tp));
    /* Refused instead of deadlocking on itself. */
    assert_int_equal(c.status, AVF_ERR_INVALID_ARG);
    avf_threadpool_free(c.tp);
}

static void test_bad_args(void **state) {
    (void)state;
    avf_threadpool *tp = (avf_threadpool *)1;
    assert_avf_fails(avf_threadpool_create(-1, 4, &tp), AVF_ERR_INVALID_ARG);
    assert_null(tp);
    assert_avf_fails(avf_threadpool_create(1025, 4, &tp), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_threadpool_create(1, ((size_t)1 << 24) + 1, &tp), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_threadpool_create(1, 4, NULL), AVF_ERR_INVALID_ARG);

    assert_avf_ok(avf_threadpool_create(1, 4, &tp));
    _Atomic uint64_t counter = 0;
    assert_avf_fails(avf_threadpool_submit(NULL, count_task, &counter, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_threadpool_submit(tp, NULL, &counter, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_threadpool_submit(tp, count_task, &counter, -2), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_threadpool_wait_idle(NULL), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_threadpool_size(NULL), 0);
    assert_int_equal(avf_threadpool_completed(NULL), 0);
    /* Failed submissions leave nothing pending. */
    assert_avf_ok(avf_threadpool_wait_idle(tp));
    assert_int_equal(atomic_load(&counter), 0);
    avf_threadpool_free(tp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_tasks),
        cmocka_unit_test(test_wait_idle_waits),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_free_runs_queued),
        cmocka_unit_test(test_default_threads),
        cmocka_unit_test(test_wait_idle_from_task),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
