/* Kernel tests: STFT (complex, magnitude, power) against a naive double DFT,
 * iSTFT(STFT(x)) reconstruction, the mel filterbank against closed forms and
 * NumPy reference values, log-mel (dB, ln, Whisper, plain) against a double
 * pipeline, CUDA vs CPU for all of them, and parameter errors. */
#include <pthread.h>

#include "op_test_util.h"

#include "ops/spectral.h"
#include "test_spectral_ref.h"

static avf_test_env env;

static int setup(void **state) {
    (void)state;
    avf_test_env_init(&env);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    avf_spectral_release_caches();
    avf_test_env_free(&env);
    return 0;
}

static void need_gpu(void) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
}

/* ---- op runners (host in, host out) ---- */

static float *run_stft(const avf_op_ctx *ctx, const avf_stft_params *p, avf_stft_output kind,
                       int64_t batch, int64_t len, const float *x, int64_t *nout_elems) {
    int64_t xs[2] = {batch, len}, ys[4];
    int ny;
    assert_avf_ok(avf_stft_shape(p, kind, 2, xs, &ny, ys));
    avf_tensor tx, ty;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 2, xs, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, ny, ys, NULL);
    assert_avf_ok(avf_op_stft((avf_op_ctx *)ctx, p, kind, &tx, &ty));
    int64_t n = numel_of(ny, ys);
    float *out = malloc((size_t)n * sizeof *out);
    avf_test_read(ctx, &ty, out);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    *nout_elems = n;
    return out;
}

static float *run_istft(const avf_op_ctx *ctx, const avf_stft_params *p, int64_t length,
                        const int64_t *ss, const float *spec, int64_t *out_len) {
    int64_t ys[2];
    int ny;
    assert_avf_ok(avf_istft_shape(p, length, 4, ss, &ny, ys));
    avf_tensor ts, ty;
    avf_test_tensor(ctx, &ts, AVF_DTYPE_F32, 4, ss, spec);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 2, ys, NULL);
    assert_avf_ok(avf_op_istft((avf_op_ctx *)ctx, p, length, &ts, &ty));
    float *out = malloc((size_t)(ys[0] * ys[1]) * sizeof *out);
    avf_test_read(ctx, &ty, out);
    avf_tensor_release(&ts, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    *out_len = ys[1];
    return out;
}

static float *run_logmel(const avf_op_ctx *ctx, const avf_logmel_params *lp,
                         const avf_mel_params *mp, int64_t batch, int64_t len, const float *x,
                         int64_t *dims) {
    int64_t xs[2] = {batch, len}, fs[2], ys[3];
    int nf, ny;
    assert_avf_ok(avf_mel_filterbank_shape(mp, &nf, fs));
    avf_tensor tx, tf, ty;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, 2, xs, x);
    avf_test_tensor(ctx, &tf, AVF_DTYPE_F32, 2, fs, NULL);
    assert_avf_ok(avf_op_mel_filterbank((avf_op_ctx *)ctx, mp, &tf));
    assert_avf_ok(avf_logmel_shape(lp, 2, xs, 2, fs, &ny, ys));
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, 3, ys, NULL);
    assert_avf_ok(avf_op_logmel((avf_op_ctx *)ctx, lp, &tx, &tf, &ty));
    float *out = malloc((size_t)numel_of(3, ys) * sizeof *out);
    avf_test_read(ctx, &ty, out);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&tf, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    memcpy(dims, ys, sizeof ys);
    return out;
}

/* ---- STFT ---- */

typedef struct stft_case {
    int64_t n_fft, hop, win, len;
    int center;
    avf_stft_pad_mode pad;
} stft_case;

static const stft_case stft_cases[] = {
    {64, 16, 0, 1000, 1, AVF_STFT_PAD_REFLECT},   {64, 64, 64, 700, 0, AVF_STFT_PAD_REFLECT},
    {128, 32, 100, 999, 1, AVF_STFT_PAD_CONSTANT}, {256, 100, 256, 1500, 0, AVF_STFT_PAD_REFLECT},
    {512, 128, 300, 2100, 1, AVF_STFT_PAD_REFLECT}, {63, 10, 50, 800, 1, AVF_STFT_PAD_REFLECT},
    {400, 160, 0, 4000, 1, AVF_STFT_PAD_REFLECT},  {96, 7, 95, 257, 1, AVF_STFT_PAD_CONSTANT},
};

static avf_stft_params params_of(const stft_case *c) {
    avf_stft_params p = {c->n_fft, c->hop, c->win, c->center, c->pad};
    return p;
}

static void test_stft_cpu(void **state) {
    (void)state;
    uint64_t seed = 0x5EC7;
    for (size_t ci = 0; ci < sizeof stft_cases / sizeof stft_cases[0]; ci++) {
        const stft_case *c = &stft_cases[ci];
        avf_stft_params p = params_of(c);
        const int64_t batch = 2;
        float *x = malloc((size_t)(batch * c->len) * sizeof *x);
        avf_test_fill_f32(x, batch * c->len, &seed, -1.0, 1.0);
        int64_t nc, nm, np_;
        float *yc = run_stft(&env.cpu_ctx, &p, AVF_STFT_COMPLEX, batch, c->len, x, &nc);
        float *ym = run_stft(&env.cpu_ctx, &p, AVF_STFT_MAGNITUDE, batch, c->len, x, &nm);
        float *yp = run_stft(&env.cpu_ctx, &p, AVF_STFT_POWER, batch, c->len, x, &np_);
        int64_t nt = 0, per = nc / batch;
        double *wc = malloc((size_t)nc * sizeof *wc), *wm = malloc((size_t)nm * sizeof *wm);
        double *wp = malloc((size_t)np_ * sizeof *wp);
        for (int64_t b = 0; b < batch; b++) {
            double *X = ref_stft(x + b * c->len, c->len, &p, &nt);
            memcpy(wc + b * per, X, (size_t)per * sizeof *X);
            for (int64_t i = 0; i < per / 2; i++) {
                double pw = X[2 * i] * X[2 * i] + X[2 * i + 1] * X[2 * i + 1];
                wp[b * per / 2 + i] = pw;
                wm[b * per / 2 + i] = sqrt(pw);
            }
            free(X);
        }
        assert_int_equal(nm, batch * (c->n_fft / 2 + 1) * nt);
        double ec = avf_test_rel_err(yc, wc, nc), em = avf_test_rel_err(ym, wm, nm);
        double ep = avf_test_rel_err(yp, wp, np_);
        print_message("stft n_fft=%lld hop=%lld win=%lld center=%d: rel err complex %.2g mag "
                      "%.2g power %.2g\n",
                      (long long)c->n_fft, (long long)c->hop, (long long)c->win, c->center, ec, em,
                      ep);
        assert_rel_err_below(ec, 1e-5);
        assert_rel_err_below(em, 1e-5);
        assert_rel_err_below(ep, 1e-5);
        free(x), free(yc), free(ym), free(yp), free(wc), free(wm), free(wp);
    }
}

/* Values printed by scripts/spectral_reference.py (NumPy's rfft of the
 * reflect-padded, Hann-windowed frames: librosa.stft's conventions). */
static void test_stft_numpy_reference(void **state) {
    (void)state;
    static const double ref[][4] = {
        {11, 0, -3.60351245, 1.10584329e-14}, {11, 6, -58.7793527, -80.9123378},
        {75, 3, -14.7760101, 47.7668502},     {0, 12, -35.5298319, 0},
        {40, 5, -8.03239952e-06, 4.07150279e-05}, {74, 12, 5.26305409, -32.5944505}};
    float x[2000];
    numpy_signal(x, 2000, 16000.0);
    avf_stft_params p = {400, 160, 0, 1, AVF_STFT_PAD_REFLECT};
    int64_t n;
    float *y = run_stft(&env.cpu_ctx, &p, AVF_STFT_COMPLEX, 1, 2000, x, &n);
    assert_int_equal(n, 201 * 13 * 2);
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        int64_t o = ((int64_t)ref[i][0] * 13 + (int64_t)ref[i][1]) * 2;
        /* f32 rounding of frames whose values reach ~1.7: ~1e-5 absolute */
        assert_true(fabs(y[o] - ref[i][2]) < 1e-4 + 1e-6 * fabs(ref[i][2]));
        assert_true(fabs(y[o + 1] - ref[i][3]) < 1e-4 + 1e-6 * fabs(ref[i][3]));
    }
    free(y);
}

/* ---- iSTFT ---- */

static void test_istft_roundtrip(void **state) {
    (void)state;
    uint64_t seed = 0x157F7;
    for (size_t ci = 0; ci < sizeof stft_cases / sizeof stft_cases[0]; ci++) {
        const stft_case *c = &stft_cases[ci];
        int64_t win = c->win ? c->win : c->n_fft;
        /* Perfect reconstruction needs the window envelope nonzero at every
         * kept sample: centred, and hops shorter than half the window. */
        if (!c->center || 2 * c->hop > win)
            continue;
        avf_stft_params p = params_of(c);
        const int64_t batch = 3;
        float *x = malloc((size_t)(batch * c->len) * sizeof *x);
        avf_test_fill_f32(x, batch * c->len, &seed, -1.0, 1.0);
        int64_t n, nt;
        assert_avf_ok(avf_stft_frames(&p, c->len, &nt));
        float *spec = run_stft(&env.cpu_ctx, &p, AVF_STFT_COMPLEX, batch, c->len, x, &n);
        int64_t ss[4] = {batch, c->n_fft / 2 + 1, nt, 2}, got_len;
        float *y = run_istft(&env.cpu_ctx, &p, c->len, ss, spec, &got_len);
        assert_int_equal(got_len, c->len);
        double err = avf_test_rel_err_f32(y, x, batch * c->len);
        print_message("istft(stft) n_fft=%lld hop=%lld win=%lld: rel err %.2g\n",
                      (long long)c->n_fft, (long long)c->hop, (long long)win, err);
        assert_rel_err_below(err, 1e-5);
        free(y);
        /* Default length: n_fft + hop*(frames-1) - 2*(n_fft/2); the part
         * inside the signal reconstructs it. */
        y = run_istft(&env.cpu_ctx, &p, 0, ss, spec, &got_len);
        assert_int_equal(got_len, c->n_fft + c->hop * (nt - 1) - 2 * (c->n_fft / 2));
        int64_t keep = got_len < c->len ? got_len : c->len;
        for (int64_t b = 0; b < batch; b++)
            assert_rel_err_below(avf_test_rel_err_f32(y + b * got_len, x + b * c->len, keep),
                                 1e-5);
        free(y);
        free(spec);
        free(x);
    }
    /* A length past the frames is zero-filled (librosa.util.fix_length). */
    avf_stft_params p = {64, 16, 0, 1, AVF_STFT_PAD_REFLECT};
    float x[200];
    avf_test_fill_f32(x, 200, &seed, -1.0, 1.0);
    int64_t n, got;
    float *spec = run_stft(&env.cpu_ctx, &p, AVF_STFT_COMPLEX, 1, 200, x, &n);
    int64_t ss[4] = {1, 33, 13, 2};
    float *y = run_istft(&env.cpu_ctx, &p, 300, ss, spec, &got);
    assert_int_equal(got, 300);
    assert_rel_err_below(avf_test_rel_err_f32(y, x, 200), 1e-5);
    for (int64_t i = 12 * 16 + 64 - 32; i < 300; i++)
        assert_true(y[i] == 0.0f);
    free(y);
    free(spec);
}

/* An arbitrary spectrum (not from a signal), every case incl. uncentred
 * and an explicit length, against the double reference. */
static void test_istft_cpu_reference(void **state) {
    (void)state;
    uint64_t seed = 0x157F8;
    for (size_t ci = 0; ci < sizeof stft_cases / sizeof stft_cases[0]; ci++) {
        const stft_case *c = &stft_cases[ci];
        avf_stft_params p = params_of(c);
        int64_t nt, got;
        assert_avf_ok(avf_stft_frames(&p, c->len, &nt));
        int64_t ss[4] = {2, c->n_fft / 2 + 1, nt, 2}, ns = numel_of(4, ss);
        float *spec = malloc((size_t)ns * sizeof *spec);
        avf_test_fill_f32(spec, ns, &seed, -1.0, 1.0);
        for (int withlen = 0; withlen < 2; withlen++) {
            float *y = run_istft(&env.cpu_ctx, &p, withlen ? c->len + 50 : 0, ss, spec, &got);
            double *want = malloc((size_t)(2 * got) * sizeof *want);
            int *mask = malloc((size_t)(2 * got) * sizeof *mask);
            for (int64_t b = 0; b < 2; b++)
                ref_istft(spec + b * ns / 2, &p, nt, got, want + b * got, mask + b * got);
            double e = masked_rel_err(y, want, NULL, mask, 2 * got);
            print_message("istft n_fft=%lld hop=%lld center=%d len=%lld: rel err %.2g\n",
                          (long long)c->n_fft, (long long)c->hop, c->center, (long long)got, e);
            assert_rel_err_below(e, 1e-5);
            free(y);
            free(want);
            free(mask);
        }
        free(spec);
    }
}

/* ---- mel filterbank ---- */

static void test_mel_filterbank(void **state) {
    (void)state;
    /* Scale anchors: Slaney mel 15 at 1 kHz, +27 per factor 6.4. */
    assert_true(fabs(avf_hz_to_mel(1000.0, 0) - 15.0) < 1e-12);
    assert_true(fabs(avf_hz_to_mel(6400.0, 0) - 42.0) < 1e-12);
    assert_true(fabs(avf_hz_to_mel(700.0, 1) - 2595.0 * log10(2.0)) < 1e-9);
    for (double f = 0.0; f < 20000.0; f += 777.7)
        for (int htk = 0; htk < 2; htk++)
            assert_true(fabs(avf_mel_to_hz(avf_hz_to_mel(f, htk), htk) - f) < 1e-7);
    const avf_mel_params cases[] = {
        {16000, 400, 80, 0, 0, 0, 1},       {22050, 2048, 128, 0, 0, 0, 1},
        {22050, 1024, 40, 20, 8000, 1, 0},  {44100, 512, 64, 50, 16000, 0, 0},
        {8000, 256, 23, 100, 3900, 1, 1},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const avf_mel_params *p = &cases[ci];
        int64_t nf = p->n_fft / 2 + 1;
        double *fb = malloc((size_t)(p->n_mels * nf) * sizeof *fb);
        assert_avf_ok(avf_mel_filterbank(p, fb));
        double maxd = 0.0;
        for (int64_t m = 0; m < p->n_mels; m++)
            for (int64_t k = 0; k < nf; k++) {
                double d = fabs(fb[m * nf + k] - ref_mel_weight(p, m, k));
                maxd = d > maxd ? d : maxd;
            }
        assert_true(maxd < 1e-9);
        free(fb);
    }
    /* From scripts/spectral_reference.py (librosa.filters.mel's
     * construction in NumPy): Slaney/slaney-norm, then HTK/no norm. */
    static const double slaney[][3] = {{0, 1, 0.0248625939842},    {0, 2, 0},
                                       {10, 10, 0.019908218881},   {10, 11, 0.0049543751032},
                                       {40, 43, 0.0147355657414},  {40, 44, 0.00651818969466},
                                       {79, 192, 0.00316471173918}, {79, 193, 0.00314131319312}};
    static const double htk[][3] = {{0, 3, 0.988553717643},   {0, 2, 0.51126864048},
                                    {5, 16, 0.881230685353},  {5, 15, 0.773999768127},
                                    {20, 87, 0.956403450785}, {20, 86, 0.814862575397},
                                    {39, 348, 0.987210616794}, {39, 347, 0.968986072842}};
    double *fb = malloc(80 * 513 * sizeof *fb);
    assert_avf_ok(avf_mel_filterbank(&cases[0], fb));
    for (size_t i = 0; i < 8; i++)
        assert_true(fabs(fb[(int)slaney[i][0] * 201 + (int)slaney[i][1]] - slaney[i][2]) < 1e-11);
    assert_avf_ok(avf_mel_filterbank(&cases[2], fb));
    for (size_t i = 0; i < 8; i++)
        assert_true(fabs(fb[(int)htk[i][0] * 513 + (int)htk[i][1]] - htk[i][2]) < 1e-10);
    /* The op: the same values rounded to f32 on the device. */
    int64_t fs[2] = {80, 201};
    avf_tensor t;
    avf_test_tensor(&env.cpu_ctx, &t, AVF_DTYPE_F32, 2, fs, NULL);
    assert_avf_ok(avf_op_mel_filterbank(&env.cpu_ctx, &cases[0], &t));
    assert_avf_ok(avf_mel_filterbank(&cases[0], fb));
    const float *tf = (const float *)t.data;
    for (int64_t i = 0; i < 80 * 201; i++)
        assert_true(tf[i] == (float)fb[i]);
    avf_tensor_release(&t, NULL);
    free(fb);
}

/* ---- log-mel ---- */

static void test_logmel_cpu(void **state) {
    (void)state;
    uint64_t seed = 0x10C3E1;
    const int64_t batch = 2, len = 3000;
    float *x = malloc((size_t)(batch * len) * sizeof *x), *xn = malloc((size_t)(batch * len) * 4);
    numpy_signal(x, len, 16000.0);
    avf_test_fill_f32(x + len, len, &seed, -0.5, 0.5);
    /* Unclipped dB of the tones' spectral nulls (-150 dB) is f32 rounding
     * noise of the FFT, so that mode runs on noise only. */
    avf_test_fill_f32(xn, batch * len, &seed, -0.5, 0.5);
    avf_mel_params mp = {16000, 400, 80, 0, 0, 0, 1};
    const avf_logmel_mode modes[] = {AVF_LOGMEL_NONE, AVF_LOGMEL_DB, AVF_LOGMEL_DB, AVF_LOGMEL_LN,
                                     AVF_LOGMEL_WHISPER};
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        avf_logmel_params lp = {.stft = {400, 160, 0, 1, AVF_STFT_PAD_REFLECT}};
        avf_logmel_params_default(&lp, modes[mi]);
        if (mi == 2)
            lp.top_db = 0.0f; /* no clipping */
        int64_t dims[3];
        const float *in = mi == 2 ? xn : x;
        float *y = run_logmel(&env.cpu_ctx, &lp, &mp, batch, len, in, dims);
        assert_int_equal(dims[2], 1 + len / 160 - (modes[mi] == AVF_LOGMEL_WHISPER));
        double *want = malloc((size_t)numel_of(3, dims) * sizeof *want);
        ref_logmel(&lp, &mp, in, batch, len, want, dims[2]);
        double err = avf_test_rel_err(y, want, numel_of(3, dims));
        print_message("log-mel mode %d top_db %g: rel err vs double %.2g\n", (int)lp.mode,
                      (double)lp.top_db, err);
        assert_rel_err_below(err, 1e-5);
        free(want);
        free(y);
    }
    free(x);
    free(xn);
    /* scripts/spectral_reference.py: dB (top_db 80) and Whisper values of
     * its fixed 2000-sample input. */
    static const double db[][3] = {{0, 0, 15.4294424},   {5, 6, -36.3680784},
                                   {20, 3, -56.4505249}, {40, 11, -56.4505249},
                                   {55, 9, 11.6183334},  {79, 2, -56.4505249}};
    static const double wh[][3] = {{0, 0, 1.38573606},   {5, 6, 0.0907980404},
                                   {20, 3, -0.411263123}, {40, 11, -0.411263123},
                                   {55, 9, 1.29045834},  {79, 2, -0.411263123}};
    float sig[2000];
    numpy_signal(sig, 2000, 16000.0);
    for (int w = 0; w < 2; w++) {
        avf_logmel_params lp = {.stft = {400, 160, 0, 1, AVF_STFT_PAD_REFLECT}};
        avf_logmel_params_default(&lp, w ? AVF_LOGMEL_WHISPER : AVF_LOGMEL_DB);
        int64_t dims[3];
        float *y = run_logmel(&env.cpu_ctx, &lp, &mp, 1, 2000, sig, dims);
        assert_int_equal(dims[2], w ? 12 : 13);
        const double(*r)[3] = w ? wh : db;
        for (int i = 0; i < 6; i++)
            assert_true(fabs(y[(int)r[i][0] * dims[2] + (int)r[i][1]] - r[i][2]) < 1e-4);
        free(y);
    }
}

/* ---- errors ---- */

static void test_spectral_errors(void **state) {
    (void)state;
    int64_t nt, out[4];
    int n;
    avf_stft_params ok = {64, 16, 0, 1, AVF_STFT_PAD_REFLECT};
    /* {n_fft, hop, win, center, pad}, signal length, status */
    static const struct { avf_stft_params p; int64_t len; avf_status want; } cases[] = {
        {{0, 16, 0, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{-4, 16, 0, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{65537, 16, 0, 1, 0}, 1 << 20, AVF_ERR_INVALID_ARG},
        {{64, 0, 0, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{64, -3, 0, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{64, 16, 65, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{64, 16, -1, 1, 0}, 100, AVF_ERR_INVALID_ARG},
        {{64, 16, 0, 1, 7}, 100, AVF_ERR_INVALID_ARG},
        /* reflect needs more than n_fft/2 samples; constant does not */
        {{64, 16, 0, 1, 0}, 32, AVF_ERR_INVALID_ARG},
        {{64, 16, 0, 1, 0}, 33, AVF_OK},
        {{64, 16, 0, 1, 1}, 5, AVF_OK},
        {{64, 16, 0, 0, 0}, 63, AVF_ERR_INVALID_ARG},
        {{64, 16, 0, 0, 0}, 64, AVF_OK},
        {{65536, 16, 0, 0, 0}, 1 << 17, AVF_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        avf_clear_error();
        assert_int_equal(avf_stft_frames(&cases[i].p, cases[i].len, &nt), cases[i].want);
        assert_true(cases[i].want == AVF_OK || avf_last_error()[0] != '\0');
    }
    assert_avf_ok(avf_stft_frames(&cases[12].p, 64, &nt));
    assert_int_equal(nt, 1);
    assert_avf_fails(avf_stft_frames(&ok, 0, &nt), AVF_ERR_INVALID_ARG);
    int64_t x1[1] = {100}, x2[2] = {1, 100};
    assert_avf_fails(avf_stft_shape(&ok, AVF_STFT_POWER, 1, x1, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_stft_shape(&ok, (avf_stft_output)9, 2, x2, &n, out),
                     AVF_ERR_INVALID_ARG);
    /* iSTFT: wrong bins, last dim, no frames */
    int64_t s_bad[4] = {1, 32, 5, 2}, s_bad2[4] = {1, 33, 5, 1}, s_none[4] = {1, 33, 0, 2};
    assert_avf_fails(avf_istft_shape(&ok, 0, 4, s_bad, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_istft_shape(&ok, 0, 4, s_bad2, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_istft_shape(&ok, 0, 4, s_none, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_istft_shape(&ok, -5, 4, s_bad, &n, out), AVF_ERR_INVALID_ARG);
    /* mel params */
    avf_mel_params mp = {16000, 400, 80, 0, 0, 0, 1}, q;
    q = mp, q.sample_rate = 0;
    assert_avf_fails(avf_mel_params_check(&q), AVF_ERR_INVALID_ARG);
    q = mp, q.n_mels = 0;
    assert_avf_fails(avf_mel_params_check(&q), AVF_ERR_INVALID_ARG);
    q = mp, q.fmin = 9000;
    assert_avf_fails(avf_mel_params_check(&q), AVF_ERR_INVALID_ARG);
    q = mp, q.fmin = -1;
    assert_avf_fails(avf_mel_params_check(&q), AVF_ERR_INVALID_ARG);
    q = mp, q.n_fft = 70000;
    assert_avf_fails(avf_mel_params_check(&q), AVF_ERR_INVALID_ARG);
    /* log-mel: filterbank shape, eps, amin */
    avf_logmel_params lp = {.stft = ok};
    avf_logmel_params_default(&lp, AVF_LOGMEL_DB);
    int64_t fb_bad[2] = {40, 32}, fb_ok[2] = {40, 33};
    assert_avf_fails(avf_logmel_shape(&lp, 2, x2, 2, fb_bad, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_logmel_shape(&lp, 2, x2, 2, fb_ok, &n, out));
    lp.amin = 0.0f;
    assert_avf_fails(avf_logmel_shape(&lp, 2, x2, 2, fb_ok, &n, out), AVF_ERR_INVALID_ARG);
    avf_logmel_params_default(&lp, AVF_LOGMEL_LN);
    lp.eps = 0.0f;
    assert_avf_fails(avf_logmel_shape(&lp, 2, x2, 2, fb_ok, &n, out), AVF_ERR_INVALID_ARG);
    /* ops: wrong output shape and dtype */
    avf_tensor tx, ty, ti;
    int64_t ys_bad[3] = {1, 33, 5};
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_F32, 2, x2, NULL);
    avf_test_tensor(&env.cpu_ctx, &ty, AVF_DTYPE_F32, 3, ys_bad, NULL);
    avf_test_tensor(&env.cpu_ctx, &ti, AVF_DTYPE_I32, 2, x2, NULL);
    assert_avf_fails(avf_op_stft(&env.cpu_ctx, &ok, AVF_STFT_POWER, &tx, &ty), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_stft(&env.cpu_ctx, &ok, AVF_STFT_POWER, &ti, &ty), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_tensor_release(&ti, NULL);
}

/* ---- concurrency: FFTW plans made from many threads at once ---- */

typedef struct mt_job {
    int64_t n_fft, len;
    const float *x;
    float *y;
    avf_status st;
} mt_job;

/* No cmocka asserts here (not thread-safe): a status comes back instead. */
static void *mt_run(void *arg) {
    mt_job *j = arg;
    avf_pool *pool = NULL;
    avf_op_ctx ctx;
    j->st = avf_pool_create(env.cpu, NULL, &pool);
    if (j->st == AVF_OK)
        j->st = avf_op_ctx_init(&ctx, env.cpu, NULL, pool);
    avf_stft_params p = {j->n_fft, j->n_fft / 4, 0, 1, AVF_STFT_PAD_REFLECT};
    int64_t xs[2] = {1, j->len}, ys[4];
    int ny;
    avf_tensor tx, ty;
    if (j->st == AVF_OK)
        j->st = avf_stft_shape(&p, AVF_STFT_POWER, 2, xs, &ny, ys);
    if (j->st == AVF_OK)
        j->st = avf_tensor_init_borrowed(&tx, (void *)j->x, AVF_DTYPE_F32, 2, xs, env.cpu);
    if (j->st == AVF_OK)
        j->st = avf_tensor_init_borrowed(&ty, j->y, AVF_DTYPE_F32, ny, ys, env.cpu);
    for (int rep = 0; rep < 10 && j->st == AVF_OK; rep++)
        j->st = avf_op_stft(&ctx, &p, AVF_STFT_POWER, &tx, &ty);
    if (pool) {
        avf_op_ctx_release(&ctx);
        avf_pool_free_all(pool);
    }
    return NULL;
}

static void test_stft_threads(void **state) {
    (void)state;
    enum { NT = 8 };
    static const int64_t sizes[NT] = {256, 400, 512, 1024, 400, 256, 2048, 777};
    const int64_t len = 20000;
    uint64_t seed = 0x7EAD;
    float *x = malloc(len * sizeof *x);
    avf_test_fill_f32(x, len, &seed, -1.0, 1.0);
    avf_spectral_release_caches(); /* so the threads race to plan */
    pthread_t th[NT];
    mt_job jobs[NT];
    for (int i = 0; i < NT; i++) {
        jobs[i] = (mt_job){sizes[i], len, x, malloc((size_t)(sizes[i] + 2) * len * sizeof(float)),
                           AVF_OK};
        assert_int_equal(pthread_create(&th[i], NULL, mt_run, &jobs[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NT; i++) {
        assert_avf_ok(jobs[i].st);
        avf_stft_params p = {sizes[i], sizes[i] / 4, 0, 1, AVF_STFT_PAD_REFLECT};
        int64_t n;
        float *want = run_stft(&env.cpu_ctx, &p, AVF_STFT_POWER, 1, len, x, &n);
        assert_memory_equal(jobs[i].y, want, (size_t)n * sizeof *want);
        free(want);
        free(jobs[i].y);
    }
    free(x);
}

/* ---- CUDA vs CPU ---- */

static void test_stft_cuda(void **state) {
    (void)state;
    need_gpu();
    uint64_t seed = 0xC0DA;
    /* the small cases, plus one that takes two cuFFT chunks */
    const stft_case big = {8192, 256, 6000, 300000, 1, AVF_STFT_PAD_REFLECT};
    for (size_t ci = 0; ci <= sizeof stft_cases / sizeof stft_cases[0]; ci++) {
        const stft_case *c = ci < sizeof stft_cases / sizeof stft_cases[0] ? &stft_cases[ci] : &big;
        avf_stft_params p = params_of(c);
        const int64_t batch = 2;
        float *x = malloc((size_t)(batch * c->len) * sizeof *x);
        avf_test_fill_f32(x, batch * c->len, &seed, -1.0, 1.0);
        for (int k = 0; k < 3; k++) {
            int64_t n1, n2;
            float *a = run_stft(&env.cpu_ctx, &p, (avf_stft_output)k, batch, c->len, x, &n1);
            float *b = run_stft(&env.gpu_ctx, &p, (avf_stft_output)k, batch, c->len, x, &n2);
            assert_int_equal(n1, n2);
            double e = avf_test_rel_err_f32(b, a, n1);
            print_message("stft cuda n_fft=%lld kind %d: rel err vs CPU %.2g\n",
                          (long long)c->n_fft, k, e);
            assert_rel_err_below(e, 1e-5);
            free(a);
            free(b);
        }
        free(x);
    }
}

static void test_istft_cuda(void **state) {
    (void)state;
    need_gpu();
    uint64_t seed = 0x15C0DA;
    const stft_case big = {8192, 256, 6000, 300000, 1, AVF_STFT_PAD_REFLECT};
    for (size_t ci = 0; ci <= sizeof stft_cases / sizeof stft_cases[0]; ci++) {
        const stft_case *c = ci < sizeof stft_cases / sizeof stft_cases[0] ? &stft_cases[ci] : &big;
        avf_stft_params p = params_of(c);
        const int64_t batch = 2;
        int64_t nt, l1, l2;
        assert_avf_ok(avf_stft_frames(&p, c->len, &nt));
        int64_t ss[4] = {batch, c->n_fft / 2 + 1, nt, 2};
        /* an arbitrary spectrum, not only ones that came from a signal */
        int64_t ns = numel_of(4, ss);
        float *spec = malloc((size_t)ns * sizeof *spec);
        avf_test_fill_f32(spec, ns, &seed, -1.0, 1.0);
        for (int withlen = 0; withlen < 2; withlen++) {
            int64_t length = withlen ? c->len + 37 : 0;
            float *a = run_istft(&env.cpu_ctx, &p, length, ss, spec, &l1);
            float *b = run_istft(&env.gpu_ctx, &p, length, ss, spec, &l2);
            assert_int_equal(l1, l2);
            /* compare where the inverse is well conditioned (ref_istft) */
            int *mask = malloc((size_t)(batch * l1) * sizeof *mask);
            for (int64_t bi = 0; bi < batch; bi++)
                ref_istft_mask(&p, nt, l1, mask + bi * l1);
            double e = masked_rel_err(b, NULL, a, mask, batch * l1);
            free(mask);
            print_message("istft cuda n_fft=%lld: rel err vs CPU %.2g\n", (long long)c->n_fft, e);
            assert_rel_err_below(e, 1e-5);
            free(a);
            free(b);
        }
        free(spec);
    }
}

static void test_mel_cuda(void **state) {
    (void)state;
    need_gpu();
    avf_mel_params mp = {22050, 2048, 128, 0, 0, 0, 1};
    int64_t fs[2] = {128, 1025};
    avf_tensor tc, tg;
    avf_test_tensor(&env.cpu_ctx, &tc, AVF_DTYPE_F32, 2, fs, NULL);
    avf_test_tensor(&env.gpu_ctx, &tg, AVF_DTYPE_F32, 2, fs, NULL);
    assert_avf_ok(avf_op_mel_filterbank(&env.cpu_ctx, &mp, &tc));
    assert_avf_ok(avf_op_mel_filterbank(&env.gpu_ctx, &mp, &tg));
    float *g = malloc(128 * 1025 * sizeof *g);
    avf_test_read(&env.gpu_ctx, &tg, g);
    assert_memory_equal(g, tc.data, 128 * 1025 * sizeof *g);
    free(g);
    avf_tensor_release(&tc, NULL);
    avf_tensor_release(&tg, env.gpu_stream);
}

static void test_logmel_cuda(void **state) {
    (void)state;
    need_gpu();
    uint64_t seed = 0x10C0DA;
    const int64_t batch = 3, len = 16000 * 4 + 123;
    float *x = malloc((size_t)(batch * len) * sizeof *x), *xn = malloc((size_t)(batch * len) * 4);
    avf_test_fill_f32(x, batch * len, &seed, -0.5, 0.5);
    memcpy(xn, x, (size_t)(batch * len) * sizeof *x);
    numpy_signal(x, len, 16000.0); /* tones in clip 0: deep nulls (see test_logmel_cpu) */
    avf_mel_params mp = {16000, 400, 80, 0, 0, 0, 1};
    for (int mode = 0; mode <= 4; mode++) {
        avf_logmel_params lp = {.stft = {400, 160, 0, 1, AVF_STFT_PAD_REFLECT}};
        avf_logmel_params_default(&lp, mode == 4 ? AVF_LOGMEL_DB : (avf_logmel_mode)mode);
        if (mode == 4)
            lp.top_db = 0.0f;
        int64_t d1[3], d2[3];
        const float *in = mode == 4 ? xn : x;
        float *a = run_logmel(&env.cpu_ctx, &lp, &mp, batch, len, in, d1);
        float *b = run_logmel(&env.gpu_ctx, &lp, &mp, batch, len, in, d2);
        assert_memory_equal(d1, d2, sizeof d1);
        double e = avf_test_rel_err_f32(b, a, numel_of(3, d1));
        print_message("log-mel cuda mode %d: rel err vs CPU %.2g\n", mode, e);
        assert_rel_err_below(e, 1e-5);
        free(a);
        free(b);
    }
    free(x);
    free(xn);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stft_cpu),        cmocka_unit_test(test_stft_numpy_reference),
        cmocka_unit_test(test_istft_roundtrip), cmocka_unit_test(test_istft_cpu_reference),
        cmocka_unit_test(test_mel_filterbank),
        cmocka_unit_test(test_logmel_cpu),      cmocka_unit_test(test_spectral_errors),
        cmocka_unit_test(test_stft_threads),
        cmocka_unit_test(test_stft_cuda),       cmocka_unit_test(test_istft_cuda),
        cmocka_unit_test(test_mel_cuda),        cmocka_unit_test(test_logmel_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
