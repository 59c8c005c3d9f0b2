/* Is there an NVENC encoder? Answered the only reliable way: load
 * libnvidia-encode.so.1 (ffnvcodec's loader) and open, then close, an
 * encode session on the device's primary context. Data-centre GPUs such as
 * the H100/H200 ship the library but have no encoder engine, so the
 * session is where they say no. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define FFNV_LOG_FUNC(logctx, msg, ...) snprintf((char *)(logctx), 160, (msg), __VA_ARGS__)
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...)
#include "media/nvdec/nvdec_impl.h"

#include "avflow/video.h"

#ifdef AVF_HAVE_FFNVCODEC

static avf_status open_session(NvencFunctions *nv, CUcontext ctx) {
    uint32_t maxver = 0;
    if (nv->NvEncodeAPIGetMaxSupportedVersion(&maxver) != NV_ENC_SUCCESS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: the driver reports no API version");
    uint32_t ours = (NVENCAPI_MAJOR_VERSION << 4) | NVENCAPI_MINOR_VERSION;
    if (maxver < ours)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: the driver offers API %u.%u, avflow was "
                        "built for %u.%u", maxver >> 4, maxver & 15u, ours >> 4, ours & 15u);
    NV_ENCODE_API_FUNCTION_LIST fl;
    memset(&fl, 0, sizeof fl);
    fl.version = NV_ENCODE_API_FUNCTION_LIST_VER;
    if (nv->NvEncodeAPICreateInstance(&fl) != NV_ENC_SUCCESS || !fl.nvEncOpenEncodeSessionEx)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: NvEncodeAPICreateInstance failed");
    NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS p;
    memset(&p, 0, sizeof p);
    p.version = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER;
    p.deviceType = NV_ENC_DEVICE_TYPE_CUDA;
    p.device = ctx;
    p.apiVersion = NVENCAPI_VERSION;
    void *enc = NULL;
    NVENCSTATUS r = fl.nvEncOpenEncodeSessionEx(&p, &enc);
    if (r != NV_ENC_SUCCESS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: no encode session on this GPU (NVENC "
                        "status %d: no encoder engine, or all sessions in use)", (int)r);
    fl.nvEncDestroyEncoder(enc);
    return AVF_OK;
}

avf_status avf_nvenc_available(avf_device *dev) {
    AVF_CHECK_ARG(dev != NULL);
    if (avf_device_get_kind(dev) != AVF_DEVICE_CUDA)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: %s is not a CUDA device",
                        avf_device_get_name(dev));
    CUdevice cudev;
    CUcontext ctx;
    AVF_TRY(avf_nv_ctx_retain(dev, &cudev, &ctx));
    char msg[160] = {0};
    NvencFunctions *nv = NULL;
    avf_status s;
    if (nvenc_load_functions(&nv, msg) != 0) {
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            msg[--n] = '\0';
        s = AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: %s", msg[0] ? msg : "no libnvidia-encode.so.1");
    } else {
        s = open_session(nv, ctx);
        nvenc_free_functions(&nv);
    }
    avf_nv_ctx_release(cudev);
    return s;
}

#else

avf_status avf_nvenc_available(avf_device *dev) {
    (void)dev;
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvenc: built without the ffnvcodec loader headers "
                    "(libffmpeg-nvenc-dev)");
}

#endif
