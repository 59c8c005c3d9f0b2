/* Shape-only ops (Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size), the
 * plain copy behind them, and generators (Range, ConstantOfShape, fills). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/data_cuda.h"
#endif

static void copy_desc(const avf_tensor *x, avf_tensor *y, int ndim, const int64_t *shape) {
    y->dtype = x->dtype;
    y->ndim = ndim;
    memcpy(y->shape, shape, (size_t)ndim * sizeof *shape);
}

/* ---------------------------------------------------------------- copy */

avf_status avf_op_copy(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx);
    AVF_TRY(avf_op_check_tensor(ctx, x, "copy input"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "copy output"));
    if (x->dtype != y->dtype || avf_tensor_numel(x) != avf_tensor_numel(y))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "copy: %s[%lld] into %s[%lld]",
                        avf_dtype_name(x->dtype), (long long)avf_tensor_numel(x),
                        avf_dtype_name(y->dtype), (long long)avf_tensor_numel(y));
    size_t n = avf_tensor_nbytes(x);
    if (n == 0 || x->data == y->data)
        return AVF_OK;
    return avf_memcpy_async(ctx->dev, y->data, x->data, n,
                            avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_D2D, ctx->stream,
                            "reshape");
}

/* ---------------------------------------------------------------- Reshape */

avf_status avf_reshape_shape(const avf_reshape_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    if (p->ndim < 0 || p->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Reshape: target rank %d", p->ndim);
    int64_t xn, shape[AVF_MAX_DIMS], known = 1;
    AVF_TRY(avf_shape_numel(x->ndim, x->shape, &xn));
    int infer = -1, has_zero = 0;
    for (int d = 0; d < p->ndim; d++) {
        int64_t v = p->shape[d];
        if (v == 0 && !p->allowzero) {
            if (d >= x->ndim)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: 0 at dim %d copies a dim x lacks",
                                d);
            v = x->shape[d];
        } else if (v == -1) {
            if (infer >= 0)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: more than one -1");
            infer = d;
            shape[d] = 1;
            continue;
        } else if (v < -1) {
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: dim %lld", (long long)v);
        }
        if (v == 0)
            has_zero = 1;
        if (v > AVF_MAX_NUMEL || (v > 0 && known > AVF_MAX_NUMEL / v))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: target too large");
        shape[d] = v;
        known *= v > 0 ? v : 1;
    }
    if (infer >= 0) {
        if (has_zero) {
            if (xn != 0 || p->allowzero)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: -1 next to a 0 dim");
            shape[infer] = 0; /* ambiguous; an empty input stays empty */
        } else {
            if (xn % known != 0)
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "Reshape: %lld elements do not divide into %lld", (long long)xn,
                                (long long)known);
            shape[infer] = xn / known;
        }
    }
    int64_t yn;
    AVF_TRY(avf_shape_numel(p->ndim, shape, &yn));
    if (yn != xn)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Reshape: %lld elements into a shape of %lld",
                        (long long)xn, (long long)yn);
    copy_desc(x, y, p->ndim, shape);
    return AVF_OK;
}

avf_status avf_flatten_shape(const avf_flatten_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int64_t axis = p->axis < 0 ? p->axis + x->ndim : p->axis;
    if (axis < 0 || axis > x->ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Flatten: axis %lld for rank %d",
                        (long long)p->axis, x->ndim);
    int64_t s[2] = {1, 1};
    for (int d = 0; d < x->ndim; d++)
        s[d < axis ? 0 : 1] *= x->shape[d];
    copy_desc(x, y, 2, s);
    return AVF_OK;
}

avf_status avf_squeeze_shape(const avf_axes_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int drop[AVF_MAX_DIMS] = {0};
    if (p->naxes < 0 || p->naxes > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Squeeze: %d axes", p->naxes);
    if (p->naxes == 0) {
        for (int d = 0; d < x->ndim; d++)
            drop[d] = x->shape[d] == 1;
    }
    for (int i = 0; i < p->naxes; i++) {
        int a;
        AVF_TRY(avf_norm_axis(p->axes[i], x->ndim, &a));
        if (x->shape[a] != 1)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Squeeze: dim %d is %lld, not 1", a,
                            (long long)x->shape[a]);
        drop[a] = 1;
    }
    int64_t s[AVF_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < x->ndim; d++)
        if (!drop[d])
            s[n++] = x->shape[d];
    copy_desc(x, y, n, s);
    return AVF_OK;
}

avf_status avf_unsqueeze_shape(const avf_axes_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int r = x->ndim + p->naxes;
    if (p->naxes < 0 || r > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Unsqueeze: output rank %d (at most %d)", r,
                        AVF_MAX_DIMS);
    int ins[AVF_MAX_DIMS] = {0};
    for (int i = 0; i < p->naxes; i++) {
        int a;
        AVF_TRY(avf_norm_axis(p->axes[i], r, &a));
        if (ins[a])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Unsqueeze: axis %d appears twice", a);
        ins[a] = 1;
    }
    int64_t s[AVF_MAX_DIMS];
    for (int d = 0, k = 0; d < r; d++)
        s[d] = ins[d] ? 1 : x->shape[k++];
    copy_desc(x, y, r, s);
    return AVF_OK;
}

/* ---------------------------------------------------------------- Shape, Size */

static void shape_range(const avf_shape_params *p, int r, int64_t *s, int64_t *e) {
    int64_t a = p->start, b = p->end;
    if (a < 0)
        a += r;
    if (b < 0)
        b += r;
    a = a < 0 ? 0 : (a > r ? r : a);
    b = b < 0 ? 0 : (b > r ? r : b);
    *s = a;
    *e = b > a ? b : a;
}

avf_status avf_shape_shape(const avf_shape_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int64_t s, e;
    shape_range(p, x->ndim, &s, &e);
    y->dtype = AVF_DTYPE_I64;
    y->ndim = 1;
    y->shape[0] = e - s;
    return AVF_OK;
}

avf_status avf_op_write_i64(avf_op_ctx *ctx, const int64_t *vals, int n, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && (vals || n == 0) && n >= 0 && n <= AVF_MAX_DIMS);
    AVF_TRY(avf_op_check_tensor(ctx, y, "i64 output"));
    if (y->dtype != AVF_DTYPE_I64 || avf_tensor_numel(y) != n)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "i64 output: expected %d i64 values", n);
    if (n == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx)) {
        memcpy(y->data, vals, (size_t)n * sizeof *vals);
        return AVF_OK;
    }
#ifdef AVF_HAVE_CUDA
    return avf_cuda_write_i64(ctx, vals, n, y->data);
#else
    return AVF_OP_NO_CUDA("write_i64");
#endif
}

avf_status avf_op_shape(avf_op_ctx *ctx, const avf_shape_params *p, const avf_tensor *x,
                        avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p && x);
    int64_t s, e;
    shape_range(p, x->ndim, &s, &e);
    return avf_op_write_i64(ctx, x->shape + s, (int)(e - s), y);
}

avf_status avf_size_shape(const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(x && y);
    y->dtype = AVF_DTYPE_I64;
    y->ndim = 0;
    return AVF_OK;
}

avf_status avf_op_size(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && x);
    int64_t n;
    AVF_TRY(avf_shape_numel(x->ndim, x->shape, &n));
    if (y && y->ndim != 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Size: output must be a scalar");
    return avf_op_write_i64(ctx, &n, 1, y);
}

/* ---------------------------------------------------------------- fills */

avf_status avf_op_fill(avf_op_ctx *ctx, uint64_t value, avf_tensor *y) {
    AVF_CHECK_ARG(ctx);
    AVF_TRY(avf_op_check_tensor(ctx, y, "fill output"));
    int es = (int)avf_dtype_size(y->dtype);
    int64_t n = avf_tensor_numel(y);
    if (n == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx)) {
        avf_cpu_fill(es, value, n, y->data);
        return AVF_OK;
    }
#ifdef AVF_HAVE_CUDA
    return avf_cuda_fill(ctx, es, value, n, y->data);
#else
    return AVF_OP_NO_CUDA("fill");
#endif
}

avf_status avf_constant_of_shape_shape(const avf_constant_of_shape_params *p, avf_tensor *y) {
    AVF_CHECK_ARG(p && y);
    if (p->ndim < 0 || p->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "ConstantOfShape: rank %d", p->ndim);
    if (avf_dtype_size(p->dtype) == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ConstantOfShape: invalid dtype");
    int64_t n;
    AVF_TRY(avf_shape_numel(p->ndim, p->shape, &n));
    y->dtype = p->dtype;
    y->ndim = p->ndim;
    memcpy(y->shape, p->shape, (size_t)p->ndim * sizeof *p->shape);
    return AVF_OK;
}

avf_status avf_op_constant_of_shape(avf_op_ctx *ctx, const avf_constant_of_shape_params *p,
                                    avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    avf_tensor want;
    AVF_TRY(avf_constant_of_shape_shape(p, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "ConstantOfShape output"));
    return avf_op_fill(ctx, p->value, y);
}

/* ---------------------------------------------------------------- Range */

static avf_status range_count(const avf_range_params *p, int64_t *n) {
    switch (p->dtype) {
    case AVF_DTYPE_F32:
    case AVF_DTYPE_F64: {
        if (p->delta == 0.0 || isnan(p->delta) || isnan(p->start) || isnan(p->limit))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Range: delta is 0 or a value is NaN");
        double c = ceil((p->limit - p->start) / p->delta);
        if (!(c <= (double)AVF_MAX_NUMEL))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Range: too many elements");
        *n = c > 0 ? (int64_t)c : 0;
        return AVF_OK;
    }
    case AVF_DTYPE_I16:
    case AVF_DTYPE_I32:
    case AVF_DTYPE_I64: {
        if (p->idelta == 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Range: delta is 0");
        /* In double to avoid overflow of limit - start; exact below 2^53. */
        double c = ceil(((double)p->ilimit - (double)p->istart) / (double)p->idelta);
        if (!(c <= (double)AVF_MAX_NUMEL))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Range: too many elements");
        *n = c > 0 ? (int64_t)c : 0;
        return AVF_OK;
    }
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Range: dtype %s", avf_dtype_name(p->dtype));
    }
}

avf_status avf_range_shape(const avf_range_params *p, avf_tensor *y) {
    AVF_CHECK_ARG(p && y);
    int64_t n = 0;
    AVF_TRY(range_count(p, &n));
    y->dtype = p->dtype;
    y->ndim = 1;
    y->shape[0] = n;
    return AVF_OK;
}

avf_status avf_op_range(avf_op_ctx *ctx, const avf_range_params *p, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    avf_tensor want;
    AVF_TRY(avf_range_shape(p, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Range output"));
    int64_t n = want.shape[0];
    if (n == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx)) {
        avf_cpu_range(p, n, y->data);
        return AVF_OK;
    }
#ifdef AVF_HAVE_CUDA
    return avf_cuda_range(ctx, p, n, y->data);
#else
    return AVF_OP_NO_CUDA("Range");
#endif
}
