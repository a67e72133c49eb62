/*
 * store_auth.c - the identity area of the store: each operator's highest
 * accepted request counter (table peer_counters, schema version 6), so a
 * restart cannot reopen a replay window (SEMANTICS.md "Transport and
 * identity"). Thread model: the loop thread owns the store.
 */
#include <stddef.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

int store_auth_init(store *s, sqlite3 *db)
{
	s->auth_db = db;
	if (db_prepare(db, "SELECT counter FROM peer_counters WHERE peer=?1",
	    &s->auth[0]) != 0 ||
	    db_prepare(db, "INSERT INTO peer_counters(peer, counter) VALUES(?1,?2)"
	    " ON CONFLICT(peer) DO UPDATE SET counter=max(counter, excluded.counter)",
	    &s->auth[1]) != 0) {
		return DN_EIO;
	}
	return 0;
}

int coord_store_peer_counter_get(store *s, const char *peer, uint64_t *out)
{
	sqlite3_stmt *st = s->auth[0];
	*out = 0;
	db_bind_text(st, 1, peer);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(s->auth_db), sqlite3_sql(st));
		return DN_EIO;
	}
	return 0;
}

int coord_store_peer_counter_save(store *s, const char *peer, uint64_t counter)
{
	db_bind_text(s->auth[1], 1, peer);
	sqlite3_bind_int64(s->auth[1], 2, (sqlite3_int64)counter);
	return store_step_done(s->auth[1]);
}
