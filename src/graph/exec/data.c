/* Executor ops of the data family (see graph/exec_op.h): the table, and
 * helpers shared by data_layout.c and data_shape.c. */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "graph/exec/data_exec.h"

const avf_exec_op *const avf_exec_ops_data[] = {
    &avf_exec_data_transpose, &avf_exec_data_concat,  &avf_exec_data_split,
    &avf_exec_data_slice,     &avf_exec_data_pad,     &avf_exec_data_expand,
    &avf_exec_data_tile,      &avf_exec_data_gather,  &avf_exec_data_scatternd,
    &avf_exec_data_nonzero,   &avf_exec_data_reshape, &avf_exec_data_flatten,
    &avf_exec_data_squeeze,   &avf_exec_data_unsqueeze, &avf_exec_data_shape,
    &avf_exec_data_size,      &avf_exec_data_range,   &avf_exec_data_constant_of_shape,
    &avf_exec_data_quantize,  &avf_exec_data_dequantize,
    NULL,
};

avf_status avf_data_exec_in(const avf_exec_call *call, int i, const avf_tensor **out) {
    if (i >= call->n_in || !call->in[i])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "node '%s' (%s): input %d is missing",
                        call->node->name, call->node->op_type, i);
    *out = call->in[i];
    return AVF_OK;
}

avf_status avf_data_exec_ints(const avf_exec_call *call, int i, int64_t *out, int cap,
                              int *count) {
    *count = -1;
    if (i >= call->n_in || !call->in[i])
        return AVF_OK;
    if (!call->in_host[i])
        return AVF_FAIL(AVF_ERR_INTERNAL, "node '%s' (%s): input %d has no host copy",
                        call->node->name, call->node->op_type, i);
    return avf_exec_host_ints(call->in_host[i], call->node->op_type, out, cap, count);
}

avf_status avf_data_exec_scalar_bytes(const avf_tensor *t, const char *what, uint64_t *out) {
    *out = 0;
    if (!t || avf_tensor_numel(t) == 0)
        return AVF_OK; /* absent or empty: zero of the type */
    if (avf_device_get_kind(t->device) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INTERNAL, "%s: not a host tensor", what);
    size_t es = avf_dtype_size(t->dtype);
    if (es == 0 || es > sizeof *out)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s: dtype %s", what, avf_dtype_name(t->dtype));
    memcpy(out, t->data, es); /* little-endian: the element lands in the low bytes */
    return AVF_OK;
}

avf_status avf_data_exec_value_bytes(avf_dtype dt, double v, uint64_t *out) {
    *out = 0;
    union {
        float f;
        double d;
        int64_t i64;
        int32_t i32;
        int16_t i16;
        int8_t i8;
        uint8_t u8;
        uint16_t h;
    } u;
    memset(&u, 0, sizeof u);
    /* Saturate before integer casts: out-of-range conversion is undefined. */
    if (v != v)
        v = 0.0;
    if (dt == AVF_DTYPE_I64 || dt == AVF_DTYPE_I32 || dt == AVF_DTYPE_I16 ||
        dt == AVF_DTYPE_I8 || dt == AVF_DTYPE_U8) {
        double lo = dt == AVF_DTYPE_I64 ? -9.2233720368547758e18
                    : dt == AVF_DTYPE_I32 ? -2147483648.0
                    : dt == AVF_DTYPE_I16 ? -32768.0
                    : dt == AVF_DTYPE_I8 ? -128.0 : 0.0;
        double hi = dt == AVF_DTYPE_I64 ? 9.2233720368547748e18
                    : dt == AVF_DTYPE_I32 ? 2147483647.0
                    : dt == AVF_DTYPE_I16 ? 32767.0
                    : dt == AVF_DTYPE_I8 ? 127.0 : 255.0;
        v = v < lo ? lo : (v > hi ? hi : v);
    }
    switch (dt) {
    case AVF_DTYPE_F32: u.f = (float)v; break;
    case AVF_DTYPE_F64: u.d = v; break;
    case AVF_DTYPE_F16: u.h = avf_f32_to_f16((float)v); break;
    case AVF_DTYPE_BF16: u.h = avf_f32_to_bf16((float)v); break;
    case AVF_DTYPE_I64: u.i64 = (int64_t)v; break;
    case AVF_DTYPE_I32: u.i32 = (int32_t)v; break;
    case AVF_DTYPE_I16: u.i16 = (int16_t)v; break;
    case AVF_DTYPE_I8: u.i8 = (int8_t)v; break;
    case AVF_DTYPE_U8: u.u8 = (uint8_t)v; break;
    case AVF_DTYPE_BOOL: u.u8 = v != 0.0; break;
    default: return AVF_FAIL(AVF_ERR_INVALID_ARG, "value for dtype %d", (int)dt);
    }
    memcpy(out, &u, sizeof *out);
    return AVF_OK;
}
