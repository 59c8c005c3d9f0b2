/* CPU reference kernels of the elementwise family: broadcasting binary ops
 * and Where.
 *
 * The broadcast (ops/elementwise.h, avf_ew_bcast) is walked row by row: an
 * odometer over the outer dims keeps each input's element offset, and a row
 * function runs the innermost dim with one stride per input (0 or the
 * input's stride), so the op switch is hoisted out of the inner loop. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "ops/cpu/elementwise_cpu.h"

typedef struct ew_row {
    avf_binary_op op;
    const avf_ew_bcast *bc;
    const avf_tensor *in[AVF_EW_MAX_IN];
    avf_tensor *out;
    avf_status (*fn)(const struct ew_row *r, int64_t len, const int64_t *off, int64_t o);
} ew_row;

/* Walk every row of bc: off[k] is input k's element offset of the row start,
 * o the output's. Stops at the first failing row. */
static avf_status ew_iterate(const ew_row *r) {
    const avf_ew_bcast *bc = r->bc;
    int nd = bc->ndim;
    int64_t len = bc->dims[nd - 1];
    int64_t rows = len ? bc->numel / len : 0;
    int64_t idx[AVF_MAX_DIMS] = {0}, off[AVF_EW_MAX_IN] = {0};
    for (int64_t row = 0; row < rows; row++) {
        AVF_TRY(r->fn(r, len, off, row * len));
        for (int d = nd - 2; d >= 0; d--) {
            for (int k = 0; k < bc->n_in; k++)
                off[k] += bc->strides[k][d];
            if (++idx[d] < bc->dims[d])
                break;
            for (int k = 0; k < bc->n_in; k++)
                off[k] -= bc->strides[k][d] * bc->dims[d];
            idx[d] = 0;
        }
    }
    return AVF_OK;
}

/* ------------------------------------------------- float rows */

#define LD_ID(v) (v)
#define ST_F32(v) ((float)(v))
#define LD_F16(v) avf_f16_to_f32(v)
#define ST_F16(v) avf_f32_to_f16(v)
#define LD_BF16(v) avf_bf16_to_f32(v)
#define ST_BF16(v) avf_f32_to_bf16(v)

#define ROW(C, LD, ST, EXPR)                                   \
    for (int64_t i = 0; i < n; i++) {               \
        C x = (C)LD(a[i * sa]), y = (C)LD(b[i * sb]); \
        o[i] = ST(EXPR);                            \
    }
#define ROW_BOOL(C, LD, EXPR)                              \
    for (int64_t i = 0; i < n; i++) {               \
        C x = (C)LD(a[i * sa]), y = (C)LD(b[i * sb]); \
        ob[i] = (uint8_t)(EXPR);                    \
    }

/* Max/Min propagate NaN from either side, as numpy.maximum does. */
#define DEFINE_FLOAT_BINARY(NAME, T, C, LD, ST)                                              \
    static avf_status NAME(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {     \
        const T *a = (const T *)r->in[0]->data + off[0];                                     \
        const T *b = (const T *)r->in[1]->data + off[1];                                     \
        const int64_t sa = r->bc->strides[0][r->bc->ndim - 1];                               \
        const int64_t sb = r->bc->strides[1][r->bc->ndim - 1];                               \
        T *o = (T *)r->out->data + oo;                                                       \
        uint8_t *ob = (uint8_t *)r->out->data + oo;                                          \
        switch (r->op) {                                                                     \
        case AVF_BINARY_ADD: ROW(C, LD, ST, x + y); break;                                              \
        case AVF_BINARY_SUB: ROW(C, LD, ST, x - y); break;                                              \
        case AVF_BINARY_MUL: ROW(C, LD, ST, x * y); break;                                              \
        case AVF_BINARY_DIV: ROW(C, LD, ST, x / y); break;                                              \
        case AVF_BINARY_MAX: ROW(C, LD, ST, (x > y || x != x) ? x : y); break;                          \
        case AVF_BINARY_MIN: ROW(C, LD, ST, (x < y || x != x) ? x : y); break;                          \
        case AVF_BINARY_EQUAL: ROW_BOOL(C, LD, x == y); break;                                      \
        case AVF_BINARY_LESS: ROW_BOOL(C, LD, x < y); break;                                        \
        case AVF_BINARY_LESS_EQUAL: ROW_BOOL(C, LD, x <= y); break;                                 \
        case AVF_BINARY_GREATER: ROW_BOOL(C, LD, x > y); break;                                     \
        case AVF_BINARY_GREATER_EQUAL: ROW_BOOL(C, LD, x >= y); break;                              \
        default:                                                                             \
            return AVF_FAIL(AVF_ERR_INTERNAL, "binary: %s on a float dtype",                 \
                            avf_binary_op_name(r->op));                                      \
        }                                                                                    \
        (void)o;                                                                             \
        (void)ob;                                                                            \
        return AVF_OK;                                                                       \
    }

DEFINE_FLOAT_BINARY(row_f32_any, float, double, LD_ID, ST_F32)

/* f32: Add/Sub/Mul over contiguous or scalar operands take binary_f32.c's
 * vector loops (same results), the rest the generic row. */
static avf_status row_f32(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {
    const int64_t sa = r->bc->strides[0][r->bc->ndim - 1];
    const int64_t sb = r->bc->strides[1][r->bc->ndim - 1];
    if (r->out->dtype == AVF_DTYPE_F32 &&
        avf_cpu_binary_f32_fast(r->op, (const float *)r->in[0]->data + off[0], sa,
                                (const float *)r->in[1]->data + off[1], sb,
                                (float *)r->out->data + oo, n))
        return AVF_OK;
    return row_f32_any(r, n, off, oo);
}
DEFINE_FLOAT_BINARY(row_f64, double, double, LD_ID, LD_ID)
DEFINE_FLOAT_BINARY(row_f16, uint16_t, float, LD_F16, ST_F16)
DEFINE_FLOAT_BINARY(row_bf16, uint16_t, float, LD_BF16, ST_BF16)

/* ------------------------------------------------- integer, bool, Pow rows */

/* Wrapping arithmetic in int64 (through uint64: no signed overflow UB). */
static int64_t int_div(int64_t x, int64_t y) {
    if (y == 0)
        return 0; /* undefined in ONNX; never trap */
    if (y == -1)
        return (int64_t)(0u - (uint64_t)x);
    return x / y;
}

static int64_t int_pow(int64_t base, int64_t e) {
    if (e < 0) /* only |base| == 1 has an integer result */
        return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, x = (uint64_t)base;
    while (e) {
        if (e & 1)
            r *= x;
        x *= x;
        e >>= 1;
    }
    return (int64_t)r;
}

static avf_status row_int(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {
    avf_dtype dt = r->in[0]->dtype, odt = r->out->dtype;
    const void *a = r->in[0]->data, *b = r->in[1]->data;
    const int64_t sa = r->bc->strides[0][r->bc->ndim - 1];
    const int64_t sb = r->bc->strides[1][r->bc->ndim - 1];
    for (int64_t i = 0; i < n; i++) {
        int64_t x = avf_cpu_ew_load_i(dt, a, off[0] + i * sa);
        int64_t y = avf_cpu_ew_load_i(dt, b, off[1] + i * sb), v;
        switch (r->op) {
        case AVF_BINARY_ADD: v = (int64_t)((uint64_t)x + (uint64_t)y); break;
        case AVF_BINARY_SUB: v = (int64_t)((uint64_t)x - (uint64_t)y); break;
        case AVF_BINARY_MUL: v = (int64_t)((uint64_t)x * (uint64_t)y); break;
        case AVF_BINARY_DIV: v = int_div(x, y); break;
        case AVF_BINARY_MAX: v = x > y ? x : y; break;
        case AVF_BINARY_MIN: v = x < y ? x : y; break;
        case AVF_BINARY_EQUAL: v = x == y; break;
        case AVF_BINARY_LESS: v = x < y; break;
        case AVF_BINARY_LESS_EQUAL: v = x <= y; break;
        case AVF_BINARY_GREATER: v = x > y; break;
        case AVF_BINARY_GREATER_EQUAL: v = x >= y; break;
        case AVF_BINARY_AND: v = x && y; break;
        case AVF_BINARY_OR: v = x || y; break;
        default:
            return AVF_FAIL(AVF_ERR_INTERNAL, "binary: %s on an integer dtype",
                            avf_binary_op_name(r->op));
        }
        avf_cpu_ew_store_i(odt, r->out->data, oo + i, v);
    }
    return AVF_OK;
}

/* u64 does not fit int64's order: its own row, in uint64 (wrapping). */
static avf_status row_u64(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {
    const uint64_t *a = (const uint64_t *)r->in[0]->data + off[0];
    const uint64_t *b = (const uint64_t *)r->in[1]->data + off[1];
    const int64_t sa = r->bc->strides[0][r->bc->ndim - 1];
    const int64_t sb = r->bc->strides[1][r->bc->ndim - 1];
    uint64_t *o = (uint64_t *)r->out->data + oo;
    uint8_t *ob = (uint8_t *)r->out->data + oo;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = a[i * sa], y = b[i * sb];
        switch (r->op) {
        case AVF_BINARY_ADD: o[i] = x + y; break;
        case AVF_BINARY_SUB: o[i] = x - y; break;
        case AVF_BINARY_MUL: o[i] = x * y; break;
        case AVF_BINARY_DIV: o[i] = y ? x / y : 0; break; /* as int_div: never trap */
        case AVF_BINARY_MAX: o[i] = x > y ? x : y; break;
        case AVF_BINARY_MIN: o[i] = x < y ? x : y; break;
        case AVF_BINARY_EQUAL: ob[i] = x == y; break;
        case AVF_BINARY_LESS: ob[i] = x < y; break;
        case AVF_BINARY_LESS_EQUAL: ob[i] = x <= y; break;
        case AVF_BINARY_GREATER: ob[i] = x > y; break;
        case AVF_BINARY_GREATER_EQUAL: ob[i] = x >= y; break;
        default:
            return AVF_FAIL(AVF_ERR_INTERNAL, "binary: %s on u64", avf_binary_op_name(r->op));
        }
    }
    return AVF_OK;
}

/* Pow with any numeric base and exponent dtypes: integer power when both are
 * integers, else pow() in double; the result takes the base's dtype. */
static avf_status row_pow(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {
    avf_dtype da = r->in[0]->dtype, db = r->in[1]->dtype, odt = r->out->dtype;
    const void *a = r->in[0]->data, *b = r->in[1]->data;
    const int64_t sa = r->bc->strides[0][r->bc->ndim - 1];
    const int64_t sb = r->bc->strides[1][r->bc->ndim - 1];
    int ints = !avf_cpu_ew_is_float(da) && !avf_cpu_ew_is_float(db);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = off[0] + i * sa, ib = off[1] + i * sb;
        if (ints)
            avf_cpu_ew_store_i(odt, r->out->data, oo + i,
                               int_pow(avf_cpu_ew_load_i(da, a, ia), avf_cpu_ew_load_i(db, b, ib)));
        else
            avf_cpu_ew_store_f(odt, r->out->data, oo + i,
                               pow(avf_cpu_ew_load_f(da, a, ia), avf_cpu_ew_load_f(db, b, ib)));
    }
    return AVF_OK;
}

avf_status avf_cpu_binary(avf_binary_op op, const avf_ew_bcast *bc, const avf_tensor *a,
                          const avf_tensor *b, avf_tensor *out) {
    ew_row r;
    memset(&r, 0, sizeof r);
    r.op = op;
    r.bc = bc;
    r.in[0] = a;
    r.in[1] = b;
    r.out = out;
    if (op == AVF_BINARY_POW)
        r.fn = row_pow;
    else if (a->dtype == AVF_DTYPE_F32)
        r.fn = row_f32;
    else if (a->dtype == AVF_DTYPE_F64)
        r.fn = row_f64;
    else if (a->dtype == AVF_DTYPE_F16)
        r.fn = row_f16;
    else if (a->dtype == AVF_DTYPE_BF16)
        r.fn = row_bf16;
    else if (a->dtype == AVF_DTYPE_U64)
        r.fn = row_u64;
    else
        r.fn = row_int;
    return ew_iterate(&r);
}

/* ------------------------------------------------- Where */

#define WHERE_ROW(T)                                                          \
    do {                                                                      \
        const T *x = (const T *)r->in[1]->data + off[1];                      \
        const T *y = (const T *)r->in[2]->data + off[2];                      \
        T *o = (T *)r->out->data + oo;                                        \
        for (int64_t i = 0; i < n; i++)                                       \
            o[i] = c[i * sc] ? x[i * sx] : y[i * sy];                         \
    } while (0)

static avf_status row_where(const ew_row *r, int64_t n, const int64_t *off, int64_t oo) {
    const uint8_t *c = (const uint8_t *)r->in[0]->data + off[0];
    int last = r->bc->ndim - 1;
    const int64_t sc = r->bc->strides[0][last], sx = r->bc->strides[1][last],
                  sy = r->bc->strides[2][last];
    switch (avf_dtype_size(r->out->dtype)) {
    case 1: WHERE_ROW(uint8_t); break;
    case 2: WHERE_ROW(uint16_t); break;
    case 4: WHERE_ROW(uint32_t); break;
    case 8: WHERE_ROW(uint64_t); break;
    default:
        return AVF_FAIL(AVF_ERR_INTERNAL, "Where: element size %zu",
                        avf_dtype_size(r->out->dtype));
    }
    return AVF_OK;
}

avf_status avf_cpu_where(const avf_ew_bcast *bc, const avf_tensor *cond, const avf_tensor *x,
                         const avf_tensor *y, avf_tensor *out) {
    ew_row r;
    memset(&r, 0, sizeof r);
    r.bc = bc;
    r.in[0] = cond;
    r.in[1] = x;
    r.in[2] = y;
    r.out = out;
    r.fn = row_where;
    return ew_iterate(&r);
}
