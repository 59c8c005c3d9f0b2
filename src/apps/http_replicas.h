/* One application endpoint's pipelines on several devices (`avflow serve
 * --devices ... --apps DIR`): each batch goes to the replica with the fewest
 * batches in flight, ties broken by a rotating start so idle devices take
 * turns. The same rule as the model batcher's routing (least loaded device),
 * taken when a worker has a batch in hand. Lock-free; two workers choosing at
 * once may pick the same replica, which only costs balance, never
 * correctness. */
#ifndef AVF_APPS_HTTP_REPLICAS_H
#define AVF_APPS_HTTP_REPLICAS_H

#include <stdatomic.h>

#define AVF_HTTP_MAX_REPLICAS 16

typedef struct avf_http_replicas {
    int n;                                   /* [1, AVF_HTTP_MAX_REPLICAS] */
    atomic_int busy[AVF_HTTP_MAX_REPLICAS];  /* batches in flight on each */
    atomic_uint next;                        /* where the next scan starts */
} avf_http_replicas;

/* n replicas, none busy; n is clamped to [1, AVF_HTTP_MAX_REPLICAS]. */
void avf_http_replicas_init(avf_http_replicas *r, int n);
/* The replica to run a batch on, counted busy until released. */
int avf_http_replicas_acquire(avf_http_replicas *r);
void avf_http_replicas_release(avf_http_replicas *r, int i);

#endif
