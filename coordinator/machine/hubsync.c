/*
 * hubsync.c - both streams with the hubs, one round trip each (see
 * proto/SEMANTICS.md "hubsync"). Hubs dial in; a batch of sync requests is
 * applied in one transaction, each request in its own savepoint: a request
 * that fails (storage) is rolled back alone, in the file and in memory (the
 * undo log's mark, stock.c), and answered UNAVAILABLE. Events
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
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Looks a placement up; it must belong to hub. Returns 0, DN_ENOENT or
 * DN_EIO; *transfer is set when it is the pick of a hub-to-hub transfer. */
static int hubsync_placement_kind(coord *c, int hub, uint64_t pid, int64_t *order_id,
    bool *transfer)
{
	store_stream_placement p;
	int rv = store_stream_placement_get(c->store, (int64_t)pid, &p);
	if (rv == 0 && strcmp(p.hub, c->hubs[hub].id) != 0) {
		rv = DN_ENOENT;
	}
	if (rv == 0) {
		*order_id = p.order_id;
		*transfer = p.transfer;
	}
	return rv;
}

/* An order's placement at hub: 0, DN_ENOENT (unknown, another hub's or a
 * transfer's) or DN_EIO. */
static int hubsync_placement(coord *c, int hub, uint64_t pid, int64_t *order_id)
{
	bool transfer = false;
	int rv = hubsync_placement_kind(c, hub, pid, order_id, &transfer);
	return rv == 0 && transfer ? DN_ENOENT : rv;
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
	/* Rows of nothing do not count: the ledger keeps a row for every SKU
	 * the hub ever held, a wiped hub's new book only those its seed gave
	 * it (on hand), and the hub admits a SKU by its own book. Counted
	 * only at the bound. */
	const coord_stock *row = coord_stock_get(c, hub, e->sku, false);
	if (row == NULL && c->hubs[hub].nskus >= DN_HUB_SKUS_MAX &&
	    coord_stock_held(c, hub) >= DN_HUB_SKUS_MAX) {
		return "skus";
	}
	int64_t on_hand = row != NULL ? row->row.on_hand : 0;
	if (e->qty > 0 && on_hand > DN_STOCK_ROW_UNITS_MAX - e->qty) {
		return "row_units";
	}
	return NULL;
}

/* Gives back what the lines of placement pid at hub still hold allocated
 * and marks the placement 'refused'. *n lines are returned in lines (room
 * for DN_ORDER_LINES_MAX + 1). */
static int hubsync_refused_release(coord *c, int hub, int64_t pid,
    store_stream_pline *lines, size_t *n)
{
	int rv = store_stream_plines_get(c->store, pid, lines, DN_ORDER_LINES_MAX + 1, n);
	if (rv != 0) {
		return rv;
	}
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
	return store_stream_placement_refused(c->store, pid);
}

/* Logs the refusal of an open placement. The reason is the hub's text:
 * bounded, and kept to one log line. */
static void hubsync_refused_log(coord *c, int hub, const Dropnet__HubEvent *e,
    bool transfer)
{
	char why[201];
	size_t k = 0;
	for (const char *p = e->reason; *p && k < sizeof(why) - 1; p++) {
		why[k++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? *p : '?';
	}
	why[k] = '\0';
	log_warn(transfer ? "transfer.refused" : "order.refused", "hub=%s placement=%llu"
	    " command=%llu why=\"%s\"", c->hubs[hub].id, (unsigned long long)e->order_id,
	    (unsigned long long)e->command_seq, why);
}

/* Re-routes to another hub, or backorders, the open lines of an order's
 * refused placement; its gift line is only released. */
static int hubsync_refused_reroute(coord *c, int hub, int64_t order_id,
    const store_stream_pline *lines, size_t n, int64_t now_wall)
{
	store_stream_order o;
	int rv = store_stream_order_get(c->store, order_id, &o);
	if (rv != 0) {
		return rv;
	}
	for (size_t i = 0; i < n; i++) {
		if (lines[i].gift || lines[i].open <= 0) {
			continue;
		}
		rv = coord_reroute(c, order_id, o.key, o.customer, o.lat, o.lon, lines[i].sku,
		    (uint32_t)lines[i].open, hub, now_wall);
		if (rv < 0) {
			return rv;
		}
		log_info("order.refused_rerouted", "hub=%s order=%lld sku=%s qty=%lld outcome=%s",
		    c->hubs[hub].id, (long long)order_id, lines[i].sku,
		    (long long)lines[i].open, rv == 1 ? "rerouted" : "backordered");
	}
	return 0;
}

/* The hub refused the command of placement e->order_id: none of it will be
 * picked there. Its allocation is released; a transfer is cancelled, an
 * order's lines are re-routed to another hub or backordered (its gift
 * line is only released). Refusals of anything but an open placement are
 * logged and skipped. */
static int hubsync_refused(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	const char *hid = c->hubs[hub].id;
	int64_t pid = (int64_t)(e->order_id > INT64_MAX ? 0 : e->order_id);
	store_stream_placement p;
	int rv = store_stream_placement_get(c->store, pid, &p);
	if (rv == DN_EIO) {
		return rv;
	}
	bool mine = rv == 0 && strcmp(p.hub, hid) == 0;
	bool open = rv == 0 && strcmp(p.state, "open") == 0;
	if (!mine || !open) {
		log_warn("hubsync.refusal_ignored", "hub=%s seq=%llu placement=%llu reason=%s",
		    hid, (unsigned long long)e->seq, (unsigned long long)e->order_id,
		    mine ? "not open" : "unknown placement");
		return 0;
	}
	hubsync_refused_log(c, hub, e, p.transfer);
	store_stream_pline lines[DN_ORDER_LINES_MAX + 1];
	size_t n = 0;
	rv = hubsync_refused_release(c, hub, (int64_t)e->order_id, lines, &n);
	if (rv != 0) {
		return rv;
	}
	if (p.transfer) {
		return store_stream_transfer_cancel(c->store, (int64_t)e->order_id);
	}
	return hubsync_refused_reroute(c, hub, p.order_id, lines, n, now_wall);
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
	int rv = coord_stock_save(c, row);
	return rv != 0 || d >= 0 ? rv : coord_drops_on_loss(c, hub, e->sku, now_wall);
}

/* Ships one line of an order's placement: at most what it still needs. */
static int hubsync_ship_line(coord *c, int hub, const Dropnet__HubEvent *e,
    const Dropnet__OrderLine *l)
{
	int64_t open = 0;
	int rv = store_stream_pline_open(c->store, (int64_t)e->order_id, l->sku, &open);
	if (rv != 0) {
		return rv;
	}
	int64_t q = l->qty;
	if (q > open) {
		log_warn("hubsync.overship", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
		    c->hubs[hub].id, (unsigned long long)e->order_id, l->sku,
		    (long long)q, (long long)open);
		q = open;
	}
	if (q <= 0) {
		return 0;
	}
	/* The units left: booked whatever the books say, so the line and its
	 * allocation close (coord_gap_note says what the books lacked). */
	coord_stock *row = coord_stock_get(c, hub, l->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	ledger_gap gap;
	ledger_ship_force(&row->row, q, &gap);
	row->adjusted += gap.found;
	row->shipped += q;
	coord_gap_note(c, hub, l->sku, "ship", (int64_t)e->order_id, &gap);
	if (store_stream_pline_ship(c->store, (int64_t)e->order_id, l->sku, q) != 0 ||
	    coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	return 0;
}

/* EV_SHIPPED: a transfer's pick leaves for the van, or an order's lines
 * ship (at most what the placement still needs). */
static int hubsync_shipped(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0;
	bool transfer = false;
	int rv = hubsync_placement_kind(c, hub, e->order_id, &order_id, &transfer);
	if (rv == 0 && transfer) {
		return coord_transfer_shipped(c, hub, (int64_t)e->order_id, now_wall);
	}
	if (rv != 0) {
		if (rv != DN_ENOENT) {
			return rv;
		}
		log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", hid,
		    (unsigned long long)e->seq, (unsigned long long)e->order_id);
		return 0;
	}
	for (size_t i = 0; i < e->n_lines; i++) {
		if ((rv = hubsync_ship_line(c, hub, e, e->lines[i])) != 0) {
			return rv;
		}
	}
	/* Journalled: a tracking id that is not an id is not kept. */
	if (e->tracking[0] && !validate_id(e->tracking)) {
		log_warn("hubsync.bad_tracking", "hub=%s order=%llu", hid,
		    (unsigned long long)e->order_id);
	}
	return store_stream_placement_shipped(c->store, (int64_t)e->order_id,
	    e->time_ms ? e->time_ms : now_wall, validate_id(e->tracking) ? e->tracking : "");
}

/* Books the units of an order's line the hub could not find: the hub
 * wrote off q - kept (SEMANTICS.md, EV_SHORT); only what was on the books
 * can go missing from them; the line's allocation is released whatever the
 * books say, and the placement closes when nothing is left open. */
static int hubsync_short_book(coord *c, int hub, const Dropnet__HubEvent *e, int64_t q,
    int64_t now_wall)
{
	coord_stock *row = coord_stock_get(c, hub, e->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	int64_t kept = e->kept > 0 && e->kept <= e->qty ? e->kept : 0;
	int64_t lost = q - kept > 0 ? q - kept : 0;
	int64_t gone = 0;
	ledger_gap gap;
	ledger_short_force(&row->row, q, lost, &gone, &gap);
	coord_gap_note(c, hub, e->sku, "short", (int64_t)e->order_id, &gap);
	row->lost += gone;
	if (store_stream_pline_short(c->store, (int64_t)e->order_id, e->sku, q) != 0 ||
	    coord_stock_save(c, row) != 0 ||
	    store_stream_placement_close(c->store, (int64_t)e->order_id) != 0) {
		return DN_EIO;
	}
	return gone > 0 ? coord_drops_on_loss(c, hub, e->sku, now_wall) : 0;
}

/* EV_SHORT: units of a transfer or an order the hub could not find; an
 * order's are re-routed or backordered. */
static int hubsync_short(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0, open = 0;
	bool transfer = false;
	int rv = hubsync_placement_kind(c, hub, e->order_id, &order_id, &transfer);
	if (rv == 0 && transfer && e->qty > 0) {
		return coord_transfer_shorted(c, hub, (int64_t)e->order_id, e->sku, e->qty,
		    e->kept);
	}
	if (rv != 0 && rv != DN_ENOENT) {
		return rv;
	}
	if (rv != 0 || transfer || e->qty <= 0) {
		log_warn("hubsync.bad_short", "hub=%s seq=%llu order=%llu", hid,
		    (unsigned long long)e->seq, (unsigned long long)e->order_id);
		return 0;
	}
	if ((rv = store_stream_pline_open(c->store, (int64_t)e->order_id, e->sku, &open)) != 0) {
		return rv;
	}
	int64_t q = e->qty < open ? e->qty : open;
	if (q <= 0) {
		log_warn("hubsync.bad_short", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
		    hid, (unsigned long long)e->order_id, e->sku, (long long)e->qty,
		    (long long)open);
		return 0;
	}
	store_stream_order o;
	if ((rv = hubsync_short_book(c, hub, e, q, now_wall)) != 0 ||
	    (rv = store_stream_order_get(c->store, order_id, &o)) != 0) {
		return rv;
	}
	/* Re-route what is missing, or backorder it. */
	int rr = coord_reroute(c, order_id, o.key, o.customer, o.lat, o.lon, e->sku,
	    (uint32_t)q, hub, now_wall);
	if (rr < 0) {
		return rr;
	}
	log_info("order.short", "hub=%s order=%lld sku=%s qty=%lld outcome=%s", hid,
	    (long long)order_id, e->sku, (long long)q, rr == 1 ? "rerouted" : "backordered");
	return 0;
}

/* EV_PICKED: an order's placement was picked. */
static int hubsync_picked(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	int64_t order_id = 0;
	int rv = hubsync_placement(c, hub, e->order_id, &order_id);
	if (rv == DN_ENOENT) {
		log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", c->hubs[hub].id,
		    (unsigned long long)e->seq, (unsigned long long)e->order_id);
		return 0;
	}
	if (rv != 0) {
		return rv;
	}
	return store_stream_placement_picked(c->store, (int64_t)e->order_id,
	    e->time_ms ? e->time_ms : now_wall);
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
	const char *hid = c->hubs[hub].id;
	switch (e->kind) {
	case DROPNET__EVENT_KIND__EV_RECEIVED:
	case DROPNET__EVENT_KIND__EV_ADJUSTED:
		return hubsync_units(c, hub, e, now_wall);
	case DROPNET__EVENT_KIND__EV_PICKED:
		return hubsync_picked(c, hub, e, now_wall);
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

/* A registered hub's hello names another position or radius than the
 * registry's. Only an admin moves a hub (OPS_HUB_SET, `dropctl hubs set`):
 * a hub's own credential must not widen its radius or move it next to a
 * city to capture its orders. Logged once per difference. */
static void hubsync_hello_differs(coord_hub *h, const Dropnet__HubHello *hello)
{
	bool differs = h->lat != hello->lat || h->lon != hello->lon ||
	    h->radius_km != hello->radius_km;
	if (differs && !h->hello_differs) {
		log_warn("hub.position_ignored",
		    "hub=%s hello_lat=%.4f hello_lon=%.4f hello_radius_km=%.1f "
		    "registry_lat=%.4f registry_lon=%.4f registry_radius_km=%.1f "
		    "hint=\"an admin moves a hub: dropctl hubs set\"",
		    h->id, hello->lat, hello->lon, hello->radius_km, h->lat, h->lon, h->radius_km);
	}
	h->hello_differs = differs;
}

/* Registers a hub from its first hello (its credential was issued by the
 * operator), or refreshes a known one's name and terminal address; a known
 * hub's position and radius stay the registry's. Returns the index, -1 for
 * a bad hello, -2 when storage failed, HUBSYNC_REGISTRY_FULL for a new hub
 * when hubs_max are registered. */
enum { HUBSYNC_REGISTRY_FULL = -3 };

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
	const char *name = hello->name[0] ? hello->name : hello->id;
	if (h != NULL) {
		hubsync_hello_differs(h, hello);
		if (strcmp(h->term_url, hello->term_url) == 0 && strcmp(h->name, name) == 0) {
			return i;
		}
		coord_undo_hub(c, i); /* a failed transaction puts it back */
	} else {
		if (c->nhubs == c->hubs_max) {
			log_warn("hub.registry_full", "hub=%s hubs_max=%zu hint=\"raise"
			    " coordinator.hubs_max\"", hello->id, c->hubs_max);
			*why = "hub registry full (coordinator.hubs_max)";
			return HUBSYNC_REGISTRY_FULL;
		}
		i = (int)c->nhubs++;
		h = &c->hubs[i];
		memset(h, 0, sizeof(*h));
		snprintf(h->id, sizeof(h->id), "%s", hello->id);
		coord_hubid_add(c, (size_t)i);
		h->lat = hello->lat;
		h->lon = hello->lon;
		h->radius_km = hello->radius_km;
		log_info("hub.registered", "hub=%s lat=%.4f lon=%.4f radius_km=%.1f", h->id,
		    hello->lat, hello->lon, hello->radius_km);
	}
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->term_url, sizeof(h->term_url), "%s", hello->term_url);
	store_stream_hub row = {h->id, h->name, h->term_url, h->lat, h->lon, h->radius_km};
	if (store_stream_hub_upsert(c->store, &row) != 0) {
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
		/* validate_id: at most DN_ID_MAX bytes, as sku holds. */
		memcpy(r[h->nreport].sku, m->stock[i]->sku, strlen(m->stock[i]->sku) + 1);
		r[h->nreport].on_hand = m->stock[i]->on_hand;
		h->nreport++;
	}
	h->report_valid = true;
}

/* Applies one sync request: hello, the resync check, events, command ack
 * and stream positions. *hub_out is the hub's index, or -1 for a bad hello
 * (HUBSYNC_REGISTRY_FULL: a new hub over hubs_max);
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
		*hub_out = h == HUBSYNC_REGISTRY_FULL ? h : -1;
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
	/* The file's positions (a new incarnation rewrote them above). */
	const uint64_t was_acked = hub->cmd_acked, was_applied = hub->event_applied;
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
		/* The hub's clock, shown as it is (like its event times). */
		int64_t queued = m->cmd_applied_ms > 0 ? m->cmd_applied_ms : 0;
		if ((rv = store_stream_cmds_delivered(c->store, hub->id, hub->cmd_acked,
		    now_wall, queued)) != 0 ||
		    (rv = store_stream_cmds_trim(c->store, hub->id, hub->cmd_acked)) != 0) {
			return rv;
		}
	}
	/* A sync that moved neither position writes nothing (an idle hub's
	 * syncs cost no commit). A resync above rewrote the row itself. */
	if (hub->cmd_acked == was_acked && hub->event_applied == was_applied) {
		return 0;
	}
	return store_stream_hub_positions_set(c->store, hub->id, hub->cmd_acked,
	    hub->event_applied);
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
	int rv = store_stream_request_open(c->store);
	if (rv != 0) {
		return rv;
	}
	coord_undo_mark mark;
	coord_undo_mark_set(c, &mark);
	rv = hubsync_request(c, m, now_wall, hub_out, verdict);
	if (rv == 0 && coord_undo_failed(c)) {
		return DN_ENOMEM; /* the undo log is incomplete: lose the batch */
	}
	if (rv == 0) {
		return store_stream_request_close(c->store);
	}
	*failed = true;
	c->sync_requests_failed++;
	log_error("hubsync.request_failed", "hub=%s err=%s count=%llu",
	    m->hello != NULL && m->hello->id != NULL ? m->hello->id : "?", dn_strerror(rv),
	    (unsigned long long)c->sync_requests_failed);
	/* Some errors (I/O, full disk) end the whole transaction in SQLite;
	 * then nothing of the batch can commit (the runner undoes it all). */
	if (store_stream_request_undo(c->store) != 0) {
		return rv;
	}
	coord_undo_to_mark(c, &mark);
	return 0;
}

/* The commands a reply carries (hubsync_commands). */
typedef struct {
	Dropnet__HubCommand **cmds;
	size_t n;
} hubsync_cmds;

static int hubsync_command_add(void *arg, const uint8_t *payload, size_t len)
{
	hubsync_cmds *l = arg;
	assert(l->n < DN_STREAM_BATCH_MAX);
	if (codec_hub_command_unpack(payload, len, &l->cmds[l->n]) == 0) {
		l->n++;
	}
	return 0;
}

/* Reads the commands after `after` for the hub into cmds (at most
 * DN_STREAM_BATCH_MAX); the caller frees each. A read that fails part way
 * gives the commands read so far: the rest are offered at the next sync. */
static size_t hubsync_commands(coord *c, const coord_hub *hub, uint64_t after,
    Dropnet__HubCommand **cmds)
{
	hubsync_cmds l = {cmds, 0};
	if (after >= hub->cmd_seq) {
		return 0; /* none queued after it (an idle hub's every sync) */
	}
	(void)store_stream_cmds_list(c->store, hub->id, after, DN_STREAM_BATCH_MAX,
	    hubsync_command_add, &l);
	return l.n;
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

/* One batch of sync requests and what became of each. */
typedef struct {
	mreq **reqs;
	size_t n;
	int64_t now_wall;
	Dropnet__HubSyncRequest *msgs[DN_SERVER_CTX_MAX]; /* NULL: malformed */
	int hub_of[DN_SERVER_CTX_MAX];                     /* -1: bad hello */
	coord_sync_verdict verdict[DN_SERVER_CTX_MAX];
	bool failed[DN_SERVER_CTX_MAX];                    /* rolled back alone */
	/* Refused by identity.c (0: not): nothing of it is applied. */
	Dropnet__Status refused[DN_SERVER_CTX_MAX];
	const char *refused_why[DN_SERVER_CTX_MAX];
} hubsync_batch;

/* Opens request i: its envelope (a refusal goes to b->refused[i]), then
 * its message, which must speak for the signing hub only. Before the
 * transaction: a refused request never reaches hubsync_batch_apply.
 * b->msgs[i] set (DN_ERANGE leaves it: another version, answered
 * UNSUPPORTED_VERSION, never applied), or NULL: refused or malformed. */
static void hubsync_open(coord *c, mreq *r, hubsync_batch *b, size_t i)
{
	coord_ident id;
	if (coord_ident_open(c, AUTH_SOCKET_HUBSYNC, r, &id, &b->refused[i],
	    &b->refused_why[i]) != 0) {
		return;
	}
	int urv = codec_hub_sync_request_unpack(id.body, id.len, &b->msgs[i]);
	if (urv == 0 && !coord_ident_speaks_for(c, &id, AUTH_SOCKET_HUBSYNC,
	    b->msgs[i]->hello != NULL ? b->msgs[i]->hello->id : "")) {
		codec_hub_sync_request_free(b->msgs[i]);
		b->msgs[i] = NULL;
		b->refused[i] = DROPNET__STATUS__FORBIDDEN;
		b->refused_why[i] = "a hub speaks only as itself";
	}
	coord_ident_close(&id);
}

/* Applies every request of the batch (opened and unpacked), each in its own
 * savepoint (coord_txn_run's apply). Returns 0, or the DN_E* code that
 * loses the whole transaction. */
static int hubsync_batch_apply(coord *c, void *arg)
{
	hubsync_batch *b = arg;
	int rv = 0;
	for (size_t i = 0; i < b->n && rv == 0; i++) {
		if (b->msgs[i] != NULL && b->msgs[i]->version == DN_PROTO_VERSION) {
			rv = hubsync_isolated(c, b->msgs[i], b->now_wall, &b->hub_of[i],
			    &b->verdict[i], &b->failed[i]);
		}
	}
	/* After every request: a later one may have queued commands for an
	 * earlier hub (a re-route), and the replies carry them. */
	for (size_t i = 0; i < b->n && rv == 0; i++) {
		if (b->hub_of[i] >= 0 && !b->failed[i] && b->verdict[i] != COORD_SYNC_REFUSE) {
			rv = coord_resync_finish(c, b->hub_of[i], b->msgs[i]);
		}
	}
	return rv;
}

/* Answers request i of the batch; rv is the batch's outcome. */
static void hubsync_batch_reply(coord *c, mreq *r, const hubsync_batch *b, size_t i,
    int rv, uint64_t now_mono, int64_t now_wall)
{
	const Dropnet__HubSyncRequest *m = b->msgs[i];
	if (b->refused[i] != DROPNET__STATUS__STATUS_UNSPECIFIED) {
		hubsync_reply_error(r, b->refused[i], b->refused_why[i]);
	} else if (m == NULL) {
		log_warn("hubsync.malformed", "request=%zu", i);
		hubsync_reply_error(r, DROPNET__STATUS__MALFORMED, "not a HubSyncRequest");
	} else if (m->version != DN_PROTO_VERSION) {
		hubsync_reply_error(r, DROPNET__STATUS__UNSUPPORTED_VERSION,
		    "this coordinator speaks version 1");
	} else if (rv != 0 || b->failed[i]) {
		hubsync_reply_error(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
	} else if (b->hub_of[i] == HUBSYNC_REGISTRY_FULL) {
		hubsync_reply_error(r, DROPNET__STATUS__INVALID, "hub registry full: as many"
		    " hubs as coordinator.hubs_max are registered");
	} else if (b->hub_of[i] < 0) {
		hubsync_reply_error(r, DROPNET__STATUS__INVALID, "bad hello");
	} else if (b->verdict[i] == COORD_SYNC_REFUSE) {
		hubsync_reply_error(r, DROPNET__STATUS__CONFLICT, "the hub's store and"
		    " this coordinator's do not share a history (see the coordinator's"
		    " log: hub.resync_refused)");
	} else {
		hubsync_reply_ok(c, r, m, b->hub_of[i], b->verdict[i], now_mono, now_wall);
	}
}

void coord_hubsync_batch(coord *c, mreq **reqs, size_t n)
{
	hubsync_batch *b = coord_scratch(c, COORD_SCRATCH_HUBSYNC, sizeof(*b));
	assert(n <= DN_SERVER_CTX_MAX);
	c->metrics.hubsync_requests += n;
	if (b == NULL) {
		for (size_t i = 0; i < n; i++) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__UNAVAILABLE, "out of memory");
		}
		return;
	}
	memset(b, 0, sizeof(*b));
	b->reqs = reqs;
	b->n = n;
	b->now_wall = coord_now_wall_ms(c);
	uint64_t now_mono = coord_now_mono_ms(c);
	for (size_t i = 0; i < n; i++) {
		b->hub_of[i] = -1;
		hubsync_open(c, reqs[i], b, i);
	}
	int rv = coord_txn_run(c, "hub_sync", hubsync_batch_apply, b);
	if (rv != 0) {
		log_error("hubsync.batch_failed", "requests=%zu err=%s", n, dn_strerror(rv));
	}
	for (size_t i = 0; i < n; i++) {
		hubsync_batch_reply(c, reqs[i], b, i, rv, now_mono, b->now_wall);
		codec_hub_sync_request_free(b->msgs[i]);
	}
	/* Receipts, shipments, shorts and transfers move sellable units. */
	coord_feed_scan(c, false);
}
