/* Fast paths of the CPU Conv for planar (1-D and 2-D) geometries, whose
 * depth dim is trivial (in[0] = k[0] = out[0] = 1, no depth pads):
 *
 *   depthwise  one input channel per group (MobileNet-style blocks): a direct
 *              convolution, output row by output row, each tap a
 *              multiply-add of a contiguous (or strided) input row segment.
 *              im2col + sgemm would build kh*kw rows per channel for a GEMM
 *              with M = 1, which is memory traffic for almost no arithmetic.
 *   im2col     the column matrix built row segment by row segment: the
 *              in-bounds part of each segment is a copy (memcpy at stride 1),
 *              the pads are zero fills, with no bounds test per element.
 *   col2im     (ConvTranspose) the same walk, adding each in-bounds segment
 *              of a column row into its output row.
 *
 * Both hot loops are compiled twice (baseline and AVX2 + FMA, simd.h) and
 * chosen at run time. Summation order (taps in row-major kernel order, bias
 * first) differs from the GEMM's, so results differ from the generic path by
 * rounding only.
 */
#include <string.h>

#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/simd.h"

int avf_cpu_conv_is_planar(const avf_conv_geom *g) {
    return g->in[0] == 1 && g->k[0] == 1 && g->out[0] == 1 && g->pad_b[0] == 0 &&
           g->pad_e[0] == 0;
}

/* Output positions ow in [*lo, *hi) read input column ow * s + off inside
 * [0, w); an empty range gives *lo >= *hi. */
static void valid_cols(int64_t w, int64_t ow_n, int64_t s, int64_t off, int64_t *lo,
                       int64_t *hi) {
    *lo = off >= 0 ? 0 : (-off + s - 1) / s;
    *hi = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    if (*hi > ow_n)
        *hi = ow_n;
}

/* ---------------------------------------------------------------- depthwise */

/* Unit column stride and dilation: blocks of NB x 8 outputs whose taps are
 * all inside the row keep their sums in NB registers over every tap (one
 * store per output, not one load + store per tap as below: the per-tap
 * passes were L1-store bound, 15 % of PP-OCR rec's CPU run). NB = 4 where
 * the row allows: one accumulator would be a chain of dependent FMAs. */
#define DW_BLOCK(NB)                                                                     \
    do {                                                                                 \
        avf_v8f acc[NB];                                                                     \
        for (int q = 0; q < (NB); q++)                                                   \
            acc[q] = (avf_v8f){0} + bias;                                                    \
        for (int64_t kh = kh_lo; kh < kh_hi; kh++) {                                     \
            const float *xr = x + (ih0 + kh * dh) * iw_n + ow - pw;                      \
            const float *wr = w + kh * kw_n;                                             \
            for (int64_t kw = 0; kw < kw_n; kw++) {                                      \
                for (int q = 0; q < (NB); q++) {                                         \
                    avf_v8f xv;                                                              \
                    memcpy(&xv, xr + kw + 8 * q, sizeof xv);                             \
                    acc[q] += wr[kw] * xv;                                               \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        memcpy(yr + ow, acc, sizeof acc);                                                \
    } while (0)

AVF_CPU_INLINE void dw_row_unit(const float *restrict x, int64_t iw_n, const float *restrict w,
                                int64_t kw_n, int64_t kh_lo, int64_t kh_hi, int64_t ih0,
                                int64_t dh, int64_t pw, float bias, float *restrict yr,
                                int64_t ow_n) {
    const int64_t a = pw < ow_n ? pw : ow_n; /* first output whose taps are all inside */
    int64_t b = iw_n - kw_n + 1 + pw;        /* one past the last */
    b = b < a ? a : b > ow_n ? ow_n : b;
    int64_t ow = a;
    for (; ow + 32 <= b; ow += 32)
        DW_BLOCK(4);
    for (; ow + 16 <= b; ow += 16)
        DW_BLOCK(2);
    for (; ow + 8 <= b; ow += 8)
        DW_BLOCK(1);
    if (ow < b && b - a >= 8) { /* the rest as the block ending at b: the overlap */
        ow = b - 8;             /* is recomputed to the same values */
        DW_BLOCK(1);
        ow = b;
    }
    /* the outputs next to the pads (and a row too short for a block): each
     * tap with a bounds test */
    for (int64_t o = 0; o < ow_n; o++) {
        if (o == a)
            o = ow;
        if (o >= ow_n)
            break;
        float acc = bias;
        for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
            const float *xr = x + (ih0 + kh * dh) * iw_n;
            for (int64_t kw = 0; kw < kw_n; kw++) {
                const int64_t iw = o - pw + kw;
                if (iw >= 0 && iw < iw_n)
                    acc += w[kh * kw_n + kw] * xr[iw];
            }
        }
        yr[o] = acc;
    }
}
#undef DW_BLOCK

/* One channel plane: y (oh_n x ow_n) = bias + sum over taps of w * x. */
AVF_CPU_INLINE void dw_plane_body(const avf_conv_geom *g, const float *restrict x,
                                  const float *restrict w, float bias, float *restrict y) {
    const int64_t ih_n = g->in[1], iw_n = g->in[2], kh_n = g->k[1], kw_n = g->k[2];
    const int64_t oh_n = g->out[1], ow_n = g->out[2];
    const int64_t sh = g->stride[1], sw = g->stride[2], dh = g->dil[1], dw = g->dil[2];
    const int64_t ph = g->pad_b[1], pw = g->pad_b[2];
    if (sw == 1 && dw == 1) {
        for (int64_t oh = 0; oh < oh_n; oh++) {
            const int64_t ih0 = oh * sh - ph; /* row of tap kh: ih0 + kh * dh */
            int64_t kh_lo = 0, kh_hi = kh_n;
            while (kh_lo < kh_n && ih0 + kh_lo * dh < 0)
                kh_lo++;
            while (kh_hi > kh_lo && ih0 + (kh_hi - 1) * dh >= ih_n)
                kh_hi--;
            dw_row_unit(x, iw_n, w, kw_n, kh_lo, kh_hi, ih0, dh, pw, bias, y + oh * ow_n, ow_n);
        }
        return;
    }
    for (int64_t oh = 0; oh < oh_n; oh++) {
        float *restrict yr = y + oh * ow_n;
        for (int64_t ow = 0; ow < ow_n; ow++)
            yr[ow] = bias;
        for (int64_t kh = 0; kh < kh_n; kh++) {
            int64_t ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= ih_n)
                continue;
            const float *restrict xr = x + ih * iw_n;
            for (int64_t kw = 0; kw < kw_n; kw++) {
                const float wv = w[kh * kw_n + kw];
                int64_t off = kw * dw - pw, lo, hi;
                valid_cols(iw_n, ow_n, sw, off, &lo, &hi);
                if (lo >= hi)
                    continue;
                const float *restrict xs = xr + lo * sw + off;
                float *restrict ys = yr + lo;
                int64_t len = hi - lo;
                if (sw == 1) {
                    for (int64_t t = 0; t < len; t++)
                        ys[t] += wv * xs[t];
                } else if (sw == 2) {
                    for (int64_t t = 0; t < len; t++)
                        ys[t] += wv * xs[2 * t];
                } else {
                    for (int64_t t = 0; t < len; t++)
                        ys[t] += wv * xs[t * sw];
                }
            }
        }
    }
}

static void dw_plane_base(const avf_conv_geom *g, const float *x, const float *w, float bias,
                          float *y) {
    dw_plane_body(g, x, w, bias, y);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static void dw_plane_avx2(const avf_conv_geom *g, const float *x,
                                              const float *w, float bias, float *y) {
    dw_plane_body(g, x, w, bias, y);
}
#endif

typedef void (*dw_plane_fn)(const avf_conv_geom *, const float *, const float *, float, float *);

typedef struct dw_job {
    const avf_conv_geom *g;
    const float *x, *w, *b;
    float *y;
    dw_plane_fn plane;
} dw_job;

/* planes [lo, hi) of the n * c_out output planes */
static void dw_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const dw_job *j = (const dw_job *)v;
    const avf_conv_geom *g = j->g;
    const int64_t ivol = g->in[1] * g->in[2], ovol = g->out[1] * g->out[2];
    const int64_t kvol = g->k[1] * g->k[2], mult = g->c_out / g->group;
    for (int64_t p = lo; p < hi; p++) {
        int64_t n = p / g->c_out, oc = p % g->c_out;
        j->plane(g, j->x + (n * g->c_in + oc / mult) * ivol, j->w + oc * kvol,
                 j->b ? j->b[oc] : 0.0f, j->y + p * ovol);
    }
}

void avf_cpu_conv_depthwise_f32(const avf_conv_geom *g, const float *x, const float *w,
                                const float *b, float *y) {
    dw_job j = {g, x, w, b, y, dw_plane_base};
#if AVF_CPU_X86
    if (avf_cpu_has_avx2())
        j.plane = dw_plane_avx2;
#endif
    /* a chunk: at least ~256k multiply-adds (~20 us): waking a thread costs
     * microseconds, more on a loaded machine */
    int64_t per_plane = g->out[1] * g->out[2] * g->k[1] * g->k[2];
    int64_t grain = (1 << 18) / (per_plane > 0 ? per_plane : 1);
    avf_cpu_parallel_for(g->n * g->c_out, grain, dw_part, &j);
}

/* ---------------------------------------------------------------- im2col */

AVF_CPU_INLINE void im2col_body(const avf_conv_geom *g, const float *restrict x, int64_t cg,
                                int64_t j0, int64_t nj, float *restrict col) {
    const int64_t ih_n = g->in[1], iw_n = g->in[2], kh_n = g->k[1], kw_n = g->k[2];
    const int64_t ow_n = g->out[2];
    const int64_t sh = g->stride[1], sw = g->stride[2], dh = g->dil[1], dw = g->dil[2];
    const int64_t ph = g->pad_b[1], pw = g->pad_b[2];
    for (int64_t c = 0; c < cg; c++) {
        const float *restrict xc = x + c * ih_n * iw_n;
        for (int64_t kh = 0; kh < kh_n; kh++)
            for (int64_t kw = 0; kw < kw_n; kw++) {
                float *restrict row = col + ((c * kh_n + kh) * kw_n + kw) * nj;
                const int64_t off = kw * dw - pw;
                int64_t vlo, vhi;
                valid_cols(iw_n, ow_n, sw, off, &vlo, &vhi);
                /* output positions j0 .. j0 + nj, one output row's segment at a time */
                for (int64_t j = j0; j < j0 + nj;) {
                    int64_t oh = j / ow_n, ow0 = j % ow_n;
                    int64_t ow1 = ow_n < ow0 + (j0 + nj - j) ? ow_n : ow0 + (j0 + nj - j);
                    float *restrict dst = row + (j - j0);
                    int64_t ih = oh * sh - ph + kh * dh;
                    int64_t lo = vlo > ow0 ? vlo : ow0, hi = vhi < ow1 ? vhi : ow1;
                    if (ih < 0 || ih >= ih_n || lo >= hi) {
                        memset(dst, 0, (size_t)(ow1 - ow0) * sizeof(float));
                    } else {
                        const float *restrict xr = xc + ih * iw_n;
                        if (lo > ow0)
                            memset(dst, 0, (size_t)(lo - ow0) * sizeof(float));
                        if (sw == 1) {
                            memcpy(dst + (lo - ow0), xr + lo + off, (size_t)(hi - lo) * sizeof(float));
                        } else {
                            const float *restrict xs = xr + lo * sw + off;
                            float *restrict ds = dst + (lo - ow0);
                            for (int64_t t = 0; t < hi - lo; t++)
                                ds[t] = xs[t * sw];
                        }
                        if (hi < ow1)
                            memset(dst + (hi - ow0), 0, (size_t)(ow1 - hi) * sizeof(float));
                    }
                    j += ow1 - ow0;
                }
            }
    }
}

static void im2col_base(const avf_conv_geom *g, const float *x, int64_t cg, int64_t j0,
                        int64_t nj, float *col) {
    im2col_body(g, x, cg, j0, nj, col);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static void im2col_avx2(const avf_conv_geom *g, const float *x, int64_t cg,
                                            int64_t j0, int64_t nj, float *col) {
    im2col_body(g, x, cg, j0, nj, col);
}
#endif

void avf_cpu_im2col_planar(const avf_conv_geom *g, const float *x, int64_t cg, int64_t j0,
                           int64_t nj, float *col) {
#if AVF_CPU_X86
    if (avf_cpu_has_avx2()) {
        im2col_avx2(g, x, cg, j0, nj, col);
        return;
    }
#endif
    im2col_base(g, x, cg, j0, nj, col);
}

/* ---------------------------------------------------------------- col2im */

/* For ConvTranspose: `in` is X's spatial size (the columns' positions) and
 * `out` Y's; input position i of tap k lands on output i * s - pad_b + k * d. */
AVF_CPU_INLINE void col2im_body(const avf_conv_geom *g, const float *restrict col, int64_t mg,
                                int64_t j0, int64_t nj, float *restrict y) {
    const int64_t ih_n = g->in[1], iw_n = g->in[2], kh_n = g->k[1], kw_n = g->k[2];
    const int64_t oh_n = g->out[1], ow_n = g->out[2];
    const int64_t sh = g->stride[1], sw = g->stride[2], dh = g->dil[1], dw = g->dil[2];
    const int64_t ph = g->pad_b[1], pw = g->pad_b[2];
    (void)ih_n;
    for (int64_t c = 0; c < mg; c++) {
        float *restrict yc = y + c * oh_n * ow_n;
        for (int64_t kh = 0; kh < kh_n; kh++)
            for (int64_t kw = 0; kw < kw_n; kw++) {
                const float *restrict row = col + ((c * kh_n + kh) * kw_n + kw) * nj;
                const int64_t off = kw * dw - pw;
                /* input columns iw in [vlo, vhi) land inside the output row */
                int64_t vlo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t vhi = ow_n - 1 - off < 0 ? 0 : (ow_n - 1 - off) / sw + 1;
                if (vhi > iw_n)
                    vhi = iw_n;
                for (int64_t j = j0; j < j0 + nj;) {
                    int64_t ih = j / iw_n, iw0 = j % iw_n;
                    int64_t iw1 = iw_n < iw0 + (j0 + nj - j) ? iw_n : iw0 + (j0 + nj - j);
                    int64_t oh = ih * sh - ph + kh * dh;
                    int64_t lo = vlo > iw0 ? vlo : iw0, hi = vhi < iw1 ? vhi : iw1;
                    if (oh >= 0 && oh < oh_n && lo < hi) {
                        const float *restrict src = row + (j - j0) + (lo - iw0);
                        float *restrict dst = yc + oh * ow_n + lo * sw + off;
                        if (sw == 1)
                            for (int64_t t = 0; t < hi - lo; t++)
                                dst[t] += src[t];
                        else
                            for (int64_t t = 0; t < hi - lo; t++)
                                dst[t * sw] += src[t];
                    }
                    j += iw1 - iw0;
                }
            }
    }
}

static void col2im_base(const avf_conv_geom *g, const float *col, int64_t mg, int64_t j0,
                        int64_t nj, float *y) {
    col2im_body(g, col, mg, j0, nj, y);
}

#if AVF_CPU_X86
AVF_CPU_TARGET_AVX2 static void col2im_avx2(const avf_conv_geom *g, const float *col, int64_t mg,
                                            int64_t j0, int64_t nj, float *y) {
    col2im_body(g, col, mg, j0, nj, y);
}
#endif

void avf_cpu_col2im_planar(const avf_conv_geom *g, const float *col, int64_t mg, int64_t j0,
                           int64_t nj, float *y) {
#if AVF_CPU_X86
    if (avf_cpu_has_avx2()) {
        col2im_avx2(g, col, mg, j0, nj, y);
        return;
    }
#endif
    col2im_base(g, col, mg, j0, nj, y);
}
