/* CPU video decoding through libavcodec, for machines without NVDEC: the
 * same packets in, the same NV12 / P010 frame layout out (host tensors),
 * so a pipeline is written once. libavcodec hands out planar 4:2:0
 * (yuv420p, or yuv420p10le at 10 bits); interleaving the chroma planes
 * here is all the conversion needed (no libswscale). */
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

#include "core/error.h"
#include "media/nvdec/vdec.h"

typedef struct cpu_dec {
    AVCodecContext *cc;
    AVPacket *pkt;
    AVFrame *frame;
    int ended;
} cpu_dec;

static avf_status av_fail(avf_status s, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return AVF_FAIL(s, "video decoder (cpu): %s: %s", what, msg);
}

/* Copy rows of `bytes` from a strided source into a packed destination. */
static void copy_rows(uint8_t *dst, const uint8_t *src, int src_stride, size_t bytes, int rows) {
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * bytes, src + (ptrdiff_t)r * src_stride, bytes);
}

/* One decoded AVFrame -> an avf_video_frame in the decoder's queue. */
static avf_status convert(avf_video_decoder *d, const AVFrame *f) {
    int w = f->width, h = f->height;
    if (w <= 0 || h <= 0 || w > d->opts.max_width || h > d->opts.max_height)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video decoder (cpu): %dx%d frame (at most %dx%d)", w,
                        h, d->opts.max_width, d->opts.max_height);
    enum AVPixelFormat pf = (enum AVPixelFormat)f->format;
    int ten = pf == AV_PIX_FMT_YUV420P10LE || pf == AV_PIX_FMT_P010LE;
    int planar = pf == AV_PIX_FMT_YUV420P || pf == AV_PIX_FMT_YUVJ420P || pf == AV_PIX_FMT_YUV420P10LE;
    int semi = pf == AV_PIX_FMT_NV12 || pf == AV_PIX_FMT_P010LE;
    if (!planar && !semi) {
        const char *name = av_get_pix_fmt_name(pf);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video decoder (cpu): pixel format %s (4:2:0 at 8 "
                        "or 10 bits is supported)", name ? name : "unknown");
    }
    int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    avf_video_frame out;
    AVF_TRY(avf_vdec_alloc_frame(d, ten ? AVF_PIXEL_P010 : AVF_PIXEL_NV12, w, h,
                                 pts == AV_NOPTS_VALUE ? AVF_VIDEO_NO_PTS : pts, &out));
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    size_t px = ten ? 2 : 1;
    copy_rows(out.y.data, f->data[0], f->linesize[0], (size_t)w * px, h);
    if (semi) {
        copy_rows(out.uv.data, f->data[1], f->linesize[1], (size_t)cw * 2 * px, ch);
    } else if (!ten) {
        uint8_t *uv = out.uv.data;
        for (int r = 0; r < ch; r++) {
            const uint8_t *u = f->data[1] + (ptrdiff_t)r * f->linesize[1];
            const uint8_t *v = f->data[2] + (ptrdiff_t)r * f->linesize[2];
            uint8_t *o = uv + (size_t)r * (size_t)cw * 2;
            for (int c = 0; c < cw; c++)
                o[2 * c] = u[c], o[2 * c + 1] = v[c];
        }
    } else {
        /* yuv420p10le holds the sample in the low 10 bits; P010 in the top */
        uint16_t *uv = out.uv.data, *y = out.y.data;
        for (int64_t i = 0; i < (int64_t)w * h; i++)
            y[i] = (uint16_t)(y[i] << 6);
        for (int r = 0; r < ch; r++) {
            const uint16_t *u = (const uint16_t *)(f->data[1] + (ptrdiff_t)r * f->linesize[1]);
            const uint16_t *v = (const uint16_t *)(f->data[2] + (ptrdiff_t)r * f->linesize[2]);
            uint16_t *o = uv + (size_t)r * (size_t)cw * 2;
            for (int c = 0; c < cw; c++)
                o[2 * c] = (uint16_t)(u[c] << 6), o[2 * c + 1] = (uint16_t)(v[c] << 6);
        }
    }
    avf_vdec_push(d, &out);
    return AVF_OK;
}

static avf_status drain(avf_video_decoder *d, cpu_dec *c) {
    for (;;) {
        int r = avcodec_receive_frame(c->cc, c->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return AVF_OK;
        if (r == AVERROR_INVALIDDATA)
            continue; /* a damaged picture: skip it, as players do */
        if (r < 0)
            return av_fail(AVF_ERR_CORRUPT, "decoding", r);
        avf_status s = convert(d, c->frame);
        av_frame_unref(c->frame);
        AVF_TRY(s);
    }
}

static avf_status cpu_send(avf_video_decoder *d, const uint8_t *data, size_t size, int64_t pts) {
    cpu_dec *c = d->impl;
    if (c->ended)
        return AVF_FAIL(AVF_ERR_CLOSED, "video decoder (cpu): the stream was ended");
    int r;
    if (size == 0) {
        c->ended = 1;
        r = avcodec_send_packet(c->cc, NULL);
    } else {
        /* libavcodec reads up to 64 bytes past the end: copy into a padded
         * packet rather than trust the caller's buffer to be padded */
        r = av_new_packet(c->pkt, (int)size);
        if (r < 0)
            return av_fail(AVF_ERR_OUT_OF_MEMORY, "packet", r);
        memcpy(c->pkt->data, data, size);
        c->pkt->pts = pts == AVF_VIDEO_NO_PTS ? AV_NOPTS_VALUE : pts;
        r = avcodec_send_packet(c->cc, c->pkt);
        av_packet_unref(c->pkt);
    }
    if (r < 0 && r != AVERROR_INVALIDDATA && r != AVERROR_EOF)
        return av_fail(AVF_ERR_CORRUPT, "decoding", r);
    return drain(d, c);
}

static void cpu_destroy(avf_video_decoder *d) {
    cpu_dec *c = d->impl;
    if (!c)
        return;
    avcodec_free_context(&c->cc);
    av_packet_free(&c->pkt);
    av_frame_free(&c->frame);
    av_free(c);
    d->impl = NULL;
}

static const avf_vdec_ops cpu_ops = {"cpu", cpu_send, cpu_destroy};

static const AVCodec *find_decoder(avf_video_codec codec) {
    switch (codec) {
    case AVF_VIDEO_CODEC_H264: return avcodec_find_decoder(AV_CODEC_ID_H264);
    case AVF_VIDEO_CODEC_HEVC: return avcodec_find_decoder(AV_CODEC_ID_HEVC);
    case AVF_VIDEO_CODEC_VP9: return avcodec_find_decoder(AV_CODEC_ID_VP9);
    case AVF_VIDEO_CODEC_AV1: {
        /* FFmpeg's own AV1 decoder only drives hardware; dav1d decodes */
        const AVCodec *c = avcodec_find_decoder_by_name("libdav1d");
        return c ? c : avcodec_find_decoder(AV_CODEC_ID_AV1);
    }
    default: return NULL;
    }
}

avf_status avf_video_decoder_create_cpu(avf_pool *pool, const avf_video_decoder_options *opts,
                                        avf_video_decoder **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(pool != NULL && opts != NULL);
    if (avf_device_get_kind(avf_pool_device(pool)) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video decoder (cpu): the pool must be a CPU pool "
                        "(frames are host tensors)");
    cpu_dec *c = av_mallocz(sizeof *c);
    if (!c)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video decoder (cpu): no memory");
    avf_video_decoder *d = NULL;
    avf_status s = avf_vdec_new(&cpu_ops, c, pool, NULL, opts, &d);
    if (s != AVF_OK) {
        av_free(c);
        return s;
    }
    const AVCodec *dec = find_decoder(opts->codec);
    if (!dec) {
        avf_video_decoder_free(d);
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video decoder (cpu): this FFmpeg has no %s decoder",
                        avf_video_codec_name(opts->codec));
    }
    c->cc = avcodec_alloc_context3(dec);
    c->pkt = av_packet_alloc();
    c->frame = av_frame_alloc();
    if (!c->cc || !c->pkt || !c->frame) {
        avf_video_decoder_free(d);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video decoder (cpu): no memory");
    }
    /* bound what a stream can make the decoder allocate; the caller's own
     * max_width/height are checked on each frame, so that a stream over
     * them is a status rather than pictures silently skipped */
    c->cc->max_pixels = (int64_t)AVF_VIDEO_MAX_DIM * AVF_VIDEO_MAX_DIM;
    c->cc->thread_count = 0; /* one per core */
    int r = avcodec_open2(c->cc, dec, NULL);
    if (r < 0) {
        avf_video_decoder_free(d);
        return av_fail(AVF_ERR_UNSUPPORTED, "opening the decoder", r);
    }
    *out = d;
    return AVF_OK;
}
