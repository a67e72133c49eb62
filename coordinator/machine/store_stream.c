/*
 * store_stream.c - the SQL of the hub streams (hubsync.c, resync.c): the
 * hubs' registry rows and stream positions, the command outbox, the
 * placements and placement lines hub events touch, hub_seed, the
 * placement floor, and the batch transaction with each request's savepoint
 * inside it. The typed API is declared in store.h ("stream"); the tables
 * are described there too.
 *
 * Every statement is prepared once, by store_stream_init (called from
 * store_init), into store.stream[] and reset after each use; the column
 * numbers of each are read next to its SQL below. Read failures are
 * logged here and returned as DN_EIO, never read as "no row".
 * Thread model: the machine's thread only, like the rest of the store.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

enum {
	SS_SAVEPOINT,
	SS_RELEASE,
	SS_ROLLBACK_TO,
	SS_HUB_UPSERT,
	SS_HUB_POSITIONS,
	SS_HUB_OFFERED,
	SS_HUB_INCARNATION,
	SS_HUB_RESET,
	SS_CMD_LIST,
	SS_CMD_TRIM,
	SS_CMD_CLEAR,
	SS_CMD_DELIVERED,
	SS_PLACEMENT_GET,
	SS_PLACEMENT_PICKED,
	SS_PLACEMENT_SHIPPED,
	SS_PLACEMENT_CLOSE,
	SS_PLACEMENT_STATE,
	SS_PLACEMENTS_LIVE,
	SS_PLACEMENT_FLOOR,
	SS_PLINE_GET,
	SS_PLINES_LIST,
	SS_PLINE_SHIP,
	SS_PLINE_SHORT,
	SS_RESEND_LINES,
	SS_ORDER_GET,
	SS_TRANSFER_CANCEL,
	SS_SEED_CLEAR,
	SS_SEED_FILL,
	SS_SEED_LIST,
	SS_COUNT
};

_Static_assert(SS_COUNT <= sizeof(((store *)0)->stream) / sizeof(sqlite3_stmt *),
    "store.stream[] (store.h) holds every statement of store_stream.c");

/* The savepoint every hubsync request runs in (store_stream_request_*). */
#define SS_REQUEST "hubsync_request"

static const char *const stream_sql[SS_COUNT] = {
    [SS_SAVEPOINT] = "SAVEPOINT " SS_REQUEST,
    [SS_RELEASE] = "RELEASE " SS_REQUEST,
    [SS_ROLLBACK_TO] = "ROLLBACK TO " SS_REQUEST,
    [SS_HUB_UPSERT] = "INSERT INTO hubs(id, name, lat, lon, radius_km, term_url)"
        " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET name=?2,"
        " lat=?3, lon=?4, radius_km=?5, term_url=?6",
    [SS_HUB_POSITIONS] = "UPDATE hubs SET cmd_acked=?2, event_applied=?3 WHERE id=?1",
    [SS_HUB_OFFERED] = "UPDATE hubs SET cmd_offered=?2 WHERE id=?1",
    [SS_HUB_INCARNATION] = "UPDATE hubs SET incarnation=?2 WHERE id=?1",
    [SS_HUB_RESET] = "UPDATE hubs SET incarnation=?2, cmd_seq=0, cmd_acked=0,"
        " cmd_offered=0, event_applied=0 WHERE id=?1",
    /* 0 payload */
    [SS_CMD_LIST] = "SELECT payload FROM commands WHERE hub=?1 AND seq>?2"
        " ORDER BY seq LIMIT ?3",
    [SS_CMD_TRIM] = "DELETE FROM commands WHERE hub=?1 AND seq<=?2",
    [SS_CMD_CLEAR] = "DELETE FROM commands WHERE hub=?1",
    /* The first ack of a placement's command is its delivery; a command
     * sent again (resync) keeps the first times. */
    [SS_CMD_DELIVERED] = "UPDATE placements SET delivered_ms=?3, queued_ms=?4"
        " WHERE id IN (SELECT placement_id FROM commands WHERE hub=?1 AND seq<=?2"
        " AND placement_id > 0) AND delivered_ms = 0",
    /* 0 order_id, 1 hub, 2 state, 3 kind */
    [SS_PLACEMENT_GET] = "SELECT order_id, hub, state, kind FROM placements WHERE id=?1",
    [SS_PLACEMENT_PICKED] = "UPDATE placements SET picked_ms=?2,"
        " state=CASE state WHEN 'open' THEN 'picked' ELSE state END WHERE id=?1",
    [SS_PLACEMENT_SHIPPED] = "UPDATE placements SET shipped_ms=?2, state='shipped',"
        " tracking=?3 WHERE id=?1",
    [SS_PLACEMENT_CLOSE] = "UPDATE placements SET state='shorted' WHERE id=?1"
        " AND NOT EXISTS (SELECT 1 FROM placement_lines WHERE placement_id=?1"
        " AND qty > shipped + shorted) AND state <> 'shipped'",
    [SS_PLACEMENT_STATE] = "UPDATE placements SET state=?2 WHERE id=?1",
    /* 0 id */
    [SS_PLACEMENTS_LIVE] = "SELECT id FROM placements WHERE hub=?1"
        " AND state IN ('open', 'picked') ORDER BY id",
    [SS_PLACEMENT_FLOOR] = "INSERT INTO meta(key, value) VALUES('placement_floor', ?1)"
        " ON CONFLICT(key) DO UPDATE SET value = max(value, ?1)",
    /* 0 qty - shipped - shorted */
    [SS_PLINE_GET] = "SELECT qty - shipped - shorted FROM placement_lines"
        " WHERE placement_id=?1 AND sku=?2",
    /* 0 sku, 1 qty - shipped - shorted, 2 gift */
    [SS_PLINES_LIST] = "SELECT sku, qty - shipped - shorted, gift FROM"
        " placement_lines WHERE placement_id=?1",
    [SS_PLINE_SHIP] = "UPDATE placement_lines SET shipped=shipped+?3"
        " WHERE placement_id=?1 AND sku=?2",
    [SS_PLINE_SHORT] = "UPDATE placement_lines SET shorted=shorted+?3"
        " WHERE placement_id=?1 AND sku=?2",
    /* 0 sku, 1 open, 2 gift, 3 kind, 4 placed_ms, 5 key, 6 customer,
     * 7 tier, 8 received_ms */
    [SS_RESEND_LINES] = "SELECT l.sku, l.qty - l.shipped - l.shorted, l.gift,"
        " p.kind, p.placed_ms, COALESCE(o.order_key, t.id, ''),"
        " COALESCE(o.customer, 'to:' || t.to_hub, ''), COALESCE(o.tier, ''),"
        " COALESCE(o.received_ms, p.placed_ms)"
        " FROM placements p JOIN placement_lines l ON l.placement_id = p.id"
        " LEFT JOIN orders o ON o.id = p.order_id AND p.kind = 'order'"
        " LEFT JOIN transfers t ON t.placement_id = p.id AND p.kind = 'transfer'"
        " WHERE p.id = ?1 AND l.qty - l.shipped - l.shorted > 0 ORDER BY l.sku",
    /* 0 order_key, 1 customer, 2 lat, 3 lon */
    [SS_ORDER_GET] = "SELECT order_key, customer, lat, lon FROM orders WHERE id=?1",
    [SS_TRANSFER_CANCEL] = "UPDATE transfers SET state='cancelled' WHERE"
        " placement_id=?1 AND state='picking'",
    [SS_SEED_CLEAR] = "DELETE FROM hub_seed WHERE hub=?1",
    [SS_SEED_FILL] = "INSERT INTO hub_seed(hub, sku, on_hand) SELECT hub, sku, on_hand"
        " FROM stock WHERE hub=?1 AND on_hand > 0 ORDER BY sku LIMIT ?2",
    /* 0 sku, 1 on_hand */
    [SS_SEED_LIST] = "SELECT sku, on_hand FROM hub_seed WHERE hub=?1 ORDER BY sku"
        " LIMIT ?2",
};

int store_stream_init(store *s, sqlite3 *db)
{
	for (size_t i = 0; i < SS_COUNT; i++) {
		assert(stream_sql[i] != NULL);
		if (db_prepare(db, stream_sql[i], &s->stream[i]) != 0) {
			return DN_EIO;
		}
	}
	return 0;
}

static sqlite3 *stream_db(store *s)
{
	return sqlite3_db_handle(s->stream[SS_SAVEPOINT]);
}

/* Steps a statement that returns no row, then resets it. 0 or DN_EIO. */
static int stream_done(store *s, int which)
{
	return store_step_done(s->stream[which]);
}

/* A failed step of a statement that returns rows: logged, reset. */
static int stream_fail(store *s, int which, int rc)
{
	sqlite3_stmt *st = s->stream[which];
	log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
	    sqlite3_errmsg(stream_db(s)), sqlite3_sql(st));
	sqlite3_reset(st);
	return DN_EIO;
}

/* Copies a text column, truncated to len - 1 bytes. */
static void stream_col_copy(sqlite3_stmt *st, int col, char *dst, size_t len)
{
	snprintf(dst, len, "%s", db_col_text(st, col));
}

/* ---- transactions ---- */

int store_stream_batch_begin(store *s)
{
	return db_begin(stream_db(s));
}

int store_stream_batch_commit(store *s)
{
	return db_commit(stream_db(s));
}

void store_stream_batch_rollback(store *s)
{
	db_rollback(stream_db(s));
}

int store_stream_request_open(store *s)
{
	return stream_done(s, SS_SAVEPOINT);
}

int store_stream_request_close(store *s)
{
	return stream_done(s, SS_RELEASE);
}

int store_stream_request_undo(store *s)
{
	/* Some errors (I/O, full disk) end the whole transaction in SQLite;
	 * then there is no savepoint left to go back to. */
	if (sqlite3_get_autocommit(stream_db(s)) || stream_done(s, SS_ROLLBACK_TO) != 0 ||
	    stream_done(s, SS_RELEASE) != 0) {
		return DN_EIO;
	}
	return 0;
}

/* ---- hubs ---- */

int store_stream_hub_upsert(store *s, const store_stream_hub *h)
{
	sqlite3_stmt *st = s->stream[SS_HUB_UPSERT];
	db_bind_text(st, 1, h->id);
	db_bind_text(st, 2, h->name);
	db_bind_double(st, 3, h->lat);
	db_bind_double(st, 4, h->lon);
	db_bind_double(st, 5, h->radius_km);
	db_bind_text(st, 6, h->term_url);
	return stream_done(s, SS_HUB_UPSERT);
}

int store_stream_hub_positions_set(store *s, const char *hub, uint64_t cmd_acked,
    uint64_t event_applied)
{
	sqlite3_stmt *st = s->stream[SS_HUB_POSITIONS];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)cmd_acked);
	db_bind_i64(st, 3, (int64_t)event_applied);
	return stream_done(s, SS_HUB_POSITIONS);
}

int store_stream_hub_offered_set(store *s, const char *hub, uint64_t cmd_offered)
{
	sqlite3_stmt *st = s->stream[SS_HUB_OFFERED];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)cmd_offered);
	return stream_done(s, SS_HUB_OFFERED);
}

int store_stream_hub_incarnation_set(store *s, const char *hub, uint64_t incarnation)
{
	sqlite3_stmt *st = s->stream[SS_HUB_INCARNATION];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)incarnation);
	return stream_done(s, SS_HUB_INCARNATION);
}

int store_stream_hub_reset(store *s, const char *hub, uint64_t incarnation)
{
	sqlite3_stmt *st = s->stream[SS_HUB_RESET];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)incarnation);
	return stream_done(s, SS_HUB_RESET);
}

/* ---- the command outbox ---- */

int store_stream_cmds_list(store *s, const char *hub, uint64_t after, size_t max,
    store_stream_cmd_fn fn, void *arg)
{
	sqlite3_stmt *st = s->stream[SS_CMD_LIST];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)after);
	db_bind_i64(st, 3, (int64_t)max);
	int rc = SQLITE_DONE, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		rv = fn(arg, b, (size_t)len);
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return stream_fail(s, SS_CMD_LIST, rc);
	}
	sqlite3_reset(st);
	return rv;
}

int store_stream_cmds_trim(store *s, const char *hub, uint64_t acked)
{
	sqlite3_stmt *st = s->stream[SS_CMD_TRIM];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)acked);
	return stream_done(s, SS_CMD_TRIM);
}

int store_stream_cmds_delivered(store *s, const char *hub, uint64_t acked,
    int64_t delivered_ms, int64_t queued_ms)
{
	sqlite3_stmt *st = s->stream[SS_CMD_DELIVERED];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)acked);
	db_bind_i64(st, 3, delivered_ms);
	db_bind_i64(st, 4, queued_ms);
	return stream_done(s, SS_CMD_DELIVERED);
}

int store_stream_cmds_clear(store *s, const char *hub)
{
	db_bind_text(s->stream[SS_CMD_CLEAR], 1, hub);
	return stream_done(s, SS_CMD_CLEAR);
}

/* ---- placements and their lines ---- */

int store_stream_placement_get(store *s, int64_t id, store_stream_placement *out)
{
	sqlite3_stmt *st = s->stream[SS_PLACEMENT_GET];
	db_bind_i64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return DN_ENOENT;
	}
	if (rc != SQLITE_ROW) {
		return stream_fail(s, SS_PLACEMENT_GET, rc);
	}
	out->order_id = sqlite3_column_int64(st, 0);
	stream_col_copy(st, 1, out->hub, sizeof(out->hub));
	stream_col_copy(st, 2, out->state, sizeof(out->state));
	out->transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
	sqlite3_reset(st);
	return 0;
}

int store_stream_placement_picked(store *s, int64_t id, int64_t time_ms)
{
	sqlite3_stmt *st = s->stream[SS_PLACEMENT_PICKED];
	db_bind_i64(st, 1, id);
	db_bind_i64(st, 2, time_ms);
	return stream_done(s, SS_PLACEMENT_PICKED);
}

int store_stream_placement_shipped(store *s, int64_t id, int64_t time_ms,
    const char *tracking)
{
	sqlite3_stmt *st = s->stream[SS_PLACEMENT_SHIPPED];
	db_bind_i64(st, 1, id);
	db_bind_i64(st, 2, time_ms);
	db_bind_text(st, 3, tracking);
	return stream_done(s, SS_PLACEMENT_SHIPPED);
}

int store_stream_placement_close(store *s, int64_t id)
{
	db_bind_i64(s->stream[SS_PLACEMENT_CLOSE], 1, id);
	return stream_done(s, SS_PLACEMENT_CLOSE);
}

int store_stream_placement_refused(store *s, int64_t id)
{
	sqlite3_stmt *st = s->stream[SS_PLACEMENT_STATE];
	db_bind_i64(st, 1, id);
	db_bind_text(st, 2, "refused");
	return stream_done(s, SS_PLACEMENT_STATE);
}

int store_stream_placements_live(store *s, const char *hub, store_stream_id_fn fn,
    void *arg)
{
	sqlite3_stmt *st = s->stream[SS_PLACEMENTS_LIVE];
	db_bind_text(st, 1, hub);
	int rc = SQLITE_DONE, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rv = fn(arg, sqlite3_column_int64(st, 0));
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return stream_fail(s, SS_PLACEMENTS_LIVE, rc);
	}
	sqlite3_reset(st);
	return rv;
}

int store_stream_placement_floor_raise(store *s, uint64_t floor)
{
	db_bind_i64(s->stream[SS_PLACEMENT_FLOOR], 1, (int64_t)floor);
	return stream_done(s, SS_PLACEMENT_FLOOR);
}

int store_stream_pline_open(store *s, int64_t placement, const char *sku,
    int64_t *open)
{
	sqlite3_stmt *st = s->stream[SS_PLINE_GET];
	db_bind_i64(st, 1, placement);
	db_bind_text(st, 2, sku);
	int rc = sqlite3_step(st);
	*open = 0;
	if (rc == SQLITE_ROW) {
		*open = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE) {
		return stream_fail(s, SS_PLINE_GET, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int store_stream_plines_get(store *s, int64_t placement, store_stream_pline *lines,
    size_t max, size_t *n)
{
	sqlite3_stmt *st = s->stream[SS_PLINES_LIST];
	db_bind_i64(st, 1, placement);
	int rc = SQLITE_DONE;
	*n = 0;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_stream_pline *l = &lines[(*n)++];
		stream_col_copy(st, 0, l->sku, sizeof(l->sku));
		l->open = sqlite3_column_int64(st, 1);
		l->gift = sqlite3_column_int(st, 2) != 0;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return stream_fail(s, SS_PLINES_LIST, rc);
	}
	sqlite3_reset(st);
	return 0;
}

/* shipped += qty or shorted += qty on one line. */
static int stream_pline_add(store *s, int which, int64_t placement, const char *sku,
    int64_t qty)
{
	sqlite3_stmt *st = s->stream[which];
	db_bind_i64(st, 1, placement);
	db_bind_text(st, 2, sku);
	db_bind_i64(st, 3, qty);
	return stream_done(s, which);
}

int store_stream_pline_ship(store *s, int64_t placement, const char *sku, int64_t qty)
{
	return stream_pline_add(s, SS_PLINE_SHIP, placement, sku, qty);
}

int store_stream_pline_short(store *s, int64_t placement, const char *sku, int64_t qty)
{
	return stream_pline_add(s, SS_PLINE_SHORT, placement, sku, qty);
}

/* The first row of SS_RESEND_LINES names the placement for all. */
static void stream_resend_head(sqlite3_stmt *st, store_stream_resend *out)
{
	out->transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
	stream_col_copy(st, 5, out->key, sizeof(out->key));
	stream_col_copy(st, 6, out->customer, sizeof(out->customer));
	stream_col_copy(st, 7, out->tier, sizeof(out->tier));
	out->since_ms = out->transfer ? sqlite3_column_int64(st, 4) :
	    sqlite3_column_int64(st, 8);
}

int store_stream_resend_get(store *s, int64_t placement, store_stream_resend *out)
{
	enum { LINES = sizeof(out->lines) / sizeof(out->lines[0]) };
	sqlite3_stmt *st = s->stream[SS_RESEND_LINES];
	memset(out, 0, sizeof(*out));
	db_bind_i64(st, 1, placement);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < LINES) {
		if (out->n == 0) {
			stream_resend_head(st, out);
		}
		store_stream_pline *l = &out->lines[out->n++];
		stream_col_copy(st, 0, l->sku, sizeof(l->sku));
		l->open = sqlite3_column_int64(st, 1);
		l->gift = sqlite3_column_int(st, 2) != 0;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return stream_fail(s, SS_RESEND_LINES, rc);
	}
	sqlite3_reset(st);
	return 0;
}

int store_stream_order_get(store *s, int64_t id, store_stream_order *out)
{
	sqlite3_stmt *st = s->stream[SS_ORDER_GET];
	db_bind_i64(st, 1, id);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		/* The placement names it: a missing order is the file's fault. */
		return stream_fail(s, SS_ORDER_GET, rc);
	}
	stream_col_copy(st, 0, out->key, sizeof(out->key));
	stream_col_copy(st, 1, out->customer, sizeof(out->customer));
	out->lat = sqlite3_column_double(st, 2);
	out->lon = sqlite3_column_double(st, 3);
	sqlite3_reset(st);
	return 0;
}

int store_stream_transfer_cancel(store *s, int64_t placement)
{
	db_bind_i64(s->stream[SS_TRANSFER_CANCEL], 1, placement);
	return stream_done(s, SS_TRANSFER_CANCEL);
}

/* ---- hub_seed ---- */

int store_stream_seed_clear(store *s, const char *hub)
{
	db_bind_text(s->stream[SS_SEED_CLEAR], 1, hub);
	return stream_done(s, SS_SEED_CLEAR);
}

int store_stream_seed_fill(store *s, const char *hub, size_t max, size_t *seeded)
{
	sqlite3_stmt *st = s->stream[SS_SEED_FILL];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)max);
	*seeded = 0;
	int rv = stream_done(s, SS_SEED_FILL);
	if (rv == 0) {
		*seeded = (size_t)sqlite3_changes(stream_db(s));
	}
	return rv;
}

int store_stream_seed_list(store *s, const char *hub, size_t max,
    store_stream_seed_fn fn, void *arg)
{
	sqlite3_stmt *st = s->stream[SS_SEED_LIST];
	db_bind_text(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)max);
	int rc = SQLITE_DONE, rv = 0;
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rv = fn(arg, db_col_text(st, 0), sqlite3_column_int64(st, 1));
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		return stream_fail(s, SS_SEED_LIST, rc);
	}
	sqlite3_reset(st);
	return rv;
}
