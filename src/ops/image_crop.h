/* Internal: the image_crop op family (see ops/op.h): perspective crops of
 * quadrilaterals out of planar u8 images, resized and normalized into one
 * batch, for text recognition (OCR: each detected text box becomes one row
 * of the recognizer's [N, C, H, W] input).
 *
 *   avf_op_quad_crop   items (source image + quad) -> dst [N, C, H, W] f32/f16
 *
 * The rule (ops/image_crop_px.h, shared by the CPU and CUDA kernels) is
 * rapidocr's get_rotate_crop_image + resize_norm_img in one pass: a quad
 * p0..p3 (clockwise from top-left, source pixel coordinates) is warped to a
 * crop of crop_w x crop_h pixels (integers; p0 -> (0,0), p1 -> (crop_w,0),
 * p2 -> (crop_w,crop_h), p3 -> (0,crop_h): a projective map, like OpenCV's
 * getPerspectiveTransform + warpPerspective with INTER_CUBIC and
 * BORDER_REPLICATE, rounded to u8), and the crop is resized to out_w x H
 * bilinearly with half-pixel centres (cv2.resize, rounded to u8). Each
 * output pixel evaluates the 4 crop pixels its bilinear tap needs (16
 * source taps each), so no crop is stored. Columns x >= out_w are padding
 * and get `pad` (e.g. 0 after normalization, as PaddleOCR pads).
 * Values: y = v * a[c] + b[c] where v is on the 8-bit scale; rapidocr's
 * (v/255 - 0.5)/0.5 is a = 2/255, b = -1.
 *
 * Limits: n <= 4096 items, C 1..4, H, W 1..16384, sources 1..16384 per side,
 * every quad coordinate finite and within 4 source sides of the image,
 * crop_w, crop_h integers in [1, 65536], out_w 1..W. Returns a status naming what is
 * out of bounds, never aborts.
 */
#ifndef AVF_OPS_IMAGE_CROP_H
#define AVF_OPS_IMAGE_CROP_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_QUAD_CROP_MAX_ITEMS 4096
#define AVF_QUAD_CROP_MAX_CHANNELS 4

typedef struct avf_quad_crop_item {
    const avf_tensor *src; /* [C, Hs, Ws] or [1, C, Hs, Ws] u8 on ctx's device */
    float quad[8];         /* x0,y0, x1,y1, x2,y2, x3,y3 in source pixels */
    float crop_w, crop_h;  /* the crop's size before the resize (integers) */
    int out_w;             /* valid output columns (1..W); the rest is pad */
    int slot;              /* output row 0..N-1; slots of one call must differ */
} avf_quad_crop_item;

typedef struct avf_quad_crop_params {
    float a[AVF_QUAD_CROP_MAX_CHANNELS]; /* y = v * a[c] + b[c] */
    float b[AVF_QUAD_CROP_MAX_CHANNELS];
    float pad;                           /* value of columns >= out_w */
} avf_quad_crop_params;

/* items[n] -> dst [N, C, H, W] f32 or f16 on ctx's device (C = the sources'
 * channels). Rows no item names are left untouched. Descriptors travel to
 * the device in one async H2D copy from pool scratch (ledger tag
 * "image.desc"); the host array may be freed at return. */
avf_status avf_op_quad_crop(avf_op_ctx *ctx, const avf_quad_crop_params *p,
                            const avf_quad_crop_item *items, int n, avf_tensor *dst);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_IMAGE_CROP_H */
