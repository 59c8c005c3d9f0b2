/* GEMM split across the CPU threads (see blas.h). */
#include "ops/cpu/blas.h"

#include "ops/cpu/parallel.h"

/* Below this many multiply-adds a chunk, a thread costs more than it saves. */
#define AVF_GEMM_PART_MACS (1 << 20) /* ~15-30 us at the GEMM's speed */

typedef struct gemm_job {
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k, lda, ldb, ldc, by_rows;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

static void gemm_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const gemm_job *j = (const gemm_job *)v;
    int len = (int)(hi - lo);
    if (j->by_rows) { /* rows lo..hi of op(A) and C */
        const float *a = j->ta == CblasNoTrans ? j->a + lo * j->lda : j->a + lo;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, len, j->n, j->k, j->alpha, a, j->lda, j->b,
                    j->ldb, j->beta, j->c + lo * j->ldc, j->ldc);
    } else { /* columns lo..hi of op(B) and C */
        const float *b = j->tb == CblasNoTrans ? j->b + lo : j->b + lo * j->ldb;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, j->m, len, j->k, j->alpha, j->a, j->lda, b,
                    j->ldb, j->beta, j->c + lo, j->ldc);
    }
}

/* A product with one row or one column of C is a matrix-vector product.
 * OpenBLAS 0.3.21's sgemm packs both operands first even then: for Silero
 * VAD's LSTM at batch 1 it copied the 512 x 128 weights on every step, a
 * quarter of the whole CPU run (perf, 2-core EPYC); sgemv reads them once.
 * The output vector (C's row or column) is split across the threads like
 * the GEMM's blocks. */
static void gemv_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const gemm_job *j = (const gemm_job *)v;
    const int len = (int)(hi - lo);
    if (j->m == 1) { /* c[0, lo:hi] = alpha a-row . op(B)[:, lo:hi] + beta c */
        const int incx = j->ta == CblasNoTrans ? 1 : j->lda; /* op(A)'s only row */
        if (j->tb == CblasNoTrans) /* B is k x n: columns lo..hi */
            cblas_sgemv(CblasRowMajor, CblasTrans, j->k, len, j->alpha, j->b + lo, j->ldb, j->a,
                        incx, j->beta, j->c + lo, 1);
        else /* B is n x k: rows lo..hi */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, len, j->k, j->alpha, j->b + lo * j->ldb,
                        j->ldb, j->a, incx, j->beta, j->c + lo, 1);
    } else { /* c[lo:hi, 0] (stride ldc) = alpha op(A)[lo:hi, :] b-column + beta c */
        const int incx = j->tb == CblasNoTrans ? j->ldb : 1;
        if (j->ta == CblasNoTrans) /* A is m x k: rows lo..hi */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, len, j->k, j->alpha, j->a + lo * j->lda,
                        j->lda, j->b, incx, j->beta, j->c + lo * j->ldc, j->ldc);
        else /* A is k x m: columns lo..hi */
            cblas_sgemv(CblasRowMajor, CblasTrans, j->k, len, j->alpha, j->a + lo, j->lda, j->b,
                        incx, j->beta, j->c + lo * j->ldc, j->ldc);
    }
}

static void gemv(const gemm_job *j) {
    const int64_t len = j->m == 1 ? j->n : j->m;
    /* sgemv scales y by beta before adding: with beta 0 an uninitialised C
     * (pool memory) must not let a NaN through 0 * NaN, whatever the
     * OpenBLAS kernel does with a zero factor */
    if (j->beta == 0.0f) {
        const int64_t inc = j->m == 1 ? 1 : j->ldc;
        for (int64_t i = 0; i < len; i++)
            j->c[i * inc] = 0.0f;
    }
    int64_t grain = AVF_GEMM_PART_MACS / j->k;
    if (grain < 64)
        grain = 64;
    if (avf_cpu_threads() < 2 || len <= grain)
        gemv_part((void *)j, 0, len, 0);
    else
        avf_cpu_parallel_for(len, grain, gemv_part, (void *)j);
}

void avf_cpu_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c,
                   int ldc) {
    gemm_job j = {ta, tb, m, n, k, lda, ldb, ldc, 0, alpha, beta, a, b, c};
    if ((m == 1 || n == 1) && m >= 1 && n >= 1 && k >= 1) {
        gemv(&j);
        return;
    }
    int64_t macs = (int64_t)m * n * k;
    int t = avf_cpu_threads(); /* also sets OpenBLAS to one thread */
    if (t < 2 || macs < 2 * (int64_t)AVF_GEMM_PART_MACS || m < 1 || n < 1 || k < 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* columns in blocks of >= 32 (whole vectors), else rows in blocks of >= 8 */
    j.by_rows = n < 64 && m >= 16;
    int64_t len = j.by_rows ? m : n;
    int64_t per_mac = macs / len; /* multiply-adds per row or column */
    int64_t grain = AVF_GEMM_PART_MACS / (per_mac > 0 ? per_mac : 1);
    int64_t min_grain = j.by_rows ? 8 : 32;
    if (grain < min_grain)
        grain = min_grain;
    avf_cpu_parallel_for(len, grain, gemm_part, &j);
}
