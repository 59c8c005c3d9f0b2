/* .npy files: round trips for every dtype (memory and file), headers as
 * NumPy writes them (v1 and v2, spacing, key order), and the error paths:
 * bad magic, corrupt or oversized headers, fortran order, big-endian and
 * unknown dtypes, truncated data, non-CPU tensors. */
#include "test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include "avflow/npy.h"

static avf_pool *pool;
static avf_device *cpu;

static int setup(void **state) {
    (void)state;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    avf_pool_free_all(pool);
    return 0;
}

static void roundtrip_all_dtypes(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{2, 3, 4}, {5, 0, 0}, {0, 0, 0}, {7, 0, 0}};
    static const int ndims[] = {3, 1, 0, 1};
    for (int dt = 0; dt < AVF_DTYPE_COUNT; dt++) {
        for (int s = 0; s < 4; s++) {
            avf_tensor t, r;
            assert_avf_ok(avf_tensor_alloc(&t, pool, (avf_dtype)dt, ndims[s], shapes[s], NULL));
            uint8_t *p = t.data;
            for (size_t i = 0; i < avf_tensor_nbytes(&t); i++)
                p[i] = dt == AVF_DTYPE_BOOL ? (uint8_t)(i % 2) : (uint8_t)(i * 37 + 11);
            void *buf = NULL;
            size_t len = 0;
            assert_avf_ok(avf_npy_write_memory(&t, &buf, &len));
            /* NumPy aligns the data to 64 bytes */
            assert_int_equal((len - avf_tensor_nbytes(&t)) % 64, 0);
            assert_avf_ok(avf_npy_read_memory(buf, len, pool, &r));
            assert_int_equal(r.dtype, dt);
            assert_int_equal(r.ndim, ndims[s]);
            for (int d = 0; d < r.ndim; d++)
                assert_int_equal(r.shape[d], shapes[s][d]);
            if (avf_tensor_nbytes(&t))
                assert_memory_equal(r.data, t.data, avf_tensor_nbytes(&t));
            free(buf);
            avf_tensor_release(&r, NULL);
            avf_tensor_release(&t, NULL);
        }
    }
}

static void roundtrip_file(void **state) {
    (void)state;
    char path[] = "/tmp/avf_test_npy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    float v[6] = {1, -2, 3.5f, 4, 5, 6e10f};
    avf_tensor t, r;
    const int64_t shape[] = {2, 3};
    assert_avf_ok(avf_tensor_init_borrowed(&t, v, AVF_DTYPE_F32, 2, shape, cpu));
    assert_avf_ok(avf_npy_write(path, &t));
    assert_avf_ok(avf_npy_read(path, pool, &r));
    assert_memory_equal(r.data, v, sizeof v);
    avf_tensor_release(&r, NULL);
    unlink(path);
    assert_avf_fails(avf_npy_read(path, pool, &r), AVF_ERR_NOT_FOUND);
    assert_null(r.data);
    assert_avf_fails(avf_npy_write("/nonexistent-dir/x.npy", &t), AVF_ERR_IO);
}

/* A file as NumPy would write it, header text given. */
static size_t make(uint8_t *buf, int version, const char *dict, size_t data_bytes) {
    size_t n = strlen(dict), off = version == 1 ? 10 : 12;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)version;
    buf[7] = 0;
    if (version == 1) {
        buf[8] = (uint8_t)n;
        buf[9] = (uint8_t)(n >> 8);
    } else {
        buf[8] = (uint8_t)n;
        buf[9] = (uint8_t)(n >> 8);
        buf[10] = buf[11] = 0;
    }
    memcpy(buf + off, dict, n);
    for (size_t i = 0; i < data_bytes; i++)
        buf[off + n + i] = (uint8_t)i;
    return off + n + data_bytes;
}

static void numpy_headers(void **state) {
    (void)state;
    uint8_t buf[512];
    avf_tensor r;
    size_t len = make(buf, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }  \n", 24);
    assert_avf_ok(avf_npy_read_memory(buf, len, pool, &r));
    assert_int_equal(r.dtype, AVF_DTYPE_I32);
    assert_int_equal(r.ndim, 2);
    assert_int_equal(r.shape[1], 3);
    avf_tensor_release(&r, NULL);
    /* key order, double quotes, v2, "(3,)" and Python 2's "3L" */
    len = make(buf, 2, "{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"|u1\"}\n", 3);
    assert_avf_ok(avf_npy_read_memory(buf, len, pool, &r));
    assert_int_equal(r.dtype, AVF_DTYPE_U8);
    assert_int_equal(r.shape[0], 3);
    avf_tensor_release(&r, NULL);
    /* trailing bytes are ignored */
    len = make(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': ()}\n", 8 + 5);
    assert_avf_ok(avf_npy_read_memory(buf, len, pool, &r));
    assert_int_equal(r.ndim, 0);
    avf_tensor_release(&r, NULL);
}

static void corrupt_headers(void **state) {
    (void)state;
    uint8_t buf[512];
    avf_tensor r;
    static const char *bad[] = {
        "",
        "[]",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
        "{'descr': '<f4\\'', 'fortran_order': False, 'shape': (1,)}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = make(buf, 1, bad[i], 64);
        assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_CORRUPT);
        assert_null(r.data);
    }
    size_t len = make(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", 8);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_UNSUPPORTED);
    assert_non_null(strstr(avf_last_error(), "fortran"));
    len = make(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", 8);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_UNSUPPORTED);
    len = make(buf, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_UNSUPPORTED);
    len = make(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_UNSUPPORTED);
    /* bad magic, unknown version, header longer than the file */
    len = make(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4);
    buf[1] = 'X';
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_CORRUPT);
    len = make(buf, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_UNSUPPORTED);
    len = make(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4);
    assert_avf_fails(avf_npy_read_memory(buf, 20, pool, &r), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_npy_read_memory(buf, 5, pool, &r), AVF_ERR_CORRUPT);
    /* a v2 header length beyond the bound */
    len = make(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4);
    buf[10] = 0x10;
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_CORRUPT);
    /* bools other than 0/1 */
    len = make(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,)}", 4);
    assert_avf_fails(avf_npy_read_memory(buf, len, pool, &r), AVF_ERR_CORRUPT);
    assert_null(r.data);
}

static void truncated_data(void **state) {
    (void)state;
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    avf_tensor t, r;
    const int64_t shape[] = {3, 4};
    assert_avf_ok(avf_tensor_init_borrowed(&t, v, AVF_DTYPE_F32, 2, shape, cpu));
    void *buf = NULL;
    size_t len = 0;
    assert_avf_ok(avf_npy_write_memory(&t, &buf, &len));
    for (size_t cut = 0; cut < len; cut += 7)
        assert_avf_fails(avf_npy_read_memory(buf, cut, pool, &r), AVF_ERR_CORRUPT);
    assert_avf_ok(avf_npy_read_memory(buf, len, pool, &r));
    avf_tensor_release(&r, NULL);
    free(buf);
}

static void bad_arguments(void **state) {
    (void)state;
    avf_tensor t, r;
    void *buf = NULL;
    size_t len = 0;
    memset(&t, 0, sizeof t);
    assert_avf_fails(avf_npy_write_memory(&t, &buf, &len), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_npy_read_memory(NULL, 4, pool, &r), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_npy_read_memory("x", 1, NULL, &r), AVF_ERR_INVALID_ARG);
    /* a CUDA pool, when there is a GPU */
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) == AVF_OK && n > 0) {
        avf_device *gpu = NULL;
        avf_pool *gp = NULL;
        assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &gpu));
        assert_avf_ok(avf_pool_create(gpu, NULL, &gp));
        assert_avf_fails(avf_npy_read_memory("\x93NUMPY", 6, gp, &r), AVF_ERR_INVALID_ARG);
        avf_pool_free_all(gp);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_all_dtypes), cmocka_unit_test(roundtrip_file),
        cmocka_unit_test(numpy_headers),        cmocka_unit_test(corrupt_headers),
        cmocka_unit_test(truncated_data),       cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
