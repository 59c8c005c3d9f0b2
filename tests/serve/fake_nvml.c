/* A fake NVML for the tests (built as libavf_fake_nvml.so, selected with
 * AVF_NVML_LIBRARY): the entry points avflow's loader resolves, with NVML's
 * C ABI, answering fixed figures for two GPUs, so CI without a GPU runs the
 * whole NVML path (dlopen, symbols, sampling, /metrics, status JSON).
 *
 *   GPU 0: utilization 37 %, memory 1.5 GiB used of 80 GiB, 123.456 W, NVDEC 12 %
 *   GPU 1: utilization 88 %, memory 24 GiB used of 141 GiB, power NOT_SUPPORTED,
 *          NVDEC 0 %
 * nvmlInit fails (NVML_ERROR_DRIVER_NOT_LOADED, 9) when AVF_FAKE_NVML_FAIL
 * is set, for the "NVML present but unusable" path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fake_gpu {
    const char *uuid, *name;
    unsigned util, dec;
    unsigned long long used, total;
    int has_power;
    unsigned power_mw;
} fake_gpu;

static const fake_gpu GPUS[2] = {
    {"GPU-fa4e0000-0000-4000-8000-000000000000", "Fake H200", 37, 12, 3ull << 29, 80ull << 30,
     1, 123456},
    {"GPU-fa4e0001-0000-4000-8000-000000000001", "Fake H200", 88, 0, 24ull << 30, 141ull << 30,
     0, 0},
};

static int g_init;

#define API __attribute__((visibility("default")))

/* NVML's signatures (as the loader in src/serve/nvml.c calls them). */
API int nvmlInit_v2(void);
API int nvmlShutdown(void);
API int nvmlDeviceGetCount_v2(unsigned *n);
API int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **dev);
API int nvmlDeviceGetUUID(void *dev, char *out, unsigned len);
API int nvmlDeviceGetName(void *dev, char *out, unsigned len);
API int nvmlDeviceGetUtilizationRates(void *dev, unsigned *util);
API int nvmlDeviceGetMemoryInfo(void *dev, unsigned long long *mem);
API int nvmlDeviceGetPowerUsage(void *dev, unsigned *mw);
API int nvmlDeviceGetDecoderUtilization(void *dev, unsigned *util, unsigned *period_us);

API int nvmlInit_v2(void) {
    const char *f = getenv("AVF_FAKE_NVML_FAIL");
    if (f && f[0])
        return 9;
    g_init = 1;
    return 0;
}
API int nvmlShutdown(void) {
    g_init = 0;
    return 0;
}
API int nvmlDeviceGetCount_v2(unsigned *n) {
    if (!g_init)
        return 1; /* NVML_ERROR_UNINITIALIZED */
    *n = 2;
    return 0;
}
API int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **dev) {
    if (!g_init || i >= 2)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = (void *)&GPUS[i];
    return 0;
}
API int nvmlDeviceGetUUID(void *dev, char *out, unsigned len) {
    const fake_gpu *g = dev;
    if (strlen(g->uuid) >= len)
        return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
    snprintf(out, len, "%s", g->uuid);
    return 0;
}
API int nvmlDeviceGetName(void *dev, char *out, unsigned len) {
    snprintf(out, len, "%s", ((const fake_gpu *)dev)->name);
    return 0;
}
API int nvmlDeviceGetUtilizationRates(void *dev, unsigned *util /* {gpu, memory} */) {
    util[0] = ((const fake_gpu *)dev)->util;
    util[1] = 5;
    return 0;
}
API int nvmlDeviceGetMemoryInfo(void *dev, unsigned long long *mem /* {total, free, used} */) {
    const fake_gpu *g = dev;
    mem[0] = g->total;
    mem[1] = g->total - g->used;
    mem[2] = g->used;
    return 0;
}
API int nvmlDeviceGetPowerUsage(void *dev, unsigned *mw) {
    const fake_gpu *g = dev;
    if (!g->has_power)
        return 3; /* NVML_ERROR_NOT_SUPPORTED */
    *mw = g->power_mw;
    return 0;
}
API int nvmlDeviceGetDecoderUtilization(void *dev, unsigned *util, unsigned *period_us) {
    *util = ((const fake_gpu *)dev)->dec;
    *period_us = 167000;
    return 0;
}
