/* CPU kernels: CumSum and TopK over the middle axis of [outer, n, inner]. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/reduce_cpu.h"

avf_status avf_cpu_cumsum(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner,
                          int exclusive, int reverse, const avf_tensor *x, avf_tensor *y) {
    (void)ctx;
    avf_dtype dt = x->dtype;
    int is_int = dt == AVF_DTYPE_I64 || dt == AVF_DTYPE_I32;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            double af = 0.0;
            uint64_t ai = 0; /* integer sums wrap like the hardware's */
            for (int64_t t = 0; t < n; t++) {
                int64_t k = reverse ? n - 1 - t : t;
                int64_t e = base + k * inner;
                if (is_int) {
                    uint64_t v = dt == AVF_DTYPE_I64 ? (uint64_t)((const int64_t *)x->data)[e]
                                                     : (uint64_t)(int64_t)((const int32_t *)x->data)[e];
                    uint64_t out = exclusive ? ai : ai + v;
                    ai += v;
                    if (dt == AVF_DTYPE_I64)
                        ((int64_t *)y->data)[e] = (int64_t)out;
                    else
                        ((int32_t *)y->data)[e] = (int32_t)(uint32_t)out;
                } else {
                    double v = avf_cpu_ld(x->data, dt, e);
                    double out = exclusive ? af : af + v;
                    af += v;
                    avf_cpu_st(y->data, dt, e, out);
                }
            }
        }
    return AVF_OK;
}

/* ---------------------------------------------------------------- TopK */

typedef struct topk_item {
    double f;   /* the value (float kinds) */
    int64_t i;  /* the value (i64) */
    int64_t idx;
} topk_item;

/* Total orders: NaN above every number; equal values by ascending index. */
static int cmp_nan_last(double a, double b) {
    int na = a != a, nb = b != b;
    if (na || nb)
        return na - nb;
    return (a > b) - (a < b);
}

static int by_idx(const topk_item *a, const topk_item *b) {
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_f_large(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = cmp_nan_last(b->f, a->f);
    return c ? c : by_idx(a, b);
}

static int cmp_f_small(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = cmp_nan_last(a->f, b->f);
    return c ? c : by_idx(a, b);
}

static int cmp_i_large(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = (b->i > a->i) - (b->i < a->i);
    return c ? c : by_idx(a, b);
}

static int cmp_i_small(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int c = (a->i > b->i) - (a->i < b->i);
    return c ? c : by_idx(a, b);
}

avf_status avf_cpu_topk(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int64_t k,
                        int largest, const avf_tensor *x, avf_tensor *values,
                        avf_tensor *indices) {
    avf_dtype dt = x->dtype;
    int is_int = dt == AVF_DTYPE_I64;
    topk_item *items;
    AVF_TRY(avf_cpu_red_scratch(ctx, (size_t)n * sizeof *items, (void **)&items));
    int (*cmp)(const void *, const void *) =
        is_int ? (largest ? cmp_i_large : cmp_i_small) : (largest ? cmp_f_large : cmp_f_small);
    int64_t *ip = (int64_t *)indices->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            for (int64_t t = 0; t < n; t++) {
                items[t].idx = t;
                if (is_int)
                    items[t].i = ((const int64_t *)x->data)[base + t * inner];
                else
                    items[t].f = avf_cpu_ld(x->data, dt, base + t * inner);
            }
            qsort(items, (size_t)n, sizeof *items, cmp);
            int64_t obase = o * k * inner + i;
            for (int64_t t = 0; t < k; t++) {
                int64_t e = obase + t * inner;
                ip[e] = items[t].idx;
                if (is_int)
                    ((int64_t *)values->data)[e] = items[t].i;
                else
                    avf_cpu_st(values->data, dt, e, items[t].f);
            }
        }
    avf_cpu_red_scratch_free(ctx, items);
    return AVF_OK;
}
