/* config.json and the server options: defaults, bounds, unknown keys; the
 * status -> HTTP mapping; the Prometheus rendering of the metrics. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test_util.h"

#include "serve/buf.h"
#include "serve/config.h"
#include "serve/metrics.h"
#include "serve/request.h"

static avf_status parse_cfg(const char *text, avf_srv_model_config *c) {
    avf_srv_config_default(c);
    return avf_srv_config_parse(text, strlen(text), c);
}

static void test_model_config(void **state) {
    avf_srv_model_config c;
    assert_int_equal(parse_cfg("{}", &c), AVF_OK);
    assert_int_equal(c.max_batch_size, -1); /* decided by autofill from the model */
    assert_int_equal(c.instance_count, 1);
    assert_int_equal(c.queue_capacity, 1024);
    assert_int_equal(parse_cfg("{\"max_batch_size\": 16, \"max_queue_delay_us\": 2500, "
                               "\"preferred_batch_sizes\": [4, 8, 16], \"instance_count\": 3, "
                               "\"queue_capacity\": 64, \"priority_levels\": 2, "
                               "\"timeout_us\": 100000, \"pinned\": true}", &c),
                     AVF_OK);
    assert_int_equal(c.max_batch_size, 16);
    assert_int_equal(c.max_queue_delay_us, 2500);
    assert_int_equal(c.n_preferred, 3);
    assert_int_equal(c.preferred[2], 16);
    assert_int_equal(c.instance_count, 3);
    assert_int_equal(c.queue_capacity, 64);
    assert_int_equal(c.priority_levels, 2);
    assert_int_equal(c.timeout_us, 100000);
    assert_int_equal(c.pinned, 1);
}

static void test_model_config_bad(void **state) {
    static const struct {
        const char *text;
        avf_status st;
        const char *needle;
    } bad[] = {
        {"{\"max_batch_size\": 8,", AVF_ERR_CORRUPT, "config"},
        {"[]", AVF_ERR_CORRUPT, "object"},
        {"{\"max_batch\": 8}", AVF_ERR_INVALID_ARG, "unknown key \"max_batch\""},
        {"{\"max_batch_size\": 100000}", AVF_ERR_INVALID_ARG, "max_batch_size"},
        {"{\"max_batch_size\": -1}", AVF_ERR_INVALID_ARG, "max_batch_size"},
        {"{\"max_batch_size\": \"8\"}", AVF_ERR_INVALID_ARG, "integer"},
        {"{\"instance_count\": 0}", AVF_ERR_INVALID_ARG, "instance_count"},
        {"{\"queue_capacity\": 10000000}", AVF_ERR_INVALID_ARG, "queue_capacity"},
        {"{\"max_queue_delay_us\": 99999999999}", AVF_ERR_INVALID_ARG, "max_queue_delay_us"},
        {"{\"pinned\": 1}", AVF_ERR_INVALID_ARG, "pinned"},
        {"{\"preferred_batch_sizes\": [0]}", AVF_ERR_INVALID_ARG, "preferred"},
        {"{\"preferred_batch_sizes\": 4}", AVF_ERR_INVALID_ARG, "preferred"},
        {"{\"max_batch_size\": 4, \"preferred_batch_sizes\": [8]}", AVF_ERR_INVALID_ARG,
         "exceeds"},
        {"{\"max_batch_size\": 4, \"max_batch_size\": 8}", AVF_ERR_CORRUPT, "duplicate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        avf_srv_model_config c;
        avf_status st = parse_cfg(bad[i].text, &c);
        if (st != bad[i].st || !strstr(avf_last_error(), bad[i].needle)) {
            print_message("%s: %s '%s'\n", bad[i].text, avf_status_name(st), avf_last_error());
            fail();
        }
        /* a failed parse leaves the defaults */
        assert_int_equal(c.max_batch_size, -1);
    }
    /* a huge file is refused before parsing */
    size_t n = (2u << 20);
    char *big = malloc(n);
    memset(big, ' ', n);
    avf_srv_model_config c;
    avf_srv_config_default(&c);
    assert_int_equal(avf_srv_config_parse(big, n, &c), AVF_ERR_INVALID_ARG);
    free(big);
    assert_int_equal(avf_srv_config_load("/nonexistent/config.json", &c), AVF_ERR_NOT_FOUND);
}

/* Priority lanes: the default level is the middle one unless set, and must
 * lie within priority_levels. Residency options parse and are bounded. */
static void test_priorities_and_residency_options(void **state) {
    avf_srv_model_config c;
    assert_int_equal(parse_cfg("{}", &c), AVF_OK);
    assert_int_equal(c.priority_levels, 1);
    assert_int_equal(c.default_priority_level, 1);
    avf_srv_config_default(&c); /* without config.json: unset until autofill */
    assert_int_equal(c.default_priority_level, 0);
    assert_int_equal(parse_cfg("{\"priority_levels\": 4}", &c), AVF_OK);
    assert_int_equal(c.default_priority_level, 2);
    assert_int_equal(parse_cfg("{\"priority_levels\": 5}", &c), AVF_OK);
    assert_int_equal(c.default_priority_level, 3);
    assert_int_equal(parse_cfg("{\"priority_levels\": 4, \"default_priority_level\": 4}", &c),
                     AVF_OK);
    assert_int_equal(c.default_priority_level, 4);
    assert_int_equal(parse_cfg("{\"priority_levels\": 2, \"default_priority_level\": 3}", &c),
                     AVF_ERR_INVALID_ARG);
    avf_srv_options o;
    avf_server_options_default(&o);
    const char *t = "{\"model_repository\": \"/m\", \"vram_budget_bytes\": 1000000, "
                    "\"pool_cap_bytes\": 2097152, \"default_timeout_us\": 5000, "
                    "\"pin\": [\"a\", \"b.c\"]}";
    assert_int_equal(avf_srv_options_parse(t, strlen(t), &o), AVF_OK);
    assert_int_equal(o.vram_budget_bytes, 1000000);
    assert_int_equal(o.pool_cap_bytes, 2097152);
    assert_int_equal(o.default_timeout_us, 5000);
    assert_int_equal(o.n_pins, 2);
    assert_string_equal(o.pins[1], "b.c");
    assert_int_equal(avf_srv_options_check(&o), AVF_OK);
    const char *bad[] = {"{\"pin\": \"a\"}", "{\"pin\": [1]}", "{\"vram_budget_bytes\": -1}",
                         "{\"default_timeout_us\": 4000000000}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(avf_srv_options_parse(bad[i], strlen(bad[i]), &o), AVF_ERR_INVALID_ARG);
}

static void test_server_options(void **state) {
    avf_srv_options o;
    avf_server_options_default(&o);
    assert_string_equal(o.host, "127.0.0.1"); /* loopback unless asked */
    assert_int_equal(o.port, 8000);
    assert_int_equal(avf_srv_options_check(&o), AVF_ERR_INVALID_ARG); /* no repository */
    const char *t = "{\"model_repository\": \"/m\", \"port\": 9000, \"device\": \"cuda:1\", "
                    "\"api_key\": \"k\", \"threads\": 8, \"max_body_bytes\": 4096}";
    assert_int_equal(avf_srv_options_parse(t, strlen(t), &o), AVF_OK);
    assert_string_equal(o.model_repository, "/m");
    assert_int_equal(o.port, 9000);
    assert_string_equal(o.device, "cuda:1");
    assert_string_equal(o.api_key, "k");
    assert_int_equal(o.threads, 8);
    assert_int_equal(o.max_body_bytes, 4096);
    assert_int_equal(avf_srv_options_check(&o), AVF_OK);
    const char *bad[] = {"{\"port\": 70000}", "{\"threads\": 0}", "{\"max_body_bytes\": 10}",
                         "{\"hots\": \"x\"}", "{\"host\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(avf_srv_options_parse(bad[i], strlen(bad[i]), &o), AVF_ERR_INVALID_ARG);
        assert_int_equal(o.port, 9000); /* unchanged on failure */
    }
}

/* Several devices: the model's "devices" pin, the server's "devices" list
 * and per-device budgets (file and flag forms). */
static void test_device_options(void **state) {
    avf_srv_model_config c;
    avf_srv_config_default(&c);
    const char *t = "{\"devices\": [\"cuda:1\", \"cpu:2\"]}";
    assert_int_equal(avf_srv_config_parse(t, strlen(t), &c), AVF_OK);
    assert_int_equal(c.n_devices, 2);
    assert_string_equal(c.devices[1], "cpu:2");
    const char *bad[] = {"{\"devices\": []}", "{\"devices\": \"cuda:0\"}",
                         "{\"devices\": [1]}", "{\"devices\": [\"\"]}",
                         "{\"devices\": [\"0123456789012345678901234567890123\"]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(avf_srv_config_parse(bad[i], strlen(bad[i]), &c), AVF_ERR_INVALID_ARG);

    avf_srv_options o;
    avf_server_options_default(&o);
    const char *f = "{\"devices\": \"cpu:0,cpu:1\", \"vram_budget_bytes\": [100, 200]}";
    assert_int_equal(avf_srv_options_parse(f, strlen(f), &o), AVF_OK);
    assert_string_equal(o.devices, "cpu:0,cpu:1");
    assert_int_equal(o.n_device_budgets, 2);
    assert_int_equal(o.device_budget_bytes[1], 200);
    const char *g = "{\"vram_budget_bytes\": [100, -1]}";
    assert_int_equal(avf_srv_options_parse(g, strlen(g), &o), AVF_ERR_INVALID_ARG);

    avf_server_options_default(&o);
    assert_int_equal(avf_server_options_set_budgets(&o, "1000"), AVF_OK);
    assert_int_equal(o.vram_budget_bytes, 1000);
    assert_int_equal(o.n_device_budgets, 0);
    assert_int_equal(avf_server_options_set_budgets(&o, "1,0,3"), AVF_OK);
    assert_int_equal(o.n_device_budgets, 3);
    assert_int_equal(o.device_budget_bytes[2], 3);
    const char *worse[] = {"", ",", "1,", "1,,2", "x", "1 2", "-1", "2000000000000000000"};
    for (size_t i = 0; i < sizeof worse / sizeof worse[0]; i++)
        assert_int_equal(avf_server_options_set_budgets(&o, worse[i]), AVF_ERR_INVALID_ARG);
    assert_int_equal(o.n_device_budgets, 3); /* untouched by a bad list */
}

static void test_http_mapping(void **state) {
    assert_int_equal(avf_srv_http_status(AVF_ERR_INVALID_ARG), 400);
    assert_int_equal(avf_srv_http_status(AVF_ERR_CORRUPT), 400);
    assert_int_equal(avf_srv_http_status(AVF_ERR_NOT_FOUND), 404);
    assert_int_equal(avf_srv_http_status(AVF_ERR_FULL), 429);
    assert_int_equal(avf_srv_http_status(AVF_ERR_OUT_OF_MEMORY), 503);
    assert_int_equal(avf_srv_http_status(AVF_ERR_CLOSED), 503);
    assert_int_equal(avf_srv_http_status(AVF_ERR_TIMEOUT), 504);
    assert_int_equal(avf_srv_http_status(AVF_ERR_DEVICE), 500);
    assert_string_equal(avf_srv_strip_location("infer_json.c:123: bad input"), "bad input");
    assert_string_equal(avf_srv_strip_location("no location: here"), "no location: here");
    assert_string_equal(avf_srv_strip_location("x:1:2"), "x:1:2");
}

static void test_metrics_render(void **state) {
    avf_srv_metrics m;
    avf_srv_metrics_init(&m);
    avf_srv_request *r = avf_srv_request_new();
    r->batch = 3;
    r->t_arrive_ns = 1000000;
    r->t_enqueue_ns = 1000000;
    r->t_start_ns = 3000000;
    r->t_end_ns = 4000000;
    avf_srv_metrics_request(&m, r, 5000000);  /* 4 ms in all, 2 queued, 1 compute */
    r->status = AVF_ERR_INVALID_ARG;
    avf_srv_metrics_request(&m, r, 5000000);
    avf_srv_metrics_failure(&m);
    avf_srv_metrics_exec(&m, 4, 1500000); /* 1.5 ms */
    avf_srv_request_unref(r);
    avf_srv_metrics_row row = {.model = "m1"};
    snprintf(row.version, sizeof row.version, "2");
    avf_srv_metrics_snapshot(&m, &row.d);
    avf_srv_buf b = {0};
    avf_srv_metrics_render(&b, &row, 1);
    size_t len;
    char *text = avf_srv_buf_take(&b, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE nv_inference_request_success counter\n"));
    assert_non_null(strstr(text, "nv_inference_request_success{model=\"m1\",version=\"2\"} 1\n"));
    assert_non_null(strstr(text, "nv_inference_request_failure{model=\"m1\",version=\"2\"} 2\n"));
    assert_non_null(strstr(text, "nv_inference_count{model=\"m1\",version=\"2\"} 3\n"));
    assert_non_null(strstr(text, "nv_inference_exec_count{model=\"m1\",version=\"2\"} 1\n"));
    assert_non_null(strstr(text, "nv_inference_queue_duration_us{model=\"m1\",version=\"2\"} 4000\n"));
    assert_non_null(strstr(text, "nv_inference_compute_infer_duration_us{model=\"m1\",version=\"2\"} 2000\n"));
    assert_non_null(strstr(text, "avflow_batch_size_bucket{model=\"m1\",version=\"2\",le=\"2\"} 0\n"));
    assert_non_null(strstr(text, "avflow_batch_size_bucket{model=\"m1\",version=\"2\",le=\"4\"} 1\n"));
    assert_non_null(strstr(text, "avflow_request_duration_us_bucket{model=\"m1\",version=\"2\",le=\"5000\"} 2\n"));
    assert_non_null(strstr(text, "avflow_request_duration_us_count{model=\"m1\",version=\"2\"} 2\n"));
    free(text);

    /* Triton's statistics extension: the success's own times in ns, the two
     * failures (one timed 4 ms, one refused before its queue), the batch of
     * 4 that ran 1.5 ms */
    avf_srv_metrics_stats_json(&b, &row, 1);
    text = avf_srv_buf_take(&b, &len);
    assert_non_null(text);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    json_t *ms = json_array_get(json_object_get(j, "model_stats"), 0);
    assert_string_equal(json_string_value(json_object_get(ms, "name")), "m1");
    assert_string_equal(json_string_value(json_object_get(ms, "version")), "2");
    assert_int_equal(json_integer_value(json_object_get(ms, "inference_count")), 3);
    assert_int_equal(json_integer_value(json_object_get(ms, "execution_count")), 1);
    assert_true(json_integer_value(json_object_get(ms, "last_inference")) > 1700000000000LL);
    json_t *is = json_object_get(ms, "inference_stats");
#define STAT(k, f) json_integer_value(json_object_get(json_object_get(is, k), f))
    assert_int_equal(STAT("success", "count"), 1);
    assert_int_equal(STAT("success", "ns"), 4000000);
    assert_int_equal(STAT("fail", "count"), 2);
    assert_int_equal(STAT("fail", "ns"), 4000000);
    assert_int_equal(STAT("queue", "count"), 1);
    assert_int_equal(STAT("queue", "ns"), 2000000);
    assert_int_equal(STAT("compute_infer", "count"), 1);
    assert_int_equal(STAT("compute_infer", "ns"), 1000000);
    assert_int_equal(STAT("compute_input", "ns"), 0);
    assert_int_equal(STAT("cache_hit", "count"), 0);
#undef STAT
    json_t *bs = json_object_get(ms, "batch_stats");
    assert_int_equal(json_array_size(bs), 1);
    json_t *b0 = json_array_get(bs, 0);
    assert_int_equal(json_integer_value(json_object_get(b0, "batch_size")), 4);
    json_t *ci = json_object_get(b0, "compute_infer");
    assert_int_equal(json_integer_value(json_object_get(ci, "count")), 1);
    assert_int_equal(json_integer_value(json_object_get(ci, "ns")), 1500000);
    json_decref(j);
    free(text);
    avf_srv_metrics_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_config),
        cmocka_unit_test(test_model_config_bad),
        cmocka_unit_test(test_server_options),
        cmocka_unit_test(test_priorities_and_residency_options),
        cmocka_unit_test(test_device_options),
        cmocka_unit_test(test_http_mapping),
        cmocka_unit_test(test_metrics_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
