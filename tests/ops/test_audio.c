/* Audio kernels (ops/audio.h): mixdown and normalization against exact
 * double references, resampling against the analytic sine, loudness
 * against the closed form for sines; every CUDA kernel against the CPU one
 * on the same inputs. (Comparisons with libsoxr and libebur128 are in
 * tests/media/test_audio_kernels.c.) */
#include <math.h>
#include <stdlib.h>

#include "op_test_util.h"
#include "ops/audio.h"

static void fill_sines(float *x, int64_t rows, int64_t T, int rate, uint64_t *seed) {
    for (int64_t r = 0; r < rows; r++) {
        double f = avf_test_rand(seed, 50.0, rate * 0.3), a = avf_test_rand(seed, 0.05, 0.9);
        for (int64_t t = 0; t < T; t++)
            x[r * T + t] = (float)(a * sin(2.0 * M_PI * f * (double)t / rate) +
                                   0.01 * avf_test_rand(seed, -1, 1));
    }
}

/* ---------------------------------------------------------------- mixdown */

static void run_mixdown(avf_op_ctx *ctx, const avf_mixdown_params *p, const int64_t *xd,
                        const float *x, float *y) {
    avf_tensor tx, ty;
    int64_t yd[3];
    assert_avf_ok(avf_mixdown_shape(p, 3, xd, yd));
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 3, yd, NULL);
    assert_avf_ok(avf_op_mixdown(ctx, p, &tx, &ty));
    avf_test_read(ctx, &ty, y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
}

static void mixdown_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    uint64_t seed = 11;
    int64_t xd[3] = {3, 5, 1001};
    int64_t n = xd[0] * xd[1] * xd[2], m = xd[0] * xd[2];
    float *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y), *yc = malloc(m * sizeof *y);
    avf_test_fill_f32(x, n, &seed, -1, 1);
    for (int weighted = 0; weighted < 2; weighted++) {
        avf_mixdown_params p = {0};
        if (weighted) {
            p.n_weights = 5;
            for (int c = 0; c < 5; c++)
                p.weights[c] = (float)(0.1 * (c + 1));
        }
        run_mixdown(&e.cpu_ctx, &p, xd, x, y);
        double *want = malloc(m * sizeof *want);
        for (int64_t b = 0; b < xd[0]; b++)
            for (int64_t t = 0; t < xd[2]; t++) {
                double acc = 0;
                for (int64_t c = 0; c < 5; c++)
                    acc += (weighted ? p.weights[c] : 0.2f) * (double)x[(b * 5 + c) * xd[2] + t];
                want[b * xd[2] + t] = acc;
            }
        assert_rel_err_below(avf_test_rel_err(y, want, m), 1e-6);
        free(want);
        if (on_gpu) {
            run_mixdown(&e.gpu_ctx, &p, xd, x, yc);
            assert_rel_err_below(avf_test_rel_err_f32(yc, y, m), 1e-6);
        }
    }
    /* bad shapes and weights */
    avf_mixdown_params p = {.n_weights = 3};
    int64_t od[3];
    assert_avf_fails(avf_mixdown_shape(&p, 3, xd, od), AVF_ERR_INVALID_ARG);
    p.n_weights = 0;
    int64_t bad[3] = {1, 65, 10};
    assert_avf_fails(avf_mixdown_shape(&p, 3, bad, od), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_mixdown_shape(&p, 2, xd, od), AVF_ERR_INVALID_ARG);
    free(x);
    free(y);
    free(yc);
    avf_test_env_free(&e);
}

static void test_mixdown(void **state) { (void)state; mixdown_case(0); }
static void test_mixdown_cuda(void **state) { (void)state; mixdown_case(1); }

/* ---------------------------------------------------------------- normalize */

static void run_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, const int64_t *xd,
                          const float *x, float *y) {
    avf_tensor tx, ty;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 3, xd, NULL);
    assert_avf_ok(avf_op_normalize(ctx, p, &tx, &ty));
    avf_test_read(ctx, &ty, y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
}

static void normalize_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    uint64_t seed = 12;
    int64_t xd[3] = {4, 2, 70001};
    int64_t per = xd[1] * xd[2], n = xd[0] * per;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *yc = malloc(n * sizeof *y);
    avf_test_fill_f32(x, n, &seed, -0.3, 0.3);
    for (int64_t i = 0; i < per; i++) /* clip 2 is silent: stays as is */
        x[2 * per + i] = 0.0f;
    for (int kind = 0; kind < 2; kind++) {
        avf_normalize_params p = {(avf_normalize_kind)kind, kind ? -20.0 : -1.0};
        run_normalize(&e.cpu_ctx, &p, xd, x, y);
        double target = pow(10.0, p.target_db / 20.0);
        for (int64_t b = 0; b < xd[0]; b++) {
            double pk = 0, sq = 0;
            for (int64_t i = 0; i < per; i++) {
                pk = fmax(pk, fabs((double)y[b * per + i]));
                sq += (double)y[b * per + i] * y[b * per + i];
            }
            double level = kind ? sqrt(sq / (double)per) : pk;
            if (b == 2)
                assert_true(level == 0.0);
            else
                assert_true(fabs(level / target - 1.0) < 1e-5);
        }
        if (on_gpu) {
            run_normalize(&e.gpu_ctx, &p, xd, x, yc);
            assert_rel_err_below(avf_test_rel_err_f32(yc, y, n), 1e-6);
        }
    }
    avf_normalize_params bad = {AVF_NORMALIZE_PEAK, 100.0};
    avf_tensor tx;
    avf_test_tensor(&e.cpu_ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    assert_avf_fails(avf_op_normalize(&e.cpu_ctx, &bad, &tx, &tx), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tx, NULL);
    free(x);
    free(y);
    free(yc);
    avf_test_env_free(&e);
}

static void test_normalize(void **state) { (void)state; normalize_case(0); }
static void test_normalize_cuda(void **state) { (void)state; normalize_case(1); }

/* ---------------------------------------------------------------- resample */

/* Resample x [rows, T] with default quality on ctx; y gets [rows, T_out]. */
static int64_t run_resample(avf_op_ctx *ctx, int in_rate, int out_rate, int64_t rows, int64_t T,
                            const float *x, float **y) {
    avf_resample_params p = {in_rate, out_rate, 0, 0, 0};
    avf_resample_filter f;
    assert_avf_ok(avf_resample_filter_make(&p, &f));
    avf_tensor bank, tx, ty;
    int64_t xd[3] = {rows, 1, T}, yd[3];
    assert_avf_ok(avf_resample_shape(&f, 3, xd, yd));
    assert_avf_ok(avf_resample_filter_upload(ctx, &f, &bank));
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 3, yd, NULL);
    assert_avf_ok(avf_op_resample(ctx, &f, &bank, &tx, &ty));
    *y = malloc((size_t)(rows * yd[2]) * sizeof **y);
    avf_test_read(ctx, &ty, *y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    avf_tensor_release(&bank, ctx->stream);
    avf_resample_filter_free(&f);
    return yd[2];
}

static void resample_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    static const int rates[][2] = {{44100, 16000}, {48000, 16000}, {16000, 48000},
                                   {22050, 44100}, {8000, 11025},  {44100, 48000}};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int ir = rates[i][0], orr = rates[i][1];
        int64_t T = ir / 4, rows = 3;
        float *x = malloc((size_t)(rows * T) * sizeof *x), *y, *yc;
        double fr[3] = {440.0, 0.3 * fmin(ir, orr), 0.42 * fmin(ir, orr)};
        for (int64_t r = 0; r < rows; r++)
            for (int64_t t = 0; t < T; t++)
                x[r * T + t] = (float)(0.5 * sin(2 * M_PI * fr[r] * t / ir));
        int64_t To = run_resample(&e.cpu_ctx, ir, orr, rows, T, x, &y);
        assert_int_equal(To, (T * orr + ir - 1) / ir);
        /* against the analytic sine away from the edges */
        int64_t edge = To / 8;
        for (int64_t r = 0; r < rows; r++) {
            double sig = 0, err = 0;
            for (int64_t n = edge; n < To - edge; n++) {
                double want = 0.5 * sin(2 * M_PI * fr[r] * n / orr);
                sig += want * want;
                err += (y[r * To + n] - want) * (y[r * To + n] - want);
            }
            double snr = 10 * log10(sig / err);
            print_message("resample %d -> %d, %.0f Hz: SNR %.1f dB vs the analytic sine\n", ir, orr,
                          fr[r], snr);
            assert_true(snr > 90.0);
        }
        if (on_gpu) {
            run_resample(&e.gpu_ctx, ir, orr, rows, T, x, &yc);
            assert_rel_err_below(avf_test_rel_err_f32(yc, y, rows * To), 1e-5);
            free(yc);
        }
        free(x);
        free(y);
    }
    avf_resample_params bad = {500, 16000, 0, 0, 0};
    avf_resample_filter f;
    assert_avf_fails(avf_resample_filter_make(&bad, &f), AVF_ERR_INVALID_ARG);
    bad.in_rate = 16000;
    bad.taps = 7;
    assert_avf_fails(avf_resample_filter_make(&bad, &f), AVF_ERR_INVALID_ARG);
    avf_resample_params odd = {384000, 383999, 0, 0, 0};
    assert_avf_fails(avf_resample_filter_make(&odd, &f), AVF_ERR_UNSUPPORTED);
    avf_test_env_free(&e);
}

static void test_resample(void **state) { (void)state; resample_case(0); }
static void test_resample_cuda(void **state) { (void)state; resample_case(1); }

/* ---------------------------------------------------------------- loudness */

static void run_loudness(avf_op_ctx *ctx, const avf_loudness_params *p, const int64_t *xd,
                         const float *x, float *y) {
    avf_tensor tx, ty;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 1, xd, NULL);
    assert_avf_ok(avf_op_loudness(ctx, p, &tx, &ty));
    avf_test_read(ctx, &ty, y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
}

static void loudness_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    /* a 997 Hz mono sine of amplitude A reads 20 log10(A) - 3.01 LUFS (the
     * K-weighting's gain there cancels the -0.691 offset) */
    int rate = 48000;
    int64_t xd[3] = {3, 1, rate * 5};
    float *x = malloc((size_t)(xd[0] * xd[2]) * sizeof *x), y[3], yc[3];
    double amp[3] = {1.0, 0.1, 1e-5};
    for (int b = 0; b < 3; b++)
        for (int64_t t = 0; t < xd[2]; t++)
            x[b * xd[2] + t] = (float)(amp[b] * sin(2 * M_PI * 997.0 * t / rate));
    avf_loudness_params p = {.sample_rate = rate};
    run_loudness(&e.cpu_ctx, &p, xd, x, y);
    for (int b = 0; b < 2; b++) {
        print_message("997 Hz sine, amplitude %g: %.3f LUFS\n", amp[b], y[b]);
        assert_true(fabs(y[b] - (20 * log10(amp[b]) - 3.01)) < 0.02);
    }
    assert_true(isinf(y[2]) && y[2] < 0); /* -100 dBFS: below the absolute gate */
    if (on_gpu) {
        run_loudness(&e.gpu_ctx, &p, xd, x, yc);
        for (int b = 0; b < 3; b++)
            assert_true(yc[b] == y[b] || fabs(yc[b] - y[b]) < 1e-4);
    }
    free(x);
    /* random multichannel clips at odd rates, CPU vs CUDA; a short clip */
    uint64_t seed = 13;
    static const int rr[] = {44100, 22050, 96000};
    for (int i = 0; i < 3; i++) {
        int64_t d[3] = {2, i == 2 ? 6 : 2, (int64_t)rr[i] * 3 + 77};
        float *z = malloc((size_t)(d[0] * d[1] * d[2]) * sizeof *z), l[2], lc[2];
        fill_sines(z, d[0] * d[1], d[2], rr[i], &seed);
        avf_loudness_params q = {.sample_rate = rr[i]};
        run_loudness(&e.cpu_ctx, &q, d, z, l);
        assert_true(isfinite(l[0]) && isfinite(l[1]));
        if (on_gpu) {
            run_loudness(&e.gpu_ctx, &q, d, z, lc);
            assert_true(fabs(lc[0] - l[0]) < 1e-4 && fabs(lc[1] - l[1]) < 1e-4);
        }
        free(z);
    }
    int64_t sd[3] = {1, 1, rate / 4};
    float s[12000] = {0.5f}, ys;
    run_loudness(on_gpu ? &e.gpu_ctx : &e.cpu_ctx, &p, sd, s, &ys);
    assert_true(isinf(ys) && ys < 0); /* shorter than one 400 ms block */
    avf_loudness_params bad = {.sample_rate = 4000};
    avf_tensor tx, ty;
    avf_test_tensor(&e.cpu_ctx, &tx, AVF_DTYPE_F32, 3, sd, s);
    avf_test_tensor(&e.cpu_ctx, &ty, AVF_DTYPE_F32, 1, sd, NULL);
    assert_avf_fails(avf_op_loudness(&e.cpu_ctx, &bad, &tx, &ty), AVF_ERR_INVALID_ARG);
    bad.sample_rate = rate;
    bad.n_weights = 2;
    assert_avf_fails(avf_op_loudness(&e.cpu_ctx, &bad, &tx, &ty), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_test_env_free(&e);
}

static void test_loudness(void **state) { (void)state; loudness_case(0); }
static void test_loudness_cuda(void **state) { (void)state; loudness_case(1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixdown),   cmocka_unit_test(test_mixdown_cuda),
        cmocka_unit_test(test_normalize), cmocka_unit_test(test_normalize_cuda),
        cmocka_unit_test(test_resample),  cmocka_unit_test(test_resample_cuda),
        cmocka_unit_test(test_loudness),  cmocka_unit_test(test_loudness_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
