/* H.264 encoding (avf_video_encoder, libx264): ffmpeg's decode of the test
 * clip encoded again, read back through the demuxer (raw Annex-B) and the
 * CPU decoder, compared with what went in; and the argument checks. */
#include <stdio.h>
#include <stdlib.h>

#include "test_video_util.h"

#define W 176
#define H 144
#define NFRAMES 15

/* Reference frame k of h264.nv12 as a borrowed host frame. */
static void ref_frame(avf_device *cpu, uint8_t *ref, int k, avf_video_frame *f) {
    size_t fb = vt_frame_bytes(W, H, 0);
    int64_t ys[2] = {H, W}, uvs[3] = {H / 2, W / 2, 2};
    memset(f, 0, sizeof *f);
    assert_avf_ok(avf_tensor_init_borrowed(&f->y, ref + (size_t)k * fb, AVF_DTYPE_U8, 2, ys, cpu));
    assert_avf_ok(avf_tensor_init_borrowed(&f->uv, ref + (size_t)k * fb + (size_t)W * H,
                                           AVF_DTYPE_U8, 3, uvs, cpu));
    f->format = AVF_PIXEL_NV12;
    f->width = W;
    f->height = H;
    f->pts = k;
}

static void test_encode_round_trip(void **state) {
    (void)state;
    char p[512];
    size_t rn;
    uint8_t *ref = vt_read_all(vt_need("h264.nv12", p, sizeof p), &rn);
    size_t fb = vt_frame_bytes(W, H, 0);
    assert_int_equal(rn, fb * NFRAMES);
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    avf_video_encode_options o = {.width = W, .height = H, .fps_num = 30, .fps_den = 1, .crf = 18};
    avf_video_encoder *e;
    assert_avf_ok(avf_video_encoder_create(&o, &e));
    uint8_t *es = NULL, *b;
    size_t n = 0, k;
    for (int i = 0; i < NFRAMES; i++) {
        avf_video_frame f;
        ref_frame(cpu, ref, i, &f);
        assert_avf_ok(avf_video_encoder_push(e, &f));
        assert_avf_ok(avf_video_encoder_take(e, &b, &k));
        if (k) {
            es = realloc(es, n + k);
            memcpy(es + n, b, k);
            n += k;
            free(b);
        }
    }
    assert_avf_ok(avf_video_encoder_finish(e));
    avf_video_frame f;
    ref_frame(cpu, ref, 0, &f);
    assert_avf_fails(avf_video_encoder_push(e, &f), AVF_ERR_CLOSED);
    assert_avf_ok(avf_video_encoder_take(e, &b, &k));
    es = realloc(es, n + k);
    memcpy(es + n, b, k);
    n += k;
    free(b);
    avf_video_encoder_free(e);
    print_message("encoded %d frames into %zu bytes of H.264\n", NFRAMES, n);
    assert_true(n > 1000 && (es[2] == 1 || es[3] == 1)); /* Annex-B start code */

    /* back through the demuxer (raw H.264 by content) and the CPU decoder */
    avf_demux *d;
    assert_avf_ok(avf_demux_open_memory(es, n, NULL, &d));
    avf_video_stream_info info;
    assert_avf_ok(avf_demux_video_info(d, &info));
    assert_int_equal(info.codec, AVF_VIDEO_CODEC_H264);
    assert_int_equal(info.width, W);
    assert_int_equal(info.height, H);
    avf_pool *pool;
    assert_avf_ok(avf_pool_create(cpu, NULL, &pool));
    avf_video_decoder_options dopt = {.codec = AVF_VIDEO_CODEC_H264};
    avf_video_decoder *dec;
    assert_avf_ok(avf_video_decoder_create_cpu(pool, &dopt, &dec));
    int got_frames = 0, eof = 0;
    double worst = INFINITY;
    uint8_t *packed = malloc(fb);
    while (!eof) {
        avf_video_packet pk;
        assert_avf_ok(avf_demux_read(d, &pk, &eof));
        assert_avf_ok(eof ? avf_video_decoder_send(dec, NULL, 0, 0)
                          : avf_video_decoder_send(dec, pk.data, pk.size, pk.pts));
        int got = 1;
        while (got) {
            avf_video_frame out;
            assert_avf_ok(avf_video_decoder_receive(dec, &out, &got));
            if (!got)
                break;
            assert_true(got_frames < NFRAMES);
            memcpy(packed, out.y.data, (size_t)W * H);
            memcpy(packed + (size_t)W * H, out.uv.data, fb - (size_t)W * H);
            double psnr = vt_psnr(packed, ref + (size_t)got_frames * fb, fb, 0, NULL);
            if (psnr < worst)
                worst = psnr;
            got_frames++;
            avf_video_frame_release(&out, NULL);
        }
    }
    print_message("decoded back %d frames, worst PSNR %.2f dB against the input\n", got_frames,
                  worst);
    assert_int_equal(got_frames, NFRAMES);
    assert_true(worst >= 35.0); /* crf 18 on a synthetic pattern */
    free(packed);
    avf_video_decoder_free(dec);
    avf_demux_close(d);
    avf_pool_free_all(pool);
    free(es);
    free(ref);
}

static void test_encode_args(void **state) {
    (void)state;
    avf_video_encoder *e = (avf_video_encoder *)1;
    avf_video_encode_options o = {.width = 175, .height = 144, .fps_num = 30, .fps_den = 1};
    assert_avf_fails(avf_video_encoder_create(&o, &e), AVF_ERR_INVALID_ARG);
    assert_null(e);
    o.width = 176;
    o.fps_num = 0;
    assert_avf_fails(avf_video_encoder_create(&o, &e), AVF_ERR_INVALID_ARG);
    o.fps_num = 30;
    o.crf = 99;
    assert_avf_fails(avf_video_encoder_create(&o, &e), AVF_ERR_INVALID_ARG);
    o.crf = 0;
    o.preset = "no-such-preset";
    avf_status s = avf_video_encoder_create(&o, &e);
    assert_true(s == AVF_ERR_UNSUPPORTED || s == AVF_OK);
    avf_video_encoder_free(s == AVF_OK ? e : NULL);
    o.preset = NULL;
    assert_avf_ok(avf_video_encoder_create(&o, &e));
    avf_device *cpu;
    assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
    uint8_t buf[176 * 144 * 2] = {0};
    int64_t ys[2] = {144, 176}, uvs[3] = {72, 88, 2}, small[2] = {100, 100};
    avf_video_frame f = {.format = AVF_PIXEL_P010, .width = 176, .height = 144};
    assert_avf_ok(avf_tensor_init_borrowed(&f.y, buf, AVF_DTYPE_U8, 2, ys, cpu));
    assert_avf_ok(avf_tensor_init_borrowed(&f.uv, buf, AVF_DTYPE_U8, 3, uvs, cpu));
    assert_avf_fails(avf_video_encoder_push(e, &f), AVF_ERR_UNSUPPORTED);
    f.format = AVF_PIXEL_NV12;
    f.width = 100;
    assert_avf_fails(avf_video_encoder_push(e, &f), AVF_ERR_INVALID_ARG);
    f.width = 176;
    assert_avf_ok(avf_tensor_init_borrowed(&f.y, buf, AVF_DTYPE_U8, 2, small, cpu));
    assert_avf_fails(avf_video_encoder_push(e, &f), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_tensor_init_borrowed(&f.y, buf, AVF_DTYPE_U8, 2, ys, cpu));
    f.pts = AVF_VIDEO_NO_PTS;
    assert_avf_ok(avf_video_encoder_push(e, &f));
    assert_avf_ok(avf_video_encoder_finish(e));
    assert_avf_ok(avf_video_encoder_finish(e));
    avf_video_encoder_free(e);
    avf_video_encoder_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
