/* avflow serve --apps DIR: the VAD and OCR pipelines on the server's
 * devices, each behind its /v1 endpoint: one pipeline per device, `workers`
 * batches in flight per device, each batch on the least busy device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apps/http_apps.h"
#include "apps/http_ocr.h"
#include "apps/http_vad.h"
#include "avflow/ocr.h"
#include "avflow/vad.h"
#include "core/error.h"

struct avf_http_apps {
    avf_http_vad vad;
    avf_http_ocr ocr;
};

void avf_http_app_options_default(avf_http_app_options *o) {
    memset(o, 0, sizeof *o);
    o->max_batch = 32;
    o->max_delay_us = 2000;
    o->queue_capacity = 1024;
    o->workers = 2;
}

static int exists(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

static avf_server_app app_def(const char *path, const avf_http_app_options *o, int n_dev,
                              void (*fn)(void *, int, avf_server_job *const *), void *user) {
    avf_server_app a = {.max_batch = o->max_batch, .max_delay_us = o->max_delay_us,
                        .queue_capacity = o->queue_capacity, .workers = o->workers * n_dev,
                        .run_batch = fn, .user = user};
    snprintf(a.path, sizeof a.path, "%s", path);
    return a;
}

avf_status avf_http_apps_create(avf_server *s, const char *models_dir, avf_device *const *devs,
                                int n_dev, const avf_http_app_options *o, char *served,
                                size_t cap, avf_http_apps **out) {
    *out = NULL;
    AVF_CHECK_ARG(s && models_dir && devs && o && served && cap > 0);
    served[0] = '\0';
    if (n_dev < 1 || n_dev > AVF_HTTP_MAX_REPLICAS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "apps: %d devices (1 to %d)", n_dev,
                        AVF_HTTP_MAX_REPLICAS);
    /* the endpoint's workers are `workers` per device, within the app
     * queue's bound */
    if (o->workers < 1 || o->workers * n_dev > AVF_HTTP_APP_MAX_WORKERS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "apps: %d workers per device on %d devices is "
                        "more than %d workers per endpoint", o->workers, n_dev,
                        AVF_HTTP_APP_MAX_WORKERS);
    for (int d = 0; d < n_dev; d++)
        AVF_CHECK_ARG(devs[d] != NULL);
    if (strlen(models_dir) > 4000)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "apps: the models path is too long");
    avf_http_apps *a = calloc(1, sizeof *a);
    if (!a)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "apps: out of memory");
    avf_status st = AVF_OK;
    int any = 0;
    if (exists(models_dir, "silero_vad.onnx")) {
        char p[4200];
        snprintf(p, sizeof p, "%s/silero_vad.onnx", models_dir);
        a->vad.fp16 = o->fp16;
        avf_http_replicas_init(&a->vad.replicas, n_dev);
        for (int d = 0; st == AVF_OK && d < n_dev; d++) {
            snprintf(a->vad.device[d], sizeof a->vad.device[d], "%s", avf_device_get_name(devs[d]));
            st = avf_vad_create(p, devs[d], &a->vad.vad[d]);
        }
        if (st == AVF_OK) {
            avf_server_app def = app_def("audio/vad", o, n_dev, avf_http_vad_batch, &a->vad);
            st = avf_server_add_app(s, &def);
        }
        if (st == AVF_OK) {
            snprintf(served + strlen(served), cap - strlen(served), "%s/v1/audio/vad",
                     any ? ", " : "");
            any = 1;
        }
    }
    if (st == AVF_OK && exists(models_dir, "ppocr_v4_det.onnx") &&
        exists(models_dir, "ppocr_v4_rec.onnx") && exists(models_dir, "ppocr_mobile_v2_cls.onnx")) {
        a->ocr.fp16 = o->fp16;
        avf_http_replicas_init(&a->ocr.replicas, n_dev);
        for (int d = 0; st == AVF_OK && d < n_dev; d++) {
            snprintf(a->ocr.device[d], sizeof a->ocr.device[d], "%s", avf_device_get_name(devs[d]));
            st = avf_ocr_create(models_dir, devs[d], &a->ocr.ocr[d]);
        }
        if (st == AVF_OK) {
            avf_server_app def = app_def("image/ocr", o, n_dev, avf_http_ocr_batch, &a->ocr);
            st = avf_server_add_app(s, &def);
        }
        if (st == AVF_OK) {
            snprintf(served + strlen(served), cap - strlen(served), "%s/v1/image/ocr",
                     any ? ", " : "");
            any = 1;
        }
    }
    if (st == AVF_OK && !any)
        st = AVF_FAIL(AVF_ERR_NOT_FOUND,
                      "apps: %s has neither silero_vad.onnx nor the PaddleOCR models "
                      "(scripts/fetch-models.sh)",
                      models_dir);
    /* on failure, endpoints already added keep pointers into `a`: the
     * server must be freed before the pipelines, so the caller stops here */
    *out = a;
    return st;
}

void avf_http_apps_free(avf_http_apps *a) {
    if (!a)
        return;
    for (int d = 0; d < AVF_HTTP_MAX_REPLICAS; d++) {
        avf_vad_free(a->vad.vad[d]);
        avf_ocr_free(a->ocr.ocr[d]);
    }
    free(a);
}
