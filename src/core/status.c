/* Status names and the thread-local error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "avflow/log.h"
#include "avflow/status.h"
#include "core/error.h"

#define AVF_ERROR_MSG_MAX 1024

static _Thread_local char avf_error_msg[AVF_ERROR_MSG_MAX];

static const char *const avf_status_names[AVF_STATUS_COUNT] = {
    [AVF_OK] = "AVF_OK",
    [AVF_ERR_INVALID_ARG] = "AVF_ERR_INVALID_ARG",
    [AVF_ERR_OUT_OF_MEMORY] = "AVF_ERR_OUT_OF_MEMORY",
    [AVF_ERR_DEVICE] = "AVF_ERR_DEVICE",
    [AVF_ERR_UNSUPPORTED] = "AVF_ERR_UNSUPPORTED",
    [AVF_ERR_NOT_FOUND] = "AVF_ERR_NOT_FOUND",
    [AVF_ERR_IO] = "AVF_ERR_IO",
    [AVF_ERR_CORRUPT] = "AVF_ERR_CORRUPT",
    [AVF_ERR_FULL] = "AVF_ERR_FULL",
    [AVF_ERR_TIMEOUT] = "AVF_ERR_TIMEOUT",
    [AVF_ERR_CLOSED] = "AVF_ERR_CLOSED",
    [AVF_ERR_INTERNAL] = "AVF_ERR_INTERNAL",
};

const char *avf_status_name(avf_status s) {
    if ((int)s < 0 || s >= AVF_STATUS_COUNT)
        return "AVF_ERR_UNKNOWN";
    return avf_status_names[s];
}

const char *avf_last_error(void) { return avf_error_msg; }

void avf_clear_error(void) { avf_error_msg[0] = '\0'; }

avf_status avf_error_set(avf_status s, const char *file, int line, const char *fmt, ...) {
    /* Keep only the file's base name: full build paths make messages noisy. */
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : (file ? file : "?");
    int n = snprintf(avf_error_msg, sizeof avf_error_msg, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof avf_error_msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(avf_error_msg + n, sizeof avf_error_msg - (size_t)n, fmt, ap);
    va_end(ap);
    AVF_DEBUG("%s: %s", avf_status_name(s), avf_error_msg);
    return s;
}
