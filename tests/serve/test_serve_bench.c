/* `avflow bench` pieces: statistics, the Prometheus scanner, Poisson gaps,
 * URL and --input parsing, and the KServe infer body from model metadata. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "serve/bench_body.h"
#include "serve/bench_stats.h"
#include "serve/http_client.h"

static void stats_summary(void **state) {
    (void)state;
    avf_bench_stats a, b;
    avf_bench_stats_init(&a);
    avf_bench_stats_init(&b);
    for (int i = 1; i <= 100; i++)
        avf_bench_stats_add(i % 2 ? &a : &b, 200, i * 10.0);
    avf_bench_stats_add(&a, 503, 1.0);
    avf_bench_stats_add(&a, 0, 1.0);
    avf_bench_stats_add(&b, 429, 1.0);
    avf_bench_stats_add(&b, 777, 1.0); /* out of range: no response */
    avf_bench_stats_merge(&a, &b);
    avf_bench_summary s;
    avf_bench_summarize(&a, 2.0, &s);
    assert_int_equal(s.requests, 104);
    assert_int_equal(s.ok, 100);
    assert_int_equal(s.errors, 4);
    assert_int_equal(a.by_status[0], 2);
    assert_int_equal(a.by_status[503], 1);
    assert_int_equal(a.by_status[429], 1);
    assert_float_equal(s.throughput_rps, 50.0, 1e-9);
    assert_float_equal(s.min_us, 10, 1e-9);
    assert_float_equal(s.max_us, 1000, 1e-9);
    assert_float_equal(s.mean_us, 505, 1e-9);
    assert_float_equal(s.p50_us, 505, 1e-9);   /* between 500 and 510 */
    assert_float_equal(s.p90_us, 901, 1e-9);   /* rank 89.1 */
    assert_float_equal(s.p99_us, 990.1, 1e-9);
    avf_bench_stats_free(&a);
    avf_bench_stats_free(&b);
    /* Nothing succeeded: zeros, not garbage. */
    avf_bench_stats_init(&a);
    avf_bench_stats_add(&a, 500, 5);
    avf_bench_summarize(&a, 1.0, &s);
    assert_int_equal(s.ok, 0);
    assert_float_equal(s.p99_us, 0, 0);
    avf_bench_stats_free(&a);
}

static void prom_scan(void **state) {
    (void)state;
    const char *t = "# HELP nv_gpu_utilization x\n"
                    "# TYPE nv_gpu_utilization gauge\n"
                    "nv_gpu_utilization{gpu_uuid=\"GPU-a\"} 0.25\n"
                    "nv_gpu_utilization{gpu_uuid=\"GPU-b\"} 0.75\n"
                    "nv_gpu_utilization_extra{gpu_uuid=\"GPU-c\"} 9\n"
                    "nv_gpu_utilization{gpu_uuid=\"GPU-d\"} garbage\n"
                    "process_cpu_seconds_total 12.5\n"
                    "avflow_queue_depth{model=\"m\",version=\"1\"} 3";
    double sum, max;
    assert_int_equal(avf_prom_scan(t, strlen(t), "nv_gpu_utilization", NULL, &sum, &max), 2);
    assert_float_equal(sum, 1.0, 1e-12);
    assert_float_equal(max, 0.75, 1e-12);
    assert_int_equal(avf_prom_scan(t, strlen(t), "nv_gpu_utilization", "GPU-b", &sum, &max), 1);
    assert_float_equal(sum, 0.75, 1e-12);
    assert_int_equal(avf_prom_scan(t, strlen(t), "process_cpu_seconds_total", NULL, &sum, &max),
                     1);
    assert_float_equal(sum, 12.5, 1e-12);
    /* the last line has no newline */
    assert_int_equal(avf_prom_scan(t, strlen(t), "avflow_queue_depth", "model=\"m\"", &sum, &max),
                     1);
    assert_float_equal(sum, 3, 0);
    assert_int_equal(avf_prom_scan(t, strlen(t), "absent", NULL, &sum, &max), 0);
    assert_float_equal(sum, 0, 0);
}

/* The per-device split avflow bench reads: samples by their device label. */
static void prom_by_label(void **state) {
    (void)state;
    const char *t = "# TYPE avflow_device_exec_count counter\n"
                    "avflow_device_exec_count{device=\"cuda:0\"} 10\n"
                    "avflow_device_exec_count{device=\"cuda:1\"} 12\n"
                    "avflow_device_exec_count_x{device=\"cuda:2\"} 1\n"
                    "avflow_device_exec_count{xdevice=\"cuda:3\"} 1\n"
                    "avflow_device_exec_count{model=\"m\",device=\"cpu:1\"} 7\n"
                    "avflow_device_exec_count{device=\"bad\"} nan-ish\n"
                    "avflow_device_exec_count 5";
    char keys[4][32];
    double v[4];
    assert_int_equal(avf_prom_by_label(t, strlen(t), "avflow_device_exec_count", "device", keys,
                                       v, 4), 3);
    assert_string_equal(keys[0], "cuda:0");
    assert_string_equal(keys[1], "cuda:1");
    assert_float_equal(v[1], 12, 0);
    assert_string_equal(keys[2], "cpu:1");
    assert_int_equal(avf_prom_by_label(t, strlen(t), "avflow_device_exec_count", "device", keys,
                                       v, 1), 1);
}

static void poisson(void **state) {
    (void)state;
    /* The mean gap of rate 100/s over a fine uniform grid is 1/100 s. */
    double sum = 0;
    int n = 100000;
    for (int i = 1; i <= n; i++)
        sum += avf_bench_poisson_gap(100, (double)i / n);
    assert_float_equal(sum / n, 0.01, 0.0002);
    assert_float_equal(avf_bench_poisson_gap(10, 1.0), 0, 0);
    assert_true(isfinite(avf_bench_poisson_gap(10, 0.0))); /* clamped, never infinite */
}

static void url_and_inputs(void **state) {
    (void)state;
    char host[64], prefix[64];
    int port;
    assert_int_equal(avf_http_parse_url("http://127.0.0.1:8123", host, sizeof host, &port,
                                        prefix, sizeof prefix), AVF_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8123);
    assert_string_equal(prefix, "");
    assert_int_equal(avf_http_parse_url("localhost/api/", host, sizeof host, &port, prefix,
                                        sizeof prefix), AVF_OK);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 80);
    assert_string_equal(prefix, "/api");
    assert_int_equal(avf_http_parse_url("https://x:1", host, sizeof host, &port, prefix,
                                        sizeof prefix), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_http_parse_url("http://x:0", host, sizeof host, &port, prefix,
                                        sizeof prefix), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_http_parse_url("http://:80", host, sizeof host, &port, prefix,
                                        sizeof prefix), AVF_ERR_INVALID_ARG);
    avf_bench_input in;
    assert_int_equal(avf_bench_input_parse("x=2x3x48", &in), AVF_OK);
    assert_string_equal(in.name, "x");
    assert_int_equal(in.ndim, 3);
    assert_int_equal(in.shape[2], 48);
    assert_int_equal(avf_bench_input_parse("img=/data/a.npy", &in), AVF_OK);
    assert_string_equal(in.npy, "/data/a.npy");
    assert_int_equal(avf_bench_input_parse("x=0x3", &in), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_bench_input_parse("=2", &in), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_bench_input_parse("x=2y3", &in), AVF_ERR_INVALID_ARG);
    assert_int_equal(avf_bench_input_parse("x=1x1x1x1x1x1x1x1x1", &in), AVF_ERR_INVALID_ARG);
}

static const char *META =
    "{\"name\":\"tiny\",\"versions\":[\"1\"],\"platform\":\"onnx\",\"inputs\":["
    "{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[-1,4]},"
    "{\"name\":\"INPUT1\",\"datatype\":\"INT64\",\"shape\":[-1,4]}],\"outputs\":[]}";

static void infer_body(void **state) {
    (void)state;
    char *body;
    size_t len, json_len;
    assert_int_equal(avf_bench_infer_body(META, strlen(META), NULL, 0, 3, 1, &body, &len,
                                          &json_len), AVF_OK);
    assert_int_equal(len - json_len, 3 * 4 * 4 + 3 * 4 * 8);
    char *head = strndup(body, json_len);
    assert_non_null(strstr(head, "\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[3,4]"));
    assert_non_null(strstr(head, "\"binary_data_size\":48"));
    assert_non_null(strstr(head, "\"binary_data_size\":96"));
    assert_non_null(strstr(head, "\"binary_data_output\":true"));
    float x[12]; /* copied out: the tensors follow the JSON unaligned */
    int64_t k[12];
    memcpy(x, body + json_len, sizeof x);
    memcpy(k, body + json_len + 48, sizeof k);
    for (int i = 0; i < 12; i++)
        assert_true(x[i] >= -1 && x[i] <= 1);
    for (int i = 0; i < 12; i++)
        assert_true(k[i] >= 0 && k[i] < 10);
    free(head);
    free(body);
    /* A given shape overrides the metadata's. */
    avf_bench_input g;
    assert_int_equal(avf_bench_input_parse("INPUT1=1x4", &g), AVF_OK);
    assert_int_equal(avf_bench_infer_body(META, strlen(META), &g, 1, 2, 1, &body, &len,
                                          &json_len), AVF_OK);
    assert_int_equal(len - json_len, 2 * 4 * 4 + 1 * 4 * 8);
    free(body);
    /* An input the model lacks; a dynamic dim without a shape; bad metadata. */
    assert_int_equal(avf_bench_input_parse("NOPE=1x4", &g), AVF_OK);
    assert_int_equal(avf_bench_infer_body(META, strlen(META), &g, 1, 1, 1, &body, &len,
                                          &json_len), AVF_ERR_INVALID_ARG);
    const char *dyn = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1,-1]}]}";
    assert_int_equal(avf_bench_infer_body(dyn, strlen(dyn), NULL, 0, 1, 1, &body, &len,
                                          &json_len), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "dynamic dim 1"));
    assert_int_equal(avf_bench_infer_body("[1]", 3, NULL, 0, 1, 1, &body, &len, &json_len),
                     AVF_ERR_CORRUPT);
    assert_null(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stats_summary), cmocka_unit_test(prom_scan),
        cmocka_unit_test(prom_by_label),
        cmocka_unit_test(poisson),       cmocka_unit_test(url_and_inputs),
        cmocka_unit_test(infer_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
