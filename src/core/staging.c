/* avflow pinned staging ring.
 *
 * Each slot is a pinned host buffer plus an event. A slot is "held" from
 * acquire to release; release records the slot's event on the stream that
 * used it. The next acquire of that slot waits (host-side) on the event, so
 * a producer can fill one slot while copies from the others are in flight.
 *
 * The slot table is guarded by a mutex so several threads may share one
 * ring; the waits on events happen outside the mutex so one slow copy does
 * not stall threads taking other slots.
 */
#include "avflow/staging.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avflow/log.h"
#include "core/error.h"

#define AVF_STAGING_MIN_SLOT ((size_t)4 << 10)
#define AVF_STAGING_MAX_SLOT ((size_t)1 << 30)
#define AVF_STAGING_MAX_SLOTS 64

typedef struct avf_staging_slot {
    void *host;
    avf_event *event;
    int recorded; /* event holds this slot's last use (else: never used) */
    int held;     /* acquired and not yet released */
} avf_staging_slot;

struct avf_staging {
    avf_device *dev;
    size_t slot_bytes;
    int nslots;
    int next; /* where the round-robin search for a free slot starts */
    pthread_mutex_t mu;
    avf_staging_slot slots[AVF_STAGING_MAX_SLOTS];
};

static void avf_staging_destroy(avf_staging *st) {
    for (int i = 0; i < st->nslots; i++) {
        avf_staging_slot *sl = &st->slots[i];
        /* Pinned memory must outlive the copies reading/writing it. */
        if (sl->event && sl->recorded && avf_event_synchronize(sl->event) != AVF_OK)
            AVF_WARN("staging: waiting for slot %d failed: %s", i, avf_last_error());
        if (sl->event)
            avf_event_free(sl->event);
        if (sl->host && avf_host_free_pinned(st->dev, sl->host) != AVF_OK)
            AVF_WARN("staging: freeing slot %d failed: %s", i, avf_last_error());
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

avf_status avf_staging_create(avf_device *dev, size_t slot_bytes, int slots, avf_staging **out) {
    AVF_CHECK_ARG(out != NULL);
    *out = NULL;
    AVF_CHECK_ARG(dev != NULL);
    if (slot_bytes < AVF_STAGING_MIN_SLOT || slot_bytes > AVF_STAGING_MAX_SLOT)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "slot_bytes %zu is outside [4 KiB, 1 GiB]", slot_bytes);
    if (slots < 1 || slots > AVF_STAGING_MAX_SLOTS)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "slots %d is outside [1, %d]", slots,
                        AVF_STAGING_MAX_SLOTS);
    avf_staging *st = calloc(1, sizeof(*st));
    if (!st)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "staging: out of host memory");
    int rc = pthread_mutex_init(&st->mu, NULL);
    if (rc != 0) {
        free(st);
        return AVF_FAIL(AVF_ERR_INTERNAL, "staging: pthread_mutex_init failed (%d)", rc);
    }
    st->dev = dev;
    st->slot_bytes = slot_bytes;
    for (int i = 0; i < slots; i++) {
        /* Count the slot before allocating so destroy() cleans up a
         * partially built one. */
        st->nslots = i + 1;
        avf_status s = avf_host_alloc_pinned(dev, slot_bytes, &st->slots[i].host);
        if (s == AVF_OK)
            s = avf_event_create(dev, 0, &st->slots[i].event);
        if (s != AVF_OK) {
            /* Keep the first failure's message: cleanup may overwrite it. */
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", avf_last_error());
            avf_staging_destroy(st);
            return AVF_FAIL(s, "staging: slot %d of %d (%zu bytes): %s", i + 1, slots,
                            slot_bytes, msg);
        }
    }
    *out = st;
    return AVF_OK;
}

void avf_staging_free(avf_staging *st) {
    if (st)
        avf_staging_destroy(st);
}

size_t avf_staging_slot_bytes(const avf_staging *st) {
    return st ? st->slot_bytes : 0;
}

/* Mark a free slot held and return it; AVF_ERR_FULL when every slot is
 * held (waiting there could never end for a single thread that has not
 * released its slots, so it is reported instead). */
static avf_status avf_staging_take(avf_staging *st, int *slot) {
    pthread_mutex_lock(&st->mu);
    for (int k = 0; k < st->nslots; k++) {
        int i = (st->next + k) % st->nslots;
        if (!st->slots[i].held) {
            st->slots[i].held = 1;
            st->next = (i + 1) % st->nslots;
            pthread_mutex_unlock(&st->mu);
            *slot = i;
            return AVF_OK;
        }
    }
    pthread_mutex_unlock(&st->mu);
    return AVF_FAIL(AVF_ERR_FULL, "staging: all %d slots are acquired and not released",
                    st->nslots);
}

static void avf_staging_put(avf_staging *st, int slot) {
    pthread_mutex_lock(&st->mu);
    st->slots[slot].held = 0;
    pthread_mutex_unlock(&st->mu);
}

/* Wait for the held slot's previous copy. Only the holder touches
 * `recorded`/`event` while the slot is held, so no lock is needed. */
static avf_status avf_staging_wait(avf_staging *st, int slot) {
    avf_staging_slot *sl = &st->slots[slot];
    if (!sl->recorded)
        return AVF_OK;
    AVF_TRY(avf_event_synchronize(sl->event));
    sl->recorded = 0;
    return AVF_OK;
}

/* Record the slot's event after its copy was enqueued on s. If recording
 * fails, the copy may still be in flight with no way to wait for it
 * selectively, so wait for the stream/device before the slot is reused. */
static avf_status avf_staging_mark(avf_staging *st, int slot, avf_stream *s) {
    avf_staging_slot *sl = &st->slots[slot];
    avf_status rs = avf_event_record(sl->event, s);
    if (rs == AVF_OK) {
        sl->recorded = 1;
        return AVF_OK;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", avf_last_error());
    if (s)
        (void)avf_stream_synchronize(s);
    else
        (void)avf_device_synchronize(st->dev);
    sl->recorded = 0;
    return AVF_FAIL(rs, "staging: recording slot %d's event: %s", slot, msg);
}

static avf_status avf_staging_check_stream(const avf_staging *st, avf_stream *s) {
    if (s && avf_stream_device(s) != st->dev)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "stream belongs to %s, staging ring to %s",
                        avf_device_get_name(avf_stream_device(s)), avf_device_get_name(st->dev));
    return AVF_OK;
}

avf_status avf_staging_acquire(avf_staging *st, void **host, int *slot) {
    AVF_CHECK_ARG(st != NULL);
    AVF_CHECK_ARG(host != NULL);
    AVF_CHECK_ARG(slot != NULL);
    *host = NULL;
    *slot = -1;
    int i = -1;
    AVF_TRY(avf_staging_take(st, &i));
    avf_status s = avf_staging_wait(st, i);
    if (s != AVF_OK) {
        avf_staging_put(st, i);
        return s;
    }
    *host = st->slots[i].host;
    *slot = i;
    return AVF_OK;
}

avf_status avf_staging_release(avf_staging *st, int slot, avf_stream *s) {
    AVF_CHECK_ARG(st != NULL);
    if (slot < 0 || slot >= st->nslots)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "slot %d is outside [0, %d)", slot, st->nslots);
    AVF_TRY(avf_staging_check_stream(st, s));
    pthread_mutex_lock(&st->mu);
    int held = st->slots[slot].held;
    pthread_mutex_unlock(&st->mu);
    if (!held)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "slot %d is not acquired", slot);
    avf_status rs = avf_staging_mark(st, slot, s);
    /* Given back even on failure: mark() waited for the work instead. */
    avf_staging_put(st, slot);
    return rs;
}

avf_status avf_staging_upload(avf_staging *st, void *dst_dev, const void *src_host, size_t bytes,
                              avf_stream *s, const char *tag) {
    AVF_CHECK_ARG(st != NULL);
    AVF_CHECK_ARG(bytes == 0 || dst_dev != NULL);
    AVF_CHECK_ARG(bytes == 0 || src_host != NULL);
    AVF_TRY(avf_staging_check_stream(st, s));
    for (size_t off = 0; off < bytes;) {
        size_t n = bytes - off < st->slot_bytes ? bytes - off : st->slot_bytes;
        void *host;
        int slot;
        AVF_TRY(avf_staging_acquire(st, &host, &slot));
        memcpy(host, (const char *)src_host + off, n);
        avf_status cs = avf_memcpy_async(st->dev, (char *)dst_dev + off, host, n, AVF_COPY_H2D, s,
                                         tag);
        /* Release even after a failed copy so the slot is not lost; the
         * copy's error is the one to report. */
        if (cs != AVF_OK) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", avf_last_error());
            (void)avf_staging_release(st, slot, s);
            return AVF_FAIL(cs, "staging upload at offset %zu: %s", off, msg);
        }
        AVF_TRY(avf_staging_release(st, slot, s));
        off += n;
    }
    return AVF_OK;
}

/* A download chunk whose D2H copy is enqueued into a held slot. */
typedef struct avf_staging_chunk {
    int slot;
    size_t off, n;
} avf_staging_chunk;

/* Wait for the oldest chunk, copy it out of its slot and free the slot. */
static avf_status avf_staging_drain_one(avf_staging *st, avf_staging_chunk *c, void *dst_host) {
    avf_status s = avf_staging_wait(st, c->slot);
    if (s == AVF_OK)
        memcpy((char *)dst_host + c->off, st->slots[c->slot].host, c->n);
    avf_staging_put(st, c->slot);
    return s;
}

avf_status avf_staging_download(avf_staging *st, void *dst_host, const void *src_dev,
                                size_t bytes, avf_stream *s, const char *tag) {
    AVF_CHECK_ARG(st != NULL);
    AVF_CHECK_ARG(bytes == 0 || dst_host != NULL);
    AVF_CHECK_ARG(bytes == 0 || src_dev != NULL);
    AVF_TRY(avf_staging_check_stream(st, s));

    /* Pipelined: up to nslots chunks are in flight, and slots stay held
     * until their data has been copied out, so another user of the ring
     * cannot overwrite them in between. The window is a FIFO. */
    avf_staging_chunk window[AVF_STAGING_MAX_SLOTS];
    int head = 0, inflight = 0;
    avf_status err = AVF_OK;
    size_t off = 0;
    while (err == AVF_OK && (off < bytes || inflight > 0)) {
        if (off < bytes && inflight < st->nslots) {
            int slot = -1;
            avf_status ts = avf_staging_take(st, &slot);
            if (ts == AVF_OK) {
                size_t n = bytes - off < st->slot_bytes ? bytes - off : st->slot_bytes;
                avf_status cs = avf_staging_wait(st, slot);
                if (cs == AVF_OK)
                    cs = avf_memcpy_async(st->dev, st->slots[slot].host, (const char *)src_dev + off,
                                          n, AVF_COPY_D2H, s, tag);
                if (cs == AVF_OK)
                    cs = avf_staging_mark(st, slot, s);
                if (cs != AVF_OK) {
                    avf_staging_put(st, slot);
                    err = cs;
                    break;
                }
                window[(head + inflight) % AVF_STAGING_MAX_SLOTS] =
                    (avf_staging_chunk){.slot = slot, .off = off, .n = n};
                inflight++;
                off += n;
                continue;
            }
            /* Every slot is held: by our own chunks (drain one and go on)
             * or by other users while we hold none (report it). */
            if (inflight == 0) {
                err = ts;
                break;
            }
            avf_clear_error();
        }
        err = avf_staging_drain_one(st, &window[head], dst_host);
        head = (head + 1) % AVF_STAGING_MAX_SLOTS;
        inflight--;
    }
    /* On error, still wait for and give back every chunk we hold: their
     * copies target our slots. */
    if (err != AVF_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", avf_last_error());
        while (inflight > 0) {
            (void)avf_staging_wait(st, window[head].slot);
            avf_staging_put(st, window[head].slot);
            head = (head + 1) % AVF_STAGING_MAX_SLOTS;
            inflight--;
        }
        return AVF_FAIL(err, "staging download: %s", msg);
    }
    return AVF_OK;
}
