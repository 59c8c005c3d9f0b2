/* CPU Conv with few output positions per image (group 1, planar): each
 * output is the dot product of a filter row (contiguous in W) with the
 * position's patch, computed directly.
 *
 * Why: Silero VAD's convolutions have 4, 2 or 1 output positions (its STFT
 * as 258 filters of 256 taps, then 129 -> 128 -> 64 -> 64 -> 128 channels of
 * 3 taps, then a 1x1 decoder). As im2col + sgemm that is a GEMM of N <= 4
 * columns, for which OpenBLAS 0.3.21 packs the whole filter matrix on every
 * call: perf on a 2-core EPYC had sgemm's copy routines at 23 % of the CPU
 * VAD run, more than its multiply-adds. Here the filters are read once, in
 * place.
 *
 * The patches of an image are gathered once per chunk as rows (position x
 * reduction, the transpose of im2col's layout) so that both operands of
 * every dot product are contiguous; two filters x four positions are eight
 * vector accumulators over the reduction, 8 floats wide (GCC vector
 * extensions: 2 SSE halves in the baseline build, one AVX2 + FMA register
 * in the AVX2 build, simd.h). The summation order differs from the GEMM's,
 * so results differ from it by rounding only. */
#include <string.h>

#include "core/error.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/simd.h"

#define LOAD8(dst, p) memcpy(&(dst), (p), sizeof(avf_v8f))

AVF_CPU_INLINE float hsum8(const avf_v8f *v) {
    return (((*v)[0] + (*v)[4]) + ((*v)[1] + (*v)[5])) + (((*v)[2] + (*v)[6]) + ((*v)[3] + (*v)[7]));
}

/* y[co][p] = bias[co] + sum_r w[co][r] * pt[p][r] for co in [c0, c1), all
 * np (<= AVF_CPU_SHORT_MAX_POS) positions; y rows are ystride apart. */
AVF_CPU_INLINE void dots_body(const float *restrict w, int64_t kdim, int64_t c0, int64_t c1,
                              const float *restrict pt, int64_t np, const float *restrict bias,
                              float *restrict y, int64_t ystride) {
    const int64_t k8 = kdim & ~(int64_t)7;
    for (int64_t co = c0; co < c1; co += 2) {
        const int two = co + 1 < c1;
        const float *w0 = w + co * kdim, *w1 = two ? w0 + kdim : w0;
        for (int64_t p0 = 0; p0 < np; p0 += 4) {
            const int64_t nq = np - p0 < 4 ? np - p0 : 4;
            const float *x[4];
            for (int q = 0; q < 4; q++)
                x[q] = pt + (p0 + (q < nq ? q : 0)) * kdim; /* spare lanes repeat row 0 */
            avf_v8f a0[4] = {{0}}, a1[4] = {{0}};
            for (int64_t r = 0; r < k8; r += 8) {
                avf_v8f u0, u1;
                LOAD8(u0, w0 + r);
                LOAD8(u1, w1 + r);
                for (int q = 0; q < 4; q++) {
                    avf_v8f xv;
                    LOAD8(xv, x[q] + r);
                    a0[q] += u0 * xv;
                    a1[q] += u1 * xv;
                }
            }
            for (int q = 0; q < nq; q++) {
                float s0 = hsum8(&a0[q]), s1 = hsum8(&a1[q]);
                for (int64_t r = k8; r < kdim; r++) {
                    s0 += w0[r] * x[q][r];
                    s1 += w1[r] * x[q][r];
                }
                y[co * ystride + p0 + q] = s0 + (bias ? bias[co] : 0.0f);
                if (two)
                    y[(co + 1) * ystride + p0 + q] = s1 + (bias ? bias[co + 1] : 0.0f);
            }
        }
    }
}

static void dots_base(const float *w, int64_t kdim, int64_t c0, int64_t c1, const float *pt,
                      int64_t np, const float *bias, float *y, int64_t ystride) {
    dots_body(w, kdim, c0, c1, pt, np, bias, y, ystride);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static void dots_avx2(const float *w, int64_t kdim, int64_t c0, int64_t c1,
                                          const float *pt, int64_t np, const float *bias,
                                          float *y, int64_t ystride) {
    dots_body(w, kdim, c0, c1, pt, np, bias, y, ystride);
}
#endif

typedef void (*dots_fn)(const float *, int64_t, int64_t, int64_t, const float *, int64_t,
                        const float *, float *, int64_t);

int avf_cpu_conv_short_ok(const avf_conv_geom *g) {
    const int64_t ovol = g->out[0] * g->out[1] * g->out[2];
    const int64_t kdim = g->c_in * g->k[0] * g->k[1] * g->k[2];
    return g->group == 1 && avf_cpu_conv_is_planar(g) && ovol >= 1 &&
           ovol <= AVF_CPU_SHORT_MAX_POS && kdim >= 1 && kdim <= AVF_CPU_SHORT_MAX_KDIM;
}

/* Work items: (image, block of AVF_CPU_SHORT_CO_BLOCK filters). Each item
 * gathers its image's patches into its thread's scratch (col, then the
 * transposed rows pt), a few KiB next to the filters' reads. */
#define AVF_CPU_SHORT_CO_BLOCK 32

typedef struct short_job {
    const avf_conv_geom *g;
    const float *x, *w, *b;
    float *y, *scratch;
    int64_t kdim, ovol, blocks;
    dots_fn dots;
} short_job;

/* pt[p][r]: the patch of output position p (r = (c, kh, kw)), 0 in the
 * pads. 1-D (one row in and out): each channel's taps are a run of the
 * input row, copied straight (the stride-128 STFT reads 256 contiguous
 * samples per position). Otherwise im2col's columns, transposed. */
static void gather(const avf_conv_geom *g, const float *x, int64_t kdim, int64_t ovol,
                   float *col, float *pt) {
    if (g->in[1] == 1 && g->k[1] == 1 && g->out[1] == 1) {
        const int64_t l = g->in[2], k = g->k[2], s = g->stride[2], d = g->dil[2];
        for (int64_t p = 0; p < ovol; p++) {
            const int64_t i0 = p * s - g->pad_b[2];
            float *row = pt + p * kdim;
            for (int64_t c = 0; c < g->c_in; c++, row += k) {
                const float *xc = x + c * l;
                if (d == 1 && i0 >= 0 && i0 + k <= l) {
                    memcpy(row, xc + i0, (size_t)k * sizeof *row);
                    continue;
                }
                for (int64_t kk = 0; kk < k; kk++) {
                    const int64_t i = i0 + kk * d;
                    row[kk] = i >= 0 && i < l ? xc[i] : 0.0f;
                }
            }
        }
        return;
    }
    avf_cpu_im2col_planar(g, x, g->c_in, 0, ovol, col);
    for (int64_t r = 0; r < kdim; r++)
        for (int64_t p = 0; p < ovol; p++)
            pt[p * kdim + r] = col[r * ovol + p];
}

static void short_part(void *v, int64_t lo, int64_t hi, int slot) {
    const short_job *j = (const short_job *)v;
    const avf_conv_geom *g = j->g;
    float *col = j->scratch + (int64_t)slot * 2 * j->kdim * j->ovol, *pt = col + j->kdim * j->ovol;
    int64_t have = -1; /* the image whose patches pt holds */
    for (int64_t it = lo; it < hi; it++) {
        const int64_t n = it / j->blocks, blk = it % j->blocks;
        if (n != have) {
            gather(g, j->x + n * g->c_in * g->in[1] * g->in[2], j->kdim, j->ovol, col, pt);
            have = n;
        }
        const int64_t c0 = blk * AVF_CPU_SHORT_CO_BLOCK;
        const int64_t c1 = c0 + AVF_CPU_SHORT_CO_BLOCK < g->c_out ? c0 + AVF_CPU_SHORT_CO_BLOCK
                                                                  : g->c_out;
        j->dots(j->w, j->kdim, c0, c1, pt, j->ovol, j->b, j->y + n * g->c_out * j->ovol,
                j->ovol);
    }
}

avf_status avf_cpu_conv_short_f32(avf_op_ctx *ctx, const avf_conv_geom *g, const float *x,
                                  const float *w, const float *b, float *y) {
    short_job j = {g, x, w, b, y, NULL, 0, 0, 0, dots_base};
#if AVF_CPU_X86
    if (avf_cpu_has_avx2())
        j.dots = dots_avx2;
#endif
    j.kdim = g->c_in * g->k[0] * g->k[1] * g->k[2];
    j.ovol = g->out[0] * g->out[1] * g->out[2];
    j.blocks = (g->c_out + AVF_CPU_SHORT_CO_BLOCK - 1) / AVF_CPU_SHORT_CO_BLOCK;
    const int64_t slots = avf_cpu_threads();
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)(slots * 2 * j.kdim * j.ovol) * sizeof(float),
                           ctx->stream, (void **)&j.scratch));
    /* a chunk: at least ~256k multiply-adds, as the depthwise path */
    const int64_t per_item = AVF_CPU_SHORT_CO_BLOCK * j.kdim * j.ovol;
    const int64_t grain = (1 << 18) / (per_item > 0 ? per_item : 1);
    avf_cpu_parallel_for(g->n * j.blocks, grain > 0 ? grain : 1, short_part, &j);
    avf_pool_free(ctx->pool, j.scratch, ctx->stream);
    return AVF_OK;
}
