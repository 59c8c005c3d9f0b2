/* Freed big blocks kept for reuse (see block_cache.h). */
#include <malloc.h>
#include <stdlib.h>

#include "core/block_cache.h"

void *avf_block_cache_get(avf_block_cache *c, size_t bytes) {
    if (bytes == 0)
        bytes = 1;
    void *p = NULL;
    pthread_mutex_lock(&c->mu);
    int best = -1; /* the smallest that holds it, at most twice as big */
    for (int i = 0; i < c->n; i++)
        if (c->cap[i] >= bytes && c->cap[i] / 2 <= bytes &&
            (best < 0 || c->cap[i] < c->cap[best]))
            best = i;
    if (best >= 0) {
        p = c->p[best];
        c->bytes -= c->cap[best];
        c->n--;
        c->p[best] = c->p[c->n];
        c->cap[best] = c->cap[c->n];
    }
    pthread_mutex_unlock(&c->mu);
    return p ? p : malloc(bytes);
}

void avf_block_cache_put(avf_block_cache *c, void *p) {
    if (!p)
        return;
    size_t cap = malloc_usable_size(p);
    pthread_mutex_lock(&c->mu);
    int max = c->max_blocks < AVF_BLOCK_CACHE_MAX ? c->max_blocks : AVF_BLOCK_CACHE_MAX;
    int keep = cap <= c->max_one && c->n < max && c->bytes + cap <= c->max_all;
    if (keep) {
        c->p[c->n] = p;
        c->cap[c->n++] = cap;
        c->bytes += cap;
    }
    pthread_mutex_unlock(&c->mu);
    if (!keep)
        free(p);
}

size_t avf_block_cache_bytes(avf_block_cache *c) {
    pthread_mutex_lock(&c->mu);
    size_t b = c->bytes;
    pthread_mutex_unlock(&c->mu);
    return b;
}
