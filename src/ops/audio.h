/* Internal: the time-domain audio op family (see ops/op.h).
 *
 *   channel mixdown          avf_op_mixdown    f32 [B, C, T] -> [B, 1, T]
 *   polyphase resampling     avf_op_resample   f32 [B, C, T] -> [B, C, ceil(T*L/M)]
 *   peak / RMS normalization avf_op_normalize  f32 [B, C, T] -> same shape
 *   integrated loudness      avf_op_loudness   f32 [B, C, T] -> [B] LUFS
 *
 * Batching: every clip of a batch has the same length T (the tensor's last
 * dim) and the same channel count; callers batch clips of different lengths
 * by padding with zeros (which changes neither peak nor mixdown, and only
 * adds silent blocks that loudness gating drops) or by running per clip.
 * Per-item valid lengths are not supported.
 *
 * Resampling (any rate to any rate): the ratio out/in is reduced to L/M by
 * their gcd. Output sample n sits at input time t = n*M/L and is
 *   y[n] = sum_j x[j] * g(t - j),  g(u) = fc*sinc(fc*u) * kaiser(u / (T/2)),
 * fc = rolloff * min(1, L/M) (fraction of the input Nyquist), j over the T
 * input samples nearest t (zero outside the clip). The filter is linear
 * phase and centred, so there is no delay to compensate. Since t - j only
 * takes the L fractional offsets p/L, g is tabulated once on the host as a
 * bank of L phases x T taps (avf_resample_filter_make) and uploaded to the
 * device by the caller (avf_resample_filter_upload; ledger tag
 * "audio.resample.filter"), once per (rates, quality), then reused.
 * Each phase is normalized to unit DC gain. The default quality (64 zero
 * crossings of the sinc on each side, Kaiser beta 10, rolloff 0.95) gives
 * > 90 dB SNR on a sweep below the cutoff; taps per phase grows as M/L when
 * downsampling (2*ceil(64/fc)).
 *
 * Loudness follows ITU-R BS.1770-4 / EBU R128: K-weighting (a high-shelf
 * and a high-pass biquad whose coefficients are derived for the clip's
 * sample rate), mean square per 400 ms block every 100 ms (blocks built from
 * 100 ms segments of round(rate/10) samples, as libebur128 does), channel
 * weights (default, by channel count as libebur128 assumes: 4 = L R Ls Rs,
 * 5 = L R C Ls Rs, 6 = L R C LFE Ls Rs; 1.0 for L, R, C, 1.41 for surround,
 * 0 for the LFE; 1.0 for every channel of other layouts), absolute gate -70 LUFS,
 * relative gate -10 LU. A clip with no block above the gates (or shorter
 * than 400 ms) has loudness -inf. Everything, gating included, runs on the
 * op's device: no host copy, no sync. The CUDA K-weighting runs the IIR in
 * chunks, each started from zero state a warm-up of ~rate/6 samples early
 * (about 40 time constants of the slowest pole, so the chunk's state is
 * exact to double rounding) so that chunks run in parallel.
 *
 * Accumulation is in double on both devices (sums of squares, filter state).
 */
#ifndef AVF_OPS_AUDIO_H
#define AVF_OPS_AUDIO_H

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_AUDIO_OP_MAX_CHANNELS 64
#define AVF_AUDIO_OP_MIN_RATE 1000
#define AVF_AUDIO_OP_MAX_RATE 384000

/* ---------------------------------------------------------------- mixdown */

typedef struct avf_mixdown_params {
    int n_weights;                             /* 0: mean of the channels */
    float weights[AVF_AUDIO_OP_MAX_CHANNELS];  /* else one per channel: y = sum w_c x_c */
} avf_mixdown_params;

/* x: [B, C, T] f32 -> [B, 1, T]. */
avf_status avf_mixdown_shape(const avf_mixdown_params *p, int ndim, const int64_t *dims,
                             int64_t *out_dims);
avf_status avf_op_mixdown(avf_op_ctx *ctx, const avf_mixdown_params *p, const avf_tensor *x,
                          avf_tensor *y);

/* ---------------------------------------------------------------- resample */

typedef struct avf_resample_params {
    int in_rate, out_rate; /* Hz, each in [1000, 384000] */
    int taps;              /* taps per phase (even, <= 8192); 0: 2*ceil(64/fc) */
    double rolloff;        /* cutoff as a fraction of the lower Nyquist; 0: 0.95 */
    double kaiser_beta;    /* 0: 10 */
} avf_resample_params;

/* The host filter bank: phase p (0 <= p < L) is taps floats at
 * h + p * taps; tap k weights input sample floor(n*M/L) - taps/2 + 1 + k. */
typedef struct avf_resample_filter {
    int64_t L, M;
    int taps;
    double fc;
    float *h; /* L * taps, malloc'ed */
} avf_resample_filter;

/* Builds the bank; banks over 2^25 floats are AVF_ERR_UNSUPPORTED (such
 * ratios, e.g. 384000 -> 383999, need a rational approximation instead). */
avf_status avf_resample_filter_make(const avf_resample_params *p, avf_resample_filter *f);
void avf_resample_filter_free(avf_resample_filter *f);
/* Copies the bank into a new tensor [L, taps] f32 on ctx's device, from
 * ctx->pool, enqueued on ctx->stream (H2D recorded as
 * "audio.resample.filter"; the host bank must stay alive until the copy has
 * completed, i.e. until the stream is synchronized). */
avf_status avf_resample_filter_upload(avf_op_ctx *ctx, const avf_resample_filter *f,
                                      avf_tensor *bank);
/* x: [B, C, T] -> [B, C, ceil(T * L / M)] (T <= 2^40). */
avf_status avf_resample_shape(const avf_resample_filter *f, int ndim, const int64_t *dims,
                              int64_t *out_dims);
/* bank: from avf_resample_filter_upload for f, on ctx's device. */
avf_status avf_op_resample(avf_op_ctx *ctx, const avf_resample_filter *f, const avf_tensor *bank,
                           const avf_tensor *x, avf_tensor *y);

/* ---------------------------------------------------------------- normalize */

typedef enum avf_normalize_kind { AVF_NORMALIZE_PEAK = 0, AVF_NORMALIZE_RMS } avf_normalize_kind;

typedef struct avf_normalize_params {
    avf_normalize_kind kind;
    double target_db; /* dBFS, in [-200, 60]: peak |x| or RMS over the clip (all channels) */
} avf_normalize_params;

/* Each clip is scaled by 10^(target/20) / level; a silent clip (level 0) is
 * copied unchanged. x and y may be the same tensor. */
avf_status avf_op_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, const avf_tensor *x,
                            avf_tensor *y);

/* ---------------------------------------------------------------- loudness */

typedef struct avf_loudness_params {
    int sample_rate;                           /* [8000, 384000] */
    int n_weights;                             /* 0: defaults (see top) */
    float weights[AVF_AUDIO_OP_MAX_CHANNELS];  /* else one per channel, >= 0 */
} avf_loudness_params;

/* x: [B, C, T] f32 -> y: [B] f32, integrated loudness in LUFS. */
avf_status avf_op_loudness(avf_op_ctx *ctx, const avf_loudness_params *p, const avf_tensor *x,
                           avf_tensor *y);

/* ---- shared between the CPU and CUDA kernels ---- */

/* The two K-weighting biquads for `rate`: b[0..2], a[1..2] (a0 = 1) of the
 * shelf (stage 0) then the high-pass (stage 1). */
typedef struct avf_kweight {
    double b[2][3], a[2][3];
} avf_kweight;
void avf_kweight_design(int rate, avf_kweight *k);
/* The channel weights in effect (p's or the defaults) into w[channels]. */
void avf_loudness_weights(const avf_loudness_params *p, int channels, double *w);
/* 100 ms segment length (samples) and number of 400 ms blocks of a clip. */
int64_t avf_loudness_segment(int rate);
int64_t avf_loudness_blocks(int rate, int64_t frames);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_AUDIO_H */
