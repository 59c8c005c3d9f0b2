/* Reference-counted output buffers with a small free list (see hostbuf.h). */
#include "serve/hostbuf.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"

struct avf_srv_hostbuf_pool {
    pthread_mutex_t mu;
    avf_device *dev;          /* NULL: plain host memory */
    int keep_free;
    size_t idle_cap;          /* idle bytes kept beyond keep_free buffers */
    int refs;                 /* the creator + one per buffer in flight */
    avf_srv_hostbuf *idle;    /* free list, most recently released first */
    int n_idle;
    avf_srv_hostbuf_stats st;
};

avf_status avf_srv_hostbuf_pool_create(avf_device *dev, int keep_free,
                                       avf_srv_hostbuf_pool **out) {
    *out = NULL;
    AVF_CHECK_ARG(keep_free >= 0 && keep_free <= 1024);
    avf_srv_hostbuf_pool *p = calloc(1, sizeof *p);
    if (!p)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "output buffers: out of memory");
    pthread_mutex_init(&p->mu, NULL);
    p->dev = dev && avf_device_get_kind(dev) != AVF_DEVICE_CPU ? dev : NULL;
    p->keep_free = keep_free;
    p->idle_cap = AVF_SRV_HOSTBUF_IDLE_CAP;
    p->refs = 1;
    *out = p;
    return AVF_OK;
}

static void buf_free(avf_srv_hostbuf_pool *p, avf_srv_hostbuf *b) {
    if (b->pinned)
        avf_host_free_pinned(p->dev, b->p);
    else
        free(b->p);
    free(b);
}

/* Called with p->mu held; returns 1 when the pool must be destroyed. */
static int pool_drop_locked(avf_srv_hostbuf_pool *p) { return --p->refs == 0; }

static void pool_destroy(avf_srv_hostbuf_pool *p) {
    while (p->idle) {
        avf_srv_hostbuf *b = p->idle;
        p->idle = b->next;
        buf_free(p, b);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void avf_srv_hostbuf_pool_release(avf_srv_hostbuf_pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    /* nobody will get from it again: idle buffers go now */
    avf_srv_hostbuf *list = p->idle;
    p->idle = NULL;
    p->n_idle = 0;
    p->st.idle = 0;
    p->st.idle_bytes = 0;
    p->keep_free = 0;
    int last = pool_drop_locked(p);
    pthread_mutex_unlock(&p->mu);
    while (list) {
        avf_srv_hostbuf *b = list;
        list = b->next;
        buf_free(p, b);
    }
    if (last)
        pool_destroy(p);
}

avf_status avf_srv_hostbuf_get(avf_srv_hostbuf_pool *p, size_t bytes, avf_srv_hostbuf **out) {
    *out = NULL;
    AVF_CHECK_ARG(p);
    if (bytes == 0)
        bytes = 1;
    pthread_mutex_lock(&p->mu);
    /* the smallest idle buffer that is big enough */
    avf_srv_hostbuf **best = NULL;
    for (avf_srv_hostbuf **q = &p->idle; *q; q = &(*q)->next)
        if ((*q)->cap >= bytes && (!best || (*q)->cap < (*best)->cap))
            best = q;
    if (best) {
        avf_srv_hostbuf *b = *best;
        *best = b->next;
        b->next = NULL;
        b->refs = 1;
        p->n_idle--;
        p->refs++;
        p->st.reused++;
        if (++p->st.in_flight > p->st.peak_in_flight)
            p->st.peak_in_flight = p->st.in_flight;
        p->st.idle = p->n_idle;
        p->st.idle_bytes -= b->cap;
        pthread_mutex_unlock(&p->mu);
        *out = b;
        return AVF_OK;
    }
    pthread_mutex_unlock(&p->mu);

    avf_srv_hostbuf *b = calloc(1, sizeof *b);
    if (!b)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "output buffers: out of memory");
    /* round up so that batches of slightly different sizes share buffers */
    size_t cap = (bytes + 65535u) & ~(size_t)65535u;
    if (cap < bytes)
        cap = bytes;
    if (p->dev && avf_host_alloc_pinned(p->dev, cap, &b->p) == AVF_OK) {
        b->pinned = 1;
    } else {
        b->p = aligned_alloc(64, (cap + 63u) & ~(size_t)63u);
        if (!b->p) {
            free(b);
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of host memory for %zu bytes of outputs",
                            bytes);
        }
    }
    b->cap = cap;
    b->refs = 1;
    b->pool = p;
    pthread_mutex_lock(&p->mu);
    p->refs++;
    p->st.allocated++;
    if (++p->st.in_flight > p->st.peak_in_flight)
        p->st.peak_in_flight = p->st.in_flight;
    pthread_mutex_unlock(&p->mu);
    *out = b;
    return AVF_OK;
}

void avf_srv_hostbuf_ref(avf_srv_hostbuf *b) {
    pthread_mutex_lock(&b->pool->mu);
    b->refs++;
    pthread_mutex_unlock(&b->pool->mu);
}

void avf_srv_hostbuf_unref(avf_srv_hostbuf *b) {
    if (!b)
        return;
    avf_srv_hostbuf_pool *p = b->pool;
    pthread_mutex_lock(&p->mu);
    if (--b->refs > 0) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->st.in_flight--;
    /* as many as were ever needed at once, within the byte cap */
    int keep = p->n_idle < p->keep_free ||
               (p->n_idle < p->st.peak_in_flight && p->st.idle_bytes + b->cap <= p->idle_cap);
    if (keep) {
        b->next = p->idle;
        p->idle = b;
        p->n_idle++;
        p->st.idle = p->n_idle;
        p->st.idle_bytes += b->cap;
    }
    int last = pool_drop_locked(p);
    pthread_mutex_unlock(&p->mu);
    if (!keep)
        buf_free(p, b);
    if (last)
        pool_destroy(p);
}

void avf_srv_hostbuf_pool_set_idle_cap(avf_srv_hostbuf_pool *p, size_t bytes) {
    pthread_mutex_lock(&p->mu);
    p->idle_cap = bytes;
    pthread_mutex_unlock(&p->mu);
}

void avf_srv_hostbuf_pool_stats(avf_srv_hostbuf_pool *p, avf_srv_hostbuf_stats *out) {
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
}
