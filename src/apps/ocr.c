/* The OCR application (include/avflow/ocr.h): PaddleOCR v4 det -> DB boxes
 * -> cls -> rec -> CTC, with the crops of every image of a call batched
 * together for cls and rec.
 *
 * Where the data is: each image is decoded on the host (ocr_image.c),
 * uploaded once as planar BGR u8 (PaddleOCR's models take BGR, as cv2
 * loads it), resized and normalized on the device (image family) for det;
 * only the det probability map comes back (one float per det input pixel)
 * for the box extraction (ocr_db.c), which is branchy, data-dependent host
 * work. The crops are cut from the uploaded image on the device
 * (avf_op_quad_crop: perspective crop + resize + normalize + pad in one
 * kernel), the classifier's two scores per line come back, and for rec
 * only the argmax class and its probability per time step (ArgMax and
 * ReduceMax on the device), not the [N, T, 6625] probabilities.
 *
 * Batching: cls and rec inputs are padded to batch buckets 1, 2, 4, ... 64
 * and rec widths rounded up to rec_width_step (at least 320, rapidocr's
 * rec_img_shape), so the engine sees few shape signatures (one plan, one
 * CUDA graph each). Det batches the images of one input size (up to 16).
 *
 * Calls run on streams of their own, kept for reuse between calls (a small
 * idle list under a mutex), so concurrent calls overlap on the device. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/ocr_db.h"
#include "apps/ocr_dict.h"
#include "apps/ocr_image.h"
#include "avflow/model.h"
#include "avflow/ocr.h"
#include "avflow/pool.h"
#include "core/error.h"
#include "ops/image.h"
#include "ops/image_crop.h"
#include "ops/reduce.h"

#define OCR_REC_H 48
#define OCR_REC_MIN_W 320  /* rapidocr rec_img_shape [3, 48, 320] */
#define OCR_CLS_W 192      /* cls_image_shape [3, 48, 192] */
#define OCR_CLS_THRESH 0.9f
#define OCR_MAX_BATCH 64   /* cls/rec rows per model run */
#define OCR_MAX_DET_BATCH 16 /* images of one det input size per model run */
#define OCR_MIN_HEIGHT 30      /* rapidocr Global.min_height */
#define OCR_MAX_WH_RATIO 8.0   /* rapidocr Global.width_height_ratio */

#define OCR_IDLE_STREAMS 16

struct avf_ocr {
    avf_device *dev;
    avf_pool *pool;
    avf_model *det, *rec, *cls;
    avf_ocr_dict dict;
    pthread_mutex_t mu; /* guards idle */
    avf_stream *idle[OCR_IDLE_STREAMS];
    int n_idle;
};

static avf_status stream_acquire(avf_ocr *o, avf_stream **s) {
    *s = NULL;
    pthread_mutex_lock(&o->mu);
    if (o->n_idle > 0)
        *s = o->idle[--o->n_idle];
    pthread_mutex_unlock(&o->mu);
    return *s ? AVF_OK : avf_stream_create(o->dev, s);
}

/* The stream's work is done (the call synchronized). */
static void stream_release(avf_ocr *o, avf_stream *s) {
    int kept = 0;
    pthread_mutex_lock(&o->mu);
    if (o->n_idle < OCR_IDLE_STREAMS) {
        o->idle[o->n_idle++] = s;
        kept = 1;
    }
    pthread_mutex_unlock(&o->mu);
    if (!kept) {
        avf_pool_release_stream(o->pool, s);
        avf_stream_free(s);
    }
}

void avf_ocr_options_default(avf_ocr_options *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->det_threshold = 0.3f;
    o->box_threshold = 0.5f;
    o->unclip_ratio = 1.6f;
    o->max_side = 960;
    o->use_cls = 1;
    o->fp16 = 0;
    o->text_threshold = 0.5f;
    o->rec_width_step = 64;
}

void avf_ocr_result_free(avf_ocr_result *r) {
    if (!r)
        return;
    for (int i = 0; i < r->n_lines; i++)
        free(r->lines[i].text);
    free(r->lines);
    memset(r, 0, sizeof *r);
}

void avf_ocr_free(avf_ocr *ocr) {
    if (!ocr)
        return;
    avf_model_free(ocr->det);
    avf_model_free(ocr->rec);
    avf_model_free(ocr->cls);
    avf_ocr_dict_free(&ocr->dict);
    for (int i = 0; i < ocr->n_idle; i++) {
        if (ocr->pool)
            avf_pool_release_stream(ocr->pool, ocr->idle[i]);
        avf_stream_free(ocr->idle[i]);
    }
    pthread_mutex_destroy(&ocr->mu);
    avf_pool_free_all(ocr->pool);
    free(ocr);
}

static avf_status load_model(const char *dir, const char *name, avf_model **m) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ocr: models path too long");
    return avf_model_load(path, NULL, m);
}

avf_status avf_ocr_create(const char *models_dir, avf_device *dev, avf_ocr **out) {
    AVF_CHECK_ARG(models_dir != NULL && out != NULL);
    *out = NULL;
    if (!dev)
        AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &dev));
    avf_ocr *o = calloc(1, sizeof *o);
    if (!o)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: context");
    o->dev = dev;
    if (pthread_mutex_init(&o->mu, NULL) != 0) {
        free(o);
        return AVF_FAIL(AVF_ERR_INTERNAL, "ocr: mutex");
    }
    avf_status st = avf_pool_create(dev, NULL, &o->pool);
    if (st == AVF_OK)
        st = load_model(models_dir, "ppocr_v4_det.onnx", &o->det);
    if (st == AVF_OK)
        st = load_model(models_dir, "ppocr_v4_rec.onnx", &o->rec);
    if (st == AVF_OK)
        st = load_model(models_dir, "ppocr_mobile_v2_cls.onnx", &o->cls);
    if (st == AVF_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/ppocr_v4_rec.onnx", models_dir);
        st = avf_ocr_dict_load_onnx(path, &o->dict);
    }
    if (st == AVF_OK) {
        /* the rec model's class count must be the dictionary's */
        avf_model_value_info vi;
        st = avf_model_output_info(o->rec, 0, &vi);
        if (st == AVF_OK && vi.ndim == 3 && vi.dims[2] > 0 && vi.dims[2] != o->dict.n_classes)
            st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: rec model has %lld classes, dictionary %d",
                          (long long)vi.dims[2], o->dict.n_classes);
    }
    if (st != AVF_OK) {
        avf_ocr_free(o);
        return st;
    }
    *out = o;
    return AVF_OK;
}

/* ---------------------------------------------------------------- one call */

typedef struct ocr_image_job {
    avf_ocr_image img;     /* width/height; the pixels are freed after upload */
    int ok;                /* decoded and uploaded */
    int det_w, det_h;      /* det input size */
    int pad_top;           /* letterbox rows above (and below) the image */
    avf_tensor src;        /* [1, 3, h, w] u8 BGR on the device */
    avf_ocr_box *boxes;
    int n_boxes;
    int first_crop;        /* index of its first crop */
} ocr_image_job;

typedef struct ocr_crop {
    int image;
    float quad[8];         /* corners in the order the crop is read */
    float cw, ch;          /* crop size */
    int rotated;
    char *text;
    float score;
} ocr_crop;

typedef struct ocr_call {
    avf_ocr *ocr;
    const avf_ocr_options *o;
    avf_stream *stream;
    avf_op_ctx ctx;
    avf_run_options ro;
} ocr_call;

static int bucket(int n) {
    int b = 1;
    while (b < n)
        b <<= 1;
    return b;
}

static void set_error(avf_ocr_result *r, avf_status st) {
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", avf_last_error());
}

/* Run a one-input one-output model; *y is allocated by the engine. */
static avf_status run1(ocr_call *c, const avf_model *m, const avf_tensor *x, avf_tensor *y) {
    return avf_model_run(m, &c->ro, 1, NULL, x, 1, NULL, y);
}

static avf_status download(ocr_call *c, void *dst, const avf_tensor *t, const char *tag) {
    AVF_TRY(avf_memcpy_async(c->ocr->dev, dst, t->data, avf_tensor_nbytes(t), AVF_COPY_D2H,
                             c->stream, tag));
    return avf_stream_synchronize(c->stream);
}

/* Decode and upload image i, and work out its det input size. Per-image
 * failures go to r (the call goes on); the status is the call's. */
static avf_status load_image(ocr_call *c, const avf_ocr_input *in, ocr_image_job *j,
                             avf_ocr_result *r) {
    const avf_ocr_options *o = c->o;
    if (in->len > AVF_OCR_MAX_INPUT_BYTES) {
        AVF_FAIL(AVF_ERR_INVALID_ARG, "ocr: image of %zu bytes (at most %u)", in->len,
                 AVF_OCR_MAX_INPUT_BYTES);
        set_error(r, AVF_ERR_INVALID_ARG);
        return AVF_OK;
    }
    avf_status st = avf_ocr_image_decode(in->data, in->len, AVF_OCR_MAX_SIDE, AVF_OCR_MAX_PIXELS,
                                         &j->img);
    if (st != AVF_OK) {
        set_error(r, st);
        return AVF_OK;
    }
    int w = j->img.width, h0 = j->img.height;
    r->width = w;
    r->height = h0;
    /* rapidocr's maybe_add_letterbox: flat images (h <= 30 or w/h > 8) get
     * black rows above and below, so det sees text of a usable height */
    int pad = 0;
    if (h0 <= OCR_MIN_HEIGHT || (double)w / h0 > OCR_MAX_WH_RATIO) {
        int nh = (int)(w / OCR_MAX_WH_RATIO);
        nh = (nh > OCR_MIN_HEIGHT ? nh : OCR_MIN_HEIGHT) * 2;
        pad = abs(nh - h0) / 2;
    }
    int h = h0 + 2 * pad;
    j->pad_top = pad;
    /* planar BGR on the host, one upload */
    size_t plane = (size_t)w * h, off = (size_t)w * pad;
    uint8_t *bgr = calloc(plane, 3);
    if (!bgr)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: %zu bytes for planes", plane * 3);
    for (size_t p = 0; p < (size_t)w * h0; p++) {
        bgr[off + p] = j->img.rgb[3 * p + 2];
        bgr[plane + off + p] = j->img.rgb[3 * p + 1];
        bgr[2 * plane + off + p] = j->img.rgb[3 * p];
    }
    avf_ocr_image_free(&j->img); /* only the planes are needed from here */
    j->img.width = w;
    j->img.height = h;
    int64_t sd[4] = {1, 3, h, w};
    st = avf_tensor_alloc(&j->src, c->ocr->pool, AVF_DTYPE_U8, 4, sd, c->stream);
    if (st == AVF_OK)
        st = avf_memcpy_async(c->ocr->dev, j->src.data, bgr, plane * 3, AVF_COPY_H2D, c->stream,
                              "image.ocr.upload");
    free(bgr); /* pageable: CUDA has staged it when the call returns */
    AVF_TRY(st);
    /* det input: the longer side at most max_side, both rounded to x32 (DetPreProcess) */
    int lw = w > h ? w : h;
    double ratio = lw > o->max_side ? (double)o->max_side / lw : 1.0;
    int rw = (int)(rint((int)(w * ratio) / 32.0) * 32), rh = (int)(rint((int)(h * ratio) / 32.0) * 32);
    j->det_w = rw < 32 ? 32 : rw;
    j->det_h = rh < 32 ? 32 : rh;
    j->ok = 1;
    return AVF_OK;
}

/* Det of the images idx[n] (all of one det input size): resize each into
 * its slot of one u8 batch, normalize the batch, one model run (batch
 * padded to a bucket), one download of the maps, DB boxes per image. */
static avf_status detect_group(ocr_call *c, ocr_image_job *jobs, const int *idx, int n) {
    const avf_ocr_options *o = c->o;
    int rw = jobs[idx[0]].det_w, rh = jobs[idx[0]].det_h, nb = bucket(n);
    int64_t dd[4] = {nb, 3, rh, rw}, one[4] = {1, 3, rh, rw};
    size_t slot = (size_t)3 * rh * rw;
    avf_tensor small = {0}, x = {0}, y = {0};
    float *map = NULL;
    avf_image_resize_params rp = {AVF_IMAGE_NCHW, AVF_RESIZE_BILINEAR, rw, rh};
    avf_image_norm_params np;
    memset(&np, 0, sizeof np);
    np.layout = AVF_IMAGE_NCHW;
    np.scale = 1.0f / 255.0f;
    np.n_channels = 3;
    for (int k = 0; k < 3; k++) {
        np.mean[k] = 0.5f;
        np.std[k] = 0.5f;
    }
    avf_status st = avf_tensor_alloc(&small, c->ocr->pool, AVF_DTYPE_U8, 4, dd, c->stream);
    if (st == AVF_OK && nb > n)
        st = avf_memset_async(c->ocr->dev, (uint8_t *)small.data + n * slot, 0, (nb - n) * slot,
                              c->stream);
    for (int i = 0; st == AVF_OK && i < n; i++) {
        avf_tensor view;
        st = avf_tensor_init_borrowed(&view, (uint8_t *)small.data + i * slot, AVF_DTYPE_U8, 4, one,
                                      c->ocr->dev);
        if (st == AVF_OK)
            st = avf_op_image_resize(&c->ctx, &rp, &jobs[idx[i]].src, &view);
    }
    if (st == AVF_OK)
        st = avf_tensor_alloc(&x, c->ocr->pool, AVF_DTYPE_F32, 4, dd, c->stream);
    if (st == AVF_OK)
        st = avf_op_image_normalize(&c->ctx, &np, &small, &x);
    if (st == AVF_OK)
        st = run1(c, c->ocr->det, &x, &y);
    if (st == AVF_OK && (y.ndim != 4 || y.shape[0] != nb || y.shape[1] != 1 || y.shape[2] != rh ||
                         y.shape[3] != rw || y.dtype != AVF_DTYPE_F32))
        st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: det output is not [%d,1,%d,%d] f32", nb, rh, rw);
    size_t mp = (size_t)rw * rh;
    if (st == AVF_OK && !(map = malloc((size_t)n * mp * sizeof *map)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: det maps");
    if (st == AVF_OK)
        st = avf_memcpy_async(c->ocr->dev, map, y.data, (size_t)n * mp * sizeof *map, AVF_COPY_D2H,
                              c->stream, "ocr.det.map");
    if (st == AVF_OK)
        st = avf_stream_synchronize(c->stream);
    avf_ocr_db_params dp = {o->det_threshold, o->box_threshold, o->unclip_ratio, AVF_OCR_MAX_LINES};
    for (int i = 0; st == AVF_OK && i < n; i++) {
        ocr_image_job *j = &jobs[idx[i]];
        st = avf_ocr_db_boxes(map + i * mp, rw, rh, j->img.width, j->img.height, &dp, &j->boxes,
                              &j->n_boxes);
    }
    free(map);
    avf_tensor_release(&small, c->stream);
    avf_tensor_release(&x, c->stream);
    avf_tensor_release(&y, c->stream);
    return st;
}

/* Det for every loaded image, grouped by det input size. */
static avf_status detect_all(ocr_call *c, ocr_image_job *jobs, int n) {
    int *idx = malloc((size_t)n * sizeof *idx);
    char *done = calloc((size_t)n, 1);
    avf_status st = idx && done ? AVF_OK : AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: det groups");
    for (int i = 0; st == AVF_OK && i < n; i++) {
        if (!jobs[i].ok || done[i])
            continue;
        int m = 0;
        for (int k = i; k < n; k++)
            if (jobs[k].ok && !done[k] && jobs[k].det_w == jobs[i].det_w &&
                jobs[k].det_h == jobs[i].det_h) {
                idx[m++] = k;
                done[k] = 1;
            }
        /* bounded batches: at most OCR_MAX_DET_BATCH images or ~16 M input values */
        int per = (int)((16u << 20) / ((size_t)3 * jobs[i].det_w * jobs[i].det_h));
        per = per < 1 ? 1 : per > OCR_MAX_DET_BATCH ? OCR_MAX_DET_BATCH : per;
        for (int b0 = 0; st == AVF_OK && b0 < m; b0 += per)
            st = detect_group(c, jobs, idx + b0, m - b0 < per ? m - b0 : per);
    }
    free(idx);
    free(done);
    return st;
}

/* The crop of a box: rapidocr's get_rotate_crop_image (sizes from the
 * longer opposite sides, turned 90 degrees counter-clockwise when it is
 * 1.5 times taller than wide). */
static void make_crop(const avf_ocr_box *b, int image, ocr_crop *k) {
    const float *p = b->pt;
    float w = fmaxf(hypotf(p[0] - p[2], p[1] - p[3]), hypotf(p[4] - p[6], p[5] - p[7]));
    float h = fmaxf(hypotf(p[0] - p[6], p[1] - p[7]), hypotf(p[2] - p[4], p[3] - p[5]));
    memset(k, 0, sizeof *k);
    k->image = image;
    k->cw = fmaxf(floorf(w), 1.0f);
    k->ch = fmaxf(floorf(h), 1.0f);
    memcpy(k->quad, p, sizeof k->quad);
    if (k->ch / k->cw >= 1.5f) {
        for (int i = 0; i < 4; i++) { /* new corner i = old corner i+1 */
            k->quad[2 * i] = p[2 * ((i + 1) % 4)];
            k->quad[2 * i + 1] = p[2 * ((i + 1) % 4) + 1];
        }
        float t = k->cw;
        k->cw = k->ch;
        k->ch = t;
    }
}

static void rotate180(ocr_crop *k) {
    float q[8];
    for (int i = 0; i < 4; i++) {
        q[2 * i] = k->quad[2 * ((i + 2) % 4)];
        q[2 * i + 1] = k->quad[2 * ((i + 2) % 4) + 1];
    }
    memcpy(k->quad, q, sizeof q);
    k->rotated = !k->rotated;
}

/* Width the crop takes when resized to height 48 (ceil, like rapidocr). */
static int natural_width(const ocr_crop *k) {
    double w = ceil(OCR_REC_H * (double)k->cw / k->ch);
    return w < 1 ? 1 : w > AVF_OCR_MAX_REC_WIDTH ? AVF_OCR_MAX_REC_WIDTH : (int)w;
}

/* Fill x [nb, 3, 48, W] with the crops idx[n] (valid widths capped at W). */
static avf_status crop_batch(ocr_call *c, ocr_image_job *jobs, ocr_crop *crops, const int *idx,
                             int n, int W, avf_tensor *x) {
    int nb = bucket(n);
    int64_t xd[4] = {nb, 3, OCR_REC_H, W};
    AVF_TRY(avf_tensor_alloc(x, c->ocr->pool, AVF_DTYPE_F32, 4, xd, c->stream));
    avf_status st = AVF_OK;
    if (nb > n)
        st = avf_memset_async(c->ocr->dev, x->data, 0, avf_tensor_nbytes(x), c->stream);
    avf_quad_crop_item *items = calloc((size_t)n, sizeof *items);
    if (!items)
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: crop items");
    for (int i = 0; st == AVF_OK && i < n; i++) {
        const ocr_crop *k = &crops[idx[i]];
        items[i].src = &jobs[k->image].src;
        memcpy(items[i].quad, k->quad, sizeof k->quad);
        items[i].crop_w = k->cw;
        items[i].crop_h = k->ch;
        int nw = natural_width(k);
        items[i].out_w = nw < W ? nw : W;
        items[i].slot = i;
    }
    avf_quad_crop_params qp;
    memset(&qp, 0, sizeof qp);
    for (int ch = 0; ch < 3; ch++) {
        qp.a[ch] = 2.0f / 255.0f; /* (v / 255 - 0.5) / 0.5 */
        qp.b[ch] = -1.0f;
    }
    if (st == AVF_OK)
        st = avf_op_quad_crop(&c->ctx, &qp, items, n, x);
    free(items);
    if (st != AVF_OK)
        avf_tensor_release(x, c->stream);
    return st;
}

static avf_status classify(ocr_call *c, ocr_image_job *jobs, ocr_crop *crops, int n) {
    int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    float *sc = malloc((size_t)OCR_MAX_BATCH * 2 * sizeof *sc);
    avf_status st = idx && sc ? AVF_OK : AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: cls");
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int b0 = 0; st == AVF_OK && b0 < n; b0 += OCR_MAX_BATCH) {
        int m = n - b0 < OCR_MAX_BATCH ? n - b0 : OCR_MAX_BATCH;
        avf_tensor x = {0}, y = {0};
        st = crop_batch(c, jobs, crops, idx + b0, m, OCR_CLS_W, &x);
        if (st == AVF_OK)
            st = run1(c, c->ocr->cls, &x, &y);
        if (st == AVF_OK && (y.ndim != 2 || y.shape[1] != 2 || y.dtype != AVF_DTYPE_F32 ||
                             y.shape[0] > OCR_MAX_BATCH))
            st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: cls output is not [N,2] f32");
        if (st == AVF_OK)
            st = download(c, sc, &y, "ocr.cls.scores");
        for (int i = 0; st == AVF_OK && i < m; i++)
            if (sc[2 * i + 1] > sc[2 * i] && sc[2 * i + 1] > OCR_CLS_THRESH)
                rotate180(&crops[b0 + i]);
        avf_tensor_release(&x, c->stream);
        avf_tensor_release(&y, c->stream);
    }
    free(idx);
    free(sc);
    return st;
}

static int rec_width(const ocr_crop *k, int step) {
    int w = natural_width(k);
    w = (w + step - 1) / step * step;
    if (w < OCR_REC_MIN_W)
        w = OCR_REC_MIN_W;
    return w > AVF_OCR_MAX_REC_WIDTH ? AVF_OCR_MAX_REC_WIDTH : w;
}

/* Rec of idx[n] crops, all of width W: logits -> argmax + max on the
 * device -> CTC on the host. */
static avf_status rec_batch(ocr_call *c, ocr_image_job *jobs, ocr_crop *crops, const int *idx,
                            int n, int W) {
    avf_tensor x = {0}, y = {0}, am = {0}, mx = {0};
    int64_t *ids = NULL;
    float *pr = NULL;
    avf_status st = crop_batch(c, jobs, crops, idx, n, W, &x);
    if (st == AVF_OK)
        st = run1(c, c->ocr->rec, &x, &y);
    if (st == AVF_OK && (y.ndim != 3 || y.dtype != AVF_DTYPE_F32 || y.shape[2] != c->ocr->dict.n_classes ||
                         y.shape[1] < 1 || y.shape[1] > 4096))
        st = AVF_FAIL(AVF_ERR_CORRUPT, "ocr: rec output is not [N,T,%d] f32", c->ocr->dict.n_classes);
    int64_t N = y.shape[0], T = y.shape[1];
    int64_t od[2] = {N, T};
    if (st == AVF_OK)
        st = avf_tensor_alloc(&am, c->ocr->pool, AVF_DTYPE_I64, 2, od, c->stream);
    if (st == AVF_OK)
        st = avf_tensor_alloc(&mx, c->ocr->pool, AVF_DTYPE_F32, 2, od, c->stream);
    if (st == AVF_OK) {
        avf_argmax_params ap = {2, 0, 0};
        st = avf_op_argmax(&c->ctx, &ap, &y, &am);
    }
    if (st == AVF_OK) {
        avf_reduce_params rp;
        memset(&rp, 0, sizeof rp);
        rp.kind = AVF_REDUCE_MAX;
        rp.n_axes = 1;
        rp.axes[0] = 2;
        rp.keepdims = 0;
        st = avf_op_reduce(&c->ctx, &rp, &y, &mx);
    }
    if (st == AVF_OK && (!(ids = malloc((size_t)(N * T) * sizeof *ids)) ||
                         !(pr = malloc((size_t)(N * T) * sizeof *pr))))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: rec results");
    if (st == AVF_OK)
        st = avf_memcpy_async(c->ocr->dev, ids, am.data, avf_tensor_nbytes(&am), AVF_COPY_D2H,
                              c->stream, "ocr.rec.classes");
    if (st == AVF_OK)
        st = download(c, pr, &mx, "ocr.rec.classes");
    for (int i = 0; st == AVF_OK && i < n; i++) {
        ocr_crop *k = &crops[idx[i]];
        st = avf_ocr_ctc_decode(&c->ocr->dict, ids + i * T, pr + i * T, (int)T, &k->text,
                                &k->score);
    }
    free(ids);
    free(pr);
    avf_tensor_release(&x, c->stream);
    avf_tensor_release(&y, c->stream);
    avf_tensor_release(&am, c->stream);
    avf_tensor_release(&mx, c->stream);
    return st;
}

static avf_status recognize(ocr_call *c, ocr_image_job *jobs, ocr_crop *crops, int n) {
    int *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
    int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    avf_status st = w && idx ? AVF_OK : AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: rec");
    for (int i = 0; st == AVF_OK && i < n; i++)
        w[i] = rec_width(&crops[i], c->o->rec_width_step);
    /* one group per width bucket, in chunks of OCR_MAX_BATCH */
    for (int i = 0; st == AVF_OK && i < n; i++) {
        if (w[i] < 0)
            continue;
        int W = w[i], m = 0;
        for (int k = i; k < n; k++)
            if (w[k] == W) {
                idx[m++] = k;
                w[k] = -1;
            }
        for (int b0 = 0; st == AVF_OK && b0 < m; b0 += OCR_MAX_BATCH)
            st = rec_batch(c, jobs, crops, idx + b0, m - b0 < OCR_MAX_BATCH ? m - b0 : OCR_MAX_BATCH,
                           W);
    }
    free(w);
    free(idx);
    return st;
}

static avf_status check_options(const avf_ocr_options *o) {
    if (!(o->det_threshold > 0 && o->det_threshold < 1) || !(o->box_threshold >= 0 && o->box_threshold <= 1) ||
        !(o->unclip_ratio >= 0.1f && o->unclip_ratio <= 10) || o->max_side < 32 ||
        o->max_side > AVF_OCR_MAX_DET_SIDE || !(o->text_threshold >= 0 && o->text_threshold <= 1) ||
        o->rec_width_step < 1 || o->rec_width_step > AVF_OCR_MAX_REC_WIDTH)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "ocr: options out of range (det_threshold %g, box_threshold %g, "
                        "unclip_ratio %g, max_side %d, text_threshold %g, rec_width_step %d)",
                        (double)o->det_threshold, (double)o->box_threshold,
                        (double)o->unclip_ratio, o->max_side, (double)o->text_threshold,
                        o->rec_width_step);
    return AVF_OK;
}

static avf_status collect(ocr_image_job *jobs, ocr_crop *crops, int n, avf_ocr_result *res,
                          float text_threshold) {
    for (int i = 0; i < n; i++) {
        if (res[i].status != AVF_OK || jobs[i].n_boxes == 0)
            continue;
        res[i].lines = calloc((size_t)jobs[i].n_boxes, sizeof *res[i].lines);
        if (!res[i].lines)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: lines");
        for (int b = 0; b < jobs[i].n_boxes; b++) {
            ocr_crop *k = &crops[jobs[i].first_crop + b];
            if (!k->text || k->score < text_threshold)
                continue;
            avf_ocr_line *l = &res[i].lines[res[i].n_lines++];
            l->text = k->text;
            k->text = NULL;
            l->text_score = k->score;
            l->box_score = jobs[i].boxes[b].score;
            /* back to the input image: undo the letterbox, clip like rapidocr */
            for (int c = 0; c < 4; c++) {
                float x = jobs[i].boxes[b].pt[2 * c];
                float y = jobs[i].boxes[b].pt[2 * c + 1] - (float)jobs[i].pad_top;
                l->box[2 * c] = fminf(fmaxf(x, 0.0f), (float)res[i].width);
                l->box[2 * c + 1] = fminf(fmaxf(y, 0.0f), (float)res[i].height);
            }
            l->rotated = k->rotated;
        }
    }
    return AVF_OK;
}

avf_status avf_ocr_run_batch(avf_ocr *ocr, const avf_ocr_options *opts, int n,
                             const avf_ocr_input *in, avf_ocr_result *res) {
    AVF_CHECK_ARG(ocr != NULL && in != NULL && res != NULL);
    if (n < 1 || n > AVF_OCR_MAX_IMAGES)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ocr: %d images (1..%d)", n, AVF_OCR_MAX_IMAGES);
    memset(res, 0, (size_t)n * sizeof *res);
    avf_ocr_options def;
    if (!opts) {
        avf_ocr_options_default(&def);
        opts = &def;
    }
    avf_status st = check_options(opts);
    ocr_call c;
    memset(&c, 0, sizeof c);
    c.ocr = ocr;
    c.o = opts;
    ocr_image_job *jobs = calloc((size_t)n, sizeof *jobs);
    ocr_crop *crops = NULL;
    int n_crops = 0;
    if (st == AVF_OK && !jobs)
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: jobs");
    if (st == AVF_OK)
        st = stream_acquire(ocr, &c.stream);
    if (st == AVF_OK)
        st = avf_op_ctx_init(&c.ctx, ocr->dev, c.stream, ocr->pool);
    c.ro.device = ocr->dev;
    c.ro.stream = c.stream;
    c.ro.pool = ocr->pool;
    c.ro.fp16 = opts->fp16 && avf_device_get_kind(ocr->dev) != AVF_DEVICE_CPU;
    for (int i = 0; st == AVF_OK && i < n; i++) {
        if (!in[i].data && in[i].len) {
            AVF_FAIL(AVF_ERR_INVALID_ARG, "ocr: image %d has no data", i);
            set_error(&res[i], AVF_ERR_INVALID_ARG);
            continue;
        }
        st = load_image(&c, &in[i], &jobs[i], &res[i]);
    }
    if (st == AVF_OK)
        st = detect_all(&c, jobs, n);
    for (int i = 0; st == AVF_OK && i < n; i++) {
        jobs[i].first_crop = n_crops;
        n_crops += res[i].status == AVF_OK ? jobs[i].n_boxes : 0;
    }
    if (st == AVF_OK && n_crops > 0 && !(crops = calloc((size_t)n_crops, sizeof *crops)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr: %d crops", n_crops);
    for (int i = 0; st == AVF_OK && i < n; i++)
        for (int b = 0; res[i].status == AVF_OK && b < jobs[i].n_boxes; b++)
            make_crop(&jobs[i].boxes[b], i, &crops[jobs[i].first_crop + b]);
    if (st == AVF_OK && n_crops > 0 && opts->use_cls)
        st = classify(&c, jobs, crops, n_crops);
    if (st == AVF_OK && n_crops > 0)
        st = recognize(&c, jobs, crops, n_crops);
    if (st == AVF_OK)
        st = collect(jobs, crops, n, res, opts->text_threshold);
    if (st != AVF_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", avf_last_error());
        for (int i = 0; i < n; i++)
            if (res[i].status == AVF_OK) {
                avf_ocr_result_free(&res[i]);
                res[i].status = st;
                snprintf(res[i].error, sizeof res[i].error, "%s", msg);
            }
        AVF_FAIL(st, "%s", msg);
    }
    if (c.stream)
        avf_stream_synchronize(c.stream);
    for (int i = 0; jobs && i < n; i++) {
        avf_tensor_release(&jobs[i].src, c.stream);
        avf_ocr_image_free(&jobs[i].img);
        free(jobs[i].boxes);
    }
    for (int i = 0; i < n_crops && crops; i++)
        free(crops[i].text);
    free(crops);
    free(jobs);
    if (c.stream) {
        avf_op_ctx_release(&c.ctx);
        stream_release(ocr, c.stream);
    }
    return st;
}
