/* Internal to pool.c: the pool's block, segment and per-stream structures,
 * its TLSF-style size bins and its pointer -> block hash table.
 *
 * Bins (two-level segregated fit, as in TLSF): a free block of `size` bytes
 * (a multiple of 512) sits in first-level bin fl = floor(log2(size)) and
 * second-level bin sl = the next POOL_SL_LOG2 bits below the leading one, so
 * each power-of-two range is cut into 8 bins of equal width (12.5 % of the
 * range). A 64-bit map of non-empty first-level bins and an 8-bit map of
 * non-empty second-level bins per first level find the smallest non-empty
 * bin at or above any index with two count-trailing-zeros: O(1).
 *
 * The hash maps the pointer of every allocated block to its block: open
 * addressing, linear probing, at most half full, deletion by backward shift
 * (no tombstones), so lookups stay short whatever the history.
 *
 * Everything here is called with the pool's mutex held.
 */
#ifndef AVF_CORE_POOL_BINS_H
#define AVF_CORE_POOL_BINS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "avflow/device.h"

#define POOL_FL_MIN 9   /* 512 B, the smallest block */
#define POOL_SL_LOG2 3
#define POOL_SL_COUNT (1u << POOL_SL_LOG2)
#define POOL_FL_COUNT 43 /* floor(log2) from 9 to 51: blocks up to 2^52 - 1 */
#define POOL_FLOOR_SCAN 4 /* blocks of the request's own bin examined first */

enum { POOL_SMALL = 0, POOL_LARGE = 1, POOL_CLASSES = 2 };

/* Block states. DETACHED: owned by the code path holding it, in no list. */
enum { BLOCK_FREE = 0, BLOCK_ALLOC, BLOCK_PENDING, BLOCK_DETACHED };

typedef struct pool_block pool_block;
typedef struct pool_segment pool_segment;
typedef struct pool_stream pool_stream;

struct pool_block {
    char *ptr;
    size_t size;           /* bytes of the block, a multiple of 512 */
    size_t requested;      /* bytes the caller asked for (allocated blocks) */
    pool_segment *seg;
    pool_block *prev, *next;   /* neighbours in the segment, by address */
    pool_block *fprev, *fnext; /* bin list, pending list or spare list */
    pool_stream *owner;        /* sub-pool whose stream the block belongs to */
    avf_event *event;          /* pending blocks: recorded on the freeing stream */
    uint8_t state;
    uint8_t cls;               /* its segment's: POOL_SMALL or POOL_LARGE */
    uint8_t fl, sl;            /* bin while BLOCK_FREE */
};

struct pool_segment {
    char *base;
    size_t size;
    pool_block *first;          /* block at base (the lower block survives merges) */
    pool_segment *prev, *next;  /* the pool's segment list */
    size_t live;                /* blocks allocated or pending */
    uint8_t cls;                /* POOL_SMALL or POOL_LARGE: which bins its blocks use */
};

typedef struct pool_bins {
    uint64_t fl_map;
    uint8_t sl_map[POOL_FL_COUNT];
    size_t count;
    pool_block *head[POOL_FL_COUNT][POOL_SL_COUNT];
} pool_bins;

struct pool_stream {
    avf_stream *stream;               /* key; NULL: the device's default stream */
    pool_bins bins[POOL_CLASSES];
    size_t nblocks;                   /* blocks owned, in any state */
};

static inline unsigned pool_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

static inline void pool_bin_index(size_t size, unsigned *fl, unsigned *sl) {
    unsigned f = pool_log2(size);
    *sl = (unsigned)(size >> (f - POOL_SL_LOG2)) & (POOL_SL_COUNT - 1);
    *fl = f - POOL_FL_MIN;
}

static inline void pool_bins_insert(pool_bins *t, pool_block *b) {
    unsigned fl, sl;
    pool_bin_index(b->size, &fl, &sl);
    b->fl = (uint8_t)fl;
    b->sl = (uint8_t)sl;
    b->fprev = NULL;
    b->fnext = t->head[fl][sl];
    if (b->fnext)
        b->fnext->fprev = b;
    t->head[fl][sl] = b;
    t->fl_map |= 1ull << fl;
    t->sl_map[fl] |= (uint8_t)(1u << sl);
    t->count++;
}

static inline void pool_bins_remove(pool_bins *t, pool_block *b) {
    unsigned fl = b->fl, sl = b->sl;
    if (b->fprev)
        b->fprev->fnext = b->fnext;
    else
        t->head[fl][sl] = b->fnext;
    if (b->fnext)
        b->fnext->fprev = b->fprev;
    b->fprev = b->fnext = NULL;
    if (!t->head[fl][sl]) {
        t->sl_map[fl] &= (uint8_t)~(1u << sl);
        if (!t->sl_map[fl])
            t->fl_map &= ~(1ull << fl);
    }
    t->count--;
}

/* A free block of at least `size` bytes, or NULL. First the few blocks of the
 * request's own bin are examined (exact and near-exact fits, the common case
 * when shapes repeat); then the smallest block of the first non-empty higher
 * bin, which is guaranteed to fit. That block is refused when it is larger
 * than `max_size`, so a small request does not carve up a huge block (every
 * block of higher bins would be larger still). */
static inline pool_block *pool_bins_find(const pool_bins *t, size_t size, size_t max_size) {
    if (!t->count)
        return NULL;
    unsigned fl, sl;
    pool_bin_index(size, &fl, &sl);
    int n = 0;
    for (pool_block *b = t->head[fl][sl]; b && n < POOL_FLOOR_SCAN; b = b->fnext, n++)
        if (b->size >= size)
            return b;
    if (++sl == POOL_SL_COUNT) {
        sl = 0;
        fl++;
    }
    if (fl >= POOL_FL_COUNT)
        return NULL;
    unsigned slm = t->sl_map[fl] & (0xffu << sl);
    if (!slm) {
        uint64_t flm = t->fl_map & (~0ull << (fl + 1));
        if (!flm)
            return NULL;
        fl = (unsigned)__builtin_ctzll(flm);
        slm = t->sl_map[fl];
    }
    sl = (unsigned)__builtin_ctz(slm);
    pool_block *b = t->head[fl][sl];
    return b->size <= max_size ? b : NULL;
}

/* Size of the largest free block in the bins (walks the highest bin only). */
static inline size_t pool_bins_largest(const pool_bins *t) {
    if (!t->fl_map)
        return 0;
    unsigned fl = pool_log2(t->fl_map);
    unsigned sl = pool_log2(t->sl_map[fl]);
    size_t best = 0;
    for (const pool_block *b = t->head[fl][sl]; b; b = b->fnext)
        if (b->size > best)
            best = b->size;
    return best;
}

/* ------------------------------------------------------------ pointer hash */

typedef struct pool_hslot {
    uintptr_t key; /* 0: empty */
    pool_block *b;
} pool_hslot;

typedef struct pool_hash {
    pool_hslot *slots;
    size_t mask;
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
} pool_hash;

static inline size_t pool_hash_home(const pool_hash *h, uintptr_t key) {
    /* Fibonacci hashing of the pointer without its always-zero low bits. */
    return (size_t)(((uint64_t)(key >> 8) * 0x9E3779B97F4A7C15ull) >> h->shift);
}

static inline int pool_hash_init(pool_hash *h, unsigned log2cap) {
    h->slots = calloc((size_t)1 << log2cap, sizeof *h->slots);
    if (!h->slots)
        return -1;
    h->mask = ((size_t)1 << log2cap) - 1;
    h->shift = 64u - log2cap;
    h->count = 0;
    return 0;
}

static inline void pool_hash_put_raw(pool_hash *h, uintptr_t key, pool_block *b) {
    size_t i = pool_hash_home(h, key);
    while (h->slots[i].key)
        i = (i + 1) & h->mask;
    h->slots[i].key = key;
    h->slots[i].b = b;
    h->count++;
}

/* Make room for one more entry (keeps the table at most half full). */
static inline int pool_hash_reserve(pool_hash *h) {
    if ((h->count + 1) * 2 <= h->mask + 1)
        return 0;
    pool_hash old = *h;
    unsigned log2cap = 64u - old.shift + 1u;
    if (pool_hash_init(h, log2cap) != 0) {
        *h = old;
        return -1;
    }
    for (size_t i = 0; i <= old.mask; i++)
        if (old.slots[i].key)
            pool_hash_put_raw(h, old.slots[i].key, old.slots[i].b);
    free(old.slots);
    return 0;
}

/* Remove `key`, returning its block, or NULL when absent. */
static inline pool_block *pool_hash_take(pool_hash *h, uintptr_t key) {
    size_t i = pool_hash_home(h, key);
    while (h->slots[i].key != key) {
        if (!h->slots[i].key)
            return NULL;
        i = (i + 1) & h->mask;
    }
    pool_block *b = h->slots[i].b;
    /* Backward-shift deletion: pull later entries of the probe run into the
     * hole unless their home lies cyclically in (hole, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & h->mask;
        if (!h->slots[j].key)
            break;
        size_t home = pool_hash_home(h, h->slots[j].key);
        int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            h->slots[i] = h->slots[j];
            i = j;
        }
    }
    h->slots[i].key = 0;
    h->slots[i].b = NULL;
    h->count--;
    return b;
}

#endif /* AVF_CORE_POOL_BINS_H */
