/* POST /v1/image/ocr (http_ocr.c): the job batch function over one avf_ocr
 * shared by every request. */
#ifndef AVF_APPS_HTTP_OCR_H
#define AVF_APPS_HTTP_OCR_H

#include "apps/http_replicas.h"
#include "avflow/serve.h"

struct avf_ocr;

/* The endpoint's pipelines, one per device; each batch runs on the least
 * busy (http_replicas.h) and its replies name that device. */
typedef struct avf_http_ocr {
    struct avf_ocr *ocr[AVF_HTTP_MAX_REPLICAS];
    char device[AVF_HTTP_MAX_REPLICAS][32];
    avf_http_replicas replicas;
    int fp16;
} avf_http_ocr;

/* avf_server_app.run_batch with user = avf_http_ocr. */
void avf_http_ocr_batch(void *user, int n, avf_server_job *const *jobs);

#endif
