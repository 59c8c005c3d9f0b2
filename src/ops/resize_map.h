/* Internal: Resize's coordinate mapping, shared by the CPU kernel and the
 * CUDA kernel (host and device code) so both pick the same source pixels.
 *
 * Follows ONNX's reference: the source coordinate of output index x on an
 * axis is computed in double from the axis' scale, with the resized length
 * taken as the real number scale * in (not the rounded output size) where
 * the formulas use it; nearest rounds it per nearest_mode; linear blends
 * floor(x) and floor(x) + 1; cubic weighs the 4 taps around x with Keys'
 * kernel; indices are clamped to the input (edge replication).
 * tf_crop_and_resize maps into the axis' roi [r0, r1] (fractions of
 * in - 1), and a source coordinate outside [0, in - 1] yields ONNX's
 * extrapolation_value for the whole output element.
 */
#ifndef AVF_OPS_RESIZE_MAP_H
#define AVF_OPS_RESIZE_MAP_H

#include <math.h>
#include <stdint.h>

#include "ops/conv.h"

AVF_HD double avf_resize_src(int coord, double x, int64_t in, int64_t out, double scale,
                             double r0, double r1) {
    double out_w = scale * (double)in;
    switch (coord) {
    case AVF_RESIZE_TF_CROP_AND_RESIZE: /* uses the integer output length */
        return out > 1 ? r0 * (double)(in - 1) + x * (r1 - r0) * (double)(in - 1) / (double)(out - 1)
                       : 0.5 * (r0 + r1) * (double)(in - 1);
    case AVF_RESIZE_HALF_PIXEL_SYMMETRIC: {
        double adj = (double)out / out_w;
        double center = (double)in / 2.0;
        return center * (1.0 - adj) + (x + 0.5) / scale - 0.5;
    }
    case AVF_RESIZE_PYTORCH_HALF_PIXEL:
        return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case AVF_RESIZE_ALIGN_CORNERS:
        return out_w == 1.0 ? 0.0 : x * (double)(in - 1) / (out_w - 1.0);
    case AVF_RESIZE_ASYMMETRIC:
        return x / scale;
    case AVF_RESIZE_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / scale;
    default: /* half_pixel */
        return (x + 0.5) / scale - 0.5;
    }
}

/* tf_crop_and_resize: the element is extrapolated (NaN is outside too). */
AVF_HD int avf_resize_outside(int coord, double xs, int64_t in) {
    return coord == AVF_RESIZE_TF_CROP_AND_RESIZE && !(xs >= 0.0 && xs <= (double)(in - 1));
}

AVF_HD int64_t avf_resize_clamp(int64_t i, int64_t in) {
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

/* Source coordinates far outside the input land on the edge anyway; bound
 * them first so the conversion to an integer cannot overflow. */
AVF_HD double avf_resize_bound(double xs, int64_t in) {
    return !(xs >= -1.0) ? -1.0 : xs > (double)in ? (double)in : xs;
}

AVF_HD int64_t avf_resize_nearest_index(int mode, double xs, int64_t in) {
    xs = avf_resize_bound(xs, in);
    double fl = floor(xs);
    int64_t i = (int64_t)fl;
    double r = xs - fl;
    if (r > 0.0) {
        switch (mode) {
        case AVF_RESIZE_ROUND_PREFER_CEIL: i += r >= 0.5; break;
        case AVF_RESIZE_FLOOR: break;
        case AVF_RESIZE_CEIL: i += 1; break;
        default: i += r > 0.5; break; /* round_prefer_floor */
        }
    }
    return avf_resize_clamp(i, in);
}

/* Linear: source indices i0, i1 (clamped) and the weight of i1. */
AVF_HD void avf_resize_linear_taps(double xs, int64_t in, int64_t *i0, int64_t *i1,
                                          double *w1) {
    xs = avf_resize_bound(xs, in);
    double fl = floor(xs);
    *w1 = xs - fl;
    *i0 = avf_resize_clamp((int64_t)fl, in);
    *i1 = avf_resize_clamp((int64_t)fl + 1, in);
}

/* Cubic: the 4 taps b-1 .. b+2 (clamped) and their weights, b = ceil(x) - 1
 * so the ratio r = x - b lies in (0, 1] (ONNX's reference prefers the
 * left pixel; an integer x puts all weight on x itself). Keys' kernel with
 * coefficient a; exclude_outside zeroes taps outside the input and
 * renormalizes the rest. */
AVF_HD void avf_resize_cubic_taps(double xs, int64_t in, double a, int exclude_outside,
                                  int64_t *idx, double *w) {
    xs = avf_resize_bound(xs, in);
    double b = ceil(xs) - 1.0, r = xs - b, t;
    t = r + 1.0;
    w[0] = ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    w[1] = ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0;
    t = 1.0 - r;
    w[2] = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    t = 2.0 - r;
    w[3] = ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    double sum = 0.0;
    for (int k = 0; k < 4; k++) {
        int64_t raw = (int64_t)b - 1 + k;
        if (exclude_outside && (raw < 0 || raw >= in))
            w[k] = 0.0;
        sum += w[k];
        idx[k] = avf_resize_clamp(raw, in);
    }
    if (exclude_outside && sum != 0.0)
        for (int k = 0; k < 4; k++)
            w[k] /= sum;
}

/* The taps of output index x on one axis for linear or cubic mode: count
 * (2 or 4), clamped indices and weights; 0 when the element extrapolates. */
AVF_HD int avf_resize_taps(int mode, int coord, double x, int64_t in, int64_t out, double scale,
                           double r0, double r1, double cubic_a, int exclude_outside,
                           int64_t *idx, double *w) {
    double xs = avf_resize_src(coord, x, in, out, scale, r0, r1);
    if (avf_resize_outside(coord, xs, in))
        return 0;
    if (mode == AVF_RESIZE_CUBIC) {
        avf_resize_cubic_taps(xs, in, cubic_a, exclude_outside, idx, w);
        return 4;
    }
    avf_resize_linear_taps(xs, in, &idx[0], &idx[1], &w[1]);
    w[0] = 1.0 - w[1];
    return 2;
}

#endif /* AVF_OPS_RESIZE_MAP_H */
