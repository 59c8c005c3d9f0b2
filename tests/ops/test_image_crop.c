/* avf_op_quad_crop (ops/image_crop.h): the CPU kernel against a naive
 * double-precision reference written here (its own projective map, solved
 * as an 8x8 linear system like getPerspectiveTransform; bicubic A = -0.75;
 * bilinear half-pixel resize; u8 rounding between), exact copies for
 * axis-aligned crops of their own size, the padding, the argument checks,
 * and the CUDA kernel against the CPU kernel. */
#include "test_image_util.h"

#include "ops/image_crop.h"

enum { C = 3, SW = 57, SH = 41, H = 16, W = 40, N = 4 };

/* The map crop (u, v) -> source (X, Y) with crop corners (0,0), (cw,0),
 * (cw,ch), (0,ch) on q[0..3]: solve for a..h. */
static void solve_map(const float *q, double cw, double ch, double m[8]) {
    double A[8][9] = {{0}};
    double cu[4] = {0, cw, cw, 0}, cv[4] = {0, 0, ch, ch};
    for (int k = 0; k < 4; k++) {
        double u = cu[k], v = cv[k], X = q[2 * k], Y = q[2 * k + 1];
        double r1[9] = {u, v, 1, 0, 0, 0, -u * X, -v * X, X};
        double r2[9] = {0, 0, 0, u, v, 1, -u * Y, -v * Y, Y};
        memcpy(A[2 * k], r1, sizeof r1);
        memcpy(A[2 * k + 1], r2, sizeof r2);
    }
    for (int c = 0; c < 8; c++) {
        int p = c;
        for (int r = c + 1; r < 8; r++)
            if (fabs(A[r][c]) > fabs(A[p][c]))
                p = r;
        for (int k = 0; k < 9; k++) {
            double t = A[c][k];
            A[c][k] = A[p][k];
            A[p][k] = t;
        }
        for (int r = 0; r < 8; r++)
            if (r != c) {
                double f = A[r][c] / A[c][c];
                for (int k = c; k < 9; k++)
                    A[r][k] -= f * A[c][k];
            }
    }
    for (int i = 0; i < 8; i++)
        m[i] = A[i][8] / A[i][i];
}

static double cubic_w(double x) {
    const double a = -0.75;
    x = fabs(x);
    if (x <= 1)
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

static double u8r(double v) {
    return v <= 0 ? 0 : v >= 255 ? 255 : floor(v + 0.5);
}

static double src_at(const uint8_t *img, int c, int x, int y) {
    x = x < 0 ? 0 : x >= SW ? SW - 1 : x;
    y = y < 0 ? 0 : y >= SH ? SH - 1 : y;
    return img[(c * SH + y) * SW + x];
}

static double crop_px(const uint8_t *img, const double *m, int c, int u, int v) {
    double w = m[6] * u + m[7] * v + 1;
    double X = (m[0] * u + m[1] * v + m[2]) / w, Y = (m[3] * u + m[4] * v + m[5]) / w;
    int x0 = (int)floor(X), y0 = (int)floor(Y);
    double acc = 0;
    for (int j = -1; j <= 2; j++)
        for (int i = -1; i <= 2; i++)
            acc += cubic_w(X - (x0 + i)) * cubic_w(Y - (y0 + j)) * src_at(img, c, x0 + i, y0 + j);
    return u8r(acc);
}

static void axis(int d, double scale, int size, int *i0, int *i1, double *f) {
    double p = (d + 0.5) * scale - 0.5;
    int i = (int)floor(p);
    double fr = p - i;
    if (i < 0) {
        i = 0;
        fr = 0;
    }
    if (i >= size - 1) {
        i = size - 1;
        fr = 0;
    }
    *i0 = i;
    *i1 = i + 1 < size ? i + 1 : size - 1;
    *f = fr;
}

static void reference(const uint8_t *img, const avf_quad_crop_item *it, const avf_quad_crop_params *p,
                      double *out /* [C, H, W] */) {
    double m[8];
    solve_map(it->quad, it->crop_w, it->crop_h, m);
    int cw = (int)it->crop_w, ch = (int)it->crop_h;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double *o = &out[(c * H + y) * W + x];
                if (x >= it->out_w) {
                    *o = p->pad;
                    continue;
                }
                int u0, u1, v0, v1;
                double fu, fv;
                axis(x, (double)cw / it->out_w, cw, &u0, &u1, &fu);
                axis(y, (double)ch / H, ch, &v0, &v1, &fv);
                double a = crop_px(img, m, c, u0, v0), b = crop_px(img, m, c, u1, v0);
                double cc = crop_px(img, m, c, u0, v1), d = crop_px(img, m, c, u1, v1);
                double top = a + (b - a) * fu, bot = cc + (d - cc) * fu;
                *o = u8r(top + (bot - top) * fv) * p->a[c] + p->b[c];
            }
}

static void make_image(uint8_t *img, uint64_t *seed) {
    /* smooth gradients + noise: interpolation differences show */
    for (int c = 0; c < C; c++)
        for (int y = 0; y < SH; y++)
            for (int x = 0; x < SW; x++)
                img[(c * SH + y) * SW + x] =
                    (uint8_t)((x * 4 + y * 3 + c * 50 + (int)avf_test_rand(seed, 0, 40)) % 256);
}

static void items_for(const avf_tensor *src, avf_quad_crop_item *it) {
    static const float quads[N][8] = {
        {5, 4, 45, 6, 44, 20, 4, 18},        /* slightly rotated */
        {10.5f, 8.25f, 50, 8.25f, 50, 30, 10.5f, 30}, /* fractional corners */
        {50, 35, 8, 36, 9, 5, 52, 3},        /* upside down (180 degrees) */
        {-3, -2, 60, 1, 58, 44, -1, 40},     /* outside the image: replicated border */
    };
    static const float sizes[N][2] = {{40, 14}, {39, 21}, {42, 32}, {63, 42}};
    static const int outw[N] = {40, 30, 25, 40};
    for (int i = 0; i < N; i++) {
        memset(&it[i], 0, sizeof it[i]);
        it[i].src = src;
        memcpy(it[i].quad, quads[i], sizeof quads[i]);
        it[i].crop_w = sizes[i][0];
        it[i].crop_h = sizes[i][1];
        it[i].out_w = outw[i];
        it[i].slot = N - 1 - i;
    }
}

static avf_quad_crop_params norm_params(void) {
    avf_quad_crop_params p;
    memset(&p, 0, sizeof p);
    for (int c = 0; c < C; c++) {
        p.a[c] = 2.0f / 255.0f;
        p.b[c] = -1.0f + 0.1f * c;
    }
    p.pad = 0.25f;
    return p;
}

static void test_quad_crop_reference(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint64_t seed = 7;
    uint8_t img[C * SH * SW];
    make_image(img, &seed);
    int64_t sd[3] = {C, SH, SW}, dd[4] = {N, C, H, W};
    avf_tensor src, dst;
    avf_test_tensor(&e.cpu_ctx, &src, AVF_DTYPE_U8, 3, sd, img);
    avf_test_tensor(&e.cpu_ctx, &dst, AVF_DTYPE_F32, 4, dd, NULL);
    avf_quad_crop_item it[N];
    items_for(&src, it);
    avf_quad_crop_params p = norm_params();
    assert_avf_ok(avf_op_quad_crop(&e.cpu_ctx, &p, it, N, &dst));
    const float *got = dst.data;
    double *want = malloc(sizeof(double) * C * H * W);
    double worst = 0;
    int64_t off = 0;
    for (int i = 0; i < N; i++) {
        reference(img, &it[i], &p, want);
        const float *g = got + (int64_t)it[i].slot * C * H * W;
        for (int k = 0; k < C * H * W; k++) {
            double d = fabs(g[k] - want[k]);
            worst = d > worst ? d : worst;
            off += d > 1e-5;
        }
    }
    /* u8 rounding of float vs double may differ by one level at a tie */
    print_message("quad_crop vs reference: max |diff| %.5f (%.2f levels), %lld of %d values off\n",
                  worst, worst * 255 / 2, (long long)off, N * C * H * W);
    assert_true(worst <= 2.0 * 2.0 / 255.0 + 1e-5);
    assert_true(off <= N * C * H * W / 50);
    free(want);
    avf_tensor_release(&src, NULL);
    avf_tensor_release(&dst, NULL);
    avf_test_env_free(&e);
}

/* An axis-aligned quad on pixel centres, cropped to its own size and not
 * resized, is the source region exactly (cubic weights at integer positions
 * are 0, 1, 0, 0). */
static void test_quad_crop_exact_copy(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint64_t seed = 9;
    uint8_t img[C * SH * SW];
    make_image(img, &seed);
    int64_t sd[4] = {1, C, SH, SW}, dd[4] = {1, C, H, W};
    avf_tensor src, dst;
    avf_test_tensor(&e.cpu_ctx, &src, AVF_DTYPE_U8, 4, sd, img);
    avf_test_tensor(&e.cpu_ctx, &dst, AVF_DTYPE_F32, 4, dd, NULL);
    avf_quad_crop_item it;
    memset(&it, 0, sizeof it);
    it.src = &src;
    int x0 = 7, y0 = 11;
    float q[8] = {x0, y0, x0 + W, y0, x0 + W, y0 + H, x0, y0 + H};
    memcpy(it.quad, q, sizeof q);
    it.crop_w = W;
    it.crop_h = H;
    it.out_w = W;
    avf_quad_crop_params p;
    memset(&p, 0, sizeof p);
    for (int c = 0; c < C; c++)
        p.a[c] = 1.0f;
    assert_avf_ok(avf_op_quad_crop(&e.cpu_ctx, &p, &it, 1, &dst));
    const float *g = dst.data;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                assert_float_equal(g[(c * H + y) * W + x], img[(c * SH + y0 + y) * SW + x0 + x], 0);
    avf_tensor_release(&src, NULL);
    avf_tensor_release(&dst, NULL);
    avf_test_env_free(&e);
}

static void test_quad_crop_errors(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint8_t img[C * SH * SW] = {0};
    int64_t sd[3] = {C, SH, SW}, dd[4] = {N, C, H, W}, bad[4] = {N, 2, H, W};
    avf_tensor src, dst, dst2, dst_u8;
    avf_test_tensor(&e.cpu_ctx, &src, AVF_DTYPE_U8, 3, sd, img);
    avf_test_tensor(&e.cpu_ctx, &dst, AVF_DTYPE_F32, 4, dd, NULL);
    avf_test_tensor(&e.cpu_ctx, &dst2, AVF_DTYPE_F32, 4, bad, NULL);
    avf_test_tensor(&e.cpu_ctx, &dst_u8, AVF_DTYPE_U8, 4, dd, NULL);
    avf_quad_crop_params p = norm_params();
    avf_quad_crop_item it[N];
    items_for(&src, it);
    avf_quad_crop_item t = it[0];
    float degen[8] = {1, 1, 5, 5, 9, 9, 13, 13};
    memcpy(t.quad, degen, sizeof degen);
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    t = it[0];
    t.quad[3] = NAN;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    t = it[0];
    t.quad[0] = 1e9f;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    t = it[0];
    t.out_w = W + 1;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    t = it[0];
    t.crop_w = 10.5f;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    t = it[0];
    t.slot = N;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, &t, 1, &dst), AVF_ERR_INVALID_ARG);
    it[1].slot = it[0].slot;
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, it, 2, &dst), AVF_ERR_INVALID_ARG);
    items_for(&src, it);
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, it, N, &dst2), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, it, N, &dst_u8), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_op_quad_crop(&e.cpu_ctx, &p, it, -1, &dst), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_op_quad_crop(&e.cpu_ctx, &p, it, 0, &dst));
    avf_tensor_release(&src, NULL);
    avf_tensor_release(&dst, NULL);
    avf_tensor_release(&dst2, NULL);
    avf_tensor_release(&dst_u8, NULL);
    avf_test_env_free(&e);
}

/* CUDA against CPU, f32 and f16 outputs (30 items: descriptors via scratch). */
static void test_quad_crop_cuda(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, 1);
    enum { M = 30 };
    uint64_t seed = 13;
    uint8_t img[C * SH * SW];
    make_image(img, &seed);
    int64_t sd[3] = {C, SH, SW}, dd[4] = {M, C, H, W};
    avf_tensor cs, gs;
    avf_test_tensor(&e.cpu_ctx, &cs, AVF_DTYPE_U8, 3, sd, img);
    avf_test_tensor(&e.gpu_ctx, &gs, AVF_DTYPE_U8, 3, sd, img);
    avf_quad_crop_item base[N], ci[M], gi[M];
    items_for(&cs, base);
    for (int i = 0; i < M; i++) {
        ci[i] = base[i % N];
        ci[i].slot = i;
        ci[i].quad[0] += (float)(i / N) * 0.37f;
        gi[i] = ci[i];
        gi[i].src = &gs;
    }
    avf_quad_crop_params p = norm_params();
    const avf_dtype dts[2] = {AVF_DTYPE_F32, AVF_DTYPE_F16};
    for (int k = 0; k < 2; k++) {
        avf_tensor cd, gd;
        avf_test_tensor(&e.cpu_ctx, &cd, dts[k], 4, dd, NULL);
        avf_test_tensor(&e.gpu_ctx, &gd, dts[k], 4, dd, NULL);
        assert_avf_ok(avf_op_quad_crop(&e.cpu_ctx, &p, ci, M, &cd));
        assert_avf_ok(avf_op_quad_crop(&e.gpu_ctx, &p, gi, M, &gd));
        float *c = read_f32(&e.cpu_ctx, &cd), *g = read_f32(&e.gpu_ctx, &gd);
        double worst = 0;
        int64_t off = 0, n = (int64_t)M * C * H * W;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs(c[i] - g[i]);
            worst = d > worst ? d : worst;
            off += d > 1e-3;
        }
        print_message("quad_crop cuda vs cpu (%s): max |diff| %.5f, %lld of %lld values off\n",
                      k ? "f16" : "f32", worst, (long long)off, (long long)n);
        /* FMA contraction may move a u8 rounding tie by one level */
        assert_true(worst <= 2.0 * 2.0 / 255.0 + 2e-3);
        assert_true(off <= n / 100);
        free(c);
        free(g);
        avf_tensor_release(&cd, NULL);
        avf_tensor_release(&gd, e.gpu_stream);
    }
    avf_tensor_release(&cs, NULL);
    avf_tensor_release(&gs, e.gpu_stream);
    avf_test_env_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quad_crop_reference),
        cmocka_unit_test(test_quad_crop_exact_copy),
        cmocka_unit_test(test_quad_crop_errors),
        cmocka_unit_test(test_quad_crop_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
