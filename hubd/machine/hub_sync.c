/*
 * hub_sync.c - both streams with the coordinator in one round trip
 * (SEMANTICS.md "hubsync").
 *
 * The shell drives it: hub_sync_build makes a HubSyncRequest (hello,
 * cmd_applied, the outbox after event_acked, a stock snapshot when nothing
 * is pending); the shell sends it, and hub_sync_on_reply applies the acks
 * and commands of the reply in one transaction. Then sync again at once if the coordinator sent a full
 * batch of commands or acked events while more are pending, else after
 * sync_interval_ms. Only one request is ever in flight.
 *
 * Every request carries this store's incarnation and the coordinator's it
 * follows; a reply from another coordinator store is not applied, the
 * first contact takes the coordinator's seed of an empty book, and a
 * rewind moves both positions back to a restored coordinator's
 * (SEMANTICS.md "Incarnations and resync").
 *
 * A dead coordinator only delays: the terminal keeps working, events wait in
 * the outbox. Its outage is logged once (hub.coordinator_down) and its
 * return once (hub.coordinator_up). Every OK reply renews the claim lease,
 * counted from when its request was built: without a lease the terminal
 * starts no new pick (hub_term.c), so the coordinator can tell when a
 * silent hub has surely stopped taking work (SEMANTICS.md "Hub health").
 *
 * Thread model: the shell's thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/log.h"
#include "hub.h"

typedef struct {
	Dropnet__HubEvent **events;
	size_t nevents;
	Dropnet__StockLevel **stock;
	size_t nstock, stock_cap; /* stock grows to DN_STOCK_REPORT_MAX */
	bool stock_over; /* more SKUs than DN_STOCK_REPORT_MAX */
} sync_batch;

static void coordinator_down(hub *h, const char *why)
{
	if (h->coordinator_up || !h->coordinator_known) {
		log_warn("hub.coordinator_down", "url=%s reason=\"%s\"",
		    h->cfg.coordinator_url, why);
	}
	h->coordinator_up = false;
	h->coordinator_known = true;
}

static void coordinator_back(hub *h)
{
	if (!h->coordinator_up) {
		log_info("hub.coordinator_up", "url=%s", h->cfg.coordinator_url);
	}
	h->coordinator_up = true;
	h->coordinator_known = true;
}

bool hub_lease_valid(const hub *h)
{
	return h->now_mono_ms < h->lease_until_mono_ms;
}

/* An OK reply granted lease_ms: it runs from when the request was built
 * (before the coordinator's clock read for the reply), capped at
 * DN_LEASE_MAX_MS whatever the coordinator says. */
static void lease_renew(hub *h, uint32_t lease_ms)
{
	uint64_t ms = lease_ms < DN_LEASE_MAX_MS ? lease_ms : DN_LEASE_MAX_MS;
	uint64_t until = h->sync_sent_mono_ms + ms;
	if (ms == 0) {
		return;
	}
	if (!hub_lease_valid(h) && h->now_mono_ms < until) {
		log_info("hub.lease_granted", "lease_ms=%" PRIu64, ms);
	}
	if (until > h->lease_until_mono_ms) {
		h->lease_until_mono_ms = until;
	}
}

static int batch_add_event(void *arg, uint64_t seq, const uint8_t *buf,
    size_t len)
{
	sync_batch *b = arg;
	Dropnet__HubEvent *ev = NULL;
	int rv = codec_hub_event_unpack(buf, len, &ev);
	if (rv != 0) {
		/* Written by this build inside a commit: unreadable means the
		 * disk is damaged. Stop the batch here rather than skip a seq. */
		log_error("hub.outbox_corrupt", "seq=%" PRIu64 " len=%zu", seq, len);
		return DN_EIO;
	}
	ev->seq = seq;
	b->events[b->nevents++] = ev;
	return 0;
}

static int batch_add_stock(void *arg, const char *sku, int64_t on_hand)
{
	sync_batch *b = arg;
	Dropnet__StockLevel init = DROPNET__STOCK_LEVEL__INIT;
	Dropnet__StockLevel *s;

	if (b->nstock == DN_STOCK_REPORT_MAX) {
		b->stock_over = true;
		return 1; /* stop: a partial snapshot would mislead audit */
	}
	if (b->nstock == b->stock_cap) {
		/* A hub holds a few SKUs, rarely DN_STOCK_REPORT_MAX: the
		 * array grows with them (every sync lists them). */
		size_t cap = b->stock_cap != 0 ? b->stock_cap * 4 : 16;
		cap = cap < DN_STOCK_REPORT_MAX ? cap : DN_STOCK_REPORT_MAX;
		Dropnet__StockLevel **grown = realloc(b->stock, cap * sizeof(*grown));
		if (grown == NULL) {
			return DN_ENOMEM;
		}
		b->stock = grown;
		b->stock_cap = cap;
	}
	s = malloc(sizeof(*s) + strlen(sku) + 1);
	if (s == NULL) {
		return DN_ENOMEM;
	}
	*s = init;
	s->sku = (char *)(s + 1);
	strcpy(s->sku, sku);
	s->on_hand = on_hand;
	b->stock[b->nstock++] = s;
	return 0;
}

static void batch_free(sync_batch *b)
{
	for (size_t i = 0; i < b->nevents; i++) {
		codec_hub_event_free(b->events[i]);
	}
	for (size_t i = 0; i < b->nstock; i++) {
		free(b->stock[i]);
	}
	free(b->events);
	free(b->stock);
}

/* What a sync request says, read in one read transaction (the caller's):
 * the stream positions, the incarnations, the highest order id, the
 * outbox after event_acked and, when nothing is pending, the stock. */
static int sync_read(hub *h, hub_stream *sp, hub_meta *meta,
    uint64_t *order_id_max, sync_batch *b)
{
	int rv;

	if ((rv = hub_store_sync_head(h->store, sp, meta, order_id_max)) != 0) {
		return rv;
	}
	/* The outbox holds events up to event_seq only (each is appended
	 * with it, in one transaction): with all of them acked it has
	 * nothing to send, and an idle hub's every sync skips the read. The
	 * events array is filled from 0 (nevents): no need to clear it. */
	if (sp->event_seq > sp->event_acked) {
		b->events = malloc(DN_STREAM_BATCH_MAX * sizeof(*b->events));
		if (b->events == NULL) {
			return DN_ENOMEM;
		}
		rv = hub_store_events_list(h->store, sp->event_acked,
		    DN_STREAM_BATCH_MAX, batch_add_event, b);
	}
	if (rv == 0 && sp->event_seq == sp->event_acked) {
		rv = hub_store_stock_list(h->store, DN_STOCK_REPORT_MAX + 1,
		    batch_add_stock, b);
		rv = rv == 1 ? 0 : rv;
	}
	return rv;
}

/* Packs the next HubSyncRequest into *buf. */
int hub_sync_build(hub *h, uint8_t **buf, size_t *len)
{
	Dropnet__HubSyncRequest req = DROPNET__HUB_SYNC_REQUEST__INIT;
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	sync_batch b = { 0 };
	hub_stream sp;
	hub_meta meta;
	uint64_t order_id_max = 0;
	int rv;

	if ((rv = hub_store_read_begin(h->store)) != 0) {
		return rv;
	}
	rv = sync_read(h, &sp, &meta, &order_id_max, &b);
	hub_store_read_end(h->store);
	if (rv != 0) {
		batch_free(&b);
		return rv;
	}
	hello.id = h->cfg.id;
	hello.name = h->cfg.name;
	hello.lat = h->cfg.lat;
	hello.lon = h->cfg.lon;
	hello.radius_km = h->cfg.radius_km;
	hello.term_url = h->cfg.term_url;
	hello.incarnation = meta.incarnation;
	hello.coordinator_incarnation = meta.coordinator;
	req.version = DN_PROTO_VERSION;
	req.hello = &hello;
	req.cmd_applied = sp.cmd_applied;
	req.cmd_applied_ms = h->cmd_applied_seq == sp.cmd_applied ? h->cmd_applied_ms : 0;
	req.event_acked = sp.event_acked;
	req.order_id_max = order_id_max;
	req.events = b.events;
	req.n_events = b.nevents;
	if (sp.event_seq == sp.event_acked && !b.stock_over) {
		req.stock = b.stock;
		req.n_stock = b.nstock;
		req.stock_valid = true;
	}
	h->sync_sent_acked = sp.event_acked;
	h->sync_sent_mono_ms = h->now_mono_ms;
	rv = codec_hub_sync_request_pack(&req, buf, len);
	log_debug("hub.sync_sent", "cmd_applied=%" PRIu64 " events=%zu "
	    "stock=%zu", sp.cmd_applied, b.nevents, req.n_stock);
	batch_free(&b);
	return rv;
}

/* Appends EV_COMMAND_REFUSED for command c with reason why (inside the
 * sync transaction). */
static int command_refuse(hub *h, const Dropnet__HubCommand *c,
    const char *why)
{
	Dropnet__HubEvent ev = DROPNET__HUB_EVENT__INIT;
	ev.kind = DROPNET__EVENT_KIND__EV_COMMAND_REFUSED;
	ev.time_ms = h->now_ms;
	ev.order_id = c->order_id;
	ev.command_seq = c->seq;
	ev.reason = (char *)why;
	/* The transfer id only when it is one we could have stored. */
	if (c->kind == DROPNET__COMMAND_KIND__CMD_TRANSFER_OUT
	    && validate_id(c->order_key)) {
		ev.transfer_id = c->order_key;
	}
	return hub_store_event_append(h->store, &ev);
}

/* One CMD_PLACE_ORDER: check, insert; an order id already present is a
 * no-op (the command was applied before under another seq, or replayed). */
static int command_place(hub *h, const Dropnet__HubCommand *c)
{
	pick_line_in lines[DN_ORDER_LINES_MAX];
	char msg[256];
	size_t n = c->n_lines;
	int rv;

	if (n > DN_ORDER_LINES_MAX) {
		n = DN_ORDER_LINES_MAX + 1; /* refused below by the check */
	}
	for (size_t i = 0; i < n && i < DN_ORDER_LINES_MAX; i++) {
		lines[i].sku = c->lines[i]->sku;
		lines[i].qty = c->lines[i]->qty;
		lines[i].gift = c->lines[i]->gift;
	}
	if (pick_place_check(c->order_id, c->order_key, c->customer, lines,
	    n, msg, sizeof(msg)) != PICK_OK) {
		/* Refused, never skipped in silence: the refusal goes back as an
		 * event (same transaction as the command's seq), so the
		 * coordinator releases what it allocated for the command. */
		log_error("hub.command_refused", "seq=%" PRIu64 " order_id=%"
		    PRIu64 " msg=\"%s\"", c->seq, c->order_id, msg);
		return command_refuse(h, c, msg);
	}
	rv = hub_store_order_insert(h->store, c->order_id, c->order_key,
	    c->customer, c->time_ms > 0 ? c->time_ms : h->now_ms, c->tier,
	    c->promised_ms, c->resent, lines, n);
	if (rv == DN_EEXIST) {
		char key[DN_ID_MAX + 1] = "";
		if ((rv = hub_store_order_key(h->store, c->order_id, key,
		    sizeof(key))) != 0) {
			return rv;
		}
		if (strcmp(key, c->order_key) != 0) {
			/* The same id for another order: a coordinator restored
			 * from a copy reused an id it had lost (SEMANTICS.md
			 * "Incarnations and resync"). Never take it for a
			 * re-send. */
			log_error("hub.command_conflict", "seq=%" PRIu64
			    " order_id=%" PRIu64 " order_key=%s held_key=%s: the"
			    " command is not applied; the order needs an operator",
			    c->seq, c->order_id, c->order_key, key);
			return 0;
		}
		log_info("hub.command_duplicate", "seq=%" PRIu64 " order_id=%"
		    PRIu64, c->seq, c->order_id);
		return 0;
	}
	if (rv == 0) {
		log_info("hub.order_queued", "seq=%" PRIu64 " order_id=%" PRIu64
		    " order_key=%s lines=%zu resent=%d", c->seq, c->order_id,
		    c->order_key, n, c->resent ? 1 : 0);
	}
	return rv;
}

static int command_cancel(hub *h, const Dropnet__HubCommand *c)
{
	int rv = hub_store_order_delete(h->store, c->order_id);
	if (rv == DN_ENOENT || rv == DN_ESTATE) {
		log_warn("hub.cancel_ignored", "seq=%" PRIu64 " order_id=%" PRIu64
		    " reason=%s", c->seq, c->order_id,
		    rv == DN_ENOENT ? "unknown" : "shipped");
		return 0;
	}
	if (rv == 0) {
		log_info("hub.order_cancelled", "seq=%" PRIu64 " order_id=%"
		    PRIu64, c->seq, c->order_id);
	}
	return rv;
}

/* Bounds a seeded on-hand: more than any hub shelves (a damaged or forged
 * reply must not make unbounded stock). */
#define HUB_SEED_QTY_MAX 1000000000LL

/* First contact with a coordinator (SEMANTICS.md "Incarnations and
 * resync"): an empty book takes the on-hand the coordinator's ledger had
 * here, in bin MAIN, and follows that coordinator from now on. */
static int sync_first_contact(hub *h, const Dropnet__HubSyncReply *rep)
{
	int64_t units = 0;
	size_t skus = 0;
	int rv;

	for (size_t i = 0; i < rep->n_stock_seed && i < DN_STOCK_REPORT_MAX; i++) {
		const Dropnet__StockLevel *l = rep->stock_seed[i];
		if (!validate_id(l->sku) || l->on_hand <= 0 ||
		    l->on_hand > HUB_SEED_QTY_MAX) {
			log_error("hub.seed_invalid", "sku=%.64s on_hand=%" PRId64,
			    l->sku, l->on_hand);
			continue;
		}
		if ((rv = hub_store_stock_add(h->store, l->sku, "MAIN",
		    l->on_hand)) != 0) {
			return rv;
		}
		units += l->on_hand;
		skus++;
	}
	if ((rv = hub_store_coordinator_set(h->store, rep->incarnation)) != 0) {
		return rv;
	}
	if (skus > 0) {
		log_warn("hub.seeded", "coordinator=%016" PRIx64 " skus=%zu units=%"
		    PRId64 ": this new book took the coordinator's on-hand, in bin"
		    " MAIN; count the shelves", rep->incarnation, skus, units);
	} else {
		log_info("hub.coordinator_joined", "coordinator=%016" PRIx64,
		    rep->incarnation);
	}
	return 0;
}

/* Checks the reply's incarnations against this store's and does the
 * first-contact seed or a rewind. *rewound is set after a rewind. */
static int sync_incarnations(hub *h, const Dropnet__HubSyncReply *rep,
    hub_stream *sp, const hub_meta *meta, bool *rewound)
{
	int rv;

	if (rep->incarnation == 0) {
		return 0; /* a coordinator from before incarnations */
	}
	if (meta->coordinator != 0 && meta->coordinator != rep->incarnation) {
		log_error("hub.coordinator_foreign", "follows=%016" PRIx64
		    " reply_from=%016" PRIx64 ": reply not applied", meta->coordinator,
		    rep->incarnation);
		return DN_ESTATE;
	}
	if (rep->hub_incarnation != 0 && rep->hub_incarnation != meta->incarnation) {
		log_error("hub.incarnation_mismatch", "ours=%016" PRIx64
		    " coordinator_follows=%016" PRIx64 ": reply not applied",
		    meta->incarnation, rep->hub_incarnation);
		return DN_ESTATE;
	}
	if (meta->coordinator == 0 && (rv = sync_first_contact(h, rep)) != 0) {
		return rv;
	}
	if (!rep->rewind) {
		return 0;
	}
	/* A coordinator behind us has applied only events we sent and acked
	 * only commands we applied: positions past them would make our next
	 * events take seqs it counts as applied (never sent), or skip
	 * commands for good. */
	if (rep->event_applied > sp->event_seq || rep->cmd_base > sp->cmd_applied) {
		log_error("hub.rewind_invalid", "event_applied=%" PRIu64 " event_seq=%"
		    PRIu64 " cmd_base=%" PRIu64 " cmd_applied=%" PRIu64 ": reply not"
		    " applied", rep->event_applied, sp->event_seq, rep->cmd_base,
		    sp->cmd_applied);
		return DN_ESTATE;
	}
	rv = hub_store_stream_rewind(h->store, rep->event_applied, rep->cmd_base);
	if (rv == DN_ERANGE) {
		log_error("hub.rewind_impossible", "event_applied=%" PRIu64
		    " event_acked=%" PRIu64 ": the coordinator went back further"
		    " than the outbox keeps; a count must rebuild its books",
		    rep->event_applied, sp->event_acked);
	}
	if (rv != 0) {
		return rv;
	}
	log_error("hub.rewind", "event_acked=%" PRIu64 "->%" PRIu64
	    " cmd_applied=%" PRIu64 "->%" PRIu64 ": the coordinator's books went"
	    " back; re-sending events and re-applying commands from its position",
	    sp->event_acked, rep->event_applied, sp->cmd_applied, rep->cmd_base);
	sp->event_acked = rep->event_applied;
	sp->cmd_applied = rep->cmd_base;
	*rewound = true;
	return 0;
}

/* Whether applying rep to a store at sp and meta writes nothing: the same
 * incarnations (sync_incarnations passes, no first contact), no rewind, no
 * new ack, no new command - an idle hub's every reply. */
static bool sync_quiet(const Dropnet__HubSyncReply *rep, const hub_stream *sp,
    const hub_meta *meta)
{
	if (rep->rewind || rep->event_applied > sp->event_acked) {
		return false;
	}
	if (rep->incarnation != 0 && (meta->coordinator != rep->incarnation ||
	    (rep->hub_incarnation != 0 && rep->hub_incarnation != meta->incarnation))) {
		return false;
	}
	for (size_t i = 0; i < rep->n_commands; i++) {
		if (rep->commands[i]->seq > sp->cmd_applied) {
			return false;
		}
	}
	return true;
}

/* Applies the ack and the commands of one reply in one transaction.
 * *acked_out returns the event_acked now stored; *refused is set when the
 * reply was refused as another coordinator's (sync_incarnations: a foreign
 * store, another incarnation, an impossible rewind). A reply that writes
 * nothing (sync_quiet) takes no transaction: only this process writes
 * the store, so what it read is what the transaction would read. */
static int sync_apply(hub *h, const Dropnet__HubSyncReply *rep,
    uint64_t *acked_out, bool *pending_out, bool *rewound, bool *refused)
{
	hub_stream sp;
	hub_meta meta;
	uint64_t applied;
	int rv;

	if ((rv = hub_store_sync_head(h->store, &sp, &meta, NULL)) != 0) {
		return rv;
	}
	if (sync_quiet(rep, &sp, &meta)) {
		*acked_out = sp.event_acked;
		*pending_out = sp.event_seq > sp.event_acked;
		return 0;
	}
	if ((rv = hub_store_begin(h->store)) != 0) {
		return rv;
	}
	if ((rv = hub_store_sync_head(h->store, &sp, &meta, NULL)) != 0) {
		goto rollback;
	}
	if ((rv = sync_incarnations(h, rep, &sp, &meta, rewound)) != 0) {
		*refused = rv == DN_ESTATE;
		goto rollback;
	}
	/* After a rewind the positions are the coordinator's already. */
	if (!*rewound && rep->event_applied > sp.event_seq) {
		log_warn("hub.ack_ahead", "event_applied=%" PRIu64 " event_seq=%"
		    PRIu64, rep->event_applied, sp.event_seq);
	} else if (!*rewound && rep->event_applied > sp.event_acked) {
		if ((rv = hub_store_event_acked_set(h->store,
		    rep->event_applied)) != 0) {
			goto rollback;
		}
		sp.event_acked = rep->event_applied;
	}
	applied = sp.cmd_applied;
	for (size_t i = 0; i < rep->n_commands; i++) {
		const Dropnet__HubCommand *c = rep->commands[i];
		if (c->seq <= applied) {
			continue; /* seen before: at-least-once delivery */
		}
		if (c->seq != applied + 1) {
			log_warn("hub.command_gap", "expected=%" PRIu64 " got=%"
			    PRIu64, applied + 1, c->seq);
			break;
		}
		if (c->kind == DROPNET__COMMAND_KIND__CMD_PLACE_ORDER ||
		    c->kind == DROPNET__COMMAND_KIND__CMD_TRANSFER_OUT) {
			/* A transfer out is pick work like an order: its key is
			 * the transfer id, its customer "to:<hub>"; shipping it
			 * puts the units on the van. */
			rv = command_place(h, c);
		} else if (c->kind == DROPNET__COMMAND_KIND__CMD_CANCEL_ORDER) {
			rv = command_cancel(h, c);
		} else {
			log_error("hub.command_unknown", "seq=%" PRIu64 " kind=%d",
			    c->seq, (int)c->kind);
			rv = 0;
		}
		if (rv != 0) {
			goto rollback;
		}
		applied = c->seq;
	}
	if (applied != sp.cmd_applied
	    && (rv = hub_store_cmd_applied_set(h->store, applied)) != 0) {
		goto rollback;
	}
	if ((rv = hub_store_commit(h->store)) != 0) {
		goto rollback;
	}
	if (applied != sp.cmd_applied) {
		h->cmd_applied_seq = applied;
		h->cmd_applied_ms = h->now_ms;
	}
	*acked_out = sp.event_acked;
	*pending_out = sp.event_seq > sp.event_acked;
	return 0;
rollback:
	hub_store_rollback(h->store);
	return rv;
}

uint64_t hub_sync_on_reply(hub *h, int rv, const uint8_t *buf, size_t len)
{
	Dropnet__HubSyncReply *rep = NULL;
	uint64_t acked = 0;
	bool pending = false, more = false, rewound = false, refused = false;

	if (rv != 0) {
		coordinator_down(h, dn_strerror(rv));
		goto next;
	}
	rv = codec_hub_sync_reply_unpack(buf, len, &rep);
	if (rv != 0) {
		coordinator_down(h, rv == DN_ERANGE ? "unsupported version"
		    : "malformed reply");
		goto next;
	}
	if (rep->status != DROPNET__STATUS__OK) {
		char why[320];
		snprintf(why, sizeof(why), "%s: %s", codec_status_name(rep->status),
		    rep->message != NULL ? rep->message : "");
		coordinator_down(h, why);
		goto next;
	}
	coordinator_back(h);
	rv = sync_apply(h, rep, &acked, &pending, &rewound, &refused);
	/* The lease is the coordinator this hub follows vouching for it: not
	 * renewed by a reply the hub refused as another's (logged), which may
	 * stand for a network that routes this hub's orders elsewhere. A
	 * reply our own store failed to apply still renews it: the
	 * coordinator heard this hub and counts it healthy. */
	if (!refused) {
		lease_renew(h, rep->lease_ms);
	}
	if (rv != 0) {
		log_error("hub.sync_apply_failed", "err=%s", dn_strerror(rv));
		goto next;
	}
	/* More at once when a full batch came, or when the coordinator made
	 * progress on our events and more wait (no progress: no busy loop). */
	more = rep->n_commands >= DN_STREAM_BATCH_MAX || rewound
	    || (pending && acked > h->sync_sent_acked);
next:
	codec_hub_sync_reply_free(rep);
	return more ? 0 : (uint64_t)h->cfg.sync_interval_ms;
}
