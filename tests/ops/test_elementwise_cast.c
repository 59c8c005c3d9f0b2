/* Cast across every pair of avf dtypes: the CPU against values worked out
 * in the test (float -> int truncates toward zero, integers narrow by
 * wrap-around, anything -> bool is x != 0), the GPU against the CPU. */
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

#define NV 12

/* Values every dtype of its class can hold exactly (floats: also f16/bf16). */
static void source_values(avf_dtype d, double *v) {
    static const double fl[NV] = {0, 1, -1, 2.5, -2.75, 100.5, -100.25, 0.125, 3.75, -0.5, 127, 64};
    static const double in[NV] = {0, 1, -1, 5, -7, 100, -100, 127, -128, 42, 3, -2};
    static const double u8[NV] = {0, 1, 5, 7, 100, 127, 128, 200, 255, 42, 3, 2};
    static const double bo[NV] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1};
    const double *s = ew_is_float(d)         ? fl
                      : ew_is_unsigned(d)    ? u8
                      : d == AVF_DTYPE_BOOL ? bo
                                             : in;
    memcpy(v, s, NV * sizeof *v);
}

/* The value `v` becomes in dtype `to`, independently of the kernels. */
static double expect(avf_dtype to, double v) {
    if (to == AVF_DTYPE_BOOL)
        return v != 0;
    if (ew_is_float(to)) {
        unsigned char buf[8];
        ew_set(to, buf, 0, v);
        return ew_get(to, buf, 0);
    }
    int64_t t = (int64_t)trunc(v);
    switch (to) {
    case AVF_DTYPE_I32: return (int32_t)t;
    case AVF_DTYPE_I16: return (int16_t)t;
    case AVF_DTYPE_I8: return (int8_t)t;
    case AVF_DTYPE_U8: return (uint8_t)t;
    case AVF_DTYPE_U16: return (uint16_t)t;
    case AVF_DTYPE_U32: return (uint32_t)t;
    case AVF_DTYPE_U64: return (double)(uint64_t)t;
    default: return (double)t;
    }
}

static void cast_pair(avf_dtype from, avf_dtype to, int gpu) {
    double v[NV];
    unsigned char src[NV * 8], cpu[NV * 8], dev[NV * 8];
    int64_t shape[2] = {3, 4};
    source_values(from, v);
    for (int i = 0; i < NV; i++)
        ew_set(from, src, i, v[i]);
    avf_tensor x, y;
    avf_test_tensor(&env.cpu_ctx, &x, from, 2, shape, src);
    avf_test_tensor(&env.cpu_ctx, &y, to, 2, shape, NULL);
    assert_avf_ok(avf_op_cast(&env.cpu_ctx, to, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, cpu);
    for (int i = 0; i < NV; i++) {
        double want = expect(to, ew_get(from, src, i)), got = ew_get(to, cpu, i);
        if (got != want)
            print_error("Cast %s -> %s: %g gives %g, expected %g\n", avf_dtype_name(from),
                        avf_dtype_name(to), ew_get(from, src, i), got, want);
        assert_true(got == want);
    }
    if (gpu) {
        avf_tensor gx, gy;
        avf_test_tensor(&env.gpu_ctx, &gx, from, 2, shape, src);
        avf_test_tensor(&env.gpu_ctx, &gy, to, 2, shape, NULL);
        assert_avf_ok(avf_op_cast(&env.gpu_ctx, to, &gx, &gy));
        avf_test_read(&env.gpu_ctx, &gy, dev);
        if (ew_mismatch(to, dev, cpu, NV))
            print_error("Cast %s -> %s differs on CUDA\n", avf_dtype_name(from),
                        avf_dtype_name(to));
        assert_int_equal(ew_mismatch(to, dev, cpu, NV), 0);
        avf_tensor_release(&gx, env.gpu_stream);
        avf_tensor_release(&gy, env.gpu_stream);
    }
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&y, NULL);
}

static void cast_all(int gpu) {
    for (int a = 0; a < AVF_DTYPE_COUNT; a++)
        for (int b = 0; b < AVF_DTYPE_COUNT; b++)
            cast_pair((avf_dtype)a, (avf_dtype)b, gpu);
}

static void test_cast_cpu(void **state) { cast_all(0); }
static void test_cast_cuda(void **state) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
    cast_all(1);
}

/* Special values: NaN -> int is 0, NaN -> bool is true, out-of-range
 * saturates at int64 before narrowing, f32 -> f16 rounds to nearest even. */
static void test_cast_special(void **state) {
    float in[6] = {NAN, INFINITY, -1e30f, 2.9999f, -2.9999f, 65520.f};
    int64_t s[] = {6}, i64[6];
    uint8_t b[6];
    uint16_t h[6];
    avf_tensor x, y;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 1, s, in);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_I64, 1, s, NULL);
    assert_avf_ok(avf_op_cast(&env.cpu_ctx, AVF_DTYPE_I64, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, i64);
    assert_true(i64[0] == 0 && i64[1] == INT64_MAX && i64[2] == INT64_MIN);
    assert_true(i64[3] == 2 && i64[4] == -2);
    avf_tensor_release(&y, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_BOOL, 1, s, NULL);
    assert_avf_ok(avf_op_cast(&env.cpu_ctx, AVF_DTYPE_BOOL, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, b);
    for (int i = 0; i < 6; i++)
        assert_int_equal(b[i], 1);
    avf_tensor_release(&y, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F16, 1, s, NULL);
    assert_avf_ok(avf_op_cast(&env.cpu_ctx, AVF_DTYPE_F16, &x, &y));
    avf_test_read(&env.cpu_ctx, &y, h);
    assert_true(isnan(avf_f16_to_f32(h[0])) && isinf(avf_f16_to_f32(h[5])));
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&x, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cast_cpu),
        cmocka_unit_test(test_cast_cuda),
        cmocka_unit_test(test_cast_special),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
