/*
 * ingest.c - storefront orders: validate, deduplicate, route, allocate,
 * journal and queue the hub command, all in one transaction per batch
 * (group commit); acks leave only after that commit is durable.
 *
 * A batch is every request the bridge had queued when the loop woke. If the
 * commit fails, its outcome is unknown (a failed fsync may still have
 * persisted it): every journalled request in the batch is answered
 * UNAVAILABLE, memory is put back by the undo log (txn.c), and the
 * storefront's retry with the same key finds out what really happened.
 * Placing the units (routing view, allocation, commands) is placement.c;
 * the SQL is store_ingest.c.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/drop.h"
#include "core/err.h"
#include "core/geo.h"
#include "core/price.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Reply prepared for one request of the batch. */
typedef struct {
	uint8_t *buf;
	size_t len;
	bool journalled;   /* depends on the batch commit */
	bool accepted;
	bool replay;       /* a journalled first answer repeated (metrics) */
	Dropnet__Status status; /* what the answer says (metrics) */
} ingest_out;

/* One new order on its way through ingest_one: what was asked, then what
 * the drop rules, the routing and the gift rule made of it. */
typedef struct {
	const Dropnet__SubmitOrder *m;
	const char *storefront;
	route_line lines[DN_ORDER_LINES_MAX];
	size_t nlines;                /* DN_ORDER_LINES_MAX + 1: too many */
	uint32_t units;
	coord_drop *d;                /* the order's drop, or NULL */
	drop_verdict verdict;
	int tier_idx;
	route_result *rr;
	const char *nearest;          /* nearest healthy hub in range, or "" */
	bool routed, held;
	Dropnet__Status status;
	const char *gift_sku;         /* NULL: no gift */
	int64_t now_wall;
	int64_t arrived_ms;           /* at the socket (mreq), <= now_wall; 0 */
	int region;                   /* index of `nearest`, or -1 */
	/* Prices (prices.c), when the drop is priced and the order routed. */
	bool priced;
	int64_t unit[DN_ORDER_LINES_MAX];
	int arm[DN_ORDER_LINES_MAX];  /* experiment arm per line, or -1 */
	char rule[DN_ORDER_LINES_MAX][PRICE_RULE_NAME_MAX];
	int64_t total;
} ingest_order;

static void ingest_reply_simple(ingest_out *o, Dropnet__Status status,
    const char *key, const char *field, const char *msg)
{
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.order_key = (char *)(key ? key : "");
	ack.field = (char *)(field ? field : "");
	ack.message = (char *)(msg ? msg : "");
	o->status = status;
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
	o->status = first->status;
	o->replay = duplicate;
	o->journalled = true; /* the first answer may be uncommitted yet */
	codec_order_ack_free(first);
	return rv;
}

/* Counts an order as accepted for its drop and its buyer (direct accept or
 * confirmed hold). */
static int ingest_count_accepted(coord *c, coord_drop *d, int64_t order_id,
    const char *customer, const char *gift_sku)
{
	bool gifted = gift_sku != NULL && gift_sku[0] != '\0';
	if (d != NULL) {
		if (coord_store_drop_counts_add(c->store, d->id, 1, gifted) != 0) {
			return DN_EIO;
		}
		d->accepted++;
		d->gifts += gifted;
	}
	return coord_store_customer_add(c->store, customer, order_id,
	    d != NULL ? d->id : "", gifted);
}

/* Confirms held order o: sends its held placements, marks it accepted and
 * counts it. */
static int ingest_hold_confirm(coord *c, const coord_store_order *ord,
    coord_drop *d, const char *key, int64_t now_wall)
{
	int64_t pids[DN_SPLIT_HUBS_MAX];
	size_t np = 0;
	int rv = coord_store_placements_held(c->store, ord->id, pids,
	    DN_SPLIT_HUBS_MAX, &np);
	for (size_t i = 0; i < np && rv == 0; i++) {
		rv = coord_placement_send(c, pids[i], now_wall);
	}
	if (rv == 0) {
		rv = coord_order_set_status(c, ord->id, DROPNET__STATUS__ACCEPTED, "");
	}
	if (rv == 0) {
		rv = ingest_count_accepted(c, d, ord->id, ord->customer, ord->gift_sku);
	}
	log_info("order.confirmed", "id=%lld key=%.64s", (long long)ord->id, key);
	return rv;
}

/* Confirms or lapses held order ord (its journal row says HELD). */
static int ingest_hold_decide(coord *c, const Dropnet__SubmitOrder *m,
    const coord_store_order *ord, int64_t now_wall)
{
	/* The drop's real state, from the file if memory no longer holds it. */
	coord_drop *d = NULL;
	if (ord->drop_id[0] && coord_drop_get(c, ord->drop_id, &d) == DN_EIO) {
		return DN_EIO;
	}
	/* Hold lifetimes are durations: the duration clock, not the wall. */
	bool release = m->action == DROPNET__ORDER_ACTION__ACTION_RELEASE;
	bool lapse = release || coord_now_elapsed_ms(c) >= ord->hold_expires_ms;
	if (!lapse && ord->drop_id[0] && (d == NULL || d->state == DROP_CLOSED)) {
		/* A drop closed mid-flight gives its holds back; so does one whose
		 * spec cannot be read (logged): it cannot be checked. */
		lapse = true;
	}
	if (lapse) {
		return coord_hold_lapse(c, ord->id, now_wall, release ? "released" : "lapsed");
	}
	return ingest_hold_confirm(c, ord, d, m->order_key, now_wall);
}

/* CONFIRM or RELEASE of a held order. */
static int ingest_hold_action(coord *c, const Dropnet__SubmitOrder *m,
    const char *storefront, ingest_out *o, int64_t now_wall)
{
	coord_store_order ord;
	int rv = coord_store_order_find(c->store, storefront, m->order_key, &ord);
	if (rv == DN_ENOENT) {
		ingest_reply_simple(o, DROPNET__STATUS__NOT_FOUND, m->order_key, "order_key",
		    "no held order with that key");
		return 0;
	}
	if (rv != 0) {
		return rv;
	}
	if (ord.status != DROPNET__STATUS__HELD) {
		/* Already confirmed, lapsed, or never held: the journal answers. */
		rv = ingest_reply_journal(ord.ack, ord.ack_len, ord.id, true, o);
		free(ord.ack);
		return rv;
	}
	free(ord.ack);
	rv = ingest_hold_decide(c, m, &ord, now_wall);
	if (rv != 0) {
		return rv;
	}
	/* Answer with the journal as it now stands. */
	uint8_t *blob = NULL;
	size_t blen = 0;
	if (coord_store_order_ack_get(c->store, ord.id, &blob, &blen) != 0) {
		return DN_EIO;
	}
	rv = ingest_reply_journal(blob, blen, ord.id, false, o);
	free(blob);
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

/* A CONFIRM or RELEASE request (any action but SUBMIT). */
static int ingest_action(coord *c, const Dropnet__SubmitOrder *m,
    const char *storefront, ingest_out *o, int64_t now_wall)
{
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

/* Checks a new order's fields. Returns true with field and *why set if one
 * is invalid. */
static bool ingest_check_fields(const ingest_order *io, char *field,
    size_t field_len, const char **why)
{
	const Dropnet__SubmitOrder *m = io->m;
	validate_order_in vin = {io->storefront, m->order_key, m->customer, io->lines,
	    io->nlines, m->lat, m->lon};
	if (validate_order(&vin, field, field_len, why) != 0) {
		return true;
	}
	if (m->hold_seconds > DROP_HOLD_SECONDS_MAX) {
		snprintf(field, field_len, "hold_seconds");
		*why = "hold_seconds must be 0..3600";
	} else if (m->drop_id[0] && !validate_id(m->drop_id)) {
		snprintf(field, field_len, "drop_id");
		*why = "drop_id must be 1..64 printable characters";
	} else if (m->tier[0] && !validate_id(m->tier)) {
		/* The tier is journalled with a refusal (TIER_NOT_ALLOWED): only
		 * a bounded id may reach the file. */
		snprintf(field, field_len, "tier");
		*why = "tier must be 1..64 printable characters";
	} else if (m->tier[0] && !m->drop_id[0]) {
		snprintf(field, field_len, "tier");
		*why = "a tier needs a drop_id";
	} else {
		field[0] = '\0';
	}
	return field[0] != '\0';
}

/* Idempotency: the journal (our own uncommitted rows included). It answers
 * a retry before anything else is looked up, so the answer never depends
 * on what memory holds (an old drop may be only in the file). Returns 1 if
 * it answered, 0 if the key is new, or a DN_E* code. */
static int ingest_journal_answer(coord *c, const ingest_order *io, ingest_out *o)
{
	coord_store_order ord;
	int rv = coord_store_order_find(c->store, io->storefront, io->m->order_key, &ord);
	if (rv == DN_ENOENT) {
		return 0;
	}
	if (rv != 0) {
		return DN_EIO;
	}
	rv = ingest_reply_journal(ord.ack, ord.ack_len, ord.id, true, o);
	free(ord.ack);
	return rv != 0 ? rv : 1;
}

/* Looks up the order's drop and checks its SKUs are the drop's. Returns 1
 * if it answered, 0 to go on, or a DN_E* code. */
static int ingest_drop_load(coord *c, ingest_order *io, ingest_out *o)
{
	const Dropnet__SubmitOrder *m = io->m;
	int grv = coord_drop_get(c, m->drop_id, &io->d);
	if (grv == DN_EIO) {
		return DN_EIO;
	}
	if (grv == DN_EPROTO) {
		/* Logged by the read; not journalled: a retry may succeed once
		 * the drop is repaired. */
		ingest_reply_simple(o, DROPNET__STATUS__UNAVAILABLE, m->order_key,
		    "drop_id", "the drop cannot be read");
		return 1;
	}
	if (grv == DN_ENOENT) {
		ingest_invalid(o, io->storefront, m->order_key, "drop_id", "unknown drop");
		return 1;
	}
	for (size_t i = 0; i < io->nlines; i++) {
		if (coord_drop_sku(io->d, io->lines[i].sku) == NULL) {
			char field[64];
			snprintf(field, sizeof(field), "lines[%zu].sku", i);
			ingest_invalid(o, io->storefront, m->order_key, field,
			    "this SKU is not part of the drop");
			return 1;
		}
	}
	return 0;
}

/* Drop rules: window, tier, insiders, quota, per-buyer limits. */
static int ingest_drop_rules(coord *c, ingest_order *io)
{
	const Dropnet__SubmitOrder *m = io->m;
	coord_drop *d = io->d;
	io->verdict = drop_check(d->state, d->tiers, d->ntiers, m->tier, io->now_wall,
	    coord_drop_is_insider(d, m->customer), io->units, &io->tier_idx);
	for (size_t i = 0; io->verdict == DROP_OK && i < io->nlines; i++) {
		const Dropnet__DropSku *ds = coord_drop_sku(d, io->lines[i].sku);
		uint32_t bought = 0;
		if (coord_store_buyer_count_get(c->store, d->id, m->customer,
		    io->lines[i].sku, &bought) != 0) {
			return DN_EIO;
		}
		io->verdict = drop_check_limit(ds->limit_per_buyer, bought, io->lines[i].qty);
	}
	return 0;
}

/* Routes against the in-memory ledger (also for refused orders: the
 * nearest hub in range is the region their demand belongs to) and sets
 * the order's status. */
static int ingest_route(coord *c, ingest_order *io, uint64_t now_mono)
{
	const Dropnet__SubmitOrder *m = io->m;
	coord_route_scratch *w = &c->route[COORD_ROUTE_ORDER];
	coord_route_view(c, io->nlines, w->hubs, w->sellable, now_mono, -1);
	io->rr = &w->rr;
	if (coord_route_order(c, w, io->lines, io->nlines, m->lat, m->lon,
	    io->rr) != 0) {
		return DN_ESTATE;
	}
	io->nearest = "";
	io->region = -1;
	for (size_t i = 0; i < io->rr->ncand; i++) {
		route_verdict v = io->rr->cand[i].verdict;
		if (v != ROUTE_VERDICT_OUT_OF_RANGE && v != ROUTE_VERDICT_UNHEALTHY) {
			io->nearest = c->hubs[io->rr->cand[i].hub].id;
			io->region = (int)io->rr->cand[i].hub;
			break;
		}
	}
	io->routed = io->verdict == DROP_OK && io->rr->status == ROUTE_ACCEPTED;
	io->held = io->routed && m->hold_seconds > 0;
	io->status = io->verdict != DROP_OK ? drop_status_wire(io->verdict) :
	    route_status_wire(io->rr->status);
	if (io->held) {
		io->status = DROPNET__STATUS__HELD;
	}
	return 0;
}

/* The micro-gift: same hub, only while it has gift stock, never blocking
 * the order. The hub takes at most DN_ORDER_LINES_MAX distinct SKUs in one
 * command: a drop order's lines are the drop's SKUs, and the gift is not
 * one of them, so the order and its gift always fit. */
_Static_assert(DROP_SKUS_MAX < DN_ORDER_LINES_MAX, "a drop order plus its gift is one"
    " hub command of at most DN_ORDER_LINES_MAX lines");
static int ingest_gift(coord *c, ingest_order *io)
{
	coord_drop *d = io->d;
	io->gift_sku = NULL;
	if (!io->routed || d == NULL || d->spec->gift == NULL || !d->spec->gift->sku[0]) {
		return 0;
	}
	const Dropnet__GiftRule *g = d->spec->gift;
	bool in_order = false;
	for (size_t i = 0; i < io->nlines; i++) {
		in_order = in_order || strcmp(io->lines[i].sku, g->sku) == 0;
	}
	bool known = false;
	if (coord_store_customer_known(c->store, io->m->customer, &known) != 0) {
		return DN_EIO;
	}
	coord_stock *gs = coord_stock_get(c, (int)io->rr->take[0].hub, g->sku, false);
	if (!in_order && gs != NULL && ledger_sellable(&gs->row) >= 1 &&
	    drop_gift_applies((drop_gift_kind)g->kind, g->n, !known, d->accepted + 1,
	    io->units)) {
		io->gift_sku = g->sku;
	}
	return 0;
}

/* Prices a routed order of a priced drop, line by line (prices.c): a
 * line with a valid quote token pays the quote. Memory only; the prices
 * are journalled with the ack. */
static void ingest_price(coord *c, ingest_order *io)
{
	io->priced = io->routed && io->d != NULL && coord_drop_priced(io->d);
	io->total = 0;
	for (size_t i = 0; io->priced && i < io->nlines; i++) {
		const char *tok = io->m->lines[i]->quote_token;
		if (coord_price_line(c, io->d, io->tier_idx, io->lines[i].sku, io->region,
		    io->m->customer, tok, io->now_wall, &io->unit[i], io->rule[i],
		    &io->arm[i]) != 0) {
			/* A priced drop prices every SKU in every tier (checked
			 * at creation): this cannot happen. */
			log_error("price.missing", "drop=%s sku=%s", io->d->id, io->lines[i].sku);
			io->unit[i] = 0;
			snprintf(io->rule[i], PRICE_RULE_NAME_MAX, "missing");
		}
		io->total += io->unit[i] * (int64_t)io->lines[i].qty;
	}
}

/* The ack's prices (lp: DN_ORDER_LINES_MAX entries). */
static void ingest_ack_prices(coord *c, const ingest_order *io, Dropnet__OrderAck *ack,
    Dropnet__LinePrice *lp, Dropnet__LinePrice **lpp)
{
	if (!io->priced) {
		return;
	}
	for (size_t i = 0; i < io->nlines; i++) {
		dropnet__line_price__init(&lp[i]);
		lp[i].sku = (char *)io->lines[i].sku;
		lp[i].qty = io->lines[i].qty;
		lp[i].unit_minor = io->unit[i];
		lp[i].rule = (char *)io->rule[i];
		if (io->arm[i] >= 0) {
			coord_experiment *x = coord_experiment_find(c, io->d->id, io->lines[i].sku);
			lp[i].arm = x != NULL ? x->arm[io->arm[i]] : "";
		}
		lpp[i] = &lp[i];
	}
	ack->n_prices = io->nlines;
	ack->prices = lpp;
	ack->total_minor = io->total;
	ack->currency = io->d->spec->currency;
}

/* Journals the order's prices next to its lines. */
static int ingest_journal_prices(coord *c, const ingest_order *io, int64_t order_id)
{
	int rv = 0;
	for (size_t i = 0; io->priced && rv == 0 && i < io->nlines; i++) {
		rv = coord_store_order_line_price(c->store, order_id, io->lines[i].sku,
		    io->unit[i], io->rule[i]);
		if (rv == 0 && !io->held && io->arm[i] >= 0) {
			rv = coord_experiment_outcome(c, io->d, io->lines[i].sku, io->arm[i],
			    io->lines[i].qty, io->unit[i]);
		}
	}
	if (io->priced && rv == 0) {
		rv = coord_store_order_price(c->store, order_id, io->total,
		    io->d->spec->currency);
	}
	return rv;
}

/* Packs the routing candidates (for `dropctl order show`): the hubs whose
 * radius covers the ship-to, with their verdicts (route_order_indexed). */
static int ingest_route_pack(coord *c, const route_result *rr, uint8_t **buf,
    size_t *len)
{
	/* rr is the order's routing result, in c->route[COORD_ROUTE_ORDER]:
	 * at most hubs_max candidates, as pack holds. */
	Dropnet__RouteCandidate *cand = c->route[COORD_ROUTE_ORDER].pack;
	Dropnet__RouteCandidate **candp = c->route[COORD_ROUTE_ORDER].packp;
	assert(rr->ncand <= c->hubs_max);
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
	return codec_order_info_pack(&route, buf, len) != 0 ? DN_ENOMEM : 0;
}

/* Fills the ack, journalled without order_id (the row id supplies it); pl
 * and plp hold its placements (DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX). */
static void ingest_ack_fill(coord *c, const ingest_order *io, Dropnet__OrderAck *ack,
    Dropnet__Placement *pl, Dropnet__Placement **plp)
{
	const route_result *rr = io->rr;
	ack->version = DN_PROTO_VERSION;
	ack->status = io->status;
	ack->order_key = io->m->order_key;
	ack->hub = "";
	ack->field = "";
	ack->message = "";
	ack->gift_sku = (char *)(io->gift_sku ? io->gift_sku : "");
	if (io->routed) {
		ack->hub = c->hubs[rr->take[0].hub].id;
		for (size_t t = 0; t < rr->ntake; t++) {
			dropnet__placement__init(&pl[t]);
			pl[t].hub = c->hubs[rr->take[t].hub].id;
			pl[t].sku = (char *)io->lines[rr->take[t].line].sku;
			pl[t].qty = rr->take[t].qty;
			plp[t] = &pl[t];
		}
		ack->n_placements = rr->ntake;
		ack->placements = plp;
		if (io->held) {
			ack->hold_expires_ms = io->now_wall + (int64_t)io->m->hold_seconds * 1000;
		}
	} else if (io->verdict != DROP_OK) {
		ack->message = (char *)drop_verdict_message(io->verdict);
	} else {
		ack->message = rr->status == ROUTE_SOLD_OUT ?
		    "no hub in range has the stock" : "no healthy hub serves this address";
	}
}

/* The reply to a new order: its journalled ack (packed once, for the row)
 * with order_id appended as one more field - protobuf keeps the last value
 * of a field, and the journalled ack has none (its row id supplies it) -
 * instead of packing the same ack a second time. Takes ack_buf. */
static int ingest_reply_new(ingest_out *o, uint8_t *ack_buf, size_t ack_len,
    int64_t order_id)
{
	uint8_t *b = realloc(ack_buf, ack_len + 1 + 10); /* tag + a varint's most */
	if (b == NULL) {
		free(ack_buf);
		return DN_ENOMEM;
	}
	size_t n = ack_len;
	b[n++] = (uint8_t)(8u << 3); /* OrderAck.order_id = 8, varint */
	for (uint64_t v = (uint64_t)order_id; ; v >>= 7) {
		if (v < 0x80) {
			b[n++] = (uint8_t)v;
			break;
		}
		b[n++] = (uint8_t)(v | 0x80);
	}
	o->buf = b;
	o->len = n;
	return 0;
}

/* Journals the order (row and lines) with its ack; *order_id gets its id,
 * *ack_buf the ack as journalled (malloc'd, the caller's on success). */
static int ingest_journal(coord *c, const ingest_order *io,
    const Dropnet__OrderAck *ack, int64_t *order_id, uint8_t **ack_out,
    size_t *ack_out_len)
{
	const Dropnet__SubmitOrder *m = io->m;
	coord_store_order_row row = {
	    .storefront = io->storefront, .order_key = m->order_key,
	    .customer = m->customer, .status = io->status, .hub = ack->hub,
	    .lat = m->lat, .lon = m->lon, .received_ms = io->now_wall,
	    .arrived_ms = io->arrived_ms, .drop_id = m->drop_id, .tier = m->tier, .nearest_hub = io->nearest,
	    .gift_sku = ack->gift_sku, .units = io->units,
	};
	/* The ack tells the buyer a UTC time; the journal keeps the expiry on
	 * the duration clock, which no wall step moves. */
	row.hold_expires_ms = io->held ? coord_now_elapsed_ms(c) +
	    (int64_t)m->hold_seconds * 1000 : 0;
	uint8_t *route_buf = NULL, *ack_buf = NULL;
	size_t route_len = 0, ack_len = 0;
	if (ingest_route_pack(c, io->rr, &route_buf, &route_len) != 0) {
		return DN_ENOMEM;
	}
	if (codec_order_ack_pack(ack, &ack_buf, &ack_len) != 0) {
		free(route_buf);
		return DN_ENOMEM;
	}
	row.ack = ack_buf;
	row.ack_len = ack_len;
	row.route = route_buf;
	row.route_len = route_len;
	int rv = coord_store_order_insert(c->store, &row, order_id);
	free(route_buf);
	for (size_t i = 0; rv == 0 && i < io->nlines; i++) {
		rv = coord_store_order_line_insert(c->store, *order_id, io->lines[i].sku,
		    io->lines[i].qty) != 0 ? DN_EIO : 0;
	}
	if (rv != 0) {
		free(ack_buf);
		return rv;
	}
	*ack_out = ack_buf;
	*ack_out_len = ack_len;
	return 0;
}

/* Places a routed order and counts it against its drop, tier and buyer. */
static int ingest_place(coord *c, ingest_order *io, int64_t order_id)
{
	const Dropnet__SubmitOrder *m = io->m;
	coord_drop *d = io->d;
	/* As ingest_journal wrote the order: the command needs no read-back. */
	coord_place_order o = {.id = order_id, .key = m->order_key,
	    .customer = m->customer, .tier = m->tier, .received_ms = io->now_wall};
	int rv = coord_place_takes(c, io->rr, &o, io->lines, io->nlines, io->gift_sku,
	    io->held, io->now_wall);
	if (rv != 0) {
		return rv;
	}
	if (d != NULL) {
		/* Held units count against the tier and the buyer at once. */
		if (coord_store_tier_sold_add(c->store, d->id, io->tier_idx, io->units) != 0) {
			return DN_EIO;
		}
		d->tiers[io->tier_idx].sold += io->units;
		for (size_t i = 0; i < io->nlines; i++) {
			if (coord_store_buyer_count_add(c->store, d->id, m->customer,
			    io->lines[i].sku, io->lines[i].qty) != 0) {
				return DN_EIO;
			}
		}
	}
	if (!io->held && ingest_count_accepted(c, d, order_id, m->customer,
	    io->gift_sku) != 0) {
		return DN_EIO;
	}
	return 0;
}

/* Checks a new order before it reaches the journal: fields, a journalled
 * answer for its key, its drop. Returns 1 if it answered, 0 to go on, or a
 * DN_E* code. */
static int ingest_admit(coord *c, ingest_order *io, ingest_out *o)
{
	char field[64];
	const char *why = "";
	if (ingest_check_fields(io, field, sizeof(field), &why)) {
		ingest_invalid(o, io->storefront, io->m->order_key, field, why);
		return 1;
	}
	int rv = ingest_journal_answer(c, io, o);
	if (rv == 0 && io->m->drop_id[0]) {
		rv = ingest_drop_load(c, io, o);
	}
	return rv;
}

/* Handles one decoded, version-checked order inside the open transaction.
 * Returns 0 with o filled, or DN_EIO/DN_ENOMEM/DN_ESTATE (batch must fail). */
static int ingest_one(coord *c, const Dropnet__SubmitOrder *m, ingest_out *o,
    int64_t now_wall, uint64_t now_mono, int64_t arrived_ms)
{
	const char *storefront = m->storefront[0] ? m->storefront : "default";
	metrics_labels_add(&c->metrics.storefronts, storefront, 1);
	if (m->action != DROPNET__ORDER_ACTION__ACTION_SUBMIT) {
		return ingest_action(c, m, storefront, o, now_wall);
	}
	ingest_order io = {.m = m, .storefront = storefront, .verdict = DROP_OK,
	    .tier_idx = -1, .now_wall = now_wall,
	    .arrived_ms = arrived_ms < now_wall ? arrived_ms : now_wall};
	io.nlines = m->n_lines <= DN_ORDER_LINES_MAX ? m->n_lines : DN_ORDER_LINES_MAX + 1;
	for (size_t i = 0; i < io.nlines && i < DN_ORDER_LINES_MAX; i++) {
		io.lines[i].sku = m->lines[i]->sku;
		io.lines[i].qty = m->lines[i]->qty;
	}
	int rv = ingest_admit(c, &io, o);
	if (rv != 0) {
		return rv > 0 ? 0 : rv;
	}
	for (size_t i = 0; i < io.nlines; i++) {
		io.units += io.lines[i].qty;
	}
	if ((io.d != NULL && (rv = ingest_drop_rules(c, &io)) != 0) ||
	    (rv = ingest_route(c, &io, now_mono)) != 0 || (rv = ingest_gift(c, &io)) != 0) {
		return rv;
	}
	ingest_price(c, &io);
	Dropnet__Placement pl[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__Placement *plp[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__LinePrice lp[DN_ORDER_LINES_MAX];
	Dropnet__LinePrice *lpp[DN_ORDER_LINES_MAX];
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ingest_ack_fill(c, &io, &ack, pl, plp);
	ingest_ack_prices(c, &io, &ack, lp, lpp);
	int64_t order_id = 0;
	uint8_t *ack_buf = NULL;
	size_t ack_len = 0;
	if ((rv = ingest_journal(c, &io, &ack, &order_id, &ack_buf, &ack_len)) != 0) {
		return rv;
	}
	if ((rv = ingest_journal_prices(c, &io, order_id)) != 0 ||
	    (io.routed && (rv = ingest_place(c, &io, order_id)) != 0)) {
		free(ack_buf);
		return rv;
	}
	o->journalled = true;
	o->accepted = io.routed;
	o->status = io.status;
	log_debug("order.routed", "id=%lld key=%.64s status=%s hub=%s",
	    (long long)order_id, m->order_key, codec_status_name(io.status), ack.hub);
	return ingest_reply_new(o, ack_buf, ack_len, order_id);
}

/* Counts one answer as sent (c->metrics): by status, replays apart. */
static void ingest_count(coord *c, const ingest_out *o)
{
	coord_metrics *mt = &c->metrics;
	if (o->replay) {
		mt->replays++;
		return;
	}
	size_t st = (size_t)o->status < COORD_METRICS_STATUS_MAX ? (size_t)o->status : 0;
	mt->orders[st]++;
	if (o->status != DROPNET__STATUS__ACCEPTED && o->status != DROPNET__STATUS__HELD) {
		mt->refusals[st]++;
	}
}

/* One order batch, as coord_txn_run applies it. */
typedef struct {
	mreq **reqs;
	auth_peer *const *signers; /* per order, NULL: no signer known */
	size_t n;
	ingest_out *outs;
	int64_t now_wall;
	uint64_t now_mono;
} ingest_batch;

/* Whether order i of the batch may be taken for storefront: its signer
 * speaks for it (an anonymous machine takes every order). An
 * authenticating machine refuses an order that reached it with no signer (a
 * caller that skipped coord_ingest_request): fail closed. 0 (STATUS_
 * UNSPECIFIED) to take it, else the refusal's status with *why. */
static Dropnet__Status ingest_refusal(coord *c, const ingest_batch *b, size_t i,
    const char *storefront, const char **why)
{
	if (c->peers == NULL) {
		return DROPNET__STATUS__STATUS_UNSPECIFIED;
	}
	const auth_peer *p = b->signers != NULL ? b->signers[i] : NULL;
	if (p == NULL) {
		c->refusals.unsigned_req++;
		log_warn("auth.refused", "socket=%s reason=no_signer peer=-",
		    AUTH_SOCKET_INGEST);
		*why = "order not signed (requests are signed: proto/SEMANTICS.md"
		    " \"Transport and identity\")";
		return DROPNET__STATUS__UNAUTHENTICATED;
	}
	if (!coord_peer_speaks_for(c, p, AUTH_SOCKET_INGEST, storefront)) {
		*why = "a storefront speaks only for its own orders";
		return DROPNET__STATUS__FORBIDDEN;
	}
	return DROPNET__STATUS__STATUS_UNSPECIFIED;
}

static int ingest_batch_apply(coord *c, void *arg)
{
	ingest_batch *b = arg;
	int rv = 0;
	for (size_t i = 0; i < b->n && rv == 0; i++) {
		size_t len = 0;
		const uint8_t *body = mreq_body(b->reqs[i], &len);
		Dropnet__SubmitOrder *m = NULL;
		const char *why = "";
		int urv = codec_submit_order_unpack(body, len, &m);
		Dropnet__Status refused = urv == 0 ?
		    ingest_refusal(c, b, i, m->storefront, &why) :
		    DROPNET__STATUS__STATUS_UNSPECIFIED;
		if (refused != DROPNET__STATUS__STATUS_UNSPECIFIED) {
			ingest_reply_simple(&b->outs[i], refused, m->order_key, "storefront", why);
		} else if (urv == DN_EPROTO || (urv == DN_ERANGE && m->version == 0)) {
			/* No version at all (e.g. empty bytes) is not a newer peer. */
			log_warn("order.malformed", "bytes=%zu", len);
			ingest_reply_simple(&b->outs[i], DROPNET__STATUS__MALFORMED, "", "",
			    "bytes are not a SubmitOrder");
		} else if (urv == DN_ERANGE) {
			log_warn("order.bad_version", "version=%u", m->version);
			ingest_reply_simple(&b->outs[i], DROPNET__STATUS__UNSUPPORTED_VERSION,
			    m->order_key, "version", "this coordinator speaks version 1");
		} else {
			rv = ingest_one(c, m, &b->outs[i], b->now_wall, b->now_mono,
			    b->reqs[i]->arrived_ms);
		}
		codec_submit_order_free(m);
	}
	/* Experiment exposures counted since the last commit ride this one. */
	if (rv == 0) {
		rv = coord_experiments_flush(c);
	}
	return rv;
}

void coord_ingest_batch(coord *c, mreq **reqs, size_t n)
{
	coord_ingest_orders(c, reqs, NULL, n);
}

void coord_ingest_orders(coord *c, mreq **reqs, auth_peer *const *signers, size_t n)
{
	assert(n <= DN_SERVER_CTX_MAX);
	ingest_out *outs = coord_scratch(c, COORD_SCRATCH_INGEST,
	    DN_SERVER_CTX_MAX * sizeof(*outs));
	if (outs == NULL) {
		for (size_t i = 0; i < n; i++) {
			mreq_reply(reqs[i], NULL, 0); /* an empty reply: the client retries */
		}
		return;
	}
	memset(outs, 0, n * sizeof(outs[0]));
	ingest_batch b = {reqs, signers, n, outs, coord_now_wall_ms(c), coord_now_mono_ms(c)};
	int rv = coord_txn_run(c, "orders", ingest_batch_apply, &b);
	if (rv != 0) {
		log_error("order.batch_failed", "orders=%zu err=%s", n, dn_strerror(rv));
	}
	for (size_t i = 0; i < n; i++) {
		ingest_out *o = &outs[i];
		/* Failed: every answer that depended on the batch (and every
		 * request not reached) becomes UNAVAILABLE; a malformed or
		 * unsupported request keeps its answer, which no storage changes. */
		if (rv != 0 && (o->journalled || o->buf == NULL)) {
			free(o->buf);
			o->buf = NULL;
			ingest_reply_simple(o, DROPNET__STATUS__UNAVAILABLE, "", "",
			    "storage failed; retry with the same key");
			o->replay = false;
		}
		mreq_reply_take(reqs[i], o->buf, o->len); /* no copy */
		ingest_count(c, o);
	}
	metrics_hist_observe(&c->metrics.ingest_batch, (double)n);
	c->orders_seen += n;
	c->ingest_batches++;
	/* The batch's SKUs: a class or a units-left price may have crossed. */
	coord_feed_scan(c, false);
}
