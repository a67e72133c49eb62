/*
 * store_drops.c - the SQL of drops (drops.c): the drops, drop_tiers,
 * drop_holdback, holdback_log and buyer_counts tables, the reads of
 * orders, placements and customers that cart holds and the KPIs need, and
 * the transaction calls. Every statement is prepared once by
 * store_drops_init; each one's column and parameter numbers are used only
 * in the function next to it. See store.h for the disk format.
 *
 * Rows handed to a callback point into SQLite's buffers: they are valid
 * only during the call. Loop thread only, like the rest of the store.
 */
#include <stddef.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

/* The statements, an index into store.drops[]. */
enum {
	SD_DROP_LIST,
	SD_DROP_GET,
	SD_DROP_INSERT,
	SD_DROP_STATE,
	SD_TIER_LIST_ALL,
	SD_TIER_LIST,
	SD_TIER_INSERT,
	SD_TIER_RELEASED,
	SD_TIER_SOLD,
	SD_BUYER_ADD,
	SD_HOLDBACK_GET,
	SD_HOLDBACK_SET,
	SD_HOLDBACK_LOG,
	SD_HOLDBACK_HELD,
	SD_HOLDBACK_RELEASED,
	SD_HOLD_LINES,
	SD_HOLD_LAPSE,
	SD_HOLD_ORDER_LINES,
	SD_HOLD_EXPIRED,
	SD_DEMAND,
	SD_KPI_SELL_THROUGH,
	SD_KPI_FILL,
	SD_KPI_FULFIL,
	SD_KPI_BUYERS,
	SD_KPI_REJECTIONS,
	SD_KPI_ACCEPTED,
	SD_COUNT
};

_Static_assert(SD_COUNT <= sizeof(((store *)0)->drops) / sizeof(sqlite3_stmt *),
    "store.drops[] holds every statement of store_drops.c");

static const char *const sd_sql[SD_COUNT] = {
    /* Drops that are not closed first, then the newest: those are the
     * ones orders and ops can still name (coord_drops_load). */
    [SD_DROP_LIST] = "SELECT id, state, spec, accepted, gifts FROM drops"
        " ORDER BY state = 2, created_ms DESC",
    [SD_DROP_GET] = "SELECT id, state, spec, accepted, gifts FROM drops WHERE id=?1",
    [SD_DROP_INSERT] = "INSERT INTO drops(id, state, created_ms, spec)"
        " VALUES(?1, 0, ?2, ?3)",
    [SD_DROP_STATE] = "UPDATE drops SET state=?2 WHERE id=?1",
    [SD_TIER_LIST_ALL] = "SELECT drop_id, idx, sold, released FROM drop_tiers",
    [SD_TIER_LIST] = "SELECT drop_id, idx, sold, released FROM drop_tiers"
        " WHERE drop_id=?1",
    [SD_TIER_INSERT] = "INSERT INTO drop_tiers(drop_id, idx) VALUES(?1,?2)",
    [SD_TIER_RELEASED] = "UPDATE drop_tiers SET released=1 WHERE drop_id=?1 AND idx=?2",
    [SD_TIER_SOLD] = "UPDATE drop_tiers SET sold=sold+?3 WHERE drop_id=?1 AND idx=?2",
    [SD_BUYER_ADD] = "INSERT INTO buyer_counts(drop_id, customer, sku, qty)"
        " VALUES(?1,?2,?3,?4)"
        " ON CONFLICT(drop_id, customer, sku) DO UPDATE SET qty=qty+?4",
    [SD_HOLDBACK_GET] = "SELECT basis, held FROM drop_holdback WHERE"
        " drop_id=?1 AND hub=?2 AND sku=?3",
    [SD_HOLDBACK_SET] = "INSERT INTO drop_holdback(drop_id, hub, sku, basis,"
        " held) VALUES(?1,?2,?3,?4,?5) ON CONFLICT(drop_id, hub, sku) DO UPDATE"
        " SET basis=?4, held=?5",
    [SD_HOLDBACK_LOG] = "INSERT INTO holdback_log(drop_id, hub, sku, qty, reason,"
        " time_ms) VALUES(?1,?2,?3,?4,?5,?6)",
    [SD_HOLDBACK_HELD] = "SELECT COALESCE(SUM(qty), 0) FROM holdback_log"
        " WHERE drop_id=?1 AND qty > 0",
    [SD_HOLDBACK_RELEASED] = "SELECT COALESCE(-SUM(qty), 0) FROM holdback_log"
        " WHERE drop_id=?1 AND qty < 0",
    [SD_HOLD_LINES] = "SELECT p.id, p.hub, l.sku, l.qty, l.gift FROM"
        " placements p JOIN placement_lines l ON l.placement_id = p.id WHERE"
        " p.order_id=?1 AND p.state='held'",
    [SD_HOLD_LAPSE] = "UPDATE placements SET state='lapsed' WHERE id=?1",
    [SD_HOLD_ORDER_LINES] = "SELECT o.drop_id, o.tier, o.customer, l.sku, l.qty"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id=?1",
    [SD_HOLD_EXPIRED] = "SELECT id FROM orders WHERE status = 16"
        " AND hold_expires_ms <= ?1 ORDER BY hold_expires_ms LIMIT ?2",
    [SD_DEMAND] = "SELECT nearest_hub, COUNT(*) FROM orders WHERE"
        " nearest_hub <> '' GROUP BY nearest_hub",
    [SD_KPI_SELL_THROUGH] = "SELECT received_ms / 60000 * 60000, SUM(units) FROM orders"
        " WHERE drop_id=?1 AND status=1 GROUP BY 1 ORDER BY 1",
    [SD_KPI_FILL] = "SELECT nearest_hub, COUNT(*), SUM(status=1),"
        " SUM(status=1 AND hub=nearest_hub) FROM orders WHERE drop_id=?1 AND"
        " nearest_hub <> '' AND status IN (1, 2) GROUP BY nearest_hub ORDER BY 1",
    [SD_KPI_FULFIL] = "SELECT p.shipped_ms - o.received_ms FROM placements p"
        " JOIN orders o ON o.id = p.order_id WHERE o.drop_id=?1 AND p.state='shipped'"
        " ORDER BY 1",
    [SD_KPI_BUYERS] = "SELECT"
        " (SELECT COUNT(*) FROM customers WHERE first_drop=?1),"
        " (SELECT COALESCE(AVG(orders > 1), 0) FROM customers WHERE first_drop=?1),"
        " (SELECT COUNT(*) FROM customers WHERE first_drop=?1 AND gifted=1),"
        " (SELECT COALESCE(AVG(orders > 1), 0) FROM customers WHERE first_drop=?1"
        "  AND gifted=1),"
        " (SELECT COUNT(*) FROM customers WHERE first_drop=?1 AND gifted=0),"
        " (SELECT COALESCE(AVG(orders > 1), 0) FROM customers WHERE first_drop=?1"
        "  AND gifted=0)",
    [SD_KPI_REJECTIONS] = "SELECT status, COUNT(*) FROM orders WHERE drop_id=?1"
        " AND status NOT IN (1, 16) GROUP BY status ORDER BY 2 DESC",
    [SD_KPI_ACCEPTED] = "SELECT COUNT(*), COALESCE(SUM(units), 0) FROM orders"
        " WHERE drop_id=?1 AND status=1",
};

int store_drops_init(store *s, sqlite3 *db)
{
	for (size_t i = 0; i < SD_COUNT; i++) {
		if (db_prepare(db, sd_sql[i], &s->drops[i]) != 0) {
			return DN_EIO;
		}
	}
	return 0;
}

/* A step that failed: logged, statement reset. Always DN_EIO. */
static int sd_fail(sqlite3_stmt *st, int rc)
{
	log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
	    sqlite3_errmsg(sqlite3_db_handle(st)), sqlite3_sql(st));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return DN_EIO;
}

/* Steps a statement that returns no row (a write), then resets it. */
static int sd_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		return sd_fail(st, rc);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

/* Steps a statement that returns exactly one row; the caller reads it,
 * then calls sd_reset. */
static int sd_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_ROW ? 0 : sd_fail(st, rc);
}

static int sd_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

/* A caller's row callback, its type erased (sd_scan's readers cast it
 * back to the one they call) and its argument. */
typedef struct {
	void (*fn)(void);
	void *arg;
} sd_cb;
#define SD_CB(f, a) (&(sd_cb){(void (*)(void))(f), (a)})

/* Calls read(st, cb) for each row of st until the rows end, read returns
 * non-zero (COORD_STORE_STOP: stop, not an error) or a step fails. Resets
 * st. 0 or a DN_E* code. */
typedef int (*sd_read_fn)(sqlite3_stmt *st, const sd_cb *cb);
static int sd_scan(sqlite3_stmt *st, sd_read_fn read, const sd_cb *cb)
{
	int rc, rv = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rv = read(st, cb)) != 0) {
			break;
		}
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return sd_fail(st, rc);
	}
	sd_reset(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}

/* ---- transactions ---------------------------------------------------- */


/* coord_store_begin/commit/rollback: store_ingest.c. */

/* ---- drops and tiers -------------------------------------------------- */

/* Columns: id, state, spec, accepted, gifts. */
static int sd_drop_read(sqlite3_stmt *st, const sd_cb *cb)
{
	coord_store_drop_row row = {
	    .id = db_col_text(st, 0),
	    .state = sqlite3_column_int(st, 1),
	    .spec = sqlite3_column_blob(st, 2),
	    .spec_len = (size_t)sqlite3_column_bytes(st, 2),
	    .accepted = (uint64_t)sqlite3_column_int64(st, 3),
	    .gifts = (uint64_t)sqlite3_column_int64(st, 4),
	};
	return ((coord_store_drop_fn)cb->fn)(cb->arg, &row);
}

int coord_store_drop_list(store *s, coord_store_drop_fn fn, void *arg)
{
	return sd_scan(s->drops[SD_DROP_LIST], sd_drop_read, SD_CB(fn, arg));
}

int coord_store_drop_get(store *s, const char *id, coord_store_drop_fn fn, void *arg)
{
	sqlite3_stmt *st = s->drops[SD_DROP_GET];
	db_bind_text(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sd_reset(st);
		return DN_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return sd_fail(st, rc);
	}
	int rv = sd_drop_read(st, SD_CB(fn, arg));
	sd_reset(st);
	return rv;
}

int coord_store_drop_insert(store *s, const char *id, int64_t created_ms,
    const uint8_t *spec, size_t len)
{
	sqlite3_stmt *st = s->drops[SD_DROP_INSERT];
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, created_ms);
	sqlite3_bind_blob(st, 3, spec, (int)len, SQLITE_TRANSIENT);
	return sd_done(st);
}

int coord_store_drop_state_set(store *s, const char *id, int state)
{
	sqlite3_stmt *st = s->drops[SD_DROP_STATE];
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, state);
	return sd_done(st);
}

/* Columns: drop_id, idx, sold, released. */
static int sd_tier_read(sqlite3_stmt *st, const sd_cb *cb)
{
	coord_store_tier_row row = {
	    .drop_id = db_col_text(st, 0),
	    .idx = sqlite3_column_int(st, 1),
	    .sold = (uint32_t)sqlite3_column_int64(st, 2),
	    .released = sqlite3_column_int(st, 3) != 0,
	};
	return ((coord_store_tier_fn)cb->fn)(cb->arg, &row);
}

int coord_store_drop_tier_list(store *s, const char *drop_id, coord_store_tier_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->drops[drop_id != NULL ? SD_TIER_LIST : SD_TIER_LIST_ALL];
	if (drop_id != NULL) {
		db_bind_text(st, 1, drop_id);
	}
	return sd_scan(st, sd_tier_read, SD_CB(fn, arg));
}

int coord_store_drop_tier_insert(store *s, const char *drop_id, size_t idx)
{
	sqlite3_stmt *st = s->drops[SD_TIER_INSERT];
	db_bind_text(st, 1, drop_id);
	db_bind_i64(st, 2, (int64_t)idx);
	return sd_done(st);
}

int coord_store_drop_tier_released_set(store *s, const char *drop_id, size_t idx)
{
	sqlite3_stmt *st = s->drops[SD_TIER_RELEASED];
	db_bind_text(st, 1, drop_id);
	db_bind_i64(st, 2, (int64_t)idx);
	return sd_done(st);
}

int coord_store_drop_tier_sold_add(store *s, const char *drop_id, int64_t idx,
    int64_t delta)
{
	sqlite3_stmt *st = s->drops[SD_TIER_SOLD];
	db_bind_text(st, 1, drop_id);
	db_bind_i64(st, 2, idx);
	db_bind_i64(st, 3, delta);
	return sd_done(st);
}

int coord_store_drop_buyer_add(store *s, const char *drop_id, const char *customer,
    const char *sku, int64_t delta)
{
	sqlite3_stmt *st = s->drops[SD_BUYER_ADD];
	db_bind_text(st, 1, drop_id);
	db_bind_text(st, 2, customer);
	db_bind_text(st, 3, sku);
	db_bind_i64(st, 4, delta);
	return sd_done(st);
}

/* ---- holdback --------------------------------------------------------- */

int coord_store_holdback_get(store *s, const char *drop_id, const char *hub,
    const char *sku, int64_t *basis, int64_t *held)
{
	sqlite3_stmt *st = s->drops[SD_HOLDBACK_GET];
	db_bind_text(st, 1, drop_id);
	db_bind_text(st, 2, hub);
	db_bind_text(st, 3, sku);
	*basis = *held = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*basis = sqlite3_column_int64(st, 0);
		*held = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		return sd_fail(st, rc);
	}
	return sd_reset(st);
}

int coord_store_holdback_set(store *s, const char *drop_id, const char *hub,
    const char *sku, int64_t basis, int64_t held)
{
	sqlite3_stmt *st = s->drops[SD_HOLDBACK_SET];
	db_bind_text(st, 1, drop_id);
	db_bind_text(st, 2, hub);
	db_bind_text(st, 3, sku);
	db_bind_i64(st, 4, basis);
	db_bind_i64(st, 5, held);
	return sd_done(st);
}

int coord_store_holdback_log_add(store *s, const coord_store_holdback_log_row *row)
{
	sqlite3_stmt *st = s->drops[SD_HOLDBACK_LOG];
	db_bind_text(st, 1, row->drop_id);
	db_bind_text(st, 2, row->hub);
	db_bind_text(st, 3, row->sku);
	db_bind_i64(st, 4, row->qty);
	db_bind_text(st, 5, row->reason);
	db_bind_i64(st, 6, row->time_ms);
	return sd_done(st);
}

/* One int64 from a one-row statement with the drop id as ?1. */
static int sd_drop_i64(sqlite3_stmt *st, const char *drop_id, int64_t *out)
{
	db_bind_text(st, 1, drop_id);
	*out = 0;
	int rv = sd_row(st);
	if (rv == 0) {
		*out = sqlite3_column_int64(st, 0);
		sd_reset(st);
	}
	return rv;
}

int coord_store_holdback_held_sum(store *s, const char *drop_id, int64_t *out)
{
	return sd_drop_i64(s->drops[SD_HOLDBACK_HELD], drop_id, out);
}

int coord_store_holdback_released_sum(store *s, const char *drop_id, int64_t *out)
{
	return sd_drop_i64(s->drops[SD_HOLDBACK_RELEASED], drop_id, out);
}

/* ---- cart holds ------------------------------------------------------- */

/* Columns: p.id, p.hub, l.sku, l.qty, l.gift. */
static int sd_hold_line_read(sqlite3_stmt *st, const sd_cb *cb)
{
	coord_store_hold_line row = {
	    .placement_id = sqlite3_column_int64(st, 0),
	    .hub = db_col_text(st, 1),
	    .sku = db_col_text(st, 2),
	    .qty = sqlite3_column_int64(st, 3),
	    .gift = sqlite3_column_int(st, 4) != 0,
	};
	return ((coord_store_hold_line_fn)cb->fn)(cb->arg, &row);
}

int coord_store_hold_lines(store *s, int64_t order_id, coord_store_hold_line_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->drops[SD_HOLD_LINES];
	db_bind_i64(st, 1, order_id);
	return sd_scan(st, sd_hold_line_read, SD_CB(fn, arg));
}

int coord_store_hold_placement_lapse(store *s, int64_t placement_id)
{
	sqlite3_stmt *st = s->drops[SD_HOLD_LAPSE];
	db_bind_i64(st, 1, placement_id);
	return sd_done(st);
}

/* Columns: o.drop_id, o.tier, o.customer, l.sku, l.qty. */
static int sd_hold_order_line_read(sqlite3_stmt *st, const sd_cb *cb)
{
	coord_store_hold_order_line row = {
	    .drop_id = db_col_text(st, 0),
	    .tier = db_col_text(st, 1),
	    .customer = db_col_text(st, 2),
	    .sku = db_col_text(st, 3),
	    .qty = sqlite3_column_int64(st, 4),
	};
	return ((coord_store_hold_order_line_fn)cb->fn)(cb->arg, &row);
}

int coord_store_hold_order_lines(store *s, int64_t order_id,
    coord_store_hold_order_line_fn fn, void *arg)
{
	sqlite3_stmt *st = s->drops[SD_HOLD_ORDER_LINES];
	db_bind_i64(st, 1, order_id);
	return sd_scan(st, sd_hold_order_line_read, SD_CB(fn, arg));
}

int coord_store_hold_expired(store *s, int64_t now_elapsed_ms, int64_t *ids,
    size_t max, size_t *n)
{
	sqlite3_stmt *st = s->drops[SD_HOLD_EXPIRED];
	int rc = SQLITE_DONE;
	db_bind_i64(st, 1, now_elapsed_ms);
	db_bind_i64(st, 2, (int64_t)max);
	*n = 0;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (*n < max && rc != SQLITE_DONE) {
		*n = 0;
		return sd_fail(st, rc);
	}
	return sd_reset(st);
}

/* ---- demand and KPIs -------------------------------------------------- */

/* Columns: hub, count. */
static int sd_hub_count_read(sqlite3_stmt *st, const sd_cb *cb)
{
	return ((coord_store_hub_count_fn)cb->fn)(cb->arg, db_col_text(st, 0),
	    (uint64_t)sqlite3_column_int64(st, 1));
}

int coord_store_drop_demand_list(store *s, coord_store_hub_count_fn fn, void *arg)
{
	return sd_scan(s->drops[SD_DEMAND], sd_hub_count_read, SD_CB(fn, arg));
}

/* Columns: minute_ms, units. */
static int sd_minute_read(sqlite3_stmt *st, const sd_cb *cb)
{
	return ((coord_store_kpi_minute_fn)cb->fn)(cb->arg, sqlite3_column_int64(st, 0),
	    (uint64_t)sqlite3_column_int64(st, 1));
}

int coord_store_kpi_sell_through(store *s, const char *drop_id,
    coord_store_kpi_minute_fn fn, void *arg)
{
	sqlite3_stmt *st = s->drops[SD_KPI_SELL_THROUGH];
	db_bind_text(st, 1, drop_id);
	return sd_scan(st, sd_minute_read, SD_CB(fn, arg));
}

/* Columns: nearest_hub, orders, filled, filled_here. */
static int sd_fill_read(sqlite3_stmt *st, const sd_cb *cb)
{
	coord_store_kpi_fill_row row = {
	    .hub = db_col_text(st, 0),
	    .orders = (uint64_t)sqlite3_column_int64(st, 1),
	    .filled = (uint64_t)sqlite3_column_int64(st, 2),
	    .filled_here = (uint64_t)sqlite3_column_int64(st, 3),
	};
	return ((coord_store_kpi_fill_fn)cb->fn)(cb->arg, &row);
}

int coord_store_kpi_fill(store *s, const char *drop_id, coord_store_kpi_fill_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->drops[SD_KPI_FILL];
	db_bind_text(st, 1, drop_id);
	return sd_scan(st, sd_fill_read, SD_CB(fn, arg));
}

int coord_store_kpi_fulfil_times(store *s, const char *drop_id, int64_t *ms,
    size_t max, size_t *n)
{
	sqlite3_stmt *st = s->drops[SD_KPI_FULFIL];
	int rc = SQLITE_DONE;
	db_bind_text(st, 1, drop_id);
	*n = 0;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ms[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (*n < max && rc != SQLITE_DONE) {
		*n = 0;
		return sd_fail(st, rc);
	}
	return sd_reset(st);
}

int coord_store_kpi_buyers_get(store *s, const char *drop_id, coord_store_kpi_buyers *out)
{
	sqlite3_stmt *st = s->drops[SD_KPI_BUYERS];
	db_bind_text(st, 1, drop_id);
	*out = (coord_store_kpi_buyers){0};
	int rv = sd_row(st);
	if (rv == 0) {
		out->acquired = (uint64_t)sqlite3_column_int64(st, 0);
		out->repeat_rate = sqlite3_column_double(st, 1);
		out->gift_buyers = (uint64_t)sqlite3_column_int64(st, 2);
		out->gift_repeat_rate = sqlite3_column_double(st, 3);
		out->nongift_buyers = (uint64_t)sqlite3_column_int64(st, 4);
		out->nongift_repeat_rate = sqlite3_column_double(st, 5);
		sd_reset(st);
	}
	return rv;
}

/* Columns: status, orders. */
static int sd_reason_read(sqlite3_stmt *st, const sd_cb *cb)
{
	return ((coord_store_kpi_reason_fn)cb->fn)(cb->arg, sqlite3_column_int(st, 0),
	    (uint64_t)sqlite3_column_int64(st, 1));
}

int coord_store_kpi_rejections(store *s, const char *drop_id,
    coord_store_kpi_reason_fn fn, void *arg)
{
	sqlite3_stmt *st = s->drops[SD_KPI_REJECTIONS];
	db_bind_text(st, 1, drop_id);
	return sd_scan(st, sd_reason_read, SD_CB(fn, arg));
}

int coord_store_kpi_accepted(store *s, const char *drop_id, uint64_t *orders,
    uint64_t *units)
{
	sqlite3_stmt *st = s->drops[SD_KPI_ACCEPTED];
	db_bind_text(st, 1, drop_id);
	*orders = *units = 0;
	int rv = sd_row(st);
	if (rv == 0) {
		*orders = (uint64_t)sqlite3_column_int64(st, 0);
		*units = (uint64_t)sqlite3_column_int64(st, 1);
		sd_reset(st);
	}
	return rv;
}
