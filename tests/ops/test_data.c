/* Data family, layout and window ops: Transpose, Concat, Split, Slice, Pad,
 * Expand, Tile. CPU against naive source-index references (bytewise), CUDA
 * against CPU; shape-function error paths. */
#include "test_data_util.h"

static avf_status w_transpose(avf_op_ctx *c, const void *p, const avf_tensor *x, avf_tensor *y) {
    return avf_op_transpose(c, p, x, y);
}
static avf_status w_slice(avf_op_ctx *c, const void *p, const avf_tensor *x, avf_tensor *y) {
    return avf_op_slice(c, p, x, y);
}
static avf_status w_pad(avf_op_ctx *c, const void *p, const avf_tensor *x, avf_tensor *y) {
    return avf_op_pad(c, p, x, y);
}
static avf_status w_expand(avf_op_ctx *c, const void *p, const avf_tensor *x, avf_tensor *y) {
    return avf_op_expand(c, p, x, y);
}
static avf_status w_tile(avf_op_ctx *c, const void *p, const avf_tensor *x, avf_tensor *y) {
    return avf_op_tile(c, p, x, y);
}

/* ---------------------------------------------------------------- Transpose */

static void do_transpose(int gpu) {
    uint64_t seed = 0x7a11;
    for (int it = 0; it < 24; it++) {
        int nd = 1 + it % 6;
        int64_t shape[AVF_MAX_DIMS];
        rand_shape(&seed, nd, 1, nd > 4 ? 3 : 6, shape);
        avf_transpose_params p;
        memset(&p, 0, sizeof p);
        if (it % 5 != 0) { /* a random permutation, given with negative axes sometimes */
            p.nperm = nd;
            for (int d = 0; d < nd; d++)
                p.perm[d] = d;
            for (int d = nd - 1; d > 0; d--) {
                int j = (int)avf_test_rand(&seed, 0, d + 1);
                int64_t t = p.perm[d];
                p.perm[d] = p.perm[j];
                p.perm[j] = t;
            }
            if (it % 3 == 0)
                p.perm[0] -= nd;
        }
        avf_dtype dt = test_dtypes[it % 4];
        avf_tensor xd = desc(dt, nd, shape), yd;
        assert_avf_ok(avf_transpose_shape(&p, &xd, &yd));
        int perm[AVF_MAX_DIMS];
        for (int d = 0; d < nd; d++)
            perm[d] = p.nperm ? (int)((p.perm[d] + nd) % nd) : nd - 1 - d;
        int64_t n = numel_of(nd, yd.shape), *src = malloc((size_t)n * sizeof *src);
        for (int64_t i = 0; i < n; i++) {
            int64_t o[AVF_MAX_DIMS], in[AVF_MAX_DIMS];
            unravel(i, nd, yd.shape, o);
            for (int d = 0; d < nd; d++)
                in[perm[d]] = o[d];
            src[i] = ravel(nd, shape, in);
        }
        check_op1(gpu, w_transpose, &p, &xd, &yd, src, 0, &seed);
        free(src);
    }
}
static void test_transpose_cpu(void **state) { do_transpose(0); }
static void test_transpose_cuda(void **state) { need_gpu(); do_transpose(1); }

/* ---------------------------------------------------------------- Concat, Split */

static void do_concat_split(int gpu) {
    uint64_t seed = 0xc0ca7;
    for (int it = 0; it < 16; it++) {
        int nd = 1 + it % 4, n = 1 + it % 4;
        avf_dtype dt = test_dtypes[it % 4];
        size_t es = avf_dtype_size(dt);
        int64_t base[AVF_MAX_DIMS];
        /* the last iterations are large enough for the contiguous-runs
         * kernel (runs of >= 256 bytes, vector copies where aligned) */
        int big = it >= 12;
        rand_shape(&seed, nd, 1, big ? 24 : 5, base);
        int axis = (int)avf_test_rand(&seed, 0, nd);
        avf_tensor xs[4], *xsp[4], ds[4];
        const avf_tensor *cxs[4];
        void *xh[4];
        avf_concat_params cp = {it % 2 ? axis - nd : axis};
        for (int i = 0; i < n; i++) {
            ds[i] = desc(dt, nd, base);
            ds[i].shape[axis] = (int64_t)avf_test_rand(&seed, 0, big ? 24 : 4); /* 0 too */
            xh[i] = rand_bytes(&seed, (size_t)numel_of(nd, ds[i].shape) * es);
            cxs[i] = &ds[i];
        }
        avf_tensor yd;
        assert_avf_ok(avf_concat_shape(&cp, cxs, n, &yd));
        /* Reference: walk y, find which input holds the axis coordinate. */
        int64_t yn = numel_of(nd, yd.shape);
        unsigned char *want = malloc((size_t)yn * es + 1);
        for (int64_t i = 0; i < yn; i++) {
            int64_t o[AVF_MAX_DIMS];
            unravel(i, nd, yd.shape, o);
            int k = 0;
            while (o[axis] >= ds[k].shape[axis]) {
                o[axis] -= ds[k].shape[axis];
                k++;
            }
            memcpy(want + i * es, (unsigned char *)xh[k] + ravel(nd, ds[k].shape, o) * es, es);
        }
        avf_op_ctx *ctxs[2] = {&env.cpu_ctx, &env.gpu_ctx};
        for (int c = 0; c <= gpu; c++) {
            avf_op_ctx *ctx = ctxs[c];
            for (int i = 0; i < n; i++) {
                avf_test_tensor(ctx, &xs[i], dt, nd, ds[i].shape, xh[i]);
                cxs[i] = &xs[i];
            }
            avf_tensor y;
            avf_test_tensor(ctx, &y, dt, nd, yd.shape, NULL);
            assert_avf_ok(avf_op_concat(ctx, &cp, cxs, n, &y));
            unsigned char *got = malloc((size_t)yn * es + 1);
            avf_test_read(ctx, &y, got);
            assert_memory_equal(got, want, (size_t)yn * es);
            /* Split y back with the same sizes: each output equals its input. */
            avf_split_params sp;
            memset(&sp, 0, sizeof sp);
            sp.axis = axis;
            sp.nsplit = n;
            for (int i = 0; i < n; i++)
                sp.split[i] = ds[i].shape[axis];
            avf_tensor outs[4];
            for (int i = 0; i < n; i++) {
                avf_test_tensor(ctx, &outs[i], dt, nd, ds[i].shape, NULL);
                xsp[i] = &outs[i];
            }
            assert_avf_ok(avf_op_split(ctx, &sp, &y, xsp, n));
            for (int i = 0; i < n; i++) {
                size_t nb = avf_tensor_nbytes(&outs[i]);
                unsigned char *g = malloc(nb + 1);
                avf_test_read(ctx, &outs[i], g);
                assert_memory_equal(g, xh[i], nb);
                free(g);
                avf_tensor_release(&outs[i], ctx->stream);
                avf_tensor_release(&xs[i], ctx->stream);
            }
            free(got);
            avf_tensor_release(&y, ctx->stream);
            cxs[0] = &ds[0];
        }
        for (int i = 0; i < n; i++)
            free(xh[i]);
        free(want);
    }
}
static void test_concat_split_cpu(void **state) { do_concat_split(0); }
static void test_concat_split_cuda(void **state) { need_gpu(); do_concat_split(1); }

static void test_split_sizes(void **state) {
    int64_t s[2] = {2, 7};
    avf_tensor x = desc(AVF_DTYPE_F32, 2, s), a, b, c, d;
    avf_tensor *ys[4] = {&a, &b, &c, &d};
    avf_split_params p;
    memset(&p, 0, sizeof p);
    p.axis = -1;
    p.nsplit = -1;
    p.num_outputs = 3; /* opset 18: ceil(7 / 3) = 3, 3, 1 */
    assert_avf_ok(avf_split_shape(&p, &x, ys, 3));
    assert_int_equal(a.shape[1], 3);
    assert_int_equal(b.shape[1], 3);
    assert_int_equal(c.shape[1], 1);
    p.num_outputs = 0; /* even split of 7 into 3: error */
    assert_avf_fails(avf_split_shape(&p, &x, ys, 3), AVF_ERR_INVALID_ARG);
    p.nsplit = 2;
    p.split[0] = 3;
    p.split[1] = 3; /* sums to 6, not 7 */
    assert_avf_fails(avf_split_shape(&p, &x, ys, 2), AVF_ERR_INVALID_ARG);
    p.nsplit = 4;
    p.split[0] = 7;
    p.split[1] = p.split[2] = p.split[3] = 0; /* zero-size parts are fine */
    assert_avf_ok(avf_split_shape(&p, &x, ys, 4));
    assert_int_equal(d.shape[1], 0);
}

/* ---------------------------------------------------------------- Slice */

/* The coordinates a slice visits on one axis, by walking the spec. */
static int64_t slice_walk(int64_t dim, int64_t s, int64_t e, int64_t st, int64_t *coords) {
    if (s < 0)
        s += dim;
    if (e < 0)
        e += dim;
    int64_t n = 0;
    if (st > 0) {
        if (s < 0) s = 0;
        if (s > dim) s = dim;
        if (e < 0) e = 0;
        if (e > dim) e = dim;
        for (int64_t c = s; c < e;) {
            coords[n++] = c;
            if (st >= e - c) /* next step would reach e */
                break;
            c += st;
        }
    } else {
        if (s < 0) s = 0;
        if (s > dim - 1) s = dim - 1;
        if (e < -1) e = -1;
        if (e > dim - 1) e = dim - 1;
        for (int64_t c = s; c > e;) {
            coords[n++] = c;
            if (-(st + 1) >= c - e - 1) /* next step would pass e */
                break;
            c += st;
        }
    }
    return n;
}

static void check_slice(int gpu, const avf_slice_params *p, int nd, const int64_t *shape,
                        avf_dtype dt, uint64_t *seed) {
    avf_tensor xd = desc(dt, nd, shape), yd;
    assert_avf_ok(avf_slice_shape(p, &xd, &yd));
    int64_t coords[AVF_MAX_DIMS][64], cnt[AVF_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        cnt[d] = shape[d];
        for (int64_t i = 0; i < shape[d]; i++)
            coords[d][i] = i;
    }
    for (int i = 0; i < p->n; i++) {
        int a = (int)(p->has_axes ? (p->axes[i] < 0 ? p->axes[i] + nd : p->axes[i]) : i);
        cnt[a] = slice_walk(shape[a], p->starts[i], p->ends[i], p->has_steps ? p->steps[i] : 1,
                            coords[a]);
    }
    for (int d = 0; d < nd; d++) {
        if (yd.shape[d] != cnt[d])
            print_error("slice dim %d of %lld: got %lld, walk %lld (n=%d s=%lld e=%lld st=%lld)\n",
                        d, (long long)shape[d], (long long)yd.shape[d], (long long)cnt[d], p->n,
                        (long long)p->starts[0], (long long)p->ends[0], (long long)p->steps[0]);
        assert_int_equal(yd.shape[d], cnt[d]);
    }
    int64_t n = numel_of(nd, yd.shape), *src = malloc((size_t)(n + 1) * sizeof *src);
    for (int64_t i = 0; i < n; i++) {
        int64_t o[AVF_MAX_DIMS], in[AVF_MAX_DIMS];
        unravel(i, nd, yd.shape, o);
        for (int d = 0; d < nd; d++)
            in[d] = coords[d][o[d]];
        src[i] = ravel(nd, shape, in);
    }
    check_op1(gpu, w_slice, p, &xd, &yd, src, 0, seed);
    free(src);
}

static void do_slice(int gpu) {
    uint64_t seed = 0x511ce;
    /* Spec edge cases on a [20, 10, 5] input. */
    int64_t shape[3] = {20, 10, 5};
    const struct {
        int64_t s, e, st;
    } cases[] = {
        {0, 3, 1},           {1, -1, 1},           {-3, INT64_MAX, 1}, {1000, 1000, 1},
        {-1000, 1000, 1},    {0, INT64_MAX, 3},    {-1, INT64_MIN, -1}, {-1, -1000, -2},
        {1000, 0, -1},       {8, 2, -3},           {3, 3, 1},           {5, 2, 1},
        {0, 20, INT64_MAX},  {19, 0, INT64_MIN},   {2, 7, 2},           {-2, -8, -2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        avf_slice_params p;
        memset(&p, 0, sizeof p);
        p.n = 1;
        p.has_axes = 1;
        p.has_steps = 1;
        p.axes[0] = (int64_t)(c % 3) - (c % 2 ? 3 : 0); /* negative axes too */
        p.starts[0] = cases[c].s;
        p.ends[0] = cases[c].e;
        p.steps[0] = cases[c].st;
        check_slice(gpu, &p, 3, shape, test_dtypes[c % 4], &seed);
    }
    /* Random multi-axis slices. */
    for (int it = 0; it < 30; it++) {
        int nd = 1 + it % 5;
        int64_t s[AVF_MAX_DIMS];
        rand_shape(&seed, nd, 1, 7, s);
        avf_slice_params p;
        memset(&p, 0, sizeof p);
        p.n = 1 + (int)avf_test_rand(&seed, 0, nd);
        p.has_axes = it % 3 != 0;
        p.has_steps = it % 2;
        int used[AVF_MAX_DIMS] = {0};
        for (int i = 0; i < p.n; i++) {
            int a = i;
            if (p.has_axes) {
                do
                    a = (int)avf_test_rand(&seed, 0, nd);
                while (used[a]);
                used[a] = 1;
                p.axes[i] = it % 4 == 1 ? a - nd : a;
            }
            p.starts[i] = (int64_t)avf_test_rand(&seed, -9, 9);
            p.ends[i] = (int64_t)avf_test_rand(&seed, -9, 9);
            int64_t st = (int64_t)avf_test_rand(&seed, -3, 4);
            p.steps[i] = st == 0 ? 1 : st;
        }
        check_slice(gpu, &p, nd, s, test_dtypes[it % 4], &seed);
    }
}
static void test_slice_cpu(void **state) { do_slice(0); }
static void test_slice_cuda(void **state) { need_gpu(); do_slice(1); }

/* ---------------------------------------------------------------- Pad */

static int64_t pad_coord(int mode, int64_t c, int64_t n) {
    switch (mode) {
    case AVF_BORDER_EDGE: return c < 0 ? 0 : (c >= n ? n - 1 : c);
    case AVF_BORDER_WRAP: return ((c % n) + n) % n;
    case AVF_BORDER_REFLECT:
        if (n == 1)
            return 0;
        while (c < 0 || c >= n) /* bounce until inside, like numpy */
            c = c < 0 ? -c : 2 * (n - 1) - c;
        return c;
    default: return c < 0 || c >= n ? -1 : c;
    }
}

static void do_pad(int gpu) {
    uint64_t seed = 0xbad;
    const int modes[] = {AVF_BORDER_CONSTANT, AVF_BORDER_EDGE, AVF_BORDER_REFLECT,
                         AVF_BORDER_WRAP};
    for (int it = 0; it < 32; it++) {
        int nd = 1 + it % 4, mode = modes[it % 4];
        int64_t s[AVF_MAX_DIMS];
        rand_shape(&seed, nd, 1, 5, s);
        avf_pad_params p;
        memset(&p, 0, sizeof p);
        p.mode = mode;
        p.value = 0x4142434445464748ull;
        for (int d = 0; d < nd; d++) {
            /* Negative pads crop; reflect/wrap pads may exceed the dim. */
            p.pads[d] = (int64_t)avf_test_rand(&seed, -1, 7);
            p.pads[nd + d] = (int64_t)avf_test_rand(&seed, -1, 7);
            if (s[d] + p.pads[d] + p.pads[nd + d] < 0)
                p.pads[d] = 0;
        }
        avf_dtype dt = test_dtypes[(it / 4) % 4];
        avf_tensor xd = desc(dt, nd, s), yd;
        assert_avf_ok(avf_pad_shape(&p, &xd, &yd));
        int64_t n = numel_of(nd, yd.shape), *src = malloc((size_t)(n + 1) * sizeof *src);
        for (int64_t i = 0; i < n; i++) {
            int64_t o[AVF_MAX_DIMS], in[AVF_MAX_DIMS];
            unravel(i, nd, yd.shape, o);
            src[i] = 0;
            for (int d = 0; d < nd; d++) {
                in[d] = pad_coord(mode, o[d] - p.pads[d], s[d]);
                if (in[d] < 0)
                    src[i] = -1;
            }
            if (src[i] == 0)
                src[i] = ravel(nd, s, in);
        }
        check_op1(gpu, w_pad, &p, &xd, &yd, src, p.value, &seed);
        free(src);
    }
}
static void test_pad_cpu(void **state) { do_pad(0); }
static void test_pad_cuda(void **state) { need_gpu(); do_pad(1); }

/* ---------------------------------------------------------------- Expand, Tile */

static void do_expand_tile(int gpu) {
    uint64_t seed = 0xe9a;
    for (int it = 0; it < 24; it++) {
        int nd = 1 + it % 4;
        int64_t s[AVF_MAX_DIMS];
        rand_shape(&seed, nd, 1, 4, s);
        for (int d = 0; d < nd; d++)
            if (avf_test_rand(&seed, 0, 1) < 0.4)
                s[d] = 1;
        avf_dtype dt = test_dtypes[it % 4];
        avf_tensor xd = desc(dt, nd, s), yd;
        /* Expand to a shape with extra leading dims; 1 in the target keeps x's dim. */
        avf_expand_params ep;
        memset(&ep, 0, sizeof ep);
        ep.ndim = nd + it % 3;
        int lead = ep.ndim - nd;
        for (int d = 0; d < ep.ndim; d++) {
            int xd_i = d - lead;
            int64_t xdim = xd_i >= 0 ? s[xd_i] : 1;
            ep.shape[d] = xdim == 1 ? (int64_t)avf_test_rand(&seed, 1, 4) : (it % 2 ? 1 : xdim);
        }
        assert_avf_ok(avf_expand_shape(&ep, &xd, &yd));
        int64_t n = numel_of(yd.ndim, yd.shape), *src = malloc((size_t)(n + 1) * sizeof *src);
        for (int64_t i = 0; i < n; i++) {
            int64_t o[AVF_MAX_DIMS], in[AVF_MAX_DIMS];
            unravel(i, yd.ndim, yd.shape, o);
            for (int d = 0; d < nd; d++)
                in[d] = s[d] == 1 ? 0 : o[d + lead];
            src[i] = ravel(nd, s, in);
        }
        check_op1(gpu, w_expand, &ep, &xd, &yd, src, 0, &seed);
        free(src);

        avf_tile_params tp;
        memset(&tp, 0, sizeof tp);
        tp.n = nd;
        for (int d = 0; d < nd; d++)
            tp.repeats[d] = (int64_t)avf_test_rand(&seed, it % 7 == 0 ? 0 : 1, 4);
        assert_avf_ok(avf_tile_shape(&tp, &xd, &yd));
        n = numel_of(nd, yd.shape);
        src = malloc((size_t)(n + 1) * sizeof *src);
        for (int64_t i = 0; i < n; i++) {
            int64_t o[AVF_MAX_DIMS];
            unravel(i, nd, yd.shape, o);
            for (int d = 0; d < nd; d++)
                o[d] %= s[d];
            src[i] = ravel(nd, s, o);
        }
        check_op1(gpu, w_tile, &tp, &xd, &yd, src, 0, &seed);
        free(src);
    }
}
static void test_expand_tile_cpu(void **state) { do_expand_tile(0); }
static void test_expand_tile_cuda(void **state) { need_gpu(); do_expand_tile(1); }

/* ---------------------------------------------------------------- errors */

static void test_layout_errors(void **state) {
    int64_t s3[3] = {2, 3, 4}, s2[2] = {2, 3};
    avf_tensor x = desc(AVF_DTYPE_F32, 3, s3), y;
    avf_transpose_params tp = {2, {0, 1}};
    assert_avf_fails(avf_transpose_shape(&tp, &x, &y), AVF_ERR_INVALID_ARG); /* wrong length */
    avf_transpose_params tp2 = {3, {0, 0, 1}};
    assert_avf_fails(avf_transpose_shape(&tp2, &x, &y), AVF_ERR_INVALID_ARG); /* repeat */
    avf_tensor x2 = desc(AVF_DTYPE_F32, 2, s2), xi = desc(AVF_DTYPE_I32, 3, s3);
    const avf_tensor *two[2] = {&x, &x2};
    avf_concat_params cp = {0};
    assert_avf_fails(avf_concat_shape(&cp, two, 2, &y), AVF_ERR_INVALID_ARG); /* ranks */
    const avf_tensor *mix[2] = {&x, &xi};
    assert_avf_fails(avf_concat_shape(&cp, mix, 2, &y), AVF_ERR_INVALID_ARG); /* dtypes */
    avf_concat_params cp3 = {3};
    const avf_tensor *one[1] = {&x};
    assert_avf_fails(avf_concat_shape(&cp3, one, 1, &y), AVF_ERR_INVALID_ARG); /* axis */
    avf_slice_params sp;
    memset(&sp, 0, sizeof sp);
    sp.n = 1;
    sp.has_steps = 1;
    sp.ends[0] = 1;
    assert_avf_fails(avf_slice_shape(&sp, &x, &y), AVF_ERR_INVALID_ARG); /* step 0 */
    sp.n = 2;
    sp.has_axes = 1;
    sp.axes[0] = 1;
    sp.axes[1] = -2;
    sp.steps[0] = sp.steps[1] = 1;
    assert_avf_fails(avf_slice_shape(&sp, &x, &y), AVF_ERR_INVALID_ARG); /* repeated axis */
    avf_pad_params pp;
    memset(&pp, 0, sizeof pp);
    pp.mode = AVF_BORDER_CONSTANT;
    pp.pads[0] = -3; /* dim 0 of 2 cropped by 3 */
    assert_avf_fails(avf_pad_shape(&pp, &x, &y), AVF_ERR_INVALID_ARG);
    avf_expand_params ep = {2, {5, 4}};
    assert_avf_fails(avf_expand_shape(&ep, &x, &y), AVF_ERR_INVALID_ARG); /* 3 vs 5 */
    avf_tile_params tl = {2, {1, 1}};
    assert_avf_fails(avf_tile_shape(&tl, &x, &y), AVF_ERR_INVALID_ARG); /* repeats length */
    /* The entry point checks the output's shape. */
    avf_tensor xt, yt;
    avf_test_tensor(&env.cpu_ctx, &xt, AVF_DTYPE_F32, 3, s3, NULL);
    avf_test_tensor(&env.cpu_ctx, &yt, AVF_DTYPE_F32, 3, s3, NULL);
    avf_transpose_params rev = {0, {0}};
    assert_avf_fails(avf_op_transpose(&env.cpu_ctx, &rev, &xt, &yt), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&xt, NULL);
    avf_tensor_release(&yt, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transpose_cpu),     cmocka_unit_test(test_transpose_cuda),
        cmocka_unit_test(test_concat_split_cpu),  cmocka_unit_test(test_concat_split_cuda),
        cmocka_unit_test(test_split_sizes),       cmocka_unit_test(test_slice_cpu),
        cmocka_unit_test(test_slice_cuda),        cmocka_unit_test(test_pad_cpu),
        cmocka_unit_test(test_pad_cuda),          cmocka_unit_test(test_expand_tile_cpu),
        cmocka_unit_test(test_expand_tile_cuda),  cmocka_unit_test(test_layout_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
