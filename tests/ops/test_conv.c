/* Conv and ConvTranspose kernels: CPU against naive double loops (direct
 * convolution, scatter for the transpose), CUDA against CPU (f32, f16), and
 * the shape functions' error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "op_test_util.h"
#include "ops/conv.h"
#include "ops/fused.h"

typedef struct conv_case {
    const char *name;
    int transpose, nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], opad[3];
    int bias;
    avf_auto_pad ap;      /* pb/pe then hold the pads auto_pad must produce */
    int64_t out_shape[3]; /* ConvTranspose: non-zero -> output_shape */
} conv_case;

static const conv_case conv_cases[] = {
    {"2d pad1 bias", 0, 2, 2, 3, 4, 1, {5, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, {0}},
    {"2d stride dil asym", 0, 2, 1, 3, 2, 1, {9, 8}, {3, 2}, {2, 3}, {2, 1}, {0, 2}, {1, 1}, {0}, 0, 0, {0}},
    {"2d groups", 0, 2, 2, 4, 6, 2, {6, 5}, {3, 3}, {1, 2}, {1, 1}, {1, 0}, {1, 2}, {0}, 1, 0, {0}},
    {"2d depthwise", 0, 2, 1, 8, 8, 8, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, {0}},
    {"2d depthwise x2", 0, 2, 1, 4, 8, 4, {6, 6}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, {0}, 0, 0, {0}},
    /* the direct depthwise path (cpu/conv_direct.c): strides 2 and 3, asymmetric
     * pads, rows wider than a vector with tails, 1-D */
    {"2d depthwise s2 wide", 0, 2, 2, 3, 3, 3, {9, 37}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, {0}},
    {"2d depthwise s3 asym", 0, 2, 1, 2, 2, 2, {10, 29}, {3, 5}, {3, 3}, {1, 2}, {0, 2}, {2, 0}, {0}, 1, 0, {0}},
    {"2d depthwise big pad", 0, 2, 1, 2, 2, 2, {3, 4}, {3, 3}, {1, 1}, {1, 1}, {3, 3}, {3, 3}, {0}, 0, 0, {0}},
    {"1d depthwise", 0, 1, 2, 4, 4, 4, {29}, {5}, {1}, {1}, {2}, {2}, {0}, 1, 0, {0}},
    /* unit column stride: blocks of 8 outputs in registers between the
     * padded edges (37 and 40 wide: full blocks, a partial one, edges), row
     * strides 1 and 2, a row dilation, asymmetric column pads */
    {"2d depthwise s1 wide", 0, 2, 2, 3, 3, 3, {7, 37}, {3, 5}, {1, 1}, {1, 1}, {1, 2}, {1, 1}, {0}, 1, 0, {0}},
    {"2d depthwise s(2,1)", 0, 2, 1, 4, 4, 4, {9, 40}, {5, 5}, {2, 1}, {2, 1}, {4, 3}, {4, 1}, {0}, 1, 0, {0}},
    /* more columns than one im2col tile holds (4 Mi floats / 576 rows = 7281
     * positions of 7744): tiles that start and end inside an output row */
    {"2d tiled columns", 0, 2, 1, 64, 2, 1, {88, 88}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, {0}},
    {"1d", 0, 1, 2, 3, 2, 1, {11}, {4}, {3}, {1}, {2}, {1}, {0}, 1, 0, {0}},
    {"1d dil", 0, 1, 1, 2, 3, 1, {16}, {3}, {1}, {4}, {4}, {4}, {0}, 0, 0, {0}},
    /* few output positions: the direct dot products (cpu/conv_short.c):
     * an STFT-like bank of an odd filter count, pads + dilation with a
     * partial group of positions and a reduction that is not a multiple of
     * 8, 2-D (im2col's columns transposed), one position, exactly 8 with 33
     * filters (past a block of 32), many images over the threads */
    {"short stft", 0, 1, 2, 1, 5, 1, {40}, {16}, {8}, {1}, {0}, {0}, {0}, 1, 0, {0}},
    {"short pads dil", 0, 1, 3, 5, 7, 1, {6}, {3}, {1}, {2}, {2}, {1}, {0}, 1, 0, {0}},
    {"short 2d", 0, 2, 2, 3, 9, 1, {5, 4}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0}, 0, 0, {0}},
    {"short 1x1", 0, 1, 4, 20, 3, 1, {1}, {1}, {1}, {1}, {0}, {0}, {0}, 1, 0, {0}},
    {"short 8 pos", 0, 1, 1, 17, 33, 1, {9}, {2}, {1}, {1}, {0}, {0}, {0}, 1, 0, {0}},
    {"short many", 0, 1, 64, 16, 40, 1, {8}, {3}, {2}, {1}, {1}, {1}, {0}, 1, 0, {0}},
    {"3d", 0, 3, 1, 2, 3, 1, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {1, 1, 1}, {0, 1, 1}, {1, 1, 0}, {0}, 1, 0, {0}},
    {"pointwise", 0, 2, 2, 5, 7, 1, {4, 6}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 0, {0}},
    {"same_upper", 0, 2, 1, 2, 3, 1, {6, 7}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1}, {0}, 1, AVF_AUTO_PAD_SAME_UPPER, {0}},
    {"same_lower", 0, 2, 1, 2, 3, 1, {6, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 1}, {0}, 0, AVF_AUTO_PAD_SAME_LOWER, {0}},
    {"valid", 0, 2, 1, 2, 3, 1, {6, 7}, {3, 2}, {2, 1}, {1, 1}, {0, 0}, {0, 0}, {0}, 0, AVF_AUTO_PAD_VALID, {0}},
    /* ConvTranspose */
    {"T 2d s2", 1, 2, 2, 3, 4, 1, {4, 5}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, {0}, 1, 0, {0}},
    {"T 2d pads opad group", 1, 2, 1, 4, 6, 2, {3, 4}, {3, 3}, {2, 3}, {1, 1}, {1, 0}, {1, 1}, {1, 2}, 1, 0, {0}},
    {"T 2d dil asym", 1, 2, 1, 2, 3, 1, {4, 3}, {3, 2}, {1, 2}, {2, 3}, {0, 2}, {1, 0}, {0}, 0, 0, {0}},
    {"T 1d", 1, 1, 2, 3, 2, 1, {5}, {3}, {2}, {1}, {1}, {1}, {0}, 1, 0, {0}},
    {"T 3d", 1, 3, 1, 2, 2, 1, {2, 3, 3}, {2, 2, 3}, {2, 1, 2}, {1, 1, 1}, {0, 0, 1}, {0, 1, 1}, {0}, 1, 0, {0}},
    /* same_upper + output_shape: total pad = full - out; begin = total / 2 */
    {"T same_upper oshape", 1, 2, 1, 2, 2, 1, {3, 3}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 1}, {0}, 0, AVF_AUTO_PAD_SAME_UPPER, {6, 5}},
};

static int64_t vol(const int64_t *d, int n) {
    int64_t v = 1;
    for (int i = 0; i < n; i++)
        v *= d[i];
    return v;
}

/* The case padded to 3 dims, in the reference's own terms. */
typedef struct ref_geo {
    int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
} ref_geo;

static void ref_geometry(const conv_case *c, ref_geo *r) {
    int off = 3 - c->nsp;
    for (int i = 0; i < 3; i++) {
        r->in[i] = r->k[i] = r->s[i] = r->d[i] = r->out[i] = 1;
        r->pb[i] = 0;
    }
    for (int i = 0; i < c->nsp; i++) {
        int j = off + i;
        r->in[j] = c->in[i];
        r->k[j] = c->k[i];
        r->s[j] = c->s[i];
        r->d[j] = c->d[i];
        r->pb[j] = c->pb[i];
        int64_t ek = (c->k[i] - 1) * c->d[i] + 1;
        if (!c->transpose)
            r->out[j] = (c->in[i] + c->pb[i] + c->pe[i] - ek) / c->s[i] + 1;
        else if (c->out_shape[i])
            r->out[j] = c->out_shape[i];
        else
            r->out[j] = (c->in[i] - 1) * c->s[i] + c->opad[i] + ek - c->pb[i] - c->pe[i];
    }
}

static void ref_conv(const conv_case *c, const ref_geo *r, const float *x, const float *w,
                     const float *b, double *y) {
    int64_t cg = c->c / c->group, mg = c->m / c->group;
    int64_t ivol = vol(r->in, 3), ovol = vol(r->out, 3), kvol = vol(r->k, 3);
    int64_t ycount = c->n * c->m * ovol;
    for (int64_t i = 0; i < ycount; i++)
        y[i] = 0.0;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t m = 0; m < c->m; m++) {
            int64_t g = m / mg;
            for (int64_t o0 = 0; o0 < r->out[0]; o0++)
                for (int64_t o1 = 0; o1 < r->out[1]; o1++)
                    for (int64_t o2 = 0; o2 < r->out[2]; o2++) {
                        double acc = b ? b[m] : 0.0;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t k0 = 0; k0 < r->k[0]; k0++)
                                for (int64_t k1 = 0; k1 < r->k[1]; k1++)
                                    for (int64_t k2 = 0; k2 < r->k[2]; k2++) {
                                        int64_t i0 = o0 * r->s[0] - r->pb[0] + k0 * r->d[0];
                                        int64_t i1 = o1 * r->s[1] - r->pb[1] + k1 * r->d[1];
                                        int64_t i2 = o2 * r->s[2] - r->pb[2] + k2 * r->d[2];
                                        if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= r->in[0] ||
                                            i1 >= r->in[1] || i2 >= r->in[2])
                                            continue;
                                        double xv = x[(n * c->c + g * cg + ci) * ivol +
                                                      (i0 * r->in[1] + i1) * r->in[2] + i2];
                                        double wv = w[(m * cg + ci) * kvol +
                                                      (k0 * r->k[1] + k1) * r->k[2] + k2];
                                        acc += xv * wv;
                                    }
                        y[(n * c->m + m) * ovol + (o0 * r->out[1] + o1) * r->out[2] + o2] = acc;
                    }
        }
}

static void ref_conv_transpose(const conv_case *c, const ref_geo *r, const float *x,
                               const float *w, const float *b, double *y) {
    int64_t cg = c->c / c->group, mg = c->m / c->group;
    int64_t ivol = vol(r->in, 3), ovol = vol(r->out, 3), kvol = vol(r->k, 3);
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t m = 0; m < c->m; m++)
            for (int64_t j = 0; j < ovol; j++)
                y[(n * c->m + m) * ovol + j] = b ? b[m] : 0.0;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t ci = 0; ci < c->c; ci++) {
            int64_t g = ci / cg;
            for (int64_t mo = 0; mo < mg; mo++)
                for (int64_t i = 0; i < ivol; i++) {
                    int64_t i0 = i / (r->in[1] * r->in[2]), i1 = (i / r->in[2]) % r->in[1],
                            i2 = i % r->in[2];
                    double xv = x[(n * c->c + ci) * ivol + i];
                    for (int64_t kk = 0; kk < kvol; kk++) {
                        int64_t k0 = kk / (r->k[1] * r->k[2]), k1 = (kk / r->k[2]) % r->k[1],
                                k2 = kk % r->k[2];
                        int64_t o0 = i0 * r->s[0] - r->pb[0] + k0 * r->d[0];
                        int64_t o1 = i1 * r->s[1] - r->pb[1] + k1 * r->d[1];
                        int64_t o2 = i2 * r->s[2] - r->pb[2] + k2 * r->d[2];
                        if (o0 < 0 || o1 < 0 || o2 < 0 || o0 >= r->out[0] || o1 >= r->out[1] ||
                            o2 >= r->out[2])
                            continue;
                        y[(n * c->m + g * mg + mo) * ovol + (o0 * r->out[1] + o1) * r->out[2] +
                          o2] += xv * w[(ci * mg + mo) * kvol + kk];
                    }
                }
        }
}

static void case_params(const conv_case *c, avf_conv_params *p) {
    memset(p, 0, sizeof *p);
    p->nsp = c->nsp;
    p->group = c->group;
    p->auto_pad = c->ap;
    for (int i = 0; i < c->nsp; i++) {
        p->strides[i] = c->s[i];
        p->dilations[i] = c->d[i];
        /* with auto_pad the pads must be ignored: give nonsense */
        p->pads[i] = c->ap ? 5 : c->pb[i];
        p->pads[c->nsp + i] = c->ap ? 5 : c->pe[i];
        p->output_padding[i] = c->opad[i];
        p->output_shape[i] = c->out_shape[i];
        p->has_output_shape |= c->out_shape[i] != 0;
    }
}

typedef struct conv_data {
    int64_t xs[5], ws[5], bs[1], ys[5];
    int xnd;
    int64_t nx, nw, nb, ny;
    float *x, *w, *b;
} conv_data;

static void case_data(const conv_case *c, uint64_t seed, conv_data *d) {
    d->xnd = c->nsp + 2;
    d->xs[0] = c->n;
    d->xs[1] = c->c;
    d->ws[0] = c->transpose ? c->c : c->m;
    d->ws[1] = c->transpose ? c->m / c->group : c->c / c->group;
    for (int i = 0; i < c->nsp; i++) {
        d->xs[2 + i] = c->in[i];
        d->ws[2 + i] = c->k[i];
    }
    d->bs[0] = c->m;
    d->nx = vol(d->xs, d->xnd);
    d->nw = vol(d->ws, d->xnd);
    d->nb = c->m;
    d->x = malloc((size_t)d->nx * sizeof(float));
    d->w = malloc((size_t)d->nw * sizeof(float));
    d->b = malloc((size_t)d->nb * sizeof(float));
    avf_test_fill_f32(d->x, d->nx, &seed, -1.0, 1.0);
    avf_test_fill_f32(d->w, d->nw, &seed, -1.0, 1.0);
    avf_test_fill_f32(d->b, d->nb, &seed, -1.0, 1.0);
}

static void free_data(conv_data *d) {
    free(d->x);
    free(d->w);
    free(d->b);
}

/* Run the op on ctx with dtype dt (inputs rounded to dt first); result as
 * f32 in a malloc'ed array. */
static float *run_conv_ep(avf_op_ctx *ctx, const conv_case *c, const conv_data *d, avf_dtype dt,
                          const avf_epilogue_params *ep, int *ynd, int64_t *ys) {
    avf_conv_params p;
    case_params(c, &p);
    if (c->transpose)
        assert_avf_ok(avf_conv_transpose_shape(&p, d->xnd, d->xs, d->xnd, d->ws,
                                               c->bias ? 1 : -1, d->bs, ynd, ys));
    else
        assert_avf_ok(avf_conv_shape(&p, d->xnd, d->xs, d->xnd, d->ws, c->bias ? 1 : -1, d->bs,
                                     ynd, ys));
    int64_t ny = vol(ys, *ynd);
    const float *src[3] = {d->x, d->w, d->b};
    int64_t cnt[3] = {d->nx, d->nw, d->nb};
    avf_tensor t[3], y;
    for (int i = 0; i < 3; i++) {
        const int64_t *shape = i == 0 ? d->xs : i == 1 ? d->ws : d->bs;
        int nd = i == 2 ? 1 : d->xnd;
        if (dt == AVF_DTYPE_F16) {
            uint16_t *h = malloc((size_t)cnt[i] * 2);
            for (int64_t j = 0; j < cnt[i]; j++)
                h[j] = avf_f32_to_f16(src[i][j]);
            avf_test_tensor(ctx, &t[i], dt, nd, shape, h);
            free(h);
        } else {
            avf_test_tensor(ctx, &t[i], dt, nd, shape, src[i]);
        }
    }
    avf_test_tensor(ctx, &y, dt, *ynd, ys, NULL);
    const avf_tensor *b = c->bias ? &t[2] : NULL;
    if (ep)
        assert_avf_ok(avf_op_conv_epilogue(ctx, &p, &t[0], &t[1], b, ep, &y));
    else if (c->transpose)
        assert_avf_ok(avf_op_conv_transpose(ctx, &p, &t[0], &t[1], b, &y));
    else
        assert_avf_ok(avf_op_conv(ctx, &p, &t[0], &t[1], b, &y));
    float *out = malloc((size_t)ny * sizeof(float));
    if (dt == AVF_DTYPE_F16) {
        uint16_t *h = malloc((size_t)ny * 2);
        avf_test_read(ctx, &y, h);
        for (int64_t j = 0; j < ny; j++)
            out[j] = avf_f16_to_f32(h[j]);
        free(h);
    } else {
        avf_test_read(ctx, &y, out);
    }
    for (int i = 0; i < 3; i++)
        avf_tensor_release(&t[i], ctx->stream);
    avf_tensor_release(&y, ctx->stream);
    return out;
}

static float *run_conv(avf_op_ctx *ctx, const conv_case *c, const conv_data *d, avf_dtype dt,
                       int *ynd, int64_t *ys) {
    return run_conv_ep(ctx, c, d, dt, NULL, ynd, ys);
}

static void test_conv_cpu(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++) {
        const conv_case *c = &conv_cases[ci];
        conv_data d;
        case_data(c, 0x1234 + ci, &d);
        ref_geo r;
        ref_geometry(c, &r);
        int ynd = 0;
        int64_t ys[5];
        float *got = run_conv(&env.cpu_ctx, c, &d, AVF_DTYPE_F32, &ynd, ys);
        for (int i = 0; i < c->nsp; i++)
            assert_int_equal(ys[2 + i], r.out[3 - c->nsp + i]);
        int64_t ny = vol(ys, ynd);
        double *want = malloc((size_t)ny * sizeof(double));
        if (c->transpose)
            ref_conv_transpose(c, &r, d.x, d.w, c->bias ? d.b : NULL, want);
        else
            ref_conv(c, &r, d.x, d.w, c->bias ? d.b : NULL, want);
        double e = avf_test_rel_err(got, want, ny);
        if (!(e <= 1e-5))
            print_error("case '%s'\n", c->name);
        assert_rel_err_below(e, 1e-5);
        /* f16 on the CPU: conversion around the f32 kernel */
        float *h = run_conv(&env.cpu_ctx, c, &d, AVF_DTYPE_F16, &ynd, ys);
        assert_rel_err_below(avf_test_rel_err(h, want, ny), 5e-3);
        free(h);
        free(want);
        free(got);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

/* CUDA against the CPU for one case (ep: through avf_op_conv_epilogue):
 * f32 with TF32 off within 1e-5, f16 within 2e-3. */
static void check_cuda_vs_cpu(avf_test_env *env, const conv_case *c, const conv_data *d,
                              const avf_epilogue_params *ep) {
    const char *act = ep ? avf_act_name(ep->act) : "-";
    int ynd = 0;
    int64_t ys[5];
    float *cpu = run_conv_ep(&env->cpu_ctx, c, d, AVF_DTYPE_F32, ep, &ynd, ys);
    int64_t ny = vol(ys, ynd);
    env->gpu_ctx.allow_tf32 = 0;
    float *gpu = run_conv_ep(&env->gpu_ctx, c, d, AVF_DTYPE_F32, ep, &ynd, ys);
    double e = avf_test_rel_err_f32(gpu, cpu, ny);
    if (!(e <= 1e-5))
        print_error("case '%s' (epilogue %s) f32: %g\n", c->name, act, e);
    assert_rel_err_below(e, 1e-5);
    float *cpu16 = run_conv_ep(&env->cpu_ctx, c, d, AVF_DTYPE_F16, ep, &ynd, ys);
    float *gpu16 = run_conv_ep(&env->gpu_ctx, c, d, AVF_DTYPE_F16, ep, &ynd, ys);
    e = avf_test_rel_err_f32(gpu16, cpu16, ny);
    if (!(e <= 2e-3))
        print_error("case '%s' (epilogue %s) f16: %g\n", c->name, act, e);
    assert_rel_err_below(e, 2e-3);
    free(cpu16);
    free(gpu16);
    free(cpu);
    free(gpu);
}

static void test_conv_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++) {
        const conv_case *c = &conv_cases[ci];
        conv_data d;
        case_data(c, 0x777 + ci, &d);
        check_cuda_vs_cpu(&env, c, &d, NULL);
        /* TF32 allowed: looser, but must still be the same convolution */
        int ynd = 0;
        int64_t ys[5];
        float *cpu = run_conv(&env.cpu_ctx, c, &d, AVF_DTYPE_F32, &ynd, ys);
        env.gpu_ctx.allow_tf32 = 1;
        float *tf = run_conv(&env.gpu_ctx, c, &d, AVF_DTYPE_F32, &ynd, ys);
        assert_rel_err_below(avf_test_rel_err_f32(tf, cpu, vol(ys, ynd)), 5e-3);
        env.gpu_ctx.allow_tf32 = 0;
        free(tf);
        free(cpu);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

/* FusedConv's call (avf_op_conv_epilogue): CUDA, where depthwise cases run
 * the one-pass kernel (conv_dw.cu), against the CPU's convolution then
 * epilogue; HardSwish with an affine after it, and a plain ReLU. */
static void test_conv_epilogue_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    const avf_epilogue_params eps[2] = {{AVF_ACT_HARD_SWISH, 1.0f / 6.0f, 0.5f, 1.5f, -0.25f},
                                        {AVF_ACT_RELU, 0.0f, 0.0f, 1.0f, 0.0f}};
    for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++) {
        const conv_case *c = &conv_cases[ci];
        if (c->transpose)
            continue;
        for (int k = 0; k < 2; k++) {
            conv_data d;
            case_data(c, 0x4242 + ci, &d);
            check_cuda_vs_cpu(&env, c, &d, &eps[k]);
            free_data(&d);
        }
    }
    avf_test_env_free(&env);
}

/* Depthwise layers of the OCR classifier's sizes (and a 7x7 dilated one),
 * through both entries: big enough that every block shape of the launch is
 * used. */
static void test_conv_dw_large_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    static const conv_case big[] = {
        {"cls dw 5x5 s(2,1)", 0, 2, 4, 32, 32, 32, {6, 96}, {5, 5}, {2, 1}, {1, 1}, {2, 2}, {2, 2}, {0}, 1, 0, {0}},
        {"cls dw 3x3", 0, 2, 3, 24, 24, 24, {12, 100}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 1, 0, {0}},
        {"dw 7x7 dil 2", 0, 2, 2, 16, 16, 16, {20, 41}, {7, 7}, {1, 2}, {2, 2}, {6, 6}, {5, 6}, {0}, 1, 0, {0}},
    };
    const avf_epilogue_params ep = {AVF_ACT_HARD_SWISH, 1.0f / 6.0f, 0.5f, 1.0f, 0.0f};
    for (size_t ci = 0; ci < sizeof big / sizeof big[0]; ci++) {
        conv_data d;
        case_data(&big[ci], 0x99 + ci, &d);
        check_cuda_vs_cpu(&env, &big[ci], &d, NULL);
        check_cuda_vs_cpu(&env, &big[ci], &d, &ep);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

/* Silero VAD's 1-D convolutions (conv_short1d.cu on CUDA): the STFT as a
 * filter bank of 258 filters x 256 taps at stride 128, a strided encoder
 * layer with a channel count that is not a multiple of the kernel's 8 per
 * tile, the 1x1 decoder to one channel; a dilated one at the 64-output
 * limit; batches big enough for the warp-per-tile form. Both entries, a ReLU
 * and a sigmoid epilogue. */
static void test_conv_short1d_cuda(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    if (!env.gpu) {
        avf_test_env_free(&env);
        skip();
    }
    static const conv_case vad[] = {
        {"stft bank", 0, 1, 3, 1, 258, 1, {640}, {256}, {128}, {1}, {0}, {0}, {0}, 0, 0, {0}},
        {"encoder s2", 0, 1, 5, 129, 100, 1, {4}, {3}, {2}, {1}, {1}, {1}, {0}, 1, 0, {0}},
        {"decoder 1x1", 0, 1, 7, 128, 1, 1, {1}, {1}, {1}, {1}, {0}, {0}, {0}, 1, 0, {0}},
        {"64 outputs dil asym", 0, 1, 2, 6, 13, 1, {138}, {5}, {2}, {3}, {2}, {0}, {0}, 1, 0, {0}},
        /* enough tiles (8 positions x 8 channels) for a warp per tile, not a
         * block: 1056 and 151 x 16 (a partial last position group) */
        {"stft bank b64", 0, 1, 64, 1, 258, 1, {640}, {256}, {128}, {1}, {0}, {0}, {0}, 0, 0, {0}},
        {"encoder b301", 0, 1, 301, 129, 128, 1, {4}, {3}, {1}, {1}, {1}, {1}, {0}, 1, 0, {0}},
        /* the other tap forms of the warp-per-tile kernel: K = 1 and K = 5 */
        {"1x1 b2200", 0, 1, 2200, 128, 16, 1, {1}, {1}, {1}, {1}, {0}, {0}, {0}, 1, 0, {0}},
        {"k5 s2 b300", 0, 1, 300, 4, 16, 1, {20}, {5}, {2}, {1}, {2}, {2}, {0}, 1, 0, {0}},
    };
    const avf_epilogue_params eps[2] = {{AVF_ACT_RELU, 0.0f, 0.0f, 1.0f, 0.0f},
                                        {AVF_ACT_SIGMOID, 0.0f, 0.0f, 1.0f, 0.0f}};
    for (size_t ci = 0; ci < sizeof vad / sizeof vad[0]; ci++) {
        conv_data d;
        case_data(&vad[ci], 0x51 + ci, &d);
        check_cuda_vs_cpu(&env, &vad[ci], &d, NULL);
        check_cuda_vs_cpu(&env, &vad[ci], &d, &eps[ci % 2]);
        free_data(&d);
    }
    avf_test_env_free(&env);
}

static void test_conv_shape_errors(void **state) {
    (void)state;
    avf_conv_params p;
    memset(&p, 0, sizeof p);
    p.nsp = 2;
    p.group = 1;
    p.strides[0] = p.strides[1] = 1;
    p.dilations[0] = p.dilations[1] = 1;
    int64_t x[4] = {1, 4, 8, 8}, w[4] = {6, 4, 3, 3}, b[1] = {6}, y[8];
    int ynd = 0;
    assert_avf_ok(avf_conv_shape(&p, 4, x, 4, w, 1, b, &ynd, y));
    assert_int_equal(y[2], 6);
    /* rank of X */
    assert_int_equal(avf_conv_shape(&p, 3, x, 4, w, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    /* channels of W */
    int64_t wbad[4] = {6, 3, 3, 3};
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, wbad, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    /* bias length */
    int64_t bbad[1] = {5};
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, w, 1, bbad, &ynd, y), AVF_ERR_INVALID_ARG);
    /* group that does not divide the channels */
    p.group = 3;
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, w, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    p.group = 1;
    /* zero stride, negative pad */
    p.strides[1] = 0;
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, w, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    p.strides[1] = 1;
    p.pads[0] = -1;
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, w, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    p.pads[0] = 0;
    /* kernel larger than the input */
    int64_t wbig[4] = {6, 4, 9, 3};
    assert_int_equal(avf_conv_shape(&p, 4, x, 4, wbig, -1, NULL, &ynd, y), AVF_ERR_INVALID_ARG);
    /* 4 spatial dims */
    p.nsp = 4;
    int64_t x6[6] = {1, 4, 2, 2, 2, 2}, w6[6] = {1, 4, 1, 1, 1, 1};
    assert_int_equal(avf_conv_shape(&p, 6, x6, 6, w6, -1, NULL, &ynd, y), AVF_ERR_UNSUPPORTED);
    p.nsp = 2;
    /* ConvTranspose: W's first dim must be X's channels */
    int64_t wt[4] = {3, 2, 3, 3};
    assert_int_equal(avf_conv_transpose_shape(&p, 4, x, 4, wt, -1, NULL, &ynd, y),
                     AVF_ERR_INVALID_ARG);
    /* ConvTranspose: output_shape that asks for nothing */
    int64_t wt2[4] = {4, 2, 3, 3};
    p.has_output_shape = 1;
    p.output_shape[0] = 0;
    p.output_shape[1] = 5;
    assert_int_equal(avf_conv_transpose_shape(&p, 4, x, 4, wt2, -1, NULL, &ynd, y),
                     AVF_ERR_INVALID_ARG);
    avf_auto_pad ap;
    assert_int_equal(avf_auto_pad_parse("SAME", &ap), AVF_ERR_INVALID_ARG);
    assert_avf_ok(avf_auto_pad_parse("SAME_LOWER", &ap));
    assert_int_equal(ap, AVF_AUTO_PAD_SAME_LOWER);
}

static void test_conv_op_errors(void **state) {
    (void)state;
    avf_test_env env;
    avf_test_env_init(&env);
    avf_conv_params p;
    memset(&p, 0, sizeof p);
    p.nsp = 2;
    p.group = 1;
    p.strides[0] = p.strides[1] = p.dilations[0] = p.dilations[1] = 1;
    int64_t xs[4] = {1, 2, 4, 4}, ws[4] = {3, 2, 3, 3}, ys[4] = {1, 3, 2, 2}, yb[4] = {1, 3, 3, 2};
    avf_tensor x, w, y, y2, wi;
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 4, xs, NULL);
    avf_test_tensor(&env.cpu_ctx, &w, AVF_DTYPE_F32, 4, ws, NULL);
    avf_test_tensor(&env.cpu_ctx, &wi, AVF_DTYPE_F16, 4, ws, NULL);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 4, ys, NULL);
    avf_test_tensor(&env.cpu_ctx, &y2, AVF_DTYPE_F32, 4, yb, NULL);
    /* wrong output shape, mixed dtypes */
    assert_int_equal(avf_op_conv(&env.cpu_ctx, &p, &x, &w, NULL, &y2), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_op_conv(&env.cpu_ctx, &p, &x, &wi, NULL, &y), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_op_conv(&env.cpu_ctx, &p, &x, NULL, NULL, &y), AVF_ERR_INVALID_ARG);
    memset(x.data, 0, avf_tensor_nbytes(&x));
    memset(w.data, 0, avf_tensor_nbytes(&w));
    assert_avf_ok(avf_op_conv(&env.cpu_ctx, &p, &x, &w, NULL, &y));
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&w, NULL);
    avf_tensor_release(&wi, NULL);
    avf_tensor_release(&y, NULL);
    avf_tensor_release(&y2, NULL);
    avf_test_env_free(&env);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_cpu),
        cmocka_unit_test(test_conv_cuda),
        cmocka_unit_test(test_conv_epilogue_cuda),
        cmocka_unit_test(test_conv_dw_large_cuda),
        cmocka_unit_test(test_conv_short1d_cuda),
        cmocka_unit_test(test_conv_shape_errors),
        cmocka_unit_test(test_conv_op_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
