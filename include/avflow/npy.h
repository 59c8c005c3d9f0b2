/* avflow .npy files: NumPy's array format, for feeding models and saving
 * their outputs (`avflow run`).
 *
 * Supported: format versions 1.0, 2.0 and 3.0; little-endian (or
 * byte-order-free) data in C order of the dtypes avf_tensor has:
 *   f32 '<f4', f16 '<f2', f64 '<f8', i64 '<i8', i32 '<i4', i16 '<i2',
 *   i8 '|i1', u8 '|u1', u16 '<u2', u32 '<u4', u64 '<u8', bool '|b1', and bf16 as 'bfloat16' (the name the
 *   ml_dtypes package registers with NumPy).
 * Rejected with a status: fortran_order True (AVF_ERR_UNSUPPORTED),
 * big-endian data or other dtypes (AVF_ERR_UNSUPPORTED), malformed or
 * oversized headers and truncated data (AVF_ERR_CORRUPT). The header is
 * parsed with bounds (at most 64 KiB, at most AVF_MAX_DIMS dims); never
 * evaluated.
 */
#ifndef AVFLOW_NPY_H
#define AVFLOW_NPY_H

#include <stddef.h>

#include "avflow/pool.h"
#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse .npy bytes into a new tensor allocated from `pool` (a pool of the
 * CPU device). The caller releases it with avf_tensor_release(out, NULL).
 * On failure *out is zeroed. Bytes after the data are ignored. */
avf_status avf_npy_read_memory(const void *data, size_t len, avf_pool *pool, avf_tensor *out);
/* Read a file (AVF_ERR_NOT_FOUND / AVF_ERR_IO when it cannot be read). */
avf_status avf_npy_read(const char *path, avf_pool *pool, avf_tensor *out);

/* Serialize a contiguous CPU tensor: *out is malloc'd (free() it). */
avf_status avf_npy_write_memory(const avf_tensor *t, void **out, size_t *len);
/* Write a contiguous CPU tensor to `path` (created or truncated). */
avf_status avf_npy_write(const char *path, const avf_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_NPY_H */
