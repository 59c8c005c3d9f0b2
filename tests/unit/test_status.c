/* Status codes and the thread-local error message. */
#include <pthread.h>

#include "core/error.h"
#include "test_util.h"

static void test_names_are_distinct_and_stable(void **state) {
    assert_string_equal(avf_status_name(AVF_OK), "AVF_OK");
    assert_string_equal(avf_status_name(AVF_ERR_OUT_OF_MEMORY), "AVF_ERR_OUT_OF_MEMORY");
    for (int i = 0; i < AVF_STATUS_COUNT; i++) {
        assert_non_null(avf_status_name((avf_status)i));
        assert_true(strncmp(avf_status_name((avf_status)i), "AVF_", 4) == 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(avf_status_name((avf_status)i), avf_status_name((avf_status)j));
    }
    assert_string_equal(avf_status_name((avf_status)-1), "AVF_ERR_UNKNOWN");
    assert_string_equal(avf_status_name(AVF_STATUS_COUNT), "AVF_ERR_UNKNOWN");
}

static void test_fail_sets_message_with_location(void **state) {
    avf_clear_error();
    assert_string_equal(avf_last_error(), "");
    avf_status s = AVF_FAIL(AVF_ERR_CORRUPT, "bad header %d", 42);
    assert_int_equal(s, AVF_ERR_CORRUPT);
    assert_non_null(strstr(avf_last_error(), "test_status.c:"));
    assert_non_null(strstr(avf_last_error(), "bad header 42"));
    avf_clear_error();
    assert_string_equal(avf_last_error(), "");
}

static void test_long_message_is_truncated_not_overflowed(void **state) {
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    AVF_FAIL(AVF_ERR_IO, "%s", big);
    size_t n = strlen(avf_last_error());
    assert_true(n > 100 && n < 2000);
}

static void *other_thread(void *arg) {
    /* A fresh thread starts with no message and its failures stay its own. */
    int *ok = arg;
    *ok = avf_last_error()[0] == '\0';
    AVF_FAIL(AVF_ERR_TIMEOUT, "thread message");
    return NULL;
}

static void test_message_is_thread_local(void **state) {
    AVF_FAIL(AVF_ERR_FULL, "main message");
    pthread_t t;
    int ok = 0;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &ok), 0);
    pthread_join(t, NULL);
    assert_true(ok);
    assert_non_null(strstr(avf_last_error(), "main message"));
}

static avf_status try_chain(int fail) {
    AVF_TRY(fail ? AVF_FAIL(AVF_ERR_NOT_FOUND, "inner") : AVF_OK);
    return AVF_OK;
}

static avf_status check_arg(const void *p) {
    AVF_CHECK_ARG(p != NULL);
    return AVF_OK;
}

static void test_try_and_check_arg(void **state) {
    assert_int_equal(try_chain(0), AVF_OK);
    assert_int_equal(try_chain(1), AVF_ERR_NOT_FOUND);
    assert_avf_fails(check_arg(NULL), AVF_ERR_INVALID_ARG);
    assert_non_null(strstr(avf_last_error(), "p != NULL"));
    assert_int_equal(check_arg(&state), AVF_OK);
}

static void test_version(void **state) {
    assert_non_null(avf_version());
    assert_true(strchr(avf_version(), '.') != NULL);
    assert_non_null(strstr(avf_build_info(), "cuda="));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_are_distinct_and_stable),
        cmocka_unit_test(test_fail_sets_message_with_location),
        cmocka_unit_test(test_long_message_is_truncated_not_overflowed),
        cmocka_unit_test(test_message_is_thread_local),
        cmocka_unit_test(test_try_and_check_arg),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
