/* Audio decoding through FFmpeg: libavformat probes and demuxes (files, or
 * memory through a custom AVIOContext), libavcodec decodes the best audio
 * stream, libswresample turns whatever sample format comes out into
 * interleaved f32 at the stream's own rate and channel count (resampling is
 * the resample op's job, on the device). */
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>

#include "media/av_mem_io.h"
#include "core/error.h"
#include "media/audio_impl.h"

#define AVF_AV_IO_BUF 65536
/* A frame larger than this many samples per channel is treated as corrupt. */
#define AVF_AV_MAX_FRAME (1 << 22)
/* Demuxers that may be used (FFmpeg short names; "mov" covers MP4/M4A). */
#define AVF_AV_FORMATS                                                                 \
    "mp3,aac,mov,ogg,matroska,flac,wav,w64,aiff,caf,au,ac3,eac3,dts,wv,ape,tta,mpc,"   \
    "mpc8,asf,amr,amrnb,amrwb,loas,truehd,mlp,rm,voc,xwma,dsf,shorten,tak,gsm,s337m"

static avf_status av_fail(avf_status s, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return AVF_FAIL(s, "audio (FFmpeg): %s: %s", what, msg);
}

typedef struct av_dec {
    AVFormatContext *fmt;
    AVIOContext *io;
    AVCodecContext *cc;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    float *out;
    int out_cap; /* frames */
    int stream, channels, rate, swr_fmt;
    avf_audio_acc acc;
} av_dec;

static void av_dec_close(av_dec *d) {
    avcodec_free_context(&d->cc);
    avformat_close_input(&d->fmt);
    if (d->io) {
        av_freep(&d->io->buffer);
        avio_context_free(&d->io);
    }
    swr_free(&d->swr);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_freep(&d->out);
    avf_audio_acc_free(&d->acc);
}

/* Convert (or, with f NULL, flush) and append to the accumulator. */
static avf_status av_convert(av_dec *d, const AVFrame *f) {
    if (f) {
        if (f->sample_rate != d->rate || f->ch_layout.nb_channels != d->channels)
            return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                            "audio (FFmpeg): rate or channel count changes mid-stream");
        if (f->nb_samples <= 0 || f->nb_samples > AVF_AV_MAX_FRAME)
            return AVF_FAIL(AVF_ERR_CORRUPT, "audio (FFmpeg): frame of %d samples", f->nb_samples);
        if (!d->swr || d->swr_fmt != f->format) {
            swr_free(&d->swr);
            AVChannelLayout lay;
            av_channel_layout_default(&lay, d->channels); /* only the count matters */
            int r = swr_alloc_set_opts2(&d->swr, &lay, AV_SAMPLE_FMT_FLT, d->rate, &lay,
                                        (enum AVSampleFormat)f->format, d->rate, 0, NULL);
            if (r >= 0)
                r = swr_init(d->swr);
            av_channel_layout_uninit(&lay);
            if (r < 0)
                return av_fail(AVF_ERR_UNSUPPORTED, "setting up sample conversion", r);
            d->swr_fmt = f->format;
        }
    } else if (!d->swr) {
        return AVF_OK;
    }
    int want = swr_get_out_samples(d->swr, f ? f->nb_samples : 0);
    if (want < 0)
        return av_fail(AVF_ERR_INTERNAL, "swr_get_out_samples", want);
    if (want == 0)
        return AVF_OK;
    if (want > d->out_cap) {
        av_freep(&d->out);
        d->out = av_malloc((size_t)want * (size_t)d->channels * sizeof(float));
        if (!d->out) {
            d->out_cap = 0;
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for a frame");
        }
        d->out_cap = want;
    }
    uint8_t *dst[1] = {(uint8_t *)d->out};
    int got = swr_convert(d->swr, dst, want, f ? (const uint8_t **)f->extended_data : NULL,
                          f ? f->nb_samples : 0);
    if (got < 0)
        return av_fail(AVF_ERR_CORRUPT, "converting samples", got);
    return avf_audio_acc_append(&d->acc, d->out, got);
}

/* Receive every frame the decoder has ready. */
static avf_status av_drain(av_dec *d) {
    for (;;) {
        int r = avcodec_receive_frame(d->cc, d->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return AVF_OK;
        if (r == AVERROR_INVALIDDATA)
            continue; /* a damaged frame: skip it, as players do */
        if (r < 0)
            return av_fail(AVF_ERR_CORRUPT, "decoding", r);
        avf_status s = av_convert(d, d->frame);
        av_frame_unref(d->frame);
        AVF_TRY(s);
    }
}

static avf_status av_open(av_dec *d, const char *path, avf_av_mem *mem) {
    d->fmt = avformat_alloc_context();
    if (!d->fmt)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for a demuxer");
    if (!path) {
        uint8_t *buf = av_malloc(AVF_AV_IO_BUF);
        if (!buf)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for I/O");
        d->io = avio_alloc_context(buf, AVF_AV_IO_BUF, 0, mem, avf_av_mem_read, NULL, avf_av_mem_seek);
        if (!d->io) {
            av_free(buf);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for I/O");
        }
        d->fmt->pb = d->io;
        d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    /* Only audio demuxers, and only local files: playlists and concat
     * lists (hls, concat, ...) would let an input make FFmpeg open other
     * files or URLs. */
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "format_whitelist", AVF_AV_FORMATS, 0);
    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    char *url = NULL;
    if (path) { /* "file:" so that a name like "concat:x" stays a file name */
        size_t n = strlen(path) + 6;
        url = av_malloc(n);
        if (url)
            snprintf(url, n, "file:%s", path);
    }
    if (path && !url) {
        av_dict_free(&opts);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory");
    }
    int r = avformat_open_input(&d->fmt, url ? url : "", NULL, &opts);
    av_dict_free(&opts);
    av_free(url);
    if (r < 0) /* d->fmt was freed by the call */
        return av_fail(r == AVERROR(ENOENT) ? AVF_ERR_NOT_FOUND : AVF_ERR_CORRUPT,
                       "not a recognized audio format", r);
    r = avformat_find_stream_info(d->fmt, NULL);
    if (r < 0)
        return av_fail(AVF_ERR_CORRUPT, "reading stream info", r);
    const AVCodec *dec = NULL;
    r = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &dec, 0);
    if (r < 0 || !dec)
        return AVF_FAIL(AVF_ERR_CORRUPT, "audio (FFmpeg): no decodable audio stream");
    d->stream = r;
    d->cc = avcodec_alloc_context3(dec);
    if (!d->cc)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for a decoder");
    r = avcodec_parameters_to_context(d->cc, d->fmt->streams[d->stream]->codecpar);
    /* lets the decoder trim encoder delay/padding by timestamps */
    d->cc->pkt_timebase = d->fmt->streams[d->stream]->time_base;
    if (r >= 0)
        r = avcodec_open2(d->cc, dec, NULL);
    if (r < 0)
        return av_fail(AVF_ERR_UNSUPPORTED, "opening the decoder", r);
    d->channels = d->cc->ch_layout.nb_channels;
    d->rate = d->cc->sample_rate;
    AVF_TRY(avf_audio_acc_init(&d->acc, d->channels, d->rate));
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->pkt || !d->frame)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio (FFmpeg): no memory for a packet");
    return AVF_OK;
}

static avf_status av_run(av_dec *d) {
    for (;;) {
        int r = av_read_frame(d->fmt, d->pkt);
        if (r < 0)
            break; /* end of input, or cut short: decode what was read */
        if (d->pkt->stream_index == d->stream) {
            r = avcodec_send_packet(d->cc, d->pkt);
            if (r < 0 && r != AVERROR_INVALIDDATA && r != AVERROR(EAGAIN)) {
                av_packet_unref(d->pkt);
                return av_fail(AVF_ERR_CORRUPT, "decoding", r);
            }
            avf_status s = av_drain(d);
            if (s != AVF_OK) {
                av_packet_unref(d->pkt);
                return s;
            }
        }
        av_packet_unref(d->pkt);
    }
    if (avcodec_send_packet(d->cc, NULL) >= 0)
        AVF_TRY(av_drain(d));
    return av_convert(d, NULL);
}

avf_status avf_audio_decode_av(const char *path, const void *data, size_t size, avf_audio *out) {
    memset(out, 0, sizeof *out);
    av_dec d;
    memset(&d, 0, sizeof d);
    avf_av_mem mem = {data, (int64_t)size, 0};
    avf_status s = av_open(&d, path, &mem);
    if (s == AVF_OK)
        s = av_run(&d);
    if (s == AVF_OK)
        s = avf_audio_acc_finish(&d.acc, d.rate, out);
    av_dec_close(&d);
    return s;
}
