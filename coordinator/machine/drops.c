/*
 * drops.c - drops as first-class objects (issue 3): loading them, the
 * holdback they put on their SKUs, releases at a tier's opening, lapsing
 * cart holds. The ops requests (create/open/close, show, manual releases,
 * KPIs) are in drops_ops.c. The rules themselves are pure
 * (common/core/drop.c); this file applies them to the ledger and the store.
 *
 * Holdback: for each drop SKU with holdback_pct > 0, the units that reach a
 * hub while the drop is not closed (plus what was on hand at creation) are
 * the basis; floor(basis * pct / 100) of them are held back as they arrive,
 * as far as sellable allows. Every hold (+) and release (-) is a row of
 * holdback_log with its reason, so audit can explain every held unit.
 * A SKU belongs to at most one drop that is not closed.
 *
 * Loop thread only, like the rest of the coordinator.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"
#include "drops.h"

/* Held orders lapsed per tick: bounds one transaction; the rest wait 250 ms. */
#define DROPS_LAPSE_BATCH 256

const Dropnet__DropSku *coord_drop_sku(const coord_drop *d, const char *sku)
{
	for (size_t i = 0; i < d->spec->n_skus; i++) {
		if (strcmp(d->spec->skus[i]->sku, sku) == 0) {
			return d->spec->skus[i];
		}
	}
	return NULL;
}

bool coord_drop_is_insider(const coord_drop *d, const char *customer)
{
	for (size_t i = 0; i < d->spec->n_insiders; i++) {
		if (strcmp(d->spec->insiders[i], customer) == 0) {
			return true;
		}
	}
	return false;
}

coord_drop *drops_active_for(coord *c, const char *sku)
{
	for (size_t i = 0; i < c->ndrops; i++) {
		if (c->drops[i].state != DROP_CLOSED && coord_drop_sku(&c->drops[i], sku)) {
			return &c->drops[i];
		}
	}
	return NULL;
}

/* Moves qty between sellable and holdback at (hub, sku) and logs it with
 * its reason: qty > 0 holds, qty < 0 releases. The caller bounds qty. */
static int drops_hold(coord *c, const coord_drop *d, int hub, const char *sku,
    int64_t qty, const char *reason, int64_t now)
{
	coord_stock *row = coord_stock_get(c, hub, sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	if (qty == 0) {
		return 0;
	}
	if (ledger_hold(&row->row, qty) != 0) {
		log_error("drops.hold_refused", "drop=%s hub=%s sku=%s qty=%lld", d->id,
		    c->hubs[hub].id, sku, (long long)qty);
		return DN_ESTATE;
	}
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	log_info(qty > 0 ? "holdback.held" : "holdback.released",
	    "drop=%s hub=%s sku=%s qty=%lld reason=%s", d->id, c->hubs[hub].id, sku,
	    (long long)(qty > 0 ? qty : -qty), reason);
	coord_store_holdback_log_row log = {d->id, c->hubs[hub].id, sku, qty, reason, now};
	return coord_store_holdback_log_add(c->store, &log);
}

int drops_hold_basis(coord *c, const coord_drop *d, const Dropnet__DropSku *ds,
    int hub, int64_t add_basis, int64_t now)
{
	int64_t basis = 0, held = 0;
	int rv = coord_store_holdback_get(c->store, d->id, c->hubs[hub].id, ds->sku, &basis,
	    &held);
	if (rv != 0) {
		return rv;
	}
	basis += add_basis;
	int64_t want = drop_holdback_units(basis, ds->holdback_pct) - held;
	coord_stock *row = coord_stock_get(c, hub, ds->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	int64_t can = ledger_sellable(&row->row);
	int64_t q = want < can ? want : can;
	if (q > 0) {
		rv = drops_hold(c, d, hub, ds->sku, q, "drop_holdback", now);
		if (rv != 0) {
			return rv;
		}
		held += q;
	}
	return coord_store_holdback_set(c->store, d->id, c->hubs[hub].id, ds->sku, basis,
	    held);
}

int coord_drops_on_receive(coord *c, int hub, const char *sku, int64_t qty, int64_t now)
{
	coord_drop *d = drops_active_for(c, sku);
	if (d == NULL) {
		return 0;
	}
	const Dropnet__DropSku *ds = coord_drop_sku(d, sku);
	if (ds->holdback_pct <= 0) {
		return 0;
	}
	return drops_hold_basis(c, d, ds, hub, qty, now);
}

int coord_drops_on_loss(coord *c, int hub, const char *sku, int64_t now)
{
	const coord_stock *row = coord_stock_get(c, hub, sku, false);
	if (row == NULL || row->row.holdback == 0) {
		return 0;
	}
	int64_t free = row->row.on_hand - row->row.allocated;
	int64_t excess = row->row.holdback - (free > 0 ? free : 0);
	/* Whichever drop's it is, a closed one's too (coord_holdback_adjust). */
	return excess > 0 ? coord_holdback_adjust(c, hub, sku, -excess, "lost", now) : 0;
}

int64_t drops_release(coord *c, const coord_drop *d, int hub, const char *sku,
    int64_t qty, const char *reason, int64_t now)
{
	int64_t done = 0;
	while (done < qty) {
		int best = hub;
		if (hub < 0) {
			int64_t most = 0;
			for (size_t h = 0; h < c->nhubs; h++) {
				coord_stock *s = coord_stock_get(c, (int)h, sku, false);
				if (s != NULL && s->row.holdback > most) {
					most = s->row.holdback;
					best = (int)h;
				}
			}
		}
		coord_stock *s = best >= 0 ? coord_stock_get(c, best, sku, false) : NULL;
		if (s == NULL || s->row.holdback == 0) {
			break;
		}
		int64_t q = qty - done < s->row.holdback ? qty - done : s->row.holdback;
		int rv = drops_hold(c, d, best, sku, -q, reason, now);
		if (rv != 0) {
			return rv;
		}
		done += q;
		if (hub >= 0) {
			break;
		}
	}
	return done;
}

/* coord_hold_lapse's walk over the order's held lines. */
typedef struct {
	coord *c;
	int64_t order_id;
	int64_t last_pid;             /* the placement last marked lapsed */
} drops_lapse;

/* Takes a held line's units off allocated, and marks its placement lapsed. */
static int drops_lapse_line(void *arg, const coord_store_hold_line *l)
{
	drops_lapse *lp = arg;
	coord *c = lp->c;
	int hub = coord_hub_find(c, l->hub);
	coord_stock *row = hub >= 0 ? coord_stock_get(c, hub, l->sku, false) : NULL;
	if (row == NULL || ledger_unallocate(&row->row, l->qty) != 0) {
		log_error("hold.unallocate_failed", "order=%lld sku=%s", (long long)lp->order_id,
		    l->sku);
		return DN_ESTATE;
	}
	int rv = coord_stock_save(c, row);
	if (rv == 0 && l->placement_id != lp->last_pid) {
		rv = coord_store_hold_placement_lapse(c->store, l->placement_id);
		lp->last_pid = l->placement_id;
	}
	return rv;
}

/* Gives an order line's units back to its tier and to the buyer's limit. */
static int drops_lapse_give_back(void *arg, const coord_store_hold_order_line *l)
{
	coord *c = arg;
	coord_drop *d = NULL;
	int rv = coord_drop_get(c, l->drop_id, &d);
	if (rv == DN_EIO) {
		return rv;
	}
	if (d == NULL) {
		return 0; /* not in a drop, or its spec is corrupt (logged) */
	}
	int t = drop_tier_find(d->tiers, d->ntiers, l->tier);
	rv = 0;
	if (t >= 0) {
		d->tiers[t].sold -= (uint32_t)l->qty;
		rv = coord_store_drop_tier_sold_add(c->store, d->id, t, -l->qty);
	}
	if (rv == 0) {
		rv = coord_store_drop_buyer_add(c->store, d->id, l->customer, l->sku, -l->qty);
	}
	return rv;
}

int coord_hold_lapse(coord *c, int64_t order_id, int64_t now, const char *why)
{
	drops_lapse lp = {c, order_id, -1};
	int rv = coord_store_hold_lines(c->store, order_id, drops_lapse_line, &lp);
	if (rv == 0) {
		rv = coord_store_hold_order_lines(c->store, order_id, drops_lapse_give_back, c);
	}
	if (rv == 0) {
		rv = coord_order_set_status(c, order_id, DROPNET__STATUS__EXPIRED,
		    strcmp(why, "released") == 0 ? "hold released; units returned to sale" :
		    "hold lapsed; units returned to sale");
	}
	if (rv == 0) {
		log_info("hold.lapsed", "order=%lld why=%s at_ms=%lld", (long long)order_id, why,
		    (long long)now);
	}
	return rv;
}

/* True when the tick has something to do, so idle ticks open no transaction:
 * a tier opening by the wall time now, a hold lapsed by the duration clock
 * now_e. */
static bool drops_tick_due(coord *c, int64_t now, int64_t now_e)
{
	for (size_t i = 0; i < c->ndrops; i++) {
		coord_drop *d = &c->drops[i];
		size_t due[DROP_TIERS_MAX];
		if (d->state == DROP_OPEN &&
		    drop_releases_due(d->tiers, d->ntiers, d->released, now, due) > 0) {
			return true;
		}
	}
	int64_t id;
	size_t n = 0;
	return coord_store_hold_expired(c->store, now_e, &id, 1, &n) == 0 && n > 0;
}

/* Releases the holdback of every drop tier that opened by now (the wall
 * time), once per tier. Inside the tick's transaction. */
static int drops_tick_releases(coord *c, int64_t now)
{
	int rv = 0;
	for (size_t i = 0; i < c->ndrops && rv == 0; i++) {
		coord_drop *d = &c->drops[i];
		size_t due[DROP_TIERS_MAX];
		size_t n = d->state == DROP_OPEN ?
		    drop_releases_due(d->tiers, d->ntiers, d->released, now, due) : 0;
		for (size_t k = 0; k < n && rv == 0; k++) {
			char reason[DN_ID_MAX + 16];
			snprintf(reason, sizeof(reason), "tier:%s", d->tiers[due[k]].name);
			for (size_t s = 0; s < d->spec->n_skus && rv == 0; s++) {
				int64_t r = drops_release(c, d, -1, d->spec->skus[s]->sku, INT64_MAX,
				    reason, now);
				rv = r < 0 ? (int)r : 0;
			}
			d->released[due[k]] = true;
			if (rv == 0) {
				rv = coord_store_drop_tier_released_set(c->store, d->id, due[k]);
			}
		}
	}
	return rv;
}

/* A tick's releases and lapses (coord_txn_run's apply). */
static int drops_tick_apply(coord *c, void *arg)
{
	(void)arg;
	int64_t now = coord_now_wall_ms(c);
	int64_t now_e = coord_now_elapsed_ms(c);
	int rv = drops_tick_releases(c, now);
	int64_t ids[DROPS_LAPSE_BATCH];
	size_t nids = 0;
	if (rv == 0) {
		rv = coord_store_hold_expired(c->store, now_e, ids, DROPS_LAPSE_BATCH, &nids);
	}
	for (size_t i = 0; i < nids && rv == 0; i++) {
		rv = coord_hold_lapse(c, ids[i], now, "lapsed");
	}
	return rv;
}

void coord_drops_tick(coord *c)
{
	if (!coord_ready(c) || !drops_tick_due(c, coord_now_wall_ms(c),
	    coord_now_elapsed_ms(c))) {
		return;
	}
	/* A failure is logged and undone by the runner; the next tick retries. */
	(void)coord_txn_run(c, "drops_tick", drops_tick_apply, NULL);
}

int coord_holdback_adjust(coord *c, int hub, const char *sku, int64_t delta,
    const char *reason, int64_t now)
{
	coord_drop *d = drops_active_for(c, sku);
	static const coord_drop none; /* no drop: read only */
	if (d == NULL) {
		/* Holdback only comes from drops; a closed drop's still counts. */
		for (size_t i = 0; i < c->ndrops && d == NULL; i++) {
			if (coord_drop_sku(&c->drops[i], sku) != NULL) {
				d = &c->drops[i];
			}
		}
	}
	return drops_hold(c, d != NULL ? d : &none, hub, sku, delta, reason, now);
}
