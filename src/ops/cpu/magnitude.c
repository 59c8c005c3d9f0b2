/* Pair magnitude on the CPU (see ops/magnitude.h): one pass, in double so
 * that it is the reference the CUDA kernel is checked against. */
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/magnitude.h"

avf_status avf_cpu_pair_magnitude(avf_op_ctx *ctx, const avf_tensor *x, int64_t outer,
                                  int64_t half, int64_t inner, avf_tensor *y) {
    (void)ctx;
    const int64_t row = half * inner; /* one half of an outer slice */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < row; i++) {
            int64_t re = o * 2 * row + i, im = re + row, out = o * row + i;
            double a, b;
            if (x->dtype == AVF_DTYPE_F16) {
                a = avf_f16_to_f32(((const uint16_t *)x->data)[re]);
                b = avf_f16_to_f32(((const uint16_t *)x->data)[im]);
                ((uint16_t *)y->data)[out] = avf_f32_to_f16((float)sqrt(a * a + b * b));
            } else {
                a = ((const float *)x->data)[re];
                b = ((const float *)x->data)[im];
                ((float *)y->data)[out] = (float)sqrt(a * a + b * b);
            }
        }
    return AVF_OK;
}
