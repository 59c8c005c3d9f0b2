/* Internal: the CUDA half of the matmul family (src/ops/cuda/matmul.cu). */
#ifndef AVF_OPS_CUDA_MATMUL_CUDA_H
#define AVF_OPS_CUDA_MATMUL_CUDA_H
#ifdef AVF_HAVE_CUDA

#include "ops/matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_matmul(avf_op_ctx *ctx, const avf_matmul_plan *plan, const avf_tensor *a,
                           const avf_tensor *b, avf_tensor *y);
avf_status avf_cuda_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, int64_t m, int64_t n,
                         int64_t k, const avf_tensor *a, const avf_tensor *b,
                         const avf_tensor *c, avf_tensor *y);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_MATMUL_CUDA_H */
