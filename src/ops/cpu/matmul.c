/* CPU MatMul and Gemm through cblas (OpenBLAS; f32 GEMMs split across the
 * CPU threads by cpu/blas.c). f16/bf16 operands are
 * widened to f32 scratch, multiplied in f32 and rounded once on the way out;
 * they exist to check the CUDA kernels, not for speed. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/blas.h"
#include "ops/matmul.h"

/* cblas takes int dims (blasint is 32-bit in the usual OpenBLAS build). */
static avf_status check_blas_dims(const char *op, int64_t m, int64_t n, int64_t k) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dims %lldx%lldx%lld exceed the BLAS int range",
                        op, (long long)m, (long long)n, (long long)k);
    return AVF_OK;
}

/* f32 view of a tensor: its own data when f32 (or f64, which the caller
 * handles separately), else a converted copy in pool scratch (*owned set). */
static avf_status widen(avf_op_ctx *ctx, const avf_tensor *t, float **out, void **owned) {
    *owned = NULL;
    if (t->dtype == AVF_DTYPE_F32) {
        *out = (float *)t->data;
        return AVF_OK;
    }
    int64_t n = avf_tensor_numel(t);
    if (n == 0) {
        *out = NULL;
        return AVF_OK;
    }
    void *p = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)n * sizeof(float), ctx->stream, &p));
    float *f = (float *)p;
    const uint16_t *h = (const uint16_t *)t->data;
    if (t->dtype == AVF_DTYPE_F16)
        for (int64_t i = 0; i < n; i++)
            f[i] = avf_f16_to_f32(h[i]);
    else
        for (int64_t i = 0; i < n; i++)
            f[i] = avf_bf16_to_f32(h[i]);
    *out = f;
    *owned = p;
    return AVF_OK;
}

static void narrow(const float *f, avf_tensor *y) {
    int64_t n = avf_tensor_numel(y);
    uint16_t *h = (uint16_t *)y->data;
    if (y->dtype == AVF_DTYPE_F16)
        for (int64_t i = 0; i < n; i++)
            h[i] = avf_f32_to_f16(f[i]);
    else
        for (int64_t i = 0; i < n; i++)
            h[i] = avf_f32_to_bf16(f[i]);
}

/* Y[i] = A[i] * B[i] over the plan's batch; element type by `dbl`. */
static void matmul_run(const avf_matmul_plan *p, const void *a, const void *b, void *y, int dbl) {
    int m = (int)p->m, n = (int)p->n, k = (int)p->k;
    /* One matrix B for the whole batch and A covering it: the batch folds
     * into M, one big GEMM instead of many small ones. */
    if (p->b_step == 0 && p->b_linear && p->a_linear && p->a_step == p->m * p->k &&
        p->batch * p->m <= INT_MAX) {
        int mm = (int)(p->batch * p->m);
        if (dbl)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm, n, k, 1.0, a, k, b, n,
                        0.0, y, n);
        else
            avf_cpu_sgemm(CblasNoTrans, CblasNoTrans, mm, n, k, 1.0f, a, k, b, n, 0.0f, y, n);
        return;
    }
    for (int64_t i = 0; i < p->batch; i++) {
        int64_t ao, bo, yo = i * p->m * p->n;
        avf_matmul_plan_offsets(p, i, &ao, &bo);
        if (dbl)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0,
                        (const double *)a + ao, k, (const double *)b + bo, n, 0.0,
                        (double *)y + yo, n);
        else
            avf_cpu_sgemm(CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, (const float *)a + ao, k,
                          (const float *)b + bo, n, 0.0f, (float *)y + yo, n);
    }
}

avf_status avf_cpu_matmul(avf_op_ctx *ctx, const avf_matmul_plan *plan, const avf_tensor *a,
                          const avf_tensor *b, avf_tensor *y) {
    AVF_TRY(check_blas_dims("MatMul", plan->m, plan->n, plan->k));
    if (a->dtype == AVF_DTYPE_F64 || a->dtype == AVF_DTYPE_F32) {
        matmul_run(plan, a->data, b->data, y->data, a->dtype == AVF_DTYPE_F64);
        return AVF_OK;
    }
    float *fa = NULL, *fb = NULL;
    void *oa = NULL, *ob = NULL, *oy = NULL;
    avf_status st = widen(ctx, a, &fa, &oa);
    if (st == AVF_OK)
        st = widen(ctx, b, &fb, &ob);
    if (st == AVF_OK)
        st = avf_pool_alloc(ctx->pool, (size_t)avf_tensor_numel(y) * sizeof(float), ctx->stream,
                            &oy);
    if (st == AVF_OK) {
        matmul_run(plan, fa, fb, oy, 0);
        narrow((const float *)oy, y);
    }
    avf_pool_free(ctx->pool, oy, ctx->stream);
    avf_pool_free(ctx->pool, ob, ctx->stream);
    avf_pool_free(ctx->pool, oa, ctx->stream);
    return st;
}

/* Y = alpha op(A) op(B) + beta C in `dbl` ? double : float. */
static void gemm_run(const avf_gemm_params *p, int m, int n, int k, const void *a, const void *b,
                     const void *c, const avf_tensor *ct, void *y, int dbl) {
    int64_t rs = 0, cs = 0;
    if (c) {
        /* beta * C literally (so 0 * inf is NaN, as in the ONNX reference),
         * then the product accumulates onto it. */
        avf_gemm_c_strides(ct, &rs, &cs);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                if (dbl)
                    ((double *)y)[i * n + j] = (double)p->beta * ((const double *)c)[i * rs + j * cs];
                else
                    ((float *)y)[i * n + j] = p->beta * ((const float *)c)[i * rs + j * cs];
            }
    }
    if (k == 0) {
        if (!c)
            memset(y, 0, (size_t)m * (size_t)n * (dbl ? sizeof(double) : sizeof(float)));
        return;
    }
    enum CBLAS_TRANSPOSE ta = p->trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = p->trans_b ? CblasTrans : CblasNoTrans;
    int lda = p->trans_a ? m : k, ldb = p->trans_b ? k : n;
    if (dbl)
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, (double)p->alpha, a, lda, b, ldb,
                    c ? 1.0 : 0.0, y, n);
    else
        avf_cpu_sgemm(ta, tb, m, n, k, p->alpha, a, lda, b, ldb, c ? 1.0f : 0.0f, y, n);
}

avf_status avf_cpu_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, int64_t m, int64_t n,
                        int64_t k, const avf_tensor *a, const avf_tensor *b,
                        const avf_tensor *c, avf_tensor *y) {
    AVF_TRY(check_blas_dims("Gemm", m, n, k));
    if (a->dtype == AVF_DTYPE_F64 || a->dtype == AVF_DTYPE_F32) {
        gemm_run(p, (int)m, (int)n, (int)k, a->data, b->data, c ? c->data : NULL, c, y->data,
                 a->dtype == AVF_DTYPE_F64);
        return AVF_OK;
    }
    float *fa = NULL, *fb = NULL, *fc = NULL;
    void *oa = NULL, *ob = NULL, *oc = NULL, *oy = NULL;
    avf_status st = widen(ctx, a, &fa, &oa);
    if (st == AVF_OK)
        st = widen(ctx, b, &fb, &ob);
    if (st == AVF_OK && c)
        st = widen(ctx, c, &fc, &oc);
    if (st == AVF_OK)
        st = avf_pool_alloc(ctx->pool, (size_t)(m * n) * sizeof(float), ctx->stream, &oy);
    if (st == AVF_OK) {
        gemm_run(p, (int)m, (int)n, (int)k, fa, fb, fc, c, oy, 0);
        narrow((const float *)oy, y);
    }
    avf_pool_free(ctx->pool, oy, ctx->stream);
    avf_pool_free(ctx->pool, oc, ctx->stream);
    avf_pool_free(ctx->pool, ob, ctx->stream);
    avf_pool_free(ctx->pool, oa, ctx->stream);
    return st;
}
