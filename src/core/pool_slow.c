/* The pool's slow paths: events, the per-stream table, pending cross-stream
 * frees, segments from and back to the driver, stealing between streams, and
 * statistics. See pool.c for the design; all of it runs under the pool's
 * mutex.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/log.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/pool_impl.h"

/* ------------------------------------------------------------------ events */

avf_event *pool_event_get(avf_pool *p) {
    if (p->ev_count)
        return p->ev_cache[--p->ev_count];
    avf_event *ev = NULL;
    if (avf_event_create(p->dev, 0, &ev) != AVF_OK)
        return NULL;
    return ev;
}

void pool_event_put(avf_pool *p, avf_event *ev) {
    if (p->ev_count < POOL_EVENT_CACHE)
        p->ev_cache[p->ev_count++] = ev;
    else
        avf_event_free(ev);
}

/* avf_stream_wait_event wants a stream object; the default stream is NULL. */
static avf_status stream_wait(avf_pool *p, avf_stream *s, avf_event *ev) {
    if (s)
        return avf_stream_wait_event(s, ev);
    return p->dev->ops->stream_wait_event(p->dev->index, NULL, ev->native);
}

static avf_status stream_sync(avf_pool *p, avf_stream *s) {
    return s ? avf_stream_synchronize(s) : avf_device_synchronize(p->dev);
}

/* ------------------------------------------------------------ stream table */

static void ss_index_put(avf_pool *p, pool_stream *ss) {
    size_t i = pool_ss_home(p, ss->stream);
    while (p->ss_slots[i])
        i = (i + 1) & p->ss_mask;
    p->ss_slots[i] = ss;
}

/* Rebuild the lookup table in place (same capacity, no allocation) from
 * ss_list: after a sub-pool leaves it, since linear probing cannot simply
 * clear a slot. */
static void ss_index_refill(avf_pool *p) {
    memset(p->ss_slots, 0, (p->ss_mask + 1) * sizeof *p->ss_slots);
    for (size_t i = 0; i < p->ss_count; i++)
        if (p->ss_list[i]->stream)
            ss_index_put(p, p->ss_list[i]);
}

/* Rebuild the lookup table for the streams in ss_list (at least twice as
 * many slots as streams). */
int pool_ss_reindex(avf_pool *p, size_t min_slots) {
    size_t n = 16;
    while (n < min_slots)
        n *= 2;
    pool_stream **slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    free(p->ss_slots);
    p->ss_slots = slots;
    p->ss_mask = n - 1;
    for (size_t i = 0; i < p->ss_count; i++)
        if (p->ss_list[i]->stream)
            ss_index_put(p, p->ss_list[i]);
    return 0;
}

pool_stream *pool_ss_get(avf_pool *p, avf_stream *s) {
    pool_stream *ss = pool_ss_find(p, s);
    if (!ss) {
        if (p->ss_count == p->ss_cap) {
            size_t cap = p->ss_cap ? p->ss_cap * 2 : 8;
            pool_stream **l = realloc(p->ss_list, cap * sizeof *l);
            if (!l)
                return NULL;
            p->ss_list = l;
            p->ss_cap = cap;
        }
        if (s && (p->ss_count + 1) * 2 > p->ss_mask + 1 &&
            pool_ss_reindex(p, (p->ss_count + 1) * 2) != 0)
            return NULL;
        ss = calloc(1, sizeof *ss);
        if (!ss)
            return NULL;
        ss->stream = s;
        p->ss_list[p->ss_count++] = ss;
        if (s)
            ss_index_put(p, ss);
        else
            p->default_ss = ss;
    }
    p->last_ss = ss;
    return ss;
}

/* Drop sub-pools that own no block (their stream may be gone). */
void pool_ss_prune(avf_pool *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->ss_count; i++) {
        pool_stream *ss = p->ss_list[i];
        if (ss->nblocks == 0) {
            if (ss == p->default_ss)
                p->default_ss = NULL;
            free(ss);
        } else {
            p->ss_list[n++] = ss;
        }
    }
    p->ss_count = n;
    p->last_ss = NULL;
    if (pool_ss_reindex(p, n * 2) != 0)
        ss_index_refill(p); /* keep the old table (same capacity suffices) */
}

/* Hand every block of `from` to `to` (free ones into to's bins, merged with
 * free neighbours that now share the owner). */
static void ss_hand_over(avf_pool *p, pool_stream *from, pool_stream *to) {
    for (pool_segment *seg = p->segs; seg && from->nblocks; seg = seg->next) {
        for (pool_block *b = seg->first; b && from->nblocks; b = b->next) {
            if (b->owner != from)
                continue;
            from->nblocks--;
            to->nblocks++;
            if (b->state == BLOCK_FREE) {
                unbin(p, b); /* from from's bins */
                b->owner = to;
                b = bin_free(p, b); /* may absorb b into its lower neighbour */
            } else {
                b->owner = to; /* allocated or pending: binned by its free path */
            }
        }
    }
}

void pool_ss_release(avf_pool *p, pool_stream *ss) {
    size_t k = 0;
    while (k < p->ss_count && p->ss_list[k] != ss)
        k++;
    if (k == p->ss_count || !ss->stream)
        return;
    if (p->last_ss == ss)
        p->last_ss = NULL;
    if (p->default_ss) {
        ss_hand_over(p, ss, p->default_ss);
        memmove(&p->ss_list[k], &p->ss_list[k + 1], (p->ss_count - k - 1) * sizeof *p->ss_list);
        p->ss_count--;
        free(ss);
    } else {
        /* No default sub-pool: ss becomes it, blocks and bins unchanged. */
        ss->stream = NULL;
        p->default_ss = ss;
    }
    ss_index_refill(p);
}

/* ---------------------------------------------------------------- pending */

static void pend_unlink(avf_pool *p, pool_block *b) {
    if (b->fprev)
        b->fprev->fnext = b->fnext;
    else
        p->pend_head = b->fnext;
    if (b->fnext)
        b->fnext->fprev = b->fprev;
    else
        p->pend_tail = b->fprev;
    b->fprev = b->fnext = NULL;
    p->pend_count--;
}

int pool_pend_push(avf_pool *p, pool_block *b, avf_stream *s) {
    avf_event *ev = pool_event_get(p);
    if (!ev)
        return -1;
    if (avf_event_record(ev, s) != AVF_OK) {
        avf_event_free(ev);
        return -1;
    }
    b->state = BLOCK_PENDING;
    b->event = ev;
    b->fnext = NULL;
    b->fprev = p->pend_tail;
    if (p->pend_tail)
        p->pend_tail->fnext = b;
    else
        p->pend_head = b;
    p->pend_tail = b;
    p->pend_count++;
    return 0;
}

void pool_collect_pending(avf_pool *p, size_t max_checks) {
    pool_block *b = p->pend_head;
    for (size_t n = 0; b && n < max_checks; n++) {
        pool_block *next = b->fnext;
        int done = 0;
        if (avf_event_query(b->event, &done) == AVF_OK && done) {
            pend_unlink(p, b);
            pool_event_put(p, b->event);
            b->event = NULL;
            b->seg->live--;
            b->state = BLOCK_DETACHED;
            bin_free(p, b);
        }
        b = next;
    }
}

/* --------------------------------------------------------------- segments */

pool_block *pool_segment_new(avf_pool *p, pool_stream *ss, size_t size, int cls, seg_fail *why,
                             avf_status *drv, char *drvmsg, size_t drvcap) {
    size_t exact = round_up(size, POOL_SEGMENT_ROUND);
    size_t segsize = cls == POOL_SMALL ? POOL_SMALL_SEGMENT
                     : size <= POOL_MEDIUM_MAX ? POOL_MEDIUM_SEGMENT
                                               : exact;
    /* Near the cap, a medium request takes just what it needs. */
    if (segsize > exact && p->reserved + segsize > p->limit)
        segsize = exact;
    if (segsize > p->limit || p->reserved > p->limit - segsize) {
        *why = SEG_CAP;
        return NULL;
    }
    if (p->inject_failures) {
        p->inject_failures--;
        *why = SEG_INJECTED;
        return NULL;
    }
    void *mem = NULL;
    avf_status st = avf_device_malloc(p->dev, segsize, &mem);
    if (st != AVF_OK) {
        *why = SEG_DRIVER;
        *drv = st;
        snprintf(drvmsg, drvcap, "%s", avf_last_error());
        return NULL;
    }
    pool_segment *seg = malloc(sizeof *seg);
    pool_block *b = block_new(p);
    if (!seg || !b || ((uintptr_t)mem & 255u)) {
        free(seg);
        if (b)
            block_put(p, b);
        avf_device_free(p->dev, mem);
        *why = SEG_HOST;
        return NULL;
    }
    seg->base = mem;
    seg->size = segsize;
    seg->first = b;
    seg->live = 0;
    seg->cls = (uint8_t)cls;
    seg->prev = NULL;
    seg->next = p->segs;
    if (p->segs)
        p->segs->prev = seg;
    p->segs = seg;
    b->ptr = mem;
    b->size = segsize;
    b->seg = seg;
    b->cls = (uint8_t)cls;
    b->owner = ss;
    b->state = BLOCK_DETACHED;
    ss->nblocks++;
    p->reserved += segsize;
    if (p->reserved > p->peak_reserved)
        p->peak_reserved = p->reserved;
    p->segment_count++;
    p->driver_alloc_count++;
    return b;
}

uint64_t pool_release_segments(avf_pool *p) {
    uint64_t released = 0;
    pool_segment *seg = p->segs;
    while (seg) {
        pool_segment *next = seg->next;
        if (seg->live == 0) {
            for (pool_block *b = seg->first; b;) {
                pool_block *bn = b->next;
                unbin(p, b);
                b->owner->nblocks--;
                block_put(p, b);
                b = bn;
            }
            avf_status st = avf_device_free(p->dev, seg->base);
            if (st != AVF_OK)
                AVF_WARN("pool on %s: releasing a %zu-byte segment failed: %s", p->dev->name,
                         seg->size, avf_last_error());
            if (seg->prev)
                seg->prev->next = seg->next;
            else
                p->segs = seg->next;
            if (seg->next)
                seg->next->prev = seg->prev;
            released += seg->size;
            p->reserved -= seg->size;
            p->segment_count--;
            p->driver_free_count++;
            free(seg);
        }
        seg = next;
    }
    return released;
}

/* ----------------------------------------------------------------- steal */

/* Make `to` wait for the work queued so far on `from`. */
static int order_after(avf_pool *p, pool_stream *from, pool_stream *to) {
    avf_event *ev = pool_event_get(p);
    if (ev) {
        if (avf_event_record(ev, from->stream) == AVF_OK) {
            avf_status st = stream_wait(p, to->stream, ev);
            pool_event_put(p, ev);
            if (st == AVF_OK)
                return 1;
        } else {
            avf_event_free(ev);
        }
    }
    /* Without events, wait on the host. */
    return stream_sync(p, from->stream) == AVF_OK;
}

pool_block *pool_steal(avf_pool *p, pool_stream *ss, size_t size, int cls, size_t max_size) {
    for (size_t i = 0; i < p->ss_count; i++) {
        pool_stream *o = p->ss_list[i];
        if (o == ss || !o->bins[cls].count)
            continue;
        pool_block *b = pool_bins_find(&o->bins[cls], size, max_size);
        if (!b || !order_after(p, o, ss))
            continue;
        unbin(p, b);
        o->nblocks--;
        ss->nblocks++;
        b->owner = ss;
        p->stolen_count++;
        return b;
    }
    return NULL;
}

/* ------------------------------------------------------------------ stats */

void pool_fill_stats(const avf_pool *p, avf_pool_stats *st) {
    memset(st, 0, sizeof *st);
    st->in_use_bytes = p->in_use;
    st->requested_bytes = p->requested;
    st->reserved_bytes = p->reserved;
    st->peak_in_use_bytes = p->peak_in_use;
    st->peak_reserved_bytes = p->peak_reserved;
    st->limit_bytes = p->limit;
    st->alloc_count = p->alloc_count;
    st->alloc_bytes_total = p->alloc_bytes_total;
    st->free_count = p->free_count;
    st->failed_count = p->failed_count;
    st->reused_count = p->reused_count;
    st->stolen_count = p->stolen_count;
    st->driver_alloc_count = p->driver_alloc_count;
    st->driver_free_count = p->driver_free_count;
    st->segment_count = p->segment_count;
    st->free_block_count = p->free_blocks;
    size_t largest = 0;
    for (size_t i = 0; i < p->ss_count; i++)
        for (int c = 0; c < POOL_CLASSES; c++) {
            size_t l = pool_bins_largest(&p->ss_list[i]->bins[c]);
            if (l > largest)
                largest = l;
        }
    st->largest_free_block = largest;
    st->reuse_rate = p->alloc_count ? (double)p->reused_count / (double)p->alloc_count : 0.0;
    st->fragmentation = (p->free_blocks > 1 && p->free_bytes > 0)
                            ? 1.0 - (double)largest / (double)p->free_bytes
                            : 0.0;
}
