/* avflow tensors: a typed n-dimensional view of memory on one device.
 *
 * avf_tensor is a plain struct so that ops can read it without calls. A
 * tensor either owns its memory (allocated from an avf_pool; released with
 * avf_tensor_release) or borrows it (caller keeps the memory alive and frees
 * it). Strides are in elements; a tensor created by avflow is contiguous
 * (row-major).
 */
#ifndef AVFLOW_TENSOR_H
#define AVFLOW_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_MAX_DIMS 8
/* Upper bound on the elements of one tensor (2^48); larger shapes from
 * outside are rejected rather than overflowing size arithmetic. */
#define AVF_MAX_NUMEL (((int64_t)1) << 48)

typedef enum avf_dtype {
    AVF_DTYPE_F32 = 0,
    AVF_DTYPE_F16,
    AVF_DTYPE_BF16,
    AVF_DTYPE_F64,
    AVF_DTYPE_I64,
    AVF_DTYPE_I32,
    AVF_DTYPE_I16,
    AVF_DTYPE_I8,
    AVF_DTYPE_U8,
    AVF_DTYPE_BOOL,
    /* the wider unsigned integers, appended so the values above stay put;
     * they compute in Cast, the binary arithmetic/comparison ops, Max/Min
     * and Pow (exponent or base), and move through every data op */
    AVF_DTYPE_U16,
    AVF_DTYPE_U32,
    AVF_DTYPE_U64,
    AVF_DTYPE_COUNT
} avf_dtype;

/* Bytes per element (0 for an invalid dtype). */
size_t avf_dtype_size(avf_dtype dt);
/* "f32", "f16", "bf16", "f64", "i64", "i32", "i16", "i8", "u8", "bool",
 * "u16", "u32", "u64";
 * "invalid" otherwise. */
const char *avf_dtype_name(avf_dtype dt);
/* Parse a name as above; -1 if unknown. */
int avf_dtype_parse(const char *name);

enum { AVF_TENSOR_OWNED = 1u << 0 };

typedef struct avf_tensor {
    void *data;
    avf_dtype dtype;
    int ndim;
    int64_t shape[AVF_MAX_DIMS];
    int64_t strides[AVF_MAX_DIMS]; /* elements */
    avf_device *device;
    avf_pool *pool;                /* owner pool when OWNED, else NULL */
    uint32_t flags;
} avf_tensor;

/* Validate a shape (0 <= ndim <= 8, every dim >= 0, product of the non-zero
 * dims <= AVF_MAX_NUMEL, so strides never overflow even for empty shapes)
 * and return its element count. */
avf_status avf_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

/* Describe borrowed memory. The tensor does not free `data`. */
avf_status avf_tensor_init_borrowed(avf_tensor *t, void *data, avf_dtype dtype, int ndim,
                                    const int64_t *shape, avf_device *dev);
/* Allocate a contiguous tensor from `pool` for use on stream `s`. On failure
 * `t` is left zeroed (safe to release). Zero-element tensors get data NULL. */
avf_status avf_tensor_alloc(avf_tensor *t, avf_pool *pool, avf_dtype dtype, int ndim,
                            const int64_t *shape, avf_stream *s);
/* Free owned memory back to its pool (s: the stream that last used it), then
 * zero the struct. Borrowed tensors are only zeroed. NULL is ignored. A
 * zeroed struct has data NULL and device NULL: check those, not ndim, to
 * tell a released tensor from a scalar. */
void avf_tensor_release(avf_tensor *t, avf_stream *s);

int64_t avf_tensor_numel(const avf_tensor *t);
size_t avf_tensor_nbytes(const avf_tensor *t);
int avf_tensor_is_contiguous(const avf_tensor *t);
/* Same data, new shape with the same element count; `view` borrows. Needs a
 * contiguous source. One dim may be -1 (inferred). */
avf_status avf_tensor_reshape(const avf_tensor *t, int ndim, const int64_t *shape,
                              avf_tensor *view);
/* "f32[1,3,224,224]@cuda:0" into buf; returns buf. */
const char *avf_tensor_describe(const avf_tensor *t, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_TENSOR_H */
