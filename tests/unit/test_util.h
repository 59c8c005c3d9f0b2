/* Shared helpers for avflow's cmocka unit tests.
 *
 * Device tests run once per backend: AVF_DEVICE_TESTS(fn) expands to two
 * cmocka entries, one with the CPU device and one with cuda:0. The CUDA entry
 * calls skip() (reported as skipped, never as passed) when the build has no
 * CUDA backend or the machine has no GPU.
 */
#ifndef AVF_TEST_UTIL_H
#define AVF_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "avflow.h"

static const avf_device_kind avf_test_kind_cpu = AVF_DEVICE_CPU;
static const avf_device_kind avf_test_kind_cuda = AVF_DEVICE_CUDA;

/* The device this test instance runs on; skips the test when absent. */
static inline avf_device *avf_test_device(void **state) {
    avf_device_kind kind = *(const avf_device_kind *)*state;
    int n = 0;
    if (avf_device_count(kind, &n) != AVF_OK || n == 0) {
        print_message("[  SKIP    ] no %s device on this machine\n", avf_device_kind_name(kind));
        skip();
    }
    avf_device *dev = NULL;
    assert_int_equal(avf_device_get(kind, 0, &dev), AVF_OK);
    assert_non_null(dev);
    return dev;
}

/* Named "fn@cpu" and "fn@cuda" so the two instances read apart in logs. */
#define AVF_DEVICE_TEST_ON(fn, kind) {#fn "@" #kind, fn, NULL, NULL, (void *)&avf_test_kind_##kind}
#define AVF_DEVICE_TESTS(fn) AVF_DEVICE_TEST_ON(fn, cpu), AVF_DEVICE_TEST_ON(fn, cuda)

/* Assert a call succeeds, printing avflow's message when it does not. */
#define assert_avf_ok(expr)                                                      \
    do {                                                                         \
        avf_status s_ = (expr);                                                  \
        if (s_ != AVF_OK)                                                        \
            print_error("%s -> %s: %s\n", #expr, avf_status_name(s_), avf_last_error()); \
        assert_int_equal(s_, AVF_OK);                                            \
    } while (0)

/* Assert a call fails with `code` and leaves a non-empty message. */
#define assert_avf_fails(expr, code)                                             \
    do {                                                                         \
        avf_clear_error();                                                       \
        avf_status s_ = (expr);                                                  \
        assert_int_equal(s_, (code));                                            \
        assert_true(avf_last_error()[0] != '\0');                                \
    } while (0)

/* Copy device memory to host synchronously (test-only convenience). */
static inline void avf_test_download(avf_device *dev, void *dst, const void *src, size_t n) {
    assert_avf_ok(avf_memcpy_async(dev, dst, src, n, AVF_COPY_D2H, NULL, "test"));
    assert_avf_ok(avf_device_synchronize(dev));
}
static inline void avf_test_upload(avf_device *dev, void *dst, const void *src, size_t n) {
    assert_avf_ok(avf_memcpy_async(dev, dst, src, n, AVF_COPY_H2D, NULL, "test"));
    assert_avf_ok(avf_device_synchronize(dev));
}

#endif /* AVF_TEST_UTIL_H */
