/* Kernel tests: ArgMax, CumSum, TopK (CPU vs a naive reference; CUDA vs
 * CPU, exact for indices) and their shape-function errors. */
#include "op_test_util.h"

#include "ops/reduce.h"

#include "test_reduce_util.h"


/* ---------------------------------------------------------------- ArgMax */

typedef struct acase {
    int nd;
    int64_t shape[3];
    int64_t axis;
} acase;

static const acase acases[] = {
    {3, {3, 4, 5}, 0}, {3, {3, 4, 5}, 1}, {3, {3, 4, 5}, -1}, {2, {4, 3000}, 1}, {1, {9}, 0},
};

static int64_t *run_argmax(avf_op_ctx *ctx, const avf_argmax_params *p, avf_dtype dt, int nd,
                           const int64_t *shape, const void *in, int64_t *m) {
    int ond;
    int64_t od[AVF_MAX_DIMS];
    assert_avf_ok(avf_argmax_shape(p, dt, nd, shape, &ond, od));
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &y, AVF_DTYPE_I64, ond, od, NULL);
    assert_avf_ok(avf_op_argmax(ctx, p, &x, &y));
    *m = numel_of(ond, od);
    int64_t *out = malloc((size_t)*m * sizeof *out);
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

static void argmax_cases(avf_dtype dt, int on_gpu) {
    uint64_t seed = 77 + (uint64_t)dt;
    for (size_t c = 0; c < sizeof acases / sizeof acases[0]; c++) {
        const acase *ac = &acases[c];
        int64_t n = numel_of(ac->nd, ac->shape);
        double *vals = malloc((size_t)n * sizeof *vals);
        /* small whole numbers: plenty of ties */
        void *in = rand_buf(dt, n, &seed, -3, 3, 1, vals);
        int a = (int)(ac->axis < 0 ? ac->axis + ac->nd : ac->axis);
        int64_t len = ac->shape[a], inner = 1;
        for (int d = a + 1; d < ac->nd; d++)
            inner *= ac->shape[d];
        for (int v = 0; v < 4; v++) {
            avf_argmax_params p = {ac->axis, v & 1, v >> 1};
            int64_t m, m2;
            int64_t *cpu = run_argmax(&env.cpu_ctx, &p, dt, ac->nd, ac->shape, in, &m);
            assert_int_equal(m, n / len);
            if (!on_gpu) {
                for (int64_t o = 0; o < m; o++) {
                    int64_t base = (o / inner) * len * inner + o % inner, best = 0;
                    for (int64_t k = 1; k < len; k++) {
                        double xv = vals[base + k * inner], bv = vals[base + best * inner];
                        if (xv > bv || (p.select_last_index && xv == bv))
                            best = k;
                    }
                    assert_int_equal(cpu[o], best);
                }
            } else {
                int64_t *gpu = run_argmax(&env.gpu_ctx, &p, dt, ac->nd, ac->shape, in, &m2);
                assert_int_equal(m, m2);
                assert_memory_equal(cpu, gpu, (size_t)m * sizeof *cpu);
                free(gpu);
            }
            free(cpu);
        }
        free(in);
        free(vals);
    }
}

static void test_argmax(void **s) {
    (void)s;
    argmax_cases(AVF_DTYPE_F32, 0);
    argmax_cases(AVF_DTYPE_F16, 0);
    argmax_cases(AVF_DTYPE_I64, 0);
}

static void test_argmax_cuda(void **s) {
    (void)s;
    need_gpu();
    argmax_cases(AVF_DTYPE_F32, 1);
    argmax_cases(AVF_DTYPE_F16, 1);
    argmax_cases(AVF_DTYPE_I64, 1);
}

static void test_argmax_errors(void **s) {
    (void)s;
    const int64_t shape[2] = {3, 0};
    int ond;
    int64_t od[AVF_MAX_DIMS];
    avf_argmax_params p = {2, 1, 0};
    assert_avf_fails(avf_argmax_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od), AVF_ERR_INVALID_ARG);
    p.axis = 1; /* an empty axis has no maximum */
    assert_avf_fails(avf_argmax_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od), AVF_ERR_INVALID_ARG);
    p.axis = 0;
    assert_avf_fails(avf_argmax_shape(&p, AVF_DTYPE_BOOL, 2, shape, &ond, od), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_argmax_shape(&p, AVF_DTYPE_F32, 0, shape, &ond, od), AVF_ERR_INVALID_ARG);
    /* output dtype must be i64 */
    const int64_t sh[2] = {3, 4}, osh[2] = {1, 4};
    avf_tensor x, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 2, sh, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_I32, 2, osh, NULL);
    assert_avf_fails(avf_op_argmax(&env.cpu_ctx, &p, &x, &y), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

/* ---------------------------------------------------------------- CumSum */

static void *run_cumsum(avf_op_ctx *ctx, const avf_cumsum_params *p, avf_dtype dt, int nd,
                        const int64_t *shape, const void *in) {
    assert_avf_ok(avf_cumsum_shape(p, dt, nd, shape));
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &y, dt, nd, shape, NULL);
    assert_avf_ok(avf_op_cumsum(ctx, p, &x, &y));
    void *out = malloc(avf_tensor_nbytes(&y));
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

static void cumsum_cases(avf_dtype dt, int on_gpu) {
    static const int64_t shape[3] = {3, 4, 50};
    static const int64_t axes[4] = {0, 1, 2, -1};
    uint64_t seed = 31 + (uint64_t)dt;
    int64_t n = numel_of(3, shape);
    double *vals = malloc((size_t)n * sizeof *vals), *want = malloc((size_t)n * sizeof *want);
    int is_int = dt == AVF_DTYPE_I64 || dt == AVF_DTYPE_I32;
    /* f16 sums of whole numbers stay exact, so the comparison is tight */
    void *in = rand_buf(dt, n, &seed, -9, 10, dt == AVF_DTYPE_F16, vals);
    for (int ai = 0; ai < 4; ai++)
        for (int v = 0; v < 4; v++) {
            avf_cumsum_params p = {axes[ai], v & 1, v >> 1};
            int a = (int)(p.axis < 0 ? p.axis + 3 : p.axis);
            int64_t len = shape[a], inner = 1;
            for (int d = a + 1; d < 3; d++)
                inner *= shape[d];
            void *cpu = run_cumsum(&env.cpu_ctx, &p, dt, 3, shape, in);
            if (on_gpu) {
                void *gpu = run_cumsum(&env.gpu_ctx, &p, dt, 3, shape, in);
                if (is_int || dt == AVF_DTYPE_F16) {
                    assert_memory_equal(cpu, gpu, (size_t)n * avf_dtype_size(dt));
                } else {
                    for (int64_t i = 0; i < n; i++)
                        want[i] = get_d(cpu, dt, i);
                    assert_rel_err_below(err_of(gpu, dt, want, n), 1e-5);
                }
                free(gpu);
                free(cpu);
                continue;
            }
            for (int64_t l = 0; l < n / len; l++) {
                int64_t base = (l / inner) * len * inner + l % inner;
                double acc = 0;
                for (int64_t t = 0; t < len; t++) {
                    int64_t k = p.reverse ? len - 1 - t : t, e = base + k * inner;
                    want[e] = p.exclusive ? acc : acc + vals[e];
                    acc += vals[e];
                }
            }
            if (is_int) {
                for (int64_t i = 0; i < n; i++)
                    assert_true(get_d(cpu, dt, i) == want[i]);
            } else {
                assert_rel_err_below(err_of(cpu, dt, want, n), tol_of(dt));
            }
            free(cpu);
        }
    const int64_t one[1] = {3};
    avf_cumsum_params bad = {1, 0, 0};
    assert_avf_fails(avf_cumsum_shape(&bad, dt, 1, one), AVF_ERR_INVALID_ARG);
    free(in);
    free(vals);
    free(want);
}

static void test_cumsum(void **s) {
    (void)s;
    cumsum_cases(AVF_DTYPE_F32, 0);
    cumsum_cases(AVF_DTYPE_F16, 0);
    cumsum_cases(AVF_DTYPE_F64, 0);
    cumsum_cases(AVF_DTYPE_I64, 0);
    cumsum_cases(AVF_DTYPE_I32, 0);
}

static void test_cumsum_cuda(void **s) {
    (void)s;
    need_gpu();
    cumsum_cases(AVF_DTYPE_F32, 1);
    cumsum_cases(AVF_DTYPE_F16, 1);
    cumsum_cases(AVF_DTYPE_F64, 1); /* the f64 scan (ONNX's CumSum tests use f64) */
    cumsum_cases(AVF_DTYPE_I64, 1);
    cumsum_cases(AVF_DTYPE_I32, 1);
}

/* ---------------------------------------------------------------- TopK */

typedef struct tcase {
    int nd;
    int64_t shape[3];
    int64_t axis, k;
    int ints;
} tcase;

static const tcase tcases[] = {
    {2, {3, 50}, -1, 5, 0}, {3, {4, 7, 3}, 1, 7, 1}, {2, {2, 3000}, 1, 10, 1},
    {3, {2, 6, 5}, 0, 1, 1}, {2, {5, 40}, 1, 0, 0},
};

static void run_topk(avf_op_ctx *ctx, const avf_topk_params *p, avf_dtype dt, int nd,
                     const int64_t *shape, const void *in, void **vals, int64_t **idx, int64_t *m) {
    int ond;
    int64_t od[AVF_MAX_DIMS];
    assert_avf_ok(avf_topk_shape(p, dt, nd, shape, &ond, od));
    avf_tensor x, v, i;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &v, dt, ond, od, NULL);
    avf_test_tensor(ctx, &i, AVF_DTYPE_I64, ond, od, NULL);
    assert_avf_ok(avf_op_topk(ctx, p, &x, &v, &i));
    *m = numel_of(ond, od);
    *vals = malloc((size_t)(*m ? *m : 1) * avf_dtype_size(dt));
    *idx = malloc((size_t)(*m ? *m : 1) * sizeof **idx);
    avf_test_read(ctx, &v, *vals);
    avf_test_read(ctx, &i, *idx);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&v, ctx->stream);
    avf_tensor_release(&i, ctx->stream);
}

static void topk_cases(avf_dtype dt, int on_gpu) {
    uint64_t seed = 555 + (uint64_t)dt;
    for (size_t c = 0; c < sizeof tcases / sizeof tcases[0]; c++) {
        const tcase *tc = &tcases[c];
        int64_t n = numel_of(tc->nd, tc->shape);
        double *vals = malloc((size_t)n * sizeof *vals);
        void *in = rand_buf(dt, n, &seed, -20, 20, tc->ints, vals);
        int a = (int)(tc->axis < 0 ? tc->axis + tc->nd : tc->axis);
        int64_t len = tc->shape[a], inner = 1;
        for (int d = a + 1; d < tc->nd; d++)
            inner *= tc->shape[d];
        char *taken = malloc((size_t)len);
        for (int largest = 0; largest < 2; largest++) {
            avf_topk_params p = {tc->axis, tc->k, largest, 1};
            void *cv;
            int64_t *ci, m;
            run_topk(&env.cpu_ctx, &p, dt, tc->nd, tc->shape, in, &cv, &ci, &m);
            if (on_gpu) {
                void *gv;
                int64_t *gi, m2;
                run_topk(&env.gpu_ctx, &p, dt, tc->nd, tc->shape, in, &gv, &gi, &m2);
                assert_int_equal(m, m2);
                assert_memory_equal(ci, gi, (size_t)m * sizeof *ci);
                assert_memory_equal(cv, gv, (size_t)m * avf_dtype_size(dt));
                free(gv);
                free(gi);
            } else {
                /* naive selection: the best untaken element, lower index on ties */
                for (int64_t l = 0; l < n / len; l++) {
                    int64_t base = (l / inner) * len * inner + l % inner;
                    int64_t obase = (l / inner) * tc->k * inner + l % inner;
                    memset(taken, 0, (size_t)len);
                    for (int64_t t = 0; t < tc->k; t++) {
                        int64_t best = -1;
                        for (int64_t j = 0; j < len; j++) {
                            if (taken[j])
                                continue;
                            double xv = vals[base + j * inner];
                            if (best < 0 || (largest ? xv > vals[base + best * inner]
                                                     : xv < vals[base + best * inner]))
                                best = j;
                        }
                        taken[best] = 1;
                        assert_int_equal(ci[obase + t * inner], best);
                        assert_true(get_d(cv, dt, obase + t * inner) == vals[base + best * inner]);
                    }
                }
            }
            free(cv);
            free(ci);
        }
        free(taken);
        free(in);
        free(vals);
    }
}

static void test_topk(void **s) {
    (void)s;
    topk_cases(AVF_DTYPE_F32, 0);
    topk_cases(AVF_DTYPE_F16, 0);
    topk_cases(AVF_DTYPE_I64, 0);
}

static void test_topk_cuda(void **s) {
    (void)s;
    need_gpu();
    topk_cases(AVF_DTYPE_F32, 1);
    topk_cases(AVF_DTYPE_F16, 1);
    topk_cases(AVF_DTYPE_I64, 1);
}

static void test_topk_errors(void **s) {
    (void)s;
    const int64_t shape[2] = {3, 4};
    int ond;
    int64_t od[AVF_MAX_DIMS];
    avf_topk_params p = {-1, 5, 1, 1};
    assert_avf_fails(avf_topk_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od), AVF_ERR_INVALID_ARG);
    p.k = -1;
    assert_avf_fails(avf_topk_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od), AVF_ERR_INVALID_ARG);
    p.k = 2;
    p.axis = 2;
    assert_avf_fails(avf_topk_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od), AVF_ERR_INVALID_ARG);
    p.axis = -2;
    assert_avf_ok(avf_topk_shape(&p, AVF_DTYPE_F32, 2, shape, &ond, od));
    assert_int_equal(od[0], 2);
    assert_int_equal(od[1], 4);
    assert_avf_fails(avf_topk_shape(&p, AVF_DTYPE_U8, 2, shape, &ond, od), AVF_ERR_UNSUPPORTED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax),      cmocka_unit_test(test_argmax_errors),
        cmocka_unit_test(test_cumsum),      cmocka_unit_test(test_topk),
        cmocka_unit_test(test_topk_errors), cmocka_unit_test(test_argmax_cuda),
        cmocka_unit_test(test_cumsum_cuda), cmocka_unit_test(test_topk_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
