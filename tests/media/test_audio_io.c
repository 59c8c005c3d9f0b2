/* Audio decode/encode (avflow/audio.h): round trips through every format,
 * file vs memory decoding, MP3/M4A/Opus made by the ffmpeg CLI (skipped
 * when it is absent), bad inputs (empty, truncated, garbage, mislabelled,
 * absurd headers) giving statuses, chunked encoding and the upload helper. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"
#include "avflow/audio.h"

static char g_dir[64];

static void path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
}

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Two channels of sines (440 Hz, 1 kHz) at 0.5 amplitude. */
static void make_clip(avf_audio *a, int rate, int channels, int64_t frames) {
    a->sample_rate = rate;
    a->channels = channels;
    a->frames = frames;
    a->data = malloc((size_t)(frames * channels) * sizeof(float));
    for (int c = 0; c < channels; c++)
        for (int64_t t = 0; t < frames; t++)
            a->data[c * frames + t] = (float)(0.5 * sin(2 * M_PI * (440.0 + 560.0 * c) * t / rate));
}

static double max_diff(const avf_audio *a, const avf_audio *b) {
    assert_int_equal(a->channels, b->channels);
    assert_int_equal(a->frames, b->frames);
    double m = 0;
    for (int64_t i = 0; i < a->frames * a->channels; i++)
        m = fmax(m, fabs((double)a->data[i] - b->data[i]));
    return m;
}

static double snr_db(const avf_audio *ref, const avf_audio *got) {
    double s = 0, e = 0;
    int64_t n = ref->frames < got->frames ? ref->frames : got->frames;
    for (int c = 0; c < ref->channels; c++)
        for (int64_t t = 0; t < n; t++) {
            double r = ref->data[c * ref->frames + t], g = got->data[c * got->frames + t];
            s += r * r;
            e += (r - g) * (r - g);
        }
    return 10 * log10(s / e);
}

/* Decode the file and its bytes; both must succeed and agree exactly. */
static void decode_both(const char *path, avf_audio *out) {
    assert_avf_ok(avf_audio_decode_file(path, out));
    size_t n;
    uint8_t *bytes = read_all(path, &n);
    avf_audio m;
    assert_avf_ok(avf_audio_decode_memory(bytes, n, &m));
    assert_true(max_diff(out, &m) == 0.0);
    avf_audio_free(&m);
    free(bytes);
}

static void test_sndfile_round_trips(void **state) {
    (void)state;
    avf_audio a;
    make_clip(&a, 44100, 2, 44100 + 123);
    struct {
        avf_audio_format fmt;
        const char *name;
        double tol; /* max |diff|, or <0: min SNR in dB */
    } cases[] = {{AVF_AUDIO_WAV_PCM16, "a.wav", 1.0 / 32767 + 1e-6},
                 {AVF_AUDIO_WAV_F32, "f.wav", 0.0},
                 {AVF_AUDIO_FLAC, "a.flac", 1.0 / 32767 + 1e-6},
                 {AVF_AUDIO_OGG_VORBIS, "a.ogg", -15.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[128];
        path_of(p, sizeof p, cases[i].name);
        assert_avf_ok(avf_audio_encode_file(&a, cases[i].fmt, NULL, p));
        avf_audio d;
        decode_both(p, &d);
        assert_int_equal(d.sample_rate, 44100);
        assert_int_equal(d.channels, 2);
        if (cases[i].tol >= 0) {
            assert_true(max_diff(&a, &d) <= cases[i].tol);
        } else {
            double snr = snr_db(&a, &d);
            print_message("%s: SNR %.1f dB after the round trip\n", cases[i].name, snr);
            assert_true(snr >= -cases[i].tol);
        }
        avf_audio_free(&d);
    }
    avf_audio_free(&a);
}

/* ffmpeg CLI present? (MP3, M4A and Opus inputs are made with it) */
static int have_ffmpeg(void) {
    return system("ffmpeg -hide_banner -version > /dev/null 2>&1") == 0;
}

static void ffmpeg_make(const char *name, const char *args) {
    char p[128], cmd[512];
    path_of(p, sizeof p, name);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -hide_banner -loglevel error -y -f lavfi -i "
             "'sine=frequency=440:sample_rate=44100:duration=2' -ac 2 %s '%s'",
             args, p);
    assert_int_equal(system(cmd), 0);
}

static void check_sine_decode(const char *name, int rate) {
    char p[128];
    path_of(p, sizeof p, name);
    avf_audio d;
    decode_both(p, &d);
    assert_int_equal(d.channels, 2);
    assert_int_equal(d.sample_rate, rate);
    double want = 2.0 * rate, rms = 0;
    print_message("%s: %lld frames (%.0f expected)\n", name, (long long)d.frames, want);
    assert_true(fabs((double)d.frames - want) < 0.05 * want);
    for (int64_t t = 0; t < d.frames; t++)
        rms += (double)d.data[t] * d.data[t];
    rms = sqrt(rms / (double)d.frames);
    /* lavfi's sine is 1/8 full scale, and -ac 2 upmixes it at -3 dB (RMS
     * 0.0625: `sox ... stats` on the same source as WAV); lossy codecs shave
     * a few percent (ffmpeg's own MP3 decode reads 0.0594) */
    print_message("%s: RMS %.4f (0.0625 before encoding)\n", name, rms);
    assert_true(fabs(rms - 0.0625) < 0.0625 * 0.1);
    avf_audio_free(&d);
}

static void test_ffmpeg_formats(void **state) {
    (void)state;
    if (!have_ffmpeg()) {
        print_message("[  SKIP    ] no ffmpeg CLI to make MP3/M4A/Opus inputs\n");
        skip();
    }
    ffmpeg_make("a.mp3", "-c:a libmp3lame -b:a 128k");
    ffmpeg_make("a.m4a", "-c:a aac -b:a 128k");
    ffmpeg_make("a.opus", "-ar 48000 -c:a libopus -b:a 96k");
    check_sine_decode("a.mp3", 44100);
    check_sine_decode("a.m4a", 44100);
    check_sine_decode("a.opus", 48000);
    /* mislabelled: content decides */
    char src[128], dst[128];
    size_t n;
    path_of(src, sizeof src, "a.mp3");
    uint8_t *b = read_all(src, &n);
    path_of(dst, sizeof dst, "mp3_named.wav");
    write_all(dst, b, n);
    free(b);
    check_sine_decode("mp3_named.wav", 44100);
    path_of(src, sizeof src, "a.opus");
    b = read_all(src, &n);
    path_of(dst, sizeof dst, "opus_named.flac");
    write_all(dst, b, n);
    /* truncated compressed streams: a status or the samples before the cut */
    size_t cuts[] = {0, 1, 20, 200, n / 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        avf_audio d;
        avf_status s = avf_audio_decode_memory(b, cuts[i], &d);
        assert_true(s == AVF_OK || s == AVF_ERR_CORRUPT || s == AVF_ERR_UNSUPPORTED);
        if (s == AVF_OK)
            assert_true(d.frames > 0 && d.frames < 2 * 48000);
        avf_audio_free(&d);
    }
    free(b);
    check_sine_decode("opus_named.flac", 48000);
}

static void test_bad_inputs(void **state) {
    (void)state;
    avf_audio d;
    char p[128];
    assert_avf_fails(avf_audio_decode_memory("", 0, &d), AVF_ERR_CORRUPT);
    path_of(p, sizeof p, "empty.wav");
    write_all(p, "", 0);
    assert_avf_fails(avf_audio_decode_file(p, &d), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_audio_decode_file("/nonexistent/x.wav", &d), AVF_ERR_NOT_FOUND);
    assert_avf_fails(avf_audio_decode_file(g_dir, &d), AVF_ERR_IO);
    /* garbage */
    uint8_t junk[4096];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        junk[i] = (uint8_t)x;
    }
    avf_status s = avf_audio_decode_memory(junk, sizeof junk, &d);
    assert_true(s != AVF_OK && avf_last_error()[0]);
    assert_null(d.data);
    /* a playlist must not make the decoder open other files */
    char pl[256];
    snprintf(pl, sizeof pl, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n%s/a.wav\n"
             "#EXT-X-ENDLIST\n", g_dir);
    assert_true(avf_audio_decode_memory(pl, strlen(pl), &d) != AVF_OK);
    snprintf(pl, sizeof pl, "ffconcat version 1.0\nfile '%s/a.wav'\n", g_dir);
    assert_true(avf_audio_decode_memory(pl, strlen(pl), &d) != AVF_OK);
    /* a valid WAV, then damaged copies of it */
    avf_audio a;
    make_clip(&a, 16000, 1, 16000);
    uint8_t *wav;
    size_t n;
    assert_avf_ok(avf_audio_encode_memory(&a, AVF_AUDIO_WAV_PCM16, NULL, &wav, &n));
    assert_int_equal(n, 44 + 32000);
    s = avf_audio_decode_memory(wav, 30, &d); /* header cut */
    assert_true(s != AVF_OK);
    assert_avf_ok(avf_audio_decode_memory(wav, 44 + 1000, &d)); /* data cut: what is there */
    assert_int_equal(d.frames, 500);
    avf_audio_free(&d);
    /* the whole mono file: the header's frame count, read in one buffer */
    assert_avf_ok(avf_audio_decode_memory(wav, n, &d));
    assert_int_equal(d.frames, 16000);
    assert_int_equal(d.channels, 1);
    assert_true(max_diff(&a, &d) <= 1.0 / 32767 + 1e-6);
    avf_audio_free(&d);
    uint8_t *bad = malloc(n);
    struct {
        int off;
        uint32_t v;
        int bytes;
    } edits[] = {{22, 1000, 2},         /* 1000 channels */
                 {22, 0, 2},            /* 0 channels */
                 {24, 500, 4},          /* 500 Hz */
                 {24, 4000000000u, 4},  /* 4 GHz */
                 {40, 0xFFFFFFF0u, 4},  /* data size far beyond the file */
                 {16, 0x7FFFFFF0u, 4},  /* fmt chunk size absurd */
                 {34, 3, 2}};           /* 3 bits per sample */
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(bad, wav, n);
        for (int k = 0; k < edits[i].bytes; k++)
            bad[edits[i].off + k] = (uint8_t)(edits[i].v >> (8 * k));
        avf_clear_error();
        s = avf_audio_decode_memory(bad, n, &d);
        print_message("edit %zu: %s %s\n", i, avf_status_name(s), avf_last_error());
        if (s == AVF_OK) { /* tolerated (the size edit): the samples are all there */
            assert_true(d.frames > 0 && d.frames <= 16000 * 2);
            avf_audio_free(&d);
        } else {
            assert_true(s == AVF_ERR_CORRUPT || s == AVF_ERR_UNSUPPORTED);
            assert_true(avf_last_error()[0] != '\0');
        }
    }
    free(bad);
    free(wav);
    avf_audio_free(&a);
    /* encode argument checks */
    avf_audio z = {0};
    assert_avf_fails(avf_audio_encode_memory(&z, AVF_AUDIO_WAV_PCM16, NULL, &wav, &n),
                     AVF_ERR_INVALID_ARG);
    avf_audio_encoder *e;
    assert_avf_fails(avf_audio_encoder_create(AVF_AUDIO_FLAC, 16000, 1, NULL, &e),
                     AVF_ERR_UNSUPPORTED);
}

static void collect(avf_audio_encoder *e, uint8_t **all, size_t *n) {
    uint8_t *b;
    size_t k;
    assert_avf_ok(avf_audio_encoder_take(e, &b, &k));
    if (!k)
        return;
    *all = realloc(*all, *n + k);
    memcpy(*all + *n, b, k);
    *n += k;
    free(b);
}

static void test_chunked_encode(void **state) {
    (void)state;
    avf_audio a;
    make_clip(&a, 44100, 2, 44100);
    avf_audio_format fmts[] = {AVF_AUDIO_WAV_PCM16, AVF_AUDIO_WAV_F32, AVF_AUDIO_OGG_OPUS};
    for (int f = 0; f < 3; f++) {
        avf_audio_encoder *e;
        assert_avf_ok(avf_audio_encoder_create(fmts[f], a.sample_rate, 2, NULL, &e));
        uint8_t *all = NULL;
        size_t n = 0;
        for (int64_t t = 0; t < a.frames; t += 1000) {
            int64_t k = a.frames - t < 1000 ? a.frames - t : 1000;
            assert_avf_ok(avf_audio_encoder_push(e, a.data + t, k, a.frames));
            collect(e, &all, &n);
        }
        assert_avf_ok(avf_audio_encoder_finish(e));
        collect(e, &all, &n);
        assert_avf_fails(avf_audio_encoder_push(e, a.data, 10, a.frames), AVF_ERR_CLOSED);
        avf_audio_encoder_free(e);
        avf_audio d;
        assert_avf_ok(avf_audio_decode_memory(all, n, &d));
        assert_int_equal(d.channels, 2);
        if (fmts[f] != AVF_AUDIO_OGG_OPUS) {
            assert_int_equal(d.sample_rate, 44100);
            assert_true(max_diff(&a, &d) <= 1.0 / 32767 + 1e-6);
        } else {
            /* 44.1 kHz goes to Opus at 48 kHz */
            assert_int_equal(d.sample_rate, 48000);
            print_message("opus chunked: %zu bytes, %lld frames\n", n, (long long)d.frames);
            assert_true(llabs(d.frames - 48000) < 2000);
        }
        avf_audio_free(&d);
        free(all);
    }
    /* whole-clip Opus at a native rate, to a file */
    avf_audio m;
    make_clip(&m, 16000, 1, 16000);
    char p[128];
    path_of(p, sizeof p, "enc.opus");
    assert_avf_ok(avf_audio_encode_file(&m, AVF_AUDIO_OGG_OPUS, NULL, p));
    avf_audio d;
    decode_both(p, &d);
    assert_int_equal(d.channels, 1);
    assert_true(d.sample_rate == 48000 || d.sample_rate == 16000);
    avf_audio_free(&d);
    avf_audio_free(&m);
    avf_audio_free(&a);
}

static void upload_on(avf_device_kind kind) {
    int count = 0;
    if (avf_device_count(kind, &count) != AVF_OK || count == 0) {
        print_message("[  SKIP    ] no %s device\n", avf_device_kind_name(kind));
        skip();
    }
    avf_device *dev;
    assert_avf_ok(avf_device_get(kind, 0, &dev));
    avf_pool *pool;
    avf_staging *st;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    assert_avf_ok(avf_staging_create(dev, 64 << 10, 2, &st));
    avf_audio a;
    make_clip(&a, 22050, 2, 50000); /* several staging slots' worth */
    avf_ledger_entry before = {0}, after;
    avf_ledger_get(avf_ledger_global(), "audio.upload", &before);
    avf_tensor t;
    assert_avf_ok(avf_audio_upload(&a, st, pool, NULL, &t));
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 50000);
    float *back = malloc(avf_tensor_nbytes(&t));
    assert_avf_ok(avf_staging_download(st, back, t.data, avf_tensor_nbytes(&t), NULL, "test"));
    assert_memory_equal(back, a.data, avf_tensor_nbytes(&t));
    assert_avf_ok(avf_ledger_get(avf_ledger_global(), "audio.upload", &after));
    uint64_t moved = 0;
    for (int k = 0; k < AVF_COPY_KIND_COUNT; k++)
        moved += after.bytes[k] - before.bytes[k];
    assert_int_equal(moved, avf_tensor_nbytes(&t));
    free(back);
    avf_tensor_release(&t, NULL);
    avf_audio_free(&a);
    avf_staging_free(st);
    avf_pool_free_all(pool);
}

static void test_upload(void **state) { (void)state; upload_on(AVF_DEVICE_CPU); }
static void test_upload_cuda(void **state) { (void)state; upload_on(AVF_DEVICE_CUDA); }

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/avf_audio_io_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sndfile_round_trips), cmocka_unit_test(test_ffmpeg_formats),
        cmocka_unit_test(test_bad_inputs),          cmocka_unit_test(test_chunked_encode),
        cmocka_unit_test(test_upload),              cmocka_unit_test(test_upload_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
