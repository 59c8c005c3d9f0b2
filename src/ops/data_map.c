/* The copy map (see ops/data.h) and the layout ops built on it: Transpose,
 * Concat, Split. */
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/data_cuda.h"
#endif

void avf_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        /* An empty dim must not zero the outer strides (offsets are never
         * formed then, but keep them meaningful). */
        s *= shape[d] > 0 ? shape[d] : 1;
    }
}

avf_status avf_data_check_like(const avf_op_ctx *ctx, const avf_tensor *t, const avf_tensor *want,
                               const char *what) {
    AVF_TRY(avf_op_check_tensor(ctx, t, what));
    if (t->dtype != want->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: dtype %s, expected %s", what,
                        avf_dtype_name(t->dtype), avf_dtype_name(want->dtype));
    return avf_op_check_shape(t, what, want->ndim, want->shape);
}

avf_status avf_copy_map_check(const avf_copy_map *m, int64_t x_numel, int64_t y_numel) {
    if (m->ndim < 0 || m->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: rank %d", m->ndim);
    if (m->elem_size != 1 && m->elem_size != 2 && m->elem_size != 4 && m->elem_size != 8)
        return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: element size %d", m->elem_size);
    int64_t out_lo = m->out_base, out_hi = m->out_base, in_lo = m->in_base, in_hi = m->in_base;
    int reads = 0; /* some element may read the input */
    for (int d = 0; d < m->ndim; d++) {
        if (m->shape[d] <= 0)
            return AVF_OK; /* nothing is copied */
        int64_t last = m->shape[d] - 1;
        if (m->out_stride[d] < 0)
            return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: negative output stride");
        out_hi += last * m->out_stride[d];
        int64_t c0 = m->in_start[d], c1 = m->in_start[d] + last * m->in_step[d];
        int64_t cmin = c0 < c1 ? c0 : c1, cmax = c0 < c1 ? c1 : c0;
        if (m->border == AVF_BORDER_NONE) {
            if (cmin < 0 || cmax >= m->in_dim[d])
                return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: dim %d reads [%lld, %lld] of %lld", d,
                                (long long)cmin, (long long)cmax, (long long)m->in_dim[d]);
        } else {
            if (m->in_dim[d] <= 0) {
                if (m->border != AVF_BORDER_CONSTANT)
                    return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: border on an empty dim");
                reads = -1; /* every element is the fill value */
                continue;
            }
            cmin = 0;
            cmax = m->in_dim[d] - 1;
        }
        int64_t a = cmin * m->in_stride[d], b = cmax * m->in_stride[d];
        in_lo += a < b ? a : b;
        in_hi += a < b ? b : a;
    }
    if (out_lo < 0 || out_hi >= y_numel)
        return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: writes [%lld, %lld] of %lld elements",
                        (long long)out_lo, (long long)out_hi, (long long)y_numel);
    if (reads == 0 && (in_lo < 0 || in_hi >= x_numel))
        return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: reads [%lld, %lld] of %lld elements",
                        (long long)in_lo, (long long)in_hi, (long long)x_numel);
    return AVF_OK;
}

avf_status avf_op_copy_map(avf_op_ctx *ctx, const avf_copy_map *m, const avf_tensor *x,
                           avf_tensor *y) {
    AVF_TRY(avf_op_check_tensor(ctx, x, "copy map input"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "copy map output"));
    if ((size_t)m->elem_size != avf_dtype_size(x->dtype) ||
        (size_t)m->elem_size != avf_dtype_size(y->dtype))
        return AVF_FAIL(AVF_ERR_INTERNAL, "copy map: element size %d for %s -> %s", m->elem_size,
                        avf_dtype_name(x->dtype), avf_dtype_name(y->dtype));
    AVF_TRY(avf_copy_map_check(m, avf_tensor_numel(x), avf_tensor_numel(y)));
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] == 0)
            return AVF_OK;
    if (avf_op_device_is_cpu(ctx)) {
        avf_cpu_copy_map(m, x->data, y->data);
        return AVF_OK;
    }
#ifdef AVF_HAVE_CUDA
    return avf_cuda_copy_map(ctx, m, x->data, y->data);
#else
    return AVF_OP_NO_CUDA("copy map");
#endif
}

/* ---------------------------------------------------------------- Transpose */

static avf_status transpose_perm(const avf_transpose_params *p, int ndim, int *perm) {
    if (p->nperm == 0) {
        for (int d = 0; d < ndim; d++)
            perm[d] = ndim - 1 - d;
        return AVF_OK;
    }
    if (p->nperm != ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Transpose: perm has %d entries, input rank is %d",
                        p->nperm, ndim);
    int seen[AVF_MAX_DIMS] = {0};
    for (int d = 0; d < ndim; d++) {
        int a;
        AVF_TRY(avf_norm_axis(p->perm[d], ndim, &a));
        if (seen[a])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Transpose: perm repeats axis %d", a);
        seen[a] = 1;
        perm[d] = a;
    }
    return AVF_OK;
}

avf_status avf_transpose_shape(const avf_transpose_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int perm[AVF_MAX_DIMS];
    AVF_TRY(transpose_perm(p, x->ndim, perm));
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++)
        y->shape[d] = x->shape[perm[d]];
    return AVF_OK;
}

avf_status avf_op_transpose(avf_op_ctx *ctx, const avf_transpose_params *p, const avf_tensor *x,
                            avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Transpose input"));
    avf_tensor want;
    AVF_TRY(avf_transpose_shape(p, x, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Transpose output"));
    int perm[AVF_MAX_DIMS];
    AVF_TRY(transpose_perm(p, x->ndim, perm));
    avf_copy_map m;
    memset(&m, 0, sizeof m);
    m.ndim = x->ndim;
    m.elem_size = (int)avf_dtype_size(x->dtype);
    int64_t xs[AVF_MAX_DIMS];
    avf_contiguous_strides(x->ndim, x->shape, xs);
    avf_contiguous_strides(y->ndim, y->shape, m.out_stride);
    for (int d = 0; d < m.ndim; d++) {
        m.shape[d] = y->shape[d];
        m.in_step[d] = 1;
        m.in_dim[d] = y->shape[d];
        m.in_stride[d] = xs[perm[d]];
    }
    return avf_op_copy_map(ctx, &m, x, y);
}

/* ---------------------------------------------------------------- Concat */

avf_status avf_concat_shape(const avf_concat_params *p, const avf_tensor *const *xs, int n,
                            avf_tensor *y) {
    AVF_CHECK_ARG(p && xs && y);
    if (n < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: no inputs");
    for (int i = 0; i < n; i++)
        if (!xs[i])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: input %d is missing", i);
    const avf_tensor *x0 = xs[0];
    if (x0->ndim < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: inputs must have rank >= 1");
    int axis;
    AVF_TRY(avf_norm_axis(p->axis, x0->ndim, &axis));
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const avf_tensor *x = xs[i];
        if (x->dtype != x0->dtype)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: input %d is %s, input 0 is %s", i,
                            avf_dtype_name(x->dtype), avf_dtype_name(x0->dtype));
        if (x->ndim != x0->ndim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: input %d has rank %d, input 0 has %d",
                            i, x->ndim, x0->ndim);
        for (int d = 0; d < x->ndim; d++)
            if (d != axis && x->shape[d] != x0->shape[d])
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "Concat: input %d has dim %d = %lld, input 0 has %lld", i, d,
                                (long long)x->shape[d], (long long)x0->shape[d]);
        total += x->shape[axis];
        if (total > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Concat: output too large");
    }
    y->dtype = x0->dtype;
    y->ndim = x0->ndim;
    memcpy(y->shape, x0->shape, sizeof y->shape);
    y->shape[axis] = total;
    int64_t numel;
    return avf_shape_numel(y->ndim, y->shape, &numel);
}

avf_status avf_op_concat(avf_op_ctx *ctx, const avf_concat_params *p, const avf_tensor *const *xs,
                         int n, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p && xs);
    for (int i = 0; i < n; i++)
        AVF_TRY(avf_op_check_tensor(ctx, xs[i], "Concat input"));
    avf_tensor want;
    AVF_TRY(avf_concat_shape(p, xs, n, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Concat output"));
    int axis = (int)(p->axis < 0 ? p->axis + y->ndim : p->axis);
    int64_t ys[AVF_MAX_DIMS];
    avf_contiguous_strides(y->ndim, y->shape, ys);
    int64_t off = 0;
    /* One map (one launch on CUDA) per input, writing its slab of y. */
    for (int i = 0; i < n; i++) {
        const avf_tensor *x = xs[i];
        avf_copy_map m;
        memset(&m, 0, sizeof m);
        m.ndim = x->ndim;
        m.elem_size = (int)avf_dtype_size(x->dtype);
        m.out_base = off * ys[axis];
        avf_contiguous_strides(x->ndim, x->shape, m.in_stride);
        for (int d = 0; d < m.ndim; d++) {
            m.shape[d] = x->shape[d];
            m.out_stride[d] = ys[d];
            m.in_step[d] = 1;
            m.in_dim[d] = x->shape[d];
        }
        off += x->shape[axis];
        AVF_TRY(avf_op_copy_map(ctx, &m, x, y));
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- Split */

static avf_status split_sizes(const avf_split_params *p, const avf_tensor *x, int n, int *axis,
                              int64_t *sizes) {
    if (n < 1 || n > AVF_SPLIT_MAX)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: %d outputs (1..%d supported)", n,
                        AVF_SPLIT_MAX);
    if (x->ndim < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: input must have rank >= 1");
    AVF_TRY(avf_norm_axis(p->axis, x->ndim, axis));
    int64_t dim = x->shape[*axis];
    if (p->nsplit >= 0) {
        if (p->nsplit != n)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: %d sizes for %d outputs", p->nsplit, n);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            if (p->split[i] < 0 || p->split[i] > dim)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: size %lld", (long long)p->split[i]);
            sizes[i] = p->split[i];
            sum += sizes[i];
        }
        if (sum != dim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: sizes add up to %lld, the axis has %lld",
                            (long long)sum, (long long)dim);
    } else if (p->num_outputs > 0) {
        if (p->num_outputs != n)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: num_outputs %lld but %d outputs",
                            (long long)p->num_outputs, n);
        /* Opset 18: chunks of ceil(dim / n), the last one smaller. */
        int64_t chunk = (dim + n - 1) / n, left = dim;
        for (int i = 0; i < n; i++) {
            sizes[i] = left < chunk ? left : chunk;
            left -= sizes[i];
        }
    } else {
        if (dim % n != 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Split: axis of %lld does not split into %d",
                            (long long)dim, n);
        for (int i = 0; i < n; i++)
            sizes[i] = dim / n;
    }
    return AVF_OK;
}

avf_status avf_split_shape(const avf_split_params *p, const avf_tensor *x, avf_tensor *const *ys,
                           int n) {
    AVF_CHECK_ARG(p && x && ys);
    int axis;
    int64_t sizes[AVF_SPLIT_MAX];
    AVF_TRY(split_sizes(p, x, n, &axis, sizes));
    for (int i = 0; i < n; i++) {
        if (!ys[i])
            continue;
        ys[i]->dtype = x->dtype;
        ys[i]->ndim = x->ndim;
        memcpy(ys[i]->shape, x->shape, sizeof x->shape);
        ys[i]->shape[axis] = sizes[i];
    }
    return AVF_OK;
}

avf_status avf_op_split(avf_op_ctx *ctx, const avf_split_params *p, const avf_tensor *x,
                        avf_tensor *const *ys, int n) {
    AVF_CHECK_ARG(ctx && p && ys);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Split input"));
    int axis;
    int64_t sizes[AVF_SPLIT_MAX];
    AVF_TRY(split_sizes(p, x, n, &axis, sizes));
    int64_t xs[AVF_MAX_DIMS];
    avf_contiguous_strides(x->ndim, x->shape, xs);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        avf_tensor want = *x;
        want.shape[axis] = sizes[i];
        int64_t at = off;
        off += sizes[i];
        if (!ys[i]) /* an output nobody reads */
            continue;
        AVF_TRY(avf_data_check_like(ctx, ys[i], &want, "Split output"));
        avf_copy_map m;
        memset(&m, 0, sizeof m);
        m.ndim = x->ndim;
        m.elem_size = (int)avf_dtype_size(x->dtype);
        m.in_base = at * xs[axis];
        avf_contiguous_strides(want.ndim, want.shape, m.out_stride);
        for (int d = 0; d < m.ndim; d++) {
            m.shape[d] = want.shape[d];
            m.in_step[d] = 1;
            m.in_dim[d] = want.shape[d];
            m.in_stride[d] = xs[d];
        }
        AVF_TRY(avf_op_copy_map(ctx, &m, x, ys[i]));
    }
    return AVF_OK;
}
