/* Kernel tests: LayerNormalization (with and without bias, Mean and
 * InvStdDev outputs) and BatchNormalization, inference and training mode
 * (batch statistics, running-stat update) (f32 and f16 inputs, parameters
 * in f32 or the input's dtype), CPU vs a double reference and CUDA vs CPU,
 * plus shape-function errors. */
#include "op_test_util.h"

#include "ops/reduce.h"

#include "test_reduce_util.h"


/* ---------------------------------------------------------------- LayerNormalization */

typedef struct lcase {
    int nd;
    int64_t shape[3];
    int64_t axis;
    int bias;       /* 0 none, 1 full, 2 one value */
    int scalar_scale;
} lcase;

static const lcase lcases[] = {
    {3, {2, 3, 4}, -1, 1, 0}, {3, {2, 3, 4}, 1, 0, 0}, {3, {2, 3, 4}, 0, 1, 0},
    {2, {4, 2048}, -1, 1, 0}, {2, {6, 10}, 1, 2, 1},   {1, {33}, 0, 1, 0},
};

typedef struct ln_out {
    void *y;
    float *mean, *inv;
} ln_out;

static ln_out run_ln(avf_op_ctx *ctx, const lcase *lc, avf_dtype dt, const void *x_h,
                     const void *s_h, const void *b_h, int64_t nrm) {
    avf_layernorm_params p = {lc->axis, 1e-5f};
    avf_tensor x, sc, b, y, mean, inv;
    const int64_t one[1] = {1};
    /* full scale / bias: the normalized dims' shape */
    int a = (int)(lc->axis < 0 ? lc->axis + lc->nd : lc->axis);
    (void)nrm;
    avf_test_tensor(ctx, &x, dt, lc->nd, lc->shape, x_h);
    if (lc->scalar_scale)
        avf_test_tensor(ctx, &sc, dt, 1, one, s_h);
    else
        avf_test_tensor(ctx, &sc, dt, lc->nd - a, lc->shape + a, s_h);
    if (lc->bias == 2)
        avf_test_tensor(ctx, &b, dt, 1, one, b_h);
    else if (lc->bias)
        avf_test_tensor(ctx, &b, dt, lc->nd - a, lc->shape + a, b_h);
    int snd;
    int64_t sd[AVF_MAX_DIMS];
    assert_avf_ok(avf_layernorm_shape(&p, &x, &sc, lc->bias ? &b : NULL, &snd, sd));
    avf_test_tensor(ctx, &y, dt, lc->nd, lc->shape, NULL);
    avf_test_tensor(ctx, &mean, AVF_DTYPE_F32, snd, sd, NULL);
    avf_test_tensor(ctx, &inv, AVF_DTYPE_F32, snd, sd, NULL);
    assert_avf_ok(avf_op_layernorm(ctx, &p, &x, &sc, lc->bias ? &b : NULL, &y, &mean, &inv));
    ln_out o;
    o.y = malloc(avf_tensor_nbytes(&y));
    o.mean = malloc(avf_tensor_nbytes(&mean));
    o.inv = malloc(avf_tensor_nbytes(&inv));
    avf_test_read(ctx, &y, o.y);
    avf_test_read(ctx, &mean, o.mean);
    avf_test_read(ctx, &inv, o.inv);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&sc, ctx->stream);
    if (lc->bias)
        avf_tensor_release(&b, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    avf_tensor_release(&mean, ctx->stream);
    avf_tensor_release(&inv, ctx->stream);
    return o;
}

static void ln_cases(avf_dtype dt, int on_gpu) {
    uint64_t seed = 808 + (uint64_t)dt;
    for (size_t c = 0; c < sizeof lcases / sizeof lcases[0]; c++) {
        const lcase *lc = &lcases[c];
        int a = (int)(lc->axis < 0 ? lc->axis + lc->nd : lc->axis);
        int64_t n = numel_of(lc->nd, lc->shape), nrm = numel_of(lc->nd - a, lc->shape + a);
        int64_t rows = n / nrm;
        double *xv = malloc((size_t)n * sizeof *xv), *sv = malloc((size_t)nrm * sizeof *sv);
        double *bv = malloc((size_t)nrm * sizeof *bv), *want = malloc((size_t)n * sizeof *want);
        void *xh = rand_buf(dt, n, &seed, -2, 3, 0, xv);
        void *sh = rand_buf(dt, nrm, &seed, 0.5, 1.5, 0, sv);
        void *bh = rand_buf(dt, nrm, &seed, -1, 1, 0, bv);
        ln_out cpu = run_ln(&env.cpu_ctx, lc, dt, xh, sh, bh, nrm);
        double *wm = malloc((size_t)rows * sizeof *wm), *wi = malloc((size_t)rows * sizeof *wi);
        if (on_gpu) {
            ln_out gpu = run_ln(&env.gpu_ctx, lc, dt, xh, sh, bh, nrm);
            for (int64_t i = 0; i < n; i++)
                want[i] = get_d(cpu.y, dt, i);
            for (int64_t r = 0; r < rows; r++) {
                wm[r] = cpu.mean[r];
                wi[r] = cpu.inv[r];
            }
            assert_rel_err_below(err_of(gpu.y, dt, want, n), tol_of(dt));
            assert_rel_err_below(avf_test_rel_err(gpu.mean, wm, rows), 1e-5);
            assert_rel_err_below(avf_test_rel_err(gpu.inv, wi, rows), 1e-5);
            free(gpu.y);
            free(gpu.mean);
            free(gpu.inv);
        } else {
            for (int64_t r = 0; r < rows; r++) {
                double mu = 0, var = 0;
                for (int64_t j = 0; j < nrm; j++)
                    mu += xv[r * nrm + j] / (double)nrm;
                for (int64_t j = 0; j < nrm; j++)
                    var += (xv[r * nrm + j] - mu) * (xv[r * nrm + j] - mu) / (double)nrm;
                double inv = 1.0 / sqrt(var + 1e-5);
                for (int64_t j = 0; j < nrm; j++) {
                    double s = sv[lc->scalar_scale ? 0 : j];
                    double b = lc->bias == 0 ? 0.0 : bv[lc->bias == 2 ? 0 : j];
                    want[r * nrm + j] = (xv[r * nrm + j] - mu) * inv * s + b;
                }
                wm[r] = mu;
                wi[r] = inv;
            }
            assert_rel_err_below(err_of(cpu.y, dt, want, n), tol_of(dt));
            assert_rel_err_below(avf_test_rel_err(cpu.mean, wm, rows), 1e-6);
            assert_rel_err_below(avf_test_rel_err(cpu.inv, wi, rows), 1e-6);
        }
        free(cpu.y);
        free(cpu.mean);
        free(cpu.inv);
        free(wm);
        free(wi);
        free(xh);
        free(sh);
        free(bh);
        free(xv);
        free(sv);
        free(bv);
        free(want);
    }
}

static void test_layernorm(void **s) {
    (void)s;
    ln_cases(AVF_DTYPE_F32, 0);
    ln_cases(AVF_DTYPE_F16, 0);
}

static void test_layernorm_cuda(void **s) {
    (void)s;
    need_gpu();
    ln_cases(AVF_DTYPE_F32, 1);
    ln_cases(AVF_DTYPE_F16, 1);
}

static void test_layernorm_errors(void **s) {
    (void)s;
    const int64_t shape[3] = {2, 3, 4}, s3[1] = {3}, s34[2] = {3, 4}, s134[3] = {1, 3, 4};
    avf_tensor x, sc, xh;
    avf_layernorm_params p = {-1, 1e-5f};
    int snd;
    int64_t sd[AVF_MAX_DIMS];
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &sc, AVF_DTYPE_F32, 1, s3, NULL);
    assert_avf_fails(avf_layernorm_shape(&p, &x, &sc, NULL, &snd, sd), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&sc, NULL);
    avf_test_tensor(&env.cpu_ctx, &sc, AVF_DTYPE_F32, 3, s134, NULL);
    p.axis = 1; /* [1, 3, 4] matches the normalized [3, 4] */
    assert_avf_ok(avf_layernorm_shape(&p, &x, &sc, NULL, &snd, sd));
    assert_int_equal(snd, 3);
    assert_int_equal(sd[0], 2);
    assert_int_equal(sd[1], 1);
    p.axis = 3;
    assert_avf_fails(avf_layernorm_shape(&p, &x, &sc, NULL, &snd, sd), AVF_ERR_INVALID_ARG);
    p.axis = 1;
    p.epsilon = -1.0f;
    assert_avf_fails(avf_layernorm_shape(&p, &x, &sc, NULL, &snd, sd), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&sc, NULL);
    p.epsilon = 1e-5f;
    avf_test_tensor(&env.cpu_ctx, &sc, AVF_DTYPE_F16, 2, s34, NULL); /* dtype differs from X */
    assert_avf_fails(avf_layernorm_shape(&p, &x, &sc, NULL, &snd, sd), AVF_ERR_INVALID_ARG);
    avf_test_tensor(&env.cpu_ctx, &xh, AVF_DTYPE_I64, 3, shape, NULL);
    assert_avf_fails(avf_layernorm_shape(&p, &xh, &sc, NULL, &snd, sd), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&xh, NULL);
    avf_tensor_release(&sc, NULL);
    avf_tensor_release(&x, NULL);
}

/* ---------------------------------------------------------------- BatchNormalization */

static void *run_bn(avf_op_ctx *ctx, avf_dtype dt, avf_dtype pdt, int nd, const int64_t *shape,
                    const void *xh, void *const *ph) {
    avf_batchnorm_params p = {1e-3f, 0.9f, 0};
    avf_tensor x, prm[4], y;
    avf_test_tensor(ctx, &x, dt, nd, shape, xh);
    for (int i = 0; i < 4; i++)
        avf_test_tensor(ctx, &prm[i], pdt, 1, shape + 1, ph[i]);
    avf_test_tensor(ctx, &y, dt, nd, shape, NULL);
    assert_avf_ok(avf_op_batchnorm(ctx, &p, &x, &prm[0], &prm[1], &prm[2], &prm[3], &y));
    void *out = malloc(avf_tensor_nbytes(&y));
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    for (int i = 0; i < 4; i++)
        avf_tensor_release(&prm[i], ctx->stream);
    return out;
}

static void bn_cases(avf_dtype dt, avf_dtype pdt, int on_gpu) {
    static const int64_t shapes[3][4] = {{2, 3, 4, 5}, {4, 3, 1, 1}, {1, 16, 33, 17}};
    static const int nds[3] = {4, 2, 4};
    uint64_t seed = 1717 + (uint64_t)dt * 3 + (uint64_t)pdt;
    for (int c = 0; c < 3; c++) {
        const int64_t *shape = shapes[c];
        int64_t n = numel_of(nds[c], shape), ch = shape[1], sp = n / shape[0] / ch;
        double *xv = malloc((size_t)n * sizeof *xv), *want = malloc((size_t)n * sizeof *want);
        double pv[4][16];
        void *ph[4];
        void *xh = rand_buf(dt, n, &seed, -3, 3, 0, xv);
        static const double lo[4] = {0.5, -1, -1, 0.1}, hi[4] = {1.5, 1, 1, 2};
        for (int i = 0; i < 4; i++)
            ph[i] = rand_buf(pdt, ch, &seed, lo[i], hi[i], 0, pv[i]);
        void *cpu = run_bn(&env.cpu_ctx, dt, pdt, nds[c], shape, xh, ph);
        if (on_gpu) {
            void *gpu = run_bn(&env.gpu_ctx, dt, pdt, nds[c], shape, xh, ph);
            for (int64_t i = 0; i < n; i++)
                want[i] = get_d(cpu, dt, i);
            assert_rel_err_below(err_of(gpu, dt, want, n), tol_of(dt));
            free(gpu);
        } else {
            for (int64_t i = 0; i < n; i++) {
                int64_t k = (i / sp) % ch;
                want[i] = (xv[i] - pv[2][k]) / sqrt(pv[3][k] + (double)1e-3f) * pv[0][k] + pv[1][k];
            }
            assert_rel_err_below(err_of(cpu, dt, want, n), tol_of(dt));
        }
        free(cpu);
        for (int i = 0; i < 4; i++)
            free(ph[i]);
        free(xh);
        free(xv);
        free(want);
    }
}

static void test_batchnorm(void **s) {
    (void)s;
    bn_cases(AVF_DTYPE_F32, AVF_DTYPE_F32, 0);
    bn_cases(AVF_DTYPE_F16, AVF_DTYPE_F32, 0);
    bn_cases(AVF_DTYPE_F16, AVF_DTYPE_F16, 0);
}

static void test_batchnorm_cuda(void **s) {
    (void)s;
    need_gpu();
    bn_cases(AVF_DTYPE_F32, AVF_DTYPE_F32, 1);
    bn_cases(AVF_DTYPE_F16, AVF_DTYPE_F32, 1);
    bn_cases(AVF_DTYPE_F16, AVF_DTYPE_F16, 1);
}

static void test_batchnorm_errors(void **s) {
    (void)s;
    const int64_t shape[4] = {2, 3, 4, 5}, c4[1] = {4}, c3[1] = {3};
    avf_batchnorm_params p = {1e-5f, 0.9f, 0};
    avf_tensor x, good, bad, half;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 4, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &good, AVF_DTYPE_F32, 1, c3, NULL);
    avf_test_tensor(&env.cpu_ctx, &bad, AVF_DTYPE_F32, 1, c4, NULL);
    avf_test_tensor(&env.cpu_ctx, &half, AVF_DTYPE_F16, 1, c3, NULL);
    assert_avf_ok(avf_batchnorm_shape(&p, &x, &good, &good, &good, &good));
    assert_avf_fails(avf_batchnorm_shape(&p, &x, &good, &bad, &good, &good), AVF_ERR_INVALID_ARG);
    /* f16 parameters with an f32 input */
    assert_avf_fails(avf_batchnorm_shape(&p, &x, &good, &good, &half, &good), AVF_ERR_UNSUPPORTED);
    avf_tensor x1;
    avf_test_tensor(&env.cpu_ctx, &x1, AVF_DTYPE_F32, 1, c3, NULL);
    assert_avf_fails(avf_batchnorm_shape(&p, &x1, &good, &good, &good, &good), AVF_ERR_INVALID_ARG);
    p.epsilon = NAN;
    assert_avf_fails(avf_batchnorm_shape(&p, &x, &good, &good, &good, &good), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&x1, NULL);
    avf_tensor_release(&good, NULL);
    avf_tensor_release(&bad, NULL);
    avf_tensor_release(&half, NULL);
}

/* training_mode=1: y from the batch's own statistics, running stats updated */
typedef struct bn_train_out {
    void *y, *run_mean, *run_var;
} bn_train_out;

static bn_train_out run_bn_train(avf_op_ctx *ctx, avf_dtype dt, avf_dtype pdt, int nd,
                                 const int64_t *shape, const void *xh, void *const *ph) {
    avf_batchnorm_params p = {1e-3f, 0.8f, 1};
    avf_tensor x, prm[4], y, rm, rv;
    avf_test_tensor(ctx, &x, dt, nd, shape, xh);
    for (int i = 0; i < 4; i++)
        avf_test_tensor(ctx, &prm[i], pdt, 1, shape + 1, ph[i]);
    avf_test_tensor(ctx, &y, dt, nd, shape, NULL);
    avf_test_tensor(ctx, &rm, pdt, 1, shape + 1, NULL);
    avf_test_tensor(ctx, &rv, pdt, 1, shape + 1, NULL);
    assert_avf_ok(avf_op_batchnorm_train(ctx, &p, &x, &prm[0], &prm[1], &prm[2], &prm[3], &y,
                                         &rm, &rv));
    bn_train_out o = {malloc(avf_tensor_nbytes(&y)), malloc(avf_tensor_nbytes(&rm)),
                      malloc(avf_tensor_nbytes(&rv))};
    avf_test_read(ctx, &y, o.y);
    avf_test_read(ctx, &rm, o.run_mean);
    avf_test_read(ctx, &rv, o.run_var);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    avf_tensor_release(&rm, ctx->stream);
    avf_tensor_release(&rv, ctx->stream);
    for (int i = 0; i < 4; i++)
        avf_tensor_release(&prm[i], ctx->stream);
    return o;
}

static void bn_train_cases(avf_dtype dt, avf_dtype pdt, int on_gpu) {
    static const int64_t shapes[3][4] = {{2, 3, 4, 5}, {4, 3, 1, 1}, {3, 16, 33, 17}};
    static const int nds[3] = {4, 2, 4};
    uint64_t seed = 2929 + (uint64_t)dt * 3 + (uint64_t)pdt;
    for (int c = 0; c < 3; c++) {
        const int64_t *shape = shapes[c];
        int64_t n = numel_of(nds[c], shape), ch = shape[1], sp = n / shape[0] / ch;
        double *xv = malloc((size_t)n * sizeof *xv), *want = malloc((size_t)n * sizeof *want);
        double pv[4][16], wm[16], wv[16], bm[16] = {0}, bv[16] = {0};
        void *ph[4];
        void *xh = rand_buf(dt, n, &seed, -3, 5, 0, xv);
        static const double lo[4] = {0.5, -1, -1, 0.1}, hi[4] = {1.5, 1, 1, 2};
        for (int i = 0; i < 4; i++)
            ph[i] = rand_buf(pdt, ch, &seed, lo[i], hi[i], 0, pv[i]);
        bn_train_out cpu = run_bn_train(&env.cpu_ctx, dt, pdt, nds[c], shape, xh, ph);
        if (on_gpu) {
            bn_train_out gpu = run_bn_train(&env.gpu_ctx, dt, pdt, nds[c], shape, xh, ph);
            for (int64_t i = 0; i < n; i++)
                want[i] = get_d(cpu.y, dt, i);
            assert_rel_err_below(err_of(gpu.y, dt, want, n), tol_of(dt));
            for (int64_t k = 0; k < ch; k++) {
                wm[k] = get_d(cpu.run_mean, pdt, k);
                wv[k] = get_d(cpu.run_var, pdt, k);
            }
            assert_rel_err_below(err_of(gpu.run_mean, pdt, wm, ch), tol_of(pdt));
            assert_rel_err_below(err_of(gpu.run_var, pdt, wv, ch), tol_of(pdt));
            free(gpu.y);
            free(gpu.run_mean);
            free(gpu.run_var);
        } else {
            double cnt = (double)(n / ch);
            for (int64_t i = 0; i < n; i++)
                bm[(i / sp) % ch] += xv[i] / cnt;
            for (int64_t i = 0; i < n; i++) {
                double d = xv[i] - bm[(i / sp) % ch];
                bv[(i / sp) % ch] += d * d / cnt;
            }
            for (int64_t i = 0; i < n; i++) {
                int64_t k = (i / sp) % ch;
                want[i] = (xv[i] - bm[k]) / sqrt(bv[k] + (double)1e-3f) * pv[0][k] + pv[1][k];
            }
            for (int64_t k = 0; k < ch; k++) {
                wm[k] = pv[2][k] * (double)0.8f + bm[k] * (1 - (double)0.8f);
                wv[k] = pv[3][k] * (double)0.8f + bv[k] * (1 - (double)0.8f);
            }
            assert_rel_err_below(err_of(cpu.y, dt, want, n), tol_of(dt));
            assert_rel_err_below(err_of(cpu.run_mean, pdt, wm, ch), tol_of(pdt));
            assert_rel_err_below(err_of(cpu.run_var, pdt, wv, ch), tol_of(pdt));
        }
        free(cpu.y);
        free(cpu.run_mean);
        free(cpu.run_var);
        for (int i = 0; i < 4; i++)
            free(ph[i]);
        free(xh);
        free(xv);
        free(want);
    }
}

static void test_batchnorm_train(void **s) {
    (void)s;
    bn_train_cases(AVF_DTYPE_F32, AVF_DTYPE_F32, 0);
    bn_train_cases(AVF_DTYPE_F16, AVF_DTYPE_F32, 0);
    bn_train_cases(AVF_DTYPE_F16, AVF_DTYPE_F16, 0);
}

static void test_batchnorm_train_cuda(void **s) {
    (void)s;
    need_gpu();
    bn_train_cases(AVF_DTYPE_F32, AVF_DTYPE_F32, 1);
    bn_train_cases(AVF_DTYPE_F16, AVF_DTYPE_F32, 1);
    bn_train_cases(AVF_DTYPE_F16, AVF_DTYPE_F16, 1);
}

static void test_batchnorm_train_errors(void **s) {
    (void)s;
    const int64_t shape[4] = {2, 3, 4, 5}, empty[4] = {0, 3, 4, 5}, c3[1] = {3}, c4[1] = {4};
    avf_batchnorm_params p = {1e-5f, 1.5f, 1};
    avf_tensor x, x0, y, y0, good, bad;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 4, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 4, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &x0, AVF_DTYPE_F32, 4, empty, NULL);
    avf_test_tensor(&env.cpu_ctx, &y0, AVF_DTYPE_F32, 4, empty, NULL);
    avf_test_tensor(&env.cpu_ctx, &good, AVF_DTYPE_F32, 1, c3, NULL);
    avf_test_tensor(&env.cpu_ctx, &bad, AVF_DTYPE_F32, 1, c4, NULL);
    memset(good.data, 0, avf_tensor_nbytes(&good));
    memset(x.data, 0, avf_tensor_nbytes(&x));
    /* momentum outside [0, 1] */
    assert_avf_fails(avf_op_batchnorm_train(&env.cpu_ctx, &p, &x, &good, &good, &good, &good, &y,
                                            NULL, NULL), AVF_ERR_INVALID_ARG);
    p.momentum = 0.9f;
    assert_avf_ok(avf_op_batchnorm_train(&env.cpu_ctx, &p, &x, &good, &good, &good, &good, &y,
                                         NULL, NULL));
    /* a running-stat output of the wrong shape */
    assert_avf_fails(avf_op_batchnorm_train(&env.cpu_ctx, &p, &x, &good, &good, &good, &good, &y,
                                            &bad, NULL), AVF_ERR_INVALID_ARG);
    /* no statistics of an empty batch */
    assert_avf_fails(avf_op_batchnorm_train(&env.cpu_ctx, &p, &x0, &good, &good, &good, &good,
                                            &y0, NULL, NULL), AVF_ERR_INVALID_ARG);
    avf_tensor *all[6] = {&x, &x0, &y, &y0, &good, &bad};
    for (int i = 0; i < 6; i++)
        avf_tensor_release(all[i], NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm),      cmocka_unit_test(test_layernorm_errors),
        cmocka_unit_test(test_batchnorm),      cmocka_unit_test(test_batchnorm_errors),
        cmocka_unit_test(test_batchnorm_train), cmocka_unit_test(test_batchnorm_train_errors),
        cmocka_unit_test(test_layernorm_cuda), cmocka_unit_test(test_batchnorm_cuda),
        cmocka_unit_test(test_batchnorm_train_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
