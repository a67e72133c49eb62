/*
 * test_hubs_max.c - the hub registry's size is config (coordinator.hubs_max),
 * not a fixed 256: a machine opened with hubs_max = 1,200 registers 1,200
 * hubs at distinct positions from their first syncs, routes each order to
 * the nearest hub in range that has the stock, places a proportional drop
 * over all of them (and feeds its SKU to all 1,200 regions), and refuses the 1,201st hub with INVALID "hub registry
 * full" (the known ones still sync); a machine of hubs_max = 3 refuses the
 * 4th. The bound holds across a restart: a store with more hubs than
 * hubs_max does not open (DN_ERANGE), and a memory image of another registry
 * size is refused (DN_EINVAL: both the config's, a replica stops with exit 78).
 * The config key has its bounds (1..4096).
 *
 * The real coordinator machine on a real SQLite file (tests/machine/harness.h).
 */
#include "harness.h"

#define BIG 1200u
/* Hubs on a grid of 0.5 degrees (~35-55 km apart), 40 columns a row. */
#define COLS 40u
#define STEP 0.5
#define RADIUS_KM 60.0
/* Hubs whose index is a multiple of this also stock "cap". */
#define CAP_EVERY 7u

static void hub_pos(size_t k, double *lat, double *lon)
{
	*lat = 40.0 + STEP * (double)(k / COLS);
	*lon = -5.0 + STEP * (double)(k % COLS);
}

/* A sync from hub k: its hello (id hNNNN at its grid position) and, on its
 * first, the receipt of 5 tee (and 5 cap for every CAP_EVERY-th hub). */
static int pack_sync(size_t k, bool first, uint8_t **buf, size_t *len)
{
	char id[16];
	snprintf(id, sizeof(id), "h%04zu", k);
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = id;
	hello.name = id;
	hub_pos(k, &hello.lat, &hello.lon);
	hello.radius_km = RADIUS_KM;
	Dropnet__HubEvent e[2] = {DROPNET__HUB_EVENT__INIT, DROPNET__HUB_EVENT__INIT};
	Dropnet__HubEvent *ep[2] = {&e[0], &e[1]};
	mt_event_received(&e[0], 1, "tee", 5, MT_WALL0);
	mt_event_received(&e[1], 2, "cap", 5, MT_WALL0);
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	q.n_events = !first ? 0 : k % CAP_EVERY == 0 ? 2 : 1;
	q.events = q.n_events > 0 ? ep : NULL;
	return codec_hub_sync_request_pack(&q, buf, len);
}

/* Syncs hubs [from, to) in batches of up to 64 requests; every reply's
 * status must be want (the message of the last one goes to msg). */
static void sync_hubs(mt *m, size_t from, size_t to, bool first, Dropnet__Status want,
    char *msg, size_t msg_len)
{
	enum { BATCH = 64 };
	for (size_t k0 = from; k0 < to; k0 += BATCH) {
		size_t n = to - k0 < BATCH ? to - k0 : BATCH;
		uint8_t *buf[BATCH];
		size_t len[BATCH];
		mreq r[BATCH], *rp[BATCH];
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(pack_sync(k0 + i, first, &buf[i], &len[i]), 0);
			mreq_init(&r[i], buf[i], len[i]);
			rp[i] = &r[i];
		}
		coord_hubsync_batch(m->c, rp, n);
		for (size_t i = 0; i < n; i++) {
			assert_true(r[i].replied);
			Dropnet__HubSyncReply *rep = NULL;
			assert_int_equal(codec_hub_sync_reply_unpack(r[i].reply, r[i].reply_len,
			    &rep), 0);
			assert_int_equal(rep->status, want);
			if (msg != NULL) {
				snprintf(msg, msg_len, "%s", rep->message);
			}
			codec_hub_sync_reply_free(rep);
			mreq_fini(&r[i]);
			free(buf[i]);
		}
	}
}

/* A one-line order of sku to (lat, lon); returns the ack's status and the
 * hub it went to ("" when none) in at. */
static Dropnet__Status order_at(mt *m, const char *key, const char *sku, double lat,
    double lon, char *at, size_t at_len)
{
	const mt_order_spec spec = {.key = key, .customer = key, .sku = sku, .qty = 1,
	    .action = DROPNET__ORDER_ACTION__ACTION_SUBMIT, .lat = lat, .lon = lon};
	Dropnet__OrderAck *ack = mt_order_spec_send(m, &spec);
	Dropnet__Status st = ack->status;
	snprintf(at, at_len, "%s", ack->hub);
	codec_order_ack_free(ack);
	return st;
}

static void open_with(mt *m, long long hubs_max)
{
	mt_prepare(m, NULL);
	m->c->cfg.hubs_max = hubs_max;
	mt_open_at(m);
	assert_int_equal(m->c->hubs_max, (size_t)hubs_max);
}

/* Orders near hubs all over the grid go to that hub; a cap order goes to
 * the nearest hub that has caps (a neighbour within the radius). */
static void routes_to_nearest(mt *m, const char *tag)
{
	char key[32], at[DN_ID_MAX + 1], want[16];
	static const size_t probe[] = {0, 1, 255, 256, 257, 600, 799, 1001, BIG - 1};
	for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		size_t k = probe[i];
		double lat, lon;
		hub_pos(k, &lat, &lon);
		snprintf(key, sizeof(key), "%s-tee-%zu", tag, k);
		snprintf(want, sizeof(want), "h%04zu", k);
		/* 2 km north of hub k: it is the nearest of the hubs in range. */
		assert_int_equal(order_at(m, key, "tee", lat + 0.018, lon, at, sizeof(at)),
		    DROPNET__STATUS__ACCEPTED);
		assert_string_equal(at, want);
	}
	/* At hub 701 (no caps): hub 700 (a multiple of 7) is one column
	 * west, ~37 km; the other cap hubs in range are farther. */
	double lat, lon;
	hub_pos(701, &lat, &lon);
	snprintf(key, sizeof(key), "%s-cap-701", tag);
	assert_int_equal(order_at(m, key, "cap", lat, lon, at, sizeof(at)),
	    DROPNET__STATUS__ACCEPTED);
	assert_string_equal(at, "h0700");
	/* Far from every hub. */
	snprintf(key, sizeof(key), "%s-far", tag);
	assert_int_equal(order_at(m, key, "tee", 10.0, 10.0, at, sizeof(at)),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);
}

/* Goal: 1,200 hubs register, route and place; the 1,201st is refused, the
 * known ones still sync; the file holds 1,200. */
static void test_big_registry(void **state)
{
	(void)state;
	mt m;
	open_with(&m, BIG);
	sync_hubs(&m, 0, BIG, true, DROPNET__STATUS__OK, NULL, 0);
	assert_int_equal(m.c->nhubs, BIG);
	routes_to_nearest(&m, "a");

	char msg[200];
	sync_hubs(&m, BIG, BIG + 1, true, DROPNET__STATUS__INVALID, msg, sizeof(msg));
	assert_non_null(strstr(msg, "hub registry full"));
	assert_int_equal(m.c->nhubs, BIG);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM hubs", NULL), BIG);
	sync_hubs(&m, 0, 3, false, DROPNET__STATUS__OK, NULL, 0);
	sync_hubs(&m, BIG - 1, BIG, false, DROPNET__STATUS__OK, NULL, 0);

	/* OPS_HUBS lists every one of them. */
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_HUBS;
	Dropnet__OpsReply *r = mt_ops(&m, &q);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_int_equal(r->n_hubs, BIG);
	assert_string_equal(r->hubs[BIG - 1]->id, "h1199");
	codec_ops_reply_free(r);

	/* A proportional placement spreads a drop over all 1,200. */
	Dropnet__DropSku s = DROPNET__DROP_SKU__INIT;
	s.sku = "hoodie";
	s.units = 5000;
	s.placement_proportional = true;
	Dropnet__Tier t = DROPNET__TIER__INIT;
	t.name = "pub";
	t.opens_ms = MT_WALL0 + 3600000;
	t.closes_ms = MT_WALL0 + 7200000;
	r = mt_drop_send(&m, "d1", NULL, NULL, &s, &t);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(r);
	assert_int_equal(m.c->ndrops, 1);
	const Dropnet__DropSku *ds = m.c->drops[0].spec->skus[0];
	assert_int_equal(ds->n_placement, BIG);
	uint64_t sum = 0;
	for (size_t i = 0; i < ds->n_placement; i++) {
		sum += ds->placement[i]->units;
	}
	assert_int_equal(sum, 5000);
	/* Open, the drop's SKU is in the feed of every one of the 1,200
	 * regions: one change each (a new row), none twice. */
	uint64_t fc0 = m.c->metrics.feed_changes;
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_OPEN, "d1", NULL, 0),
	    DROPNET__STATUS__OK);
	coord_feed_scan(m.c, true);
	assert_int_equal(m.c->metrics.feed_changes - fc0, BIG);
	mt_close(&m);
}

/* Goal: the bound holds across restarts: the same hubs_max reloads every
 * hub and routes as before; a smaller one refuses to open the store; a
 * memory image of another registry size is refused. */
static void test_restart_bounds(void **state)
{
	(void)state;
	mt m;
	open_with(&m, BIG);
	sync_hubs(&m, 0, BIG, true, DROPNET__STATUS__OK, NULL, 0);
	uint8_t *img = NULL;
	size_t ilen = 0;
	assert_int_equal(coord_memory_pack(m.c, &img, &ilen), 0);

	coord_close(m.c);
	assert_int_equal(m.c->nhubs, 0);
	mt_open_at(&m);
	assert_int_equal(m.c->nhubs, BIG);
	assert_int_equal(coord_memory_unpack(m.c, img, ilen), 0);
	routes_to_nearest(&m, "b");

	coord_close(m.c);
	m.c->cfg.hubs_max = BIG - 1;
	assert_int_equal(coord_open(m.c, m.path, NULL), DN_ERANGE);
	m.c->cfg.hubs_max = BIG + 100;
	mt_open_at(&m);
	assert_int_equal(m.c->nhubs, BIG);
	/* Same hubs, another registry size: the image is not this group's. */
	assert_int_equal(coord_memory_unpack(m.c, img, ilen), DN_EINVAL);
	free(img);
	mt_close(&m);
}

/* Goal: a registry of 3 takes 3 hubs and refuses the 4th. */
static void test_small_registry(void **state)
{
	(void)state;
	mt m;
	open_with(&m, 3);
	sync_hubs(&m, 0, 3, true, DROPNET__STATUS__OK, NULL, 0);
	char msg[200];
	sync_hubs(&m, 3, 4, true, DROPNET__STATUS__INVALID, msg, sizeof(msg));
	assert_non_null(strstr(msg, "hub registry full"));
	assert_int_equal(m.c->nhubs, 3);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM hubs", NULL), 3);
	char at[DN_ID_MAX + 1];
	double lat, lon;
	hub_pos(2, &lat, &lon);
	assert_int_equal(order_at(&m, "s-1", "tee", lat, lon, at, sizeof(at)),
	    DROPNET__STATUS__ACCEPTED);
	assert_string_equal(at, "h0002");
	/* Hub 3's position: only hub 2 (one column west, ~40 km) covers it. */
	hub_pos(3, &lat, &lon);
	assert_int_equal(order_at(&m, "s-2", "tee", lat, lon, at, sizeof(at)),
	    DROPNET__STATUS__ACCEPTED);
	assert_string_equal(at, "h0002");
	mt_close(&m);
}

/* Goal: the key's bounds: 1..DN_HUBS_CAP (4096), default 256. */
static void test_config_bounds(void **state)
{
	(void)state;
	coord_config cfg;
	char err[200];
	const char *ok[] = {"coordinator.hubs_max=4096"};
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &cfg, NULL, ok, 1,
	    err, sizeof(err)), 0);
	assert_int_equal(cfg.hubs_max, DN_HUBS_CAP);
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &cfg, NULL, NULL, 0,
	    err, sizeof(err)), 0);
	assert_int_equal(cfg.hubs_max, DN_HUBS_DEFAULT);
	const char *over[] = {"coordinator.hubs_max=4097"};
	assert_int_not_equal(conf_load(coord_config_keys, coord_config_nkeys, &cfg, NULL, over,
	    1, err, sizeof(err)), 0);
	const char *zero[] = {"coordinator.hubs_max=0"};
	assert_int_not_equal(conf_load(coord_config_keys, coord_config_nkeys, &cfg, NULL, zero,
	    1, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_registry),
		cmocka_unit_test(test_restart_bounds),
		cmocka_unit_test(test_small_registry),
		cmocka_unit_test(test_config_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
