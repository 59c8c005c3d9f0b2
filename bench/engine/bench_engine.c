/* bench_engine: latency and throughput of avflow's executor on the real
 * models, on one device, for several batch sizes.
 *
 * For each (model, batch): random inputs in [-1, 1) (never zeros) are made
 * once on the host and uploaded once; then W untimed runs warm up (weights
 * upload, handle creation, pool growth) and R timed runs follow. GPU time of
 * a run is measured with CUDA events recorded on the run's stream around
 * avf_model_run; the host time of the call (the CPU cost of launching) is
 * measured around it with a monotonic clock. Medians are reported. Peers
 * (PyTorch eager, PyTorch + CUDA graph, ONNX Runtime CPU) are measured by
 * bench/engine/peers.py in the same session, on the same inputs' shapes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"

#define AK(call)                                                                         \
    do {                                                                                 \
        avf_status ak_s_ = (call);                                                       \
        if (ak_s_ != AVF_OK) {                                                           \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,            \
                    avf_status_name(ak_s_), avf_last_error());                           \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

typedef struct preset {
    const char *name, *file;
    int ndim;
    int64_t shape[4]; /* shape[0] is the batch */
    int is_vad;       /* Silero VAD: input [B, 576], state [2, B, 128], sr */
} preset;

static const preset presets[] = {
    {"ocr_rec", "ppocr_v4_rec.onnx", 4, {1, 3, 48, 320}, 0},
    {"ocr_det", "ppocr_v4_det.onnx", 4, {1, 3, 640, 640}, 0},
    {"ocr_cls", "ppocr_mobile_v2_cls.onnx", 4, {1, 3, 48, 192}, 0},
    /* 64 samples of context, then the 512-sample chunk: what the VAD app feeds */
    {"vad", "silero_vad.onnx", 2, {1, 576, 0, 0}, 1},
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *random_floats(int64_t n, uint64_t seed) {
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        v[i] = (float)((seed >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
    }
    return v;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_engine [--models DIR] [--device cuda:0|cpu] [--preset NAME]...\n"
               "                    [--batches 1,8,32] [--warmup W] [--reps R] [--tf32] [--fp16]\n"
               "                    [--json FILE] [--mode graph|interp|graph16]\n"
               "modes: graph (plans replaying CUDA graphs, the default), interp (node by node),\n"
               "       graph16 (--fp16: graphs with float values in f16)\n"
               "presets: ocr_rec (1x3x48x320), ocr_det (1x3x640x640), ocr_cls (1x3x48x192),\n"
               "         vad (1x576 + state); the first dim is replaced by each batch size.\n");
}

int main(int argc, char **argv) {
    const char *dir = "models", *devspec = "cuda:0", *json = NULL, *batches = "1,8,32";
    const char *only[8];
    int n_only = 0, warmup = 10, reps = 50, tf32 = 0, fp16 = 0;
    const char *only_mode = NULL; /* --mode: run just that one (e.g. for kernel traces) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--tf32")) {
            tf32 = 1;
        } else if (!strcmp(a, "--fp16")) {
            fp16 = 1;
        } else if (i + 1 < argc && !strcmp(a, "--models")) {
            dir = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--device")) {
            devspec = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--mode")) {
            only_mode = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--json")) {
            json = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--batches")) {
            batches = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--preset") && n_only < 8) {
            only[n_only++] = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--warmup")) {
            warmup = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(a, "--reps")) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "bench_engine: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (warmup < 1 || reps < 3 || reps > 100000) {
        fprintf(stderr, "bench_engine: need --warmup >= 1 and 3 <= --reps <= 100000\n");
        return 2;
    }
    avf_device *dev = NULL, *cpu = NULL;
    AK(avf_device_parse(devspec, &dev));
    AK(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_device_props props;
    AK(avf_device_get_props(dev, &props));
    avf_pool *pool = NULL;
    AK(avf_pool_create(dev, NULL, &pool));
    avf_stream *s = NULL;
    AK(avf_stream_create(dev, &s));
    avf_event *e0 = NULL, *e1 = NULL;
    AK(avf_event_create(dev, 1, &e0));
    AK(avf_event_create(dev, 1, &e1));

    FILE *jf = json ? fopen(json, "w") : NULL;
    if (json && !jf) {
        fprintf(stderr, "bench_engine: cannot write %s: %s\n", json, strerror(errno));
        return 1;
    }
    if (jf)
        fprintf(jf, "{\"device\": \"%s\", \"tf32\": %d, \"warmup\": %d, \"reps\": %d, \"results\": [",
                props.name, tf32, warmup, reps);
    printf("bench_engine: %s (%s), f32%s, %d warm-up + %d timed runs, medians\n", props.name,
           devspec, tf32 ? " with TF32" : " (TF32 off)", warmup, reps);
    printf("%-8s %6s %-7s %12s %12s %14s\n", "model", "batch", "mode", "device ms", "host ms",
           "items/s");
    int first = 1;
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        const preset *pr = &presets[p];
        int wanted = n_only == 0;
        for (int k = 0; k < n_only; k++)
            wanted |= !strcmp(only[k], pr->name);
        if (!wanted)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, pr->file);
        avf_model *m = NULL;
        if (avf_model_load(path, NULL, &m) != AVF_OK) {
            printf("%-8s skipped: %s\n", pr->name, avf_last_error());
            continue;
        }
        char list[256];
        snprintf(list, sizeof list, "%s", batches);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            int64_t b = atoll(tok);
            if (b < 1 || b > 4096)
                continue;
            int64_t shape[4];
            memcpy(shape, pr->shape, sizeof shape);
            shape[0] = b;
            int64_t n = 1;
            for (int d = 0; d < pr->ndim; d++)
                n *= shape[d];
            float *x = random_floats(n, 0x1234 + (uint64_t)b);
            avf_tensor in[3];
            int n_in = 1;
            float *state = NULL;
            int64_t sr = 16000;
            AK(avf_tensor_init_borrowed(&in[0], x, AVF_DTYPE_F32, pr->ndim, shape, cpu));
            if (pr->is_vad) {
                int64_t ss[3] = {2, b, 128};
                state = random_floats(2 * b * 128, 99);
                for (int64_t i = 0; i < 2 * b * 128; i++)
                    state[i] *= 0.1f;
                AK(avf_tensor_init_borrowed(&in[1], state, AVF_DTYPE_F32, 3, ss, cpu));
                AK(avf_tensor_init_borrowed(&in[2], &sr, AVF_DTYPE_I64, 0, NULL, cpu));
                n_in = 3;
            }
            /* Inputs live on the device, as they would after GPU pre-processing;
             * the sample rate is a host scalar, as an application passes it. */
            avf_tensor din[3];
            for (int i = 0; i < n_in; i++) {
                if (in[i].dtype == AVF_DTYPE_I64) {
                    din[i] = in[i];
                    continue;
                }
                AK(avf_tensor_alloc(&din[i], pool, in[i].dtype, in[i].ndim, in[i].shape, s));
                AK(avf_memcpy_async(dev, din[i].data, in[i].data, avf_tensor_nbytes(&in[i]),
                                    avf_device_get_kind(dev) == AVF_DEVICE_CPU ? AVF_COPY_H2H
                                                                               : AVF_COPY_H2D,
                                    s, "bench.input"));
            }
            int n_out = avf_model_num_outputs(m);
            avf_tensor out[8];
            double *gpu = calloc((size_t)reps, sizeof *gpu), *host = calloc((size_t)reps, sizeof *host);
            /* graphs (plans replaying CUDA graphs, the default) and the
             * interpreter, side by side; the CPU has no graphs */
            int n_modes = avf_device_get_kind(dev) == AVF_DEVICE_CPU ? 1 : fp16 ? 3 : 2;
            for (int mode = 0; mode < n_modes; mode++) {
            avf_run_options o = {.device = dev, .stream = s, .pool = pool, .allow_tf32 = tf32,
                                 .disable_graphs = mode == 1, .fp16 = mode == 2};
            const char *mode_name = n_modes == 1 ? "cpu"
                                    : mode == 0  ? "graph"
                                    : mode == 1  ? "interp"
                                                 : "graph16";
            if (only_mode && strcmp(only_mode, mode_name) != 0)
                continue;
            for (int r = 0; r < warmup + reps; r++) {
                AK(avf_event_record(e0, s));
                double h0 = now_ms();
                AK(avf_model_run(m, &o, n_in, NULL, din, n_out, NULL, out));
                double h1 = now_ms();
                AK(avf_event_record(e1, s));
                for (int i = 0; i < n_out; i++)
                    avf_tensor_release(&out[i], s);
                AK(avf_event_synchronize(e1));
                float ms = 0;
                AK(avf_event_elapsed_ms(e0, e1, &ms));
                if (r >= warmup) {
                    gpu[r - warmup] = ms;
                    host[r - warmup] = h1 - h0;
                }
            }
            double g = median(gpu, reps), h = median(host, reps);
            double h_min = host[0]; /* median() sorted it */
            printf("%-8s %6lld %-7s %12.3f %12.3f %14.1f\n", pr->name, (long long)b, mode_name, g,
                   h, (double)b * 1000.0 / g);
            if (jf)
                fprintf(jf, "%s\n  {\"model\": \"%s\", \"batch\": %lld, \"mode\": \"%s\", "
                            "\"gpu_ms\": %.4f, \"host_ms\": %.4f, \"host_min_ms\": %.4f, "
                            "\"items_per_s\": %.2f}",
                        first ? "" : ",", pr->name, (long long)b, mode_name, g, h, h_min,
                        (double)b * 1000.0 / g);
            first = 0;
            fflush(stdout);
            }
            free(gpu);
            free(host);
            for (int i = 0; i < n_in; i++)
                if (din[i].device == dev)
                    avf_tensor_release(&din[i], s);
            free(x);
            free(state);
        }
        avf_model_plan_stats ps;
        if (avf_model_get_plan_stats(m, dev, &ps) == AVF_OK && ps.plans)
            printf("%-8s plans: %d (%d graphed, %d eager-only); arenas %.1f MiB (peak live "
                   "%.1f MiB) vs %.1f MiB of intermediates summed\n",
                   pr->name, ps.plans, ps.graphed, ps.eager_only, ps.arena_bytes / 1048576.0,
                   ps.arena_peak_bytes / 1048576.0, ps.intermediate_bytes / 1048576.0);
        avf_model_free(m);
    }
    if (jf) {
        fprintf(jf, "\n]}\n");
        fclose(jf);
    }
    AK(avf_stream_synchronize(s));
    avf_event_free(e0);
    avf_event_free(e1);
    AK(avf_pool_release_stream(pool, s));
    avf_stream_free(s);
    avf_pool_free_all(pool);
    return 0;
}
