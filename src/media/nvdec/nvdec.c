/* NVDEC sessions: the CUVID parser takes the bitstream (Annex-B H.264/HEVC,
 * VP9 frames, AV1 OBUs) and calls back, on the caller's thread, with the
 * sequence format (create the hardware decoder), pictures to decode (in
 * decode order) and pictures to display (in display order). On display the
 * picture is mapped, its planes copied into a frame from the caller's pool,
 * and unmapped at once, so the decoder's few output surfaces never wait on
 * the consumer and a slow consumer costs pool memory, not decoder stalls. */
#include <stdlib.h>
#include <string.h>

#include "avflow/ledger.h"
#include "core/error.h"
#include "media/nvdec/nvdec_impl.h"
#include "media/nvdec/vdec.h"

#ifdef AVF_HAVE_FFNVCODEC

typedef struct nvdec {
    const avf_nv_libs *l;
    CUdevice cudev;
    CUcontext ctx;
    int ctx_held;
    CUvideoctxlock lock;
    CUvideoparser parser;
    CUvideodecoder dec;
    CUstream stream;
    avf_video_decoder *owner;
    /* the sequence the decoder was created for */
    unsigned coded_w, coded_h, target_w, target_h;
    int disp_w, disp_h, bit_depth;
    int ended;
    avf_status err; /* first failure inside a callback (message already set) */
} nvdec;

static cudaVideoCodec cuvid_codec(avf_video_codec c) {
    switch (c) {
    case AVF_VIDEO_CODEC_H264: return cudaVideoCodec_H264;
    case AVF_VIDEO_CODEC_HEVC: return cudaVideoCodec_HEVC;
    case AVF_VIDEO_CODEC_VP9: return cudaVideoCodec_VP9;
    case AVF_VIDEO_CODEC_AV1: return cudaVideoCodec_AV1;
    default: return cudaVideoCodec_NumCodecs;
    }
}

/* Remember the first error from a callback; the parser is told to stop. */
static int cb_fail(nvdec *n, avf_status s) {
    if (n->err == AVF_OK)
        n->err = s;
    return 0;
}

static avf_status check_caps(nvdec *n, cudaVideoCodec codec, cudaVideoChromaFormat chroma,
                             int depth_minus8, unsigned w, unsigned h) {
    if (!n->l->cv->cuvidGetDecoderCaps)
        return AVF_OK; /* an old driver without the query: cuvidCreateDecoder will tell */
    CUVIDDECODECAPS caps;
    memset(&caps, 0, sizeof caps);
    caps.eCodecType = codec;
    caps.eChromaFormat = chroma;
    caps.nBitDepthMinus8 = (unsigned)depth_minus8;
    AVF_NV_TRY(n->l->cu, n->l->cv->cuvidGetDecoderCaps(&caps));
    const char *name = avf_video_codec_name(n->owner->opts.codec);
    if (!caps.bIsSupported)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: this GPU does not decode %s 4:2:0 at %d bits",
                        name, depth_minus8 + 8);
    if (w && (w > caps.nMaxWidth || h > caps.nMaxHeight || w < caps.nMinWidth || h < caps.nMinHeight))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %ux%u %s is outside what this GPU decodes "
                        "(%ux%u .. %ux%u)", w, h, name, caps.nMinWidth, caps.nMinHeight,
                        caps.nMaxWidth, caps.nMaxHeight);
    return AVF_OK;
}

static avf_status create_decoder(nvdec *n, CUVIDEOFORMAT *f, unsigned surfaces) {
    CUVIDDECODECREATEINFO ci;
    memset(&ci, 0, sizeof ci);
    ci.ulWidth = f->coded_width;
    ci.ulHeight = f->coded_height;
    ci.ulMaxWidth = f->coded_width;
    ci.ulMaxHeight = f->coded_height;
    ci.ulNumDecodeSurfaces = surfaces;
    ci.CodecType = f->codec;
    ci.ChromaFormat = f->chroma_format;
    ci.bitDepthMinus8 = f->bit_depth_luma_minus8;
    ci.OutputFormat = f->bit_depth_luma_minus8 ? cudaVideoSurfaceFormat_P016 : cudaVideoSurfaceFormat_NV12;
    ci.DeinterlaceMode = f->progressive_sequence ? cudaVideoDeinterlaceMode_Weave
                                                 : cudaVideoDeinterlaceMode_Adaptive;
    ci.ulCreationFlags = cudaVideoCreate_PreferCUVID;
    ci.ulNumOutputSurfaces = 2; /* each is unmapped right after its copy */
    ci.vidLock = n->lock;
    ci.display_area.left = (short)f->display_area.left;
    ci.display_area.top = (short)f->display_area.top;
    ci.display_area.right = (short)f->display_area.right;
    ci.display_area.bottom = (short)f->display_area.bottom;
    /* the scaler's output: the displayed area, rounded up to even sides as
     * 4:2:0 requires; frames take the exact displayed size from it */
    ci.ulTargetWidth = (unsigned)(n->disp_w + 1) & ~1u;
    ci.ulTargetHeight = (unsigned)(n->disp_h + 1) & ~1u;
    AVF_NV_TRY(n->l->cu, n->l->cv->cuvidCreateDecoder(&n->dec, &ci));
    n->coded_w = f->coded_width;
    n->coded_h = f->coded_height;
    n->target_w = (unsigned)ci.ulTargetWidth;
    n->target_h = (unsigned)ci.ulTargetHeight;
    n->bit_depth = f->bit_depth_luma_minus8 + 8;
    return AVF_OK;
}

static int CUDAAPI on_sequence(void *u, CUVIDEOFORMAT *f) {
    nvdec *n = u;
    const avf_video_decoder_options *o = &n->owner->opts;
    if (f->chroma_format != cudaVideoChromaFormat_420)
        return cb_fail(n, AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: only 4:2:0 is supported (the "
                                   "stream is chroma format %d)", (int)f->chroma_format));
    if (f->bit_depth_luma_minus8 != 0 && f->bit_depth_luma_minus8 != 2)
        return cb_fail(n, AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %d-bit video (8 and 10 are "
                                   "supported)", f->bit_depth_luma_minus8 + 8));
    if (f->bit_depth_chroma_minus8 != f->bit_depth_luma_minus8)
        return cb_fail(n, AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: luma and chroma bit depths differ"));
    int w = f->display_area.right - f->display_area.left;
    int h = f->display_area.bottom - f->display_area.top;
    if (w <= 0 || h <= 0 || f->display_area.left < 0 || f->display_area.top < 0 ||
        (unsigned)f->display_area.right > f->coded_width ||
        (unsigned)f->display_area.bottom > f->coded_height)
        return cb_fail(n, AVF_FAIL(AVF_ERR_CORRUPT, "nvdec: display area [%d,%d,%d,%d] of a "
                                   "%ux%u picture", f->display_area.left, f->display_area.top,
                                   f->display_area.right, f->display_area.bottom,
                                   f->coded_width, f->coded_height));
    if (w > o->max_width || h > o->max_height || f->coded_width > AVF_VIDEO_MAX_DIM ||
        f->coded_height > AVF_VIDEO_MAX_DIM)
        return cb_fail(n, AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %dx%d frames (at most %dx%d)", w,
                                   h, o->max_width, o->max_height));
    avf_status s = check_caps(n, f->codec, f->chroma_format, f->bit_depth_luma_minus8,
                              f->coded_width, f->coded_height);
    if (s != AVF_OK)
        return cb_fail(n, s);
    /* headroom over the minimum lets decode run ahead of display */
    unsigned extra = o->extra_surfaces ? (unsigned)o->extra_surfaces : 4u;
    unsigned surfaces = (unsigned)f->min_num_decode_surfaces + extra;
    if (surfaces < 1)
        surfaces = 1;
    if (n->dec) {
        if (n->coded_w == f->coded_width && n->coded_h == f->coded_height &&
            n->bit_depth == f->bit_depth_luma_minus8 + 8 && n->disp_w == w && n->disp_h == h)
            return (int)surfaces;
        /* a new sequence format: every displayed picture was already copied
         * out, so the old decoder can go */
        n->l->cv->cuvidDestroyDecoder(n->dec);
        n->dec = NULL;
    }
    n->disp_w = w;
    n->disp_h = h;
    s = create_decoder(n, f, surfaces);
    if (s != AVF_OK)
        return cb_fail(n, s);
    return (int)surfaces; /* > 1: the parser keeps that many pictures in flight */
}

static int CUDAAPI on_decode(void *u, CUVIDPICPARAMS *pic) {
    nvdec *n = u;
    if (!n->dec)
        return cb_fail(n, AVF_FAIL(AVF_ERR_CORRUPT, "nvdec: a picture before any sequence header"));
    CUresult r = n->l->cv->cuvidDecodePicture(n->dec, pic);
    if (r != CUDA_SUCCESS)
        return cb_fail(n, avf_nv_fail(n->l->cu, r, "cuvidDecodePicture", __FILE__, __LINE__));
    return 1;
}

/* Copy a mapped picture's planes into a new frame (on n->stream). */
static avf_status copy_out(nvdec *n, CUdeviceptr src, unsigned pitch, int64_t pts) {
    avf_video_decoder *d = n->owner;
    avf_pixel_format fmt = n->bit_depth > 8 ? AVF_PIXEL_P010 : AVF_PIXEL_NV12;
    size_t px = fmt == AVF_PIXEL_P010 ? 2 : 1;
    avf_video_frame f;
    AVF_TRY(avf_vdec_alloc_frame(d, fmt, n->disp_w, n->disp_h, pts, &f));
    int cw = (n->disp_w + 1) / 2, ch = (n->disp_h + 1) / 2;
    CUDA_MEMCPY2D m;
    memset(&m, 0, sizeof m);
    m.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    m.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    m.srcDevice = src;
    m.srcPitch = pitch;
    m.dstDevice = (CUdeviceptr)f.y.data;
    m.dstPitch = (size_t)n->disp_w * px;
    m.WidthInBytes = (size_t)n->disp_w * px;
    m.Height = (size_t)n->disp_h;
    avf_status s = AVF_OK;
    CUresult r = n->l->cu->cuMemcpy2DAsync(&m, n->stream);
    if (r == CUDA_SUCCESS) {
        /* the chroma plane follows the luma plane's target_h rows */
        m.srcDevice = src + (CUdeviceptr)pitch * n->target_h;
        m.dstDevice = (CUdeviceptr)f.uv.data;
        m.dstPitch = (size_t)cw * 2 * px;
        m.WidthInBytes = (size_t)cw * 2 * px;
        m.Height = (size_t)ch;
        r = n->l->cu->cuMemcpy2DAsync(&m, n->stream);
    }
    if (r != CUDA_SUCCESS)
        s = avf_nv_fail(n->l->cu, r, "cuMemcpy2DAsync", __FILE__, __LINE__);
    if (s != AVF_OK) {
        avf_video_frame_release(&f, d->stream);
        return s;
    }
    avf_ledger_record(avf_ledger_global(), "video.nvdec", AVF_COPY_D2D,
                      avf_tensor_nbytes(&f.y) + avf_tensor_nbytes(&f.uv));
    avf_vdec_push(d, &f);
    return AVF_OK;
}

static int CUDAAPI on_display(void *u, CUVIDPARSERDISPINFO *di) {
    nvdec *n = u;
    if (!di)
        return 1; /* end of stream marker from some parser versions */
    if (!n->dec)
        return cb_fail(n, AVF_FAIL(AVF_ERR_CORRUPT, "nvdec: a picture before any sequence header"));
    CUVIDPROCPARAMS pp;
    memset(&pp, 0, sizeof pp);
    pp.progressive_frame = di->progressive_frame;
    pp.second_field = di->repeat_first_field + 1;
    pp.top_field_first = di->top_field_first;
    pp.unpaired_field = di->repeat_first_field < 0;
    pp.output_stream = n->stream;
    CUdeviceptr src = 0;
    unsigned pitch = 0;
    CUresult r = n->l->cv->cuvidMapVideoFrame(n->dec, di->picture_index, &src, &pitch, &pp);
    if (r != CUDA_SUCCESS)
        return cb_fail(n, avf_nv_fail(n->l->cu, r, "cuvidMapVideoFrame", __FILE__, __LINE__));
    avf_status s = copy_out(n, src, pitch, di->timestamp);
    /* The surface goes back to the decoder only once the copy has read it:
     * unmap is not ordered on our stream, so wait for the stream first. */
    r = n->l->cu->cuStreamSynchronize(n->stream);
    n->l->cv->cuvidUnmapVideoFrame(n->dec, src);
    if (s == AVF_OK && r != CUDA_SUCCESS)
        s = avf_nv_fail(n->l->cu, r, "cuStreamSynchronize", __FILE__, __LINE__);
    return s == AVF_OK ? 1 : cb_fail(n, s);
}

static avf_status nv_send(avf_video_decoder *d, const uint8_t *data, size_t size, int64_t pts) {
    nvdec *n = d->impl;
    if (n->ended)
        return AVF_FAIL(AVF_ERR_CLOSED, "nvdec: the stream was ended");
    if (n->err != AVF_OK)
        return AVF_FAIL(n->err, "nvdec: the session failed earlier and cannot go on");
    CUVIDSOURCEDATAPACKET p;
    memset(&p, 0, sizeof p);
    if (size == 0) {
        p.flags = CUVID_PKT_ENDOFSTREAM;
        n->ended = 1;
    } else {
        p.payload = data;
        p.payload_size = (unsigned long)size;
        if (pts != AVF_VIDEO_NO_PTS) {
            p.flags = CUVID_PKT_TIMESTAMP;
            p.timestamp = pts;
        }
        /* the parser hands these bytes to the engine from the host */
        avf_ledger_record(avf_ledger_global(), "video.nvdec.bitstream", AVF_COPY_H2D, size);
    }
    AVF_NV_TRY(n->l->cu, n->l->cu->cuCtxPushCurrent(n->ctx));
    CUresult r = n->l->cv->cuvidParseVideoData(n->parser, &p);
    CUcontext popped;
    n->l->cu->cuCtxPopCurrent(&popped);
    if (n->err != AVF_OK)
        return n->err; /* the callback's message stands */
    if (r != CUDA_SUCCESS)
        return avf_nv_fail(n->l->cu, r, "cuvidParseVideoData", __FILE__, __LINE__);
    return AVF_OK;
}

static void nv_destroy(avf_video_decoder *d) {
    nvdec *n = d->impl;
    if (!n)
        return;
    if (n->ctx_held) {
        CUcontext popped;
        int pushed = n->l->cu->cuCtxPushCurrent(n->ctx) == CUDA_SUCCESS;
        if (n->parser)
            n->l->cv->cuvidDestroyVideoParser(n->parser);
        if (n->dec)
            n->l->cv->cuvidDestroyDecoder(n->dec);
        if (n->lock)
            n->l->cv->cuvidCtxLockDestroy(n->lock);
        if (pushed)
            n->l->cu->cuCtxPopCurrent(&popped);
        avf_nv_ctx_release(n->cudev);
    }
    free(n);
    d->impl = NULL;
}

static const avf_vdec_ops nv_ops = {"nvdec", nv_send, nv_destroy};

static avf_status nv_init(avf_video_decoder *d, avf_device *dev) {
    nvdec *n = d->impl;
    AVF_TRY(avf_nv_libs_get(&n->l));
    AVF_TRY(avf_nv_ctx_retain(dev, &n->cudev, &n->ctx));
    n->ctx_held = 1;
    CudaFunctions *cu = n->l->cu;
    AVF_NV_TRY(cu, cu->cuCtxPushCurrent(n->ctx));
    avf_status s = check_caps(n, cuvid_codec(d->opts.codec), cudaVideoChromaFormat_420, 0, 0, 0);
    CUresult r = CUDA_SUCCESS;
    if (s == AVF_OK)
        r = n->l->cv->cuvidCtxLockCreate(&n->lock, n->ctx);
    if (s == AVF_OK && r == CUDA_SUCCESS) {
        CUVIDPARSERPARAMS pp;
        memset(&pp, 0, sizeof pp);
        pp.CodecType = cuvid_codec(d->opts.codec);
        pp.ulMaxNumDecodeSurfaces = 1; /* raised by the sequence callback */
        pp.ulMaxDisplayDelay = 2;      /* lets decode run ahead of display a little */
        pp.pUserData = n;
        pp.pfnSequenceCallback = on_sequence;
        pp.pfnDecodePicture = on_decode;
        pp.pfnDisplayPicture = on_display;
        r = n->l->cv->cuvidCreateVideoParser(&n->parser, &pp);
    }
    CUcontext popped;
    cu->cuCtxPopCurrent(&popped);
    AVF_TRY(s);
    if (r != CUDA_SUCCESS)
        return avf_nv_fail(cu, r, n->lock ? "cuvidCreateVideoParser" : "cuvidCtxLockCreate",
                           __FILE__, __LINE__);
    return AVF_OK;
}

avf_status avf_video_decoder_create_nvdec(avf_device *dev, avf_pool *pool, avf_stream *s,
                                          const avf_video_decoder_options *opts,
                                          avf_video_decoder **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(dev != NULL && pool != NULL && opts != NULL);
    if (avf_device_get_kind(dev) != AVF_DEVICE_CUDA)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "nvdec: %s is not a CUDA device",
                        avf_device_get_name(dev));
    if (avf_pool_device(pool) != dev || (s && avf_stream_device(s) != dev))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "nvdec: the pool and stream must be of %s",
                        avf_device_get_name(dev));
    nvdec *n = calloc(1, sizeof *n);
    if (!n)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "nvdec: no memory");
    avf_video_decoder *d = NULL;
    avf_status st = avf_vdec_new(&nv_ops, n, pool, s, opts, &d);
    if (st != AVF_OK) {
        free(n);
        return st;
    }
    n->owner = d;
    n->stream = (CUstream)avf_stream_native(s); /* NULL: the legacy default stream */
    st = nv_init(d, dev);
    if (st != AVF_OK) {
        avf_video_decoder_free(d);
        return st;
    }
    *out = d;
    return AVF_OK;
}

#else /* no ffnvcodec headers at build time */

avf_status avf_video_decoder_create_nvdec(avf_device *dev, avf_pool *pool, avf_stream *s,
                                          const avf_video_decoder_options *opts,
                                          avf_video_decoder **out) {
    (void)pool, (void)s, (void)opts;
    if (out)
        *out = NULL;
    return avf_nvdec_available(dev);
}

#endif
