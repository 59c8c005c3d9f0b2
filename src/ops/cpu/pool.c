/* CPU AveragePool / MaxPool: a direct loop per output element, in f32,
 * planes split across the CPU threads; a whole-plane average (Global
 * AveragePool) is one sum per plane.
 *
 * Window of output o on a dim: taps o * stride - pad_b + t * dilation for
 * t < kernel. Max and the count_include_pad=0 average see only taps inside
 * the input; count_include_pad=1 divides by the taps inside the padded
 * extent [-pad_b, in + pad_e) (taps that ceil_mode pushes past the end pad
 * are not counted, as in ONNX's reference and PyTorch).
 * MaxPool's Indices follow the value: the tap that set the maximum.
 */
#include <math.h>

#include "core/error.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/reduce_cpu.h"

/* The planes [nc0, nc1) of the n * c planes. */
static void pool_f32(const avf_pool_params *p, const avf_conv_geom *g, const float *x, float *y,
                     int64_t *ind, int64_t nc0, int64_t nc1) {
    const int64_t *in = g->in, *k = g->k, *o = g->out, *s = g->stride, *d = g->dil;
    const int64_t *pb = g->pad_b, *pe = g->pad_e;
    int64_t ivol = in[0] * in[1] * in[2], ovol = o[0] * o[1] * o[2];
    int is_max = p->kind == AVF_POOL_MAX;
    for (int64_t nc = nc0; nc < nc1; nc++) {
        const float *xp = x + nc * ivol;
        float *yp = y + nc * ovol;
        for (int64_t j = 0; j < ovol; j++) {
            int64_t oo[3] = {j / (o[1] * o[2]), (j / o[2]) % o[1], j % o[2]};
            double acc = is_max ? -INFINITY : 0.0;
            int64_t count = 0, padded = 0, best = -1;
            for (int64_t t0 = 0; t0 < k[0]; t0++) {
                int64_t i0 = oo[0] * s[0] - pb[0] + t0 * d[0];
                if (i0 >= in[0] + pe[0])
                    break;
                for (int64_t t1 = 0; t1 < k[1]; t1++) {
                    int64_t i1 = oo[1] * s[1] - pb[1] + t1 * d[1];
                    if (i1 >= in[1] + pe[1])
                        break;
                    for (int64_t t2 = 0; t2 < k[2]; t2++) {
                        int64_t i2 = oo[2] * s[2] - pb[2] + t2 * d[2];
                        if (i2 >= in[2] + pe[2])
                            break;
                        padded++;
                        if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= in[0] || i1 >= in[1] ||
                            i2 >= in[2])
                            continue;
                        float v = xp[(i0 * in[1] + i1) * in[2] + i2];
                        count++;
                        if (is_max) {
                            if (v > acc || isnan(v) || best < 0) {
                                acc = v;
                                best = avf_pool_flat_index(p->storage_order, in, i0, i1, i2);
                            }
                        } else {
                            acc += v;
                        }
                    }
                }
            }
            if (!is_max) {
                int64_t div = p->count_include_pad ? padded : count;
                acc = div > 0 ? acc / (double)div : 0.0;
            }
            yp[j] = (float)acc;
            if (ind) /* -1: a window wholly in the padding (ONNX forbids pads >= kernel) */
                ind[nc * ovol + j] = best < 0 ? -1 : nc * ivol + best;
        }
    }
}

/* Planar (depth 1), undilated pools without MaxPool's Indices: each output
 * clips its window to the input once, then loops over the taps inside, with
 * no per-tap bounds test, index division or Indices bookkeeping. The same
 * values as pool_f32 (its summation order, its NaN rule for max), far fewer
 * instructions per tap: PP-OCR cls's stem MaxPool was most of pool_f32's
 * 16 % of that model's CPU time (perf, 2-core EPYC). */
static int is_fast_2d(const avf_conv_geom *g, const int64_t *ind) {
    return !ind && g->in[0] == 1 && g->k[0] == 1 && g->out[0] == 1 && g->pad_b[0] == 0 &&
           g->pad_e[0] == 0 && g->dil[0] == 1 && g->dil[1] == 1 && g->dil[2] == 1;
}

static void pool_2d_fast(const avf_pool_params *p, const avf_conv_geom *g, const float *x,
                         float *y, int64_t nc0, int64_t nc1) {
    const int64_t ih_n = g->in[1], iw_n = g->in[2], kh = g->k[1], kw = g->k[2];
    const int64_t oh_n = g->out[1], ow_n = g->out[2], sh = g->stride[1], sw = g->stride[2];
    const int is_max = p->kind == AVF_POOL_MAX;
    for (int64_t nc = nc0; nc < nc1; nc++) {
        const float *xp = x + nc * ih_n * iw_n;
        float *yp = y + nc * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            const int64_t h0 = oh * sh - g->pad_b[1];
            /* taps past the end pad are not taps (ceil_mode), as in pool_f32 */
            const int64_t hend = h0 + kh < ih_n + g->pad_e[1] ? h0 + kh : ih_n + g->pad_e[1];
            const int64_t ha = h0 > 0 ? h0 : 0, hb = hend < ih_n ? hend : ih_n;
            for (int64_t ow = 0; ow < ow_n; ow++) {
                const int64_t w0 = ow * sw - g->pad_b[2];
                const int64_t wend = w0 + kw < iw_n + g->pad_e[2] ? w0 + kw : iw_n + g->pad_e[2];
                const int64_t wa = w0 > 0 ? w0 : 0, wb = wend < iw_n ? wend : iw_n;
                const int64_t count = (hb > ha ? hb - ha : 0) * (wb > wa ? wb - wa : 0);
                double acc = is_max ? -INFINITY : 0.0;
                int any = 0;
                for (int64_t i1 = ha; i1 < hb; i1++) {
                    const float *row = xp + i1 * iw_n;
                    for (int64_t i2 = wa; i2 < wb; i2++) {
                        const float v = row[i2];
                        if (!is_max)
                            acc += v;
                        else if (!any || v > acc || isnan(v))
                            acc = v;
                        any = 1;
                    }
                }
                if (!is_max) {
                    const int64_t padded = (hend > h0 ? hend - h0 : 0) * (wend > w0 ? wend - w0 : 0);
                    const int64_t div = p->count_include_pad ? padded : count;
                    acc = div > 0 ? acc / (double)div : 0.0;
                }
                yp[oh * ow_n + ow] = (float)acc;
            }
        }
    }
}

/* An average over each whole plane (GlobalAveragePool, or a window as
 * large as an unpadded input): a sum in double, as pool_f32 accumulates. */
static int is_plane_mean(const avf_pool_params *p, const avf_conv_geom *g) {
    if (p->kind == AVF_POOL_MAX)
        return 0;
    for (int i = 0; i < AVF_CONV_MAX_SP; i++)
        if (g->k[i] != g->in[i] || g->out[i] != 1 || g->pad_b[i] != 0 || g->pad_e[i] != 0 ||
            g->dil[i] != 1)
            return 0;
    return 1;
}

typedef struct pool_job {
    const avf_pool_params *p;
    const avf_conv_geom *g;
    const float *x;
    float *y;
    int64_t *ind;
    int plane_mean;
} pool_job;

static void pool_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const pool_job *j = (const pool_job *)v;
    if (!j->plane_mean) {
        if (is_fast_2d(j->g, j->ind))
            pool_2d_fast(j->p, j->g, j->x, j->y, lo, hi);
        else
            pool_f32(j->p, j->g, j->x, j->y, j->ind, lo, hi);
        return;
    }
    int64_t ivol = j->g->in[0] * j->g->in[1] * j->g->in[2];
    for (int64_t nc = lo; nc < hi; nc++) {
        const float *xp = j->x + nc * ivol;
        j->y[nc] = (float)(avf_cpu_sum8_f32(xp, ivol) / (double)ivol);
    }
}

avf_status avf_cpu_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_conv_geom *g,
                        const avf_tensor *x, avf_tensor *y, avf_tensor *ind) {
    const float *xf = NULL;
    float *yf = NULL;
    void *sx = NULL, *sy = NULL;
    avf_status st = avf_cpu_conv_f32_view(ctx, x, &xf, &sx);
    if (st == AVF_OK)
        st = avf_cpu_conv_f32_out(ctx, y, &yf, &sy);
    if (st == AVF_OK) {
        pool_job j = {p, g, xf, yf, ind ? (int64_t *)ind->data : NULL, is_plane_mean(p, g)};
        int64_t ovol = g->out[0] * g->out[1] * g->out[2];
        int64_t work = (j.plane_mean ? g->in[0] * g->in[1] * g->in[2] : ovol) *
                       (j.plane_mean ? 1 : g->k[0] * g->k[1] * g->k[2]);
        /* planes are independent; a chunk: at least ~64k taps */
        avf_cpu_parallel_for(g->n * g->c_in, (1 << 16) / (work > 0 ? work : 1), pool_part, &j);
        avf_cpu_conv_f32_store(yf, y);
    }
    avf_cpu_conv_scratch_free(ctx, sx);
    avf_cpu_conv_scratch_free(ctx, sy);
    return st;
}
