/* One batch of /v1 jobs, split into groups that asked for the same options
 * (compared bytewise: the options structs are memset before being filled),
 * each group run by the endpoint as one pipeline call, in arrival order.
 * Shared by http_vad.c and http_ocr.c. */
#ifndef AVF_APPS_HTTP_BATCH_H
#define AVF_APPS_HTTP_BATCH_H

#include <stddef.h>

#include "avflow/serve.h"

typedef struct avf_http_group_ops {
    size_t opt_size;
    /* Fill opts (opt_size bytes) from the job's query; 0 after replying 400. */
    int (*parse)(void *user, avf_server_job *j, void *opts);
    /* Run m jobs that share opts; reply to or fail each of them. */
    void (*run)(void *user, const void *opts, int m, avf_server_job *const *jobs);
} avf_http_group_ops;

void avf_http_run_grouped(const avf_http_group_ops *ops, void *user, int n,
                          avf_server_job *const *jobs);

#endif
