/* Conv and ConvTranspose: geometry, shape functions, dispatch. */
#include <string.h>

#include "core/error.h"
#include "ops/conv.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/fused.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/conv_cuda.h"
#endif

/* Attribute values beyond this are rejected: far larger than any real model
 * uses, small enough that products of a few of them cannot overflow int64. */
#define AVF_CONV_MAX_ATTR (((int64_t)1) << 24)

avf_status avf_auto_pad_parse(const char *s, avf_auto_pad *out) {
    AVF_CHECK_ARG(out != NULL);
    if (!s || !strcmp(s, "NOTSET"))
        *out = AVF_AUTO_PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER"))
        *out = AVF_AUTO_PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER"))
        *out = AVF_AUTO_PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID"))
        *out = AVF_AUTO_PAD_VALID;
    else
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, "
                        "SAME_LOWER, VALID", s);
    return AVF_OK;
}

/* Python's floor division for the (possibly negative) total padding of
 * ConvTranspose with output_shape. */
static int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

static avf_status check_common(const char *op, int nsp, int xnd, const int64_t *x, int wnd,
                               const int64_t *w, const int64_t *strides, const int64_t *dil) {
    if (nsp < 1 || nsp > AVF_CONV_MAX_SP)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: %d spatial dims (1 to %d supported)", op, nsp,
                        AVF_CONV_MAX_SP);
    if (xnd != nsp + 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X has rank %d, expected %d (N, C and %d spatial)",
                        op, xnd, nsp + 2, nsp);
    if (w && wnd != nsp + 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: W has rank %d, expected %d", op, wnd, nsp + 2);
    for (int i = 0; i < xnd; i++)
        if (x[i] < (i == 0 ? 0 : 1) || x[i] > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X dim %d is %lld", op, i, (long long)x[i]);
    for (int i = 0; w && i < wnd; i++)
        if (w[i] < 1 || w[i] > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: W dim %d is %lld", op, i, (long long)w[i]);
    for (int i = 0; i < nsp; i++) {
        if (strides[i] < 1 || strides[i] > AVF_CONV_MAX_ATTR)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: stride %lld on spatial dim %d", op,
                            (long long)strides[i], i);
        if (dil[i] < 1 || dil[i] > AVF_CONV_MAX_ATTR)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: dilation %lld on spatial dim %d", op,
                            (long long)dil[i], i);
    }
    return AVF_OK;
}

avf_status avf_conv_dim(const char *op, int i, int64_t in, int64_t k, int64_t s, int64_t d,
                        avf_auto_pad ap, int64_t pb, int64_t pe, int ceil_mode, int64_t *out,
                        int64_t *pad_b, int64_t *pad_e) {
    if (k < 1 || k > AVF_CONV_MAX_ATTR)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: kernel size %lld on spatial dim %d", op,
                        (long long)k, i);
    int64_t ek = (k - 1) * d + 1;
    if (ap == AVF_AUTO_PAD_SAME_UPPER || ap == AVF_AUTO_PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + ek - in;
        if (total < 0)
            total = 0;
        int64_t small = total / 2;
        *pad_b = ap == AVF_AUTO_PAD_SAME_UPPER ? small : total - small;
        *pad_e = total - *pad_b;
        *out = o;
        return AVF_OK;
    }
    if (ap == AVF_AUTO_PAD_VALID)
        pb = pe = 0;
    if (pb < 0 || pe < 0 || pb > AVF_CONV_MAX_ATTR || pe > AVF_CONV_MAX_ATTR)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: pads %lld, %lld on spatial dim %d", op,
                        (long long)pb, (long long)pe, i);
    int64_t span = in + pb + pe - ek;
    if (span < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "%s: spatial dim %d: input %lld plus pads %lld+%lld is smaller than the "
                        "dilated kernel %lld", op, i, (long long)in, (long long)pb, (long long)pe,
                        (long long)ek);
    int64_t o = span / s + 1;
    if (ceil_mode && span % s) {
        o++;
        if ((o - 1) * s >= in + pb)
            o--;
    }
    *out = o;
    *pad_b = pb;
    *pad_e = pe;
    return AVF_OK;
}

static void geom_fill_unused(avf_conv_geom *g) {
    for (int i = 0; i < AVF_CONV_MAX_SP; i++) {
        g->in[i] = g->k[i] = g->out[i] = g->stride[i] = g->dil[i] = 1;
        g->pad_b[i] = g->pad_e[i] = 0;
    }
}

avf_status avf_conv_geometry(const avf_conv_params *p, int transpose, int xnd, const int64_t *x,
                             int wnd, const int64_t *w, avf_conv_geom *g) {
    AVF_CHECK_ARG(p != NULL && x != NULL && w != NULL && g != NULL);
    const char *op = transpose ? "ConvTranspose" : "Conv";
    AVF_TRY(check_common(op, p->nsp, xnd, x, wnd, w, p->strides, p->dilations));
    if (p->group < 1 || p->group > x[1])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: group %lld with %lld input channels", op,
                        (long long)p->group, (long long)x[1]);
    memset(g, 0, sizeof *g);
    geom_fill_unused(g);
    g->nsp = p->nsp;
    g->n = x[0];
    g->c_in = x[1];
    g->group = p->group;
    if (x[1] % p->group)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %lld input channels are not divisible by group "
                        "%lld", op, (long long)x[1], (long long)p->group);
    if (!transpose) {
        if (w[1] * p->group != x[1])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: W has %lld channels per group, X has %lld "
                            "channels in %lld groups", op, (long long)w[1], (long long)x[1],
                            (long long)p->group);
        if (w[0] % p->group)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %lld output channels are not divisible by "
                            "group %lld", op, (long long)w[0], (long long)p->group);
        g->c_out = w[0];
    } else {
        if (w[0] != x[1])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: W has %lld input channels, X has %lld", op,
                            (long long)w[0], (long long)x[1]);
        if (w[1] > AVF_MAX_NUMEL / p->group)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: too many output channels", op);
        g->c_out = w[1] * p->group;
    }
    int off = AVF_CONV_MAX_SP - p->nsp;
    for (int i = 0; i < p->nsp; i++) {
        int j = off + i;
        int64_t in = x[2 + i], k = w[2 + i], s = p->strides[i], d = p->dilations[i];
        g->in[j] = in;
        g->k[j] = k;
        g->stride[j] = s;
        g->dil[j] = d;
        if (!transpose) {
            AVF_TRY(avf_conv_dim(op, i, in, k, s, d, p->auto_pad, p->pads[i], p->pads[p->nsp + i],
                                 0, &g->out[j], &g->pad_b[j], &g->pad_e[j]));
            continue;
        }
        int64_t op_ = p->output_padding[i];
        if (op_ < 0 || op_ > AVF_CONV_MAX_ATTR)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: output_padding %lld on spatial dim %d", op,
                            (long long)op_, i);
        int64_t full = s * (in - 1) + op_ + (k - 1) * d + 1;
        int64_t pb, pe, out;
        if (p->auto_pad == AVF_AUTO_PAD_SAME_UPPER || p->auto_pad == AVF_AUTO_PAD_SAME_LOWER) {
            out = p->has_output_shape ? p->output_shape[i] : in * s;
            int64_t total = full - out;
            if (p->auto_pad == AVF_AUTO_PAD_SAME_UPPER) {
                pb = floor_div2(total);
                pe = total - pb;
            } else {
                pe = floor_div2(total);
                pb = total - pe;
            }
        } else {
            pb = p->auto_pad == AVF_AUTO_PAD_NOTSET ? p->pads[i] : 0;
            pe = p->auto_pad == AVF_AUTO_PAD_NOTSET ? p->pads[p->nsp + i] : 0;
            if (pb < 0 || pe < 0 || pb > AVF_CONV_MAX_ATTR || pe > AVF_CONV_MAX_ATTR)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: pads %lld, %lld on spatial dim %d", op,
                                (long long)pb, (long long)pe, i);
            out = p->has_output_shape ? p->output_shape[i] : full - pb - pe;
        }
        if (out < 1 || out > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: output size %lld on spatial dim %d (pads "
                            "%lld, %lld)", op, (long long)out, i, (long long)pb, (long long)pe);
        g->out[j] = out;
        g->pad_b[j] = pb;
        g->pad_e[j] = pe;
    }
    int64_t numel = 0, ys[2 + AVF_CONV_MAX_SP] = {g->n, g->c_out};
    for (int i = 0; i < p->nsp; i++)
        ys[2 + i] = g->out[off + i];
    AVF_TRY(avf_shape_numel(2 + p->nsp, ys, &numel));
    return AVF_OK;
}

static avf_status conv_shape(const avf_conv_params *p, int transpose, int xnd, const int64_t *x,
                             int wnd, const int64_t *w, int bnd, const int64_t *b, int *ynd,
                             int64_t *y) {
    AVF_CHECK_ARG(ynd != NULL && y != NULL);
    avf_conv_geom g;
    AVF_TRY(avf_conv_geometry(p, transpose, xnd, x, wnd, w, &g));
    if (bnd >= 0 && (bnd != 1 || !b || b[0] != g.c_out))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: B must be 1-D of length %lld",
                        transpose ? "ConvTranspose" : "Conv", (long long)g.c_out);
    *ynd = xnd;
    y[0] = g.n;
    y[1] = g.c_out;
    for (int i = 0; i < p->nsp; i++)
        y[2 + i] = g.out[AVF_CONV_MAX_SP - p->nsp + i];
    return AVF_OK;
}

avf_status avf_conv_shape(const avf_conv_params *p, int xnd, const int64_t *x, int wnd,
                          const int64_t *w, int bnd, const int64_t *b, int *ynd, int64_t *y) {
    return conv_shape(p, 0, xnd, x, wnd, w, bnd, b, ynd, y);
}

avf_status avf_conv_transpose_shape(const avf_conv_params *p, int xnd, const int64_t *x, int wnd,
                                    const int64_t *w, int bnd, const int64_t *b, int *ynd,
                                    int64_t *y) {
    return conv_shape(p, 1, xnd, x, wnd, w, bnd, b, ynd, y);
}

/* The checks every entry shares; *g is the geometry. */
static avf_status conv_check(avf_op_ctx *ctx, const avf_conv_params *p, int transpose,
                             const avf_tensor *x, const avf_tensor *w, const avf_tensor *b,
                             const avf_tensor *y, avf_conv_geom *g) {
    static const avf_dtype dts[] = {AVF_DTYPE_F32, AVF_DTYPE_F16};
    const char *op = transpose ? "ConvTranspose" : "Conv";
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "X"));
    AVF_TRY(avf_op_check_tensor(ctx, w, "W"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Y"));
    AVF_TRY(avf_op_check_dtype(x, "X", dts, 2));
    if (w->dtype != x->dtype || y->dtype != x->dtype || (b && b->dtype != x->dtype))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: X, W, B and Y must share a dtype (X is %s)", op,
                        avf_dtype_name(x->dtype));
    if (b)
        AVF_TRY(avf_op_check_tensor(ctx, b, "B"));
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    AVF_TRY(conv_shape(p, transpose, x->ndim, x->shape, w->ndim, w->shape, b ? b->ndim : -1,
                       b ? b->shape : NULL, &ynd, ys));
    AVF_TRY(avf_op_check_shape(y, "Y", ynd, ys));
    return avf_conv_geometry(p, transpose, x->ndim, x->shape, w->ndim, w->shape, g);
}

static avf_status conv_dispatch(avf_op_ctx *ctx, const avf_conv_geom *g, int transpose,
                                const avf_tensor *x, const avf_tensor *w, const avf_tensor *b,
                                avf_tensor *y) {
    if (avf_op_device_is_cpu(ctx))
        return transpose ? avf_cpu_conv_transpose(ctx, g, x, w, b, y)
                         : avf_cpu_conv(ctx, g, x, w, b, y);
#ifdef AVF_HAVE_CUDA
    return transpose ? avf_cuda_conv_transpose(ctx, g, x, w, b, y)
                     : avf_cuda_conv(ctx, g, x, w, b, y);
#else
    return AVF_OP_NO_CUDA(transpose ? "ConvTranspose" : "Conv");
#endif
}

static avf_status conv_entry(avf_op_ctx *ctx, const avf_conv_params *p, int transpose,
                             const avf_tensor *x, const avf_tensor *w, const avf_tensor *b,
                             avf_tensor *y) {
    avf_conv_geom g;
    AVF_TRY(conv_check(ctx, p, transpose, x, w, b, y, &g));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    return conv_dispatch(ctx, &g, transpose, x, w, b, y);
}

avf_status avf_op_conv_epilogue(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                                const avf_tensor *w, const avf_tensor *b,
                                const avf_epilogue_params *ep, avf_tensor *y) {
    AVF_CHECK_ARG(ep != NULL);
    avf_conv_geom g;
    AVF_TRY(conv_check(ctx, p, 0, x, w, b, y, &g));
    AVF_TRY(avf_epilogue_check(ep, y, b, 1, y));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
#ifdef AVF_HAVE_CUDA
    if (!avf_op_device_is_cpu(ctx) && avf_cuda_conv_dw_ok(&g, x->dtype))
        return avf_cuda_conv_dw(ctx, &g, x, w, b, ep, y);
    if (!avf_op_device_is_cpu(ctx) && avf_cuda_conv_short1d_ok(&g, x->dtype))
        return avf_cuda_conv_short1d(ctx, &g, x, w, b, ep, y);
#endif
    AVF_TRY(conv_dispatch(ctx, &g, 0, x, w, NULL, y));
    return avf_op_epilogue(ctx, ep, y, b, 1, y);
}

avf_status avf_op_conv(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                       const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    return conv_entry(ctx, p, 0, x, w, b, y);
}

avf_status avf_op_conv_transpose(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                                 const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    return conv_entry(ctx, p, 1, x, w, b, y);
}
