/* Internal: GEMM for the CPU kernels, split across the CPU threads
 * (cpu/parallel.h) with single-threaded OpenBLAS calls on each part. */
#ifndef AVF_OPS_CPU_BLAS_H
#define AVF_OPS_CPU_BLAS_H

#include <cblas.h>

/* cblas_sgemm's contract (row-major): C = alpha op(A) op(B) + beta C, C is
 * m x n with leading dim ldc. Large products are cut into column blocks of
 * C (or row blocks when C is narrow), one per thread; each block is the
 * same GEMM on a sub-matrix, so results do not depend on the thread count
 * beyond OpenBLAS's own blocking. */
void avf_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c,
                   int ldc);

#endif /* AVF_OPS_CPU_BLAS_H */
