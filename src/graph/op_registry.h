/* Internal: the ONNX ops avflow supports, and the load-time check against it.
 *
 * Each entry names an op of the default domain, the first opset avflow
 * accepts it in (its introduction, or the first version whose semantics
 * avflow implements when older ones differ; the loader accepts 1-21),
 * how many inputs/outputs it takes (the union over opset versions, so one
 * entry serves Split-2 and Split-18 alike), the attributes avflow
 * understands with their types, and an optional check of attribute values
 * (e.g. Resize antialias=1 is rejected). The check runs at load so that a
 * model avflow cannot run fails there, with a message that names the node,
 * the op and what is missing:
 *
 *   node 'resize_1' (Resize): unsupported attribute value antialias=1
 *   node 'n7' (Foo): unsupported op 'Foo' (domain 'ai.onnx', opset 17)
 */
#ifndef AVF_GRAPH_OP_REGISTRY_H
#define AVF_GRAPH_OP_REGISTRY_H

#include <stddef.h>

#include "graph/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_op_attr_def {
    const char *name;
    avf_attr_type type;
} avf_op_attr_def;

/* Writes why the node is unsupported into msg and returns 1, or returns 0. */
typedef int (*avf_op_check_fn)(const avf_graph_node *n, int64_t opset, char *msg, size_t cap);

typedef struct avf_op_def {
    const char *op_type;
    int since;                     /* first opset avflow accepts it in */
    int min_inputs, max_inputs;    /* max -1: variadic */
    int min_outputs, max_outputs;  /* max -1: variadic */
    const avf_op_attr_def *attrs;  /* ends with {NULL} */
    avf_op_check_fn check;         /* NULL: any value of a known attribute */
} avf_op_def;

/* The entry for op_type in domain ("" or "ai.onnx"), or NULL. */
const avf_op_def *avf_op_find(const char *domain, const char *op_type);
/* The table, for listing (`avflow inspect`, docs). */
int avf_op_count(void);
const avf_op_def *avf_op_at(int i);

/* Check one node of graph g: fills n->supported and n->unsupported (the
 * reason). Returns AVF_ERR_UNSUPPORTED with the reason as the message when
 * the node is not supported, AVF_ERR_OUT_OF_MEMORY if the reason could not
 * be stored. */
avf_status avf_op_check_node(const avf_graph *g, avf_graph_node *n);

/* Check every node of g and its subgraphs. strict: stop at and return the
 * first unsupported node's status. Otherwise mark them all, count them in
 * *n_unsupported (may be NULL) and return AVF_OK (for `avflow inspect`). */
avf_status avf_op_check_graph(avf_graph *g, int strict, int *n_unsupported);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_OP_REGISTRY_H */
