/* Internal: rewrite passes on the graph IR, run once at load (model.c) after
 * the op check and before the executor compiles the graph.
 *
 * Each pass rewrites a graph so that fewer nodes (kernel launches) compute
 * the same outputs:
 *
 *   fold_const.c  Constant nodes -> initializers; nodes whose inputs are all
 *                 constants evaluated once on the CPU through their exec ops
 *                 (outputs <= AVF_PASS_FOLD_MAX_BYTES); x*1, x+0, x/1, x-0,
 *                 Dropout and Identity removed.
 *   inline_if.c   If with a constant condition replaced by the taken
 *                 branch's nodes.
 *   fold_conv.c   BatchNormalization and per-channel Mul/Add/Sub/Div by
 *                 constants folded into the preceding Conv's weights/bias.
 *   fuse_act.c    written-out activations (x*clip(x+3,0,6)/6,
 *                 HardSigmoid(x)*x, x*Sigmoid(x)) -> avflow:Act; Conv +
 *                 activation -> avflow:FusedConv; MatMul + bias (+act) ->
 *                 avflow:FusedMatMul; a scalar Mul/Add after a fused node
 *                 -> its epilogue.
 *   fuse_norm.c   written-out layer norm -> avflow:LayerNormalization.
 *
 * Invariants every pass keeps: nodes stay in topological order (the driver
 * re-sorts after each pass); graph inputs and outputs keep their values and
 * names; a value read by a subgraph (an implicit input of its owner node) is
 * never removed or replaced; patterns match only exactly (constant values,
 * axes, epsilon, single readers of every intermediate), so outputs equal
 * the unfused graph's to f32 rounding.
 *
 * Rewritten and new nodes pass the load-time op check (avf_op_check_node).
 * The internal ops live in the domain AVF_DOMAIN_INTERNAL, whose opset
 * import the passes add to the model when they create one.
 */
#ifndef AVF_GRAPH_PASSES_H
#define AVF_GRAPH_PASSES_H

#include <stdint.h>

#include "avflow/pool.h"
#include "avflow/status.h"
#include "graph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_DOMAIN_INTERNAL "avflow"
/* Constant folding produces outputs of at most this many bytes each. */
#define AVF_PASS_FOLD_MAX_BYTES (16u << 20)

/* Rewrites per pass (summed over the main graph and its subgraphs). */
typedef struct avf_pass_stats {
    int constants;      /* Constant nodes turned into initializers */
    int folded;         /* nodes evaluated at load */
    int ifs_inlined;    /* If nodes with a constant condition */
    int identities;     /* Identity, x*1, x+0, ... removed */
    int conv_affine;    /* BatchNormalization / Mul / Add ... folded into a Conv */
    int acts;           /* written-out activations -> Act */
    int conv_act;       /* Conv + activation -> FusedConv */
    int matmul_bias;    /* MatMul + Add (+ activation) -> FusedMatMul */
    int epilogue;       /* activations / scalar affines absorbed into an epilogue */
    int layernorms;     /* written-out layer norms */
    int magnitudes;     /* written-out sqrt(re^2 + im^2) of two halves -> PairMagnitude */
    int64_t nodes_before, nodes_after; /* subgraphs included */
} avf_pass_stats;

/* Run every pass on the main graph g and its subgraphs. stats may be NULL.
 * On failure the graph may be partly rewritten and must be freed. */
avf_status avf_graph_optimize(avf_graph *g, avf_pass_stats *stats);

/* ------------------------------------------------ for the pass files */

/* One graph being rewritten: per-value read counts and dead nodes. */
typedef struct avf_pass {
    avf_graph *g;
    int *uses;         /* per value: reads by live nodes (inputs and implicit) */
    uint8_t *pinned;   /* per value: graph output or read by a subgraph */
    uint8_t *dead;     /* per node */
    int cap_values, cap_nodes;
    int added_internal; /* an internal-domain node was created */
    avf_pool *pool;     /* CPU scratch for constant folding, made on first use */
} avf_pass;

avf_status avf_pass_init(avf_pass *p, avf_graph *g);
void avf_pass_release(avf_pass *p);
/* Recount uses and pinned values (after nodes were rewritten or killed). */
avf_status avf_pass_recount(avf_pass *p);
/* Drop dead nodes and unused initializers, re-sort. */
avf_status avf_pass_compact(avf_pass *p);

/* The initializer tensor behind value v (an initializer of this graph or of
 * an enclosing one, through outer references), or NULL. */
const avf_tensor *avf_pass_const(const avf_pass *p, int v);
/* v is a constant of one element (any rank) of a float dtype: its value. */
int avf_pass_const_scalar(const avf_pass *p, int v, double *out);
/* The only live node reading v (once, as a plain input), or -1 when v has
 * other or no readers, is a graph output or is read by a subgraph. */
int avf_pass_sole_reader(const avf_pass *p, int v);
/* v may be dropped once its readers in the pattern are gone: not pinned. */
int avf_pass_removable(const avf_pass *p, int v);
/* A lower bound on the rank of v from its type, a constant or its producer
 * (0 when nothing is known); call with depth 0. */
int avf_pass_min_rank(const avf_pass *p, int v, int depth);
/* v is known to be f32 (its type, a constant, or its producer's inputs). */
int avf_pass_is_f32(const avf_pass *p, int v, int depth);
/* The live node producing v in this graph, or -1. */
int avf_pass_producer(const avf_pass *p, int v);
/* That node when it is default-domain op `op` (its index in *index), else NULL. */
const avf_graph_node *avf_pass_producer_op(const avf_pass *p, int v, const char *op, int *index);

/* Add an initializer named after `hint` (made unique); takes ownership of
 * data (malloc'd, may be NULL only when empty). */
avf_status avf_pass_add_init(avf_pass *p, const char *hint, void *data, avf_dtype dt, int ndim,
                             const int64_t *shape, int *value);
/* Turn node output v into an initializer holding data (ownership taken). */
avf_status avf_pass_make_init(avf_pass *p, int v, void *data, avf_dtype dt, int ndim,
                              const int64_t *shape);

void avf_pass_kill(avf_pass *p, int node);
/* Make node output k value v (the value's producer follows; the old value
 * is left without a producer). */
void avf_pass_set_output(avf_pass *p, int node, int k, int v);
/* Change a node's op (strings copied). */
avf_status avf_pass_set_op(avf_pass *p, avf_graph_node *n, const char *domain,
                           const char *op_type);
avf_status avf_pass_set_inputs(avf_graph_node *n, int count, const int *values);
avf_status avf_pass_attr_float(avf_graph_node *n, const char *name, float v);
avf_status avf_pass_attr_int(avf_graph_node *n, const char *name, int64_t v);
avf_status avf_pass_attr_string(avf_graph_node *n, const char *name, const char *v);
void avf_pass_attr_remove(avf_graph_node *n, const char *name);
/* Run the load-time op check on a rewritten node (AVF_ERR_INTERNAL naming
 * the pass when it fails: a pass must only build nodes avflow runs). */
avf_status avf_pass_check(avf_pass *p, avf_graph_node *n, const char *pass);

/* The passes (each returns its rewrite count in *count). */
avf_status avf_pass_constants(avf_pass *p, int *count);
avf_status avf_pass_fold(avf_pass *p, int *count);
avf_status avf_pass_inline_if(avf_pass *p, int *count);
avf_status avf_pass_identities(avf_pass *p, int *count);
avf_status avf_pass_conv_affine(avf_pass *p, int *count);
avf_status avf_pass_acts(avf_pass *p, int *count);
avf_status avf_pass_conv_act(avf_pass *p, int *count);
avf_status avf_pass_matmul_bias(avf_pass *p, int *count);
avf_status avf_pass_epilogue(avf_pass *p, int *count);
avf_status avf_pass_layernorm(avf_pass *p, int *count);
avf_status avf_pass_magnitude(avf_pass *p, int *count);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_PASSES_H */
