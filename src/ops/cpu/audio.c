/* CPU reference kernels of the audio family (ops/audio.h). Straight loops,
 * accumulating in double; they define the results the CUDA kernels are
 * compared with. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "ops/cpu/audio_cpu.h"

avf_status avf_cpu_mixdown(avf_op_ctx *ctx, const float *w, int64_t B, int64_t C, int64_t T,
                           const float *x, float *y) {
    (void)ctx;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            double acc = 0.0;
            for (int64_t c = 0; c < C; c++)
                acc += (double)w[c] * (double)x[(b * C + c) * T + t];
            y[b * T + t] = (float)acc;
        }
    return AVF_OK;
}

avf_status avf_cpu_resample(avf_op_ctx *ctx, const avf_resample_filter *f, const float *bank,
                            int64_t rows, int64_t T, int64_t T_out, const float *x, float *y) {
    (void)ctx;
    int64_t L = f->L, M = f->M, taps = f->taps;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * T;
        for (int64_t n = 0; n < T_out; n++) {
            int64_t u = n * M, i0 = u / L, ph = u % L;
            int64_t j0 = i0 - taps / 2 + 1;
            const float *h = bank + ph * taps;
            int64_t k0 = j0 < 0 ? -j0 : 0, k1 = taps;
            if (j0 + k1 > T)
                k1 = T - j0;
            double acc = 0.0;
            for (int64_t k = k0; k < k1; k++)
                acc += (double)h[k] * (double)xr[j0 + k];
            y[r * T_out + n] = (float)acc;
        }
    }
    return AVF_OK;
}

avf_status avf_cpu_normalize(avf_op_ctx *ctx, const avf_normalize_params *p, int64_t B,
                             int64_t n, const float *x, float *y) {
    (void)ctx;
    double target = pow(10.0, p->target_db / 20.0);
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * n;
        double level = 0.0;
        if (p->kind == AVF_NORMALIZE_PEAK) {
            for (int64_t i = 0; i < n; i++)
                level = fmax(level, fabs((double)xb[i]));
        } else {
            for (int64_t i = 0; i < n; i++)
                level += (double)xb[i] * (double)xb[i];
            level = sqrt(level / (double)n);
        }
        float gain = level > 0.0 ? (float)(target / level) : 1.0f;
        for (int64_t i = 0; i < n; i++)
            y[b * n + i] = xb[i] * gain;
    }
    return AVF_OK;
}

/* One K-weighting pass over a channel, adding each 100 ms segment's sum of
 * squares into seg (direct form II transposed biquads, double state). */
static void kweight_segments(const avf_kweight *k, const float *x, int64_t nseg, int64_t seglen,
                             double *seg) {
    double s0[2] = {0, 0}, s1[2] = {0, 0};
    for (int64_t s = 0; s < nseg; s++) {
        double acc = 0.0;
        for (int64_t i = 0; i < seglen; i++) {
            double v = x[s * seglen + i];
            double o = k->b[0][0] * v + s0[0];
            s0[0] = k->b[0][1] * v - k->a[0][1] * o + s0[1];
            s0[1] = k->b[0][2] * v - k->a[0][2] * o;
            double z = k->b[1][0] * o + s1[0];
            s1[0] = k->b[1][1] * o - k->a[1][1] * z + s1[1];
            s1[1] = k->b[1][2] * o - k->a[1][2] * z;
            acc += z * z;
        }
        seg[s] += acc;
    }
}

avf_status avf_cpu_loudness(avf_op_ctx *ctx, int rate, const double *w, int64_t B, int64_t C,
                            int64_t T, const float *x, float *y) {
    (void)ctx;
    int64_t seglen = avf_loudness_segment(rate), nseg = T / seglen;
    int64_t nblk = avf_loudness_blocks(rate, T);
    if (nblk == 0) {
        for (int64_t b = 0; b < B; b++)
            y[b] = -INFINITY;
        return AVF_OK;
    }
    double *seg = malloc((size_t)nseg * sizeof *seg);
    double *tmp = malloc((size_t)nseg * sizeof *tmp);
    if (!seg || !tmp) {
        free(seg);
        free(tmp);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "loudness: no memory for %lld segments",
                        (long long)nseg);
    }
    avf_kweight k;
    avf_kweight_design(rate, &k);
    /* gates as mean-square energies: -70 LUFS, then 10 dB below the mean */
    double abs_gate = pow(10.0, (-70.0 + 0.691) / 10.0), norm = 1.0 / (4.0 * (double)seglen);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t s = 0; s < nseg; s++)
            seg[s] = 0.0;
        for (int64_t c = 0; c < C; c++) {
            if (w[c] == 0.0)
                continue;
            for (int64_t s = 0; s < nseg; s++)
                tmp[s] = 0.0;
            kweight_segments(&k, x + (b * C + c) * T, nseg, seglen, tmp);
            for (int64_t s = 0; s < nseg; s++)
                seg[s] += w[c] * tmp[s];
        }
        double sum = 0.0, rel_sum = 0.0;
        int64_t n = 0, rel_n = 0;
        for (int64_t j = 0; j < nblk; j++) {
            double e = (seg[j] + seg[j + 1] + seg[j + 2] + seg[j + 3]) * norm;
            if (e > abs_gate) {
                sum += e;
                n++;
            }
        }
        if (n > 0) {
            double rel_gate = 0.1 * sum / (double)n;
            for (int64_t j = 0; j < nblk; j++) {
                double e = (seg[j] + seg[j + 1] + seg[j + 2] + seg[j + 3]) * norm;
                if (e > abs_gate && e > rel_gate) {
                    rel_sum += e;
                    rel_n++;
                }
            }
        }
        y[b] = rel_n > 0 ? (float)(-0.691 + 10.0 * log10(rel_sum / (double)rel_n)) : -INFINITY;
    }
    free(seg);
    free(tmp);
    return AVF_OK;
}
