/*
 * drops_ops.c - the ops requests about drops (coord_ops_drops): create
 * (validated, placed, written with the holdback of what is on hand), open
 * and close, show and list, manual holdback releases, the KPIs and the test
 * clock. The life of a drop (load, holdback, tier releases, holds) is in
 * drops.c; this file calls it, never the other way round.
 *
 * Loop thread only, like the rest of the coordinator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"
#include "drops.h"

/* Insiders listed on one drop: a creator's inner circle, not a mailing list. */
#define DROPS_INSIDERS_MAX 10000u
/* A drop's display name: a title, not a document; the spec is stored. */
#define DROPS_NAME_MAX 128u

static void drops_answer(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = st;
	rep.message = (char *)msg;
	coord_ops_send(r, &rep);
}

/* drops_validate's parts: each checks one part of a drop spec, and writes
 * the reason into why when it is refused. */

/* The id, new (the file, not memory, says which ids exist: an old closed
 * drop may be only there), and the spec's bounded strings. */
static int drops_validate_id(coord *c, const Dropnet__Drop *d, char *why, size_t len)
{
	if (!validate_id(d->id)) {
		snprintf(why, len, "id must be 1..64 printable characters");
		return DN_EINVAL;
	}
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
	return 0;
}

/* A SKU's static placement: known hubs, summing to its units. */
static int drops_validate_placement(coord *c, const Dropnet__DropSku *s, size_t i,
    char *why, size_t len)
{
	if (s->n_placement > c->hubs_max) {
		snprintf(why, len, "skus[%zu]: at most %zu placements (coordinator.hubs_max)", i,
		    c->hubs_max);
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
	return 0;
}

/* 1..DROP_SKUS_MAX SKUs, each listed once and in no other drop that is
 * not closed. */
static int drops_validate_skus(coord *c, const Dropnet__Drop *d, char *why, size_t len)
{
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
		int rv = drops_validate_placement(c, s, i, why, len);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

/* 1..DROP_TIERS_MAX tiers, named once each, in window order. */
static int drops_validate_tiers(const Dropnet__Drop *d, char *why, size_t len)
{
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
	return 0;
}

/* The gift (if any): a SKU that is not one of the drop's, and the insiders. */
static int drops_validate_gift(const Dropnet__Drop *d, char *why, size_t len)
{
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
	return 0;
}

/* A free slot in memory for a new drop: when memory is full, forgets (in
 * memory only) the oldest closed drop. DN_EFULL when none is closed. */
static int drops_make_room(coord *c, char *why, size_t len)
{
	if (c->ndrops < COORD_DROPS_MAX) {
		return 0;
	}
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
	return 0;
}

/* Checks a drop spec; writes the reason into why. Last, once the spec is
 * known to be good, makes room for it in memory. */
static int drops_validate(coord *c, const Dropnet__Drop *d, char *why, size_t len)
{
	int rv = drops_validate_id(c, d, why, len);
	if (rv == 0) {
		rv = drops_validate_skus(c, d, why, len);
	}
	if (rv == 0) {
		rv = drops_validate_tiers(d, why, len);
	}
	if (rv == 0) {
		rv = drops_validate_gift(d, why, len);
	}
	return rv != 0 ? rv : drops_make_room(c, why, len);
}

/* Past demand per hub index (hubs_max of them, in the placement scratch),
 * and its total (drops_proportional). */
typedef struct {
	coord *c;
	uint64_t *demand;
	uint64_t total;
} drops_demand;

static int drops_demand_add(void *arg, const char *hub, uint64_t n)
{
	drops_demand *dd = arg;
	int h = coord_hub_find(dd->c, hub);
	if (h >= 0) {
		dd->demand[h] = n;
		dd->total += n;
	}
	return 0;
}

/* The proportional placements drops_create fills in, per SKU and hub, and
 * drops_proportional's working rows: one scratch block
 * (COORD_SCRATCH_DROP_PLACE) of hubs_max rows per SKU, carved here. */
typedef struct {
	Dropnet__HubUnits *hu;        /* [sku * hubs_max + hub] */
	Dropnet__HubUnits **hup;
	uint64_t *demand;             /* [hub] */
	double *rem;                  /* [hub] */
} drops_place_rows;

static bool drops_place_rows_get(coord *c, drops_place_rows *w)
{
	size_t n = c->hubs_max, cells = DROP_SKUS_MAX * n;
	uint8_t *b = coord_scratch(c, COORD_SCRATCH_DROP_PLACE, cells *
	    (sizeof(*w->hu) + sizeof(*w->hup)) + n * (sizeof(*w->demand) + sizeof(*w->rem)));
	if (b == NULL) {
		return false;
	}
	w->hu = (Dropnet__HubUnits *)(void *)b;
	w->hup = (Dropnet__HubUnits **)(void *)(w->hu + cells);
	w->demand = (uint64_t *)(void *)(w->hup + cells);
	w->rem = (double *)(void *)(w->demand + n);
	return true;
}

/* Fills placement from each hub's share of past demand (orders by nearest
 * hub in range), largest remainder; equal shares when there is no history. */
static int drops_proportional(coord *c, Dropnet__DropSku *s, const drops_place_rows *w,
    size_t k)
{
	Dropnet__HubUnits *hu = w->hu + k * c->hubs_max;
	Dropnet__HubUnits **hup = w->hup + k * c->hubs_max;
	memset(w->demand, 0, c->hubs_max * sizeof(*w->demand));
	drops_demand dd = {.c = c, .demand = w->demand};
	int rv = coord_store_drop_demand_list(c->store, drops_demand_add, &dd);
	if (rv != 0) {
		return rv;
	}
	const uint64_t *demand = dd.demand, total = dd.total;
	if (c->nhubs == 0) {
		return DN_ESTATE;
	}
	uint32_t given = 0;
	double *rem = w->rem;
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

/* Answers a drop spec that is missing or refused; true when it is good
 * (and memory has room for it). */
static bool drops_create_valid(coord *c, const Dropnet__Drop *spec, mreq *r)
{
	char why[200];
	if (spec == NULL) {
		drops_answer(r, DROPNET__STATUS__INVALID, "missing drop");
		return false;
	}
	int vrv = drops_validate(c, spec, why, sizeof(why));
	if (vrv == DN_EIO) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return false;
	}
	if (vrv != 0) {
		log_info("drop.invalid", "drop=%.64s why=\"%s\"", spec->id, why);
		drops_answer(r, DROPNET__STATUS__INVALID, why);
		return false;
	}
	return true;
}

/* Places every SKU that asks for a proportional placement and has none
 * (into the scratch). false when one could not be placed. */
static bool drops_place(coord *c, Dropnet__Drop *spec)
{
	drops_place_rows w = {0};
	bool have = drops_place_rows_get(c, &w);
	for (size_t i = 0; i < spec->n_skus; i++) {
		if (spec->skus[i]->placement_proportional && spec->skus[i]->n_placement == 0 &&
		    (!have || drops_proportional(c, spec->skus[i], &w, i) != 0)) {
			return false;
		}
	}
	return true;
}

/* The request owns spec and frees it with protobuf-c: take the scratch
 * proportional placements back out before it does. */
static void drops_unplace(coord *c, Dropnet__Drop *spec)
{
	drops_place_rows w = {0};
	bool have = drops_place_rows_get(c, &w);
	for (size_t i = 0; i < spec->n_skus && have; i++) {
		if (spec->skus[i]->n_placement > 0 &&
		    spec->skus[i]->placement == w.hup + i * c->hubs_max) {
			spec->skus[i]->n_placement = 0;
			spec->skus[i]->placement = NULL;
		}
	}
}

/* Adds the drop just written to memory, from its packed spec as a reload
 * would, and holds back what its SKUs already have on hand. */
static int drops_register(coord *c, const char *id, const uint8_t *buf, size_t len,
    int64_t now)
{
	coord_drop *d = &c->drops[c->ndrops];
	memset(d, 0, sizeof(*d));
	if (buf == NULL || codec_drop_unpack(buf, len, &d->spec) != 0) {
		return DN_ENOMEM;
	}
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->state = DROP_DRAFT;
	drops_fill_tiers(d);
	c->ndrops++;
	int rv = 0;
	for (size_t i = 0; rv == 0 && i < d->spec->n_skus; i++) {
		const Dropnet__DropSku *ds = d->spec->skus[i];
		for (size_t h = 0; rv == 0 && ds->holdback_pct > 0 && h < c->nhubs; h++) {
			coord_stock *s = coord_stock_get(c, (int)h, ds->sku, false);
			if (s != NULL && s->row.on_hand > 0) {
				rv = drops_hold_basis(c, d, ds, (int)h, s->row.on_hand, now);
			}
		}
	}
	return rv;
}

/* Writes a new drop (its packed spec buf and a row per tier) and registers
 * it; inside a transaction. */
static int drops_insert(coord *c, const Dropnet__Drop *spec, const uint8_t *buf,
    size_t len, int64_t now)
{
	int rv = coord_store_drop_insert(c->store, spec->id, now, buf, len);
	for (size_t t = 0; rv == 0 && t < spec->n_tiers; t++) {
		rv = coord_store_drop_tier_insert(c->store, spec->id, t);
	}
	return rv != 0 ? rv : drops_register(c, spec->id, buf, len, now);
}

/* A drop create as coord_txn_run applies it. */
typedef struct {
	const Dropnet__Drop *spec;
	const uint8_t *buf;
	size_t len;
	int64_t now;
} drops_create_tx;

static int drops_create_apply(coord *c, void *arg)
{
	const drops_create_tx *t = arg;
	return drops_insert(c, t->spec, t->buf, t->len, t->now);
}

static void drops_create(coord *c, Dropnet__Drop *spec, mreq *r)
{
	const char *pfield = "", *pwhy = "";
	if (spec != NULL && coord_prices_prepare(spec, &pfield, &pwhy) != 0) {
		char why[200];
		snprintf(why, sizeof(why), "%s: %s", pfield, pwhy);
		log_info("drop.invalid", "drop=%.64s why=\"%s\"", spec->id, why);
		drops_answer(r, DROPNET__STATUS__INVALID, why);
		return;
	}
	if (!drops_create_valid(c, spec, r)) {
		return;
	}
	bool placed = drops_place(c, spec);
	int64_t now = coord_now_wall_ms(c);
	spec->created_ms = now;
	uint8_t *buf = NULL;
	size_t len = 0;
	int prv = placed ? codec_drop_pack(spec, &buf, &len) : DN_ESTATE;
	drops_unplace(c, spec);
	if (!placed) {
		drops_answer(r, DROPNET__STATUS__CONFLICT, "no hubs to place units at");
		return;
	}
	if (prv != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
	drops_create_tx t = {spec, buf, len, now};
	int rv = coord_txn_run(c, "drop_create", drops_create_apply, &t);
	free(buf);
	if (rv != 0) {
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

/* A drop state change as coord_txn_run applies it. */
typedef struct {
	coord_drop *d;
	drop_state to;
} drops_state_tx;

static int drops_state_apply(coord *c, void *arg)
{
	const drops_state_tx *t = arg;
	int rv = coord_store_drop_state_set(c->store, t->d->id, t->to);
	if (rv == 0) {
		t->d->state = t->to;
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
	drops_state_tx t = {d, to};
	if (coord_txn_run(c, "drop_state", drops_state_apply, &t) != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	log_info(to == DROP_OPEN ? "drop.opened" : "drop.closed", "drop=%s", id);
	coord_drops_tick(c);
	drops_answer(r, DROPNET__STATUS__OK, to == DROP_OPEN ? "drop open" : "drop closed");
}

static const char *drops_state_name(drop_state s)
{
	return s == DROP_DRAFT ? "draft" : s == DROP_OPEN ? "open" : "closed";
}

/* Fills a reply copy of d (shallow: points into d->spec) with live figures.
 * 0 or DN_EIO. */
static int drops_view(coord *c, coord_drop *d, Dropnet__Drop *v, Dropnet__Tier *tv,
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
	return coord_store_holdback_released_sum(c->store, d->id, &v->released);
}

/* OPS_DROP_SHOW's reply: views of the drops (shallow copies of their
 * specs with live figures), in the machine's scratch. */
typedef struct {
	Dropnet__Drop views[COORD_DROPS_MAX];
	Dropnet__Drop *vp[COORD_DROPS_MAX];
	Dropnet__Tier tv[COORD_DROPS_MAX][DROP_TIERS_MAX];
	Dropnet__Tier *tvp[COORD_DROPS_MAX][DROP_TIERS_MAX];
} drops_view_rows;

static void drops_show(coord *c, const Dropnet__OpsRequest *q, mreq *r, bool all)
{
	drops_view_rows *w = coord_scratch(c, COORD_SCRATCH_DROP_VIEWS, sizeof(*w));
	if (w == NULL) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
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
		if (drops_view(c, d, &w->views[n], w->tv[n], w->tvp[n], now) != 0) {
			drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
			return;
		}
		w->vp[n] = &w->views[n];
		n++;
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.n_drops = n;
	rep.drops = w->vp;
	rep.clock_ms = now;
	coord_ops_send(r, &rep);
}

/* A manual release as coord_txn_run applies it; done: units released. */
typedef struct {
	const coord_drop *d;
	int hub;
	const char *sku;
	int64_t qty, now, done;
} drops_release_tx;

static int drops_release_apply(coord *c, void *arg)
{
	drops_release_tx *t = arg;
	t->done = drops_release(c, t->d, t->hub, t->sku, t->qty, "manual", t->now);
	return t->done < 0 ? (int)t->done : 0;
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
	drops_release_tx t = {d, hub, q->sku, q->qty, coord_now_wall_ms(c), 0};
	if (coord_txn_run(c, "drop_release", drops_release_apply, &t) != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	snprintf(msg, sizeof(msg), "released %lld", (long long)t.done);
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

/* Largest KPI lists: a drop's minutes, hubs, reasons. */
#define KPI_MINUTES_MAX 2880
#define KPI_FULFIL_MAX 200000
#define KPI_REASONS_MAX 32

/* The KPI reply and its lists: large, so in the machine's scratch
 * (COORD_SCRATCH_DROP_KPI); the reply is packed before the next request. */
typedef struct {
	Dropnet__DropKpi k;
	Dropnet__MinuteCount mc[KPI_MINUTES_MAX];
	Dropnet__MinuteCount *mcp[KPI_MINUTES_MAX];
	/* Per hub: a job is sized before it knows the registry's (it may run
	 * off the loop), so for the largest one. */
	Dropnet__HubFill hf[DN_HUBS_CAP];
	Dropnet__HubFill *hfp[DN_HUBS_CAP];
	char hubnames[DN_HUBS_CAP][DN_ID_MAX + 1];
	int64_t times[KPI_FULFIL_MAX];
	Dropnet__ReasonCount rc[KPI_REASONS_MAX];
	Dropnet__ReasonCount *rcp[KPI_REASONS_MAX];
} drops_kpi_rows;

static int drops_kpi_minute(void *arg, int64_t minute_ms, uint64_t units)
{
	drops_kpi_rows *w = arg;
	Dropnet__DropKpi *k = &w->k;
	size_t i = k->n_sell_through++;
	dropnet__minute_count__init(&w->mc[i]);
	w->mc[i].minute_ms = minute_ms;
	w->mc[i].units = (uint32_t)units;
	w->mcp[i] = &w->mc[i];
	return k->n_sell_through < KPI_MINUTES_MAX ? 0 : COORD_STORE_STOP;
}

/* Fill: of the orders that passed the drop's rules and had a hub in
 * range, how many were filled - per nearest hub (and, summed by the
 * caller, overall). */
static int drops_kpi_fill(void *arg, const coord_store_kpi_fill_row *row)
{
	drops_kpi_rows *w = arg;
	Dropnet__DropKpi *k = &w->k;
	size_t i = k->n_fill++;
	dropnet__hub_fill__init(&w->hf[i]);
	snprintf(w->hubnames[i], sizeof(w->hubnames[i]), "%s", row->hub);
	w->hf[i].hub = w->hubnames[i];
	w->hf[i].orders = (uint32_t)row->orders;
	w->hf[i].filled = (uint32_t)row->filled;
	w->hf[i].filled_here = (uint32_t)row->filled_here;
	w->hfp[i] = &w->hf[i];
	return k->n_fill < DN_HUBS_CAP ? 0 : COORD_STORE_STOP;
}

static int drops_kpi_reason(void *arg, int status, uint64_t orders)
{
	drops_kpi_rows *w = arg;
	Dropnet__DropKpi *k = &w->k;
	size_t i = k->n_rejections++;
	dropnet__reason_count__init(&w->rc[i]);
	w->rc[i].reason = (char *)codec_status_name((Dropnet__Status)status);
	w->rc[i].orders = (uint32_t)orders;
	w->rcp[i] = &w->rc[i];
	return k->n_rejections < KPI_REASONS_MAX ? 0 : COORD_STORE_STOP;
}

/* Sell-through per minute, fill per hub, and time to fulfil (accept ->
 * ship, per shipped placement). */
static int drops_kpi_orders(struct store *s, const char *id, drops_kpi_rows *w)
{
	Dropnet__DropKpi *k = &w->k;
	k->sell_through = w->mcp;
	k->fill = w->hfp;
	int rv = coord_store_kpi_sell_through(s, id, drops_kpi_minute, w);
	if (rv == 0) {
		rv = coord_store_kpi_fill(s, id, drops_kpi_fill, w);
	}
	uint64_t in_range = 0, filled = 0;
	for (size_t i = 0; i < k->n_fill; i++) {
		in_range += w->hf[i].orders;
		filled += w->hf[i].filled;
	}
	k->fill_within_radius = in_range > 0 ? (double)filled / (double)in_range : 0;
	size_t nt = 0;
	if (rv == 0) {
		rv = coord_store_kpi_fulfil_times(s, id, w->times, KPI_FULFIL_MAX, &nt);
	}
	k->shipped_orders = (uint32_t)nt;
	k->fulfil_p50_ms = drops_pct(w->times, nt, 0.5);
	k->fulfil_p90_ms = drops_pct(w->times, nt, 0.9);
	return rv;
}

/* Buyers acquired by the drop and whether they came back; rejections;
 * holdback; acceptances. */
static int drops_kpi_totals(struct store *s, const char *id, drops_kpi_rows *w)
{
	Dropnet__DropKpi *k = &w->k;
	coord_store_kpi_buyers b;
	int rv = coord_store_kpi_buyers_get(s, id, &b);
	k->buyers_acquired = (uint32_t)b.acquired;
	k->repeat_rate = b.repeat_rate;
	k->gift_buyers = (uint32_t)b.gift_buyers;
	k->gift_repeat_rate = b.gift_repeat_rate;
	k->nongift_first_buyers = (uint32_t)b.nongift_buyers;
	k->nongift_repeat_rate = b.nongift_repeat_rate;
	k->rejections = w->rcp;
	if (rv == 0) {
		rv = coord_store_kpi_rejections(s, id, drops_kpi_reason, w);
	}
	if (rv == 0) {
		rv = coord_store_holdback_held_sum(s, id, &k->held_back);
	}
	if (rv == 0) {
		rv = coord_store_holdback_released_sum(s, id, &k->released);
	}
	uint64_t orders = 0, units = 0;
	if (rv == 0) {
		rv = coord_store_kpi_accepted(s, id, &orders, &units);
	}
	k->accepted_orders = (uint32_t)orders;
	k->accepted_units = (uint32_t)units;
	return rv;
}

/* Every KPI of src's drop into w, in one read snapshot. 0 or DN_E*. */
static int drops_kpi_build(const coord_kpi_src *src, drops_kpi_rows *w)
{
	dropnet__drop_kpi__init(&w->k);
	w->k.drop_id = (char *)src->drop_id;
	if (coord_store_read_begin(src->s) != 0) {
		return DN_EIO;
	}
	int rv = drops_kpi_orders(src->s, src->drop_id, w);
	if (rv == 0) {
		rv = drops_kpi_totals(src->s, src->drop_id, w);
	}
	if (rv == 0) {
		rv = coord_kpi_money(src, &w->k);
	}
	if (rv == 0) {
		rv = coord_kpi_activations(src, &w->k);
	}
	coord_store_read_end(src->s);
	return rv;
}

static void drops_kpi_reply(int rv, drops_kpi_rows *w, int64_t clock_ms, mreq *r)
{
	if (rv == DN_EFULL) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE,
		    "busy: other journal reads (audits, KPIs) already wait; try again");
		return;
	}
	if (rv != 0) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.kpi = &w->k;
	rep.clock_ms = clock_ms;
	coord_ops_send(r, &rep);
}

/* A drop's KPIs read off the loop (coord.h "reads off the loop"): the
 * memory they need, copied when the request was taken, and the lists.
 * No experiment exposures are copied: drops_kpi writes those still in
 * memory first, so the reader's snapshot (taken later) holds them all -
 * a copy would count twice every exposure a commit in between wrote. */
struct coord_kpi_job {
	coord_kpi_src src;
	char drop_id[DN_ID_MAX + 1];
	char currency[16];
	int64_t clock_ms;
	int rv;
	drops_kpi_rows w;
};

void coord_kpi_job_free(struct coord_kpi_job *j)
{
	if (j != NULL) {
		free(j->src.money);
		free(j->src.acts);
		free(j);
	}
}

static struct coord_kpi_job *drops_kpi_job(coord *c, const coord_drop *d)
{
	struct coord_kpi_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		return NULL;
	}
	snprintf(j->drop_id, sizeof(j->drop_id), "%s", d->id);
	snprintf(j->currency, sizeof(j->currency), "%s",
	    d->spec != NULL && d->spec->currency != NULL ? d->spec->currency : "");
	j->src.drop_id = j->drop_id;
	j->src.currency = j->currency;
	j->src.priced = d->spec != NULL && coord_drop_priced(d);
	j->src.money = calloc(1, coord_kpi_money_size());
	j->src.acts = calloc(1, coord_kpi_activations_size());
	if (j->src.money == NULL || j->src.acts == NULL) {
		coord_kpi_job_free(j);
		return NULL;
	}
	j->src.exps = NULL; /* every exposure is in the file (drops_kpi) */
	j->src.nexps = 0;
	j->clock_ms = coord_now_wall_ms(c);
	return j;
}

void coord_kpi_job_run(struct coord_kpi_job *j, struct store *reader)
{
	j->src.s = reader;
	j->rv = reader != NULL ? drops_kpi_build(&j->src, &j->w) : DN_EIO;
}

void coord_kpi_job_busy(struct coord_kpi_job *j)
{
	j->rv = DN_EFULL;
}

void coord_kpi_job_reply(struct coord_kpi_job *j, mreq *r)
{
	drops_kpi_reply(j->rv, &j->w, j->clock_ms, r);
	coord_kpi_job_free(j);
}

static int drops_kpi_flush_apply(coord *c, void *arg)
{
	(void)arg;
	return coord_experiments_flush(c);
}

/* True when an experiment has exposures counted in memory only. */
static bool drops_exposures_pending(const coord *c)
{
	for (size_t i = 0; i < c->nexps; i++) {
		for (size_t a = 0; a < c->exps[i].narms; a++) {
			if (c->exps[i].pending[a] != 0) {
				return true;
			}
		}
	}
	return false;
}

static void drops_kpi(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = NULL;
	if (drops_lookup(c, q->drop_id, r, &d) != 0) {
		return;
	}
	if (c->reads_deferred) {
		/* Exposures counted in memory go to the file first: the reader
		 * then sees all of them, once (struct coord_kpi_job). */
		if (drops_exposures_pending(c) &&
		    coord_txn_run(c, "kpi_exposures", drops_kpi_flush_apply, NULL) != 0) {
			drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
			return;
		}
		struct coord_kpi_job *j = drops_kpi_job(c, d);
		coord_read_job *job = j != NULL ? calloc(1, sizeof(*job)) : NULL;
		if (job != NULL) {
			job->kpi = j;
		} else {
			coord_kpi_job_free(j);
			drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
			return;
		}
		r->deferred = job;
		return;
	}
	drops_kpi_rows *w = coord_scratch(c, COORD_SCRATCH_DROP_KPI, sizeof(*w));
	coord_kpi_src src = {
	    .s = c->store, .drop_id = d->id,
	    .currency = d->spec != NULL && d->spec->currency != NULL ? d->spec->currency : "",
	    .priced = d->spec != NULL && coord_drop_priced(d), .exps = c->exps, .nexps = c->nexps,
	    .money = coord_scratch(c, COORD_SCRATCH_KPI_MONEY, coord_kpi_money_size()),
	    .acts = coord_scratch(c, COORD_SCRATCH_ACTIVATIONS, coord_kpi_activations_size()),
	};
	if (w == NULL) {
		drops_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
	drops_kpi_reply(drops_kpi_build(&src, w), w, coord_now_wall_ms(c), r);
}

static void drops_clock(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	if (q->clock_ms != 0) {
		if (!c->cfg.test_clock) {
			drops_answer(r, DROPNET__STATUS__CONFLICT,
			    "the clock moves only with coordinator.test_clock = 1");
			return;
		}
		if (q->clock_ms < 0 || q->clock_ms > DN_TEST_CLOCK_MS_MAX) {
			drops_answer(r, DROPNET__STATUS__INVALID,
			    "clock_ms must be in 0..253402300799999 (year 9999)");
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

