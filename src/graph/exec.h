/* Internal: the executor that runs a loaded graph (first version: an
 * interpreter).
 *
 * Two layers, kept apart so plans (arenas, CUDA graphs) can replace the
 * per-run part later without touching the model:
 *
 *   avf_exec_model   created with the model, compiled once at the first run
 *                    (under a mutex): for every graph (main and subgraphs) a
 *                    node list with the exec op found and its params
 *                    prepared, the release list of every node (values whose
 *                    last use it is), and every constant (initializers and
 *                    Constant-node outputs) numbered model-wide. Weights are
 *                    uploaded once per device into a weight cache (mutex on
 *                    first upload only; lookups are lock-free). Immutable
 *                    after compile: shared by all runs.
 *   avf_exec_run     per run: the op context (device, stream, pool), the
 *                    value table of each graph frame (main graph, and a fresh
 *                    frame for each If branch or Loop iteration).
 *
 * A value lives in a slot that may hold a device tensor, a host copy, or
 * both: ops that need a value on the host (host_inputs) get the host copy,
 * downloaded on demand (a stream synchronization) and kept; small nodes whose
 * inputs are all on the host (shape arithmetic) run on the host during a
 * device run, and their outputs are uploaded only when a device op reads
 * them. On a CPU run the two are the same tensor.
 */
#ifndef AVF_GRAPH_EXEC_H
#define AVF_GRAPH_EXEC_H

#include <stdint.h>

#include "avflow/model.h"
#include "graph/exec_op.h"
#include "graph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Devices the weight cache tells apart: the CPU and cuda:0..62. */
#define AVF_EXEC_MAX_DEVICES 64
/* Host-side execution on device runs: every input and output of the node
 * holds at most this many elements. */
#define AVF_EXEC_HOST_NUMEL 4096

typedef enum avf_exec_node_kind {
    AVF_EXEC_NODE_OP = 0, /* through its avf_exec_op */
    AVF_EXEC_NODE_CONST,  /* a Constant node: its output is a model constant */
    AVF_EXEC_NODE_IF,
    AVF_EXEC_NODE_LOOP,
} avf_exec_node_kind;

struct avf_exec_graph;

typedef struct avf_exec_node {
    const avf_graph_node *node;
    const avf_exec_op *op;      /* NULL: nothing runs this op type */
    avf_exec_node_kind kind;
    int64_t opset;
    void *params;               /* AVF_EXEC_PARAMS_MAX bytes, prepared once */
    int n_release;
    int *release;               /* values to release after this node */
    struct avf_exec_graph *sub[2]; /* If: then, else; Loop: body */
} avf_exec_node;

typedef struct avf_exec_graph {
    const avf_graph *g;
    int n_nodes;
    avf_exec_node *nodes;
    int *const_id;      /* per value: model-wide constant number, or -1 */
    uint8_t *pinned;    /* per value: a graph output, never released early */
} avf_exec_graph;

typedef struct avf_exec_model avf_exec_model;

/* Allocate the (uncompiled) executor state of a graph; cheap. */
avf_status avf_exec_model_create(const avf_graph *g, avf_exec_model **out);
/* NULL is ignored. No run may be in progress. */
void avf_exec_model_free(avf_exec_model *em);

/* Run the main graph (see avf_model_run in avflow/model.h for the contract). */
avf_status avf_exec_model_run(avf_exec_model *em, const avf_run_options *opts, int n_inputs,
                              const char *const *input_names, const avf_tensor *inputs,
                              int n_outputs, const char *const *output_names,
                              avf_tensor *outputs);

/* Plan statistics (graph/plan.h) of the model on dev (NULL: all devices). */
avf_status avf_exec_model_plan_stats(avf_exec_model *em, const avf_device *dev,
                                     avf_model_plan_stats *out);

/* ------------------------------------------------ per-run state (internal) */

/* One value of a frame. `t` is on the run device, `host` on the CPU. */
typedef struct avf_exec_slot {
    avf_tensor t, host;
    uint8_t has_t, has_host;
    uint8_t own_t, own_host; /* release them with the slot */
} avf_exec_slot;

typedef struct avf_exec_frame {
    const avf_exec_graph *eg;
    struct avf_exec_frame *parent;
    avf_exec_slot *slots; /* per value of eg->g */
} avf_exec_frame;

/* A run being captured into a plan's CUDA graph: host->device uploads of
 * host-computed values (shape arithmetic) go through `pinned`, which the
 * plan keeps as long as its graph, because a replay copies from it again. */
typedef struct avf_exec_capture {
    int capturing;
    unsigned char *pinned;
    uint64_t pinned_cap, pinned_used;
} avf_exec_capture;

/* Per-op-type wall time of a profiled run (AVF_PROFILE=1). */
#define AVF_EXEC_PROFILE_MAX 128
typedef struct avf_exec_profile_row {
    const char *op_type;
    int64_t count;
    double ms;
} avf_exec_profile_row;
typedef struct avf_exec_profile {
    int n;
    avf_exec_profile_row rows[AVF_EXEC_PROFILE_MAX];
} avf_exec_profile;

typedef struct avf_exec_run {
    const avf_exec_model *em;
    avf_device *dev;
    int on_cpu;
    int device_only;     /* avf_run_options.device_only */
    int fp16;            /* float values live on the device as f16 (exec_fp16.c) */
    avf_op_ctx ctx;      /* the run device */
    avf_op_ctx host_ctx; /* the CPU (same as ctx on a CPU run) */
    const avf_tensor *weights; /* per constant, on dev */
    const avf_tensor *consts;  /* per constant, on the host */
    /* What a plan needs to know of the run (graph/plan.c): */
    avf_exec_capture *cap;     /* non-NULL while capturing */
    uint32_t n_syncs;          /* host waits on the device (downloads, data-dependent ops) */
    uint64_t upload_count, upload_bytes; /* host->device uploads of host-side values */
    avf_exec_profile *profile; /* non-NULL: time every top-level node */
} avf_exec_run;

/* Run graph `eg` in a new frame under `parent` (for outer values). The
 * inputs' slots are taken over (released by the frame unless they own
 * nothing); `out` receives one slot per graph output, each owning its
 * tensors or borrowing a model constant. On failure nothing is left owned. */
avf_status avf_exec_graph_run(avf_exec_run *r, const avf_exec_graph *eg, avf_exec_frame *parent,
                              int n_in, avf_exec_slot *in, int n_out, avf_exec_slot *out);

/* The value's tensor on the run device / on the host, materialized (upload
 * or download, kept in the slot) when missing. */
avf_status avf_exec_slot_device(avf_exec_run *r, avf_exec_slot *s, const avf_tensor **out);
avf_status avf_exec_slot_host(avf_exec_run *r, avf_exec_slot *s, const avf_tensor **out);
/* Release what the slot owns and zero it. */
void avf_exec_slot_release(avf_exec_run *r, avf_exec_slot *s);
/* Make `s` own its tensors (copying borrowed ones, constants excepted when
 * keep_consts). */
avf_status avf_exec_slot_own(avf_exec_run *r, avf_exec_slot *s);
/* Wait for the run's stream. */
avf_status avf_exec_sync(avf_exec_run *r);

/* fp16 runs (src/graph/exec_fp16.c): every float value on the device is
 * f16. Before a node runs, its f32 device inputs are converted in their
 * slots (once: later readers find f16), except for ops that only compute in
 * f32 (RNNs), whose f16 inputs are converted into temporaries; after it, f32
 * device outputs are converted (Cast to float, ConstantOfShape, f32-only
 * ops). The graph outputs the model declares f32 are converted back. */
int avf_exec_fp16_keeps_f32(const avf_graph_node *n);
/* Replace the slot's device tensor by its f16 conversion when it is f32. */
avf_status avf_exec_fp16_slot(avf_exec_run *r, avf_exec_slot *s);
/* *tmp = t converted to `to` (on the run's stream, from its pool). */
avf_status avf_exec_fp16_convert(avf_exec_run *r, const avf_tensor *t, avf_dtype to,
                                 avf_tensor *tmp);

/* Control flow, in src/graph/exec/control.c. */
extern const avf_exec_op avf_exec_op_if, avf_exec_op_loop, avf_exec_op_constant;
/* The value of a Constant node as a CPU tensor; data either points into the
 * node's attribute or is malloc'd into *owned (free it after the tensor). */
avf_status avf_exec_constant_host(const avf_graph_node *n, avf_tensor *out, void **owned);
/* Run an If / Loop node of frame f: inputs read from the frame, outputs
 * written into out[i] (one per node output; slots of -1 outputs are left
 * empty). */
avf_status avf_exec_run_if(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en,
                           avf_exec_slot *out);
avf_status avf_exec_run_loop(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en,
                             avf_exec_slot *out);
/* Index of the graph output requested as outputs[i] (names NULL: i). */
avf_status avf_exec_output_index(const avf_graph *g, const char *const *names, int i, int *k);

/* The slot of value v of frame f (outer values resolve in the parents). */
avf_exec_slot *avf_exec_frame_slot(avf_exec_frame *f, int v);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_EXEC_H */
