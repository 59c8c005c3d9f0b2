/* Internal: the kernel library's contract (src/ops).
 *
 * Every op family is a header src/ops/<family>.h with
 *   - a params struct (typed, already validated attributes: the graph layer
 *     turns ONNX node attributes into these; ops never see the graph),
 *   - a shape function  avf_<op>_shape(params, input shapes..., out shape)
 *     that validates inputs and computes the output's dtype and shape (pure,
 *     host-only, used by shape inference and planning),
 *   - an entry point    avf_op_<op>(ctx, params, inputs..., outputs...)
 *     that checks the tensors (same device as ctx, contiguous, dtypes,
 *     shapes equal to what the shape function gives) and dispatches to
 *     src/ops/cpu/<family>.c (avf_cpu_<op>) or src/ops/cuda/<family>.cu
 *     (avf_cuda_<op>, a plain C function exported from the .cu file).
 * Outputs are allocated by the caller (planned arena or pool) with the shape
 * function's result; ops never allocate outputs. Scratch memory comes from
 * ctx->pool on ctx->stream and is freed (stream-ordered) before returning.
 * Ops enqueue work on ctx->stream and do not synchronize, except ops whose
 * output size depends on data (NonZero), which say so in their header.
 *
 * Precision: f32 is the reference on every device; CUDA kernels also take
 * f16 (and bf16 where cheap) and compute in f32 registers. CPU kernels that
 * accept f16 convert per element (src/core/half.h); they exist so CPU and
 * CUDA results can be compared, not for speed.
 *
 * Tests: tests/ops/test_<family>.c compare each CPU kernel against a naive
 * double-precision reference in the test, and each CUDA kernel against the
 * CPU kernel on the same random inputs (tests/ops/op_test_util.h).
 */
#ifndef AVF_OPS_OP_H
#define AVF_OPS_OP_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-stream library handles (cuBLAS, cuBLASLt, cuDNN), created on first use
 * by the op that needs them and bound to the context's stream. Opaque here:
 * src/ops/cuda/libs.h has the accessors. */
typedef struct avf_cuda_libs avf_cuda_libs;

typedef struct avf_op_ctx {
    avf_device *dev;
    avf_stream *stream; /* NULL: the device's default stream */
    avf_pool *pool;     /* scratch; must be a pool of dev */
    avf_cuda_libs *libs; /* NULL on CPU; owned by the context */
    int allow_tf32;     /* 0: f32 GEMM/conv in exact f32 (TF32 off) */
} avf_op_ctx;

/* Set up a context for running ops on `dev`/`s` with scratch from `pool`.
 * Cheap: library handles are created lazily. */
avf_status avf_op_ctx_init(avf_op_ctx *ctx, avf_device *dev, avf_stream *s, avf_pool *pool);
/* Destroy the library handles (after the stream's work is done). */
void avf_op_ctx_release(avf_op_ctx *ctx);

/* Free the process-wide caches kernels keep between calls (idle cuBLAS/cuDNN
 * handle sets, FFT plans). Only when no op runs anywhere, e.g. at exit, so
 * leak checkers see a clean process. */
void avf_ops_release_caches(void);

/* ---- checks shared by op entry points; each sets a message on failure ---- */

/* t is non-NULL, has data unless empty, lives on ctx->dev, is contiguous. */
avf_status avf_op_check_tensor(const avf_op_ctx *ctx, const avf_tensor *t, const char *what);
/* t's dtype is one of `dtypes` (n of them). */
avf_status avf_op_check_dtype(const avf_tensor *t, const char *what, const avf_dtype *dtypes, int n);
/* t has exactly shape (ndim, dims). */
avf_status avf_op_check_shape(const avf_tensor *t, const char *what, int ndim, const int64_t *dims);

/* Numpy-style broadcasting of two shapes into out (ndim = max). */
avf_status avf_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                               int64_t *out);

/* Normalize an axis in [-ndim, ndim) to [0, ndim). */
avf_status avf_norm_axis(int64_t axis, int ndim, int *out);

/* True when the op can run on this device kind in this build. */
int avf_op_device_is_cpu(const avf_op_ctx *ctx);

/* A rule both a CPU kernel and a CUDA kernel evaluate per element (border
 * handling, coordinate maps, windows), written once in a header so the two
 * backends cannot drift apart: `AVF_HD int64_t f(...) { ... }`. */
#ifdef __CUDACC__
#define AVF_HD static __host__ __device__ __forceinline__
#else
#define AVF_HD static inline
#endif

/* Return for a CUDA path in a build without CUDA. */
#define AVF_OP_NO_CUDA(name) \
    AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: this build has no CUDA backend", (name))

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_OP_H */
