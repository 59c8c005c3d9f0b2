/* Pair magnitude on CUDA (see ops/magnitude.h): one thread per output, f32
 * arithmetic (hypot's care for overflow is not needed: the inputs are
 * DFT coefficients of audio, and an f32 square of an f16 never overflows). */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/ldst.cuh"
#include "ops/magnitude.h"

namespace {

using avf_ldst::ld;
using avf_ldst::st;

template <typename T>
__global__ void pair_magnitude_kernel(const T *__restrict__ x, T *__restrict__ y, long long n,
                                      long long row) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long o = i / row, r = i - o * row;
        long long re = o * 2 * row + r;
        float a = ld(x, re), b = ld(x, re + row);
        st(y, i, sqrtf(a * a + b * b));
    }
}

template <typename T>
avf_status launch(avf_op_ctx *ctx, const avf_tensor *x, long long row, avf_tensor *y) {
    cudaStream_t s = (cudaStream_t)avf_stream_native(ctx->stream);
    long long n = avf_tensor_numel(y);
    const int block = 256;
    long long blocks = (n + block - 1) / block;
    if (blocks > 65535LL * 32)
        blocks = 65535LL * 32; /* grid-stride beyond that */
    pair_magnitude_kernel<T><<<(unsigned)blocks, block, 0, s>>>((const T *)x->data, (T *)y->data,
                                                                n, row);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

} // namespace

extern "C" avf_status avf_cuda_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x,
                                              int64_t outer, int64_t half, int64_t inner,
                                              avf_tensor *y) {
    (void)outer;
    if (x->dtype == AVF_DTYPE_F16)
        return launch<__half>(ctx, x, (long long)(half * inner), y);
    if (x->dtype == AVF_DTYPE_F32)
        return launch<float>(ctx, x, (long long)(half * inner), y);
    return AVF_FAIL(AVF_ERR_INTERNAL, "PairMagnitude: dtype %s", avf_dtype_name(x->dtype));
}
