/* avflow serve: the KServe v2 inference request and response bodies, JSON
 * tensors and Triton's binary tensor data extension.
 *
 * Request body: a JSON object
 *   {"id": "...", "parameters": {"binary_data_output": bool, "timeout": us,
 *    "priority": n}, "inputs": [{"name", "datatype": "FP32", "shape": [..],
 *    "data": [...] | "parameters": {"binary_data_size": n}}, ...],
 *    "outputs": [{"name", "parameters": {"binary_data": bool}}]}
 * "data" is row-major, nested or flat. With the binary extension the JSON is
 * the first `json_len` bytes (the Inference-Header-Content-Length header)
 * and the binary inputs follow back to back in input order; each must fill
 * exactly numel * element size bytes and together exactly the rest of the
 * body. BYTES (string) tensors are refused: avflow has no string tensors.
 *
 * Response: {"id", "model_name", "model_version", "outputs": [{"name",
 * "datatype", "shape", "data" | "parameters": {"binary_data_size": n}}]};
 * when any output is binary, the JSON is followed by the raw outputs and
 * *json_len says where it ends (for the Inference-Header-Content-Length
 * header); otherwise *json_len is the whole body.
 */
#ifndef AVF_SERVE_INFER_JSON_H
#define AVF_SERVE_INFER_JSON_H

#include <stddef.h>

#include "avflow/status.h"
#include "avflow/tensor.h"
#include "serve/request.h"

/* The JSON part of a request is bounded on its own: parsed JSON takes tens of
 * bytes per number, so a body of tiny numbers would otherwise cost ~20x its
 * size. Larger tensors go as binary data (bounded by --max-body-bytes). */
#define AVF_SRV_MAX_JSON_BYTES (16 << 20)

/* "FP32", "INT64", ... for a dtype; NULL for none. */
const char *avf_srv_datatype_name(avf_dtype dt);
/* The dtype for a KServe datatype name; -1 when avflow has no such dtype
 * (BYTES, UINT16/32/64 and unknown names). */
int avf_srv_datatype_parse(const char *name);

/* Parse the body (len bytes; json_len == len without binary data) into
 * req, which takes ownership of nothing: binary inputs point into `body`,
 * so the caller keeps body alive as long as req (usually req->body = body).
 * AVF_ERR_CORRUPT for malformed JSON or structure, AVF_ERR_INVALID_ARG for
 * wrong datatypes, shapes that do not match the data, sizes out of bounds,
 * AVF_ERR_UNSUPPORTED for BYTES tensors, AVF_ERR_FULL (-> 413) for a JSON
 * part over AVF_SRV_MAX_JSON_BYTES. On failure req may hold some
 * owned inputs; avf_srv_request_unref frees them. */
avf_status avf_srv_parse_infer(const char *body, size_t len, size_t json_len,
                               avf_srv_request *req);

/* A response as its JSON header plus the binary tensors it is followed by,
 * each pointing into the request's outputs (the request must outlive it):
 * what a server sends as one iovec without copying the tensors. */
typedef struct avf_srv_encoded {
    char *json;                      /* malloc'd */
    size_t json_len;
    int n_segs;
    const void *seg[AVF_SRV_MAX_IO];
    size_t seg_len[AVF_SRV_MAX_IO];
    size_t total;                    /* json_len + every seg_len */
} avf_srv_encoded;

/* Encode a finished request's outputs as header + segments.
 * NaN and infinities are written as JSON null (JSON has no such numbers);
 * binary outputs carry them exactly. On failure nothing is allocated. */
avf_status avf_srv_encode_infer_segs(const avf_srv_request *req, const char *model_name,
                                     const char *version, avf_srv_encoded *out);

/* The same, flattened into one malloc'd body (free() *out). */
avf_status avf_srv_encode_infer(const avf_srv_request *req, const char *model_name,
                                const char *version, char **out, size_t *len,
                                size_t *json_len);

/* {"error": msg} into a malloc'd string. NULL when out of memory. */
char *avf_srv_error_json(const char *msg);

#endif
