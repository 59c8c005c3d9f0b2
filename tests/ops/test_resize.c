/* Resize: CPU against a naive separable reference (1-D interpolation along
 * each axis in turn, as ONNX's reference does), values from ONNX's own
 * examples, CUDA against CPU, and the planning/parsing error paths; cubic
 * against taps picked the way ONNX's reference picks them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "op_test_util.h"
#include "ops/conv.h"

/* Source coordinate, written from the ONNX spec's formulas (length_resized
 * being scale * in where the formulas use it). */
static double ref_coord(avf_resize_coord m, double x, double in, double out, double scale,
                        double r0, double r1) {
    double lr = scale * in;
    switch (m) {
    case AVF_RESIZE_TF_CROP_AND_RESIZE:
        return out > 1.0 ? r0 * (in - 1.0) + x * (r1 - r0) * (in - 1.0) / (out - 1.0)
                         : 0.5 * (r0 + r1) * (in - 1.0);
    case AVF_RESIZE_ALIGN_CORNERS: return lr == 1.0 ? 0.0 : x * (in - 1.0) / (lr - 1.0);
    case AVF_RESIZE_ASYMMETRIC: return x / scale;
    case AVF_RESIZE_PYTORCH_HALF_PIXEL: return out > 1.0 ? (x + 0.5) / scale - 0.5 : 0.0;
    case AVF_RESIZE_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case AVF_RESIZE_HALF_PIXEL_SYMMETRIC:
        return in / 2.0 * (1.0 - out / lr) + (x + 0.5) / scale - 0.5;
    default: return (x + 0.5) / scale - 0.5;
    }
}

static int64_t clampi(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* Keys' cubic kernel at distance t (ONNX's coefficients written as one
 * function of |t|). */
static double keys(double t, double a) {
    t = fabs(t);
    if (t <= 1.0)
        return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    if (t < 2.0)
        return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    return 0.0;
}

/* Cubic taps the way ONNX's reference picks them: the 4 integers nearest
 * to xs (ties to the lower one), ascending; ratio 1 when xs is whole. */
static void ref_cubic(double xs, int64_t in, double a, int excl, int64_t *idx, double *w) {
    int64_t f = (int64_t)floor(xs), cand[8];
    int n = 0;
    for (int64_t i = f - 3; i <= f + 4; i++)
        cand[n++] = i;
    for (int i = 0; i < n; i++) /* sort by (distance, index) */
        for (int j = i + 1; j < n; j++) {
            double di = fabs(xs - (double)cand[i]), dj = fabs(xs - (double)cand[j]);
            if (dj < di || (dj == di && cand[j] < cand[i])) {
                int64_t t = cand[i];
                cand[i] = cand[j];
                cand[j] = t;
            }
        }
    for (int i = 0; i < 4; i++) /* ascending */
        for (int j = i + 1; j < 4; j++)
            if (cand[j] < cand[i]) {
                int64_t t = cand[i];
                cand[i] = cand[j];
                cand[j] = t;
            }
    double ratio = xs == floor(xs) ? 1.0 : xs - floor(xs), sum = 0.0;
    const double d[4] = {ratio + 1.0, ratio, 1.0 - ratio, 2.0 - ratio};
    for (int k = 0; k < 4; k++) {
        w[k] = keys(d[k], a);
        if (excl && (cand[k] < 0 || cand[k] >= in))
            w[k] = 0.0;
        sum += w[k];
        idx[k] = clampi(cand[k], in);
    }
    if (excl)
        for (int k = 0; k < 4; k++)
            w[k] /= sum;
}

/* One axis: src (outer, in, inner) -> dst (outer, out, inner). */
static void ref_axis(const avf_resize_params *p, int axis, const double *src, double *dst,
                     int64_t outer, int64_t in, int64_t out, int64_t inner) {
    for (int64_t o = 0; o < out; o++) {
        double xs = ref_coord(p->coord, (double)o, (double)in, (double)out, p->scales[axis],
                              p->roi[axis], p->roi[p->ndim + axis]);
        int64_t a, b;
        double wb;
        if (p->coord == AVF_RESIZE_TF_CROP_AND_RESIZE && (xs < 0.0 || xs > (double)(in - 1))) {
            for (int64_t u = 0; u < outer; u++)
                for (int64_t v = 0; v < inner; v++)
                    dst[(u * out + o) * inner + v] = p->extrapolation;
            continue;
        }
        if (p->mode == AVF_RESIZE_CUBIC) {
            int64_t ix[4];
            double w[4];
            ref_cubic(xs, in, p->cubic_a, p->exclude_outside, ix, w);
            for (int64_t u = 0; u < outer; u++)
                for (int64_t v = 0; v < inner; v++) {
                    double acc = 0.0;
                    for (int k = 0; k < 4; k++)
                        acc += w[k] * src[(u * in + ix[k]) * inner + v];
                    dst[(u * out + o) * inner + v] = acc;
                }
            continue;
        }
        if (p->mode == AVF_RESIZE_NEAREST) {
            double f = floor(xs), r = xs - f;
            int64_t i = (int64_t)f;
            if (r != 0.0) {
                if (p->nearest == AVF_RESIZE_CEIL || (p->nearest == AVF_RESIZE_ROUND_PREFER_CEIL && r >= 0.5) ||
                    (p->nearest == AVF_RESIZE_ROUND_PREFER_FLOOR && r > 0.5))
                    i++;
            }
            a = b = clampi(i, in);
            wb = 0.0;
        } else {
            double f = floor(xs);
            a = clampi((int64_t)f, in);
            b = clampi((int64_t)f + 1, in);
            wb = xs - f;
        }
        for (int64_t u = 0; u < outer; u++)
            for (int64_t v = 0; v < inner; v++)
                dst[(u * out + o) * inner + v] = (1.0 - wb) * src[(u * in + a) * inner + v] +
                                                 (wb != 0.0 ? wb * src[(u * in + b) * inner + v] : 0.0);
    }
}

static double *ref_resize(const avf_resize_params *p, int nd, const int64_t *xs, const float *x) {
    int64_t cur[AVF_MAX_DIMS], n = 1;
    for (int i = 0; i < nd; i++) {
        cur[i] = xs[i];
        n *= xs[i];
    }
    double *a = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++)
        a[i] = x[i];
    for (int ax = 0; ax < nd; ax++) {
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < ax; i++)
            outer *= cur[i];
        for (int i = ax + 1; i < nd; i++)
            inner *= cur[i];
        double *b = malloc((size_t)(outer * p->out[ax] * inner + 1) * sizeof(double));
        ref_axis(p, ax, a, b, outer, cur[ax], p->out[ax], inner);
        free(a);
        a = b;
        cur[ax] = p->out[ax];
    }
    return a;
}

typedef struct rs_case {
    const char *name;
    avf_resize_mode mode;
    avf_resize_coord coord;
    avf_resize_nearest nearest;
    int nd;
    int64_t x[4];
    float scales[4]; /* scales, or 0 -> sizes */
    int64_t sizes[4];
} rs_case;

static const rs_case rs_cases[] = {
    /* PaddleOCR det's FPN upsampling */
    {"ppocr nearest asym floor x2", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {1, 3, 5, 7}, {1, 1, 2, 2}, {0}},
    {"ppocr nearest asym floor x4", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {2, 2, 3, 4}, {1, 1, 4, 4}, {0}},
    {"nearest half_pixel rpf down", AVF_RESIZE_NEAREST, AVF_RESIZE_HALF_PIXEL, AVF_RESIZE_ROUND_PREFER_FLOOR, 4, {1, 2, 9, 8}, {1, 1, 0.6f, 0.5f}, {0}},
    {"nearest align ceil sizes", AVF_RESIZE_NEAREST, AVF_RESIZE_ALIGN_CORNERS, AVF_RESIZE_CEIL, 4, {1, 1, 4, 5}, {0}, {1, 1, 7, 9}},
    {"nearest rpc asym sizes", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_ROUND_PREFER_CEIL, 4, {1, 1, 4, 4}, {0}, {1, 1, 8, 7}},
    {"nearest tf_half_pixel_for_nn", AVF_RESIZE_NEAREST, AVF_RESIZE_TF_HALF_PIXEL_FOR_NN, AVF_RESIZE_ROUND_PREFER_FLOOR, 4, {1, 1, 4, 4}, {0}, {1, 1, 3, 2}},
    /* enough rows (3,840 of 162) for the row kernel to split them across
     * threads, chunks starting inside a plane */
    {"nearest x2 threaded rows", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {1, 24, 80, 81}, {1, 1, 2, 2}, {0}},
    {"nearest leading axis x2, wide", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {2, 3, 40, 70}, {1, 2, 2, 2}, {0}},
    /* rows kernel (N, C map to themselves): 16-byte stores, and a grid-stride loop */
    {"nearest rows x2, vector stores", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {2, 8, 10, 20}, {1, 1, 2, 2}, {0}},
    {"nearest rows x2, grid-stride", AVF_RESIZE_NEAREST, AVF_RESIZE_ASYMMETRIC, AVF_RESIZE_FLOOR, 4, {8, 32, 80, 80}, {1, 1, 2, 2}, {0}},
    {"nearest rows half_pixel x3", AVF_RESIZE_NEAREST, AVF_RESIZE_HALF_PIXEL, AVF_RESIZE_ROUND_PREFER_FLOOR, 3, {5, 7, 9}, {1, 3, 3}, {0}},
    {"linear half_pixel up", AVF_RESIZE_LINEAR, AVF_RESIZE_HALF_PIXEL, 0, 4, {2, 3, 4, 5}, {1, 1, 2, 1.5f}, {0}},
    {"linear align_corners down", AVF_RESIZE_LINEAR, AVF_RESIZE_ALIGN_CORNERS, 0, 4, {1, 2, 6, 8}, {1, 1, 0.6f, 0.6f}, {0}},
    {"linear asymmetric", AVF_RESIZE_LINEAR, AVF_RESIZE_ASYMMETRIC, 0, 4, {1, 2, 5, 4}, {1, 1, 1.7f, 2.5f}, {0}},
    {"linear pytorch sizes", AVF_RESIZE_LINEAR, AVF_RESIZE_PYTORCH_HALF_PIXEL, 0, 4, {1, 2, 6, 5}, {0}, {1, 2, 3, 1}},
    {"linear half_pixel_symmetric", AVF_RESIZE_LINEAR, AVF_RESIZE_HALF_PIXEL_SYMMETRIC, 0, 4, {1, 1, 5, 6}, {1, 1, 1.7f, 0.8f}, {0}},
    {"linear 1d (kokoro)", AVF_RESIZE_LINEAR, AVF_RESIZE_HALF_PIXEL, 0, 3, {1, 4, 12}, {1, 1, 3}, {0}},
    {"linear all axes", AVF_RESIZE_LINEAR, AVF_RESIZE_HALF_PIXEL, 0, 3, {2, 3, 4}, {2, 0.7f, 1.5f}, {0}},
};

static void case_plan(const rs_case *c, avf_resize_params *p) {
    memset(p, 0, sizeof *p);
    p->mode = c->mode;
    p->coord = c->coord;
    p->nearest = c->nearest;
    if (c->scales[0] > 0.0f)
        assert_avf_ok(avf_resize_plan(p, c->nd, c->x, c->scales, NULL, c->nd, NULL, 0));
    else
        assert_avf_ok(avf_resize_plan(p, c->nd, c->x, NULL, c->sizes, c->nd, NULL, 0));
}

static float *run_resize(avf_op_ctx *ctx, const avf_resize_params *p, int nd, const int64_t *xs,
                         const float *x, avf_dtype dt, int64_t *ny) {
    int64_t ys[AVF_MAX_DIMS], nx = 1;
    int ynd = 0;
    assert_avf_ok(avf_resize_shape(p, nd, xs, &ynd, ys));
    *ny = 1;
    for (int i = 0; i < nd; i++) {
        nx *= xs[i];
        *ny *= ys[i];
    }
    uint16_t *h = malloc((size_t)(nx > *ny ? nx : *ny) * 2);
    avf_tensor tx, ty;
    if (dt == AVF_DTYPE_F16) {
        for (int64_t i = 0; i < nx; i++)
            h[i] = avf_f32_to_f16(x[i]);
        avf_test_tensor(ctx, &tx, dt, nd, xs, h);
    } else {
        avf_test_tensor(ctx, &tx, dt, nd, xs, x);
    }
    avf_test_tensor(ctx, &ty, dt, nd, ys, NULL);
    assert_avf_ok(avf_op_resize(ctx, p, &tx, &ty));
    float *out = malloc((size_t)*ny * sizeof(float));
    if (dt == AVF_DTYPE_F16) {
        avf_test_read(ctx, &ty, h);
        for (int64_t i = 0; i < *ny; i++)
            out[i] = avf_f16_to_f32(h[i]);
    } else {
        avf_test_read(ctx, &ty, out);
    }
    free(h);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    return out;
}

static float *case_input(const rs_case *c, uint64_t seed) {
    int64_t n = 1;
    for (int i = 0; i < c->nd; i++)
        n *= c->x[i];
    float *x = malloc((size_t)n * sizeof(float));
    avf_test_fill_f32(x, n, &seed, -1.0, 1.0);
    return x;
}

static void test_resize_cpu(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    for (size_t i = 0; i < sizeof rs_cases / sizeof rs_cases[0]; i++) {
        const rs_case *c = &rs_cases[i];
        avf_resize_params p;
        case_plan(c, &p);
        float *x = case_input(c, 0x31 + i);
        int64_t ny = 0;
        float *got = run_resize(&env.cpu_ctx, &p, c->nd, c->x, x, AVF_DTYPE_F32, &ny);
        double *want = ref_resize(&p, c->nd, c->x, x);
        double e = avf_test_rel_err(got, want, ny);
        if (!(e <= 1e-6))
            print_error("case '%s'\n", c->name);
        assert_rel_err_below(e, 1e-6);
        free(got);
        free(want);
        free(x);
    }
    avf_test_env_free(&env);
}

/* Values from ONNX's operator examples. */
static void test_resize_onnx_examples(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    int64_t xs[4] = {1, 1, 2, 4}, ny = 0;
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    avf_resize_params p;
    memset(&p, 0, sizeof p);
    /* downsample_scales_linear_align_corners: scales 0.6 -> [1, 3.142857] */
    p.mode = AVF_RESIZE_LINEAR;
    p.coord = AVF_RESIZE_ALIGN_CORNERS;
    const float s06[4] = {1, 1, 0.6f, 0.6f};
    assert_avf_ok(avf_resize_plan(&p, 4, xs, s06, NULL, 4, NULL, 0));
    float *y = run_resize(&env.cpu_ctx, &p, 4, xs, x, AVF_DTYPE_F32, &ny);
    assert_int_equal(ny, 2);
    assert_float_equal(y[0], 1.0f, 1e-5f);
    assert_float_equal(y[1], 3.142857f, 1e-5f);
    free(y);
    /* downsample_scales_linear (half_pixel): [2.6666665, 4.3333331] */
    p.coord = AVF_RESIZE_HALF_PIXEL;
    assert_avf_ok(avf_resize_plan(&p, 4, xs, s06, NULL, 4, NULL, 0));
    y = run_resize(&env.cpu_ctx, &p, 4, xs, x, AVF_DTYPE_F32, &ny);
    assert_float_equal(y[0], 2.6666665f, 1e-5f);
    assert_float_equal(y[1], 4.3333331f, 1e-5f);
    free(y);
    /* downsample_scales_nearest: [1, 3] */
    p.mode = AVF_RESIZE_NEAREST;
    p.nearest = AVF_RESIZE_ROUND_PREFER_FLOOR;
    assert_avf_ok(avf_resize_plan(&p, 4, xs, s06, NULL, 4, NULL, 0));
    y = run_resize(&env.cpu_ctx, &p, 4, xs, x, AVF_DTYPE_F32, &ny);
    assert_float_equal(y[0], 1.0f, 0.0f);
    assert_float_equal(y[1], 3.0f, 0.0f);
    free(y);
    /* keep_aspect_ratio_policy not_larger with axes {2, 3}: sizes 7x8 of a
     * 2x4 -> scale min(3.5, 2) = 2 -> 4x8 */
    const int64_t sz[2] = {7, 8}, axes[2] = {2, -1};
    assert_avf_ok(avf_resize_plan(&p, 4, xs, NULL, sz, 2, axes, 1));
    assert_int_equal(p.out[2], 4);
    assert_int_equal(p.out[3], 8);
    assert_int_equal(p.out[1], 1);
    avf_test_env_free(&env);
}

static void test_resize_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    for (size_t i = 0; i < sizeof rs_cases / sizeof rs_cases[0]; i++) {
        const rs_case *c = &rs_cases[i];
        avf_resize_params p;
        case_plan(c, &p);
        float *x = case_input(c, 0x71 + i);
        int64_t ny = 0;
        for (int f16 = 0; f16 < 2; f16++) {
            avf_dtype dt = f16 ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
            float *cpu = run_resize(&env.cpu_ctx, &p, c->nd, c->x, x, dt, &ny);
            float *gpu = run_resize(&env.gpu_ctx, &p, c->nd, c->x, x, dt, &ny);
            double e = avf_test_rel_err_f32(gpu, cpu, ny);
            if (!(e <= (f16 ? 1e-3 : 1e-6)))
                print_error("case '%s' %s\n", c->name, f16 ? "f16" : "f32");
            assert_rel_err_below(e, f16 ? 1e-3 : 1e-6);
            free(cpu);
            free(gpu);
        }
        free(x);
    }
    avf_test_env_free(&env);
}

/* ---------------------------------------------------------------- cubic, tf_crop_and_resize */

typedef struct rs_case2 {
    const char *name;
    avf_resize_mode mode;
    avf_resize_coord coord;
    int nd;
    int64_t x[4];
    float scales[4]; /* scales, or 0 -> sizes */
    int64_t sizes[4];
    double a;        /* cubic_coeff_a */
    int exclude;
    double ext;      /* extrapolation */
    double roi[8];   /* starts then ends (tf_crop_and_resize) */
} rs_case2;

static const rs_case2 rs_cases2[] = {
    {"cubic half_pixel up", AVF_RESIZE_CUBIC, AVF_RESIZE_HALF_PIXEL, 4, {1, 2, 4, 5}, {1, 1, 2, 1.5f}, {0}, -0.75, 0, 0, {0}},
    {"cubic align_corners down excl", AVF_RESIZE_CUBIC, AVF_RESIZE_ALIGN_CORNERS, 4, {1, 1, 7, 6}, {1, 1, 0.6f, 0.8f}, {0}, -0.5, 1, 0, {0}},
    {"cubic asymmetric sizes", AVF_RESIZE_CUBIC, AVF_RESIZE_ASYMMETRIC, 4, {2, 1, 4, 4}, {0}, {2, 1, 9, 3}, -0.75, 0, 0, {0}},
    {"cubic half_pixel excl up", AVF_RESIZE_CUBIC, AVF_RESIZE_HALF_PIXEL, 4, {1, 1, 4, 4}, {1, 1, 2, 2}, {0}, -0.5, 1, 0, {0}},
    {"cubic all axes 3d", AVF_RESIZE_CUBIC, AVF_RESIZE_PYTORCH_HALF_PIXEL, 3, {3, 4, 5}, {1.5f, 0.7f, 1.9f}, {0}, -0.75, 0, 0, {0}},
    {"crop linear", AVF_RESIZE_LINEAR, AVF_RESIZE_TF_CROP_AND_RESIZE, 4, {1, 1, 6, 6}, {0}, {1, 1, 4, 5}, 0, 0, 10.0, {0, 0, 0.4f, 0.6f, 1, 1, 0.6f, 0.8f}},
    {"crop nearest outside", AVF_RESIZE_NEAREST, AVF_RESIZE_TF_CROP_AND_RESIZE, 4, {1, 2, 5, 5}, {0}, {1, 2, 7, 3}, 0, 0, -5.0, {0, 0, -0.2f, 0.1f, 1, 1, 1.3f, 0.5f}},
    {"crop cubic outside", AVF_RESIZE_CUBIC, AVF_RESIZE_TF_CROP_AND_RESIZE, 4, {1, 1, 6, 7}, {0}, {1, 1, 5, 1}, -0.75, 0, 2.5, {0, 0, 0.1f, -0.1f, 1, 1, 1.2f, 0.9f}},
};

static void case2_plan(const rs_case2 *c, avf_resize_params *p) {
    memset(p, 0, sizeof *p);
    p->mode = c->mode;
    p->coord = c->coord;
    p->nearest = AVF_RESIZE_ROUND_PREFER_FLOOR;
    p->cubic_a = c->a;
    p->exclude_outside = c->exclude;
    p->extrapolation = c->ext;
    if (c->scales[0] > 0.0f)
        assert_avf_ok(avf_resize_plan(p, c->nd, c->x, c->scales, NULL, c->nd, NULL, 0));
    else
        assert_avf_ok(avf_resize_plan(p, c->nd, c->x, NULL, c->sizes, c->nd, NULL, 0));
    for (int a = 0; a < c->nd; a++) {
        p->roi[a] = c->roi[a];
        p->roi[c->nd + a] = c->coord == AVF_RESIZE_TF_CROP_AND_RESIZE ? c->roi[4 + a] : 1.0;
    }
}

static float *case2_input(const rs_case2 *c, uint64_t seed) {
    int64_t n = 1;
    for (int i = 0; i < c->nd; i++)
        n *= c->x[i];
    float *x = malloc((size_t)n * sizeof(float));
    avf_test_fill_f32(x, n, &seed, -1.0, 1.0);
    return x;
}

static void test_resize_cubic_crop_cpu(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    for (size_t i = 0; i < sizeof rs_cases2 / sizeof rs_cases2[0]; i++) {
        const rs_case2 *c = &rs_cases2[i];
        avf_resize_params p;
        case2_plan(c, &p);
        float *x = case2_input(c, 0x41 + i);
        int64_t ny = 0;
        float *got = run_resize(&env.cpu_ctx, &p, c->nd, c->x, x, AVF_DTYPE_F32, &ny);
        double *want = ref_resize(&p, c->nd, c->x, x);
        double e = avf_test_rel_err(got, want, ny);
        if (!(e <= 1e-6))
            print_error("case '%s'\n", c->name);
        assert_rel_err_below(e, 1e-6);
        free(got);
        free(want);
        free(x);
    }
    /* ONNX's example: cubic, A = -0.75, half_pixel, 4x4 -> 8x8, first row */
    int64_t xs[4] = {1, 1, 4, 4}, ny = 0;
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    avf_resize_params p;
    memset(&p, 0, sizeof p);
    p.mode = AVF_RESIZE_CUBIC;
    p.cubic_a = -0.75;
    const float sc[4] = {1, 1, 2, 2};
    assert_avf_ok(avf_resize_plan(&p, 4, xs, sc, NULL, 4, NULL, 0));
    float *y = run_resize(&env.cpu_ctx, &p, 4, xs, x, AVF_DTYPE_F32, &ny);
    const float row0[8] = {0.47265625f, 0.76953125f, 1.24609375f, 1.875f,
                           2.28125f,    2.91015625f, 3.38671875f, 3.68359375f};
    for (int i = 0; i < 8; i++)
        assert_true(fabsf(y[i] - row0[i]) < 1e-5f);
    free(y);
    /* integers cannot take cubic; nearest with extrapolation takes floats only */
    p.mode = AVF_RESIZE_CUBIC;
    avf_tensor tx, ty;
    int64_t ys[4] = {1, 1, 8, 8};
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_U8, 4, xs, NULL);
    avf_test_tensor(&env.cpu_ctx, &ty, AVF_DTYPE_U8, 4, ys, NULL);
    assert_int_equal(avf_op_resize(&env.cpu_ctx, &p, &tx, &ty), AVF_ERR_UNSUPPORTED);
    p.mode = AVF_RESIZE_NEAREST;
    p.coord = AVF_RESIZE_TF_CROP_AND_RESIZE;
    assert_int_equal(avf_op_resize(&env.cpu_ctx, &p, &tx, &ty), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_test_env_free(&env);
}

/* The CUDA cubic and tf_crop_and_resize paths against the CPU kernel. */
static void test_resize_cubic_crop_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    for (size_t i = 0; i < sizeof rs_cases2 / sizeof rs_cases2[0]; i++) {
        const rs_case2 *c = &rs_cases2[i];
        avf_resize_params p;
        case2_plan(c, &p);
        float *x = case2_input(c, 0x81 + i);
        int64_t ny = 0;
        for (int f16 = 0; f16 < 2; f16++) {
            avf_dtype dt = f16 ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
            float *cpu = run_resize(&env.cpu_ctx, &p, c->nd, c->x, x, dt, &ny);
            float *gpu = run_resize(&env.gpu_ctx, &p, c->nd, c->x, x, dt, &ny);
            double e = avf_test_rel_err_f32(gpu, cpu, ny);
            if (!(e <= (f16 ? 1e-3 : 1e-6)))
                print_error("case '%s' %s\n", c->name, f16 ? "f16" : "f32");
            assert_rel_err_below(e, f16 ? 1e-3 : 1e-6);
            free(cpu);
            free(gpu);
        }
        free(x);
    }
    avf_test_env_free(&env);
}

static void test_resize_errors(void **state) {
    (void)state;
    avf_resize_mode m;
    avf_resize_coord c;
    avf_resize_nearest n;
    assert_avf_ok(avf_resize_mode_parse("cubic", &m));
    assert_int_equal(m, AVF_RESIZE_CUBIC);
    assert_int_equal(avf_resize_mode_parse("area", &m), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_resize_coord_parse("tf_crop_and_resize", &c));
    assert_int_equal(c, AVF_RESIZE_TF_CROP_AND_RESIZE);
    assert_int_equal(avf_resize_coord_parse("bogus", &c), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_resize_nearest_parse("round", &n), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_resize_nearest_parse("ceil", &n));
    assert_int_equal(n, AVF_RESIZE_CEIL);
    avf_resize_params p;
    memset(&p, 0, sizeof p);
    int64_t xs[4] = {1, 1, 2, 4}, sz[4] = {1, 1, 4, 8}, ys[8];
    const float bad[4] = {1, 1, -2, 2}, good[4] = {1, 1, 2, 2};
    assert_int_equal(avf_resize_plan(&p, 4, xs, bad, NULL, 4, NULL, 0), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_resize_plan(&p, 4, xs, good, sz, 4, NULL, 0), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_resize_plan(&p, 4, xs, good, NULL, 3, NULL, 0), AVF_ERR_INVALID_ARG);
    const int64_t dup[2] = {2, -2};
    assert_int_equal(avf_resize_plan(&p, 4, xs, good, NULL, 2, dup, 0), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_resize_plan(&p, 4, xs, NULL, sz, 4, NULL, 0));
    int ynd;
    assert_int_equal(avf_resize_shape(&p, 3, xs, &ynd, ys), AVF_ERR_INVALID_ARG);
    /* linear on integers is refused */
    avf_test_env env;
    avf_test_env_init(&env);
    p.mode = AVF_RESIZE_LINEAR;
    avf_tensor tx, ty;
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_I32, 4, xs, NULL);
    avf_test_tensor(&env.cpu_ctx, &ty, AVF_DTYPE_I32, 4, sz, NULL);
    assert_int_equal(avf_op_resize(&env.cpu_ctx, &p, &tx, &ty), AVF_ERR_UNSUPPORTED);
    /* nearest copies any dtype */
    p.mode = AVF_RESIZE_NEAREST;
    memset(tx.data, 0, avf_tensor_nbytes(&tx));
    assert_avf_ok(avf_op_resize(&env.cpu_ctx, &p, &tx, &ty));
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_test_env_free(&env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_cpu),
        cmocka_unit_test(test_resize_onnx_examples),
        cmocka_unit_test(test_resize_cuda),
        cmocka_unit_test(test_resize_cubic_crop_cpu),
        cmocka_unit_test(test_resize_cubic_crop_cuda),
        cmocka_unit_test(test_resize_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
