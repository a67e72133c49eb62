/*
 * test_identity.c - the coordinator machine's identity checks at its
 * handlers' entry (coordinator/machine/identity.c), in-process on a real
 * store: each refusal is answered with its status, counted under its
 * reason in coord.refusals, and applies nothing; an accepted request of the
 * same shape goes through. The network-level version (TLS, real processes)
 * is tests/integration/test_identity.sh.
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

static int t_order(t_env *e, const char *signer, const char *storefront)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *ls[] = {&l};
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	l.sku = "tee";
	l.qty = 1;
	o.version = 1;
	o.storefront = (char *)storefront;
	o.order_key = "k1";
	o.customer = "c1";
	o.n_lines = 1;
	o.lines = ls;
	o.lat = 51.5;
	o.lon = -0.12;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_submit_order_pack(&o, &buf, &len), 0);
	int st = t_send(e, coord_ingest_batch, AUTH_SOCKET_INGEST, signer, signer, 1, buf, len);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hub_only_as_itself, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storefront_own_orders, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_role_and_replay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
