/* Offline throughput of the whole VAD pipeline (avf_vad_run_batch): B copies
 * of one encoded clip per call -> host decode, upload, mixdown/resample on
 * the device, Silero step by step with batch B, segments.
 *
 *   bench_vad [--model PATH] [--clip FILE] [--device cpu|cuda:N] [--fp16]
 *             [--batches 1,16,64,256] [--repeats N] [--warmup N]
 *
 * Each batch size: warm-up calls (plans captured, banks uploaded), then
 * `repeats` timed calls; the median wall time of a call is reported (a call
 * returns after its probabilities are on the host, so wall time covers the
 * device work). Printed per batch: audio seconds per second, Silero chunks
 * (512 samples of real audio) per second, model steps per second, and the
 * speed-up over batch 1 measured in the same run, and the mean host time of
 * the call's phases (prep: decode, upload, enqueued resampling; vad: Silero
 * steps up to the probabilities on the host; post: segments). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"
#include "avflow/ledger.h"
#include "avflow/vad.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench_vad [--model PATH] [--clip FILE] [--device cpu|cuda:N] [--fp16]\n"
               "                 [--batches 1,16,64,256] [--repeats N] [--warmup N]\n");
}

int main(int argc, char **argv) {
    const char *model = "models/silero_vad.onnx", *clip = "data/speech/vad_mix.wav",
               *device = "cpu", *batches = "1,16,64,256";
    int repeats = 5, warmup = 1, fp16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--fp16") == 0) {
            fp16 = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--clip") == 0)
            clip = v;
        else if (strcmp(a, "--device") == 0)
            device = v;
        else if (strcmp(a, "--batches") == 0)
            batches = v;
        else if (strcmp(a, "--repeats") == 0)
            repeats = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            warmup = atoi(v);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (repeats < 1 || repeats > 1000 || warmup < 0 || warmup > 100) {
        fprintf(stderr, "bench_vad: --repeats in [1, 1000], --warmup in [0, 100]\n");
        return 2;
    }
    FILE *f = fopen(clip, "rb");
    if (!f) {
        fprintf(stderr, "bench_vad: cannot open %s (scripts/make-test-data.sh)\n", clip);
        return 77;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n <= 0 || n > (1L << 30)) {
        fprintf(stderr, "bench_vad: %s: size %ld\n", clip, n);
        fclose(f);
        return 2;
    }
    unsigned char *bytes = malloc((size_t)n);
    if (!bytes || fread(bytes, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "bench_vad: cannot read %s\n", clip);
        fclose(f);
        return 2;
    }
    fclose(f);
    avf_device *dev;
    avf_vad *v;
    if (avf_device_parse(device, &dev) != AVF_OK || avf_vad_create(model, dev, &v) != AVF_OK) {
        fprintf(stderr, "bench_vad: %s\n", avf_last_error());
        free(bytes);
        return avf_device_parse(device, &dev) == AVF_OK ? 77 : 2;
    }
    avf_vad_options o;
    avf_vad_options_default(&o);
    o.fp16 = fp16;
    avf_device_props props;
    (void)avf_device_get_props(dev, &props);
    printf("bench_vad: %s on %s (%s)%s, clip %s, %d timed calls after %d warm-up, median\n",
           model, avf_device_get_name(dev), props.name, fp16 ? " fp16" : "", clip, repeats,
           warmup);
    /* cpu ms: the process's CPU time per call (decode threads included);
     * caller ms: the calling thread's (uploads, launches, waits) */
    printf("%6s %10s %12s %14s %12s %10s %9s %8s %9s %8s %8s %8s %9s\n", "batch", "call ms",
           "audio s/s", "chunks/s", "steps/s", "ms/step", "x batch1", "segments", "prep ms",
           "vad ms", "post ms", "cpu ms", "caller ms");
    double base = 0;
    int rc = 0;
    const char *p = batches;
    while (*p) {
        int b = atoi(p);
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
        if (b < 1 || b > AVF_VAD_MAX_BATCH) {
            fprintf(stderr, "bench_vad: batch %d not in [1, %d]\n", b, AVF_VAD_MAX_BATCH);
            rc = 2;
            break;
        }
        avf_vad_input *in = calloc((size_t)b, sizeof *in);
        avf_vad_result *res = calloc((size_t)b, sizeof *res);
        double *t = calloc((size_t)repeats, sizeof *t);
        if (!in || !res || !t) {
            rc = 2;
            break;
        }
        for (int i = 0; i < b; i++)
            in[i] = (avf_vad_input){bytes, (size_t)n};
        avf_vad_stats s0, s1;
        int segs = 0;
        double cpu = 0, caller = 0;
        for (int r = 0; r < warmup + repeats && rc == 0; r++) {
            if (r == warmup)
                avf_vad_get_stats(v, &s0);
            double c0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), k0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
            double t0 = now_s();
            avf_status st = avf_vad_run_batch(v, &o, b, in, res);
            double dt = now_s() - t0;
            if (r >= warmup) {
                cpu += cpu_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
                caller += cpu_s(CLOCK_THREAD_CPUTIME_ID) - k0;
            }
            if (st != AVF_OK || res[0].status != AVF_OK) {
                fprintf(stderr, "bench_vad: batch %d: %s\n", b,
                        st != AVF_OK ? avf_last_error() : res[0].error);
                rc = 1;
            }
            segs = res[0].n_segments;
            for (int i = 0; i < b; i++) {
                if (res[i].status != AVF_OK || res[i].n_segments != segs)
                    rc = rc ? rc : 1; /* every copy must give the same answer */
                avf_vad_result_free(&res[i]);
            }
            if (r >= warmup)
                t[r - warmup] = dt;
        }
        if (rc) {
            free(in);
            free(res);
            free(t);
            break;
        }
        avf_vad_get_stats(v, &s1);
        qsort(t, (size_t)repeats, sizeof *t, cmp_d);
        double med = t[repeats / 2];
        double audio = (s1.audio_s - s0.audio_s) / repeats;
        double chunks = (double)(s1.chunks - s0.chunks) / repeats;
        double steps = (double)(s1.steps - s0.steps) / repeats;
        double aps = audio / med;
        if (b == 1 || base == 0)
            base = b == 1 ? aps : 0;
        char ratio[32] = "-";
        if (base > 0)
            snprintf(ratio, sizeof ratio, "%.1f", aps / base);
        /* phase times: means over the timed calls (host wall clock) */
        printf("%6d %10.2f %12.0f %14.0f %12.0f %10.4f %9s %8d %9.2f %8.2f %8.2f %8.2f %9.2f\n",
               b, med * 1e3, aps, chunks / med, steps / med, med * 1e3 / steps, ratio, segs,
               (s1.prep_s - s0.prep_s) * 1e3 / repeats, (s1.silero_s - s0.silero_s) * 1e3 / repeats,
               (s1.post_s - s0.post_s) * 1e3 / repeats, cpu * 1e3 / repeats,
               caller * 1e3 / repeats);
        fflush(stdout);
        free(in);
        free(res);
        free(t);
    }
    avf_ledger_entry e;
    memset(&e, 0, sizeof e);
    (void)avf_ledger_get(avf_ledger_global(), "vad.probs", &e);
    uint64_t d2h, copies;
    avf_ledger_totals(avf_ledger_global(), AVF_COPY_D2H, &d2h, &copies);
    printf("ledger: D2H %llu bytes in %llu copies in all, vad.probs %llu bytes\n",
           (unsigned long long)d2h, (unsigned long long)copies,
           (unsigned long long)e.bytes[AVF_COPY_D2H]);
    avf_vad_free(v);
    free(bytes);
    return rc;
}
