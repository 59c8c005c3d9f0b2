/* The executor's op registry: every family's table, searched by op type. */
#include <string.h>

#include "core/error.h"
#include "graph/exec_op.h"
#include "graph/passes/passes.h"

static const avf_exec_op *const *const avf_exec_families[] = {
    avf_exec_ops_elementwise, avf_exec_ops_reduce, avf_exec_ops_conv,
    avf_exec_ops_matmul,      avf_exec_ops_data,   avf_exec_ops_control,
};

/* The internal domain's ops (src/graph/exec/fused.c): the nodes the graph
 * passes create, looked up only under AVF_DOMAIN_INTERNAL. */
extern const avf_exec_op *const avf_exec_ops_fused[];

const avf_exec_op *avf_exec_find(const char *domain, const char *op_type) {
    if (op_type && domain && strcmp(domain, AVF_DOMAIN_INTERNAL) == 0) {
        for (const avf_exec_op *const *op = avf_exec_ops_fused; *op; op++)
            if (strcmp((*op)->op_type, op_type) == 0)
                return *op;
        return NULL;
    }
    if (!op_type || (domain && domain[0] && strcmp(domain, "ai.onnx") != 0))
        return NULL;
    for (size_t f = 0; f < sizeof avf_exec_families / sizeof avf_exec_families[0]; f++)
        for (const avf_exec_op *const *op = avf_exec_families[f]; *op; op++)
            if (strcmp((*op)->op_type, op_type) == 0)
                return *op;
    return NULL;
}

static const avf_graph_attr *attr_of(const avf_graph_node *n, const char *name,
                                     avf_attr_type want, avf_status *st) {
    const avf_graph_attr *a = avf_graph_node_attr(n, name);
    *st = AVF_OK;
    if (a && a->type != want) {
        *st = AVF_FAIL(AVF_ERR_CORRUPT, "node '%s' (%s): attribute '%s' is %s, expected %s",
                       n->name, n->op_type, name, avf_attr_type_name(a->type),
                       avf_attr_type_name(want));
        return NULL;
    }
    return a;
}

avf_status avf_exec_attr_int(const avf_graph_node *n, const char *name, int64_t def, int64_t *out) {
    avf_status st;
    const avf_graph_attr *a = attr_of(n, name, AVF_ATTR_INT, &st);
    AVF_TRY(st);
    *out = a ? a->i : def;
    return AVF_OK;
}

avf_status avf_exec_attr_float(const avf_graph_node *n, const char *name, float def, float *out) {
    avf_status st;
    const avf_graph_attr *a = attr_of(n, name, AVF_ATTR_FLOAT, &st);
    AVF_TRY(st);
    *out = a ? a->f : def;
    return AVF_OK;
}

avf_status avf_exec_attr_ints(const avf_graph_node *n, const char *name, int64_t *out, int cap,
                              int *count) {
    avf_status st;
    const avf_graph_attr *a = attr_of(n, name, AVF_ATTR_INTS, &st);
    AVF_TRY(st);
    if (!a) {
        *count = -1;
        return AVF_OK;
    }
    if (a->n > cap)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has %d values (at most %d)",
                        n->name, n->op_type, name, a->n, cap);
    memcpy(out, a->ints, (size_t)a->n * sizeof *out);
    *count = a->n;
    return AVF_OK;
}

avf_status avf_exec_attr_string(const avf_graph_node *n, const char *name, const char *def,
                                const char **out) {
    avf_status st;
    const avf_graph_attr *a = attr_of(n, name, AVF_ATTR_STRING, &st);
    AVF_TRY(st);
    *out = a ? a->s : def;
    return AVF_OK;
}

avf_status avf_exec_host_ints(const avf_tensor *t, const char *what, int64_t *out, int cap,
                              int *count) {
    if (!t)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: missing", what);
    if (avf_device_get_kind(t->device) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INTERNAL, "%s: not a host tensor", what);
    if (t->ndim > 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: rank %d, expected a scalar or a vector", what,
                        t->ndim);
    int64_t n = avf_tensor_numel(t);
    if (n > cap)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: %lld values (at most %d)", what, (long long)n, cap);
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == AVF_DTYPE_I64)
            out[i] = ((const int64_t *)t->data)[i];
        else if (t->dtype == AVF_DTYPE_I32)
            out[i] = ((const int32_t *)t->data)[i];
        else
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: dtype %s, expected i64 or i32", what,
                            avf_dtype_name(t->dtype));
    }
    *count = (int)n;
    return AVF_OK;
}
