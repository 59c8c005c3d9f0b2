/* Shape functions and dispatch of LayerNormalization and BatchNormalization
 * (inference, and training_mode=1 with batch statistics); kernels in ops/cpu/norm.c and ops/cuda/norm.cu. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/reduce_cpu.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/reduce.h"

#ifdef AVF_HAVE_CUDA
#define AVF_DISPATCH(ctx, name, ...) \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__) : avf_cuda_##name(ctx, __VA_ARGS__))
#else
#define AVF_DISPATCH(ctx, name, ...) \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__) : AVF_OP_NO_CUDA(#name))
#endif

/* Shapes equal once leading 1s are dropped (so [1, 4] matches [4]). */
static int same_core_shape(int na, const int64_t *a, int nb, const int64_t *b) {
    while (na > 0 && a[0] == 1) {
        a++;
        na--;
    }
    while (nb > 0 && b[0] == 1) {
        b++;
        nb--;
    }
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static avf_status check_affine(const char *what, const avf_tensor *t, const avf_tensor *x,
                               int axis) {
    if (t->dtype != x->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "LayerNormalization: %s is %s, X is %s", what,
                        avf_dtype_name(t->dtype), avf_dtype_name(x->dtype));
    if (t->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "LayerNormalization: %s has rank %d", what, t->ndim);
    if (avf_tensor_numel(t) == 1 ||
        same_core_shape(t->ndim, t->shape, x->ndim - axis, x->shape + axis))
        return AVF_OK;
    char b1[160], b2[160];
    return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                    "LayerNormalization: %s %s must match X's normalized dims (X %s, axis %d) "
                    "or hold one value",
                    what, avf_tensor_describe(t, b1, sizeof b1), avf_tensor_describe(x, b2, sizeof b2),
                    axis);
}

avf_status avf_layernorm_shape(const avf_layernorm_params *p, const avf_tensor *x,
                               const avf_tensor *scale, const avf_tensor *bias, int *stat_ndim,
                               int64_t *stat_dims) {
    AVF_CHECK_ARG(p != NULL && x != NULL && scale != NULL && stat_ndim && stat_dims);
    if (x->ndim < 1 || x->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "LayerNormalization: X has rank %d", x->ndim);
    if (x->dtype != AVF_DTYPE_F32 && x->dtype != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "LayerNormalization: dtype %s is not supported",
                        avf_dtype_name(x->dtype));
    int a;
    if (avf_norm_axis(p->axis, x->ndim, &a) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "LayerNormalization: axis %lld is outside [-%d, %d)",
                        (long long)p->axis, x->ndim, x->ndim);
    if (!(p->epsilon >= 0.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "LayerNormalization: epsilon %g is negative or NaN",
                        (double)p->epsilon);
    AVF_TRY(check_affine("Scale", scale, x, a));
    if (bias)
        AVF_TRY(check_affine("B", bias, x, a));
    for (int d = 0; d < x->ndim; d++)
        stat_dims[d] = d < a ? x->shape[d] : 1;
    *stat_ndim = x->ndim;
    return AVF_OK;
}

avf_status avf_op_layernorm(avf_op_ctx *ctx, const avf_layernorm_params *p, const avf_tensor *x,
                            const avf_tensor *scale, const avf_tensor *bias, avf_tensor *y,
                            avf_tensor *mean, avf_tensor *inv_std) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "LayerNormalization X"));
    AVF_TRY(avf_op_check_tensor(ctx, scale, "LayerNormalization Scale"));
    if (bias)
        AVF_TRY(avf_op_check_tensor(ctx, bias, "LayerNormalization B"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "LayerNormalization Y"));
    int snd;
    int64_t sd[AVF_MAX_DIMS];
    AVF_TRY(avf_layernorm_shape(p, x, scale, bias, &snd, sd));
    AVF_TRY(avf_op_check_dtype(y, "LayerNormalization Y", &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "LayerNormalization Y", x->ndim, x->shape));
    static const avf_dtype f32 = AVF_DTYPE_F32;
    avf_tensor *stats[2] = {mean, inv_std};
    static const char *const names[2] = {"LayerNormalization Mean", "LayerNormalization InvStdDev"};
    for (int i = 0; i < 2; i++) {
        if (!stats[i])
            continue;
        AVF_TRY(avf_op_check_tensor(ctx, stats[i], names[i]));
        AVF_TRY(avf_op_check_dtype(stats[i], names[i], &f32, 1));
        AVF_TRY(avf_op_check_shape(stats[i], names[i], snd, sd));
    }
    int a;
    AVF_TRY(avf_norm_axis(p->axis, x->ndim, &a));
    int64_t rows = 1, n = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < a)
            rows *= x->shape[d];
        else
            n *= x->shape[d];
    }
    if (rows == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, layernorm, rows, n, p->epsilon, x, scale, bias, y, mean, inv_std);
}

/* ---------------------------------------------------------------- BatchNormalization */

avf_status avf_batchnorm_shape(const avf_batchnorm_params *p, const avf_tensor *x,
                               const avf_tensor *scale, const avf_tensor *bias,
                               const avf_tensor *mean, const avf_tensor *var) {
    AVF_CHECK_ARG(p != NULL && x != NULL && scale && bias && mean && var);
    if (x->ndim < 2 || x->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "BatchNormalization: X has rank %d, expected [N, C, ...]", x->ndim);
    if (x->dtype != AVF_DTYPE_F32 && x->dtype != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "BatchNormalization: dtype %s is not supported",
                        avf_dtype_name(x->dtype));
    if (!(p->epsilon >= 0.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "BatchNormalization: epsilon %g is negative or NaN",
                        (double)p->epsilon);
    const avf_tensor *ps[4] = {scale, bias, mean, var};
    static const char *const names[4] = {"scale", "B", "input_mean", "input_var"};
    int64_t c = x->shape[1];
    for (int i = 0; i < 4; i++) {
        if (ps[i]->dtype != AVF_DTYPE_F32 && ps[i]->dtype != x->dtype)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "BatchNormalization: %s is %s (X is %s)",
                            names[i], avf_dtype_name(ps[i]->dtype), avf_dtype_name(x->dtype));
        if (ps[i]->ndim != 1 || ps[i]->shape[0] != c) {
            char b[160];
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "BatchNormalization: %s is %s, expected [%lld]",
                            names[i], avf_tensor_describe(ps[i], b, sizeof b), (long long)c);
        }
    }
    return AVF_OK;
}

avf_status avf_op_batchnorm(avf_op_ctx *ctx, const avf_batchnorm_params *p, const avf_tensor *x,
                            const avf_tensor *scale, const avf_tensor *bias,
                            const avf_tensor *mean, const avf_tensor *var, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "BatchNormalization X"));
    AVF_TRY(avf_op_check_tensor(ctx, scale, "BatchNormalization scale"));
    AVF_TRY(avf_op_check_tensor(ctx, bias, "BatchNormalization B"));
    AVF_TRY(avf_op_check_tensor(ctx, mean, "BatchNormalization input_mean"));
    AVF_TRY(avf_op_check_tensor(ctx, var, "BatchNormalization input_var"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "BatchNormalization Y"));
    AVF_TRY(avf_batchnorm_shape(p, x, scale, bias, mean, var));
    AVF_TRY(avf_op_check_dtype(y, "BatchNormalization Y", &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "BatchNormalization Y", x->ndim, x->shape));
    int64_t spatial = 1;
    for (int d = 2; d < x->ndim; d++)
        spatial *= x->shape[d];
    if (avf_tensor_numel(x) == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, batchnorm, x->shape[0], x->shape[1], spatial, p->epsilon, x, scale,
                        bias, mean, var, y);
}

avf_status avf_op_batchnorm_train(avf_op_ctx *ctx, const avf_batchnorm_params *p,
                                  const avf_tensor *x, const avf_tensor *scale,
                                  const avf_tensor *bias, const avf_tensor *mean,
                                  const avf_tensor *var, avf_tensor *y, avf_tensor *run_mean,
                                  avf_tensor *run_var) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "BatchNormalization X"));
    AVF_TRY(avf_op_check_tensor(ctx, scale, "BatchNormalization scale"));
    AVF_TRY(avf_op_check_tensor(ctx, bias, "BatchNormalization B"));
    AVF_TRY(avf_op_check_tensor(ctx, mean, "BatchNormalization input_mean"));
    AVF_TRY(avf_op_check_tensor(ctx, var, "BatchNormalization input_var"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "BatchNormalization Y"));
    AVF_TRY(avf_batchnorm_shape(p, x, scale, bias, mean, var));
    AVF_TRY(avf_op_check_dtype(y, "BatchNormalization Y", &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "BatchNormalization Y", x->ndim, x->shape));
    if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "BatchNormalization: momentum %g is outside [0, 1]",
                        (double)p->momentum);
    const avf_tensor *src[2] = {mean, var};
    avf_tensor *run[2] = {run_mean, run_var};
    static const char *const names[2] = {"running_mean", "running_var"};
    for (int i = 0; i < 2; i++)
        if (run[i]) {
            AVF_TRY(avf_op_check_tensor(ctx, run[i], names[i]));
            AVF_TRY(avf_op_check_dtype(run[i], names[i], &src[i]->dtype, 1));
            AVF_TRY(avf_op_check_shape(run[i], names[i], 1, src[i]->shape));
        }
    int64_t spatial = 1, c = x->shape[1];
    for (int d = 2; d < x->ndim; d++)
        spatial *= x->shape[d];
    if (c == 0)
        return AVF_OK;
    if (x->shape[0] == 0 || spatial == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "BatchNormalization: training_mode=1 on an empty "
                        "batch (no statistics to take)");
    avf_tensor bmean = {0}, bvar = {0};
    avf_status st = avf_tensor_alloc(&bmean, ctx->pool, AVF_DTYPE_F32, 1, &c, ctx->stream);
    if (st == AVF_OK)
        st = avf_tensor_alloc(&bvar, ctx->pool, AVF_DTYPE_F32, 1, &c, ctx->stream);
    if (st == AVF_OK)
        st = AVF_DISPATCH(ctx, batchnorm_stats, x->shape[0], c, spatial, p->momentum, x, mean,
                          var, &bmean, &bvar, run_mean, run_var);
    if (st == AVF_OK)
        st = AVF_DISPATCH(ctx, batchnorm, x->shape[0], c, spatial, p->epsilon, x, scale, bias,
                          &bmean, &bvar, y);
    avf_tensor_release(&bmean, ctx->stream);
    avf_tensor_release(&bvar, ctx->stream);
    return st;
}
