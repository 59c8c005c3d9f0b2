/* Pair magnitude: Y = sqrt(X[.., :h, ..]^2 + X[.., h:2h, ..]^2) along one
 * axis of X (its size 2h), i.e. |re + i im| of the two halves. It is the
 * one kernel for the written-out STFT magnitude of Silero VAD (a Conv as the
 * DFT, two Slices of its channels, two Pows, an Add, a Sqrt: six launches),
 * which graph/passes/fuse_magnitude.c rewrites into avflow:PairMagnitude. */
#ifndef AVF_OPS_MAGNITUDE_H
#define AVF_OPS_MAGNITUDE_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shape of Y: X's with dim `axis` (in [-ndim, ndim)) halved; that dim must
 * be even and > 0, and 2 * half when half > 0 (the rewritten pattern's
 * slices were [0, half) and [half, 2 half): another size must fail as the
 * original graph did, not be split elsewhere). */
avf_status avf_pair_magnitude_shape(int xnd, const int64_t *x, int64_t axis, int64_t half,
                                    int *ynd, int64_t *y);

/* X, Y: f32 or f16 (one dtype), contiguous, on ctx's device. */
avf_status avf_op_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x, int64_t axis, int64_t half,
                                 avf_tensor *y);

/* The kernels, on X seen as (outer, 2 * half, inner). */
avf_status avf_cpu_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x, int64_t outer,
                                  int64_t half, int64_t inner, avf_tensor *y);
#ifdef AVF_HAVE_CUDA
avf_status avf_cuda_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x, int64_t outer,
                                   int64_t half, int64_t inner, avf_tensor *y);
#endif

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_MAGNITUDE_H */
