/* avflow serve: the dynamic batcher of one loaded model.
 *
 * Requests wait in a bounded avf_queue (config queue_capacity; a full queue
 * is AVF_ERR_FULL, which the HTTP layer answers with 429). Each of
 * instance_count workers owns a device stream and two sets of host staging
 * buffers (pinned on a GPU, so copies are asynchronous and one worker's
 * copies overlap another's compute). A worker takes the first request, then
 * waits at most max_queue_delay_us for more with the same signature (dtype
 * and dims after dim 0 of every input), until the rows reach
 * max_batch_size, or a preferred batch size with nothing else queued. It
 * concatenates the inputs along dim 0, pads the batch to a bucket (1, 2, 4,
 * 8, ... capped at max_batch_size) by repeating the last row, so the engine
 * sees few shapes, runs the model once and hands every request its rows of
 * every output. A request of another signature that arrives meanwhile starts
 * the worker's next batch. With max_batch_size 0 requests run one by one,
 * as they are.
 *
 * Replicas (serve/lanes.h): with several lanes, instance_count workers run
 * per lane, each on a stream of its lane's device, and all pull from the one
 * queue. Routing rule: the request at the head of the queue is taken by an
 * idle worker of the least loaded lane among the lanes that have one (fewer
 * batches in flight on the device, by every model; then fewer started). A
 * worker that finds another lane better hands the request to that lane (a
 * hand-off mark and a wake-up, under the batcher's mutex) instead of taking
 * it, so the decision is made once, with no timer. Pulling, rather than
 * choosing a device when the request arrives, means no request waits behind
 * a busy device while another that holds the model has a free worker, and a
 * batch is formed only when a device is ready for it. With one lane the
 * worker blocks on the queue as it always has.
 *
 * Requests whose deadline (request timeout, else the config's timeout_us,
 * counted from arrival) passes while they wait fail with AVF_ERR_TIMEOUT
 * and never run. Every request taken by submit is finished exactly once:
 * status, outputs and times are set, then on_done(req, user) runs on a
 * worker thread and the batcher drops its reference.
 */
#ifndef AVF_SERVE_BATCHER_H
#define AVF_SERVE_BATCHER_H

#include "avflow/device.h"
#include "avflow/model.h"
#include "avflow/pool.h"
#include "serve/config.h"
#include "serve/lanes.h"
#include "serve/request.h"

typedef struct avf_srv_batcher avf_srv_batcher;

/* Runs the network on a batch: inputs are host tensors in model input
 * order; outputs (n_outputs, model order) are allocated by the callee from
 * `pool` on `stream` (as avf_model_run does). Tests replace the model with
 * a function here. */
typedef avf_status (*avf_srv_run_fn)(void *user, avf_stream *stream, avf_pool *pool,
                                     int n_inputs, const avf_tensor *inputs, int n_outputs,
                                     avf_tensor *outputs);
/* Called once per executed batch (metrics): n requests, padded size. */
typedef void (*avf_srv_exec_fn)(void *user, int n_requests, int64_t rows, int exec_batch,
                                uint64_t compute_ns);

/* Called once per executed batch with the lane it ran on (its id in the
 * server's lane set), for per-device metrics. */
typedef void (*avf_srv_lane_exec_fn)(void *user, int lane_id, int n_requests, int64_t rows,
                                     int exec_batch, uint64_t compute_ns);

/* One replica: where a lane's workers run. */
typedef struct avf_srv_batcher_lane {
    avf_device *device;
    avf_pool *pool;                  /* device pool for the runs' outputs */
    avf_srv_lane *lane;              /* shared load and per-device counters; NULL:
                                        the batcher keeps its own (tests) */
} avf_srv_batcher_lane;

typedef struct avf_srv_batcher_config {
    avf_srv_model_config model;      /* max_batch_size already decided (>= 0) */
    avf_device *device;              /* with n_lanes 0: the one replica */
    avf_pool *pool;                  /* device pool for the runs' outputs */
    int n_lanes;                     /* 0: one replica on device/pool; else the
                                        replicas, <= AVF_SRV_MAX_LANES */
    avf_srv_batcher_lane lanes[AVF_SRV_MAX_LANES];
    int n_inputs, n_outputs;         /* <= AVF_SRV_MAX_IO */
    const char *output_names[AVF_SRV_MAX_IO]; /* copied by create */
    avf_srv_run_fn run;
    void *run_user;
    avf_srv_exec_fn on_exec;         /* may be NULL */
    avf_srv_lane_exec_fn on_lane_exec; /* may be NULL; user: exec_user */
    void *exec_user;
} avf_srv_batcher_config;

/* Fill run/run_user/n_inputs/n_outputs/output_names for `m` (the model must
 * outlive the batcher). */
avf_status avf_srv_batcher_config_model(avf_srv_batcher_config *c, const avf_model *m);

avf_status avf_srv_batcher_create(const avf_srv_batcher_config *c, avf_srv_batcher **out);
/* Queue a checked request (avf_srv_request_check ran). On AVF_OK the
 * batcher holds a reference and will call on_done; on failure it holds
 * nothing and on_done is not called (AVF_ERR_FULL: queue full; 
 * AVF_ERR_CLOSED: shutting down). Never blocks. */
avf_status avf_srv_batcher_submit(avf_srv_batcher *b, avf_srv_request *req);
/* Replicas (lanes) the batcher runs on. */
int avf_srv_batcher_lanes(const avf_srv_batcher *b);
/* Workers of a multi-lane batcher waiting for a first request (-1 with one
 * lane, whose workers wait inside the queue). */
int avf_srv_batcher_idle_workers(avf_srv_batcher *b);
/* Requests waiting (not yet taken by a worker). */
size_t avf_srv_batcher_queued(avf_srv_batcher *b);
/* Stop taking requests, let the workers finish every queued one, join them
 * and free everything. Must not be called from on_done. NULL is ignored. */
void avf_srv_batcher_free(avf_srv_batcher *b);

/* The bucket a batch of `rows` is padded to: the next power of two, capped
 * at max_batch (rows itself when max_batch is 0). */
int64_t avf_srv_bucket(int64_t rows, int max_batch);

#endif
