/* Video throughput: K concurrent decode sessions of one 1080p H.264
 * elementary stream -> NV12 frames -> the fused batched preprocess
 * (avf_op_preprocess: colour, resize/letterbox, normalize into one NCHW
 * batch per launch) -> batches left on the device, as a detector's input.
 *
 * Per K (medians over --repeats): frames/s over all sessions, host CPU
 * cores used (getrusage user+sys over wall, the whole process: decoder
 * threads, the NVDEC parser callbacks, the driver), the transfer ledger's
 * H2D and D2H bytes against the bitstream bytes fed, GPU time of the
 * preprocess launches (CUDA events) and frames the decoders dropped.
 * Strict GPU mode is on during the timed runs: a frame copied back to the
 * host would fail the run.
 *
 * Decoders: NVDEC (libavflow only, so this runs on the GPU machine without
 * FFmpeg) or, in bench_video_cpu (built with libavflow_media), libavcodec on
 * the host; --device cpu with the CPU decoder runs everything on the host
 * (the CI/CPU check of this program, and the libavcodec peer with
 * --no-preprocess).
 *
 *   bench_video --clip bench.h264 [--device cuda:0] [--decoder nvdec|cpu]
 *       [--sessions 1,2,4,8,12] [--repeats 3] [--passes 1] [--batch 16]
 *       [--size 640] [--fit letterbox|stretch] [--dtype f16|f32]
 *       [--no-preprocess] [--json out.json] [--dump-frames nv12.raw]
 *       [--sched auto|blocking|yield|spin]
 *
 * The preprocess GPU time per frame comes from events around each launch on
 * the session's stream: at K = 1 it is the kernel's time; with several
 * sessions it is a span that includes other sessions' work interleaved on
 * the GPU, so read it at K = 1.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "avflow.h"
#include "avflow/ledger.h"
#include "avflow/video.h"
#include "core/error.h"
#include "core/half.h"
#include "ops/image.h"
#ifdef AVF_BENCH_CUDART
#include <cuda_runtime_api.h>
#endif

#define MAX_K 64
#define MAX_BATCH 16 /* items passed by value: no descriptor upload */
#define MAX_EVENTS 128
#define CHUNK (32u << 10)

typedef struct cfg {
    const char *clip, *device, *decoder, *json;
    int ks[16], nk;
    int repeats, passes, batch, size, letterbox, preprocess;
    avf_dtype dtype;
} cfg;

typedef struct sess {
    const cfg *c;
    avf_device *dev;
    avf_pool *pool, *frame_pool;
    const uint8_t *es;
    size_t es_n;
    pthread_barrier_t *start;
    /* set up before the barrier */
    avf_stream *st;
    avf_video_decoder *d;
    avf_op_ctx ctx;
    avf_tensor batch;
    avf_event *ev[MAX_EVENTS][2];
    int nev;
    /* results */
    avf_status status;
    char msg[400];
    int64_t frames, batches, dropped;
    double pre_ms;
} sess;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + 1e-6 * (double)r.ru_utime.tv_usec +
           (double)r.ru_stime.tv_sec + 1e-6 * (double)r.ru_stime.tv_usec;
}

static void fail(sess *s, avf_status st) {
    if (s->status == AVF_OK) {
        s->status = st;
        snprintf(s->msg, sizeof s->msg, "%s", avf_last_error());
    }
}

static int is_cpu_decoder(const cfg *c) {
    return strcmp(c->decoder, "cpu") == 0;
}

#ifdef AVF_BENCH_WITH_MEDIA
static avf_status make_decoder(sess *s, const avf_video_decoder_options *o) {
    if (is_cpu_decoder(s->c))
        return avf_video_decoder_create_cpu(s->frame_pool, o, &s->d);
    return avf_video_decoder_create_nvdec(s->dev, s->frame_pool, s->st, o, &s->d);
}
#else
static avf_status make_decoder(sess *s, const avf_video_decoder_options *o) {
    if (is_cpu_decoder(s->c))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "this bench_video has no CPU decoder: use bench_video_cpu");
    return avf_video_decoder_create_nvdec(s->dev, s->frame_pool, s->st, o, &s->d);
}
#endif

static void fill_params(const cfg *c, avf_preprocess_params *p) {
    memset(p, 0, sizeof *p);
    p->colour = (avf_yuv_colour){AVF_YUV_BT709, AVF_YUV_LIMITED, AVF_RGB};
    p->mode = AVF_RESIZE_BILINEAR;
    p->fit = c->letterbox ? AVF_FIT_LETTERBOX : AVF_FIT_STRETCH;
    p->pad[0] = p->pad[1] = p->pad[2] = 114;
    p->norm = (avf_image_norm_params){AVF_IMAGE_NCHW, 1.0f / 255.0f, 0, {0}, {0}};
}

/* Frames waiting for a batch: the decoder's, or (CPU decode onto a GPU) the
 * uploaded copy. */
typedef struct held {
    avf_video_frame f;
    avf_tensor up_y, up_uv; /* uploads when the frame came from the host */
} held;

static void release_held(sess *s, held *h, int n) {
    for (int i = 0; i < n; i++) {
        /* a host frame from the CPU decoder goes back on its own stream */
        avf_video_frame_release(&h[i].f, h[i].up_y.data ? NULL : s->st);
        if (h[i].up_y.data) {
            avf_tensor_release(&h[i].up_y, s->st);
            avf_tensor_release(&h[i].up_uv, s->st);
        }
        memset(&h[i], 0, sizeof h[i]);
    }
}

static avf_status run_batch(sess *s, held *h, int n) {
    if (!s->c->preprocess || n == 0)
        return AVF_OK;
    avf_preprocess_params p;
    fill_params(s->c, &p);
    avf_preprocess_item it[MAX_BATCH];
    for (int i = 0; i < n; i++) {
        const avf_tensor *y = h[i].up_y.data ? &h[i].up_y : &h[i].f.y;
        const avf_tensor *uv = h[i].up_y.data ? &h[i].up_uv : &h[i].f.uv;
        it[i] = (avf_preprocess_item){
            .frame = {AVF_YUV_NV12, h[i].f.width, h[i].f.height, y->data, uv->data,
                      h[i].f.width, h[i].f.width, s->dev},
            .roi = {0, 0, 0, 0},
            .slot = i};
    }
    int e = s->nev % MAX_EVENTS;
    int timed = s->ev[e][0] != NULL;
    if (timed && s->nev >= MAX_EVENTS) { /* reusing a pair: bank its time first */
        float ms = 0;
        AVF_TRY(avf_event_synchronize(s->ev[e][1]));
        AVF_TRY(avf_event_elapsed_ms(s->ev[e][0], s->ev[e][1], &ms));
        s->pre_ms += ms;
    }
    if (timed)
        AVF_TRY(avf_event_record(s->ev[e][0], s->st));
    AVF_TRY(avf_op_preprocess(&s->ctx, &p, it, n, &s->batch, NULL));
    if (timed)
        AVF_TRY(avf_event_record(s->ev[e][1], s->st));
    s->nev++;
    s->batches++;
    return AVF_OK;
}

/* CPU-decoded frame onto a GPU: the fallback path, which uploads every
 * decoded frame (the ledger shows it). */
static avf_status upload(sess *s, held *h) {
    if (h->f.y.device == s->dev)
        return AVF_OK;
    AVF_TRY(avf_tensor_alloc(&h->up_y, s->pool, AVF_DTYPE_U8, h->f.y.ndim, h->f.y.shape, s->st));
    AVF_TRY(avf_tensor_alloc(&h->up_uv, s->pool, AVF_DTYPE_U8, h->f.uv.ndim, h->f.uv.shape, s->st));
    AVF_TRY(avf_memcpy_async(s->dev, h->up_y.data, h->f.y.data, avf_tensor_nbytes(&h->f.y),
                             AVF_COPY_H2D, s->st, "video.cpu.upload"));
    AVF_TRY(avf_memcpy_async(s->dev, h->up_uv.data, h->f.uv.data, avf_tensor_nbytes(&h->f.uv),
                             AVF_COPY_H2D, s->st, "video.cpu.upload"));
    /* the host frame may go back to its pool only after the copy read it */
    return avf_stream_synchronize(s->st);
}

static avf_status drain(sess *s, held *h, int *nh) {
    for (;;) {
        avf_video_frame f;
        int got = 0;
        AVF_TRY(avf_video_decoder_receive(s->d, &f, &got));
        if (!got)
            return AVF_OK;
        s->frames++;
        h[*nh].f = f;
        avf_status st = upload(s, &h[*nh]);
        (*nh)++;
        if (st != AVF_OK)
            return st;
        if (*nh == s->c->batch || !s->c->preprocess) {
            st = run_batch(s, h, *nh);
            release_held(s, h, *nh);
            *nh = 0;
            AVF_TRY(st);
        }
    }
}

#ifdef AVF_BENCH_WITH_MEDIA
/* libavcodec wants whole access units: the demuxer splits the elementary
 * stream into packets (NVDEC's parser takes any slice instead). */
static avf_status feed_packets(sess *s, held *h, int *nh) {
    avf_demux *dm;
    AVF_TRY(avf_demux_open_memory(s->es, s->es_n, NULL, &dm));
    avf_status st = AVF_OK;
    for (;;) {
        avf_video_packet p;
        int eof = 0;
        st = avf_demux_read(dm, &p, &eof);
        if (st != AVF_OK || eof)
            break;
        st = avf_video_decoder_send(s->d, p.data, p.size, p.pts);
        if (st == AVF_ERR_FULL)
            st = AVF_OK; /* counted as dropped */
        if (st == AVF_OK)
            st = drain(s, h, nh);
        if (st != AVF_OK)
            break;
    }
    avf_demux_close(dm);
    return st;
}
#else
static avf_status feed_packets(sess *s, held *h, int *nh) {
    (void)s, (void)h, (void)nh;
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "no demuxer in this build");
}
#endif

static void *session_main(void *arg) {
    sess *s = arg;
    held h[MAX_BATCH];
    memset(h, 0, sizeof h);
    int nh = 0;
    pthread_barrier_wait(s->start);
    if (s->status != AVF_OK)
        return NULL;
    avf_status st = AVF_OK;
    for (int pass = 0; pass < s->c->passes && st == AVF_OK; pass++)
        if (is_cpu_decoder(s->c))
            st = feed_packets(s, h, &nh);
        else for (size_t off = 0; off < s->es_n && st == AVF_OK; off += CHUNK) {
            size_t n = s->es_n - off < CHUNK ? s->es_n - off : CHUNK;
            st = avf_video_decoder_send(s->d, s->es + off, n, (int64_t)off);
            if (st == AVF_ERR_FULL)
                st = AVF_OK; /* counted as dropped */
            if (st == AVF_OK)
                st = drain(s, h, &nh);
        }
    if (st == AVF_OK) {
        st = avf_video_decoder_send(s->d, NULL, 0, 0);
        if (st == AVF_ERR_FULL)
            st = AVF_OK;
    }
    if (st == AVF_OK)
        st = drain(s, h, &nh);
    if (st == AVF_OK)
        st = run_batch(s, h, nh);
    release_held(s, h, nh);
    if (st == AVF_OK)
        st = avf_stream_synchronize(s->st);
    if (st != AVF_OK)
        fail(s, st);
    return NULL;
}

static avf_status sess_setup(sess *s) {
    AVF_TRY(avf_stream_create(s->dev, &s->st));
    avf_video_decoder_options o = {.codec = AVF_VIDEO_CODEC_H264, .max_queued = 64};
    AVF_TRY(make_decoder(s, &o));
    AVF_TRY(avf_op_ctx_init(&s->ctx, s->dev, s->st, s->pool));
    int64_t side = s->c->size;
    int64_t dims[4] = {s->c->batch, 3, side, side};
    AVF_TRY(avf_tensor_alloc(&s->batch, s->pool, s->c->dtype, 4, dims, s->st));
    if (avf_device_get_kind(s->dev) != AVF_DEVICE_CPU)
        for (int i = 0; i < MAX_EVENTS; i++)
            for (int j = 0; j < 2; j++)
                AVF_TRY(avf_event_create(s->dev, 1, &s->ev[i][j]));
    return AVF_OK;
}

static void sess_teardown(sess *s) {
    if (s->nev > 0 && s->ev[0][0]) {
        int n = s->nev < MAX_EVENTS ? s->nev : MAX_EVENTS;
        for (int i = 0; i < n; i++) {
            float ms = 0;
            if (avf_event_elapsed_ms(s->ev[i][0], s->ev[i][1], &ms) == AVF_OK)
                s->pre_ms += ms;
        }
    }
    for (int i = 0; i < MAX_EVENTS; i++)
        for (int j = 0; j < 2; j++)
            avf_event_free(s->ev[i][j]);
    if (s->d) {
        int64_t delivered = 0;
        avf_video_decoder_counts(s->d, &delivered, &s->dropped);
    }
    avf_video_decoder_free(s->d);
    avf_tensor_release(&s->batch, s->st);
    if (s->st) {
        avf_stream_synchronize(s->st);
        avf_op_ctx_release(&s->ctx);
        avf_pool_release_stream(s->pool, s->st);
        if (s->frame_pool != s->pool)
            avf_pool_release_stream(s->frame_pool, s->st);
        avf_stream_free(s->st);
    }
}

typedef struct result {
    int k;
    int64_t frames, dropped, batches;
    double wall, fps, cores, pre_ms_per_frame;
    uint64_t h2d, d2h, bitstream;
    avf_status status;
    char msg[400];
} result;

static uint64_t totals(avf_copy_kind k) {
    uint64_t b = 0;
    avf_ledger_totals(avf_ledger_global(), k, &b, NULL);
    return b;
}

/* Bytes one tag moved in direction k (0 when the tag is new). */
static uint64_t tag_bytes(const char *tag, avf_copy_kind k) {
    avf_ledger_entry e;
    return avf_ledger_get(avf_ledger_global(), tag, &e) == AVF_OK ? e.bytes[k] : 0;
}

/* Check one slot of a batch left on the device: the letterbox pad rows hold
 * 114/255 and the picture is not flat. Downloads under "bench.verify",
 * outside the timed region and outside the frame namespaces. */
static void verify(const cfg *c, sess *s) {
    if (!c->preprocess || s->batches == 0)
        return;
    size_t plane = (size_t)c->size * (size_t)c->size;
    size_t es = c->dtype == AVF_DTYPE_F16 ? 2 : 4;
    uint8_t *host = malloc(plane * es);
    if (!host)
        return;
    if (avf_memcpy_async(s->dev, host, s->batch.data, plane * es, AVF_COPY_D2H, s->st,
                         "bench.verify") != AVF_OK ||
        avf_stream_synchronize(s->st) != AVF_OK) {
        printf("verify: download failed: %s\n", avf_last_error());
        free(host);
        return;
    }
    double sum = 0, sq = 0;
    for (size_t i = 0; i < plane; i++) {
        float v = es == 2 ? avf_f16_to_f32(((uint16_t *)host)[i]) : ((float *)host)[i];
        sum += v;
        sq += (double)v * v;
    }
    double mean = sum / (double)plane, sd = sqrt(fmax(0.0, sq / (double)plane - mean * mean));
    float top = es == 2 ? avf_f16_to_f32(((uint16_t *)host)[0]) : ((float *)host)[0];
    printf("verify: slot 0 channel R: mean %.4f sd %.4f, top-left %.4f (letterbox pad %.4f)\n",
           mean, sd, top, c->letterbox ? 114.0 / 255.0 : NAN);
    free(host);
}

static void run_once(const cfg *c, avf_device *dev, avf_pool *pool, avf_pool *frame_pool,
                     const uint8_t *es, size_t es_n, int k, int do_verify, result *r) {
    memset(r, 0, sizeof *r);
    r->k = k;
    sess *ss = calloc((size_t)k, sizeof *ss);
    pthread_t *th = calloc((size_t)k, sizeof *th);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)k + 1);
    for (int i = 0; i < k; i++) {
        ss[i] = (sess){.c = c, .dev = dev, .pool = pool, .frame_pool = frame_pool, .es = es,
                       .es_n = es_n, .start = &bar};
        avf_status st = sess_setup(&ss[i]);
        if (st != AVF_OK)
            fail(&ss[i], st);
        pthread_create(&th[i], NULL, session_main, &ss[i]);
    }
    avf_ledger_set_strict(avf_ledger_global(), 1);
    uint64_t h0 = totals(AVF_COPY_H2D), d0 = totals(AVF_COPY_D2H);
    uint64_t b0 = tag_bytes("video.nvdec.bitstream", AVF_COPY_H2D);
    double c0 = cpu_s(), t0 = now_s();
    pthread_barrier_wait(&bar);
    for (int i = 0; i < k; i++)
        pthread_join(th[i], NULL);
    double t1 = now_s(), c1 = cpu_s();
    uint64_t h1 = totals(AVF_COPY_H2D), d1 = totals(AVF_COPY_D2H);
    uint64_t b1 = tag_bytes("video.nvdec.bitstream", AVF_COPY_H2D);
    avf_ledger_set_strict(avf_ledger_global(), 0);
    r->wall = t1 - t0;
    r->cores = (c1 - c0) / r->wall;
    r->h2d = h1 - h0;
    r->d2h = d1 - d0;
    r->bitstream = (uint64_t)es_n * (uint64_t)c->passes * (uint64_t)k;
    if (!is_cpu_decoder(c) && b1 - b0 != r->bitstream)
        printf("note: the ledger's bitstream tag counted %llu bytes, fed %llu\n",
               (unsigned long long)(b1 - b0), (unsigned long long)r->bitstream);
    double pre = 0;
    for (int i = 0; i < k; i++) {
        if (ss[i].status != AVF_OK && r->status == AVF_OK) {
            r->status = ss[i].status;
            snprintf(r->msg, sizeof r->msg, "session %d: %s", i, ss[i].msg);
        }
        if (do_verify && i == 0 && ss[i].status == AVF_OK)
            verify(c, &ss[i]);
        sess_teardown(&ss[i]);
        r->frames += ss[i].frames;
        r->dropped += ss[i].dropped;
        r->batches += ss[i].batches;
        pre += ss[i].pre_ms;
    }
    r->fps = (double)r->frames / r->wall;
    r->pre_ms_per_frame = r->frames ? pre / (double)r->frames : 0;
    pthread_barrier_destroy(&bar);
    free(ss);
    free(th);
}

/* The first n decoded frames (NVDEC), downloaded to `path` as packed NV12
 * [y | uv] frames: the input of the PyTorch peer (bench/media/peers_video.py),
 * which uploads them once. Outside the timed runs, strict mode off, under a
 * tag outside the frame namespaces. */
static int dump_frames(avf_device *dev, avf_pool *pool, const uint8_t *es, size_t es_n,
                       const char *path, int n) {
    avf_video_decoder *d = NULL;
    avf_video_decoder_options o = {.codec = AVF_VIDEO_CODEC_H264, .max_queued = 64};
    if (avf_video_decoder_create_nvdec(dev, pool, NULL, &o, &d) != AVF_OK) {
        fprintf(stderr, "dump: %s\n", avf_last_error());
        return 1;
    }
    FILE *f = fopen(path, "wb");
    int got_n = 0, w = 0, h = 0;
    uint8_t *host = NULL;
    for (size_t off = 0; f && off <= es_n && got_n < n; off += CHUNK) {
        size_t len = off < es_n ? (es_n - off < CHUNK ? es_n - off : CHUNK) : 0;
        avf_status st = avf_video_decoder_send(d, len ? es + off : NULL, len, (int64_t)off);
        if (st != AVF_OK && st != AVF_ERR_FULL)
            break;
        for (;;) {
            avf_video_frame fr;
            int got = 0;
            if (avf_video_decoder_receive(d, &fr, &got) != AVF_OK || !got)
                break;
            size_t yb = avf_tensor_nbytes(&fr.y), ub = avf_tensor_nbytes(&fr.uv);
            if (!host)
                host = malloc(yb + ub);
            w = fr.width, h = fr.height;
            if (got_n < n && host &&
                avf_memcpy_async(dev, host, fr.y.data, yb, AVF_COPY_D2H, NULL, "bench.dump") == AVF_OK &&
                avf_memcpy_async(dev, host + yb, fr.uv.data, ub, AVF_COPY_D2H, NULL, "bench.dump") ==
                    AVF_OK &&
                avf_device_synchronize(dev) == AVF_OK && fwrite(host, 1, yb + ub, f) == yb + ub)
                got_n++;
            avf_video_frame_release(&fr, NULL);
        }
        if (len == 0)
            break;
    }
    avf_video_decoder_free(d);
    free(host);
    if (f)
        fclose(f);
    printf("dump: %d frames %dx%d NV12 to %s\n", got_n, w, h, path);
    return got_n == n ? 0 : 1;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > MAX_K)
            return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = sz > 0 && sz < (1L << 30) ? malloc((size_t)sz) : NULL;
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = b ? (size_t)sz : 0;
    return b;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_video --clip ES.h264 [--device cuda:0] [--decoder nvdec|cpu]\n"
                    "  [--sessions 1,2,4,8,12] [--repeats 3] [--passes 1] [--batch 16]\n"
                    "  [--size 640] [--fit letterbox|stretch] [--dtype f16|f32]\n"
                    "  [--no-preprocess] [--json out.json] [--dump-frames nv12.raw]\n"
                    "  [--sched auto|blocking|yield|spin]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *dump = NULL, *sched = "auto";
    cfg c = {.device = "cuda:0", .decoder = "nvdec", .repeats = 3, .passes = 1, .batch = 16,
             .size = 640, .letterbox = 1, .preprocess = 1, .dtype = AVF_DTYPE_F16};
    c.nk = parse_list("1,2,4,8,12", c.ks, 16);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-preprocess")) {
            c.preprocess = 0;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--clip"))
            c.clip = v;
        else if (!strcmp(a, "--device"))
            c.device = v;
        else if (!strcmp(a, "--decoder"))
            c.decoder = v;
        else if (!strcmp(a, "--json"))
            c.json = v;
        else if (!strcmp(a, "--dump-frames"))
            dump = v;
        else if (!strcmp(a, "--sched"))
            sched = v;
        else if (!strcmp(a, "--sessions")) {
            if ((c.nk = parse_list(v, c.ks, 16)) <= 0)
                return usage();
        } else if (!strcmp(a, "--repeats"))
            c.repeats = atoi(v);
        else if (!strcmp(a, "--passes"))
            c.passes = atoi(v);
        else if (!strcmp(a, "--batch"))
            c.batch = atoi(v);
        else if (!strcmp(a, "--size"))
            c.size = atoi(v);
        else if (!strcmp(a, "--fit"))
            c.letterbox = strcmp(v, "stretch") != 0;
        else if (!strcmp(a, "--dtype"))
            c.dtype = strcmp(v, "f32") == 0 ? AVF_DTYPE_F32 : AVF_DTYPE_F16;
        else
            return usage();
    }
    if (!c.clip || c.repeats < 1 || c.repeats > 99 || c.passes < 1 || c.passes > 1000 ||
        c.batch < 1 || c.batch > MAX_BATCH || c.size < 16 || c.size > 4096 ||
        (strcmp(c.decoder, "nvdec") && strcmp(c.decoder, "cpu")))
        return usage();
    /* How host threads wait for the GPU (the NVDEC callback synchronizes
     * its stream once per frame): CUDA's default "auto" spins while there
     * are fewer active contexts than cores; "blocking" sleeps on an
     * interrupt, trading latency for host CPU. Set before any CUDA work. */
    if (strcmp(sched, "auto") != 0) {
#ifdef AVF_BENCH_CUDART
        unsigned fl = !strcmp(sched, "blocking") ? cudaDeviceScheduleBlockingSync
                      : !strcmp(sched, "yield")  ? cudaDeviceScheduleYield
                      : !strcmp(sched, "spin")   ? cudaDeviceScheduleSpin
                                                 : cudaDeviceScheduleAuto;
        cudaError_t e = cudaSetDeviceFlags(fl);
        if (e != cudaSuccess) {
            fprintf(stderr, "bench_video: cudaSetDeviceFlags(%s): %s\n", sched, cudaGetErrorString(e));
            return 1;
        }
#else
        fprintf(stderr, "bench_video: --sched needs a CUDA build\n");
        return 2;
#endif
    }
    size_t es_n;
    uint8_t *es = read_file(c.clip, &es_n);
    if (!es) {
        int missing = errno == ENOENT;
        fprintf(stderr, "bench_video: cannot read %s: %s\n", c.clip, strerror(errno));
        return missing ? 77 : 1; /* no clip: skipped (ctest SKIP_RETURN_CODE) */
    }
    avf_device *dev, *cpu;
    avf_pool *pool, *frame_pool;
    if (avf_device_parse(c.device, &dev) != AVF_OK) {
        fprintf(stderr, "bench_video: %s\n", avf_last_error());
        return 77; /* no such device here: skipped, not failed */
    }
    if (avf_device_get(AVF_DEVICE_CPU, 0, &cpu) != AVF_OK ||
        avf_pool_create(dev, NULL, &pool) != AVF_OK) {
        fprintf(stderr, "bench_video: %s\n", avf_last_error());
        return 1;
    }
    frame_pool = pool;
    if (is_cpu_decoder(&c) && avf_device_get_kind(dev) != AVF_DEVICE_CPU &&
        avf_pool_create(cpu, NULL, &frame_pool) != AVF_OK) {
        fprintf(stderr, "bench_video: %s\n", avf_last_error());
        return 1;
    }
    if (!is_cpu_decoder(&c) && avf_nvdec_available(dev) != AVF_OK) {
        fprintf(stderr, "bench_video: NVDEC unavailable on %s: %s\n", c.device, avf_last_error());
        avf_pool_free_all(pool);
        free(es);
        return 77;
    }
    printf("bench_video: %s (%zu bytes), device %s, decoder %s, sched %s, batch %d, %s %dx%d %s%s, "
           "%d pass(es) per session, %d repeats, %ld host cores\n",
           c.clip, es_n, c.device, c.decoder, sched, c.batch, c.letterbox ? "letterbox" : "stretch", c.size,
           c.size, c.dtype == AVF_DTYPE_F16 ? "f16" : "f32", c.preprocess ? "" : " (no preprocess)",
           c.passes, c.repeats, sysconf(_SC_NPROCESSORS_ONLN));
    result warm;
    run_once(&c, dev, pool, frame_pool, es, es_n, 1, 1, &warm); /* warm-up + output check */
    if (warm.status != AVF_OK) {
        fprintf(stderr, "bench_video: warm-up failed: %s: %s\n", avf_status_name(warm.status),
                warm.msg);
        return 1;
    }
    printf("warm-up: %lld frames in %.3f s\n", (long long)warm.frames, warm.wall);
    if (dump && !is_cpu_decoder(&c) && dump_frames(dev, pool, es, es_n, dump, 16) != 0)
        fprintf(stderr, "bench_video: --dump-frames failed\n");
    printf("%3s %8s %10s %7s %12s %12s %7s %10s %11s %8s\n", "K", "frames", "fps", "cores",
           "H2D_bytes", "bitstream", "H2D/bs", "D2H_bytes", "pre_us/frm", "dropped");
    FILE *js = c.json ? fopen(c.json, "w") : NULL;
    if (js)
        fprintf(js, "{\"clip\": \"%s\", \"clip_bytes\": %zu, \"device\": \"%s\", \"decoder\": \"%s\", "
                    "\"sched\": \"%s\", "
                    "\"batch\": %d, \"size\": %d, \"fit\": \"%s\", \"dtype\": \"%s\", "
                    "\"preprocess\": %d, \"passes\": %d, \"repeats\": %d, \"runs\": [",
                c.clip, es_n, c.device, c.decoder, sched, c.batch, c.size,
                c.letterbox ? "letterbox" : "stretch", c.dtype == AVF_DTYPE_F16 ? "f16" : "f32",
                c.preprocess, c.passes, c.repeats);
    int rc = 0;
    for (int ki = 0; ki < c.nk; ki++) {
        double fps[99], cores[99], pre[99];
        result r = {0};
        for (int rep = 0; rep < c.repeats; rep++) {
            run_once(&c, dev, pool, frame_pool, es, es_n, c.ks[ki], 0, &r);
            if (r.status != AVF_OK)
                break;
            fps[rep] = r.fps;
            cores[rep] = r.cores;
            pre[rep] = r.pre_ms_per_frame;
        }
        if (r.status != AVF_OK) {
            printf("%3d FAILED: %s: %s\n", c.ks[ki], avf_status_name(r.status), r.msg);
            rc = 1;
            continue;
        }
        double mf = median(fps, c.repeats), mc = median(cores, c.repeats),
               mp = median(pre, c.repeats);
        printf("%3d %8lld %10.1f %7.3f %12llu %12llu %7.3f %10llu %11.2f %8lld\n", c.ks[ki],
               (long long)r.frames, mf, mc, (unsigned long long)r.h2d,
               (unsigned long long)r.bitstream, (double)r.h2d / (double)r.bitstream,
               (unsigned long long)r.d2h, 1000.0 * mp, (long long)r.dropped);
        if (r.frames == 0 || r.dropped > 0) {
            printf("%3d FAILED: %lld frames decoded, %lld dropped by a full queue\n", c.ks[ki],
                   (long long)r.frames, (long long)r.dropped);
            rc = 1;
        }
        if (js)
            fprintf(js, "%s{\"k\": %d, \"frames\": %lld, \"fps_median\": %.2f, "
                        "\"host_cores_median\": %.4f, \"h2d_bytes\": %llu, \"bitstream_bytes\": %llu, "
                        "\"d2h_bytes\": %llu, \"preprocess_gpu_us_per_frame\": %.3f, "
                        "\"dropped\": %lld}",
                    ki ? ", " : "", c.ks[ki], (long long)r.frames, mf, mc,
                    (unsigned long long)r.h2d, (unsigned long long)r.bitstream,
                    (unsigned long long)r.d2h, 1000.0 * mp, (long long)r.dropped);
        fflush(stdout);
    }
    if (js) {
        fprintf(js, "]}\n");
        fclose(js);
    }
    avf_pool_free_all(pool);
    if (frame_pool != pool)
        avf_pool_free_all(frame_pool);
    free(es);
    return rc;
}
