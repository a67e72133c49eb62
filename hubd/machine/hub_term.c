/*
 * hub_term.c - the terminal socket: TermRequest in, TermReply out
 * (SEMANTICS.md "term").
 *
 * One batch from the shell is one transaction (group commit): each request
 * runs inside its own savepoint, so a refused request undoes only itself;
 * the replies go out only after COMMIT returned, which is what makes an OK
 * durable (kill -9 loses nothing acknowledged). Bad bytes get a protocol
 * status and a log line, never an assertion.
 *
 * Claims (core/pick.h): an order claimed by one operator refuses every
 * other operator's claim, pick, short, pack and ship with CLAIMED. A write
 * carrying a request_key is answered once: its first OK answer is stored in
 * the same transaction, and a retry with the key (the terminal resends after
 * a timeout or a hubd restart) gets that answer without doing it twice.
 *
 * The lease fence (SEMANTICS.md "Hub health"): a new pick - a claim, or a
 * scan into an order nobody has claimed or started - needs a valid claim
 * lease from the coordinator, else NO_LEASE. Work already started goes on
 * offline: the coordinator counts it as the hub's for good.
 *
 * Thread model: the shell's thread (its terminal socket's batch callback).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/pick.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/log.h"
#include "hub.h"

#define TERM_MSG_MAX 512
#define TERM_BIN_DEFAULT "MAIN"

/* A queue order as the reply holds it: one allocation per order. */
typedef struct {
	Dropnet__QueueOrder order;
	Dropnet__QueueLine *lineptr[DN_ORDER_LINES_MAX];
	Dropnet__QueueLine lines[DN_ORDER_LINES_MAX];
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
	char claimed_by[DN_ID_MAX + 1], tier[DN_ID_MAX + 1];
	char skus[DN_ORDER_LINES_MAX][DN_ID_MAX + 1];
	char bins[DN_ORDER_LINES_MAX][DN_ID_MAX + 1];
} term_qorder;

typedef struct {
	Dropnet__StockLevel level;
	char sku[DN_ID_MAX + 1];
} term_stock;

/* Memory behind one reply, freed after packing. */
typedef struct {
	hub *h;
	Dropnet__TermReply *rep;
	Dropnet__QueueOrder **orders;
	Dropnet__StockLevel **stock;
	size_t norders, nstock, cap;
	char claimed_by[DN_ID_MAX + 1]; /* CLAIMED: the holder, for the reply */
} term_lists;

static void lists_free(term_lists *l)
{
	for (size_t i = 0; i < l->norders; i++) {
		free(l->orders[i]); /* first member of its term_qorder */
	}
	for (size_t i = 0; i < l->nstock; i++) {
		free(l->stock[i]);
	}
	free(l->orders);
	free(l->stock);
}

static Dropnet__Status verdict_status(pick_verdict v)
{
	switch (v) {
	case PICK_OK: return DROPNET__STATUS__OK;
	case PICK_INVALID: return DROPNET__STATUS__INVALID;
	case PICK_WRONG_SCAN: return DROPNET__STATUS__WRONG_SCAN;
	case PICK_CONFLICT: return DROPNET__STATUS__CONFLICT;
	case PICK_CLAIMED: return DROPNET__STATUS__CLAIMED;
	}
	return DROPNET__STATUS__INVALID;
}

/* Storage failures become UNAVAILABLE; the batch's savepoint undoes them. */
static Dropnet__Status store_status(int rv, char *msg)
{
	snprintf(msg, TERM_MSG_MAX, "storage failed (%s); check before retrying",
	    dn_strerror(rv));
	return DROPNET__STATUS__UNAVAILABLE;
}

static const char *operator_of(const Dropnet__TermRequest *req)
{
	return req->operator_ != NULL ? req->operator_ : "";
}

static void event_init(Dropnet__HubEvent *ev, const hub *h,
    const Dropnet__TermRequest *req, Dropnet__EventKind kind, int64_t now)
{
	Dropnet__HubEvent init = DROPNET__HUB_EVENT__INIT;
	*ev = init;
	ev->kind = kind;
	ev->time_ms = now;
	ev->operator_ = (char *)operator_of(req);
	if (h->term_uid >= 0) {
		ev->term_uid_known = true;
		ev->term_uid = (uint32_t)h->term_uid;
	}
}

/* Sets h->term_uid from the request's peer uid (see hub.h). */
static void term_uid_set(hub *h, const mreq *r)
{
	h->term_uid = r->peer_uid >= 0 && r->peer_uid <= UINT32_MAX ? r->peer_uid : -1;
	if (h->term_uid >= 0) {
		snprintf(h->term_uid_s, sizeof(h->term_uid_s), "%" PRId64, h->term_uid);
	} else {
		snprintf(h->term_uid_s, sizeof(h->term_uid_s), "unknown");
	}
}

static int stock_take_logged(hub *h, const char *sku, int64_t qty)
{
	int64_t before = 0, after = 0;
	int rv = hub_store_stock_get(h->store, sku, &before);
	if (rv == 0) {
		rv = hub_store_stock_take(h->store, sku, qty, &after);
	}
	if (rv == 0 && qty > before) {
		/* The book was short of what left the building: those units
		 * were there after all. The book stops at 0 - the rule the
		 * coordinator applies to the same EV_SHIPPED, so both books
		 * stay equal (a hub that kept -1 while the coordinator booked
		 * the find parted the books: found by dropsim, seed 244). */
		log_warn("hub.stock_found", "sku=%s found=%" PRId64, sku,
		    qty - (before > 0 ? before : 0));
	}
	return rv;
}

/* 1 (msg says why) when qty more of sku would take on_hand past
 * DN_STOCK_ROW_UNITS_MAX, which the coordinator's books refuse; 0 when it
 * fits, or a negative DN_E* code. */
static int stock_room(hub *h, const char *sku, int64_t qty, char *msg)
{
	int64_t on_hand = 0;
	int rv = hub_store_stock_get(h->store, sku, &on_hand);
	if (rv != 0) {
		return rv;
	}
	if (on_hand > DN_STOCK_ROW_UNITS_MAX - qty) {
		snprintf(msg, TERM_MSG_MAX, "%s would hold more than %lld units", sku,
		    (long long)DN_STOCK_ROW_UNITS_MAX);
		return 1;
	}
	/* The coordinator refuses an event naming one SKU past
	 * DN_HUB_SKUS_MAX at a hub; taken here, the units would be on this
	 * hub's book and never on the network's. */
	bool known = false;
	size_t n = 0;
	if ((rv = hub_store_stock_skus(h->store, sku, &known, &n)) != 0) {
		return rv;
	}
	if (!known && n >= DN_HUB_SKUS_MAX) {
		snprintf(msg, TERM_MSG_MAX, "this hub already holds %zu SKUs, the most one hub"
		    " may (%u): %s is not one of them", n, (unsigned)DN_HUB_SKUS_MAX, sku);
		log_warn("hub.skus_full", "sku=%s skus=%zu max=%u", sku, n,
		    (unsigned)DN_HUB_SKUS_MAX);
		return 1;
	}
	return 0;
}

static Dropnet__Status term_receive(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	const char *bin = req->bin[0] != '\0' ? req->bin : TERM_BIN_DEFAULT;
	Dropnet__HubEvent ev;
	pick_verdict v;
	int rv;

	v = pick_receive_check(req->sku, req->qty, bin, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (req->transfer_id[0] != '\0' && !validate_id(req->transfer_id)) {
		snprintf(msg, TERM_MSG_MAX, "transfer_id is not a valid id");
		return DROPNET__STATUS__INVALID;
	}
	if ((rv = stock_room(h, req->sku, req->qty, msg)) != 0) {
		return rv < 0 ? store_status(rv, msg) : DROPNET__STATUS__INVALID;
	}
	if ((rv = hub_store_stock_add(h->store, req->sku, bin, req->qty)) != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_RECEIVED, now);
	ev.sku = req->sku;
	ev.qty = req->qty;
	ev.bin = (char *)bin;
	ev.transfer_id = req->transfer_id; /* "" unless a hub-to-hub transfer */
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.received", "sku=%s qty=%" PRId64 " bin=%s transfer=%s "
	    "operator=%s uid=%s event=%" PRIu64, req->sku, req->qty, bin,
	    req->transfer_id[0] != '\0' ? req->transfer_id : "-",
	    operator_of(req), h->term_uid_s, ev.seq);
	snprintf(msg, TERM_MSG_MAX, "received %" PRId64 " x %s into %s",
	    req->qty, req->sku, bin);
	return DROPNET__STATUS__OK;
}

static int queue_add(void *arg, const hub_store_queue_row *row)
{
	term_lists *l = arg;
	term_qorder *q = calloc(1, sizeof(*q));
	Dropnet__QueueOrder oinit = DROPNET__QUEUE_ORDER__INIT;
	int rv;

	if (q == NULL) {
		return DN_ENOMEM;
	}
	l->orders[l->norders++] = &q->order;
	q->order = oinit;
	q->order.order_id = row->order.order_id;
	snprintf(q->key, sizeof(q->key), "%s", row->order_key);
	snprintf(q->customer, sizeof(q->customer), "%s", row->customer);
	q->order.order_key = q->key;
	q->order.customer = q->customer;
	q->order.state = (char *)pick_state_name(row->order.state);
	q->order.received_ms = row->received_ms;
	snprintf(q->claimed_by, sizeof(q->claimed_by), "%s",
	    row->order.claimed_by);
	snprintf(q->tier, sizeof(q->tier), "%s", row->order.tier);
	q->order.claimed_by = q->claimed_by;
	q->order.tier = q->tier;
	q->order.promised_ms = row->order.promised_ms;
	q->order.resent = row->order.resent;
	q->order.lines = q->lineptr;
	q->order.n_lines = row->order.nlines;
	for (size_t i = 0; i < row->order.nlines; i++) {
		Dropnet__QueueLine linit = DROPNET__QUEUE_LINE__INIT;
		const pick_line *hl = &row->order.lines[i];
		q->lines[i] = linit;
		q->lineptr[i] = &q->lines[i];
		snprintf(q->skus[i], sizeof(q->skus[i]), "%s", hl->sku);
		q->lines[i].sku = q->skus[i];
		q->lines[i].qty = hl->qty;
		q->lines[i].picked = hl->picked;
		q->lines[i].shorted = hl->shorted;
		q->lines[i].gift = hl->gift;
		rv = hub_store_bin_best(l->h->store, hl->sku, q->bins[i],
		    sizeof(q->bins[i]));
		if (rv != 0) {
			return rv;
		}
		q->lines[i].bin = q->bins[i];
	}
	return 0;
}

static Dropnet__Status term_queue(hub *h, char *msg, term_lists *l)
{
	int rv;
	l->orders = calloc(DN_QUEUE_LIST_MAX, sizeof(*l->orders));
	if (l->orders == NULL) {
		return store_status(DN_ENOMEM, msg);
	}
	rv = hub_store_queue_list(h->store, DN_QUEUE_LIST_MAX, queue_add, l);
	if (rv != 0) {
		return store_status(rv, msg);
	}
	l->rep->orders = l->orders;
	l->rep->n_orders = l->norders;
	snprintf(msg, TERM_MSG_MAX, "%zu open orders", l->norders);
	return DROPNET__STATUS__OK;
}

static int stock_add_level(void *arg, const char *sku, int64_t on_hand)
{
	term_lists *l = arg;
	term_stock *t = calloc(1, sizeof(*t));
	Dropnet__StockLevel init = DROPNET__STOCK_LEVEL__INIT;
	if (t == NULL) {
		return DN_ENOMEM;
	}
	l->stock[l->nstock++] = &t->level;
	t->level = init;
	snprintf(t->sku, sizeof(t->sku), "%s", sku);
	t->level.sku = t->sku;
	t->level.on_hand = on_hand;
	return 0;
}

static Dropnet__Status term_stock_list(hub *h, char *msg, term_lists *l)
{
	int rv;
	l->stock = calloc(DN_STOCK_REPORT_MAX, sizeof(*l->stock));
	if (l->stock == NULL) {
		return store_status(DN_ENOMEM, msg);
	}
	rv = hub_store_stock_list(h->store, DN_STOCK_REPORT_MAX, stock_add_level,
	    l);
	if (rv != 0) {
		return store_status(rv, msg);
	}
	l->rep->stock = l->stock;
	l->rep->n_stock = l->nstock;
	snprintf(msg, TERM_MSG_MAX, "%zu skus", l->nstock);
	return DROPNET__STATUS__OK;
}

/* Loads the order a pick/short/ship names; NOT_FOUND when unknown. */
static Dropnet__Status order_get(hub *h, const Dropnet__TermRequest *req,
    pick_order *o, char *msg)
{
	int rv;
	if (req->order_id == 0 || req->order_id > (uint64_t)INT64_MAX) {
		snprintf(msg, TERM_MSG_MAX, "order_id is required");
		return DROPNET__STATUS__INVALID;
	}
	rv = hub_store_order_load(h->store, req->order_id, o);
	if (rv == DN_ENOENT) {
		snprintf(msg, TERM_MSG_MAX, "order %" PRIu64 " not found",
		    req->order_id);
		return DROPNET__STATUS__NOT_FOUND;
	}
	if (rv != 0) {
		return store_status(rv, msg);
	}
	return DROPNET__STATUS__OK;
}

/* The fence before a new pick: NO_LEASE with a message saying why. */
static Dropnet__Status lease_check(hub *h, char *msg)
{
	if (hub_lease_valid(h)) {
		return DROPNET__STATUS__OK;
	}
	if (h->lease_until_mono_ms == 0) {
		snprintf(msg, TERM_MSG_MAX, "no lease from the coordinator since "
		    "hubd started: no new pick until it answers a sync");
	} else {
		snprintf(msg, TERM_MSG_MAX, "lease from the coordinator ran out "
		    "%" PRIu64 " ms ago: no new pick until it answers a sync; "
		    "orders already started can be finished",
		    h->now_mono_ms - h->lease_until_mono_ms);
	}
	log_warn("hub.no_lease", "msg=\"%s\"", msg);
	return DROPNET__STATUS__NO_LEASE;
}

static Dropnet__Status picked_event(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	Dropnet__HubEvent ev;
	int rv;
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_PICKED, now);
	ev.order_id = req->order_id;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.order_picked", "order_id=%" PRIu64 " operator=%s uid=%s "
	    "event=%" PRIu64, req->order_id, operator_of(req), h->term_uid_s, ev.seq);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_pick(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	pick_order o;
	bool done = false;
	Dropnet__Status st = order_get(h, req, &o, msg);
	int rv;

	if (st != DROPNET__STATUS__OK) {
		return st;
	}
	pick_verdict v = pick_owner_check(&o, operator_of(req), msg,
	    TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (o.state == PICK_ORDER_QUEUED && o.claimed_by[0] == '\0'
	    && (st = lease_check(h, msg)) != DROPNET__STATUS__OK) {
		return st; /* the first scan of an unclaimed order starts it */
	}
	v = pick_scan(&o, (const char *const *)req->scans,
	    req->n_scans, &done, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if ((rv = hub_store_order_save(h->store, &o, now)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.scanned", "order_id=%" PRIu64 " scans=%zu state=%s "
	    "operator=%s uid=%s", o.order_id, req->n_scans,
	    pick_state_name(o.state), operator_of(req), h->term_uid_s);
	if (done) {
		return picked_event(h, req, now, msg);
	}
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_short(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	pick_order o;
	bool done = false;
	Dropnet__HubEvent ev;
	Dropnet__Status st = order_get(h, req, &o, msg);
	int rv;

	if (st != DROPNET__STATUS__OK) {
		return st;
	}
	pick_verdict v = pick_owner_check(&o, operator_of(req), msg,
	    TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	v = pick_short(&o, req->sku, req->qty, &done, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	/* Units a count already took off the book are not lost twice, and
	 * units that are spoken for - in totes, or the ones this picker is
	 * about to pick for the rest of the line - are not lost at all: write
	 * off only what the book holds beyond them, and tell the coordinator
	 * how many were kept (EV_SHORT.kept) so both books agree. Writing off
	 * the whole short took the hub below zero when the picker then picked
	 * the units it had found (found by dropsim). */
	int64_t on_hand = 0, tote = 0;
	if ((rv = hub_store_order_save(h->store, &o, now)) != 0
	    || (rv = hub_store_stock_get(h->store, req->sku, &on_hand)) != 0
	    || (rv = hub_store_sku_in_totes(h->store, req->sku, &tote)) != 0) {
		return store_status(rv, msg);
	}
	int64_t free_units = on_hand - tote - pick_left(&o, req->sku);
	int64_t take = req->qty < free_units ? req->qty : (free_units > 0 ? free_units : 0);
	if (take > 0 && (rv = stock_take_logged(h, req->sku, take)) != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_SHORT, now);
	ev.order_id = o.order_id;
	ev.sku = req->sku;
	ev.qty = req->qty;
	ev.kept = req->qty - take;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.shorted", "order_id=%" PRIu64 " sku=%s qty=%" PRId64
	    " state=%s operator=%s uid=%s event=%" PRIu64, o.order_id, req->sku,
	    req->qty, pick_state_name(o.state), operator_of(req), h->term_uid_s, ev.seq);
	if (done && o.state == PICK_ORDER_PICKED) {
		return picked_event(h, req, now, msg);
	}
	return DROPNET__STATUS__OK;
}

/* TERM_SHIP already_shipped (SEMANTICS.md "Incarnations and resync"): a
 * resent order that left the building before the hub's store was lost, its
 * EV_SHIPPED lost with it. Nothing is picked: the order's full lines are
 * taken off the book (the seed counted them) and reported shipped, so it
 * ships once. Only a resent order still queued; a claim held by another
 * refuses it, and an unclaimed one needs the lease like a first pick.
 * Never below zero: units the book no longer holds were taken off by a
 * count after the wipe, and the coordinator's ship books the same gap as
 * found (its on-hand stops at 0 too), so both books stay equal; a book
 * that went negative could not be counted back (dropsim). */
static Dropnet__Status term_ship_already(hub *h, const Dropnet__TermRequest *req,
    pick_order *o, const char *tracking, int64_t now, char *msg)
{
	Dropnet__HubEvent ev;
	Dropnet__OrderLine lines[DN_ORDER_LINES_MAX];
	Dropnet__OrderLine *lineptr[DN_ORDER_LINES_MAX];
	Dropnet__Status st;
	int rv;

	pick_verdict v = pick_ship_already(o, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (o->claimed_by[0] == '\0'
	    && (st = lease_check(h, msg)) != DROPNET__STATUS__OK) {
		return st;
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_SHIPPED, now);
	ev.order_id = o->order_id;
	ev.tracking = (char *)tracking;
	ev.lines = lineptr;
	for (size_t i = 0; i < o->nlines; i++) {
		Dropnet__OrderLine init = DROPNET__ORDER_LINE__INIT;
		int64_t on_hand = 0, take = o->lines[i].qty;
		if ((rv = hub_store_stock_get(h->store, o->lines[i].sku,
		    &on_hand)) != 0) {
			return store_status(rv, msg);
		}
		if (take > on_hand) {
			log_warn("hub.shipped_already_uncovered", "order_id=%" PRIu64
			    " sku=%s qty=%" PRId64 " on_hand=%" PRId64 ": a count"
			    " since the data loss took these units off already",
			    o->order_id, o->lines[i].sku, take, on_hand);
			take = on_hand > 0 ? on_hand : 0;
		}
		if (take > 0 && (rv = stock_take_logged(h, o->lines[i].sku,
		    take)) != 0) {
			return store_status(rv, msg);
		}
		lines[ev.n_lines] = init;
		lines[ev.n_lines].sku = o->lines[i].sku;
		lines[ev.n_lines].qty = o->lines[i].qty;
		lineptr[ev.n_lines] = &lines[ev.n_lines];
		ev.n_lines++;
	}
	if ((rv = hub_store_order_ship_already(h->store, o->order_id, tracking,
	    now)) != 0 || (rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_warn("hub.shipped_already", "order_id=%" PRIu64 " lines=%zu "
	    "tracking=%s operator=%s uid=%s event=%" PRIu64 ": a resent order recorded as"
	    " shipped before the data loss, without a pick", o->order_id,
	    ev.n_lines, tracking[0] != '\0' ? tracking : "-", operator_of(req), h->term_uid_s,
	    ev.seq);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_ship(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	pick_order o;
	Dropnet__HubEvent ev;
	Dropnet__OrderLine lines[DN_ORDER_LINES_MAX];
	Dropnet__OrderLine *lineptr[DN_ORDER_LINES_MAX];
	const char *tracking = req->tracking != NULL ? req->tracking : "";
	Dropnet__Status st;
	int rv;

	if (tracking[0] != '\0' && !validate_id(tracking)) {
		snprintf(msg, TERM_MSG_MAX, "tracking must be 1..%u printable "
		    "characters without spaces, commas or quotes", DN_ID_MAX);
		return DROPNET__STATUS__INVALID;
	}
	if ((st = order_get(h, req, &o, msg)) != DROPNET__STATUS__OK) {
		return st;
	}
	pick_verdict v = pick_owner_check(&o, operator_of(req), msg,
	    TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (req->already_shipped) {
		return term_ship_already(h, req, &o, tracking, now, msg);
	}
	v = pick_ship(&o, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_SHIPPED, now);
	ev.order_id = o.order_id;
	ev.tracking = (char *)tracking;
	ev.lines = lineptr;
	for (size_t i = 0; i < o.nlines; i++) {
		Dropnet__OrderLine init = DROPNET__ORDER_LINE__INIT;
		if (o.lines[i].picked == 0) {
			continue;
		}
		if ((rv = stock_take_logged(h, o.lines[i].sku,
		    o.lines[i].picked)) != 0) {
			return store_status(rv, msg);
		}
		lines[ev.n_lines] = init;
		lines[ev.n_lines].sku = o.lines[i].sku;
		lines[ev.n_lines].qty = o.lines[i].picked;
		lineptr[ev.n_lines] = &lines[ev.n_lines];
		ev.n_lines++;
	}
	if ((rv = hub_store_order_ship(h->store, o.order_id, tracking, now)) != 0
	    || (rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.shipped", "order_id=%" PRIu64 " lines=%zu tracking=%s "
	    "operator=%s uid=%s event=%" PRIu64, o.order_id, ev.n_lines,
	    tracking[0] != '\0' ? tracking : "-", operator_of(req), h->term_uid_s, ev.seq);
	return DROPNET__STATUS__OK;
}

/* An order a claim takes, loaded in full, with key and customer kept for
 * the reply. */
typedef struct {
	pick_order order;
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
} claim_row;

/* Claims one loaded order for the requester: store, event, reply line. */
static Dropnet__Status claim_one(hub *h, const Dropnet__TermRequest *req,
    claim_row *r, int64_t now, char *msg, term_lists *l)
{
	Dropnet__HubEvent ev;
	hub_store_queue_row qrow = { .order = r->order, .order_key = r->key,
	    .customer = r->customer, .received_ms = r->order.received_ms };
	/* Claiming a free order nobody started is a new pick: fenced. Taking
	 * over a started one, or one's own claim again, is not. */
	bool fresh = r->order.state == PICK_ORDER_QUEUED
	    && r->order.claimed_by[0] == '\0';
	pick_verdict v = pick_claim(&r->order, operator_of(req), msg,
	    TERM_MSG_MAX);
	Dropnet__Status st;
	int rv;

	if (v == PICK_OK && fresh
	    && (st = lease_check(h, msg)) != DROPNET__STATUS__OK) {
		return st;
	}
	if (v != PICK_OK) {
		if (v == PICK_CLAIMED) {
			snprintf(l->claimed_by, sizeof(l->claimed_by), "%s",
			    r->order.claimed_by);
			l->rep->claimed_by = l->claimed_by;
		}
		return verdict_status(v);
	}
	if ((rv = hub_store_order_claim_set(h->store, r->order.order_id,
	    operator_of(req))) != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_CLAIMED, now);
	ev.order_id = r->order.order_id;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	qrow.order = r->order;
	if ((rv = queue_add(l, &qrow)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.claimed", "order_id=%" PRIu64 " operator=%s uid=%s event=%" PRIu64,
	    r->order.order_id, operator_of(req), h->term_uid_s, ev.seq);
	return DROPNET__STATUS__OK;
}

/* Chooses what a claim without an order id takes (pick_claim_choose over
 * the queue's summaries) and loads those orders in full into rows. */
static Dropnet__Status claim_choose(hub *h, const Dropnet__TermRequest *req,
    char *msg, claim_row *rows, size_t *n)
{
	const pick_order *cand = NULL;
	size_t ncand = 0, chosen[PICK_BATCH_MAX];
	size_t want = req->batch > 0 ? req->batch : 1;
	int rv = hub_store_claim_candidates(h->store, DN_QUEUE_LIST_MAX,
	    operator_of(req), want, &cand, &ncand);

	if (rv != 0) {
		return store_status(rv, msg);
	}
	pick_claim_choose(cand, ncand, want, operator_of(req), chosen, n);
	if (*n == 0) {
		snprintf(msg, TERM_MSG_MAX, "nothing to claim%s",
		    req->batch > 1 ? " (no small orders free)" : "");
		return DROPNET__STATUS__NOT_FOUND;
	}
	for (size_t i = 0; i < *n; i++) {
		rv = hub_store_order_load_keyed(h->store, cand[chosen[i]].order_id,
		    &rows[i].order, rows[i].key, rows[i].customer, sizeof(rows[i].key));
		if (rv != 0) {
			return store_status(rv, msg);
		}
	}
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_claim(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg, term_lists *l)
{
	claim_row *rows = NULL;
	size_t n = 0;
	Dropnet__Status st = DROPNET__STATUS__OK;
	int rv;

	if (!validate_id(operator_of(req))) {
		snprintf(msg, TERM_MSG_MAX, "a claim needs --operator NAME");
		return DROPNET__STATUS__INVALID;
	}
	if (req->batch > PICK_BATCH_MAX) {
		snprintf(msg, TERM_MSG_MAX, "batch %" PRIu32 " out of range 1..%u",
		    req->batch, PICK_BATCH_MAX);
		return DROPNET__STATUS__INVALID;
	}
	l->orders = calloc(PICK_BATCH_MAX, sizeof(*l->orders));
	rows = malloc(PICK_BATCH_MAX * sizeof(*rows));
	if (l->orders == NULL || rows == NULL) {
		st = store_status(DN_ENOMEM, msg);
		goto free_set;
	}
	l->rep->orders = l->orders;
	if (req->order_id != 0) {
		n = 1;
		rv = hub_store_order_load(h->store, req->order_id, &rows[0].order);
		if (rv == DN_ENOENT) {
			snprintf(msg, TERM_MSG_MAX, "order %" PRIu64 " not found",
			    req->order_id);
			st = DROPNET__STATUS__NOT_FOUND;
			goto free_set;
		}
		if (rv != 0) {
			st = store_status(rv, msg);
			goto free_set;
		}
		rows[0].key[0] = rows[0].customer[0] = '\0';
	} else if ((st = claim_choose(h, req, msg, rows, &n)) != DROPNET__STATUS__OK) {
		goto free_set;
	}
	for (size_t i = 0; i < n && st == DROPNET__STATUS__OK; i++) {
		st = claim_one(h, req, &rows[i], now, msg, l);
	}
	l->rep->n_orders = l->norders;
	if (st == DROPNET__STATUS__OK) {
		size_t off = (size_t)snprintf(msg, TERM_MSG_MAX, "claimed");
		for (size_t i = 0; i < l->norders && off < TERM_MSG_MAX; i++) {
			off += (size_t)snprintf(msg + off, TERM_MSG_MAX - off,
			    " %" PRIu64, l->orders[i]->order_id);
		}
	}
free_set:
	free(rows);
	return st;
}

static Dropnet__Status term_release(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	pick_order o;
	Dropnet__Status st = order_get(h, req, &o, msg);
	Dropnet__HubEvent ev;
	int rv;

	if (st != DROPNET__STATUS__OK) {
		return st;
	}
	pick_verdict v = pick_release(&o, operator_of(req), msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if ((rv = hub_store_order_claim_set(h->store, o.order_id, "")) != 0) {
		return store_status(rv, msg);
	}
	/* Who let go of which order is part of the shift's record. */
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_UNCLAIMED, now);
	ev.order_id = o.order_id;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.released", "order_id=%" PRIu64 " operator=%s uid=%s", o.order_id,
	    operator_of(req), h->term_uid_s);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_pack(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	pick_order o;
	Dropnet__Status st = order_get(h, req, &o, msg);
	Dropnet__HubEvent ev;
	int rv;

	if (st != DROPNET__STATUS__OK) {
		return st;
	}
	pick_verdict v = pick_owner_check(&o, operator_of(req), msg,
	    TERM_MSG_MAX);
	if (v == PICK_OK) {
		v = pick_pack(&o, (const char *const *)req->scans, req->n_scans, msg,
		    TERM_MSG_MAX);
	}
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if ((rv = hub_store_order_save(h->store, &o, now)) != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_PACKED, now);
	ev.order_id = o.order_id;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.packed", "order_id=%" PRIu64 " lines=%zu operator=%s uid=%s",
	    o.order_id, req->n_scans, operator_of(req), h->term_uid_s);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_move(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	const char *to = req->to_bin != NULL ? req->to_bin : "";
	Dropnet__HubEvent ev;
	int64_t have = 0;
	int rv;

	if (validate_id(req->sku) && validate_id(req->bin)
	    && (rv = hub_store_bin_qty(h->store, req->bin, req->sku, &have)) != 0) {
		return store_status(rv, msg);
	}
	pick_verdict v = pick_move_check(req->sku, req->qty, req->bin, to, have,
	    msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if ((rv = hub_store_bin_move(h->store, req->sku, req->bin, to,
	    req->qty)) != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_MOVED, now);
	ev.sku = req->sku;
	ev.qty = req->qty;
	ev.bin = req->bin;
	ev.to_bin = (char *)to;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.moved", "sku=%s qty=%" PRId64 " bin=%s to_bin=%s "
	    "operator=%s uid=%s event=%" PRIu64, req->sku, req->qty, req->bin, to,
	    operator_of(req), h->term_uid_s, ev.seq);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_count(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	Dropnet__HubEvent ev;
	int64_t book = 0, delta = 0, tote = 0;
	hub_meta meta;
	int rv;

	/* A count is absolute: its delta is taken against this book. A new
	 * or wiped store's book is empty until the coordinator seeds it at
	 * first contact, and the seed is added on top of whatever the book
	 * holds then - a count taken before it would be counted twice (found
	 * by dropsim, seed 2083). Receipts and ships are deltas and may go
	 * on. */
	if ((rv = hub_store_meta_get(h->store, &meta)) != 0) {
		return store_status(rv, msg);
	}
	if (meta.coordinator == 0) {
		snprintf(msg, TERM_MSG_MAX, "this hub's store has not met the coordinator"
		    " yet (new or wiped): count after its first sync");
		return DROPNET__STATUS__CONFLICT;
	}

	/* Units picked into a tote stay on the bin's book until they ship
	 * (the ship takes them), but they are not on the shelf the counter
	 * sees: compare the count with the shelf's share of the book, and
	 * keep the tote's units on the bin. Counting them as lost and then
	 * shipping them too took the hub below zero (found by dropsim). With
	 * several bins of one SKU the tote is charged to the counted bin up
	 * to its book: a later count of the other bin corrects the rest. */
	if (validate_id(req->sku) && validate_id(req->bin)
	    && ((rv = hub_store_bin_qty(h->store, req->bin, req->sku, &book)) != 0
	    || (rv = hub_store_sku_in_totes(h->store, req->sku, &tote)) != 0)) {
		return store_status(rv, msg);
	}
	if (tote > book) {
		tote = book;
	}
	pick_verdict v = pick_count_check(req->sku, req->bin, req->qty, book - tote,
	    &delta, msg, TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (delta == 0) {
		return DROPNET__STATUS__OK; /* the book was right: no event */
	}
	/* Units found are booked like a receipt, within the same bounds the
	 * coordinator holds its books to (a new SKU past DN_HUB_SKUS_MAX, a
	 * row past DN_STOCK_ROW_UNITS_MAX): booked here past them, they sat
	 * on this hub's book and never on the network's. */
	if (delta > 0 && (rv = stock_room(h, req->sku, delta, msg)) != 0) {
		return rv < 0 ? store_status(rv, msg) : DROPNET__STATUS__INVALID;
	}
	if ((rv = hub_store_count_apply(h->store, req->sku, req->bin,
	    req->qty + tote, delta)) != 0) {
		return store_status(rv, msg);
	}
	/* One event carries at most DN_EVENT_UNITS_MAX units either way (the
	 * coordinator rejects a larger one, and the hub is not told): a
	 * larger loss - a bin of millions counted empty - goes as several,
	 * applied in order in one sync, so both books lose all of it. */
	for (int64_t left = delta; left != 0;) {
		int64_t part = left < -DN_EVENT_UNITS_MAX ? -DN_EVENT_UNITS_MAX : left;
		event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_ADJUSTED, now);
		ev.sku = req->sku;
		ev.qty = part;
		ev.bin = req->bin;
		if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
			return store_status(rv, msg);
		}
		left -= part;
	}
	log_info("hub.counted", "sku=%s bin=%s counted=%" PRId64 " delta=%"
	    PRId64 " operator=%s uid=%s event=%" PRIu64, req->sku, req->bin, req->qty,
	    delta, operator_of(req), h->term_uid_s, ev.seq);
	return DROPNET__STATUS__OK;
}

#define TERM_BIN_QUARANTINE "QUARANTINE"

static Dropnet__Status term_return(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg)
{
	const char *bin = req->bin[0] != '\0' ? req->bin : TERM_BIN_DEFAULT;
	Dropnet__HubEvent ev;
	int rv;

	pick_verdict v = pick_receive_check(req->sku, req->qty, bin, msg,
	    TERM_MSG_MAX);
	if (v != PICK_OK) {
		return verdict_status(v);
	}
	if (req->to_stock && (rv = stock_room(h, req->sku, req->qty, msg)) != 0) {
		return rv < 0 ? store_status(rv, msg) : DROPNET__STATUS__INVALID;
	}
	/* Quarantined units are not on hand: they are kept apart so nobody
	 * picks them, and the coordinator never sells them. */
	rv = req->to_stock ? hub_store_stock_add(h->store, req->sku, bin, req->qty)
	                   : hub_store_quarantine_add(h->store, req->sku, req->qty);
	if (rv != 0) {
		return store_status(rv, msg);
	}
	event_init(&ev, h, req, DROPNET__EVENT_KIND__EV_RETURNED, now);
	ev.sku = req->sku;
	ev.qty = req->qty;
	ev.bin = (char *)(req->to_stock ? bin : TERM_BIN_QUARANTINE);
	ev.to_stock = req->to_stock;
	if ((rv = hub_store_event_append(h->store, &ev)) != 0) {
		return store_status(rv, msg);
	}
	log_info("hub.returned", "sku=%s qty=%" PRId64 " to_stock=%d bin=%s "
	    "operator=%s uid=%s event=%" PRIu64, req->sku, req->qty, req->to_stock,
	    ev.bin, operator_of(req), h->term_uid_s, ev.seq);
	snprintf(msg, TERM_MSG_MAX, "returned %" PRId64 " x %s to %s", req->qty,
	    req->sku, req->to_stock ? bin : "quarantine");
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_bin(hub *h, const Dropnet__TermRequest *req,
    char *msg, term_lists *l)
{
	int rv;
	if (!validate_id(req->bin)) {
		snprintf(msg, TERM_MSG_MAX, "bin is required");
		return DROPNET__STATUS__INVALID;
	}
	l->stock = calloc(DN_STOCK_REPORT_MAX, sizeof(*l->stock));
	if (l->stock == NULL) {
		return store_status(DN_ENOMEM, msg);
	}
	rv = hub_store_bin_list(h->store, req->bin, DN_STOCK_REPORT_MAX,
	    stock_add_level, l);
	if (rv != 0) {
		return store_status(rv, msg);
	}
	l->rep->stock = l->stock;
	l->rep->n_stock = l->nstock;
	snprintf(msg, TERM_MSG_MAX, "bin %s: %zu skus", req->bin, l->nstock);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_status(hub *h, int64_t now, char *msg,
    term_lists *l)
{
	hub_stream sp;
	hub_store_tally t;
	int64_t cnt[3] = { 0, 0, 0 };
	int rv = hub_store_stream_get(h->store, &sp);
	for (int i = 0; rv == 0 && i < 3; i++) {
		rv = hub_store_order_count(h->store, (pick_order_state)i, &cnt[i]);
	}
	if (rv == 0) {
		rv = hub_store_counts(h->store, pick_day_start_ms(now), &t);
	}
	if (rv != 0) {
		return store_status(rv, msg);
	}
	l->rep->hub = h->cfg.id;
	l->rep->cmd_applied = sp.cmd_applied;
	l->rep->event_seq = sp.event_seq;
	l->rep->event_acked = sp.event_acked;
	l->rep->coordinator_up = h->coordinator_up;
	l->rep->lease_left_ms = hub_lease_valid(h) ?
	    h->lease_until_mono_ms - h->now_mono_ms : 0;
	l->rep->queued = (uint32_t)t.queued;
	l->rep->in_progress = (uint32_t)t.in_progress;
	l->rep->packed = (uint32_t)t.packed;
	l->rep->packed_today = (uint32_t)t.packed_today;
	snprintf(msg, TERM_MSG_MAX, "queued=%" PRId64 " picking=%" PRId64
	    " picked=%" PRId64 " pending_events=%" PRIu64, cnt[0], cnt[1],
	    cnt[2], sp.event_seq - sp.event_acked);
	return DROPNET__STATUS__OK;
}

static Dropnet__Status term_dispatch(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg, term_lists *l)
{
	const char *op = operator_of(req);
	if (op[0] != '\0' && !validate_id(op)) {
		snprintf(msg, TERM_MSG_MAX, "operator must be 1..%u printable "
		    "characters without spaces, commas or quotes", DN_ID_MAX);
		return DROPNET__STATUS__INVALID;
	}
	switch (req->kind) {
	case DROPNET__TERM_KIND__TERM_RECEIVE: return term_receive(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_QUEUE: return term_queue(h, msg, l);
	case DROPNET__TERM_KIND__TERM_PICK: return term_pick(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_SHORT: return term_short(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_SHIP: return term_ship(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_STATUS: return term_status(h, now, msg, l);
	case DROPNET__TERM_KIND__TERM_STOCK: return term_stock_list(h, msg, l);
	case DROPNET__TERM_KIND__TERM_CLAIM: return term_claim(h, req, now, msg, l);
	case DROPNET__TERM_KIND__TERM_RELEASE: return term_release(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_PACK: return term_pack(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_MOVE: return term_move(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_COUNT: return term_count(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_RETURN: return term_return(h, req, now, msg);
	case DROPNET__TERM_KIND__TERM_BIN: return term_bin(h, req, msg, l);
	default:
		snprintf(msg, TERM_MSG_MAX, "unknown request kind %d",
		    (int)req->kind);
		return DROPNET__STATUS__INVALID;
	}
}

typedef struct {
	uint8_t *buf;
	size_t len;
	bool wrote;  /* changed state: its reply depends on the commit */
	int kind;
} term_out;

/* The request-key clock: keys are kept HUB_TERM_KEY_KEEP_MS of monotonic
 * time, so a wall-clock step can neither forget a key early (and let a
 * retry do the work twice) nor keep it for ever. It resumes from the newest
 * stored key at the first keyed write after start (a file from before it
 * holds wall times: those carry on), then moves with now_mono_ms. A
 * restart's downtime is not counted: keys live longer, never shorter. */
static int term_key_clock(hub *h, int64_t *now)
{
	if (!h->key_clock_started) {
		int64_t latest = 0;
		int rv = hub_store_key_latest(h->store, &latest);
		if (rv != 0) {
			return rv;
		}
		h->key_clock_ms = latest;
		h->key_clock_mono_ms = h->now_mono_ms;
		h->key_clock_started = true;
	}
	/* A shell whose monotonic count restarted (a new process on the same
	 * hub struct) only stops the key clock for a moment. */
	if (h->now_mono_ms > h->key_clock_mono_ms) {
		h->key_clock_ms += (int64_t)(h->now_mono_ms - h->key_clock_mono_ms);
	}
	h->key_clock_mono_ms = h->now_mono_ms;
	*now = h->key_clock_ms;
	return 0;
}

/* Runs a request, or replays the first answer to its request_key. A new
 * OK answer is stored with the request's own writes (same savepoint). */
static Dropnet__Status term_run_keyed(hub *h, const Dropnet__TermRequest *req,
    int64_t now, char *msg, term_lists *l, bool *replayed)
{
	const char *key = req->request_key != NULL ? req->request_key : "";
	Dropnet__Status st;
	int status = 0, rv;

	*replayed = false;
	if (key[0] == '\0' || !codec_term_kind_writes((int)req->kind)) {
		return term_dispatch(h, req, now, msg, l);
	}
	if (strlen(key) > 2 * DN_ID_MAX) {
		snprintf(msg, TERM_MSG_MAX, "request_key longer than %u", 2 * DN_ID_MAX);
		return DROPNET__STATUS__INVALID;
	}
	rv = hub_store_key_get(h->store, key, &status, msg, TERM_MSG_MAX);
	if (rv == 0) {
		*replayed = true;
		log_info("hub.term_replayed", "key=%s status=%s", key,
		    codec_status_name((Dropnet__Status)status));
		return (Dropnet__Status)status;
	}
	if (rv != DN_ENOENT) {
		return store_status(rv, msg);
	}
	st = term_dispatch(h, req, now, msg, l);
	int64_t key_now = 0;
	if (st == DROPNET__STATUS__OK && ((rv = term_key_clock(h, &key_now)) != 0
	    || (rv = hub_store_key_put(h->store, key, (int)st, msg, key_now)) != 0)) {
		return store_status(rv, msg);
	}
	return st;
}

/* Decodes and runs one request inside its own savepoint; packs the reply
 * into out (sent by the caller after the batch commits). */
static void term_one(hub *h, mreq *r, int64_t now, bool in_tx,
    term_out *out)
{
	Dropnet__TermReply rep = DROPNET__TERM_REPLY__INIT;
	Dropnet__TermRequest *req = NULL;
	term_lists l = { .h = h, .rep = &rep };
	char msg[TERM_MSG_MAX] = "";
	Dropnet__Status st;
	size_t len = 0;
	const uint8_t *body = mreq_body(r, &len);
	int rv = codec_term_request_unpack(body, len, &req);

	out->kind = -1;
	if (rv == DN_ERANGE) {
		snprintf(msg, sizeof(msg), "protocol version %" PRIu32 " not "
		    "supported; this hub speaks %u", req->version,
		    DN_PROTO_VERSION);
		st = DROPNET__STATUS__UNSUPPORTED_VERSION;
	} else if (rv != 0) {
		snprintf(msg, sizeof(msg), "request (%zu bytes) did not decode "
		    "as a TermRequest", len);
		st = DROPNET__STATUS__MALFORMED;
	} else if (!in_tx) {
		st = store_status(DN_EIO, msg);
	} else if (hub_store_savepoint(h->store) != 0) {
		st = store_status(DN_EIO, msg);
	} else {
		bool replayed = false;
		out->kind = (int)req->kind;
		st = term_run_keyed(h, req, now, msg, &l, &replayed);
		if (st == DROPNET__STATUS__OK) {
			if (hub_store_release(h->store) != 0) {
				hub_store_rollback_to(h->store);
				st = store_status(DN_EIO, msg);
			}
		} else {
			hub_store_rollback_to(h->store);
		}
	}
	out->wrote = st == DROPNET__STATUS__OK && codec_term_kind_writes(out->kind);
	if (st != DROPNET__STATUS__OK) {
		log_warn("hub.term_refused", "kind=%d status=%s msg=\"%s\"",
		    out->kind, codec_status_name(st), msg);
	}
	rep.version = DN_PROTO_VERSION;
	rep.status = st;
	rep.message = msg;
	if (codec_term_reply_pack(&rep, &out->buf, &out->len) != 0) {
		out->buf = NULL;
		out->len = 0;
	}
	lists_free(&l);
	codec_term_request_free(req);
}

void hub_term_refuse(mreq *r, int st, const char *why)
{
	Dropnet__TermReply rep = DROPNET__TERM_REPLY__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	rep.version = DN_PROTO_VERSION;
	rep.status = (Dropnet__Status)st;
	rep.message = (char *)why;
	if (codec_term_reply_pack(&rep, &buf, &len) == 0) {
		mreq_reply(r, buf, len);
		free(buf);
	} else {
		mreq_reply(r, "", 0); /* a reply the client reads as MALFORMED */
	}
}

/* A minimal reply for when even packing the real one failed. */
static void reply_unavailable(mreq *r, const char *why)
{
	hub_term_refuse(r, DROPNET__STATUS__UNAVAILABLE, why);
}

void hub_term_batch(hub *h, mreq **reqs, size_t n)
{
	int64_t now = h->now_ms;
	term_out *outs = calloc(n, sizeof(*outs));
	bool in_tx, committed;

	if (outs == NULL) {
		log_error("hub.term_nomem", "batch=%zu", n);
		for (size_t i = 0; i < n; i++) {
			reply_unavailable(reqs[i], "hub out of memory");
		}
		return;
	}
	in_tx = hub_store_begin(h->store) == 0;
	for (size_t i = 0; i < n; i++) {
		term_uid_set(h, reqs[i]);
		term_one(h, reqs[i], now, in_tx, &outs[i]);
	}
	h->term_uid = -1;
	committed = in_tx && hub_store_commit(h->store) == 0;
	if (in_tx && !committed) {
		/* The outcome is unknown (db.h): the writes of this batch may or
		 * may not be on disk. Never say OK for them. */
		log_error("hub.commit_failed", "batch=%zu", n);
		hub_store_rollback(h->store);
	}
	for (size_t i = 0; i < n; i++) {
		if ((outs[i].wrote && !committed) || outs[i].buf == NULL) {
			reply_unavailable(reqs[i], outs[i].buf == NULL
			    ? "hub could not build the reply"
			    : "storage commit failed; check stock/queue before "
			      "retrying");
		} else {
			mreq_reply(reqs[i], outs[i].buf, outs[i].len);
		}
		free(outs[i].buf);
	}
	free(outs);
}
