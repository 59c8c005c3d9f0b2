/* The block cache (src/core/block_cache.c): a freed block goes to the next
 * get of a size it holds, never to one under half its size, and what is kept
 * stays within the cache's bounds; gets and puts from many threads keep the
 * count exact. */
#include "test_util.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/block_cache.h"

static void test_reuse_and_sizes(void **state) {
    (void)state;
    static avf_block_cache c = AVF_BLOCK_CACHE_INIT(8, (size_t)16 << 20, (size_t)64 << 20);
    void *big = avf_block_cache_get(&c, (size_t)4 << 20);
    assert_non_null(big);
    avf_block_cache_put(&c, big);
    assert_true(avf_block_cache_bytes(&c) >= ((size_t)4 << 20));
    void *small = avf_block_cache_get(&c, (size_t)1 << 20); /* under half: not the big one */
    assert_ptr_not_equal(small, big);
    void *again = avf_block_cache_get(&c, (size_t)3 << 20); /* fits: the big one */
    assert_ptr_equal(again, big);
    assert_int_equal(avf_block_cache_bytes(&c), 0);
    again = realloc(again, (size_t)5 << 20); /* a block got is a malloc block */
    assert_non_null(again);
    avf_block_cache_put(&c, small);
    avf_block_cache_put(&c, again);
    avf_block_cache_put(&c, NULL);
    /* the smallest that holds it */
    void *got = avf_block_cache_get(&c, (size_t)1 << 20);
    assert_ptr_equal(got, small);
    free(got);
}

static void test_bounds(void **state) {
    (void)state;
    static avf_block_cache c = AVF_BLOCK_CACHE_INIT(4, (size_t)8 << 20, (size_t)20 << 20);
    void *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = avf_block_cache_get(&c, (size_t)4 << 20);
        assert_non_null(p[i]);
    }
    for (int i = 0; i < 6; i++)
        avf_block_cache_put(&c, p[i]);
    /* 4 MiB blocks under a 20 MiB total: four kept (the count bound is 4 too) */
    assert_true(avf_block_cache_bytes(&c) <= ((size_t)20 << 20));
    assert_true(c.n <= 4);
    size_t before = avf_block_cache_bytes(&c);
    avf_block_cache_put(&c, malloc((size_t)9 << 20)); /* over max_one: freed */
    assert_int_equal(avf_block_cache_bytes(&c), before);
}

static avf_block_cache shared = AVF_BLOCK_CACHE_INIT(16, (size_t)1 << 20, (size_t)16 << 20);

static void *hammer(void *arg) {
    (void)arg;
    for (int k = 0; k < 5000; k++) {
        char *b = avf_block_cache_get(&shared, 200000 + (size_t)(k % 7) * 1000);
        if (!b)
            return (void *)1;
        b[0] = 1; /* ours to write */
        avf_block_cache_put(&shared, b);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_true(shared.n <= 16 && avf_block_cache_bytes(&shared) <= ((size_t)16 << 20));
    size_t sum = 0;
    for (int i = 0; i < shared.n; i++)
        sum += shared.cap[i];
    assert_int_equal(sum, avf_block_cache_bytes(&shared));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_sizes),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
