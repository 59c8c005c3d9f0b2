/* Elementwise family kernels: CPU against naive double references, CUDA
 * against the CPU on the same inputs, and the shape functions' error paths.
 * Cast across all dtype pairs is in test_elementwise_cast.c. */
#include "test_elementwise_util.h"

static avf_test_env env;

static int setup(void **state) {
    avf_test_env_init(&env);
    return 0;
}
static int teardown(void **state) {
    avf_test_env_free(&env);
    return 0;
}

static void need_gpu(void) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
}

/* ------------------------------------------------------------- references */

static double ref_unary(const avf_unary_params *p, double v) {
    switch (p->op) {
    case AVF_UNARY_RELU: return v < 0 ? 0 : v;
    case AVF_UNARY_LEAKY_RELU: return v < 0 ? p->alpha * v : v;
    case AVF_UNARY_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case AVF_UNARY_HARD_SIGMOID: return fmax(0.0, fmin(1.0, p->alpha * v + p->beta));
    case AVF_UNARY_HARD_SWISH: return v * fmax(0.0, fmin(1.0, v / 6.0 + 0.5));
    case AVF_UNARY_TANH: return tanh(v);
    case AVF_UNARY_ERF: return erf(v);
    case AVF_UNARY_GELU: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case AVF_UNARY_GELU_TANH:
        return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    case AVF_UNARY_SQRT: return sqrt(v);
    case AVF_UNARY_EXP: return exp(v);
    case AVF_UNARY_LOG: return log(v);
    case AVF_UNARY_NEG: return -v;
    case AVF_UNARY_ABS: return fabs(v);
    case AVF_UNARY_CLIP:
        if (p->has_min && v < p->fmin)
            v = p->fmin;
        return p->has_max && v > p->fmax ? p->fmax : v;
    case AVF_UNARY_NOT: return v == 0;
    case AVF_UNARY_IDENTITY: return v;
    default: return NAN;
    }
}

static double ref_binary(avf_binary_op op, int is_int, double x, double y) {
    switch (op) {
    case AVF_BINARY_ADD: return x + y;
    case AVF_BINARY_SUB: return x - y;
    case AVF_BINARY_MUL: return x * y;
    case AVF_BINARY_DIV: return is_int ? trunc(x / y) : x / y;
    case AVF_BINARY_POW: return is_int ? trunc(pow(x, y)) : pow(x, y);
    case AVF_BINARY_MAX: return x > y ? x : y;
    case AVF_BINARY_MIN: return x < y ? x : y;
    case AVF_BINARY_EQUAL: return x == y;
    case AVF_BINARY_LESS: return x < y;
    case AVF_BINARY_LESS_EQUAL: return x <= y;
    case AVF_BINARY_GREATER: return x > y;
    case AVF_BINARY_GREATER_EQUAL: return x >= y;
    case AVF_BINARY_AND: return x != 0 && y != 0;
    case AVF_BINARY_OR: return x != 0 || y != 0;
    default: return NAN;
    }
}

static double tol_for(avf_dtype d) {
    return d == AVF_DTYPE_F16 ? 2e-3 : d == AVF_DTYPE_BF16 ? 1e-2 : ew_is_float(d) ? 1e-6 : 0.0;
}

/* ------------------------------------------------------------- unary */

static void unary_range(avf_unary_op op, double *lo, double *hi) {
    *lo = -4.0;
    *hi = 4.0;
    if (op == AVF_UNARY_SQRT || op == AVF_UNARY_LOG)
        *lo = 0.05;
}

/* Run op on the CPU against the reference; on the GPU (gpu != 0) against
 * the CPU. */
static void check_unary(const avf_unary_params *p, avf_dtype d, int nd, const int64_t *s,
                        uint64_t seed, int gpu) {
    int64_t n = ew_numel(nd, s);
    double lo, hi;
    unary_range(p->op, &lo, &hi);
    if (!ew_is_float(d) && d != AVF_DTYPE_BOOL)
        lo = ew_is_unsigned(d) ? 0 : -50, hi = 50;
    void *in = ew_rand(d, n, &seed, lo, hi);
    avf_tensor x, y;
    ew_tensor(&env.cpu_ctx, &x, d, nd, s, in);
    ew_tensor(&env.cpu_ctx, &y, d, nd, s, NULL);
    assert_avf_ok(avf_op_unary(&env.cpu_ctx, p, &x, &y));
    void *cpu = ew_read(&env.cpu_ctx, &y);
    if (!gpu) {
        double *want = (double *)malloc((size_t)(n ? n : 1) * sizeof *want);
        for (int64_t i = 0; i < n; i++)
            want[i] = ref_unary(p, ew_get(d, in, i));
        if (ew_is_float(d)) {
            double e = ew_err(d, cpu, want, n);
            if (!(e <= tol_for(d)))
                print_error("%s %s rank %d\n", avf_unary_op_name(p->op), avf_dtype_name(d), nd);
            assert_rel_err_below(e, tol_for(d));
        } else {
            for (int64_t i = 0; i < n; i++)
                assert_true(ew_get(d, cpu, i) == want[i]);
        }
        free(want);
    } else {
        avf_tensor gx, gy;
        ew_tensor(&env.gpu_ctx, &gx, d, nd, s, in);
        ew_tensor(&env.gpu_ctx, &gy, d, nd, s, NULL);
        assert_avf_ok(avf_op_unary(&env.gpu_ctx, p, &gx, &gy));
        void *got = ew_read(&env.gpu_ctx, &gy);
        if (ew_is_float(d)) {
            double *want = (double *)malloc((size_t)(n ? n : 1) * sizeof *want);
            for (int64_t i = 0; i < n; i++)
                want[i] = ew_get(d, cpu, i);
            assert_rel_err_below(ew_err(d, got, want, n), d == AVF_DTYPE_F32 ? 1e-5 : 2e-3);
            free(want);
        } else {
            assert_int_equal(ew_mismatch(d, got, cpu, n), 0);
        }
        free(got);
        avf_tensor_release(&gx, env.gpu_stream);
        avf_tensor_release(&gy, env.gpu_stream);
    }
    free(cpu);
    free(in);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

static const int64_t sh_3d[] = {3, 4, 5}, sh_empty[] = {0, 3}, sh_big[] = {4133};

static void unary_all(int gpu) {
    static const avf_dtype fdt[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16, AVF_DTYPE_F64};
    static const avf_dtype idt[] = {AVF_DTYPE_I64, AVF_DTYPE_I32, AVF_DTYPE_I16, AVF_DTYPE_I8,
                                    AVF_DTYPE_U8,  AVF_DTYPE_U16, AVF_DTYPE_U32, AVF_DTYPE_U64};
    int nf = gpu ? 3 : 4, ni = 8; /* integer ops: every integer dtype on both devices */
    uint64_t seed = 0x1234;
    for (int op = 0; op < AVF_UNARY_COUNT; op++) {
        avf_unary_params p;
        memset(&p, 0, sizeof p);
        p.op = (avf_unary_op)op;
        p.alpha = op == AVF_UNARY_LEAKY_RELU ? 0.1f : 0.2f;
        p.beta = 0.5f;
        if (op == AVF_UNARY_CLIP) {
            p.has_min = p.has_max = 1;
            p.fmin = -1.0, p.fmax = 1.5, p.imin = -7, p.imax = 9;
        }
        if (op == AVF_UNARY_NOT) {
            check_unary(&p, AVF_DTYPE_BOOL, 3, sh_3d, seed++, gpu);
            continue;
        }
        for (int k = 0; k < nf; k++) {
            check_unary(&p, fdt[k], 3, sh_3d, seed++, gpu);
            check_unary(&p, fdt[k], 0, NULL, seed++, gpu);
            check_unary(&p, fdt[k], 2, sh_empty, seed++, gpu);
            check_unary(&p, fdt[k], 1, sh_big, seed++, gpu);
        }
        if (op != AVF_UNARY_RELU && op != AVF_UNARY_ABS && op != AVF_UNARY_CLIP &&
            op != AVF_UNARY_NEG && op != AVF_UNARY_IDENTITY)
            continue;
        for (int k = 0; k < ni; k++) {
            if (op == AVF_UNARY_NEG && ew_is_unsigned(idt[k]))
                continue;
            if (op == AVF_UNARY_CLIP) { /* integer bounds come from imin/imax */
                /* an unsigned dtype's bounds are its own values (u64's are
                 * compared unsigned) */
                p.imin = ew_is_unsigned(idt[k]) ? 2 : -7;
                p.fmin = (double)p.imin;
                p.fmax = (double)p.imax;
            }
            check_unary(&p, idt[k], 3, sh_3d, seed++, gpu);
            check_unary(&p, idt[k], 1, sh_big, seed++, gpu);
        }
    }
}

static void test_unary_cpu(void **state) { unary_all(0); }
static void test_unary_cuda(void **state) {
    need_gpu();
    unary_all(1);
}

/* ONNX Clip: min > max sets everything to max; a missing bound is open. */
static void test_clip_edges(void **state) {
    float in[4] = {-3.f, 0.f, 2.f, 9.f}, out[4];
    int64_t s[] = {4};
    avf_tensor x, y;
    ew_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 1, s, in);
    ew_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 1, s, NULL);
    avf_unary_params p = {.op = AVF_UNARY_CLIP, .has_min = 1, .has_max = 1, .fmin = 5, .fmax = 1};
    assert_avf_ok(avf_op_unary(&env.cpu_ctx, &p, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, out);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == 1.f);
    p.has_max = 0;
    assert_avf_ok(avf_op_unary(&env.cpu_ctx, &p, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, out);
    assert_true(out[0] == 5.f && out[3] == 9.f);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

/* ------------------------------------------------------------- binary */

typedef struct shape_pair {
    int na;
    int64_t a[4];
    int nb;
    int64_t b[4];
} shape_pair;

static const shape_pair pairs[] = {
    {3, {2, 1, 4}, 2, {3, 1}},    {2, {4, 5}, 2, {4, 5}},       {0, {0}, 2, {3, 2}},
    {2, {2, 3}, 0, {0}},          {2, {2, 3}, 1, {1}},          {2, {0, 3}, 2, {1, 3}},
    {4, {5, 1, 1, 3}, 2, {4, 1}}, {4, {2, 3, 4, 5}, 3, {3, 1, 5}}, {1, {1031}, 1, {1031}},
    {1, {1031}, 0, {0}},          {0, {0}, 1, {1030}},          {2, {33, 1}, 2, {1, 65}},
    {4, {2, 3, 6, 7}, 4, {2, 3, 1, 1}}, /* an SE block: rows of 42 times one value each */
};
#define N_PAIRS (sizeof pairs / sizeof pairs[0])

static void operand_range(avf_binary_op op, avf_dtype d, int which, double *lo, double *hi) {
    int fl = ew_is_float(d);
    *lo = fl ? -4 : (ew_is_unsigned(d) ? 0 : -20);
    *hi = fl ? 4 : 20;
    if (op == AVF_BINARY_POW && which == 0)
        *lo = fl ? 0.25 : -5, *hi = fl ? 3 : 5;
    if (op == AVF_BINARY_POW && which == 1)
        *lo = fl ? -2 : 0, *hi = fl ? 2 : 4;
    if (d == AVF_DTYPE_BOOL)
        *lo = 0, *hi = 1;
}

/* a (dt a) op b (dt b) with shapes sp: the CPU against the reference, and
 * the GPU against the CPU when gpu (optionally with a misaligned b). */
static void check_binary(avf_binary_op op, avf_dtype da, avf_dtype db, const shape_pair *sp,
                         uint64_t seed, int gpu, int misalign) {
    int64_t na = ew_numel(sp->na, sp->a), nb = ew_numel(sp->nb, sp->b);
    double lo, hi;
    operand_range(op, da, 0, &lo, &hi);
    void *ha = ew_rand(da, na, &seed, lo, hi);
    operand_range(op, db, 1, &lo, &hi);
    void *hb = ew_rand(db, nb, &seed, lo, hi);
    if (op == AVF_BINARY_DIV) /* no zero divisors (ints: undefined; floats: inf) */
        for (int64_t i = 0; i < nb; i++)
            if (fabs(ew_get(db, hb, i)) < 0.25)
                ew_set(db, hb, i, 3);
    avf_dtype od;
    int no;
    int64_t os[AVF_MAX_DIMS];
    assert_avf_ok(avf_binary_shape(op, da, sp->na, sp->a, db, sp->nb, sp->b, &od, &no, os));
    int64_t n = ew_numel(no, os);
    avf_tensor a, b, o;
    ew_tensor(&env.cpu_ctx, &a, da, sp->na, sp->a, ha);
    ew_tensor(&env.cpu_ctx, &b, db, sp->nb, sp->b, hb);
    ew_tensor(&env.cpu_ctx, &o, od, no, os, NULL);
    assert_avf_ok(avf_op_binary(&env.cpu_ctx, op, &a, &b, &o));
    void *cpu = ew_read(&env.cpu_ctx, &o);
    if (!gpu) {
        double *want = (double *)malloc((size_t)(n ? n : 1) * sizeof *want);
        int is_int = !ew_is_float(da) && !ew_is_float(db);
        for (int64_t i = 0; i < n; i++)
        {
            want[i] = ref_binary(op, is_int, ew_get(da, ha, ew_bidx(no, os, sp->na, sp->a, i)),
                                 ew_get(db, hb, ew_bidx(no, os, sp->nb, sp->b, i)));
            if (!ew_is_float(od) && od != AVF_DTYPE_BOOL) /* float -> int truncates */
                want[i] = isnan(want[i]) ? 0 : ew_wrap(od, trunc(want[i]));
        }
        if (ew_is_float(od)) {
            assert_rel_err_below(ew_err(od, cpu, want, n), tol_for(od));
            /* f32 Add/Sub/Mul (binary_f32.c's loops where strides allow):
             * exactly the double result rounded once to float */
            if (od == AVF_DTYPE_F32 && da == AVF_DTYPE_F32 && db == AVF_DTYPE_F32 &&
                (op == AVF_BINARY_ADD || op == AVF_BINARY_SUB || op == AVF_BINARY_MUL))
                for (int64_t i = 0; i < n; i++)
                    assert_true(((const float *)cpu)[i] == (float)want[i]);
        } else {
            for (int64_t i = 0; i < n; i++) {
                if (ew_get(od, cpu, i) != want[i])
                    print_error("%s %s: [%lld] %g != %g\n", avf_binary_op_name(op),
                                avf_dtype_name(da), (long long)i, ew_get(od, cpu, i), want[i]);
                assert_true(ew_get(od, cpu, i) == want[i]);
            }
        }
        free(want);
    } else {
        avf_tensor ga, gb, go, gbig, gbv;
        ew_tensor(&env.gpu_ctx, &ga, da, sp->na, sp->a, ha);
        ew_tensor(&env.gpu_ctx, &gb, db, sp->nb, sp->b, hb);
        const avf_tensor *bp = &gb;
        if (misalign && nb > 0) { /* b one element into a larger buffer */
            int64_t big = nb + 1;
            ew_tensor(&env.gpu_ctx, &gbig, db, 1, &big, NULL);
            assert_avf_ok(avf_memcpy_async(env.gpu, (char *)gbig.data + avf_dtype_size(db),
                                           gb.data, avf_tensor_nbytes(&gb), AVF_COPY_D2D,
                                           env.gpu_stream, "test"));
            assert_avf_ok(avf_tensor_init_borrowed(&gbv, (char *)gbig.data + avf_dtype_size(db),
                                                   db, sp->nb, sp->b, env.gpu));
            bp = &gbv;
        }
        ew_tensor(&env.gpu_ctx, &go, od, no, os, NULL);
        assert_avf_ok(avf_op_binary(&env.gpu_ctx, op, &ga, bp, &go));
        void *got = ew_read(&env.gpu_ctx, &go);
        if (ew_is_float(od)) {
            double *want = (double *)malloc((size_t)(n ? n : 1) * sizeof *want);
            for (int64_t i = 0; i < n; i++)
                want[i] = ew_get(od, cpu, i);
            assert_rel_err_below(ew_err(od, got, want, n), od == AVF_DTYPE_F32 ? 1e-5 : 2e-3);
            free(want);
        } else {
            int64_t bad = ew_mismatch(od, got, cpu, n);
            for (int64_t i = 0, shown = 0; bad && i < n && shown < 4; i++) {
                double g = ew_get(od, got, i), c = ew_get(od, cpu, i);
                if (g == c || (isnan(g) && isnan(c)))
                    continue;
                shown++;
                print_error("%s %s x %s -> %s: [%lld] of %lld: %.17g %s %.17g: gpu %.17g, cpu "
                            "%.17g\n",
                            avf_binary_op_name(op), avf_dtype_name(da), avf_dtype_name(db),
                            avf_dtype_name(od), (long long)i, (long long)n,
                            ew_get(da, ha, ew_bidx(no, os, sp->na, sp->a, i)),
                            avf_binary_op_name(op),
                            ew_get(db, hb, ew_bidx(no, os, sp->nb, sp->b, i)), g, c);
            }
            assert_int_equal(bad, 0);
        }
        free(got);
        avf_tensor_release(&ga, env.gpu_stream);
        avf_tensor_release(&gb, env.gpu_stream);
        avf_tensor_release(&go, env.gpu_stream);
        if (misalign && nb > 0)
            avf_tensor_release(&gbig, env.gpu_stream);
    }
    free(cpu);
    free(ha);
    free(hb);
    avf_tensor_release(&a, NULL);
    avf_tensor_release(&b, NULL);
    avf_tensor_release(&o, NULL);
}

static void binary_all(int gpu) {
    /* every numeric dtype on both devices (CUDA: f64 in double, small ints) */
    static const avf_dtype dts[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16,
                                    AVF_DTYPE_F64, AVF_DTYPE_I64, AVF_DTYPE_I32,
                                    AVF_DTYPE_I16, AVF_DTYPE_I8,  AVF_DTYPE_U8,
                                    AVF_DTYPE_U16, AVF_DTYPE_U32, AVF_DTYPE_U64};
    int ndt = 12;
    uint64_t seed = 0xbeef;
    for (int op = 0; op < AVF_BINARY_COUNT; op++) {
        if (op == AVF_BINARY_POW || op == AVF_BINARY_AND || op == AVF_BINARY_OR)
            continue;
        for (int k = 0; k < ndt; k++)
            for (size_t s = 0; s < N_PAIRS; s++)
                check_binary((avf_binary_op)op, dts[k], dts[k], &pairs[s], seed++, gpu,
                             gpu && (s & 1));
    }
    /* bool: logic and Equal */
    static const avf_binary_op bops[] = {AVF_BINARY_AND, AVF_BINARY_OR, AVF_BINARY_EQUAL};
    for (int k = 0; k < 3; k++)
        for (size_t s = 0; s < N_PAIRS; s++)
            check_binary(bops[k], AVF_DTYPE_BOOL, AVF_DTYPE_BOOL, &pairs[s], seed++, gpu, 0);
    /* Pow: float and integer bases with float or integer exponents, on both
     * devices (ONNX's Pow tests mix them: int32 ** float32, int64 ** int64) */
    static const avf_dtype pb[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_I64, AVF_DTYPE_I32,
                                   AVF_DTYPE_F64, AVF_DTYPE_U32, AVF_DTYPE_U64};
    for (int k = 0; k < 7; k++)
        for (size_t s = 0; s < N_PAIRS; s++) {
            check_binary(AVF_BINARY_POW, AVF_DTYPE_F32, pb[k], &pairs[s], seed++, gpu, 0);
            check_binary(AVF_BINARY_POW, AVF_DTYPE_F16, pb[k], &pairs[s], seed++, gpu, 0);
            check_binary(AVF_BINARY_POW, AVF_DTYPE_F64, pb[k], &pairs[s], seed++, gpu, 0);
            check_binary(AVF_BINARY_POW, AVF_DTYPE_I64, pb[k], &pairs[s], seed++, gpu, 0);
            check_binary(AVF_BINARY_POW, AVF_DTYPE_I32, pb[k], &pairs[s], seed++, gpu, 0);
            check_binary(AVF_BINARY_POW, AVF_DTYPE_I8, pb[k], &pairs[s], seed++, gpu, 0);
        }
}

static void test_binary_cpu(void **state) { binary_all(0); }
static void test_binary_cuda(void **state) {
    need_gpu();
    binary_all(1);
}

/* Integer corner cases: C division truncation, x/0 -> 0, MIN/-1 wraps. */
static void test_int_div(void **state) {
    int32_t a[5] = {7, -7, 7, INT32_MIN, 5}, b[5] = {2, 2, -2, -1, 0}, o[5];
    int64_t s[] = {5};
    avf_tensor ta, tb, to;
    ew_tensor(&env.cpu_ctx, &ta, AVF_DTYPE_I32, 1, s, a);
    ew_tensor(&env.cpu_ctx, &tb, AVF_DTYPE_I32, 1, s, b);
    ew_tensor(&env.cpu_ctx, &to, AVF_DTYPE_I32, 1, s, NULL);
    assert_avf_ok(avf_op_binary(&env.cpu_ctx, AVF_BINARY_DIV, &ta, &tb, &to));
    avf_test_read(&env.cpu_ctx, &to, o);
    assert_int_equal(o[0], 3);
    assert_int_equal(o[1], -3);
    assert_int_equal(o[2], -3);
    assert_int_equal(o[3], INT32_MIN);
    assert_int_equal(o[4], 0);
    avf_tensor_release(&ta, NULL);
    avf_tensor_release(&tb, NULL);
    avf_tensor_release(&to, NULL);
}

/* u64 values above 2^63 (negative as int64): ordering, Max/Min, division
 * and Sub wrap in uint64, Clip compares unsigned, Cast goes by value. */
static void u64_order(avf_op_ctx *ctx) {
    const uint64_t big = (1ull << 63) + 5;
    uint64_t a[4] = {big, 3, UINT64_MAX, 0}, b[4] = {4, 1ull << 63, 1, UINT64_MAX}, o[4];
    uint8_t ob[4];
    int64_t s[] = {4};
    avf_tensor ta, tb, to, tl;
    ew_tensor(ctx, &ta, AVF_DTYPE_U64, 1, s, a);
    ew_tensor(ctx, &tb, AVF_DTYPE_U64, 1, s, b);
    ew_tensor(ctx, &to, AVF_DTYPE_U64, 1, s, NULL);
    ew_tensor(ctx, &tl, AVF_DTYPE_BOOL, 1, s, NULL);
    assert_avf_ok(avf_op_binary(ctx, AVF_BINARY_MAX, &ta, &tb, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == big && o[1] == 1ull << 63 && o[2] == UINT64_MAX && o[3] == UINT64_MAX);
    assert_avf_ok(avf_op_binary(ctx, AVF_BINARY_MIN, &ta, &tb, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == 4 && o[1] == 3 && o[2] == 1 && o[3] == 0);
    assert_avf_ok(avf_op_binary(ctx, AVF_BINARY_DIV, &ta, &tb, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == big / 4 && o[1] == 0 && o[2] == UINT64_MAX && o[3] == 0);
    assert_avf_ok(avf_op_binary(ctx, AVF_BINARY_SUB, &tb, &ta, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == 4 - big && o[3] == UINT64_MAX);
    assert_avf_ok(avf_op_binary(ctx, AVF_BINARY_LESS, &ta, &tb, &tl));
    avf_test_read(ctx, &tl, ob);
    assert_true(ob[0] == 0 && ob[1] == 1 && ob[2] == 0 && ob[3] == 1);
    avf_unary_params p;
    memset(&p, 0, sizeof p);
    p.op = AVF_UNARY_CLIP;
    p.has_min = p.has_max = 1;
    p.imin = 2;
    p.imax = (int64_t)(1ull << 63); /* the bound's bits, as the exec op passes them */
    assert_avf_ok(avf_op_unary(ctx, &p, &ta, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == 1ull << 63 && o[1] == 3 && o[2] == 1ull << 63 && o[3] == 2);
    /* Cast by value both ways */
    double d[4], back[4] = {1.5 * 9223372036854775808.0, 3, 1e30, -1};
    avf_tensor td;
    ew_tensor(ctx, &td, AVF_DTYPE_F64, 1, s, NULL);
    assert_avf_ok(avf_op_cast(ctx, AVF_DTYPE_F64, &ta, &td));
    avf_test_read(ctx, &td, d);
    assert_true(d[0] == 9223372036854775808.0 && d[1] == 3 && d[2] == 18446744073709551616.0);
    avf_tensor_release(&td, ctx->stream);
    ew_tensor(ctx, &td, AVF_DTYPE_F64, 1, s, back);
    assert_avf_ok(avf_op_cast(ctx, AVF_DTYPE_U64, &td, &to));
    avf_test_read(ctx, &to, o);
    assert_true(o[0] == (3ull << 62) && o[1] == 3 && o[2] == UINT64_MAX && o[3] == UINT64_MAX);
    avf_tensor *all[5] = {&ta, &tb, &to, &tl, &td};
    for (int i = 0; i < 5; i++)
        avf_tensor_release(all[i], ctx->stream);
}

static void test_u64_order(void **state) { u64_order(&env.cpu_ctx); }
static void test_u64_order_cuda(void **state) {
    need_gpu();
    u64_order(&env.gpu_ctx);
}

/* Max/Min propagate NaN like numpy.maximum. */
static void test_max_nan(void **state) {
    float a[3] = {NAN, 1.f, 2.f}, b[3] = {1.f, NAN, 1.f}, o[3];
    int64_t s[] = {3};
    avf_tensor ta, tb, to;
    ew_tensor(&env.cpu_ctx, &ta, AVF_DTYPE_F32, 1, s, a);
    ew_tensor(&env.cpu_ctx, &tb, AVF_DTYPE_F32, 1, s, b);
    ew_tensor(&env.cpu_ctx, &to, AVF_DTYPE_F32, 1, s, NULL);
    for (int op = AVF_BINARY_MAX; op <= AVF_BINARY_MIN; op++) {
        assert_avf_ok(avf_op_binary(&env.cpu_ctx, (avf_binary_op)op, &ta, &tb, &to));
        avf_test_read(&env.cpu_ctx, &to, o);
        assert_true(isnan(o[0]) && isnan(o[1]));
        assert_true(o[2] == (op == AVF_BINARY_MAX ? 2.f : 1.f));
    }
    avf_tensor_release(&ta, NULL);
    avf_tensor_release(&tb, NULL);
    avf_tensor_release(&to, NULL);
}

/* ------------------------------------------------------------- variadic */

static void check_variadic(avf_binary_op op, avf_dtype d, int n, const shape_pair *sp3,
                           uint64_t seed, int gpu) {
    /* inputs: sp3[0].a, sp3[0].b, sp3[1].a (n of them) */
    int nds[3] = {sp3[0].na, sp3[0].nb, sp3[1].na};
    const int64_t *shp[3] = {sp3[0].a, sp3[0].b, sp3[1].a};
    void *h[3];
    avf_tensor t[3], g[3];
    const avf_tensor *tp[3], *gp[3];
    avf_dtype dts[3] = {d, d, d};
    avf_dtype od;
    int no;
    int64_t os[AVF_MAX_DIMS];
    assert_avf_ok(avf_binary_n_shape(op, n, dts, nds, shp, &od, &no, os));
    int64_t total = ew_numel(no, os);
    for (int i = 0; i < n; i++) {
        h[i] = ew_rand(d, ew_numel(nds[i], shp[i]), &seed, -30, 30);
        ew_tensor(&env.cpu_ctx, &t[i], d, nds[i], shp[i], h[i]);
        tp[i] = &t[i];
    }
    avf_tensor o;
    ew_tensor(&env.cpu_ctx, &o, od, no, os, NULL);
    assert_avf_ok(avf_op_binary_n(&env.cpu_ctx, op, n, tp, &o));
    void *cpu = ew_read(&env.cpu_ctx, &o);
    for (int64_t k = 0; k < total; k++) {
        double v = ew_get(d, h[0], ew_bidx(no, os, nds[0], shp[0], k));
        for (int i = 1; i < n; i++)
            v = ref_binary(op, 0, v, ew_get(d, h[i], ew_bidx(no, os, nds[i], shp[i], k)));
        assert_true(ew_get(od, cpu, k) == (double)(float)v || ew_get(od, cpu, k) == v);
    }
    if (gpu) {
        for (int i = 0; i < n; i++) {
            ew_tensor(&env.gpu_ctx, &g[i], d, nds[i], shp[i], h[i]);
            gp[i] = &g[i];
        }
        avf_tensor go;
        ew_tensor(&env.gpu_ctx, &go, od, no, os, NULL);
        assert_avf_ok(avf_op_binary_n(&env.gpu_ctx, op, n, gp, &go));
        void *got = ew_read(&env.gpu_ctx, &go);
        assert_int_equal(ew_mismatch(od, got, cpu, total), 0);
        free(got);
        for (int i = 0; i < n; i++)
            avf_tensor_release(&g[i], env.gpu_stream);
        avf_tensor_release(&go, env.gpu_stream);
    }
    for (int i = 0; i < n; i++) {
        free(h[i]);
        avf_tensor_release(&t[i], NULL);
    }
    free(cpu);
    avf_tensor_release(&o, NULL);
}

static void variadic_all(int gpu) {
    static const shape_pair sp[2] = {{3, {2, 1, 3}, 2, {4, 1}}, {0, {0}, 0, {0}}};
    static const shape_pair same[2] = {{2, {3, 4}, 2, {3, 4}}, {2, {3, 4}, 0, {0}}};
    static const avf_dtype dts[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_I64, AVF_DTYPE_I32};
    uint64_t seed = 99;
    for (int op = AVF_BINARY_MAX; op <= AVF_BINARY_MIN; op++)
        for (int k = 0; k < 4; k++)
            for (int n = 1; n <= 3; n++) {
                check_variadic((avf_binary_op)op, dts[k], n, sp, seed++, gpu);
                check_variadic((avf_binary_op)op, dts[k], n, same, seed++, gpu);
            }
}

static void test_variadic_cpu(void **state) { variadic_all(0); }
static void test_variadic_cuda(void **state) {
    need_gpu();
    variadic_all(1);
}

/* ------------------------------------------------------------- Where */

static void where_all(int gpu) {
    static const avf_dtype dts[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_I64, AVF_DTYPE_BOOL,
                                    AVF_DTYPE_I8,  AVF_DTYPE_F64};
    static const struct {
        int nc, nx, ny;
        int64_t c[4], x[4], y[4];
    } cases[] = {
        {3, 2, 0, {2, 1, 4}, {3, 1}, {0}},
        {2, 2, 2, {5, 7}, {5, 7}, {5, 7}},
        {1, 3, 2, {4}, {2, 3, 1}, {1, 4}},
        {0, 2, 1, {0}, {0, 2}, {2}},
        {1, 1, 1, {1031}, {1031}, {1}},
    };
    uint64_t seed = 7;
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            avf_dtype d = dts[k], od;
            int no;
            int64_t os[AVF_MAX_DIMS];
            assert_avf_ok(avf_where_shape(AVF_DTYPE_BOOL, cases[c].nc, cases[c].c, d, cases[c].nx,
                                          cases[c].x, d, cases[c].ny, cases[c].y, &od, &no, os));
            int64_t n = ew_numel(no, os);
            void *hc = ew_rand(AVF_DTYPE_BOOL, ew_numel(cases[c].nc, cases[c].c), &seed, 0, 1);
            void *hx = ew_rand(d, ew_numel(cases[c].nx, cases[c].x), &seed, -9, 9);
            void *hy = ew_rand(d, ew_numel(cases[c].ny, cases[c].y), &seed, -9, 9);
            avf_op_ctx *ctx = gpu ? &env.gpu_ctx : &env.cpu_ctx;
            avf_tensor tc, tx, ty, to;
            ew_tensor(ctx, &tc, AVF_DTYPE_BOOL, cases[c].nc, cases[c].c, hc);
            ew_tensor(ctx, &tx, d, cases[c].nx, cases[c].x, hx);
            ew_tensor(ctx, &ty, d, cases[c].ny, cases[c].y, hy);
            ew_tensor(ctx, &to, od, no, os, NULL);
            assert_avf_ok(avf_op_where(ctx, &tc, &tx, &ty, &to));
            void *got = ew_read(ctx, &to);
            for (int64_t i = 0; i < n; i++) {
                int cv = ew_get(AVF_DTYPE_BOOL, hc, ew_bidx(no, os, cases[c].nc, cases[c].c, i)) != 0;
                double want = cv ? ew_get(d, hx, ew_bidx(no, os, cases[c].nx, cases[c].x, i))
                                 : ew_get(d, hy, ew_bidx(no, os, cases[c].ny, cases[c].y, i));
                assert_true(ew_get(d, got, i) == want);
            }
            free(got);
            free(hc);
            free(hx);
            free(hy);
            avf_stream *s = gpu ? env.gpu_stream : NULL;
            avf_tensor_release(&tc, s);
            avf_tensor_release(&tx, s);
            avf_tensor_release(&ty, s);
            avf_tensor_release(&to, s);
        }
}

static void test_where_cpu(void **state) { where_all(0); }
static void test_where_cuda(void **state) {
    need_gpu();
    where_all(1);
}

/* ------------------------------------------------------------- errors */

static void test_errors(void **state) {
    avf_dtype od;
    int no;
    int64_t os[AVF_MAX_DIMS];
    int64_t s23[] = {2, 3}, s4[] = {4}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* non-broadcastable, dtype mismatch, bad rank, unsupported dtypes */
    assert_avf_fails(avf_binary_shape(AVF_BINARY_ADD, AVF_DTYPE_F32, 2, s23, AVF_DTYPE_F32, 1, s4,
                                      &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_binary_shape(AVF_BINARY_ADD, AVF_DTYPE_F32, 2, s23, AVF_DTYPE_F16, 2, s23,
                                      &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_binary_shape(AVF_BINARY_MUL, AVF_DTYPE_F32, 9, s9, AVF_DTYPE_F32, 2, s23,
                                      &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_binary_shape(AVF_BINARY_AND, AVF_DTYPE_F32, 2, s23, AVF_DTYPE_F32, 2, s23,
                                      &od, &no, os),
                     AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_binary_shape(AVF_BINARY_COUNT, AVF_DTYPE_F32, 2, s23, AVF_DTYPE_F32, 2,
                                      s23, &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    avf_unary_params p = {.op = AVF_UNARY_SQRT};
    assert_avf_fails(avf_unary_shape(&p, AVF_DTYPE_I64, 2, s23, &od, &no, os), AVF_ERR_UNSUPPORTED);
    p.op = AVF_UNARY_NOT;
    assert_avf_fails(avf_unary_shape(&p, AVF_DTYPE_F32, 2, s23, &od, &no, os), AVF_ERR_UNSUPPORTED);
    int64_t neg[] = {2, -1};
    p.op = AVF_UNARY_RELU;
    assert_avf_fails(avf_unary_shape(&p, AVF_DTYPE_F32, 2, neg, &od, &no, os), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_where_shape(AVF_DTYPE_F32, 1, s4, AVF_DTYPE_F32, 1, s4, AVF_DTYPE_F32, 1,
                                     s4, &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_where_shape(AVF_DTYPE_BOOL, 1, s4, AVF_DTYPE_F32, 1, s4, AVF_DTYPE_I64, 1,
                                     s4, &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_where_shape(AVF_DTYPE_BOOL, 1, s4, AVF_DTYPE_F32, 2, s23, AVF_DTYPE_F32,
                                     1, s4, &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_binary_n_shape(AVF_BINARY_MAX, 0, NULL, NULL, NULL, &od, &no, os),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_cast_shape((avf_dtype)77, AVF_DTYPE_F32, 1, s4, &od, &no, os),
                     AVF_ERR_INVALID_ARG);

    /* entry points: wrong output shape / dtype, mismatched inputs */
    avf_tensor a, b, o, ob;
    ew_tensor(&env.cpu_ctx, &a, AVF_DTYPE_F32, 2, s23, NULL);
    ew_tensor(&env.cpu_ctx, &b, AVF_DTYPE_I64, 2, s23, NULL);
    ew_tensor(&env.cpu_ctx, &o, AVF_DTYPE_F32, 1, s4, NULL);
    ew_tensor(&env.cpu_ctx, &ob, AVF_DTYPE_BOOL, 2, s23, NULL);
    assert_avf_fails(avf_op_binary(&env.cpu_ctx, AVF_BINARY_ADD, &a, &a, &o), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_binary(&env.cpu_ctx, AVF_BINARY_ADD, &a, &b, &ob), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_binary(&env.cpu_ctx, AVF_BINARY_ADD, &a, &a, &ob), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_binary(&env.cpu_ctx, AVF_BINARY_LESS, &a, &a, &a), AVF_ERR_INVALID_ARG);
    p.op = AVF_UNARY_EXP;
    assert_avf_fails(avf_op_unary(&env.cpu_ctx, &p, &a, &o), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_unary(&env.cpu_ctx, &p, &a, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_cast(&env.cpu_ctx, AVF_DTYPE_I64, &a, &o), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_op_where(&env.cpu_ctx, &a, &a, &a, &a), AVF_ERR_INVALID_ARG);
    const avf_tensor *alias[2] = {&a, &a};
    assert_avf_fails(avf_op_binary_n(&env.cpu_ctx, AVF_BINARY_MAX, 2, alias, &a),
                     AVF_ERR_INVALID_ARG);
    if (env.gpu) { /* a CPU tensor given to a CUDA context */
        assert_avf_fails(avf_op_binary(&env.gpu_ctx, AVF_BINARY_ADD, &a, &a, &a),
                         AVF_ERR_INVALID_ARG);
        avf_tensor ga, go;
        int64_t s2[] = {2};
        ew_tensor(&env.gpu_ctx, &ga, AVF_DTYPE_F64, 1, s2, NULL);
        ew_tensor(&env.gpu_ctx, &go, AVF_DTYPE_F64, 1, s2, NULL);
        /* f64 float math (unary) stays on the CPU; f64 binary ops run on CUDA */
        avf_unary_params ue;
        memset(&ue, 0, sizeof ue);
        ue.op = AVF_UNARY_EXP;
        assert_avf_fails(avf_op_unary(&env.gpu_ctx, &ue, &ga, &go), AVF_ERR_UNSUPPORTED);
        assert_avf_ok(avf_op_binary(&env.gpu_ctx, AVF_BINARY_ADD, &ga, &ga, &go));
        avf_tensor_release(&ga, env.gpu_stream);
        avf_tensor_release(&go, env.gpu_stream);
    }
    avf_tensor_release(&a, NULL);
    avf_tensor_release(&b, NULL);
    avf_tensor_release(&o, NULL);
    avf_tensor_release(&ob, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_cpu),    cmocka_unit_test(test_unary_cuda),
        cmocka_unit_test(test_clip_edges),   cmocka_unit_test(test_binary_cpu),
        cmocka_unit_test(test_binary_cuda),  cmocka_unit_test(test_int_div),
        cmocka_unit_test(test_max_nan),      cmocka_unit_test(test_u64_order),
        cmocka_unit_test(test_u64_order_cuda),      cmocka_unit_test(test_variadic_cpu),
        cmocka_unit_test(test_variadic_cuda), cmocka_unit_test(test_where_cpu),
        cmocka_unit_test(test_where_cuda),   cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
