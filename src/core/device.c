/* Device registry and the public device/stream/event API.
 *
 * Arguments are checked here once; backends only do the work. Devices are
 * created on first use and live for the whole process, so handles can be
 * shared freely between threads without reference counting.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/device.h"
#include "avflow/ledger.h"
#include "core/backend.h"
#include "core/capture_gate.h"
#include "core/error.h"

#define AVF_MAX_CUDA_DEVICES 64
#define AVF_MAX_DEVICE_INDEX 1024

static avf_device avf_cpu_device = {AVF_DEVICE_CPU, 0, &avf_cpu_backend, "cpu"};

/* "cpu:N" (N >= 1): simulated devices, host memory like "cpu" but distinct
 * handles with their own names, so that tests can stand several devices up
 * (a server's per-device lanes, pools and placement) on a machine without
 * GPUs. They are not counted by avf_device_count: only the parser hands them
 * out, so code that enumerates real devices never sees them. */
static avf_device avf_sim_cpu_devices[AVF_DEVICE_MAX_SIM_CPU] = {
    {AVF_DEVICE_CPU, 0, &avf_cpu_backend, "cpu"},   {AVF_DEVICE_CPU, 1, &avf_cpu_backend, "cpu:1"},
    {AVF_DEVICE_CPU, 2, &avf_cpu_backend, "cpu:2"}, {AVF_DEVICE_CPU, 3, &avf_cpu_backend, "cpu:3"},
    {AVF_DEVICE_CPU, 4, &avf_cpu_backend, "cpu:4"}, {AVF_DEVICE_CPU, 5, &avf_cpu_backend, "cpu:5"},
    {AVF_DEVICE_CPU, 6, &avf_cpu_backend, "cpu:6"}, {AVF_DEVICE_CPU, 7, &avf_cpu_backend, "cpu:7"},
};

#ifdef AVF_HAVE_CUDA
static avf_device avf_cuda_devices[AVF_MAX_CUDA_DEVICES];
static int avf_cuda_count;
static pthread_once_t avf_cuda_once = PTHREAD_ONCE_INIT;

static void avf_cuda_discover(void) {
    int n = 0;
    /* No driver or no GPU is a normal situation, not an error: count 0. */
    if (avf_cuda_backend.device_count(&n) != AVF_OK || n < 0)
        n = 0;
    if (n > AVF_MAX_CUDA_DEVICES)
        n = AVF_MAX_CUDA_DEVICES;
    for (int i = 0; i < n; i++) {
        avf_cuda_devices[i].kind = AVF_DEVICE_CUDA;
        avf_cuda_devices[i].index = i;
        avf_cuda_devices[i].ops = &avf_cuda_backend;
        snprintf(avf_cuda_devices[i].name, sizeof avf_cuda_devices[i].name, "cuda:%d", i);
    }
    avf_cuda_count = n;
    avf_clear_error();
}
#endif

const char *avf_device_kind_name(avf_device_kind kind) {
    switch (kind) {
    case AVF_DEVICE_CPU: return "cpu";
    case AVF_DEVICE_CUDA: return "cuda";
    default: return "unknown";
    }
}

int avf_backend_compiled(avf_device_kind kind) {
    if (kind == AVF_DEVICE_CPU)
        return 1;
#ifdef AVF_HAVE_CUDA
    if (kind == AVF_DEVICE_CUDA)
        return 1;
#endif
    return 0;
}

avf_status avf_device_count(avf_device_kind kind, int *count) {
    AVF_CHECK_ARG(count != NULL);
    *count = 0;
    switch (kind) {
    case AVF_DEVICE_CPU: *count = 1; return AVF_OK;
    case AVF_DEVICE_CUDA:
#ifdef AVF_HAVE_CUDA
        pthread_once(&avf_cuda_once, avf_cuda_discover);
        *count = avf_cuda_count;
#endif
        return AVF_OK;
    default: return AVF_FAIL(AVF_ERR_INVALID_ARG, "unknown device kind %d", (int)kind);
    }
}

avf_status avf_device_get(avf_device_kind kind, int index, avf_device **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    int n = 0;
    AVF_TRY(avf_device_count(kind, &n));
    if (index < 0 || index >= n) {
        if (kind == AVF_DEVICE_CUDA && !avf_backend_compiled(kind))
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "this build has no CUDA backend (AVF_CUDA=OFF)");
        return AVF_FAIL(AVF_ERR_NOT_FOUND, "no device %s:%d (%d present)",
                        avf_device_kind_name(kind), index, n);
    }
#ifdef AVF_HAVE_CUDA
    if (kind == AVF_DEVICE_CUDA) {
        *out = &avf_cuda_devices[index];
        return AVF_OK;
    }
#endif
    *out = &avf_cpu_device;
    return AVF_OK;
}

/* A decimal index of at most 4 digits ("0".."9999"), nothing after it. */
static int parse_index(const char *p, long *out) {
    if (*p < '0' || *p > '9')
        return 0;
    char *end = NULL;
    long idx = strtol(p, &end, 10);
    if (*end != '\0' || end - p > 4)
        return 0;
    *out = idx;
    return 1;
}

avf_status avf_device_parse(const char *spec, avf_device **out) {
    AVF_CHECK_ARG(spec != NULL && out != NULL);
    *out = NULL;
    long idx = 0;
    if (strcmp(spec, "cpu") == 0)
        return avf_device_get(AVF_DEVICE_CPU, 0, out);
    if (strncmp(spec, "cpu:", 4) == 0 && parse_index(spec + 4, &idx)) {
        if (idx == 0)
            return avf_device_get(AVF_DEVICE_CPU, 0, out); /* "cpu:0" is the host itself */
        if (idx >= AVF_DEVICE_MAX_SIM_CPU)
            return AVF_FAIL(AVF_ERR_NOT_FOUND, "no device cpu:%ld (simulated CPU devices are "
                            "cpu:0..cpu:%d)", idx, AVF_DEVICE_MAX_SIM_CPU - 1);
        *out = &avf_sim_cpu_devices[idx];
        return AVF_OK;
    }
    if (strncmp(spec, "cuda", 4) == 0) {
        const char *rest = spec + 4;
        if (*rest == '\0')
            return avf_device_get(AVF_DEVICE_CUDA, 0, out);
        if (*rest == ':' && parse_index(rest + 1, &idx) && idx < AVF_MAX_DEVICE_INDEX)
            return avf_device_get(AVF_DEVICE_CUDA, (int)idx, out);
    }
    return AVF_FAIL(AVF_ERR_INVALID_ARG, "bad device '%.64s': expected cpu, cpu:N, cuda or cuda:N",
                    spec);
}

avf_status avf_device_parse_list(const char *spec, avf_device **out, int cap, int *n) {
    AVF_CHECK_ARG(spec != NULL && out != NULL && n != NULL && cap >= 1);
    *n = 0;
    size_t len = strlen(spec);
    if (len == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "empty device list");
    if (len >= AVF_DEVICE_LIST_MAX_CHARS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "device list of %zu characters (at most %d)", len,
                        AVF_DEVICE_LIST_MAX_CHARS - 1);
    if (strcmp(spec, "all") == 0) {
        int count = 0;
        AVF_TRY(avf_device_count(AVF_DEVICE_CUDA, &count));
        if (count == 0)
            return AVF_FAIL(avf_backend_compiled(AVF_DEVICE_CUDA) ? AVF_ERR_NOT_FOUND
                                                                  : AVF_ERR_UNSUPPORTED,
                            "device list 'all': no CUDA device found%s",
                            avf_backend_compiled(AVF_DEVICE_CUDA) ? "" : " (AVF_CUDA=OFF build)");
        if (count > cap)
            count = cap; /* bounded: the first `cap` GPUs */
        for (int i = 0; i < count; i++)
            AVF_TRY(avf_device_get(AVF_DEVICE_CUDA, i, &out[i]));
        *n = count;
        return AVF_OK;
    }
    char buf[AVF_DEVICE_LIST_MAX_CHARS];
    memcpy(buf, spec, len + 1);
    int count = 0;
    /* empty items ("cuda:0,,cuda:1", a trailing comma) are errors, so walk by hand */
    for (char *item = buf;; ) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        while (*item == ' ')
            item++;
        for (char *e = item + strlen(item); e > item && e[-1] == ' ';)
            *--e = '\0';
        if (!*item)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "device list '%.64s': empty entry", spec);
        if (count == cap)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "device list '%.64s': more than %d devices",
                            spec, cap);
        avf_device *d = NULL;
        avf_status st = avf_device_parse(item, &d);
        if (st != AVF_OK) {
            char why[256]; /* copied: AVF_FAIL rewrites the message it would read */
            snprintf(why, sizeof why, "%s", avf_last_error());
            return AVF_FAIL(st, "device list: %s", why);
        }
        for (int i = 0; i < count; i++)
            if (out[i] == d)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "device list '%.64s': %s is listed twice",
                                spec, d->name);
        out[count++] = d;
        if (!comma)
            break;
        item = comma + 1;
    }
    *n = count;
    return AVF_OK;
}

int avf_device_same_memory(const avf_device *a, const avf_device *b) {
    return a == b || (a && b && a->kind == AVF_DEVICE_CPU && b->kind == AVF_DEVICE_CPU);
}

avf_device_kind avf_device_get_kind(const avf_device *dev) { return dev ? dev->kind : AVF_DEVICE_CPU; }
int avf_device_get_index(const avf_device *dev) { return dev ? dev->index : -1; }
const char *avf_device_get_name(const avf_device *dev) { return dev ? dev->name : "(null)"; }

avf_status avf_device_get_props(const avf_device *dev, avf_device_props *props) {
    AVF_CHECK_ARG(dev != NULL && props != NULL);
    memset(props, 0, sizeof *props);
    props->pci_bus_id = -1;
    AVF_TRY(dev->ops->props(dev->index, props));
    props->kind = dev->kind;
    props->index = dev->index;
    return AVF_OK;
}

avf_status avf_device_mem_info(const avf_device *dev, uint64_t *free_bytes, uint64_t *total_bytes) {
    AVF_CHECK_ARG(dev != NULL && free_bytes != NULL && total_bytes != NULL);
    return dev->ops->mem_info(dev->index, free_bytes, total_bytes);
}

avf_status avf_device_synchronize(avf_device *dev) {
    AVF_CHECK_ARG(dev != NULL);
    avf_capture_gate_sync_enter(dev);
    avf_status st = dev->ops->synchronize(dev->index);
    avf_capture_gate_sync_leave(dev);
    return st;
}

avf_status avf_device_malloc(avf_device *dev, size_t bytes, void **ptr) {
    AVF_CHECK_ARG(dev != NULL && ptr != NULL);
    *ptr = NULL;
    if (bytes == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "zero-byte device allocation");
    return dev->ops->mem_alloc(dev->index, bytes, ptr);
}

avf_status avf_device_free(avf_device *dev, void *ptr) {
    AVF_CHECK_ARG(dev != NULL);
    if (!ptr)
        return AVF_OK;
    avf_capture_gate_sync_enter(dev); /* cudaFree synchronizes the device */
    avf_status st = dev->ops->mem_free(dev->index, ptr);
    avf_capture_gate_sync_leave(dev);
    return st;
}

avf_status avf_host_alloc_pinned(avf_device *dev, size_t bytes, void **ptr) {
    AVF_CHECK_ARG(dev != NULL && ptr != NULL);
    *ptr = NULL;
    if (bytes == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "zero-byte pinned allocation");
    return dev->ops->host_alloc(dev->index, bytes, ptr);
}

avf_status avf_host_free_pinned(avf_device *dev, void *ptr) {
    AVF_CHECK_ARG(dev != NULL);
    if (!ptr)
        return AVF_OK;
    return dev->ops->host_free(dev->index, ptr);
}

/* ------------------------------------------------------------------ streams */

avf_status avf_stream_create(avf_device *dev, avf_stream **out) {
    AVF_CHECK_ARG(dev != NULL && out != NULL);
    *out = NULL;
    avf_stream *s = calloc(1, sizeof *s);
    if (!s)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "stream struct");
    s->dev = dev;
    avf_status st = dev->ops->stream_create(dev->index, &s->native);
    if (st != AVF_OK) {
        free(s);
        return st;
    }
    *out = s;
    return AVF_OK;
}

void avf_stream_free(avf_stream *s) {
    if (!s)
        return;
    s->dev->ops->stream_destroy(s->dev->index, s->native);
    free(s);
}

avf_status avf_stream_synchronize(avf_stream *s) {
    AVF_CHECK_ARG(s != NULL);
    return s->dev->ops->stream_sync(s->dev->index, s->native);
}

avf_device *avf_stream_device(const avf_stream *s) { return s ? s->dev : NULL; }
void *avf_stream_native(const avf_stream *s) { return s ? s->native : NULL; }

/* A NULL stream is the device's default stream; its native handle is NULL. */
static avf_status avf_stream_on(avf_device *dev, avf_stream *s, void **native) {
    *native = NULL;
    if (!s)
        return AVF_OK;
    if (s->dev != dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "stream of %s used with %s", s->dev->name, dev->name);
    *native = s->native;
    return AVF_OK;
}

avf_status avf_stream_wait_event(avf_stream *s, avf_event *ev) {
    AVF_CHECK_ARG(s != NULL && ev != NULL);
    if (s->dev != ev->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "event of %s waited on by a stream of %s",
                        ev->dev->name, s->dev->name);
    return s->dev->ops->stream_wait_event(s->dev->index, s->native, ev->native);
}

/* ------------------------------------------------------------------- events */

avf_status avf_event_create(avf_device *dev, int enable_timing, avf_event **out) {
    AVF_CHECK_ARG(dev != NULL && out != NULL);
    *out = NULL;
    avf_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "event struct");
    ev->dev = dev;
    avf_status st = dev->ops->event_create(dev->index, enable_timing, &ev->native);
    if (st != AVF_OK) {
        free(ev);
        return st;
    }
    *out = ev;
    return AVF_OK;
}

void avf_event_free(avf_event *ev) {
    if (!ev)
        return;
    ev->dev->ops->event_destroy(ev->dev->index, ev->native);
    free(ev);
}

avf_status avf_event_record(avf_event *ev, avf_stream *s) {
    AVF_CHECK_ARG(ev != NULL);
    void *native = NULL;
    AVF_TRY(avf_stream_on(ev->dev, s, &native));
    return ev->dev->ops->event_record(ev->dev->index, ev->native, native);
}

avf_status avf_event_query(avf_event *ev, int *done) {
    AVF_CHECK_ARG(ev != NULL && done != NULL);
    return ev->dev->ops->event_query(ev->dev->index, ev->native, done);
}

avf_status avf_event_synchronize(avf_event *ev) {
    AVF_CHECK_ARG(ev != NULL);
    return ev->dev->ops->event_sync(ev->dev->index, ev->native);
}

avf_status avf_event_elapsed_ms(avf_event *start, avf_event *end, float *ms) {
    AVF_CHECK_ARG(start != NULL && end != NULL && ms != NULL);
    if (start->dev != end->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "timing events on different devices");
    return start->dev->ops->event_elapsed(start->dev->index, start->native, end->native, ms);
}

/* ------------------------------------------------------------ CUDA graphs */

avf_status avf_stream_capture_begin(avf_stream *s) {
    AVF_CHECK_ARG(s != NULL);
    if (!s->dev->ops->capture_begin)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: no stream capture on this backend",
                        s->dev->name);
    avf_capture_gate_begin(s->dev);
    avf_status st = s->dev->ops->capture_begin(s->dev->index, s->native);
    if (st != AVF_OK)
        avf_capture_gate_end(s->dev);
    return st;
}

avf_status avf_stream_capture_end(avf_stream *s, avf_graph_exec **out) {
    AVF_CHECK_ARG(s != NULL && out != NULL);
    *out = NULL;
    if (!s->dev->ops->capture_end)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: no stream capture on this backend",
                        s->dev->name);
    avf_graph_exec *g = calloc(1, sizeof *g);
    void *native = NULL;
    avf_status st = s->dev->ops->capture_end(s->dev->index, s->native, &native);
    avf_capture_gate_end(s->dev);
    if (st == AVF_OK && !g) {
        s->dev->ops->graph_destroy(s->dev->index, native);
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "graph struct");
    }
    if (st != AVF_OK) {
        free(g);
        return st;
    }
    g->dev = s->dev;
    g->native = native;
    *out = g;
    return AVF_OK;
}

avf_status avf_graph_exec_launch(avf_graph_exec *g, avf_stream *s) {
    AVF_CHECK_ARG(g != NULL);
    void *native = NULL;
    AVF_TRY(avf_stream_on(g->dev, s, &native));
    return g->dev->ops->graph_launch(g->dev->index, g->native, native);
}

void avf_graph_exec_free(avf_graph_exec *g) {
    if (!g)
        return;
    g->dev->ops->graph_destroy(g->dev->index, g->native);
    free(g);
}

/* -------------------------------------------------------------------- copies */

avf_status avf_memcpy_async(avf_device *dev, void *dst, const void *src, size_t bytes,
                            avf_copy_kind kind, avf_stream *s, const char *tag) {
    AVF_CHECK_ARG(dev != NULL);
    if ((int)kind < 0 || kind >= AVF_COPY_KIND_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "bad copy kind %d", (int)kind);
    if (bytes == 0)
        return AVF_OK;
    AVF_CHECK_ARG(dst != NULL && src != NULL);
    void *native = NULL;
    /* Strict GPU mode: a decoded frame copied back to the host is refused
     * before it is made. The CPU device's memory is host memory already. */
    if (kind == AVF_COPY_D2H && dev->kind != AVF_DEVICE_CPU)
        AVF_TRY(avf_ledger_check(avf_ledger_global(), tag, kind, bytes));
    AVF_TRY(avf_stream_on(dev, s, &native));
    AVF_TRY(dev->ops->memcpy_async(dev->index, dst, src, bytes, kind, native));
    avf_ledger_record(avf_ledger_global(), tag, kind, bytes);
    return AVF_OK;
}

avf_status avf_memset_async(avf_device *dev, void *dst, int value, size_t bytes, avf_stream *s) {
    AVF_CHECK_ARG(dev != NULL);
    if (bytes == 0)
        return AVF_OK;
    AVF_CHECK_ARG(dst != NULL);
    void *native = NULL;
    AVF_TRY(avf_stream_on(dev, s, &native));
    return dev->ops->memset_async(dev->index, dst, value, bytes, native);
}

size_t avf_runtime_versions(char *buf, size_t cap) {
    if (!buf || cap == 0)
        return 0;
    buf[0] = '\0';
    size_t n = avf_cpu_backend.versions(buf, cap);
#ifdef AVF_HAVE_CUDA
    if (n < cap)
        n += avf_cuda_backend.versions(buf + n, cap - n);
#endif
    return n;
}
