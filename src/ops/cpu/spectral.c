/* CPU spectral kernels: STFT / iSTFT through FFTW (single precision), the
 * mel projection through cblas, and the log step.
 *
 * FFTW's planner is not thread-safe; executing a plan is (with the
 * new-array functions, which never modify the plan). So plans are made
 * under one mutex and cached per n_fft for the process's life, each doing
 * AVF_SPEC_BLOCK frames per execution; callers execute them concurrently on
 * their own pool scratch. A plan made on 16-byte-aligned arrays requires the
 * same alignment of every array it runs on: pool blocks are 256-byte
 * aligned and every offset into them here is a multiple of 64 bytes (and is
 * checked before executing).
 */
#include <cblas.h>
#include <float.h>
/* cblas.h pulls in <complex.h>; keep fftwf_complex the float[2] layout. */
#define FFTW_NO_Complex
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/blas.h"
#include "ops/spectral.h"

#define AVF_SPEC_BLOCK 32     /* frames per FFTW execution */
#define AVF_SPEC_CACHE 32     /* distinct n_fft values cached */

typedef struct spec_plans {
    int64_t n;
    fftwf_plan r2c, c2r;
} spec_plans;

static pthread_mutex_t g_fftw_mu = PTHREAD_MUTEX_INITIALIZER;
static spec_plans g_cache[AVF_SPEC_CACHE];
static int g_cached;

/* Make (or find) the plans for n on arrays like `real`/`cplx`; *uncached is
 * set when the cache is full and the caller must destroy them after use. */
static avf_status get_plans(int64_t n, float *real, fftwf_complex *cplx, spec_plans *out,
                            int *uncached) {
    *uncached = 0;
    avf_status s = AVF_OK;
    pthread_mutex_lock(&g_fftw_mu);
    for (int i = 0; i < g_cached; i++)
        if (g_cache[i].n == n) {
            *out = g_cache[i];
            pthread_mutex_unlock(&g_fftw_mu);
            return AVF_OK;
        }
    int len = (int)n;
    int nf = len / 2 + 1;
    spec_plans p = {n, NULL, NULL};
    /* FFTW_ESTIMATE never touches the arrays while planning. */
    p.r2c = fftwf_plan_many_dft_r2c(1, &len, AVF_SPEC_BLOCK, real, NULL, 1, len, cplx, NULL, 1, nf,
                                    FFTW_ESTIMATE);
    p.c2r = fftwf_plan_many_dft_c2r(1, &len, AVF_SPEC_BLOCK, cplx, NULL, 1, nf, real, NULL, 1, len,
                                    FFTW_ESTIMATE);
    if (!p.r2c || !p.c2r) {
        if (p.r2c)
            fftwf_destroy_plan(p.r2c);
        if (p.c2r)
            fftwf_destroy_plan(p.c2r);
        s = AVF_FAIL(AVF_ERR_INTERNAL, "STFT (CPU): FFTW could not plan n_fft=%d", len);
    } else if (g_cached < AVF_SPEC_CACHE) {
        g_cache[g_cached++] = p;
    } else {
        *uncached = 1;
    }
    pthread_mutex_unlock(&g_fftw_mu);
    *out = p;
    return s;
}

static void put_plans(spec_plans *p, int uncached) {
    if (!uncached)
        return;
    pthread_mutex_lock(&g_fftw_mu); /* destroying is planner work too */
    fftwf_destroy_plan(p->r2c);
    fftwf_destroy_plan(p->c2r);
    pthread_mutex_unlock(&g_fftw_mu);
}

void avf_cpu_spectral_release(void) {
    pthread_mutex_lock(&g_fftw_mu);
    for (int i = 0; i < g_cached; i++) {
        fftwf_destroy_plan(g_cache[i].r2c);
        fftwf_destroy_plan(g_cache[i].c2r);
    }
    g_cached = 0;
    pthread_mutex_unlock(&g_fftw_mu);
}

static size_t round64(size_t b) { return (b + 63) & ~(size_t)63; }

/* Scratch layout shared by both directions: window [n_fft] f32, then a
 * complex block [BLOCK, n_freq], then `real_rows` rows of n_fft reals. */
typedef struct spec_scratch {
    void *base;
    float *win;
    fftwf_complex *cplx;
    float *real;
} spec_scratch;

static avf_status scratch_get(avf_op_ctx *ctx, const avf_stft_geom *g, int64_t real_rows,
                              spec_scratch *sc) {
    size_t wb = round64((size_t)g->n_fft * sizeof(float));
    size_t cb = round64((size_t)(AVF_SPEC_BLOCK * g->n_freq) * sizeof(fftwf_complex));
    size_t rb = round64((size_t)(real_rows * g->n_fft) * sizeof(float));
    AVF_TRY(avf_pool_alloc(ctx->pool, wb + cb + rb, ctx->stream, &sc->base));
    memset(sc->base, 0, wb + cb + rb); /* no stale bits reach an FFT */
    sc->win = (float *)sc->base;
    sc->cplx = (fftwf_complex *)((char *)sc->base + wb);
    sc->real = (float *)((char *)sc->base + wb + cb);
    for (int64_t j = 0; j < g->n_fft; j++)
        sc->win[j] = (float)avf_spec_window(g->n_fft, g->win_length, j);
    return AVF_OK;
}

static avf_status check_aligned(const void *a, const void *b) {
    if (fftwf_alignment_of((float *)a) != 0 || fftwf_alignment_of((float *)b) != 0)
        return AVF_FAIL(AVF_ERR_INTERNAL, "STFT (CPU): FFT scratch lost its alignment");
    return AVF_OK;
}

avf_status avf_cpu_stft(avf_op_ctx *ctx, const avf_stft_geom *g, avf_stft_output kind,
                        const float *x, float *y) {
    spec_scratch sc;
    AVF_TRY(scratch_get(ctx, g, AVF_SPEC_BLOCK, &sc));
    spec_plans pl = {0, NULL, NULL};
    int uncached = 0;
    avf_status s = get_plans(g->n_fft, sc.real, sc.cplx, &pl, &uncached);
    if (s == AVF_OK)
        s = check_aligned(sc.real, sc.cplx);
    const int64_t n = g->n_fft, nf = g->n_freq, nt = g->n_frames;
    for (int64_t b = 0; s == AVF_OK && b < g->batch; b++) {
        const float *xb = x + b * g->len;
        for (int64_t t0 = 0; t0 < nt; t0 += AVF_SPEC_BLOCK) {
            int64_t nb = nt - t0 < AVF_SPEC_BLOCK ? nt - t0 : AVF_SPEC_BLOCK;
            for (int64_t r = 0; r < nb; r++) {
                float *fr = sc.real + r * n;
                int64_t q0 = (t0 + r) * g->hop;
                for (int64_t j = 0; j < n; j++) {
                    int64_t i = avf_spec_src(q0 + j, g->pad, g->len, g->reflect);
                    fr[j] = i < 0 ? 0.0f : xb[i] * sc.win[j];
                }
            }
            fftwf_execute_dft_r2c(pl.r2c, sc.real, sc.cplx);
            for (int64_t f = 0; f < nf; f++) {
                int64_t o = (b * nf + f) * nt + t0;
                for (int64_t r = 0; r < nb; r++) {
                    float re = sc.cplx[r * nf + f][0], im = sc.cplx[r * nf + f][1];
                    if (kind == AVF_STFT_COMPLEX) {
                        y[2 * (o + r)] = re;
                        y[2 * (o + r) + 1] = im;
                    } else {
                        float p = re * re + im * im;
                        y[o + r] = kind == AVF_STFT_POWER ? p : sqrtf(p);
                    }
                }
            }
        }
    }
    put_plans(&pl, uncached);
    avf_status fs = avf_pool_free(ctx->pool, sc.base, ctx->stream);
    return s != AVF_OK ? s : fs;
}

avf_status avf_cpu_istft(avf_op_ctx *ctx, const avf_stft_geom *g, const float *spec, float *y) {
    const int64_t n = g->n_fft, nf = g->n_freq, nt = g->n_frames;
    /* All frames of one clip (rounded up to whole blocks) for the
     * overlap-add, which gathers per output sample in frame order, as the
     * CUDA kernel does. */
    int64_t rows = (nt + AVF_SPEC_BLOCK - 1) / AVF_SPEC_BLOCK * AVF_SPEC_BLOCK;
    spec_scratch sc;
    AVF_TRY(scratch_get(ctx, g, rows, &sc));
    spec_plans pl = {0, NULL, NULL};
    int uncached = 0;
    avf_status s = get_plans(n, sc.real, sc.cplx, &pl, &uncached);
    const float inv_n = 1.0f / (float)n;
    const int64_t full = n + g->hop * (nt - 1);
    for (int64_t b = 0; s == AVF_OK && b < g->batch; b++) {
        const float *sb = spec + b * nf * nt * 2;
        for (int64_t t0 = 0; s == AVF_OK && t0 < nt; t0 += AVF_SPEC_BLOCK) {
            int64_t nb = nt - t0 < AVF_SPEC_BLOCK ? nt - t0 : AVF_SPEC_BLOCK;
            for (int64_t r = 0; r < AVF_SPEC_BLOCK; r++)
                for (int64_t f = 0; f < nf; f++) {
                    int in = r < nb;
                    /* a real inverse ignores the imaginary DC and Nyquist */
                    int real_only = f == 0 || (n % 2 == 0 && f == nf - 1);
                    const float *src = sb + 2 * (f * nt + t0 + r);
                    sc.cplx[r * nf + f][0] = in ? src[0] : 0.0f;
                    sc.cplx[r * nf + f][1] = in && !real_only ? src[1] : 0.0f;
                }
            float *dst = sc.real + t0 * n;
            s = check_aligned(dst, sc.cplx);
            if (s == AVF_OK)
                fftwf_execute_dft_c2r(pl.c2r, sc.cplx, dst);
        }
        float *yb = y + b * g->len;
        for (int64_t i = 0; s == AVF_OK && i < g->len; i++) {
            int64_t q = i + g->pad;
            if (q >= full) {
                yb[i] = 0.0f;
                continue;
            }
            int64_t t_lo = q >= n ? (q - n) / g->hop + 1 : 0;
            int64_t t_hi = q / g->hop < nt - 1 ? q / g->hop : nt - 1;
            float acc = 0.0f, wss = 0.0f;
            for (int64_t t = t_lo; t <= t_hi; t++) {
                int64_t j = q - t * g->hop;
                float w = sc.win[j];
                acc += sc.real[t * n + j] * inv_n * w;
                wss += w * w;
            }
            yb[i] = wss > FLT_MIN ? acc / wss : acc;
        }
    }
    put_plans(&pl, uncached);
    avf_status fs = avf_pool_free(ctx->pool, sc.base, ctx->stream);
    return s != AVF_OK ? s : fs;
}

avf_status avf_cpu_mel_project(avf_op_ctx *ctx, const avf_mel_geom *g, const float *fb,
                               const float *power, float *y) {
    if (g->n_mels > INT_MAX || g->n_out > INT_MAX || g->n_freq > INT_MAX || g->n_frames > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "log-mel (CPU): dims exceed the BLAS int range");
    /* Y_b [n_mels, n_out] = FB [n_mels, n_freq] x P_b [n_freq, n_frames]
     * (first n_out columns). */
    for (int64_t b = 0; b < g->batch; b++)
        avf_cpu_sgemm(CblasNoTrans, CblasNoTrans, (int)g->n_mels, (int)g->n_out,
                    (int)g->n_freq, 1.0f, fb, (int)g->n_freq,
                    power + b * g->n_freq * g->n_frames, (int)g->n_frames, 0.0f,
                    y + b * g->n_mels * g->n_out, (int)g->n_out);
    return AVF_OK;
}

avf_status avf_cpu_mel_log(avf_op_ctx *ctx, const avf_logmel_params *p, const avf_mel_geom *g,
                           float *y) {
    if (p->mode == AVF_LOGMEL_NONE)
        return AVF_OK;
    const int mode = (int)p->mode;
    const float ref_db = 10.0f * log10f(fmaxf(p->amin, fabsf(p->ref)));
    const int64_t per = g->n_mels * g->n_out;
    for (int64_t b = 0; b < g->batch; b++) {
        float *yb = y + b * per;
        /* The per-clip max in the power domain: log is monotonic, so its
         * image is the max of the log values (and mel power is >= 0). */
        float m = 0.0f;
        for (int64_t i = 0; i < per; i++)
            m = fmaxf(m, yb[i]);
        float lo = avf_spec_log_floor(mode, m, p->amin, ref_db, p->top_db);
        for (int64_t i = 0; i < per; i++)
            yb[i] = avf_spec_log_value(mode, yb[i], p->amin, ref_db, p->eps, lo);
    }
    return AVF_OK;
}
