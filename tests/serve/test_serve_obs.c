/* Observability pieces: NVML through dlopen (a fake NVML, the absent and
 * the failing library), the recorders' rolling window, and the rendering
 * of /metrics additions and the status JSON from hand-made snapshots. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#include "serve/nvml.h"
#include "serve/obs.h"
#include "serve/request.h"

#ifndef AVF_FAKE_NVML_PATH
#error "AVF_FAKE_NVML_PATH: the fake NVML library built by tests/CMakeLists.txt"
#endif

static void use_nvml(const char *path, int fail_init) {
    /* a bundle on another machine says where it carried the fake */
    const char *moved = getenv("AVF_FAKE_NVML_PATH");
    if (moved && *moved && strcmp(path, AVF_FAKE_NVML_PATH) == 0)
        path = moved;
    setenv("AVF_NVML_LIBRARY", path, 1);
    if (fail_init)
        setenv("AVF_FAKE_NVML_FAIL", "1", 1);
    else
        unsetenv("AVF_FAKE_NVML_FAIL");
    avf_srv_nvml_unload();
}

static void nvml_fake_figures(void **state) {
    (void)state;
    use_nvml(AVF_FAKE_NVML_PATH, 0);
    avf_srv_gpu_sample g[AVF_SRV_NVML_MAX_GPUS];
    assert_int_equal(avf_srv_nvml_sample(g, AVF_SRV_NVML_MAX_GPUS), 2);
    assert_true(avf_srv_nvml_available());
    assert_string_equal(g[0].uuid, "GPU-fa4e0000-0000-4000-8000-000000000000");
    assert_string_equal(g[0].name, "Fake H200");
    assert_true(g[0].has_util && g[0].has_mem && g[0].has_power && g[0].has_dec);
    assert_float_equal(g[0].util, 0.37, 1e-12);
    assert_int_equal(g[0].mem_used_bytes, 3ull << 29);
    assert_int_equal(g[0].mem_total_bytes, 80ull << 30);
    assert_float_equal(g[0].power_watts, 123.456, 1e-9);
    assert_float_equal(g[0].dec_util, 0.12, 1e-12);
    assert_int_equal(g[1].index, 1);
    assert_float_equal(g[1].util, 0.88, 1e-12);
    assert_false(g[1].has_power); /* NOT_SUPPORTED leaves the figure out */
    /* A smaller cap is honoured. */
    assert_int_equal(avf_srv_nvml_sample(g, 1), 1);
    avf_srv_nvml_unload();
}

static void nvml_absent_or_failing(void **state) {
    (void)state;
    avf_srv_gpu_sample g[AVF_SRV_NVML_MAX_GPUS];
    use_nvml("/nonexistent/libnvidia-ml.so.1", 0);
    assert_int_equal(avf_srv_nvml_sample(g, AVF_SRV_NVML_MAX_GPUS), 0);
    assert_false(avf_srv_nvml_available());
    assert_non_null(strstr(avf_srv_nvml_reason(), "/nonexistent/libnvidia-ml.so.1"));
    /* Present but nvmlInit fails (driver not loaded): no figures either. */
    use_nvml(AVF_FAKE_NVML_PATH, 1);
    assert_int_equal(avf_srv_nvml_sample(g, AVF_SRV_NVML_MAX_GPUS), 0);
    assert_non_null(strstr(avf_srv_nvml_reason(), "nvmlInit returned 9"));
    use_nvml(AVF_FAKE_NVML_PATH, 0);
    assert_int_equal(avf_srv_nvml_sample(g, AVF_SRV_NVML_MAX_GPUS), 2);
    avf_srv_nvml_unload();
    unsetenv("AVF_NVML_LIBRARY");
}

static void percentile_ranks(void **state) {
    (void)state;
    double v[5] = {10, 20, 30, 40, 50};
    assert_float_equal(avf_srv_obs_percentile(v, 5, 0.5), 30, 1e-12);
    assert_float_equal(avf_srv_obs_percentile(v, 5, 0.9), 46, 1e-12);
    assert_float_equal(avf_srv_obs_percentile(v, 5, 0), 10, 1e-12);
    assert_float_equal(avf_srv_obs_percentile(v, 5, 1), 50, 1e-12);
    assert_float_equal(avf_srv_obs_percentile(v, 1, 0.99), 10, 1e-12);
    assert_float_equal(avf_srv_obs_percentile(v, 0, 0.5), 0, 1e-12);
}

static void recorders_window(void **state) {
    (void)state;
    avf_srv_obs_reset();
    for (int i = 1; i <= 100; i++)
        avf_srv_obs_request((uint64_t)i * 1000, 1);
    avf_srv_obs_request(5, 0); /* a failure: counted, not in the latencies */
    avf_srv_obs_app_request("audio/vad", 700, 200);
    avf_srv_obs_app_request("audio/vad", 3000000, 503);
    avf_srv_obs_model_evicted("m");
    usleep(20000); /* a span the throughput can be measured over */
    avf_srv_obs_snapshot s;
    memset(&s, 0, sizeof s);
    avf_srv_obs_snapshot_recorders(&s, avf_srv_now_ns());
    assert_int_equal(s.requests, 103);
    assert_int_equal(s.failures, 2);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(s.window.count, 101);
    assert_true(s.window.seconds > 0 && s.window.seconds <= AVF_SRV_OBS_WINDOW_S);
    assert_true(s.window.throughput_rps > 0);
    /* 101 sorted latencies: 700, 1000, ..., 100000 us */
    assert_float_equal(s.window.p50_us, 50000, 1e-6);
    assert_float_equal(s.window.p99_us, 99000, 1e-6);
    assert_true(s.cpu_seconds > 0);
    assert_int_equal(s.n_paths, 1);
    assert_string_equal(s.paths[0].path, "audio/vad");
    assert_int_equal(s.paths[0].ok, 1);
    assert_int_equal(s.paths[0].failed, 1);
    assert_int_equal(s.paths[0].lat_hist[3], 1);  /* 700 us: the (500, 1000] bucket */
    assert_int_equal(s.paths[0].lat_hist[13], 1); /* 3 s: the (1 s, 5 s] bucket */
    /* Completions older than the window drop out of it. */
    avf_srv_obs_snapshot later;
    memset(&later, 0, sizeof later);
    avf_srv_obs_snapshot_recorders(&later, avf_srv_now_ns() + 60ull * 1000000000ull);
    assert_int_equal(later.window.count, 0);
    assert_int_equal(later.requests, 103);
    avf_srv_obs_reset();
}

/* A snapshot with two GPUs (one without power), a pool, models, a path. */
static void fill(avf_srv_obs_snapshot *s, avf_srv_obs_model *models) {
    memset(s, 0, sizeof *s);
    snprintf(s->device, sizeof s->device, "cuda:0");
    s->nvml = 1;
    s->n_gpus = 2;
    snprintf(s->gpus[0].uuid, sizeof s->gpus[0].uuid, "GPU-aaaa");
    s->gpus[0].has_util = s->gpus[0].has_mem = s->gpus[0].has_power = s->gpus[0].has_dec = 1;
    s->gpus[0].util = 0.5;
    s->gpus[0].mem_used_bytes = 1000;
    s->gpus[0].mem_total_bytes = 8000;
    s->gpus[0].power_watts = 75.5;
    s->gpus[0].dec_util = 0.25;
    snprintf(s->gpus[1].uuid, sizeof s->gpus[1].uuid, "GPU-bb\"b"); /* escaped */
    s->gpus[1].index = 1;
    s->gpus[1].has_util = 1;
    s->gpus[1].util = 1.0;
    s->has_pool = 1;
    s->pool.in_use_bytes = 4096;
    s->pool.reserved_bytes = 1 << 21;
    s->pool.peak_in_use_bytes = 8192;
    s->pool.reuse_rate = 0.75;
    s->pool.fragmentation = 0.125;
    s->xfer_bytes[0] = 111;
    s->xfer_bytes[1] = 222;
    s->cpu_seconds = 2.0;
    s->requests = 400;
    s->evicted = 3;
    s->window.throughput_rps = 42;
    s->window.p50_us = 1500;
    s->window.p99_us = 9000;
    memset(models, 0, 2 * sizeof *models);
    models[0].m.model = "alpha";
    snprintf(models[0].m.version, sizeof models[0].m.version, "1");
    models[0].state = AVF_SRV_READY;
    models[0].queued = 7;
    models[0].m.d.batch_hist[2] = 5; /* five batches of size 3-4 */
    models[0].m.d.batch_sum = 20;
    models[0].m.d.batch_n = 5;
    models[1].m.model = "beta";
    snprintf(models[1].m.version, sizeof models[1].m.version, "2");
    models[1].state = AVF_SRV_UNLOADED;
    s->models = models;
    s->n_models = 2;
    s->n_paths = 1;
    snprintf(s->paths[0].path, sizeof s->paths[0].path, "image/ocr");
    s->paths[0].ok = 3;
    s->paths[0].failed = 1;
    s->paths[0].lat_hist[0] = 1;
    s->paths[0].lat_hist[5] = 2;
    s->paths[0].lat_hist[AVF_SRV_LAT_BUCKETS] = 1;
    s->paths[0].lat_sum_us = 99;
}

static char *render(void (*fn)(const avf_srv_obs_snapshot *, avf_srv_buf *),
                    const avf_srv_obs_snapshot *s) {
    avf_srv_buf b = {0};
    fn(s, &b);
    size_t len;
    char *t = avf_srv_buf_take(&b, &len);
    assert_non_null(t);
    return t;
}

static void expect(const char *text, const char *line) {
    if (!strstr(text, line)) {
        print_message("missing: %s\n--- in:\n%s\n", line, text);
        fail();
    }
}

static void metrics_text(void **state) {
    (void)state;
    avf_srv_obs_snapshot s;
    avf_srv_obs_model models[2];
    fill(&s, models);
    char *t = render(avf_srv_obs_render_metrics, &s);
    expect(t, "# TYPE nv_gpu_utilization gauge\n");
    expect(t, "nv_gpu_utilization{gpu_uuid=\"GPU-aaaa\"} 0.5\n");
    expect(t, "nv_gpu_utilization{gpu_uuid=\"GPU-bb\\\"b\"} 1\n");
    expect(t, "nv_gpu_memory_used_bytes{gpu_uuid=\"GPU-aaaa\"} 1000\n");
    expect(t, "nv_gpu_memory_total_bytes{gpu_uuid=\"GPU-aaaa\"} 8000\n");
    expect(t, "nv_gpu_power_usage{gpu_uuid=\"GPU-aaaa\"} 75.5\n");
    assert_null(strstr(t, "nv_gpu_power_usage{gpu_uuid=\"GPU-bb")); /* not supported there */
    assert_null(strstr(t, "nv_gpu_memory_used_bytes{gpu_uuid=\"GPU-bb"));
    expect(t, "avflow_gpu_decoder_utilization{gpu_uuid=\"GPU-aaaa\"} 0.25\n");
    expect(t, "avflow_nvml_available 1\n");
    expect(t, "avflow_pool_bytes_in_use{device=\"cuda:0\"} 4096\n");
    expect(t, "avflow_pool_bytes_reserved{device=\"cuda:0\"} 2097152\n");
    expect(t, "avflow_pool_bytes_peak_in_use{device=\"cuda:0\"} 8192\n");
    expect(t, "avflow_pool_reuse_rate{device=\"cuda:0\"} 0.750000\n");
    expect(t, "avflow_pool_fragmentation{device=\"cuda:0\"} 0.125000\n");
    expect(t, "avflow_transfer_bytes_total{direction=\"h2d\"} 111\n");
    expect(t, "avflow_transfer_bytes_total{direction=\"d2h\"} 222\n");
    expect(t, "process_cpu_seconds_total 2.000000\n");
    expect(t, "avflow_cpu_seconds_per_request 0.005000000\n");
    expect(t, "avflow_models_resident 1\n");
    expect(t, "avflow_models_evicted_total 3\n");
    expect(t, "avflow_queue_depth{model=\"alpha\",version=\"1\"} 7\n");
    assert_null(strstr(t, "avflow_queue_depth{model=\"beta\"")); /* not loaded */
    expect(t, "avflow_http_requests_total{path=\"/v1/image/ocr\",outcome=\"ok\"} 3\n");
    expect(t, "avflow_http_requests_total{path=\"/v1/image/ocr\",outcome=\"error\"} 1\n");
    expect(t, "avflow_http_request_duration_us_bucket{path=\"/v1/image/ocr\",le=\"100\"} 1\n");
    expect(t, "avflow_http_request_duration_us_bucket{path=\"/v1/image/ocr\",le=\"5000\"} 3\n");
    expect(t, "avflow_http_request_duration_us_bucket{path=\"/v1/image/ocr\",le=\"+Inf\"} 4\n");
    expect(t, "avflow_http_request_duration_us_count{path=\"/v1/image/ocr\"} 4\n");
    free(t);
    /* Without NVML: the families are declared, no sample is made up. */
    s.nvml = 0;
    s.n_gpus = 0;
    s.has_pool = 0;
    t = render(avf_srv_obs_render_metrics, &s);
    expect(t, "avflow_nvml_available 0\n");
    assert_null(strstr(t, "nv_gpu_utilization{"));
    assert_null(strstr(t, "avflow_pool_bytes_in_use{"));
    free(t);
}

/* Two devices: a pool row and the per-device series for each, the
 * per-model split only where the model ran, devices in the status. */
static void devices_render(void **state) {
    (void)state;
    avf_srv_obs_snapshot s;
    avf_srv_obs_model models[2];
    fill(&s, models);
    s.n_devices = 2;
    const char *names[2] = {"cuda:0", "cuda:1"};
    for (int l = 0; l < 2; l++) {
        avf_srv_lane_stats *d = &s.devices[l];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", names[l]);
        d->kind = AVF_DEVICE_CUDA;
        d->has_pool = 1;
        d->pool.reserved_bytes = 1000u * (unsigned)(l + 1);
        d->exec_count = 10u + (unsigned)l;
        d->inference_count = 40;
        d->inflight = l;
        d->budget_bytes = 5000;
        d->resident_bytes = 300;
        d->models_resident = 1;
    }
    models[0].m.d.lane_exec[1] = 6;
    models[0].m.d.lane_rows[1] = 24;
    char *t = render(avf_srv_obs_render_metrics, &s);
    expect(t, "avflow_pool_bytes_reserved{device=\"cuda:0\"} 1000\n");
    expect(t, "avflow_pool_bytes_reserved{device=\"cuda:1\"} 2000\n");
    assert_null(strstr(t, "avflow_pool_bytes_reserved{device=\"cuda:0\"} 2097152")); /* lanes' */
    expect(t, "# TYPE avflow_device_exec_count counter\n");
    expect(t, "avflow_device_exec_count{device=\"cuda:1\"} 11\n");
    expect(t, "avflow_device_batches_in_flight{device=\"cuda:1\"} 1\n");
    expect(t, "avflow_device_vram_budget_bytes{device=\"cuda:0\"} 5000\n");
    expect(t, "avflow_device_resident_bytes{device=\"cuda:0\"} 300\n");
    expect(t, "avflow_model_device_exec_count{model=\"alpha\",version=\"1\",device=\"cuda:1\"} 6\n");
    expect(t, "avflow_model_device_inference_count{model=\"alpha\",version=\"1\",device=\"cuda:1\"} 24\n");
    assert_null(strstr(t, "avflow_model_device_exec_count{model=\"alpha\",version=\"1\",device=\"cuda:0\"}"));
    free(t);
    t = render(avf_srv_obs_render_status, &s);
    expect(t, "\"devices\":[{\"name\":\"cuda:0\"");
    expect(t, "\"name\":\"cuda:1\"");
    expect(t, "\"exec_count\":11");
    expect(t, "\"kind\":\"cuda\"");
    free(t);
}

static void status_json(void **state) {
    (void)state;
    avf_srv_obs_snapshot s;
    avf_srv_obs_model models[2];
    fill(&s, models);
    s.n_apps = 1;
    snprintf(s.apps[0].path, sizeof s.apps[0].path, "image/ocr");
    s.apps[0].queued = 2;
    s.apps[0].st.success = 3;
    char *t = render(avf_srv_obs_render_status, &s);
    expect(t, "\"device\":\"cuda:0\"");
    expect(t, "\"throughput_rps\":42.0");
    expect(t, "\"p50\":1500.0");
    expect(t, "\"p99\":9000.0");
    expect(t, "\"queue_depth\":9");          /* 7 in alpha + 2 in the app */
    expect(t, "\"models_resident\":1");
    expect(t, "\"models_evicted\":3");
    expect(t, "\"batch\":{\"avg\":4.0");
    expect(t, "{\"le\":4,\"count\":5}");
    expect(t, "\"uuid\":\"GPU-aaaa\"");
    expect(t, "\"utilization\":0.5");
    expect(t, "\"power_watts\":null");       /* the GPU without the figure */
    expect(t, "\"memory_used_bytes\":1000");
    expect(t, "\"in_use_bytes\":4096");
    expect(t, "\"reuse_rate\":0.75");
    expect(t, "\"h2d_bytes\":111");
    expect(t, "\"cpu_seconds_per_request\":0.005");
    expect(t, "\"name\":\"alpha\"");
    expect(t, "\"state\":\"UNAVAILABLE\"");
    expect(t, "\"path\":\"image/ocr\"");
    assert_int_equal(t[0], '{');
    assert_int_equal(t[strlen(t) - 1], '}');
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nvml_fake_figures),  cmocka_unit_test(nvml_absent_or_failing),
        cmocka_unit_test(percentile_ranks),   cmocka_unit_test(recorders_window),
        cmocka_unit_test(metrics_text),       cmocka_unit_test(status_json),
        cmocka_unit_test(devices_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
