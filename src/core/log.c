/* Logging: level from AVF_LOG, output to stderr or a sink. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avflow/log.h"

/* -1 until AVF_LOG has been read. */
static _Atomic int avf_log_level_v = -1;
static avf_log_sink avf_log_sink_fn;
static void *avf_log_sink_user;
static pthread_mutex_t avf_log_mutex = PTHREAD_MUTEX_INITIALIZER;

static const char *const avf_level_names[] = {"off", "error", "warn", "info", "debug", "trace"};

int avf_log_parse_level(const char *text) {
    if (!text || !*text)
        return -1;
    if (text[0] >= '0' && text[0] <= '5' && text[1] == '\0')
        return text[0] - '0';
    for (int i = 0; i <= AVF_LOG_TRACE; i++) {
        const char *a = text, *b = avf_level_names[i];
        while (*a && *b && tolower((unsigned char)*a) == *b) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return i;
    }
    if (strcmp(text, "warning") == 0)
        return AVF_LOG_WARN;
    return -1;
}

avf_log_level avf_log_get_level(void) {
    int v = atomic_load_explicit(&avf_log_level_v, memory_order_relaxed);
    if (v >= 0)
        return (avf_log_level)v;
    int parsed = avf_log_parse_level(getenv("AVF_LOG"));
    v = parsed >= 0 ? parsed : AVF_LOG_WARN;
    int expected = -1;
    /* Only the first reader decides, so a concurrent set_level is not lost. */
    atomic_compare_exchange_strong(&avf_log_level_v, &expected, v);
    return (avf_log_level)atomic_load(&avf_log_level_v);
}

void avf_log_set_level(avf_log_level level) {
    if ((int)level < AVF_LOG_OFF)
        level = AVF_LOG_OFF;
    if (level > AVF_LOG_TRACE)
        level = AVF_LOG_TRACE;
    atomic_store(&avf_log_level_v, (int)level);
}

void avf_log_set_sink(avf_log_sink sink, void *user) {
    pthread_mutex_lock(&avf_log_mutex);
    avf_log_sink_fn = sink;
    avf_log_sink_user = user;
    pthread_mutex_unlock(&avf_log_mutex);
}

void avf_log_write(avf_log_level level, const char *file, int line, const char *fmt, ...) {
    if ((int)level <= AVF_LOG_OFF || level > AVF_LOG_TRACE)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&avf_log_mutex);
    if (avf_log_sink_fn) {
        avf_log_sink_fn(level, msg, avf_log_sink_user);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        const char *base = file ? strrchr(file, '/') : NULL;
        base = base ? base + 1 : (file ? file : "?");
        fprintf(stderr, "%02d:%02d:%02d.%03ld avflow %-5s %s:%d %s\n", tm.tm_hour, tm.tm_min,
                tm.tm_sec, ts.tv_nsec / 1000000, avf_level_names[level], base, line, msg);
    }
    pthread_mutex_unlock(&avf_log_mutex);
}
