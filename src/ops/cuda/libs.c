/* cuBLAS / cuBLASLt / cuDNN handles per op context. */
#include <pthread.h>
#include <stdlib.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/libs.h"

/* cuBLAS's own workspace for the stream; given from the pool so cuBLAS does
 * not cudaMalloc on first use of each stream. 32 MiB covers Hopper's needs. */
#define AVF_CUBLAS_WORKSPACE (32u << 20)

struct avf_cuda_libs {
    int device;
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    cudnnHandle_t dnn;
    void *blas_ws;          /* this context's cuBLAS workspace, from its pool */
    avf_pool *pool;
    struct avf_cuda_libs *next; /* in the idle cache */
};

/* Creating cuBLAS/cuDNN handles costs milliseconds, far more than a small
 * model's run, so handles outlive the contexts that use them: a context
 * takes an idle set for its device (or makes one) and gives it back when it
 * is released. Handles are stream-agnostic (the stream is set on every
 * get); the workspace belongs to the context's pool and is freed with it.
 * The cache holds at most as many sets as contexts ever ran at once. */
#define AVF_LIBS_MAX_DEVICES 64
static pthread_mutex_t libs_mu = PTHREAD_MUTEX_INITIALIZER;
static avf_cuda_libs *libs_idle[AVF_LIBS_MAX_DEVICES];

static avf_status libs_get(avf_op_ctx *ctx, avf_cuda_libs **out) {
    if (avf_device_get_kind(ctx->dev) != AVF_DEVICE_CUDA)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "CUDA library handles asked for on %s",
                        avf_device_get_name(ctx->dev));
    int dev = avf_device_get_index(ctx->dev);
    if (!ctx->libs) {
        avf_cuda_libs *l = NULL;
        if (dev >= 0 && dev < AVF_LIBS_MAX_DEVICES) {
            pthread_mutex_lock(&libs_mu);
            l = libs_idle[dev];
            if (l)
                libs_idle[dev] = l->next;
            pthread_mutex_unlock(&libs_mu);
        }
        if (!l) {
            l = calloc(1, sizeof *l);
            if (!l)
                return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "CUDA library handles");
            l->device = dev;
        }
        l->next = NULL;
        l->pool = ctx->pool;
        ctx->libs = l;
    }
    AVF_CUDA_TRY(cudaSetDevice(dev));
    *out = ctx->libs;
    return AVF_OK;
}

avf_status avf_cuda_cublas(avf_op_ctx *ctx, cublasHandle_t *out) {
    avf_cuda_libs *l = NULL;
    AVF_TRY(libs_get(ctx, &l));
    if (!l->blas)
        AVF_CUBLAS_TRY(cublasCreate(&l->blas));
    if (!l->blas_ws) {
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

static void libs_destroy(avf_cuda_libs *l);

void avf_cuda_libs_free(avf_cuda_libs *l) {
    if (!l)
        return;
    /* The workspace goes back to the context's pool (stream order: work
     * already queued may still use it; the pool reuses it only after). */
    if (l->blas_ws) {
        if (l->blas)
            cublasSetWorkspace(l->blas, NULL, 0);
        avf_pool_free(l->pool, l->blas_ws, NULL);
        l->blas_ws = NULL;
    }
    l->pool = NULL;
    if (l->device >= 0 && l->device < AVF_LIBS_MAX_DEVICES) {
        pthread_mutex_lock(&libs_mu);
        l->next = libs_idle[l->device];
        libs_idle[l->device] = l;
        pthread_mutex_unlock(&libs_mu);
        return;
    }
    libs_destroy(l);
}

static void libs_destroy(avf_cuda_libs *l) {
    if (l->blas)
        cublasDestroy(l->blas);
    if (l->lt)
        cublasLtDestroy(l->lt);
    if (l->dnn)
        cudnnDestroy(l->dnn);
    free(l);
}

void avf_cuda_libs_clear_idle(void) {
    for (int d = 0; d < AVF_LIBS_MAX_DEVICES; d++) {
        pthread_mutex_lock(&libs_mu);
        avf_cuda_libs *l = libs_idle[d];
        libs_idle[d] = NULL;
        pthread_mutex_unlock(&libs_mu);
        while (l) {
            avf_cuda_libs *next = l->next;
            libs_destroy(l);
            l = next;
        }
    }
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
