/* avflow serve: a small HTTP/1.1 client for `avflow bench` and the tests:
 * one keep-alive connection on a plain TCP socket, requests sent whole,
 * responses read with Content-Length or chunked framing. Blocking, with a
 * timeout per socket operation; one connection per thread.
 *
 * Bounds: response headers at most 64 KiB, a body at most max_body bytes
 * (avf_http_connect's argument); longer is AVF_ERR_CORRUPT and closes the
 * connection. A connection the server closed is reopened on the next
 * request (avf_http_request reconnects before sending, never resends a
 * request that may have reached the server).
 */
#ifndef AVF_SERVE_HTTP_CLIENT_H
#define AVF_SERVE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "avflow/status.h"

typedef struct avf_http_conn avf_http_conn;

typedef struct avf_http_response {
    int status;                 /* e.g. 200; 0 when no response was read */
    char *body;                 /* malloc'd, NUL-terminated; owned by the connection, */
    size_t len;                 /* valid until its next request */
} avf_http_response;

/* Split "http://host:port[/prefix]" (the scheme is optional, http only).
 * AVF_ERR_INVALID_ARG when malformed. */
avf_status avf_http_parse_url(const char *url, char *host, size_t host_cap, int *port,
                              char *prefix, size_t prefix_cap);

/* A connection to host:port (resolved with getaddrinfo). timeout_ms bounds
 * every connect/send/receive. */
avf_status avf_http_connect(const char *host, int port, int timeout_ms, size_t max_body,
                            avf_http_conn **out);
/* Send one request and read its response into *resp. `headers` is NULL or
 * extra header lines, each ending in "\r\n". body may be NULL (len 0).
 * AVF_ERR_IO on a socket failure or timeout (the connection is closed and
 * reopened by the next call), AVF_ERR_CORRUPT on a malformed response. */
avf_status avf_http_request(avf_http_conn *c, const char *method, const char *path,
                            const char *content_type, const char *headers, const void *body,
                            size_t len, avf_http_response *resp);
/* Connections opened so far (1 + reconnects). */
uint64_t avf_http_connects(const avf_http_conn *c);
void avf_http_close(avf_http_conn *c);

#endif
