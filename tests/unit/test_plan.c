/* Plans on a GPU: a model run again and again with one shape signature
 * warms up, is captured as a CUDA graph, and replays it; every run's results
 * must equal the CPU's on that run's own inputs (fresh random data each time,
 * so a replay that read stale inputs or wrote stale outputs fails), from one
 * thread and from several at once. Skipped without a GPU or without the
 * fetched models (scripts/fetch-models.sh). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "avflow/npy.h"
#include "test_util.h"

static avf_device *cpu, *gpu;
static avf_pool *cpu_pool, *gpu_pool;

static int setup(void **state) {
    (void)state;
    if (avf_device_get(AVF_DEVICE_CPU, 0, &cpu) != AVF_OK ||
        avf_pool_create(cpu, NULL, &cpu_pool) != AVF_OK)
        return -1;
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) == AVF_OK && n > 0) {
        if (avf_device_get(AVF_DEVICE_CUDA, 0, &gpu) != AVF_OK ||
            avf_pool_create(gpu, NULL, &gpu_pool) != AVF_OK)
            return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    avf_pool_free_all(gpu_pool);
    avf_pool_free_all(cpu_pool);
    return 0;
}

static void need_gpu(void) {
    if (!gpu) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
}

typedef struct model_case {
    const char *file;
    int n_in;
    avf_dtype dtype[3];
    int ndim[3];
    int64_t shape[3][4];
    int expect_graphed; /* the model has no data-dependent shapes */
} model_case;

static const model_case cases[] = {
    {"ppocr_v4_rec.onnx", 1, {AVF_DTYPE_F32}, {4}, {{2, 3, 48, 320}}, 1},
    {"ppocr_v4_det.onnx", 1, {AVF_DTYPE_F32}, {4}, {{1, 3, 96, 128}}, 1},
    {"ppocr_mobile_v2_cls.onnx", 1, {AVF_DTYPE_F32}, {4}, {{4, 3, 48, 192}}, 1},
    /* input, state, sr (a host-given scalar: part of the signature) */
    {"silero_vad.onnx", 3, {AVF_DTYPE_F32, AVF_DTYPE_F32, AVF_DTYPE_I64}, {2, 3, 0},
     {{2, 512}, {2, 2, 128}, {0}}, 1},
};

static avf_model *load(const model_case *c) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/%s", AVF_SOURCE_DIR, c->file);
    avf_model *m = NULL;
    if (avf_model_load(path, NULL, &m) != AVF_OK) {
        print_message("[  SKIP    ] %s not fetched\n", c->file);
        return NULL;
    }
    return m;
}

/* Host inputs of one run: fresh values from `seed`. */
typedef struct inputs {
    float *f[3];
    int64_t sr;
    avf_tensor t[3];
} inputs;

static void make_inputs(const model_case *c, uint64_t seed, inputs *in) {
    for (int i = 0; i < c->n_in; i++) {
        in->f[i] = NULL;
        if (c->dtype[i] == AVF_DTYPE_I64) {
            in->sr = 16000;
            assert_avf_ok(avf_tensor_init_borrowed(&in->t[i], &in->sr, AVF_DTYPE_I64, 0, NULL, cpu));
            continue;
        }
        int64_t n = 1;
        for (int d = 0; d < c->ndim[i]; d++)
            n *= c->shape[i][d];
        in->f[i] = malloc((size_t)n * sizeof(float));
        assert_non_null(in->f[i]);
        for (int64_t j = 0; j < n; j++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            double u = (double)(seed >> 11) * (1.0 / 9007199254740992.0);
            in->f[i][j] = (float)(i == 0 ? 2 * u - 1 : 0.2 * u - 0.1);
        }
        assert_avf_ok(avf_tensor_init_borrowed(&in->t[i], in->f[i], AVF_DTYPE_F32, c->ndim[i],
                                               c->shape[i], cpu));
    }
}

static void free_inputs(const model_case *c, inputs *in) {
    for (int i = 0; i < c->n_in; i++)
        free(in->f[i]);
}

/* Relative L2 error of the first output of a GPU run against a CPU run. */
static double last_max_abs; /* of the last rel_err call */

static double rel_err(const avf_tensor *g, const avf_tensor *c) {
    int64_t n = avf_tensor_numel(c);
    assert_int_equal(n, avf_tensor_numel(g));
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    assert_non_null(h);
    avf_test_download(gpu, h, g->data, (size_t)n * sizeof *h);
    double num = 0, den = 0;
    last_max_abs = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)h[i] - ((const float *)c->data)[i];
        last_max_abs = fabs(d) > last_max_abs ? fabs(d) : last_max_abs;
        num += d * d;
        den += (double)((const float *)c->data)[i] * ((const float *)c->data)[i];
    }
    free(h);
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* One GPU run against one CPU run, on the same fresh inputs. */
static void run_and_compare_opt(avf_model *m, const model_case *c, avf_stream *s, uint64_t seed,
                                int fp16, double *err) {
    inputs in;
    make_inputs(c, seed, &in);
    avf_run_options co = {.device = cpu, .pool = cpu_pool};
    avf_run_options go = {.device = gpu, .stream = s, .pool = gpu_pool, .fp16 = fp16};
    int n_out = avf_model_num_outputs(m);
    avf_tensor cout[4], gout[4];
    assert_true(n_out <= 4);
    assert_avf_ok(avf_model_run(m, &co, c->n_in, NULL, in.t, n_out, NULL, cout));
    assert_avf_ok(avf_model_run(m, &go, c->n_in, NULL, in.t, n_out, NULL, gout));
    assert_avf_ok(avf_stream_synchronize(s));
    *err = 0;
    for (int k = 0; k < n_out; k++) {
        if (cout[k].dtype == AVF_DTYPE_F32) {
            double e = rel_err(&gout[k], &cout[k]);
            /* fp16: an output that is ~0 everywhere (the detector's map on
             * noise, ~1e-9) has no meaningful relative error; it counts as
             * matching when no value is off by more than 1e-3 */
            if (fp16 && last_max_abs <= 1e-3)
                e = 0;
            *err = e > *err ? e : *err;
        }
        avf_tensor_release(&cout[k], NULL);
        avf_tensor_release(&gout[k], s);
    }
    free_inputs(c, &in);
}

static void run_and_compare(avf_model *m, const model_case *c, avf_stream *s, uint64_t seed,
                            double *err) {
    run_and_compare_opt(m, c, s, seed, 0, err);
}

static void replay_matches_cpu(void **state) {
    (void)state;
    need_gpu();
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(gpu, &s));
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const model_case *c = &cases[k];
        avf_model *m = load(c);
        if (!m)
            continue;
        /* warm-up, capture, then replays */
        for (int run = 0; run < 5; run++) {
            double e = 0;
            run_and_compare(m, c, s, 0x1234567ull * (uint64_t)(run + 1) + k, &e);
            print_message("%s run %d: gpu vs cpu rel err %.3g\n", c->file, run, e);
            assert_true(e <= 1e-3);
        }
        avf_model_plan_stats ps;
        assert_avf_ok(avf_model_get_plan_stats(m, gpu, &ps));
        print_message("%s: %d plan(s), %d graphed, %d eager-only, %llu replays, arena %.2f MiB "
                      "(peak live %.2f MiB) vs %.2f MiB of intermediates\n",
                      c->file, ps.plans, ps.graphed, ps.eager_only,
                      (unsigned long long)ps.replays, ps.arena_bytes / 1048576.0,
                      ps.arena_peak_bytes / 1048576.0, ps.intermediate_bytes / 1048576.0);
        assert_int_equal(ps.plans, 1);
        if (c->expect_graphed) {
            assert_int_equal(ps.graphed, 1);
            assert_true(ps.replays >= 4); /* the captured run launches too */
            assert_true(ps.arena_peak_bytes <= ps.intermediate_bytes);
        }
        /* fp16: a plan of its own; f16 rounding, so only a coarse bound here
         * (golden.py --fp16 checks the decisions on real inputs) */
        for (int run = 0; run < 3; run++) {
            double e = 0;
            run_and_compare_opt(m, c, s, 0x7654321ull * (uint64_t)(run + 1) + k, 1, &e);
            print_message("%s fp16 run %d: gpu vs cpu rel err %.3g\n", c->file, run, e);
            assert_true(e <= 0.1);
        }
        assert_avf_ok(avf_model_get_plan_stats(m, gpu, &ps));
        assert_int_equal(ps.plans, 2);
        if (c->expect_graphed)
            assert_int_equal(ps.graphed, 2);
        avf_model_free(m);
    }
    assert_avf_ok(avf_pool_release_stream(gpu_pool, s));
    avf_stream_free(s);
}

/* disable_graphs runs interpret and make no plan. */
static void graphs_off(void **state) {
    (void)state;
    need_gpu();
    const model_case *c = &cases[2];
    avf_model *m = load(c);
    if (!m)
        skip();
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(gpu, &s));
    inputs in;
    make_inputs(c, 99, &in);
    avf_run_options go = {.device = gpu, .stream = s, .pool = gpu_pool, .disable_graphs = 1};
    for (int run = 0; run < 3; run++) {
        avf_tensor out;
        assert_avf_ok(avf_model_run(m, &go, 1, NULL, in.t, 1, NULL, &out));
        avf_tensor_release(&out, s);
    }
    avf_model_plan_stats ps;
    assert_avf_ok(avf_model_get_plan_stats(m, gpu, &ps));
    assert_int_equal(ps.plans, 0);
    free_inputs(c, &in);
    assert_avf_ok(avf_stream_synchronize(s));
    assert_avf_ok(avf_pool_release_stream(gpu_pool, s));
    avf_stream_free(s);
    avf_model_free(m);
}

typedef struct worker {
    avf_model *m;
    const model_case *c;
    int id;
    double worst;
} worker;

static void *work(void *p) {
    worker *w = p;
    avf_stream *s = NULL;
    if (avf_stream_create(gpu, &s) != AVF_OK)
        return NULL;
    w->worst = 0;
    for (int run = 0; run < 6; run++) {
        double e = 0;
        run_and_compare(w->m, w->c, s, 0xabcdefull * (uint64_t)(w->id * 16 + run + 1), &e);
        w->worst = e > w->worst ? e : w->worst;
    }
    (void)avf_pool_release_stream(gpu_pool, s);
    avf_stream_free(s);
    return NULL;
}

/* Threads on their own streams share the model's plans (one run per plan
 * instance at a time) and still get their own results. */
static void concurrent_replays(void **state) {
    (void)state;
    need_gpu();
    const model_case *c = &cases[2];
    avf_model *m = load(c);
    if (!m)
        skip();
    enum { T = 3 };
    pthread_t th[T];
    worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){m, c, i, 1.0};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < T; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < T; i++) {
        print_message("thread %d: worst rel err %.3g\n", i, w[i].worst);
        assert_true(w[i].worst <= 1e-3);
    }
    avf_model_plan_stats ps;
    assert_avf_ok(avf_model_get_plan_stats(m, gpu, &ps));
    print_message("%d plan instance(s), %d graphed, %llu replays\n", ps.plans, ps.graphed,
                  (unsigned long long)ps.replays);
    assert_true(ps.plans >= 1 && ps.plans <= T);
    assert_true(ps.graphed >= 1);
    avf_model_free(m);
}

/* Silero VAD over real speech (data/npy/silero_vad/<clip>/chunk_*.npy from
 * scripts/make-test-data.sh), statefully chunk by chunk, on the GPU in f32
 * and in fp16: the same speech decision (p >= 0.5) on every chunk whose f32
 * probability is not within 0.05 of the threshold (those are counted and
 * printed), and |p16 - p32| <= 0.1 everywhere. */
static void vad_fp16_decisions(void **state) {
    (void)state;
    need_gpu();
    const model_case *c = &cases[3];
    avf_model *m = load(c);
    if (!m)
        skip();
    static const char *const clips[] = {"en_fox", "en_numbers", "en_weather", "vad_mix"};
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(gpu, &s));
    int clips_run = 0;
    for (size_t k = 0; k < sizeof clips / sizeof clips[0]; k++) {
        char path[768];
        avf_tensor st0, sr;
        snprintf(path, sizeof path, "%s/data/npy/silero_vad/%s/state.npy", AVF_SOURCE_DIR,
                 clips[k]);
        if (avf_npy_read(path, cpu_pool, &st0) != AVF_OK)
            continue;
        snprintf(path, sizeof path, "%s/data/npy/silero_vad/%s/sr.npy", AVF_SOURCE_DIR, clips[k]);
        assert_avf_ok(avf_npy_read(path, cpu_pool, &sr));
        avf_tensor state_p[2] = {st0, st0}; /* f32, fp16: each its own state */
        int owned[2] = {0, 0};
        int chunks = 0, speech = 0, same = 0, clear_flips = 0;
        double worst = 0;
        for (int i = 0;; i++) {
            snprintf(path, sizeof path, "%s/data/npy/silero_vad/%s/chunk_%04d.npy",
                     AVF_SOURCE_DIR, clips[k], i);
            avf_tensor x;
            if (avf_npy_read(path, cpu_pool, &x) != AVF_OK)
                break;
            float p[2];
            for (int h = 0; h < 2; h++) {
                avf_run_options go = {.device = gpu, .stream = s, .pool = gpu_pool, .fp16 = h};
                avf_tensor in[3] = {x, state_p[h], sr}, out[2];
                assert_avf_ok(avf_model_run(m, &go, 3, NULL, in, 2, NULL, out));
                assert_avf_ok(avf_stream_synchronize(s));
                avf_test_download(gpu, &p[h], out[0].data, sizeof(float));
                /* the next state, back on the host like an application's */
                avf_tensor next;
                assert_avf_ok(avf_tensor_alloc(&next, cpu_pool, out[1].dtype, out[1].ndim,
                                               out[1].shape, NULL));
                avf_test_download(gpu, next.data, out[1].data, avf_tensor_nbytes(&out[1]));
                if (owned[h])
                    avf_tensor_release(&state_p[h], NULL);
                state_p[h] = next;
                owned[h] = 1;
                avf_tensor_release(&out[0], s);
                avf_tensor_release(&out[1], s);
            }
            chunks++;
            speech += p[0] >= 0.5f;
            int agree = (p[0] >= 0.5f) == (p[1] >= 0.5f);
            same += agree;
            /* a chunk whose f32 probability sits within f16's reach of the
             * threshold may flip; one clear of it never may */
            if (!agree && fabs(p[0] - 0.5) > 0.05)
                clear_flips++;
            double d = fabs((double)p[0] - p[1]);
            worst = d > worst ? d : worst;
            avf_tensor_release(&x, NULL);
        }
        print_message("%s: %d chunks, %d speech (f32), fp16 decisions same on %d (%d flips "
                      "with p32 farther than 0.05 from 0.5), max |dp| %.4f\n",
                      clips[k], chunks, speech, same, clear_flips, worst);
        assert_true(chunks > 0);
        assert_int_equal(clear_flips, 0);
        assert_true(worst <= 0.1);
        for (int h = 0; h < 2; h++)
            if (owned[h])
                avf_tensor_release(&state_p[h], NULL);
        avf_tensor_release(&st0, NULL);
        avf_tensor_release(&sr, NULL);
        clips_run++;
    }
    if (!clips_run)
        print_message("[  SKIP    ] no VAD clips (scripts/make-test-data.sh)\n");
    assert_avf_ok(avf_pool_release_stream(gpu_pool, s));
    avf_stream_free(s);
    avf_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replay_matches_cpu),
        cmocka_unit_test(graphs_off),
        cmocka_unit_test(concurrent_replays),
        cmocka_unit_test(vad_fp16_decisions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
