/* Internal: the CUDA half of the spectral family (src/ops/cuda/spectral.cu). */
#ifndef AVF_OPS_CUDA_SPECTRAL_CUDA_H
#define AVF_OPS_CUDA_SPECTRAL_CUDA_H
#ifdef AVF_HAVE_CUDA

#include "ops/spectral.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x, y, spec, fb, power: device pointers of ctx's device (f32). */
avf_status avf_cuda_stft(avf_op_ctx *ctx, const avf_stft_geom *g, avf_stft_output kind,
                         const float *x, float *y);
avf_status avf_cuda_istft(avf_op_ctx *ctx, const avf_stft_geom *g, const float *spec, float *y);
avf_status avf_cuda_mel_project(avf_op_ctx *ctx, const avf_mel_geom *g, const float *fb,
                                const float *power, float *y);
avf_status avf_cuda_mel_log(avf_op_ctx *ctx, const avf_logmel_params *p, const avf_mel_geom *g,
                            float *y);
/* Destroy the idle cached cuFFT plans (streams must be idle). */
void avf_cuda_spectral_release(void);

#ifdef __cplusplus
}
#endif
#endif /* AVF_HAVE_CUDA */
#endif /* AVF_OPS_CUDA_SPECTRAL_CUDA_H */
