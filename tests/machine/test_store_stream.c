/*
 * test_store_stream.c - the typed store of the hub streams
 * (coordinator/machine/store_stream.c, declared in store.h "stream"), on a
 * real coordinator.db in a fresh temp folder, opened as coord_open opens
 * it (db_open, store_migrate, store_init).
 *
 * Goals: each call reads and writes the rows hubsync.c and resync.c relied
 * on when they spoke SQL themselves; in particular
 *  - a request undone inside the batch loses its own writes only, and the
 *    batch's other requests commit;
 *  - the command walk is ordered, starts after `after`, stops at max and
 *    when its callback says so (that code is returned), and trim / clear
 *    delete exactly what they say;
 *  - an unknown placement is DN_ENOENT (not a row of zeros), a missing
 *    line has 0 units open, and reads report the units still open;
 *  - a resend gathers only lines with units open, with the order's (or
 *    the transfer's) key, customer, tier and promised-from time;
 *  - the seed takes the ledger's on-hand > 0, at most max, by sku, and
 *    the placement floor only ever rises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

typedef struct {
	char dir[64];
	char path[128];
	sqlite3 *db;
	store s;
} t_store;

static int t_setup(void **state)
{
	t_store *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/dn_store_stream_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/coordinator.db", t->dir);
	assert_int_equal(db_open(t->path, NULL, &t->db), 0);
	assert_int_equal(store_migrate(t->db), 0);
	assert_int_equal(store_init(&t->s, t->db), 0);
	assert_int_equal(db_exec(t->db,
	    "INSERT INTO hubs(id, name, lat, lon, radius_km) VALUES"
	    " ('london', 'London', 51.5, -0.12, 80), ('leeds', 'Leeds', 53.8, -1.5, 80);"
	    "INSERT INTO orders(id, storefront, order_key, customer, status, hub, lat, lon,"
	    " received_ms, tier) VALUES (7, 'shop', 'k7', 'alice', 1, 'london', 51.4, -0.2,"
	    " 1000, 'vip');"
	    "INSERT INTO placements(id, order_id, hub, state, placed_ms) VALUES"
	    " (41, 7, 'london', 'open', 1500), (42, 7, 'london', 'picked', 1600),"
	    " (43, 7, 'london', 'shipped', 1700), (44, 7, 'leeds', 'open', 1800);"
	    "INSERT INTO placements(id, order_id, hub, state, placed_ms, kind) VALUES"
	    " (45, 0, 'london', 'open', 2000, 'transfer');"
	    "INSERT INTO transfers(id, sku, from_hub, to_hub, qty, state, placement_id,"
	    " created_ms) VALUES ('t1', 'cap', 'london', 'leeds', 3, 'picking', 45, 2000);"
	    "INSERT INTO placement_lines(placement_id, sku, qty, shipped, shorted, gift)"
	    " VALUES (41, 'hoodie', 3, 1, 0, 0), (41, 'mug', 2, 1, 1, 0),"
	    " (41, 'sticker', 1, 0, 0, 1), (45, 'cap', 3, 0, 0, 0);"
	    "INSERT INTO stock(hub, sku, on_hand, allocated, holdback, received, shipped,"
	    " lost, adjusted) VALUES ('london', 'b', 5, 0, 0, 5, 0, 0, 0),"
	    " ('london', 'a', 2, 0, 0, 2, 0, 0, 0), ('london', 'c', 0, 0, 0, 0, 0, 0, 0),"
	    " ('london', 'd', 9, 0, 0, 9, 0, 0, 0), ('leeds', 'a', 4, 0, 0, 4, 0, 0, 0);"
	    "INSERT INTO commands(hub, seq, payload) VALUES ('london', 1, x'01'),"
	    " ('london', 2, x'0202'), ('london', 3, x'030303'), ('london', 4, x'04'),"
	    " ('leeds', 1, x'ff');"), 0);
	*state = t;
	return 0;
}

static int t_teardown(void **state)
{
	t_store *t = *state;
	char cmd[128];
	store_ops_fini(&t->s);   /* the heap part of store_init */
	db_close(t->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

/* One integer from the file (the test's own SQL). */
static int64_t t_int(t_store *t, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(t->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_request_undo_is_alone(void **state)
{
	t_store *t = *state;
	store *s = &t->s;
	store_stream_hub a = {"york", "York", "", 53.9, -1.1, 50};
	store_stream_hub b = {"bath", "Bath", "", 51.4, -2.4, 50};
	assert_int_equal(store_stream_batch_begin(s), 0);
	assert_int_equal(store_stream_request_open(s), 0);
	assert_int_equal(store_stream_hub_upsert(s, &a), 0);
	assert_int_equal(store_stream_hub_positions_set(s, "london", 2, 9), 0);
	assert_int_equal(store_stream_request_close(s), 0);
	assert_int_equal(store_stream_request_open(s), 0);
	assert_int_equal(store_stream_hub_upsert(s, &b), 0);
	assert_int_equal(store_stream_hub_positions_set(s, "leeds", 1, 5), 0);
	assert_int_equal(store_stream_request_undo(s), 0);
	assert_int_equal(store_stream_batch_commit(s), 0);
	assert_int_equal(t_int(t, "SELECT count(*) FROM hubs WHERE id='york'"), 1);
	assert_int_equal(t_int(t, "SELECT count(*) FROM hubs WHERE id='bath'"), 0);
	assert_int_equal(t_int(t, "SELECT event_applied FROM hubs WHERE id='london'"), 9);
	assert_int_equal(t_int(t, "SELECT cmd_acked FROM hubs WHERE id='london'"), 2);
	assert_int_equal(t_int(t, "SELECT event_applied FROM hubs WHERE id='leeds'"), 0);
	/* An upsert refreshes the row. */
	a.radius_km = 70;
	assert_int_equal(store_stream_hub_upsert(s, &a), 0);
	assert_int_equal(t_int(t, "SELECT radius_km FROM hubs WHERE id='york'"), 70);
	/* Outside any transaction there is no request to undo. */
	assert_int_equal(store_stream_request_undo(s), DN_EIO);
}

typedef struct {
	size_t n, stop_at;
	size_t len[8];
	uint8_t first[8];
} t_cmds;

static int t_cmd(void *arg, const uint8_t *payload, size_t len)
{
	t_cmds *l = arg;
	l->len[l->n] = len;
	l->first[l->n] = payload[0];
	l->n++;
	return l->n == l->stop_at ? DN_ERANGE : 0;
}

static void test_commands(void **state)
{
	t_store *t = *state;
	store *s = &t->s;
	t_cmds l = {0};
	assert_int_equal(store_stream_cmds_list(s, "london", 1, 2, t_cmd, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.first[0], 2);
	assert_int_equal(l.len[0], 2);
	assert_int_equal(l.first[1], 3);
	assert_int_equal(l.len[1], 3);
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	assert_int_equal(store_stream_cmds_list(s, "london", 0, 10, t_cmd, &l), DN_ERANGE);
	assert_int_equal(l.n, 1);
	/* The statement was reset: the next walk starts again. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_stream_cmds_trim(s, "london", 2), 0);
	assert_int_equal(store_stream_cmds_list(s, "london", 0, 10, t_cmd, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.first[0], 3);
	assert_int_equal(store_stream_cmds_clear(s, "london"), 0);
	assert_int_equal(t_int(t, "SELECT count(*) FROM commands WHERE hub='london'"), 0);
	assert_int_equal(t_int(t, "SELECT count(*) FROM commands WHERE hub='leeds'"), 1);
}

static void test_placements(void **state)
{
	t_store *t = *state;
	store *s = &t->s;
	store_stream_placement p;
	assert_int_equal(store_stream_placement_get(s, 99, &p), DN_ENOENT);
	assert_int_equal(store_stream_placement_get(s, 45, &p), 0);
	assert_true(p.transfer);
	assert_string_equal(p.hub, "london");
	assert_int_equal(store_stream_placement_get(s, 41, &p), 0);
	assert_false(p.transfer);
	assert_int_equal(p.order_id, 7);
	assert_string_equal(p.state, "open");
	int64_t open = -1;
	assert_int_equal(store_stream_pline_open(s, 41, "hoodie", &open), 0);
	assert_int_equal(open, 2);
	assert_int_equal(store_stream_pline_open(s, 41, "nothing", &open), 0);
	assert_int_equal(open, 0);
	store_stream_pline lines[4];
	size_t n = 0;
	assert_int_equal(store_stream_plines_get(s, 41, lines, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_stream_plines_get(s, 41, lines, 2, &n), 0);
	assert_int_equal(n, 2);
	/* Picked keeps a state past open; shorting the last units closes. */
	assert_int_equal(store_stream_placement_picked(s, 43, 5), 0);
	assert_int_equal(store_stream_placement_get(s, 43, &p), 0);
	assert_string_equal(p.state, "shipped");
	assert_int_equal(store_stream_placement_picked(s, 41, 5), 0);
	assert_int_equal(store_stream_placement_get(s, 41, &p), 0);
	assert_string_equal(p.state, "picked");
	assert_int_equal(store_stream_pline_ship(s, 41, "hoodie", 2), 0);
	assert_int_equal(store_stream_placement_close(s, 41), 0);
	assert_int_equal(store_stream_placement_get(s, 41, &p), 0);
	assert_string_equal(p.state, "picked");
	assert_int_equal(store_stream_pline_short(s, 41, "sticker", 1), 0);
	assert_int_equal(store_stream_placement_close(s, 41), 0);
	assert_int_equal(store_stream_placement_get(s, 41, &p), 0);
	assert_string_equal(p.state, "shorted");
	assert_int_equal(store_stream_placement_shipped(s, 42, 77, "TRK1"), 0);
	assert_int_equal(t_int(t, "SELECT shipped_ms FROM placements WHERE id=42"), 77);
	assert_int_equal(store_stream_placement_refused(s, 45), 0);
	assert_int_equal(store_stream_transfer_cancel(s, 45), 0);
	assert_int_equal(t_int(t, "SELECT state = 'cancelled' FROM transfers"), 1);
	store_stream_order o;
	assert_int_equal(store_stream_order_get(s, 7, &o), 0);
	assert_string_equal(o.key, "k7");
	assert_string_equal(o.customer, "alice");
	assert_true(o.lat == 51.4 && o.lon == -0.2);
	assert_int_equal(store_stream_order_get(s, 8, &o), DN_EIO);
}

typedef struct {
	int64_t ids[8];
	size_t n;
} t_ids;

static int t_id(void *arg, int64_t id)
{
	t_ids *l = arg;
	l->ids[l->n++] = id;
	return 0;
}

static void test_resend(void **state)
{
	t_store *t = *state;
	store *s = &t->s;
	t_ids l = {{0}, 0};
	assert_int_equal(store_stream_placements_live(s, "london", t_id, &l), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ids[0], 41);
	assert_int_equal(l.ids[1], 42);
	assert_int_equal(l.ids[2], 45);
	store_stream_resend r;
	assert_int_equal(store_stream_resend_get(s, 41, &r), 0);
	assert_false(r.transfer);
	assert_int_equal(r.n, 2); /* mug: nothing open */
	assert_string_equal(r.lines[0].sku, "hoodie");
	assert_int_equal(r.lines[0].open, 2);
	assert_false(r.lines[0].gift);
	assert_string_equal(r.lines[1].sku, "sticker");
	assert_true(r.lines[1].gift);
	assert_string_equal(r.key, "k7");
	assert_string_equal(r.customer, "alice");
	assert_string_equal(r.tier, "vip");
	assert_int_equal(r.since_ms, 1000);
	assert_int_equal(store_stream_resend_get(s, 45, &r), 0);
	assert_true(r.transfer);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.key, "t1");
	assert_string_equal(r.customer, "to:leeds");
	assert_int_equal(r.since_ms, 2000);
	assert_int_equal(store_stream_resend_get(s, 42, &r), 0);
	assert_int_equal(r.n, 0);
}

typedef struct {
	char sku[4][8];
	int64_t on_hand[4];
	size_t n;
} t_seed;

static int t_seed_row(void *arg, const char *sku, int64_t on_hand)
{
	t_seed *l = arg;
	snprintf(l->sku[l->n], sizeof(l->sku[0]), "%s", sku);
	l->on_hand[l->n++] = on_hand;
	return 0;
}

static void test_seed_and_floor(void **state)
{
	t_store *t = *state;
	store *s = &t->s;
	size_t seeded = 0;
	assert_int_equal(store_stream_seed_fill(s, "london", 2, &seeded), 0);
	assert_int_equal(seeded, 2);
	t_seed l = {{{0}}, {0}, 0};
	assert_int_equal(store_stream_seed_list(s, "london", 4, t_seed_row, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.sku[0], "a");
	assert_int_equal(l.on_hand[0], 2);
	assert_string_equal(l.sku[1], "b");
	assert_int_equal(store_stream_seed_clear(s, "london"), 0);
	assert_int_equal(store_stream_seed_fill(s, "london", 10, &seeded), 0);
	assert_int_equal(seeded, 3); /* c has none on hand */
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_stream_seed_list(s, "london", 1, t_seed_row, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(store_stream_placement_floor_raise(s, 500), 0);
	assert_int_equal(store_stream_placement_floor_raise(s, 300), 0);
	assert_int_equal(t_int(t, "SELECT value FROM meta WHERE key='placement_floor'"), 500);
	assert_int_equal(store_stream_hub_offered_set(s, "leeds", 6), 0);
	assert_int_equal(store_stream_hub_incarnation_set(s, "leeds", 0x55), 0);
	assert_int_equal(t_int(t, "SELECT cmd_offered FROM hubs WHERE id='leeds'"), 6);
	assert_int_equal(store_stream_hub_reset(s, "leeds", 0x77), 0);
	assert_int_equal(t_int(t, "SELECT incarnation + cmd_offered FROM hubs"
	    " WHERE id='leeds'"), 0x77);
}

int main(void)
{
	log_set_level((log_level)(LOG_ERROR + 1));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_request_undo_is_alone, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_commands, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_placements, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_resend, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_seed_and_floor, t_setup, t_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
