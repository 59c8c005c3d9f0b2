/* Scene-cut features and decisions, and frame sampling (ops/image.h):
 * luma histograms against counts taken in the test, thumbnails against
 * covered-area averages in double, CUDA against CPU; the detector and the
 * distance functions on synthetic sequences with known cuts; stride and fps
 * sampling on synthetic timestamps. */
#include "test_image_util.h"

static void items_for(test_frame *fr, int n, const avf_op_ctx *ctx, avf_preprocess_item *it) {
    for (int i = 0; i < n; i++) {
        it[i].frame = tf_desc(&fr[i], ctx);
        it[i].roi = i == 1 ? (avf_rect){3, 1, 29, 19} : (avf_rect){0, 0, 0, 0};
        it[i].slot = 0;
    }
}

static void features_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 41;
    enum { NF = 3 };
    test_frame fr[NF];
    tf_make(&fr[0], AVF_YUV_NV12, 38, 24, 10, &seed);
    tf_make(&fr[1], AVF_YUV_P010, 40, 22, 6, &seed);
    tf_make(&fr[2], AVF_YUV_NV12, 64, 36, 0, &seed);
    avf_preprocess_item it[NF];
    static const int bins_list[] = {64, 7, 256};
    for (size_t k = 0; k < 3; k++) {
        int bins = bins_list[k];
        int64_t hd[2] = {NF, bins};
        avf_tensor th;
        items_for(fr, NF, &e.cpu_ctx, it);
        avf_test_tensor(&e.cpu_ctx, &th, AVF_DTYPE_F32, 2, hd, NULL);
        assert_avf_ok(avf_op_luma_hist(&e.cpu_ctx, it, NF, bins, &th));
        float *h = read_f32(&e.cpu_ctx, &th);
        for (int i = 0; i < NF; i++) {
            avf_rect r = it[i].roi.w ? it[i].roi : (avf_rect){0, 0, fr[i].w, fr[i].h};
            double *want = calloc((size_t)bins, sizeof *want);
            int levels = fr[i].fmt == AVF_YUV_P010 ? 1024 : 256;
            for (int y = r.y; y < r.y + r.h; y++)
                for (int x = r.x; x < r.x + r.w; x++) {
                    unsigned v = tf_get(&fr[i], fr[i].y, fr[i].yp, x, y);
                    want[(int)floor((double)v * bins / levels)] += 1.0 / ((double)r.w * r.h);
                }
            double sum = 0;
            for (int b = 0; b < bins; b++) {
                assert_true(fabs(h[i * bins + b] - want[b]) < 1e-6);
                sum += h[i * bins + b];
            }
            assert_true(fabs(sum - 1.0) < 1e-5);
            free(want);
        }
        if (on_gpu) {
            avf_tensor gh;
            items_for(fr, NF, &e.gpu_ctx, it);
            avf_test_tensor(&e.gpu_ctx, &gh, AVF_DTYPE_F32, 2, hd, NULL);
            assert_avf_ok(avf_op_luma_hist(&e.gpu_ctx, it, NF, bins, &gh));
            float *g = read_f32(&e.gpu_ctx, &gh);
            assert_memory_equal(g, h, (size_t)NF * bins * sizeof *g); /* counts are exact */
            free(g);
            avf_tensor_release(&gh, e.gpu_stream);
        }
        free(h);
        avf_tensor_release(&th, NULL);
    }
    /* thumbnails: 16x9 (downscale) and 50x30 (upscale of the ROI) */
    static const int sizes[][2] = {{16, 9}, {50, 30}};
    for (int k = 0; k < 2; k++) {
        int tw = sizes[k][0], th_ = sizes[k][1];
        int64_t td[3] = {NF, th_, tw};
        avf_tensor tt;
        items_for(fr, NF, &e.cpu_ctx, it);
        avf_test_tensor(&e.cpu_ctx, &tt, AVF_DTYPE_F32, 3, td, NULL);
        assert_avf_ok(avf_op_luma_thumb(&e.cpu_ctx, it, NF, &tt));
        float *t = read_f32(&e.cpu_ctx, &tt);
        int64_t per = (int64_t)th_ * tw;
        double *want = malloc((size_t)(NF * per) * sizeof *want);
        for (int i = 0; i < NF; i++) {
            avf_rect r = it[i].roi.w ? it[i].roi : (avf_rect){0, 0, fr[i].w, fr[i].h};
            double scale = fr[i].fmt == AVF_YUV_P010 ? 0.25 : 1.0;
            double sx = (double)r.w / tw, sy = (double)r.h / th_;
            for (int oy = 0; oy < th_; oy++)
                for (int ox = 0; ox < tw; ox++) {
                    double acc = 0;
                    for (int y = 0; y < r.h; y++) {
                        double wy = fmin(oy * sy + sy, y + 1.0) - fmax(oy * sy, (double)y);
                        if (wy <= 0)
                            continue;
                        for (int x = 0; x < r.w; x++) {
                            double wx = fmin(ox * sx + sx, x + 1.0) - fmax(ox * sx, (double)x);
                            if (wx > 0)
                                acc += wx * wy * tf_get(&fr[i], fr[i].y, fr[i].yp, r.x + x, r.y + y);
                        }
                    }
                    want[i * per + oy * tw + ox] = acc / (sx * sy) * scale;
                }
        }
        assert_rel_err_below(avf_test_rel_err(t, want, NF * per), 1e-5);
        if (on_gpu) {
            avf_tensor gt;
            items_for(fr, NF, &e.gpu_ctx, it);
            avf_test_tensor(&e.gpu_ctx, &gt, AVF_DTYPE_F32, 3, td, NULL);
            assert_avf_ok(avf_op_luma_thumb(&e.gpu_ctx, it, NF, &gt));
            float *g = read_f32(&e.gpu_ctx, &gt);
            assert_rel_err_below(avf_test_rel_err_f32(g, t, NF * per), 1e-5);
            free(g);
            avf_tensor_release(&gt, e.gpu_stream);
        }
        free(t);
        free(want);
        avf_tensor_release(&tt, NULL);
    }
    /* bad: bins, thumb shape, ROI outside */
    int64_t hd[2] = {NF, 300}, td[3] = {NF, 300, 4};
    avf_tensor tb;
    items_for(fr, NF, &e.cpu_ctx, it);
    avf_test_tensor(&e.cpu_ctx, &tb, AVF_DTYPE_F32, 2, hd, NULL);
    assert_avf_fails(avf_op_luma_hist(&e.cpu_ctx, it, NF, 300, &tb), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_luma_hist(&e.cpu_ctx, it, NF, 64, &tb), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tb, NULL);
    avf_test_tensor(&e.cpu_ctx, &tb, AVF_DTYPE_F32, 3, td, NULL);
    assert_avf_fails(avf_op_luma_thumb(&e.cpu_ctx, it, NF, &tb), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tb, NULL);
    for (int i = 0; i < NF; i++)
        tf_free(&fr[i], e.gpu_stream);
    avf_test_env_free(&e);
}

static void test_luma_features(void **state) { (void)state; features_case(0); }
static void test_luma_features_cuda(void **state) { (void)state; features_case(1); }

/* ---------------------------------------------------------------- decisions */

static void test_scene_distance(void **state) {
    (void)state;
    float a[4] = {0.5f, 0.5f, 0, 0}, b[4] = {0, 0, 0.5f, 0.5f}, c[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    assert_true(fabs(avf_scene_distance(AVF_SCENE_HIST_L1, a, b, 4) - 1.0) < 1e-12);
    assert_true(fabs(avf_scene_distance(AVF_SCENE_HIST_L1, a, c, 4) - 0.5) < 1e-12);
    assert_true(fabs(avf_scene_distance(AVF_SCENE_HIST_CHI2, a, b, 4) - 1.0) < 1e-12);
    /* chi2(a, c) = 0.5 * (2 * 0.0625/0.75 + 2 * 0.0625/0.25) = 1/3 */
    assert_true(fabs(avf_scene_distance(AVF_SCENE_HIST_CHI2, a, c, 4) - 1.0 / 3.0) < 1e-9);
    float t0[3] = {0, 100, 255}, t1[3] = {255, 100, 0};
    assert_true(fabs(avf_scene_distance(AVF_SCENE_THUMB_MAD, t0, t1, 3) - 2.0 / 3.0) < 1e-9);
    assert_true(avf_scene_distance(AVF_SCENE_HIST_L1, a, a, 4) == 0.0);
}

/* 3 scenes (cuts at 0, 12, 25) with small noise, and a one-frame flash at
 * 18: with min_gap 0 it cuts twice (18 and 19), with min_gap 8 not at all. */
static void synth_hist(float *f, int64_t n, int bins, uint64_t *seed) {
    for (int64_t i = 0; i < n; i++) {
        int centre = i < 12 ? 10 : i < 25 ? 40 : 55;
        if (i == 18)
            centre = 2; /* the flash */
        double sum = 0;
        for (int b = 0; b < bins; b++) {
            double v = exp(-0.5 * (b - centre) * (b - centre) / 9.0) + avf_test_rand(seed, 0, 0.01);
            f[i * bins + b] = (float)v;
            sum += v;
        }
        for (int b = 0; b < bins; b++)
            f[i * bins + b] = (float)(f[i * bins + b] / sum);
    }
}

static void test_scene_detector(void **state) {
    (void)state;
    enum { N = 32, BINS = 64 };
    uint64_t seed = 42;
    float *f = malloc((size_t)N * BINS * sizeof *f), dist[N];
    uint8_t cut[N];
    synth_hist(f, N, BINS, &seed);
    for (int metric = 0; metric < 2; metric++) {
        avf_scene_detector d;
        assert_avf_ok(avf_scene_detector_init(&d, (avf_scene_metric)metric, BINS, 0.5, 0));
        assert_avf_ok(avf_scene_detector_push(&d, f, N, dist, cut));
        for (int i = 0; i < N; i++) {
            int want = i == 0 || i == 12 || i == 18 || i == 19 || i == 25;
            if (cut[i] != want)
                print_error("metric %d frame %d: cut %d dist %g\n", metric, i, cut[i], dist[i]);
            assert_int_equal(cut[i], want);
        }
        avf_scene_detector_free(&d);
        /* flash suppressed by min_gap; streamed in uneven chunks gives the same */
        assert_avf_ok(avf_scene_detector_init(&d, (avf_scene_metric)metric, BINS, 0.5, 8));
        int64_t at = 0, chunk[] = {5, 1, 13, 0, 13};
        for (int k = 0; k < 5; k++) {
            assert_avf_ok(avf_scene_detector_push(&d, f + at * BINS, chunk[k], NULL, cut + at));
            at += chunk[k];
        }
        assert_int_equal(at, N);
        for (int i = 0; i < N; i++)
            assert_int_equal(cut[i], i == 0 || i == 12 || i == 25);
        avf_scene_detector_free(&d);
    }
    avf_scene_detector d;
    assert_avf_fails(avf_scene_detector_init(&d, AVF_SCENE_HIST_L1, 0, 0.5, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_scene_detector_init(&d, AVF_SCENE_HIST_L1, 64, 1.5, 0), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_scene_detector_init(&d, (avf_scene_metric)9, 64, 0.5, 0), AVF_ERR_INVALID_ARG);
    free(f);
}

/* Frames of two flat scenes through the histogram kernel and the detector. */
static void test_scene_end_to_end(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint64_t seed = 43;
    enum { N = 10 };
    test_frame fr[N];
    avf_preprocess_item it[N];
    for (int i = 0; i < N; i++) {
        unsigned base = i < 6 ? 30 : 180;
        tf_make_range(&fr[i], AVF_YUV_NV12, 32, 18, 4, &seed, base, base + 40);
        it[i] = (avf_preprocess_item){tf_desc(&fr[i], &e.cpu_ctx), {0, 0, 0, 0}, 0};
    }
    int64_t hd[2] = {N, 64};
    avf_tensor th;
    avf_test_tensor(&e.cpu_ctx, &th, AVF_DTYPE_F32, 2, hd, NULL);
    assert_avf_ok(avf_op_luma_hist(&e.cpu_ctx, it, N, 64, &th));
    float *h = read_f32(&e.cpu_ctx, &th);
    avf_scene_detector d;
    uint8_t cut[N];
    assert_avf_ok(avf_scene_detector_init(&d, AVF_SCENE_HIST_L1, 64, 0.6, 2));
    assert_avf_ok(avf_scene_detector_push(&d, h, N, NULL, cut));
    for (int i = 0; i < N; i++)
        assert_int_equal(cut[i], i == 0 || i == 6);
    avf_scene_detector_free(&d);
    free(h);
    avf_tensor_release(&th, NULL);
    for (int i = 0; i < N; i++)
        tf_free(&fr[i], NULL);
    avf_test_env_free(&e);
}

/* ---------------------------------------------------------------- sampling */

static void test_sample_stride(void **state) {
    (void)state;
    int64_t idx[16], n;
    assert_avf_ok(avf_sample_stride(10, 3, 1, idx, 16, &n));
    assert_int_equal(n, 3);
    assert_true(idx[0] == 1 && idx[1] == 4 && idx[2] == 7);
    assert_avf_ok(avf_sample_stride(10, 1, 0, NULL, 0, &n)); /* sizing call */
    assert_int_equal(n, 10);
    assert_avf_ok(avf_sample_stride(10, 4, 0, idx, 2, &n)); /* capped: 0, 4 written of 0, 4, 8 */
    assert_int_equal(n, 3);
    assert_true(idx[0] == 0 && idx[1] == 4);
    assert_avf_ok(avf_sample_stride(3, 5, 4, idx, 16, &n));
    assert_int_equal(n, 0);
    assert_avf_ok(avf_sample_stride(INT64_MAX, INT64_MAX / 2, INT64_MAX - 3, idx, 16, &n));
    assert_int_equal(n, 1); /* no overflow past the end */
    assert_avf_fails(avf_sample_stride(10, 0, 0, idx, 16, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_sample_stride(10, 1, -1, idx, 16, &n), AVF_ERR_INVALID_ARG);
}

static void test_sample_fps(void **state) {
    (void)state;
    enum { N = 300 };
    int64_t pts[N], idx[N], n;
    /* 30 fps in a 1/90000 time base, from pts 12345: 10 fps keeps every 3rd */
    for (int i = 0; i < N; i++)
        pts[i] = 12345 + 3000 * (int64_t)i;
    assert_avf_ok(avf_sample_fps(pts, N, 1, 90000, 10, 1, idx, N, &n));
    assert_int_equal(n, 100);
    for (int i = 0; i < n; i++)
        assert_int_equal(idx[i], 3 * i);
    /* 29.97 fps (time base 1001/30000, pts = frame number) at 1 fps: the
     * first frame of each second, frame k*30000/1001 rounded up */
    for (int i = 0; i < N; i++)
        pts[i] = i;
    assert_avf_ok(avf_sample_fps(pts, N, 1001, 30000, 1, 1, idx, N, &n));
    assert_int_equal(n, 10); /* 300 frames = 10.01 s */
    for (int k = 0; k < n; k++)
        assert_int_equal(idx[k], (k * 30000 + 1000) / 1001);
    /* variable rate with a 2 s gap and repeated timestamps, 2 fps, ms time base */
    int64_t vfr[] = {0, 100, 100, 499, 500, 900, 2900, 2950, 3000, 3499, 3500};
    assert_avf_ok(avf_sample_fps(vfr, 11, 1, 1000, 2, 1, idx, N, &n));
    int64_t want[] = {0, 4, 6, 8, 10};
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(idx[i], want[i]);
    /* a rate above the source keeps everything distinct in time */
    assert_avf_ok(avf_sample_fps(vfr, 11, 1, 1000, 1000, 1, NULL, 0, &n));
    assert_int_equal(n, 10);
    int64_t dec[] = {0, 10, 5};
    assert_avf_fails(avf_sample_fps(dec, 3, 1, 1000, 2, 1, idx, N, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_sample_fps(pts, N, 0, 1000, 2, 1, idx, N, &n), AVF_ERR_INVALID_ARG);
    /* extreme timestamps do not overflow */
    int64_t ext[] = {INT64_MIN, 0, INT64_MAX};
    assert_avf_ok(avf_sample_fps(ext, 3, 1, 1, 1, 1, idx, N, &n));
    assert_int_equal(n, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luma_features),   cmocka_unit_test(test_luma_features_cuda),
        cmocka_unit_test(test_scene_distance),  cmocka_unit_test(test_scene_detector),
        cmocka_unit_test(test_scene_end_to_end), cmocka_unit_test(test_sample_stride),
        cmocka_unit_test(test_sample_fps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
