/* Least-busy replica choice for the /v1 endpoints (see http_replicas.h). */
#include "apps/http_replicas.h"

void avf_http_replicas_init(avf_http_replicas *r, int n) {
    r->n = n < 1 ? 1 : n > AVF_HTTP_MAX_REPLICAS ? AVF_HTTP_MAX_REPLICAS : n;
    for (int i = 0; i < AVF_HTTP_MAX_REPLICAS; i++)
        atomic_init(&r->busy[i], 0);
    atomic_init(&r->next, 0);
}

int avf_http_replicas_acquire(avf_http_replicas *r) {
    unsigned start = atomic_fetch_add(&r->next, 1u) % (unsigned)r->n;
    int best = (int)start, best_busy = atomic_load(&r->busy[start]);
    for (int k = 1; k < r->n && best_busy > 0; k++) {
        int i = (int)((start + (unsigned)k) % (unsigned)r->n);
        int b = atomic_load(&r->busy[i]);
        if (b < best_busy) {
            best = i;
            best_busy = b;
        }
    }
    atomic_fetch_add(&r->busy[best], 1);
    return best;
}

void avf_http_replicas_release(avf_http_replicas *r, int i) {
    if (i >= 0 && i < r->n)
        atomic_fetch_sub(&r->busy[i], 1);
}
