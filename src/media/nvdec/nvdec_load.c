/* Loading libcuda.so.1 and libnvcuvid.so.1 once per process (ffnvcodec's
 * loader), the primary-context helpers, and avf_nvdec_available. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* The loader reports a missing library or symbol through this macro; keep
 * the line for our status message instead of printing it to stderr. */
#define FFNV_LOG_FUNC(logctx, msg, ...) snprintf((char *)(logctx), 160, (msg), __VA_ARGS__)
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...)
#include "media/nvdec/nvdec_impl.h"

#include "avflow/video.h"

#ifdef AVF_HAVE_FFNVCODEC

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static avf_nv_libs g_libs;
static char g_cuda_why[192], g_cuvid_why[192];
static int g_cuda_ok, g_cuvid_ok;

static void strip_newline(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Once per process: the libraries stay loaded until exit (NVDEC sessions
 * in any thread use them; unloading under them would be worse than the
 * few hundred bytes kept). */
static void load_once(void) {
    char msg[160] = {0};
    if (cuda_load_functions(&g_libs.cu, msg) != 0) {
        strip_newline(msg);
        snprintf(g_cuda_why, sizeof g_cuda_why, "no CUDA driver (%s)", msg[0] ? msg : "libcuda.so.1");
        return;
    }
    CUresult r = g_libs.cu->cuInit(0);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;
        g_libs.cu->cuGetErrorName(r, &name);
        snprintf(g_cuda_why, sizeof g_cuda_why, "cuInit failed: %s", name ? name : "?");
        return;
    }
    g_cuda_ok = 1;
    memset(msg, 0, sizeof msg);
    if (cuvid_load_functions(&g_libs.cv, msg) != 0) {
        strip_newline(msg);
        snprintf(g_cuvid_why, sizeof g_cuvid_why, "no NVDEC library (%s)",
                 msg[0] ? msg : "libnvcuvid.so.1");
        return;
    }
    g_cuvid_ok = 1;
}

avf_status avf_nv_cuda_get(CudaFunctions **out) {
    pthread_once(&g_once, load_once);
    if (!g_cuda_ok)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %s", g_cuda_why);
    *out = g_libs.cu;
    return AVF_OK;
}

avf_status avf_nv_libs_get(const avf_nv_libs **out) {
    pthread_once(&g_once, load_once);
    if (!g_cuda_ok)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %s", g_cuda_why);
    if (!g_cuvid_ok)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %s", g_cuvid_why);
    *out = &g_libs;
    return AVF_OK;
}

avf_status avf_nv_fail(CudaFunctions *cu, CUresult r, const char *call, const char *file, int line) {
    const char *name = NULL, *desc = NULL;
    if (cu) {
        cu->cuGetErrorName(r, &name);
        cu->cuGetErrorString(r, &desc);
    }
    /* ffnvcodec's CUresult names only a few codes: 2 is out of memory,
     * 801 not supported (the driver API's numbering) */
    avf_status s = (int)r == 2 ? AVF_ERR_OUT_OF_MEMORY : (int)r == 801 ? AVF_ERR_UNSUPPORTED
                                                                      : AVF_ERR_DEVICE;
    return avf_error_set(s, file, line, "nvdec: %s failed: %s (%s)", call, name ? name : "?",
                         desc ? desc : "no description");
}

avf_status avf_nv_ctx_retain(avf_device *dev, CUdevice *cudev, CUcontext *ctx) {
    CudaFunctions *cu;
    AVF_TRY(avf_nv_cuda_get(&cu));
    AVF_NV_TRY(cu, cu->cuDeviceGet(cudev, avf_device_get_index(dev)));
    /* the primary context is the runtime API's context on that device:
     * memory from avf_pool is valid in it, and streams interoperate */
    AVF_NV_TRY(cu, cu->cuDevicePrimaryCtxRetain(ctx, *cudev));
    return AVF_OK;
}

void avf_nv_ctx_release(CUdevice cudev) {
    if (g_cuda_ok)
        g_libs.cu->cuDevicePrimaryCtxRelease(cudev);
}

avf_status avf_nvdec_available(avf_device *dev) {
    AVF_CHECK_ARG(dev != NULL);
    if (avf_device_get_kind(dev) != AVF_DEVICE_CUDA)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %s is not a CUDA device",
                        avf_device_get_name(dev));
    const avf_nv_libs *l;
    AVF_TRY(avf_nv_libs_get(&l));
    CUdevice cudev;
    AVF_NV_TRY(l->cu, l->cu->cuDeviceGet(&cudev, avf_device_get_index(dev)));
    return AVF_OK;
}

#else /* no ffnvcodec headers at build time */

avf_status avf_nvdec_available(avf_device *dev) {
    (void)dev;
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: built without the ffnvcodec loader headers "
                    "(libffmpeg-nvenc-dev)");
}

#endif
