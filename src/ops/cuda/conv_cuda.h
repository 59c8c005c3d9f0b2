/* Internal: CUDA kernels of the convolution family (src/ops/cuda/conv.cu,
 * pool.cu, resize.cu), plain C functions exported from the .cu files. */
#ifndef AVF_OPS_CUDA_CONV_CUDA_H
#define AVF_OPS_CUDA_CONV_CUDA_H

#include "ops/conv.h"
#include "ops/fused.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef AVF_HAVE_CUDA
avf_status avf_cuda_conv(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                         const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
avf_status avf_cuda_conv_transpose(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                                   const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
/* Depthwise (conv_dw.cu): 1 when g is a 1-D or 2-D convolution with one
 * filter per channel that the direct kernel runs in dtype dt, and where it
 * beat cuDNN on the GPU (conv_dw.cu has the measurements); then avf_cuda_conv_dw
 * computes ep(conv(x, w) + b) in one pass (ep NULL: no activation). */
int avf_cuda_conv_dw_ok(const avf_conv_geom *g, avf_dtype dt);
avf_status avf_cuda_conv_dw(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                            const avf_tensor *w, const avf_tensor *b,
                            const avf_epilogue_params *ep, avf_tensor *y);
/* Short 1-D (conv_short1d.cu): 1 when g is a group-1 1-D convolution with at
 * most 64 output positions (Silero VAD's STFT filter bank and encoder), which
 * a warp-per-dot kernel runs faster than cuDNN; then avf_cuda_conv_short1d
 * computes ep(conv(x, w) + b) in one pass (ep NULL: no activation). */
int avf_cuda_conv_short1d_ok(const avf_conv_geom *g, avf_dtype dt);
avf_status avf_cuda_conv_short1d(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                                 const avf_tensor *w, const avf_tensor *b,
                                 const avf_epilogue_params *ep, avf_tensor *y);
/* ind: MaxPool's Indices (i64, Y's shape) or NULL. */
avf_status avf_cuda_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_conv_geom *g,
                         const avf_tensor *x, avf_tensor *y, avf_tensor *ind);
avf_status avf_cuda_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                           avf_tensor *y);
#endif

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_CUDA_CONV_CUDA_H */
