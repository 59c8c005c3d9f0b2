/* Drawing (ops/image.h): rectangles against painting each outline in order
 * in the test, mask blending against the formula in double, text against
 * glyph shapes written out here; packed and planar images; CUDA output
 * identical to the CPU's; bad draw lists give statuses. */
#include "test_image_util.h"

enum { W = 53, H = 37 };

static int64_t px(avf_image_layout lay, int x, int y, int c) {
    return lay == AVF_IMAGE_NHWC ? ((int64_t)y * W + x) * 3 + c : ((int64_t)c * H + y) * W + x;
}

static void random_rgb(uint8_t *img, uint64_t *seed) {
    for (int i = 0; i < W * H * 3; i++)
        img[i] = (uint8_t)avf_test_rand(seed, 0, 256);
}

static void shape_for(avf_image_layout lay, int64_t *d) {
    d[0] = lay == AVF_IMAGE_NHWC ? H : 3;
    d[1] = lay == AVF_IMAGE_NHWC ? W : H;
    d[2] = lay == AVF_IMAGE_NHWC ? 3 : W;
}

typedef avf_status (*draw_fn)(avf_op_ctx *ctx, avf_image_layout lay, const void *arg, int n,
                              avf_tensor *img);

static avf_status call_rects(avf_op_ctx *ctx, avf_image_layout lay, const void *arg, int n,
                             avf_tensor *img) {
    return avf_op_draw_rects(ctx, lay, (const avf_draw_rect *)arg, n, img);
}
static avf_status call_text(avf_op_ctx *ctx, avf_image_layout lay, const void *arg, int n,
                            avf_tensor *img) {
    return avf_op_draw_text(ctx, lay, (const avf_draw_label *)arg, n, img);
}

/* Draws on a copy of `in` on ctx and returns the result. */
static uint8_t *draw_on(avf_op_ctx *ctx, avf_image_layout lay, const uint8_t *in, draw_fn fn,
                        const void *arg, int n) {
    int64_t d[3];
    shape_for(lay, d);
    avf_tensor t;
    avf_test_tensor(ctx, &t, AVF_DTYPE_U8, 3, d, in);
    assert_avf_ok(fn(ctx, lay, arg, n, &t));
    uint8_t *out = malloc((size_t)W * H * 3);
    avf_test_read(ctx, &t, out);
    avf_tensor_release(&t, ctx->stream);
    return out;
}

static void rects_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 51;
    avf_draw_rect r[5] = {
        {{2, 3, 20, 15}, 2, {255, 0, 0}},
        {{10, 8, 30, 20}, 1, {0, 255, 0}},     /* overlaps the first: drawn on top */
        {{-5, -4, 12, 10}, 3, {0, 0, 255}},    /* off the top-left corner */
        {{45, 30, 20, 20}, 4, {9, 99, 199}},   /* off the bottom-right corner */
        {{30, 2, 6, 5}, 3, {200, 100, 50}},    /* thick enough to fill */
    };
    uint8_t *in = malloc((size_t)W * H * 3), *want = malloc((size_t)W * H * 3);
    random_rgb(in, &seed);
    for (int lay = 0; lay < 2; lay++) {
        memcpy(want, in, (size_t)W * H * 3);
        for (int i = 0; i < 5; i++) /* paint outlines in order: later on top */
            for (int y = r[i].r.y; y < r[i].r.y + r[i].r.h; y++)
                for (int x = r[i].r.x; x < r[i].r.x + r[i].r.w; x++) {
                    int t = r[i].thickness;
                    int edge = x - r[i].r.x < t || r[i].r.x + r[i].r.w - 1 - x < t ||
                               y - r[i].r.y < t || r[i].r.y + r[i].r.h - 1 - y < t;
                    if (edge && x >= 0 && y >= 0 && x < W && y < H)
                        for (int c = 0; c < 3; c++)
                            want[px((avf_image_layout)lay, x, y, c)] = r[i].rgb[c];
                }
        uint8_t *got = draw_on(&e.cpu_ctx, (avf_image_layout)lay, in, call_rects, r, 5);
        assert_memory_equal(got, want, (size_t)W * H * 3);
        if (on_gpu) {
            uint8_t *g = draw_on(&e.gpu_ctx, (avf_image_layout)lay, in, call_rects, r, 5);
            assert_memory_equal(g, got, (size_t)W * H * 3);
            free(g);
        }
        free(got);
    }
    /* bad lists */
    int64_t d[3];
    shape_for(AVF_IMAGE_NHWC, d);
    avf_tensor t;
    avf_test_tensor(&e.cpu_ctx, &t, AVF_DTYPE_U8, 3, d, in);
    avf_draw_rect bad = {{0, 0, 5, 5}, 0, {1, 2, 3}};
    assert_avf_fails(avf_op_draw_rects(&e.cpu_ctx, AVF_IMAGE_NHWC, &bad, 1, &t), AVF_ERR_INVALID_ARG);
    bad.thickness = 1;
    bad.r.w = -1;
    assert_avf_fails(avf_op_draw_rects(&e.cpu_ctx, AVF_IMAGE_NHWC, &bad, 1, &t), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_draw_rects(&e.cpu_ctx, AVF_IMAGE_NHWC, r, 129, &t), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_draw_rects(&e.cpu_ctx, AVF_IMAGE_NCHW, r, 1, &t), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&t, NULL);
    avf_test_tensor(&e.cpu_ctx, &t, AVF_DTYPE_F32, 3, d, NULL);
    assert_avf_fails(avf_op_draw_rects(&e.cpu_ctx, AVF_IMAGE_NHWC, r, 1, &t), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&t, NULL);
    free(in);
    free(want);
    avf_test_env_free(&e);
}

static void test_draw_rects(void **state) { (void)state; rects_case(0); }
static void test_draw_rects_cuda(void **state) { (void)state; rects_case(1); }

static void mask_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 52;
    uint8_t *in = malloc((size_t)W * H * 3), colour[3] = {250, 20, 128};
    random_rgb(in, &seed);
    uint8_t m8[W * H];
    float mf[W * H];
    for (int i = 0; i < W * H; i++) {
        m8[i] = (uint8_t)avf_test_rand(&seed, 0, 256);
        mf[i] = (float)avf_test_rand(&seed, -0.2, 1.2); /* clamped to [0, 1] */
    }
    int64_t md[2] = {H, W}, d[3];
    for (int lay = 0; lay < 2; lay++)
        for (int k = 0; k < 2; k++) {
            uint8_t *res[2] = {0};
            for (int dev = 0; dev < 1 + on_gpu; dev++) {
                avf_op_ctx *ctx = dev ? &e.gpu_ctx : &e.cpu_ctx;
                avf_tensor tm, ti;
                avf_test_tensor(ctx, &tm, k ? AVF_DTYPE_F32 : AVF_DTYPE_U8, 2, md,
                                k ? (const void *)mf : (const void *)m8);
                shape_for((avf_image_layout)lay, d);
                avf_test_tensor(ctx, &ti, AVF_DTYPE_U8, 3, d, in);
                assert_avf_ok(avf_op_draw_mask(ctx, (avf_image_layout)lay, &tm, colour, 0.6f, &ti));
                res[dev] = malloc((size_t)W * H * 3);
                avf_test_read(ctx, &ti, res[dev]);
                avf_tensor_release(&tm, ctx->stream);
                avf_tensor_release(&ti, ctx->stream);
            }
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double m = k ? fmin(1.0, fmax(0.0, mf[y * W + x])) : m8[y * W + x] / 255.0;
                    double a = 0.6 * m;
                    for (int c = 0; c < 3; c++) {
                        int64_t i = px((avf_image_layout)lay, x, y, c);
                        double want = in[i] * (1 - a) + colour[c] * a;
                        assert_true(fabs(res[0][i] - want) <= 0.51);
                    }
                }
            if (on_gpu) { /* FMA may move a blend across a rounding boundary: <= 1 */
                for (int i = 0; i < W * H * 3; i++)
                    assert_true(abs((int)res[1][i] - (int)res[0][i]) <= 1);
            }
            free(res[0]);
            free(res[1]);
        }
    avf_tensor tm, ti;
    shape_for(AVF_IMAGE_NHWC, d);
    int64_t wrong[2] = {H, W + 1};
    avf_test_tensor(&e.cpu_ctx, &tm, AVF_DTYPE_U8, 2, wrong, NULL);
    avf_test_tensor(&e.cpu_ctx, &ti, AVF_DTYPE_U8, 3, d, in);
    assert_avf_fails(avf_op_draw_mask(&e.cpu_ctx, AVF_IMAGE_NHWC, &tm, colour, 0.5f, &ti),
                     AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tm, NULL);
    avf_test_tensor(&e.cpu_ctx, &tm, AVF_DTYPE_U8, 2, md, m8);
    assert_avf_fails(avf_op_draw_mask(&e.cpu_ctx, AVF_IMAGE_NHWC, &tm, colour, 1.5f, &ti),
                     AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tm, NULL);
    avf_tensor_release(&ti, NULL);
    free(in);
    avf_test_env_free(&e);
}

static void test_draw_mask(void **state) { (void)state; mask_case(0); }
static void test_draw_mask_cuda(void **state) { (void)state; mask_case(1); }

/* Glyphs as the test expects them (independent of the font's table). */
static const char *const glyph_L = "#....#....#....#....#....#....#####";
static const char *const glyph_7 = "#####....#...#...#...#....#....#...";
static const char *const glyph_box = "######...##...##...##...##...######";

/* Checks the 5x7 cell of character k of a label at (lx, ly), scale s. */
static void check_glyph(const uint8_t *img, avf_image_layout lay, int lx, int ly, int s, int k,
                        const char *art, const uint8_t *fg, const uint8_t *bg) {
    for (int gy = 0; gy < 7; gy++)
        for (int gx = 0; gx < 5; gx++)
            for (int sy = 0; sy < s; sy++)
                for (int sx = 0; sx < s; sx++) {
                    int x = lx + (1 + k * 6 + gx) * s + sx, y = ly + (1 + gy) * s + sy;
                    const uint8_t *want = art[gy * 5 + gx] == '#' ? fg : bg;
                    for (int c = 0; c < 3; c++)
                        assert_int_equal(img[px(lay, x, y, c)], want[c]);
                }
}

static void text_case(int on_gpu) {
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, on_gpu);
    uint64_t seed = 53;
    uint8_t *in = malloc((size_t)W * H * 3);
    random_rgb(in, &seed);
    avf_draw_label l[3];
    memset(l, 0, sizeof l);
    l[0] = (avf_draw_label){1, 1, 2, {255, 255, 255}, 1, {0, 0, 0}, "L7\x01"};
    l[1] = (avf_draw_label){2, 20, 1, {255, 0, 0}, 1, {0, 0, 64}, "l7"}; /* lower case as upper */
    l[2] = (avf_draw_label){40, 30, 3, {0, 255, 0}, 0, {0}, "WXYZ"};    /* clipped, no bg */
    for (int lay = 0; lay < 2; lay++) {
        uint8_t *got = draw_on(&e.cpu_ctx, (avf_image_layout)lay, in, call_text, l, 3);
        const uint8_t *fg0 = l[0].rgb, *bg0 = l[0].bg, *fg1 = l[1].rgb, *bg1 = l[1].bg;
        check_glyph(got, (avf_image_layout)lay, 1, 1, 2, 0, glyph_L, fg0, bg0);
        check_glyph(got, (avf_image_layout)lay, 1, 1, 2, 1, glyph_7, fg0, bg0);
        check_glyph(got, (avf_image_layout)lay, 1, 1, 2, 2, glyph_box, fg0, bg0);
        check_glyph(got, (avf_image_layout)lay, 2, 20, 1, 0, glyph_L, fg1, bg1);
        check_glyph(got, (avf_image_layout)lay, 2, 20, 1, 1, glyph_7, fg1, bg1);
        /* the margin row and column of label 0 are background */
        for (int i = 0; i < 2 * 19; i++)
            assert_int_equal(got[px((avf_image_layout)lay, 1 + i, 1, 2)], 0);
        /* without a background, pixels between strokes keep the image */
        int kept = 0, total = 0;
        for (int y = 30; y < H; y++)
            for (int x = 40; x < W; x++) {
                total++;
                kept += got[px((avf_image_layout)lay, x, y, 0)] == in[px((avf_image_layout)lay, x, y, 0)];
            }
        assert_true(kept > total / 4 && kept < total);
        if (on_gpu) {
            uint8_t *g = draw_on(&e.gpu_ctx, (avf_image_layout)lay, in, call_text, l, 3);
            assert_memory_equal(g, got, (size_t)W * H * 3);
            free(g);
        }
        free(got);
    }
    int64_t d[3];
    shape_for(AVF_IMAGE_NHWC, d);
    avf_tensor t;
    avf_test_tensor(&e.cpu_ctx, &t, AVF_DTYPE_U8, 3, d, in);
    avf_draw_label bad = l[0];
    bad.scale = 0;
    assert_avf_fails(avf_op_draw_text(&e.cpu_ctx, AVF_IMAGE_NHWC, &bad, 1, &t), AVF_ERR_INVALID_ARG);
    bad.scale = 1;
    memset(bad.text, 'A', sizeof bad.text); /* not terminated */
    assert_avf_fails(avf_op_draw_text(&e.cpu_ctx, AVF_IMAGE_NHWC, &bad, 1, &t), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_draw_text(&e.cpu_ctx, AVF_IMAGE_NHWC, l, 33, &t), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&t, NULL);
    free(in);
    avf_test_env_free(&e);
}

static void test_draw_text(void **state) { (void)state; text_case(0); }
static void test_draw_text_cuda(void **state) { (void)state; text_case(1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw_rects), cmocka_unit_test(test_draw_rects_cuda),
        cmocka_unit_test(test_draw_mask),  cmocka_unit_test(test_draw_mask_cuda),
        cmocka_unit_test(test_draw_text),  cmocka_unit_test(test_draw_text_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
