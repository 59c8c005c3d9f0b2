/* The load-time rewrite passes (src/graph/passes): small models onnx_built here
 * as ModelProto messages, each loaded twice, with the passes and with
 * AVF_MODEL_NO_OPTIMIZE. Every test checks the rewritten structure (node
 * counts, op types) and that both models give the same outputs on random
 * inputs (CPU), including the cases that must NOT be rewritten: a BN whose
 * Conv output has another reader, a hard-swish with a different constant, a
 * layer norm with another exponent, values read by a subgraph. With the
 * real models present, their node counts before/after are printed and their
 * loads checked. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

#include "onnx.pb-c.h"
#include "onnx_build.h"

/* ------------------------------------------------------------ builders */

static avf_device *cpu;
static avf_pool *pool;

static int setup(void **state) {
    (void)state;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    onnx_build_free();
    avf_pool_free_all(pool);
    return 0;
}

/* An output without a declared type: the passes must not rely on one. */
static Onnx__ValueInfoProto *out_vi(const char *name) { return vi(name, -1, -1, NULL); }

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(seed >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* An f32 initializer of random values in [lo, hi). */
static void init_rand(Onnx__GraphProto *g, const char *name, int ndim, const int64_t *dims,
                      float lo, float hi) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= dims[d];
    float *v = tmem((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (frand() * 0.5f + 0.5f) * (hi - lo);
    PUSH(g->initializer, g->n_initializer, tensor(name, T_F32, ndim, dims, v, (size_t)n * 4));
}

/* A scalar f32 constant: an initializer of rank `ndim` (0 or 1). */
static void init_scalar(Onnx__GraphProto *g, const char *name, float v, int ndim) {
    static const int64_t one[] = {1};
    PUSH(g->initializer, g->n_initializer, tensor(name, T_F32, ndim, one, &v, 4));
}

/* A Constant node holding floats. */
static void const_node(Onnx__GraphProto *g, const char *out, const float *v, int64_t n) {
    Onnx__NodeProto *c = node(g, "Constant", NULL, NULL, out);
    Onnx__AttributeProto *a = attr(c, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tensor("", T_F32, 1, &n, v, (size_t)n * 4);
}

static avf_model *load(onnx_built b, int optimize) {
    avf_model_options opts = {.flags = optimize ? 0u : AVF_MODEL_NO_OPTIMIZE};
    avf_model *m = NULL;
    avf_status st = avf_model_load_memory(b.buf, b.len, &opts, &m);
    if (st != AVF_OK)
        print_error("load: %s\n", avf_last_error());
    assert_avf_ok(st);
    return m;
}

/* Nodes of `op` (domain "" or "avflow") after load; total when op is NULL. */
static int count_op(const avf_model *m, const char *domain, const char *op) {
    avf_model_summary s;
    assert_avf_ok(avf_model_get_summary(m, &s));
    if (!op)
        return (int)s.n_nodes;
    for (int i = 0; i < s.n_op_types; i++)
        if (strcmp(s.ops[i].op_type, op) == 0 && strcmp(s.ops[i].domain, domain) == 0)
            return s.ops[i].count;
    return 0;
}

/* The op histogram, printed when a count assertion is about to fail. */
static void dump_ops(const avf_model *m) {
    avf_model_summary s;
    assert_avf_ok(avf_model_get_summary(m, &s));
    for (int i = 0; i < s.n_op_types; i++)
        print_message("  %s:%s %d\n", s.ops[i].domain, s.ops[i].op_type, s.ops[i].count);
}

#define assert_count(m, domain, op, want)                                       \
    do {                                                                        \
        int got_ = count_op((m), (domain), (op));                               \
        if (got_ != (want)) {                                                   \
            print_message("%s:%s: %d nodes, expected %d\n", (domain),           \
                          (op) ? (const char *)(op) : "*", got_, (int)(want));  \
            dump_ops(m);                                                        \
        }                                                                       \
        assert_int_equal(got_, (want));                                         \
    } while (0)

/* Run both models on the same random inputs (shapes from the model's input
 * info; bool inputs from `flags`) and compare every output. */
static void same_outputs(avf_model *a, avf_model *b, uint8_t flag) {
    int ni = avf_model_num_inputs(a), no = avf_model_num_outputs(a);
    assert_int_equal(ni, avf_model_num_inputs(b));
    assert_int_equal(no, avf_model_num_outputs(b));
    avf_tensor in[16], oa[16], ob[16];
    void *data[16];
    assert_true(ni <= 16 && no <= 16);
    for (int i = 0; i < ni; i++) {
        avf_model_value_info info;
        assert_avf_ok(avf_model_input_info(a, i, &info));
        int64_t n = 1;
        for (int d = 0; d < info.ndim; d++)
            n *= info.dims[d];
        data[i] = tmem((size_t)n * 4);
        if (info.dtype == AVF_DTYPE_BOOL) {
            *(uint8_t *)data[i] = flag;
        } else {
            for (int64_t k = 0; k < n; k++)
                ((float *)data[i])[k] = frand() * 4.0f;
        }
        assert_avf_ok(avf_tensor_init_borrowed(&in[i], data[i], info.dtype, info.ndim, info.dims,
                                               cpu));
    }
    avf_run_options o = {.device = cpu, .pool = pool};
    avf_status st = avf_model_run(a, &o, ni, NULL, in, no, NULL, oa);
    if (st != AVF_OK)
        print_error("run (passes on): %s\n", avf_last_error());
    assert_avf_ok(st);
    assert_avf_ok(avf_model_run(b, &o, ni, NULL, in, no, NULL, ob));
    for (int k = 0; k < no; k++) {
        assert_int_equal(oa[k].dtype, ob[k].dtype);
        assert_int_equal(oa[k].ndim, ob[k].ndim);
        for (int d = 0; d < oa[k].ndim; d++)
            assert_int_equal(oa[k].shape[d], ob[k].shape[d]);
        int64_t n = avf_tensor_numel(&oa[k]);
        double err = 0, ref = 0;
        const float *x = oa[k].data, *y = ob[k].data;
        for (int64_t e = 0; e < n && oa[k].dtype == AVF_DTYPE_F32; e++) {
            err += ((double)x[e] - y[e]) * ((double)x[e] - y[e]);
            ref += (double)y[e] * y[e];
            assert_true(fabs((double)x[e] - y[e]) <= 1e-4 * (1.0 + fabs(y[e])));
        }
        if (ref > 0)
            assert_true(sqrt(err / ref) <= 1e-5);
        avf_tensor_release(&oa[k], NULL);
        avf_tensor_release(&ob[k], NULL);
    }
}

/* Load with and without passes, compare outputs; returns the optimized
 * model (the other is freed). */
static avf_model *both(onnx_built b, avf_model **plain) {
    avf_model *opt = load(b, 1), *raw = load(b, 0);
    same_outputs(opt, raw, 1);
    *plain = raw;
    return opt;
}

static const int64_t d_x4[] = {1, 3, 6, 6};

/* ------------------------------------------------------------ constants */

static void fold_constants(void **state) {
    (void)state;
    static const int64_t d24[] = {2, 4}, d8[] = {8};
    static const float c1[] = {1, 2, 3, 4}, c2[] = {0.5f, -1, 2, 0.25f};
    Onnx__GraphProto *g = graph("fold");
    PUSH(g->input, g->n_input, vi("x", T_F32, 2, d24));
    const_node(g, "c1", c1, 4);
    const_node(g, "c2", c2, 4);
    node(g, "Add", "c1", "c1", "k");     /* constant */
    node(g, "Mul", "k", "c2", "kk");     /* constant */
    node(g, "Add", "x", "kk", "y");      /* depends on x: stays */
    node(g, "Relu", "x", NULL, "z");
    /* shape arithmetic on constants: Reshape's shape folds, Reshape stays */
    PUSH(g->initializer, g->n_initializer,
         tensor("s8", T_I64, 1, (const int64_t[]){1}, (const int64_t[]){8}, 8));
    node(g, "Reshape", "y", "s8", "flat");
    PUSH(g->output, g->n_output, vi("y", T_F32, 2, d24));
    PUSH(g->output, g->n_output, vi("z", T_F32, 2, d24));
    PUSH(g->output, g->n_output, vi("kk", T_F32, 1, (const int64_t[]){4})); /* folded output */
    PUSH(g->output, g->n_output, vi("flat", T_F32, 1, d8));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 7);
    assert_count(m, "", "Constant", 0);
    assert_count(m, "", "Mul", 0);
    assert_count(m, "", "Add", 1);
    assert_count(m, "", NULL, 3); /* Add, Relu, Reshape */
    avf_model_free(m);
    avf_model_free(raw);
}

/* x*1, x+0 and Identity disappear, unless their output is a graph output. */
static void identities(void **state) {
    (void)state;
    static const int64_t d6[] = {6};
    Onnx__GraphProto *g = graph("ident");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d6));
    init_scalar(g, "one", 1.0f, 1);
    init_scalar(g, "zero", 0.0f, 0);
    init_scalar(g, "two", 2.0f, 0);
    node(g, "Mul", "x", "one", "a");
    node(g, "Add", "zero", "a", "b");
    node(g, "Identity", "b", NULL, "c");
    node(g, "Relu", "c", NULL, "r");
    node(g, "Mul", "r", "two", "r2");   /* not an identity */
    node(g, "Identity", "r2", NULL, "out"); /* a graph output keeps its node */
    PUSH(g->output, g->n_output, out_vi("out"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 6);
    assert_count(m, "", NULL, 3); /* Relu, Mul, Identity */
    assert_count(m, "", "Identity", 1);
    avf_model_free(m);
    avf_model_free(raw);
}

/* A Slice that keeps everything (starts 0, ends INT64_MAX, steps 1: how
 * PyTorch writes `x[:, :]`) and a Cast of f32 to f32 disappear; a partial
 * Slice and a Cast of a comparison's bool to f32 stay. */
static void cast_to_float(Onnx__NodeProto *n) {
    Onnx__AttributeProto *a = attr(n, "to", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = T_F32;
}

static void whole_slices_and_casts(void **state) {
    (void)state;
    static const int64_t d26[] = {2, 6}, one[] = {1};
    static const int64_t zero[] = {0}, big[] = {INT64_MAX}, three[] = {3}, ax1[] = {1};
    Onnx__GraphProto *g = graph("slices");
    PUSH(g->input, g->n_input, vi("x", T_F32, 2, d26));
    PUSH(g->initializer, g->n_initializer, tensor("z", T_I64, 1, one, zero, 8));
    PUSH(g->initializer, g->n_initializer, tensor("big", T_I64, 1, one, big, 8));
    PUSH(g->initializer, g->n_initializer, tensor("three", T_I64, 1, one, three, 8));
    PUSH(g->initializer, g->n_initializer, tensor("ax1", T_I64, 1, one, ax1, 8));
    Onnx__NodeProto *n = node(g, "Slice", "x", "z", "s1"); /* x[:, :] */
    add_input(n, "big");
    add_input(n, "ax1");
    n = node(g, "Slice", "s1", "z", "s2"); /* x[:, :3] stays */
    add_input(n, "three");
    add_input(n, "ax1");
    n = node(g, "Cast", "s2", NULL, "c"); /* f32 -> f32 */
    cast_to_float(n);
    node(g, "Relu", "c", NULL, "r");
    node(g, "Less", "r", "c", "lt");
    n = node(g, "Cast", "lt", NULL, "lf"); /* bool -> f32 stays */
    cast_to_float(n);
    node(g, "Add", "r", "lf", "out");
    PUSH(g->output, g->n_output, out_vi("out"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 7);
    assert_count(m, "", "Slice", 1);
    assert_count(m, "", "Cast", 1);
    assert_count(m, "", NULL, 5); /* Slice, Relu, Less, Cast, Add */
    avf_model_free(m);
    avf_model_free(raw);
}

/* Sqrt(Pow(x[:, :h], 2) + Pow(x[:, h:], 2)) -> avflow:PairMagnitude (the
 * Add's operands in either order, the second Slice to the end or to 2h);
 * with the exponent 4 the chain stays. */
static void slice_node(Onnx__GraphProto *g, const char *x, const char *start, const char *end,
                       const char *axes, const char *out) {
    Onnx__NodeProto *n = node(g, "Slice", x, start, out);
    add_input(n, end);
    add_input(n, axes);
}

/* sqrt(x[:, :h]^pw + x[:, h:end]^2) as six nodes, outputs "mag" + sfx. */
static void magnitude_chain(Onnx__GraphProto *g, const char *sfx, const char *end,
                            const char *pw, int im_first) {
    char re[16], im[16], re2[16], im2[16], sum[16], mag[16];
    snprintf(re, sizeof re, "re%s", sfx);
    snprintf(im, sizeof im, "im%s", sfx);
    snprintf(re2, sizeof re2, "re2%s", sfx);
    snprintf(im2, sizeof im2, "im2%s", sfx);
    snprintf(sum, sizeof sum, "s%s", sfx);
    snprintf(mag, sizeof mag, "mag%s", sfx);
    slice_node(g, "x", "z", "h", "ax1", re);
    slice_node(g, "x", "h", end, "ax1", im);
    node(g, "Pow", re, pw, re2);
    node(g, "Pow", im, "two", im2);
    node(g, "Add", im_first ? im2 : re2, im_first ? re2 : im2, sum);
    node(g, "Sqrt", sum, NULL, mag);
}

static void magnitude(void **state) {
    (void)state;
    static const int64_t d263[] = {2, 6, 3}, one[] = {1};
    static const int64_t zero[] = {0}, three[] = {3}, six[] = {6}, big[] = {INT64_MAX},
                         ax1[] = {1};
    Onnx__GraphProto *g = graph("magnitude");
    PUSH(g->input, g->n_input, vi("x", T_F32, 3, d263));
    PUSH(g->initializer, g->n_initializer, tensor("z", T_I64, 1, one, zero, 8));
    PUSH(g->initializer, g->n_initializer, tensor("h", T_I64, 1, one, three, 8));
    PUSH(g->initializer, g->n_initializer, tensor("h2", T_I64, 1, one, six, 8));
    PUSH(g->initializer, g->n_initializer, tensor("big", T_I64, 1, one, big, 8));
    PUSH(g->initializer, g->n_initializer, tensor("ax1", T_I64, 1, one, ax1, 8));
    init_scalar(g, "two", 2.0f, 0);
    init_scalar(g, "four", 4.0f, 0);
    magnitude_chain(g, "", "big", "two", 1);   /* rewritten: to the end, im^2 first */
    magnitude_chain(g, "_b", "h2", "two", 0);  /* rewritten: to 2h */
    magnitude_chain(g, "_c", "big", "four", 0); /* stays: a fourth power */
    PUSH(g->output, g->n_output, out_vi("mag"));
    PUSH(g->output, g->n_output, out_vi("mag_b"));
    PUSH(g->output, g->n_output, out_vi("mag_c"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 18);
    assert_count(m, "avflow", "PairMagnitude", 2);
    assert_count(m, "", "Sqrt", 1);
    assert_count(m, "", NULL, 8); /* 2 PairMagnitude + the 6 nodes with x^4 */
    avf_model_free(m);
    avf_model_free(raw);
}

/* ------------------------------------------------------------ BN folding */

static void conv_node(Onnx__GraphProto *g, const char *x, const char *w, const char *b,
                      const char *out) {
    Onnx__NodeProto *c = node(g, "Conv", x, w, out);
    if (b)
        add_input(c, b);
    attr_ints(c, "pads", (const int64_t[]){1, 1, 1, 1}, 4);
}

static void bn_node(Onnx__GraphProto *g, const char *x, const char *pfx, const char *out) {
    static const int64_t d4[] = {4};
    char n[4][32];
    const char *sfx[4] = {"s", "b", "m", "v"};
    Onnx__NodeProto *bn = node(g, "BatchNormalization", x, NULL, out);
    for (int k = 0; k < 4; k++) {
        snprintf(n[k], sizeof n[k], "%s_%s", pfx, sfx[k]);
        init_rand(g, n[k], 1, d4, k == 3 ? 0.5f : -1.0f, k == 3 ? 2.0f : 1.0f);
        add_input(bn, n[k]);
    }
    attr_float(bn, "epsilon", 1e-3f);
}

static void bn_fold(void **state) {
    (void)state;
    static const int64_t dw[] = {4, 3, 3, 3}, d4[] = {4};
    Onnx__GraphProto *g = graph("bn");
    PUSH(g->input, g->n_input, vi("x", T_F32, 4, d_x4));
    init_rand(g, "W", 4, dw, -1, 1);
    init_rand(g, "B", 1, d4, -1, 1);
    /* folded: Conv -> BN -> Mul(2) -> Add(0.5) */
    conv_node(g, "x", "W", "B", "c1");
    bn_node(g, "c1", "bn1", "n1");
    init_scalar(g, "k2", 2.0f, 1);
    init_scalar(g, "k05", 0.5f, 0);
    node(g, "Mul", "n1", "k2", "m1");
    node(g, "Add", "k05", "m1", "y1");
    /* not folded: the Conv output is also a graph output */
    conv_node(g, "x", "W", NULL, "c2");
    bn_node(g, "c2", "bn2", "y2");
    /* not folded: the Conv output has a second reader */
    conv_node(g, "x", "W", "B", "c3");
    bn_node(g, "c3", "bn3", "n3");
    node(g, "Relu", "c3", NULL, "r3");
    node(g, "Add", "n3", "r3", "y3");
    PUSH(g->output, g->n_output, out_vi("y1"));
    PUSH(g->output, g->n_output, out_vi("y2"));
    PUSH(g->output, g->n_output, out_vi("c2"));
    PUSH(g->output, g->n_output, out_vi("y3"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", "BatchNormalization", 3);
    assert_count(m, "", "BatchNormalization", 2);
    assert_count(m, "", "Mul", 0);
    /* Conv x3, BN x2, Relu (fused into its Conv? no: c3 has two readers), Add */
    assert_count(m, "", "Conv", 3);
    assert_count(m, "", NULL, 7);
    avf_model_free(m);
    avf_model_free(raw);
}

/* ------------------------------------------------------------ Conv + activation */

/* Branch i: Conv(x) -> activation i -> output "y<i>". */
static void conv_act(void **state) {
    (void)state;
    static const int64_t dw[] = {4, 3, 3, 3}, d4[] = {4};
    Onnx__GraphProto *g = graph("conv_act");
    PUSH(g->input, g->n_input, vi("x", T_F32, 4, d_x4));
    init_rand(g, "W", 4, dw, -1, 1);
    init_rand(g, "B", 1, d4, -1, 1);
    init_scalar(g, "lo", 0.0f, 0);
    init_scalar(g, "hi", 6.0f, 0);
    init_scalar(g, "three", 3.0f, 1);
    init_scalar(g, "six", 6.0f, 1);
    init_scalar(g, "other", 2.5f, 1);
    init_scalar(g, "sc", 0.75f, 1);
    init_scalar(g, "sh", -0.25f, 1);
    const char *acts[] = {"Relu", "Sigmoid", "LeakyRelu", "HardSigmoid", "Clip"};
    char c[16], y[16];
    for (int i = 0; i < 5; i++) {
        snprintf(c, sizeof c, "c%d", i);
        snprintf(y, sizeof y, "y%d", i);
        conv_node(g, "x", "W", "B", c);
        Onnx__NodeProto *a = node(g, acts[i], c, NULL, y);
        if (i == 2)
            attr_float(a, "alpha", 0.2f);
        if (i == 3) {
            attr_float(a, "alpha", 0.25f);
            attr_float(a, "beta", 0.4f);
        }
        if (i == 4) {
            add_input(a, "lo");
            add_input(a, "hi");
        }
        PUSH(g->output, g->n_output, out_vi(y));
    }
    /* written-out hard-swish, then a scalar affine (PaddleOCR's LCNet) */
    conv_node(g, "x", "W", "B", "h");
    node(g, "Add", "h", "three", "h3");
    Onnx__NodeProto *cl = node(g, "Clip", "h3", "lo", "hc");
    add_input(cl, "hi");
    node(g, "Mul", "h", "hc", "hm");
    node(g, "Div", "hm", "six", "hs");
    node(g, "Mul", "sc", "hs", "ha");
    node(g, "Add", "ha", "sh", "y5");
    PUSH(g->output, g->n_output, out_vi("y5"));
    /* HardSigmoid(x) * x and Sigmoid(x) * x */
    conv_node(g, "x", "W", "B", "g");
    node(g, "HardSigmoid", "g", NULL, "gh");
    node(g, "Mul", "gh", "g", "y6");
    conv_node(g, "x", "W", "B", "s");
    node(g, "Sigmoid", "s", NULL, "ss");
    node(g, "Mul", "s", "ss", "y7");
    PUSH(g->output, g->n_output, out_vi("y6"));
    PUSH(g->output, g->n_output, out_vi("y7"));
    /* not a hard-swish: x * clip(x + 2.5, 0, 6) / 6 */
    conv_node(g, "x", "W", "B", "q");
    node(g, "Add", "q", "other", "q3");
    cl = node(g, "Clip", "q3", "lo", "qc");
    add_input(cl, "hi");
    node(g, "Mul", "q", "qc", "qm");
    node(g, "Div", "qm", "six", "y8");
    PUSH(g->output, g->n_output, out_vi("y8"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 5 * 2 + 7 + 3 + 3 + 5);
    /* branches 0-7 each one FusedConv; branch 8 untouched */
    assert_count(m, "avflow", "FusedConv", 8);
    assert_count(m, "", "Conv", 1);
    assert_count(m, "", "Clip", 1);
    assert_count(m, "", NULL, 13);
    assert_count(m, "avflow", "Act", 0);
    assert_int_equal(count_op(m, "", "Sigmoid") + count_op(m, "", "HardSigmoid"), 0);
    avf_model_free(m);
    avf_model_free(raw);
}

/* ------------------------------------------------------------ MatMul + bias + Swish */

static void matmul_bias(void **state) {
    (void)state;
    static const int64_t dx[] = {2, 3, 8}, dw[] = {8, 6}, db[] = {6}, db2[] = {1, 6};
    Onnx__GraphProto *g = graph("mm");
    PUSH(g->input, g->n_input, vi("x", T_F32, 3, dx));
    init_rand(g, "W", 2, dw, -1, 1);
    init_rand(g, "b", 1, db, -1, 1);
    init_rand(g, "b2", 2, db2, -1, 1);
    init_scalar(g, "one", 1.0f, 1);
    node(g, "MatMul", "x", "W", "p");
    node(g, "Add", "p", "b", "pb");
    node(g, "Mul", "pb", "one", "pb1");
    node(g, "Sigmoid", "pb1", NULL, "sg");
    node(g, "Mul", "pb", "sg", "y");
    /* not fused: a 2-D bias; and a product that is also a graph output */
    node(g, "MatMul", "x", "W", "p2");
    node(g, "Add", "p2", "b2", "y2");
    node(g, "MatMul", "x", "W", "p3");
    node(g, "Add", "p3", "b", "y3");
    PUSH(g->output, g->n_output, out_vi("y"));
    PUSH(g->output, g->n_output, out_vi("y2"));
    PUSH(g->output, g->n_output, out_vi("y3"));
    PUSH(g->output, g->n_output, out_vi("p3"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 9);
    assert_count(m, "avflow", "FusedMatMul", 1);
    assert_count(m, "", "MatMul", 2);
    assert_count(m, "", NULL, 5);
    avf_model_free(m);
    avf_model_free(raw);
}

/* ------------------------------------------------------------ layer norm */

static void layer_norm_chain(Onnx__GraphProto *g, const char *x, const char *pw,
                             const char *pfx, const char *out) {
    static const int64_t axes[] = {-1};
    char n[10][32];
    for (int i = 0; i < 10; i++)
        snprintf(n[i], sizeof n[i], "%s%d", pfx, i);
    attr_ints(node(g, "ReduceMean", x, NULL, n[0]), "axes", axes, 1);
    node(g, "Sub", x, n[0], n[1]);
    node(g, "Pow", n[1], pw, n[2]);
    attr_ints(node(g, "ReduceMean", n[2], NULL, n[3]), "axes", axes, 1);
    node(g, "Add", n[3], "eps", n[4]);
    node(g, "Sqrt", n[4], NULL, n[5]);
    node(g, "Div", n[1], n[5], n[6]);
    node(g, "Mul", n[6], "gamma", n[7]);
    node(g, "Add", "beta", n[7], out);
}

static void layernorm(void **state) {
    (void)state;
    static const int64_t dx[] = {2, 5, 16}, d16[] = {16};
    Onnx__GraphProto *g = graph("ln");
    PUSH(g->input, g->n_input, vi("x", T_F32, 3, dx));
    init_rand(g, "gamma", 1, d16, 0.5f, 1.5f);
    init_rand(g, "beta", 1, d16, -1, 1);
    init_scalar(g, "eps", 1e-5f, 0);
    init_scalar(g, "two", 2.0f, 0);
    layer_norm_chain(g, "x", "two", "a", "y");
    /* not a layer norm: x - mean is read outside the chain too */
    layer_norm_chain(g, "x", "two", "b", "y2");
    PUSH(g->output, g->n_output, out_vi("y"));
    PUSH(g->output, g->n_output, out_vi("y2"));
    PUSH(g->output, g->n_output, out_vi("b1"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 18);
    assert_count(m, "avflow", "LayerNormalization", 1);
    assert_count(m, "", "Pow", 1);
    assert_count(m, "", "ReduceMean", 2);
    assert_count(m, "", NULL, 10);
    avf_model_free(m);
    avf_model_free(raw);
}

/* ------------------------------------------------------------ subgraphs */

/* Values an If branch reads from the main graph are never removed: the BN
 * after a Conv whose output the branch reads stays, so does an Identity the
 * branch reads. Inside the branch the passes run too (its Conv + Relu). */
static void subgraph_reads(void **state) {
    (void)state;
    static const int64_t dw[] = {4, 3, 3, 3};
    Onnx__GraphProto *g = graph("sub");
    PUSH(g->input, g->n_input, vi("cond", T_BOOL, 0, NULL));
    PUSH(g->input, g->n_input, vi("x", T_F32, 4, d_x4));
    init_rand(g, "W", 4, dw, -1, 1);
    conv_node(g, "x", "W", NULL, "c");
    bn_node(g, "c", "bn", "n");
    node(g, "Identity", "x", NULL, "xi");
    Onnx__GraphProto *then_g = graph("then");
    node(then_g, "Relu", "c", NULL, "t"); /* reads the Conv output */
    PUSH(then_g->output, then_g->n_output, out_vi("t"));
    Onnx__GraphProto *else_g = graph("else");
    conv_node(else_g, "xi", "W", NULL, "ec"); /* reads the Identity's output */
    node(else_g, "Relu", "ec", NULL, "e");
    PUSH(else_g->output, else_g->n_output, out_vi("e"));
    Onnx__NodeProto *n = node(g, "If", "cond", NULL, "r");
    attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = then_g;
    attr(n, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = else_g;
    node(g, "Add", "r", "n", "y");
    PUSH(g->output, g->n_output, out_vi("y"));
    onnx_built b = onnx_pack(g, 13);
    avf_model *m = load(b, 1), *raw = load(b, 0);
    same_outputs(m, raw, 1);
    same_outputs(m, raw, 0);
    assert_count(m, "", "BatchNormalization", 1);
    assert_count(m, "", "Identity", 1);
    assert_count(m, "avflow", "FusedConv", 1); /* in the else branch */
    assert_count(m, "", NULL, count_op(raw, "", NULL) - 1);
    avf_model_free(m);
    avf_model_free(raw);
}

/* If with a constant condition: the taken branch's nodes replace it (its
 * Constant folded too); a branch that returns an outer value leaves an
 * Identity producing the If's output. */
static void constant_if(void **state) {
    (void)state;
    static const int64_t d3[] = {3};
    static const float cv[] = {1, -2, 3}, yes[] = {1}, no[] = {0};
    Onnx__GraphProto *g = graph("cif");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d3));
    const_node(g, "yes_f", yes, 1);
    const_node(g, "no_f", no, 1);
    Onnx__GraphProto *t1 = graph("then1"), *e1 = graph("else1");
    const_node(t1, "c", cv, 3);
    node(t1, "Add", "x", "c", "t");
    PUSH(t1->output, t1->n_output, out_vi("t"));
    node(e1, "Relu", "x", NULL, "e");
    PUSH(e1->output, e1->n_output, out_vi("e"));
    Onnx__GraphProto *t2 = graph("then2"), *e2 = graph("else2");
    node(t2, "Neg", "x", NULL, "t");
    PUSH(t2->output, t2->n_output, out_vi("t"));
    PUSH(e2->output, e2->n_output, out_vi("x"));
    /* the condition: a float constant cast to bool (folded first) */
    const char *casts[2][2] = {{"yes_f", "yes"}, {"no_f", "no"}};
    for (int k = 0; k < 2; k++) {
        Onnx__AttributeProto *to = attr(node(g, "Cast", casts[k][0], NULL, casts[k][1]), "to",
                                        ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
        to->has_i = 1;
        to->i = T_BOOL;
    }
    Onnx__NodeProto *n = node(g, "If", "yes", NULL, "y1");
    attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = t1;
    attr(n, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = e1;
    n = node(g, "If", "no", NULL, "y2");
    attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = t2;
    attr(n, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = e2;
    node(g, "Relu", "y1", NULL, "y3"); /* a reader of an inlined output */
    PUSH(g->output, g->n_output, out_vi("y1"));
    PUSH(g->output, g->n_output, out_vi("y2"));
    PUSH(g->output, g->n_output, out_vi("y3"));
    avf_model *raw, *m = both(onnx_pack(g, 13), &raw);
    assert_count(raw, "", NULL, 11);
    assert_count(m, "", "If", 0);
    assert_count(m, "", "Neg", 0);
    assert_count(m, "", NULL, 3); /* Add, Identity, Relu */
    assert_count(m, "", "Identity", 1);
    avf_model_free(m);
    avf_model_free(raw);
}

/* A model with an unsupported node loads for inspection (ALLOW_UNSUPPORTED)
 * and is left as the file has it. */
static void unsupported_left_alone(void **state) {
    (void)state;
    static const int64_t d4[] = {4};
    Onnx__GraphProto *g = graph("unsup");
    PUSH(g->input, g->n_input, vi("x", T_F32, 1, d4));
    init_scalar(g, "one", 1.0f, 1);
    node(g, "Mul", "x", "one", "a");
    node(g, "FooBar", "a", NULL, "y");
    PUSH(g->output, g->n_output, out_vi("y"));
    onnx_built b = onnx_pack(g, 13);
    avf_model_options opts = {.flags = AVF_MODEL_ALLOW_UNSUPPORTED};
    avf_model *m = NULL;
    assert_avf_ok(avf_model_load_memory(b.buf, b.len, &opts, &m));
    assert_count(m, "", NULL, 2);
    avf_model_free(m);
    assert_avf_fails(avf_model_load_memory(b.buf, b.len, NULL, &m), AVF_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------ real models */

static void real_models(void **state) {
    (void)state;
    static const char *const names[] = {"silero_vad", "ppocr_v4_det", "ppocr_v4_rec",
                                        "ppocr_mobile_v2_cls"};
    int found = 0;
    for (int i = 0; i < 4; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/models/%s.onnx", AVF_SOURCE_DIR, names[i]);
        avf_model_options raw_o = {.flags = AVF_MODEL_NO_OPTIMIZE};
        avf_model *raw = NULL, *m = NULL;
        if (avf_model_load(path, &raw_o, &raw) != AVF_OK)
            continue;
        found++;
        assert_avf_ok(avf_model_load(path, NULL, &m));
        int before = count_op(raw, "", NULL), after = count_op(m, "", NULL);
        print_message("%-20s %4d -> %4d nodes\n", names[i], before, after);
        assert_true(after < before);
        assert_count(m, "", "Constant", 0);
        assert_count(m, "", "BatchNormalization", 0);
        avf_model_free(m);
        avf_model_free(raw);
    }
    if (!found) {
        print_message("[  SKIP    ] no models/ (scripts/fetch-models.sh)\n");
        skip();
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fold_constants), cmocka_unit_test(identities),
        cmocka_unit_test(whole_slices_and_casts),
        cmocka_unit_test(magnitude),
        cmocka_unit_test(bn_fold),        cmocka_unit_test(conv_act),
        cmocka_unit_test(matmul_bias),    cmocka_unit_test(layernorm),
        cmocka_unit_test(subgraph_reads), cmocka_unit_test(constant_if),
        cmocka_unit_test(unsupported_left_alone), cmocka_unit_test(real_models),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
