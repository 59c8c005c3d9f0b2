/* Several devices in one server, on simulated CPU devices (cpu:1, cpu:2,
 * cpu:3): the placement rule (replicas under each budget, pins, eviction
 * order, too big), the lane set (masks, load order), and the batcher's
 * routing with a stand-in network that blocks on one device, so that the
 * load routing sees is set by the test, not by timing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#include "serve/batcher.h"
#include "serve/lanes.h"
#include "serve/placement.h"
#include "serve/request.h"

/* ------------------------------------------------------------ placement */

static void test_place_replicates_where_it_fits(void **state) {
    avf_srv_place_lane l[3] = {{1000, 0}, {1000, 900}, {0, 5000}};
    uint32_t fit = 0;
    int order[3], n = -1;
    assert_avf_ok(avf_srv_place(3, l, 7, 200, &fit, order, &n));
    assert_int_equal(fit, 1u | 4u); /* lane 1 has 100 bytes left: no replica there */
    assert_int_equal(n, 0);
    /* pinned to lane 1 only: no room there now, so eviction on lane 1 */
    assert_avf_ok(avf_srv_place(3, l, 2, 200, &fit, order, &n));
    assert_int_equal(fit, 0);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], 1);
    /* pinned to lanes 0 and 1: lane 0 only */
    assert_avf_ok(avf_srv_place(3, l, 3, 200, &fit, order, &n));
    assert_int_equal(fit, 1u);
}

static void test_place_fits_only_one_device(void **state) {
    /* a 3000-byte model: lane 0's budget is too small, lane 1's holds it */
    avf_srv_place_lane l[2] = {{2000, 0}, {8000, 1000}};
    uint32_t fit = 0;
    int order[2], n = -1;
    assert_avf_ok(avf_srv_place(2, l, 3, 3000, &fit, order, &n));
    assert_int_equal(fit, 2u);
}

static void test_place_eviction_order(void **state) {
    /* fits nowhere now: evict where most is free, never where it cannot fit */
    avf_srv_place_lane l[3] = {{1000, 900}, {1000, 500}, {400, 0}};
    uint32_t fit = 7;
    int order[3], n = -1;
    assert_avf_ok(avf_srv_place(3, l, 7, 800, &fit, order, &n));
    assert_int_equal(fit, 0);
    assert_int_equal(n, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
}

static void test_place_too_big(void **state) {
    avf_srv_place_lane l[2] = {{1000, 0}, {2000, 0}};
    uint32_t fit = 0;
    int order[2], n = 0;
    assert_avf_fails(avf_srv_place(2, l, 3, 5000, &fit, order, &n), AVF_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(avf_last_error(), "more than the whole VRAM budget (2000) of every "
                                             "device"));
    /* one device: the single-device message of before */
    assert_avf_fails(avf_srv_place(1, l, 1, 5000, &fit, order, &n), AVF_ERR_OUT_OF_MEMORY);
    assert_non_null(strstr(avf_last_error(), "more than the whole VRAM budget (1000)"));
    assert_null(strstr(avf_last_error(), "every device"));
    assert_avf_fails(avf_srv_place(2, l, 0, 1, &fit, order, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_srv_place(2, l, 4, 1, &fit, order, &n), AVF_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------ lanes */

static avf_srv_lanes *make_lanes(const char *list, const uint64_t *budgets) {
    avf_device *devs[AVF_SRV_MAX_LANES];
    int n = 0;
    assert_avf_ok(avf_device_parse_list(list, devs, AVF_SRV_MAX_LANES, &n));
    avf_srv_lanes *l = NULL;
    assert_avf_ok(avf_srv_lanes_create(devs, n, NULL, budgets, &l));
    return l;
}

static void test_lanes_masks_and_load_order(void **state) {
    uint64_t budgets[3] = {10, 20, 30};
    avf_srv_lanes *l = make_lanes("cpu:1,cpu:2,cpu:3", budgets);
    assert_int_equal(l->n, 3);
    assert_string_equal(l->lane[2].name, "cpu:3");
    assert_int_equal(l->lane[1].budget_bytes, 20);
    assert_true(l->lane[0].pool != l->lane[1].pool);
    assert_int_equal(avf_srv_lanes_all(l), 7u);
    char names[2][32] = {"cpu:3", "cpu:1"};
    uint32_t mask = 0;
    assert_avf_ok(avf_srv_lanes_mask(l, 2, names, &mask));
    assert_int_equal(mask, 5u);
    char bad[1][32] = {"cpu:4"};
    assert_avf_fails(avf_srv_lanes_mask(l, 1, bad, &mask), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "device 'cpu:4' is not one the server drives "
                                             "(cpu:1,cpu:2,cpu:3)"));
    char worse[1][32] = {"gpu"};
    assert_avf_fails(avf_srv_lanes_mask(l, 1, worse, &mask), AVF_ERR_INVALID_ARG);
    /* load: in flight first, then started, then id */
    assert_true(avf_srv_lane_less_loaded(&l->lane[0], &l->lane[1]));
    avf_srv_lane_begin(&l->lane[0]);
    assert_true(avf_srv_lane_less_loaded(&l->lane[1], &l->lane[0]));
    avf_srv_lane_end(&l->lane[0]);
    assert_true(avf_srv_lane_less_loaded(&l->lane[1], &l->lane[0])); /* started one more */
    avf_srv_lanes_free(l);
    /* the same device twice is refused */
    avf_device *d = NULL;
    assert_avf_ok(avf_device_parse("cpu:1", &d));
    avf_device *twice[2] = {d, d};
    avf_srv_lanes *x = NULL;
    assert_avf_fails(avf_srv_lanes_create(twice, 2, NULL, NULL, &x), AVF_ERR_INVALID_ARG);
    assert_null(x);
}

/* ------------------------------------------------------------ routing */

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    avf_device *blocked;      /* runs on this device wait while set */
    int block_first;          /* the next run blocks its device */
    int in_run[AVF_SRV_MAX_LANES + 8];  /* by device index */
    int runs[AVF_SRV_MAX_LANES + 8];
} fake;

static avf_status fake_run(void *user, avf_stream *s, avf_pool *pool, int n_in,
                           const avf_tensor *in, int n_out, avf_tensor *out) {
    fake *f = user;
    avf_device *dev = avf_stream_device(s);
    assert_ptr_equal(dev, avf_pool_device(pool)); /* the lane's pool and stream */
    int k = avf_device_get_index(dev);
    pthread_mutex_lock(&f->mu);
    if (f->block_first) {
        f->block_first = 0;
        f->blocked = dev;
    }
    f->in_run[k]++;
    pthread_cond_broadcast(&f->cv);
    while (f->blocked == dev)
        pthread_cond_wait(&f->cv, &f->mu);
    f->runs[k]++;
    f->in_run[k]--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    avf_status st = avf_tensor_alloc(&out[0], pool, AVF_DTYPE_F32, in[0].ndim, in[0].shape, s);
    if (st == AVF_OK)
        for (int64_t i = 0; i < avf_tensor_numel(&out[0]); i++)
            ((float *)out[0].data)[i] = ((const float *)in[0].data)[i] + 1.0f;
    return st;
}

static void block(fake *f, avf_device *dev) {
    pthread_mutex_lock(&f->mu);
    f->blocked = dev;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Block the device the next run lands on (whichever worker was ready
 * first), once it is in that run; returns that device. */
static void block_next(fake *f) {
    pthread_mutex_lock(&f->mu);
    f->block_first = 1;
    pthread_mutex_unlock(&f->mu);
}

/* Until every worker of b waits for work (routing compares idle lanes). */
static void wait_idle(avf_srv_batcher *b, int n) {
    while (avf_srv_batcher_idle_workers(b) < n)
        usleep(200);
}

static avf_device *wait_blocked(fake *f) {
    pthread_mutex_lock(&f->mu);
    while (!f->blocked || f->in_run[avf_device_get_index(f->blocked)] == 0)
        pthread_cond_wait(&f->cv, &f->mu);
    avf_device *d = f->blocked;
    pthread_mutex_unlock(&f->mu);
    return d;
}

static int runs_on(fake *f, avf_device *dev) {
    pthread_mutex_lock(&f->mu);
    int n = f->runs[avf_device_get_index(dev)];
    pthread_mutex_unlock(&f->mu);
    return n;
}

typedef struct done_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int lane_execs[AVF_SRV_MAX_LANES];
} done_log;

static done_log g_done = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};

static void on_done(avf_srv_request *r, void *user) {
    pthread_mutex_lock(&g_done.mu);
    g_done.done++;
    pthread_cond_broadcast(&g_done.cv);
    pthread_mutex_unlock(&g_done.mu);
}

static void on_lane_exec(void *user, int lane, int n, int64_t rows, int exec_batch,
                         uint64_t ns) {
    pthread_mutex_lock(&g_done.mu);
    g_done.lane_execs[lane]++;
    pthread_mutex_unlock(&g_done.mu);
}

static void wait_done(int n) {
    pthread_mutex_lock(&g_done.mu);
    while (g_done.done < n)
        pthread_cond_wait(&g_done.cv, &g_done.mu);
    pthread_mutex_unlock(&g_done.mu);
}

static avf_srv_request *make_req(float v) {
    avf_srv_request *r = avf_srv_request_new();
    avf_srv_tensor *t = &r->inputs[0];
    snprintf(t->name, sizeof t->name, "x");
    t->dtype = AVF_DTYPE_F32;
    t->ndim = 2;
    t->shape[0] = 1;
    t->shape[1] = 4;
    t->nbytes = 4 * sizeof(float);
    t->data = malloc(t->nbytes);
    t->owned = 1;
    for (int i = 0; i < 4; i++)
        ((float *)t->data)[i] = v;
    r->n_inputs = 1;
    r->feed[0] = 0;
    r->batch = 1;
    r->on_done = on_done;
    return r;
}

/* A batcher with a replica on every lane of `l`, one worker per lane. */
static avf_srv_batcher *make_batcher(avf_srv_lanes *l, fake *f, int max_batch) {
    avf_srv_batcher_config c = {.n_inputs = 1, .n_outputs = 1, .run = fake_run, .run_user = f,
                                .on_lane_exec = on_lane_exec, .n_lanes = l->n};
    for (int i = 0; i < l->n; i++)
        c.lanes[i] = (avf_srv_batcher_lane){l->lane[i].dev, l->lane[i].pool, &l->lane[i]};
    avf_srv_config_default(&c.model);
    c.model.max_batch_size = max_batch;
    c.model.max_queue_delay_us = 0;
    c.model.default_priority_level = 1;
    c.output_names[0] = "y";
    avf_srv_batcher *b = NULL;
    assert_avf_ok(avf_srv_batcher_create(&c, &b));
    assert_int_equal(avf_srv_batcher_lanes(b), l->n);
    return b;
}

static void fake_init(fake *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_mutex_lock(&g_done.mu);
    memset(g_done.lane_execs, 0, sizeof g_done.lane_execs);
    g_done.done = 0;
    pthread_mutex_unlock(&g_done.mu);
}

static void submit(avf_srv_batcher *b, float v) {
    avf_srv_request *r = make_req(v);
    assert_avf_ok(avf_srv_batcher_submit(b, r));
    avf_srv_request_unref(r);
}

/* A busy device gets no more batches while another replica's is free. */
static void test_route_to_the_free_device(void **state) {
    fake f;
    fake_init(&f);
    avf_srv_lanes *l = make_lanes("cpu:1,cpu:2", NULL);
    avf_srv_batcher *b = make_batcher(l, &f, 8);
    block_next(&f);
    wait_idle(b, 2);
    submit(b, 1);
    avf_device *d1 = wait_blocked(&f);
    int busy = avf_srv_lanes_find(l, d1);
    avf_device *d2 = l->lane[1 - busy].dev;
    assert_int_equal(atomic_load(&l->lane[busy].inflight), 1);
    for (int i = 0; i < 5; i++) {
        wait_idle(b, 1);
        submit(b, 2);
        wait_done(i + 1);
    }
    assert_int_equal(runs_on(&f, d2), 5);
    assert_int_equal(runs_on(&f, d1), 0);
    block(&f, NULL);
    wait_done(6);
    avf_srv_batcher_free(b);
    assert_int_equal(runs_on(&f, d1), 1);
    assert_int_equal(atomic_load(&l->lane[busy].exec_count), 1);
    assert_int_equal(atomic_load(&l->lane[1 - busy].exec_count), 5);
    assert_int_equal(atomic_load(&l->lane[1 - busy].request_count), 5);
    assert_int_equal(atomic_load(&l->lane[busy].inflight), 0);
    assert_int_equal(g_done.lane_execs[busy], 1);
    assert_int_equal(g_done.lane_execs[1 - busy], 5);
    avf_srv_lanes_free(l);
}

/* Load is per device, over every model: model B's worker on the device
 * that model A keeps busy hands B's request to the other device. */
static void test_route_by_device_load_across_models(void **state) {
    fake f;
    fake_init(&f);
    avf_srv_lanes *l = make_lanes("cpu:1,cpu:2", NULL);
    avf_srv_batcher *a = make_batcher(l, &f, 8), *b = make_batcher(l, &f, 8);
    block_next(&f);
    wait_idle(a, 2);
    submit(a, 1);
    avf_device *d1 = wait_blocked(&f);
    avf_device *d2 = l->lane[1 - avf_srv_lanes_find(l, d1)].dev;
    for (int i = 0; i < 4; i++) {
        wait_idle(b, 2); /* both of b's workers free: only the load tells them apart */
        submit(b, 2);
        wait_done(i + 1);
    }
    assert_int_equal(runs_on(&f, d2), 4);
    block(&f, NULL);
    wait_done(5);
    avf_srv_batcher_free(a);
    avf_srv_batcher_free(b);
    assert_int_equal(runs_on(&f, d1), 1);
    avf_srv_lanes_free(l);
}

/* Idle devices take turns (fewer batches started first), so a light load
 * still spreads over every replica. */
static void test_idle_devices_take_turns(void **state) {
    fake f;
    fake_init(&f);
    avf_srv_lanes *l = make_lanes("cpu:1,cpu:2,cpu:3", NULL);
    avf_srv_batcher *b = make_batcher(l, &f, 8);
    for (int i = 0; i < 30; i++) {
        wait_idle(b, 3); /* every worker back waiting before the next request */
        submit(b, (float)i);
        wait_done(i + 1);
    }
    avf_srv_batcher_free(b);
    for (int i = 0; i < 3; i++)
        assert_int_equal(runs_on(&f, l->lane[i].dev), 10);
    avf_srv_lanes_free(l);
}

/* Closing with requests queued on a multi-lane batcher runs them all. */
static void test_multi_lane_drain(void **state) {
    fake f;
    fake_init(&f);
    avf_srv_lanes *l = make_lanes("cpu:1,cpu:2", NULL);
    avf_srv_batcher *b = make_batcher(l, &f, 0);
    block(&f, l->lane[0].dev);
    for (int i = 0; i < 20; i++)
        submit(b, (float)i);
    block(&f, NULL);
    avf_srv_batcher_free(b);
    assert_int_equal(g_done.done, 20);
    assert_int_equal(runs_on(&f, l->lane[0].dev) + runs_on(&f, l->lane[1].dev), 20);
    avf_srv_lanes_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_replicates_where_it_fits),
        cmocka_unit_test(test_place_fits_only_one_device),
        cmocka_unit_test(test_place_eviction_order),
        cmocka_unit_test(test_place_too_big),
        cmocka_unit_test(test_lanes_masks_and_load_order),
        cmocka_unit_test(test_route_to_the_free_device),
        cmocka_unit_test(test_route_by_device_load_across_models),
        cmocka_unit_test(test_idle_devices_take_turns),
        cmocka_unit_test(test_multi_lane_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
