/*
 * test_store_version.c - schema versions and numbered migrations of both
 * stores (PRAGMA user_version; coordinator/machine/store.c,
 * hubd/machine/hub_store.c).
 *
 * Goals:
 *  - a file made by the code before versioning (user_version 0, tables and
 *    rows present, no meta) opens: it is brought to the current version,
 *    its rows and stream positions are kept, it gains an incarnation that
 *    stays the same on the next open;
 *  - the hub's oldest files (before claimed_by .. gift) still upgrade;
 *  - a file whose version is newer than the code knows is refused with
 *    DN_ERANGE, and left untouched;
 *  - a new file is created at the current version.
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
#include "io/log.h"
#include "coord.h"
#include "hub.h"

/* The versions this build writes: the coordinator's 4 = demand indexes,
 * 5 = prices, 6 = peer_counters (identity), 7 = order trace,
 * 8 = activations, 9 = ops_replies (an operator write's first answer);
 * the hub's 4 = orders_open, 5 = orders_free and orders_claimed, 6 =
 * orders_open and orders_claimed with their state test spelled as
 * equalities, 7 = orders_packed. */
#define COORD_VERSION 9
#define HUB_VERSION 7

/* coordinator.db as the code before versioning made it (store.c at
 * bdac461), with a registered hub, a ledger row and a queued command. */
static const char old_coord_sql[] =
    "CREATE TABLE hubs(id TEXT PRIMARY KEY, name TEXT NOT NULL, lat REAL NOT NULL,"
    " lon REAL NOT NULL, radius_km REAL NOT NULL, term_url TEXT NOT NULL DEFAULT '',"
    " cmd_seq INTEGER NOT NULL DEFAULT 0, cmd_acked INTEGER NOT NULL DEFAULT 0,"
    " event_applied INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE stock(hub TEXT NOT NULL, sku TEXT NOT NULL, on_hand INTEGER NOT NULL,"
    " allocated INTEGER NOT NULL, holdback INTEGER NOT NULL, received INTEGER NOT NULL,"
    " shipped INTEGER NOT NULL, lost INTEGER NOT NULL, adjusted INTEGER NOT NULL,"
    " returned INTEGER NOT NULL DEFAULT 0, transfer_in INTEGER NOT NULL DEFAULT 0,"
    " transfer_out INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(hub, sku)) WITHOUT ROWID;"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, storefront TEXT NOT NULL,"
    " order_key TEXT NOT NULL, customer TEXT NOT NULL, status INTEGER NOT NULL,"
    " hub TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,"
    " received_ms INTEGER NOT NULL, ack BLOB, route BLOB, drop_id TEXT NOT NULL DEFAULT '',"
    " tier TEXT NOT NULL DEFAULT '', nearest_hub TEXT NOT NULL DEFAULT '',"
    " gift_sku TEXT NOT NULL DEFAULT '', hold_expires_ms INTEGER NOT NULL DEFAULT 0,"
    " units INTEGER NOT NULL DEFAULT 0, UNIQUE(storefront, order_key));"
    "CREATE INDEX orders_held ON orders(hold_expires_ms) WHERE status = 16;"
    "CREATE INDEX orders_drop ON orders(drop_id, status);"
    "CREATE TABLE order_lines(order_id INTEGER NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL, backordered INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(order_id, sku)) WITHOUT ROWID;"
    "CREATE TABLE placements(id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL,"
    " hub TEXT NOT NULL, state TEXT NOT NULL, placed_ms INTEGER NOT NULL,"
    " picked_ms INTEGER NOT NULL DEFAULT 0, shipped_ms INTEGER NOT NULL DEFAULT 0,"
    " tracking TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'order');"
    "CREATE INDEX placements_order ON placements(order_id);"
    "CREATE TABLE placement_lines(placement_id INTEGER NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL, shipped INTEGER NOT NULL DEFAULT 0,"
    " shorted INTEGER NOT NULL DEFAULT 0, gift INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(placement_id, sku)) WITHOUT ROWID;"
    "CREATE TABLE commands(hub TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,"
    " PRIMARY KEY(hub, seq)) WITHOUT ROWID;"
    "CREATE TABLE drops(id TEXT PRIMARY KEY, state INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, spec BLOB NOT NULL, accepted INTEGER NOT NULL DEFAULT 0,"
    " gifts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE drop_tiers(drop_id TEXT NOT NULL, idx INTEGER NOT NULL,"
    " sold INTEGER NOT NULL DEFAULT 0, released INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(drop_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE drop_holdback(drop_id TEXT NOT NULL, hub TEXT NOT NULL,"
    " sku TEXT NOT NULL, basis INTEGER NOT NULL, held INTEGER NOT NULL,"
    " PRIMARY KEY(drop_id, hub, sku)) WITHOUT ROWID;"
    "CREATE TABLE holdback_log(id INTEGER PRIMARY KEY, drop_id TEXT NOT NULL,"
    " hub TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL, reason TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL);"
    "CREATE TABLE buyer_counts(drop_id TEXT NOT NULL, customer TEXT NOT NULL,"
    " sku TEXT NOT NULL, qty INTEGER NOT NULL,"
    " PRIMARY KEY(drop_id, customer, sku)) WITHOUT ROWID;"
    "CREATE TABLE transfers(id TEXT PRIMARY KEY, sku TEXT NOT NULL, from_hub TEXT NOT NULL,"
    " to_hub TEXT NOT NULL, qty INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL, placement_id INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " shipped_ms INTEGER NOT NULL DEFAULT 0, received_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE customers(customer TEXT PRIMARY KEY, first_order_id INTEGER NOT NULL,"
    " first_drop TEXT NOT NULL, gifted INTEGER NOT NULL, orders INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "INSERT INTO hubs VALUES('london', 'London', 51.5, -0.12, 80, '', 5, 3, 7);"
    "INSERT INTO stock VALUES('london', 'hoodie', 10, 2, 0, 10, 0, 0, 0, 0, 0, 0);"
    "INSERT INTO placements(id, order_id, hub, state, placed_ms)"
    " VALUES(41, 1, 'london', 'open', 1);"
    "INSERT INTO commands VALUES('london', 4, x'00'), ('london', 5, x'00');";

/* hub.db as its first release made it: before claimed_by, tier,
 * promised_ms, packed_ms and gift; with positions, an order and an
 * outbox row. */
static const char old_hub_sql[] =
    "CREATE TABLE stock(sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL);"
    "CREATE TABLE bins(bin TEXT NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL CHECK (qty >= 0), PRIMARY KEY (bin, sku));"
    "CREATE INDEX bins_sku ON bins(sku, qty);"
    "CREATE TABLE orders(order_id INTEGER PRIMARY KEY, order_key TEXT NOT NULL,"
    " customer TEXT NOT NULL, state TEXT NOT NULL, received_ms INTEGER NOT NULL,"
    " picked_ms INTEGER, shipped_ms INTEGER, tracking TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX orders_state ON orders(state, received_ms);"
    "CREATE TABLE order_lines(order_id INTEGER NOT NULL REFERENCES orders(order_id)"
    " ON DELETE CASCADE, line INTEGER NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL CHECK (qty > 0), picked INTEGER NOT NULL DEFAULT 0,"
    " shorted INTEGER NOT NULL DEFAULT 0,"
    " CHECK (picked >= 0 AND shorted >= 0 AND picked + shorted <= qty),"
    " PRIMARY KEY (order_id, line));"
    "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
    "CREATE TABLE stream(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " cmd_applied INTEGER NOT NULL, event_seq INTEGER NOT NULL,"
    " event_acked INTEGER NOT NULL);"
    "INSERT INTO stream VALUES (1, 4, 6, 5);"
    "INSERT INTO stock VALUES ('hoodie', 7);"
    "INSERT INTO bins VALUES ('MAIN', 'hoodie', 7);"
    "INSERT INTO orders(order_id, order_key, customer, state, received_ms)"
    " VALUES (41, 'o1', 'alice', 'queued', 1);"
    "INSERT INTO order_lines(order_id, line, sku, qty) VALUES (41, 0, 'hoodie', 2);"
    "INSERT INTO outbox VALUES (6, x'');";

typedef struct {
	char dir[64];
	char path[128];
} tmp;

static void tmp_up(tmp *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/dn_version_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
}

static void tmp_down(tmp *t)
{
	char p[160];
	unlink(t->path);
	snprintf(p, sizeof(p), "%s-wal", t->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->path);
	unlink(p);
	rmdir(t->dir);
}

/* Runs sql on path with a plain connection (the old code's file). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("sql: %s", msg);
	}
	sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void coord_cfg(coord *c)
{
	char err[256];
	memset(c, 0, sizeof(*c));
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &c->cfg, NULL,
	    NULL, 0, err, sizeof(err)), 0);
	coord_clock_set(c, 1000, 1700000000000LL);
}

static void test_coord_old_file_upgrades(void **state)
{
	(void)state;
	tmp t;
	tmp_up(&t, "coordinator.db");
	raw_exec(t.path, old_coord_sql);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), 0);

	coord c;
	coord_cfg(&c);
	assert_int_equal(coord_open(&c, t.path, NULL), 0);
	assert_true(c.incarnation != 0);
	uint64_t inc = c.incarnation;
	int h = coord_hub_find(&c, "london");
	assert_true(h >= 0);
	assert_int_equal(c.hubs[h].cmd_seq, 5);
	assert_int_equal(c.hubs[h].cmd_acked, 3);
	assert_int_equal(c.hubs[h].event_applied, 7);
	/* Every command the old file held may have been offered. */
	assert_int_equal(c.hubs[h].cmd_offered, 5);
	assert_int_equal(c.hubs[h].incarnation, 0);
	coord_stock *s = coord_stock_get(&c, h, "hoodie", false);
	assert_non_null(s);
	assert_int_equal(s->row.on_hand, 10);
	assert_int_equal(s->row.allocated, 2);
	coord_close(&c);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), COORD_VERSION);
	assert_int_equal(raw_int(t.path, "SELECT count(*) FROM commands"), 2);
	/* Version 5: the quote secret, 32 random bytes, made once. */
	assert_int_equal(raw_int(t.path, "SELECT length(value) FROM secrets WHERE name='quote'"),
	    32);

	/* The incarnation was made once. */
	coord_cfg(&c);
	assert_int_equal(coord_open(&c, t.path, NULL), 0);
	assert_true(c.incarnation == inc);
	coord_close(&c);
	tmp_down(&t);
}

static void test_coord_new_file(void **state)
{
	(void)state;
	tmp t;
	tmp_up(&t, "coordinator.db");
	coord c;
	coord_cfg(&c);
	assert_int_equal(coord_open(&c, t.path, NULL), 0);
	assert_true(c.incarnation != 0);
	coord_close(&c);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), COORD_VERSION);
	/* Version 9: operators' first answers. */
	assert_int_equal(raw_int(t.path, "SELECT count(*) FROM ops_replies"), 0);
	/* Version 4: the demand reads' indexes. */
	assert_int_equal(raw_int(t.path, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
	    " AND name IN ('order_lines_sku', 'orders_received')"), 2);
	tmp_down(&t);
}

static void test_coord_newer_file_refused(void **state)
{
	(void)state;
	tmp t;
	tmp_up(&t, "coordinator.db");
	raw_exec(t.path, old_coord_sql);
	raw_exec(t.path, "PRAGMA user_version = 99");
	coord c;
	coord_cfg(&c);
	assert_int_equal(coord_open(&c, t.path, NULL), DN_ERANGE);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), 99);
	assert_int_equal(raw_int(t.path,
	    "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"), 0);
	tmp_down(&t);
}

static void test_hub_old_file_upgrades(void **state)
{
	(void)state;
	tmp t;
	tmp_up(&t, "hub.db");
	raw_exec(t.path, old_hub_sql);

	hub_store *s = NULL;
	assert_int_equal(hub_store_open(&s, t.path), 0);
	hub_stream sp;
	assert_int_equal(hub_store_stream_get(s, &sp), 0);
	assert_int_equal(sp.cmd_applied, 4);
	assert_int_equal(sp.event_seq, 6);
	assert_int_equal(sp.event_acked, 5);
	hub_meta meta;
	assert_int_equal(hub_store_meta_get(s, &meta), 0);
	assert_true(meta.incarnation != 0);
	assert_int_equal(meta.coordinator, 0);
	uint64_t inc = meta.incarnation;
	/* The columns added since the first release are there. */
	pick_order o;
	assert_int_equal(hub_store_order_load(s, 41, &o), 0);
	assert_false(o.resent); /* version 3: an order from before was not re-sent */
	int64_t on_hand = 0;
	assert_int_equal(hub_store_stock_get(s, "hoodie", &on_hand), 0);
	assert_int_equal(on_hand, 7);
	hub_store_close(s);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), HUB_VERSION);
	/* Version 6: both open-order indexes are there, their predicate
	 * without an IN list (the upgraded file as a new one). */
	assert_int_equal(raw_int(t.path, "SELECT count(*) FROM sqlite_master"
	    " WHERE name IN ('orders_open', 'orders_claimed')"
	    " AND sql LIKE '%state = ''packed''%' AND sql NOT LIKE '% IN (%'"), 2);

	assert_int_equal(hub_store_open(&s, t.path), 0);
	assert_int_equal(hub_store_meta_get(s, &meta), 0);
	assert_true(meta.incarnation == inc);
	hub_store_close(s);
	tmp_down(&t);
}

static void test_hub_new_and_newer(void **state)
{
	(void)state;
	tmp t;
	tmp_up(&t, "hub.db");
	hub_store *s = NULL;
	assert_int_equal(hub_store_open(&s, t.path), 0);
	hub_store_close(s);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), HUB_VERSION);
	raw_exec(t.path, "PRAGMA user_version = 99");
	assert_int_equal(hub_store_open(&s, t.path), DN_ERANGE);
	assert_null(s);
	assert_int_equal(raw_int(t.path, "PRAGMA user_version"), 99);
	tmp_down(&t);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_coord_old_file_upgrades),
	    cmocka_unit_test(test_coord_new_file),
	    cmocka_unit_test(test_coord_newer_file_refused),
	    cmocka_unit_test(test_hub_old_file_upgrades),
	    cmocka_unit_test(test_hub_new_and_newer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
