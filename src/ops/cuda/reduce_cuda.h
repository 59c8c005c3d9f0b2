/* Internal: CUDA kernels of the reduce family (src/ops/cuda/reduce*.cu,
 * softmax.cu, norm.cu), plain C functions exported with extern "C".
 * Called by the entry points in src/ops/reduce.c and src/ops/norm.c with
 * tensors already checked (device, dtype, shape) and the geometry resolved;
 * they only enqueue work on ctx->stream (no synchronization).
 * [outer, n, inner] is the view of a single-axis op: the axis has n
 * elements and stride `inner`. Same contracts as ops/cpu/reduce_cpu.h.
 */
#ifndef AVF_OPS_CUDA_REDUCE_CUDA_H
#define AVF_OPS_CUDA_REDUCE_CUDA_H

#include "ops/reduce.h"

#ifdef AVF_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_reduce(avf_op_ctx *ctx, avf_reduce_kind kind, const avf_reduce_view *v,
                           const avf_tensor *x, avf_tensor *y);
avf_status avf_cuda_argmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                           int select_last, const avf_tensor *x, avf_tensor *y);
avf_status avf_cuda_softmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int is_log,
                            const avf_tensor *x, avf_tensor *y);
/* rows of n elements; scale/bias have n or 1 elements (bias may be NULL). */
avf_status avf_cuda_layernorm(avf_op_ctx *ctx, int64_t rows, int64_t n, float eps,
                              const avf_tensor *x, const avf_tensor *scale,
                              const avf_tensor *bias, avf_tensor *y, avf_tensor *mean,
                              avf_tensor *inv_std);
/* x as [batch, c, spatial]. */
avf_status avf_cuda_batchnorm(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                              float eps, const avf_tensor *x, const avf_tensor *scale,
                              const avf_tensor *bias, const avf_tensor *mean,
                              const avf_tensor *var, avf_tensor *y);
/* Batch statistics of x as [batch, c, spatial] into f32 [c] bmean/bvar
 * (biased variance); run_mean/run_var (may be NULL, dtype of mean/var) =
 * mean/var * momentum + batch statistic * (1 - momentum). */
avf_status avf_cuda_batchnorm_stats(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                                  float momentum, const avf_tensor *x, const avf_tensor *mean,
                                  const avf_tensor *var, avf_tensor *bmean, avf_tensor *bvar,
                                  avf_tensor *run_mean, avf_tensor *run_var);
avf_status avf_cuda_cumsum(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                           int exclusive, int reverse, const avf_tensor *x, avf_tensor *y);
avf_status avf_cuda_topk(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int64_t k,
                         int largest, const avf_tensor *x, avf_tensor *values,
                         avf_tensor *indices);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_REDUCE_CUDA_H */
