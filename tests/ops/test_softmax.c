/* Kernel tests: Softmax and LogSoftmax, both axis semantics (opset < 13:
 * 2-D coercion at axis; >= 13: one axis), CPU vs a double reference and
 * CUDA vs CPU, large inputs (stability) and shape-function errors. */
#include "op_test_util.h"

#include "ops/reduce.h"

#include "test_reduce_util.h"


typedef struct scase {
    int nd;
    int64_t shape[3];
    int64_t axis;
    int legacy;
} scase;

static const scase scases[] = {
    {3, {2, 3, 4}, 0, 0},  {3, {2, 3, 4}, 1, 0},  {3, {2, 3, 4}, 2, 0}, {3, {2, 3, 4}, -1, 0},
    {3, {2, 3, 4}, 0, 1},  {3, {2, 3, 4}, 1, 1},  {3, {2, 3, 4}, -1, 1}, {2, {5, 2000}, 1, 0},
    {3, {4, 1000, 3}, 1, 0}, {3, {2, 50, 60}, 1, 1}, {1, {1}, 0, 0},
};

static void *run_softmax(avf_op_ctx *ctx, const avf_softmax_params *p, avf_dtype dt, int nd,
                         const int64_t *shape, const void *in) {
    assert_avf_ok(avf_softmax_shape(p, dt, nd, shape));
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &y, dt, nd, shape, NULL);
    assert_avf_ok(avf_op_softmax(ctx, p, &x, &y));
    void *out = malloc(avf_tensor_nbytes(&y));
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

static void softmax_cases(avf_dtype dt, int on_gpu, double lo, double hi) {
    uint64_t seed = 4242 + (uint64_t)dt;
    for (size_t c = 0; c < sizeof scases / sizeof scases[0]; c++) {
        const scase *sc = &scases[c];
        int64_t n = numel_of(sc->nd, sc->shape);
        double *vals = malloc((size_t)n * sizeof *vals), *want = malloc((size_t)n * sizeof *want);
        void *in = rand_buf(dt, n, &seed, lo, hi, 0, vals);
        int a = (int)(sc->axis < 0 ? sc->axis + sc->nd : sc->axis);
        int64_t len = 1, inner = 1;
        for (int d = a; d < sc->nd; d++) {
            if (d == a || sc->legacy)
                len *= sc->shape[d];
            else
                inner *= sc->shape[d];
        }
        for (int lg = 0; lg < 2; lg++) {
            avf_softmax_params p = {sc->axis, sc->legacy, lg};
            void *cpu = run_softmax(&env.cpu_ctx, &p, dt, sc->nd, sc->shape, in);
            if (on_gpu) {
                void *gpu = run_softmax(&env.gpu_ctx, &p, dt, sc->nd, sc->shape, in);
                for (int64_t i = 0; i < n; i++)
                    want[i] = get_d(cpu, dt, i);
                assert_rel_err_below(err_of(gpu, dt, want, n), tol_of(dt));
                free(gpu);
            } else {
                for (int64_t l = 0; l < n / len; l++) {
                    int64_t base = (l / inner) * len * inner + l % inner;
                    double mx = -INFINITY, sum = 0;
                    for (int64_t k = 0; k < len; k++)
                        mx = fmax(mx, vals[base + k * inner]);
                    for (int64_t k = 0; k < len; k++)
                        sum += exp(vals[base + k * inner] - mx);
                    for (int64_t k = 0; k < len; k++) {
                        double v = vals[base + k * inner];
                        want[base + k * inner] = lg ? v - mx - log(sum) : exp(v - mx) / sum;
                    }
                }
                assert_rel_err_below(err_of(cpu, dt, want, n), tol_of(dt));
            }
            free(cpu);
        }
        free(in);
        free(vals);
        free(want);
    }
}

static void test_softmax(void **s) {
    (void)s;
    softmax_cases(AVF_DTYPE_F32, 0, -5, 5);
    softmax_cases(AVF_DTYPE_F16, 0, -5, 5);
    softmax_cases(AVF_DTYPE_F32, 0, 1000, 1010); /* would overflow without max-subtraction */
}

/* The CPU's 8-wide exp (cpu/softmax.c) on a contiguous line of 1003 values
 * from -100 to 0 (max 0: exps from 1 down past f32's range, a partial last
 * vector): each probability within 4e-7 of the double reference where it is
 * above 1e-30, and 0 where e^t is below FLT_MIN; a NaN anywhere makes the
 * line NaN, as in the scalar path, and so does a line of -inf only. */
static void test_softmax_exp_accuracy(void **s) {
    (void)s;
    enum { N = 1003 };
    float x[N];
    double w[N], sum = 0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)(-100.0 * i / (N - 1));
        sum += exp((double)x[i]);
    }
    for (int i = 0; i < N; i++)
        w[i] = exp((double)x[i]) / sum;
    int64_t shape[1] = {N};
    avf_softmax_params p = {0, 0, 0};
    float *y = run_softmax(&env.cpu_ctx, &p, AVF_DTYPE_F32, 1, shape, x);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        if (w[i] > 1e-30) {
            double e = fabs(y[i] - w[i]) / w[i];
            worst = e > worst ? e : worst;
        } else if (x[i] < -87.5f) {
            assert_true(y[i] == 0.0f);
        }
    }
    if (!(worst <= 4e-7))
        print_message("worst relative error %g\n", worst);
    assert_true(worst <= 4e-7);
    free(y);
    x[517] = NAN;
    y = run_softmax(&env.cpu_ctx, &p, AVF_DTYPE_F32, 1, shape, x);
    for (int i = 0; i < N; i++)
        assert_true(isnan(y[i]));
    free(y);
    /* every value -inf: the max is -inf, 0/0 for every element (NaN), as
     * the scalar path and numpy give */
    for (int i = 0; i < N; i++)
        x[i] = -INFINITY;
    y = run_softmax(&env.cpu_ctx, &p, AVF_DTYPE_F32, 1, shape, x);
    for (int i = 0; i < N; i++)
        assert_true(isnan(y[i]));
    free(y);
}

static void test_softmax_cuda(void **s) {
    (void)s;
    need_gpu();
    softmax_cases(AVF_DTYPE_F32, 1, -5, 5);
    softmax_cases(AVF_DTYPE_F16, 1, -5, 5);
    softmax_cases(AVF_DTYPE_F32, 1, 1000, 1010);
}

static void test_softmax_errors(void **s) {
    (void)s;
    const int64_t shape[3] = {2, 3, 4};
    avf_softmax_params p = {3, 0, 0};
    assert_avf_fails(avf_softmax_shape(&p, AVF_DTYPE_F32, 3, shape), AVF_ERR_INVALID_ARG);
    p.axis = -4;
    assert_avf_fails(avf_softmax_shape(&p, AVF_DTYPE_F32, 3, shape), AVF_ERR_INVALID_ARG);
    p.axis = 0;
    assert_avf_fails(avf_softmax_shape(&p, AVF_DTYPE_F32, 0, shape), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_softmax_shape(&p, AVF_DTYPE_I64, 3, shape), AVF_ERR_UNSUPPORTED);
    p.legacy = 1;
    p.axis = -3;
    assert_avf_ok(avf_softmax_shape(&p, AVF_DTYPE_F32, 3, shape));
    avf_tensor x, y;
    const int64_t other[3] = {2, 3, 5};
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 3, other, NULL);
    assert_avf_fails(avf_op_softmax(&env.cpu_ctx, &p, &x, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_softmax_exp_accuracy),
        cmocka_unit_test(test_softmax_errors),
        cmocka_unit_test(test_softmax_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
