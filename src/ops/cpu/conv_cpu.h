/* Internal: CPU kernels of the convolution family (src/ops/cpu/conv*.c,
 * pool.c, resize.c). Called by the entry points in src/ops/conv.c, pool.c and
 * resize.c after the tensors were checked against the geometry. */
#ifndef AVF_OPS_CPU_CONV_CPU_H
#define AVF_OPS_CPU_CONV_CPU_H

#include "ops/conv.h"

avf_status avf_cpu_conv(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                        const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
avf_status avf_cpu_conv_transpose(avf_op_ctx *ctx, const avf_conv_geom *g, const avf_tensor *x,
                                  const avf_tensor *w, const avf_tensor *b, avf_tensor *y);
/* ind: MaxPool's Indices (i64, Y's shape) or NULL. */
avf_status avf_cpu_pool(avf_op_ctx *ctx, const avf_pool_params *p, const avf_conv_geom *g,
                        const avf_tensor *x, avf_tensor *y, avf_tensor *ind);
avf_status avf_cpu_resize(avf_op_ctx *ctx, const avf_resize_params *p, const avf_tensor *x,
                          avf_tensor *y);

/* Planar fast paths (cpu/conv_direct.c), for geometries whose depth dim is
 * trivial (avf_cpu_conv_is_planar). depthwise_f32: groups of one input
 * channel (c_in == group), y = conv(x, w) + b (b may be NULL), all batches.
 * im2col_planar: the column rows (c, kh, kw) of cg channels at x for output
 * positions [j0, j0 + nj), 0 in the pads (the generic im2col's layout). */
int avf_cpu_conv_is_planar(const avf_conv_geom *g);
void avf_cpu_conv_depthwise_f32(const avf_conv_geom *g, const float *x, const float *w,
                                const float *b, float *y);
void avf_cpu_im2col_planar(const avf_conv_geom *g, const float *x, int64_t cg, int64_t j0,
                           int64_t nj, float *col);
/* Few output positions (cpu/conv_short.c): 1 when g is a planar group-1
 * Conv with at most AVF_CPU_SHORT_MAX_POS output positions per image and a
 * filter row of at most AVF_CPU_SHORT_MAX_KDIM taps (Silero VAD's); then
 * conv_short_f32 computes y = conv(x, w) + b (b may be NULL) as direct dot
 * products, all batches. */
#define AVF_CPU_SHORT_MAX_POS 8
#define AVF_CPU_SHORT_MAX_KDIM ((int64_t)1 << 16)
int avf_cpu_conv_short_ok(const avf_conv_geom *g);
avf_status avf_cpu_conv_short_f32(avf_op_ctx *ctx, const avf_conv_geom *g, const float *x,
                                  const float *w, const float *b, float *y);
/* ConvTranspose (in: X's spatial size, out: Y's): add the column rows
 * (c, kh, kw) of mg channels for input positions [j0, j0 + nj) into y. */
void avf_cpu_col2im_planar(const avf_conv_geom *g, const float *col, int64_t mg, int64_t j0,
                           int64_t nj, float *y);

/* dtype staging (cpu/conv_util.c): the kernels compute in f32.
 * f32_view: t's values as f32 (t's own data when f32, else converted into
 * pool scratch returned in *scratch; NULL t gives NULL). f32_out: where to
 * write f32 results for t (t's data, or scratch); f32_store converts them
 * into t. Release scratch with avf_cpu_conv_scratch_free (NULL is ignored). */
avf_status avf_cpu_conv_f32_view(avf_op_ctx *ctx, const avf_tensor *t, const float **out,
                            void **scratch);
avf_status avf_cpu_conv_f32_out(avf_op_ctx *ctx, avf_tensor *t, float **out, void **scratch);
void avf_cpu_conv_f32_store(const float *src, avf_tensor *t);
void avf_cpu_conv_scratch_free(avf_op_ctx *ctx, void *p);

#endif /* AVF_OPS_CPU_CONV_CPU_H */
