/* avflow serve: closing connections whose client hung up while libmicrohttpd
 * (epoll mode) does not notice.
 *
 * Why: in epoll mode libmicrohttpd registers sockets edge-triggered and, in
 * its recv adapter, treats a short read as "no longer read-ready" (it clears
 * MHD_EPOLL_STATE_READ_READY without waiting for EAGAIN). When a client's
 * last bytes and its FIN arrive together — half a request body, then close —
 * one recv returns the bytes (short), the flag is cleared, and the FIN's
 * edge was already consumed by that same wake-up: no further event comes.
 * The socket sits in CLOSE_WAIT, with its connection state and our partial
 * body buffer (up to --max-body-bytes), until the 120 s connection timeout.
 * Measured: 300 clients sending half a body and closing left 217 such
 * connections; with poll() (level-triggered) none. Nothing in our callbacks
 * leaked: the completion callback never ran because libmicrohttpd never
 * closed the connection.
 *
 * The fix keeps epoll: this reaper tracks every connection's socket (through
 * MHD_OPTION_NOTIFY_CONNECTION) and, every `period_ms`, polls the sockets of
 * connections that are still receiving a request (not handed to a batcher,
 * not answering) for POLLRDHUP/POLLHUP. A socket seen hung up at two polls
 * in a row is shut down (shutdown(SHUT_RDWR)): that is a new edge, so
 * libmicrohttpd reads, gets end-of-file and closes the connection itself,
 * running the completion callback as usual. Connections with a request in
 * flight are never touched, so a client that half-closes after sending a
 * whole request still gets its reply.
 *
 * The socket is only ever touched under the reaper's mutex, and
 * libmicrohttpd reports MHD_CONNECTION_NOTIFY_CLOSED (which removes it here,
 * under the same mutex) before it closes the descriptor, so a reused
 * descriptor number is never shut down by mistake.
 */
#ifndef AVF_SERVE_CONN_REAPER_H
#define AVF_SERVE_CONN_REAPER_H

#include <stdint.h>

#include <microhttpd.h>

#include "avflow/status.h"

#define AVF_SRV_REAPER_MAX_CONNS 4096   /* the daemon's connection limit */

typedef struct avf_srv_reaper avf_srv_reaper;

/* Start the reaper thread (period_ms in [10, 10000]). */
avf_status avf_srv_reaper_create(int period_ms, avf_srv_reaper **out);
/* Stop the thread and free; call after MHD_stop_daemon. NULL is ignored. */
void avf_srv_reaper_free(avf_srv_reaper *r);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls = the reaper). */
void avf_srv_reaper_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* busy = 1 while a complete request is being handled on `conn` (queued,
 * running, answering); 0 once it completed and the connection waits for
 * the next request. */
void avf_srv_reaper_set_busy(avf_srv_reaper *r, struct MHD_Connection *conn, int busy);
/* Connections shut down so far. */
uint64_t avf_srv_reaper_count(avf_srv_reaper *r);

#endif
