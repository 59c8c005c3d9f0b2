/* avflow serve: per-model configuration (<repo>/<model>/config.json) and the
 * server's own options (--config FILE).
 *
 * A model's config.json is optional; every key is optional, unknown keys are
 * an error (a typo must not silently mean "default"):
 *
 *   {
 *     "max_batch_size": 8,            0: no batching, requests run one by one
 *                                     and dim 0 is not a batch dim; [0, 1024]
 *     "max_queue_delay_us": 500,      how long the batcher waits after a batch's
 *                                     first request for more; [0, 10 s]
 *     "preferred_batch_sizes": [4,8], dispatch at once when a batch reaches one
 *                                     of these and nothing more is queued
 *     "instance_count": 2,            workers (each its own device stream); [1, 16]
 *     "queue_capacity": 1024,         requests waiting; more get 429; [1, 65536]
 *     "priority_levels": 1,           queue lanes [1, 16]; a request's "priority"
 *                                     parameter picks one (1 the most urgent,
 *                                     0 or absent: default_priority_level)
 *     "default_priority_level": 0,    [1, priority_levels]; 0/absent: the middle
 *                                     level, (priority_levels + 1) / 2
 *     "timeout_us": 0,                default per-request deadline (0: none)
 *     "pinned": false,                never unloaded by memory-pressure eviction
 *     "devices": ["cuda:1"]           place replicas only on these of the server's
 *                                     devices (default: every one whose budget
 *                                     allows it; see placement.h); <= 16 names
 *   }
 *
 * Without config.json (or for keys it leaves out) the defaults below apply;
 * max_batch_size defaults to 8 only when every input and output of the
 * model has a dynamic dim 0 (the batcher then treats dim 0 as the batch),
 * otherwise 0: see avf_srv_config_autofill.
 */
#ifndef AVF_SERVE_CONFIG_H
#define AVF_SERVE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/model.h"
#include "avflow/serve.h"
#include "avflow/status.h"
#include "serve/lanes.h"

#define AVF_SRV_MAX_BATCH 1024
#define AVF_SRV_MAX_PREFERRED 16
#define AVF_SRV_MAX_INSTANCES 16
#define AVF_SRV_MAX_QUEUE 65536
#define AVF_SRV_MAX_DELAY_US 10000000
#define AVF_SRV_MAX_CONFIG_BYTES (1u << 20)

typedef struct avf_srv_model_config {
    int max_batch_size;            /* -1 until set: autofill decides */
    int64_t max_queue_delay_us;
    int n_preferred;
    int preferred[AVF_SRV_MAX_PREFERRED];
    int instance_count;
    int queue_capacity;
    int priority_levels;
    int default_priority_level;    /* [1, priority_levels]; 0: unset (autofill: the middle) */
    int64_t timeout_us;            /* 0: none */
    int pinned;
    int n_devices;                 /* 0: every device of the server */
    char devices[AVF_SRV_MAX_LANES][32];
} avf_srv_model_config;

/* Defaults: max_batch_size -1 (decided by autofill), delay 500 us, one
 * instance, queue 1024, 1 priority level, no timeout, not pinned. */
void avf_srv_config_default(avf_srv_model_config *c);
/* Parse config.json text (len bytes, <= 1 MiB) over the defaults in *c.
 * AVF_ERR_CORRUPT for malformed JSON, AVF_ERR_INVALID_ARG for unknown keys,
 * wrong types or values out of bounds; the message names the key. */
avf_status avf_srv_config_parse(const char *text, size_t len, avf_srv_model_config *c);
/* Read and parse a file; a missing file is AVF_ERR_NOT_FOUND (c untouched). */
avf_status avf_srv_config_load(const char *path, avf_srv_model_config *c);
/* Decide what the file left open from the loaded model: max_batch_size -1
 * becomes 8 when all inputs and outputs have a dynamic dim 0, else 0. A
 * configured max_batch_size > 0 on a model with an input of rank 0 or a
 * fixed dim 0 is refused with AVF_ERR_INVALID_ARG (it cannot be batched). */
avf_status avf_srv_config_autofill(avf_srv_model_config *c, const avf_model *m);

/* The server's options (include/avflow/serve.h): command-line flags override
 * the --config file. */
typedef avf_server_options avf_srv_options;

/* avf_server_options_load on text. Keys: model_repository, host, port, device, api_key, max_body_bytes,
 * threads (same meaning and bounds as the flags). */
avf_status avf_srv_options_parse(const char *text, size_t len, avf_srv_options *o);
/* Bounds shared by the flags and the file. */
avf_status avf_srv_options_check(const avf_srv_options *o);

/* "N" (every device) or "N,N,..." (one per device): budgets in bytes, each
 * in [0, 2^50], at most `cap`. *n is 1 for a single number. */
avf_status avf_srv_parse_budgets(const char *text, uint64_t *out, int cap, int *n);

/* Read a whole small file (<= max bytes) into a NUL-terminated malloc'd
 * buffer. AVF_ERR_NOT_FOUND, AVF_ERR_IO or AVF_ERR_INVALID_ARG (too big). */
avf_status avf_srv_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
