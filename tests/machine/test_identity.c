/*
 * test_identity.c - the coordinator machine's identity checks at its
 * handlers' entry (coordinator/machine/identity.c), in-process on a real
 * store: each refusal is answered with its status, counted under its
 * reason in coord.refusals, and applies nothing; an accepted request of the
 * same shape goes through. Ingest goes through coord_ingest_request (the
 * daemon's entry): the envelope wraps bare orders, batches and quotes. The
 * network-level version (TLS, real processes) is
 * tests/integration/test_identity.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/auth.h"
#include "io/codec.h"
#include "coord.h"

static const char peers[] =
    "hub london 0101010101010101010101010101010101010101010101010101010101010101\n"
    "hub evil 0202020202020202020202020202020202020202020202020202020202020202\n"
    "storefront shop 0303030303030303030303030303030303030303030303030303030303030303\n"
    "read-only viewer 0404040404040404040404040404040404040404040404040404040404040404\n"
    "operator op 0505050505050505050505050505050505050505050505050505050505050505\n";

#define T_WALL 1800000000000LL

typedef struct {
	char dir[64], path[96];
	coord c;
} t_env;

static int setup(void **state)
{
	t_env *e = calloc(1, sizeof(*e));
	char err[256];
	snprintf(e->dir, sizeof(e->dir), "/tmp/dn_identity_XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/coordinator.db", e->dir);
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &e->c.cfg, NULL,
	    NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(auth_table_parse(peers, strlen(peers), &e->c.peers, err,
	    sizeof(err)), 0);
	coord_clock_set(&e->c, 1000, T_WALL);
	assert_int_equal(coord_open(&e->c, e->path, NULL), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	t_env *e = *state;
	coord_close(&e->c);
	auth_table_destroy(e->c.peers);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static uint64_t t_varint(const uint8_t *b, size_t len, size_t *i)
{
	uint64_t v = 0;
	for (int shift = 0; *i < len && shift < 64; shift += 7) {
		uint8_t x = b[(*i)++];
		v |= (uint64_t)(x & 0x7f) << shift;
		if (!(x & 0x80)) {
			break;
		}
	}
	return v;
}

/* Field 2 (status) of any reply, read without knowing its type. */
static int t_status(const uint8_t *b, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint64_t key = t_varint(b, len, &i);
		uint64_t wt = key & 7;
		if (wt == 0) {
			uint64_t v = t_varint(b, len, &i);
			if (key >> 3 == 2) {
				return (int)v;
			}
		} else if (wt == 2) {
			i += t_varint(b, len, &i);
		} else if (wt == 1) {
			i += 8;
		} else if (wt == 5) {
			i += 4;
		} else {
			fail();
		}
	}
	return -1;
}

/* Seals body as name with key_of's key, sends it through fn, returns the
 * reply's status (every reply has status as field 2). */
static int t_send(t_env *e, void (*fn)(coord *, mreq **, size_t), const char *socket,
    const char *name, const char *key_of, uint64_t counter, const uint8_t *body,
    size_t len)
{
	uint8_t *sealed = NULL;
	size_t slen = 0;
	assert_int_equal(auth_seal(socket, name, auth_table_find(e->c.peers, key_of)->key,
	    counter, body, len, &sealed, &slen), 0);
	mreq r;
	mreq *rp = &r;
	mreq_init(&r, sealed, slen);
	fn(&e->c, &rp, 1);
	assert_true(r.replied);
	int st = t_status(r.reply, r.reply_len);
	mreq_fini(&r);
	free(sealed);
	return st;
}

static int t_sync(t_env *e, const char *name, const char *key_of, const char *hello_id)
{
	Dropnet__HubHello h = DROPNET__HUB_HELLO__INIT;
	Dropnet__HubEvent ev = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *evs[] = {&ev};
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	h.id = (char *)hello_id;
	h.name = (char *)hello_id;
	h.lat = 51.5;
	h.lon = -0.12;
	h.radius_km = 50;
	h.incarnation = 5;
	ev.seq = 1;
	ev.kind = DROPNET__EVENT_KIND__EV_RECEIVED;
	ev.sku = "tee";
	ev.qty = 1000000;
	ev.bin = "A1";
	q.version = 1;
	q.hello = &h;
	q.n_events = 1;
	q.events = evs;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_hub_sync_request_pack(&q, &buf, &len), 0);
	int st = t_send(e, coord_hubsync_batch, AUTH_SOCKET_HUBSYNC, name, key_of, 1, buf, len);
	free(buf);
	return st;
}

/* Goal: a hub speaks only as itself; a forged or foreign-keyed sync
 * registers nothing and books nothing; london's own sync does. */
static void test_hub_only_as_itself(void **state)
{
	t_env *e = *state;
	assert_int_equal(t_sync(e, "evil", "evil", "london"), DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.wrong_name, 1);
	assert_int_equal(t_sync(e, "london", "evil", "london"), DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.bad_mac, 1);
	assert_int_equal(t_sync(e, "ghost", "evil", "ghost"), DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.unknown_peer, 1);
	assert_int_equal(t_sync(e, "shop", "shop", "shop"), DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.wrong_role, 1);
	assert_int_equal(e->c.nhubs, 0);
	assert_int_equal(e->c.stock_len, 0);
	assert_int_equal(t_sync(e, "london", "london", "london"), DROPNET__STATUS__OK);
	assert_int_equal(e->c.nhubs, 1);
	assert_int_equal(e->c.stock_len, 1);
}

static void t_order_pack(const char *storefront, const char *key, uint8_t **buf,
    size_t *len)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *ls[] = {&l};
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	l.sku = "tee";
	l.qty = 1;
	o.version = 1;
	o.storefront = (char *)storefront;
	o.order_key = (char *)key;
	o.customer = "c1";
	o.n_lines = 1;
	o.lines = ls;
	o.lat = 51.5;
	o.lon = -0.12;
	assert_int_equal(codec_submit_order_pack(&o, buf, len), 0);
}

/* A bare SubmitOrder signed by signer, through the daemon's entry. */
static int t_order(t_env *e, const char *signer, const char *storefront)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	t_order_pack(storefront, "k1", &buf, &len);
	int st = t_send(e, coord_ingest_request, AUTH_SOCKET_INGEST, signer, signer, 1, buf,
	    len);
	free(buf);
	return st;
}

/* Goal: a storefront speaks only for its own orders ("" is "default"). */
static void test_storefront_own_orders(void **state)
{
	t_env *e = *state;
	assert_int_equal(t_order(e, "shop", "other"), DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(t_order(e, "shop", ""), DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.wrong_name, 2);
	assert_int_equal(e->c.orders_seen, 2); /* answered, not journalled */
	assert_int_equal(t_order(e, "london", "london"), DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.wrong_role, 1);
	/* Its own: past the checks (no hub known: NO_HUB_IN_RANGE). */
	assert_int_equal(t_order(e, "shop", "shop"), DROPNET__STATUS__NO_HUB_IN_RANGE);
}

/* An IngestRequest (version 1) whose kind field (16 order, 17 batch, 18
 * quote) holds body. *out is malloc'd. */
static void t_envelope(uint32_t kind, const uint8_t *body, size_t blen, uint8_t **out,
    size_t *olen)
{
	uint8_t *b = malloc(blen + 16);
	size_t n = 0;
	assert_non_null(b);
	b[n++] = 0x08; /* field 1, varint */
	b[n++] = 1;
	b[n++] = (uint8_t)((kind << 3 | 2) & 0x7f) | 0x80; /* two-byte key */
	b[n++] = (uint8_t)(kind >> 4);
	size_t v = blen;
	do {
		b[n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v > 0);
	memcpy(b + n, body, blen);
	*out = b;
	*olen = n + blen;
}

/* A SubmitBatch of two orders: shop's own (key kb1) and "other"'s (kb2). */
static void t_batch_pack(uint8_t **out, size_t *olen)
{
	uint8_t *o1 = NULL, *o2 = NULL, *batch = NULL;
	size_t l1 = 0, l2 = 0, n = 0;
	t_order_pack("shop", "kb1", &o1, &l1);
	t_order_pack("other", "kb2", &o2, &l2);
	assert_true(l1 < 128 && l2 < 128);
	batch = malloc(l1 + l2 + 4);
	assert_non_null(batch);
	batch[n++] = 0x0a; /* field 1, bytes */
	batch[n++] = (uint8_t)l1;
	memcpy(batch + n, o1, l1);
	n += l1;
	batch[n++] = 0x0a;
	batch[n++] = (uint8_t)l2;
	memcpy(batch + n, o2, l2);
	n += l2;
	t_envelope(17, batch, n, out, olen);
	free(o1);
	free(o2);
	free(batch);
}

/* A quote for storefront. */
static void t_quote_pack(const char *storefront, uint8_t **out, size_t *olen)
{
	Dropnet__QuoteRequest q = DROPNET__QUOTE_REQUEST__INIT;
	char *skus[] = {"tee"};
	q.version = 1;
	q.storefront = (char *)storefront;
	q.customer = "c1";
	q.drop_id = "nope";
	q.tier = "public";
	q.n_skus = 1;
	q.skus = skus;
	q.lat = 51.5;
	q.lon = -0.12;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_quote_request_pack(&q, &buf, &len), 0);
	t_envelope(18, buf, len, out, olen);
	free(buf);
}

/* Sends body through coord_ingest_request, sealed as signer with key_of's
 * key (signer NULL: as it is), and returns the IngestReply. */
static Dropnet__IngestReply *t_ingest(t_env *e, const char *signer, const char *key_of,
    const uint8_t *body, size_t len)
{
	uint8_t *sealed = NULL;
	size_t slen = len;
	if (signer != NULL) {
		assert_int_equal(auth_seal(AUTH_SOCKET_INGEST, signer,
		    auth_table_find(e->c.peers, key_of)->key, 1, body, len, &sealed, &slen), 0);
	}
	mreq r;
	mreq *rp = &r;
	mreq_init(&r, sealed != NULL ? sealed : body, slen);
	coord_ingest_request(&e->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__IngestReply *rep = NULL;
	assert_int_equal(codec_ingest_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(sealed);
	return rep;
}

/* Goal: the Signed envelope wraps the whole ingest request; every order
 * of a batch and every quote is checked against the signer, each order on
 * its own; refusals come back in the request's own shape. */
static void test_envelope_speaks_for(void **state)
{
	t_env *e = *state;
	uint8_t *b = NULL;
	size_t len = 0;
	t_batch_pack(&b, &len);
	Dropnet__IngestReply *rep = t_ingest(e, "shop", "shop", b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_BATCH);
	assert_int_equal(rep->batch->n_acks, 2);
	/* shop's own order: past the checks (no hub: NO_HUB_IN_RANGE). */
	assert_int_equal(rep->batch->acks[0]->status, DROPNET__STATUS__NO_HUB_IN_RANGE);
	assert_int_equal(rep->batch->acks[1]->status, DROPNET__STATUS__FORBIDDEN);
	assert_string_equal(rep->batch->acks[1]->order_key, "kb2");
	assert_int_equal(e->c.refusals.wrong_name, 1);
	codec_ingest_reply_free(rep);
	/* The same batch unsigned, wrongly keyed, or signed by a hub. */
	/* (An unsigned IngestRequest reads as a Signed envelope with no peer
	 * and no MAC: unsigned, not malformed.) */
	rep = t_ingest(e, NULL, NULL, b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(rep->ack->status, DROPNET__STATUS__UNAUTHENTICATED);
	codec_ingest_reply_free(rep);
	rep = t_ingest(e, "shop", "evil", b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(rep->ack->status, DROPNET__STATUS__UNAUTHENTICATED);
	codec_ingest_reply_free(rep);
	rep = t_ingest(e, "london", "london", b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(rep->ack->status, DROPNET__STATUS__FORBIDDEN);
	codec_ingest_reply_free(rep);
	assert_int_equal(e->c.refusals.unsigned_req, 1);
	assert_int_equal(e->c.refusals.bad_mac, 1);
	assert_int_equal(e->c.refusals.wrong_role, 1);
	free(b);
	/* A quote for another storefront; shop's own is answered. */
	t_quote_pack("other", &b, &len);
	rep = t_ingest(e, "shop", "shop", b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_QUOTE);
	assert_int_equal(rep->quote->status, DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.wrong_name, 2);
	codec_ingest_reply_free(rep);
	rep = t_ingest(e, NULL, NULL, b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_QUOTE);
	assert_int_equal(rep->quote->status, DROPNET__STATUS__UNAUTHENTICATED);
	codec_ingest_reply_free(rep);
	free(b);
	t_quote_pack("shop", &b, &len);
	rep = t_ingest(e, "shop", "shop", b, len);
	assert_int_equal(rep->kind_case, DROPNET__INGEST_REPLY__KIND_QUOTE);
	assert_int_equal(rep->quote->status, DROPNET__STATUS__NOT_FOUND);
	codec_ingest_reply_free(rep);
	free(b);
	assert_int_equal(e->c.refusals.wrong_name, 2);
}

/* Goal: an opened envelope's body is the request's own bytes (borrowed,
 * no copy kept), the very bytes the MAC covered. */
static void test_ident_borrows_body(void **state)
{
	t_env *e = *state;
	uint8_t *buf = NULL, *sealed = NULL;
	size_t len = 0, slen = 0;
	t_order_pack("shop", "k1", &buf, &len);
	assert_int_equal(auth_seal(AUTH_SOCKET_INGEST, "shop",
	    auth_table_find(e->c.peers, "shop")->key, 1, buf, len, &sealed, &slen), 0);
	mreq r;
	mreq_init(&r, sealed, slen);
	coord_ident id;
	Dropnet__Status st = DROPNET__STATUS__STATUS_UNSPECIFIED;
	const char *why = "";
	assert_int_equal(coord_ident_open(&e->c, AUTH_SOCKET_INGEST, &r, &id, &st, &why), 0);
	assert_null(id.env);
	assert_true(id.body > sealed && id.body + id.len <= sealed + slen);
	assert_int_equal(id.len, len);
	assert_memory_equal(id.body, buf, len);
	assert_string_equal(id.peer->name, "shop");
	assert_int_equal(id.counter, 1);
	coord_ident_close(&id);
	mreq_fini(&r);
	free(sealed);
	free(buf);
}

/* Goal: orders that reach the authenticating machine past
 * coord_ingest_request (no signer) are refused, not taken. */
static void test_unsigned_orders_fail_closed(void **state)
{
	t_env *e = *state;
	uint8_t *buf = NULL;
	size_t len = 0;
	t_order_pack("shop", "k9", &buf, &len);
	mreq r;
	mreq *rp = &r;
	mreq_init(&r, buf, len);
	coord_ingest_batch(&e->c, &rp, 1);
	assert_true(r.replied);
	assert_int_equal(t_status(r.reply, r.reply_len), DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.unsigned_req, 1);
	mreq_fini(&r);
	free(buf);
}

static int t_ops(t_env *e, const char *who, int kind, uint64_t counter)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.version = 1;
	q.kind = (Dropnet__OpsKind)kind;
	q.drop_id = "nope";
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_ops_request_pack(&q, &buf, &len), 0);
	int st = t_send(e, coord_ops_batch, AUTH_SOCKET_OPS, who, who, counter, buf, len);
	free(buf);
	return st;
}

/* Goal: operators within their role; counters fresh, in the window, and
 * a write's counter survives a restart. */
static void test_operator_role_and_replay(void **state)
{
	t_env *e = *state;
	uint64_t now_us = (uint64_t)T_WALL * 1000;
	assert_int_equal(t_ops(e, "viewer", DROPNET__OPS_KIND__OPS_HUBS, now_us), DROPNET__STATUS__OK);
	assert_int_equal(t_ops(e, "viewer", DROPNET__OPS_KIND__OPS_DROP_OPEN, now_us + 1),
	    DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_CLOCK, now_us + 2),
	    DROPNET__STATUS__FORBIDDEN);
	assert_int_equal(e->c.refusals.forbidden, 2);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_DROP_OPEN, now_us + 3),
	    DROPNET__STATUS__NOT_FOUND);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_DROP_OPEN, now_us + 3),
	    DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.replayed, 1);
	/* Two requests of one operator at once, arriving out of order. */
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 20),
	    DROPNET__STATUS__OK);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 10),
	    DROPNET__STATUS__OK);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 10),
	    DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.replayed, 2);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us - 61000000),
	    DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 61000000),
	    DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(e->c.refusals.stale, 2);
	/* Restart with a fresh table (counters in memory gone). */
	coord_close(&e->c);
	auth_table_destroy(e->c.peers);
	char err[128];
	assert_int_equal(auth_table_parse(peers, strlen(peers), &e->c.peers, err, sizeof(err)), 0);
	assert_int_equal(coord_open(&e->c, e->path, NULL), 0);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_DROP_OPEN, now_us + 3),
	    DROPNET__STATUS__UNAUTHENTICATED);
	/* The saved floor is the highest counter accepted before the last
	 * write (now_us + 3): later ones pass. */
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_DROP_OPEN, now_us + 4),
	    DROPNET__STATUS__NOT_FOUND);
}

/* Goal: an operator write resent with its used counter is still refused
 * (UNAUTHENTICATED, counted as a replay, nothing done twice) and the
 * refusal carries the first answer (first_answer), also after a restart;
 * a refused read carries none. */
static void test_replayed_write_first_answer(void **state)
{
	t_env *e = *state;
	uint64_t now_us = (uint64_t)T_WALL * 1000;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.version = 1;
	q.kind = DROPNET__OPS_KIND__OPS_DROP_OPEN;
	q.drop_id = "nope";
	uint8_t *buf = NULL, *sealed = NULL;
	size_t len = 0, slen = 0;
	assert_int_equal(codec_ops_request_pack(&q, &buf, &len), 0);
	assert_int_equal(auth_seal(AUTH_SOCKET_OPS, "op", auth_table_find(e->c.peers, "op")->key,
	    now_us + 5, buf, len, &sealed, &slen), 0);
	for (int round = 0; round < 3; round++) {
		if (round == 2) {   /* a restart: the answer is in the file */
			coord_close(&e->c);
			assert_int_equal(coord_open(&e->c, e->path, NULL), 0);
		}
		mreq r;
		mreq *rp = &r;
		mreq_init(&r, sealed, slen);
		coord_ops_batch(&e->c, &rp, 1);
		Dropnet__OpsReply *rep = NULL;
		assert_int_equal(codec_ops_reply_unpack(r.reply, r.reply_len, &rep), 0);
		if (round == 0) {
			assert_int_equal(rep->status, DROPNET__STATUS__NOT_FOUND);
			assert_int_equal(rep->first_answer.len, 0);
		} else {
			assert_int_equal(rep->status, DROPNET__STATUS__UNAUTHENTICATED);
			Dropnet__OpsReply *first = NULL;
			assert_int_equal(codec_ops_reply_unpack(rep->first_answer.data,
			    rep->first_answer.len, &first), 0);
			assert_int_equal(first->status, DROPNET__STATUS__NOT_FOUND);
			codec_ops_reply_free(first);
		}
		codec_ops_reply_free(rep);
		mreq_fini(&r);
	}
	assert_int_equal(e->c.refusals.replayed, 2);
	free(sealed);
	free(buf);
	/* A read's replay: refused, no first answer. */
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 9),
	    DROPNET__STATUS__OK);
	assert_int_equal(t_ops(e, "op", DROPNET__OPS_KIND__OPS_HUBS, now_us + 9),
	    DROPNET__STATUS__UNAUTHENTICATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hub_only_as_itself, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storefront_own_orders, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_envelope_speaks_for, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsigned_orders_fail_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ident_borrows_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_role_and_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replayed_write_first_answer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
