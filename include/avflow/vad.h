/* avflow voice activity detection: audio files in, speech segments out.
 *
 * One avf_vad holds Silero VAD v5 (models/silero_vad.onnx) on a device.
 * avf_vad_run_batch takes N encoded audio files (WAV/FLAC/OGG through
 * libsndfile; MP3/AAC/M4A/Opus through FFmpeg when libavflow_media is built
 * with it), decodes them on the host, uploads each once, mixes down and
 * resamples to 16 kHz on the device, and runs Silero step by step over
 * 512-sample chunks with one batch row per clip, so every model step serves
 * all clips at once. Only the speech probabilities come back to the host;
 * the segments are computed there (avf_vad_segments_from_probs).
 *
 * Segments follow silero-vad's get_speech_timestamps (v5.1): the same
 * thresholds, minimum speech/silence, padding and maximum-length splitting,
 * on 16 kHz samples. Unlike silero-vad's Python helper, clips at a multiple
 * of 16 kHz are resampled with a low-pass filter rather than decimated, and
 * 8 kHz clips are resampled to 16 kHz (Silero's 16 kHz branch runs for all).
 *
 * Thread safety: avf_vad_run_batch may be called from any number of threads
 * at once on one avf_vad (each call takes its own stream and staging ring).
 */
#ifndef AVFLOW_VAD_H
#define AVFLOW_VAD_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on one call. */
#define AVF_VAD_MAX_BATCH 1024                 /* clips per avf_vad_run_batch */
#define AVF_VAD_MAX_CLIP_SECONDS 3600          /* decoded duration of one clip */
#define AVF_VAD_MAX_BATCH_SECONDS (8 * 3600)   /* all clips of a call together */
#define AVF_VAD_MAX_INPUT_BYTES ((size_t)1 << 30) /* encoded bytes of one clip */
#define AVF_VAD_MAX_SEGMENTS (1 << 20)         /* segments of one clip (bounded by
                                                  its chunks anyway) */

#define AVF_VAD_RATE 16000  /* Silero's rate: everything is resampled to it */
#define AVF_VAD_CHUNK 512   /* samples per Silero step at 16 kHz */
#define AVF_VAD_CONTEXT 64  /* samples of the previous chunk prepended */

typedef struct avf_vad avf_vad;

/* A plain struct (compared with memcmp by callers that group requests):
 * always start from avf_vad_options_default, which zeroes padding. */
typedef struct avf_vad_options {
    float threshold;      /* speech when p >= threshold; (0, 1), default 0.5 */
    float neg_threshold;  /* speech ends when p < neg_threshold; [0, threshold],
                             default threshold - 0.15 */
    int min_speech_ms;    /* shorter speech is dropped; [0, 600000], default 250 */
    int min_silence_ms;   /* silence that ends speech; [0, 600000], default 100 */
    int speech_pad_ms;    /* added on both sides; [0, 60000], default 30 */
    float max_speech_s;   /* longer speech is split; 0 = unlimited (default), else
                             > (512 + 2 * pad) / 16000 s and <= 86400 */
    int fp16;             /* 1: Silero runs in f16 (CUDA devices only) */
} avf_vad_options;

void avf_vad_options_default(avf_vad_options *o);
/* AVF_OK when every field is in its range (else INVALID_ARG naming it). */
avf_status avf_vad_options_check(const avf_vad_options *o);

/* One encoded audio file in memory; the caller keeps it during the call. */
typedef struct avf_vad_input {
    const void *data;
    size_t len;
} avf_vad_input;

typedef struct avf_vad_segment {
    double start_s, end_s;
} avf_vad_segment;

/* Per clip: status AVF_OK with the segments, or the clip's own error
 * (corrupt, unsupported, too long, ...) with its message in `error`; one bad
 * clip never fails the others. */
typedef struct avf_vad_result {
    avf_status status;
    char error[256];
    double duration_s;   /* of the decoded audio at its own rate */
    int sample_rate;     /* of the file */
    int channels;        /* of the file */
    int n_segments;
    avf_vad_segment *segments; /* malloc'ed; avf_vad_result_free releases them */
} avf_vad_result;

void avf_vad_result_free(avf_vad_result *r);

/* Load Silero from model_path for device dev (the CPU or a CUDA GPU). */
avf_status avf_vad_create(const char *model_path, avf_device *dev, avf_vad **out);
/* NULL is ignored; no call may be running. */
void avf_vad_free(avf_vad *v);

/* Run n clips (1 <= n <= AVF_VAD_MAX_BATCH) with options o. res[0..n) is
 * overwritten (any previous contents are not freed). Returns AVF_OK when
 * the batch ran, even if some clips failed (see res[i].status); an error
 * status (bad arguments, device failure, out of memory) means no clip has
 * segments, and each res[i] then carries that status and message. */
avf_status avf_vad_run_batch(avf_vad *v, const avf_vad_options *o, int n,
                             const avf_vad_input *in, avf_vad_result *res);

/* Counters of one avf_vad since creation (for benchmarks and metrics). */
typedef struct avf_vad_stats {
    uint64_t clips;        /* clips that produced segments */
    uint64_t failed_clips; /* clips that failed */
    uint64_t steps;        /* Silero runs (each over a whole batch) */
    uint64_t chunks;       /* 512-sample chunks of real audio classified */
    double audio_s;        /* seconds of audio classified */
    /* host wall time of the phases of all calls: decode + upload + enqueued
     * resampling; Silero steps up to the probabilities on the host (it ends
     * with that download, so it covers the device work); segments */
    double prep_s, silero_s, post_s;
} avf_vad_stats;
void avf_vad_get_stats(const avf_vad *v, avf_vad_stats *out);

/* The post-processing alone: probs[i] is Silero's speech probability of
 * 16 kHz samples [512 i, 512 i + 512) of a clip of n_samples samples
 * (n_probs == ceil(n_samples / 512)). Segments in 16 kHz samples are written
 * to a malloc'ed array (*out NULL when there are none), which the caller
 * frees. Probabilities must be finite, in [0, 1]. */
typedef struct avf_vad_span {
    int64_t start, end; /* samples at 16 kHz, end exclusive */
} avf_vad_span;
avf_status avf_vad_segments_from_probs(const avf_vad_options *o, const float *probs,
                                       int64_t n_probs, int64_t n_samples, avf_vad_span **out,
                                       int *n_out);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_VAD_H */
