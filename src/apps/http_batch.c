/* Grouping a /v1 batch by options (see http_batch.h). */
#include "apps/http_batch.h"

#include <stdlib.h>
#include <string.h>

void avf_http_run_grouped(const avf_http_group_ops *ops, void *user, int n,
                          avf_server_job *const *jobs) {
    unsigned char *opts = calloc((size_t)n, ops->opt_size);
    int *ok = calloc((size_t)n, sizeof *ok);
    avf_server_job **grp = calloc((size_t)n, sizeof *grp);
    if (!opts || !ok || !grp) {
        for (int i = 0; i < n; i++)
            avf_server_job_fail(jobs[i], 503, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        ok[i] = ops->parse(user, jobs[i], opts + (size_t)i * ops->opt_size);
    for (int first = 0; first < n; first++) {
        if (!ok[first])
            continue;
        const unsigned char *o = opts + (size_t)first * ops->opt_size;
        int m = 0;
        for (int i = first; i < n; i++)
            if (ok[i] && memcmp(opts + (size_t)i * ops->opt_size, o, ops->opt_size) == 0) {
                grp[m++] = jobs[i];
                ok[i] = 0; /* taken */
            }
        ops->run(user, o, m, grp);
    }
done:
    free(opts);
    free(ok);
    free(grp);
}
