/* Internal: the fused op family — epilogues that the graph passes attach to
 * a producer so that a chain of elementwise nodes becomes one kernel.
 *
 *   avf_op_epilogue   y = act(x + bias[c]) * post_mul + post_add, elementwise,
 *                     in place when y == x. bias (optional) is 1-D with
 *                     x.shape[axis] elements, c the index along `axis`
 *                     (Conv: axis 1; MatMul: the last axis).
 *
 * It runs after a convolution or a matrix product (FusedConv, FusedMatMul in
 * src/graph/exec/fused.c) or alone (avflow:Act, a written-out activation
 * chain collapsed to one node). The activation formulas follow the ONNX
 * nodes they replace, evaluated in the same order in f32 so results match
 * the unfused graph to rounding:
 *
 *   RELU         max(x, 0)
 *   LEAKY_RELU   x >= 0 ? x : alpha * x
 *   CLIP         min(max(x, alpha), beta)        (alpha = min, beta = max)
 *   SIGMOID      1 / (1 + exp(-x))
 *   HARD_SIGMOID max(0, min(1, alpha * x + beta))
 *   HARD_SWISH   x * max(0, min(1, alpha * x + beta))     (ONNX HardSwish:
 *                alpha 1/6, beta 1/2; also HardSigmoid(x) * x)
 *   HARD_SWISH6  x * min(max(x + 3, 0), 6) / 6   (the chain exporters write)
 *   SWISH        x * sigmoid(x)                  (x * Sigmoid(x))
 *
 * dtypes: f32 (CPU and CUDA), f16 (CUDA; CPU converts per element), bias of
 * x's dtype. Math in f32 registers.
 */
#ifndef AVF_OPS_FUSED_H
#define AVF_OPS_FUSED_H

#include <math.h>

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum avf_act_kind {
    AVF_ACT_NONE = 0,
    AVF_ACT_RELU,
    AVF_ACT_LEAKY_RELU,
    AVF_ACT_CLIP,
    AVF_ACT_SIGMOID,
    AVF_ACT_HARD_SIGMOID,
    AVF_ACT_HARD_SWISH,
    AVF_ACT_HARD_SWISH6,
    AVF_ACT_SWISH,
    AVF_ACT_COUNT
} avf_act_kind;

typedef struct avf_epilogue_params {
    avf_act_kind act;
    float alpha, beta;          /* per activation, see above */
    float post_mul, post_add;   /* 1 and 0: no affine after the activation */
} avf_epilogue_params;

/* "Relu", "HardSwish6", ... (the `activation` attribute of the fused nodes);
 * NULL for an out-of-range kind. */
const char *avf_act_name(avf_act_kind k);
/* Parse an activation name; AVF_ERR_UNSUPPORTED for an unknown one. "" is
 * AVF_ACT_NONE. */
avf_status avf_act_parse(const char *s, avf_act_kind *out);

/* Checks: y has x's dtype and shape; bias (may be NULL) is 1-D with
 * x->shape[axis] elements and x's dtype; 0 <= axis < x->ndim when bias. */
avf_status avf_epilogue_check(const avf_epilogue_params *p, const avf_tensor *x,
                              const avf_tensor *bias, int axis, const avf_tensor *y);
avf_status avf_op_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                           const avf_tensor *bias, int axis, avf_tensor *y);

/* One element: act(v) * post_mul + post_add, in f32. Written once for the
 * CPU kernel, the CUDA kernel and the tests. */
AVF_HD float avf_act_eval(avf_act_kind act, float alpha, float beta, float pm, float pa,
                          float v) {
    float r;
    switch (act) {
    case AVF_ACT_RELU: r = v < 0.0f ? 0.0f : v; break;
    case AVF_ACT_LEAKY_RELU: r = v < 0.0f ? alpha * v : v; break;
    case AVF_ACT_CLIP: r = v < alpha ? alpha : v; r = r > beta ? beta : r; break;
    case AVF_ACT_SIGMOID: r = 1.0f / (1.0f + expf(-v)); break;
    case AVF_ACT_HARD_SIGMOID: {
        float t = alpha * v + beta;
        r = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
        break;
    }
    case AVF_ACT_HARD_SWISH: {
        float t = alpha * v + beta;
        r = v * (t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t));
        break;
    }
    case AVF_ACT_HARD_SWISH6: {
        float t = v + 3.0f;
        t = t < 0.0f ? 0.0f : t;
        t = t > 6.0f ? 6.0f : t;
        r = v * t / 6.0f;
        break;
    }
    case AVF_ACT_SWISH: r = v * (1.0f / (1.0f + expf(-v))); break;
    default: r = v; break;
    }
    return r * pm + pa;
}

/* ---- the backends: x, y contiguous, numel elements; bias indexed by
 * (i / inner) % channels ---- */
avf_status avf_cpu_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                            const avf_tensor *bias, int64_t channels, int64_t inner,
                            avf_tensor *y);
#ifdef AVF_HAVE_CUDA
avf_status avf_cuda_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                             const avf_tensor *bias, int64_t channels, int64_t inner,
                             avf_tensor *y);
#endif

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_FUSED_H */
