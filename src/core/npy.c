/* .npy reading and writing (see avflow/npy.h).
 *
 * The header is a Python dict literal; it is parsed here by a small bounded
 * scanner that accepts exactly the three keys NumPy writes ('descr',
 * 'fortran_order', 'shape') with literal values, in any order. */
#include "avflow/npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define NPY_MAX_HEADER (64u * 1024u)
#define NPY_MAX_FILE (((uint64_t)1) << 40)

static const struct {
    avf_dtype dt;
    const char *descr; /* written */
    const char *alt;   /* also read */
} npy_types[] = {
    {AVF_DTYPE_F32, "<f4", "=f4"},  {AVF_DTYPE_F16, "<f2", "=f2"},
    {AVF_DTYPE_F64, "<f8", "=f8"},  {AVF_DTYPE_I64, "<i8", "=i8"},
    {AVF_DTYPE_I32, "<i4", "=i4"},  {AVF_DTYPE_I16, "<i2", "=i2"},
    {AVF_DTYPE_I8, "|i1", "<i1"},   {AVF_DTYPE_U8, "|u1", "<u1"},
    {AVF_DTYPE_BOOL, "|b1", "<b1"}, {AVF_DTYPE_BF16, "bfloat16", "<bfloat16"},
    {AVF_DTYPE_U16, "<u2", "=u2"},  {AVF_DTYPE_U32, "<u4", "=u4"},
    {AVF_DTYPE_U64, "<u8", "=u8"},
};

/* ------------------------------------------------------------ header */

typedef struct scanner {
    const char *p, *end;
} scanner;

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int eat(scanner *s, char c) {
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* A quoted string (no escapes: none of the values NumPy writes has any). */
static int read_str(scanner *s, char *buf, size_t cap) {
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
        return 0;
    char q = *s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != q) {
        if (*s->p == '\\' || n + 1 >= cap)
            return 0;
        buf[n++] = *s->p++;
    }
    if (s->p >= s->end)
        return 0;
    s->p++;
    buf[n] = '\0';
    return 1;
}

static int read_word(scanner *s, const char *w) {
    skip_ws(s);
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
        s->p += n;
        return 1;
    }
    return 0;
}

static int read_dim(scanner *s, int64_t *v) {
    skip_ws(s);
    int64_t x = 0;
    int digits = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (x > (AVF_MAX_NUMEL - 9) / 10)
            return 0;
        x = x * 10 + (*s->p++ - '0');
        digits++;
    }
    /* NumPy may write "3L" (Python 2) */
    if (digits && s->p < s->end && *s->p == 'L')
        s->p++;
    *v = x;
    return digits > 0;
}

static avf_status bad_header(const char *why) {
    return AVF_FAIL(AVF_ERR_CORRUPT, "npy: malformed header: %s", why);
}

static avf_status parse_header(const char *h, size_t len, avf_dtype *dt, int *ndim,
                               int64_t *shape) {
    scanner s = {h, h + len};
    int seen_descr = 0, seen_order = 0, seen_shape = 0, fortran = 0;
    char key[32], descr[32];
    if (!eat(&s, '{'))
        return bad_header("no '{'");
    for (;;) {
        if (eat(&s, '}'))
            break;
        if (!read_str(&s, key, sizeof key) || !eat(&s, ':'))
            return bad_header("expected 'key':");
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            if (!read_str(&s, descr, sizeof descr))
                return bad_header("descr is not a short string");
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (read_word(&s, "True"))
                fortran = 1;
            else if (!read_word(&s, "False"))
                return bad_header("fortran_order is not True/False");
            seen_order = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if (!eat(&s, '('))
                return bad_header("shape is not a tuple");
            *ndim = 0;
            while (!eat(&s, ')')) {
                if (*ndim == AVF_MAX_DIMS)
                    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "npy: more than %d dims", AVF_MAX_DIMS);
                if (!read_dim(&s, &shape[*ndim]))
                    return bad_header("shape holds a non-integer");
                (*ndim)++;
                if (!eat(&s, ',')) {
                    if (!eat(&s, ')'))
                        return bad_header("shape tuple not closed");
                    break;
                }
            }
            seen_shape = 1;
        } else {
            return bad_header("unknown or repeated key");
        }
        if (!eat(&s, ',')) {
            if (!eat(&s, '}'))
                return bad_header("expected ',' or '}'");
            break;
        }
    }
    if (!seen_descr || !seen_order || !seen_shape)
        return bad_header("descr, fortran_order or shape missing");
    if (fortran)
        return AVF_FAIL(AVF_ERR_UNSUPPORTED,
                        "npy: fortran_order arrays are not supported (save in C order)");
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (strcmp(descr, npy_types[i].descr) == 0 || strcmp(descr, npy_types[i].alt) == 0) {
            *dt = npy_types[i].dt;
            return AVF_OK;
        }
    if (descr[0] == '>')
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "npy: big-endian dtype '%s' is not supported",
                        descr);
    return AVF_FAIL(AVF_ERR_UNSUPPORTED, "npy: dtype '%s' is not supported", descr);
}

/* ------------------------------------------------------------ read */

avf_status avf_npy_read_memory(const void *data, size_t len, avf_pool *pool, avf_tensor *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    AVF_CHECK_ARG(pool != NULL && (data != NULL || len == 0));
    if (avf_device_get_kind(avf_pool_device(pool)) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "npy: the pool must be a CPU pool");
    const uint8_t *b = data;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return AVF_FAIL(AVF_ERR_CORRUPT, "npy: not a .npy file (bad magic)");
    uint8_t major = b[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return AVF_FAIL(AVF_ERR_CORRUPT, "npy: truncated header");
        uint32_t l = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
                     (uint32_t)b[11] << 24;
        if (l > NPY_MAX_HEADER)
            return AVF_FAIL(AVF_ERR_CORRUPT, "npy: header of %u bytes (limit %u)", l,
                            NPY_MAX_HEADER);
        hlen = l;
        off = 12;
    } else {
        return AVF_FAIL(AVF_ERR_UNSUPPORTED, "npy: format version %u is not supported", major);
    }
    if (hlen > len - off)
        return AVF_FAIL(AVF_ERR_CORRUPT, "npy: truncated header (%zu of %zu bytes)", len - off,
                        hlen);
    avf_dtype dt = AVF_DTYPE_F32;
    int ndim = 0;
    int64_t shape[AVF_MAX_DIMS];
    AVF_TRY(parse_header((const char *)b + off, hlen, &dt, &ndim, shape));
    int64_t numel = 0;
    AVF_TRY(avf_shape_numel(ndim, shape, &numel));
    size_t esize = avf_dtype_size(dt);
    off += hlen;
    if ((uint64_t)numel > (uint64_t)(len - off) / esize)
        return AVF_FAIL(AVF_ERR_CORRUPT, "npy: truncated data (%zu bytes for %lld elements of %zu)",
                        len - off, (long long)numel, esize);
    AVF_TRY(avf_tensor_alloc(out, pool, dt, ndim, shape, NULL));
    if (numel)
        memcpy(out->data, b + off, (size_t)numel * esize);
    if (dt == AVF_DTYPE_BOOL) /* anything but 0/1 is not a bool */
        for (int64_t i = 0; i < numel; i++)
            if (((uint8_t *)out->data)[i] > 1) {
                avf_tensor_release(out, NULL);
                return AVF_FAIL(AVF_ERR_CORRUPT, "npy: bool element %lld is %u", (long long)i,
                                b[off + (size_t)i]);
            }
    return AVF_OK;
}

avf_status avf_npy_read(const char *path, avf_pool *pool, avf_tensor *out) {
    AVF_CHECK_ARG(out != NULL);
    memset(out, 0, sizeof *out);
    AVF_CHECK_ARG(path != NULL && pool != NULL);
    FILE *f = fopen(path, "rb");
    if (!f)
        return AVF_FAIL(errno == ENOENT ? AVF_ERR_NOT_FOUND : AVF_ERR_IO, "npy: cannot open %s: %s",
                        path, strerror(errno));
    avf_status st = AVF_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = AVF_FAIL(AVF_ERR_IO, "npy: cannot size %s", path);
    else if ((uint64_t)size > NPY_MAX_FILE || (uint64_t)size > SIZE_MAX)
        st = AVF_FAIL(AVF_ERR_UNSUPPORTED, "npy: %s is %ld bytes", path, size);
    void *buf = NULL;
    if (st == AVF_OK && !(buf = malloc(size ? (size_t)size : 1)))
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "npy: out of memory for %s", path);
    if (st == AVF_OK && size && fread(buf, 1, (size_t)size, f) != (size_t)size)
        st = AVF_FAIL(AVF_ERR_IO, "npy: cannot read %s", path);
    fclose(f);
    if (st == AVF_OK) {
        st = avf_npy_read_memory(buf, (size_t)size, pool, out);
        if (st != AVF_OK) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", avf_last_error());
            st = AVF_FAIL(st, "%s: %s", path, msg);
        }
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------ write */

avf_status avf_npy_write_memory(const avf_tensor *t, void **out, size_t *len) {
    AVF_CHECK_ARG(out != NULL && len != NULL);
    *out = NULL;
    *len = 0;
    AVF_CHECK_ARG(t != NULL);
    if (!t->device || avf_device_get_kind(t->device) != AVF_DEVICE_CPU)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "npy: the tensor is not on the CPU");
    if (!avf_tensor_is_contiguous(t))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "npy: the tensor is not contiguous");
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == t->dtype)
            descr = npy_types[i].descr;
    if (!descr)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "npy: invalid dtype");
    char dict[400];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int d = 0; d < t->ndim; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)t->shape[d],
                      d + 1 < t->ndim ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* 10 bytes of preamble + dict + padding + '\n', a multiple of 64 */
    size_t hdr = 10 + (size_t)n + 1;
    size_t pad = (64 - hdr % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    size_t nbytes = avf_tensor_nbytes(t);
    size_t total = 10 + hlen + nbytes;
    uint8_t *buf = malloc(total);
    if (!buf)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "npy: out of memory");
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    if (nbytes)
        memcpy(buf + 10 + hlen, t->data, nbytes);
    *out = buf;
    *len = total;
    return AVF_OK;
}

avf_status avf_npy_write(const char *path, const avf_tensor *t) {
    AVF_CHECK_ARG(path != NULL);
    void *buf = NULL;
    size_t len = 0;
    AVF_TRY(avf_npy_write_memory(t, &buf, &len));
    FILE *f = fopen(path, "wb");
    avf_status st = AVF_OK;
    if (!f) {
        st = AVF_FAIL(AVF_ERR_IO, "npy: cannot create %s: %s", path, strerror(errno));
    } else {
        if (fwrite(buf, 1, len, f) != len)
            st = AVF_FAIL(AVF_ERR_IO, "npy: cannot write %s", path);
        if (fclose(f) != 0 && st == AVF_OK)
            st = AVF_FAIL(AVF_ERR_IO, "npy: cannot close %s", path);
    }
    free(buf);
    return st;
}
