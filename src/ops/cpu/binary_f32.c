/* The f32 rows of Add, Sub and Mul whose operands are contiguous or one
 * broadcast scalar (the innermost stride 1 or 0): a plain float loop, which
 * -O3 vectorizes, instead of the generic row's per-element double
 * arithmetic at any stride. The result is the same: a product or a sum of
 * two floats is exact in double (up to far-apart exponents, where both
 * round to the larger operand), so rounding it once to float is what the
 * float operation gives. PP-OCR cls's SE-block Muls ([C, H, W] x [C, 1, 1])
 * were 7.5 % of its CPU run in the generic row (perf, 2-core EPYC). */
#include "ops/cpu/elementwise_cpu.h"
#include "ops/cpu/simd.h"

AVF_CPU_INLINE int fast_body(avf_binary_op op, const float *a, int64_t sa, const float *b,
                             int64_t sb, float *o, int64_t n) {
#define AVF_BIN_LOOPS(OPR)                                                                 \
    do {                                                                                   \
        if (sa == 1 && sb == 1)                                                            \
            for (int64_t i = 0; i < n; i++)                                                \
                o[i] = a[i] OPR b[i];                                                      \
        else if (sa == 1 && sb == 0) {                                                     \
            const float y = b[0];                                                          \
            for (int64_t i = 0; i < n; i++)                                                \
                o[i] = a[i] OPR y;                                                         \
        } else {                                                                           \
            const float x = a[0];                                                          \
            for (int64_t i = 0; i < n; i++)                                                \
                o[i] = x OPR b[i];                                                         \
        }                                                                                  \
    } while (0)
    if (!((sa == 1 && (sb == 1 || sb == 0)) || (sa == 0 && sb == 1)))
        return 0;
    switch (op) {
    case AVF_BINARY_ADD: AVF_BIN_LOOPS(+); return 1;
    case AVF_BINARY_SUB: AVF_BIN_LOOPS(-); return 1;
    case AVF_BINARY_MUL: AVF_BIN_LOOPS(*); return 1;
    default: return 0;
    }
#undef AVF_BIN_LOOPS
}

static int fast_base(avf_binary_op op, const float *a, int64_t sa, const float *b, int64_t sb,
                     float *o, int64_t n) {
    return fast_body(op, a, sa, b, sb, o, n);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static int fast_avx2(avf_binary_op op, const float *a, int64_t sa,
                                         const float *b, int64_t sb, float *o, int64_t n) {
    return fast_body(op, a, sa, b, sb, o, n);
}
#endif

int avf_cpu_binary_f32_fast(avf_binary_op op, const float *a, int64_t sa, const float *b,
                            int64_t sb, float *o, int64_t n) {
#if AVF_CPU_X86
    if (avf_cpu_has_avx2())
        return fast_avx2(op, a, sa, b, sb, o, n);
#endif
    return fast_base(op, a, sa, b, sb, o, n);
}
