/* CUDA error translation. */
#include "core/cuda/check.h"

#include "core/error.h"

avf_status avf_cuda_status(cudaError_t err, const char *call, const char *file, int line) {
    if (err == cudaSuccess)
        return AVF_OK;
    /* Clear the (non-sticky) error so later calls on this thread are not
     * reported as failing because of this one. */
    (void)cudaGetLastError();
    avf_status s = AVF_ERR_DEVICE;
    if (err == cudaErrorMemoryAllocation)
        s = AVF_ERR_OUT_OF_MEMORY;
    else if (err == cudaErrorInvalidValue || err == cudaErrorInvalidDevicePointer ||
             err == cudaErrorInvalidResourceHandle)
        s = AVF_ERR_INVALID_ARG;
    else if (err == cudaErrorNotSupported)
        s = AVF_ERR_UNSUPPORTED;
    return avf_error_set(s, file, line, "%s failed: %s (%s)", call, cudaGetErrorString(err),
                         cudaGetErrorName(err));
}
