/* The CPU kernels' thread pool (ops/cpu/parallel.h) and the threaded GEMM
 * (ops/cpu/blas.h): every index runs exactly once whatever n, grain and
 * thread count; slots stay in range and never overlap in time; loops from
 * several threads at once and loops inside loops are correct (they run
 * inline); column and row splits of the GEMM match a double reference.
 * Run under ctest with the default thread count and with AVF_CPU_THREADS=3
 * (test_parallel_t3). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "op_test_util.h"
#include "ops/cpu/blas.h"
#include "ops/cpu/parallel.h"

typedef struct count_job {
    atomic_int *hits;
    atomic_int in_slot[64]; /* chunks running in each slot right now */
    atomic_int bad;         /* a slot out of range or used twice at once */
    int nested;             /* run a loop inside each chunk */
} count_job;

static void count_inner(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    atomic_int *c = (atomic_int *)v;
    for (int64_t i = lo; i < hi; i++)
        atomic_fetch_add(&c[i], 1);
}

static void count_chunk(void *v, int64_t lo, int64_t hi, int slot) {
    count_job *j = (count_job *)v;
    if (slot < 0 || slot >= avf_cpu_threads() || slot >= 64) {
        atomic_store(&j->bad, 1);
        return;
    }
    if (atomic_fetch_add(&j->in_slot[slot], 1) != 0)
        atomic_store(&j->bad, 1);
    for (int64_t i = lo; i < hi; i++)
        atomic_fetch_add(&j->hits[i], 1);
    if (j->nested) { /* the pool is busy: this loop runs inline, all of it */
        atomic_int inner[10];
        for (int i = 0; i < 10; i++)
            atomic_init(&inner[i], 0);
        avf_cpu_parallel_for(10, 1, count_inner, inner);
        for (int i = 0; i < 10; i++)
            if (atomic_load(&inner[i]) != 1)
                atomic_store(&j->bad, 1);
    }
    atomic_fetch_sub(&j->in_slot[slot], 1);
}

/* 1 when every index of [0, n) ran once and nothing went wrong. */
static int run_count(int64_t n, int64_t grain, int nested) {
    count_job *j = calloc(1, sizeof *j);
    atomic_int *hits = calloc((size_t)(n > 0 ? n : 1), sizeof *hits);
    if (!j || !hits) {
        free(j);
        free(hits);
        return 0;
    }
    j->hits = hits;
    j->nested = nested;
    avf_cpu_parallel_for(n, grain, count_chunk, j);
    int ok = !atomic_load(&j->bad);
    for (int64_t i = 0; i < n; i++)
        ok &= atomic_load(&hits[i]) == 1;
    free(hits);
    free(j);
    return ok;
}

static void test_every_index_once(void **s) {
    (void)s;
    assert_true(avf_cpu_threads() >= 1);
    const int64_t ns[] = {0, 1, 2, 7, 64, 1000, 100003};
    const int64_t grains[] = {0, 1, 3, 100, 1 << 20};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof grains / sizeof grains[0]; b++)
            for (int nested = 0; nested < 2; nested++)
                assert_true(run_count(ns[a], grains[b], nested));
    for (int r = 0; r < 500; r++) /* many loops in a row: generations */
        assert_true(run_count(97, 1, 0));
}

static void *many_loops(void *v) {
    atomic_int *failures = (atomic_int *)v;
    for (int r = 0; r < 200; r++)
        if (!run_count(1000 + r, 7, r % 2))
            atomic_fetch_add(failures, 1);
    return NULL;
}

static void test_concurrent_callers(void **s) {
    (void)s;
    atomic_int failures;
    atomic_init(&failures, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, many_loops, &failures), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
}

static void ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, const float *c0, int ldc, double *want) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                acc += av * bv;
            }
            want[(int64_t)i * n + j] = alpha * acc + (double)beta * c0[i * ldc + j];
        }
}

static void test_gemm_splits(void **s) {
    (void)s;
    /* m, n, k: by columns, by rows (n < 64), by columns, below the threading
     * threshold (2 x 2^20 multiply-adds, cpu/blas.c) */
    const int dims[][3] = {{8, 600, 600}, {600, 40, 120}, {24, 1000, 96}, {5, 7, 3}};
    uint64_t seed = 0x9e3779b9u;
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int m = dims[d][0], n = dims[d][1], k = dims[d][2];
                int lda = ta ? m : k, ldb = tb ? k : n, ldc = n + 3; /* C with a row pitch */
                float *a = malloc(sizeof(float) * (size_t)m * k);
                float *b = malloc(sizeof(float) * (size_t)k * n);
                float *c = malloc(sizeof(float) * (size_t)m * ldc);
                float *c0 = malloc(sizeof(float) * (size_t)m * ldc);
                float *got = malloc(sizeof(float) * (size_t)m * n);
                double *want = malloc(sizeof(double) * (size_t)m * n);
                assert_true(a && b && c && c0 && got && want);
                avf_test_fill_f32(a, (int64_t)m * k, &seed, -1.0, 1.0);
                avf_test_fill_f32(b, (int64_t)k * n, &seed, -1.0, 1.0);
                avf_test_fill_f32(c0, (int64_t)m * ldc, &seed, -1.0, 1.0);
                memcpy(c, c0, sizeof(float) * (size_t)m * ldc);
                avf_cpu_sgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                              n, k, 0.5f, a, lda, b, ldb, 0.25f, c, ldc);
                ref_gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, c0, ldc, want);
                for (int i = 0; i < m; i++) {
                    memcpy(got + (int64_t)i * n, c + (int64_t)i * ldc, sizeof(float) * (size_t)n);
                    for (int j = n; j < ldc; j++) /* the pitch's padding is untouched */
                        assert_true(c[i * ldc + j] == c0[i * ldc + j]);
                }
                assert_rel_err_below(avf_test_rel_err(got, want, (int64_t)m * n), 1e-5);
                free(a);
                free(b);
                free(c);
                free(c0);
                free(got);
                free(want);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_gemm_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
