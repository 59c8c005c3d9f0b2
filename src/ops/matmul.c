/* MatMul and Gemm: shape functions, batch planning, checks and dispatch. */
#include <string.h>

#include "core/error.h"
#include "ops/matmul.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/matmul_cuda.h"
#endif

static const avf_dtype avf_matmul_dtypes[] = {AVF_DTYPE_F32, AVF_DTYPE_F16, AVF_DTYPE_BF16,
                                               AVF_DTYPE_F64};

avf_status avf_matmul_plan_make(int na, const int64_t *a, int nb, const int64_t *b,
                                avf_matmul_plan *plan) {
    AVF_CHECK_ARG(plan != NULL && (na == 0 || a != NULL) && (nb == 0 || b != NULL));
    memset(plan, 0, sizeof *plan);
    if (na < 1 || nb < 1 || na > AVF_MAX_DIMS || nb > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "MatMul: operand ranks %d and %d (each must be 1..%d)",
                        na, nb, AVF_MAX_DIMS);
    /* 1-D operands are promoted: [K] -> [1,K] on the left, [K] -> [K,1] on
     * the right; they have no batch dims. */
    int64_t m = na == 1 ? 1 : a[na - 2];
    int64_t ka = a[na - 1];
    int64_t kb = nb == 1 ? b[0] : b[nb - 2];
    int64_t n = nb == 1 ? 1 : b[nb - 1];
    if (ka != kb)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "MatMul: inner dims differ: A has K=%lld, B has K=%lld", (long long)ka,
                        (long long)kb);
    for (int i = 0; i < na; i++)
        if (a[i] < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "MatMul: A has a negative dim");
    for (int i = 0; i < nb; i++)
        if (b[i] < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "MatMul: B has a negative dim");
    int nba = na > 2 ? na - 2 : 0, nbb = nb > 2 ? nb - 2 : 0;
    int nbd = 0;
    AVF_TRY(avf_broadcast_shape(nba, a, nbb, b, &nbd, plan->bdims));
    plan->m = m;
    plan->n = n;
    plan->k = ka;
    plan->nbd = nbd;
    /* Batch strides in elements, innermost batch dim last; a dim of 1 in an
     * operand (or a dim it lacks) gets stride 0, i.e. it is broadcast. */
    int64_t sa = m * ka, sb = ka * n, batch = 1, anum = 1, bnum = 1;
    for (int i = nbd - 1; i >= 0; i--) {
        int ia = i - (nbd - nba), ib = i - (nbd - nbb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        plan->a_bstride[i] = da == 1 ? 0 : sa;
        plan->b_bstride[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        anum *= da;
        bnum *= db;
        batch *= plan->bdims[i];
    }
    plan->batch = batch;
    /* Linear when the operand covers the whole batch (its batch dims equal
     * the output's) or none of it (a single matrix reused). */
    plan->a_linear = anum == 1 || anum == batch;
    plan->a_step = anum == 1 ? 0 : m * ka;
    plan->b_linear = bnum == 1 || bnum == batch;
    plan->b_step = bnum == 1 ? 0 : ka * n;
    return AVF_OK;
}

void avf_matmul_plan_offsets(const avf_matmul_plan *plan, int64_t i, int64_t *a_off,
                             int64_t *b_off) {
    int64_t ao = 0, bo = 0;
    for (int d = plan->nbd - 1; d >= 0; d--) {
        int64_t idx = i % plan->bdims[d];
        i /= plan->bdims[d];
        ao += idx * plan->a_bstride[d];
        bo += idx * plan->b_bstride[d];
    }
    *a_off = ao;
    *b_off = bo;
}

avf_status avf_matmul_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                            int64_t *out) {
    AVF_CHECK_ARG(nout != NULL && out != NULL);
    avf_matmul_plan p;
    AVF_TRY(avf_matmul_plan_make(na, a, nb, b, &p));
    int n = 0;
    for (int i = 0; i < p.nbd; i++)
        out[n++] = p.bdims[i];
    if (na > 1)
        out[n++] = p.m;
    if (nb > 1)
        out[n++] = p.n;
    *nout = n;
    int64_t numel;
    return avf_shape_numel(n, out, &numel);
}

avf_status avf_gemm_shape(const avf_gemm_params *p, int na, const int64_t *a, int nb,
                          const int64_t *b, int nc, const int64_t *c, int *nout, int64_t *out) {
    AVF_CHECK_ARG(p != NULL && nout != NULL && out != NULL);
    if (na != 2 || nb != 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gemm: A and B must be 2-D (ranks %d and %d)", na, nb);
    AVF_CHECK_ARG(a != NULL && b != NULL);
    int64_t m = p->trans_a ? a[1] : a[0], ka = p->trans_a ? a[0] : a[1];
    int64_t kb = p->trans_b ? b[1] : b[0], n = p->trans_b ? b[0] : b[1];
    if (m < 0 || n < 0 || ka < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gemm: negative dim");
    if (ka != kb)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gemm: inner dims differ: op(A) has K=%lld, op(B) K=%lld",
                        (long long)ka, (long long)kb);
    if (nc > 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gemm: C has rank %d (at most 2)", nc);
    if (nc > 0) {
        AVF_CHECK_ARG(c != NULL);
        int64_t want[2] = {m, n};
        for (int i = 0; i < nc; i++) {
            int64_t w = want[2 - nc + i];
            if (c[i] != 1 && c[i] != w)
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "Gemm: C dim %d is %lld, cannot broadcast to [%lld,%lld]", i,
                                (long long)c[i], (long long)m, (long long)n);
        }
    }
    out[0] = m;
    out[1] = n;
    *nout = 2;
    int64_t numel;
    return avf_shape_numel(2, out, &numel);
}

void avf_gemm_c_strides(const avf_tensor *c, int64_t *rs, int64_t *cs) {
    /* C is contiguous with rank <= 2; a broadcast dim (1, or absent) steps 0. */
    int64_t rows = c->ndim == 2 ? c->shape[0] : 1;
    int64_t cols = c->ndim >= 1 ? c->shape[c->ndim - 1] : 1;
    *rs = rows == 1 ? 0 : cols;
    *cs = cols == 1 ? 0 : 1;
}

static avf_status check_same_dtype(const avf_tensor *t, const char *what, avf_dtype dt) {
    if (t->dtype != dt)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: dtype %s differs from A's %s", what,
                        avf_dtype_name(t->dtype), avf_dtype_name(dt));
    return AVF_OK;
}

avf_status avf_op_matmul(avf_op_ctx *ctx, const avf_tensor *a, const avf_tensor *b,
                         avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, a, "MatMul A"));
    AVF_TRY(avf_op_check_tensor(ctx, b, "MatMul B"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "MatMul Y"));
    AVF_TRY(avf_op_check_dtype(a, "MatMul A", avf_matmul_dtypes, 4));
    AVF_TRY(check_same_dtype(b, "MatMul B", a->dtype));
    AVF_TRY(check_same_dtype(y, "MatMul Y", a->dtype));
    int nout = 0;
    int64_t out[AVF_MAX_DIMS];
    AVF_TRY(avf_matmul_shape(a->ndim, a->shape, b->ndim, b->shape, &nout, out));
    AVF_TRY(avf_op_check_shape(y, "MatMul Y", nout, out));
    avf_matmul_plan plan;
    AVF_TRY(avf_matmul_plan_make(a->ndim, a->shape, b->ndim, b->shape, &plan));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    if (plan.k == 0) /* an empty sum: all zeros (0 bits are 0.0 in every float dtype) */
        return avf_memset_async(ctx->dev, y->data, 0, avf_tensor_nbytes(y), ctx->stream);
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_matmul(ctx, &plan, a, b, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_matmul(ctx, &plan, a, b, y);
#else
    return AVF_OP_NO_CUDA("MatMul");
#endif
}

avf_status avf_op_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, const avf_tensor *a,
                       const avf_tensor *b, const avf_tensor *c, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, a, "Gemm A"));
    AVF_TRY(avf_op_check_tensor(ctx, b, "Gemm B"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Gemm Y"));
    AVF_TRY(avf_op_check_dtype(a, "Gemm A", avf_matmul_dtypes, 4));
    AVF_TRY(check_same_dtype(b, "Gemm B", a->dtype));
    AVF_TRY(check_same_dtype(y, "Gemm Y", a->dtype));
    if (c) {
        AVF_TRY(avf_op_check_tensor(ctx, c, "Gemm C"));
        AVF_TRY(check_same_dtype(c, "Gemm C", a->dtype));
    }
    int nout = 0;
    int64_t out[AVF_MAX_DIMS];
    AVF_TRY(avf_gemm_shape(p, a->ndim, a->shape, b->ndim, b->shape, c ? c->ndim : -1,
                           c ? c->shape : NULL, &nout, out));
    AVF_TRY(avf_op_check_shape(y, "Gemm Y", nout, out));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    int64_t k = p->trans_a ? a->shape[0] : a->shape[1];
    if (c && avf_tensor_numel(c) == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Gemm: C is empty but Y is not");
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_gemm(ctx, p, out[0], out[1], k, a, b, c, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_gemm(ctx, p, out[0], out[1], k, a, b, c, y);
#else
    return AVF_OP_NO_CUDA("Gemm");
#endif
}
