/*
 * store_prices.c - the prices area of the coordinator's file (store.h,
 * version 4): live prices, the prices an order was charged, and the quote
 * secret. Statements prepared once by store_prices_init; loop thread only.
 */
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

enum {
	SP_LIVE_SET,
	SP_LIVE_LIST,
	SP_LINE_PRICE,
	SP_ORDER_PRICE,
	SP_SECRET_GET,
	SP_MONEY_TIER,
	SP_MONEY_HUB,
	SP_MONEY_REGION,
	SP_MONEY_ARMS,
	SP_EXP_INSERT,
	SP_ARM_INSERT,
	SP_EXP_STOP,
	SP_EXP_RUNNING,
	SP_EXP_GET,
	SP_ARM_LIST,
	SP_ARM_ADD,
	SP_COUNT
};

static const char *const sp_sql[SP_COUNT] = {
    [SP_LIVE_SET] = "INSERT INTO price_live(drop_id, sku, tier, price_minor,"
        " starts_ms, ends_ms) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(drop_id, sku)"
        " DO UPDATE SET tier=?3, price_minor=?4, starts_ms=?5, ends_ms=?6",
    [SP_LIVE_LIST] = "SELECT drop_id, sku, tier, price_minor, starts_ms, ends_ms"
        " FROM price_live",
    [SP_LINE_PRICE] = "UPDATE order_lines SET unit_minor=?3, price_rule=?4"
        " WHERE order_id=?1 AND sku=?2",
    [SP_ORDER_PRICE] = "UPDATE orders SET total_minor=?2, currency=?3 WHERE id=?1",
    [SP_SECRET_GET] = "SELECT value FROM secrets WHERE name=?1",
    [SP_MONEY_TIER] = "SELECT tier, COUNT(*), SUM(units), SUM(total_minor) FROM orders"
        " WHERE drop_id=?1 AND status=1 GROUP BY tier ORDER BY tier",
    [SP_MONEY_HUB] = "SELECT hub, COUNT(*), SUM(units), SUM(total_minor) FROM orders"
        " WHERE drop_id=?1 AND status=1 GROUP BY hub ORDER BY hub",
    [SP_MONEY_REGION] = "SELECT nearest_hub, COUNT(*), SUM(units), SUM(total_minor)"
        " FROM orders WHERE drop_id=?1 AND status=1 GROUP BY nearest_hub ORDER BY 1",
    [SP_MONEY_ARMS] = "SELECT e.id, a.idx, a.exposures, a.orders, a.units, a.revenue_minor,"
        " e.spec FROM experiments e JOIN experiment_arms a ON a.experiment_id = e.id"
        " WHERE e.drop_id=?1 ORDER BY e.created_ms, e.id, a.idx",
    [SP_EXP_INSERT] = "INSERT INTO experiments(id, drop_id, sku, state, created_ms, spec)"
        " VALUES(?1,?2,?3,'running',?4,?5)",
    [SP_ARM_INSERT] = "INSERT INTO experiment_arms(experiment_id, idx) VALUES(?1,?2)",
    [SP_EXP_STOP] = "UPDATE experiments SET state='stopped', stopped_ms=?2 WHERE id=?1",
    [SP_EXP_RUNNING] = "SELECT id, drop_id, sku, state, created_ms, stopped_ms, spec"
        " FROM experiments WHERE state='running'",
    [SP_EXP_GET] = "SELECT id, drop_id, sku, state, created_ms, stopped_ms, spec"
        " FROM experiments WHERE id=?1",
    [SP_ARM_LIST] = "SELECT idx, exposures, orders, units, revenue_minor, revenue_sq"
        " FROM experiment_arms WHERE experiment_id=?1 ORDER BY idx",
    [SP_ARM_ADD] = "UPDATE experiment_arms SET exposures=exposures+?3, orders=orders+?4,"
        " units=units+?5, revenue_minor=revenue_minor+?6, revenue_sq=revenue_sq+?7"
        " WHERE experiment_id=?1 AND idx=?2",
};

int store_prices_init(store *s, sqlite3 *db)
{
	_Static_assert(SP_COUNT <= sizeof(s->prices) / sizeof(s->prices[0]),
	    "store.prices too small");
	for (size_t i = 0; i < SP_COUNT; i++) {
		if (db_prepare(db, sp_sql[i], &s->prices[i]) != 0) {
			return DN_EIO;
		}
	}
	return 0;
}

int coord_store_price_live_set(store *s, const coord_store_price_live *r)
{
	sqlite3_stmt *st = s->prices[SP_LIVE_SET];
	db_bind_text(st, 1, r->drop_id);
	db_bind_text(st, 2, r->sku);
	db_bind_text(st, 3, r->tier);
	db_bind_i64(st, 4, r->price_minor);
	db_bind_i64(st, 5, r->starts_ms);
	db_bind_i64(st, 6, r->ends_ms);
	return store_step_done(st);
}

int coord_store_price_live_list(store *s, coord_store_price_live_fn fn, void *arg)
{
	sqlite3_stmt *st = s->prices[SP_LIVE_LIST];
	int rc, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_price_live r = {
		    .drop_id = db_col_text(st, 0), .sku = db_col_text(st, 1),
		    .tier = db_col_text(st, 2), .price_minor = sqlite3_column_int64(st, 3),
		    .starts_ms = sqlite3_column_int64(st, 4),
		    .ends_ms = sqlite3_column_int64(st, 5)};
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=price_live", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}

int coord_store_order_line_price(store *s, int64_t order_id, const char *sku,
    int64_t unit_minor, const char *rule)
{
	sqlite3_stmt *st = s->prices[SP_LINE_PRICE];
	db_bind_i64(st, 1, order_id);
	db_bind_text(st, 2, sku);
	db_bind_i64(st, 3, unit_minor);
	db_bind_text(st, 4, rule);
	return store_step_done(st);
}

int coord_store_order_price(store *s, int64_t order_id, int64_t total_minor,
    const char *currency)
{
	sqlite3_stmt *st = s->prices[SP_ORDER_PRICE];
	db_bind_i64(st, 1, order_id);
	db_bind_i64(st, 2, total_minor);
	db_bind_text(st, 3, currency);
	return store_step_done(st);
}

int coord_store_secret_get(store *s, const char *name, uint8_t *buf, size_t cap,
    size_t *len)
{
	sqlite3_stmt *st = s->prices[SP_SECRET_GET];
	db_bind_text(st, 1, name);
	int rc = sqlite3_step(st);
	int rv = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? DN_ENOENT : DN_EIO;
	if (rv == 0) {
		int n = sqlite3_column_bytes(st, 0);
		const void *b = sqlite3_column_blob(st, 0);
		if (n <= 0 || (size_t)n > cap || b == NULL) {
			rv = DN_EIO;
		} else {
			memcpy(buf, b, (size_t)n);
			*len = (size_t)n;
		}
	}
	if (rv == DN_EIO) {
		log_error("store.secret_unreadable", "name=%s", name);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv;
}

int coord_store_money_scan(store *s, const char *drop_id, coord_store_money_by by,
    coord_store_money_fn fn, void *arg)
{
	sqlite3_stmt *st = s->prices[by == COORD_MONEY_HUB ? SP_MONEY_HUB :
	    by == COORD_MONEY_REGION ? SP_MONEY_REGION : SP_MONEY_TIER];
	db_bind_text(st, 1, drop_id);
	int rc, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_money_row r = {db_col_text(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2),
		    sqlite3_column_int64(st, 3)};
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=money", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}

int coord_store_money_arms(store *s, const char *drop_id, coord_store_money_arm_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->prices[SP_MONEY_ARMS];
	db_bind_text(st, 1, drop_id);
	int rc, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_money_arm r = {db_col_text(st, 0), sqlite3_column_int(st, 1),
		    (uint64_t)sqlite3_column_int64(st, 2), (uint64_t)sqlite3_column_int64(st, 3),
		    (uint64_t)sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
		    sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6)};
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=money_arms", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}

int coord_store_experiment_insert(store *s, const coord_store_experiment_row *r,
    size_t narms)
{
	sqlite3_stmt *st = s->prices[SP_EXP_INSERT];
	db_bind_text(st, 1, r->id);
	db_bind_text(st, 2, r->drop_id);
	db_bind_text(st, 3, r->sku);
	db_bind_i64(st, 4, r->created_ms);
	sqlite3_bind_blob(st, 5, r->spec, (int)r->spec_len, SQLITE_TRANSIENT);
	int rv = store_step_done(st);
	for (size_t i = 0; rv == 0 && i < narms; i++) {
		sqlite3_stmt *a = s->prices[SP_ARM_INSERT];
		db_bind_text(a, 1, r->id);
		db_bind_i64(a, 2, (int64_t)i);
		rv = store_step_done(a);
	}
	return rv;
}

int coord_store_experiment_stop(store *s, const char *id, int64_t stopped_ms)
{
	sqlite3_stmt *st = s->prices[SP_EXP_STOP];
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, stopped_ms);
	return store_step_done(st);
}

int coord_store_experiment_get(store *s, const char *id, coord_store_experiment_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->prices[id != NULL ? SP_EXP_GET : SP_EXP_RUNNING];
	if (id != NULL) {
		db_bind_text(st, 1, id);
	}
	int rc, rv = 0, rows = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_experiment_row r = {db_col_text(st, 0), db_col_text(st, 1),
		    db_col_text(st, 2), db_col_text(st, 3), sqlite3_column_int64(st, 4),
		    sqlite3_column_int64(st, 5), sqlite3_column_blob(st, 6),
		    (size_t)sqlite3_column_bytes(st, 6)};
		rows++;
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d sql=experiments", rc);
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	rv = rv == COORD_STORE_STOP ? 0 : rv;
	return rv == 0 && id != NULL && rows == 0 ? DN_ENOENT : rv;
}

int coord_store_arm_list(store *s, const char *id, coord_store_arm_fn fn, void *arg)
{
	sqlite3_stmt *st = s->prices[SP_ARM_LIST];
	db_bind_text(st, 1, id);
	int rc, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_arm_row r = {sqlite3_column_int(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2),
		    (uint64_t)sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
		    sqlite3_column_double(st, 5)};
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d sql=experiment_arms", rc);
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}

int coord_store_arm_add(store *s, const char *id, const coord_store_arm_row *r)
{
	sqlite3_stmt *st = s->prices[SP_ARM_ADD];
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, r->idx);
	db_bind_i64(st, 3, (int64_t)r->exposures);
	db_bind_i64(st, 4, (int64_t)r->orders);
	db_bind_i64(st, 5, (int64_t)r->units);
	db_bind_i64(st, 6, r->revenue_minor);
	sqlite3_bind_double(st, 7, r->revenue_sq);
	return store_step_done(st);
}
