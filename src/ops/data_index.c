/* Indexing ops: Gather, ScatterND, NonZero. */
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/data_cuda.h"
#endif

static const avf_dtype idx_types[] = {AVF_DTYPE_I64, AVF_DTYPE_I32};

/* ---------------------------------------------------------------- Gather */

avf_status avf_gather_shape(const avf_gather_params *p, const avf_tensor *x,
                            const avf_tensor *indices, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && indices && y);
    if (x->ndim < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gather: data must have rank >= 1");
    AVF_TRY(avf_op_check_dtype(indices, "Gather indices", idx_types, 2));
    int axis;
    AVF_TRY(avf_norm_axis(p->axis, x->ndim, &axis));
    int r = x->ndim - 1 + indices->ndim;
    if (r > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Gather: output rank %d (at most %d)", r,
                        AVF_MAX_DIMS);
    y->dtype = x->dtype;
    y->ndim = r;
    int o = 0;
    for (int d = 0; d < axis; d++)
        y->shape[o++] = x->shape[d];
    for (int d = 0; d < indices->ndim; d++)
        y->shape[o++] = indices->shape[d];
    for (int d = axis + 1; d < x->ndim; d++)
        y->shape[o++] = x->shape[d];
    int64_t numel;
    return avf_shape_numel(y->ndim, y->shape, &numel);
}

avf_status avf_op_gather(avf_op_ctx *ctx, const avf_gather_params *p, const avf_tensor *x,
                         const avf_tensor *indices, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Gather data"));
    AVF_TRY(avf_op_check_tensor(ctx, indices, "Gather indices"));
    avf_tensor want;
    AVF_TRY(avf_gather_shape(p, x, indices, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Gather output"));
    int axis = (int)(p->axis < 0 ? p->axis + x->ndim : p->axis);
    avf_gather_geom g;
    g.elem_size = (int)avf_dtype_size(x->dtype);
    g.idx_i64 = indices->dtype == AVF_DTYPE_I64;
    g.outer = 1;
    for (int d = 0; d < axis; d++)
        g.outer *= x->shape[d];
    g.axis_dim = x->shape[axis];
    g.inner = 1;
    for (int d = axis + 1; d < x->ndim; d++)
        g.inner *= x->shape[d];
    g.nidx = avf_tensor_numel(indices);
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_gather(&g, x->data, indices->data, y->data);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_gather(ctx, &g, x->data, indices->data, y->data);
#else
    return AVF_OP_NO_CUDA("Gather");
#endif
}

/* ---------------------------------------------------------------- ScatterND */

avf_status avf_scatternd_shape(const avf_scatternd_params *p, const avf_tensor *data,
                               const avf_tensor *indices, const avf_tensor *updates,
                               avf_tensor *y) {
    AVF_CHECK_ARG(p && data && indices && updates && y);
    if (p->reduction < AVF_SCATTER_NONE || p->reduction > AVF_SCATTER_MIN)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ScatterND: unknown reduction %d", p->reduction);
    if (indices->dtype != AVF_DTYPE_I64)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ScatterND: indices are %s, expected i64",
                        avf_dtype_name(indices->dtype));
    if (data->ndim < 1 || indices->ndim < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ScatterND: data and indices need rank >= 1");
    if (updates->dtype != data->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ScatterND: updates are %s, data %s",
                        avf_dtype_name(updates->dtype), avf_dtype_name(data->dtype));
    int64_t k = indices->shape[indices->ndim - 1];
    if (k < 1 || k > data->ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ScatterND: index tuples of %lld for data rank %d",
                        (long long)k, data->ndim);
    /* updates.shape == indices.shape[:-1] + data.shape[k:] */
    int want_rank = indices->ndim - 1 + data->ndim - (int)k;
    int ok = updates->ndim == want_rank;
    for (int d = 0; ok && d < indices->ndim - 1; d++)
        ok = updates->shape[d] == indices->shape[d];
    for (int d = 0; ok && d < data->ndim - (int)k; d++)
        ok = updates->shape[indices->ndim - 1 + d] == data->shape[k + d];
    if (!ok)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "ScatterND: updates shape does not match indices[:-1] + data[k:]");
    if (p->reduction != AVF_SCATTER_NONE && data->dtype == AVF_DTYPE_BOOL)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "ScatterND: reductions on bool");
    y->dtype = data->dtype;
    y->ndim = data->ndim;
    memcpy(y->shape, data->shape, sizeof data->shape);
    return AVF_OK;
}

avf_status avf_op_scatternd(avf_op_ctx *ctx, const avf_scatternd_params *p,
                            const avf_tensor *data, const avf_tensor *indices,
                            const avf_tensor *updates, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, data, "ScatterND data"));
    AVF_TRY(avf_op_check_tensor(ctx, indices, "ScatterND indices"));
    AVF_TRY(avf_op_check_tensor(ctx, updates, "ScatterND updates"));
    avf_tensor want;
    AVF_TRY(avf_scatternd_shape(p, data, indices, updates, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "ScatterND output"));
    size_t nbytes = avf_tensor_nbytes(y);
    if (nbytes && y->data != data->data)
        AVF_TRY(avf_memcpy_async(ctx->dev, y->data, data->data, nbytes,
                                 avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_D2D,
                                 ctx->stream, "scatternd"));
    avf_scatter_geom g;
    memset(&g, 0, sizeof g);
    g.dtype = data->dtype;
    g.reduction = p->reduction;
    g.k = (int)indices->shape[indices->ndim - 1];
    int64_t ds[AVF_MAX_DIMS];
    avf_contiguous_strides(data->ndim, data->shape, ds);
    for (int d = 0; d < g.k; d++) {
        g.dims[d] = data->shape[d];
        g.stride[d] = ds[d];
    }
    g.nupd = avf_tensor_numel(indices) / g.k;
    g.slice = 1;
    for (int d = g.k; d < data->ndim; d++)
        g.slice *= data->shape[d];
    if (g.nupd == 0 || g.slice == 0 || nbytes == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_scatternd(&g, indices->data, updates->data, y->data);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_scatternd(ctx, &g, indices->data, updates->data, y->data);
#else
    return AVF_OP_NO_CUDA("ScatterND");
#endif
}

/* ---------------------------------------------------------------- NonZero */

avf_status avf_op_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && y);
    AVF_TRY(avf_op_check_tensor(ctx, x, "NonZero input"));
    if (avf_dtype_size(x->dtype) == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "NonZero: invalid dtype");
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_nonzero(ctx, x, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_nonzero(ctx, x, y);
#else
    return AVF_OP_NO_CUDA("NonZero");
#endif
}
