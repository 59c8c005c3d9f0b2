/* Unit tests for the bounded MPMC queue: order, full/empty, timeouts,
 * close semantics, and a 4x4 producer/consumer stress run. */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void test_fifo(void **state) {
    (void)state;
    avf_queue *q = NULL;
    assert_avf_ok(avf_queue_create(8, &q));
    assert_int_equal(avf_queue_capacity(q), 8);
    assert_int_equal(avf_queue_size(q), 0);
    /* Several laps so the ring's head wraps around. */
    uintptr_t next_in = 1, next_out = 1;
    for (int lap = 0; lap < 5; lap++) {
        for (int i = 0; i < 5; i++)
            assert_avf_ok(avf_queue_push(q, (void *)next_in++, 0));
        assert_int_equal(avf_queue_size(q), 5);
        for (int i = 0; i < 5; i++) {
            void *item = NULL;
            assert_avf_ok(avf_queue_pop(q, &item, 0));
            assert_int_equal((uintptr_t)item, next_out++);
        }
    }
    /* NULL is a valid item. */
    assert_avf_ok(avf_queue_push(q, NULL, 0));
    void *item = (void *)1;
    assert_avf_ok(avf_queue_pop(q, &item, 0));
    assert_null(item);
    avf_queue_free(q);
    avf_queue_free(NULL);
}

static void test_full_and_empty(void **state) {
    (void)state;
    avf_queue *q = NULL;
    assert_avf_ok(avf_queue_create(3, &q));
    void *item = NULL;
    assert_avf_fails(avf_queue_pop(q, &item, 0), AVF_ERR_TIMEOUT);
    for (uintptr_t i = 1; i <= 3; i++)
        assert_avf_ok(avf_queue_push(q, (void *)i, 0));
    assert_avf_fails(avf_queue_push(q, (void *)4, 0), AVF_ERR_FULL);
    assert_int_equal(avf_queue_size(q), 3);
    assert_avf_ok(avf_queue_pop(q, &item, 0));
    assert_int_equal((uintptr_t)item, 1);
    assert_avf_ok(avf_queue_push(q, (void *)4, 0));
    assert_avf_fails(avf_queue_push(q, (void *)5, 0), AVF_ERR_FULL);
    avf_queue_free(q);

    /* Capacity 1 is a valid hand-off slot. */
    assert_avf_ok(avf_queue_create(1, &q));
    assert_avf_ok(avf_queue_push(q, (void *)1, 0));
    assert_avf_fails(avf_queue_push(q, (void *)2, 0), AVF_ERR_FULL);
    avf_queue_free(q);
}

static void test_timeouts(void **state) {
    (void)state;
    avf_queue *q = NULL;
    assert_avf_ok(avf_queue_create(1, &q));
    void *item = NULL;

    int64_t t0 = now_us();
    assert_avf_fails(avf_queue_pop(q, &item, 50000), AVF_ERR_TIMEOUT);
    int64_t waited = now_us() - t0;
    assert_true(waited >= 50000);
    assert_true(waited < 2000000); /* generous: sanitizers and loaded CI */

    assert_avf_ok(avf_queue_push(q, (void *)1, 0));
    t0 = now_us();
    assert_avf_fails(avf_queue_push(q, (void *)2, 30000), AVF_ERR_TIMEOUT);
    waited = now_us() - t0;
    assert_true(waited >= 30000);
    assert_true(waited < 2000000);

    /* Huge timeouts are a valid "practically forever", and return at once
     * when not needed. */
    assert_avf_ok(avf_queue_pop(q, &item, INT64_MAX));
    assert_int_equal((uintptr_t)item, 1);
    avf_queue_free(q);
}

typedef struct {
    avf_queue *q;
    avf_status status;
    void *item;
    int64_t timeout_us;
} waiter_arg;

static void *pop_waiter(void *p) {
    waiter_arg *a = p;
    a->status = avf_queue_pop(a->q, &a->item, a->timeout_us);
    return NULL;
}

static void *push_waiter(void *p) {
    waiter_arg *a = p;
    a->status = avf_queue_push(a->q, a->item, a->timeout_us);
    return NULL;
}

/* Wait until a blocked thread is very likely inside its wait. There is no
 * observable "is waiting" state, so a short sleep stands in; the tests stay
 * correct if it is too short (the operation then fails fast for the same
 * reason). */
static void let_threads_block(void) {
    sleep_us(50000);
}

static void test_blocking_handoff(void **state) {
    (void)state;
    avf_queue *q = NULL;
    assert_avf_ok(avf_queue_create(1, &q));
    waiter_arg a = {.q = q, .status = AVF_ERR_INTERNAL, .timeout_us = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pop_waiter, &a), 0);
    let_threads_block();
    assert_avf_ok(avf_queue_push(q, (void *)42, 0));
    pthread_join(th, NULL);
    assert_int_equal(a.status, AVF_OK);
    assert_int_equal((uintptr_t)a.item, 42);

    /* A pusher blocked on a full queue proceeds once a slot frees up. */
    assert_avf_ok(avf_queue_push(q, (void *)1, 0));
    waiter_arg b = {.q = q, .status = AVF_ERR_INTERNAL, .item = (void *)2, .timeout_us = 5000000};
    assert_int_equal(pthread_create(&th, NULL, push_waiter, &b), 0);
    let_threads_block();
    void *item = NULL;
    assert_avf_ok(avf_queue_pop(q, &item, 0));
    assert_int_equal((uintptr_t)item, 1);
    pthread_join(th, NULL);
    assert_int_equal(b.status, AVF_OK);
    assert_avf_ok(avf_queue_pop(q, &item, 0));
    assert_int_equal((uintptr_t)item, 2);
    avf_queue_free(q);
}

static void test_close_wakes_waiters(void **state) {
    (void)state;
    enum { N = 3 };
    avf_queue *q = NULL;
    pthread_t th[N];
    waiter_arg a[N];

    /* Poppers blocked forever on an empty queue. */
    assert_avf_ok(avf_queue_create(2, &q));
    for (int i = 0; i < N; i++) {
        a[i] = (waiter_arg){.q = q, .status = AVF_ERR_INTERNAL, .timeout_us = -1};
        assert_int_equal(pthread_create(&th[i], NULL, pop_waiter, &a[i]), 0);
    }
    let_threads_block();
    avf_queue_close(q);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].status, AVF_ERR_CLOSED);
        assert_null(a[i].item);
    }
    avf_queue_free(q);

    /* Pushers blocked forever on a full queue. */
    assert_avf_ok(avf_queue_create(1, &q));
    assert_avf_ok(avf_queue_push(q, (void *)7, 0));
    for (int i = 0; i < N; i++) {
        a[i] = (waiter_arg){.q = q, .status = AVF_ERR_INTERNAL, .item = (void *)8, .timeout_us = -1};
        assert_int_equal(pthread_create(&th[i], NULL, push_waiter, &a[i]), 0);
    }
    let_threads_block();
    avf_queue_close(q);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].status, AVF_ERR_CLOSED);
    }
    /* The item queued before close is still there. */
    assert_int_equal(avf_queue_size(q), 1);
    avf_queue_free(q);
}

static void test_close_drains(void **state) {
    (void)state;
    avf_queue *q = NULL;
    assert_avf_ok(avf_queue_create(4, &q));
    for (uintptr_t i = 1; i <= 3; i++)
        assert_avf_ok(avf_queue_push(q, (void *)i, 0));
    avf_queue_close(q);
    avf_queue_close(q); /* idempotent */
    assert_avf_fails(avf_queue_push(q, (void *)9, 0), AVF_ERR_CLOSED);
    assert_avf_fails(avf_queue_push(q, (void *)9, -1), AVF_ERR_CLOSED);
    void *item = NULL;
    for (uintptr_t i = 1; i <= 3; i++) {
        assert_avf_ok(avf_queue_pop(q, &item, -1));
        assert_int_equal((uintptr_t)item, i);
    }
    assert_avf_fails(avf_queue_pop(q, &item, 0), AVF_ERR_CLOSED);
    assert_avf_fails(avf_queue_pop(q, &item, -1), AVF_ERR_CLOSED); /* never blocks */
    assert_avf_fails(avf_queue_pop(q, &item, 1000), AVF_ERR_CLOSED);
    avf_queue_free(q);
    avf_queue_close(NULL);
}

/* ---------------------------------------------------------------- stress */

enum { STRESS_PRODUCERS = 4, STRESS_CONSUMERS = 4, STRESS_PER_PRODUCER = 100000 };
#define STRESS_TOTAL ((uint64_t)STRESS_PRODUCERS * STRESS_PER_PRODUCER)

typedef struct {
    avf_queue *q;
    atomic_int failures;
    _Atomic uint64_t sum;
    _Atomic uint64_t received;
    _Atomic uint8_t *seen; /* one flag per item */
} stress_ctx;

typedef struct {
    stress_ctx *ctx;
    int id;
} stress_arg;

static void *stress_producer(void *p) {
    stress_arg *a = p;
    stress_ctx *c = a->ctx;
    for (uint64_t i = 0; i < STRESS_PER_PRODUCER; i++) {
        /* Items are 1-based so that NULL never appears. */
        uint64_t v = (uint64_t)a->id * STRESS_PER_PRODUCER + i + 1;
        if (avf_queue_push(c->q, (void *)(uintptr_t)v, -1) != AVF_OK)
            atomic_fetch_add(&c->failures, 1);
    }
    return NULL;
}

static void *stress_consumer(void *p) {
    stress_arg *a = p;
    stress_ctx *c = a->ctx;
    uint64_t sum = 0, n = 0;
    for (;;) {
        void *item = NULL;
        avf_status s = avf_queue_pop(c->q, &item, -1);
        if (s == AVF_ERR_CLOSED)
            break;
        if (s != AVF_OK) {
            atomic_fetch_add(&c->failures, 1);
            break;
        }
        uint64_t v = (uint64_t)(uintptr_t)item;
        if (v == 0 || v > STRESS_TOTAL || atomic_exchange(&c->seen[v - 1], 1) != 0)
            atomic_fetch_add(&c->failures, 1); /* out of range or duplicate */
        sum += v;
        n++;
    }
    atomic_fetch_add(&c->sum, sum);
    atomic_fetch_add(&c->received, n);
    return NULL;
}

static void test_mpmc_stress(void **state) {
    (void)state;
    stress_ctx c = {0};
    /* A small queue so producers and consumers really contend and block. */
    assert_avf_ok(avf_queue_create(64, &c.q));
    c.seen = calloc(STRESS_TOTAL, sizeof(*c.seen));
    assert_non_null(c.seen);
    pthread_t prod[STRESS_PRODUCERS], cons[STRESS_CONSUMERS];
    stress_arg pa[STRESS_PRODUCERS], ca[STRESS_CONSUMERS];
    for (int i = 0; i < STRESS_CONSUMERS; i++) {
        ca[i] = (stress_arg){.ctx = &c, .id = i};
        assert_int_equal(pthread_create(&cons[i], NULL, stress_consumer, &ca[i]), 0);
    }
    for (int i = 0; i < STRESS_PRODUCERS; i++) {
        pa[i] = (stress_arg){.ctx = &c, .id = i};
        assert_int_equal(pthread_create(&prod[i], NULL, stress_producer, &pa[i]), 0);
    }
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    /* Consumers drain what is left, then see CLOSED. */
    avf_queue_close(c.q);
    for (int i = 0; i < STRESS_CONSUMERS; i++)
        pthread_join(cons[i], NULL);

    assert_int_equal(atomic_load(&c.failures), 0);
    assert_int_equal(atomic_load(&c.received), STRESS_TOTAL);
    assert_int_equal(atomic_load(&c.sum), STRESS_TOTAL * (STRESS_TOTAL + 1) / 2);
    for (uint64_t i = 0; i < STRESS_TOTAL; i++)
        if (c.seen[i] != 1)
            fail_msg("item %llu never received", (unsigned long long)i + 1);
    assert_int_equal(avf_queue_size(c.q), 0);
    free((void *)c.seen);
    avf_queue_free(c.q);
}

static void test_bad_args(void **state) {
    (void)state;
    avf_queue *q = (avf_queue *)1;
    assert_avf_fails(avf_queue_create(0, &q), AVF_ERR_INVALID_ARG);
    assert_null(q);
    assert_avf_fails(avf_queue_create(((size_t)1 << 24) + 1, &q), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_queue_create(4, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_queue_create((size_t)1 << 24, &q)); /* the upper bound is allowed */
    avf_queue_free(q);

    assert_avf_ok(avf_queue_create(4, &q));
    void *item = NULL;
    assert_avf_fails(avf_queue_push(NULL, item, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_queue_pop(NULL, &item, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_queue_pop(q, NULL, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_queue_push(q, item, -2), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_queue_pop(q, &item, -5), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_queue_size(NULL), 0);
    assert_int_equal(avf_queue_capacity(NULL), 0);
    avf_queue_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_blocking_handoff),
        cmocka_unit_test(test_close_wakes_waiters),
        cmocka_unit_test(test_close_drains),
        cmocka_unit_test(test_mpmc_stress),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
