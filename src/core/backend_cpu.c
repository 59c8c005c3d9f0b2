/* The CPU backend: host memory, and streams/events that complete at once.
 *
 * Everything on the CPU runs synchronously, so a stream is only a name and an
 * event only a timestamp. Keeping the same interface as CUDA lets every layer
 * above run, and be tested, without a GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "core/backend.h"
#include "core/error.h"

#define AVF_CPU_ALIGN 256

typedef struct avf_cpu_event {
    double t_ms;
    int recorded;
    int timing;
} avf_cpu_event;

static avf_status cpu_device_count(int *count) {
    *count = 1;
    return AVF_OK;
}

static void cpu_model_name(char *out, size_t cap) {
    snprintf(out, cap, "host cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, cap, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static avf_status cpu_props(int index, avf_device_props *p) {
    cpu_model_name(p->name, sizeof p->name);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    p->total_memory = (pages > 0 && psize > 0) ? (uint64_t)pages * (uint64_t)psize : 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->multiprocessors = ncpu > 0 ? (int)ncpu : 1;
    p->pci_bus_id = -1;
    return AVF_OK;
}

static avf_status cpu_mem_info(int index, uint64_t *free_b, uint64_t *total_b) {
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psize <= 0)
        return AVF_FAIL(AVF_ERR_DEVICE, "sysconf cannot read host memory size");
    *total_b = (uint64_t)pages * (uint64_t)psize;
    *free_b = avail > 0 ? (uint64_t)avail * (uint64_t)psize : 0;
    return AVF_OK;
}

static avf_status cpu_synchronize(int index) { return AVF_OK; }

static avf_status cpu_mem_alloc(int index, size_t bytes, void **ptr) {
    /* aligned_alloc needs a multiple of the alignment; guard the round-up. */
    if (bytes > SIZE_MAX - AVF_CPU_ALIGN)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "host allocation of %zu bytes is too large", bytes);
    size_t rounded = (bytes + AVF_CPU_ALIGN - 1) / AVF_CPU_ALIGN * AVF_CPU_ALIGN;
    void *p = aligned_alloc(AVF_CPU_ALIGN, rounded);
    if (!p)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "host allocation of %zu bytes failed", bytes);
    *ptr = p;
    return AVF_OK;
}

static avf_status cpu_mem_free(int index, void *ptr) {
    free(ptr);
    return AVF_OK;
}

static avf_status cpu_stream_create(int index, void **native) {
    *native = NULL;
    return AVF_OK;
}
static avf_status cpu_stream_destroy(int index, void *native) { return AVF_OK; }
static avf_status cpu_stream_sync(int index, void *native) { return AVF_OK; }
static avf_status cpu_stream_wait_event(int index, void *stream, void *event) { return AVF_OK; }

static avf_status cpu_event_create(int index, int timing, void **native) {
    avf_cpu_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "event");
    ev->timing = timing;
    *native = ev;
    return AVF_OK;
}

static avf_status cpu_event_destroy(int index, void *native) {
    free(native);
    return AVF_OK;
}

static avf_status cpu_event_record(int index, void *event, void *stream) {
    avf_cpu_event *ev = event;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ev->t_ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    ev->recorded = 1;
    return AVF_OK;
}

static avf_status cpu_event_query(int index, void *event, int *done) {
    *done = 1;
    return AVF_OK;
}

static avf_status cpu_event_sync(int index, void *event) { return AVF_OK; }

static avf_status cpu_event_elapsed(int index, void *start, void *end, float *ms) {
    const avf_cpu_event *a = start, *b = end;
    if (!a->timing || !b->timing)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "event created without timing");
    if (!a->recorded || !b->recorded)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "event not recorded");
    *ms = (float)(b->t_ms - a->t_ms);
    return AVF_OK;
}

static avf_status cpu_memcpy(int index, void *dst, const void *src, size_t bytes,
                             avf_copy_kind kind, void *stream) {
    memmove(dst, src, bytes);
    return AVF_OK;
}

static avf_status cpu_memset(int index, void *dst, int value, size_t bytes, void *stream) {
    memset(dst, value, bytes);
    return AVF_OK;
}

static size_t cpu_versions(char *buf, size_t cap) {
#ifdef __GLIBC__
    int n = snprintf(buf, cap, "glibc=%s\n", gnu_get_libc_version());
#else
    int n = snprintf(buf, cap, "libc=unknown\n");
#endif
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

const avf_backend_ops avf_cpu_backend = {
    .name = "cpu",
    .device_count = cpu_device_count,
    .props = cpu_props,
    .mem_info = cpu_mem_info,
    .synchronize = cpu_synchronize,
    .mem_alloc = cpu_mem_alloc,
    .mem_free = cpu_mem_free,
    .host_alloc = cpu_mem_alloc,
    .host_free = cpu_mem_free,
    .stream_create = cpu_stream_create,
    .stream_destroy = cpu_stream_destroy,
    .stream_sync = cpu_stream_sync,
    .stream_wait_event = cpu_stream_wait_event,
    .event_create = cpu_event_create,
    .event_destroy = cpu_event_destroy,
    .event_record = cpu_event_record,
    .event_query = cpu_event_query,
    .event_sync = cpu_event_sync,
    .event_elapsed = cpu_event_elapsed,
    .memcpy_async = cpu_memcpy,
    .memset_async = cpu_memset,
    .versions = cpu_versions,
};
