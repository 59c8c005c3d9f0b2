/* Unit tests for avflow tensors: dtypes, shape validation, borrowed and
 * owned tensors (CPU and CUDA), reshape, describe. */
#include "test_util.h"

#include <stdlib.h>

static void test_dtype_table(void **state) {
    (void)state;
    static const struct {
        avf_dtype dt;
        const char *name;
        size_t size;
    } want[] = {
        {AVF_DTYPE_F32, "f32", 4}, {AVF_DTYPE_F16, "f16", 2}, {AVF_DTYPE_BF16, "bf16", 2},
        {AVF_DTYPE_F64, "f64", 8}, {AVF_DTYPE_I64, "i64", 8}, {AVF_DTYPE_I32, "i32", 4},
        {AVF_DTYPE_I16, "i16", 2}, {AVF_DTYPE_I8, "i8", 1},   {AVF_DTYPE_U8, "u8", 1},
        {AVF_DTYPE_BOOL, "bool", 1}, {AVF_DTYPE_U16, "u16", 2}, {AVF_DTYPE_U32, "u32", 4},
        {AVF_DTYPE_U64, "u64", 8},
    };
    assert_int_equal(sizeof(want) / sizeof(want[0]), AVF_DTYPE_COUNT);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(avf_dtype_size(want[i].dt), want[i].size);
        assert_string_equal(avf_dtype_name(want[i].dt), want[i].name);
        assert_int_equal(avf_dtype_parse(want[i].name), (int)want[i].dt);
    }
    assert_int_equal(avf_dtype_size(AVF_DTYPE_COUNT), 0);
    assert_int_equal(avf_dtype_size((avf_dtype)-1), 0);
    assert_string_equal(avf_dtype_name(AVF_DTYPE_COUNT), "invalid");
    assert_string_equal(avf_dtype_name((avf_dtype)-3), "invalid");
    assert_int_equal(avf_dtype_parse("F32"), -1); /* names are exact */
    assert_int_equal(avf_dtype_parse("float"), -1);
    assert_int_equal(avf_dtype_parse(""), -1);
    assert_int_equal(avf_dtype_parse("invalid"), -1);
    assert_int_equal(avf_dtype_parse(NULL), -1);
}

static void test_shape_numel(void **state) {
    (void)state;
    int64_t n = -7;
    assert_avf_ok(avf_shape_numel(0, NULL, &n));
    assert_int_equal(n, 1); /* a scalar */
    const int64_t s4[] = {1, 3, 224, 224};
    assert_avf_ok(avf_shape_numel(4, s4, &n));
    assert_int_equal(n, 3 * 224 * 224);
    const int64_t s8[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    assert_avf_ok(avf_shape_numel(8, s8, &n));
    assert_int_equal(n, 16);
    const int64_t zero[] = {5, 0, 7};
    assert_avf_ok(avf_shape_numel(3, zero, &n));
    assert_int_equal(n, 0);
    /* Empty, with non-zero dims within the limit: valid. */
    const int64_t zero_wide[] = {(int64_t)1 << 24, 0, (int64_t)1 << 24};
    assert_avf_ok(avf_shape_numel(3, zero_wide, &n));
    assert_int_equal(n, 0);
    /* Empty, but its strides would overflow: rejected (found by fuzzing the
     * ONNX loader). */
    const int64_t zero_big[] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
    assert_avf_fails(avf_shape_numel(3, zero_big, &n), AVF_ERR_INVALID_ARG);
    const int64_t at_limit[] = {(int64_t)1 << 24, (int64_t)1 << 24};
    assert_avf_ok(avf_shape_numel(2, at_limit, &n));
    assert_int_equal(n, AVF_MAX_NUMEL);
}

static void test_shape_numel_bad(void **state) {
    (void)state;
    int64_t n = 0;
    const int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_avf_fails(avf_shape_numel(9, s9, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_shape_numel(-1, s9, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_shape_numel(2, NULL, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_shape_numel(2, s9, NULL), AVF_ERR_INVALID_ARG);
    const int64_t neg[] = {3, -2};
    assert_avf_fails(avf_shape_numel(2, neg, &n), AVF_ERR_INVALID_ARG);
    const int64_t neg_zero[] = {0, -1};
    assert_avf_fails(avf_shape_numel(2, neg_zero, &n), AVF_ERR_INVALID_ARG);
    const int64_t over[] = {((int64_t)1 << 24) + 1, (int64_t)1 << 24};
    assert_avf_fails(avf_shape_numel(2, over, &n), AVF_ERR_INVALID_ARG);
    /* Products that wrap int64 must not sneak back under the limit. */
    const int64_t wrap[] = {(int64_t)1 << 32, (int64_t)1 << 32, (int64_t)1 << 32};
    assert_avf_fails(avf_shape_numel(3, wrap, &n), AVF_ERR_INVALID_ARG);
    const int64_t huge[] = {INT64_MAX};
    assert_avf_fails(avf_shape_numel(1, huge, &n), AVF_ERR_INVALID_ARG);
    const int64_t many[8] = {256, 256, 256, 256, 256, 256, 256, 256};
    assert_avf_fails(avf_shape_numel(8, many, &n), AVF_ERR_INVALID_ARG);
}

static void test_borrowed(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    for (int d = 0; d < AVF_DTYPE_COUNT; d++) {
        size_t es = avf_dtype_size((avf_dtype)d);
        uint8_t buf[2 * 3 * 4 * 8];
        const int64_t shape[] = {2, 3, 4};
        avf_tensor t;
        assert_avf_ok(avf_tensor_init_borrowed(&t, buf, (avf_dtype)d, 3, shape, cpu));
        assert_ptr_equal(t.data, buf);
        assert_int_equal(t.dtype, d);
        assert_int_equal(t.ndim, 3);
        assert_int_equal(t.strides[0], 12);
        assert_int_equal(t.strides[1], 4);
        assert_int_equal(t.strides[2], 1);
        assert_ptr_equal(t.device, cpu);
        assert_null(t.pool);
        assert_int_equal(t.flags & AVF_TENSOR_OWNED, 0);
        assert_int_equal(avf_tensor_numel(&t), 24);
        assert_int_equal(avf_tensor_nbytes(&t), 24 * es);
        assert_true(avf_tensor_is_contiguous(&t));
        avf_tensor_release(&t, NULL); /* only zeroes */
        assert_null(t.data);
        assert_int_equal(t.ndim, 0);
    }
    /* Scalar. */
    float x = 1.5f;
    avf_tensor t;
    assert_avf_ok(avf_tensor_init_borrowed(&t, &x, AVF_DTYPE_F32, 0, NULL, cpu));
    assert_int_equal(avf_tensor_numel(&t), 1);
    assert_int_equal(avf_tensor_nbytes(&t), 4);
    /* Empty tensors may borrow NULL. */
    const int64_t empty[] = {4, 0};
    assert_avf_ok(avf_tensor_init_borrowed(&t, NULL, AVF_DTYPE_I64, 2, empty, cpu));
    assert_int_equal(avf_tensor_numel(&t), 0);
    assert_int_equal(avf_tensor_nbytes(&t), 0);
    assert_true(avf_tensor_is_contiguous(&t));
    avf_tensor_release(NULL, NULL); /* ignored */
}

static void test_borrowed_bad(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    float buf[16];
    const int64_t ok[] = {4, 4};
    const int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const int64_t neg[] = {4, -4};
    const int64_t over[] = {(int64_t)1 << 30, (int64_t)1 << 30};
    avf_tensor t;
    assert_avf_fails(avf_tensor_init_borrowed(NULL, buf, AVF_DTYPE_F32, 2, ok, cpu),
                     AVF_ERR_INVALID_ARG);
    memset(&t, 0xab, sizeof t);
    assert_avf_fails(avf_tensor_init_borrowed(&t, NULL, AVF_DTYPE_F32, 2, ok, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_null(t.data); /* a failed init leaves the struct zeroed */
    assert_int_equal(t.ndim, 0);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 2, NULL, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 2, ok, NULL),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_COUNT, 2, ok, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, (avf_dtype)-1, 2, ok, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 9, s9, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, -1, ok, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 2, neg, cpu),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 2, over, cpu),
                     AVF_ERR_INVALID_ARG);
}

static void test_alloc_bad(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_pool *pool = NULL;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    const int64_t ok[] = {4, 4};
    const int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const int64_t neg[] = {-1};
    const int64_t over[] = {(int64_t)1 << 25, (int64_t)1 << 25};
    avf_tensor t;
    assert_avf_fails(avf_tensor_alloc(NULL, pool, AVF_DTYPE_F32, 2, ok, NULL), AVF_ERR_INVALID_ARG);
    memset(&t, 0xab, sizeof t);
    assert_avf_fails(avf_tensor_alloc(&t, NULL, AVF_DTYPE_F32, 2, ok, NULL), AVF_ERR_INVALID_ARG);
    assert_null(t.data);
    assert_null(t.pool);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 2, NULL, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_COUNT, 2, ok, NULL),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 9, s9, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 1, neg, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 2, over, NULL), AVF_ERR_INVALID_ARG);
    assert_null(t.data);
    avf_pool_free_all(pool);
}

static void test_alloc_roundtrip(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *pool = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    avf_stream *s = NULL;
    assert_avf_ok(avf_stream_create(dev, &s));
    const int64_t shape[] = {3, 1000};
    avf_tensor t;
    assert_avf_ok(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 2, shape, s));
    assert_non_null(t.data);
    assert_ptr_equal(t.pool, pool);
    assert_ptr_equal(t.device, dev);
    assert_true(t.flags & AVF_TENSOR_OWNED);
    assert_int_equal(avf_tensor_numel(&t), 3000);
    assert_int_equal(avf_tensor_nbytes(&t), 12000);
    assert_int_equal(t.strides[0], 1000);
    assert_int_equal(t.strides[1], 1);

    float *in = malloc(12000), *out = calloc(3000, sizeof(float));
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < 3000; i++)
        in[i] = (float)i * 0.5f - 7.0f;
    assert_avf_ok(avf_memcpy_async(dev, t.data, in, 12000, AVF_COPY_H2D, s, "test_tensor"));
    assert_avf_ok(avf_memcpy_async(dev, out, t.data, 12000, AVF_COPY_D2H, s, "test_tensor"));
    assert_avf_ok(avf_stream_synchronize(s));
    assert_memory_equal(in, out, 12000);

    /* Every dtype allocates its element size times numel. */
    for (int d = 0; d < AVF_DTYPE_COUNT; d++) {
        avf_tensor u;
        const int64_t sh[] = {7, 5};
        assert_avf_ok(avf_tensor_alloc(&u, pool, (avf_dtype)d, 2, sh, s));
        assert_non_null(u.data);
        assert_int_equal(avf_tensor_nbytes(&u), 35 * avf_dtype_size((avf_dtype)d));
        avf_tensor_release(&u, s);
    }

    avf_tensor_release(&t, s);
    assert_null(t.data);
    assert_null(t.pool);
    assert_int_equal(t.flags, 0);
    avf_tensor_release(&t, s); /* releasing a zeroed tensor is harmless */

    avf_pool_stats st;
    assert_avf_ok(avf_pool_get_stats(pool, &st));
    assert_int_equal(st.in_use_bytes, 0); /* everything went back */
    free(in);
    free(out);
    avf_stream_free(s);
    avf_pool_free_all(pool);
}

static void test_alloc_zero_elements(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *pool = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    const int64_t shape[] = {0, 16};
    avf_tensor t;
    assert_avf_ok(avf_tensor_alloc(&t, pool, AVF_DTYPE_F16, 2, shape, NULL));
    assert_null(t.data);
    assert_int_equal(avf_tensor_numel(&t), 0);
    assert_int_equal(avf_tensor_nbytes(&t), 0);
    assert_ptr_equal(t.device, dev);
    avf_pool_stats st;
    assert_avf_ok(avf_pool_get_stats(pool, &st));
    assert_int_equal(st.alloc_count, 0); /* no pool call for nothing */
    avf_tensor_release(&t, NULL);
    avf_pool_free_all(pool);
}

static void test_alloc_out_of_memory(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_pool *pool = NULL;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    /* Enough failures for the first try and the pool's retry after trim. */
    avf_pool_inject_driver_failures(pool, 16);
    const int64_t shape[] = {1024, 1024};
    avf_tensor t;
    memset(&t, 0xab, sizeof t);
    assert_avf_fails(avf_tensor_alloc(&t, pool, AVF_DTYPE_F32, 2, shape, NULL),
                     AVF_ERR_OUT_OF_MEMORY);
    avf_tensor zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&t, &zero, sizeof t);
    avf_tensor_release(&t, NULL); /* safe after failure */
    avf_pool_free_all(pool);
}

static void test_contiguity(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    float buf[24];
    const int64_t shape[] = {2, 3, 4};
    avf_tensor t;
    assert_avf_ok(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 3, shape, cpu));
    assert_true(avf_tensor_is_contiguous(&t));
    /* A transposed view (swap last two dims) is not contiguous. */
    avf_tensor tr = t;
    tr.shape[1] = 4;
    tr.shape[2] = 3;
    tr.strides[1] = 1;
    tr.strides[2] = 4;
    assert_false(avf_tensor_is_contiguous(&tr));
    /* Size-1 dims may carry any stride. */
    const int64_t ones[] = {1, 24, 1};
    assert_avf_ok(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 3, ones, cpu));
    t.strides[0] = 999;
    t.strides[2] = 5;
    assert_true(avf_tensor_is_contiguous(&t));
    assert_false(avf_tensor_is_contiguous(NULL));
}

static void test_reshape(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    float buf[24];
    const int64_t shape[] = {2, 3, 4};
    avf_tensor t, v;
    assert_avf_ok(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 3, shape, cpu));

    const int64_t flat[] = {24};
    assert_avf_ok(avf_tensor_reshape(&t, 1, flat, &v));
    assert_int_equal(v.ndim, 1);
    assert_int_equal(v.shape[0], 24);
    assert_int_equal(v.strides[0], 1);
    assert_ptr_equal(v.data, buf);
    assert_ptr_equal(v.device, cpu);
    assert_int_equal(v.flags & AVF_TENSOR_OWNED, 0);

    const int64_t inf[] = {-1, 6};
    assert_avf_ok(avf_tensor_reshape(&t, 2, inf, &v));
    assert_int_equal(v.shape[0], 4);
    assert_int_equal(v.shape[1], 6);
    assert_int_equal(v.strides[0], 6);

    const int64_t inf_mid[] = {2, -1, 2, 1};
    assert_avf_ok(avf_tensor_reshape(&t, 4, inf_mid, &v));
    assert_int_equal(v.shape[1], 6);

    /* In place on a borrowed tensor is allowed. */
    avf_tensor w = t;
    assert_avf_ok(avf_tensor_reshape(&w, 2, inf, &w));
    assert_int_equal(w.shape[0], 4);

    const int64_t bad_count[] = {5, 5};
    assert_avf_fails(avf_tensor_reshape(&t, 2, bad_count, &v), AVF_ERR_INVALID_ARG);
    const int64_t two_inf[] = {-1, -1};
    assert_avf_fails(avf_tensor_reshape(&t, 2, two_inf, &v), AVF_ERR_INVALID_ARG);
    const int64_t indivisible[] = {-1, 5};
    assert_avf_fails(avf_tensor_reshape(&t, 2, indivisible, &v), AVF_ERR_INVALID_ARG);
    const int64_t neg[] = {-2, -12};
    assert_avf_fails(avf_tensor_reshape(&t, 2, neg, &v), AVF_ERR_INVALID_ARG);
    const int64_t s9[9] = {24, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_avf_fails(avf_tensor_reshape(&t, 9, s9, &v), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_reshape(NULL, 1, flat, &v), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_reshape(&t, 1, flat, NULL), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_tensor_reshape(&t, 1, NULL, &v), AVF_ERR_INVALID_ARG);

    /* Non-contiguous sources cannot be reshaped. */
    avf_tensor tr = t;
    tr.strides[2] = 2;
    assert_avf_fails(avf_tensor_reshape(&tr, 1, flat, &v), AVF_ERR_INVALID_ARG);

    /* Empty tensors: -1 next to a 0 is ambiguous, explicit shapes are fine. */
    const int64_t empty[] = {0, 4};
    assert_avf_ok(avf_tensor_init_borrowed(&t, NULL, AVF_DTYPE_F32, 2, empty, cpu));
    const int64_t e2[] = {2, 0, 8};
    assert_avf_ok(avf_tensor_reshape(&t, 3, e2, &v));
    assert_int_equal(avf_tensor_numel(&v), 0);
    const int64_t e_inf[] = {-1, 0};
    assert_avf_fails(avf_tensor_reshape(&t, 2, e_inf, &v), AVF_ERR_INVALID_ARG);
    const int64_t e_inf2[] = {-1, 4};
    assert_avf_ok(avf_tensor_reshape(&t, 2, e_inf2, &v));
    assert_int_equal(v.shape[0], 0);

    /* Scalar <-> [1]. */
    float x = 0;
    assert_avf_ok(avf_tensor_init_borrowed(&t, &x, AVF_DTYPE_F32, 0, NULL, cpu));
    const int64_t one[] = {-1};
    assert_avf_ok(avf_tensor_reshape(&t, 1, one, &v));
    assert_int_equal(v.shape[0], 1);
    assert_avf_ok(avf_tensor_reshape(&v, 0, NULL, &v));
    assert_int_equal(v.ndim, 0);
}

static void test_reshape_owned_into_itself(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_pool *pool = NULL;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    const int64_t shape[] = {4, 4};
    const int64_t flat[] = {16};
    avf_tensor t, v;
    assert_avf_ok(avf_tensor_alloc(&t, pool, AVF_DTYPE_U8, 2, shape, NULL));
    assert_avf_fails(avf_tensor_reshape(&t, 1, flat, &t), AVF_ERR_INVALID_ARG);
    assert_true(t.flags & AVF_TENSOR_OWNED); /* untouched */
    assert_avf_ok(avf_tensor_reshape(&t, 1, flat, &v));
    assert_ptr_equal(v.data, t.data);
    assert_null(v.pool); /* the view borrows */
    avf_tensor_release(&v, NULL);
    avf_tensor_release(&t, NULL);
    avf_pool_free_all(pool);
}

static void test_describe(void **state) {
    avf_device *dev = avf_test_device(state);
    float buf[1];
    const int64_t shape[] = {1, 3, 224, 224};
    avf_tensor t;
    assert_avf_ok(avf_tensor_init_borrowed(&t, buf, AVF_DTYPE_F32, 4, shape, dev));
    char out[64];
    char want[64];
    snprintf(want, sizeof want, "f32[1,3,224,224]@%s", avf_device_get_name(dev));
    assert_string_equal(avf_tensor_describe(&t, out, sizeof out), want);
    assert_ptr_equal(avf_tensor_describe(&t, out, sizeof out), out);
}

static void test_describe_edges(void **state) {
    (void)state;
    avf_device *cpu = NULL;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    float x = 0;
    avf_tensor t;
    char out[64];
    assert_avf_ok(avf_tensor_init_borrowed(&t, &x, AVF_DTYPE_BOOL, 0, NULL, cpu));
    assert_string_equal(avf_tensor_describe(&t, out, sizeof out), "bool[]@cpu");
    const int64_t empty[] = {0, 5};
    assert_avf_ok(avf_tensor_init_borrowed(&t, NULL, AVF_DTYPE_BF16, 2, empty, cpu));
    assert_string_equal(avf_tensor_describe(&t, out, sizeof out), "bf16[0,5]@cpu");
    /* Truncation keeps a NUL-terminated prefix. */
    char small[6];
    assert_string_equal(avf_tensor_describe(&t, small, sizeof small), "bf16[");
    char tiny[1];
    assert_string_equal(avf_tensor_describe(&t, tiny, 1), "");
    assert_string_equal(avf_tensor_describe(NULL, out, sizeof out), "(null)");
    assert_string_equal(avf_tensor_describe(&t, NULL, 0), ""); /* printable, not NULL */
    memset(&t, 0, sizeof t);
    assert_string_equal(avf_tensor_describe(&t, out, sizeof out), "f32[]@none");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_table),
        cmocka_unit_test(test_shape_numel),
        cmocka_unit_test(test_shape_numel_bad),
        cmocka_unit_test(test_borrowed),
        cmocka_unit_test(test_borrowed_bad),
        cmocka_unit_test(test_alloc_bad),
        AVF_DEVICE_TESTS(test_alloc_roundtrip),
        AVF_DEVICE_TESTS(test_alloc_zero_elements),
        AVF_DEVICE_TESTS(test_alloc_out_of_memory),
        cmocka_unit_test(test_contiguity),
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_reshape_owned_into_itself),
        AVF_DEVICE_TESTS(test_describe),
        cmocka_unit_test(test_describe_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
