/* Internal: freed big heap blocks kept for reuse by the next request of a
 * size they hold.
 *
 * Why: `avflow serve` sets M_MMAP_THRESHOLD to 128 KiB (tools/avflow/
 * cmd_serve.c) so that big blocks go back to the system when freed instead
 * of piling up in glibc's per-thread arenas. Blocks made and freed on every
 * request (request bodies, decoded audio) then cost a fresh mmap each time,
 * page-faulted in and zeroed, and a munmap whose TLB shootdown interrupts
 * every core running the server. A few recently freed blocks are kept,
 * bounded in count, in bytes per block and in bytes in all, so the memory
 * held stays small and fixed (the reason for the threshold still holds).
 *
 * A cache is a static object (AVF_BLOCK_CACHE_INIT); any malloc'ed block may
 * be put, and a block got may be realloc'ed or freed like any other. */
#ifndef AVF_CORE_BLOCK_CACHE_H
#define AVF_CORE_BLOCK_CACHE_H

#include <pthread.h>
#include <stddef.h>

#define AVF_BLOCK_CACHE_MAX 64

typedef struct avf_block_cache {
    pthread_mutex_t mu;
    int max_blocks;       /* <= AVF_BLOCK_CACHE_MAX */
    size_t max_one, max_all;
    int n;
    size_t bytes;         /* held by the kept blocks */
    void *p[AVF_BLOCK_CACHE_MAX];
    size_t cap[AVF_BLOCK_CACHE_MAX];
} avf_block_cache;

#define AVF_BLOCK_CACHE_INIT(blocks, one, all) {PTHREAD_MUTEX_INITIALIZER, (blocks), (one), (all), 0, 0, {0}, {0}}

/* A block of at least `bytes`: the smallest kept one that holds it and is at
 * most twice as big, else malloc's (NULL when out of memory). */
void *avf_block_cache_get(avf_block_cache *c, size_t bytes);
/* Keep p for a later get, or free it when it is too big or the cache is
 * full. NULL is ignored. */
void avf_block_cache_put(avf_block_cache *c, void *p);
size_t avf_block_cache_bytes(avf_block_cache *c);

#endif
