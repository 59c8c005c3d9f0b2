/* Internal: the spectral family — STFT, inverse STFT, mel filterbank and
 * log-mel spectrograms, batched over mono clips, with librosa's conventions.
 *
 * Signals are f32 [batch, len] (one clip per row; mix down and resample
 * first). Every kernel is f32 on both devices.
 *
 * STFT (librosa.stft / torch.stft with return_complex):
 *   - window: periodic Hann of win_length samples,
 *       w[n] = 0.5 - 0.5 cos(2 pi n / win_length),  0 <= n < win_length
 *     (torch.hann_window(win_length), scipy get_window('hann', fftbins=True)),
 *     zero-padded to n_fft and centred: it starts at (n_fft - win_length)/2
 *     (integer division, librosa.util.pad_center). win_length 0 means n_fft.
 *   - center=1 pads n_fft/2 samples on both sides, 'reflect' (numpy's mode:
 *     the edge sample is not repeated, x[-1] = x[1]) or 'constant' (zeros).
 *     Reflect is torch.stft's default (so Whisper's) and librosa's before
 *     0.10; librosa >= 0.10 defaults to 'constant': pass pad_mode to match.
 *     Reflect needs len > n_fft/2 (as torch; numpy would reflect repeatedly).
 *     center=0 needs len >= n_fft.
 *   - frames start every hop_length samples of the (padded) signal:
 *       n_frames = 1 + (len + 2*pad - n_fft) / hop_length   (floor)
 *     which is 1 + len/hop_length for a centred even n_fft.
 *   - X[b, f, t] = sum_j x_pad[t*hop + j] w[j] exp(-2 pi i f j / n_fft),
 *     f in [0, n_fft/2]; unnormalized (librosa/torch default).
 *   - outputs: COMPLEX f32 [batch, n_fft/2+1, n_frames, 2] (re, im
 *     interleaved: torch.view_as_real of the complex result), MAGNITUDE |X|
 *     or POWER |X|^2, both f32 [batch, n_fft/2+1, n_frames].
 *
 * iSTFT (librosa.istft): takes the COMPLEX layout above. Each frame is
 * irfft'd (the imaginary parts of the DC and Nyquist bins are ignored, as a
 * real inverse FFT does), scaled by 1/n_fft, multiplied by the window and
 * overlap-added; the sum is divided by the window's sum-square envelope
 * wherever that envelope exceeds FLT_MIN (librosa's util.tiny), elsewhere
 * left as is. center=1 trims n_fft/2 samples from the start. Output length:
 * `length` when > 0 (zero-filled past the end of the frames, as librosa),
 * else n_fft + hop*(n_frames-1) minus 2*(n_fft/2) when centred.
 *
 * Mel filterbank (librosa.filters.mel): [n_mels, n_fft/2+1] triangles
 * between n_mels+2 points equally spaced on the mel scale from fmin to fmax
 * (fmax <= 0 means sr/2), evaluated at the FFT bin frequencies
 * k*sr/n_fft. Mel scale: Slaney's (librosa htk=False: linear 3 mel per
 * 200 Hz below 1 kHz, logarithmic with step ln(6.4)/27 above) or HTK's
 * (2595 log10(1 + f/700)). norm 'slaney' scales each triangle by
 * 2/(f[i+2] - f[i]) (unit area); else peaks are 1 (htk=1 with no norm is
 * torchaudio's MelScale default, whose bins are linspace(0, sr//2): the same
 * for even rates). Computed on the host in double and rounded once to f32
 * (librosa rounds to f32 before the area scaling: values agree to 1 ulp).
 *
 * Log-mel: POWER STFT (power = 2.0) -> mel = filterbank x power per clip
 * (cblas on CPU, cuBLAS on CUDA; exact f32, TF32 only with ctx->allow_tf32)
 * -> one of:
 *   NONE     the mel power itself;
 *   DB       librosa.power_to_db: 10 log10(max(S, amin)) - 10 log10(max(amin,
 *            ref)); with top_db > 0 clipped below at (max - top_db), the max
 *            taken per clip (librosa takes it over whatever array it is
 *            given; for one clip that is the same);
 *   LN       ln(S + eps) (speech front-ends, e.g. NeMo-style log-mel);
 *   WHISPER  OpenAI Whisper's log_mel_spectrogram: L = log10(max(S, 1e-10)),
 *            L = max(L, max_clip(L) - 8), (L + 4) / 4. Whisper also drops the
 *            last STFT frame (stft[..., :-1]); set drop_last_frame for that
 *            (the per-clip max then excludes it, as in Whisper). Whisper's
 *            filterbank is librosa's (sr 16000, n_fft 400, Slaney, norm
 *            'slaney'), its STFT n_fft 400 / hop 160, centred, reflect.
 * Output f32 [batch, n_mels, n_frames (- 1 with drop_last_frame)].
 *
 * CPU: FFTW (fftwf_plan_many_dft_r2c/c2r, FFTW_ESTIMATE) on blocks of
 * frames. FFTW's planner is not thread-safe, so plans are created under a
 * mutex and cached per n_fft (process lifetime); execution uses the
 * new-array execute functions, which are thread-safe, on pool scratch of the
 * planning alignment. (The mutex is avflow's own: other code in the process
 * that plans with fftwf_ concurrently must not race with it.)
 * CUDA: a framing+window kernel fills pool scratch with chunks of frames, a
 * cuFFT batched R2C/C2R plan (cufftPlanMany layout, auto-allocation off,
 * work area from ctx->pool, stream set before every execution) transforms
 * them, and a kernel scatters bins to the output layout. Plans are cached
 * per (device, direction, n_fft, chunk rows) in a small mutex-protected
 * cache; chunk rows are a power of two so few plans exist per n_fft. A plan
 * is checked out by one caller at a time (cuFFT plans are not shareable
 * between threads).
 */
#ifndef AVF_OPS_SPECTRAL_H
#define AVF_OPS_SPECTRAL_H

#include <math.h>

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AVF_STFT_MAX_NFFT 65536
/* Upper bound on n_mels (librosa's typical 40..256; generous). */
#define AVF_MEL_MAX_BANDS 4096

typedef enum avf_stft_pad_mode {
    AVF_STFT_PAD_REFLECT = 0,
    AVF_STFT_PAD_CONSTANT = 1
} avf_stft_pad_mode;

typedef enum avf_stft_output {
    AVF_STFT_COMPLEX = 0,
    AVF_STFT_MAGNITUDE = 1,
    AVF_STFT_POWER = 2
} avf_stft_output;

typedef struct avf_stft_params {
    int64_t n_fft;      /* 1..AVF_STFT_MAX_NFFT */
    int64_t hop_length; /* > 0 */
    int64_t win_length; /* 0 (= n_fft) or 1..n_fft */
    int center;         /* 1: pad n_fft/2 each side */
    avf_stft_pad_mode pad_mode;
} avf_stft_params;

typedef struct avf_mel_params {
    double sample_rate; /* > 0 */
    int64_t n_fft;      /* as the STFT's */
    int64_t n_mels;     /* 1..AVF_MEL_MAX_BANDS */
    double fmin;        /* >= 0 */
    double fmax;        /* <= 0: sample_rate / 2; else fmin < fmax */
    int htk;            /* 0: Slaney mel scale (librosa default), 1: HTK */
    int slaney_norm;    /* 1: norm='slaney' (librosa default), 0: None */
} avf_mel_params;

typedef enum avf_logmel_mode {
    AVF_LOGMEL_NONE = 0,
    AVF_LOGMEL_DB = 1,
    AVF_LOGMEL_LN = 2,
    AVF_LOGMEL_WHISPER = 3
} avf_logmel_mode;

typedef struct avf_logmel_params {
    avf_stft_params stft;
    avf_logmel_mode mode;
    float amin;          /* DB: > 0 (librosa 1e-10) */
    float ref;           /* DB: reference power (librosa 1.0) */
    float top_db;        /* DB: > 0 clips at max - top_db (librosa 80); <= 0 none */
    float eps;           /* LN: added before ln (> 0) */
    int drop_last_frame; /* Whisper's stft[..., :-1] */
} avf_logmel_params;

/* Defaults: librosa's values (amin 1e-10, ref 1, top_db 80, eps 1e-6 for
 * LN), no dropped frame except for WHISPER. The STFT params are left to the
 * caller. */
void avf_logmel_params_default(avf_logmel_params *p, avf_logmel_mode mode);

/* ---- shape functions (pure, host) ---- */

/* Validates the params and a signal length; *n_frames as above. */
avf_status avf_stft_frames(const avf_stft_params *p, int64_t len, int64_t *n_frames);
/* x: [batch, len]. */
avf_status avf_stft_shape(const avf_stft_params *p, avf_stft_output kind, int nx,
                          const int64_t *x, int *nout, int64_t *out);
/* spec: [batch, n_fft/2+1, n_frames, 2] -> [batch, out_len]; length as above. */
avf_status avf_istft_shape(const avf_stft_params *p, int64_t length, int nx, const int64_t *x,
                           int *nout, int64_t *out);
avf_status avf_mel_params_check(const avf_mel_params *p);
/* The filterbank: [n_mels, n_fft/2+1]. */
avf_status avf_mel_filterbank_shape(const avf_mel_params *p, int *nout, int64_t *out);
/* x: [batch, len], fb: [n_mels, n_fft/2+1] -> [batch, n_mels, frames]. */
avf_status avf_logmel_shape(const avf_logmel_params *p, int nx, const int64_t *x, int nfb,
                            const int64_t *fb, int *nout, int64_t *out);

/* ---- host helpers ---- */

/* Hz <-> mel on the chosen scale (librosa hz_to_mel / mel_to_hz). */
double avf_hz_to_mel(double hz, int htk);
double avf_mel_to_hz(double mel, int htk);
/* The filterbank in double into out[n_mels * (n_fft/2+1)], row-major. */
avf_status avf_mel_filterbank(const avf_mel_params *p, double *out);
/* Window value j (0..n_fft-1) of the zero-padded centred periodic Hann. */
double avf_stft_window(int64_t n_fft, int64_t win_length, int64_t j);

/* ---- ops ---- */

avf_status avf_op_stft(avf_op_ctx *ctx, const avf_stft_params *p, avf_stft_output kind,
                       const avf_tensor *x, avf_tensor *y);
avf_status avf_op_istft(avf_op_ctx *ctx, const avf_stft_params *p, int64_t length,
                        const avf_tensor *spec, avf_tensor *y);
/* Fills fb (f32 [n_mels, n_fft/2+1] on ctx's device) from the host
 * computation: one upload, tagged "spectral.melfb" in the ledger. Do it once
 * and reuse the tensor for every avf_op_logmel call. */
avf_status avf_op_mel_filterbank(avf_op_ctx *ctx, const avf_mel_params *p, avf_tensor *fb);
avf_status avf_op_logmel(avf_op_ctx *ctx, const avf_logmel_params *p, const avf_tensor *x,
                         const avf_tensor *fb, avf_tensor *y);

/* Destroy the cached FFT plans (CPU, and CUDA when built) that no caller is
 * using. For leak-checked shutdown; call after the streams are idle. */
void avf_spectral_release_caches(void);

/* ---- shared with the backends ---- */

/* The per-element rules both backends evaluate, so their results can only
 * differ by library rounding (FFT, GEMM, libm). */

/* Periodic Hann of win samples, zero-padded centred to n_fft, in double
 * (rounded to f32 by the caller). */
AVF_HD double avf_spec_window(int64_t n_fft, int64_t win, int64_t j) {
    int64_t lpad = (n_fft - win) / 2;
    int64_t n = j - lpad;
    if (n < 0 || n >= win)
        return 0.0;
    return 0.5 - 0.5 * cos(6.283185307179586476925 * (double)n / (double)win);
}

/* Sample index in the unpadded signal for padded position q, or -1 for a
 * zero (constant padding). Reflect needs pad < len (checked up front). */
AVF_HD int64_t avf_spec_src(int64_t q, int64_t pad, int64_t len, int reflect) {
    int64_t i = q - pad;
    if (i >= 0 && i < len)
        return i;
    if (!reflect)
        return -1;
    return i < 0 ? -i : 2 * (len - 1) - i;
}

/* The lower clip of a clip whose largest mel power is m, in the output's
 * domain before the final affine step; -INFINITY when nothing is clipped. */
AVF_HD float avf_spec_log_floor(int mode, float m, float amin, float ref_db,
                                                   float top_db) {
    if (mode == 1 /* DB */ && top_db > 0.0f)
        return 10.0f * log10f(fmaxf(m, amin)) - ref_db - top_db;
    if (mode == 3 /* WHISPER */)
        return log10f(fmaxf(m, 1e-10f)) - 8.0f;
    return -INFINITY;
}

/* The log step of one mel power s (lo from avf_spec_log_floor). */
AVF_HD float avf_spec_log_value(int mode, float s, float amin, float ref_db,
                                                   float eps, float lo) {
    switch (mode) {
    case 1: return fmaxf(10.0f * log10f(fmaxf(s, amin)) - ref_db, lo);
    case 2: return logf(s + eps);
    case 3: return (fmaxf(log10f(fmaxf(s, 1e-10f)), lo) + 4.0f) * 0.25f;
    default: return s;
    }
}

typedef struct avf_stft_geom {
    int64_t batch, len;    /* signal rows and samples (iSTFT: output samples) */
    int64_t n_fft, hop, win_length;
    int64_t n_freq;        /* n_fft/2 + 1 */
    int64_t n_frames;
    int64_t pad;           /* left pad (n_fft/2 centred, else 0) */
    int reflect;           /* pad mode (centred only) */
} avf_stft_geom;

/* Mel projection and log step over [batch, n_mels, n_out] of a power
 * spectrogram [batch, n_freq, n_frames] (n_out <= n_frames). */
typedef struct avf_mel_geom {
    int64_t batch, n_mels, n_freq, n_frames, n_out;
} avf_mel_geom;

avf_status avf_cpu_stft(avf_op_ctx *ctx, const avf_stft_geom *g, avf_stft_output kind,
                        const float *x, float *y);
avf_status avf_cpu_istft(avf_op_ctx *ctx, const avf_stft_geom *g, const float *spec, float *y);
avf_status avf_cpu_mel_project(avf_op_ctx *ctx, const avf_mel_geom *g, const float *fb,
                               const float *power, float *y);
avf_status avf_cpu_mel_log(avf_op_ctx *ctx, const avf_logmel_params *p, const avf_mel_geom *g,
                           float *y);
void avf_cpu_spectral_release(void);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_SPECTRAL_H */
