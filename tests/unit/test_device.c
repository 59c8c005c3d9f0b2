/* Devices, streams, events and copies, on every backend present. */
#include <stdlib.h>

#include "test_util.h"

static void test_cpu_always_present(void **state) {
    int n = -1;
    assert_avf_ok(avf_device_count(AVF_DEVICE_CPU, &n));
    assert_int_equal(n, 1);
    avf_device *dev = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &dev));
    assert_int_equal(avf_device_get_kind(dev), AVF_DEVICE_CPU);
    assert_string_equal(avf_device_get_name(dev), "cpu");
    assert_true(avf_backend_compiled(AVF_DEVICE_CPU));
}

static void test_lookup_errors(void **state) {
    avf_device *dev = (avf_device *)&dev;
    assert_avf_fails(avf_device_get(AVF_DEVICE_CPU, 1, &dev), AVF_ERR_NOT_FOUND);
    assert_null(dev);
    assert_avf_fails(avf_device_get(AVF_DEVICE_CPU, -1, &dev), AVF_ERR_NOT_FOUND);
    assert_avf_fails(avf_device_count((avf_device_kind)7, &(int){0}), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_device_count(AVF_DEVICE_CPU, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_device_get(AVF_DEVICE_CPU, 0, NULL), AVF_ERR_INVALID_ARG);
    int n = 0;
    assert_avf_ok(avf_device_count(AVF_DEVICE_CUDA, &n));
    avf_status s = avf_device_get(AVF_DEVICE_CUDA, n, &dev);
    assert_true(s == AVF_ERR_NOT_FOUND || s == AVF_ERR_UNSUPPORTED);
}

static void test_parse(void **state) {
    avf_device *dev = NULL;
    assert_avf_ok(avf_device_parse("cpu", &dev));
    assert_int_equal(avf_device_get_kind(dev), AVF_DEVICE_CPU);
    const char *bad[] = {"", "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cpu:", "cpu:x", "cpu:-1",
                         "cpu:1 ", "cudaa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_avf_fails(avf_device_parse(bad[i], &dev), AVF_ERR_INVALID_ARG);
    avf_status s = avf_device_parse("cuda:63", &dev);
    int n = 0;
    avf_device_count(AVF_DEVICE_CUDA, &n);
    if (n < 64)
        assert_true(s == AVF_ERR_NOT_FOUND || s == AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_device_parse("cuda:99999999999999999999", &dev), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_device_parse(NULL, &dev), AVF_ERR_INVALID_ARG);
}

/* Simulated CPU devices: distinct handles (index, name), host memory. */
static void test_parse_simulated_cpu(void **state) {
    avf_device *host = NULL, *d0 = NULL, *d1 = NULL, *d2 = NULL;
    assert_avf_ok(avf_device_parse("cpu", &host));
    assert_avf_ok(avf_device_parse("cpu:0", &d0));
    assert_ptr_equal(host, d0);
    assert_avf_ok(avf_device_parse("cpu:1", &d1));
    assert_avf_ok(avf_device_parse("cpu:2", &d2));
    assert_true(d1 != host && d2 != host && d1 != d2);
    assert_int_equal(avf_device_get_kind(d1), AVF_DEVICE_CPU);
    assert_int_equal(avf_device_get_index(d2), 2);
    assert_string_equal(avf_device_get_name(d1), "cpu:1");
    assert_avf_fails(avf_device_parse("cpu:8", &d1), AVF_ERR_NOT_FOUND);
    assert_null(d1);
    /* a simulated device works like the host: memory, streams, copies */
    void *p = NULL;
    assert_avf_ok(avf_device_malloc(d2, 64, &p));
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(d2, &s));
    assert_avf_ok(avf_memset_async(d2, p, 7, 64, s));
    assert_int_equal(((unsigned char *)p)[63], 7);
    assert_avf_ok(avf_stream_synchronize(s));
    avf_stream_free(s);
    assert_avf_ok(avf_device_free(d2, p));
    /* the count stays that of the real devices */
    int n = 0;
    assert_avf_ok(avf_device_count(AVF_DEVICE_CPU, &n));
    assert_int_equal(n, 1);
}

static void test_parse_list(void **state) {
    avf_device *d[4] = {0};
    int n = -1;
    assert_avf_ok(avf_device_parse_list("cpu:0, cpu:1,cpu:2", d, 4, &n));
    assert_int_equal(n, 3);
    assert_string_equal(avf_device_get_name(d[0]), "cpu");
    assert_string_equal(avf_device_get_name(d[2]), "cpu:2");
    assert_avf_ok(avf_device_parse_list("cpu", d, 4, &n));
    assert_int_equal(n, 1);
    struct { const char *spec; avf_status st; const char *needle; } bad[] = {
        {"", AVF_ERR_INVALID_ARG, "empty device list"},
        {"cpu:1,cpu:1", AVF_ERR_INVALID_ARG, "cpu:1 is listed twice"},
        {"cpu,cpu:0", AVF_ERR_INVALID_ARG, "listed twice"},
        {"cpu:1,,cpu:2", AVF_ERR_INVALID_ARG, "empty entry"},
        {"cpu:1,", AVF_ERR_INVALID_ARG, "empty entry"},
        {"cpu:1,gpu:0", AVF_ERR_INVALID_ARG, "bad device 'gpu:0'"},
        {"cpu:1,cpu:2,cpu:3,cpu:4,cpu:5", AVF_ERR_INVALID_ARG, "more than 4 devices"},
        {"cpu:9", AVF_ERR_NOT_FOUND, "no device cpu:9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = -1;
        assert_avf_fails(avf_device_parse_list(bad[i].spec, d, 4, &n), bad[i].st);
        assert_int_equal(n, 0);
        assert_non_null(strstr(avf_last_error(), bad[i].needle));
    }
    char longlist[400];
    memset(longlist, 'c', sizeof longlist - 1);
    longlist[sizeof longlist - 1] = '\0';
    assert_avf_fails(avf_device_parse_list(longlist, d, 4, &n), AVF_ERR_INVALID_ARG);
    int cuda = 0;
    assert_avf_ok(avf_device_count(AVF_DEVICE_CUDA, &cuda));
    avf_status st = avf_device_parse_list("all", d, 4, &n);
    if (cuda == 0) {
        assert_true(st == AVF_ERR_NOT_FOUND || st == AVF_ERR_UNSUPPORTED);
        assert_non_null(strstr(avf_last_error(), "no CUDA device"));
    } else {
        assert_avf_ok(st);
        assert_int_equal(n, cuda < 4 ? cuda : 4);
    }
    assert_avf_fails(avf_device_parse_list(NULL, d, 4, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_device_parse_list("cpu", d, 0, &n), AVF_ERR_INVALID_ARG);
}

static void test_props_and_memory_info(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_device_props p;
    assert_avf_ok(avf_device_get_props(dev, &p));
    assert_true(p.name[0] != '\0');
    assert_true(p.total_memory > 0);
    assert_true(p.multiprocessors > 0);
    assert_int_equal(p.kind, avf_device_get_kind(dev));
    if (p.kind == AVF_DEVICE_CUDA)
        assert_true(p.cc_major >= 5);
    uint64_t f = 0, t = 0;
    assert_avf_ok(avf_device_mem_info(dev, &f, &t));
    assert_true(t > 0 && f <= t);
    assert_avf_fails(avf_device_get_props(dev, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_device_mem_info(dev, NULL, &t), AVF_ERR_INVALID_ARG);
}

static void test_malloc_copy_roundtrip(void **state) {
    avf_device *dev = avf_test_device(state);
    enum { N = 1 << 20 };
    unsigned char *src = malloc(N), *dst = malloc(N);
    for (int i = 0; i < N; i++)
        src[i] = (unsigned char)(i * 31 + 7);
    void *a = NULL, *b = NULL;
    assert_avf_ok(avf_device_malloc(dev, N, &a));
    assert_avf_ok(avf_device_malloc(dev, N, &b));
    assert_true(((uintptr_t)a & 255) == 0);
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    assert_avf_ok(avf_memcpy_async(dev, a, src, N, AVF_COPY_H2D, s, "t"));
    assert_avf_ok(avf_memcpy_async(dev, b, a, N, AVF_COPY_D2D, s, "t"));
    assert_avf_ok(avf_memset_async(dev, a, 0xAB, N / 2, s));
    memset(dst, 0, N);
    assert_avf_ok(avf_memcpy_async(dev, dst, b, N, AVF_COPY_D2H, s, "t"));
    assert_avf_ok(avf_stream_synchronize(s));
    assert_memory_equal(dst, src, N);
    assert_avf_ok(avf_memcpy_async(dev, dst, a, N, AVF_COPY_D2H, s, "t"));
    assert_avf_ok(avf_stream_synchronize(s));
    for (int i = 0; i < N / 2; i++)
        assert_int_equal(dst[i], 0xAB);
    assert_memory_equal(dst + N / 2, src + N / 2, N / 2);
    /* Zero-byte copies are no-ops; bad kinds and NULL pointers are errors. */
    assert_avf_ok(avf_memcpy_async(dev, NULL, NULL, 0, AVF_COPY_H2D, s, "t"));
    assert_avf_fails(avf_memcpy_async(dev, dst, NULL, 4, AVF_COPY_H2D, s, "t"), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_memcpy_async(dev, dst, src, 4, (avf_copy_kind)9, s, "t"),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_memcpy_async(NULL, dst, src, 4, AVF_COPY_H2D, s, "t"), AVF_ERR_INVALID_ARG);
    avf_stream_free(s);
    assert_avf_ok(avf_device_free(dev, a));
    assert_avf_ok(avf_device_free(dev, b));
    assert_avf_ok(avf_device_free(dev, NULL));
    free(src);
    free(dst);
}

static void test_malloc_errors(void **state) {
    avf_device *dev = avf_test_device(state);
    void *p = (void *)&p;
    assert_avf_fails(avf_device_malloc(dev, 0, &p), AVF_ERR_INVALID_ARG);
    assert_null(p);
    assert_avf_fails(avf_device_malloc(dev, 16, NULL), AVF_ERR_INVALID_ARG);
    /* Far more than any device holds: a status, not a crash, and the device
     * keeps working afterwards. */
    assert_avf_fails(avf_device_malloc(dev, (size_t)1 << 52, &p), AVF_ERR_OUT_OF_MEMORY);
    assert_avf_ok(avf_device_malloc(dev, 4096, &p));
    assert_avf_ok(avf_device_free(dev, p));
    assert_avf_fails(avf_host_alloc_pinned(dev, 0, &p), AVF_ERR_INVALID_ARG);
}

static void test_pinned_host_memory(void **state) {
    avf_device *dev = avf_test_device(state);
    void *h = NULL, *d = NULL;
    assert_avf_ok(avf_host_alloc_pinned(dev, 1 << 16, &h));
    assert_avf_ok(avf_device_malloc(dev, 1 << 16, &d));
    memset(h, 0x5A, 1 << 16);
    assert_avf_ok(avf_memcpy_async(dev, d, h, 1 << 16, AVF_COPY_H2D, NULL, "t"));
    /* From pinned memory the copy is truly asynchronous: the host may not
     * touch the source until the copy has completed (an H100 run caught the
     * race when this synchronize was missing). */
    assert_avf_ok(avf_device_synchronize(dev));
    memset(h, 0, 1 << 16);
    assert_avf_ok(avf_memcpy_async(dev, h, d, 1 << 16, AVF_COPY_D2H, NULL, "t"));
    assert_avf_ok(avf_device_synchronize(dev));
    for (int i = 0; i < 1 << 16; i++)
        assert_int_equal(((unsigned char *)h)[i], 0x5A);
    assert_avf_ok(avf_host_free_pinned(dev, h));
    assert_avf_ok(avf_device_free(dev, d));
}

static void test_events_and_ordering(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_stream *s1 = NULL, *s2 = NULL;
    avf_event *start = NULL, *end = NULL, *plain = NULL;
    assert_avf_ok(avf_stream_create(dev, &s1));
    assert_avf_ok(avf_stream_create(dev, &s2));
    assert_avf_ok(avf_event_create(dev, 1, &start));
    assert_avf_ok(avf_event_create(dev, 1, &end));
    assert_avf_ok(avf_event_create(dev, 0, &plain));
    assert_ptr_equal(avf_stream_device(s1), dev);

    enum { N = 8 << 20 };
    void *a = NULL, *b = NULL;
    assert_avf_ok(avf_device_malloc(dev, N, &a));
    assert_avf_ok(avf_device_malloc(dev, N, &b));
    assert_avf_ok(avf_event_record(start, s1));
    assert_avf_ok(avf_memset_async(dev, a, 0x11, N, s1));
    assert_avf_ok(avf_event_record(end, s1));
    /* s2 copies a only after s1's memset: ordered by the event. */
    assert_avf_ok(avf_stream_wait_event(s2, end));
    assert_avf_ok(avf_memcpy_async(dev, b, a, N, AVF_COPY_D2D, s2, "t"));
    assert_avf_ok(avf_event_record(plain, s2));
    assert_avf_ok(avf_event_synchronize(plain));
    int done = 0;
    assert_avf_ok(avf_event_query(plain, &done));
    assert_int_equal(done, 1);
    float ms = -1.0f;
    assert_avf_ok(avf_event_elapsed_ms(start, end, &ms));
    assert_true(ms >= 0.0f);
    /* An event created without timing cannot time. */
    assert_avf_fails(avf_event_elapsed_ms(start, plain, &ms), AVF_ERR_INVALID_ARG);
    unsigned char probe[64];
    avf_test_download(dev, probe, (unsigned char *)b + N - 64, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(probe[i], 0x11);

    assert_avf_fails(avf_stream_wait_event(NULL, end), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_event_record(NULL, s1), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_event_query(plain, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_device_free(dev, a));
    assert_avf_ok(avf_device_free(dev, b));
    avf_event_free(start);
    avf_event_free(end);
    avf_event_free(plain);
    avf_event_free(NULL);
    avf_stream_free(s1);
    avf_stream_free(s2);
    avf_stream_free(NULL);
}

static void test_stream_of_other_device_rejected(void **state) {
    avf_device *gpu = avf_test_device(state); /* registered for CUDA only */
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_stream *cs = NULL;
    assert_avf_ok(avf_stream_create(cpu, &cs));
    char buf[16] = {0};
    void *d = NULL;
    assert_avf_ok(avf_device_malloc(gpu, 16, &d));
    assert_avf_fails(avf_memcpy_async(gpu, d, buf, 16, AVF_COPY_H2D, cs, "t"), AVF_ERR_INVALID_ARG);
    avf_event *ev = NULL;
    assert_avf_ok(avf_event_create(gpu, 0, &ev));
    assert_avf_fails(avf_event_record(ev, cs), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_stream_wait_event(cs, ev), AVF_ERR_INVALID_ARG);
    avf_event_free(ev);
    avf_stream_free(cs);
    assert_avf_ok(avf_device_free(gpu, d));
}

static void test_runtime_versions(void **state) {
    char buf[1024];
    size_t n = avf_runtime_versions(buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "glibc="));
    if (avf_backend_compiled(AVF_DEVICE_CUDA)) {
        assert_non_null(strstr(buf, "cudart="));
        assert_non_null(strstr(buf, "cudnn="));
        assert_non_null(strstr(buf, "cublas="));
    }
    char tiny[8];
    n = avf_runtime_versions(tiny, sizeof tiny);
    assert_true(n < sizeof tiny);
    assert_int_equal(n, strlen(tiny));
    assert_int_equal(avf_runtime_versions(NULL, 10), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_always_present),
        cmocka_unit_test(test_lookup_errors),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_simulated_cpu),
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_runtime_versions),
        AVF_DEVICE_TESTS(test_props_and_memory_info),
        AVF_DEVICE_TESTS(test_malloc_copy_roundtrip),
        AVF_DEVICE_TESTS(test_malloc_errors),
        AVF_DEVICE_TESTS(test_pinned_host_memory),
        AVF_DEVICE_TESTS(test_events_and_ordering),
        AVF_DEVICE_TEST_ON(test_stream_of_other_device_rejected, cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
