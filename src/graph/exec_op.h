/* Internal: how the executor runs one graph node (src/graph/exec/).
 *
 * Each ONNX op type the engine runs has an avf_exec_op: three functions that
 * connect a graph node to a kernel of src/ops.
 *
 *   prepare  once per node at plan time: read the node's attributes (and the
 *            opset) into a params blob of at most AVF_EXEC_PARAMS_MAX bytes,
 *            validating them; no tensors are seen here.
 *   infer    per shape signature: from the inputs' dtypes and shapes (and, for
 *            the inputs flagged in host_inputs, their values on the host:
 *            shape tensors, axes, pads, k, ...) fill the outputs' dtype,
 *            ndim and shape. May also finish params that depend on shapes.
 *   run      enqueue the work on call->ctx (outputs already allocated with
 *            the inferred shapes, on the context's device).
 *
 * Ops whose output shape depends on tensor data the host cannot know before
 * running (NonZero) set `data_dependent`: the executor then calls run with
 * outputs unallocated and the op allocates them from ctx->pool itself after
 * a synchronization (a plan is split there).
 *
 * Families register their ops in tables (avf_exec_ops_<family>, NULL-ended)
 * listed in exec_registry.c; a family's ops live in src/graph/exec/<family>.c.
 */
#ifndef AVF_GRAPH_EXEC_OP_H
#define AVF_GRAPH_EXEC_OP_H

#include <stdint.h>
#include <string.h>

#include "avflow/tensor.h"
#include "graph/graph.h"
#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_EXEC_MAX_IO 64
#define AVF_EXEC_PARAMS_MAX 1024

typedef struct avf_exec_call {
    avf_op_ctx *ctx;
    const avf_graph_node *node;
    int64_t opset;                          /* of the node's domain */
    int n_in;
    const avf_tensor *in[AVF_EXEC_MAX_IO];  /* on ctx->dev; NULL = omitted optional */
    const avf_tensor *in_host[AVF_EXEC_MAX_IO]; /* CPU copies of host_inputs, else NULL */
    int n_out;
    avf_tensor *out[AVF_EXEC_MAX_IO];       /* NULL = output not needed */
} avf_exec_call;

typedef struct avf_exec_op {
    const char *op_type;                    /* default ONNX domain */
    uint64_t host_inputs;                   /* bit i: infer needs input i's values */
    int data_dependent;
    avf_status (*prepare)(const avf_graph_node *node, int64_t opset, void *params);
    avf_status (*infer)(void *params, avf_exec_call *call);
    avf_status (*run)(const void *params, avf_exec_call *call);
} avf_exec_op;

/* Input i of a call, NULL when omitted or beyond the node's inputs. */
static inline const avf_tensor *avf_exec_in(const avf_exec_call *call, int i) {
    return i < call->n_in ? call->in[i] : NULL;
}
/* Output i of a call, NULL when not needed or beyond the node's outputs. */
static inline avf_tensor *avf_exec_out(const avf_exec_call *call, int i) {
    return i < call->n_out ? call->out[i] : NULL;
}
/* infer: give an output its dtype and shape. */
static inline void avf_exec_set_out(avf_tensor *t, avf_dtype dt, int ndim, const int64_t *dims) {
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->shape, dims, (size_t)ndim * sizeof *dims);
}

/* Look an op type up among all families (NULL when none runs it). */
const avf_exec_op *avf_exec_find(const char *domain, const char *op_type);
/* Conv's params as its infer resolved them, from the params blob of the
 * exec op "Conv" (FusedConv runs them with its epilogue in one call). */
struct avf_conv_params;
const struct avf_conv_params *avf_exec_conv_resolved(const void *conv_params);

/* The family tables (defined in src/graph/exec/<family>.c). */
extern const avf_exec_op *const avf_exec_ops_elementwise[];
extern const avf_exec_op *const avf_exec_ops_reduce[];
extern const avf_exec_op *const avf_exec_ops_conv[];
extern const avf_exec_op *const avf_exec_ops_matmul[];
extern const avf_exec_op *const avf_exec_ops_data[];
extern const avf_exec_op *const avf_exec_ops_control[];

/* Attribute helpers for prepare functions: the default when absent, a
 * status naming node and attribute when the type is wrong. */
avf_status avf_exec_attr_int(const avf_graph_node *n, const char *name, int64_t def, int64_t *out);
avf_status avf_exec_attr_float(const avf_graph_node *n, const char *name, float def, float *out);
/* Up to `cap` ints; *count = -1 when the attribute is absent. */
avf_status avf_exec_attr_ints(const avf_graph_node *n, const char *name, int64_t *out, int cap,
                              int *count);
/* A string attribute, or `def` when absent (never NULL when def is not). */
avf_status avf_exec_attr_string(const avf_graph_node *n, const char *name, const char *def,
                                const char **out);

/* Read a small integer CPU tensor (i64 or i32) of rank <= 1 into out. */
avf_status avf_exec_host_ints(const avf_tensor *t, const char *what, int64_t *out, int cap,
                              int *count);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_EXEC_OP_H */
