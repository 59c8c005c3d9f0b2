/* Helpers for kernel tests (tests/ops/test_<family>.c).
 *
 * The pattern of every kernel test:
 *   1. draw random inputs on the host (fresh per test, never all zeros);
 *   2. compute the expected output with a naive double-precision loop in the
 *      test itself, run the CPU kernel, compare (avf_test_rel_err);
 *   3. if a GPU is present, upload the same inputs, run the CUDA kernel,
 *      download, compare with the CPU result (f32: rel err <= 1e-5 typical;
 *      f16: <= 1e-3 against the CPU kernel run on f16-rounded inputs).
 * avf_test_env gives a CPU and (when present) a CUDA op context with pools.
 */
#ifndef AVF_OP_TEST_UTIL_H
#define AVF_OP_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>

#include "core/half.h"
#include "ops/op.h"
#include "test_util.h"

typedef struct avf_test_env {
    avf_device *cpu, *gpu;     /* gpu NULL when absent */
    avf_pool *cpu_pool, *gpu_pool;
    avf_stream *gpu_stream;
    avf_op_ctx cpu_ctx, gpu_ctx;
} avf_test_env;

static inline void avf_test_env_init(avf_test_env *e) {
    memset(e, 0, sizeof *e);
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &e->cpu));
    assert_avf_ok(avf_pool_create(e->cpu, NULL, &e->cpu_pool));
    assert_avf_ok(avf_op_ctx_init(&e->cpu_ctx, e->cpu, NULL, e->cpu_pool));
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) == AVF_OK && n > 0) {
        assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &e->gpu));
        assert_avf_ok(avf_pool_create(e->gpu, NULL, &e->gpu_pool));
        assert_avf_ok(avf_stream_create(e->gpu, &e->gpu_stream));
        assert_avf_ok(avf_op_ctx_init(&e->gpu_ctx, e->gpu, e->gpu_stream, e->gpu_pool));
    }
}

static inline void avf_test_env_free(avf_test_env *e) {
    if (e->gpu) {
        assert_avf_ok(avf_stream_synchronize(e->gpu_stream));
        avf_op_ctx_release(&e->gpu_ctx);
        assert_avf_ok(avf_pool_release_stream(e->gpu_pool, e->gpu_stream));
        avf_stream_free(e->gpu_stream);
        avf_pool_free_all(e->gpu_pool);
    }
    avf_op_ctx_release(&e->cpu_ctx);
    avf_pool_free_all(e->cpu_pool);
    avf_ops_release_caches();
    memset(e, 0, sizeof *e);
}

/* Deterministic per-test PRNG (xorshift64*), uniform in [lo, hi). */
static inline double avf_test_rand(uint64_t *s, double lo, double hi) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    double u = (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

static inline void avf_test_fill_f32(float *v, int64_t n, uint64_t *seed, double lo, double hi) {
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)avf_test_rand(seed, lo, hi);
}

/* A tensor of `dtype` and shape on ctx's device, owned, from ctx's pool;
 * filled from host bytes when `host` is non-NULL. */
static inline void avf_test_tensor(const avf_op_ctx *ctx, avf_tensor *t, avf_dtype dtype, int ndim,
                                   const int64_t *shape, const void *host) {
    assert_avf_ok(avf_tensor_alloc(t, ctx->pool, dtype, ndim, shape, ctx->stream));
    size_t n = avf_tensor_nbytes(t);
    if (host && n)
        assert_avf_ok(avf_memcpy_async(ctx->dev, t->data, host, n,
                                       avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_H2D,
                                       ctx->stream, "test"));
    else if (n) /* poison, so unwritten outputs show */
        assert_avf_ok(avf_memset_async(ctx->dev, t->data, 0xC3, n, ctx->stream));
}

/* Copy a tensor's bytes to host memory (synchronizing ctx's stream). */
static inline void avf_test_read(const avf_op_ctx *ctx, const avf_tensor *t, void *host) {
    size_t n = avf_tensor_nbytes(t);
    if (n)
        assert_avf_ok(avf_memcpy_async(ctx->dev, host, t->data, n,
                                       avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_D2H,
                                       ctx->stream, "test"));
    if (ctx->stream)
        assert_avf_ok(avf_stream_synchronize(ctx->stream));
    else
        assert_avf_ok(avf_device_synchronize(ctx->dev));
}

/* ||got - want|| / ||want|| over n values, `want` given in double (want_d)
 * or in float (want_f). NaN in one but not the other -> +inf; two zero
 * vectors -> 0. */
static inline double avf_test_rel_err_any(const float *got, const double *want_d,
                                          const float *want_f, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double w = want_d ? want_d[i] : (double)want_f[i];
        if (isnan(got[i]) != isnan(w))
            return INFINITY;
        if (isnan(w))
            continue;
        double d = (double)got[i] - w;
        num += d * d;
        den += w * w;
    }
    if (den == 0.0)
        return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

static inline double avf_test_rel_err(const float *got, const double *want, int64_t n) {
    return avf_test_rel_err_any(got, want, NULL, n);
}

static inline double avf_test_rel_err_f32(const float *got, const float *want, int64_t n) {
    return avf_test_rel_err_any(got, NULL, want, n);
}

#define assert_rel_err_below(err, tol)                                                   \
    do {                                                                                 \
        double e_ = (err);                                                               \
        if (!(e_ <= (tol)))                                                              \
            print_error("relative error %.3g exceeds %.3g\n", e_, (double)(tol));        \
        assert_true(e_ <= (tol));                                                        \
    } while (0)

#endif /* AVF_OP_TEST_UTIL_H */
