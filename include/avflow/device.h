/* avflow devices, streams, events and copies.
 *
 * A device is one processor that holds memory and runs work: the host CPU
 * (always present, index 0) or one CUDA GPU. Devices are process-wide
 * singletons owned by avflow: avf_device_get() returns a borrowed pointer that
 * stays valid until the process ends; never free it.
 *
 * Work is ordered on streams. On the CPU backend every operation completes
 * before it returns, so streams and events exist only to keep one code path;
 * on CUDA they are cudaStream_t/cudaEvent_t. Functions that also take a
 * device (copies, memset, event record) accept a NULL stream, meaning that
 * device's default stream; functions that take only a stream
 * (avf_stream_synchronize, avf_stream_wait_event) need a real one.
 *
 * All functions return AVF_OK or an error with a message (avf_last_error()).
 */
#ifndef AVFLOW_DEVICE_H
#define AVFLOW_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum avf_device_kind {
    AVF_DEVICE_CPU = 0,
    AVF_DEVICE_CUDA = 1,
    AVF_DEVICE_KIND_COUNT
} avf_device_kind;

typedef struct avf_device avf_device;
typedef struct avf_stream avf_stream;
typedef struct avf_event avf_event;

typedef struct avf_device_props {
    char name[128];
    avf_device_kind kind;
    int index;
    uint64_t total_memory;     /* bytes */
    int cc_major, cc_minor;    /* compute capability (0.0 on CPU) */
    int multiprocessors;       /* SMs, or logical CPU cores */
    uint64_t l2_cache_bytes;   /* 0 when unknown */
    uint64_t shared_mem_per_block_optin;
    int pci_bus_id;            /* -1 on CPU */
    int async_engines;         /* copy engines (0 on CPU) */
} avf_device_props;

/* "cpu" or "cuda". */
const char *avf_device_kind_name(avf_device_kind kind);

/* Whether this build contains the backend (CUDA may be compiled out). */
int avf_backend_compiled(avf_device_kind kind);

/* Number of devices of a kind: 1 for CPU; CUDA GPUs visible (0 when the
 * backend is compiled out or no driver/GPU is present: that is not an error). */
avf_status avf_device_count(avf_device_kind kind, int *count);

/* Borrowed handle to device `index` of `kind`; AVF_ERR_NOT_FOUND if absent. */
avf_status avf_device_get(avf_device_kind kind, int index, avf_device **out);

/* Simulated CPU devices: "cpu:1" .. "cpu:7" (see avf_device_parse). */
#define AVF_DEVICE_MAX_SIM_CPU 8
/* Longest device list avf_device_parse_list accepts, NUL included. */
#define AVF_DEVICE_LIST_MAX_CHARS 256

/* Parse "cpu", "cuda", "cuda:N" or "cpu:N" and return the device.
 * "cpu:0" is "cpu"; "cpu:N" with 1 <= N < AVF_DEVICE_MAX_SIM_CPU is a
 * simulated device: it runs on the host like "cpu" but is a distinct handle
 * (its own index N and name "cpu:N", so its own pools, streams and serve
 * lanes), for testing multi-device code without GPUs. avf_device_count and
 * avf_device_get know only the real devices. AVF_ERR_INVALID_ARG for a
 * malformed name, AVF_ERR_NOT_FOUND (or AVF_ERR_UNSUPPORTED without CUDA)
 * for an absent device. */
avf_status avf_device_parse(const char *spec, avf_device **out);
/* Parse a comma-separated device list ("cuda:0,cuda:1", spaces around items
 * allowed) into out[0..*n), at most `cap` devices; "all" is every CUDA
 * device found (the first `cap`; none found is AVF_ERR_NOT_FOUND, or
 * AVF_ERR_UNSUPPORTED without CUDA). Errors name the entry: an empty entry,
 * a device listed twice (also "cuda" next to "cuda:0"), more than `cap`,
 * a list of AVF_DEVICE_LIST_MAX_CHARS or more (AVF_ERR_INVALID_ARG), and
 * avf_device_parse's errors for an entry. *n is 0 on failure. */
avf_status avf_device_parse_list(const char *spec, avf_device **out, int cap, int *n);

/* 1 when memory of `a` can be used directly by work on `b`: the same device,
 * or two host devices ("cpu" and the simulated "cpu:N" share host memory). */
int avf_device_same_memory(const avf_device *a, const avf_device *b);

avf_device_kind avf_device_get_kind(const avf_device *dev);
int avf_device_get_index(const avf_device *dev);
/* "cpu" or "cuda:N" */
const char *avf_device_get_name(const avf_device *dev);
avf_status avf_device_get_props(const avf_device *dev, avf_device_props *props);
/* Current free and total memory as the driver reports it. */
avf_status avf_device_mem_info(const avf_device *dev, uint64_t *free_bytes, uint64_t *total_bytes);
/* Wait until all work on the device is done. */
avf_status avf_device_synchronize(avf_device *dev);

/* Raw device memory straight from the driver. This is slow on CUDA
 * (cudaMalloc synchronizes): request paths use avf_pool instead. */
avf_status avf_device_malloc(avf_device *dev, size_t bytes, void **ptr);
avf_status avf_device_free(avf_device *dev, void *ptr);
/* Page-locked host memory usable for async copies with this device (plain
 * aligned host memory on the CPU backend). */
avf_status avf_host_alloc_pinned(avf_device *dev, size_t bytes, void **ptr);
avf_status avf_host_free_pinned(avf_device *dev, void *ptr);

/* Streams. */
avf_status avf_stream_create(avf_device *dev, avf_stream **out);
void avf_stream_free(avf_stream *s);
avf_status avf_stream_synchronize(avf_stream *s);
avf_device *avf_stream_device(const avf_stream *s);
/* The backend's native handle (cudaStream_t on CUDA, NULL on CPU). */
void *avf_stream_native(const avf_stream *s);
/* Make `s` wait for everything recorded in `ev` (no host blocking). */
avf_status avf_stream_wait_event(avf_stream *s, avf_event *ev);

/* Events. avf_event_query sets *done to 1 when the recorded work finished. */
avf_status avf_event_create(avf_device *dev, int enable_timing, avf_event **out);
void avf_event_free(avf_event *ev);
avf_status avf_event_record(avf_event *ev, avf_stream *s);
avf_status avf_event_query(avf_event *ev, int *done);
avf_status avf_event_synchronize(avf_event *ev);
/* Milliseconds between two timing events that have both completed. */
avf_status avf_event_elapsed_ms(avf_event *start, avf_event *end, float *ms);

/* Captured work (CUDA graphs). Everything enqueued on a stream between
 * avf_stream_capture_begin and avf_stream_capture_end is recorded, not run;
 * the result replays it with one launch, on any stream of the device, with
 * the same pointers and arguments. Capture fails (AVF_ERR_UNSUPPORTED on the
 * CPU backend, or the driver's error) if the work synchronizes the stream or
 * copies from pageable host memory while capturing; after a failed
 * avf_stream_capture_end the stream is usable again and nothing is leaked.
 * A graph must not be replayed on two streams at once (it reuses its
 * buffers). */
typedef struct avf_graph_exec avf_graph_exec;
avf_status avf_stream_capture_begin(avf_stream *s);
avf_status avf_stream_capture_end(avf_stream *s, avf_graph_exec **out);
avf_status avf_graph_exec_launch(avf_graph_exec *g, avf_stream *s);
/* NULL is ignored; the graph's last launch may still be running. */
void avf_graph_exec_free(avf_graph_exec *g);

/* Direction of a copy, as the transfer ledger counts it. */
typedef enum avf_copy_kind {
    AVF_COPY_H2D = 0,
    AVF_COPY_D2H,
    AVF_COPY_D2D,
    AVF_COPY_H2H,
    AVF_COPY_KIND_COUNT
} avf_copy_kind;

/* Asynchronous copy of `bytes` on stream `s` of device `dev`. `tag` names
 * the request or stage for the transfer ledger (NULL counts as "untagged").
 * Host memory should be pinned for the copy to be truly asynchronous. */
avf_status avf_memcpy_async(avf_device *dev, void *dst, const void *src, size_t bytes,
                            avf_copy_kind kind, avf_stream *s, const char *tag);
/* Fill `bytes` of device memory with byte `value`, asynchronously. */
avf_status avf_memset_async(avf_device *dev, void *dst, int value, size_t bytes, avf_stream *s);

/* Version strings for `avflow info`: writes "name=version" lines for the
 * device runtime and the libraries this build links (cudart, driver, cuBLAS,
 * cuDNN, cuFFT). Returns the number of bytes written (excluding NUL). */
size_t avf_runtime_versions(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_DEVICE_H */
