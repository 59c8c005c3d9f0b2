/* H.264 encoding on the host: libavcodec's libx264 fed NV12 frames as they
 * are (x264 takes NV12 natively, so there is no conversion), producing an
 * Annex-B elementary stream that any demuxer or NVDEC's parser reads. */
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>

#include "avflow/video.h"
#include "core/error.h"

struct avf_video_encoder {
    AVCodecContext *cc;
    AVFrame *frame;
    AVPacket *pkt;
    uint8_t *out;
    size_t n, cap;
    int64_t next_pts;
    int finished;
};

static avf_status av_fail(avf_status s, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return AVF_FAIL(s, "video encoder: %s: %s", what, msg);
}

void avf_video_encoder_free(avf_video_encoder *e) {
    if (!e)
        return;
    avcodec_free_context(&e->cc);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    free(e->out);
    free(e);
}

static avf_status append(avf_video_encoder *e, const uint8_t *p, size_t n) {
    if (n > e->cap - e->n) {
        size_t cap = e->cap ? e->cap : 65536;
        while (cap - e->n < n) {
            if (cap > SIZE_MAX / 2)
                return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video encoder: output too large");
            cap *= 2;
        }
        uint8_t *nb = realloc(e->out, cap);
        if (!nb)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video encoder: no memory for %zu bytes", cap);
        e->out = nb;
        e->cap = cap;
    }
    memcpy(e->out + e->n, p, n);
    e->n += n;
    return AVF_OK;
}

/* Move every packet the encoder has ready into the output. */
static avf_status drain(avf_video_encoder *e) {
    for (;;) {
        int r = avcodec_receive_packet(e->cc, e->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return AVF_OK;
        if (r < 0)
            return av_fail(AVF_ERR_INTERNAL, "encoding", r);
        avf_status s = append(e, e->pkt->data, (size_t)e->pkt->size);
        av_packet_unref(e->pkt);
        AVF_TRY(s);
    }
}

avf_status avf_video_encoder_create(const avf_video_encode_options *o, avf_video_encoder **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(o != NULL);
    if (o->width < 16 || o->height < 16 || o->width > AVF_VIDEO_MAX_DIM ||
        o->height > AVF_VIDEO_MAX_DIM || (o->width & 1) || (o->height & 1))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: %dx%d (even sides in [16, %d])",
                        o->width, o->height, AVF_VIDEO_MAX_DIM);
    if (o->fps_num <= 0 || o->fps_den <= 0 || o->fps_num / o->fps_den > 1000)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: frame rate %d/%d", o->fps_num,
                        o->fps_den);
    if (o->crf < 0 || o->crf > 51 || o->gop < 0 || o->gop > 100000 || o->bframes < -1 ||
        o->bframes > 16)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: crf %d, gop %d, bframes %d", o->crf,
                        o->gop, o->bframes);
    const AVCodec *c = avcodec_find_encoder_by_name("libx264");
    if (!c)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video encoder: this FFmpeg has no libx264");
    avf_video_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video encoder: no memory");
    e->cc = avcodec_alloc_context3(c);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->cc || !e->frame || !e->pkt) {
        avf_video_encoder_free(e);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video encoder: no memory");
    }
    AVCodecContext *cc = e->cc;
    cc->width = o->width;
    cc->height = o->height;
    cc->pix_fmt = AV_PIX_FMT_NV12;
    cc->time_base = (AVRational){o->fps_den, o->fps_num};
    cc->framerate = (AVRational){o->fps_num, o->fps_den};
    cc->gop_size = o->gop ? o->gop : 2 * (o->fps_num + o->fps_den - 1) / o->fps_den;
    if (o->bframes)
        cc->max_b_frames = o->bframes < 0 ? 0 : o->bframes;
    /* no AV_CODEC_FLAG_GLOBAL_HEADER: SPS/PPS stay in band (Annex-B that a
     * raw-stream reader decodes from the first key frame) */
    av_opt_set(cc->priv_data, "preset", o->preset ? o->preset : "veryfast", 0);
    av_opt_set_double(cc->priv_data, "crf", o->crf ? o->crf : 23, 0);
    int r = avcodec_open2(cc, c, NULL);
    if (r < 0) {
        avf_video_encoder_free(e);
        return av_fail(AVF_ERR_UNSUPPORTED, "opening libx264", r);
    }
    e->frame->format = AV_PIX_FMT_NV12;
    e->frame->width = o->width;
    e->frame->height = o->height;
    *out = e;
    return AVF_OK;
}

avf_status avf_video_encoder_push(avf_video_encoder *e, const avf_video_frame *f) {
    AVF_CHECK_ARG(e != NULL && f != NULL);
    if (e->finished)
        return AVF_FAIL(AVF_ERR_CLOSED, "video encoder: finished");
    if (f->format != AVF_PIXEL_NV12)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video encoder: only NV12 frames (8-bit H.264)");
    if (f->width != e->cc->width || f->height != e->cc->height)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: a %dx%d frame for a %dx%d stream",
                        f->width, f->height, e->cc->width, e->cc->height);
    if (!f->y.data || !f->uv.data || !f->y.device ||
        avf_device_get_kind(f->y.device) != AVF_DEVICE_CPU ||
        avf_device_get_kind(f->uv.device) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: frames must be host tensors "
                        "(download device frames first)");
    size_t w = (size_t)f->width, h = (size_t)f->height;
    if (f->y.dtype != AVF_DTYPE_U8 || f->uv.dtype != AVF_DTYPE_U8 ||
        avf_tensor_nbytes(&f->y) != w * h || avf_tensor_nbytes(&f->uv) != w * (h / 2))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video encoder: planes do not match an NV12 %zux%zu "
                        "frame", w, h);
    /* the encoder may keep a reference to the frame it was given (lookahead),
     * so it gets its own buffers rather than the caller's tensors */
    av_frame_unref(e->frame);
    e->frame->format = AV_PIX_FMT_NV12;
    e->frame->width = f->width;
    e->frame->height = f->height;
    int r = av_frame_get_buffer(e->frame, 0);
    if (r < 0)
        return av_fail(AVF_ERR_OUT_OF_MEMORY, "frame buffer", r);
    const uint8_t *y = f->y.data, *uv = f->uv.data;
    for (size_t row = 0; row < h; row++)
        memcpy(e->frame->data[0] + (ptrdiff_t)row * e->frame->linesize[0], y + row * w, w);
    for (size_t row = 0; row < h / 2; row++)
        memcpy(e->frame->data[1] + (ptrdiff_t)row * e->frame->linesize[1], uv + row * w, w);
    e->frame->pts = f->pts == AVF_VIDEO_NO_PTS ? e->next_pts : f->pts;
    e->next_pts = e->frame->pts + 1;
    r = avcodec_send_frame(e->cc, e->frame);
    av_frame_unref(e->frame);
    if (r < 0)
        return av_fail(r == AVERROR(EINVAL) ? AVF_ERR_INVALID_ARG : AVF_ERR_INTERNAL, "encoding", r);
    return drain(e);
}

avf_status avf_video_encoder_finish(avf_video_encoder *e) {
    AVF_CHECK_ARG(e != NULL);
    if (e->finished)
        return AVF_OK;
    e->finished = 1;
    int r = avcodec_send_frame(e->cc, NULL);
    if (r < 0)
        return av_fail(AVF_ERR_INTERNAL, "flushing", r);
    return drain(e);
}

avf_status avf_video_encoder_take(avf_video_encoder *e, uint8_t **bytes, size_t *size) {
    AVF_CHECK_ARG(e != NULL && bytes != NULL && size != NULL);
    *bytes = NULL;
    *size = 0;
    if (e->n == 0)
        return AVF_OK;
    *bytes = e->out;
    *size = e->n;
    e->out = NULL;
    e->n = e->cap = 0;
    return AVF_OK;
}
