/* avflow serve: GPU figures from NVML, loaded at run time.
 *
 * libnvidia-ml.so.1 is opened with dlopen on first use, so avflow has no
 * link dependency on it and runs where it is absent (CPU machines, CI):
 * then no GPU figure is reported, and the log says so once. The library
 * path can be replaced with the environment variable AVF_NVML_LIBRARY (the
 * tests point it at a fake NVML, tests/serve/fake_nvml.c).
 *
 * Only the few NVML entry points below are used, declared here with NVML's
 * documented C ABI (no nvml.h needed to build). Thread-safe: one mutex
 * guards the library handle and every query.
 */
#ifndef AVF_SERVE_NVML_H
#define AVF_SERVE_NVML_H

#include <stdint.h>

#define AVF_SRV_NVML_MAX_GPUS 16

typedef struct avf_srv_gpu_sample {
    char uuid[96];              /* "GPU-xxxxxxxx-..." (Triton's gpu_uuid label) */
    char name[96];
    int index;
    /* Each figure is valid only when its has_ flag is set: a query NVML
     * does not support on a device leaves it unset. */
    int has_util, has_mem, has_power, has_dec;
    double util;                /* GPU busy fraction over NVML's last sample period, [0, 1] */
    uint64_t mem_used_bytes, mem_total_bytes;
    double power_watts;
    double dec_util;            /* NVDEC busy fraction, [0, 1] */
} avf_srv_gpu_sample;

/* Sample every GPU (at most `cap`, at most AVF_SRV_NVML_MAX_GPUS). Returns
 * how many were written; 0 when NVML is absent or fails to initialise
 * (logged once, with the reason). Never fails otherwise. */
int avf_srv_nvml_sample(avf_srv_gpu_sample *out, int cap);
/* 1 once NVML was loaded and initialised (tries to load it). */
int avf_srv_nvml_available(void);
/* The library path tried, and why it is not in use ("" when it is). */
const char *avf_srv_nvml_reason(void);
/* Shut NVML down and unload it; a later sample loads it again (tests use
 * this to switch AVF_NVML_LIBRARY). */
void avf_srv_nvml_unload(void);

#endif
