/* Internal: the convolution family (src/ops/conv.c, pool.c, resize.c).
 *
 *   Conv           1D/2D/3D, groups (depthwise included), strides, dilations,
 *                  pads, auto_pad, optional bias.
 *                  CPU: im2col + cblas_sgemm per group (f32; f16 converted).
 *                  CUDA: cuDNN forward (f32, f16), see cuda/conv.cu.
 *   ConvTranspose  1D/2D/3D, groups, strides, dilations, pads,
 *                  output_padding, output_shape, auto_pad, optional bias.
 *                  CPU: sgemm + col2im. CUDA: cuDNN backward-data.
 *   AveragePool / MaxPool (and the Global variants, expressed as a pool whose
 *                  kernel is the whole spatial extent): kernel, strides,
 *                  pads, dilations, auto_pad, ceil_mode, count_include_pad.
 *                  Own kernels on both devices (one CUDA thread per output).
 *   Resize         nearest / linear / cubic over any axes (N-D), every
 *                  coordinate transformation mode, every
 *                  nearest_mode. Own kernels on both devices.
 *
 * Layout is always channels-first: X is (N, C, D1, ..., Dk), 1 <= k <= 3.
 * Shape functions are pure and validate everything that comes from outside
 * (ranks, channel counts, group divisibility, non-positive strides, output
 * sizes that would be empty or negative); the op entry points re-check the
 * tensors against them.
 */
#ifndef AVF_OPS_CONV_H
#define AVF_OPS_CONV_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_CONV_MAX_SP 3 /* spatial dims: 1D, 2D, 3D */

typedef enum avf_auto_pad {
    AVF_AUTO_PAD_NOTSET = 0,
    AVF_AUTO_PAD_SAME_UPPER,
    AVF_AUTO_PAD_SAME_LOWER,
    AVF_AUTO_PAD_VALID
} avf_auto_pad;

/* Parse an ONNX auto_pad string; AVF_ERR_INVALID_ARG for anything else. */
avf_status avf_auto_pad_parse(const char *s, avf_auto_pad *out);

/* Conv and ConvTranspose. Arrays hold nsp values (pads: nsp begins, then nsp
 * ends, as ONNX orders them). pads are used only when auto_pad is NOTSET. */
typedef struct avf_conv_params {
    int nsp;                               /* spatial dims, 1..3 */
    int64_t group;                         /* >= 1 */
    int64_t strides[AVF_CONV_MAX_SP];
    int64_t dilations[AVF_CONV_MAX_SP];
    int64_t pads[2 * AVF_CONV_MAX_SP];
    avf_auto_pad auto_pad;
    /* ConvTranspose only */
    int64_t output_padding[AVF_CONV_MAX_SP];
    int has_output_shape;
    int64_t output_shape[AVF_CONV_MAX_SP]; /* spatial dims of Y */
} avf_conv_params;

/* Resolved geometry of one convolution, always padded to 3 spatial dims
 * (unused leading dims: size 1, stride 1, no pad) so kernels need one code
 * path. For ConvTranspose `in` is X's spatial size and `out` Y's; the pads
 * are those of the equivalent forward convolution (crop of the full output;
 * may be negative when output_shape asks for more than the full size). */
typedef struct avf_conv_geom {
    int nsp;
    int64_t n, c_in, c_out, group;
    int64_t in[AVF_CONV_MAX_SP], k[AVF_CONV_MAX_SP], out[AVF_CONV_MAX_SP];
    int64_t stride[AVF_CONV_MAX_SP], dil[AVF_CONV_MAX_SP];
    int64_t pad_b[AVF_CONV_MAX_SP], pad_e[AVF_CONV_MAX_SP];
} avf_conv_geom;

/* Geometry from X (N, C, spatial...) and W. Conv: W is (M, C/group, k...).
 * ConvTranspose (transpose=1): W is (C, M/group, k...). */
avf_status avf_conv_geometry(const avf_conv_params *p, int transpose, int xnd, const int64_t *x,
                             int wnd, const int64_t *w, avf_conv_geom *g);

/* Forward output size and effective pads of spatial dim i (Conv and the
 * pools): input `in`, kernel k, stride s, dilation d, pads pb/pe (used when
 * ap is NOTSET). ceil_mode (pools): round up, minus a last window that would
 * start inside the end padding (the rule ONNX and PyTorch share). */
avf_status avf_conv_dim(const char *op, int i, int64_t in, int64_t k, int64_t s, int64_t d,
                        avf_auto_pad ap, int64_t pb, int64_t pe, int ceil_mode, int64_t *out,
                        int64_t *pad_b, int64_t *pad_e);

/* Output shape of Conv / ConvTranspose. bnd < 0: no bias; otherwise B must
 * be 1-D of length M. */
avf_status avf_conv_shape(const avf_conv_params *p, int xnd, const int64_t *x, int wnd,
                          const int64_t *w, int bnd, const int64_t *b, int *ynd, int64_t *y);
avf_status avf_conv_transpose_shape(const avf_conv_params *p, int xnd, const int64_t *x, int wnd,
                                    const int64_t *w, int bnd, const int64_t *b, int *ynd,
                                    int64_t *y);

/* Y = conv(X, W) + B. X, W, B (may be NULL), Y: same dtype, f32 or f16. */
avf_status avf_op_conv(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                       const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
avf_status avf_op_conv_transpose(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                                 const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
/* Y = ep(conv(X, W) + B) (FusedConv): act(y + B[c]) * post_mul + post_add.
 * One kernel for depthwise convolutions (ops/cuda/conv_dw.cu) and short 1-D
 * ones (ops/cuda/conv_short1d.cu) on CUDA;
 * elsewhere the convolution, then avf_op_epilogue in place. */
struct avf_epilogue_params;
avf_status avf_op_conv_epilogue(avf_op_ctx *ctx, const avf_conv_params *p, const avf_tensor *x,
                                const avf_tensor *w, const avf_tensor *b,
                                const struct avf_epilogue_params *ep, avf_tensor *y);

/* ---------------------------------------------------------------- pooling */

typedef enum avf_pool_kind { AVF_POOL_MAX = 0, AVF_POOL_AVG } avf_pool_kind;

typedef struct avf_pool_params {
    avf_pool_kind kind;
    int nsp;                               /* 1..3 */
    int global;                            /* kernel = whole spatial extent */
    int64_t kernel[AVF_CONV_MAX_SP];       /* ignored when global */
    int64_t strides[AVF_CONV_MAX_SP];
    int64_t dilations[AVF_CONV_MAX_SP];
    int64_t pads[2 * AVF_CONV_MAX_SP];
    avf_auto_pad auto_pad;
    int ceil_mode;
    int count_include_pad;                 /* AVG only */
    int storage_order;                     /* MaxPool Indices: 0 row-, 1 column-major */
} avf_pool_params;

/* Geometry as for Conv (c_in == c_out == C, group unused). */
avf_status avf_pool_geometry(const avf_pool_params *p, int xnd, const int64_t *x,
                             avf_conv_geom *g);
avf_status avf_pool_shape(const avf_pool_params *p, int xnd, const int64_t *x, int *ynd,
                          int64_t *y);
/* MaxPool: f32, f16, bf16, i8, u8. AveragePool: f32, f16, bf16. */
avf_status avf_op_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_tensor *x,
                       avf_tensor *y);
/* MaxPool with its Indices output (ind: i64, Y's shape): the flat index
 * into X of each maximum, batch and channel included, spatial dims in row-
 * major order (storage_order 0) or column-major (1), as ONNX defines it;
 * the first maximum in window order wins ties (a NaN wins). */
avf_status avf_op_pool_indices(avf_op_ctx *ctx, const avf_pool_params *p, const avf_tensor *x,
                               avf_tensor *y, avf_tensor *ind);

/* The spatial part of an Indices value for tap (i0, i1, i2) of the 3-dim
 * padded geometry `in` (leading unused dims are 1, so column-major over the
 * padded dims is column-major over the real ones). Shared by the CPU and
 * CUDA kernels. */
AVF_HD int64_t avf_pool_flat_index(int storage_order, const int64_t *in, int64_t i0, int64_t i1,
                                   int64_t i2) {
    return storage_order ? i0 + (i1 + i2 * in[1]) * in[0] : (i0 * in[1] + i1) * in[2] + i2;
}

/* ---------------------------------------------------------------- resize */

typedef enum avf_resize_mode {
    AVF_RESIZE_NEAREST = 0,
    AVF_RESIZE_LINEAR,
    AVF_RESIZE_CUBIC /* Keys' cubic convolution, coefficient cubic_a */
} avf_resize_mode;

typedef enum avf_resize_coord {
    AVF_RESIZE_HALF_PIXEL = 0,
    AVF_RESIZE_HALF_PIXEL_SYMMETRIC,
    AVF_RESIZE_PYTORCH_HALF_PIXEL,
    AVF_RESIZE_ALIGN_CORNERS,
    AVF_RESIZE_ASYMMETRIC,
    AVF_RESIZE_TF_HALF_PIXEL_FOR_NN,
    AVF_RESIZE_TF_CROP_AND_RESIZE /* roi per axis; outside it: extrapolation */
} avf_resize_coord;

typedef enum avf_resize_nearest {
    AVF_RESIZE_ROUND_PREFER_FLOOR = 0,
    AVF_RESIZE_ROUND_PREFER_CEIL,
    AVF_RESIZE_FLOOR,
    AVF_RESIZE_CEIL
} avf_resize_nearest;

/* Parse ONNX attribute strings (AVF_ERR_INVALID_ARG for unknown values). */
avf_status avf_resize_mode_parse(const char *s, avf_resize_mode *out);
avf_status avf_resize_coord_parse(const char *s, avf_resize_coord *out);
avf_status avf_resize_nearest_parse(const char *s, avf_resize_nearest *out);

/* Resize of X (rank ndim) to out[]. scales[i] is the scale ONNX's formulas
 * use on axis i: the given scale, or out/in when sizes were given. */
typedef struct avf_resize_params {
    avf_resize_mode mode;
    avf_resize_coord coord;
    avf_resize_nearest nearest;
    int ndim;
    double scales[AVF_MAX_DIMS];
    int64_t out[AVF_MAX_DIMS];
    double cubic_a;         /* cubic: ONNX's cubic_coeff_a (default -0.75) */
    int exclude_outside;    /* cubic: taps outside X get weight 0, rest renormalized */
    double extrapolation;   /* tf_crop_and_resize: value outside X */
    double roi[2 * AVF_MAX_DIMS]; /* tf_crop_and_resize: starts, then ends (of 1) */
} avf_resize_params;

/* Fill p->scales and p->out from ONNX's inputs: either n scales (floats) or
 * n sizes, for the axes listed in axes (NULL: all of X's axes, n == xnd);
 * keep_aspect_ratio_policy: 0 stretch, 1 not_larger, 2 not_smaller (sizes
 * only). Output dims: floor(in * scale), or the sizes. */
avf_status avf_resize_plan(avf_resize_params *p, int xnd, const int64_t *x, const float *scales,
                           const int64_t *sizes, int n, const int64_t *axes, int keep_policy);
avf_status avf_resize_shape(const avf_resize_params *p, int xnd, const int64_t *x, int *ynd,
                            int64_t *y);
/* f32, f16, bf16 (nearest also i8, u8, i32, i64; with tf_crop_and_resize
 * nearest takes the float dtypes only, as it writes extrapolation). */
avf_status avf_op_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                         avf_tensor *y);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_CONV_H */
