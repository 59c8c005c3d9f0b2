/* Internal: Resize's coordinate mapping, shared by the CPU kernel and the
 * CUDA kernel (host and device code) so both pick the same source pixels.
 *
 * Follows ONNX's reference: the source coordinate of output index x on an
 * axis is computed in double from the axis' scale, with the resized length
 * taken as the real number scale * in (not the rounded output size) where
 * the formulas use it; nearest rounds it per nearest_mode; linear blends
 * floor(x) and floor(x) + 1; indices are clamped to the input (edge
 * replication).
 */
#ifndef AVF_OPS_RESIZE_MAP_H
#define AVF_OPS_RESIZE_MAP_H

#include <math.h>
#include <stdint.h>

#include "ops/conv.h"

AVF_HD double avf_resize_src(int coord, double x, int64_t in, int64_t out, double scale) {
    double out_w = scale * (double)in;
    switch (coord) {
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

#endif /* AVF_OPS_RESIZE_MAP_H */
