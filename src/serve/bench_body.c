/* Build a binary-tensor KServe v2 infer request from model metadata. */
#include "serve/bench_body.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "avflow/device.h"
#include "avflow/npy.h"
#include "avflow/pool.h"
#include "core/error.h"
#include "serve/infer_json.h"

avf_status avf_bench_input_parse(const char *arg, avf_bench_input *out) {
    memset(out, 0, sizeof *out);
    out->ndim = -1;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof out->name || !eq[1])
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': want NAME=FILE.npy or NAME=D0xD1x...", arg);
    memcpy(out->name, arg, (size_t)(eq - arg));
    const char *v = eq + 1;
    size_t n = strlen(v);
    if (n > 4 && strcmp(v + n - 4, ".npy") == 0) {
        if (n >= sizeof out->npy)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': path too long", arg);
        memcpy(out->npy, v, n + 1);
        return AVF_OK;
    }
    out->ndim = 0;
    for (const char *p = v;;) {
        char *e;
        errno = 0;
        long long d = strtoll(p, &e, 10);
        if (errno || e == p || d < 1 || d > (1LL << 31) || out->ndim == AVF_MAX_DIMS)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': bad shape (dims >= 1, at most %d)", arg,
                            AVF_MAX_DIMS);
        out->shape[out->ndim++] = d;
        if (!*e)
            break;
        if (*e != 'x' && *e != ',')
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': shape dims are separated by 'x'", arg);
        p = e + 1;
    }
    return AVF_OK;
}

/* xorshift64*: reproducible random inputs without global state. */
static uint64_t next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void fill_random(void *data, avf_dtype dt, int64_t numel, uint64_t *seed) {
    for (int64_t i = 0; i < numel; i++) {
        uint64_t r = next(seed);
        double u = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
        switch (dt) {
        case AVF_DTYPE_F32: ((float *)data)[i] = (float)(2 * u - 1); break;
        case AVF_DTYPE_F64: ((double *)data)[i] = 2 * u - 1; break;
        case AVF_DTYPE_I64: ((int64_t *)data)[i] = (int64_t)(r % 10); break;
        case AVF_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)(r % 10); break;
        case AVF_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)(r % 10); break;
        case AVF_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)(r % 10); break;
        case AVF_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)(r % 256); break;
        case AVF_DTYPE_BOOL: ((uint8_t *)data)[i] = (uint8_t)(r & 1); break;
        default: /* f16/bf16: small random bit patterns are valid numbers */
            ((uint16_t *)data)[i] = (uint16_t)(0x3000 + (r % 0x0c00));
        }
    }
}

typedef struct part {
    void *data;
    size_t len;
} part;

avf_status avf_bench_infer_body(const char *metadata, size_t metadata_len,
                                const avf_bench_input *given, int n_given, int64_t batch,
                                uint64_t seed, char **body, size_t *len, size_t *json_len) {
    *body = NULL;
    *len = *json_len = 0;
    json_error_t jerr;
    json_t *meta = json_loadb(metadata, metadata_len, 0, &jerr);
    json_t *inputs = json_is_object(meta) ? json_object_get(meta, "inputs") : NULL;
    if (!json_is_array(inputs) || json_array_size(inputs) > AVF_BENCH_MAX_INPUTS) {
        json_decref(meta);
        return AVF_FAIL(AVF_ERR_CORRUPT, "model metadata without an inputs array (of <= %d)",
                        AVF_BENCH_MAX_INPUTS);
    }
    for (int g = 0; g < n_given; g++) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(inputs); i++) {
            const char *nm = json_string_value(json_object_get(json_array_get(inputs, i), "name"));
            found |= nm && strcmp(nm, given[g].name) == 0;
        }
        if (!found) {
            json_decref(meta);
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "the model has no input '%s'", given[g].name);
        }
    }
    avf_device *cpu = NULL;
    avf_pool *pool = NULL;
    avf_status st = avf_device_parse("cpu", &cpu);
    if (st == AVF_OK)
        st = avf_pool_create(cpu, NULL, &pool);
    part parts[AVF_BENCH_MAX_INPUTS] = {{0}};
    json_t *req_inputs = json_array();
    size_t n_in = json_array_size(inputs), total = 0;
    for (size_t i = 0; i < n_in && st == AVF_OK; i++) {
        json_t *in = json_array_get(inputs, i);
        const char *name = json_string_value(json_object_get(in, "name"));
        const char *dtname = json_string_value(json_object_get(in, "datatype"));
        json_t *mshape = json_object_get(in, "shape");
        if (!name || !dtname || !json_is_array(mshape)) {
            st = AVF_FAIL(AVF_ERR_CORRUPT, "model metadata input %zu is incomplete", i);
            break;
        }
        int dt = avf_srv_datatype_parse(dtname);
        if (dt < 0) {
            st = AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s' is %s: bench sends numeric tensors only",
                          name, dtname);
            break;
        }
        const avf_bench_input *gi = NULL;
        for (int g = 0; g < n_given; g++)
            if (strcmp(given[g].name, name) == 0)
                gi = &given[g];
        int ndim = 0;
        int64_t shape[AVF_MAX_DIMS];
        if (gi && gi->npy[0]) {
            avf_tensor t;
            st = avf_npy_read(gi->npy, pool, &t);
            if (st != AVF_OK)
                break;
            if ((int)t.dtype != dt) {
                st = AVF_FAIL(AVF_ERR_INVALID_ARG, "%s holds %s, input '%s' wants %s", gi->npy,
                              avf_srv_datatype_name(t.dtype), name, dtname);
                avf_tensor_release(&t, NULL);
                break;
            }
            ndim = t.ndim;
            memcpy(shape, t.shape, sizeof shape);
            parts[i].len = avf_tensor_nbytes(&t);
            parts[i].data = malloc(parts[i].len ? parts[i].len : 1);
            if (parts[i].data && parts[i].len)
                memcpy(parts[i].data, t.data, parts[i].len);
            avf_tensor_release(&t, NULL);
        } else {
            if (gi) {
                ndim = gi->ndim;
                memcpy(shape, gi->shape, sizeof shape);
            } else {
                ndim = (int)json_array_size(mshape);
                if (ndim > AVF_MAX_DIMS) {
                    st = AVF_FAIL(AVF_ERR_CORRUPT, "input '%s' has %d dims", name, ndim);
                    break;
                }
                for (int d = 0; d < ndim; d++) {
                    json_int_t v = json_integer_value(json_array_get(mshape, (size_t)d));
                    if (v < 0 && d == 0)
                        v = batch;
                    if (v < 1) {
                        st = AVF_FAIL(AVF_ERR_INVALID_ARG,
                                      "input '%s' has dynamic dim %d: give its shape "
                                      "(--input %s=D0xD1x...)", name, d, name);
                        break;
                    }
                    shape[d] = v;
                }
                if (st != AVF_OK)
                    break;
            }
            int64_t numel;
            st = avf_shape_numel(ndim, shape, &numel);
            if (st != AVF_OK)
                break;
            size_t bytes = (size_t)numel * avf_dtype_size((avf_dtype)dt);
            if (bytes > ((size_t)1 << 30)) {
                st = AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s' would be over 1 GiB", name);
                break;
            }
            parts[i].len = bytes;
            parts[i].data = malloc(bytes ? bytes : 1);
            if (parts[i].data)
                fill_random(parts[i].data, (avf_dtype)dt, numel, &seed);
        }
        if (!parts[i].data) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        json_t *js = json_array();
        for (int d = 0; d < ndim; d++)
            json_array_append_new(js, json_integer(shape[d]));
        json_array_append_new(req_inputs,
                              json_pack("{s:s,s:s,s:o,s:{s:I}}", "name", name, "datatype",
                                        dtname, "shape", js, "parameters", "binary_data_size",
                                        (json_int_t)parts[i].len));
        total += parts[i].len;
    }
    char *head = NULL;
    if (st == AVF_OK) {
        json_t *req = json_pack("{s:o,s:{s:b}}", "inputs", req_inputs, "parameters",
                                "binary_data_output", 1);
        req_inputs = NULL;
        head = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!head)
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st == AVF_OK) {
        size_t hl = strlen(head);
        char *b = malloc(hl + total);
        if (!b) {
            st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
        } else {
            memcpy(b, head, hl);
            size_t off = hl;
            for (size_t i = 0; i < n_in; i++) {
                if (parts[i].len)
                    memcpy(b + off, parts[i].data, parts[i].len);
                off += parts[i].len;
            }
            *body = b;
            *len = hl + total;
            *json_len = hl;
        }
    }
    free(head);
    json_decref(req_inputs);
    for (size_t i = 0; i < AVF_BENCH_MAX_INPUTS; i++)
        free(parts[i].data);
    json_decref(meta);
    avf_pool_free_all(pool);
    return st;
}
