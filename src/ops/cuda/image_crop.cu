/* CUDA kernel of avf_op_quad_crop (ops/image_crop.h): the item in
 * blockIdx.y, its output pixels in a grid-stride x, each pixel computed by
 * the rule the CPU kernel uses (ops/image_crop_px.h). Descriptors go to the
 * device in one async H2D copy from pool scratch; CUDA stages a pageable
 * source before cudaMemcpyAsync returns, so the caller may free it. */
#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/image_crop_px.h"

extern "C" avf_status avf_cuda_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n,
                                         const avf_qc_out *o);

namespace {

constexpr int kThreads = 256;

__global__ void quad_crop_kernel(const avf_qc_desc *descs, avf_qc_out o) {
    const avf_qc_desc d = descs[blockIdx.y];
    int64_t all = o.H * o.W;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x)
        avf_qc_pixel(&d, &o, i % o.W, i / o.W);
}

} // namespace

extern "C" avf_status avf_cuda_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n,
                                         const avf_qc_out *o) {
    void *scratch = NULL;
    size_t bytes = (size_t)n * sizeof *d;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    avf_status s = avf_memcpy_async(ctx->dev, scratch, d, bytes, AVF_COPY_H2D, ctx->stream,
                                    "image.desc");
    if (s == AVF_OK) {
        int64_t px = o->H * o->W, blocks = (px + kThreads - 1) / kThreads;
        int64_t cap = ((int64_t)1 << 20) / n;
        if (cap < 1)
            cap = 1;
        dim3 grid((unsigned)(blocks < cap ? blocks : cap), (unsigned)n);
        cudaStream_t cs = (cudaStream_t)avf_stream_native(ctx->stream);
        quad_crop_kernel<<<grid, kThreads, 0, cs>>>((const avf_qc_desc *)scratch, *o);
        s = AVF_CUDA_CHECK(cudaGetLastError());
    }
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}
