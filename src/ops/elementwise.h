/* Internal: the elementwise op family (ONNX unary activations and math,
 * Cast, broadcasting binary arithmetic/comparison/logic, variadic Max/Min,
 * Where). See ops/op.h for the family contract.
 *
 * Dtypes (checked by the entry points; the shape functions check the rest):
 *   unary float ops (Relu .. Log, Gelu, Clip):  f32 f16 bf16 (+ f64 on CPU)
 *   Relu, Abs, Clip:  also i64 i32 i16 i8 u8; Neg: i64 i32 i16 i8
 *   Not: bool;  Identity: any;  Cast: every pair of avf dtypes
 *   Add Sub Mul Div Max Min Equal Less Greater (and the *OrEqual forms):
 *     f32 f16 bf16 f64 i64 i32 i16 i8 u8, on both devices; Equal also bool
 *   Pow: any numeric base and exponent dtypes, on both devices; the output
 *     has the base's dtype (integer ** integer is an exact wrapping power)
 *   And, Or: bool;  Where: x/y any dtype, cond bool
 * Float math runs in f32 registers on CUDA (f64 binary ops in double) and in
 * f32 (f16/bf16) or f64 (f32/f64) on the CPU. Integer arithmetic wraps; integer division truncates
 * toward zero like C, and x/0 gives 0 (ONNX leaves it undefined; a trap would
 * kill the process). Float -> integer conversion truncates toward zero and
 * saturates at the int64 range (NaN -> 0) before narrowing by wrap-around,
 * identically on CPU and CUDA.
 */
#ifndef AVF_OPS_ELEMENTWISE_H
#define AVF_OPS_ELEMENTWISE_H

#include <stdint.h>

#include "ops/op.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- unary */

typedef enum avf_unary_op {
    AVF_UNARY_RELU = 0,
    AVF_UNARY_LEAKY_RELU,   /* alpha */
    AVF_UNARY_SIGMOID,
    AVF_UNARY_HARD_SIGMOID, /* max(0, min(1, alpha*x + beta)) */
    AVF_UNARY_HARD_SWISH,   /* x * max(0, min(1, x/6 + 1/2)) */
    AVF_UNARY_TANH,
    AVF_UNARY_ERF,
    AVF_UNARY_GELU,         /* 0.5x(1 + erf(x/sqrt 2)) */
    AVF_UNARY_GELU_TANH,    /* approximate="tanh" */
    AVF_UNARY_SQRT,
    AVF_UNARY_EXP,
    AVF_UNARY_LOG,
    AVF_UNARY_NEG,
    AVF_UNARY_ABS,
    AVF_UNARY_CLIP,         /* has_min/has_max, bounds below */
    AVF_UNARY_NOT,
    AVF_UNARY_IDENTITY,     /* a copy */
    AVF_UNARY_COUNT
} avf_unary_op;

typedef struct avf_unary_params {
    avf_unary_op op;
    float alpha, beta;  /* LeakyRelu: alpha; HardSigmoid: alpha, beta */
    /* Clip: a bound applies when its flag is set. Float inputs use the
     * double bounds, integer inputs the int64 ones (so i64 bounds stay
     * exact); the exec layer fills both from the min/max tensors. */
    int has_min, has_max;
    double fmin, fmax;
    int64_t imin, imax;
} avf_unary_params;

const char *avf_unary_op_name(avf_unary_op op);
/* y has x's dtype and shape; fails for a dtype the op does not take. */
avf_status avf_unary_shape(const avf_unary_params *p, avf_dtype x_dt, int ndim,
                           const int64_t *shape, avf_dtype *y_dt, int *y_ndim, int64_t *y_shape);
avf_status avf_op_unary(avf_op_ctx *ctx, const avf_unary_params *p, const avf_tensor *x,
                        avf_tensor *y);

/* Cast x to dtype `to` (y: dtype `to`, x's shape). Same dtype is a copy. */
avf_status avf_cast_shape(avf_dtype to, avf_dtype x_dt, int ndim, const int64_t *shape,
                          avf_dtype *y_dt, int *y_ndim, int64_t *y_shape);
avf_status avf_op_cast(avf_op_ctx *ctx, avf_dtype to, const avf_tensor *x, avf_tensor *y);

/* ------------------------------------------------------------- binary */

typedef enum avf_binary_op {
    AVF_BINARY_ADD = 0,
    AVF_BINARY_SUB,
    AVF_BINARY_MUL,
    AVF_BINARY_DIV,
    AVF_BINARY_POW,
    AVF_BINARY_MAX, /* NaN propagates (numpy.maximum) */
    AVF_BINARY_MIN,
    AVF_BINARY_EQUAL, /* comparisons: bool output */
    AVF_BINARY_LESS,
    AVF_BINARY_LESS_EQUAL,
    AVF_BINARY_GREATER,
    AVF_BINARY_GREATER_EQUAL,
    AVF_BINARY_AND, /* bool */
    AVF_BINARY_OR,
    AVF_BINARY_COUNT
} avf_binary_op;

const char *avf_binary_op_name(avf_binary_op op);
/* 1 for the ops whose output is bool. */
int avf_binary_is_compare(avf_binary_op op);

/* Output dtype and numpy-broadcast shape of op(a, b). a and b must have the
 * same dtype, except for Pow (exponent of any numeric dtype). */
avf_status avf_binary_shape(avf_binary_op op, avf_dtype a_dt, int na, const int64_t *a,
                            avf_dtype b_dt, int nb, const int64_t *b, avf_dtype *out_dt,
                            int *nout, int64_t *out);
avf_status avf_op_binary(avf_op_ctx *ctx, avf_binary_op op, const avf_tensor *a,
                         const avf_tensor *b, avf_tensor *out);

/* Variadic form (ONNX Max, Min; any non-comparison op): out = op(...op(op(
 * in[0], in[1]), in[2])..., in[n-1]), all n >= 1 inputs broadcast together.
 * The dtype/shape rules are those of the binary op applied pairwise; n == 1
 * is a copy. At most AVF_EW_MAX_VARIADIC inputs. */
#define AVF_EW_MAX_VARIADIC 64
avf_status avf_binary_n_shape(avf_binary_op op, int n, const avf_dtype *dts, const int *ndims,
                              const int64_t *const *shapes, avf_dtype *out_dt, int *nout,
                              int64_t *out);
avf_status avf_op_binary_n(avf_op_ctx *ctx, avf_binary_op op, int n, const avf_tensor *const *in,
                           avf_tensor *out);

/* ------------------------------------------------------------- where */

/* out = cond ? x : y, all three broadcast; cond bool, x and y one dtype. */
avf_status avf_where_shape(avf_dtype c_dt, int nc, const int64_t *c, avf_dtype x_dt, int nx,
                           const int64_t *x, avf_dtype y_dt, int ny, const int64_t *y,
                           avf_dtype *out_dt, int *nout, int64_t *out);
avf_status avf_op_where(avf_op_ctx *ctx, const avf_tensor *cond, const avf_tensor *x,
                        const avf_tensor *y, avf_tensor *out);

/* ------------------------------------------------- shared with kernels */

/* Broadcast iteration of up to 3 inputs against a contiguous output, with
 * adjacent dims merged where every input is laid out the same way across
 * them (so [8,16,32]+[32] becomes [128,32]+[32] and same-shape inputs become
 * one flat dim). strides are in elements, 0 along broadcast dims. */
#define AVF_EW_MAX_IN 3
typedef struct avf_ew_bcast {
    int ndim;      /* >= 1 after merging (a scalar is [1]) */
    int n_in;
    int64_t numel; /* of the output */
    int64_t dims[AVF_MAX_DIMS];
    int64_t strides[AVF_EW_MAX_IN][AVF_MAX_DIMS];
} avf_ew_bcast;

/* Each input's shape must broadcast to out's (its dims right-aligned, each
 * 1 or equal to out's). */
avf_status avf_ew_bcast_init(avf_ew_bcast *b, int n_in, const avf_tensor *const *in,
                             const avf_tensor *out);

#ifdef __cplusplus
}
#endif
#endif /* AVF_OPS_ELEMENTWISE_H */
