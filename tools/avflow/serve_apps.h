/* `avflow serve --apps DIR`: the application endpoints (/v1/audio/vad,
 * /v1/image/ocr) next to the KServe repository. Built only when
 * libavflow_apps has its HTTP adapters (AVF_HAVE_HTTP_APPS); otherwise
 * --apps is refused with a message. */
#ifndef AVF_TOOLS_SERVE_APPS_H
#define AVF_TOOLS_SERVE_APPS_H

#include <stdio.h>

#include "avflow/serve.h"

typedef struct avf_serve_apps_flags {
    char dir[4096];       /* --apps DIR: where the pipelines' models are; "" = none */
    long long batch;      /* --app-batch N (0 = default) */
    long long delay_us;   /* --app-delay-us N (-1 = default) */
    long long workers;    /* --app-workers N (0 = default) */
    int fp16;             /* --fp16 */
} avf_serve_apps_flags;

void avf_serve_apps_flags_init(avf_serve_apps_flags *f);

/* 1 when `a` is one of the flags above (its value consumed from v; *bad
 * set on a bad value, with the message printed), 0 when it is not. */
int avf_serve_apps_flag(avf_serve_apps_flags *f, const char *a, const char *v, int *bad);

/* The help lines for the flags. */
void avf_serve_apps_usage(FILE *out);

/* Add the endpoints to `s`, a pipeline on each device of `device` (a
 * device or a list, as --devices takes it). *state must be passed to
 * avf_serve_apps_free after avf_server_free. msg gets a line saying what
 * is served ("" without --apps). Returns 0, or 1 after printing why not. */
int avf_serve_apps_start(const avf_serve_apps_flags *f, avf_server *s, const char *device,
                         void **state, char *msg, size_t cap);
void avf_serve_apps_free(void *state);

#endif
