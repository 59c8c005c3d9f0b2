/* CPU kernels: Softmax and LogSoftmax over the middle axis of [outer, n,
 * inner], stable form: exp(x - max) / sum, log form x - max - log(sum).
 * Lines are split across the CPU threads. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/reduce_cpu.h"
#include "ops/cpu/simd.h"

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

/* exp(t) for t <= 0, 8 at a time: t = k ln2 + r with |r| <= ln2 / 2, e^r
 * by its Taylor series to r^7 (truncation below 6e-9 relative), 2^k from
 * the exponent bits; t below -87 (e^t under FLT_MIN, -inf too) gives 0.
 * Within a few ulps of expf. Why: PP-OCR rec's last Softmax (40 x 6625)
 * was 6.5 % of its CPU run through scalar expf (perf, 2-core EPYC). GCC
 * vector extensions: AVX2 + FMA in the AVX2 build, two SSE halves else. */
AVF_CPU_INLINE void exp8_nonpos(const float *restrict t, float *restrict e) {
    avf_v8f x;
    memcpy(&x, t, sizeof x);
    const avf_v8i under = x < -87.0f; /* lanes of -1 where true */
    x = (avf_v8f)(((avf_v8i)x & ~under) | ((avf_v8i)((avf_v8f){0} - 87.0f) & under)); /* vector casts keep bits */
    /* k = round(x / ln2): x <= 0, so truncating x / ln2 - 0.5 toward zero */
    const avf_v8i k = __builtin_convertvector(x * 1.44269504f - 0.5f, avf_v8i);
    const avf_v8f kk = __builtin_convertvector(k, avf_v8f);
    /* r = x - k ln2 in two steps (Cody-Waite): the first constant has 14
     * significant bits, so k * it is exact for |k| <= 126 */
    const avf_v8f r = (x - kk * 0.693145751953125f) - kk * 1.428606765330187e-06f;
    avf_v8f p = (avf_v8f){0} + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const avf_v8f two_k = (avf_v8f)((k + 127) << 23); /* 2^k, k >= -126: a normal float */
    const avf_v8f out = (avf_v8f)((avf_v8i)(p * two_k) & ~under);
    memcpy(e, &out, sizeof out);
}

/* y[k] = exp(x[k] - mx) for k < n, returns their sum (in double over 8
 * float lanes of at most n / 8 terms each). mx is the line's max, no NaN. */
AVF_CPU_INLINE double exp_store_body(const float *restrict x, float *restrict y, int64_t n,
                                     float mx) {
    double sum = 0.0;
    int64_t k = 0;
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (; k + 8 <= n; k += 8) {
        float t[8], e[8];
        for (int q = 0; q < 8; q++)
            t[q] = x[k + q] - mx;
        exp8_nonpos(t, e);
        for (int q = 0; q < 8; q++) {
            y[k + q] = e[q];
            lanes[q] += e[q];
        }
    }
    for (int q = 0; q < 8; q++)
        sum += lanes[q];
    for (; k < n; k++) { /* the tail: expf, with the same flush below e^-87 */
        const float t = x[k] - mx;
        const float e = t < -87.0f ? 0.0f : expf(t);
        y[k] = e;
        sum += e;
    }
    return sum;
}

static double exp_store_base(const float *x, float *y, int64_t n, float mx) {
    return exp_store_body(x, y, n, mx);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static double exp_store_avx2(const float *x, float *y, int64_t n, float mx) {
    return exp_store_body(x, y, n, mx);
}
#endif

/* A contiguous line (inner == 1, the usual last-axis softmax): each exp is
 * computed once, in f32 (the 8-wide exp above, expf for the tail and for
 * lines with a NaN or an infinite max), stored into y and summed, then scaled; the max and NaN
 * propagation are the strided version's. The log form never needs the exps
 * stored. */
static void softmax_f32_contig(const float *x, float *y, int64_t n, int is_log) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < n; k++)
        if (x[k] > mx || isnan(x[k]))
            mx = x[k];
    double sum = 0.0;
    /* a finite max: the exps' arguments are <= 0 and no NaN (an all -inf
     * line's would be NaN, which the vector exp does not carry) */
    if (!is_log && isfinite(mx)) {
#if AVF_CPU_X86
        sum = avf_cpu_has_avx2() ? exp_store_avx2(x, y, n, mx) : exp_store_base(x, y, n, mx);
#else
        sum = exp_store_base(x, y, n, mx);
#endif
        float inv = (float)(1.0 / sum);
        for (int64_t k = 0; k < n; k++)
            y[k] *= inv;
        return;
    }
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
