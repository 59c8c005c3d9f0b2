/* The executor through avf_model_run: ModelProto messages built here with
 * the generated protobuf-c structs (as in test_onnx_load.c), loaded and run
 * on the CPU. Covers an Add+Relu chain, If (branches, outer values), Loop
 * (trip count, cond, loop-carried values, scan outputs, zero trips), value
 * lifetimes (peak pool use), concurrent runs of one model from 4 threads,
 * the run errors (missing/unknown input, wrong dtype/shape, unsupported op,
 * bad options), and the real Silero VAD model when models/ has it.
 *
 * Tests that need ops of other families (Add, Relu, ...) skip until those
 * exist in the exec registry. */
#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "graph/exec_op.h"
#include "onnx.pb-c.h"
#include "onnx_build.h"

/* ------------------------------------------------------------ builders */

static avf_device *cpu;
static avf_pool *pool;

static int setup(void **state) {
    (void)state;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    onnx_build_free();
    avf_pool_free_all(pool);
    return 0;
}

static avf_model *build(Onnx__GraphProto *g, int64_t opset, uint32_t flags) {
    onnx_built b = onnx_pack(g, opset);
    avf_model_options opts = {.flags = flags};
    avf_model *model = NULL;
    assert_avf_ok(avf_model_load_memory(b.buf, b.len, &opts, &model));
    return model;
}

static int have_ops(const char *a, const char *b) {
    if ((a && !avf_exec_find("", a)) || (b && !avf_exec_find("", b))) {
        print_message("[  SKIP    ] the exec registry has no %s yet\n",
                      a && !avf_exec_find("", a) ? a : b);
        return 0;
    }
    return 1;
}

static avf_tensor borrow(void *data, avf_dtype dt, int ndim, const int64_t *shape) {
    avf_tensor t;
    assert_avf_ok(avf_tensor_init_borrowed(&t, data, dt, ndim, shape, cpu));
    return t;
}

static avf_run_options cpu_opts(void) {
    avf_run_options o = {.device = cpu, .pool = pool};
    return o;
}

/* ------------------------------------------------------------ Add + Relu */

static const int64_t d4[] = {4};

/* z = Relu(x + y), also w = x (an input as output) */
static avf_model *add_relu_model(void) {
    Onnx__GraphProto *g = graph("add_relu");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d4));
    PUSH(g->input, g->n_input, vi("y", T_F32, 1, d4));
    node(g, "Add", "x", "y", "s");
    node(g, "Relu", "s", NULL, "z");
    PUSH(g->output, g->n_output, vi("z", T_F32, 1, d4));
    PUSH(g->output, g->n_output, vi("x", T_F32, 1, d4));
    return build(g, 17, 0);
}

static void add_relu_chain(void **state) {
    (void)state;
    if (!have_ops("Add", "Relu"))
        skip();
    avf_model *m = add_relu_model();
    float x[4] = {1, -2, 3, -4}, y[4] = {0.5f, 1, -5, 2};
    avf_tensor in[2] = {borrow(x, AVF_DTYPE_F32, 1, d4), borrow(y, AVF_DTYPE_F32, 1, d4)};
    avf_tensor out[2];
    avf_run_options o = cpu_opts();
    assert_avf_ok(avf_model_run(m, &o, 2, NULL, in, 2, NULL, out));
    const float *z = out[0].data;
    for (int i = 0; i < 4; i++)
        assert_true(z[i] == fmaxf(x[i] + y[i], 0.0f));
    /* the input returned as an output is a copy the caller owns */
    assert_true(out[1].data != (void *)x);
    assert_memory_equal(out[1].data, x, sizeof x);
    assert_true(out[0].flags & AVF_TENSOR_OWNED);
    avf_tensor_release(&out[0], NULL);
    avf_tensor_release(&out[1], NULL);
    /* by name, a subset, in another order */
    const char *in_names[] = {"y", "x"};
    const char *out_names[] = {"z"};
    avf_tensor in2[2] = {in[1], in[0]};
    assert_avf_ok(avf_model_run(m, &o, 2, in_names, in2, 1, out_names, out));
    assert_memory_equal(out[0].data, z, 0);
    for (int i = 0; i < 4; i++)
        assert_true(((float *)out[0].data)[i] == fmaxf(x[i] + y[i], 0.0f));
    avf_tensor_release(&out[0], NULL);
    avf_model_free(m);
}

/* ------------------------------------------------------------ If */

/* out = If(c) then Constant [1,2] else x (an outer value) */
static avf_model *if_model(void) {
    static const int64_t d2[] = {2};
    Onnx__GraphProto *then_g = graph("then");
    static const float tv[] = {1, 2};
    attr_floats(node(then_g, "Constant", NULL, NULL, "t"), "value_floats", tv, 2);
    PUSH(then_g->output, then_g->n_output, vi("t", T_F32, 1, d2));
    Onnx__GraphProto *else_g = graph("else");
    PUSH(else_g->output, else_g->n_output, vi("x", T_F32, 1, d2));
    Onnx__GraphProto *g = graph("if");
    PUSH(g->input, g->n_input, vi("c", T_BOOL, 0, NULL));
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d2));
    Onnx__NodeProto *n = node(g, "If", "c", NULL, "out");
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    /* a Constant of the main graph as a second output */
    attr_float(node(g, "Constant", NULL, NULL, "k"), "value_float", 7.5f);
    PUSH(g->output, g->n_output, vi("out", T_F32, 1, d2));
    PUSH(g->output, g->n_output, vi("k", T_F32, 0, NULL));
    return build(g, 13, 0);
}

static void if_branches(void **state) {
    (void)state;
    avf_model *m = if_model();
    static const int64_t d2[] = {2};
    float x[2] = {-3, 4};
    avf_run_options o = cpu_opts();
    for (int c = 0; c < 2; c++) {
        uint8_t cond = (uint8_t)c;
        avf_tensor in[2] = {borrow(&cond, AVF_DTYPE_BOOL, 0, NULL),
                            borrow(x, AVF_DTYPE_F32, 1, d2)};
        avf_tensor out[2];
        assert_avf_ok(avf_model_run(m, &o, 2, NULL, in, 2, NULL, out));
        const float *r = out[0].data;
        assert_int_equal(out[0].ndim, 1);
        assert_int_equal(out[0].shape[0], 2);
        assert_true(r[0] == (c ? 1.0f : -3.0f) && r[1] == (c ? 2.0f : 4.0f));
        assert_true(out[0].data != (void *)x);
        assert_int_equal(out[1].ndim, 0);
        assert_true(*(float *)out[1].data == 7.5f);
        avf_tensor_release(&out[0], NULL);
        avf_tensor_release(&out[1], NULL);
    }
    avf_model_free(m);
}

/* ------------------------------------------------------------ Loop */

/* Loop(M, cond, v): body passes cond and v through (or adds 1 to v when
 * `add` and the registry has Add) and emits the iteration number as a scan
 * output. */
static avf_model *loop_model(int add, int with_cond) {
    static const int64_t d2[] = {2};
    Onnx__GraphProto *b = graph("body");
    PUSH(b->input, b->n_input, vi("i", T_I64, 0, NULL));
    PUSH(b->input, b->n_input, vi("c_in", T_BOOL, 0, NULL));
    PUSH(b->input, b->n_input, vi("v_in", T_F32, 1, d2));
    if (add) {
        static const float one[] = {1, 1};
        attr_floats(node(b, "Constant", NULL, NULL, "one"), "value_floats", one, 2);
        node(b, "Add", "v_in", "one", "v_out");
    }
    PUSH(b->output, b->n_output, vi("c_in", T_BOOL, 0, NULL));
    PUSH(b->output, b->n_output, vi(add ? "v_out" : "v_in", T_F32, 1, d2));
    PUSH(b->output, b->n_output, vi("i", T_I64, 0, NULL));
    Onnx__GraphProto *g = graph("loop");
    PUSH(g->input, g->n_input, vi("M", T_I64, 0, NULL));
    if (with_cond)
        PUSH(g->input, g->n_input, vi("cond", T_BOOL, 0, NULL));
    PUSH(g->input, g->n_input, vi("v", T_F32, 1, d2));
    Onnx__NodeProto *n = node(g, "Loop", "M", with_cond ? "cond" : "", "v_final");
    add_input(n, "v");
    add_output(n, "iters");
    attr_graph(n, "body", b);
    PUSH(g->output, g->n_output, vi("v_final", T_F32, 1, d2));
    PUSH(g->output, g->n_output, vi("iters", T_I64, 1, (const int64_t[]){-1}));
    return build(g, 13, 0);
}

static void run_loop(avf_model *m, int64_t trips, int with_cond, uint8_t cond, float *v_out,
                     avf_tensor *iters) {
    static const int64_t d2[] = {2};
    float v[2] = {10, 20};
    avf_tensor in[3];
    int k = 0;
    in[k++] = borrow(&trips, AVF_DTYPE_I64, 0, NULL);
    if (with_cond)
        in[k++] = borrow(&cond, AVF_DTYPE_BOOL, 0, NULL);
    in[k++] = borrow(v, AVF_DTYPE_F32, 1, d2);
    avf_tensor out[2];
    avf_run_options o = cpu_opts();
    assert_avf_ok(avf_model_run(m, &o, k, NULL, in, 2, NULL, out));
    assert_int_equal(out[0].ndim, 1);
    memcpy(v_out, out[0].data, 2 * sizeof(float));
    *iters = out[1];
    avf_tensor_release(&out[0], NULL);
}

static void loop_scan(void **state) {
    (void)state;
    avf_model *m = loop_model(0, 1);
    float v[2];
    avf_tensor it;
    run_loop(m, 5, 1, 1, v, &it);
    assert_true(v[0] == 10 && v[1] == 20);
    assert_int_equal(it.ndim, 1);
    assert_int_equal(it.shape[0], 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(((int64_t *)it.data)[i], i);
    avf_tensor_release(&it, NULL);
    /* zero trips: the initial values come back, the scan output is empty */
    run_loop(m, 0, 1, 1, v, &it);
    assert_true(v[0] == 10 && v[1] == 20);
    assert_int_equal(it.shape[0], 0);
    avf_tensor_release(&it, NULL);
    /* cond false at the start: no iteration */
    run_loop(m, 5, 1, 0, v, &it);
    assert_int_equal(it.shape[0], 0);
    avf_tensor_release(&it, NULL);
    avf_model_free(m);
    /* no cond input: M alone decides */
    m = loop_model(0, 0);
    run_loop(m, 3, 0, 0, v, &it);
    assert_int_equal(it.shape[0], 3);
    avf_tensor_release(&it, NULL);
    avf_model_free(m);
}

static void loop_carried(void **state) {
    (void)state;
    if (!have_ops("Add", NULL))
        skip();
    avf_model *m = loop_model(1, 1);
    float v[2];
    avf_tensor it;
    run_loop(m, 4, 1, 1, v, &it);
    assert_true(v[0] == 14 && v[1] == 24);
    assert_int_equal(it.shape[0], 4);
    avf_tensor_release(&it, NULL);
    avf_model_free(m);
}

/* ------------------------------------------------------------ lifetimes */

static void value_lifetimes(void **state) {
    (void)state;
    if (!have_ops("Relu", NULL))
        skip();
    /* a chain of 12 Relus over 1 MiB: with releases after last use, at most
     * the input, two intermediates and the output are ever alive */
    enum { N = 256 * 1024, CHAIN = 12 };
    static const int64_t dn[] = {N};
    Onnx__GraphProto *g = graph("chain");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, dn));
    char prev[16] = "x", cur[16];
    for (int i = 0; i < CHAIN; i++) {
        snprintf(cur, sizeof cur, "r%d", i);
        node(g, "Relu", prev, NULL, cur);
        strcpy(prev, cur);
    }
    PUSH(g->output, g->n_output, vi(prev, T_F32, 1, dn));
    avf_model *m = build(g, 17, 0);
    float *x = calloc(N, sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 7) - 3;
    avf_tensor in = borrow(x, AVF_DTYPE_F32, 1, dn), out;
    avf_run_options o = cpu_opts();
    avf_pool_stats before, after;
    assert_avf_ok(avf_pool_get_stats(pool, &before));
    avf_pool_reset_counters(pool);
    assert_avf_ok(avf_model_run(m, &o, 1, NULL, &in, 1, NULL, &out));
    assert_avf_ok(avf_pool_get_stats(pool, &after));
    uint64_t one = (uint64_t)N * sizeof(float);
    assert_true(after.peak_in_use_bytes <= before.in_use_bytes + 3 * one);
    /* after the run only the output is alive */
    assert_true(after.in_use_bytes <= before.in_use_bytes + one + 512);
    for (int i = 0; i < N; i++)
        assert_true(((float *)out.data)[i] == fmaxf(x[i], 0));
    avf_tensor_release(&out, NULL);
    free(x);
    avf_model_free(m);
}

/* ------------------------------------------------------------ threads */

typedef struct thread_arg {
    avf_model *m;
    int use_add;
    int failures;
} thread_arg;

static void *run_many(void *p) {
    thread_arg *a = p;
    static const int64_t d2[] = {2};
    for (int r = 0; r < 25; r++) {
        int64_t trips = 3 + r % 4;
        uint8_t cond = 1;
        float v[2] = {10, 20};
        avf_tensor in[3];
        avf_tensor_init_borrowed(&in[0], &trips, AVF_DTYPE_I64, 0, NULL, cpu);
        avf_tensor_init_borrowed(&in[1], &cond, AVF_DTYPE_BOOL, 0, NULL, cpu);
        avf_tensor_init_borrowed(&in[2], v, AVF_DTYPE_F32, 1, d2, cpu);
        avf_tensor out[2];
        avf_run_options o = {.device = cpu, .pool = pool};
        if (avf_model_run(a->m, &o, 3, NULL, in, 2, NULL, out) != AVF_OK) {
            a->failures++;
            continue;
        }
        const float *vo = out[0].data;
        float add = a->use_add ? (float)trips : 0;
        if (vo[0] != 10 + add || vo[1] != 20 + add || out[1].shape[0] != trips)
            a->failures++;
        for (int i = 0; i < trips; i++)
            if (((int64_t *)out[1].data)[i] != i)
                a->failures++;
        avf_tensor_release(&out[0], NULL);
        avf_tensor_release(&out[1], NULL);
    }
    return NULL;
}

static void concurrent_runs(void **state) {
    (void)state;
    int use_add = avf_exec_find("", "Add") != NULL;
    avf_model *m = loop_model(use_add, 1); /* first run happens in the threads */
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){m, use_add, 0};
        assert_int_equal(pthread_create(&th[i], NULL, run_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
    avf_model_free(m);
}

/* ------------------------------------------------------------ errors */

static void run_errors(void **state) {
    (void)state;
    avf_model *m = if_model();
    static const int64_t d2[] = {2}, d3[] = {3};
    float x[3] = {1, 2, 3};
    uint8_t c = 1;
    avf_run_options o = cpu_opts();
    avf_tensor out[2];
    avf_tensor in[2] = {borrow(&c, AVF_DTYPE_BOOL, 0, NULL), borrow(x, AVF_DTYPE_F32, 1, d2)};
    /* missing input (by name), unknown name, fed twice */
    const char *only_c[] = {"c"};
    assert_avf_fails(avf_model_run(m, &o, 1, only_c, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "'x' is not fed"));
    assert_null(out[0].data);
    const char *bad[] = {"c", "nope"};
    assert_avf_fails(avf_model_run(m, &o, 2, bad, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "nope"));
    const char *twice[] = {"c", "c"};
    assert_avf_fails(avf_model_run(m, &o, 2, twice, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    /* count without names */
    assert_avf_fails(avf_model_run(m, &o, 1, NULL, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    /* wrong dtype, wrong shape */
    avf_tensor wrong[2] = {borrow(x, AVF_DTYPE_F32, 0, NULL), in[1]};
    assert_avf_fails(avf_model_run(m, &o, 2, NULL, wrong, 2, NULL, out), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "dtype"));
    avf_tensor wrong_shape[2] = {in[0], borrow(x, AVF_DTYPE_F32, 1, d3)};
    assert_avf_fails(avf_model_run(m, &o, 2, NULL, wrong_shape, 2, NULL, out),
                     AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "shape"));
    /* unknown output, bad options */
    const char *no_out[] = {"zzz"};
    assert_avf_fails(avf_model_run(m, &o, 2, NULL, in, 1, no_out, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_model_run(m, &o, 2, NULL, in, 1, NULL, out), AVF_ERR_INVALID_ARG);
    avf_run_options no_pool = {.device = cpu};
    assert_avf_fails(avf_model_run(m, &no_pool, 2, NULL, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    avf_run_options fp16 = {.device = cpu, .pool = pool, .fp16 = 1};
    assert_avf_fails(avf_model_run(m, &fp16, 2, NULL, in, 2, NULL, out), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_model_run(m, NULL, 2, NULL, in, 2, NULL, out), AVF_ERR_INVALID_ARG);
    /* a condition of rank 1 where the model declares a scalar */
    uint8_t two[2] = {1, 0};
    avf_tensor in2[2] = {borrow(two, AVF_DTYPE_BOOL, 1, d2), in[1]};
    assert_avf_fails(avf_model_run(m, &o, 2, NULL, in2, 2, NULL, out), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "input 'c'"));
    /* still runs fine afterwards */
    assert_avf_ok(avf_model_run(m, &o, 2, NULL, in, 2, NULL, out));
    avf_tensor_release(&out[0], NULL);
    avf_tensor_release(&out[1], NULL);
    avf_model_free(m);
}

static void unsupported_op(void **state) {
    (void)state;
    /* loaded for inspection (ALLOW_UNSUPPORTED): running it names the node */
    Onnx__GraphProto *g = graph("foo");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d4));
    node(g, "FooBar", "x", NULL, "y");
    PUSH(g->output, g->n_output, vi("y", T_F32, 1, d4));
    avf_model *m = build(g, 17, AVF_MODEL_ALLOW_UNSUPPORTED);
    float x[4] = {0};
    avf_tensor in = borrow(x, AVF_DTYPE_F32, 1, d4), out;
    avf_run_options o = cpu_opts();
    assert_avf_fails(avf_model_run(m, &o, 1, NULL, &in, 1, NULL, &out), AVF_ERR_UNSUPPORTED);
    assert_non_null(strstr(avf_last_error(), "FooBar"));
    assert_non_null(strstr(avf_last_error(), "node 'y'"));
    assert_null(out.data);
    avf_model_free(m);
}

/* ------------------------------------------------------------ Silero VAD */

static void silero_vad(void **state) {
    (void)state;
    const char *path = AVF_SOURCE_DIR "/models/silero_vad.onnx";
    avf_model *m = NULL;
    if (avf_model_load(path, NULL, &m) != AVF_OK) {
        print_message("[  SKIP    ] %s not loaded (scripts/fetch-models.sh): %s\n", path,
                      avf_last_error());
        skip();
    }
    /* 512 samples of a chirp with noise at 16 kHz, zero state */
    enum { S = 512 };
    float *x = calloc(S, sizeof *x), *st = calloc(2 * 128, sizeof *st);
    assert_non_null(x);
    assert_non_null(st);
    uint64_t seed = 12345;
    for (int i = 0; i < S; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double noise = (double)(seed >> 11) / 9007199254740992.0 - 0.5;
        x[i] = (float)(0.5 * sin(0.02 * i + 0.0005 * i * i) + 0.1 * noise);
    }
    int64_t sr = 16000;
    static const int64_t dx[] = {1, S}, ds[] = {2, 1, 128};
    avf_tensor in[3] = {borrow(x, AVF_DTYPE_F32, 2, dx), borrow(st, AVF_DTYPE_F32, 3, ds),
                        borrow(&sr, AVF_DTYPE_I64, 0, NULL)};
    const char *names[] = {"input", "state", "sr"};
    avf_tensor out[2];
    avf_run_options o = cpu_opts();
    avf_status s = avf_model_run(m, &o, 3, names, in, 2, NULL, out);
    if (s == AVF_ERR_UNSUPPORTED) {
        print_message("[  SKIP    ] silero_vad: %s\n", avf_last_error());
        free(x);
        free(st);
        avf_model_free(m);
        skip();
    }
    if (s != AVF_OK)
        print_error("silero_vad: %s\n", avf_last_error());
    assert_int_equal(s, AVF_OK);
    assert_int_equal(out[0].ndim, 2);
    assert_int_equal(out[0].shape[0], 1);
    assert_int_equal(out[0].shape[1], 1);
    float p = *(float *)out[0].data;
    print_message("silero_vad: speech probability %.4f\n", p);
    assert_true(p >= 0.0f && p <= 1.0f);
    assert_int_equal(out[1].ndim, 3);
    assert_int_equal(out[1].shape[0], 2);
    assert_int_equal(out[1].shape[2], 128);
    /* the same input again gives the same answer */
    avf_tensor again[2];
    assert_avf_ok(avf_model_run(m, &o, 3, names, in, 2, NULL, again));
    assert_true(*(float *)again[0].data == p);
    for (int i = 0; i < 2; i++) {
        avf_tensor_release(&out[i], NULL);
        avf_tensor_release(&again[i], NULL);
    }
    free(x);
    free(st);
    avf_model_free(m);
}

/* ------------------------------------------------------------ GPU */

/* Download a run output (on any device) into host memory. */
static void fetch(const avf_tensor *t, void *dst) {
    size_t n = avf_tensor_nbytes(t);
    if (!n)
        return;
    if (avf_device_get_kind(t->device) == AVF_DEVICE_CPU)
        memcpy(dst, t->data, n);
    else
        avf_test_download(t->device, dst, t->data, n);
}

/* The same models on cuda:0 (inputs given on the host, copied by the run)
 * give the CPU's results. Skipped without a GPU. */
static void gpu_matches_cpu(void **state) {
    (void)state;
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) != AVF_OK || n == 0) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
    avf_device *gpu = NULL;
    avf_pool *gp = NULL;
    avf_stream *s = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &gpu));
    assert_avf_ok(avf_pool_create(gpu, NULL, &gp));
    assert_avf_ok(avf_stream_create(gpu, &s));
    avf_run_options go = {.device = gpu, .stream = s, .pool = gp};
    /* If with both branches */
    avf_model *m = if_model();
    static const int64_t d2[] = {2};
    float x[2] = {-3, 4}, r[2];
    for (int c = 0; c < 2; c++) {
        uint8_t cond = (uint8_t)c;
        avf_tensor in[2] = {borrow(&cond, AVF_DTYPE_BOOL, 0, NULL), borrow(x, AVF_DTYPE_F32, 1, d2)};
        avf_tensor out[2];
        assert_avf_ok(avf_model_run(m, &go, 2, NULL, in, 2, NULL, out));
        assert_true(out[0].device == gpu);
        assert_avf_ok(avf_stream_synchronize(s));
        fetch(&out[0], r);
        assert_true(r[0] == (c ? 1.0f : -3.0f) && r[1] == (c ? 2.0f : 4.0f));
        avf_tensor_release(&out[0], s);
        avf_tensor_release(&out[1], s);
    }
    avf_model_free(m);
    /* Loop with scan output (and Add when present) */
    int use_add = avf_exec_find("", "Add") != NULL;
    m = loop_model(use_add, 1);
    int64_t trips = 4;
    uint8_t cond = 1;
    float v[2] = {10, 20};
    avf_tensor in[3] = {borrow(&trips, AVF_DTYPE_I64, 0, NULL), borrow(&cond, AVF_DTYPE_BOOL, 0, NULL),
                        borrow(v, AVF_DTYPE_F32, 1, d2)};
    avf_tensor out[2];
    assert_avf_ok(avf_model_run(m, &go, 3, NULL, in, 2, NULL, out));
    assert_avf_ok(avf_stream_synchronize(s));
    int64_t it[4];
    fetch(&out[0], r);
    fetch(&out[1], it);
    assert_true(r[0] == 10 + (use_add ? 4 : 0) && r[1] == 20 + (use_add ? 4 : 0));
    assert_int_equal(out[1].shape[0], 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(it[i], i);
    avf_tensor_release(&out[0], s);
    avf_tensor_release(&out[1], s);
    avf_model_free(m);
    /* Silero VAD on the GPU against the CPU, when present and runnable */
    m = NULL;
    if (avf_model_load(AVF_SOURCE_DIR "/models/silero_vad.onnx", NULL, &m) == AVF_OK) {
        enum { S = 512 };
        static float xs[S], st[256];
        for (int i = 0; i < S; i++)
            xs[i] = (float)(0.5 * sin(0.02 * i + 0.0005 * i * i));
        int64_t sr = 16000;
        static const int64_t dx[] = {1, S}, ds[] = {2, 1, 128};
        avf_tensor vin[3] = {borrow(xs, AVF_DTYPE_F32, 2, dx), borrow(st, AVF_DTYPE_F32, 3, ds),
                             borrow(&sr, AVF_DTYPE_I64, 0, NULL)};
        avf_tensor co[2], g[2];
        avf_run_options o = cpu_opts();
        if (avf_model_run(m, &o, 3, NULL, vin, 2, NULL, co) == AVF_OK) {
            /* default placement, then every node on the GPU */
            for (int dev_only = 0; dev_only < 2; dev_only++) {
                avf_run_options gd = go;
                gd.device_only = dev_only;
                assert_avf_ok(avf_model_run(m, &gd, 3, NULL, vin, 2, NULL, g));
                assert_avf_ok(avf_stream_synchronize(s));
                float pg = 0;
                fetch(&g[0], &pg);
                float pc = *(float *)co[0].data;
                print_message("silero_vad (device_only=%d): cpu %.6f gpu %.6f\n", dev_only, pc, pg);
                assert_true(fabsf(pg - pc) <= 1e-3f);
                for (int i = 0; i < 2; i++)
                    avf_tensor_release(&g[i], s);
            }
            for (int i = 0; i < 2; i++)
                avf_tensor_release(&co[i], NULL);
        }
        avf_model_free(m);
    }
    /* PaddleOCR det/rec/cls on the GPU (f32, TF32 off) against the CPU */
    static const struct {
        const char *file;
        int64_t shape[4];
    } ocr[] = {{"ppocr_v4_det.onnx", {1, 3, 96, 128}},
               {"ppocr_v4_rec.onnx", {2, 3, 48, 320}},
               {"ppocr_mobile_v2_cls.onnx", {4, 3, 48, 192}}};
    for (size_t k = 0; k < sizeof ocr / sizeof ocr[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/models/%s", AVF_SOURCE_DIR, ocr[k].file);
        if (avf_model_load(path, NULL, &m) != AVF_OK)
            continue;
        int64_t nin = ocr[k].shape[0] * ocr[k].shape[1] * ocr[k].shape[2] * ocr[k].shape[3];
        float *img = malloc((size_t)nin * sizeof *img);
        assert_non_null(img);
        uint64_t seed = 0x9e3779b97f4a7c15ull + k;
        for (int64_t i = 0; i < nin; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            img[i] = (float)((seed >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
        }
        avf_tensor xin = borrow(img, AVF_DTYPE_F32, 4, ocr[k].shape), co, g;
        avf_run_options o = cpu_opts();
        assert_avf_ok(avf_model_run(m, &o, 1, NULL, &xin, 1, NULL, &co));
        assert_avf_ok(avf_model_run(m, &go, 1, NULL, &xin, 1, NULL, &g));
        assert_avf_ok(avf_stream_synchronize(s));
        int64_t on = avf_tensor_numel(&co);
        assert_int_equal(on, avf_tensor_numel(&g));
        float *gh = malloc((size_t)on * sizeof *gh);
        assert_non_null(gh);
        fetch(&g, gh);
        double num = 0, den = 0;
        for (int64_t i = 0; i < on; i++) {
            double d = (double)gh[i] - ((float *)co.data)[i];
            num += d * d;
            den += (double)((float *)co.data)[i] * ((float *)co.data)[i];
        }
        double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        print_message("%s: gpu vs cpu relative error %.3g over %lld values\n", ocr[k].file, rel,
                      (long long)on);
        assert_true(rel <= 1e-3);
        free(gh);
        free(img);
        avf_tensor_release(&co, NULL);
        avf_tensor_release(&g, s);
        avf_model_free(m);
    }
    assert_avf_ok(avf_stream_synchronize(s));
    assert_avf_ok(avf_pool_release_stream(gp, s));
    avf_stream_free(s);
    avf_pool_free_all(gp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_relu_chain),  cmocka_unit_test(if_branches),
        cmocka_unit_test(loop_scan),       cmocka_unit_test(loop_carried),
        cmocka_unit_test(value_lifetimes), cmocka_unit_test(concurrent_runs),
        cmocka_unit_test(run_errors),      cmocka_unit_test(unsupported_op),
        cmocka_unit_test(silero_vad),      cmocka_unit_test(gpu_matches_cpu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
