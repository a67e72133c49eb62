/*
 * dnclient.c - libdropnet (dnclient.h): a queue of orders, a flusher thread
 * that cuts it into messages, and inflight_max nng REQ contexts that carry
 * them.
 *
 * Invariants: an order is in exactly one place - the queue, one slot's
 * message, or handed to its callback (then freed); every order's callback
 * is called exactly once. The mutex guards the queue, the slots' busy flags
 * and the address; callbacks are always called without it.
 * Threads: submitters append to the queue; the flusher thread takes up to
 * batch_max orders into a free slot once the batch is full or its oldest
 * order has waited linger_us, and does the failover (dialling is not for
 * nng's callback threads); nng's aio threads complete sends and receives
 * and answer the orders.
 *
 * Shutdown (dnclient_destroy), in this order: closing is set under the
 * mutex (submits are refused, the flusher ends) and the flusher is joined,
 * so nothing new is sent; the messages in flight are given a bounded time
 * to be answered (the drain); then stopping is set and every slot's aio is
 * stopped with nng_aio_stop - a callback that sees stopping never starts
 * another operation, and one that raced the stop is answered by destroy -
 * and only then is the socket closed (bounded, see dnc_close_socket), the
 * aios freed and the mutex destroyed. No nng callback runs after the aios
 * are stopped, so none can touch a context, slot or mutex being freed.
 *
 * libnng 1.5.2 (Debian 12's) wedges for good when a pipe is closed while a
 * message is arriving on it: the transport's receive callback (ipc, tcp and
 * tls alike) starts the body read on an aio the close already stopped;
 * nni_aio_begin drops it without a callback, so the protocol's receive aio
 * stays queued forever, the reaper thread waits on it in pipe_destroy, and
 * every later nng_close in the process (which waits for its pipes to be
 * reaped) hangs. So the client closes a connection only when nothing is in
 * flight on it: dnc_rotate waits for the slots to be idle before it closes
 * the old dialer, destroy drains first, and a close that still does not
 * return is abandoned after DNC_CLOSE_WAIT_MS (logged) rather than hang the
 * caller.
 *
 * The same libnng stops a coordinator's listener for good when a client
 * goes away in the middle of a handshake (common/io/netguard.h): the
 * replica takes no storefront connection any more until its netguard sees
 * it (2-6 s). A dialer with no connection may be in one (it redials on its
 * own: a killed replica is back in ~200 ms, while the watchdog moves on
 * after DNC_NOPIPE_US), so dnc_rotate never closes one: it is retired. A
 * retired dialer is given a long reconnect time (it dials no more after
 * the attempt it may be in), a connection that attempt still makes is
 * refused before the socket sees it (dnc_pipe_added: no order goes there;
 * the other side sees a connection close after its handshake), and the
 * flusher closes the dialer DNC_RETIRED_CLOSE_US later, when any attempt
 * has ended. A connected dialer is closed as before: its handshake is long
 * done.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/envelope.h"
#include "io/log.h"
#include "io/netguard.h"
#include "dnclient.h"

/* nng's own resend on a REQ context: off in practice (longer than any
 * timeout); the client's retry uses the same keys instead. */
#define DNC_RESEND_MS (10 * 60 * 1000)
/* After failed messages, the dialer is looked at most this often. */
#define DNC_RECHECK_US 1000000u
/* Most destroy waits for the messages in flight to be answered (never more
 * than timeout_ms): closing a connection while an answer arrives wedges
 * libnng 1.5.2 (above). */
#define DNC_DRAIN_MS 1000
/* Most destroy waits for nng_close before it abandons the socket (libnng's
 * reaper wedged: the socket cannot be freed any more). */
#define DNC_CLOSE_WAIT_MS 5000
/* A group (several URLs): with messages in flight and no connection to the
 * current address for DNC_NOPIPE_US (its replica died, or a NOT_LEADER
 * named a dead leader), they are cancelled and sent again elsewhere rather
 * than left to wait out timeout_ms; the flusher looks every DNC_WATCH_US. */
#define DNC_NOPIPE_US 300000u
#define DNC_WATCH_US 50000u
/* The same for an address dialled but never connected yet: a TLS handshake
 * on a busy machine takes longer than DNC_NOPIPE_US (measured: a new
 * leader taken for dead while its handshake ran). */
#define DNC_DIAL_GRACE_US 1000000u
/* A NOT_LEADER that names no leader (an election is on) keeps the client
 * where it is - the next URL may be the dead one - unless such answers go
 * on for this long (a follower cut off from its group). */
#define DNC_LEADERLESS_US 1000000u
/* An address the watchdog found dead is neither followed to (a follower
 * may name its dead leader until its own election timeout) nor rotated to
 * for this long; a restarted replica comes back, busy replaying its log. */
#define DNC_DOWN_US 2000000u
/* An order answered UNAVAILABLE, or NOT_LEADER with no leader named (an
 * election is on), is sent again no sooner than this times its attempt
 * number: sent back at once it would meet the same answer and spend its
 * retries in a few milliseconds. A NOT_LEADER naming the leader is
 * followed at once. */
#define DNC_RETRY_BACKOFF_US 50000u
/* A retired dialer's reconnect time (nng draws its next wait at random
 * below it; setting it sets the current wait too): it dials no more. */
#define DNC_RETIRED_RECONN_MS (3600 * 1000)
/* A retired dialer is closed this long after (a connection attempt it was
 * in has ended: a TLS handshake takes milliseconds). */
#define DNC_RETIRED_CLOSE_US 2000000u
/* Retired dialers kept at once (more: the oldest is closed early). */
#define DNC_RETIRED_MAX 16u

typedef struct {
	nng_dialer d;
	uint64_t since_us;
} dnc_retired;

typedef struct dnc_item {
	struct dnc_item *next;
	uint8_t *buf;
	size_t len;
	dnclient_cb cb;
	void *arg;
	unsigned attempts;
	uint64_t queued_us;
	uint64_t not_before_us;  /* a retry waits until then (0: none) */
} dnc_item;

typedef struct {
	dnclient *c;
	nng_ctx ctx;
	nng_aio *aio;
	dnc_item *items[DN_INGEST_BATCH_MAX];
	size_t n;
	bool busy, sending, bare;
	bool served;             /* an answer other than NOT_LEADER came back */
	uint64_t gen;            /* the address generation it was sent on */
} dnc_slot;

struct dnclient {
	dnclient_opts o;
	char *urls[DNCLIENT_URLS_MAX];
	nng_socket sock;
	nng_dialer dialer;
	size_t cur;
	uint64_t gen;
	bool rotate;             /* the flusher should move to the next URL */
	const char *rotate_why;  /* why (the fail-over's log line) */
	bool recheck;            /* a message failed: is the dialer still dialling? */
	uint64_t recheck_us;     /* flusher: when it last looked */
	uint64_t dial_other;     /* flusher: the dialer's "other" errors then */
	/* One URL: since when messages have failed with no answer at all (0:
	 * the last one was answered). After dnc_redial_us the flusher dials
	 * again: after a partition heals, an old TCP connection waits out its
	 * retransmission back-off (49 s measured after a 60 s cut) while a
	 * fresh one gets through at once (as hubd does, SEMANTICS.md). */
	uint64_t failing_since_us;
	int leader;              /* a group's leader named by a NOT_LEADER: the
	                          * URL index rotate moves to; -1: the next */
	uint64_t leaderless_since_us; /* first NOT_LEADER naming no leader (0: none) */
	uint64_t watch_us;       /* flusher: when it last looked for a connection */
	uint64_t nopipe_since_us; /* flusher: in flight with no connection since */
	bool connected;          /* flusher: the current dialer had a connection */
	uint64_t down_until_us[DNCLIENT_URLS_MAX]; /* found dead (watchdog): not
	                          * followed to, nor rotated to, before then */
	/* Dialers left with no connection (see the top), oldest first. */
	dnc_retired retired[DNC_RETIRED_MAX];
	size_t nretired;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	dnc_item *head, *tail;
	size_t queued;
	dnc_slot slots[DNCLIENT_INFLIGHT_MAX];
	size_t nfree;
	bool closing;            /* destroy began: no submit, no send */
	bool stopping;           /* the aios are being stopped: no callback
	                          * starts another operation */
	bool flusher_started;
	pthread_t flusher;
	dnclient_stats st;
};

static uint64_t dnc_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void dnclient_opts_init(dnclient_opts *o)
{
	memset(o, 0, sizeof(*o));
	nettls_files_from_env(&o->tls, NETTLS_AS_STOREFRONT);
	o->batch_max = 64;
	o->linger_us = 200;
	o->inflight_max = 4;
	o->timeout_ms = 5000;
	o->retries = 3;
}

int dnclient_opts_sign_from_env(dnclient_opts *o)
{
	int rv = auth_client_from_env(&o->auth, "DROPNET_STOREFRONT_AUTH_NAME",
	    "DROPNET_STOREFRONT_AUTH_KEY");
	o->sign = rv == 0;
	return rv;
}

static void dnc_item_done(dnc_item *it, int rv, const uint8_t *ack, size_t len)
{
	it->cb(it->arg, rv, ack, len);
	free(it->buf);
	free(it);
}

/* Puts items back at the queue's head (in their order) or answers them rv
 * when out of retries or closing. Called without the mutex. */
static void dnc_requeue(dnclient *c, dnc_item **items, size_t n, int rv)
{
	dnc_item *failed = NULL;
	pthread_mutex_lock(&c->mu);
	bool closing = c->closing;
	for (size_t k = n; k-- > 0;) {
		dnc_item *it = items[k];
		if (closing || ++it->attempts > c->o.retries) {
			it->next = failed;
			failed = it;
			continue;
		}
		c->st.retries++;
		it->next = c->head;
		c->head = it;
		if (c->tail == NULL) {
			c->tail = it;
		}
		c->queued++;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	while (failed != NULL) {
		dnc_item *nx = failed->next;
		dnc_item_done(failed, closing ? DN_ECLOSED : rv, NULL, 0);
		failed = nx;
	}
}

/* Frees slot s for the next message. */
static void dnc_slot_release(dnc_slot *s, bool failed, bool answered)
{
	dnclient *c = s->c;
	pthread_mutex_lock(&c->mu);
	if (s->served) {
		c->leaderless_since_us = 0;
		s->served = false;
	}
	if (answered) {
		c->failing_since_us = 0;
	} else if (failed && c->failing_since_us == 0) {
		c->failing_since_us = dnc_now_us();
	}
	if (failed && s->gen == c->gen && c->o.nurls > 1) {
		c->rotate = true;
		c->rotate_why = answered ? "bad_answer" : "no_answer";
	} else if (failed) {
		c->recheck = true;
	}
	s->busy = false;
	s->n = 0;
	c->nfree++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* A follower of a replicated group answered NOT_LEADER: the flusher moves
 * to the leader it named when that is one of our URLs, else to the next
 * (proto/SEMANTICS.md "Replicated groups"). Any thread. */
static void dnc_follow(dnclient *c, const char *leader)
{
	pthread_mutex_lock(&c->mu);
	uint64_t now = dnc_now_us();
	int at = -1;
	for (size_t k = 0; leader != NULL && k < c->o.nurls; k++) {
		if (strcmp(c->urls[k], leader) == 0 && k != c->cur) {
			at = (int)k;
		}
	}
	/* A leader named at an address this client just found dead is the
	 * follower's stale view (it learns of the death only at its own
	 * election timeout): as if none were named. */
	bool named = leader != NULL && leader[0] != '\0' &&
	    !(at >= 0 && c->down_until_us[at] > now);
	if (named) {
		c->leaderless_since_us = 0;
	} else if (c->leaderless_since_us == 0) {
		c->leaderless_since_us = now;
	}
	if (c->o.nurls > 1 && !c->rotate &&
	    (named || now - c->leaderless_since_us >= DNC_LEADERLESS_US)) {
		c->leaderless_since_us = 0;
		c->rotate = true;
		c->rotate_why = named ? "not_leader" : "leaderless";
		c->leader = named ? at : -1;
		pthread_cond_broadcast(&c->cv);   /* the flusher moves now */
	}
	pthread_mutex_unlock(&c->mu);
}

/* Hands one order its answer, or queues it again for an UNAVAILABLE (and,
 * after moving on, for a NOT_LEADER). True when the answer came from a
 * leader (not NOT_LEADER). */
static bool dnc_answer(dnclient *c, dnc_item *it, const uint8_t *ack, size_t len)
{
	Dropnet__OrderAck *a = NULL;
	int rv = codec_order_ack_unpack(ack, len, &a);
	bool follow = rv == 0 && a->status == DROPNET__STATUS__NOT_LEADER;
	if (follow) {
		/* Moves on even when the answer goes back to the caller: its
		 * retry then reaches the leader. */
		dnc_follow(c, a->leader);
	}
	bool again = rv == 0 && (a->status == DROPNET__STATUS__UNAVAILABLE || follow) &&
	    it->attempts < c->o.retries;
	bool served = rv == 0 && !follow;
	bool named = follow && a->leader != NULL && a->leader[0] != '\0';
	it->not_before_us = again && !named ?
	    dnc_now_us() + DNC_RETRY_BACKOFF_US * (it->attempts + 1u) : 0;
	codec_order_ack_free(a);
	if (rv != 0 && rv != DN_ERANGE) {
		dnc_requeue(c, &it, 1, DN_EPROTO);
	} else if (again) {
		dnc_requeue(c, &it, 1, 0);
	} else {
		dnc_item_done(it, 0, ack, len);
	}
	return served;
}

/* Answers slot s's orders from reply bytes; false if they do not fit. */
static bool dnc_answer_all(dnc_slot *s, const uint8_t *buf, size_t len)
{
	if (s->bare) {
		s->served = dnc_answer(s->c, s->items[0], buf, len);
		return true;
	}
	envelope e;
	envelope_slice acks[DN_INGEST_BATCH_MAX];
	size_t n = 0;
	if (envelope_read(buf, len, &e) != 0) {
		return false;
	}
	if (e.kind == ENVELOPE_ONE) {
		/* The batch was refused whole: each order gets that answer. */
		for (size_t k = 0; k < s->n; k++) {
			s->served |= dnc_answer(s->c, s->items[k], e.body.buf, e.body.len);
		}
		return true;
	}
	if (e.kind != ENVELOPE_BATCH ||
	    envelope_items(e.body.buf, e.body.len, 1, acks, DN_INGEST_BATCH_MAX, &n) != 0 ||
	    n != s->n) {
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		s->served |= dnc_answer(s->c, s->items[k], acks[k].buf, acks[k].len);
	}
	return true;
}

static void dnc_slot_cb(void *arg)
{
	dnc_slot *s = arg;
	int r = nng_aio_result(s->aio);
	if (r == 0 && s->sending) {
		/* The message went out (nng has it): wait for the answer, unless
		 * destroy is stopping the aios - then nng would drop the
		 * receive without a callback and the orders would wait for
		 * ever; they are answered DN_ECLOSED below instead. */
		s->sending = false;
		pthread_mutex_lock(&s->c->mu);
		bool stopping = s->c->stopping;
		pthread_mutex_unlock(&s->c->mu);
		if (!stopping) {
			nng_ctx_recv(s->ctx, s->aio);
			return;
		}
		r = NNG_ECLOSED;
	}
	if (r != 0) {
		if (s->sending) {
			nng_msg_free(nng_aio_get_msg(s->aio));
		}
		int rv = r == NNG_ETIMEDOUT ? DN_ETIMEDOUT :
		    r == NNG_ECLOSED ? DN_ECLOSED : DN_ENET;
		dnc_item *items[DN_INGEST_BATCH_MAX];
		size_t n = s->n;
		memcpy(items, s->items, n * sizeof(items[0]));
		dnc_slot_release(s, true, false);
		dnc_requeue(s->c, items, n, rv);
		return;
	}
	nng_msg *m = nng_aio_get_msg(s->aio);
	dnc_item *items[DN_INGEST_BATCH_MAX];
	size_t n = s->n;
	memcpy(items, s->items, n * sizeof(items[0]));
	bool ok = dnc_answer_all(s, nng_msg_body(m), nng_msg_len(m));
	nng_msg_free(m);
	dnc_slot_release(s, !ok, true);
	if (!ok) {
		dnc_requeue(s->c, items, n, DN_EPROTO);
	}
}

/* A new message holding buf, in its Signed envelope when c signs (the
 * flusher only: it alone moves the counter). 0 or DN_ENOMEM. */
static int dnc_msg(dnclient *c, const uint8_t *buf, size_t len, nng_msg **m)
{
	uint8_t *sealed = NULL;
	*m = NULL;
	if (c->o.sign) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now_us = (uint64_t)ts.tv_sec * 1000000u +
		    (uint64_t)ts.tv_nsec / 1000u;
		if (auth_seal(AUTH_SOCKET_INGEST, c->o.auth.name, c->o.auth.key,
		    auth_client_counter(&c->o.auth, now_us), buf, len, &sealed, &len) != 0) {
			return DN_ENOMEM;
		}
		buf = sealed;
	}
	int rv = nng_msg_alloc(m, 0) != 0 || nng_msg_append(*m, buf, len) != 0 ?
	    DN_ENOMEM : 0;
	free(sealed);
	return rv;
}

/* Sends slot s's orders (the flusher, without the mutex). */
static void dnc_slot_send(dnclient *c, dnc_slot *s)
{
	uint8_t *out = NULL;
	size_t olen = 0;
	nng_msg *m = NULL;
	int rv = 0;
	s->bare = c->o.batch_max == 1;
	if (s->bare) {
		rv = dnc_msg(c, s->items[0]->buf, s->items[0]->len, &m);
	} else {
		envelope_slice it[DN_INGEST_BATCH_MAX];
		for (size_t k = 0; k < s->n; k++) {
			it[k] = (envelope_slice){s->items[k]->buf, s->items[k]->len};
		}
		rv = envelope_write(ENVELOPE_BATCH, it, s->n, &out, &olen);
		if (rv == 0) {
			rv = dnc_msg(c, out, olen, &m);
		}
		free(out);
	}
	if (rv != 0) {
		nng_msg_free(m);
		dnc_item *items[DN_INGEST_BATCH_MAX];
		size_t n = s->n;
		memcpy(items, s->items, n * sizeof(items[0]));
		dnc_slot_release(s, false, false);
		dnc_requeue(c, items, n, DN_ENOMEM);
		return;
	}
	s->sending = true;
	nng_aio_set_msg(s->aio, m);
	nng_ctx_send(s->ctx, s->aio);
}

/* Waits (mutex held) until no message is in flight or wait_ms passed
 * (or, unless draining, closing is set): a message in flight ends within
 * twice timeout_ms (an answer, an error or a timeout). */
/* Waits on c->cv (mutex held) until signalled or deadline_us
 * (dnc_now_us's clock). */
static void dnc_wait_until(dnclient *c, uint64_t deadline_us)
{
	uint64_t now = dnc_now_us();
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (deadline_us > now ? deadline_us - now : 0) * 1000u;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

static void dnc_wait_idle(dnclient *c, int wait_ms, bool draining)
{
	uint64_t deadline = dnc_now_us() + (uint64_t)wait_ms * 1000u;
	while ((draining || !c->closing) && c->nfree < c->o.inflight_max) {
		if (dnc_now_us() >= deadline) {
			return;
		}
		dnc_wait_until(c, deadline);
	}
}

/* The next URL after the current one that was not found dead lately (or
 * simply the next, when all were). Mutex held. */
static size_t dnc_next_url(const dnclient *c)
{
	uint64_t now = dnc_now_us();
	for (size_t k = 1; k < c->o.nurls; k++) {
		size_t u = (c->cur + k) % c->o.nurls;
		if (c->down_until_us[u] <= now) {
			return u;
		}
	}
	return (c->cur + 1) % c->o.nurls;
}

/* Where dialer id is in the retired list, or -1 (mutex held). */
static int dnc_retired_find(const dnclient *c, int id)
{
	for (size_t k = 0; k < c->nretired && id > 0; k++) {
		if (nng_dialer_id(c->retired[k].d) == id) {
			return (int)k;
		}
	}
	return -1;
}

/* nng's thread, once a connection is negotiated and before the socket
 * takes it: a retired dialer's is refused (no order goes there). */
static void dnc_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	dnclient *c = arg;
	int id = nng_dialer_id(nng_pipe_dialer(p));
	(void)ev;
	pthread_mutex_lock(&c->mu);
	bool refuse = dnc_retired_find(c, id) >= 0;
	pthread_mutex_unlock(&c->mu);
	if (refuse) {
		log_debug("dnclient.refused", "dialer=%d reason=\"left while it connected\"", id);
		nng_pipe_close(p);
	}
}

/* Takes retired dialer k out of the list (mutex held). */
static nng_dialer dnc_retired_take(dnclient *c, size_t k)
{
	nng_dialer d = c->retired[k].d;
	memmove(&c->retired[k], &c->retired[k + 1],
	    (c->nretired - k - 1) * sizeof(c->retired[0]));
	c->nretired--;
	return d;
}

/* The flusher (mutex held): closes the oldest retired dialer once it is
 * DNC_RETIRED_CLOSE_US old. True when it closed one. */
static bool dnc_retired_close(dnclient *c)
{
	if (c->nretired == 0 ||
	    dnc_now_us() - c->retired[0].since_us < DNC_RETIRED_CLOSE_US) {
		return false;
	}
	nng_dialer d = dnc_retired_take(c, 0);
	pthread_mutex_unlock(&c->mu);
	nng_dialer_close(d);
	pthread_mutex_lock(&c->mu);
	return true;
}

/* Retires dialer d, which had no connection (the flusher, without the
 * mutex). False when one came up just before (it is the socket's, not
 * refused): d is then left to the caller to close as a connected one. */
static bool dnc_retire(dnclient *c, nng_dialer d)
{
	(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, DNC_RETIRED_RECONN_MS);
	(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, DNC_RETIRED_RECONN_MS);
	nng_dialer early = NNG_DIALER_INITIALIZER;
	pthread_mutex_lock(&c->mu);
	if (c->nretired == DNC_RETIRED_MAX) {
		early = dnc_retired_take(c, 0);
	}
	c->retired[c->nretired++] = (dnc_retired){d, dnc_now_us()};
	pthread_mutex_unlock(&c->mu);
	if (nng_dialer_id(early) > 0) {
		nng_dialer_close(early);
	}
	if (netguard_dialer_pipes(d) == 0) {
		return true; /* refused from now on */
	}
	pthread_mutex_lock(&c->mu);
	int k = dnc_retired_find(c, nng_dialer_id(d));
	if (k >= 0) {
		(void)dnc_retired_take(c, (size_t)k);
	}
	pthread_mutex_unlock(&c->mu);
	return k < 0; /* gone already: the flusher closed it early */
}

/* Leaves dialer d (the flusher, without the mutex): closed if it is
 * connected (its handshake is done), else retired (see the top of the
 * file). */
static void dnc_leave(dnclient *c, nng_dialer d)
{
	if (netguard_dialer_pipes(d) == 0 && dnc_retire(c, d)) {
		return;
	}
	nng_dialer_close(d);
}

/* Moves to the next address (the flusher, with the mutex held). The old
 * dialer (and its connection) is closed only once nothing is in flight on
 * it (libnng 1.5.2 wedges when a connection is closed while an answer
 * arrives, see the top of the file); nothing new is sent meanwhile. One
 * with no connection is retired instead (dnc_leave) - unless the move is
 * to its own address (a redial: that dialer is stuck). */
static void dnc_rotate(dnclient *c)
{
	/* A send may wait timeout_ms for a connection, its answer as long.
	 * No connection (a dead address, a stopped dialer): nothing to wait
	 * for. */
	uint64_t t0 = dnc_now_us();
	size_t busy = c->o.inflight_max - c->nfree;
	if (netguard_dialer_pipes(c->dialer) != 0) {
		dnc_wait_idle(c, 2 * c->o.timeout_ms + 100, false);
	}
	if (c->closing) {
		return; /* destroy closes the socket */
	}
	size_t from = c->cur;
	c->rotate = false;
	c->connected = false;
	c->nopipe_since_us = 0;
	c->gen++;
	c->cur = c->leader >= 0 ? (size_t)c->leader : dnc_next_url(c);
	c->leader = -1;
	c->st.failovers++;
	log_info("dnclient.failover", "from=%s to=%s why=%s busy=%zu waited_ms=%llu",
	    c->urls[from], c->urls[c->cur], c->rotate_why != NULL ? c->rotate_why : "?", busy,
	    (unsigned long long)((dnc_now_us() - t0) / 1000u));
	nng_dialer old = c->dialer;
	size_t to = c->cur;
	pthread_mutex_unlock(&c->mu);
	if (to != from) {
		dnc_leave(c, old);
	} else {
		nng_dialer_close(old);
	}
	nng_dialer d = NNG_DIALER_INITIALIZER;
	/* A failure is logged by nettls; the next failed message moves on. */
	(void)nettls_dial_dialer(c->sock, c->urls[to], &c->o.tls, NNG_FLAG_NONBLOCK, &d);
	pthread_mutex_lock(&c->mu);
	c->dialer = d;
}

/* Takes up to batch_max queued orders into a free slot (mutex held). */
static dnc_slot *dnc_take(dnclient *c)
{
	dnc_slot *s = NULL;
	for (size_t k = 0; k < c->o.inflight_max && s == NULL; k++) {
		if (!c->slots[k].busy) {
			s = &c->slots[k];
		}
	}
	assert(s != NULL);
	s->busy = true;
	s->gen = c->gen;
	c->nfree--;
	s->n = 0;
	while (c->head != NULL && s->n < c->o.batch_max) {
		dnc_item *it = c->head;
		c->head = it->next;
		s->items[s->n++] = it;
	}
	if (c->head == NULL) {
		c->tail = NULL;
	}
	c->queued -= s->n;
	c->st.messages++;
	c->st.orders += s->n;
	return s;
}

/* How long messages to a single URL may fail unanswered before the client
 * dials again: twice the timeout, at least 3 s. */
static uint64_t dnc_redial_us(const dnclient *c)
{
	uint64_t t = 2u * (uint64_t)c->o.timeout_ms * 1000u;
	return t < 3000000u ? 3000000u : t;
}

/* A group's watchdog (the flusher, mutex held): messages in flight on an
 * address with no connection for DNC_NOPIPE_US (DNC_DIAL_GRACE_US if it
 * never connected since the client moved there) are cancelled (their
 * orders fail over like a timeout: sent again, same keys, elsewhere). True
 * when it cancelled. */
static bool dnc_watch(dnclient *c)
{
	uint64_t now = dnc_now_us();
	if (c->o.nurls < 2 || c->nfree == c->o.inflight_max || c->rotate) {
		c->nopipe_since_us = 0;
		return false;
	}
	if (now - c->watch_us < DNC_WATCH_US) {
		return false;
	}
	c->watch_us = now;
	nng_dialer d = c->dialer;
	pthread_mutex_unlock(&c->mu);
	int pipes = netguard_dialer_pipes(d);
	pthread_mutex_lock(&c->mu);
	if (pipes != 0 || c->closing || c->rotate) {
		c->nopipe_since_us = 0;   /* connected, or no figure (-1) */
		c->connected |= pipes > 0;
		return false;
	}
	uint64_t limit = c->connected ? DNC_NOPIPE_US : DNC_DIAL_GRACE_US;
	if (c->nopipe_since_us == 0 || now - c->nopipe_since_us < limit) {
		c->nopipe_since_us = c->nopipe_since_us == 0 ? now : c->nopipe_since_us;
		return false;
	}
	c->nopipe_since_us = 0;
	c->down_until_us[c->cur] = now + DNC_DOWN_US;
	nng_aio *aios[DNCLIENT_INFLIGHT_MAX];
	size_t n = 0;
	for (size_t k = 0; k < c->o.inflight_max; k++) {
		if (c->slots[k].busy && c->slots[k].gen == c->gen) {
			aios[n++] = c->slots[k].aio;
		}
	}
	log_warn("dnclient.no_connection", "url=%s messages=%zu ms=%llu", c->urls[c->cur], n,
	    (unsigned long long)(limit / 1000u));
	pthread_mutex_unlock(&c->mu);
	for (size_t k = 0; k < n; k++) {
		nng_aio_cancel(aios[k]);  /* the slot's callback fails it over */
	}
	pthread_mutex_lock(&c->mu);
	return n > 0;
}

static void *dnc_flusher(void *arg)
{
	dnclient *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->closing) {
		if (c->rotate) {
			dnc_rotate(c);
			continue;
		}
		if (dnc_retired_close(c)) {
			continue;
		}
		if (c->recheck && dnc_now_us() - c->recheck_us >= DNC_RECHECK_US) {
			/* libnng 1.5.2 may have stopped redialling (netguard.h):
			 * then dial the same address again. */
			c->recheck = false;
			c->recheck_us = dnc_now_us();
			nng_dialer d = c->dialer;
			pthread_mutex_unlock(&c->mu);
			bool stuck = netguard_dialer_stuck(d, &c->dial_other);
			pthread_mutex_lock(&c->mu);
			if (stuck && !c->rotate) {
				log_warn("dnclient.redial", "url=%s reason=dial_stopped", c->urls[c->cur]);
				c->rotate = true;
				c->rotate_why = "dial_stopped";
				c->leader = (int)c->cur;
			}
			continue;
		}
		if (c->o.nurls == 1 && c->failing_since_us != 0 &&
		    dnc_now_us() - c->failing_since_us >= dnc_redial_us(c)) {
			log_warn("dnclient.redial", "url=%s reason=\"no answer for %llu ms\"",
			    c->urls[c->cur], (unsigned long long)(dnc_redial_us(c) / 1000u));
			c->failing_since_us = dnc_now_us();
			c->rotate = true;
			c->rotate_why = "redial";
			c->leader = (int)c->cur;
			continue;
		}
		/* dnc_watch lets go of the mutex to read the dialer: destroy's
		 * wake-up may have come then, and the untimed wait below would
		 * never see another (a clean-clone CI run hung 15 s in destroy). */
		if (dnc_watch(c) || c->closing) {
			continue;
		}
		if (c->queued == 0 || c->nfree == 0) {
			if (c->o.nurls > 1 && (c->nfree < c->o.inflight_max || c->nretired > 0)) {
				dnc_wait_until(c, dnc_now_us() + DNC_WATCH_US);
			} else {
				pthread_cond_wait(&c->cv, &c->mu);
			}
			continue;
		}
		uint64_t due = c->head->queued_us + c->o.linger_us;
		uint64_t now = dnc_now_us();
		if (c->head->not_before_us > now) {
			dnc_wait_until(c, c->head->not_before_us);
			continue;
		}
		if (c->queued < c->o.batch_max && now < due) {
			dnc_wait_until(c, due);
			continue;
		}
		dnc_slot *s = dnc_take(c);
		pthread_mutex_unlock(&c->mu);
		dnc_slot_send(c, s);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int dnc_opts_check(const dnclient_opts *o)
{
	if (o->nurls == 0 || o->nurls > DNCLIENT_URLS_MAX || o->batch_max == 0 ||
	    o->batch_max > DN_INGEST_BATCH_MAX || o->linger_us > DNCLIENT_LINGER_US_MAX ||
	    o->inflight_max == 0 || o->inflight_max > DNCLIENT_INFLIGHT_MAX ||
	    o->timeout_ms <= 0) {
		return DN_EINVAL;
	}
	for (size_t k = 0; k < o->nurls; k++) {
		if (o->urls[k] == NULL || o->urls[k][0] == '\0') {
			return DN_EINVAL;
		}
	}
	return 0;
}

/* Opens the socket, its contexts and the first dialer. */
static int dnc_open(dnclient *c)
{
	if (nng_req0_open(&c->sock) != 0) {
		return DN_ENET;
	}
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, DN_MSG_MAX_BYTES);
	for (size_t k = 0; k < c->o.inflight_max; k++) {
		dnc_slot *s = &c->slots[k];
		s->c = c;
		if (nng_ctx_open(&s->ctx, c->sock) != 0 ||
		    nng_aio_alloc(&s->aio, dnc_slot_cb, s) != 0) {
			return DN_ENOMEM;
		}
		nng_ctx_set_ms(s->ctx, NNG_OPT_REQ_RESENDTIME, DNC_RESEND_MS);
		nng_aio_set_timeout(s->aio, c->o.timeout_ms);
	}
	c->nfree = c->o.inflight_max;
	if (nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, dnc_pipe_added, c) != 0) {
		return DN_ENET;
	}
	return nettls_dial_dialer(c->sock, c->urls[0], &c->o.tls, NNG_FLAG_NONBLOCK,
	    &c->dialer);
}

int dnclient_create(dnclient **out, const dnclient_opts *o)
{
	*out = NULL;
	if (dnc_opts_check(o) != 0) {
		return DN_EINVAL;
	}
	dnclient *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return DN_ENOMEM;
	}
	c->o = *o;
	c->leader = -1;
	/* Before anything that may fail: destroy uses them. */
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t k = 0; k < o->nurls; k++) {
		if ((c->urls[k] = strdup(o->urls[k])) == NULL) {
			dnclient_destroy(c);
			return DN_ENOMEM;
		}
	}
	int rv = dnc_open(c);
	if (rv == 0 && pthread_create(&c->flusher, NULL, dnc_flusher, c) != 0) {
		rv = DN_ENOMEM;
	}
	c->flusher_started = rv == 0;
	if (rv != 0) {
		dnclient_destroy(c);
		return rv;
	}
	*out = c;
	return 0;
}

/* Stops every slot's aio (closing set, the flusher joined): when this
 * returns no callback runs or will run. A slot still busy then lost its
 * receive to the stop (dnc_slot_cb's re-arm raced it: nng dropped it
 * without a callback): its orders are answered DN_ECLOSED here. */
static void dnc_stop(dnclient *c)
{
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	for (size_t k = 0; k < c->o.inflight_max; k++) {
		nng_aio_stop(c->slots[k].aio); /* NULL-safe; waits for its callback */
	}
	for (size_t k = 0; k < c->o.inflight_max; k++) {
		dnc_slot *s = &c->slots[k];
		pthread_mutex_lock(&c->mu);
		bool lost = s->busy;
		pthread_mutex_unlock(&c->mu);
		if (lost) {
			dnc_item *items[DN_INGEST_BATCH_MAX];
			size_t n = s->n;
			memcpy(items, s->items, n * sizeof(items[0]));
			dnc_slot_release(s, false, false);
			dnc_requeue(c, items, n, DN_ECLOSED);
		}
	}
}

typedef struct {
	nng_socket sock;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, abandoned;
} dnc_closer;

static void dnc_closer_free(dnc_closer *k)
{
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static void *dnc_closer_main(void *arg)
{
	dnc_closer *k = arg;
	nng_close(k->sock);
	pthread_mutex_lock(&k->mu);
	k->done = true;
	bool abandoned = k->abandoned;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	if (abandoned) {
		dnc_closer_free(k);
	}
	return NULL;
}

/* nng_close(sock), waiting at most DNC_CLOSE_WAIT_MS: past that libnng's
 * reaper is wedged (see the top of the file) and the close never returns;
 * its thread is left to it (the socket is lost, the caller is not). Only
 * after every aio was stopped: nng holds nothing of ours any more. */
static void dnc_close_socket(nng_socket sock)
{
	dnc_closer *k = calloc(1, sizeof(*k));
	pthread_t th;
	if (k == NULL) {
		nng_close(sock);
		return;
	}
	k->sock = sock;
	pthread_mutex_init(&k->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, dnc_closer_main, k) != 0) {
		nng_close(sock);
		dnc_closer_free(k);
		return;
	}
	pthread_detach(th);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += DNC_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&k->mu);
	int rv = 0;
	while (!k->done && rv == 0) {
		rv = pthread_cond_timedwait(&k->cv, &k->mu, &ts);
	}
	bool done = k->done;
	k->abandoned = !done;
	pthread_mutex_unlock(&k->mu);
	if (done) {
		dnc_closer_free(k);
	} else {
		log_error("dnclient.close_stuck", "waited_ms=%d reason=\"libnng reaper wedged\"",
		    DNC_CLOSE_WAIT_MS);
	}
}

void dnclient_destroy(dnclient *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mu);
	c->closing = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (c->flusher_started) {
		pthread_join(c->flusher, NULL);
	}
	if (c->flusher_started && netguard_dialer_pipes(c->dialer) != 0) {
		/* Nothing new goes out; what is in flight may still be
		 * answered (and its connection is then quiet to close). */
		pthread_mutex_lock(&c->mu);
		int drain_ms = 2 * c->o.timeout_ms < DNC_DRAIN_MS ? 2 * c->o.timeout_ms : DNC_DRAIN_MS;
		dnc_wait_idle(c, drain_ms, true);
		pthread_mutex_unlock(&c->mu);
	}
	dnc_stop(c);
	/* The aios are freed before the socket is closed: libnng 1.5.2's
	 * expiry thread may still hold a slot's stale cancel (taken as its
	 * timeout fell due, the answer then came first and nng_aio_stop
	 * returned), and calls it with the slot's context; nng_aio_free
	 * waits for that call, nng_aio_stop does not. Closed first, the
	 * context is freed under it (a clean-clone CI run's test_dnclient
	 * died in "panic: pthread_mutex_unlock: Invalid argument"). */
	for (size_t k = 0; k < DNCLIENT_INFLIGHT_MAX; k++) {
		nng_aio_free(c->slots[k].aio);
		c->slots[k].aio = NULL;
	}
	/* dnc_pipe_added uses c: no more calls (the socket's close waits for
	 * one running: it stops the dialers' connects). */
	(void)nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, NULL, NULL);
	dnc_close_socket(c->sock);
	while (c->head != NULL) {
		dnc_item *it = c->head;
		c->head = it->next;
		dnc_item_done(it, DN_ECLOSED, NULL, 0);
	}
	for (size_t k = 0; k < DNCLIENT_URLS_MAX; k++) {
		free(c->urls[k]);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int dnclient_submit_async(dnclient *c, const void *order, size_t len,
    dnclient_cb cb, void *arg)
{
	if (c == NULL || cb == NULL || (order == NULL && len > 0) || len > DN_INGEST_MSG_MAX) {
		return DN_EINVAL;
	}
	dnc_item *it = calloc(1, sizeof(*it));
	uint8_t *buf = malloc(len > 0 ? len : 1);
	if (it == NULL || buf == NULL) {
		free(it);
		free(buf);
		return DN_ENOMEM;
	}
	if (len > 0) {
		memcpy(buf, order, len);
	}
	*it = (dnc_item){.buf = buf, .len = len, .cb = cb, .arg = arg,
	    .queued_us = dnc_now_us()};
	pthread_mutex_lock(&c->mu);
	int rv = c->closing ? DN_ECLOSED : c->queued >= DNCLIENT_QUEUE_MAX ? DN_EFULL : 0;
	if (rv == 0) {
		if (c->tail != NULL) {
			c->tail->next = it;
		} else {
			c->head = it;
		}
		c->tail = it;
		/* The flusher sleeps untimed on an empty queue and until the
		 * linger otherwise: wake it for a first order or a full batch. */
		if (++c->queued == 1 || c->queued >= c->o.batch_max) {
			pthread_cond_broadcast(&c->cv);
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (rv != 0) {
		free(buf);
		free(it);
	}
	return rv;
}

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rv;
	uint8_t *ack;
	size_t len;
} dnc_wait;

static void dnc_wait_cb(void *arg, int rv, const uint8_t *ack, size_t len)
{
	dnc_wait *w = arg;
	uint8_t *copy = NULL;
	if (rv == 0 && (copy = malloc(len > 0 ? len : 1)) == NULL) {
		rv = DN_ENOMEM;
	} else if (rv == 0 && len > 0) {
		memcpy(copy, ack, len);
	}
	pthread_mutex_lock(&w->mu);
	w->rv = rv;
	w->ack = copy;
	w->len = len;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int dnclient_submit(dnclient *c, const void *order, size_t len,
    uint8_t **ack, size_t *ack_len)
{
	dnc_wait w = {.done = false};
	*ack = NULL;
	*ack_len = 0;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	int rv = dnclient_submit_async(c, order, len, dnc_wait_cb, &w);
	if (rv == 0) {
		pthread_mutex_lock(&w.mu);
		while (!w.done) {
			pthread_cond_wait(&w.cv, &w.mu);
		}
		pthread_mutex_unlock(&w.mu);
		rv = w.rv;
		*ack = w.ack;
		*ack_len = w.len;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rv;
}

int dnclient_submit_order(dnclient *c, const Dropnet__SubmitOrder *o,
    Dropnet__OrderAck **ack)
{
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, rlen = 0;
	*ack = NULL;
	int rv = codec_submit_order_pack(o, &buf, &len);
	if (rv == 0) {
		rv = dnclient_submit(c, buf, len, &rep, &rlen);
	}
	free(buf);
	if (rv == 0) {
		rv = codec_order_ack_unpack(rep, rlen, ack);
		rv = rv == DN_ERANGE ? 0 : rv;
	}
	free(rep);
	return rv;
}

void dnclient_stats_get(dnclient *c, dnclient_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}
