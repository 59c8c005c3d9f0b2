/* Internal: the reduce / normalization op family (see ops/op.h).
 *
 *   ReduceSum/Mean/Max/Min   avf_op_reduce          f32, f16 (Sum/Max/Min also i64)
 *   ArgMax                   avf_op_argmax          f32, f16, i64 -> i64
 *   Softmax, LogSoftmax      avf_op_softmax         f32, f16
 *   LayerNormalization       avf_op_layernorm       f32, f16 (Mean/InvStdDev f32)
 *   BatchNormalization       avf_op_batchnorm       f32, f16 (inference)
 *                            avf_op_batchnorm_train f32, f16 (training_mode=1)
 *   GlobalAveragePool        avf_op_global_avg_pool f32, f16
 *   CumSum                   avf_op_cumsum          f32, f16, f64, i64, i32
 *   TopK                     avf_op_topk            f32, f16, i64 -> values, i64 indices
 *
 * Axes are ONNX axes (negative counts from the end); params hold them as
 * given and the shape functions normalize and validate them. Reductions in
 * f32/f16 accumulate in f32 on CUDA and in double on the CPU; i64 in i64.
 * Reducing over an empty set gives ONNX's identities: Sum 0, Mean NaN,
 * Max -inf (i64: INT64_MIN), Min +inf (i64: INT64_MAX). Max/Min, ArgMax and
 * TopK treat NaN as larger than every number (NaN propagates through Max
 * and Min).
 */
#ifndef AVF_OPS_REDUCE_H
#define AVF_OPS_REDUCE_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- reduce */

typedef enum avf_reduce_kind {
    AVF_REDUCE_SUM = 0,
    AVF_REDUCE_MEAN,
    AVF_REDUCE_MAX,
    AVF_REDUCE_MIN,
    AVF_REDUCE_KIND_COUNT
} avf_reduce_kind;

typedef struct avf_reduce_params {
    avf_reduce_kind kind;
    int n_axes;                   /* 0: no axes given (all, or identity with noop) */
    int64_t axes[AVF_MAX_DIMS];
    int keepdims;
    int noop_with_empty_axes;     /* with n_axes == 0: output = input */
} avf_reduce_params;

/* Validates axes (in range, no duplicates) and dtype; out dtype = input's. */
avf_status avf_reduce_shape(const avf_reduce_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims, avf_dtype *out_dt, int *out_ndim,
                            int64_t *out_dims);
avf_status avf_op_reduce(avf_op_ctx *ctx, const avf_reduce_params *p, const avf_tensor *x,
                         avf_tensor *y);

/* The tensor seen as kept and reduced dimensions, adjacent dims of the same
 * kind merged and dims of size 1 dropped (outer to inner). Input strides are
 * in elements; outputs are the kept dims in order, contiguous. */
typedef struct avf_reduce_view {
    int nk, nr;
    int64_t k_size[AVF_MAX_DIMS], k_stride[AVF_MAX_DIMS];
    int64_t r_size[AVF_MAX_DIMS], r_stride[AVF_MAX_DIMS];
    int64_t m;             /* output elements (product of kept dims) */
    int64_t r;             /* elements reduced into each output */
    int inner_reduced;     /* the innermost merged dim is a reduced one (stride 1) */
} avf_reduce_view;

/* reduced[d] != 0 marks dim d as reduced. */
void avf_reduce_view_make(int ndim, const int64_t *dims, const int *reduced, avf_reduce_view *v);

/* ---------------------------------------------------------------- ArgMax */

typedef struct avf_argmax_params {
    int64_t axis;
    int keepdims;
    int select_last_index;
} avf_argmax_params;

avf_status avf_argmax_shape(const avf_argmax_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims, int *out_ndim, int64_t *out_dims);
/* y: i64. Ties go to the first index (the last with select_last_index). */
avf_status avf_op_argmax(avf_op_ctx *ctx, const avf_argmax_params *p, const avf_tensor *x,
                         avf_tensor *y);

/* ---------------------------------------------------------------- Softmax */

typedef struct avf_softmax_params {
    int64_t axis;
    int legacy;  /* opset < 13: the input is seen as 2-D [prod(dims[:axis]), prod(dims[axis:])] */
    int log;     /* LogSoftmax */
} avf_softmax_params;

/* Output shape = input shape. */
avf_status avf_softmax_shape(const avf_softmax_params *p, avf_dtype dt, int ndim,
                             const int64_t *dims);
avf_status avf_op_softmax(avf_op_ctx *ctx, const avf_softmax_params *p, const avf_tensor *x,
                          avf_tensor *y);

/* The [outer, n, inner] view of a softmax (also used by ArgMax, CumSum and
 * TopK with legacy = 0). */
avf_status avf_axis_view(int ndim, const int64_t *dims, int64_t axis, int legacy,
                         int64_t *outer, int64_t *n, int64_t *inner);

/* ---------------------------------------------------------------- LayerNormalization */

typedef struct avf_layernorm_params {
    int64_t axis;
    float epsilon;
} avf_layernorm_params;

/* Normalizes over dims[axis:]. scale (and bias when non-NULL) must have as
 * many elements as that block (any shape that broadcasts to it exactly, i.e.
 * equal after dropping leading 1s) or a single element. Mean and InvStdDev
 * have shape dims[:axis] + [1]*(ndim-axis) and dtype f32. */
avf_status avf_layernorm_shape(const avf_layernorm_params *p, const avf_tensor *x,
                               const avf_tensor *scale, const avf_tensor *bias, int *stat_ndim,
                               int64_t *stat_dims);
/* bias, mean, inv_std may be NULL. */
avf_status avf_op_layernorm(avf_op_ctx *ctx, const avf_layernorm_params *p, const avf_tensor *x,
                            const avf_tensor *scale, const avf_tensor *bias, avf_tensor *y,
                            avf_tensor *mean, avf_tensor *inv_std);

/* ---------------------------------------------------------------- BatchNormalization */

typedef struct avf_batchnorm_params {
    float epsilon;
    float momentum; /* training only: running = running * momentum + batch * (1 - momentum) */
    int training;   /* the node's training_mode (the exec op picks the entry point by it) */
} avf_batchnorm_params;

/* x: [N, C, ...] (rank >= 2); scale, bias, mean, var: [C], each f32 or x's
 * dtype. y = (x - mean) / sqrt(var + eps) * scale + bias, shape of x. */
avf_status avf_batchnorm_shape(const avf_batchnorm_params *p, const avf_tensor *x,
                               const avf_tensor *scale, const avf_tensor *bias,
                               const avf_tensor *mean, const avf_tensor *var);
avf_status avf_op_batchnorm(avf_op_ctx *ctx, const avf_batchnorm_params *p, const avf_tensor *x,
                            const avf_tensor *scale, const avf_tensor *bias,
                            const avf_tensor *mean, const avf_tensor *var, avf_tensor *y);
/* training_mode=1 (ONNX opset >= 14): y is normalized with the batch's own
 * statistics (per channel over N and the spatial dims; the variance is the
 * biased one), and run_mean/run_var (each may be NULL; shape and dtype of
 * mean/var) get mean * momentum + batch_mean * (1 - momentum), likewise for
 * var. The batch statistics live in f32 scratch from ctx->pool. */
avf_status avf_op_batchnorm_train(avf_op_ctx *ctx, const avf_batchnorm_params *p,
                                  const avf_tensor *x, const avf_tensor *scale,
                                  const avf_tensor *bias, const avf_tensor *mean,
                                  const avf_tensor *var, avf_tensor *y, avf_tensor *run_mean,
                                  avf_tensor *run_var);

/* ---------------------------------------------------------------- GlobalAveragePool */

/* x: [N, C, spatial...] (rank >= 2) -> [N, C, 1, ...]. */
avf_status avf_global_avg_pool_shape(avf_dtype dt, int ndim, const int64_t *dims, int *out_ndim,
                                     int64_t *out_dims);
avf_status avf_op_global_avg_pool(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);

/* ---------------------------------------------------------------- CumSum */

typedef struct avf_cumsum_params {
    int64_t axis;
    int exclusive;
    int reverse;
} avf_cumsum_params;

/* Output shape = input shape. */
avf_status avf_cumsum_shape(const avf_cumsum_params *p, avf_dtype dt, int ndim,
                            const int64_t *dims);
avf_status avf_op_cumsum(avf_op_ctx *ctx, const avf_cumsum_params *p, const avf_tensor *x,
                         avf_tensor *y);

/* ---------------------------------------------------------------- TopK */

typedef struct avf_topk_params {
    int64_t axis;
    int64_t k;
    int largest;
    int sorted;   /* results are always sorted (allowed when 0) */
} avf_topk_params;

/* 0 <= k <= dims[axis]; both outputs have dims with dims[axis] = k. */
avf_status avf_topk_shape(const avf_topk_params *p, avf_dtype dt, int ndim, const int64_t *dims,
                          int *out_ndim, int64_t *out_dims);
/* values: x's dtype; indices: i64. Equal values keep the lower index first. */
avf_status avf_op_topk(avf_op_ctx *ctx, const avf_topk_params *p, const avf_tensor *x,
                       avf_tensor *values, avf_tensor *indices);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_REDUCE_H */
