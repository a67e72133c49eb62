/*
 * simdrop.c - the creator's drop in a dropsim seed: made and opened through
 * the ops socket as `dropctl drop create` / `drop open` do, half the
 * storefronts' orders in it, and its invariants.
 *
 * The drop sells the three simulated SKUs with SIM_DROP_HOLDBACK_PCT of each
 * hub's units held back, in two tiers:
 *   - "insider": the first seconds of the drop, insiders only (customers
 *     c0 .. c<SIM_DROP_INSIDERS - 1>), at most SIM_DROP_INSIDER_QUOTA units;
 *   - "public": from then on for ten days, no quota; its opening releases
 *     the holdback.
 * A storefront sends an order to the tier its own clock says is open, so
 * orders near the boundary (and every order while a clock is stepped) meet
 * a tier that is closed or not yet open, and non-insiders meet the insider
 * tier: those are refused, and every answer must still agree with the
 * first one (check_answer). The drop is made once the hubs' first stock
 * is on the coordinator's books, and again after a failed attempt (an
 * injected storage error, a crashed or stalled coordinator) until it is
 * open.
 *
 * Invariants (sim_drop_check, after every ingest batch): no tier sells
 * beyond its quota; the drop's accepted orders never go down. At the end
 * (sim_drop_final): every tier's sold count equals the units of the orders
 * the storefronts were told ACCEPTED in that tier.
 */
#include <stdio.h>
#include <string.h>
#include "world.h"

#define SIM_DROP_INSIDERS 300
#define SIM_DROP_INSIDER_QUOTA 400
#define SIM_DROP_HOLDBACK_PCT 20.0
/* The insider tier's window, from SIM_EPOCH + this: orders start at 2 s. */
#define SIM_DROP_INSIDER_MS 6000
#define SIM_DROP_PUBLIC_MS (10LL * 24 * 3600 * 1000)

const char *sim_drop_tier(uint64_t send_ms)
{
	return send_ms < SIM_DROP_INSIDER_MS ? "insider" : "public";
}

/* One ops request; its status, or UNAVAILABLE when there was no reply. */
static Dropnet__Status drop_ops(world *w, Dropnet__OpsRequest *q)
{
	Dropnet__OpsReply *rep = world_ops(w, q);
	Dropnet__Status st = rep != NULL ? rep->status : DROPNET__STATUS__UNAVAILABLE;
	codec_ops_reply_free(rep);
	return st;
}

static Dropnet__Status drop_create(world *w, int64_t epoch_ms)
{
	static char names[SIM_DROP_INSIDERS][16];
	char *insiders[SIM_DROP_INSIDERS];
	for (int i = 0; i < SIM_DROP_INSIDERS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		insiders[i] = names[i];
	}
	Dropnet__DropSku s[SIM_SKUS], *sp[SIM_SKUS];
	for (int i = 0; i < SIM_SKUS; i++) {
		dropnet__drop_sku__init(&s[i]);
		s[i].sku = (char *)sim_sku_names[i];
		s[i].units = 1000000;
		s[i].holdback_pct = SIM_DROP_HOLDBACK_PCT;
		sp[i] = &s[i];
	}
	Dropnet__Tier t[2], *tp[2] = {&t[0], &t[1]};
	dropnet__tier__init(&t[0]);
	dropnet__tier__init(&t[1]);
	t[0].name = "insider";
	t[0].opens_ms = epoch_ms;
	t[0].closes_ms = epoch_ms + SIM_DROP_INSIDER_MS;
	t[0].quota = SIM_DROP_INSIDER_QUOTA;
	t[0].insiders_only = true;
	t[1].name = "public";
	t[1].opens_ms = epoch_ms + SIM_DROP_INSIDER_MS;
	t[1].closes_ms = epoch_ms + SIM_DROP_PUBLIC_MS;
	t[1].release_holdback = true;
	Dropnet__Drop d = DROPNET__DROP__INIT;
	d.id = SIM_DROP_ID;
	d.name = "the seed's drop";
	d.n_skus = SIM_SKUS;
	d.skus = sp;
	d.n_tiers = 2;
	d.tiers = tp;
	d.n_insiders = SIM_DROP_INSIDERS;
	d.insiders = insiders;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_DROP_CREATE;
	q.drop = &d;
	return drop_ops(w, &q);
}

static Dropnet__Status drop_open(world *w)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_DROP_OPEN;
	q.drop_id = SIM_DROP_ID;
	return drop_ops(w, &q);
}

/* The drop as the coordinator's books have it: NULL if not made yet. */
static const coord_drop *drop_find(const world *w)
{
	for (size_t i = 0; i < w->c.ndrops; i++) {
		if (strcmp(w->c.drops[i].id, SIM_DROP_ID) == 0) {
			return &w->c.drops[i];
		}
	}
	return NULL;
}

bool sim_drop_step(world *w, int64_t epoch_ms)
{
	/* What the books say, not what a reply said: a commit reported
	 * failed may have landed. */
	const coord_drop *d = drop_find(w);
	Dropnet__Status st = DROPNET__STATUS__OK;
	if (d == NULL) {
		st = drop_create(w, epoch_ms);
		d = drop_find(w);
	}
	if (d != NULL && d->state == DROP_DRAFT) {
		st = drop_open(w);
		d = drop_find(w);
	}
	if (d != NULL && d->state == DROP_OPEN) {
		w->drop_open = true;
		return true;
	}
	if (st != DROPNET__STATUS__OK && st != DROPNET__STATUS__UNAVAILABLE) {
		return check_fail(w, "the drop was refused: %s", codec_status_name(st));
	}
	return true; /* tried again later (sim.c) */
}

bool sim_drop_check(world *w)
{
	const coord *c = &w->c;
	for (size_t i = 0; i < c->ndrops; i++) {
		const coord_drop *d = &c->drops[i];
		if (strcmp(d->id, SIM_DROP_ID) != 0) {
			continue;
		}
		for (size_t t = 0; t < d->ntiers; t++) {
			const drop_tier *dt = &d->tiers[t];
			if (dt->quota > 0 && !dt->rollover && dt->sold > dt->quota) {
				return check_fail(w, "drop tier %s sold %u beyond its quota %u",
				    dt->name, dt->sold, dt->quota);
			}
		}
		if (d->accepted < w->drop_accepted) {
			return check_fail(w, "drop accepted orders went down: %llu after %llu",
			    (unsigned long long)d->accepted,
			    (unsigned long long)w->drop_accepted);
		}
		w->drop_accepted = d->accepted;
	}
	return true;
}

bool sim_drop_final(world *w)
{
	const coord_drop *d = drop_find(w);
	if (d == NULL || w->res->gave_up > 0) {
		return true; /* an order given up on may have been accepted */
	}
	for (size_t t = 0; t < d->ntiers; t++) {
		uint64_t units = 0;
		for (uint32_t k = 0; k < w->norders; k++) {
			const sim_order *o = &w->orders[k];
			if (!o->in_drop || o->status != DROPNET__STATUS__ACCEPTED ||
			    strcmp(o->tier, d->tiers[t].name) != 0) {
				continue;
			}
			for (uint32_t l = 0; l < o->nlines; l++) {
				units += o->qty[l];
			}
		}
		if (units != d->tiers[t].sold) {
			return check_fail(w, "drop tier %s sold %u, its accepted orders hold %llu"
			    " units", d->tiers[t].name, d->tiers[t].sold, (unsigned long long)units);
		}
	}
	return true;
}
