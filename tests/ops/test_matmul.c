/* MatMul and Gemm: CPU kernels against a naive double reference, CUDA
 * kernels against the CPU ones (f32 exact and TF32, f16, bf16, f64). */
#include "op_test_util.h"
#include "ops/matmul.h"
#include "ops/cpu/blas.h"

#include <math.h>

/* ---- host helpers: values travel as doubles, stored in any float dtype ---- */

static void pack(avf_dtype dt, const double *v, int64_t n, void *out) {
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case AVF_DTYPE_F32: ((float *)out)[i] = (float)v[i]; break;
        case AVF_DTYPE_F64: ((double *)out)[i] = v[i]; break;
        case AVF_DTYPE_F16: ((uint16_t *)out)[i] = avf_f32_to_f16((float)v[i]); break;
        default: ((uint16_t *)out)[i] = avf_f32_to_bf16((float)v[i]); break;
        }
    }
}

static void unpack(avf_dtype dt, const void *in, int64_t n, double *v) {
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case AVF_DTYPE_F32: v[i] = ((const float *)in)[i]; break;
        case AVF_DTYPE_F64: v[i] = ((const double *)in)[i]; break;
        case AVF_DTYPE_F16: v[i] = avf_f16_to_f32(((const uint16_t *)in)[i]); break;
        default: v[i] = avf_bf16_to_f32(((const uint16_t *)in)[i]); break;
        }
    }
}

/* Random values, rounded to dt so the reference sees what the kernel sees. */
static double *rand_vals(avf_dtype dt, int64_t n, uint64_t *seed) {
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    void *tmp = malloc((size_t)(n ? n : 1) * 8);
    for (int64_t i = 0; i < n; i++)
        v[i] = avf_test_rand(seed, -1.0, 1.0);
    pack(dt, v, n, tmp);
    unpack(dt, tmp, n, v);
    free(tmp);
    return v;
}

static double rel_err_d(const double *got, const double *want, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(got[i]) != isnan(want[i]))
            return INFINITY;
        double d = got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    if (den == 0.0)
        return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

static int64_t numel_of(int n, const int64_t *s) {
    int64_t v = 1;
    for (int i = 0; i < n; i++)
        v *= s[i];
    return v;
}

static void make(const avf_op_ctx *ctx, avf_tensor *t, avf_dtype dt, int n, const int64_t *s,
                 const double *v) {
    int64_t cnt = numel_of(n, s);
    void *tmp = malloc((size_t)(cnt ? cnt : 1) * 8);
    if (v)
        pack(dt, v, cnt, tmp);
    avf_test_tensor(ctx, t, dt, n, s, v ? tmp : NULL);
    free(tmp);
}

static double *fetch(const avf_op_ctx *ctx, const avf_tensor *t) {
    int64_t cnt = avf_tensor_numel(t);
    void *tmp = malloc((size_t)(cnt ? cnt : 1) * 8);
    double *v = malloc((size_t)(cnt ? cnt : 1) * sizeof *v);
    avf_test_read(ctx, t, tmp);
    unpack(t->dtype, tmp, cnt, v);
    free(tmp);
    return v;
}

/* ---- MatMul reference: numpy semantics written out independently ---- */

typedef struct mm_case {
    int na, nb;
    int64_t a[6], b[6];
} mm_case;

static double *matmul_ref(const mm_case *c, const double *a, const double *b, int *ny,
                          int64_t *ys) {
    int64_t as[8], bs[8];
    int ra = c->na, rb = c->nb;
    memcpy(as, c->a, sizeof(int64_t) * (size_t)ra);
    memcpy(bs, c->b, sizeof(int64_t) * (size_t)rb);
    if (ra == 1) { as[1] = as[0]; as[0] = 1; ra = 2; }
    if (rb == 1) { bs[1] = 1; rb = 2; }
    int64_t M = as[ra - 2], K = as[ra - 1], N = bs[rb - 1];
    int nbd = (ra > rb ? ra : rb) - 2;
    int64_t bd[8], ad[8], bdd[8];
    for (int i = 0; i < nbd; i++) {
        int ia = i - (nbd - (ra - 2)), ib = i - (nbd - (rb - 2));
        ad[i] = ia >= 0 ? as[ia] : 1;
        bdd[i] = ib >= 0 ? bs[ib] : 1;
        bd[i] = ad[i] > bdd[i] ? ad[i] : bdd[i];
    }
    int n = 0;
    for (int i = 0; i < nbd; i++)
        ys[n++] = bd[i];
    if (c->na > 1)
        ys[n++] = M;
    if (c->nb > 1)
        ys[n++] = N;
    *ny = n;
    int64_t batch = numel_of(nbd, bd);
    double *y = calloc((size_t)(batch * M * N + 1), sizeof *y);
    for (int64_t i = 0; i < batch; i++) {
        int64_t rest = i, ai = 0, bi = 0, am = 1, bm = 1;
        for (int d = nbd - 1; d >= 0; d--) {
            int64_t idx = rest % bd[d];
            rest /= bd[d];
            ai += (ad[d] == 1 ? 0 : idx) * am;
            bi += (bdd[d] == 1 ? 0 : idx) * bm;
            am *= ad[d];
            bm *= bdd[d];
        }
        for (int64_t m = 0; m < M; m++)
            for (int64_t nn = 0; nn < N; nn++) {
                double s = 0.0;
                for (int64_t k = 0; k < K; k++)
                    s += a[(ai * M + m) * K + k] * b[(bi * K + k) * N + nn];
                y[(i * M + m) * N + nn] = s;
            }
    }
    return y;
}

static const mm_case mm_cases[] = {
    {1, 1, {7}, {7}},                          /* vector . vector -> scalar */
    {1, 2, {5}, {5, 3}},                       /* [K] x [K,N] -> [N] */
    {2, 1, {4, 6}, {6}},                       /* [M,K] x [K] -> [M] */
    {2, 2, {17, 33}, {33, 9}},
    {3, 2, {3, 5, 8}, {8, 6}},                 /* batch folds into M */
    {3, 3, {3, 5, 8}, {3, 8, 6}},              /* strided batch */
    {2, 3, {5, 8}, {4, 8, 6}},                 /* A broadcast over B's batch */
    {4, 4, {2, 1, 4, 5}, {1, 3, 5, 7}},        /* mixed broadcast: pointer arrays */
    {4, 3, {2, 3, 4, 5}, {3, 5, 2}},
    {1, 3, {6}, {2, 6, 3}},                    /* [K] x [B,K,N] -> [B,N] */
    {3, 1, {2, 3, 6}, {6}},                    /* [B,M,K] x [K] -> [B,M] */
    {2, 2, {4, 4096}, {4096, 5}},              /* large K */
    {2, 2, {3, 0}, {0, 4}},                    /* K = 0: zeros */
    {3, 2, {2, 0, 5}, {5, 3}},                 /* empty output */
};

static double tol_for(avf_dtype dt) {
    return dt == AVF_DTYPE_F64 ? 1e-12 : dt == AVF_DTYPE_F32 ? 1e-5 : dt == AVF_DTYPE_F16 ? 2e-3 : 1e-2;
}

/* Runs case c on ctx; returns Y as doubles, *n its size. */
static double *run_matmul(avf_op_ctx *ctx, avf_dtype dt, const mm_case *c, const double *a,
                          const double *b, int64_t *n) {
    avf_tensor ta, tb, ty;
    int ny = 0;
    int64_t ys[AVF_MAX_DIMS];
    assert_avf_ok(avf_matmul_shape(c->na, c->a, c->nb, c->b, &ny, ys));
    make(ctx, &ta, dt, c->na, c->a, a);
    make(ctx, &tb, dt, c->nb, c->b, b);
    make(ctx, &ty, dt, ny, ys, NULL);
    assert_avf_ok(avf_op_matmul(ctx, &ta, &tb, &ty));
    double *y = fetch(ctx, &ty);
    *n = avf_tensor_numel(&ty);
    avf_tensor_release(&ta, ctx->stream);
    avf_tensor_release(&tb, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    return y;
}

static void matmul_cpu_dtype(avf_dtype dt) {
    avf_test_env env;
    avf_test_env_init(&env);
    uint64_t seed = 0x1234567 + (uint64_t)dt;
    for (size_t ci = 0; ci < sizeof mm_cases / sizeof mm_cases[0]; ci++) {
        const mm_case *c = &mm_cases[ci];
        double *a = rand_vals(dt, numel_of(c->na, c->a), &seed);
        double *b = rand_vals(dt, numel_of(c->nb, c->b), &seed);
        int ny = 0;
        int64_t ys[8], n = 0;
        double *want = matmul_ref(c, a, b, &ny, ys);
        double *got = run_matmul(&env.cpu_ctx, dt, c, a, b, &n);
        assert_int_equal(n, numel_of(ny, ys));
        assert_rel_err_below(rel_err_d(got, want, n), tol_for(dt));
        free(a);
        free(b);
        free(want);
        free(got);
    }
    avf_test_env_free(&env);
}

static void test_matmul_cpu_f32(void **state) { (void)state; matmul_cpu_dtype(AVF_DTYPE_F32); }
static void test_matmul_cpu_f64(void **state) { (void)state; matmul_cpu_dtype(AVF_DTYPE_F64); }
static void test_matmul_cpu_f16(void **state) { (void)state; matmul_cpu_dtype(AVF_DTYPE_F16); }
static void test_matmul_cpu_bf16(void **state) { (void)state; matmul_cpu_dtype(AVF_DTYPE_BF16); }

/* CUDA against CPU on the same inputs, for one dtype and TF32 setting. */
static void matmul_cuda_vs_cpu(avf_dtype dt, int tf32, double tol) {
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    env.gpu_ctx.allow_tf32 = tf32;
    uint64_t seed = 0xabcdef + (uint64_t)dt * 7 + (uint64_t)tf32;
    for (size_t ci = 0; ci < sizeof mm_cases / sizeof mm_cases[0]; ci++) {
        const mm_case *c = &mm_cases[ci];
        double *a = rand_vals(dt, numel_of(c->na, c->a), &seed);
        double *b = rand_vals(dt, numel_of(c->nb, c->b), &seed);
        int64_t n1 = 0, n2 = 0;
        double *cpu = run_matmul(&env.cpu_ctx, dt, c, a, b, &n1);
        double *gpu = run_matmul(&env.gpu_ctx, dt, c, a, b, &n2);
        assert_int_equal(n1, n2);
        double e = rel_err_d(gpu, cpu, n1);
        if (!(e <= tol))
            print_message("MatMul case %zu (%s, tf32=%d)\n", ci, avf_dtype_name(dt), tf32);
        assert_rel_err_below(e, tol);
        free(a);
        free(b);
        free(cpu);
        free(gpu);
    }
    avf_test_env_free(&env);
}

static void test_matmul_cuda_f32(void **state) { (void)state; matmul_cuda_vs_cpu(AVF_DTYPE_F32, 0, 1e-5); }
static void test_matmul_cuda_f32_tf32(void **state) { (void)state; matmul_cuda_vs_cpu(AVF_DTYPE_F32, 1, 5e-3); }
static void test_matmul_cuda_f16(void **state) { (void)state; matmul_cuda_vs_cpu(AVF_DTYPE_F16, 0, 2e-3); }
static void test_matmul_cuda_bf16(void **state) { (void)state; matmul_cuda_vs_cpu(AVF_DTYPE_BF16, 0, 1e-2); }
static void test_matmul_cuda_f64(void **state) { (void)state; matmul_cuda_vs_cpu(AVF_DTYPE_F64, 0, 1e-12); }

/* ---- Gemm ---- */

typedef struct gemm_case {
    int64_t m, n, k;
    int nc; /* -1: no C */
    int64_t c[2];
} gemm_case;

static const gemm_case gemm_cases[] = {
    {5, 7, 9, -1, {0, 0}},
    {5, 7, 9, 2, {5, 7}},
    {5, 7, 9, 1, {7}},
    {5, 7, 9, 2, {1, 7}},
    {5, 7, 9, 2, {5, 1}},
    {5, 7, 9, 2, {1, 1}},
    {5, 7, 9, 0, {0, 0}},      /* scalar C */
    {5, 7, 9, 1, {1}},
    {64, 33, 130, 2, {64, 33}},
    /* one row or one column of Y: avf_cpu_sgemm's sgemv path (cpu/blas.c),
     * also split over the threads when the vector is long */
    {1, 7, 9, 2, {1, 7}},
    {5, 1, 9, 1, {1}},
    {1, 1, 9, -1, {0, 0}},
    {1, 3000, 700, -1, {0, 0}},
    {3000, 1, 700, 2, {3000, 1}},
    {3, 4, 0, 2, {3, 4}},      /* K = 0: beta * C */
    {3, 4, 0, -1, {0, 0}},     /* K = 0, no C: zeros */
};

static const float gemm_ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.25f, 0.0f}};

static double *gemm_ref(const avf_gemm_params *p, const gemm_case *g, const double *a,
                        const double *b, const double *c) {
    double *y = calloc((size_t)(g->m * g->n + 1), sizeof *y);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < g->k; k++) {
                double av = p->trans_a ? a[k * g->m + i] : a[i * g->k + k];
                double bv = p->trans_b ? b[j * g->k + k] : b[k * g->n + j];
                s += av * bv;
            }
            double cv = 0.0;
            if (c) {
                int64_t r = g->nc == 2 ? (g->c[0] == 1 ? 0 : i) : 0;
                int64_t col = g->nc >= 1 ? (g->c[g->nc - 1] == 1 ? 0 : j) : 0;
                int64_t cols = g->nc >= 1 ? g->c[g->nc - 1] : 1;
                cv = c[r * cols + col];
            }
            y[i * g->n + j] = (double)p->alpha * s + (c ? (double)p->beta * cv : 0.0);
        }
    return y;
}

static double *run_gemm(avf_op_ctx *ctx, avf_dtype dt, const avf_gemm_params *p,
                        const gemm_case *g, const double *a, const double *b, const double *c) {
    int64_t as[2] = {p->trans_a ? g->k : g->m, p->trans_a ? g->m : g->k};
    int64_t bs[2] = {p->trans_b ? g->n : g->k, p->trans_b ? g->k : g->n};
    int64_t ys[2] = {g->m, g->n};
    avf_tensor ta, tb, tc, ty;
    make(ctx, &ta, dt, 2, as, a);
    make(ctx, &tb, dt, 2, bs, b);
    if (c)
        make(ctx, &tc, dt, g->nc, g->c, c);
    make(ctx, &ty, dt, 2, ys, NULL);
    assert_avf_ok(avf_op_gemm(ctx, p, &ta, &tb, c ? &tc : NULL, &ty));
    double *y = fetch(ctx, &ty);
    avf_tensor_release(&ta, ctx->stream);
    avf_tensor_release(&tb, ctx->stream);
    if (c)
        avf_tensor_release(&tc, ctx->stream);
    avf_tensor_release(&ty, ctx->stream);
    return y;
}

/* Every transpose x alpha/beta x C-shape combination; gpu: compare CUDA
 * with CPU instead of CPU with the reference. */
static void gemm_all(avf_dtype dt, int gpu, int tf32, double tol) {
    avf_test_env env;
    avf_test_env_init(&env);
    if (gpu && !env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    env.gpu_ctx.allow_tf32 = tf32;
    uint64_t seed = 0x5eed + (uint64_t)dt + 100u * (uint64_t)gpu;
    for (size_t gi = 0; gi < sizeof gemm_cases / sizeof gemm_cases[0]; gi++)
        for (int t = 0; t < 4; t++)
            for (size_t ab = 0; ab < sizeof gemm_ab / sizeof gemm_ab[0]; ab++) {
                const gemm_case *g = &gemm_cases[gi];
                avf_gemm_params p = {t & 1, (t >> 1) & 1, gemm_ab[ab][0], gemm_ab[ab][1]};
                double *a = rand_vals(dt, g->m * g->k, &seed);
                double *b = rand_vals(dt, g->k * g->n, &seed);
                double *c = g->nc >= 0 ? rand_vals(dt, numel_of(g->nc, g->c), &seed) : NULL;
                double *want = gpu ? run_gemm(&env.cpu_ctx, dt, &p, g, a, b, c)
                                   : gemm_ref(&p, g, a, b, c);
                double *got = run_gemm(gpu ? &env.gpu_ctx : &env.cpu_ctx, dt, &p, g, a, b, c);
                double e = rel_err_d(got, want, g->m * g->n);
                if (!(e <= tol))
                    print_message("Gemm case %zu trans %d alpha/beta %zu (%s)\n", gi, t, ab,
                                  avf_dtype_name(dt));
                assert_rel_err_below(e, tol);
                free(a);
                free(b);
                free(c);
                free(want);
                free(got);
            }
    avf_test_env_free(&env);
}

/* avf_cpu_sgemm on vector shapes with beta 0 and C full of NaN: C is
 * written, never read (the Conv, LSTM and MatMul kernels hand it pool
 * memory); every transpose, C's leading dim wider than the row. */
static void test_cpu_sgemm_vectors_beta0(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 37, 19}, {23, 1, 19}, {1, 1, 5}, {1, 2100, 600}};
    uint64_t seed = 0xbe7a0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int t = 0; t < 4; t++) {
            const int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            const int ta = t & 1, tb = (t >> 1) & 1, ldc = n + 3;
            double *ad = rand_vals(AVF_DTYPE_F32, (int64_t)m * k, &seed);
            double *bd = rand_vals(AVF_DTYPE_F32, (int64_t)k * n, &seed);
            float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
            float *c = malloc((size_t)m * ldc * sizeof *c);
            assert_non_null(a);
            assert_non_null(b);
            assert_non_null(c);
            pack(AVF_DTYPE_F32, ad, (int64_t)m * k, a);
            pack(AVF_DTYPE_F32, bd, (int64_t)k * n, b);
            for (int i = 0; i < m * ldc; i++)
                c[i] = NAN;
            /* a is op(A) stored as m x k (ta 0) or k x m (ta 1), b likewise */
            avf_cpu_sgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                          0.5f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, ldc);
            double worst = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double want = 0, mag = 0; /* mag: the sum of |products|, the */
                    for (int q = 0; q < k; q++) { /* scale of f32 rounding in a sum */
                        double pq = (ta ? ad[q * m + i] : ad[i * k + q]) *
                                    (tb ? bd[j * k + q] : bd[q * n + j]);
                        want += pq;
                        mag += fabs(pq);
                    }
                    want *= 0.5;
                    double e = fabs(c[i * ldc + j] - want) / (0.5 * mag + 1e-30);
                    worst = isnan(c[i * ldc + j]) ? INFINITY : (e > worst ? e : worst);
                }
            if (!(worst <= 1e-5))
                print_message("sgemm %dx%dx%d trans %d: rel %g\n", m, n, k, t, worst);
            assert_true(worst <= 1e-5);
            for (int i = 0; i < m; i++) /* C's padding past n stays untouched */
                for (int j = n; j < ldc; j++)
                    assert_true(isnan(c[i * ldc + j]));
            free(a);
            free(b);
            free(c);
            free(ad);
            free(bd);
        }
}

static void test_gemm_cpu_f32(void **state) { (void)state; gemm_all(AVF_DTYPE_F32, 0, 0, 1e-5); }
static void test_gemm_cpu_f64(void **state) { (void)state; gemm_all(AVF_DTYPE_F64, 0, 0, 1e-12); }
static void test_gemm_cpu_f16(void **state) { (void)state; gemm_all(AVF_DTYPE_F16, 0, 0, 3e-3); }
static void test_gemm_cuda_f32(void **state) { (void)state; gemm_all(AVF_DTYPE_F32, 1, 0, 1e-5); }
static void test_gemm_cuda_f32_tf32(void **state) { (void)state; gemm_all(AVF_DTYPE_F32, 1, 1, 5e-3); }
static void test_gemm_cuda_f16(void **state) { (void)state; gemm_all(AVF_DTYPE_F16, 1, 0, 3e-3); }
static void test_gemm_cuda_bf16(void **state) { (void)state; gemm_all(AVF_DTYPE_BF16, 1, 0, 2e-2); }
static void test_gemm_cuda_f64(void **state) { (void)state; gemm_all(AVF_DTYPE_F64, 1, 0, 1e-12); }

/* ---- error paths ---- */

static void test_matmul_shape_errors(void **state) {
    (void)state;
    int n = 0;
    int64_t out[AVF_MAX_DIMS];
    int64_t a[3] = {2, 3, 4}, b[3] = {2, 5, 6}, c[3] = {3, 4, 6}, v[1] = {4};
    assert_avf_fails(avf_matmul_shape(0, a, 2, b, &n, out), AVF_ERR_INVALID_ARG);  /* scalar */
    assert_avf_fails(avf_matmul_shape(3, a, 3, b, &n, out), AVF_ERR_INVALID_ARG);  /* K 4 vs 5 */
    assert_avf_fails(avf_matmul_shape(3, a, 3, c, &n, out), AVF_ERR_INVALID_ARG);  /* batch 2 vs 3 */
    assert_avf_fails(avf_matmul_shape(1, v, 1, b, &n, out), AVF_ERR_INVALID_ARG);  /* [4].[2] */
    assert_avf_ok(avf_matmul_shape(1, v, 1, v, &n, out));
    assert_int_equal(n, 0);
    int64_t d[2] = {4, 6};
    assert_avf_ok(avf_matmul_shape(3, a, 2, d, &n, out));
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 6);

    avf_gemm_params p = {0, 0, 1.0f, 1.0f};
    int64_t ga[2] = {3, 4}, gb[2] = {4, 5}, gbad[2] = {5, 5}, gc_bad[2] = {2, 5}, gc3[3] = {1, 3, 5};
    assert_avf_fails(avf_gemm_shape(&p, 3, a, 2, gb, -1, NULL, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_gemm_shape(&p, 2, ga, 2, gbad, -1, NULL, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_gemm_shape(&p, 2, ga, 2, gb, 2, gc_bad, &n, out), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_gemm_shape(&p, 2, ga, 2, gb, 3, gc3, &n, out), AVF_ERR_INVALID_ARG);
    p.trans_b = 1; /* B is now read as [5,4]^T -> K mismatch with A's 4? [4,5]^T = [5,4]: K=5 */
    assert_avf_fails(avf_gemm_shape(&p, 2, ga, 2, gb, -1, NULL, &n, out), AVF_ERR_INVALID_ARG);
    p.trans_a = 1;
    p.trans_b = 0;
    int64_t gat[2] = {4, 3};
    assert_avf_ok(avf_gemm_shape(&p, 2, gat, 2, gb, -1, NULL, &n, out));
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 5);
}

static void test_matmul_op_errors(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    avf_op_ctx *ctx = &env.cpu_ctx;
    int64_t as[2] = {2, 3}, bs[2] = {3, 4}, ys[2] = {2, 4}, bad[2] = {2, 5};
    avf_tensor a, b16, b, y, ybad, ai;
    avf_test_tensor(ctx, &a, AVF_DTYPE_F32, 2, as, NULL);
    avf_test_tensor(ctx, &b, AVF_DTYPE_F32, 2, bs, NULL);
    avf_test_tensor(ctx, &b16, AVF_DTYPE_F16, 2, bs, NULL);
    avf_test_tensor(ctx, &y, AVF_DTYPE_F32, 2, ys, NULL);
    avf_test_tensor(ctx, &ybad, AVF_DTYPE_F32, 2, bad, NULL);
    avf_test_tensor(ctx, &ai, AVF_DTYPE_I32, 2, as, NULL);
    assert_avf_fails(avf_op_matmul(ctx, &a, &b16, &y), AVF_ERR_INVALID_ARG);   /* mixed dtypes */
    assert_avf_fails(avf_op_matmul(ctx, &a, &b, &ybad), AVF_ERR_INVALID_ARG);  /* wrong Y shape */
    assert_avf_fails(avf_op_matmul(ctx, &ai, &b, &y), AVF_ERR_UNSUPPORTED);    /* int matmul */
    assert_avf_fails(avf_op_matmul(ctx, &a, NULL, &y), AVF_ERR_INVALID_ARG);
    avf_gemm_params p = {0, 0, 1.0f, 1.0f};
    assert_avf_fails(avf_op_gemm(ctx, &p, &a, &b, &ybad, &y), AVF_ERR_INVALID_ARG); /* C [2,5] */
    assert_avf_fails(avf_op_gemm(ctx, &p, &a, &b, NULL, &ybad), AVF_ERR_INVALID_ARG);
    avf_tensor *ts[] = {&a, &b, &b16, &y, &ybad, &ai};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        avf_tensor_release(ts[i], ctx->stream);
    avf_test_env_free(&env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_shape_errors),
        cmocka_unit_test(test_matmul_op_errors),
        cmocka_unit_test(test_matmul_cpu_f32),
        cmocka_unit_test(test_cpu_sgemm_vectors_beta0),
        cmocka_unit_test(test_matmul_cpu_f64),
        cmocka_unit_test(test_matmul_cpu_f16),
        cmocka_unit_test(test_matmul_cpu_bf16),
        cmocka_unit_test(test_gemm_cpu_f32),
        cmocka_unit_test(test_gemm_cpu_f64),
        cmocka_unit_test(test_gemm_cpu_f16),
        cmocka_unit_test(test_matmul_cuda_f32),
        cmocka_unit_test(test_matmul_cuda_f32_tf32),
        cmocka_unit_test(test_matmul_cuda_f16),
        cmocka_unit_test(test_matmul_cuda_bf16),
        cmocka_unit_test(test_matmul_cuda_f64),
        cmocka_unit_test(test_gemm_cuda_f32),
        cmocka_unit_test(test_gemm_cuda_f32_tf32),
        cmocka_unit_test(test_gemm_cuda_f16),
        cmocka_unit_test(test_gemm_cuda_bf16),
        cmocka_unit_test(test_gemm_cuda_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
