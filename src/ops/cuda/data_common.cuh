/* Internal: helpers shared by the data family's CUDA files. */
#ifndef AVF_OPS_CUDA_DATA_COMMON_CUH
#define AVF_OPS_CUDA_DATA_COMMON_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/data_cuda.h"

namespace avf_data {

static constexpr int kThreads = 256;

/* Grid for a grid-stride loop over `work` items, capped to a legal size. */
static inline unsigned grid_for(int64_t work) {
    int64_t b = (work + kThreads - 1) / kThreads;
    if (b > 16384)
        b = 16384;
    return (unsigned)(b < 1 ? 1 : b);
}

static inline avf_status set_device(avf_op_ctx *ctx) {
    AVF_CUDA_TRY(cudaSetDevice(avf_device_get_index(ctx->dev)));
    return AVF_OK;
}

static inline cudaStream_t stream_of(avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

/* The unsigned type of an element of N bytes (data movement only). */
template <int N> struct elem;
template <> struct elem<1> { typedef uint8_t type; };
template <> struct elem<2> { typedef uint16_t type; };
template <> struct elem<4> { typedef uint32_t type; };
template <> struct elem<8> { typedef unsigned long long type; };

#define AVF_GRID_STRIDE(i, n)                                                          \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
         i += (int64_t)blockDim.x * gridDim.x)

} // namespace avf_data

/* Kernels run on the context's device. */
#define AVF_TRY_CUDA_DEVICE(ctx) AVF_TRY(avf_data::set_device(ctx))

#endif /* AVF_OPS_CUDA_DATA_COMMON_CUH */
