/* Small pieces the avflow subcommands share (see cli_util.h). */
#include "cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int avf_cli_read_file(const char *path, size_t max, void **data, size_t *len, char *err,
                      size_t cap) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "cannot open: %s", strerror(errno));
        return 0;
    }
    /* grown as it is read, so pipes and files of unknown size work too */
    size_t n = 0, c = 1 << 16;
    unsigned char *buf = malloc(c);
    while (buf) {
        if (n == c) {
            if (c >= max) {
                snprintf(err, cap, "larger than %zu bytes", max);
                free(buf);
                fclose(f);
                return 0;
            }
            unsigned char *nb = realloc(buf, c * 2);
            if (!nb)
                break;
            buf = nb;
            c *= 2;
        }
        size_t r = fread(buf + n, 1, c - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        snprintf(err, cap, "%s", buf ? "read error" : "out of memory");
        free(buf);
        return 0;
    }
    *data = buf;
    *len = n;
    return 1;
}

void avf_cli_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}
