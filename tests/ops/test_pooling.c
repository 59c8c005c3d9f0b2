/* AveragePool / MaxPool (and Global forms): CPU against naive double loops,
 * CUDA against CPU, shape-function error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "op_test_util.h"
#include "ops/conv.h"

typedef struct pool_case {
    const char *name;
    avf_pool_kind kind;
    int nsp, global, ceil_mode, include_pad;
    int64_t n, c;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    avf_auto_pad ap;
    int64_t out[3]; /* expected */
} pool_case;

static const pool_case cases[] = {
    {"max 2d", AVF_POOL_MAX, 2, 0, 0, 0, 2, 3, {6, 7}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0, {2, 3}},
    {"max 2d pads ceil", AVF_POOL_MAX, 2, 0, 1, 0, 1, 2, {5, 6}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {1, 1}, 0, {3, 3}},
    {"max 2d dil", AVF_POOL_MAX, 2, 0, 0, 0, 1, 2, {7, 7}, {2, 3}, {1, 1}, {2, 2}, {0, 1}, {1, 1}, 0, {6, 5}},
    {"max 1d", AVF_POOL_MAX, 1, 0, 0, 0, 2, 3, {10}, {3}, {3}, {1}, {1}, {1}, 0, {4}},
    {"max 3d", AVF_POOL_MAX, 3, 0, 0, 0, 1, 2, {4, 4, 5}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 1}, 0, {2, 2, 3}},
    {"max same_upper", AVF_POOL_MAX, 2, 0, 0, 0, 1, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 0}, {1, 1}, AVF_AUTO_PAD_SAME_UPPER, {3, 3}},
    {"avg 2d", AVF_POOL_AVG, 2, 0, 0, 0, 2, 3, {6, 7}, {3, 2}, {3, 2}, {1, 1}, {0, 0}, {0, 0}, 0, {2, 3}},
    {"avg pads excl", AVF_POOL_AVG, 2, 0, 0, 0, 1, 2, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 2}, {1, 2}, 0, {3, 4}},
    {"avg pads incl", AVF_POOL_AVG, 2, 0, 0, 1, 1, 2, {5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 2}, {1, 2}, 0, {3, 4}},
    {"avg ceil incl", AVF_POOL_AVG, 2, 0, 1, 1, 1, 2, {7, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 0}, {0, 0}, 0, {4, 2}},
    {"avg ceil excl", AVF_POOL_AVG, 2, 0, 1, 0, 1, 2, {6, 6}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 0, {3, 3}},
    {"avg same_lower", AVF_POOL_AVG, 2, 0, 0, 0, 1, 2, {5, 6}, {2, 3}, {1, 2}, {1, 1}, {1, 1}, {0, 0}, AVF_AUTO_PAD_SAME_LOWER, {5, 3}},
    {"avg 1d", AVF_POOL_AVG, 1, 0, 0, 1, 2, 2, {9}, {4}, {2}, {1}, {2}, {1}, 0, {5}},
    {"global avg", AVF_POOL_AVG, 2, 1, 0, 0, 2, 5, {7, 9}, {7, 9}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 0, {1, 1}},
    {"global max", AVF_POOL_MAX, 2, 1, 0, 0, 2, 5, {7, 9}, {7, 9}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 0, {1, 1}},
};

static void case_params(const pool_case *c, avf_pool_params *p) {
    memset(p, 0, sizeof *p);
    p->kind = c->kind;
    p->nsp = c->nsp;
    p->global = c->global;
    p->ceil_mode = c->ceil_mode;
    p->count_include_pad = c->include_pad;
    p->auto_pad = c->ap;
    for (int i = 0; i < c->nsp; i++) {
        p->kernel[i] = c->k[i];
        p->strides[i] = c->s[i];
        p->dilations[i] = c->d[i];
        p->pads[i] = c->ap ? 9 : c->pb[i]; /* ignored under auto_pad */
        p->pads[c->nsp + i] = c->ap ? 9 : c->pe[i];
    }
}

/* The ONNX reference's rule, written out: taps at o*s - pb + t*d; max and
 * exclusive average over taps inside the input; inclusive average divides
 * by the taps inside [-pb, in + pe). */
static void ref_pool(const pool_case *c, const float *x, double *y) {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    int off = 3 - c->nsp;
    for (int i = 0; i < c->nsp; i++) {
        in[off + i] = c->in[i];
        k[off + i] = c->k[i];
        s[off + i] = c->s[i];
        d[off + i] = c->d[i];
        pb[off + i] = c->pb[i];
        pe[off + i] = c->pe[i];
        out[off + i] = c->out[i];
    }
    int64_t ivol = in[0] * in[1] * in[2], ovol = out[0] * out[1] * out[2];
    for (int64_t p = 0; p < c->n * c->c; p++)
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++) {
                    double mx = -INFINITY, sum = 0.0;
                    int64_t cnt = 0, cntp = 0;
                    for (int64_t t0 = 0; t0 < k[0]; t0++)
                        for (int64_t t1 = 0; t1 < k[1]; t1++)
                            for (int64_t t2 = 0; t2 < k[2]; t2++) {
                                int64_t i0 = o0 * s[0] - pb[0] + t0 * d[0];
                                int64_t i1 = o1 * s[1] - pb[1] + t1 * d[1];
                                int64_t i2 = o2 * s[2] - pb[2] + t2 * d[2];
                                if (i0 < in[0] + pe[0] && i1 < in[1] + pe[1] && i2 < in[2] + pe[2])
                                    cntp++;
                                if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= in[0] || i1 >= in[1] ||
                                    i2 >= in[2])
                                    continue;
                                double v = x[p * ivol + (i0 * in[1] + i1) * in[2] + i2];
                                mx = v > mx ? v : mx;
                                sum += v;
                                cnt++;
                            }
                    double r = c->kind == AVF_POOL_MAX ? mx : sum / (double)(c->include_pad ? cntp : cnt);
                    y[p * ovol + (o0 * out[1] + o1) * out[2] + o2] = r;
                }
}

static float *run_pool(avf_op_ctx *ctx, const pool_case *c, const float *x, avf_dtype dt,
                       int64_t *ny) {
    avf_pool_params p;
    case_params(c, &p);
    int64_t xs[5] = {c->n, c->c}, ys[5];
    for (int i = 0; i < c->nsp; i++)
        xs[2 + i] = c->in[i];
    int ynd = 0;
    assert_avf_ok(avf_pool_shape(&p, c->nsp + 2, xs, &ynd, ys));
    for (int i = 0; i < c->nsp; i++)
        assert_int_equal(ys[2 + i], c->out[i]);
    int64_t nx = 1;
    *ny = 1;
    for (int i = 0; i < ynd; i++) {
        nx *= xs[i];
        *ny *= ys[i];
    }
    avf_tensor tx, ty;
    uint16_t *h = malloc((size_t)(nx > *ny ? nx : *ny) * 2);
    if (dt == AVF_DTYPE_F16) {
        for (int64_t i = 0; i < nx; i++)
            h[i] = avf_f32_to_f16(x[i]);
        avf_test_tensor(ctx, &tx, dt, ynd, xs, h);
    } else {
        avf_test_tensor(ctx, &tx, dt, ynd, xs, x);
    }
    avf_test_tensor(ctx, &ty, dt, ynd, ys, NULL);
    assert_avf_ok(avf_op_pool(ctx, &p, &tx, &ty));
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

static float *case_input(const pool_case *c, uint64_t seed) {
    int64_t nx = c->n * c->c;
    for (int i = 0; i < c->nsp; i++)
        nx *= c->in[i];
    float *x = malloc((size_t)nx * sizeof(float));
    avf_test_fill_f32(x, nx, &seed, -2.0, 1.0); /* mostly negative: zero pads must not win */
    return x;
}

static void test_pool_cpu(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *c = &cases[i];
        float *x = case_input(c, 0x99 + i);
        int64_t ny = 0;
        float *got = run_pool(&env.cpu_ctx, c, x, AVF_DTYPE_F32, &ny);
        double *want = malloc((size_t)ny * sizeof(double));
        ref_pool(c, x, want);
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

static void test_pool_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *c = &cases[i];
        float *x = case_input(c, 0x55 + i);
        int64_t ny = 0;
        for (int f16 = 0; f16 < 2; f16++) {
            avf_dtype dt = f16 ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
            float *cpu = run_pool(&env.cpu_ctx, c, x, dt, &ny);
            float *gpu = run_pool(&env.gpu_ctx, c, x, dt, &ny);
            double e = avf_test_rel_err_f32(gpu, cpu, ny);
            if (!(e <= (f16 ? 1e-3 : 1e-5)))
                print_error("case '%s' %s\n", c->name, f16 ? "f16" : "f32");
            assert_rel_err_below(e, f16 ? 1e-3 : 1e-5);
            free(cpu);
            free(gpu);
        }
        free(x);
    }
    avf_test_env_free(&env);
}

static void test_maxpool_u8(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    avf_pool_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_POOL_MAX;
    p.nsp = 2;
    p.kernel[0] = p.kernel[1] = 2;
    p.strides[0] = p.strides[1] = 2;
    p.dilations[0] = p.dilations[1] = 1;
    int64_t xs[4] = {1, 1, 2, 4}, ys[4] = {1, 1, 1, 2};
    uint8_t xv[8] = {1, 200, 3, 4, 250, 6, 7, 9}, yv[2] = {0, 0};
    avf_test_env *e = &env;
    for (int dev = 0; dev < (e->gpu ? 2 : 1); dev++) {
        avf_op_ctx *ctx = dev ? &e->gpu_ctx : &e->cpu_ctx;
        avf_tensor tx, ty;
        avf_test_tensor(ctx, &tx, AVF_DTYPE_U8, 4, xs, xv);
        avf_test_tensor(ctx, &ty, AVF_DTYPE_U8, 4, ys, NULL);
        assert_avf_ok(avf_op_pool(ctx, &p, &tx, &ty));
        avf_test_read(ctx, &ty, yv);
        assert_int_equal(yv[0], 250);
        assert_int_equal(yv[1], 9);
        avf_tensor_release(&tx, ctx->stream);
        avf_tensor_release(&ty, ctx->stream);
    }
    /* average pooling of integers is refused */
    p.kind = AVF_POOL_AVG;
    avf_tensor tx, ty;
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_U8, 4, xs, xv);
    avf_test_tensor(&env.cpu_ctx, &ty, AVF_DTYPE_U8, 4, ys, NULL);
    assert_int_equal(avf_op_pool(&env.cpu_ctx, &p, &tx, &ty), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_test_env_free(&env);
}

/* ---------------------------------------------------------------- Indices */

/* The ONNX reference's Indices: the first tap (window order) holding the
 * window's maximum, as a flat index into X, spatial dims row-major
 * (storage_order 0) or column-major (1). */
static void ref_indices(const pool_case *c, const float *x, int order, int64_t *ind) {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    int off = 3 - c->nsp;
    for (int i = 0; i < c->nsp; i++) {
        in[off + i] = c->in[i];
        k[off + i] = c->k[i];
        s[off + i] = c->s[i];
        d[off + i] = c->d[i];
        pb[off + i] = c->ap ? 0 : c->pb[i];
        out[off + i] = c->out[i];
    }
    int64_t ivol = in[0] * in[1] * in[2], ovol = out[0] * out[1] * out[2];
    for (int64_t p = 0; p < c->n * c->c; p++)
        for (int64_t j = 0; j < ovol; j++) {
            int64_t o[3] = {j / (out[1] * out[2]), (j / out[2]) % out[1], j % out[2]};
            double mx = -INFINITY;
            int64_t best = -1;
            for (int64_t t0 = 0; t0 < k[0]; t0++)
                for (int64_t t1 = 0; t1 < k[1]; t1++)
                    for (int64_t t2 = 0; t2 < k[2]; t2++) {
                        int64_t i0 = o[0] * s[0] - pb[0] + t0 * d[0];
                        int64_t i1 = o[1] * s[1] - pb[1] + t1 * d[1];
                        int64_t i2 = o[2] * s[2] - pb[2] + t2 * d[2];
                        if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= in[0] || i1 >= in[1] ||
                            i2 >= in[2])
                            continue;
                        double v = x[p * ivol + (i0 * in[1] + i1) * in[2] + i2];
                        if (best < 0 || v > mx) {
                            mx = v;
                            best = order ? i0 + i1 * in[0] + i2 * in[0] * in[1]
                                         : (i0 * in[1] + i1) * in[2] + i2;
                        }
                    }
            ind[p * ovol + j] = p * ivol + best;
        }
}

static int64_t *run_pool_ind(avf_op_ctx *ctx, const pool_case *c, const float *x, int order,
                             int64_t *ny) {
    avf_pool_params p;
    case_params(c, &p);
    p.storage_order = order;
    int64_t xs[5] = {c->n, c->c}, ys[5];
    for (int i = 0; i < c->nsp; i++)
        xs[2 + i] = c->in[i];
    int ynd = 0;
    assert_avf_ok(avf_pool_shape(&p, c->nsp + 2, xs, &ynd, ys));
    *ny = 1;
    for (int i = 0; i < ynd; i++)
        *ny *= ys[i];
    avf_tensor tx, ty, ti;
    avf_test_tensor(ctx, &tx, AVF_DTYPE_F32, ynd, xs, x);
    avf_test_tensor(ctx, &ty, AVF_DTYPE_F32, ynd, ys, NULL);
    avf_test_tensor(ctx, &ti, AVF_DTYPE_I64, ynd, ys, NULL);
    assert_avf_ok(avf_op_pool_indices(ctx, &p, &tx, &ty, &ti));
    int64_t *out = malloc((size_t)*ny * sizeof *out);
    avf_test_read(ctx, &ti, out);
    /* the values are those of the plain pool */
    float *v = malloc((size_t)*ny * sizeof *v), *w = malloc((size_t)*ny * sizeof *w);
    avf_test_read(ctx, &ty, v);
    assert_avf_ok(avf_op_pool(ctx, &p, &tx, &ty));
    avf_test_read(ctx, &ty, w);
    assert_memory_equal(v, w, (size_t)*ny * sizeof *v);
    free(v);
    free(w);
    avf_tensor_release(&tx, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    avf_tensor_release(&ti, ctx->stream);
    return out;
}

static void maxpool_indices(int on_gpu) {
    avf_test_env env;
    avf_test_env_init(&env);
    if (on_gpu && !env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *c = &cases[i];
        if (c->kind != AVF_POOL_MAX || c->ap)
            continue;
        float *x = case_input(c, 0x77 + i); /* random floats: no ties */
        for (int order = 0; order < 2; order++) {
            int64_t ny = 0;
            int64_t *got = run_pool_ind(&env.cpu_ctx, c, x, order, &ny);
            int64_t *want = malloc((size_t)ny * sizeof *want);
            if (on_gpu) {
                int64_t *gpu = run_pool_ind(&env.gpu_ctx, c, x, order, &ny);
                memcpy(want, got, (size_t)ny * sizeof *want);
                free(got);
                got = gpu;
            } else {
                ref_indices(c, x, order, want);
            }
            if (memcmp(got, want, (size_t)ny * sizeof *want) != 0)
                print_error("case '%s' storage_order %d\n", c->name, order);
            assert_memory_equal(got, want, (size_t)ny * sizeof *want);
            free(got);
            free(want);
        }
        free(x);
    }
    /* AveragePool has no Indices; Indices must be i64 */
    avf_pool_params p;
    case_params(&cases[0], &p);
    int64_t xs[4] = {2, 3, 6, 7}, ys[4] = {2, 3, 2, 3};
    avf_tensor tx, ty, ti;
    avf_test_tensor(&env.cpu_ctx, &tx, AVF_DTYPE_F32, 4, xs, NULL);
    avf_test_tensor(&env.cpu_ctx, &ty, AVF_DTYPE_F32, 4, ys, NULL);
    avf_test_tensor(&env.cpu_ctx, &ti, AVF_DTYPE_I32, 4, ys, NULL);
    assert_avf_fails(avf_op_pool_indices(&env.cpu_ctx, &p, &tx, &ty, &ti), AVF_ERR_UNSUPPORTED);
    p.kind = AVF_POOL_AVG;
    assert_avf_fails(avf_op_pool_indices(&env.cpu_ctx, &p, &tx, &ty, &ti), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&tx, NULL);
    avf_tensor_release(&ty, NULL);
    avf_tensor_release(&ti, NULL);
    avf_test_env_free(&env);
}

static void test_maxpool_indices(void **state) {
    (void)state;
    maxpool_indices(0);
}

/* The Indices path of the CUDA kernel against the CPU kernel. */
static void test_maxpool_indices_cuda(void **state) {
    (void)state;
    maxpool_indices(1);
}

static void test_pool_shape_errors(void **state) {
    (void)state;
    avf_pool_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_POOL_AVG;
    p.nsp = 2;
    p.kernel[0] = p.kernel[1] = 3;
    p.strides[0] = p.strides[1] = 1;
    p.dilations[0] = p.dilations[1] = 1;
    int64_t x[4] = {1, 2, 4, 4}, y[8];
    int ynd;
    assert_avf_ok(avf_pool_shape(&p, 4, x, &ynd, y));
    assert_int_equal(avf_pool_shape(&p, 3, x, &ynd, y), AVF_ERR_INVALID_ARG);
    p.kernel[0] = 6; /* larger than the input */
    assert_int_equal(avf_pool_shape(&p, 4, x, &ynd, y), AVF_ERR_INVALID_ARG);
    p.kernel[0] = 0;
    assert_int_equal(avf_pool_shape(&p, 4, x, &ynd, y), AVF_ERR_INVALID_ARG);
    p.kernel[0] = 3;
    p.strides[1] = 0;
    assert_int_equal(avf_pool_shape(&p, 4, x, &ynd, y), AVF_ERR_INVALID_ARG);
    p.strides[1] = 1;
    p.pads[1] = -2;
    assert_int_equal(avf_pool_shape(&p, 4, x, &ynd, y), AVF_ERR_INVALID_ARG);
    p.nsp = 0;
    assert_int_equal(avf_pool_shape(&p, 2, x, &ynd, y), AVF_ERR_UNSUPPORTED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_cpu),
        cmocka_unit_test(test_pool_cuda),
        cmocka_unit_test(test_maxpool_u8),
        cmocka_unit_test(test_maxpool_indices),
        cmocka_unit_test(test_maxpool_indices_cuda),
        cmocka_unit_test(test_pool_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
