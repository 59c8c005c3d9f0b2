/* Building ONNX ModelProto messages in tests with the generated protobuf-c
 * structs (test_exec.c, test_passes.c). Everything is allocated through
 * tmem() and freed at once by onnx_build_free(), so a test builds graphs
 * without tracking ownership. */
#ifndef AVF_TEST_ONNX_BUILD_H
#define AVF_TEST_ONNX_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "test_util.h"

static void **onnx_build_allocs;
static size_t onnx_build_n;

static inline void *tmem(size_t n) {
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    onnx_build_allocs = realloc(onnx_build_allocs, (onnx_build_n + 1) * sizeof *onnx_build_allocs);
    assert_non_null(onnx_build_allocs);
    onnx_build_allocs[onnx_build_n++] = p;
    return p;
}

/* Free everything tmem() handed out. */
static inline void onnx_build_free(void) {
    for (size_t i = 0; i < onnx_build_n; i++)
        free(onnx_build_allocs[i]);
    free(onnx_build_allocs);
    onnx_build_allocs = NULL;
    onnx_build_n = 0;
}

static inline char *tstr(const char *s) {
    char *d = tmem(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

#define PUSH(arr, n, item)                                                  \
    do {                                                                    \
        void **na_ = tmem(((n) + 1) * sizeof(void *));                      \
        if (n)                                                              \
            memcpy(na_, (arr), (n) * sizeof(void *));                       \
        na_[(n)] = (item);                                                  \
        (arr) = (void *)na_;                                                \
        (n)++;                                                              \
    } while (0)

enum { T_F32 = 1, T_I64 = 7, T_BOOL = 9 };

/* elem < 0: untyped; ndim < 0: unknown rank; dims -1: symbolic */
static inline Onnx__ValueInfoProto *vi(const char *name, int elem, int ndim, const int64_t *dims) {
    Onnx__ValueInfoProto *v = tmem(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = tstr(name);
    if (elem < 0)
        return v;
    Onnx__TypeProto *t = tmem(sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = tmem(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (ndim >= 0) {
        Onnx__TensorShapeProto *sh = tmem(sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        for (int d = 0; d < ndim; d++) {
            Onnx__TensorShapeProto__Dimension *dim = tmem(sizeof *dim);
            onnx__tensor_shape_proto__dimension__init(dim);
            if (dims[d] >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = dims[d];
            } else {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = tstr("n");
            }
            PUSH(sh->dim, sh->n_dim, dim);
        }
        tt->shape = sh;
    }
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    return v;
}

static inline Onnx__NodeProto *node(Onnx__GraphProto *g, const char *op, const char *in0,
                             const char *in1, const char *out) {
    Onnx__NodeProto *n = tmem(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tstr(op);
    n->name = tstr(out ? out : op);
    if (in0)
        PUSH(n->input, n->n_input, tstr(in0));
    if (in1)
        PUSH(n->input, n->n_input, tstr(in1));
    if (out)
        PUSH(n->output, n->n_output, tstr(out));
    PUSH(g->node, g->n_node, n);
    return n;
}

static inline void add_input(Onnx__NodeProto *n, const char *name) {
    PUSH(n->input, n->n_input, tstr(name));
}

static inline void add_output(Onnx__NodeProto *n, const char *name) {
    PUSH(n->output, n->n_output, tstr(name));
}

static inline Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = tmem(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tstr(name);
    a->has_type = 1;
    a->type = type;
    PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static inline void attr_floats(Onnx__NodeProto *n, const char *name, const float *v, size_t count) {
    Onnx__AttributeProto *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->floats = tmem(count * sizeof(float));
    memcpy(a->floats, v, count * sizeof(float));
    a->n_floats = count;
}

static inline void attr_float(Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static inline void attr_graph(Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g) {
    attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = g;
}

static inline Onnx__GraphProto *graph(const char *name) {
    Onnx__GraphProto *g = tmem(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = tstr(name);
    return g;
}

static inline void attr_ints(Onnx__NodeProto *n, const char *name, const int64_t *v, size_t count) {
    Onnx__AttributeProto *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = tmem(count * sizeof(int64_t));
    memcpy(a->ints, v, count * sizeof(int64_t));
    a->n_ints = count;
}

static inline Onnx__TensorProto *tensor(const char *name, int type, int ndim, const int64_t *dims,
                                 const void *data, size_t nbytes) {
    Onnx__TensorProto *t = tmem(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tstr(name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = tmem((size_t)(ndim ? ndim : 1) * sizeof(int64_t));
    if (ndim)
        memcpy(t->dims, dims, (size_t)ndim * sizeof(int64_t));
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = tmem(nbytes);
    memcpy(t->raw_data.data, data, nbytes);
    return t;
}

typedef struct onnx_built {
    uint8_t *buf;
    size_t len;
} onnx_built;

static inline onnx_built onnx_pack(Onnx__GraphProto *g, int64_t opset) {
    Onnx__ModelProto *m = tmem(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->graph = g;
    Onnx__OperatorSetIdProto *o = tmem(sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = tstr("");
    o->has_version = 1;
    o->version = opset;
    PUSH(m->opset_import, m->n_opset_import, o);
    onnx_built b;
    b.len = onnx__model_proto__get_packed_size(m);
    b.buf = tmem(b.len);
    assert_int_equal(onnx__model_proto__pack(m, b.buf), b.len);
    return b;
}

#endif /* AVF_TEST_ONNX_BUILD_H */
