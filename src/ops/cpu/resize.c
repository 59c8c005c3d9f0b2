/* CPU Resize (nearest, linear) over any axes.
 *
 * Per-axis tables (source index or the two linear taps and weight of every
 * output index) are built once from the shared mapping in ops/resize_map.h;
 * nearest then copies elements of any dtype, linear blends the 2^k corners of
 * the k axes that actually move (computed in double, stored through f32).
 */
#include <string.h>

#include "core/error.h"
#include "ops/cpu/conv_cpu.h"
#include "ops/resize_map.h"

typedef struct axis_tab {
    int64_t *i0, *i1;
    double *w1;
    int active; /* linear: some output index does not read its own index */
} axis_tab;

static void build_tabs(const avf_resize_params *p, const int64_t *in, axis_tab *tab, int64_t *ibuf,
                       double *wbuf) {
    for (int a = 0; a < p->ndim; a++) {
        int64_t o = p->out[a];
        tab[a].i0 = ibuf;
        tab[a].i1 = ibuf + o;
        tab[a].w1 = wbuf;
        ibuf += 2 * o;
        wbuf += o;
        tab[a].active = 0;
        for (int64_t j = 0; j < o; j++) {
            double xs = avf_resize_src((int)p->coord, (double)j, in[a], o, p->scales[a]);
            if (p->mode == AVF_RESIZE_NEAREST) {
                tab[a].i0[j] = avf_resize_nearest_index((int)p->nearest, xs, in[a]);
                continue;
            }
            avf_resize_linear_taps(xs, in[a], &tab[a].i0[j], &tab[a].i1[j], &tab[a].w1[j]);
            if (tab[a].i0[j] != j || (tab[a].w1[j] != 0.0 && tab[a].i1[j] != j))
                tab[a].active = 1;
        }
    }
}

static void resize_nearest(const avf_resize_params *p, const axis_tab *tab, const int64_t *istr,
                           const char *x, char *y, size_t es, int64_t numel) {
    int64_t oi[AVF_MAX_DIMS] = {0};
    int nd = p->ndim;
    for (int64_t j = 0; j < numel; j++) {
        int64_t off = 0;
        for (int a = 0; a < nd; a++)
            off += tab[a].i0[oi[a]] * istr[a];
        memcpy(y + (size_t)j * es, x + (size_t)off * es, es);
        for (int a = nd - 1; a >= 0; a--) {
            if (++oi[a] < p->out[a])
                break;
            oi[a] = 0;
        }
    }
}

static void resize_linear(const avf_resize_params *p, const axis_tab *tab, const int64_t *istr,
                          const float *x, float *y, int64_t numel) {
    int64_t oi[AVF_MAX_DIMS] = {0};
    int nd = p->ndim, act[AVF_MAX_DIMS], na = 0;
    for (int a = 0; a < nd; a++)
        if (tab[a].active)
            act[na++] = a;
    for (int64_t j = 0; j < numel; j++) {
        int64_t base = 0;
        for (int a = 0; a < nd; a++)
            if (!tab[a].active)
                base += oi[a] * istr[a];
        double acc = 0.0;
        for (int c = 0; c < (1 << na); c++) {
            int64_t off = base;
            double w = 1.0;
            for (int t = 0; t < na; t++) {
                const axis_tab *ta = &tab[act[t]];
                int64_t o = oi[act[t]];
                if ((c >> t) & 1) {
                    off += ta->i1[o] * istr[act[t]];
                    w *= ta->w1[o];
                } else {
                    off += ta->i0[o] * istr[act[t]];
                    w *= 1.0 - ta->w1[o];
                }
            }
            if (w != 0.0)
                acc += w * (double)x[off];
        }
        y[j] = (float)acc;
        for (int a = nd - 1; a >= 0; a--) {
            if (++oi[a] < p->out[a])
                break;
            oi[a] = 0;
        }
    }
}

avf_status avf_cpu_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                          avf_tensor *y) {
    int64_t tot = 0, istr[AVF_MAX_DIMS];
    for (int a = 0; a < p->ndim; a++)
        tot += p->out[a];
    istr[p->ndim - 1] = 1;
    for (int a = p->ndim - 2; a >= 0; a--)
        istr[a] = istr[a + 1] * x->shape[a + 1];
    void *buf = NULL;
    AVF_TRY(avf_pool_alloc(ctx->pool, (size_t)tot * (2 * sizeof(int64_t) + sizeof(double)) + 64,
                           ctx->stream, &buf));
    axis_tab tab[AVF_MAX_DIMS];
    build_tabs(p, x->shape, tab, (int64_t *)buf, (double *)((int64_t *)buf + 2 * tot));
    int64_t numel = avf_tensor_numel(y);
    avf_status st = AVF_OK;
    if (p->mode == AVF_RESIZE_NEAREST) {
        resize_nearest(p, tab, istr, (const char *)x->data, (char *)y->data,
                       avf_dtype_size(x->dtype), numel);
    } else {
        const float *xf = NULL;
        float *yf = NULL;
        void *sx = NULL, *sy = NULL;
        st = avf_cpu_conv_f32_view(ctx, x, &xf, &sx);
        if (st == AVF_OK)
            st = avf_cpu_conv_f32_out(ctx, y, &yf, &sy);
        if (st == AVF_OK) {
            resize_linear(p, tab, istr, xf, yf, numel);
            avf_cpu_conv_f32_store(yf, y);
        }
        avf_cpu_conv_scratch_free(ctx, sx);
        avf_cpu_conv_scratch_free(ctx, sy);
    }
    avf_pool_free(ctx->pool, buf, ctx->stream);
    return st;
}
