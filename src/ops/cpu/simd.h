/* Internal: runtime ISA dispatch for the CPU kernels.
 *
 * The library is built for the baseline x86-64 (CI and users run it on other
 * CPUs, so no -march). A hot loop is written once as an always-inline body
 * and instantiated twice: plain, and under AVF_CPU_TARGET_AVX2 (AVX2 + FMA),
 * where GCC vectorizes it 8 floats wide. avf_cpu_has_avx2() picks one at run
 * time. The files holding such kernels are compiled with -O3 and
 * -ffp-contract=fast (src/CMakeLists.txt): the default build's -O2 only
 * vectorizes with the "very cheap" cost model, and -std=c11 turns FMA
 * contraction off.
 */
#ifndef AVF_OPS_CPU_SIMD_H
#define AVF_OPS_CPU_SIMD_H

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define AVF_CPU_X86 1
#define AVF_CPU_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define AVF_CPU_X86 0
#define AVF_CPU_TARGET_AVX2
#endif

#define AVF_CPU_INLINE static inline __attribute__((always_inline))

/* 8 floats / ints as GCC vector extensions: one AVX2 register in the AVX2
 * instantiation, two SSE halves in the baseline one. Pass them by pointer
 * or through memory, never by value: a 32-byte vector in a baseline
 * function's signature changes the ABI (-Wpsabi). */
typedef float avf_v8f __attribute__((vector_size(32)));
typedef int avf_v8i __attribute__((vector_size(32)));

/* 1 when this CPU runs AVX2 and FMA (and AVF_CPU_ISA is not "base", which
 * forces the plain kernels, e.g. to test them on an AVX2 machine). */
int avf_cpu_has_avx2(void);

#endif /* AVF_OPS_CPU_SIMD_H */
