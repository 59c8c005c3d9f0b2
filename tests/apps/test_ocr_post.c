/* The OCR application's host stages: minimum-area rectangles, DB box
 * extraction on synthetic probability maps (expected boxes worked out by
 * hand from the rules in apps/ocr_db.h), the dictionary and CTC decoding. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "apps/ocr_db.h"
#include "apps/ocr_dict.h"

static void fill(float *map, int mw, int x0, int y0, int x1, int y1, float v) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            map[y * mw + x] = v;
}

static void test_min_area_rect(void **state) {
    (void)state;
    /* the corners of a 30 x 10 rectangle turned by 30 degrees, plus inner points */
    float pts[2 * 8];
    double a = M_PI / 6, c = cos(a), s = sin(a);
    double loc[8][2] = {{0, 0}, {30, 0}, {30, 10}, {0, 10}, {15, 5}, {3, 2}, {29, 9}, {10, 1}};
    for (int i = 0; i < 8; i++) {
        pts[2 * i] = (float)(100 + loc[i][0] * c - loc[i][1] * s);
        pts[2 * i + 1] = (float)(50 + loc[i][0] * s + loc[i][1] * c);
    }
    float corners[8], w, h;
    assert_int_equal(avf_ocr_min_area_rect(pts, 8, corners, &w, &h), 1);
    float lo = fminf(w, h), hi = fmaxf(w, h);
    assert_true(fabsf(lo - 10) < 1e-3 && fabsf(hi - 30) < 1e-3);
    /* every given corner is one of the rectangle's */
    for (int i = 0; i < 4; i++) {
        int found = 0;
        for (int k = 0; k < 4; k++)
            found |= hypotf(corners[2 * k] - pts[2 * i], corners[2 * k + 1] - pts[2 * i + 1]) < 1e-3f;
        assert_true(found);
    }
    float line[6] = {0, 0, 1, 1, 2, 2};
    assert_int_equal(avf_ocr_min_area_rect(line, 3, corners, &w, &h), 0);
    assert_int_equal(avf_ocr_min_area_rect(line, 2, corners, &w, &h), 0);
}

static void test_db_boxes(void **state) {
    (void)state;
    enum { MW = 128, MH = 64 };
    float *map = calloc(MW * MH, sizeof *map);
    /* line A: x 10..49, y 5..14 (after the 2x2 dilation 10..50, 5..15: a
     * 40 x 10 rectangle, d = 400 * 1.6 / 100 = 6.4 -> x 3.6..56.4 -> 4..56,
     * y -1.4..21.4 -> -1..21, clipped to 0..21) */
    fill(map, MW, 10, 5, 49, 14, 0.9f);
    /* line B to the left of C on the same row; C starts higher by 2 */
    fill(map, MW, 70, 40, 89, 49, 0.8f);
    fill(map, MW, 100, 38, 120, 47, 0.8f);
    /* D: over det_threshold, under box_threshold -> dropped */
    fill(map, MW, 10, 40, 40, 50, 0.4f);
    /* E: a 2 x 2 speck -> dropped (short side < 3) */
    fill(map, MW, 60, 20, 61, 21, 0.99f);
    avf_ocr_db_params p = {0.3f, 0.5f, 1.6f, 1000};
    avf_ocr_box *b = NULL;
    int n = -1;
    assert_avf_ok(avf_ocr_db_boxes(map, MW, MH, MW, MH, &p, &b, &n));
    assert_int_equal(n, 3);
    float wantA[8] = {4, 0, 56, 0, 56, 21, 4, 21};
    for (int k = 0; k < 8; k++)
        assert_float_equal(b[0].pt[k], wantA[k], 0);
    /* the score is taken over the dilated rectangle (41 x 11 pixels) of
     * which 40 x 10 hold 0.9 */
    assert_float_equal(b[0].score, 0.9f * 400 / 451, 1e-4);
    /* B then C although C's top is higher: same row (within 10 px) */
    assert_true(b[1].pt[0] < b[2].pt[0]);
    assert_true(b[2].pt[1] < b[1].pt[1]);
    /* clockwise from top-left */
    for (int i = 0; i < n; i++) {
        assert_true(b[i].pt[0] < b[i].pt[2] && b[i].pt[5] > b[i].pt[3]);
        assert_true(b[i].pt[6] < b[i].pt[4] && b[i].pt[7] > b[i].pt[1]);
    }
    free(b);
    /* the same map for an image twice as large: coordinates scale (rounded) */
    assert_avf_ok(avf_ocr_db_boxes(map, MW, MH, 2 * MW, 2 * MH, &p, &b, &n));
    assert_int_equal(n, 3);
    assert_float_equal(b[0].pt[0], 8, 0);
    assert_float_equal(b[0].pt[2], 112, 0);
    assert_float_equal(b[0].pt[5], 42, 0);
    free(b);
    /* max_boxes bounds the candidates */
    p.max_boxes = 1;
    assert_avf_ok(avf_ocr_db_boxes(map, MW, MH, MW, MH, &p, &b, &n));
    assert_int_equal(n, 1);
    free(b);
    /* nothing above the threshold: no boxes */
    p.max_boxes = 1000;
    p.det_threshold = 0.995f;
    assert_avf_ok(avf_ocr_db_boxes(map, MW, MH, MW, MH, &p, &b, &n));
    assert_int_equal(n, 0);
    assert_null(b);
    assert_avf_fails(avf_ocr_db_boxes(map, 0, MH, MW, MH, &p, &b, &n), AVF_ERR_INVALID_ARG);
    assert_avf_fails(avf_ocr_db_boxes(map, MW, MH, 0, MH, &p, &b, &n), AVF_ERR_INVALID_ARG);
    free(map);
}

/* A rotated line gives a rotated box, its corners clockwise from top-left. */
static void test_db_rotated(void **state) {
    (void)state;
    enum { MW = 160, MH = 120 };
    float *map = calloc(MW * MH, sizeof *map);
    double a = 0.3, c = cos(a), s = sin(a);
    for (int y = 0; y < MH; y++)
        for (int x = 0; x < MW; x++) {
            double u = (x - 80) * c + (y - 60) * s, v = -(x - 80) * s + (y - 60) * c;
            if (fabs(u) < 50 && fabs(v) < 8)
                map[y * MW + x] = 0.95f;
        }
    avf_ocr_db_params p = {0.3f, 0.5f, 1.6f, 1000};
    avf_ocr_box *b = NULL;
    int n = 0;
    assert_avf_ok(avf_ocr_db_boxes(map, MW, MH, MW, MH, &p, &b, &n));
    assert_int_equal(n, 1);
    const float *q = b[0].pt;
    /* top edge runs down to the right at about 0.3 rad */
    double ang = atan2(q[3] - q[1], q[2] - q[0]);
    assert_true(fabs(ang - a) < 0.05);
    /* long side ~ 100 + 2d, short ~ 16 + 2d with d = 100*16*1.6/232 ~ 11 */
    double lw = hypot(q[2] - q[0], q[3] - q[1]), lh = hypot(q[6] - q[0], q[7] - q[1]);
    assert_true(fabs(lw - 122) < 4 && fabs(lh - 38) < 4);
    free(b);
    free(map);
}

static void test_ctc(void **state) {
    (void)state;
    avf_ocr_dict d;
    const char lines[] = "a\nb\r\n\xc3\xa9\n";
    assert_avf_ok(avf_ocr_dict_from_lines(lines, strlen(lines), &d));
    assert_int_equal(d.n_classes, 5); /* blank a b é space */
    int64_t idx[] = {0, 1, 1, 0, 1, 2, 4, 4, 3, 0};
    float pr[] = {0.9f, 0.5f, 0.7f, 0.9f, 0.6f, 0.8f, 1.0f, 0.2f, 0.9f, 0.1f};
    char *text = NULL;
    float score = 0;
    assert_avf_ok(avf_ocr_ctc_decode(&d, idx, pr, 10, &text, &score));
    assert_string_equal(text, "aab \xc3\xa9");
    /* kept: t=1 (.5), t=4 (.6), t=5 (.8), t=6 (1.0), t=8 (.9) */
    assert_float_equal(score, (0.5f + 0.6f + 0.8f + 1.0f + 0.9f) / 5, 1e-6);
    free(text);
    int64_t blanks[] = {0, 0, 0};
    assert_avf_ok(avf_ocr_ctc_decode(&d, blanks, pr, 3, &text, &score));
    assert_string_equal(text, "");
    assert_float_equal(score, 0, 0);
    free(text);
    int64_t bad[] = {1, 5};
    assert_avf_fails(avf_ocr_ctc_decode(&d, bad, pr, 2, &text, &score), AVF_ERR_CORRUPT);
    assert_null(text);
    avf_ocr_dict_free(&d);
    char longc[40];
    memset(longc, 'x', sizeof longc - 1);
    longc[39] = 0;
    assert_avf_fails(avf_ocr_dict_from_lines(longc, 39, &d), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_dict_from_lines("", 0, &d), AVF_ERR_CORRUPT);
}

/* The dictionary of the real rec model: 6623 entries + blank + space. */
static void test_dict_onnx(void **state) {
    (void)state;
    const char *path = AVF_SOURCE_DIR "/models/ppocr_v4_rec.onnx";
    FILE *f = fopen(path, "rb");
    if (!f)
        skip();
    fclose(f);
    avf_ocr_dict d;
    assert_avf_ok(avf_ocr_dict_load_onnx(path, &d));
    assert_int_equal(d.n_classes, 6625);
    assert_string_equal(d.text + d.offset[d.n_classes - 1], " ");
    assert_string_equal(d.text + d.offset[0], "");
    avf_ocr_dict_free(&d);
    assert_avf_fails(avf_ocr_dict_load_onnx(AVF_SOURCE_DIR "/models/ppocr_v4_det.onnx", &d),
                     AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_dict_load_onnx(AVF_SOURCE_DIR "/README.md", &d), AVF_ERR_CORRUPT);
    assert_avf_fails(avf_ocr_dict_load_onnx("/nonexistent/x.onnx", &d), AVF_ERR_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_area_rect), cmocka_unit_test(test_db_boxes),
        cmocka_unit_test(test_db_rotated),    cmocka_unit_test(test_ctc),
        cmocka_unit_test(test_dict_onnx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
