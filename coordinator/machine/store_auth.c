/*
 * store_auth.c - the identity area of the store: each operator's highest
 * accepted request counter (table peer_counters, schema version 6), so a
 * restart cannot reopen a replay window (SEMANTICS.md "Transport and
 * identity"), and each operator write's first answer (table ops_replies,
 * version 9), so a resend of it gets that answer again. Thread model: the
 * loop thread owns the store.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
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
	    &s->auth[1]) != 0 ||
	    db_prepare(db, "SELECT reply FROM ops_replies WHERE peer=?1 AND counter=?2",
	    &s->auth[2]) != 0 ||
	    db_prepare(db, "INSERT OR REPLACE INTO ops_replies(peer, counter, reply)"
	    " VALUES(?1,?2,?3)", &s->auth[3]) != 0 ||
	    db_prepare(db, "DELETE FROM ops_replies WHERE peer=?1 AND counter <"
	    " (SELECT counter FROM ops_replies WHERE peer=?1 ORDER BY counter DESC"
	    " LIMIT 1 OFFSET ?2)", &s->auth[4]) != 0) {
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

int coord_store_ops_reply_get(store *s, const char *peer, uint64_t counter,
    uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = s->auth[2];
	*out = NULL;
	*len = 0;
	db_bind_text(st, 1, peer);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)counter);
	int rc = sqlite3_step(st);
	int rv = 0;
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		const void *b = sqlite3_column_blob(st, 0);
		*out = malloc(n > 0 ? n : 1);
		if (*out == NULL) {
			rv = DN_ENOMEM;
		} else {
			if (n > 0) {
				memcpy(*out, b, n);
			}
			*len = n;
		}
	} else if (rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(s->auth_db), sqlite3_sql(st));
		rv = DN_EIO;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rv;
}

int coord_store_ops_reply_put(store *s, const char *peer, uint64_t counter,
    const uint8_t *reply, size_t len)
{
	db_bind_text(s->auth[3], 1, peer);
	sqlite3_bind_int64(s->auth[3], 2, (sqlite3_int64)counter);
	sqlite3_bind_blob(s->auth[3], 3, len > 0 ? (const void *)reply : (const void *)"",
	    (int)len, SQLITE_TRANSIENT);
	int rv = store_step_done(s->auth[3]);
	if (rv == 0) {
		db_bind_text(s->auth[4], 1, peer);
		sqlite3_bind_int(s->auth[4], 2, STORE_OPS_REPLIES_KEEP - 1);
		rv = store_step_done(s->auth[4]);
	}
	return rv;
}
