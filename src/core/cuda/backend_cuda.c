/* The CUDA backend: device memory, streams, events and copies through the
 * CUDA runtime. Every call is checked and turned into an avf_status.
 *
 * Device-scoped calls select the device first (cudaSetDevice is cheap when it
 * is already current), so one process can drive every GPU from any thread.
 * Calls on an explicit stream need no selection: the stream names its device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <cufft.h>

#include "core/backend.h"
#include "core/cuda/check.h"
#include "core/error.h"

/* cudaEventBlockingSync when AVF_CUDA_SYNC=blocking: the device flag covers
 * stream and device synchronization only; cudaEventSynchronize on an event
 * created without this flag busy-waits whatever the device's policy (CUDA
 * runtime documentation), so a thread waiting on an event (VAD's run-ahead
 * bound, the staging slots, a plan's release) held a host core for the whole
 * wait. Set once by discovery, before any event exists. */
static unsigned cuda_event_wait_flag;

static avf_status cuda_use(int index) {
    AVF_CUDA_TRY(cudaSetDevice(index));
    return AVF_OK;
}

static avf_status cuda_device_count(int *count) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) {
        (void)cudaGetLastError();
        *count = 0;
        return AVF_OK;
    }
    if (e != cudaSuccess) {
        *count = 0;
        return AVF_CUDA_CHECK(e);
    }
    *count = n;
    /* AVF_CUDA_SYNC=blocking|yield|spin|auto: how host threads wait for the
     * GPU, set on each device before its context exists (discovery runs
     * once, before any other CUDA call of avflow). The runtime's default
     * (auto) spins while there are fewer busy contexts than cores, which
     * costs a host core per waiting thread; a server with several workers
     * per GPU wants blocking (`avflow serve` sets it unless told). */
    const char *sync = getenv("AVF_CUDA_SYNC");
    unsigned flag = 0;
    if (sync && !strcmp(sync, "blocking"))
        flag = cudaDeviceScheduleBlockingSync;
    else if (sync && !strcmp(sync, "yield"))
        flag = cudaDeviceScheduleYield;
    else if (sync && !strcmp(sync, "spin"))
        flag = cudaDeviceScheduleSpin;
    if (flag == cudaDeviceScheduleBlockingSync)
        cuda_event_wait_flag = cudaEventBlockingSync;
    for (int i = 0; flag && i < n; i++) {
        if (cudaSetDevice(i) != cudaSuccess || cudaSetDeviceFlags(flag) != cudaSuccess) {
            (void)cudaGetLastError(); /* a context already exists: keep its policy */
            fprintf(stderr, "avflow: AVF_CUDA_SYNC=%s not applied to cuda:%d (context already "
                            "created)\n", sync, i);
        }
    }
    return AVF_OK;
}

static avf_status cuda_props(int index, avf_device_props *p) {
    struct cudaDeviceProp prop;
    AVF_CUDA_TRY(cudaGetDeviceProperties(&prop, index));
    snprintf(p->name, sizeof p->name, "%.127s", prop.name);
    p->total_memory = prop.totalGlobalMem;
    p->cc_major = prop.major;
    p->cc_minor = prop.minor;
    p->multiprocessors = prop.multiProcessorCount;
    p->l2_cache_bytes = (uint64_t)prop.l2CacheSize;
    p->shared_mem_per_block_optin = prop.sharedMemPerBlockOptin;
    p->pci_bus_id = prop.pciBusID;
    p->async_engines = prop.asyncEngineCount;
    return AVF_OK;
}

static avf_status cuda_mem_info(int index, uint64_t *free_b, uint64_t *total_b) {
    AVF_TRY(cuda_use(index));
    size_t f = 0, t = 0;
    AVF_CUDA_TRY(cudaMemGetInfo(&f, &t));
    *free_b = f;
    *total_b = t;
    return AVF_OK;
}

static avf_status cuda_synchronize(int index) {
    AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaDeviceSynchronize());
    return AVF_OK;
}

static avf_status cuda_mem_alloc(int index, size_t bytes, void **ptr) {
    AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaMalloc(ptr, bytes));
    return AVF_OK;
}

static avf_status cuda_mem_free(int index, void *ptr) {
    AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaFree(ptr));
    return AVF_OK;
}

static avf_status cuda_host_alloc(int index, size_t bytes, void **ptr) {
    AVF_TRY(cuda_use(index));
    /* Portable: the staging ring of one GPU may feed copies to another. */
    AVF_CUDA_TRY(cudaHostAlloc(ptr, bytes, cudaHostAllocPortable));
    return AVF_OK;
}

static avf_status cuda_host_free(int index, void *ptr) {
    AVF_CUDA_TRY(cudaFreeHost(ptr));
    return AVF_OK;
}

static avf_status cuda_stream_create(int index, void **native) {
    AVF_TRY(cuda_use(index));
    cudaStream_t s = NULL;
    /* Non-blocking: avflow's streams must not serialize with the legacy
     * default stream that other libraries in the process may use. */
    AVF_CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *native = s;
    return AVF_OK;
}

static avf_status cuda_stream_destroy(int index, void *native) {
    if (native)
        AVF_CUDA_TRY(cudaStreamDestroy((cudaStream_t)native));
    return AVF_OK;
}

static avf_status cuda_stream_sync(int index, void *native) {
    if (!native)
        AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaStreamSynchronize((cudaStream_t)native));
    return AVF_OK;
}

static avf_status cuda_stream_wait_event(int index, void *stream, void *event) {
    if (!stream)
        AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaStreamWaitEvent((cudaStream_t)stream, (cudaEvent_t)event, 0));
    return AVF_OK;
}

static avf_status cuda_event_create(int index, int timing, void **native) {
    AVF_TRY(cuda_use(index));
    cudaEvent_t ev = NULL;
    AVF_CUDA_TRY(cudaEventCreateWithFlags(
        &ev, (timing ? cudaEventDefault : cudaEventDisableTiming) | cuda_event_wait_flag));
    *native = ev;
    return AVF_OK;
}

static avf_status cuda_event_destroy(int index, void *native) {
    if (native)
        AVF_CUDA_TRY(cudaEventDestroy((cudaEvent_t)native));
    return AVF_OK;
}

static avf_status cuda_event_record(int index, void *event, void *stream) {
    if (!stream)
        AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaEventRecord((cudaEvent_t)event, (cudaStream_t)stream));
    return AVF_OK;
}

static avf_status cuda_event_query(int index, void *event, int *done) {
    cudaError_t e = cudaEventQuery((cudaEvent_t)event);
    if (e == cudaSuccess) {
        *done = 1;
        return AVF_OK;
    }
    if (e == cudaErrorNotReady) {
        *done = 0;
        return AVF_OK;
    }
    *done = 0;
    return AVF_CUDA_CHECK(e);
}

static avf_status cuda_event_sync(int index, void *event) {
    AVF_CUDA_TRY(cudaEventSynchronize((cudaEvent_t)event));
    return AVF_OK;
}

static avf_status cuda_event_elapsed(int index, void *start, void *end, float *ms) {
    AVF_CUDA_TRY(cudaEventElapsedTime(ms, (cudaEvent_t)start, (cudaEvent_t)end));
    return AVF_OK;
}

static avf_status cuda_memcpy(int index, void *dst, const void *src, size_t bytes,
                              avf_copy_kind kind, void *stream) {
    if (!stream)
        AVF_TRY(cuda_use(index));
    /* With unified addressing the runtime infers the direction; `kind` is
     * only what the ledger counts. */
    AVF_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, (cudaStream_t)stream));
    return AVF_OK;
}

static avf_status cuda_memset(int index, void *dst, int value, size_t bytes, void *stream) {
    if (!stream)
        AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaMemsetAsync(dst, value, bytes, (cudaStream_t)stream));
    return AVF_OK;
}

/* Relaxed mode: the capturing thread may still make calls CUDA deems
 * "unsafe" during capture (a cudaMalloc when a pool must grow); work that
 * would really break the graph (a synchronize, a pageable copy) still
 * invalidates it and capture_end reports that. */
static avf_status cuda_capture_begin(int index, void *stream) {
    if (!stream)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "cannot capture the default stream");
    AVF_CUDA_TRY(cudaStreamBeginCapture((cudaStream_t)stream, cudaStreamCaptureModeRelaxed));
    return AVF_OK;
}

static avf_status cuda_capture_end(int index, void *stream, void **exec) {
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture((cudaStream_t)stream, &graph);
    if (e != cudaSuccess) {
        if (graph)
            cudaGraphDestroy(graph);
        avf_status st = AVF_CUDA_CHECK(e);
        (void)cudaGetLastError(); /* an invalidated capture is not sticky */
        return st;
    }
    cudaGraphExec_t ge = NULL;
    e = cudaGraphInstantiateWithFlags(&ge, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        avf_status st = AVF_CUDA_CHECK(e);
        (void)cudaGetLastError();
        return st;
    }
    *exec = ge;
    return AVF_OK;
}

static avf_status cuda_graph_launch(int index, void *exec, void *stream) {
    if (!stream)
        AVF_TRY(cuda_use(index));
    AVF_CUDA_TRY(cudaGraphLaunch((cudaGraphExec_t)exec, (cudaStream_t)stream));
    return AVF_OK;
}

static void cuda_graph_destroy(int index, void *exec) {
    if (exec)
        cudaGraphExecDestroy((cudaGraphExec_t)exec);
}

/* Append one "name=version" line, never past cap; returns the new length. */
static size_t append_line(char *buf, size_t cap, size_t n, const char *name, const char *ver) {
    if (n + 1 >= cap)
        return n;
    int w = snprintf(buf + n, cap - n, "%s=%s\n", name, ver);
    if (w < 0)
        return n;
    return n + (size_t)w < cap ? n + (size_t)w : cap - 1;
}

static size_t cuda_versions(char *buf, size_t cap) {
    char v[64];
    size_t n = 0;
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    if (cudaDriverGetVersion(&drv) != cudaSuccess)
        drv = 0;
    (void)cudaGetLastError();
    snprintf(v, sizeof v, "%d.%d", rt / 1000, (rt % 1000) / 10);
    n = append_line(buf, cap, n, "cudart", v);
    if (drv)
        snprintf(v, sizeof v, "%d.%d", drv / 1000, (drv % 1000) / 10);
    else
        snprintf(v, sizeof v, "none (no NVIDIA driver)");
    n = append_line(buf, cap, n, "cuda_driver", v);
    int maj = 0, min = 0, pat = 0;
    cublasGetProperty(MAJOR_VERSION, &maj);
    cublasGetProperty(MINOR_VERSION, &min);
    cublasGetProperty(PATCH_LEVEL, &pat);
    snprintf(v, sizeof v, "%d.%d.%d", maj, min, pat);
    n = append_line(buf, cap, n, "cublas", v);
    size_t dnn = cudnnGetVersion();
    snprintf(v, sizeof v, "%zu.%zu.%zu", dnn / 10000, dnn / 100 % 100, dnn % 100);
    n = append_line(buf, cap, n, "cudnn", v);
    int fft = 0;
    cufftGetVersion(&fft);
    snprintf(v, sizeof v, "%d.%d.%d", fft / 10000, fft / 100 % 100, fft % 100);
    n = append_line(buf, cap, n, "cufft", v);
    return n;
}

const avf_backend_ops avf_cuda_backend = {
    .name = "cuda",
    .device_count = cuda_device_count,
    .props = cuda_props,
    .mem_info = cuda_mem_info,
    .synchronize = cuda_synchronize,
    .mem_alloc = cuda_mem_alloc,
    .mem_free = cuda_mem_free,
    .host_alloc = cuda_host_alloc,
    .host_free = cuda_host_free,
    .stream_create = cuda_stream_create,
    .stream_destroy = cuda_stream_destroy,
    .stream_sync = cuda_stream_sync,
    .stream_wait_event = cuda_stream_wait_event,
    .event_create = cuda_event_create,
    .event_destroy = cuda_event_destroy,
    .event_record = cuda_event_record,
    .event_query = cuda_event_query,
    .event_sync = cuda_event_sync,
    .event_elapsed = cuda_event_elapsed,
    .memcpy_async = cuda_memcpy,
    .memset_async = cuda_memset,
    .versions = cuda_versions,
    .capture_begin = cuda_capture_begin,
    .capture_end = cuda_capture_end,
    .graph_launch = cuda_graph_launch,
    .graph_destroy = cuda_graph_destroy,
};
