/* bench_ocr: offline throughput of the OCR application (avflow/ocr.h).
 *
 *   pipeline  avf_ocr_run_batch on B images (the given PNG/JPEG files
 *             cycled), B in --batches (default 1,8,32): images/s and
 *             lines/s from the median wall time of R timed calls after W
 *             warm-up calls (the call includes decode, upload, det, box
 *             extraction, crops, cls, rec and CTC; it synchronizes).
 *   rec       the recognizer alone as the pipeline runs it (model + ArgMax +
 *             ReduceMax on the device) on [B, 3, 48, 320] inputs, B in
 *             --rec-batches (default 1,2,4,...,256): lines/s from the median
 *             of device-event times (CUDA events on the GPU) of R timed runs
 *             after W warm-ups. Inputs are random values in [-1, 1) (the
 *             normalized range; the work does not depend on them).
 * Peers (rapidocr / ONNX Runtime on the same images and shapes) are timed by
 * bench/apps/peers_ocr.py in the same session.
 *
 * usage: bench_ocr --models DIR [--device cpu|cuda:N] [--fp16] [--batches L]
 *                  [--rec-batches L] [--warmup W] [--reps R] [--json FILE] IMAGE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"
#include "avflow/ocr.h"
#include "ops/op.h"
#include "ops/reduce.h"

#define AK(call)                                                                         \
    do {                                                                                 \
        avf_status ak_s_ = (call);                                                       \
        if (ak_s_ != AVF_OK) {                                                           \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,            \
                    avf_status_name(ak_s_), avf_last_error());                           \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define MAX_LIST 32

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

static int parse_list(const char *s, int *out) {
    int n = 0;
    while (*s && n < MAX_LIST) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 4096)
            return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return p;
}

int main(int argc, char **argv) {
    const char *models = NULL, *devspec = "cpu", *json = NULL;
    int fp16 = 0, warm = 2, reps = 5;
    int batches[MAX_LIST] = {1, 8, 32}, nb = 3;
    int rbat[MAX_LIST] = {1, 2, 4, 8, 16, 32, 64, 128, 256}, nrb = 9;
    const char *files[256];
    int nf = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--fp16"))
            fp16 = 1;
        else if (!strcmp(a, "--models") && v)
            models = argv[++i];
        else if (!strcmp(a, "--device") && v)
            devspec = argv[++i];
        else if (!strcmp(a, "--json") && v)
            json = argv[++i];
        else if (!strcmp(a, "--warmup") && v)
            warm = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && v)
            reps = atoi(argv[++i]);
        else if (!strcmp(a, "--batches") && v) {
            if ((nb = parse_list(argv[++i], batches)) < 0)
                nb = 0;
        } else if (!strcmp(a, "--rec-batches") && v) {
            if (!strcmp(v, "none")) {
                nrb = 0;
                i++;
            } else if ((nrb = parse_list(argv[++i], rbat)) < 0)
                nrb = -1;
        } else if (a[0] != '-' && nf < 256)
            files[nf++] = a;
        else {
            fprintf(stderr, "bench_ocr: bad argument %s (see the top of bench/apps/bench_ocr.c)\n", a);
            return 2;
        }
    }
    if (!models || nf == 0 || nb <= 0 || nrb < 0 || warm < 0 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: bench_ocr --models DIR [--device D] [--fp16] [--batches 1,8,32] "
                        "[--rec-batches 1,...,256|none] [--warmup W] [--reps R] [--json F] IMAGE...\n");
        return 2;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/ppocr_v4_det.onnx", models);
    FILE *pf = fopen(probe, "rb");
    if (!pf) {
        fprintf(stderr, "bench_ocr: %s missing (scripts/fetch-models.sh): skipped\n", probe);
        return 77;
    }
    fclose(pf);
    avf_ocr_input *imgs = calloc((size_t)nf, sizeof *imgs);
    for (int i = 0; i < nf; i++)
        if (!(imgs[i].data = read_file(files[i], &imgs[i].len))) {
            fprintf(stderr, "bench_ocr: cannot read %s\n", files[i]);
            return 77;
        }
    avf_device *dev;
    AK(avf_device_parse(devspec, &dev));
    avf_device_props props;
    AK(avf_device_get_props(dev, &props));
    avf_ocr *ocr = NULL;
    AK(avf_ocr_create(models, dev, &ocr));
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    o.fp16 = fp16;
    FILE *js = json ? fopen(json, "w") : NULL;
    if (js)
        fprintf(js, "{\"device\": \"%s\", \"fp16\": %d, \"warmup\": %d, \"reps\": %d, \"pipeline\": [",
                props.name, fp16, warm, reps);
    printf("bench_ocr: %s, %s, %d image files, %d warm-up + %d timed calls, medians\n", props.name,
           fp16 ? "fp16" : "f32", nf, warm, reps);
    printf("pipeline (decode + det + boxes + cls + rec + CTC, one avf_ocr_run_batch)\n");
    printf("  %6s %12s %12s %12s %10s\n", "batch", "ms/call", "images/s", "lines/s", "lines");
    double *t = calloc((size_t)(reps > 0 ? reps : 1), sizeof *t);
    for (int bi = 0; bi < nb; bi++) {
        int B = batches[bi];
        if (B > AVF_OCR_MAX_IMAGES)
            continue;
        avf_ocr_input *in = calloc((size_t)B, sizeof *in);
        avf_ocr_result *res = calloc((size_t)B, sizeof *res);
        for (int i = 0; i < B; i++)
            in[i] = imgs[i % nf];
        long lines = 0;
        for (int r = 0; r < warm + reps; r++) {
            double t0 = now_ms();
            AK(avf_ocr_run_batch(ocr, &o, B, in, res));
            double ms = now_ms() - t0;
            lines = 0;
            for (int i = 0; i < B; i++) {
                if (res[i].status != AVF_OK) {
                    fprintf(stderr, "bench_ocr: image %d: %s\n", i, res[i].error);
                    return 1;
                }
                lines += res[i].n_lines;
                avf_ocr_result_free(&res[i]);
            }
            if (r >= warm)
                t[r - warm] = ms;
        }
        double m = median(t, reps);
        printf("  %6d %12.2f %12.1f %12.1f %10ld\n", B, m, B * 1e3 / m, lines * 1e3 / m, lines);
        if (js)
            fprintf(js, "%s{\"batch\": %d, \"ms\": %.4f, \"images_per_s\": %.2f, \"lines_per_s\": %.2f, \"lines\": %ld}",
                    bi ? ", " : "", B, m, B * 1e3 / m, lines * 1e3 / m, lines);
        free(in);
        free(res);
    }
    if (js)
        fprintf(js, "], \"rec\": [");
    if (nrb > 0) {
        /* rec alone, as rec_batch in src/apps/ocr.c runs it */
        char path[4096];
        snprintf(path, sizeof path, "%s/ppocr_v4_rec.onnx", models);
        avf_model *rec = NULL;
        AK(avf_model_load(path, NULL, &rec));
        avf_pool *pool = NULL;
        avf_stream *s = NULL;
        AK(avf_pool_create(dev, NULL, &pool));
        AK(avf_stream_create(dev, &s));
        avf_op_ctx ctx;
        AK(avf_op_ctx_init(&ctx, dev, s, pool));
        avf_run_options ro;
        memset(&ro, 0, sizeof ro);
        ro.device = dev;
        ro.stream = s;
        ro.pool = pool;
        ro.fp16 = fp16 && avf_device_get_kind(dev) != AVF_DEVICE_CPU;
        avf_event *e0, *e1;
        AK(avf_event_create(dev, 1, &e0));
        AK(avf_event_create(dev, 1, &e1));
        printf("rec alone ([B,3,48,320] -> model -> ArgMax + ReduceMax on the device)\n");
        printf("  %6s %12s %12s\n", "batch", "ms/run", "lines/s");
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        for (int bi = 0; bi < nrb; bi++) {
            int B = rbat[bi];
            int64_t xd[4] = {B, 3, 48, 320};
            size_t n = (size_t)B * 3 * 48 * 320;
            float *h = malloc(n * sizeof *h);
            for (size_t i = 0; i < n; i++) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                h[i] = (float)((seed >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
            }
            avf_tensor x;
            AK(avf_tensor_alloc(&x, pool, AVF_DTYPE_F32, 4, xd, s));
            AK(avf_memcpy_async(dev, x.data, h, n * sizeof *h, AVF_COPY_H2D, s, "bench.ocr"));
            AK(avf_stream_synchronize(s));
            free(h);
            for (int r = 0; r < warm + reps; r++) {
                avf_tensor y = {0}, am = {0}, mx = {0};
                AK(avf_event_record(e0, s));
                AK(avf_model_run(rec, &ro, 1, NULL, &x, 1, NULL, &y));
                int64_t od[2] = {y.shape[0], y.shape[1]};
                AK(avf_tensor_alloc(&am, pool, AVF_DTYPE_I64, 2, od, s));
                AK(avf_tensor_alloc(&mx, pool, AVF_DTYPE_F32, 2, od, s));
                avf_argmax_params ap = {2, 0, 0};
                AK(avf_op_argmax(&ctx, &ap, &y, &am));
                avf_reduce_params rp;
                memset(&rp, 0, sizeof rp);
                rp.kind = AVF_REDUCE_MAX;
                rp.n_axes = 1;
                rp.axes[0] = 2;
                AK(avf_op_reduce(&ctx, &rp, &y, &mx));
                AK(avf_event_record(e1, s));
                AK(avf_event_synchronize(e1));
                float ms = 0;
                AK(avf_event_elapsed_ms(e0, e1, &ms));
                if (r >= warm)
                    t[r - warm] = ms;
                avf_tensor_release(&y, s);
                avf_tensor_release(&am, s);
                avf_tensor_release(&mx, s);
            }
            double m = median(t, reps);
            printf("  %6d %12.3f %12.1f\n", B, m, B * 1e3 / m);
            if (js)
                fprintf(js, "%s{\"batch\": %d, \"ms\": %.4f, \"lines_per_s\": %.2f}", bi ? ", " : "",
                        B, m, B * 1e3 / m);
            avf_tensor_release(&x, s);
        }
        AK(avf_stream_synchronize(s));
        avf_event_free(e0);
        avf_event_free(e1);
        avf_op_ctx_release(&ctx);
        AK(avf_pool_release_stream(pool, s));
        avf_stream_free(s);
        avf_pool_free_all(pool);
        avf_model_free(rec);
    }
    if (js) {
        fprintf(js, "]}\n");
        fclose(js);
    }
    free(t);
    for (int i = 0; i < nf; i++)
        free((void *)imgs[i].data);
    free(imgs);
    avf_ocr_free(ocr);
    return 0;
}
