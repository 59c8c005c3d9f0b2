/* Internal to the pool (pool.c: the public API and the fast paths;
 * pool_slow.c: segments, the stream table, pending frees, stealing, stats).
 * See pool.c for the design. Everything here runs with the pool's mutex held.
 */
#ifndef AVF_CORE_POOL_IMPL_H
#define AVF_CORE_POOL_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/pool.h"
#include "core/pool_bins.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

#define POOL_ROUND ((size_t)512)
#define POOL_SMALL_MAX (1 * MIB)       /* largest "small" request */
#define POOL_SMALL_SEGMENT (2 * MIB)
#define POOL_MEDIUM_MAX (10 * MIB)
#define POOL_MEDIUM_SEGMENT (20 * MIB)
#define POOL_SEGMENT_ROUND (2 * MIB)
#define POOL_LARGE_SPLIT_MIN (1 * MIB) /* large blocks split only above this */
#define POOL_OVERSIZE_SLACK (20 * MIB) /* see fit_limit() */
#define POOL_MAX_REQUEST ((size_t)1 << 50)
#define POOL_EVENT_CACHE 64
#define POOL_PENDING_CHECKS 64 /* event queries per slow-path visit to the pending list */
#define POOL_CHUNK_BLOCKS 256
#define POOL_HASH_LOG2 10

typedef struct pool_chunk {
    struct pool_chunk *next;
    pool_block blocks[POOL_CHUNK_BLOCKS];
} pool_chunk;

/* Fields the fast paths touch come first, packed into few cache lines: the
 * request path runs between driver calls that evict the caches. */
struct avf_pool {
    pthread_mutex_t mu;
    pool_stream *last_ss;       /* last stream looked up */
    pool_stream **ss_slots;     /* open addressing by stream pointer */
    size_t ss_mask;
    pool_stream *default_ss;    /* NULL stream */
    pool_hash live;             /* allocated blocks by pointer */
    pool_block *spare;          /* unused block structs */
    pool_block *pend_head, *pend_tail;
    unsigned tick;
    int high_armed, crit_armed;
    avf_pool_watermark_fn on_watermark;
    uint64_t high_bytes, crit_bytes;

    /* statistics */
    uint64_t in_use, requested, peak_in_use;
    uint64_t alloc_count, free_count, reused_count;
    uint64_t alloc_bytes_total; /* rounded sizes of every allocation since reset */
    uint64_t free_blocks, free_bytes; /* in bins */
    uint64_t reserved, peak_reserved, failed_count, stolen_count;
    uint64_t driver_alloc_count, driver_free_count, segment_count;

    /* slow paths only */
    avf_device *dev;
    uint64_t limit;
    void *watermark_user;
    uint32_t inject_failures;
    pool_stream **ss_list;      /* every sub-pool, default included */
    size_t ss_count, ss_cap;
    pool_segment *segs;
    size_t pend_count;
    pool_chunk *chunks;
    avf_event *ev_cache[POOL_EVENT_CACHE];
    unsigned ev_count;
};

static inline size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* The largest cached block a request may take while memory is not short. */
static inline size_t fit_limit(size_t size, int cls) {
    return (cls == POOL_LARGE && size <= POOL_MEDIUM_MAX) ? size + POOL_OVERSIZE_SLACK : SIZE_MAX;
}

static inline size_t pool_ss_home(const avf_pool *p, const avf_stream *s) {
    return (size_t)(((uint64_t)(uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 32) & p->ss_mask;
}

/* The sub-pool of stream s if it exists (NULL: the default stream's). */
static inline pool_stream *pool_ss_find(avf_pool *p, avf_stream *s) {
    pool_stream *ss = p->last_ss;
    if (ss && ss->stream == s)
        return ss;
    if (!s)
        return p->default_ss;
    for (size_t i = pool_ss_home(p, s); (ss = p->ss_slots[i]) != NULL; i = (i + 1) & p->ss_mask)
        if (ss->stream == s)
            return ss;
    return NULL;
}

/* ------------------------------------------------------------ block structs */

static inline pool_block *block_new(avf_pool *p) {
    if (!p->spare) {
        pool_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = p->chunks;
        p->chunks = c;
        for (size_t i = 0; i < POOL_CHUNK_BLOCKS; i++) {
            c->blocks[i].fnext = p->spare;
            p->spare = &c->blocks[i];
        }
    }
    pool_block *b = p->spare;
    p->spare = b->fnext;
    memset(b, 0, sizeof *b);
    return b;
}

static inline void block_put(avf_pool *p, pool_block *b) {
    b->fnext = p->spare;
    p->spare = b;
}

/* ------------------------------------------------------------------ bins */

static inline void unbin(avf_pool *p, pool_block *b) {
    pool_bins_remove(&b->owner->bins[b->cls], b);
    p->free_blocks--;
    p->free_bytes -= b->size;
    b->state = BLOCK_DETACHED;
}

static inline int mergeable(const pool_block *b, const pool_stream *owner) {
    return b && b->state == BLOCK_FREE && b->owner == owner;
}

/* Put a detached block into its owner's bins, merged with free neighbours of
 * the same owner. Returns the block that now holds it (b, or its lower
 * neighbour when b merged into that). */
static inline pool_block *bin_free(avf_pool *p, pool_block *b) {
    pool_stream *owner = b->owner;
    pool_block *n = b->prev;
    if (mergeable(n, owner)) {
        unbin(p, n);
        n->size += b->size;
        n->next = b->next;
        if (b->next)
            b->next->prev = n;
        owner->nblocks--;
        block_put(p, b);
        b = n;
    }
    n = b->next;
    if (mergeable(n, owner)) {
        unbin(p, n);
        b->size += n->size;
        b->next = n->next;
        if (n->next)
            n->next->prev = b;
        owner->nblocks--;
        block_put(p, n);
    }
    b->state = BLOCK_FREE;
    pool_bins_insert(&owner->bins[b->cls], b);
    p->free_blocks++;
    p->free_bytes += b->size;
    return b;
}

/* Cut a detached block down to `size`, returning the tail to the bins when
 * the split policy allows (see pool.c). */
static inline void split(avf_pool *p, pool_block *b, size_t size) {
    size_t rem = b->size - size;
    size_t min_rem = b->cls == POOL_SMALL ? POOL_ROUND : POOL_LARGE_SPLIT_MIN + 1;
    if (rem < min_rem)
        return;
    pool_block *t = block_new(p);
    if (!t)
        return; /* no struct for the tail: hand out the whole block */
    t->ptr = b->ptr + size;
    t->size = rem;
    t->seg = b->seg;
    t->cls = b->cls;
    t->owner = b->owner;
    t->prev = b;
    t->next = b->next;
    if (b->next)
        b->next->prev = t;
    b->next = t;
    b->size = size;
    b->owner->nblocks++;
    bin_free(p, t);
}

/* -------------------------------------------------------- pool_slow.c */

#define POOL_HIDDEN __attribute__((visibility("hidden")))

typedef enum seg_fail { SEG_OK = 0, SEG_CAP, SEG_INJECTED, SEG_DRIVER, SEG_HOST } seg_fail;

POOL_HIDDEN avf_event *pool_event_get(avf_pool *p);
POOL_HIDDEN void pool_event_put(avf_pool *p, avf_event *ev);
/* The sub-pool of stream s (NULL: default stream), created on first use;
 * NULL when out of host memory. */
POOL_HIDDEN pool_stream *pool_ss_get(avf_pool *p, avf_stream *s);
/* Rebuild the stream lookup table with at least min_slots slots. */
POOL_HIDDEN int pool_ss_reindex(avf_pool *p, size_t min_slots);
/* Drop sub-pools that own no block. */
POOL_HIDDEN void pool_ss_prune(avf_pool *p);
/* Forget sub-pool `ss` (not the default one): its blocks go to the default
 * sub-pool (free ones into its bins, merged with free neighbours there), or
 * ss itself becomes the default sub-pool when there is none. The caller has
 * synchronized ss's stream. Allocates nothing. */
POOL_HIDDEN void pool_ss_release(avf_pool *p, pool_stream *ss);
/* Park a block freed by stream s until an event recorded there completes;
 * -1 when no event could be recorded. */
POOL_HIDDEN int pool_pend_push(avf_pool *p, pool_block *b, avf_stream *s);
/* Return completed pending blocks to their bins (at most max_checks queries). */
POOL_HIDDEN void pool_collect_pending(avf_pool *p, size_t max_checks);
/* A new segment for a request of `size` bytes, as one detached block owned
 * by ss; NULL with the reason in *why (the driver's status and message in
 * *drv and drvmsg). */
POOL_HIDDEN pool_block *pool_segment_new(avf_pool *p, pool_stream *ss, size_t size, int cls,
                                         seg_fail *why, avf_status *drv, char *drvmsg,
                                         size_t drvcap);
/* Give every fully free segment back to the driver; returns the bytes. The
 * caller has synchronized the device. */
POOL_HIDDEN uint64_t pool_release_segments(avf_pool *p);
/* A free block of another stream that fits, detached and handed to ss after
 * ordering ss after the owner's work. */
POOL_HIDDEN pool_block *pool_steal(avf_pool *p, pool_stream *ss, size_t size, int cls,
                                   size_t max_size);
POOL_HIDDEN void pool_fill_stats(const avf_pool *p, avf_pool_stats *st);

#endif /* AVF_CORE_POOL_IMPL_H */
