/* avflow serve --apps DIR: the VAD and OCR pipelines on the server's device,
 * each behind its /v1 endpoint. */
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

static avf_server_app app_def(const char *path, const avf_http_app_options *o,
                              void (*fn)(void *, int, avf_server_job *const *), void *user) {
    avf_server_app a = {.max_batch = o->max_batch, .max_delay_us = o->max_delay_us,
                        .queue_capacity = o->queue_capacity, .workers = o->workers,
                        .run_batch = fn, .user = user};
    snprintf(a.path, sizeof a.path, "%s", path);
    return a;
}

avf_status avf_http_apps_create(avf_server *s, const char *models_dir, avf_device *dev,
                                const avf_http_app_options *o, char *served, size_t cap,
                                avf_http_apps **out) {
    *out = NULL;
    AVF_CHECK_ARG(s && models_dir && dev && o && served && cap > 0);
    served[0] = '\0';
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
        st = avf_vad_create(p, dev, &a->vad.vad);
        if (st == AVF_OK) {
            avf_server_app d = app_def("audio/vad", o, avf_http_vad_batch, &a->vad);
            st = avf_server_add_app(s, &d);
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
        st = avf_ocr_create(models_dir, dev, &a->ocr.ocr);
        if (st == AVF_OK) {
            avf_server_app d = app_def("image/ocr", o, avf_http_ocr_batch, &a->ocr);
            st = avf_server_add_app(s, &d);
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
    if (st != AVF_OK) {
        /* endpoints already added keep pointers into `a`: the server must
         * be freed before the pipelines, so the caller stops here */
        *out = a;
        return st;
    }
    *out = a;
    return AVF_OK;
}

void avf_http_apps_free(avf_http_apps *a) {
    if (!a)
        return;
    avf_vad_free(a->vad.vad);
    avf_ocr_free(a->ocr.ocr);
    free(a);
}
