/* Audio decoding front end: libsndfile for WAV-family, FLAC and Ogg Vorbis,
 * FFmpeg (audio_decode_av.c) for the rest, chosen by what libsndfile
 * recognizes in the content; plus the sample accumulator and the upload
 * helper. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>

#include "avflow/ledger.h"
#include "core/error.h"
#include "media/audio_impl.h"

#define AVF_SF_CHUNK 16384

/* ---------------------------------------------------------------- accumulator */

avf_status avf_audio_acc_init(avf_audio_acc *acc, int channels, int rate) {
    memset(acc, 0, sizeof *acc);
    if (channels < 1 || channels > AVF_AUDIO_MAX_CHANNELS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "audio: %d channels (1..%d supported)", channels,
                        AVF_AUDIO_MAX_CHANNELS);
    if (rate < AVF_AUDIO_MIN_RATE || rate > AVF_AUDIO_MAX_RATE)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "audio: sample rate %d Hz is outside [%d, %d]", rate,
                        AVF_AUDIO_MIN_RATE, AVF_AUDIO_MAX_RATE);
    acc->channels = channels;
    acc->max_frames = (int64_t)rate * AVF_AUDIO_MAX_SECONDS;
    /* a highly compressible stream (FLAC of silence) must not expand
     * without bound: at most 2^32 samples (16 GiB of f32) in all */
    if (acc->max_frames > AVF_AUDIO_MAX_SAMPLES / channels)
        acc->max_frames = AVF_AUDIO_MAX_SAMPLES / channels;
    return AVF_OK;
}

avf_status avf_audio_acc_append(avf_audio_acc *acc, const float *interleaved, int64_t frames) {
    if (frames <= 0)
        return AVF_OK;
    if (frames > acc->max_frames - acc->frames)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "audio: longer than %d hours, or more than 2^32 "
                        "samples", AVF_AUDIO_MAX_SECONDS / 3600);
    if (acc->frames + frames > acc->cap) {
        int64_t cap = acc->cap ? acc->cap : 65536;
        while (cap < acc->frames + frames)
            cap *= 2;
        if (cap > acc->max_frames)
            cap = acc->max_frames;
        size_t bytes = (size_t)cap * (size_t)acc->channels * sizeof(float);
        float *nb = realloc(acc->buf, bytes);
        if (!nb)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio: no memory for %lld frames x %d channels",
                            (long long)cap, acc->channels);
        acc->buf = nb;
        acc->cap = cap;
    }
    memcpy(acc->buf + acc->frames * acc->channels, interleaved,
           (size_t)frames * (size_t)acc->channels * sizeof(float));
    acc->frames += frames;
    return AVF_OK;
}

/* [T, C] interleaved -> a new [C, T] planar buffer (NULL: out of memory). */
static float *planar_of(const float *interleaved, int64_t T, int C) {
    float *planar = avf_audio_buf_get((size_t)T * (size_t)C * sizeof(float));
    if (planar)
        for (int64_t t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                planar[(int64_t)c * T + t] = interleaved[t * C + c];
    return planar;
}

avf_status avf_audio_acc_finish(avf_audio_acc *acc, int rate, avf_audio *out) {
    memset(out, 0, sizeof *out);
    if (acc->frames == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "audio: the stream holds no samples");
    int C = acc->channels;
    int64_t T = acc->frames;
    if (C == 1) { /* interleaved is planar: hand the buffer over, trimmed */
        float *p = realloc(acc->buf, (size_t)T * sizeof(float));
        out->data = p ? p : acc->buf;
        acc->buf = NULL;
        out->channels = 1;
        out->sample_rate = rate;
        out->frames = T;
        avf_audio_acc_free(acc);
        return AVF_OK;
    }
    float *planar = planar_of(acc->buf, T, C);
    if (!planar)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio: no memory for %lld frames", (long long)T);
    out->data = planar;
    out->channels = C;
    out->sample_rate = rate;
    out->frames = T;
    avf_audio_acc_free(acc);
    return AVF_OK;
}

void avf_audio_acc_free(avf_audio_acc *acc) {
    free(acc->buf);
    acc->buf = NULL;
    acc->frames = acc->cap = 0;
}

void avf_audio_free(avf_audio *a) {
    if (!a)
        return;
    avf_audio_buf_put(a->data); /* kept for the next decode */
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- libsndfile */

typedef struct mem_reader {
    const uint8_t *p;
    sf_count_t n, pos;
} mem_reader;

static sf_count_t mem_len(void *u) { return ((mem_reader *)u)->n; }

static sf_count_t mem_seek(sf_count_t off, int whence, void *u) {
    mem_reader *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->n;
    sf_count_t to = base + off;
    if (to < 0 || to > m->n)
        return -1;
    m->pos = to;
    return to;
}

static sf_count_t mem_read(void *dst, sf_count_t count, void *u) {
    mem_reader *m = u;
    if (count <= 0)
        return 0;
    sf_count_t left = m->n - m->pos;
    if (count > left)
        count = left;
    memcpy(dst, m->p + m->pos, (size_t)count);
    m->pos += count;
    return count;
}

static sf_count_t mem_write(const void *src, sf_count_t count, void *u) {
    (void)src, (void)count, (void)u;
    return 0;
}

static sf_count_t mem_tell(void *u) { return ((mem_reader *)u)->pos; }

/* libsndfile handles these; anything else it opens (MP3, Opus) goes to
 * FFmpeg so that each codec has one decoder. */
static int sndfile_owns(int format) {
    int major = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
    switch (major) {
    case SF_FORMAT_WAV:
    case SF_FORMAT_WAVEX:
    case SF_FORMAT_RF64:
    case SF_FORMAT_W64:
    case SF_FORMAT_AIFF:
    case SF_FORMAT_AU:
    case SF_FORMAT_CAF:
    case SF_FORMAT_FLAC: return 1;
    case SF_FORMAT_OGG: return sub == SF_FORMAT_VORBIS;
    default: return 0;
    }
}

/* The header says how many frames there are (WAV, FLAC, most files): one
 * buffer of that size, read in one call, deinterleaved once if it has several
 * channels. A header may lie, so the claim is trusted only up to
 * AVF_SF_CLAIM_RATIO samples per input byte (a real FLAC of silence can beat
 * that: it takes the growing path below); a short stream just ends early. */
#define AVF_SF_CLAIM_RATIO 16

static avf_status sndfile_read_known(SNDFILE *sf, const SF_INFO *info, avf_audio *out) {
    int C = info->channels;
    int64_t T = info->frames;
    float *buf = avf_audio_buf_get((size_t)T * (size_t)C * sizeof(float));
    if (!buf)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio: no memory for %lld frames x %d channels",
                        (long long)T, C);
    sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)T);
    if (got <= 0) {
        avf_audio_buf_put(buf);
        return AVF_FAIL(AVF_ERR_CORRUPT, "audio: the stream holds no samples");
    }
    T = (int64_t)got;
    if (C > 1) {
        float *planar = planar_of(buf, T, C);
        avf_audio_buf_put(buf);
        if (!planar)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio: no memory for %lld frames",
                            (long long)T);
        buf = planar;
    }
    out->data = buf;
    out->channels = C;
    out->sample_rate = info->samplerate;
    out->frames = T;
    return AVF_OK;
}

static avf_status sndfile_read(SNDFILE *sf, const SF_INFO *info, size_t in_bytes,
                               avf_audio *out) {
    avf_audio_acc acc;
    AVF_TRY(avf_audio_acc_init(&acc, info->channels, info->samplerate));
    if (info->frames > 0 && info->frames <= acc.max_frames &&
        (uint64_t)info->frames * (uint64_t)info->channels <=
            (uint64_t)in_bytes * AVF_SF_CLAIM_RATIO + 65536)
        return sndfile_read_known(sf, info, out);
    float *chunk = malloc((size_t)AVF_SF_CHUNK * (size_t)info->channels * sizeof(float));
    if (!chunk)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "audio: no memory for a read buffer");
    avf_status s = AVF_OK;
    for (;;) {
        sf_count_t got = sf_readf_float(sf, chunk, AVF_SF_CHUNK);
        if (got <= 0)
            break;
        s = avf_audio_acc_append(&acc, chunk, got);
        if (s != AVF_OK)
            break;
    }
    free(chunk);
    if (s == AVF_OK)
        s = avf_audio_acc_finish(&acc, info->samplerate, out);
    avf_audio_acc_free(&acc);
    return s;
}

/* *handled = 0 when libsndfile does not take the input (FFmpeg's turn). */
static avf_status sndfile_decode(const char *path, const void *data, size_t size, avf_audio *out,
                                 int *handled) {
    *handled = 0;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    mem_reader m = {data, (sf_count_t)size, 0};
    SF_VIRTUAL_IO vio = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
    SNDFILE *sf = path ? sf_open(path, SFM_READ, &info) : sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (!sf)
        return AVF_OK;
    if (!sndfile_owns(info.format)) {
        sf_close(sf);
        return AVF_OK;
    }
    *handled = 1;
    avf_status s = sndfile_read(sf, &info, size, out);
    sf_close(sf);
    return s;
}

static avf_status decode(const char *path, const void *data, size_t size, avf_audio *out) {
    int handled = 0;
    avf_status s = sndfile_decode(path, data, size, out, &handled);
    if (handled)
        return s;
    return avf_audio_decode_av(path, data, size, out);
}

avf_status avf_audio_decode_file(const char *path, avf_audio *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    AVF_CHECK_ARG(path != NULL);
    struct stat st;
    if (stat(path, &st) != 0)
        return AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO, "audio: %s: %s", path,
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return AVF_FAIL(AVF_ERR_IO, "audio: %s is not a regular file", path);
    if (st.st_size == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "audio: %s is empty", path);
    return decode(path, NULL, (size_t)st.st_size, out); /* the size bounds header claims */
}

avf_status avf_audio_decode_memory(const void *data, size_t size, avf_audio *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    if (size == 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "audio: the buffer is empty");
    AVF_CHECK_ARG(data != NULL);
    if (size > (size_t)INT64_MAX / 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio: buffer of %zu bytes", size);
    return decode(NULL, data, size, out);
}

/* ---------------------------------------------------------------- upload */

avf_status avf_audio_upload(const avf_audio *a, avf_staging *st, avf_pool *pool, avf_stream *s,
                            avf_tensor *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    AVF_CHECK_ARG(a != NULL && st != NULL && pool != NULL);
    if (a->channels < 1 || a->channels > AVF_AUDIO_MAX_CHANNELS || a->frames < 0 ||
        (a->frames > 0 && !a->data))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "audio upload: %d channels, %lld frames", a->channels,
                        (long long)a->frames);
    int64_t dims[2] = {a->channels, a->frames};
    AVF_TRY(avf_tensor_alloc(out, pool, AVF_DTYPE_F32, 2, dims, s));
    size_t bytes = avf_tensor_nbytes(out);
    if (bytes == 0)
        return AVF_OK;
    avf_status r = avf_staging_upload(st, out->data, a->data, bytes, s, "audio.upload");
    if (r != AVF_OK)
        avf_tensor_release(out, s);
    return r;
}
