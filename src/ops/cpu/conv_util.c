/* dtype staging for the CPU kernels of the convolution family: the kernels
 * compute in f32; other dtypes are converted into pool scratch first. */
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/conv_cpu.h"

avf_status avf_cpu_conv_f32_view(avf_op_ctx *ctx, const avf_tensor *t, const float **out,
                            void **scratch) {
    *scratch = NULL;
    if (!t) {
        *out = NULL;
        return AVF_OK;
    }
    int64_t n = avf_tensor_numel(t);
    if (t->dtype == AVF_DTYPE_F32 || n == 0) {
        *out = (const float *)t->data;
        return AVF_OK;
    }
    float *f = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)n * sizeof(float), ctx->stream, (void **)&f));
    const void *d = t->data;
    switch (t->dtype) {
    case AVF_DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            f[i] = avf_f16_to_f32(((const uint16_t *)d)[i]);
        break;
    case AVF_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            f[i] = avf_bf16_to_f32(((const uint16_t *)d)[i]);
        break;
    case AVF_DTYPE_I8:
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((const int8_t *)d)[i];
        break;
    case AVF_DTYPE_U8:
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((const uint8_t *)d)[i];
        break;
    default:
        avf_pool_free(ctx->pool, f, ctx->stream);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "CPU convolution family: dtype %s",
                        avf_dtype_name(t->dtype));
    }
    *out = f;
    *scratch = f;
    return AVF_OK;
}

avf_status avf_cpu_conv_f32_out(avf_op_ctx *ctx, avf_tensor *t, float **out, void **scratch) {
    *scratch = NULL;
    int64_t n = avf_tensor_numel(t);
    if (t->dtype == AVF_DTYPE_F32 || n == 0) {
        *out = (float *)t->data;
        return AVF_OK;
    }
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)n * sizeof(float), ctx->stream, scratch));
    *out = (float *)*scratch;
    return AVF_OK;
}

void avf_cpu_conv_f32_store(const float *src, avf_tensor *t) {
    int64_t n = avf_tensor_numel(t);
    void *d = t->data;
    if (t->dtype == AVF_DTYPE_F32 || n == 0 || (const void *)src == d)
        return;
    for (int64_t i = 0; i < n; i++) {
        float v = src[i];
        switch (t->dtype) {
        case AVF_DTYPE_F16: ((uint16_t *)d)[i] = avf_f32_to_f16(v); break;
        case AVF_DTYPE_BF16: ((uint16_t *)d)[i] = avf_f32_to_bf16(v); break;
        /* only MaxPool writes integers, copies of inputs; the clamp only
         * guards a window that lies wholly in the padding (-inf) */
        case AVF_DTYPE_I8: ((int8_t *)d)[i] = (int8_t)(v > 127.f ? 127.f : v >= -128.f ? v : -128.f); break;
        case AVF_DTYPE_U8: ((uint8_t *)d)[i] = (uint8_t)(v > 255.f ? 255.f : v >= 0.f ? v : 0.f); break;
        default: break;
        }
    }
}

void avf_cpu_conv_scratch_free(avf_op_ctx *ctx, void *p) {
    if (p)
        avf_pool_free(ctx->pool, p, ctx->stream);
}
