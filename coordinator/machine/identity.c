/*
 * identity.c - who may speak, checked at the entry of every request handler
 * (proto/SEMANTICS.md "Transport and identity").
 *
 * TLS (one CA per role) proves which role a peer has; the Signed envelope
 * proves its name (io/auth.h). Here: the envelope verifies, the peer's role
 * suits the socket, a hub speaks only for its own id and a storefront only
 * for its own orders, an operator only within its role, and an operator's
 * counter is fresh. Every refusal is logged (auth.refused) and counted in
 * c->refusals before the handler sees anything: a refused request changes
 * nothing.
 *
 * Thread model: the loop thread (the machine's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/envelope.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

static void ident_refuse(coord *c, uint64_t *counter, const char *socket,
    const char *reason, const char *peer, const char *detail)
{
	(*counter)++;
	(void)c;
	log_warn("auth.refused", "socket=%s reason=%s peer=%s%s", socket, reason,
	    peer != NULL && peer[0] ? peer : "-", detail != NULL ? detail : "");
}

static bool ident_role_fits(const char *socket, auth_role role)
{
	if (strcmp(socket, AUTH_SOCKET_INGEST) == 0) {
		return role == AUTH_ROLE_STOREFRONT;
	}
	if (strcmp(socket, AUTH_SOCKET_HUBSYNC) == 0) {
		return role == AUTH_ROLE_HUB;
	}
	return role >= AUTH_ROLE_READ_ONLY && role <= AUTH_ROLE_ADMIN;
}

/* Points id's body at the verified body's own bytes in the request (field
 * 2 of the Signed envelope, read at the wire level), so the unpacked copy
 * can be freed at once: a wake-up's requests, held open until their batch
 * commits, then cost no second copy each (nor the unpack budget). Only
 * when the wire holds that field once and its bytes are exactly the ones
 * the MAC covered; false: keep the copy. */
static bool ident_borrow(coord_ident *id, const Dropnet__Signed *env)
{
	envelope_slice body;
	size_t n = 0;
	if (envelope_items(id->body, id->len, 2, &body, 1, &n) != 0 || n != 1 ||
	    body.len != env->body.len ||
	    (body.len > 0 && memcmp(body.buf, env->body.data, body.len) != 0)) {
		return false;
	}
	id->body = body.buf;
	id->len = body.len;
	return true;
}

int coord_ident_open(coord *c, const char *socket, const mreq *r, coord_ident *id,
    Dropnet__Status *status, const char **why)
{
	memset(id, 0, sizeof(*id));
	id->body = mreq_body(r, &id->len);
	if (c->peers == NULL) {
		return 0;
	}
	Dropnet__Signed *env = NULL;
	auth_peer *peer = NULL;
	auth_verdict v = auth_open(c->peers, socket, id->body, id->len, &env, &peer);
	coord_refusals *f = &c->refusals;
	uint64_t *counters[] = {
		[AUTH_MALFORMED] = &f->malformed,
		[AUTH_UNSIGNED] = &f->unsigned_req,
		[AUTH_UNKNOWN_PEER] = &f->unknown_peer,
		[AUTH_BAD_MAC] = &f->bad_mac,
	};
	if (v != AUTH_OK) {
		ident_refuse(c, counters[v], socket, auth_verdict_name(v), NULL, NULL);
		*status = v == AUTH_MALFORMED ? DROPNET__STATUS__MALFORMED :
		    DROPNET__STATUS__UNAUTHENTICATED;
		*why = v == AUTH_MALFORMED ? "bytes are not a Signed request (requests are signed:"
		    " proto/SEMANTICS.md \"Transport and identity\")" :
		    "request not signed by a known peer (see the peers table)";
		return -1;
	}
	if (!ident_role_fits(socket, peer->role)) {
		ident_refuse(c, &f->wrong_role, socket, "wrong_role", peer->name, NULL);
		codec_signed_req_free(env);
		*status = DROPNET__STATUS__FORBIDDEN;
		*why = "this peer's role may not use this socket";
		return -1;
	}
	id->peer = peer;
	id->counter = env->counter;
	if (ident_borrow(id, env)) {
		codec_signed_req_free(env);
	} else {
		id->env = env;
		id->body = env->body.data;
		id->len = env->body.len;
	}
	return 0;
}

void coord_ident_close(coord_ident *id)
{
	codec_signed_req_free(id->env);
	memset(id, 0, sizeof(*id));
}

bool coord_peer_speaks_for(coord *c, const auth_peer *peer, const char *socket,
    const char *name)
{
	if (peer == NULL) {
		return true;
	}
	const char *as = name != NULL && name[0] ? name : "default";
	if (strcmp(as, peer->name) == 0) {
		return true;
	}
	char detail[DN_ID_MAX + 16];
	snprintf(detail, sizeof(detail), " claims=%.64s", as);
	ident_refuse(c, &c->refusals.wrong_name, socket, "wrong_name", peer->name, detail);
	return false;
}

bool coord_ident_speaks_for(coord *c, const coord_ident *id, const char *socket,
    const char *name)
{
	return coord_peer_speaks_for(c, id->peer, socket, name);
}

/* The counter is fresh: within the window of the shell's raw wall clock
 * (not the test clock), above the peer's floor (the saved one included) and
 * not accepted before (auth_peer_counter_take). */
static int ident_ops_fresh(coord *c, auth_peer *p, uint64_t counter,
    Dropnet__Status *status, const char **why)
{
	int64_t sent_ms = (int64_t)(counter / 1000u);
	int64_t skew = sent_ms - c->now_wall_ms;
	if (counter > (uint64_t)INT64_MAX || skew > DN_AUTH_WINDOW_MS ||
	    skew < -DN_AUTH_WINDOW_MS) {
		char detail[64];
		snprintf(detail, sizeof(detail), " skew_ms=%lld", (long long)skew);
		ident_refuse(c, &c->refusals.stale, AUTH_SOCKET_OPS, "stale", p->name, detail);
		*status = DROPNET__STATUS__UNAUTHENTICATED;
		*why = "request counter (sender's clock) is outside the 60 s window";
		return -1;
	}
	if (!p->counter_loaded) {
		uint64_t saved = 0;
		if (coord_store_peer_counter_get(c->store, p->name, &saved) != 0) {
			*status = DROPNET__STATUS__UNAVAILABLE;
			*why = "storage failed";
			return -1;
		}
		p->floor = saved > p->floor ? saved : p->floor;
		p->counter_loaded = true;
	}
	if (!auth_peer_counter_take(p, counter)) {
		ident_refuse(c, &c->refusals.replayed, AUTH_SOCKET_OPS, "replayed", p->name,
		    NULL);
		*status = DROPNET__STATUS__UNAUTHENTICATED;
		*why = "request counter already used (replayed?)";
		return -1;
	}
	return 0;
}

/* Saves operator p's highest accepted counter (coord_txn_run's apply). */
static int ident_counter_apply(coord *c, void *arg)
{
	const auth_peer *p = arg;
	return coord_store_peer_counter_save(c->store, p->name, p->max);
}

int coord_ident_ops(coord *c, const coord_ident *id, int kind,
    Dropnet__Status *status, const char **why)
{
	auth_peer *p = id->peer;
	if (p == NULL) {
		return 0;
	}
	auth_role need = auth_ops_role(kind);
	if (p->role < need) {
		char detail[64];
		snprintf(detail, sizeof(detail), " role=%s kind=%d", auth_role_name(p->role),
		    kind);
		ident_refuse(c, &c->refusals.forbidden, AUTH_SOCKET_OPS, "forbidden", p->name,
		    detail);
		*status = DROPNET__STATUS__FORBIDDEN;
		*why = need == AUTH_ROLE_OPERATOR ? "needs the operator or admin role" :
		    "needs the admin role";
		return -1;
	}
	if (ident_ops_fresh(c, p, id->counter, status, why) != 0) {
		return -1;
	}
	/* A write saves the highest counter accepted before it acts, in a
	 * transaction of the runner's that commits before the write's own:
	 * after a restart that is the floor, so the same request is still a
	 * replay. Reads keep it in memory only (replaying a read changes
	 * nothing). */
	if (need >= AUTH_ROLE_OPERATOR &&
	    coord_txn_run(c, "peer_counter", ident_counter_apply, p) != 0) {
		*status = DROPNET__STATUS__UNAVAILABLE;
		*why = "storage failed";
		return -1;
	}
	return 0;
}

void coord_ops_first_answer(coord *c, const coord_ident *id, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (id->peer != NULL &&
	    coord_store_ops_reply_get(c->store, id->peer->name, id->counter, out, len) != 0) {
		*out = NULL;   /* unreadable: a bare refusal */
		*len = 0;
	}
}

typedef struct {
	const char *peer;
	uint64_t counter;
	const mreq *r;
} ident_keep;

static int ident_keep_apply(coord *c, void *arg)
{
	const ident_keep *k = arg;
	return coord_store_ops_reply_put(c->store, k->peer, k->counter, k->r->reply,
	    k->r->reply_len);
}

void coord_ops_keep(coord *c, const coord_ident *id, const mreq *r)
{
	if (id->peer == NULL || !r->replied || r->reply_len == 0) {
		return;
	}
	Dropnet__OpsReply *rep = NULL;
	if (codec_ops_reply_unpack(r->reply, r->reply_len, &rep) != 0) {
		codec_ops_reply_free(rep);
		return;
	}
	bool keep = rep->status != DROPNET__STATUS__UNAVAILABLE;
	codec_ops_reply_free(rep);
	ident_keep k = {id->peer->name, id->counter, r};
	if (keep && coord_txn_run(c, "ops_reply", ident_keep_apply, &k) != 0) {
		log_warn("ops.reply_not_kept", "peer=%s counter=%llu", id->peer->name,
		    (unsigned long long)id->counter);
	}
}
