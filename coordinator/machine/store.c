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
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} t[] = {
	    {&s->order_find, "SELECT id, ack FROM orders WHERE storefront=?1 AND order_key=?2"},
	    {&s->order_insert, "INSERT INTO orders(storefront, order_key, customer, status,"
	        " hub, lat, lon, received_ms, ack, route, drop_id, tier, nearest_hub, gift_sku,"
	        " hold_expires_ms, units)"
	        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"},
	    {&s->line_insert, "INSERT INTO order_lines(order_id, sku, qty) VALUES(?1,?2,?3)"},
	    {&s->placement_insert, "INSERT INTO placements(id, order_id, hub, state, placed_ms)"
	        " VALUES(" STORE_PLACEMENT_NEXT_ID ",?1,?2,?4,?3)"},
	    {&s->pline_insert, "INSERT INTO placement_lines(placement_id, sku, qty, gift)"
	        " VALUES(?1,?2,?3,?4)"},
	    {&s->cmd_insert, "INSERT INTO commands(hub, seq, payload) VALUES(?1,?2,?3)"},
	    {&s->hub_cmd_seq, "UPDATE hubs SET cmd_seq=?2 WHERE id=?1"},
	    {&s->stock_upsert, "INSERT INTO stock(hub, sku, on_hand, allocated, holdback,"
	        " received, shipped, lost, adjusted, returned, transfer_in, transfer_out)"
	        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
	        " ON CONFLICT(hub, sku) DO UPDATE SET on_hand=?3, allocated=?4,"
	        " holdback=?5, received=?6, shipped=?7, lost=?8, adjusted=?9, returned=?10,"
	        " transfer_in=?11, transfer_out=?12"},
	    {&s->hub_upsert, "INSERT INTO hubs(id, name, lat, lon, radius_km, term_url)"
	        " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET name=?2,"
	        " lat=?3, lon=?4, radius_km=?5, term_url=?6"},
	    {&s->hub_stream, "UPDATE hubs SET cmd_acked=?2, event_applied=?3 WHERE id=?1"},
	    {&s->cmd_select, "SELECT payload FROM commands WHERE hub=?1 AND seq>?2"
	        " ORDER BY seq LIMIT ?3"},
	    {&s->cmd_delete_acked, "DELETE FROM commands WHERE hub=?1 AND seq<=?2"},
	    {&s->placement_get, "SELECT order_id, hub, state, kind FROM placements WHERE id=?1"},
	    {&s->placement_picked, "UPDATE placements SET picked_ms=?2,"
	        " state=CASE state WHEN 'open' THEN 'picked' ELSE state END WHERE id=?1"},
	    {&s->placement_shipped, "UPDATE placements SET shipped_ms=?2, state='shipped',"
	        " tracking=?3 WHERE id=?1"},
	    {&s->pline_get, "SELECT qty, shipped, shorted FROM placement_lines"
	        " WHERE placement_id=?1 AND sku=?2"},
	    {&s->pline_ship, "UPDATE placement_lines SET shipped=shipped+?3"
	        " WHERE placement_id=?1 AND sku=?2"},
	    {&s->pline_short, "UPDATE placement_lines SET shorted=shorted+?3"
	        " WHERE placement_id=?1 AND sku=?2"},
	    {&s->order_get, "SELECT order_key, customer, lat, lon FROM orders WHERE id=?1"},
	    {&s->order_set_status, "UPDATE orders SET status=?2, ack=?3 WHERE id=?1"},
	    {&s->buyer_get, "SELECT qty FROM buyer_counts WHERE drop_id=?1 AND customer=?2 AND sku=?3"},
	    {&s->buyer_add, "INSERT INTO buyer_counts(drop_id, customer, sku, qty) VALUES(?1,?2,?3,?4)"
	        " ON CONFLICT(drop_id, customer, sku) DO UPDATE SET qty=qty+?4"},
	    {&s->tier_sold, "UPDATE drop_tiers SET sold=sold+?3 WHERE drop_id=?1 AND idx=?2"},
	    {&s->drop_counts, "UPDATE drops SET accepted=accepted+?2, gifts=gifts+?3 WHERE id=?1"},
	    {&s->customer_get, "SELECT orders FROM customers WHERE customer=?1"},
	    {&s->customer_add, "INSERT INTO customers(customer, first_order_id, first_drop, gifted,"
	        " orders) VALUES(?1,?2,?3,?4,1) ON CONFLICT(customer) DO UPDATE SET orders=orders+1"},
	    {&s->hold_log, "INSERT INTO holdback_log(drop_id, hub, sku, qty, reason, time_ms)"
	        " VALUES(?1,?2,?3,?4,?5,?6)"},
	    {&s->placement_state, "UPDATE placements SET state=?2 WHERE id=?1"},
	    {&s->line_backorder, "UPDATE order_lines SET backordered=backordered+?3"
	        " WHERE order_id=?1 AND sku=?2"},
	    {&s->placement_close, "UPDATE placements SET state='shorted' WHERE id=?1"
	        " AND NOT EXISTS (SELECT 1 FROM placement_lines WHERE placement_id=?1"
	        " AND qty > shipped + shorted) AND state <> 'shipped'"},
	    {&s->hub_offered, "UPDATE hubs SET cmd_offered=?2 WHERE id=?1"},
	    {&s->hub_incarnation, "UPDATE hubs SET incarnation=?2 WHERE id=?1"},
	    {&s->hub_reset, "UPDATE hubs SET incarnation=?2, cmd_seq=0, cmd_acked=0,"
	        " cmd_offered=0, event_applied=0 WHERE id=?1"},
	    {&s->cmd_delete_hub, "DELETE FROM commands WHERE hub=?1"},
	    {&s->seed_delete, "DELETE FROM hub_seed WHERE hub=?1"},
	    {&s->seed_fill, "INSERT INTO hub_seed(hub, sku, on_hand) SELECT hub, sku, on_hand"
	        " FROM stock WHERE hub=?1 AND on_hand > 0 ORDER BY sku LIMIT ?2"},
	    {&s->seed_select, "SELECT sku, on_hand FROM hub_seed WHERE hub=?1 ORDER BY sku"
	        " LIMIT ?2"},
	    {&s->placements_live, "SELECT id FROM placements WHERE hub=?1"
	        " AND state IN ('open', 'picked') ORDER BY id"},
	    {&s->resend_lines, "SELECT l.sku, l.qty - l.shipped - l.shorted, l.gift,"
	        " p.kind, p.placed_ms, COALESCE(o.order_key, t.id, ''),"
	        " COALESCE(o.customer, 'to:' || t.to_hub, ''), COALESCE(o.tier, ''),"
	        " COALESCE(o.received_ms, p.placed_ms)"
	        " FROM placements p JOIN placement_lines l ON l.placement_id = p.id"
	        " LEFT JOIN orders o ON o.id = p.order_id AND p.kind = 'order'"
	        " LEFT JOIN transfers t ON t.placement_id = p.id AND p.kind = 'transfer'"
	        " WHERE p.id = ?1 AND l.qty - l.shipped - l.shorted > 0 ORDER BY l.sku"},
	    {&s->placement_floor, "INSERT INTO meta(key, value) VALUES('placement_floor', ?1)"
	        " ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (db_prepare(db, t[i].sql, t[i].st) != 0) {
			return DN_EIO;
		}
	}
	int rv = store_drops_init(s, db);
	if (rv == 0) {
		rv = store_stream_init(s, db);
	}
	if (rv == 0) {
		rv = coord_store_ingest_init(s, db);
	}
	return rv != 0 ? rv : store_ops_init(s, db);
}
