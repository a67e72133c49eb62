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
 * batch back and coord_reload restores memory from the file.
 * Thread model: the machine's thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Queues the command that puts what placement pid still needs at the hub
 * (CMD_PLACE_ORDER, or CMD_TRANSFER_OUT for a transfer's pick): the lines'
 * open quantities, the original key, customer, tier and promised time. A
 * placement with nothing left open queues nothing. */
static int resync_resend(coord *c, int hub, int64_t pid, int64_t now_wall)
{
	enum { LINES = DN_ORDER_LINES_MAX + 1 };
	Dropnet__OrderLine cl[LINES];
	Dropnet__OrderLine *clp[LINES];
	char skus[LINES][DN_ID_MAX + 1];
	char key[DN_ID_MAX + 1] = "", customer[DN_ID_MAX + 8] = "", tier[DN_ID_MAX + 1] = "";
	bool transfer = false;
	int64_t since_ms = 0;
	size_t n = 0;
	sqlite3_stmt *st = c->store->resend_lines;
	db_bind_i64(st, 1, pid);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < LINES) {
		if (n == 0) {
			transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
			snprintf(key, sizeof(key), "%s", db_col_text(st, 5));
			snprintf(customer, sizeof(customer), "%s", db_col_text(st, 6));
			snprintf(tier, sizeof(tier), "%s", db_col_text(st, 7));
			since_ms = transfer ? sqlite3_column_int64(st, 4) : sqlite3_column_int64(st, 8);
		}
		dropnet__order_line__init(&cl[n]);
		snprintf(skus[n], sizeof(skus[n]), "%s", db_col_text(st, 0));
		cl[n].sku = skus[n];
		cl[n].qty = (uint32_t)sqlite3_column_int64(st, 1);
		cl[n].gift = sqlite3_column_int(st, 2) != 0;
		clp[n] = &cl[n];
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return DN_EIO;
	}
	if (n == 0) {
		return 0;
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = transfer ? DROPNET__COMMAND_KIND__CMD_TRANSFER_OUT :
	    DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = key;
	cmd.customer = customer;
	cmd.tier = tier;
	/* As first sent: an order is promised from its acceptance, a transfer
	 * is due from its creation. */
	cmd.promised_ms = transfer ? since_ms : since_ms + c->cfg.ship_promise_ms;
	cmd.n_lines = n;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	return coord_command_queue(c, hub, &cmd);
}

/* The placements at hub whose pick is not finished, by id. *out is
 * malloc'd (NULL when none). */
static int resync_live_placements(coord *c, int hub, int64_t **out, size_t *n)
{
	sqlite3_stmt *st = c->store->placements_live;
	size_t cap = 0;
	int rc, rv = 0;
	*out = NULL;
	*n = 0;
	db_bind_text(st, 1, c->hubs[hub].id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int64_t *p = realloc(*out, ncap * sizeof(*p));
			if (p == NULL) {
				rv = DN_ENOMEM;
				break;
			}
			*out = p;
			cap = ncap;
		}
		(*out)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rv == 0 && rc != SQLITE_DONE) {
		rv = DN_EIO;
	}
	if (rv != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
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
	db_bind_text(s->seed_delete, 1, h->id);
	if (store_step_done(s->seed_delete) != 0) {
		return DN_EIO;
	}
	db_bind_text(s->seed_fill, 1, h->id);
	db_bind_i64(s->seed_fill, 2, DN_STOCK_REPORT_MAX);
	if (store_step_done(s->seed_fill) != 0) {
		return DN_EIO;
	}
	int seeded = sqlite3_changes(c->db);
	if (seeded >= (int)DN_STOCK_REPORT_MAX) {
		log_error("hub.seed_truncated", "hub=%s skus=%d: SKUs past the first %u by"
		    " name are not seeded; count them at the hub", h->id, seeded,
		    DN_STOCK_REPORT_MAX);
	}
	db_bind_text(s->cmd_delete_hub, 1, h->id);
	if (store_step_done(s->cmd_delete_hub) != 0) {
		return DN_EIO;
	}
	db_bind_text(s->hub_reset, 1, h->id);
	db_bind_i64(s->hub_reset, 2, (int64_t)inc);
	if (store_step_done(s->hub_reset) != 0) {
		return DN_EIO;
	}
	h->incarnation = inc;
	h->cmd_seq = h->cmd_acked = h->cmd_offered = h->event_applied = 0;
	h->report_valid = false;
	h->seed_pending = true;
	int64_t *pids = NULL;
	size_t npids = 0;
	int rv = resync_live_placements(c, hub, &pids, &npids);
	for (size_t i = 0; i < npids && rv == 0; i++) {
		rv = resync_resend(c, hub, pids[i], now_wall);
	}
	free(pids);
	if (rv == 0) {
		log_warn("hub.resync_queued", "hub=%s placements=%zu commands=%llu seed_skus=%d",
		    h->id, npids, (unsigned long long)h->cmd_seq, seeded);
	}
	return rv;
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
		db_bind_text(c->store->hub_incarnation, 1, h->id);
		db_bind_i64(c->store->hub_incarnation, 2, (int64_t)hello->incarnation);
		if ((*rv = store_step_done(c->store->hub_incarnation)) != 0) {
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
		/* We were acked/acknowledged further than this file knows: it was
		 * restored from an older copy. Keep every placement id above the
		 * ones the hub holds, and have the hub re-send from our positions. */
		db_bind_i64(c->store->placement_floor, 1, (int64_t)m->order_id_max);
		if ((*rv = store_step_done(c->store->placement_floor)) != 0) {
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
	return COORD_SYNC_OK;
}

int coord_resync_finish(coord *c, int hub, const Dropnet__HubSyncRequest *m)
{
	coord_hub *h = &c->hubs[hub];
	store *s = c->store;
	if (h->seed_pending && m->hello != NULL &&
	    m->hello->coordinator_incarnation == c->incarnation) {
		db_bind_text(s->seed_delete, 1, h->id);
		if (store_step_done(s->seed_delete) != 0) {
			return DN_EIO;
		}
		h->seed_pending = false;
		log_info("hub.seed_confirmed", "hub=%s", h->id);
	}
	if (h->cmd_offered != h->cmd_seq) {
		db_bind_text(s->hub_offered, 1, h->id);
		db_bind_i64(s->hub_offered, 2, (int64_t)h->cmd_seq);
		if (store_step_done(s->hub_offered) != 0) {
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

int coord_resync_seed(coord *c, int hub, const Dropnet__HubSyncRequest *m,
    Dropnet__StockLevel ***out, size_t *n)
{
	coord_hub *h = &c->hubs[hub];
	*out = NULL;
	*n = 0;
	if (!h->seed_pending || m->hello->coordinator_incarnation != 0) {
		return 0;
	}
	Dropnet__StockLevel **rows = calloc(DN_STOCK_REPORT_MAX, sizeof(*rows));
	if (rows == NULL) {
		return DN_ENOMEM;
	}
	sqlite3_stmt *st = c->store->seed_select;
	db_bind_text(st, 1, h->id);
	db_bind_i64(st, 2, DN_STOCK_REPORT_MAX);
	int rc, rv = 0;
	size_t k = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < DN_STOCK_REPORT_MAX) {
		const char *sku = db_col_text(st, 0);
		Dropnet__StockLevel *r = malloc(sizeof(*r) + strlen(sku) + 1);
		if (r == NULL) {
			rv = DN_ENOMEM;
			break;
		}
		dropnet__stock_level__init(r);
		r->sku = (char *)(r + 1);
		strcpy(r->sku, sku);
		r->on_hand = sqlite3_column_int64(st, 1);
		rows[k++] = r;
	}
	sqlite3_reset(st);
	if (rv == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rv = DN_EIO;
	}
	if (rv != 0) {
		coord_resync_seed_free(rows, k);
		return rv;
	}
	*out = rows;
	*n = k;
	return 0;
}
