/* CUDA kernels of the image family (ops/image.h). Each kernel is a
 * grid-stride loop (64-bit indices) over output pixels calling the same rules
 * as the CPU kernels (ops/image_px.h, ops/image_draw_px.h), so the two differ
 * only by float contraction (FMA).
 *
 * Item lists (frames of a batch) reach the device in one of two ways: up to
 * 16 items ride in the kernel's parameters (no copy, capturable in a CUDA
 * graph); more go through pool scratch with one async H2D copy. The host
 * array may be freed as soon as the copy call returns: CUDA stages pageable
 * H2D sources before cudaMemcpyAsync returns. Batched kernels put the item in
 * blockIdx.y (<= 4096 < 65535) and the item's pixels in a grid-stride x.
 */
#include <string.h>

#include "core/cuda/check.h"
#include "core/error.h"
#include "ops/cuda/image_cuda.h"

namespace {

constexpr int kThreads = 256;
constexpr int kInlineItems = 16;

unsigned grid_for(int64_t n, int64_t max_blocks) {
    int64_t b = (n + kThreads - 1) / kThreads;
    if (b < 1)
        b = 1;
    return (unsigned)(b > max_blocks ? max_blocks : b); /* loops stride the rest */
}

/* Blocks per item so that a whole batch stays around 2^20 blocks. */
unsigned grid_per_item(int64_t n, int items) {
    int64_t cap = ((int64_t)1 << 20) / items;
    return grid_for(n, cap < 1 ? 1 : cap);
}

cudaStream_t stream_of(const avf_op_ctx *ctx) {
    return (cudaStream_t)avf_stream_native(ctx->stream);
}

struct items_inline {
    avf_px_item it[kInlineItems];
    __device__ avf_px_item get(int i) const { return it[i]; }
};

/* kernel parameters must stay under 4 KiB */
static_assert(sizeof(items_inline) + sizeof(avf_px_out) < 4000, "inline items too large");
static_assert(sizeof(avf_px_draw) < 4000, "draw list too large");

struct items_global {
    const avf_px_item *p;
    __device__ avf_px_item get(int i) const { return p[i]; }
};

/* Calls launch(items) with the items where the device can read them (see
 * top); returns the launch's status or the first failure. */
template <class Launch>
avf_status with_items(avf_op_ctx *ctx, const avf_px_item *items, int n, Launch launch) {
    if (n <= kInlineItems) {
        items_inline in;
        memset(&in, 0, sizeof in);
        memcpy(in.it, items, (size_t)n * sizeof *items);
        return launch(in);
    }
    void *scratch = NULL;
    size_t bytes = (size_t)n * sizeof *items;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    avf_status s = avf_memcpy_async(ctx->dev, scratch, items, bytes, AVF_COPY_H2D, ctx->stream,
                                    "image.desc");
    if (s == AVF_OK)
        s = launch(items_global{(const avf_px_item *)scratch});
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}

__global__ void tensor_kernel(avf_px_tensor_op t, int64_t N) {
    int64_t hw = t.H * t.W, all = N * hw;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t n = i / hw, r = i % hw;
        avf_px_tensor_pixel(&t, n, r % t.W, r / t.W);
    }
}

template <class Items>
__global__ void preprocess_kernel(Items items, avf_px_out o) {
    const avf_px_item it = items.get(blockIdx.y);
    int64_t all = o.H * o.W;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x)
        avf_px_preprocess_pixel(&it, &o, i % o.W, i / o.W);
}

/* Counts per item in shared memory, then one atomic per bin and block. */
template <class Items>
__global__ void hist_kernel(Items items, int bins, unsigned *counts) {
    __shared__ unsigned sh[256];
    for (int b = threadIdx.x; b < bins; b += blockDim.x)
        sh[b] = 0u;
    __syncthreads();
    const avf_px_item it = items.get(blockIdx.y);
    int64_t w = it.m.roi_w, all = w * it.m.roi_h;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x) {
        const uint8_t *row = it.f.y + (it.m.roi_y + i / w) * it.f.y_pitch;
        atomicAdd(&sh[avf_px_luma_bin(row, it.f.p010, it.m.roi_x + i % w, bins)], 1u);
    }
    __syncthreads();
    for (int b = threadIdx.x; b < bins; b += blockDim.x)
        if (sh[b])
            atomicAdd(&counts[(int64_t)blockIdx.y * bins + b], sh[b]);
}

template <class Items>
__global__ void hist_norm_kernel(Items items, int n, int bins, const unsigned *counts,
                                 float *hist) {
    int64_t all = (int64_t)n * bins;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x) {
        const avf_px_map m = items.get((int)(i / bins)).m;
        hist[i] = avf_px_hist_fraction(counts[i], &m);
    }
}

template <class Items>
__global__ void thumb_kernel(Items items, int64_t th, int64_t tw, float *thumb) {
    const avf_px_item it = items.get(blockIdx.y);
    int64_t all = th * tw;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x)
        thumb[blockIdx.y * all + i] = avf_px_luma_area(&it, i % tw, i / tw);
}

__global__ void draw_kernel(avf_px_draw d) {
    int64_t all = d.H * d.W;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < all;
         i += (int64_t)gridDim.x * blockDim.x)
        avf_px_draw_pixel(&d, i % d.W, i / d.W);
}

} // namespace

extern "C" avf_status avf_cuda_image_tensor(avf_op_ctx *ctx, const avf_px_tensor_op *t,
                                            int64_t N) {
    tensor_kernel<<<grid_for(N * t->H * t->W, 1 << 20), kThreads, 0, stream_of(ctx)>>>(*t, N);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}

extern "C" avf_status avf_cuda_image_preprocess(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                                const avf_px_out *o) {
    dim3 grid(grid_per_item(o->H * o->W, n), (unsigned)n);
    cudaStream_t st = stream_of(ctx);
    return with_items(ctx, items, n, [&](auto its) -> avf_status {
        preprocess_kernel<<<grid, kThreads, 0, st>>>(its, *o);
        return AVF_CUDA_CHECK(cudaGetLastError());
    });
}

extern "C" avf_status avf_cuda_luma_hist(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                         int bins, float *hist) {
    void *scratch = NULL;
    size_t bytes = (size_t)n * (size_t)bins * sizeof(unsigned);
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &scratch));
    unsigned *counts = (unsigned *)scratch;
    cudaStream_t st = stream_of(ctx);
    int64_t most = 1;
    for (int i = 0; i < n; i++)
        if (items[i].m.roi_w * items[i].m.roi_h > most)
            most = items[i].m.roi_w * items[i].m.roi_h;
    dim3 grid(grid_per_item(most, n), (unsigned)n);
    avf_status s = AVF_CUDA_CHECK(cudaMemsetAsync(counts, 0, bytes, st));
    if (s == AVF_OK)
        s = with_items(ctx, items, n, [&](auto its) -> avf_status {
            hist_kernel<<<grid, kThreads, 0, st>>>(its, bins, counts);
            AVF_CUDA_TRY(cudaGetLastError());
            hist_norm_kernel<<<grid_for((int64_t)n * bins, 1 << 16), kThreads, 0, st>>>(
                its, n, bins, counts, hist);
            return AVF_CUDA_CHECK(cudaGetLastError());
        });
    avf_status fs = avf_pool_free(ctx->pool, scratch, ctx->stream);
    return s != AVF_OK ? s : fs;
}

extern "C" avf_status avf_cuda_luma_thumb(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                          int64_t th, int64_t tw, float *thumb) {
    dim3 grid(grid_per_item(th * tw, n), (unsigned)n);
    cudaStream_t st = stream_of(ctx);
    return with_items(ctx, items, n, [&](auto its) -> avf_status {
        thumb_kernel<<<grid, kThreads, 0, st>>>(its, th, tw, thumb);
        return AVF_CUDA_CHECK(cudaGetLastError());
    });
}

extern "C" avf_status avf_cuda_image_draw(avf_op_ctx *ctx, const avf_px_draw *d) {
    draw_kernel<<<grid_for(d->H * d->W, 1 << 16), kThreads, 0, stream_of(ctx)>>>(*d);
    AVF_CUDA_TRY(cudaGetLastError());
    return AVF_OK;
}
