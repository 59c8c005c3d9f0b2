/* Audio kernels against the reference libraries: resampling vs libsoxr
 * (VHQ) and the analytic signal on a sine sweep; integrated loudness vs
 * libebur128 on noise, sines, a gated loud/quiet clip, multichannel clips
 * and an espeak-ng sentence (made at test time; skipped without espeak-ng).
 * CUDA results are compared with the CPU ones when a GPU is present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ebur128.h>
#include <soxr.h>

#include "avflow/audio.h"
#include "op_test_util.h"
#include "ops/audio.h"

/* ---------------------------------------------------------------- resample */

/* A linear sweep from f0 to f1 Hz over T samples: phase and value at time t
 * seconds (continuous, so the output can be compared to it directly). */
static double sweep_at(double t, double f0, double f1, double dur) {
    return 0.5 * sin(2 * M_PI * (f0 * t + 0.5 * (f1 - f0) / dur * t * t));
}

static float *run_resample(avf_op_ctx *ctx, int ir, int orr, const float *x, int64_t T,
                           int64_t *T_out) {
    avf_resample_params p = {ir, orr, 0, 0, 0};
    avf_resample_filter f;
    assert_avf_ok(avf_resample_filter_make(&p, &f));
    int64_t xd[3] = {1, 1, T}, yd[3];
    assert_avf_ok(avf_resample_shape(&f, 3, xd, yd));
    avf_tensor bank, tx, ty;
    assert_avf_ok(avf_resample_filter_upload(ctx, &f, &bank));
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 3, yd, NULL);
    assert_avf_ok(avf_op_resample(ctx, &f, &bank, &tx, &ty));
    float *y = malloc((size_t)yd[2] * sizeof *y);
    avf_test_read(ctx, &ty, y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    avf_tensor_release(&bank, ctx->stream);
    avf_resample_filter_free(&f);
    *T_out = yd[2];
    return y;
}

static double snr_range(const float *got, const double *want_d, const float *want_f, int64_t a,
                        int64_t b) {
    double s = 0, e = 0;
    for (int64_t n = a; n < b; n++) {
        double w = want_d ? want_d[n] : want_f[n];
        s += w * w;
        e += (got[n] - w) * (got[n] - w);
    }
    return 10 * log10(s / e);
}

static void resample_vs_soxr(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    static const int pairs[][2] = {{44100, 16000}, {48000, 16000}, {16000, 48000}, {22050, 44100}};
    for (int i = 0; i < 4; i++) {
        int ir = pairs[i][0], orr = pairs[i][1];
        double dur = 3.0, f0 = 20.0, f1 = 0.9 * 0.5 * fmin(ir, orr); /* up to 90 % of Nyquist */
        int64_t T = (int64_t)(dur * ir);
        float *x = malloc((size_t)T * sizeof *x);
        for (int64_t t = 0; t < T; t++)
            x[t] = (float)sweep_at((double)t / ir, f0, f1, dur);
        int64_t To;
        float *y = run_resample(&e.cpu_ctx, ir, orr, x, T, &To);
        /* libsoxr, very high quality, same input */
        size_t olen = (size_t)To + 16, odone = 0;
        float *ys = calloc(olen, sizeof *ys);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
        soxr_error_t err = soxr_oneshot(ir, orr, 1, x, (size_t)T, NULL, ys, olen, &odone, NULL,
                                        &q, NULL);
        assert_null(err);
        double *ya = malloc((size_t)To * sizeof *ya);
        for (int64_t n = 0; n < To; n++)
            ya[n] = sweep_at((double)n / orr, f0, f1, dur);
        /* skip the edges, where both filters see the clip's zero padding */
        int64_t a = orr / 10, b = (int64_t)odone < To ? (int64_t)odone - orr / 10 : To - orr / 10;
        double vs_soxr = snr_range(y, NULL, ys, a, b), vs_sine = snr_range(y, ya, NULL, a, b);
        double soxr_vs_sine = snr_range(ys, ya, NULL, a, b);
        print_message("resample %5d -> %5d: SNR %.1f dB vs soxr VHQ, %.1f dB vs the analytic "
                      "sweep (soxr itself: %.1f dB); %lld vs %zu samples\n",
                      ir, orr, vs_soxr, vs_sine, soxr_vs_sine, (long long)To, odone);
        assert_true(vs_soxr >= 60.0);
        assert_true(vs_sine >= 60.0);
        if (on_gpu) {
            int64_t Tc;
            float *yc = run_resample(&e.gpu_ctx, ir, orr, x, T, &Tc);
            assert_int_equal(Tc, To);
            assert_rel_err_below(avf_test_rel_err_f32(yc, y, To), 1e-5);
            free(yc);
        }
        free(x);
        free(y);
        free(ys);
        free(ya);
    }
    avf_test_env_free(&e);
}

static void test_resample_soxr(void **state) { (void)state; resample_vs_soxr(0); }
static void test_resample_soxr_cuda(void **state) { (void)state; resample_vs_soxr(1); }

/* ---------------------------------------------------------------- loudness */

static double ebur128_of(const float *planar, int C, int64_t T, int rate) {
    ebur128_state *st = ebur128_init((unsigned)C, (unsigned long)rate, EBUR128_MODE_I);
    assert_non_null(st);
    float *il = malloc((size_t)(C * T) * sizeof *il);
    for (int64_t t = 0; t < T; t++)
        for (int c = 0; c < C; c++)
            il[t * C + c] = planar[c * T + t];
    assert_int_equal(ebur128_add_frames_float(st, il, (size_t)T), EBUR128_SUCCESS);
    double l = 0;
    assert_int_equal(ebur128_loudness_global(st, &l), EBUR128_SUCCESS);
    ebur128_destroy(&st);
    free(il);
    return l;
}

static float run_loudness(avf_op_ctx *ctx, const float *x, int C, int64_t T, int rate) {
    avf_loudness_params p = {.sample_rate = rate};
    int64_t xd[3] = {1, C, T}, yd[1] = {1};
    avf_tensor tx, ty;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 3, xd, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 1, yd, NULL);
    assert_avf_ok(avf_op_loudness(ctx, &p, &tx, &ty));
    float y;
    avf_test_read(ctx, &ty, &y);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    return y;
}

static double g_worst_lu;

static void check_loudness(avf_test_env *e, int on_gpu, const char *what, const float *x, int C,
                           int64_t T, int rate) {
    double ref = ebur128_of(x, C, T, rate);
    float got = run_loudness(&e->cpu_ctx, x, C, T, rate);
    double d = fabs(got - ref);
    print_message("loudness %-28s %2d ch %6d Hz: %8.3f LUFS, libebur128 %8.3f (diff %.4f LU)\n",
                  what, C, rate, got, ref, d);
    if (isinf(ref))
        assert_true(isinf(got) && got < 0);
    else
        assert_true(d < 0.1);
    if (isfinite(ref) && d > g_worst_lu)
        g_worst_lu = d;
    if (on_gpu) {
        float gc = run_loudness(&e->gpu_ctx, x, C, T, rate);
        assert_true(gc == got || fabs(gc - got) < 1e-3);
    }
}

static void loudness_vs_ebur128(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    if (on_gpu && !e.gpu) {
        avf_test_env_free(&e);
        skip();
    }
    uint64_t seed = 77;
    static const int rates[] = {48000, 44100, 16000, 8000, 96000};
    for (int r = 0; r < 5; r++) {
        int rate = rates[r];
        int64_t T = (int64_t)rate * 6 + 1234;
        float *x = malloc((size_t)(6 * T) * sizeof *x);
        avf_test_fill_f32(x, 2 * T, &seed, -0.5, 0.5);
        check_loudness(&e, on_gpu, "white noise", x, 2, T, rate);
        for (int64_t t = 0; t < T; t++)
            x[t] = (float)(0.3 * sin(2 * M_PI * 1000.0 * t / rate));
        check_loudness(&e, on_gpu, "1 kHz sine", x, 1, T, rate);
        for (int64_t t = 0; t < T; t++)
            x[t] = (float)(0.5 * sin(2 * M_PI * 60.0 * t / rate) +
                           0.05 * sin(2 * M_PI * 0.3 * rate * t / rate));
        check_loudness(&e, on_gpu, "60 Hz + 0.3 fs sines", x, 1, T, rate);
        /* loud then quiet: the relative gate drops the quiet part */
        for (int64_t t = 0; t < T; t++)
            x[t] = (float)((t < T / 3 ? 0.5 : 0.01) * avf_test_rand(&seed, -1, 1));
        check_loudness(&e, on_gpu, "loud/quiet noise (gating)", x, 1, T, rate);
        if (rate == 48000 || rate == 44100) {
            avf_test_fill_f32(x, 6 * T, &seed, -0.2, 0.2);
            for (int64_t t = 0; t < T; t++)
                x[3 * T + t] *= 3.0f; /* the LFE (5.1) or a surround (5.0) */
            check_loudness(&e, on_gpu, "5.0 noise", x, 5, T, rate);
            check_loudness(&e, on_gpu, "5.1 noise", x, 6, T, rate);
            check_loudness(&e, on_gpu, "quad noise", x, 4, T, rate);
        }
        for (int64_t t = 0; t < T; t++)
            x[t] = 1e-5f * (float)avf_test_rand(&seed, -1, 1);
        check_loudness(&e, on_gpu, "noise at -100 dBFS", x, 1, T, rate);
        free(x);
    }
    /* speech */
    if (system("espeak-ng --version > /dev/null 2>&1") == 0) {
        char dir[] = "/tmp/avf_loud_XXXXXX", path[64], cmd[256];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/s.wav", dir);
        snprintf(cmd, sizeof cmd,
                 "espeak-ng -w '%s' 'The quick brown fox jumps over the lazy dog, "
                 "and the loudness meter gates the pauses between the words.'",
                 path);
        assert_int_equal(system(cmd), 0);
        avf_audio a;
        assert_avf_ok(avf_audio_decode_file(path, &a));
        check_loudness(&e, on_gpu, "espeak-ng sentence", a.data, a.channels, a.frames,
                       a.sample_rate);
        avf_audio_free(&a);
        unlink(path);
        rmdir(dir);
    } else {
        print_message("no espeak-ng: the speech case is left out\n");
    }
    print_message("loudness: largest difference from libebur128 %.4f LU\n", g_worst_lu);
    avf_test_env_free(&e);
}

static void test_loudness_ebur128(void **state) { (void)state; loudness_vs_ebur128(0); }
static void test_loudness_ebur128_cuda(void **state) { (void)state; loudness_vs_ebur128(1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resample_soxr),
        cmocka_unit_test(test_resample_soxr_cuda),
        cmocka_unit_test(test_loudness_ebur128),
        cmocka_unit_test(test_loudness_ebur128_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
