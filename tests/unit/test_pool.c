/* The caching device pool, on every backend present (CPU always; cuda:0 when
 * a GPU is there). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "test_util.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

static avf_pool *pool_with_cap(avf_device *dev, uint64_t cap) {
    avf_pool_config cfg;
    avf_pool_config_default(&cfg);
    cfg.cap_bytes = cap;
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, &cfg, &p));
    assert_non_null(p);
    return p;
}

static avf_pool_stats stats_of(avf_pool *p) {
    avf_pool_stats st;
    assert_avf_ok(avf_pool_get_stats(p, &st));
    return st;
}

static void *alloc_ok(avf_pool *p, size_t bytes, avf_stream *s) {
    void *ptr = NULL;
    assert_avf_ok(avf_pool_alloc(p, bytes, s, &ptr));
    assert_non_null(ptr);
    assert_int_equal((uintptr_t)ptr % 256, 0);
    return ptr;
}

static size_t round512(size_t n) { return (n + 511) / 512 * 512; }

/* xorshift64*: deterministic and independent of the libc. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Mostly small sizes, some medium, a few large ones. */
static size_t random_size(uint64_t *rng, size_t large_max) {
    uint64_t r = rng_next(rng);
    unsigned pick = (unsigned)(r % 100);
    uint64_t v = rng_next(rng);
    if (pick < 70)
        return 1 + (size_t)(v % (64 * KIB));
    if (pick < 95)
        return 64 * KIB + (size_t)(v % (960 * KIB));
    return MIB + (size_t)(v % (large_max - MIB));
}

/* ------------------------------------------------------------------ basics */

static void test_basic_alloc_free(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    assert_ptr_equal(avf_pool_device(p), dev);
    void *a = alloc_ok(p, 1000, NULL);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 1024);
    assert_int_equal(st.requested_bytes, 1000);
    assert_int_equal(st.alloc_count, 1);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_int_equal(st.segment_count, 1);
    assert_int_equal(st.reserved_bytes, 2 * MIB);
    assert_true(st.limit_bytes > 0);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.requested_bytes, 0);
    assert_int_equal(st.free_count, 1);
    assert_int_equal(st.free_block_count, 1);
    assert_int_equal(st.largest_free_block, 2 * MIB);
    assert_int_equal(st.reserved_bytes, 2 * MIB);
    avf_pool_free_all(p);
    avf_pool_free_all(NULL);
}

static void test_alignment(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    const size_t sizes[] = {1,   3,    255,      256,          257,     511,         512,
                            513, 4097, 65535,    MIB - 1,      MIB,     MIB + 1,     3 * MIB + 7,
                            10 * MIB,  10 * MIB + 1, 12 * MIB + 3, 2 * MIB, 20 * MIB + 512};
    void *ptrs[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        ptrs[i] = alloc_ok(p, sizes[i], NULL);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_avf_ok(avf_pool_free(p, ptrs[i], NULL));
    assert_int_equal(stats_of(p).in_use_bytes, 0);
    avf_pool_free_all(p);
}

static void test_reuse(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    void *a = alloc_ok(p, 4000, NULL);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    void *b = alloc_ok(p, 4000, NULL);
    assert_ptr_equal(a, b);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.alloc_count, 2);
    assert_int_equal(st.reused_count, 1);
    assert_int_equal(st.driver_alloc_count, 1);
    /* Many rounds of the same shapes: no more driver calls. */
    for (int round = 0; round < 100; round++) {
        void *x = alloc_ok(p, 3 * MIB, NULL);
        void *y = alloc_ok(p, 700, NULL);
        assert_avf_ok(avf_pool_free(p, x, NULL));
        assert_avf_ok(avf_pool_free(p, y, NULL));
    }
    st = stats_of(p);
    assert_int_equal(st.driver_alloc_count, 2); /* one small and one 20 MiB segment */
    assert_int_equal(st.alloc_count, 202);
    assert_int_equal(st.reused_count, 200);
    assert_true(fabs(st.reuse_rate - 200.0 / 202.0) < 1e-9);
    assert_avf_ok(avf_pool_free(p, b, NULL));
    avf_pool_free_all(p);
}

static void test_split(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    char *a = alloc_ok(p, 1000, NULL);
    char *b = alloc_ok(p, 3000, NULL);
    assert_ptr_equal(b, a + 1024); /* carved in address order from one segment */
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.segment_count, 1);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_int_equal(st.in_use_bytes, 1024 + 3072);
    assert_int_equal(st.free_block_count, 1);
    assert_int_equal(st.largest_free_block, 2 * MIB - 4096);
    /* Medium requests share a 20 MiB segment. */
    char *m1 = alloc_ok(p, 3 * MIB, NULL);
    char *m2 = alloc_ok(p, 5 * MIB, NULL);
    assert_ptr_equal(m2, m1 + 3 * MIB);
    st = stats_of(p);
    assert_int_equal(st.segment_count, 2);
    assert_int_equal(st.reserved_bytes, 22 * MIB);
    /* A large request gets its own segment rounded to 2 MiB. */
    void *l = alloc_ok(p, 13 * MIB + 100, NULL); /* more than the 12 MiB left */
    st = stats_of(p);
    assert_int_equal(st.segment_count, 3);
    assert_int_equal(st.reserved_bytes, 36 * MIB);
    void *all[] = {a, b, m1, m2, l};
    for (size_t i = 0; i < 5; i++)
        assert_avf_ok(avf_pool_free(p, all[i], NULL));
    avf_pool_free_all(p);
}

static void test_near_fit(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    /* 8192 and 8704 share a bin ([8192, 9216)): a cached 8 KiB block must not
     * be handed out for 8.5 KiB. */
    char *a = alloc_ok(p, 8192, NULL);
    char *sep = alloc_ok(p, 512, NULL);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    char *b = alloc_ok(p, 8704, NULL);
    assert_true(b != a);
    assert_true(b >= sep + 512 || b + 8704 <= sep);
    /* The other way round it fits, and the 512-byte tail is split off. */
    assert_avf_ok(avf_pool_free(p, b, NULL));
    char *c = alloc_ok(p, 8192, NULL);
    assert_int_equal(stats_of(p).in_use_bytes, 8192 + 512);
    assert_avf_ok(avf_pool_free(p, c, NULL));
    assert_avf_ok(avf_pool_free(p, sep, NULL));
    avf_pool_free_all(p);
}

static void test_coalesce(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    char *a = alloc_ok(p, 256 * KIB, NULL);
    char *b = alloc_ok(p, 256 * KIB, NULL);
    char *c = alloc_ok(p, 256 * KIB, NULL);
    assert_ptr_equal(b, a + 256 * KIB);
    assert_ptr_equal(c, b + 256 * KIB);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    assert_avf_ok(avf_pool_free(p, b, NULL));
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.free_block_count, 2); /* a+b merged, and the tail */
    char *ab = alloc_ok(p, 512 * KIB, NULL);
    assert_ptr_equal(ab, a);
    st = stats_of(p);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_int_equal(st.segment_count, 1);
    assert_avf_ok(avf_pool_free(p, c, NULL));
    assert_avf_ok(avf_pool_free(p, ab, NULL));
    st = stats_of(p);
    assert_int_equal(st.free_block_count, 1); /* the whole segment again */
    assert_int_equal(st.largest_free_block, 2 * MIB);
    assert_true(st.fragmentation == 0.0);

    /* Large blocks too: three 3 MiB blocks of a 20 MiB segment. */
    char *x = alloc_ok(p, 3 * MIB, NULL);
    char *y = alloc_ok(p, 3 * MIB, NULL);
    char *z = alloc_ok(p, 3 * MIB, NULL);
    assert_avf_ok(avf_pool_free(p, y, NULL));
    assert_avf_ok(avf_pool_free(p, x, NULL));
    char *xy = alloc_ok(p, 6 * MIB, NULL);
    assert_ptr_equal(xy, x);
    assert_int_equal(stats_of(p).driver_alloc_count, 2);
    assert_avf_ok(avf_pool_free(p, xy, NULL));
    assert_avf_ok(avf_pool_free(p, z, NULL));
    st = stats_of(p);
    assert_int_equal(st.free_block_count, 2);
    assert_int_equal(st.largest_free_block, 20 * MIB);
    avf_pool_free_all(p);
}

/* A medium request does not carve up a big cached buffer unless memory is
 * short; a large request takes any block that fits. */
static void test_oversize_policy(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    void *big = alloc_ok(p, 200 * MIB, NULL);
    assert_avf_ok(avf_pool_free(p, big, NULL));
    void *m = alloc_ok(p, 4 * MIB, NULL);
    assert_true(m != big);
    assert_int_equal(stats_of(p).segment_count, 2);
    void *l = alloc_ok(p, 150 * MIB, NULL);
    assert_ptr_equal(l, big);
    assert_int_equal(stats_of(p).segment_count, 2);
    assert_avf_ok(avf_pool_free(p, l, NULL));
    assert_avf_ok(avf_pool_free(p, m, NULL));
    avf_pool_free_all(p);

    p = pool_with_cap(dev, 201 * MIB); /* no room for another segment */
    big = alloc_ok(p, 200 * MIB, NULL);
    assert_avf_ok(avf_pool_free(p, big, NULL));
    m = alloc_ok(p, 4 * MIB, NULL);
    assert_ptr_equal(m, big);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.segment_count, 1);
    assert_int_equal(st.driver_free_count, 0);
    assert_int_equal(st.failed_count, 0);
    assert_avf_ok(avf_pool_free(p, m, NULL));
    avf_pool_free_all(p);
}

/* Distinct patterns in many live blocks survive: no two blocks overlap. */
static void test_data_integrity(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    enum { N = 96 };
    unsigned char *dptr[N] = {0};
    size_t len[N] = {0};
    uint64_t rng = 42;
    size_t maxlen = 12 * MIB + 1;
    unsigned char *host = malloc(maxlen), *back = malloc(maxlen);
    assert_non_null(host);
    assert_non_null(back);

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (dptr[i] && (rng_next(&rng) % 3) != 0)
                continue; /* keep two thirds of the live blocks */
            if (dptr[i])
                assert_avf_ok(avf_pool_free(p, dptr[i], NULL));
            len[i] = random_size(&rng, maxlen);
            dptr[i] = alloc_ok(p, len[i], NULL);
            for (size_t j = 0; j < len[i]; j++)
                host[j] = (unsigned char)(i * 131 + round * 17 + (j * 7) % 251);
            avf_test_upload(dev, dptr[i], host, len[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        avf_test_download(dev, back, dptr[i], len[i]);
        int round_found = -1;
        for (int round = 0; round < 3 && round_found < 0; round++) {
            size_t j = 0;
            for (; j < len[i]; j++)
                if (back[j] != (unsigned char)(i * 131 + round * 17 + (j * 7) % 251))
                    break;
            if (j == len[i])
                round_found = round;
        }
        if (round_found < 0)
            fail_msg("block %d (%zu bytes) was overwritten", i, len[i]);
    }
    for (int i = 0; i < N; i++)
        assert_avf_ok(avf_pool_free(p, dptr[i], NULL));
    free(host);
    free(back);
    avf_pool_free_all(p);
}

/* ------------------------------------------------------------------- caps */

static void test_cap_exceeded(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 4 * MIB);
    assert_int_equal(stats_of(p).limit_bytes, 4 * MIB);
    void *a = alloc_ok(p, MIB, NULL); /* a 2 MiB segment */
    void *big = (void *)&big;
    assert_avf_fails(avf_pool_alloc(p, 3 * MIB, NULL, &big), AVF_ERR_OUT_OF_MEMORY);
    assert_null(big);
    assert_non_null(strstr(avf_last_error(), "cap"));
    assert_non_null(strstr(avf_last_error(), "3145728")); /* the request size */
    assert_avf_fails(avf_pool_alloc(p, 5 * MIB, NULL, &big), AVF_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(avf_last_error(), "exceeds"));
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.failed_count, 2);
    assert_int_equal(st.reserved_bytes, 2 * MIB);
    /* Still usable: the rest of the small segment serves small requests. */
    void *c = alloc_ok(p, 512 * KIB, NULL);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    assert_avf_ok(avf_pool_free(p, c, NULL));
    /* With nothing live the cached segment is released to make room. */
    void *d = alloc_ok(p, 3 * MIB, NULL);
    st = stats_of(p);
    assert_int_equal(st.reserved_bytes, 4 * MIB);
    assert_int_equal(st.driver_free_count, 1);
    assert_true(st.peak_reserved_bytes <= 4 * MIB);
    assert_avf_ok(avf_pool_free(p, d, NULL));
    avf_pool_free_all(p);
}

static void test_cap_fraction(void **state) {
    avf_device *dev = avf_test_device(state);
    uint64_t freeb = 0, total = 0;
    assert_avf_ok(avf_device_mem_info(dev, &freeb, &total));
    avf_pool_config cfg;
    avf_pool_config_default(&cfg);
    cfg.cap_fraction = 0.001;
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, &cfg, &p));
    uint64_t want = (uint64_t)((double)total * 0.001);
    avf_pool_stats st = stats_of(p);
    assert_true(st.limit_bytes + 1 >= want && st.limit_bytes <= want + 1);
    void *x = NULL;
    assert_avf_fails(avf_pool_alloc(p, (size_t)want + MIB, NULL, &x), AVF_ERR_OUT_OF_MEMORY);
    avf_pool_free_all(p);

    /* Both set: the smaller wins. */
    cfg.cap_fraction = 0.5;
    cfg.cap_bytes = 3 * MIB;
    assert_avf_ok(avf_pool_create(dev, &cfg, &p));
    assert_int_equal(stats_of(p).limit_bytes, 3 * MIB);
    avf_pool_free_all(p);
    /* No cap: the device's memory. */
    assert_avf_ok(avf_pool_create(dev, NULL, &p));
    assert_int_equal(stats_of(p).limit_bytes, total);
    avf_pool_free_all(p);

    avf_pool_config bad = cfg;
    bad.cap_fraction = 1.5;
    assert_avf_fails(avf_pool_create(dev, &bad, &p), AVF_ERR_INVALID_ARG);
    assert_null(p);
    bad.cap_fraction = -0.1;
    assert_avf_fails(avf_pool_create(dev, &bad, &p), AVF_ERR_INVALID_ARG);
    bad.cap_fraction = NAN;
    assert_avf_fails(avf_pool_create(dev, &bad, &p), AVF_ERR_INVALID_ARG);
    bad = cfg;
    bad.high_fraction = 0.9;
    bad.critical_fraction = 0.5;
    assert_avf_fails(avf_pool_create(dev, &bad, &p), AVF_ERR_INVALID_ARG);
    bad.high_fraction = 1.2;
    bad.critical_fraction = 0;
    assert_avf_fails(avf_pool_create(dev, &bad, &p), AVF_ERR_INVALID_ARG);
}

static void test_injected_failure_oom(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_pool_inject_driver_failures(p, 2); /* the first try and the retry */
    void *x = (void *)&x;
    assert_avf_fails(avf_pool_alloc(p, 4096, NULL, &x), AVF_ERR_OUT_OF_MEMORY);
    assert_null(x);
    assert_non_null(strstr(avf_last_error(), "driver"));
    assert_non_null(strstr(avf_last_error(), "4096"));
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.failed_count, 1);
    assert_int_equal(st.driver_alloc_count, 0);
    assert_int_equal(st.reserved_bytes, 0);
    /* The injected failures are used up. */
    x = alloc_ok(p, 4096, NULL);
    assert_avf_ok(avf_pool_free(p, x, NULL));
    avf_pool_free_all(p);
}

static void test_injected_failure_recovered(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    void *a = alloc_ok(p, 4096, NULL);
    assert_avf_ok(avf_pool_free(p, a, NULL)); /* a cached, fully free small segment */
    avf_pool_inject_driver_failures(p, 1);
    void *b = alloc_ok(p, 3 * MIB, NULL); /* fails once, releases the cache, retries */
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.driver_free_count, 1);
    assert_int_equal(st.driver_alloc_count, 2);
    assert_int_equal(st.segment_count, 1);
    assert_int_equal(st.reserved_bytes, 20 * MIB);
    assert_int_equal(st.failed_count, 0);
    assert_avf_ok(avf_pool_free(p, b, NULL));
    avf_pool_free_all(p);
}

/* ------------------------------------------------------------- watermarks */

typedef struct wm_log {
    int high, critical;
    uint64_t last_in_use;
    avf_pool *pool;
    void *victim; /* freed from the callback when set */
} wm_log;

static void wm_cb(avf_pool *pool, avf_pool_watermark level, const avf_pool_stats *st, void *user) {
    wm_log *w = user;
    assert_ptr_equal(pool, w->pool);
    if (level == AVF_POOL_WATERMARK_HIGH)
        w->high++;
    else if (level == AVF_POOL_WATERMARK_CRITICAL)
        w->critical++;
    w->last_in_use = st->in_use_bytes;
    /* The pool's lock is not held: both of these take it. */
    avf_pool_stats now;
    assert_avf_ok(avf_pool_get_stats(pool, &now));
    if (w->victim) {
        assert_avf_ok(avf_pool_free(pool, w->victim, NULL));
        w->victim = NULL;
    }
}

static void test_watermarks(void **state) {
    avf_device *dev = avf_test_device(state);
    wm_log w = {0};
    avf_pool_config cfg;
    avf_pool_config_default(&cfg);
    cfg.cap_bytes = 20 * MIB;
    cfg.on_watermark = wm_cb;
    cfg.watermark_user = &w;
    avf_pool *p = NULL;
    assert_avf_ok(avf_pool_create(dev, &cfg, &p));
    w.pool = p;
    void *blk[20];
    for (int i = 0; i < 16; i++)
        blk[i] = alloc_ok(p, MIB, NULL);
    assert_int_equal(w.high, 0);
    blk[16] = alloc_ok(p, MIB, NULL); /* 17 MiB = 85 % */
    assert_int_equal(w.high, 1);
    assert_int_equal(w.critical, 0);
    assert_int_equal(w.last_in_use, 17 * MIB);
    blk[17] = alloc_ok(p, MIB, NULL);
    assert_int_equal(w.high, 1);
    assert_int_equal(w.critical, 0);
    blk[18] = alloc_ok(p, MIB, NULL); /* 19 MiB = 95 % */
    assert_int_equal(w.high, 1);
    assert_int_equal(w.critical, 1);
    blk[19] = alloc_ok(p, MIB, NULL);
    assert_int_equal(w.high, 1);
    assert_int_equal(w.critical, 1);
    /* Back to 18 MiB: critical re-arms, high stays crossed. */
    assert_avf_ok(avf_pool_free(p, blk[19], NULL));
    assert_avf_ok(avf_pool_free(p, blk[18], NULL));
    blk[18] = alloc_ok(p, MIB, NULL);
    assert_int_equal(w.high, 1);
    assert_int_equal(w.critical, 2);
    /* Down to 16 MiB: both re-arm; crossing again fires each once more. */
    for (int i = 15; i <= 18; i++)
        assert_avf_ok(avf_pool_free(p, blk[i], NULL));
    for (int i = 15; i <= 18; i++)
        blk[i] = alloc_ok(p, MIB, NULL);
    assert_int_equal(w.high, 2);
    assert_int_equal(w.critical, 3);
    /* A callback may free pool memory. */
    assert_avf_ok(avf_pool_free(p, blk[18], NULL));
    assert_avf_ok(avf_pool_free(p, blk[17], NULL)); /* 17 MiB: critical re-armed */
    w.victim = blk[16];
    blk[17] = alloc_ok(p, MIB, NULL);
    blk[18] = alloc_ok(p, MIB, NULL); /* 19 MiB: fires and frees blk[16] */
    assert_int_equal(w.critical, 4);
    assert_null(w.victim);
    assert_int_equal(stats_of(p).in_use_bytes, 18 * MIB);
    for (int i = 0; i <= 18; i++)
        if (i != 16)
            assert_avf_ok(avf_pool_free(p, blk[i], NULL));
    assert_int_equal(stats_of(p).in_use_bytes, 0);
    avf_pool_free_all(p);
}

/* ------------------------------------------------------------ trim, stats */

static void test_trim(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    uint64_t rel = 99;
    assert_avf_ok(avf_pool_trim(p, &rel));
    assert_int_equal(rel, 0);
    void *keep = alloc_ok(p, 8 * KIB, NULL);
    void *other[4];
    other[0] = alloc_ok(p, 3 * MIB, NULL);
    other[1] = alloc_ok(p, 40 * MIB, NULL);
    other[2] = alloc_ok(p, 18 * MIB, NULL); /* more than the 17 MiB tail */
    other[3] = alloc_ok(p, 9 * KIB, NULL);
    avf_pool_stats before = stats_of(p);
    assert_int_equal(before.reserved_bytes, 2 * MIB + 20 * MIB + 40 * MIB + 18 * MIB);
    for (int i = 0; i < 4; i++)
        assert_avf_ok(avf_pool_free(p, other[i], NULL));
    assert_avf_ok(avf_pool_trim(p, &rel));
    avf_pool_stats after = stats_of(p);
    assert_int_equal(rel, 78 * MIB); /* the small segment stays: `keep` lives there */
    assert_int_equal(after.reserved_bytes, before.reserved_bytes - rel);
    assert_int_equal(after.segment_count, 1);
    assert_int_equal(after.driver_free_count, 3);
    assert_int_equal(after.in_use_bytes, 8 * KIB);
    assert_avf_ok(avf_pool_free(p, keep, NULL));
    assert_avf_ok(avf_pool_trim(p, NULL));
    after = stats_of(p);
    assert_int_equal(after.reserved_bytes, 0);
    assert_int_equal(after.segment_count, 0);
    assert_int_equal(after.free_block_count, 0);
    /* Usable after a full trim. */
    keep = alloc_ok(p, 100, NULL);
    assert_avf_ok(avf_pool_free(p, keep, NULL));
    avf_pool_free_all(p);
}

static void test_stats(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.alloc_count, 0);
    assert_true(st.reuse_rate == 0.0);
    assert_true(st.fragmentation == 0.0);
    char *q[4];
    for (int i = 0; i < 4; i++)
        q[i] = alloc_ok(p, 256 * KIB - 100, NULL);
    st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 4 * 256 * KIB);
    assert_int_equal(st.requested_bytes, 4 * (256 * KIB - 100));
    assert_int_equal(st.peak_in_use_bytes, 4 * 256 * KIB);
    /* Holes: q0 and q2 freed, q1 and q3 live, the 1 MiB tail free. */
    assert_avf_ok(avf_pool_free(p, q[0], NULL));
    assert_avf_ok(avf_pool_free(p, q[2], NULL));
    st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 2 * 256 * KIB);
    assert_int_equal(st.peak_in_use_bytes, 4 * 256 * KIB);
    assert_int_equal(st.free_block_count, 3);
    assert_int_equal(st.largest_free_block, MIB);
    assert_true(fabs(st.fragmentation - (1.0 - 1.0 / 1.5)) < 1e-9);
    assert_true(st.fragmentation >= 0.0 && st.fragmentation <= 1.0);
    q[0] = alloc_ok(p, 1000, NULL); /* reused */
    st = stats_of(p);
    assert_int_equal(st.alloc_count, 5);
    assert_int_equal(st.reused_count, 4);
    assert_true(fabs(st.reuse_rate - 0.8) < 1e-9);
    assert_int_equal(st.peak_reserved_bytes, 2 * MIB);

    avf_pool_reset_counters(p);
    st = stats_of(p);
    assert_int_equal(st.alloc_count, 0);
    assert_int_equal(st.reused_count, 0);
    assert_int_equal(st.driver_alloc_count, 0);
    assert_int_equal(st.in_use_bytes, 2 * 256 * KIB + 1024);
    assert_int_equal(st.peak_in_use_bytes, st.in_use_bytes);
    assert_int_equal(st.reserved_bytes, 2 * MIB);
    assert_int_equal(st.segment_count, 1);
    assert_avf_ok(avf_pool_free(p, q[0], NULL));
    assert_avf_ok(avf_pool_free(p, q[1], NULL));
    assert_avf_ok(avf_pool_free(p, q[3], NULL));
    st = stats_of(p);
    assert_int_equal(st.free_count, 3);
    assert_int_equal(st.free_block_count, 1);
    assert_true(st.fragmentation == 0.0);
    avf_pool_free_all(p);
}

/* ------------------------------------------------------------------ misuse */

static void test_bad_arguments(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = NULL;
    assert_avf_fails(avf_pool_create(NULL, NULL, &p), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_create(dev, NULL, NULL), AVF_ERR_INVALID_ARG);
    p = pool_with_cap(dev, 0);
    void *x = (void *)&x;
    assert_avf_fails(avf_pool_alloc(p, 0, NULL, &x), AVF_ERR_INVALID_ARG);
    assert_null(x);
    assert_avf_fails(avf_pool_alloc(p, 16, NULL, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_alloc(NULL, 16, NULL, &x), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_alloc(p, (size_t)1 << 51, NULL, &x), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_alloc(p, SIZE_MAX, NULL, &x), AVF_ERR_INVALID_ARG);
    /* Larger than any device here, but not absurd: beyond the cap. */
    assert_avf_fails(avf_pool_alloc(p, (size_t)1 << 49, NULL, &x), AVF_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(avf_last_error(), "exceeds"));

    char *a = alloc_ok(p, 4096, NULL);
    assert_avf_fails(avf_pool_free(p, a + 512, NULL), AVF_ERR_INVALID_ARG); /* interior */
    int local = 0;
    assert_avf_fails(avf_pool_free(p, &local, NULL), AVF_ERR_INVALID_ARG); /* foreign */
    assert_avf_fails(avf_pool_free(NULL, a, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_pool_free(p, a, NULL));
    assert_avf_fails(avf_pool_free(p, a, NULL), AVF_ERR_INVALID_ARG); /* double free */
    assert_non_null(strstr(avf_last_error(), "already freed"));
    assert_avf_ok(avf_pool_free(p, NULL, NULL));
    assert_avf_ok(avf_pool_free(NULL, NULL, NULL));

    avf_pool_stats st;
    assert_avf_fails(avf_pool_get_stats(NULL, &st), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_get_stats(p, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_pool_trim(NULL, NULL), AVF_ERR_INVALID_ARG);
    st = stats_of(p);
    assert_int_equal(st.failed_count, 5);
    assert_int_equal(st.alloc_count, 1);
    assert_int_equal(st.free_count, 1);
    assert_int_equal(st.in_use_bytes, 0);
    assert_null(avf_pool_device(NULL));
    avf_pool_reset_counters(NULL);
    avf_pool_inject_driver_failures(NULL, 1);
    avf_pool_config_default(NULL);
    avf_pool_free_all(p);
}

static int leak_warned;
static void leak_sink(avf_log_level level, const char *msg, void *user) {
    if (level == AVF_LOG_WARN && strstr(msg, "still allocated"))
        leak_warned++;
}

static void test_free_all_with_live_blocks(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    (void)alloc_ok(p, 1000, NULL);
    (void)alloc_ok(p, 30 * MIB, s);
    void *pend = alloc_ok(p, 5000, NULL);
    assert_avf_ok(avf_pool_free(p, pend, s)); /* pending at free_all */
    leak_warned = 0;
    avf_log_level old = avf_log_get_level();
    avf_log_set_level(AVF_LOG_WARN);
    avf_log_set_sink(leak_sink, NULL);
    avf_pool_free_all(p); /* warns, releases everything (ASan checks the rest) */
    avf_log_set_sink(NULL, NULL);
    avf_log_set_level(old);
    assert_int_equal(leak_warned, 1);
    avf_stream_free(s);
}

/* ----------------------------------------------------------------- streams */

static void test_cross_stream_free(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_stream *s1 = NULL, *s2 = NULL;
    assert_avf_ok(avf_stream_create(dev, &s1));
    assert_avf_ok(avf_stream_create(dev, &s2));
    void *a = alloc_ok(p, 12 * MIB, s1); /* a whole segment of its own */
    assert_avf_ok(avf_memset_async(dev, a, 0x5a, 12 * MIB, s2)); /* s2 uses it */
    assert_avf_ok(avf_pool_free(p, a, s2));
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.free_block_count, 0); /* parked until s2's work is done */
    assert_avf_fails(avf_pool_free(p, a, s2), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_stream_synchronize(s2));
    void *b = alloc_ok(p, 12 * MIB, s1);
    assert_ptr_equal(a, b);
    st = stats_of(p);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_int_equal(st.reused_count, 1);
    assert_int_equal(st.stolen_count, 0);
    /* Freeing with its own stream is immediate. */
    assert_avf_ok(avf_pool_free(p, b, s1));
    assert_int_equal(stats_of(p).free_block_count, 1);

    /* Many cross-stream frees, then trim waits for all of them. */
    void *v[40];
    for (int i = 0; i < 40; i++)
        v[i] = alloc_ok(p, 1000 + (size_t)i * 1000, s1); /* one small segment */
    for (int i = 0; i < 40; i++)
        assert_avf_ok(avf_pool_free(p, v[i], (i & 1) ? s2 : NULL));
    uint64_t rel = 0;
    assert_avf_ok(avf_pool_trim(p, &rel));
    st = stats_of(p);
    assert_int_equal(st.reserved_bytes, 0);
    assert_int_equal(rel, 12 * MIB + 2 * MIB);
    avf_pool_free_all(p);
    avf_stream_free(s1);
    avf_stream_free(s2);
}

static void test_steal(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_stream *s1 = NULL, *s2 = NULL;
    assert_avf_ok(avf_stream_create(dev, &s1));
    assert_avf_ok(avf_stream_create(dev, &s2));
    void *a = alloc_ok(p, 12 * MIB, s1);
    assert_avf_ok(avf_memset_async(dev, a, 1, 12 * MIB, s1));
    assert_avf_ok(avf_pool_free(p, a, NULL)); /* cached for s1 */
    void *b = alloc_ok(p, 12 * MIB, s2);     /* s2 has nothing: takes s1's */
    assert_ptr_equal(a, b);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.stolen_count, 1);
    assert_int_equal(st.reused_count, 1);
    assert_int_equal(st.driver_alloc_count, 1);
    assert_avf_ok(avf_pool_free(p, b, NULL)); /* now s2's */
    void *c = alloc_ok(p, 12 * MIB, NULL);    /* the default stream takes it */
    assert_ptr_equal(a, c);
    assert_int_equal(stats_of(p).stolen_count, 2);
    assert_avf_ok(avf_pool_free(p, c, NULL));
    /* Small blocks are taken too, and the tail stays with the new owner. */
    void *d = alloc_ok(p, 4096, s1);
    assert_avf_ok(avf_pool_free(p, d, NULL));
    void *e = alloc_ok(p, 8192, s2);
    assert_ptr_equal(d, e);
    void *f = alloc_ok(p, 4096, s2); /* from s2's tail, no new segment */
    assert_ptr_equal(f, (char *)e + 8192);
    st = stats_of(p);
    assert_int_equal(st.stolen_count, 3);
    assert_int_equal(st.driver_alloc_count, 2);
    assert_avf_ok(avf_pool_free(p, e, NULL));
    assert_avf_ok(avf_pool_free(p, f, NULL));
    avf_pool_free_all(p);
    avf_stream_free(s1);
    avf_stream_free(s2);
}

/* --------------------------------------------------------- stress, model */

typedef struct stress_arg {
    avf_pool *pool;
    avf_device *dev;
    avf_stream **streams;
    int index, nstreams, ops;
    int failed;
} stress_arg;

static void *stress_thread(void *v) {
    stress_arg *a = v;
    enum { LIVE = 64 };
    void *live[LIVE];
    int n = 0;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(a->index + 1);
    avf_stream *own = a->streams[a->index];
    for (int op = 0; op < a->ops && !a->failed; op++) {
        int do_alloc = n == 0 || (n < LIVE && (rng_next(&rng) & 1));
        if (do_alloc) {
            size_t sz = random_size(&rng, 8 * MIB);
            void *ptr = NULL;
            if (avf_pool_alloc(a->pool, sz, own, &ptr) != AVF_OK || !ptr ||
                ((uintptr_t)ptr & 255) ||
                avf_memset_async(a->dev, ptr, a->index, sz < 256 ? sz : 256, own) != AVF_OK) {
                a->failed = 1;
                break;
            }
            live[n++] = ptr;
        } else {
            int k = (int)(rng_next(&rng) % (uint64_t)n);
            /* One free in 16 names another thread's stream. */
            avf_stream *fs = (rng_next(&rng) % 16) == 0
                                 ? a->streams[(a->index + 1) % a->nstreams]
                                 : ((rng_next(&rng) & 1) ? own : NULL);
            if (avf_pool_free(a->pool, live[k], fs) != AVF_OK)
                a->failed = 1;
            live[k] = live[--n];
        }
    }
    while (n > 0)
        if (avf_pool_free(a->pool, live[--n], own) != AVF_OK)
            a->failed = 1;
    if (avf_stream_synchronize(own) != AVF_OK)
        a->failed = 1;
    return NULL;
}

static void test_threads_stress(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    enum { T = 4 };
    avf_stream *streams[T];
    stress_arg args[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        assert_avf_ok(avf_stream_create(dev, &streams[i]));
    for (int i = 0; i < T; i++) {
        args[i] = (stress_arg){p, dev, streams, i, T, 20000, 0};
        assert_int_equal(pthread_create(&th[i], NULL, stress_thread, &args[i]), 0);
    }
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < T; i++)
        assert_int_equal(args[i].failed, 0);
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.requested_bytes, 0);
    assert_int_equal(st.alloc_count, st.free_count);
    assert_int_equal(st.failed_count, 0);
    assert_true(st.alloc_count > (uint64_t)T * 20000 / 3);
    assert_true(st.reuse_rate > 0.9);
    assert_true(st.fragmentation >= 0.0 && st.fragmentation <= 1.0);
    assert_avf_ok(avf_pool_trim(p, NULL));
    st = stats_of(p);
    assert_int_equal(st.reserved_bytes, 0);
    assert_int_equal(st.segment_count, 0);
    avf_pool_free_all(p);
    for (int i = 0; i < T; i++)
        avf_stream_free(streams[i]);
}

/* Random traffic checked against a shadow list of live blocks. */
static void test_shadow_model(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *p = pool_with_cap(dev, 0);
    avf_stream *s[3] = {NULL, NULL, NULL};
    assert_avf_ok(avf_stream_create(dev, &s[1]));
    assert_avf_ok(avf_stream_create(dev, &s[2]));
    enum { LIVE = 200, OPS = 6000 };
    char *ptr[LIVE];
    size_t len[LIVE];
    int n = 0;
    uint64_t rng = 7;
    for (int op = 0; op < OPS; op++) {
        if (n == 0 || (n < LIVE && rng_next(&rng) % 100 < 55)) {
            size_t sz = random_size(&rng, 24 * MIB);
            avf_stream *as = s[rng_next(&rng) % 3];
            char *q = alloc_ok(p, sz, as);
            for (int i = 0; i < n; i++)
                if (q < ptr[i] + round512(len[i]) && ptr[i] < q + round512(sz))
                    fail_msg("op %d: [%p,+%zu) overlaps live [%p,+%zu)", op, (void *)q, sz,
                             (void *)ptr[i], len[i]);
            ptr[n] = q;
            len[n++] = sz;
        } else {
            int k = (int)(rng_next(&rng) % (uint64_t)n);
            assert_avf_ok(avf_pool_free(p, ptr[k], s[rng_next(&rng) % 3]));
            ptr[k] = ptr[n - 1];
            len[k] = len[n - 1];
            n--;
        }
        if (op % 500 == 0) {
            avf_pool_stats st = stats_of(p);
            uint64_t req = 0, rounded = 0;
            for (int i = 0; i < n; i++) {
                req += len[i];
                rounded += round512(len[i]);
            }
            assert_int_equal(st.requested_bytes, req);
            assert_true(st.in_use_bytes >= rounded);
            assert_true(st.in_use_bytes <= st.reserved_bytes);
            assert_true(st.reserved_bytes <= st.peak_reserved_bytes);
            assert_true(st.fragmentation >= 0.0 && st.fragmentation <= 1.0);
            assert_true(st.largest_free_block <= st.reserved_bytes);
        }
        if (op % 1500 == 1499)
            assert_avf_ok(avf_pool_trim(p, NULL));
    }
    while (n > 0)
        assert_avf_ok(avf_pool_free(p, ptr[--n], NULL));
    assert_avf_ok(avf_pool_trim(p, NULL));
    avf_pool_stats st = stats_of(p);
    assert_int_equal(st.in_use_bytes, 0);
    assert_int_equal(st.reserved_bytes, 0);
    assert_int_equal(st.segment_count, 0);
    assert_int_equal(st.free_block_count, 0);
    avf_pool_free_all(p);
    avf_stream_free(s[1]);
    avf_stream_free(s[2]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        AVF_DEVICE_TESTS(test_basic_alloc_free),
        AVF_DEVICE_TESTS(test_alignment),
        AVF_DEVICE_TESTS(test_reuse),
        AVF_DEVICE_TESTS(test_split),
        AVF_DEVICE_TESTS(test_near_fit),
        AVF_DEVICE_TESTS(test_coalesce),
        AVF_DEVICE_TESTS(test_oversize_policy),
        AVF_DEVICE_TESTS(test_data_integrity),
        AVF_DEVICE_TESTS(test_cap_exceeded),
        AVF_DEVICE_TESTS(test_cap_fraction),
        AVF_DEVICE_TESTS(test_injected_failure_oom),
        AVF_DEVICE_TESTS(test_injected_failure_recovered),
        AVF_DEVICE_TESTS(test_watermarks),
        AVF_DEVICE_TESTS(test_trim),
        AVF_DEVICE_TESTS(test_stats),
        AVF_DEVICE_TESTS(test_bad_arguments),
        AVF_DEVICE_TESTS(test_free_all_with_live_blocks),
        AVF_DEVICE_TESTS(test_cross_stream_free),
        AVF_DEVICE_TESTS(test_steal),
        AVF_DEVICE_TESTS(test_threads_stress),
        AVF_DEVICE_TESTS(test_shadow_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
