/* POST /v1/audio/vad (http_vad.c): the job batch function over one
 * avf_vad shared by every request. */
#ifndef AVF_APPS_HTTP_VAD_H
#define AVF_APPS_HTTP_VAD_H

#include "avflow/serve.h"

struct avf_vad;

typedef struct avf_http_vad {
    struct avf_vad *vad;
    int fp16;
} avf_http_vad;

/* avf_server_app.run_batch with user = avf_http_vad. */
void avf_http_vad_batch(void *user, int n, avf_server_job *const *jobs);

#endif
