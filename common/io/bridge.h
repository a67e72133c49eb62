/*
 * bridge.h - serve an nng REP socket from a libuv loop, and call an nng REP
 * server from a libuv loop without blocking it.
 *
 * Thread model: nng completes aios on its own threads. Those callbacks only
 * push the message onto a bounded mutex-protected queue and uv_async_send();
 * everything else happens on the loop thread. The server hands the loop
 * every queued request at once (a batch) so one SQLite transaction can serve
 * them all (group commit).
 *
 * Server: a socket with nctx contexts, each receiving one request at a time.
 * When the queue is full (DN_LOOP_QUEUE_MAX) the context is not re-armed
 * until the loop drains - backpressure, counted and logged.
 * A queued request whose client's connection has closed (nng's pipe-removed
 * event, or nng no longer knowing the pipe) is dropped when the loop takes
 * the queue, never handed to it (stats.abandoned).
 * Ownership: the bridge owns each bridge_req until bridge_req_reply, which
 * the loop thread must call exactly once per request (in the batch callback
 * or later); the reply bytes are copied.
 */
#ifndef DN_BRIDGE_H
#define DN_BRIDGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "io/nettls.h"

typedef struct bridge bridge;
typedef struct bridge_req bridge_req;

/* Called on the loop thread with n >= 1 requests, oldest first. The array
 * is only valid during the call; the requests stay valid until replied. */
typedef void (*bridge_batch_fn)(void *arg, bridge_req **reqs, size_t n);

/* Listens on url (tls+tcp://, ipc://; tcp:// only if tls allows
 * plaintext - see nettls.h) with nctx contexts. recv_max is the socket's
 * NNG_OPT_RECVMAXSZ, the largest valid request it takes (1..
 * DN_MSG_MAX_BYTES): a bigger one closes that connection unread. tls may be
 * NULL for ipc://. Returns 0, DN_EINVAL, DN_ENET (bind failed; logged) or
 * DN_ENOMEM. */
int bridge_create(bridge **out, uv_loop_t *loop, const char *url,
    const nettls_files *tls, size_t recv_max, size_t nctx,
    bridge_batch_fn fn, void *arg);

/* Stops receiving, closes the socket and the async handle. Requests not yet
 * replied are dropped (the client retries). Safe with NULL. After this,
 * run the loop until it is empty before freeing the loop. */
void bridge_destroy(bridge *b);

/* Re-reads the listener's TLS files (nettls_relisten): on the loop thread.
 * 0, or DN_E* with the old listener kept or none (logged). */
int bridge_relisten(bridge *b, const nettls_files *tls);

/* The listener is guarded (netguard.h): once a second the loop checks it
 * is still accepting and makes it again if libnng stopped it. How many
 * times that happened. */
uint64_t bridge_listener_restarts(const bridge *b);

/* The request body. */
const uint8_t *bridge_req_body(const bridge_req *r, size_t *len);

/* The OS user of the process that sent r, as the kernel saw it at
 * connect() (nng's NNG_OPT_IPC_PEER_UID): 0 with *uid set, or DN_ENOENT
 * (not an ipc:// connection, or the platform cannot tell). Loop thread. */
int bridge_req_peer_uid(const bridge_req *r, uint64_t *uid);

/* The id of the connection (nng pipe) r came on, > 0; for log lines. */
uint32_t bridge_req_pipe(const bridge_req *r);

/* When the request arrived: CLOCK_MONOTONIC in ns (ack latency). */
uint64_t bridge_req_received_ns(const bridge_req *r);

/* Sends the reply (copied) and frees the request. */
void bridge_req_reply(bridge_req *r, const void *buf, size_t len);

/* For a request handed to fn and still unanswered (work that runs
 * elsewhere, e.g. the coordinator's deferred reads): true when its client
 * has gone (its connection closed), so nobody would read the reply; then
 * bridge_req_drop frees it unanswered (counted and logged as abandoned) and
 * its context takes the next request. Loop thread. */
bool bridge_req_gone(bridge_req *r);
void bridge_req_drop(bridge_req *r);

/* Called on the bridge's reply sender thread before it sends replies that
 * carry a ticket: must return only once everything ticket stands for is
 * durable (walsync_upto). Set once, on the loop thread, before any reply. */
typedef void (*bridge_sync_fn)(void *arg, uint64_t ticket);
void bridge_set_sync(bridge *b, bridge_sync_fn fn, void *arg);

/* As bridge_req_reply, but the reply leaves only after sync_fn(ticket) has
 * returned (ticket 0: no wait). Replies still leave in the order given. */
void bridge_req_reply_after(bridge_req *r, const void *buf, size_t len,
    uint64_t ticket);

/* A gate on the loop's batches: before taking the queued requests the loop
 * asks fn(arg); false leaves them queued, and then only bridge_kick wakes
 * the loop for them again (arrivals do not). The shell holds ingest while
 * the WAL sync runs and kicks when it ends: what it would commit now waits
 * for the next sync anyway, so waiting grows the batch (one commit, one
 * wake-up, one reply round for all) at no cost in ack time. Loop thread;
 * set before requests arrive. */
typedef bool (*bridge_gate_fn)(void *arg);
void bridge_set_gate(bridge *b, bridge_gate_fn fn, void *arg);

/* A cap on the requests one client connection (nng pipe) has in flight,
 * from receipt until its reply has been sent (issue 9: one peer must not
 * hold every context, and so every place in the loop's batches, while the
 * others starve). A request beyond max is not handed to the batch
 * callback: fn(arg, r, max) gets it instead, on the loop thread, and must
 * answer it at once (bridge_req_reply: a busy status in the socket's
 * reply shape). Logged bridge.peer_busy (at most once a second per
 * socket, with the peer's address and the count since the last line);
 * counted in stats.peer_busy. max 0: no cap. Set on the loop thread,
 * before requests arrive (one that arrived earlier is not counted). */
typedef void (*bridge_refuse_fn)(void *arg, bridge_req *r, uint32_t max);
void bridge_set_peer_max(bridge *b, uint32_t max, bridge_refuse_fn fn, void *arg);

/* Wakes the loop for the queued requests, if any (any thread, until
 * bridge_destroy has returned). */
void bridge_kick(bridge *b);

/* Counters for ops/logging. */
typedef struct {
	uint64_t received, replied, backpressure;
	/* Dropped unexecuted: their client's connection closed while they
	 * waited for the loop (logged bridge.abandoned). */
	uint64_t abandoned;
	uint64_t pipes_closed; /* client connections that went away */
	/* Refused unexecuted: their connection had the cap in flight
	 * (bridge_set_peer_max; logged bridge.peer_busy). */
	uint64_t peer_busy;
	/* Requests counted under the caps now (all connections): from
	 * arrival until the reply has been sent. 0 without a cap. */
	uint64_t peer_inflight;
} bridge_stats;
void bridge_get_stats(const bridge *b, bridge_stats *out);

/* ---- client: an async request from the loop ---- */

typedef struct bridge_client bridge_client;

/* Called on the loop thread. rv is 0 with the reply bytes (valid only during
 * the call), or DN_ETIMEDOUT / DN_ENET / DN_ECLOSED with buf NULL. */
typedef void (*bridge_reply_fn)(void *arg, int rv, const uint8_t *buf,
    size_t len);

/* A REQ socket dialling url (non-blocking dial: it reconnects by itself),
 * with TLS as nettls_dial (tls may be NULL for ipc://). */
int bridge_client_create(bridge_client **out, uv_loop_t *loop,
    const char *url, const nettls_files *tls, bridge_reply_fn fn, void *arg);
void bridge_client_destroy(bridge_client *c);

/* Sends one request; fn is called once with its outcome. Only one request
 * may be outstanding: DN_ESTATE if one is. The bytes are copied. */
int bridge_client_call(bridge_client *c, const void *buf, size_t len,
    int timeout_ms);

#endif
