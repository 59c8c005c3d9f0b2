/* libFuzzer harness for the video entry points: the first byte picks the
 * path, the rest is the input.
 *   0          avf_demux_open_memory + every packet into the CPU decoder of
 *              the stream's codec (the path a user upload takes)
 *   1..4       the bytes straight into the CPU decoder as H.264, HEVC, VP9
 *              or AV1 (what a demuxer would hand over), in slices of 4 KiB
 * Every input must end in statuses or frames, never a crash, hang, leak or
 * sanitizer report. See tests/fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>

#include "avflow.h"
#include "avflow/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static avf_pool *g_pool;

/* Receive and drop every ready frame. */
static void drain(avf_video_decoder *d) {
    avf_video_frame f;
    int got = 1;
    while (got && avf_video_decoder_receive(d, &f, &got) == AVF_OK && got)
        avf_video_frame_release(&f, NULL);
}

static void decode_packets(avf_demux *dm, avf_video_codec codec) {
    /* small frames only: a fuzzed header must not make each run decode 8K */
    avf_video_decoder_options o = {.codec = codec, .max_width = 1024, .max_height = 1024};
    avf_video_decoder *d;
    if (avf_video_decoder_create_cpu(g_pool, &o, &d) != AVF_OK)
        return;
    for (int i = 0; i < 1000; i++) {
        avf_video_packet p;
        int eof = 0;
        if (avf_demux_read(dm, &p, &eof) != AVF_OK)
            break;
        avf_status s = eof ? avf_video_decoder_send(d, NULL, 0, 0)
                           : avf_video_decoder_send(d, p.data, p.size, p.pts);
        drain(d);
        if (eof || (s != AVF_OK && s != AVF_ERR_FULL))
            break;
    }
    avf_video_decoder_free(d);
}

static void decode_raw(const uint8_t *data, size_t size, avf_video_codec codec) {
    avf_video_decoder_options o = {.codec = codec, .max_width = 1024, .max_height = 1024};
    avf_video_decoder *d;
    if (avf_video_decoder_create_cpu(g_pool, &o, &d) != AVF_OK)
        return;
    for (size_t off = 0; off < size; off += 4096) {
        size_t n = size - off < 4096 ? size - off : 4096;
        avf_status s = avf_video_decoder_send(d, data + off, n, (int64_t)off);
        drain(d);
        if (s != AVF_OK && s != AVF_ERR_FULL)
            break;
    }
    (void)avf_video_decoder_send(d, NULL, 0, 0);
    drain(d);
    avf_video_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (!g_pool) { /* one CPU pool for the whole run (frames go back to it) */
        avf_device *cpu;
        if (avf_device_get(AVF_DEVICE_CPU, 0, &cpu) != AVF_OK ||
            avf_pool_create(cpu, NULL, &g_pool) != AVF_OK)
            return 0;
    }
    int mode = data[0] % 5;
    data++, size--;
    if (mode == 0) {
        avf_demux *dm;
        if (avf_demux_open_memory(data, size, NULL, &dm) != AVF_OK)
            return 0;
        avf_video_stream_info info;
        if (avf_demux_video_info(dm, &info) == AVF_OK && info.codec != AVF_VIDEO_CODEC_UNKNOWN)
            decode_packets(dm, info.codec);
        avf_demux_close(dm);
    } else {
        decode_raw(data, size, (avf_video_codec)mode);
    }
    return 0;
}
