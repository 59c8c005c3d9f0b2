/* KServe v2 inference bodies <-> requests, with jansson. The parser counts
 * a tensor's elements before it allocates anything, so a body can never make
 * the server allocate more than its own size times a small factor. */
#include "serve/infer_json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"

static const struct {
    const char *name;
    int dtype;
} datatypes[] = {
    {"FP32", AVF_DTYPE_F32}, {"FP16", AVF_DTYPE_F16},   {"BF16", AVF_DTYPE_BF16},
    {"FP64", AVF_DTYPE_F64}, {"INT64", AVF_DTYPE_I64},  {"INT32", AVF_DTYPE_I32},
    {"INT16", AVF_DTYPE_I16}, {"INT8", AVF_DTYPE_I8},   {"UINT8", AVF_DTYPE_U8},
    {"UINT16", AVF_DTYPE_U16}, {"UINT32", AVF_DTYPE_U32}, {"UINT64", AVF_DTYPE_U64},
    {"BOOL", AVF_DTYPE_BOOL},
};

const char *avf_srv_datatype_name(avf_dtype dt) {
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++)
        if (datatypes[i].dtype == (int)dt)
            return datatypes[i].name;
    return NULL;
}

int avf_srv_datatype_parse(const char *name) {
    for (size_t i = 0; i < sizeof datatypes / sizeof datatypes[0]; i++)
        if (strcmp(datatypes[i].name, name) == 0)
            return datatypes[i].dtype;
    return -1;
}

char *avf_srv_error_json(const char *msg) {
    json_t *o = json_pack("{s:s}", "error", msg ? msg : "");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- parsing */

/* Elements of a nested "data" array; -1 when nesting is deeper than a shape
 * may be (AVF_MAX_DIMS) or an array holds both arrays and scalars. */
static int64_t count_elements(json_t *a, int depth) {
    if (depth > AVF_MAX_DIMS)
        return -1;
    int64_t n = 0;
    size_t i;
    json_t *e;
    int nested = -1;
    json_array_foreach(a, i, e) {
        int is_arr = json_is_array(e);
        if (nested >= 0 && nested != is_arr)
            return -1;
        nested = is_arr;
        if (is_arr) {
            int64_t k = count_elements(e, depth + 1);
            if (k < 0)
                return -1;
            n += k;
        } else {
            n++;
        }
    }
    return n;
}

typedef struct fill_ctx {
    avf_dtype dt;
    char *dst;
    int64_t at;
    const char *name;
} fill_ctx;

static avf_status put_scalar(fill_ctx *f, json_t *e) {
    size_t es = avf_dtype_size(f->dt);
    void *p = f->dst + (size_t)f->at * es;
    json_int_t iv = 0;
    if (f->dt == AVF_DTYPE_F32 || f->dt == AVF_DTYPE_F64) {
        if (!json_is_number(e))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': element %lld is not a number",
                            f->name, (long long)f->at);
        double v = json_number_value(e);
        if (f->dt == AVF_DTYPE_F32 && fabs(v) > FLT_MAX) /* the cast would be undefined */
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': element %lld (%g) is out of range "
                            "for FP32", f->name, (long long)f->at, v);
        if (f->dt == AVF_DTYPE_F32) {
            float x = (float)v;
            memcpy(p, &x, sizeof x);
        } else {
            memcpy(p, &v, sizeof v);
        }
    } else if (f->dt == AVF_DTYPE_BOOL) {
        if (!json_is_boolean(e))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': element %lld is not true/false",
                            f->name, (long long)f->at);
        *(uint8_t *)p = json_is_true(e) ? 1 : 0;
    } else {
        if (!json_is_integer(e))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': element %lld is not an integer",
                            f->name, (long long)f->at);
        iv = json_integer_value(e);
        int64_t lo, hi;
        switch (f->dt) {
        case AVF_DTYPE_I32: lo = INT32_MIN; hi = INT32_MAX; break;
        case AVF_DTYPE_I16: lo = INT16_MIN; hi = INT16_MAX; break;
        case AVF_DTYPE_I8: lo = INT8_MIN; hi = INT8_MAX; break;
        case AVF_DTYPE_U8: lo = 0; hi = UINT8_MAX; break;
        case AVF_DTYPE_U16: lo = 0; hi = UINT16_MAX; break;
        case AVF_DTYPE_U32: lo = 0; hi = UINT32_MAX; break;
        case AVF_DTYPE_U64: lo = 0; hi = INT64_MAX; break; /* JSON integers are int64 here */
        default: lo = INT64_MIN; hi = INT64_MAX; break;
        }
        if (iv < lo || iv > hi)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': element %lld (%lld) is out of "
                            "range for %s", f->name, (long long)f->at, (long long)iv,
                            avf_srv_datatype_name(f->dt));
        int64_t v = iv;
        int32_t v32 = (int32_t)v;
        int16_t v16 = (int16_t)v;
        int8_t v8 = (int8_t)v;
        uint8_t vu8 = (uint8_t)v;
        uint16_t vu16 = (uint16_t)v;
        uint32_t vu32 = (uint32_t)v;
        switch (f->dt) {
        case AVF_DTYPE_I32: memcpy(p, &v32, 4); break;
        case AVF_DTYPE_I16: memcpy(p, &v16, 2); break;
        case AVF_DTYPE_I8: memcpy(p, &v8, 1); break;
        case AVF_DTYPE_U8: memcpy(p, &vu8, 1); break;
        case AVF_DTYPE_U16: memcpy(p, &vu16, 2); break;
        case AVF_DTYPE_U32: memcpy(p, &vu32, 4); break;
        default: memcpy(p, &v, 8); break; /* I64, U64 (0 .. INT64_MAX) */
        }
    }
    f->at++;
    return AVF_OK;
}

static avf_status fill(fill_ctx *f, json_t *a) {
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        if (json_is_array(e))
            AVF_TRY(fill(f, e));
        else
            AVF_TRY(put_scalar(f, e));
    }
    return AVF_OK;
}

static avf_status parse_shape(json_t *js, avf_srv_tensor *t, int64_t *numel) {
    if (!json_is_array(js))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': \"shape\" must be an array", t->name);
    if (json_array_size(js) > AVF_MAX_DIMS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': %zu dims, at most %d", t->name,
                        json_array_size(js), AVF_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    for (int d = 0; d < t->ndim; d++) {
        json_t *e = json_array_get(js, (size_t)d);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': shape[%d] must be an integer >= 0",
                            t->name, d);
        t->shape[d] = json_integer_value(e);
    }
    if (avf_shape_numel(t->ndim, t->shape, numel) != AVF_OK)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': the shape has too many elements",
                        t->name);
    return AVF_OK;
}

/* binary_data_size of a parameters object; -1 when absent. */
static avf_status binary_size(json_t *obj, const char *name, int64_t *size) {
    *size = -1;
    json_t *params = json_object_get(obj, "parameters");
    if (!params)
        return AVF_OK;
    if (!json_is_object(params))
        return AVF_FAIL(AVF_ERR_CORRUPT, "'%s': \"parameters\" must be an object", name);
    json_t *b = json_object_get(params, "binary_data_size");
    if (!b)
        return AVF_OK;
    if (!json_is_integer(b) || json_integer_value(b) < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': binary_data_size must be an integer >= 0",
                        name);
    *size = json_integer_value(b);
    return AVF_OK;
}

static avf_status get_name(json_t *obj, char *dst, const char *what) {
    json_t *n = json_object_get(obj, "name");
    if (!json_is_string(n))
        return AVF_FAIL(AVF_ERR_CORRUPT, "every %s needs a \"name\" string", what);
    if (json_string_length(n) >= AVF_SRV_NAME_MAX || json_string_length(n) == 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "%s name: 1 to %d bytes", what,
                        AVF_SRV_NAME_MAX - 1);
    memcpy(dst, json_string_value(n), json_string_length(n) + 1);
    return AVF_OK;
}

static avf_status parse_input(json_t *in, avf_srv_tensor *t, const char *bin, size_t bin_len,
                              size_t *bin_at) {
    if (!json_is_object(in))
        return AVF_FAIL(AVF_ERR_CORRUPT, "every input must be an object");
    AVF_TRY(get_name(in, t->name, "input"));
    json_t *dt = json_object_get(in, "datatype");
    if (!json_is_string(dt))
        return AVF_FAIL(AVF_ERR_CORRUPT, "input '%s': needs a \"datatype\" string", t->name);
    int d = avf_srv_datatype_parse(json_string_value(dt));
    if (d < 0)
        return AVF_FAIL(strcmp(json_string_value(dt), "BYTES") == 0 ? AVF_ERR_UNSUPPORTED
                                                                      : AVF_ERR_INVALID_ARG,
                        "input '%s': datatype '%s' is not supported", t->name,
                        json_string_value(dt));
    t->dtype = (avf_dtype)d;
    int64_t numel;
    AVF_TRY(parse_shape(json_object_get(in, "shape"), t, &numel));
    size_t es = avf_dtype_size(t->dtype);
    t->nbytes = (size_t)numel * es; /* numel <= 2^48, es <= 8: no overflow */
    int64_t bsize;
    AVF_TRY(binary_size(in, t->name, &bsize));
    json_t *data = json_object_get(in, "data");
    if (bsize >= 0) {
        if (data)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': both \"data\" and binary data",
                            t->name);
        if ((uint64_t)bsize != t->nbytes)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "input '%s': binary_data_size %lld, the shape needs %zu bytes",
                            t->name, (long long)bsize, t->nbytes);
        if (t->nbytes > bin_len - *bin_at)
            return AVF_FAIL(AVF_ERR_INVALID_ARG,
                            "input '%s': %zu binary bytes wanted, %zu left in the body",
                            t->name, t->nbytes, bin_len - *bin_at);
        t->data = (void *)(bin + *bin_at);
        t->owned = 0;
        *bin_at += t->nbytes;
        return AVF_OK;
    }
    if (!json_is_array(data))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': needs a \"data\" array or binary data",
                        t->name);
    if (t->dtype == AVF_DTYPE_F16 || t->dtype == AVF_DTYPE_BF16)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "input '%s': %s data must use the binary tensor extension", t->name,
                        avf_srv_datatype_name(t->dtype));
    int64_t count = count_elements(data, 1);
    if (count < 0)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': \"data\" is nested unevenly or deeper "
                        "than %d", t->name, AVF_MAX_DIMS);
    if (count != numel)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "input '%s': %lld elements, the shape needs %lld",
                        t->name, (long long)count, (long long)numel);
    t->data = malloc(t->nbytes ? t->nbytes : 1);
    if (!t->data)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "input '%s': out of memory", t->name);
    t->owned = 1;
    fill_ctx f = {t->dtype, t->data, 0, t->name};
    return fill(&f, data);
}

static avf_status parse_outputs(json_t *outs, avf_srv_request *req) {
    if (!outs)
        return AVF_OK;
    if (!json_is_array(outs) || json_array_size(outs) > AVF_SRV_MAX_IO)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "\"outputs\" must be an array of at most %d",
                        AVF_SRV_MAX_IO);
    size_t i;
    json_t *o;
    json_array_foreach(outs, i, o) {
        avf_srv_output_sel *s = &req->sel[req->n_sel];
        if (!json_is_object(o))
            return AVF_FAIL(AVF_ERR_CORRUPT, "every requested output must be an object");
        AVF_TRY(get_name(o, s->name, "output"));
        s->binary = -1;
        json_t *p = json_object_get(o, "parameters");
        json_t *b = json_is_object(p) ? json_object_get(p, "binary_data") : NULL;
        if (b) {
            if (!json_is_boolean(b))
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "output '%s': binary_data must be a bool",
                                s->name);
            s->binary = json_is_true(b);
        }
        req->n_sel++;
    }
    return AVF_OK;
}

static avf_status parse_params(json_t *params, avf_srv_request *req) {
    if (!params)
        return AVF_OK;
    if (!json_is_object(params))
        return AVF_FAIL(AVF_ERR_CORRUPT, "\"parameters\" must be an object");
    json_t *b = json_object_get(params, "binary_data_output");
    if (b) {
        if (!json_is_boolean(b))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "binary_data_output must be a bool");
        req->binary_default = json_is_true(b);
    }
    json_t *t = json_object_get(params, "timeout");
    if (t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 ||
            json_integer_value(t) > INT64_C(3600000000))
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "timeout: microseconds in [0, 3600 s]");
        req->timeout_us = json_integer_value(t);
    }
    json_t *p = json_object_get(params, "priority");
    if (p) {
        if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > 16)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "priority: an integer in [0, 16]");
        req->priority = (int)json_integer_value(p);
    }
    return AVF_OK;
}

avf_status avf_srv_parse_infer(const char *body, size_t len, size_t json_len,
                               avf_srv_request *req) {
    if (json_len > len)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "Inference-Header-Content-Length %zu exceeds the "
                        "body's %zu bytes", json_len, len);
    if (json_len > AVF_SRV_MAX_JSON_BYTES)
        return AVF_FAIL(AVF_ERR_FULL, "the JSON part of the request is %zu bytes, more than %d: "
                        "send large tensors as binary data", json_len, AVF_SRV_MAX_JSON_BYTES);
    json_error_t err;
    json_t *root = json_loadb(body, json_len, 0, &err);
    if (!root)
        return AVF_FAIL(AVF_ERR_CORRUPT, "malformed JSON: line %d column %d: %s", err.line,
                        err.column, err.text);
    avf_status st = AVF_OK;
    json_t *id = json_object_get(root, "id");
    json_t *inputs = json_object_get(root, "inputs");
    if (!json_is_object(root))
        st = AVF_FAIL(AVF_ERR_CORRUPT, "the request must be a JSON object");
    else if (id && (!json_is_string(id) || json_string_length(id) >= AVF_SRV_NAME_MAX))
        st = AVF_FAIL(AVF_ERR_INVALID_ARG, "\"id\" must be a string under %d bytes",
                      AVF_SRV_NAME_MAX);
    else if (!json_is_array(inputs) || json_array_size(inputs) == 0 ||
             json_array_size(inputs) > AVF_SRV_MAX_IO)
        st = AVF_FAIL(AVF_ERR_INVALID_ARG, "\"inputs\" must be an array of 1 to %d tensors",
                      AVF_SRV_MAX_IO);
    if (st == AVF_OK && id) {
        memcpy(req->id, json_string_value(id), json_string_length(id) + 1);
        req->has_id = 1;
    }
    if (st == AVF_OK)
        st = parse_params(json_object_get(root, "parameters"), req);
    if (st == AVF_OK)
        st = parse_outputs(json_object_get(root, "outputs"), req);
    size_t bin_at = 0;
    for (size_t i = 0; st == AVF_OK && i < json_array_size(inputs); i++) {
        st = parse_input(json_array_get(inputs, i), &req->inputs[i], body + json_len,
                         len - json_len, &bin_at);
        req->n_inputs = (int)i + 1; /* so that unref frees what this one owns */
    }
    if (st == AVF_OK && bin_at != len - json_len)
        st = AVF_FAIL(AVF_ERR_INVALID_ARG, "%zu bytes of binary data are not claimed by any "
                      "input", len - json_len - bin_at);
    json_decref(root);
    return st;
}

/* ---------------------------------------------------------------- encoding */

static json_t *scalar_json(avf_dtype dt, const char *p) {
    switch (dt) {
    case AVF_DTYPE_F32: {
        float v;
        memcpy(&v, p, 4);
        return isfinite(v) ? json_real(v) : json_null();
    }
    case AVF_DTYPE_F64: {
        double v;
        memcpy(&v, p, 8);
        return isfinite(v) ? json_real(v) : json_null();
    }
    case AVF_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return json_integer(v); }
    case AVF_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case AVF_DTYPE_I16: { int16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case AVF_DTYPE_I8: return json_integer(*(const int8_t *)p);
    case AVF_DTYPE_U8: return json_integer(*(const uint8_t *)p);
    case AVF_DTYPE_U16: { uint16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case AVF_DTYPE_U32: { uint32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case AVF_DTYPE_U64: { /* tensor_json checked that it fits an int64 */
        uint64_t v;
        memcpy(&v, p, 8);
        return json_integer((json_int_t)v);
    }
    case AVF_DTYPE_BOOL: return json_boolean(*p != 0);
    default: return NULL;
    }
}

static const avf_srv_tensor *find_output(const avf_srv_request *req, const char *name) {
    for (int i = 0; i < req->n_outputs; i++)
        if (strcmp(req->outputs[i].name, name) == 0)
            return &req->outputs[i];
    return NULL;
}

static json_t *tensor_json(const avf_srv_tensor *t, int binary, avf_status *st) {
    json_t *shape = json_array();
    for (int d = 0; d < t->ndim; d++)
        json_array_append_new(shape, json_integer(t->shape[d]));
    json_t *o = json_pack("{s:s,s:s,s:o}", "name", t->name, "datatype",
                          avf_srv_datatype_name(t->dtype), "shape", shape);
    if (!o) {
        *st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "encoding the response: out of memory");
        return NULL;
    }
    if (binary) {
        json_object_set_new(o, "parameters",
                            json_pack("{s:I}", "binary_data_size", (json_int_t)t->nbytes));
        return o;
    }
    if (t->dtype == AVF_DTYPE_F16 || t->dtype == AVF_DTYPE_BF16) {
        json_decref(o);
        *st = AVF_FAIL(AVF_ERR_INVALID_ARG, "output '%s' is %s: ask for it as binary data",
                       t->name, avf_srv_datatype_name(t->dtype));
        return NULL;
    }
    size_t es = avf_dtype_size(t->dtype), n = es ? t->nbytes / es : 0;
    for (size_t i = 0; t->dtype == AVF_DTYPE_U64 && i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)t->data + i * 8, 8);
        if (v > (uint64_t)INT64_MAX) {
            json_decref(o);
            *st = AVF_FAIL(AVF_ERR_INVALID_ARG, "output '%s' holds a UINT64 above 2^63 - 1, "
                           "which JSON integers here cannot carry: ask for it as binary data",
                           t->name);
            return NULL;
        }
    }
    json_t *data = json_array();
    for (size_t i = 0; data && i < n; i++)
        if (json_array_append_new(data, scalar_json(t->dtype, (const char *)t->data + i * es))) {
            json_decref(data);
            data = NULL;
        }
    if (!data) {
        json_decref(o);
        *st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "encoding the response: out of memory");
        return NULL;
    }
    json_object_set_new(o, "data", data);
    return o;
}

avf_status avf_srv_encode_infer_segs(const avf_srv_request *req, const char *model_name,
                                     const char *version, avf_srv_encoded *out) {
    memset(out, 0, sizeof *out);
    const avf_srv_tensor *list[AVF_SRV_MAX_IO];
    int bin[AVF_SRV_MAX_IO], n = 0, any_f64 = 0;
    if (req->n_sel == 0) {
        for (int i = 0; i < req->n_outputs; i++) {
            list[n] = &req->outputs[i];
            bin[n++] = req->binary_default > 0;
        }
    } else {
        for (int s = 0; s < req->n_sel; s++) {
            list[n] = find_output(req, req->sel[s].name);
            if (!list[n])
                return AVF_FAIL(AVF_ERR_INVALID_ARG, "unknown output '%s'", req->sel[s].name);
            bin[n++] = req->sel[s].binary >= 0 ? req->sel[s].binary : req->binary_default > 0;
        }
    }
    json_t *outs = json_array();
    json_t *root = json_pack("{s:s,s:s,s:o}", "model_name", model_name, "model_version",
                             version, "outputs", outs);
    if (!root)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "encoding the response: out of memory");
    if (req->has_id)
        json_object_set_new(root, "id", json_string(req->id));
    avf_status st = AVF_OK;
    for (int i = 0; i < n && st == AVF_OK; i++) {
        json_t *t = tensor_json(list[i], bin[i], &st);
        if (t)
            json_array_append_new(outs, t);
        any_f64 |= !bin[i] && list[i]->dtype == AVF_DTYPE_F64;
    }
    /* 9 significant digits round-trip every float; doubles need 17. */
    char *js = st == AVF_OK ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(any_f64 ? 17 : 9))
                            : NULL;
    json_decref(root);
    if (st != AVF_OK)
        return st;
    if (!js)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "encoding the response: out of memory");
    out->json = js;
    out->json_len = out->total = strlen(js);
    for (int i = 0; i < n; i++)
        if (bin[i] && list[i]->nbytes) {
            out->seg[out->n_segs] = list[i]->data;
            out->seg_len[out->n_segs++] = list[i]->nbytes;
            out->total += list[i]->nbytes;
        }
    return AVF_OK;
}

avf_status avf_srv_encode_infer(const avf_srv_request *req, const char *model_name,
                                const char *version, char **out, size_t *len,
                                size_t *json_len) {
    *out = NULL;
    avf_srv_encoded e;
    AVF_TRY(avf_srv_encode_infer_segs(req, model_name, version, &e));
    *json_len = e.json_len;
    *len = e.total;
    if (e.n_segs == 0) {
        *out = e.json;
        return AVF_OK;
    }
    char *buf = realloc(e.json, e.total + 1);
    if (!buf) {
        free(e.json);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "encoding the response: out of memory");
    }
    size_t at = e.json_len;
    for (int i = 0; i < e.n_segs; i++) {
        memcpy(buf + at, e.seg[i], e.seg_len[i]);
        at += e.seg_len[i];
    }
    *out = buf;
    return AVF_OK;
}
