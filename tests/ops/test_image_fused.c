/* The fused preprocess (avf_op_preprocess): on the CPU it equals the
 * composition convert -> crop -> resize|letterbox -> normalize of the
 * separate kernels on f32 (to float rounding), for NV12 and P010 frames of
 * several sizes, ROIs and slots; its geometry maps boxes back; slots no item
 * names stay untouched; on a GPU, small (inline) and large (uploaded) item
 * lists give the CPU's result. */
#include "test_image_util.h"

#define NF 3

/* The separate kernels' result for item `it` into a [1, 3, H, W] f32 NCHW
 * image (host floats). */
static float *composed(avf_op_ctx *ctx, const avf_preprocess_params *p,
                       const avf_preprocess_item *it, int H, int W) {
    const avf_yuv_frame *f = &it->frame;
    avf_tensor rgb, crop, sized, norm;
    int64_t d[4] = {1, 3, f->height, f->width};
    avf_test_tensor(ctx, &rgb, AVF_DTYPE_F32, 4, d, NULL);
    assert_avf_ok(avf_op_yuv_to_rgb(ctx, &p->colour, AVF_IMAGE_NCHW, f, &rgb));
    avf_rect roi = it->roi;
    if (roi.w == 0 || roi.h == 0)
        roi = (avf_rect){0, 0, f->width, f->height};
    int64_t dc[4] = {1, 3, roi.h, roi.w}, ds[4] = {1, 3, H, W};
    avf_test_tensor(ctx, &crop, AVF_DTYPE_F32, 4, dc, NULL);
    assert_avf_ok(avf_op_image_crop(ctx, AVF_IMAGE_NCHW, &roi, &rgb, &crop));
    avf_test_tensor(ctx, &sized, AVF_DTYPE_F32, 4, ds, NULL);
    if (p->fit == AVF_FIT_LETTERBOX) {
        avf_image_letterbox_params lp = {AVF_IMAGE_NCHW, p->mode, W, H,
                                         {p->pad[0], p->pad[1], p->pad[2]}};
        assert_avf_ok(avf_op_image_letterbox(ctx, &lp, &crop, &sized, NULL));
    } else {
        avf_image_resize_params rp = {AVF_IMAGE_NCHW, p->mode, W, H};
        assert_avf_ok(avf_op_image_resize(ctx, &rp, &crop, &sized));
    }
    avf_image_norm_params np = p->norm;
    np.layout = AVF_IMAGE_NCHW;
    avf_test_tensor(ctx, &norm, AVF_DTYPE_F32, 4, ds, NULL);
    assert_avf_ok(avf_op_image_normalize(ctx, &np, &sized, &norm));
    float *out = read_f32(ctx, &norm);
    avf_tensor_release(&rgb, NULL);
    avf_tensor_release(&crop, NULL);
    avf_tensor_release(&sized, NULL);
    avf_tensor_release(&norm, NULL);
    return out;
}

static void test_fused_equals_composition(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    avf_op_ctx *ctx = &e.cpu_ctx;
    uint64_t seed = 31;
    test_frame fr[NF];
    tf_make(&fr[0], AVF_YUV_NV12, 38, 24, 10, &seed);
    tf_make(&fr[1], AVF_YUV_P010, 64, 36, 8, &seed);
    tf_make(&fr[2], AVF_YUV_NV12, 20, 30, 3, &seed);
    const int H = 24, W = 32, N = 4;
    for (int variant = 0; variant < 8; variant++) {
        avf_preprocess_params p;
        memset(&p, 0, sizeof p);
        p.colour = (avf_yuv_colour){(avf_yuv_matrix)(variant & 1), (avf_yuv_range)((variant >> 1) & 1),
                                    (avf_rgb_order)(variant & 1)};
        p.mode = (avf_resize_mode)((variant >> 1) & 1);
        p.fit = (avf_fit_mode)((variant >> 2) & 1);
        p.pad[0] = 114;
        p.pad[1] = 30;
        p.pad[2] = 200;
        p.norm = (avf_image_norm_params){(avf_image_layout)(variant & 1), 1.0f / 255.0f, 3,
                                         {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
        avf_dtype dt = variant & 1 ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
        avf_preprocess_item it[NF];
        for (int i = 0; i < NF; i++)
            it[i] = (avf_preprocess_item){tf_desc(&fr[i], ctx), {0, 0, 0, 0}, 0};
        it[0].slot = 3;
        it[1].roi = (avf_rect){5, 3, 41, 27}; /* odd origin and size inside a 4:2:0 frame */
        it[1].slot = 0;
        it[2].roi = (avf_rect){1, 2, 17, 25};
        it[2].slot = 1; /* slot 2 stays untouched */
        int64_t dd[4] = {N, 3, H, W};
        if (p.norm.layout == AVF_IMAGE_NHWC) {
            dd[1] = H;
            dd[2] = W;
            dd[3] = 3;
        }
        avf_tensor dst;
        avf_test_tensor(ctx, &dst, dt, 4, dd, NULL);
        avf_letterbox_geom g[NF];
        assert_avf_ok(avf_op_preprocess(ctx, &p, it, NF, &dst, g));
        float *got = read_f32(ctx, &dst);
        uint8_t *raw = malloc(avf_tensor_nbytes(&dst));
        avf_test_read(ctx, &dst, raw);
        size_t slot_bytes = avf_tensor_nbytes(&dst) / N;
        for (size_t b = 0; b < slot_bytes; b++)
            assert_int_equal(raw[2 * slot_bytes + b], 0xC3);
        free(raw);
        for (int i = 0; i < NF; i++) {
            float *want = composed(ctx, &p, &it[i], H, W);
            float *slot = malloc((size_t)3 * H * W * sizeof *slot);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        int64_t s = p.norm.layout == AVF_IMAGE_NCHW
                                        ? (((int64_t)it[i].slot * 3 + c) * H + y) * W + x
                                        : (((int64_t)it[i].slot * H + y) * W + x) * 3 + c;
                        slot[((int64_t)c * H + y) * W + x] = got[s];
                    }
            assert_rel_err_below(avf_test_rel_err_f32(slot, want, 3 * H * W),
                                 dt == AVF_DTYPE_F16 ? 1e-3 : 1e-5);
            /* the box's corners map back to the ROI's */
            avf_rect roi = it[i].roi.w ? it[i].roi : (avf_rect){0, 0, fr[i].w, fr[i].h};
            double sx, sy;
            avf_letterbox_unmap(&g[i], g[i].box.x, g[i].box.y, &sx, &sy);
            assert_true(fabs(sx - roi.x) < 1e-9 && fabs(sy - roi.y) < 1e-9);
            avf_letterbox_unmap(&g[i], g[i].box.x + g[i].box.w, g[i].box.y + g[i].box.h, &sx, &sy);
            assert_true(fabs(sx - (roi.x + roi.w)) < 1e-9 && fabs(sy - (roi.y + roi.h)) < 1e-9);
            if (p.fit == AVF_FIT_STRETCH)
                assert_true(g[i].box.w == W && g[i].box.h == H);
            else
                assert_true(g[i].box.w == W || g[i].box.h == H);
            free(want);
            free(slot);
        }
        free(got);
        avf_tensor_release(&dst, NULL);
    }
    for (int i = 0; i < NF; i++)
        tf_free(&fr[i], NULL);
    avf_test_env_free(&e);
}

/* n items over `nf` frames into [N, 3, 20, 28] on ctx; returns host floats. */
static float *run_batch(avf_op_ctx *ctx, const avf_preprocess_params *p, test_frame *fr, int nf,
                        int n, int N, avf_dtype dt) {
    avf_preprocess_item *it = calloc((size_t)n, sizeof *it);
    for (int i = 0; i < n; i++) {
        test_frame *f = &fr[i % nf];
        it[i].frame = tf_desc(f, ctx);
        it[i].roi = (avf_rect){i % 3, i % 5, f->w - (i % 3) - 2 * (i % 2), f->h - (i % 5)};
        it[i].slot = (i * 7) % N; /* scattered; N is odd, so all differ */
    }
    int64_t dd[4] = {N, 3, 20, 28};
    if (p->norm.layout == AVF_IMAGE_NHWC) {
        dd[1] = 20;
        dd[2] = 28;
        dd[3] = 3;
    }
    avf_tensor dst;
    avf_test_tensor(ctx, &dst, dt, 4, dd, NULL);
    assert_avf_ok(avf_op_preprocess(ctx, p, it, n, &dst, NULL));
    float *out = read_f32(ctx, &dst);
    avf_tensor_release(&dst, ctx->stream);
    free(it);
    return out;
}

/* A batch of 40 items in one call equals 40 calls of one item each. */
static void test_fused_batch(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    uint64_t seed = 33;
    test_frame fr[2];
    tf_make(&fr[0], AVF_YUV_NV12, 38, 24, 10, &seed);
    tf_make(&fr[1], AVF_YUV_P010, 64, 36, 8, &seed);
    avf_preprocess_params p;
    memset(&p, 0, sizeof p);
    p.fit = AVF_FIT_LETTERBOX;
    p.mode = AVF_RESIZE_AREA;
    p.norm.scale = 1.0f / 255.0f;
    const int n = 40, N = 41;
    float *all = run_batch(&e.cpu_ctx, &p, fr, 2, n, N, AVF_DTYPE_F32);
    int64_t per = 3 * 20 * 28;
    for (int i = 0; i < n; i++) {
        /* item i alone: run_batch with n = i + 1 writes items 0..i; take slot of i */
        float *one = run_batch(&e.cpu_ctx, &p, fr, 2, i + 1, N, AVF_DTYPE_F32);
        int64_t s = (int64_t)((i * 7) % N) * per;
        assert_memory_equal(one + s, all + s, (size_t)per * sizeof *all);
        free(one);
    }
    free(all);
    tf_free(&fr[0], NULL);
    tf_free(&fr[1], NULL);
    avf_test_env_free(&e);
}

static void test_fused_batch_cuda(void **state) {
    (void)state;
    avf_test_env e;
    avf_test_env_init(&e);
    SKIP_WITHOUT_GPU(&e, 1);
    uint64_t seed = 32;
    test_frame fr[4];
    tf_make(&fr[0], AVF_YUV_NV12, 38, 24, 10, &seed);
    tf_make(&fr[1], AVF_YUV_P010, 64, 36, 8, &seed);
    tf_make(&fr[2], AVF_YUV_NV12, 20, 30, 3, &seed);
    tf_make(&fr[3], AVF_YUV_P010, 100, 62, 0, &seed);
    static const int counts[] = {1, 5, 16, 17, 40}; /* inline and uploaded item lists */
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        for (int variant = 0; variant < 4; variant++) {
            avf_preprocess_params p;
            memset(&p, 0, sizeof p);
            p.colour = (avf_yuv_colour){(avf_yuv_matrix)(variant & 1), AVF_YUV_LIMITED,
                                        (avf_rgb_order)(variant >> 1)};
            p.mode = (avf_resize_mode)(variant & 1);
            p.fit = (avf_fit_mode)(variant >> 1);
            p.pad[0] = p.pad[1] = p.pad[2] = 114;
            p.norm = (avf_image_norm_params){(avf_image_layout)(variant >> 1), 1.0f / 255.0f, 0,
                                             {0}, {0}};
            avf_dtype dt = variant == 3 ? AVF_DTYPE_U8 : variant == 2 ? AVF_DTYPE_F16 : AVF_DTYPE_F32;
            if (dt == AVF_DTYPE_U8)
                p.norm.scale = 1.0f;
            int n = counts[k], N = 41;
            float *c = run_batch(&e.cpu_ctx, &p, fr, 4, n, N, dt);
            float *g = run_batch(&e.gpu_ctx, &p, fr, 4, n, N, dt);
            /* only the slots written: the others hold each device's poison */
            int64_t per = 3 * 20 * 28;
            for (int i = 0; i < n; i++) {
                int64_t s = (int64_t)((i * 7) % N) * per;
                assert_gpu_matches(dt, g + s, c + s, per);
            }
            free(c);
            free(g);
        }
    for (int i = 0; i < 4; i++)
        tf_free(&fr[i], e.gpu_stream);
    avf_test_env_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_equals_composition),
        cmocka_unit_test(test_fused_batch),
        cmocka_unit_test(test_fused_batch_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
