/* `avflow ocr IMAGE... [--models DIR] [--device cpu|cuda:N] [--fp16]
 * [--json]`: the OCR pipeline (avflow/ocr.h) on image files, all in one
 * batch; prints each image's text lines (or JSON, one object per image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avflow.h"
#include "avflow/ocr.h"
#include "cli_util.h"
#include "commands.h"

#define OCR_CLI_MAX_FILE (64u << 20)

static void usage(FILE *out) {
    fprintf(out,
            "usage: avflow ocr IMAGE... [options]\n\n"
            "Find and read the text lines of PNG/JPEG images (PaddleOCR v4 det + cls + rec).\n"
            "All images run as one batch.\n\n"
            "options:\n"
            "  --models DIR        ppocr_v4_det.onnx, ppocr_v4_rec.onnx, ppocr_mobile_v2_cls.onnx\n"
            "                      (default: $AVF_MODELS, else the first of ./models,\n"
            "                      BIN/../models, BIN/../../models holding them; BIN: avflow's dir)\n"
            "  --device DEV        cpu (default) or cuda:N\n"
            "  --fp16              f16 models on the GPU\n"
            "  --no-cls            skip the 180-degree direction classifier\n"
            "  --max-side N        det input limit (default 960)\n"
            "  --json              one JSON object per image and line\n"
            "  -h, --help          show this help\n\n"
            "exit status: 0 ok, 1 an image or the pipeline failed, 2 bad usage\n");
}


static int has_models(const char *dir) {
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/ppocr_v4_det.onnx", dir) >= sizeof p)
        return 0;
    return access(p, R_OK) == 0;
}

/* The default models directory (see usage); NULL when none holds them. */
static const char *find_models(char *buf, size_t cap) {
    const char *env = getenv("AVF_MODELS");
    if (env && *env)
        return env;
    if (has_models("models"))
        return "models";
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    static const char *const rel[] = {"../models", "../../models"};
    for (int i = 0; i < 2; i++)
        if ((size_t)snprintf(buf, cap, "%s/%s", exe, rel[i]) < cap && has_models(buf))
            return buf;
    return NULL;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int avf_cmd_ocr(int argc, char **argv) {
    const char *models = NULL, *device = "cpu";
    char models_buf[4096];
    int json = 0, n = 0;
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    const char **files = calloc((size_t)(argc > 0 ? argc : 1), sizeof *files);
    if (!files)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--fp16") == 0) {
            o.fp16 = 1;
        } else if (strcmp(a, "--no-cls") == 0) {
            o.use_cls = 0;
        } else if (strcmp(a, "--models") == 0 || strcmp(a, "--device") == 0 ||
                   strcmp(a, "--max-side") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "avflow ocr: %s needs a value\n", a);
                free(files);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--models") == 0)
                models = v;
            else if (strcmp(a, "--device") == 0)
                device = v;
            else {
                char *end;
                long s = strtol(v, &end, 10);
                if (*end || s < 32 || s > AVF_OCR_MAX_DET_SIDE) {
                    fprintf(stderr, "avflow ocr: --max-side must be 32..%d\n", AVF_OCR_MAX_DET_SIDE);
                    free(files);
                    return 2;
                }
                o.max_side = (int)s;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "avflow ocr: unknown option %s (see --help)\n", a);
            free(files);
            return 2;
        } else {
            files[n++] = a;
        }
    }
    if (n == 0 || n > AVF_OCR_MAX_IMAGES) {
        fprintf(stderr, "avflow ocr: give 1..%d images (see --help)\n", AVF_OCR_MAX_IMAGES);
        free(files);
        return 2;
    }
    if (!models && !(models = find_models(models_buf, sizeof models_buf))) {
        fprintf(stderr, "avflow ocr: no models found (give --models DIR or set AVF_MODELS; "
                        "scripts/fetch-models.sh fetches them)\n");
        free(files);
        return 2;
    }
    avf_device *dev = NULL;
    avf_ocr *ocr = NULL;
    if (avf_device_parse(device, &dev) != AVF_OK) {
        fprintf(stderr, "avflow ocr: device %s: %s\n", device, avf_last_error());
        free(files);
        return 2;
    }
    if (avf_ocr_create(models, dev, &ocr) != AVF_OK) {
        fprintf(stderr, "avflow ocr: loading the models from %s: %s\n", models, avf_last_error());
        free(files);
        return 1;
    }
    avf_ocr_input *in = calloc((size_t)n, sizeof *in);
    avf_ocr_result *res = calloc((size_t)n, sizeof *res);
    int rc = 0;
    if (!in || !res) {
        rc = 1;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        void *d = NULL;
        char err[128];
        if (!avf_cli_read_file(files[i], OCR_CLI_MAX_FILE, &d, &in[i].len, err, sizeof err)) {
            fprintf(stderr, "avflow ocr: cannot read %s: %s\n", files[i], err);
            rc = 2;
            goto done;
        }
        in[i].data = d;
    }
    double t0 = now_ms();
    avf_status st = avf_ocr_run_batch(ocr, &o, n, in, res);
    double ms = now_ms() - t0;
    for (int i = 0; i < n; i++) {
        const avf_ocr_result *r = &res[i];
        if (r->status != AVF_OK) {
            fprintf(stderr, "avflow ocr: %s: %s\n", files[i], r->error);
            rc = 1;
            continue;
        }
        if (json) {
            printf("{\"file\":");
            avf_cli_json_string(files[i]);
            printf(",\"width\":%d,\"height\":%d,\"lines\":[", r->width, r->height);
            for (int k = 0; k < r->n_lines; k++) {
                const avf_ocr_line *l = &r->lines[k];
                printf("%s{\"text\":", k ? "," : "");
                avf_cli_json_string(l->text);
                printf(",\"score\":%.6f,\"box_score\":%.6f,\"box\":[[%g,%g],[%g,%g],[%g,%g],[%g,%g]],"
                       "\"rotated\":%s}",
                       l->text_score, l->box_score, l->box[0], l->box[1], l->box[2], l->box[3],
                       l->box[4], l->box[5], l->box[6], l->box[7], l->rotated ? "true" : "false");
            }
            printf("]}\n");
        } else {
            printf("%s (%dx%d): %d lines\n", files[i], r->width, r->height, r->n_lines);
            for (int k = 0; k < r->n_lines; k++) {
                const avf_ocr_line *l = &r->lines[k];
                printf("  %.3f  [%g,%g %g,%g %g,%g %g,%g]%s  %s\n", l->text_score, l->box[0],
                       l->box[1], l->box[2], l->box[3], l->box[4], l->box[5], l->box[6], l->box[7],
                       l->rotated ? " (rotated)" : "", l->text);
            }
        }
    }
    if (st != AVF_OK)
        rc = 1;
    if (!json)
        fprintf(stderr, "avflow ocr: %d images in %.1f ms on %s\n", n, ms, device);
done:
    for (int i = 0; in && res && i < n; i++) {
        free((void *)in[i].data);
        avf_ocr_result_free(&res[i]);
    }
    free(in);
    free(res);
    free(files);
    avf_ocr_free(ocr);
    return rc;
}
