/* avf_model: a loaded graph plus the summary computed once at load. */
#include "avflow/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/exec.h"
#include "graph/graph.h"
#include "graph/onnx.h"
#include "graph/op_registry.h"
#include "graph/passes/passes.h"

struct avf_model {
    avf_graph *graph;
    avf_model_summary summary;
    avf_model_op_count *ops;
    avf_model_opset *opsets;
    avf_exec_model *exec; /* compiled at the first run; shared by all runs */
};

typedef struct summary_ctx {
    avf_model *m;
    int cap;
    avf_status st;
} summary_ctx;

static avf_status count_node(avf_graph *g, avf_graph_node *n, void *arg) {
    summary_ctx *cx = arg;
    avf_model *m = cx->m;
    avf_model_summary *s = &m->summary;
    s->n_nodes++;
    for (int a = 0; a < n->n_attrs; a++) {
        if (n->attrs[a].g) {
            s->n_subgraphs++;
            s->n_initializers += n->attrs[a].g->n_inits;
        }
        if (n->attrs[a].t)
            s->n_constants++;
    }
    if (!n->supported)
        s->n_unsupported++;
    for (int i = 0; i < s->n_op_types; i++) {
        avf_model_op_count *c = &m->ops[i];
        if (strcmp(c->op_type, n->op_type) == 0 && strcmp(c->domain, n->domain) == 0) {
            c->count++;
            if (!n->supported && !c->unsupported++)
                c->reason = n->unsupported;
            return AVF_OK;
        }
    }
    if (s->n_op_types == cx->cap) {
        int cap = cx->cap ? cx->cap * 2 : 32;
        avf_model_op_count *p = realloc(m->ops, (size_t)cap * sizeof *p);
        if (!p)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "model: out of memory");
        m->ops = p;
        cx->cap = cap;
    }
    /* Strings point into the graph, which lives as long as the model. */
    m->ops[s->n_op_types++] = (avf_model_op_count){
        n->op_type, n->domain, 1, n->supported ? 0 : 1, n->supported ? NULL : n->unsupported};
    return AVF_OK;
}

static int by_count(const void *a, const void *b) {
    const avf_model_op_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->op_type, y->op_type);
}

static avf_status summarize(avf_model *m) {
    avf_graph *g = m->graph;
    avf_model_summary *s = &m->summary;
    s->ir_version = g->ir_version;
    s->producer = g->producer ? g->producer : "";
    s->n_initializers = g->n_inits;
    if (g->n_opsets && !(m->opsets = calloc((size_t)g->n_opsets, sizeof *m->opsets)))
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "model: out of memory");
    for (int i = 0; i < g->n_opsets; i++)
        m->opsets[i] = (avf_model_opset){g->opsets[i].domain, g->opsets[i].version};
    s->n_opsets = g->n_opsets;
    s->opsets = m->opsets;
    summary_ctx cx = {m, 0, AVF_OK};
    AVF_TRY(avf_graph_visit(g, count_node, &cx));
    if (s->n_op_types > 1)
        qsort(m->ops, (size_t)s->n_op_types, sizeof *m->ops, by_count);
    s->ops = m->ops;
    avf_graph_param_totals(g, &s->param_count, &s->param_bytes);
    return AVF_OK;
}

static avf_status finish(avf_graph *g, const avf_model_options *opts, avf_model **out) {
    int strict = !(opts && (opts->flags & AVF_MODEL_ALLOW_UNSUPPORTED));
    avf_status st = avf_op_check_graph(g, strict, NULL);
    /* rewrite passes (graph/passes): fewer nodes, same outputs */
    if (st == AVF_OK && !(opts && (opts->flags & AVF_MODEL_NO_OPTIMIZE))) {
        st = avf_graph_optimize(g, NULL);
        if (st == AVF_OK)
            avf_clear_error();
    }
    avf_model *m = NULL;
    if (st == AVF_OK && !(m = calloc(1, sizeof *m)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "model: out of memory");
    if (st != AVF_OK) {
        avf_graph_free(g);
        return st;
    }
    m->graph = g;
    if ((st = summarize(m)) != AVF_OK || (st = avf_exec_model_create(g, &m->exec)) != AVF_OK) {
        avf_model_free(m);
        return st;
    }
    *out = m;
    return AVF_OK;
}

static avf_onnx_options onnx_opts(const avf_model_options *opts) {
    avf_onnx_options o = {0};
    if (opts) {
        o.base_dir = opts->external_data_dir;
        o.max_file_bytes = opts->max_file_bytes;
    }
    return o;
}

avf_status avf_model_load(const char *path, const avf_model_options *opts, avf_model **out) {
    AVF_CHECK_ARG(out);
    *out = NULL;
    AVF_CHECK_ARG(path);
    avf_onnx_options o = onnx_opts(opts);
    avf_graph *g = NULL;
    AVF_TRY(avf_onnx_load_file(path, &o, &g));
    return finish(g, opts, out);
}

avf_status avf_model_load_memory(const void *data, size_t len, const avf_model_options *opts,
                                 avf_model **out) {
    AVF_CHECK_ARG(out);
    *out = NULL;
    AVF_CHECK_ARG(data || len == 0);
    avf_onnx_options o = onnx_opts(opts);
    avf_graph *g = NULL;
    AVF_TRY(avf_onnx_load_memory(data, len, &o, &g));
    return finish(g, opts, out);
}

void avf_model_free(avf_model *m) {
    if (!m)
        return;
    avf_exec_model_free(m->exec);
    avf_graph_free(m->graph);
    free(m->ops);
    free(m->opsets);
    free(m);
}

int avf_model_num_inputs(const avf_model *m) { return m ? m->graph->n_inputs : 0; }
int avf_model_num_outputs(const avf_model *m) { return m ? m->graph->n_outputs : 0; }

static void fill_info(const avf_graph_value *v, avf_model_value_info *info) {
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->has_dtype = v->has_dtype;
    info->dtype = v->dtype;
    info->ndim = v->ndim;
    for (int d = 0; d < AVF_MAX_DIMS; d++) {
        info->dims[d] = v->dims[d];
        info->dim_names[d] = v->dim_names[d];
    }
}

avf_status avf_model_input_info(const avf_model *m, int i, avf_model_value_info *info) {
    AVF_CHECK_ARG(m && info);
    if (i < 0 || i >= m->graph->n_inputs)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "model input %d out of range (%d inputs)", i,
                        m->graph->n_inputs);
    fill_info(&m->graph->values[m->graph->inputs[i]], info);
    return AVF_OK;
}

avf_status avf_model_output_info(const avf_model *m, int i, avf_model_value_info *info) {
    AVF_CHECK_ARG(m && info);
    if (i < 0 || i >= m->graph->n_outputs)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "model output %d out of range (%d outputs)", i,
                        m->graph->n_outputs);
    fill_info(&m->graph->values[m->graph->outputs[i]], info);
    return AVF_OK;
}

avf_status avf_model_get_summary(const avf_model *m, avf_model_summary *out) {
    AVF_CHECK_ARG(m && out);
    *out = m->summary;
    return AVF_OK;
}

avf_status avf_model_run(const avf_model *m, const avf_run_options *opts, int n_inputs,
                         const char *const *input_names, const avf_tensor *inputs,
                         int n_outputs, const char *const *output_names, avf_tensor *outputs) {
    if (outputs && n_outputs > 0)
        memset(outputs, 0, (size_t)n_outputs * sizeof *outputs);
    AVF_CHECK_ARG(m != NULL && opts != NULL);
    return avf_exec_model_run(m->exec, opts, n_inputs, input_names, inputs, n_outputs,
                              output_names, outputs);
}

avf_status avf_model_get_plan_stats(const avf_model *m, const avf_device *dev,
                                    avf_model_plan_stats *out) {
    AVF_CHECK_ARG(m != NULL && out != NULL);
    return avf_exec_model_plan_stats(m->exec, dev, out);
}
