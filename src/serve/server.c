/* The HTTP server on libmicrohttpd: epoll with an internal thread pool,
 * suspend/resume for requests waiting on a batch, request bodies bounded as
 * they arrive, and a drain on shutdown (stop listening, wait for in-flight
 * requests, stop). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "avflow/device.h"
#include "avflow/log.h"
#include "core/error.h"
#include "serve/bodies.h"
#include "serve/config.h"
#include "serve/conn_reaper.h"
#include "serve/server_impl.h"

#define AVF_SRV_CONN_MEMORY (256 * 1024)

static void conn_free(avf_srv_conn *c) {
    /* A batch worker resumes a suspended connection while holding c->mu and
     * unlocks it after MHD_resume_connection returns. When the client has hung
     * up, libmicrohttpd may close the resumed connection (and so call us)
     * without ever calling on_request, before that unlock: wait for it, or the
     * worker's unlock writes into freed memory (the heap corruption the
     * disconnect test used to hit about once in ten runs). */
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->req)
        avf_srv_request_unref(c->req);
    if (c->job)
        avf_srv_job_unref(c->job);
    if (c->inst)
        avf_srv_repo_release(c->s->repo, c->inst);
    avf_srv_body_free(c->body);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The reply is built (it owns what it sends, or a reference on the request
 * whose output buffer it sends from): let go of the model now, not when the connection completes, so a model whose last
 * answer is on the wire is already idle for eviction. */
static void conn_release_model(avf_srv_conn *c) {
    if (c->req) {
        avf_srv_request_unref(c->req);
        c->req = NULL;
    }
    if (c->inst) {
        avf_srv_repo_release(c->s->repo, c->inst);
        c->inst = NULL;
    }
}

/* What an iovec response frees once libmicrohttpd is done with it. */
typedef struct iov_owner {
    char *body;
    avf_srv_request *hold;
} iov_owner;

static void iov_owner_free(void *cls) {
    iov_owner *o = cls;
    free(o->body);
    avf_srv_request_unref(o->hold);
    free(o);
}

/* Header and tensors as one iovec: the kernel reads the tensors straight
 * from the batch's output buffer (sendmsg), no copy in user space. */
static struct MHD_Response *iov_response(avf_srv_reply *r) {
    iov_owner *o = malloc(sizeof *o);
    if (!o)
        return NULL;
    struct MHD_IoVec iov[AVF_SRV_MAX_IO + 1];
    unsigned n = 0;
    iov[n].iov_base = r->body;
    iov[n++].iov_len = r->len;
    for (int i = 0; i < r->n_segs; i++) {
        iov[n].iov_base = r->seg[i];
        iov[n++].iov_len = r->seg_len[i];
    }
    o->body = r->body;
    o->hold = r->hold;
    struct MHD_Response *resp = MHD_create_response_from_iovec(iov, n, iov_owner_free, o);
    if (!resp)
        free(o);
    return resp;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, avf_srv_reply *r) {
    struct MHD_Response *resp =
        r->n_segs ? iov_response(r)
                  : MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                                    r->body ? MHD_RESPMEM_MUST_FREE
                                                            : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        avf_srv_request_unref(r->hold);
        return MHD_NO;
    }
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    char num[32];
    if (r->json_len) {
        snprintf(num, sizeof num, "%zu", r->json_len);
        MHD_add_response_header(resp, "Inference-Header-Content-Length", num);
    }
    if (r->retry_after) {
        snprintf(num, sizeof num, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (r->auth_challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_now(struct MHD_Connection *conn, int status, const char *msg) {
    avf_srv_reply r = {0};
    avf_srv_reply_error(&r, status, msg);
    return send_reply(conn, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state) {
    avf_server *s = cls;
    avf_srv_conn *c = *state;
    if (!c) {
        /* Headers are in: a body announced too large is refused before it is read. */
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->s = s;
        c->conn = conn;
        pthread_mutex_init(&c->mu, NULL);
        *state = c;
        pthread_mutex_lock(&s->mu);
        s->inflight++;
        pthread_mutex_unlock(&s->mu);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.max_body_bytes) {
            c->too_big = 1;
            c->replied = 1;
            char msg[128];
            snprintf(msg, sizeof msg, "the request body exceeds %llu bytes",
                     (unsigned long long)s->o.max_body_bytes);
            return reply_now(conn, 413, msg);
        }
        /* one allocation of the announced size (bounded above): no doubling
         * reallocs, which leave the allocator's arenas fragmented under load */
        unsigned long long want = cl ? strtoull(cl, NULL, 10) : 0;
        if (want > 0 && want <= s->o.max_body_bytes) {
            c->body = avf_srv_body_alloc((size_t)want);
            c->cap = c->body ? (size_t)want : 0;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (c->too_big || n > s->o.max_body_bytes - c->len) {
            c->too_big = 1; /* chunked bodies: keep reading, answer 413 at the end */
            avf_srv_body_free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
            return MHD_YES;
        }
        if (c->len + n > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->len + n)
                cap *= 2;
            if (cap > s->o.max_body_bytes)
                cap = (size_t)s->o.max_body_bytes;
            char *p = realloc(c->body, cap);
            if (!p)
                return MHD_NO;
            c->body = p;
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload_data, n);
        c->len += n;
        return MHD_YES;
    }
    if (c->replied)
        return MHD_YES; /* the 413 went out before the body */
    /* the request is whole: from now on a hang-up is seen when we answer */
    avf_srv_reaper_set_busy(s->reaper, conn, 1);
    avf_srv_reply r = {0};
    if (c->phase == CONN_FINISHED) {
        if (c->job)
            avf_srv_app_finished(c, &r);
        else
            avf_srv_handle_finished(c, &r);
        conn_release_model(c);
        return send_reply(conn, &r);
    }
    if (c->phase == CONN_QUEUED)
        return MHD_YES; /* cannot happen: a queued connection stays suspended */
    c->header_len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                "Inference-Header-Content-Length");
    c->authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    c->content_encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (avf_srv_handle(c, method, url, &r))
        return MHD_YES; /* suspended until its batch has run */
    conn_release_model(c);
    return send_reply(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code) {
    avf_server *s = cls;
    avf_srv_conn *c = *state;
    avf_srv_reaper_set_busy(s->reaper, conn, 0); /* waiting for its next request */
    if (!c)
        return;
    *state = NULL;
    conn_free(c);
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    fprintf(stderr, "avflow serve: http: %s\n", msg);
}

/* Fill a socket address for host:port (IPv4, IPv6 or "localhost"). */
static avf_status bind_address(const avf_server_options *o, struct sockaddr_storage *ss,
                               int *ipv6) {
    memset(ss, 0, sizeof *ss);
    const char *host = strcmp(o->host, "localhost") == 0 ? "127.0.0.1" : o->host;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
        *ipv6 = 0;
        return AVF_OK;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        *ipv6 = 1;
        return AVF_OK;
    }
    return AVF_FAIL(AVF_ERR_INVALID_ARG, "host '%s' is not an IP address (or localhost)",
                    o->host);
}

avf_status avf_server_create(const avf_server_options *o, avf_server **out) {
    *out = NULL;
    AVF_CHECK_ARG(o);
    AVF_TRY(avf_srv_options_check(o));
    struct sockaddr_storage ss;
    int ipv6 = 0;
    AVF_TRY(bind_address(o, &ss, &ipv6));
    avf_server *s = calloc(1, sizeof *s);
    if (!s)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "server: out of memory");
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    avf_status st = avf_srv_server_lanes(o, &s->res, &s->lanes);
    if (st == AVF_OK) {
        /* the first device stands for the server where one device is meant
         * (the pool series, the apps) */
        s->dev = s->lanes->lane[0].dev;
        s->pool = s->lanes->lane[0].pool;
        st = avf_srv_repo_create(o->model_repository, s->lanes, &s->repo);
    }
    if (st == AVF_OK) {
        avf_srv_repo_policy pol = {.residency = s->res,
                                   .default_timeout_us = o->default_timeout_us};
        avf_srv_repo_set_policy(s->repo, &pol);
        st = avf_srv_residency_start(s->res, s->repo);
    }
    if (st == AVF_OK) /* epoll misses some client hang-ups: conn_reaper.h */
        st = avf_srv_reaper_create(250, &s->reaper);
    if (st == AVF_OK) {
        unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
        s->daemon = MHD_start_daemon(
            /* the logger first, so that option errors go through it too */
            flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
            on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)AVF_SRV_REAPER_MAX_CONNS,
            /* the read buffer lives in this per-connection pool: at the
             * default 32 KiB a 333 KB audio body takes ~20 reads and body
             * callbacks; 256 KiB takes a few (untouched pages cost nothing,
             * the pool goes when the connection does) */
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)AVF_SRV_CONN_MEMORY,
            MHD_OPTION_NOTIFY_CONNECTION, avf_srv_reaper_notify, s->reaper, MHD_OPTION_END);
        if (!s->daemon)
            st = AVF_FAIL(AVF_ERR_IO, "cannot listen on %s:%d (in use, or not permitted?)",
                          o->host, o->port);
    }
    if (st == AVF_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon,
                                                               MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : o->port;
    }
    if (st != AVF_OK) {
        if (s->daemon)
            MHD_stop_daemon(s->daemon);
        avf_srv_reaper_free(s->reaper);
        avf_srv_residency_stop(s->res);
        avf_srv_repo_free(s->repo);
        avf_srv_lanes_free(s->lanes);
        avf_srv_residency_free(s->res);
        pthread_cond_destroy(&s->idle);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return st;
    }
    *out = s;
    return AVF_OK;
}

int avf_server_port(const avf_server *s) { return s ? s->port : 0; }

avf_status avf_server_shutdown(avf_server *s, int64_t drain_ms) {
    AVF_CHECK_ARG(s);
    if (s->stopped)
        return AVF_OK;
    atomic_store(&s->draining, 1);
    /* Stop accepting: connections already open still finish their requests. */
    if (!s->has_quiesced_fd) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET) {
            s->quiesced_fd = fd;
            s->has_quiesced_fd = 1;
        }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (drain_ms >= 0) {
        until.tv_sec += drain_ms / 1000;
        until.tv_nsec += (drain_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    avf_status st = AVF_OK;
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0 && st == AVF_OK) {
        if (drain_ms < 0)
            pthread_cond_wait(&s->idle, &s->mu);
        else if (pthread_cond_timedwait(&s->idle, &s->mu, &until) != 0)
            st = AVF_FAIL(AVF_ERR_TIMEOUT, "%d requests still in flight after %lld ms",
                          s->inflight, (long long)drain_ms);
    }
    pthread_mutex_unlock(&s->mu);
    if (st != AVF_OK) /* suspended connections must see their batch end before MHD stops */
        return st;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    s->stopped = 1;
    /* Closing it before the stop raced the daemon's own epoll removal of it
     * ("Failed to remove listen FD from epoll set": a libmicrohttpd abort). */
    if (s->has_quiesced_fd) {
        close(s->quiesced_fd);
        s->has_quiesced_fd = 0;
    }
    return AVF_OK;
}

void avf_server_free(avf_server *s) {
    if (!s)
        return;
    if (!s->stopped)
        avf_server_shutdown(s, -1);
    avf_srv_reaper_free(s->reaper); /* the daemon has stopped: no connection left */
    avf_srv_apps_free(s);
    avf_srv_residency_stop(s->res); /* no eviction thread while the repository goes */
    avf_srv_repo_free(s->repo);
    avf_srv_lanes_free(s->lanes);
    avf_srv_residency_free(s->res);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
