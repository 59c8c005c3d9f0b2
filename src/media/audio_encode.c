/* Audio encoding: WAV / FLAC / Ogg Vorbis through libsndfile (virtual I/O
 * into a growable buffer), Ogg Opus through audio_encode_opus.c; whole
 * clips or chunked (avf_audio_encoder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "core/error.h"
#include "media/audio_impl.h"

#define AVF_ENC_CHUNK 8192
#define AVF_ENC_MAX_BYTES ((size_t)1 << 40)

int avf_bytebuf_write(avf_bytebuf *b, const void *src, size_t n) {
    if (n > AVF_ENC_MAX_BYTES || b->pos > AVF_ENC_MAX_BYTES)
        return 0;
    size_t end = b->pos + n;
    if (end > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < end)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    if (b->pos > b->n) /* a seek past the end leaves a gap of zeros */
        memset(b->p + b->n, 0, b->pos - b->n);
    memcpy(b->p + b->pos, src, n);
    b->pos = end;
    if (end > b->n)
        b->n = end;
    return 1;
}

/* libsndfile's virtual I/O over a buffer that holds the stream's bytes from
 * offset `base` on (a chunked encoder hands out and drops what it has
 * written; libsndfile only ever sees stream offsets). */
typedef struct sf_sink {
    avf_bytebuf b;
    sf_count_t base;
} sf_sink;

static sf_count_t sink_len(void *u) {
    sf_sink *s = u;
    return s->base + (sf_count_t)s->b.n;
}
static sf_count_t sink_seek(sf_count_t off, int whence, void *u) {
    sf_sink *s = u;
    sf_count_t cur = s->base + (sf_count_t)s->b.pos, end = s->base + (sf_count_t)s->b.n;
    sf_count_t to = (whence == SEEK_SET ? 0 : whence == SEEK_CUR ? cur : end) + off;
    if (to < s->base || to > s->base + (sf_count_t)AVF_ENC_MAX_BYTES)
        return -1;
    s->b.pos = (size_t)(to - s->base);
    return to;
}
static sf_count_t sink_read(void *dst, sf_count_t count, void *u) {
    sf_sink *s = u;
    if (count <= 0 || s->b.pos >= s->b.n)
        return 0;
    size_t left = s->b.n - s->b.pos, n = (size_t)count < left ? (size_t)count : left;
    memcpy(dst, s->b.p + s->b.pos, n);
    s->b.pos += n;
    return (sf_count_t)n;
}
static sf_count_t sink_write(const void *src, sf_count_t count, void *u) {
    sf_sink *s = u;
    if (count <= 0)
        return 0;
    return avf_bytebuf_write(&s->b, src, (size_t)count) ? count : 0;
}
static sf_count_t sink_tell(void *u) {
    sf_sink *s = u;
    return s->base + (sf_count_t)s->b.pos;
}

static avf_status check_stream(int rate, int channels) {
    if (channels < 1 || channels > AVF_AUDIO_MAX_CHANNELS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio encode: %d channels (1..%d)", channels,
                        AVF_AUDIO_MAX_CHANNELS);
    if (rate < AVF_AUDIO_MIN_RATE || rate > AVF_AUDIO_MAX_RATE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio encode: rate %d Hz is outside [%d, %d]", rate,
                        AVF_AUDIO_MIN_RATE, AVF_AUDIO_MAX_RATE);
    return AVF_OK;
}

static int sf_format_of(avf_audio_format fmt, int raw) {
    int major = raw ? SF_FORMAT_RAW | SF_ENDIAN_LITTLE : SF_FORMAT_WAV;
    switch (fmt) {
    case AVF_AUDIO_WAV_PCM16: return major | SF_FORMAT_PCM_16;
    case AVF_AUDIO_WAV_F32: return major | SF_FORMAT_FLOAT;
    case AVF_AUDIO_FLAC: return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    case AVF_AUDIO_OGG_VORBIS: return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    default: return 0;
    }
}

static avf_status sf_open_sink(sf_sink *sink, int format, int rate, int channels,
                               const avf_audio_encode_opts *opts, SNDFILE **out) {
    static SF_VIRTUAL_IO vio = {sink_len, sink_seek, sink_read, sink_write, sink_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    if (!sf_format_check(&info))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "audio encode: libsndfile cannot write format 0x%x "
                        "with %d channels at %d Hz", format, channels, rate);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, sink);
    if (!sf)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "audio encode: libsndfile: %s", sf_strerror(NULL));
    /* integer formats: clip instead of wrapping around */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_VORBIS) {
        double q = opts && opts->quality > 0.0 ? opts->quality : 0.5;
        if (q > 1.0)
            q = 1.0;
        sf_command(sf, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
    }
    *out = sf;
    return AVF_OK;
}

/* Interleave a block of planar frames and hand it to libsndfile. */
static avf_status sf_push(SNDFILE *sf, int channels, const float *planar, int64_t frames,
                          int64_t stride, float *tmp) {
    for (int64_t t0 = 0; t0 < frames; t0 += AVF_ENC_CHUNK) {
        int64_t n = frames - t0 < AVF_ENC_CHUNK ? frames - t0 : AVF_ENC_CHUNK;
        for (int64_t t = 0; t < n; t++)
            for (int c = 0; c < channels; c++)
                tmp[t * channels + c] = planar[(int64_t)c * stride + t0 + t];
        if (sf_writef_float(sf, tmp, n) != n)
            return AVF_FAIL(AVF_ERR_IO, "audio encode: libsndfile: %s", sf_strerror(sf));
    }
    return AVF_OK;
}

/* ---------------------------------------------------------------- chunked */

struct avf_audio_encoder {
    avf_audio_format fmt;
    int channels, rate, finished;
    SNDFILE *sf;    /* WAV: the samples, headerless (RAW) */
    sf_sink sink;   /* WAV bytes not yet taken */
    float *tmp;     /* interleave buffer */
    avf_opus_enc *opus;
    avf_bytebuf opus_bytes;
};

/* RIFF/WAVE header for a stream of unknown length. */
static int wav_stream_header(avf_bytebuf *b, int fmt_float, int channels, int rate) {
    int bits = fmt_float ? 32 : 16, align = channels * bits / 8;
    uint8_t h[44];
    uint32_t v[] = {0xFFFFFFFFu, 16u, (uint32_t)rate, (uint32_t)(rate * align), 0xFFFFFFFFu};
    memcpy(h, "RIFF", 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    memcpy(h + 36, "data", 4);
    int off[] = {4, 16, 24, 28, 40};
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++)
            h[off[i] + k] = (uint8_t)(v[i] >> (8 * k));
    uint16_t w[] = {(uint16_t)(fmt_float ? 3 : 1), (uint16_t)channels, (uint16_t)align,
                    (uint16_t)bits};
    int woff[] = {20, 22, 32, 34};
    for (int i = 0; i < 4; i++) {
        h[woff[i]] = (uint8_t)(w[i] & 0xFF);
        h[woff[i] + 1] = (uint8_t)(w[i] >> 8);
    }
    return avf_bytebuf_write(b, h, sizeof h);
}

avf_status avf_audio_encoder_create(avf_audio_format fmt, int sample_rate, int channels,
                                    const avf_audio_encode_opts *opts, avf_audio_encoder **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_TRY(check_stream(sample_rate, channels));
    if (fmt != AVF_AUDIO_WAV_PCM16 && fmt != AVF_AUDIO_WAV_F32 && fmt != AVF_AUDIO_OGG_OPUS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "audio encoder: format %d cannot be streamed (WAV and Opus can)", (int)fmt);
    avf_audio_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio encoder: no memory");
    e->fmt = fmt;
    e->channels = channels;
    e->rate = sample_rate;
    avf_status s = AVF_OK;
    if (fmt == AVF_AUDIO_OGG_OPUS) {
        s = avf_opus_enc_create(sample_rate, channels, opts ? opts->bitrate : 0, &e->opus_bytes,
                                &e->opus);
    } else {
        e->tmp = malloc((size_t)AVF_ENC_CHUNK * (size_t)channels * sizeof(float));
        if (!e->tmp || !wav_stream_header(&e->sink.b, fmt == AVF_AUDIO_WAV_F32, channels,
                                          sample_rate))
            s = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio encoder: no memory");
        if (s == AVF_OK)
            s = sf_open_sink(&e->sink, sf_format_of(fmt, 1), sample_rate, channels, opts, &e->sf);
    }
    if (s != AVF_OK) {
        avf_audio_encoder_free(e);
        return s;
    }
    *out = e;
    return AVF_OK;
}

avf_status avf_audio_encoder_push(avf_audio_encoder *e, const float *planar, int64_t frames,
                                  int64_t stride) {
    AVF_CHECK_ARG(e != NULL && frames >= 0 && (frames == 0 || planar != NULL));
    AVF_CHECK_ARG(stride >= frames || e->channels == 1);
    if (e->finished)
        return AVF_FAIL(AVF_ERR_CLOSED, "audio encoder: push after finish");
    if (frames == 0)
        return AVF_OK;
    if (e->opus)
        return avf_opus_enc_push(e->opus, planar, frames, stride);
    return sf_push(e->sf, e->channels, planar, frames, stride, e->tmp);
}

avf_status avf_audio_encoder_finish(avf_audio_encoder *e) {
    AVF_CHECK_ARG(e != NULL);
    if (e->finished)
        return AVF_OK;
    e->finished = 1;
    if (e->opus)
        return avf_opus_enc_finish(e->opus);
    int r = sf_close(e->sf);
    e->sf = NULL;
    if (r != 0)
        return AVF_FAIL(AVF_ERR_IO, "audio encoder: libsndfile: %s", sf_error_number(r));
    return AVF_OK;
}

avf_status avf_audio_encoder_take(avf_audio_encoder *e, uint8_t **bytes, size_t *size) {
    AVF_CHECK_ARG(e != NULL && bytes != NULL && size != NULL);
    *bytes = NULL;
    *size = 0;
    avf_bytebuf *b = e->opus ? &e->opus_bytes : &e->sink.b;
    if (b->n == 0)
        return AVF_OK;
    /* hand over the buffer itself; the stream goes on in a fresh one */
    *bytes = b->p;
    *size = b->n;
    if (!e->opus)
        e->sink.base += (sf_count_t)b->n;
    memset(b, 0, sizeof *b);
    return AVF_OK;
}

void avf_audio_encoder_free(avf_audio_encoder *e) {
    if (!e)
        return;
    if (e->sf)
        sf_close(e->sf);
    avf_opus_enc_free(e->opus);
    free(e->opus_bytes.p);
    free(e->sink.b.p);
    free(e->tmp);
    free(e);
}

/* ---------------------------------------------------------------- whole clips */

static avf_status check_audio(const avf_audio *a) {
    AVF_CHECK_ARG(a != NULL);
    AVF_TRY(check_stream(a->sample_rate, a->channels));
    if (a->frames < 0 || (a->frames > 0 && !a->data))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio encode: %lld frames", (long long)a->frames);
    return AVF_OK;
}

avf_status avf_audio_encode_memory(const avf_audio *a, avf_audio_format fmt,
                                   const avf_audio_encode_opts *opts, uint8_t **bytes,
                                   size_t *size) {
    AVF_CHECK_ARG(bytes != NULL && size != NULL);
    *bytes = NULL;
    *size = 0;
    AVF_TRY(check_audio(a));
    if (fmt == AVF_AUDIO_OGG_OPUS) {
        avf_audio_encoder *e = NULL;
        AVF_TRY(avf_audio_encoder_create(fmt, a->sample_rate, a->channels, opts, &e));
        avf_status s = avf_audio_encoder_push(e, a->data, a->frames, a->frames);
        if (s == AVF_OK)
            s = avf_audio_encoder_finish(e);
        if (s == AVF_OK)
            s = avf_audio_encoder_take(e, bytes, size);
        avf_audio_encoder_free(e);
        return s;
    }
    int format = sf_format_of(fmt, 0);
    if (!format)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio encode: unknown format %d", (int)fmt);
    sf_sink sink;
    memset(&sink, 0, sizeof sink);
    float *tmp = malloc((size_t)AVF_ENC_CHUNK * (size_t)a->channels * sizeof(float));
    if (!tmp)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio encode: no memory");
    SNDFILE *sf = NULL;
    avf_status s = sf_open_sink(&sink, format, a->sample_rate, a->channels, opts, &sf);
    if (s == AVF_OK)
        s = sf_push(sf, a->channels, a->data, a->frames, a->frames, tmp);
    if (sf) {
        int r = sf_close(sf); /* writes the final header */
        if (s == AVF_OK && r != 0)
            s = AVF_FAIL(AVF_ERR_IO, "audio encode: libsndfile: %s", sf_error_number(r));
    }
    free(tmp);
    if (s != AVF_OK) {
        free(sink.b.p);
        return s;
    }
    *bytes = sink.b.p;
    *size = sink.b.n;
    return AVF_OK;
}

avf_status avf_audio_encode_file(const avf_audio *a, avf_audio_format fmt,
                                 const avf_audio_encode_opts *opts, const char *path) {
    AVF_CHECK_ARG(path != NULL);
    uint8_t *bytes = NULL;
    size_t size = 0;
    AVF_TRY(avf_audio_encode_memory(a, fmt, opts, &bytes, &size));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(bytes);
        return AVF_FAIL(AVF_ERR_IO, "audio encode: cannot create %s", path);
    }
    size_t put = size ? fwrite(bytes, 1, size, f) : 0;
    int bad = put != size;
    bad |= fclose(f) != 0;
    free(bytes);
    if (bad)
        return AVF_FAIL(AVF_ERR_IO, "audio encode: writing %s failed", path);
    return AVF_OK;
}
