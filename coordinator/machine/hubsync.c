/*
 * hubsync.c - both streams with the hubs, one round trip each (see
 * proto/SEMANTICS.md "hubsync"). Hubs dial in; a batch of sync requests is
 * applied in one transaction, each request in its own savepoint: a request
 * that fails (storage) is rolled back alone and answered UNAVAILABLE, and
 * memory is reloaded from the file the rest of the batch committed. Events
 * at or below the hub's event_applied are ignored (they are re-sends); a
 * gap stops that hub's batch, since applying out of order could ship stock
 * that was never received. An event the books cannot cover is booked by a
 * defined rule (ledger_ship_force, ledger_short_force) and counted, never
 * refused: the hub would send it again for ever.
 * Before any of a hub's events, resync.c checks that both stores still
 * share one history (their incarnations and positions) and resynchronises
 * or refuses when one went back in time.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Looks a placement up; it must belong to hub. Returns 0 or DN_ENOENT;
 * *transfer is set when it is the pick of a hub-to-hub transfer. */
static int hubsync_placement_kind(coord *c, int hub, uint64_t pid, int64_t *order_id,
    bool *transfer)
{
	sqlite3_stmt *st = c->store->placement_get;
	db_bind_i64(st, 1, (int64_t)pid);
	int rc = sqlite3_step(st);
	int rv = DN_ENOENT;
	if (rc == SQLITE_ROW && strcmp(db_col_text(st, 1), c->hubs[hub].id) == 0) {
		*order_id = sqlite3_column_int64(st, 0);
		*transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
		rv = 0;
	}
	sqlite3_reset(st);
	return rv;
}

static int hubsync_placement(coord *c, int hub, uint64_t pid, int64_t *order_id)
{
	bool transfer = false;
	int rv = hubsync_placement_kind(c, hub, pid, order_id, &transfer);
	return rv == 0 && transfer ? DN_ENOENT : rv;
}

/* Units of sku a placement still needs (qty - shipped - shorted); 0 if none. */
static int64_t hubsync_open_qty(coord *c, uint64_t pid, const char *sku)
{
	sqlite3_stmt *st = c->store->pline_get;
	db_bind_i64(st, 1, (int64_t)pid);
	db_bind_text(st, 2, sku);
	int64_t open = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		open = sqlite3_column_int64(st, 0) - sqlite3_column_int64(st, 1) -
		    sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return open;
}

/* Rejects an event outside the bounds: logged and counted, and it still
 * counts as applied, so the stream moves on and no other event fails. */
static int hubsync_reject(coord *c, int hub, const Dropnet__HubEvent *e, const char *why)
{
	c->events_rejected++;
	log_warn("hubsync.event_rejected", "hub=%s seq=%llu kind=%d sku=%s qty=%lld"
	    " reason=%s count=%llu", c->hubs[hub].id, (unsigned long long)e->seq, e->kind,
	    validate_id(e->sku) ? e->sku : "(not an id)", (long long)e->qty, why,
	    (unsigned long long)c->events_rejected);
	return 0;
}

/* Checks an event that moves units onto or off the books (a receipt, a
 * count's delta, a return to stock) before anything is written: the SKU an
 * id, the units within DN_EVENT_UNITS_MAX (a receipt or return > 0), a new
 * SKU within the hub's DN_HUB_SKUS_MAX, on_hand after it within
 * DN_STOCK_ROW_UNITS_MAX. NULL when it may apply, else the reason. */
static const char *hubsync_units_check(coord *c, int hub, const Dropnet__HubEvent *e)
{
	if (!validate_id(e->sku)) {
		return "sku";
	}
	if (e->kind == DROPNET__EVENT_KIND__EV_ADJUSTED) {
		if (e->qty < -DN_EVENT_UNITS_MAX || e->qty > DN_EVENT_UNITS_MAX) {
			return "units";
		}
	} else if (e->qty <= 0 || e->qty > DN_EVENT_UNITS_MAX) {
		return "units";
	}
	const coord_stock *row = coord_stock_get(c, hub, e->sku, false);
	if (row == NULL && c->hubs[hub].nskus >= DN_HUB_SKUS_MAX) {
		return "skus";
	}
	int64_t on_hand = row != NULL ? row->row.on_hand : 0;
	if (e->qty > 0 && on_hand > DN_STOCK_ROW_UNITS_MAX - e->qty) {
		return "row_units";
	}
	return NULL;
}

/* One line of a placement the hub refused. */
typedef struct {
	char sku[DN_ID_MAX + 1];
	int64_t open;
	bool gift;
} refused_line;

/* Gives back what the lines of placement pid at hub still hold allocated
 * and marks the placement 'refused'. *n lines are returned in lines. */
static int hubsync_refused_release(coord *c, int hub, int64_t pid, refused_line *lines,
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	enum { LINES = DN_ORDER_LINES_MAX + 1 };
	*n = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT sku, qty - shipped - shorted, gift FROM"
	    " placement_lines WHERE placement_id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	while (*n < LINES && sqlite3_step(st) == SQLITE_ROW) {
		refused_line *l = &lines[(*n)++];
		snprintf(l->sku, sizeof(l->sku), "%s", db_col_text(st, 0));
		l->open = sqlite3_column_int64(st, 1);
		l->gift = sqlite3_column_int(st, 2) != 0;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < *n; i++) {
		if (lines[i].open <= 0) {
			continue;
		}
		coord_stock *row = coord_stock_get(c, hub, lines[i].sku, true);
		if (row == NULL) {
			return DN_ENOMEM;
		}
		ledger_gap gap = {0, 0};
		int64_t q = lines[i].open;
		if (q > row->row.allocated) {
			gap.unallocated = q - row->row.allocated;
			q = row->row.allocated;
		}
		if (q > 0 && ledger_unallocate(&row->row, q) != 0) {
			return DN_ESTATE;
		}
		coord_gap_note(c, hub, lines[i].sku, "refused", pid, &gap);
		if (coord_stock_save(c, row) != 0) {
			return DN_EIO;
		}
	}
	db_bind_i64(c->store->placement_state, 1, pid);
	db_bind_text(c->store->placement_state, 2, "refused");
	return store_step_done(c->store->placement_state);
}

/* The hub refused the command of placement e->order_id: none of it will be
 * picked there. Its allocation is released; a transfer is cancelled, an
 * order's lines are re-routed to another hub or backordered (its gift
 * line is only released). Refusals of anything but an open placement are
 * logged and skipped. */
static int hubsync_refused(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	const char *hid = c->hubs[hub].id;
	sqlite3_stmt *st = c->store->placement_get;
	db_bind_i64(st, 1, (int64_t)(e->order_id > INT64_MAX ? 0 : e->order_id));
	int64_t order_id = 0;
	bool mine = false, open = false, transfer = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		order_id = sqlite3_column_int64(st, 0);
		mine = strcmp(db_col_text(st, 1), hid) == 0;
		open = strcmp(db_col_text(st, 2), "open") == 0;
		transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
	}
	sqlite3_reset(st);
	if (!mine || !open) {
		log_warn("hubsync.refusal_ignored", "hub=%s seq=%llu placement=%llu reason=%s",
		    hid, (unsigned long long)e->seq, (unsigned long long)e->order_id,
		    mine ? "not open" : "unknown placement");
		return 0;
	}
	/* The reason is the hub's text: bounded, and kept to one log line. */
	char why[201];
	size_t k = 0;
	for (const char *p = e->reason; *p && k < sizeof(why) - 1; p++) {
		why[k++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? *p : '?';
	}
	why[k] = '\0';
	log_warn(transfer ? "transfer.refused" : "order.refused", "hub=%s placement=%llu"
	    " command=%llu why=\"%s\"", hid, (unsigned long long)e->order_id,
	    (unsigned long long)e->command_seq, why);
	refused_line lines[DN_ORDER_LINES_MAX + 1];
	size_t n = 0;
	int rv = hubsync_refused_release(c, hub, (int64_t)e->order_id, lines, &n);
	if (rv != 0) {
		return rv;
	}
	if (transfer) {
		if (sqlite3_prepare_v2(c->db, "UPDATE transfers SET state='cancelled' WHERE"
		    " placement_id=?1 AND state='picking'", -1, &st, NULL) != SQLITE_OK) {
			return DN_EIO;
		}
		db_bind_i64(st, 1, (int64_t)e->order_id);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? 0 : DN_EIO;
	}
	st = c->store->order_get;
	db_bind_i64(st, 1, order_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return DN_EIO;
	}
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
	snprintf(key, sizeof(key), "%s", db_col_text(st, 0));
	snprintf(customer, sizeof(customer), "%s", db_col_text(st, 1));
	double lat = sqlite3_column_double(st, 2);
	double lon = sqlite3_column_double(st, 3);
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		if (lines[i].gift || lines[i].open <= 0) {
			continue;
		}
		rv = coord_reroute(c, order_id, key, customer, lat, lon, lines[i].sku,
		    (uint32_t)lines[i].open, hub, now_wall);
		if (rv < 0) {
			return rv;
		}
		log_info("order.refused_rerouted", "hub=%s order=%lld sku=%s qty=%lld outcome=%s",
		    hid, (long long)order_id, lines[i].sku, (long long)lines[i].open,
		    rv == 1 ? "rerouted" : "backordered");
	}
	return 0;
}

/* EV_RECEIVED (a transfer's units first, the rest a plain receipt) and
 * EV_ADJUSTED (a count's delta), inside the bounds. */
static int hubsync_units(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	const char *hid = c->hubs[hub].id;
	const char *why = hubsync_units_check(c, hub, e);
	if (why != NULL) {
		return hubsync_reject(c, hub, e, why);
	}
	int64_t plain = e->qty;
	if (e->kind == DROPNET__EVENT_KIND__EV_RECEIVED && e->transfer_id[0]) {
		int trv = coord_transfer_received(c, hub, e->transfer_id, e->sku, e->qty,
		    now_wall, &plain);
		if (trv != 0 && trv != DN_ENOENT) {
			return trv;
		}
		if (trv == DN_ENOENT || plain > 0) {
			log_warn("hubsync.unmatched_transfer", "hub=%s transfer=%s sku=%s"
			    " units=%lld: counted as a plain receipt", hid, e->transfer_id,
			    e->sku, (long long)plain);
		}
		if (plain == 0) {
			return 0;
		}
	}
	/* Looked up only now: coord_transfer_received may have inserted
	 * rows, and an insert can move the whole table. */
	coord_stock *row = coord_stock_get(c, hub, e->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	if (e->kind == DROPNET__EVENT_KIND__EV_RECEIVED) {
		/* Inside the bounds checked above: a refusal here is a bug,
		 * and fails this request alone. */
		if (ledger_receive(&row->row, plain) != 0 ||
		    ledger_count_add(&row->received, plain) != 0) {
			return DN_ERANGE;
		}
		if (coord_stock_save(c, row) != 0) {
			return DN_EIO;
		}
		return coord_drops_on_receive(c, hub, e->sku, plain, now_wall);
	}
	/* A count can only take away what is there. */
	int64_t d = e->qty;
	if (row->row.on_hand + d < 0) {
		d = -row->row.on_hand;
	}
	if (d != 0 && (ledger_adjust(&row->row, d) != 0 ||
	    ledger_count_add(&row->adjusted, d) != 0)) {
		return DN_ERANGE;
	}
	return coord_stock_save(c, row);
}

/* EV_SHIPPED: a transfer's pick leaves for the van, or an order's lines
 * ship (at most what the placement still needs). */
static int hubsync_shipped(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	store *s = c->store;
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0;
	bool transfer = false;
	if (hubsync_placement_kind(c, hub, e->order_id, &order_id, &transfer) == 0 &&
	    transfer) {
		return coord_transfer_shipped(c, hub, (int64_t)e->order_id, now_wall);
	}
	if (hubsync_placement(c, hub, e->order_id, &order_id) != 0) {
		log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", hid,
		    (unsigned long long)e->seq, (unsigned long long)e->order_id);
		return 0;
	}
	for (size_t i = 0; i < e->n_lines; i++) {
		const Dropnet__OrderLine *l = e->lines[i];
		int64_t open = hubsync_open_qty(c, e->order_id, l->sku);
		int64_t q = l->qty;
		if (q > open) {
			log_warn("hubsync.overship", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
			    hid, (unsigned long long)e->order_id, l->sku,
			    (long long)q, (long long)open);
			q = open;
		}
		if (q <= 0) {
			continue;
		}
		/* The units left: booked whatever the books say, so the
		 * line and its allocation close (coord_gap_note says what
		 * the books lacked). */
		coord_stock *row = coord_stock_get(c, hub, l->sku, true);
		if (row == NULL) {
			return DN_ENOMEM;
		}
		ledger_gap gap;
		ledger_ship_force(&row->row, q, &gap);
		row->adjusted += gap.found;
		row->shipped += q;
		coord_gap_note(c, hub, l->sku, "ship", (int64_t)e->order_id, &gap);
		db_bind_i64(s->pline_ship, 1, (int64_t)e->order_id);
		db_bind_text(s->pline_ship, 2, l->sku);
		db_bind_i64(s->pline_ship, 3, q);
		if (store_step_done(s->pline_ship) != 0 || coord_stock_save(c, row) != 0) {
			return DN_EIO;
		}
	}
	db_bind_i64(s->placement_shipped, 1, (int64_t)e->order_id);
	db_bind_i64(s->placement_shipped, 2, e->time_ms ? e->time_ms : now_wall);
	/* Journalled: a tracking id that is not an id is not kept. */
	if (e->tracking[0] && !validate_id(e->tracking)) {
		log_warn("hubsync.bad_tracking", "hub=%s order=%llu", hid,
		    (unsigned long long)e->order_id);
	}
	db_bind_text(s->placement_shipped, 3, validate_id(e->tracking) ? e->tracking : "");
	return store_step_done(s->placement_shipped);
}

/* EV_SHORT: units of a transfer or an order the hub could not find; an
 * order's are re-routed or backordered. */
static int hubsync_short(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	store *s = c->store;
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0;
	bool transfer = false;
	if (e->qty > 0 && hubsync_placement_kind(c, hub, e->order_id, &order_id,
	    &transfer) == 0 && transfer) {
		return coord_transfer_shorted(c, hub, (int64_t)e->order_id, e->sku, e->qty);
	}
	if (hubsync_placement(c, hub, e->order_id, &order_id) != 0 || e->qty <= 0) {
		log_warn("hubsync.bad_short", "hub=%s seq=%llu order=%llu", hid,
		    (unsigned long long)e->seq, (unsigned long long)e->order_id);
		return 0;
	}
	int64_t open = hubsync_open_qty(c, e->order_id, e->sku);
	int64_t q = e->qty < open ? e->qty : open;
	if (q <= 0) {
		log_warn("hubsync.bad_short", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
		    hid, (unsigned long long)e->order_id, e->sku, (long long)e->qty,
		    (long long)open);
		return 0;
	}
	coord_stock *row = coord_stock_get(c, hub, e->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	/* The hub wrote off qty - kept (SEMANTICS.md, EV_SHORT); only what
	 * was on the books can go missing from them; the line's allocation is
	 * released whatever the books say. */
	int64_t kept = e->kept > 0 && e->kept <= e->qty ? e->kept : 0;
	int64_t lost = q - kept > 0 ? q - kept : 0;
	int64_t gone = 0;
	ledger_gap gap;
	ledger_short_force(&row->row, q, lost, &gone, &gap);
	coord_gap_note(c, hub, e->sku, "short", (int64_t)e->order_id, &gap);
	row->lost += gone;
	db_bind_i64(s->pline_short, 1, (int64_t)e->order_id);
	db_bind_text(s->pline_short, 2, e->sku);
	db_bind_i64(s->pline_short, 3, q);
	if (store_step_done(s->pline_short) != 0 || coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	db_bind_i64(s->placement_close, 1, (int64_t)e->order_id);
	if (store_step_done(s->placement_close) != 0) {
		return DN_EIO;
	}
	/* Re-route what is missing, or backorder it. */
	db_bind_i64(s->order_get, 1, order_id);
	if (sqlite3_step(s->order_get) != SQLITE_ROW) {
		sqlite3_reset(s->order_get);
		return DN_EIO;
	}
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
	snprintf(key, sizeof(key), "%s", db_col_text(s->order_get, 0));
	snprintf(customer, sizeof(customer), "%s", db_col_text(s->order_get, 1));
	double lat = sqlite3_column_double(s->order_get, 2);
	double lon = sqlite3_column_double(s->order_get, 3);
	sqlite3_reset(s->order_get);
	int rr = coord_reroute(c, order_id, key, customer, lat, lon, e->sku,
	    (uint32_t)q, hub, now_wall);
	if (rr < 0) {
		return rr;
	}
	log_info("order.short", "hub=%s order=%lld sku=%s qty=%lld outcome=%s", hid,
	    (long long)order_id, e->sku, (long long)q, rr == 1 ? "rerouted" : "backordered");
	return 0;
}

/* EV_RETURNED: back on hand when to_stock, else quarantined (nothing). */
static int hubsync_returned(coord *c, int hub, const Dropnet__HubEvent *e)
{
	if (!e->to_stock) {
		return 0; /* quarantined: never back on sale */
	}
	const char *why = hubsync_units_check(c, hub, e);
	if (why != NULL) {
		return hubsync_reject(c, hub, e, why);
	}
	coord_stock *row = coord_stock_get(c, hub, e->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	if (ledger_receive(&row->row, e->qty) != 0 ||
	    ledger_count_add(&row->returned, e->qty) != 0) {
		return DN_ERANGE;
	}
	return coord_stock_save(c, row);
}

/* Applies one event. Physical facts always apply; an event that names
 * something unknown is logged and skipped (it still counts as applied, so
 * the stream cannot wedge on it). Returns 0 or DN_EIO. */
static int hubsync_event(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	store *s = c->store;
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0;
	switch (e->kind) {
	case DROPNET__EVENT_KIND__EV_RECEIVED:
	case DROPNET__EVENT_KIND__EV_ADJUSTED:
		return hubsync_units(c, hub, e, now_wall);
	case DROPNET__EVENT_KIND__EV_PICKED:
		if (hubsync_placement(c, hub, e->order_id, &order_id) != 0) {
			log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", hid,
			    (unsigned long long)e->seq, (unsigned long long)e->order_id);
			return 0;
		}
		db_bind_i64(s->placement_picked, 1, (int64_t)e->order_id);
		db_bind_i64(s->placement_picked, 2, e->time_ms ? e->time_ms : now_wall);
		return store_step_done(s->placement_picked);
	case DROPNET__EVENT_KIND__EV_SHIPPED:
		return hubsync_shipped(c, hub, e, now_wall);
	case DROPNET__EVENT_KIND__EV_SHORT:
		return hubsync_short(c, hub, e, now_wall);
	case DROPNET__EVENT_KIND__EV_RETURNED:
		return hubsync_returned(c, hub, e);
	case DROPNET__EVENT_KIND__EV_COMMAND_REFUSED:
		return hubsync_refused(c, hub, e, now_wall);
	case DROPNET__EVENT_KIND__EV_MOVED:
	case DROPNET__EVENT_KIND__EV_CLAIMED:
	case DROPNET__EVENT_KIND__EV_PACKED:
	case DROPNET__EVENT_KIND__EV_UNCLAIMED:
		return 0; /* hub-internal work: no ledger effect */
	default:
		log_warn("hubsync.unknown_event", "hub=%s seq=%llu kind=%d", hid,
		    (unsigned long long)e->seq, e->kind);
		return 0;
	}
}

static void hubsync_reply_error(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.status = st;
	rep.message = (char *)msg;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_sync_reply_pack(&rep, &buf, &len) == 0) {
		mreq_reply(r, buf, len);
		free(buf);
	} else {
		mreq_reply(r, "", 0);
	}
}

/* Registers or refreshes a hub from its hello. Returns the index or -1. */
static int hubsync_hello(coord *c, const Dropnet__HubHello *hello, const char **why)
{
	char field[64];
	if (hello == NULL) {
		*why = "missing hello";
		return -1;
	}
	if (validate_hub(hello->id, hello->lat, hello->lon, hello->radius_km, field,
	    sizeof(field), why) != 0) {
		return -1;
	}
	int i = coord_hub_find(c, hello->id);
	coord_hub *h = i >= 0 ? &c->hubs[i] : NULL;
	bool changed = h == NULL || h->lat != hello->lat || h->lon != hello->lon ||
	    h->radius_km != hello->radius_km || strcmp(h->term_url, hello->term_url) != 0 ||
	    strcmp(h->name, hello->name[0] ? hello->name : hello->id) != 0;
	if (!changed) {
		return i;
	}
	if (h == NULL) {
		if (c->nhubs == DN_HUBS_MAX) {
			*why = "hub registry full";
			return -1;
		}
		i = (int)c->nhubs++;
		h = &c->hubs[i];
		memset(h, 0, sizeof(*h));
		snprintf(h->id, sizeof(h->id), "%s", hello->id);
		log_info("hub.registered", "hub=%s lat=%.4f lon=%.4f radius_km=%.1f", h->id,
		    hello->lat, hello->lon, hello->radius_km);
	}
	snprintf(h->name, sizeof(h->name), "%s", hello->name[0] ? hello->name : hello->id);
	snprintf(h->term_url, sizeof(h->term_url), "%s", hello->term_url);
	h->lat = hello->lat;
	h->lon = hello->lon;
	h->radius_km = hello->radius_km;
	sqlite3_stmt *st = c->store->hub_upsert;
	db_bind_text(st, 1, h->id);
	db_bind_text(st, 2, h->name);
	db_bind_double(st, 3, h->lat);
	db_bind_double(st, 4, h->lon);
	db_bind_double(st, 5, h->radius_km);
	db_bind_text(st, 6, h->term_url);
	if (store_step_done(st) != 0) {
		*why = "storage failed";
		return -2;
	}
	return i;
}

static void hubsync_report(coord_hub *h, const Dropnet__HubSyncRequest *m)
{
	h->report_valid = false;
	if (!m->stock_valid || m->n_events != 0 || m->n_stock > DN_STOCK_REPORT_MAX) {
		return;
	}
	coord_report *r = realloc(h->report, (m->n_stock ? m->n_stock : 1) * sizeof(*r));
	if (r == NULL) {
		return;
	}
	h->report = r;
	h->nreport = 0;
	for (size_t i = 0; i < m->n_stock; i++) {
		if (!validate_id(m->stock[i]->sku)) {
			continue;
		}
		snprintf(r[h->nreport].sku, sizeof(r[0].sku), "%s", m->stock[i]->sku);
		r[h->nreport].on_hand = m->stock[i]->on_hand;
		h->nreport++;
	}
	h->report_valid = true;
}

/* Applies one sync request: hello, the resync check, events, command ack
 * and stream positions. *hub_out is the hub's index, or -1 for a bad hello;
 * *verdict is resync.c's. Returns 0 or a DN_E* code (storage); the caller
 * then rolls the request back. */
static int hubsync_request(coord *c, const Dropnet__HubSyncRequest *m, int64_t now_wall,
    int *hub_out, coord_sync_verdict *verdict)
{
	const char *why = "";
	int h = hubsync_hello(c, m->hello, &why);
	*hub_out = -1;
	*verdict = COORD_SYNC_OK;
	if (h == -2) {
		return DN_EIO;
	}
	if (h < 0) {
		log_warn("hubsync.bad_hello", "why=\"%s\"", why);
		return 0;
	}
	*hub_out = h;
	coord_hub *hub = &c->hubs[h];
	int rv = 0;
	/* Either store gone back in time: decided before any event. */
	*verdict = coord_resync_check(c, h, m, now_wall, &rv);
	if (rv != 0 || *verdict != COORD_SYNC_OK) {
		return rv;
	}
	for (size_t e = 0; e < m->n_events && rv == 0; e++) {
		const Dropnet__HubEvent *ev = m->events[e];
		if (ev->seq <= hub->event_applied) {
			continue;
		}
		if (ev->seq != hub->event_applied + 1) {
			log_warn("hubsync.gap", "hub=%s have=%llu got=%llu", hub->id,
			    (unsigned long long)hub->event_applied,
			    (unsigned long long)ev->seq);
			break;
		}
		rv = hubsync_event(c, h, ev, now_wall);
		if (rv == 0) {
			hub->event_applied = ev->seq;
		}
	}
	if (rv != 0) {
		return rv;
	}
	if (m->cmd_applied > hub->cmd_seq) {
		log_warn("hubsync.ack_ahead", "hub=%s acked=%llu seq=%llu", hub->id,
		    (unsigned long long)m->cmd_applied, (unsigned long long)hub->cmd_seq);
	} else if (m->cmd_applied > hub->cmd_acked) {
		hub->cmd_acked = m->cmd_applied;
		db_bind_text(c->store->cmd_delete_acked, 1, hub->id);
		db_bind_i64(c->store->cmd_delete_acked, 2, (int64_t)hub->cmd_acked);
		if ((rv = store_step_done(c->store->cmd_delete_acked)) != 0) {
			return rv;
		}
	}
	db_bind_text(c->store->hub_stream, 1, hub->id);
	db_bind_i64(c->store->hub_stream, 2, (int64_t)hub->cmd_acked);
	db_bind_i64(c->store->hub_stream, 3, (int64_t)hub->event_applied);
	return store_step_done(c->store->hub_stream);
}

/* Runs one request inside its own savepoint of the batch's transaction, so
 * that one hub's failure never rolls back another hub's events. Returns 0
 * when the batch's transaction goes on (*failed says whether this request
 * was rolled back), or a DN_E* code when the whole transaction is lost. */
static int hubsync_isolated(coord *c, const Dropnet__HubSyncRequest *m, int64_t now_wall,
    int *hub_out, coord_sync_verdict *verdict, bool *failed)
{
	*failed = false;
	*hub_out = -1;
	*verdict = COORD_SYNC_OK;
	int rv = db_exec(c->db, "SAVEPOINT hubsync_request");
	if (rv != 0) {
		return rv;
	}
	rv = hubsync_request(c, m, now_wall, hub_out, verdict);
	if (rv == 0) {
		return db_exec(c->db, "RELEASE hubsync_request");
	}
	*failed = true;
	c->sync_requests_failed++;
	log_error("hubsync.request_failed", "hub=%s err=%s count=%llu",
	    m->hello != NULL && m->hello->id != NULL ? m->hello->id : "?", dn_strerror(rv),
	    (unsigned long long)c->sync_requests_failed);
	/* Some errors (I/O, full disk) end the whole transaction in SQLite;
	 * then nothing of the batch can commit. */
	if (sqlite3_get_autocommit(c->db) ||
	    db_exec(c->db, "ROLLBACK TO hubsync_request") != 0 ||
	    db_exec(c->db, "RELEASE hubsync_request") != 0) {
		return rv;
	}
	return 0;
}

/* Reads the commands after `after` for the hub into cmds (at most
 * DN_STREAM_BATCH_MAX); the caller frees each. */
static size_t hubsync_commands(coord *c, const coord_hub *hub, uint64_t after,
    Dropnet__HubCommand **cmds)
{
	size_t ncmd = 0;
	sqlite3_stmt *st = c->store->cmd_select;
	db_bind_text(st, 1, hub->id);
	db_bind_i64(st, 2, (int64_t)after);
	db_bind_i64(st, 3, DN_STREAM_BATCH_MAX);
	while (ncmd < DN_STREAM_BATCH_MAX && sqlite3_step(st) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		int bl = sqlite3_column_bytes(st, 0);
		if (codec_hub_command_unpack(b, (size_t)bl, &cmds[ncmd]) == 0) {
			ncmd++;
		}
	}
	sqlite3_reset(st);
	return ncmd;
}

/* The hub was heard from: its health, its snapshot and its claim lease. */
static void hubsync_heard(coord *c, coord_hub *hub, const Dropnet__HubSyncRequest *m,
    coord_sync_verdict verdict, uint64_t now_mono, int64_t now_wall,
    Dropnet__HubSyncReply *rep)
{
	if (coord_hub_health(c, hub, now_mono) != COORD_HUB_OK) {
		log_info("hub.up", "hub=%s", hub->id);
	}
	hub->health_logged = COORD_HUB_OK;
	hub->last_seen_mono_ms = now_mono ? now_mono : 1;
	hub->last_seen_wall_ms = now_wall;
	/* A snapshot counts only from a book that follows ours: not during a
	 * rewind, nor from a new book not yet seeded. */
	if (verdict == COORD_SYNC_OK && !hub->seed_pending) {
		hubsync_report(hub, m);
	} else {
		hub->report_valid = false;
	}
	/* The claim lease: the hub counts it from when it sent this request,
	 * which was before now_mono, so it runs out before lease_sent_mono_ms
	 * + lease_ms on this clock (SEMANTICS.md "Hub health"). A hub may
	 * already hold a longer one (after a restart, or a lower config): keep
	 * the later end. */
	rep->lease_ms = (uint32_t)c->cfg.hub_lease_ms;
	if (now_mono + (uint64_t)rep->lease_ms >=
	    hub->lease_sent_mono_ms + hub->lease_granted_ms) {
		hub->lease_sent_mono_ms = now_mono;
		hub->lease_granted_ms = rep->lease_ms;
	}
}

/* Answers an applied request: positions, lease, incarnations, a rewind or
 * a seed when resync.c asked for one, and the next commands. */
static void hubsync_reply_ok(coord *c, mreq *r, const Dropnet__HubSyncRequest *m, int h,
    coord_sync_verdict verdict, uint64_t now_mono, int64_t now_wall)
{
	coord_hub *hub = &c->hubs[h];
	Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.status = DROPNET__STATUS__OK;
	rep.event_applied = hub->event_applied;
	rep.message = "";
	hubsync_heard(c, hub, m, verdict, now_mono, now_wall, &rep);
	rep.incarnation = c->incarnation;
	rep.hub_incarnation = hub->incarnation;
	uint64_t after = m->cmd_applied > hub->cmd_acked ? m->cmd_applied : hub->cmd_acked;
	if (verdict == COORD_SYNC_REWIND) {
		rep.rewind = true;
		rep.cmd_base = hub->cmd_acked;
		after = hub->cmd_acked;
	}
	Dropnet__StockLevel **seed = NULL;
	size_t nseed = 0;
	if (coord_resync_seed(c, h, m, &seed, &nseed) != 0) {
		/* Never answer a first contact without its seed: the hub would
		 * confirm us with an empty book. */
		log_error("hubsync.seed_failed", "hub=%s", hub->id);
		hubsync_reply_error(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	rep.stock_seed = seed;
	rep.n_stock_seed = nseed;
	Dropnet__HubCommand *cmds[DN_STREAM_BATCH_MAX];
	rep.n_commands = hubsync_commands(c, hub, after, cmds);
	rep.commands = cmds;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_sync_reply_pack(&rep, &buf, &len) == 0) {
		mreq_reply(r, buf, len);
		free(buf);
	} else {
		hubsync_reply_error(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
	}
	for (size_t k = 0; k < rep.n_commands; k++) {
		codec_hub_command_free(cmds[k]);
	}
	coord_resync_seed_free(seed, nseed);
}

void coord_hubsync_batch(coord *c, mreq **reqs, size_t n)
{
	Dropnet__HubSyncRequest *msgs[DN_SERVER_CTX_MAX] = {0};
	int hub_of[DN_SERVER_CTX_MAX];
	coord_sync_verdict verdict[DN_SERVER_CTX_MAX];
	bool failed[DN_SERVER_CTX_MAX] = {false};
	bool any_failed = false;
	int64_t now_wall = coord_now_wall_ms(c);
	uint64_t now_mono = coord_now_mono_ms(c);
	assert(n <= DN_SERVER_CTX_MAX);
	int rv = coord_ready(c) ? db_begin(c->db) : DN_EIO;
	for (size_t i = 0; i < n; i++) {
		hub_of[i] = -1;
		verdict[i] = COORD_SYNC_OK;
		size_t len = 0;
		const uint8_t *body = mreq_body(reqs[i], &len);
		int urv = codec_hub_sync_request_unpack(body, len, &msgs[i]);
		if (urv != 0 || rv != 0) {
			continue;
		}
		rv = hubsync_isolated(c, msgs[i], now_wall, &hub_of[i], &verdict[i], &failed[i]);
		any_failed = any_failed || failed[i];
	}
	/* After every request: a later one may have queued commands for an
	 * earlier hub (a re-route), and the replies carry them. */
	for (size_t i = 0; i < n && rv == 0; i++) {
		if (hub_of[i] >= 0 && !failed[i] && verdict[i] != COORD_SYNC_REFUSE) {
			rv = coord_resync_finish(c, hub_of[i], msgs[i]);
		}
	}
	if (rv == 0) {
		rv = db_commit(c->db);
	} else {
		db_rollback(c->db);
	}
	if (rv != 0) {
		c->commit_failures++;
		log_error("hubsync.batch_failed", "requests=%zu err=%s", n, dn_strerror(rv));
		coord_reload(c);
	} else if (any_failed) {
		/* The rolled-back requests' changes to memory are undone by
		 * reading back the file the rest of the batch committed to. */
		coord_reload(c);
	}
	for (size_t i = 0; i < n; i++) {
		Dropnet__HubSyncRequest *m = msgs[i];
		if (m == NULL) {
			log_warn("hubsync.malformed", "request=%zu", i);
			hubsync_reply_error(reqs[i], DROPNET__STATUS__MALFORMED, "not a HubSyncRequest");
			continue;
		}
		if (m->version != DN_PROTO_VERSION) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__UNSUPPORTED_VERSION,
			    "this coordinator speaks version 1");
		} else if (rv != 0 || failed[i]) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__UNAVAILABLE, "storage failed");
		} else if (hub_of[i] < 0) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__INVALID, "bad hello");
		} else if (verdict[i] == COORD_SYNC_REFUSE) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__CONFLICT, "the hub's store and"
			    " this coordinator's do not share a history (see the coordinator's"
			    " log: hub.resync_refused)");
		} else {
			hubsync_reply_ok(c, reqs[i], m, hub_of[i], verdict[i], now_mono, now_wall);
		}
		codec_hub_sync_request_free(m);
	}
}
