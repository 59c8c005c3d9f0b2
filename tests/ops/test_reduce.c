/* Kernel tests: Reduce{Sum,Mean,Max,Min} and GlobalAveragePool (CPU vs a
 * double reference; CUDA vs CPU), shape-function errors, and the executor
 * ops of the family (opset forms: axes attribute vs input, Softmax's
 * pre-13 semantics, TopK's k attribute vs input, rejected attributes).
 * ArgMax, CumSum, TopK: test_reduce_select.c; Softmax: test_softmax.c;
 * normalization: test_norm.c. */
#include "op_test_util.h"

#include "graph/exec_op.h"
#include "ops/reduce.h"

#include "test_reduce_util.h"

/* ---------------------------------------------------------------- Reduce */

typedef struct rcase {
    int nd;
    int64_t shape[4];
    int n_axes;
    int64_t axes[4];
    int keepdims;
} rcase;

static const rcase rcases[] = {
    {4, {2, 3, 4, 5}, 1, {1}, 1},     {4, {2, 3, 4, 5}, 1, {-1}, 0},
    {4, {2, 3, 4, 5}, 2, {0, 2}, 1},  {4, {2, 3, 4, 5}, 2, {1, 2}, 0},
    {4, {2, 3, 4, 5}, 0, {0}, 1},     {4, {2, 3, 4, 5}, 2, {3, 0}, 0},
    {4, {2, 3, 4, 5}, 2, {-3, -1}, 1}, {1, {7}, 0, {0}, 0},
    {3, {3, 1, 4}, 1, {1}, 1},        {2, {3, 3000}, 1, {1}, 0},
    {2, {3000, 5}, 1, {0}, 1},        {3, {4, 1500, 3}, 1, {1}, 1},
};

/* Run a reduce on ctx; returns the output bytes (malloc'ed) and its count. */
static void *run_reduce(avf_op_ctx *ctx, const avf_reduce_params *p, avf_dtype dt, int nd,
                        const int64_t *shape, const void *in, int64_t *out_n) {
    avf_dtype odt;
    int ond;
    int64_t od[AVF_MAX_DIMS];
    assert_avf_ok(avf_reduce_shape(p, dt, nd, shape, &odt, &ond, od));
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &y, odt, ond, od, NULL);
    assert_avf_ok(avf_op_reduce(ctx, p, &x, &y));
    *out_n = numel_of(ond, od);
    void *out = malloc((size_t)(*out_n ? *out_n : 1) * avf_dtype_size(odt));
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

/* Double reference: outputs indexed as with keepdims (same order). */
static void ref_reduce(const avf_reduce_params *p, int nd, const int64_t *shape,
                       const double *in, double *out, int64_t *out_n) {
    int red[AVF_MAX_DIMS] = {0};
    for (int i = 0; i < p->n_axes; i++)
        red[p->axes[i] < 0 ? p->axes[i] + nd : p->axes[i]] = 1;
    if (p->n_axes == 0)
        for (int d = 0; d < nd; d++)
            red[d] = 1;
    int64_t m = 1, r = 1;
    for (int d = 0; d < nd; d++)
        if (red[d])
            r *= shape[d];
        else
            m *= shape[d];
    double init = p->kind == AVF_REDUCE_MAX ? -INFINITY : p->kind == AVF_REDUCE_MIN ? INFINITY : 0;
    for (int64_t o = 0; o < m; o++)
        out[o] = init;
    int64_t n = numel_of(nd, shape);
    for (int64_t e = 0; e < n; e++) {
        int64_t rem = e, o = 0, mul = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            if (!red[d]) {
                o += i * mul;
                mul *= shape[d];
            }
        }
        double v = in[e];
        if (p->kind == AVF_REDUCE_MAX)
            out[o] = v > out[o] ? v : out[o];
        else if (p->kind == AVF_REDUCE_MIN)
            out[o] = v < out[o] ? v : out[o];
        else
            out[o] += v;
    }
    if (p->kind == AVF_REDUCE_MEAN)
        for (int64_t o = 0; o < m; o++)
            out[o] /= (double)r;
    *out_n = m;
}

static void reduce_cases(avf_dtype dt, int on_gpu) {
    uint64_t seed = 0x1234u + (uint64_t)dt;
    for (size_t c = 0; c < sizeof rcases / sizeof rcases[0]; c++) {
        const rcase *rc = &rcases[c];
        int64_t n = numel_of(rc->nd, rc->shape);
        double *vals = malloc((size_t)n * sizeof *vals);
        void *in = rand_buf(dt, n, &seed, -4.0, 4.0, 0, vals);
        for (int k = 0; k < AVF_REDUCE_KIND_COUNT; k++) {
            if (dt == AVF_DTYPE_I64 && k == AVF_REDUCE_MEAN)
                continue;
            avf_reduce_params p;
            memset(&p, 0, sizeof p);
            p.kind = (avf_reduce_kind)k;
            p.n_axes = rc->n_axes;
            memcpy(p.axes, rc->axes, sizeof rc->axes);
            p.keepdims = rc->keepdims;
            int64_t m, mr;
            void *cpu = run_reduce(&env.cpu_ctx, &p, dt, rc->nd, rc->shape, in, &m);
            if (!on_gpu) {
                double *want = malloc((size_t)n * sizeof *want);
                ref_reduce(&p, rc->nd, rc->shape, vals, want, &mr);
                assert_int_equal(m, mr);
                if (dt == AVF_DTYPE_I64) {
                    for (int64_t i = 0; i < m; i++)
                        assert_int_equal(((int64_t *)cpu)[i], (int64_t)want[i]);
                } else {
                    /* f16 output rounding is relative to each value */
                    assert_rel_err_below(err_of(cpu, dt, want, m), tol_of(dt));
                }
                free(want);
            } else {
                void *gpu = run_reduce(&env.gpu_ctx, &p, dt, rc->nd, rc->shape, in, &mr);
                assert_int_equal(m, mr);
                if (dt == AVF_DTYPE_I64) {
                    assert_memory_equal(cpu, gpu, (size_t)m * 8);
                } else {
                    double *want = malloc((size_t)m * sizeof *want);
                    for (int64_t i = 0; i < m; i++)
                        want[i] = get_d(cpu, dt, i);
                    assert_rel_err_below(err_of(gpu, dt, want, m), tol_of(dt));
                    free(want);
                }
                free(gpu);
            }
            free(cpu);
        }
        free(in);
        free(vals);
    }
}

static void test_reduce_f32(void **s) { (void)s; reduce_cases(AVF_DTYPE_F32, 0); }
static void test_reduce_f16(void **s) { (void)s; reduce_cases(AVF_DTYPE_F16, 0); }
static void test_reduce_i64(void **s) { (void)s; reduce_cases(AVF_DTYPE_I64, 0); }
static void test_reduce_f32_cuda(void **s) { (void)s; need_gpu(); reduce_cases(AVF_DTYPE_F32, 1); }
static void test_reduce_f16_cuda(void **s) { (void)s; need_gpu(); reduce_cases(AVF_DTYPE_F16, 1); }
static void test_reduce_i64_cuda(void **s) { (void)s; need_gpu(); reduce_cases(AVF_DTYPE_I64, 1); }

/* noop_with_empty_axes copies; an empty reduced dim gives the identities. */
static void reduce_special(avf_op_ctx *ctx) {
    uint64_t seed = 99;
    const int64_t shape[3] = {2, 3, 4};
    float *in = rand_buf(AVF_DTYPE_F32, 24, &seed, -1, 1, 0, NULL);
    avf_reduce_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_REDUCE_SUM;
    p.keepdims = 0;
    p.noop_with_empty_axes = 1;
    int64_t m;
    float *out = run_reduce(ctx, &p, AVF_DTYPE_F32, 3, shape, in, &m);
    assert_int_equal(m, 24);
    assert_memory_equal(out, in, 24 * sizeof(float));
    free(out);
    p.noop_with_empty_axes = 0; /* reduce everything */
    out = run_reduce(ctx, &p, AVF_DTYPE_F32, 3, shape, in, &m);
    assert_int_equal(m, 1);
    double sum = 0;
    for (int i = 0; i < 24; i++)
        sum += in[i];
    assert_true(fabs(out[0] - sum) < 1e-5);
    free(out);
    free(in);

    const int64_t empty[3] = {2, 0, 3};
    p.n_axes = 1;
    p.axes[0] = 1;
    const float want[4] = {0.0f, NAN, -INFINITY, INFINITY};
    for (int k = 0; k < 4; k++) {
        p.kind = (avf_reduce_kind)k;
        out = run_reduce(ctx, &p, AVF_DTYPE_F32, 3, empty, NULL, &m);
        assert_int_equal(m, 6);
        for (int i = 0; i < 6; i++) {
            if (isnan(want[k]))
                assert_true(isnan(out[i]));
            else
                assert_true(out[i] == want[k]);
        }
        free(out);
    }
}

static void test_reduce_special(void **s) { (void)s; reduce_special(&env.cpu_ctx); }
static void test_reduce_special_cuda(void **s) { (void)s; need_gpu(); reduce_special(&env.gpu_ctx); }

static void test_reduce_errors(void **s) {
    (void)s;
    const int64_t shape[3] = {2, 3, 4};
    avf_reduce_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_REDUCE_SUM;
    avf_dtype odt;
    int ond;
    int64_t od[AVF_MAX_DIMS];
    p.n_axes = 1;
    p.axes[0] = 3;
    assert_avf_fails(avf_reduce_shape(&p, AVF_DTYPE_F32, 3, shape, &odt, &ond, od),
                     AVF_ERR_INVALID_ARG);
    p.axes[0] = -4;
    assert_avf_fails(avf_reduce_shape(&p, AVF_DTYPE_F32, 3, shape, &odt, &ond, od),
                     AVF_ERR_INVALID_ARG);
    p.n_axes = 2;
    p.axes[0] = 1;
    p.axes[1] = -2; /* the same dim twice */
    assert_avf_fails(avf_reduce_shape(&p, AVF_DTYPE_F32, 3, shape, &odt, &ond, od),
                     AVF_ERR_INVALID_ARG);
    p.n_axes = 0;
    p.kind = AVF_REDUCE_MEAN;
    assert_avf_fails(avf_reduce_shape(&p, AVF_DTYPE_I64, 3, shape, &odt, &ond, od),
                     AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_reduce_shape(&p, AVF_DTYPE_U8, 3, shape, &odt, &ond, od),
                     AVF_ERR_UNSUPPORTED);
    /* an output of the wrong shape is refused by the entry point */
    avf_tensor x, y;
    const int64_t bad[1] = {5};
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, shape, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 1, bad, NULL);
    assert_avf_fails(avf_op_reduce(&env.cpu_ctx, &p, &x, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&y, NULL);
    const int64_t one[1] = {1};
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F16, 0, one, NULL);
    assert_avf_fails(avf_op_reduce(&env.cpu_ctx, &p, &x, &y), AVF_ERR_UNSUPPORTED);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

/* ---------------------------------------------------------------- GlobalAveragePool */

static void *run_gap(avf_op_ctx *ctx, avf_dtype dt, int nd, const int64_t *shape, const void *in,
                     int64_t *m) {
    int ond;
    int64_t od[AVF_MAX_DIMS];
    assert_avf_ok(avf_global_avg_pool_shape(dt, nd, shape, &ond, od));
    assert_int_equal(ond, nd);
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, dt, nd, shape, in);
    avf_test_tensor(ctx, &y, dt, ond, od, NULL);
    assert_avf_ok(avf_op_global_avg_pool(ctx, &x, &y));
    *m = numel_of(ond, od);
    void *out = malloc((size_t)*m * avf_dtype_size(dt));
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

static void gap_cases(avf_dtype dt, int on_gpu) {
    static const int64_t shapes[3][4] = {{2, 3, 5, 7}, {2, 3, 40, 40}, {3, 4, 1, 1}};
    uint64_t seed = 7;
    for (int c = 0; c < 3; c++) {
        int64_t n = numel_of(4, shapes[c]), sp = shapes[c][2] * shapes[c][3], m;
        double *vals = malloc((size_t)n * sizeof *vals);
        void *in = rand_buf(dt, n, &seed, -2, 3, 0, vals);
        void *cpu = run_gap(&env.cpu_ctx, dt, 4, shapes[c], in, &m);
        double *want = calloc((size_t)m, sizeof *want);
        if (!on_gpu) {
            for (int64_t i = 0; i < n; i++)
                want[i / sp] += vals[i] / (double)sp;
            assert_rel_err_below(err_of(cpu, dt, want, m), tol_of(dt));
        } else {
            int64_t m2;
            void *gpu = run_gap(&env.gpu_ctx, dt, 4, shapes[c], in, &m2);
            for (int64_t i = 0; i < m; i++)
                want[i] = get_d(cpu, dt, i);
            assert_rel_err_below(err_of(gpu, dt, want, m), tol_of(dt));
            free(gpu);
        }
        free(want);
        free(cpu);
        free(in);
        free(vals);
    }
    int ond;
    int64_t od[AVF_MAX_DIMS];
    assert_avf_fails(avf_global_avg_pool_shape(dt, 1, shapes[0], &ond, od), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_global_avg_pool_shape(AVF_DTYPE_I64, 4, shapes[0], &ond, od),
                     AVF_ERR_UNSUPPORTED);
}

static void test_gap(void **s) { (void)s; gap_cases(AVF_DTYPE_F32, 0); gap_cases(AVF_DTYPE_F16, 0); }
static void test_gap_cuda(void **s) {
    (void)s;
    need_gpu();
    gap_cases(AVF_DTYPE_F32, 1);
    gap_cases(AVF_DTYPE_F16, 1);
}

/* ---------------------------------------------------------------- executor ops */

typedef struct xnode {
    avf_graph_node node;
    avf_graph_attr attrs[4];
    int64_t ints[4][8];
} xnode;

static void xnode_init(xnode *x, const char *op) {
    memset(x, 0, sizeof *x);
    x->node.name = (char *)"n0";
    x->node.op_type = (char *)op;
    x->node.domain = (char *)"";
    x->node.attrs = x->attrs;
}

static void xnode_int(xnode *x, const char *name, int64_t v) {
    avf_graph_attr *a = &x->attrs[x->node.n_attrs++];
    a->name = (char *)name;
    a->type = AVF_ATTR_INT;
    a->i = v;
}

static void xnode_ints(xnode *x, const char *name, const int64_t *v, int n) {
    int i = x->node.n_attrs++;
    avf_graph_attr *a = &x->attrs[i];
    a->name = (char *)name;
    a->type = AVF_ATTR_INTS;
    memcpy(x->ints[i], v, (size_t)n * sizeof *v);
    a->ints = x->ints[i];
    a->n = n;
}

/* prepare + infer + run on the CPU; in1 (may be NULL) is a host input.
 * Returns the status of prepare/infer; on success *y holds the output. */
static avf_status exec_node(const xnode *x, int64_t opset, const avf_tensor *in0,
                            const avf_tensor *in1, avf_tensor *y) {
    const avf_exec_op *op = avf_exec_find("", x->node.op_type);
    assert_non_null(op);
    _Alignas(16) unsigned char params[AVF_EXEC_PARAMS_MAX];
    avf_status st = op->prepare(&x->node, opset, params);
    if (st != AVF_OK)
        return st;
    avf_exec_call call;
    memset(&call, 0, sizeof call);
    avf_tensor info;
    memset(&info, 0, sizeof info);
    call.ctx = &env.cpu_ctx;
    call.node = &x->node;
    call.opset = opset;
    call.n_in = in1 ? 2 : 1;
    call.in[0] = in0;
    call.in[1] = in1;
    call.in_host[1] = in1;
    call.n_out = 1;
    call.out[0] = &info;
    st = op->infer(params, &call);
    if (st != AVF_OK)
        return st;
    avf_test_tensor(&env.cpu_ctx, y, info.dtype, info.ndim, info.shape, NULL);
    call.out[0] = y;
    assert_avf_ok(op->run(params, &call));
    return AVF_OK;
}

static void host_i64(avf_tensor *t, int n, const int64_t *v) {
    const int64_t shape[1] = {n};
    avf_test_tensor(&env.cpu_ctx, t, AVF_DTYPE_I64, 1, shape, v);
}

static void test_exec_reduce(void **s) {
    (void)s;
    const int64_t shape[3] = {2, 3, 4};
    uint64_t seed = 5;
    float *in = rand_buf(AVF_DTYPE_F32, 24, &seed, -1, 1, 0, NULL);
    avf_tensor x, axes, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, shape, in);
    xnode n;

    /* opset 13 ReduceSum: axes from input 1 */
    xnode_init(&n, "ReduceSum");
    xnode_int(&n, "keepdims", 0);
    const int64_t ax1[1] = {1};
    host_i64(&axes, 1, ax1);
    assert_avf_ok(exec_node(&n, 13, &x, &axes, &y));
    assert_int_equal(y.ndim, 2);
    assert_int_equal(y.shape[0], 2);
    assert_int_equal(y.shape[1], 4);
    float *o = y.data;
    /* y[1][1] = sum over c of x[1][c][1] */
    assert_true(fabs(o[5] - (in[12 + 1] + in[12 + 5] + in[12 + 9])) < 1e-5);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&axes, NULL);

    /* opset 11 ReduceSum: axes attribute */
    xnode_init(&n, "ReduceSum");
    const int64_t ax12[2] = {1, 2};
    xnode_ints(&n, "axes", ax12, 2);
    assert_avf_ok(exec_node(&n, 11, &x, NULL, &y));
    assert_int_equal(y.ndim, 3);
    assert_int_equal(y.shape[0], 2);
    assert_int_equal(y.shape[1], 1);
    assert_int_equal(y.shape[2], 1);
    double sum = 0;
    for (int i = 0; i < 12; i++)
        sum += in[i];
    assert_true(fabs(((float *)y.data)[0] - sum) < 1e-5);
    avf_tensor_release(&y, NULL);

    /* opset 18 ReduceMean, no axes, noop_with_empty_axes: identity */
    xnode_init(&n, "ReduceMean");
    xnode_int(&n, "noop_with_empty_axes", 1);
    assert_avf_ok(exec_node(&n, 18, &x, NULL, &y));
    assert_int_equal(y.ndim, 3);
    assert_memory_equal(y.data, in, 24 * sizeof(float));
    avf_tensor_release(&y, NULL);

    /* opset 18 ReduceMax with an empty axes input: all axes */
    xnode_init(&n, "ReduceMax");
    host_i64(&axes, 0, NULL);
    assert_avf_ok(exec_node(&n, 18, &x, &axes, &y));
    assert_int_equal(y.ndim, 3);
    float mx = in[0];
    for (int i = 1; i < 24; i++)
        mx = in[i] > mx ? in[i] : mx;
    assert_true(((float *)y.data)[0] == mx);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&axes, NULL);

    /* opset 13 ReduceMin: axes still an attribute (negative) */
    xnode_init(&n, "ReduceMin");
    const int64_t axm1[1] = {-1};
    xnode_ints(&n, "axes", axm1, 1);
    assert_avf_ok(exec_node(&n, 13, &x, NULL, &y));
    assert_int_equal(y.ndim, 3);
    assert_int_equal(y.shape[2], 1);
    avf_tensor_release(&y, NULL);

    /* bad keepdims and out-of-range axes fail with a status */
    xnode_init(&n, "ReduceSum");
    xnode_int(&n, "keepdims", 2);
    assert_avf_fails(exec_node(&n, 13, &x, NULL, &y), AVF_ERR_INVALID_ARG);
    xnode_init(&n, "ReduceSum");
    const int64_t ax5[1] = {5};
    host_i64(&axes, 1, ax5);
    assert_avf_fails(exec_node(&n, 13, &x, &axes, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&axes, NULL);
    avf_tensor_release(&x, NULL);
    free(in);
}

static void test_exec_softmax(void **s) {
    (void)s;
    const int64_t shape[3] = {2, 3, 4};
    uint64_t seed = 6;
    float *in = rand_buf(AVF_DTYPE_F32, 24, &seed, -3, 3, 0, NULL);
    avf_tensor x, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 3, shape, in);
    xnode n;
    /* opset 11, default axis 1: rows of 3 * 4 = 12 sum to 1 */
    xnode_init(&n, "Softmax");
    assert_avf_ok(exec_node(&n, 11, &x, NULL, &y));
    for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int i = 0; i < 12; i++)
            sum += ((float *)y.data)[r * 12 + i];
        assert_true(fabs(sum - 1.0) < 1e-5);
    }
    avf_tensor_release(&y, NULL);
    /* opset 13, default axis -1: rows of 4 */
    assert_avf_ok(exec_node(&n, 13, &x, NULL, &y));
    for (int r = 0; r < 6; r++) {
        double sum = 0;
        for (int i = 0; i < 4; i++)
            sum += ((float *)y.data)[r * 4 + i];
        assert_true(fabs(sum - 1.0) < 1e-5);
    }
    avf_tensor_release(&y, NULL);
    /* opset 13, axis 1: columns of 3 */
    xnode_int(&n, "axis", 1);
    assert_avf_ok(exec_node(&n, 13, &x, NULL, &y));
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 4; i++) {
            double sum = 0;
            for (int c = 0; c < 3; c++)
                sum += ((float *)y.data)[b * 12 + c * 4 + i];
            assert_true(fabs(sum - 1.0) < 1e-5);
        }
    avf_tensor_release(&y, NULL);
    xnode_init(&n, "LogSoftmax");
    xnode_int(&n, "axis", 3);
    assert_avf_fails(exec_node(&n, 13, &x, NULL, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&x, NULL);
    free(in);
}

static void test_exec_other(void **s) {
    (void)s;
    const int64_t shape[2] = {2, 5};
    const float in[10] = {1, 5, 3, 5, 2, 0, -1, 7, 7, 7};
    avf_tensor x, k, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 2, shape, in);
    xnode n;
    /* TopK before opset 10: k attribute; values only (output 0) */
    xnode_init(&n, "TopK");
    xnode_int(&n, "k", 2);
    assert_avf_ok(exec_node(&n, 1, &x, NULL, &y));
    assert_int_equal(y.shape[1], 2);
    assert_true(((float *)y.data)[0] == 5 && ((float *)y.data)[1] == 5);
    assert_true(((float *)y.data)[2] == 7 && ((float *)y.data)[3] == 7);
    avf_tensor_release(&y, NULL);
    /* opset 11: K input, smallest */
    xnode_init(&n, "TopK");
    xnode_int(&n, "largest", 0);
    const int64_t three[1] = {3};
    host_i64(&k, 1, three);
    assert_avf_ok(exec_node(&n, 11, &x, &k, &y));
    assert_int_equal(y.shape[1], 3);
    assert_true(((float *)y.data)[0] == 1 && ((float *)y.data)[1] == 2 &&
                ((float *)y.data)[2] == 3);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&k, NULL);
    /* ArgMax with select_last_index */
    xnode_init(&n, "ArgMax");
    xnode_int(&n, "axis", 1);
    xnode_int(&n, "select_last_index", 1);
    assert_avf_ok(exec_node(&n, 13, &x, NULL, &y));
    assert_int_equal(y.dtype, AVF_DTYPE_I64);
    assert_int_equal(y.ndim, 2);
    assert_int_equal(((int64_t *)y.data)[0], 3);
    assert_int_equal(((int64_t *)y.data)[1], 4);
    avf_tensor_release(&y, NULL);
    /* CumSum: axis input, exclusive + reverse */
    xnode_init(&n, "CumSum");
    xnode_int(&n, "exclusive", 1);
    xnode_int(&n, "reverse", 1);
    const int64_t ax[1] = {-1};
    host_i64(&k, 1, ax);
    assert_avf_ok(exec_node(&n, 14, &x, &k, &y));
    const float want[10] = {15, 10, 7, 2, 0, 20, 21, 14, 7, 0};
    assert_memory_equal(y.data, want, sizeof want);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&k, NULL);
    /* GlobalAveragePool on [1, 2, 5] */
    xnode_init(&n, "GlobalAveragePool");
    avf_tensor x3;
    const int64_t shape3[3] = {1, 2, 5};
    avf_test_tensor(&env.cpu_ctx, &x3, AVF_DTYPE_F32, 3, shape3, in);
    assert_avf_ok(exec_node(&n, 1, &x3, NULL, &y));
    assert_int_equal(y.ndim, 3);
    assert_int_equal(y.shape[2], 1);
    assert_true(fabs(((float *)y.data)[0] - 16.0f / 5) < 1e-6);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&x3, NULL);
    /* rejected attributes */
    /* training_mode: 1 only, and only from opset 14 (earlier training
     * outputs are saved statistics, not implemented) */
    xnode_init(&n, "BatchNormalization");
    xnode_int(&n, "training_mode", 1);
    assert_avf_fails(exec_node(&n, 13, &x, NULL, &y), AVF_ERR_UNSUPPORTED);
    xnode_init(&n, "BatchNormalization");
    xnode_int(&n, "training_mode", 2);
    assert_avf_fails(exec_node(&n, 15, &x, NULL, &y), AVF_ERR_UNSUPPORTED);
    xnode_init(&n, "LayerNormalization");
    xnode_int(&n, "stash_type", 10);
    assert_avf_fails(exec_node(&n, 17, &x, NULL, &y), AVF_ERR_UNSUPPORTED);
    xnode_init(&n, "TopK");
    assert_avf_fails(exec_node(&n, 1, &x, NULL, &y), AVF_ERR_INVALID_ARG); /* no k */
    avf_tensor_release(&x, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_f32),        cmocka_unit_test(test_reduce_f16),
        cmocka_unit_test(test_reduce_i64),        cmocka_unit_test(test_reduce_special),
        cmocka_unit_test(test_reduce_errors),     cmocka_unit_test(test_gap),
        cmocka_unit_test(test_exec_reduce),       cmocka_unit_test(test_exec_softmax),
        cmocka_unit_test(test_exec_other),
        cmocka_unit_test(test_reduce_f32_cuda),   cmocka_unit_test(test_reduce_f16_cuda),
        cmocka_unit_test(test_reduce_i64_cuda),   cmocka_unit_test(test_reduce_special_cuda),
        cmocka_unit_test(test_gap_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
