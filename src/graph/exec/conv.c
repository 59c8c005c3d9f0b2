/* Executor ops of the conv family (see graph/exec_op.h): Conv, ConvTranspose,
 * AveragePool, MaxPool, GlobalMaxPool, Resize, Upsample;
 * ONNX opsets 7-21.
 *
 * prepare keeps the attributes as given (spatial rank is unknown until the
 * input shapes are); infer resolves them against X's rank into the op's
 * params and computes the output shape. MaxPool's optional Indices output
 * (i64, storage_order 0 or 1) is computed with the values. Resize runs
 * nearest, linear and cubic (opset 11+) with every coordinate mode; roi is
 * read only by tf_crop_and_resize (as ONNX says). Limit: antialias is
 * rejected.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "graph/exec_op.h"
#include "ops/conv.h"


/* The spatial attributes shared by Conv, ConvTranspose and the pools, as the
 * node gives them (count -1: absent). */
typedef struct spatial_attrs {
    int n_kernel, n_strides, n_dil, n_pads, n_outpad, n_outshape;
    int64_t kernel[AVF_CONV_MAX_SP], strides[AVF_CONV_MAX_SP], dil[AVF_CONV_MAX_SP];
    int64_t pads[2 * AVF_CONV_MAX_SP], outpad[AVF_CONV_MAX_SP];
    int64_t outshape[AVF_CONV_MAX_SP + 2];
    avf_auto_pad auto_pad;
} spatial_attrs;

static avf_status read_spatial(const avf_graph_node *n, spatial_attrs *a) {
    const char *ap = NULL;
    AVF_TRY(avf_exec_attr_ints(n, "kernel_shape", a->kernel, AVF_CONV_MAX_SP, &a->n_kernel));
    AVF_TRY(avf_exec_attr_ints(n, "strides", a->strides, AVF_CONV_MAX_SP, &a->n_strides));
    AVF_TRY(avf_exec_attr_ints(n, "dilations", a->dil, AVF_CONV_MAX_SP, &a->n_dil));
    AVF_TRY(avf_exec_attr_ints(n, "pads", a->pads, 2 * AVF_CONV_MAX_SP, &a->n_pads));
    AVF_TRY(avf_exec_attr_ints(n, "output_padding", a->outpad, AVF_CONV_MAX_SP, &a->n_outpad));
    AVF_TRY(avf_exec_attr_ints(n, "output_shape", a->outshape, AVF_CONV_MAX_SP + 2,
                               &a->n_outshape));
    AVF_TRY(avf_exec_attr_string(n, "auto_pad", "NOTSET", &ap));
    avf_status st = avf_auto_pad_parse(ap, &a->auto_pad);
    if (st != AVF_OK)
        return AVF_FAIL(st, "node '%s' (%s): auto_pad '%s' is invalid", n->name, n->op_type, ap);
    return AVF_OK;
}

/* Check one attribute's count against the spatial rank; copy or default. */
static avf_status spatial_list(const avf_exec_call *call, const char *name, int count,
                               const int64_t *v, int want, int64_t def, int64_t *out) {
    if (count >= 0 && count != want)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): attribute '%s' has %d values, "
                        "expected %d", call->node->name, call->node->op_type, name, count, want);
    for (int i = 0; i < want; i++)
        out[i] = count >= 0 ? v[i] : def;
    return AVF_OK;
}

static avf_status float_input(const avf_exec_call *call, int i, const char *what, int ints_ok) {
    const avf_tensor *t = avf_exec_in(call, i);
    if (!t)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %s is missing",
                        call->node->name, call->node->op_type, what);
    if (t->dtype == AVF_DTYPE_F32 || t->dtype == AVF_DTYPE_F16 ||
        (ints_ok && (t->dtype == AVF_DTYPE_BF16 || t->dtype == AVF_DTYPE_I8 ||
                     t->dtype == AVF_DTYPE_U8)))
        return AVF_OK;
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): %s dtype %s is not supported",
                    call->node->name, call->node->op_type, what, avf_dtype_name(t->dtype));
}

/* ---------------------------------------------------------------- Conv, ConvTranspose */

typedef struct conv_exec {
    spatial_attrs a;
    int64_t group;
    int transpose;
    avf_conv_params p; /* resolved by infer */
} conv_exec;

static avf_status conv_prepare_any(const avf_graph_node *node, void *params, int transpose) {
    conv_exec *c = (conv_exec *)params;
    memset(c, 0, sizeof *c);
    c->transpose = transpose;
    AVF_TRY(read_spatial(node, &c->a));
    AVF_TRY(avf_exec_attr_int(node, "group", 1, &c->group));
    if (c->group < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): group %lld", node->name,
                        node->op_type, (long long)c->group);
    return AVF_OK;
}

static avf_status conv_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    return conv_prepare_any(node, params, 0);
}

static avf_status convt_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    return conv_prepare_any(node, params, 1);
}

static avf_status conv_infer(void *params, avf_exec_call *call) {
    conv_exec *c = (conv_exec *)params;
    AVF_TRY(float_input(call, 0, "X", 0));
    AVF_TRY(float_input(call, 1, "W", 0));
    const avf_tensor *x = avf_exec_in(call, 0), *w = avf_exec_in(call, 1), *b = avf_exec_in(call, 2);
    if (x->ndim < 3 || x->ndim > 2 + AVF_CONV_MAX_SP)
        return AVF_FAIL(x->ndim < 3 ? AVF_ERR_INVALID_ARG : AVF_ERR_UNSUPPORTED,
                        "node '%s' (%s): X has rank %d (3 to %d supported)", call->node->name,
                        call->node->op_type, x->ndim, 2 + AVF_CONV_MAX_SP);
    int nsp = x->ndim - 2;
    avf_conv_params *p = &c->p;
    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->group = c->group;
    p->auto_pad = c->a.auto_pad;
    AVF_TRY(spatial_list(call, "strides", c->a.n_strides, c->a.strides, nsp, 1, p->strides));
    AVF_TRY(spatial_list(call, "dilations", c->a.n_dil, c->a.dil, nsp, 1, p->dilations));
    AVF_TRY(spatial_list(call, "pads", c->a.n_pads, c->a.pads, 2 * nsp, 0, p->pads));
    AVF_TRY(spatial_list(call, "output_padding", c->a.n_outpad, c->a.outpad, nsp, 0,
                         p->output_padding));
    if (c->a.n_kernel >= 0) {
        int64_t k[AVF_CONV_MAX_SP];
        AVF_TRY(spatial_list(call, "kernel_shape", c->a.n_kernel, c->a.kernel, nsp, 1, k));
        for (int i = 0; i < nsp && w->ndim == x->ndim; i++)
            if (k[i] != w->shape[2 + i])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): kernel_shape[%d] = %lld "
                                "but W has %lld", call->node->name, call->node->op_type, i,
                                (long long)k[i], (long long)w->shape[2 + i]);
    }
    if (c->transpose && c->a.n_outshape >= 0) {
        /* spatial dims only, or (seen in old exporters) the full shape */
        int n = c->a.n_outshape, off = n == nsp + 2 ? 2 : 0;
        if (n != nsp && n != nsp + 2)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (ConvTranspose): output_shape has %d "
                            "values for %d spatial dims", call->node->name, n, nsp);
        p->has_output_shape = 1;
        for (int i = 0; i < nsp; i++)
            p->output_shape[i] = c->a.outshape[off + i];
    }
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): X, W and B must share a dtype",
                        call->node->name, call->node->op_type);
    int n = 0;
    int64_t dims[AVF_MAX_DIMS];
    if (c->transpose)
        AVF_TRY(avf_conv_transpose_shape(p, x->ndim, x->shape, w->ndim, w->shape,
                                         b ? b->ndim : -1, b ? b->shape : NULL, &n, dims));
    else
        AVF_TRY(avf_conv_shape(p, x->ndim, x->shape, w->ndim, w->shape, b ? b->ndim : -1,
                               b ? b->shape : NULL, &n, dims));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], x->dtype, n, dims);
    return AVF_OK;
}

const avf_conv_params *avf_exec_conv_resolved(const void *params) {
    return &((const conv_exec *)params)->p;
}

static avf_status conv_run(const void *params, avf_exec_call *call) {
    const conv_exec *c = (const conv_exec *)params;
    if (!avf_exec_out(call, 0))
        return AVF_OK;
    if (c->transpose)
        return avf_op_conv_transpose(call->ctx, &c->p, avf_exec_in(call, 0), avf_exec_in(call, 1),
                                     avf_exec_in(call, 2), call->out[0]);
    return avf_op_conv(call->ctx, &c->p, avf_exec_in(call, 0), avf_exec_in(call, 1), avf_exec_in(call, 2),
                       call->out[0]);
}

static const avf_exec_op exec_conv = {"Conv", 0, 0, conv_prepare, conv_infer, conv_run};
static const avf_exec_op exec_convt = {"ConvTranspose", 0, 0, convt_prepare, conv_infer,
                                       conv_run};

/* ---------------------------------------------------------------- pools */

typedef struct pool_exec {
    spatial_attrs a;
    avf_pool_kind kind;
    int global, ceil_mode, count_include_pad, storage_order;
    avf_pool_params p; /* resolved by infer */
} pool_exec;

static avf_status pool_prepare_any(const avf_graph_node *node, void *params, avf_pool_kind kind,
                                   int global) {
    pool_exec *e = (pool_exec *)params;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->global = global;
    if (node->n_outputs > 1 && node->outputs[1] >= 0 && (kind != AVF_POOL_MAX || global))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): only MaxPool has an Indices "
                        "output", node->name, node->op_type);
    if (global)
        return AVF_OK;
    AVF_TRY(read_spatial(node, &e->a));
    if (e->a.n_kernel < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): kernel_shape is required",
                        node->name, node->op_type);
    int64_t v = 0;
    AVF_TRY(avf_exec_attr_int(node, "ceil_mode", 0, &v));
    e->ceil_mode = v != 0;
    AVF_TRY(avf_exec_attr_int(node, "count_include_pad", 0, &v));
    e->count_include_pad = v != 0;
    AVF_TRY(avf_exec_attr_int(node, "storage_order", 0, &v));
    if (v != 0 && v != 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): storage_order %lld (0 or 1)",
                        node->name, node->op_type, (long long)v);
    e->storage_order = (int)v;
    return AVF_OK;
}

static avf_status maxpool_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    return pool_prepare_any(node, params, AVF_POOL_MAX, 0);
}

static avf_status avgpool_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    return pool_prepare_any(node, params, AVF_POOL_AVG, 0);
}

static avf_status gmaxpool_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    (void)opset;
    return pool_prepare_any(node, params, AVF_POOL_MAX, 1);
}

static avf_status pool_infer(void *params, avf_exec_call *call) {
    pool_exec *e = (pool_exec *)params;
    AVF_TRY(float_input(call, 0, "X", e->kind == AVF_POOL_MAX));
    const avf_tensor *x = avf_exec_in(call, 0);
    if (x->dtype == AVF_DTYPE_BF16 && e->kind == AVF_POOL_AVG)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s': bf16", call->node->name);
    if (x->ndim < 3 || x->ndim > 2 + AVF_CONV_MAX_SP)
        return AVF_FAIL(x->ndim < 3 ? AVF_ERR_INVALID_ARG : AVF_ERR_UNSUPPORTED,
                        "node '%s' (%s): X has rank %d (3 to %d supported)", call->node->name,
                        call->node->op_type, x->ndim, 2 + AVF_CONV_MAX_SP);
    int nsp = x->ndim - 2;
    avf_pool_params *p = &e->p;
    memset(p, 0, sizeof *p);
    p->kind = e->kind;
    p->nsp = nsp;
    p->global = e->global;
    p->ceil_mode = e->ceil_mode;
    p->count_include_pad = e->count_include_pad;
    p->storage_order = e->storage_order;
    p->auto_pad = e->a.auto_pad;
    if (!e->global) {
        AVF_TRY(spatial_list(call, "kernel_shape", e->a.n_kernel, e->a.kernel, nsp, 1, p->kernel));
        AVF_TRY(spatial_list(call, "strides", e->a.n_strides, e->a.strides, nsp, 1, p->strides));
        AVF_TRY(spatial_list(call, "dilations", e->a.n_dil, e->a.dil, nsp, 1, p->dilations));
        AVF_TRY(spatial_list(call, "pads", e->a.n_pads, e->a.pads, 2 * nsp, 0, p->pads));
    }
    int n = 0;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_pool_shape(p, x->ndim, x->shape, &n, dims));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], x->dtype, n, dims);
    if (avf_exec_out(call, 1))
        avf_exec_set_out(call->out[1], AVF_DTYPE_I64, n, dims);
    return AVF_OK;
}

static avf_status pool_run(const void *params, avf_exec_call *call) {
    const pool_exec *e = (const pool_exec *)params;
    avf_tensor *y = avf_exec_out(call, 0), *ind = avf_exec_out(call, 1);
    if (!y && !ind)
        return AVF_OK;
    if (!ind)
        return avf_op_pool(call->ctx, &e->p, avf_exec_in(call, 0), y);
    if (y)
        return avf_op_pool_indices(call->ctx, &e->p, avf_exec_in(call, 0), y, ind);
    /* only Indices wanted: the values still need a home */
    avf_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    AVF_TRY(avf_tensor_alloc(&tmp, call->ctx->pool, avf_exec_in(call, 0)->dtype, ind->ndim,
                             ind->shape, call->ctx->stream));
    avf_status st = avf_op_pool_indices(call->ctx, &e->p, avf_exec_in(call, 0), &tmp, ind);
    avf_tensor_release(&tmp, call->ctx->stream);
    return st;
}

static const avf_exec_op exec_maxpool = {"MaxPool", 0, 0, maxpool_prepare, pool_infer, pool_run};
static const avf_exec_op exec_avgpool = {"AveragePool", 0, 0, avgpool_prepare, pool_infer,
                                         pool_run};
static const avf_exec_op exec_gmaxpool = {"GlobalMaxPool", 0, 0, gmaxpool_prepare, pool_infer,
                                          pool_run};

/* ---------------------------------------------------------------- Resize, Upsample */

typedef struct resize_exec {
    int64_t opset;
    int upsample;         /* Upsample (7-9) */
    int n_attr_scales;    /* Upsample-7: scales attribute */
    float attr_scales[AVF_MAX_DIMS];
    int n_axes;           /* Resize-18+: axes attribute (-1 absent) */
    int64_t axes[AVF_MAX_DIMS];
    int keep_policy;
    avf_resize_params p;  /* resolved by infer */
} resize_exec;

static avf_status resize_prepare_any(const avf_graph_node *node, int64_t opset, void *params,
                                     int upsample) {
    resize_exec *r = (resize_exec *)params;
    memset(r, 0, sizeof *r);
    r->opset = opset;
    r->upsample = upsample;
    r->n_axes = -1;
    const char *mode = NULL, *coord = NULL, *nearest = NULL, *policy = NULL;
    AVF_TRY(avf_exec_attr_string(node, "mode", "nearest", &mode));
    avf_status st = avf_resize_mode_parse(mode, &r->p.mode);
    if (st != AVF_OK)
        return AVF_FAIL(st, "node '%s' (%s): mode '%s' is not supported (nearest, linear, "
                        "cubic are)", node->name, node->op_type, mode);
    /* cubic came with Resize-11; Upsample and Resize-10 never had it */
    if (r->p.mode == AVF_RESIZE_CUBIC && (upsample || opset < 11))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): mode 'cubic' needs Resize-11",
                        node->name, node->op_type);
    if (upsample || opset < 11) {
        /* Upsample and Resize-10: asymmetric coordinates, floor rounding
         * (what ONNX's 10 -> 11 version converter spells out) */
        r->p.coord = AVF_RESIZE_ASYMMETRIC;
        r->p.nearest = AVF_RESIZE_FLOOR;
    } else {
        AVF_TRY(avf_exec_attr_string(node, "coordinate_transformation_mode", "half_pixel",
                                     &coord));
        AVF_TRY(avf_exec_attr_string(node, "nearest_mode", "round_prefer_floor", &nearest));
        st = avf_resize_coord_parse(coord, &r->p.coord);
        if (st == AVF_OK)
            st = avf_resize_nearest_parse(nearest, &r->p.nearest);
        if (st != AVF_OK)
            return AVF_FAIL(st, "node '%s' (Resize): coordinate_transformation_mode '%s', "
                            "nearest_mode '%s' are not supported", node->name, coord, nearest);
        float a = -0.75f, ext = 0.f;
        int64_t excl = 0;
        AVF_TRY(avf_exec_attr_float(node, "cubic_coeff_a", -0.75f, &a));
        AVF_TRY(avf_exec_attr_int(node, "exclude_outside", 0, &excl));
        AVF_TRY(avf_exec_attr_float(node, "extrapolation_value", 0.f, &ext));
        r->p.cubic_a = a;
        r->p.exclude_outside = excl != 0;
        r->p.extrapolation = ext;
        int64_t antialias = 0;
        AVF_TRY(avf_exec_attr_int(node, "antialias", 0, &antialias));
        if (antialias)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (Resize): antialias is not supported",
                            node->name);
        AVF_TRY(avf_exec_attr_ints(node, "axes", r->axes, AVF_MAX_DIMS, &r->n_axes));
        AVF_TRY(avf_exec_attr_string(node, "keep_aspect_ratio_policy", "stretch", &policy));
        if (!strcmp(policy, "stretch"))
            r->keep_policy = 0;
        else if (!strcmp(policy, "not_larger"))
            r->keep_policy = 1;
        else if (!strcmp(policy, "not_smaller"))
            r->keep_policy = 2;
        else
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Resize): keep_aspect_ratio_policy "
                            "'%s'", node->name, policy);
    }
    if (upsample && opset < 9) {
        const avf_graph_attr *a = avf_graph_node_attr(node, "scales");
        if (!a || a->type != AVF_ATTR_FLOATS || a->n < 1 || a->n > AVF_MAX_DIMS)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Upsample): attribute 'scales' "
                            "(1 to %d floats) is required before opset 9", node->name,
                            AVF_MAX_DIMS);
        r->n_attr_scales = a->n;
        memcpy(r->attr_scales, a->floats, (size_t)a->n * sizeof(float));
    }
    return AVF_OK;
}

static avf_status resize_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    return resize_prepare_any(node, opset, params, 0);
}

static avf_status upsample_prepare(const avf_graph_node *node, int64_t opset, void *params) {
    return resize_prepare_any(node, opset, params, 1);
}

/* A host input holding floats (scales); *n = 0 when absent or empty. */
static avf_status host_floats(const avf_exec_call *call, int i, float *out, int *n) {
    *n = 0;
    const avf_tensor *t = i < call->n_in ? call->in_host[i] : NULL;
    if (!t || avf_tensor_numel(t) == 0)
        return AVF_OK;
    if (t->dtype != AVF_DTYPE_F32 || t->ndim > 1 || avf_tensor_numel(t) > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): scales must be at most %d f32 "
                        "values", call->node->name, call->node->op_type, AVF_MAX_DIMS);
    *n = (int)avf_tensor_numel(t);
    memcpy(out, t->data, (size_t)*n * sizeof(float));
    return AVF_OK;
}

/* tf_crop_and_resize's roi (input 1): starts then ends, one pair per axis
 * (per listed axis with the axes attribute), as fractions of in - 1; axes
 * it does not cover keep the whole range [0, 1]. */
static avf_status read_roi(resize_exec *r, const avf_exec_call *call, int xnd) {
    const avf_tensor *t = call->n_in > 1 ? call->in_host[1] : NULL;
    for (int a = 0; a < xnd; a++) {
        r->p.roi[a] = 0.0;
        r->p.roi[xnd + a] = 1.0;
    }
    int m = r->n_axes >= 0 ? r->n_axes : xnd;
    int64_t cnt = t ? avf_tensor_numel(t) : 0;
    if (cnt != 2 * m || (t->dtype != AVF_DTYPE_F32 && t->dtype != AVF_DTYPE_F64 &&
                         t->dtype != AVF_DTYPE_F16))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Resize): tf_crop_and_resize needs roi "
                        "of %d floats, has %lld", call->node->name, 2 * m, (long long)cnt);
    for (int i = 0; i < 2 * m; i++) {
        double v = t->dtype == AVF_DTYPE_F32   ? ((const float *)t->data)[i]
                   : t->dtype == AVF_DTYPE_F64 ? ((const double *)t->data)[i]
                                               : avf_f16_to_f32(((const uint16_t *)t->data)[i]);
        int ax = i % m, end = i >= m;
        if (r->n_axes >= 0)
            AVF_TRY(avf_norm_axis(r->axes[ax], xnd, &ax));
        if (!isfinite(v))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Resize): roi value %g",
                            call->node->name, v);
        r->p.roi[end ? xnd + ax : ax] = v;
    }
    return AVF_OK;
}

static avf_status resize_infer(void *params, avf_exec_call *call) {
    resize_exec *r = (resize_exec *)params;
    const avf_tensor *x = avf_exec_in(call, 0);
    if (!x)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input X is missing",
                        call->node->name, call->node->op_type);
    float scales[AVF_MAX_DIMS];
    int64_t sizes[AVF_MAX_DIMS];
    int ns = 0, nz = 0;
    if (r->n_attr_scales > 0) {
        ns = r->n_attr_scales;
        memcpy(scales, r->attr_scales, (size_t)ns * sizeof(float));
    } else if (r->upsample || r->opset < 11) {
        AVF_TRY(host_floats(call, 1, scales, &ns));
    } else {
        AVF_TRY(host_floats(call, 2, scales, &ns));
        const avf_tensor *st = call->n_in > 3 ? call->in_host[3] : NULL;
        if (st && avf_tensor_numel(st) > 0)
            AVF_TRY(avf_exec_host_ints(st, "Resize sizes", sizes, AVF_MAX_DIMS, &nz));
    }
    if ((ns > 0) == (nz > 0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): exactly one of scales and sizes "
                        "must be given", call->node->name, call->node->op_type);
    avf_status st = avf_resize_plan(&r->p, x->ndim, x->shape, ns ? scales : NULL,
                                    nz ? sizes : NULL, ns ? ns : nz,
                                    r->n_axes >= 0 ? r->axes : NULL, r->keep_policy);
    if (st == AVF_OK && r->n_axes >= 0 && r->n_axes != (ns ? ns : nz))
        st = AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (Resize): %d axes but %d scales/sizes",
                      call->node->name, r->n_axes, ns ? ns : nz);
    AVF_TRY(st);
    if (r->p.coord == AVF_RESIZE_TF_CROP_AND_RESIZE)
        AVF_TRY(read_roi(r, call, x->ndim));
    int n = 0;
    int64_t dims[AVF_MAX_DIMS];
    AVF_TRY(avf_resize_shape(&r->p, x->ndim, x->shape, &n, dims));
    if (avf_exec_out(call, 0))
        avf_exec_set_out(call->out[0], x->dtype, n, dims);
    return AVF_OK;
}

static avf_status resize_run(const void *params, avf_exec_call *call) {
    const resize_exec *r = (const resize_exec *)params;
    if (!avf_exec_out(call, 0))
        return AVF_OK;
    return avf_op_resize(call->ctx, &r->p, avf_exec_in(call, 0), call->out[0]);
}

/* scales (input 1 or 2) and sizes (input 3) are read on the host */
static const avf_exec_op exec_resize = {"Resize", 0xE, 0, resize_prepare, resize_infer,
                                        resize_run};
static const avf_exec_op exec_upsample = {"Upsample", 0x2, 0, upsample_prepare, resize_infer,
                                          resize_run};

_Static_assert(sizeof(conv_exec) <= AVF_EXEC_PARAMS_MAX, "conv params blob");
_Static_assert(sizeof(pool_exec) <= AVF_EXEC_PARAMS_MAX, "pool params blob");
_Static_assert(sizeof(resize_exec) <= AVF_EXEC_PARAMS_MAX, "resize params blob");

const avf_exec_op *const avf_exec_ops_conv[] = {
    /* GlobalAveragePool is the reduce family's (a proper block reduction). */
    &exec_conv,    &exec_convt,  &exec_maxpool, &exec_avgpool,
    &exec_gmaxpool, &exec_resize, &exec_upsample, NULL,
};
