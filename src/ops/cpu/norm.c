/* CPU kernels: LayerNormalization (over trailing rows), BatchNormalization
 * (per channel of [batch, c, spatial]) and its training-mode batch
 * statistics. */
#include <math.h>

#include "core/error.h"
#include "ops/cpu/reduce_cpu.h"

avf_status avf_cpu_layernorm(avf_op_ctx *ctx, int64_t rows, int64_t n, float eps,
                             const avf_tensor *x, const avf_tensor *scale,
                             const avf_tensor *bias, avf_tensor *y, avf_tensor *mean,
                             avf_tensor *inv_std) {
    (void)ctx;
    avf_dtype dt = x->dtype;
    /* scale and bias hold n values or one (checked by the entry point) */
    int64_t s_step = avf_tensor_numel(scale) == 1 ? 0 : 1;
    int64_t b_step = bias && avf_tensor_numel(bias) == 1 ? 0 : 1;
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = r * n;
        double mu = 0.0, var = 0.0;
        for (int64_t j = 0; j < n; j++)
            mu += avf_cpu_ld(x->data, dt, base + j);
        mu = n ? mu / (double)n : NAN;
        for (int64_t j = 0; j < n; j++) {
            double d = avf_cpu_ld(x->data, dt, base + j) - mu;
            var += d * d;
        }
        var = n ? var / (double)n : NAN;
        double inv = 1.0 / sqrt(var + (double)eps);
        for (int64_t j = 0; j < n; j++) {
            double v = (avf_cpu_ld(x->data, dt, base + j) - mu) * inv *
                       avf_cpu_ld(scale->data, dt, j * s_step);
            if (bias)
                v += avf_cpu_ld(bias->data, dt, j * b_step);
            avf_cpu_st(y->data, dt, base + j, v);
        }
        if (mean)
            ((float *)mean->data)[r] = (float)mu;
        if (inv_std)
            ((float *)inv_std->data)[r] = (float)inv;
    }
    return AVF_OK;
}

avf_status avf_cpu_batchnorm(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                             float eps, const avf_tensor *x, const avf_tensor *scale,
                             const avf_tensor *bias, const avf_tensor *mean,
                             const avf_tensor *var, avf_tensor *y) {
    (void)ctx;
    for (int64_t ch = 0; ch < c; ch++) {
        /* y = (x - mean) * a + bias, a = scale / sqrt(var + eps) */
        double a = avf_cpu_ld(scale->data, scale->dtype, ch) /
                   sqrt(avf_cpu_ld(var->data, var->dtype, ch) + (double)eps);
        double mu = avf_cpu_ld(mean->data, mean->dtype, ch);
        double b = avf_cpu_ld(bias->data, bias->dtype, ch);
        for (int64_t n = 0; n < batch; n++) {
            int64_t base = (n * c + ch) * spatial;
            if (x->dtype == AVF_DTYPE_F32) {
                const float *xp = (const float *)x->data + base;
                float *yp = (float *)y->data + base;
                float af = (float)a, bf = (float)b, mf = (float)mu;
                for (int64_t s = 0; s < spatial; s++)
                    yp[s] = (xp[s] - mf) * af + bf;
            } else {
                for (int64_t s = 0; s < spatial; s++)
                    avf_cpu_st(y->data, x->dtype, base + s,
                               (avf_cpu_ld(x->data, x->dtype, base + s) - mu) * a + b);
            }
        }
    }
    return AVF_OK;
}

avf_status avf_cpu_batchnorm_stats(avf_op_ctx *ctx, int64_t batch, int64_t c, int64_t spatial,
                                   float momentum, const avf_tensor *x, const avf_tensor *mean,
                                   const avf_tensor *var, avf_tensor *bmean, avf_tensor *bvar,
                                   avf_tensor *run_mean, avf_tensor *run_var) {
    (void)ctx;
    double cnt = (double)batch * (double)spatial;
    for (int64_t ch = 0; ch < c; ch++) {
        /* two passes (mean, then centred squares): no cancellation */
        double mu = 0.0, sq = 0.0;
        for (int64_t n = 0; n < batch; n++)
            for (int64_t s = 0; s < spatial; s++)
                mu += avf_cpu_ld(x->data, x->dtype, (n * c + ch) * spatial + s);
        mu /= cnt;
        for (int64_t n = 0; n < batch; n++)
            for (int64_t s = 0; s < spatial; s++) {
                double d = avf_cpu_ld(x->data, x->dtype, (n * c + ch) * spatial + s) - mu;
                sq += d * d;
            }
        double v = sq / cnt, m = (double)momentum;
        ((float *)bmean->data)[ch] = (float)mu;
        ((float *)bvar->data)[ch] = (float)v;
        if (run_mean)
            avf_cpu_st(run_mean->data, mean->dtype, ch,
                       avf_cpu_ld(mean->data, mean->dtype, ch) * m + mu * (1.0 - m));
        if (run_var)
            avf_cpu_st(run_var->data, var->dtype, ch,
                       avf_cpu_ld(var->data, var->dtype, ch) * m + v * (1.0 - m));
    }
    return AVF_OK;
}
