/* Internal: pieces shared by the audio decode/encode files (src/media). */
#ifndef AVF_MEDIA_AUDIO_IMPL_H
#define AVF_MEDIA_AUDIO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/audio.h"

/* Interleaved f32 frames collected while decoding (the total is rarely
 * known up front, and never trusted when a header claims it), capped at
 * max_frames; turned into a planar avf_audio at the end. */
typedef struct avf_audio_acc {
    float *buf;
    int channels;
    int64_t frames, cap, max_frames;
} avf_audio_acc;

/* Checks channels and rate against the bounds; sets up an empty acc. */
avf_status avf_audio_acc_init(avf_audio_acc *acc, int channels, int rate);
avf_status avf_audio_acc_append(avf_audio_acc *acc, const float *interleaved, int64_t frames);
/* Moves the samples into *out (planar); fails when there are none. */
avf_status avf_audio_acc_finish(avf_audio_acc *acc, int rate, avf_audio *out);
void avf_audio_acc_free(avf_audio_acc *acc);

/* Sample buffers (audio_buffers.c): get one of at least `bytes` (a kept one
 * or malloc's; NULL when out of memory), put one back when done (kept for
 * the next get, or freed). Any malloc'ed pointer may be put. avf_audio_free
 * puts its samples; the decoders get theirs. */
float *avf_audio_buf_get(size_t bytes);
void avf_audio_buf_put(float *p);
size_t avf_audio_buf_kept_bytes(void); /* for the tests */

/* FFmpeg decode of a file (path) or of memory (data, size). */
avf_status avf_audio_decode_av(const char *path, const void *data, size_t size, avf_audio *out);

/* A growable byte buffer with a write position (for libsndfile's and
 * FFmpeg's I/O callbacks). */
typedef struct avf_bytebuf {
    uint8_t *p;
    size_t n, cap, pos;
} avf_bytebuf;
int avf_bytebuf_write(avf_bytebuf *b, const void *src, size_t n); /* at pos; 0 on OOM */

/* Ogg Opus through libavcodec/libavformat, bytes appended to *sink. */
typedef struct avf_opus_enc avf_opus_enc;
avf_status avf_opus_enc_create(int rate, int channels, int bitrate, avf_bytebuf *sink,
                               avf_opus_enc **out);
avf_status avf_opus_enc_push(avf_opus_enc *e, const float *planar, int64_t frames, int64_t stride);
avf_status avf_opus_enc_finish(avf_opus_enc *e);
void avf_opus_enc_free(avf_opus_enc *e);

#endif /* AVF_MEDIA_AUDIO_IMPL_H */
