/* Shape functions and dispatch of the reduce family: Reduce*, ArgMax,
 * Softmax/LogSoftmax, GlobalAveragePool, CumSum, TopK (normalization ops
 * are in ops/norm.c). */
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

static const char *const reduce_names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"};

static avf_status check_rank(const char *op, int ndim) {
    if (ndim < 0 || ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: rank %d is outside [0, %d]", op, ndim,
                        AVF_MAX_DIMS);
    return AVF_OK;
}

/* Which dims a reduce touches; *identity when it is a copy (noop). */
static avf_status reduce_mask(const avf_reduce_params *p, int ndim, int *mask, int *identity) {
    const char *op = reduce_names[p->kind];
    memset(mask, 0, sizeof(int) * AVF_MAX_DIMS);
    *identity = 0;
    if (p->n_axes < 0 || p->n_axes > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %d axes (at most %d)", op, p->n_axes,
                        AVF_MAX_DIMS);
    if (p->n_axes == 0) {
        if (p->noop_with_empty_axes)
            *identity = 1;
        else
            for (int d = 0; d < ndim; d++)
                mask[d] = 1;
        return AVF_OK;
    }
    for (int i = 0; i < p->n_axes; i++) {
        int a;
        if (avf_norm_axis(p->axes[i], ndim, &a) != AVF_OK)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: axis %lld is outside [-%d, %d)", op,
                            (long long)p->axes[i], ndim, ndim);
        if (mask[a])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: axis %lld is repeated", op,
                            (long long)p->axes[i]);
        mask[a] = 1;
    }
    return AVF_OK;
}

avf_status avf_reduce_shape(const avf_reduce_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims, avf_dtype *out_dt, int *out_ndim,
                            int64_t *out_dims) {
    AVF_CHECK_ARG(p != NULL && (ndim == 0 || dims != NULL) && out_dt && out_ndim && out_dims);
    if ((unsigned)p->kind >= AVF_REDUCE_KIND_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "reduce: unknown kind %d", (int)p->kind);
    const char *op = reduce_names[p->kind];
    AVF_TRY(check_rank(op, ndim));
    int ok = dt == AVF_DTYPE_F32 || dt == AVF_DTYPE_F16 ||
             (dt == AVF_DTYPE_I64 && p->kind != AVF_REDUCE_MEAN);
    if (!ok)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op,
                        avf_dtype_name(dt));
    int mask[AVF_MAX_DIMS], identity;
    AVF_TRY(reduce_mask(p, ndim, mask, &identity));
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (!mask[d])
            out_dims[n++] = dims[d];
        else if (p->keepdims)
            out_dims[n++] = 1;
    }
    *out_ndim = n;
    *out_dt = dt;
    return AVF_OK;
}

void avf_reduce_view_make(int ndim, const int64_t *dims, const int *reduced, avf_reduce_view *v) {
    memset(v, 0, sizeof *v);
    /* merged dims, outer to inner; a size-1 dim is dropped (it moves no
     * index), size-0 dims stay so m or r come out 0 */
    int64_t size[AVF_MAX_DIMS], stride[AVF_MAX_DIMS];
    int red[AVF_MAX_DIMS], nd = 0;
    int64_t st = 1;
    int64_t dstride[AVF_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; d--) {
        dstride[d] = st;
        st *= dims[d] > 0 ? dims[d] : 1;
    }
    for (int d = 0; d < ndim; d++) {
        if (dims[d] == 1)
            continue;
        int r = reduced[d] != 0;
        if (nd > 0 && red[nd - 1] == r && stride[nd - 1] == dims[d] * dstride[d] &&
            dims[d] != 0 && size[nd - 1] != 0) {
            size[nd - 1] *= dims[d];
            stride[nd - 1] = dstride[d];
        } else {
            size[nd] = dims[d];
            stride[nd] = dstride[d];
            red[nd] = r;
            nd++;
        }
    }
    v->m = 1;
    v->r = 1;
    for (int i = 0; i < nd; i++) {
        if (red[i]) {
            v->r_size[v->nr] = size[i];
            v->r_stride[v->nr++] = stride[i];
            v->r *= size[i];
        } else {
            v->k_size[v->nk] = size[i];
            v->k_stride[v->nk++] = stride[i];
            v->m *= size[i];
        }
    }
    v->inner_reduced = nd > 0 && red[nd - 1];
}

static avf_status check_io(avf_op_ctx *ctx, const avf_tensor *x, const avf_tensor *y,
                           const char *op) {
    AVF_CHECK_ARG(ctx != NULL);
    char wx[64], wy[64];
    snprintf(wx, sizeof wx, "%s input", op);
    snprintf(wy, sizeof wy, "%s output", op);
    AVF_TRY(avf_op_check_tensor(ctx, x, wx));
    AVF_TRY(avf_op_check_tensor(ctx, y, wy));
    return AVF_OK;
}

static avf_status check_out(const avf_tensor *y, const char *op, avf_dtype dt, int ndim,
                            const int64_t *dims) {
    char w[64];
    snprintf(w, sizeof w, "%s output", op);
    AVF_TRY(avf_op_check_dtype(y, w, &dt, 1));
    return avf_op_check_shape(y, w, ndim, dims);
}

avf_status avf_op_reduce(avf_op_ctx *ctx, const avf_reduce_params *p, const avf_tensor *x,
                         avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && (unsigned)p->kind < AVF_REDUCE_KIND_COUNT);
    const char *op = reduce_names[p->kind];
    AVF_TRY(check_io(ctx, x, y, op));
    avf_dtype odt;
    int ond;
    int64_t od[AVF_MAX_DIMS];
    AVF_TRY(avf_reduce_shape(p, x->dtype, x->ndim, x->shape, &odt, &ond, od));
    AVF_TRY(check_out(y, op, odt, ond, od));
    int mask[AVF_MAX_DIMS], identity;
    AVF_TRY(reduce_mask(p, x->ndim, mask, &identity));
    if (identity) {
        size_t n = avf_tensor_nbytes(x);
        if (n == 0 || x->data == y->data)
            return AVF_OK;
        return avf_memcpy_async(ctx->dev, y->data, x->data, n,
                                avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_D2D,
                                ctx->stream, "reduce");
    }
    avf_reduce_view v;
    avf_reduce_view_make(x->ndim, x->shape, mask, &v);
    if (v.m == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, reduce, p->kind, &v, x, y);
}

/* ---------------------------------------------------------------- single-axis views */

avf_status avf_axis_view(int ndim, const int64_t *dims, int64_t axis, int legacy,
                         int64_t *outer, int64_t *n, int64_t *inner) {
    int a;
    if (legacy) {
        /* opset < 13 Softmax: axis may equal ndim (then the rows are empty
         * products, i.e. one element each) */
        if (axis < -(int64_t)ndim || axis > (int64_t)ndim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "axis %lld is outside [-%d, %d]",
                            (long long)axis, ndim, ndim);
        a = (int)(axis < 0 ? axis + ndim : axis);
    } else {
        if (ndim == 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "a scalar has no axis %lld", (long long)axis);
        AVF_TRY(avf_norm_axis(axis, ndim, &a));
    }
    int64_t o = 1, m = 1, i = 1;
    for (int d = 0; d < ndim; d++) {
        if (d < a)
            o *= dims[d];
        else if (d == a || legacy)
            m *= dims[d];
        else
            i *= dims[d];
    }
    *outer = o;
    *n = m;
    *inner = i;
    return AVF_OK;
}

/* ---------------------------------------------------------------- ArgMax */

avf_status avf_argmax_shape(const avf_argmax_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims, int *out_ndim, int64_t *out_dims) {
    AVF_CHECK_ARG(p != NULL && (ndim == 0 || dims != NULL) && out_ndim && out_dims);
    AVF_TRY(check_rank("ArgMax", ndim));
    if (dt != AVF_DTYPE_F32 && dt != AVF_DTYPE_F16 && dt != AVF_DTYPE_I64)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "ArgMax: dtype %s is not supported",
                        avf_dtype_name(dt));
    int a;
    if (ndim == 0 || avf_norm_axis(p->axis, ndim, &a) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ArgMax: axis %lld is outside [-%d, %d)",
                        (long long)p->axis, ndim, ndim);
    if (dims[a] == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ArgMax: axis %d is empty", a);
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (d != a)
            out_dims[n++] = dims[d];
        else if (p->keepdims)
            out_dims[n++] = 1;
    }
    *out_ndim = n;
    return AVF_OK;
}

avf_status avf_op_argmax(avf_op_ctx *ctx, const avf_argmax_params *p, const avf_tensor *x,
                         avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL);
    AVF_TRY(check_io(ctx, x, y, "ArgMax"));
    int ond;
    int64_t od[AVF_MAX_DIMS];
    AVF_TRY(avf_argmax_shape(p, x->dtype, x->ndim, x->shape, &ond, od));
    AVF_TRY(check_out(y, "ArgMax", AVF_DTYPE_I64, ond, od));
    int64_t outer, n, inner;
    AVF_TRY(avf_axis_view(x->ndim, x->shape, p->axis, 0, &outer, &n, &inner));
    if (outer * inner == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, argmax, outer, n, inner, p->select_last_index != 0, x, y);
}

/* ---------------------------------------------------------------- Softmax */

avf_status avf_softmax_shape(const avf_softmax_params *p, avf_dtype dt, int ndim,
                             const int64_t *dims) {
    AVF_CHECK_ARG(p != NULL && (ndim == 0 || dims != NULL));
    const char *op = p->log ? "LogSoftmax" : "Softmax";
    AVF_TRY(check_rank(op, ndim));
    if (dt != AVF_DTYPE_F32 && dt != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op,
                        avf_dtype_name(dt));
    int64_t o, n, i;
    if (avf_axis_view(ndim, dims, p->axis, p->legacy, &o, &n, &i) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: axis %lld is invalid for rank %d", op,
                        (long long)p->axis, ndim);
    return AVF_OK;
}

avf_status avf_op_softmax(avf_op_ctx *ctx, const avf_softmax_params *p, const avf_tensor *x,
                          avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL);
    const char *op = p->log ? "LogSoftmax" : "Softmax";
    AVF_TRY(check_io(ctx, x, y, op));
    AVF_TRY(avf_softmax_shape(p, x->dtype, x->ndim, x->shape));
    AVF_TRY(check_out(y, op, x->dtype, x->ndim, x->shape));
    int64_t outer, n, inner;
    AVF_TRY(avf_axis_view(x->ndim, x->shape, p->axis, p->legacy, &outer, &n, &inner));
    if (outer * n * inner == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, softmax, outer, n, inner, p->log != 0, x, y);
}

/* ---------------------------------------------------------------- GlobalAveragePool */

avf_status avf_global_avg_pool_shape(avf_dtype dt, int ndim, const int64_t *dims, int *out_ndim,
                                     int64_t *out_dims) {
    AVF_CHECK_ARG((ndim == 0 || dims != NULL) && out_ndim && out_dims);
    AVF_TRY(check_rank("GlobalAveragePool", ndim));
    if (ndim < 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "GlobalAveragePool: rank %d, expected [N, C, spatial...]", ndim);
    if (dt != AVF_DTYPE_F32 && dt != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "GlobalAveragePool: dtype %s is not supported",
                        avf_dtype_name(dt));
    for (int d = 0; d < ndim; d++)
        out_dims[d] = d < 2 ? dims[d] : 1;
    *out_ndim = ndim;
    return AVF_OK;
}

avf_status avf_op_global_avg_pool(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    AVF_TRY(check_io(ctx, x, y, "GlobalAveragePool"));
    int ond;
    int64_t od[AVF_MAX_DIMS];
    AVF_TRY(avf_global_avg_pool_shape(x->dtype, x->ndim, x->shape, &ond, od));
    AVF_TRY(check_out(y, "GlobalAveragePool", x->dtype, ond, od));
    avf_reduce_params p;
    memset(&p, 0, sizeof p);
    p.kind = AVF_REDUCE_MEAN;
    p.keepdims = 1;
    p.noop_with_empty_axes = 1; /* rank 2: nothing to average */
    for (int d = 2; d < x->ndim; d++)
        p.axes[p.n_axes++] = d;
    return avf_op_reduce(ctx, &p, x, y);
}

/* ---------------------------------------------------------------- CumSum */

avf_status avf_cumsum_shape(const avf_cumsum_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims) {
    AVF_CHECK_ARG(p != NULL && (ndim == 0 || dims != NULL));
    AVF_TRY(check_rank("CumSum", ndim));
    /* f64 too: ONNX's own CumSum tests and scientific exporters use it */
    if (dt != AVF_DTYPE_F32 && dt != AVF_DTYPE_F16 && dt != AVF_DTYPE_F64 &&
        dt != AVF_DTYPE_I64 && dt != AVF_DTYPE_I32)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CumSum: dtype %s is not supported",
                        avf_dtype_name(dt));
    int a;
    if (ndim == 0 || avf_norm_axis(p->axis, ndim, &a) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "CumSum: axis %lld is outside [-%d, %d)",
                        (long long)p->axis, ndim, ndim);
    return AVF_OK;
}

avf_status avf_op_cumsum(avf_op_ctx *ctx, const avf_cumsum_params *p, const avf_tensor *x,
                         avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL);
    AVF_TRY(check_io(ctx, x, y, "CumSum"));
    AVF_TRY(avf_cumsum_shape(p, x->dtype, x->ndim, x->shape));
    AVF_TRY(check_out(y, "CumSum", x->dtype, x->ndim, x->shape));
    int64_t outer, n, inner;
    AVF_TRY(avf_axis_view(x->ndim, x->shape, p->axis, 0, &outer, &n, &inner));
    if (outer * n * inner == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, cumsum, outer, n, inner, p->exclusive != 0, p->reverse != 0, x, y);
}

/* ---------------------------------------------------------------- TopK */

avf_status avf_topk_shape(const avf_topk_params *p, avf_dtype dt, int ndim, const int64_t *dims,
                          int *out_ndim, int64_t *out_dims) {
    AVF_CHECK_ARG(p != NULL && (ndim == 0 || dims != NULL) && out_ndim && out_dims);
    AVF_TRY(check_rank("TopK", ndim));
    if (dt != AVF_DTYPE_F32 && dt != AVF_DTYPE_F16 && dt != AVF_DTYPE_I64)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "TopK: dtype %s is not supported",
                        avf_dtype_name(dt));
    int a;
    if (ndim == 0 || avf_norm_axis(p->axis, ndim, &a) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "TopK: axis %lld is outside [-%d, %d)",
                        (long long)p->axis, ndim, ndim);
    if (p->k < 0 || p->k > dims[a])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "TopK: k = %lld is outside [0, %lld] (axis %d)",
                        (long long)p->k, (long long)dims[a], a);
    for (int d = 0; d < ndim; d++)
        out_dims[d] = d == a ? p->k : dims[d];
    *out_ndim = ndim;
    return AVF_OK;
}

avf_status avf_op_topk(avf_op_ctx *ctx, const avf_topk_params *p, const avf_tensor *x,
                       avf_tensor *values, avf_tensor *indices) {
    AVF_CHECK_ARG(p != NULL);
    AVF_TRY(check_io(ctx, x, values, "TopK"));
    AVF_TRY(avf_op_check_tensor(ctx, indices, "TopK indices"));
    int ond;
    int64_t od[AVF_MAX_DIMS];
    AVF_TRY(avf_topk_shape(p, x->dtype, x->ndim, x->shape, &ond, od));
    AVF_TRY(check_out(values, "TopK", x->dtype, ond, od));
    AVF_TRY(check_out(indices, "TopK indices", AVF_DTYPE_I64, ond, od));
    int64_t outer, n, inner;
    AVF_TRY(avf_axis_view(x->ndim, x->shape, p->axis, 0, &outer, &n, &inner));
    if (outer * inner * p->k == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, topk, outer, n, inner, p->k, p->largest != 0, x, values, indices);
}
