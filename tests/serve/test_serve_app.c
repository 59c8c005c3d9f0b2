/* Application endpoints (POST /v1/<path>, avf_server_add_app) through a real
 * server on a free port: jobs that arrive together share one run_batch, the
 * body and query arguments reach the app, a full queue answers 429 with
 * Retry-After, wrong methods, unknown paths and empty bodies get 4xx, and an
 * app that answers nothing yields a 500 rather than a hung connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "avflow/serve.h"

static char repo_dir[] = "/tmp/avf_app_test_XXXXXX";

/* One HTTP/1.1 request on a new connection; returns the status code and the
 * body in buf (NUL-terminated). */
static int http(int port, const char *method, const char *path, const char *body,
                char *buf, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu"
                     "\r\n\r\n%s",
                     method, path, blen, body ? body : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

static const char *body_of(const char *resp) {
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : "";
}

/* The echo app: answers {"body": ..., "n": batch size, "tag": ?tag}. */
typedef struct echo {
    pthread_mutex_t mu;
    int calls, max_n;
    int sleep_ms;
    int answer; /* 0: leave the jobs unanswered */
} echo;

static void echo_batch(void *user, int n, avf_server_job *const *jobs) {
    echo *e = user;
    if (e->sleep_ms)
        usleep((useconds_t)e->sleep_ms * 1000);
    pthread_mutex_lock(&e->mu);
    e->calls++;
    if (n > e->max_n)
        e->max_n = n;
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < n && e->answer; i++) {
        size_t len;
        const char *b = avf_server_job_body(jobs[i], &len);
        const char *tag = avf_server_job_arg(jobs[i], "tag");
        char *out = malloc(len + 128);
        snprintf(out, len + 128, "{\"body\":\"%.*s\",\"n\":%d,\"tag\":\"%s\"}", (int)len, b, n,
                 tag ? tag : "");
        if (strcmp(tag ? tag : "", "fail") == 0) {
            free(out);
            avf_server_job_fail(jobs[i], 422, "told to fail");
        } else {
            avf_server_job_reply(jobs[i], out);
        }
    }
}

static avf_server *start(echo *e, int max_batch, int64_t delay_us, int capacity) {
    avf_server_options o;
    avf_server_options_default(&o);
    snprintf(o.model_repository, sizeof o.model_repository, "%s", repo_dir);
    o.port = 0;
    o.threads = 8;
    avf_server *s;
    assert_int_equal(avf_server_create(&o, &s), AVF_OK);
    avf_server_app app = {.max_batch = max_batch, .max_delay_us = delay_us,
                          .queue_capacity = capacity, .workers = 1, .run_batch = echo_batch,
                          .user = e};
    snprintf(app.path, sizeof app.path, "test/echo");
    assert_int_equal(avf_server_add_app(s, &app), AVF_OK);
    assert_int_not_equal(avf_server_add_app(s, &app), AVF_OK); /* the path is taken */
    return s;
}

static void test_reply_and_args(void **state) {
    (void)state;
    echo e = {.mu = PTHREAD_MUTEX_INITIALIZER, .answer = 1};
    avf_server *s = start(&e, 8, 0, 16);
    char buf[4096];
    int port = avf_server_port(s);
    assert_int_equal(http(port, "POST", "/v1/test/echo?tag=hello", "abc", buf, sizeof buf), 200);
    assert_string_equal(body_of(buf), "{\"body\":\"abc\",\"n\":1,\"tag\":\"hello\"}");
    assert_int_equal(http(port, "POST", "/v1/test/echo?tag=fail", "abc", buf, sizeof buf), 422);
    assert_non_null(strstr(body_of(buf), "told to fail"));
    assert_int_equal(http(port, "GET", "/v1/test/echo", NULL, buf, sizeof buf), 405);
    assert_int_equal(http(port, "POST", "/v1/test/nothing", "x", buf, sizeof buf), 404);
    assert_int_equal(http(port, "POST", "/v1/test/echo", "", buf, sizeof buf), 400);
    assert_int_equal(http(port, "GET", "/metrics", NULL, buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "avflow_app_request_success{app=\"test/echo\"} 1"));
    assert_non_null(strstr(buf, "avflow_app_request_failure{app=\"test/echo\"} 1"));
    avf_server_free(s);
}

typedef struct client {
    int port;
    int status;
    char buf[1024];
} client;

static void *client_main(void *arg) {
    client *c = arg;
    c->status = http(c->port, "POST", "/v1/test/echo", "x", c->buf, sizeof c->buf);
    return NULL;
}

/* 12 concurrent requests with a 200 ms gathering window: fewer calls than
 * requests, and some call sees several jobs. */
static void test_batches_concurrent_jobs(void **state) {
    (void)state;
    echo e = {.mu = PTHREAD_MUTEX_INITIALIZER, .answer = 1};
    avf_server *s = start(&e, 8, 200000, 64);
    client c[12];
    pthread_t t[12];
    for (int i = 0; i < 12; i++) {
        c[i].port = avf_server_port(s);
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    for (int i = 0; i < 12; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].status, 200);
    }
    assert_true(e.calls < 12);
    assert_true(e.max_n > 1 && e.max_n <= 8);
    avf_server_free(s);
}

/* A slow app with room for one waiting job: of 6 concurrent requests some
 * are refused with 429 and Retry-After, the rest succeed. */
static void test_full_queue_429(void **state) {
    (void)state;
    echo e = {.mu = PTHREAD_MUTEX_INITIALIZER, .answer = 1, .sleep_ms = 300};
    avf_server *s = start(&e, 1, 0, 1);
    client c[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        c[i].port = avf_server_port(s);
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    int ok = 0, full = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        if (c[i].status == 200)
            ok++;
        if (c[i].status == 429) {
            full++;
            assert_non_null(strstr(c[i].buf, "Retry-After: 1"));
        }
    }
    assert_int_equal(ok + full, 6);
    assert_true(ok >= 1 && full >= 1);
    avf_server_free(s);
}

static void test_unanswered_is_500(void **state) {
    (void)state;
    echo e = {.mu = PTHREAD_MUTEX_INITIALIZER, .answer = 0};
    avf_server *s = start(&e, 4, 0, 4);
    char buf[2048];
    assert_int_equal(http(avf_server_port(s), "POST", "/v1/test/echo", "x", buf, sizeof buf),
                     500);
    avf_server_free(s);
}

static void test_bad_app_config(void **state) {
    (void)state;
    avf_server_options o;
    avf_server_options_default(&o);
    snprintf(o.model_repository, sizeof o.model_repository, "%s", repo_dir);
    o.port = 0;
    avf_server *s;
    assert_int_equal(avf_server_create(&o, &s), AVF_OK);
    echo e = {.mu = PTHREAD_MUTEX_INITIALIZER};
    avf_server_app app = {.max_batch = 0, .queue_capacity = 1, .workers = 1,
                          .run_batch = echo_batch, .user = &e};
    snprintf(app.path, sizeof app.path, "x");
    assert_int_equal(avf_server_add_app(s, &app), AVF_ERR_INVALID_ARG);
    app.max_batch = 1;
    app.path[0] = '\0';
    assert_int_equal(avf_server_add_app(s, &app), AVF_ERR_INVALID_ARG);
    avf_server_free(s);
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(repo_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rmdir(repo_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_and_args),
        cmocka_unit_test(test_batches_concurrent_jobs),
        cmocka_unit_test(test_full_queue_429),
        cmocka_unit_test(test_unanswered_is_500),
        cmocka_unit_test(test_bad_app_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
