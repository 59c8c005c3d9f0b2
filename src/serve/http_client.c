/* The HTTP/1.1 keep-alive client of http_client.h, on POSIX sockets. */
#include "serve/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"

#define HEAD_MAX (64 * 1024)

struct avf_http_conn {
    char host[256];
    int port;
    int timeout_ms;
    size_t max_body;
    int fd;                     /* -1: closed */
    uint64_t connects;
    char *in;                   /* received bytes not yet consumed */
    size_t in_len, in_cap;
    char *body;
    size_t body_cap;
};

avf_status avf_http_parse_url(const char *url, char *host, size_t host_cap, int *port,
                              char *prefix, size_t prefix_cap) {
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': only http:// URLs are supported", url);
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    if (hend == p || (size_t)(hend - p) >= host_cap)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': no host (want http://HOST:PORT)", url);
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = '\0';
    *port = 80;
    if (colon) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': bad port", url);
        *port = (int)v;
    }
    const char *pre = slash ? slash : "";
    size_t n = strlen(pre);
    while (n && pre[n - 1] == '/')
        n--;
    if (n >= prefix_cap)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "'%s': path too long", url);
    memcpy(prefix, pre, n);
    prefix[n] = '\0';
    return AVF_OK;
}

static void drop(avf_http_conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->in_len = 0;
}

static avf_status open_socket(avf_http_conn *c) {
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc != 0)
        return AVF_FAIL(AVF_ERR_IO, "cannot resolve %s: %s", c->host, gai_strerror(rc));
    avf_status st = AVF_FAIL(AVF_ERR_IO, "cannot connect to %s:%d", c->host, c->port);
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* small requests: no Nagle delay */
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            c->fd = fd;
            c->connects++;
            st = AVF_OK;
            break;
        }
        st = AVF_FAIL(AVF_ERR_IO, "cannot connect to %s:%d: %s", c->host, c->port,
                      strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    return st;
}

avf_status avf_http_connect(const char *host, int port, int timeout_ms, size_t max_body,
                            avf_http_conn **out) {
    *out = NULL;
    AVF_CHECK_ARG(host && strlen(host) < 256 && port > 0 && port < 65536 && timeout_ms > 0);
    avf_http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(c->host, host, strlen(host) + 1);
    c->port = port;
    c->timeout_ms = timeout_ms;
    c->max_body = max_body ? max_body : (size_t)1 << 30;
    c->fd = -1;
    avf_status st = open_socket(c);
    if (st != AVF_OK) {
        free(c);
        return st;
    }
    *out = c;
    return AVF_OK;
}

uint64_t avf_http_connects(const avf_http_conn *c) { return c->connects; }

void avf_http_close(avf_http_conn *c) {
    if (!c)
        return;
    drop(c);
    free(c->in);
    free(c->body);
    free(c);
}

static avf_status send_all(avf_http_conn *c, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return AVF_FAIL(AVF_ERR_IO, "send to %s:%d: %s", c->host, c->port,
                            k < 0 ? strerror(errno) : "closed");
        s += k;
        n -= (size_t)k;
    }
    return AVF_OK;
}

/* One recv of up to n bytes (at least one); AVF_ERR_IO on EOF/timeout. */
static avf_status recv_some(avf_http_conn *c, char *dst, size_t n, size_t *got) {
    for (;;) {
        ssize_t k = recv(c->fd, dst, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            return AVF_FAIL(AVF_ERR_IO, "%s:%d closed the connection", c->host, c->port);
        if (k < 0)
            return AVF_FAIL(AVF_ERR_IO, "receive from %s:%d: %s", c->host, c->port,
                            errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
                                                                    : strerror(errno));
        *got = (size_t)k;
        return AVF_OK;
    }
}

/* Read more bytes into c->in (at least one); AVF_ERR_IO on EOF/timeout. */
static avf_status fill(avf_http_conn *c, size_t limit) {
    if (c->in_len == c->in_cap) {
        if (c->in_cap >= limit)
            return AVF_FAIL(AVF_ERR_CORRUPT, "response larger than %zu bytes", limit);
        size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
        if (cap > limit)
            cap = limit;
        char *p = realloc(c->in, cap);
        if (!p)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
        c->in = p;
        c->in_cap = cap;
    }
    size_t k;
    AVF_TRY(recv_some(c, c->in + c->in_len, c->in_cap - c->in_len, &k));
    c->in_len += k;
    return AVF_OK;
}

static void consume(avf_http_conn *c, size_t n) {
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* Find "\r\n" at or after `from` in c->in, reading more as needed. */
static avf_status line_end(avf_http_conn *c, size_t from, size_t limit, size_t *at) {
    for (;;) {
        for (size_t i = from; i + 1 < c->in_len; i++)
            if (c->in[i] == '\r' && c->in[i + 1] == '\n') {
                *at = i;
                return AVF_OK;
            }
        if (c->in_len >= limit)
            return AVF_FAIL(AVF_ERR_CORRUPT, "response line longer than %zu bytes", limit);
        AVF_TRY(fill(c, limit + c->max_body));
    }
}

/* Room for n more body bytes after len (and a NUL), bounded by max_body. */
static avf_status body_reserve(avf_http_conn *c, size_t len, size_t n) {
    if (n > c->max_body - len)
        return AVF_FAIL(AVF_ERR_CORRUPT, "response body over %zu bytes", c->max_body);
    if (len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 16384;
        while (cap < len + n + 1)
            cap *= 2;
        char *q = realloc(c->body, cap);
        if (!q)
            return AVF_FAIL(AVF_ERR_OUT_OF_MEMORY, "out of memory");
        c->body = q;
        c->body_cap = cap;
    }
    return AVF_OK;
}

static avf_status body_append(avf_http_conn *c, size_t *len, const char *p, size_t n) {
    AVF_TRY(body_reserve(c, *len, n));
    memcpy(c->body + *len, p, n);
    *len += n;
    c->body[*len] = '\0';
    return AVF_OK;
}

/* Move exactly n body bytes from the socket into the body: what is already
 * buffered is copied, the rest is received straight into the body (a 1 MB
 * tensor answer then costs one kernel copy, not a copy per 16 KB read). */
static avf_status read_exact(avf_http_conn *c, size_t *len, size_t n) {
    size_t k = c->in_len < n ? c->in_len : n;
    if (k) {
        AVF_TRY(body_append(c, len, c->in, k));
        consume(c, k);
        n -= k;
    }
    if (!n)
        return AVF_OK;
    size_t at = *len;
    AVF_TRY(body_reserve(c, at, n));
    while (n) {
        size_t got;
        AVF_TRY(recv_some(c, c->body + at, n, &got));
        at += got;
        n -= got;
    }
    *len = at;
    c->body[at] = '\0';
    return AVF_OK;
}

static avf_status read_response(avf_http_conn *c, avf_http_response *r, int *keep) {
    size_t at;
    /* Headers: up to the empty line. */
    size_t end = 0;
    for (;;) {
        AVF_TRY(line_end(c, end, HEAD_MAX, &at));
        if (at == end)
            break;
        end = at + 2;
    }
    size_t head_len = at + 2;
    c->in[at] = '\0';
    int major, minor, status;
    if (sscanf(c->in, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 ||
        status > 599)
        return AVF_FAIL(AVF_ERR_CORRUPT, "not an HTTP response");
    long long clen = -1;
    int chunked = 0;
    *keep = !(major == 1 && minor == 0);
    for (char *l = strstr(c->in, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        char *h = l + 2;
        char *eol = strstr(h, "\r\n"); /* look at this header line only */
        char saved = 0;
        if (eol) {
            saved = *eol;
            *eol = '\0';
        }
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            clen = strtoll(h + 15, NULL, 10);
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked"))
            chunked = 1;
        else if (strncasecmp(h, "Connection:", 11) == 0)
            *keep = !strstr(h + 11, "close") && !strstr(h + 11, "Close");
        if (eol)
            *eol = saved;
    }
    consume(c, head_len);
    r->status = status;
    size_t len = 0;
    AVF_TRY(body_append(c, &len, "", 0));
    if (chunked) {
        for (;;) {
            AVF_TRY(line_end(c, 0, 1024, &at));
            c->in[at] = '\0';
            char *e;
            unsigned long long n = strtoull(c->in, &e, 16);
            consume(c, at + 2);
            if (n > c->max_body)
                return AVF_FAIL(AVF_ERR_CORRUPT, "chunk over %zu bytes", c->max_body);
            if (n == 0) { /* trailers, then the empty line */
                for (;;) {
                    AVF_TRY(line_end(c, 0, HEAD_MAX, &at));
                    consume(c, at + 2);
                    if (at == 0)
                        break;
                }
                break;
            }
            AVF_TRY(read_exact(c, &len, (size_t)n));
            AVF_TRY(line_end(c, 0, 2, &at));
            consume(c, at + 2);
        }
    } else if (clen >= 0) {
        if ((unsigned long long)clen > c->max_body)
            return AVF_FAIL(AVF_ERR_CORRUPT, "response body of %lld bytes over %zu", clen,
                            c->max_body);
        AVF_TRY(read_exact(c, &len, (size_t)clen));
    } else if (status >= 200 && status != 204 && status != 304) {
        /* No framing: the body runs to the end of the connection. */
        for (;;) {
            avf_status st = fill(c, HEAD_MAX + c->max_body);
            if (st == AVF_ERR_IO)
                break;
            AVF_TRY(st);
            AVF_TRY(body_append(c, &len, c->in, c->in_len));
            c->in_len = 0;
        }
        *keep = 0;
    }
    r->body = c->body;
    r->len = len;
    return AVF_OK;
}

avf_status avf_http_request(avf_http_conn *c, const char *method, const char *path,
                            const char *content_type, const char *headers, const void *body,
                            size_t len, avf_http_response *resp) {
    memset(resp, 0, sizeof *resp);
    if (c->fd < 0)
        AVF_TRY(open_socket(c));
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
                     method, path, c->host, c->port, len, content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "",
                     headers ? headers : "");
    if (n < 0 || (size_t)n >= sizeof head)
        return AVF_FAIL(AVF_ERR_INVALID_ARG, "request headers too long");
    avf_status st = send_all(c, head, (size_t)n);
    if (st == AVF_OK && len)
        st = send_all(c, body, len);
    int keep = 0;
    if (st == AVF_OK)
        st = read_response(c, resp, &keep);
    if (st != AVF_OK || !keep)
        drop(c);
    return st;
}
