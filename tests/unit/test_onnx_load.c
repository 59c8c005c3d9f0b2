/* ONNX loading: ModelProto messages built here with the generated protobuf-c
 * structs, serialized, and loaded through the public API (and the internal
 * graph for what the API does not show). Covers valid models (dtypes,
 * symbolic dims, If subgraphs, external data) and the error paths
 * (truncation, byte flips, unsupported ops/attributes/opsets, bounds,
 * hostile external data paths, deep nesting). */
#include "test_util.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/graph.h"
#include "graph/onnx.h"
#include "onnx.pb-c.h"

/* ------------------------------------------------------------ builders
 * Every allocation goes on one list, freed after each test. */

static void **allocs;
static size_t n_allocs;

static void *tmem(size_t n) {
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    allocs = realloc(allocs, (n_allocs + 1) * sizeof *allocs);
    assert_non_null(allocs);
    allocs[n_allocs++] = p;
    return p;
}

static int teardown(void **state) {
    for (size_t i = 0; i < n_allocs; i++)
        free(allocs[i]);
    free(allocs);
    allocs = NULL;
    n_allocs = 0;
    return 0;
}

static char *tstr(const char *s) {
    char *d = tmem(strlen(s) + 1);
    strcpy(d, s);
    return d;
}

/* Append one pointer to a protobuf-c repeated field. */
#define PUSH(arr, n, item)                                                  \
    do {                                                                    \
        void **na_ = tmem(((n) + 1) * sizeof(void *));                      \
        if (n)                                                              \
            memcpy(na_, (arr), (n) * sizeof(void *));                       \
        na_[(n)] = (item);                                                  \
        (arr) = (void *)na_;                                                \
        (n)++;                                                              \
    } while (0)

static Onnx__ValueInfoProto *vi(const char *name, int elem, int ndim, const int64_t *dims,
                                const char *const *params) {
    Onnx__ValueInfoProto *v = tmem(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = tstr(name);
    if (elem < 0)
        return v; /* no type */
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
            if (params && params[d]) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = tstr(params[d]);
            } else if (dims[d] >= 0) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = dims[d];
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

static Onnx__TensorProto *tensor_raw(const char *name, int type, int ndim, const int64_t *dims,
                                     const void *data, size_t nbytes) {
    Onnx__TensorProto *t = tmem(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tstr(name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = tmem((size_t)ndim * sizeof(int64_t));
    if (ndim)
        memcpy(t->dims, dims, (size_t)ndim * sizeof(int64_t));
    if (data) {
        t->has_raw_data = 1;
        t->raw_data.len = nbytes;
        t->raw_data.data = tmem(nbytes);
        memcpy(t->raw_data.data, data, nbytes);
    }
    return t;
}

static Onnx__NodeProto *node(Onnx__GraphProto *g, const char *op, const char *name,
                             const char *in0, const char *in1, const char *out) {
    Onnx__NodeProto *n = tmem(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tstr(op);
    n->name = tstr(name);
    if (in0)
        PUSH(n->input, n->n_input, tstr(in0));
    if (in1)
        PUSH(n->input, n->n_input, tstr(in1));
    if (out)
        PUSH(n->output, n->n_output, tstr(out));
    PUSH(g->node, g->n_node, n);
    return n;
}

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = tmem(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tstr(name);
    a->has_type = 1;
    a->type = type;
    PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static void attr_str(Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)tstr(v);
    a->s.len = strlen(v);
}

static void attr_graph(Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g) {
    attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = g;
}

static Onnx__GraphProto *graph(const char *name) {
    Onnx__GraphProto *g = tmem(sizeof *g);
    onnx__graph_proto__init(g);
    g->name = tstr(name);
    return g;
}

static Onnx__ModelProto *model(Onnx__GraphProto *g, int64_t opset) {
    Onnx__ModelProto *m = tmem(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->graph = g;
    if (opset > 0) {
        Onnx__OperatorSetIdProto *o = tmem(sizeof *o);
        onnx__operator_set_id_proto__init(o);
        o->domain = tstr("");
        o->has_version = 1;
        o->version = opset;
        PUSH(m->opset_import, m->n_opset_import, o);
    }
    return m;
}

/* With AVF_ONNX_SEED_DIR set, every packed model is also written there: the
 * seed corpus for tests/fuzz/fuzz_onnx_load. */
static void save_seed(const uint8_t *buf, size_t len) {
    static int count;
    const char *dir = getenv("AVF_ONNX_SEED_DIR");
    if (!dir || len > 1 << 20)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/seed_%03d.onnx", dir, count++);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *len) {
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = tmem(*len);
    assert_int_equal(onnx__model_proto__pack(m, buf), *len);
    save_seed(buf, *len);
    return buf;
}

static const int64_t d23[] = {2, 3};
static const float w6[] = {1, 2, 3, 4, 5, 6};

/* Y = X + W, W an f32[2,3] initializer. */
static Onnx__ModelProto *tiny_model(void) {
    Onnx__GraphProto *g = graph("tiny");
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL));
    PUSH(g->output, g->n_output, vi("Y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL));
    PUSH(g->initializer, g->n_initializer,
         tensor_raw("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, w6, sizeof w6));
    node(g, "Add", "add0", "X", "W", "Y");
    return model(g, 17);
}

static avf_status load_model(const Onnx__ModelProto *m, uint32_t flags, avf_model **out) {
    size_t len;
    uint8_t *buf = pack(m, &len);
    avf_model_options o = {.flags = flags};
    return avf_model_load_memory(buf, len, &o, out);
}

static void expect_fail(const Onnx__ModelProto *m, avf_status code, const char *const *needles) {
    avf_model *mod = NULL;
    avf_clear_error();
    avf_status st = load_model(m, 0, &mod);
    if (st != code)
        print_error("got %s: %s\n", avf_status_name(st), avf_last_error());
    assert_int_equal(st, code);
    assert_null(mod);
    for (; needles && *needles; needles++) {
        if (!strstr(avf_last_error(), *needles))
            print_error("message '%s' lacks '%s'\n", avf_last_error(), *needles);
        assert_non_null(strstr(avf_last_error(), *needles));
    }
}

/* ------------------------------------------------------------ valid models */

static void test_tiny_model(void **state) {
    avf_model *m = NULL;
    assert_avf_ok(load_model(tiny_model(), 0, &m));
    assert_int_equal(avf_model_num_inputs(m), 1);
    assert_int_equal(avf_model_num_outputs(m), 1);
    avf_model_value_info in;
    assert_avf_ok(avf_model_input_info(m, 0, &in));
    assert_string_equal(in.name, "X");
    assert_true(in.has_dtype);
    assert_int_equal(in.dtype, AVF_DTYPE_F32);
    assert_int_equal(in.ndim, 2);
    assert_int_equal(in.dims[0], 2);
    assert_int_equal(in.dims[1], 3);
    assert_avf_fails(avf_model_input_info(m, 1, &in), AVF_ERR_INVALID_ARG);
    avf_model_summary s;
    assert_avf_ok(avf_model_get_summary(m, &s));
    assert_int_equal(s.n_nodes, 1);
    assert_int_equal(s.n_op_types, 1);
    assert_string_equal(s.ops[0].op_type, "Add");
    assert_int_equal(s.ops[0].unsupported, 0);
    assert_int_equal(s.param_count, 6);
    assert_int_equal(s.param_bytes, 24);
    assert_int_equal(s.n_opsets, 1);
    assert_int_equal(s.opsets[0].version, 17);
    avf_model_free(m);
    avf_model_free(NULL);
}

static void test_initializer_dtypes(void **state) {
    static const struct {
        int onnx;
        avf_dtype dt;
    } types[] = {
        {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, AVF_DTYPE_F32},
        {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, AVF_DTYPE_F16},
        {ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, AVF_DTYPE_BF16},
        {ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, AVF_DTYPE_F64},
        {ONNX__TENSOR_PROTO__DATA_TYPE__INT64, AVF_DTYPE_I64},
        {ONNX__TENSOR_PROTO__DATA_TYPE__INT32, AVF_DTYPE_I32},
        {ONNX__TENSOR_PROTO__DATA_TYPE__INT16, AVF_DTYPE_I16},
        {ONNX__TENSOR_PROTO__DATA_TYPE__INT8, AVF_DTYPE_I8},
        {ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, AVF_DTYPE_U8},
        {ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, AVF_DTYPE_BOOL},
        {ONNX__TENSOR_PROTO__DATA_TYPE__UINT16, AVF_DTYPE_U16},
        {ONNX__TENSOR_PROTO__DATA_TYPE__UINT32, AVF_DTYPE_U32},
        {ONNX__TENSOR_PROTO__DATA_TYPE__UINT64, AVF_DTYPE_U64},
    };
    const int nt = (int)(sizeof types / sizeof types[0]);
    /* onnx.proto: uint32/uint64 values live in uint64_data */
    const uint64_t u64[] = {9, 0xfffffffeu, (1ull << 63) + 1};
    const int64_t d3[] = {3};
    const int32_t i32[] = {1, -2, 3};
    const int64_t i64[] = {5, -6, 7};
    const double f64[] = {0.5, 1.5, -2.5};
    const float f32[] = {1.25f, 2.5f, -3.75f};
    Onnx__GraphProto *g = graph("dtypes");
    for (int typed = 0; typed < 2; typed++) {
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%s", avf_dtype_name(types[k].dt), typed ? "typed" : "raw");
            size_t es = avf_dtype_size(types[k].dt);
            uint8_t raw[24] = {0};
            for (size_t b = 0; b < 3 * es; b++)
                raw[b] = (uint8_t)(b * 7 + 1);
            Onnx__TensorProto *t =
                tensor_raw(name, types[k].onnx, 1, d3, typed ? NULL : raw, 3 * es);
            if (typed) {
                switch (types[k].dt) {
                case AVF_DTYPE_F32: t->n_float_data = 3; t->float_data = (float *)f32; break;
                case AVF_DTYPE_F64: t->n_double_data = 3; t->double_data = (double *)f64; break;
                case AVF_DTYPE_I64: t->n_int64_data = 3; t->int64_data = (int64_t *)i64; break;
                case AVF_DTYPE_U32:
                case AVF_DTYPE_U64: t->n_uint64_data = 3; t->uint64_data = (uint64_t *)u64; break;
                default: t->n_int32_data = 3; t->int32_data = (int32_t *)i32; break;
                }
            }
            PUSH(g->initializer, g->n_initializer, t);
            PUSH(g->output, g->n_output, vi(name, -1, -1, NULL, NULL));
        }
    }
    size_t len;
    uint8_t *buf = pack(model(g, 13), &len);
    avf_graph *gr = NULL;
    assert_avf_ok(avf_onnx_load_memory(buf, len, NULL, &gr));
    assert_int_equal(gr->n_inits, 2 * nt);
    for (int i = 0; i < 2 * nt; i++) {
        const avf_tensor *t = &gr->inits[i];
        int k = i % nt, typed = i / nt;
        assert_int_equal(t->dtype, types[k].dt);
        assert_int_equal(t->ndim, 1);
        assert_int_equal(t->shape[0], 3);
        const uint8_t *p = t->data;
        if (!typed) {
            for (size_t b = 0; b < 3 * avf_dtype_size(t->dtype); b++)
                assert_int_equal(p[b], (uint8_t)(b * 7 + 1));
            continue;
        }
        switch (t->dtype) {
        case AVF_DTYPE_F32: assert_memory_equal(p, f32, sizeof f32); break;
        case AVF_DTYPE_F64: assert_memory_equal(p, f64, sizeof f64); break;
        case AVF_DTYPE_I64: assert_memory_equal(p, i64, sizeof i64); break;
        case AVF_DTYPE_I32: assert_memory_equal(p, i32, sizeof i32); break;
        case AVF_DTYPE_I8: assert_int_equal(((const int8_t *)p)[1], -2); break;
        case AVF_DTYPE_I16: assert_int_equal(((const int16_t *)p)[1], -2); break;
        case AVF_DTYPE_U8: assert_int_equal(p[2], 3); break;
        case AVF_DTYPE_BOOL: assert_int_equal(p[1], 1); break;
        case AVF_DTYPE_F16:
        case AVF_DTYPE_BF16: assert_int_equal(((const uint16_t *)p)[2], 3); break;
        case AVF_DTYPE_U16: assert_int_equal(((const uint16_t *)p)[1], 0xfffe); break;
        case AVF_DTYPE_U32: assert_int_equal(((const uint32_t *)p)[1], 0xfffffffeu); break;
        case AVF_DTYPE_U64: assert_memory_equal(p, u64, sizeof u64); break;
        default: fail();
        }
    }
    avf_graph_free(gr);

    /* a typed field with the wrong count, and an unsupported dtype */
    Onnx__GraphProto *g2 = graph("bad");
    Onnx__TensorProto *t = tensor_raw("short", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d3, NULL, 0);
    t->n_float_data = 2;
    t->float_data = (float *)f32;
    PUSH(g2->initializer, g2->n_initializer, t);
    expect_fail(model(g2, 13), AVF_ERR_CORRUPT, (const char *const[]){"short", "float_data", NULL});
    Onnx__GraphProto *g3 = graph("str");
    PUSH(g3->initializer, g3->n_initializer,
         tensor_raw("names", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, 1, d3, NULL, 0));
    expect_fail(model(g3, 13), AVF_ERR_UNSUPPORTED, (const char *const[]){"names", "string", NULL});
}

/* Values of types avflow has no tensors for are refused at load, naming the
 * node that makes or reads them and what is missing. */
static void test_unsupported_value_types(void **state) {
    Onnx__GraphProto *g = graph("str");
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL));
    Onnx__NodeProto *n = node(g, "Cast", "to_str", "X", NULL, "S");
    Onnx__AttributeProto *to = attr(n, "to", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    to->has_i = 1;
    to->i = ONNX__TENSOR_PROTO__DATA_TYPE__STRING;
    PUSH(g->output, g->n_output, vi("S", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, -1, NULL, NULL));
    expect_fail(model(g, 13), AVF_ERR_UNSUPPORTED,
                (const char *const[]){"value 'S'", "output of node 'to_str' (Cast)", "string",
                                      NULL});
    Onnx__GraphProto *g2 = graph("seq");
    Onnx__ValueInfoProto *in = vi("L", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL);
    Onnx__TypeProto__Sequence *seq = tmem(sizeof *seq);
    onnx__type_proto__sequence__init(seq);
    in->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    in->type->sequence_type = seq;
    PUSH(g2->input, g2->n_input, in);
    node(g2, "Identity", "id", "L", NULL, "Y");
    PUSH(g2->output, g2->n_output, vi("Y", -1, -1, NULL, NULL));
    expect_fail(model(g2, 13), AVF_ERR_UNSUPPORTED,
                (const char *const[]){"value 'L'", "input of node 'id' (Identity)", "sequence",
                                      NULL});
}

static void test_symbolic_dims(void **state) {
    Onnx__GraphProto *g = graph("sym");
    const int64_t dims[] = {-1, 3, -1};
    const char *const params[] = {"batch", NULL, NULL};
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, 3, dims, params));
    PUSH(g->output, g->n_output, vi("Y", -1, -1, NULL, NULL));
    node(g, "Relu", "r", "X", NULL, "Y");
    avf_model *m = NULL;
    assert_avf_ok(load_model(model(g, 14), 0, &m));
    avf_model_value_info v;
    assert_avf_ok(avf_model_input_info(m, 0, &v));
    assert_int_equal(v.dtype, AVF_DTYPE_F16);
    assert_int_equal(v.ndim, 3);
    assert_int_equal(v.dims[0], -1);
    assert_string_equal(v.dim_names[0], "batch");
    assert_int_equal(v.dims[1], 3);
    assert_null(v.dim_names[1]);
    assert_int_equal(v.dims[2], -1);
    assert_null(v.dim_names[2]);
    assert_avf_ok(avf_model_output_info(m, 0, &v));
    assert_false(v.has_dtype);
    assert_int_equal(v.ndim, -1);
    avf_model_free(m);
}

/* If(cond) then Y = X + one (one defined in the outer graph) else Y = X. */
static Onnx__ModelProto *if_model(void) {
    Onnx__GraphProto *g = graph("main");
    PUSH(g->input, g->n_input, vi("cond", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL, NULL));
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL));
    PUSH(g->output, g->n_output, vi("Y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL));
    PUSH(g->initializer, g->n_initializer,
         tensor_raw("one", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, w6, 4));
    Onnx__GraphProto *then_g = graph("then");
    node(then_g, "Add", "then_add", "X", "one", "t_out");
    PUSH(then_g->output, then_g->n_output, vi("t_out", -1, -1, NULL, NULL));
    Onnx__GraphProto *else_g = graph("else");
    node(else_g, "Identity", "else_id", "X", NULL, "e_out");
    PUSH(else_g->output, else_g->n_output, vi("e_out", -1, -1, NULL, NULL));
    Onnx__NodeProto *n = node(g, "If", "if0", "cond", NULL, "Y");
    attr_graph(n, "then_branch", then_g);
    attr_graph(n, "else_branch", else_g);
    return model(g, 16);
}

static void test_if_subgraphs(void **state) {
    avf_model *m = NULL;
    assert_avf_ok(load_model(if_model(), 0, &m));
    avf_model_summary s;
    assert_avf_ok(avf_model_get_summary(m, &s));
    assert_int_equal(s.n_nodes, 3);
    assert_int_equal(s.n_subgraphs, 2);
    avf_model_free(m);

    size_t len;
    uint8_t *buf = pack(if_model(), &len);
    avf_graph *g = NULL;
    assert_avf_ok(avf_onnx_load_memory(buf, len, NULL, &g));
    assert_int_equal(g->n_nodes, 1);
    const avf_graph_node *n = &g->nodes[0];
    /* the If reads X and one through its branches */
    assert_int_equal(n->n_implicit, 2);
    const avf_graph *then_g = avf_graph_node_attr(n, "then_branch")->g;
    assert_non_null(then_g);
    assert_ptr_equal(then_g->parent, g);
    assert_int_equal(then_g->depth, 1);
    int x = avf_graph_find_value(then_g, "X");
    assert_true(x >= 0);
    assert_int_equal(then_g->values[x].kind, AVF_VALUE_OUTER);
    assert_int_equal(then_g->values[x].outer, avf_graph_find_value(g, "X"));
    assert_int_equal(then_g->values[x].dtype, AVF_DTYPE_F32);
    avf_graph_free(g);
}

/* ------------------------------------------------------------ external data */

static char tmpdir[64];

static void write_file(const char *name, const void *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static Onnx__ModelProto *external_model(const char *loc, const char *offset, const char *length) {
    Onnx__GraphProto *g = graph("ext");
    Onnx__TensorProto *t = tensor_raw("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL, 0);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *keys[] = {"location", "offset", "length"};
    const char *vals[] = {loc, offset, length};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        Onnx__StringStringEntryProto *e = tmem(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = tstr(keys[i]);
        e->value = tstr(vals[i]);
        PUSH(t->external_data, t->n_external_data, e);
    }
    PUSH(g->initializer, g->n_initializer, t);
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d23, NULL));
    PUSH(g->output, g->n_output, vi("Y", -1, -1, NULL, NULL));
    node(g, "Mul", "mul0", "X", "W", "Y");
    return model(g, 13);
}

static avf_status load_ext(const char *loc, const char *offset, const char *length) {
    size_t len;
    uint8_t *buf = pack(external_model(loc, offset, length), &len);
    write_file("model.onnx", buf, len);
    char path[256];
    snprintf(path, sizeof path, "%s/model.onnx", tmpdir);
    avf_model *m = NULL;
    avf_clear_error();
    avf_status st = avf_model_load(path, NULL, &m);
    if (st == AVF_OK) {
        avf_model_summary s;
        assert_avf_ok(avf_model_get_summary(m, &s));
        assert_int_equal(s.param_bytes, 24);
        avf_model_free(m);
    }
    return st;
}

static void test_external_data(void **state) {
    strcpy(tmpdir, "/tmp/avf_onnx_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    uint8_t blob[8 + 24];
    memset(blob, 0xee, 8);
    memcpy(blob + 8, w6, 24);
    write_file("w.bin", blob, sizeof blob);
    write_file("sub/w.bin", blob, sizeof blob);

    assert_avf_ok(load_ext("w.bin", "8", "24"));
    assert_avf_ok(load_ext("w.bin", "8", NULL)); /* length: to the end */
    assert_avf_ok(load_ext("sub/w.bin", "8", "24"));
    assert_int_equal(load_ext("./sub/../sub/w.bin", "8", "24"), AVF_ERR_CORRUPT);
    assert_int_equal(load_ext("../w.bin", "8", "24"), AVF_ERR_CORRUPT);
    assert_non_null(strstr(avf_last_error(), "leaves the model directory"));
    assert_int_equal(load_ext("sub/../../etc/passwd", NULL, NULL), AVF_ERR_CORRUPT);
    assert_int_equal(load_ext("/etc/passwd", NULL, NULL), AVF_ERR_CORRUPT);
    assert_non_null(strstr(avf_last_error(), "absolute"));
    assert_int_equal(load_ext("w.bin", "1000", "24"), AVF_ERR_CORRUPT);
    assert_non_null(strstr(avf_last_error(), "outside"));
    assert_int_equal(load_ext("w.bin", "16", "24"), AVF_ERR_CORRUPT); /* runs past the end */
    assert_int_equal(load_ext("w.bin", "0", "16"), AVF_ERR_CORRUPT);  /* wrong length */
    assert_int_equal(load_ext("w.bin", "-8", "24"), AVF_ERR_CORRUPT);
    assert_int_equal(load_ext("w.bin", "99999999999999999999999", "24"), AVF_ERR_CORRUPT);
    assert_int_equal(load_ext("missing.bin", NULL, NULL), AVF_ERR_NOT_FOUND);
    assert_int_equal(load_ext("", NULL, NULL), AVF_ERR_CORRUPT);
    assert_int_equal(load_ext("sub", NULL, NULL), AVF_ERR_IO); /* a directory */

    /* From memory: rejected without a directory, found with one. */
    size_t len;
    uint8_t *buf = pack(external_model("w.bin", "8", "24"), &len);
    avf_model *m = NULL;
    assert_avf_fails(avf_model_load_memory(buf, len, NULL, &m), AVF_ERR_INVALID_ARG);
    avf_model_options o = {.external_data_dir = tmpdir};
    assert_avf_ok(avf_model_load_memory(buf, len, &o, &m));
    avf_model_free(m);

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------------ bad input */

static void test_truncated_and_flipped(void **state) {
    size_t len;
    uint8_t *good = pack(if_model(), &len);
    uint8_t *buf = tmem(len);
    int ok = 0;
    for (size_t n = 0; n < len; n++) {
        memcpy(buf, good, n);
        avf_model *m = NULL;
        if (avf_model_load_memory(buf, n, NULL, &m) == AVF_OK)
            ok++;
        else
            assert_true(avf_last_error()[0] != '\0');
        avf_model_free(m);
    }
    print_message("truncated: %zu prefixes, %d loaded\n", len, ok);
    /* flips: a fixed LCG so failures reproduce */
    uint32_t seed = 12345;
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, good, len);
        int flips = 1 + it % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[pos] ^= (uint8_t)(1u << ((seed >> 16) % 8));
        }
        avf_model *m = NULL;
        (void)avf_model_load_memory(buf, len, NULL, &m);
        avf_model_free(m);
    }
    avf_model *m = NULL;
    assert_avf_fails(avf_model_load_memory(good, 0, NULL, &m), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_model_load_memory(NULL, 5, NULL, &m), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_model_load_memory(good, len, NULL, NULL), AVF_ERR_INVALID_ARG);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_avf_fails(avf_model_load_memory(junk, sizeof junk, NULL, &m), AVF_ERR_CORRUPT);
    avf_model_options small = {.max_file_bytes = 16};
    assert_avf_fails(avf_model_load_memory(good, len, &small, &m), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_model_load("/nonexistent/model.onnx", NULL, &m), AVF_ERR_NOT_FOUND);
}

static void test_unsupported_op_and_attrs(void **state) {
    Onnx__ModelProto *m1 = tiny_model();
    m1->graph->node[0]->op_type = tstr("Foo");
    m1->graph->node[0]->name = tstr("n7");
    expect_fail(m1, AVF_ERR_UNSUPPORTED,
                (const char *const[]){"node 'n7' (Foo)", "unsupported op 'Foo'",
                                      "domain 'ai.onnx', opset 17", NULL});
    Onnx__ModelProto *m2 = tiny_model();
    attr(m2->graph->node[0], "bogus", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    expect_fail(m2, AVF_ERR_UNSUPPORTED,
                (const char *const[]){"node 'add0' (Add): unsupported attribute 'bogus'", NULL});
    /* an attribute value outside what avflow implements */
    Onnx__GraphProto *g = graph("rs");
    PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL));
    PUSH(g->input, g->n_input, vi("S", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL));
    PUSH(g->output, g->n_output, vi("Y", -1, -1, NULL, NULL));
    Onnx__NodeProto *n = node(g, "Resize", "up", "X", "", "Y");
    PUSH(n->input, n->n_input, tstr("S"));
    attr_str(n, "mode", "linear");
    Onnx__AttributeProto *aa = attr(n, "antialias", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    aa->has_i = 1;
    aa->i = 1;
    expect_fail(model(g, 18), AVF_ERR_UNSUPPORTED,
                (const char *const[]){"node 'up' (Resize)", "antialias=1", NULL});
    /* wrong attribute type */
    Onnx__ModelProto *m3 = tiny_model();
    m3->graph->node[0]->op_type = tstr("Softmax");
    m3->graph->node[0]->n_input = 1;
    attr(m3->graph->node[0], "axis", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    expect_fail(m3, AVF_ERR_UNSUPPORTED,
                (const char *const[]){"attribute 'axis' must be int, is float", NULL});
    /* an op newer than the model's opset */
    Onnx__ModelProto *m4 = tiny_model();
    m4->graph->node[0]->op_type = tstr("Gelu");
    m4->graph->node[0]->n_input = 1;
    expect_fail(m4, AVF_ERR_UNSUPPORTED, (const char *const[]){"'Gelu'", "opset 17", NULL});
    /* a foreign domain */
    Onnx__ModelProto *m5 = tiny_model();
    m5->graph->node[0]->domain = tstr("com.microsoft");
    expect_fail(m5, AVF_ERR_UNSUPPORTED, (const char *const[]){"domain 'com.microsoft'", NULL});
    /* wrong input count */
    Onnx__ModelProto *m6 = tiny_model();
    m6->graph->node[0]->n_input = 1;
    expect_fail(m6, AVF_ERR_UNSUPPORTED, (const char *const[]){"inputs, has 1", NULL});

    /* with ALLOW_UNSUPPORTED the model loads and says what is missing */
    avf_model *m = NULL;
    assert_avf_ok(load_model(m1, AVF_MODEL_ALLOW_UNSUPPORTED, &m));
    avf_model_summary s;
    assert_avf_ok(avf_model_get_summary(m, &s));
    assert_int_equal(s.n_unsupported, 1);
    assert_int_equal(s.ops[0].unsupported, 1);
    assert_non_null(strstr(s.ops[0].reason, "unsupported op 'Foo'"));
    avf_model_free(m);
}

static void test_opsets(void **state) {
    Onnx__ModelProto *m = tiny_model();
    m->opset_import[0]->version = 6;
    expect_fail(m, AVF_ERR_UNSUPPORTED, (const char *const[]){"opset 6", NULL});
    m->opset_import[0]->version = 22;
    expect_fail(m, AVF_ERR_UNSUPPORTED, (const char *const[]){"opset 22", NULL});
    m->opset_import[0]->domain = tstr("ai.onnx");
    m->opset_import[0]->version = 7;
    avf_model *mod = NULL;
    assert_avf_ok(load_model(m, 0, &mod));
    avf_model_free(mod);
    m->n_opset_import = 0;
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"no opset", NULL});
}

static void test_bounds(void **state) {
    const int64_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float one = 1;
    Onnx__ModelProto *m = tiny_model();
    m->graph->initializer[0] =
        tensor_raw("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 9, d9, &one, 4);
    expect_fail(m, AVF_ERR_UNSUPPORTED, (const char *const[]){"tensor 'W'", "9 dims", NULL});
    m = tiny_model();
    m->graph->input[0] = vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 9, d9, NULL);
    expect_fail(m, AVF_ERR_UNSUPPORTED, (const char *const[]){"value 'X'", "9 dims", NULL});
    m = tiny_model();
    m->graph->initializer[0]->raw_data.len = 20;
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"raw_data has 20 bytes", NULL});
    const int64_t neg[] = {2, -3};
    m = tiny_model();
    memcpy(m->graph->initializer[0]->dims, neg, sizeof neg);
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"invalid shape", NULL});
    const int64_t huge[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    memcpy(m->graph->initializer[0]->dims, huge, sizeof huge);
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"invalid shape", NULL});
    /* empty, but with dims whose product overflows strides (found by fuzzing) */
    const int64_t empty_huge[] = {(int64_t)1 << 40, (int64_t)1 << 40, 0};
    m = tiny_model();
    m->graph->initializer[0] =
        tensor_raw("E", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, empty_huge, NULL, 0);
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"tensor 'E'", "2^48", NULL});
    /* a typed tensor claiming far more values than it holds: refused before
     * any allocation */
    const int64_t big[] = {(int64_t)1 << 46};
    m = tiny_model();
    m->graph->initializer[0] = tensor_raw("B", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, big, NULL, 0);
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"tensor 'B'", "float_data", NULL});
    /* structure errors */
    m = tiny_model();
    m->graph->node[0]->input[1] = tstr("nowhere");
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"input 'nowhere'", NULL});
    m = tiny_model();
    m->graph->output[0]->name = tstr("nothing");
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"output 'nothing'", NULL});
    m = tiny_model();
    node(m->graph, "Relu", "dup", "X", NULL, "Y");
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"'Y'", "already defined", NULL});
    /* a cycle: A reads B's output, B reads A's */
    Onnx__GraphProto *g = graph("cyc");
    PUSH(g->output, g->n_output, vi("a", -1, -1, NULL, NULL));
    node(g, "Relu", "A", "b", NULL, "a");
    node(g, "Relu", "B", "a", NULL, "b");
    expect_fail(model(g, 13), AVF_ERR_CORRUPT, (const char *const[]){"cycle", NULL});
    m = tiny_model();
    m->graph = NULL;
    expect_fail(m, AVF_ERR_CORRUPT, (const char *const[]){"no graph", NULL});
}

/* 17 levels of If inside If: past AVF_GRAPH_MAX_DEPTH. */
static void test_subgraph_depth(void **state) {
    /* else branches are flat, so the file grows linearly with depth */
    Onnx__GraphProto *flat = graph("flat");
    node(flat, "Identity", "fid", "X", NULL, "fout");
    PUSH(flat->output, flat->n_output, vi("fout", -1, -1, NULL, NULL));
    for (int levels = 16; levels <= 17; levels++) {
        Onnx__GraphProto *inner = graph("leaf");
        node(inner, "Identity", "id", "X", NULL, "out0");
        PUSH(inner->output, inner->n_output, vi("out0", -1, -1, NULL, NULL));
        for (int l = 1; l < levels; l++) {
            Onnx__GraphProto *g = graph("mid");
            char out[16];
            snprintf(out, sizeof out, "out%d", l);
            Onnx__NodeProto *n = node(g, "If", "if", "cond", NULL, out);
            attr_graph(n, "then_branch", inner);
            attr_graph(n, "else_branch", flat);
            PUSH(g->output, g->n_output, vi(out, -1, -1, NULL, NULL));
            inner = g;
        }
        Onnx__GraphProto *g = graph("main");
        PUSH(g->input, g->n_input, vi("cond", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 0, NULL, NULL));
        PUSH(g->input, g->n_input, vi("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL));
        Onnx__NodeProto *n = node(g, "If", "top", "cond", NULL, "Y");
        attr_graph(n, "then_branch", inner);
        attr_graph(n, "else_branch", flat);
        PUSH(g->output, g->n_output, vi("Y", -1, -1, NULL, NULL));
        if (levels == 16) {
            avf_model *m = NULL;
            assert_avf_ok(load_model(model(g, 13), 0, &m));
            avf_model_free(m);
        } else {
            expect_fail(model(g, 13), AVF_ERR_UNSUPPORTED,
                        (const char *const[]){"nested deeper than 16", NULL});
        }
    }
}

/* Wire bytes nesting Graph > Node > Attribute > Graph ... far deeper than any
 * model: must be refused before protobuf-c recurses into it. */
static void test_wire_nesting(void **state) {
    const int levels = 2000;
    size_t cap = (size_t)levels * 3 * 6 + 16;
    uint8_t *a = tmem(cap), *b = tmem(cap);
    size_t n = 0;
    for (int l = 0; l < levels * 3; l++) {
        /* innermost first: AttributeProto.g=6, NodeProto.attribute=5,
         * GraphProto.node=1 */
        static const uint8_t tags[] = {0x32, 0x2a, 0x0a};
        size_t k = 0;
        b[k++] = tags[l % 3];
        size_t v = n;
        do {
            b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        memcpy(b + k, a, n);
        n += k;
        uint8_t *t = a;
        a = b;
        b = t;
    }
    /* ModelProto.graph = 7 */
    b[0] = 0x3a;
    size_t k = 1, v = n;
    do {
        b[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(b + k, a, n);
    avf_model *m = NULL;
    assert_avf_fails(avf_model_load_memory(b, n + k, NULL, &m), AVF_ERR_CORRUPT);
    assert_non_null(strstr(avf_last_error(), "nested deeper"));
}

/* The real models of scripts/fetch-models.sh load with every op supported;
 * skipped when they have not been fetched (CI does not fetch them). */
static void test_real_models(void **state) {
    static const struct {
        const char *file, *input;
        int n_inputs, n_outputs;
    } models[] = {
        {"silero_vad.onnx", "input", 3, 2},
        {"ppocr_v4_det.onnx", "x", 1, 1},
        {"ppocr_v4_rec.onnx", "x", 1, 1},
        {"ppocr_mobile_v2_cls.onnx", "x", 1, 1},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/%s", AVF_SOURCE_DIR, models[i].file);
        if (access(path, R_OK) != 0)
            continue;
        found++;
        avf_model *m = NULL;
        assert_avf_ok(avf_model_load(path, NULL, &m));
        assert_int_equal(avf_model_num_inputs(m), models[i].n_inputs);
        assert_int_equal(avf_model_num_outputs(m), models[i].n_outputs);
        avf_model_value_info v;
        assert_avf_ok(avf_model_input_info(m, 0, &v));
        assert_string_equal(v.name, models[i].input);
        avf_model_summary s;
        assert_avf_ok(avf_model_get_summary(m, &s));
        assert_int_equal(s.n_unsupported, 0);
        assert_true(s.param_count > 100000);
        avf_model_free(m);
    }
    if (!found) {
        print_message("[  SKIP    ] models/ not fetched (scripts/fetch-models.sh)\n");
        skip();
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tiny_model, teardown),
        cmocka_unit_test_teardown(test_initializer_dtypes, teardown),
        cmocka_unit_test_teardown(test_unsupported_value_types, teardown),
        cmocka_unit_test_teardown(test_symbolic_dims, teardown),
        cmocka_unit_test_teardown(test_if_subgraphs, teardown),
        cmocka_unit_test_teardown(test_external_data, teardown),
        cmocka_unit_test_teardown(test_truncated_and_flipped, teardown),
        cmocka_unit_test_teardown(test_unsupported_op_and_attrs, teardown),
        cmocka_unit_test_teardown(test_opsets, teardown),
        cmocka_unit_test_teardown(test_bounds, teardown),
        cmocka_unit_test_teardown(test_subgraph_depth, teardown),
        cmocka_unit_test_teardown(test_wire_nesting, teardown),
        cmocka_unit_test_teardown(test_real_models, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
