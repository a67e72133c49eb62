/*
 * store_activations.c - the activations area of the coordinator's file
 * (store.h, version 8): what the operator paid to sell a drop, and the
 * revenue of the drop's accepted orders received in each one's window.
 * Statements prepared once by store_activations_init; loop thread only.
 */
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

enum {
	SA_INSERT,
	SA_LIST,
	SA_COUNT
};

static const char *const sa_sql[SA_COUNT] = {
    [SA_INSERT] = "INSERT INTO activations(drop_id, name, kind, cost_minor, from_ms,"
        " to_ms, created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    /* Accepted orders (status 1) by received_ms, the coordinator's clock
     * when the order was journalled: the same clock the windows are in.
     * A van's transfers: those shipped in its window (transfers carry no
     * drop, so every hub-to-hub move of the window counts). */
    [SA_LIST] = "SELECT a.drop_id, a.name, a.kind, a.cost_minor, a.from_ms, a.to_ms,"
        " a.created_ms,"
        " (SELECT COUNT(*) FROM orders o WHERE o.drop_id = a.drop_id AND o.status = 1"
        "  AND o.received_ms >= a.from_ms AND o.received_ms < a.to_ms),"
        " (SELECT COALESCE(SUM(o.total_minor), 0) FROM orders o WHERE o.drop_id = a.drop_id"
        "  AND o.status = 1 AND o.received_ms >= a.from_ms AND o.received_ms < a.to_ms),"
        " CASE a.kind WHEN 'van' THEN (SELECT COUNT(*) FROM transfers t"
        "  WHERE t.shipped_ms >= a.from_ms AND t.shipped_ms < a.to_ms) ELSE 0 END"
        " FROM activations a WHERE a.drop_id = ?1 ORDER BY a.from_ms, a.name",
};

int store_activations_init(store *s, sqlite3 *db)
{
	_Static_assert(SA_COUNT <= sizeof(s->activations) / sizeof(s->activations[0]),
	    "store.activations too small");
	for (size_t i = 0; i < SA_COUNT; i++) {
		if (db_prepare(db, sa_sql[i], &s->activations[i]) != 0) {
			return DN_EIO;
		}
	}
	return 0;
}

int coord_store_activation_insert(store *s, const coord_store_activation *r)
{
	sqlite3_stmt *st = s->activations[SA_INSERT];
	db_bind_text(st, 1, r->drop_id);
	db_bind_text(st, 2, r->name);
	db_bind_text(st, 3, r->kind);
	db_bind_i64(st, 4, r->cost_minor);
	db_bind_i64(st, 5, r->from_ms);
	db_bind_i64(st, 6, r->to_ms);
	db_bind_i64(st, 7, r->created_ms);
	return store_step_done(st);
}

int coord_store_activation_list(store *s, const char *drop_id,
    coord_store_activation_fn fn, void *arg)
{
	sqlite3_stmt *st = s->activations[SA_LIST];
	db_bind_text(st, 1, drop_id);
	int rc, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		coord_store_activation r = {db_col_text(st, 0), db_col_text(st, 1),
		    db_col_text(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
		    sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6),
		    (uint64_t)sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 8),
		    (uint64_t)sqlite3_column_int64(st, 9)};
		rv = fn(arg, &r);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=activations", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv == COORD_STORE_STOP ? 0 : rv;
}
