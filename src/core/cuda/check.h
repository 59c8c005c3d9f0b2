/* Internal: turning CUDA runtime, cuBLAS and cuDNN errors into avf_status.
 *
 * AVF_CUDA_TRY(call) returns from the enclosing function with a status whose
 * message names the call, the error and file:line. Nothing here aborts: a
 * GPU fault becomes AVF_ERR_DEVICE, an allocation failure
 * AVF_ERR_OUT_OF_MEMORY.
 */
#ifndef AVF_CORE_CUDA_CHECK_H
#define AVF_CORE_CUDA_CHECK_H

#include <cuda_runtime_api.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_status(cudaError_t err, const char *call, const char *file, int line);

#define AVF_CUDA_CHECK(call) avf_cuda_status((call), #call, __FILE__, __LINE__)

#define AVF_CUDA_TRY(call)                                                   \
    do {                                                                     \
        cudaError_t avf_cuda_e_ = (call);                                    \
        if (avf_cuda_e_ != cudaSuccess)                                      \
            return avf_cuda_status(avf_cuda_e_, #call, __FILE__, __LINE__);  \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* AVF_CORE_CUDA_CHECK_H */
