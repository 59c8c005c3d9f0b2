/* Checks and dispatch of the pair magnitude (see ops/magnitude.h); kernels
 * in ops/cpu/magnitude.c and ops/cuda/magnitude.cu. */
#include "ops/magnitude.h"

#include <string.h>

#include "core/error.h"

avf_status avf_pair_magnitude_shape(int xnd, const int64_t *x, int64_t axis, int64_t half,
                                    int *ynd, int64_t *y) {
    AVF_CHECK_ARG(x != NULL && ynd != NULL && y != NULL);
    if (xnd < 1 || xnd > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "PairMagnitude: X has rank %d", xnd);
    int a = 0;
    AVF_TRY(avf_norm_axis(axis, xnd, &a));
    if (x[a] < 2 || x[a] % 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "PairMagnitude: dim %d of X is %lld, not an even size of two halves", a,
                        (long long)x[a]);
    if (half > 0 && x[a] != 2 * half)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "PairMagnitude: dim %d of X is %lld, not the 2 x %lld of its halves", a,
                        (long long)x[a], (long long)half);
    memcpy(y, x, (size_t)xnd * sizeof *y);
    y[a] = x[a] / 2;
    *ynd = xnd;
    return AVF_OK;
}

avf_status avf_op_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x, int64_t axis,
                                 int64_t half, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "PairMagnitude X"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "PairMagnitude Y"));
    static const avf_dtype floats[] = {AVF_DTYPE_F32, AVF_DTYPE_F16};
    AVF_TRY(avf_op_check_dtype(x, "PairMagnitude X", floats, 2));
    AVF_TRY(avf_op_check_dtype(y, "PairMagnitude Y", &x->dtype, 1));
    int ynd = 0;
    int64_t ys[AVF_MAX_DIMS];
    AVF_TRY(avf_pair_magnitude_shape(x->ndim, x->shape, axis, half, &ynd, ys));
    AVF_TRY(avf_op_check_shape(y, "PairMagnitude Y", ynd, ys));
    int a = 0;
    AVF_TRY(avf_norm_axis(axis, x->ndim, &a));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a; d++)
        outer *= x->shape[d];
    for (int d = a + 1; d < x->ndim; d++)
        inner *= x->shape[d];
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_pair_magnitude(ctx, x, outer, ys[a], inner, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_pair_magnitude(ctx, x, outer, ys[a], inner, y);
#else
    return AVF_OP_NO_CUDA("PairMagnitude");
#endif
}
