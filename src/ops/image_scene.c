/* Scene-cut features (luma histograms and thumbnails, on the op's device)
 * and the host-side cut decision (ops/image.h). Features are small (64 bins
 * or a 16x9 thumbnail per frame), so only they come back to the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/cpu/image_cpu.h"
#include "ops/cuda/image_cuda.h"
#include "ops/image_impl.h"

static const avf_dtype f32_only[] = {AVF_DTYPE_F32};

/* Checked items -> kernel items with their ROI as the map's source and a
 * box of tw x th (the thumbnail; 1 x 1 for histograms). */
static avf_status build_items(avf_op_ctx *ctx, const char *op, const avf_preprocess_item *items,
                              int n, int64_t tw, int64_t th, avf_px_item **out) {
    *out = NULL;
    if (n < 1 || n > AVF_IMAGE_MAX_BATCH || !items)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %d items (0..%d)", op, n, AVF_IMAGE_MAX_BATCH);
    avf_px_item *d = calloc((size_t)n, sizeof *d);
    if (!d)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "%s: no memory for %d items", op, n);
    static const avf_yuv_colour any = {AVF_YUV_BT601, AVF_YUV_LIMITED, AVF_RGB};
    for (int i = 0; i < n; i++) {
        avf_rect roi;
        avf_status s = avf_image_check_frame(ctx, op, i, &items[i].frame, &items[i].roi, &roi);
        if (s == AVF_OK)
            s = avf_image_yuv_desc(&any, &items[i].frame, &d[i].f);
        if (s != AVF_OK) {
            free(d);
            return s;
        }
        d[i].m.mode = AVF_RESIZE_AREA;
        d[i].m.roi_x = roi.x;
        d[i].m.roi_y = roi.y;
        d[i].m.roi_w = roi.w;
        d[i].m.roi_h = roi.h;
        d[i].m.box_w = tw;
        d[i].m.box_h = th;
        d[i].slot = i;
    }
    *out = d;
    return AVF_OK;
}

avf_status avf_op_luma_hist(avf_op_ctx *ctx, const avf_preprocess_item *items, int n, int bins,
                            avf_tensor *hist) {
    AVF_CHECK_ARG(ctx != NULL && hist != NULL);
    if (bins < 1 || bins > 256)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "luma_hist: %d bins (1..256)", bins);
    AVF_TRY(avf_op_check_tensor(ctx, hist, "hist"));
    AVF_TRY(avf_op_check_dtype(hist, "hist", f32_only, 1));
    int64_t hd[2] = {n, bins};
    AVF_TRY(avf_op_check_shape(hist, "hist", 2, hd));
    if (n == 0)
        return AVF_OK;
    avf_px_item *d;
    AVF_TRY(build_items(ctx, "luma_hist", items, n, 1, 1, &d));
    avf_status s = AVF_IMAGE_DISPATCH(ctx, luma_hist, d, n, bins, (float *)hist->data);
    free(d);
    return s;
}

avf_status avf_op_luma_thumb(avf_op_ctx *ctx, const avf_preprocess_item *items, int n,
                             avf_tensor *thumb) {
    AVF_CHECK_ARG(ctx != NULL && thumb != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, thumb, "thumb"));
    AVF_TRY(avf_op_check_dtype(thumb, "thumb", f32_only, 1));
    if (thumb->ndim != 3 || thumb->shape[0] != n || thumb->shape[1] < 1 ||
        thumb->shape[1] > 256 || thumb->shape[2] < 1 || thumb->shape[2] > 256)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "luma_thumb: thumb must be [%d, 1..256, 1..256]", n);
    int64_t th = thumb->shape[1], tw = thumb->shape[2];
    if (n == 0)
        return AVF_OK;
    avf_px_item *d;
    AVF_TRY(build_items(ctx, "luma_thumb", items, n, tw, th, &d));
    avf_status s = AVF_IMAGE_DISPATCH(ctx, luma_thumb, d, n, th, tw, (float *)thumb->data);
    free(d);
    return s;
}

/* ---------------------------------------------------------------- decision */

double avf_scene_distance(avf_scene_metric metric, const float *a, const float *b, int64_t dim) {
    double acc = 0.0;
    for (int64_t i = 0; i < dim; i++) {
        double x = a[i], y = b[i], d = x - y;
        if (metric == AVF_SCENE_HIST_CHI2)
            acc += x + y > 0.0 ? d * d / (x + y) : 0.0;
        else
            acc += fabs(d);
    }
    if (metric == AVF_SCENE_THUMB_MAD)
        return dim > 0 ? acc / (255.0 * (double)dim) : 0.0;
    return 0.5 * acc;
}

avf_status avf_scene_detector_init(avf_scene_detector *d, avf_scene_metric metric, int64_t dim,
                                   double threshold, int64_t min_gap) {
    AVF_CHECK_ARG(d != NULL);
    memset(d, 0, sizeof *d);
    if (metric != AVF_SCENE_HIST_L1 && metric != AVF_SCENE_HIST_CHI2 &&
        metric != AVF_SCENE_THUMB_MAD)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "scene: unknown metric %d", (int)metric);
    if (dim < 1 || dim > ((int64_t)1 << 20))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "scene: %lld features per frame (1..2^20)",
                        (long long)dim);
    if (!(threshold > 0.0 && threshold <= 1.0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "scene: threshold %g is outside (0, 1]", threshold);
    if (min_gap < 0 || min_gap > ((int64_t)1 << 40))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "scene: min_gap %lld is out of range",
                        (long long)min_gap);
    d->prev = malloc((size_t)dim * sizeof *d->prev);
    if (!d->prev)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "scene: no memory for %lld features",
                        (long long)dim);
    d->metric = metric;
    d->dim = dim;
    d->threshold = threshold;
    d->min_gap = min_gap;
    return AVF_OK;
}

void avf_scene_detector_free(avf_scene_detector *d) {
    if (!d)
        return;
    free(d->prev);
    memset(d, 0, sizeof *d);
}

avf_status avf_scene_detector_push(avf_scene_detector *d, const float *feat, int64_t n,
                                   float *dist, uint8_t *cut) {
    AVF_CHECK_ARG(d != NULL && d->prev != NULL && cut != NULL && n >= 0 && (n == 0 || feat));
    for (int64_t i = 0; i < n; i++) {
        const float *f = feat + i * d->dim;
        double dd = d->frames ? avf_scene_distance(d->metric, d->prev, f, d->dim) : 0.0;
        int is_cut = d->frames == 0 || (dd > d->threshold && d->since_cut >= d->min_gap);
        cut[i] = (uint8_t)is_cut;
        if (dist)
            dist[i] = (float)dd;
        d->since_cut = is_cut ? 1 : d->since_cut + 1;
        memcpy(d->prev, f, (size_t)d->dim * sizeof *f);
        d->frames++;
    }
    return AVF_OK;
}
