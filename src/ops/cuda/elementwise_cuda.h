/* Internal: the elementwise family's CUDA kernels (plain C functions
 * exported from src/ops/cuda/elementwise_*.cu). Called by the entry points
 * after every check, with non-empty tensors of the dtypes the entry points
 * allow on CUDA. They enqueue on ctx->stream and never synchronize. */
#ifndef AVF_OPS_CUDA_ELEMENTWISE_CUDA_H
#define AVF_OPS_CUDA_ELEMENTWISE_CUDA_H

#ifdef AVF_HAVE_CUDA
#include "ops/elementwise.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_unary(avf_op_ctx *ctx, const avf_unary_params *p, const avf_tensor *x,
                          avf_tensor *y);
avf_status avf_cuda_cast(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);
avf_status avf_cuda_binary(avf_op_ctx *ctx, avf_binary_op op, const avf_ew_bcast *bc,
                           const avf_tensor *a, const avf_tensor *b, avf_tensor *out);
avf_status avf_cuda_where(avf_op_ctx *ctx, const avf_ew_bcast *bc, const avf_tensor *cond,
                          const avf_tensor *x, const avf_tensor *y, avf_tensor *out);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_ELEMENTWISE_CUDA_H */
