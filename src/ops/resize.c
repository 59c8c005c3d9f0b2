/* Resize: attribute parsing, output-size planning, shape, dispatch. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ops/conv.h"
#include "ops/cpu/conv_cpu.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/conv_cuda.h"
#endif

avf_status avf_resize_mode_parse(const char *s, avf_resize_mode *out) {
    AVF_CHECK_ARG(out != NULL);
    if (!s || !strcmp(s, "nearest"))
        *out = AVF_RESIZE_NEAREST;
    else if (!strcmp(s, "linear") || !strcmp(s, "bilinear")) /* Upsample-7 said bilinear */
        *out = AVF_RESIZE_LINEAR;
    else if (!strcmp(s, "cubic") || !strcmp(s, "bicubic"))
        *out = AVF_RESIZE_CUBIC;
    else
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: unknown mode '%s'", s);
    return AVF_OK;
}

avf_status avf_resize_coord_parse(const char *s, avf_resize_coord *out) {
    static const struct {
        const char *name;
        avf_resize_coord v;
    } t[] = {{"half_pixel", AVF_RESIZE_HALF_PIXEL},
             {"half_pixel_symmetric", AVF_RESIZE_HALF_PIXEL_SYMMETRIC},
             {"pytorch_half_pixel", AVF_RESIZE_PYTORCH_HALF_PIXEL},
             {"align_corners", AVF_RESIZE_ALIGN_CORNERS},
             {"asymmetric", AVF_RESIZE_ASYMMETRIC},
             {"tf_half_pixel_for_nn", AVF_RESIZE_TF_HALF_PIXEL_FOR_NN},
             {"tf_crop_and_resize", AVF_RESIZE_TF_CROP_AND_RESIZE}};
    AVF_CHECK_ARG(out != NULL);
    if (!s) {
        *out = AVF_RESIZE_HALF_PIXEL;
        return AVF_OK;
    }
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].name)) {
            *out = t[i].v;
            return AVF_OK;
        }
    return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: unknown coordinate_transformation_mode '%s'",
                    s);
}

avf_status avf_resize_nearest_parse(const char *s, avf_resize_nearest *out) {
    AVF_CHECK_ARG(out != NULL);
    if (!s || !strcmp(s, "round_prefer_floor"))
        *out = AVF_RESIZE_ROUND_PREFER_FLOOR;
    else if (!strcmp(s, "round_prefer_ceil"))
        *out = AVF_RESIZE_ROUND_PREFER_CEIL;
    else if (!strcmp(s, "floor"))
        *out = AVF_RESIZE_FLOOR;
    else if (!strcmp(s, "ceil"))
        *out = AVF_RESIZE_CEIL;
    else
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: unknown nearest_mode '%s'", s);
    return AVF_OK;
}

avf_status avf_resize_plan(avf_resize_params *p, int xnd, const int64_t *x, const float *scales,
                           const int64_t *sizes, int n, const int64_t *axes, int keep_policy) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    if (xnd < 1 || xnd > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: X has rank %d", xnd);
    if ((scales == NULL) == (sizes == NULL))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: exactly one of scales and sizes must be "
                        "given");
    if (n != (axes ? n : xnd) || n < 1 || n > xnd)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: %d %s for X of rank %d", n,
                        scales ? "scales" : "sizes", xnd);
    int ax[AVF_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        if (!axes)
            ax[i] = i;
        else
            AVF_TRY(avf_norm_axis(axes[i], xnd, &ax[i]));
        for (int j = 0; j < i; j++)
            if (ax[j] == ax[i])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: axis %d given twice", ax[i]);
    }
    p->ndim = xnd;
    for (int i = 0; i < xnd; i++) {
        if (x[i] < 0 || x[i] > AVF_MAX_NUMEL)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: X dim %d is %lld", i, (long long)x[i]);
        p->scales[i] = 1.0;
        p->out[i] = x[i];
    }
    if (scales) {
        for (int i = 0; i < n; i++) {
            double s = scales[i];
            if (!(s > 0.0) || !isfinite(s))
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: scale %g on axis %d", s, ax[i]);
            double o = floor(s * (double)x[ax[i]]);
            if (o > (double)AVF_MAX_NUMEL)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: output dim %d too large", ax[i]);
            p->scales[ax[i]] = s;
            p->out[ax[i]] = (int64_t)o;
        }
    } else {
        double keep = 0.0;
        for (int i = 0; i < n; i++) {
            if (sizes[i] < 0 || sizes[i] > AVF_MAX_NUMEL)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: size %lld on axis %d",
                                (long long)sizes[i], ax[i]);
            if (x[ax[i]] == 0) {
                if (sizes[i] != 0)
                    return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: axis %d is empty, cannot "
                                    "resize it to %lld", ax[i], (long long)sizes[i]);
                continue;
            }
            double s = (double)sizes[i] / (double)x[ax[i]];
            if (i == 0 || (keep_policy == 1 && s < keep) || (keep_policy == 2 && s > keep))
                keep = s;
            p->scales[ax[i]] = s;
            p->out[ax[i]] = sizes[i];
        }
        if (keep_policy != 0) {
            if (!(keep > 0.0))
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: sizes give scale %g", keep);
            for (int i = 0; i < n; i++) {
                p->scales[ax[i]] = keep;
                p->out[ax[i]] = (int64_t)floor(keep * (double)x[ax[i]] + 0.5);
            }
        }
    }
    int64_t numel = 0;
    AVF_TRY(avf_shape_numel(xnd, p->out, &numel));
    return AVF_OK;
}

avf_status avf_resize_shape(const avf_resize_params *p, int xnd, const int64_t *x, int *ynd,
                            int64_t *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL && ynd != NULL && y != NULL);
    if (xnd != p->ndim || xnd < 1 || xnd > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: X has rank %d, the plan is for rank %d", xnd,
                        p->ndim);
    int64_t in_numel = 1;
    for (int i = 0; i < xnd; i++) {
        if (p->out[i] < 0 || !(p->scales[i] > 0.0) || !isfinite(p->scales[i]))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: axis %d has output %lld, scale %g", i,
                            (long long)p->out[i], p->scales[i]);
        in_numel *= x[i] > 0 ? 1 : 0;
        y[i] = p->out[i];
    }
    *ynd = xnd;
    int64_t numel = 0;
    AVF_TRY(avf_shape_numel(xnd, y, &numel));
    if (numel > 0 && in_numel == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: X is empty but Y is not");
    return AVF_OK;
}

avf_status avf_op_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                         avf_tensor *y) {
    static const avf_dtype lin[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16};
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "X"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Y"));
    if (p->mode != AVF_RESIZE_NEAREST || p->coord == AVF_RESIZE_TF_CROP_AND_RESIZE)
        AVF_TRY(avf_op_check_dtype(x, "X", lin, 3));
    else if (avf_dtype_size(x->dtype) == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: X has an invalid dtype");
    if (y->dtype != x->dtype)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Resize: Y is %s, X is %s", avf_dtype_name(y->dtype),
                        avf_dtype_name(x->dtype));
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    AVF_TRY(avf_resize_shape(p, x->ndim, x->shape, &ynd, ys));
    AVF_TRY(avf_op_check_shape(y, "Y", ynd, ys));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_resize(ctx, p, x, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_resize(ctx, p, x, y);
#else
    return AVF_OP_NO_CUDA("Resize");
#endif
}
