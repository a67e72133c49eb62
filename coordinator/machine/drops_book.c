/*
 * drops_book.c - the drops the coordinator keeps in memory: loading them
 * from the store (at open), finding one, and reading a
 * closed one back from the file when it has left memory (COORD_DROPS_MAX).
 * It calls nothing of the machine's but the store, so state.c (reload) can
 * use it without a ring; drops.c and drops_ops.c build on it.
 *
 * The machine's thread only.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"
#include "drops.h"

void coord_drops_free(coord *c)
{
	for (size_t i = 0; i < c->ndrops; i++) {
		codec_drop_free(c->drops[i].spec);
	}
	c->ndrops = 0;
	codec_drop_free(c->drop_cold.spec);
	memset(&c->drop_cold, 0, sizeof(c->drop_cold));
}

void drops_fill_tiers(coord_drop *d)
{
	d->ntiers = d->spec->n_tiers < DROP_TIERS_MAX ? d->spec->n_tiers : DROP_TIERS_MAX;
	for (size_t t = 0; t < d->ntiers; t++) {
		const Dropnet__Tier *s = d->spec->tiers[t];
		d->tiers[t] = (drop_tier){s->name, s->opens_ms, s->closes_ms, s->quota,
		    s->rollover, s->insiders_only, s->release_holdback, 0};
		d->released[t] = false;
	}
}

/* Fills d (zeroed) from a drops row: decodes its spec. 0 or DN_EPROTO
 * (logged: the spec does not decode; d->spec stays NULL). */
static int drops_from_row(coord_drop *d, const coord_store_drop_row *row)
{
	memset(d, 0, sizeof(*d));
	if (codec_drop_unpack(row->spec, row->spec_len, &d->spec) != 0) {
		codec_drop_free(d->spec);
		d->spec = NULL;
		log_error("drops.spec_corrupt", "drop=%s", row->id);
		return DN_EPROTO;
	}
	snprintf(d->id, sizeof(d->id), "%s", row->id);
	d->state = (drop_state)row->state;
	d->accepted = row->accepted;
	d->gifts = row->gifts;
	drops_fill_tiers(d);
	return 0;
}

/* coord_drops_load's row: the next slot, or the end when memory is full;
 * a drop whose spec does not decode is skipped. */
static int drops_load_one(void *arg, const coord_store_drop_row *row)
{
	coord *c = arg;
	if (c->ndrops == COORD_DROPS_MAX) {
		log_warn("drops.too_many", "max=%d", COORD_DROPS_MAX);
		return COORD_STORE_STOP;
	}
	if (drops_from_row(&c->drops[c->ndrops], row) == 0) {
		c->ndrops++;
	}
	return 0;
}

/* Sets a tier's sold and released from its row (d NULL: a drop not in
 * memory, nothing to set). */
static void drops_tier_apply(coord_drop *d, const coord_store_tier_row *row)
{
	if (d != NULL && row->idx >= 0 && (size_t)row->idx < d->ntiers) {
		d->tiers[row->idx].sold = row->sold;
		d->released[row->idx] = row->released;
	}
}

static int drops_load_tier(void *arg, const coord_store_tier_row *row)
{
	drops_tier_apply(coord_drop_find(arg, row->drop_id), row);
	return 0;
}

/* A live price row onto its drop in memory (a closed drop's are moot). */
static int drops_load_live(void *arg, const coord_store_price_live *r)
{
	coord_drop *d = coord_drop_find(arg, r->drop_id);
	for (size_t k = 0; d != NULL && k < d->spec->n_skus && k < DROP_SKUS_MAX; k++) {
		if (strcmp(d->spec->skus[k]->sku, r->sku) == 0) {
			snprintf(d->live[k].tier, sizeof(d->live[k].tier), "%s", r->tier);
			d->live[k].price_minor = r->price_minor;
			d->live[k].starts_ms = r->starts_ms;
			d->live[k].ends_ms = r->ends_ms;
		}
	}
	return 0;
}

coord_experiment *coord_experiment_find(coord *c, const char *drop_id, const char *sku)
{
	for (size_t i = 0; i < c->nexps; i++) {
		if (strcmp(c->exps[i].sku, sku) == 0 && strcmp(c->exps[i].drop_id, drop_id) == 0) {
			return &c->exps[i];
		}
	}
	return NULL;
}

/* A running experiment into memory (the file bounds them too: creation
 * refuses beyond COORD_EXPERIMENTS_MAX). */
static int drops_load_experiment(void *arg, const coord_store_experiment_row *r)
{
	coord *c = arg;
	Dropnet__Experiment *e = NULL;
	if (c->nexps == COORD_EXPERIMENTS_MAX ||
	    codec_experiment_unpack(r->spec, r->spec_len, &e) != 0) {
		codec_experiment_free(e);
		log_error("experiment.not_loaded", "id=%s", r->id);
		return 0;
	}
	coord_experiment *x = &c->exps[c->nexps++];
	memset(x, 0, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", r->id);
	snprintf(x->drop_id, sizeof(x->drop_id), "%s", r->drop_id);
	snprintf(x->sku, sizeof(x->sku), "%s", r->sku);
	x->narms = e->n_arms < EXPERIMENT_ARMS_MAX ? e->n_arms : EXPERIMENT_ARMS_MAX;
	for (size_t a = 0; a < x->narms; a++) {
		snprintf(x->arm[a], sizeof(x->arm[a]), "%s", e->arms[a]->name);
		x->price[a] = e->arms[a]->price_minor;
	}
	codec_experiment_free(e);
	return 0;
}

int coord_drops_load(coord *c)
{
	coord_drops_free(c);
	int rv = coord_store_drop_list(c->store, drops_load_one, c);
	if (rv == 0) {
		rv = coord_store_drop_tier_list(c->store, NULL, drops_load_tier, c);
	}
	if (rv == 0) {
		rv = coord_store_price_live_list(c->store, drops_load_live, c);
	}
	c->nexps = 0;
	return rv != 0 ? rv : coord_store_experiment_get(c->store, NULL, drops_load_experiment, c);
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

static int drops_read_one(void *arg, const coord_store_drop_row *row)
{
	return drops_from_row(arg, row);
}

static int drops_read_tier(void *arg, const coord_store_tier_row *row)
{
	drops_tier_apply(arg, row);
	return 0;
}

/* Reads drop id (row, spec and tiers) from the file into d. 0, DN_ENOENT,
 * DN_EPROTO (the spec does not decode) or DN_EIO. */
static int drops_read(coord *c, const char *id, coord_drop *d)
{
	memset(d, 0, sizeof(*d));
	int rv = coord_store_drop_get(c->store, id, drops_read_one, d);
	if (rv == 0) {
		rv = coord_store_drop_tier_list(c->store, id, drops_read_tier, d);
	}
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
