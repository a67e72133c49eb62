/*
 * ingest_envelope.c - the ingest socket's requests as their envelope says
 * (IngestRequest, proto/dropnet.proto; common/io/envelope.h): a bare
 * SubmitOrder, one order in an envelope, a SubmitBatch of up to
 * DN_INGEST_BATCH_MAX orders, or a QuoteRequest (answered from memory).
 *
 * Identity first (proto/SEMANTICS.md "Transport and identity"): a request
 * is a Signed envelope around any of these, opened by coord_ident_open
 * before its kind is read, so the MAC covers the whole request, batch and
 * quote included; an anonymous machine (the simulator, machine tests)
 * reads the bytes as they are. The signing peer goes with every order to
 * coord_ingest_orders, which checks the order's storefront against it
 * where it unpacks the order anyway; a quote's storefront is checked here.
 *
 * Every order, whatever carried it, becomes one sub-request over its own
 * bytes (borrowed from the request or its opened envelope: nothing is
 * unpacked or copied here) and goes through coord_ingest_orders with the
 * others of the loop's wake-up, so
 * it keeps its own key, journal row, answer and exactly-once retry, and
 * shares the group commit. coord_ingest_orders is called with at most
 * DN_SERVER_CTX_MAX orders at a time; a request's orders never straddle two
 * calls, so a request is answered from one commit. The answers go back in
 * the request's own shape: a bare OrderAck to a bare SubmitOrder (what
 * storefronts written before the envelope expect), IngestReply.ack to an
 * envelope's order, IngestReply.batch (acks[i] for orders[i]) to a batch.
 * A request refused before its kind is known (not signed, unknown peer,
 * bad MAC) is answered in the shape its bytes have, read without trusting
 * them: IngestReply.quote for a quote, IngestReply.ack for an envelope's
 * order or batch, a bare OrderAck otherwise.
 * Thread model: the caller's (the loop thread), like every machine call.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/envelope.h"
#include "io/log.h"
#include "coord.h"

/* One request of the wake-up and where its orders went. */
typedef struct {
	mreq *req;
	coord_ident id;  /* its opened envelope: the orders' bytes live in it */
	uint32_t kind;   /* ENVELOPE_NONE, _ONE or _BATCH */
	bool answered;   /* refused as a whole, or a bare order (answered in place) */
	size_t first, n; /* its orders in the scratch's subs */
} env_req;

/* A wake-up's orders as sub-requests, in the machine's scratch
 * (COORD_SCRATCH_ENVELOPE: too big for the stack). */
typedef struct {
	mreq subs[DN_SERVER_CTX_MAX];
	mreq *subp[DN_SERVER_CTX_MAX];
	auth_peer *signer[DN_SERVER_CTX_MAX];
	envelope_slice items[DN_INGEST_BATCH_MAX];
} env_scratch;

/* Answers a whole request with one OrderAck in an IngestReply; leader
 * names the group's leader in a NOT_LEADER answer ("" otherwise). */
static void env_refuse_as(mreq *r, Dropnet__Status status, const char *field,
    const char *msg, const char *leader)
{
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.field = (char *)field;
	ack.message = (char *)msg;
	ack.leader = (char *)leader;
	uint8_t *a = NULL, *out = NULL;
	size_t alen = 0, olen = 0;
	if (codec_order_ack_pack(&ack, &a, &alen) == 0) {
		envelope_slice s = {a, alen};
		if (envelope_write(ENVELOPE_ONE, &s, 1, &out, &olen) != 0) {
			out = NULL;
			olen = 0;
		}
	}
	mreq_reply(r, out, olen); /* empty on out-of-memory: the client retries */
	free(a);
	free(out);
}

static void env_refuse(mreq *r, Dropnet__Status status, const char *field,
    const char *msg)
{
	env_refuse_as(r, status, field, msg, "");
}

/* Answers r with IngestReply.quote = qr. */
static void env_quote_reply(mreq *r, Dropnet__QuoteReply *qr)
{
	Dropnet__IngestReply rep = DROPNET__INGEST_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.kind_case = DROPNET__INGEST_REPLY__KIND_QUOTE;
	rep.quote = qr;
	uint8_t *out = NULL;
	size_t olen = 0;
	if (codec_ingest_reply_pack(&rep, &out, &olen) != 0) {
		out = NULL;
		olen = 0;
	}
	mreq_reply(r, out, olen); /* empty on out-of-memory: the client retries */
	free(out);
}

/* A QuoteRequest in the envelope, signed by peer (NULL: anonymous):
 * answered from memory at once (no transaction, nothing written;
 * docs/prices.md), as IngestReply.quote. */
static void env_quote(coord *c, mreq *r, envelope_slice body, const auth_peer *peer)
{
	Dropnet__QuoteRequest *q = NULL;
	Dropnet__QuoteReply qr = DROPNET__QUOTE_REPLY__INIT;
	int rv = codec_quote_request_unpack(body.buf, body.len, &q);
	if (rv == 0 && !coord_peer_speaks_for(c, peer, AUTH_SOCKET_INGEST, q->storefront)) {
		qr.version = DN_PROTO_VERSION;
		qr.status = DROPNET__STATUS__FORBIDDEN;
		qr.field = "storefront";
		qr.message = "a storefront speaks only for its own quotes";
	} else if (rv == DN_EPROTO || (rv == DN_ERANGE && q->version == 0)) {
		log_warn("quote.malformed", "bytes=%zu", body.len);
		qr.version = DN_PROTO_VERSION;
		qr.status = DROPNET__STATUS__MALFORMED;
		qr.message = "bytes are not a QuoteRequest";
	} else if (rv == DN_ERANGE) {
		qr.version = DN_PROTO_VERSION;
		qr.status = DROPNET__STATUS__UNSUPPORTED_VERSION;
		qr.field = "version";
		qr.message = "this coordinator speaks version 1";
	} else {
		coord_quote(c, q, &qr);
	}
	env_quote_reply(r, &qr);
	codec_quote_request_free(q);
}

/* Answers r, whose envelope did not open (status, why from
 * coord_ident_open), in the shape of what it carries. The bytes are read
 * only for that shape: the Signed envelope's body when they are one with a
 * body (status MALFORMED: they are not), else as they came - an unsigned
 * IngestRequest also reads as a Signed envelope with no peer and no
 * body. */
static void env_refuse_unopened(mreq *r, Dropnet__Status status, const char *why,
    const char *leader)
{
	size_t len = 0;
	const uint8_t *body = mreq_body(r, &len);
	Dropnet__Signed *s = NULL;
	if (status != DROPNET__STATUS__MALFORMED &&
	    codec_signed_req_unpack(body, len, &s) == 0 && s->body.len > 0) {
		body = s->body.data;
		len = s->body.len;
	}
	envelope env;
	if (envelope_read(body, len, &env) != 0) {
		env.kind = ENVELOPE_NONE;
	}
	if (env.kind == ENVELOPE_QUOTE) {
		Dropnet__QuoteReply qr = DROPNET__QUOTE_REPLY__INIT;
		qr.version = DN_PROTO_VERSION;
		qr.status = status;
		qr.message = (char *)why;
		qr.leader = (char *)leader;
		env_quote_reply(r, &qr);
	} else if (env.kind != ENVELOPE_NONE) {
		env_refuse_as(r, status, "", why, leader);
	} else {
		Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
		ack.version = DN_PROTO_VERSION;
		ack.status = status;
		ack.message = (char *)why;
		ack.leader = (char *)leader;
		uint8_t *out = NULL;
		size_t olen = 0;
		if (codec_order_ack_pack(&ack, &out, &olen) != 0) {
			out = NULL;
			olen = 0;
		}
		mreq_reply(r, out, olen);
		free(out);
	}
	codec_signed_req_free(s);
}

void coord_ingest_refuse(mreq *r, Dropnet__Status status, const char *why,
    const char *leader)
{
	env_refuse_unopened(r, status, why, leader != NULL ? leader : "");
}

/* Reads request r's envelope: its orders into w->items (*n of them), or
 * answers it at once (a quote, a refusal). Returns true if it has orders to
 * run. */
static bool env_classify(coord *c, env_scratch *w, mreq *r, env_req *e, size_t *n)
{
	Dropnet__Status st = DROPNET__STATUS__STATUS_UNSPECIFIED;
	const char *why = "";
	e->req = r;
	if (coord_ident_open(c, AUTH_SOCKET_INGEST, r, &e->id, &st, &why) != 0) {
		env_refuse_unopened(r, st, why, "");
		return false;
	}
	size_t len = e->id.len;
	const uint8_t *body = e->id.body;
	envelope env;
	if (envelope_read(body, len, &env) != 0 || env.kind == ENVELOPE_NONE) {
		/* A bare SubmitOrder, or bytes that are not protobuf: the order
		 * path answers them (MALFORMED) as it always has. */
		e->kind = ENVELOPE_NONE;
		w->items[0] = (envelope_slice){body, len};
		*n = 1;
		return true;
	}
	e->kind = env.kind;
	if (env.version != DN_PROTO_VERSION) {
		log_warn("order.bad_version", "version=%u envelope=1", env.version);
		env_refuse(r, env.version == 0 ? DROPNET__STATUS__MALFORMED :
		    DROPNET__STATUS__UNSUPPORTED_VERSION, "version",
		    "this coordinator speaks version 1");
		return false;
	}
	if (env.kind == ENVELOPE_QUOTE) {
		env_quote(c, r, env.body, e->id.peer);
		return false;
	}
	if (env.kind == ENVELOPE_ONE) {
		w->items[0] = env.body;
		*n = 1;
		return true;
	}
	if (env.kind != ENVELOPE_BATCH) {
		log_warn("order.unknown_kind", "kind=%u", env.kind);
		env_refuse(r, DROPNET__STATUS__MALFORMED, "kind",
		    "this coordinator does not serve that kind of request");
		return false;
	}
	int rv = envelope_items(env.body.buf, env.body.len, 1, w->items,
	    DN_INGEST_BATCH_MAX, n);
	if (rv == DN_EPROTO) {
		log_warn("order.malformed", "bytes=%zu batch=1", len);
		env_refuse(r, DROPNET__STATUS__MALFORMED, "batch", "bytes are not a SubmitBatch");
		return false;
	}
	if (rv != 0 || *n == 0) {
		log_warn("order.batch_refused", "orders=%zu max=%u", *n, DN_INGEST_BATCH_MAX);
		env_refuse(r, DROPNET__STATUS__INVALID, "batch",
		    *n == 0 ? "a batch needs at least one order" :
		    "a batch holds at most 256 orders");
		return false;
	}
	return true;
}

/* Answers request e from its orders' sub-requests: a signed bare order
 * with its order's OrderAck as it is (handed over, not copied). */
static void env_answer(env_scratch *w, const env_req *e)
{
	if (e->kind == ENVELOPE_NONE) {
		mreq *s = &w->subs[e->first];
		mreq_reply_take(e->req, s->reply, s->reply_len);
		s->reply = NULL;
		s->reply_len = 0;
		return;
	}
	envelope_slice acks[DN_INGEST_BATCH_MAX];
	for (size_t k = 0; k < e->n; k++) {
		const mreq *s = &w->subs[e->first + k];
		acks[k] = (envelope_slice){s->reply, s->reply_len};
	}
	uint8_t *out = NULL;
	size_t olen = 0;
	if (envelope_write(e->kind, acks, e->n, &out, &olen) != 0) {
		out = NULL;
		olen = 0;
	}
	mreq_reply_take(e->req, out, olen);
}

/* Runs the nsub orders gathered so far and answers their requests. */
static void env_flush(coord *c, env_scratch *w, env_req *er, size_t nreq, size_t nsub)
{
	if (nsub > 0) {
		coord_ingest_orders(c, w->subp, w->signer, nsub);
	}
	for (size_t i = 0; i < nreq; i++) {
		if (!er[i].answered) {
			env_answer(w, &er[i]);
		}
		coord_ident_close(&er[i].id);
	}
	for (size_t k = 0; k < nsub; k++) {
		if (w->subp[k] == &w->subs[k]) {
			mreq_fini(&w->subs[k]);
		}
	}
}

void coord_ingest_request(coord *c, mreq **reqs, size_t n)
{
	env_req er[DN_SERVER_CTX_MAX];
	size_t nsub = 0, done = 0;
	assert(n <= DN_SERVER_CTX_MAX);
	env_scratch *w = coord_scratch(c, COORD_SCRATCH_ENVELOPE, sizeof(*w));
	if (w == NULL) {
		for (size_t i = 0; i < n; i++) {
			coord_ingest_refuse(reqs[i], DROPNET__STATUS__UNAVAILABLE,
			    "out of memory; retry with the same key", "");
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		memset(&er[i], 0, sizeof(er[i]));
		if (!env_classify(c, w, reqs[i], &er[i], &k)) {
			er[i].answered = true;
			continue;
		}
		if (nsub + k > DN_SERVER_CTX_MAX) {
			env_flush(c, w, &er[done], i - done, nsub);
			nsub = 0;
			done = i;
		}
		er[i].first = nsub;
		er[i].n = k;
		if (er[i].kind == ENVELOPE_NONE && er[i].id.peer == NULL) {
			/* An unsigned bare order (anonymous machine) is its own
			 * sub-request: the machine answers it in place, with no
			 * copy of its reply. */
			er[i].answered = true;
			w->signer[nsub] = NULL;
			w->subp[nsub++] = reqs[i];
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			mreq_init(&w->subs[nsub], w->items[j].buf, w->items[j].len);
			w->subs[nsub].arrived_ms = reqs[i]->arrived_ms;
			w->subp[nsub] = &w->subs[nsub];
			w->signer[nsub] = er[i].id.peer;
			nsub++;
		}
	}
	env_flush(c, w, &er[done], n - done, nsub);
}
