/* Shared helpers of the data family's tests (test_data*.c). Data movement is
 * exact, so results are compared bytewise: CPU against a naive reference
 * written as "output element i reads input element src[i]" (or the fill
 * value when src[i] < 0), CUDA against the CPU on the same input. */
#ifndef AVF_TEST_DATA_UTIL_H
#define AVF_TEST_DATA_UTIL_H

#include <stdint.h>
#include <string.h>

#include "op_test_util.h"
#include "ops/data.h"

static avf_test_env env;

static int setup(void **state) {
    avf_test_env_init(&env);
    return 0;
}
static int teardown(void **state) {
    avf_test_env_free(&env);
    return 0;
}

static inline void need_gpu(void) {
    if (!env.gpu) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
}

static inline void unravel(int64_t i, int nd, const int64_t *shape, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
}

static inline int64_t ravel(int nd, const int64_t *shape, const int64_t *idx) {
    int64_t off = 0;
    for (int d = 0; d < nd; d++)
        off = off * shape[d] + idx[d];
    return off;
}

static inline int64_t numel_of(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= shape[d];
    return n;
}

static inline void *rand_bytes(uint64_t *seed, size_t n) {
    unsigned char *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)avf_test_rand(seed, 0, 256);
    return b;
}

static inline avf_tensor desc(avf_dtype dt, int nd, const int64_t *shape) {
    avf_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = nd;
    if (nd)
        memcpy(t.shape, shape, (size_t)nd * sizeof *shape);
    return t;
}

/* An op with one input and one output, typed params behind a void *. */
typedef avf_status (*op1_fn)(avf_op_ctx *ctx, const void *p, const avf_tensor *x, avf_tensor *y);

/* Run fn on ctx with x (host bytes xh) into a y shaped like want; returns
 * y's bytes (malloc'd). */
static inline void *run_op1(avf_op_ctx *ctx, op1_fn fn, const void *p, const avf_tensor *xd,
                     const void *xh, const avf_tensor *want) {
    avf_tensor x, y;
    avf_test_tensor(ctx, &x, xd->dtype, xd->ndim, xd->shape, xh);
    avf_test_tensor(ctx, &y, want->dtype, want->ndim, want->shape, NULL);
    assert_avf_ok(fn(ctx, p, &x, &y));
    size_t n = avf_tensor_nbytes(&y);
    void *out = malloc(n ? n : 1);
    assert_non_null(out);
    avf_test_read(ctx, &y, out);
    avf_tensor_release(&x, ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

/* Expected bytes from a source map. */
static inline void *expect_from_src(const int64_t *src, int64_t n, size_t es, const void *xh,
                             uint64_t fill) {
    unsigned char *e = malloc((size_t)n * es + 1);
    assert_non_null(e);
    for (int64_t i = 0; i < n; i++)
        memcpy(e + i * es, src[i] >= 0 ? (const unsigned char *)xh + src[i] * es
                                       : (const unsigned char *)&fill,
               es);
    return e;
}

/* CPU vs the source map, then (gpu) CUDA vs CPU, for x of dtype dt. */
static inline void check_op1(int gpu, op1_fn fn, const void *p, const avf_tensor *xd, const avf_tensor *yd,
                      const int64_t *src, uint64_t fill, uint64_t *seed) {
    size_t es = avf_dtype_size(xd->dtype);
    int64_t xn = numel_of(xd->ndim, xd->shape), yn = numel_of(yd->ndim, yd->shape);
    void *xh = rand_bytes(seed, (size_t)xn * es);
    void *want = expect_from_src(src, yn, es, xh, fill);
    void *cpu = run_op1(&env.cpu_ctx, fn, p, xd, xh, yd);
    assert_memory_equal(cpu, want, (size_t)yn * es);
    if (gpu) {
        void *g = run_op1(&env.gpu_ctx, fn, p, xd, xh, yd);
        assert_memory_equal(g, cpu, (size_t)yn * es);
        free(g);
    }
    free(cpu);
    free(want);
    free(xh);
}

static const avf_dtype test_dtypes[] = {AVF_DTYPE_F32, AVF_DTYPE_U8, AVF_DTYPE_F16,
                                        AVF_DTYPE_I64};

static inline void rand_shape(uint64_t *seed, int nd, int64_t lo, int64_t hi, int64_t *shape) {
    for (int d = 0; d < nd; d++)
        shape[d] = (int64_t)avf_test_rand(seed, (double)lo, (double)hi + 1);
}

#endif /* AVF_TEST_DATA_UTIL_H */
