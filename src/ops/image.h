/* Internal: the image op family (see ops/op.h), for video analysis
 * pipelines: decoded frames in, model-ready batches out, and overlays.
 *
 *   colour conversion   avf_op_yuv_to_rgb      NV12/P010 frame -> RGB/BGR u8/f32/f16
 *   resize / letterbox  avf_op_image_resize    [N,C,H,W] or [N,H,W,C] u8/f32/f16
 *                       avf_op_image_letterbox (same, aspect kept, padded)
 *   crop                avf_op_image_crop
 *   normalize           avf_op_image_normalize (x*scale - mean[c]) / std[c]
 *   fused preprocess    avf_op_preprocess      frames -> crop -> resize|letterbox
 *                                              -> colour -> normalize -> batch slots,
 *                                              one launch for the whole batch
 *   scene cuts          avf_op_luma_hist, avf_op_luma_thumb (ops/image_scene.c),
 *                       avf_scene_detector (host decision)
 *   frame sampling      avf_sample_stride, avf_sample_fps (pure host helpers)
 *   drawing             avf_op_draw_rects, avf_op_draw_mask, avf_op_draw_text
 *
 * Frames. An avf_yuv_frame points at the two planes of a 4:2:0 surface in
 * place (an NVDEC output surface needs no copy): Y [H, W] and interleaved UV
 * [H/2, W/2, 2] (U first), each with its own row pitch in bytes. NV12 stores
 * u8 samples; P010 u16 words with the 10-bit value in the high bits (the low
 * 6 bits are ignored). The planes must hold pitch * rows bytes on `device`;
 * avflow cannot check raw pointers, only the sizes it is told.
 *
 * Pixel conventions (one header, ops/image_px.h, computes every output pixel
 * for both the CPU and the CUDA kernels, so the two cannot drift):
 *   - Values are on the 8-bit scale [0, 255] for every dtype: u8 images round
 *     half up and saturate; f32/f16 images keep fractions. A P010 frame
 *     converts to the same scale (its 10 bits give fractional values).
 *   - Colour: BT.601 or BT.709 (Kr, Kb = .299/.114 or .2126/.0722); limited
 *     range Y 16..235, C 16..240 (x4 for 10-bit) or full range 0..2^n-1 with
 *     C centred at 2^(n-1). RGB is clamped to [0, 255]. Chroma of luma pixel
 *     (x, y) is the UV sample (x/2, y/2) (no chroma interpolation).
 *   - Bilinear: half-pixel centres, src = (dst + 0.5) * in/out - 0.5, clamped
 *     to [0, in-1] (OpenCV INTER_LINEAR, torch align_corners=False, no
 *     antialias). Equal sizes copy exactly.
 *   - Area: output pixel x covers [x*s, (x+1)*s) of the input, s = in/out,
 *     and is the average of the input pixels it covers weighted by the
 *     covered fraction of each (OpenCV INTER_AREA when downscaling; when
 *     upscaling this is the same coverage rule, not OpenCV's interpolation).
 *   - Resizing a YUV frame samples the RGB image the conversion would give
 *     (each tap is converted, then weighted), so the fused preprocess equals
 *     convert -> resize -> normalize on f32, to float rounding.
 *
 * Limits: image sides 1..16384 (frames: even, 2..16384), batch <= 4096,
 * channels 1..64, bins 1..256; every entry point returns a
 * status (never aborts) naming what is out of bounds.
 */
#ifndef AVF_OPS_IMAGE_H
#define AVF_OPS_IMAGE_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_IMAGE_MAX_SIDE 16384
#define AVF_IMAGE_MAX_BATCH 4096
#define AVF_IMAGE_MAX_CHANNELS 64

typedef enum avf_image_layout { AVF_IMAGE_NCHW = 0, AVF_IMAGE_NHWC } avf_image_layout;
typedef enum avf_resize_mode { AVF_RESIZE_BILINEAR = 0, AVF_RESIZE_AREA } avf_resize_mode;
typedef enum avf_yuv_format { AVF_YUV_NV12 = 0, AVF_YUV_P010 } avf_yuv_format;
typedef enum avf_yuv_matrix { AVF_YUV_BT601 = 0, AVF_YUV_BT709 } avf_yuv_matrix;
typedef enum avf_yuv_range { AVF_YUV_LIMITED = 0, AVF_YUV_FULL } avf_yuv_range;
typedef enum avf_rgb_order { AVF_RGB = 0, AVF_BGR } avf_rgb_order;

/* A rectangle in pixels: x, y of its top-left corner, w x h. w == 0 or
 * h == 0 in a ROI field means "the whole image". */
typedef struct avf_rect {
    int x, y, w, h;
} avf_rect;

/* A decoded 4:2:0 frame, read in place (see top). */
typedef struct avf_yuv_frame {
    avf_yuv_format format;
    int width, height;       /* luma size, even, 2..16384 */
    const void *y, *uv;      /* plane pointers on `device` */
    int64_t y_pitch;         /* bytes per Y row, >= width * (1 or 2) */
    int64_t uv_pitch;        /* bytes per UV row, >= width * (1 or 2) */
    avf_device *device;
} avf_yuv_frame;

typedef struct avf_yuv_colour {
    avf_yuv_matrix matrix;
    avf_yuv_range range;
    avf_rgb_order order;
} avf_yuv_colour;

/* Where a resized image went inside its output and how to map back:
 * dst = src * scale + offset on each axis; src = (dst - offset) / scale. */
typedef struct avf_letterbox_geom {
    avf_rect box;        /* the content's rectangle in the output */
    double scale_x, scale_y;
    double offset_x, offset_y;
} avf_letterbox_geom;

/* The letterbox of an in_w x in_h image into out_w x out_h: the largest
 * scale that fits (min of the two ratios), content size rounded to the
 * nearest pixel (>= 1), centred (extra pixel of an odd margin right/bottom).
 * scale_* are the ratios actually used (content / input). */
avf_status avf_letterbox_fit(int in_w, int in_h, int out_w, int out_h, avf_letterbox_geom *g);
/* Map a point of the output back to the input of a letterbox. */
void avf_letterbox_unmap(const avf_letterbox_geom *g, double x, double y, double *sx, double *sy);

/* ---------------------------------------------------------------- colour */

/* frame -> y: [3, H, W] (NCHW) or [H, W, 3] (NHWC), optionally with a leading
 * batch dim of 1; u8, f32 or f16; H, W the frame's size. */
avf_status avf_op_yuv_to_rgb(avf_op_ctx *ctx, const avf_yuv_colour *c, avf_image_layout layout,
                             const avf_yuv_frame *frame, avf_tensor *y);

/* ---------------------------------------------------------------- tensor images */

/* Images are rank 4 [N, C, H, W] / [N, H, W, C], or rank 3 (N = 1). */
typedef struct avf_image_resize_params {
    avf_image_layout layout;
    avf_resize_mode mode;
    int out_w, out_h;        /* 1..16384 */
} avf_image_resize_params;

/* x -> y of the same rank, layout and dtype with sides out_h x out_w. */
avf_status avf_image_resize_shape(const avf_image_resize_params *p, int ndim, const int64_t *dims,
                                  int64_t *out_dims);
avf_status avf_op_image_resize(avf_op_ctx *ctx, const avf_image_resize_params *p,
                               const avf_tensor *x, avf_tensor *y);

typedef struct avf_image_letterbox_params {
    avf_image_layout layout;
    avf_resize_mode mode;
    int out_w, out_h;
    float pad[AVF_IMAGE_MAX_CHANNELS]; /* per channel, on the 8-bit scale (e.g. 114) */
} avf_image_letterbox_params;

/* Same shapes as resize; g (may be NULL) receives the geometry. */
avf_status avf_op_image_letterbox(avf_op_ctx *ctx, const avf_image_letterbox_params *p,
                                  const avf_tensor *x, avf_tensor *y, avf_letterbox_geom *g);

/* y = x[..., roi] exactly (same dtype); roi inside the image, w, h >= 1. */
avf_status avf_image_crop_shape(avf_image_layout layout, const avf_rect *roi, int ndim,
                                const int64_t *dims, int64_t *out_dims);
avf_status avf_op_image_crop(avf_op_ctx *ctx, avf_image_layout layout, const avf_rect *roi,
                             const avf_tensor *x, avf_tensor *y);

typedef struct avf_image_norm_params {
    avf_image_layout layout;
    float scale;                          /* e.g. 1/255; 0 is taken as 1 */
    int n_channels;                       /* 0: mean 0, std 1 for every channel */
    float mean[AVF_IMAGE_MAX_CHANNELS];
    float std[AVF_IMAGE_MAX_CHANNELS];    /* each finite and > 0 */
} avf_image_norm_params;

/* x u8/f32/f16 -> y f32/f16 of x's shape: (x*scale - mean[c]) / std[c],
 * computed as x*(scale/std) + (-mean/std) in f32. */
avf_status avf_op_image_normalize(avf_op_ctx *ctx, const avf_image_norm_params *p,
                                  const avf_tensor *x, avf_tensor *y);

/* ---------------------------------------------------------------- fused preprocess */

typedef enum avf_fit_mode { AVF_FIT_STRETCH = 0, AVF_FIT_LETTERBOX } avf_fit_mode;

typedef struct avf_preprocess_params {
    avf_yuv_colour colour;
    avf_resize_mode mode;
    avf_fit_mode fit;
    float pad[3];            /* letterbox pad, on the 8-bit scale, per output channel */
    avf_image_norm_params norm; /* layout of the output tensor; n_channels 0 or 3 */
} avf_preprocess_params;

/* One frame of a batch: its planes, the crop (roi w/h 0: whole frame; any
 * position and size inside the frame), and the batch slot it fills. */
typedef struct avf_preprocess_item {
    avf_yuv_frame frame;
    avf_rect roi;
    int slot;                /* 0 <= slot < N; slots of one call must differ */
} avf_preprocess_item;

/* items[n] -> dst [N, 3, H, W] (NCHW) or [N, H, W, 3] (NHWC), f32, f16 or u8
 * (u8: only without normalization, i.e. norm.scale 1, n_channels 0). Slots
 * no item names are left untouched. Every item is processed by ONE kernel
 * launch reading the source planes directly. geoms (may be NULL) receives
 * items' geometry: box in the slot and mapping back to the frame (offset
 * includes the ROI: src = (dst - offset) / scale). For more than 16 items
 * the descriptors go to the device through ctx->pool scratch with an async
 * copy from host memory (ledger tag "image.desc"); callers capturing CUDA
 * graphs should use <= 16 items per call (passed by value). The same holds
 * for avf_op_luma_hist and avf_op_luma_thumb. */
avf_status avf_op_preprocess(avf_op_ctx *ctx, const avf_preprocess_params *p,
                             const avf_preprocess_item *items, int n, avf_tensor *dst,
                             avf_letterbox_geom *geoms);

/* ---------------------------------------------------------------- scene cuts */

/* Per item, a histogram of its ROI's luma (code values, not range-converted:
 * bin = v * bins / 2^bits) as fractions of the ROI's pixels into
 * hist [n, bins] f32 (row i for item i; items' slots are ignored). Counts are
 * integers on both devices, so CPU and CUDA agree exactly. */
avf_status avf_op_luma_hist(avf_op_ctx *ctx, const avf_preprocess_item *items, int n, int bins,
                            avf_tensor *hist);
/* Per item, an area-downsampled luma thumbnail of its ROI (8-bit scale, P010
 * divided by 4) into thumb [n, th, tw] f32 (th, tw 1..256). */
avf_status avf_op_luma_thumb(avf_op_ctx *ctx, const avf_preprocess_item *items, int n,
                             avf_tensor *thumb);

typedef enum avf_scene_metric {
    AVF_SCENE_HIST_L1 = 0,   /* 0.5 * sum |a - b| of fractions: in [0, 1] */
    AVF_SCENE_HIST_CHI2,     /* 0.5 * sum (a - b)^2 / (a + b): in [0, 1] */
    AVF_SCENE_THUMB_MAD      /* mean |a - b| / 255 of thumbnails: in [0, 1] */
} avf_scene_metric;

/* Streaming cut decision on host features (downloaded hist or thumb rows):
 * frame i is a cut when distance(i-1, i) > threshold and at least min_gap
 * frames have passed since the last cut (suppresses flashes). The first
 * frame ever pushed is a cut (a scene starts there). */
typedef struct avf_scene_detector {
    avf_scene_metric metric;
    int64_t dim;             /* features per frame, 1..2^20 */
    double threshold;        /* in (0, 1] */
    int64_t min_gap;         /* >= 0 */
    float *prev;             /* last frame's features (owned) */
    int64_t since_cut;       /* frames since the last cut */
    int64_t frames;          /* frames pushed so far */
} avf_scene_detector;

avf_status avf_scene_detector_init(avf_scene_detector *d, avf_scene_metric metric, int64_t dim,
                                   double threshold, int64_t min_gap);
void avf_scene_detector_free(avf_scene_detector *d);
/* feat [n, dim] -> dist[n] (distance to the previous frame; 0 for the first
 * frame) and cut[n] (0/1); dist may be NULL. */
avf_status avf_scene_detector_push(avf_scene_detector *d, const float *feat, int64_t n,
                                   float *dist, uint8_t *cut);
/* The distance between two feature rows (exposed for tests and tuning). */
double avf_scene_distance(avf_scene_metric metric, const float *a, const float *b, int64_t dim);

/* ---------------------------------------------------------------- frame sampling */

/* Indices offset, offset + stride, ... below n_frames into idx (at most cap
 * of them are written; idx may be NULL when cap is 0); *count gets how many
 * there are in all, so a call with cap 0 sizes the buffer. */
avf_status avf_sample_stride(int64_t n_frames, int64_t stride, int64_t offset, int64_t *idx,
                             int64_t cap, int64_t *count);
/* Frames from timestamps: pts[n] (non-decreasing, in units of
 * tb_num/tb_den seconds) sampled at fps_num/fps_den frames per second: the
 * first frame in each interval [k/fps, (k+1)/fps) after pts[0] is kept, so
 * variable frame rates and gaps give no bursts and no drift. Exact integer
 * arithmetic; time bases and rates 1..2^31-1. Same idx/cap/count contract. */
avf_status avf_sample_fps(const int64_t *pts, int64_t n, int64_t tb_num, int64_t tb_den,
                          int64_t fps_num, int64_t fps_den, int64_t *idx, int64_t cap,
                          int64_t *count);

/* ---------------------------------------------------------------- drawing */

/* Drawing targets an RGB u8 image [H, W, 3] (NHWC) or [3, H, W] (NCHW),
 * optionally with a leading batch dim of 1. Later items draw over earlier
 * ones; everything outside the image is clipped. */
#define AVF_DRAW_MAX_RECTS 128
#define AVF_DRAW_MAX_LABELS 32
#define AVF_DRAW_MAX_TEXT 31

typedef struct avf_draw_rect {
    avf_rect r;              /* outline's outer edge; may extend off the image */
    int thickness;           /* 1..256 pixels inward; >= half the side fills */
    uint8_t rgb[3];
} avf_draw_rect;

avf_status avf_op_draw_rects(avf_op_ctx *ctx, avf_image_layout layout, const avf_draw_rect *rects,
                             int n, avf_tensor *img);

/* img = img * (1 - a) + rgb * a, a = alpha * m where m is mask [H, W]
 * (u8: m/255; f32: clamped to [0, 1]); alpha in [0, 1]. */
avf_status avf_op_draw_mask(avf_op_ctx *ctx, avf_image_layout layout, const avf_tensor *mask,
                            const uint8_t rgb[3], float alpha, avf_tensor *img);

/* Text with the built-in 5x7 font (ops/image_font.c): digits, A-Z (lower
 * case drawn as upper), space and . , : ; - _ + = / \ % # ( ) [ ] < > ! ? ' " * @ &;
 * other bytes draw as a hollow box. Each character is a 6x8 cell scaled by
 * `scale`; the label's box adds one unit of margin on the left and top. */
typedef struct avf_draw_label {
    int x, y;                /* top-left of the label's box */
    int scale;               /* 1..16 */
    uint8_t rgb[3];
    uint8_t has_bg;          /* fill the box with bg first */
    uint8_t bg[3];
    char text[AVF_DRAW_MAX_TEXT + 1]; /* NUL-terminated */
} avf_draw_label;

avf_status avf_op_draw_text(avf_op_ctx *ctx, avf_image_layout layout, const avf_draw_label *labels,
                            int n, avf_tensor *img);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_IMAGE_H */
