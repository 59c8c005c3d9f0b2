/* Checks, geometry and dispatch of the image family's conversion, resize,
 * letterbox, crop, normalize and fused preprocess (ops/image.h). Every op
 * becomes one of two descriptors of ops/image_px.h (a tensor op or a list of
 * YUV items) so that one CPU loop and one CUDA kernel serve each kind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/image_cpu.h"
#include "ops/cuda/image_cuda.h"
#include "ops/image_impl.h"

static const avf_dtype img_dtypes[] = {AVF_DTYPE_U8, AVF_DTYPE_F32, AVF_DTYPE_F16};
static const avf_dtype float_dtypes[] = {AVF_DTYPE_F32, AVF_DTYPE_F16};

/* ---------------------------------------------------------------- shared checks */

static avf_status check_side(const char *op, const char *what, int64_t v) {
    if (v < 1 || v > AVF_IMAGE_MAX_SIDE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s %lld is outside [1, %d]", op, what,
                        (long long)v, AVF_IMAGE_MAX_SIDE);
    return AVF_OK;
}

avf_status avf_image_dims(const char *op, const char *what, int ndim, const int64_t *dims,
                          avf_image_layout layout, int64_t *N, int64_t *C, int64_t *H,
                          int64_t *W) {
    if (layout != AVF_IMAGE_NCHW && layout != AVF_IMAGE_NHWC)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: unknown layout %d", op, (int)layout);
    if ((ndim != 3 && ndim != 4) || !dims)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s must be rank 3 or 4 (rank %d)", op, what,
                        ndim);
    const int64_t *d = ndim == 4 ? dims + 1 : dims;
    *N = ndim == 4 ? dims[0] : 1;
    if (layout == AVF_IMAGE_NCHW) {
        *C = d[0];
        *H = d[1];
        *W = d[2];
    } else {
        *H = d[0];
        *W = d[1];
        *C = d[2];
    }
    if (*N < 0 || *N > AVF_IMAGE_MAX_BATCH)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s batch %lld is outside [0, %d]", op, what,
                        (long long)*N, AVF_IMAGE_MAX_BATCH);
    if (*C < 1 || *C > AVF_IMAGE_MAX_CHANNELS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s has %lld channels (1..%d)", op, what,
                        (long long)*C, AVF_IMAGE_MAX_CHANNELS);
    AVF_TRY(check_side(op, "height", *H));
    AVF_TRY(check_side(op, "width", *W));
    return AVF_OK;
}

void avf_image_strides(avf_image_layout layout, int64_t C, int64_t H, int64_t W, int64_t *sn,
                       int64_t *sc, int64_t *sh, int64_t *sw) {
    *sn = C * H * W;
    if (layout == AVF_IMAGE_NCHW) {
        *sc = H * W;
        *sh = W;
        *sw = 1;
    } else {
        *sc = 1;
        *sh = W * C;
        *sw = C;
    }
}

avf_status avf_image_check_frame(const avf_op_ctx *ctx, const char *op, int index,
                                 const avf_yuv_frame *f, const avf_rect *roi, avf_rect *out) {
    if (!f)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: frame %d is NULL", op, index);
    if (f->format != AVF_YUV_NV12 && f->format != AVF_YUV_P010)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: frame %d has unknown format %d", op, index,
                        (int)f->format);
    if (f->width < 2 || f->height < 2 || f->width > AVF_IMAGE_MAX_SIDE ||
        f->height > AVF_IMAGE_MAX_SIDE || f->width % 2 || f->height % 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "%s: frame %d is %dx%d; 4:2:0 needs even sides in [2, %d]", op, index,
                        f->width, f->height, AVF_IMAGE_MAX_SIDE);
    int64_t bps = f->format == AVF_YUV_P010 ? 2 : 1, row = (int64_t)f->width * bps;
    if (f->y_pitch < row || f->uv_pitch < row || f->y_pitch > ((int64_t)1 << 20) ||
        f->uv_pitch > ((int64_t)1 << 20))
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "%s: frame %d pitches %lld/%lld bytes must be in [%lld, 2^20]", op, index,
                        (long long)f->y_pitch, (long long)f->uv_pitch, (long long)row);
    if (!f->y || !f->uv)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: frame %d has a NULL plane", op, index);
    if (bps == 2 && ((f->y_pitch | f->uv_pitch) % 2 || ((uintptr_t)f->y | (uintptr_t)f->uv) % 2))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: P010 frame %d has odd pitches or planes", op,
                        index);
    if (f->device != ctx->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: frame %d is on %s, the op runs on %s", op,
                        index, f->device ? avf_device_get_name(f->device) : "(no device)",
                        avf_device_get_name(ctx->dev));
    avf_rect r = {0, 0, f->width, f->height};
    if (roi && roi->w != 0 && roi->h != 0)
        r = *roi;
    if (r.x < 0 || r.y < 0 || r.w < 1 || r.h < 1 || r.x > f->width - r.w ||
        r.y > f->height - r.h)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: ROI %d,%d %dx%d is not inside frame %d (%dx%d)",
                        op, r.x, r.y, r.w, r.h, index, f->width, f->height);
    *out = r;
    return AVF_OK;
}

avf_status avf_image_yuv_desc(const avf_yuv_colour *c, const avf_yuv_frame *f, avf_px_yuv *o) {
    double kr, kb;
    if (c->matrix == AVF_YUV_BT601) {
        kr = 0.299;
        kb = 0.114;
    } else if (c->matrix == AVF_YUV_BT709) {
        kr = 0.2126;
        kb = 0.0722;
    } else {
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "colour: unknown matrix %d", (int)c->matrix);
    }
    if (c->range != AVF_YUV_LIMITED && c->range != AVF_YUV_FULL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "colour: unknown range %d", (int)c->range);
    if (c->order != AVF_RGB && c->order != AVF_BGR)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "colour: unknown channel order %d", (int)c->order);
    int bits = f->format == AVF_YUV_P010 ? 10 : 8;
    double k = (double)(1 << (bits - 8)), maxv = (double)((1 << bits) - 1);
    double ky, oy, cs, oc = (double)(1 << (bits - 1));
    if (c->range == AVF_YUV_LIMITED) {
        oy = 16.0 * k;
        ky = 255.0 / (219.0 * k);
        cs = 255.0 / (224.0 * k);
    } else {
        oy = 0.0;
        ky = 255.0 / maxv;
        cs = 255.0 / maxv;
    }
    double kg = 1.0 - kr - kb;
    memset(o, 0, sizeof *o);
    o->y = (const uint8_t *)f->y;
    o->uv = (const uint8_t *)f->uv;
    o->y_pitch = f->y_pitch;
    o->uv_pitch = f->uv_pitch;
    o->p010 = bits == 10;
    o->ky = (float)ky;
    o->oy = (float)oy;
    o->oc = (float)oc;
    o->crv = (float)(2.0 * (1.0 - kr) * cs);
    o->cbu = (float)(2.0 * (1.0 - kb) * cs);
    o->cgu = (float)(-2.0 * kb * (1.0 - kb) / kg * cs);
    o->cgv = (float)(-2.0 * kr * (1.0 - kr) / kg * cs);
    return AVF_OK;
}

avf_status avf_image_norm_coefs(const char *op, const avf_image_norm_params *p, int64_t C,
                                float *a, float *b) {
    float scale = p->scale == 0.0f ? 1.0f : p->scale;
    if (!isfinite(scale))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: scale is not finite", op);
    if (p->n_channels != 0 && p->n_channels != C)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %d mean/std values for %lld channels", op,
                        p->n_channels, (long long)C);
    for (int64_t c = 0; c < C; c++) {
        double m = p->n_channels ? p->mean[c] : 0.0, s = p->n_channels ? p->std[c] : 1.0;
        if (!isfinite(m) || !(s > 0.0) || !isfinite(s))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: channel %lld has mean %g, std %g", op,
                            (long long)c, m, s);
        a[c] = (float)((double)scale / s);
        b[c] = (float)(-m / s);
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- geometry */

avf_status avf_letterbox_fit(int in_w, int in_h, int out_w, int out_h, avf_letterbox_geom *g) {
    AVF_CHECK_ARG(g != NULL);
    AVF_TRY(check_side("letterbox", "input width", in_w));
    AVF_TRY(check_side("letterbox", "input height", in_h));
    AVF_TRY(check_side("letterbox", "output width", out_w));
    AVF_TRY(check_side("letterbox", "output height", out_h));
    double s = fmin((double)out_w / in_w, (double)out_h / in_h);
    int w = (int)lround(in_w * s), h = (int)lround(in_h * s);
    w = w < 1 ? 1 : w > out_w ? out_w : w;
    h = h < 1 ? 1 : h > out_h ? out_h : h;
    g->box.x = (out_w - w) / 2;
    g->box.y = (out_h - h) / 2;
    g->box.w = w;
    g->box.h = h;
    g->scale_x = (double)w / in_w;
    g->scale_y = (double)h / in_h;
    g->offset_x = g->box.x;
    g->offset_y = g->box.y;
    return AVF_OK;
}

void avf_letterbox_unmap(const avf_letterbox_geom *g, double x, double y, double *sx, double *sy) {
    *sx = (x - g->offset_x) / g->scale_x;
    *sy = (y - g->offset_y) / g->scale_y;
}

static void map_set(avf_px_map *m, int mode, avf_rect roi, avf_rect box) {
    memset(m, 0, sizeof *m);
    m->mode = mode;
    m->roi_x = roi.x;
    m->roi_y = roi.y;
    m->roi_w = roi.w;
    m->roi_h = roi.h;
    m->box_x = box.x;
    m->box_y = box.y;
    m->box_w = box.w;
    m->box_h = box.h;
    m->scale_x = (float)((double)roi.w / box.w);
    m->scale_y = (float)((double)roi.h / box.h);
}

/* ---------------------------------------------------------------- tensor images */

/* Runs a tensor op: x [N, C, H, W] -> y [N, C, oh, ow] (per layout) with
 * the ROI, the box and the coefficients given; y's shape must already
 * match. */
static avf_status run_tensor_op(avf_op_ctx *ctx, avf_image_layout layout, int mode,
                                const avf_rect *roi, const avf_rect *box, const float *a,
                                const float *b, const float *pad, const avf_tensor *x,
                                avf_tensor *y) {
    int64_t N, C, H, W, oN, oC, oH, oW;
    AVF_TRY(avf_image_dims("image", "x", x->ndim, x->shape, layout, &N, &C, &H, &W));
    AVF_TRY(avf_image_dims("image", "y", y->ndim, y->shape, layout, &oN, &oC, &oH, &oW));
    if (N == 0)
        return AVF_OK;
    avf_px_tensor_op t;
    memset(&t, 0, sizeof t);
    map_set(&t.m, mode, *roi, *box);
    int64_t sn, sc, sh, sw;
    avf_image_strides(layout, C, H, W, &sn, &sc, &sh, &sw);
    t.in.data = x->data;
    t.in.dt = (int)x->dtype;
    t.in.sc = sc;
    t.in.sh = sh;
    t.in.sw = sw;
    t.in_sn = sn;
    t.out = y->data;
    t.out_dt = (int)y->dtype;
    t.C = C;
    t.H = oH;
    t.W = oW;
    avf_image_strides(layout, C, oH, oW, &t.sn, &t.sc, &t.sh, &t.sw);
    for (int64_t c = 0; c < C; c++) {
        t.a[c] = a ? a[c] : 1.0f;
        t.b[c] = b ? b[c] : 0.0f;
        t.pad[c] = pad ? pad[c] : 0.0f;
    }
    return AVF_IMAGE_DISPATCH(ctx, image_tensor, &t, N);
}

static avf_status check_xy(const avf_op_ctx *ctx, const avf_tensor *x, const avf_tensor *y,
                           const avf_dtype *ydt, int nydt) {
    AVF_CHECK_ARG(ctx != NULL && x != NULL && y != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "x"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "y"));
    AVF_TRY(avf_op_check_dtype(x, "x", img_dtypes, 3));
    AVF_TRY(avf_op_check_dtype(y, "y", ydt, nydt));
    return AVF_OK;
}

/* dims with the sides replaced by h x w. */
static void with_sides(avf_image_layout layout, int ndim, const int64_t *dims, int64_t h,
                       int64_t w, int64_t *out) {
    memcpy(out, dims, (size_t)ndim * sizeof *dims);
    int o = ndim - 3 + (layout == AVF_IMAGE_NCHW ? 1 : 0);
    out[o] = h;
    out[o + 1] = w;
}

avf_status avf_image_resize_shape(const avf_image_resize_params *p, int ndim, const int64_t *dims,
                                  int64_t *out_dims) {
    AVF_CHECK_ARG(p != NULL && out_dims != NULL);
    int64_t N, C, H, W;
    AVF_TRY(avf_image_dims("resize", "x", ndim, dims, p->layout, &N, &C, &H, &W));
    if (p->mode != AVF_RESIZE_BILINEAR && p->mode != AVF_RESIZE_AREA)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "resize: unknown mode %d", (int)p->mode);
    AVF_TRY(check_side("resize", "output width", p->out_w));
    AVF_TRY(check_side("resize", "output height", p->out_h));
    with_sides(p->layout, ndim, dims, p->out_h, p->out_w, out_dims);
    return AVF_OK;
}

avf_status avf_op_image_resize(avf_op_ctx *ctx, const avf_image_resize_params *p,
                               const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    int64_t od[4], N, C, H, W;
    AVF_TRY(avf_image_resize_shape(p, x->ndim, x->shape, od));
    AVF_TRY(check_xy(ctx, x, y, &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "y", x->ndim, od));
    AVF_TRY(avf_image_dims("resize", "x", x->ndim, x->shape, p->layout, &N, &C, &H, &W));
    avf_rect roi = {0, 0, (int)W, (int)H}, box = {0, 0, p->out_w, p->out_h};
    return run_tensor_op(ctx, p->layout, p->mode, &roi, &box, NULL, NULL, NULL, x, y);
}

avf_status avf_op_image_letterbox(avf_op_ctx *ctx, const avf_image_letterbox_params *p,
                                  const avf_tensor *x, avf_tensor *y, avf_letterbox_geom *g) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    avf_image_resize_params rp = {p->layout, p->mode, p->out_w, p->out_h};
    int64_t od[4], N, C, H, W;
    AVF_TRY(avf_image_resize_shape(&rp, x->ndim, x->shape, od));
    AVF_TRY(check_xy(ctx, x, y, &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "y", x->ndim, od));
    AVF_TRY(avf_image_dims("letterbox", "x", x->ndim, x->shape, p->layout, &N, &C, &H, &W));
    for (int64_t c = 0; c < C; c++)
        if (!isfinite(p->pad[c]))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "letterbox: pad of channel %lld is not finite",
                            (long long)c);
    avf_letterbox_geom lg;
    AVF_TRY(avf_letterbox_fit((int)W, (int)H, p->out_w, p->out_h, &lg));
    if (g)
        *g = lg;
    avf_rect roi = {0, 0, (int)W, (int)H};
    return run_tensor_op(ctx, p->layout, p->mode, &roi, &lg.box, NULL, NULL, p->pad, x, y);
}

avf_status avf_image_crop_shape(avf_image_layout layout, const avf_rect *roi, int ndim,
                                const int64_t *dims, int64_t *out_dims) {
    AVF_CHECK_ARG(roi != NULL && out_dims != NULL);
    int64_t N, C, H, W;
    AVF_TRY(avf_image_dims("crop", "x", ndim, dims, layout, &N, &C, &H, &W));
    if (roi->x < 0 || roi->y < 0 || roi->w < 1 || roi->h < 1 || roi->x > W - roi->w ||
        roi->y > H - roi->h)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "crop: ROI %d,%d %dx%d is not inside %lldx%lld",
                        roi->x, roi->y, roi->w, roi->h, (long long)W, (long long)H);
    with_sides(layout, ndim, dims, roi->h, roi->w, out_dims);
    return AVF_OK;
}

avf_status avf_op_image_crop(avf_op_ctx *ctx, avf_image_layout layout, const avf_rect *roi,
                             const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(roi != NULL && x != NULL);
    int64_t od[4];
    AVF_TRY(avf_image_crop_shape(layout, roi, x->ndim, x->shape, od));
    AVF_TRY(check_xy(ctx, x, y, &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "y", x->ndim, od));
    avf_rect box = {0, 0, roi->w, roi->h};
    return run_tensor_op(ctx, layout, AVF_RESIZE_BILINEAR, roi, &box, NULL, NULL, NULL, x, y);
}

avf_status avf_op_image_normalize(avf_op_ctx *ctx, const avf_image_norm_params *p,
                                  const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    int64_t N, C, H, W;
    AVF_TRY(avf_image_dims("normalize", "x", x->ndim, x->shape, p->layout, &N, &C, &H, &W));
    AVF_TRY(check_xy(ctx, x, y, float_dtypes, 2));
    AVF_TRY(avf_op_check_shape(y, "y", x->ndim, x->shape));
    float a[AVF_IMAGE_MAX_CHANNELS], b[AVF_IMAGE_MAX_CHANNELS];
    AVF_TRY(avf_image_norm_coefs("normalize", p, C, a, b));
    avf_rect full = {0, 0, (int)W, (int)H};
    return run_tensor_op(ctx, p->layout, AVF_RESIZE_BILINEAR, &full, &full, a, b, NULL, x, y);
}

/* ---------------------------------------------------------------- YUV frames */

static avf_status run_items(avf_op_ctx *ctx, const avf_px_item *items, int n, avf_tensor *dst,
                            avf_image_layout layout, int bgr, const float *a, const float *b,
                            const float *pad) {
    int64_t N, C, H, W;
    AVF_TRY(avf_image_dims("preprocess", "dst", dst->ndim, dst->shape, layout, &N, &C, &H, &W));
    avf_px_out o;
    memset(&o, 0, sizeof o);
    o.data = dst->data;
    o.dt = (int)dst->dtype;
    o.H = H;
    o.W = W;
    avf_image_strides(layout, C, H, W, &o.sn, &o.sc, &o.sh, &o.sw);
    o.bgr = bgr;
    for (int c = 0; c < 3; c++) {
        o.a[c] = a[c];
        o.b[c] = b[c];
        o.pad[c] = pad[c];
    }
    return AVF_IMAGE_DISPATCH(ctx, image_preprocess, items, n, &o);
}

avf_status avf_op_yuv_to_rgb(avf_op_ctx *ctx, const avf_yuv_colour *c, avf_image_layout layout,
                             const avf_yuv_frame *frame, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL && c != NULL && y != NULL);
    avf_rect roi;
    AVF_TRY(avf_image_check_frame(ctx, "yuv_to_rgb", 0, frame, NULL, &roi));
    AVF_TRY(avf_op_check_tensor(ctx, y, "y"));
    AVF_TRY(avf_op_check_dtype(y, "y", img_dtypes, 3));
    int64_t N, C, H, W;
    AVF_TRY(avf_image_dims("yuv_to_rgb", "y", y->ndim, y->shape, layout, &N, &C, &H, &W));
    if (N != 1 || C != 3 || H != frame->height || W != frame->width)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "yuv_to_rgb: y must be one 3-channel %dx%d image (is %lld x %lld ch "
                        "%lldx%lld)",
                        frame->width, frame->height, (long long)N, (long long)C, (long long)W,
                        (long long)H);
    avf_px_item it;
    memset(&it, 0, sizeof it);
    AVF_TRY(avf_image_yuv_desc(c, frame, &it.f));
    map_set(&it.m, AVF_RESIZE_BILINEAR, roi, roi);
    static const float one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    return run_items(ctx, &it, 1, y, layout, c->order == AVF_BGR, one, zero, zero);
}

avf_status avf_op_preprocess(avf_op_ctx *ctx, const avf_preprocess_params *p,
                             const avf_preprocess_item *items, int n, avf_tensor *dst,
                             avf_letterbox_geom *geoms) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL && dst != NULL);
    if (n < 0 || n > AVF_IMAGE_MAX_BATCH || (n > 0 && !items))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "preprocess: %d items (0..%d)", n,
                        AVF_IMAGE_MAX_BATCH);
    AVF_TRY(avf_op_check_tensor(ctx, dst, "dst"));
    AVF_TRY(avf_op_check_dtype(dst, "dst", img_dtypes, 3));
    int64_t N, C, H, W;
    avf_image_layout layout = p->norm.layout;
    AVF_TRY(avf_image_dims("preprocess", "dst", dst->ndim, dst->shape, layout, &N, &C, &H, &W));
    if (C != 3)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "preprocess: dst has %lld channels, not 3",
                        (long long)C);
    if (p->mode != AVF_RESIZE_BILINEAR && p->mode != AVF_RESIZE_AREA)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "preprocess: unknown resize mode %d", (int)p->mode);
    if (p->fit != AVF_FIT_STRETCH && p->fit != AVF_FIT_LETTERBOX)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "preprocess: unknown fit %d", (int)p->fit);
    float a[3], b[3];
    AVF_TRY(avf_image_norm_coefs("preprocess", &p->norm, 3, a, b));
    if (dst->dtype == AVF_DTYPE_U8 && (a[0] != 1 || a[1] != 1 || a[2] != 1 || b[0] != 0 ||
                                       b[1] != 0 || b[2] != 0))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "preprocess: u8 output cannot be normalized");
    for (int c = 0; c < 3; c++)
        if (!isfinite(p->pad[c]))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "preprocess: pad %d is not finite", c);
    if (n == 0)
        return AVF_OK;
    avf_px_item *d = calloc((size_t)n, sizeof *d);
    uint8_t *used = calloc((size_t)N + 1, 1);
    avf_status s = d && used ? AVF_OK
                             : AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "preprocess: no memory for %d items", n);
    for (int i = 0; s == AVF_OK && i < n; i++) {
        const avf_preprocess_item *it = &items[i];
        avf_rect roi;
        s = avf_image_check_frame(ctx, "preprocess", i, &it->frame, &it->roi, &roi);
        if (s == AVF_OK && (it->slot < 0 || it->slot >= N || used[it->slot]))
            s = AVF_FAIL(AVF_ERR_INVALID_ARG,
                         "preprocess: item %d's slot %d is outside [0, %lld) or taken", i,
                         it->slot, (long long)N);
        if (s == AVF_OK)
            s = avf_image_yuv_desc(&p->colour, &it->frame, &d[i].f);
        avf_letterbox_geom g;
        memset(&g, 0, sizeof g);
        if (s == AVF_OK && p->fit == AVF_FIT_LETTERBOX) {
            s = avf_letterbox_fit(roi.w, roi.h, (int)W, (int)H, &g);
        } else if (s == AVF_OK) {
            g.box = (avf_rect){0, 0, (int)W, (int)H};
            g.scale_x = (double)W / roi.w;
            g.scale_y = (double)H / roi.h;
        }
        if (s != AVF_OK)
            break;
        used[it->slot] = 1;
        /* dst = (src - roi origin) * scale + box origin */
        g.offset_x = g.box.x - roi.x * g.scale_x;
        g.offset_y = g.box.y - roi.y * g.scale_y;
        if (geoms)
            geoms[i] = g;
        map_set(&d[i].m, p->mode, roi, g.box);
        d[i].slot = it->slot;
    }
    if (s == AVF_OK)
        s = run_items(ctx, d, n, dst, layout, p->colour.order == AVF_BGR, a, b, p->pad);
    free(d);
    free(used);
    return s;
}
