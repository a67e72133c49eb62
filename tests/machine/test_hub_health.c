/*
 * test_hub_health.c - hub health, the routing grace and the claim lease,
 * on the real coordinator and hub machines (proto/SEMANTICS.md "Hub
 * health").
 *
 * One coordinator and one hub (london, 75 km: Reading, 59 km west, is in
 * its range and no other hub's) run in-process on SQLite files in a fresh
 * temp folder. The test is their shell: it sets both clocks, carries the
 * hub's HubSyncRequest to coord_hubsync_batch and the reply back to
 * hub_sync_on_reply, and sends SubmitOrder and TermRequest bytes as mreqs.
 * Defaults: hub_timeout_ms 1500.
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
#include "core/limits.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "hub.h"

#define READING_LAT 51.4543
#define READING_LON (-0.9781)
/* The machines' clocks start here (ms); wall = mono + WALL_BASE. */
#define T0 100000u
#define WALL_BASE 1790000000000LL

typedef struct {
	char dir[64];
	coord *c;
	hub h;
	uint64_t now;  /* both machines' monotonic clock */
	int nkey;      /* order keys */
} fixture;

static void clock_to(fixture *fx, uint64_t t)
{
	assert_true(t >= fx->now);
	fx->now = t;
	coord_clock_set(fx->c, t, (int64_t)t + WALL_BASE);
	fx->h.now_ms = (int64_t)t + WALL_BASE;
}

/* Moves the clock to t in 250 ms ticks, as the daemon's timer does: the
 * coordinator runs all along (no stall), it only hears nothing. */
static void tick_to(fixture *fx, uint64_t t)
{
	while (fx->now < t) {
		clock_to(fx, fx->now + 250 < t ? fx->now + 250 : t);
		coord_tick(fx->c);
	}
}

static void hub_open_fx(fixture *fx)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/hub.db", fx->dir);
	assert_int_equal(hub_store_open(&fx->h.store, path), 0);
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	char err[256], path[128];
	static const char *const hsets[] = { "hub.id=london", "hub.lat=51.5074",
		"hub.lon=-0.1278", "hub.radius_km=75" };
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/dn-machine-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	log_set_level(LOG_ERROR);
	fx->c = calloc(1, sizeof(*fx->c));
	assert_non_null(fx->c);
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys,
	    &fx->c->cfg, NULL, NULL, 0, err, sizeof(err)), 0);
	fx->c->split = ROUTE_SPLIT_NEVER;
	assert_int_equal(hub_conf_load(&fx->h.cfg, NULL, hsets, 4, err,
	    sizeof(err)), 0);
	clock_to(fx, T0);
	snprintf(path, sizeof(path), "%s/coordinator.db", fx->dir);
	assert_int_equal(coord_open(fx->c, path, NULL), 0);
	hub_open_fx(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	char cmd[128];
	coord_close(fx->c);
	hub_store_close(fx->h.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx->c);
	free(fx);
	return 0;
}

/* One sync round trip, hub -> coordinator -> hub, at the current time. */
static void sync_once(fixture *fx)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	mreq r;
	mreq *rp = &r;
	Dropnet__HubSyncReply *rep = NULL;

	assert_int_equal(hub_sync_build(&fx->h, &buf, &len), 0);
	mreq_init(&r, buf, len);
	coord_hubsync_batch(fx->c, &rp, 1);
	assert_true(r.replied);
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_hub_sync_reply_free(rep);
	hub_sync_on_reply(&fx->h, 0, r.reply, r.reply_len);
	mreq_fini(&r);
	free(buf);
}

/* Sends one TermRequest; the caller frees the reply. */
static Dropnet__TermReply *term(fixture *fx, Dropnet__TermRequest *q)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	mreq r;
	mreq *rp = &r;
	Dropnet__TermReply *rep = NULL;

	q->version = DN_PROTO_VERSION;
	assert_int_equal(codec_term_request_pack(q, &buf, &len), 0);
	mreq_init(&r, buf, len);
	hub_term_batch(&fx->h, &rp, 1);
	assert_true(r.replied);
	assert_int_equal(codec_term_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(buf);
	return rep;
}

static Dropnet__Status term_status_of(fixture *fx, Dropnet__TermRequest *q)
{
	Dropnet__TermReply *rep = term(fx, q);
	Dropnet__Status st = rep->status;
	codec_term_reply_free(rep);
	return st;
}

/* Receives qty of sku at the hub and syncs it to the coordinator. */
static void receive(fixture *fx, const char *sku, int64_t qty)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	q.sku = (char *)sku;
	q.qty = qty;
	assert_int_equal(term_status_of(fx, &q), DROPNET__STATUS__OK);
	sync_once(fx);
	coord_stock *s = coord_stock_get(fx->c, coord_hub_find(fx->c, "london"),
	    sku, false);
	assert_non_null(s);
	assert_int_equal(s->row.on_hand, qty);
}

/* Submits a one-unit order of sku from Reading; returns its status and
 * sets *nkey to its key's number. */
static Dropnet__Status order(fixture *fx, const char *sku, int *nkey)
{
	Dropnet__SubmitOrder m = DROPNET__SUBMIT_ORDER__INIT;
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lines[1] = { &line };
	Dropnet__OrderAck *ack = NULL;
	char key[32];
	uint8_t *buf = NULL;
	size_t len = 0;
	mreq r;
	mreq *rp = &r;

	snprintf(key, sizeof(key), "k%d", ++fx->nkey);
	m.version = DN_PROTO_VERSION;
	m.order_key = key;
	m.customer = key;
	m.lat = READING_LAT;
	m.lon = READING_LON;
	line.sku = (char *)sku;
	line.qty = 1;
	m.lines = lines;
	m.n_lines = 1;
	assert_int_equal(codec_submit_order_pack(&m, &buf, &len), 0);
	mreq_init(&r, buf, len);
	coord_ingest_batch(fx->c, &rp, 1);
	assert_true(r.replied);
	assert_int_equal(codec_order_ack_unpack(r.reply, r.reply_len, &ack), 0);
	Dropnet__Status st = ack->status;
	if (nkey != NULL) {
		*nkey = fx->nkey;
	}
	codec_order_ack_free(ack);
	mreq_fini(&r);
	free(buf);
	return st;
}

static const coord_hub *london(fixture *fx)
{
	int i = coord_hub_find(fx->c, "london");
	assert_true(i >= 0);
	return &fx->c->hubs[i];
}

/* Goal: a loop stall longer than hub_timeout_ms (the machine is not called for
 * 20 s: a slow audit, an fsync stall, another process holding the write
 * lock) does not make the hub look silent when the queued ingest batch runs
 * before the queued hub syncs: the order is ACCEPTED at london, not
 * journalled NO_HUB_IN_RANGE, and london is still healthy. Silence counts
 * only while the coordinator listens: after the stall, 1.5 s of real
 * silence marks london unhealthy again. */
static void test_stall_does_not_silence_hubs(void **state)
{
	fixture *fx = *state;
	receive(fx, "tee", 10);
	clock_to(fx, fx->now + 20000); /* the stall: no call for 20 s */
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);
	assert_true(coord_hub_healthy(fx->c, london(fx), fx->now));
	tick_to(fx, fx->now + 500);
	assert_false(coord_hub_healthy(fx->c, london(fx), fx->now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stall_does_not_silence_hubs,
		    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
