/* ModelProto -> graph IR. See onnx.h for the bounds applied. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "graph/onnx.h"
#include "onnx.pb-c.h"

/* Default-domain opsets avflow accepts. Below 7 the registry decides per op
 * (op_registry.c: each op's first opset whose semantics avflow implements),
 * so an opset-1 model of GlobalAveragePool loads and one of Add-6 with legacy
 * broadcasting does not. */
#define AVF_ONNX_OPSET_MIN 1
#define AVF_ONNX_OPSET_MAX 21
/* Caps on counts from the file that end up in int fields. */
#define AVF_ONNX_MAX_ITEMS (1 << 24)
/* Unpacked messages may take this much beyond twice the file's size; more
 * means the file is mostly tiny messages built to amplify memory. */
#define AVF_ONNX_UNPACK_SLACK (((uint64_t)256) << 20)

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static char *dup_str(const char *s) {
    size_t n = strlen(str_or_empty(s));
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, str_or_empty(s), n + 1);
    return d;
}

#define OOM() AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "onnx: out of memory")

/* " (output of node 'n' (Op))" or " (input of ...)" for the node that makes
 * or first reads value `name`, so a refusal names the op that needs what is
 * missing; "" when no node touches it. */
static void value_site(const Onnx__GraphProto *gp, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < gp->n_node; i++) {
            const Onnx__NodeProto *np = gp->node[i];
            size_t n = pass ? np->n_input : np->n_output;
            char **names = pass ? np->input : np->output;
            for (size_t k = 0; k < n; k++)
                if (strcmp(str_or_empty(names[k]), name) == 0) {
                    snprintf(buf, cap, " (%s of node '%s' (%s))", pass ? "input" : "output",
                             str_or_empty(np->name), str_or_empty(np->op_type));
                    return;
                }
        }
}

static const char *type_kind(int value_case) {
    switch (value_case) {
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "sequence";
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "map";
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "optional";
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "sparse tensor";
    default: return "non-tensor";
    }
}

/* Apply a ValueInfoProto's type to a value. Non-tensor types (sequence, map,
 * optional, sparse) and element types avflow has no dtype for (string,
 * complex, float8, 4-bit) are refused at load, naming the node. */
static avf_status apply_type(avf_graph *g, const Onnx__GraphProto *gp, int v,
                             const Onnx__ValueInfoProto *vi) {
    const char *name = str_or_empty(vi->name);
    const Onnx__TypeProto *tp = vi->type;
    char site[300];
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return AVF_OK; /* type unknown: left to shape inference */
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        value_site(gp, name, site, sizeof site);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "value '%s' in graph '%s'%s: %s values are not supported (avflow's "
                        "graphs carry tensors only)",
                        name, g->name, site, type_kind((int)tp->value_case));
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt)
        return AVF_OK;
    avf_graph_value *val = &g->values[v];
    if (tt->has_elem_type && tt->elem_type != 0) {
        int dt = avf_onnx_dtype(tt->elem_type);
        if (dt < 0) {
            value_site(gp, name, site, sizeof site);
            return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                            "value '%s' in graph '%s'%s: data type %s (%d) is not supported "
                            "(avflow's tensors are numeric: f32, f16, bf16, f64, i64, i32, i16, "
                            "i8, u8, u16, u32, u64, bool)",
                            name, g->name, site, avf_onnx_dtype_name(tt->elem_type),
                            (int)tt->elem_type);
        }
        val->has_dtype = 1;
        val->dtype = (avf_dtype)dt;
    }
    if (!tt->shape)
        return AVF_OK; /* rank unknown */
    if (tt->shape->n_dim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "value '%s' in graph '%s': %zu dims (avflow allows %d)",
                        name, g->name, tt->shape->n_dim, AVF_MAX_DIMS);
    val->ndim = (int)tt->shape->n_dim;
    for (int d = 0; d < val->ndim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        free(val->dim_names[d]);
        val->dim_names[d] = NULL;
        val->dims[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            /* some exporters (paddle2onnx) write -1 for a dynamic dim */
            if (dim->dim_value > AVF_MAX_NUMEL)
                return AVF_FAIL(AVF_ERR_CORRUPT, "value '%s' in graph '%s': dim %d is %lld", name,
                                g->name, d, (long long)dim->dim_value);
            val->dims[d] = dim->dim_value < 0 ? -1 : dim->dim_value;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   dim->dim_param && dim->dim_param[0]) {
            if (!(val->dim_names[d] = dup_str(dim->dim_param)))
                return OOM();
        }
    }
    return AVF_OK;
}

static avf_status load_graph(Onnx__GraphProto *gp, avf_graph *parent, int owner,
                             const avf_onnx_options *opts, avf_graph **out);

static avf_status copy_list(void **dst, const void *src, size_t n, size_t esize) {
    *dst = NULL;
    if (n == 0)
        return AVF_OK;
    *dst = malloc(n * esize);
    if (!*dst)
        return OOM();
    memcpy(*dst, src, n * esize);
    return AVF_OK;
}

static avf_status load_attr(avf_graph *g, int node_index, const Onnx__NodeProto *np,
                            Onnx__AttributeProto *ap, avf_graph_attr *a,
                            const avf_onnx_options *opts) {
    const char *nname = str_or_empty(np->name), *op = str_or_empty(np->op_type);
    const char *aname = str_or_empty(ap->name);
    if (!(a->name = dup_str(aname)))
        return OOM();
    if (!aname[0])
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): attribute without a name", nname, op);
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "node '%s' (%s): attribute '%s' refers to a function attribute", nname,
                        op, aname);
    if (!ap->has_type)
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): attribute '%s' has no type", nname, op,
                        aname);
    size_t n = 0;
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = AVF_ATTR_FLOAT;
        a->f = ap->f;
        return AVF_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = AVF_ATTR_INT;
        a->i = ap->i;
        return AVF_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        a->type = AVF_ATTR_STRING;
        if (!(a->s = malloc(ap->s.len + 1)))
            return OOM();
        if (ap->s.len)
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        return AVF_OK;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        a->type = AVF_ATTR_TENSOR;
        if (!ap->t)
            return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): tensor attribute '%s' is empty",
                            nname, op, aname);
        if (!(a->t = calloc(1, sizeof *a->t)))
            return OOM();
        char what[256];
        snprintf(what, sizeof what, "%s.%s", nname, aname);
        return avf_onnx_tensor(ap->t, opts, what, a->t);
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
        a->type = AVF_ATTR_GRAPH;
        if (!ap->g)
            return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): graph attribute '%s' is empty",
                            nname, op, aname);
        if (g->depth + 1 > AVF_GRAPH_MAX_DEPTH)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                            "node '%s' (%s): subgraphs nested deeper than %d", nname, op,
                            AVF_GRAPH_MAX_DEPTH);
        return load_graph(ap->g, g, node_index, opts, &a->g);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = AVF_ATTR_FLOATS;
        n = ap->n_floats;
        if (n > AVF_ONNX_MAX_ITEMS)
            break;
        a->n = (int)n;
        return copy_list((void **)&a->floats, ap->floats, n, sizeof(float));
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = AVF_ATTR_INTS;
        n = ap->n_ints;
        if (n > AVF_ONNX_MAX_ITEMS)
            break;
        a->n = (int)n;
        return copy_list((void **)&a->ints, ap->ints, n, sizeof(int64_t));
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
        a->type = AVF_ATTR_STRINGS;
        n = ap->n_strings;
        if (n > AVF_ONNX_MAX_ITEMS)
            break;
        if (n && !(a->strings = calloc(n, sizeof *a->strings)))
            return OOM();
        a->n = (int)n;
        for (size_t i = 0; i < n; i++) {
            if (!(a->strings[i] = malloc(ap->strings[i].len + 1)))
                return OOM();
            if (ap->strings[i].len)
                memcpy(a->strings[i], ap->strings[i].data, ap->strings[i].len);
            a->strings[i][ap->strings[i].len] = '\0';
        }
        return AVF_OK;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "node '%s' (%s): attribute '%s' has type %d (tensors, graphs, sparse "
                        "tensors and type protos are not supported)",
                        nname, op, aname, (int)ap->type);
    }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has %zu values", nname,
                    op, aname, n);
}

/* Reads of node `i` from names to value indices, and its attributes. */
static avf_status load_node_body(avf_graph *g, int i, Onnx__NodeProto *np,
                                 const avf_onnx_options *opts) {
    avf_graph_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_inputs; k++) {
        const char *in = str_or_empty(np->input[k]);
        n->inputs[k] = -1;
        if (!in[0])
            continue; /* an omitted optional input */
        AVF_TRY(avf_graph_resolve(g, in, &n->inputs[k]));
        if (n->inputs[k] < 0)
            return AVF_FAIL(AVF_ERR_CORRUPT,
                            "node '%s' (%s): input '%s' is not an input, initializer or output "
                            "of any node",
                            n->name, n->op_type, in);
    }
    if (np->n_attribute > AVF_ONNX_MAX_ITEMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s': too many attributes", n->name);
    if (np->n_attribute && !(n->attrs = calloc(np->n_attribute, sizeof *n->attrs)))
        return OOM();
    for (size_t a = 0; a < np->n_attribute; a++) {
        n->n_attrs = (int)a + 1; /* so a failure frees what was filled */
        AVF_TRY(load_attr(g, i, np, np->attribute[a], &n->attrs[a], opts));
        for (size_t b = 0; b < a; b++)
            if (strcmp(n->attrs[b].name, n->attrs[a].name) == 0)
                return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): attribute '%s' appears twice",
                                n->name, n->op_type, n->attrs[a].name);
    }
    return AVF_OK;
}

/* Names, op and output values of every node, before any reads are resolved:
 * a subgraph may read a value its parent defines later in file order. */
static avf_status load_node_head(avf_graph *g, int i, Onnx__NodeProto *np) {
    avf_graph_node *n = &g->nodes[i];
    if (!(n->name = dup_str(np->name)) || !(n->op_type = dup_str(np->op_type)) ||
        !(n->domain = dup_str(np->domain)))
        return OOM();
    if (!n->op_type[0])
        return AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' in graph '%s' has no op type", n->name,
                        g->name);
    if (np->n_input > AVF_ONNX_MAX_ITEMS || np->n_output > AVF_ONNX_MAX_ITEMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): too many inputs or outputs",
                        n->name, n->op_type);
    n->supported = 1;
    if (np->n_input && !(n->inputs = malloc(np->n_input * sizeof *n->inputs)))
        return OOM();
    n->n_inputs = (int)np->n_input;
    for (int k = 0; k < n->n_inputs; k++)
        n->inputs[k] = -1;
    if (np->n_output && !(n->outputs = malloc(np->n_output * sizeof *n->outputs)))
        return OOM();
    n->n_outputs = (int)np->n_output;
    for (int k = 0; k < n->n_outputs; k++) {
        const char *name = str_or_empty(np->output[k]);
        n->outputs[k] = -1;
        if (!name[0])
            continue; /* an optional output nobody reads */
        if (avf_graph_find_value(g, name) >= 0)
            return AVF_FAIL(AVF_ERR_CORRUPT,
                            "node '%s' (%s): output '%s' is already defined in graph '%s'",
                            n->name, n->op_type, name, g->name);
        AVF_TRY(avf_graph_add_value(g, name, AVF_VALUE_NODE, &n->outputs[k]));
        g->values[n->outputs[k]].producer = i;
    }
    return AVF_OK;
}

static avf_status load_graph_into(avf_graph *g, Onnx__GraphProto *gp,
                                  const avf_onnx_options *opts) {
    if (gp->n_node > AVF_ONNX_MAX_ITEMS || gp->n_input > AVF_ONNX_MAX_ITEMS ||
        gp->n_output > AVF_ONNX_MAX_ITEMS || gp->n_initializer > AVF_ONNX_MAX_ITEMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "graph '%s': too many nodes or values", g->name);
    if (gp->n_sparse_initializer)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "graph '%s': sparse initializers are not supported",
                        g->name);
    /* 1. inputs */
    int *inputs = gp->n_input ? malloc(gp->n_input * sizeof *inputs) : NULL;
    if (gp->n_input && !inputs)
        return OOM();
    g->inputs = inputs;
    for (size_t k = 0; k < gp->n_input; k++) {
        const char *name = str_or_empty(gp->input[k]->name);
        if (!name[0])
            return AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': input %zu has no name", g->name, k);
        int v;
        AVF_TRY(avf_graph_add_value(g, name, AVF_VALUE_INPUT, &v));
        inputs[g->n_inputs++] = v;
        AVF_TRY(apply_type(g, gp, v, gp->input[k]));
    }
    /* 2. initializers; one that is also listed as an input (IR < 4 lists all
     * of them there) is a constant, not something the caller feeds */
    if (gp->n_initializer) {
        g->inits = calloc(gp->n_initializer, sizeof *g->inits);
        g->init_values = calloc(gp->n_initializer, sizeof *g->init_values);
        if (!g->inits || !g->init_values)
            return OOM();
    }
    for (size_t k = 0; k < gp->n_initializer; k++) {
        Onnx__TensorProto *tp = gp->initializer[k];
        const char *name = str_or_empty(tp->name);
        if (!name[0])
            return AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': initializer %zu has no name", g->name, k);
        int idx = g->n_inits;
        AVF_TRY(avf_onnx_tensor(tp, opts, name, &g->inits[idx]));
        g->n_inits++;
        int v = avf_graph_find_value(g, name);
        if (v >= 0 && g->values[v].kind != AVF_VALUE_INPUT)
            return AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': initializer '%s' is defined twice",
                            g->name, name);
        if (v >= 0) {
            int w = 0;
            for (int r = 0; r < g->n_inputs; r++)
                if (g->inputs[r] != v)
                    g->inputs[w++] = g->inputs[r];
            g->n_inputs = w;
        } else {
            AVF_TRY(avf_graph_add_value(g, name, AVF_VALUE_INITIALIZER, &v));
        }
        avf_graph_value *val = &g->values[v];
        val->kind = AVF_VALUE_INITIALIZER;
        val->init = idx;
        val->has_dtype = 1;
        val->dtype = g->inits[idx].dtype;
        val->ndim = g->inits[idx].ndim;
        for (int d = 0; d < val->ndim; d++) {
            val->dims[d] = g->inits[idx].shape[d];
            free(val->dim_names[d]);
            val->dim_names[d] = NULL;
        }
        g->init_values[idx] = v;
    }
    /* 3. node outputs */
    if (gp->n_node && !(g->nodes = calloc(gp->n_node, sizeof *g->nodes)))
        return OOM();
    g->n_nodes = (int)gp->n_node;
    for (int i = 0; i < g->n_nodes; i++)
        AVF_TRY(load_node_head(g, i, gp->node[i]));
    /* 4. types of intermediates, where the file has them */
    for (size_t k = 0; k < gp->n_value_info; k++) {
        int v = avf_graph_find_value(g, str_or_empty(gp->value_info[k]->name));
        if (v >= 0 && g->values[v].kind == AVF_VALUE_NODE)
            AVF_TRY(apply_type(g, gp, v, gp->value_info[k]));
    }
    /* 5. node reads and attributes (subgraphs recurse from here) */
    for (int i = 0; i < g->n_nodes; i++)
        AVF_TRY(load_node_body(g, i, gp->node[i], opts));
    /* 6. outputs: may name an input, initializer or outer value directly */
    if (gp->n_output && !(g->outputs = malloc(gp->n_output * sizeof *g->outputs)))
        return OOM();
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *name = str_or_empty(gp->output[k]->name);
        int v = -1;
        AVF_TRY(avf_graph_resolve(g, name, &v));
        if (v < 0)
            return AVF_FAIL(AVF_ERR_CORRUPT, "graph '%s': output '%s' is never produced", g->name,
                            name);
        g->outputs[g->n_outputs++] = v;
        if (g->values[v].kind == AVF_VALUE_NODE || g->values[v].kind == AVF_VALUE_OUTER)
            AVF_TRY(apply_type(g, gp, v, gp->output[k]));
    }
    return avf_graph_sort(g);
}

static avf_status load_graph(Onnx__GraphProto *gp, avf_graph *parent, int owner,
                             const avf_onnx_options *opts, avf_graph **out) {
    *out = NULL;
    avf_graph *g = NULL;
    AVF_TRY(avf_graph_create(parent, str_or_empty(gp->name), &g));
    g->owner_node = owner;
    avf_status st = load_graph_into(g, gp, opts);
    if (st != AVF_OK) {
        avf_graph_free(g);
        return st;
    }
    *out = g;
    return AVF_OK;
}

static avf_status load_opsets(avf_graph *g, const Onnx__ModelProto *mp) {
    if (mp->n_opset_import > 64)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "onnx: %zu opset imports", mp->n_opset_import);
    if (mp->n_opset_import && !(g->opsets = calloc(mp->n_opset_import, sizeof *g->opsets)))
        return OOM();
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!(g->opsets[i].domain = dup_str(o->domain)))
            return OOM();
        g->n_opsets = (int)i + 1;
        g->opsets[i].version = o->has_version ? o->version : 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(g->opsets[j].domain, g->opsets[i].domain) == 0)
                return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: opset for domain '%s' imported twice",
                                g->opsets[i].domain);
    }
    int64_t v = avf_graph_get_opset(g, "");
    if (v == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: the model imports no opset for the default "
                                         "domain 'ai.onnx'");
    if (v < AVF_ONNX_OPSET_MIN || v > AVF_ONNX_OPSET_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "onnx: opset %lld of domain 'ai.onnx' is not supported (avflow loads "
                        "opsets %d to %d)",
                        (long long)v, AVF_ONNX_OPSET_MIN, AVF_ONNX_OPSET_MAX);
    return AVF_OK;
}

/* Bounds-check the bytes, then let protobuf-c unpack them. */
static avf_status unpack_model(const void *data, size_t len, const avf_onnx_options *opts,
                               Onnx__ModelProto **out) {
    *out = NULL;
    uint64_t max_bytes = opts && opts->max_file_bytes ? opts->max_file_bytes
                                                      : AVF_ONNX_MAX_FILE_BYTES;
    if ((uint64_t)len > max_bytes)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "onnx: model is %zu bytes (limit %llu)", len,
                        (unsigned long long)max_bytes);
    if (len == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: empty model");
    uint64_t unpacked = 0;
    AVF_TRY(avf_onnx_wire_check(&onnx__model_proto__descriptor, data, len, &unpacked));
    if (unpacked > 2 * (uint64_t)len + AVF_ONNX_UNPACK_SLACK)
        return AVF_FAIL(AVF_ERR_CORRUPT,
                        "onnx: unpacking would take %llu bytes for a %zu-byte file "
                        "(mostly empty messages)",
                        (unsigned long long)unpacked, len);
    *out = onnx__model_proto__unpack(NULL, len, (const uint8_t *)data);
    if (!*out)
        return AVF_FAIL(AVF_ERR_CORRUPT, "onnx: not a valid ONNX ModelProto (protobuf decoding "
                                         "failed or out of memory)");
    return AVF_OK;
}

/* ModelProto -> graph; frees mp in all cases. */
static avf_status build_model(Onnx__ModelProto *mp, const avf_onnx_options *opts,
                              avf_graph **out) {
    avf_graph *g = NULL;
    avf_status st = AVF_OK;
    if (!mp->graph) {
        st = AVF_FAIL(AVF_ERR_CORRUPT, "onnx: the model has no graph");
        goto done;
    }
    if (mp->n_functions) {
        /* nodes calling local functions would fail the op check anyway; say why */
        st = AVF_FAIL(AVF_ERR_UNSUPPORTED,
                      "onnx: the model defines %zu local functions (not supported)",
                      mp->n_functions);
        goto done;
    }
    if ((st = avf_graph_create(NULL, str_or_empty(mp->graph->name), &g)) != AVF_OK)
        goto done;
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    const char *pname = str_or_empty(mp->producer_name);
    const char *pver = str_or_empty(mp->producer_version);
    size_t plen = strlen(pname) + strlen(pver) + 2;
    if (!(g->producer = malloc(plen))) {
        st = OOM();
        goto done;
    }
    snprintf(g->producer, plen, "%s%s%s", pname, pver[0] ? " " : "", pver);
    if ((st = load_opsets(g, mp)) != AVF_OK)
        goto done;
    st = load_graph_into(g, mp->graph, opts);
done:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != AVF_OK) {
        avf_graph_free(g);
        return st;
    }
    *out = g;
    return AVF_OK;
}

avf_status avf_onnx_load_memory(const void *data, size_t len, const avf_onnx_options *opts,
                                avf_graph **out) {
    AVF_CHECK_ARG(out);
    *out = NULL;
    AVF_CHECK_ARG(data || len == 0);
    Onnx__ModelProto *mp = NULL;
    AVF_TRY(unpack_model(data, len, opts, &mp));
    return build_model(mp, opts, out);
}

avf_status avf_onnx_load_file(const char *path, const avf_onnx_options *opts, avf_graph **out) {
    AVF_CHECK_ARG(path && out);
    *out = NULL;
    uint64_t max_bytes = opts && opts->max_file_bytes ? opts->max_file_bytes
                                                      : AVF_ONNX_MAX_FILE_BYTES;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO, "onnx: cannot open '%s': %s",
                        path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return AVF_FAIL(AVF_ERR_IO, "onnx: '%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "onnx: '%s' is %lld bytes (limit %llu)", path,
                        (long long)sb.st_size, (unsigned long long)max_bytes);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "onnx: cannot allocate %zu bytes for '%s'", len,
                        path);
    }
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, buf + done, len - done > (1u << 30) ? (1u << 30) : len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    close(fd);
    if (done != len) {
        free(buf);
        return AVF_FAIL(AVF_ERR_IO, "onnx: reading '%s' failed", path);
    }
    /* External data lives next to the model unless the caller says where. */
    avf_onnx_options o = opts ? *opts : (avf_onnx_options){0};
    char *dir = NULL;
    if (!o.base_dir) {
        const char *slash = strrchr(path, '/');
        size_t dlen = slash ? (size_t)(slash - path) : 1;
        if (!(dir = malloc(dlen + 2))) {
            free(buf);
            return OOM();
        }
        if (slash) {
            memcpy(dir, path, dlen);
            if (dlen == 0) /* "/model.onnx" */
                dir[dlen++] = '/';
        } else {
            dir[0] = '.';
        }
        dir[dlen] = '\0';
        o.base_dir = dir;
    }
    /* The file's bytes are not needed once unpacked: free them before the
     * graph is built, so peak memory stays near twice the file size. */
    Onnx__ModelProto *mp = NULL;
    avf_status st = unpack_model(buf, len, &o, &mp);
    free(buf);
    if (st == AVF_OK)
        st = build_model(mp, &o, out);
    free(dir);
    return st;
}
