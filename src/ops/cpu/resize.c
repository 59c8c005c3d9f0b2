/* CPU Resize (nearest, linear, cubic) over any axes.
 *
 * Per-axis tables (the source taps and weights of every output index, and
 * whether tf_crop_and_resize extrapolates it) are built once from the
 * shared mapping in ops/resize_map.h; nearest then copies elements of any
 * dtype (row by row when nothing extrapolates), linear and cubic blend the K^k tap combinations of the k axes that
 * actually move (K = 2 or 4; computed in double, stored through f32).
 */
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/cpu/parallel.h"
#include "ops/resize_map.h"

typedef struct axis_tab {
    int64_t *idx; /* [out][K] */
    double *w;    /* [out][K] */
    uint8_t *ext; /* [out]: extrapolated */
    int active;   /* some output index does not read exactly its own index */
} axis_tab;

static int taps_of(const avf_resize_params *p) {
    return p->mode == AVF_RESIZE_NEAREST ? 1 : p->mode == AVF_RESIZE_LINEAR ? 2 : 4;
}

static void build_tabs(const avf_resize_params *p, const int64_t *in, axis_tab *tab, int64_t *ibuf,
                       double *wbuf, uint8_t *ebuf) {
    int K = taps_of(p);
    for (int a = 0; a < p->ndim; a++) {
        int64_t o = p->out[a];
        double r0 = p->roi[a], r1 = p->roi[p->ndim + a];
        axis_tab *t = &tab[a];
        t->idx = ibuf;
        t->w = wbuf;
        t->ext = ebuf;
        ibuf += K * o;
        wbuf += K * o;
        ebuf += o;
        t->active = o != in[a];
        for (int64_t j = 0; j < o; j++) {
            int64_t *ix = t->idx + K * j;
            double *w = t->w + K * j;
            if (p->mode == AVF_RESIZE_NEAREST) {
                double xs = avf_resize_src((int)p->coord, (double)j, in[a], o, p->scales[a], r0, r1);
                t->ext[j] = (uint8_t)avf_resize_outside((int)p->coord, xs, in[a]);
                ix[0] = avf_resize_nearest_index((int)p->nearest, xs, in[a]);
                w[0] = 1.0;
            } else {
                int n = avf_resize_taps((int)p->mode, (int)p->coord, (double)j, in[a], o,
                                        p->scales[a], r0, r1, p->cubic_a, p->exclude_outside,
                                        ix, w);
                t->ext[j] = n == 0;
                if (n == 0)
                    for (int k = 0; k < K; k++) {
                        ix[k] = 0;
                        w[k] = 0.0;
                    }
            }
            if (t->ext[j])
                t->active = 1;
            for (int k = 0; k < K; k++)
                if (w[k] != 0.0 && (ix[k] != j || w[k] != 1.0))
                    t->active = 1;
        }
    }
}

/* 1 when some axis extrapolates output index oi. */
static int outside(const axis_tab *tab, int nd, const int64_t *oi) {
    for (int a = 0; a < nd; a++)
        if (tab[a].ext[oi[a]])
            return 1;
    return 0;
}

static void next_index(const avf_resize_params *p, int64_t *oi) {
    for (int a = p->ndim - 1; a >= 0; a--) {
        if (++oi[a] < p->out[a])
            break;
        oi[a] = 0;
    }
}

/* ext: the extrapolation value in X's dtype (es bytes). */
static void resize_nearest(const avf_resize_params *p, const axis_tab *tab, const int64_t *istr,
                           const char *x, char *y, size_t es, int64_t numel, const void *ext) {
    int64_t oi[AVF_MAX_DIMS] = {0};
    int nd = p->ndim;
    for (int64_t j = 0; j < numel; j++, next_index(p, oi)) {
        if (outside(tab, nd, oi)) {
            memcpy(y + (size_t)j * es, ext, es);
            continue;
        }
        int64_t off = 0;
        for (int a = 0; a < nd; a++)
            off += tab[a].idx[oi[a]] * istr[a];
        memcpy(y + (size_t)j * es, x + (size_t)off * es, es);
    }
}

/* Nearest without extrapolation, row by row: the source offset of an
 * output row (all indices but the last) is computed once, the row is a
 * gather through the last axis' table, and a row whose source row is the
 * previous one's (upsampling along the second-to-last axis) is a copy of the
 * previous output row. Same result as resize_nearest. */
typedef struct rows_job {
    const avf_resize_params *p;
    const axis_tab *tab;
    const int64_t *istr;
    const char *x;
    char *y;
    size_t es;
} rows_job;

/* output rows [lo, hi) */
static void nearest_rows_part(void *v, int64_t lo, int64_t hi, int slot) {
    (void)slot;
    const rows_job *jb = (const rows_job *)v;
    const avf_resize_params *p = jb->p;
    const axis_tab *tab = jb->tab;
    const size_t es = jb->es;
    int nd = p->ndim, last = nd - 1;
    int64_t ow = p->out[last], oi[AVF_MAX_DIMS] = {0};
    const int64_t *lidx = tab[last].idx;
    for (int64_t a = last - 1, r = lo; a >= 0; a--) { /* the leading indices of row lo */
        oi[a] = r % p->out[a];
        r /= p->out[a];
    }
    int64_t prev = -1;
    for (int64_t r = lo; r < hi; r++) {
        int64_t base = 0;
        for (int a = 0; a < last; a++)
            base += tab[a].idx[oi[a]] * jb->istr[a];
        char *yr = jb->y + (size_t)(r * ow) * es;
        if (base == prev) {
            memcpy(yr, yr - (size_t)ow * es, (size_t)ow * es);
        } else if (es == 4) { /* f32 and friends: a constant-size copy is one move */
            const char *xr = jb->x + (size_t)base * 4;
            for (int64_t j = 0; j < ow; j++)
                memcpy(yr + (size_t)j * 4, xr + (size_t)lidx[j] * 4, 4);
        } else {
            for (int64_t j = 0; j < ow; j++)
                memcpy(yr + (size_t)j * es, jb->x + (size_t)(base + lidx[j]) * es, es);
        }
        prev = base;
        for (int a = last - 1; a >= 0; a--) { /* next row: the leading indices */
            if (++oi[a] < p->out[a])
                break;
            oi[a] = 0;
        }
    }
}

/* Nearest without extrapolation, row by row: the source offset of an
 * output row (all indices but the last) is computed once, the row is a
 * gather through the last axis' table, and a row whose source row is the
 * previous one's (upsampling along the second-to-last axis) is a copy of the
 * previous output row. Same result as resize_nearest; rows are split across
 * the CPU threads. */
static void resize_nearest_rows(const avf_resize_params *p, const axis_tab *tab,
                                const int64_t *istr, const char *x, char *y, size_t es,
                                int64_t numel) {
    int64_t ow = p->out[p->ndim - 1];
    rows_job j = {p, tab, istr, x, y, es};
    /* a chunk: at least ~64k elements */
    avf_cpu_parallel_for(numel / ow, (1 << 16) / ow, nearest_rows_part, &j);
}

static int extrapolates(const avf_resize_params *p, const axis_tab *tab) {
    for (int a = 0; a < p->ndim; a++)
        for (int64_t j = 0; j < p->out[a]; j++)
            if (tab[a].ext[j])
                return 1;
    return 0;
}

static void resize_interp(const avf_resize_params *p, const axis_tab *tab, const int64_t *istr,
                          const float *x, float *y, int64_t numel) {
    int64_t oi[AVF_MAX_DIMS] = {0};
    int nd = p->ndim, act[AVF_MAX_DIMS], na = 0, K = taps_of(p);
    int64_t combos = 1;
    for (int a = 0; a < nd; a++)
        if (tab[a].active) {
            act[na++] = a;
            combos *= K;
        }
    for (int64_t j = 0; j < numel; j++, next_index(p, oi)) {
        if (outside(tab, nd, oi)) {
            y[j] = (float)p->extrapolation;
            continue;
        }
        int64_t base = 0;
        for (int a = 0; a < nd; a++)
            if (!tab[a].active)
                base += oi[a] * istr[a];
        double acc = 0.0;
        for (int64_t c = 0; c < combos; c++) {
            int64_t off = base, rest = c;
            double w = 1.0;
            for (int t = 0; t < na && w != 0.0; t++) {
                const axis_tab *ta = &tab[act[t]];
                int64_t k = rest % K, e = oi[act[t]] * K + k;
                rest /= K;
                off += ta->idx[e] * istr[act[t]];
                w *= ta->w[e];
            }
            if (w != 0.0)
                acc += w * (double)x[off];
        }
        y[j] = (float)acc;
    }
}

/* The extrapolation value as one element of dtype dt (float dtypes). */
static void ext_value(const avf_resize_params *p, avf_dtype dt, unsigned char *out) {
    float f = (float)p->extrapolation;
    uint16_t h;
    double d = p->extrapolation;
    memset(out, 0, 8);
    switch (dt) {
    case AVF_DTYPE_F32: memcpy(out, &f, 4); break;
    case AVF_DTYPE_F64: memcpy(out, &d, 8); break;
    case AVF_DTYPE_F16: h = avf_f32_to_f16(f); memcpy(out, &h, 2); break;
    case AVF_DTYPE_BF16: h = avf_f32_to_bf16(f); memcpy(out, &h, 2); break;
    default: break; /* refused by avf_op_resize under tf_crop_and_resize */
    }
}

avf_status avf_cpu_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                          avf_tensor *y) {
    int64_t tot = 0, istr[AVF_MAX_DIMS];
    int K = taps_of(p);
    for (int a = 0; a < p->ndim; a++)
        tot += p->out[a];
    istr[p->ndim - 1] = 1;
    for (int a = p->ndim - 2; a >= 0; a--)
        istr[a] = istr[a + 1] * x->shape[a + 1];
    void *buf = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool,
                           (size_t)tot * ((size_t)K * (sizeof(int64_t) + sizeof(double)) + 1) + 64,
                           ctx->stream, &buf));
    axis_tab tab[AVF_MAX_DIMS];
    int64_t *ib = (int64_t *)buf;
    double *wb = (double *)(ib + K * tot);
    build_tabs(p, x->shape, tab, ib, wb, (uint8_t *)(wb + K * tot));
    int64_t numel = avf_tensor_numel(y);
    avf_status st = AVF_OK;
    if (p->mode == AVF_RESIZE_NEAREST) {
        unsigned char ext[8];
        ext_value(p, x->dtype, ext);
        if (p->ndim >= 1 && p->out[p->ndim - 1] > 0 && !extrapolates(p, tab))
            resize_nearest_rows(p, tab, istr, (const char *)x->data, (char *)y->data,
                                avf_dtype_size(x->dtype), numel);
        else
            resize_nearest(p, tab, istr, (const char *)x->data, (char *)y->data,
                           avf_dtype_size(x->dtype), numel, ext);
    } else {
        const float *xf = NULL;
        float *yf = NULL;
        void *sx = NULL, *sy = NULL;
        st = avf_cpu_conv_f32_view(ctx, x, &xf, &sx);
        if (st == AVF_OK)
            st = avf_cpu_conv_f32_out(ctx, y, &yf, &sy);
        if (st == AVF_OK) {
            resize_interp(p, tab, istr, xf, yf, numel);
            avf_cpu_conv_f32_store(yf, y);
        }
        avf_cpu_conv_scratch_free(ctx, sx);
        avf_cpu_conv_scratch_free(ctx, sy);
    }
    avf_pool_free(ctx->pool, buf, ctx->stream);
    return st;
}
