/* Internal: CPU kernels of the image family (src/ops/cpu/image*.c). Called
 * by the entry points in src/ops/image*.c with everything checked; each is a
 * loop over output pixels calling the shared rules of ops/image_px.h. */
#ifndef AVF_OPS_CPU_IMAGE_CPU_H
#define AVF_OPS_CPU_IMAGE_CPU_H

#include "ops/image_draw_px.h"
#include "ops/image_px.h"

/* N images of t's geometry. */
avf_status avf_cpu_image_tensor(avf_op_ctx *ctx, const avf_px_tensor_op *t, int64_t N);
/* items[n] into o's slots. */
avf_status avf_cpu_image_preprocess(avf_op_ctx *ctx, const avf_px_item *items, int n,
                                    const avf_px_out *o);
/* hist [n, bins] fractions of each item's ROI. */
avf_status avf_cpu_luma_hist(avf_op_ctx *ctx, const avf_px_item *items, int n, int bins,
                             float *hist);
/* thumb [n, th, tw]: each item's map has box 0, 0, tw, th. */
avf_status avf_cpu_luma_thumb(avf_op_ctx *ctx, const avf_px_item *items, int n, int64_t th,
                              int64_t tw, float *thumb);
avf_status avf_cpu_image_draw(avf_op_ctx *ctx, const avf_px_draw *d);

#endif /* AVF_OPS_CPU_IMAGE_CPU_H */
