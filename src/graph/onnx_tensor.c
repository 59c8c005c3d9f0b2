/* ONNX TensorProto -> CPU avf_tensor: dtypes, element counts checked against
 * the data present, external data files (paths confined to the model's
 * directory, ranges checked against the file). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "graph/onnx.h"
#include "onnx.pb-c.h"

/* Raw bytes are reinterpreted in place: ONNX stores little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "avflow's ONNX loader assumes a little-endian host"
#endif

int avf_onnx_dtype(int32_t t) {
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return AVF_DTYPE_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return AVF_DTYPE_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return AVF_DTYPE_I8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return AVF_DTYPE_I16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return AVF_DTYPE_I32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return AVF_DTYPE_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return AVF_DTYPE_BOOL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return AVF_DTYPE_F16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return AVF_DTYPE_F64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return AVF_DTYPE_BF16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return AVF_DTYPE_U16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return AVF_DTYPE_U32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return AVF_DTYPE_U64;
    default: return -1;
    }
}

const char *avf_onnx_dtype_name(int32_t t) {
    /* Indexed by TensorProto.DataType; newer onnx.proto versions add the
     * float8 and 4-bit types after bfloat16. */
    static const char *names[] = {"undefined", "float",      "uint8",    "int8",
                                  "uint16",    "int16",      "int32",    "int64",
                                  "string",    "bool",       "float16",  "double",
                                  "uint32",    "uint64",     "complex64", "complex128",
                                  "bfloat16",  "float8e4m3fn", "float8e4m3fnuz",
                                  "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
                                  "float4e2m1"};
    if (t >= 0 && (size_t)t < sizeof names / sizeof names[0])
        return names[t];
    return "unknown";
}

/* A strict non-negative decimal (no sign, no spaces, no overflow). */
static int parse_u63(const char *s, int64_t *out) {
    if (!s || !*s)
        return 0;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 1;
}

/* Lexical confinement of `location` to the model's directory: no absolute
 * paths and no '..' component. Symbolic links inside the directory are
 * followed (model caches use them for deduplicated blobs). */
static avf_status check_location(const char *loc, const char *what) {
    if (!loc || !*loc)
        return AVF_FAIL(AVF_ERR_CORRUPT, "tensor '%s': external data without a location", what);
    if (loc[0] == '/' || loc[0] == '\\' || (loc[0] && loc[1] == ':'))
        return AVF_FAIL(AVF_ERR_CORRUPT,
                        "tensor '%s': external data location '%s' is an absolute path", what, loc);
    const char *p = loc;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return AVF_FAIL(AVF_ERR_CORRUPT,
                            "tensor '%s': external data location '%s' leaves the model directory",
                            what, loc);
        p += n;
        if (*p)
            p++;
    }
    return AVF_OK;
}

/* Validates the reference and the range first, then allocates *out (nbytes)
 * and reads it: a hostile shape cannot make us allocate before the file is
 * known to hold that many bytes. */
static avf_status read_external(Onnx__TensorProto *tp, const avf_onnx_options *opts,
                                const char *what, void **out, size_t nbytes) {
    void *dst = NULL;
    const char *loc = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key ? tp->external_data[i]->key : "";
        const char *v = tp->external_data[i]->value ? tp->external_data[i]->value : "";
        if (strcmp(k, "location") == 0) {
            loc = v;
        } else if (strcmp(k, "offset") == 0) {
            if (!parse_u63(v, &offset))
                return AVF_FAIL(AVF_ERR_CORRUPT, "tensor '%s': bad external data offset '%s'",
                                what, v);
        } else if (strcmp(k, "length") == 0) {
            if (!parse_u63(v, &length))
                return AVF_FAIL(AVF_ERR_CORRUPT, "tensor '%s': bad external data length '%s'",
                                what, v);
        } /* "checksum" and unknown keys carry nothing we need */
    }
    AVF_TRY(check_location(loc, what));
    if (!opts || !opts->base_dir)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "tensor '%s': external data '%s' but no model directory was given "
                        "(loading from memory: set the options' external data directory)",
                        what, loc);
    size_t plen = strlen(opts->base_dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    if (!path)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    snprintf(path, plen, "%s/%s", opts->base_dir, loc);
    avf_status st = AVF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        st = AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO,
                      "tensor '%s': cannot open external data '%s': %s", what, path,
                      strerror(errno));
    } else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = AVF_FAIL(AVF_ERR_IO, "tensor '%s': external data '%s' is not a regular file", what,
                      path);
    } else if (offset > (int64_t)sb.st_size ||
               (length >= 0 && length > (int64_t)sb.st_size - offset)) {
        st = AVF_FAIL(AVF_ERR_CORRUPT,
                      "tensor '%s': external data range [%lld, +%lld) is outside '%s' (%lld bytes)",
                      what, (long long)offset, (long long)length, path, (long long)sb.st_size);
    } else {
        if (length < 0)
            length = (int64_t)sb.st_size - offset;
        if ((uint64_t)length != nbytes) {
            st = AVF_FAIL(AVF_ERR_CORRUPT,
                          "tensor '%s': external data has %lld bytes, its shape needs %zu", what,
                          (long long)length, nbytes);
        } else if (!(dst = malloc(nbytes))) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "tensor '%s': cannot allocate %zu bytes", what,
                          nbytes);
        } else {
            size_t done = 0;
            while (done < nbytes) {
                size_t chunk = nbytes - done > (1u << 30) ? (1u << 30) : nbytes - done;
                ssize_t r = pread(fd, (char *)dst + done, chunk, (off_t)(offset + (int64_t)done));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    st = AVF_FAIL(AVF_ERR_IO, "tensor '%s': reading '%s' failed: %s", what, path,
                                  r < 0 ? strerror(errno) : "file shrank");
                    break;
                }
                done += (size_t)r;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    free(path);
    if (st != AVF_OK)
        free(dst);
    else
        *out = dst;
    return st;
}

/* Typed fields (float_data, int32_data, ...) must hold exactly numel values. */
static avf_status check_count(size_t have, int64_t numel, const char *field, const char *what) {
    if ((uint64_t)have != (uint64_t)numel)
        return AVF_FAIL(AVF_ERR_CORRUPT, "tensor '%s': %s has %zu values, its shape needs %lld",
                        what, field, have, (long long)numel);
    return AVF_OK;
}

/* The typed field that holds dtype dt's values. */
static avf_status check_typed(const Onnx__TensorProto *tp, avf_dtype dt, int64_t numel,
                              const char *what) {
    switch (dt) {
    case AVF_DTYPE_F32: return check_count(tp->n_float_data, numel, "float_data", what);
    case AVF_DTYPE_F64: return check_count(tp->n_double_data, numel, "double_data", what);
    case AVF_DTYPE_I64: return check_count(tp->n_int64_data, numel, "int64_data", what);
    /* onnx.proto: uint32 and uint64 live in uint64_data, uint16 in int32_data */
    case AVF_DTYPE_U32:
    case AVF_DTYPE_U64: return check_count(tp->n_uint64_data, numel, "uint64_data", what);
    default: return check_count(tp->n_int32_data, numel, "int32_data", what);
    }
}

/* Copies numel values (counts already checked by check_typed). */
static avf_status copy_typed(Onnx__TensorProto *tp, avf_dtype dt, int64_t numel, void *dst,
                             const char *what) {
    size_t n = (size_t)numel;
    switch (dt) {
    case AVF_DTYPE_F32: memcpy(dst, tp->float_data, n * 4); return AVF_OK;
    case AVF_DTYPE_F64: memcpy(dst, tp->double_data, n * 8); return AVF_OK;
    case AVF_DTYPE_I64: memcpy(dst, tp->int64_data, n * 8); return AVF_OK;
    case AVF_DTYPE_U64: memcpy(dst, tp->uint64_data, n * 8); return AVF_OK;
    case AVF_DTYPE_U32:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
        return AVF_OK;
    default: break;
    }
    /* Narrow types live in int32_data; f16/bf16 as their bit patterns. The
     * low bits are kept, as the ONNX reference implementation does. */
    for (size_t i = 0; i < n; i++) {
        int32_t v = tp->int32_data[i];
        switch (dt) {
        case AVF_DTYPE_I32: ((int32_t *)dst)[i] = v; break;
        case AVF_DTYPE_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
        case AVF_DTYPE_F16:
        case AVF_DTYPE_BF16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
        case AVF_DTYPE_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
        case AVF_DTYPE_U8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
        case AVF_DTYPE_U16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
        case AVF_DTYPE_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
        default: return AVF_FAIL(AVF_ERR_INTERNAL, "tensor '%s': unhandled dtype", what);
        }
    }
    return AVF_OK;
}

avf_status avf_onnx_tensor(Onnx__TensorProto *tp, const avf_onnx_options *opts,
                           const char *what, avf_tensor *out) {
    AVF_CHECK_ARG(tp && out);
    memset(out, 0, sizeof *out);
    if (!what || !*what)
        what = "(unnamed)";
    int32_t onnx_type = tp->has_data_type ? tp->data_type : 0;
    int dt = avf_onnx_dtype(onnx_type);
    if (dt < 0)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "tensor '%s': data type %s (%d) is not supported (avflow has f32, f16, "
                        "bf16, f64, i64, i32, i16, i8, u8, u16, u32, u64, bool)",
                        what, avf_onnx_dtype_name(onnx_type), (int)onnx_type);
    if (tp->segment)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "tensor '%s': segmented tensors are not supported",
                        what);
    if (tp->n_dims > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "tensor '%s': %zu dims (avflow allows %d)", what,
                        tp->n_dims, AVF_MAX_DIMS);
    int64_t numel = 0;
    /* avf_shape_numel also bounds empty shapes' other dims ([2^40, 2^40, 0]),
     * so strides computed from this shape cannot overflow. */
    if (avf_shape_numel((int)tp->n_dims, tp->dims, &numel) != AVF_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", avf_last_error());
        return AVF_FAIL(AVF_ERR_CORRUPT, "tensor '%s': invalid shape (%s)", what, why);
    }
    size_t esize = avf_dtype_size((avf_dtype)dt);
    size_t nbytes = (size_t)numel * esize; /* numel <= 2^48, esize <= 8: no overflow */
    avf_device *cpu = NULL;
    AVF_TRY(avf_device_get(AVF_DEVICE_CPU, 0, &cpu));

    int external = tp->has_data_location &&
                   tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    void *data = NULL;
    if (!external && tp->has_raw_data) {
        if ((uint64_t)tp->raw_data.len != (uint64_t)nbytes)
            return AVF_FAIL(AVF_ERR_CORRUPT,
                            "tensor '%s': raw_data has %zu bytes, %s%s needs %zu", what,
                            tp->raw_data.len, avf_dtype_name((avf_dtype)dt),
                            tp->n_dims ? " of its shape" : " scalar", nbytes);
        if (nbytes > 0) {
            /* Take protobuf-c's malloc'd copy instead of copying it again;
             * malloc's alignment suits every dtype. */
            data = tp->raw_data.data;
            tp->raw_data.data = NULL;
            tp->raw_data.len = 0;
            tp->has_raw_data = 0;
        }
    } else if (nbytes > 0 && external) {
        AVF_TRY(read_external(tp, opts, what, &data, nbytes));
    } else if (nbytes > 0) {
        AVF_TRY(check_typed(tp, (avf_dtype)dt, numel, what));
        data = malloc(nbytes);
        if (!data)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "tensor '%s': cannot allocate %zu bytes", what,
                            nbytes);
        avf_status st = copy_typed(tp, (avf_dtype)dt, numel, data, what);
        if (st != AVF_OK) {
            free(data);
            return st;
        }
    } else if (external) {
        /* zero bytes: still validate the reference */
        const char *loc = NULL;
        for (size_t i = 0; i < tp->n_external_data; i++)
            if (tp->external_data[i]->key && strcmp(tp->external_data[i]->key, "location") == 0)
                loc = tp->external_data[i]->value;
        AVF_TRY(check_location(loc, what));
    }
    avf_status st = avf_tensor_init_borrowed(out, data, (avf_dtype)dt, (int)tp->n_dims, tp->dims,
                                             cpu);
    if (st != AVF_OK) {
        free(data);
        memset(out, 0, sizeof *out);
        return st;
    }
    return AVF_OK;
}
