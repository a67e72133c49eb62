/*
 * check.c - the invariants dropsim holds the network to (DESIGN.md), and
 * when each is checked:
 *   - no unit sold twice: after every coordinator batch (and tick), every
 *     ledger row in memory has no negative field (check_ledger), and no row
 *     whose allocation an ingest batch grew is below zero sellable
 *     (check_no_oversell, against marks taken before the batch);
 *   - every answered order keeps its first answer, checked at the
 *     coordinator for every ack it sends (whatever the request's shape: a
 *     bare order, an envelope, a SubmitBatch - one ack per order, each
 *     final one naming its order), and at the end against the journal: an
 *     ACCEPTED order is in it exactly once with the same order id;
 *   - no NO_HUB_IN_RANGE while a hub in range was heard from (its own
 *     traffic reached the coordinator) within the routing grace, for every
 *     first answer;
 *   - no order shipped twice, by one hub or two, nor beyond what was
 *     ordered, at every ship;
 *   - after every failed coordinator transaction, memory equals the file
 *     (check_memory_file: every stock row, hub, drop in memory and tier,
 *     field by field; the undo log put everything back);
 *   - the audit (in-memory ledger = file, allocation = open placements,
 *     every accepted line allocated once, conservation, transit, holdback,
 *     shipped, both books) finds nothing but units lost below their
 *     allocation: before every coordinator crash, every SIM_AUDIT_EVERY
 *     batches, and strictly at the end. Memory is rebuilt from the file
 *     only when the coordinator restarts (coord_open; coord_ready after a
 *     failed reload), so a difference between memory and file lasts until
 *     the next crash or the end, and both are audited: the schedule sees
 *     every difference that lasts, as the earlier every-64-batches one did,
 *     with a third of the audits (each scans the whole journal). What it
 *     may see later, or not at all, is a difference that a later write
 *     happens to undo in both; the periodic audit is there for those;
 *   - after the faults heal and the staff count every bin: every stream
 *     drained both ways (every event applied exactly once), every answered
 *     order in the journal with its first answer, every accepted order
 *     shipped in full unless a unit of it was shorted, and both books (the
 *     hub's and the coordinator's) equal to the units physically in each
 *     hub, SKU by SKU.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/geo.h"
#include "core/limits.h"
#include "io/codec.h"
#include <sqlite3.h>
#include "world.h"
#include "store.h"

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

/* Hub events are physical facts: a count that finds fewer units than are
 * allocated leaves sellable below zero until the missing units are shorted
 * (ledger.h). What must never happen is a sale on such a row, or a negative
 * field. */
static bool row_fields_ok(const ledger_row *r)
{
	return r->on_hand >= 0 && r->allocated >= 0 && r->holdback >= 0;
}

void check_ledger_mark(world *w)
{
	const coord *c = &w->c;
	w->nmarks = 0;
	for (size_t i = 0; i < c->stock_cap && w->nmarks < SIM_MARKS_MAX; i++) {
		if (c->stock[i].hub >= 0) {
			w->marks[w->nmarks++] = (sim_mark){c->stock[i].hub, i,
			    c->stock[i].row.allocated};
		}
	}
}

bool check_no_oversell(world *w)
{
	const coord *c = &w->c;
	for (size_t k = 0; k < w->nmarks; k++) {
		const sim_mark *m = &w->marks[k];
		if (m->slot >= c->stock_cap || c->stock[m->slot].hub != m->hub) {
			continue; /* the table was rebuilt */
		}
		const coord_stock *s = &c->stock[m->slot];
		if (s->row.allocated > m->allocated && ledger_sellable(&s->row) < 0) {
			return check_fail(w, "oversold: hub=%s sku=%s on_hand=%lld"
			    " allocated=%lld (was %lld) holdback=%lld", c->hubs[s->hub].id,
			    s->sku, (long long)s->row.on_hand, (long long)s->row.allocated,
			    (long long)m->allocated, (long long)s->row.holdback);
		}
	}
	return true;
}

bool check_ledger(world *w)
{
	const coord *c = &w->c;
	for (size_t i = 0; i < c->stock_cap; i++) {
		const coord_stock *s = &c->stock[i];
		if (s->hub >= 0 && !row_fields_ok(&s->row)) {
			return check_fail(w, "ledger row invalid: hub=%s sku=%s on_hand=%lld"
			    " allocated=%lld holdback=%lld", c->hubs[s->hub].id, s->sku,
			    (long long)s->row.on_hand, (long long)s->row.allocated,
			    (long long)s->row.holdback);
		}
	}
	return true;
}

/* A hub in range of o whose own sync reached the coordinator within the
 * routing grace: the coordinator must still route to it (SEMANTICS.md,
 * "Hub health"). */
static int fresh_hub_in_range(world *w, const sim_order *o)
{
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		const sim_hub *hb = &w->hubs[i];
		double km = geo_distance_km(o->lat, o->lon, hb->h.cfg.lat, hb->h.cfg.lon);
		if (km <= hb->h.cfg.radius_km && hb->sync_arrived &&
		    coord_hub_find(&w->c, hb->h.cfg.id) >= 0 &&
		    w->now - hb->last_sync_arrived_ms < (uint64_t)w->cfg.hub_grace_ms) {
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

bool check_shipped(world *w, int hi, uint64_t id, const char *key,
    uint32_t units)
{
	if (id >= w->shipped_cap) {
		size_t cap = w->shipped_cap ? w->shipped_cap : 4096;
		while (cap <= id) {
			cap *= 2;
		}
		uint8_t *n = realloc(w->shipped_ids, cap);
		if (n == NULL) {
			return check_fail(w, "out of memory");
		}
		memset(n + w->shipped_cap, 0, cap - w->shipped_cap);
		w->shipped_ids = n;
		w->shipped_cap = cap;
	}
	if (w->shipped_ids[id]++ != 0) {
		return check_fail(w, "placement %llu (order %s) shipped twice, last by %s",
		    (unsigned long long)id, key, w->hubs[hi].h.cfg.id);
	}
	if (key[0] != 'o') {
		return true; /* a transfer's pick, not a buyer's order */
	}
	unsigned long k = strtoul(key + 1, NULL, 10);
	if (k >= w->norders) {
		return check_fail(w, "hub %s shipped unknown order %s",
		    w->hubs[hi].h.cfg.id, key);
	}
	sim_order *o = &w->orders[k];
	uint32_t ordered = 0;
	for (uint32_t i = 0; i < o->nlines; i++) {
		ordered += o->qty[i];
	}
	o->units_shipped += units;
	if (o->units_shipped > ordered) {
		return check_fail(w, "order %s: %u units shipped of %u ordered (last by %s)",
		    key, o->units_shipped, ordered, w->hubs[hi].h.cfg.id);
	}
	if (o->status != 0 && o->status != DROPNET__STATUS__ACCEPTED) {
		return check_fail(w, "order %s shipped by %s but answered %s", key,
		    w->hubs[hi].h.cfg.id, codec_status_name((Dropnet__Status)o->status));
	}
	return true;
}

/* True when every finding is sellable_negative: units lost below what is
 * allocated, which shorts resolve (ledger.h); check_ledger holds the rest. */
static bool audit_only_losses(const Dropnet__OpsReply *rep)
{
	for (size_t i = 0; i < rep->n_findings; i++) {
		if (strcmp(rep->findings[i]->check, "sellable_negative") != 0) {
			return false;
		}
	}
	return true;
}

bool check_audit(world *w, bool strict)
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
	} else if (rep->n_findings > 0 && !strict && audit_only_losses(rep)) {
		ok = true;
	} else if (rep->n_findings > 0) {
		size_t f = 0;
		while (f + 1 < rep->n_findings &&
		    strcmp(rep->findings[f]->check, "sellable_negative") == 0) {
			f++; /* name the finding that is not a loss */
		}
		ok = check_fail(w, "audit: %s: %s (%zu findings)", rep->findings[f]->check,
		    rep->findings[f]->detail, rep->n_findings);
	} else if (rep->status != DROPNET__STATUS__OK) {
		ok = check_fail(w, "audit: %s %s", codec_status_name(rep->status),
		    rep->message != NULL ? rep->message : "");
	}
	codec_ops_reply_free(rep);
	return ok;
}

/* The journal row of an accepted order: its status and id (st: the
 * lookup, prepared once by check_final). */
static bool journal_get(sqlite3_stmt *st, const char *key, int *status, int64_t *id)
{
	bool found = false;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*status = sqlite3_column_int(st, 0);
		*id = sqlite3_column_int64(st, 1);
		found = sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_reset(st);
	return found;
}

/* Both books against the physical truth: after the final count, every
 * hub's book and the coordinator's say, for every SKU, exactly the units in
 * the building. */
static bool check_conservation(world *w)
{
	for (uint32_t i = 0; i < w->p.hubs; i++) {
		const sim_hub *hb = &w->hubs[i];
		int ci = coord_hub_find(&w->c, hb->h.cfg.id);
		for (int s = 0; s < SIM_SKUS; s++) {
			int64_t hub_book = 0;
			const coord_stock *row = ci >= 0 ?
			    coord_stock_get(&w->c, ci, sim_sku_names[s], false) : NULL;
			int64_t coord_book = row != NULL ? row->row.on_hand : 0;
			if (hub_store_stock_get(hb->h.store, sim_sku_names[s], &hub_book) != 0) {
				return check_fail(w, "hub %s: stock unreadable", hb->h.cfg.id);
			}
			if (hub_book != hb->phys[s] || coord_book != hb->phys[s]) {
				return check_fail(w, "hub %s sku %s: %lld units in the building,"
				    " hub book %lld, coordinator book %lld", hb->h.cfg.id,
				    sim_sku_names[s], (long long)hb->phys[s], (long long)hub_book,
				    (long long)coord_book);
			}
		}
	}
	return true;
}

/* Every answered order in the journal with its first answer; every
 * accepted one shipped in full unless shorted. */
static bool check_final_orders(world *w, sqlite3_stmt *st)
{
	for (uint32_t k = 0; k < w->norders; k++) {
		sim_order *o = &w->orders[k];
		int status = 0;
		int64_t id = 0;
		bool in_journal = journal_get(st, o->key, &status, &id);
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
		uint32_t ordered = 0;
		for (uint32_t i = 0; i < o->nlines; i++) {
			ordered += o->qty[i];
		}
		if (in_journal && status == DROPNET__STATUS__ACCEPTED && !o->shorted &&
		    o->units_shipped != ordered) {
			return check_fail(w, "accepted order %s: %u of %u units shipped after"
			    " settling", o->key, o->units_shipped, ordered);
		}
	}
	return true;
}

bool check_final(world *w)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(w->c.db, "SELECT status, id FROM orders WHERE"
	    " storefront='shop' AND order_key=?1", -1, &st, NULL) != SQLITE_OK) {
		return check_fail(w, "journal lookup: %s", sqlite3_errmsg(w->c.db));
	}
	bool ok = check_final_orders(w, st);
	sqlite3_finalize(st);
	return ok && check_conservation(w);
}

/* check_memory_file's walk over the file. */
typedef struct {
	world *w;
	size_t n;
	bool ok;
} memfile;

static int memfile_stock(void *arg, const coord_store_stock_row *r)
{
	memfile *m = arg;
	coord *c = &m->w->c;
	int hi = coord_hub_find(c, r->hub);
	const coord_stock *s = hi >= 0 ? coord_stock_get(c, hi, r->sku, false) : NULL;
	m->n++;
	if (s == NULL || s->row.on_hand != r->on_hand || s->row.allocated != r->allocated ||
	    s->row.holdback != r->holdback || s->received != r->received ||
	    s->shipped != r->shipped || s->lost != r->lost || s->adjusted != r->adjusted ||
	    s->returned != r->returned || s->transfer_in != r->transfer_in ||
	    s->transfer_out != r->transfer_out) {
		m->ok = check_fail(m->w, "memory != file after a failed transaction: stock"
		    " hub=%s sku=%s file on_hand=%lld allocated=%lld holdback=%lld memory %s",
		    r->hub, r->sku, (long long)r->on_hand, (long long)r->allocated,
		    (long long)r->holdback, s == NULL ? "has no row" : "differs");
		return COORD_STORE_STOP;
	}
	return 0;
}

static int memfile_hub(void *arg, const coord_store_hub_row *r)
{
	memfile *m = arg;
	coord *c = &m->w->c;
	int i = coord_hub_find(c, r->id);
	const coord_hub *h = i >= 0 ? &c->hubs[i] : NULL;
	m->n++;
	if (h != NULL && h->seed_pending != r->seed_pending) {
		m->ok = check_fail(m->w, "memory != file after a failed transaction: hub %s"
		    " seed_pending %d in memory, %d in the file", r->id, (int)h->seed_pending,
		    (int)r->seed_pending);
		return COORD_STORE_STOP;
	}
	if (h == NULL || (size_t)i != m->n - 1 || strcmp(h->name, r->name) != 0 ||
	    strcmp(h->term_url, r->term_url) != 0 || h->lat != r->lat || h->lon != r->lon ||
	    h->radius_km != r->radius_km || h->cmd_seq != r->cmd_seq ||
	    h->cmd_acked != r->cmd_acked || h->event_applied != r->event_applied ||
	    h->incarnation != r->incarnation || h->cmd_offered != r->cmd_offered) {
		m->ok = check_fail(m->w, "memory != file after a failed transaction: hub %s"
		    " file cmd_seq=%llu event_applied=%llu memory %s", r->id,
		    (unsigned long long)r->cmd_seq, (unsigned long long)r->event_applied,
		    h == NULL ? "has no such hub" : "differs");
		return COORD_STORE_STOP;
	}
	return 0;
}

static int memfile_drop(void *arg, const coord_store_drop_row *r)
{
	memfile *m = arg;
	const coord_drop *d = coord_drop_find(&m->w->c, r->id);
	if (d == NULL) {
		return 0; /* closed and only in the file (COORD_DROPS_MAX) */
	}
	m->n++;
	if ((int)d->state != r->state || d->accepted != r->accepted || d->gifts != r->gifts) {
		m->ok = check_fail(m->w, "memory != file after a failed transaction: drop %s"
		    " file state=%d accepted=%llu memory state=%d accepted=%llu", r->id,
		    r->state, (unsigned long long)r->accepted, (int)d->state,
		    (unsigned long long)d->accepted);
		return COORD_STORE_STOP;
	}
	return 0;
}

static int memfile_tier(void *arg, const coord_store_tier_row *r)
{
	memfile *m = arg;
	const coord_drop *d = coord_drop_find(&m->w->c, r->drop_id);
	if (d == NULL || r->idx < 0 || (size_t)r->idx >= d->ntiers) {
		return 0;
	}
	if (d->tiers[r->idx].sold != r->sold || d->released[r->idx] != r->released) {
		m->ok = check_fail(m->w, "memory != file after a failed transaction: drop %s"
		    " tier %lld file sold=%u memory sold=%u", r->drop_id, (long long)r->idx,
		    r->sold, d->tiers[r->idx].sold);
		return COORD_STORE_STOP;
	}
	return 0;
}

bool check_memory_file(world *w)
{
	coord *c = &w->c;
	if (!w->coord_up || c->commit_failures == w->commit_failures_seen) {
		return true;
	}
	w->commit_failures_seen = c->commit_failures;
	/* A read the injected faults fail checks nothing (rv != 0). */
	memfile m = {w, 0, true};
	int rv = coord_store_stock_list(c->store, memfile_stock, &m);
	if (rv == 0 && m.ok && m.n != c->stock_len) {
		return check_fail(w, "memory != file after a failed transaction: %zu stock"
		    " rows in the file, %zu in memory", m.n, c->stock_len);
	}
	m.n = 0;
	rv = rv != 0 || !m.ok ? rv : coord_store_hubs_list(c->store, c->hubs_max, memfile_hub, &m);
	if (rv == 0 && m.ok && m.n != c->nhubs) {
		return check_fail(w, "memory != file after a failed transaction: %zu hubs"
		    " in the file, %zu in memory", m.n, c->nhubs);
	}
	m.n = 0;
	rv = rv != 0 || !m.ok ? rv : coord_store_drop_list(c->store, memfile_drop, &m);
	if (rv == 0 && m.ok && m.n != c->ndrops) {
		return check_fail(w, "memory != file after a failed transaction: %zu of the"
		    " file's drops in memory, %zu in memory", m.n, c->ndrops);
	}
	if (rv == 0 && m.ok) {
		(void)coord_store_drop_tier_list(c->store, NULL, memfile_tier, &m);
	}
	w->res->memfile_checks += rv == 0 && m.ok;
	return m.ok;
}
