/* Internal: loading ONNX ModelProto files into the graph IR.
 *
 * The protobuf code is generated at build time by protoc-c from the system's
 * onnx.proto (see src/CMakeLists.txt). Everything read from a file is
 * bounded before it is used: file size, message nesting (checked on the wire
 * before protobuf-c unpacks, since protobuf-c recurses without a limit), the
 * memory unpacking would take, dims per shape, element counts against the
 * bytes present, subgraph depth, external data paths and ranges.
 */
#ifndef AVF_GRAPH_ONNX_H
#define AVF_GRAPH_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"
#include "graph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default limit on the size of an .onnx file (protobuf's own limit is 2 GiB;
 * bigger weights live in external data files). */
#define AVF_ONNX_MAX_FILE_BYTES (((uint64_t)4) << 30)
/* Protobuf messages may nest this deep (a subgraph level costs 3). */
#define AVF_ONNX_MAX_MESSAGE_DEPTH 100

typedef struct avf_onnx_options {
    /* Directory external data `location`s are relative to; NULL: external
     * data is rejected (memory loads without a directory). */
    const char *base_dir;
    uint64_t max_file_bytes; /* 0: AVF_ONNX_MAX_FILE_BYTES */
} avf_onnx_options;

/* Parse a serialized ModelProto into a new graph (*out; NULL on failure).
 * Does not check ops against the registry: see op_registry.h. */
avf_status avf_onnx_load_memory(const void *data, size_t len, const avf_onnx_options *opts,
                                avf_graph **out);
/* Read `path` and parse it; external data is looked up next to the file
 * unless opts->base_dir says otherwise. */
avf_status avf_onnx_load_file(const char *path, const avf_onnx_options *opts, avf_graph **out);

/* Wire-level pre-check of a serialized message against its descriptor:
 * nesting depth, field framing, and an upper estimate of the bytes protobuf-c
 * would allocate to unpack it (*unpacked). Defined in onnx_wire.c. */
struct ProtobufCMessageDescriptor;
avf_status avf_onnx_wire_check(const struct ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, uint64_t *unpacked);

/* TensorProto -> CPU tensor with malloc'd data (onnx_tensor.c). `what` names
 * the tensor in messages. Steals raw_data from the message when it can (the
 * message must come from protobuf-c's default allocator). */
struct Onnx__TensorProto;
avf_status avf_onnx_tensor(struct Onnx__TensorProto *tp, const avf_onnx_options *opts,
                           const char *what, avf_tensor *out);
/* ONNX TensorProto.DataType -> avf dtype; -1 when avflow has no such dtype. */
int avf_onnx_dtype(int32_t onnx_type);
/* "string", "uint16", ... for messages. */
const char *avf_onnx_dtype_name(int32_t onnx_type);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_ONNX_H */
