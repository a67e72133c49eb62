/*
 * ingest.c - storefront orders: validate, deduplicate, route, allocate,
 * journal and queue the hub command, all in one transaction per batch
 * (group commit); acks leave only after that commit is durable.
 *
 * A batch is every request the bridge had queued when the loop woke. If the
 * commit fails, its outcome is unknown (a failed fsync may still have
 * persisted it): every journalled request in the batch is answered
 * UNAVAILABLE, the in-memory ledger is reloaded from the file, and the
 * storefront's retry with the same key finds out what really happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Reply prepared for one request of the batch. */
typedef struct {
	uint8_t *buf;
	size_t len;
	bool journalled;   /* depends on the batch commit */
	bool accepted;
} ingest_out;

int coord_stock_save(coord *c, const coord_stock *s)
{
	coord_stock_assert(c, s, "write");
	sqlite3_stmt *st = c->store->stock_upsert;
	db_bind_text(st, 1, c->hubs[s->hub].id);
	db_bind_text(st, 2, s->sku);
	db_bind_i64(st, 3, s->row.on_hand);
	db_bind_i64(st, 4, s->row.allocated);
	db_bind_i64(st, 5, s->row.holdback);
	db_bind_i64(st, 6, s->received);
	db_bind_i64(st, 7, s->shipped);
	db_bind_i64(st, 8, s->lost);
	db_bind_i64(st, 9, s->adjusted);
	db_bind_i64(st, 10, s->returned);
	db_bind_i64(st, 11, s->transfer_in);
	db_bind_i64(st, 12, s->transfer_out);
	return store_step_done(st);
}

int coord_place(coord *c, int64_t order_id, const char *order_key,
    const char *customer, int hub, const route_line *lines, const uint32_t *qty,
    size_t nlines, const char *gift_sku, bool held, int64_t now_wall)
{
	(void)order_key;
	(void)customer;
	store *s = c->store;
	coord_hub *h = &c->hubs[hub];
	db_bind_i64(s->placement_insert, 1, order_id);
	db_bind_text(s->placement_insert, 2, h->id);
	db_bind_i64(s->placement_insert, 3, now_wall);
	db_bind_text(s->placement_insert, 4, held ? "held" : "open");
	if (store_step_done(s->placement_insert) != 0) {
		return DN_EIO;
	}
	int64_t pid = sqlite3_last_insert_rowid(c->db);
	for (size_t i = 0; i <= nlines; i++) {
		const char *sku = i < nlines ? lines[i].sku : gift_sku;
		uint32_t q = i < nlines ? qty[i] : 1;
		if (q == 0 || sku == NULL) {
			continue;
		}
		coord_stock *row = coord_stock_get(c, hub, sku, false);
#ifdef DROPNET_SIM_BUG
		if (row != NULL) {
			row->row.allocated += q; /* dropsim's own test: no check */
		}
		if (row == NULL) {
#else
		/* Routing (and the gift check) only offer what sellable covers. */
		if (row == NULL || ledger_allocate(&row->row, q) != 0) {
#endif
			log_error("coord.allocate_failed", "hub=%s sku=%s qty=%u", h->id, sku, q);
			return DN_ESTATE;
		}
		if (coord_stock_save(c, row) != 0) {
			return DN_EIO;
		}
		db_bind_i64(s->pline_insert, 1, pid);
		db_bind_text(s->pline_insert, 2, sku);
		db_bind_i64(s->pline_insert, 3, q);
		db_bind_i64(s->pline_insert, 4, i == nlines);
		if (store_step_done(s->pline_insert) != 0) {
			return DN_EIO;
		}
	}
	return held ? 0 : coord_placement_send(c, pid, now_wall);
}

int coord_placement_send(coord *c, int64_t pid, int64_t now_wall)
{
	store *s = c->store;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT p.hub, o.order_key, o.customer, l.sku, l.qty,"
	    " l.gift, o.tier, o.received_ms FROM placements p JOIN orders o ON o.id = p.order_id JOIN"
	    " placement_lines l ON l.placement_id = p.id WHERE p.id = ?1", -1, &st,
	    NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	enum { LINES = DN_ORDER_LINES_MAX + 1 };
	Dropnet__OrderLine cl[LINES];
	Dropnet__OrderLine *clp[LINES];
	char skus[LINES][DN_ID_MAX + 1];
	char key[DN_ID_MAX + 1] = "", customer[DN_ID_MAX + 1] = "", tier[DN_ID_MAX + 1] = "";
	int64_t received_ms = now_wall;
	int hub = -1;
	size_t ncl = 0;
	while (ncl < LINES && sqlite3_step(st) == SQLITE_ROW) {
		if (hub < 0) {
			hub = coord_hub_find(c, db_col_text(st, 0));
			snprintf(key, sizeof(key), "%s", db_col_text(st, 1));
			snprintf(customer, sizeof(customer), "%s", db_col_text(st, 2));
			snprintf(tier, sizeof(tier), "%s", db_col_text(st, 6));
			received_ms = sqlite3_column_int64(st, 7);
		}
		dropnet__order_line__init(&cl[ncl]);
		snprintf(skus[ncl], sizeof(skus[ncl]), "%s", db_col_text(st, 3));
		cl[ncl].sku = skus[ncl];
		cl[ncl].qty = (uint32_t)sqlite3_column_int64(st, 4);
		cl[ncl].gift = sqlite3_column_int(st, 5) != 0;
		clp[ncl] = &cl[ncl];
		ncl++;
	}
	sqlite3_finalize(st);
	if (hub < 0 || ncl == 0) {
		log_error("coord.placement_empty", "placement=%lld", (long long)pid);
		return DN_ESTATE;
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = key;
	cmd.customer = customer;
	cmd.tier = tier;
	cmd.promised_ms = received_ms + c->cfg.ship_promise_ms;
	cmd.n_lines = ncl;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	int rv = coord_command_queue(c, hub, &cmd);
	if (rv != 0) {
		return rv;
	}
	db_bind_i64(s->placement_state, 1, pid);
	db_bind_text(s->placement_state, 2, "open");
	return store_step_done(s->placement_state);
}

int coord_command_queue(coord *c, int hub, Dropnet__HubCommand *cmd)
{
	store *s = c->store;
	coord_hub *h = &c->hubs[hub];
	cmd->seq = h->cmd_seq + 1;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_command_pack(cmd, &buf, &len) != 0) {
		return DN_ENOMEM;
	}
	db_bind_text(s->cmd_insert, 1, h->id);
	db_bind_i64(s->cmd_insert, 2, (int64_t)cmd->seq);
	sqlite3_bind_blob(s->cmd_insert, 3, buf, (int)len, SQLITE_TRANSIENT);
	int rv = store_step_done(s->cmd_insert);
	free(buf);
	if (rv != 0) {
		return rv;
	}
	db_bind_text(s->hub_cmd_seq, 1, h->id);
	db_bind_i64(s->hub_cmd_seq, 2, (int64_t)cmd->seq);
	if (store_step_done(s->hub_cmd_seq) != 0) {
		return DN_EIO;
	}
	h->cmd_seq = cmd->seq;
	return 0;
}

/* Builds the route_hub view of every hub for the given lines. sellable is
 * nhubs * nlines, row-major by hub. */
static void ingest_route_view(coord *c, const route_line *lines, size_t nlines,
    route_hub *hubs, int64_t *sellable, uint64_t now_mono, int exclude)
{
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		hubs[i].id = h->id;
		hubs[i].lat = h->lat;
		hubs[i].lon = h->lon;
		hubs[i].radius_km = h->radius_km;
		/* Routable, not merely healthy: a hub silent for less than the
		 * grace still takes orders (SEMANTICS.md "Hub health"). */
		hubs[i].healthy = coord_hub_routable(c, h, now_mono) && (int)i != exclude;
		hubs[i].sellable = &sellable[i * nlines];
		for (size_t l = 0; l < nlines; l++) {
			coord_stock *s = coord_stock_get(c, (int)i, lines[l].sku, false);
			sellable[i * nlines + l] = s != NULL ? ledger_sellable(&s->row) : 0;
#ifdef DROPNET_SIM_BUG
			/* dropsim's own test (tests/sim): a coordinator that skips
			 * the sellable check must be caught. Never in a product. */
			sellable[i * nlines + l] += s != NULL ? 1 : 0;
#endif
		}
	}
}

/* Places every take of a routing result, one placement per hub. */
static int ingest_place_takes(coord *c, const route_result *rr, int64_t order_id,
    const char *key, const char *customer, const route_line *lines,
    size_t nlines, const char *gift_sku, bool held, int64_t now_wall)
{
	bool done[DN_HUBS_MAX] = {false};
	for (size_t t = 0; t < rr->ntake; t++) {
		size_t hub = rr->take[t].hub;
		if (done[hub]) {
			continue;
		}
		done[hub] = true;
		uint32_t qty[DN_ORDER_LINES_MAX] = {0};
		for (size_t u = t; u < rr->ntake; u++) {
			if (rr->take[u].hub == hub) {
				qty[rr->take[u].line] += rr->take[u].qty;
			}
		}
		/* The gift rides with the first placement only. */
		int rv = coord_place(c, order_id, key, customer, (int)hub, lines, qty,
		    nlines, t == 0 ? gift_sku : NULL, held, now_wall);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

int coord_reroute(coord *c, int64_t order_id, const char *order_key,
    const char *customer, double lat, double lon, const char *sku, uint32_t qty,
    int exclude, int64_t now_wall)
{
	route_line line = {sku, qty};
	static route_hub hubs[DN_HUBS_MAX];
	static int64_t sellable[DN_HUBS_MAX];
	static route_result rr;
	ingest_route_view(c, &line, 1, hubs, sellable, coord_now_mono_ms(c), exclude);
	if (route_order(hubs, c->nhubs, &line, 1, lat, lon, c->split, &rr) != 0) {
		return DN_EINVAL;
	}
	if (rr.status != ROUTE_ACCEPTED) {
		db_bind_i64(c->store->line_backorder, 1, order_id);
		db_bind_text(c->store->line_backorder, 2, sku);
		db_bind_i64(c->store->line_backorder, 3, qty);
		return store_step_done(c->store->line_backorder) != 0 ? DN_EIO : 0;
	}
	int rv = ingest_place_takes(c, &rr, order_id, order_key, customer, &line, 1,
	    NULL, false, now_wall);
	return rv != 0 ? rv : 1;
}

static void ingest_reply_simple(ingest_out *o, Dropnet__Status status,
    const char *key, const char *field, const char *msg)
{
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.order_key = (char *)(key ? key : "");
	ack.field = (char *)(field ? field : "");
	ack.message = (char *)(msg ? msg : "");
	if (codec_order_ack_pack(&ack, &o->buf, &o->len) != 0) {
		o->buf = NULL;
		o->len = 0;
	}
}

static Dropnet__Status route_status_wire(route_status s)
{
	switch (s) {
	case ROUTE_ACCEPTED: return DROPNET__STATUS__ACCEPTED;
	case ROUTE_SOLD_OUT: return DROPNET__STATUS__SOLD_OUT;
	default: return DROPNET__STATUS__NO_HUB_IN_RANGE;
	}
}

/* Routing scratch: big, so kept off the stack; loop thread only. */
static route_hub ingest_hubs[DN_HUBS_MAX];
static int64_t ingest_sellable[DN_HUBS_MAX * DN_ORDER_LINES_MAX];
static route_result ingest_rr;

static Dropnet__Status drop_status_wire(drop_verdict v)
{
	switch (v) {
	case DROP_NOT_OPEN: return DROPNET__STATUS__NOT_OPEN;
	case DROP_WINDOW_CLOSED: return DROPNET__STATUS__CLOSED;
	case DROP_TIER_NOT_ALLOWED: return DROPNET__STATUS__TIER_NOT_ALLOWED;
	case DROP_LIMIT_REACHED: return DROPNET__STATUS__LIMIT_REACHED;
	case DROP_QUOTA_EXHAUSTED: return DROPNET__STATUS__SOLD_OUT;
	default: return DROPNET__STATUS__ACCEPTED;
	}
}

static const char *drop_verdict_message(drop_verdict v)
{
	switch (v) {
	case DROP_NOT_OPEN: return "the drop or this tier is not open yet";
	case DROP_WINDOW_CLOSED: return "the drop or this tier has closed";
	case DROP_TIER_NOT_ALLOWED: return "this tier is not open to this buyer";
	case DROP_LIMIT_REACHED: return "per-buyer limit reached for this drop";
	case DROP_QUOTA_EXHAUSTED: return "this tier has sold its quota";
	default: return "";
	}
}

/* Re-packs a journalled ack for the reply: order id filled in, duplicate
 * flag as given. */
static int ingest_reply_journal(const void *blob, size_t blen, int64_t id,
    bool duplicate, ingest_out *o)
{
	Dropnet__OrderAck *first = NULL;
	int urv = codec_order_ack_unpack(blob, blen, &first);
	if (urv != 0) {
		codec_order_ack_free(first);
		log_error("order.journal_corrupt", "id=%lld", (long long)id);
		return DN_EIO;
	}
	first->duplicate = duplicate;
	first->order_id = (uint64_t)id;
	int rv = codec_order_ack_pack(first, &o->buf, &o->len);
	o->accepted = first->status == DROPNET__STATUS__ACCEPTED;
	o->journalled = true; /* the first answer may be uncommitted yet */
	codec_order_ack_free(first);
	return rv;
}

/* Rewrites a journalled order's status and ack (confirm, lapse). */
int coord_order_set_status(coord *c, int64_t id, Dropnet__Status status,
    const char *message)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT ack FROM orders WHERE id=?1", -1, &st,
	    NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, id);
	Dropnet__OrderAck *ack = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		codec_order_ack_unpack(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &ack);
	}
	sqlite3_finalize(st);
	if (ack == NULL) {
		return DN_EIO;
	}
	ack->status = status;
	char *old_msg = ack->message;
	ack->message = (char *)message;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv = codec_order_ack_pack(ack, &buf, &len);
	ack->message = old_msg;
	codec_order_ack_free(ack);
	if (rv != 0) {
		return rv;
	}
	db_bind_i64(c->store->order_set_status, 1, id);
	db_bind_i64(c->store->order_set_status, 2, status);
	sqlite3_bind_blob(c->store->order_set_status, 3, buf, (int)len, SQLITE_TRANSIENT);
	rv = store_step_done(c->store->order_set_status);
	free(buf);
	return rv;
}

/* Counts an order as accepted for its drop and its buyer (direct accept or
 * confirmed hold). */
static int ingest_count_accepted(coord *c, coord_drop *d, int64_t order_id,
    const char *customer, const char *gift_sku)
{
	store *s = c->store;
	bool gifted = gift_sku != NULL && gift_sku[0] != '\0';
	if (d != NULL) {
		db_bind_text(s->drop_counts, 1, d->id);
		db_bind_i64(s->drop_counts, 2, 1);
		db_bind_i64(s->drop_counts, 3, gifted);
		if (store_step_done(s->drop_counts) != 0) {
			return DN_EIO;
		}
		d->accepted++;
		d->gifts += gifted;
	}
	db_bind_text(s->customer_add, 1, customer);
	db_bind_i64(s->customer_add, 2, order_id);
	db_bind_text(s->customer_add, 3, d != NULL ? d->id : "");
	db_bind_i64(s->customer_add, 4, gifted);
	return store_step_done(s->customer_add);
}

/* CONFIRM or RELEASE of a held order. */
static int ingest_hold_action(coord *c, const Dropnet__SubmitOrder *m,
    const char *storefront, ingest_out *o, int64_t now_wall)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT id, status, ack, hold_expires_ms, drop_id,"
	    " customer, gift_sku FROM orders WHERE storefront=?1 AND order_key=?2", -1,
	    &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, storefront);
	db_bind_text(st, 2, m->order_key);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		ingest_reply_simple(o, DROPNET__STATUS__NOT_FOUND, m->order_key, "order_key",
		    "no held order with that key");
		return 0;
	}
	int64_t id = sqlite3_column_int64(st, 0);
	int status = sqlite3_column_int(st, 1);
	int64_t expires = sqlite3_column_int64(st, 3);
	char drop_id[DN_ID_MAX + 1], customer[DN_ID_MAX + 1], gift[DN_ID_MAX + 1];
	snprintf(drop_id, sizeof(drop_id), "%s", db_col_text(st, 4));
	snprintf(customer, sizeof(customer), "%s", db_col_text(st, 5));
	snprintf(gift, sizeof(gift), "%s", db_col_text(st, 6));
	if (status != DROPNET__STATUS__HELD) {
		/* Already confirmed, lapsed, or never held: the journal answers. */
		int rv = ingest_reply_journal(sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2), id, true, o);
		sqlite3_finalize(st);
		return rv;
	}
	sqlite3_finalize(st);
	/* The drop's real state, from the file if memory no longer holds it. */
	coord_drop *d = NULL;
	if (drop_id[0] && coord_drop_get(c, drop_id, &d) == DN_EIO) {
		return DN_EIO;
	}
	/* Hold lifetimes are durations: the duration clock, not the wall. */
	bool lapse = m->action == DROPNET__ORDER_ACTION__ACTION_RELEASE ||
	    coord_now_elapsed_ms(c) >= expires;
	if (!lapse && drop_id[0] && (d == NULL || d->state == DROP_CLOSED)) {
		/* A drop closed mid-flight gives its holds back; so does one whose
		 * spec cannot be read (logged): it cannot be checked. */
		lapse = true;
	}
	int rv = 0;
	if (lapse) {
		rv = coord_hold_lapse(c, id, now_wall,
		    m->action == DROPNET__ORDER_ACTION__ACTION_RELEASE ? "released" : "lapsed");
	} else {
		if (sqlite3_prepare_v2(c->db, "SELECT id FROM placements WHERE order_id=?1"
		    " AND state='held'", -1, &st, NULL) != SQLITE_OK) {
			return DN_EIO;
		}
		db_bind_i64(st, 1, id);
		int64_t pids[DN_SPLIT_HUBS_MAX];
		size_t np = 0;
		while (np < DN_SPLIT_HUBS_MAX && sqlite3_step(st) == SQLITE_ROW) {
			pids[np++] = sqlite3_column_int64(st, 0);
		}
		sqlite3_finalize(st);
		for (size_t i = 0; i < np && rv == 0; i++) {
			rv = coord_placement_send(c, pids[i], now_wall);
		}
		if (rv == 0) {
			rv = coord_order_set_status(c, id, DROPNET__STATUS__ACCEPTED, "");
		}
		if (rv == 0) {
			rv = ingest_count_accepted(c, d, id, customer, gift);
		}
		log_info("order.confirmed", "id=%lld key=%.64s", (long long)id, m->order_key);
	}
	if (rv != 0) {
		return rv;
	}
	/* Answer with the journal as it now stands. */
	if (sqlite3_prepare_v2(c->db, "SELECT ack FROM orders WHERE id=?1", -1, &st,
	    NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, id);
	rv = DN_EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		rv = ingest_reply_journal(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), id, false, o);
	}
	sqlite3_finalize(st);
	return rv;
}

/* Answers INVALID (not journalled: a corrected retry may reuse the key). */
static int ingest_invalid(ingest_out *o, const char *storefront, const char *key,
    const char *field, const char *why)
{
	log_info("order.invalid", "storefront=%.64s key=%.64s field=%s why=\"%s\"",
	    storefront, key, field, why);
	ingest_reply_simple(o, DROPNET__STATUS__INVALID, key, field, why);
	return 0;
}

/* Handles one decoded, version-checked order inside the open transaction.
 * Returns 0 with o filled, or DN_EIO/DN_ENOMEM/DN_ESTATE (batch must fail). */
static int ingest_one(coord *c, const Dropnet__SubmitOrder *m, ingest_out *o,
    int64_t now_wall, uint64_t now_mono)
{
	store *s = c->store;
	const char *storefront = m->storefront[0] ? m->storefront : "default";
	route_line lines[DN_ORDER_LINES_MAX];
	size_t nlines = m->n_lines <= DN_ORDER_LINES_MAX ? m->n_lines : DN_ORDER_LINES_MAX + 1;
	for (size_t i = 0; i < nlines && i < DN_ORDER_LINES_MAX; i++) {
		lines[i].sku = m->lines[i]->sku;
		lines[i].qty = m->lines[i]->qty;
	}
	char field[64];
	const char *why = "";
	if (m->action != DROPNET__ORDER_ACTION__ACTION_SUBMIT) {
		if (!validate_id(m->order_key)) {
			ingest_reply_simple(o, DROPNET__STATUS__INVALID, m->order_key,
			    "order_key", "order_key must be 1..64 printable characters");
			return 0;
		}
		if (m->action != DROPNET__ORDER_ACTION__ACTION_CONFIRM &&
		    m->action != DROPNET__ORDER_ACTION__ACTION_RELEASE) {
			ingest_reply_simple(o, DROPNET__STATUS__INVALID, m->order_key,
			    "action", "unknown action");
			return 0;
		}
		return ingest_hold_action(c, m, storefront, o, now_wall);
	}
	validate_order_in vin = {storefront, m->order_key, m->customer, lines,
	    nlines, m->lat, m->lon};
	if (validate_order(&vin, field, sizeof(field), &why) != 0) {
		/* reported below */
	} else if (m->hold_seconds > DROP_HOLD_SECONDS_MAX) {
		snprintf(field, sizeof(field), "hold_seconds");
		why = "hold_seconds must be 0..3600";
	} else if (m->drop_id[0] && !validate_id(m->drop_id)) {
		snprintf(field, sizeof(field), "drop_id");
		why = "drop_id must be 1..64 printable characters";
	} else if (m->tier[0] && !validate_id(m->tier)) {
		/* The tier is journalled with a refusal (TIER_NOT_ALLOWED): only
		 * a bounded id may reach the file. */
		snprintf(field, sizeof(field), "tier");
		why = "tier must be 1..64 printable characters";
	} else if (m->tier[0] && !m->drop_id[0]) {
		snprintf(field, sizeof(field), "tier");
		why = "a tier needs a drop_id";
	} else {
		field[0] = '\0';
	}
	if (field[0] != '\0') {
		return ingest_invalid(o, storefront, m->order_key, field, why);
	}
	/* Idempotency: the journal (our own uncommitted rows included). It
	 * answers a retry before anything else is looked up, so the answer
	 * never depends on what memory holds (an old drop may be only in the
	 * file). */
	db_bind_text(s->order_find, 1, storefront);
	db_bind_text(s->order_find, 2, m->order_key);
	int rc = sqlite3_step(s->order_find);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s->order_find, 0);
		int rv = ingest_reply_journal(sqlite3_column_blob(s->order_find, 1),
		    (size_t)sqlite3_column_bytes(s->order_find, 1), id, true, o);
		sqlite3_reset(s->order_find);
		return rv;
	}
	sqlite3_reset(s->order_find);
	if (rc != SQLITE_DONE) {
		return DN_EIO;
	}
	coord_drop *d = NULL;
	if (m->drop_id[0]) {
		int grv = coord_drop_get(c, m->drop_id, &d);
		if (grv == DN_EIO) {
			return DN_EIO;
		}
		if (grv == DN_EPROTO) {
			/* Logged by the read; not journalled: a retry may succeed
			 * once the drop is repaired. */
			ingest_reply_simple(o, DROPNET__STATUS__UNAVAILABLE, m->order_key,
			    "drop_id", "the drop cannot be read");
			return 0;
		}
		if (grv == DN_ENOENT) {
			return ingest_invalid(o, storefront, m->order_key, "drop_id",
			    "unknown drop");
		}
		for (size_t i = 0; i < nlines; i++) {
			if (coord_drop_sku(d, lines[i].sku) == NULL) {
				snprintf(field, sizeof(field), "lines[%zu].sku", i);
				return ingest_invalid(o, storefront, m->order_key, field,
				    "this SKU is not part of the drop");
			}
		}
	}
	uint32_t units = 0;
	for (size_t i = 0; i < nlines; i++) {
		units += lines[i].qty;
	}
	/* Drop rules: window, tier, insiders, quota, per-buyer limits. */
	drop_verdict verdict = DROP_OK;
	int tier_idx = -1;
	if (d != NULL) {
		verdict = drop_check(d->state, d->tiers, d->ntiers, m->tier, now_wall,
		    coord_drop_is_insider(d, m->customer), units, &tier_idx);
		for (size_t i = 0; verdict == DROP_OK && i < nlines; i++) {
			const Dropnet__DropSku *ds = coord_drop_sku(d, lines[i].sku);
			db_bind_text(s->buyer_get, 1, d->id);
			db_bind_text(s->buyer_get, 2, m->customer);
			db_bind_text(s->buyer_get, 3, lines[i].sku);
			uint32_t bought = 0;
			if (sqlite3_step(s->buyer_get) == SQLITE_ROW) {
				bought = (uint32_t)sqlite3_column_int64(s->buyer_get, 0);
			}
			sqlite3_reset(s->buyer_get);
			verdict = drop_check_limit(ds->limit_per_buyer, bought, lines[i].qty);
		}
	}
	/* Route against the in-memory ledger (also for refused orders: the
	 * nearest hub in range is the region their demand belongs to). */
	ingest_route_view(c, lines, nlines, ingest_hubs, ingest_sellable, now_mono, -1);
	route_result *rr = &ingest_rr;
	if (route_order(ingest_hubs, c->nhubs, lines, nlines, m->lat, m->lon,
	    c->split, rr) != 0) {
		return DN_ESTATE;
	}
	const char *nearest = "";
	for (size_t i = 0; i < rr->ncand; i++) {
		route_verdict v = rr->cand[i].verdict;
		if (v != ROUTE_VERDICT_OUT_OF_RANGE && v != ROUTE_VERDICT_UNHEALTHY) {
			nearest = c->hubs[rr->cand[i].hub].id;
			break;
		}
	}
	bool routed = verdict == DROP_OK && rr->status == ROUTE_ACCEPTED;
	bool held = routed && m->hold_seconds > 0;
	Dropnet__Status status = verdict != DROP_OK ? drop_status_wire(verdict) :
	    route_status_wire(rr->status);
	if (held) {
		status = DROPNET__STATUS__HELD;
	}
	/* The micro-gift: same hub, only while it has gift stock, never
	 * blocking the order. */
	const char *gift_sku = NULL;
	if (routed && d != NULL && d->spec->gift != NULL && d->spec->gift->sku[0]) {
		const Dropnet__GiftRule *g = d->spec->gift;
		bool in_order = false;
		for (size_t i = 0; i < nlines; i++) {
			in_order = in_order || strcmp(lines[i].sku, g->sku) == 0;
		}
		db_bind_text(s->customer_get, 1, m->customer);
		bool first = sqlite3_step(s->customer_get) != SQLITE_ROW;
		sqlite3_reset(s->customer_get);
		coord_stock *gs = coord_stock_get(c, (int)rr->take[0].hub, g->sku, false);
		if (!in_order && gs != NULL && ledger_sellable(&gs->row) >= 1 &&
		    drop_gift_applies((drop_gift_kind)g->kind, g->n, first, d->accepted + 1, units)) {
			gift_sku = g->sku;
		}
	}
	/* Candidates, for `dropctl order show`. */
	Dropnet__RouteCandidate cand[DN_HUBS_MAX];
	Dropnet__RouteCandidate *candp[DN_HUBS_MAX];
	for (size_t i = 0; i < rr->ncand; i++) {
		dropnet__route_candidate__init(&cand[i]);
		cand[i].hub = c->hubs[rr->cand[i].hub].id;
		cand[i].distance_km = rr->cand[i].distance_km;
		cand[i].verdict = (char *)route_verdict_name(rr->cand[i].verdict);
		candp[i] = &cand[i];
	}
	Dropnet__OrderInfo route = DROPNET__ORDER_INFO__INIT;
	route.n_candidates = rr->ncand;
	route.candidates = candp;
	uint8_t *route_buf = NULL;
	size_t route_len = 0;
	if (codec_order_info_pack(&route, &route_buf, &route_len) != 0) {
		return DN_ENOMEM;
	}
	/* The ack, journalled without order_id (the row id supplies it). */
	Dropnet__Placement pl[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__Placement *plp[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.order_key = m->order_key;
	ack.hub = "";
	ack.field = "";
	ack.message = "";
	ack.gift_sku = (char *)(gift_sku ? gift_sku : "");
	if (routed) {
		ack.hub = c->hubs[rr->take[0].hub].id;
		for (size_t t = 0; t < rr->ntake; t++) {
			dropnet__placement__init(&pl[t]);
			pl[t].hub = c->hubs[rr->take[t].hub].id;
			pl[t].sku = (char *)lines[rr->take[t].line].sku;
			pl[t].qty = rr->take[t].qty;
			plp[t] = &pl[t];
		}
		ack.n_placements = rr->ntake;
		ack.placements = plp;
		if (held) {
			ack.hold_expires_ms = now_wall + (int64_t)m->hold_seconds * 1000;
		}
	} else if (verdict != DROP_OK) {
		ack.message = (char *)drop_verdict_message(verdict);
	} else {
		ack.message = rr->status == ROUTE_SOLD_OUT ?
		    "no hub in range has the stock" : "no healthy hub serves this address";
	}
	uint8_t *ack_buf = NULL;
	size_t ack_len = 0;
	if (codec_order_ack_pack(&ack, &ack_buf, &ack_len) != 0) {
		free(route_buf);
		return DN_ENOMEM;
	}
	db_bind_text(s->order_insert, 1, storefront);
	db_bind_text(s->order_insert, 2, m->order_key);
	db_bind_text(s->order_insert, 3, m->customer);
	db_bind_i64(s->order_insert, 4, status);
	db_bind_text(s->order_insert, 5, ack.hub);
	db_bind_double(s->order_insert, 6, m->lat);
	db_bind_double(s->order_insert, 7, m->lon);
	db_bind_i64(s->order_insert, 8, now_wall);
	sqlite3_bind_blob(s->order_insert, 9, ack_buf, (int)ack_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s->order_insert, 10, route_buf, (int)route_len, SQLITE_TRANSIENT);
	db_bind_text(s->order_insert, 11, m->drop_id);
	db_bind_text(s->order_insert, 12, m->tier);
	db_bind_text(s->order_insert, 13, nearest);
	db_bind_text(s->order_insert, 14, ack.gift_sku);
	/* The ack tells the buyer a UTC time; the journal keeps the expiry on
	 * the duration clock, which no wall step moves. */
	db_bind_i64(s->order_insert, 15, held ? coord_now_elapsed_ms(c) +
	    (int64_t)m->hold_seconds * 1000 : 0);
	db_bind_i64(s->order_insert, 16, units);
	int rv = store_step_done(s->order_insert);
	free(route_buf);
	free(ack_buf);
	if (rv != 0) {
		return rv;
	}
	int64_t order_id = sqlite3_last_insert_rowid(c->db);
	for (size_t i = 0; i < nlines; i++) {
		db_bind_i64(s->line_insert, 1, order_id);
		db_bind_text(s->line_insert, 2, lines[i].sku);
		db_bind_i64(s->line_insert, 3, lines[i].qty);
		if (store_step_done(s->line_insert) != 0) {
			return DN_EIO;
		}
	}
	if (routed) {
		rv = ingest_place_takes(c, rr, order_id, m->order_key, m->customer,
		    lines, nlines, gift_sku, held, now_wall);
		if (rv != 0) {
			return rv;
		}
		if (d != NULL) {
			/* Held units count against the tier and the buyer at once. */
			db_bind_text(s->tier_sold, 1, d->id);
			db_bind_i64(s->tier_sold, 2, tier_idx);
			db_bind_i64(s->tier_sold, 3, units);
			if (store_step_done(s->tier_sold) != 0) {
				return DN_EIO;
			}
			d->tiers[tier_idx].sold += units;
			for (size_t i = 0; i < nlines; i++) {
				db_bind_text(s->buyer_add, 1, d->id);
				db_bind_text(s->buyer_add, 2, m->customer);
				db_bind_text(s->buyer_add, 3, lines[i].sku);
				db_bind_i64(s->buyer_add, 4, lines[i].qty);
				if (store_step_done(s->buyer_add) != 0) {
					return DN_EIO;
				}
			}
		}
		if (!held && ingest_count_accepted(c, d, order_id, m->customer, gift_sku) != 0) {
			return DN_EIO;
		}
	}
	ack.order_id = (uint64_t)order_id;
	o->journalled = true;
	o->accepted = routed;
	log_debug("order.routed", "id=%lld key=%.64s status=%s hub=%s",
	    (long long)order_id, m->order_key, codec_status_name(status), ack.hub);
	return codec_order_ack_pack(&ack, &o->buf, &o->len);
}

void coord_ingest_batch(coord *c, mreq **reqs, size_t n)
{
	static ingest_out outs[DN_SERVER_CTX_MAX];
	memset(outs, 0, n * sizeof(outs[0]));
	int64_t now_wall = coord_now_wall_ms(c);
	uint64_t now_mono = coord_now_mono_ms(c);
	int rv = coord_ready(c) ? db_begin(c->db) : DN_EIO;
	bool in_tx = rv == 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		size_t len = 0;
		const uint8_t *body = mreq_body(reqs[i], &len);
		Dropnet__SubmitOrder *m = NULL;
		int urv = codec_submit_order_unpack(body, len, &m);
		if (urv == DN_EPROTO || (urv == DN_ERANGE && m->version == 0)) {
			/* No version at all (e.g. empty bytes) is not a newer peer. */
			log_warn("order.malformed", "bytes=%zu", len);
			ingest_reply_simple(&outs[i], DROPNET__STATUS__MALFORMED, "", "",
			    "bytes are not a SubmitOrder");
		} else if (urv == DN_ERANGE) {
			log_warn("order.bad_version", "version=%u", m->version);
			ingest_reply_simple(&outs[i], DROPNET__STATUS__UNSUPPORTED_VERSION,
			    m->order_key, "version", "this coordinator speaks version 1");
		} else {
			rv = ingest_one(c, m, &outs[i], now_wall, now_mono);
		}
		codec_submit_order_free(m);
	}
	if (rv == 0 && in_tx) {
		rv = coord_clock_save(c);
	}
	if (rv == 0 && in_tx) {
		rv = db_commit(c->db);
	} else if (in_tx) {
		db_rollback(c->db);
	}
	if (rv != 0) {
		c->commit_failures++;
		log_error("order.batch_failed", "orders=%zu err=%s", n, dn_strerror(rv));
		coord_reload(c);
	}
	for (size_t i = 0; i < n; i++) {
		ingest_out *o = &outs[i];
		if (rv != 0 && (o->journalled || o->buf == NULL)) {
			free(o->buf);
			o->buf = NULL;
			ingest_reply_simple(o, DROPNET__STATUS__UNAVAILABLE, "", "",
			    "storage failed; retry with the same key");
		}
		mreq_reply(reqs[i], o->buf, o->len);
		free(o->buf);
	}
	c->orders_seen += n;
	c->ingest_batches++;
}
