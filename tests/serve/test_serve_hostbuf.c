/* Output buffers shared by a batch's requests: reuse from the free list, the
 * bound on idle buffers, and buffers (and their pool) outliving the pool's
 * creator, as a reply still on the wire after its model unloaded does. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "serve/hostbuf.h"

static avf_device *cpu_dev(void) {
    avf_device *cpu = NULL;
    assert_int_equal(avf_device_get(AVF_DEVICE_CPU, 0, &cpu), AVF_OK);
    return cpu;
}

static void test_reuse_smallest_fit(void **state) {
    avf_srv_hostbuf_pool *p;
    assert_int_equal(avf_srv_hostbuf_pool_create(cpu_dev(), 4, &p), AVF_OK);
    avf_srv_hostbuf *a, *b, *c;
    assert_int_equal(avf_srv_hostbuf_get(p, 1000, &a), AVF_OK);
    assert_int_equal(avf_srv_hostbuf_get(p, 300000, &b), AVF_OK);
    assert_true(a->cap >= 1000 && b->cap >= 300000);
    assert_int_equal((uintptr_t)a->p % 64, 0);
    memset(b->p, 7, 300000); /* the whole asked size is writable */
    void *pa = a->p, *pb = b->p;
    avf_srv_hostbuf_unref(a);
    avf_srv_hostbuf_unref(b);
    avf_srv_hostbuf_stats s;
    avf_srv_hostbuf_pool_stats(p, &s);
    assert_int_equal(s.idle, 2);
    assert_int_equal(s.in_flight, 0);
    /* a small ask takes the small idle buffer, not the big one */
    assert_int_equal(avf_srv_hostbuf_get(p, 10, &c), AVF_OK);
    assert_ptr_equal(c->p, pa);
    avf_srv_hostbuf_unref(c);
    /* a big ask takes the big one */
    assert_int_equal(avf_srv_hostbuf_get(p, 200000, &c), AVF_OK);
    assert_ptr_equal(c->p, pb);
    avf_srv_hostbuf_pool_stats(p, &s);
    assert_int_equal(s.allocated, 2);
    assert_int_equal(s.reused, 2);
    assert_int_equal(s.in_flight, 1);
    avf_srv_hostbuf_unref(c);
    avf_srv_hostbuf_pool_release(p);
}

/* Past keep_free, idle buffers are kept up to the byte cap. */
static void test_idle_bound(void **state) {
    avf_srv_hostbuf_pool *p;
    assert_int_equal(avf_srv_hostbuf_pool_create(cpu_dev(), 2, &p), AVF_OK);
    avf_srv_hostbuf_pool_set_idle_cap(p, 3 * 65536); /* three 64 KiB-rounded buffers */
    avf_srv_hostbuf *b[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(avf_srv_hostbuf_get(p, 4096, &b[i]), AVF_OK);
    for (int i = 0; i < 5; i++)
        avf_srv_hostbuf_unref(b[i]);
    avf_srv_hostbuf_stats s;
    avf_srv_hostbuf_pool_stats(p, &s);
    assert_int_equal(s.allocated, 5);
    assert_int_equal(s.peak_in_flight, 5);
    assert_int_equal(s.idle, 3); /* two went back to the allocator */
    assert_true(s.idle_bytes == 3 * 65536);
    avf_srv_hostbuf_pool_release(p);
}

/* The pool keeps what its peak needed: a second burst of the same size
 * allocates nothing (pinning a batch's buffer costs milliseconds). */
static void test_keeps_peak(void **state) {
    avf_srv_hostbuf_pool *p;
    assert_int_equal(avf_srv_hostbuf_pool_create(cpu_dev(), 1, &p), AVF_OK);
    avf_srv_hostbuf *b[6];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++)
            assert_int_equal(avf_srv_hostbuf_get(p, 100000, &b[i]), AVF_OK);
        for (int i = 0; i < 6; i++)
            avf_srv_hostbuf_unref(b[i]);
    }
    avf_srv_hostbuf_stats s;
    avf_srv_hostbuf_pool_stats(p, &s);
    assert_int_equal(s.allocated, 6);
    assert_int_equal(s.reused, 12);
    assert_int_equal(s.idle, 6);
    avf_srv_hostbuf_pool_release(p);
}

static void test_refs_and_late_release(void **state) {
    avf_srv_hostbuf_pool *p;
    assert_int_equal(avf_srv_hostbuf_pool_create(cpu_dev(), 2, &p), AVF_OK);
    avf_srv_hostbuf *b;
    assert_int_equal(avf_srv_hostbuf_get(p, 128, &b), AVF_OK);
    avf_srv_hostbuf_ref(b); /* two requests of one batch */
    avf_srv_hostbuf_ref(b);
    avf_srv_hostbuf_unref(b); /* the worker's own reference */
    avf_srv_hostbuf_pool_release(p); /* the model unloads */
    memset(b->p, 1, 128); /* still valid: ASan would see a use after free */
    avf_srv_hostbuf_unref(b);
    memset(b->p, 2, 128);
    avf_srv_hostbuf_unref(b); /* the last reply: buffer and pool go (LeakSanitizer) */
    avf_srv_hostbuf_unref(NULL);
}

static void test_bad_args(void **state) {
    avf_srv_hostbuf_pool *p = NULL;
    assert_int_equal(avf_srv_hostbuf_pool_create(cpu_dev(), -1, &p), AVF_ERR_INVALID_ARG);
    assert_null(p);
    assert_int_equal(avf_srv_hostbuf_pool_create(NULL, 0, &p), AVF_OK); /* plain memory */
    avf_srv_hostbuf *b = NULL;
    assert_int_equal(avf_srv_hostbuf_get(p, (size_t)1 << 62, &b), AVF_ERR_OUT_OF_MEMORY);
    assert_null(b);
    assert_int_equal(avf_srv_hostbuf_get(p, 0, &b), AVF_OK);
    avf_srv_hostbuf_unref(b);
    avf_srv_hostbuf_pool_release(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_smallest_fit),
        cmocka_unit_test(test_idle_bound),
        cmocka_unit_test(test_keeps_peak),
        cmocka_unit_test(test_refs_and_late_release),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
