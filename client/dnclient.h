/*
 * dnclient.h - libdropnet: a storefront's client for the coordinator's
 * ingest socket, with batching (proto/STOREFRONT.md, "Batching").
 *
 * Submit one order at a time, synchronously or asynchronously, from as many
 * threads as you like. Orders submitted while the client's messages are in
 * flight, or within linger_us of each other, are coalesced into one
 * SubmitBatch of up to batch_max orders (the way TigerBeetle's clients
 * batch); each order still has its own key, its own answer and its own
 * exactly-once retry: a message that gets no answer is sent again with the
 * same keys (the coordinator's journal answers a repeat with the first
 * answer, duplicate = true), after moving to the next coordinator address.
 * An order waits at most linger_us for company before it goes out alone.
 *
 * Ownership: the order bytes are copied at submit; ack bytes passed to a
 * callback are valid only during the call. Thread model: every function
 * but dnclient_destroy may be called from any thread; callbacks run on
 * nng's threads or the client's flusher thread and must not block long
 * (they may submit again). dnclient_destroy sends nothing more, gives the
 * messages in flight up to 1 s (at most twice timeout_ms) to be answered,
 * and answers every order still pending DN_ECLOSED before it returns; no
 * callback runs after it returns. A move to the next address waits for
 * the messages in flight on the old one to end (answer or timeout) before
 * it closes that connection; a connection still being made there is left
 * to finish its handshake (cut in it, it would stop libnng 1.5.2's
 * listener on that replica), refused, and its dialer closed 2 s later.
 * Each move is logged (dnclient.failover: from, to, why).
 */
#ifndef DN_DNCLIENT_H
#define DN_DNCLIENT_H
#include <stddef.h>
#include <stdint.h>
#include "io/auth.h"
#include "io/nettls.h"
#include "proto/dropnet.pb-c.h"

/* Coordinator addresses one client knows. */
#define DNCLIENT_URLS_MAX 8u
/* Messages in flight at once (nng contexts). */
#define DNCLIENT_INFLIGHT_MAX 64u
/* Most linger: an order never waits longer than this for company. */
#define DNCLIENT_LINGER_US_MAX 100000u
/* Orders queued and not yet sent: past this a submit is refused DN_EFULL. */
#define DNCLIENT_QUEUE_MAX 65536u

typedef struct {
	const char *urls[DNCLIENT_URLS_MAX]; /* tried in order, next on failure */
	size_t nurls;
	nettls_files tls;       /* storefront certificate; see nettls.h */
	unsigned batch_max;     /* 1..DN_INGEST_BATCH_MAX; 1: bare SubmitOrders */
	unsigned linger_us;     /* 0..DNCLIENT_LINGER_US_MAX */
	unsigned inflight_max;  /* 1..DNCLIENT_INFLIGHT_MAX */
	int timeout_ms;         /* one attempt's wait for an answer */
	unsigned retries;       /* attempts after the first, per order */
	/* The storefront's identity (proto/SEMANTICS.md "Transport and
	 * identity"): when sign is set, every message (a bare order or a
	 * batch) goes out in a Signed envelope made with auth's name and key,
	 * a fresh counter each send (a retry included). */
	bool sign;
	auth_client auth;
} dnclient_opts;

/* Defaults: no URLs, TLS from the environment (storefront certificate),
 * batch_max 64, linger_us 200, inflight_max 4, timeout_ms 5000, retries 3,
 * unsigned. */
void dnclient_opts_init(dnclient_opts *o);
/* Signs with the identity in the environment, as rpc_sign_from_env does
 * for the ingest socket: DROPNET_STOREFRONT_AUTH_NAME (the shop's name)
 * and DROPNET_STOREFRONT_AUTH_KEY (its key file). 0 (sign set), DN_ENOENT
 * (no name set: unsigned) or DN_EINVAL (a name set, its key unreadable). */
int dnclient_opts_sign_from_env(dnclient_opts *o);

typedef struct dnclient dnclient;

/* Called once per submitted order: rv 0 with the bare OrderAck's bytes, or
 * rv < 0 (DN_ETIMEDOUT, DN_ENET, DN_EPROTO: no answer after every retry;
 * DN_ECLOSED: the client was destroyed) with NULL. An UNAVAILABLE answer, or
 * a group follower's NOT_LEADER, is retried with the same key while retries
 * last, then passed on: a NOT_LEADER naming the leader at once (there), an
 * UNAVAILABLE or a NOT_LEADER during an election after 50 ms times the
 * attempt number. */
typedef void (*dnclient_cb)(void *arg, int rv, const uint8_t *ack, size_t ack_len);

/* Creates a client and starts dialling urls[0]. Returns 0, DN_EINVAL (bad
 * options or URL/TLS policy), DN_ENET or DN_ENOMEM. */
int dnclient_create(dnclient **out, const dnclient_opts *o);
/* Stops the client (NULL-safe); see the thread model above. */
void dnclient_destroy(dnclient *c);

/* Queues one packed SubmitOrder (copied). Returns 0 (cb will be called),
 * DN_EFULL (queue full: backpressure), DN_EINVAL, DN_ENOMEM or DN_ECLOSED. */
int dnclient_submit_async(dnclient *c, const void *order, size_t len,
    dnclient_cb cb, void *arg);
/* Submits one packed SubmitOrder and waits for its answer: 0 with the
 * OrderAck's bytes in *ack (malloc'd; the caller frees), or the rv the
 * callback would have had. */
int dnclient_submit(dnclient *c, const void *order, size_t len,
    uint8_t **ack, size_t *ack_len);
/* dnclient_submit of an unpacked order; *ack is unpacked (free it with
 * codec_order_ack_free). */
int dnclient_submit_order(dnclient *c, const Dropnet__SubmitOrder *o,
    Dropnet__OrderAck **ack);

/* Counters for tests and benchmarks. */
typedef struct {
	uint64_t messages;   /* messages sent (first tries and retries) */
	uint64_t orders;     /* orders sent in them */
	uint64_t retries;    /* orders sent again */
	uint64_t failovers;  /* moves to the next address */
} dnclient_stats;
void dnclient_stats_get(dnclient *c, dnclient_stats *out);

#endif
