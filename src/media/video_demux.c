/* Video demuxing through libavformat: files, memory (custom AVIOContext) or
 * URLs (only when the caller opts in); the best video stream's packets, with
 * H.264/HEVC turned into Annex-B by FFmpeg's mp4toannexb bitstream filters
 * so that NVDEC's parser (which wants start codes and in-band parameter
 * sets) takes them whatever the container stored (avcC/hvcC in MP4/MKV). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>

#include "media/av_mem_io.h"
#include "avflow/video.h"
#include "core/error.h"

#define AVF_DEMUX_IO_BUF 65536
/* Demuxers that may be used (FFmpeg short names): MP4/MOV, Matroska/WebM,
 * MPEG-TS, raw H.264/HEVC, IVF (VP9/AV1) and AV1 OBU streams. No playlists
 * (hls, concat, ...): they would make one input open others. */
#define AVF_DEMUX_FORMATS "mov,matroska,mpegts,h264,hevc,ivf,obu"
#define AVF_DEMUX_NET_FORMATS AVF_DEMUX_FORMATS ",rtsp,rtp,sdp,flv"
#define AVF_DEMUX_NET_PROTOCOLS "http,https,tcp,tls,udp,rtp,rtsp,rtmp,srtp,crypto,httpproxy"
#define AVF_DEMUX_NET_SCHEMES {"http://", "https://", "rtsp://", "rtp://", "udp://", "tcp://", "rtmp://"}

struct avf_demux {
    AVFormatContext *fmt;
    AVIOContext *io;
    AVBSFContext *bsf; /* NULL for codecs that need no conversion */
    AVPacket *in, *out;
    avf_av_mem mem;
    size_t max_packet;
    int stream, input_done, bsf_flushed;
    avf_video_stream_info info;
};

static avf_status av_fail(avf_status s, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return AVF_FAIL(s, "video demux: %s: %s", what, msg);
}

void avf_demux_close(avf_demux *d) {
    if (!d)
        return;
    av_bsf_free(&d->bsf);
    avformat_close_input(&d->fmt);
    if (d->io) {
        av_freep(&d->io->buffer);
        avio_context_free(&d->io);
    }
    av_packet_free(&d->in);
    av_packet_free(&d->out);
    free(d);
}

static avf_video_codec codec_of(enum AVCodecID id) {
    switch (id) {
    case AV_CODEC_ID_H264: return AVF_VIDEO_CODEC_H264;
    case AV_CODEC_ID_HEVC: return AVF_VIDEO_CODEC_HEVC;
    case AV_CODEC_ID_VP9: return AVF_VIDEO_CODEC_VP9;
    case AV_CODEC_ID_AV1: return AVF_VIDEO_CODEC_AV1;
    default: return AVF_VIDEO_CODEC_UNKNOWN;
    }
}

/* Stream info of the chosen stream, with every bound checked. */
static avf_status describe(avf_demux *d) {
    AVStream *st = d->fmt->streams[d->stream];
    const AVCodecParameters *cp = st->codecpar;
    avf_video_stream_info *in = &d->info;
    in->index = d->stream;
    in->codec = codec_of(cp->codec_id);
    snprintf(in->codec_name, sizeof in->codec_name, "%s", avcodec_get_name(cp->codec_id));
    if (cp->width <= 0 || cp->height <= 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "video demux: the %s stream has no frame size",
                        in->codec_name);
    if (cp->width > AVF_VIDEO_MAX_DIM || cp->height > AVF_VIDEO_MAX_DIM)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: %dx%d frames (at most %d per side)",
                        cp->width, cp->height, AVF_VIDEO_MAX_DIM);
    in->width = cp->width;
    in->height = cp->height;
    const AVPixFmtDescriptor *pd = av_pix_fmt_desc_get((enum AVPixelFormat)cp->format);
    in->bit_depth = pd ? pd->comp[0].depth : cp->bits_per_raw_sample > 0 ? cp->bits_per_raw_sample : 0;
    AVRational fr = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate
                                                                            : st->r_frame_rate;
    if (fr.num > 0 && fr.den > 0) {
        in->fps_num = fr.num;
        in->fps_den = fr.den;
    } else {
        in->fps_num = 0;
        in->fps_den = 1;
    }
    if (st->time_base.num <= 0 || st->time_base.den <= 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "video demux: time base %d/%d", st->time_base.num,
                        st->time_base.den);
    in->tb_num = st->time_base.num;
    in->tb_den = st->time_base.den;
    in->duration = st->duration != AV_NOPTS_VALUE && st->duration >= 0 ? st->duration : -1;
    in->frames = st->nb_frames > 0 ? st->nb_frames : -1;
    return AVF_OK;
}

static avf_status setup_bsf(avf_demux *d) {
    AVStream *st = d->fmt->streams[d->stream];
    const char *name = st->codecpar->codec_id == AV_CODEC_ID_H264   ? "h264_mp4toannexb"
                       : st->codecpar->codec_id == AV_CODEC_ID_HEVC ? "hevc_mp4toannexb"
                                                                    : NULL;
    if (!name)
        return AVF_OK;
    const AVBitStreamFilter *f = av_bsf_get_by_name(name);
    if (!f)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: FFmpeg lacks the %s filter", name);
    int r = av_bsf_alloc(f, &d->bsf);
    if (r >= 0)
        r = avcodec_parameters_copy(d->bsf->par_in, st->codecpar);
    if (r >= 0) {
        d->bsf->time_base_in = st->time_base;
        r = av_bsf_init(d->bsf);
    }
    if (r < 0)
        return av_fail(AVF_ERR_CORRUPT, "setting up the Annex-B conversion", r);
    return AVF_OK;
}

static int is_network_url(const char *url) {
    static const char *schemes[] = AVF_DEMUX_NET_SCHEMES;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
            return 1;
    return 0;
}

/* url: an FFmpeg URL ("file:..." or a network one), or NULL for d->mem. */
static avf_status demux_open(avf_demux *d, const char *url, int network, const avf_demux_options *o) {
    d->max_packet = o && o->max_packet_bytes ? o->max_packet_bytes : AVF_VIDEO_MAX_PACKET;
    if (d->max_packet > AVF_VIDEO_MAX_PACKET)
        d->max_packet = AVF_VIDEO_MAX_PACKET;
    d->fmt = avformat_alloc_context();
    d->in = av_packet_alloc();
    d->out = av_packet_alloc();
    if (!d->fmt || !d->in || !d->out)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video demux: no memory for a demuxer");
    if (!url) {
        uint8_t *buf = av_malloc(AVF_DEMUX_IO_BUF);
        if (buf)
            d->io = avio_alloc_context(buf, AVF_DEMUX_IO_BUF, 0, &d->mem, avf_av_mem_read, NULL,
                                       avf_av_mem_seek);
        if (!d->io) {
            av_free(buf);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video demux: no memory for I/O");
        }
        d->fmt->pb = d->io;
        d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "format_whitelist", network ? AVF_DEMUX_NET_FORMATS : AVF_DEMUX_FORMATS, 0);
    av_dict_set(&opts, "protocol_whitelist", network ? AVF_DEMUX_NET_PROTOCOLS : "file", 0);
    if (network) {
        int ms = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
        av_dict_set_int(&opts, "rw_timeout", (int64_t)ms * 1000, 0); /* microseconds */
        av_dict_set_int(&opts, "timeout", (int64_t)ms * 1000, 0);
    }
    int r = avformat_open_input(&d->fmt, url ? url : "", NULL, &opts);
    av_dict_free(&opts);
    if (r < 0) /* d->fmt was freed by the call */
        return av_fail(r == AVERROR(ENOENT) ? AVF_ERR_NOT_FOUND
                       : network           ? AVF_ERR_IO
                                           : AVF_ERR_CORRUPT,
                       "not a recognized video container", r);
    r = avformat_find_stream_info(d->fmt, NULL);
    if (r < 0)
        return av_fail(AVF_ERR_CORRUPT, "reading stream info", r);
    if (d->fmt->nb_streams > AVF_VIDEO_MAX_STREAMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: %u streams (at most %d)",
                        d->fmt->nb_streams, AVF_VIDEO_MAX_STREAMS);
    r = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (r < 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "video demux: no video stream");
    d->stream = r;
    /* everything else is skipped by the demuxer, not read and dropped here */
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        if ((int)i != d->stream)
            d->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVF_TRY(describe(d));
    return setup_bsf(d);
}

static avf_status finish_open(avf_demux *d, avf_status s, avf_demux **out) {
    if (s != AVF_OK) {
        avf_demux_close(d);
        return s;
    }
    *out = d;
    return AVF_OK;
}

avf_status avf_demux_open_file(const char *path, const avf_demux_options *opts, avf_demux **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(path != NULL);
    struct stat st;
    if (stat(path, &st) != 0)
        return AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO, "video demux: %s: %s",
                        path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return AVF_FAIL(AVF_ERR_IO, "video demux: %s is not a regular file", path);
    if (st.st_size == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "video demux: %s is empty", path);
    /* "file:" so that a name like "concat:x" or "http:x" stays a file name */
    size_t n = strlen(path) + 6;
    char *url = malloc(n);
    avf_demux *d = calloc(1, sizeof *d);
    if (!url || !d) {
        free(url);
        free(d);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video demux: no memory");
    }
    snprintf(url, n, "file:%s", path);
    avf_status s = demux_open(d, url, 0, opts);
    free(url);
    return finish_open(d, s, out);
}

avf_status avf_demux_open_memory(const void *data, size_t size, const avf_demux_options *opts,
                                 avf_demux **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    if (size == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "video demux: the buffer is empty");
    AVF_CHECK_ARG(data != NULL);
    if (size > (size_t)INT64_MAX / 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "video demux: buffer of %zu bytes", size);
    avf_demux *d = calloc(1, sizeof *d);
    if (!d)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video demux: no memory");
    d->mem = (avf_av_mem){data, (int64_t)size, 0};
    return finish_open(d, demux_open(d, NULL, 0, opts), out);
}

avf_status avf_demux_open_url(const char *url, const avf_demux_options *opts, avf_demux **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(url != NULL);
    if (strncmp(url, "file:", 5) == 0)
        return avf_demux_open_file(url + 5, opts, out);
    if (!is_network_url(url))
        return avf_demux_open_file(url, opts, out);
    if (!opts || !opts->allow_network)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: %.200s is a network URL, and network "
                        "input is off (avf_demux_options.allow_network)", url);
    avf_demux *d = calloc(1, sizeof *d);
    if (!d)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "video demux: no memory");
    return finish_open(d, demux_open(d, url, 1, opts), out);
}

avf_status avf_demux_video_info(const avf_demux *d, avf_video_stream_info *info) {
    AVF_CHECK_ARG(d != NULL && info != NULL);
    *info = d->info;
    return AVF_OK;
}

int avf_demux_stream_count(const avf_demux *d) { return d ? (int)d->fmt->nb_streams : 0; }

/* Next packet of our stream from the container into d->in; 0 at the end. */
static avf_status read_input(avf_demux *d, int *got) {
    *got = 0;
    while (!d->input_done) {
        int r = av_read_frame(d->fmt, d->in);
        if (r == AVERROR(EAGAIN))
            continue; /* a network demuxer with nothing yet */
        if (r < 0) {
            /* end of input, or a file cut short or damaged past this point:
             * what was read stands, as players do */
            d->input_done = 1;
            return AVF_OK;
        }
        if (d->in->stream_index != d->stream || d->in->size <= 0) {
            av_packet_unref(d->in);
            continue;
        }
        if ((size_t)d->in->size > d->max_packet) {
            size_t n = (size_t)d->in->size;
            av_packet_unref(d->in);
            return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: packet of %zu bytes (at most %zu)",
                            n, d->max_packet);
        }
        *got = 1;
        return AVF_OK;
    }
    return AVF_OK;
}

static void fill(const avf_demux *d, const AVPacket *p, avf_video_packet *pkt) {
    (void)d;
    pkt->data = p->data;
    pkt->size = (size_t)p->size;
    pkt->pts = p->pts == AV_NOPTS_VALUE ? AVF_VIDEO_NO_PTS : p->pts;
    pkt->dts = p->dts == AV_NOPTS_VALUE ? AVF_VIDEO_NO_PTS : p->dts;
    pkt->duration = p->duration > 0 ? p->duration : 0;
    pkt->keyframe = (p->flags & AV_PKT_FLAG_KEY) != 0;
}

avf_status avf_demux_read(avf_demux *d, avf_video_packet *pkt, int *eof) {
    AVF_CHECK_ARG(pkt != NULL && eof != NULL);
    memset(pkt, 0, sizeof *pkt);
    *eof = 0;
    AVF_CHECK_ARG(d != NULL);
    av_packet_unref(d->out); /* the previous packet's bytes end here */
    if (!d->bsf) {
        int got;
        AVF_TRY(read_input(d, &got));
        if (!got) {
            *eof = 1;
            return AVF_OK;
        }
        av_packet_move_ref(d->out, d->in);
        fill(d, d->out, pkt);
        return AVF_OK;
    }
    for (;;) {
        int r = av_bsf_receive_packet(d->bsf, d->out);
        if (r == 0) {
            if (d->out->size <= 0 || (size_t)d->out->size > d->max_packet) {
                /* the filter adds parameter sets, so check again */
                size_t n = (size_t)d->out->size;
                av_packet_unref(d->out);
                if (n == 0)
                    continue;
                return AVF_FAIL(AVF_ERR_UNSUPPORTED, "video demux: packet of %zu bytes (at "
                                "most %zu)", n, d->max_packet);
            }
            fill(d, d->out, pkt);
            return AVF_OK;
        }
        if (r == AVERROR_EOF) {
            *eof = 1;
            return AVF_OK;
        }
        if (r != AVERROR(EAGAIN))
            return av_fail(AVF_ERR_CORRUPT, "Annex-B conversion", r);
        int got;
        AVF_TRY(read_input(d, &got));
        if (!got) {
            if (d->bsf_flushed) {
                *eof = 1;
                return AVF_OK;
            }
            d->bsf_flushed = 1;
            r = av_bsf_send_packet(d->bsf, NULL);
        } else {
            r = av_bsf_send_packet(d->bsf, d->in);
            av_packet_unref(d->in);
        }
        if (r < 0 && r != AVERROR_EOF)
            return av_fail(AVF_ERR_CORRUPT, "Annex-B conversion", r);
    }
}
