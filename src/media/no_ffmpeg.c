/* libavflow_media built without FFmpeg (cmake -DAVF_FFMPEG=OFF): the GPU
 * machines have no FFmpeg libraries, and the ~150 shared libraries that
 * libavformat/libavcodec pull in are too big to carry there. This build
 * keeps libsndfile (WAV/FLAC/OGG audio in and out) and everything that does
 * not need FFmpeg (NVDEC lives in libavflow); the entry points that do
 * answer AVF_ERR_UNSUPPORTED saying so, never a silent fallback. */
#include "avflow/video.h"
#include "core/error.h"
#include "media/audio_impl.h"

#define NO_FFMPEG(what)                                                                       \
    AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s needs FFmpeg, and this avflow was built without it "   \
                                  "(-DAVF_FFMPEG=OFF)",                                       \
             what)

avf_status avf_audio_decode_av(const char *path, const void *data, size_t size, avf_audio *out) {
    (void)path, (void)data, (void)size, (void)out;
    return NO_FFMPEG("decoding this audio format (MP3/AAC/M4A/Opus)");
}

avf_status avf_opus_enc_create(int rate, int channels, int bitrate, avf_bytebuf *sink,
                               avf_opus_enc **out) {
    (void)rate, (void)channels, (void)bitrate, (void)sink;
    *out = NULL;
    return NO_FFMPEG("Opus encoding");
}
avf_status avf_opus_enc_push(avf_opus_enc *e, const float *planar, int64_t frames,
                             int64_t stride) {
    (void)e, (void)planar, (void)frames, (void)stride;
    return NO_FFMPEG("Opus encoding");
}
avf_status avf_opus_enc_finish(avf_opus_enc *e) {
    (void)e;
    return NO_FFMPEG("Opus encoding");
}
void avf_opus_enc_free(avf_opus_enc *e) { (void)e; }

avf_status avf_demux_open_file(const char *path, const avf_demux_options *opts, avf_demux **out) {
    (void)path, (void)opts;
    *out = NULL;
    return NO_FFMPEG("demuxing video containers");
}
avf_status avf_demux_open_memory(const void *data, size_t size, const avf_demux_options *opts,
                                 avf_demux **out) {
    (void)data, (void)size, (void)opts;
    *out = NULL;
    return NO_FFMPEG("demuxing video containers");
}
avf_status avf_demux_open_url(const char *url, const avf_demux_options *opts, avf_demux **out) {
    (void)url, (void)opts;
    *out = NULL;
    return NO_FFMPEG("demuxing video streams");
}
avf_status avf_demux_video_info(const avf_demux *d, avf_video_stream_info *info) {
    (void)d, (void)info;
    return NO_FFMPEG("demuxing video containers");
}
int avf_demux_stream_count(const avf_demux *d) {
    (void)d;
    return 0;
}
avf_status avf_demux_read(avf_demux *d, avf_video_packet *pkt, int *eof) {
    (void)d, (void)pkt, (void)eof;
    return NO_FFMPEG("demuxing video containers");
}
void avf_demux_close(avf_demux *d) { (void)d; }

avf_status avf_video_decoder_create_cpu(avf_pool *pool, const avf_video_decoder_options *opts,
                                        avf_video_decoder **out) {
    (void)pool, (void)opts;
    *out = NULL;
    return NO_FFMPEG("CPU video decoding (NVDEC does not)");
}

avf_status avf_video_encoder_create(const avf_video_encode_options *opts,
                                    avf_video_encoder **out) {
    (void)opts;
    *out = NULL;
    return NO_FFMPEG("video encoding");
}
avf_status avf_video_encoder_push(avf_video_encoder *e, const avf_video_frame *f) {
    (void)e, (void)f;
    return NO_FFMPEG("video encoding");
}
avf_status avf_video_encoder_finish(avf_video_encoder *e) {
    (void)e;
    return NO_FFMPEG("video encoding");
}
avf_status avf_video_encoder_take(avf_video_encoder *e, uint8_t **bytes, size_t *size) {
    (void)e;
    *bytes = NULL;
    *size = 0;
    return NO_FFMPEG("video encoding");
}
void avf_video_encoder_free(avf_video_encoder *e) { (void)e; }
