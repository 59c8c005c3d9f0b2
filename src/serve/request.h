/* avflow serve: one inference request, from the parsed HTTP body through the
 * batcher to the response.
 *
 * Ownership: a request is reference-counted. The HTTP connection holds one
 * reference and the batcher takes one while the request is queued or
 * running; avf_srv_request_unref() frees it at zero. Input data either
 * points into `body` (Triton binary tensors: no copy) or is malloc'd (JSON
 * "data" arrays); outputs point into the batch's output buffer, which each
 * request holds a reference on (serve/hostbuf.h), so a reply can send them
 * without a copy. Every size in a
 * request was bounded by the parser (AVF_SRV_MAX_IO tensors, names under
 * AVF_SRV_NAME_MAX bytes, shapes through avf_shape_numel, data within the
 * body).
 */
#ifndef AVF_SERVE_REQUEST_H
#define AVF_SERVE_REQUEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "avflow/model.h"
#include "avflow/status.h"
#include "avflow/tensor.h"
#include "serve/config.h"

#define AVF_SRV_MAX_IO 64
#define AVF_SRV_NAME_MAX 256
#define AVF_SRV_ERROR_MAX 512

typedef struct avf_srv_tensor {
    char name[AVF_SRV_NAME_MAX];
    avf_dtype dtype;
    int ndim;
    int64_t shape[AVF_MAX_DIMS];
    void *data;       /* host memory, row-major */
    size_t nbytes;
    int owned;        /* 1: data is malloc'd and freed with the request */
    struct avf_srv_hostbuf *hold; /* data points into this; unref'd with the request */
} avf_srv_tensor;

typedef struct avf_srv_output_sel {
    char name[AVF_SRV_NAME_MAX];
    int binary;       /* -1: as the request-level default says */
} avf_srv_output_sel;

typedef struct avf_srv_request avf_srv_request;
typedef void (*avf_srv_done_fn)(avf_srv_request *req, void *user);

struct avf_srv_request {
    atomic_int refs;
    char id[AVF_SRV_NAME_MAX];
    int has_id;
    int n_inputs;
    avf_srv_tensor inputs[AVF_SRV_MAX_IO];
    int n_sel;                       /* 0: every output */
    avf_srv_output_sel sel[AVF_SRV_MAX_IO];
    int binary_default;              /* "binary_data_output" request parameter */
    int64_t timeout_us;              /* 0: the model's default */
    int priority;                    /* 0: the default level; 1 the most urgent */

    /* Set by avf_srv_request_check: */
    int64_t batch;                   /* rows along dim 0 (1 when not batching) */
    int feed[AVF_SRV_MAX_IO];        /* model input i is inputs[feed[i]] */

    /* Set by the batcher before on_done: */
    avf_status status;
    int http_status;                 /* 0: from status */
    char error[AVF_SRV_ERROR_MAX];
    int n_outputs;
    avf_srv_tensor outputs[AVF_SRV_MAX_IO];
    uint64_t t_arrive_ns, t_enqueue_ns, t_start_ns, t_end_ns;
    int exec_batch;                  /* padded batch it ran in (0: did not run) */

    avf_srv_done_fn on_done;
    void *user;
    void *body;                      /* owned: the HTTP body, inputs may point in */
};

/* A zeroed request with one reference. NULL when out of memory. */
avf_srv_request *avf_srv_request_new(void);
void avf_srv_request_ref(avf_srv_request *r);
/* Drops a reference; frees body, owned inputs and outputs (and lets go of
 * the output buffers it holds) at zero. */
void avf_srv_request_unref(avf_srv_request *r);

/* Check a parsed request against the model before it is queued: every
 * model input fed exactly once and nothing else, dtypes equal, ranks equal,
 * fixed dims equal; with max_batch_size > 0 every input's dim 0 equal, >= 1
 * and <= max_batch_size (req->batch); selected outputs exist. Sets feed[].
 * AVF_ERR_INVALID_ARG with a message naming the tensor. */
avf_status avf_srv_request_check(avf_srv_request *r, const avf_model *m,
                                 const avf_srv_model_config *cfg);

/* Record a failure on the request (status + message). */
void avf_srv_request_fail(avf_srv_request *r, avf_status st, const char *msg);

/* Monotonic clock in nanoseconds. */
uint64_t avf_srv_now_ns(void);

/* The HTTP status for a failure status: 400 for bad requests, 404 not
 * found, 429 full, 503 out of memory / closed, 504 timeout, 500 otherwise. */
int avf_srv_http_status(avf_status st);
/* A library message without its "file.c:123: " prefix (clients need the
 * reason, not our source layout). */
const char *avf_srv_strip_location(const char *msg);

#endif
