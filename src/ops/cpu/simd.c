/* Runtime ISA detection for the CPU kernels (see simd.h). */
#include "ops/cpu/simd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int avf_cpu_has_avx2(void) {
    /* -1 until the first call; concurrent first calls store the same value */
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("AVF_CPU_ISA");
        v = 0;
#if AVF_CPU_X86
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
        if (e && !strcmp(e, "base"))
            v = 0;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}
