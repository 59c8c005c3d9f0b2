/* Internal: CPU kernels of the audio family (src/ops/cpu/audio.c). Called by
 * the entry points in src/ops/audio.c with tensors already checked; x is
 * [B, C, T] contiguous f32 host memory. */
#ifndef AVF_OPS_CPU_AUDIO_CPU_H
#define AVF_OPS_CPU_AUDIO_CPU_H

#include "ops/audio.h"

/* w: C weights (the mean's 1/C when none were given). */
avf_status avf_cpu_mixdown(avf_op_ctx *ctx, const float *w, int64_t B, int64_t C, int64_t T,
                           const float *x, float *y);
avf_status avf_cpu_resample(avf_op_ctx *ctx, const avf_resample_filter *f, const float *bank,
                            int64_t rows, int64_t T, int64_t T_out, const float *x, float *y);
avf_status avf_cpu_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, int64_t B,
                             int64_t n, const float *x, float *y);
/* w: C channel weights. */
avf_status avf_cpu_loudness(avf_op_ctx *ctx, int rate, const double *w, int64_t B, int64_t C,
                            int64_t T, const float *x, float *y);

#endif /* AVF_OPS_CPU_AUDIO_CPU_H */
