/* avf_op_quad_crop (ops/image_crop.h): checks, the host half of the
 * coordinate maps, dispatch to ops/cpu/image_crop.c or ops/cuda/image_crop.cu. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/image_crop.h"
#include "ops/image_crop_px.h"

avf_status avf_cpu_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n, const avf_qc_out *o);
#ifdef AVF_HAVE_CUDA
avf_status avf_cuda_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n, const avf_qc_out *o);
#endif

/* The projective map of the unit square onto the quad (p0 at (0,0), p1 at
 * (1,0), p2 at (1,1), p3 at (0,1)), in double; fails on a degenerate quad. */
static avf_status square_to_quad(const float *q, float *hm) {
    double x0 = q[0], y0 = q[1], x1 = q[2], y1 = q[3], x2 = q[4], y2 = q[5], x3 = q[6], y3 = q[7];
    double dx1 = x1 - x2, dx2 = x3 - x2, dx3 = x0 - x1 + x2 - x3;
    double dy1 = y1 - y2, dy2 = y3 - y2, dy3 = y0 - y1 + y2 - y3;
    double det = dx1 * dy2 - dx2 * dy1;
    if (!(fabs(det) > 1e-9))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: degenerate quad (%g,%g %g,%g %g,%g %g,%g)",
                        x0, y0, x1, y1, x2, y2, x3, y3);
    double g = (dx3 * dy2 - dx2 * dy3) / det, h = (dx1 * dy3 - dx3 * dy1) / det;
    hm[0] = (float)(x1 - x0 + g * x1);
    hm[1] = (float)(x3 - x0 + h * x3);
    hm[2] = (float)x0;
    hm[3] = (float)(y1 - y0 + g * y1);
    hm[4] = (float)(y3 - y0 + h * y3);
    hm[5] = (float)y0;
    hm[6] = (float)g;
    hm[7] = (float)h;
    return AVF_OK;
}

static avf_status make_desc(const avf_op_ctx *ctx, const avf_quad_crop_item *it, int i,
                            int64_t N, int64_t C, int64_t H, int64_t W, avf_qc_desc *d) {
    const avf_tensor *s = it->src;
    AVF_TRY(avf_op_check_tensor(ctx, s, "quad_crop: src"));
    if (s->dtype != AVF_DTYPE_U8)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: source must be u8", i);
    int r = s->ndim;
    if (!(r == 3 || (r == 4 && s->shape[0] == 1)))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: source must be [C,H,W] or [1,C,H,W]", i);
    int64_t sc = s->shape[r - 3], sh = s->shape[r - 2], sw = s->shape[r - 1];
    if (sc != C)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d has %lld channels, dst %lld", i,
                        (long long)sc, (long long)C);
    if (sh < 1 || sw < 1 || sh > AVF_IMAGE_MAX_SIDE || sw > AVF_IMAGE_MAX_SIDE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: source %lldx%lld out of bounds", i,
                        (long long)sw, (long long)sh);
    if (it->slot < 0 || it->slot >= N)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: slot %d outside [0, %lld)", i,
                        it->slot, (long long)N);
    if (it->out_w < 1 || it->out_w > W)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: out_w %d outside [1, %lld]", i,
                        it->out_w, (long long)W);
    if (!(it->crop_w >= 1.0f && it->crop_w <= 65536.0f && it->crop_h >= 1.0f &&
          it->crop_h <= 65536.0f && it->crop_w == floorf(it->crop_w) &&
          it->crop_h == floorf(it->crop_h)))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: crop size %gx%g out of bounds", i,
                        (double)it->crop_w, (double)it->crop_h);
    double lim = 4.0 * (double)(sw > sh ? sw : sh);
    for (int k = 0; k < 8; k++)
        if (!isfinite(it->quad[k]) || fabs(it->quad[k]) > lim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: item %d: quad coordinate %g out of bounds",
                            i, (double)it->quad[k]);
    memset(d, 0, sizeof *d);
    d->src = s->data;
    d->sw = (int)sw;
    d->sh = (int)sh;
    d->out_w = it->out_w;
    d->slot = it->slot;
    AVF_TRY(square_to_quad(it->quad, d->hm));
    d->cw = (int)it->crop_w;
    d->ch = (int)it->crop_h;
    d->inv_cw = (float)(1.0 / d->cw);
    d->inv_ch = (float)(1.0 / d->ch);
    d->rx = (float)((double)d->cw / it->out_w);
    d->ry = (float)((double)d->ch / (double)H);
    return AVF_OK;
}

avf_status avf_op_quad_crop(avf_op_ctx *ctx, const avf_quad_crop_params *p,
                            const avf_quad_crop_item *items, int n, avf_tensor *dst) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL && dst != NULL && (items != NULL || n == 0));
    if (n < 0 || n > AVF_QUAD_CROP_MAX_ITEMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: %d items (at most %d)", n,
                        AVF_QUAD_CROP_MAX_ITEMS);
    AVF_TRY(avf_op_check_tensor(ctx, dst, "quad_crop: dst"));
    const avf_dtype fl[2] = {AVF_DTYPE_F32, AVF_DTYPE_F16};
    AVF_TRY(avf_op_check_dtype(dst, "quad_crop: dst", fl, 2));
    if (dst->ndim != 4)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: dst must be [N,C,H,W]");
    int64_t N = dst->shape[0], C = dst->shape[1], H = dst->shape[2], W = dst->shape[3];
    if (C < 1 || C > AVF_QUAD_CROP_MAX_CHANNELS || H < 1 || W < 1 || H > AVF_IMAGE_MAX_SIDE ||
        W > AVF_IMAGE_MAX_SIDE || N < 1 || N > AVF_QUAD_CROP_MAX_ITEMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: dst [%lld,%lld,%lld,%lld] out of bounds",
                        (long long)N, (long long)C, (long long)H, (long long)W);
    avf_qc_out o;
    memset(&o, 0, sizeof o);
    o.data = dst->data;
    o.dt = (int)dst->dtype;
    o.C = (int)C;
    o.H = H;
    o.W = W;
    o.pad = p->pad;
    for (int c = 0; c < C; c++) {
        if (!isfinite(p->a[c]) || !isfinite(p->b[c]))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: channel %d coefficients not finite", c);
        o.a[c] = p->a[c];
        o.b[c] = p->b[c];
    }
    if (!isfinite(p->pad))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: pad is not finite");
    if (n == 0)
        return AVF_OK;
    avf_qc_desc *d = calloc((size_t)n, sizeof *d);
    unsigned char *used = calloc((size_t)N, 1);
    avf_status st = (d && used) ? AVF_OK : AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "quad_crop: descriptors");
    for (int i = 0; st == AVF_OK && i < n; i++) {
        st = make_desc(ctx, &items[i], i, N, C, H, W, &d[i]);
        if (st == AVF_OK && used[d[i].slot]++)
            st = AVF_FAIL(AVF_ERR_INVALID_ARG, "quad_crop: slot %d named twice", d[i].slot);
    }
    if (st == AVF_OK) {
        if (avf_op_device_is_cpu(ctx))
            st = avf_cpu_quad_crop(ctx, d, n, &o);
        else {
#ifdef AVF_HAVE_CUDA
            st = avf_cuda_quad_crop(ctx, d, n, &o);
#else
            st = AVF_OP_NO_CUDA("quad_crop");
#endif
        }
    }
    free(d);
    free(used);
    return st;
}
