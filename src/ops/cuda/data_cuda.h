/* Internal: CUDA kernels of the data family (src/ops/cuda/data*.cu), plain C
 * functions enqueued on ctx->stream. Geometry comes validated from
 * src/ops/data*.c (see ops/data_impl.h). */
#ifndef AVF_OPS_CUDA_DATA_CUDA_H
#define AVF_OPS_CUDA_DATA_CUDA_H

#ifdef AVF_HAVE_CUDA

#include "ops/data_impl.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_copy_map(avf_op_ctx *ctx, const avf_copy_map *m, const void *x, void *y);
avf_status avf_cuda_fill(avf_op_ctx *ctx, int elem_size, uint64_t value, int64_t n, void *y);
avf_status avf_cuda_write_i64(avf_op_ctx *ctx, const int64_t *vals, int n, void *y);
/* Out-of-range indices give zero elements (no error without a sync). */
avf_status avf_cuda_gather(avf_op_ctx *ctx, const avf_gather_geom *g, const void *x,
                           const void *idx, void *y);
/* Out-of-range index tuples are skipped. */
avf_status avf_cuda_scatternd(avf_op_ctx *ctx, const avf_scatter_geom *g, const int64_t *idx,
                              const void *upd, void *y);
/* Synchronizes ctx->stream once to learn the count (data dependent). */
avf_status avf_cuda_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);
avf_status avf_cuda_range(avf_op_ctx *ctx, const avf_range_params *p, int64_t n, void *y);
avf_status avf_cuda_quantize(avf_op_ctx *ctx, const avf_quant_geom *g, const void *x,
                             const void *scale, const void *zp, void *y);
avf_status avf_cuda_dequantize(avf_op_ctx *ctx, const avf_quant_geom *g, const void *x,
                               const void *scale, const void *zp, void *y);

#ifdef __cplusplus
}
#endif

#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_DATA_CUDA_H */
