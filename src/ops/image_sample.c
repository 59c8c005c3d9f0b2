/* Frame sampling for video analysis (ops/image.h): which decoded frames to
 * analyse, by stride or by a target rate. Pure functions of indices and
 * timestamps, so a pipeline can decide before decoding finishes. */
#include "core/error.h"
#include "ops/image.h"

__extension__ typedef unsigned __int128 avf_u128;

static void put(int64_t *idx, int64_t cap, int64_t *count, int64_t i) {
    if (*count < cap)
        idx[*count] = i;
    (*count)++;
}

avf_status avf_sample_stride(int64_t n_frames, int64_t stride, int64_t offset, int64_t *idx,
                             int64_t cap, int64_t *count) {
    AVF_CHECK_ARG(count != NULL && cap >= 0 && (cap == 0 || idx != NULL));
    *count = 0;
    if (n_frames < 0 || stride < 1 || offset < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "sample_stride: %lld frames, stride %lld, offset %lld (need >= 0, >= 1, "
                        ">= 0)",
                        (long long)n_frames, (long long)stride, (long long)offset);
    for (int64_t i = offset; i < n_frames; i += stride) {
        put(idx, cap, count, i);
        if (i > n_frames - stride) /* the next step would pass n_frames (or overflow) */
            break;
    }
    return AVF_OK;
}

avf_status avf_sample_fps(const int64_t *pts, int64_t n, int64_t tb_num, int64_t tb_den,
                          int64_t fps_num, int64_t fps_den, int64_t *idx, int64_t cap,
                          int64_t *count) {
    AVF_CHECK_ARG(count != NULL && cap >= 0 && (cap == 0 || idx != NULL));
    *count = 0;
    const int64_t lim = 2147483647;
    if (n < 0 || (n > 0 && !pts))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "sample_fps: %lld timestamps", (long long)n);
    if (tb_num < 1 || tb_den < 1 || fps_num < 1 || fps_den < 1 || tb_num > lim || tb_den > lim ||
        fps_num > lim || fps_den > lim)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "sample_fps: time base %lld/%lld and rate %lld/%lld must be in "
                        "[1, 2^31-1]",
                        (long long)tb_num, (long long)tb_den, (long long)fps_num,
                        (long long)fps_den);
    /* tick of frame i = floor((pts[i] - pts[0]) * tb * fps), exact in 128 bits:
     * the difference is < 2^64 and tb_num * fps_num < 2^62 */
    avf_u128 num = (avf_u128)tb_num * (avf_u128)fps_num;
    avf_u128 den = (avf_u128)tb_den * (avf_u128)fps_den;
    avf_u128 last = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i > 0 && pts[i] < pts[i - 1])
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "sample_fps: timestamps decrease at %lld (%lld after %lld)",
                            (long long)i, (long long)pts[i], (long long)pts[i - 1]);
        avf_u128 diff = (avf_u128)((uint64_t)pts[i] - (uint64_t)pts[0]);
        avf_u128 tick = diff * num / den;
        if (i == 0 || tick > last) {
            put(idx, cap, count, i);
            last = tick;
        }
    }
    return AVF_OK;
}
