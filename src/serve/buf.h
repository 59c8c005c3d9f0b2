/* avflow serve: a growable text buffer for responses (metrics, JSON). An
 * allocation failure sticks: later appends do nothing and `failed` stays
 * set, so callers check once at the end. */
#ifndef AVF_SERVE_BUF_H
#define AVF_SERVE_BUF_H

#include <stddef.h>

typedef struct avf_srv_buf {
    char *p;
    size_t len, cap;
    int failed;
} avf_srv_buf;

void avf_srv_buf_printf(avf_srv_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Hand over the text (malloc'd, NUL-terminated; NULL if an append failed). */
char *avf_srv_buf_take(avf_srv_buf *b, size_t *len);
void avf_srv_buf_free(avf_srv_buf *b);

#endif
