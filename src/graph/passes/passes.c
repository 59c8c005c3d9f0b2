/* The pass driver (see passes.h): each graph, main graph first, then its
 * subgraphs, through every pass in order; a pass's dead nodes are dropped
 * and the graph re-sorted before the next one runs. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "avflow/log.h"
#include "core/error.h"
#include "graph/passes/passes.h"

typedef struct pass_def {
    const char *name;
    avf_status (*run)(avf_pass *p, int *count);
    size_t stat; /* offset of its counter in avf_pass_stats */
} pass_def;

/* Order matters: constants first (later passes read them as initializers),
 * pass-through nodes next (x*1 hides the Swish after a Conv), the affine
 * folds before activations (a BN sits between Conv and its activation),
 * activations before the epilogue absorbs them. */
static const pass_def passes[] = {
    {"constants", avf_pass_constants, offsetof(avf_pass_stats, constants)},
    {"fold", avf_pass_fold, offsetof(avf_pass_stats, folded)},
    /* an inlined branch brings Constant nodes and foldable nodes along */
    {"inline_if", avf_pass_inline_if, offsetof(avf_pass_stats, ifs_inlined)},
    {"constants", avf_pass_constants, offsetof(avf_pass_stats, constants)},
    {"fold", avf_pass_fold, offsetof(avf_pass_stats, folded)},
    {"identities", avf_pass_identities, offsetof(avf_pass_stats, identities)},
    {"layernorm", avf_pass_layernorm, offsetof(avf_pass_stats, layernorms)},
    {"magnitude", avf_pass_magnitude, offsetof(avf_pass_stats, magnitudes)},
    {"conv_affine", avf_pass_conv_affine, offsetof(avf_pass_stats, conv_affine)},
    {"acts", avf_pass_acts, offsetof(avf_pass_stats, acts)},
    {"conv_act", avf_pass_conv_act, offsetof(avf_pass_stats, conv_act)},
    {"matmul_bias", avf_pass_matmul_bias, offsetof(avf_pass_stats, matmul_bias)},
    {"epilogue", avf_pass_epilogue, offsetof(avf_pass_stats, epilogue)},
};

static int64_t count_nodes(const avf_graph *g) {
    int64_t n = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g)
                n += count_nodes(g->nodes[i].attrs[a].g);
    return n;
}

/* At trace level, the rewritten graph node by node (what runs). */
static void trace_graph(const avf_graph *g) {
    if ((int)avf_log_get_level() < (int)AVF_LOG_TRACE)
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        const avf_graph_node *n = &g->nodes[i];
        char buf[512];
        int k = snprintf(buf, sizeof buf, "%s%s%s(", n->domain, n->domain[0] ? ":" : "",
                         n->op_type);
        for (int j = 0; j < n->n_inputs && k < (int)sizeof buf - 64; j++)
            k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%s", j ? ", " : "",
                          n->inputs[j] >= 0 ? g->values[n->inputs[j]].name : "");
        AVF_TRACE("passes: graph '%s' node %d: %s) -> %s", g->name, i, buf,
                  n->n_outputs && n->outputs[0] >= 0 ? g->values[n->outputs[0]].name : "");
    }
}

static avf_status optimize_graph(avf_graph *g, avf_pass_stats *st) {
    avf_pass p;
    AVF_TRY(avf_pass_init(&p, g));
    avf_status s = AVF_OK;
    for (size_t k = 0; k < sizeof passes / sizeof passes[0] && s == AVF_OK; k++) {
        int count = 0;
        s = passes[k].run(&p, &count);
        if (s == AVF_OK)
            s = avf_pass_compact(&p);
        if (s == AVF_OK && count) {
            *(int *)((char *)st + passes[k].stat) += count;
            AVF_DEBUG("passes: graph '%s': %s: %d rewrites", g->name, passes[k].name, count);
        }
    }
    avf_pass_release(&p);
    AVF_TRY(s);
    trace_graph(g);
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g)
                AVF_TRY(optimize_graph(g->nodes[i].attrs[a].g, st));
    return AVF_OK;
}

static int64_t count_unsupported(const avf_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        n += !g->nodes[i].supported;
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].g)
                n += count_unsupported(g->nodes[i].attrs[a].g);
    }
    return n;
}

avf_status avf_graph_optimize(avf_graph *g, avf_pass_stats *stats) {
    AVF_CHECK_ARG(g != NULL);
    avf_pass_stats st;
    memset(&st, 0, sizeof st);
    st.nodes_before = st.nodes_after = count_nodes(g);
    /* A model with nodes avflow cannot run (loaded for inspection) stays as
     * the file has it: a fused node built around an unsupported one would
     * not pass the op check, and the model cannot run anyway. */
    int64_t unsupported = count_unsupported(g);
    if (unsupported) {
        AVF_INFO("passes: graph '%s': %lld unsupported nodes, not rewritten", g->name,
                 (long long)unsupported);
        if (stats)
            *stats = st;
        return AVF_OK;
    }
    avf_status s = optimize_graph(g, &st);
    st.nodes_after = count_nodes(g);
    if (s == AVF_OK)
        AVF_INFO("passes: graph '%s': %lld -> %lld nodes (constants %d, folded %d, ifs inlined %d, "
                 "identities %d, "
                 "layernorms %d, magnitudes %d, conv affine %d, activations %d, conv+act %d, "
                 "matmul+bias %d, epilogue %d)",
                 g->name, (long long)st.nodes_before, (long long)st.nodes_after, st.constants,
                 st.folded, st.ifs_inlined, st.identities, st.layernorms, st.magnitudes,
                 st.conv_affine, st.acts, st.conv_act, st.matmul_bias, st.epilogue);
    if (stats)
        *stats = st;
    return s;
}
