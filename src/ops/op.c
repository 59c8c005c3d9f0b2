/* The op context and the argument checks shared by every op entry point. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "ops/op.h"
#include "ops/spectral.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/libs.h"
#endif

avf_status avf_op_ctx_init(avf_op_ctx *ctx, avf_device *dev, avf_stream *s, avf_pool *pool) {
    AVF_CHECK_ARG(ctx != NULL && dev != NULL && pool != NULL);
    memset(ctx, 0, sizeof *ctx);
    if (avf_pool_device(pool) != dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "op context: the pool belongs to %s, not %s",
                        avf_device_get_name(avf_pool_device(pool)), avf_device_get_name(dev));
    if (s && avf_stream_device(s) != dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "op context: the stream belongs to %s, not %s",
                        avf_device_get_name(avf_stream_device(s)), avf_device_get_name(dev));
    ctx->dev = dev;
    ctx->stream = s;
    ctx->pool = pool;
    return AVF_OK;
}

void avf_op_ctx_release(avf_op_ctx *ctx) {
    if (!ctx)
        return;
#ifdef AVF_HAVE_CUDA
    avf_cuda_libs_free(ctx->libs);
#endif
    ctx->libs = NULL;
}

void avf_ops_release_caches(void) {
    avf_spectral_release_caches();
#ifdef AVF_HAVE_CUDA
    avf_cuda_libs_clear_idle();
#endif
}

int avf_op_device_is_cpu(const avf_op_ctx *ctx) {
    return avf_device_get_kind(ctx->dev) == AVF_DEVICE_CPU;
}

avf_status avf_op_check_tensor(const avf_op_ctx *ctx, const avf_tensor *t, const char *what) {
    if (!t)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: tensor is NULL", what);
    if (!avf_device_same_memory(t->device, ctx->dev)) /* host devices share memory */
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: tensor is on %s, the op runs on %s", what,
                        avf_device_get_name(t->device), avf_device_get_name(ctx->dev));
    if (!avf_tensor_is_contiguous(t))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: tensor is not contiguous", what);
    if (!t->data && avf_tensor_numel(t) > 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: tensor has no data", what);
    return AVF_OK;
}

avf_status avf_op_check_dtype(const avf_tensor *t, const char *what, const avf_dtype *dtypes, int n) {
    for (int i = 0; i < n; i++)
        if (t->dtype == dtypes[i])
            return AVF_OK;
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported here", what,
                    avf_dtype_name(t->dtype));
}

avf_status avf_op_check_shape(const avf_tensor *t, const char *what, int ndim, const int64_t *dims) {
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == dims[i];
    if (!same) {
        char have[160], want[160];
        avf_tensor want_t;
        memset(&want_t, 0, sizeof want_t);
        want_t.dtype = t->dtype;
        want_t.ndim = ndim;
        memcpy(want_t.shape, dims, (size_t)ndim * sizeof *dims);
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: shape is %s, expected %s", what,
                        avf_tensor_describe(t, have, sizeof have),
                        avf_tensor_describe(&want_t, want, sizeof want));
    }
    return AVF_OK;
}

avf_status avf_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                               int64_t *out) {
    AVF_CHECK_ARG(nout != NULL && out != NULL);
    if (na < 0 || nb < 0 || na > AVF_MAX_DIMS || nb > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "broadcast: rank out of range");
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "shapes cannot broadcast: dim %d is %lld vs %lld", i, (long long)da,
                            (long long)db);
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return AVF_OK;
}

avf_status avf_norm_axis(int64_t axis, int ndim, int *out) {
    if (axis < -(int64_t)ndim || axis >= (int64_t)ndim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "axis %lld is outside [-%d, %d)", (long long)axis,
                        ndim, ndim);
    *out = (int)(axis < 0 ? axis + ndim : axis);
    return AVF_OK;
}
