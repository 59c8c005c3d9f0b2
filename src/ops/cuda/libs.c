/* cuBLAS / cuBLASLt / cuDNN handles per op context. */
#include <stdlib.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/libs.h"

/* cuBLAS's own workspace for the stream; given from the pool so cuBLAS does
 * not cudaMalloc on first use of each stream. 32 MiB covers Hopper's needs. */
#define AVF_CUBLAS_WORKSPACE (32u << 20)

struct avf_cuda_libs {
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    cudnnHandle_t dnn;
    void *blas_ws;
    avf_pool *pool;
};

static avf_status libs_get(avf_op_ctx *ctx, avf_cuda_libs **out) {
    if (avf_device_get_kind(ctx->dev) != AVF_DEVICE_CUDA)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "CUDA library handles asked for on %s",
                        avf_device_get_name(ctx->dev));
    if (!ctx->libs) {
        ctx->libs = calloc(1, sizeof *ctx->libs);
        if (!ctx->libs)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "CUDA library handles");
        ctx->libs->pool = ctx->pool;
    }
    AVF_CUDA_TRY(cudaSetDevice(avf_device_get_index(ctx->dev)));
    *out = ctx->libs;
    return AVF_OK;
}

avf_status avf_cuda_cublas(avf_op_ctx *ctx, cublasHandle_t *out) {
    avf_cuda_libs *l = NULL;
    AVF_TRY(libs_get(ctx, &l));
    if (!l->blas) {
        AVF_CUBLAS_TRY(cublasCreate(&l->blas));
        AVF_TRY(avf_pool_alloc(ctx->pool, AVF_CUBLAS_WORKSPACE, ctx->stream, &l->blas_ws));
        AVF_CUBLAS_TRY(cublasSetWorkspace(l->blas, l->blas_ws, AVF_CUBLAS_WORKSPACE));
    }
    AVF_CUBLAS_TRY(cublasSetStream(l->blas, (cudaStream_t)avf_stream_native(ctx->stream)));
    AVF_CUBLAS_TRY(cublasSetMathMode(l->blas, ctx->allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                              : CUBLAS_DEFAULT_MATH));
    *out = l->blas;
    return AVF_OK;
}

avf_status avf_cuda_cublaslt(avf_op_ctx *ctx, cublasLtHandle_t *out) {
    avf_cuda_libs *l = NULL;
    AVF_TRY(libs_get(ctx, &l));
    if (!l->lt)
        AVF_CUBLAS_TRY(cublasLtCreate(&l->lt));
    *out = l->lt;
    return AVF_OK;
}

avf_status avf_cuda_cudnn(avf_op_ctx *ctx, cudnnHandle_t *out) {
    avf_cuda_libs *l = NULL;
    AVF_TRY(libs_get(ctx, &l));
    if (!l->dnn)
        AVF_CUDNN_TRY(cudnnCreate(&l->dnn));
    AVF_CUDNN_TRY(cudnnSetStream(l->dnn, (cudaStream_t)avf_stream_native(ctx->stream)));
    *out = l->dnn;
    return AVF_OK;
}

void avf_cuda_libs_free(avf_cuda_libs *l) {
    if (!l)
        return;
    if (l->blas)
        cublasDestroy(l->blas);
    if (l->lt)
        cublasLtDestroy(l->lt);
    if (l->dnn)
        cudnnDestroy(l->dnn);
    if (l->blas_ws)
        avf_pool_free(l->pool, l->blas_ws, NULL);
    free(l);
}

avf_status avf_cublas_status(cublasStatus_t st, const char *call, const char *file, int line) {
    avf_status s = st == CUBLAS_STATUS_ALLOC_FAILED ? AVF_ERR_OUT_OF_MEMORY
                   : st == CUBLAS_STATUS_NOT_SUPPORTED ? AVF_ERR_UNSUPPORTED
                   : st == CUBLAS_STATUS_INVALID_VALUE ? AVF_ERR_INVALID_ARG
                                                       : AVF_ERR_DEVICE;
    return avf_error_set(s, file, line, "%s failed: %s (%s)", call, cublasGetStatusString(st),
                         cublasGetStatusName(st));
}

avf_status avf_cudnn_status(cudnnStatus_t st, const char *call, const char *file, int line) {
    avf_status s = st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ? AVF_ERR_OUT_OF_MEMORY
                   : st == CUDNN_STATUS_NOT_SUPPORTED ? AVF_ERR_UNSUPPORTED
                   : st == CUDNN_STATUS_BAD_PARAM ? AVF_ERR_INVALID_ARG
                                                  : AVF_ERR_DEVICE;
    return avf_error_set(s, file, line, "%s failed: %s", call, cudnnGetErrorString(st));
}
