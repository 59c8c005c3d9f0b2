/* Internal: the matmul family — MatMul (numpy semantics) and Gemm (ONNX).
 *
 * MatMul: a 1-D first operand [K] is read as [1,K] and a 1-D second operand
 * [K] as [K,1]; the added dim is dropped from the result. Leading (batch)
 * dims broadcast numpy-style: [B,M,K] x [K,N] -> [B,M,N],
 * [B,1,M,K] x [1,H,K,N] -> [B,H,M,N].
 * Gemm: Y = alpha * op(A) * op(B) + beta * C, A and B 2-D, op() the optional
 * transpose, C (optional) broadcast unidirectionally to [M,N].
 *
 * dtypes: f32, f16, bf16 and f64; every operand and the output share one.
 * CPU runs cblas (f16/bf16 converted to f32 and rounded once per output);
 * CUDA runs cuBLAS with f32 accumulation for f16/bf16 (TF32 for f32 only when
 * ctx->allow_tf32).
 */
#ifndef AVF_OPS_MATMUL_H
#define AVF_OPS_MATMUL_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_gemm_params {
    int trans_a, trans_b; /* 0 or 1 */
    float alpha, beta;
} avf_gemm_params;

/* Output shape of MatMul(a, b). Ranks >= 1; errors name the mismatch. */
avf_status avf_matmul_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                            int64_t *out);
/* Output shape of Gemm: a and b 2-D; c_ndim < 0 when C is absent, else C
 * (rank <= 2) must broadcast to [M,N]. The output is always [M,N]. */
avf_status avf_gemm_shape(const avf_gemm_params *p, int na, const int64_t *a, int nb,
                          const int64_t *b, int nc, const int64_t *c, int *nout, int64_t *out);

avf_status avf_op_matmul(avf_op_ctx *ctx, const avf_tensor *a, const avf_tensor *b,
                         avf_tensor *y);
/* c may be NULL. */
avf_status avf_op_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, const avf_tensor *a,
                       const avf_tensor *b, const avf_tensor *c, avf_tensor *y);

/* ---- shared with the backends ---- */

/* A batched row-major product Y[i] = A[i] (MxK) * B[i] (KxN), i over the
 * broadcast batch; the backends walk it without re-deriving broadcasting. */
typedef struct avf_matmul_plan {
    int64_t m, n, k;
    int64_t batch;                     /* product of bdims (1 when none) */
    int nbd;                           /* batch rank (0..AVF_MAX_DIMS-2) */
    int64_t bdims[AVF_MAX_DIMS];       /* output batch dims */
    int64_t a_bstride[AVF_MAX_DIMS];   /* elements per batch step; 0 = broadcast */
    int64_t b_bstride[AVF_MAX_DIMS];
    /* Set when A's offset is i * a_step for every batch index i (likewise
     * B), so one strided-batched GEMM covers the batch. */
    int a_linear, b_linear;
    int64_t a_step, b_step;
} avf_matmul_plan;

avf_status avf_matmul_plan_make(int na, const int64_t *a, int nb, const int64_t *b,
                                avf_matmul_plan *plan);
/* Element offsets of A's and B's matrices for batch index i. */
void avf_matmul_plan_offsets(const avf_matmul_plan *plan, int64_t i, int64_t *a_off,
                             int64_t *b_off);

avf_status avf_cpu_matmul(avf_op_ctx *ctx, const avf_matmul_plan *plan, const avf_tensor *a,
                          const avf_tensor *b, avf_tensor *y);
avf_status avf_cpu_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, int64_t m, int64_t n,
                        int64_t k, const avf_tensor *a, const avf_tensor *b,
                        const avf_tensor *c, avf_tensor *y);

/* Gemm's C read as [M,N]: element (i,j) is at i*rs + j*cs, C's shape padded
 * on the left to 2-D and dims of 1 stepping 0. For both backends. */
void avf_gemm_c_strides(const avf_tensor *c, int64_t *rs, int64_t *cs);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_MATMUL_H */
