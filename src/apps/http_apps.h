/* The application endpoints that `avflow serve --apps DIR` adds to a
 * server (avf_server_add_app): POST /v1/audio/vad (http_vad.c) and
 * POST /v1/image/ocr (http_ocr.c). Each owns its pipeline object, shared
 * by all requests; jobs that arrive together run as one batch. */
#ifndef AVF_APPS_HTTP_APPS_H
#define AVF_APPS_HTTP_APPS_H

#include "avflow/device.h"
#include "avflow/serve.h"

typedef struct avf_http_app_options {
    int max_batch;          /* requests per pipeline batch */
    int64_t max_delay_us;   /* wait for more requests after the first */
    int queue_capacity;
    int workers;            /* batches in flight per device */
    int fp16;               /* CUDA: run the models in fp16 */
} avf_http_app_options;

/* 32 requests, 2 ms, 1024 waiting, 2 workers, f32. */
void avf_http_app_options_default(avf_http_app_options *o);

typedef struct avf_http_apps avf_http_apps;

/* The most workers one endpoint runs (the server's app queue bound). */
#define AVF_HTTP_APP_MAX_WORKERS 16

/* Create the pipelines whose models are in models_dir, one on each of
 * devs[0..n_dev), and add their endpoints to `s`: VAD when
 * models_dir/silero_vad.onnx exists, OCR when the three PaddleOCR models do.
 * Each endpoint runs o->workers batches per device (o->workers * n_dev at
 * most AVF_HTTP_APP_MAX_WORKERS, else AVF_ERR_INVALID_ARG). Prints nothing; *served gets a
 * comma-separated list of the paths added (may be empty). AVF_ERR_NOT_FOUND
 * when neither pipeline's models are there. *out is set even on failure
 * (endpoints added so far point into it): free it after avf_server_free. */
avf_status avf_http_apps_create(avf_server *s, const char *models_dir, avf_device *const *devs,
                                int n_dev, const avf_http_app_options *o, char *served,
                                size_t cap, avf_http_apps **out);
void avf_http_apps_free(avf_http_apps *a);

#endif
