/* Under AVF_CUDA_SYNC=blocking a thread waiting for the GPU sleeps: its CPU
 * time over a long wait stays a small part of the wait, for an event
 * (avf_event_synchronize) as for a stream (avf_stream_synchronize).
 *
 * The device's blocking flag alone does not cover events: cudaEventSynchronize
 * busy-waits on an event created without cudaEventBlockingSync, which once
 * cost VAD's calling thread a full core per call. CUDA only (skipped, never
 * passed, without a GPU); the policy is set before the first avflow call,
 * as `avflow serve` does. */
#include "test_util.h"

#include <stdlib.h>
#include <time.h>

#define BUF_BYTES ((size_t)256 << 20)
#define MIN_WAIT_S 0.02 /* a wait long enough that spinning would show */

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct gpu {
    avf_device *dev;
    avf_stream *s;
    void *a, *b;
} gpu;

static int gpu_open(gpu *g) {
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) != AVF_OK || n == 0)
        return 0;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &g->dev));
    assert_avf_ok(avf_stream_create(g->dev, &g->s));
    assert_avf_ok(avf_device_malloc(g->dev, BUF_BYTES, &g->a));
    assert_avf_ok(avf_device_malloc(g->dev, BUF_BYTES, &g->b));
    return 1;
}

static void gpu_close(gpu *g) {
    assert_avf_ok(avf_device_free(g->dev, g->a));
    assert_avf_ok(avf_device_free(g->dev, g->b));
    avf_stream_free(g->s);
}

/* Queue `copies` 256 MiB device copies: tens of milliseconds of GPU work. */
static void queue_work(gpu *g, int copies) {
    for (int i = 0; i < copies; i++)
        assert_avf_ok(avf_memcpy_async(g->dev, i & 1 ? g->a : g->b, i & 1 ? g->b : g->a,
                                       BUF_BYTES, AVF_COPY_D2D, g->s, "test_event_sync"));
}

/* One wait of at least MIN_WAIT_S (the work doubles until it is), returning
 * the waiting thread's CPU seconds and the wait's wall seconds. */
static void measure(gpu *g, int use_event, double *cpu, double *wall) {
    avf_event *ev = NULL;
    assert_avf_ok(avf_event_create(g->dev, 0, &ev));
    for (int copies = 16; copies <= 4096; copies *= 2) {
        assert_avf_ok(avf_stream_synchronize(g->s));
        queue_work(g, copies);
        if (use_event)
            assert_avf_ok(avf_event_record(ev, g->s));
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (use_event)
            assert_avf_ok(avf_event_synchronize(ev));
        else
            assert_avf_ok(avf_stream_synchronize(g->s));
        *cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        *wall = clock_s(CLOCK_MONOTONIC) - w0;
        if (*wall >= MIN_WAIT_S)
            break;
    }
    avf_event_free(ev);
    print_message("[          ] %s wait: %.1f ms wall, %.2f ms thread CPU\n",
                  use_event ? "event" : "stream", *wall * 1e3, *cpu * 1e3);
    assert_true(*wall >= MIN_WAIT_S);
}

static void check_sleeps(int use_event) {
    gpu g;
    memset(&g, 0, sizeof g);
    if (!gpu_open(&g)) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
    double cpu = 0, wall = 0;
    measure(&g, use_event, &cpu, &wall);
    gpu_close(&g);
    /* spinning costs ~100 %; a sleeping wait a few wake-ups */
    assert_true(cpu < 0.25 * wall);
}

static void test_event_wait_sleeps(void **state) {
    (void)state;
    check_sleeps(1);
}

static void test_stream_wait_sleeps(void **state) {
    (void)state;
    check_sleeps(0);
}

/* Timing events still time under the blocking policy. */
static void test_timing_event_under_blocking(void **state) {
    (void)state;
    gpu g;
    memset(&g, 0, sizeof g);
    if (!gpu_open(&g)) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
    avf_event *e0 = NULL, *e1 = NULL;
    assert_avf_ok(avf_event_create(g.dev, 1, &e0));
    assert_avf_ok(avf_event_create(g.dev, 1, &e1));
    assert_avf_ok(avf_event_record(e0, g.s));
    queue_work(&g, 8);
    assert_avf_ok(avf_event_record(e1, g.s));
    assert_avf_ok(avf_event_synchronize(e1));
    float ms = 0;
    assert_avf_ok(avf_event_elapsed_ms(e0, e1, &ms));
    assert_true(ms > 0.0f);
    avf_event_free(e0);
    avf_event_free(e1);
    gpu_close(&g);
}

int main(void) {
    /* before device discovery, which applies the policy */
    setenv("AVF_CUDA_SYNC", "blocking", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_wait_sleeps),
        cmocka_unit_test(test_stream_wait_sleeps),
        cmocka_unit_test(test_timing_event_under_blocking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
