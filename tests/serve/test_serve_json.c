/* KServe v2 bodies: JSON and binary tensors in, outputs out; every bad input
 * is a status, never a crash or an unbounded allocation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "serve/infer_json.h"
#include "serve/request.h"

static avf_status parse(const char *json, avf_srv_request **out) {
    *out = avf_srv_request_new();
    assert_non_null(*out);
    return avf_srv_parse_infer(json, strlen(json), strlen(json), *out);
}

static void expect_fail(const char *json, avf_status want, const char *needle) {
    avf_srv_request *r;
    avf_status st = parse(json, &r);
    if (st != want)
        print_message("body %s: got %s (%s)\n", json, avf_status_name(st), avf_last_error());
    assert_int_equal(st, want);
    if (needle && !strstr(avf_last_error(), needle)) {
        print_message("message '%s' lacks '%s'\n", avf_last_error(), needle);
        fail();
    }
    avf_srv_request_unref(r);
}

static void test_datatypes(void **state) {
    assert_string_equal(avf_srv_datatype_name(AVF_DTYPE_F32), "FP32");
    assert_string_equal(avf_srv_datatype_name(AVF_DTYPE_I64), "INT64");
    assert_string_equal(avf_srv_datatype_name(AVF_DTYPE_BOOL), "BOOL");
    assert_int_equal(avf_srv_datatype_parse("UINT8"), AVF_DTYPE_U8);
    assert_int_equal(avf_srv_datatype_parse("BF16"), AVF_DTYPE_BF16);
    assert_int_equal(avf_srv_datatype_parse("UINT16"), AVF_DTYPE_U16);
    assert_int_equal(avf_srv_datatype_parse("UINT32"), AVF_DTYPE_U32);
    assert_string_equal(avf_srv_datatype_name(AVF_DTYPE_U64), "UINT64");
    assert_int_equal(avf_srv_datatype_parse("BYTES"), -1);
    assert_int_equal(avf_srv_datatype_parse("fp32"), -1);
}

static void test_parse_nested_and_flat(void **state) {
    avf_srv_request *r;
    assert_int_equal(parse("{\"id\":\"r7\",\"parameters\":{\"binary_data_output\":true,"
                           "\"timeout\":5000},\"inputs\":["
                           "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2,2],"
                           "\"data\":[[1,2.5],[3,-4]]},"
                           "{\"name\":\"b\",\"datatype\":\"INT8\",\"shape\":[3],\"data\":[-128,0,127]},"
                           "{\"name\":\"c\",\"datatype\":\"BOOL\",\"shape\":[1,2],\"data\":[true,false]},"
                           "{\"name\":\"d\",\"datatype\":\"INT64\",\"shape\":[],\"data\":[9007199254740993]}],"
                           "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":false}}]}",
                           &r),
                     AVF_OK);
    assert_string_equal(r->id, "r7");
    assert_int_equal(r->binary_default, 1);
    assert_int_equal(r->timeout_us, 5000);
    assert_int_equal(r->n_inputs, 4);
    const float *a = r->inputs[0].data;
    assert_true(a[0] == 1.0f && a[1] == 2.5f && a[2] == 3.0f && a[3] == -4.0f);
    const int8_t *b = r->inputs[1].data;
    assert_true(b[0] == -128 && b[2] == 127);
    const uint8_t *c = r->inputs[2].data;
    assert_true(c[0] == 1 && c[1] == 0);
    assert_int_equal(r->inputs[3].ndim, 0);
    assert_true(*(const int64_t *)r->inputs[3].data == INT64_C(9007199254740993));
    assert_int_equal(r->n_sel, 1);
    assert_string_equal(r->sel[0].name, "y");
    assert_int_equal(r->sel[0].binary, 0);
    avf_srv_request_unref(r);
}

static void test_parse_bad(void **state) {
    expect_fail("{\"inputs\": [", AVF_ERR_CORRUPT, "malformed JSON");
    expect_fail("[1,2]", AVF_ERR_CORRUPT, NULL);
    expect_fail("{\"inputs\": []}", AVF_ERR_INVALID_ARG, "inputs");
    expect_fail("{\"inputs\":[{\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
                AVF_ERR_CORRUPT, "name");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP99\",\"shape\":[1],\"data\":[1]}]}",
                AVF_ERR_INVALID_ARG, "FP99");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\"]}]}",
                AVF_ERR_UNSUPPORTED, "BYTES");
    /* data does not match the shape */
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2,3],\"data\":[1,2]}]}",
                AVF_ERR_INVALID_ARG, "2 elements, the shape needs 6");
    /* huge shapes are refused before anything is allocated */
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1099511627776,"
                "1099511627776],\"data\":[1]}]}", AVF_ERR_INVALID_ARG, "too many elements");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                "\"data\":[1]}]}", AVF_ERR_INVALID_ARG, "dims");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}]}",
                AVF_ERR_INVALID_ARG, "shape[0]");
    /* uneven nesting, too deep nesting */
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[[1],2]}]}",
                AVF_ERR_INVALID_ARG, "nested");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],"
                "\"data\":[[[[[[[[[[1]]]]]]]]]]}]}", AVF_ERR_INVALID_ARG, "nested");
    /* element types and ranges */
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[128]}]}",
                AVF_ERR_INVALID_ARG, "out of range");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[-1]}]}",
                AVF_ERR_INVALID_ARG, "out of range");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT16\",\"shape\":[1],\"data\":[65536]}]}",
                AVF_ERR_INVALID_ARG, "out of range");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT32\",\"shape\":[1],\"data\":[-1]}]}",
                AVF_ERR_INVALID_ARG, "out of range");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT64\",\"shape\":[1],\"data\":[-1]}]}",
                AVF_ERR_INVALID_ARG, "out of range");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[1.5]}]}",
                AVF_ERR_INVALID_ARG, "integer");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[\"1\"]}]}",
                AVF_ERR_INVALID_ARG, "number");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1e300]}]}",
                AVF_ERR_INVALID_ARG, "out of range for FP32");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[1]}]}",
                AVF_ERR_INVALID_ARG, "true/false");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[1]}]}",
                AVF_ERR_INVALID_ARG, "binary");
    expect_fail("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1]}]}",
                AVF_ERR_INVALID_ARG, "data");
    expect_fail("{\"id\":5,\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
                AVF_ERR_INVALID_ARG, "id");
    expect_fail("{\"parameters\":{\"timeout\":-3},\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\","
                "\"shape\":[1],\"data\":[1]}]}", AVF_ERR_INVALID_ARG, "timeout");
    /* a 300-byte name */
    char big[600];
    snprintf(big, sizeof big, "{\"inputs\":[{\"name\":\"%0300d\",\"datatype\":\"FP32\",\"shape\":[1],"
             "\"data\":[1]}]}", 0);
    expect_fail(big, AVF_ERR_INVALID_ARG, "name");
}

static void test_binary(void **state) {
    const char *js = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2],"
                     "\"parameters\":{\"binary_data_size\":8}},"
                     "{\"name\":\"b\",\"datatype\":\"INT16\",\"shape\":[1],\"data\":[7]},"
                     "{\"name\":\"c\",\"datatype\":\"UINT8\",\"shape\":[3],"
                     "\"parameters\":{\"binary_data_size\":3}}]}";
    size_t jl = strlen(js);
    char body[512];
    memcpy(body, js, jl);
    float f[2] = {1.5f, -2.0f};
    memcpy(body + jl, f, 8);
    memcpy(body + jl + 8, "\x01\x02\x03", 3);
    avf_srv_request *r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(body, jl + 11, jl, r), AVF_OK);
    assert_ptr_equal(r->inputs[0].data, body + jl); /* in place, no copy */
    assert_int_equal(r->inputs[0].owned, 0);
    float got[2]; /* binary data sits at any offset of the body: read it unaligned */
    memcpy(got, r->inputs[0].data, sizeof got);
    assert_true(got[0] == 1.5f && got[1] == -2.0f);
    assert_int_equal(*(const int16_t *)r->inputs[1].data, 7); /* JSON data: malloc'd */
    assert_memory_equal(r->inputs[2].data, "\x01\x02\x03", 3);
    avf_srv_request_unref(r);

    /* too few bytes, too many bytes, header length beyond the body */
    r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(body, jl + 10, jl, r), AVF_ERR_INVALID_ARG);
    avf_srv_request_unref(r);
    r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(body, jl + 12, jl, r), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "not claimed"));
    avf_srv_request_unref(r);
    r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(body, jl, jl + 1, r), AVF_ERR_INVALID_ARG);
    avf_srv_request_unref(r);

    /* binary_data_size that disagrees with the shape */
    const char *bad = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[3],"
                      "\"parameters\":{\"binary_data_size\":8}}]}";
    memcpy(body, bad, strlen(bad));
    r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(body, strlen(bad) + 8, strlen(bad), r),
                     AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "binary_data_size 8"));
    avf_srv_request_unref(r);
}

static void test_json_part_bounded(void **state) {
    /* a JSON part over 16 MiB is refused before jansson parses it */
    size_t n = (size_t)AVF_SRV_MAX_JSON_BYTES + 16;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "{\"inputs\":[", 11);
    avf_srv_request *r = avf_srv_request_new();
    assert_int_equal(avf_srv_parse_infer(big, n, n, r), AVF_ERR_FULL);
    assert_non_null(strstr(avf_last_error(), "binary"));
    avf_srv_request_unref(r);
    free(big);
}

static void set_output(avf_srv_tensor *t, const char *name, avf_dtype dt, int64_t n,
                       const void *data) {
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = 2;
    t->shape[0] = 1;
    t->shape[1] = n;
    t->nbytes = (size_t)n * avf_dtype_size(dt);
    t->data = malloc(t->nbytes);
    memcpy(t->data, data, t->nbytes);
    t->owned = 1;
}

static void test_encode(void **state) {
    avf_srv_request *r = avf_srv_request_new();
    snprintf(r->id, sizeof r->id, "abc");
    r->has_id = 1;
    float y[3] = {0.1f, NAN, -3.0f};
    int64_t z[2] = {-5, INT64_C(1) << 40};
    set_output(&r->outputs[0], "y", AVF_DTYPE_F32, 3, y);
    set_output(&r->outputs[1], "z", AVF_DTYPE_I64, 2, z);
    r->n_outputs = 2;
    char *body;
    size_t len, jl;
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_OK);
    assert_int_equal(len, jl);
    assert_non_null(strstr(body, "\"id\":\"abc\""));
    assert_non_null(strstr(body, "\"model_name\":\"m\""));
    assert_non_null(strstr(body, "[0.100000001,null,-3.0]"));
    assert_non_null(strstr(body, "[-5,1099511627776]"));
    free(body);

    /* binary for z only: JSON, then z's 16 bytes */
    r->n_sel = 2;
    snprintf(r->sel[0].name, sizeof r->sel[0].name, "z");
    r->sel[0].binary = 1;
    snprintf(r->sel[1].name, sizeof r->sel[1].name, "y");
    r->sel[1].binary = -1; /* request default: JSON */
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_OK);
    assert_int_equal(len, jl + 16);
    assert_memory_equal(body + jl, z, 16);
    assert_non_null(strstr(body, "\"binary_data_size\":16"));
    free(body);

    /* the same as segments: the JSON header, then z's bytes where they are */
    avf_srv_encoded enc;
    assert_int_equal(avf_srv_encode_infer_segs(r, "m", "1", &enc), AVF_OK);
    assert_int_equal(enc.json_len, jl);
    assert_int_equal(enc.n_segs, 1);
    assert_ptr_equal(enc.seg[0], r->outputs[1].data); /* no copy */
    assert_int_equal(enc.seg_len[0], 16);
    assert_int_equal(enc.total, jl + 16);
    free(enc.json);

    /* asking for an output the model lacks */
    snprintf(r->sel[1].name, sizeof r->sel[1].name, "nope");
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_ERR_INVALID_ARG);
    assert_null(body);
    assert_int_equal(avf_srv_encode_infer_segs(r, "m", "1", &enc), AVF_ERR_INVALID_ARG);
    assert_null(enc.json);
    avf_srv_request_unref(r);

    /* UINT64 as JSON up to 2^63 - 1; above, only as binary */
    r = avf_srv_request_new();
    uint64_t u[2] = {7, UINT64_C(1) << 63};
    set_output(&r->outputs[0], "u", AVF_DTYPE_U64, 1, u);
    r->n_outputs = 1;
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_OK);
    assert_non_null(strstr(body, "\"datatype\":\"UINT64\""));
    assert_non_null(strstr(body, "[7]"));
    free(body);
    memcpy(r->outputs[0].data, &u[1], 8);
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "binary"));
    r->binary_default = 1;
    assert_int_equal(avf_srv_encode_infer(r, "m", "1", &body, &len, &jl), AVF_OK);
    assert_memory_equal(body + jl, &u[1], 8);
    free(body);
    avf_srv_request_unref(r);

    char *e = avf_srv_error_json("bad \"thing\"");
    assert_string_equal(e, "{\"error\":\"bad \\\"thing\\\"\"}");
    free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datatypes),
        cmocka_unit_test(test_parse_nested_and_flat),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_json_part_bounded),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
