/* NVDEC (avf_video_decoder_create_nvdec, libavflow only, so this runs on a
 * GPU machine without FFmpeg): the Annex-B clips from
 * scripts/make-test-data.sh decoded on cuda:0 and compared with ffmpeg's
 * raw decode (PSNR >= 45 dB on every frame, frames in display order), the
 * 10-bit path (P010), the transfer ledger (frames stay on the device), and
 * several sessions decoding at once from threads. Without a GPU, or without
 * libnvcuvid, each test reports skipped, never passed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_video_util.h"

#define W 176
#define H 144
#define NFRAMES 15
#define MIN_PSNR 45.0

/* cuda:0 with NVDEC usable, or skip() saying why. */
static avf_device *nvdec_device(void) {
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) != AVF_OK || n == 0) {
        print_message("[  SKIP    ] no CUDA device\n");
        skip();
    }
    avf_device *dev;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &dev));
    avf_status s = avf_nvdec_available(dev);
    if (s != AVF_OK) {
        print_message("[  SKIP    ] NVDEC unavailable: %s\n", avf_last_error());
        skip();
    }
    return dev;
}

typedef struct run {
    /* in */
    avf_device *dev;
    avf_pool *pool;
    const uint8_t *es, *ref;
    size_t es_n, ref_n, chunk;
    avf_video_codec codec;
    int ten;
    int ivf; /* es is an IVF file: one frame per send (VP9 frames, AV1 temporal units) */
    /* out */
    avf_status status;
    char msg[512];
    int frames, compared, bad_shape;
    double worst_psnr;
} run;

static void run_fail(run *r, avf_status s) {
    if (r->status == AVF_OK) {
        r->status = s;
        snprintf(r->msg, sizeof r->msg, "%s", avf_last_error());
    }
}

/* Download one frame into a packed [y | uv] host buffer and compare it with
 * reference frame r->frames (when the reference has it). */
static void check_frame(run *r, avf_stream *st, avf_video_frame *f, uint8_t *host) {
    size_t fb = vt_frame_bytes(W, H, r->ten);
    if (f->width != W || f->height != H || f->format != (r->ten ? AVF_PIXEL_P010 : AVF_PIXEL_NV12) ||
        f->y.device != r->dev || avf_tensor_nbytes(&f->y) + avf_tensor_nbytes(&f->uv) != fb) {
        r->bad_shape++;
        return;
    }
    avf_status s = avf_memcpy_async(r->dev, host, f->y.data, avf_tensor_nbytes(&f->y),
                                    AVF_COPY_D2H, st, "test");
    if (s == AVF_OK)
        s = avf_memcpy_async(r->dev, host + avf_tensor_nbytes(&f->y), f->uv.data,
                             avf_tensor_nbytes(&f->uv), AVF_COPY_D2H, st, "test");
    if (s == AVF_OK)
        s = avf_stream_synchronize(st);
    if (s != AVF_OK) {
        run_fail(r, s);
        return;
    }
    if ((size_t)(r->frames + 1) * fb <= r->ref_n) {
        double p = vt_psnr(host, r->ref + (size_t)r->frames * fb, fb, r->ten, NULL);
        if (p < r->worst_psnr)
            r->worst_psnr = p;
        r->compared++;
    }
}

/* One whole session: create, feed the elementary stream in chunks (the
 * parser finds the pictures), receive and check after each, end, free. */
static void *decode_es(void *arg) {
    run *r = arg;
    r->worst_psnr = INFINITY;
    avf_stream *st = NULL;
    avf_video_decoder *d = NULL;
    uint8_t *host = malloc(vt_frame_bytes(W, H, r->ten));
    avf_status s = avf_stream_create(r->dev, &st);
    avf_video_decoder_options o = {.codec = r->codec};
    if (s == AVF_OK)
        s = avf_video_decoder_create_nvdec(r->dev, r->pool, st, &o, &d);
    if (s != AVF_OK)
        run_fail(r, s);
    size_t off = r->ivf ? 32 : 0; /* IVF: a 32-byte file header, then frames */
    int ended = 0;
    while (r->status == AVF_OK && !ended) {
        size_t n = r->es_n - off < r->chunk ? r->es_n - off : r->chunk;
        const uint8_t *at = r->es + off;
        if (r->ivf) { /* frame header: 4-byte LE size, 8-byte pts */
            n = 0;
            if (r->es_n - off >= 12) {
                const uint8_t *h = r->es + off;
                size_t fs = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
                if (fs <= r->es_n - off - 12) {
                    at = h + 12;
                    n = fs;
                    off += 12;
                }
            }
        }
        ended = n == 0;
        s = avf_video_decoder_send(d, ended ? NULL : at, n, (int64_t)off);
        off += n;
        if (s != AVF_OK) {
            run_fail(r, s);
            break;
        }
        for (;;) {
            avf_video_frame f;
            int got;
            s = avf_video_decoder_receive(d, &f, &got);
            if (s != AVF_OK || !got) {
                if (s != AVF_OK)
                    run_fail(r, s);
                break;
            }
            check_frame(r, st, &f, host);
            r->frames++;
            avf_video_frame_release(&f, st);
        }
    }
    avf_video_decoder_free(d);
    if (st) {
        avf_pool_release_stream(r->pool, st);
        avf_stream_free(st);
    }
    free(host);
    return NULL;
}

static void load(run *r, const char *es, const char *ref) {
    char p[512];
    memset(r, 0, sizeof *r);
    r->es = vt_read_all(vt_need(es, p, sizeof p), &r->es_n);
    r->ref = vt_read_all(vt_need(ref, p, sizeof p), &r->ref_n);
    r->chunk = 4096;
}

static void report(const run *r, const char *what) {
    if (r->status != AVF_OK)
        print_error("%s: %s: %s\n", what, avf_status_name(r->status), r->msg);
    print_message("%s: %d frames, %d compared, worst PSNR %.2f dB\n", what, r->frames, r->compared,
                  r->worst_psnr);
    assert_avf_ok(r->status);
    assert_int_equal(r->bad_shape, 0);
    assert_int_equal(r->frames, NFRAMES);
    assert_true(r->compared >= 1);
    assert_true(r->worst_psnr >= MIN_PSNR);
}

static uint64_t ledger_bytes(const char *tag, avf_copy_kind k) {
    avf_ledger_entry e;
    if (avf_ledger_get(avf_ledger_global(), tag, &e) != AVF_OK)
        return 0;
    return e.bytes[k];
}

static void test_nvdec_h264(void **state) {
    (void)state;
    char p[512];
    vt_need("h264.h264", p, sizeof p);
    avf_device *dev = nvdec_device();
    run r;
    load(&r, "h264.h264", "h264.nv12");
    r.dev = dev;
    r.codec = AVF_VIDEO_CODEC_H264;
    assert_avf_ok(avf_pool_create(dev, NULL, &r.pool));
    uint64_t d2d = ledger_bytes("video.nvdec", AVF_COPY_D2D);
    uint64_t h2d = ledger_bytes("video.nvdec.bitstream", AVF_COPY_H2D);
    decode_es(&r);
    report(&r, "h264.h264 on NVDEC");
    /* frames moved device to device only; the bitstream is what went up */
    assert_int_equal(ledger_bytes("video.nvdec", AVF_COPY_D2D) - d2d,
                     (uint64_t)NFRAMES * vt_frame_bytes(W, H, 0));
    assert_int_equal(ledger_bytes("video.nvdec", AVF_COPY_D2H), 0);
    assert_int_equal(ledger_bytes("video.nvdec.bitstream", AVF_COPY_H2D) - h2d, r.es_n);
    /* the whole stream in one send: frames beyond the queue are dropped
     * and reported, never lost silently */
    avf_video_decoder *d;
    avf_video_decoder_options o = {.codec = AVF_VIDEO_CODEC_H264, .max_queued = 4};
    assert_avf_ok(avf_video_decoder_create_nvdec(dev, r.pool, NULL, &o, &d));
    avf_status s = avf_video_decoder_send(d, r.es, r.es_n, 0);
    assert_true(s == AVF_OK || s == AVF_ERR_FULL);
    avf_video_frame f;
    int got, n = 0;
    do {
        assert_avf_ok(avf_video_decoder_receive(d, &f, &got));
        n += got;
        avf_video_frame_release(&f, NULL);
    } while (got);
    assert_true(n <= 4); /* never more than the queue held */
    s = avf_video_decoder_send(d, NULL, 0, 0);
    assert_true(s == AVF_OK || s == AVF_ERR_FULL);
    int64_t delivered, dropped;
    avf_video_decoder_counts(d, &delivered, &dropped);
    print_message("one send of the whole stream, queue of 4: %lld delivered, %lld dropped\n",
                  (long long)delivered, (long long)dropped);
    assert_true(dropped > 0 && delivered + dropped + 4 >= NFRAMES);
    avf_video_decoder_free(d); /* with frames still queued */
    free((void *)r.es);
    free((void *)r.ref);
    avf_pool_free_all(r.pool);
}

static void test_nvdec_hevc10(void **state) {
    (void)state;
    char p[512];
    vt_need("hevc10.hevc", p, sizeof p);
    avf_device *dev = nvdec_device();
    run r;
    load(&r, "hevc10.hevc", "hevc10.p010");
    r.dev = dev;
    r.codec = AVF_VIDEO_CODEC_HEVC;
    r.ten = 1;
    r.chunk = 1000;
    assert_avf_ok(avf_pool_create(dev, NULL, &r.pool));
    decode_es(&r);
    report(&r, "hevc10.hevc on NVDEC (P010)");
    free((void *)r.es);
    free((void *)r.ref);
    avf_pool_free_all(r.pool);
}

/* Strict GPU mode on NVDEC frames: the decode itself (bitstream up, frame
 * surface to frame D2D) passes, and a frame stage's download of a decoded
 * frame is refused with a status naming the stage, before anything is
 * copied. */
static void test_nvdec_strict(void **state) {
    (void)state;
    char p[512];
    vt_need("h264.h264", p, sizeof p);
    avf_device *dev = nvdec_device();
    size_t es_n;
    uint8_t *es = vt_read_all(vt_need("h264.h264", p, sizeof p), &es_n);
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    avf_ledger *g = avf_ledger_global();
    avf_ledger_set_strict(g, 1);
    uint64_t refused = avf_ledger_refused(g);
    avf_video_decoder *d;
    avf_video_decoder_options o = {.codec = AVF_VIDEO_CODEC_H264, .max_queued = 64};
    assert_avf_ok(avf_video_decoder_create_nvdec(dev, pool, NULL, &o, &d));
    avf_status s = avf_video_decoder_send(d, es, es_n, 0);
    assert_avf_ok(s);
    assert_avf_ok(avf_video_decoder_send(d, NULL, 0, 0));
    avf_video_frame f;
    int got = 0, n = 0;
    uint8_t *host = calloc(1, vt_frame_bytes(W, H, 0));
    assert_non_null(host);
    assert_avf_ok(avf_video_decoder_receive(d, &f, &got));
    assert_true(got);
    s = avf_memcpy_async(dev, host, f.y.data, avf_tensor_nbytes(&f.y), AVF_COPY_D2H, NULL,
                         "video.test.download");
    assert_int_equal(s, AVF_ERR_UNSUPPORTED);
    print_message("strict: %s\n", avf_last_error());
    assert_non_null(strstr(avf_last_error(), "video.test.download"));
    assert_int_equal(avf_ledger_refused(g), refused + 1);
    assert_avf_ok(avf_device_synchronize(dev));
    size_t zero = 0;
    for (size_t i = 0; i < avf_tensor_nbytes(&f.y); i++)
        zero += host[i] == 0;
    assert_int_equal(zero, avf_tensor_nbytes(&f.y)); /* nothing was copied */
    /* strict off: the same download works and the frame is a real picture */
    avf_ledger_set_strict(g, 0);
    assert_avf_ok(avf_memcpy_async(dev, host, f.y.data, avf_tensor_nbytes(&f.y), AVF_COPY_D2H,
                                   NULL, "video.test.download"));
    assert_avf_ok(avf_device_synchronize(dev));
    zero = 0;
    for (size_t i = 0; i < avf_tensor_nbytes(&f.y); i++)
        zero += host[i] == 0;
    assert_true(zero < avf_tensor_nbytes(&f.y));
    do {
        avf_video_frame_release(&f, NULL);
        n++;
        assert_avf_ok(avf_video_decoder_receive(d, &f, &got));
    } while (got);
    assert_int_equal(n, NFRAMES); /* strict mode did not disturb the decode */
    avf_video_decoder_free(d);
    free(host);
    free(es);
    avf_pool_free_all(pool);
}

/* The other codecs NVDEC decodes, 8-bit 4:2:0, against ffmpeg's decode of
 * the same files (the first 4 frames are in the references). HEVC goes in
 * as an Annex-B byte stream in odd slices; VP9 and AV1 as IVF frames, one
 * per send (NVDEC's parser takes whole VP9 frames / AV1 temporal units). */
static void nvdec_clip(const char *es, const char *ref, avf_video_codec codec, int ivf,
                       const char *what) {
    char p[512];
    vt_need(es, p, sizeof p);
    vt_need(ref, p, sizeof p);
    avf_device *dev = nvdec_device();
    run r;
    load(&r, es, ref);
    r.dev = dev;
    r.codec = codec;
    r.ivf = ivf;
    r.chunk = 777;
    assert_true(!ivf || (r.es_n >= 32 && memcmp(r.es, "DKIF", 4) == 0));
    assert_avf_ok(avf_pool_create(dev, NULL, &r.pool));
    decode_es(&r);
    /* The driver's decoder caps say this GPU has no engine for the codec
     * (the H200 reports none for AV1): a hardware fact, so the test skips
     * and says so; the CPU decoder (dav1d) covers the codec. */
    if (r.status == AVF_ERR_UNSUPPORTED && r.frames == 0 && strstr(r.msg, "does not decode")) {
        print_message("%s: SKIPPED: %s\n", what, r.msg);
        free((void *)r.es);
        free((void *)r.ref);
        avf_pool_free_all(r.pool);
        skip();
    }
    report(&r, what);
    assert_int_equal(r.compared, 4);
    free((void *)r.es);
    free((void *)r.ref);
    avf_pool_free_all(r.pool);
}

static void test_nvdec_hevc(void **state) {
    (void)state;
    nvdec_clip("hevc.hevc", "hevc.nv12", AVF_VIDEO_CODEC_HEVC, 0, "hevc.hevc on NVDEC");
}

static void test_nvdec_vp9(void **state) {
    (void)state;
    nvdec_clip("vp9.ivf", "vp9.nv12", AVF_VIDEO_CODEC_VP9, 1, "vp9.ivf on NVDEC");
}

static void test_nvdec_av1(void **state) {
    (void)state;
    nvdec_clip("av1.ivf", "av1.nv12", AVF_VIDEO_CODEC_AV1, 1, "av1.ivf on NVDEC");
}

#define NTHREADS 6

static void test_nvdec_sessions_in_threads(void **state) {
    (void)state;
    char p[512];
    vt_need("h264.h264", p, sizeof p);
    avf_device *dev = nvdec_device();
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(dev, NULL, &pool));
    run r[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        if (i % 2 == 0)
            load(&r[i], "h264.h264", "h264.nv12");
        else
            load(&r[i], "hevc10.hevc", "hevc10.p010");
        r[i].codec = i % 2 == 0 ? AVF_VIDEO_CODEC_H264 : AVF_VIDEO_CODEC_HEVC;
        r[i].ten = i % 2;
        r[i].dev = dev;
        r[i].pool = pool; /* one pool shared by every session: it is thread-safe */
        r[i].chunk = 512 + 700 * (size_t)i;
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, decode_es, &r[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        char what[64];
        snprintf(what, sizeof what, "session %d (%s)", i, i % 2 ? "hevc 10-bit" : "h264");
        report(&r[i], what);
        free((void *)r[i].es);
        free((void *)r[i].ref);
    }
    avf_pool_stats ps;
    assert_avf_ok(avf_pool_get_stats(pool, &ps));
    assert_int_equal(ps.in_use_bytes, 0); /* every frame went back */
    avf_pool_free_all(pool);
}

static void test_nvdec_args(void **state) {
    (void)state;
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    assert_avf_fails(avf_nvdec_available(cpu), AVF_ERR_UNSUPPORTED);
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    avf_video_decoder *d = (avf_video_decoder *)1;
    avf_video_decoder_options o = {.codec = AVF_VIDEO_CODEC_H264};
    assert_avf_fails(avf_video_decoder_create_nvdec(cpu, pool, NULL, &o, &d), AVF_ERR_UNSUPPORTED);
    assert_null(d);
    assert_avf_fails(avf_video_decoder_create_nvdec(cpu, pool, NULL, NULL, &d), AVF_ERR_INVALID_ARG);
    int n = 0;
    if (avf_device_count(AVF_DEVICE_CUDA, &n) == AVF_OK && n > 0) {
        avf_device *dev;
        assert_avf_ok(avf_device_get(AVF_DEVICE_CUDA, 0, &dev));
        /* a CPU pool for a CUDA decoder is a caller's mistake */
        avf_status s = avf_video_decoder_create_nvdec(dev, pool, NULL, &o, &d);
        assert_int_equal(s, AVF_ERR_INVALID_ARG);
        s = avf_nvenc_available(dev);
        print_message("nvenc on cuda:0: %s\n", s == AVF_OK ? "available" : avf_last_error());
        if (avf_nvdec_available(dev) == AVF_OK) {
            avf_pool *gp;
            assert_avf_ok(avf_pool_create(dev, NULL, &gp));
            avf_video_decoder_options bad = {.codec = AVF_VIDEO_CODEC_UNKNOWN};
            assert_avf_fails(avf_video_decoder_create_nvdec(dev, gp, NULL, &bad, &d),
                             AVF_ERR_INVALID_ARG);
            /* garbage bytes: a status or nothing decoded, never a crash */
            assert_avf_ok(avf_video_decoder_create_nvdec(dev, gp, NULL, &o, &d));
            uint8_t junk[4096];
            for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (uint8_t)(i * 2654435761u >> 13);
            s = avf_video_decoder_send(d, junk, sizeof junk, 0);
            if (s == AVF_OK)
                s = avf_video_decoder_send(d, NULL, 0, 0);
            print_message("garbage into NVDEC: %s\n", avf_status_name(s));
            avf_video_decoder_free(d);
            avf_pool_free_all(gp);
        }
    } else {
        print_message("no CUDA device: only the CPU-side checks ran\n");
    }
    avf_pool_free_all(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvdec_args),
        cmocka_unit_test(test_nvdec_h264),
        cmocka_unit_test(test_nvdec_hevc10),
        cmocka_unit_test(test_nvdec_hevc),
        cmocka_unit_test(test_nvdec_vp9),
        cmocka_unit_test(test_nvdec_av1),
        cmocka_unit_test(test_nvdec_sessions_in_threads),
        cmocka_unit_test(test_nvdec_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
