/* Kernel tests: the fused epilogue (ops/fused.h), every activation with and
 * without a per-channel bias (Conv's axis 1 and MatMul's last axis), with a
 * post affine, in place and out of place; CPU against a double reference
 * written here, CUDA against the CPU (f32 and f16); argument errors. */
#include "op_test_util.h"

#include "ops/fused.h"

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

static void need_gpu(void) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
}

/* The ONNX formulas, in double. */
static double ref_act(const avf_epilogue_params *p, double v) {
    double a = p->alpha, b = p->beta, r;
    switch (p->act) {
    case AVF_ACT_RELU: r = v > 0 ? v : 0; break;
    case AVF_ACT_LEAKY_RELU: r = v >= 0 ? v : a * v; break;
    case AVF_ACT_CLIP: r = fmin(fmax(v, a), b); break;
    case AVF_ACT_SIGMOID: r = 1.0 / (1.0 + exp(-v)); break;
    case AVF_ACT_HARD_SIGMOID: r = fmax(0.0, fmin(1.0, a * v + b)); break;
    case AVF_ACT_HARD_SWISH: r = v * fmax(0.0, fmin(1.0, a * v + b)); break;
    case AVF_ACT_HARD_SWISH6: r = v * fmin(fmax(v + 3.0, 0.0), 6.0) / 6.0; break;
    case AVF_ACT_SWISH: r = v / (1.0 + exp(-v)); break;
    default: r = v; break;
    }
    return r * p->post_mul + p->post_add;
}

typedef struct ecase {
    int nd;
    int64_t shape[4];
    int axis;    /* bias axis; -1: no bias */
    float pm, pa;
} ecase;

static const ecase ecases[] = {
    {4, {2, 5, 3, 7}, 1, 1.0f, 0.0f},   /* Conv output, bias per channel */
    {4, {1, 16, 9, 9}, 1, 0.75f, -0.25f}, /* + the post affine */
    {3, {2, 4, 33}, 2, 1.0f, 0.0f},     /* MatMul output, bias on the last axis */
    {2, {3, 1000}, -1, 2.0f, 0.5f},     /* Act alone */
    {1, {1}, 0, 1.0f, 0.0f},
    {4, {2, 6, 16, 32}, 1, 1.0f, 0.0f}, /* rows of 512: the vector row kernel */
    {4, {2, 3, 17, 19}, 1, 1.0f, 0.0f}, /* rows of 323: the scalar row kernel */
    {2, {1, 1001}, -1, 1.0f, 0.0f},     /* no bias, not a multiple of the vector */
    {2, {4, 4096}, -1, 1.0f, 0.0f},     /* no bias, vectors */
};

static avf_epilogue_params params_for(avf_act_kind k, float pm, float pa) {
    avf_epilogue_params p = {k, 0.0f, 0.0f, pm, pa};
    if (k == AVF_ACT_LEAKY_RELU)
        p.alpha = 0.1f;
    if (k == AVF_ACT_CLIP) {
        p.alpha = -0.5f;
        p.beta = 1.5f;
    }
    if (k == AVF_ACT_HARD_SIGMOID) {
        p.alpha = 0.2f;
        p.beta = 0.5f;
    }
    if (k == AVF_ACT_HARD_SWISH) {
        p.alpha = 1.0f / 6.0f;
        p.beta = 0.5f;
    }
    return p;
}

static int64_t numel_of(const ecase *c) {
    int64_t n = 1;
    for (int d = 0; d < c->nd; d++)
        n *= c->shape[d];
    return n;
}

/* Run the epilogue on ctx (in place when `inplace`), return the result as
 * f32 on the host. x_h/b_h are f32; converted for f16. */
static float *run_epi(avf_op_ctx *ctx, const avf_epilogue_params *p, const ecase *c,
                      avf_dtype dt, const float *x_h, const float *b_h, int inplace) {
    int64_t n = numel_of(c), nb = c->axis >= 0 ? c->shape[c->axis] : 0;
    size_t es = avf_dtype_size(dt);
    void *xb = malloc((size_t)n * es), *bb = malloc((size_t)(nb ? nb : 1) * es);
    assert_non_null(xb);
    assert_non_null(bb);
    for (int64_t i = 0; i < n; i++) {
        if (dt == AVF_DTYPE_F16)
            ((uint16_t *)xb)[i] = avf_f32_to_f16(x_h[i]);
        else
            ((float *)xb)[i] = x_h[i];
    }
    for (int64_t i = 0; i < nb; i++) {
        if (dt == AVF_DTYPE_F16)
            ((uint16_t *)bb)[i] = avf_f32_to_f16(b_h[i]);
        else
            ((float *)bb)[i] = b_h[i];
    }
    avf_tensor x, b, y;
    avf_test_tensor(ctx, &x, dt, c->nd, c->shape, xb);
    if (nb)
        avf_test_tensor(ctx, &b, dt, 1, &nb, bb);
    if (!inplace)
        avf_test_tensor(ctx, &y, dt, c->nd, c->shape, NULL);
    avf_tensor *out = inplace ? &x : &y;
    assert_avf_ok(avf_op_epilogue(ctx, p, &x, nb ? &b : NULL, c->axis, out));
    avf_test_read(ctx, out, xb);
    float *r = malloc((size_t)n * sizeof *r);
    assert_non_null(r);
    for (int64_t i = 0; i < n; i++)
        r[i] = dt == AVF_DTYPE_F16 ? avf_f16_to_f32(((uint16_t *)xb)[i]) : ((float *)xb)[i];
    avf_tensor_release(&x, ctx->stream);
    if (nb)
        avf_tensor_release(&b, ctx->stream);
    if (!inplace)
        avf_tensor_release(&y, ctx->stream);
    free(xb);
    free(bb);
    return r;
}

static void cases(avf_dtype dt, int on_gpu) {
    uint64_t seed = 0x51ed2701u + (uint64_t)dt;
    for (size_t ci = 0; ci < sizeof ecases / sizeof ecases[0]; ci++) {
        const ecase *c = &ecases[ci];
        int64_t n = numel_of(c), nb = c->axis >= 0 ? c->shape[c->axis] : 0, inner = 1;
        for (int d = c->axis + 1; c->axis >= 0 && d < c->nd; d++)
            inner *= c->shape[d];
        float *x = malloc((size_t)n * sizeof *x), *b = malloc((size_t)(nb ? nb : 1) * sizeof *b);
        double *want = malloc((size_t)n * sizeof *want);
        assert_non_null(x);
        assert_non_null(b);
        assert_non_null(want);
        avf_test_fill_f32(x, n, &seed, -6.0, 6.0);
        avf_test_fill_f32(b, nb, &seed, -1.0, 1.0);
        if (dt == AVF_DTYPE_F16) { /* the reference sees the rounded inputs */
            for (int64_t i = 0; i < n; i++)
                x[i] = avf_f16_to_f32(avf_f32_to_f16(x[i]));
            for (int64_t i = 0; i < nb; i++)
                b[i] = avf_f16_to_f32(avf_f32_to_f16(b[i]));
        }
        for (int k = 0; k < AVF_ACT_COUNT; k++) {
            avf_epilogue_params p = params_for((avf_act_kind)k, c->pm, c->pa);
            for (int64_t i = 0; i < n; i++)
                want[i] = ref_act(&p, (double)x[i] + (nb ? b[(i / inner) % nb] : 0.0));
            for (int inplace = 0; inplace < 2; inplace++) {
                float *cpu = run_epi(&env.cpu_ctx, &p, c, dt, x, b, inplace);
                double tol = dt == AVF_DTYPE_F16 ? 2e-3 : 1e-6;
                assert_rel_err_below(avf_test_rel_err(cpu, want, n), tol);
                if (on_gpu) {
                    float *gpu = run_epi(&env.gpu_ctx, &p, c, dt, x, b, inplace);
                    assert_rel_err_below(avf_test_rel_err_f32(gpu, cpu, n),
                                         dt == AVF_DTYPE_F16 ? 1e-3 : 1e-6);
                    free(gpu);
                }
                free(cpu);
            }
        }
        free(x);
        free(b);
        free(want);
    }
}

static void test_epilogue(void **s) {
    (void)s;
    cases(AVF_DTYPE_F32, 0);
    cases(AVF_DTYPE_F16, 0);
}

static void test_epilogue_cuda(void **s) {
    (void)s;
    need_gpu();
    cases(AVF_DTYPE_F32, 1);
    cases(AVF_DTYPE_F16, 1);
}

static void test_epilogue_errors(void **s) {
    (void)s;
    static const int64_t d23[] = {2, 3}, d2[] = {2}, d3[] = {3};
    avf_op_ctx *ctx = &env.cpu_ctx;
    avf_tensor x, y, b2, b3, xi;
    avf_test_tensor(ctx, &x, AVF_DTYPE_F32, 2, d23, NULL);
    avf_test_tensor(ctx, &y, AVF_DTYPE_F32, 2, d23, NULL);
    avf_test_tensor(ctx, &b2, AVF_DTYPE_F32, 1, d2, NULL);
    avf_test_tensor(ctx, &b3, AVF_DTYPE_F32, 1, d3, NULL);
    avf_test_tensor(ctx, &xi, AVF_DTYPE_I64, 2, d23, NULL);
    avf_epilogue_params p = params_for(AVF_ACT_RELU, 1.0f, 0.0f);
    assert_avf_ok(avf_op_epilogue(ctx, &p, &x, &b3, 1, &y));
    assert_avf_ok(avf_op_epilogue(ctx, &p, &x, &b2, 0, &y));
    /* bias length against the axis, an axis out of range, a dtype */
    assert_avf_fails(avf_op_epilogue(ctx, &p, &x, &b2, 1, &y), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_epilogue(ctx, &p, &x, &b3, 2, &y), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_epilogue(ctx, &p, &xi, NULL, 0, &xi), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_op_epilogue(ctx, &p, &x, NULL, 0, &b3), AVF_ERR_INVALID_ARG);
    p.act = AVF_ACT_COUNT;
    assert_avf_fails(avf_op_epilogue(ctx, &p, &x, NULL, 0, &y), AVF_ERR_INVALID_ARG);
    /* names round-trip */
    for (int k = 0; k < AVF_ACT_COUNT; k++) {
        avf_act_kind back;
        assert_avf_ok(avf_act_parse(avf_act_name((avf_act_kind)k), &back));
        assert_int_equal(back, k);
    }
    avf_act_kind bad;
    assert_avf_fails(avf_act_parse("Mish", &bad), AVF_ERR_UNSUPPORTED);
    assert_null(avf_act_name(AVF_ACT_COUNT));
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&b2, NULL);
    avf_tensor_release(&b3, NULL);
    avf_tensor_release(&xi, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epilogue),
        cmocka_unit_test(test_epilogue_errors),
        cmocka_unit_test(test_epilogue_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
