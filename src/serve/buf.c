/* Growable text buffer; doubling keeps appends amortized O(1). */
#include "serve/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void avf_srv_buf_printf(avf_srv_buf *b, const char *fmt, ...) {
    if (b->failed)
        return;
    for (int pass = 0; pass < 2; pass++) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

char *avf_srv_buf_take(avf_srv_buf *b, size_t *len) {
    if (b->failed || !b->p) {
        if (!b->failed && len) { /* nothing appended: an empty string */
            char *e = calloc(1, 1);
            *len = 0;
            return e;
        }
        avf_srv_buf_free(b);
        return NULL;
    }
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void avf_srv_buf_free(avf_srv_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
