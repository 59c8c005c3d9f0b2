/* Internal: the CUDA half of the audio family (src/ops/cuda/audio.cu).
 * Same arguments as the CPU kernels (ops/cpu/audio_cpu.h) with device
 * pointers of ctx's device. */
#ifndef AVF_OPS_CUDA_AUDIO_CUDA_H
#define AVF_OPS_CUDA_AUDIO_CUDA_H
#ifdef AVF_HAVE_CUDA

#include "ops/audio.h"

#ifdef __cplusplus
extern "C" {
#endif

avf_status avf_cuda_mixdown(avf_op_ctx *ctx, const float *w, int64_t B, int64_t C, int64_t T,
                            const float *x, float *y);
avf_status avf_cuda_resample(avf_op_ctx *ctx, const avf_resample_filter *f, const float *bank,
                             int64_t rows, int64_t T, int64_t T_out, const float *x, float *y);
avf_status avf_cuda_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, int64_t B,
                              int64_t n, const float *x, float *y);
avf_status avf_cuda_loudness(avf_op_ctx *ctx, int rate, const double *w, int64_t B, int64_t C,
                             int64_t T, const float *x, float *y);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_AUDIO_CUDA_H */
