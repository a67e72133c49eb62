/*
 * store_ops.c - the ops area's SQL (store.h "ops"): transactions, the
 * machine's clock, the hub registry and ledger loads, one order's journey,
 * the audit's ledger checks, demand history and transfers.
 *
 * Each statement is prepared once (store_ops_init) and its column numbers
 * are read right under the call that steps it; every call resets what it
 * stepped before it returns, so no read stays open across calls.
 * Thread model: the loop thread owns the store and its sqlite3 *.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

/* The audit's checks of the durable books: each row is one violation and
 * its column 0 the finding's detail. */
#define OPS_AUDIT_CHECKS 6

struct store_ops_stmts {
	sqlite3 *db;
	sqlite3_stmt *clock_save, *clock_load, *hubs_list, *stock_list;
	sqlite3_stmt *order_by_key, *order_lines, *order_placements;
	sqlite3_stmt *audit[OPS_AUDIT_CHECKS];
	sqlite3_stmt *demand_buckets, *demand_regions, *demand_list, *demand_panel;
	sqlite3_stmt *transfer_count, *transfer_incoming, *transfer_placement,
	    *transfer_pline, *transfer_insert, *transfer_by_placement,
	    *transfer_open, *transfer_ship_lines, *transfer_ship,
	    *transfer_ship_placement, *transfer_receive, *transfer_short_line,
	    *transfer_short, *transfers_list;
};

static const char *const audit_names[OPS_AUDIT_CHECKS] = {
    "allocation_mismatch", "order_allocation", "stock_not_conserved",
    "transit_mismatch", "holdback_unexplained", "shipped_mismatch",
};

static const char *const audit_sql[OPS_AUDIT_CHECKS] = {
    /* Allocated equals what open placements still need, in both
     * directions: every (hub, sku) of a stock row or of a placement line,
     * so a placement whose hub has no stock row at all is checked too. */
    "SELECT 'hub=' || k.hub || ' sku=' || k.sku || ' allocated='"
    " || COALESCE(s.allocated, 0) || ' open=' || COALESCE(o.open, 0)"
    " || CASE WHEN s.hub IS NULL THEN ' (no stock row)' ELSE '' END"
    " FROM (SELECT hub, sku FROM stock UNION SELECT p.hub, l.sku FROM placements p"
    "  JOIN placement_lines l ON l.placement_id = p.id) k"
    " LEFT JOIN stock s ON s.hub = k.hub AND s.sku = k.sku LEFT JOIN"
    " (SELECT p.hub, l.sku, SUM(l.qty - l.shipped - l.shorted) AS open"
    "  FROM placements p JOIN placement_lines l ON l.placement_id = p.id"
    "  WHERE p.state NOT IN ('lapsed', 'refused')"
    "  GROUP BY p.hub, l.sku) o ON o.hub = k.hub AND o.sku = k.sku"
    " WHERE COALESCE(s.allocated, 0) <> COALESCE(o.open, 0)",
    /* Every accepted order line is allocated exactly once: placed units
     * minus shorted ones plus backordered ones equal what was ordered. */
    "SELECT 'order=' || o.id || ' key=' || o.order_key || ' sku=' || ol.sku"
    " || ' ordered=' || ol.qty || ' placed=' || COALESCE(p.placed, 0)"
    " FROM orders o JOIN order_lines ol ON ol.order_id = o.id LEFT JOIN"
    " (SELECT p.order_id, l.sku, SUM(l.qty - l.shorted) AS placed FROM placements p"
    "  JOIN placement_lines l ON l.placement_id = p.id"
    "  WHERE p.state NOT IN ('lapsed', 'refused')"
    "  GROUP BY p.order_id, l.sku) p"
    " ON p.order_id = o.id AND p.sku = ol.sku"
    " WHERE (o.status IN (1, 16) AND COALESCE(p.placed, 0) + ol.backordered <> ol.qty)"
    " OR (o.status NOT IN (1, 16) AND COALESCE(p.placed, 0) <> 0)",
    /* Stock is conserved: on hand = received - shipped - lost + adjusted
     * (and returns and transfers). */
    "SELECT 'hub=' || hub || ' sku=' || sku || ' on_hand=' || on_hand ||"
    " ' expected=' || (received + returned + transfer_in - shipped - transfer_out"
    " - lost + adjusted) FROM stock WHERE on_hand <> received + returned"
    " + transfer_in - shipped - transfer_out - lost + adjusted",
    /* Units in transit equal what left on transfers and has not arrived. */
    "SELECT 'sku=' || s.sku || ' out-in=' || (s.o - s.i) || ' in_transit='"
    " || COALESCE(t.n, 0) FROM (SELECT sku, SUM(transfer_out) AS o,"
    " SUM(transfer_in) AS i FROM stock GROUP BY sku) s LEFT JOIN"
    " (SELECT sku, SUM(CASE WHEN state IN ('picking', 'cancelled') THEN 0 ELSE qty END"
    "  - received)"
    "  AS n FROM transfers GROUP BY sku) t ON t.sku = s.sku"
    " WHERE s.o - s.i <> COALESCE(t.n, 0)",
    /* Holdback equals the sum of its logged holds and releases. */
    "SELECT 'hub=' || s.hub || ' sku=' || s.sku || ' holdback=' || s.holdback ||"
    " ' logged=' || COALESCE(x.n, 0) FROM stock s LEFT JOIN"
    " (SELECT hub, sku, SUM(qty) AS n FROM holdback_log GROUP BY hub, sku) x"
    " ON x.hub = s.hub AND x.sku = s.sku WHERE s.holdback <> COALESCE(x.n, 0)",
    /* Shipped matches the shipped lines of order placements. */
    "SELECT 'hub=' || s.hub || ' sku=' || s.sku || ' shipped=' || s.shipped ||"
    " ' placements=' || COALESCE(x.n, 0) FROM stock s LEFT JOIN"
    " (SELECT p.hub, l.sku, SUM(l.shipped) AS n FROM placements p"
    "  JOIN placement_lines l ON l.placement_id = p.id WHERE p.kind = 'order'"
    "  GROUP BY p.hub, l.sku) x"
    " ON x.hub = s.hub AND x.sku = s.sku WHERE s.shipped <> COALESCE(x.n, 0)",
};

/* Demand counts orders accepted (1), refused SOLD_OUT (2), held (16) and
 * lapsed (17) with a region: demand turned away is demand too. */
#define OPS_DEMAND_STATUSES "(1, 2, 16, 17)"

/* Every statement but the audit's: where it goes in store_ops_stmts, and
 * its SQL (the column numbers its call reads are next to that call). */
static const struct {
	size_t at;
	const char *sql;
} ops_sql[] = {
    {offsetof(struct store_ops_stmts, clock_save),
        "INSERT INTO coord_clock(id, wall_ms, elapsed_ms)"
        " VALUES(1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET wall_ms=?1,"
        " elapsed_ms=?2"},
    {offsetof(struct store_ops_stmts, clock_load),
        "SELECT wall_ms, elapsed_ms FROM coord_clock WHERE id = 1"},
    {offsetof(struct store_ops_stmts, hubs_list),
        "SELECT id, name, lat, lon, radius_km, term_url,"
        " cmd_seq, cmd_acked, event_applied, incarnation, cmd_offered,"
        " EXISTS(SELECT 1 FROM hub_seed WHERE hub_seed.hub = hubs.id)"
        " FROM hubs ORDER BY rowid"},
    {offsetof(struct store_ops_stmts, stock_list),
        "SELECT hub, sku, on_hand, allocated, holdback,"
        " received, shipped, lost, adjusted, returned, transfer_in, transfer_out"
        " FROM stock"},
    {offsetof(struct store_ops_stmts, order_by_key),
        "SELECT id, customer, status, hub, lat, lon,"
        " received_ms, route, arrived_ms FROM orders"
        " WHERE storefront=?1 AND order_key=?2"},
    {offsetof(struct store_ops_stmts, order_lines),
        "SELECT sku, qty, backordered FROM order_lines"
        " WHERE order_id=?1"},
    {offsetof(struct store_ops_stmts, order_placements),
        "SELECT p.hub, l.sku, l.qty, l.shipped, l.shorted,"
        " p.picked_ms, p.shipped_ms, p.tracking, p.state, p.queued_ms,"
        " p.delivered_ms FROM placements p JOIN"
        " placement_lines l ON l.placement_id = p.id WHERE p.order_id=?1"
        " ORDER BY p.id"},
    /* Demand in a time window: the orders received in it (index
     * orders_received), then each one's line of the sku by primary key.
     * CROSS JOIN keeps that order: without statistics the planner read
     * every line of the sku ever sold instead (order_lines_sku), for
     * every spike bucket of a drop. */
    {offsetof(struct store_ops_stmts, demand_buckets),
        "SELECT o.nearest_hub, (o.received_ms - ?2) / ?3,"
        " SUM(l.qty) FROM orders o CROSS JOIN order_lines l ON l.order_id = o.id"
        " WHERE l.sku = ?1 AND o.received_ms >= ?2 AND o.received_ms < ?4 AND"
        " o.nearest_hub <> '' AND o.status IN " OPS_DEMAND_STATUSES " GROUP BY 1, 2"},
    {offsetof(struct store_ops_stmts, demand_regions),
        "SELECT o.nearest_hub, SUM(l.qty) FROM orders o"
        " CROSS JOIN order_lines l ON l.order_id = o.id WHERE l.sku = ?1 AND"
        " o.received_ms >= ?2 AND o.received_ms < ?3 AND o.nearest_hub <> '' AND"
        " o.status IN " OPS_DEMAND_STATUSES " GROUP BY 1"},
    /* The same for every SKU at once (the rebalance model's panel): one
     * pass over the window's orders instead of one per SKU. */
    {offsetof(struct store_ops_stmts, demand_panel),
        "SELECT o.nearest_hub, (o.received_ms - ?1) / ?2, SUM(l.qty), l.sku"
        " FROM orders o CROSS JOIN order_lines l ON l.order_id = o.id"
        " WHERE o.received_ms >= ?1 AND o.received_ms < ?3 AND"
        " o.nearest_hub <> '' AND o.status IN " OPS_DEMAND_STATUSES " GROUP BY 4, 1, 2"},
    {offsetof(struct store_ops_stmts, demand_list),
        "SELECT o.nearest_hub, l.sku, o.received_ms / ?2 * ?2,"
        " SUM(CASE WHEN o.status = 2 THEN 0 ELSE l.qty END),"
        " SUM(CASE WHEN o.status = 2 THEN l.qty ELSE 0 END)"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE"
        " o.nearest_hub <> '' AND o.status IN " OPS_DEMAND_STATUSES
        " AND (?1 = '' OR l.sku = ?1) GROUP BY 1, 2, 3 ORDER BY 2, 1, 3"},
    {offsetof(struct store_ops_stmts, transfer_count),
        "SELECT COUNT(*) FROM transfers"},
    {offsetof(struct store_ops_stmts, transfer_incoming),
        "SELECT COALESCE(SUM(qty - received), 0) FROM"
        " transfers WHERE to_hub=?1 AND sku=?2 AND state IN ('picking', 'in_transit')"},
    {offsetof(struct store_ops_stmts, transfer_placement),
        "INSERT INTO placements(id, order_id, hub, state,"
        " placed_ms, kind) VALUES(" STORE_PLACEMENT_NEXT_ID ", 0, ?1, 'open', ?2,"
        " 'transfer')"},
    {offsetof(struct store_ops_stmts, transfer_pline),
        "INSERT INTO placement_lines(placement_id, sku, qty, gift)"
        " VALUES(?1,?2,?3,0)"},
    {offsetof(struct store_ops_stmts, transfer_insert),
        "INSERT INTO transfers(id, sku, from_hub, to_hub, qty,"
        " state, placement_id, created_ms) VALUES(?1,?2,?3,?4,?5,'picking',?6,?7)"},
    {offsetof(struct store_ops_stmts, transfer_by_placement),
        "SELECT id, sku, qty, state FROM transfers WHERE"
        " placement_id=?1"},
    {offsetof(struct store_ops_stmts, transfer_open),
        "SELECT qty - received FROM transfers WHERE id=?1"
        " AND to_hub=?2 AND sku=?3 AND state IN ('picking', 'in_transit')"},
    {offsetof(struct store_ops_stmts, transfer_ship_lines),
        "UPDATE placement_lines SET shipped=qty-shorted WHERE"
        " placement_id=?1"},
    {offsetof(struct store_ops_stmts, transfer_ship),
        "UPDATE transfers SET"
        " state=CASE WHEN received >= qty THEN 'received' ELSE 'in_transit' END,"
        " shipped_ms=?2 WHERE id=?1"},
    {offsetof(struct store_ops_stmts, transfer_ship_placement),
        "UPDATE placements SET"
        " state='shipped', shipped_ms=?2 WHERE id=?1"},
    {offsetof(struct store_ops_stmts, transfer_receive),
        "UPDATE transfers SET received=received+?2,"
        " state=CASE WHEN state='in_transit' AND received+?2 >= qty THEN 'received'"
        " ELSE state END, received_ms=?3 WHERE id=?1"},
    {offsetof(struct store_ops_stmts, transfer_short_line),
        "UPDATE placement_lines SET shorted=shorted+?2 WHERE"
        " placement_id=?1"},
    {offsetof(struct store_ops_stmts, transfer_short),
        "UPDATE transfers SET qty=qty-?2,"
        " state=CASE WHEN qty-?2 <= 0 THEN 'cancelled' ELSE state END WHERE id=?1"},
    {offsetof(struct store_ops_stmts, transfers_list),
        "SELECT id, sku, from_hub, to_hub, qty, state, created_ms,"
        " shipped_ms, received_ms FROM transfers ORDER BY created_ms DESC LIMIT ?1"},
};

int store_ops_init(store *s, sqlite3 *db)
{
	struct store_ops_stmts *o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return DN_ENOMEM;
	}
	s->ops = o;
	o->db = db;
	for (size_t i = 0; i < sizeof(ops_sql) / sizeof(ops_sql[0]); i++) {
		sqlite3_stmt **st = (sqlite3_stmt **)((char *)o + ops_sql[i].at);
		if (db_prepare(db, ops_sql[i].sql, st) != 0) {
			return DN_EIO;
		}
	}
	for (size_t i = 0; i < OPS_AUDIT_CHECKS; i++) {
		if (db_prepare(db, audit_sql[i], &o->audit[i]) != 0) {
			return DN_EIO;
		}
	}
	return 0;
}

int coord_store_reader_open(const char *path, store **out)
{
	sqlite3 *db = NULL;
	*out = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store.reader_open_failed", "path=%s err=\"%s\"", path,
		    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return DN_EIO;
	}
	sqlite3_busy_timeout(db, 5000);
	store *s = calloc(1, sizeof(*s));
	/* Every area's statements: the KPIs read through several. Preparing
	 * a write on a read-only connection is allowed; running it is not. */
	int rv = s == NULL ? DN_ENOMEM : store_init(s, db);
	if (rv != 0) {
		store_ops_fini(s);
		free(s);
		db_close(db);
		return rv;
	}
	*out = s;
	return 0;
}

void coord_store_reader_close(store *s)
{
	if (s == NULL) {
		return;
	}
	sqlite3 *db = s->ops != NULL ? s->ops->db : NULL;
	store_ops_fini(s);
	db_close(db);
	free(s);
}

int coord_store_read_begin(store *s)
{
	return db_exec(s->ops->db, "SAVEPOINT ops_read");
}

void coord_store_read_end(store *s)
{
	(void)db_exec(s->ops->db, "RELEASE ops_read");
}

bool coord_store_reader_ok(store *s)
{
	return s != NULL && sqlite3_get_autocommit(s->ops->db) != 0;
}

void coord_store_reader_interrupt(store *s)
{
	if (s != NULL) {
		sqlite3_interrupt(s->ops->db);
	}
}

void store_ops_fini(store *s)
{
	if (s == NULL) {
		return;
	}
	free(s->ops);
	s->ops = NULL;
}

/* Ends a scan of st: resets it and turns the last step's code (rc) into
 * 0 or DN_EIO, unless fn stopped it (stop != 0: COORD_STORE_STOP ends the
 * scan with 0, any other code is returned as is). */
static int scan_end(sqlite3_stmt *st, int rc, int stop)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (stop != 0) {
		return stop == COORD_STORE_STOP ? 0 : stop;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)), sqlite3_sql(st));
		return DN_EIO;
	}
	return 0;
}

/* Ends a single-row lookup of st that found no row (rc DONE: DN_ENOENT). */
static int lookup_end(sqlite3_stmt *st, int rc)
{
	int rv = scan_end(st, rc, 0);
	return rv == 0 ? DN_ENOENT : rv;
}

/* ---- the clock ---- */

int coord_store_clock_save(store *s, int64_t wall_ms, int64_t elapsed_ms)
{
	sqlite3_stmt *st = s->ops->clock_save;
	db_bind_i64(st, 1, wall_ms);
	db_bind_i64(st, 2, elapsed_ms);
	return store_step_done(st);
}

int coord_store_clock_load(store *s, int64_t *wall_ms, int64_t *elapsed_ms)
{
	sqlite3_stmt *st = s->ops->clock_load;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return lookup_end(st, rc);
	}
	*wall_ms = sqlite3_column_int64(st, 0);
	*elapsed_ms = sqlite3_column_int64(st, 1);
	return scan_end(st, rc, 0);
}

/* ---- the registry and the ledger ---- */

int coord_store_hubs_list(store *s, size_t max, coord_store_hub_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->hubs_list;
	int rc = SQLITE_DONE, stop = 0;
	for (size_t n = 0; stop == 0 && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW;
	    n++) {
		coord_store_hub_row r = {
		    .id = db_col_text(st, 0),
		    .name = db_col_text(st, 1),
		    .lat = sqlite3_column_double(st, 2),
		    .lon = sqlite3_column_double(st, 3),
		    .radius_km = sqlite3_column_double(st, 4),
		    .term_url = db_col_text(st, 5),
		    .cmd_seq = (uint64_t)sqlite3_column_int64(st, 6),
		    .cmd_acked = (uint64_t)sqlite3_column_int64(st, 7),
		    .event_applied = (uint64_t)sqlite3_column_int64(st, 8),
		    .incarnation = (uint64_t)sqlite3_column_int64(st, 9),
		    .cmd_offered = (uint64_t)sqlite3_column_int64(st, 10),
		    .seed_pending = sqlite3_column_int(st, 11) != 0,
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

int coord_store_stock_list(store *s, coord_store_stock_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->stock_list;
	int rc, stop = 0;
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_stock_row r = {
		    .hub = db_col_text(st, 0),
		    .sku = db_col_text(st, 1),
		    .on_hand = sqlite3_column_int64(st, 2),
		    .allocated = sqlite3_column_int64(st, 3),
		    .holdback = sqlite3_column_int64(st, 4),
		    .received = sqlite3_column_int64(st, 5),
		    .shipped = sqlite3_column_int64(st, 6),
		    .lost = sqlite3_column_int64(st, 7),
		    .adjusted = sqlite3_column_int64(st, 8),
		    .returned = sqlite3_column_int64(st, 9),
		    .transfer_in = sqlite3_column_int64(st, 10),
		    .transfer_out = sqlite3_column_int64(st, 11),
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

/* ---- one order's journey ---- */

int coord_store_order_by_key(store *s, const char *storefront, const char *order_key,
    coord_store_order_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->order_by_key;
	db_bind_text(st, 1, storefront);
	db_bind_text(st, 2, order_key);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return lookup_end(st, rc);
	}
	coord_store_order_view r = {
	    .id = sqlite3_column_int64(st, 0),
	    .customer = db_col_text(st, 1),
	    .status = sqlite3_column_int(st, 2),
	    .hub = db_col_text(st, 3),
	    .lat = sqlite3_column_double(st, 4),
	    .lon = sqlite3_column_double(st, 5),
	    .received_ms = sqlite3_column_int64(st, 6),
	    .route = sqlite3_column_blob(st, 7),
	    .route_len = (size_t)sqlite3_column_bytes(st, 7),
	    .arrived_ms = sqlite3_column_int64(st, 8),
	};
	return scan_end(st, rc, fn(arg, &r));
}

int coord_store_order_lines_list(store *s, int64_t order_id, size_t max,
    coord_store_line_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->order_lines;
	db_bind_i64(st, 1, order_id);
	int rc = SQLITE_DONE, stop = 0;
	for (size_t n = 0; stop == 0 && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW;
	    n++) {
		coord_store_line_row r = {
		    .sku = db_col_text(st, 0),
		    .qty = sqlite3_column_int64(st, 1),
		    .backordered = sqlite3_column_int64(st, 2),
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

int coord_store_order_placements_list(store *s, int64_t order_id, size_t max,
    coord_store_placed_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->order_placements;
	db_bind_i64(st, 1, order_id);
	int rc = SQLITE_DONE, stop = 0;
	for (size_t n = 0; stop == 0 && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW;
	    n++) {
		coord_store_placed_row r = {
		    .hub = db_col_text(st, 0),
		    .sku = db_col_text(st, 1),
		    .qty = sqlite3_column_int64(st, 2),
		    .shipped = sqlite3_column_int64(st, 3),
		    .shorted = sqlite3_column_int64(st, 4),
		    .picked_ms = sqlite3_column_int64(st, 5),
		    .shipped_ms = sqlite3_column_int64(st, 6),
		    .tracking = db_col_text(st, 7),
		    .state = db_col_text(st, 8),
		    .queued_ms = sqlite3_column_int64(st, 9),
		    .delivered_ms = sqlite3_column_int64(st, 10),
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

/* ---- audit ---- */

int coord_store_audit_ledger(store *s, coord_store_finding_fn fn, void *arg,
    uint32_t *checks)
{
	*checks = 0;
	for (size_t i = 0; i < OPS_AUDIT_CHECKS; i++) {
		sqlite3_stmt *st = s->ops->audit[i];
		int rc, stop = 0;
		(*checks)++;
		while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			stop = fn(arg, audit_names[i], db_col_text(st, 0));
		}
		int rv = scan_end(st, rc, stop);
		if (rv == DN_EIO && stop == 0) {
			log_error("audit.query_failed", "check=%s", audit_names[i]);
			char detail[96];
			snprintf(detail, sizeof(detail), "check %s could not run", audit_names[i]);
			rv = fn(arg, "audit_error", detail);
		}
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

/* ---- demand ---- */

/* Scans a demand-by-region statement already bound: column 0 the region,
 * then the bucket when bucketed, then the units. */
static int demand_scan(sqlite3_stmt *st, bool bucketed, coord_store_units_fn fn,
    void *arg)
{
	int rc, stop = 0;
	int units = bucketed ? 2 : 1;
	bool skus = sqlite3_column_count(st) > 3;
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_region_units r = {
		    .hub = db_col_text(st, 0),
		    .bucket = bucketed ? sqlite3_column_int64(st, 1) : 0,
		    .units = sqlite3_column_int64(st, units),
		    .sku = skus ? db_col_text(st, 3) : NULL,
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

int coord_store_demand_buckets(store *s, const char *sku, int64_t start_ms,
    int64_t end_ms, int64_t bucket_ms, coord_store_units_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->demand_buckets;
	db_bind_text(st, 1, sku);
	db_bind_i64(st, 2, start_ms);
	db_bind_i64(st, 3, bucket_ms);
	db_bind_i64(st, 4, end_ms);
	return demand_scan(st, true, fn, arg);
}

int coord_store_demand_panel(store *s, int64_t start_ms, int64_t end_ms,
    int64_t bucket_ms, coord_store_units_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->demand_panel;
	db_bind_i64(st, 1, start_ms);
	db_bind_i64(st, 2, bucket_ms);
	db_bind_i64(st, 3, end_ms);
	return demand_scan(st, true, fn, arg);
}

int coord_store_demand_regions(store *s, const char *sku, int64_t start_ms,
    int64_t end_ms, coord_store_units_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->demand_regions;
	db_bind_text(st, 1, sku);
	db_bind_i64(st, 2, start_ms);
	db_bind_i64(st, 3, end_ms);
	return demand_scan(st, false, fn, arg);
}

int coord_store_demand_list(store *s, const char *sku, int64_t bucket_ms, size_t max,
    coord_store_demand_fn fn, void *arg)
{
	sqlite3_stmt *st = s->ops->demand_list;
	db_bind_text(st, 1, sku);
	db_bind_i64(st, 2, bucket_ms);
	int rc = SQLITE_DONE, stop = 0;
	for (size_t n = 0; stop == 0 && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW;
	    n++) {
		coord_store_demand_row r = {
		    .hub = db_col_text(st, 0),
		    .sku = db_col_text(st, 1),
		    .bucket_ms = sqlite3_column_int64(st, 2),
		    .sold = sqlite3_column_int64(st, 3),
		    .turned_away = sqlite3_column_int64(st, 4),
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}

/* ---- transfers ---- */

/* Steps a statement whose one row holds one integer into *out (0 when no
 * row). */
static int int_get(sqlite3_stmt *st, int64_t *out)
{
	int rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	return scan_end(st, rc, 0);
}

int coord_store_transfer_count(store *s, int64_t *n)
{
	return int_get(s->ops->transfer_count, n);
}

int coord_store_transfer_incoming(store *s, const char *to_hub, const char *sku,
    int64_t *n)
{
	sqlite3_stmt *st = s->ops->transfer_incoming;
	db_bind_text(st, 1, to_hub);
	db_bind_text(st, 2, sku);
	return int_get(st, n);
}

int coord_store_transfer_insert(store *s, const coord_store_transfer_new *t,
    int64_t *placement_id)
{
	struct store_ops_stmts *o = s->ops;
	db_bind_text(o->transfer_placement, 1, t->from_hub);
	db_bind_i64(o->transfer_placement, 2, t->created_ms);
	if (store_step_done(o->transfer_placement) != 0) {
		return DN_EIO;
	}
	int64_t pid = sqlite3_last_insert_rowid(o->db);
	db_bind_i64(o->transfer_pline, 1, pid);
	db_bind_text(o->transfer_pline, 2, t->sku);
	db_bind_i64(o->transfer_pline, 3, t->qty);
	if (store_step_done(o->transfer_pline) != 0) {
		return DN_EIO;
	}
	sqlite3_stmt *st = o->transfer_insert;
	db_bind_text(st, 1, t->id);
	db_bind_text(st, 2, t->sku);
	db_bind_text(st, 3, t->from_hub);
	db_bind_text(st, 4, t->to_hub);
	db_bind_i64(st, 5, t->qty);
	db_bind_i64(st, 6, pid);
	db_bind_i64(st, 7, t->created_ms);
	if (store_step_done(st) != 0) {
		return DN_EIO;
	}
	*placement_id = pid;
	return 0;
}

int coord_store_transfer_by_placement(store *s, int64_t pid, coord_store_transfer *out)
{
	sqlite3_stmt *st = s->ops->transfer_by_placement;
	db_bind_i64(st, 1, pid);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return lookup_end(st, rc);
	}
	snprintf(out->id, sizeof(out->id), "%s", db_col_text(st, 0));
	snprintf(out->sku, sizeof(out->sku), "%s", db_col_text(st, 1));
	out->qty = sqlite3_column_int64(st, 2);
	snprintf(out->state, sizeof(out->state), "%s", db_col_text(st, 3));
	return scan_end(st, rc, 0);
}

int coord_store_transfer_open_get(store *s, const char *id, const char *to_hub,
    const char *sku, int64_t *open)
{
	sqlite3_stmt *st = s->ops->transfer_open;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, to_hub);
	db_bind_text(st, 3, sku);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		return lookup_end(st, rc);
	}
	*open = sqlite3_column_int64(st, 0);
	return scan_end(st, rc, 0);
}

int coord_store_transfer_ship(store *s, const char *id, int64_t pid, int64_t now_ms)
{
	struct store_ops_stmts *o = s->ops;
	db_bind_i64(o->transfer_ship_lines, 1, pid);
	if (store_step_done(o->transfer_ship_lines) != 0) {
		return DN_EIO;
	}
	db_bind_text(o->transfer_ship, 1, id);
	db_bind_i64(o->transfer_ship, 2, now_ms);
	if (store_step_done(o->transfer_ship) != 0) {
		return DN_EIO;
	}
	db_bind_i64(o->transfer_ship_placement, 1, pid);
	db_bind_i64(o->transfer_ship_placement, 2, now_ms);
	return store_step_done(o->transfer_ship_placement);
}

int coord_store_transfer_receive(store *s, const char *id, int64_t qty, int64_t now_ms)
{
	sqlite3_stmt *st = s->ops->transfer_receive;
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, qty);
	db_bind_i64(st, 3, now_ms);
	return store_step_done(st);
}

int coord_store_transfer_short(store *s, const char *id, int64_t pid, int64_t qty)
{
	struct store_ops_stmts *o = s->ops;
	db_bind_i64(o->transfer_short_line, 1, pid);
	db_bind_i64(o->transfer_short_line, 2, qty);
	if (store_step_done(o->transfer_short_line) != 0) {
		return DN_EIO;
	}
	db_bind_text(o->transfer_short, 1, id);
	db_bind_i64(o->transfer_short, 2, qty);
	return store_step_done(o->transfer_short);
}

int coord_store_transfers_list(store *s, size_t max, coord_store_transfer_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->ops->transfers_list;
	db_bind_i64(st, 1, (int64_t)max);
	int rc = SQLITE_DONE, stop = 0;
	for (size_t n = 0; stop == 0 && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW;
	    n++) {
		coord_store_transfer_row r = {
		    .id = db_col_text(st, 0),
		    .sku = db_col_text(st, 1),
		    .from_hub = db_col_text(st, 2),
		    .to_hub = db_col_text(st, 3),
		    .qty = sqlite3_column_int64(st, 4),
		    .state = db_col_text(st, 5),
		    .created_ms = sqlite3_column_int64(st, 6),
		    .shipped_ms = sqlite3_column_int64(st, 7),
		    .received_ms = sqlite3_column_int64(st, 8),
		};
		stop = fn(arg, &r);
	}
	return scan_end(st, rc, stop);
}
