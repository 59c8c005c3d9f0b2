/* CUDA MatMul and Gemm through cuBLAS.
 *
 * avflow tensors are row-major, cuBLAS is column-major: a row-major [r,c]
 * matrix read column-major is its transpose, so Y = A B is computed as
 * Y^T = B^T A^T with the operands swapped and no copies.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <limits.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/libs.h"
#include "ops/cuda/matmul_cuda.h"

namespace {

struct gemm_types {
    cudaDataType_t data;
    cublasComputeType_t compute;
    int dbl; /* alpha/beta are double (f64) rather than float */
};

avf_status types_of(const avf_op_ctx *ctx, avf_dtype dt, gemm_types *t) {
    t->dbl = 0;
    t->compute = CUBLAS_COMPUTE_32F;
    switch (dt) {
    case AVF_DTYPE_F32:
        t->data = CUDA_R_32F;
        t->compute = ctx->allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        return AVF_OK;
    case AVF_DTYPE_F16:
        t->data = CUDA_R_16F;
        return AVF_OK;
    case AVF_DTYPE_BF16:
        t->data = CUDA_R_16BF;
        return AVF_OK;
    case AVF_DTYPE_F64:
        t->data = CUDA_R_64F;
        t->compute = CUBLAS_COMPUTE_64F;
        t->dbl = 1;
        return AVF_OK;
    default:
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "matmul (CUDA): dtype %s", avf_dtype_name(dt));
    }
}

avf_status check_int(const char *op, int64_t v, const char *what) {
    if (v > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s (CUDA): %s %lld exceeds cuBLAS's int range", op,
                        what, (long long)v);
    return AVF_OK;
}

/* Pointer arrays for cublasGemmBatchedEx when the batch broadcast is not a
 * single stride: one thread per batch entry walks the plan's strides. */
__global__ void matmul_ptrs_kernel(avf_matmul_plan p, const char *a, const char *b, char *y,
                                   size_t esize, const void **pa, const void **pb, void **py) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < p.batch;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t rest = i, ao = 0, bo = 0;
        for (int d = p.nbd - 1; d >= 0; d--) {
            int64_t idx = rest % p.bdims[d];
            rest /= p.bdims[d];
            ao += idx * p.a_bstride[d];
            bo += idx * p.b_bstride[d];
        }
        /* swapped for the column-major trick: cuBLAS's A is our B */
        pa[i] = b + (size_t)bo * esize;
        pb[i] = a + (size_t)ao * esize;
        py[i] = y + (size_t)(i * p.m * p.n) * esize;
    }
}

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/* Y[i,j] = beta * C[i*rs + j*cs] (C broadcast to [m,n]). */
template <typename T>
__global__ void gemm_fill_c_kernel(T *y, const T *c, int64_t m, int64_t n, int64_t rs, int64_t cs,
                                   float beta) {
    int64_t total = m * n;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / n, j = e % n;
        y[e] = from_f<T>(beta * to_f<T>(c[i * rs + j * cs]));
    }
}

__global__ void gemm_fill_c_kernel_f64(double *y, const double *c, int64_t m, int64_t n,
                                       int64_t rs, int64_t cs, double beta) {
    int64_t total = m * n;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e / n, j = e % n;
        y[e] = beta * c[i * rs + j * cs];
    }
}

/* The handle for this op; for f16/bf16 also forbid split-K reductions in
 * the output type, so sums are kept in f32 as the CPU kernel keeps them
 * (avf_cuda_cublas resets the math mode on every call, so this does not
 * leak to other ops). */
avf_status handle_for(avf_op_ctx *ctx, avf_dtype dt, cublasHandle_t *h) {
    AVF_TRY(avf_cuda_cublas(ctx, h));
    if (dt == AVF_DTYPE_F16 || dt == AVF_DTYPE_BF16) {
        cublasMath_t mode;
        AVF_CUBLAS_TRY(cublasGetMathMode(*h, &mode));
        AVF_CUBLAS_TRY(cublasSetMathMode(
            *h, (cublasMath_t)(mode | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    }
    return AVF_OK;
}

unsigned grid_for(int64_t n, unsigned block) {
    int64_t g = (n + block - 1) / block;
    if (g < 1)
        g = 1;
    return (unsigned)(g > 65535 ? 65535 : g);
}

} // namespace

extern "C" avf_status avf_cuda_matmul(avf_op_ctx *ctx, const avf_matmul_plan *plan,
                                      const avf_tensor *a, const avf_tensor *b, avf_tensor *y) {
    gemm_types t;
    AVF_TRY(types_of(ctx, a->dtype, &t));
    AVF_TRY(check_int("MatMul", plan->m, "M"));
    AVF_TRY(check_int("MatMul", plan->n, "N"));
    AVF_TRY(check_int("MatMul", plan->k, "K"));
    AVF_TRY(check_int("MatMul", plan->batch, "batch"));
    cublasHandle_t h;
    AVF_TRY(handle_for(ctx, a->dtype, &h));
    float one_f = 1.0f, zero_f = 0.0f;
    double one_d = 1.0, zero_d = 0.0;
    const void *one = t.dbl ? (const void *)&one_d : (const void *)&one_f;
    const void *zero = t.dbl ? (const void *)&zero_d : (const void *)&zero_f;
    int m = (int)plan->m, n = (int)plan->n, k = (int)plan->k;

    /* One B for the whole batch and A covering it: fold the batch into M. */
    if (plan->b_step == 0 && plan->a_linear && plan->a_step == plan->m * plan->k &&
        plan->batch * plan->m <= INT_MAX) {
        int mm = (int)(plan->batch * plan->m);
        AVF_CUBLAS_TRY(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, mm, k, one, b->data, t.data, n,
                                    a->data, t.data, k, zero, y->data, t.data, n, t.compute,
                                    CUBLAS_GEMM_DEFAULT));
        return AVF_OK;
    }
    if (plan->a_linear && plan->b_linear) {
        AVF_CUBLAS_TRY(cublasGemmStridedBatchedEx(
            h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, one, b->data, t.data, n,
            (long long)plan->b_step, a->data, t.data, k, (long long)plan->a_step, zero, y->data,
            t.data, n, (long long)(plan->m * plan->n), (int)plan->batch, t.compute,
            CUBLAS_GEMM_DEFAULT));
        return AVF_OK;
    }
    /* Mixed broadcast ([B,1,M,K] x [1,H,K,N]): pointer arrays built on the
     * device, so no host loop and no synchronization. */
    size_t nb = (size_t)plan->batch;
    void *scratch = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, 3 * nb * sizeof(void *), ctx->stream, &scratch));
    const void **pa = (const void **)scratch;
    const void **pb = pa + nb;
    void **py = (void **)(pb + nb);
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    matmul_ptrs_kernel<<<grid_for(plan->batch, 128), 128, 0, s>>>(
        *plan, (const char *)a->data, (const char *)b->data, (char *)y->data,
        avf_dtype_size(a->dtype), pa, pb, py);
    avf_status st = AVF_CUDA_CHECK(cudaGetLastError());
    if (st == AVF_OK) {
        cublasStatus_t cs = cublasGemmBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, one, pa,
                                                t.data, n, pb, t.data, k, zero, py, t.data, n,
                                                (int)plan->batch, t.compute, CUBLAS_GEMM_DEFAULT);
        if (cs != CUBLAS_STATUS_SUCCESS)
            st = avf_cublas_status(cs, "cublasGemmBatchedEx", __FILE__, __LINE__);
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return st != AVF_OK ? st : fs;
}

extern "C" avf_status avf_cuda_gemm(avf_op_ctx *ctx, const avf_gemm_params *p, int64_t m,
                                    int64_t n, int64_t k, const avf_tensor *a,
                                    const avf_tensor *b, const avf_tensor *c, avf_tensor *y) {
    gemm_types t;
    AVF_TRY(types_of(ctx, a->dtype, &t));
    AVF_TRY(check_int("Gemm", m, "M"));
    AVF_TRY(check_int("Gemm", n, "N"));
    AVF_TRY(check_int("Gemm", k, "K"));
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    if (c) {
        /* beta * C first (literally, so 0 * inf is NaN as in the reference);
         * the product then accumulates onto it with beta = 1. */
        int64_t rs, cs;
        avf_gemm_c_strides(c, &rs, &cs);
        unsigned grid = grid_for(m * n, 256);
        switch (a->dtype) {
        case AVF_DTYPE_F32:
            gemm_fill_c_kernel<float><<<grid, 256, 0, s>>>((float *)y->data,
                                                            (const float *)c->data, m, n, rs, cs,
                                                            p->beta);
            break;
        case AVF_DTYPE_F16:
            gemm_fill_c_kernel<__half><<<grid, 256, 0, s>>>((__half *)y->data,
                                                             (const __half *)c->data, m, n, rs,
                                                             cs, p->beta);
            break;
        case AVF_DTYPE_BF16:
            gemm_fill_c_kernel<__nv_bfloat16><<<grid, 256, 0, s>>>(
                (__nv_bfloat16 *)y->data, (const __nv_bfloat16 *)c->data, m, n, rs, cs, p->beta);
            break;
        default:
            gemm_fill_c_kernel_f64<<<grid, 256, 0, s>>>((double *)y->data,
                                                         (const double *)c->data, m, n, rs, cs,
                                                         (double)p->beta);
            break;
        }
        AVF_CUDA_TRY(cudaGetLastError());
    }
    if (k == 0) {
        if (!c)
            AVF_CUDA_TRY(cudaMemsetAsync(y->data, 0, avf_tensor_nbytes(y), s));
        return AVF_OK;
    }
    cublasHandle_t h;
    AVF_TRY(handle_for(ctx, a->dtype, &h));
    float alpha_f = p->alpha, beta_f = c ? 1.0f : 0.0f;
    double alpha_d = p->alpha, beta_d = c ? 1.0 : 0.0;
    const void *alpha = t.dbl ? (const void *)&alpha_d : (const void *)&alpha_f;
    const void *beta = t.dbl ? (const void *)&beta_d : (const void *)&beta_f;
    /* Column-major Y^T = op(B)^T op(A)^T: the stored row-major B is B^T
     * column-major, so transB becomes OP_T on it (likewise A). */
    int lda = (int)(p->trans_a ? m : k), ldb = (int)(p->trans_b ? k : n);
    AVF_CUBLAS_TRY(cublasGemmEx(h, p->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                p->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n, (int)m, (int)k,
                                alpha, b->data, t.data, ldb, a->data, t.data, lda, beta, y->data,
                                t.data, (int)n, t.compute, CUBLAS_GEMM_DEFAULT));
    return AVF_OK;
}
