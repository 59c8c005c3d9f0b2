/* Window ops on the copy map: Slice, Pad, Expand, Tile. */
#include <string.h>

#include "core/error.h"
#include "ops/data_impl.h"

/* Fill a map that reads x with coordinate start/step per dim of y. */
static void map_init(avf_copy_map *m, const avf_tensor *x, const avf_tensor *y) {
    memset(m, 0, sizeof *m);
    m->ndim = y->ndim;
    m->elem_size = (int)avf_dtype_size(x->dtype);
    avf_contiguous_strides(y->ndim, y->shape, m->out_stride);
    avf_contiguous_strides(x->ndim, x->shape, m->in_stride);
    for (int d = 0; d < y->ndim; d++) {
        m->shape[d] = y->shape[d];
        m->in_step[d] = 1;
        m->in_dim[d] = x->shape[d];
    }
}

/* ---------------------------------------------------------------- Slice */

/* Per dim of x: the first coordinate, the step and the count, following the
 * ONNX rules (negative starts/ends count from the end, then clamp to
 * [0, dim] for positive steps and [-1, dim - 1] for negative ones). */
static avf_status slice_resolve(const avf_slice_params *p, const avf_tensor *x, int64_t *start,
                                int64_t *step, int64_t *count) {
    int r = x->ndim;
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
        count[d] = x->shape[d];
    }
    if (p->n < 0 || p->n > r)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Slice: %d starts/ends for an input of rank %d",
                        p->n, r);
    int seen[AVF_MAX_DIMS] = {0};
    for (int i = 0; i < p->n; i++) {
        int a = i;
        if (p->has_axes)
            AVF_TRY(avf_norm_axis(p->axes[i], r, &a));
        if (seen[a])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Slice: axis %d appears twice", a);
        seen[a] = 1;
        int64_t st = p->has_steps ? p->steps[i] : 1;
        if (st == 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Slice: step 0 on axis %d", a);
        int64_t dim = x->shape[a], s = p->starts[i], e = p->ends[i], n = 0;
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        if (st > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            if (e > s) /* written so that no sum can overflow for huge steps */
                n = st >= e - s ? 1 : (e - s - 1) / st + 1;
        } else {
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            if (s > e)
                n = st <= -(s - e) ? 1 : (s - e - 1) / -st + 1;
        }
        start[a] = n > 0 ? s : 0;
        step[a] = st;
        count[a] = n;
    }
    return AVF_OK;
}

avf_status avf_slice_shape(const avf_slice_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int64_t start[AVF_MAX_DIMS], step[AVF_MAX_DIMS], count[AVF_MAX_DIMS];
    AVF_TRY(slice_resolve(p, x, start, step, count));
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    memcpy(y->shape, count, (size_t)x->ndim * sizeof *count);
    return AVF_OK;
}

avf_status avf_op_slice(avf_op_ctx *ctx, const avf_slice_params *p, const avf_tensor *x,
                        avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Slice input"));
    int64_t start[AVF_MAX_DIMS], step[AVF_MAX_DIMS], count[AVF_MAX_DIMS];
    AVF_TRY(slice_resolve(p, x, start, step, count));
    avf_tensor want = *x;
    memcpy(want.shape, count, sizeof count);
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Slice output"));
    avf_copy_map m;
    map_init(&m, x, y);
    for (int d = 0; d < x->ndim; d++) {
        m.in_start[d] = start[d];
        m.in_step[d] = step[d];
    }
    return avf_op_copy_map(ctx, &m, x, y);
}

/* ---------------------------------------------------------------- Pad */

avf_status avf_pad_shape(const avf_pad_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    int r = x->ndim;
    if (p->mode != AVF_BORDER_CONSTANT && p->mode != AVF_BORDER_EDGE &&
        p->mode != AVF_BORDER_REFLECT && p->mode != AVF_BORDER_WRAP)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Pad: unknown mode %d", p->mode);
    y->dtype = x->dtype;
    y->ndim = r;
    for (int d = 0; d < r; d++) {
        int64_t lo = p->pads[d], hi = p->pads[r + d];
        if (lo < -AVF_MAX_NUMEL || lo > AVF_MAX_NUMEL || hi < -AVF_MAX_NUMEL ||
            hi > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Pad: pads of dim %d out of range", d);
        int64_t n = x->shape[d] + lo + hi;
        if (n < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Pad: dim %d of %lld with pads %lld, %lld", d,
                            (long long)x->shape[d], (long long)lo, (long long)hi);
        if (n > 0 && x->shape[d] == 0 && p->mode != AVF_BORDER_CONSTANT)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Pad: mode needs a non-empty dim %d", d);
        y->shape[d] = n;
    }
    int64_t numel;
    return avf_shape_numel(y->ndim, y->shape, &numel);
}

avf_status avf_op_pad(avf_op_ctx *ctx, const avf_pad_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Pad input"));
    avf_tensor want;
    AVF_TRY(avf_pad_shape(p, x, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Pad output"));
    avf_copy_map m;
    map_init(&m, x, y);
    m.border = p->mode;
    m.fill = p->value;
    for (int d = 0; d < x->ndim; d++)
        m.in_start[d] = -p->pads[d];
    return avf_op_copy_map(ctx, &m, x, y);
}

/* ---------------------------------------------------------------- Expand */

avf_status avf_expand_shape(const avf_expand_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    if (p->ndim < 0 || p->ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "Expand: shape of %d dims", p->ndim);
    for (int d = 0; d < p->ndim; d++)
        if (p->shape[d] < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Expand: negative dim %lld in shape",
                            (long long)p->shape[d]);
    y->dtype = x->dtype;
    AVF_TRY(avf_broadcast_shape(x->ndim, x->shape, p->ndim, p->shape, &y->ndim, y->shape));
    int64_t numel;
    return avf_shape_numel(y->ndim, y->shape, &numel);
}

avf_status avf_op_expand(avf_op_ctx *ctx, const avf_expand_params *p, const avf_tensor *x,
                         avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Expand input"));
    avf_tensor want;
    AVF_TRY(avf_expand_shape(p, x, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Expand output"));
    avf_copy_map m;
    memset(&m, 0, sizeof m);
    m.ndim = y->ndim;
    m.elem_size = (int)avf_dtype_size(x->dtype);
    avf_contiguous_strides(y->ndim, y->shape, m.out_stride);
    int64_t xs[AVF_MAX_DIMS];
    avf_contiguous_strides(x->ndim, x->shape, xs);
    int lead = y->ndim - x->ndim;
    for (int d = 0; d < y->ndim; d++) {
        m.shape[d] = y->shape[d];
        int xd = d - lead;
        if (xd < 0 || x->shape[xd] == 1) { /* broadcast: every index reads coordinate 0 */
            m.in_dim[d] = 1;
            m.in_step[d] = 0;
            m.in_stride[d] = 0;
        } else {
            m.in_dim[d] = x->shape[xd];
            m.in_step[d] = 1;
            m.in_stride[d] = xs[xd];
        }
    }
    return avf_op_copy_map(ctx, &m, x, y);
}

/* ---------------------------------------------------------------- Tile */

avf_status avf_tile_shape(const avf_tile_params *p, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p && x && y);
    if (p->n != x->ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Tile: %d repeats for an input of rank %d", p->n,
                        x->ndim);
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    for (int d = 0; d < x->ndim; d++) {
        int64_t r = p->repeats[d];
        if (r < 0 || r > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Tile: repeat %lld on dim %d", (long long)r, d);
        if (x->shape[d] > 0 && r > AVF_MAX_NUMEL / x->shape[d])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Tile: output too large");
        y->shape[d] = x->shape[d] * r;
    }
    int64_t numel;
    return avf_shape_numel(y->ndim, y->shape, &numel);
}

avf_status avf_op_tile(avf_op_ctx *ctx, const avf_tile_params *p, const avf_tensor *x,
                       avf_tensor *y) {
    AVF_CHECK_ARG(ctx && p);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Tile input"));
    avf_tensor want;
    AVF_TRY(avf_tile_shape(p, x, &want));
    AVF_TRY(avf_data_check_like(ctx, y, &want, "Tile output"));
    avf_copy_map m;
    map_init(&m, x, y);
    m.border = AVF_BORDER_WRAP;
    return avf_op_copy_map(ctx, &m, x, y);
}
