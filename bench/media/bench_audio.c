/* Audio throughput: an hour (--seconds) of 44.1 kHz stereo 16-bit PCM, the
 * payload of a WAV file, synthesised in process (a swept sine, a steady tone
 * and noise per channel), turned into a log-mel spectrogram on the device:
 *
 *   upload s16 interleaved [T, 2]    (H2D, the WAV's bytes, "audio.upload")
 *   decode  cast i16 -> f32, transpose [1, T, 2] -> [1, 2, T]
 *   mixdown to mono, x 1/32768 folded into the weights
 *   resample 44100 -> 16000 (windowed-sinc polyphase, default quality)
 *   log-mel  n_fft 400, hop 160, 80 mels (Slaney), power_to_db, top_db 80
 *            (librosa's defaults; Whisper's framing)
 *
 * PCM decode is the format conversion a WAV needs; compressed codecs (FLAC,
 * MP3) decode on the host in libavflow_media and are not part of this
 * program, so that it runs on a GPU machine without FFmpeg. Reports per
 * stage GPU time (device events; on the CPU device, wall time of the
 * synchronous stage), the wall time of the whole run (upload included),
 * and x realtime = audio seconds / time. Medians over --repeats. The mel
 * output stays on the device; a few values are downloaded after timing as
 * a sanity check (and --dump writes the whole mel to a .f32 file for
 * comparison with the peer, bench/media/peers_audio.py).
 *
 *   bench_audio [--device cuda:0|cpu] [--seconds 3600] [--repeats 5]
 *               [--dump mel.f32] [--json out.json]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow.h"
#include "avflow/ledger.h"
#include "core/error.h"
#include "ops/audio.h"
#include "ops/data.h"
#include "ops/elementwise.h"
#include "ops/spectral.h"

#define IN_RATE 44100
#define OUT_RATE 16000
#define N_STAGES 5

static const char *stage_name[N_STAGES] = {"upload", "decode", "mixdown", "resample", "logmel"};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The same signal bench/media/peers_audio.py builds, sample for sample: per
 * channel c a sweep 50 Hz -> 8 kHz repeated every minute, a tone at 440
 * (c = 0) or 660 Hz (c = 1) and white noise from an integer hash of the
 * sample index (exact in numpy too), each at full scale / 4. */
static uint32_t hash32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return h;
}

static void synth(int16_t *pcm, int64_t frames) {
    const int64_t minute = 60 * (int64_t)IN_RATE;
    const double f0 = 50, f1 = 8000, T = 60;
    for (int64_t i = 0; i < frames; i++) {
        double t = (double)(i % minute) / IN_RATE;
        double sweep = sin(2 * M_PI * (f0 * t + (f1 - f0) * t * t / (2 * T)));
        for (int c = 0; c < 2; c++) {
            uint32_t h = hash32((uint32_t)(2 * i + c));
            double noise = (double)(h >> 8) / (double)(1 << 23) - 1.0;
            double tone = sin(2 * M_PI * (c ? 660.0 : 440.0) * (double)(i % minute) / IN_RATE);
            double v = 0.25 * (sweep + tone + noise);
            pcm[2 * i + c] = (int16_t)lrint(v * 32767.0);
        }
    }
}

typedef struct pipe {
    avf_device *dev;
    avf_stream *st;
    avf_pool *pool;
    avf_op_ctx ctx;
    int gpu;
    int64_t frames, out_len;
    avf_resample_filter filt;
    avf_tensor bank, fb;
    avf_tensor pcm, f32, planar, mono, res, mel;
    avf_mixdown_params mix;
    avf_logmel_params lp;
    avf_event *ev[N_STAGES + 1];
} pipe;

static avf_status pipe_setup(pipe *p) {
    AVF_TRY(avf_stream_create(p->dev, &p->st));
    AVF_TRY(avf_pool_create(p->dev, NULL, &p->pool));
    AVF_TRY(avf_op_ctx_init(&p->ctx, p->dev, p->st, p->pool));
    avf_resample_params rp = {IN_RATE, OUT_RATE, 0, 0, 0};
    AVF_TRY(avf_resample_filter_make(&rp, &p->filt));
    AVF_TRY(avf_resample_filter_upload(&p->ctx, &p->filt, &p->bank));
    avf_mel_params mp = {OUT_RATE, 400, 80, 0, 0, 0, 1};
    int nf;
    int64_t fs[2];
    AVF_TRY(avf_mel_filterbank_shape(&mp, &nf, fs));
    AVF_TRY(avf_tensor_alloc(&p->fb, p->pool, AVF_DTYPE_F32, 2, fs, p->st));
    AVF_TRY(avf_op_mel_filterbank(&p->ctx, &mp, &p->fb));
    avf_logmel_params_default(&p->lp, AVF_LOGMEL_DB);
    p->lp.stft = (avf_stft_params){400, 160, 0, 1, AVF_STFT_PAD_REFLECT};
    p->mix.n_weights = 2;
    p->mix.weights[0] = p->mix.weights[1] = 0.5f / 32768.0f;

    int64_t d_pcm[3] = {1, p->frames, 2}, d_pl[3] = {1, 2, p->frames}, d_mono[3] = {1, 1, p->frames};
    int64_t d_res[3];
    AVF_TRY(avf_resample_shape(&p->filt, 3, d_mono, d_res));
    p->out_len = d_res[2];
    AVF_TRY(avf_tensor_alloc(&p->pcm, p->pool, AVF_DTYPE_I16, 3, d_pcm, p->st));
    AVF_TRY(avf_tensor_alloc(&p->f32, p->pool, AVF_DTYPE_F32, 3, d_pcm, p->st));
    AVF_TRY(avf_tensor_alloc(&p->planar, p->pool, AVF_DTYPE_F32, 3, d_pl, p->st));
    AVF_TRY(avf_tensor_alloc(&p->mono, p->pool, AVF_DTYPE_F32, 3, d_mono, p->st));
    AVF_TRY(avf_tensor_alloc(&p->res, p->pool, AVF_DTYPE_F32, 3, d_res, p->st));
    int64_t xs[2] = {1, p->out_len}, ys[3];
    int ny;
    AVF_TRY(avf_logmel_shape(&p->lp, 2, xs, 2, fs, &ny, ys));
    AVF_TRY(avf_tensor_alloc(&p->mel, p->pool, AVF_DTYPE_F32, 3, ys, p->st));
    if (p->gpu)
        for (int i = 0; i <= N_STAGES; i++)
            AVF_TRY(avf_event_create(p->dev, 1, &p->ev[i]));
    return avf_stream_synchronize(p->st);
}

/* Mark the end of stage i-1 / the start of stage i: an event on the GPU, a
 * wall clock reading on the CPU (whose ops run synchronously). */
static avf_status mark(pipe *p, int i, double *wall) {
    if (p->gpu)
        return avf_event_record(p->ev[i], p->st);
    wall[i] = now_s();
    return AVF_OK;
}

/* One run; ms[stage] and *wall_s out. */
static avf_status pipe_run(pipe *p, const int16_t *host_pcm, double *ms, double *wall_s) {
    double w[N_STAGES + 1];
    double t0 = now_s();
    AVF_TRY(mark(p, 0, w));
    AVF_TRY(avf_memcpy_async(p->dev, p->pcm.data, host_pcm, avf_tensor_nbytes(&p->pcm),
                             p->gpu ? AVF_COPY_H2D : AVF_COPY_H2H, p->st, "audio.upload"));
    AVF_TRY(mark(p, 1, w));
    AVF_TRY(avf_op_cast(&p->ctx, AVF_DTYPE_F32, &p->pcm, &p->f32));
    avf_transpose_params tp = {3, {0, 2, 1}};
    AVF_TRY(avf_op_transpose(&p->ctx, &tp, &p->f32, &p->planar));
    AVF_TRY(mark(p, 2, w));
    AVF_TRY(avf_op_mixdown(&p->ctx, &p->mix, &p->planar, &p->mono));
    AVF_TRY(mark(p, 3, w));
    AVF_TRY(avf_op_resample(&p->ctx, &p->filt, &p->bank, &p->mono, &p->res));
    AVF_TRY(mark(p, 4, w));
    avf_tensor x2;
    int64_t xs[2] = {1, p->out_len};
    AVF_TRY(avf_tensor_reshape(&p->res, 2, xs, &x2));
    AVF_TRY(avf_op_logmel(&p->ctx, &p->lp, &x2, &p->fb, &p->mel));
    AVF_TRY(mark(p, 5, w));
    AVF_TRY(avf_stream_synchronize(p->st));
    *wall_s = now_s() - t0;
    for (int i = 0; i < N_STAGES; i++) {
        if (p->gpu) {
            float m = 0;
            AVF_TRY(avf_event_elapsed_ms(p->ev[i], p->ev[i + 1], &m));
            ms[i] = m;
        } else {
            ms[i] = 1000.0 * (w[i + 1] - w[i]);
        }
    }
    return AVF_OK;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_d);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

int main(int argc, char **argv) {
    const char *device = "cuda:0", *json = NULL, *dump = NULL;
    double seconds = 3600;
    int repeats = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device"))
            device = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats"))
            repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--json"))
            json = argv[i + 1];
        else if (!strcmp(argv[i], "--dump"))
            dump = argv[i + 1];
        else {
            fprintf(stderr, "bench_audio: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!(seconds >= 1 && seconds <= 6 * 3600) || repeats < 1 || repeats > 64) {
        fprintf(stderr, "usage: bench_audio [--device cuda:0|cpu] [--seconds 1..21600] "
                        "[--repeats 1..64] [--dump mel.f32] [--json out.json]\n");
        return 2;
    }
    pipe p;
    memset(&p, 0, sizeof p);
    if (avf_device_parse(device, &p.dev) != AVF_OK) {
        fprintf(stderr, "bench_audio: %s\n", avf_last_error());
        return 77;
    }
    p.gpu = avf_device_get_kind(p.dev) != AVF_DEVICE_CPU;
    p.frames = (int64_t)llround(seconds * IN_RATE);
    size_t pcm_bytes = (size_t)p.frames * 2 * sizeof(int16_t);
    int16_t *pcm = NULL;
    /* pinned, so the upload is one DMA at full PCIe speed, as a staging
     * ring would give; plain memory on the CPU device */
    if (p.gpu ? avf_host_alloc_pinned(p.dev, pcm_bytes, (void **)&pcm) != AVF_OK
              : !(pcm = malloc(pcm_bytes))) {
        fprintf(stderr, "bench_audio: no host memory for %zu bytes: %s\n", pcm_bytes,
                avf_last_error());
        return 1;
    }
    double ts = now_s();
    synth(pcm, p.frames);
    printf("bench_audio: %.0f s of 44.1 kHz stereo s16 (%zu bytes, synthesised in %.2f s), "
           "device %s, %d repeats\n", seconds, pcm_bytes, now_s() - ts, device, repeats);
    avf_status s = pipe_setup(&p);
    if (s != AVF_OK) {
        fprintf(stderr, "bench_audio: setup: %s\n", avf_last_error());
        return 1;
    }
    printf("resample %d -> %d: L/M %lld/%lld, %d taps per phase; mel [%lld, %lld, %lld]\n",
           IN_RATE, OUT_RATE, (long long)p.filt.L, (long long)p.filt.M, p.filt.taps,
           (long long)p.mel.shape[0], (long long)p.mel.shape[1], (long long)p.mel.shape[2]);
    double ms[64][N_STAGES], wall[64], dummy[N_STAGES], dw;
    avf_ledger_entry e0, e1;
    memset(&e0, 0, sizeof e0);
    memset(&e1, 0, sizeof e1);
    (void)avf_ledger_get(avf_ledger_global(), "audio.upload", &e0);
    if ((s = pipe_run(&p, pcm, dummy, &dw)) != AVF_OK) { /* warm-up: plans, kernels */
        fprintf(stderr, "bench_audio: %s: %s\n", avf_status_name(s), avf_last_error());
        return 1;
    }
    for (int r = 0; r < repeats; r++)
        if ((s = pipe_run(&p, pcm, ms[r], &wall[r])) != AVF_OK) {
            fprintf(stderr, "bench_audio: %s: %s\n", avf_status_name(s), avf_last_error());
            return 1;
        }
    (void)avf_ledger_get(avf_ledger_global(), "audio.upload", &e1);
    int up = p.gpu ? AVF_COPY_H2D : AVF_COPY_H2H;
    double per_run_up = (double)(e1.bytes[up] - e0.bytes[up]) / (repeats + 1);
    double med[N_STAGES], compute = 0, total = 0;
    printf("%-10s %10s\n", "stage", p.gpu ? "GPU_ms" : "wall_ms");
    for (int i = 0; i < N_STAGES; i++) {
        double v[64];
        for (int r = 0; r < repeats; r++)
            v[r] = ms[r][i];
        med[i] = median(v, repeats);
        total += med[i];
        if (i > 0)
            compute += med[i];
        printf("%-10s %10.3f\n", stage_name[i], med[i]);
    }
    double mw = median(wall, repeats);
    printf("compute (decode..logmel): %.3f ms = %.0fx realtime\n", compute, seconds * 1000 / compute);
    printf("with upload:              %.3f ms = %.0fx realtime\n", total, seconds * 1000 / total);
    printf("wall (host clock, upload..sync): %.3f ms = %.0fx realtime\n", 1000 * mw, seconds / mw);
    printf("ledger audio.upload per run: %.0f bytes (PCM %zu)\n", per_run_up, pcm_bytes);
    /* sanity: a few mel values from the middle (after timing, under a
     * non-frame tag) */
    int64_t nfr = p.mel.shape[2];
    size_t mel_bytes = avf_tensor_nbytes(&p.mel);
    float *mel = malloc(mel_bytes);
    if (mel && avf_memcpy_async(p.dev, mel, p.mel.data, mel_bytes,
                                p.gpu ? AVF_COPY_D2H : AVF_COPY_H2H, p.st, "bench.verify") == AVF_OK &&
        avf_stream_synchronize(p.st) == AVF_OK) {
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        size_t n = mel_bytes / sizeof *mel;
        for (size_t i = 0; i < n; i++) {
            mn = fmin(mn, mel[i]);
            mx = fmax(mx, mel[i]);
            sum += mel[i];
        }
        printf("mel dB: min %.2f max %.2f mean %.3f (frames %lld)\n", mn, mx, sum / (double)n,
               (long long)nfr);
        if (dump) {
            FILE *f = fopen(dump, "wb");
            if (f) {
                fwrite(mel, 1, mel_bytes, f);
                fclose(f);
                printf("wrote %s: f32 [80, %lld]\n", dump, (long long)nfr);
            }
        }
    }
    free(mel);
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f, "{\"device\": \"%s\", \"seconds\": %.1f, \"repeats\": %d, \"stages_ms\": {",
                    device, seconds, repeats);
            for (int i = 0; i < N_STAGES; i++)
                fprintf(f, "%s\"%s\": %.4f", i ? ", " : "", stage_name[i], med[i]);
            fprintf(f, "}, \"compute_ms\": %.4f, \"total_ms\": %.4f, \"wall_ms\": %.4f, "
                       "\"x_realtime_compute\": %.1f, \"x_realtime_total\": %.1f, "
                       "\"x_realtime_wall\": %.1f, \"timer\": \"%s\"}\n",
                    compute, total, 1000 * mw, seconds * 1000 / compute, seconds * 1000 / total,
                    seconds / mw, p.gpu ? "cuda events" : "host wall clock");
            fclose(f);
        }
    }
    for (int i = 0; i <= N_STAGES; i++)
        avf_event_free(p.ev[i]);
    avf_tensor *ts_[] = {&p.pcm, &p.f32, &p.planar, &p.mono, &p.res, &p.mel, &p.bank, &p.fb};
    for (size_t i = 0; i < sizeof ts_ / sizeof *ts_; i++)
        avf_tensor_release(ts_[i], p.st);
    avf_stream_synchronize(p.st);
    avf_op_ctx_release(&p.ctx);
    avf_pool_release_stream(p.pool, p.st);
    avf_stream_free(p.st);
    avf_pool_free_all(p.pool);
    avf_resample_filter_free(&p.filt);
    if (p.gpu)
        avf_host_free_pinned(p.dev, pcm);
    else
        free(pcm);
    return 0;
}
