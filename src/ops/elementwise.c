/* Elementwise family: shape functions, dtype rules, broadcast set-up and the
 * entry points that check tensors and dispatch to the CPU or CUDA kernels. */
#include "ops/elementwise.h"

#include <string.h>

#include "core/error.h"
#include "ops/cpu/elementwise_cpu.h"
#ifdef AVF_HAVE_CUDA
#include "ops/cuda/elementwise_cuda.h"
#endif

/* ------------------------------------------------------------- dtypes */

static int is_float(avf_dtype d) {
    return d == AVF_DTYPE_F32 || d == AVF_DTYPE_F16 || d == AVF_DTYPE_BF16 || d == AVF_DTYPE_F64;
}
static int is_int(avf_dtype d) {
    return d == AVF_DTYPE_I64 || d == AVF_DTYPE_I32 || d == AVF_DTYPE_I16 || d == AVF_DTYPE_I8 ||
           d == AVF_DTYPE_U8 || d == AVF_DTYPE_U16 || d == AVF_DTYPE_U32 || d == AVF_DTYPE_U64;
}
static int is_unsigned(avf_dtype d) {
    return d == AVF_DTYPE_U8 || d == AVF_DTYPE_U16 || d == AVF_DTYPE_U32 || d == AVF_DTYPE_U64;
}
/* What the CUDA kernels are instantiated for: unary float math in f32
 * registers for f32/f16/bf16; binary ops also for f64 (in double); integer
 * ops for every integer dtype. */
static int cuda_float(avf_dtype d) {
    return d == AVF_DTYPE_F32 || d == AVF_DTYPE_F16 || d == AVF_DTYPE_BF16;
}
static int cuda_int(avf_dtype d) { return is_int(d); }

static int unary_takes(avf_unary_op op, avf_dtype d, int cuda) {
    int fl = cuda ? cuda_float(d) : is_float(d);
    int in = cuda ? cuda_int(d) : is_int(d);
    switch (op) {
    case AVF_UNARY_RELU:
    case AVF_UNARY_ABS:
    case AVF_UNARY_CLIP:
        return fl || in;
    case AVF_UNARY_NEG:
        return fl || (in && !is_unsigned(d));
    case AVF_UNARY_NOT:
        return d == AVF_DTYPE_BOOL;
    case AVF_UNARY_IDENTITY:
        return d >= 0 && d < AVF_DTYPE_COUNT;
    default:
        return fl;
    }
}

static int binary_takes(avf_binary_op op, avf_dtype a, avf_dtype b, int cuda) {
    (void)cuda; /* the CUDA binary kernels take every dtype the CPU ones do */
    int fl = is_float(a), in = is_int(a);
    switch (op) {
    case AVF_BINARY_POW:
        return (is_float(a) || is_int(a)) && (is_float(b) || is_int(b));
    case AVF_BINARY_AND:
    case AVF_BINARY_OR:
        return a == AVF_DTYPE_BOOL && b == a;
    case AVF_BINARY_EQUAL:
        return b == a && (fl || in || a == AVF_DTYPE_BOOL);
    default:
        return b == a && (fl || in);
    }
}

const char *avf_unary_op_name(avf_unary_op op) {
    static const char *const names[AVF_UNARY_COUNT] = {
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
        "Erf",  "Gelu",      "Gelu(tanh)", "Sqrt",     "Exp",       "Log",
        "Neg",  "Abs",       "Clip",    "Not",         "Identity"};
    return op >= 0 && op < AVF_UNARY_COUNT ? names[op] : "?";
}

const char *avf_binary_op_name(avf_binary_op op) {
    static const char *const names[AVF_BINARY_COUNT] = {
        "Add",  "Sub",       "Mul",          "Div",     "Pow",            "Max", "Min",
        "Equal", "Less",     "LessOrEqual",  "Greater", "GreaterOrEqual", "And", "Or"};
    return op >= 0 && op < AVF_BINARY_COUNT ? names[op] : "?";
}

int avf_binary_is_compare(avf_binary_op op) {
    return op >= AVF_BINARY_EQUAL && op <= AVF_BINARY_GREATER_EQUAL;
}

/* ------------------------------------------------------------- shapes */

static avf_status check_rank(const char *what, int ndim, const int64_t *shape) {
    int64_t numel;
    if (ndim < 0 || ndim > AVF_MAX_DIMS || (ndim > 0 && !shape))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: rank %d is outside [0, %d]", what, ndim,
                        AVF_MAX_DIMS);
    return avf_shape_numel(ndim, shape, &numel);
}

avf_status avf_unary_shape(const avf_unary_params *p, avf_dtype x_dt, int ndim,
                           const int64_t *shape, avf_dtype *y_dt, int *y_ndim, int64_t *y_shape) {
    AVF_CHECK_ARG(p != NULL && y_dt != NULL && y_ndim != NULL && y_shape != NULL);
    if (p->op < 0 || p->op >= AVF_UNARY_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "unary: unknown op %d", (int)p->op);
    AVF_TRY(check_rank(avf_unary_op_name(p->op), ndim, shape));
    if (!unary_takes(p->op, x_dt, 0))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported",
                        avf_unary_op_name(p->op), avf_dtype_name(x_dt));
    *y_dt = x_dt;
    *y_ndim = ndim;
    if (ndim)
        memcpy(y_shape, shape, (size_t)ndim * sizeof *shape);
    return AVF_OK;
}

avf_status avf_cast_shape(avf_dtype to, avf_dtype x_dt, int ndim, const int64_t *shape,
                          avf_dtype *y_dt, int *y_ndim, int64_t *y_shape) {
    AVF_CHECK_ARG(y_dt != NULL && y_ndim != NULL && y_shape != NULL);
    AVF_TRY(check_rank("Cast", ndim, shape));
    if (to < 0 || to >= AVF_DTYPE_COUNT || x_dt < 0 || x_dt >= AVF_DTYPE_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Cast: invalid dtype (%d to %d)", (int)x_dt, (int)to);
    *y_dt = to;
    *y_ndim = ndim;
    if (ndim)
        memcpy(y_shape, shape, (size_t)ndim * sizeof *shape);
    return AVF_OK;
}

avf_status avf_binary_shape(avf_binary_op op, avf_dtype a_dt, int na, const int64_t *a,
                            avf_dtype b_dt, int nb, const int64_t *b, avf_dtype *out_dt,
                            int *nout, int64_t *out) {
    AVF_CHECK_ARG(out_dt != NULL && nout != NULL && out != NULL);
    if (op < 0 || op >= AVF_BINARY_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "binary: unknown op %d", (int)op);
    const char *name = avf_binary_op_name(op);
    AVF_TRY(check_rank(name, na, a));
    AVF_TRY(check_rank(name, nb, b));
    if (op != AVF_BINARY_POW && a_dt != b_dt)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: input dtypes differ (%s vs %s)", name,
                        avf_dtype_name(a_dt), avf_dtype_name(b_dt));
    if (!binary_takes(op, a_dt, b_dt, 0))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtypes %s, %s are not supported", name,
                        avf_dtype_name(a_dt), avf_dtype_name(b_dt));
    avf_status s = avf_broadcast_shape(na, a, nb, b, nout, out);
    if (s != AVF_OK)
        return AVF_FAIL(s, "%s: %s", name, avf_last_error());
    *out_dt = avf_binary_is_compare(op) ? AVF_DTYPE_BOOL : a_dt;
    return AVF_OK;
}

avf_status avf_binary_n_shape(avf_binary_op op, int n, const avf_dtype *dts, const int *ndims,
                              const int64_t *const *shapes, avf_dtype *out_dt, int *nout,
                              int64_t *out) {
    AVF_CHECK_ARG(dts != NULL && ndims != NULL && shapes != NULL && out_dt != NULL &&
                  nout != NULL && out != NULL);
    if (n < 1 || n > AVF_EW_MAX_VARIADIC)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %d inputs (expected 1..%d)",
                        avf_binary_op_name(op), n, AVF_EW_MAX_VARIADIC);
    if (avf_binary_is_compare(op))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: a comparison cannot be chained",
                        avf_binary_op_name(op));
    /* op(x, x) validates the first input's dtype and shape alone */
    AVF_TRY(avf_binary_shape(op, dts[0], ndims[0], shapes[0], dts[0], ndims[0], shapes[0], out_dt,
                             nout, out));
    for (int i = 1; i < n; i++) {
        int64_t acc[AVF_MAX_DIMS];
        int nacc = *nout;
        memcpy(acc, out, (size_t)nacc * sizeof *acc);
        AVF_TRY(avf_binary_shape(op, *out_dt, nacc, acc, dts[i], ndims[i], shapes[i], out_dt, nout,
                                 out));
    }
    return AVF_OK;
}

avf_status avf_where_shape(avf_dtype c_dt, int nc, const int64_t *c, avf_dtype x_dt, int nx,
                           const int64_t *x, avf_dtype y_dt, int ny, const int64_t *y,
                           avf_dtype *out_dt, int *nout, int64_t *out) {
    AVF_CHECK_ARG(out_dt != NULL && nout != NULL && out != NULL);
    AVF_TRY(check_rank("Where", nc, c));
    AVF_TRY(check_rank("Where", nx, x));
    AVF_TRY(check_rank("Where", ny, y));
    if (c_dt != AVF_DTYPE_BOOL)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Where: condition is %s, expected bool",
                        avf_dtype_name(c_dt));
    if (x_dt != y_dt || x_dt < 0 || x_dt >= AVF_DTYPE_COUNT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Where: x and y dtypes differ (%s vs %s)",
                        avf_dtype_name(x_dt), avf_dtype_name(y_dt));
    int64_t xy[AVF_MAX_DIMS];
    int nxy;
    avf_status s = avf_broadcast_shape(nx, x, ny, y, &nxy, xy);
    if (s == AVF_OK)
        s = avf_broadcast_shape(nc, c, nxy, xy, nout, out);
    if (s != AVF_OK)
        return AVF_FAIL(s, "Where: %s", avf_last_error());
    *out_dt = x_dt;
    return AVF_OK;
}

/* ------------------------------------------------------------- broadcast */

avf_status avf_ew_bcast_init(avf_ew_bcast *b, int n_in, const avf_tensor *const *in,
                             const avf_tensor *out) {
    AVF_CHECK_ARG(b != NULL && in != NULL && out != NULL && n_in >= 1 && n_in <= AVF_EW_MAX_IN);
    memset(b, 0, sizeof *b);
    int nd = out->ndim;
    int64_t st[AVF_EW_MAX_IN][AVF_MAX_DIMS];
    for (int k = 0; k < n_in; k++) {
        const avf_tensor *t = in[k];
        if (t->ndim > nd)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "broadcast: input %d has rank %d > output rank %d",
                            k, t->ndim, nd);
        int64_t stride = 1;
        for (int i = nd - 1; i >= 0; i--) {
            int j = i - (nd - t->ndim);
            int64_t d = j >= 0 ? t->shape[j] : 1;
            if (d != out->shape[i] && d != 1)
                return AVF_FAIL(AVF_ERR_INVALID_ARG,
                                "broadcast: input %d dim %d is %lld, output has %lld", k, j,
                                (long long)d, (long long)out->shape[i]);
            st[k][i] = d == 1 ? 0 : stride;
            stride *= d;
        }
    }
    /* Drop size-1 output dims, then merge dim i into the previous kept dim
     * when every input's stride continues across the boundary. */
    int m = 0;
    int64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        numel *= out->shape[i];
        if (out->shape[i] == 1)
            continue;
        int merge = m > 0;
        for (int k = 0; merge && k < n_in; k++)
            merge = b->strides[k][m - 1] == st[k][i] * out->shape[i];
        if (merge) {
            b->dims[m - 1] *= out->shape[i];
            for (int k = 0; k < n_in; k++)
                b->strides[k][m - 1] = st[k][i];
        } else {
            b->dims[m] = out->shape[i];
            for (int k = 0; k < n_in; k++)
                b->strides[k][m] = st[k][i];
            m++;
        }
    }
    if (m == 0) { /* scalar or all-ones shape, or empty */
        b->dims[0] = 1;
        for (int k = 0; k < n_in; k++)
            b->strides[k][0] = 0;
        m = 1;
    }
    b->ndim = m;
    b->n_in = n_in;
    b->numel = numel;
    return AVF_OK;
}

/* ------------------------------------------------------------- entry points */

static avf_status check_out(const avf_tensor *y, const char *what, avf_dtype dt, int nd,
                            const int64_t *shape) {
    if (y->dtype != dt)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: output dtype is %s, expected %s", what,
                        avf_dtype_name(y->dtype), avf_dtype_name(dt));
    return avf_op_check_shape(y, what, nd, shape);
}

/* A same-sized copy (Identity, Cast to the same dtype, variadic with n=1). */
static avf_status copy_tensor(avf_op_ctx *ctx, const avf_tensor *x, avf_tensor *y) {
    size_t n = avf_tensor_nbytes(x);
    if (n == 0 || x->data == y->data)
        return AVF_OK;
    return avf_memcpy_async(ctx->dev, y->data, x->data, n,
                            avf_op_device_is_cpu(ctx) ? AVF_COPY_H2H : AVF_COPY_D2D, ctx->stream,
                            "elementwise");
}

avf_status avf_op_unary(avf_op_ctx *ctx, const avf_unary_params *p, const avf_tensor *x,
                        avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL && p != NULL);
    const char *name = avf_unary_op_name(p->op);
    AVF_TRY(avf_op_check_tensor(ctx, x, name));
    AVF_TRY(avf_op_check_tensor(ctx, y, name));
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_unary_shape(p, x->dtype, x->ndim, x->shape, &dt, &nd, shape));
    AVF_TRY(check_out(y, name, dt, nd, shape));
    if (avf_tensor_numel(x) == 0)
        return AVF_OK;
    if (p->op == AVF_UNARY_IDENTITY)
        return copy_tensor(ctx, x, y);
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_unary(p, x, y);
    if (!unary_takes(p->op, x->dtype, 1))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtype %s is not supported on CUDA", name,
                        avf_dtype_name(x->dtype));
#ifdef AVF_HAVE_CUDA
    return avf_cuda_unary(ctx, p, x, y);
#else
    return AVF_OP_NO_CUDA(name);
#endif
}

avf_status avf_op_cast(avf_op_ctx *ctx, avf_dtype to, const avf_tensor *x, avf_tensor *y) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, x, "Cast"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Cast"));
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_cast_shape(to, x->dtype, x->ndim, x->shape, &dt, &nd, shape));
    AVF_TRY(check_out(y, "Cast", dt, nd, shape));
    if (avf_tensor_numel(x) == 0)
        return AVF_OK;
    if (x->dtype == to)
        return copy_tensor(ctx, x, y);
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_cast(x, y);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_cast(ctx, x, y);
#else
    return AVF_OP_NO_CUDA("Cast");
#endif
}

/* One broadcast step out = op(a, b); out may alias a when a has out's shape
 * (every kernel reads an element before writing the same index). */
static avf_status binary_step(avf_op_ctx *ctx, avf_binary_op op, const avf_tensor *a,
                              const avf_tensor *b, avf_tensor *out) {
    const avf_tensor *in[2] = {a, b};
    avf_ew_bcast bc;
    AVF_TRY(avf_ew_bcast_init(&bc, 2, in, out));
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_binary(op, &bc, a, b, out);
    if (!binary_takes(op, a->dtype, b->dtype, 1))
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "%s: dtypes %s, %s are not supported on CUDA",
                        avf_binary_op_name(op), avf_dtype_name(a->dtype),
                        avf_dtype_name(b->dtype));
#ifdef AVF_HAVE_CUDA
    return avf_cuda_binary(ctx, op, &bc, a, b, out);
#else
    return AVF_OP_NO_CUDA(avf_binary_op_name(op));
#endif
}

avf_status avf_op_binary(avf_op_ctx *ctx, avf_binary_op op, const avf_tensor *a,
                         const avf_tensor *b, avf_tensor *out) {
    AVF_CHECK_ARG(ctx != NULL);
    const char *name = avf_binary_op_name(op);
    AVF_TRY(avf_op_check_tensor(ctx, a, name));
    AVF_TRY(avf_op_check_tensor(ctx, b, name));
    AVF_TRY(avf_op_check_tensor(ctx, out, name));
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_binary_shape(op, a->dtype, a->ndim, a->shape, b->dtype, b->ndim, b->shape, &dt,
                             &nd, shape));
    AVF_TRY(check_out(out, name, dt, nd, shape));
    if (avf_tensor_numel(out) == 0)
        return AVF_OK;
    return binary_step(ctx, op, a, b, out);
}

avf_status avf_op_binary_n(avf_op_ctx *ctx, avf_binary_op op, int n, const avf_tensor *const *in,
                           avf_tensor *out) {
    AVF_CHECK_ARG(ctx != NULL && in != NULL);
    const char *name = avf_binary_op_name(op);
    if (n < 1 || n > AVF_EW_MAX_VARIADIC)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: %d inputs (expected 1..%d)", name, n,
                        AVF_EW_MAX_VARIADIC);
    avf_dtype dts[AVF_EW_MAX_VARIADIC];
    int ndims[AVF_EW_MAX_VARIADIC];
    const int64_t *shapes[AVF_EW_MAX_VARIADIC];
    for (int i = 0; i < n; i++) {
        AVF_TRY(avf_op_check_tensor(ctx, in[i], name));
        dts[i] = in[i]->dtype;
        ndims[i] = in[i]->ndim;
        shapes[i] = in[i]->shape;
    }
    AVF_TRY(avf_op_check_tensor(ctx, out, name));
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_binary_n_shape(op, n, dts, ndims, shapes, &dt, &nd, shape));
    AVF_TRY(check_out(out, name, dt, nd, shape));
    if (avf_tensor_numel(out) == 0)
        return AVF_OK;
    /* An input that is the output would be overwritten by the first step
     * before a later step reads it. */
    if (in[0]->data == out->data && avf_tensor_numel(in[0]) != avf_tensor_numel(out))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: input 0 aliases a larger output", name);
    for (int i = 1; i < n; i++)
        if (in[i]->data == out->data)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: input %d aliases the output", name, i);
    if (n == 1)
        return copy_tensor(ctx, in[0], out);
    AVF_TRY(binary_step(ctx, op, in[0], in[1], out));
    for (int i = 2; i < n; i++)
        AVF_TRY(binary_step(ctx, op, out, in[i], out));
    return AVF_OK;
}

avf_status avf_op_where(avf_op_ctx *ctx, const avf_tensor *cond, const avf_tensor *x,
                        const avf_tensor *y, avf_tensor *out) {
    AVF_CHECK_ARG(ctx != NULL);
    AVF_TRY(avf_op_check_tensor(ctx, cond, "Where"));
    AVF_TRY(avf_op_check_tensor(ctx, x, "Where"));
    AVF_TRY(avf_op_check_tensor(ctx, y, "Where"));
    AVF_TRY(avf_op_check_tensor(ctx, out, "Where"));
    avf_dtype dt;
    int nd;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(avf_where_shape(cond->dtype, cond->ndim, cond->shape, x->dtype, x->ndim, x->shape,
                            y->dtype, y->ndim, y->shape, &dt, &nd, shape));
    AVF_TRY(check_out(out, "Where", dt, nd, shape));
    if (avf_tensor_numel(out) == 0)
        return AVF_OK;
    const avf_tensor *in[3] = {cond, x, y};
    avf_ew_bcast bc;
    AVF_TRY(avf_ew_bcast_init(&bc, 3, in, out));
    if (avf_op_device_is_cpu(ctx))
        return avf_cpu_where(&bc, cond, x, y, out);
#ifdef AVF_HAVE_CUDA
    return avf_cuda_where(ctx, &bc, cond, x, y, out);
#else
    return AVF_OP_NO_CUDA("Where");
#endif
}
