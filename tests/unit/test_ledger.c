/* Unit tests for the transfer ledger: per-tag counts, totals, snapshot,
 * reset, tag overflow and truncation, concurrent recording, and the global
 * ledger fed by avf_memcpy_async, and strict GPU mode (the policy on a
 * ledger of its own, AVF_STRICT_GPU for the global one, and avf_memcpy_async
 * refusing a frame's D2H copy on CUDA while the CPU device has no round trip
 * to refuse). */
#include "test_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void test_counts_per_tag(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    avf_ledger_entry e;
    assert_avf_fails(avf_ledger_get(l, "decode", &e), AVF_ERR_NOT_FOUND);

    avf_ledger_record(l, "decode", AVF_COPY_H2D, 100);
    avf_ledger_record(l, "decode", AVF_COPY_H2D, 50);
    avf_ledger_record(l, "decode", AVF_COPY_D2H, 7);
    avf_ledger_record(l, "infer", AVF_COPY_D2D, 4096);
    avf_ledger_record(l, "infer", AVF_COPY_H2H, 1);
    avf_ledger_record(l, "infer", AVF_COPY_H2D, 0); /* a copy of 0 bytes still counts */

    assert_avf_ok(avf_ledger_get(l, "decode", &e));
    assert_string_equal(e.tag, "decode");
    assert_int_equal(e.bytes[AVF_COPY_H2D], 150);
    assert_int_equal(e.copies[AVF_COPY_H2D], 2);
    assert_int_equal(e.bytes[AVF_COPY_D2H], 7);
    assert_int_equal(e.copies[AVF_COPY_D2H], 1);
    assert_int_equal(e.bytes[AVF_COPY_D2D], 0);
    assert_int_equal(e.copies[AVF_COPY_H2H], 0);

    assert_avf_ok(avf_ledger_get(l, "infer", &e));
    assert_int_equal(e.bytes[AVF_COPY_D2D], 4096);
    assert_int_equal(e.copies[AVF_COPY_D2D], 1);
    assert_int_equal(e.bytes[AVF_COPY_H2H], 1);
    assert_int_equal(e.bytes[AVF_COPY_H2D], 0);
    assert_int_equal(e.copies[AVF_COPY_H2D], 1);

    /* Tags are case-sensitive and exact. */
    assert_avf_fails(avf_ledger_get(l, "Decode", &e), AVF_ERR_NOT_FOUND);
    assert_avf_fails(avf_ledger_get(l, "decod", &e), AVF_ERR_NOT_FOUND);
    avf_ledger_free(l);
    avf_ledger_free(NULL);
}

static void test_totals(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    uint64_t b = 99, c = 99;
    avf_ledger_totals(l, AVF_COPY_H2D, &b, &c);
    assert_int_equal(b, 0);
    assert_int_equal(c, 0);
    avf_ledger_record(l, "a", AVF_COPY_H2D, 10);
    avf_ledger_record(l, "b", AVF_COPY_H2D, 20);
    avf_ledger_record(l, "c", AVF_COPY_H2D, 30);
    avf_ledger_record(l, "c", AVF_COPY_D2H, 5);
    avf_ledger_totals(l, AVF_COPY_H2D, &b, &c);
    assert_int_equal(b, 60);
    assert_int_equal(c, 3);
    avf_ledger_totals(l, AVF_COPY_D2H, &b, &c);
    assert_int_equal(b, 5);
    assert_int_equal(c, 1);
    avf_ledger_totals(l, AVF_COPY_D2D, &b, NULL); /* either output may be NULL */
    assert_int_equal(b, 0);
    avf_ledger_totals(l, AVF_COPY_KIND_COUNT, &b, &c); /* bad kind: zeros */
    assert_int_equal(b, 0);
    assert_int_equal(c, 0);
    /* Bad kinds and NULL ledgers are dropped, not counted. */
    avf_ledger_record(l, "a", AVF_COPY_KIND_COUNT, 1000);
    avf_ledger_record(l, "a", (avf_copy_kind)-1, 1000);
    avf_ledger_record(NULL, "a", AVF_COPY_H2D, 1000);
    avf_ledger_totals(l, AVF_COPY_H2D, &b, &c);
    assert_int_equal(b, 60);
    avf_ledger_free(l);
}

static void test_snapshot_and_reset(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    assert_int_equal(avf_ledger_snapshot(l, NULL, 0), 0);
    avf_ledger_record(l, "first", AVF_COPY_H2D, 1);
    avf_ledger_record(l, "second", AVF_COPY_D2H, 2);
    avf_ledger_record(l, "third", AVF_COPY_D2D, 3);
    avf_ledger_record(l, "first", AVF_COPY_H2D, 1);

    avf_ledger_entry e[4];
    memset(e, 0, sizeof e);
    assert_int_equal(avf_ledger_snapshot(l, e, 4), 3);
    /* Entries come in first-seen order. */
    assert_string_equal(e[0].tag, "first");
    assert_int_equal(e[0].bytes[AVF_COPY_H2D], 2);
    assert_int_equal(e[0].copies[AVF_COPY_H2D], 2);
    assert_string_equal(e[1].tag, "second");
    assert_int_equal(e[1].bytes[AVF_COPY_D2H], 2);
    assert_string_equal(e[2].tag, "third");
    assert_int_equal(e[2].bytes[AVF_COPY_D2D], 3);
    assert_string_equal(e[3].tag, ""); /* untouched */

    /* A short buffer gets a prefix; the count is still the full one. */
    avf_ledger_entry one[1];
    assert_int_equal(avf_ledger_snapshot(l, one, 1), 3);
    assert_string_equal(one[0].tag, "first");
    assert_int_equal(avf_ledger_snapshot(NULL, one, 1), 0);

    avf_ledger_reset(l);
    uint64_t b = 1, c = 1;
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++) {
        avf_ledger_totals(l, (avf_copy_kind)k, &b, &c);
        assert_int_equal(b, 0);
        assert_int_equal(c, 0);
    }
    /* Counting starts again from zero after a reset. */
    avf_ledger_record(l, "second", AVF_COPY_D2H, 8);
    assert_avf_ok(avf_ledger_get(l, "second", &e[0]));
    assert_int_equal(e[0].bytes[AVF_COPY_D2H], 8);
    assert_int_equal(e[0].copies[AVF_COPY_D2H], 1);
    avf_ledger_reset(NULL);
    avf_ledger_free(l);
}

static void test_untagged_and_truncation(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    avf_ledger_record(l, NULL, AVF_COPY_H2D, 3);
    avf_ledger_record(l, "", AVF_COPY_H2D, 4);
    avf_ledger_entry e;
    assert_avf_ok(avf_ledger_get(l, "untagged", &e));
    assert_int_equal(e.bytes[AVF_COPY_H2D], 7);
    assert_int_equal(e.copies[AVF_COPY_H2D], 2);
    assert_avf_ok(avf_ledger_get(l, NULL, &e)); /* NULL looks up "untagged" too */
    assert_int_equal(e.bytes[AVF_COPY_H2D], 7);

    /* Tags longer than 63 chars are cut; tags that differ only past the cut
     * share one entry. */
    char long_a[100], long_b[100];
    memset(long_a, 'x', 99);
    long_a[99] = '\0';
    memcpy(long_b, long_a, sizeof long_b);
    long_b[80] = 'y';
    avf_ledger_record(l, long_a, AVF_COPY_D2H, 10);
    avf_ledger_record(l, long_b, AVF_COPY_D2H, 20);
    assert_avf_ok(avf_ledger_get(l, long_a, &e));
    assert_int_equal(strlen(e.tag), AVF_LEDGER_TAG_MAX);
    assert_int_equal(e.bytes[AVF_COPY_D2H], 30);
    char cut[AVF_LEDGER_TAG_MAX + 1];
    memcpy(cut, long_a, AVF_LEDGER_TAG_MAX);
    cut[AVF_LEDGER_TAG_MAX] = '\0';
    assert_avf_ok(avf_ledger_get(l, cut, &e));
    assert_int_equal(e.bytes[AVF_COPY_D2H], 30);
    /* Exactly 63 chars is kept whole; 62 is a different tag. */
    cut[AVF_LEDGER_TAG_MAX - 1] = '\0';
    assert_avf_fails(avf_ledger_get(l, cut, &e), AVF_ERR_NOT_FOUND);
    assert_int_equal(avf_ledger_snapshot(l, NULL, 0), 2);
    avf_ledger_free(l);
}

static void test_tag_overflow(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    enum { NTAGS = 300 };
    char tag[32];
    for (int i = 0; i < NTAGS; i++) {
        snprintf(tag, sizeof tag, "tag-%03d", i);
        avf_ledger_record(l, tag, AVF_COPY_H2D, (uint64_t)i + 1);
    }
    /* 255 own entries plus "other", which holds the 45 that did not fit. */
    avf_ledger_entry *e = calloc(AVF_LEDGER_MAX_TAGS + 8, sizeof(*e));
    assert_non_null(e);
    size_t n = avf_ledger_snapshot(l, e, AVF_LEDGER_MAX_TAGS + 8);
    assert_int_equal(n, AVF_LEDGER_MAX_TAGS);
    uint64_t sum = 0, copies = 0;
    int saw_other = 0;
    for (size_t i = 0; i < n; i++) {
        sum += e[i].bytes[AVF_COPY_H2D];
        copies += e[i].copies[AVF_COPY_H2D];
        if (strcmp(e[i].tag, "other") == 0)
            saw_other = 1;
    }
    assert_true(saw_other);
    assert_int_equal(sum, (uint64_t)NTAGS * (NTAGS + 1) / 2);
    assert_int_equal(copies, NTAGS);

    avf_ledger_entry o;
    assert_avf_ok(avf_ledger_get(l, "other", &o));
    assert_int_equal(o.copies[AVF_COPY_H2D], NTAGS - (AVF_LEDGER_MAX_TAGS - 1));
    uint64_t want = 0;
    for (int i = AVF_LEDGER_MAX_TAGS - 1; i < NTAGS; i++)
        want += (uint64_t)i + 1;
    assert_int_equal(o.bytes[AVF_COPY_H2D], want);
    /* Tags that were interned keep counting on their own. */
    avf_ledger_record(l, "tag-000", AVF_COPY_H2D, 1000);
    avf_ledger_entry t0;
    assert_avf_ok(avf_ledger_get(l, "tag-000", &t0));
    assert_int_equal(t0.bytes[AVF_COPY_H2D], 1001);
    /* An overflowed tag has no entry of its own. */
    assert_avf_fails(avf_ledger_get(l, "tag-299", &t0), AVF_ERR_NOT_FOUND);
    uint64_t b = 0;
    avf_ledger_totals(l, AVF_COPY_H2D, &b, NULL);
    assert_int_equal(b, (uint64_t)NTAGS * (NTAGS + 1) / 2 + 1000);
    free(e);
    avf_ledger_free(l);
}

/* ---------------------------------------------------------- concurrency */

enum { MT_THREADS = 8, MT_RECORDS = 100000 };

typedef struct {
    avf_ledger *l;
    int id;
} mt_arg;

static void *mt_recorder(void *p) {
    mt_arg *a = p;
    char own[32];
    snprintf(own, sizeof own, "thread-%d", a->id);
    /* Shared tags (raced to intern on first sight) plus one per thread. */
    static const char *shared[] = {"shared-a", "shared-b", "shared-c", "shared-d"};
    for (int i = 0; i < MT_RECORDS; i++) {
        const char *tag = (i % 2) ? shared[(i / 2) % 4] : own;
        avf_ledger_record(a->l, tag, (avf_copy_kind)(i % AVF_COPY_KIND_COUNT), 3);
    }
    return NULL;
}

static void test_multithreaded(void **state) {
    (void)state;
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    pthread_t th[MT_THREADS];
    mt_arg args[MT_THREADS];
    for (int i = 0; i < MT_THREADS; i++) {
        args[i] = (mt_arg){.l = l, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, mt_recorder, &args[i]), 0);
    }
    for (int i = 0; i < MT_THREADS; i++)
        pthread_join(th[i], NULL);

    uint64_t all_bytes = 0, all_copies = 0;
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++) {
        uint64_t b, c;
        avf_ledger_totals(l, (avf_copy_kind)k, &b, &c);
        /* MT_RECORDS is a multiple of 4, so each kind gets a quarter. */
        assert_int_equal(c, (uint64_t)MT_THREADS * MT_RECORDS / AVF_COPY_KIND_COUNT);
        assert_int_equal(b, 3 * c);
        all_bytes += b;
        all_copies += c;
    }
    assert_int_equal(all_copies, (uint64_t)MT_THREADS * MT_RECORDS);
    assert_int_equal(all_bytes, 3ull * MT_THREADS * MT_RECORDS);
    /* 8 own tags + 4 shared, each interned exactly once despite the race. */
    assert_int_equal(avf_ledger_snapshot(l, NULL, 0), MT_THREADS + 4);
    avf_ledger_entry e;
    assert_avf_ok(avf_ledger_get(l, "thread-3", &e));
    uint64_t c = 0;
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++)
        c += e.copies[k];
    assert_int_equal(c, MT_RECORDS / 2);
    avf_ledger_free(l);
}

static void test_bad_args(void **state) {
    (void)state;
    assert_avf_fails(avf_ledger_create(NULL), AVF_ERR_INVALID_ARG);
    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    avf_ledger_entry e;
    assert_avf_fails(avf_ledger_get(NULL, "x", &e), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_ledger_get(l, "x", NULL), AVF_ERR_INVALID_ARG);
    avf_ledger_totals(NULL, AVF_COPY_H2D, NULL, NULL); /* harmless */
    avf_ledger_free(l);
}

static void test_global(void **state) {
    (void)state;
    avf_ledger *g = avf_ledger_global();
    assert_non_null(g);
    assert_ptr_equal(g, avf_ledger_global());
    avf_ledger_free(g); /* ignored: the global ledger is never freed */
    avf_ledger_record(g, "test_ledger.global", AVF_COPY_D2D, 5);
    avf_ledger_entry e;
    assert_avf_ok(avf_ledger_get(g, "test_ledger.global", &e));
    assert_true(e.bytes[AVF_COPY_D2D] >= 5);
}

/* Bytes and copies recorded for one tag and kind (0 if the tag is new). */
static void global_count(const char *tag, avf_copy_kind kind, uint64_t *bytes, uint64_t *copies) {
    avf_ledger_entry e;
    *bytes = *copies = 0;
    if (avf_ledger_get(avf_ledger_global(), tag, &e) == AVF_OK) {
        *bytes = e.bytes[kind];
        *copies = e.copies[kind];
    }
}

static void test_memcpy_records_global(void **state) {
    avf_device *dev = avf_test_device(state);
    enum { N = 12345 };
    char tag[64];
    snprintf(tag, sizeof tag, "test_ledger.memcpy.%s", avf_device_get_name(dev));
    uint8_t *host = malloc(N), *back = malloc(N);
    assert_non_null(host);
    assert_non_null(back);
    for (int i = 0; i < N; i++)
        host[i] = (uint8_t)(i * 7);
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, N, &d));

    uint64_t b0, c0, b1, c1;
    global_count(tag, AVF_COPY_H2D, &b0, &c0);
    assert_avf_ok(avf_memcpy_async(dev, d, host, N, AVF_COPY_H2D, NULL, tag));
    global_count(tag, AVF_COPY_H2D, &b1, &c1);
    assert_int_equal(b1 - b0, N);
    assert_int_equal(c1 - c0, 1);

    global_count(tag, AVF_COPY_D2H, &b0, &c0);
    assert_avf_ok(avf_memcpy_async(dev, back, d, N, AVF_COPY_D2H, NULL, tag));
    assert_avf_ok(avf_device_synchronize(dev));
    global_count(tag, AVF_COPY_D2H, &b1, &c1);
    assert_int_equal(b1 - b0, N);
    assert_int_equal(c1 - c0, 1);
    assert_memory_equal(host, back, N);

    /* A failed copy (bad arguments) records nothing. */
    global_count(tag, AVF_COPY_H2D, &b0, &c0);
    assert_avf_fails(avf_memcpy_async(dev, NULL, host, N, AVF_COPY_H2D, NULL, tag),
                     AVF_ERR_INVALID_ARG);
    global_count(tag, AVF_COPY_H2D, &b1, &c1);
    assert_int_equal(b1, b0);
    assert_int_equal(c1, c0);

    assert_avf_ok(avf_device_free(dev, d));
    free(host);
    free(back);
}

/* Runs first (see main): the global ledger reads AVF_STRICT_GPU once, at
 * its first strict query, and nothing before this test queries it. */
static void test_strict_env(void **state) {
    (void)state;
    assert_int_equal(setenv("AVF_STRICT_GPU", "1", 1), 0);
    avf_ledger *g = avf_ledger_global();
    assert_int_equal(avf_ledger_strict(g), 1);
    assert_avf_fails(avf_ledger_check(g, "video.env", AVF_COPY_D2H, 1), AVF_ERR_UNSUPPORTED);
    /* read once: changing the environment later does not flip it back */
    assert_int_equal(setenv("AVF_STRICT_GPU", "0", 1), 0);
    assert_int_equal(avf_ledger_strict(g), 1);
    /* an explicit setting wins over the environment */
    avf_ledger_set_strict(g, 0);
    assert_int_equal(avf_ledger_strict(g), 0);
    assert_avf_ok(avf_ledger_check(g, "video.env", AVF_COPY_D2H, 1));
    unsetenv("AVF_STRICT_GPU");
}

static void test_strict_policy(void **state) {
    (void)state;
    assert_true(avf_ledger_is_frame_tag("video.nvdec"));
    assert_true(avf_ledger_is_frame_tag("image.resize"));
    assert_true(avf_ledger_is_frame_tag("frame.download"));
    assert_false(avf_ledger_is_frame_tag("video"));   /* the namespace needs its dot */
    assert_false(avf_ledger_is_frame_tag("xvideo.a"));
    assert_false(avf_ledger_is_frame_tag("exec"));
    assert_false(avf_ledger_is_frame_tag(""));
    assert_false(avf_ledger_is_frame_tag(NULL));

    avf_ledger *l = NULL;
    assert_avf_ok(avf_ledger_create(&l));
    assert_int_equal(avf_ledger_strict(l), 0); /* off by default, env or not */
    assert_avf_ok(avf_ledger_check(l, "video.decode", AVF_COPY_D2H, 100));
    avf_ledger_set_strict(l, 7);
    assert_int_equal(avf_ledger_strict(l), 1);
    assert_avf_fails(avf_ledger_check(l, "video.decode", AVF_COPY_D2H, 3110400),
                     AVF_ERR_UNSUPPORTED);
    /* the status names the stage and the size */
    assert_non_null(strstr(avf_last_error(), "\"video.decode\""));
    assert_non_null(strstr(avf_last_error(), "3110400"));
    assert_int_equal(avf_ledger_refused(l), 1);
    /* only device-to-host is a round trip; only frame stages are policed */
    assert_avf_ok(avf_ledger_check(l, "video.decode", AVF_COPY_H2D, 100));
    assert_avf_ok(avf_ledger_check(l, "video.decode", AVF_COPY_D2D, 100));
    assert_avf_ok(avf_ledger_check(l, "video.decode", AVF_COPY_H2H, 100));
    assert_avf_ok(avf_ledger_check(l, "exec", AVF_COPY_D2H, 100));
    assert_avf_ok(avf_ledger_check(l, NULL, AVF_COPY_D2H, 100));
    assert_avf_fails(avf_ledger_check(l, "image.letterbox", AVF_COPY_D2H, 1), AVF_ERR_UNSUPPORTED);
    assert_int_equal(avf_ledger_refused(l), 2);
    /* the check counts nothing as copied */
    avf_ledger_entry e;
    assert_avf_fails(avf_ledger_get(l, "video.decode", &e), AVF_ERR_NOT_FOUND);
    avf_ledger_reset(l);
    assert_int_equal(avf_ledger_refused(l), 0);
    assert_int_equal(avf_ledger_strict(l), 1); /* reset keeps the setting */
    avf_ledger_set_strict(l, 0);
    assert_avf_ok(avf_ledger_check(l, "image.letterbox", AVF_COPY_D2H, 1));
    assert_avf_ok(avf_ledger_check(NULL, "video.x", AVF_COPY_D2H, 1));
    assert_int_equal(avf_ledger_refused(NULL), 0);
    avf_ledger_free(l);
}

/* avf_memcpy_async under the global ledger's strict mode: on CUDA a frame
 * stage's D2H copy is refused before it happens (nothing copied, nothing
 * recorded); on the CPU device there is no host round trip, so it copies. */
static void test_strict_memcpy(void **state) {
    avf_device *dev = avf_test_device(state);
    int cpu = avf_device_get_kind(dev) == AVF_DEVICE_CPU;
    enum { N = 4096 };
    char tag[64], plain[64];
    snprintf(tag, sizeof tag, "video.test_ledger.%s", avf_device_get_name(dev));
    snprintf(plain, sizeof plain, "test_ledger.strict.%s", avf_device_get_name(dev));
    uint8_t *host = malloc(N), *back = malloc(N);
    assert_non_null(host);
    assert_non_null(back);
    for (int i = 0; i < N; i++)
        host[i] = (uint8_t)(i * 13 + 1);
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, N, &d));
    avf_ledger *g = avf_ledger_global();
    avf_ledger_set_strict(g, 1);
    uint64_t r0 = avf_ledger_refused(g), b0, c0, b1, c1;

    /* up is fine, even for a frame stage */
    assert_avf_ok(avf_memcpy_async(dev, d, host, N, AVF_COPY_H2D, NULL, tag));
    assert_avf_ok(avf_device_synchronize(dev));
    memset(back, 0, N);
    global_count(tag, AVF_COPY_D2H, &b0, &c0);
    avf_status s = avf_memcpy_async(dev, back, d, N, AVF_COPY_D2H, NULL, tag);
    assert_avf_ok(avf_device_synchronize(dev));
    global_count(tag, AVF_COPY_D2H, &b1, &c1);
    if (cpu) {
        assert_avf_ok(s);
        assert_memory_equal(host, back, N);
        assert_int_equal(b1 - b0, N);
        assert_int_equal(avf_ledger_refused(g), r0);
    } else {
        assert_int_equal(s, AVF_ERR_UNSUPPORTED);
        assert_non_null(strstr(avf_last_error(), tag));
        assert_int_equal(back[0], 0); /* not copied */
        assert_int_equal(back[N - 1], 0);
        assert_int_equal(b1, b0); /* not recorded */
        assert_int_equal(c1, c0);
        assert_int_equal(avf_ledger_refused(g), r0 + 1);
    }
    /* a stage outside the frame namespaces may download */
    assert_avf_ok(avf_memcpy_async(dev, back, d, N, AVF_COPY_D2H, NULL, plain));
    assert_avf_ok(avf_device_synchronize(dev));
    assert_memory_equal(host, back, N);
    /* strict off: the frame stage copies again */
    avf_ledger_set_strict(g, 0);
    memset(back, 0, N);
    assert_avf_ok(avf_memcpy_async(dev, back, d, N, AVF_COPY_D2H, NULL, tag));
    assert_avf_ok(avf_device_synchronize(dev));
    assert_memory_equal(host, back, N);
    assert_avf_ok(avf_device_free(dev, d));
    free(host);
    free(back);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_env), /* first: see the test */
        cmocka_unit_test(test_counts_per_tag),
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_snapshot_and_reset),
        cmocka_unit_test(test_untagged_and_truncation),
        cmocka_unit_test(test_tag_overflow),
        cmocka_unit_test(test_multithreaded),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_global),
        AVF_DEVICE_TESTS(test_memcpy_records_global),
        cmocka_unit_test(test_strict_policy),
        AVF_DEVICE_TESTS(test_strict_memcpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
