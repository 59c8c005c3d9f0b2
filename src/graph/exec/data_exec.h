/* Internal: helpers and op records shared by the data family's executor
 * files (src/graph/exec/data*.c). The table avf_exec_ops_data is in data.c. */
#ifndef AVF_GRAPH_EXEC_DATA_EXEC_H
#define AVF_GRAPH_EXEC_DATA_EXEC_H

#include "graph/exec_op.h"
#include "ops/data.h"

/* Input i, or a status naming the node when it is missing. */
avf_status avf_data_exec_in(const avf_exec_call *call, int i, const avf_tensor **out);
/* Integers of host input i: *count = -1 when the input is absent. */
avf_status avf_data_exec_ints(const avf_exec_call *call, int i, int64_t *out, int cap,
                              int *count);
/* The first element of a CPU tensor as raw bytes (low bytes of *out). */
avf_status avf_data_exec_scalar_bytes(const avf_tensor *t, const char *what, uint64_t *out);
/* A double as the bytes of one element of dtype. */
avf_status avf_data_exec_value_bytes(avf_dtype dt, double v, uint64_t *out);

extern const avf_exec_op avf_exec_data_transpose, avf_exec_data_concat, avf_exec_data_split,
    avf_exec_data_slice, avf_exec_data_pad, avf_exec_data_expand, avf_exec_data_tile,
    avf_exec_data_gather, avf_exec_data_scatternd, avf_exec_data_nonzero;
extern const avf_exec_op avf_exec_data_reshape, avf_exec_data_flatten, avf_exec_data_squeeze,
    avf_exec_data_unsqueeze, avf_exec_data_shape, avf_exec_data_size, avf_exec_data_range,
    avf_exec_data_constant_of_shape, avf_exec_data_quantize, avf_exec_data_dequantize;

#endif /* AVF_GRAPH_EXEC_DATA_EXEC_H */
