/* Observability through a real server on a free port, driven by avflow's
 * own HTTP client (serve/http_client.h) over one keep-alive connection: an
 * application endpoint gets its per-path series in /metrics and its row in
 * /api/performance/status, GET / serves the dashboard, and the client's
 * framing holds for every reply. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#include "avflow/serve.h"
#include "serve/http_client.h"
#include "serve/obs.h"

static char repo_dir[64];

static void answer(void *user, int n, avf_server_job *const *jobs) {
    (void)user;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *b = avf_server_job_body(jobs[i], &len);
        if (len == 2 && memcmp(b, "ok", 2) == 0)
            avf_server_job_reply(jobs[i], strdup("{\"ok\":true}"));
        else
            avf_server_job_fail(jobs[i], 500, "told to fail");
    }
}

static void expect(const char *text, const char *line) {
    if (!strstr(text, line)) {
        print_message("missing: %s\n--- in:\n%s\n", line, text);
        fail();
    }
}

static void app_series_and_pages(void **state) {
    (void)state;
    avf_srv_obs_reset();
    avf_server_options o;
    avf_server_options_default(&o);
    snprintf(o.model_repository, sizeof o.model_repository, "%s", repo_dir);
    o.port = 0;
    avf_server *s;
    assert_int_equal(avf_server_create(&o, &s), AVF_OK);
    avf_server_app app = {.max_batch = 4, .max_delay_us = 0, .queue_capacity = 16,
                          .workers = 1, .run_batch = answer};
    snprintf(app.path, sizeof app.path, "test/obs");
    assert_int_equal(avf_server_add_app(s, &app), AVF_OK);

    avf_http_conn *c;
    assert_int_equal(avf_http_connect("127.0.0.1", avf_server_port(s), 10000, 1 << 20, &c),
                     AVF_OK);
    avf_http_response r;
    for (int i = 0; i < 7; i++) {
        const char *body = i < 5 ? "ok" : "bad";
        assert_int_equal(avf_http_request(c, "POST", "/v1/test/obs", "text/plain", NULL, body,
                                          strlen(body), &r), AVF_OK);
        assert_int_equal(r.status, i < 5 ? 200 : 500);
    }
    assert_int_equal(avf_http_request(c, "GET", "/metrics", NULL, NULL, NULL, 0, &r), AVF_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(strlen(r.body), r.len);
    expect(r.body, "avflow_http_requests_total{path=\"/v1/test/obs\",outcome=\"ok\"} 5\n");
    expect(r.body, "avflow_http_requests_total{path=\"/v1/test/obs\",outcome=\"error\"} 2\n");
    expect(r.body, "avflow_http_request_duration_us_count{path=\"/v1/test/obs\"} 7\n");
    expect(r.body, "avflow_http_request_duration_us_bucket{path=\"/v1/test/obs\",le=\"+Inf\"} 7\n");
    expect(r.body, "avflow_app_request_success{app=\"test/obs\"} 5\n");
    expect(r.body, "avflow_requests_total 7\n");
    expect(r.body, "avflow_models_resident 0\n");
    expect(r.body, "process_cpu_seconds_total ");

    assert_int_equal(avf_http_request(c, "GET", "/api/performance/status", NULL, NULL, NULL, 0,
                                      &r), AVF_OK);
    assert_int_equal(r.status, 200);
    expect(r.body, "{\"path\":\"test/obs\",\"success\":5,\"failure\":2,");
    expect(r.body, "\"requests_total\":7,\"failures_total\":2,");
    expect(r.body, "\"count\":5,"); /* the window holds the answered ones */

    assert_int_equal(avf_http_request(c, "GET", "/", NULL, NULL, NULL, 0, &r), AVF_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.len > 1000);
    expect(r.body, "<title>avflow serve</title>");
    expect(r.body, "/api/performance/status");
    assert_int_equal(strlen(r.body), r.len); /* the page as embedded: no NUL inside */

    assert_int_equal(avf_http_request(c, "GET", "/nothing/here", NULL, NULL, NULL, 0, &r), AVF_OK);
    assert_int_equal(r.status, 404);
    assert_int_equal(avf_http_connects(c), 1); /* every request on one keep-alive connection */
    avf_http_close(c);
    avf_server_free(s);
    avf_srv_obs_reset();
}

static void client_errors(void **state) {
    (void)state;
    avf_http_conn *c = NULL;
    /* Port 9 on loopback: nothing listens (connection refused). */
    assert_int_equal(avf_http_connect("127.0.0.1", 9, 1000, 0, &c), AVF_ERR_IO);
    assert_null(c);
    assert_int_equal(avf_http_connect("no-such-host.invalid", 80, 1000, 0, &c), AVF_ERR_IO);
}

int main(void) {
    snprintf(repo_dir, sizeof repo_dir, "/tmp/avf_obs_http_XXXXXX");
    if (!mkdtemp(repo_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(app_series_and_pages),
        cmocka_unit_test(client_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(repo_dir);
    return rc;
}
