/* Small pieces the avflow subcommands share. */
#ifndef AVF_TOOLS_CLI_UTIL_H
#define AVF_TOOLS_CLI_UTIL_H

#include <stddef.h>

/* A whole file (or pipe) into memory, at most max bytes. 1 with *data
 * (malloc'd) and *len; 0 with a reason in err. */
int avf_cli_read_file(const char *path, size_t max, void **data, size_t *len, char *err,
                      size_t cap);

/* s as a JSON string literal on stdout. */
void avf_cli_json_string(const char *s);

#endif
