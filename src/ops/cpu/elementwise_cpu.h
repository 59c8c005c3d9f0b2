/* Internal: the elementwise family's CPU kernels (reference; see
 * ops/elementwise.h for the semantics). Called by the entry points after
 * every check, with non-empty tensors. */
#ifndef AVF_OPS_CPU_ELEMENTWISE_CPU_H
#define AVF_OPS_CPU_ELEMENTWISE_CPU_H

#include "ops/elementwise.h"

avf_status avf_cpu_unary(const avf_unary_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_cpu_cast(const avf_tensor *x, avf_tensor *y);
/* binary_f32.c: one f32 row of Add/Sub/Mul when the innermost strides are
 * (1, 1), (1, 0) or (0, 1); returns 0 (nothing written) otherwise. */
int avf_cpu_binary_f32_fast(avf_binary_op op, const float *a, int64_t sa, const float *b,
                            int64_t sb, float *o, int64_t n);
avf_status avf_cpu_binary(avf_binary_op op, const avf_ew_bcast *bc, const avf_tensor *a,
                          const avf_tensor *b, avf_tensor *out);
avf_status avf_cpu_where(const avf_ew_bcast *bc, const avf_tensor *cond, const avf_tensor *x,
                         const avf_tensor *y, avf_tensor *out);

/* Per-element access by dtype, shared by Cast and mixed-dtype Pow. */
int avf_cpu_ew_is_float(avf_dtype d);
double avf_cpu_ew_load_f(avf_dtype d, const void *p, int64_t i);
int64_t avf_cpu_ew_load_i(avf_dtype d, const void *p, int64_t i);
/* Store v converted to dtype d (float -> int: see elementwise.h). */
void avf_cpu_ew_store_f(avf_dtype d, void *p, int64_t i, double v);
void avf_cpu_ew_store_i(avf_dtype d, void *p, int64_t i, int64_t v);
/* Float -> int64: truncate toward zero, saturate, NaN -> 0. */
int64_t avf_cpu_ew_f2i(double v);
/* Float -> u64: as f2i below 2^63, by value up to 2^64, saturating above. */
uint64_t avf_cpu_ew_f2u64(double v);

#endif /* AVF_OPS_CPU_ELEMENTWISE_CPU_H */
