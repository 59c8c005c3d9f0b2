/* `avflow vad FILE... [options]`: speech segments of audio files with Silero
 * VAD (avflow/vad.h); all files run as one batch, so every Silero step
 * serves all of them. Text by default, --json for one JSON document. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"
#include "avflow/vad.h"
#include "cli_util.h"
#include "commands.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: avflow vad FILE... [options]\n\n"
            "Find the speech in audio files (WAV, FLAC, OGG; MP3, AAC, M4A, Opus when built\n"
            "with FFmpeg) with Silero VAD; every file is one row of one batch.\n\n"
            "options:\n"
            "  --model PATH          Silero VAD v5 ONNX (default models/silero_vad.onnx)\n"
            "  --device DEV          cpu (default) or cuda:N\n"
            "  --fp16                run Silero in f16 (CUDA only)\n"
            "  --threshold P         speech starts at probability >= P (default 0.5)\n"
            "  --neg-threshold P     speech ends below P (default threshold - 0.15)\n"
            "  --min-speech-ms N     drop shorter speech (default 250)\n"
            "  --min-silence-ms N    silence that ends speech (default 100)\n"
            "  --speech-pad-ms N     padding on both sides (default 30)\n"
            "  --max-speech-s S      split longer speech (default 0: unlimited)\n"
            "  --json                print one JSON document\n"
            "  -h, --help            show this help\n\n"
            "exit status: 0 ok, 1 a file failed, 2 bad usage\n");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int parse_num(const char *flag, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "avflow vad: %s must be a number in [%g, %g], got '%s'\n", flag, lo, hi,
                v);
        return 0;
    }
    *out = x;
    return 1;
}

int avf_cmd_vad(int argc, char **argv) {
    const char *model = "models/silero_vad.onnx", *device = "cpu";
    int json = 0, neg_given = 0;
    avf_vad_options o;
    avf_vad_options_default(&o);
    const char **files = calloc((size_t)argc, sizeof *files);
    int nf = 0;
    if (!files)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double x;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--fp16") == 0) {
            o.fp16 = 1;
        } else if (strncmp(a, "--", 2) == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "avflow vad: %s needs a value (see --help)\n", a);
                free(files);
                return 2;
            }
            const char *v = argv[++i];
            int ok = 1;
            if (strcmp(a, "--model") == 0)
                model = v;
            else if (strcmp(a, "--device") == 0)
                device = v;
            else if (strcmp(a, "--threshold") == 0 && (ok = parse_num(a, v, 0.001, 0.999, &x)))
                o.threshold = (float)x;
            else if (strcmp(a, "--neg-threshold") == 0 && (ok = parse_num(a, v, 0, 0.999, &x))) {
                o.neg_threshold = (float)x;
                neg_given = 1;
            } else if (strcmp(a, "--min-speech-ms") == 0 && (ok = parse_num(a, v, 0, 600000, &x)))
                o.min_speech_ms = (int)x;
            else if (strcmp(a, "--min-silence-ms") == 0 && (ok = parse_num(a, v, 0, 600000, &x)))
                o.min_silence_ms = (int)x;
            else if (strcmp(a, "--speech-pad-ms") == 0 && (ok = parse_num(a, v, 0, 60000, &x)))
                o.speech_pad_ms = (int)x;
            else if (strcmp(a, "--max-speech-s") == 0 && (ok = parse_num(a, v, 0, 86400, &x)))
                o.max_speech_s = (float)x;
            else if (ok) {
                fprintf(stderr, "avflow vad: unknown option '%s' (see --help)\n", a);
                ok = 0;
            }
            if (!ok) {
                free(files);
                return 2;
            }
        } else {
            files[nf++] = a;
        }
    }
    if (!neg_given)
        o.neg_threshold = o.threshold - 0.15f > 0 ? o.threshold - 0.15f : 0;
    if (nf == 0) {
        fprintf(stderr, "avflow vad: no input files\n\n");
        usage(stderr);
        free(files);
        return 2;
    }
    if (avf_vad_options_check(&o) != AVF_OK) {
        fprintf(stderr, "avflow vad: %s\n", avf_last_error());
        free(files);
        return 2;
    }
    avf_device *dev;
    if (avf_device_parse(device, &dev) != AVF_OK) {
        fprintf(stderr, "avflow vad: device '%s': %s\n", device, avf_last_error());
        free(files);
        return 2;
    }
    if (o.fp16 && avf_device_get_kind(dev) == AVF_DEVICE_CPU) {
        fprintf(stderr, "avflow vad: --fp16 needs a CUDA device (--device cuda:N)\n");
        free(files);
        return 2;
    }
    avf_vad *v;
    if (avf_vad_create(model, dev, &v) != AVF_OK) {
        fprintf(stderr, "avflow vad: %s: %s\n", model, avf_last_error());
        free(files);
        return 2;
    }
    avf_vad_input *in = calloc((size_t)nf, sizeof *in);
    avf_vad_result *res = calloc((size_t)nf, sizeof *res);
    char (*read_err)[128] = calloc((size_t)nf, sizeof *read_err);
    int rc = 0;
    if (!in || !res || !read_err) {
        fprintf(stderr, "avflow vad: out of memory\n");
        rc = 2;
        goto done;
    }
    for (int i = 0; i < nf; i++) {
        void *d;
        if (avf_cli_read_file(files[i], AVF_VAD_MAX_INPUT_BYTES, &d, &in[i].len, read_err[i],
                              sizeof read_err[i]))
            in[i].data = d;
    }
    double t0 = now_s();
    /* one batch per AVF_VAD_MAX_BATCH files */
    for (int b = 0; b < nf; b += AVF_VAD_MAX_BATCH) {
        int m = nf - b < AVF_VAD_MAX_BATCH ? nf - b : AVF_VAD_MAX_BATCH;
        if (avf_vad_run_batch(v, &o, m, in + b, res + b) != AVF_OK)
            rc = 1; /* every result carries the error */
    }
    double wall = now_s() - t0;
    if (json)
        printf("{\"device\": \"%s\", \"wall_s\": %.6f, \"files\": [", avf_device_get_name(dev),
               wall);
    for (int i = 0; i < nf; i++) {
        const avf_vad_result *r = &res[i];
        const char *err = read_err[i][0] ? read_err[i] : r->status != AVF_OK ? r->error : NULL;
        if (err)
            rc = 1;
        if (json) {
            printf("%s\n  {\"file\": ", i ? "," : "");
            avf_cli_json_string(files[i]);
            if (err) {
                printf(", \"error\": ");
                avf_cli_json_string(err);
                printf("}");
                continue;
            }
            printf(", \"duration_s\": %.6f, \"sample_rate\": %d, \"channels\": %d, "
                   "\"segments\": [",
                   r->duration_s, r->sample_rate, r->channels);
            for (int k = 0; k < r->n_segments; k++)
                printf("%s{\"start_s\": %.6f, \"end_s\": %.6f}", k ? ", " : "",
                       r->segments[k].start_s, r->segments[k].end_s);
            printf("]}");
        } else if (err) {
            fprintf(stderr, "%s: error: %s\n", files[i], err);
        } else {
            double speech = 0;
            for (int k = 0; k < r->n_segments; k++)
                speech += r->segments[k].end_s - r->segments[k].start_s;
            printf("%s: %.3f s, %d Hz, %d ch: %d segments, %.3f s of speech\n", files[i],
                   r->duration_s, r->sample_rate, r->channels, r->n_segments, speech);
            for (int k = 0; k < r->n_segments; k++)
                printf("  %9.3f %9.3f\n", r->segments[k].start_s, r->segments[k].end_s);
        }
    }
    if (json)
        printf("\n]}\n");
done:
    for (int i = 0; in && res && i < nf; i++) {
        free((void *)in[i].data);
        avf_vad_result_free(&res[i]);
    }
    free(in);
    free(res);
    free(read_err);
    free(files);
    avf_vad_free(v);
    return rc;
}
