/* The hung-up-connection reaper (see conn_reaper.h for why it exists). */
#define _GNU_SOURCE /* POLLRDHUP */
#include "serve/conn_reaper.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/error.h"

typedef struct tracked {
    int fd;
    int busy;               /* under the reaper's mutex */
    int strikes;            /* consecutive polls that saw the peer gone */
    int shut;               /* shut down already: libmicrohttpd closes it next */
    int slot;               /* index in conns[] */
} tracked;

struct avf_srv_reaper {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stop;
    int period_ms;
    pthread_t thread;
    int n;
    tracked *conns[AVF_SRV_REAPER_MAX_CONNS];
    struct pollfd pfd[AVF_SRV_REAPER_MAX_CONNS];
    tracked *polled[AVF_SRV_REAPER_MAX_CONNS];
    atomic_uint_least64_t reaped;
};

static void sweep(avf_srv_reaper *r) {
    int m = 0;
    for (int i = 0; i < r->n; i++) {
        tracked *t = r->conns[i];
        if (t->busy || t->shut) {
            t->strikes = 0;
            continue;
        }
        r->pfd[m] = (struct pollfd){.fd = t->fd, .events = POLLRDHUP};
        r->polled[m++] = t;
    }
    if (m == 0 || poll(r->pfd, (nfds_t)m, 0) <= 0)
        return;
    for (int k = 0; k < m; k++) {
        tracked *t = r->polled[k];
        if (!(r->pfd[k].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            t->strikes = 0;
            continue;
        }
        /* two polls in a row: libmicrohttpd had a whole period to notice */
        if (++t->strikes >= 2) {
            shutdown(t->fd, SHUT_RDWR);
            atomic_fetch_add(&r->reaped, 1);
            t->shut = 1;
        }
    }
}

static void *reaper_main(void *arg) {
    avf_srv_reaper *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)r->period_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->wake, &r->mu, &until);
        if (!r->stop)
            sweep(r);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

avf_status avf_srv_reaper_create(int period_ms, avf_srv_reaper **out) {
    *out = NULL;
    AVF_CHECK_ARG(period_ms >= 10 && period_ms <= 10000);
    avf_srv_reaper *r = calloc(1, sizeof *r);
    if (!r)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "reaper: out of memory");
    r->period_ms = period_ms;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return AVF_FAIL(AVF_ERR_INTERNAL, "reaper: cannot start its thread");
    }
    *out = r;
    return AVF_OK;
}

void avf_srv_reaper_free(avf_srv_reaper *r) {
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->n; i++) /* none after MHD_stop_daemon; be safe */
        free(r->conns[i]);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void avf_srv_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code) {
    avf_srv_reaper *r = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        tracked *t = ci ? calloc(1, sizeof *t) : NULL;
        if (!t)
            return; /* untracked: it still closes at the connection timeout */
        t->fd = ci->connect_fd;
        pthread_mutex_lock(&r->mu);
        if (r->n < AVF_SRV_REAPER_MAX_CONNS) {
            t->slot = r->n;
            r->conns[r->n++] = t;
            *socket_context = t;
        } else {
            free(t);
        }
        pthread_mutex_unlock(&r->mu);
        return;
    }
    tracked *t = *socket_context;
    if (!t)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&r->mu);
    tracked *last = r->conns[--r->n];
    r->conns[t->slot] = last;
    last->slot = t->slot;
    pthread_mutex_unlock(&r->mu);
    free(t);
}

void avf_srv_reaper_set_busy(avf_srv_reaper *r, struct MHD_Connection *conn, int busy) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked *t = ci ? ci->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&r->mu);
    t->busy = busy;
    t->strikes = 0;
    pthread_mutex_unlock(&r->mu);
}

uint64_t avf_srv_reaper_count(avf_srv_reaper *r) { return r ? atomic_load(&r->reaped) : 0; }
