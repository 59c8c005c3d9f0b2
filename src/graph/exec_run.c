/* The executor's per-run part: value slots (device tensor and/or host copy),
 * graph frames, and running one node through its exec op (see graph/exec.h). */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "graph/exec.h"

/* ------------------------------------------------------------ slots */

avf_status avf_exec_sync(avf_exec_run *r) {
    if (r->on_cpu)
        return AVF_OK;
    r->n_syncs++;
    return r->ctx.stream ? avf_stream_synchronize(r->ctx.stream) : avf_device_synchronize(r->dev);
}

void avf_exec_slot_release(avf_exec_run *r, avf_exec_slot *s) {
    if (!s)
        return;
    if (s->has_t && s->own_t)
        avf_tensor_release(&s->t, r->ctx.stream);
    if (s->has_host && s->own_host)
        avf_tensor_release(&s->host, NULL);
    memset(s, 0, sizeof *s);
}

/* On a CPU run the device tensor is the host tensor: whichever is present. */
static const avf_tensor *cpu_view(avf_exec_slot *s) {
    return s->has_t ? &s->t : s->has_host ? &s->host : NULL;
}

avf_status avf_exec_slot_device(avf_exec_run *r, avf_exec_slot *s, const avf_tensor **out) {
    if (r->on_cpu) {
        if (!(*out = cpu_view(s)))
            return AVF_FAIL(AVF_ERR_INTERNAL, "executor: a value was read before it was set");
        return AVF_OK;
    }
    if (s->has_t) {
        *out = &s->t;
        return AVF_OK;
    }
    if (!s->has_host)
        return AVF_FAIL(AVF_ERR_INTERNAL, "executor: a value was read before it was set");
    const avf_tensor *h = &s->host;
    size_t nb = avf_tensor_nbytes(h);
    AVF_TRY(avf_tensor_alloc(&s->t, r->ctx.pool, h->dtype, h->ndim, h->shape, r->ctx.stream));
    const void *src = h->data;
    if (r->cap && r->cap->capturing && nb) {
        /* a captured copy must read pinned memory that outlives the graph */
        avf_exec_capture *c = r->cap;
        uint64_t at = (c->pinned_used + 63) & ~(uint64_t)63;
        if (!c->pinned || at + nb > c->pinned_cap) {
            avf_tensor_release(&s->t, r->ctx.stream);
            return AVF_FAIL(AVF_ERR_INTERNAL, "plan: capture uploads more than its warm-up did");
        }
        memcpy(c->pinned + at, h->data, nb);
        c->pinned_used = at + nb;
        src = c->pinned + at;
    }
    r->upload_count++;
    r->upload_bytes += nb;
    /* from pageable memory: the copy has read the source when it returns */
    avf_status st = avf_memcpy_async(r->dev, s->t.data, src, nb, AVF_COPY_H2D, r->ctx.stream,
                                     "exec");
    if (st != AVF_OK) {
        avf_tensor_release(&s->t, r->ctx.stream);
        return st;
    }
    s->has_t = s->own_t = 1;
    *out = &s->t;
    return AVF_OK;
}

avf_status avf_exec_slot_host(avf_exec_run *r, avf_exec_slot *s, const avf_tensor **out) {
    if (r->on_cpu)
        return avf_exec_slot_device(r, s, out);
    if (s->has_host) {
        *out = &s->host;
        return AVF_OK;
    }
    if (!s->has_t)
        return AVF_FAIL(AVF_ERR_INTERNAL, "executor: a value was read before it was set");
    const avf_tensor *d = &s->t;
    AVF_TRY(avf_tensor_alloc(&s->host, r->host_ctx.pool, d->dtype, d->ndim, d->shape, NULL));
    avf_status st = avf_memcpy_async(r->dev, s->host.data, d->data, avf_tensor_nbytes(d),
                                     AVF_COPY_D2H, r->ctx.stream, "exec");
    if (st == AVF_OK)
        st = avf_exec_sync(r);
    if (st != AVF_OK) {
        avf_tensor_release(&s->host, NULL);
        return st;
    }
    s->has_host = s->own_host = 1;
    *out = &s->host;
    return AVF_OK;
}

static avf_status clone(avf_exec_run *r, avf_tensor *t, int device) {
    avf_tensor src = *t;
    avf_pool *pool = device ? r->ctx.pool : r->host_ctx.pool;
    avf_stream *s = device ? r->ctx.stream : NULL;
    AVF_TRY(avf_tensor_alloc(t, pool, src.dtype, src.ndim, src.shape, s));
    avf_status st = avf_memcpy_async(device ? r->dev : r->host_ctx.dev, t->data, src.data,
                                     avf_tensor_nbytes(&src),
                                     device && !r->on_cpu ? AVF_COPY_D2D : AVF_COPY_H2H, s,
                                     "exec");
    if (st != AVF_OK) {
        avf_tensor_release(t, s);
        *t = src;
    }
    return st;
}

avf_status avf_exec_slot_own(avf_exec_run *r, avf_exec_slot *s) {
    /* a borrowed part is dropped when the other part is owned, else copied */
    if (s->has_t && !s->own_t) {
        if (s->has_host && s->own_host) {
            memset(&s->t, 0, sizeof s->t);
            s->has_t = 0;
        } else {
            AVF_TRY(clone(r, &s->t, 1));
            s->own_t = 1;
        }
    }
    if (s->has_host && !s->own_host) {
        if (s->has_t) {
            memset(&s->host, 0, sizeof s->host);
            s->has_host = 0;
        } else {
            AVF_TRY(clone(r, &s->host, 0));
            s->own_host = 1;
        }
    }
    return AVF_OK;
}

/* ------------------------------------------------------------ frames */

avf_exec_slot *avf_exec_frame_slot(avf_exec_frame *f, int v) {
    while (f && v >= 0 && v < f->eg->g->n_values) {
        const avf_graph_value *val = &f->eg->g->values[v];
        if (val->kind != AVF_VALUE_OUTER)
            return &f->slots[v];
        v = val->outer;
        f = f->parent;
    }
    return NULL;
}

static avf_status node_fail(const avf_graph_node *n, avf_status st) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", avf_last_error());
    return AVF_FAIL(st, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

static int host_small(const avf_tensor *t) {
    return avf_tensor_numel(t) <= AVF_EXEC_HOST_NUMEL;
}

/* Host-side shape arithmetic: a small integer or bool value. Float data is
 * computed on the device whatever its size: avflow keeps tensors there. */
static int host_shape_math(const avf_tensor *t) {
    return host_small(t) && (t->dtype == AVF_DTYPE_I64 || t->dtype == AVF_DTYPE_I32 ||
                             t->dtype == AVF_DTYPE_BOOL);
}

/* Shape and Size of a device value, computed on the host from its shape
 * (the value itself never moves). */
static avf_status shape_on_host(avf_exec_run *r, const avf_exec_node *en, const avf_tensor *x,
                                avf_exec_slot *out) {
    const avf_graph_node *n = en->node;
    int64_t dims[AVF_MAX_DIMS];
    int count = 0;
    if (strcmp(n->op_type, "Size") == 0) {
        dims[0] = avf_tensor_numel(x);
        count = 1;
    } else {
        int64_t start = 0, end = x->ndim;
        if (en->opset >= 15) {
            AVF_TRY(avf_exec_attr_int(n, "start", 0, &start));
            AVF_TRY(avf_exec_attr_int(n, "end", x->ndim, &end));
        }
        if (start < 0)
            start += x->ndim;
        if (end < 0)
            end += x->ndim;
        start = start < 0 ? 0 : start > x->ndim ? x->ndim : start;
        end = end < 0 ? 0 : end > x->ndim ? x->ndim : end;
        for (int64_t d = start; d < end; d++)
            dims[count++] = x->shape[d];
    }
    int is_size = strcmp(n->op_type, "Size") == 0;
    int64_t len = count;
    AVF_TRY(avf_tensor_alloc(&out->host, r->host_ctx.pool, AVF_DTYPE_I64, is_size ? 0 : 1, &len,
                             NULL));
    if (count)
        memcpy(out->host.data, dims, (size_t)count * sizeof *dims);
    out->has_host = out->own_host = 1;
    return AVF_OK;
}

typedef union params_buf {
    max_align_t align;
    unsigned char b[AVF_EXEC_PARAMS_MAX];
} params_buf;

/* Infer, allocate the outputs on ctx, run; outs[o] receive the tensors. */
static avf_status call_op(const avf_exec_node *en, avf_exec_call *call, params_buf *pb,
                          avf_tensor *outs, int *ran) {
    const avf_exec_op *op = en->op;
    const avf_graph_node *n = en->node;
    avf_op_ctx *ctx = call->ctx;
    *ran = 0;
    if (en->params)
        memcpy(pb->b, en->params, AVF_EXEC_PARAMS_MAX);
    else
        memset(pb->b, 0, AVF_EXEC_PARAMS_MAX);
    for (int o = 0; o < n->n_outputs; o++) {
        memset(&outs[o], 0, sizeof outs[o]);
        call->out[o] = n->outputs[o] >= 0 ? &outs[o] : NULL;
    }
    if (op->data_dependent) {
        /* the op allocates its outputs from ctx->pool once it knows them */
        avf_status st = op->run(pb->b, call);
        if (st != AVF_OK) {
            for (int o = 0; o < n->n_outputs; o++)
                avf_tensor_release(&outs[o], ctx->stream);
            return st;
        }
        for (int o = 0; o < n->n_outputs; o++)
            if (call->out[o] && !outs[o].device)
                return AVF_FAIL(AVF_ERR_INTERNAL, "output %d was not allocated", o);
        *ran = 1;
        return AVF_OK;
    }
    if (!op->infer || !op->run)
        return AVF_FAIL(AVF_ERR_INTERNAL, "exec op has no infer/run");
    AVF_TRY(op->infer(pb->b, call));
    return AVF_OK;
}

static avf_status alloc_and_run(const avf_exec_node *en, avf_exec_call *call, params_buf *pb,
                                avf_tensor *outs) {
    const avf_graph_node *n = en->node;
    avf_op_ctx *ctx = call->ctx;
    avf_status st = AVF_OK;
    for (int o = 0; o < n->n_outputs && st == AVF_OK; o++) {
        if (!call->out[o])
            continue;
        avf_tensor want = outs[o];
        st = avf_tensor_alloc(&outs[o], ctx->pool, want.dtype, want.ndim, want.shape, ctx->stream);
    }
    if (st == AVF_OK)
        st = en->op->run(pb->b, call);
    if (st != AVF_OK)
        for (int o = 0; o < n->n_outputs; o++)
            if (call->out[o])
                avf_tensor_release(&outs[o], ctx->stream);
    return st;
}

static avf_status run_op(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en) {
    const avf_graph_node *n = en->node;
    const avf_exec_op *op = en->op;
    if (n->n_inputs > AVF_EXEC_MAX_IO || n->n_outputs > AVF_EXEC_MAX_IO)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): more than %d inputs or outputs",
                        n->name, n->op_type, AVF_EXEC_MAX_IO);
    avf_exec_slot *in_slots[AVF_EXEC_MAX_IO];
    for (int i = 0; i < n->n_inputs; i++) {
        in_slots[i] = n->inputs[i] >= 0 ? avf_exec_frame_slot(f, n->inputs[i]) : NULL;
        if (n->inputs[i] >= 0 && (!in_slots[i] || (!in_slots[i]->has_t && !in_slots[i]->has_host)))
            return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (%s): input %d is not set", n->name,
                            n->op_type, i);
    }
    avf_tensor outs[AVF_EXEC_MAX_IO];
    params_buf pb;
    avf_exec_call call;
    memset(&call, 0, sizeof call);
    call.node = n;
    call.opset = en->opset;
    call.n_in = n->n_inputs;
    call.n_out = n->n_outputs;

    if (!r->on_cpu && !r->device_only && n->n_inputs == 1 && in_slots[0] && n->n_outputs == 1 &&
        n->outputs[0] >= 0 &&
        (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0)) {
        const avf_tensor *x = in_slots[0]->has_t ? &in_slots[0]->t : &in_slots[0]->host;
        avf_status st = shape_on_host(r, en, x, &f->slots[n->outputs[0]]);
        return st == AVF_OK ? st : node_fail(n, st);
    }

    /* Device run, every input small and on the host (shape arithmetic):
     * run on the host; outputs go up only when a device op reads them. */
    int try_host = !r->on_cpu && !r->device_only && !op->data_dependent;
    for (int i = 0; try_host && i < n->n_inputs; i++)
        try_host = !in_slots[i] || (in_slots[i]->has_host && host_shape_math(&in_slots[i]->host));
    if (try_host) {
        call.ctx = &r->host_ctx;
        for (int i = 0; i < n->n_inputs; i++)
            call.in[i] = call.in_host[i] = in_slots[i] ? &in_slots[i]->host : NULL;
        int ran = 0;
        avf_status st = call_op(en, &call, &pb, outs, &ran);
        if (st != AVF_OK)
            return node_fail(n, st);
        for (int o = 0; o < n->n_outputs; o++)
            if (call.out[o] && !host_small(&outs[o]))
                try_host = 0;
        if (try_host) {
            if ((st = alloc_and_run(en, &call, &pb, outs)) != AVF_OK)
                return node_fail(n, st);
            for (int o = 0; o < n->n_outputs; o++) {
                if (!call.out[o])
                    continue;
                avf_exec_slot *s = &f->slots[n->outputs[o]];
                s->host = outs[o];
                s->has_host = s->own_host = 1;
            }
            return AVF_OK;
        }
    }

    call.ctx = &r->ctx;
    /* fp16 runs: f32 temporaries for the inputs of f32-only ops */
    int keep32 = r->fp16 && avf_exec_fp16_keeps_f32(n);
    avf_tensor tmp[AVF_EXEC_MAX_IO];
    uint8_t has_tmp[AVF_EXEC_MAX_IO] = {0};
    avf_status st = AVF_OK;
    for (int i = 0; i < n->n_inputs && st == AVF_OK; i++) {
        call.in[i] = call.in_host[i] = NULL;
        if (!in_slots[i])
            continue;
        st = avf_exec_slot_device(r, in_slots[i], &call.in[i]);
        /* inputs the op reads on the host (shapes, scales, bounds) are
         * parameters, not data: they keep their dtype */
        int param = i < 64 && ((op->host_inputs >> i) & 1);
        if (st == AVF_OK && r->fp16 && !keep32 && !param) {
            st = avf_exec_fp16_slot(r, in_slots[i]);
            call.in[i] = &in_slots[i]->t;
        } else if (st == AVF_OK && keep32 && call.in[i]->dtype == AVF_DTYPE_F16) {
            st = avf_exec_fp16_convert(r, call.in[i], AVF_DTYPE_F32, &tmp[i]);
            has_tmp[i] = st == AVF_OK;
            call.in[i] = &tmp[i];
        }
        if (st == AVF_OK && i < 64 && (op->host_inputs >> i) & 1)
            st = avf_exec_slot_host(r, in_slots[i], &call.in_host[i]);
    }
    if (st == AVF_OK && op->data_dependent && !r->on_cpu)
        r->n_syncs++; /* it waits for the device to learn its output size */
    int ran = 0;
    if (st == AVF_OK)
        st = call_op(en, &call, &pb, outs, &ran);
    if (st == AVF_OK && !ran)
        st = alloc_and_run(en, &call, &pb, outs);
    for (int i = 0; i < n->n_inputs; i++)
        if (has_tmp[i])
            avf_tensor_release(&tmp[i], r->ctx.stream);
    if (st != AVF_OK)
        return node_fail(n, st);
    for (int o = 0; o < n->n_outputs; o++) {
        if (!call.out[o])
            continue;
        avf_exec_slot *s = &f->slots[n->outputs[o]];
        s->t = outs[o];
        s->has_t = s->own_t = 1;
        if (r->fp16 && (st = avf_exec_fp16_slot(r, s)) != AVF_OK)
            return node_fail(n, st);
    }
    return AVF_OK;
}

static avf_status run_node(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en) {
    const avf_graph_node *n = en->node;
    if (en->kind == AVF_EXEC_NODE_CONST)
        return AVF_OK; /* its output is a model constant */
    if (!n->supported || (en->kind == AVF_EXEC_NODE_OP && !en->op))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "node '%s' (%s): avflow has no kernel for op '%s' (domain '%s', "
                        "opset %lld)",
                        n->name, n->op_type, n->op_type, n->domain[0] ? n->domain : "ai.onnx",
                        (long long)en->opset);
    if (en->kind == AVF_EXEC_NODE_OP)
        return run_op(r, f, en);
    if (n->n_outputs > AVF_EXEC_MAX_IO)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "node '%s' (%s): more than %d outputs", n->name,
                        n->op_type, AVF_EXEC_MAX_IO);
    avf_exec_slot outs[AVF_EXEC_MAX_IO];
    memset(outs, 0, sizeof outs);
    avf_status st = en->kind == AVF_EXEC_NODE_IF ? avf_exec_run_if(r, f, en, outs)
                                                 : avf_exec_run_loop(r, f, en, outs);
    if (st != AVF_OK)
        return node_fail(n, st);
    for (int o = 0; o < n->n_outputs; o++) {
        if (n->outputs[o] >= 0)
            f->slots[n->outputs[o]] = outs[o];
        else
            avf_exec_slot_release(r, &outs[o]);
    }
    return AVF_OK;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* The profile row of a node: convolutions split by kind (depthwise,
 * pointwise, spatial), since those behave very differently on a GPU. */
static const char *profile_key(const avf_graph_node *n) {
    const char *op = n->op_type;
    int conv = strcmp(op, "Conv") == 0, fused = strcmp(op, "FusedConv") == 0;
    if (!conv && !fused)
        return op;
    const avf_graph_attr *g = avf_graph_node_attr(n, "group");
    const avf_graph_attr *k = avf_graph_node_attr(n, "kernel_shape");
    int pointwise = k && k->type == AVF_ATTR_INTS && k->n >= 1;
    for (int i = 0; k && pointwise && i < k->n; i++)
        pointwise = k->ints[i] == 1;
    if (g && g->type == AVF_ATTR_INT && g->i > 1)
        return conv ? "Conv/grouped" : "FusedConv/grouped";
    if (pointwise)
        return conv ? "Conv/1x1" : "FusedConv/1x1";
    return conv ? "Conv/kxk" : "FusedConv/kxk";
}

/* One node, then a wait for the device, so its wall time is what the node
 * costs end to end (host work, launches and kernels). Syncing after every
 * node serializes the run: profile numbers show where time goes, not how
 * fast an unprofiled run is. */
static avf_status run_node_profiled(avf_exec_run *r, avf_exec_frame *f, const avf_exec_node *en) {
    double t0 = now_ms();
    avf_status st = run_node(r, f, en);
    if (st == AVF_OK && !r->on_cpu)
        st = r->ctx.stream ? avf_stream_synchronize(r->ctx.stream)
                           : avf_device_synchronize(r->dev);
    double dt = now_ms() - t0;
    avf_exec_profile *p = r->profile;
    const char *op = profile_key(en->node);
    int k = 0;
    while (k < p->n && strcmp(p->rows[k].op_type, op) != 0)
        k++;
    if (k == p->n && p->n < AVF_EXEC_PROFILE_MAX)
        p->rows[p->n++].op_type = op;
    if (k < p->n) {
        p->rows[k].count++;
        p->rows[k].ms += dt;
    }
    return st;
}

avf_status avf_exec_graph_run(avf_exec_run *r, const avf_exec_graph *eg, avf_exec_frame *parent,
                              int n_in, avf_exec_slot *in, int n_out, avf_exec_slot *out) {
    const avf_graph *g = eg->g;
    avf_status st = AVF_OK;
    avf_exec_frame f = {eg, parent, NULL};
    if (n_out > 0)
        memset(out, 0, (size_t)n_out * sizeof *out);
    if (n_in != g->n_inputs || n_out != g->n_outputs)
        st = AVF_FAIL(AVF_ERR_INVALID_ARG,
                      "graph '%s': %d inputs and %d outputs given, it has %d and %d", g->name,
                      n_in, n_out, g->n_inputs, g->n_outputs);
    else if (!(f.slots = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *f.slots)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "executor: out of memory");
    if (st != AVF_OK) {
        for (int k = 0; k < n_in; k++)
            avf_exec_slot_release(r, &in[k]);
        return st;
    }
    for (int v = 0; v < g->n_values; v++) {
        int id = eg->const_id[v];
        if (id < 0)
            continue;
        avf_exec_slot *s = &f.slots[v];
        s->t = r->weights[id];
        s->host = r->consts[id];
        s->has_t = s->has_host = 1;
    }
    for (int k = 0; k < n_in; k++) {
        f.slots[g->inputs[k]] = in[k];
        memset(&in[k], 0, sizeof in[k]);
    }
    for (int i = 0; i < eg->n_nodes && st == AVF_OK; i++) {
        const avf_exec_node *en = &eg->nodes[i];
        if (r->profile && !parent)
            st = run_node_profiled(r, &f, en);
        else
            st = run_node(r, &f, en);
        for (int k = 0; k < en->n_release; k++)
            avf_exec_slot_release(r, &f.slots[en->release[k]]);
    }
    for (int k = 0; k < n_out && st == AVF_OK; k++) {
        int v = g->outputs[k];
        avf_exec_slot *s = avf_exec_frame_slot(&f, v);
        if (!s || (!s->has_t && !s->has_host)) {
            /* moved out already (a value listed twice): copy the first */
            int first = 0;
            while (first < k && g->outputs[first] != v)
                first++;
            if (first == k) {
                st = AVF_FAIL(AVF_ERR_INTERNAL, "graph '%s': output '%s' was never set",
                              g->name, g->values[v].name);
                break;
            }
            out[k] = out[first];
            out[k].own_t = out[k].own_host = 0;
        } else {
            out[k] = *s;
            if (g->values[v].kind == AVF_VALUE_OUTER) {
                out[k].own_t = out[k].own_host = 0; /* the parent's: copied below */
            } else {
                memset(s, 0, sizeof *s);
                if (eg->const_id[v] >= 0)
                    continue; /* a model constant lives as long as the model */
            }
        }
        st = avf_exec_slot_own(r, &out[k]);
        /* fp16 runs hand the model's f32 outputs back in f32 */
        if (st == AVF_OK && r->fp16 && !parent && out[k].has_t &&
            out[k].t.dtype == AVF_DTYPE_F16 && g->values[v].has_dtype &&
            g->values[v].dtype == AVF_DTYPE_F32) {
            avf_tensor t32;
            st = avf_exec_fp16_convert(r, &out[k].t, AVF_DTYPE_F32, &t32);
            if (st == AVF_OK) {
                if (out[k].own_t)
                    avf_tensor_release(&out[k].t, r->ctx.stream);
                out[k].t = t32;
                out[k].own_t = 1;
            }
        }
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind != AVF_VALUE_OUTER)
            avf_exec_slot_release(r, &f.slots[v]);
    free(f.slots);
    if (st != AVF_OK)
        for (int k = 0; k < n_out; k++)
            avf_exec_slot_release(r, &out[k]);
    return st;
}
