/*
 * placement.c - placing an order's units at hubs: the routing view of the
 * in-memory ledger, allocation, placement rows, the hub command stream and
 * the write-through of ledger rows. Used by the storefront path (ingest.c)
 * and by hub syncs, drops and rebalancing (re-route after a short, hold
 * confirmation, transfers). Every call runs inside the caller's
 * transaction; the SQL is in store_ingest.c. Loop thread only.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

int coord_stock_save(coord *c, const coord_stock *s)
{
	coord_stock_assert(c, s, "write");
	coord_store_stock_row r = {
	    .hub = c->hubs[s->hub].id, .sku = s->sku,
	    .on_hand = s->row.on_hand, .allocated = s->row.allocated,
	    .holdback = s->row.holdback, .received = s->received,
	    .shipped = s->shipped, .lost = s->lost, .adjusted = s->adjusted,
	    .returned = s->returned, .transfer_in = s->transfer_in,
	    .transfer_out = s->transfer_out,
	};
	return coord_store_stock_upsert(c->store, &r);
}

/* Allocates q of sku at hub in the ledger and writes the row through. */
static int placement_allocate(coord *c, int hub, const char *sku, uint32_t q)
{
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
		log_error("coord.allocate_failed", "hub=%s sku=%s qty=%u", c->hubs[hub].id,
		    sku, q);
		return DN_ESTATE;
	}
	return coord_stock_save(c, row) != 0 ? DN_EIO : 0;
}

/* Queues the placement's hub command from lines known in memory, as
 * coord_placement_send would read them back: in placement_lines' key order
 * (by SKU, byte order; the hub and pickterm show the first line first).
 * Marks nothing: the placement was inserted open. */
static int placement_send_known(coord *c, const coord_place_order *o, int64_t pid,
    int hub, const route_line *lines, const uint32_t *qty, size_t nlines,
    const char *gift_sku, int64_t now_wall)
{
	Dropnet__OrderLine cl[COORD_STORE_SEND_LINES];
	Dropnet__OrderLine *clp[COORD_STORE_SEND_LINES];
	size_t n = 0;
	for (size_t i = 0; i <= nlines; i++) {
		const char *sku = i < nlines ? lines[i].sku : gift_sku;
		uint32_t q = i < nlines ? qty[i] : 1;
		if (q == 0 || sku == NULL) {
			continue;
		}
		assert(n < COORD_STORE_SEND_LINES);
		dropnet__order_line__init(&cl[n]);
		cl[n].sku = (char *)sku;
		cl[n].qty = q;
		cl[n].gift = i == nlines;
		/* Insertion sort: at most COORD_STORE_SEND_LINES lines. */
		size_t k = n;
		while (k > 0 && strcmp(clp[k - 1]->sku, sku) > 0) {
			clp[k] = clp[k - 1];
			k--;
		}
		clp[k] = &cl[n];
		n++;
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = (char *)o->key;
	cmd.customer = (char *)o->customer;
	cmd.tier = (char *)o->tier;
	cmd.promised_ms = o->received_ms + c->cfg.ship_promise_ms;
	cmd.n_lines = n;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	return coord_command_queue(c, hub, &cmd);
}

int coord_place(coord *c, const coord_place_order *o, int hub,
    const route_line *lines, const uint32_t *qty, size_t nlines,
    const char *gift_sku, bool held, int64_t now_wall)
{
	int64_t pid = 0;
	if (coord_store_placement_insert(c->store, o->id, c->hubs[hub].id, held,
	    now_wall, &pid) != 0) {
		return DN_EIO;
	}
	for (size_t i = 0; i <= nlines; i++) {
		const char *sku = i < nlines ? lines[i].sku : gift_sku;
		uint32_t q = i < nlines ? qty[i] : 1;
		if (q == 0 || sku == NULL) {
			continue;
		}
		int rv = placement_allocate(c, hub, sku, q);
		if (rv != 0) {
			return rv;
		}
		if (coord_store_placement_line_insert(c->store, pid, sku, q, i == nlines) != 0) {
			return DN_EIO;
		}
	}
	if (held) {
		return 0;
	}
	if (o->tier == NULL) {
		return coord_placement_send(c, pid, now_wall);
	}
	return placement_send_known(c, o, pid, hub, lines, qty, nlines, gift_sku, now_wall);
}

int coord_placement_send(coord *c, int64_t pid, int64_t now_wall)
{
	coord_store_send ps;
	int rv = coord_store_placement_send_get(c->store, pid, &ps);
	if (rv == DN_EIO) {
		return DN_EIO;
	}
	int hub = rv == 0 ? coord_hub_find(c, ps.hub) : -1;
	if (hub < 0) {
		log_error("coord.placement_empty", "placement=%lld", (long long)pid);
		return DN_ESTATE;
	}
	Dropnet__OrderLine cl[COORD_STORE_SEND_LINES];
	Dropnet__OrderLine *clp[COORD_STORE_SEND_LINES];
	for (size_t i = 0; i < ps.nlines; i++) {
		dropnet__order_line__init(&cl[i]);
		cl[i].sku = ps.lines[i].sku;
		cl[i].qty = ps.lines[i].qty;
		cl[i].gift = ps.lines[i].gift;
		clp[i] = &cl[i];
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = ps.order_key;
	cmd.customer = ps.customer;
	cmd.tier = ps.tier;
	cmd.promised_ms = ps.received_ms + c->cfg.ship_promise_ms;
	cmd.n_lines = ps.nlines;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	rv = coord_command_queue(c, hub, &cmd);
	if (rv != 0) {
		return rv;
	}
	return coord_store_placement_state_set(c->store, pid, "open");
}

int coord_command_queue(coord *c, int hub, Dropnet__HubCommand *cmd)
{
	coord_hub *h = &c->hubs[hub];
	cmd->seq = h->cmd_seq + 1;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_command_pack(cmd, &buf, &len) != 0) {
		return DN_ENOMEM;
	}
	/* A place or transfer command carries placement order_id (traced
	 * until the hub acks it); a cancel only refers to one. */
	int64_t pid = cmd->kind != DROPNET__COMMAND_KIND__CMD_CANCEL_ORDER
	    ? (int64_t)cmd->order_id : 0;
	int rv = coord_store_command_append(c->store, h->id, cmd->seq, pid, buf, len);
	free(buf);
	if (rv != 0) {
		return DN_EIO;
	}
	h->cmd_seq = cmd->seq;
	h->cmd_seq_dirty = true; /* written before the commit (txn.c) */
	return 0;
}

void coord_route_view(coord *c, size_t nlines, route_hub *hubs, int64_t *sellable,
    uint64_t now_mono, int exclude)
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
	}
}

/* Hub i's row of the view's sellable: its sellable units of each line. */
static void route_view_sellable(coord *c, coord_route_scratch *w, size_t i,
    const route_line *lines, size_t nlines)
{
	int64_t *row = &w->sellable[i * nlines];
	for (size_t l = 0; l < nlines; l++) {
		coord_stock *s = coord_stock_get(c, (int)i, lines[l].sku, false);
		row[l] = s != NULL ? ledger_sellable(&s->row) : 0;
#ifdef DROPNET_SIM_BUG
		/* dropsim's own test (tests/sim): a coordinator that skips the
		 * sellable check must be caught. Never in a product. */
		row[l] += s != NULL ? 1 : 0;
#endif
	}
}

int coord_route_order(coord *c, coord_route_scratch *w, const route_line *lines,
    size_t nlines, double lat, double lon, route_result *rr)
{
	/* Comparing the view with what the index was built over is O(hubs)
	 * and cheap next to the view itself, and cannot miss a change (a
	 * hello, `dropctl hub`, a reload, an undo, a restored snapshot) the
	 * way marking each of those places could. The build allocates
	 * nothing: coord_open reserved it for hubs_max hubs. */
	if (!hubindex_matches(&c->hubix, w->hubs, c->nhubs)) {
		int rv = hubindex_build(&c->hubix, w->hubs, c->nhubs);
		if (rv != 0) {
			return rv;
		}
	}
	/* Routing reads the sellable units of the hubs in range only: those
	 * are looked up (a ledger lookup per hub and line, noted by the undo
	 * log), not every hub's. An error here is route_order_indexed's too. */
	size_t n = 0;
	if (hubindex_query(&c->hubix, w->hubs, c->nhubs, lat, lon, rr->cand, rr->cand_cap,
	    &n) == 0) {
		for (size_t k = 0; k < n; k++) {
			route_view_sellable(c, w, rr->cand[k].hub, lines, nlines);
		}
	}
	return route_order_indexed(w->hubs, c->nhubs, &c->hubix, lines, nlines, lat,
	    lon, c->split, rr);
}

int coord_place_takes(coord *c, const route_result *rr, const coord_place_order *o,
    const route_line *lines, size_t nlines, const char *gift_sku, bool held,
    int64_t now_wall)
{
	for (size_t t = 0; t < rr->ntake; t++) {
		size_t hub = rr->take[t].hub;
		/* Placed already with an earlier take (at most
		 * DN_ORDER_LINES_MAX x DN_SPLIT_HUBS_MAX takes: a scan is cheap). */
		bool done = false;
		for (size_t u = 0; u < t && !done; u++) {
			done = rr->take[u].hub == hub;
		}
		if (done) {
			continue;
		}
		uint32_t qty[DN_ORDER_LINES_MAX] = {0};
		for (size_t u = t; u < rr->ntake; u++) {
			if (rr->take[u].hub == hub) {
				qty[rr->take[u].line] += rr->take[u].qty;
			}
		}
		/* The gift rides with the first placement only. */
		int rv = coord_place(c, o, (int)hub, lines, qty, nlines,
		    t == 0 ? gift_sku : NULL, held, now_wall);
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
	coord_route_scratch *w = &c->route[COORD_ROUTE_REROUTE];
	route_result *rr = &w->rr;
	coord_route_view(c, 1, w->hubs, w->sellable, coord_now_mono_ms(c), exclude);
	if (coord_route_order(c, w, &line, 1, lat, lon, rr) != 0) {
		return DN_EINVAL;
	}
	if (rr->status != ROUTE_ACCEPTED) {
		return coord_store_order_line_backorder(c->store, order_id, sku, qty) != 0 ?
		    DN_EIO : 0;
	}
	coord_place_order o = {.id = order_id, .key = order_key, .customer = customer};
	int rv = coord_place_takes(c, rr, &o, &line, 1, NULL, false, now_wall);
	return rv != 0 ? rv : 1;
}

/* Rewrites a journalled order's status and ack (confirm, lapse). */
int coord_order_set_status(coord *c, int64_t id, Dropnet__Status status,
    const char *message)
{
	uint8_t *blob = NULL;
	size_t blen = 0;
	if (coord_store_order_ack_get(c->store, id, &blob, &blen) != 0) {
		return DN_EIO;
	}
	Dropnet__OrderAck *ack = NULL;
	codec_order_ack_unpack(blob, blen, &ack);
	free(blob);
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
	rv = coord_store_order_status_set(c->store, id, status, buf, len);
	free(buf);
	return rv;
}
