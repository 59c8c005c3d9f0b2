/* Internal: a device backend is a table of functions plus its devices.
 *
 * Each backend (cpu, cuda) fills one avf_backend_ops. Public functions in
 * device.c check arguments and dispatch through dev->ops, so a backend only
 * implements the work. Native handles are opaque void*: cudaStream_t and
 * cudaEvent_t on CUDA; small host structs on CPU.
 */
#ifndef AVF_CORE_BACKEND_H
#define AVF_CORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_backend_ops {
    const char *name;
    avf_status (*device_count)(int *count);
    avf_status (*props)(int index, avf_device_props *props);
    avf_status (*mem_info)(int index, uint64_t *free_b, uint64_t *total_b);
    avf_status (*synchronize)(int index);
    avf_status (*mem_alloc)(int index, size_t bytes, void **ptr);
    avf_status (*mem_free)(int index, void *ptr);
    avf_status (*host_alloc)(int index, size_t bytes, void **ptr);
    avf_status (*host_free)(int index, void *ptr);
    avf_status (*stream_create)(int index, void **native);
    avf_status (*stream_destroy)(int index, void *native);
    avf_status (*stream_sync)(int index, void *native);
    avf_status (*stream_wait_event)(int index, void *stream, void *event);
    avf_status (*event_create)(int index, int timing, void **native);
    avf_status (*event_destroy)(int index, void *native);
    avf_status (*event_record)(int index, void *event, void *stream);
    avf_status (*event_query)(int index, void *event, int *done);
    avf_status (*event_sync)(int index, void *event);
    avf_status (*event_elapsed)(int index, void *start, void *end, float *ms);
    avf_status (*memcpy_async)(int index, void *dst, const void *src, size_t bytes,
                               avf_copy_kind kind, void *stream);
    avf_status (*memset_async)(int index, void *dst, int value, size_t bytes, void *stream);
    size_t (*versions)(char *buf, size_t cap);
    /* Stream capture into a replayable graph (CUDA graphs); NULL where the
     * backend has none (the CPU runs synchronously: nothing to capture). */
    avf_status (*capture_begin)(int index, void *stream);
    avf_status (*capture_end)(int index, void *stream, void **exec);
    avf_status (*graph_launch)(int index, void *exec, void *stream);
    void (*graph_destroy)(int index, void *exec);
} avf_backend_ops;

struct avf_device {
    avf_device_kind kind;
    int index;
    const avf_backend_ops *ops;
    char name[32];
};

struct avf_stream {
    avf_device *dev;
    void *native;
};

struct avf_event {
    avf_device *dev;
    void *native;
};

struct avf_graph_exec {
    avf_device *dev;
    void *native;
};

extern const avf_backend_ops avf_cpu_backend;
#ifdef AVF_HAVE_CUDA
extern const avf_backend_ops avf_cuda_backend;
#endif

#ifdef __cplusplus
}
#endif
#endif /* AVF_CORE_BACKEND_H */
