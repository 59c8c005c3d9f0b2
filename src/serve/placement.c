/* The placement rule of placement.h. */
#include "serve/placement.h"

#include "core/error.h"

static int fits(const avf_srv_place_lane *l, uint64_t bytes) {
    return !l->budget || (l->used <= l->budget && bytes <= l->budget - l->used);
}

static uint64_t free_bytes(const avf_srv_place_lane *l) {
    return l->used < l->budget ? l->budget - l->used : 0;
}

avf_status avf_srv_place(int n, const avf_srv_place_lane *lanes, uint32_t allowed,
                         uint64_t bytes, uint32_t *fit, int *order, int *n_order) {
    *fit = 0;
    *n_order = 0;
    AVF_CHECK_ARG(n >= 1 && n <= AVF_SRV_MAX_LANES && lanes && order);
    allowed &= n >= 32 ? UINT32_MAX : ((uint32_t)1 << n) - 1;
    if (!allowed)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "placement: no device allowed");
    uint64_t biggest = 0;
    for (int i = 0; i < n; i++) {
        if (!(allowed & (1u << i)))
            continue;
        if (fits(&lanes[i], bytes))
            *fit |= 1u << i;
        else if (bytes <= lanes[i].budget) { /* evicting here could make room */
            int k = (*n_order)++;
            /* most free bytes first (insertion: a few lanes); ties keep lane order */
            while (k > 0 && free_bytes(&lanes[order[k - 1]]) < free_bytes(&lanes[i])) {
                order[k] = order[k - 1];
                k--;
            }
            order[k] = i;
        }
        if (lanes[i].budget > biggest)
            biggest = lanes[i].budget;
    }
    if (*fit) {
        *n_order = 0;
        return AVF_OK;
    }
    if (*n_order)
        return AVF_OK;
    /* the single-device wording of before, as the tests and users know it */
    return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "the model needs %llu bytes, more than the whole "
                    "VRAM budget (%llu)%s", (unsigned long long)bytes,
                    (unsigned long long)biggest,
                    __builtin_popcount(allowed) > 1 ? " of every device it may use" : "");
}
