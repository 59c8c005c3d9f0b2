/* Logging levels, AVF_LOG parsing and sinks. */
#include <stdlib.h>

#include "test_util.h"

typedef struct captured {
    int count;
    avf_log_level last_level;
    char last[256];
} captured;

static void sink(avf_log_level level, const char *msg, void *user) {
    captured *c = user;
    c->count++;
    c->last_level = level;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

static void test_parse_level(void **state) {
    assert_int_equal(avf_log_parse_level("error"), AVF_LOG_ERROR);
    assert_int_equal(avf_log_parse_level("WARN"), AVF_LOG_WARN);
    assert_int_equal(avf_log_parse_level("warning"), AVF_LOG_WARN);
    assert_int_equal(avf_log_parse_level("Info"), AVF_LOG_INFO);
    assert_int_equal(avf_log_parse_level("debug"), AVF_LOG_DEBUG);
    assert_int_equal(avf_log_parse_level("trace"), AVF_LOG_TRACE);
    assert_int_equal(avf_log_parse_level("off"), AVF_LOG_OFF);
    assert_int_equal(avf_log_parse_level("3"), AVF_LOG_INFO);
    assert_int_equal(avf_log_parse_level("9"), -1);
    assert_int_equal(avf_log_parse_level("verbose"), -1);
    assert_int_equal(avf_log_parse_level("info2"), -1);
    assert_int_equal(avf_log_parse_level(""), -1);
    assert_int_equal(avf_log_parse_level(NULL), -1);
}

static void test_env_sets_default_level(void **state) {
    /* Run first in this process: the level is read from AVF_LOG once. */
    setenv("AVF_LOG", "debug", 1);
    assert_int_equal(avf_log_get_level(), AVF_LOG_DEBUG);
}

static void test_level_filters_and_sink_receives(void **state) {
    captured c = {0};
    avf_log_set_sink(sink, &c);
    avf_log_set_level(AVF_LOG_WARN);
    AVF_INFO("hidden %d", 1);
    assert_int_equal(c.count, 0);
    AVF_WARN("shown %d", 2);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.last_level, AVF_LOG_WARN);
    assert_string_equal(c.last, "shown 2");
    AVF_ERROR("err");
    assert_int_equal(c.count, 2);
    avf_log_set_level(AVF_LOG_OFF);
    AVF_ERROR("silent");
    assert_int_equal(c.count, 2);
    avf_log_set_level((avf_log_level)99); /* clamps to trace */
    assert_int_equal(avf_log_get_level(), AVF_LOG_TRACE);
    AVF_TRACE("t");
    assert_int_equal(c.count, 3);
    avf_log_set_sink(NULL, NULL);
    avf_log_set_level(AVF_LOG_WARN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_sets_default_level),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_level_filters_and_sink_receives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
