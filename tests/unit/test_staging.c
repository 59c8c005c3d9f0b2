/* Unit tests for the pinned staging ring: chunked upload/download through a
 * few small slots, ledger accounting, slot cycling, and bad arguments. */
#include "test_util.h"

#include <stdlib.h>

/* Bytes and copies recorded in the global ledger for one tag and kind. */
static void global_count(const char *tag, avf_copy_kind kind, uint64_t *bytes, uint64_t *copies) {
    avf_ledger_entry e;
    *bytes = *copies = 0;
    if (avf_ledger_get(avf_ledger_global(), tag, &e) == AVF_OK) {
        *bytes = e.bytes[kind];
        *copies = e.copies[kind];
    }
}

static void test_roundtrip_10mb(void **state) {
    avf_device *dev = avf_test_device(state);
    /* 10 MB is not a multiple of the 256 KiB slot, so the last chunk is
     * partial; 3 slots means each is reused many times. */
    const size_t bytes = 10u * 1000 * 1000;
    const size_t slot = 256u << 10;
    const size_t chunks = (bytes + slot - 1) / slot;
    char tag[64];
    snprintf(tag, sizeof tag, "test_staging.%s", avf_device_get_name(dev));

    uint8_t *ref = malloc(bytes), *src = malloc(bytes), *dst = malloc(bytes);
    assert_non_null(ref);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < bytes; i++)
        ref[i] = (uint8_t)((i * 2654435761u) >> 13);
    memcpy(src, ref, bytes);
    memset(dst, 0, bytes);

    avf_staging *st = NULL;
    assert_avf_ok(avf_staging_create(dev, slot, 3, &st));
    assert_int_equal(avf_staging_slot_bytes(st), slot);
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, bytes, &d));

    uint64_t h2d0, h2dc0, d2h0, d2hc0;
    global_count(tag, AVF_COPY_H2D, &h2d0, &h2dc0);
    global_count(tag, AVF_COPY_D2H, &d2h0, &d2hc0);

    assert_avf_ok(avf_staging_upload(st, d, src, bytes, s, tag));
    /* The upload copied the source into pinned slots before returning:
     * scribbling over it now must not change what reaches the device. */
    memset(src, 0xee, bytes);
    assert_avf_ok(avf_staging_download(st, dst, d, bytes, s, tag));
    /* download returns with the data in place, no extra sync needed. */
    assert_memory_equal(ref, dst, bytes);

    uint64_t h2d1, h2dc1, d2h1, d2hc1;
    global_count(tag, AVF_COPY_H2D, &h2d1, &h2dc1);
    global_count(tag, AVF_COPY_D2H, &d2h1, &d2hc1);
    assert_int_equal(h2d1 - h2d0, bytes);
    assert_int_equal(d2h1 - d2h0, bytes);
    assert_int_equal(h2dc1 - h2dc0, chunks);
    assert_int_equal(d2hc1 - d2hc0, chunks);

    /* Zero bytes is a no-op, even with NULL buffers. */
    assert_avf_ok(avf_staging_upload(st, NULL, NULL, 0, s, tag));
    assert_avf_ok(avf_staging_download(st, NULL, NULL, 0, s, tag));

    assert_avf_ok(avf_device_free(dev, d));
    avf_stream_free(s);
    avf_staging_free(st);
    free(ref);
    free(src);
    free(dst);
}

static void test_default_stream_and_single_slot(void **state) {
    avf_device *dev = avf_test_device(state);
    /* One slot: every chunk waits for the previous one. */
    const size_t bytes = 100000, slot = 4096;
    uint8_t *src = malloc(bytes), *dst = calloc(1, bytes);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < bytes; i++)
        src[i] = (uint8_t)(i ^ (i >> 8));
    avf_staging *st = NULL;
    assert_avf_ok(avf_staging_create(dev, slot, 1, &st));
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, bytes, &d));
    assert_avf_ok(avf_staging_upload(st, d, src, bytes, NULL, NULL));
    assert_avf_ok(avf_staging_download(st, dst, d, bytes, NULL, NULL));
    assert_memory_equal(src, dst, bytes);
    assert_avf_ok(avf_device_free(dev, d));
    avf_staging_free(st);
    free(src);
    free(dst);
}

static void test_acquire_release_cycles(void **state) {
    avf_device *dev = avf_test_device(state);
    const size_t slot = 8192;
    const int nslots = 3;
    avf_staging *st = NULL;
    assert_avf_ok(avf_staging_create(dev, slot, nslots, &st));
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, slot * 10, &d));

    /* Ten cycles over three slots: each acquire must wait for that slot's
     * previous copy, so the data written into it is never clobbered while
     * in flight. */
    uint8_t *back = malloc(slot * 10);
    assert_non_null(back);
    void *seen[3] = {0};
    for (int i = 0; i < 10; i++) {
        void *host = NULL;
        int idx = -1;
        assert_avf_ok(avf_staging_acquire(st, &host, &idx));
        assert_non_null(host);
        assert_in_range(idx, 0, nslots - 1);
        assert_int_equal(idx, i % nslots); /* round-robin */
        if (i < nslots)
            seen[idx] = host;
        else
            assert_ptr_equal(seen[idx], host);
        memset(host, i + 1, slot);
        assert_avf_ok(avf_memcpy_async(dev, (uint8_t *)d + (size_t)i * slot, host, slot,
                                       AVF_COPY_H2D, s, "test_staging.cycles"));
        assert_avf_ok(avf_staging_release(st, idx, s));
    }
    assert_avf_ok(avf_stream_synchronize(s));
    avf_test_download(dev, back, d, slot * 10);
    for (int i = 0; i < 10; i++)
        for (size_t j = 0; j < slot; j += 511)
            assert_int_equal(back[(size_t)i * slot + j], i + 1);

    /* Holding every slot: one more acquire is refused, not a deadlock. */
    int held[3];
    void *host = NULL;
    for (int i = 0; i < nslots; i++)
        assert_avf_ok(avf_staging_acquire(st, &host, &held[i]));
    int refused = 0;
    assert_avf_fails(avf_staging_acquire(st, &host, &refused), AVF_ERR_FULL);
    assert_int_equal(refused, -1);
    assert_null(host);
    /* Releasing one makes it available again (NULL: default stream). */
    assert_avf_ok(avf_staging_release(st, held[1], NULL));
    int again = -1;
    assert_avf_ok(avf_staging_acquire(st, &host, &again));
    assert_int_equal(again, held[1]);
    assert_avf_ok(avf_staging_release(st, again, s));
    assert_avf_ok(avf_staging_release(st, held[0], s));
    assert_avf_ok(avf_staging_release(st, held[2], s));
    /* Releasing twice is an error. */
    assert_avf_fails(avf_staging_release(st, held[2], s), AVF_ERR_INVALID_ARG);

    free(back);
    assert_avf_ok(avf_device_free(dev, d));
    avf_stream_free(s);
    avf_staging_free(st); /* waits for anything still in flight */
}

static void test_bad_args(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_staging *st = (avf_staging *)1;
    assert_avf_fails(avf_staging_create(dev, 4095, 2, &st), AVF_ERR_INVALID_ARG);
    assert_null(st);
    assert_avf_fails(avf_staging_create(dev, ((size_t)1 << 30) + 1, 2, &st),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_create(dev, 4096, 0, &st), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_create(dev, 4096, 65, &st), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_create(dev, 4096, -1, &st), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_create(NULL, 4096, 2, &st), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_create(dev, 4096, 2, NULL), AVF_ERR_INVALID_ARG);
    /* Both bounds are inclusive. */
    assert_avf_ok(avf_staging_create(dev, 4096, 64, &st));
    avf_staging_free(st);
    avf_staging_free(NULL);

    assert_avf_ok(avf_staging_create(dev, 4096, 2, &st));
    void *host = NULL;
    int slot = 0;
    uint8_t buf[16];
    assert_avf_fails(avf_staging_acquire(NULL, &host, &slot), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_acquire(st, NULL, &slot), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_acquire(st, &host, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_release(NULL, 0, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_release(st, -1, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_release(st, 2, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_release(st, 0, NULL), AVF_ERR_INVALID_ARG); /* not held */
    assert_avf_fails(avf_staging_upload(NULL, buf, buf, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_upload(st, NULL, buf, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_upload(st, buf, NULL, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_download(NULL, buf, buf, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_download(st, NULL, buf, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_staging_download(st, buf, NULL, 16, NULL, "x"), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_staging_slot_bytes(NULL), 0);
    /* The ring still works after all those refusals (no slot leaked). */
    for (int i = 0; i < 4; i++) {
        assert_avf_ok(avf_staging_acquire(st, &host, &slot));
        assert_avf_ok(avf_staging_release(st, slot, NULL));
    }
    avf_staging_free(st);
}

static void test_stream_of_other_device(void **state) {
    avf_device *dev = avf_test_device(state);
    /* Needs two distinct devices: the CPU and a GPU. */
    int ngpu = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &ngpu) != AVF_OK || ngpu == 0)
        skip();
    avf_device *other = NULL;
    assert_avf_ok(avf_device_get(avf_device_get_kind(dev) == AVF_DEVICE_CPU ? AVF_DEVICE_CUDA
                                                                            : AVF_DEVICE_CPU,
                                 0, &other));
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(other, &s));
    avf_staging *st = NULL;
    assert_avf_ok(avf_staging_create(dev, 4096, 2, &st));
    uint8_t buf[64] = {0};
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(dev, sizeof buf, &d));
    assert_avf_fails(avf_staging_upload(st, d, buf, sizeof buf, s, "x"), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_device_free(dev, d));
    avf_staging_free(st);
    avf_stream_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        AVF_DEVICE_TESTS(test_roundtrip_10mb),
        AVF_DEVICE_TESTS(test_default_stream_and_single_slot),
        AVF_DEVICE_TESTS(test_acquire_release_cycles),
        AVF_DEVICE_TESTS(test_bad_args),
        AVF_DEVICE_TESTS(test_stream_of_other_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
