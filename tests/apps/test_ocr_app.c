/* The OCR pipeline (avflow/ocr.h) on the real PaddleOCR models and the
 * data/ocr images, on the CPU and (when present) cuda:0:
 *   - a batch mixing good images with garbage, truncated and huge-header
 *     files: the bad ones get their own error, the good ones the same lines
 *     as when run alone (batching the crops changes nothing);
 *   - concurrent calls from several threads give the same results;
 *   - on CUDA: the same texts and boxes as the CPU (fp32), and fp16;
 *   - argument checks.
 * usage: test_ocr_app [MODELS_DIR [IMAGES_DIR]] (defaults: the source
 * tree's models/ and data/ocr/, so a bundle can point elsewhere).
 * Exits 77 (skipped) without the models or images. */
#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/ocr.h"

static const char *g_models = AVF_SOURCE_DIR "/models";
static const char *const k_files[] = {"page.png", "line_total.png", "line_fox.png",
                                      "line_hello.png", "line_invoice.png"};
enum { NF = 5 };

static avf_ocr_input g_img[NF];

static void *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void same_lines(const avf_ocr_result *a, const avf_ocr_result *b, float box_tol,
                       float score_tol) {
    assert_int_equal(a->status, AVF_OK);
    assert_int_equal(b->status, AVF_OK);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->n_lines, b->n_lines);
    for (int i = 0; i < a->n_lines; i++) {
        assert_string_equal(a->lines[i].text, b->lines[i].text);
        for (int k = 0; k < 8; k++)
            assert_true(fabsf(a->lines[i].box[k] - b->lines[i].box[k]) <= box_tol);
        assert_true(fabsf(a->lines[i].text_score - b->lines[i].text_score) <= score_tol);
        assert_int_equal(a->lines[i].rotated, b->lines[i].rotated);
    }
}

static void run_singles(avf_ocr *ocr, const avf_ocr_options *o, avf_ocr_result *out) {
    for (int i = 0; i < NF; i++) {
        assert_avf_ok(avf_ocr_run_batch(ocr, o, 1, &g_img[i], &out[i]));
        assert_int_equal(out[i].status, AVF_OK);
        assert_true(out[i].n_lines >= 1);
        for (int k = 0; k < out[i].n_lines; k++) {
            assert_true(out[i].lines[k].text_score >= o->text_threshold);
            assert_true(out[i].lines[k].box_score >= o->box_threshold);
            for (int c = 0; c < 4; c++) {
                assert_true(out[i].lines[k].box[2 * c] >= 0 &&
                            out[i].lines[k].box[2 * c] < out[i].width);
                assert_true(out[i].lines[k].box[2 * c + 1] >= 0 &&
                            out[i].lines[k].box[2 * c + 1] < out[i].height);
            }
        }
    }
    assert_int_equal(out[0].n_lines, 5); /* page.png has five lines of text */
}

static void test_batch(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_ocr *ocr = NULL;
    assert_avf_ok(avf_ocr_create(g_models, dev, &ocr));
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    avf_ocr_result single[NF];
    run_singles(ocr, &o, single);
    /* good, garbage, good, truncated, good, huge header, empty */
    static const char garbage[] = "this is not an image at all";
    uint8_t *huge = malloc(g_img[1].len);
    memcpy(huge, g_img[1].data, g_img[1].len);
    huge[16] = 0x7f; /* width 2^30-ish: the CRC now fails or the size check does */
    avf_ocr_input in[7] = {g_img[0], {garbage, sizeof garbage}, g_img[1],
                           {g_img[0].data, g_img[0].len / 3}, g_img[2], {huge, g_img[1].len},
                           {NULL, 0}};
    avf_ocr_result r[7];
    assert_avf_ok(avf_ocr_run_batch(ocr, &o, 7, in, r));
    same_lines(&r[0], &single[0], 0, 2e-3f);
    same_lines(&r[2], &single[1], 0, 2e-3f);
    same_lines(&r[4], &single[2], 0, 2e-3f);
    assert_int_equal(r[1].status, AVF_ERR_UNSUPPORTED);
    assert_int_equal(r[3].status, AVF_ERR_CORRUPT);
    assert_true(r[5].status == AVF_ERR_CORRUPT || r[5].status == AVF_ERR_INVALID_ARG);
    assert_int_equal(r[6].status, AVF_ERR_CORRUPT);
    for (int i = 1; i < 7; i += 2) {
        assert_true(strlen(r[i].error) > 0);
        assert_int_equal(r[i].n_lines, 0);
    }
    print_message("garbage: %s\ntruncated: %s\nhuge: %s\n", r[1].error, r[3].error, r[5].error);
    for (int i = 0; i < 7; i++)
        avf_ocr_result_free(&r[i]);
    /* every image at once, twice over (crops of 10 images share batches) */
    avf_ocr_input all[2 * NF];
    avf_ocr_result ra[2 * NF];
    for (int i = 0; i < 2 * NF; i++)
        all[i] = g_img[i % NF];
    assert_avf_ok(avf_ocr_run_batch(ocr, &o, 2 * NF, all, ra));
    for (int i = 0; i < 2 * NF; i++) {
        same_lines(&ra[i], &single[i % NF], 0, 2e-3f);
        avf_ocr_result_free(&ra[i]);
    }
    /* on CUDA: the CPU's texts and boxes; fp16 reported and mostly equal */
    if (avf_device_get_kind(dev) == AVF_DEVICE_CUDA) {
        avf_device *cpu;
        avf_ocr *cocr = NULL;
        assert_avf_ok(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));
        assert_avf_ok(avf_ocr_create(g_models, cpu, &cocr));
        avf_ocr_result cres[NF], hres[NF];
        run_singles(cocr, &o, cres);
        for (int i = 0; i < NF; i++)
            same_lines(&single[i], &cres[i], 1.0f, 1e-2f);
        avf_ocr_options h = o;
        h.fp16 = 1;
        int lines = 0, same = 0;
        for (int i = 0; i < NF; i++) {
            assert_avf_ok(avf_ocr_run_batch(ocr, &h, 1, &g_img[i], &hres[i]));
            assert_int_equal(hres[i].status, AVF_OK);
            for (int k = 0; k < cres[i].n_lines && k < hres[i].n_lines; k++)
                same += strcmp(cres[i].lines[k].text, hres[i].lines[k].text) == 0;
            lines += cres[i].n_lines;
        }
        print_message("fp16: %d of %d lines read as in fp32 on the CPU\n", same, lines);
        assert_true(same * 10 >= lines * 8);
        for (int i = 0; i < NF; i++) {
            avf_ocr_result_free(&cres[i]);
            avf_ocr_result_free(&hres[i]);
        }
        avf_ocr_free(cocr);
    }
    for (int i = 0; i < NF; i++)
        avf_ocr_result_free(&single[i]);
    free(huge);
    avf_ocr_free(ocr);
}

typedef struct worker {
    avf_ocr *ocr;
    const avf_ocr_result *want;
    int first;
    int fails;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    for (int rep = 0; rep < 2; rep++) {
        avf_ocr_input in[2] = {g_img[w->first % NF], g_img[(w->first + 1) % NF]};
        avf_ocr_result r[2];
        if (avf_ocr_run_batch(w->ocr, &o, 2, in, r) != AVF_OK) {
            w->fails++;
            continue;
        }
        for (int k = 0; k < 2; k++) {
            const avf_ocr_result *e = &w->want[(w->first + k) % NF];
            int ok = r[k].status == AVF_OK && r[k].n_lines == e->n_lines;
            for (int l = 0; ok && l < e->n_lines; l++)
                ok = strcmp(r[k].lines[l].text, e->lines[l].text) == 0 &&
                     memcmp(r[k].lines[l].box, e->lines[l].box, sizeof e->lines[l].box) == 0;
            w->fails += !ok;
            avf_ocr_result_free(&r[k]);
        }
    }
    return NULL;
}

static void test_threads(void **state) {
    avf_device *dev = avf_test_device(state);
    avf_ocr *ocr = NULL;
    assert_avf_ok(avf_ocr_create(g_models, dev, &ocr));
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    avf_ocr_result single[NF];
    run_singles(ocr, &o, single);
    enum { NT = 3 };
    pthread_t t[NT];
    worker w[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (worker){ocr, single, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].fails, 0);
    }
    for (int i = 0; i < NF; i++)
        avf_ocr_result_free(&single[i]);
    avf_ocr_free(ocr);
}

static void test_args(void **state) {
    (void)state;
    avf_ocr *ocr = NULL;
    assert_avf_fails(avf_ocr_create("/nonexistent", NULL, &ocr), AVF_ERR_NOT_FOUND);
    assert_null(ocr);
    assert_avf_ok(avf_ocr_create(g_models, NULL, &ocr));
    avf_ocr_result r[2];
    assert_avf_fails(avf_ocr_run_batch(ocr, NULL, 0, g_img, r), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_ocr_run_batch(ocr, NULL, AVF_OCR_MAX_IMAGES + 1, g_img, r),
                     AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_ocr_run_batch(ocr, NULL, 1, NULL, r), AVF_ERR_INVALID_ARG);
    avf_ocr_options o;
    avf_ocr_options_default(&o);
    o.max_side = 8;
    assert_avf_fails(avf_ocr_run_batch(ocr, &o, 1, g_img, r), AVF_ERR_INVALID_ARG);
    assert_int_equal(r[0].status, AVF_ERR_INVALID_ARG);
    avf_ocr_result_free(&r[0]);
    avf_ocr_options_default(&o);
    o.unclip_ratio = NAN;
    assert_avf_fails(avf_ocr_run_batch(ocr, &o, 1, g_img, r), AVF_ERR_INVALID_ARG);
    avf_ocr_result_free(&r[0]);
    /* defaults via NULL options; a smaller det input still finds the page's lines */
    assert_avf_ok(avf_ocr_run_batch(ocr, NULL, 1, g_img, r));
    assert_int_equal(r[0].n_lines, 5);
    avf_ocr_result_free(&r[0]);
    avf_ocr_options_default(&o);
    o.use_cls = 0;
    assert_avf_ok(avf_ocr_run_batch(ocr, &o, 1, g_img, r));
    assert_int_equal(r[0].n_lines, 5);
    avf_ocr_result_free(&r[0]);
    avf_ocr_free(ocr);
}

int main(int argc, char **argv) {
    const char *images = AVF_SOURCE_DIR "/data/ocr";
    if (argc > 1)
        g_models = argv[1];
    if (argc > 2)
        images = argv[2];
    char path[4096];
    snprintf(path, sizeof path, "%s/ppocr_v4_det.onnx", g_models);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP: %s missing (scripts/fetch-models.sh)\n", path);
        return 77;
    }
    fclose(f);
    for (int i = 0; i < NF; i++) {
        snprintf(path, sizeof path, "%s/%s", images, k_files[i]);
        g_img[i].data = read_all(path, &g_img[i].len);
        if (!g_img[i].data) {
            printf("SKIP: %s missing (scripts/make-test-data.sh)\n", path);
            return 77;
        }
    }
    const struct CMUnitTest tests[] = {
        AVF_DEVICE_TESTS(test_batch),
        AVF_DEVICE_TESTS(test_threads),
        cmocka_unit_test(test_args),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < NF; i++)
        free((void *)g_img[i].data);
    return rc;
}
