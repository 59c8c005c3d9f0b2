/* avflow bench: the body of a KServe v2 inference request, made from the
 * model's metadata (GET /v2/models/NAME) and the inputs the user gave.
 *
 * Each model input comes from a .npy file (name=FILE.npy), or is random data
 * of a given shape (name=2x3x48x192), or, when not given, random data of the
 * metadata's shape with dim 0 set to `batch` when it is dynamic (-1). Any
 * other dynamic dimension needs a given shape. Tensors travel as binary data
 * (binary_data_size) and outputs are asked for as binary too, the fast path
 * a production client uses.
 */
#ifndef AVF_SERVE_BENCH_BODY_H
#define AVF_SERVE_BENCH_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"
#include "avflow/tensor.h"

#define AVF_BENCH_MAX_INPUTS 16

typedef struct avf_bench_input {
    char name[128];
    char npy[1024];             /* "" when shape is used */
    int ndim;                   /* -1: not given */
    int64_t shape[AVF_MAX_DIMS];
} avf_bench_input;

/* Parse "NAME=FILE.npy" or "NAME=D0xD1x..." (dims >= 1). */
avf_status avf_bench_input_parse(const char *arg, avf_bench_input *out);

/* The request: *body (malloc'd) holds the JSON header of *json_len bytes
 * followed by the tensors' bytes. AVF_ERR_INVALID_ARG for a given input the
 * model lacks, a dynamic dim without a shape, a dtype mismatch or a BYTES
 * input; errors of the .npy reader pass through. Random data is
 * reproducible from `seed`. */
avf_status avf_bench_infer_body(const char *metadata, size_t metadata_len,
                                const avf_bench_input *given, int n_given, int64_t batch,
                                uint64_t seed, char **body, size_t *len, size_t *json_len);

#endif
