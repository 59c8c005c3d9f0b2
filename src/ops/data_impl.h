/* Internal: what the data family's entry points (src/ops/data*.c) hand to
 * the CPU (src/ops/cpu/data*.c) and CUDA (src/ops/cuda/data*.cu) kernels.
 * Geometry is computed and validated once on the host; the kernels trust it. */
#ifndef AVF_OPS_DATA_IMPL_H
#define AVF_OPS_DATA_IMPL_H

#include "ops/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[o, j, i] = x[o, idx[j], i]  (o < outer, j < nidx, i < inner). */
typedef struct avf_gather_geom {
    int elem_size;
    int idx_i64;     /* 1: indices are i64, 0: i32 */
    int64_t outer, axis_dim, inner, nidx;
} avf_gather_geom;

/* ScatterND: for u < nupd, the k indices idx[u*k .. u*k+k) select a slice of
 * `slice` elements at offset sum idx[i]*stride[i] of y; updates[u] (slice
 * elements) are written or combined into it. */
typedef struct avf_scatter_geom {
    avf_dtype dtype;
    int reduction;   /* avf_scatter_reduction */
    int k;
    int64_t dims[AVF_MAX_DIMS];    /* y's first k dims */
    int64_t stride[AVF_MAX_DIMS];  /* their strides in elements */
    int64_t nupd, slice;
} avf_scatter_geom;

/* Quantize/Dequantize: n elements; the scale/zero point index of element e
 * is (e / inner) % axis_dim when per_axis, else 0. */
typedef struct avf_quant_geom {
    avf_dtype xt, st, zt, yt;      /* zt: the zero point's dtype (valid when has_zp) */
    int has_zp, per_axis;
    int64_t n, axis_dim, inner;
} avf_quant_geom;

/* True when the dtype's zero test must ignore the sign bit (-0.0 is zero). */
static inline int avf_dtype_is_float(avf_dtype dt) {
    return dt == AVF_DTYPE_F32 || dt == AVF_DTYPE_F64 || dt == AVF_DTYPE_F16 ||
           dt == AVF_DTYPE_BF16;
}

/* Checks shared by the entry points (src/ops/data*.c): t is a usable tensor
 * on ctx's device whose dtype and shape equal want's. */
avf_status avf_data_check_like(const avf_op_ctx *ctx, const avf_tensor *t, const avf_tensor *want,
                               const char *what);
/* Validate a map against the element counts of its input and output (every
 * offset it can produce is inside them). */
avf_status avf_copy_map_check(const avf_copy_map *m, int64_t x_numel, int64_t y_numel);

/* ---- CPU kernels (src/ops/cpu/data*.c) ---- */
void avf_cpu_copy_map(const avf_copy_map *m, const void *x, void *y);
void avf_cpu_fill(int elem_size, uint64_t value, int64_t n, void *y);
avf_status avf_cpu_gather(const avf_gather_geom *g, const void *x, const void *idx, void *y);
avf_status avf_cpu_scatternd(const avf_scatter_geom *g, const int64_t *idx, const void *upd,
                             void *y);
avf_status avf_cpu_nonzero(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y);
void avf_cpu_range(const avf_range_params *p, int64_t n, void *y);
void avf_cpu_quantize(const avf_quant_geom *g, const void *x, const void *scale, const void *zp,
                      void *y);
void avf_cpu_dequantize(const avf_quant_geom *g, const void *x, const void *scale,
                        const void *zp, void *y);

#ifdef __cplusplus
}
#endif

/* An input coordinate mapped into [0, n) by the border rule; *outside is set
 * for CONSTANT when it falls outside. Shared by the CPU and CUDA copy kernels. */
AVF_HD int64_t avf_border_coord(int border, int64_t c, int64_t n, int *outside) {
    switch (border) {
    case AVF_BORDER_CONSTANT:
        if (c < 0 || c >= n)
            *outside = 1;
        return c;
    case AVF_BORDER_EDGE:
        return c < 0 ? 0 : (c >= n ? n - 1 : c);
    case AVF_BORDER_REFLECT: {
        if (n == 1)
            return 0;
        int64_t period = 2 * (n - 1);
        c %= period;
        if (c < 0)
            c += period;
        return c >= n ? period - c : c;
    }
    case AVF_BORDER_WRAP:
        c %= n;
        return c < 0 ? c + n : c;
    default:
        return c;
    }
}

#endif /* AVF_OPS_DATA_IMPL_H */
