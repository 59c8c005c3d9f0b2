/* Ogg Opus encoding through FFmpeg: libswresample (planar f32 at any rate
 * -> interleaved f32 at a rate Opus takes), an AVAudioFifo to cut the
 * encoder's fixed frame size, libavcodec's libopus encoder and
 * libavformat's Ogg muxer writing through a custom AVIOContext into a byte
 * buffer (no seeking: Ogg is written front to back, so the bytes can be
 * handed out as they come). */
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libswresample/swresample.h>

#include "core/error.h"
#include "media/audio_impl.h"

#define AVF_OPUS_IO_BUF 4096
#define AVF_OPUS_PUSH_CHUNK 8192

struct avf_opus_enc {
    AVCodecContext *cc;
    AVFormatContext *oc;
    AVIOContext *io;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *frame;
    AVPacket *pkt;
    float *conv;
    int conv_cap, channels, in_rate, rate, header_done;
    int64_t next_pts;
};

static avf_status opus_fail(avf_status s, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return AVF_FAIL(s, "opus encode: %s: %s", what, msg);
}

#if LIBAVFORMAT_VERSION_MAJOR >= 61
static int opus_write(void *u, const uint8_t *buf, int n) {
#else
static int opus_write(void *u, uint8_t *buf, int n) {
#endif
    return avf_bytebuf_write((avf_bytebuf *)u, buf, (size_t)n) ? n : AVERROR(ENOMEM);
}

void avf_opus_enc_free(avf_opus_enc *e) {
    if (!e)
        return;
    avcodec_free_context(&e->cc);
    if (e->oc) {
        avformat_free_context(e->oc);
        e->oc = NULL;
    }
    if (e->io) {
        av_freep(&e->io->buffer);
        avio_context_free(&e->io);
    }
    swr_free(&e->swr);
    if (e->fifo)
        av_audio_fifo_free(e->fifo);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    av_freep(&e->conv);
    av_free(e);
}

static int opus_rate_for(int rate) {
    return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000
               ? rate
               : 48000;
}

static avf_status opus_setup(avf_opus_enc *e, int bitrate, avf_bytebuf *sink) {
    const AVCodec *codec = avcodec_find_encoder_by_name("libopus");
    if (!codec)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "opus encode: this FFmpeg has no libopus encoder");
    e->cc = avcodec_alloc_context3(codec);
    if (!e->cc)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
    e->cc->sample_rate = e->rate;
    e->cc->sample_fmt = AV_SAMPLE_FMT_FLT;
    e->cc->bit_rate = bitrate > 0 ? bitrate : 64000 * ((e->channels + 1) / 2);
    e->cc->time_base = (AVRational){1, e->rate};
    av_channel_layout_default(&e->cc->ch_layout, e->channels);
    int r = avformat_alloc_output_context2(&e->oc, NULL, "ogg", NULL);
    if (r < 0 || !e->oc)
        return opus_fail(AVF_ERR_UNSUPPORTED, "no Ogg muxer", r);
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    r = avcodec_open2(e->cc, codec, NULL);
    if (r < 0)
        return opus_fail(AVF_ERR_UNSUPPORTED, "opening libopus", r);
    AVStream *st = avformat_new_stream(e->oc, NULL);
    if (!st)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory for a stream");
    st->time_base = e->cc->time_base;
    r = avcodec_parameters_from_context(st->codecpar, e->cc);
    if (r < 0)
        return opus_fail(AVF_ERR_INTERNAL, "stream parameters", r);
    uint8_t *buf = av_malloc(AVF_OPUS_IO_BUF);
    if (!buf)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
    e->io = avio_alloc_context(buf, AVF_OPUS_IO_BUF, 1, sink, NULL, opus_write, NULL);
    if (!e->io) {
        av_free(buf);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
    }
    e->oc->pb = e->io;
    e->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    r = avformat_write_header(e->oc, NULL);
    if (r < 0)
        return opus_fail(AVF_ERR_IO, "writing the Ogg header", r);
    e->header_done = 1;
    AVChannelLayout lay;
    av_channel_layout_default(&lay, e->channels);
    r = swr_alloc_set_opts2(&e->swr, &lay, AV_SAMPLE_FMT_FLT, e->rate, &lay, AV_SAMPLE_FMT_FLTP,
                            e->in_rate, 0, NULL);
    if (r >= 0)
        r = swr_init(e->swr);
    av_channel_layout_uninit(&lay);
    if (r < 0)
        return opus_fail(AVF_ERR_UNSUPPORTED, "setting up the resampler", r);
    int fs = e->cc->frame_size > 0 ? e->cc->frame_size : 960;
    e->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLT, e->channels, fs * 4);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->fifo || !e->frame || !e->pkt)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
    return AVF_OK;
}

avf_status avf_opus_enc_create(int rate, int channels, int bitrate, avf_bytebuf *sink,
                               avf_opus_enc **out) {
    *out = NULL;
    if (channels < 1 || channels > 8)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "opus encode: %d channels (1..8)", channels);
    avf_opus_enc *e = av_mallocz(sizeof *e);
    if (!e)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
    e->channels = channels;
    e->in_rate = rate;
    e->rate = opus_rate_for(rate);
    avf_status s = opus_setup(e, bitrate, sink);
    if (s != AVF_OK) {
        avf_opus_enc_free(e);
        return s;
    }
    *out = e;
    return AVF_OK;
}

/* Write every packet the encoder has ready. */
static avf_status opus_packets(avf_opus_enc *e) {
    for (;;) {
        int r = avcodec_receive_packet(e->cc, e->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
            return AVF_OK;
        if (r < 0)
            return opus_fail(AVF_ERR_INTERNAL, "encoding", r);
        e->pkt->stream_index = 0;
        av_packet_rescale_ts(e->pkt, e->cc->time_base, e->oc->streams[0]->time_base);
        r = av_interleaved_write_frame(e->oc, e->pkt); /* takes the packet's data */
        if (r < 0)
            return opus_fail(AVF_ERR_IO, "writing a packet", r);
    }
}

/* Encode full frames from the fifo (and, with last, the short remainder). */
static avf_status opus_frames(avf_opus_enc *e, int last) {
    int fs = e->cc->frame_size > 0 ? e->cc->frame_size : 960;
    for (;;) {
        int have = av_audio_fifo_size(e->fifo);
        if (have == 0 || (have < fs && !last))
            return AVF_OK;
        int n = have < fs ? have : fs;
        av_frame_unref(e->frame);
        /* a short last frame goes as is where the encoder allows (the Ogg
         * end granule then trims the decoder's output), else padded */
        int small = (e->cc->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) != 0;
        e->frame->nb_samples = small ? n : fs;
        e->frame->format = AV_SAMPLE_FMT_FLT;
        e->frame->sample_rate = e->rate;
        int r = av_channel_layout_copy(&e->frame->ch_layout, &e->cc->ch_layout);
        if (r >= 0)
            r = av_frame_get_buffer(e->frame, 0);
        if (r < 0)
            return opus_fail(AVF_ERR_OUT_OF_MEMORY, "allocating a frame", r);
        memset(e->frame->data[0], 0,
               (size_t)e->frame->nb_samples * (size_t)e->channels * sizeof(float));
        if (av_audio_fifo_read(e->fifo, (void **)e->frame->data, n) != n)
            return AVF_FAIL(AVF_ERR_INTERNAL, "opus encode: fifo read failed");
        e->frame->pts = e->next_pts;
        e->next_pts += e->frame->nb_samples;
        r = avcodec_send_frame(e->cc, e->frame);
        if (r < 0)
            return opus_fail(AVF_ERR_INTERNAL, "encoding", r);
        AVF_TRY(opus_packets(e));
    }
}

/* Resample a block (planar NULL: flush) into the fifo. */
static avf_status opus_convert(avf_opus_enc *e, const float *planar, int n, int64_t stride) {
    int want = swr_get_out_samples(e->swr, n);
    if (want < 0)
        return opus_fail(AVF_ERR_INTERNAL, "resampler", want);
    if (want == 0)
        return AVF_OK;
    if (want > e->conv_cap) {
        av_freep(&e->conv);
        e->conv = av_malloc((size_t)want * (size_t)e->channels * sizeof(float));
        if (!e->conv) {
            e->conv_cap = 0;
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: no memory");
        }
        e->conv_cap = want;
    }
    const uint8_t *in[8];
    for (int c = 0; c < e->channels; c++)
        in[c] = planar ? (const uint8_t *)(planar + (int64_t)c * stride) : NULL;
    uint8_t *outp[1] = {(uint8_t *)e->conv};
    int got = swr_convert(e->swr, outp, want, planar ? in : NULL, planar ? n : 0);
    if (got < 0)
        return opus_fail(AVF_ERR_INTERNAL, "resampling", got);
    if (got > 0 && av_audio_fifo_write(e->fifo, (void **)outp, got) != got)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "opus encode: fifo write failed");
    return AVF_OK;
}

avf_status avf_opus_enc_push(avf_opus_enc *e, const float *planar, int64_t frames, int64_t stride) {
    for (int64_t t = 0; t < frames; t += AVF_OPUS_PUSH_CHUNK) {
        int n = (int)(frames - t < AVF_OPUS_PUSH_CHUNK ? frames - t : AVF_OPUS_PUSH_CHUNK);
        AVF_TRY(opus_convert(e, planar + t, n, stride));
        AVF_TRY(opus_frames(e, 0));
    }
    return AVF_OK;
}

avf_status avf_opus_enc_finish(avf_opus_enc *e) {
    AVF_TRY(opus_convert(e, NULL, 0, 0));
    AVF_TRY(opus_frames(e, 1));
    int r = avcodec_send_frame(e->cc, NULL);
    if (r < 0)
        return opus_fail(AVF_ERR_INTERNAL, "flushing", r);
    AVF_TRY(opus_packets(e));
    r = av_write_trailer(e->oc);
    if (r < 0)
        return opus_fail(AVF_ERR_IO, "writing the trailer", r);
    avio_flush(e->io);
    return AVF_OK;
}
