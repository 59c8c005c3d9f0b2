/* DB post-processing (see ocr_db.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apps/ocr_db.h"
#include "core/error.h"

#define DB_MAX_MAP_PIXELS (1u << 24)

typedef struct pt {
    double x, y;
} pt;

static double cross(pt o, pt a, pt b) {
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static int pt_cmp(const void *a, const void *b) {
    const pt *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->y > q->y) - (p->y < q->y);
}

/* Monotone chain; pts is sorted in place; hull gets up to n + 1 points,
 * counter-clockwise, without collinear points. Returns the hull's size. */
static int convex_hull(pt *pts, int n, pt *hull) {
    qsort(pts, (size_t)n, sizeof *pts, pt_cmp);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    for (int i = n - 2, lo = k + 1; i >= 0; i--) {
        while (k >= lo && cross(hull[k - 2], hull[k - 1], pts[i]) <= 0)
            k--;
        hull[k++] = pts[i];
    }
    return k > 1 ? k - 1 : k;
}

/* The rectangle with a side on one hull edge whose area is smallest (a
 * minimum-area rectangle always has one). */
static int hull_min_rect(const pt *h, int m, float corners[8], float *w, float *hh) {
    if (m < 3)
        return 0;
    double best = INFINITY;
    for (int i = 0; i < m; i++) {
        pt a = h[i], b = h[(i + 1) % m];
        double ex = b.x - a.x, ey = b.y - a.y, len = sqrt(ex * ex + ey * ey);
        if (len <= 0)
            continue;
        ex /= len;
        ey /= len;
        double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
        for (int j = 0; j < m; j++) {
            double dx = h[j].x - a.x, dy = h[j].y - a.y;
            double u = dx * ex + dy * ey, v = -dx * ey + dy * ex;
            u0 = u < u0 ? u : u0;
            u1 = u > u1 ? u : u1;
            v0 = v < v0 ? v : v0;
            v1 = v > v1 ? v : v1;
        }
        double area = (u1 - u0) * (v1 - v0);
        if (area < best) {
            best = area;
            double us[4] = {u0, u1, u1, u0}, vs[4] = {v0, v0, v1, v1};
            for (int k = 0; k < 4; k++) {
                corners[2 * k] = (float)(a.x + us[k] * ex - vs[k] * ey);
                corners[2 * k + 1] = (float)(a.y + us[k] * ey + vs[k] * ex);
            }
            *w = (float)(u1 - u0);
            *hh = (float)(v1 - v0);
        }
    }
    return best < INFINITY;
}

int avf_ocr_min_area_rect(const float *pts, int n, float corners[8], float *w, float *h) {
    if (n < 3)
        return 0;
    pt *p = malloc((size_t)n * sizeof *p), *hull = malloc((size_t)(n + 1) * sizeof *hull);
    int ok = 0;
    if (p && hull) {
        for (int i = 0; i < n; i++)
            p[i] = (pt){pts[2 * i], pts[2 * i + 1]};
        int m = convex_hull(p, n, hull);
        ok = hull_min_rect(hull, m, corners, w, h);
    }
    free(p);
    free(hull);
    return ok;
}

/* get_mini_boxes' order: sorted by x (stable), then of the two leftmost the
 * upper is first and the lower last, of the two rightmost the upper second. */
static void mini_box_order(const float c[8], float out[8]) {
    int idx[4] = {0, 1, 2, 3};
    for (int i = 1; i < 4; i++) /* stable insertion sort by x */
        for (int j = i; j > 0 && c[2 * idx[j]] < c[2 * idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    int i1, i2, i3, i4;
    if (c[2 * idx[1] + 1] > c[2 * idx[0] + 1]) {
        i1 = idx[0];
        i4 = idx[1];
    } else {
        i1 = idx[1];
        i4 = idx[0];
    }
    if (c[2 * idx[3] + 1] > c[2 * idx[2] + 1]) {
        i2 = idx[2];
        i3 = idx[3];
    } else {
        i2 = idx[3];
        i3 = idx[2];
    }
    int o[4] = {i1, i2, i3, i4};
    for (int k = 0; k < 4; k++) {
        out[2 * k] = c[2 * o[k]];
        out[2 * k + 1] = c[2 * o[k] + 1];
    }
}

static int in_quad_or_edge(const float *q, double x, double y) {
    int inside = 0;
    for (int i = 0, j = 3; i < 4; j = i++) {
        double xi = q[2 * i], yi = q[2 * i + 1], xj = q[2 * j], yj = q[2 * j + 1];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            inside = !inside;
        /* distance to the edge: fillPoly also paints the outline */
        double ex = xj - xi, ey = yj - yi, l2 = ex * ex + ey * ey;
        double t = l2 > 0 ? ((x - xi) * ex + (y - yi) * ey) / l2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double dx = xi + t * ex - x, dy = yi + t * ey - y;
        if (dx * dx + dy * dy <= 0.25)
            return 1;
    }
    return inside;
}

/* Mean of prob over the quad's pixels (box_score_fast: the quad's corners
 * truncated to integers relative to the clipped bounding box). */
static float box_score(const float *prob, int mw, int mh, const float *q) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int k = 0; k < 4; k++) {
        x0 = fmin(x0, q[2 * k]);
        x1 = fmax(x1, q[2 * k]);
        y0 = fmin(y0, q[2 * k + 1]);
        y1 = fmax(y1, q[2 * k + 1]);
    }
    int xmin = (int)fmin(fmax(floor(x0), 0), mw - 1), xmax = (int)fmin(fmax(ceil(x1), 0), mw - 1);
    int ymin = (int)fmin(fmax(floor(y0), 0), mh - 1), ymax = (int)fmin(fmax(ceil(y1), 0), mh - 1);
    float rq[8];
    for (int k = 0; k < 4; k++) {
        rq[2 * k] = (float)(int)(q[2 * k] - xmin);
        rq[2 * k + 1] = (float)(int)(q[2 * k + 1] - ymin);
    }
    double sum = 0;
    int64_t cnt = 0;
    for (int y = ymin; y <= ymax; y++)
        for (int x = xmin; x <= xmax; x++)
            if (in_quad_or_edge(rq, x - xmin, y - ymin)) {
                sum += prob[(int64_t)y * mw + x];
                cnt++;
            }
    return cnt ? (float)(sum / cnt) : 0.0f;
}

/* order_points_clockwise: by x (stable), left pair by y -> tl, bl; right
 * pair by y -> tr, br. */
static void order_clockwise(float b[8]) {
    int idx[4] = {0, 1, 2, 3};
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && b[2 * idx[j]] < b[2 * idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    int tl = idx[0], bl = idx[1], tr = idx[2], br = idx[3], t;
    if (b[2 * bl + 1] < b[2 * tl + 1]) {
        t = tl;
        tl = bl;
        bl = t;
    }
    if (b[2 * br + 1] < b[2 * tr + 1]) {
        t = tr;
        tr = br;
        br = t;
    }
    float o[8] = {b[2 * tl], b[2 * tl + 1], b[2 * tr], b[2 * tr + 1],
                  b[2 * br], b[2 * br + 1], b[2 * bl], b[2 * bl + 1]};
    memcpy(b, o, sizeof o);
}

static int box_cmp(const void *a, const void *b) {
    const avf_ocr_box *p = a, *q = b;
    if (p->pt[1] != q->pt[1])
        return p->pt[1] < q->pt[1] ? -1 : 1;
    return (p->pt[0] > q->pt[0]) - (p->pt[0] < q->pt[0]);
}

/* One component's boxes step (from the hull to the image's box); returns 1
 * and fills *out when the box survives. */
static int component_box(const float *prob, int mw, int mh, int img_w, int img_h,
                         const avf_ocr_db_params *p, pt *hull, int m, avf_ocr_box *out) {
    float c[8], q[8], w, h;
    if (!hull_min_rect(hull, m, c, &w, &h) || fminf(w, h) < 3.0f)
        return 0;
    mini_box_order(c, q);
    float score = box_score(prob, mw, mh, q);
    if (p->box_threshold > score)
        return 0;
    double area = (double)w * h, perim = 2.0 * ((double)w + h);
    double d = perim > 0 ? area * p->unclip_ratio / perim : 0;
    /* grow the rectangle by d along both of its axes; like pyclipper, the
     * offset starts from the corners truncated to integers and ends on
     * integer points (rounded) */
    for (int k = 0; k < 8; k++)
        c[k] = (float)(int)q[k];
    double cx = (c[0] + c[4]) / 2, cy = (c[1] + c[5]) / 2;
    double ux = c[2] - c[0], uy = c[3] - c[1], vx = c[6] - c[0], vy = c[7] - c[1];
    double lu = sqrt(ux * ux + uy * uy), lv = sqrt(vx * vx + vy * vy);
    if (!(lu > 0 && lv > 0))
        return 0;
    double su = (lu / 2 + d) / lu, sv = (lv / 2 + d) / lv;
    float g[8];
    const double sgn[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
    for (int k = 0; k < 4; k++) {
        g[2 * k] = (float)(cx + sgn[k][0] * su * ux + sgn[k][1] * sv * vx);
        g[2 * k + 1] = (float)(cy + sgn[k][0] * su * uy + sgn[k][1] * sv * vy);
    }
    for (int k = 0; k < 8; k++)
        g[k] = rintf(g[k]);
    float r[8];
    if (!avf_ocr_min_area_rect(g, 4, r, &w, &h) || fminf(w, h) < 5.0f)
        return 0;
    mini_box_order(r, q);
    for (int k = 0; k < 4; k++) {
        double x = rint((double)q[2 * k] / mw * img_w), y = rint((double)q[2 * k + 1] / mh * img_h);
        q[2 * k] = (float)fmin(fmax(x, 0), img_w);
        q[2 * k + 1] = (float)fmin(fmax(y, 0), img_h);
    }
    order_clockwise(q);
    for (int k = 0; k < 4; k++) {
        q[2 * k] = (float)(int)fminf(fmaxf(q[2 * k], 0), (float)(img_w - 1));
        q[2 * k + 1] = (float)(int)fminf(fmaxf(q[2 * k + 1], 0), (float)(img_h - 1));
    }
    int rw = (int)hypotf(q[0] - q[2], q[1] - q[3]), rh = (int)hypotf(q[0] - q[6], q[1] - q[7]);
    if (rw <= 3 || rh <= 3)
        return 0;
    memcpy(out->pt, q, sizeof q);
    out->score = score;
    return 1;
}

avf_status avf_ocr_db_boxes(const float *prob, int mw, int mh, int img_w, int img_h,
                            const avf_ocr_db_params *p, avf_ocr_box **boxes, int *n) {
    AVF_CHECK_ARG(prob != NULL && p != NULL && boxes != NULL && n != NULL);
    *boxes = NULL;
    *n = 0;
    if (mw < 1 || mh < 1 || (uint64_t)mw * mh > DB_MAX_MAP_PIXELS || img_w < 1 || img_h < 1)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "ocr db: map %dx%d / image %dx%d out of bounds", mw,
                        mh, img_w, img_h);
    size_t np = (size_t)mw * mh;
    uint8_t *bm = calloc(np, 1);
    int32_t *stack = malloc(np * sizeof *stack);
    int32_t *rmin = malloc((size_t)mh * sizeof *rmin), *rmax = malloc((size_t)mh * sizeof *rmax);
    pt *pts = malloc((size_t)(2 * mh + 1) * sizeof *pts);
    pt *hull = malloc((size_t)(2 * mh + 2) * sizeof *hull);
    int cap = p->max_boxes > 0 ? p->max_boxes : 1;
    avf_ocr_box *out = malloc((size_t)cap * sizeof *out);
    avf_status st = AVF_OK;
    if (!bm || !stack || !rmin || !rmax || !pts || !hull || !out) {
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "ocr db: %zu-pixel map", np);
        goto done;
    }
    /* binarize + dilate (2x2, anchor at its centre: (x-1..x, y-1..y)) */
    for (int y = 0; y < mh; y++)
        for (int x = 0; x < mw; x++) {
            int on = 0;
            for (int dy = -1; dy <= 0 && !on; dy++)
                for (int dx = -1; dx <= 0 && !on; dx++) {
                    int sx = x + dx, sy = y + dy;
                    on = sx >= 0 && sy >= 0 && prob[(size_t)sy * mw + sx] > p->det_threshold;
                }
            bm[(size_t)y * mw + x] = (uint8_t)on;
        }
    int count = 0, candidates = 0;
    for (size_t start = 0; start < np && candidates < p->max_boxes; start++) {
        if (bm[start] != 1)
            continue;
        candidates++;
        /* flood fill (8-connected), marking 2; per row the extreme x */
        int y0 = mh, y1 = -1;
        size_t top = 0;
        stack[top++] = (int32_t)start;
        bm[start] = 2;
        while (top) {
            int32_t i = stack[--top];
            int x = i % mw, y = i / mw;
            if (y < y0) {
                for (int r = y; r < (y0 < mh ? y0 : y + 1); r++) {
                    rmin[r] = INT32_MAX;
                    rmax[r] = -1;
                }
                y0 = y;
            }
            if (y > y1) {
                for (int r = (y1 >= 0 ? y1 + 1 : y); r <= y; r++) {
                    rmin[r] = INT32_MAX;
                    rmax[r] = -1;
                }
                y1 = y;
            }
            if (x < rmin[y])
                rmin[y] = x;
            if (x > rmax[y])
                rmax[y] = x;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int sx = x + dx, sy = y + dy;
                    if (sx < 0 || sy < 0 || sx >= mw || sy >= mh)
                        continue;
                    size_t j = (size_t)sy * mw + sx;
                    if (bm[j] == 1) {
                        bm[j] = 2;
                        stack[top++] = (int32_t)j;
                    }
                }
        }
        int m = 0;
        for (int r = y0; r <= y1; r++) {
            if (rmax[r] < 0)
                continue;
            pts[m++] = (pt){rmin[r], r};
            if (rmax[r] != rmin[r])
                pts[m++] = (pt){rmax[r], r};
        }
        int hm = m >= 3 ? convex_hull(pts, m, hull) : 0;
        if (hm >= 3 && count < cap &&
            component_box(prob, mw, mh, img_w, img_h, p, hull, hm, &out[count]))
            count++;
    }
    qsort(out, (size_t)count, sizeof *out, box_cmp);
    /* sorted_boxes' pass: within 10 pixels vertically, left before right */
    for (int i = 0; i < count - 1; i++)
        for (int j = i; j >= 0; j--) {
            if (fabsf(out[j + 1].pt[1] - out[j].pt[1]) < 10 && out[j + 1].pt[0] < out[j].pt[0]) {
                avf_ocr_box t = out[j];
                out[j] = out[j + 1];
                out[j + 1] = t;
            } else
                break;
        }
    if (count) {
        *boxes = out;
        out = NULL;
    }
    *n = count;
done:
    free(bm);
    free(stack);
    free(rmin);
    free(rmax);
    free(pts);
    free(hull);
    free(out);
    return st;
}
