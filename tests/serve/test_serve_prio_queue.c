/* The batcher's bounded priority queue: lane order, FIFO within a lane, one
 * bound over all lanes, timeouts, close-and-drain, argument bounds. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "test_util.h"

#include "serve/prio_queue.h"

static void *item(intptr_t v) { return (void *)v; }

static void test_order_and_bound(void **state) {
    avf_srv_prio_queue *q;
    assert_int_equal(avf_srv_prio_queue_create(4, 3, &q), AVF_OK);
    assert_int_equal(avf_srv_prio_queue_push(q, item(1), 2), AVF_OK);
    assert_int_equal(avf_srv_prio_queue_push(q, item(2), 0), AVF_OK);
    assert_int_equal(avf_srv_prio_queue_push(q, item(3), 2), AVF_OK);
    assert_int_equal(avf_srv_prio_queue_push(q, item(4), 1), AVF_OK);
    /* full across lanes: even the most urgent lane is refused */
    assert_int_equal(avf_srv_prio_queue_push(q, item(5), 0), AVF_ERR_FULL);
    assert_int_equal(avf_srv_prio_queue_size(q), 4);
    intptr_t want[4] = {2, 4, 1, 3};
    for (int i = 0; i < 4; i++) {
        void *p;
        assert_int_equal(avf_srv_prio_queue_pop(q, &p, 0), AVF_OK);
        assert_int_equal((intptr_t)p, want[i]);
    }
    void *p;
    assert_int_equal(avf_srv_prio_queue_pop(q, &p, 0), AVF_ERR_TIMEOUT);
    assert_null(p);
    assert_int_equal(avf_srv_prio_queue_push(q, item(1), 3), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_srv_prio_queue_push(q, item(1), -1), AVF_ERR_INVALID_ARG);
    avf_srv_prio_queue_free(q);
}

/* Rings wrap: many rounds through a small capacity keep FIFO order. */
static void test_wraps(void **state) {
    avf_srv_prio_queue *q;
    assert_int_equal(avf_srv_prio_queue_create(3, 1, &q), AVF_OK);
    intptr_t next_in = 0, next_out = 0;
    for (int round = 0; round < 100; round++) {
        while (avf_srv_prio_queue_push(q, item(next_in), 0) == AVF_OK)
            next_in++;
        void *p;
        assert_int_equal(avf_srv_prio_queue_pop(q, &p, 0), AVF_OK);
        assert_int_equal((intptr_t)p, next_out++);
    }
    avf_srv_prio_queue_free(q);
}

static void test_timeout_waits(void **state) {
    avf_srv_prio_queue *q;
    assert_int_equal(avf_srv_prio_queue_create(2, 1, &q), AVF_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    void *p;
    assert_int_equal(avf_srv_prio_queue_pop(q, &p, 30000), AVF_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    assert_true(ms >= 29.0 && ms < 2000.0);
    avf_srv_prio_queue_free(q);
}

static void *closer(void *arg) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    avf_srv_prio_queue_close(arg);
    return NULL;
}

static void test_close_drains_then_fails(void **state) {
    avf_srv_prio_queue *q;
    assert_int_equal(avf_srv_prio_queue_create(4, 2, &q), AVF_OK);
    assert_int_equal(avf_srv_prio_queue_push(q, item(7), 1), AVF_OK);
    avf_srv_prio_queue_close(q);
    assert_int_equal(avf_srv_prio_queue_push(q, item(8), 0), AVF_ERR_CLOSED);
    void *p;
    assert_int_equal(avf_srv_prio_queue_pop(q, &p, -1), AVF_OK);
    assert_int_equal((intptr_t)p, 7);
    assert_int_equal(avf_srv_prio_queue_pop(q, &p, -1), AVF_ERR_CLOSED);
    avf_srv_prio_queue_free(q);
    /* a waiter blocked forever is woken by close */
    assert_int_equal(avf_srv_prio_queue_create(4, 1, &q), AVF_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, closer, q), 0);
    assert_int_equal(avf_srv_prio_queue_pop(q, &p, -1), AVF_ERR_CLOSED);
    pthread_join(t, NULL);
    avf_srv_prio_queue_free(q);
}

static void test_bounds(void **state) {
    avf_srv_prio_queue *q = (void *)1;
    assert_int_equal(avf_srv_prio_queue_create(0, 1, &q), AVF_ERR_INVALID_ARG);
    assert_null(q);
    assert_int_equal(avf_srv_prio_queue_create(4, 0, &q), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_srv_prio_queue_create(4, AVF_SRV_MAX_PRIORITY_LEVELS + 1, &q),
                     AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_srv_prio_queue_create(((size_t)1 << 24) + 1, 1, &q),
                     AVF_ERR_INVALID_ARG);
    avf_srv_prio_queue_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bound),
        cmocka_unit_test(test_wraps),
        cmocka_unit_test(test_timeout_waits),
        cmocka_unit_test(test_close_drains_then_fails),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
