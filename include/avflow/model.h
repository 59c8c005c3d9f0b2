/* avflow models: a loaded, immutable network (graph + weights).
 *
 * avf_model_load() reads an ONNX file (opsets 1-21 of the default domain, each op
 * from the first opset whose form avflow implements,
 * external data files next to it, If/Loop subgraphs) and checks every node
 * against the ops avflow supports: a model that uses an op or attribute
 * avflow lacks fails to load with AVF_ERR_UNSUPPORTED and a message that
 * names the node, the op and what is missing. Truncated, corrupt or hostile
 * files give a status (AVF_ERR_CORRUPT mostly), never a crash.
 *
 * A model is never modified after load, so one model can be shared by any
 * number of threads and concurrent runs without a lock. Strings and arrays
 * returned by the accessors are owned by the model and live as long as it.
 */
#ifndef AVFLOW_MODEL_H
#define AVFLOW_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_model avf_model;

enum {
    /* Load even when nodes are unsupported (they are marked in the summary);
     * for inspecting models. Such a model cannot be run. */
    AVF_MODEL_ALLOW_UNSUPPORTED = 1u << 0,
    /* Skip the rewrite passes (constant folding, BatchNormalization folding,
     * fusions) that run at load: the graph runs node for node as the file
     * has it. For comparing against the passes and for inspecting. */
    AVF_MODEL_NO_OPTIMIZE = 1u << 1
};

typedef struct avf_model_options {
    uint32_t flags;                /* AVF_MODEL_* */
    /* Directory that external data locations are relative to. NULL: the
     * model file's directory; for memory loads, external data is rejected. */
    const char *external_data_dir;
    uint64_t max_file_bytes;       /* 0: 4 GiB */
} avf_model_options;

/* Load an ONNX model file. opts may be NULL. *out is NULL on failure. */
avf_status avf_model_load(const char *path, const avf_model_options *opts, avf_model **out);
/* Load from a serialized ModelProto in memory (copied as needed; the caller
 * keeps `data`). */
avf_status avf_model_load_memory(const void *data, size_t len, const avf_model_options *opts,
                                 avf_model **out);
/* NULL is ignored. No run may be using the model. */
void avf_model_free(avf_model *m);

typedef struct avf_model_value_info {
    const char *name;
    int has_dtype;                         /* 0: the file does not say */
    avf_dtype dtype;
    int ndim;                              /* -1: rank unknown */
    int64_t dims[AVF_MAX_DIMS];            /* -1: symbolic or unknown */
    const char *dim_names[AVF_MAX_DIMS];   /* symbol of a symbolic dim, else NULL */
} avf_model_value_info;

int avf_model_num_inputs(const avf_model *m);
int avf_model_num_outputs(const avf_model *m);
/* Describe input/output i (0 <= i < count). */
avf_status avf_model_input_info(const avf_model *m, int i, avf_model_value_info *info);
avf_status avf_model_output_info(const avf_model *m, int i, avf_model_value_info *info);

typedef struct avf_model_op_count {
    const char *op_type;
    const char *domain;      /* "" for the default ONNX domain */
    int count;               /* nodes, subgraphs included */
    int unsupported;         /* how many of them avflow cannot run */
    const char *reason;      /* the first such node's reason, else NULL */
} avf_model_op_count;

typedef struct avf_model_opset {
    const char *domain;
    int64_t version;
} avf_model_opset;

typedef struct avf_model_summary {
    int64_t ir_version;
    const char *producer;           /* "pytorch 2.1" or "" */
    int n_opsets;
    const avf_model_opset *opsets;
    int64_t n_nodes;                /* subgraphs included */
    int n_subgraphs;
    int n_op_types;
    const avf_model_op_count *ops;  /* sorted by count, descending */
    int64_t n_unsupported;          /* nodes */
    int n_initializers;             /* main graph and subgraphs */
    int n_constants;                /* tensor attributes (Constant nodes and the like) */
    int64_t param_count;            /* elements of initializers and constant attributes */
    uint64_t param_bytes;
} avf_model_summary;

/* Counts computed at load; the pointers inside belong to the model. */
avf_status avf_model_get_summary(const avf_model *m, avf_model_summary *out);

/* ---------------------------------------------------------------- running */

typedef struct avf_run_options {
    avf_device *device;   /* NULL: the pool's device */
    avf_stream *stream;   /* NULL: the device's default stream */
    avf_pool *pool;       /* required: intermediates and outputs come from it */
    int allow_tf32;       /* 0: f32 GEMM/conv in exact f32 */
    /* 1 (CUDA devices only): float values live on the device as f16 — the
     * weights uploaded as f16 once, inputs converted on entry, the kernels
     * computing in f16 with f32 accumulation (RNN cells in f32), and the
     * outputs the model declares f32 converted back. */
    int fp16;
    /* 1: every node runs on the device. By default, on a GPU run, nodes
     * doing small integer/bool shape arithmetic whose inputs are already on
     * the host run there, sparing launches and round trips; tests of the
     * device kernels turn that off. */
    int device_only;
    /* 1: never capture or replay plans (CUDA graphs); every run interprets
     * the graph node by node. Also set for all runs by AVF_GRAPHS=0. By
     * default a GPU run of a shape signature seen before replays the CUDA
     * graph captured for it (see avf_model_get_plan_stats). */
    int disable_graphs;
} avf_run_options;

/* Run the model on opts->device. Thread-safe: any number of threads may run
 * one model at once (each with its own stream, sharing a pool or not); the
 * first run on a device compiles the model and uploads its weights once.
 *
 * inputs[i] feeds the graph input named input_names[i] (input_names NULL:
 * the model's inputs in order, n_inputs == avf_model_num_inputs). Every
 * graph input must be fed; dtypes must match the model's and shapes its
 * fixed dims. Inputs may live on the CPU or on the run device (copied as
 * needed); the caller keeps them.
 *
 * output_names NULL: all outputs in model order (n_outputs must equal
 * avf_model_num_outputs). outputs[i] is allocated by avflow from opts->pool
 * on the run device; the caller releases it with avf_tensor_release(t,
 * stream). Results are ready once the stream's work completes (at return on
 * the CPU). On failure every output is left zeroed.
 *
 * Errors: AVF_ERR_INVALID_ARG (missing/unknown input, wrong dtype or shape),
 * AVF_ERR_UNSUPPORTED (a node avflow cannot run: the message names the node
 * and op), and whatever a kernel returns (message names the node). */
avf_status avf_model_run(const avf_model *m, const avf_run_options *opts, int n_inputs,
                         const char *const *input_names, const avf_tensor *inputs,
                         int n_outputs, const char *const *output_names, avf_tensor *outputs);

/* Plans: on a GPU, each shape signature of a model's runs (input shapes and
 * dtypes, run flags, values of small integer inputs given on the host) gets
 * a plan: its first run warms up, its second is captured as a CUDA graph,
 * later runs replay that graph from a private arena. */
typedef struct avf_model_plan_stats {
    int plans;                   /* cached plans */
    int graphed;                 /* of them, replaying a CUDA graph */
    int eager_only;              /* of them, keys whose runs wait for the device
                                    (data-dependent shapes): interpreted */
    uint64_t replays;            /* graph launches */
    uint64_t arena_bytes;        /* device memory the graphed plans hold */
    uint64_t arena_peak_bytes;   /* of it, live at the peak of a run */
    uint64_t intermediate_bytes; /* every allocation of a run summed: what the
                                    arena would be without lifetime reuse */
} avf_model_plan_stats;

/* Plan statistics of `m` on `dev` (NULL: every device). */
avf_status avf_model_get_plan_stats(const avf_model *m, const avf_device *dev,
                                    avf_model_plan_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_MODEL_H */
