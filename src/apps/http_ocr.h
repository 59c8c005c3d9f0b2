/* POST /v1/image/ocr (http_ocr.c): the job batch function over one avf_ocr
 * shared by every request. */
#ifndef AVF_APPS_HTTP_OCR_H
#define AVF_APPS_HTTP_OCR_H

#include "avflow/serve.h"

struct avf_ocr;

typedef struct avf_http_ocr {
    struct avf_ocr *ocr;
    int fp16;
} avf_http_ocr;

/* avf_server_app.run_batch with user = avf_http_ocr. */
void avf_http_ocr_batch(void *user, int n, avf_server_job *const *jobs);

#endif
