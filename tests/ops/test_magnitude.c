/* Kernel tests: the pair magnitude (ops/magnitude.h), sqrt(first half^2 +
 * second half^2) along an axis: CPU against a double reference written here,
 * CUDA against it (f32 and f16), Silero VAD's shape among them; shape and
 * argument errors. */
#include "op_test_util.h"

#include "ops/magnitude.h"

static avf_test_env env;

static int setup(void **state) {
    (void)state;
    avf_test_env_init(&env);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    avf_test_env_free(&env);
    return 0;
}

typedef struct mcase {
    int nd;
    int64_t shape[4];
    int axis;
} mcase;

static const mcase mcases[] = {
    {3, {3, 258, 4}, 1},  /* Silero VAD's STFT: 2 x 129 channels x 4 frames */
    {3, {2, 6, 5}, -2},   /* a negative axis */
    {2, {5, 8}, 1},       /* the last axis (inner 1) */
    {4, {2, 4, 3, 2}, 0}, /* the first axis (outer 1) */
    {1, {2}, 0},
};

/* Y on ctx for case c in dtype dt, as floats (malloc'd); x: the f32 inputs
 * (rounded to f16 in place when dt is f16, so the reference sees them). */
static float *run(const avf_op_ctx *ctx, const mcase *c, avf_dtype dt, float *x, int64_t n,
                  int64_t half, int *ynd, int64_t *ys) {
    void *xb = malloc((size_t)n * 4);
    assert_non_null(xb);
    for (int64_t i = 0; i < n; i++) {
        if (dt == AVF_DTYPE_F16) {
            ((uint16_t *)xb)[i] = avf_f32_to_f16(x[i]);
            x[i] = avf_f16_to_f32(((uint16_t *)xb)[i]);
        } else {
            ((float *)xb)[i] = x[i];
        }
    }
    assert_avf_ok(avf_pair_magnitude_shape(c->nd, c->shape, c->axis, half, ynd, ys));
    avf_tensor tx, ty;
    avf_test_tensor(ctx, &tx, dt, c->nd, c->shape, xb);
    avf_test_tensor(ctx, &ty, dt, *ynd, ys, NULL);
    assert_avf_ok(avf_op_pair_magnitude((avf_op_ctx *)ctx, &tx, c->axis, half, &ty));
    int64_t ny = avf_tensor_numel(&ty);
    void *yb = malloc((size_t)ny * 4);
    float *y = malloc((size_t)ny * sizeof *y);
    assert_non_null(yb);
    assert_non_null(y);
    avf_test_read(ctx, &ty, yb);
    for (int64_t i = 0; i < ny; i++)
        y[i] = dt == AVF_DTYPE_F16 ? avf_f16_to_f32(((uint16_t *)yb)[i]) : ((float *)yb)[i];
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    free(xb);
    free(yb);
    return y;
}

/* The reference in double. */
static double *reference(const mcase *c, const float *x, int64_t *ny) {
    int a = c->axis < 0 ? c->axis + c->nd : c->axis;
    int64_t outer = 1, inner = 1, h = c->shape[a] / 2;
    for (int d = 0; d < a; d++)
        outer *= c->shape[d];
    for (int d = a + 1; d < c->nd; d++)
        inner *= c->shape[d];
    *ny = outer * h * inner;
    double *r = malloc((size_t)*ny * sizeof *r);
    assert_non_null(r);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t k = 0; k < inner; k++) {
                double re = x[(o * 2 * h + i) * inner + k], im = x[(o * 2 * h + h + i) * inner + k];
                r[(o * h + i) * inner + k] = sqrt(re * re + im * im);
            }
    return r;
}

static void check_device(const avf_op_ctx *ctx, const char *dev) {
    for (size_t ci = 0; ci < sizeof mcases / sizeof mcases[0]; ci++) {
        const mcase *c = &mcases[ci];
        int64_t n = 1;
        for (int d = 0; d < c->nd; d++)
            n *= c->shape[d];
        for (int k = 0; k < 2; k++) {
            avf_dtype dt = k ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
            float *x = malloc((size_t)n * sizeof *x);
            assert_non_null(x);
            uint64_t seed = 0x51 + ci;
            avf_test_fill_f32(x, n, &seed, -3.0, 3.0);
            int ynd = 0;
            int64_t ys[AVF_MAX_DIMS], ny = 0;
            int a = c->axis < 0 ? c->axis + c->nd : c->axis;
            float *y = run(ctx, c, dt, x, n, c->shape[a] / 2, &ynd, ys);
            double *r = reference(c, x, &ny);
            assert_int_equal(ynd, c->nd);
            assert_int_equal(ys[a] * 2, c->shape[a]);
            double e = avf_test_rel_err(y, r, ny), tol = k ? 1e-3 : 1e-6;
            if (!(e <= tol))
                print_error("%s case %zu %s: %g\n", dev, ci, k ? "f16" : "f32", e);
            assert_rel_err_below(e, tol);
            free(x);
            free(y);
            free(r);
        }
    }
}

static void magnitude_cpu(void **state) {
    (void)state;
    check_device(&env.cpu_ctx, "cpu");
}

static void magnitude_cuda(void **state) {
    (void)state;
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
    check_device(&env.gpu_ctx, "cuda");
}

/* An odd axis, a size that is not twice the pattern's half, a bad axis, a
 * wrong Y, an integer X: statuses, no output written. */
static void magnitude_errors(void **state) {
    (void)state;
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    const int64_t odd[] = {2, 5}, vad[] = {1, 258, 4};
    assert_int_equal(avf_pair_magnitude_shape(2, odd, 1, 0, &ynd, ys), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_pair_magnitude_shape(3, vad, 1, 128, &ynd, ys), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_pair_magnitude_shape(3, vad, 3, 0, &ynd, ys), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_pair_magnitude_shape(3, vad, -2, 129, &ynd, ys));
    assert_int_equal(ys[1], 129);
    avf_tensor x, y, yi;
    const int64_t wrong[] = {1, 128, 4};
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, vad, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 3, wrong, NULL);
    avf_test_tensor(&env.cpu_ctx, &yi, AVF_DTYPE_I32, 3, vad, NULL);
    assert_int_equal(avf_op_pair_magnitude(&env.cpu_ctx, &x, 1, 0, &y), AVF_ERR_INVALID_ARG);
    assert_int_not_equal(avf_op_pair_magnitude(&env.cpu_ctx, &yi, 1, 0, &y), AVF_OK);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&yi, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(magnitude_cpu),
        cmocka_unit_test(magnitude_cuda),
        cmocka_unit_test(magnitude_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
