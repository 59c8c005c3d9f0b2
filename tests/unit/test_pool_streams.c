/* The caching device pool and stream lifetime: avf_pool_release_stream, on
 * every backend present (CPU always; cuda:0 when a GPU is there). Run under
 * ASan, any use of a released-then-freed stream by the pool is caught. */
#include <stdlib.h>

#include "test_util.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

static avf_pool_stats stats_of(avf_pool *p) {
    avf_pool_stats st;
    assert_avf_ok(avf_pool_get_stats(p, &st));
    return st;
}

static void *alloc_ok(avf_pool *p, size_t bytes, avf_stream *s) {
    void *ptr = NULL;
    assert_avf_ok(avf_pool_alloc(p, bytes, s, &ptr));
    assert_non_null(ptr);
    return ptr;
}

static void check_bytes(avf_device *dev, const void *dptr, size_t n, unsigned char want) {
    unsigned char *back = malloc(n);
    assert_non_null(back);
    avf_test_download(dev, back, dptr, n);
    for (size_t i = 0; i < n; i++)
        if (back[i] != want)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, back[i], want);
    free(back);
}

/* Cached, live and parked blocks of stream A survive A's release and free. */
static void test_release_stream(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    avf_stream *a = NULL, *b = NULL;
    assert_avf_ok(avf_stream_create(dev, &a));
    assert_avf_ok(avf_stream_create(dev, &b));

    void *x[6];
    for (int i = 0; i < 6; i++)
        x[i] = alloc_ok(p, 4096, a); /* one small segment of A */
    void *big = alloc_ok(p, 12 * MIB, a); /* a segment of its own */
    assert_int_equal(stats_of(p).driver_alloc_count, 2);
    assert_avf_ok(avf_memset_async(dev, x[1], 0x3c, 4096, a)); /* queued on A */
    assert_avf_ok(avf_memset_async(dev, x[3], 0x5a, 4096, a));
    assert_avf_ok(avf_pool_free(p, x[0], NULL)); /* cached for A */
    assert_avf_ok(avf_pool_free(p, x[2], a));    /* cached for A */
    assert_avf_ok(avf_pool_free(p, big, NULL));  /* cached for A */
    assert_avf_ok(avf_pool_free(p, x[4], b));    /* parked on an event of B */
    /* A block of the default stream parked on an event of A. */
    void *d = alloc_ok(p, 4096, NULL);
    assert_avf_ok(avf_pool_free(p, d, a));
    /* Live: x[1], x[3], x[5]. */

    assert_avf_ok(avf_pool_release_stream(p, a));
    avf_stream_free(a); /* the pool must not touch A from here on */
    a = NULL;

    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 3 * 4096);
    assert_int_equal(st.driver_alloc_count, 2);
    uint64_t reused = st.reused_count;

    /* The default stream reuses A's cached memory, without a driver call. */
    void *c = alloc_ok(p, 12 * MIB, NULL);
    assert_ptr_equal(c, big);
    void *e = alloc_ok(p, 4096, NULL);
    st = stats_of(p);
    assert_int_equal(st.reused_count, reused + 2);
    assert_int_equal(st.driver_alloc_count, 2);
    /* So does B (taking from the default stream, now the owner). */
    void *f = alloc_ok(p, 8192, b);
    assert_avf_ok(avf_pool_free(p, c, NULL));
    void *h = alloc_ok(p, 12 * MIB, b);
    assert_ptr_equal(h, big);
    st = stats_of(p);
    assert_int_equal(st.reused_count, reused + 4);
    assert_int_equal(st.driver_alloc_count, 2);
    assert_int_equal(st.stolen_count, 3); /* d from A, then f and h */

    /* Live blocks of A kept their data and free like default-stream blocks. */
    check_bytes(dev, x[1], 4096, 0x3c);
    check_bytes(dev, x[3], 4096, 0x5a);
    assert_avf_ok(avf_pool_free(p, x[1], NULL));
    assert_avf_ok(avf_pool_free(p, x[3], b)); /* parked on B */
    assert_avf_ok(avf_pool_free(p, x[5], NULL));
    assert_avf_fails(avf_pool_free(p, x[5], NULL), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_pool_free(p, e, NULL));
    assert_avf_ok(avf_pool_free(p, f, b));
    assert_avf_ok(avf_pool_free(p, h, NULL));
    st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.requested_bytes, 0);

    /* Everything went back to free blocks: trim returns every segment. */
    uint64_t rel = 0;
    assert_avf_ok(avf_pool_trim(p, &rel));
    st = stats_of(p);
    assert_int_equal(st.reserved_bytes, 0);
    assert_int_equal(st.segment_count, 0);
    assert_int_equal(st.free_block_count, 0);
    assert_int_equal(rel, 2 * MIB + 12 * MIB);
    avf_pool_free_all(p);
    avf_stream_free(b);
}

/* A's cached block merges with its free neighbour of the default stream. */
static void test_release_stream_merges(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    avf_stream *a = NULL;
    assert_avf_ok(avf_stream_create(dev, &a));
    char *x = alloc_ok(p, 4096, a);      /* new segment of A */
    char *d = alloc_ok(p, 4096, NULL);   /* the default stream takes A's tail */
    assert_ptr_equal(d, x + 4096);
    assert_avf_ok(avf_pool_free(p, x, NULL)); /* A's */
    assert_avf_ok(avf_pool_free(p, d, NULL)); /* the default's, merged with the tail */
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.free_block_count, 2);
    assert_int_equal(st.largest_free_block, 2 * MIB - 4096);
    assert_avf_ok(avf_pool_release_stream(p, a));
    avf_stream_free(a);
    st = stats_of(p);
    assert_int_equal(st.free_block_count, 1);
    assert_int_equal(st.largest_free_block, 2 * MIB);
    char *y = alloc_ok(p, 2 * 4096, NULL); /* from the merged block */
    assert_ptr_equal(y, x);
    assert_int_equal(stats_of(p).driver_alloc_count, 1);
    assert_avf_ok(avf_pool_free(p, y, NULL));

    /* With no default sub-pool (pruned by trim), A's becomes it. */
    assert_avf_ok(avf_pool_trim(p, NULL));
    assert_avf_ok(avf_stream_create(dev, &a));
    x = alloc_ok(p, 4096, a);
    assert_avf_ok(avf_pool_free(p, x, NULL));
    assert_avf_ok(avf_pool_release_stream(p, a));
    avf_stream_free(a);
    y = alloc_ok(p, 4096, NULL);
    assert_ptr_equal(y, x);
    st = stats_of(p);
    assert_int_equal(st.driver_alloc_count, 2);
    assert_int_equal(st.stolen_count, 1); /* only the first test's d */
    assert_avf_ok(avf_pool_free(p, y, NULL));
    avf_pool_free_all(p);
}

/* Many streams come and go: the lookup table keeps finding the others. */
static void test_release_many_streams(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    enum { N = 40 };
    avf_stream *s[N];
    void *ptr[N];
    for (int i = 0; i < N; i++) {
        assert_avf_ok(avf_stream_create(dev, &s[i]));
        ptr[i] = alloc_ok(p, 1000 + (size_t)i * 512, s[i]);
    }
    for (int i = 0; i < N; i += 2) { /* release every other one */
        assert_avf_ok(avf_pool_free(p, ptr[i], s[i]));
        assert_avf_ok(avf_pool_release_stream(p, s[i]));
        avf_stream_free(s[i]);
        s[i] = NULL;
    }
    for (int i = 1; i < N; i += 2) { /* the rest still have their sub-pools */
        assert_avf_ok(avf_pool_free(p, ptr[i], NULL));
        void *q = alloc_ok(p, 1000 + (size_t)i * 512, s[i]);
        assert_ptr_equal(q, ptr[i]);
        assert_avf_ok(avf_pool_free(p, q, s[i]));
        assert_avf_ok(avf_pool_release_stream(p, s[i]));
        avf_stream_free(s[i]);
    }
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_int_equal(st.free_block_count, 1); /* all one owner again, merged */
    avf_pool_free_all(p);
}

/* A stream the pool never saw: AVF_OK, nothing changes. */
static void test_release_unknown_stream(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    avf_stream *s = NULL, *t = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    assert_avf_ok(avf_stream_create(dev, &t));
    void *x = alloc_ok(p, 4096, t);
    void *y = alloc_ok(p, 4096, NULL);
    assert_avf_ok(avf_pool_free(p, y, NULL));
    avf_pool_stats before = stats_of(p);
    assert_avf_ok(avf_pool_release_stream(p, s));
    avf_pool_stats after = stats_of(p);
    assert_memory_equal(&before, &after, sizeof before);
    assert_avf_ok(avf_pool_release_stream(p, s)); /* twice is fine */
    /* t still owns its block and sub-pool. */
    assert_avf_ok(avf_pool_free(p, x, NULL));
    void *z = alloc_ok(p, 4096, t);
    assert_ptr_equal(z, x);
    assert_avf_ok(avf_pool_free(p, z, t));
    /* A released stream may be used again: a new sub-pool. */
    assert_avf_ok(avf_pool_release_stream(p, t));
    z = alloc_ok(p, 4096, t);
    assert_avf_ok(avf_pool_free(p, z, t));
    assert_avf_ok(avf_pool_release_stream(p, t));
    assert_int_equal(stats_of(p).in_use_bytes, 0);
    avf_pool_free_all(p);
    avf_stream_free(s);
    avf_stream_free(t);
}

static void test_release_stream_bad_args(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    assert_avf_fails(avf_pool_release_stream(NULL, s), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_release_stream(NULL, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_release_stream(p, NULL), AVF_ERR_INVALID_ARG);
    /* A stream of another device (the other backend, when present). */
    avf_device_kind other = avf_device_get_kind(dev) == AVF_DEVICE_CPU ? AVF_DEVICE_CUDA
                                                                         : AVF_DEVICE_CPU;
    int n = 0;
    if (avf_device_count(other, &n) == AVF_OK && n > 0) {
        avf_device *odev = NULL;
        avf_stream *os = NULL;
        assert_avf_ok(avf_device_get(other, 0, &odev));
        assert_avf_ok(avf_stream_create(odev, &os));
        assert_avf_fails(avf_pool_release_stream(p, os), AVF_ERR_INVALID_ARG);
        assert_non_null(strstr(avf_last_error(), "used with a pool on"));
        avf_stream_free(os);
    }
    assert_int_equal(stats_of(p).failed_count, 0);
    avf_pool_free_all(p);
    avf_stream_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        AVF_DEVICE_TESTS(test_release_stream),
        AVF_DEVICE_TESTS(test_release_stream_merges),
        AVF_DEVICE_TESTS(test_release_many_streams),
        AVF_DEVICE_TESTS(test_release_unknown_stream),
        AVF_DEVICE_TESTS(test_release_stream_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
