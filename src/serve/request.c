/* Request lifetime and the checks that run before a request may be queued. */
#include "serve/request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "serve/bodies.h"
#include "serve/hostbuf.h"

uint64_t avf_srv_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

avf_srv_request *avf_srv_request_new(void) {
    avf_srv_request *r = calloc(1, sizeof *r);
    if (r) {
        atomic_init(&r->refs, 1);
        r->binary_default = -1;
        r->t_arrive_ns = avf_srv_now_ns();
    }
    return r;
}

void avf_srv_request_ref(avf_srv_request *r) { atomic_fetch_add(&r->refs, 1); }

void avf_srv_request_unref(avf_srv_request *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (int i = 0; i < r->n_inputs; i++)
        if (r->inputs[i].owned)
            free(r->inputs[i].data);
    for (int i = 0; i < r->n_outputs; i++)
        if (r->outputs[i].owned)
            free(r->outputs[i].data);
    for (int i = 0; i < AVF_SRV_MAX_IO; i++)
        avf_srv_hostbuf_unref(r->outputs[i].hold);
    avf_srv_body_free(r->body);
    free(r);
}

void avf_srv_request_fail(avf_srv_request *r, avf_status st, const char *msg) {
    r->status = st == AVF_OK ? AVF_ERR_INTERNAL : st;
    snprintf(r->error, sizeof r->error, "%s", avf_srv_strip_location(msg ? msg : ""));
}

const char *avf_srv_strip_location(const char *msg) {
    /* "name.c:123: rest" -> "rest"; anything else unchanged. */
    const char *colon = strchr(msg, ':');
    if (!colon || colon == msg || colon - msg > 64)
        return msg;
    const char *p = colon + 1;
    if (!isdigit((unsigned char)*p))
        return msg;
    while (isdigit((unsigned char)*p))
        p++;
    if (p[0] != ':' || p[1] != ' ')
        return msg;
    return p + 2;
}

int avf_srv_http_status(avf_status st) {
    switch (st) {
    case AVF_OK: return 200;
    case AVF_ERR_INVALID_ARG:
    case AVF_ERR_CORRUPT:
    case AVF_ERR_UNSUPPORTED: return 400;
    case AVF_ERR_NOT_FOUND: return 404;
    case AVF_ERR_FULL: return 429;
    case AVF_ERR_OUT_OF_MEMORY:
    case AVF_ERR_CLOSED: return 503;
    case AVF_ERR_TIMEOUT: return 504;
    default: return 500;
    }
}

avf_status avf_srv_request_check(avf_srv_request *r, const avf_model *m,
                                 const avf_srv_model_config *cfg) {
    int n = avf_model_num_inputs(m);
    if (n > AVF_SRV_MAX_IO)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "the model has %d inputs, more than %d", n,
                        AVF_SRV_MAX_IO);
    int used[AVF_SRV_MAX_IO] = {0};
    int64_t batch = -1;
    for (int i = 0; i < n; i++) {
        avf_model_value_info info;
        AVF_TRY(avf_model_input_info(m, i, &info));
        int k = 0;
        while (k < r->n_inputs && strcmp(r->inputs[k].name, info.name) != 0)
            k++;
        if (k == r->n_inputs)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s' is missing", info.name);
        if (used[k]++)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s' is given twice", info.name);
        const avf_srv_tensor *t = &r->inputs[k];
        if (info.has_dtype && info.dtype != t->dtype)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': datatype %s, the model wants %s",
                            info.name, avf_dtype_name(t->dtype), avf_dtype_name(info.dtype));
        if (info.ndim >= 0 && info.ndim != t->ndim)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': rank %d, the model wants %d",
                            info.name, t->ndim, info.ndim);
        for (int d = 0; info.ndim >= 0 && d < info.ndim; d++)
            if (info.dims[d] >= 0 && info.dims[d] != t->shape[d])
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "input '%s': dim %d is %lld, the model wants %lld", info.name,
                                d, (long long)t->shape[d], (long long)info.dims[d]);
        if (cfg->max_batch_size > 0) {
            if (t->ndim < 1 || t->shape[0] < 1)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': needs a batch dim >= 1",
                                info.name);
            if (batch >= 0 && t->shape[0] != batch)
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "input '%s': batch %lld, other inputs have %lld", info.name,
                                (long long)t->shape[0], (long long)batch);
            batch = t->shape[0];
        }
        r->feed[i] = k;
    }
    for (int k = 0; k < r->n_inputs; k++)
        if (!used[k])
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "unknown input '%s'", r->inputs[k].name);
    if (cfg->max_batch_size > 0 && batch > cfg->max_batch_size)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "batch %lld exceeds the model's max_batch_size %d",
                        (long long)batch, cfg->max_batch_size);
    r->batch = batch > 0 ? batch : 1;
    for (int s = 0; s < r->n_sel; s++) {
        int found = 0;
        for (int o = 0; o < avf_model_num_outputs(m) && !found; o++) {
            avf_model_value_info info;
            found = avf_model_output_info(m, o, &info) == AVF_OK &&
                    strcmp(info.name, r->sel[s].name) == 0;
        }
        if (!found)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "unknown output '%s'", r->sel[s].name);
    }
    return AVF_OK;
}
