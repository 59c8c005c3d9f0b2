/* CPU kernel of the fused epilogue (see ops/fused.h): one pass over the
 * elements, in place when y == x.
 *
 * f32 runs span by span: a span is `inner` contiguous elements sharing one
 * bias value (the whole tensor when there is no bias), so there is no
 * division per element, and the activation is a constant inside each
 * instantiated loop (the switch is outside), which lets the compiler
 * vectorize it; baseline and AVX2 + FMA versions are chosen at run time
 * (simd.h). Each element's arithmetic is avf_act_eval's, as on the GPU.
 */
#include "ops/fused.h"

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/simd.h"

/* In place (x == y) or on disjoint spans: the two loops tell the compiler
 * which, so neither needs a run-time overlap test. */
AVF_CPU_INLINE void span_act(avf_act_kind act, const avf_epilogue_params *p, const float *x,
                             float bias, int64_t len, float *y) {
    const float al = p->alpha, be = p->beta, pm = p->post_mul, pa = p->post_add;
    if (x == y) {
        float *restrict z = y;
        for (int64_t i = 0; i < len; i++)
            z[i] = avf_act_eval(act, al, be, pm, pa, z[i] + bias);
    } else {
        const float *restrict a = x;
        float *restrict z = y;
        for (int64_t i = 0; i < len; i++)
            z[i] = avf_act_eval(act, al, be, pm, pa, a[i] + bias);
    }
}

/* The switch is outside the loops: one loop per activation. */
AVF_CPU_INLINE void spans_body(const avf_epilogue_params *p, const float *x, const float *b,
                               int64_t channels, int64_t inner, int64_t n, float *y) {
    int64_t len = b ? inner : n, spans = b ? n / inner : 1;
    for (int64_t s = 0; s < spans; s++) {
        const float bv = b ? b[s % channels] : 0.0f;
        const float *xs = x + s * len;
        float *ys = y + s * len;
        switch (p->act) {
        case AVF_ACT_NONE: span_act(AVF_ACT_NONE, p, xs, bv, len, ys); break;
        case AVF_ACT_RELU: span_act(AVF_ACT_RELU, p, xs, bv, len, ys); break;
        case AVF_ACT_LEAKY_RELU: span_act(AVF_ACT_LEAKY_RELU, p, xs, bv, len, ys); break;
        case AVF_ACT_CLIP: span_act(AVF_ACT_CLIP, p, xs, bv, len, ys); break;
        case AVF_ACT_SIGMOID: span_act(AVF_ACT_SIGMOID, p, xs, bv, len, ys); break;
        case AVF_ACT_HARD_SIGMOID: span_act(AVF_ACT_HARD_SIGMOID, p, xs, bv, len, ys); break;
        case AVF_ACT_HARD_SWISH: span_act(AVF_ACT_HARD_SWISH, p, xs, bv, len, ys); break;
        case AVF_ACT_HARD_SWISH6: span_act(AVF_ACT_HARD_SWISH6, p, xs, bv, len, ys); break;
        case AVF_ACT_SWISH: span_act(AVF_ACT_SWISH, p, xs, bv, len, ys); break;
        default: span_act(AVF_ACT_COUNT, p, xs, bv, len, ys); break; /* identity, as eval */
        }
    }
}

typedef void (*spans_fn)(const avf_epilogue_params *, const float *, const float *, int64_t,
                         int64_t, int64_t, float *);

static void spans_base(const avf_epilogue_params *p, const float *x, const float *b,
                       int64_t channels, int64_t inner, int64_t n, float *y) {
    spans_body(p, x, b, channels, inner, n, y);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static void spans_avx2(const avf_epilogue_params *p, const float *x,
                                           const float *b, int64_t channels, int64_t inner,
                                           int64_t n, float *y) {
    spans_body(p, x, b, channels, inner, n, y);
}
#endif

/* Threads split the spans (with a bias) or the elements (without). */
typedef struct epi_job {
    const avf_epilogue_params *p;
    const float *x, *b;
    float *y;
    int64_t channels, inner;
    spans_fn run;
} epi_job;

static void epi_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const epi_job *j = (const epi_job *)v;
    if (!j->b) {
        j->run(j->p, j->x + lo, NULL, 1, 1, hi - lo, j->y + lo);
        return;
    }
    /* spans lo..hi: the channel of span s is s % channels */
    for (int64_t s = lo; s < hi;) {
        int64_t c = s % j->channels, cnt = j->channels - c;
        if (cnt > hi - s)
            cnt = hi - s;
        j->run(j->p, j->x + s * j->inner, j->b + c, j->channels, j->inner, cnt * j->inner,
               j->y + s * j->inner);
        s += cnt;
    }
}

avf_status avf_cpu_epilogue(avf_op_ctx *ctx, const avf_epilogue_params *p, const avf_tensor *x,
                            const avf_tensor *bias, int64_t channels, int64_t inner,
                            avf_tensor *y) {
    (void)ctx;
    int64_t n = avf_tensor_numel(x);
    const avf_act_kind act = p->act;
    const float al = p->alpha, be = p->beta, pm = p->post_mul, pa = p->post_add;
    if (x->dtype == AVF_DTYPE_F32) {
        if (bias && (inner < 1 || channels < 1 || n % inner != 0))
            return AVF_FAIL(AVF_ERR_INTERNAL, "epilogue: %lld elements, inner %lld",
                            (long long)n, (long long)inner);
        epi_job j = {p, (const float *)x->data, bias ? (const float *)bias->data : NULL,
                     (float *)y->data, channels, inner, spans_base};
#if AVF_CPU_X86
        if (avf_cpu_has_avx2())
            j.run = spans_avx2;
#endif
        /* a chunk: at least 64k elements (~20 us) */
        int64_t grain = bias ? (1 << 16) / inner : 1 << 16;
        avf_cpu_parallel_for(bias ? n / inner : n, grain, epi_part, &j);
        return AVF_OK;
    }
    if (x->dtype == AVF_DTYPE_F16) {
        const uint16_t *xs = (const uint16_t *)x->data;
        const uint16_t *b = bias ? (const uint16_t *)bias->data : NULL;
        uint16_t *ys = (uint16_t *)y->data;
        for (int64_t i = 0; i < n; i++) {
            float v = avf_f16_to_f32(xs[i]);
            if (b)
                v += avf_f16_to_f32(b[(i / inner) % channels]);
            ys[i] = avf_f32_to_f16(avf_act_eval(act, al, be, pm, pa, v));
        }
        return AVF_OK;
    }
    return AVF_FAIL(AVF_ERR_INTERNAL, "epilogue: dtype %s", avf_dtype_name(x->dtype));
}
