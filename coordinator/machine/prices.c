/*
 * prices.c - prices in the coordinator machine (issue 12; docs/prices.md):
 * the price of a line from the drop's rules (core/price.c) with the
 * machine's clock, stock and demand signal; quote tokens (price locks);
 * quotes answered from memory; live prices and `dropctl price show`.
 *
 * The same function, coord_price_line, prices a quote and an order, so
 * both decide from the same inputs. It reads memory only: a quote writes
 * nothing, and an order's price is journalled with its ack by ingest.c.
 *
 * The machine's thread only. Replies are built in the machine's scratch
 * (coord_scratch: COORD_SCRATCH_QUOTE, _PRICE_SHOW, _KPI_MONEY) and stay
 * valid until the next call of the same kind; nothing here is static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/price.h"
#include "core/validate.h"
#include "io/log.h"
#include "io/qtoken.h"
#include "coord.h"
#include "store.h"

static int prices_sku_index(const coord_drop *d, const char *sku)
{
	for (size_t k = 0; k < d->spec->n_skus && k < DROP_SKUS_MAX; k++) {
		if (strcmp(d->spec->skus[k]->sku, sku) == 0) {
			return (int)k;
		}
	}
	return -1;
}

/* ds's rules in tier `tier`; false when the SKU has no price there. */
static bool prices_rules(const Dropnet__DropSku *ds, const char *tier, price_rules *r)
{
	for (size_t i = 0; i < ds->n_prices; i++) {
		if (strcmp(ds->prices[i]->tier, tier) == 0) {
			*r = (price_rules){.base_minor = ds->prices[i]->price_minor,
			    .floor_minor = ds->floor_minor, .ceiling_minor = ds->ceiling_minor,
			    .early_bird_minutes = ds->early_bird_minutes,
			    .early_bird_off_pct = ds->early_bird_off_pct,
			    .last_units = ds->last_units, .last_units_pct = ds->last_units_pct,
			    .demand_max_pct = ds->demand_max_pct};
			return price_rules_check(r, NULL) == 0;
		}
	}
	return false;
}

/* Sellable units of sku over every hub (rows below zero count as none). */
static int64_t prices_units_left(coord *c, const char *sku)
{
	int64_t n = 0;
	for (size_t h = 0; h < c->nhubs; h++) {
		coord_stock *s = coord_stock_get(c, (int)h, sku, false);
		int64_t v = s != NULL ? ledger_sellable(&s->row) : 0;
		n += v > 0 ? v : 0;
	}
	return n;
}

bool coord_drop_priced(const coord_drop *d)
{
	for (size_t k = 0; d->spec != NULL && k < d->spec->n_skus; k++) {
		if (d->spec->skus[k]->n_prices > 0) {
			return true;
		}
	}
	return false;
}

/* A quote token for this line: 1 when it locks the price (*unit set), 0
 * when absent or refused (logged: tampered or lapsed). */
static int prices_token(coord *c, const coord_drop *d, const char *sku,
    const char *tier, const char *customer, const char *tok, int64_t now,
    int64_t *unit)
{
	if (tok == NULL || tok[0] == '\0') {
		return 0;
	}
	qtoken_fields f = {d->id, sku, tier, customer, 0, 0};
	int64_t price = 0, exp = 0;
	int rv = qtoken_check(c->quote_secret, c->quote_secret_len, tok, &f, now, &price,
	    &exp);
	if (rv != 0) {
		if (rv == DN_ETIMEDOUT) {
			c->metrics.quote_tokens_lapsed++;
		} else {
			c->metrics.quote_tokens_invalid++;
		}
		log_info("price.quote_refused", "drop=%s sku=%s customer=%.64s why=%s", d->id,
		    sku, customer, rv == DN_ETIMEDOUT ? "lapsed" : "invalid");
		return 0;
	}
	*unit = price;
	return 1;
}

int coord_price_line(coord *c, const coord_drop *d, int tier_idx, const char *sku,
    int region, const char *customer, const char *qtoken, int64_t now,
    int64_t *unit_minor, char *rule, int *arm)
{
	int k = prices_sku_index(d, sku);
	price_rules r;
	if (arm != NULL) {
		*arm = -1;
	}
	if (k < 0 || tier_idx < 0 || (size_t)tier_idx >= d->ntiers ||
	    !prices_rules(d->spec->skus[k], d->tiers[tier_idx].name, &r)) {
		return DN_ENOENT;
	}
	const char *tier = d->tiers[tier_idx].name;
	int ax = -1;
	const coord_experiment *x = customer[0] != '\0' ?
	    coord_experiment_find(c, d->id, sku) : NULL;
	if (x != NULL) {
		/* Arm prices lie within the bounds (checked at creation). */
		ax = (int)experiment_arm(x->id, customer, x->narms);
		r.base_minor = x->price[ax];
	}
	if (arm != NULL) {
		*arm = ax;
	}
	if (prices_token(c, d, sku, tier, customer, qtoken, now, unit_minor) == 1) {
		snprintf(rule, PRICE_RULE_NAME_MAX, "quote");
		return 0;
	}
	price_input in = {.since_tier_open_ms = now - d->tiers[tier_idx].opens_ms,
	    .units_left = prices_units_left(c, sku),
	    .demand_ratio = region >= 0 ? coord_demand_ratio(c, region, sku) : 1.0};
	in.live = d->live[k].starts_ms <= now && now < d->live[k].ends_ms &&
	    (d->live[k].tier[0] == '\0' || strcmp(d->live[k].tier, tier) == 0);
	in.live_minor = d->live[k].price_minor;
	price_answer a = price_decide(&r, &in);
	if (ax >= 0 && !in.live) {
		a.rules |= PRICE_RULE_ARM;
	}
	*unit_minor = a.price_minor;
	price_rule_name(a.rules, rule, PRICE_RULE_NAME_MAX);
	return 0;
}

/* One SKU's prices: one per tier, each tier once; the default bounds. */
static int prices_prepare_sku(const Dropnet__Drop *d, Dropnet__DropSku *ds,
    const char **why)
{
	if (ds->n_prices != d->n_tiers) {
		*why = "give one price per tier of the drop";
		return DN_EINVAL;
	}
	int64_t lo = PRICE_MINOR_MAX, hi = 0;
	for (size_t t = 0; t < d->n_tiers; t++) {
		size_t found = 0;
		for (size_t i = 0; i < ds->n_prices; i++) {
			found += strcmp(ds->prices[i]->tier, d->tiers[t]->name) == 0;
		}
		if (found != 1) {
			*why = "each tier needs exactly one price";
			return DN_EINVAL;
		}
	}
	for (size_t i = 0; i < ds->n_prices; i++) {
		int64_t p = ds->prices[i]->price_minor;
		if (p < 0 || p > PRICE_MINOR_MAX) {
			*why = "a price must be 0..100000000000 minor units";
			return DN_EINVAL;
		}
		lo = p < lo ? p : lo;
		hi = p > hi ? p : hi;
	}
	if (ds->floor_minor == 0 && ds->ceiling_minor == 0) {
		ds->floor_minor = lo;
		ds->ceiling_minor = hi;
	}
	for (size_t i = 0; i < ds->n_prices; i++) {
		price_rules r;
		if (!prices_rules(ds, ds->prices[i]->tier, &r)) {
			price_rules_check(&r, why);
			return DN_EINVAL;
		}
	}
	ds->live_minor = ds->live_until_ms = 0;
	/* Truncated in place: the string belongs to the unpacked request. */
	if (ds->live_tier[0] != '\0') {
		ds->live_tier[0] = '\0';
	}
	return 0;
}

int coord_prices_prepare(Dropnet__Drop *d, const char **field, const char **why)
{
	size_t priced = 0;
	*field = "";
	*why = "";
	for (size_t k = 0; k < d->n_skus; k++) {
		priced += d->skus[k]->n_prices > 0;
	}
	if (priced == 0) {
		if (d->currency[0] != '\0') {
			*field = "currency";
			*why = "a currency needs prices";
			return DN_EINVAL;
		}
		return 0;
	}
	if (!price_currency_valid(d->currency)) {
		*field = "currency";
		*why = "an ISO 4217 code of three capital letters (GBP) is required with prices";
		return DN_EINVAL;
	}
	for (size_t k = 0; k < d->n_skus; k++) {
		*field = d->skus[k]->sku;
		if (d->skus[k]->n_prices == 0) {
			*why = "a priced drop needs prices for every SKU";
			return DN_EINVAL;
		}
		if (prices_prepare_sku(d, d->skus[k], why) != 0) {
			return DN_EINVAL;
		}
	}
	*field = "";
	return 0;
}

static void prices_answer(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = st;
	rep.message = (char *)msg;
	coord_ops_send(r, &rep);
}

/* The drop an ops request names, in memory and priced; answers itself and
 * returns NULL when there is none. */
static coord_drop *prices_drop(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = coord_drop_find(c, q->drop_id);
	if (d == NULL) {
		prices_answer(r, DROPNET__STATUS__NOT_FOUND, "no such drop (or closed long ago)");
	} else if (!coord_drop_priced(d)) {
		prices_answer(r, DROPNET__STATUS__CONFLICT, "the drop has no prices");
		d = NULL;
	}
	return d;
}

/* Checks a live price request against d; returns the SKU's index or -1
 * after answering INVALID/CONFLICT. */
static int prices_live_check(coord_drop *d, const Dropnet__OpsRequest *q, mreq *r)
{
	int k = prices_sku_index(d, q->sku);
	const char *why = NULL;
	Dropnet__Status st = DROPNET__STATUS__INVALID;
	if (d->state == DROP_CLOSED) {
		why = "the drop is closed";
		st = DROPNET__STATUS__CONFLICT;
	} else if (k < 0) {
		why = "the SKU is not part of the drop";
	} else if (q->tier[0] && drop_tier_find(d->tiers, d->ntiers, q->tier) < 0) {
		why = "the drop has no such tier";
	} else if (q->minutes > PRICE_MINUTES_MAX) {
		why = "minutes must be 0..10080";
	} else if (q->minutes > 0 && (q->price_minor < d->spec->skus[k]->floor_minor ||
	    q->price_minor > d->spec->skus[k]->ceiling_minor)) {
		why = "the live price must lie within the SKU's floor and ceiling";
	}
	if (why != NULL) {
		prices_answer(r, st, why);
		return -1;
	}
	return k;
}

/* The live price row, with the exposures counted since the last commit
 * (coord_txn_run's apply). Memory follows after the commit. */
static int prices_live_apply(coord *c, void *arg)
{
	int rv = coord_store_price_live_set(c->store, arg);
	return rv == 0 ? coord_experiments_flush(c) : rv;
}

/* `dropctl price live`: the SKU's live price from now for q->minutes (0:
 * ends now), durable before the answer. */
static void prices_live(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = prices_drop(c, q, r);
	int k = d != NULL ? prices_live_check(d, q, r) : -1;
	if (k < 0) {
		return;
	}
	int64_t now = coord_now_wall_ms(c);
	coord_store_price_live row = {d->id, q->sku, q->tier, q->price_minor, now,
	    now + (int64_t)q->minutes * 60000};
	if (q->minutes == 0) {
		row.price_minor = d->live[k].price_minor;
		row.tier = d->live[k].tier;
		row.starts_ms = d->live[k].starts_ms < now ? d->live[k].starts_ms : now;
	}
	if (coord_txn_run(c, "price_live", prices_live_apply, &row) != 0) {
		prices_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	snprintf(d->live[k].tier, sizeof(d->live[k].tier), "%s", row.tier);
	d->live[k].price_minor = row.price_minor;
	d->live[k].starts_ms = row.starts_ms;
	d->live[k].ends_ms = row.ends_ms;
	log_info("price.live", "drop=%s sku=%s tier=%s price_minor=%lld from_ms=%lld"
	    " until_ms=%lld", d->id, q->sku, row.tier[0] ? row.tier : "*",
	    (long long)row.price_minor, (long long)row.starts_ms, (long long)row.ends_ms);
	prices_answer(r, DROPNET__STATUS__OK, q->minutes > 0 ? "live price on" :
	    "live price ended");
}

/* OPS_PRICE_SHOW's rows (COORD_SCRATCH_PRICE_SHOW). */
typedef struct {
	Dropnet__PriceRow rows[DROP_SKUS_MAX * DROP_TIERS_MAX];
	Dropnet__PriceRow *rowp[DROP_SKUS_MAX * DROP_TIERS_MAX];
	char rules[DROP_SKUS_MAX * DROP_TIERS_MAX][PRICE_RULE_NAME_MAX];
} prices_show_rows;

/* `dropctl price show`: every SKU's price in every tier (or q->tier) now,
 * for the region q->hub (none: no demand signal). */
static void prices_show(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	coord_drop *d = prices_drop(c, q, r);
	if (d == NULL) {
		return;
	}
	prices_show_rows *w = coord_scratch(c, COORD_SCRATCH_PRICE_SHOW, sizeof(*w));
	if (w == NULL) {
		prices_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
	Dropnet__PriceRow *rows = w->rows;
	int region = q->hub[0] ? coord_hub_find(c, q->hub) : -1;
	int64_t now = coord_now_wall_ms(c);
	size_t n = 0;
	for (size_t k = 0; k < d->spec->n_skus && k < DROP_SKUS_MAX; k++) {
		const Dropnet__DropSku *ds = d->spec->skus[k];
		for (size_t t = 0; t < d->ntiers; t++) {
			if (q->tier[0] && strcmp(q->tier, d->tiers[t].name) != 0) {
				continue;
			}
			dropnet__price_row__init(&rows[n]);
			if (coord_price_line(c, d, (int)t, ds->sku, region, "", NULL, now,
			    &rows[n].unit_minor, w->rules[n], NULL) != 0) {
				continue;
			}
			rows[n].sku = ds->sku;
			rows[n].tier = (char *)d->tiers[t].name;
			rows[n].rule = w->rules[n];
			rows[n].floor_minor = ds->floor_minor;
			rows[n].ceiling_minor = ds->ceiling_minor;
			w->rowp[n] = &rows[n];
			n++;
		}
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.n_prices = n;
	rep.prices = w->rowp;
	rep.currency = d->spec->currency;
	rep.clock_ms = now;
	coord_ops_send(r, &rep);
}


/* The quote's region and what hubs in range of (lat, lon) may still sell of
 * sku: *region the nearest routable hub in range (-1: none). */
static int64_t prices_in_range(coord *c, double lat, double lon, const char *sku,
    int *region)
{
	uint64_t now = coord_now_mono_ms(c);
	double best = 0;
	int64_t n = 0;
	*region = -1;
	for (size_t h = 0; h < c->nhubs; h++) {
		coord_hub *hub = &c->hubs[h];
		double km = geo_distance_km(lat, lon, hub->lat, hub->lon);
		if (km > hub->radius_km || !coord_hub_routable(c, hub, now)) {
			continue;
		}
		if (*region < 0 || km < best) {
			*region = (int)h;
			best = km;
		}
		coord_stock *s = coord_stock_get(c, (int)h, sku, false);
		int64_t v = s != NULL ? ledger_sellable(&s->row) : 0;
		n += v > 0 ? v : 0;
	}
	return n;
}

/* Fields of a quote request; returns the field at fault, or NULL. */
static const char *prices_quote_check(const Dropnet__QuoteRequest *q, const char **why)
{
	*why = "must be 1..64 printable characters";
	if (!validate_id(q->customer)) {
		return "customer";
	}
	if (!validate_id(q->drop_id)) {
		return "drop_id";
	}
	if (!validate_id(q->tier)) {
		return "tier";
	}
	if (q->n_skus == 0 || q->n_skus > DN_ORDER_LINES_MAX) {
		*why = "1..32 SKUs";
		return "skus";
	}
	for (size_t i = 0; i < q->n_skus; i++) {
		if (!validate_id(q->skus[i])) {
			return "skus";
		}
	}
	if (!geo_coord_valid(q->lat, q->lon)) {
		*why = "ship-to must be valid WGS84 degrees";
		return "lat";
	}
	return NULL;
}

/* Drop-level checks of a quote; DROPNET__STATUS__OK or the refusal. */
static Dropnet__Status prices_quote_drop(coord *c, const Dropnet__QuoteRequest *q,
    coord_drop *d, int *tier_idx, const char **why)
{
	if (d == NULL) {
		*why = "unknown drop";
		return DROPNET__STATUS__NOT_FOUND;
	}
	drop_verdict v = drop_check(d->state, d->tiers, d->ntiers, q->tier,
	    coord_now_wall_ms(c), coord_drop_is_insider(d, q->customer), 0, tier_idx);
	*why = drop_verdict_name(v);
	switch (v) {
	case DROP_OK: break;
	case DROP_NOT_OPEN: return DROPNET__STATUS__NOT_OPEN;
	case DROP_WINDOW_CLOSED: return DROPNET__STATUS__CLOSED;
	case DROP_TIER_NOT_ALLOWED: return DROPNET__STATUS__TIER_NOT_ALLOWED;
	default: return DROPNET__STATUS__SOLD_OUT;
	}
	for (size_t i = 0; i < q->n_skus; i++) {
		if (prices_sku_index(d, q->skus[i]) < 0) {
			*why = "a SKU is not part of the drop";
			return DROPNET__STATUS__INVALID;
		}
	}
	return DROPNET__STATUS__OK;
}

/* The metrics counters of arm of experiment x: its own pair's, or the
 * shared "other" once COORD_METRICS_ARMS_MAX pairs are taken. */
static coord_metrics_arm *prices_metrics_arm(coord *c, const coord_experiment *x, int arm)
{
	coord_metrics *m = &c->metrics;
	for (size_t i = 0; i < m->narms; i++) {
		if (strcmp(m->arms[i].experiment, x->id) == 0 &&
		    strcmp(m->arms[i].arm, x->arm[arm]) == 0) {
			return &m->arms[i];
		}
	}
	coord_metrics_arm *a = &m->arms[m->narms < COORD_METRICS_ARMS_MAX ? m->narms :
	    COORD_METRICS_ARMS_MAX];
	if (m->narms < COORD_METRICS_ARMS_MAX) {
		snprintf(a->experiment, sizeof(a->experiment), "%s", x->id);
		snprintf(a->arm, sizeof(a->arm), "%s", x->arm[arm]);
		m->narms++;
	} else if (a->experiment[0] == '\0') {
		snprintf(a->experiment, sizeof(a->experiment), "other");
		snprintf(a->arm, sizeof(a->arm), "other");
	}
	return a;
}

/* One SKU of a quote into qp (tok and rule: its buffers). */
static void prices_quote_sku(coord *c, const Dropnet__QuoteRequest *q,
    coord_drop *d, int tier_idx, size_t i, Dropnet__QuotePrice *qp, char *tok,
    char *rule)
{
	int64_t now = coord_now_wall_ms(c);
	int region = -1;
	int64_t left = prices_in_range(c, q->lat, q->lon, q->skus[i], &region);
	dropnet__quote_price__init(qp);
	qp->sku = q->skus[i];
	qp->availability = left <= 0 ? DROPNET__AVAILABILITY__SOLD_OUT_HERE :
	    left <= c->cfg.quote_low_units ? DROPNET__AVAILABILITY__LOW :
	    DROPNET__AVAILABILITY__IN_STOCK;
	qp->rule = (char *)"unpriced";
	qp->token = (char *)"";
	int arm = -1;
	if (coord_price_line(c, d, tier_idx, q->skus[i], region, q->customer, NULL, now,
	    &qp->unit_minor, rule, &arm) != 0) {
		return;
	}
	if (arm >= 0) {
		/* An exposure: counted in memory, written by the next group
		 * commit (coord_experiments_flush). */
		coord_experiment *x = coord_experiment_find(c, d->id, q->skus[i]);
		x->pending[arm]++;
		prices_metrics_arm(c, x, arm)->exposures++;
		qp->arm = x->arm[arm];
	}
	qp->rule = rule;
	qp->expires_ms = now + c->cfg.quote_ttl_ms;
	qtoken_fields f = {d->id, q->skus[i], d->tiers[tier_idx].name, q->customer,
	    qp->unit_minor, qp->expires_ms};
	if (qtoken_make(c->quote_secret, c->quote_secret_len, &f, tok, QTOKEN_MAX) == 0) {
		qp->token = tok;
	}
}

/* A QuoteReply's prices, tokens and rule names (COORD_SCRATCH_QUOTE). */
typedef struct {
	Dropnet__QuotePrice qp[DN_ORDER_LINES_MAX];
	Dropnet__QuotePrice *qpp[DN_ORDER_LINES_MAX];
	char toks[DN_ORDER_LINES_MAX][QTOKEN_MAX];
	char rules[DN_ORDER_LINES_MAX][PRICE_RULE_NAME_MAX];
} prices_quote_rows;

static void prices_quote(coord *c, const Dropnet__QuoteRequest *q, Dropnet__QuoteReply *rep)
{
	const char *why = "";
	rep->version = DN_PROTO_VERSION;
	if (c->degraded) {
		rep->status = DROPNET__STATUS__UNAVAILABLE;
		rep->message = "the coordinator is reloading its ledger";
		return;
	}
	const char *field = prices_quote_check(q, &why);
	if (field != NULL) {
		rep->status = DROPNET__STATUS__INVALID;
		rep->field = (char *)field;
		rep->message = (char *)why;
		return;
	}
	coord_drop *d = coord_drop_find(c, q->drop_id);
	int tier_idx = -1;
	rep->status = prices_quote_drop(c, q, d, &tier_idx, &why);
	if (rep->status != DROPNET__STATUS__OK) {
		rep->message = (char *)why;
		return;
	}
	prices_quote_rows *w = coord_scratch(c, COORD_SCRATCH_QUOTE, sizeof(*w));
	if (w == NULL) {
		rep->status = DROPNET__STATUS__UNAVAILABLE;
		rep->message = "out of memory";
		return;
	}
	rep->currency = d->spec->currency;
	for (size_t i = 0; i < q->n_skus; i++) {
		prices_quote_sku(c, q, d, tier_idx, i, &w->qp[i], w->toks[i], w->rules[i]);
		w->qpp[i] = &w->qp[i];
	}
	rep->n_prices = q->n_skus;
	rep->prices = w->qpp;
}

void coord_quote(coord *c, const Dropnet__QuoteRequest *q, Dropnet__QuoteReply *rep)
{
	prices_quote(c, q, rep);
	size_t st = (size_t)rep->status < COORD_METRICS_STATUS_MAX ? (size_t)rep->status : 0;
	c->metrics.quotes[st]++;
}

/* Money rows of one KPI reply, per grouping: every hub and the "" region,
 * every tier; arm rows past it are left out (33 experiments of 8 arms).
 * A KPI job is sized before it knows the registry's size (it may run off
 * the loop): the largest registry, DN_HUBS_CAP. */
#define PRICES_MONEY_ROWS_MAX (DN_HUBS_CAP + DROP_TIERS_MAX)
/* A row's key: an id, or "experiment/arm". */
#define PRICES_MONEY_KEY_MAX (2 * (DN_ID_MAX + 1))

enum { PRICES_MONEY_TIER, PRICES_MONEY_HUB, PRICES_MONEY_REGION, PRICES_MONEY_ARM,
	PRICES_MONEY_GROUPS };

typedef struct {
	const coord_kpi_src *src;
	Dropnet__MoneyRow *rows;
	Dropnet__MoneyRow **ptrs;
	char (*keys)[PRICES_MONEY_KEY_MAX];
	size_t n;
	int64_t revenue;
} prices_money;

/* A KPI reply's money rows per grouping (COORD_SCRATCH_KPI_MONEY). */
typedef struct {
	Dropnet__MoneyRow rows[PRICES_MONEY_GROUPS][PRICES_MONEY_ROWS_MAX];
	Dropnet__MoneyRow *ptrs[PRICES_MONEY_GROUPS][PRICES_MONEY_ROWS_MAX];
	char keys[PRICES_MONEY_GROUPS][PRICES_MONEY_ROWS_MAX][PRICES_MONEY_KEY_MAX];
} prices_money_rows;

/* The next row of pm (NULL when full), its key and counts set. */
static Dropnet__MoneyRow *prices_money_add(prices_money *pm, const char *key,
    uint64_t orders, uint64_t units, int64_t revenue)
{
	if (pm->n == PRICES_MONEY_ROWS_MAX) {
		return NULL;
	}
	Dropnet__MoneyRow *m = &pm->rows[pm->n];
	dropnet__money_row__init(m);
	snprintf(pm->keys[pm->n], PRICES_MONEY_KEY_MAX, "%s", key);
	m->key = pm->keys[pm->n];
	m->orders = (uint32_t)orders;
	m->units = (uint32_t)units;
	m->revenue_minor = revenue;
	m->aov_minor = orders > 0 ? revenue / (int64_t)orders : 0;
	pm->revenue += revenue;
	pm->ptrs[pm->n++] = m;
	return m;
}

static int prices_money_row(void *arg, const coord_store_money_row *r)
{
	return prices_money_add(arg, r->key, r->orders, r->units, r->revenue_minor) != NULL ?
	    0 : COORD_STORE_STOP;
}

/* One arm: its name from the experiment's spec, its exposures with those
 * counted in memory since the last commit (a running experiment's). */
static int prices_money_arm(void *arg, const coord_store_money_arm *r)
{
	prices_money *pm = arg;
	Dropnet__Experiment *e = NULL;
	if (codec_experiment_unpack(r->spec, r->spec_len, &e) != 0) {
		return DN_EIO;
	}
	char key[PRICES_MONEY_KEY_MAX];
	snprintf(key, sizeof(key), "%.64s/%.64s", r->experiment,
	    r->idx >= 0 && (size_t)r->idx < e->n_arms ? e->arms[r->idx]->name : "?");
	uint64_t exposures = r->exposures;
	for (size_t i = 0; i < pm->src->nexps; i++) {
		const coord_experiment *x = &pm->src->exps[i];
		if (strcmp(x->id, r->experiment) == 0 && r->idx >= 0 && (size_t)r->idx < x->narms) {
			exposures += x->pending[r->idx];
		}
	}
	codec_experiment_free(e);
	Dropnet__MoneyRow *m = prices_money_add(pm, key, r->orders, r->units, r->revenue_minor);
	if (m == NULL) {
		return COORD_STORE_STOP;
	}
	m->exposures = exposures;
	return 0;
}

size_t coord_kpi_money_size(void)
{
	return sizeof(prices_money_rows);
}

int coord_kpi_money(const coord_kpi_src *src, Dropnet__DropKpi *k)
{
	if (!src->priced) {
		return 0;
	}
	prices_money_rows *w = src->money;
	if (w == NULL) {
		return DN_ENOMEM;
	}
	prices_money g[PRICES_MONEY_GROUPS];
	for (size_t i = 0; i < PRICES_MONEY_GROUPS; i++) {
		g[i] = (prices_money){src, w->rows[i], w->ptrs[i], w->keys[i], 0, 0};
	}
	const char *id = src->drop_id;
	if (coord_store_money_scan(src->s, id, COORD_MONEY_TIER, prices_money_row,
	    &g[PRICES_MONEY_TIER]) != 0 ||
	    coord_store_money_scan(src->s, id, COORD_MONEY_HUB, prices_money_row,
	    &g[PRICES_MONEY_HUB]) != 0 ||
	    coord_store_money_scan(src->s, id, COORD_MONEY_REGION, prices_money_row,
	    &g[PRICES_MONEY_REGION]) != 0 ||
	    coord_store_money_arms(src->s, id, prices_money_arm, &g[PRICES_MONEY_ARM]) != 0) {
		return DN_EIO;
	}
	k->currency = (char *)src->currency;
	k->revenue_minor = g[PRICES_MONEY_TIER].revenue;
	k->n_money_by_tier = g[PRICES_MONEY_TIER].n;
	k->money_by_tier = g[PRICES_MONEY_TIER].ptrs;
	k->n_money_by_hub = g[PRICES_MONEY_HUB].n;
	k->money_by_hub = g[PRICES_MONEY_HUB].ptrs;
	k->n_money_by_region = g[PRICES_MONEY_REGION].n;
	k->money_by_region = g[PRICES_MONEY_REGION].ptrs;
	k->n_money_by_arm = g[PRICES_MONEY_ARM].n;
	k->money_by_arm = g[PRICES_MONEY_ARM].ptrs;
	return 0;
}

/* ---- experiments ---- */

typedef struct prices_exp prices_exp;
/* An experiment read back: its stored spec and row, and its arms' counts
 * (the file's, plus exposures still in memory). */
struct prices_exp {
	coord *c;
	Dropnet__Experiment *spec;
	char state[16];
	int64_t created_ms, stopped_ms;
	experiment_counts n[EXPERIMENT_ARMS_MAX];
	uint64_t units[EXPERIMENT_ARMS_MAX];
};
static int prices_exp_read(coord *c, const char *id, prices_exp *x);

int coord_experiments_flush(coord *c)
{
	for (size_t i = 0; i < c->nexps; i++) {
		coord_experiment *x = &c->exps[i];
		for (size_t a = 0; a < x->narms; a++) {
			if (x->pending[a] == 0) {
				continue;
			}
			coord_store_arm_row row = {.idx = (int)a, .exposures = x->pending[a]};
			if (coord_store_arm_add(c->store, x->id, &row) != 0) {
				return DN_EIO;
			}
			x->pending[a] = 0;
		}
	}
	return 0;
}

int coord_experiment_outcome(coord *c, const coord_drop *d, const char *sku, int arm,
    uint32_t qty, int64_t unit_minor)
{
	const coord_experiment *x = coord_experiment_find(c, d->id, sku);
	if (x == NULL || arm < 0 || (size_t)arm >= x->narms) {
		return 0;
	}
	double rev = (double)unit_minor * qty;
	coord_store_arm_row row = {.idx = arm, .orders = 1, .units = qty,
	    .revenue_minor = unit_minor * (int64_t)qty, .revenue_sq = rev * rev};
	int rv = coord_store_arm_add(c->store, x->id, &row);
	if (rv == 0) {
		/* Counted once the order's transaction commits (txn.c). */
		prices_metrics_arm(c, x, arm)->outcomes_txn++;
		c->metrics.arms_txn = true;
	}
	return rv;
}

/* An experiment's row and arms, then the exposures counted since the last
 * commit (coord_txn_run's apply). */
typedef struct {
	const coord_store_experiment_row *row;
	size_t narms;
} prices_exp_new;

static int prices_exp_insert_apply(coord *c, void *arg)
{
	const prices_exp_new *x = arg;
	int rv = coord_store_experiment_insert(c->store, x->row, x->narms);
	return rv == 0 ? coord_experiments_flush(c) : rv;
}

/* The arm's last exposures first (the flush), then the stop. */
static int prices_exp_stop_apply(coord *c, void *arg)
{
	int rv = coord_experiments_flush(c);
	return rv == 0 ? coord_store_experiment_stop(c->store, arg,
	    coord_now_wall_ms(c)) : rv;
}

/* An experiment to create: its fields and arms against drop d. NULL when
 * good, else why. */
static const char *prices_exp_check(coord *c, const Dropnet__Experiment *e,
    coord_drop **dp, int *kp)
{
	coord_drop *d = coord_drop_find(c, e->drop_id);
	*dp = d;
	if (!validate_id(e->id)) {
		return "the experiment id must be 1..64 printable characters";
	}
	if (d == NULL || d->state == DROP_CLOSED || !coord_drop_priced(d)) {
		return "the drop must exist, have prices and not be closed";
	}
	int k = prices_sku_index(d, e->sku);
	*kp = k;
	if (k < 0) {
		return "the SKU is not part of the drop";
	}
	if (coord_experiment_find(c, d->id, e->sku) != NULL) {
		return "the SKU already has a running experiment";
	}
	if (c->nexps == COORD_EXPERIMENTS_MAX) {
		return "too many experiments running (64): stop one first";
	}
	if (e->n_arms < 2 || e->n_arms > EXPERIMENT_ARMS_MAX) {
		return "an experiment has 2..8 arms";
	}
	const Dropnet__DropSku *ds = d->spec->skus[k];
	for (size_t a = 0; a < e->n_arms; a++) {
		if (!validate_id(e->arms[a]->name)) {
			return "arm names must be 1..64 printable characters";
		}
		for (size_t b = 0; b < a; b++) {
			if (strcmp(e->arms[a]->name, e->arms[b]->name) == 0) {
				return "arm names must differ";
			}
		}
		if (e->arms[a]->price_minor < ds->floor_minor ||
		    e->arms[a]->price_minor > ds->ceiling_minor) {
			return "every arm's price must lie within the SKU's floor and ceiling";
		}
	}
	return NULL;
}

/* A clean copy of e to store (arms' names and prices only). */
static int prices_exp_pack(const Dropnet__Experiment *e, uint8_t **buf, size_t *len)
{
	Dropnet__ExperimentArm arms[EXPERIMENT_ARMS_MAX];
	Dropnet__ExperimentArm *armp[EXPERIMENT_ARMS_MAX];
	for (size_t a = 0; a < e->n_arms; a++) {
		dropnet__experiment_arm__init(&arms[a]);
		arms[a].name = e->arms[a]->name;
		arms[a].price_minor = e->arms[a]->price_minor;
		armp[a] = &arms[a];
	}
	Dropnet__Experiment x = DROPNET__EXPERIMENT__INIT;
	x.id = e->id;
	x.drop_id = e->drop_id;
	x.sku = e->sku;
	x.n_arms = e->n_arms;
	x.arms = armp;
	return codec_experiment_pack(&x, buf, len);
}

static void prices_exp_create(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	const Dropnet__Experiment *e = q->experiment;
	coord_drop *d = NULL;
	int k = -1;
	if (e == NULL || !validate_id(e->id)) {
		prices_answer(r, DROPNET__STATUS__INVALID, "an experiment with an id of 1..64"
		    " printable characters is required");
		return;
	}
	prices_exp old;
	int grv = prices_exp_read(c, e->id, &old);
	codec_experiment_free(old.spec);
	if (grv != DN_ENOENT) {
		prices_answer(r, grv == 0 ? DROPNET__STATUS__CONFLICT : DROPNET__STATUS__UNAVAILABLE,
		    grv == 0 ? "the experiment id is taken" : "storage failed");
		return;
	}
	const char *why = prices_exp_check(c, e, &d, &k);
	if (why != NULL) {
		prices_answer(r, DROPNET__STATUS__INVALID, why);
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	if (prices_exp_pack(e, &buf, &len) != 0) {
		prices_answer(r, DROPNET__STATUS__UNAVAILABLE, "out of memory");
		return;
	}
	int64_t now = coord_now_wall_ms(c);
	coord_store_experiment_row row = {e->id, e->drop_id, e->sku, "running", now, 0, buf,
	    len};
	prices_exp_new xn = {&row, e->n_arms};
	int rv = coord_txn_run(c, "experiment_create", prices_exp_insert_apply, &xn);
	free(buf);
	if (rv != 0) {
		prices_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	coord_experiment *x = &c->exps[c->nexps++];
	memset(x, 0, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", e->id);
	snprintf(x->drop_id, sizeof(x->drop_id), "%s", d->id);
	snprintf(x->sku, sizeof(x->sku), "%s", e->sku);
	x->narms = e->n_arms;
	for (size_t a = 0; a < e->n_arms; a++) {
		snprintf(x->arm[a], sizeof(x->arm[a]), "%s", e->arms[a]->name);
		x->price[a] = e->arms[a]->price_minor;
	}
	log_info("experiment.created", "id=%s drop=%s sku=%s arms=%zu", e->id, e->drop_id,
	    e->sku, e->n_arms);
	prices_answer(r, DROPNET__STATUS__OK, "experiment running");
}


static int prices_exp_row(void *arg, const coord_store_experiment_row *r)
{
	prices_exp *x = arg;
	snprintf(x->state, sizeof(x->state), "%s", r->state);
	x->created_ms = r->created_ms;
	x->stopped_ms = r->stopped_ms;
	return codec_experiment_unpack(r->spec, r->spec_len, &x->spec) == 0 ? 0 : DN_EIO;
}

static int prices_arm_row(void *arg, const coord_store_arm_row *r)
{
	prices_exp *x = arg;
	if (r->idx >= 0 && r->idx < (int)EXPERIMENT_ARMS_MAX) {
		x->n[r->idx] = (experiment_counts){r->exposures, r->orders, r->revenue_minor,
		    r->revenue_sq};
		x->units[r->idx] = r->units;
	}
	return 0;
}

/* Reads experiment id into x (x->spec to free). 0, DN_ENOENT or DN_EIO. */
static int prices_exp_read(coord *c, const char *id, prices_exp *x)
{
	memset(x, 0, sizeof(*x));
	x->c = c;
	int rv = coord_store_experiment_get(c->store, id, prices_exp_row, x);
	if (rv == 0) {
		rv = coord_store_arm_list(c->store, id, prices_arm_row, x);
	}
	const coord_experiment *m = rv == 0 ?
	    coord_experiment_find(c, x->spec->drop_id, x->spec->sku) : NULL;
	for (size_t a = 0; m != NULL && strcmp(m->id, id) == 0 && a < m->narms; a++) {
		x->n[a].exposures += m->pending[a];
	}
	return rv;
}

/* Fills x->spec's reply fields from its counts and the readout. */
static void prices_exp_fill(prices_exp *x, char *verdict, size_t vlen)
{
	Dropnet__Experiment *e = x->spec;
	size_t narms = e->n_arms < EXPERIMENT_ARMS_MAX ? e->n_arms : EXPERIMENT_ARMS_MAX;
	experiment_readout out;
	experiment_read(x->n, narms > 0 ? narms : 1, &out);
	for (size_t a = 0; a < narms; a++) {
		Dropnet__ExperimentArm *arm = e->arms[a];
		const experiment_arm_readout *ro = &out.arm[a];
		arm->exposures = x->n[a].exposures;
		arm->orders = x->n[a].orders;
		arm->units = x->units[a];
		arm->revenue_minor = x->n[a].revenue;
		arm->conversion = ro->conversion;
		arm->conversion_lo = ro->conversion_lo;
		arm->conversion_hi = ro->conversion_hi;
		arm->rpe = ro->rpe;
		arm->rpe_lo = ro->rpe_lo;
		arm->rpe_hi = ro->rpe_hi;
	}
	e->state = x->state;
	e->created_ms = x->created_ms;
	e->stopped_ms = x->stopped_ms;
	e->significant = out.significant;
	e->z = out.z;
	e->best_arm = out.best >= 0 ? e->arms[out.best]->name : (char *)"";
	if (out.significant) {
		snprintf(verdict, vlen, "arm %s earns more per exposure than arm %s (z = %.2f)",
		    e->arms[out.best]->name, e->arms[out.runner_up]->name, out.z);
	} else {
		snprintf(verdict, vlen, "not significant yet (z = %.2f; at least %u exposures per"
		    " arm and z >= 1.96 needed)", out.z, EXPERIMENT_MIN_EXPOSURES);
	}
	e->verdict = verdict;
}

static void prices_exp_show(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	char verdict[200];
	prices_exp x;
	int rv = prices_exp_read(c, q->experiment_id, &x);
	if (rv != 0) {
		codec_experiment_free(x.spec);
		prices_answer(r, rv == DN_ENOENT ? DROPNET__STATUS__NOT_FOUND :
		    DROPNET__STATUS__UNAVAILABLE, rv == DN_ENOENT ? "no such experiment" :
		    "storage failed");
		return;
	}
	/* The reply points into x.spec's own strings: swap the verdict in
	 * only for the pack, then give the spec its own fields back. */
	char *vs = x.spec->verdict, *st = x.spec->state, *best = x.spec->best_arm;
	prices_exp_fill(&x, verdict, sizeof(verdict));
	Dropnet__Experiment *ep = x.spec;
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = DROPNET__STATUS__OK;
	rep.n_experiments = 1;
	rep.experiments = &ep;
	rep.clock_ms = coord_now_wall_ms(c);
	coord_ops_send(r, &rep);
	x.spec->verdict = vs;
	x.spec->state = st;
	x.spec->best_arm = best;
	codec_experiment_free(x.spec);
}

static void prices_exp_stop(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	prices_exp x;
	int rv = prices_exp_read(c, q->experiment_id, &x);
	bool running = rv == 0 && strcmp(x.state, "running") == 0;
	codec_experiment_free(x.spec);
	if (rv != 0 || !running) {
		prices_answer(r, rv == DN_ENOENT ? DROPNET__STATUS__NOT_FOUND :
		    rv == 0 ? DROPNET__STATUS__CONFLICT : DROPNET__STATUS__UNAVAILABLE,
		    rv == DN_ENOENT ? "no such experiment" : rv == 0 ?
		    "the experiment is not running" : "storage failed");
		return;
	}
	if (coord_txn_run(c, "experiment_stop", prices_exp_stop_apply,
	    q->experiment_id) != 0) {
		prices_answer(r, DROPNET__STATUS__UNAVAILABLE, "storage failed");
		return;
	}
	for (size_t i = 0; i < c->nexps; i++) {
		if (strcmp(c->exps[i].id, q->experiment_id) == 0) {
			c->exps[i] = c->exps[--c->nexps];
			break;
		}
	}
	log_info("experiment.stopped", "id=%s", q->experiment_id);
	prices_answer(r, DROPNET__STATUS__OK, "experiment stopped");
}

void coord_ops_prices(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	switch (q->kind) {
	case DROPNET__OPS_KIND__OPS_PRICE_LIVE: prices_live(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_PRICE_SHOW: prices_show(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_CREATE: prices_exp_create(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_SHOW: prices_exp_show(c, q, r); break;
	case DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP: prices_exp_stop(c, q, r); break;
	default: prices_answer(r, DROPNET__STATUS__INVALID, "unknown ops kind"); break;
	}
}
