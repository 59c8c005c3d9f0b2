/* avflow serve: reference-counted host buffers for batch outputs.
 *
 * Why: a batch's outputs come back from the device once, into one host
 * buffer, and every request of the batch answers straight out of its rows
 * (the HTTP response is an iovec over them). Nothing is copied per request;
 * the buffer returns to its pool when the last response that points into it
 * has been sent. OCR-rec answers ~1 MB per request, so the two per-request
 * copies this replaces cost more CPU than everything else in the server.
 *
 * A pool keeps free buffers (pinned for the pool's device, so the D2H copy is
 * asynchronous and at full bus speed) and hands out new ones when all are in
 * flight. It retains as many as were ever in flight at once (at least
 * `keep_free`), up to an idle byte cap: pinning 68 MB (a rec batch of 64)
 * costs ~10 ms, and with 256 clients four or five batches' replies are on the
 * wire at once, so a pool that kept only two per worker allocated and freed a
 * pinned buffer on almost every batch (measured: 3,309 instead of 8,669 req/s
 * on an H200). Buffers beyond the cap are freed on release. The
 * pool is itself reference-counted: every buffer in flight holds it, so a
 * response still on the wire after its model was unloaded stays valid.
 * Pinned allocation failures fall back to plain host memory. */
#ifndef AVF_SERVE_HOSTBUF_H
#define AVF_SERVE_HOSTBUF_H

#include <stddef.h>

#include "avflow/device.h"
#include "avflow/status.h"

typedef struct avf_srv_hostbuf_pool avf_srv_hostbuf_pool;

typedef struct avf_srv_hostbuf {
    void *p;
    size_t cap;
    /* private */
    int refs;                       /* under the pool's mutex */
    int pinned;
    avf_srv_hostbuf_pool *pool;
    struct avf_srv_hostbuf *next;   /* in the pool's free list */
} avf_srv_hostbuf;

/* Idle bytes a pool retains by default (avf_srv_hostbuf_pool_set_idle_cap). */
#define AVF_SRV_HOSTBUF_IDLE_CAP ((size_t)512 << 20)

/* A pool for `dev` (the device the copies come from; NULL or the CPU device:
 * plain host memory) that keeps at least `keep_free` idle buffers, and as
 * many as its peak in flight, within the idle byte cap. */
avf_status avf_srv_hostbuf_pool_create(avf_device *dev, int keep_free,
                                       avf_srv_hostbuf_pool **out);
/* Drops the creator's reference: idle buffers are freed now, buffers in
 * flight when their last reference goes. */
void avf_srv_hostbuf_pool_release(avf_srv_hostbuf_pool *p);

/* A buffer of at least `bytes` with one reference (an idle one that is big
 * enough when there is one). AVF_ERR_OUT_OF_MEMORY when none can be had. */
avf_status avf_srv_hostbuf_get(avf_srv_hostbuf_pool *p, size_t bytes, avf_srv_hostbuf **out);
void avf_srv_hostbuf_ref(avf_srv_hostbuf *b);
/* NULL is allowed. */
void avf_srv_hostbuf_unref(avf_srv_hostbuf *b);

/* Idle buffers past `bytes` in all are freed on release (default
 * AVF_SRV_HOSTBUF_IDLE_CAP); the keep_free first ones are kept regardless. */
void avf_srv_hostbuf_pool_set_idle_cap(avf_srv_hostbuf_pool *p, size_t bytes);

/* Counters for tests and metrics. */
typedef struct avf_srv_hostbuf_stats {
    long long allocated;   /* buffers allocated over the pool's life */
    long long reused;      /* gets answered from the free list */
    int in_flight;         /* buffers with references now */
    int idle;              /* buffers in the free list now */
    size_t idle_bytes;
    int peak_in_flight;    /* most buffers in flight at once */
} avf_srv_hostbuf_stats;
void avf_srv_hostbuf_pool_stats(avf_srv_hostbuf_pool *p, avf_srv_hostbuf_stats *out);

#endif
