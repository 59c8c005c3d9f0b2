/* CPU kernels: Reduce{Sum,Mean,Max,Min} and ArgMax.
 *
 * Reductions walk the input in memory order: when the innermost dim is
 * reduced each output folds contiguous runs; when it is kept, a row of
 * accumulators folds whole contiguous runs at a time, so neither case
 * strides through memory element by element. Floats accumulate in double. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/reduce_cpu.h"

avf_status avf_cpu_red_scratch(avf_op_ctx *ctx, size_t bytes, void **p) {
    return avf_pool_alloc(ctx->pool, bytes ? bytes : 1, ctx->stream, p);
}

void avf_cpu_red_scratch_free(avf_op_ctx *ctx, void *p) {
    (void)avf_pool_free(ctx->pool, p, ctx->stream);
}

/* Offset of flat index `idx` over dims (sizes, strides), outer to inner. */
static int64_t offset_of(int n, const int64_t *size, const int64_t *stride, int64_t idx) {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (idx % size[d]) * stride[d];
        idx /= size[d];
    }
    return off;
}

static double init_f(avf_reduce_kind k) {
    return k == AVF_REDUCE_MAX ? -INFINITY : k == AVF_REDUCE_MIN ? INFINITY : 0.0;
}

static int64_t init_i(avf_reduce_kind k) {
    return k == AVF_REDUCE_MAX ? INT64_MIN : k == AVF_REDUCE_MIN ? INT64_MAX : 0;
}

/* a = op(a, v); NaN wins Max and Min. */
#define AVF_FOLD_F(kind, a, v)                                         \
    do {                                                               \
        double v_ = (v);                                               \
        if ((kind) == AVF_REDUCE_SUM || (kind) == AVF_REDUCE_MEAN)     \
            (a) += v_;                                                 \
        else if ((kind) == AVF_REDUCE_MAX) {                           \
            if (isnan(v_) || v_ > (a))                                 \
                (a) = v_;                                              \
        } else if (isnan(v_) || v_ < (a))                              \
            (a) = v_;                                                  \
    } while (0)

#define AVF_FOLD_I(kind, a, v)                                         \
    do {                                                               \
        int64_t v_ = (v);                                              \
        if ((kind) == AVF_REDUCE_SUM || (kind) == AVF_REDUCE_MEAN)     \
            (a) = (int64_t)((uint64_t)(a) + (uint64_t)v_);             \
        else if ((kind) == AVF_REDUCE_MAX) {                           \
            if (v_ > (a))                                              \
                (a) = v_;                                              \
        } else if (v_ < (a))                                           \
            (a) = v_;                                                  \
    } while (0)

/* Fold n contiguous elements starting at x[off] into *a. */
static void fold_run_f(avf_reduce_kind kind, avf_dtype dt, const void *x, int64_t off, int64_t n,
                       double *a) {
    double acc = *a;
    if (dt == AVF_DTYPE_F32 && (kind == AVF_REDUCE_SUM || kind == AVF_REDUCE_MEAN) && n >= 16) {
        *a = acc + avf_cpu_sum8_f32((const float *)x + off, n);
        return;
    }
    if (dt == AVF_DTYPE_F32) {
        const float *p = (const float *)x + off;
        for (int64_t i = 0; i < n; i++)
            AVF_FOLD_F(kind, acc, p[i]);
    } else {
        const uint16_t *p = (const uint16_t *)x + off;
        for (int64_t i = 0; i < n; i++)
            AVF_FOLD_F(kind, acc, avf_f16_to_f32(p[i]));
    }
    *a = acc;
}

/* acc[i] = op(acc[i], x[off + i]) for i < n. */
static void fold_vec_f(avf_reduce_kind kind, avf_dtype dt, const void *x, int64_t off, int64_t n,
                       double *acc) {
    if (dt == AVF_DTYPE_F32) {
        const float *p = (const float *)x + off;
        for (int64_t i = 0; i < n; i++)
            AVF_FOLD_F(kind, acc[i], p[i]);
    } else {
        const uint16_t *p = (const uint16_t *)x + off;
        for (int64_t i = 0; i < n; i++)
            AVF_FOLD_F(kind, acc[i], avf_f16_to_f32(p[i]));
    }
}

static double finish_f(avf_reduce_kind kind, double a, int64_t r) {
    return kind == AVF_REDUCE_MEAN ? (r ? a / (double)r : NAN) : a;
}

static avf_status reduce_float(avf_op_ctx *ctx, avf_reduce_kind kind, const avf_reduce_view *v,
                               const avf_tensor *x, avf_tensor *y) {
    avf_dtype dt = x->dtype;
    if (v->r == 0) {
        for (int64_t o = 0; o < v->m; o++)
            avf_cpu_st(y->data, dt, o, finish_f(kind, init_f(kind), 0));
        return AVF_OK;
    }
    if (v->inner_reduced || v->nk == 0) {
        /* the innermost reduced dim is a contiguous run */
        int64_t run = v->nr ? v->r_size[v->nr - 1] : 1;
        int64_t runs = v->r / run;
        for (int64_t o = 0; o < v->m; o++) {
            int64_t base = offset_of(v->nk, v->k_size, v->k_stride, o);
            double a = init_f(kind);
            for (int64_t j = 0; j < runs; j++)
                fold_run_f(kind, dt, x->data, base + offset_of(v->nr - 1, v->r_size, v->r_stride, j),
                           run, &a);
            avf_cpu_st(y->data, dt, o, finish_f(kind, a, v->r));
        }
        return AVF_OK;
    }
    /* the innermost kept dim is a contiguous run of outputs */
    int64_t run = v->k_size[v->nk - 1];
    double *acc;
    AVF_TRY(avf_cpu_red_scratch(ctx, (size_t)run * sizeof *acc, (void **)&acc));
    for (int64_t ob = 0; ob < v->m / run; ob++) {
        int64_t base = offset_of(v->nk - 1, v->k_size, v->k_stride, ob);
        for (int64_t i = 0; i < run; i++)
            acc[i] = init_f(kind);
        for (int64_t j = 0; j < v->r; j++)
            fold_vec_f(kind, dt, x->data, base + offset_of(v->nr, v->r_size, v->r_stride, j), run,
                       acc);
        for (int64_t i = 0; i < run; i++)
            avf_cpu_st(y->data, dt, ob * run + i, finish_f(kind, acc[i], v->r));
    }
    avf_cpu_red_scratch_free(ctx, acc);
    return AVF_OK;
}

static avf_status reduce_i64(avf_op_ctx *ctx, avf_reduce_kind kind, const avf_reduce_view *v,
                             const avf_tensor *x, avf_tensor *y) {
    const int64_t *xp = (const int64_t *)x->data;
    int64_t *yp = (int64_t *)y->data;
    if (v->inner_reduced || v->nk == 0 || v->r == 0) {
        int64_t run = v->nr ? v->r_size[v->nr - 1] : 1;
        int64_t runs = run ? v->r / run : 0;
        for (int64_t o = 0; o < v->m; o++) {
            int64_t base = offset_of(v->nk, v->k_size, v->k_stride, o);
            int64_t a = init_i(kind);
            for (int64_t j = 0; j < runs; j++) {
                const int64_t *p = xp + base + offset_of(v->nr - 1, v->r_size, v->r_stride, j);
                for (int64_t i = 0; i < run; i++)
                    AVF_FOLD_I(kind, a, p[i]);
            }
            yp[o] = a;
        }
        return AVF_OK;
    }
    int64_t run = v->k_size[v->nk - 1];
    for (int64_t ob = 0; ob < v->m / run; ob++) {
        int64_t base = offset_of(v->nk - 1, v->k_size, v->k_stride, ob);
        int64_t *acc = yp + ob * run; /* accumulate in place: same type */
        for (int64_t i = 0; i < run; i++)
            acc[i] = init_i(kind);
        for (int64_t j = 0; j < v->r; j++) {
            const int64_t *p = xp + base + offset_of(v->nr, v->r_size, v->r_stride, j);
            for (int64_t i = 0; i < run; i++)
                AVF_FOLD_I(kind, acc[i], p[i]);
        }
    }
    (void)ctx;
    return AVF_OK;
}

avf_status avf_cpu_reduce(avf_op_ctx *ctx, avf_reduce_kind kind, const avf_reduce_view *v,
                          const avf_tensor *x, avf_tensor *y) {
    if (x->dtype == AVF_DTYPE_I64)
        return reduce_i64(ctx, kind, v, x, y);
    return reduce_float(ctx, kind, v, x, y);
}

/* ---------------------------------------------------------------- ArgMax */

/* a beats the best b so far: greater, NaN above every number; equal values
 * only win when the last index is wanted. */
static int beats_f(double a, double b, int last) {
    if (isnan(a))
        return !isnan(b) || last;
    if (isnan(b))
        return 0;
    return a > b || (last && a == b);
}

avf_status avf_cpu_argmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                          int select_last, const avf_tensor *x, avf_tensor *y) {
    (void)ctx;
    int64_t *yp = (int64_t *)y->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i, best = 0;
            if (x->dtype == AVF_DTYPE_I64) {
                const int64_t *p = (const int64_t *)x->data + base;
                int64_t b = p[0];
                for (int64_t k = 1; k < n; k++) {
                    int64_t a = p[k * inner];
                    if (a > b || (select_last && a == b)) {
                        b = a;
                        best = k;
                    }
                }
            } else {
                double b = avf_cpu_ld(x->data, x->dtype, base);
                for (int64_t k = 1; k < n; k++) {
                    double a = avf_cpu_ld(x->data, x->dtype, base + k * inner);
                    if (beats_f(a, b, select_last)) {
                        b = a;
                        best = k;
                    }
                }
            }
            yp[o * inner + i] = best;
        }
    }
    return AVF_OK;
}
