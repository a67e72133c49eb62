/*
 * hub_store.c - SQL behind hub_store.h. The schema below is the disk format
 * of DATA_DIR/hub.db:
 *
 *   stock(sku, on_hand)                 physical units per sku
 *   bins(bin, sku, qty)                 where they sit; qty >= 0
 *   orders(order_id, order_key, customer, state, received_ms, picked_ms,
 *          shipped_ms, tracking,        order_id = the coordinator's
 *          claimed_by, tier,            placement id; state as core/pick.h;
 *          promised_ms, packed_ms,      claimed_by "" when free;
 *          resent)                      resent 1: sent again after this
 *                                       hub's store was lost
 *   order_lines(order_id, line, sku, qty, picked, shorted, gift)
 *   outbox(seq, payload)                codec_hub_event_pack bytes
 *   stream(id = 1, cmd_applied, event_seq, event_acked)
 *   quarantine(sku, qty)                returned units not for sale
 *   term_keys(key, status, message, at_ms)  first answer per request_key,
 *                                       kept HUB_TERM_KEY_KEEP_MS; at_ms
 *                                       is on the key clock (hub_term.c),
 *                                       not the wall clock
 *   meta(key, value)                    'incarnation': random id made once
 *                                       with the file; 'coordinator': the
 *                                       coordinator incarnation this book
 *                                       follows (0: none yet)
 *
 * Versions (PRAGMA user_version, numbered migrations below): 1 = the schema
 * before versioning, with the columns added after the first release
 * (claimed_by ... gift) added to an older file; 2 = meta; 3 =
 * orders.resent; 4 = index orders_open (the unshipped orders by age);
 * 5 = indexes orders_free (free open orders in pick priority) and
 * orders_claimed (each operator's unfinished orders), what a claim
 * reads; 6 = orders_open and orders_claimed again, their state test
 * spelled OPEN_STATE_SQL (same rows); 7 = index orders_packed (the
 * orders by packed_ms, for packed_today). Nothing else is ever dropped; a
 * file from newer code is refused.
 *
 * The outbox keeps DN_OUTBOX_KEEP events below event_acked, so a
 * coordinator restored from an older copy can be given them again.
 *
 * Every statement is prepared once (db_prepare) and reset after use.
 *
 * What every sync reads (the stream positions, the highest order id, the
 * stock list) is kept as last read, with the connection's count of rows
 * written then (sqlite3_total_changes64): only this connection writes
 * hub.db, every write to those tables is a row INSERT, UPDATE or DELETE of
 * its own (no trigger, no REPLACE, no foreign key action touches them),
 * and the count never goes back (a rollback leaves it), so while it is
 * unchanged the copy is what the file says. An idle hub's sync then reads
 * nothing (its read transaction begins only when a read must go to the
 * file).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/db.h"
#include "io/log.h"
#include "hub_store.h"

/* pick_tier_rank and pick_due_ms (core/pick.c) in SQL, the keys of the
 * orders_free index (migration 5): a query orders by these very
 * expressions to read the index in order. The index is on disk, so a new
 * rank or default promise needs a new index in a new migration. */
#define TIER_RANK_SQL "CASE tier WHEN 'insider' THEN 0 WHEN 'restock' THEN 2" \
    " ELSE 1 END"
/* An open order (queued, picking, picked or packed): the predicate of
 * the orders_open and orders_claimed indexes (migration 6) and of the
 * queries that read them, which must say it in these very words for
 * SQLite to use them.
 * Spelled as equalities: SQLite evaluates an IN list of three or more
 * constants by building a temporary b-tree of the list on every run of
 * the statement, and an index's predicate runs on every write of an
 * order (dropsim, version 5: those b-trees were ~4% of a seed's CPU). */
#define OPEN_STATE_SQL "(state = 'queued' OR state = 'picking'" \
    " OR state = 'picked' OR state = 'packed')"

#define DUE_SQL "CASE WHEN promised_ms > 0 THEN promised_ms" \
    " ELSE received_ms + 86400000 END"
_Static_assert(PICK_PROMISE_DEFAULT_MS == 86400000,
    "DUE_SQL and the orders_free index (hub store migration 5) add 86400000");

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS stock("
    " sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS bins("
    " bin TEXT NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL CHECK (qty >= 0), PRIMARY KEY (bin, sku));"
    "CREATE INDEX IF NOT EXISTS bins_sku ON bins(sku, qty);"
    "CREATE TABLE IF NOT EXISTS orders("
    " order_id INTEGER PRIMARY KEY, order_key TEXT NOT NULL,"
    " customer TEXT NOT NULL, state TEXT NOT NULL,"
    " received_ms INTEGER NOT NULL, picked_ms INTEGER, shipped_ms INTEGER,"
    " tracking TEXT NOT NULL DEFAULT '', claimed_by TEXT NOT NULL DEFAULT '',"
    " tier TEXT NOT NULL DEFAULT '', promised_ms INTEGER NOT NULL DEFAULT 0,"
    " packed_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS orders_state ON orders(state, received_ms);"
    "CREATE TABLE IF NOT EXISTS order_lines("
    " order_id INTEGER NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,"
    " line INTEGER NOT NULL, sku TEXT NOT NULL,"
    " qty INTEGER NOT NULL CHECK (qty > 0),"
    " picked INTEGER NOT NULL DEFAULT 0, shorted INTEGER NOT NULL DEFAULT 0,"
    " gift INTEGER NOT NULL DEFAULT 0,"
    " CHECK (picked >= 0 AND shorted >= 0 AND picked + shorted <= qty),"
    " PRIMARY KEY (order_id, line));"
    "CREATE TABLE IF NOT EXISTS outbox("
    " seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS stream("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " cmd_applied INTEGER NOT NULL, event_seq INTEGER NOT NULL,"
    " event_acked INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO stream VALUES (1, 0, 0, 0);"
    "CREATE TABLE IF NOT EXISTS quarantine("
    " sku TEXT PRIMARY KEY, qty INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS term_keys("
    " key TEXT PRIMARY KEY, status INTEGER NOT NULL, message TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS term_keys_at ON term_keys(at_ms);";

/* Columns newer than the first schema: (table, column, declaration). A
 * fresh file gets them from CREATE TABLE above; an older one here. */
static const char *const migrations[][3] = {
	{ "orders", "claimed_by", "TEXT NOT NULL DEFAULT ''" },
	{ "orders", "tier", "TEXT NOT NULL DEFAULT ''" },
	{ "orders", "promised_ms", "INTEGER NOT NULL DEFAULT 0" },
	{ "orders", "packed_ms", "INTEGER" },
	{ "order_lines", "gift", "INTEGER NOT NULL DEFAULT 0" },
};

/* Adds the columns an older hub.db lacks (version 1 on a file made before
 * versioning). A column exists when a SELECT naming it prepares. */
static int store_migrate_columns(sqlite3 *db);

static const db_migration store_migrations[] = {
	{ "base schema", schema_sql, store_migrate_columns },
	/* The incarnation is SQLite's randomness, made once here; odd, so
	 * never 0 (= unknown). */
	{ "meta: incarnation, coordinator",
	    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
	    " WITHOUT ROWID;"
	    "INSERT INTO meta(key, value) VALUES ('incarnation', random() | 1),"
	    " ('coordinator', 0);", NULL },
	/* A command re-sent after the hub's store was lost (SEMANTICS.md
	 * "Incarnations and resync"): the lost store may have shipped it. */
	{ "orders.resent",
	    "ALTER TABLE orders ADD COLUMN resent INTEGER NOT NULL DEFAULT 0;", NULL },
	/* The unshipped orders, oldest first, without the shipped history:
	 * the queue listing (ST_QUEUE), in index order, no sort. */
	{ "orders_open index",
	    "CREATE INDEX orders_open ON orders(received_ms, order_id)"
	    " WHERE state IN ('queued', 'picking', 'picked', 'packed');", NULL },
	/* What a claim reads (hub_store_claim_candidates) without a scan:
	 * the free open orders in pick priority (pick_priority_cmp: tier
	 * rank, due, received, id), so a claim reads the first few; and
	 * each operator's unfinished claims. */
	{ "orders_free and orders_claimed indexes",
	    "CREATE INDEX orders_free ON orders(" TIER_RANK_SQL ", " DUE_SQL ","
	    " received_ms, order_id)"
	    " WHERE state IN ('queued', 'picking') AND claimed_by = '';"
	    "CREATE INDEX orders_claimed ON orders(claimed_by)"
	    " WHERE claimed_by <> ''"
	    " AND state IN ('queued', 'picking', 'picked', 'packed');", NULL },
	/* The same two indexes, their predicate spelled OPEN_STATE_SQL
	 * (the same rows) so a write of an order builds no temporary
	 * b-tree to test it. */
	{ "orders_open and orders_claimed: predicate without IN",
	    "DROP INDEX orders_open;"
	    "CREATE INDEX orders_open ON orders(received_ms, order_id)"
	    " WHERE " OPEN_STATE_SQL ";"
	    "DROP INDEX orders_claimed;"
	    "CREATE INDEX orders_claimed ON orders(claimed_by)"
	    " WHERE claimed_by <> '' AND " OPEN_STATE_SQL ";", NULL },
	/* The orders packed since a time (the status bar's packed_today),
	 * without a scan of every order the hub ever shipped. */
	{ "orders_packed index",
	    "CREATE INDEX orders_packed ON orders(packed_ms)"
	    " WHERE packed_ms IS NOT NULL;", NULL },
};

enum {
	ST_STREAM_GET,
	ST_CMD_APPLIED_SET,
	ST_EVENT_ACKED_SET,
	ST_OUTBOX_TRIM,
	ST_EVENT_SEQ_NEXT,
	ST_OUTBOX_INSERT,
	ST_OUTBOX_LIST,
	ST_STOCK_ADD,
	ST_BIN_ADD,
	ST_STOCK_SUB,
	ST_BINS_OF_SKU,
	ST_BIN_SUB,
	ST_STOCK_LIST,
	ST_STOCK_GET,
	ST_STOCK_COUNT,
	ST_BIN_BEST,
	ST_ORDER_GET,
	ST_LINES_GET,
	ST_ORDER_STATE_SET,
	ST_LINE_SET,
	ST_ORDER_SHIP,
	ST_ORDER_INSERT,
	ST_LINE_INSERT,
	ST_ORDER_DELETE,
	ST_QUEUE,
	ST_CLAIM_OWN,
	ST_CLAIM_FREE,
	ST_ORDER_COUNT,
	ST_CLAIM_SET,
	ST_COUNTS,
	ST_BIN_QTY,
	ST_SKU_IN_TOTES,
	ST_BIN_LIST,
	ST_QUARANTINE_ADD,
	ST_KEY_GET,
	ST_KEY_PUT,
	ST_KEY_TRIM,
	ST_BIN_SET,
	ST_KEY_LATEST,
	ST_META_GET,
	ST_COORDINATOR_SET,
	ST_ORDER_ID_MAX,
	ST_OUTBOX_FIRST,
	ST_STREAM_REWIND,
	ST_ORDER_KEY,
	ST_ORDER_SHIP_ALREADY,
	ST_READ_BEGIN,
	ST_READ_END,
	ST_SYNC_HEAD,
	ST_SYNC_POS,
	ST_COUNT_
};

/* A candidate's lines: how many, and all their units. */
#define LINES_SQL "(SELECT count(*) FROM order_lines l" \
    " WHERE l.order_id = orders.order_id)," \
    " (SELECT coalesce(sum(l.qty), 0) FROM order_lines l" \
    " WHERE l.order_id = orders.order_id)"

static const char *const stmt_sql[ST_COUNT_] = {
	[ST_STREAM_GET] = "SELECT cmd_applied, event_seq, event_acked FROM stream"
	    " WHERE id = 1",
	[ST_CMD_APPLIED_SET] = "UPDATE stream SET cmd_applied = ?1 WHERE id = 1",
	[ST_EVENT_ACKED_SET] = "UPDATE stream SET event_acked = ?1 WHERE id = 1",
	[ST_OUTBOX_TRIM] = "DELETE FROM outbox WHERE seq <= ?1 - ?2",
	/* No RETURNING here and in ST_STOCK_SUB: SQLite collects a
	 * RETURNING row in a temporary b-tree it opens and frees on every
	 * run; a second statement reads the row for less. */
	[ST_EVENT_SEQ_NEXT] = "UPDATE stream SET event_seq = event_seq + 1"
	    " WHERE id = 1",
	[ST_OUTBOX_INSERT] = "INSERT INTO outbox(seq, payload) VALUES (?1, ?2)",
	[ST_OUTBOX_LIST] = "SELECT seq, payload FROM outbox WHERE seq > ?1"
	    " ORDER BY seq LIMIT ?2",
	[ST_STOCK_ADD] = "INSERT INTO stock(sku, on_hand) VALUES (?1, ?2)"
	    " ON CONFLICT(sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
	[ST_BIN_ADD] = "INSERT INTO bins(bin, sku, qty) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT(bin, sku) DO UPDATE SET qty = qty + excluded.qty",
	/* Units shipped beyond the book were in the building after all:
	 * found, so the book stops at 0 (the coordinator's rule too,
	 * SEMANTICS.md "hubsync": both books stay equal). */
	[ST_STOCK_SUB] = "INSERT INTO stock(sku, on_hand) VALUES (?1, 0)"
	    " ON CONFLICT(sku) DO UPDATE SET on_hand = max(on_hand - ?2, 0)",
	[ST_BINS_OF_SKU] = "SELECT bin, qty FROM bins WHERE sku = ?1 AND qty > 0"
	    " ORDER BY qty DESC, bin",
	[ST_BIN_SUB] = "UPDATE bins SET qty = qty - ?3 WHERE bin = ?1 AND sku = ?2",
	[ST_STOCK_LIST] = "SELECT sku, on_hand FROM stock ORDER BY sku LIMIT ?1",
	[ST_STOCK_GET] = "SELECT on_hand FROM stock WHERE sku = ?1",
	[ST_STOCK_COUNT] = "SELECT count(*) FROM stock",
	[ST_BIN_BEST] = "SELECT bin FROM bins WHERE sku = ?1 AND qty > 0"
	    " ORDER BY qty DESC, bin LIMIT 1",
	[ST_ORDER_GET] = "SELECT state, order_key, customer, received_ms,"
	    " claimed_by, tier, promised_ms, resent FROM orders WHERE order_id = ?1",
	[ST_LINES_GET] = "SELECT sku, qty, picked, shorted, gift FROM order_lines"
	    " WHERE order_id = ?1 ORDER BY line",
	/* The same state again changes nothing but the stamps of picked,
	 * shorted and packed: otherwise the row and its four indexes on
	 * state are left alone. */
	[ST_ORDER_STATE_SET] = "UPDATE orders SET state = ?2,"
	    " picked_ms = CASE WHEN ?2 IN ('picked', 'shorted')"
	    " THEN ?3 ELSE picked_ms END,"
	    " packed_ms = CASE WHEN ?2 = 'packed' THEN ?3 ELSE packed_ms END"
	    " WHERE order_id = ?1"
	    " AND (state <> ?2 OR ?2 = 'picked' OR ?2 = 'shorted'"
	    " OR ?2 = 'packed')",
	/* A save rewrites only the lines that changed (a pick changes one):
	 * an UPDATE that matches no row writes nothing. */
	[ST_LINE_SET] = "UPDATE order_lines SET picked = ?3, shorted = ?4"
	    " WHERE order_id = ?1 AND line = ?2"
	    " AND (picked <> ?3 OR shorted <> ?4)",
	[ST_ORDER_SHIP] = "UPDATE orders SET state = 'shipped', tracking = ?2,"
	    " shipped_ms = ?3, packed_ms = coalesce(packed_ms, ?3)"
	    " WHERE order_id = ?1 AND state IN ('picked', 'packed')",
	[ST_ORDER_INSERT] = "INSERT INTO orders(order_id, order_key, customer,"
	    " state, received_ms, tier, promised_ms, resent)"
	    " VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7)"
	    " ON CONFLICT(order_id) DO NOTHING",
	[ST_LINE_INSERT] = "INSERT INTO order_lines(order_id, line, sku, qty,"
	    " gift) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_ORDER_DELETE] = "DELETE FROM orders WHERE order_id = ?1",
	[ST_QUEUE] = "SELECT order_id FROM orders INDEXED BY orders_open"
	    " WHERE " OPEN_STATE_SQL
	    " ORDER BY received_ms, order_id LIMIT ?1",
	/* A claim's candidates (hub_store_claim_candidates), summarised:
	 * id, state, claim, tier, times, lines, units. First the unfinished
	 * orders claimed by ?2 (at most ?1), then the free open ones in
	 * pick priority, each statement read through its own index. */
	[ST_CLAIM_OWN] = "SELECT order_id, state, claimed_by, tier, received_ms,"
	    " promised_ms, " LINES_SQL " FROM orders INDEXED BY orders_claimed"
	    " WHERE claimed_by = ?2 AND claimed_by <> ''"
	    " AND " OPEN_STATE_SQL " LIMIT ?1",
	[ST_CLAIM_FREE] = "SELECT order_id, state, claimed_by, tier, received_ms,"
	    " promised_ms, " LINES_SQL " FROM orders INDEXED BY orders_free"
	    " WHERE state IN ('queued', 'picking') AND claimed_by = ''"
	    " ORDER BY " TIER_RANK_SQL ", " DUE_SQL ", received_ms, order_id"
	    " LIMIT ?1",
	[ST_ORDER_COUNT] = "SELECT count(*) FROM orders WHERE state = ?1",
	[ST_CLAIM_SET] = "UPDATE orders SET claimed_by = ?2 WHERE order_id = ?1",
	/* Read through the open orders (orders_open) and today's packed
	 * ones (orders_packed): a scan of the whole table, every order the
	 * hub ever shipped, ran on every terminal's status poll (500 ms
	 * each) and grew with the hub's history. */
	[ST_COUNTS] = "SELECT"
	    " sum(state = 'queued' AND claimed_by = ''),"
	    " sum(state IN ('picking', 'picked')"
	    "     OR (state = 'queued' AND claimed_by <> '')),"
	    " sum(state = 'packed'),"
	    " (SELECT count(*) FROM orders INDEXED BY orders_packed"
	    "  WHERE packed_ms IS NOT NULL AND packed_ms >= ?1"
	    "  AND (state = 'packed' OR state = 'shipped'))"
	    " FROM orders INDEXED BY orders_open WHERE " OPEN_STATE_SQL,
	[ST_BIN_QTY] = "SELECT qty FROM bins WHERE bin = ?1 AND sku = ?2",
	/* Through the open orders (orders_open), then each one's lines:
	 * not a scan of every line the hub ever held. */
	[ST_SKU_IN_TOTES] = "SELECT COALESCE(SUM(l.picked), 0)"
	    " FROM orders o INDEXED BY orders_open"
	    " JOIN order_lines l ON l.order_id = o.order_id"
	    " WHERE " OPEN_STATE_SQL " AND o.state <> 'queued' AND l.sku = ?1",
	[ST_BIN_LIST] = "SELECT sku, qty FROM bins WHERE bin = ?1 AND qty > 0"
	    " ORDER BY sku LIMIT ?2",
	[ST_QUARANTINE_ADD] = "INSERT INTO quarantine(sku, qty) VALUES (?1, ?2)"
	    " ON CONFLICT(sku) DO UPDATE SET qty = qty + excluded.qty",
	[ST_KEY_GET] = "SELECT status, message FROM term_keys WHERE key = ?1",
	[ST_KEY_PUT] = "INSERT OR IGNORE INTO term_keys(key, status, message,"
	    " at_ms) VALUES (?1, ?2, ?3, ?4)",
	[ST_KEY_TRIM] = "DELETE FROM term_keys WHERE at_ms < ?1",
	[ST_BIN_SET] = "INSERT INTO bins(bin, sku, qty) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT(bin, sku) DO UPDATE SET qty = excluded.qty",
	[ST_KEY_LATEST] = "SELECT COALESCE(MAX(at_ms), 0) FROM term_keys",
	[ST_META_GET] = "SELECT (SELECT value FROM meta WHERE key = 'incarnation'),"
	    " (SELECT value FROM meta WHERE key = 'coordinator')",
	[ST_COORDINATOR_SET] = "UPDATE meta SET value = ?1 WHERE key = 'coordinator'",
	[ST_ORDER_ID_MAX] = "SELECT COALESCE(max(order_id), 0) FROM orders",
	[ST_OUTBOX_FIRST] = "SELECT min(seq) FROM outbox",
	[ST_STREAM_REWIND] = "UPDATE stream SET event_acked = ?1, cmd_applied = ?2"
	    " WHERE id = 1",
	[ST_ORDER_KEY] = "SELECT order_key FROM orders WHERE order_id = ?1",
	[ST_ORDER_SHIP_ALREADY] = "UPDATE orders SET state = 'shipped',"
	    " tracking = ?2, shipped_ms = ?3"
	    " WHERE order_id = ?1 AND state = 'queued' AND resent = 1",
	[ST_SYNC_HEAD] = "SELECT cmd_applied, event_seq, event_acked,"
	    " (SELECT value FROM meta WHERE key = 'incarnation'),"
	    " (SELECT value FROM meta WHERE key = 'coordinator'),"
	    " CASE WHEN ?1 THEN (SELECT COALESCE(max(order_id), 0) FROM orders)"
	    " ELSE 0 END FROM stream WHERE id = 1",
	/* ST_SYNC_HEAD without the meta rows, for when they are cached. */
	[ST_SYNC_POS] = "SELECT cmd_applied, event_seq, event_acked,"
	    " CASE WHEN ?1 THEN (SELECT COALESCE(max(order_id), 0) FROM orders)"
	    " ELSE 0 END FROM stream WHERE id = 1",
	[ST_READ_BEGIN] = "BEGIN",
	[ST_READ_END] = "COMMIT",
};

struct hub_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT_];
	db_txn txn;             /* BEGIN / COMMIT / the request savepoint */
	pick_order *cand;       /* hub_store_claim_candidates' rows
	                         * (DN_QUEUE_LIST_MAX, allocated on first use) */
	/* The meta rows as this connection last read them (every sync reads
	 * them twice; two index lookups were most of that statement's cost).
	 * Only this connection writes hub.db, and only
	 * hub_store_coordinator_set writes meta, so the copy equals what a
	 * read would return until that call or a rollback, a failed commit
	 * or a failed statement (which may have undone such a write): each
	 * of those forgets it, and the next read fills it again. */
	bool meta_valid;
	hub_meta meta;
	/* hub_store_read_begin's transaction: asked for, and begun (at the
	 * first read that goes to the file: read_begun). */
	bool read_open, read_begun;
	/* The sync's reads as of total_changes64 = *_at (see the top). */
	bool head_valid, stock_valid;
	int64_t head_at, stock_at;
	hub_stream head;
	uint64_t head_order_id_max;
	size_t stock_max, nstock, stock_cap;
	struct hub_store_stock_row {
		char sku[DN_ID_MAX + 1];
		int64_t on_hand;
	} *stock;
};

static void meta_forget(hub_store *s)
{
	s->meta_valid = false;
}

static int64_t rows_written(const hub_store *s)
{
	return (int64_t)sqlite3_total_changes64(s->db);
}

/* The read transaction asked for by hub_store_read_begin, begun before the
 * first read that goes to the file (0 or DN_EIO). */
static int step_done(hub_store *s, int which);
static int read_ensure(hub_store *s)
{
	if (!s->read_open || s->read_begun) {
		return 0;
	}
	int rv = step_done(s, ST_READ_BEGIN);
	s->read_begun = rv == 0;
	return rv;
}

/* Steps a statement that returns no row or one row we ignore, then resets. */
static int step_done(hub_store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		meta_forget(s);
		log_error("hub.db_failed", "stmt=%d rc=%d err=\"%s\"", which, rc,
		    sqlite3_errmsg(s->db));
		return DN_EIO;
	}
	return 0;
}

static int step_fail(hub_store *s, int which, int rc)
{
	meta_forget(s);
	sqlite3_reset(s->st[which]);
	log_error("hub.db_failed", "stmt=%d rc=%d err=\"%s\"", which, rc,
	    sqlite3_errmsg(s->db));
	return DN_EIO;
}

static int store_migrate_columns(sqlite3 *db)
{
	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		char sql[256];
		sqlite3_stmt *st = NULL;
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s LIMIT 0",
		    migrations[i][1], migrations[i][0]);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
			sqlite3_finalize(st);
			continue;
		}
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s",
		    migrations[i][0], migrations[i][1], migrations[i][2]);
		if (db_exec(db, sql) != 0) {
			return DN_EIO;
		}
		log_info("hub.db_migrated", "table=%s column=%s", migrations[i][0],
		    migrations[i][1]);
	}
	return 0;
}

int hub_store_open(hub_store **out, const char *path)
{
	return hub_store_open_vfs(out, path, NULL);
}

int hub_store_open_vfs(hub_store **out, const char *path, const char *vfs)
{
	hub_store *s = calloc(1, sizeof(*s));
	int rv;

	*out = NULL;
	if (s == NULL) {
		return DN_ENOMEM;
	}
	if ((rv = db_open_vfs(path, NULL, vfs, &s->db)) != 0) {
		free(s);
		return rv;
	}
	if ((rv = db_migrate(s->db, "hub.db", store_migrations,
	    sizeof(store_migrations) / sizeof(store_migrations[0]))) != 0) {
		db_close(s->db);
		free(s);
		return rv;
	}
	for (int i = 0; i < ST_COUNT_; i++) {
		if ((rv = db_prepare(s->db, stmt_sql[i], &s->st[i])) != 0) {
			hub_store_close(s);
			return rv;
		}
	}
	if ((rv = db_txn_init(&s->txn, s->db, "req")) != 0) {
		hub_store_close(s);
		return rv;
	}
	*out = s;
	return 0;
}

void hub_store_close(hub_store *s)
{
	if (s == NULL) {
		return;
	}
	for (int i = 0; i < ST_COUNT_; i++) {
		sqlite3_finalize(s->st[i]);
	}
	db_close(s->db);
	free(s->cand);
	free(s->stock);
	free(s);
}

int hub_store_begin(hub_store *s)
{
	return db_txn_begin(&s->txn);
}

int hub_store_commit(hub_store *s)
{
	int rv = db_txn_commit(&s->txn);
	if (rv != 0) {
		meta_forget(s);
	}
	return rv;
}

void hub_store_rollback(hub_store *s)
{
	meta_forget(s);
	db_rollback(s->db);
}

int hub_store_read_begin(hub_store *s)
{
	assert(!s->read_open);
	s->read_open = true;
	s->read_begun = false;
	return 0;
}

void hub_store_read_end(hub_store *s)
{
	bool begun = s->read_begun;
	s->read_open = s->read_begun = false;
	if (begun && step_done(s, ST_READ_END) != 0 && !sqlite3_get_autocommit(s->db)) {
		/* step_done forgot the meta copy. */
		db_rollback(s->db);
	}
}

int hub_store_savepoint(hub_store *s)
{
	return db_txn_savepoint(&s->txn);
}

int hub_store_release(hub_store *s)
{
	return db_txn_release(&s->txn);
}

void hub_store_rollback_to(hub_store *s)
{
	/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. */
	meta_forget(s);
	(void)db_txn_rollback_to(&s->txn);
	(void)db_txn_release(&s->txn);
}

int hub_store_stream_get(hub_store *s, hub_stream *out)
{
	sqlite3_stmt *st = s->st[ST_STREAM_GET];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_STREAM_GET, rc);
	}
	out->cmd_applied = (uint64_t)sqlite3_column_int64(st, 0);
	out->event_seq = (uint64_t)sqlite3_column_int64(st, 1);
	out->event_acked = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return 0;
}

int hub_store_cmd_applied_set(hub_store *s, uint64_t seq)
{
	db_bind_i64(s->st[ST_CMD_APPLIED_SET], 1, (int64_t)seq);
	return step_done(s, ST_CMD_APPLIED_SET);
}

int hub_store_event_acked_set(hub_store *s, uint64_t seq)
{
	int rv;
	db_bind_i64(s->st[ST_EVENT_ACKED_SET], 1, (int64_t)seq);
	if ((rv = step_done(s, ST_EVENT_ACKED_SET)) != 0) {
		return rv;
	}
	db_bind_i64(s->st[ST_OUTBOX_TRIM], 1, (int64_t)seq);
	db_bind_i64(s->st[ST_OUTBOX_TRIM], 2, (int64_t)DN_OUTBOX_KEEP);
	return step_done(s, ST_OUTBOX_TRIM);
}

int hub_store_meta_get(hub_store *s, hub_meta *out)
{
	if (s->meta_valid) {
		*out = s->meta;
		return 0;
	}
	sqlite3_stmt *st = s->st[ST_META_GET];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_META_GET, rc);
	}
	out->incarnation = (uint64_t)sqlite3_column_int64(st, 0);
	out->coordinator = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	s->meta = *out;
	s->meta_valid = true;
	return 0;
}

int hub_store_sync_head(hub_store *s, hub_stream *sp, hub_meta *meta,
    uint64_t *order_id_max)
{
	if (s->meta_valid && s->head_valid && s->head_at == rows_written(s)) {
		*sp = s->head;
		*meta = s->meta;
		if (order_id_max != NULL) {
			*order_id_max = s->head_order_id_max;
		}
		return 0;
	}
	/* Columns 0-2 the positions; then the meta rows (ST_SYNC_HEAD) unless
	 * cached (ST_SYNC_POS); then the highest order id. */
	const bool cached = s->meta_valid;
	const int which = cached ? ST_SYNC_POS : ST_SYNC_HEAD;
	const int max_col = cached ? 3 : 5;
	sqlite3_stmt *st = s->st[which];
	int rc;

	if ((rc = read_ensure(s)) != 0) {
		return rc;
	}
	db_bind_i64(st, 1, order_id_max != NULL ? 1 : 0);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, which, rc);
	}
	sp->cmd_applied = (uint64_t)sqlite3_column_int64(st, 0);
	sp->event_seq = (uint64_t)sqlite3_column_int64(st, 1);
	sp->event_acked = (uint64_t)sqlite3_column_int64(st, 2);
	if (!cached) {
		s->meta.incarnation = (uint64_t)sqlite3_column_int64(st, 3);
		s->meta.coordinator = (uint64_t)sqlite3_column_int64(st, 4);
		s->meta_valid = true;
	}
	*meta = s->meta;
	if (order_id_max != NULL) {
		*order_id_max = (uint64_t)sqlite3_column_int64(st, max_col);
	}
	sqlite3_reset(st);
	/* Kept when read in the read transaction (the file's own state, no
	 * write of ours pending) with every column. */
	s->head_valid = s->read_begun && order_id_max != NULL;
	if (s->head_valid) {
		s->head = *sp;
		s->head_order_id_max = *order_id_max;
		s->head_at = rows_written(s);
	}
	return 0;
}

int hub_store_coordinator_set(hub_store *s, uint64_t incarnation)
{
	/* The next read fills the copy from the file again (whether this
	 * write lands, or its transaction rolls back). */
	meta_forget(s);
	db_bind_i64(s->st[ST_COORDINATOR_SET], 1, (int64_t)incarnation);
	return step_done(s, ST_COORDINATOR_SET);
}

int hub_store_order_id_max(hub_store *s, uint64_t *out)
{
	sqlite3_stmt *st = s->st[ST_ORDER_ID_MAX];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_ORDER_ID_MAX, rc);
	}
	*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int hub_store_stream_rewind(hub_store *s, uint64_t event_acked,
    uint64_t cmd_applied)
{
	hub_stream sp;
	int rv;

	if ((rv = hub_store_stream_get(s, &sp)) != 0) {
		return rv;
	}
	if (event_acked < sp.event_seq) {
		/* Every event after event_acked must still be in the outbox. */
		sqlite3_stmt *st = s->st[ST_OUTBOX_FIRST];
		int rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			return step_fail(s, ST_OUTBOX_FIRST, rc);
		}
		uint64_t first = (uint64_t)sqlite3_column_int64(st, 0);
		bool none = sqlite3_column_type(st, 0) == SQLITE_NULL;
		sqlite3_reset(st);
		if (none || first > event_acked + 1) {
			return DN_ERANGE;
		}
	}
	db_bind_i64(s->st[ST_STREAM_REWIND], 1, (int64_t)event_acked);
	db_bind_i64(s->st[ST_STREAM_REWIND], 2, (int64_t)cmd_applied);
	return step_done(s, ST_STREAM_REWIND);
}

int hub_store_order_key(hub_store *s, uint64_t order_id, char *key, size_t len)
{
	sqlite3_stmt *st = s->st[ST_ORDER_KEY];
	db_bind_i64(st, 1, (int64_t)order_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return DN_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_ORDER_KEY, rc);
	}
	snprintf(key, len, "%s", db_col_text(st, 0));
	sqlite3_reset(st);
	return 0;
}

int hub_store_event_append(hub_store *s, Dropnet__HubEvent *ev)
{
	sqlite3_stmt *st;
	hub_stream sp;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if ((rv = step_done(s, ST_EVENT_SEQ_NEXT)) != 0 ||
	    (rv = hub_store_stream_get(s, &sp)) != 0) {
		return rv;
	}
	ev->seq = sp.event_seq;
	if ((rv = codec_hub_event_pack(ev, &buf, &len)) != 0) {
		return rv;
	}
	st = s->st[ST_OUTBOX_INSERT];
	db_bind_i64(st, 1, (int64_t)ev->seq);
	sqlite3_bind_blob(st, 2, buf, (int)len, SQLITE_TRANSIENT);
	free(buf);
	return step_done(s, ST_OUTBOX_INSERT);
}

int hub_store_events_list(hub_store *s, uint64_t after, size_t max,
    hub_store_event_fn fn, void *arg)
{
	sqlite3_stmt *st = s->st[ST_OUTBOX_LIST];
	int rc, rv = 0;

	if ((rv = read_ensure(s)) != 0) {
		return rv;
	}
	db_bind_i64(st, 1, (int64_t)after);
	db_bind_i64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		const uint8_t *b = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		if ((rv = fn(arg, seq, b, len)) != 0) {
			break;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return step_fail(s, ST_OUTBOX_LIST, rc);
	}
	sqlite3_reset(st);
	return rv;
}

int hub_store_stock_add(hub_store *s, const char *sku, const char *bin,
    int64_t qty)
{
	int rv;
	db_bind_text(s->st[ST_STOCK_ADD], 1, sku);
	db_bind_i64(s->st[ST_STOCK_ADD], 2, qty);
	if ((rv = step_done(s, ST_STOCK_ADD)) != 0) {
		return rv;
	}
	db_bind_text(s->st[ST_BIN_ADD], 1, bin);
	db_bind_text(s->st[ST_BIN_ADD], 2, sku);
	db_bind_i64(s->st[ST_BIN_ADD], 3, qty);
	return step_done(s, ST_BIN_ADD);
}

/* Takes qty units of sku out of its bins, fullest first. Collects the bins
 * first: updating rows under a running SELECT on the same index is allowed
 * in SQLite but its result order is then not guaranteed. */
static int bins_take(hub_store *s, const char *sku, int64_t qty)
{
	enum { BINS_MAX = 64 }; /* bins touched per take; more only if tiny */
	struct {
		char bin[DN_ID_MAX + 1];
		int64_t qty;
	} take[BINS_MAX];
	size_t n = 0;
	int rc, rv;

	while (qty > 0) {
		sqlite3_stmt *st = s->st[ST_BINS_OF_SKU];
		n = 0;
		db_bind_text(st, 1, sku);
		while (n < BINS_MAX && qty > 0
		    && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t have = sqlite3_column_int64(st, 1);
			snprintf(take[n].bin, sizeof(take[n].bin), "%s",
			    db_col_text(st, 0));
			take[n].qty = have < qty ? have : qty;
			qty -= take[n].qty;
			n++;
		}
		sqlite3_reset(st);
		if (n == 0) {
			break; /* no bin holds any: the book was short */
		}
		for (size_t i = 0; i < n; i++) {
			db_bind_text(s->st[ST_BIN_SUB], 1, take[i].bin);
			db_bind_text(s->st[ST_BIN_SUB], 2, sku);
			db_bind_i64(s->st[ST_BIN_SUB], 3, take[i].qty);
			if ((rv = step_done(s, ST_BIN_SUB)) != 0) {
				return rv;
			}
		}
	}
	return 0;
}

int hub_store_stock_take(hub_store *s, const char *sku, int64_t qty,
    int64_t *on_hand_after)
{
	sqlite3_stmt *st = s->st[ST_STOCK_SUB];
	int rv;

	db_bind_text(st, 1, sku);
	db_bind_i64(st, 2, qty);
	if ((rv = step_done(s, ST_STOCK_SUB)) != 0 ||
	    (rv = hub_store_stock_get(s, sku, on_hand_after)) != 0) {
		return rv;
	}
	return bins_take(s, sku, qty);
}

int hub_store_stock_get(hub_store *s, const char *sku, int64_t *on_hand)
{
	sqlite3_stmt *st = s->st[ST_STOCK_GET];
	int rc;

	*on_hand = 0;
	db_bind_text(st, 1, sku);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*on_hand = sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return step_fail(s, ST_STOCK_GET, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int hub_store_stock_skus(hub_store *s, const char *sku, bool *known, size_t *n)
{
	sqlite3_stmt *st = s->st[ST_STOCK_GET];
	int rc;

	*known = false;
	*n = 0;
	db_bind_text(st, 1, sku);
	rc = sqlite3_step(st);
	*known = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return step_fail(s, ST_STOCK_GET, rc);
	}
	sqlite3_reset(st);
	st = s->st[ST_STOCK_COUNT];
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		return step_fail(s, ST_STOCK_COUNT, rc);
	}
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* Keeps row i of the stock list being read (false: it cannot be kept,
 * out of memory or an sku longer than any the hub writes). */
static bool stock_keep(hub_store *s, size_t i, const char *sku, int64_t on_hand)
{
	size_t len = strlen(sku);
	if (len > DN_ID_MAX || i > DN_STOCK_REPORT_MAX) {
		return false;
	}
	if (i == s->stock_cap) {
		size_t cap = s->stock_cap != 0 ? s->stock_cap * 2 : 16;
		cap = cap < DN_STOCK_REPORT_MAX + 1 ? cap : DN_STOCK_REPORT_MAX + 1;
		void *rows = realloc(s->stock, cap * sizeof(*s->stock));
		if (rows == NULL) {
			return false;
		}
		s->stock = rows;
		s->stock_cap = cap;
	}
	memcpy(s->stock[i].sku, sku, len + 1);
	s->stock[i].on_hand = on_hand;
	return true;
}

int hub_store_stock_list(hub_store *s, size_t max, hub_store_stock_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->st[ST_STOCK_LIST];
	int rc, rv = 0;

	if (s->stock_valid && s->stock_max == max && s->stock_at == rows_written(s)) {
		for (size_t i = 0; i < s->nstock && rv == 0; i++) {
			rv = fn(arg, s->stock[i].sku, s->stock[i].on_hand);
		}
		return rv;
	}
	if ((rv = read_ensure(s)) != 0) {
		return rv;
	}
	/* Kept when read whole in the read transaction (see the top). */
	bool keep = s->read_begun;
	size_t n = 0;
	s->stock_valid = false;
	db_bind_i64(st, 1, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sku = db_col_text(st, 0);
		int64_t on_hand = sqlite3_column_int64(st, 1);
		keep = keep && stock_keep(s, n++, sku, on_hand);
		if ((rv = fn(arg, sku, on_hand)) != 0) {
			break;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return step_fail(s, ST_STOCK_LIST, rc);
	}
	sqlite3_reset(st);
	if (keep && rv == 0) {
		s->stock_valid = true;
		s->stock_max = max;
		s->nstock = n;
		s->stock_at = rows_written(s);
	}
	return rv;
}

int hub_store_bin_best(hub_store *s, const char *sku, char *bin, size_t len)
{
	sqlite3_stmt *st = s->st[ST_BIN_BEST];
	int rc;

	bin[0] = '\0';
	db_bind_text(st, 1, sku);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(bin, len, "%s", db_col_text(st, 0));
	} else if (rc != SQLITE_DONE) {
		return step_fail(s, ST_BIN_BEST, rc);
	}
	sqlite3_reset(st);
	return 0;
}

/* Loads the row into o and, when key/customer are given, copies those. */
static int order_read(hub_store *s, uint64_t order_id, pick_order *o,
    char *key, char *customer, size_t id_len, int64_t *received_ms)
{
	sqlite3_stmt *st = s->st[ST_ORDER_GET];
	int rc;

	memset(o, 0, sizeof(*o));
	o->order_id = order_id;
	db_bind_i64(st, 1, (int64_t)order_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return DN_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_ORDER_GET, rc);
	}
	if (pick_state_parse(db_col_text(st, 0), &o->state) != 0) {
		log_error("hub.db_corrupt", "order_id=%llu state=\"%s\"",
		    (unsigned long long)order_id, db_col_text(st, 0));
		sqlite3_reset(st);
		return DN_EIO;
	}
	if (key != NULL) {
		snprintf(key, id_len, "%s", db_col_text(st, 1));
		snprintf(customer, id_len, "%s", db_col_text(st, 2));
	}
	o->received_ms = sqlite3_column_int64(st, 3);
	if (received_ms != NULL) {
		*received_ms = o->received_ms;
	}
	snprintf(o->claimed_by, sizeof(o->claimed_by), "%s", db_col_text(st, 4));
	snprintf(o->tier, sizeof(o->tier), "%s", db_col_text(st, 5));
	o->promised_ms = sqlite3_column_int64(st, 6);
	o->resent = sqlite3_column_int64(st, 7) != 0;
	sqlite3_reset(st);

	st = s->st[ST_LINES_GET];
	db_bind_i64(st, 1, (int64_t)order_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW
	    && o->nlines < DN_ORDER_LINES_MAX) {
		pick_line *l = &o->lines[o->nlines++];
		snprintf(l->sku, sizeof(l->sku), "%s", db_col_text(st, 0));
		l->qty = (uint32_t)sqlite3_column_int64(st, 1);
		l->picked = (uint32_t)sqlite3_column_int64(st, 2);
		l->shorted = (uint32_t)sqlite3_column_int64(st, 3);
		l->gift = sqlite3_column_int64(st, 4) != 0;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		return step_fail(s, ST_LINES_GET, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int hub_store_order_load(hub_store *s, uint64_t order_id, pick_order *o)
{
	return order_read(s, order_id, o, NULL, NULL, 0, NULL);
}

int hub_store_order_save(hub_store *s, const pick_order *o, int64_t now_ms)
{
	sqlite3_stmt *st = s->st[ST_ORDER_STATE_SET];
	int rv;

	db_bind_i64(st, 1, (int64_t)o->order_id);
	db_bind_text(st, 2, pick_state_name(o->state));
	db_bind_i64(st, 3, now_ms);
	if ((rv = step_done(s, ST_ORDER_STATE_SET)) != 0) {
		return rv;
	}
	for (size_t i = 0; i < o->nlines; i++) {
		st = s->st[ST_LINE_SET];
		db_bind_i64(st, 1, (int64_t)o->order_id);
		db_bind_i64(st, 2, (int64_t)i);
		db_bind_i64(st, 3, o->lines[i].picked);
		db_bind_i64(st, 4, o->lines[i].shorted);
		if ((rv = step_done(s, ST_LINE_SET)) != 0) {
			return rv;
		}
	}
	return 0;
}

int hub_store_order_ship(hub_store *s, uint64_t order_id, const char *tracking,
    int64_t now_ms)
{
	sqlite3_stmt *st = s->st[ST_ORDER_SHIP];
	int rv;

	db_bind_i64(st, 1, (int64_t)order_id);
	db_bind_text(st, 2, tracking);
	db_bind_i64(st, 3, now_ms);
	if ((rv = step_done(s, ST_ORDER_SHIP)) != 0) {
		return rv;
	}
	return sqlite3_changes(s->db) == 1 ? 0 : DN_ESTATE;
}

int hub_store_order_ship_already(hub_store *s, uint64_t order_id,
    const char *tracking, int64_t now_ms)
{
	sqlite3_stmt *st = s->st[ST_ORDER_SHIP_ALREADY];
	int rv;

	db_bind_i64(st, 1, (int64_t)order_id);
	db_bind_text(st, 2, tracking);
	db_bind_i64(st, 3, now_ms);
	if ((rv = step_done(s, ST_ORDER_SHIP_ALREADY)) != 0) {
		return rv;
	}
	return sqlite3_changes(s->db) == 1 ? 0 : DN_ESTATE;
}

int hub_store_order_insert(hub_store *s, uint64_t order_id,
    const char *order_key, const char *customer, int64_t received_ms,
    const char *tier, int64_t promised_ms, bool resent,
    const pick_line_in *lines, size_t nlines)
{
	sqlite3_stmt *st = s->st[ST_ORDER_INSERT];
	int rv;

	db_bind_i64(st, 1, (int64_t)order_id);
	db_bind_text(st, 2, order_key);
	db_bind_text(st, 3, customer);
	db_bind_i64(st, 4, received_ms);
	db_bind_text(st, 5, tier != NULL ? tier : "");
	db_bind_i64(st, 6, promised_ms);
	db_bind_i64(st, 7, resent ? 1 : 0);
	if ((rv = step_done(s, ST_ORDER_INSERT)) != 0) {
		return rv;
	}
	if (sqlite3_changes(s->db) == 0) {
		return DN_EEXIST;
	}
	for (size_t i = 0; i < nlines; i++) {
		st = s->st[ST_LINE_INSERT];
		db_bind_i64(st, 1, (int64_t)order_id);
		db_bind_i64(st, 2, (int64_t)i);
		db_bind_text(st, 3, lines[i].sku);
		db_bind_i64(st, 4, lines[i].qty);
		db_bind_i64(st, 5, lines[i].gift ? 1 : 0);
		if ((rv = step_done(s, ST_LINE_INSERT)) != 0) {
			return rv;
		}
	}
	return 0;
}

int hub_store_order_delete(hub_store *s, uint64_t order_id)
{
	pick_order o;
	int rv = hub_store_order_load(s, order_id, &o);
	if (rv != 0) {
		return rv;
	}
	if (o.state == PICK_ORDER_SHIPPED) {
		return DN_ESTATE;
	}
	db_bind_i64(s->st[ST_ORDER_DELETE], 1, (int64_t)order_id);
	return step_done(s, ST_ORDER_DELETE);
}

int hub_store_queue_list(hub_store *s, size_t max, hub_store_queue_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->st[ST_QUEUE];
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
	hub_store_queue_row row = { .order_key = key, .customer = customer };
	int rc, rv = 0;

	db_bind_i64(st, 1, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		rv = order_read(s, id, &row.order, key, customer, sizeof(key),
		    &row.received_ms);
		if (rv != 0 || (rv = fn(arg, &row)) != 0) {
			break;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return step_fail(s, ST_QUEUE, rc);
	}
	sqlite3_reset(st);
	return rv;
}

/* One summarised candidate row into o: what pick_claim_choose reads. */
static int candidate_read(sqlite3_stmt *st, pick_order *o)
{
	o->order_id = (uint64_t)sqlite3_column_int64(st, 0);
	if (pick_state_parse(db_col_text(st, 1), &o->state) != 0) {
		log_error("hub.db_corrupt", "order_id=%llu state=\"%s\"",
		    (unsigned long long)o->order_id, db_col_text(st, 1));
		return DN_EIO;
	}
	snprintf(o->claimed_by, sizeof(o->claimed_by), "%s", db_col_text(st, 2));
	snprintf(o->tier, sizeof(o->tier), "%s", db_col_text(st, 3));
	o->received_ms = sqlite3_column_int64(st, 4);
	o->promised_ms = sqlite3_column_int64(st, 5);
	int64_t nlines = sqlite3_column_int64(st, 6);
	int64_t units = sqlite3_column_int64(st, 7);
	o->nlines = nlines < (int64_t)DN_ORDER_LINES_MAX ? (size_t)nlines
	    : DN_ORDER_LINES_MAX;
	for (size_t i = 0; i < o->nlines; i++) {
		o->lines[i].qty = 0;
	}
	if (o->nlines > 0) {
		o->lines[0].qty = units < 0 ? 0 : units > UINT32_MAX ? UINT32_MAX
		    : (uint32_t)units;
	}
	return 0;
}

/* Appends the rows of statement which (bound but ?1 = the room left) to
 * s->cand until *n reaches max, or, when want > 0, until want rows a claim
 * of want orders could take (any for one, small ones for more) were read. */
static int candidates_add(hub_store *s, int which, size_t max, size_t want,
    size_t *n)
{
	sqlite3_stmt *st = s->st[which];
	size_t fit = 0;
	int rc = SQLITE_DONE, rv = 0;

	db_bind_i64(st, 1, (int64_t)(max - *n));
	while (*n < max && (want == 0 || fit < want)
	    && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rv = candidate_read(st, &s->cand[*n])) != 0) {
			break;
		}
		fit += want == 1 || pick_is_small(&s->cand[*n]) ? 1 : 0;
		(*n)++;
	}
	if (rv == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		return step_fail(s, which, rc);
	}
	sqlite3_reset(st);
	return rv;
}

int hub_store_claim_candidates(hub_store *s, size_t max, const char *op,
    size_t want, const pick_order **out, size_t *n)
{
	int rv;

	*out = NULL;
	*n = 0;
	if (max > DN_QUEUE_LIST_MAX) {
		max = DN_QUEUE_LIST_MAX;
	}
	if (want < 1) {
		want = 1;
	}
	if (s->cand == NULL &&
	    (s->cand = malloc(DN_QUEUE_LIST_MAX * sizeof(*s->cand))) == NULL) {
		return DN_ENOMEM;
	}
	db_bind_text(s->st[ST_CLAIM_OWN], 2, op);
	if ((rv = candidates_add(s, ST_CLAIM_OWN, max, 0, n)) != 0 ||
	    (rv = candidates_add(s, ST_CLAIM_FREE, max, want, n)) != 0) {
		return rv;
	}
	*out = s->cand;
	return 0;
}

int hub_store_order_load_keyed(hub_store *s, uint64_t order_id, pick_order *o,
    char *key, char *customer, size_t id_len)
{
	return order_read(s, order_id, o, key, customer, id_len, NULL);
}

int hub_store_order_count(hub_store *s, pick_order_state state, int64_t *out)
{
	sqlite3_stmt *st = s->st[ST_ORDER_COUNT];
	int rc;

	db_bind_text(st, 1, pick_state_name(state));
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_ORDER_COUNT, rc);
	}
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int hub_store_order_claim_set(hub_store *s, uint64_t order_id, const char *op)
{
	db_bind_i64(s->st[ST_CLAIM_SET], 1, (int64_t)order_id);
	db_bind_text(s->st[ST_CLAIM_SET], 2, op);
	return step_done(s, ST_CLAIM_SET);
}

int hub_store_counts(hub_store *s, int64_t day_start_ms, hub_store_tally *out)
{
	sqlite3_stmt *st = s->st[ST_COUNTS];
	int rc;

	db_bind_i64(st, 1, day_start_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_COUNTS, rc);
	}
	/* sum() over no rows is NULL, which reads as 0. */
	out->queued = sqlite3_column_int64(st, 0);
	out->in_progress = sqlite3_column_int64(st, 1);
	out->packed = sqlite3_column_int64(st, 2);
	out->packed_today = sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	return 0;
}

int hub_store_bin_qty(hub_store *s, const char *bin, const char *sku,
    int64_t *qty)
{
	sqlite3_stmt *st = s->st[ST_BIN_QTY];
	int rc;

	*qty = 0;
	db_bind_text(st, 1, bin);
	db_bind_text(st, 2, sku);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*qty = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE) {
		return step_fail(s, ST_BIN_QTY, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int hub_store_sku_in_totes(hub_store *s, const char *sku, int64_t *qty)
{
	sqlite3_stmt *st = s->st[ST_SKU_IN_TOTES];
	int rc;

	*qty = 0;
	db_bind_text(st, 1, sku);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*qty = sqlite3_column_int64(st, 0);
	} else {
		return step_fail(s, ST_SKU_IN_TOTES, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int hub_store_bin_move(hub_store *s, const char *sku, const char *from,
    const char *to, int64_t qty)
{
	int rv;
	db_bind_text(s->st[ST_BIN_SUB], 1, from);
	db_bind_text(s->st[ST_BIN_SUB], 2, sku);
	db_bind_i64(s->st[ST_BIN_SUB], 3, qty);
	if ((rv = step_done(s, ST_BIN_SUB)) != 0) {
		return rv;
	}
	db_bind_text(s->st[ST_BIN_ADD], 1, to);
	db_bind_text(s->st[ST_BIN_ADD], 2, sku);
	db_bind_i64(s->st[ST_BIN_ADD], 3, qty);
	return step_done(s, ST_BIN_ADD);
}

int hub_store_bin_list(hub_store *s, const char *bin, size_t max,
    hub_store_stock_fn fn, void *arg)
{
	sqlite3_stmt *st = s->st[ST_BIN_LIST];
	int rc, rv = 0;

	db_bind_text(st, 1, bin);
	db_bind_i64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rv = fn(arg, db_col_text(st, 0),
		    sqlite3_column_int64(st, 1))) != 0) {
			break;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return step_fail(s, ST_BIN_LIST, rc);
	}
	sqlite3_reset(st);
	return rv;
}

int hub_store_count_apply(hub_store *s, const char *sku, const char *bin,
    int64_t counted, int64_t delta)
{
	int rv;
	db_bind_text(s->st[ST_STOCK_ADD], 1, sku);
	db_bind_i64(s->st[ST_STOCK_ADD], 2, delta);
	if ((rv = step_done(s, ST_STOCK_ADD)) != 0) {
		return rv;
	}
	db_bind_text(s->st[ST_BIN_SET], 1, bin);
	db_bind_text(s->st[ST_BIN_SET], 2, sku);
	db_bind_i64(s->st[ST_BIN_SET], 3, counted);
	return step_done(s, ST_BIN_SET);
}

int hub_store_quarantine_add(hub_store *s, const char *sku, int64_t qty)
{
	db_bind_text(s->st[ST_QUARANTINE_ADD], 1, sku);
	db_bind_i64(s->st[ST_QUARANTINE_ADD], 2, qty);
	return step_done(s, ST_QUARANTINE_ADD);
}

int hub_store_key_get(hub_store *s, const char *key, int *status, char *msg,
    size_t msg_len)
{
	sqlite3_stmt *st = s->st[ST_KEY_GET];
	int rc;

	db_bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return DN_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_KEY_GET, rc);
	}
	*status = (int)sqlite3_column_int64(st, 0);
	snprintf(msg, msg_len, "%s", db_col_text(st, 1));
	sqlite3_reset(st);
	return 0;
}

int hub_store_key_latest(hub_store *s, int64_t *at_ms)
{
	sqlite3_stmt *st = s->st[ST_KEY_LATEST];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return step_fail(s, ST_KEY_LATEST, rc);
	}
	*at_ms = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int hub_store_key_put(hub_store *s, const char *key, int status,
    const char *msg, int64_t now_ms)
{
	int rv;
	db_bind_i64(s->st[ST_KEY_TRIM], 1, now_ms - HUB_TERM_KEY_KEEP_MS);
	if ((rv = step_done(s, ST_KEY_TRIM)) != 0) {
		return rv;
	}
	db_bind_text(s->st[ST_KEY_PUT], 1, key);
	db_bind_i64(s->st[ST_KEY_PUT], 2, status);
	db_bind_text(s->st[ST_KEY_PUT], 3, msg);
	db_bind_i64(s->st[ST_KEY_PUT], 4, now_ms);
	return step_done(s, ST_KEY_PUT);
}
