/* Video demux and CPU decode (avflow/video.h) on the clips from
 * scripts/make-test-data.sh --video: stream info and packets of every
 * container, Annex-B output, file vs memory input, frame-exact agreement
 * with ffmpeg's own decode, and damaged / empty / mislabelled inputs giving
 * statuses (this file also runs under ASan+UBSan). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_video_util.h"

#define W 176
#define H 144
#define NFRAMES 15

typedef struct clip {
    const char *file;
    avf_video_codec codec;
    int bit_depth;
    int has_pts; /* raw elementary streams carry no timestamps of their own */
    const char *ref; /* ffmpeg's decode, NULL for none */
} clip;

static const clip g_clips[] = {
    {"h264.mp4", AVF_VIDEO_CODEC_H264, 8, 1, "h264.nv12"},
    {"h264.ts", AVF_VIDEO_CODEC_H264, 8, 1, "h264.nv12"},
    {"h264.h264", AVF_VIDEO_CODEC_H264, 8, 0, "h264.nv12"},
    {"hevc.mkv", AVF_VIDEO_CODEC_HEVC, 8, 1, "hevc.nv12"},
    {"vp9.webm", AVF_VIDEO_CODEC_VP9, 8, 1, "vp9.nv12"},
    {"av1.mkv", AVF_VIDEO_CODEC_AV1, 8, 1, "av1.nv12"},
    {"hevc10.mkv", AVF_VIDEO_CODEC_HEVC, 10, 1, "hevc10.p010"},
    {"hevc10.hevc", AVF_VIDEO_CODEC_HEVC, 10, 0, "hevc10.p010"},
};
#define NCLIPS (sizeof g_clips / sizeof g_clips[0])

static char g_tmp[64];

static int starts_annexb(const uint8_t *p, size_t n) {
    return (n >= 4 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1) ||
           (n >= 3 && p[0] == 0 && p[1] == 0 && p[2] == 1);
}

/* All packets of a demuxer, concatenated, with their count and a check of
 * timestamps: dts never decreases, pts are distinct (display order). */
typedef struct packets {
    uint8_t *bytes;
    size_t n;
    int count, keyframes;
    int64_t pts[256];
} packets;

static void read_packets(avf_demux *d, const clip *c, packets *out) {
    memset(out, 0, sizeof *out);
    avf_video_packet p;
    int eof = 0;
    int64_t last_dts = INT64_MIN;
    for (;;) {
        assert_avf_ok(avf_demux_read(d, &p, &eof));
        if (eof)
            break;
        assert_true(p.size > 0 && p.data != NULL);
        if (c->codec == AVF_VIDEO_CODEC_H264 || c->codec == AVF_VIDEO_CODEC_HEVC)
            assert_true(starts_annexb(p.data, p.size));
        if (out->count == 0)
            assert_true(p.keyframe);
        out->keyframes += p.keyframe;
        if (c->has_pts) {
            assert_true(p.pts != AVF_VIDEO_NO_PTS);
            if (p.dts != AVF_VIDEO_NO_PTS) {
                assert_true(p.dts >= last_dts);
                last_dts = p.dts;
            }
        }
        assert_true(out->count < 256);
        out->pts[out->count++] = p.pts;
        out->bytes = realloc(out->bytes, out->n + p.size);
        memcpy(out->bytes + out->n, p.data, p.size);
        out->n += p.size;
    }
    /* a second read at the end stays at the end */
    assert_avf_ok(avf_demux_read(d, &p, &eof));
    assert_true(eof && p.data == NULL && p.size == 0);
    if (c->has_pts)
        for (int i = 0; i < out->count; i++)
            for (int j = i + 1; j < out->count; j++)
                assert_true(out->pts[i] != out->pts[j]);
}

static void test_demux_containers(void **state) {
    (void)state;
    char path[512];
    vt_need("h264.mp4", path, sizeof path);
    for (size_t i = 0; i < NCLIPS; i++) {
        const clip *c = &g_clips[i];
        vt_need(c->file, path, sizeof path);
        avf_demux *d;
        assert_avf_ok(avf_demux_open_file(path, NULL, &d));
        avf_video_stream_info info;
        assert_avf_ok(avf_demux_video_info(d, &info));
        print_message("%s: %s %dx%d %d-bit %d/%d fps, tb %d/%d, %d stream(s)\n", c->file,
                      info.codec_name, info.width, info.height, info.bit_depth, info.fps_num,
                      info.fps_den, info.tb_num, info.tb_den, avf_demux_stream_count(d));
        assert_int_equal(info.codec, c->codec);
        assert_string_equal(avf_video_codec_name(info.codec), avf_video_codec_name(c->codec));
        assert_int_equal(info.width, W);
        assert_int_equal(info.height, H);
        assert_int_equal(info.bit_depth, c->bit_depth);
        assert_true(info.tb_num > 0 && info.tb_den > 0);
        if (c->has_pts)
            assert_true(info.fps_num == 30 * info.fps_den);
        assert_int_equal(avf_demux_stream_count(d), 1);
        packets pk;
        read_packets(d, c, &pk);
        print_message("%s: %d packets, %d key, %zu bytes\n", c->file, pk.count, pk.keyframes, pk.n);
        assert_int_equal(pk.count, NFRAMES);
        assert_true(pk.keyframes >= 1);
        avf_demux_close(d);

        /* the same bytes from memory */
        size_t n;
        uint8_t *file = vt_read_all(path, &n);
        assert_avf_ok(avf_demux_open_memory(file, n, NULL, &d));
        packets pm;
        read_packets(d, c, &pm);
        assert_int_equal(pm.count, pk.count);
        assert_int_equal(pm.n, pk.n);
        assert_memory_equal(pm.bytes, pk.bytes, pk.n);
        avf_demux_close(d);
        /* the Annex-B elementary stream ffmpeg wrote from the MP4 is what
         * our conversion yields from the MP4 */
        if (strcmp(c->file, "h264.mp4") == 0) {
            size_t es_n;
            uint8_t *es = vt_read_all(vt_need("h264.h264", path, sizeof path), &es_n);
            assert_int_equal(es_n, pk.n);
            assert_memory_equal(es, pk.bytes, es_n);
            free(es);
        }
        free(file);
        free(pk.bytes);
        free(pm.bytes);
    }
}

/* Demux + CPU-decode a clip; packed frames [y | uv] in display order into
 * *frames (malloc'ed), their count returned. */
static int decode_clip(const uint8_t *bytes, size_t n, const char *path, int max_queued,
                       uint8_t **frames, int64_t *pts, avf_status *status) {
    avf_demux *d;
    avf_status s = path ? avf_demux_open_file(path, NULL, &d) : avf_demux_open_memory(bytes, n, NULL, &d);
    *frames = NULL;
    *status = s;
    if (s != AVF_OK)
        return 0;
    avf_video_stream_info info;
    assert_avf_ok(avf_demux_video_info(d, &info));
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    avf_video_decoder_options o = {.codec = info.codec, .max_queued = max_queued};
    avf_video_decoder *dec;
    s = avf_video_decoder_create_cpu(pool, &o, &dec);
    int count = 0, ended = 0;
    size_t fb = 0;
    while (s == AVF_OK && !ended) {
        avf_video_packet p;
        int eof;
        s = avf_demux_read(d, &p, &eof);
        if (s != AVF_OK)
            break;
        ended = eof;
        s = eof ? avf_video_decoder_send(dec, NULL, 0, 0)
                : avf_video_decoder_send(dec, p.data, p.size, p.pts);
        if (s != AVF_OK && s != AVF_ERR_FULL)
            break;
        avf_status rs;
        for (;;) {
            avf_video_frame f;
            int got;
            rs = avf_video_decoder_receive(dec, &f, &got);
            assert_int_equal(rs, AVF_OK);
            if (!got)
                break;
            assert_int_equal(f.width, info.width);
            assert_int_equal(f.height, info.height);
            int ten = f.format == AVF_PIXEL_P010;
            assert_int_equal(f.y.dtype, ten ? AVF_DTYPE_I16 : AVF_DTYPE_U8);
            assert_int_equal(f.uv.ndim, 3);
            assert_int_equal(f.uv.shape[2], 2);
            fb = vt_frame_bytes(f.width, f.height, ten);
            assert_int_equal(avf_tensor_nbytes(&f.y) + avf_tensor_nbytes(&f.uv), fb);
            *frames = realloc(*frames, fb * (size_t)(count + 1));
            memcpy(*frames + fb * (size_t)count, f.y.data, avf_tensor_nbytes(&f.y));
            memcpy(*frames + fb * (size_t)count + avf_tensor_nbytes(&f.y), f.uv.data,
                   avf_tensor_nbytes(&f.uv));
            if (pts && count < 256)
                pts[count] = f.pts;
            count++;
            avf_video_frame_release(&f, NULL);
        }
    }
    *status = s;
    avf_video_decoder_free(dec);
    avf_demux_close(d);
    avf_pool_free_all(pool);
    return count;
}

static void test_cpu_decode_matches_ffmpeg(void **state) {
    (void)state;
    char path[512], rpath[512];
    vt_need("h264.mp4", path, sizeof path);
    for (size_t i = 0; i < NCLIPS; i++) {
        const clip *c = &g_clips[i];
        vt_need(c->file, path, sizeof path);
        uint8_t *frames;
        int64_t pts[256];
        avf_status s;
        int n = decode_clip(NULL, 0, path, 0, &frames, pts, &s);
        if (s != AVF_OK)
            print_error("%s: %s %s\n", c->file, avf_status_name(s), avf_last_error());
        assert_avf_ok(s);
        assert_int_equal(n, NFRAMES);
        if (c->has_pts)
            for (int k = 1; k < n; k++)
                assert_true(pts[k] > pts[k - 1]); /* display order */
        int ten = c->bit_depth > 8;
        size_t fb = vt_frame_bytes(W, H, ten), rn;
        uint8_t *ref = vt_read_all(vt_need(c->ref, rpath, sizeof rpath), &rn);
        assert_true(rn % fb == 0 && rn / fb >= 1 && rn / fb <= (size_t)n);
        double worst = INFINITY;
        for (size_t k = 0; k < rn / fb; k++) {
            int md;
            double p = vt_psnr(frames + k * fb, ref + k * fb, fb, ten, &md);
            if (p < worst)
                worst = p;
            if (md != 0)
                print_error("%s frame %zu: max diff %d, PSNR %.2f dB\n", c->file, k, md, p);
            assert_int_equal(md, 0); /* the same libavcodec: identical */
        }
        print_message("%s: %d frames, %zu compared with ffmpeg: identical\n", c->file, n, rn / fb);
        free(ref);
        free(frames);
    }
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Whatever the bytes, open/read/decode end in a status or frames. */
static void survive(const uint8_t *b, size_t n, const char *what) {
    uint8_t *frames;
    avf_status s;
    avf_clear_error();
    int got = decode_clip(b, n, NULL, 0, &frames, NULL, &s);
    if (s != AVF_OK)
        assert_true(avf_last_error()[0] != '\0');
    assert_true(got <= 64);
    (void)what;
    free(frames);
}

/* A one-connection HTTP/1.1 server on loopback in a forked child: answers
 * any GET with the file (Content-Length, no ranges), then exits. */
static pid_t serve_file_once(const uint8_t *data, size_t n, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int k = 0; k < 4; k++) { /* FFmpeg may reconnect (probe, then read) */
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                _exit(1);
            char req[4096];
            ssize_t r = read(c, req, sizeof req);
            (void)r;
            char hdr[256];
            int h = snprintf(hdr, sizeof hdr,
                             "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n", n);
            if (write(c, hdr, (size_t)h) == h) {
                size_t off = 0;
                while (off < n) {
                    ssize_t w = write(c, data + off, n - off);
                    if (w <= 0)
                        break;
                    off += (size_t)w;
                }
            }
            close(c);
        }
        _exit(0);
    }
    close(fd);
    return pid;
}

/* With allow_network, an http:// URL demuxes like the file. */
static void test_demux_http(void **state) {
    (void)state;
    char path[512], url[128];
    vt_need("h264.mp4", path, sizeof path);
    size_t n;
    uint8_t *file = vt_read_all(path, &n);
    int port = 0;
    pid_t pid = serve_file_once(file, n, &port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/h264.mp4", port);
    avf_demux_options o;
    memset(&o, 0, sizeof o);
    o.allow_network = 1;
    o.timeout_ms = 5000;
    avf_demux *d = NULL;
    avf_status st = avf_demux_open_url(url, &o, &d);
    if (st != AVF_OK)
        print_error("%s: %s\n", url, avf_last_error());
    assert_avf_ok(st);
    avf_video_stream_info info;
    assert_avf_ok(avf_demux_video_info(d, &info));
    assert_int_equal(info.codec, AVF_VIDEO_CODEC_H264);
    assert_int_equal(info.width, W);
    int count = 0, eof = 0;
    while (!eof) {
        avf_video_packet pkt;
        assert_avf_ok(avf_demux_read(d, &pkt, &eof));
        if (!eof)
            count++;
    }
    print_message("%s: %d packets\n", url, count);
    assert_int_equal(count, NFRAMES);
    avf_demux_close(d);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(file);
}

static void test_bad_inputs(void **state) {
    (void)state;
    char path[512], p2[600];
    avf_demux *d = (avf_demux *)1;
    assert_avf_fails(avf_demux_open_memory("", 0, NULL, &d), AVF_ERR_CORRUPT);
    assert_null(d);
    snprintf(p2, sizeof p2, "%s/empty.mp4", g_tmp);
    write_file(p2, "", 0);
    assert_avf_fails(avf_demux_open_file(p2, NULL, &d), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_demux_open_file("/nonexistent/x.mp4", NULL, &d), AVF_ERR_NOT_FOUND);
    assert_avf_fails(avf_demux_open_file(g_tmp, NULL, &d), AVF_ERR_IO);
    /* network input is opt-in */
    assert_avf_fails(avf_demux_open_url("http://127.0.0.1:9/x.mp4", NULL, &d), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_demux_open_url("rtsp://127.0.0.1:9/cam", NULL, &d), AVF_ERR_UNSUPPORTED);
    /* garbage */
    uint8_t junk[8192];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        junk[i] = (uint8_t)x;
    }
    avf_status s = avf_demux_open_memory(junk, sizeof junk, NULL, &d);
    assert_true(s != AVF_OK && avf_last_error()[0]);
    /* playlists must not make the demuxer open other inputs */
    char pl[1024];
    snprintf(pl, sizeof pl, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n%s\n#EXT-X-ENDLIST\n",
             vt_need("h264.ts", path, sizeof path));
    assert_true(avf_demux_open_memory(pl, strlen(pl), NULL, &d) != AVF_OK);
    snprintf(pl, sizeof pl, "ffconcat version 1.0\nfile '%s'\n", path);
    assert_true(avf_demux_open_memory(pl, strlen(pl), NULL, &d) != AVF_OK);
    /* a name FFmpeg would read as a protocol stays a file name */
    assert_avf_fails(avf_demux_open_file("concat:/etc/passwd", NULL, &d), AVF_ERR_NOT_FOUND);

    /* mislabelled: an MKV named .mp4 and an MP4 named .webm open by content */
    const char *mis[][2] = {{"hevc.mkv", "hevc_named.mp4"}, {"h264.mp4", "h264_named.webm"}};
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *b = vt_read_all(vt_need(mis[i][0], path, sizeof path), &n);
        snprintf(p2, sizeof p2, "%s/%s", g_tmp, mis[i][1]);
        write_file(p2, b, n);
        uint8_t *frames;
        int got = decode_clip(NULL, 0, p2, 0, &frames, NULL, &s);
        assert_avf_ok(s);
        assert_int_equal(got, NFRAMES);
        free(frames);
        free(b);
    }

    /* truncated and corrupted copies of every clip */
    for (size_t i = 0; i < NCLIPS; i++) {
        size_t n;
        uint8_t *b = vt_read_all(vt_need(g_clips[i].file, path, sizeof path), &n);
        size_t cuts[] = {1, 4, 16, 100, 700, n / 3, n / 2, n - 100, n - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++)
            survive(b, cuts[k], "cut");
        uint8_t *bad = malloc(n);
        for (int round = 0; round < 6; round++) {
            memcpy(bad, b, n);
            /* flip a run of bytes: headers (round 0-1) or payload */
            size_t at = round < 2 ? (size_t)(8 + 24 * round) : (n / 7) * (size_t)round;
            for (size_t k = at; k < at + 16 && k < n; k++)
                bad[k] ^= (uint8_t)(0x5A + 31 * k);
            survive(bad, n, "flipped");
        }
        /* box/element sizes made absurd: every 32-bit word set to 0xFFFFFFF0 in turn near the start */
        for (size_t at = 0; at + 4 <= n && at < 256; at += 20) {
            memcpy(bad, b, n);
            bad[at] = 0xFF, bad[at + 1] = 0xFF, bad[at + 2] = 0xFF, bad[at + 3] = 0xF0;
            survive(bad, n, "size");
        }
        free(bad);
        free(b);
    }
}

static void test_limits_and_args(void **state) {
    (void)state;
    char path[512];
    vt_need("h264.mp4", path, sizeof path);
    /* a packet bound below the stream's packets is a status on read */
    avf_demux_options o = {.max_packet_bytes = 64};
    avf_demux *d;
    assert_avf_ok(avf_demux_open_file(path, &o, &d));
    avf_video_packet p;
    int eof;
    assert_avf_fails(avf_demux_read(d, &p, &eof), AVF_ERR_UNSUPPORTED);
    avf_demux_close(d);
    avf_demux_close(NULL);

    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    avf_video_decoder *dec;
    avf_video_decoder_options bad = {.codec = AVF_VIDEO_CODEC_UNKNOWN};
    assert_avf_fails(avf_video_decoder_create_cpu(pool, &bad, &dec), AVF_ERR_INVALID_ARG);
    bad = (avf_video_decoder_options){.codec = AVF_VIDEO_CODEC_H264, .max_width = 1 << 20};
    assert_avf_fails(avf_video_decoder_create_cpu(pool, &bad, &dec), AVF_ERR_INVALID_ARG);
    bad = (avf_video_decoder_options){.codec = AVF_VIDEO_CODEC_H264, .max_queued = -1};
    assert_avf_fails(avf_video_decoder_create_cpu(pool, &bad, &dec), AVF_ERR_INVALID_ARG);
    /* NVDEC on the CPU device: unsupported, with the reason */
    avf_video_decoder_options h264 = {.codec = AVF_VIDEO_CODEC_H264};
    assert_avf_fails(avf_video_decoder_create_nvdec(cpu, pool, NULL, &h264, &dec),
                     AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_nvdec_available(cpu), AVF_ERR_UNSUPPORTED);
    assert_avf_fails(avf_nvenc_available(cpu), AVF_ERR_UNSUPPORTED);

    /* a stream bigger than max_width fails with a status */
    avf_video_decoder_options small = {.codec = AVF_VIDEO_CODEC_H264, .max_width = 64, .max_height = 64};
    assert_avf_ok(avf_video_decoder_create_cpu(pool, &small, &dec));
    assert_avf_ok(avf_demux_open_file(path, NULL, &d));
    avf_status s = AVF_OK;
    for (int i = 0; i < 40 && s == AVF_OK; i++) {
        assert_avf_ok(avf_demux_read(d, &p, &eof));
        s = eof ? avf_video_decoder_send(dec, NULL, 0, 0) : avf_video_decoder_send(dec, p.data, p.size, p.pts);
        if (eof)
            break;
    }
    assert_int_equal(s, AVF_ERR_UNSUPPORTED);
    avf_video_decoder_free(dec);
    avf_demux_close(d);

    /* a full queue drops frames and says so; after the end, send is closed */
    avf_video_decoder_options q = {.codec = AVF_VIDEO_CODEC_H264, .max_queued = 2};
    assert_avf_ok(avf_video_decoder_create_cpu(pool, &q, &dec));
    assert_avf_ok(avf_demux_open_file(path, NULL, &d));
    int full = 0;
    for (;;) {
        assert_avf_ok(avf_demux_read(d, &p, &eof));
        s = eof ? avf_video_decoder_send(dec, NULL, 0, 0) : avf_video_decoder_send(dec, p.data, p.size, p.pts);
        assert_true(s == AVF_OK || s == AVF_ERR_FULL);
        full += s == AVF_ERR_FULL;
        if (eof)
            break;
    }
    int64_t delivered, dropped;
    avf_video_decoder_counts(dec, &delivered, &dropped);
    assert_true(full > 0);
    assert_int_equal(delivered, 0);
    assert_int_equal(dropped, NFRAMES - 2);
    avf_video_frame f;
    int got, taken = 0;
    do {
        assert_avf_ok(avf_video_decoder_receive(dec, &f, &got));
        taken += got;
        avf_video_frame_release(&f, NULL);
    } while (got);
    assert_int_equal(taken, 2);
    assert_avf_fails(avf_video_decoder_send(dec, p.data, 10, 0), AVF_ERR_INVALID_ARG);
    uint8_t byte = 0;
    assert_avf_fails(avf_video_decoder_send(dec, &byte, 1, 0), AVF_ERR_CLOSED);
    avf_video_decoder_free(dec); /* frees nothing held twice */
    avf_video_decoder_free(NULL);
    avf_demux_close(d);
    avf_pool_free_all(pool);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/avf_video_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demux_containers),
        cmocka_unit_test(test_cpu_decode_matches_ffmpeg),
        cmocka_unit_test(test_demux_http),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_limits_and_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
