/* Internal: the CUDA half of the image family (src/ops/cuda/image.cu). Same
 * arguments as the CPU kernels (ops/cpu/image_cpu.h): descriptors in host
 * memory, image pointers on ctx's device. */
#ifndef AVF_OPS_CUDA_IMAGE_CUDA_H
#define AVF_OPS_CUDA_IMAGE_CUDA_H
#ifdef AVF_HAVE_CUDA

#include "ops/image_draw_px.h"
#include "ops/image_px.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_image_tensor(avf_op_ctx *ctx, const avf_px_tensor_op *t, int64_t N);
avf_status avf_cuda_image_preprocess(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                     const avf_px_out *o);
avf_status avf_cuda_luma_hist(avf_op_ctx *ctx, const avf_px_item *items, int n, int bins,
                              float *hist);
avf_status avf_cuda_luma_thumb(avf_op_ctx *ctx, const avf_px_item *items, int n, int64_t th,
                               int64_t tw, float *thumb);
avf_status avf_cuda_image_draw(avf_op_ctx *ctx, const avf_px_draw *d);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_IMAGE_CUDA_H */
