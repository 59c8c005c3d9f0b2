/* Internal: DB post-processing of the text detector's probability map into
 * text boxes, as PaddleOCR/rapidocr do it (DBPostProcess, score_mode
 * "fast", use_dilation, then filter_tag_det_res and sorted_boxes), written
 * without OpenCV:
 *
 *   bitmap = prob > det_threshold, dilated by a 2x2 square
 *   each 8-connected component (an outer contour) -> convex hull of its
 *   pixel centres -> minimum-area rectangle (rotating calipers) -> dropped
 *   when its short side < 3 -> box score = mean prob inside the rectangle ->
 *   dropped below box_threshold -> unclip: the rectangle grown by
 *   area * unclip_ratio / perimeter on every side (what a round-joined
 *   offset's minimum-area rectangle is) -> dropped when its short side < 5
 *   -> scaled to the image, rounded, ordered clockwise from top-left,
 *   clipped, dropped when a side is <= 3 pixels -> sorted top to bottom,
 *   left to right (rows within 10 pixels).
 *
 * Pure host code; bounded by the map size (<= 2^24 pixels) and max_boxes. */
#ifndef AVF_APPS_OCR_DB_H
#define AVF_APPS_OCR_DB_H

#include "avflow/status.h"

typedef struct avf_ocr_db_params {
    float det_threshold, box_threshold, unclip_ratio;
    int max_boxes;
} avf_ocr_db_params;

typedef struct avf_ocr_box {
    float pt[8];   /* x,y clockwise from top-left, image pixels (integers) */
    float score;
} avf_ocr_box;

/* prob [mh, mw] -> boxes in an image of img_w x img_h. *boxes is malloc'ed
 * (NULL when none), *n their count. */
avf_status avf_ocr_db_boxes(const float *prob, int mw, int mh, int img_w, int img_h,
                            const avf_ocr_db_params *p, avf_ocr_box **boxes, int *n);

/* Exposed for tests: the minimum-area rectangle of pts[n] (x,y pairs) as 4
 * corners (any order) and its side lengths; returns 0 for fewer than 3
 * non-collinear points. */
int avf_ocr_min_area_rect(const float *pts, int n, float corners[8], float *w, float *h);

#endif /* AVF_APPS_OCR_DB_H */
