/* Double-precision references of the spectral tests (test_spectral.c),
 * written from the conventions in src/ops/spectral.h and librosa's
 * documentation, independently of the kernels: a direct DFT, a direct
 * inverse with overlap-add, closed-form mel scales and triangles, and the
 * log-mel pipeline on top of them. */
#ifndef AVF_TEST_SPECTRAL_REF_H
#define AVF_TEST_SPECTRAL_REF_H

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "op_test_util.h"
#include "ops/spectral.h"

#define PI 3.14159265358979323846

static int64_t numel_of(int nd, const int64_t *s) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= s[i];
    return n;
}

/* ---- double references, written independently of src/ops ---- */

static double ref_window(int64_t n_fft, int64_t win, int64_t j) {
    int64_t start = (n_fft - win) / 2;
    if (j < start || j >= start + win)
        return 0.0;
    return 0.5 * (1.0 - cos(2.0 * PI * (double)(j - start) / (double)win));
}

/* Sample of the padded signal at padded position q (numpy 'reflect' or
 * zeros outside). */
static double ref_padded(const float *x, int64_t len, int64_t pad, int reflect, int64_t q) {
    int64_t i = q - pad;
    if (i < 0)
        return reflect ? x[-i] : 0.0;
    if (i >= len)
        return reflect ? x[len - 2 - (i - len)] : 0.0;
    return x[i];
}

/* X [n_freq][frames][2] of one clip by a direct DFT. */
static double *ref_stft(const float *x, int64_t len, const avf_stft_params *p, int64_t *frames) {
    int64_t n = p->n_fft, nf = n / 2 + 1, win = p->win_length ? p->win_length : n;
    int64_t pad = p->center ? n / 2 : 0;
    int64_t nt = (len + 2 * pad - n) / p->hop_length + 1;
    double *X = calloc((size_t)(nf * nt * 2), sizeof *X);
    double *fr = malloc((size_t)n * sizeof *fr);
    double *cs = malloc((size_t)n * sizeof *cs), *sn = malloc((size_t)n * sizeof *sn);
    assert_non_null(X);
    for (int64_t k = 0; k < n; k++) {
        cs[k] = cos(2.0 * PI * (double)k / (double)n);
        sn[k] = sin(2.0 * PI * (double)k / (double)n);
    }
    for (int64_t t = 0; t < nt; t++) {
        for (int64_t j = 0; j < n; j++)
            fr[j] = ref_padded(x, len, pad, p->pad_mode == AVF_STFT_PAD_REFLECT,
                               t * p->hop_length + j) *
                    ref_window(n, win, j);
        for (int64_t f = 0; f < nf; f++) {
            double re = 0.0, im = 0.0;
            for (int64_t j = 0; j < n; j++) {
                int64_t k = (f * j) % n;
                re += fr[j] * cs[k];
                im -= fr[j] * sn[k];
            }
            X[(f * nt + t) * 2] = re;
            X[(f * nt + t) * 2 + 1] = im;
        }
    }
    free(fr);
    free(cs);
    free(sn);
    *frames = nt;
    return X;
}

/* librosa.istft of one clip's spectrum [n_freq][frames][2] in double:
 * irfft (imaginary DC/Nyquist ignored), window, overlap-add, divide by the
 * window sum-square where it exceeds FLT_MIN, trim. mask[i] (optional) is
 * set where the envelope is >= 1e-3, i.e. where the inverse is well
 * conditioned enough to compare f32 results (at the edges of an uncentred
 * inverse it divides by w^2 ~ 1e-13). */
static void ref_istft(const float *X, const avf_stft_params *p, int64_t nt, int64_t out_len,
                      double *y, int *mask) {
    int64_t n = p->n_fft, nf = n / 2 + 1, win = p->win_length ? p->win_length : n;
    int64_t full = n + p->hop_length * (nt - 1), pad = p->center ? n / 2 : 0;
    double *acc = calloc((size_t)full, sizeof *acc), *wss = calloc((size_t)full, sizeof *wss);
    double *fr = malloc((size_t)n * sizeof *fr);
    for (int64_t t = 0; t < nt; t++) {
        for (int64_t j = 0; j < n; j++) {
            double v = 0.0;
            for (int64_t f = 0; f < nf; f++) {
                double re = X[(f * nt + t) * 2], im = X[(f * nt + t) * 2 + 1];
                double ang = 2.0 * PI * (double)((f * j) % n) / (double)n;
                int edge = f == 0 || (n % 2 == 0 && f == nf - 1);
                v += edge ? re * cos(ang) : 2.0 * (re * cos(ang) - im * sin(ang));
            }
            fr[j] = v / (double)n;
        }
        for (int64_t j = 0; j < n; j++) {
            double w = ref_window(n, win, j);
            acc[t * p->hop_length + j] += fr[j] * w;
            wss[t * p->hop_length + j] += w * w;
        }
    }
    for (int64_t i = 0; i < out_len; i++) {
        int64_t q = i + pad;
        if (q >= full) {
            y[i] = 0.0;
            if (mask)
                mask[i] = 1;
            continue;
        }
        y[i] = wss[q] > FLT_MIN ? acc[q] / wss[q] : acc[q];
        if (mask)
            mask[i] = wss[q] >= 1e-3;
    }
    free(acc);
    free(wss);
    free(fr);
}

/* ref_istft's mask alone (cheap: no transforms). */
static void ref_istft_mask(const avf_stft_params *p, int64_t nt, int64_t out_len, int *mask) {
    int64_t n = p->n_fft, win = p->win_length ? p->win_length : n;
    int64_t full = n + p->hop_length * (nt - 1), pad = p->center ? n / 2 : 0;
    double *wss = calloc((size_t)full, sizeof *wss);
    for (int64_t t = 0; t < nt; t++)
        for (int64_t j = 0; j < n; j++) {
            double w = ref_window(n, win, j);
            wss[t * p->hop_length + j] += w * w;
        }
    for (int64_t i = 0; i < out_len; i++)
        mask[i] = i + pad >= full || wss[i + pad] >= 1e-3;
    free(wss);
}

/* Relative error over the masked samples only. */
static double masked_rel_err(const float *got, const double *want_d, const float *want_f,
                             const int *mask, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (!mask[i])
            continue;
        double w = want_d ? want_d[i] : (double)want_f[i], d = (double)got[i] - w;
        num += d * d;
        den += w * w;
    }
    return den > 0.0 ? sqrt(num / den) : (num == 0.0 ? 0.0 : INFINITY);
}

/* Closed-form mel scales (Slaney: 3 mel per 200 Hz to 1 kHz = mel 15, then
 * 27 mels per factor 6.4; HTK: 2595 log10(1 + f/700)). */
static double ref_mel(double f, int htk) {
    if (htk)
        return 2595.0 * log10(1.0 + f / 700.0);
    return f < 1000.0 ? f * 3.0 / 200.0 : 15.0 + 27.0 * log(f / 1000.0) / log(6.4);
}
static double ref_hz(double m, int htk) {
    if (htk)
        return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    return m < 15.0 ? m * 200.0 / 3.0 : 1000.0 * pow(6.4, (m - 15.0) / 27.0);
}

static double ref_mel_weight(const avf_mel_params *p, int64_t m, int64_t k) {
    double fmax = p->fmax > 0 ? p->fmax : p->sample_rate / 2;
    double lo_m = ref_mel(p->fmin, p->htk), hi_m = ref_mel(fmax, p->htk);
    double step = (hi_m - lo_m) / (double)(p->n_mels + 1);
    double a = ref_hz(lo_m + step * m, p->htk), c = ref_hz(lo_m + step * (m + 1), p->htk);
    double e = ref_hz(lo_m + step * (m + 2), p->htk);
    double f = (double)k * p->sample_rate / (double)p->n_fft;
    double w = f <= a || f >= e ? 0.0 : f <= c ? (f - a) / (c - a) : (e - f) / (e - c);
    return p->slaney_norm ? w * 2.0 / (e - a) : w;
}

/* The NumPy script's fixed input (scripts/spectral_reference.py). */
static void numpy_signal(float *x, int64_t n, double sr) {
    for (int64_t i = 0; i < n; i++) {
        double d = (double)i;
        x[i] = (float)(sin(2 * PI * 440.0 * d / sr) + 0.5 * sin(2 * PI * 3000.0 * d / sr + 0.3) +
                       0.25 * cos(0.0007 * d * d / sr * 100.0));
    }
}

static void ref_logmel(const avf_logmel_params *lp, const avf_mel_params *mp, const float *x,
                       int64_t batch, int64_t len, double *out, int64_t n_out) {
    int64_t nf = mp->n_fft / 2 + 1, nm = mp->n_mels;
    double *fb = malloc((size_t)(nm * nf) * sizeof *fb);
    for (int64_t m = 0; m < nm; m++)
        for (int64_t k = 0; k < nf; k++)
            fb[m * nf + k] = ref_mel_weight(mp, m, k);
    for (int64_t b = 0; b < batch; b++) {
        int64_t nt;
        double *X = ref_stft(x + b * len, len, &lp->stft, &nt);
        double *o = out + b * nm * n_out, mx = -INFINITY;
        for (int64_t m = 0; m < nm; m++)
            for (int64_t t = 0; t < n_out; t++) {
                double s = 0.0;
                for (int64_t k = 0; k < nf; k++) {
                    const double *c = X + (k * nt + t) * 2;
                    s += fb[m * nf + k] * (c[0] * c[0] + c[1] * c[1]);
                }
                double v = s;
                if (lp->mode == AVF_LOGMEL_DB)
                    v = 10.0 * log10(fmax(s, lp->amin)) - 10.0 * log10(fmax(lp->amin, lp->ref));
                else if (lp->mode == AVF_LOGMEL_LN)
                    v = log(s + lp->eps);
                else if (lp->mode == AVF_LOGMEL_WHISPER)
                    v = log10(fmax(s, 1e-10));
                o[m * n_out + t] = v;
                mx = fmax(mx, v);
            }
        for (int64_t i = 0; i < nm * n_out; i++) {
            if (lp->mode == AVF_LOGMEL_DB && lp->top_db > 0)
                o[i] = fmax(o[i], mx - lp->top_db);
            if (lp->mode == AVF_LOGMEL_WHISPER)
                o[i] = (fmax(o[i], mx - 8.0) + 4.0) / 4.0;
        }
        free(X);
    }
    free(fb);
}

#endif /* AVF_TEST_SPECTRAL_REF_H */
