/* Internal: checks and descriptor building shared by the image family's
 * entry points (ops/image.c, image_scene.c, image_draw.c). Host only. */
#ifndef AVF_OPS_IMAGE_IMPL_H
#define AVF_OPS_IMAGE_IMPL_H

#include "ops/image.h"
#include "ops/image_px.h"

#ifdef AVF_HAVE_CUDA
#define AVF_IMAGE_DISPATCH(ctx, name, ...)                                                  \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__)                           \
                               : avf_cuda_##name(ctx, __VA_ARGS__))
#else
#define AVF_IMAGE_DISPATCH(ctx, name, ...) \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__) : AVF_OP_NO_CUDA(#name))
#endif

/* Image tensor dims for `layout`: rank 4, or rank 3 meaning N = 1. Checks
 * the bounds (N <= 4096, C 1..64, sides 1..16384). */
avf_status avf_image_dims(const char *op, const char *what, int ndim, const int64_t *dims,
                          avf_image_layout layout, int64_t *N, int64_t *C, int64_t *H,
                          int64_t *W);
/* Element strides of a contiguous image of that layout. */
void avf_image_strides(avf_image_layout layout, int64_t C, int64_t H, int64_t W, int64_t *sn,
                       int64_t *sc, int64_t *sh, int64_t *sw);
/* The frame is usable on ctx (format, even sizes, pitches, pointers,
 * device, alignment) and roi (w/h 0: whole frame) lies inside it; *out gets
 * the ROI in effect. */
avf_status avf_image_check_frame(const avf_op_ctx *ctx, const char *op, int index,
                                 const avf_yuv_frame *f, const avf_rect *roi, avf_rect *out);
/* The frame's planes and the conversion coefficients (avf_px_yuv). */
avf_status avf_image_yuv_desc(const avf_yuv_colour *c, const avf_yuv_frame *f, avf_px_yuv *out);
/* a[c] = scale/std, b[c] = -mean/std for C channels (identity when
 * n_channels is 0); checks the values. */
avf_status avf_image_norm_coefs(const char *op, const avf_image_norm_params *p, int64_t C,
                                float *a, float *b);

#endif /* AVF_OPS_IMAGE_IMPL_H */
