/* `avflow inspect MODEL [--json]`: what a model is made of and whether avflow
 * can run it. Loads with AVF_MODEL_ALLOW_UNSUPPORTED so that an unsupported
 * model is still described, with the reason per op. */
#include <stdio.h>
#include <string.h>

#include "avflow.h"
#include "commands.h"

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_value(const avf_model_value_info *v, int json) {
    const char *dt = v->has_dtype ? avf_dtype_name(v->dtype) : "?";
    if (json) {
        printf("{\"name\": ");
        json_str(v->name);
        printf(", \"dtype\": ");
        json_str(v->has_dtype ? dt : NULL);
        if (v->ndim < 0) {
            printf(", \"shape\": null}");
            return;
        }
        printf(", \"shape\": [");
        for (int d = 0; d < v->ndim; d++) {
            printf("%s", d ? ", " : "");
            if (v->dims[d] >= 0)
                printf("%lld", (long long)v->dims[d]);
            else
                json_str(v->dim_names[d] ? v->dim_names[d] : "?");
        }
        printf("]}");
        return;
    }
    printf("  %-24s %s", v->name, dt);
    if (v->ndim < 0) {
        printf("[?]\n");
        return;
    }
    printf("[");
    for (int d = 0; d < v->ndim; d++) {
        printf("%s", d ? "," : "");
        if (v->dims[d] >= 0)
            printf("%lld", (long long)v->dims[d]);
        else
            printf("%s", v->dim_names[d] ? v->dim_names[d] : "?");
    }
    printf("]\n");
}

static void print_values(const avf_model *m, int outputs, int json) {
    int n = outputs ? avf_model_num_outputs(m) : avf_model_num_inputs(m);
    for (int i = 0; i < n; i++) {
        avf_model_value_info v;
        avf_status st = outputs ? avf_model_output_info(m, i, &v) : avf_model_input_info(m, i, &v);
        if (st != AVF_OK)
            continue;
        if (json)
            printf("%s\n    ", i ? "," : "");
        print_value(&v, json);
    }
}

/* Nodes after the load-time rewrite passes (-1: the rewritten model did
 * not load), shown next to the file's own count. */
static int64_t optimized_nodes = -1;

static void print_json(const char *path, const avf_model *m, const avf_model_summary *s) {
    printf("{\n  \"model\": ");
    json_str(path);
    printf(",\n  \"ir_version\": %lld,\n  \"producer\": ", (long long)s->ir_version);
    json_str(s->producer);
    printf(",\n  \"opsets\": {");
    for (int i = 0; i < s->n_opsets; i++) {
        printf("%s", i ? ", " : "");
        json_str(s->opsets[i].domain[0] ? s->opsets[i].domain : "ai.onnx");
        printf(": %lld", (long long)s->opsets[i].version);
    }
    printf("},\n  \"inputs\": [");
    print_values(m, 0, 1);
    printf("\n  ],\n  \"outputs\": [");
    print_values(m, 1, 1);
    printf("\n  ],\n  \"nodes\": %lld,\n  \"nodes_after_passes\": %lld,\n  \"subgraphs\": %d,"
           "\n  \"ops\": [",
           (long long)s->n_nodes, (long long)optimized_nodes, s->n_subgraphs);
    for (int i = 0; i < s->n_op_types; i++) {
        const avf_model_op_count *o = &s->ops[i];
        printf("%s\n    {\"op\": ", i ? "," : "");
        json_str(o->op_type);
        printf(", \"domain\": ");
        json_str(o->domain[0] ? o->domain : "ai.onnx");
        printf(", \"count\": %d, \"supported\": %s", o->count, o->unsupported ? "false" : "true");
        if (o->reason) {
            printf(", \"reason\": ");
            json_str(o->reason);
        }
        printf("}");
    }
    printf("\n  ],\n  \"unsupported_nodes\": %lld,\n  \"supported\": %s,\n",
           (long long)s->n_unsupported, s->n_unsupported ? "false" : "true");
    printf("  \"initializers\": %d,\n  \"constants\": %d,\n  \"parameters\": %lld,\n"
           "  \"parameter_bytes\": %llu,\n  \"arena_bytes\": null\n}\n",
           s->n_initializers, s->n_constants, (long long)s->param_count,
           (unsigned long long)s->param_bytes);
}

static void print_text(const char *path, const avf_model *m, const avf_model_summary *s) {
    printf("model: %s\n", path);
    printf("format: onnx, ir_version %lld%s%s\n", (long long)s->ir_version,
           s->producer[0] ? ", producer " : "", s->producer);
    printf("opsets:");
    for (int i = 0; i < s->n_opsets; i++)
        printf(" %s=%lld", s->opsets[i].domain[0] ? s->opsets[i].domain : "ai.onnx",
               (long long)s->opsets[i].version);
    printf("\n\ninputs:\n");
    print_values(m, 0, 0);
    printf("\noutputs:\n");
    print_values(m, 1, 0);
    printf("\nops: %lld nodes, %d op types, %d subgraphs\n", (long long)s->n_nodes,
           s->n_op_types, s->n_subgraphs);
    if (optimized_nodes >= 0)
        printf("after load-time passes: %lld nodes\n", (long long)optimized_nodes);
    for (int i = 0; i < s->n_op_types; i++) {
        const avf_model_op_count *o = &s->ops[i];
        char name[160];
        if (o->domain[0])
            snprintf(name, sizeof name, "%s:%s", o->domain, o->op_type);
        else
            snprintf(name, sizeof name, "%s", o->op_type);
        printf("  %-28s %6d  %s\n", name, o->count, o->unsupported ? "UNSUPPORTED" : "ok");
    }
    int shown = 0;
    for (int i = 0; i < s->n_op_types; i++) {
        if (!s->ops[i].reason)
            continue;
        if (!shown++)
            printf("\nunsupported (first node of each op):\n");
        printf("  %s\n", s->ops[i].reason);
    }
    printf("\nparameters: %lld elements, %.2f MiB (%d initializers, %d constant tensors)\n",
           (long long)s->param_count, (double)s->param_bytes / (1024.0 * 1024.0),
           s->n_initializers, s->n_constants);
    printf("arena: not planned yet\n");
    printf("supported: %s\n",
           s->n_unsupported ? "no (avflow cannot run this model yet)" : "yes");
}

int avf_cmd_inspect(int argc, char **argv) {
    int json = 0, optimized = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--optimized") == 0) {
            optimized = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: avflow inspect MODEL [--json] [--optimized]\n\n"
                   "Loads an ONNX model and prints its inputs and outputs (symbolic dims by\n"
                   "name), the ops it uses with whether avflow supports each (and why not),\n"
                   "parameter count and bytes, and the opsets it imports, as the file has\n"
                   "them, with the node count after the load-time rewrite passes\n"
                   "(--optimized: describe the rewritten graph instead). Exits 0 when avflow\n"
                   "can run the model, 1 when some op or attribute is unsupported, 2 when the\n"
                   "file cannot be loaded.\n");
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "avflow inspect: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "avflow inspect: one model at a time\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: avflow inspect MODEL [--json] [--optimized]\n");
        return 2;
    }
    avf_model_options opts = {.flags = AVF_MODEL_ALLOW_UNSUPPORTED |
                                       (optimized ? 0u : AVF_MODEL_NO_OPTIMIZE)};
    avf_model *m = NULL;
    avf_status st = avf_model_load(path, &opts, &m);
    if (st == AVF_OK && !optimized) {
        avf_model_options o2 = {.flags = AVF_MODEL_ALLOW_UNSUPPORTED};
        avf_model *m2 = NULL;
        avf_model_summary s2;
        if (avf_model_load(path, &o2, &m2) == AVF_OK && avf_model_get_summary(m2, &s2) == AVF_OK)
            optimized_nodes = s2.n_nodes;
        avf_model_free(m2);
    }
    if (st != AVF_OK) {
        fprintf(stderr, "avflow inspect: %s: %s (%s)\n", path, avf_last_error(),
                avf_status_name(st));
        return 2;
    }
    avf_model_summary s;
    if (avf_model_get_summary(m, &s) != AVF_OK) {
        fprintf(stderr, "avflow inspect: %s\n", avf_last_error());
        avf_model_free(m);
        return 2;
    }
    if (json)
        print_json(path, m, &s);
    else
        print_text(path, m, &s);
    int rc = s.n_unsupported ? 1 : 0;
    avf_model_free(m);
    return rc;
}
