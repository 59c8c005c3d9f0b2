/* CPU Conv (im2col + sgemm) and ConvTranspose (sgemm + col2im).
 * Planar (1-D/2-D) depthwise convolutions and the planar im2col take the
 * fast paths of conv_direct.c, planar ones with few output positions the
 * direct dot products of conv_short.c.
 *
 * Everything is computed in f32 on 3 spatial dims (the geometry pads 1-D and
 * 2-D convolutions with unit dims). The column matrix is built for a tile of
 * output positions at a time so its size stays bounded (AVF_CPU_COL_FLOATS)
 * whatever the image size; a 1x1, stride-1, unpadded convolution needs no
 * columns at all (X is already the matrix).
 */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/blas.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/parallel.h"

#define AVF_CPU_COL_FLOATS (((int64_t)1) << 22) /* 16 MiB of column scratch */
#define AVF_CPU_COL_TILE_FLOATS (((int64_t)1) << 19) /* 2 MiB: one thread's tile */

static int64_t vol3(const int64_t *d) { return d[0] * d[1] * d[2]; }

static avf_status check_blas_dims(const char *op, int64_t a, int64_t b, int64_t c) {
    if (a > INT_MAX || b > INT_MAX || c > INT_MAX)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: a GEMM dimension exceeds the BLAS int range",
                        op);
    return AVF_OK;
}

/* col[r][j - j0] for rows r = (c, kd, kh, kw) of cg channels and output
 * positions j in [j0, j0 + nj): the input value each tap reads, 0 in pads. */
static void im2col(const avf_conv_geom *g, const float *x, int64_t cg, int64_t j0, int64_t nj,
                   float *col) {
    const int64_t *in = g->in, *k = g->k, *o = g->out, *s = g->stride, *d = g->dil, *pb = g->pad_b;
    int64_t ivol = vol3(in), kvol = vol3(k);
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * ivol;
        for (int64_t kk = 0; kk < kvol; kk++) {
            int64_t kd = kk / (k[1] * k[2]), kh = (kk / k[2]) % k[1], kw = kk % k[2];
            float *row = col + (c * kvol + kk) * nj;
            int64_t od = j0 / (o[1] * o[2]), oh = (j0 / o[2]) % o[1], ow = j0 % o[2];
            for (int64_t j = 0; j < nj; j++) {
                int64_t id = od * s[0] - pb[0] + kd * d[0];
                int64_t ih = oh * s[1] - pb[1] + kh * d[1];
                int64_t iw = ow * s[2] - pb[2] + kw * d[2];
                row[j] = (id >= 0 && id < in[0] && ih >= 0 && ih < in[1] && iw >= 0 && iw < in[2])
                             ? xc[(id * in[1] + ih) * in[2] + iw]
                             : 0.0f;
                if (++ow == o[2]) {
                    ow = 0;
                    if (++oh == o[1]) {
                        oh = 0;
                        od++;
                    }
                }
            }
        }
    }
}

static int is_pointwise(const avf_conv_geom *g) {
    for (int i = 0; i < AVF_CONV_MAX_SP; i++)
        if (g->k[i] != 1 || g->stride[i] != 1 || g->pad_b[i] != 0 || g->pad_e[i] != 0)
            return 0;
    return 1;
}

static void add_bias(const avf_conv_geom *g, const float *b, float *y) {
    int64_t ovol = vol3(g->out);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t m = 0; m < g->c_out; m++) {
            float *ym = y + (n * g->c_out + m) * ovol;
            float bv = b ? b[m] : 0.0f;
            for (int64_t j = 0; j < ovol; j++)
                ym[j] += bv;
        }
}

/* One group's im2col + GEMM over output positions [lo, hi) in tiles, with
 * the column scratch of the running thread's slot. */
typedef struct conv_job {
    const avf_conv_geom *g;
    const float *xg, *wg;
    float *yg, *col;
    int64_t cg, mg, kdim, ovol, tile;
    int planar;
} conv_job;

static void conv_part(void *v, int64_t lo, int64_t hi, int slot) {
    const conv_job *j = (const conv_job *)v;
    float *col = j->col + (int64_t)slot * j->kdim * j->tile;
    for (int64_t j0 = lo; j0 < hi; j0 += j->tile) {
        int64_t nj = hi - j0 < j->tile ? hi - j0 : j->tile;
        if (j->planar)
            avf_cpu_im2col_planar(j->g, j->xg, j->cg, j0, nj, col);
        else
            im2col(j->g, j->xg, j->cg, j0, nj, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->mg, (int)nj, (int)j->kdim,
                    1.0f, j->wg, (int)j->kdim, col, (int)nj, 0.0f, j->yg + j0, (int)j->ovol);
    }
}

static avf_status conv_f32(avf_op_ctx *ctx, const avf_conv_geom *g, const float *x,
                           const float *w, const float *b, float *y) {
    int64_t cg = g->c_in / g->group, mg = g->c_out / g->group;
    int64_t ivol = vol3(g->in), ovol = vol3(g->out), kvol = vol3(g->k);
    int64_t kdim = cg * kvol;
    int pointwise = is_pointwise(g);
    int planar = avf_cpu_conv_is_planar(g);
    /* depthwise: a direct convolution, bias included. A single-channel input
     * with many filters (group 1, e.g. Silero's STFT as a strided Conv) stays
     * a GEMM: there the filters' rows are the arithmetic. */
    if (planar && cg == 1 && g->group > 1) {
        avf_cpu_conv_depthwise_f32(g, x, w, b, y);
        return AVF_OK;
    }
    /* few output positions (Silero VAD's): direct dot products, bias
     * included (cpu/conv_short.c says why not the GEMM) */
    if (avf_cpu_conv_short_ok(g))
        return avf_cpu_conv_short_f32(ctx, g, x, w, b, y);
    AVF_TRY(check_blas_dims("Conv", mg, kdim, ovol));
    /* im2col: the threads take chunks of the output positions (at least 32
     * of them), each thread with its own column tile; all tiles together
     * stay within AVF_CPU_COL_FLOATS (plus one column per thread) */
    int64_t slots = avf_cpu_threads();
    int64_t tile = AVF_CPU_COL_FLOATS / (kdim * slots);
    /* and a tile stays cache-sized (AVF_CPU_COL_TILE_FLOATS): the GEMM packs
     * it straight from L2/L3 instead of streaming a huge column matrix
     * through memory twice (measured on a 2-core EPYC: 24x25600x864 runs at
     * 34 GFLOP/s in one piece, 68 in 600-column tiles) */
    int64_t cache_tile = AVF_CPU_COL_TILE_FLOATS / kdim;
    if (cache_tile < 256) /* but not so narrow that the GEMM starves */
        cache_tile = 256;
    if (tile > cache_tile)
        tile = cache_tile;
    /* a chunk: at least 32 positions and ~1M multiply-adds; a tile no wider
     * than a thread's share of the chunks the loop will really make (a small
     * conv that stays on one thread keeps one tile, one GEMM) */
    int64_t grain = (1 << 20) / (mg * kdim > 0 ? mg * kdim : 1);
    if (grain < 32)
        grain = 32;
    int64_t used = ovol / grain < slots ? ovol / grain : slots;
    if (used < 1)
        used = 1;
    int64_t per = (ovol + used - 1) / used;
    if (tile > per)
        tile = per;
    if (tile < 1)
        tile = 1;
    float *col = NULL;
    if (!pointwise)
        AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)(slots * kdim * tile) * sizeof(float),
                               ctx->stream, (void **)&col));
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = x + (n * g->c_in + gi * cg) * ivol;
            const float *wg = w + gi * mg * kdim;
            float *yg = y + (n * g->c_out + gi * mg) * ovol;
            if (pointwise) {
                avf_cpu_sgemm(CblasNoTrans, CblasNoTrans, (int)mg, (int)ovol, (int)kdim, 1.0f, wg,
                              (int)kdim, xg, (int)ovol, 0.0f, yg, (int)ovol);
                continue;
            }
            conv_job j = {g, xg, wg, yg, col, cg, mg, kdim, ovol, tile, planar};
            avf_cpu_parallel_for(ovol, grain, conv_part, &j);
        }
    if (col)
        avf_pool_free(ctx->pool, col, ctx->stream);
    if (b)
        add_bias(g, b, y);
    return AVF_OK;
}

/* Scatter col rows (co, kd, kh, kw) x input positions [j0, j0 + nj) into the
 * mg output channels at y: output o = i * stride - pad_b + k * dilation. */
static void col2im(const avf_conv_geom *g, const float *col, int64_t mg, int64_t j0, int64_t nj,
                   float *y) {
    const int64_t *in = g->in, *k = g->k, *o = g->out, *s = g->stride, *d = g->dil, *pb = g->pad_b;
    int64_t ovol = vol3(o), kvol = vol3(k);
    for (int64_t c = 0; c < mg; c++) {
        float *yc = y + c * ovol;
        for (int64_t kk = 0; kk < kvol; kk++) {
            int64_t kd = kk / (k[1] * k[2]), kh = (kk / k[2]) % k[1], kw = kk % k[2];
            const float *row = col + (c * kvol + kk) * nj;
            int64_t id = j0 / (in[1] * in[2]), ih = (j0 / in[2]) % in[1], iw = j0 % in[2];
            for (int64_t j = 0; j < nj; j++) {
                int64_t od = id * s[0] - pb[0] + kd * d[0];
                int64_t oh = ih * s[1] - pb[1] + kh * d[1];
                int64_t ow = iw * s[2] - pb[2] + kw * d[2];
                if (od >= 0 && od < o[0] && oh >= 0 && oh < o[1] && ow >= 0 && ow < o[2])
                    yc[(od * o[1] + oh) * o[2] + ow] += row[j];
                if (++iw == in[2]) {
                    iw = 0;
                    if (++ih == in[1]) {
                        ih = 0;
                        id++;
                    }
                }
            }
        }
    }
}

/* col2im of output channels [lo, hi): their column rows and output planes
 * are disjoint from other channels', so chunks run on different threads. */
typedef struct col2im_job {
    const avf_conv_geom *g;
    const float *col;
    float *yg;
    int64_t kvol, ovol, j0, nj;
    int planar;
} col2im_job;

static void col2im_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const col2im_job *j = (const col2im_job *)v;
    const float *col = j->col + lo * j->kvol * j->nj;
    float *y = j->yg + lo * j->ovol;
    if (j->planar)
        avf_cpu_col2im_planar(j->g, col, hi - lo, j->j0, j->nj, y);
    else
        col2im(j->g, col, hi - lo, j->j0, j->nj, y);
}

static avf_status conv_transpose_f32(avf_op_ctx *ctx, const avf_conv_geom *g, const float *x,
                                     const float *w, const float *b, float *y) {
    int64_t cg = g->c_in / g->group, mg = g->c_out / g->group;
    int64_t ivol = vol3(g->in), ovol = vol3(g->out), kvol = vol3(g->k);
    int64_t rows = mg * kvol;
    int64_t tile = AVF_CPU_COL_FLOATS / rows;
    if (tile < 1)
        tile = 1;
    if (tile > ivol)
        tile = ivol;
    AVF_TRY(check_blas_dims("ConvTranspose", rows, cg, ivol));
    int planar = avf_cpu_conv_is_planar(g);
    float *col = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)(rows * tile) * sizeof(float), ctx->stream,
                           (void **)&col));
    memset(y, 0, (size_t)(g->n * g->c_out * ovol) * sizeof(float));
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = x + (n * g->c_in + gi * cg) * ivol;
            const float *wg = w + gi * cg * rows; /* (cg, mg * kvol) */
            float *yg = y + (n * g->c_out + gi * mg) * ovol;
            for (int64_t j0 = 0; j0 < ivol; j0 += tile) {
                int64_t nj = ivol - j0 < tile ? ivol - j0 : tile;
                avf_cpu_sgemm(CblasTrans, CblasNoTrans, (int)rows, (int)nj, (int)cg, 1.0f, wg,
                              (int)rows, xg + j0, (int)ivol, 0.0f, col, (int)nj);
                col2im_job cj = {g, col, yg, kvol, ovol, j0, nj, planar};
                /* channels are disjoint; a chunk: at least ~64k additions */
                avf_cpu_parallel_for(mg, (1 << 16) / (kvol * nj > 0 ? kvol * nj : 1), col2im_part,
                                     &cj);
            }
        }
    avf_pool_free(ctx->pool, col, ctx->stream);
    if (b)
        add_bias(g, b, y);
    return AVF_OK;
}

static avf_status run(avf_op_ctx *ctx, int transpose, const avf_conv_geom *g, const avf_tensor *x,
                      const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    const float *xf = NULL, *wf = NULL, *bf = NULL;
    float *yf = NULL;
    void *sx = NULL, *sw = NULL, *sb = NULL, *sy = NULL;
    avf_status st = avf_cpu_conv_f32_view(ctx, x, &xf, &sx);
    if (st == AVF_OK)
        st = avf_cpu_conv_f32_view(ctx, w, &wf, &sw);
    if (st == AVF_OK)
        st = avf_cpu_conv_f32_view(ctx, b, &bf, &sb);
    if (st == AVF_OK)
        st = avf_cpu_conv_f32_out(ctx, y, &yf, &sy);
    if (st == AVF_OK)
        st = transpose ? conv_transpose_f32(ctx, g, xf, wf, bf, yf)
                       : conv_f32(ctx, g, xf, wf, bf, yf);
    if (st == AVF_OK)
        avf_cpu_conv_f32_store(yf, y);
    avf_cpu_conv_scratch_free(ctx, sx);
    avf_cpu_conv_scratch_free(ctx, sw);
    avf_cpu_conv_scratch_free(ctx, sb);
    avf_cpu_conv_scratch_free(ctx, sy);
    return st;
}

avf_status avf_cpu_conv(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                        const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    return run(ctx, 0, g, x, w, b, y);
}

avf_status avf_cpu_conv_transpose(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                                  const avf_tensor *w, const avf_tensor *b, avf_tensor *y) {
    return run(ctx, 1, g, x, w, b, y);
}
