/* The dynamic batcher with a stand-in network (y = x + 1): concatenation,
 * padding to buckets, splitting, signatures, the queue delay, preferred
 * sizes, queue full, per-request timeouts, unbatched models, draining,
 * priority lanes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

#include "serve/batcher.h"
#include "serve/hostbuf.h"
#include "serve/request.h"

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int runs;
    int64_t last_rows;        /* dim 0 the network saw */
    float last_in[64];
    int gate_closed;          /* runs wait while set */
    int in_run;
    int drop_batch_dim;       /* output [1, ...] whatever the batch */
    float order[64];          /* first input value of each run, in run order */
} fake;

static int g_priority_levels = 1; /* env_start's priority_levels (tests set it) */

static avf_status fake_run(void *user, avf_stream *s, avf_pool *pool, int n_in,
                           const avf_tensor *in, int n_out, avf_tensor *out) {
    fake *f = user;
    pthread_mutex_lock(&f->mu);
    f->in_run++;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed)
        pthread_cond_wait(&f->cv, &f->mu);
    if (f->runs < 64)
        f->order[f->runs] = ((const float *)in[0].data)[0];
    f->runs++;
    f->last_rows = in[0].shape[0];
    int64_t n = avf_tensor_numel(&in[0]);
    memcpy(f->last_in, in[0].data, (size_t)(n < 64 ? n : 64) * sizeof(float));
    f->in_run--;
    pthread_mutex_unlock(&f->mu);
    int64_t shape[AVF_MAX_DIMS];
    memcpy(shape, in[0].shape, sizeof shape);
    if (f->drop_batch_dim)
        shape[0] = 1;
    avf_status st = avf_tensor_alloc(&out[0], pool, AVF_DTYPE_F32, in[0].ndim, shape, s);
    if (st != AVF_OK)
        return st;
    for (int64_t i = 0; i < avf_tensor_numel(&out[0]); i++)
        ((float *)out[0].data)[i] = ((const float *)in[0].data)[i] + 1.0f;
    return AVF_OK;
}

typedef struct done_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} done_log;

static done_log g_done = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(avf_srv_request *r, void *user) {
    pthread_mutex_lock(&g_done.mu);
    g_done.done++;
    pthread_cond_broadcast(&g_done.cv);
    pthread_mutex_unlock(&g_done.mu);
}

static void wait_done(int n) {
    pthread_mutex_lock(&g_done.mu);
    while (g_done.done < n)
        pthread_cond_wait(&g_done.cv, &g_done.mu);
    pthread_mutex_unlock(&g_done.mu);
}

/* rows x cols f32 request whose values are base, base+1, ... */
static avf_srv_request *make_req(int64_t rows, int64_t cols, float base) {
    avf_srv_request *r = avf_srv_request_new();
    avf_srv_tensor *t = &r->inputs[0];
    snprintf(t->name, sizeof t->name, "x");
    t->dtype = AVF_DTYPE_F32;
    t->ndim = 2;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->nbytes = (size_t)(rows * cols) * sizeof(float);
    t->data = malloc(t->nbytes);
    t->owned = 1;
    for (int64_t i = 0; i < rows * cols; i++)
        ((float *)t->data)[i] = base + (float)i;
    r->n_inputs = 1;
    r->feed[0] = 0;
    r->batch = rows;
    r->on_done = on_done;
    return r; /* its one reference is the test's (the connection's, in the server) */
}

typedef struct env {
    fake f;
    avf_pool *pool;
    avf_srv_batcher *b;
} env;

static void env_start(env *e, int max_batch, int64_t delay_us, int queue, int workers) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->f.mu, NULL);
    pthread_cond_init(&e->f.cv, NULL);
    g_done.done = 0;
    avf_device *cpu;
    assert_int_equal(avf_device_get(AVF_DEVICE_CPU, 0, &cpu), AVF_OK);
    assert_int_equal(avf_pool_create(cpu, NULL, &e->pool), AVF_OK);
    avf_srv_batcher_config c = {.device = cpu, .pool = e->pool, .n_inputs = 1, .n_outputs = 1,
                                .run = fake_run, .run_user = &e->f};
    avf_srv_config_default(&c.model);
    c.model.max_batch_size = max_batch;
    c.model.max_queue_delay_us = delay_us;
    c.model.queue_capacity = queue;
    c.model.instance_count = workers;
    c.model.priority_levels = g_priority_levels;
    c.model.default_priority_level = (g_priority_levels + 1) / 2;
    c.output_names[0] = "y";
    assert_int_equal(avf_srv_batcher_create(&c, &e->b), AVF_OK);
}

static void env_stop(env *e) {
    avf_srv_batcher_free(e->b);
    avf_pool_free_all(e->pool);
    pthread_cond_destroy(&e->f.cv);
    pthread_mutex_destroy(&e->f.mu);
}

static void gate(env *e, int closed) {
    pthread_mutex_lock(&e->f.mu);
    e->f.gate_closed = closed;
    pthread_cond_broadcast(&e->f.cv);
    pthread_mutex_unlock(&e->f.mu);
}

static void wait_in_run(env *e) {
    pthread_mutex_lock(&e->f.mu);
    while (e->f.in_run == 0)
        pthread_cond_wait(&e->f.cv, &e->f.mu);
    pthread_mutex_unlock(&e->f.mu);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_bucket(void **state) {
    assert_int_equal(avf_srv_bucket(1, 8), 1);
    assert_int_equal(avf_srv_bucket(3, 8), 4);
    assert_int_equal(avf_srv_bucket(5, 8), 8);
    assert_int_equal(avf_srv_bucket(5, 6), 6);
    assert_int_equal(avf_srv_bucket(7, 0), 7);
}

static void test_concat_pad_split(void **state) {
    env e;
    env_start(&e, 8, 2000000, 16, 1); /* a long delay: the gate decides */
    gate(&e, 1);
    avf_srv_request *first = make_req(8, 2, 100);
    assert_int_equal(avf_srv_batcher_submit(e.b, first), AVF_OK);
    wait_in_run(&e); /* a full batch runs at once and holds the worker */
    avf_srv_request *r[3] = {make_req(1, 2, 0), make_req(2, 2, 10), make_req(2, 2, 20)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    gate(&e, 0);
    wait_done(4);
    /* the three queued requests, 5 rows, ran as one batch padded to 8 */
    assert_int_equal(e.f.runs, 2);
    assert_int_equal(e.f.last_rows, 8);
    float want[16] = {0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 22, 23, 22, 23, 22, 23};
    assert_memory_equal(e.f.last_in, want, sizeof want); /* padding repeats the last row */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i]->status, AVF_OK);
        assert_int_equal(r[i]->n_outputs, 1);
        assert_int_equal(r[i]->outputs[0].shape[0], r[i]->batch);
        assert_int_equal(r[i]->exec_batch, 8);
        const float *y = r[i]->outputs[0].data;
        const float *x = r[i]->inputs[0].data;
        for (int64_t k = 0; k < r[i]->batch * 2; k++)
            assert_true(y[k] == x[k] + 1.0f);
        assert_true(r[i]->t_start_ns >= r[i]->t_enqueue_ns && r[i]->t_end_ns >= r[i]->t_start_ns);
        avf_srv_request_unref(r[i]);
    }
    assert_int_equal(first->exec_batch, 8);
    avf_srv_request_unref(first);
    env_stop(&e);
}

static void test_signatures_apart(void **state) {
    env e;
    env_start(&e, 8, 2000000, 16, 1);
    gate(&e, 1);
    avf_srv_request *hold = make_req(8, 2, 0);
    assert_int_equal(avf_srv_batcher_submit(e.b, hold), AVF_OK);
    wait_in_run(&e);
    avf_srv_request *a = make_req(1, 2, 0), *b = make_req(1, 3, 0), *c = make_req(1, 2, 5);
    assert_int_equal(avf_srv_batcher_submit(e.b, a), AVF_OK);
    assert_int_equal(avf_srv_batcher_submit(e.b, b), AVF_OK);
    assert_int_equal(avf_srv_batcher_submit(e.b, c), AVF_OK);
    gate(&e, 0);
    wait_done(4);
    /* [1,2] and [1,3] never share a batch: a runs alone (b breaks its batch),
     * then b with the delay, ... at least 3 runs after `hold`. */
    assert_true(e.f.runs >= 3);
    assert_int_equal(b->outputs[0].shape[1], 3);
    assert_true(((const float *)c->outputs[0].data)[0] == 6.0f);
    avf_srv_request_unref(hold);
    avf_srv_request_unref(a);
    avf_srv_request_unref(b);
    avf_srv_request_unref(c);
    env_stop(&e);
}

static void test_delay_bounds_wait(void **state) {
    env e;
    env_start(&e, 8, 50000, 16, 1); /* 50 ms */
    double t0 = now_s();
    avf_srv_request *r = make_req(1, 2, 0);
    assert_int_equal(avf_srv_batcher_submit(e.b, r), AVF_OK);
    wait_done(1);
    double dt = now_s() - t0;
    assert_true(dt >= 0.045 && dt < 2.0); /* waited for company, but not forever */
    assert_int_equal(r->exec_batch, 1);
    avf_srv_request_unref(r);
    env_stop(&e);
}

static void test_full_batch_goes_at_once(void **state) {
    env e;
    env_start(&e, 4, 5000000, 16, 1); /* 5 s delay, but a full batch does not wait */
    double t0 = now_s();
    avf_srv_request *r[2] = {make_req(2, 1, 0), make_req(2, 1, 0)};
    for (int i = 0; i < 2; i++)
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    wait_done(2);
    assert_true(now_s() - t0 < 2.0);
    for (int i = 0; i < 2; i++)
        avf_srv_request_unref(r[i]);
    env_stop(&e);
}

static void test_queue_full(void **state) {
    env e;
    env_start(&e, 0, 0, 2, 1);
    gate(&e, 1);
    avf_srv_request *r[4];
    for (int i = 0; i < 4; i++)
        r[i] = make_req(1, 1, 0);
    assert_int_equal(avf_srv_batcher_submit(e.b, r[0]), AVF_OK);
    wait_in_run(&e);
    assert_int_equal(avf_srv_batcher_submit(e.b, r[1]), AVF_OK);
    assert_int_equal(avf_srv_batcher_submit(e.b, r[2]), AVF_OK);
    assert_int_equal(avf_srv_batcher_queued(e.b), 2);
    assert_int_equal(avf_srv_batcher_submit(e.b, r[3]), AVF_ERR_FULL);
    assert_int_equal(avf_srv_http_status(AVF_ERR_FULL), 429);
    assert_int_equal(atomic_load(&r[3]->refs), 1); /* not taken: the batcher holds nothing */
    gate(&e, 0);
    wait_done(3);
    for (int i = 0; i < 4; i++)
        avf_srv_request_unref(r[i]);
    env_stop(&e);
}

static void test_timeout_in_queue(void **state) {
    env e;
    env_start(&e, 0, 0, 8, 1);
    gate(&e, 1);
    avf_srv_request *hold = make_req(1, 1, 0), *late = make_req(1, 1, 0);
    late->timeout_us = 1000; /* 1 ms */
    assert_int_equal(avf_srv_batcher_submit(e.b, hold), AVF_OK);
    wait_in_run(&e);
    assert_int_equal(avf_srv_batcher_submit(e.b, late), AVF_OK);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    gate(&e, 0);
    wait_done(2);
    assert_int_equal(hold->status, AVF_OK);
    assert_int_equal(late->status, AVF_ERR_TIMEOUT);
    assert_int_equal(late->exec_batch, 0); /* never ran */
    assert_non_null(strstr(late->error, "timed out"));
    assert_int_equal(e.f.runs, 1);
    avf_srv_request_unref(hold);
    avf_srv_request_unref(late);
    env_stop(&e);
}

/* Lower priority values run sooner; 0 is the default (middle) level; FIFO
 * within a level; out-of-range levels are refused before queueing. */
static void test_priority_order(void **state) {
    g_priority_levels = 3;
    env e;
    env_start(&e, 0, 0, 16, 1);
    g_priority_levels = 1;
    gate(&e, 1);
    avf_srv_request *hold = make_req(1, 1, 100);
    assert_int_equal(avf_srv_batcher_submit(e.b, hold), AVF_OK);
    wait_in_run(&e);
    /* value = expected position in the run order after `hold` */
    int prio[6] = {3, 0, 1, 3, 2, 1};
    float want[6] = {5, 3, 1, 6, 4, 2};
    avf_srv_request *r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = make_req(1, 1, want[i]);
        r[i]->priority = prio[i];
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    }
    avf_srv_request *bad = make_req(1, 1, 0);
    bad->priority = 4;
    assert_int_equal(avf_srv_batcher_submit(e.b, bad), AVF_ERR_INVALID_ARG);
    assert_int_equal(atomic_load(&bad->refs), 1);
    gate(&e, 0);
    wait_done(7);
    assert_int_equal(e.f.runs, 7);
    assert_true(e.f.order[0] == 100.0f);
    for (int k = 1; k <= 6; k++)
        assert_true(e.f.order[k] == (float)k);
    for (int i = 0; i < 6; i++)
        avf_srv_request_unref(r[i]);
    avf_srv_request_unref(hold);
    avf_srv_request_unref(bad);
    env_stop(&e);
}

static void test_unbatched_runs_alone(void **state) {
    env e;
    env_start(&e, 0, 1000000, 8, 2);
    avf_srv_request *r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = make_req(3, 2, (float)i * 10);
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    }
    wait_done(4);
    assert_int_equal(e.f.runs, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i]->outputs[0].shape[0], 3); /* dim 0 untouched */
        assert_true(((const float *)r[i]->outputs[0].data)[5] == (float)i * 10 + 6.0f);
        avf_srv_request_unref(r[i]);
    }
    env_stop(&e);
}

static void test_output_without_batch_dim(void **state) {
    env e;
    env_start(&e, 8, 0, 8, 1);
    e.f.drop_batch_dim = 1;
    avf_srv_request *r = make_req(2, 2, 0);
    assert_int_equal(avf_srv_batcher_submit(e.b, r), AVF_OK);
    wait_done(1);
    assert_int_equal(r->status, AVF_ERR_UNSUPPORTED);
    assert_non_null(strstr(r->error, "no batch dim"));
    avf_srv_request_unref(r);
    env_stop(&e);
}

static void test_free_drains(void **state) {
    env e;
    env_start(&e, 4, 1000, 64, 2);
    avf_srv_request *r[32];
    for (int i = 0; i < 32; i++) {
        r[i] = make_req(1, 1, (float)i);
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    }
    env_stop(&e); /* must finish every queued request first */
    assert_int_equal(g_done.done, 32);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(r[i]->status, AVF_OK);
        assert_true(((const float *)r[i]->outputs[0].data)[0] == (float)i + 1.0f);
        avf_srv_request_unref(r[i]);
    }
}

/* A batch's requests answer out of one output buffer (no copy per request),
 * and their outputs stay valid after the batcher (the model) is gone, as a
 * reply still being sent needs. */
static void test_outputs_share_batch_buffer(void **state) {
    env e;
    env_start(&e, 8, 2000000, 16, 1);
    gate(&e, 1);
    avf_srv_request *first = make_req(8, 2, 100);
    assert_int_equal(avf_srv_batcher_submit(e.b, first), AVF_OK);
    wait_in_run(&e);
    avf_srv_request *r[2] = {make_req(1, 2, 0), make_req(3, 2, 10)};
    for (int i = 0; i < 2; i++)
        assert_int_equal(avf_srv_batcher_submit(e.b, r[i]), AVF_OK);
    gate(&e, 0);
    wait_done(3);
    assert_int_equal(r[0]->exec_batch, 4);
    assert_non_null(r[0]->outputs[0].hold);
    assert_ptr_equal(r[0]->outputs[0].hold, r[1]->outputs[0].hold);
    assert_int_equal(r[0]->outputs[0].owned, 0);
    /* rows laid out back to back: request 1 starts where request 0 ends */
    assert_ptr_equal((const char *)r[0]->outputs[0].data + r[0]->outputs[0].nbytes,
                     r[1]->outputs[0].data);
    assert_ptr_not_equal(first->outputs[0].hold, r[0]->outputs[0].hold);
    avf_srv_request_unref(first);
    env_stop(&e); /* the batcher and its buffer pool go first */
    for (int i = 0; i < 2; i++) {
        const float *y = r[i]->outputs[0].data;
        const float *x = r[i]->inputs[0].data;
        for (int64_t k = 0; k < r[i]->batch * 2; k++)
            assert_true(y[k] == x[k] + 1.0f);
        avf_srv_request_unref(r[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_concat_pad_split),
        cmocka_unit_test(test_outputs_share_batch_buffer),
        cmocka_unit_test(test_signatures_apart),
        cmocka_unit_test(test_delay_bounds_wait),
        cmocka_unit_test(test_full_batch_goes_at_once),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_timeout_in_queue),
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_unbatched_runs_alone),
        cmocka_unit_test(test_output_without_batch_dim),
        cmocka_unit_test(test_free_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
