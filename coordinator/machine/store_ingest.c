/*
 * store_ingest.c - the SQL of the storefront path and of placements
 * (ingest.c, placement.c): orders, order_lines, placements,
 * placement_lines, commands, hubs.cmd_seq, stock, buyer_counts,
 * drop_tiers.sold, drops' counts and customers. Every statement is
 * prepared once by coord_store_ingest_init; each call binds, steps,
 * resets and clears its own statement, so the column numbers live next to
 * the SQL below, and strings are bound without a copy (db_bind_text_ref:
 * the caller's string outlives the call). Loop thread only (the store's connection is the loop's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "store.h"

int coord_store_ingest_init(store *s, sqlite3 *db)
{
	store_ingest_stmts *q = &s->ingest;
	q->db = db;
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} t[] = {
	    {&q->order_find, "SELECT id, status, ack, hold_expires_ms, drop_id, customer,"
	        " gift_sku FROM orders WHERE storefront=?1 AND order_key=?2"},
	    {&q->order_ack, "SELECT ack FROM orders WHERE id=?1"},
	    {&q->order_status, "UPDATE orders SET status=?2, ack=?3 WHERE id=?1"},
	    {&q->order_insert, "INSERT INTO orders(storefront, order_key, customer, status,"
	        " hub, lat, lon, received_ms, ack, route, drop_id, tier, nearest_hub, gift_sku,"
	        " hold_expires_ms, units, arrived_ms)"
	        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"},
	    {&q->line_insert, "INSERT INTO order_lines(order_id, sku, qty) VALUES(?1,?2,?3)"},
	    {&q->line_backorder, "UPDATE order_lines SET backordered=backordered+?3"
	        " WHERE order_id=?1 AND sku=?2"},
	    {&q->placement_insert, "INSERT INTO placements(id, order_id, hub, state, placed_ms)"
	        " VALUES(" STORE_PLACEMENT_NEXT_ID ",?1,?2,?4,?3)"},
	    {&q->pline_insert, "INSERT INTO placement_lines(placement_id, sku, qty, gift)"
	        " VALUES(?1,?2,?3,?4)"},
	    {&q->placement_state, "UPDATE placements SET state=?2 WHERE id=?1"},
	    {&q->placements_held, "SELECT id FROM placements WHERE order_id=?1"
	        " AND state='held'"},
	    {&q->placement_send, "SELECT p.hub, o.order_key, o.customer, l.sku, l.qty,"
	        " l.gift, o.tier, o.received_ms FROM placements p JOIN orders o ON o.id ="
	        " p.order_id JOIN placement_lines l ON l.placement_id = p.id WHERE p.id = ?1"},
	    {&q->cmd_insert, "INSERT INTO commands(hub, seq, payload, placement_id)"
	        " VALUES(?1,?2,?3,?4)"},
	    {&q->hub_cmd_seq, "UPDATE hubs SET cmd_seq=?2 WHERE id=?1"},
	    {&q->stock_upsert, "INSERT INTO stock(hub, sku, on_hand, allocated, holdback,"
	        " received, shipped, lost, adjusted, returned, transfer_in, transfer_out)"
	        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
	        " ON CONFLICT(hub, sku) DO UPDATE SET on_hand=?3, allocated=?4,"
	        " holdback=?5, received=?6, shipped=?7, lost=?8, adjusted=?9, returned=?10,"
	        " transfer_in=?11, transfer_out=?12"},
	    {&q->buyer_get, "SELECT qty FROM buyer_counts WHERE drop_id=?1 AND customer=?2"
	        " AND sku=?3"},
	    {&q->buyer_add, "INSERT INTO buyer_counts(drop_id, customer, sku, qty)"
	        " VALUES(?1,?2,?3,?4)"
	        " ON CONFLICT(drop_id, customer, sku) DO UPDATE SET qty=qty+?4"},
	    {&q->tier_sold, "UPDATE drop_tiers SET sold=sold+?3 WHERE drop_id=?1 AND idx=?2"},
	    {&q->drop_counts, "UPDATE drops SET accepted=accepted+?2, gifts=gifts+?3"
	        " WHERE id=?1"},
	    {&q->customer_get, "SELECT orders FROM customers WHERE customer=?1"},
	    {&q->customer_add, "INSERT INTO customers(customer, first_order_id, first_drop,"
	        " gifted, orders) VALUES(?1,?2,?3,?4,1)"
	        " ON CONFLICT(customer) DO UPDATE SET orders=orders+1"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (db_prepare(db, t[i].sql, t[i].st) != 0) {
			return DN_EIO;
		}
	}
	return db_txn_init(&q->txn, db, NULL);
}

int coord_store_begin(store *s)
{
	return db_txn_begin(&s->ingest.txn);
}

int coord_store_commit(store *s)
{
	return db_txn_commit(&s->ingest.txn);
}

void coord_store_rollback(store *s)
{
	db_rollback(s->ingest.db);
}

int64_t coord_store_changes(store *s)
{
	return (int64_t)sqlite3_total_changes64(s->ingest.db);
}

/* Ends a read: resets st; a step result that is neither a row nor the end
 * is logged and becomes DN_EIO. */
static int ingest_read_end(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store.step_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(sqlite3_db_handle(st)), sqlite3_sql(st));
		return DN_EIO;
	}
	return 0;
}

/* A malloc'd copy of blob column i of st's current row. */
static int ingest_blob_copy(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
{
	const void *b = sqlite3_column_blob(st, i);
	int n = sqlite3_column_bytes(st, i);
	*out = malloc(n > 0 ? (size_t)n : 1);
	*len = 0;
	if (*out == NULL) {
		return DN_ENOMEM;
	}
	if (n > 0 && b != NULL) {
		memcpy(*out, b, (size_t)n);
		*len = (size_t)n;
	}
	return 0;
}

int coord_store_order_find(store *s, const char *storefront, const char *key,
    coord_store_order *out)
{
	sqlite3_stmt *st = s->ingest.order_find;
	memset(out, 0, sizeof(*out));
	db_bind_text_ref(st, 1, storefront);
	db_bind_text_ref(st, 2, key);
	int rc = sqlite3_step(st);
	int rv = rc == SQLITE_ROW ? 0 : DN_ENOENT;
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->status = sqlite3_column_int(st, 1);
		out->hold_expires_ms = sqlite3_column_int64(st, 3);
		snprintf(out->drop_id, sizeof(out->drop_id), "%s", db_col_text(st, 4));
		snprintf(out->customer, sizeof(out->customer), "%s", db_col_text(st, 5));
		snprintf(out->gift_sku, sizeof(out->gift_sku), "%s", db_col_text(st, 6));
		rv = ingest_blob_copy(st, 2, &out->ack, &out->ack_len);
	}
	int erv = ingest_read_end(st, rc);
	if (erv != 0) {
		free(out->ack);
		out->ack = NULL;
		return erv;
	}
	return rv;
}

int coord_store_order_ack_get(store *s, int64_t id, uint8_t **ack, size_t *len)
{
	sqlite3_stmt *st = s->ingest.order_ack;
	*ack = NULL;
	*len = 0;
	db_bind_i64(st, 1, id);
	int rc = sqlite3_step(st);
	int rv = rc == SQLITE_ROW ? ingest_blob_copy(st, 0, ack, len) : DN_ENOENT;
	int erv = ingest_read_end(st, rc);
	if (erv != 0) {
		free(*ack);
		*ack = NULL;
		return erv;
	}
	return rv;
}

int coord_store_order_status_set(store *s, int64_t id, int status,
    const uint8_t *ack, size_t ack_len)
{
	sqlite3_stmt *st = s->ingest.order_status;
	db_bind_i64(st, 1, id);
	db_bind_i64(st, 2, status);
	db_bind_blob_ref(st, 3, ack, ack_len);
	return store_step_done(st);
}

int coord_store_order_insert(store *s, const coord_store_order_row *o, int64_t *id)
{
	sqlite3_stmt *st = s->ingest.order_insert;
	db_bind_text_ref(st, 1, o->storefront);
	db_bind_text_ref(st, 2, o->order_key);
	db_bind_text_ref(st, 3, o->customer);
	db_bind_i64(st, 4, o->status);
	db_bind_text_ref(st, 5, o->hub);
	db_bind_double(st, 6, o->lat);
	db_bind_double(st, 7, o->lon);
	db_bind_i64(st, 8, o->received_ms);
	db_bind_blob_ref(st, 9, o->ack, o->ack_len);
	db_bind_blob_ref(st, 10, o->route, o->route_len);
	db_bind_text_ref(st, 11, o->drop_id);
	db_bind_text_ref(st, 12, o->tier);
	db_bind_text_ref(st, 13, o->nearest_hub);
	db_bind_text_ref(st, 14, o->gift_sku);
	db_bind_i64(st, 15, o->hold_expires_ms);
	db_bind_i64(st, 16, o->units);
	db_bind_i64(st, 17, o->arrived_ms);
	int rv = store_step_done(st);
	*id = rv == 0 ? sqlite3_last_insert_rowid(s->ingest.db) : 0;
	return rv;
}

int coord_store_order_line_insert(store *s, int64_t order_id, const char *sku,
    int64_t qty)
{
	sqlite3_stmt *st = s->ingest.line_insert;
	db_bind_i64(st, 1, order_id);
	db_bind_text_ref(st, 2, sku);
	db_bind_i64(st, 3, qty);
	return store_step_done(st);
}

int coord_store_order_line_backorder(store *s, int64_t order_id, const char *sku,
    int64_t qty)
{
	sqlite3_stmt *st = s->ingest.line_backorder;
	db_bind_i64(st, 1, order_id);
	db_bind_text_ref(st, 2, sku);
	db_bind_i64(st, 3, qty);
	return store_step_done(st);
}

int coord_store_placement_insert(store *s, int64_t order_id, const char *hub,
    bool held, int64_t placed_ms, int64_t *pid)
{
	sqlite3_stmt *st = s->ingest.placement_insert;
	db_bind_i64(st, 1, order_id);
	db_bind_text_ref(st, 2, hub);
	db_bind_i64(st, 3, placed_ms);
	db_bind_text_ref(st, 4, held ? "held" : "open");
	int rv = store_step_done(st);
	*pid = rv == 0 ? sqlite3_last_insert_rowid(s->ingest.db) : 0;
	return rv;
}

int coord_store_placement_line_insert(store *s, int64_t pid, const char *sku,
    int64_t qty, bool gift)
{
	sqlite3_stmt *st = s->ingest.pline_insert;
	db_bind_i64(st, 1, pid);
	db_bind_text_ref(st, 2, sku);
	db_bind_i64(st, 3, qty);
	db_bind_i64(st, 4, gift);
	return store_step_done(st);
}

int coord_store_placement_state_set(store *s, int64_t pid, const char *state)
{
	sqlite3_stmt *st = s->ingest.placement_state;
	db_bind_i64(st, 1, pid);
	db_bind_text_ref(st, 2, state);
	return store_step_done(st);
}

int coord_store_placements_held(store *s, int64_t order_id, int64_t *pids,
    size_t max, size_t *n)
{
	sqlite3_stmt *st = s->ingest.placements_held;
	*n = 0;
	db_bind_i64(st, 1, order_id);
	int rc = SQLITE_DONE;
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		pids[(*n)++] = sqlite3_column_int64(st, 0);
	}
	return ingest_read_end(st, rc);
}

int coord_store_placement_send_get(store *s, int64_t pid, coord_store_send *out)
{
	sqlite3_stmt *st = s->ingest.placement_send;
	memset(out, 0, sizeof(*out));
	db_bind_i64(st, 1, pid);
	int rc = SQLITE_DONE;
	while (out->nlines < COORD_STORE_SEND_LINES &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->nlines == 0) {
			snprintf(out->hub, sizeof(out->hub), "%s", db_col_text(st, 0));
			snprintf(out->order_key, sizeof(out->order_key), "%s", db_col_text(st, 1));
			snprintf(out->customer, sizeof(out->customer), "%s", db_col_text(st, 2));
			snprintf(out->tier, sizeof(out->tier), "%s", db_col_text(st, 6));
			out->received_ms = sqlite3_column_int64(st, 7);
		}
		size_t i = out->nlines++;
		snprintf(out->lines[i].sku, sizeof(out->lines[i].sku), "%s", db_col_text(st, 3));
		out->lines[i].qty = (uint32_t)sqlite3_column_int64(st, 4);
		out->lines[i].gift = sqlite3_column_int(st, 5) != 0;
	}
	int rv = ingest_read_end(st, rc);
	if (rv != 0) {
		return rv;
	}
	return out->nlines > 0 ? 0 : DN_ENOENT;
}

int coord_store_command_append(store *s, const char *hub, uint64_t seq,
    int64_t placement_id, const uint8_t *buf, size_t len)
{
	sqlite3_stmt *st = s->ingest.cmd_insert;
	db_bind_text_ref(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)seq);
	db_bind_blob_ref(st, 3, buf, len);
	db_bind_i64(st, 4, placement_id);
	return store_step_done(st);
}

int coord_store_hub_cmd_seq_set(store *s, const char *hub, uint64_t seq)
{
	sqlite3_stmt *st = s->ingest.hub_cmd_seq;
	db_bind_text_ref(st, 1, hub);
	db_bind_i64(st, 2, (int64_t)seq);
	return store_step_done(st);
}

int coord_store_stock_upsert(store *s, const coord_store_stock_row *r)
{
	sqlite3_stmt *st = s->ingest.stock_upsert;
	db_bind_text_ref(st, 1, r->hub);
	db_bind_text_ref(st, 2, r->sku);
	db_bind_i64(st, 3, r->on_hand);
	db_bind_i64(st, 4, r->allocated);
	db_bind_i64(st, 5, r->holdback);
	db_bind_i64(st, 6, r->received);
	db_bind_i64(st, 7, r->shipped);
	db_bind_i64(st, 8, r->lost);
	db_bind_i64(st, 9, r->adjusted);
	db_bind_i64(st, 10, r->returned);
	db_bind_i64(st, 11, r->transfer_in);
	db_bind_i64(st, 12, r->transfer_out);
	return store_step_done(st);
}

int coord_store_buyer_count_get(store *s, const char *drop_id,
    const char *customer, const char *sku, uint32_t *bought)
{
	sqlite3_stmt *st = s->ingest.buyer_get;
	db_bind_text_ref(st, 1, drop_id);
	db_bind_text_ref(st, 2, customer);
	db_bind_text_ref(st, 3, sku);
	int rc = sqlite3_step(st);
	*bought = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
	return ingest_read_end(st, rc);
}

int coord_store_buyer_count_add(store *s, const char *drop_id,
    const char *customer, const char *sku, int64_t qty)
{
	sqlite3_stmt *st = s->ingest.buyer_add;
	db_bind_text_ref(st, 1, drop_id);
	db_bind_text_ref(st, 2, customer);
	db_bind_text_ref(st, 3, sku);
	db_bind_i64(st, 4, qty);
	return store_step_done(st);
}

int coord_store_tier_sold_add(store *s, const char *drop_id, int64_t idx,
    int64_t units)
{
	sqlite3_stmt *st = s->ingest.tier_sold;
	db_bind_text_ref(st, 1, drop_id);
	db_bind_i64(st, 2, idx);
	db_bind_i64(st, 3, units);
	return store_step_done(st);
}

int coord_store_drop_counts_add(store *s, const char *drop_id, int64_t accepted,
    int64_t gifts)
{
	sqlite3_stmt *st = s->ingest.drop_counts;
	db_bind_text_ref(st, 1, drop_id);
	db_bind_i64(st, 2, accepted);
	db_bind_i64(st, 3, gifts);
	return store_step_done(st);
}

int coord_store_customer_known(store *s, const char *customer, bool *known)
{
	sqlite3_stmt *st = s->ingest.customer_get;
	db_bind_text_ref(st, 1, customer);
	int rc = sqlite3_step(st);
	*known = rc == SQLITE_ROW;
	return ingest_read_end(st, rc);
}

int coord_store_customer_add(store *s, const char *customer, int64_t order_id,
    const char *first_drop, bool gifted)
{
	sqlite3_stmt *st = s->ingest.customer_add;
	db_bind_text_ref(st, 1, customer);
	db_bind_i64(st, 2, order_id);
	db_bind_text_ref(st, 3, first_drop);
	db_bind_i64(st, 4, gifted);
	return store_step_done(st);
}
