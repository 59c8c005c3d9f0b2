/* The caching device memory pool (see include/avflow/pool.h).
 *
 * Memory comes from the driver only through avf_device_malloc/free, in
 * segments:
 *   - requests <= 1 MiB ("small") are carved from 2 MiB segments,
 *   - requests <= 10 MiB from 20 MiB segments,
 *   - larger requests get a segment of their own, rounded up to 2 MiB.
 * Small blocks and the rest ("large") never share a segment and sit in
 * separate bins, so short-lived small tensors cannot fragment big buffers.
 *
 * Blocks of a segment form an address-ordered list. An allocation splits the
 * block it takes when the remainder is worth keeping: any remainder (>= 512 B)
 * for small blocks; for large blocks only a remainder above 1 MiB (as in
 * PyTorch's caching allocator: smaller tails would only fragment; they stay
 * with the block and count as in use). A freed block merges with the free
 * neighbours of its segment that belong to the same stream.
 *
 * Free blocks are kept per stream (struct pool_stream, one per avf_stream
 * used, NULL being the default stream), each with small and large TLSF bins
 * (pool_bins.h). A block is reused at once by its own stream. Freeing with
 * another stream records an event there and parks the block until the event
 * completes. A stream with no fitting block takes one from another stream
 * after making itself wait on an event recorded on the owner stream. Medium
 * requests (1-10 MiB, whose home is a 20 MiB segment) do not take a block
 * more than 20 MiB larger than themselves unless memory is short (a new
 * segment would fail), which keeps a 4 MiB tensor from pinning a freed
 * 400 MiB buffer. Larger requests take any block that fits (best fit by bin):
 * on an inference trace, refusing them too cost more segments than it saved.
 *
 * When a segment cannot be had (cap or driver), the pool synchronizes the
 * device, reclaims pending blocks, tries any fitting cached block, releases
 * every fully free segment and asks once more before failing.
 *
 * One mutex guards everything; watermark callbacks run after it is released.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/log.h"
#include "avflow/pool.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/pool_impl.h"

/* A stream released with avf_pool_release_stream (before the caller frees
 * it) is synchronized; its sub-pool's blocks go to the default sub-pool,
 * cached free ones into its bins, and the sub-pool leaves the table, so no
 * block, sub-pool or lookup slot keeps the stream's pointer. Parked blocks
 * hold only an event, never the freeing stream.
 */

/* ------------------------------------------------------------- public API */

void avf_pool_config_default(avf_pool_config *cfg) {
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->high_fraction = 0.85;
    cfg->critical_fraction = 0.95;
}

avf_status avf_pool_create(avf_device *dev, const avf_pool_config *cfg, avf_pool **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(dev != NULL);
    avf_pool_config c;
    if (cfg)
        c = *cfg;
    else
        avf_pool_config_default(&c);
    double high = c.high_fraction == 0.0 ? 0.85 : c.high_fraction;
    double crit = c.critical_fraction == 0.0 ? 0.95 : c.critical_fraction;
    if (!(c.cap_fraction >= 0.0 && c.cap_fraction <= 1.0))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "pool cap_fraction %g is not in [0, 1]", c.cap_fraction);
    if (!(high > 0.0 && high <= 1.0) || !(crit > 0.0 && crit <= 1.0) || high > crit)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "pool watermarks high %g / critical %g: need 0 < high <= critical <= 1",
                        high, crit);
    uint64_t free_b = 0, total = 0;
    AVF_TRY(avf_device_mem_info(dev, &free_b, &total));
    uint64_t limit = total;
    if (c.cap_bytes || c.cap_fraction > 0.0) {
        limit = c.cap_bytes ? c.cap_bytes : UINT64_MAX;
        if (c.cap_fraction > 0.0) {
            uint64_t f = (uint64_t)((double)total * c.cap_fraction);
            if (f < limit)
                limit = f;
        }
    }

    avf_pool *p = calloc(1, sizeof *p);
    if (!p)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "pool struct");
    if (pool_hash_init(&p->live, POOL_HASH_LOG2) != 0 || pool_ss_reindex(p, 16) != 0) {
        free(p->live.slots);
        free(p->ss_slots);
        free(p);
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "pool tables");
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p->live.slots);
        free(p->ss_slots);
        free(p);
        return AVF_FAIL(AVF_ERR_INTERNAL, "pool mutex");
    }
    p->dev = dev;
    p->limit = limit;
    p->high_bytes = (uint64_t)(high * (double)limit);
    p->crit_bytes = (uint64_t)(crit * (double)limit);
    p->on_watermark = c.on_watermark;
    p->watermark_user = c.watermark_user;
    p->high_armed = p->crit_armed = 1;
    *out = p;
    return AVF_OK;
}

void avf_pool_free_all(avf_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->live.count)
        AVF_WARN("pool on %s freed with %zu block(s) (%" PRIu64 " bytes) still allocated; "
                 "releasing them",
                 p->dev->name, p->live.count, p->in_use);
    (void)avf_device_synchronize(p->dev);
    for (pool_block *b = p->pend_head; b; b = b->fnext)
        avf_event_free(b->event);
    for (pool_segment *seg = p->segs, *next; seg; seg = next) {
        next = seg->next;
        if (avf_device_free(p->dev, seg->base) != AVF_OK)
            AVF_WARN("pool on %s: releasing a segment failed: %s", p->dev->name, avf_last_error());
        free(seg);
    }
    for (unsigned i = 0; i < p->ev_count; i++)
        avf_event_free(p->ev_cache[i]);
    for (size_t i = 0; i < p->ss_count; i++)
        free(p->ss_list[i]);
    for (pool_chunk *c = p->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(p->ss_list);
    free(p->ss_slots);
    free(p->live.slots);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* The slow path: no fitting block in the stream's own bins. */
static avf_status alloc_slow(avf_pool *p, pool_stream *ss, size_t size, size_t bytes, int cls,
                             pool_block **out, int *from_driver) {
    size_t strict = fit_limit(size, cls);
    pool_block *b = NULL;
    if (p->pend_head) {
        pool_collect_pending(p, POOL_PENDING_CHECKS);
        b = pool_bins_find(&ss->bins[cls], size, strict);
        if (b)
            unbin(p, b);
    }
    if (!b)
        b = pool_steal(p, ss, size, cls, strict);
    seg_fail why = SEG_OK;
    avf_status drv = AVF_OK;
    char drvmsg[256] = "";
    if (!b && (b = pool_segment_new(p, ss, size, cls, &why, &drv, drvmsg, sizeof drvmsg)) != NULL)
        *from_driver = 1;
    if (b) {
        *out = b;
        return AVF_OK;
    }
    if (why == SEG_DRIVER && drv != AVF_ERR_OUT_OF_MEMORY)
        return AVF_FAIL(drv, "avf_pool_alloc(%zu bytes) on %s: driver allocation failed: %s", bytes,
                        p->dev->name, drvmsg);

    /* Memory is short: use what is cached, then release it and retry once. */
    avf_status st = avf_device_synchronize(p->dev);
    if (st != AVF_OK)
        return st;
    pool_collect_pending(p, SIZE_MAX);
    b = pool_bins_find(&ss->bins[cls], size, SIZE_MAX);
    if (b)
        unbin(p, b);
    else
        b = pool_steal(p, ss, size, cls, SIZE_MAX);
    if (!b) {
        pool_release_segments(p);
        why = SEG_OK;
        drvmsg[0] = '\0';
        b = pool_segment_new(p, ss, size, cls, &why, &drv, drvmsg, sizeof drvmsg);
        if (b)
            *from_driver = 1;
    }
    if (b) {
        *out = b;
        return AVF_OK;
    }
    if (why == SEG_DRIVER && drv != AVF_ERR_OUT_OF_MEMORY)
        return AVF_FAIL(drv, "avf_pool_alloc(%zu bytes) on %s: driver allocation failed: %s", bytes,
                        p->dev->name, drvmsg);
    const char *reason = why == SEG_CAP        ? "pool cap reached"
                         : why == SEG_INJECTED ? "driver out of memory (injected failure)"
                         : why == SEG_HOST     ? "host out of memory for pool bookkeeping"
                                               : "driver out of memory";
    return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY,
                    "avf_pool_alloc(%zu bytes) on %s: %s after releasing cached segments: "
                    "reserved %" PRIu64 ", in use %" PRIu64 ", limit %" PRIu64 " bytes%s%s",
                    bytes, p->dev->name, reason, p->reserved, p->in_use, p->limit,
                    drvmsg[0] ? "; " : "", drvmsg);
}

static avf_status alloc_fail(avf_pool *p, avf_status st) {
    pthread_mutex_lock(&p->mu);
    p->failed_count++;
    pthread_mutex_unlock(&p->mu);
    return st;
}

avf_status avf_pool_alloc(avf_pool *p, size_t bytes, avf_stream *s, void **ptr) {
    if (ptr)
        *ptr = NULL;
    AVF_CHECK_ARG(p != NULL);
    if (!ptr)
        return alloc_fail(p, AVF_FAIL(AVF_ERR_INVALID_ARG, "avf_pool_alloc: NULL out pointer"));
    if (bytes == 0)
        return alloc_fail(p, AVF_FAIL(AVF_ERR_INVALID_ARG, "avf_pool_alloc: zero bytes requested"));
    if (bytes > POOL_MAX_REQUEST)
        return alloc_fail(p, AVF_FAIL(AVF_ERR_INVALID_ARG,
                                      "avf_pool_alloc: %zu bytes is beyond any device (max 2^50)",
                                      bytes));
    if (s && s->dev != p->dev)
        return alloc_fail(p, AVF_FAIL(AVF_ERR_INVALID_ARG,
                                      "avf_pool_alloc: stream of %s used with a pool on %s",
                                      s->dev->name, p->dev->name));
    size_t size = round_up(bytes, POOL_ROUND);
    int cls = size <= POOL_SMALL_MAX ? POOL_SMALL : POOL_LARGE;
    size_t min_segment = cls == POOL_SMALL ? POOL_SMALL_SEGMENT : round_up(size, POOL_SEGMENT_ROUND);
    if (min_segment > p->limit)
        return alloc_fail(p, AVF_FAIL(AVF_ERR_OUT_OF_MEMORY,
                                      "avf_pool_alloc(%zu bytes) on %s: request exceeds the pool "
                                      "cap of %" PRIu64 " bytes (needs a %zu-byte segment)",
                                      bytes, p->dev->name, p->limit, min_segment));

    avf_pool_watermark fire[2];
    int nfire = 0;
    avf_pool_stats wst;
    avf_status st = AVF_OK;
    pool_block *b = NULL;
    int from_driver = 0;

    pthread_mutex_lock(&p->mu);
    pool_stream *ss = pool_ss_find(p, s);
    if (ss)
        p->last_ss = ss;
    else
        ss = pool_ss_get(p, s); /* first use of this stream */
    if (!ss || pool_hash_reserve(&p->live) != 0) {
        st = AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "avf_pool_alloc: host out of memory for pool tables");
    } else {
        if (p->pend_head && (++p->tick & 63u) == 0)
            pool_collect_pending(p, 4);
        b = pool_bins_find(&ss->bins[cls], size, fit_limit(size, cls));
        if (b)
            unbin(p, b);
        else
            st = alloc_slow(p, ss, size, bytes, cls, &b, &from_driver);
    }
    if (b) {
        split(p, b, size);
        b->state = BLOCK_ALLOC;
        b->requested = bytes;
        b->seg->live++;
        pool_hash_put_raw(&p->live, (uintptr_t)b->ptr, b);
        p->in_use += b->size;
        p->requested += bytes;
        if (p->in_use > p->peak_in_use)
            p->peak_in_use = p->in_use;
        p->alloc_count++;
        p->alloc_bytes_total += b->size;
        if (!from_driver)
            p->reused_count++;
        if (p->on_watermark) {
            if (p->high_armed && p->in_use >= p->high_bytes) {
                p->high_armed = 0;
                fire[nfire++] = AVF_POOL_WATERMARK_HIGH;
            }
            if (p->crit_armed && p->in_use >= p->crit_bytes) {
                p->crit_armed = 0;
                fire[nfire++] = AVF_POOL_WATERMARK_CRITICAL;
            }
            if (nfire)
                pool_fill_stats(p, &wst);
        }
        *ptr = b->ptr;
    } else {
        p->failed_count++;
    }
    pthread_mutex_unlock(&p->mu);

    for (int i = 0; i < nfire; i++)
        p->on_watermark(p, fire[i], &wst, p->watermark_user);
    return st;
}

avf_status avf_pool_free(avf_pool *p, void *ptr, avf_stream *s) {
    if (!ptr)
        return AVF_OK;
    AVF_CHECK_ARG(p != NULL);
    if (s && s->dev != p->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "avf_pool_free: stream of %s used with a pool on %s",
                        s->dev->name, p->dev->name);
    avf_status st = AVF_OK;
    pthread_mutex_lock(&p->mu);
    pool_block *b = pool_hash_take(&p->live, (uintptr_t)ptr);
    if (!b) {
        pthread_mutex_unlock(&p->mu);
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "avf_pool_free: %p was not allocated by this pool or was already freed", ptr);
    }
    p->in_use -= b->size;
    p->requested -= b->requested;
    p->free_count++;
    if (!p->high_armed && p->in_use < p->high_bytes)
        p->high_armed = 1;
    if (!p->crit_armed && p->in_use < p->crit_bytes)
        p->crit_armed = 1;
    b->requested = 0;
    if (s && s != b->owner->stream) {
        /* Reusable by the owner only once the freeing stream's work is done. */
        if (pool_pend_push(p, b, s) == 0) {
            pthread_mutex_unlock(&p->mu);
            return AVF_OK;
        }
        /* No event: wait on the host, then the block is free at once. */
        st = avf_stream_synchronize(s);
    }
    b->seg->live--;
    b->state = BLOCK_DETACHED;
    bin_free(p, b);
    pthread_mutex_unlock(&p->mu);
    return st;
}

avf_status avf_pool_trim(avf_pool *p, uint64_t *released) {
    if (released)
        *released = 0;
    AVF_CHECK_ARG(p != NULL);
    pthread_mutex_lock(&p->mu);
    avf_status st = avf_device_synchronize(p->dev);
    uint64_t rel = 0;
    if (st == AVF_OK) {
        pool_collect_pending(p, SIZE_MAX);
        rel = pool_release_segments(p);
        pool_ss_prune(p);
    }
    pthread_mutex_unlock(&p->mu);
    if (released)
        *released = rel;
    return st;
}

avf_status avf_pool_release_stream(avf_pool *p, avf_stream *s) {
    AVF_CHECK_ARG(p != NULL);
    if (!s)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "avf_pool_release_stream: NULL stream (the default stream is "
                        "never released)");
    if (s->dev != p->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG,
                        "avf_pool_release_stream: stream of %s used with a pool on %s",
                        s->dev->name, p->dev->name);
    pthread_mutex_lock(&p->mu);
    /* After this, blocks freed on s (parked on an event of s) are done, and
     * s's cached blocks are safe for the default stream to reuse at once. A
     * failed synchronize is reported, but s is forgotten all the same: the
     * caller is about to free it. */
    avf_status st = avf_stream_synchronize(s);
    if (p->pend_head)
        pool_collect_pending(p, SIZE_MAX);
    pool_stream *ss = pool_ss_find(p, s);
    if (ss)
        pool_ss_release(p, ss);
    pthread_mutex_unlock(&p->mu);
    return st;
}

avf_status avf_pool_get_stats(avf_pool *p, avf_pool_stats *stats) {
    AVF_CHECK_ARG(p != NULL && stats != NULL);
    pthread_mutex_lock(&p->mu);
    pool_fill_stats(p, stats);
    pthread_mutex_unlock(&p->mu);
    return AVF_OK;
}

void avf_pool_reset_counters(avf_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->peak_in_use = p->in_use;
    p->peak_reserved = p->reserved;
    p->alloc_count = p->free_count = p->failed_count = 0;
    p->alloc_bytes_total = 0;
    p->reused_count = p->stolen_count = 0;
    p->driver_alloc_count = p->driver_free_count = 0;
    pthread_mutex_unlock(&p->mu);
}

avf_device *avf_pool_device(const avf_pool *p) { return p ? p->dev : NULL; }

void avf_pool_inject_driver_failures(avf_pool *p, uint32_t n) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->inject_failures = n;
    pthread_mutex_unlock(&p->mu);
}
