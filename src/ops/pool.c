/* AveragePool / MaxPool (and their Global forms): geometry, shape, dispatch. */
#include <string.h>

#include "core/error.h"
#include "ops/conv.h"
#include "ops/cpu/conv_cpu.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/conv_cuda.h"
#endif

static const char *pool_name(const avf_pool_params *p) {
    return p->kind == AVF_POOL_MAX ? "MaxPool" : "AveragePool";
}

avf_status avf_pool_geometry(const avf_pool_params *p, int xnd, const int64_t *x,
                             avf_conv_geom *g) {
    AVF_CHECK_ARG(p != NULL && x != NULL && g != NULL);
    const char *op = pool_name(p);
    if (p->nsp < 1 || p->nsp > AVF_CONV_MAX_SP)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: %d spatial dims (1 to %d supported)", op,
                        p->nsp, AVF_CONV_MAX_SP);
    if (xnd != p->nsp + 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X has rank %d, expected %d (N, C and %d "
                        "spatial)", op, xnd, p->nsp + 2, p->nsp);
    for (int i = 0; i < xnd; i++)
        if (x[i] < (i < 2 ? 0 : 1) || x[i] > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X dim %d is %lld", op, i, (long long)x[i]);
    memset(g, 0, sizeof *g);
    for (int i = 0; i < AVF_CONV_MAX_SP; i++) {
        g->in[i] = g->k[i] = g->out[i] = g->stride[i] = g->dil[i] = 1;
        g->pad_b[i] = g->pad_e[i] = 0;
    }
    g->nsp = p->nsp;
    g->n = x[0];
    g->c_in = g->c_out = x[1];
    g->group = 1;
    int off = AVF_CONV_MAX_SP - p->nsp;
    for (int i = 0; i < p->nsp; i++) {
        int j = off + i;
        int64_t in = x[2 + i];
        g->in[j] = in;
        if (p->global) {
            g->k[j] = in; /* stride, dilation, pads stay 1, 1, 0: one window */
            continue;
        }
        int64_t s = p->strides[i], d = p->dilations[i];
        if (s < 1 || d < 1 || s > (1 << 24) || d > (1 << 24))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: stride %lld, dilation %lld on spatial dim "
                            "%d", op, (long long)s, (long long)d, i);
        g->k[j] = p->kernel[i];
        g->stride[j] = s;
        g->dil[j] = d;
        AVF_TRY(avf_conv_dim(op, i, in, p->kernel[i], s, d, p->auto_pad, p->pads[i],
                             p->pads[p->nsp + i], p->ceil_mode, &g->out[j], &g->pad_b[j],
                             &g->pad_e[j]));
    }
    return AVF_OK;
}

avf_status avf_pool_shape(const avf_pool_params *p, int xnd, const int64_t *x, int *ynd,
                          int64_t *y) {
    AVF_CHECK_ARG(ynd != NULL && y != NULL);
    avf_conv_geom g;
    AVF_TRY(avf_pool_geometry(p, xnd, x, &g));
    *ynd = xnd;
    y[0] = x[0];
    y[1] = x[1];
    for (int i = 0; i < p->nsp; i++)
        y[2 + i] = g.out[AVF_CONV_MAX_SP - p->nsp + i];
    return AVF_OK;
}

static avf_status pool_any(avf_op_ctx *ctx, const avf_pool_params *p, const avf_tensor *x,
                           avf_tensor *y, avf_tensor *ind) {
    static const avf_dtype max_dts[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16,
                                        AVF_DTYPE_I8, AVF_DTYPE_U8};
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "X"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Y"));
    AVF_TRY(avf_op_check_dtype(x, "X", max_dts, p->kind == AVF_POOL_MAX ? 5 : 3));
    if (y->dtype != x->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: Y is %s, X is %s", pool_name(p),
                        avf_dtype_name(y->dtype), avf_dtype_name(x->dtype));
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    AVF_TRY(avf_pool_shape(p, x->ndim, x->shape, &ynd, ys));
    AVF_TRY(avf_op_check_shape(y, "Y", ynd, ys));
    if (ind) {
        static const avf_dtype i64[] = {AVF_DTYPE_I64};
        if (p->kind != AVF_POOL_MAX)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "AveragePool has no Indices output");
        AVF_TRY(avf_op_check_tensor(ctx, ind, "Indices"));
        AVF_TRY(avf_op_check_dtype(ind, "Indices", i64, 1));
        AVF_TRY(avf_op_check_shape(ind, "Indices", ynd, ys));
    }
    avf_conv_geom g;
    AVF_TRY(avf_pool_geometry(p, x->ndim, x->shape, &g));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_pool(ctx, p, &g, x, y, ind);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_pool(ctx, p, &g, x, y, ind);
#else
    return AVF_OP_NO_CUDA(pool_name(p));
#endif
}

avf_status avf_op_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_tensor *x,
                       avf_tensor *y) {
    return pool_any(ctx, p, x, y, NULL);
}

avf_status avf_op_pool_indices(avf_op_ctx *ctx, const avf_pool_params *p, const avf_tensor *x,
                               avf_tensor *y, avf_tensor *ind) {
    AVF_CHECK_ARG(ind != NULL);
    return pool_any(ctx, p, x, y, ind);
}
