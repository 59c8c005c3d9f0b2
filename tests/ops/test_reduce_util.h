/* Shared by the reduce family's kernel tests (test_reduce, test_reduce_select,
 * test_softmax, test_norm): one test environment per program, random host
 * data in f32/f64/f16/i64/i32 with its exact double values, and error measures. */
#ifndef AVF_TEST_REDUCE_UTIL_H
#define AVF_TEST_REDUCE_UTIL_H

#include "op_test_util.h"

static avf_test_env env;

static inline int setup(void **state) {
    (void)state;
    avf_test_env_init(&env);
    return 0;
}

static inline int teardown(void **state) {
    (void)state;
    avf_test_env_free(&env);
    return 0;
}

static inline void need_gpu(void) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device on this machine\n");
        skip();
    }
}

static inline int64_t numel_of(int nd, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= s[i];
    return n;
}

/* Random host data of dtype dt; vals gets each element as a double (after
 * rounding to dt). `ints`: whole numbers, so ties happen. */
static inline void *rand_buf(avf_dtype dt, int64_t n, uint64_t *seed, double lo, double hi, int ints,
                      double *vals) {
    void *buf = malloc((size_t)(n ? n : 1) * avf_dtype_size(dt));
    assert_non_null(buf);
    for (int64_t i = 0; i < n; i++) {
        double v = avf_test_rand(seed, lo, hi);
        if (ints || dt == AVF_DTYPE_I64 || dt == AVF_DTYPE_I32)
            v = floor(v);
        switch (dt) {
        case AVF_DTYPE_F32: ((float *)buf)[i] = (float)v; v = (float)v; break;
        case AVF_DTYPE_F64: ((double *)buf)[i] = v; break;
        case AVF_DTYPE_F16:
            ((uint16_t *)buf)[i] = avf_f32_to_f16((float)v);
            v = avf_f16_to_f32(((uint16_t *)buf)[i]);
            break;
        case AVF_DTYPE_I64: ((int64_t *)buf)[i] = (int64_t)v; break;
        case AVF_DTYPE_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
        default: fail();
        }
        if (vals)
            vals[i] = v;
    }
    return buf;
}

static inline double get_d(const void *buf, avf_dtype dt, int64_t i) {
    switch (dt) {
    case AVF_DTYPE_F32: return ((const float *)buf)[i];
    case AVF_DTYPE_F64: return ((const double *)buf)[i];
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)buf)[i]);
    case AVF_DTYPE_I64: return (double)((const int64_t *)buf)[i];
    case AVF_DTYPE_I32: return ((const int32_t *)buf)[i];
    default: return NAN;
    }
}

static inline double err_of(const void *got, avf_dtype dt, const double *want, int64_t n) {
    float *g = malloc((size_t)(n ? n : 1) * sizeof *g);
    for (int64_t i = 0; i < n; i++)
        g[i] = (float)get_d(got, dt, i);
    double e = avf_test_rel_err(g, want, n);
    free(g);
    return e;
}

static inline double tol_of(avf_dtype dt) {
    return dt == AVF_DTYPE_F16 ? 2e-3 : 1e-5;
}

#endif /* AVF_TEST_REDUCE_UTIL_H */
