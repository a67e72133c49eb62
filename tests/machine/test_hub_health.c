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
 * Defaults: hub_timeout_ms 1500, hub_grace_ms 10000, hub_lease_ms 10000.
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
	fx->h.now_mono_ms = t;
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

/* One sync round trip, hub -> coordinator -> hub, at the current time.
 * Returns the lease the coordinator granted. */
static uint32_t sync_once(fixture *fx)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	mreq r;
	mreq *rp = &r;
	Dropnet__HubSyncReply *rep = NULL;
	uint32_t lease;

	assert_int_equal(hub_sync_build(&fx->h, &buf, &len), 0);
	mreq_init(&r, buf, len);
	coord_hubsync_batch(fx->c, &rp, 1);
	assert_true(r.replied);
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	lease = rep->lease_ms;
	codec_hub_sync_reply_free(rep);
	hub_sync_on_reply(&fx->h, 0, r.reply, r.reply_len);
	mreq_fini(&r);
	free(buf);
	return lease;
}

/* The link is cut: the hub's sync times out. */
static void sync_lost(fixture *fx)
{
	hub_sync_on_reply(&fx->h, DN_ETIMEDOUT, NULL, 0);
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

/* The hub's order id (the placement id) of order key k%d, 0 if the hub
 * does not have it. */
static uint64_t hub_order_id(fixture *fx, int nkey)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	char key[32];
	uint64_t id = 0;
	snprintf(key, sizeof(key), "k%d", nkey);
	q.kind = DROPNET__TERM_KIND__TERM_QUEUE;
	Dropnet__TermReply *rep = term(fx, &q);
	for (size_t i = 0; i < rep->n_orders; i++) {
		if (strcmp(rep->orders[i]->order_key, key) == 0) {
			id = rep->orders[i]->order_id;
		}
	}
	codec_term_reply_free(rep);
	return id;
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

/* Goal: a loop stall longer than the grace (the machine is not called for
 * 20 s: a slow audit, an fsync stall, another process holding the write
 * lock) does not make the hub look silent when the queued ingest batch runs
 * before the queued hub syncs: the order is ACCEPTED at london, not
 * journalled NO_HUB_IN_RANGE, and london is still healthy. Silence counts
 * only while the coordinator listens: after the stall, 1.5 s of real
 * silence marks london silent again. */
static void test_stall_does_not_silence_hubs(void **state)
{
	fixture *fx = *state;
	receive(fx, "tee", 10);
	clock_to(fx, fx->now + 20000); /* the stall: no call for 20 s */
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);
	assert_true(coord_hub_healthy(fx->c, london(fx), fx->now));
	tick_to(fx, fx->now + 1500);
	assert_int_equal(coord_hub_health(fx->c, london(fx), fx->now),
	    COORD_HUB_SILENT);
	/* The lease clock is not credited: london's lease ran out in the
	 * stall, and the coordinator knows it. */
	assert_true(coord_hub_lease_expired(fx->c, london(fx), fx->now));
}

/* stderr into a temp file until stderr_release, which puts what was
 * written (cut to len) in out. */
static int stderr_saved = -1;

static FILE *stderr_catch(void)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	fflush(stderr);
	stderr_saved = dup(2);
	assert_true(stderr_saved >= 0);
	assert_true(dup2(fileno(f), 2) >= 0);
	return f;
}

static void stderr_release(FILE *f, char *out, size_t len)
{
	fflush(stderr);
	assert_true(dup2(stderr_saved, 2) >= 0);
	close(stderr_saved);
	stderr_saved = -1;
	rewind(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

/* Goal: a hub already down for routing when the coordinator's loop stalls
 * may come back during the stall; its sync then waits in the queue, and
 * the orders queued with it may run first. Those orders are routed as if
 * it had been heard (SEMANTICS.md "Hub health": a stall counts like a
 * restart): after the stall london counts as heard when the coordinator
 * stopped listening, so the first order is ACCEPTED, not journalled
 * NO_HUB_IN_RANGE for good. A backward wall-clock step in the same gap
 * changes nothing (health runs on the monotonic clock). If no sync comes,
 * london is down again one grace after the stall began, and its waiting
 * command reaches it when it syncs. (dropsim seed 56 at 17f08a1.) The
 * stall logs hub.revived for london. */
static void test_stall_hears_down_hub(void **state)
{
	fixture *fx = *state;
	int k = 0;
	hub_stream sp;
	receive(fx, "tee", 10);
	sync_lost(fx);
	tick_to(fx, fx->now + 10250);
	assert_int_equal(coord_hub_health(fx->c, london(fx), fx->now),
	    COORD_HUB_DOWN);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__NO_HUB_IN_RANGE);
	uint64_t t_stop = fx->now;
	/* The stall: no call for 5.5 s; the wall clock was stepped 21 s back
	 * meanwhile. The revival is logged (stderr caught for the call). */
	fx->now += 5500;
	char logged[512];
	FILE *cap = stderr_catch();
	log_set_level(LOG_WARN);
	coord_clock_set(fx->c, fx->now, (int64_t)fx->now + WALL_BASE - 21000);
	log_set_level(LOG_ERROR);
	stderr_release(cap, logged, sizeof(logged));
	assert_non_null(strstr(logged, "WARN hub.revived hub=london by=stall health="));
	fx->h.now_mono_ms = fx->now;
	fx->h.now_ms = (int64_t)fx->now + WALL_BASE;
	assert_int_equal(order(fx, "tee", &k), DROPNET__STATUS__ACCEPTED);
	assert_true(coord_hub_routable(fx->c, london(fx), fx->now));
	/* The queued sync is applied after the order: the command goes out. */
	sync_once(fx);
	assert_true(coord_hub_healthy(fx->c, london(fx), fx->now));
	assert_int_equal(hub_store_stream_get(fx->h.store, &sp), 0);
	assert_int_equal(sp.cmd_applied, 1);
	assert_true(hub_order_id(fx, k) != 0);

	/* Another stall, and this time london stays away: heard when the
	 * coordinator stopped listening (the shell's first second counts as
	 * listening), down one grace later. */
	sync_lost(fx);
	tick_to(fx, fx->now + 10250);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__NO_HUB_IN_RANGE);
	t_stop = fx->now;
	clock_to(fx, t_stop + 3000);
	assert_true(coord_hub_routable(fx->c, london(fx), fx->now));
	tick_to(fx, t_stop + 2000 + 10000 - 250);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);
	tick_to(fx, t_stop + 2000 + 10000);
	assert_int_equal(coord_hub_health(fx->c, london(fx), fx->now),
	    COORD_HUB_DOWN);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__NO_HUB_IN_RANGE);
}

/* Goal: a hub silent for less than hub_grace_ms (a link cut of a few
 * seconds) is still routed to - acceptance needs no round trip, its
 * command waits in its stream and reaches it when the link is back - but
 * shown silent; past the grace it is down for routing (NO_HUB_IN_RANGE:
 * london is the only hub in range); a sync brings it back at once. */
static void test_grace_routes_to_silent_hub(void **state)
{
	fixture *fx = *state;
	uint64_t t_sync;
	int k = 0;
	hub_stream sp;
	receive(fx, "tee", 10);
	t_sync = fx->now;
	tick_to(fx, t_sync + 4000);
	sync_lost(fx);
	assert_int_equal(coord_hub_health(fx->c, london(fx), fx->now),
	    COORD_HUB_SILENT);
	assert_false(coord_hub_healthy(fx->c, london(fx), fx->now));
	assert_int_equal(order(fx, "tee", &k), DROPNET__STATUS__ACCEPTED);
	tick_to(fx, t_sync + 9750);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);
	tick_to(fx, t_sync + 10000);
	assert_int_equal(coord_hub_health(fx->c, london(fx), fx->now),
	    COORD_HUB_DOWN);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__NO_HUB_IN_RANGE);
	sync_once(fx); /* the link is back: the waiting commands arrive */
	assert_true(coord_hub_healthy(fx->c, london(fx), fx->now));
	assert_int_equal(hub_store_stream_get(fx->h.store, &sp), 0);
	assert_int_equal(sp.cmd_applied, 2);
	assert_true(hub_order_id(fx, k) != 0);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);

	/* A grace below hub_timeout_ms counts as hub_timeout_ms. */
	fx->c->cfg.hub_grace_ms = 0;
	tick_to(fx, fx->now + 1000);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__ACCEPTED);
	tick_to(fx, fx->now + 500);
	assert_int_equal(order(fx, "tee", NULL), DROPNET__STATUS__NO_HUB_IN_RANGE);
}

static Dropnet__Status claim(fixture *fx, uint64_t order_id, char *msg,
    size_t msg_len)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_CLAIM;
	q.operator_ = "alice";
	q.order_id = order_id;
	Dropnet__TermReply *rep = term(fx, &q);
	Dropnet__Status st = rep->status;
	if (msg != NULL) {
		snprintf(msg, msg_len, "%s", rep->message);
	}
	codec_term_reply_free(rep);
	return st;
}

static uint64_t lease_left(fixture *fx)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_STATUS;
	Dropnet__TermReply *rep = term(fx, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	uint64_t left = rep->lease_left_ms;
	codec_term_reply_free(rep);
	return left;
}

/* Goal: the hub starts no new pick without a valid lease. Every OK sync
 * grants hub_lease_ms, counted at the hub from when it sent the request;
 * while it holds one, claims work; once it ran out (link cut) a claim, and
 * the first scan of an order nobody claimed, get NO_LEASE with a message
 * that says why, while the order already claimed can still be picked
 * offline. The coordinator counts the lease as surely over only after
 * lease + DN_LEASE_SKEW_MS from its reply. A restarted hubd has no lease
 * until its first sync. */
static void test_claim_needs_lease(void **state)
{
	fixture *fx = *state;
	uint64_t a, b, t_sync;
	int ka = 0, kb = 0;
	char msg[512];
	Dropnet__TermRequest pick = DROPNET__TERM_REQUEST__INIT;
	char *scans[1] = { "tee" };

	receive(fx, "tee", 10);
	assert_int_equal(order(fx, "tee", &ka), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(order(fx, "tee", &kb), DROPNET__STATUS__ACCEPTED);
	tick_to(fx, fx->now + 200);
	t_sync = fx->now;
	assert_int_equal(sync_once(fx), 10000); /* delivers both orders */
	a = hub_order_id(fx, ka);
	b = hub_order_id(fx, kb);
	assert_true(a != 0 && b != 0);
	assert_int_equal(lease_left(fx), 10000);
	assert_false(coord_hub_lease_expired(fx->c, london(fx), fx->now));
	assert_int_equal(claim(fx, a, NULL, 0), DROPNET__STATUS__OK);

	/* The link is cut: no renewal. */
	tick_to(fx, t_sync + 9999);
	sync_lost(fx);
	assert_int_equal(lease_left(fx), 1);
	tick_to(fx, t_sync + 10000);
	assert_int_equal(lease_left(fx), 0);
	assert_int_equal(claim(fx, b, msg, sizeof(msg)), DROPNET__STATUS__NO_LEASE);
	assert_non_null(strstr(msg, "no new pick"));
	/* "Claim next" without a lease gives back only the claim alice
	 * already holds (work already claimed goes on offline), never b. */
	assert_int_equal(claim(fx, 0, msg, sizeof(msg)), DROPNET__STATUS__OK);
	assert_null(strstr(msg, "no new pick"));
	pick.kind = DROPNET__TERM_KIND__TERM_PICK;
	pick.order_id = b;
	pick.scans = scans;
	pick.n_scans = 1;
	assert_int_equal(term_status_of(fx, &pick), DROPNET__STATUS__NO_LEASE);
	pick.order_id = a;  /* claimed under the lease: goes on offline */
	pick.operator_ = "alice";
	assert_int_equal(term_status_of(fx, &pick), DROPNET__STATUS__OK);
	/* The coordinator's view: over only after the skew margin. */
	tick_to(fx, t_sync + 10000 + DN_LEASE_SKEW_MS - 1);
	assert_false(coord_hub_lease_expired(fx->c, london(fx), fx->now));
	tick_to(fx, t_sync + 10000 + DN_LEASE_SKEW_MS);
	assert_true(coord_hub_lease_expired(fx->c, london(fx), fx->now));

	/* Back: the next sync renews the lease. */
	sync_once(fx);
	assert_false(coord_hub_lease_expired(fx->c, london(fx), fx->now));
	assert_int_equal(claim(fx, b, NULL, 0), DROPNET__STATUS__OK);

	/* A restarted hubd holds no lease until it syncs (kept in memory
	 * only); its store keeps the orders. */
	assert_int_equal(order(fx, "tee", &ka), DROPNET__STATUS__ACCEPTED);
	sync_once(fx);
	a = hub_order_id(fx, ka);
	assert_true(a != 0);
	hub_store_close(fx->h.store);
	hub saved = fx->h;
	memset(&fx->h, 0, sizeof(fx->h));
	fx->h.cfg = saved.cfg;
	fx->h.now_mono_ms = saved.now_mono_ms;
	fx->h.now_ms = saved.now_ms;
	hub_open_fx(fx);
	assert_int_equal(claim(fx, a, msg, sizeof(msg)), DROPNET__STATUS__NO_LEASE);
	assert_non_null(strstr(msg, "since hubd started"));
	sync_once(fx);
	assert_int_equal(claim(fx, a, NULL, 0), DROPNET__STATUS__OK);
}

/* Goal: a coordinator restart assumes a lease of DN_LEASE_MAX_MS may be out
 * (the hubs' leases from before it are unknown), and a hub caps a lease
 * it is granted at DN_LEASE_MAX_MS whatever a reply says. */
static void test_lease_bounds(void **state)
{
	fixture *fx = *state;
	char path[128];
	uint8_t *req = NULL, *buf = NULL;
	size_t req_len = 0, len = 0;
	Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;

	assert_int_equal(hub_sync_build(&fx->h, &req, &req_len), 0);
	free(req);
	rep.version = DN_PROTO_VERSION;
	rep.status = DROPNET__STATUS__OK;
	rep.message = "";
	rep.lease_ms = 3600000;
	assert_int_equal(codec_hub_sync_reply_pack(&rep, &buf, &len), 0);
	hub_sync_on_reply(&fx->h, 0, buf, len);
	free(buf);
	assert_int_equal(lease_left(fx), DN_LEASE_MAX_MS);

	receive(fx, "tee", 10);
	coord_close(fx->c);
	snprintf(path, sizeof(path), "%s/coordinator.db", fx->dir);
	assert_int_equal(coord_open(fx->c, path, NULL), 0);
	uint64_t t_open = fx->now;
	tick_to(fx, t_open + DN_LEASE_MAX_MS + DN_LEASE_SKEW_MS - 250);
	assert_false(coord_hub_lease_expired(fx->c, london(fx), fx->now));
	tick_to(fx, t_open + DN_LEASE_MAX_MS + DN_LEASE_SKEW_MS);
	assert_true(coord_hub_lease_expired(fx->c, london(fx), fx->now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stall_does_not_silence_hubs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_hears_down_hub,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_routes_to_silent_hub,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_needs_lease, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lease_bounds, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
