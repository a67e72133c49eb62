/*
 * store.c - schema and prepared statements (see store.h for the format).
 */
#include <stddef.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

const char store_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS hubs("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, lat REAL NOT NULL,"
    " lon REAL NOT NULL, radius_km REAL NOT NULL, term_url TEXT NOT NULL DEFAULT '',"
    " cmd_seq INTEGER NOT NULL DEFAULT 0, cmd_acked INTEGER NOT NULL DEFAULT 0,"
    " event_applied INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS stock("
    " hub TEXT NOT NULL, sku TEXT NOT NULL, on_hand INTEGER NOT NULL,"
    " allocated INTEGER NOT NULL, holdback INTEGER NOT NULL,"
    " received INTEGER NOT NULL, shipped INTEGER NOT NULL,"
    " lost INTEGER NOT NULL, adjusted INTEGER NOT NULL,"
    " returned INTEGER NOT NULL DEFAULT 0,"
    " transfer_in INTEGER NOT NULL DEFAULT 0, transfer_out INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(hub, sku)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS orders("
    " id INTEGER PRIMARY KEY, storefront TEXT NOT NULL, order_key TEXT NOT NULL,"
    " customer TEXT NOT NULL, status INTEGER NOT NULL, hub TEXT NOT NULL,"
    " lat REAL NOT NULL, lon REAL NOT NULL, received_ms INTEGER NOT NULL,"
    " ack BLOB, route BLOB, drop_id TEXT NOT NULL DEFAULT '',"
    " tier TEXT NOT NULL DEFAULT '', nearest_hub TEXT NOT NULL DEFAULT '',"
    " gift_sku TEXT NOT NULL DEFAULT '', hold_expires_ms INTEGER NOT NULL DEFAULT 0,"
    " units INTEGER NOT NULL DEFAULT 0, UNIQUE(storefront, order_key));"
    "CREATE INDEX IF NOT EXISTS orders_held ON orders(hold_expires_ms) WHERE status = 16;"
    "CREATE INDEX IF NOT EXISTS orders_drop ON orders(drop_id, status);"
    "CREATE TABLE IF NOT EXISTS order_lines("
    " order_id INTEGER NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL,"
    " backordered INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(order_id, sku)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS placements("
    " id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, hub TEXT NOT NULL,"
    " state TEXT NOT NULL, placed_ms INTEGER NOT NULL,"
    " picked_ms INTEGER NOT NULL DEFAULT 0, shipped_ms INTEGER NOT NULL DEFAULT 0,"
    " tracking TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'order');"
    "CREATE INDEX IF NOT EXISTS placements_order ON placements(order_id);"
    "CREATE TABLE IF NOT EXISTS placement_lines("
    " placement_id INTEGER NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL,"
    " shipped INTEGER NOT NULL DEFAULT 0, shorted INTEGER NOT NULL DEFAULT 0,"
    " gift INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(placement_id, sku)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS commands("
    " hub TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,"
    " PRIMARY KEY(hub, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS drops("
    " id TEXT PRIMARY KEY, state INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " spec BLOB NOT NULL, accepted INTEGER NOT NULL DEFAULT 0,"
    " gifts INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS drop_tiers("
    " drop_id TEXT NOT NULL, idx INTEGER NOT NULL, sold INTEGER NOT NULL DEFAULT 0,"
    " released INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(drop_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS drop_holdback("
    " drop_id TEXT NOT NULL, hub TEXT NOT NULL, sku TEXT NOT NULL,"
    " basis INTEGER NOT NULL, held INTEGER NOT NULL,"
    " PRIMARY KEY(drop_id, hub, sku)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS holdback_log("
    " id INTEGER PRIMARY KEY, drop_id TEXT NOT NULL, hub TEXT NOT NULL,"
    " sku TEXT NOT NULL, qty INTEGER NOT NULL, reason TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS buyer_counts("
    " drop_id TEXT NOT NULL, customer TEXT NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL, PRIMARY KEY(drop_id, customer, sku)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS transfers("
    " id TEXT PRIMARY KEY, sku TEXT NOT NULL, from_hub TEXT NOT NULL,"
    " to_hub TEXT NOT NULL, qty INTEGER NOT NULL, received INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL, placement_id INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " shipped_ms INTEGER NOT NULL DEFAULT 0, received_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS customers("
    " customer TEXT PRIMARY KEY, first_order_id INTEGER NOT NULL,"
    " first_drop TEXT NOT NULL, gifted INTEGER NOT NULL, orders INTEGER NOT NULL)"
    " WITHOUT ROWID;";

/* Numbered migrations (PRAGMA user_version). Version 1 is the schema as it
 * stood before versioning, in CREATE ... IF NOT EXISTS form, so a file made
 * by that code (version 0, every table present) passes through it unchanged
 * and a new file is created by it. Never edit a migration that has shipped:
 * add the next one. */
static const db_migration store_migrations[] = {
    {"base schema", store_schema_sql, NULL},
    {"incarnations: meta, hubs.incarnation, hubs.cmd_offered, hub_seed",
        /* The incarnation is SQLite's randomness, made once here: the
         * decision code only compares it. Odd, so never 0 (= unknown). */
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta(key, value) VALUES('incarnation', random() | 1);"
        "ALTER TABLE hubs ADD COLUMN incarnation INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE hubs ADD COLUMN cmd_offered INTEGER NOT NULL DEFAULT 0;"
        "UPDATE hubs SET cmd_offered = cmd_seq;"
        "CREATE TABLE hub_seed(hub TEXT NOT NULL, sku TEXT NOT NULL,"
        " on_hand INTEGER NOT NULL, PRIMARY KEY(hub, sku)) WITHOUT ROWID;",
        NULL},
    {"time: coord_clock (SEMANTICS.md \"Time\")",
        "CREATE TABLE coord_clock(id INTEGER PRIMARY KEY CHECK (id = 1),"
        " wall_ms INTEGER NOT NULL, elapsed_ms INTEGER NOT NULL);",
        NULL},
    {"indexes for demand reads: order_lines by sku, orders by received_ms",
        /* The spike tick, demand history and KPIs read one SKU's orders in
         * a time window; without these they scanned the whole journal.
         * Both keys grow with the journal (order ids, arrival times), so
         * an accepted order appends to them rather than splitting pages. */
        "CREATE INDEX order_lines_sku ON order_lines(sku, order_id);"
        "CREATE INDEX orders_received ON orders(received_ms);",
        NULL},
    {"prices: price_live, order prices, the quote secret (docs/prices.md)",
        /* The secret is SQLite's randomness, made once here, like the
         * incarnation: quote tokens made before a restart still verify. */
        "CREATE TABLE price_live(drop_id TEXT NOT NULL, sku TEXT NOT NULL,"
        " tier TEXT NOT NULL, price_minor INTEGER NOT NULL,"
        " starts_ms INTEGER NOT NULL, ends_ms INTEGER NOT NULL,"
        " PRIMARY KEY(drop_id, sku)) WITHOUT ROWID;"
        "ALTER TABLE order_lines ADD COLUMN unit_minor INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE order_lines ADD COLUMN price_rule TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE orders ADD COLUMN total_minor INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT '';"
        "CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
        "INSERT INTO secrets(name, value) VALUES('quote', randomblob(32));"
        "CREATE TABLE experiments(id TEXT PRIMARY KEY, drop_id TEXT NOT NULL,"
        " sku TEXT NOT NULL, state TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " stopped_ms INTEGER NOT NULL DEFAULT 0, spec BLOB NOT NULL);"
        "CREATE TABLE experiment_arms(experiment_id TEXT NOT NULL, idx INTEGER NOT NULL,"
        " exposures INTEGER NOT NULL DEFAULT 0, orders INTEGER NOT NULL DEFAULT 0,"
        " units INTEGER NOT NULL DEFAULT 0, revenue_minor INTEGER NOT NULL DEFAULT 0,"
        " revenue_sq REAL NOT NULL DEFAULT 0,"
        " PRIMARY KEY(experiment_id, idx)) WITHOUT ROWID;",
        NULL},
    {"identity: peer_counters (SEMANTICS.md \"Transport and identity\")",
        "CREATE TABLE peer_counters(peer TEXT PRIMARY KEY,"
        " counter INTEGER NOT NULL) WITHOUT ROWID;",
        NULL},
    {"order trace: orders.arrived_ms, commands.placement_id,"
     " placements.delivered_ms and queued_ms",
        /* Rows from before stay 0 (not known); commands already queued
         * carry no placement, so their delivery is not traced. */
        "ALTER TABLE orders ADD COLUMN arrived_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE commands ADD COLUMN placement_id INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE placements ADD COLUMN delivered_ms INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE placements ADD COLUMN queued_ms INTEGER NOT NULL DEFAULT 0;",
        NULL},
    {"activations: what the operator paid to sell a drop (docs/prices.md)",
        "CREATE TABLE activations(drop_id TEXT NOT NULL, name TEXT NOT NULL,"
        " kind TEXT NOT NULL, cost_minor INTEGER NOT NULL, from_ms INTEGER NOT NULL,"
        " to_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
        " PRIMARY KEY(drop_id, name)) WITHOUT ROWID;",
        NULL},
    {"identity: ops_replies, an operator write's first answer (SEMANTICS.md"
     " \"Transport and identity\")",
        "CREATE TABLE ops_replies(peer TEXT NOT NULL, counter INTEGER NOT NULL,"
        " reply BLOB NOT NULL, PRIMARY KEY(peer, counter)) WITHOUT ROWID;",
        NULL},
};

int store_migrate(sqlite3 *db)
{
	return db_migrate(db, "coordinator.db", store_migrations,
	    sizeof(store_migrations) / sizeof(store_migrations[0]));
}

int store_incarnation_get(sqlite3 *db, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rv = DN_EIO;
	*out = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'incarnation'", -1,
	    &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
		rv = *out != 0 ? 0 : DN_EIO;
	}
	sqlite3_finalize(st);
	if (rv != 0) {
		log_error("store.no_incarnation", "err=\"%s\"", sqlite3_errmsg(db));
	}
	return rv;
}

int store_meta_int_get(sqlite3 *db, const char *key, int64_t *out, bool *found)
{
	sqlite3_stmt *st = NULL;
	*out = 0;
	*found = false;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st,
	    NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(st, 0);
			*found = true;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store.meta_get_failed", "key=%s err=\"%s\"", key, sqlite3_errmsg(db));
		return DN_EIO;
	}
	return 0;
}

int store_meta_int_set(sqlite3 *db, const char *key, int64_t value)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
	    "INSERT INTO meta(key, value) VALUES(?1, ?2)"
	    " ON CONFLICT(key) DO UPDATE SET value = excluded.value", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, value);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("store.meta_set_failed", "key=%s err=\"%s\"", key, sqlite3_errmsg(db));
		return DN_EIO;
	}
	return 0;
}

int store_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)), sqlite3_sql(st));
		return DN_EIO;
	}
	return 0;
}

int store_init(store *s, sqlite3 *db)
{
	/* Each area prepares its own statements, once. */
	int rv = store_drops_init(s, db);
	if (rv == 0) {
		rv = store_stream_init(s, db);
	}
	if (rv == 0) {
		rv = coord_store_ingest_init(s, db);
	}
	if (rv == 0) {
		rv = store_prices_init(s, db);
	}
	if (rv == 0) {
		rv = store_auth_init(s, db);
	}
	if (rv == 0) {
		rv = store_activations_init(s, db);
	}
	return rv != 0 ? rv : store_ops_init(s, db);
}
