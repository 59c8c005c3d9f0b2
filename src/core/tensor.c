/* avflow tensors: dtype table, shape validation, owned/borrowed tensors.
 *
 * Shapes arrive from model files and requests, so every size computation
 * here is checked: each dim is bounded by AVF_MAX_NUMEL and the running
 * product is tested by division before multiplying, so nothing overflows
 * int64; byte counts are checked against SIZE_MAX (matters on 32-bit hosts).
 */
#include "avflow/tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "avflow/log.h"
#include "core/error.h"

static const struct {
    const char *name;
    size_t size;
} avf_dtype_table[AVF_DTYPE_COUNT] = {
    [AVF_DTYPE_F32] = {"f32", 4}, [AVF_DTYPE_F16] = {"f16", 2}, [AVF_DTYPE_BF16] = {"bf16", 2},
    [AVF_DTYPE_F64] = {"f64", 8}, [AVF_DTYPE_I64] = {"i64", 8}, [AVF_DTYPE_I32] = {"i32", 4},
    [AVF_DTYPE_I16] = {"i16", 2}, [AVF_DTYPE_I8] = {"i8", 1},   [AVF_DTYPE_U8] = {"u8", 1},
    [AVF_DTYPE_BOOL] = {"bool", 1}, [AVF_DTYPE_U16] = {"u16", 2}, [AVF_DTYPE_U32] = {"u32", 4},
    [AVF_DTYPE_U64] = {"u64", 8},
};

/* The enum's underlying type is implementation-defined (it may be unsigned),
 * so range checks go through int to catch negative values from casts. */
static int avf_dtype_valid(avf_dtype dt) {
    int v = (int)dt;
    return v >= 0 && v < (int)AVF_DTYPE_COUNT;
}

size_t avf_dtype_size(avf_dtype dt) {
    return avf_dtype_valid(dt) ? avf_dtype_table[dt].size : 0;
}

const char *avf_dtype_name(avf_dtype dt) {
    return avf_dtype_valid(dt) ? avf_dtype_table[dt].name : "invalid";
}

int avf_dtype_parse(const char *name) {
    if (!name)
        return -1;
    for (int i = 0; i < (int)AVF_DTYPE_COUNT; i++)
        if (strcmp(name, avf_dtype_table[i].name) == 0)
            return i;
    return -1;
}

avf_status avf_shape_numel(int ndim, const int64_t *shape, int64_t *numel) {
    AVF_CHECK_ARG(numel != NULL);
    *numel = 0;
    if (ndim < 0 || ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ndim %d is outside [0, %d]", ndim, AVF_MAX_DIMS);
    if (ndim > 0 && !shape)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "shape is NULL with ndim %d", ndim);
    /* The bound is on the product of the non-zero dims, so that strides (which
     * treat a 0 dim as 1) are always representable: [2^20, 0] is a valid
     * empty shape, [2^40, 2^40, 0] is rejected like [2^40, 2^40]. */
    int has_zero = 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "dim %d is negative (%lld)", i,
                            (long long)shape[i]);
        if (shape[i] == 0) {
            has_zero = 1;
            continue;
        }
        /* n <= 2^48 and shape[i] >= 1, so this division test is exact and
         * the multiplication below never overflows. */
        if (shape[i] > AVF_MAX_NUMEL / n)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "shape has more than 2^48 elements (counting non-zero dims)");
        n *= shape[i];
    }
    *numel = has_zero ? 0 : n;
    return AVF_OK;
}

/* Row-major strides in elements. Zero-sized dims count as 1 so that strides
 * of an empty tensor stay meaningful (and equal to those of its non-empty
 * siblings), as most frameworks do. */
static void avf_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 1 ? shape[i] : 1;
    }
}

/* Validate dtype + shape and return element and byte counts. */
static avf_status avf_tensor_sizes(avf_dtype dtype, int ndim, const int64_t *shape,
                                   int64_t *numel, size_t *nbytes) {
    if (!avf_dtype_valid(dtype))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "invalid dtype %d", (int)dtype);
    AVF_TRY(avf_shape_numel(ndim, shape, numel));
    size_t es = avf_dtype_size(dtype);
    if ((uint64_t)*numel > (uint64_t)(SIZE_MAX / es))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%lld elements of %s do not fit in size_t",
                        (long long)*numel, avf_dtype_name(dtype));
    *nbytes = (size_t)*numel * es;
    return AVF_OK;
}

static void avf_tensor_fill(avf_tensor *t, void *data, avf_dtype dtype, int ndim,
                            const int64_t *shape, avf_device *dev) {
    memset(t, 0, sizeof(*t));
    t->data = data;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    avf_contiguous_strides(ndim, t->shape, t->strides);
    t->device = dev;
}

avf_status avf_tensor_init_borrowed(avf_tensor *t, void *data, avf_dtype dtype, int ndim,
                                    const int64_t *shape, avf_device *dev) {
    AVF_CHECK_ARG(t != NULL);
    /* Zero first so a failed init never leaves stale pointers behind. */
    memset(t, 0, sizeof(*t));
    AVF_CHECK_ARG(dev != NULL);
    int64_t numel = 0;
    size_t nbytes = 0;
    AVF_TRY(avf_tensor_sizes(dtype, ndim, shape, &numel, &nbytes));
    if (!data && numel > 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "data is NULL for a tensor of %lld elements",
                        (long long)numel);
    avf_tensor_fill(t, data, dtype, ndim, shape, dev);
    return AVF_OK;
}

avf_status avf_tensor_alloc(avf_tensor *t, avf_pool *pool, avf_dtype dtype, int ndim,
                            const int64_t *shape, avf_stream *s) {
    AVF_CHECK_ARG(t != NULL);
    memset(t, 0, sizeof(*t));
    AVF_CHECK_ARG(pool != NULL);
    int64_t numel = 0;
    size_t nbytes = 0;
    AVF_TRY(avf_tensor_sizes(dtype, ndim, shape, &numel, &nbytes));
    void *data = NULL;
    /* The pool rejects 0-byte requests; an empty tensor needs no memory. */
    if (nbytes > 0)
        AVF_TRY(avf_pool_alloc(pool, nbytes, s, &data));
    avf_tensor_fill(t, data, dtype, ndim, shape, avf_pool_device(pool));
    t->pool = pool;
    t->flags = AVF_TENSOR_OWNED;
    return AVF_OK;
}

void avf_tensor_release(avf_tensor *t, avf_stream *s) {
    if (!t)
        return;
    if ((t->flags & AVF_TENSOR_OWNED) && t->pool && t->data) {
        /* release() has no status to return; a failure here means the
         * tensor struct was corrupted or double-released, so say so. */
        avf_status st = avf_pool_free(t->pool, t->data, s);
        if (st != AVF_OK)
            AVF_WARN("avf_tensor_release: pool free failed: %s", avf_last_error());
    }
    memset(t, 0, sizeof(*t));
}

int64_t avf_tensor_numel(const avf_tensor *t) {
    if (!t || t->ndim < 0 || t->ndim > AVF_MAX_DIMS)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t avf_tensor_nbytes(const avf_tensor *t) {
    if (!t)
        return 0;
    return (size_t)avf_tensor_numel(t) * avf_dtype_size(t->dtype);
}

int avf_tensor_is_contiguous(const avf_tensor *t) {
    if (!t || t->ndim < 0 || t->ndim > AVF_MAX_DIMS)
        return 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0)
            return 1; /* nothing to lay out */
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        /* A size-1 dim is never stepped along, so its stride is free. */
        if (t->shape[i] != 1 && t->strides[i] != expect)
            return 0;
        expect *= t->shape[i];
    }
    return 1;
}

avf_status avf_tensor_reshape(const avf_tensor *t, int ndim, const int64_t *shape,
                              avf_tensor *view) {
    AVF_CHECK_ARG(t != NULL);
    AVF_CHECK_ARG(view != NULL);
    /* Writing a borrowed view over the owning tensor would drop the only
     * record of the allocation. */
    if (view == t && (t->flags & AVF_TENSOR_OWNED))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "reshape into the owning tensor itself would leak it");
    if (ndim < 0 || ndim > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ndim %d is outside [0, %d]", ndim, AVF_MAX_DIMS);
    if (ndim > 0 && !shape)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "shape is NULL with ndim %d", ndim);
    if (!avf_tensor_is_contiguous(t))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "reshape needs a contiguous tensor");

    int64_t src_numel = avf_tensor_numel(t);
    int64_t dims[AVF_MAX_DIMS] = {0};
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0)
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "more than one -1 in reshape (dims %d, %d)",
                                infer, i);
            infer = i;
            dims[i] = 1; /* placeholder while the known product is taken */
        }
    }
    int64_t known = 0;
    AVF_TRY(avf_shape_numel(ndim, dims, &known));
    if (infer >= 0) {
        if (known == 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "cannot infer -1 when the other dims hold zero elements");
        if (src_numel % known != 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "cannot reshape %lld elements: not divisible by %lld",
                            (long long)src_numel, (long long)known);
        dims[infer] = src_numel / known;
        known = src_numel;
    }
    if (known != src_numel)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "reshape changes the element count (%lld -> %lld)",
                        (long long)src_numel, (long long)known);

    /* Build in a local so view may alias t (a borrowed t). */
    avf_tensor out;
    avf_tensor_fill(&out, t->data, t->dtype, ndim, dims, t->device);
    *view = out;
    return AVF_OK;
}

const char *avf_tensor_describe(const avf_tensor *t, char *buf, size_t cap) {
    if (!buf || cap == 0)
        return buf ? buf : "";
    if (!t) {
        snprintf(buf, cap, "(null)");
        return buf;
    }
    size_t len = 0;
    /* snprintf returns the untruncated length; clamp so later appends see
     * the real remaining space and the result is a truncated prefix. */
#define AVF_APPEND(...)                                                \
    do {                                                               \
        if (len < cap) {                                               \
            int w_ = snprintf(buf + len, cap - len, __VA_ARGS__);      \
            if (w_ > 0)                                                \
                len += (size_t)w_ < cap - len ? (size_t)w_ : cap - len; \
        }                                                              \
    } while (0)
    AVF_APPEND("%s[", avf_dtype_name(t->dtype));
    int nd = t->ndim < 0 ? 0 : (t->ndim > AVF_MAX_DIMS ? AVF_MAX_DIMS : t->ndim);
    for (int i = 0; i < nd; i++)
        AVF_APPEND(i ? ",%lld" : "%lld", (long long)t->shape[i]);
    AVF_APPEND("]@%s", t->device ? avf_device_get_name(t->device) : "none");
#undef AVF_APPEND
    return buf;
}
