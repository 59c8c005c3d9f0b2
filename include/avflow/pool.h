/* avflow caching device memory pool: the base of every allocation on the
 * request path.
 *
 * The pool takes large segments from the driver and carves them into blocks.
 * Freed blocks are cached and reused, so after warm-up the request path never
 * calls cudaMalloc/cudaFree (which synchronize the device).
 *
 *  - Size classes: requests are rounded up to 512 bytes; free blocks sit in
 *    segregated size bins (two-level, with a bitmap) so a fitting block is
 *    found in constant time. Small requests (<= 1 MiB) are carved from 2 MiB
 *    segments, medium (<= 10 MiB) from 20 MiB segments, larger ones get a
 *    segment rounded up to 2 MiB.
 *  - Splitting and coalescing: a block larger than the request is split; a
 *    freed block merges with free neighbours of its segment.
 *  - Per-stream reuse: a block belongs to the stream it was allocated on and
 *    is reused at once by later allocations on that stream (stream order makes
 *    that safe). A block freed with a different stream than its own is held
 *    until an event recorded on that stream completes. When a stream has no
 *    fitting block, a free block of another stream is taken after making the
 *    requesting stream wait on an event of the owner stream.
 *  - Stream lifetime: the pool keys sub-pools by avf_stream pointer and
 *    records events on a block's owner stream, so a stream used with a pool
 *    (to allocate or free) must outlive its use by the pool, or be released
 *    with avf_pool_release_stream() before avf_stream_free(). Freeing the
 *    pool first (avf_pool_free_all) also ends its use of every stream.
 *  - Cap: at most cap bytes reserved (config.cap_bytes, or cap_fraction of
 *    the device's memory). Before failing an allocation for the cap or for a
 *    driver out-of-memory, the pool releases its cached free segments and
 *    retries once.
 *  - Watermarks: callbacks fire when bytes in use cross 85 % and 95 % of the
 *    limit upwards (re-armed when usage falls back below), so caches such as
 *    resident models can evict. Callbacks run without the pool's lock held,
 *    so they may free pool memory.
 *  - Thread-safe: one mutex per pool.
 */
#ifndef AVFLOW_POOL_H
#define AVFLOW_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/device.h"
#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_pool avf_pool;

typedef enum avf_pool_watermark {
    AVF_POOL_WATERMARK_HIGH = 0,     /* in use crossed high_fraction (0.85) of limit */
    AVF_POOL_WATERMARK_CRITICAL = 1, /* in use crossed critical_fraction (0.95) */
} avf_pool_watermark;

typedef struct avf_pool_stats {
    uint64_t in_use_bytes;      /* bytes in live blocks (rounded sizes) */
    uint64_t requested_bytes;   /* bytes callers asked for, live */
    uint64_t reserved_bytes;    /* bytes held from the driver (segments) */
    uint64_t peak_in_use_bytes;
    uint64_t peak_reserved_bytes;
    uint64_t limit_bytes;       /* the cap in force (device memory if none) */
    uint64_t alloc_count;       /* successful allocations */
    uint64_t alloc_bytes_total; /* their sizes summed (rounded): what no reuse would need */
    uint64_t free_count;
    uint64_t failed_count;      /* allocations that returned an error */
    uint64_t reused_count;      /* allocations served without a driver call */
    uint64_t stolen_count;      /* of those, blocks taken from another stream */
    uint64_t driver_alloc_count;
    uint64_t driver_free_count;
    uint64_t segment_count;     /* segments currently held */
    uint64_t free_block_count;  /* cached free blocks */
    uint64_t largest_free_block;
    double reuse_rate;          /* reused_count / alloc_count (0 if none) */
    /* External fragmentation of cached memory: 1 - largest free block / free
     * bytes cached (0 when nothing or one block is cached). */
    double fragmentation;
} avf_pool_stats;

typedef void (*avf_pool_watermark_fn)(avf_pool *pool, avf_pool_watermark level,
                                      const avf_pool_stats *stats, void *user);

typedef struct avf_pool_config {
    uint64_t cap_bytes;        /* 0: no byte cap */
    double cap_fraction;       /* 0: none; else (0,1] of device total memory */
    double high_fraction;      /* 0 selects 0.85 */
    double critical_fraction;  /* 0 selects 0.95 */
    avf_pool_watermark_fn on_watermark; /* may be NULL */
    void *watermark_user;
} avf_pool_config;

/* Fill a config with the defaults (no cap, 0.85/0.95 watermarks). */
void avf_pool_config_default(avf_pool_config *cfg);

/* Create a pool on `dev`. cfg may be NULL for defaults. When both caps are
 * set the smaller wins. */
avf_status avf_pool_create(avf_device *dev, const avf_pool_config *cfg, avf_pool **out);
/* Release every segment to the driver. Blocks still allocated are reported
 * (log warning) and their memory is released too. NULL is ignored. */
void avf_pool_free_all(avf_pool *pool);

/* Allocate `bytes` (> 0) for use on stream `s` (NULL: default stream). The
 * pointer is 256-byte aligned. Errors: AVF_ERR_INVALID_ARG (0 bytes, NULL
 * out pointer, or more than 2^50 bytes), AVF_ERR_OUT_OF_MEMORY (a request
 * larger than the cap, the cap reached, or the driver out of memory, after
 * releasing cached segments; the message says which). */
avf_status avf_pool_alloc(avf_pool *pool, size_t bytes, avf_stream *s, void **ptr);
/* Return a block. `s` is the stream whose work last used it (NULL: the block's
 * own stream). AVF_ERR_INVALID_ARG for a pointer this pool did not hand out
 * or that was already freed. NULL ptr is a no-op returning AVF_OK. */
avf_status avf_pool_free(avf_pool *pool, void *ptr, avf_stream *s);

/* Forget stream `s` before it is freed: waits for the work queued on `s`,
 * hands every block the pool holds for `s` (cached free blocks, live blocks
 * allocated on it, blocks parked on an event of it) to the device's default
 * stream, and drops its sub-pool. After this the pool keeps no reference to
 * `s`. Live blocks stay valid; freeing them later is as for blocks of the
 * default stream. AVF_ERR_INVALID_ARG for NULL pool, NULL stream or a stream
 * of another device. A stream the pool never used is fine (AVF_OK, nothing to
 * hand over). Should the synchronize fail, its error is returned, but `s` is
 * forgotten all the same. */
avf_status avf_pool_release_stream(avf_pool *pool, avf_stream *s);

/* Return every fully free cached segment to the driver (waits for pending
 * cross-stream frees first). Reports the bytes released if `released` given. */
avf_status avf_pool_trim(avf_pool *pool, uint64_t *released);

avf_status avf_pool_get_stats(avf_pool *pool, avf_pool_stats *stats);
/* Reset peaks and counters (not the live byte counts). */
void avf_pool_reset_counters(avf_pool *pool);

avf_device *avf_pool_device(const avf_pool *pool);

/* Test hook: the next `n` driver allocations fail as if out of memory. */
void avf_pool_inject_driver_failures(avf_pool *pool, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_POOL_H */
