/* CPU kernel of the fused epilogue (see ops/fused.h): one pass over the
 * elements, in place when y == x. */
#include "ops/fused.h"

#include "core/error.h"
#include "core/half.h"

avf_status avf_cpu_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                            const avf_tensor *bias, int64_t channels, int64_t inner,
                            avf_tensor *y) {
    (void)ctx;
    int64_t n = avf_tensor_numel(x);
    const avf_act_kind act = p->act;
    const float al = p->alpha, be = p->beta, pm = p->post_mul, pa = p->post_add;
    if (x->dtype == AVF_DTYPE_F32) {
        const float *xs = (const float *)x->data;
        const float *b = bias ? (const float *)bias->data : NULL;
        float *ys = (float *)y->data;
        for (int64_t i = 0; i < n; i++) {
            float v = xs[i];
            if (b)
                v += b[(i / inner) % channels];
            ys[i] = avf_act_eval(act, al, be, pm, pa, v);
        }
        return AVF_OK;
    }
    if (x->dtype == AVF_DTYPE_F16) {
        const uint16_t *xs = (const uint16_t *)x->data;
        const uint16_t *b = bias ? (const uint16_t *)bias->data : NULL;
        uint16_t *ys = (uint16_t *)y->data;
        for (int64_t i = 0; i < n; i++) {
            float v = avf_f16_to_f32(xs[i]);
            if (b)
                v += avf_f16_to_f32(b[(i / inner) % channels]);
            ys[i] = avf_f32_to_f16(avf_act_eval(act, al, be, pm, pa, v));
        }
        return AVF_OK;
    }
    return AVF_FAIL(AVF_ERR_INTERNAL, "epilogue: dtype %s", avf_dtype_name(x->dtype));
}
