/* CPU AveragePool / MaxPool: a direct loop per output element, in f32.
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

static void pool_f32(const avf_pool_params *p, const avf_conv_geom *g, const float *x, float *y,
                     int64_t *ind) {
    const int64_t *in = g->in, *k = g->k, *o = g->out, *s = g->stride, *d = g->dil;
    const int64_t *pb = g->pad_b, *pe = g->pad_e;
    int64_t ivol = in[0] * in[1] * in[2], ovol = o[0] * o[1] * o[2];
    int is_max = p->kind == AVF_POOL_MAX;
    for (int64_t nc = 0; nc < g->n * g->c_in; nc++) {
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

avf_status avf_cpu_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_conv_geom *g,
                        const avf_tensor *x, avf_tensor *y, avf_tensor *ind) {
    const float *xf = NULL;
    float *yf = NULL;
    void *sx = NULL, *sy = NULL;
    avf_status st = avf_cpu_conv_f32_view(ctx, x, &xf, &sx);
    if (st == AVF_OK)
        st = avf_cpu_conv_f32_out(ctx, y, &yf, &sy);
    if (st == AVF_OK) {
        pool_f32(p, g, xf, yf, ind ? (int64_t *)ind->data : NULL);
        avf_cpu_conv_f32_store(yf, y);
    }
    avf_cpu_conv_scratch_free(ctx, sx);
    avf_cpu_conv_scratch_free(ctx, sy);
    return st;
}
