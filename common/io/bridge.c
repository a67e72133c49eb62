/*
 * bridge.c - nng REP/REQ sockets driven from a libuv loop (see bridge.h).
 *
 * Server: each nng context is one bridge_req that cycles RECV -> (queued to
 * the loop) -> SEND -> RECV. So requests in flight are bounded by the number
 * of contexts (<= DN_SERVER_CTX_MAX): when every context is busy, nng stops
 * reading from the pipes and TCP pushes back on the clients. One pipe may
 * hold at most peer_max of them (bridge_set_peer_max): the count per pipe
 * (core/peercount.h, under mtx) is taken when a request arrives and given
 * back when its context returns to RECV; a request over the cap goes to
 * the loop marked `over` and is answered by refuse_fn there, unexecuted,
 * so its context is free again after one reply. The queue to the
 * loop is an intrusive list under a mutex; nng threads only push and call
 * uv_async_send (the one libuv call that is thread-safe).
 *
 * Replies: nng_ctx_send writes to the TCP socket inline and wakes nng's
 * threads; measured on the coordinator it took 55% of the loop thread. So
 * the loop only builds the reply message and queues it; a sender thread per
 * bridge makes the nng_ctx_send calls, overlapping with the loop's next
 * batch. With a sync function set (bridge_set_sync), the sender first
 * makes the replies' commits durable (walsync: the fsync moved off the loop),
 * so replies leave in order and only after their commit is on disk.
 *
 * Shutdown (loop thread): mark closing under the mutex so no callback touches
 * the async handle any more, stop every aio (waits for running callbacks),
 * close the socket, free queued messages, then uv_close the async handle and
 * free the bridge in its close callback.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/peercount.h"
#include "io/bridge.h"
#include "io/log.h"
#include "io/netguard.h"

typedef enum { REQ_RECV, REQ_QUEUED, REQ_SEND } req_state;

/* Closed pipes remembered for bridge_req_abandoned (more than the requests
 * that can wait at once); older ones nng has forgotten anyway. */
#define BRIDGE_CLOSED_RING 1024u
/* How often the listener's guard looks at it (netguard.h). */
#define BRIDGE_GUARD_MS 1000u
/* At most one bridge.peer_busy line per socket this often (a flood of
 * refusals must not become a flood of log lines); the line counts what it
 * stood for. */
#define BRIDGE_BUSY_LOG_MS 1000u

struct bridge_req {
	bridge *b;
	nng_ctx ctx;
	nng_aio *aio;
	req_state state;
	nng_msg *msg;       /* the request while queued / being served */
	uint64_t recv_ns;   /* CLOCK_MONOTONIC when it arrived (metrics) */
	uint64_t ticket;    /* the reply waits for sync_fn(ticket); 0: no wait */
	uint64_t closed_seen; /* stats.pipes_closed when it was queued */
	uint32_t peer;      /* pipe id counted in b->inflight; 0: not counted */
	bool over;          /* its pipe was at the cap: refuse, not serve */
	bridge_req *next;   /* queue link (to the loop, or to the sender) */
};

struct bridge {
	uv_loop_t *loop;
	uv_async_t async;
	nng_socket sock;
	bool sock_open;
	bridge_req *reqs;
	size_t nctx;
	nng_mtx *mtx;
	bridge_req *head, *tail; /* queue to the loop, under mtx */
	bool closing;            /* under mtx */
	bridge_batch_fn fn;
	void *arg;
	bridge_req **batch;      /* scratch array for the batch callback */
	bridge_stats stats;      /* received/backpressure under mtx */
	char url[128];
	netguard *guard;         /* the listener, kept alive (netguard.h) */
	uv_timer_t guard_timer;  /* ticks the guard, loop thread */
	int handles_open;        /* async + guard_timer, until both close */
	/* Reply sender: a queue of requests whose reply message is set. */
	nng_mtx *send_mtx;
	nng_cv *send_cv;
	nng_thread *sender;
	bridge_req *send_head, *send_tail; /* under send_mtx */
	bool send_stop;                    /* under send_mtx */
	bridge_sync_fn sync_fn;            /* set before the first reply */
	void *sync_arg;
	bridge_gate_fn gate_fn;            /* loop thread */
	void *gate_arg;
	/* Pipes (client connections) closed lately, as nng reported them
	 * (NNG_PIPE_EV_REM_POST), under mtx: a ring, newest at closed_next-1. */
	uint32_t closed[BRIDGE_CLOSED_RING];
	size_t closed_next;
	/* Requests in flight per pipe, from receipt until the reply is sent
	 * (or the request dropped), under mtx; capped at peer_max
	 * (bridge_set_peer_max; 0: no cap, nothing counted). */
	peercount inflight;
	peercount_slot *inflight_slots;
	uint32_t peer_max;
	bridge_refuse_fn refuse_fn;        /* loop thread */
	void *refuse_arg;
	uint64_t busy_log_ms;              /* loop thread: last peer_busy line */
	uint64_t busy_unlogged;            /* refusals since that line */
};

/* r is done with (replied, or dropped): its place under its pipe's cap is
 * free again. Any thread; takes mtx only for a counted request. */
static void bridge_req_release(bridge_req *r)
{
	r->over = false;
	if (r->peer == 0) {
		return;
	}
	bridge *b = r->b;
	nng_mtx_lock(b->mtx);
	peercount_put(&b->inflight, r->peer);
	nng_mtx_unlock(b->mtx);
	r->peer = 0;
}

static void bridge_req_recv(bridge_req *r)
{
	bridge_req_release(r);
	r->state = REQ_RECV;
	nng_ctx_recv(r->ctx, r->aio);
}

static void bridge_aio_cb(void *arg)
{
	bridge_req *r = arg;
	bridge *b = r->b;
	int rv = nng_aio_result(r->aio);
	if (r->state == REQ_SEND) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(r->aio));
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				return;
			}
		}
		bridge_req_recv(r);
		return;
	}
	/* REQ_RECV */
	if (rv != 0) {
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return;
		}
		/* Transient (e.g. a pipe went away): keep serving. */
		bridge_req_recv(r);
		return;
	}
	r->msg = nng_aio_get_msg(r->aio);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r->recv_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	nng_mtx_lock(b->mtx);
	if (b->closing) {
		nng_mtx_unlock(b->mtx);
		nng_msg_free(r->msg);
		r->msg = NULL;
		return;
	}
	r->state = REQ_QUEUED;
	r->next = NULL;
	bool was_empty = b->head == NULL;
	if (b->tail != NULL) {
		b->tail->next = r;
	} else {
		b->head = r;
	}
	b->tail = r;
	b->stats.received++;
	r->closed_seen = b->stats.pipes_closed;
	if (b->peer_max != 0) {
		/* Its connection's share of the contexts (issue 9): over the
		 * cap it is answered by refuse_fn, not served. */
		uint32_t id = nng_pipe_id(nng_msg_get_pipe(r->msg));
		if ((int32_t)id > 0 && peercount_take(&b->inflight, id)) {
			r->peer = id;
		} else if ((int32_t)id > 0) {
			r->over = true;
			b->stats.peer_busy++;
		}
	}
	nng_mtx_unlock(b->mtx);
	/* Only the request that finds the queue empty wakes the loop, and
	 * outside the mutex: any later one joins a queue the loop has not
	 * taken yet, so that wake-up's callback takes it too. (uv_async_send
	 * under the mutex, once per request, made every aio thread wait on
	 * the lock behind an eventfd write: ~10% of the coordinator's samples
	 * were futex waits.) bridge_destroy's nng_aio_stop waits for this
	 * callback, so the async handle is still open here. */
	if (was_empty) {
		uv_async_send(&b->async);
	}
}

uint64_t bridge_req_received_ns(const bridge_req *r)
{
	return r->recv_ns;
}

/* Loop thread: is the listener still accepting? (netguard.h) */
static void bridge_guard_tick(uv_timer_t *t)
{
	bridge *b = t->data;
	(void)netguard_tick(b->guard, uv_now(b->loop));
}

/* nng's thread: a client connection is gone (netguard's pipe hook). */
static void bridge_pipe_removed(void *arg, nng_pipe p)
{
	bridge *b = arg;
	nng_mtx_lock(b->mtx);
	b->closed[b->closed_next++ % BRIDGE_CLOSED_RING] = nng_pipe_id(p);
	b->stats.pipes_closed++;
	nng_mtx_unlock(b->mtx);
}

/* The client that sent r has gone (its connection closed while r waited
 * in the queue): nobody would read the reply, so r is not executed (issue
 * 9: abandoned requests - a dropctl audit that timed out - must not queue
 * up and starve the live ones). A storefront that gave up resends with the
 * same key and gets the order then. Known from nng's pipe-removed events,
 * or from nng no longer knowing the pipe at all. Loop thread. */
static bool bridge_req_abandoned(bridge *b, const bridge_req *r, uint64_t closed_now)
{
	nng_pipe p = nng_msg_get_pipe(r->msg);
	uint32_t id = nng_pipe_id(p);
	/* No connection closed since r was queued: the common case, and
	 * nothing to look up on the hot path. */
	if (closed_now == r->closed_seen || (int32_t)id <= 0) {
		return false;
	}
	bool gone = false;
	nng_mtx_lock(b->mtx);
	size_t n = b->closed_next < BRIDGE_CLOSED_RING ? b->closed_next : BRIDGE_CLOSED_RING;
	for (size_t i = 0; i < n && !gone; i++) {
		gone = b->closed[i] == id;
	}
	nng_mtx_unlock(b->mtx);
	nng_sockaddr sa;
	return gone || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == NNG_ENOENT;
}

bool bridge_req_gone(bridge_req *r)
{
	bridge *b = r->b;
	nng_mtx_lock(b->mtx);
	uint64_t closed_now = b->stats.pipes_closed;
	nng_mtx_unlock(b->mtx);
	return r->msg != NULL && bridge_req_abandoned(b, r, closed_now);
}

void bridge_req_drop(bridge_req *r)
{
	bridge *b = r->b;
	nng_msg_free(r->msg);
	r->msg = NULL;
	bridge_req_recv(r);
	nng_mtx_lock(b->mtx);
	uint64_t total = ++b->stats.abandoned;
	nng_mtx_unlock(b->mtx);
	log_warn("bridge.abandoned", "url=%s dropped=1 total=%" PRIu64 " at=deferred", b->url,
	    total);
}

/* The peer's address for a log line: "IP:port", "[IPv6]:port", or the
 * transport's name when it has no address to show (ipc). */
static void bridge_pipe_addr(nng_pipe p, char *buf, size_t size)
{
	nng_sockaddr sa;
	char ip[INET6_ADDRSTRLEN] = "?";
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0) {
		snprintf(buf, size, "unknown");
	} else if (sa.s_family == NNG_AF_INET) {
		(void)inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, (unsigned)ntohs(sa.s_in.sa_port));
	} else if (sa.s_family == NNG_AF_INET6) {
		(void)inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, (unsigned)ntohs(sa.s_in6.sa_port));
	} else {
		snprintf(buf, size, "ipc");
	}
}

/* Answers r, whose connection is at its cap, through refuse_fn; one
 * bridge.peer_busy line a second at most (BRIDGE_BUSY_LOG_MS), naming
 * the last peer refused and counting every refusal since the last line.
 * Loop thread. */
static void bridge_refuse(bridge *b, bridge_req *r)
{
	nng_pipe p = nng_msg_get_pipe(r->msg);
	uint64_t now = uv_now(b->loop);
	b->busy_unlogged++;
	if (b->busy_log_ms == 0 || now - b->busy_log_ms >= BRIDGE_BUSY_LOG_MS) {
		char addr[64];
		bridge_pipe_addr(p, addr, sizeof(addr));
		nng_mtx_lock(b->mtx);
		uint64_t total = b->stats.peer_busy;
		nng_mtx_unlock(b->mtx);
		log_warn("bridge.peer_busy", "url=%s peer=%s pipe=%" PRIu32 " inflight_max=%" PRIu32
		    " refused=%" PRIu64 " total=%" PRIu64, b->url, addr, nng_pipe_id(p),
		    b->peer_max, b->busy_unlogged, total);
		b->busy_log_ms = now == 0 ? 1 : now;
		b->busy_unlogged = 0;
	}
	b->refuse_fn(b->refuse_arg, r, b->peer_max);
}

static void bridge_async_cb(uv_async_t *h)
{
	bridge *b = h->data;
	if (b->gate_fn != NULL && !b->gate_fn(b->gate_arg)) {
		return; /* held: bridge_kick wakes us */
	}
	nng_mtx_lock(b->mtx);
	bridge_req *r = b->head;
	b->head = b->tail = NULL;
	uint64_t closed_now = b->stats.pipes_closed;
	nng_mtx_unlock(b->mtx);
	size_t n = 0, gone = 0;
	while (r != NULL) {
		bridge_req *next = r->next;
		/* One queued request per context at most, so n <= nctx. */
		assert(n < b->nctx);
		if (bridge_req_abandoned(b, r, closed_now)) {
			nng_msg_free(r->msg);
			r->msg = NULL;
			bridge_req_recv(r);
			gone++;
		} else if (r->over) {
			bridge_refuse(b, r);
		} else {
			b->batch[n++] = r;
		}
		r = next;
	}
	if (gone > 0) {
		nng_mtx_lock(b->mtx);
		b->stats.abandoned += gone;
		uint64_t total = b->stats.abandoned;
		nng_mtx_unlock(b->mtx);
		log_warn("bridge.abandoned", "url=%s dropped=%zu total=%" PRIu64, b->url, gone, total);
	}
	if (n > 0) {
		b->fn(b->arg, b->batch, n);
	}
}

static void bridge_sender(void *arg)
{
	bridge *b = arg;
	nng_mtx_lock(b->send_mtx);
	for (;;) {
		while (b->send_head == NULL && !b->send_stop) {
			nng_cv_wait(b->send_cv);
		}
		if (b->send_head == NULL) {
			break; /* stopping, and nothing left to send */
		}
		bridge_req *r = b->send_head;
		b->send_head = b->send_tail = NULL;
		nng_mtx_unlock(b->send_mtx);
		/* Tickets grow with the queue, but take the largest anyway: one
		 * sync then covers every reply taken. */
		uint64_t ticket = 0;
		for (bridge_req *q = r; q != NULL; q = q->next) {
			ticket = q->ticket > ticket ? q->ticket : ticket;
		}
		if (ticket != 0 && b->sync_fn != NULL) {
			b->sync_fn(b->sync_arg, ticket);
		}
		while (r != NULL) {
			bridge_req *next = r->next;
			nng_ctx_send(r->ctx, r->aio);
			r = next;
		}
		nng_mtx_lock(b->send_mtx);
	}
	nng_mtx_unlock(b->send_mtx);
}

int bridge_create(bridge **out, uv_loop_t *loop, const char *url,
    const nettls_files *tls, size_t recv_max, size_t nctx,
    bridge_batch_fn fn, void *arg)
{
	*out = NULL;
	if (loop == NULL || url == NULL || fn == NULL || nctx == 0 ||
	    recv_max == 0 || recv_max > DN_MSG_MAX_BYTES ||
	    nctx > DN_SERVER_CTX_MAX || strlen(url) >= sizeof(((bridge *)0)->url)) {
		return DN_EINVAL;
	}
	bridge *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return DN_ENOMEM;
	}
	b->loop = loop;
	b->fn = fn;
	b->arg = arg;
	b->nctx = nctx;
	snprintf(b->url, sizeof(b->url), "%s", url);
	b->reqs = calloc(nctx, sizeof(*b->reqs));
	b->batch = calloc(nctx, sizeof(*b->batch));
	/* Each context holds at most one counted request. */
	size_t nslots = peercount_slots(nctx);
	b->inflight_slots = calloc(nslots, sizeof(*b->inflight_slots));
	peercount_init(&b->inflight, b->inflight_slots, nslots, 0);
	if (b->reqs == NULL || b->batch == NULL || b->inflight_slots == NULL ||
	    nng_mtx_alloc(&b->mtx) != 0) {
		goto fail_alloc;
	}
	if (nng_mtx_alloc(&b->send_mtx) != 0) {
		nng_mtx_free(b->mtx);
		goto fail_alloc;
	}
	if (nng_cv_alloc(&b->send_cv, b->send_mtx) != 0) {
		nng_mtx_free(b->send_mtx);
		nng_mtx_free(b->mtx);
		goto fail_alloc;
	}
	int rv = nng_rep0_open(&b->sock);
	if (rv != 0) {
		goto fail_mtx;
	}
	b->sock_open = true;
	nng_socket_set_size(b->sock, NNG_OPT_RECVMAXSZ, recv_max);
	rv = netguard_listen(&b->guard, b->sock, url, tls);
	if (rv == 0) {
		netguard_set_pipe_hook(b->guard, bridge_pipe_removed, b);
	} else {
		log_error("bridge.listen_failed", "url=%s err=%s", url, dn_strerror(rv));
		nng_close(b->sock);
		nng_cv_free(b->send_cv);
		nng_mtx_free(b->send_mtx);
		nng_mtx_free(b->mtx);
		free(b->inflight_slots);
		free(b->batch);
		free(b->reqs);
		free(b);
		return rv;
	}
	for (size_t i = 0; i < nctx; i++) {
		bridge_req *r = &b->reqs[i];
		r->b = b;
		if (nng_ctx_open(&r->ctx, b->sock) != 0 ||
		    nng_aio_alloc(&r->aio, bridge_aio_cb, r) != 0) {
			log_error("bridge.ctx_failed", "url=%s ctx=%zu", url, i);
			b->nctx = i + 1;
			goto fail_sock;
		}
	}
	if (nng_thread_create(&b->sender, bridge_sender, b) != 0) {
		goto fail_sock;
	}
	if (uv_async_init(loop, &b->async, bridge_async_cb) != 0) {
		nng_mtx_lock(b->send_mtx);
		b->send_stop = true;
		nng_cv_wake(b->send_cv);
		nng_mtx_unlock(b->send_mtx);
		nng_thread_destroy(b->sender);
		goto fail_sock;
	}
	b->async.data = b;
	/* uv_timer_init cannot fail on an initialised loop. */
	(void)uv_timer_init(loop, &b->guard_timer);
	b->guard_timer.data = b;
	b->handles_open = 2;
	uv_timer_start(&b->guard_timer, bridge_guard_tick, BRIDGE_GUARD_MS, BRIDGE_GUARD_MS);
	uv_unref((uv_handle_t *)&b->guard_timer); /* never keeps a loop alive */
	for (size_t i = 0; i < nctx; i++) {
		bridge_req_recv(&b->reqs[i]);
	}
	*out = b;
	return 0;

fail_sock:
	for (size_t i = 0; i < b->nctx; i++) {
		nng_aio_free(b->reqs[i].aio);
	}
	nng_close(b->sock);
	netguard_destroy(b->guard);
fail_mtx:
	nng_cv_free(b->send_cv);
	nng_mtx_free(b->send_mtx);
	nng_mtx_free(b->mtx);
fail_alloc:
	free(b->inflight_slots);
	free(b->batch);
	free(b->reqs);
	free(b);
	return DN_ENOMEM;
}

static void bridge_close_cb(uv_handle_t *h)
{
	bridge *b = h->data;
	if (--b->handles_open > 0) {
		return;
	}
	netguard_destroy(b->guard); /* the socket is closed: no pipe callback left */
	nng_cv_free(b->send_cv);
	nng_mtx_free(b->send_mtx);
	nng_mtx_free(b->mtx);
	free(b->inflight_slots);
	free(b->batch);
	free(b->reqs);
	free(b);
}

void bridge_destroy(bridge *b)
{
	if (b == NULL) {
		return;
	}
	nng_mtx_lock(b->mtx);
	b->closing = true;
	nng_mtx_unlock(b->mtx);
	/* The sender drains what is queued, then exits. */
	nng_mtx_lock(b->send_mtx);
	b->send_stop = true;
	nng_cv_wake(b->send_cv);
	nng_mtx_unlock(b->send_mtx);
	nng_thread_destroy(b->sender);
	for (size_t i = 0; i < b->nctx; i++) {
		nng_aio_stop(b->reqs[i].aio);
	}
	nng_close(b->sock);
	for (size_t i = 0; i < b->nctx; i++) {
		bridge_req *r = &b->reqs[i];
		if (r->msg != NULL) {
			nng_msg_free(r->msg);
			r->msg = NULL;
		}
		nng_aio_free(r->aio);
	}
	uv_close((uv_handle_t *)&b->async, bridge_close_cb);
	uv_close((uv_handle_t *)&b->guard_timer, bridge_close_cb);
}

int bridge_relisten(bridge *b, const nettls_files *tls)
{
	return netguard_restart(b->guard, tls, "reload");
}

uint64_t bridge_listener_restarts(const bridge *b)
{
	return netguard_restarts(b->guard);
}

int bridge_req_peer_uid(const bridge_req *r, uint64_t *uid)
{
	*uid = 0;
	if (nng_pipe_get_uint64(nng_msg_get_pipe(r->msg), NNG_OPT_IPC_PEER_UID, uid) != 0) {
		return DN_ENOENT;
	}
	return 0;
}

uint32_t bridge_req_pipe(const bridge_req *r)
{
	return nng_pipe_id(nng_msg_get_pipe(r->msg));
}

const uint8_t *bridge_req_body(const bridge_req *r, size_t *len)
{
	*len = nng_msg_len(r->msg);
	return nng_msg_body(r->msg);
}

void bridge_set_peer_max(bridge *b, uint32_t max, bridge_refuse_fn fn, void *arg)
{
	assert(max == 0 || fn != NULL);
	b->refuse_fn = fn;
	b->refuse_arg = arg;
	nng_mtx_lock(b->mtx);
	b->peer_max = max;
	b->inflight.max = max;
	nng_mtx_unlock(b->mtx);
}

void bridge_set_gate(bridge *b, bridge_gate_fn fn, void *arg)
{
	b->gate_fn = fn;
	b->gate_arg = arg;
}

void bridge_kick(bridge *b)
{
	if (b == NULL) {
		return;
	}
	nng_mtx_lock(b->mtx);
	bool wake = !b->closing && b->head != NULL;
	nng_mtx_unlock(b->mtx);
	/* As in bridge_aio_cb: the handle stays open until bridge_destroy,
	 * which the caller does not overlap. */
	if (wake) {
		uv_async_send(&b->async);
	}
}

void bridge_set_sync(bridge *b, bridge_sync_fn fn, void *arg)
{
	b->sync_fn = fn;
	b->sync_arg = arg;
}

void bridge_req_reply(bridge_req *r, const void *buf, size_t len)
{
	bridge_req_reply_after(r, buf, len, 0);
}

void bridge_req_reply_after(bridge_req *r, const void *buf, size_t len, uint64_t ticket)
{
	bridge *b = r->b;
	/* Reuse the request message for the reply: it already carries the
	 * REP routing header, and avoids an allocation per request. */
	nng_msg *m = r->msg;
	r->msg = NULL;
	nng_msg_clear(m);
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		log_warn("bridge.reply_dropped", "url=%s len=%zu reason=nomem", b->url, len);
		bridge_req_recv(r);
		return;
	}
	r->state = REQ_SEND;
	nng_aio_set_msg(r->aio, m);
	r->next = NULL;
	r->ticket = ticket;
	nng_mtx_lock(b->send_mtx);
	b->stats.replied++; /* under send_mtx, where bridge_get_stats reads it */
	bool was_empty = b->send_head == NULL;
	if (b->send_tail != NULL) {
		b->send_tail->next = r;
	} else {
		b->send_head = r;
	}
	b->send_tail = r;
	if (was_empty) {
		nng_cv_wake1(b->send_cv);
	}
	nng_mtx_unlock(b->send_mtx);
}

void bridge_get_stats(const bridge *b, bridge_stats *out)
{
	nng_mtx_lock(b->mtx);
	*out = b->stats;
	out->peer_inflight = b->inflight.held;
	nng_mtx_unlock(b->mtx);
	nng_mtx_lock(b->send_mtx);
	out->replied = b->stats.replied;
	nng_mtx_unlock(b->send_mtx);
}

/* ---- client ---------------------------------------------------------- */

typedef enum { CALL_IDLE, CALL_SEND, CALL_RECV, CALL_DONE } call_state;

struct bridge_client {
	uv_loop_t *loop;
	uv_async_t async;
	nng_socket sock;
	netguard *guard;    /* the dialer, kept redialling (netguard.h) */
	nng_ctx ctx;
	nng_aio *aio;
	nng_mtx *mtx;
	call_state state;   /* under mtx once a call is in flight */
	bool closing;       /* under mtx */
	int result;         /* DN_E* of the finished call */
	nng_msg *reply;
	int timeout_ms;
	bridge_reply_fn fn;
	void *arg;
};

static int bridge_nng_err(int rv)
{
	switch (rv) {
	case 0: return 0;
	case NNG_ETIMEDOUT: return DN_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECANCELED: return DN_ECLOSED;
	default: return DN_ENET;
	}
}

static void bridge_client_finish(bridge_client *c, int result, nng_msg *reply)
{
	nng_mtx_lock(c->mtx);
	c->result = result;
	c->reply = reply;
	c->state = CALL_DONE;
	if (!c->closing) {
		uv_async_send(&c->async);
	}
	nng_mtx_unlock(c->mtx);
}

static void bridge_client_aio_cb(void *arg)
{
	bridge_client *c = arg;
	int rv = nng_aio_result(c->aio);
	if (c->state == CALL_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			bridge_client_finish(c, bridge_nng_err(rv), NULL);
			return;
		}
		c->state = CALL_RECV;
		nng_aio_set_timeout(c->aio, c->timeout_ms);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv != 0) {
		bridge_client_finish(c, bridge_nng_err(rv), NULL);
		return;
	}
	bridge_client_finish(c, 0, nng_aio_get_msg(c->aio));
}

static void bridge_client_async_cb(uv_async_t *h)
{
	bridge_client *c = h->data;
	nng_mtx_lock(c->mtx);
	if (c->state != CALL_DONE) {
		nng_mtx_unlock(c->mtx);
		return;
	}
	int result = c->result;
	nng_msg *reply = c->reply;
	c->reply = NULL;
	c->state = CALL_IDLE;
	nng_mtx_unlock(c->mtx);
	if (reply != NULL) {
		c->fn(c->arg, 0, nng_msg_body(reply), nng_msg_len(reply));
		nng_msg_free(reply);
	} else {
		c->fn(c->arg, result, NULL, 0);
	}
}

int bridge_client_create(bridge_client **out, uv_loop_t *loop, const char *url,
    const nettls_files *tls, bridge_reply_fn fn, void *arg)
{
	*out = NULL;
	if (loop == NULL || url == NULL || fn == NULL) {
		return DN_EINVAL;
	}
	bridge_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return DN_ENOMEM;
	}
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	if (nng_mtx_alloc(&c->mtx) != 0) {
		free(c);
		return DN_ENOMEM;
	}
	if (nng_req0_open(&c->sock) != 0) {
		nng_mtx_free(c->mtx);
		free(c);
		return DN_ENET;
	}
	nng_setopt_size(c->sock, NNG_OPT_RECVMAXSZ, DN_MSG_MAX_BYTES);
	/* Retries are ours (same batch, resent on the next sync); nng must not
	 * resend on its own. */
	nng_setopt_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	int rv = netguard_dial(&c->guard, c->sock, url, tls);
	if (rv != 0 || nng_ctx_open(&c->ctx, c->sock) != 0 ||
	    nng_aio_alloc(&c->aio, bridge_client_aio_cb, c) != 0 ||
	    uv_async_init(loop, &c->async, bridge_client_async_cb) != 0) {
		log_error("bridge.dial_failed", "url=%s err=%s", url,
		    dn_strerror(rv != 0 ? rv : DN_ENOMEM));
		nng_close(c->sock);
		netguard_destroy(c->guard);
		nng_aio_free(c->aio);
		nng_mtx_free(c->mtx);
		free(c);
		return rv != 0 ? rv : DN_ENOMEM;
	}
	c->async.data = c;
	*out = c;
	return 0;
}

static void bridge_client_close_cb(uv_handle_t *h)
{
	bridge_client *c = h->data;
	nng_mtx_free(c->mtx);
	free(c);
}

void bridge_client_destroy(bridge_client *c)
{
	if (c == NULL) {
		return;
	}
	nng_mtx_lock(c->mtx);
	c->closing = true;
	nng_mtx_unlock(c->mtx);
	nng_aio_stop(c->aio);
	/* Freed before the socket closes: libnng 1.5.2's expiry thread may
	 * still call a stale cancel with the context, and nng_aio_free
	 * waits for it where nng_aio_stop does not (client/dnclient.c). */
	nng_aio_free(c->aio);
	c->aio = NULL;
	nng_close(c->sock);
	netguard_destroy(c->guard);
	c->guard = NULL;
	if (c->reply != NULL) {
		nng_msg_free(c->reply);
		c->reply = NULL;
	}
	uv_close((uv_handle_t *)&c->async, bridge_client_close_cb);
}

int bridge_client_call(bridge_client *c, const void *buf, size_t len, int timeout_ms)
{
	/* Still dialling? (netguard.h: libnng may have stopped redialling.) */
	(void)netguard_tick(c->guard, uv_now(c->loop));
	nng_mtx_lock(c->mtx);
	if (c->state != CALL_IDLE || c->closing) {
		nng_mtx_unlock(c->mtx);
		return DN_ESTATE;
	}
	c->state = CALL_SEND;
	nng_mtx_unlock(c->mtx);
	nng_msg *m = NULL;
	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		nng_mtx_lock(c->mtx);
		c->state = CALL_IDLE;
		nng_mtx_unlock(c->mtx);
		return DN_ENOMEM;
	}
	c->timeout_ms = timeout_ms;
	nng_aio_set_msg(c->aio, m);
	nng_aio_set_timeout(c->aio, timeout_ms);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}
