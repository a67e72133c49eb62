/*
 * drops.c - drops as first-class objects (issue 3): create/open/close, the
 * holdback they put on their SKUs, releases (manual and at a tier's
 * opening), lapsing cart holds, and the KPIs. The rules themselves are pure
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
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Insiders listed on one drop: a creator's inner circle, not a mailing list. */
#define DROPS_INSIDERS_MAX 10000u
/* A drop's display name: a title, not a document; the spec is stored. */
#define DROPS_NAME_MAX 128u
/* Held orders lapsed per tick: bounds one transaction; the rest wait 250 ms. */
#define DROPS_LAPSE_BATCH 256

void coord_drops_free(coord *c)
{
	for (size_t i = 0; i < c->ndrops; i++) {
		codec_drop_free(c->drops[i].spec);
	}
	c->ndrops = 0;
	codec_drop_free(c->drop_cold.spec);
	memset(&c->drop_cold, 0, sizeof(c->drop_cold));
}

static void drops_fill_tiers(coord_drop *d)
{
	d->ntiers = d->spec->n_tiers < DROP_TIERS_MAX ? d->spec->n_tiers : DROP_TIERS_MAX;
	for (size_t t = 0; t < d->ntiers; t++) {
		const Dropnet__Tier *s = d->spec->tiers[t];
		d->tiers[t] = (drop_tier){s->name, s->opens_ms, s->closes_ms, s->quota,
		    s->rollover, s->insiders_only, s->release_holdback, 0};
		d->released[t] = false;
	}
}

int coord_drops_load(coord *c)
{
	coord_drops_free(c);
	sqlite3_stmt *st = NULL;
	/* Drops that are not closed first, then the newest: those are the
	 * ones orders and ops can still name. */
	if (sqlite3_prepare_v2(c->db, "SELECT id, state, spec, accepted, gifts FROM drops"
	    " ORDER BY state = 2, created_ms DESC", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (c->ndrops == COORD_DROPS_MAX) {
			log_warn("drops.too_many", "max=%d", COORD_DROPS_MAX);
			break;
		}
		coord_drop *d = &c->drops[c->ndrops];
		memset(d, 0, sizeof(*d));
		if (codec_drop_unpack(sqlite3_column_blob(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2), &d->spec) != 0) {
			codec_drop_free(d->spec);
			log_error("drops.spec_corrupt", "drop=%s", db_col_text(st, 0));
			continue;
		}
		snprintf(d->id, sizeof(d->id), "%s", db_col_text(st, 0));
		d->state = (drop_state)sqlite3_column_int(st, 1);
		d->accepted = (uint64_t)sqlite3_column_int64(st, 3);
		d->gifts = (uint64_t)sqlite3_column_int64(st, 4);
		drops_fill_tiers(d);
		c->ndrops++;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(c->db, "SELECT drop_id, idx, sold, released FROM drop_tiers",
	    -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		coord_drop *d = coord_drop_find(c, db_col_text(st, 0));
		int idx = sqlite3_column_int(st, 1);
		if (d != NULL && idx >= 0 && (size_t)idx < d->ntiers) {
			d->tiers[idx].sold = (uint32_t)sqlite3_column_int64(st, 2);
			d->released[idx] = sqlite3_column_int(st, 3) != 0;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

coord_drop *coord_drop_find(coord *c, const char *id)
{
	for (size_t i = 0; i < c->ndrops; i++) {
		if (strcmp(c->drops[i].id, id) == 0) {
			return &c->drops[i];
		}
	}
	return NULL;
}

/* Reads drop id (row, spec and tiers) from the file into d. 0, DN_ENOENT,
 * DN_EPROTO (the spec does not decode) or DN_EIO. */
static int drops_read(coord *c, const char *id, coord_drop *d)
{
	sqlite3_stmt *st = NULL;
	memset(d, 0, sizeof(*d));
	if (sqlite3_prepare_v2(c->db, "SELECT state, spec, accepted, gifts FROM drops"
	    " WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	int rc = sqlite3_step(st);
	int rv = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? DN_ENOENT : DN_EIO;
	if (rv == 0 && codec_drop_unpack(sqlite3_column_blob(st, 1),
	    (size_t)sqlite3_column_bytes(st, 1), &d->spec) != 0) {
		log_error("drops.spec_corrupt", "drop=%s", id);
		rv = DN_EPROTO;
	}
	if (rv == 0) {
		snprintf(d->id, sizeof(d->id), "%s", id);
		d->state = (drop_state)sqlite3_column_int(st, 0);
		d->accepted = (uint64_t)sqlite3_column_int64(st, 2);
		d->gifts = (uint64_t)sqlite3_column_int64(st, 3);
		drops_fill_tiers(d);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rv == 0 && sqlite3_prepare_v2(c->db, "SELECT idx, sold, released FROM"
	    " drop_tiers WHERE drop_id=?1", -1, &st, NULL) != SQLITE_OK) {
		rv = DN_EIO;
	}
	if (rv == 0) {
		db_bind_text(st, 1, id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int idx = sqlite3_column_int(st, 0);
			if (idx >= 0 && (size_t)idx < d->ntiers) {
				d->tiers[idx].sold = (uint32_t)sqlite3_column_int64(st, 1);
				d->released[idx] = sqlite3_column_int(st, 2) != 0;
			}
		}
		rv = rc == SQLITE_DONE ? 0 : DN_EIO;
	}
	sqlite3_finalize(st);
	if (rv != 0) {
		codec_drop_free(d->spec);
		memset(d, 0, sizeof(*d));
	}
	return rv;
}

int coord_drop_get(coord *c, const char *id, coord_drop **out)
{
	*out = coord_drop_find(c, id);
	if (*out != NULL) {
		return 0;
	}
	if (c->drop_cold.spec != NULL && strcmp(c->drop_cold.id, id) == 0) {
		*out = &c->drop_cold;
		return 0;
	}
	coord_drop d;
	int rv = drops_read(c, id, &d);
	if (rv != 0) {
		return rv;
	}
	/* Only closed drops ever leave memory (drops_validate): a drop read
	 * back is closed, so nothing iterating the live drops misses it. */
	assert(d.state == DROP_CLOSED);
	codec_drop_free(c->drop_cold.spec);
	c->drop_cold = d;
	*out = &c->drop_cold;
	return 0;
}

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

/* The drop that is not closed and sells sku, or NULL. */
static coord_drop *drops_active_for(coord *c, const char *sku)
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
	sqlite3_stmt *st = c->store->hold_log;
	db_bind_text(st, 1, d->id);
	db_bind_text(st, 2, c->hubs[hub].id);
	db_bind_text(st, 3, sku);
	db_bind_i64(st, 4, qty);
	db_bind_text(st, 5, reason);
	db_bind_i64(st, 6, now);
	log_info(qty > 0 ? "holdback.held" : "holdback.released",
	    "drop=%s hub=%s sku=%s qty=%lld reason=%s", d->id, c->hubs[hub].id, sku,
	    (long long)(qty > 0 ? qty : -qty), reason);
	return store_step_done(st);
}

/* Adds basis units at (drop, hub, sku) and holds back up to the target. */
static int drops_hold_basis(coord *c, const coord_drop *d, const Dropnet__DropSku *ds,
    int hub, int64_t add_basis, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int64_t basis = 0, held = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT basis, held FROM drop_holdback WHERE"
	    " drop_id=?1 AND hub=?2 AND sku=?3", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, d->id);
	db_bind_text(st, 2, c->hubs[hub].id);
	db_bind_text(st, 3, ds->sku);
	if (sqlite3_step(st) == SQLITE_ROW) {
		basis = sqlite3_column_int64(st, 0);
		held = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	basis += add_basis;
	int64_t want = drop_holdback_units(basis, ds->holdback_pct) - held;
	coord_stock *row = coord_stock_get(c, hub, ds->sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	int64_t can = ledger_sellable(&row->row);
	int64_t q = want < can ? want : can;
	if (q > 0) {
		int rv = drops_hold(c, d, hub, ds->sku, q, "drop_holdback", now);
		if (rv != 0) {
			return rv;
		}
		held += q;
	}
	if (sqlite3_prepare_v2(c->db, "INSERT INTO drop_holdback(drop_id, hub, sku, basis,"
	    " held) VALUES(?1,?2,?3,?4,?5) ON CONFLICT(drop_id, hub, sku) DO UPDATE"
	    " SET basis=?4, held=?5", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, d->id);
	db_bind_text(st, 2, c->hubs[hub].id);
	db_bind_text(st, 3, ds->sku);
	db_bind_i64(st, 4, basis);
	db_bind_i64(st, 5, held);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
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

/* Releases up to qty of sku held back at hub (-1: the hubs holding most
 * first). Returns the units released, or a DN_E* code. */
static int64_t drops_release(coord *c, const coord_drop *d, int hub, const char *sku,
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

int coord_hold_lapse(coord *c, int64_t order_id, int64_t now, const char *why)
{
	store *s = c->store;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT p.id, p.hub, l.sku, l.qty, l.gift FROM"
	    " placements p JOIN placement_lines l ON l.placement_id = p.id WHERE"
	    " p.order_id=?1 AND p.state='held'", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, order_id);
	int rv = 0;
	int64_t last_pid = -1;
	while (rv == 0 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t pid = sqlite3_column_int64(st, 0);
		int hub = coord_hub_find(c, db_col_text(st, 1));
		coord_stock *row = hub >= 0 ? coord_stock_get(c, hub, db_col_text(st, 2), false) : NULL;
		if (row == NULL || ledger_unallocate(&row->row, sqlite3_column_int64(st, 3)) != 0) {
			log_error("hold.unallocate_failed", "order=%lld sku=%s", (long long)order_id,
			    db_col_text(st, 2));
			rv = DN_ESTATE;
			break;
		}
		rv = coord_stock_save(c, row);
		if (rv == 0 && pid != last_pid) {
			db_bind_i64(s->placement_state, 1, pid);
			db_bind_text(s->placement_state, 2, "lapsed");
			rv = store_step_done(s->placement_state);
			last_pid = pid;
		}
	}
	sqlite3_finalize(st);
	if (rv != 0) {
		return rv;
	}
	/* Give the units back to the tier and to the buyer's limit. */
	if (sqlite3_prepare_v2(c->db, "SELECT o.drop_id, o.tier, o.customer, l.sku, l.qty"
	    " FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id=?1", -1,
	    &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, order_id);
	while (rv == 0 && sqlite3_step(st) == SQLITE_ROW) {
		coord_drop *d = NULL;
		int grv = coord_drop_get(c, db_col_text(st, 0), &d);
		if (grv == DN_EIO) {
			rv = grv;
			break;
		}
		if (d == NULL) {
			continue; /* not in a drop, or its spec is corrupt (logged) */
		}
		int t = drop_tier_find(d->tiers, d->ntiers, db_col_text(st, 1));
		int64_t q = sqlite3_column_int64(st, 4);
		if (t >= 0) {
			d->tiers[t].sold -= (uint32_t)q;
			db_bind_text(s->tier_sold, 1, d->id);
			db_bind_i64(s->tier_sold, 2, t);
			db_bind_i64(s->tier_sold, 3, -q);
			rv = store_step_done(s->tier_sold);
		}
		if (rv == 0) {
			db_bind_text(s->buyer_add, 1, d->id);
			db_bind_text(s->buyer_add, 2, db_col_text(st, 2));
			db_bind_text(s->buyer_add, 3, db_col_text(st, 3));
			db_bind_i64(s->buyer_add, 4, -q);
			rv = store_step_done(s->buyer_add);
		}
	}
	sqlite3_finalize(st);
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
	sqlite3_stmt *st = NULL;
	bool any = false;
	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM orders WHERE status = 16 AND"
	    " hold_expires_ms <= ?1 LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		db_bind_i64(st, 1, now_e);
		any = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return any;
}

void coord_drops_tick(coord *c)
{
	int64_t now = coord_now_wall_ms(c);
	int64_t now_e = coord_now_elapsed_ms(c);
	if (!coord_ready(c) || !drops_tick_due(c, now, now_e) || db_begin(c->db) != 0) {
		return;
	}
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
			sqlite3_stmt *st = NULL;
			if (rv == 0 && sqlite3_prepare_v2(c->db, "UPDATE drop_tiers SET released=1"
			    " WHERE drop_id=?1 AND idx=?2", -1, &st, NULL) == SQLITE_OK) {
				db_bind_text(st, 1, d->id);
				db_bind_i64(st, 2, (int64_t)due[k]);
				rv = sqlite3_step(st) == SQLITE_DONE ? 0 : DN_EIO;
			}
			sqlite3_finalize(st);
		}
	}
	sqlite3_stmt *st = NULL;
	int64_t ids[DROPS_LAPSE_BATCH];
	size_t nids = 0;
	if (rv == 0 && sqlite3_prepare_v2(c->db, "SELECT id FROM orders WHERE status = 16"
	    " AND hold_expires_ms <= ?1 ORDER BY hold_expires_ms LIMIT ?2", -1, &st,
	    NULL) == SQLITE_OK) {
		db_bind_i64(st, 1, now_e);
		db_bind_i64(st, 2, DROPS_LAPSE_BATCH);
		while (nids < DROPS_LAPSE_BATCH && sqlite3_step(st) == SQLITE_ROW) {
			ids[nids++] = sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < nids && rv == 0; i++) {
		rv = coord_hold_lapse(c, ids[i], now, "lapsed");
	}
	if (rv == 0) {
		rv = coord_clock_save(c);
	}
	rv = rv == 0 ? db_commit(c->db) : (db_rollback(c->db), rv);
	if (rv != 0) {
		c->commit_failures++;
		log_error("drops.tick_failed", "err=%s", dn_strerror(rv));
		coord_reload(c);
	}
}

/* ---- ops ------------------------------------------------------------- */


static void drops_answer(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = st;
	rep.message = (char *)msg;
	coord_ops_send(r, &rep);
}

/* Checks a drop spec; writes the reason into why. */
static int drops_validate(coord *c, const Dropnet__Drop *d, char *why, size_t len)
{
	if (!validate_id(d->id)) {
		snprintf(why, len, "id must be 1..64 printable characters");
		return DN_EINVAL;
	}
	/* The file, not memory, says which ids exist: an old closed drop may
	 * be only there. */
	coord_drop *old = NULL;
	int grv = coord_drop_get(c, d->id, &old);
	if (grv == DN_EIO) {
		snprintf(why, len, "storage failed");
		return DN_EIO;
	}
	if (grv != DN_ENOENT) {
		snprintf(why, len, "drop %s already exists", d->id);
		return DN_EEXIST;
	}
	/* The spec is journalled as sent: every string in it is bounded. */
	if (strnlen(d->name, DROPS_NAME_MAX + 1) > DROPS_NAME_MAX) {
		snprintf(why, len, "name: at most %u bytes", DROPS_NAME_MAX);
		return DN_EINVAL;
	}
	if (strnlen(d->state, DN_ID_MAX + 1) > DN_ID_MAX) {
		snprintf(why, len, "state is set by the coordinator");
		return DN_EINVAL;
	}
	if (d->n_skus == 0 || d->n_skus > DROP_SKUS_MAX) {
		snprintf(why, len, "a drop has 1..%u SKUs", DROP_SKUS_MAX);
		return DN_EINVAL;
	}
	for (size_t i = 0; i < d->n_skus; i++) {
		const Dropnet__DropSku *s = d->skus[i];
		if (!validate_id(s->sku) || s->units == 0 || s->units > 10000000 ||
		    !(s->holdback_pct >= 0 && s->holdback_pct <= 100)) {
			snprintf(why, len, "skus[%zu]: sku id, units 1..10000000, holdback_pct 0..100", i);
			return DN_EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(d->skus[j]->sku, s->sku) == 0) {
				snprintf(why, len, "skus[%zu]: %s listed twice", i, s->sku);
				return DN_EINVAL;
			}
		}
		if (drops_active_for(c, s->sku) != NULL) {
			snprintf(why, len, "sku %s is already in drop %s", s->sku,
			    drops_active_for(c, s->sku)->id);
			return DN_EINVAL;
		}
		if (s->n_placement > DN_HUBS_MAX) {
			snprintf(why, len, "skus[%zu]: at most %u placements", i, DN_HUBS_MAX);
			return DN_EINVAL;
		}
		uint64_t sum = 0;
		for (size_t p = 0; p < s->n_placement; p++) {
			if (coord_hub_find(c, s->placement[p]->hub) < 0) {
				snprintf(why, len, "skus[%zu]: unknown hub %s", i, s->placement[p]->hub);
				return DN_EINVAL;
			}
			sum += s->placement[p]->units;
		}
		if (s->n_placement > 0 && sum != s->units) {
			snprintf(why, len, "skus[%zu]: placement sums to %llu, units are %u", i,
			    (unsigned long long)sum, s->units);
			return DN_EINVAL;
		}
	}
	if (d->n_tiers == 0 || d->n_tiers > DROP_TIERS_MAX) {
		snprintf(why, len, "a drop has 1..%u tiers", DROP_TIERS_MAX);
		return DN_EINVAL;
	}
	for (size_t i = 0; i < d->n_tiers; i++) {
		const Dropnet__Tier *t = d->tiers[i];
		if (!validate_id(t->name) || t->opens_ms <= 0 || t->closes_ms <= t->opens_ms) {
			snprintf(why, len, "tiers[%zu]: name id, 0 < opens < closes", i);
			return DN_EINVAL;
		}
		if (i > 0 && t->opens_ms < d->tiers[i - 1]->opens_ms) {
			snprintf(why, len, "tiers[%zu]: tiers must be in window order", i);
			return DN_EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(d->tiers[j]->name, t->name) == 0) {
				snprintf(why, len, "tiers[%zu]: %s listed twice", i, t->name);
				return DN_EINVAL;
			}
		}
	}
	if (d->gift != NULL && d->gift->kind != DROPNET__GIFT_KIND__GIFT_NONE) {
		if (!validate_id(d->gift->sku) || d->gift->kind > DROPNET__GIFT_KIND__GIFT_MIN_QTY ||
		    (d->gift->kind != DROPNET__GIFT_KIND__GIFT_FIRST_ORDER && d->gift->n == 0)) {
			snprintf(why, len, "gift: sku id, kind, and n > 0 for every_nth/min_qty");
			return DN_EINVAL;
		}
		for (size_t i = 0; i < d->n_skus; i++) {
			if (strcmp(d->skus[i]->sku, d->gift->sku) == 0) {
				snprintf(why, len, "gift: the gift cannot be a drop SKU");
				return DN_EINVAL;
			}
		}
	}
	if (d->n_insiders > DROPS_INSIDERS_MAX) {
		snprintf(why, len, "at most %u insiders", DROPS_INSIDERS_MAX);
		return DN_EINVAL;
	}
	for (size_t i = 0; i < d->n_insiders; i++) {
		if (!validate_id(d->insiders[i])) {
			snprintf(why, len, "insiders[%zu]: not a customer id", i);
			return DN_EINVAL;
		}
	}
	/* Last, once the spec is known to be good. */
	if (c->ndrops == COORD_DROPS_MAX) {
		/* Make room by forgetting (in memory only) the oldest closed drop. */
		size_t oldest = COORD_DROPS_MAX;
		for (size_t i = 0; i < c->ndrops; i++) {
			if (c->drops[i].state == DROP_CLOSED && (oldest == COORD_DROPS_MAX ||
			    c->drops[i].spec->created_ms < c->drops[oldest].spec->created_ms)) {
				oldest = i;
			}
		}
		if (oldest == COORD_DROPS_MAX) {
			snprintf(why, len, "%d drops are open or in draft; close one first",
			    COORD_DROPS_MAX);
			return DN_EFULL;
		}
		codec_drop_free(c->drops[oldest].spec);
		c->drops[oldest] = c->drops[--c->ndrops];
	}
	return 0;
}

/* Fills placement from each hub's share of past demand (orders by nearest
 * hub in range), largest remainder; equal shares when there is no history. */
static int drops_proportional(coord *c, Dropnet__DropSku *s, Dropnet__HubUnits *hu,
    Dropnet__HubUnits **hup)
{
	uint64_t demand[DN_HUBS_MAX] = {0}, total = 0;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT nearest_hub, COUNT(*) FROM orders WHERE"
	    " nearest_hub <> '' GROUP BY nearest_hub", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int h = coord_hub_find(c, db_col_text(st, 0));
		if (h >= 0) {
			demand[h] = (uint64_t)sqlite3_column_int64(st, 1);
			total += demand[h];
		}
	}
	sqlite3_finalize(st);
	if (c->nhubs == 0) {
		return DN_ESTATE;
	}
	uint32_t given = 0;
	double rem[DN_HUBS_MAX];
	for (size_t h = 0; h < c->nhubs; h++) {
		double share = total > 0 ? (double)demand[h] / (double)total : 1.0 / (double)c->nhubs;
		double exact = share * s->units;
		dropnet__hub_units__init(&hu[h]);
		hu[h].hub = c->hubs[h].id;
		hu[h].units = (uint32_t)exact;
		rem[h] = exact - hu[h].units;
		given += hu[h].units;
		hup[h] = &hu[h];
	}
	while (given < s->units) {
		size_t best = 0;
		for (size_t h = 1; h < c->nhubs; h++) {
			if (rem[h] > rem[best]) {
				best = h;
			}
		}
		hu[best].units++;
		rem[best] = -1;
		given++;
	}
	s->n_placement = c->nhubs;
	s->placement = hup;
	return 0;
}

static void drops_create(coord *c, Dropnet__Drop *spec, mreq *r)
{
	char why[200];
	if (spec == NULL) {
		drops_answer(r, DROPNET__STATUS__INVALID, "missing drop");
		return;
	}
	int vrv = drops_validate(c, spec, why, sizeof(why));
	if (vrv == DN_EIO) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	if (vrv != 0) {
		log_info("drop.invalid", "drop=%.64s why=\"%s\"", spec->id, why);
		drops_answer(r, DROPNET__STATUS__INVALID, why);
		return;
	}
	static Dropnet__HubUnits hu[DROP_SKUS_MAX][DN_HUBS_MAX];
	static Dropnet__HubUnits *hup[DROP_SKUS_MAX][DN_HUBS_MAX];
	bool placed = true;
	for (size_t i = 0; placed && i < spec->n_skus; i++) {
		if (spec->skus[i]->placement_proportional && spec->skus[i]->n_placement == 0 &&
		    drops_proportional(c, spec->skus[i], hu[i], hup[i]) != 0) {
			placed = false;
		}
	}
	int64_t now = coord_now_wall_ms(c);
	spec->created_ms = now;
	uint8_t *buf = NULL;
	size_t len = 0;
	int prv = placed ? codec_drop_pack(spec, &buf, &len) : DN_ESTATE;
	/* The request owns spec and frees it with protobuf-c: take the static
	 * proportional placements back out before it does. */
	for (size_t i = 0; i < spec->n_skus; i++) {
		if (spec->skus[i]->n_placement > 0 && spec->skus[i]->placement == hup[i]) {
			spec->skus[i]->n_placement = 0;
			spec->skus[i]->placement = NULL;
		}
	}
	if (!placed) {
		drops_answer(r, DROPNET__STATUS__CONFLICT, "no hubs to place units at");
		return;
	}
	if (prv != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
	int rv = db_begin(c->db);
	sqlite3_stmt *st = NULL;
	if (rv == 0 && sqlite3_prepare_v2(c->db, "INSERT INTO drops(id, state, created_ms,"
	    " spec) VALUES(?1, 0, ?2, ?3)", -1, &st, NULL) == SQLITE_OK) {
		db_bind_text(st, 1, spec->id);
		db_bind_i64(st, 2, now);
		sqlite3_bind_blob(st, 3, buf, (int)len, SQLITE_TRANSIENT);
		rv = sqlite3_step(st) == SQLITE_DONE ? 0 : DN_EIO;
	}
	sqlite3_finalize(st);
	for (size_t t = 0; rv == 0 && t < spec->n_tiers; t++) {
		if (sqlite3_prepare_v2(c->db, "INSERT INTO drop_tiers(drop_id, idx) VALUES(?1,?2)",
		    -1, &st, NULL) != SQLITE_OK) {
			rv = DN_EIO;
			break;
		}
		db_bind_text(st, 1, spec->id);
		db_bind_i64(st, 2, (int64_t)t);
		rv = sqlite3_step(st) == SQLITE_DONE ? 0 : DN_EIO;
		sqlite3_finalize(st);
	}
	/* Register in memory, then hold back what is already on hand. */
	if (rv == 0) {
		coord_drop *d = &c->drops[c->ndrops];
		memset(d, 0, sizeof(*d));
		uint8_t *b2 = buf;
		buf = NULL;
		if (b2 == NULL || codec_drop_unpack(b2, len, &d->spec) != 0) {
			rv = DN_ENOMEM;
		} else {
			snprintf(d->id, sizeof(d->id), "%s", spec->id);
			d->state = DROP_DRAFT;
			drops_fill_tiers(d);
			c->ndrops++;
			for (size_t i = 0; rv == 0 && i < d->spec->n_skus; i++) {
				const Dropnet__DropSku *ds = d->spec->skus[i];
				for (size_t h = 0; rv == 0 && ds->holdback_pct > 0 && h < c->nhubs; h++) {
					coord_stock *s = coord_stock_get(c, (int)h, ds->sku, false);
					if (s != NULL && s->row.on_hand > 0) {
						rv = drops_hold_basis(c, d, ds, (int)h, s->row.on_hand, now);
					}
				}
			}
		}
		free(b2);
	}
	free(buf); /* NULL when the in-memory copy took it */
	rv = rv == 0 ? db_commit(c->db) : (db_rollback(c->db), rv);
	if (rv != 0) {
		c->commit_failures++;
		coord_reload(c);
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	log_info("drop.created", "drop=%s skus=%zu tiers=%zu", spec->id, spec->n_skus,
	    spec->n_tiers);
	drops_answer(r, DROPNET__STATUS__OK, "drop created (draft)");
}

/* The drop an ops request names, from memory or the file; answers
 * NOT_FOUND or UNAVAILABLE itself and returns non-zero when there is none. */
static int drops_lookup(coord *c, const char *id, mreq *r, coord_drop **d)
{
	int rv = coord_drop_get(c, id, d);
	if (rv == DN_ENOENT) {
		drops_answer(r, DROPNET__STATUS__NOT_FOUND, "no such drop");
	} else if (rv != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, rv == DN_EIO ?
		    "storage failed" : "the drop's stored spec is corrupt");
	}
	return rv;
}

static void drops_set_state(coord *c, const char *id, drop_state to, mreq *r)
{
	coord_drop *d = NULL;
	if (drops_lookup(c, id, r, &d) != 0) {
		return;
	}
	if (d->state == DROP_CLOSED || d->state == to) {
		drops_answer(r, DROPNET__STATUS__CONFLICT, d->state == to ?
		    "drop is already in that state" : "a closed drop stays closed");
		return;
	}
	sqlite3_stmt *st = NULL;
	int rv = DN_EIO;
	if (sqlite3_prepare_v2(c->db, "UPDATE drops SET state=?2 WHERE id=?1", -1, &st,
	    NULL) == SQLITE_OK) {
		db_bind_text(st, 1, id);
		db_bind_i64(st, 2, to);
		rv = sqlite3_step(st) == SQLITE_DONE ? 0 : DN_EIO;
	}
	sqlite3_finalize(st);
	if (rv != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	d->state = to;
	log_info(to == DROP_OPEN ? "drop.opened" : "drop.closed", "drop=%s", id);
	coord_drops_tick(c);
	drops_answer(r, DROPNET__STATUS__OK, to == DROP_OPEN ? "drop open" : "drop closed");
}

static const char *drops_state_name(drop_state s)
{
	return s == DROP_DRAFT ? "draft" : s == DROP_OPEN ? "open" : "closed";
}

/* Fills a reply copy of d (shallow: points into d->spec) with live figures. */
static void drops_view(coord *c, coord_drop *d, Dropnet__Drop *v, Dropnet__Tier *tv,
    Dropnet__Tier **tvp, int64_t now)
{
	*v = *d->spec;
	v->state = (char *)drops_state_name(d->state);
	v->accepted_orders = (uint32_t)d->accepted;
	v->gifts_given = (uint32_t)d->gifts;
	for (size_t t = 0; t < d->ntiers; t++) {
		tv[t] = *d->spec->tiers[t];
		tv[t].sold = d->tiers[t].sold;
		uint32_t q = drop_tier_quota(d->tiers, d->ntiers, t, now);
		tv[t].quota_effective = q == UINT32_MAX ? 0 : q;
		tvp[t] = &tv[t];
	}
	v->n_tiers = d->ntiers;
	v->tiers = tvp;
	v->held_back = 0;
	for (size_t i = 0; i < d->spec->n_skus; i++) {
		for (size_t h = 0; h < c->nhubs; h++) {
			coord_stock *s = coord_stock_get(c, (int)h, d->spec->skus[i]->sku, false);
			v->held_back += s != NULL ? s->row.holdback : 0;
		}
	}
	sqlite3_stmt *st = NULL;
	v->released = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(-SUM(qty), 0) FROM holdback_log"
	    " WHERE drop_id=?1 AND qty < 0", -1, &st, NULL) == SQLITE_OK) {
		db_bind_text(st, 1, d->id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			v->released = sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_finalize(st);
}

static void drops_show(coord *c, const Dropnet__OpsRequest *q, mreq *r, bool all)
{
	static Dropnet__Drop views[COORD_DROPS_MAX];
	static Dropnet__Drop *vp[COORD_DROPS_MAX];
	static Dropnet__Tier tv[COORD_DROPS_MAX][DROP_TIERS_MAX];
	static Dropnet__Tier *tvp[COORD_DROPS_MAX][DROP_TIERS_MAX];
	int64_t now = coord_now_wall_ms(c);
	size_t n = 0;
	coord_drop *one = NULL;
	if (!all && drops_lookup(c, q->drop_id, r, &one) != 0) {
		return;
	}
	/* The list is what memory holds: every drop not closed and the newest
	 * closed ones; one drop is shown from the file too. */
	for (size_t i = 0; i < (all ? c->ndrops : 1); i++) {
		coord_drop *d = all ? &c->drops[i] : one;
		drops_view(c, d, &views[n], tv[n], tvp[n], now);
		vp[n] = &views[n];
		n++;
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.n_drops = n;
	rep.drops = vp;
	rep.clock_ms = now;
	coord_ops_send(r, &rep);
}

static void drops_release_op(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = NULL;
	if (drops_lookup(c, q->drop_id, r, &d) != 0) {
		return;
	}
	if (coord_drop_sku(d, q->sku) == NULL || q->qty <= 0) {
		drops_answer(r, DROPNET__STATUS__INVALID, "sku must be in the drop and qty > 0");
		return;
	}
	int hub = -1;
	if (q->hub[0]) {
		hub = coord_hub_find(c, q->hub);
		if (hub < 0) {
			drops_answer(r, DROPNET__STATUS__NOT_FOUND, "no such hub");
			return;
		}
	}
	int64_t held = 0;
	for (size_t h = 0; h < c->nhubs; h++) {
		coord_stock *s = coord_stock_get(c, (int)h, q->sku, false);
		if (s != NULL && (hub < 0 || (int)h == hub)) {
			held += s->row.holdback;
		}
	}
	char msg[160];
	if (held < q->qty) {
		snprintf(msg, sizeof(msg), "only %lld held back", (long long)held);
		drops_answer(r, DROPNET__STATUS__CONFLICT, msg);
		return;
	}
	int64_t now = coord_now_wall_ms(c);
	int rv = db_begin(c->db);
	int64_t done = rv == 0 ? drops_release(c, d, hub, q->sku, q->qty, "manual", now) : rv;
	rv = done < 0 ? (int)done : 0;
	rv = rv == 0 ? db_commit(c->db) : (db_rollback(c->db), rv);
	if (rv != 0) {
		c->commit_failures++;
		coord_reload(c);
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	snprintf(msg, sizeof(msg), "released %lld", (long long)done);
	drops_answer(r, DROPNET__STATUS__OK, msg);
}

static int64_t drops_pct(int64_t *v, size_t n, double p)
{
	if (n == 0) {
		return 0;
	}
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double drops_one_double(coord *c, const char *sql, const char *id)
{
	sqlite3_stmt *st = NULL;
	double v = 0;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
		db_bind_text(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			v = sqlite3_column_double(st, 0);
		}
	}
	sqlite3_finalize(st);
	return v;
}

/* Largest KPI lists: a drop's minutes, hubs, reasons. */
#define KPI_MINUTES_MAX 2880
#define KPI_FULFIL_MAX 200000

static void drops_kpi(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = NULL;
	if (drops_lookup(c, q->drop_id, r, &d) != 0) {
		return;
	}
	Dropnet__DropKpi k = DROPNET__DROP_KPI__INIT;
	k.drop_id = d->id;
	static Dropnet__MinuteCount mc[KPI_MINUTES_MAX];
	static Dropnet__MinuteCount *mcp[KPI_MINUTES_MAX];
	sqlite3_stmt *st = NULL;
	sqlite3_prepare_v2(c->db, "SELECT received_ms / 60000 * 60000, SUM(units) FROM orders"
	    " WHERE drop_id=?1 AND status=1 GROUP BY 1 ORDER BY 1", -1, &st, NULL);
	db_bind_text(st, 1, d->id);
	while (k.n_sell_through < KPI_MINUTES_MAX && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = k.n_sell_through++;
		dropnet__minute_count__init(&mc[i]);
		mc[i].minute_ms = sqlite3_column_int64(st, 0);
		mc[i].units = (uint32_t)sqlite3_column_int64(st, 1);
		mcp[i] = &mc[i];
	}
	k.sell_through = mcp;
	sqlite3_finalize(st);
	/* Fill: of the orders that passed the drop's rules and had a hub in
	 * range, how many were filled - per nearest hub and overall. */
	static Dropnet__HubFill hf[DN_HUBS_MAX];
	static Dropnet__HubFill *hfp[DN_HUBS_MAX];
	static char hubnames[DN_HUBS_MAX][DN_ID_MAX + 1];
	uint64_t in_range = 0, filled = 0;
	sqlite3_prepare_v2(c->db, "SELECT nearest_hub, COUNT(*), SUM(status=1),"
	    " SUM(status=1 AND hub=nearest_hub) FROM orders WHERE drop_id=?1 AND"
	    " nearest_hub <> '' AND status IN (1, 2) GROUP BY nearest_hub ORDER BY 1", -1,
	    &st, NULL);
	db_bind_text(st, 1, d->id);
	while (k.n_fill < DN_HUBS_MAX && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = k.n_fill++;
		dropnet__hub_fill__init(&hf[i]);
		snprintf(hubnames[i], sizeof(hubnames[i]), "%s", db_col_text(st, 0));
		hf[i].hub = hubnames[i];
		hf[i].orders = (uint32_t)sqlite3_column_int64(st, 1);
		hf[i].filled = (uint32_t)sqlite3_column_int64(st, 2);
		hf[i].filled_here = (uint32_t)sqlite3_column_int64(st, 3);
		in_range += hf[i].orders;
		filled += hf[i].filled;
		hfp[i] = &hf[i];
	}
	k.fill = hfp;
	sqlite3_finalize(st);
	k.fill_within_radius = in_range > 0 ? (double)filled / (double)in_range : 0;
	/* Time to fulfil, accept -> ship, per shipped placement. */
	static int64_t times[KPI_FULFIL_MAX];
	size_t nt = 0;
	sqlite3_prepare_v2(c->db, "SELECT p.shipped_ms - o.received_ms FROM placements p"
	    " JOIN orders o ON o.id = p.order_id WHERE o.drop_id=?1 AND p.state='shipped'"
	    " ORDER BY 1", -1, &st, NULL);
	db_bind_text(st, 1, d->id);
	while (nt < KPI_FULFIL_MAX && sqlite3_step(st) == SQLITE_ROW) {
		times[nt++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	k.shipped_orders = (uint32_t)nt;
	k.fulfil_p50_ms = drops_pct(times, nt, 0.5);
	k.fulfil_p90_ms = drops_pct(times, nt, 0.9);
	/* Buyers acquired by this drop, and whether they came back. */
	k.buyers_acquired = (uint32_t)drops_one_double(c,
	    "SELECT COUNT(*) FROM customers WHERE first_drop=?1", d->id);
	k.repeat_rate = drops_one_double(c, "SELECT COALESCE(AVG(orders > 1), 0) FROM"
	    " customers WHERE first_drop=?1", d->id);
	k.gift_buyers = (uint32_t)drops_one_double(c,
	    "SELECT COUNT(*) FROM customers WHERE first_drop=?1 AND gifted=1", d->id);
	k.gift_repeat_rate = drops_one_double(c, "SELECT COALESCE(AVG(orders > 1), 0) FROM"
	    " customers WHERE first_drop=?1 AND gifted=1", d->id);
	k.nongift_first_buyers = (uint32_t)drops_one_double(c,
	    "SELECT COUNT(*) FROM customers WHERE first_drop=?1 AND gifted=0", d->id);
	k.nongift_repeat_rate = drops_one_double(c, "SELECT COALESCE(AVG(orders > 1), 0)"
	    " FROM customers WHERE first_drop=?1 AND gifted=0", d->id);
	static Dropnet__ReasonCount rc[32];
	static Dropnet__ReasonCount *rcp[32];
	sqlite3_prepare_v2(c->db, "SELECT status, COUNT(*) FROM orders WHERE drop_id=?1"
	    " AND status NOT IN (1, 16) GROUP BY status ORDER BY 2 DESC", -1, &st, NULL);
	db_bind_text(st, 1, d->id);
	while (k.n_rejections < 32 && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = k.n_rejections++;
		dropnet__reason_count__init(&rc[i]);
		rc[i].reason = (char *)codec_status_name((Dropnet__Status)sqlite3_column_int(st, 0));
		rc[i].orders = (uint32_t)sqlite3_column_int64(st, 1);
		rcp[i] = &rc[i];
	}
	k.rejections = rcp;
	sqlite3_finalize(st);
	k.held_back = (int64_t)drops_one_double(c, "SELECT COALESCE(SUM(qty), 0) FROM"
	    " holdback_log WHERE drop_id=?1 AND qty > 0", d->id);
	k.released = (int64_t)drops_one_double(c, "SELECT COALESCE(-SUM(qty), 0) FROM"
	    " holdback_log WHERE drop_id=?1 AND qty < 0", d->id);
	k.accepted_orders = (uint32_t)drops_one_double(c, "SELECT COUNT(*) FROM orders"
	    " WHERE drop_id=?1 AND status=1", d->id);
	k.accepted_units = (uint32_t)drops_one_double(c, "SELECT COALESCE(SUM(units), 0)"
	    " FROM orders WHERE drop_id=?1 AND status=1", d->id);
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.kpi = &k;
	rep.clock_ms = coord_now_wall_ms(c);
	coord_ops_send(r, &rep);
}

static void drops_clock(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	if (q->clock_ms != 0) {
		if (!c->cfg.test_clock) {
			drops_answer(r, DROPNET__STATUS__CONFLICT,
			    "the clock moves only with coordinator.test_clock = 1");
			return;
		}
		coord_clock_move(c, q->clock_ms);
		log_info("clock.set", "clock_ms=%lld offset_ms=%lld", (long long)q->clock_ms,
		    (long long)c->clock_offset_ms);
		coord_drops_tick(c);
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.clock_ms = coord_now_wall_ms(c);
	coord_ops_send(r, &rep);
}

void coord_ops_drops(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	switch (q->kind) {
	case DROPNET__OPS_KIND__OPS_DROP_CREATE: drops_create(c, q->drop, r); break;
	case DROPNET__OPS_KIND__OPS_DROP_SHOW: drops_show(c, q, r, false); break;
	case DROPNET__OPS_KIND__OPS_DROP_LIST: drops_show(c, q, r, true); break;
	case DROPNET__OPS_KIND__OPS_DROP_OPEN: drops_set_state(c, q->drop_id, DROP_OPEN, r); break;
	case DROPNET__OPS_KIND__OPS_DROP_CLOSE: drops_set_state(c, q->drop_id, DROP_CLOSED, r); break;
	case DROPNET__OPS_KIND__OPS_HOLDBACK_RELEASE: drops_release_op(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_KPI: drops_kpi(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_CLOCK: drops_clock(c, q, r); break;
	default: drops_answer(r, DROPNET__STATUS__INVALID, "unknown ops kind"); break;
	}
}

int coord_holdback_adjust(coord *c, int hub, const char *sku, int64_t delta,
    const char *reason, int64_t now)
{
	coord_drop *d = drops_active_for(c, sku);
	static coord_drop none;
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
