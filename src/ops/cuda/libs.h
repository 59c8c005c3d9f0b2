/* Internal: per-context cuBLAS, cuBLASLt and cuDNN handles.
 *
 * Taken lazily on first use from a process-wide cache of idle handle sets
 * (creating them costs milliseconds), bound to the context's stream on every
 * get, and given back to the cache by avf_op_ctx_release. A context is used
 * by one thread at a time, so the handles need no locking. cuBLAS gets a
 * workspace from the context's pool so it never calls cudaMalloc itself.
 */
#ifndef AVF_OPS_CUDA_LIBS_H
#define AVF_OPS_CUDA_LIBS_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_cublas(avf_op_ctx *ctx, cublasHandle_t *out);
avf_status avf_cuda_cublaslt(avf_op_ctx *ctx, cublasLtHandle_t *out);
avf_status avf_cuda_cudnn(avf_op_ctx *ctx, cudnnHandle_t *out);
/* Give the handles back to the idle cache (the workspace to its pool). */
void avf_cuda_libs_free(avf_cuda_libs *libs);
/* Destroy every idle handle set (see avf_ops_release_caches). */
void avf_cuda_libs_clear_idle(void);

/* Status from a cuBLAS / cuDNN return code (message names call and line). */
avf_status avf_cublas_status(cublasStatus_t st, const char *call, const char *file, int line);
avf_status avf_cudnn_status(cudnnStatus_t st, const char *call, const char *file, int line);

#define AVF_CUBLAS_TRY(call)                                                     \
    do {                                                                         \
        cublasStatus_t avf_cb_s_ = (call);                                       \
        if (avf_cb_s_ != CUBLAS_STATUS_SUCCESS)                                  \
            return avf_cublas_status(avf_cb_s_, #call, __FILE__, __LINE__);      \
    } while (0)

#define AVF_CUDNN_TRY(call)                                                      \
    do {                                                                         \
        cudnnStatus_t avf_dn_s_ = (call);                                        \
        if (avf_dn_s_ != CUDNN_STATUS_SUCCESS)                                   \
            return avf_cudnn_status(avf_dn_s_, #call, __FILE__, __LINE__);       \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_CUDA_LIBS_H */
