/* NVML through dlopen: resolve the handful of entry points we use, call
 * nvmlInit once, sample on demand. */
#include "serve/nvml.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/log.h"

/* NVML's ABI: nvmlReturn_t is an int enum, 0 is NVML_SUCCESS; devices are
 * opaque pointers. The structs are laid out as nvml.h documents them. */
typedef int nvml_ret;
typedef void *nvml_device;
typedef struct nvml_utilization {
    unsigned int gpu, memory;
} nvml_utilization;
typedef struct nvml_memory {
    unsigned long long total, free, used;
} nvml_memory;

typedef struct nvml_api {
    nvml_ret (*init)(void);
    nvml_ret (*shutdown)(void);
    nvml_ret (*count)(unsigned int *);
    nvml_ret (*handle)(unsigned int, nvml_device *);
    nvml_ret (*uuid)(nvml_device, char *, unsigned int);
    nvml_ret (*name)(nvml_device, char *, unsigned int);
    nvml_ret (*util)(nvml_device, nvml_utilization *);
    nvml_ret (*mem)(nvml_device, nvml_memory *);
    nvml_ret (*power)(nvml_device, unsigned int *);
    nvml_ret (*dec)(nvml_device, unsigned int *, unsigned int *);
} nvml_api;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static void *g_lib;
static nvml_api g_api;
static int g_tried, g_ok;
static char g_reason[512];

static const char *lib_path(void) {
    const char *p = getenv("AVF_NVML_LIBRARY");
    return p && p[0] ? p : "libnvidia-ml.so.1";
}

/* `name`, else `fallback` (may be NULL), from the loaded library. */
static void *sym(const char *name, const char *fallback) {
    void *p = dlsym(g_lib, name);
    return p || !fallback ? p : dlsym(g_lib, fallback);
}

/* Under g_mu. */
static void load(void) {
    if (g_tried)
        return;
    g_tried = 1;
    const char *path = lib_path();
    g_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!g_lib) {
        const char *e = dlerror();
        snprintf(g_reason, sizeof g_reason, "%s", e ? e : "cannot be opened");
        AVF_WARN("serve: NVML not available (%s); GPU figures are not reported",
                g_reason);
        return;
    }
    /* Prefer the _v2 entry points (current drivers), fall back to the first ones. */
#define SYM(field, a, b) (*(void **)&g_api.field = sym(a, b))
    SYM(init, "nvmlInit_v2", "nvmlInit");
    SYM(shutdown, "nvmlShutdown", NULL);
    SYM(count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    SYM(handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    SYM(uuid, "nvmlDeviceGetUUID", NULL);
    SYM(name, "nvmlDeviceGetName", NULL);
    SYM(util, "nvmlDeviceGetUtilizationRates", NULL);
    SYM(mem, "nvmlDeviceGetMemoryInfo", NULL);
    SYM(power, "nvmlDeviceGetPowerUsage", NULL);
    SYM(dec, "nvmlDeviceGetDecoderUtilization", NULL);
#undef SYM
    nvml_ret rc = -1;
    if (!g_api.init || !g_api.shutdown || !g_api.count || !g_api.handle || !g_api.uuid)
        snprintf(g_reason, sizeof g_reason, "%s lacks nvmlInit/nvmlDeviceGetCount/...", path);
    else if ((rc = g_api.init()) != 0)
        snprintf(g_reason, sizeof g_reason, "%s: nvmlInit returned %d", path, rc);
    if (rc != 0) {
        AVF_WARN("serve: NVML not available (%s); GPU figures are not reported",
                g_reason);
        dlclose(g_lib);
        g_lib = NULL;
        memset(&g_api, 0, sizeof g_api);
        return;
    }
    g_ok = 1;
    g_reason[0] = '\0';
}

int avf_srv_nvml_available(void) {
    pthread_mutex_lock(&g_mu);
    load();
    int ok = g_ok;
    pthread_mutex_unlock(&g_mu);
    return ok;
}

const char *avf_srv_nvml_reason(void) { return g_reason; }

int avf_srv_nvml_sample(avf_srv_gpu_sample *out, int cap) {
    if (cap > AVF_SRV_NVML_MAX_GPUS)
        cap = AVF_SRV_NVML_MAX_GPUS;
    pthread_mutex_lock(&g_mu);
    load();
    int n = 0;
    unsigned int count = 0;
    if (g_ok && g_api.count(&count) == 0) {
        for (unsigned int i = 0; i < count && n < cap; i++) {
            nvml_device d = NULL;
            if (g_api.handle(i, &d) != 0)
                continue;
            avf_srv_gpu_sample *g = &out[n];
            memset(g, 0, sizeof *g);
            g->index = (int)i;
            if (g_api.uuid(d, g->uuid, sizeof g->uuid) != 0)
                continue; /* the label is the UUID: without it the figures cannot be named */
            g->uuid[sizeof g->uuid - 1] = '\0';
            if (!g_api.name || g_api.name(d, g->name, sizeof g->name) != 0)
                g->name[0] = '\0';
            g->name[sizeof g->name - 1] = '\0';
            nvml_utilization u;
            if (g_api.util && g_api.util(d, &u) == 0 && u.gpu <= 100) {
                g->has_util = 1;
                g->util = u.gpu / 100.0;
            }
            nvml_memory m;
            if (g_api.mem && g_api.mem(d, &m) == 0) {
                g->has_mem = 1;
                g->mem_used_bytes = m.used;
                g->mem_total_bytes = m.total;
            }
            unsigned int mw = 0;
            if (g_api.power && g_api.power(d, &mw) == 0) {
                g->has_power = 1;
                g->power_watts = mw / 1000.0;
            }
            unsigned int du = 0, period = 0;
            if (g_api.dec && g_api.dec(d, &du, &period) == 0 && du <= 100) {
                g->has_dec = 1;
                g->dec_util = du / 100.0;
            }
            n++;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return n;
}

void avf_srv_nvml_unload(void) {
    pthread_mutex_lock(&g_mu);
    if (g_ok)
        g_api.shutdown();
    if (g_lib)
        dlclose(g_lib);
    g_lib = NULL;
    memset(&g_api, 0, sizeof g_api);
    g_tried = g_ok = 0;
    g_reason[0] = '\0';
    pthread_mutex_unlock(&g_mu);
}
