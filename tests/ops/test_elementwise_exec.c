/* The elementwise family's executor ops (src/graph/exec/elementwise.c):
 * attribute and opset handling (Clip bounds as attributes before opset 11 and
 * host inputs after, Gelu's approximate, Cast's ONNX 'to', variadic Max),
 * run through prepare/infer/run on the CPU as the executor calls them. */
#include "core/error.h"
#include "graph/exec_op.h"
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

typedef union {
    max_align_t align;
    unsigned char b[AVF_EXEC_PARAMS_MAX];
} pbuf;

/* prepare + infer + allocate + run one node on the CPU; out is allocated. */
static avf_status run_node(const char *op_type, avf_graph_attr *attrs, int n_attrs, int64_t opset,
                           int n_in, const avf_tensor **in, avf_tensor *out) {
    const avf_exec_op *op = avf_exec_find("", op_type);
    assert_non_null(op);
    avf_graph_node node;
    memset(&node, 0, sizeof node);
    node.name = (char *)"n";
    node.op_type = (char *)op_type;
    node.domain = (char *)"";
    node.attrs = attrs;
    node.n_attrs = n_attrs;
    pbuf pb;
    memset(&pb, 0, sizeof pb);
    AVF_TRY(op->prepare(&node, opset, pb.b));
    avf_exec_call call;
    memset(&call, 0, sizeof call);
    call.ctx = &env.cpu_ctx;
    call.node = &node;
    call.opset = opset;
    call.n_in = n_in;
    for (int i = 0; i < n_in; i++)
        call.in[i] = call.in_host[i] = in[i];
    call.n_out = 1;
    memset(out, 0, sizeof *out);
    call.out[0] = out;
    AVF_TRY(op->infer(pb.b, &call));
    avf_tensor want = *out;
    AVF_TRY(avf_tensor_alloc(out, env.cpu_pool, want.dtype, want.ndim, want.shape, NULL));
    return op->run(pb.b, &call);
}

static void test_exec_clip(void **state) {
    float in[5] = {-3.f, -0.5f, 0.f, 0.5f, 3.f}, o[5];
    int64_t s[] = {5};
    avf_tensor x, y, lo, hi;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 1, s, in);
    /* opset 6: attributes */
    avf_graph_attr at[2] = {{.name = (char *)"min", .type = AVF_ATTR_FLOAT, .f = -1.f},
                            {.name = (char *)"max", .type = AVF_ATTR_FLOAT, .f = 0.25f}};
    const avf_tensor *ins[3] = {&x, NULL, NULL};
    assert_avf_ok(run_node("Clip", at, 2, 6, 1, ins, &y));
    avf_test_read(&env.cpu_ctx, &y, o);
    assert_true(o[0] == -1.f && o[1] == -0.5f && o[3] == 0.25f && o[4] == 0.25f);
    avf_tensor_release(&y, NULL);
    /* opset 13: inputs; min omitted */
    float hv = 0.5f;
    avf_test_tensor(&env.cpu_ctx, &hi, AVF_DTYPE_F32, 0, NULL, &hv);
    ins[2] = &hi;
    assert_avf_ok(run_node("Clip", NULL, 0, 13, 3, ins, &y));
    avf_test_read(&env.cpu_ctx, &y, o);
    assert_true(o[0] == -3.f && o[4] == 0.5f);
    avf_tensor_release(&y, NULL);
    /* a bound of another dtype is an error */
    int64_t lv = 0;
    avf_test_tensor(&env.cpu_ctx, &lo, AVF_DTYPE_I64, 0, NULL, &lv);
    ins[1] = &lo;
    assert_avf_fails(run_node("Clip", NULL, 0, 13, 3, ins, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&y, NULL);
    /* integer Clip (opset 12+) */
    int64_t iv[5] = {-9, -1, 0, 4, 100}, io[5], imin = -2, imax = 5;
    avf_tensor xi, tmin, tmax;
    avf_test_tensor(&env.cpu_ctx, &xi, AVF_DTYPE_I64, 1, s, iv);
    avf_test_tensor(&env.cpu_ctx, &tmin, AVF_DTYPE_I64, 0, NULL, &imin);
    avf_test_tensor(&env.cpu_ctx, &tmax, AVF_DTYPE_I64, 0, NULL, &imax);
    const avf_tensor *ii[3] = {&xi, &tmin, &tmax};
    assert_avf_ok(run_node("Clip", NULL, 0, 13, 3, ii, &y));
    avf_test_read(&env.cpu_ctx, &y, io);
    assert_true(io[0] == -2 && io[1] == -1 && io[3] == 4 && io[4] == 5);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&xi, NULL);
    avf_tensor_release(&tmin, NULL);
    avf_tensor_release(&tmax, NULL);
    avf_tensor_release(&lo, NULL);
    avf_tensor_release(&hi, NULL);
    avf_tensor_release(&x, NULL);
}

static void test_exec_gelu_cast_max(void **state) {
    float in[3] = {-1.f, 0.5f, 2.f}, o[3];
    int64_t s[] = {3};
    avf_tensor x, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 1, s, in);
    const avf_tensor *ins[3] = {&x, &x, &x};
    avf_graph_attr ga = {.name = (char *)"approximate", .type = AVF_ATTR_STRING,
                         .s = (char *)"tanh"};
    assert_avf_ok(run_node("Gelu", &ga, 1, 20, 1, ins, &y));
    avf_test_read(&env.cpu_ctx, &y, o);
    double v = 2.0, want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    assert_true(fabs(o[2] - want) < 1e-6);
    avf_tensor_release(&y, NULL);
    ga.s = (char *)"bogus";
    assert_avf_fails(run_node("Gelu", &ga, 1, 20, 1, ins, &y), AVF_ERR_UNSUPPORTED);
    /* Cast to=10 (FLOAT16), to=7 (INT64) */
    avf_graph_attr ca = {.name = (char *)"to", .type = AVF_ATTR_INT, .i = 10};
    assert_avf_ok(run_node("Cast", &ca, 1, 19, 1, ins, &y));
    assert_int_equal(y.dtype, AVF_DTYPE_F16);
    avf_tensor_release(&y, NULL);
    ca.i = 7;
    int64_t i64[3];
    assert_avf_ok(run_node("Cast", &ca, 1, 13, 1, ins, &y));
    avf_test_read(&env.cpu_ctx, &y, i64);
    assert_true(i64[0] == -1 && i64[1] == 0 && i64[2] == 2);
    avf_tensor_release(&y, NULL);
    /* Max of three, with a broadcast scalar */
    float sv = 1.f;
    avf_tensor sc;
    avf_test_tensor(&env.cpu_ctx, &sc, AVF_DTYPE_F32, 0, NULL, &sv);
    ins[1] = &sc;
    assert_avf_ok(run_node("Max", NULL, 0, 13, 3, ins, &y));
    avf_test_read(&env.cpu_ctx, &y, o);
    assert_true(o[0] == 1.f && o[1] == 1.f && o[2] == 2.f);
    avf_tensor_release(&y, NULL);
    /* Where and Equal through the table */
    assert_avf_ok(run_node("Equal", NULL, 0, 13, 2, ins, &y));
    assert_int_equal(y.dtype, AVF_DTYPE_BOOL);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&sc, NULL);
    avf_tensor_release(&x, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_clip),
        cmocka_unit_test(test_exec_gelu_cast_max),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
