/* Internal: CPU kernels of the reduce family (src/ops/cpu/reduce*.c,
 * softmax.c, norm.c). Called by the entry points in src/ops/reduce.c and
 * src/ops/norm.c with tensors already checked (device, dtype, shape) and the
 * geometry resolved; they only compute. [outer, n, inner] is the view of a
 * single-axis op: the axis has n elements and stride `inner`.
 */
#ifndef AVF_OPS_CPU_REDUCE_CPU_H
#define AVF_OPS_CPU_REDUCE_CPU_H

#include <math.h>

#include "core/half.h"
#include "ops/reduce.h"

/* The sum of n floats in double through eight running sums, combined
 * pairwise: one running sum is a chain of dependent adds (4 cycles each),
 * which was 11 % of PP-OCR cls on the CPU (its GlobalAveragePools; perf,
 * 2-core EPYC). Reduce's Sum/Mean and the pools' whole-plane average. */
static inline double avf_cpu_sum8_f32(const float *p, int64_t n) {
    double s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int q = 0; q < 8; q++)
            s8[q] += p[i + q];
    for (; i < n; i++)
        s8[0] += p[i];
    return ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
}

/* Element i of a float-kind (f32, f16) or integer (i64, i32) buffer as a
 * double, and back (rounding once). */
static inline double avf_cpu_ld(const void *p, avf_dtype dt, int64_t i) {
    switch (dt) {
    case AVF_DTYPE_F32: return ((const float *)p)[i];
    case AVF_DTYPE_F16: return avf_f16_to_f32(((const uint16_t *)p)[i]);
    case AVF_DTYPE_F64: return ((const double *)p)[i];
    case AVF_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case AVF_DTYPE_I32: return ((const int32_t *)p)[i];
    default: return NAN;
    }
}

static inline void avf_cpu_st(void *p, avf_dtype dt, int64_t i, double v) {
    switch (dt) {
    case AVF_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case AVF_DTYPE_F16: ((uint16_t *)p)[i] = avf_f32_to_f16((float)v); break;
    case AVF_DTYPE_F64: ((double *)p)[i] = v; break;
    default: break;
    }
}

/* Scratch host memory from the context's pool (CPU pools hand out host
 * memory); freed with avf_cpu_red_scratch_free. */
avf_status avf_cpu_red_scratch(avf_op_ctx *ctx, size_t bytes, void **p);
void avf_cpu_red_scratch_free(avf_op_ctx *ctx, void *p);

avf_status avf_cpu_reduce(avf_op_ctx *ctx, avf_reduce_kind kind, const avf_reduce_view *v,
                          const avf_tensor *x, avf_tensor *y);
avf_status avf_cpu_argmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                          int select_last, const avf_tensor *x, avf_tensor *y);
avf_status avf_cpu_softmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int is_log,
                           const avf_tensor *x, avf_tensor *y);
/* rows of n elements; scale/bias have n or 1 elements (bias may be NULL). */
avf_status avf_cpu_layernorm(avf_op_ctx *ctx, int64_t rows, int64_t n, float eps,
                             const avf_tensor *x, const avf_tensor *scale,
                             const avf_tensor *bias, avf_tensor *y, avf_tensor *mean,
                             avf_tensor *inv_std);
/* x as [batch, c, spatial]. */
avf_status avf_cpu_batchnorm(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                             float eps, const avf_tensor *x, const avf_tensor *scale,
                             const avf_tensor *bias, const avf_tensor *mean,
                             const avf_tensor *var, avf_tensor *y);
/* Batch statistics of x as [batch, c, spatial] into f32 [c] bmean/bvar
 * (biased variance); run_mean/run_var (may be NULL, dtype of mean/var) =
 * mean/var * momentum + batch statistic * (1 - momentum). */
avf_status avf_cpu_batchnorm_stats(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                                 float momentum, const avf_tensor *x, const avf_tensor *mean,
                                 const avf_tensor *var, avf_tensor *bmean, avf_tensor *bvar,
                                 avf_tensor *run_mean, avf_tensor *run_var);
avf_status avf_cpu_cumsum(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                          int exclusive, int reverse, const avf_tensor *x, avf_tensor *y);
avf_status avf_cpu_topk(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int64_t k,
                        int largest, const avf_tensor *x, avf_tensor *values,
                        avf_tensor *indices);

#endif /* AVF_OPS_CPU_REDUCE_CPU_H */
