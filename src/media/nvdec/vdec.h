/* Internal: what every video decoder backend (NVDEC in libavflow, libavcodec
 * in libavflow_media) provides behind avf_video_decoder, and the bounded
 * queue of decoded frames they share. */
#ifndef AVF_MEDIA_VDEC_H
#define AVF_MEDIA_VDEC_H

#include <stdint.h>

#include "avflow/video.h"

#define AVF_VDEC_DEFAULT_QUEUE 32
#define AVF_VDEC_MAX_QUEUE 1024

typedef struct avf_vdec_ops {
    const char *name; /* "nvdec", "cpu": prefixes messages */
    avf_status (*send)(avf_video_decoder *d, const uint8_t *data, size_t size, int64_t pts);
    void (*destroy)(avf_video_decoder *d); /* frees the backend state only */
} avf_vdec_ops;

/* The common part; a backend keeps its state behind `impl`. The frame queue
 * is a ring of max_queued entries, filled by the backend while it decodes
 * and emptied by receive (both on the caller's thread: a decoder is used by
 * one thread at a time). */
struct avf_video_decoder {
    const avf_vdec_ops *ops;
    void *impl;
    avf_video_decoder_options opts;
    avf_pool *pool;
    avf_stream *stream;
    avf_video_frame *ring;
    int head, count;
    int64_t delivered, dropped;
    int overflowed; /* a frame was dropped during the current send */
};

/* Validates opts (codec known, sizes within bounds) and fills in defaults;
 * allocates the decoder and its ring. */
avf_status avf_vdec_new(const avf_vdec_ops *ops, void *impl, avf_pool *pool, avf_stream *s,
                        const avf_video_decoder_options *opts, avf_video_decoder **out);
/* Take ownership of `f` (zeroed afterwards). When the ring is full the frame
 * is released, counted as dropped and d->overflowed set. */
void avf_vdec_push(avf_video_decoder *d, avf_video_frame *f);
/* Allocate the planes of a frame [h, w] of `fmt` from d->pool on d->stream. */
avf_status avf_vdec_alloc_frame(avf_video_decoder *d, avf_pixel_format fmt, int w, int h,
                                int64_t pts, avf_video_frame *f);

#endif /* AVF_MEDIA_VDEC_H */
