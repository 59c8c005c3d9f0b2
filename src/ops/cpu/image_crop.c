/* CPU reference kernel of avf_op_quad_crop: a loop over output pixels
 * calling the rule of ops/image_crop_px.h, which the CUDA kernel calls too. */
#include "core/error.h"
#include "ops/image_crop_px.h"

avf_status avf_cpu_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n, const avf_qc_out *o);

avf_status avf_cpu_quad_crop(avf_op_ctx *ctx, const avf_qc_desc *d, int n, const avf_qc_out *o) {
    (void)ctx;
    for (int i = 0; i < n; i++)
        for (int64_t y = 0; y < o->H; y++)
            for (int64_t x = 0; x < o->W; x++)
                avf_qc_pixel(&d[i], o, x, y);
    return AVF_OK;
}
