/* Internal: the graph IR that model formats load into.
 *
 * A graph is a list of values (named tensors: inputs, initializers, node
 * outputs, references to an enclosing graph's values) and a list of nodes in
 * topological order, each reading and writing values by index. Subgraphs (the
 * bodies of If/Loop/Scan) are graphs of their own, owned by the attribute
 * that holds them, with a parent pointer; a name a subgraph reads but does not
 * define becomes an AVF_VALUE_OUTER value that points at the parent's value,
 * and the parent node that owns the subgraph lists that parent value in its
 * `implicit` inputs, so lifetimes and ordering see the dependency.
 *
 * Ownership: the graph owns everything reachable from it (strings, arrays,
 * subgraphs, attribute tensors, initializer data). Initializer and attribute
 * tensor data are CPU memory from malloc (not from an avf_pool: weights are
 * loaded once per model and freed with it, so a caching pool buys nothing);
 * the avf_tensor structs describe it as borrowed CPU tensors and
 * avf_graph_free() frees the data with free(). After loading, a graph is
 * never modified, so it can be read from many threads.
 */
#ifndef AVF_GRAPH_GRAPH_H
#define AVF_GRAPH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Subgraphs may nest this deep (the main graph is depth 0). */
#define AVF_GRAPH_MAX_DEPTH 16

typedef enum avf_value_kind {
    AVF_VALUE_INPUT = 0,   /* a graph input fed by the caller (or by If/Loop) */
    AVF_VALUE_INITIALIZER, /* a constant: graph->initializers[init] */
    AVF_VALUE_NODE,        /* produced by graph->nodes[producer] */
    AVF_VALUE_OUTER        /* the enclosing graph's value parent->values[outer] */
} avf_value_kind;

typedef struct avf_graph_value {
    char *name;
    avf_value_kind kind;
    int has_dtype;                     /* dtype below is known */
    avf_dtype dtype;
    int ndim;                          /* -1: rank unknown */
    int64_t dims[AVF_MAX_DIMS];        /* -1: symbolic or unknown */
    char *dim_names[AVF_MAX_DIMS];     /* the symbol of a symbolic dim, else NULL */
    int producer;                      /* AVF_VALUE_NODE: node index, else -1 */
    int init;                          /* AVF_VALUE_INITIALIZER: index, else -1 */
    int outer;                         /* AVF_VALUE_OUTER: parent value index, else -1 */
} avf_graph_value;

typedef enum avf_attr_type {
    AVF_ATTR_FLOAT = 0,
    AVF_ATTR_INT,
    AVF_ATTR_STRING,
    AVF_ATTR_TENSOR,
    AVF_ATTR_GRAPH,
    AVF_ATTR_FLOATS,
    AVF_ATTR_INTS,
    AVF_ATTR_STRINGS,
    AVF_ATTR_TYPE_COUNT
} avf_attr_type;

struct avf_graph;

typedef struct avf_graph_attr {
    char *name;
    avf_attr_type type;
    float f;
    int64_t i;
    char *s;                /* STRING: NUL-terminated copy (may hold no NUL inside) */
    avf_tensor *t;          /* TENSOR: owned, CPU */
    struct avf_graph *g;    /* GRAPH: owned subgraph */
    int n;                  /* FLOATS/INTS/STRINGS: element count */
    float *floats;
    int64_t *ints;
    char **strings;
} avf_graph_attr;

typedef struct avf_graph_node {
    char *name;             /* never NULL; "" when the model gave none */
    char *op_type;
    char *domain;           /* "" for the default ONNX domain */
    int n_inputs;
    int *inputs;            /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;           /* value indices; -1 for an unused optional output */
    int n_attrs;
    avf_graph_attr *attrs;
    int n_implicit;
    int *implicit;          /* values of this graph read by this node's subgraphs */
    int supported;          /* set by the op check: 1 if avflow can run it */
    char *unsupported;      /* why not (NULL when supported) */
} avf_graph_node;

typedef struct avf_graph_opset {
    char *domain;           /* "" for the default ONNX domain */
    int64_t version;
} avf_graph_opset;

typedef struct avf_graph {
    char *name;
    struct avf_graph *parent;  /* NULL for the main graph */
    int owner_node;            /* the parent's node whose attribute holds this graph */
    int depth;                 /* 0 for the main graph */
    int n_values, cap_values;
    avf_graph_value *values;
    int n_nodes;
    avf_graph_node *nodes;     /* topological order */
    int n_inputs;
    int *inputs;               /* values fed from outside (initializers excluded) */
    int n_outputs;
    int *outputs;
    int n_inits;
    avf_tensor *inits;         /* CPU tensors; data from malloc */
    int *init_values;          /* the value index of each initializer */
    /* name -> value index, open addressing; capacity a power of two */
    int *map;
    int map_cap;
    /* Only on the main graph (subgraphs share it through parent). */
    int n_opsets;
    avf_graph_opset *opsets;
    int64_t ir_version;
    char *producer;
} avf_graph;

/* An empty graph; `parent` may be NULL. */
avf_status avf_graph_create(avf_graph *parent, const char *name, avf_graph **out);
/* Free what a node owns (names, edges, attributes and their subgraphs);
 * the node struct itself belongs to its graph's array. */
void avf_graph_node_release(avf_graph_node *n);
/* Free a graph and everything it owns (NULL is ignored). */
void avf_graph_free(avf_graph *g);

/* Add a value named `name` (copied) of `kind`; fails on a duplicate name in
 * this graph. Returns its index in *index. */
avf_status avf_graph_add_value(avf_graph *g, const char *name, avf_value_kind kind, int *index);
/* Index of the value named `name` in this graph only, or -1. */
int avf_graph_find_value(const avf_graph *g, const char *name);
/* Resolve a name as a node of `g` reads it: this graph first, then the
 * enclosing graphs; an outer name gets an AVF_VALUE_OUTER value here (and in
 * each graph between) and is added to the implicit inputs of the parent's
 * node that owns each subgraph (g->owner_node). Sets *index to -1 when no
 * graph defines the name. */
avf_status avf_graph_resolve(avf_graph *g, const char *name, int *index);

/* The opset version the model imports for `domain` ("" and "ai.onnx" are the
 * same), or 0 when it imports none. Looks at the main graph. */
int64_t avf_graph_get_opset(const avf_graph *g, const char *domain);

/* Order nodes topologically (stable: keeps the file's order where it is
 * already valid); fails with AVF_ERR_CORRUPT on a cycle. Also sets
 * values[].producer. */
avf_status avf_graph_sort(avf_graph *g);

/* The attribute named `name` of a node, or NULL. */
const avf_graph_attr *avf_graph_node_attr(const avf_graph_node *n, const char *name);

/* "float", "int", ... for messages. */
const char *avf_attr_type_name(avf_attr_type t);

/* Visit every node of g and of its subgraphs, depth first; stops at the first
 * non-OK status of fn and returns it. */
typedef avf_status (*avf_graph_visit_fn)(avf_graph *g, avf_graph_node *n, void *ctx);
avf_status avf_graph_visit(avf_graph *g, avf_graph_visit_fn fn, void *ctx);

/* Elements and bytes of all initializers and attribute tensors, subgraphs
 * included. */
void avf_graph_param_totals(const avf_graph *g, int64_t *count, uint64_t *bytes);

#ifdef __cplusplus
}
#endif
#endif /* AVF_GRAPH_GRAPH_H */
