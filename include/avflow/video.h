/* avflow video in: demuxing containers into compressed packets, and
 * decoding them into NV12 / P010 frames, on the GPU (NVDEC) or on the CPU.
 *
 * The pieces live in two libraries, on purpose:
 *  - libavflow_media (FFmpeg): the demuxer (avf_demux_*) and the CPU decoder
 *    (avf_video_decoder_create_cpu);
 *  - libavflow (no FFmpeg): the NVDEC decoder (avf_video_decoder_create_nvdec),
 *    which loads libcuda.so.1 and libnvcuvid.so.1 at run time and takes
 *    Annex-B (H.264/HEVC), VP9 frames or AV1 OBUs, so that a GPU machine
 *    without FFmpeg decodes an elementary stream with libavflow alone. Both
 *    decoders sit behind the same avf_video_decoder calls.
 *
 * Frame layout (the same from both decoders): two tensors,
 *   y  [H, W]               luma
 *   uv [(H+1)/2, (W+1)/2, 2] interleaved Cb, Cr
 * NV12 (8-bit) is u8. P010 (10-bit) holds little-endian 16-bit words with
 * the sample in the top 10 bits (value << 6), in tensors of dtype i16
 * (avflow has no u16 dtype): read them as uint16_t.
 *
 * Bounds on what is accepted from outside: at most 8192 x 8192 pixels, at
 * most AVF_VIDEO_MAX_STREAMS streams in a container, packets of at most
 * AVF_VIDEO_MAX_PACKET bytes (opts may lower it), bit depth 8 or 10. A
 * corrupt, truncated, empty or mislabelled input is a status with a message
 * (AVF_ERR_CORRUPT, AVF_ERR_UNSUPPORTED for a recognized stream outside the
 * bounds), never a crash.
 */
#ifndef AVFLOW_VIDEO_H
#define AVFLOW_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/pool.h"
#include "avflow/status.h"
#include "avflow/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_VIDEO_MAX_DIM 8192
#define AVF_VIDEO_MAX_STREAMS 64
#define AVF_VIDEO_MAX_PACKET (64u << 20) /* bytes */

typedef enum avf_video_codec {
    AVF_VIDEO_CODEC_UNKNOWN = 0,
    AVF_VIDEO_CODEC_H264,
    AVF_VIDEO_CODEC_HEVC,
    AVF_VIDEO_CODEC_VP9,
    AVF_VIDEO_CODEC_AV1,
    AVF_VIDEO_CODEC_COUNT
} avf_video_codec;

/* "h264", "hevc", "vp9", "av1", "unknown". */
const char *avf_video_codec_name(avf_video_codec c);

typedef enum avf_pixel_format {
    AVF_PIXEL_NV12 = 0, /* 8-bit 4:2:0, u8 planes */
    AVF_PIXEL_P010,     /* 10-bit 4:2:0, 16-bit words (i16 tensors), sample << 6 */
    AVF_PIXEL_FORMAT_COUNT
} avf_pixel_format;

/* ---------------------------------------------------------------- demux */

typedef struct avf_video_stream_info {
    int index;             /* stream index in the container */
    avf_video_codec codec; /* UNKNOWN for a codec avflow does not decode */
    char codec_name[32];   /* FFmpeg's name, also for codecs avflow lacks */
    int width, height;
    int bit_depth;         /* 8, 10, ... (0 when the container does not say) */
    int fps_num, fps_den;  /* average frame rate; 0/1 when unknown */
    int tb_num, tb_den;    /* time base of the packets' pts/dts/duration */
    int64_t duration;      /* in time base units; -1 when unknown */
    int64_t frames;        /* frame count the container claims; -1 when unknown */
} avf_video_stream_info;

/* A compressed packet of the chosen video stream, in decode order. H.264 and
 * HEVC are Annex-B (start codes, parameter sets before key frames) whatever
 * the container stored. data is owned by the demuxer and valid until the
 * next avf_demux_read or avf_demux_close. */
typedef struct avf_video_packet {
    const uint8_t *data;
    size_t size;
    int64_t pts, dts;  /* time base units; INT64_MIN when absent */
    int64_t duration;  /* 0 when unknown */
    int keyframe;
} avf_video_packet;

#define AVF_VIDEO_NO_PTS INT64_MIN

typedef struct avf_demux_options {
    /* Allow http(s)/rtsp/rtp/udp/tcp URLs in avf_demux_open_url. Off by
     * default: a server decoding user uploads must not be made to fetch
     * URLs, and the file and memory entry points never open a network. */
    int allow_network;
    size_t max_packet_bytes; /* 0: AVF_VIDEO_MAX_PACKET */
    int timeout_ms;          /* network I/O timeout; 0: 10 s */
} avf_demux_options;

typedef struct avf_demux avf_demux;

/* Open MP4/MOV, Matroska/WebM, MPEG-TS, raw H.264/HEVC Annex-B or IVF by
 * content, and pick the best video stream. opts may be NULL (defaults).
 * The memory variant reads `data` while the demuxer lives (no copy): keep
 * it alive until avf_demux_close. On failure *out is NULL. */
avf_status avf_demux_open_file(const char *path, const avf_demux_options *opts, avf_demux **out);
avf_status avf_demux_open_memory(const void *data, size_t size, const avf_demux_options *opts,
                                 avf_demux **out);
/* Local paths, "file:" URLs, and (with opts->allow_network) network URLs. */
avf_status avf_demux_open_url(const char *url, const avf_demux_options *opts, avf_demux **out);

/* The chosen video stream. */
avf_status avf_demux_video_info(const avf_demux *d, avf_video_stream_info *info);
/* Number of streams of every kind in the container. */
int avf_demux_stream_count(const avf_demux *d);

/* Next packet of the video stream; at the end of input *eof = 1 and pkt is
 * zeroed. A packet over the size bound or a read error mid-file is a status;
 * a file cut short ends (eof) after the last whole packet. */
avf_status avf_demux_read(avf_demux *d, avf_video_packet *pkt, int *eof);
void avf_demux_close(avf_demux *d);

/* ---------------------------------------------------------------- decode */

typedef struct avf_video_frame {
    avf_tensor y, uv;        /* owned (from the decoder's pool) unless zeroed */
    avf_pixel_format format;
    int width, height;       /* displayed size (y's shape is [height, width]) */
    int64_t pts;             /* the pts given with the packet that held it */
} avf_video_frame;

/* Release both planes to their pool (s: the stream that last used them;
 * NULL: the frame's own stream) and zero the frame. NULL ignored. */
void avf_video_frame_release(avf_video_frame *f, avf_stream *s);

typedef struct avf_video_decoder_options {
    avf_video_codec codec;
    int max_width, max_height; /* 0: AVF_VIDEO_MAX_DIM; larger streams fail */
    int max_queued;            /* decoded frames held for receive; 0: 32 */
    /* NVDEC: extra decode surfaces over the stream's minimum (0: 4). */
    int extra_surfaces;
} avf_video_decoder_options;

typedef struct avf_video_decoder avf_video_decoder;

/* NVDEC on CUDA device `dev`, frames allocated from `pool` (a pool of that
 * device) and written on stream `s` (NULL: the device's default stream),
 * in the device's primary context so the frames are ordinary runtime-API
 * memory. Thread-safe; one decoder per video stream, any number at once
 * (the hardware's engines are shared among them). AVF_ERR_UNSUPPORTED with
 * a message when there is no CUDA driver, no libnvcuvid, or the GPU cannot
 * decode the codec/size/bit depth. Device traffic goes to the transfer
 * ledger: compressed bytes as H2D ("video.nvdec.bitstream"), the copy from
 * the decoder's surface into the frame as D2D ("video.nvdec"); frames never
 * go to the host. */
avf_status avf_video_decoder_create_nvdec(avf_device *dev, avf_pool *pool, avf_stream *s,
                                          const avf_video_decoder_options *opts,
                                          avf_video_decoder **out);
/* libavcodec on the host (libavflow_media): frames are host tensors from
 * `pool` (a CPU pool) in the same layout; upload them where needed. */
avf_status avf_video_decoder_create_cpu(avf_pool *pool, const avf_video_decoder_options *opts,
                                        avf_video_decoder **out);

/* Whether NVDEC can be used on `dev`: AVF_OK, or AVF_ERR_UNSUPPORTED /
 * AVF_ERR_NOT_FOUND with the reason as the message. */
avf_status avf_nvdec_available(avf_device *dev);

/* Feed one compressed packet (or any slice of an Annex-B byte stream, for
 * NVDEC) with its pts; size 0 (data NULL) ends the stream and flushes every
 * frame still held. Frames come out in display order through receive, so
 * receive after each send. The packet is always consumed: when a frame is
 * decoded while max_queued frames are already waiting, that frame is
 * dropped, counted, and send returns AVF_ERR_FULL. A damaged picture is
 * skipped when the decoder can go on (as players do); a stream the decoder
 * cannot take (codec, size, bit depth, chroma format) is a status. */
avf_status avf_video_decoder_send(avf_video_decoder *d, const uint8_t *data, size_t size,
                                  int64_t pts);
/* Take the next frame: *got = 1 and *frame filled (caller releases it), or
 * *got = 0 when none is ready. */
avf_status avf_video_decoder_receive(avf_video_decoder *d, avf_video_frame *frame, int *got);
/* Frames delivered so far, and frames dropped because the queue was full. */
void avf_video_decoder_counts(const avf_video_decoder *d, int64_t *delivered, int64_t *dropped);
/* Frees held frames and the session. NULL ignored. */
void avf_video_decoder_free(avf_video_decoder *d);

/* ---------------------------------------------------------------- encode */

/* H.264 encoding on the host through libavcodec's libx264 (libavflow_media):
 * NV12 host frames in (the decoders' layout), an Annex-B elementary stream
 * out (start codes, parameter sets in band), which avf_demux reads back.
 * NVENC is not used: the GPUs avflow targets (H100/H200) have none, see
 * avf_nvenc_available. */
typedef struct avf_video_encode_options {
    int width, height;    /* even, 16..AVF_VIDEO_MAX_DIM */
    int fps_num, fps_den; /* frame rate; pts count frames (time base den/num) */
    int crf;              /* x264 constant rate factor 1..51; 0: 23 */
    int gop;              /* key frame at least every gop frames; 0: 2 s */
    int bframes;          /* 0..16 B-frames; -1: none, 0: x264's default */
    const char *preset;   /* x264 preset ("ultrafast".."placebo"); NULL: "veryfast" */
} avf_video_encode_options;

typedef struct avf_video_encoder avf_video_encoder;

avf_status avf_video_encoder_create(const avf_video_encode_options *opts, avf_video_encoder **out);
/* Encode one frame: NV12, host (CPU) tensors, the encoder's size; pts in
 * frames (AVF_VIDEO_NO_PTS: one more than the last). The frame may be
 * released once this returns. */
avf_status avf_video_encoder_push(avf_video_encoder *e, const avf_video_frame *f);
/* Flush the frames the encoder holds back (lookahead, B-frames); push fails
 * afterwards with AVF_ERR_CLOSED. */
avf_status avf_video_encoder_finish(avf_video_encoder *e);
/* Move the bytes produced since the last take into a malloc'ed buffer
 * (*bytes NULL and *size 0 when there are none); the caller frees it. */
avf_status avf_video_encoder_take(avf_video_encoder *e, uint8_t **bytes, size_t *size);
void avf_video_encoder_free(avf_video_encoder *e);

/* Whether an NVENC encoder can be opened on `dev` (the loader and a
 * session through libnvidia-encode.so.1): AVF_OK or AVF_ERR_UNSUPPORTED
 * with the reason. H100/H200 have no NVENC engine. */
avf_status avf_nvenc_available(avf_device *dev);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_VIDEO_H */
