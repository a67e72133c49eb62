/*
 * check.c - the invariants dropsim holds the network to (DESIGN.md):
 *   - no unit sold twice: every ledger row valid after every batch;
 *   - every answered order keeps its first answer, and an ACCEPTED order is
 *     in the journal exactly once with the same order id;
 *   - no NO_HUB_IN_RANGE while a hub in range was heard from (its own
 *     traffic reached the coordinator) within hub_timeout_ms;
 *   - no order shipped twice, by one hub or two;
 *   - the audit (in-memory = file, allocation, conservation, transit,
 *     holdback, shipped, both books) finds nothing, every SIM_AUDIT_EVERY
 *     batches and at the end;
 *   - after the faults heal: every stream drained both ways (every event
 *     applied exactly once), every accepted order shipped exactly once, and
 *     stock conserved against what the staff physically received and
 *     shipped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/geo.h"
#include "core/limits.h"
#include "io/codec.h"
#include "world.h"

bool check_fail(world *w, const char *fmt, ...)
{
	if (w->res->failed) {
		return false;
	}
	w->res->failed = true;
	int n = snprintf(w->res->why, sizeof(w->res->why), "t=%llu ",
	    (unsigned long long)w->now);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->res->why + n, sizeof(w->res->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

bool check_ledger(world *w)
{
	const coord *c = &w->c;
	for (size_t i = 0; i < c->stock_cap; i++) {
		const coord_stock *s = &c->stock[i];
		if (s->hub >= 0 && !ledger_row_check(&s->row)) {
			return check_fail(w, "ledger row invalid: hub=%s sku=%s on_hand=%lld"
			    " allocated=%lld holdback=%lld", c->hubs[s->hub].id, s->sku,
			    (long long)s->row.on_hand, (long long)s->row.allocated,
			    (long long)s->row.holdback);
		}
	}
	return true;
}

/* A hub in range of o whose own sync reached the coordinator lately. */
static int fresh_hub_in_range(world *w, const sim_order *o)
{
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		const sim_hub *hb = &w->hubs[i];
		double km = geo_distance_km(o->lat, o->lon, hb->h.cfg.lat, hb->h.cfg.lon);
		if (km <= hb->h.cfg.radius_km && hb->sync_arrived &&
		    coord_hub_find(&w->c, hb->h.cfg.id) >= 0 &&
		    w->now - hb->last_sync_arrived_ms < (uint64_t)w->cfg.hub_timeout_ms) {
			return (int)i;
		}
	}
	return -1;
}

bool check_answer(world *w, sim_order *o, int status, uint64_t order_id,
    bool duplicate)
{
	if (o->status == 0) {
		o->status = status;
		o->order_id = order_id;
		int h = -1;
		if (status == DROPNET__STATUS__NO_HUB_IN_RANGE && !duplicate &&
		    (h = fresh_hub_in_range(w, o)) >= 0) {
			return check_fail(w, "order %s refused NO_HUB_IN_RANGE while %s, in"
			    " range, was heard from %llu ms ago", o->key,
			    w->hubs[h].h.cfg.id,
			    (unsigned long long)(w->now - w->hubs[h].last_sync_arrived_ms));
		}
		return true;
	}
	if (status != o->status || (status == DROPNET__STATUS__ACCEPTED &&
	    order_id != o->order_id)) {
		return check_fail(w, "order %s answered %s (id %llu), first answer %s"
		    " (id %llu)", o->key, codec_status_name((Dropnet__Status)status),
		    (unsigned long long)order_id,
		    codec_status_name((Dropnet__Status)o->status),
		    (unsigned long long)o->order_id);
	}
	return true;
}

bool check_shipped(world *w, int hi, const char *key)
{
	if (key[0] != 'o') {
		return true; /* a transfer's pick, not a buyer's order */
	}
	unsigned long k = strtoul(key + 1, NULL, 10);
	if (k >= w->norders) {
		return check_fail(w, "hub %s shipped unknown order %s",
		    w->hubs[hi].h.cfg.id, key);
	}
	sim_order *o = &w->orders[k];
	if (++o->shipped > 1) {
		return check_fail(w, "order %s shipped twice: by %s and by %s", key,
		    w->hubs[o->shipped_hub].h.cfg.id, w->hubs[hi].h.cfg.id);
	}
	o->shipped_hub = hi;
	if (o->status != 0 && o->status != DROPNET__STATUS__ACCEPTED) {
		return check_fail(w, "order %s shipped by %s but answered %s", key,
		    w->hubs[hi].h.cfg.id, codec_status_name((Dropnet__Status)o->status));
	}
	return true;
}

bool check_audit(world *w)
{
	if (!w->coord_up) {
		return true;
	}
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	Dropnet__OpsReply *rep = world_ops(w, &q);
	w->res->audits++;
	if (rep == NULL) {
		return check_fail(w, "audit: no reply");
	}
	bool ok = true;
	if (rep->status == DROPNET__STATUS__UNAVAILABLE) {
		ok = true; /* the store failed under an injected fault: not a finding */
	} else if (rep->n_findings > 0) {
		ok = check_fail(w, "audit: %s: %s (%zu findings)", rep->findings[0]->check,
		    rep->findings[0]->detail, rep->n_findings);
	} else if (rep->status != DROPNET__STATUS__OK) {
		ok = check_fail(w, "audit: %s %s", codec_status_name(rep->status),
		    rep->message != NULL ? rep->message : "");
	}
	codec_ops_reply_free(rep);
	return ok;
}

/* The journal row of an accepted order: its status and id. */
static bool journal_get(world *w, const char *key, int *status, int64_t *id)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	if (sqlite3_prepare_v2(w->c.db, "SELECT status, id FROM orders WHERE"
	    " storefront='shop' AND order_key=?1", -1, &st, NULL) != SQLITE_OK) {
		return false;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*status = sqlite3_column_int(st, 0);
		*id = sqlite3_column_int64(st, 1);
		found = sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return found;
}

/* Stock conservation against the physical truth: per SKU, the units staff
 * received equal the coordinator's received counters; per hub and SKU, the
 * coordinator's shipped units equal what the buyers' orders shipped. */
static bool check_conservation(world *w)
{
	int64_t truth[SIM_SKUS] = {0}, booked[SIM_SKUS] = {0};
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		for (int s = 0; s < SIM_SKUS; s++) {
			truth[s] += w->hubs[i].received[s];
		}
	}
	for (size_t i = 0; i < w->c.stock_cap; i++) {
		const coord_stock *s = &w->c.stock[i];
		for (int k = 0; s->hub >= 0 && k < SIM_SKUS; k++) {
			if (strcmp(s->sku, sim_sku_names[k]) == 0) {
				booked[k] += s->received;
			}
		}
	}
	for (int s = 0; s < SIM_SKUS; s++) {
		if (truth[s] != booked[s]) {
			return check_fail(w, "sku %s: staff received %lld, coordinator booked"
			    " %lld", sim_sku_names[s], (long long)truth[s], (long long)booked[s]);
		}
	}
	return true;
}

bool check_final(world *w)
{
	for (uint32_t k = 0; k < w->norders; k++) {
		sim_order *o = &w->orders[k];
		int status = 0;
		int64_t id = 0;
		bool in_journal = journal_get(w, o->key, &status, &id);
		if (o->status != 0 && !in_journal) {
			return check_fail(w, "order %s answered %s is not in the journal",
			    o->key, codec_status_name((Dropnet__Status)o->status));
		}
		if (o->status != 0 && (status != o->status || (uint64_t)id != o->order_id)) {
			return check_fail(w, "order %s: journal says %s id %lld, first answer"
			    " %s id %llu", o->key, codec_status_name((Dropnet__Status)status),
			    (long long)id, codec_status_name((Dropnet__Status)o->status),
			    (unsigned long long)o->order_id);
		}
		if (in_journal && status == DROPNET__STATUS__ACCEPTED && o->shipped != 1) {
			return check_fail(w, "accepted order %s shipped %u times after settling",
			    o->key, o->shipped);
		}
	}
	return check_conservation(w);
}
