/* Shape functions, filter design and dispatch of the audio op family
 * (ops/audio.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/audio.h"
#include "ops/cpu/audio_cpu.h"
#include "ops/cuda/audio_cuda.h"

#ifdef AVF_HAVE_CUDA
#define AVF_DISPATCH(ctx, name, ...) \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__) : avf_cuda_##name(ctx, __VA_ARGS__))
#else
#define AVF_DISPATCH(ctx, name, ...) \
    (avf_op_device_is_cpu(ctx) ? avf_cpu_##name(ctx, __VA_ARGS__) : AVF_OP_NO_CUDA(#name))
#endif

#define AVF_RESAMPLE_MAX_BANK (((int64_t)1) << 25)
#define AVF_RESAMPLE_MAX_TAPS 8192
#define AVF_AUDIO_MAX_T (((int64_t)1) << 40)

static const avf_dtype f32_only[] = {AVF_DTYPE_F32};

static avf_status check_rate(const char *op, const char *what, int rate) {
    if (rate < AVF_AUDIO_OP_MIN_RATE || rate > AVF_AUDIO_OP_MAX_RATE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %s %d Hz is outside [%d, %d]", op, what, rate,
                        AVF_AUDIO_OP_MIN_RATE, AVF_AUDIO_OP_MAX_RATE);
    return AVF_OK;
}

/* [B, C, T] with C in [1, 64] and T <= 2^40. */
static avf_status check_bct(const char *op, int ndim, const int64_t *dims) {
    if (ndim != 3 || !dims)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: input must be [batch, channels, frames] (rank %d)",
                        op, ndim);
    if (dims[0] < 0 || dims[1] < 1 || dims[1] > AVF_AUDIO_OP_MAX_CHANNELS || dims[2] < 0 ||
        dims[2] > AVF_AUDIO_MAX_T)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "%s: input [%lld, %lld, %lld] needs 1..%d channels and <= 2^40 frames", op,
                        (long long)dims[0], (long long)dims[1], (long long)dims[2],
                        AVF_AUDIO_OP_MAX_CHANNELS);
    int64_t n;
    AVF_TRY(avf_shape_numel(3, dims, &n));
    return AVF_OK;
}

static avf_status check_io(const avf_op_ctx *ctx, const char *op, const avf_tensor *x,
                           const avf_tensor *y, int yndim, const int64_t *ydims) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "x"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "y"));
    AVF_TRY(avf_op_check_dtype(x, "x", f32_only, 1));
    AVF_TRY(avf_op_check_dtype(y, "y", f32_only, 1));
    AVF_TRY(check_bct(op, x->ndim, x->shape));
    AVF_TRY(avf_op_check_shape(y, "y", yndim, ydims));
    return AVF_OK;
}

/* ---------------------------------------------------------------- mixdown */

avf_status avf_mixdown_shape(const avf_mixdown_params *p, int ndim, const int64_t *dims,
                             int64_t *out_dims) {
    AVF_CHECK_ARG(p != NULL && out_dims != NULL);
    AVF_TRY(check_bct("mixdown", ndim, dims));
    if (p->n_weights != 0 && p->n_weights != dims[1])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "mixdown: %d weights for %lld channels", p->n_weights,
                        (long long)dims[1]);
    for (int i = 0; i < p->n_weights; i++)
        if (!isfinite(p->weights[i]))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "mixdown: weight %d is not finite", i);
    out_dims[0] = dims[0];
    out_dims[1] = 1;
    out_dims[2] = dims[2];
    return AVF_OK;
}

avf_status avf_op_mixdown(avf_op_ctx *ctx, const avf_mixdown_params *p, const avf_tensor *x,
                          avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    int64_t od[3];
    AVF_TRY(avf_mixdown_shape(p, x->ndim, x->shape, od));
    AVF_TRY(check_io(ctx, "mixdown", x, y, 3, od));
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2];
    if (B * T == 0)
        return AVF_OK;
    float w[AVF_AUDIO_OP_MAX_CHANNELS];
    for (int64_t c = 0; c < C; c++)
        w[c] = p->n_weights ? p->weights[c] : (float)(1.0 / (double)C);
    return AVF_DISPATCH(ctx, mixdown, w, B, C, T, (const float *)x->data, (float *)y->data);
}

/* ---------------------------------------------------------------- resample */

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0 (power series; the
 * terms fall fast for the beta values used here). */
static double bessel_i0(double x) {
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

avf_status avf_resample_filter_make(const avf_resample_params *p, avf_resample_filter *f) {
    AVF_CHECK_ARG(p != NULL && f != NULL);
    memset(f, 0, sizeof *f);
    AVF_TRY(check_rate("resample", "input rate", p->in_rate));
    AVF_TRY(check_rate("resample", "output rate", p->out_rate));
    double rolloff = p->rolloff == 0.0 ? 0.95 : p->rolloff;
    double beta = p->kaiser_beta == 0.0 ? 10.0 : p->kaiser_beta;
    if (!(rolloff > 0.1 && rolloff <= 1.0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "resample: rolloff %g is outside (0.1, 1]", rolloff);
    if (!(beta >= 0.0 && beta <= 40.0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "resample: Kaiser beta %g is outside [0, 40]", beta);
    int64_t g = gcd64(p->in_rate, p->out_rate);
    int64_t L = p->out_rate / g, M = p->in_rate / g;
    double fc = rolloff * (L < M ? (double)L / (double)M : 1.0);
    int64_t taps = p->taps;
    if (taps == 0)
        taps = 2 * (int64_t)ceil(64.0 / fc);
    if (taps < 2 || taps > AVF_RESAMPLE_MAX_TAPS || taps % 2)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "resample: %lld taps per phase (even, 2..%d)",
                        (long long)taps, AVF_RESAMPLE_MAX_TAPS);
    if (L * taps > AVF_RESAMPLE_MAX_BANK)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "resample: %d -> %d Hz needs %lld phases x %lld taps (> 2^25)",
                        p->in_rate, p->out_rate, (long long)L, (long long)taps);
    float *h = malloc((size_t)(L * taps) * sizeof *h);
    double *tmp = malloc((size_t)taps * sizeof *tmp);
    if (!h || !tmp) {
        free(h);
        free(tmp);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "resample: no memory for the filter bank");
    }
    double half = (double)taps / 2.0, i0b = bessel_i0(beta);
    for (int64_t ph = 0; ph < L; ph++) {
        double sum = 0.0;
        for (int64_t k = 0; k < taps; k++) {
            /* distance from the output instant to input sample k of the window */
            double u = (double)ph / (double)L + half - 1.0 - (double)k;
            double a = fc * u, s = fabs(a) < 1e-12 ? 1.0 : sin(M_PI * a) / (M_PI * a);
            double r = u / half, w = fabs(r) >= 1.0 ? 0.0 : bessel_i0(beta * sqrt(1.0 - r * r)) / i0b;
            tmp[k] = fc * s * w;
            sum += tmp[k];
        }
        for (int64_t k = 0; k < taps; k++)
            h[ph * taps + k] = (float)(tmp[k] / sum);
    }
    free(tmp);
    f->L = L;
    f->M = M;
    f->taps = (int)taps;
    f->fc = fc;
    f->h = h;
    return AVF_OK;
}

void avf_resample_filter_free(avf_resample_filter *f) {
    if (!f)
        return;
    free(f->h);
    memset(f, 0, sizeof *f);
}

avf_status avf_resample_filter_upload(avf_op_ctx *ctx, const avf_resample_filter *f,
                                      avf_tensor *bank) {
    AVF_CHECK_ARG(ctx != NULL && f != NULL && f->h != NULL && bank != NULL);
    int64_t dims[2] = {f->L, f->taps};
    AVF_TRY(avf_tensor_alloc(bank, ctx->pool, AVF_DTYPE_F32, 2, dims, ctx->stream));
    avf_status s = avf_memcpy_async(ctx->dev, bank->data, f->h, avf_tensor_nbytes(bank),
                                    avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_H2D,
                                    ctx->stream, "audio.resample.filter");
    if (s != AVF_OK)
        avf_tensor_release(bank, ctx->stream);
    return s;
}

avf_status avf_resample_shape(const avf_resample_filter *f, int ndim, const int64_t *dims,
                              int64_t *out_dims) {
    AVF_CHECK_ARG(f != NULL && out_dims != NULL);
    if (f->L < 1 || f->M < 1 || f->taps < 2 || !f->h)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "resample: the filter was not made");
    AVF_TRY(check_bct("resample", ndim, dims));
    /* T <= 2^40 and L <= 384000 < 2^19: T * L fits in int64 */
    out_dims[0] = dims[0];
    out_dims[1] = dims[1];
    out_dims[2] = (dims[2] * f->L + f->M - 1) / f->M;
    int64_t n;
    AVF_TRY(avf_shape_numel(3, out_dims, &n));
    return AVF_OK;
}

avf_status avf_op_resample(avf_op_ctx *ctx, const avf_resample_filter *f, const avf_tensor *bank,
                           const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(x != NULL);
    int64_t od[3];
    AVF_TRY(avf_resample_shape(f, x->ndim, x->shape, od));
    AVF_TRY(check_io(ctx, "resample", x, y, 3, od));
    AVF_TRY(avf_op_check_tensor(ctx, bank, "bank"));
    AVF_TRY(avf_op_check_dtype(bank, "bank", f32_only, 1));
    int64_t bd[2] = {f->L, f->taps};
    AVF_TRY(avf_op_check_shape(bank, "bank", 2, bd));
    int64_t rows = x->shape[0] * x->shape[1];
    if (rows * od[2] == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, resample, f, (const float *)bank->data, rows, x->shape[2], od[2],
                        (const float *)x->data, (float *)y->data);
}

/* ---------------------------------------------------------------- normalize */

avf_status avf_op_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, const avf_tensor *x,
                            avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    if (p->kind != AVF_NORMALIZE_PEAK && p->kind != AVF_NORMALIZE_RMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "normalize: unknown kind %d", (int)p->kind);
    if (!(p->target_db >= -200.0 && p->target_db <= 60.0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "normalize: target %g dBFS is outside [-200, 60]",
                        p->target_db);
    AVF_TRY(check_bct("normalize", x->ndim, x->shape));
    AVF_TRY(check_io(ctx, "normalize", x, y, 3, x->shape));
    int64_t B = x->shape[0], n = x->shape[1] * x->shape[2];
    if (B * n == 0)
        return AVF_OK;
    return AVF_DISPATCH(ctx, normalize, p, B, n, (const float *)x->data, (float *)y->data);
}

/* ---------------------------------------------------------------- loudness */

void avf_kweight_design(int rate, avf_kweight *k) {
    /* BS.1770's 48 kHz coefficients come from these analog prototypes (a
     * high shelf of +4 dB at ~1.68 kHz and a ~38 Hz high-pass); redoing the
     * bilinear transform at `rate` gives the filter for any rate. */
    double fs = (double)rate;
    double f0 = 1681.974450955533, gain_db = 3.999843853973347, q = 0.7071752369554196;
    double K = tan(M_PI * f0 / fs), vh = pow(10.0, gain_db / 20.0);
    double vb = pow(vh, 0.4996667741545416), a0 = 1.0 + K / q + K * K;
    k->b[0][0] = (vh + vb * K / q + K * K) / a0;
    k->b[0][1] = 2.0 * (K * K - vh) / a0;
    k->b[0][2] = (vh - vb * K / q + K * K) / a0;
    k->a[0][0] = 1.0;
    k->a[0][1] = 2.0 * (K * K - 1.0) / a0;
    k->a[0][2] = (1.0 - K / q + K * K) / a0;
    f0 = 38.13547087602444;
    q = 0.5003270373238773;
    K = tan(M_PI * f0 / fs);
    a0 = 1.0 + K / q + K * K;
    k->b[1][0] = 1.0;
    k->b[1][1] = -2.0;
    k->b[1][2] = 1.0;
    k->a[1][0] = 1.0;
    k->a[1][1] = 2.0 * (K * K - 1.0) / a0;
    k->a[1][2] = (1.0 - K / q + K * K) / a0;
}

void avf_loudness_weights(const avf_loudness_params *p, int channels, double *w) {
    for (int c = 0; c < channels; c++)
        w[c] = p->n_weights ? (double)p->weights[c] : 1.0;
    if (p->n_weights)
        return;
    if (channels == 4) { /* L R Ls Rs */
        w[2] = w[3] = 1.41;
    } else if (channels == 5) { /* L R C Ls Rs */
        w[3] = w[4] = 1.41;
    } else if (channels == 6) { /* L R C LFE Ls Rs: the LFE does not count */
        w[3] = 0.0;
        w[4] = w[5] = 1.41;
    }
}

int64_t avf_loudness_segment(int rate) { return ((int64_t)rate + 5) / 10; }

int64_t avf_loudness_blocks(int rate, int64_t frames) {
    int64_t seg = avf_loudness_segment(rate), nseg = frames / seg;
    return nseg >= 4 ? nseg - 3 : 0;
}

avf_status avf_op_loudness(avf_op_ctx *ctx, const avf_loudness_params *p, const avf_tensor *x,
                           avf_tensor *y) {
    AVF_CHECK_ARG(p != NULL && x != NULL);
    /* the shelf's 1.68 kHz corner must sit well below Nyquist or the
     * bilinear design turns unstable (below ~3.4 kHz); 8 kHz is also the
     * lowest rate libebur128 is checked against here */
    if (p->sample_rate < 8000 || p->sample_rate > AVF_AUDIO_OP_MAX_RATE)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "loudness: sample rate %d Hz is outside [8000, %d]",
                        p->sample_rate, AVF_AUDIO_OP_MAX_RATE);
    AVF_TRY(check_bct("loudness", x->ndim, x->shape));
    int64_t B = x->shape[0], C = x->shape[1], T = x->shape[2];
    if (p->n_weights != 0 && p->n_weights != C)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "loudness: %d weights for %lld channels",
                        p->n_weights, (long long)C);
    for (int i = 0; i < p->n_weights; i++)
        if (!(p->weights[i] >= 0.0f && p->weights[i] <= 100.0f))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "loudness: weight %d (%g) is outside [0, 100]", i,
                            (double)p->weights[i]);
    int64_t yd[1] = {B};
    AVF_TRY(check_io(ctx, "loudness", x, y, 1, yd));
    if (B == 0)
        return AVF_OK;
    double w[AVF_AUDIO_OP_MAX_CHANNELS];
    avf_loudness_weights(p, (int)C, w);
    return AVF_DISPATCH(ctx, loudness, p->sample_rate, w, B, C, T, (const float *)x->data,
                        (float *)y->data);
}
