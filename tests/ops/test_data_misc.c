/* Data family, indexing, generators, shapes and quantization: Gather,
 * ScatterND, NonZero, Range, ConstantOfShape, Reshape/Flatten/Squeeze/
 * Unsqueeze (+ copy), Shape, Size, QuantizeLinear, DequantizeLinear. CPU
 * against naive references, CUDA against CPU, error paths. */
#include "test_data_util.h"

static avf_op_ctx *ctx_of(int c) { return c ? &env.gpu_ctx : &env.cpu_ctx; }

/* ---------------------------------------------------------------- Gather */

static void do_gather(int gpu) {
    uint64_t seed = 0x9a7;
    for (int it = 0; it < 20; it++) {
        int nd = 1 + it % 3, ni = it % 3; /* indices of rank 0..2 */
        int64_t s[AVF_MAX_DIMS], is[2];
        rand_shape(&seed, nd, 1, 5, s);
        rand_shape(&seed, ni, 1, 4, is);
        int axis = (int)avf_test_rand(&seed, 0, nd);
        avf_gather_params p = {it % 2 ? axis - nd : axis};
        avf_dtype dt = test_dtypes[it % 4], it_t = it % 2 ? AVF_DTYPE_I32 : AVF_DTYPE_I64;
        int64_t nidx = numel_of(ni, is), idx64[16];
        int32_t idx32[16];
        for (int64_t j = 0; j < nidx; j++) { /* negative indices count from the end */
            idx64[j] = (int64_t)avf_test_rand(&seed, (double)-s[axis], (double)s[axis]);
            idx32[j] = (int32_t)idx64[j];
        }
        avf_tensor xd = desc(dt, nd, s), id = desc(it_t, ni, is), yd;
        assert_avf_ok(avf_gather_shape(&p, &xd, &id, &yd));
        size_t es = avf_dtype_size(dt);
        int64_t xn = numel_of(nd, s), yn = numel_of(yd.ndim, yd.shape);
        void *xh = rand_bytes(&seed, (size_t)xn * es);
        unsigned char *want = malloc((size_t)yn * es + 1);
        for (int64_t i = 0; i < yn; i++) {
            int64_t o[AVF_MAX_DIMS], in[AVF_MAX_DIMS];
            unravel(i, yd.ndim, yd.shape, o);
            for (int d = 0; d < axis; d++)
                in[d] = o[d];
            int64_t k = idx64[ravel(ni, is, o + axis)];
            in[axis] = k < 0 ? k + s[axis] : k;
            for (int d = axis + 1; d < nd; d++)
                in[d] = o[d - 1 + ni];
            memcpy(want + i * es, (unsigned char *)xh + ravel(nd, s, in) * es, es);
        }
        for (int c = 0; c <= gpu; c++) {
            avf_op_ctx *ctx = ctx_of(c);
            avf_tensor x, ix, y;
            avf_test_tensor(ctx, &x, dt, nd, s, xh);
            avf_test_tensor(ctx, &ix, it_t, ni, is, it % 2 ? (void *)idx32 : (void *)idx64);
            avf_test_tensor(ctx, &y, dt, yd.ndim, yd.shape, NULL);
            assert_avf_ok(avf_op_gather(ctx, &p, &x, &ix, &y));
            unsigned char *got = malloc((size_t)yn * es + 1);
            avf_test_read(ctx, &y, got);
            assert_memory_equal(got, want, (size_t)yn * es);
            free(got);
            avf_tensor_release(&x, ctx->stream);
            avf_tensor_release(&ix, ctx->stream);
            avf_tensor_release(&y, ctx->stream);
        }
        free(xh);
        free(want);
    }
    /* An out-of-range index is an error on CPU. */
    int64_t s1[1] = {3}, bad[1] = {3}, one[1] = {1};
    avf_tensor x, ix, y;
    avf_gather_params p0 = {0};
    avf_test_tensor(&env.cpu_ctx, &x, AVF_DTYPE_F32, 1, s1, NULL);
    avf_test_tensor(&env.cpu_ctx, &ix, AVF_DTYPE_I64, 1, one, bad);
    avf_test_tensor(&env.cpu_ctx, &y, AVF_DTYPE_F32, 1, one, NULL);
    assert_avf_fails(avf_op_gather(&env.cpu_ctx, &p0, &x, &ix, &y), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&x, NULL);
    avf_tensor_release(&ix, NULL);
    avf_tensor_release(&y, NULL);
}
static void test_gather_cpu(void **state) { do_gather(0); }
static void test_gather_cuda(void **state) { need_gpu(); do_gather(1); }

/* ---------------------------------------------------------------- ScatterND */

static void do_scatternd(int gpu) {
    uint64_t seed = 0x5ca7;
    const int reds[] = {AVF_SCATTER_NONE, AVF_SCATTER_ADD, AVF_SCATTER_MUL, AVF_SCATTER_MAX,
                        AVF_SCATTER_MIN};
    for (int it = 0; it < 15; it++) {
        int red = reds[it % 5];
        int64_t ds[3] = {4, 3, 2};
        int k = 1 + it % 3;
        /* Without a reduction ONNX leaves duplicate indices undefined, so
         * those cases need unique tuples: at most 4 fit a rank-1 index here. */
        int64_t nupd = red == AVF_SCATTER_NONE && k == 1 ? 4 : 5, is[2] = {nupd, k};
        int64_t idx[15];
        for (int64_t u = 0; u < nupd; u++) /* duplicates likely with 4x3x2 */
            for (int i = 0; i < k; i++) {
                int64_t v = (int64_t)avf_test_rand(&seed, 0, (double)ds[i]);
                idx[u * k + i] = (u + i) % 2 ? v - ds[i] : v;
            }
        if (red == AVF_SCATTER_NONE) /* duplicates are undefined without a reduction */
            for (int64_t u = 0; u < nupd; u++)
                for (int i = 0; i < k; i++)
                    idx[u * k + i] = i == 0 ? u % ds[0] : (i == 1 ? (u / 4) % ds[1] : 0);
        int64_t slice = 1, us[4];
        us[0] = nupd;
        for (int d = k; d < 3; d++) {
            slice *= ds[d];
            us[1 + d - k] = ds[d];
        }
        float data[24], upd[30], want[24];
        avf_test_fill_f32(data, 24, &seed, -2, 2);
        avf_test_fill_f32(upd, nupd * slice, &seed, -2, 2);
        memcpy(want, data, sizeof data);
        for (int64_t u = 0; u < nupd; u++) {
            int64_t off = 0, st[3] = {6, 2, 1};
            for (int i = 0; i < k; i++) {
                int64_t v = idx[u * k + i];
                off += (v < 0 ? v + ds[i] : v) * st[i];
            }
            for (int64_t e = 0; e < slice; e++) {
                float *w = &want[off + e], b = upd[u * slice + e];
                *w = red == AVF_SCATTER_NONE  ? b
                     : red == AVF_SCATTER_ADD ? *w + b
                     : red == AVF_SCATTER_MUL ? *w * b
                     : red == AVF_SCATTER_MAX ? (*w > b ? *w : b)
                                              : (*w < b ? *w : b);
            }
        }
        avf_scatternd_params p = {red};
        for (int c = 0; c <= gpu; c++) {
            avf_op_ctx *ctx = ctx_of(c);
            avf_tensor d, ix, u, y;
            avf_test_tensor(ctx, &d, AVF_DTYPE_F32, 3, ds, data);
            avf_test_tensor(ctx, &ix, AVF_DTYPE_I64, 2, is, idx);
            avf_test_tensor(ctx, &u, AVF_DTYPE_F32, 1 + 3 - k, us, upd);
            avf_test_tensor(ctx, &y, AVF_DTYPE_F32, 3, ds, NULL);
            assert_avf_ok(avf_op_scatternd(ctx, &p, &d, &ix, &u, &y));
            float got[24];
            avf_test_read(ctx, &y, got);
            assert_memory_equal(got, want, sizeof want);
            avf_tensor_release(&d, ctx->stream);
            avf_tensor_release(&ix, ctx->stream);
            avf_tensor_release(&u, ctx->stream);
            avf_tensor_release(&y, ctx->stream);
        }
    }
}
static void test_scatternd_cpu(void **state) { do_scatternd(0); }
static void test_scatternd_cuda(void **state) { need_gpu(); do_scatternd(1); }

/* ---------------------------------------------------------------- NonZero */

static void do_nonzero(int gpu) {
    uint64_t seed = 0x202;
    for (int it = 0; it < 8; it++) {
        int nd = it % 4; /* rank 0 too */
        int64_t s[AVF_MAX_DIMS];
        rand_shape(&seed, nd, it == 7 ? 0 : 1, 5, s);
        int64_t n = numel_of(nd, s);
        float *x = malloc((size_t)n * sizeof *x + 4);
        for (int64_t i = 0; i < n; i++) { /* zeros, -0.0 and NaN mixed in */
            double r = avf_test_rand(&seed, 0, 1);
            x[i] = r < 0.4 ? 0.0f : (r < 0.5 ? -0.0f : (r < 0.55 ? NAN : (float)r));
        }
        int rank = nd ? nd : 1;
        int64_t *want = malloc((size_t)(rank * n + 1) * sizeof *want), cnt = 0;
        for (int64_t i = 0; i < n; i++)
            cnt += x[i] != 0.0f; /* NaN != 0 */
        for (int64_t i = 0, k = 0; i < n; i++) {
            if (x[i] == 0.0f)
                continue;
            int64_t o[AVF_MAX_DIMS] = {0};
            unravel(i, nd, s, o);
            for (int d = 0; d < rank; d++)
                want[d * cnt + k] = o[d];
            k++;
        }
        for (int c = 0; c <= gpu; c++) {
            avf_op_ctx *ctx = ctx_of(c);
            avf_tensor xt, y;
            avf_test_tensor(ctx, &xt, AVF_DTYPE_F32, nd, s, x);
            assert_avf_ok(avf_op_nonzero(ctx, &xt, &y));
            assert_int_equal(y.dtype, AVF_DTYPE_I64);
            assert_int_equal(y.ndim, 2);
            assert_int_equal(y.shape[0], rank);
            assert_int_equal(y.shape[1], cnt);
            int64_t *got = malloc((size_t)(rank * cnt + 1) * sizeof *got);
            avf_test_read(ctx, &y, got);
            assert_memory_equal(got, want, (size_t)(rank * cnt) * sizeof *got);
            free(got);
            avf_tensor_release(&xt, ctx->stream);
            avf_tensor_release(&y, ctx->stream);
        }
        free(x);
        free(want);
    }
}
static void test_nonzero_cpu(void **state) { do_nonzero(0); }
static void test_nonzero_cuda(void **state) { need_gpu(); do_nonzero(1); }

/* ---------------------------------------------------------------- generators */

static void do_generators(int gpu) {
    /* Range: float and int, positive and negative deltas, empty. */
    avf_range_params rp[4];
    memset(rp, 0, sizeof rp);
    rp[0].dtype = AVF_DTYPE_F32, rp[0].start = 1, rp[0].limit = 5, rp[0].delta = 0.5;
    rp[1].dtype = AVF_DTYPE_I32, rp[1].istart = 10, rp[1].ilimit = 4, rp[1].idelta = -3;
    rp[2].dtype = AVF_DTYPE_I64, rp[2].istart = 0, rp[2].ilimit = -5, rp[2].idelta = 1;
    rp[3].dtype = AVF_DTYPE_F64, rp[3].start = -1, rp[3].limit = 1, rp[3].delta = 0.3;
    const int64_t counts[4] = {8, 2, 0, 7};
    for (int c = 0; c <= gpu; c++) {
        avf_op_ctx *ctx = ctx_of(c);
        for (int r = 0; r < 4; r++) {
            avf_tensor yd, y;
            assert_avf_ok(avf_range_shape(&rp[r], &yd));
            assert_int_equal(yd.shape[0], counts[r]);
            avf_test_tensor(ctx, &y, yd.dtype, 1, yd.shape, NULL);
            assert_avf_ok(avf_op_range(ctx, &rp[r], &y));
            double got[8] = {0};
            unsigned char raw[64];
            avf_test_read(ctx, &y, raw);
            for (int64_t i = 0; i < counts[r]; i++) {
                double want = rp[r].dtype == AVF_DTYPE_F32 || rp[r].dtype == AVF_DTYPE_F64
                                  ? rp[r].start + (double)i * rp[r].delta
                                  : (double)(rp[r].istart + i * rp[r].idelta);
                got[i] = r == 0 ? ((float *)raw)[i]
                         : r == 1 ? ((int32_t *)raw)[i]
                         : r == 2 ? (double)((int64_t *)raw)[i]
                                  : ((double *)raw)[i];
                assert_true(fabs(got[i] - want) < 1e-6);
            }
            avf_tensor_release(&y, ctx->stream);
        }
        /* ConstantOfShape: an i64 and an f16 fill; Shape with start/end; Size. */
        avf_constant_of_shape_params cp;
        memset(&cp, 0, sizeof cp);
        cp.dtype = AVF_DTYPE_I64;
        cp.value = (uint64_t)-7;
        cp.ndim = 2;
        cp.shape[0] = 3;
        cp.shape[1] = 5;
        avf_tensor yd, y;
        assert_avf_ok(avf_constant_of_shape_shape(&cp, &yd));
        avf_test_tensor(ctx, &y, yd.dtype, yd.ndim, yd.shape, NULL);
        assert_avf_ok(avf_op_constant_of_shape(ctx, &cp, &y));
        int64_t vals[15];
        avf_test_read(ctx, &y, vals);
        for (int i = 0; i < 15; i++)
            assert_int_equal(vals[i], -7);
        avf_tensor_release(&y, ctx->stream);
        cp.dtype = AVF_DTYPE_F16;
        cp.value = avf_f32_to_f16(1.5f);
        assert_avf_ok(avf_constant_of_shape_shape(&cp, &yd));
        avf_test_tensor(ctx, &y, yd.dtype, yd.ndim, yd.shape, NULL);
        assert_avf_ok(avf_op_constant_of_shape(ctx, &cp, &y));
        uint16_t hv[15];
        avf_test_read(ctx, &y, hv);
        for (int i = 0; i < 15; i++)
            assert_true(avf_f16_to_f32(hv[i]) == 1.5f);
        avf_tensor_release(&y, ctx->stream);

        int64_t xs[4] = {2, 3, 5, 7};
        avf_tensor x = desc(AVF_DTYPE_F32, 4, xs);
        x.device = ctx->dev;
        const struct {
            int64_t s, e, n, first;
        } sc[] = {{0, INT64_MAX, 4, 2}, {1, -1, 2, 3}, {-1, INT64_MAX, 1, 7}, {-10, 2, 2, 2},
                  {3, 1, 0, 0}};
        for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
            avf_shape_params sp = {sc[i].s, sc[i].e};
            assert_avf_ok(avf_shape_shape(&sp, &x, &yd));
            assert_int_equal(yd.shape[0], sc[i].n);
            avf_test_tensor(ctx, &y, AVF_DTYPE_I64, 1, yd.shape, NULL);
            assert_avf_ok(avf_op_shape(ctx, &sp, &x, &y));
            int64_t sv[4] = {0};
            avf_test_read(ctx, &y, sv);
            if (sc[i].n)
                assert_int_equal(sv[0], sc[i].first);
            avf_tensor_release(&y, ctx->stream);
        }
        assert_avf_ok(avf_size_shape(&x, &yd));
        avf_test_tensor(ctx, &y, AVF_DTYPE_I64, 0, NULL, NULL);
        assert_avf_ok(avf_op_size(ctx, &x, &y));
        int64_t sz = 0;
        avf_test_read(ctx, &y, &sz);
        assert_int_equal(sz, 210);
        avf_tensor_release(&y, ctx->stream);
    }
}
static void test_generators_cpu(void **state) { do_generators(0); }
static void test_generators_cuda(void **state) { need_gpu(); do_generators(1); }

/* ---------------------------------------------------------------- shapes */

static void test_shape_ops(void **state) {
    int64_t s[3] = {2, 1, 6}, z[2] = {0, 3};
    avf_tensor x = desc(AVF_DTYPE_F32, 3, s), y, xz = desc(AVF_DTYPE_F32, 2, z);
    avf_reshape_params rp = {3, {0, -1, 3}, 0};
    assert_avf_ok(avf_reshape_shape(&rp, &x, &y));
    assert_int_equal(y.ndim, 3);
    assert_int_equal(y.shape[0], 2);
    assert_int_equal(y.shape[1], 2);
    rp = (avf_reshape_params){2, {-1, -1}, 0};
    assert_avf_fails(avf_reshape_shape(&rp, &x, &y), AVF_ERR_INVALID_ARG);
    rp = (avf_reshape_params){2, {5, -1}, 0};
    assert_avf_fails(avf_reshape_shape(&rp, &x, &y), AVF_ERR_INVALID_ARG);
    rp = (avf_reshape_params){3, {3, 0, 0}, 1}; /* allowzero: 0 is a real 0 */
    assert_avf_ok(avf_reshape_shape(&rp, &xz, &y));
    assert_int_equal(y.shape[0], 3);
    assert_int_equal(y.shape[2], 0);
    avf_flatten_params fp = {-1};
    assert_avf_ok(avf_flatten_shape(&fp, &x, &y));
    assert_int_equal(y.shape[0], 2);
    assert_int_equal(y.shape[1], 6);
    fp.axis = 0;
    assert_avf_ok(avf_flatten_shape(&fp, &x, &y));
    assert_int_equal(y.shape[0], 1);
    assert_int_equal(y.shape[1], 12);
    fp.axis = 4;
    assert_avf_fails(avf_flatten_shape(&fp, &x, &y), AVF_ERR_INVALID_ARG);
    avf_axes_params ap = {0, {0}};
    assert_avf_ok(avf_squeeze_shape(&ap, &x, &y)); /* all ones */
    assert_int_equal(y.ndim, 2);
    ap = (avf_axes_params){1, {0}};
    assert_avf_fails(avf_squeeze_shape(&ap, &x, &y), AVF_ERR_INVALID_ARG); /* dim is 2 */
    ap = (avf_axes_params){2, {-1, 0}};
    assert_avf_ok(avf_unsqueeze_shape(&ap, &x, &y)); /* [1, 2, 1, 6, 1] */
    assert_int_equal(y.ndim, 5);
    assert_int_equal(y.shape[0], 1);
    assert_int_equal(y.shape[3], 6);
    assert_int_equal(y.shape[4], 1);
    ap = (avf_axes_params){2, {1, -4}}; /* the same axis twice */
    assert_avf_fails(avf_unsqueeze_shape(&ap, &x, &y), AVF_ERR_INVALID_ARG);
    /* The copy behind them, and its element-count check. */
    avf_tensor a, b;
    float v[12];
    uint64_t seed = 1;
    avf_test_fill_f32(v, 12, &seed, -1, 1);
    int64_t s2[2] = {3, 4}, s3[1] = {11};
    avf_test_tensor(&env.cpu_ctx, &a, AVF_DTYPE_F32, 3, s, v);
    avf_test_tensor(&env.cpu_ctx, &b, AVF_DTYPE_F32, 2, s2, NULL);
    assert_avf_ok(avf_op_copy(&env.cpu_ctx, &a, &b));
    float got[12];
    avf_test_read(&env.cpu_ctx, &b, got);
    assert_memory_equal(got, v, sizeof v);
    avf_tensor_release(&b, NULL);
    avf_test_tensor(&env.cpu_ctx, &b, AVF_DTYPE_F32, 1, s3, NULL);
    assert_avf_fails(avf_op_copy(&env.cpu_ctx, &a, &b), AVF_ERR_INVALID_ARG);
    avf_tensor_release(&a, NULL);
    avf_tensor_release(&b, NULL);
}

/* ---------------------------------------------------------------- quantization */

static void do_quant(int gpu) {
    uint64_t seed = 0x9a;
    int64_t s[3] = {2, 3, 4};
    float x[24], sc[3], xq[24];
    avf_test_fill_f32(x, 24, &seed, -40, 40);
    x[0] = 2.5f, x[1] = 3.5f, x[2] = -2.5f; /* ties round to even with scale 1 */
    avf_test_fill_f32(sc, 3, &seed, 0.1, 0.5);
    for (int per_axis = 0; per_axis < 2; per_axis++)
        for (int signed_q = 0; signed_q < 2; signed_q++) {
            avf_dtype qt = signed_q ? AVF_DTYPE_I8 : AVF_DTYPE_U8;
            int64_t sn[1] = {per_axis ? 3 : 1};
            float scale[3] = {per_axis ? sc[0] : 1.0f, sc[1], sc[2]};
            uint8_t zpu[3] = {128, 3, 250};
            int8_t zpi[3] = {-5, 0, 100};
            const void *zp = signed_q ? (const void *)zpi : (const void *)zpu;
            uint8_t want[24];
            float dq_want[24];
            for (int i = 0; i < 24; i++) {
                int a = per_axis ? (i / 4) % 3 : 0;
                int z = signed_q ? zpi[a] : zpu[a];
                float q = nearbyintf(x[i] / scale[a]) + (float)z;
                float lo = signed_q ? -128 : 0, hi = signed_q ? 127 : 255;
                q = q < lo ? lo : (q > hi ? hi : q);
                want[i] = signed_q ? (uint8_t)(int8_t)q : (uint8_t)q;
                dq_want[i] = (q - (float)z) * scale[a];
            }
            if (!per_axis && !signed_q) {
                assert_int_equal(want[0], 130); /* 2.5 -> 2 (+128) */
                assert_int_equal(want[1], 132); /* 3.5 -> 4 */
                assert_int_equal(want[2], 126); /* -2.5 -> -2 */
            }
            avf_quant_params p = {1, qt};
            for (int c = 0; c <= gpu; c++) {
                avf_op_ctx *ctx = ctx_of(c);
                avf_tensor xt, st, zt, yt, dt;
                avf_test_tensor(ctx, &xt, AVF_DTYPE_F32, 3, s, x);
                avf_test_tensor(ctx, &st, AVF_DTYPE_F32, per_axis, sn, scale);
                avf_test_tensor(ctx, &zt, qt, per_axis, sn, zp);
                avf_test_tensor(ctx, &yt, qt, 3, s, NULL);
                avf_test_tensor(ctx, &dt, AVF_DTYPE_F32, 3, s, NULL);
                assert_avf_ok(avf_op_quantize(ctx, &p, &xt, &st, &zt, &yt));
                uint8_t got[24];
                avf_test_read(ctx, &yt, got);
                assert_memory_equal(got, want, sizeof want);
                assert_avf_ok(avf_op_dequantize(ctx, &p, &yt, &st, &zt, &dt));
                avf_test_read(ctx, &dt, xq);
                assert_rel_err_below(avf_test_rel_err_f32(xq, dq_want, 24), 1e-6);
                avf_tensor_release(&xt, ctx->stream);
                avf_tensor_release(&st, ctx->stream);
                avf_tensor_release(&zt, ctx->stream);
                avf_tensor_release(&yt, ctx->stream);
                avf_tensor_release(&dt, ctx->stream);
            }
        }
    /* Errors: scale length vs axis, zero point dtype vs input. */
    avf_tensor xd = desc(AVF_DTYPE_F32, 3, s), yd;
    int64_t four[1] = {4};
    avf_tensor sd = desc(AVF_DTYPE_F32, 1, four), zd = desc(AVF_DTYPE_I8, 1, four);
    avf_quant_params p = {1, AVF_DTYPE_U8};
    assert_avf_fails(avf_quantize_shape(&p, &xd, &sd, NULL, &yd), AVF_ERR_INVALID_ARG);
    avf_tensor qd = desc(AVF_DTYPE_U8, 3, s);
    p.axis = 2;
    assert_avf_fails(avf_dequantize_shape(&p, &qd, &sd, &zd, &yd), AVF_ERR_INVALID_ARG);
}
static void test_quant_cpu(void **state) { do_quant(0); }
static void test_quant_cuda(void **state) { need_gpu(); do_quant(1); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_cpu),      cmocka_unit_test(test_gather_cuda),
        cmocka_unit_test(test_scatternd_cpu),   cmocka_unit_test(test_scatternd_cuda),
        cmocka_unit_test(test_nonzero_cpu),     cmocka_unit_test(test_nonzero_cuda),
        cmocka_unit_test(test_generators_cpu),  cmocka_unit_test(test_generators_cuda),
        cmocka_unit_test(test_shape_ops),       cmocka_unit_test(test_quant_cpu),
        cmocka_unit_test(test_quant_cuda),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
