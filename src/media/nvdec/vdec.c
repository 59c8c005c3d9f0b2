/* avf_video_decoder: the calls shared by every decoder backend, and the
 * bounded queue of decoded frames between a backend and its caller. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "media/nvdec/vdec.h"

const char *avf_video_codec_name(avf_video_codec c) {
    switch (c) {
    case AVF_VIDEO_CODEC_H264: return "h264";
    case AVF_VIDEO_CODEC_HEVC: return "hevc";
    case AVF_VIDEO_CODEC_VP9: return "vp9";
    case AVF_VIDEO_CODEC_AV1: return "av1";
    default: return "unknown";
    }
}

void avf_video_frame_release(avf_video_frame *f, avf_stream *s) {
    if (!f)
        return;
    avf_tensor_release(&f->y, s);
    avf_tensor_release(&f->uv, s);
    memset(f, 0, sizeof *f);
}

avf_status avf_vdec_new(const avf_vdec_ops *ops, void *impl, avf_pool *pool, avf_stream *s,
                        const avf_video_decoder_options *opts, avf_video_decoder **out) {
    *out = NULL;
    avf_video_decoder_options o = *opts;
    if (o.codec <= AVF_VIDEO_CODEC_UNKNOWN || o.codec >= AVF_VIDEO_CODEC_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder: codec %d is not one avflow decodes",
                        (int)o.codec);
    if (o.max_width == 0)
        o.max_width = AVF_VIDEO_MAX_DIM;
    if (o.max_height == 0)
        o.max_height = AVF_VIDEO_MAX_DIM;
    if (o.max_queued == 0)
        o.max_queued = AVF_VDEC_DEFAULT_QUEUE;
    if (o.max_width < 16 || o.max_width > AVF_VIDEO_MAX_DIM || o.max_height < 16 ||
        o.max_height > AVF_VIDEO_MAX_DIM)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder: max size %dx%d outside [16, %d]",
                        o.max_width, o.max_height, AVF_VIDEO_MAX_DIM);
    if (o.max_queued < 1 || o.max_queued > AVF_VDEC_MAX_QUEUE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder: max_queued %d outside [1, %d]",
                        o.max_queued, AVF_VDEC_MAX_QUEUE);
    if (o.extra_surfaces < 0 || o.extra_surfaces > 16)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder: extra_surfaces %d outside [0, 16]",
                        o.extra_surfaces);
    avf_video_decoder *d = calloc(1, sizeof *d);
    if (d)
        d->ring = calloc((size_t)o.max_queued, sizeof *d->ring);
    if (!d || !d->ring) {
        free(d);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video decoder: no memory");
    }
    d->ops = ops;
    d->impl = impl;
    d->opts = o;
    d->pool = pool;
    d->stream = s;
    *out = d;
    return AVF_OK;
}

void avf_vdec_push(avf_video_decoder *d, avf_video_frame *f) {
    if (d->count == d->opts.max_queued) {
        avf_video_frame_release(f, d->stream);
        d->dropped++;
        d->overflowed = 1;
        return;
    }
    d->ring[(d->head + d->count) % d->opts.max_queued] = *f;
    d->count++;
    memset(f, 0, sizeof *f);
}

avf_status avf_vdec_alloc_frame(avf_video_decoder *d, avf_pixel_format fmt, int w, int h,
                                int64_t pts, avf_video_frame *f) {
    memset(f, 0, sizeof *f);
    avf_dtype dt = fmt == AVF_PIXEL_P010 ? AVF_DTYPE_I16 : AVF_DTYPE_U8;
    int64_t ys[2] = {h, w}, uvs[3] = {(h + 1) / 2, (w + 1) / 2, 2};
    AVF_TRY(avf_tensor_alloc(&f->y, d->pool, dt, 2, ys, d->stream));
    avf_status s = avf_tensor_alloc(&f->uv, d->pool, dt, 3, uvs, d->stream);
    if (s != AVF_OK) {
        avf_tensor_release(&f->y, d->stream);
        return s;
    }
    f->format = fmt;
    f->width = w;
    f->height = h;
    f->pts = pts;
    return AVF_OK;
}

avf_status avf_video_decoder_send(avf_video_decoder *d, const uint8_t *data, size_t size,
                                  int64_t pts) {
    AVF_CHECK_ARG(d != NULL);
    AVF_CHECK_ARG(size == 0 || data != NULL);
    if (size > AVF_VIDEO_MAX_PACKET)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder (%s): packet of %zu bytes (at most %u)",
                        d->ops->name, size, AVF_VIDEO_MAX_PACKET);
    d->overflowed = 0;
    int64_t before = d->dropped;
    AVF_TRY(d->ops->send(d, data, size, pts));
    if (d->overflowed)
        return AVF_FAIL(AVF_ERR_FULL, "video decoder (%s): %lld frame(s) dropped, %d already "
                        "waiting (receive after each send)", d->ops->name,
                        (long long)(d->dropped - before), d->opts.max_queued);
    return AVF_OK;
}

avf_status avf_video_decoder_receive(avf_video_decoder *d, avf_video_frame *frame, int *got) {
    AVF_CHECK_ARG(frame != NULL && got != NULL);
    memset(frame, 0, sizeof *frame);
    *got = 0;
    AVF_CHECK_ARG(d != NULL);
    if (d->count == 0)
        return AVF_OK;
    *frame = d->ring[d->head];
    memset(&d->ring[d->head], 0, sizeof d->ring[d->head]);
    d->head = (d->head + 1) % d->opts.max_queued;
    d->count--;
    d->delivered++;
    *got = 1;
    return AVF_OK;
}

void avf_video_decoder_counts(const avf_video_decoder *d, int64_t *delivered, int64_t *dropped) {
    if (delivered)
        *delivered = d ? d->delivered : 0;
    if (dropped)
        *dropped = d ? d->dropped : 0;
}

void avf_video_decoder_free(avf_video_decoder *d) {
    if (!d)
        return;
    /* the backend first: it may still hold device work writing into frames */
    d->ops->destroy(d);
    for (int i = 0; i < d->count; i++)
        avf_video_frame_release(&d->ring[(d->head + i) % d->opts.max_queued], d->stream);
    free(d->ring);
    free(d);
}
