/* QuantizeLinear and DequantizeLinear: per-tensor and per-axis, 8-bit. */
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/data_cuda.h"
#endif

static const avf_dtype float_types[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16};
static const avf_dtype q_types[] = {AVF_DTYPE_U8, AVF_DTYPE_I8};
static const avf_dtype dq_types[] = {AVF_DTYPE_U8, AVF_DTYPE_I8, AVF_DTYPE_I32};

/* Scale (and zero point) are a scalar / one element, or 1-D along axis. */
static avf_status quant_geom(const char *op, const avf_quant_params *p, const avf_tensor *x,
                             const avf_tensor *scale, const avf_tensor *zp, avf_quant_geom *g) {
    memset(g, 0, sizeof *g);
    g->xt = x->dtype;
    g->st = scale->dtype;
    int64_t sn;
    AVF_TRY(avf_shape_numel(scale->ndim, scale->shape, &sn));
    AVF_TRY(avf_shape_numel(x->ndim, x->shape, &g->n));
    g->axis_dim = 1;
    g->inner = 1;
    if (sn != 1) { /* one scale per index of axis */
        int axis;
        if (scale->ndim != 1)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: scale of rank %d (block quantization)",
                            op, scale->ndim);
        if (x->ndim == 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: a 1-D scale for a scalar input", op);
        AVF_TRY(avf_norm_axis(p->axis, x->ndim, &axis));
        if (scale->shape[0] != x->shape[axis])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %lld scales for axis %d of %lld", op,
                            (long long)sn, axis, (long long)x->shape[axis]);
        g->per_axis = 1;
        g->axis_dim = x->shape[axis];
        for (int d = axis + 1; d < x->ndim; d++)
            g->inner *= x->shape[d];
    }
    if (zp) {
        int64_t zn;
        AVF_TRY(avf_shape_numel(zp->ndim, zp->shape, &zn));
        if (zn != sn)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %lld zero points for %lld scales", op,
                            (long long)zn, (long long)sn);
        g->has_zp = 1;
        g->zt = zp->dtype;
    }
    return AVF_OK;
}

avf_status avf_quantize_shape(const avf_quant_params *p, const avf_tensor *x,
                              const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && scale && y);
    AVF_TRY(avf_op_check_dtype(x, "QuantizeLinear input", float_types, 3));
    AVF_TRY(avf_op_check_dtype(scale, "QuantizeLinear scale", float_types, 3));
    avf_dtype yt = p->out_dtype;
    if (zp) {
        AVF_TRY(avf_op_check_dtype(zp, "QuantizeLinear zero point", q_types, 2));
        yt = zp->dtype;
    } else if (yt != AVF_DTYPE_U8 && yt != AVF_DTYPE_I8) {
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "QuantizeLinear: output dtype %s",
                        avf_dtype_name(yt));
    }
    avf_quant_geom g;
    AVF_TRY(quant_geom("QuantizeLinear", p, x, scale, zp, &g));
    y->dtype = yt;
    y->ndim = x->ndim;
    memcpy(y->shape, x->shape, sizeof x->shape);
    return AVF_OK;
}

avf_status avf_dequantize_shape(const avf_quant_params *p, const avf_tensor *x,
                                const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && scale && y);
    AVF_TRY(avf_op_check_dtype(x, "DequantizeLinear input", dq_types, 3));
    AVF_TRY(avf_op_check_dtype(scale, "DequantizeLinear scale", float_types, 3));
    if (zp && zp->dtype != x->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "DequantizeLinear: zero point is %s, input %s",
                        avf_dtype_name(zp->dtype), avf_dtype_name(x->dtype));
    avf_quant_geom g;
    AVF_TRY(quant_geom("DequantizeLinear", p, x, scale, zp, &g));
    y->dtype = scale->dtype;
    y->ndim = x->ndim;
    memcpy(y->shape, x->shape, sizeof x->shape);
    return AVF_OK;
}

static avf_status quant_run(avf_op_ctx *ctx, int dequant, const avf_quant_params *p,
                            const avf_tensor *x, const avf_tensor *scale, const avf_tensor *zp,
                            avf_tensor *y) {
    const char *op = dequant ? "DequantizeLinear" : "QuantizeLinear";
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, op));
    AVF_TRY(avf_op_check_tensor(ctx, scale, op));
    if (zp)
        AVF_TRY(avf_op_check_tensor(ctx, zp, op));
    avf_tensor want;
    if (dequant)
        AVF_TRY(avf_dequantize_shape(p, x, scale, zp, &want));
    else
        AVF_TRY(avf_quantize_shape(p, x, scale, zp, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, op));
    avf_quant_geom g;
    AVF_TRY(quant_geom(op, p, x, scale, zp, &g));
    g.yt = y->dtype;
    if (g.n == 0)
        return AVF_OK;
    const void *zd = zp ? zp->data : NULL;
    if (avf_op_device_is_cpu(ctx)) {
        if (dequant)
            avf_cpu_dequantize(&g, x->data, scale->data, zd, y->data);
        else
            avf_cpu_quantize(&g, x->data, scale->data, zd, y->data);
        return AVF_OK;
    }
#ifdef AVF_HAVE_CUDA
    return dequant ? avf_cuda_dequantize(ctx, &g, x->data, scale->data, zd, y->data)
                   : avf_cuda_quantize(ctx, &g, x->data, scale->data, zd, y->data);
#else
    return AVF_OP_NO_CUDA(op);
#endif
}

avf_status avf_op_quantize(avf_op_ctx *ctx, const avf_quant_params *p, const avf_tensor *x,
                           const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y) {
    return quant_run(ctx, 0, p, x, scale, zp, y);
}

avf_status avf_op_dequantize(avf_op_ctx *ctx, const avf_quant_params *p, const avf_tensor *x,
                             const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y) {
    return quant_run(ctx, 1, p, x, scale, zp, y);
}
