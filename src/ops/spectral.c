/* Spectral family: parameter checks, shape functions, the mel filterbank
 * (host, double) and dispatch to the CPU (FFTW) and CUDA (cuFFT) halves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/spectral.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/spectral_cuda.h"
#endif

static const avf_dtype avf_spec_f32[] = {AVF_DTYPE_F32};

void avf_logmel_params_default(avf_logmel_params *p, avf_logmel_mode mode) {
    if (!p)
        return;
    avf_stft_params keep = p->stft;
    memset(p, 0, sizeof *p);
    p->stft = keep;
    p->mode = mode;
    p->amin = 1e-10f;
    p->ref = 1.0f;
    p->top_db = 80.0f;
    p->eps = 1e-6f;
    p->drop_last_frame = mode == AVF_LOGMEL_WHISPER;
}

static avf_status stft_params_check(const avf_stft_params *p, int64_t *win) {
    AVF_CHECK_ARG(p != NULL);
    if (p->n_fft <= 0 || p->n_fft > AVF_STFT_MAX_NFFT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: n_fft %lld (must be 1..%d)",
                        (long long)p->n_fft, AVF_STFT_MAX_NFFT);
    if (p->hop_length <= 0 || p->hop_length > AVF_MAX_NUMEL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: hop_length %lld (must be positive)",
                        (long long)p->hop_length);
    int64_t w = p->win_length == 0 ? p->n_fft : p->win_length;
    if (w < 1 || w > p->n_fft)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: win_length %lld (must be 1..n_fft=%lld, or 0)",
                        (long long)p->win_length, (long long)p->n_fft);
    if (p->pad_mode != AVF_STFT_PAD_REFLECT && p->pad_mode != AVF_STFT_PAD_CONSTANT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: unknown pad_mode %d", (int)p->pad_mode);
    if (win)
        *win = w;
    return AVF_OK;
}

avf_status avf_stft_frames(const avf_stft_params *p, int64_t len, int64_t *n_frames) {
    AVF_TRY(stft_params_check(p, NULL));
    AVF_CHECK_ARG(n_frames != NULL);
    if (len < 1 || len > AVF_MAX_NUMEL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: signal length %lld (must be >= 1)",
                        (long long)len);
    int64_t pad = p->center ? p->n_fft / 2 : 0;
    if (p->center && p->pad_mode == AVF_STFT_PAD_REFLECT && len <= pad)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "STFT: signal of %lld samples is too short for a reflect pad of %lld "
                        "(needs more than n_fft/2 samples)",
                        (long long)len, (long long)pad);
    if (len + 2 * pad < p->n_fft)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "STFT: signal of %lld samples is shorter than n_fft=%lld (center=0)",
                        (long long)len, (long long)p->n_fft);
    *n_frames = 1 + (len + 2 * pad - p->n_fft) / p->hop_length;
    return AVF_OK;
}

avf_status avf_stft_shape(const avf_stft_params *p, avf_stft_output kind, int nx,
                          const int64_t *x, int *nout, int64_t *out) {
    AVF_CHECK_ARG(nout != NULL && out != NULL);
    if (nx != 2 || !x)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: signal must be 2-D [batch, len] (rank %d)", nx);
    if (kind != AVF_STFT_COMPLEX && kind != AVF_STFT_MAGNITUDE && kind != AVF_STFT_POWER)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: unknown output kind %d", (int)kind);
    if (x[0] < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "STFT: negative batch");
    int64_t frames;
    AVF_TRY(avf_stft_frames(p, x[1], &frames));
    out[0] = x[0];
    out[1] = p->n_fft / 2 + 1;
    out[2] = frames;
    out[3] = 2;
    *nout = kind == AVF_STFT_COMPLEX ? 4 : 3;
    int64_t numel;
    return avf_shape_numel(*nout, out, &numel);
}

avf_status avf_istft_shape(const avf_stft_params *p, int64_t length, int nx, const int64_t *x,
                           int *nout, int64_t *out) {
    AVF_CHECK_ARG(nout != NULL && out != NULL);
    AVF_TRY(stft_params_check(p, NULL));
    if (nx != 4 || !x)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "iSTFT: spectrum must be 4-D [batch, n_fft/2+1, frames, 2] (rank %d)", nx);
    int64_t numel;
    AVF_TRY(avf_shape_numel(nx, x, &numel));
    if (x[1] != p->n_fft / 2 + 1 || x[3] != 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "iSTFT: spectrum dims [%lld, %lld, %lld, %lld] need n_fft/2+1=%lld bins "
                        "and a last dim of 2",
                        (long long)x[0], (long long)x[1], (long long)x[2], (long long)x[3],
                        (long long)(p->n_fft / 2 + 1));
    if (x[2] < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "iSTFT: no frames");
    if (length < 0 || length > AVF_MAX_NUMEL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "iSTFT: length %lld", (long long)length);
    if (x[2] - 1 > (AVF_MAX_NUMEL - p->n_fft) / p->hop_length)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "iSTFT: %lld frames of hop %lld is too long",
                        (long long)x[2], (long long)p->hop_length);
    int64_t full = p->n_fft + p->hop_length * (x[2] - 1);
    int64_t n = length > 0 ? length : full - (p->center ? 2 * (p->n_fft / 2) : 0);
    if (n < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "iSTFT: %lld frames give no samples after trimming",
                        (long long)x[2]);
    out[0] = x[0];
    out[1] = n;
    *nout = 2;
    return avf_shape_numel(2, out, &numel);
}

/* ---- mel scale and filterbank ---- */

/* Slaney's scale (librosa htk=False): linear below 1 kHz at 200/3 Hz per
 * mel, then logarithmic so that 6.4x in frequency spans 27 mels. */
#define SLANEY_F_SP (200.0 / 3.0)
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL (SLANEY_MIN_LOG_HZ / SLANEY_F_SP)

double avf_hz_to_mel(double hz, int htk) {
    if (htk)
        return 2595.0 * log10(1.0 + hz / 700.0);
    if (hz >= SLANEY_MIN_LOG_HZ)
        return SLANEY_MIN_LOG_MEL + log(hz / SLANEY_MIN_LOG_HZ) / (log(6.4) / 27.0);
    return hz / SLANEY_F_SP;
}

double avf_mel_to_hz(double mel, int htk) {
    if (htk)
        return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
    if (mel >= SLANEY_MIN_LOG_MEL)
        return SLANEY_MIN_LOG_HZ * exp(log(6.4) / 27.0 * (mel - SLANEY_MIN_LOG_MEL));
    return SLANEY_F_SP * mel;
}

double avf_stft_window(int64_t n_fft, int64_t win_length, int64_t j) {
    return avf_spec_window(n_fft, win_length, j);
}

avf_status avf_mel_params_check(const avf_mel_params *p) {
    AVF_CHECK_ARG(p != NULL);
    if (!(p->sample_rate > 0.0) || !isfinite(p->sample_rate) || p->sample_rate > 1e7)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "mel: sample_rate %g", p->sample_rate);
    if (p->n_fft <= 0 || p->n_fft > AVF_STFT_MAX_NFFT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "mel: n_fft %lld (must be 1..%d)",
                        (long long)p->n_fft, AVF_STFT_MAX_NFFT);
    if (p->n_mels < 1 || p->n_mels > AVF_MEL_MAX_BANDS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "mel: n_mels %lld (must be 1..%d)",
                        (long long)p->n_mels, AVF_MEL_MAX_BANDS);
    double fmax = p->fmax > 0.0 ? p->fmax : p->sample_rate / 2.0;
    if (!(p->fmin >= 0.0) || !isfinite(fmax) || !(p->fmin < fmax))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "mel: fmin %g, fmax %g (need 0 <= fmin < fmax)",
                        p->fmin, fmax);
    return AVF_OK;
}

avf_status avf_mel_filterbank_shape(const avf_mel_params *p, int *nout, int64_t *out) {
    AVF_CHECK_ARG(nout != NULL && out != NULL);
    AVF_TRY(avf_mel_params_check(p));
    out[0] = p->n_mels;
    out[1] = p->n_fft / 2 + 1;
    *nout = 2;
    return AVF_OK;
}

avf_status avf_mel_filterbank(const avf_mel_params *p, double *out) {
    AVF_TRY(avf_mel_params_check(p));
    AVF_CHECK_ARG(out != NULL);
    int64_t nm = p->n_mels, nf = p->n_fft / 2 + 1;
    double fmax = p->fmax > 0.0 ? p->fmax : p->sample_rate / 2.0;
    double *pts = malloc((size_t)(nm + 2) * sizeof *pts);
    if (!pts)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "mel: %lld band edges", (long long)(nm + 2));
    /* Band edges: n_mels+2 points linear in mel (np.linspace includes both
     * ends), back in Hz. */
    double m0 = avf_hz_to_mel(p->fmin, p->htk), m1 = avf_hz_to_mel(fmax, p->htk);
    for (int64_t i = 0; i < nm + 2; i++)
        pts[i] = avf_mel_to_hz(m0 + (m1 - m0) * (double)i / (double)(nm + 1), p->htk);
    for (int64_t m = 0; m < nm; m++) {
        double lo = pts[m], mid = pts[m + 1], hi = pts[m + 2];
        double scale = p->slaney_norm ? 2.0 / (hi - lo) : 1.0;
        for (int64_t k = 0; k < nf; k++) {
            /* bin k's frequency: np.fft.rfftfreq(n_fft, 1/sr) */
            double f = (double)k * p->sample_rate / (double)p->n_fft;
            /* librosa: max(0, min(rising, falling)) with the slopes written
             * as ramps over the edge gaps. */
            double up = (f - lo) / (mid - lo), down = (hi - f) / (hi - mid);
            double w = up < down ? up : down;
            out[m * nf + k] = (w > 0.0 ? w : 0.0) * scale;
        }
    }
    free(pts);
    return AVF_OK;
}

/* ---- ops ---- */

static avf_status make_geom(const avf_stft_params *p, int64_t batch, int64_t len,
                            int64_t frames, avf_stft_geom *g) {
    int64_t win;
    AVF_TRY(stft_params_check(p, &win));
    memset(g, 0, sizeof *g);
    g->batch = batch;
    g->len = len;
    g->n_fft = p->n_fft;
    g->hop = p->hop_length;
    g->win_length = win;
    g->n_freq = p->n_fft / 2 + 1;
    g->n_frames = frames;
    g->pad = p->center ? p->n_fft / 2 : 0;
    g->reflect = p->pad_mode == AVF_STFT_PAD_REFLECT;
    return AVF_OK;
}

static avf_status check_io(avf_op_ctx *ctx, const avf_tensor *t, const char *what) {
    AVF_TRY(avf_op_check_tensor(ctx, t, what));
    return avf_op_check_dtype(t, what, avf_spec_f32, 1);
}

avf_status avf_op_stft(avf_op_ctx *ctx, const avf_stft_params *p, avf_stft_output kind,
                       const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(check_io(ctx, x, "STFT x"));
    AVF_TRY(check_io(ctx, y, "STFT y"));
    int nout;
    int64_t out[4];
    AVF_TRY(avf_stft_shape(p, kind, x->ndim, x->shape, &nout, out));
    AVF_TRY(avf_op_check_shape(y, "STFT y", nout, out));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    avf_stft_geom g;
    AVF_TRY(make_geom(p, x->shape[0], x->shape[1], out[2], &g));
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_stft(ctx, &g, kind, (const float *)x->data, (float *)y->data);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_stft(ctx, &g, kind, (const float *)x->data, (float *)y->data);
#else
    return AVF_OP_NO_CUDA("STFT");
#endif
}

avf_status avf_op_istft(avf_op_ctx *ctx, const avf_stft_params *p, int64_t length,
                        const avf_tensor *spec, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(check_io(ctx, spec, "iSTFT spectrum"));
    AVF_TRY(check_io(ctx, y, "iSTFT y"));
    int nout;
    int64_t out[2];
    AVF_TRY(avf_istft_shape(p, length, spec->ndim, spec->shape, &nout, out));
    AVF_TRY(avf_op_check_shape(y, "iSTFT y", nout, out));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    avf_stft_geom g;
    AVF_TRY(make_geom(p, out[0], out[1], spec->shape[2], &g));
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_istft(ctx, &g, (const float *)spec->data, (float *)y->data);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_istft(ctx, &g, (const float *)spec->data, (float *)y->data);
#else
    return AVF_OP_NO_CUDA("iSTFT");
#endif
}

avf_status avf_op_mel_filterbank(avf_op_ctx *ctx, const avf_mel_params *p, avf_tensor *fb) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(check_io(ctx, fb, "mel filterbank"));
    int nout;
    int64_t out[2];
    AVF_TRY(avf_mel_filterbank_shape(p, &nout, out));
    AVF_TRY(avf_op_check_shape(fb, "mel filterbank", nout, out));
    size_t n = (size_t)(out[0] * out[1]);
    double *d = malloc(n * sizeof *d);
    float *f = malloc(n * sizeof *f);
    if (!d || !f) {
        free(d);
        free(f);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "mel filterbank: %zu host values", n);
    }
    avf_status s = avf_mel_filterbank(p, d);
    if (s == AVF_OK) {
        for (size_t i = 0; i < n; i++)
            f[i] = (float)d[i];
        /* A pageable source: CUDA stages it before cudaMemcpyAsync returns
         * (the CPU backend copies at once), so the host buffer may be freed
         * right after, without a sync. */
        s = avf_memcpy_async(ctx->dev, fb->data, f, n * sizeof *f,
                             avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_H2D, ctx->stream,
                             "spectral.melfb");
    }
    free(d);
    free(f);
    return s;
}

avf_status avf_logmel_shape(const avf_logmel_params *p, int nx, const int64_t *x, int nfb,
                            const int64_t *fb, int *nout, int64_t *out) {
    AVF_CHECK_ARG(p != NULL && nout != NULL && out != NULL);
    if (p->mode < AVF_LOGMEL_NONE || p->mode > AVF_LOGMEL_WHISPER)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "log-mel: unknown mode %d", (int)p->mode);
    if (p->mode == AVF_LOGMEL_DB && !(p->amin > 0.0f && isfinite(p->ref) && !isnan(p->top_db)))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "log-mel (dB): amin %g must be > 0, ref %g finite",
                        (double)p->amin, (double)p->ref);
    if (p->mode == AVF_LOGMEL_LN && !(p->eps > 0.0f && isfinite(p->eps)))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "log-mel (ln): eps %g must be > 0", (double)p->eps);
    int ns;
    int64_t s[4];
    AVF_TRY(avf_stft_shape(&p->stft, AVF_STFT_POWER, nx, x, &ns, s));
    if (nfb != 2 || !fb || fb[1] != s[1] || fb[0] < 1 || fb[0] > AVF_MEL_MAX_BANDS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "log-mel: filterbank must be [n_mels (1..%d), n_fft/2+1=%lld]",
                        AVF_MEL_MAX_BANDS, (long long)s[1]);
    int64_t frames = s[2] - (p->drop_last_frame ? 1 : 0);
    if (frames < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "log-mel: one frame and drop_last_frame leave none");
    out[0] = s[0];
    out[1] = fb[0];
    out[2] = frames;
    *nout = 3;
    int64_t numel;
    return avf_shape_numel(3, out, &numel);
}

avf_status avf_op_logmel(avf_op_ctx *ctx, const avf_logmel_params *p, const avf_tensor *x,
                         const avf_tensor *fb, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    AVF_TRY(check_io(ctx, x, "log-mel x"));
    AVF_TRY(check_io(ctx, fb, "log-mel filterbank"));
    AVF_TRY(check_io(ctx, y, "log-mel y"));
    int nout;
    int64_t out[3];
    AVF_TRY(avf_logmel_shape(p, x->ndim, x->shape, fb->ndim, fb->shape, &nout, out));
    AVF_TRY(avf_op_check_shape(y, "log-mel y", nout, out));
    if (avf_tensor_numel(y) == 0)
        return AVF_OK;
    int64_t frames;
    AVF_TRY(avf_stft_frames(&p->stft, x->shape[1], &frames));
    avf_stft_geom g;
    AVF_TRY(make_geom(&p->stft, x->shape[0], x->shape[1], frames, &g));
    avf_mel_geom mg = {g.batch, fb->shape[0], g.n_freq, frames, out[2]};
    /* The power spectrogram lives only in scratch. */
    size_t bytes = (size_t)(g.batch * g.n_freq * frames) * sizeof(float);
    void *power = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, bytes, ctx->stream, &power));
    avf_status s;
    int cpu = avf_op_device_is_cpu(ctx);
    if (cpu) {
        s = avf_cpu_stft(ctx, &g, AVF_STFT_POWER, (const float *)x->data, (float *)power);
        if (s == AVF_OK)
            s = avf_cpu_mel_project(ctx, &mg, (const float *)fb->data, (const float *)power,
                                    (float *)y->data);
        if (s == AVF_OK)
            s = avf_cpu_mel_log(ctx, p, &mg, (float *)y->data);
    } else {
#ifdef AVF_HAVE_CUDA
        s = avf_cuda_stft(ctx, &g, AVF_STFT_POWER, (const float *)x->data, (float *)power);
        if (s == AVF_OK)
            s = avf_cuda_mel_project(ctx, &mg, (const float *)fb->data, (const float *)power,
                                     (float *)y->data);
        if (s == AVF_OK)
            s = avf_cuda_mel_log(ctx, p, &mg, (float *)y->data);
#else
        s = AVF_OP_NO_CUDA("log-mel");
#endif
    }
    avf_status fs = avf_pool_free(ctx->pool, power, ctx->stream);
    return s != AVF_OK ? s : fs;
}

void avf_spectral_release_caches(void) {
    avf_cpu_spectral_release();
#ifdef AVF_HAVE_CUDA
    avf_cuda_spectral_release();
#endif
}
