/*
 * resync.c - store incarnations: noticing that a hub's store or this one
 * went back in time, and putting the two books together again by the
 * procedure proto/SEMANTICS.md "Incarnations and resync" states.
 *
 * Each store file carries a random incarnation id made once when it is
 * created (its meta table; SQLite's randomness, never drawn here). A hub
 * sends its own and the coordinator's it last synced with in every hello,
 * with its stream positions (cmd_applied, event_acked). The coordinator
 * keeps per hub the hub incarnation its books follow and cmd_offered, the
 * highest command seq any of its replies could have carried. In a history
 * where neither store went back, a hub's cmd_applied <= cmd_offered and
 * its event_acked <= event_applied; anything else is one of the cases
 * below, decided once per sync request and logged loudly - never skipped.
 *
 * Runs inside the hubsync batch transaction: a failure rolls the whole
 * batch back, in the file and (the undo log, stock.c) in memory.
 * Thread model: the machine's thread only.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Queues the command that puts what placement pid still needs at the hub
 * (CMD_PLACE_ORDER, or CMD_TRANSFER_OUT for a transfer's pick): the lines'
 * open quantities, the original key, customer, tier and promised time,
 * flagged resent. A placement with nothing left open queues nothing. */
static int resync_resend(coord *c, int hub, int64_t pid, int64_t now_wall)
{
	enum { LINES = DN_ORDER_LINES_MAX + 1 };
	Dropnet__OrderLine cl[LINES];
	Dropnet__OrderLine *clp[LINES];
	store_stream_resend r;
	int rv = store_stream_resend_get(c->store, pid, &r);
	if (rv != 0 || r.n == 0) {
		return rv;
	}
	assert(r.n <= LINES);
	for (size_t i = 0; i < r.n; i++) {
		dropnet__order_line__init(&cl[i]);
		cl[i].sku = r.lines[i].sku;
		cl[i].qty = (uint32_t)r.lines[i].open;
		cl[i].gift = r.lines[i].gift;
		clp[i] = &cl[i];
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = r.transfer ? DROPNET__COMMAND_KIND__CMD_TRANSFER_OUT :
	    DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = r.key;
	cmd.customer = r.customer;
	cmd.tier = r.tier;
	/* As first sent: an order is promised from its acceptance, a transfer
	 * is due from its creation. */
	cmd.promised_ms = r.transfer ? r.since_ms : r.since_ms + c->cfg.ship_promise_ms;
	cmd.n_lines = r.n;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	/* The lost store may have shipped it with the event unsent: the hub
	 * shows it as re-sent, for staff to check before picking it again. */
	cmd.resent = true;
	return coord_command_queue(c, hub, &cmd);
}

/* A growing list of placement ids (resync_live_placements). */
typedef struct {
	int64_t *ids;
	size_t n, cap;
} resync_ids;

static int resync_id_add(void *arg, int64_t id)
{
	resync_ids *l = arg;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		int64_t *p = realloc(l->ids, ncap * sizeof(*p));
		if (p == NULL) {
			return DN_ENOMEM;
		}
		l->ids = p;
		l->cap = ncap;
	}
	l->ids[l->n++] = id;
	return 0;
}

/* The placements at hub whose pick is not finished, by id. *out is
 * malloc'd (NULL when none). Collected before any is queued again: queuing
 * writes while the walk would still be reading. */
static int resync_live_placements(coord *c, int hub, int64_t **out, size_t *n)
{
	resync_ids l = {NULL, 0, 0};
	int rv = store_stream_placements_live(c->store, c->hubs[hub].id, resync_id_add, &l);
	if (rv != 0) {
		free(l.ids);
		l.ids = NULL;
		l.n = 0;
	}
	*out = l.ids;
	*n = l.n;
	return rv;
}

/* The hub's store is new (wiped, or replaced): its event seq restarts at 1
 * and it holds no order and no stock. Restart both streams for it at 0,
 * queue again every placement not yet picked to the end, and keep the
 * ledger's on-hand there as the seed its empty book takes at first contact
 * (the units are still on its shelves; a count corrects the rest). */
static int resync_new_incarnation(coord *c, int hub, uint64_t inc, int64_t now_wall)
{
	store *s = c->store;
	coord_hub *h = &c->hubs[hub];
	log_error("hub.resync", "hub=%s reason=new_incarnation old=%016llx new=%016llx"
	    " event_applied_was=%llu cmd_seq_was=%llu cmd_acked_was=%llu: the hub's store"
	    " is new; its events count from 1, its open orders are sent again and its"
	    " book is seeded with the ledger's on-hand", h->id,
	    (unsigned long long)h->incarnation, (unsigned long long)inc,
	    (unsigned long long)h->event_applied, (unsigned long long)h->cmd_seq,
	    (unsigned long long)h->cmd_acked);
	size_t seeded = 0;
	if (store_stream_seed_clear(s, h->id) != 0 ||
	    store_stream_seed_fill(s, h->id, DN_STOCK_REPORT_MAX, &seeded) != 0) {
		return DN_EIO;
	}
	if (seeded >= DN_STOCK_REPORT_MAX) {
		log_error("hub.seed_truncated", "hub=%s skus=%zu: SKUs past the first %u by"
		    " name are not seeded; count them at the hub", h->id, seeded,
		    DN_STOCK_REPORT_MAX);
	}
	if (store_stream_cmds_clear(s, h->id) != 0 ||
	    store_stream_hub_reset(s, h->id, inc) != 0) {
		return DN_EIO;
	}
	h->incarnation = inc;
	h->cmd_seq = h->cmd_acked = h->cmd_offered = h->event_applied = 0;
	h->report_valid = false;
	/* The file says a seed is pending by its rows (coord_store_hubs_list):
	 * with nothing on hand there is nothing to seed, and memory must say
	 * what the file says (a failed transaction's check, a reload; found
	 * by dropsim seed 500650: a wiped hub with an empty ledger). */
	h->seed_pending = seeded > 0;
	int64_t *pids = NULL;
	size_t npids = 0;
	int rv = resync_live_placements(c, hub, &pids, &npids);
	for (size_t i = 0; i < npids && rv == 0; i++) {
		rv = resync_resend(c, hub, pids[i], now_wall);
	}
	free(pids);
	if (rv == 0) {
		log_warn("hub.resync_queued", "hub=%s placements=%zu commands=%llu seed_skus=%zu",
		    h->id, npids, (unsigned long long)h->cmd_seq, seeded);
	}
	return rv;
}

/* We were acked/acknowledged further than this file knows: it was restored
 * from an older copy. Keep every placement id above the ones the hub holds,
 * and have the hub re-send from our positions (REWIND; OK with *rv set
 * when the floor could not be written). */
static coord_sync_verdict resync_behind(coord *c, const coord_hub *h,
    const Dropnet__HubSyncRequest *m, int *rv)
{
	*rv = store_stream_placement_floor_raise(c->store, m->order_id_max);
	if (*rv != 0) {
		return COORD_SYNC_OK;
	}
	log_error("hub.resync", "hub=%s reason=coordinator_behind hub_event_acked=%llu"
	    " event_applied=%llu hub_cmd_applied=%llu cmd_offered=%llu cmd_base=%llu"
	    " placement_floor=%llu: this store is older than the hub's view of it"
	    " (restored?); the hub re-sends its events after event_applied and"
	    " re-applies commands after cmd_base", h->id,
	    (unsigned long long)m->event_acked, (unsigned long long)h->event_applied,
	    (unsigned long long)m->cmd_applied, (unsigned long long)h->cmd_offered,
	    (unsigned long long)h->cmd_acked, (unsigned long long)m->order_id_max);
	return COORD_SYNC_REWIND;
}

coord_sync_verdict coord_resync_check(coord *c, int hub,
    const Dropnet__HubSyncRequest *m, int64_t now_wall, int *rv)
{
	coord_hub *h = &c->hubs[hub];
	const Dropnet__HubHello *hello = m->hello;
	*rv = 0;
	if (hello->coordinator_incarnation != 0 &&
	    hello->coordinator_incarnation != c->incarnation) {
		log_error("hub.resync_refused", "hub=%s reason=foreign_coordinator"
		    " hub_synced_with=%016llx this=%016llx: the hub's books follow another"
		    " coordinator store; to join this one, give the hub a new data dir",
		    h->id, (unsigned long long)hello->coordinator_incarnation,
		    (unsigned long long)c->incarnation);
		return COORD_SYNC_REFUSE;
	}
	if (hello->incarnation == 0) {
		return COORD_SYNC_OK; /* a hub from before incarnations */
	}
	if (h->incarnation == 0) {
		/* First sight (a new hub, or books from before incarnations). */
		*rv = store_stream_hub_incarnation_set(c->store, h->id, hello->incarnation);
		if (*rv != 0) {
			return COORD_SYNC_OK;
		}
		h->incarnation = hello->incarnation;
		log_info("hub.incarnation", "hub=%s incarnation=%016llx", h->id,
		    (unsigned long long)h->incarnation);
	} else if (h->incarnation != hello->incarnation) {
		*rv = resync_new_incarnation(c, hub, hello->incarnation, now_wall);
		return COORD_SYNC_OK;
	}
	/* The same hub store: the end of its event history (its pending
	 * events, or its ack when none are pending) never falls below what we
	 * applied, unless its store went back (restored from a copy). */
	uint64_t hub_end = m->event_acked;
	if (m->n_events > 0 && m->events[m->n_events - 1]->seq > hub_end) {
		hub_end = m->events[m->n_events - 1]->seq;
	}
	if (hub_end < h->event_applied) {
		log_error("hub.resync_refused", "hub=%s reason=hub_went_back hub_events_end=%llu"
		    " event_applied=%llu: the hub's store is older than events already"
		    " applied here; give the hub a new data dir (a new incarnation is"
		    " resynchronised from these books)", h->id, (unsigned long long)hub_end,
		    (unsigned long long)h->event_applied);
		return COORD_SYNC_REFUSE;
	}
	if (m->event_acked > h->event_applied || m->cmd_applied > h->cmd_offered) {
		return resync_behind(c, h, m, rv);
	}
	return COORD_SYNC_OK;
}

int coord_resync_finish(coord *c, int hub, const Dropnet__HubSyncRequest *m)
{
	coord_hub *h = &c->hubs[hub];
	store *s = c->store;
	/* Only the new store confirms: a request of the lost one (sent before
	 * the wipe, delivered late, in the same batch) also names us, and
	 * taking it for the confirmation dropped the seed before the new book
	 * had it (found by dropsim with wipes). */
	if (h->seed_pending && m->hello != NULL &&
	    m->hello->coordinator_incarnation == c->incarnation &&
	    m->hello->incarnation == h->incarnation) {
		if (store_stream_seed_clear(s, h->id) != 0) {
			return DN_EIO;
		}
		h->seed_pending = false;
		log_info("hub.seed_confirmed", "hub=%s", h->id);
	}
	if (h->cmd_offered != h->cmd_seq) {
		if (store_stream_hub_offered_set(s, h->id, h->cmd_seq) != 0) {
			return DN_EIO;
		}
		h->cmd_offered = h->cmd_seq;
	}
	return 0;
}

void coord_resync_seed_free(Dropnet__StockLevel **rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i]);
	}
	free(rows);
}

/* The seed rows a reply carries (coord_resync_seed). */
typedef struct {
	Dropnet__StockLevel **rows; /* room for DN_STOCK_REPORT_MAX */
	size_t n;
} resync_seed;

static int resync_seed_add(void *arg, const char *sku, int64_t on_hand)
{
	resync_seed *l = arg;
	assert(l->n < DN_STOCK_REPORT_MAX);
	Dropnet__StockLevel *r = malloc(sizeof(*r) + strlen(sku) + 1);
	if (r == NULL) {
		return DN_ENOMEM;
	}
	dropnet__stock_level__init(r);
	r->sku = (char *)(r + 1);
	strcpy(r->sku, sku);
	r->on_hand = on_hand;
	l->rows[l->n++] = r;
	return 0;
}

int coord_resync_seed(coord *c, int hub, const Dropnet__HubSyncRequest *m,
    Dropnet__StockLevel ***out, size_t *n)
{
	coord_hub *h = &c->hubs[hub];
	*out = NULL;
	*n = 0;
	if (!h->seed_pending || m->hello->coordinator_incarnation != 0) {
		return 0;
	}
	resync_seed l = {calloc(DN_STOCK_REPORT_MAX, sizeof(*l.rows)), 0};
	if (l.rows == NULL) {
		return DN_ENOMEM;
	}
	int rv = store_stream_seed_list(c->store, h->id, DN_STOCK_REPORT_MAX, resync_seed_add,
	    &l);
	if (rv != 0) {
		coord_resync_seed_free(l.rows, l.n);
		return rv;
	}
	*out = l.rows;
	*n = l.n;
	return 0;
}
