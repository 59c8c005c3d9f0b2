/* `avflow serve --apps DIR` (see serve_apps.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avflow.h"
#include "serve_apps.h"
#ifdef AVF_HAVE_HTTP_APPS
#include "apps/http_apps.h"
#include "apps/http_replicas.h"
#endif

void avf_serve_apps_flags_init(avf_serve_apps_flags *f) {
    memset(f, 0, sizeof *f);
    f->delay_us = -1;
}

static int int_flag(const char *a, const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "avflow serve: %s wants an integer in [%lld, %lld], got '%s'\n", a, lo,
                hi, v);
        return 1;
    }
    *out = x;
    return 0;
}

int avf_serve_apps_flag(avf_serve_apps_flags *f, const char *a, const char *v, int *bad) {
    if (strcmp(a, "--apps") == 0) {
        if (strlen(v) >= sizeof f->dir) {
            fprintf(stderr, "avflow serve: --apps path is too long\n");
            *bad = 1;
        } else {
            memcpy(f->dir, v, strlen(v) + 1);
        }
    } else if (strcmp(a, "--app-batch") == 0) {
        *bad = int_flag(a, v, 1, 1024, &f->batch);
    } else if (strcmp(a, "--app-delay-us") == 0) {
        *bad = int_flag(a, v, 0, 10000000, &f->delay_us);
    } else if (strcmp(a, "--app-workers") == 0) {
        *bad = int_flag(a, v, 1, 16, &f->workers);
    } else if (strcmp(a, "--fp16") == 0) {
        long long x = 0;
        *bad = int_flag(a, v, 0, 1, &x);
        f->fp16 = (int)x;
    } else {
        return 0;
    }
    return 1;
}

void avf_serve_apps_usage(FILE *out) {
    fprintf(out,
            "  --apps DIR              also serve POST /v1/audio/vad (DIR/silero_vad.onnx)\n"
            "                          and POST /v1/image/ocr (DIR/ppocr_v4_det.onnx,\n"
            "                          ppocr_v4_rec.onnx, ppocr_mobile_v2_cls.onnx), e.g.\n"
            "                          the models/ of scripts/fetch-models.sh; a pipeline\n"
            "                          on each device of --devices\n"
            "  --app-batch N           requests per pipeline batch (default 32)\n"
            "  --app-delay-us N        wait this long for more requests (default 2000)\n"
            "  --app-workers N         pipeline batches in flight per device and endpoint\n"
            "                          (default 2; at most 16 per endpoint in all)\n"
            "  --fp16 0|1              CUDA: run the pipelines' models in fp16 (default 0)\n");
}

#ifdef AVF_HAVE_HTTP_APPS
int avf_serve_apps_start(const avf_serve_apps_flags *f, avf_server *s, const char *device,
                         void **state, char *msg, size_t cap) {
    *state = NULL;
    msg[0] = '\0';
    if (!f->dir[0])
        return 0;
    avf_device *devs[AVF_HTTP_MAX_REPLICAS];
    int n_dev = 0;
    if (avf_device_parse_list(device, devs, AVF_HTTP_MAX_REPLICAS, &n_dev) != AVF_OK) {
        fprintf(stderr, "avflow serve: --apps: %s\n", avf_last_error());
        return 1;
    }
    avf_http_app_options o;
    avf_http_app_options_default(&o);
    if (f->batch > 0)
        o.max_batch = (int)f->batch;
    if (f->delay_us >= 0)
        o.max_delay_us = f->delay_us;
    if (f->workers > 0)
        o.workers = (int)f->workers;
    if (o.workers * n_dev > AVF_HTTP_APP_MAX_WORKERS) { /* the default on many devices */
        if (f->workers > 0) {
            fprintf(stderr, "avflow serve: --app-workers %d on %d devices: at most %d workers "
                            "per endpoint in all\n", o.workers, n_dev, AVF_HTTP_APP_MAX_WORKERS);
            return 1;
        }
        o.workers = AVF_HTTP_APP_MAX_WORKERS / n_dev;
    }
    o.fp16 = f->fp16;
    char served[256];
    avf_http_apps *a = NULL;
    avf_status st = avf_http_apps_create(s, f->dir, devs, n_dev, &o, served, sizeof served, &a);
    *state = a;
    if (st != AVF_OK) {
        fprintf(stderr, "avflow serve: --apps %s: %s\n", f->dir, avf_last_error());
        return 1;
    }
    char on[AVF_DEVICE_LIST_MAX_CHARS + 16] = "";
    for (int d = 0; d < n_dev; d++)
        snprintf(on + strlen(on), sizeof on - strlen(on), "%s%s", d ? "," : "",
                 avf_device_get_name(devs[d]));
    snprintf(msg, cap, "avflow serve: application endpoints %s on %s (batch %d, delay %lld us, "
             "%d workers per device%s)", served, on, o.max_batch, (long long)o.max_delay_us,
             o.workers, o.fp16 ? ", fp16" : "");
    return 0;
}

void avf_serve_apps_free(void *state) { avf_http_apps_free(state); }
#else
int avf_serve_apps_start(const avf_serve_apps_flags *f, avf_server *s, const char *device,
                         void **state, char *msg, size_t cap) {
    (void)s;
    (void)cap;
    msg[0] = '\0';
    (void)device;
    *state = NULL;
    if (!f->dir[0])
        return 0;
    fprintf(stderr, "avflow serve: --apps: this build has no application pipelines "
                    "(libavflow_apps without its HTTP adapters)\n");
    return 1;
}

void avf_serve_apps_free(void *state) { (void)state; }
#endif
