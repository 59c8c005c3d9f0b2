/* CPU kernels: Softmax and LogSoftmax over the middle axis of [outer, n,
 * inner], stable form: exp(x - max) / sum, log form x - max - log(sum).
 * Lines are split across the CPU threads. */
#include <math.h>

#include "core/error.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/reduce_cpu.h"

/* One line of n elements at stride `inner`. */
static void softmax_f32_line(const float *x, float *y, int64_t n, int64_t inner, int is_log) {
    double mx = -INFINITY;
    for (int64_t k = 0; k < n; k++)
        if (x[k * inner] > mx || isnan(x[k * inner]))
            mx = x[k * inner];
    double sum = 0.0;
    for (int64_t k = 0; k < n; k++)
        sum += exp((double)x[k * inner] - mx);
    if (is_log) {
        double ls = mx + log(sum);
        for (int64_t k = 0; k < n; k++)
            y[k * inner] = (float)((double)x[k * inner] - ls);
    } else {
        double inv = 1.0 / sum;
        for (int64_t k = 0; k < n; k++)
            y[k * inner] = (float)(exp((double)x[k * inner] - mx) * inv);
    }
}

/* A contiguous line (inner == 1, the usual last-axis softmax): each exp is
 * computed once, in f32 (expf, within an ulp or two), stored into y and
 * summed in double, then scaled; the max and NaN propagation are the strided
 * version's. The log form never needs the exps stored. */
static void softmax_f32_contig(const float *x, float *y, int64_t n, int is_log) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < n; k++)
        if (x[k] > mx || isnan(x[k]))
            mx = x[k];
    double sum = 0.0;
    if (is_log) {
        for (int64_t k = 0; k < n; k++)
            sum += expf(x[k] - mx);
        double ls = (double)mx + log(sum);
        for (int64_t k = 0; k < n; k++)
            y[k] = (float)((double)x[k] - ls);
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        float e = expf(x[k] - mx);
        y[k] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t k = 0; k < n; k++)
        y[k] *= inv;
}

static void softmax_gen_line(const void *x, void *y, avf_dtype dt, int64_t base, int64_t n,
                             int64_t inner, int is_log) {
    double mx = -INFINITY;
    for (int64_t k = 0; k < n; k++) {
        double v = avf_cpu_ld(x, dt, base + k * inner);
        if (v > mx || isnan(v))
            mx = v;
    }
    double sum = 0.0;
    for (int64_t k = 0; k < n; k++)
        sum += exp(avf_cpu_ld(x, dt, base + k * inner) - mx);
    double ls = mx + log(sum), inv = 1.0 / sum;
    for (int64_t k = 0; k < n; k++) {
        double v = avf_cpu_ld(x, dt, base + k * inner);
        avf_cpu_st(y, dt, base + k * inner, is_log ? v - ls : exp(v - mx) * inv);
    }
}

typedef struct softmax_job {
    const avf_tensor *x;
    avf_tensor *y;
    int64_t n, inner;
    int is_log;
} softmax_job;

/* lines [lo, hi) of the outer * inner lines */
static void softmax_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const softmax_job *j = (const softmax_job *)v;
    const int64_t n = j->n, inner = j->inner;
    for (int64_t l = lo; l < hi; l++) {
        int64_t o = l / inner, i = l % inner, base = o * n * inner + i;
        if (j->x->dtype == AVF_DTYPE_F32 && inner == 1)
            softmax_f32_contig((const float *)j->x->data + base, (float *)j->y->data + base, n,
                               j->is_log);
        else if (j->x->dtype == AVF_DTYPE_F32)
            softmax_f32_line((const float *)j->x->data + base, (float *)j->y->data + base, n,
                             inner, j->is_log);
        else
            softmax_gen_line(j->x->data, j->y->data, j->x->dtype, base, n, inner, j->is_log);
    }
}

avf_status avf_cpu_softmax(avf_op_ctx *ctx, int64_t outer, int64_t n, int64_t inner, int is_log,
                           const avf_tensor *x, avf_tensor *y) {
    (void)ctx;
    softmax_job j = {x, y, n, inner, is_log};
    /* lines are independent; a chunk: at least ~32k elements (an exp each) */
    avf_cpu_parallel_for(outer * inner, (1 << 15) / (n > 0 ? n : 1), softmax_part, &j);
    return AVF_OK;
}
