/* avflow audio in and out: decoding files or memory buffers to planar f32,
 * putting them on a device, and encoding WAV / FLAC / Ogg (Vorbis, Opus).
 *
 * Decoding probes the content, never the file name: WAV (and the other
 * PCM containers libsndfile reads), FLAC and Ogg Vorbis go through
 * libsndfile; everything else (MP3, AAC/M4A, Ogg Opus, ...) through FFmpeg's
 * libavformat + libavcodec + libswresample. A mislabelled file decodes (or
 * fails with a status) the same as a correctly named one.
 *
 * Bounds on what is accepted from outside: at most 64 channels, sample
 * rates 1 kHz - 384 kHz, at most 6 hours of audio and 2^32 samples (all
 * channels; 16 GiB of f32); an empty, truncated-
 * header or unrecognized input is AVF_ERR_CORRUPT (or AVF_ERR_UNSUPPORTED
 * for a recognized but out-of-bounds stream), with a message. A file whose
 * data is cut short decodes to the samples that are present (streams are
 * often cut); a stream that yields no samples at all is AVF_ERR_CORRUPT.
 */
#ifndef AVFLOW_AUDIO_H
#define AVFLOW_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/staging.h"
#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_AUDIO_MAX_CHANNELS 64
#define AVF_AUDIO_MIN_RATE 1000
#define AVF_AUDIO_MAX_RATE 384000
#define AVF_AUDIO_MAX_SECONDS (6 * 3600)
#define AVF_AUDIO_MAX_SAMPLES (((int64_t)1) << 32) /* channels x frames */

/* Decoded audio in host memory: planar f32, channel c's samples at
 * data + c * frames, nominally in [-1, 1]. */
typedef struct avf_audio {
    float *data; /* malloc'ed; avf_audio_free releases it */
    int channels;
    int sample_rate;
    int64_t frames;
} avf_audio;

/* Decode a whole file / memory buffer. On failure *out is zeroed. */
avf_status avf_audio_decode_file(const char *path, avf_audio *out);
avf_status avf_audio_decode_memory(const void *data, size_t size, avf_audio *out);
/* Release the samples and zero the struct (NULL ignored). */
void avf_audio_free(avf_audio *a);

/* Put `a` on the staging ring's device as a new tensor [channels, frames]
 * f32 from `pool`, copied on `s` through the pinned ring (ledger tag
 * "audio.upload"). `a` may be freed once this returns (the ring copies it
 * into pinned slots). */
avf_status avf_audio_upload(const avf_audio *a, avf_staging *st, avf_pool *pool, avf_stream *s,
                            avf_tensor *out);

/* ---------------------------------------------------------------- encoding */

typedef enum avf_audio_format {
    AVF_AUDIO_WAV_PCM16 = 0, /* libsndfile */
    AVF_AUDIO_WAV_F32,       /* libsndfile, IEEE float */
    AVF_AUDIO_FLAC,          /* libsndfile, 16-bit */
    AVF_AUDIO_OGG_VORBIS,    /* libsndfile */
    AVF_AUDIO_OGG_OPUS,      /* libavcodec's libopus + libavformat's Ogg muxer */
    AVF_AUDIO_FORMAT_COUNT
} avf_audio_format;

typedef struct avf_audio_encode_opts {
    int bitrate; /* Opus: bits/s, 0: 64000 per channel pair; ignored elsewhere */
    double quality; /* Vorbis: 0..1, 0: 0.5 */
} avf_audio_encode_opts;

/* Encode all of `a` (opts may be NULL) to a file, or to a malloc'ed buffer
 * the caller frees with free(). Samples outside [-1, 1] are clipped for the
 * integer formats. Opus takes 8/12/16/24/48 kHz as is and other rates after
 * resampling to 48 kHz (libswresample), and at most 8 channels. */
avf_status avf_audio_encode_file(const avf_audio *a, avf_audio_format fmt,
                                 const avf_audio_encode_opts *opts, const char *path);
avf_status avf_audio_encode_memory(const avf_audio *a, avf_audio_format fmt,
                                   const avf_audio_encode_opts *opts, uint8_t **bytes,
                                   size_t *size);

/* Chunked encoding for streaming: push planar frames as they come, take the
 * bytes produced so far at any point, finish to flush. WAV streams carry a
 * header whose RIFF and data sizes are 0xFFFFFFFF ("unknown", the streaming
 * convention); FLAC and Vorbis are not offered chunked (libsndfile rewrites
 * their headers at the end). */
typedef struct avf_audio_encoder avf_audio_encoder;

avf_status avf_audio_encoder_create(avf_audio_format fmt, int sample_rate, int channels,
                                    const avf_audio_encode_opts *opts, avf_audio_encoder **out);
/* planar: channel c's `frames` samples at planar + c * stride (stride >= frames). */
avf_status avf_audio_encoder_push(avf_audio_encoder *e, const float *planar, int64_t frames,
                                  int64_t stride);
/* Flush the encoder and write the trailer; push fails afterwards. */
avf_status avf_audio_encoder_finish(avf_audio_encoder *e);
/* Move the bytes produced since the last take into a malloc'ed buffer
 * (*bytes NULL and *size 0 when there are none); the caller frees it. */
avf_status avf_audio_encoder_take(avf_audio_encoder *e, uint8_t **bytes, size_t *size);
void avf_audio_encoder_free(avf_audio_encoder *e);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_AUDIO_H */
