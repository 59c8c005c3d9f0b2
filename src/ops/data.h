/* Internal: the data-movement and shape family (src/ops/data*.c).
 *
 * Transpose, Concat, Split, Slice, Pad, Expand, Tile are all one primitive:
 * a "copy map" (avf_copy_map below) that says, for every element of an
 * iteration space, where it goes in the output and which input element (or a
 * border value) it reads. CPU and CUDA each implement the map once; the ops
 * only build maps, so their semantics live in host code shared by both
 * devices. Gather, ScatterND, NonZero, Range, the quantizers and fills have
 * kernels of their own. Everything that only moves bytes works for every
 * dtype (1, 2, 4 or 8 bytes per element).
 *
 * Shape functions read only dtype/ndim/shape of their input tensors (data
 * may be NULL) and write only dtype/ndim/shape of their outputs, so the graph
 * layer can call them with descriptors during shape inference.
 *
 * Reshape, Flatten, Squeeze, Unsqueeze and Identity copy their input
 * (avf_op_copy: one device copy tagged "reshape") until the executor aliases
 * views.
 *
 * NonZero is data dependent: avf_op_nonzero allocates its output itself and
 * synchronizes the context's stream once (see there).
 */
#ifndef AVF_OPS_DATA_H
#define AVF_OPS_DATA_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- copy map */

typedef enum avf_border {
    AVF_BORDER_NONE = 0, /* every input coordinate is in range (checked on build) */
    AVF_BORDER_CONSTANT, /* out of range: the element is `fill` */
    AVF_BORDER_EDGE,     /* clamp to [0, dim) */
    AVF_BORDER_REFLECT,  /* mirror without repeating the edge (numpy 'reflect') */
    AVF_BORDER_WRAP      /* modulo dim (Tile, Pad 'wrap') */
} avf_border;

/* For each index o of the iteration space `shape`:
 *   out offset   = out_base + sum_d o[d] * out_stride[d]
 *   input coord  c[d] = in_start[d] + o[d] * in_step[d], mapped into
 *                  [0, in_dim[d]) by `border` (or, for CONSTANT, making the
 *                  element `fill` when any c[d] is outside)
 *   input offset = in_base + sum_d c[d] * in_stride[d]
 * Strides and offsets are in elements of elem_size bytes. */
typedef struct avf_copy_map {
    int ndim;        /* 0..AVF_MAX_DIMS; 0 = a single element */
    int border;      /* avf_border */
    int elem_size;   /* 1, 2, 4 or 8 */
    int64_t out_base, in_base;
    int64_t shape[AVF_MAX_DIMS];
    int64_t out_stride[AVF_MAX_DIMS];
    int64_t in_start[AVF_MAX_DIMS];
    int64_t in_step[AVF_MAX_DIMS];
    int64_t in_dim[AVF_MAX_DIMS];
    int64_t in_stride[AVF_MAX_DIMS];
    uint64_t fill;   /* CONSTANT: the value's bytes (low elem_size bytes) */
} avf_copy_map;

/* Row-major strides of a shape, in elements. */
void avf_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* Run a map from x's data to y's data (both on ctx->dev; the caller has
 * checked the tensors and validated the map against their sizes). */
avf_status avf_op_copy_map(avf_op_ctx *ctx, const avf_copy_map *m, const avf_tensor *x,
                           avf_tensor *y);

/* ---------------------------------------------------------------- layout */

typedef struct avf_transpose_params {
    int nperm;                    /* 0: reverse the dims */
    int64_t perm[AVF_MAX_DIMS];
} avf_transpose_params;
avf_status avf_transpose_shape(const avf_transpose_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_transpose(avf_op_ctx *ctx, const avf_transpose_params *p, const avf_tensor *x,
                            avf_tensor *y);

typedef struct avf_concat_params {
    int64_t axis; /* may be negative */
} avf_concat_params;
avf_status avf_concat_shape(const avf_concat_params *p, const avf_tensor *const *xs, int n,
                            avf_tensor *y);
avf_status avf_op_concat(avf_op_ctx *ctx, const avf_concat_params *p, const avf_tensor *const *xs,
                         int n, avf_tensor *y);

#define AVF_SPLIT_MAX 64
typedef struct avf_split_params {
    int64_t axis;
    int nsplit;                   /* -1: no sizes given, split evenly */
    int64_t split[AVF_SPLIT_MAX];
    int64_t num_outputs;          /* opset 18 with no sizes: ceil-sized chunks; 0: must divide */
} avf_split_params;
/* ys: n output descriptors (n >= 1). */
avf_status avf_split_shape(const avf_split_params *p, const avf_tensor *x, avf_tensor *const *ys,
                           int n);
avf_status avf_op_split(avf_op_ctx *ctx, const avf_split_params *p, const avf_tensor *x,
                        avf_tensor *const *ys, int n);

/* ---------------------------------------------------------------- windows */

typedef struct avf_slice_params {
    int n;                        /* entries in starts/ends/axes/steps */
    int has_axes, has_steps;      /* 0: axes 0..n-1, steps 1 */
    int64_t starts[AVF_MAX_DIMS], ends[AVF_MAX_DIMS];
    int64_t axes[AVF_MAX_DIMS], steps[AVF_MAX_DIMS];
} avf_slice_params;
avf_status avf_slice_shape(const avf_slice_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_slice(avf_op_ctx *ctx, const avf_slice_params *p, const avf_tensor *x,
                        avf_tensor *y);

typedef struct avf_pad_params {
    int mode;                       /* AVF_BORDER_CONSTANT, EDGE, REFLECT or WRAP */
    int64_t pads[2 * AVF_MAX_DIMS]; /* x's rank: begins then ends; may be negative */
    uint64_t value;                 /* CONSTANT: the value's bytes in x's dtype */
} avf_pad_params;
avf_status avf_pad_shape(const avf_pad_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_pad(avf_op_ctx *ctx, const avf_pad_params *p, const avf_tensor *x, avf_tensor *y);

typedef struct avf_expand_params {
    int ndim;
    int64_t shape[AVF_MAX_DIMS];
} avf_expand_params;
avf_status avf_expand_shape(const avf_expand_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_expand(avf_op_ctx *ctx, const avf_expand_params *p, const avf_tensor *x,
                         avf_tensor *y);

typedef struct avf_tile_params {
    int n;
    int64_t repeats[AVF_MAX_DIMS];
} avf_tile_params;
avf_status avf_tile_shape(const avf_tile_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_tile(avf_op_ctx *ctx, const avf_tile_params *p, const avf_tensor *x,
                       avf_tensor *y);

/* ---------------------------------------------------------------- indexing */

typedef struct avf_gather_params {
    int64_t axis;
} avf_gather_params;
/* indices i64 or i32, negative counts from the end. An index out of range
 * is an error on CPU; on CUDA (which cannot report it without a sync) the
 * output element is zero. */
avf_status avf_gather_shape(const avf_gather_params *p, const avf_tensor *x,
                            const avf_tensor *indices, avf_tensor *y);
avf_status avf_op_gather(avf_op_ctx *ctx, const avf_gather_params *p, const avf_tensor *x,
                         const avf_tensor *indices, avf_tensor *y);

typedef enum avf_scatter_reduction {
    AVF_SCATTER_NONE = 0,
    AVF_SCATTER_ADD,
    AVF_SCATTER_MUL,
    AVF_SCATTER_MAX,
    AVF_SCATTER_MIN
} avf_scatter_reduction;
typedef struct avf_scatternd_params {
    int reduction; /* avf_scatter_reduction */
} avf_scatternd_params;
/* y = data with updates written at indices (i64, last dim k <= rank). With a
 * reduction, updates apply in index order (deterministic). Out-of-range
 * indices: an error on CPU, skipped on CUDA. y may alias data. */
avf_status avf_scatternd_shape(const avf_scatternd_params *p, const avf_tensor *data,
                               const avf_tensor *indices, const avf_tensor *updates,
                               avf_tensor *y);
avf_status avf_op_scatternd(avf_op_ctx *ctx, const avf_scatternd_params *p,
                            const avf_tensor *data, const avf_tensor *indices,
                            const avf_tensor *updates, avf_tensor *y);

/* NonZero: y (unallocated on entry) becomes an owned i64 tensor
 * [rank(x), count] from ctx->pool. Data dependent: on CUDA the count is
 * computed by a kernel and copied to the host, which synchronizes
 * ctx->stream once; the fill is then enqueued without further syncs.
 * Floating -0.0 counts as zero, NaN as non-zero. */
avf_status avf_op_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);

/* ---------------------------------------------------------------- generators */

typedef struct avf_range_params {
    avf_dtype dtype;              /* f32, f64, i16, i32, i64 */
    double start, limit, delta;   /* floating types */
    int64_t istart, ilimit, idelta; /* integer types (exact) */
} avf_range_params;
avf_status avf_range_shape(const avf_range_params *p, avf_tensor *y);
avf_status avf_op_range(avf_op_ctx *ctx, const avf_range_params *p, avf_tensor *y);

typedef struct avf_constant_of_shape_params {
    avf_dtype dtype;
    uint64_t value;               /* the value's bytes in dtype */
    int ndim;
    int64_t shape[AVF_MAX_DIMS];
} avf_constant_of_shape_params;
avf_status avf_constant_of_shape_shape(const avf_constant_of_shape_params *p, avf_tensor *y);
avf_status avf_op_constant_of_shape(avf_op_ctx *ctx, const avf_constant_of_shape_params *p,
                                    avf_tensor *y);

/* Fill y with an element of elem_size(y) bytes. */
avf_status avf_op_fill(avf_op_ctx *ctx, uint64_t value, avf_tensor *y);

/* Write n (<= AVF_MAX_DIMS) int64 values computed on the host into y (an
 * i64 tensor of n elements), without a host buffer that must outlive the
 * call (CUDA: the values travel as kernel arguments). */
avf_status avf_op_write_i64(avf_op_ctx *ctx, const int64_t *vals, int n, avf_tensor *y);

/* ---------------------------------------------------------------- shapes */

typedef struct avf_reshape_params {
    int ndim;
    int64_t shape[AVF_MAX_DIMS];
    int allowzero;                /* 0: a 0 copies x's dim */
} avf_reshape_params;
avf_status avf_reshape_shape(const avf_reshape_params *p, const avf_tensor *x, avf_tensor *y);

typedef struct avf_flatten_params {
    int64_t axis;                 /* in [-rank, rank] */
} avf_flatten_params;
avf_status avf_flatten_shape(const avf_flatten_params *p, const avf_tensor *x, avf_tensor *y);

typedef struct avf_axes_params {
    int naxes;                    /* Squeeze: 0 = every dim of size 1 */
    int64_t axes[AVF_MAX_DIMS];
} avf_axes_params;
avf_status avf_squeeze_shape(const avf_axes_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_unsqueeze_shape(const avf_axes_params *p, const avf_tensor *x, avf_tensor *y);

/* Copy x into y: same dtype and element count, any shapes (Reshape and
 * friends, Identity). One device copy tagged "reshape". */
avf_status avf_op_copy(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);

typedef struct avf_shape_params {
    int64_t start, end;           /* opset 15; end = INT64_MAX for "rank" */
} avf_shape_params;
/* Shape: y is i64 [n]; Size: y is an i64 scalar. Values are computed on the
 * host from x's shape (x's data is not read). */
avf_status avf_shape_shape(const avf_shape_params *p, const avf_tensor *x, avf_tensor *y);
avf_status avf_op_shape(avf_op_ctx *ctx, const avf_shape_params *p, const avf_tensor *x,
                        avf_tensor *y);
avf_status avf_size_shape(const avf_tensor *x, avf_tensor *y);
avf_status avf_op_size(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);

/* ---------------------------------------------------------------- quantization */

typedef struct avf_quant_params {
    int64_t axis;                 /* per-axis scale/zero point along this axis */
    avf_dtype out_dtype;          /* Quantize without zero point: u8 or i8 */
} avf_quant_params;
/* QuantizeLinear: y = saturate(round_half_even(x / scale) + zp); x f32/f16,
 * scale f32/f16 (scalar or 1-D per axis), zp (optional) u8/i8 like scale.
 * DequantizeLinear: y = (x - zp) * scale; x u8/i8/i32; y has scale's dtype. */
avf_status avf_quantize_shape(const avf_quant_params *p, const avf_tensor *x,
                              const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y);
avf_status avf_op_quantize(avf_op_ctx *ctx, const avf_quant_params *p, const avf_tensor *x,
                           const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y);
avf_status avf_dequantize_shape(const avf_quant_params *p, const avf_tensor *x,
                                const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y);
avf_status avf_op_dequantize(avf_op_ctx *ctx, const avf_quant_params *p, const avf_tensor *x,
                             const avf_tensor *scale, const avf_tensor *zp, avf_tensor *y);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_DATA_H */
