/* Image kernels (ops/image.h): colour conversion against the published
 * BT.601/709 formulas, bilinear resize against the triangle-kernel
 * definition, area resize against covered-area averages, letterbox, crop
 * and normalize against direct formulas, all in double; every CUDA kernel
 * against the CPU one on the same inputs; bad inputs give statuses. */
#include "test_image_util.h"

static const avf_dtype dts[3] = {AVF_DTYPE_U8, AVF_DTYPE_F32, AVF_DTYPE_F16};

/* ---------------------------------------------------------------- colour */

static void colour_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 21;
    int combo = 0;
    for (int fmt = 0; fmt < 2; fmt++) {
        test_frame f;
        tf_make(&f, (avf_yuv_format)fmt, 38, 24, 13 + fmt, &seed); /* P010: even pitch */
        for (int mat = 0; mat < 2; mat++)
            for (int rng = 0; rng < 2; rng++)
                for (int k = 0; k < 3; k++, combo++) {
                    avf_dtype dt = dts[k];
                    avf_image_layout lay = (avf_image_layout)(combo % 2);
                    avf_yuv_colour c = {(avf_yuv_matrix)mat, (avf_yuv_range)rng,
                                        (avf_rgb_order)((combo / 2) % 2)};
                    int64_t d[3] = {3, f.h, f.w};
                    if (lay == AVF_IMAGE_NHWC) {
                        d[0] = f.h;
                        d[1] = f.w;
                        d[2] = 3;
                    }
                    avf_tensor t;
                    avf_test_tensor(&e.cpu_ctx, &t, dt, 3, d, NULL);
                    avf_yuv_frame fd = tf_desc(&f, &e.cpu_ctx);
                    assert_avf_ok(avf_op_yuv_to_rgb(&e.cpu_ctx, &c, lay, &fd, &t));
                    float *got = read_f32(&e.cpu_ctx, &t);
                    double worst = 0;
                    for (int y = 0; y < f.h; y++)
                        for (int x = 0; x < f.w; x++) {
                            double rgb[3];
                            tf_ref_rgb(&f, c.matrix, c.range, x, y, rgb);
                            for (int ch = 0; ch < 3; ch++) {
                                int src = c.order == AVF_BGR ? 2 - ch : ch;
                                int64_t i = lay == AVF_IMAGE_NCHW ? ((int64_t)ch * f.h + y) * f.w + x
                                                                  : ((int64_t)y * f.w + x) * 3 + ch;
                                worst = fmax(worst, fabs(got[i] - rgb[src]));
                            }
                        }
                    double tol = dt == AVF_DTYPE_U8 ? 0.51 : dt == AVF_DTYPE_F16 ? 0.07 : 2e-3;
                    if (!(worst <= tol))
                        print_error("fmt %d mat %d rng %d %s: max abs err %g > %g\n", fmt, mat,
                                    rng, avf_dtype_name(dt), worst, tol);
                    assert_true(worst <= tol);
                    if (on_gpu) {
                        avf_tensor tg;
                        avf_test_tensor(&e.gpu_ctx, &tg, dt, 3, d, NULL);
                        avf_yuv_frame gd = tf_desc(&f, &e.gpu_ctx);
                        assert_avf_ok(avf_op_yuv_to_rgb(&e.gpu_ctx, &c, lay, &gd, &tg));
                        float *gg = read_f32(&e.gpu_ctx, &tg);
                        assert_gpu_matches(dt, gg, got, avf_tensor_numel(&t));
                        free(gg);
                        avf_tensor_release(&tg, e.gpu_stream);
                    }
                    free(got);
                    avf_tensor_release(&t, NULL);
                }
        tf_free(&f, e.gpu_stream);
    }
    avf_test_env_free(&e);
}

static void test_colour(void **state) { (void)state; colour_case(0); }
static void test_colour_cuda(void **state) { (void)state; colour_case(1); }

/* ---------------------------------------------------------------- references */

/* Weight of input pixel i for output d on one axis, from the definitions. */
static double ref_weight(int mode, int64_t i, int64_t d, int64_t in, int64_t out) {
    double s = (double)in / (double)out;
    if (mode == AVF_RESIZE_AREA && in != out) {
        double a = d * s, b = (d + 1) * s;
        double lo = fmax(a, (double)i), hi = fmin(b, (double)(i + 1));
        return hi > lo ? (hi - lo) / s : 0.0;
    }
    double x = ((double)d + 0.5) * s - 0.5; /* half-pixel centres, clamped */
    x = fmin(fmax(x, 0.0), (double)(in - 1));
    return fmax(0.0, 1.0 - fabs(x - (double)i)); /* the triangle kernel */
}

typedef struct img_dims {
    int64_t N, C, H, W;
    avf_image_layout lay;
} img_dims;

static int64_t at(const img_dims *g, int64_t n, int64_t c, int64_t y, int64_t x) {
    return g->lay == AVF_IMAGE_NCHW ? ((n * g->C + c) * g->H + y) * g->W + x
                                    : ((n * g->H + y) * g->W + x) * g->C + c;
}

static void shape_of(const img_dims *g, int64_t *d) {
    d[0] = g->N;
    if (g->lay == AVF_IMAGE_NCHW) {
        d[1] = g->C;
        d[2] = g->H;
        d[3] = g->W;
    } else {
        d[1] = g->H;
        d[2] = g->W;
        d[3] = g->C;
    }
}

/* Resize x (float values) of dims gi from ROI (rx, ry, rw, rh) into the box
 * (bx, by, bw, bh) of output dims go; outside the box: pad. */
static void ref_map(int mode, const img_dims *gi, const float *x, int rx, int ry, int rw, int rh,
                    const img_dims *go, int bx, int by, int bw, int bh, const float *pad,
                    double *y) {
    for (int64_t n = 0; n < go->N; n++)
        for (int64_t c = 0; c < go->C; c++)
            for (int64_t oy = 0; oy < go->H; oy++)
                for (int64_t ox = 0; ox < go->W; ox++) {
                    double acc = 0.0;
                    if (ox < bx || ox >= bx + bw || oy < by || oy >= by + bh) {
                        acc = pad ? pad[c] : 0.0;
                    } else {
                        for (int64_t iy = 0; iy < rh; iy++) {
                            double wy = ref_weight(mode, iy, oy - by, rh, bh);
                            if (wy == 0.0)
                                continue;
                            for (int64_t ix = 0; ix < rw; ix++) {
                                double wx = ref_weight(mode, ix, ox - bx, rw, bw);
                                if (wx != 0.0)
                                    acc += wx * wy * x[at(gi, n, c, ry + iy, rx + ix)];
                            }
                        }
                    }
                    y[at(go, n, c, oy, ox)] = acc;
                }
}

static float *random_image(avf_dtype dt, int64_t n, uint64_t *seed) {
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        double r = dt == AVF_DTYPE_U8 ? avf_test_rand(seed, 0, 256) : avf_test_rand(seed, -20, 276);
        v[i] = dt == AVF_DTYPE_U8 ? (float)floor(r) : dt == AVF_DTYPE_F16 ? avf_f16_to_f32(avf_f32_to_f16((float)r)) : (float)r;
    }
    return v;
}

static void check_vs_ref(avf_dtype dt, const float *got, const double *want, int64_t n) {
    if (dt == AVF_DTYPE_U8) {
        double worst = 0;
        for (int64_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(got[i] - fmin(255.0, fmax(0.0, want[i]))));
        if (!(worst <= 0.51))
            print_error("u8: max abs err %g\n", worst);
        assert_true(worst <= 0.51);
    } else {
        assert_rel_err_below(avf_test_rel_err(got, want, n), dt == AVF_DTYPE_F16 ? 1e-3 : 1e-5);
    }
}

/* ---------------------------------------------------------------- resize */

static void resize_case(int on_gpu, avf_resize_mode mode) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 22 + (uint64_t)mode;
    static const int outs[][2] = {{17, 11}, {61, 40}, {37, 23}, {12, 7}, {5, 23}, {1, 1}};
    for (int lay = 0; lay < 2; lay++)
        for (int k = 0; k < 3; k++)
            for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
                avf_dtype dt = dts[k];
                img_dims gi = {2, 3, 23, 37, (avf_image_layout)lay};
                img_dims go = gi;
                go.W = outs[o][0];
                go.H = outs[o][1];
                int64_t ni = gi.N * gi.C * gi.H * gi.W, no = go.N * go.C * go.H * go.W;
                float *x = random_image(dt, ni, &seed);
                double *want = malloc((size_t)no * sizeof *want);
                ref_map(mode, &gi, x, 0, 0, 37, 23, &go, 0, 0, (int)go.W, (int)go.H, NULL, want);
                int64_t di[4], dd[4], chk[4];
                shape_of(&gi, di);
                shape_of(&go, dd);
                avf_image_resize_params p = {(avf_image_layout)lay, mode, (int)go.W, (int)go.H};
                assert_avf_ok(avf_image_resize_shape(&p, 4, di, chk));
                assert_memory_equal(chk, dd, sizeof dd);
                void *hx = host_as(dt, x, ni);
                avf_tensor tx, ty;
                avf_test_tensor(&e.cpu_ctx, &tx, dt, 4, di, hx);
                avf_test_tensor(&e.cpu_ctx, &ty, dt, 4, dd, NULL);
                assert_avf_ok(avf_op_image_resize(&e.cpu_ctx, &p, &tx, &ty));
                float *got = read_f32(&e.cpu_ctx, &ty);
                check_vs_ref(dt, got, want, no);
                if (on_gpu) {
                    avf_tensor gx, gy;
                    avf_test_tensor(&e.gpu_ctx, &gx, dt, 4, di, hx);
                    avf_test_tensor(&e.gpu_ctx, &gy, dt, 4, dd, NULL);
                    assert_avf_ok(avf_op_image_resize(&e.gpu_ctx, &p, &gx, &gy));
                    float *gg = read_f32(&e.gpu_ctx, &gy);
                    assert_gpu_matches(dt, gg, got, no);
                    free(gg);
                    avf_tensor_release(&gx, e.gpu_stream);
                    avf_tensor_release(&gy, e.gpu_stream);
                }
                free(got);
                free(hx);
                free(x);
                free(want);
                avf_tensor_release(&tx, NULL);
                avf_tensor_release(&ty, NULL);
            }
    avf_test_env_free(&e);
}

static void test_resize_bilinear(void **state) { (void)state; resize_case(0, AVF_RESIZE_BILINEAR); }
static void test_resize_bilinear_cuda(void **state) { (void)state; resize_case(1, AVF_RESIZE_BILINEAR); }
static void test_resize_area(void **state) { (void)state; resize_case(0, AVF_RESIZE_AREA); }
static void test_resize_area_cuda(void **state) { (void)state; resize_case(1, AVF_RESIZE_AREA); }

/* ---------------------------------------------------------------- letterbox, crop, normalize */

static void lcn_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 23;
    /* geometry: 37x23 into 32x32 -> 32x20 at y 6; corners map back */
    avf_letterbox_geom g;
    assert_avf_ok(avf_letterbox_fit(37, 23, 32, 32, &g));
    assert_int_equal(g.box.x, 0);
    assert_int_equal(g.box.w, 32);
    assert_int_equal(g.box.h, 20);
    assert_int_equal(g.box.y, 6);
    double sx, sy;
    avf_letterbox_unmap(&g, 32.0, 26.0, &sx, &sy);
    assert_true(fabs(sx - 37.0) < 1e-9 && fabs(sy - 23.0) < 1e-9);
    for (int lay = 0; lay < 2; lay++)
        for (int k = 0; k < 3; k++) {
            avf_dtype dt = dts[k];
            img_dims gi = {2, 3, 23, 37, (avf_image_layout)lay};
            int64_t ni = gi.N * gi.C * gi.H * gi.W, di[4];
            shape_of(&gi, di);
            float *x = random_image(dt, ni, &seed);
            void *hx = host_as(dt, x, ni);
            avf_test_env *env = &e;
            avf_op_ctx *ctxs[2] = {&env->cpu_ctx, on_gpu ? &env->gpu_ctx : NULL};
            float *res[2][3] = {{0}};
            int64_t nres[3] = {0};
            for (int dev = 0; dev < 2 && ctxs[dev]; dev++) {
                avf_op_ctx *ctx = ctxs[dev];
                avf_tensor tx;
                avf_test_tensor(ctx, &tx, dt, 4, di, hx);
                /* letterbox, area or bilinear by layout, pad per channel */
                avf_image_letterbox_params lp = {(avf_image_layout)lay,
                                                 lay ? AVF_RESIZE_AREA : AVF_RESIZE_BILINEAR, 32, 32,
                                                 {114, 0, 255}};
                img_dims go = gi;
                go.W = go.H = 32;
                int64_t dl[4];
                shape_of(&go, dl);
                avf_tensor tl;
                avf_test_tensor(ctx, &tl, dt, 4, dl, NULL);
                avf_letterbox_geom lg;
                assert_avf_ok(avf_op_image_letterbox(ctx, &lp, &tx, &tl, &lg));
                assert_memory_equal(&lg.box, &g.box, sizeof g.box);
                res[dev][0] = read_f32(ctx, &tl);
                nres[0] = avf_tensor_numel(&tl);
                /* crop: exact */
                avf_rect roi = {5, 3, 19, 13};
                img_dims gc = gi;
                gc.W = 19;
                gc.H = 13;
                int64_t dc[4];
                shape_of(&gc, dc);
                avf_tensor tc;
                avf_test_tensor(ctx, &tc, dt, 4, dc, NULL);
                assert_avf_ok(avf_op_image_crop(ctx, (avf_image_layout)lay, &roi, &tx, &tc));
                res[dev][1] = read_f32(ctx, &tc);
                nres[1] = avf_tensor_numel(&tc);
                /* normalize into f32 */
                avf_image_norm_params np = {(avf_image_layout)lay, 1.0f / 255.0f, 3,
                                            {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
                avf_tensor tn;
                avf_test_tensor(ctx, &tn, AVF_DTYPE_F32, 4, di, NULL);
                assert_avf_ok(avf_op_image_normalize(ctx, &np, &tx, &tn));
                res[dev][2] = read_f32(ctx, &tn);
                nres[2] = ni;
                if (dev == 0) {
                    double *want = malloc((size_t)(nres[0] > ni ? nres[0] : ni) * sizeof *want);
                    ref_map(lp.mode, &gi, x, 0, 0, 37, 23, &go, g.box.x, g.box.y, g.box.w,
                            g.box.h, lp.pad, want);
                    check_vs_ref(dt, res[0][0], want, nres[0]);
                    for (int64_t n = 0; n < gc.N; n++)
                        for (int64_t c = 0; c < 3; c++)
                            for (int64_t y = 0; y < gc.H; y++)
                                for (int64_t xx = 0; xx < gc.W; xx++)
                                    assert_true(res[0][1][at(&gc, n, c, y, xx)] ==
                                                x[at(&gi, n, c, y + 3, xx + 5)]);
                    for (int64_t n = 0; n < gi.N; n++)
                        for (int64_t c = 0; c < 3; c++)
                            for (int64_t y = 0; y < gi.H; y++)
                                for (int64_t xx = 0; xx < gi.W; xx++) {
                                    int64_t i = at(&gi, n, c, y, xx);
                                    want[i] = ((double)x[i] / 255.0 - np.mean[c]) / np.std[c];
                                }
                    assert_rel_err_below(avf_test_rel_err(res[0][2], want, ni), 1e-6);
                    free(want);
                }
                avf_tensor_release(&tx, ctx->stream);
                avf_tensor_release(&tl, ctx->stream);
                avf_tensor_release(&tc, ctx->stream);
                avf_tensor_release(&tn, ctx->stream);
            }
            for (int r = 0; r < 3; r++) {
                if (on_gpu)
                    assert_gpu_matches(r == 2 ? AVF_DTYPE_F32 : dt, res[1][r], res[0][r], nres[r]);
                free(res[0][r]);
                free(res[1][r]);
            }
            free(hx);
            free(x);
        }
    avf_test_env_free(&e);
}

static void test_letterbox_crop_normalize(void **state) { (void)state; lcn_case(0); }
static void test_letterbox_crop_normalize_cuda(void **state) { (void)state; lcn_case(1); }

/* ---------------------------------------------------------------- bad inputs */

static void test_bad_inputs(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint64_t seed = 24;
    avf_op_ctx *ctx = &e.cpu_ctx;
    test_frame f;
    tf_make(&f, AVF_YUV_NV12, 38, 24, 10, &seed);
    avf_yuv_colour c = {AVF_YUV_BT709, AVF_YUV_LIMITED, AVF_RGB};
    int64_t d[3] = {3, 24, 38};
    avf_tensor t, ti;
    avf_test_tensor(ctx, &t, AVF_DTYPE_F32, 3, d, NULL);
    avf_test_tensor(ctx, &ti, AVF_DTYPE_I32, 3, d, NULL);
    avf_yuv_frame fd = tf_desc(&f, ctx), bad = fd;
    assert_avf_ok(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &fd, &t));
    bad.width = 37; /* odd NV12 size */
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.y_pitch = 30; /* pitch < width */
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.format = AVF_YUV_P010; /* pitch 48 < 2 * 38 */
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.format = AVF_YUV_P010;
    bad.y_pitch = bad.uv_pitch = 77; /* P010 rows of u16 need an even pitch */
    bad.y = f.y;
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.height = 0;
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.width = 20000;
    bad.y_pitch = bad.uv_pitch = 20000; /* oversized */
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.device = NULL;
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    bad = fd;
    bad.uv = NULL;
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &bad, &t), AVF_ERR_INVALID_ARG);
    /* wrong dtype, wrong shape, unknown matrix */
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NCHW, &fd, &ti), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &c, AVF_IMAGE_NHWC, &fd, &t), AVF_ERR_INVALID_ARG);
    avf_yuv_colour cb = {(avf_yuv_matrix)7, AVF_YUV_LIMITED, AVF_RGB};
    assert_avf_fails(avf_op_yuv_to_rgb(ctx, &cb, AVF_IMAGE_NCHW, &fd, &t), AVF_ERR_INVALID_ARG);
    /* resize: oversized output, wrong output dtype, rank */
    avf_image_resize_params rp = {AVF_IMAGE_NCHW, AVF_RESIZE_BILINEAR, 20000, 10};
    int64_t od[3];
    assert_avf_fails(avf_image_resize_shape(&rp, 3, d, od), AVF_ERR_INVALID_ARG);
    rp.out_w = 38;
    rp.out_h = 24;
    assert_avf_fails(avf_op_image_resize(ctx, &rp, &t, &ti), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_op_image_resize(ctx, &rp, &ti, &ti), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_image_resize_shape(&rp, 2, d, od), AVF_ERR_INVALID_ARG);
    int64_t big[4] = {5000, 3, 4, 4};
    assert_avf_fails(avf_image_resize_shape(&rp, 4, big, od), AVF_ERR_INVALID_ARG);
    /* crop outside, normalize with a zero std */
    avf_rect roi = {30, 0, 10, 10};
    assert_avf_fails(avf_image_crop_shape(AVF_IMAGE_NCHW, &roi, 3, d, od), AVF_ERR_INVALID_ARG);
    avf_image_norm_params np = {AVF_IMAGE_NCHW, 1, 3, {0, 0, 0}, {1, 0, 1}};
    assert_avf_fails(avf_op_image_normalize(ctx, &np, &t, &t), AVF_ERR_INVALID_ARG);
    /* preprocess: bad slot, duplicate slot, ROI outside, batch too big, u8 normalized */
    int64_t bd[4] = {2, 3, 16, 16};
    avf_tensor tb;
    avf_test_tensor(ctx, &tb, AVF_DTYPE_F32, 4, bd, NULL);
    avf_preprocess_params pp;
    memset(&pp, 0, sizeof pp);
    avf_preprocess_item it[2] = {{fd, {0, 0, 0, 0}, 0}, {fd, {0, 0, 0, 0}, 0}};
    assert_avf_fails(avf_op_preprocess(ctx, &pp, it, 2, &tb, NULL), AVF_ERR_INVALID_ARG);
    it[1].slot = 2;
    assert_avf_fails(avf_op_preprocess(ctx, &pp, it, 2, &tb, NULL), AVF_ERR_INVALID_ARG);
    it[1].slot = 1;
    it[1].roi = (avf_rect){30, 20, 10, 10};
    assert_avf_fails(avf_op_preprocess(ctx, &pp, it, 2, &tb, NULL), AVF_ERR_INVALID_ARG);
    it[1].roi = (avf_rect){0, 0, 0, 0};
    assert_avf_ok(avf_op_preprocess(ctx, &pp, it, 2, &tb, NULL));
    assert_avf_fails(avf_op_preprocess(ctx, &pp, it, 5000, &tb, NULL), AVF_ERR_INVALID_ARG);
    avf_tensor tu;
    avf_test_tensor(ctx, &tu, AVF_DTYPE_U8, 4, bd, NULL);
    pp.norm.scale = 0.5f;
    assert_avf_fails(avf_op_preprocess(ctx, &pp, it, 2, &tu, NULL), AVF_ERR_UNSUPPORTED);
    /* letterbox geometry bounds */
    avf_letterbox_geom g;
    assert_avf_fails(avf_letterbox_fit(0, 10, 10, 10, &g), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_letterbox_fit(10, 10, 10, 17000, &g), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&t, NULL);
    avf_tensor_release(&ti, NULL);
    avf_tensor_release(&tb, NULL);
    avf_tensor_release(&tu, NULL);
    tf_free(&f, NULL);
    avf_test_env_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colour),
        cmocka_unit_test(test_colour_cuda),
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_resize_bilinear_cuda),
        cmocka_unit_test(test_resize_area),
        cmocka_unit_test(test_resize_area_cuda),
        cmocka_unit_test(test_letterbox_crop_normalize),
        cmocka_unit_test(test_letterbox_crop_normalize_cuda),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
