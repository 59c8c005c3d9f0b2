/* The /v1 endpoints' replica choice (src/apps/http_replicas.c): batches go
 * to the least busy device, idle devices take turns, a release frees its
 * device for the next batch, and concurrent use keeps the counts exact. */
#include "test_util.h"

#include <pthread.h>

#include "apps/http_replicas.h"

static void test_spreads_then_fills_least_busy(void **state) {
    (void)state;
    avf_http_replicas r;
    avf_http_replicas_init(&r, 3);
    int count[3] = {0, 0, 0};
    for (int k = 0; k < 9; k++)
        count[avf_http_replicas_acquire(&r)]++;
    /* nothing released: each device got three */
    assert_int_equal(count[0], 3);
    assert_int_equal(count[1], 3);
    assert_int_equal(count[2], 3);
    avf_http_replicas_release(&r, 1);
    assert_int_equal(avf_http_replicas_acquire(&r), 1); /* the one with room */
}

static void test_idle_devices_take_turns(void **state) {
    (void)state;
    avf_http_replicas r;
    avf_http_replicas_init(&r, 2);
    int seen[2] = {0, 0};
    for (int k = 0; k < 10; k++) { /* one batch at a time */
        int i = avf_http_replicas_acquire(&r);
        seen[i]++;
        avf_http_replicas_release(&r, i);
    }
    assert_int_equal(seen[0], 5);
    assert_int_equal(seen[1], 5);
}

static void test_bounds(void **state) {
    (void)state;
    avf_http_replicas r;
    avf_http_replicas_init(&r, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(avf_http_replicas_acquire(&r), 0);
    avf_http_replicas_release(&r, 5);  /* out of range: ignored */
    avf_http_replicas_release(&r, -1);
    assert_int_equal(atomic_load(&r.busy[0]), 1);
    avf_http_replicas_init(&r, 1000);
    assert_int_equal(r.n, AVF_HTTP_MAX_REPLICAS);
}

static avf_http_replicas shared;

static void *hammer(void *arg) {
    (void)arg;
    for (int k = 0; k < 20000; k++)
        avf_http_replicas_release(&shared, avf_http_replicas_acquire(&shared));
    return NULL;
}

static void test_concurrent_counts_return_to_zero(void **state) {
    (void)state;
    avf_http_replicas_init(&shared, 4);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&shared.busy[i]), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spreads_then_fills_least_busy),
        cmocka_unit_test(test_idle_devices_take_turns),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_concurrent_counts_return_to_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
