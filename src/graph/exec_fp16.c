/* fp16 runs: the conversions that keep every float value of a device run in
 * f16 (see graph/exec.h). The weights come as f16 from the fp16 weight set;
 * what is converted here is the rest: graph inputs, values computed on the
 * host and uploaded, outputs of ops whose output dtype is fixed in f32, and
 * the inputs/outputs of ops that only compute in f32. */
#include <string.h>

#include "core/error.h"
#include "graph/exec.h"
#include "ops/elementwise.h"

/* Ops whose kernels compute in f32 only: they get f32 inputs, and their
 * outputs are converted to f16 after. */
int avf_exec_fp16_keeps_f32(const avf_graph_node *n) {
    static const char *const f32_only[] = {"LSTM", "GRU", "RNN"};
    for (size_t i = 0; i < sizeof f32_only / sizeof f32_only[0]; i++)
        if (strcmp(n->op_type, f32_only[i]) == 0)
            return 1;
    return 0;
}

avf_status avf_exec_fp16_convert(avf_exec_run *r, const avf_tensor *t, avf_dtype to,
                                 avf_tensor *tmp) {
    AVF_TRY(avf_tensor_alloc(tmp, r->ctx.pool, to, t->ndim, t->shape, r->ctx.stream));
    avf_status st = avf_op_cast(&r->ctx, to, t, tmp);
    if (st != AVF_OK)
        avf_tensor_release(tmp, r->ctx.stream);
    return st;
}

avf_status avf_exec_fp16_slot(avf_exec_run *r, avf_exec_slot *s) {
    if (!s->has_t || s->t.dtype != AVF_DTYPE_F32)
        return AVF_OK;
    avf_tensor h;
    AVF_TRY(avf_exec_fp16_convert(r, &s->t, AVF_DTYPE_F16, &h));
    if (s->own_t)
        avf_tensor_release(&s->t, r->ctx.stream);
    s->t = h;
    s->own_t = 1;
    return AVF_OK;
}
