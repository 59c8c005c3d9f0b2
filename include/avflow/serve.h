/* avflow serve: a KServe v2 (Triton-compatible) HTTP inference server with
 * dynamic batching, embedded in any program.
 *
 * avf_server_create() loads nothing: models in the repository load on their
 * first request. It binds the socket and serves from libmicrohttpd's
 * threads at once; requests that reach a model are queued in its batcher
 * and answered when their batch has run, without holding an HTTP thread.
 * The HTTP surface is described in docs/ARCHITECTURE.md (src/serve).
 */
#ifndef AVFLOW_SERVE_H
#define AVFLOW_SERVE_H

#include <stdint.h>

#include "avflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct avf_server_options {
    char model_repository[4096];
    char host[256];             /* IPv4/IPv6 literal or "localhost" */
    int port;                   /* 0: any free port (see avf_server_port) */
    char device[32];            /* "cpu" or "cuda:N" */
    char api_key[256];          /* "": repository control needs no key */
    uint64_t max_body_bytes;    /* larger request bodies get 413 */
    int threads;                /* HTTP threads, [1, 256] */
} avf_server_options;

typedef struct avf_server avf_server;

/* 127.0.0.1:8000, cpu, no key, 64 MiB bodies, 4 HTTP threads, no repository. */
void avf_server_options_default(avf_server_options *o);
/* Read a JSON options file over *o: keys model_repository, host, port,
 * device, api_key, max_body_bytes, threads. Unknown keys are an error. */
avf_status avf_server_options_load(const char *path, avf_server_options *o);

/* Check the options, open the device and repository, start listening. */
avf_status avf_server_create(const avf_server_options *o, avf_server **out);
/* The port the server listens on. */
int avf_server_port(const avf_server *s);
/* Graceful stop: stop accepting connections, let in-flight requests finish
 * (at most drain_ms; -1 waits for all), then stop every HTTP thread. */
avf_status avf_server_shutdown(avf_server *s, int64_t drain_ms);
/* Shut down (if not yet) without a drain limit, unload every model, free.
 * NULL is ignored. */
void avf_server_free(avf_server *s);

#ifdef __cplusplus
}
#endif
#endif /* AVFLOW_SERVE_H */
