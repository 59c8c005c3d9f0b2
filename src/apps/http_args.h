/* Query-argument parsing shared by the application endpoints: a number in
 * a range, or a 400 that names the argument. */
#ifndef AVF_APPS_HTTP_ARGS_H
#define AVF_APPS_HTTP_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "avflow/serve.h"

/* *out = the argument's value when given; 0 and a 400 reply when it is
 * not a number in [lo, hi]. Returns 1 when fine (given or not). */
static inline int avf_http_arg_num(avf_server_job *j, const char *key, double lo, double hi,
                                   double *out) {
    const char *v = avf_server_job_arg(j, key);
    if (!v)
        return 1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi) {
        char msg[192];
        snprintf(msg, sizeof msg, "query argument %s must be a number in [%g, %g], got '%.40s'",
                 key, lo, hi, v);
        avf_server_job_fail(j, 400, msg);
        return 0;
    }
    *out = x;
    return 1;
}

#endif
