/* POST /v1/audio/vad (http_vad.c): the job batch function over one
 * avf_vad shared by every request. */
#ifndef AVF_APPS_HTTP_VAD_H
#define AVF_APPS_HTTP_VAD_H

#include "apps/http_replicas.h"
#include "avflow/serve.h"

struct avf_vad;

/* The endpoint's pipelines, one per device; each batch runs on the least
 * busy (http_replicas.h) and its replies name that device. */
typedef struct avf_http_vad {
    struct avf_vad *vad[AVF_HTTP_MAX_REPLICAS];
    char device[AVF_HTTP_MAX_REPLICAS][32];
    avf_http_replicas replicas;
    int fp16;
} avf_http_vad;

/* avf_server_app.run_batch with user = avf_http_vad. */
void avf_http_vad_batch(void *user, int n, avf_server_job *const *jobs);

#endif
