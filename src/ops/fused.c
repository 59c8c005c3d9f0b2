/* Checks and dispatch of the fused epilogue (see ops/fused.h); kernels in
 * ops/cpu/fused.c and ops/cuda/fused.cu. */
#include "ops/fused.h"

#include <string.h>

#include "core/error.h"

static const char *const act_names[AVF_ACT_COUNT] = {
    "", "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "HardSwish6", "Swish",
};

const char *avf_act_name(avf_act_kind k) {
    return (unsigned)k < AVF_ACT_COUNT ? act_names[k] : NULL;
}

avf_status avf_act_parse(const char *s, avf_act_kind *out) {
    AVF_CHECK_ARG(s != NULL && out != NULL);
    for (int k = 0; k < AVF_ACT_COUNT; k++)
        if (strcmp(s, act_names[k]) == 0) {
            *out = (avf_act_kind)k;
            return AVF_OK;
        }
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "epilogue: unknown activation '%s'", s);
}

avf_status avf_epilogue_check(const avf_epilogue_params *p, const avf_tensor *x,
                              const avf_tensor *bias, int axis, const avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL && y != NULL);
    if ((unsigned)p->act >= AVF_ACT_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "epilogue: activation %d", (int)p->act);
    if (x->dtype != AVF_DTYPE_F32 && x->dtype != AVF_DTYPE_F16)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "epilogue: dtype %s is not supported",
                        avf_dtype_name(x->dtype));
    AVF_TRY(avf_op_check_dtype(y, "epilogue Y", &x->dtype, 1));
    AVF_TRY(avf_op_check_shape(y, "epilogue Y", x->ndim, x->shape));
    if (!bias)
        return AVF_OK;
    if (axis < 0 || axis >= x->ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "epilogue: bias axis %d for rank %d", axis, x->ndim);
    AVF_TRY(avf_op_check_dtype(bias, "epilogue bias", &x->dtype, 1));
    if (bias->ndim != 1 || bias->shape[0] != x->shape[axis])
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "epilogue: bias has %lld elements (rank %d), axis %d of X has %lld",
                        (long long)avf_tensor_numel(bias), bias->ndim, axis,
                        (long long)x->shape[axis]);
    return AVF_OK;
}

avf_status avf_op_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                           const avf_tensor *bias, int axis, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "epilogue X"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "epilogue Y"));
    if (bias)
        AVF_TRY(avf_op_check_tensor(ctx, bias, "epilogue bias"));
    AVF_TRY(avf_epilogue_check(p, x, bias, axis, y));
    int64_t channels = 1, inner = 1;
    if (bias) {
        channels = x->shape[axis];
        for (int d = axis + 1; d < x->ndim; d++)
            inner *= x->shape[d];
    }
    if (avf_tensor_numel(x) == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_epilogue(ctx, p, x, bias, channels, inner, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_epilogue(ctx, p, x, bias, channels, inner, y);
#else
    return AVF_OP_NO_CUDA("epilogue");
#endif
}
