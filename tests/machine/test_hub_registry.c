/*
 * test_hub_registry.c - a hub's position and radius are the registry's: its
 * first sync registers it, later hellos cannot move it or widen its radius,
 * and only OPS_HUB_SET (an admin's `dropctl hubs set`) changes them, in the
 * file as in memory, routing from the next order on.
 *
 * The real coordinator machine on a real SQLite file (tests/machine/harness.h).
 */
#include "harness.h"

/* Manchester, ~260 km from the test ship-to in London. */
#define MANC_LAT 53.4808
#define MANC_LON -2.2426

static Dropnet__Status hub_set(mt *m, const char *id, double lat, double lon, double radius)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_HUB_SET;
	q.hub = (char *)id;
	q.lat = lat;
	q.lon = lon;
	q.radius_km = radius;
	Dropnet__OpsReply *r = mt_ops(m, &q);
	Dropnet__Status st = r->status;
	if (st == DROPNET__STATUS__OK) {
		/* The answer lists the hubs, the moved one with its new values. */
		assert_int_equal(r->n_hubs, 1);
		assert_string_equal(r->hubs[0]->id, id);
		assert_true(r->hubs[0]->lat == lat && r->hubs[0]->lon == lon);
		assert_true(r->hubs[0]->radius_km == radius);
	}
	codec_ops_reply_free(r);
	return st;
}

/* The registry row in the file: lat, lon, radius_km of hub london. */
static void file_row(mt *m, double *lat, double *lon, double *radius)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(m->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	    "SELECT lat, lon, radius_km FROM hubs WHERE id = 'london'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*lat = sqlite3_column_double(st, 0);
	*lon = sqlite3_column_double(st, 1);
	*radius = sqlite3_column_double(st, 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_hello_cannot_move_a_hub(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 10); /* registers london at MT_LAT/MT_LON, 50 km */
	assert_int_equal(mt_submit(&m, "o-1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);

	/* An admin moves london to Manchester with a 20 km radius: the
	 * London ship-to is out of range from the next order on. */
	assert_int_equal(hub_set(&m, "london", MANC_LAT, MANC_LON, 20), DROPNET__STATUS__OK);
	assert_int_equal(mt_submit(&m, "o-2", NULL, "tee", 1),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);

	/* The hub's own hello still says London, 50 km: it moves nothing. */
	mt_hub_sync(&m, "tee", 0);
	mt_hub_sync(&m, "tee", 0);
	assert_int_equal(mt_submit(&m, "o-3", NULL, "tee", 1),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);
	double lat, lon, radius;
	file_row(&m, &lat, &lon, &radius);
	assert_true(lat == MANC_LAT && lon == MANC_LON && radius == 20);

	/* After a restart the registry's values hold, hello or not. */
	coord_close(m.c);
	mt_open_at(&m);
	mt_hub_sync(&m, "tee", 0);
	assert_int_equal(mt_submit(&m, "o-4", NULL, "tee", 1),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);

	/* Moved back by the admin, it sells again. */
	assert_int_equal(hub_set(&m, "london", MT_LAT, MT_LON, 60), DROPNET__STATUS__OK);
	assert_int_equal(mt_submit(&m, "o-5", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	file_row(&m, &lat, &lon, &radius);
	assert_true(lat == MT_LAT && lon == MT_LON && radius == 60);
	mt_close(&m);
}

/* A one-tee order to (lat, lon); returns its status. */
static Dropnet__Status submit_at(mt *m, const char *key, double lat, double lon)
{
	const mt_order_spec spec = {.key = key, .customer = key, .sku = "tee", .qty = 1,
	    .action = DROPNET__ORDER_ACTION__ACTION_SUBMIT, .lat = lat, .lon = lon};
	Dropnet__OrderAck *ack = mt_order_spec_send(m, &spec);
	Dropnet__Status st = ack->status;
	codec_order_ack_free(ack);
	return st;
}

/* How many routing candidates OPS_ORDER_SHOW lists for key; *first gets
 * the first one's verdict ("" when none). */
static size_t candidates(mt *m, const char *key, char *first, size_t len)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_ORDER_SHOW;
	q.order_key = (char *)key;
	Dropnet__OpsReply *r = mt_ops(m, &q);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	size_t n = r->order->n_candidates;
	snprintf(first, len, "%s", n > 0 ? r->order->candidates[0]->verdict : "");
	codec_ops_reply_free(r);
	return n;
}

/* Goal: routing finds hubs through its spatial index, rebuilt when a hub
 * moves - an order where the hub now is is accepted (a stale index would
 * look for it where it was) - and the order trace lists only the hubs
 * whose radius covers the ship-to: none for an order out of every range
 * (route_order listed every hub, the far ones as out_of_range). */
static void test_routing_follows_a_move(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 10);
	char v[32];
	assert_int_equal(submit_at(&m, "i-1", MT_LAT, MT_LON), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(candidates(&m, "i-1", v, sizeof(v)), 1);
	assert_string_equal(v, "chosen");
	assert_int_equal(submit_at(&m, "i-2", MANC_LAT, MANC_LON),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);
	assert_int_equal(candidates(&m, "i-2", v, sizeof(v)), 0);

	assert_int_equal(hub_set(&m, "london", MANC_LAT, MANC_LON, 20), DROPNET__STATUS__OK);
	assert_int_equal(submit_at(&m, "i-3", MANC_LAT + 0.1, MANC_LON),
	    DROPNET__STATUS__ACCEPTED);
	assert_int_equal(candidates(&m, "i-3", v, sizeof(v)), 1);
	assert_string_equal(v, "chosen");
	assert_int_equal(submit_at(&m, "i-4", MT_LAT, MT_LON), DROPNET__STATUS__NO_HUB_IN_RANGE);
	assert_int_equal(candidates(&m, "i-4", v, sizeof(v)), 0);
	/* Its radius alone changes too: 20 km no longer reach 30 km out. */
	assert_int_equal(hub_set(&m, "london", MANC_LAT, MANC_LON, 40), DROPNET__STATUS__OK);
	assert_int_equal(submit_at(&m, "i-5", MANC_LAT + 0.27, MANC_LON),
	    DROPNET__STATUS__ACCEPTED);
	assert_int_equal(hub_set(&m, "london", MANC_LAT, MANC_LON, 20), DROPNET__STATUS__OK);
	assert_int_equal(submit_at(&m, "i-6", MANC_LAT + 0.27, MANC_LON),
	    DROPNET__STATUS__NO_HUB_IN_RANGE);
	mt_close(&m);
}

static void test_hub_set_refuses_bad_input(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 10);
	assert_int_equal(hub_set(&m, "nowhere", MT_LAT, MT_LON, 50), DROPNET__STATUS__NOT_FOUND);
	assert_int_equal(hub_set(&m, "london", 91, MT_LON, 50), DROPNET__STATUS__INVALID);
	assert_int_equal(hub_set(&m, "london", MT_LAT, 181, 50), DROPNET__STATUS__INVALID);
	assert_int_equal(hub_set(&m, "london", MT_LAT, MT_LON, 0), DROPNET__STATUS__INVALID);
	assert_int_equal(hub_set(&m, "london", MT_LAT, MT_LON, 1e9), DROPNET__STATUS__INVALID);
	assert_int_equal(hub_set(&m, "", MT_LAT, MT_LON, 50), DROPNET__STATUS__INVALID);
	/* Nothing refused changed the registry. */
	double lat, lon, radius;
	file_row(&m, &lat, &lon, &radius);
	assert_true(lat == MT_LAT && lon == MT_LON && radius == 50);
	assert_int_equal(mt_submit(&m, "o-1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_cannot_move_a_hub),
	    cmocka_unit_test(test_hub_set_refuses_bad_input),
	    cmocka_unit_test(test_routing_follows_a_move),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
