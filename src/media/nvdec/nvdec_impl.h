/* Internal: the NVIDIA driver and NVDEC entry points, loaded once per
 * process at run time through the ffnvcodec loader headers (dlopen of
 * libcuda.so.1 / libnvcuvid.so.1), so libavflow neither links them nor
 * needs FFmpeg. Only the files of src/media/nvdec include this. */
#ifndef AVF_MEDIA_NVDEC_IMPL_H
#define AVF_MEDIA_NVDEC_IMPL_H

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef AVF_HAVE_FFNVCODEC
#include <ffnvcodec/dynlink_loader.h>

typedef struct avf_nv_libs {
    CudaFunctions *cu;
    CuvidFunctions *cv;
} avf_nv_libs;

/* The loaded driver + NVDEC functions, cuInit done (first call loads;
 * thread-safe). AVF_ERR_UNSUPPORTED with the reason when a library or
 * symbol is missing or cuInit fails. */
avf_status avf_nv_libs_get(const avf_nv_libs **out);
/* libcuda only (NVENC's probe needs the driver but not libnvcuvid). */
avf_status avf_nv_cuda_get(CudaFunctions **out);

/* Turn a failed driver call into a status naming the call and error. */
avf_status avf_nv_fail(CudaFunctions *cu, CUresult r, const char *call, const char *file, int line);
#define AVF_NV_TRY(cu, call)                                               \
    do {                                                                   \
        CUresult avf_nv_r_ = (call);                                       \
        if (avf_nv_r_ != CUDA_SUCCESS)                                     \
            return avf_nv_fail((cu), avf_nv_r_, #call, __FILE__, __LINE__); \
    } while (0)

/* The primary context of CUDA device `dev` (the one the runtime API uses),
 * retained; release with avf_nv_ctx_release. */
avf_status avf_nv_ctx_retain(avf_device *dev, CUdevice *cudev, CUcontext *ctx);
void avf_nv_ctx_release(CUdevice cudev);
#endif

#endif /* AVF_MEDIA_NVDEC_IMPL_H */
