/*
 * rebalance.c - the coordinator's second job (issue 5): demand history,
 * forecasts per hub region, the rebalance plan (holdback releases and
 * hub-to-hub transfers), transfers as hub work, live spike detection, and
 * the regional signals published for storefronts.
 *
 * The decisions are pure (common/core/forecast_panel.c, planner.c,
 * spike.c); this file gathers their inputs from the ledger and the journal
 * and carries out what they return. The forecasts come from the adaptive
 * model fitted at each plan on the network's whole demand history (every
 * hub region and SKU), so a SKU's forecast depends on the network's own
 * data, the ledger and the coordinator's clock only.
 *
 * Demand history is the journal itself: each order's nearest healthy hub in
 * range (orders.nearest_hub) names its region; accepted, held, lapsed and
 * SOLD_OUT orders all count, since demand turned away is the real signal
 * when a region sells out (censored demand).
 *
 * A transfer: the source's units are allocated to a placement of kind
 * 'transfer' and the source hub gets CMD_TRANSFER_OUT (pick work in its
 * queue). Shipping it (EV_SHIPPED) takes the units off the source's books
 * into transit; the destination receives them (EV_RECEIVED with the
 * transfer id) onto its own. Audit checks transit against the transfers.
 *
 * Signals: each spike bucket, for every open drop's SKU and every hub
 * region, the region's count is tested (Poisson CUSUM) against its expected
 * share of the network's count in that bucket: a network-wide opening rush
 * lifts every region alike and cancels out, a regional jump does not. Every
 * bucket's figures go to the outbox (the shell publishes them on its pub socket, topic
 * "signal", after the tick's commits are durable); a
 * declared spike is logged with its evidence and triggers a rebalance of
 * that SKU.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/forecast.h"
#include "core/forecast_panel.h"
#include "core/geo.h"
#include "core/planner.h"
#include "core/spike.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* A bound below as text, for a message that names it. */
#define REBAL_STR_(x) #x
#define REBAL_STR(x) REBAL_STR_(x)
/* SKUs planned in one request: every SKU with stock, bounded. */
#define REBAL_SKUS_MAX 256
/* (region, sku) series under spike watch. */
#define REBAL_WATCH_MAX 1024
/* Demand rows returned by one OPS_DEMAND. */
#define REBAL_DEMAND_ROWS_MAX 20000
/* Transfers listed by one OPS_TRANSFERS. */
#define REBAL_TRANSFERS_MAX 500

typedef struct {
	int hub;
	char sku[DN_ID_MAX + 1];
	spike_state st;
	/* Observed over expected rate of the last declared spike: the demand
	 * signal prices follow while the series cools down after it. */
	double spike_ratio;
} rebal_watch;

/* History values one plan's model panel holds at most (16 MB): beyond,
 * the SKUs after the first that fit are forecast, not learned from. */
#define REBAL_PANEL_VALUES_MAX (2u << 20)

/* Plan actions and hub forecasts (hubs_max x this) one plan reply lists,
 * at most. */
#define REBAL_ACTIONS_MAX (REBAL_SKUS_MAX * 8)
#define REBAL_FORECASTS_PER_HUB 8

/* One rebalance run's working set and its reply's arrays: rebal_run fills
 * them, and the plan it returns points into them until the next run. */
typedef struct {
	char skus[REBAL_SKUS_MAX][DN_ID_MAX + 1];
	char pskus[REBAL_SKUS_MAX][DN_ID_MAX + 1]; /* the model's panel */
	forecast_panel panel;
	planner_plan plan;
	planner_hub *ph;              /* hubs_max each (coord_rebalance_init) */
	forecast_panel_why *why;
	int *idx;
	Dropnet__PlanAction acts[REBAL_ACTIONS_MAX];
	Dropnet__PlanAction *actp[REBAL_ACTIONS_MAX];
	char tids[REBAL_ACTIONS_MAX][DN_ID_MAX + 1];
	char tlast[REBAL_ACTIONS_MAX][DN_ID_MAX + 1]; /* a split trip's last */
	char askus[REBAL_ACTIONS_MAX][DN_ID_MAX + 1];
	size_t fc_max;                /* hubs_max x REBAL_FORECASTS_PER_HUB */
	Dropnet__HubForecast *fc;
	Dropnet__HubForecast **fcp;
	char (*fskus)[DN_ID_MAX + 1];
	char (*fclus)[32];
	bool skus_cut;                /* more SKUs had stock than were planned */
} rebal_scratch;

typedef struct coord_signals {
	spike_params sp;
	rebal_watch watch[REBAL_WATCH_MAX];
	size_t nwatch;
	int64_t last_bucket_ms;   /* start of the last spike bucket tested */
	int64_t last_auto_ms;
	uint64_t transfers_made;
	rebal_scratch run;            /* rebal_run's */
	double *cnt, *share;          /* rebal_spikes' per hub (hubs_max) */
} coord_signals;

static void rebal_signals_free(coord_signals *s)
{
	if (s == NULL) {
		return;
	}
	free(s->run.ph);
	free(s->run.why);
	free(s->run.idx);
	free(s->run.fc);
	free(s->run.fcp);
	free(s->run.fskus);
	free(s->run.fclus);
	free(s->cnt);
	free(s->share);
	free(s);
}

/* The per-hub arrays of s for n hubs. 0 or DN_ENOMEM. */
static int rebal_signals_make(coord_signals *s, size_t n)
{
	rebal_scratch *w = &s->run;
	w->fc_max = n * REBAL_FORECASTS_PER_HUB;
	w->ph = calloc(n, sizeof(*w->ph));
	w->why = calloc(n, sizeof(*w->why));
	w->idx = calloc(n, sizeof(*w->idx));
	w->fc = calloc(w->fc_max, sizeof(*w->fc));
	w->fcp = calloc(w->fc_max, sizeof(*w->fcp));
	w->fskus = calloc(w->fc_max, sizeof(*w->fskus));
	w->fclus = calloc(w->fc_max, sizeof(*w->fclus));
	s->cnt = calloc(n, sizeof(*s->cnt));
	s->share = calloc(n, sizeof(*s->share));
	return w->ph == NULL || w->why == NULL || w->idx == NULL || w->fc == NULL ||
	    w->fcp == NULL || w->fskus == NULL || w->fclus == NULL || s->cnt == NULL ||
	    s->share == NULL ? DN_ENOMEM : 0;
}

int coord_rebalance_init(coord *c)
{
	coord_signals *s = calloc(1, sizeof(*s));
	if (s == NULL || rebal_signals_make(s, c->hubs_max) != 0) {
		rebal_signals_free(s);
		return DN_ENOMEM;
	}
	spike_params_default(&s->sp);
	s->sp.bucket_s = (double)c->cfg.spike_bucket_ms / 1000.0;
	/* Expected counts are the region's share of the live network count,
	 * which already carries the opening rush: no rush profile on top. */
	s->sp.rush_peak = 1.0;
	if (spike_params_check(&s->sp) != 0) {
		rebal_signals_free(s);
		return DN_EINVAL;
	}
	int64_t made = 0;
	if (coord_store_transfer_count(c->store, &made) != 0) {
		rebal_signals_free(s);
		return DN_EIO;
	}
	s->transfers_made = (uint64_t)made;
	c->signals = s;
	return 0;
}

void coord_rebalance_fini(coord *c)
{
	rebal_signals_free(c->signals);
	c->signals = NULL;
}

typedef struct {
	coord *c;
	size_t nb;
	double *y;
} rebal_history_arg;

static int rebal_history_row(void *arg, const coord_store_region_units *r)
{
	rebal_history_arg *a = arg;
	int h = coord_hub_find(a->c, r->hub);
	if (h >= 0 && r->bucket >= 0 && (size_t)r->bucket < a->nb) {
		a->y[(size_t)h * a->nb + (size_t)r->bucket] += (double)r->units;
	}
	return 0;
}

/* Fills y[h * nb + b] with the demand units of sku in hub h's region for
 * bucket b of the nb buckets ending at end_ms. */
static int rebal_history(coord *c, const char *sku, int64_t end_ms, int64_t bucket_ms,
    size_t nb, double *y)
{
	memset(y, 0, c->nhubs * nb * sizeof(*y));
	int64_t start = end_ms - (int64_t)nb * bucket_ms;
	rebal_history_arg a = {c, nb, y};
	return coord_store_demand_buckets(c->store, sku, start, end_ms, bucket_ms,
	    rebal_history_row, &a);
}

typedef struct {
	int64_t bucket_ms;
	unsigned horizon;
	double service;
} rebal_opts;

static void rebal_opts_of(coord *c, const Dropnet__OpsRequest *q, rebal_opts *o)
{
	o->bucket_ms = q != NULL && q->bucket_ms >= DN_BUCKET_MS_MIN &&
	    q->bucket_ms <= DN_BUCKET_MS_MAX ? q->bucket_ms : c->cfg.bucket_ms;
	o->horizon = q != NULL && q->horizon > 0 && q->horizon <= FORECAST_HORIZON_MAX ?
	    q->horizon : (unsigned)c->cfg.horizon;
	o->service = q != NULL && q->service >= FORECAST_SERVICE_MIN &&
	    q->service <= FORECAST_SERVICE_MAX ? q->service : c->cfg.service;
}

/* Fills p with hub h's side of sku's plan: its books, its forecast from
 * its region's history y (nb buckets; mean: scratch for the horizon) and
 * the units already on their way to it. *usable is false when the hub's
 * books cannot take part. */
static int rebal_plan_hub(coord *c, size_t h, const char *sku, const double *y,
    size_t nb, double *mean, planner_hub *p, forecast_panel_why *why, bool *usable)
{
	*usable = false;
	forecast_result fr;
	if (forecast_panel_series(&c->signals->run.panel, y, nb, mean, &fr, why) != 0) {
		return DN_EINVAL;
	}
	coord_stock *s = coord_stock_get(c, (int)h, sku, false);
	memset(p, 0, sizeof(*p));
	p->id = c->hubs[h].id;
	p->lat = c->hubs[h].lat;
	p->lon = c->hubs[h].lon;
	p->on_hand = s != NULL ? s->row.on_hand : 0;
	p->allocated = s != NULL ? s->row.allocated : 0;
	p->holdback = s != NULL ? s->row.holdback : 0;
	/* The stock's mean, not the point forecast (which may be shrunk for
	 * accuracy on sparse series): the planner values expected units. */
	p->mean = why->stock_mean;
	p->cover = (int64_t)ceil(fr.stock);
	/* Units already on their way here count: without them every new plan
	 * would send another van for the same gap. */
	int rv = coord_store_transfer_incoming(c->store, c->hubs[h].id, sku, &p->incoming);
	if (rv != 0) {
		return rv;
	}
	if (p->allocated + p->holdback > p->on_hand) {
		/* A count took stock below what is promised: this hub can
		 * neither give nor be planned for until audit is resolved. */
		log_warn("rebalance.hub_skipped", "hub=%s sku=%s on_hand=%lld"
		    " allocated=%lld holdback=%lld", p->id, sku, (long long)p->on_hand,
		    (long long)p->allocated, (long long)p->holdback);
		return 0;
	}
	*usable = true;
	return 0;
}

/* Plans one sku from its history hist (hubs x buckets, the panel's), or
 * read here when hist is NULL. hubs_out/idx map planner indices to
 * coordinator hubs. */
static int rebal_plan_sku(coord *c, const char *sku, const double *hist, const rebal_opts *o,
    planner_plan *plan, planner_hub *ph, forecast_panel_why *why, int *idx, size_t *nph)
{
	size_t nb = (size_t)c->cfg.history_buckets;
	double *y = malloc(c->nhubs * nb * sizeof(*y) + 1);
	double *mean = malloc(o->horizon * sizeof(*mean) + 1);
	if (y == NULL || mean == NULL) {
		free(y);
		free(mean);
		return DN_ENOMEM;
	}
	int64_t now = coord_now_wall_ms(c);
	int rv = 0;
	if (hist != NULL) {
		memcpy(y, hist, c->nhubs * nb * sizeof(*y));
	} else {
		rv = rebal_history(c, sku, now, o->bucket_ms, nb, y);
	}
	uint64_t mono = coord_now_mono_ms(c);
	*nph = 0;
	for (size_t h = 0; rv == 0 && h < c->nhubs; h++) {
		if (!coord_hub_healthy(c, &c->hubs[h], mono)) {
			continue; /* neither a source nor a destination while down */
		}
		bool usable = false;
		rv = rebal_plan_hub(c, h, sku, &y[h * nb], nb, mean, &ph[*nph], &why[*nph],
		    &usable);
		if (rv == 0 && usable) {
			idx[*nph] = (int)h;
			(*nph)++;
		}
	}
	free(y);
	free(mean);
	if (rv != 0) {
		return rv;
	}
	planner_params pp;
	planner_params_default(&pp);
	pp.unit_value = c->cfg.unit_value;
	pp.trip_cost = c->cfg.trip_cost;
	pp.km_cost = c->cfg.km_cost;
	pp.trips_max = (unsigned)c->cfg.trips_max;
	pp.km_max = c->cfg.km_max;
	pp.transfer_min = c->cfg.transfer_min;
	/* What one trip's transfers can hold (rebal_transfer splits it). */
	pp.trip_max = DN_TRIP_UNITS_MAX;
	pp.service = o->service;
	return planner_plan_sku(ph, *nph, &pp, plan);
}

/* Queues the source's pick work for transfer id (placement pid). */
static int rebal_transfer_command(coord *c, int src, int dst, const char *sku,
    int64_t qty, const char *id, int64_t pid, int64_t now)
{
	/* The hub refuses a line over DN_LINE_QTY_MAX: rebal_transfer split. */
	assert(qty >= 1 && qty <= (int64_t)DN_LINE_QTY_MAX);
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	line.sku = (char *)sku;
	line.qty = (uint32_t)qty;
	Dropnet__OrderLine *lp = &line;
	char to[DN_ID_MAX + 8];
	snprintf(to, sizeof(to), "to:%s", c->hubs[dst].id);
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.kind = DROPNET__COMMAND_KIND__CMD_TRANSFER_OUT;
	/* A transfer answers demand that is arriving now: due at once. */
	cmd.promised_ms = now;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = (char *)id;
	cmd.customer = to;
	cmd.n_lines = 1;
	cmd.lines = &lp;
	cmd.time_ms = now;
	return coord_command_queue(c, src, &cmd);
}

/* Creates transfer number nth (id T<nth>-<dst>, written to id) of qty sku
 * from src to dst, qty in 1..DN_LINE_QTY_MAX (inside a tx). */
static int rebal_transfer_one(coord *c, int src, int dst, const char *sku, int64_t qty,
    int64_t nth, char *id, size_t idlen, int64_t now)
{
	snprintf(id, idlen, "T%lld-%s", (long long)nth, c->hubs[dst].id);
	c->signals->transfers_made = (uint64_t)nth;
	coord_stock *row = coord_stock_get(c, src, sku, false);
	if (row == NULL || ledger_allocate(&row->row, qty) != 0) {
		log_error("transfer.allocate_failed", "src=%s sku=%s qty=%lld", c->hubs[src].id,
		    sku, (long long)qty);
		return DN_ESTATE;
	}
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	coord_store_transfer_new t = {
	    .id = id, .sku = sku, .from_hub = c->hubs[src].id, .to_hub = c->hubs[dst].id,
	    .qty = qty, .created_ms = now,
	};
	int64_t pid = 0;
	if (coord_store_transfer_insert(c->store, &t, &pid) != 0) {
		return DN_EIO;
	}
	int rv = rebal_transfer_command(c, src, dst, sku, qty, id, pid, now);
	if (rv != 0) {
		return rv;
	}
	log_info("transfer.created", "id=%s sku=%s from=%s to=%s qty=%lld", id, sku,
	    c->hubs[src].id, c->hubs[dst].id, (long long)qty);
	return 0;
}

/*
 * Creates the transfers of one van trip of qty sku from src to dst (inside
 * a tx): one per DN_LINE_QTY_MAX units, since the hub takes no command line
 * over that (the last holds the rest), numbered consecutively; id gets the
 * first's id and last the last's ("" when there is one). The planner caps a
 * trip at DN_TRIP_UNITS_MAX, so there are at most DN_TRIP_TRANSFERS_MAX.
 */
static int rebal_transfer(coord *c, int src, int dst, const char *sku, int64_t qty,
    int64_t from_holdback, char *id, size_t idlen, char *last, size_t lastlen,
    int64_t now)
{
	assert(qty >= 1 && qty <= DN_TRIP_UNITS_MAX);
	assert(from_holdback >= 0 && from_holdback <= qty);
	/* Numbered inside the transaction: a rolled-back transfer leaves no gap
	 * that a later id could collide with. */
	int64_t nth = 0;
	int rv = coord_store_transfer_count(c->store, &nth);
	if (rv != 0) {
		return rv;
	}
	if (from_holdback > 0) {
		char reason[DN_ID_MAX + 40]; /* "transfer:T" + an int64 + "-" + a hub id */
		snprintf(reason, sizeof(reason), "transfer:T%lld-%s", (long long)(nth + 1),
		    c->hubs[dst].id);
		rv = coord_holdback_adjust(c, src, sku, -from_holdback, reason, now);
		if (rv != 0) {
			return rv;
		}
	}
	last[0] = '\0';
	int64_t left = qty;
	for (unsigned k = 0; rv == 0 && left > 0 && k < DN_TRIP_TRANSFERS_MAX; k++) {
		int64_t q = left < (int64_t)DN_LINE_QTY_MAX ? left : (int64_t)DN_LINE_QTY_MAX;
		rv = k == 0 ? rebal_transfer_one(c, src, dst, sku, q, nth + 1, id, idlen, now) :
		    rebal_transfer_one(c, src, dst, sku, q, nth + 1 + k, last, lastlen, now);
		left -= q;
	}
	assert(rv != 0 || left == 0);
	if (rv == 0 && last[0] != '\0') {
		log_info("transfer.split", "first=%s last=%s qty=%lld per_max=%u", id, last,
		    (long long)qty, DN_LINE_QTY_MAX);
	}
	return rv;
}

int coord_transfer_shipped(coord *c, int hub, int64_t pid, int64_t now)
{
	coord_store_transfer t;
	int rv = coord_store_transfer_by_placement(c->store, pid, &t);
	if (rv != 0 && rv != DN_ENOENT) {
		return rv;
	}
	if (rv == DN_ENOENT || strcmp(t.state, "picking") != 0) {
		log_warn("transfer.ship_ignored", "hub=%s placement=%lld", c->hubs[hub].id,
		    (long long)pid);
		return 0;
	}
	if (t.qty <= 0) {
		return 0; /* every unit was shorted: nothing leaves */
	}
	/* The units are on the van whatever the source's books say (a count
	 * taken while they sat in a tote took them off): booked by the rule of
	 * ledger_ship_force, never refused - a refusal would fail the hub's
	 * sync for good, since the hub sends the same event again. */
	coord_stock *row = coord_stock_get(c, hub, t.sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	ledger_gap gap;
	ledger_ship_force(&row->row, t.qty, &gap);
	row->adjusted += gap.found;
	coord_gap_note(c, hub, t.sku, "transfer_ship", pid, &gap);
	row->transfer_out += t.qty;
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	rv = coord_store_transfer_ship(c->store, t.id, pid, now);
	log_info("transfer.shipped", "id=%s qty=%lld", t.id, (long long)t.qty);
	return rv;
}

int coord_transfer_received(coord *c, int hub, const char *id, const char *sku,
    int64_t qty, int64_t now, int64_t *surplus)
{
	*surplus = qty;
	int64_t open = -1;
	int rv = coord_store_transfer_open_get(c->store, id, c->hubs[hub].id, sku, &open);
	if (rv != 0) {
		return rv;
	}
	if (open <= 0) {
		return DN_ENOENT;
	}
	int64_t q = qty < open ? qty : open;
	*surplus = qty - q;
	coord_stock *row = coord_stock_get(c, hub, sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	/* The caller checked the bounds of the whole receipt. */
	if (ledger_receive(&row->row, q) != 0 || ledger_count_add(&row->transfer_in, q) != 0) {
		return DN_ERANGE;
	}
	/* 'received' only once the source's shipment is booked too. */
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	rv = coord_store_transfer_receive(c->store, id, q, now);
	log_info("transfer.received", "id=%s hub=%s qty=%lld", id, c->hubs[hub].id,
	    (long long)q);
	return rv;
}

int coord_transfer_shorted(coord *c, int hub, int64_t pid, const char *sku, int64_t qty,
    int64_t kept)
{
	coord_store_transfer t;
	int rv = coord_store_transfer_by_placement(c->store, pid, &t);
	if (rv != 0 && rv != DN_ENOENT) {
		return rv;
	}
	/* Only a transfer still being picked, and only its own sku. */
	int64_t tq = rv == 0 && strcmp(t.state, "picking") == 0 &&
	    strcmp(t.sku, sku) == 0 ? t.qty : 0;
	int64_t q = qty < tq ? qty : tq;
	if (q <= 0) {
		log_warn("transfer.short_ignored", "hub=%s placement=%lld sku=%s", c->hubs[hub].id,
		    (long long)pid, sku);
		return 0;
	}
	coord_stock *row = coord_stock_get(c, hub, sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	/* The hub wrote off what it could not find beyond the units it kept
	 * (EV_SHORT.kept), as for an order's short. */
	kept = kept > 0 && kept <= q ? kept : 0;
	int64_t gone = 0;
	ledger_gap gap;
	ledger_short_force(&row->row, q, q - kept, &gone, &gap);
	coord_gap_note(c, hub, sku, "transfer_short", pid, &gap);
	row->lost += gone;
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	rv = coord_store_transfer_short(c->store, t.id, pid, q);
	log_info("transfer.shorted", "id=%s qty=%lld", t.id, (long long)q);
	return rv;
}

/* Distinct SKUs with stock anywhere (or just `only`), at most
 * REBAL_SKUS_MAX; *cut says whether more had stock. */
static size_t rebal_skus(coord *c, const char *only, char (*skus)[DN_ID_MAX + 1], bool *cut)
{
	size_t n = 0;
	*cut = false;
	if (only != NULL && only[0]) {
		snprintf(skus[0], DN_ID_MAX + 1, "%s", only);
		return 1;
	}
	for (size_t i = 0; i < c->stock_cap && !*cut; i++) {
		coord_stock *s = &c->stock[i];
		bool seen = s->hub < 0;
		for (size_t k = 0; k < n && !seen; k++) {
			seen = strcmp(skus[k], s->sku) == 0;
		}
		if (!seen && n == REBAL_SKUS_MAX) {
			*cut = true;
		} else if (!seen) {
			snprintf(skus[n++], DN_ID_MAX + 1, "%s", s->sku);
		}
	}
	return n;
}

/* Lists the forecast of each of the nph planned hubs that has stock or
 * demand for sku. */
static void rebal_forecasts_add(rebal_scratch *w, const char *sku, size_t nph,
    Dropnet__RebalancePlan *out)
{
	for (size_t h = 0; h < nph && out->n_forecasts < w->fc_max; h++) {
		const planner_hub *ph = &w->ph[h];
		if (ph->on_hand == 0 && ph->mean == 0) {
			continue;
		}
		Dropnet__HubForecast *f = &w->fc[out->n_forecasts];
		dropnet__hub_forecast__init(f);
		snprintf(w->fskus[out->n_forecasts], DN_ID_MAX + 1, "%.64s", sku);
		f->hub = (char *)ph->id;
		f->sku = w->fskus[out->n_forecasts];
		f->mean = ph->mean;
		f->cover = ph->cover;
		f->on_hand = ph->on_hand;
		f->allocated = ph->allocated;
		f->holdback = ph->holdback;
		f->sellable = ph->on_hand - ph->allocated - ph->holdback;
		f->model = (char *)forecast_panel_candidate_name(w->why[h].stock);
		f->cluster = forecast_panel_cluster_name(w->why[h].cluster,
		    w->fclus[out->n_forecasts], sizeof(w->fclus[0]));
		f->level = w->why[h].level;
		f->factor = w->why[h].factor;
		w->fcp[out->n_forecasts] = f;
		out->n_forecasts++;
	}
}

/* Lists action pa of sku's plan and, with apply, carries it out (inside
 * the run's transaction). */
static int rebal_action_add(coord *c, rebal_scratch *w, const char *sku,
    const planner_action *pa, bool apply, int64_t now, Dropnet__RebalancePlan *out)
{
	size_t i = out->n_actions++;
	Dropnet__PlanAction *x = &w->acts[i];
	dropnet__plan_action__init(x);
	snprintf(w->askus[i], DN_ID_MAX + 1, "%.64s", sku);
	x->kind = (char *)planner_kind_name(pa->kind);
	x->sku = w->askus[i];
	x->from_hub = pa->kind == PLANNER_TRANSFER ? c->hubs[w->idx[pa->src]].id : "";
	x->to_hub = c->hubs[w->idx[pa->hub]].id;
	x->qty = pa->qty;
	x->km = pa->km;
	x->gained = pa->gained;
	x->lost = pa->lost;
	x->value = pa->value;
	x->cost = pa->cost;
	x->from_holdback = pa->from_holdback > 0;
	x->transfer_id = "";
	x->transfer_id_last = "";
	w->actp[i] = x;
	if (!apply) {
		return 0;
	}
	if (pa->kind == PLANNER_RELEASE) {
		return coord_holdback_adjust(c, w->idx[pa->hub], sku, -pa->qty, "rebalance", now);
	}
	x->transfer_id = w->tids[i];
	x->transfer_id_last = w->tlast[i];
	return rebal_transfer(c, w->idx[pa->src], w->idx[pa->hub], sku, pa->qty,
	    pa->from_holdback, w->tids[i], sizeof(w->tids[i]), w->tlast[i],
	    sizeof(w->tlast[i]), now);
}

/* One run: the SKUs (only, or all), the options, apply or plan only. */
typedef struct {
	const char *only;
	const rebal_opts *o;
	bool apply;
	Dropnet__RebalancePlan *out;
} rebal_run_args;

/* The panel's histories: pskus[k]'s at y[k * per], per = hubs x nb. */
typedef struct {
	coord *c;
	size_t nb, per, nskus;
	double *y;
	const char *sorted[REBAL_SKUS_MAX];   /* the panel's SKUs, by strcmp */
	char (*pskus)[DN_ID_MAX + 1];
} rebal_panel_hist;

static int rebal_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* sku's history in the panel's, or NULL when the panel has none. */
static double *rebal_panel_of(const rebal_panel_hist *hist, const char *sku)
{
	const char **at = hist->y == NULL ? NULL : bsearch(&sku, hist->sorted, hist->nskus,
	    sizeof(hist->sorted[0]), rebal_str_cmp);
	if (at == NULL) {
		return NULL;
	}
	size_t k = (size_t)(*at - hist->pskus[0]) / sizeof(hist->pskus[0]);
	return &hist->y[k * hist->per];
}

static int rebal_panel_row(void *arg, const coord_store_region_units *r)
{
	rebal_panel_hist *a = arg;
	double *y = rebal_panel_of(a, r->sku);
	int h = y != NULL ? coord_hub_find(a->c, r->hub) : -1;
	if (h >= 0 && r->bucket >= 0 && (size_t)r->bucket < a->nb) {
		y[(size_t)h * a->nb + (size_t)r->bucket] += (double)r->units;
	}
	return 0;
}

/*
 * Fits the run's model on the network's whole demand history: every hub
 * region's series of every SKU with stock (in the ledger's order, as many
 * as REBAL_PANEL_VALUES_MAX holds), the buckets the plan forecasts from,
 * read in one pass over the window's orders (coord_store_demand_panel;
 * one query per SKU took seconds at a thousand SKUs). A history the model
 * refuses (a value out of bounds) is logged and leaves a panel that
 * learned nothing: the issue-5 model, as before. The histories stay in
 * *hist (the caller frees it) for the plan of each SKU.
 */
static int rebal_panel_fit(coord *c, rebal_scratch *w, const rebal_opts *o,
    rebal_panel_hist *hist)
{
	size_t nb = (size_t)c->cfg.history_buckets, per = c->nhubs * nb;
	bool cut;
	size_t nskus = rebal_skus(c, NULL, w->pskus, &cut);
	if (per == 0) {
		nskus = 0;
	} else if (nskus > REBAL_PANEL_VALUES_MAX / per) {
		nskus = REBAL_PANEL_VALUES_MAX / per;
	}
	memset(hist, 0, sizeof(*hist));
	hist->c = c;
	hist->nb = nb;
	hist->per = per;
	hist->nskus = nskus;
	hist->pskus = w->pskus;
	hist->y = calloc(nskus * per + 1, sizeof(*hist->y));
	double *y = hist->y;
	forecast_span *sp = malloc(nskus * c->nhubs * sizeof(*sp) + 1);
	int rv = y != NULL && sp != NULL ? 0 : DN_ENOMEM;
	int64_t now = coord_now_wall_ms(c);
	for (size_t k = 0; k < nskus; k++) {
		hist->sorted[k] = w->pskus[k];
	}
	qsort(hist->sorted, nskus, sizeof(hist->sorted[0]), rebal_str_cmp);
	if (rv == 0 && nskus > 0) {
		rv = coord_store_demand_panel(c->store, now - (int64_t)nb * o->bucket_ms, now,
		    o->bucket_ms, rebal_panel_row, hist);
	}
	for (size_t k = 0; rv == 0 && k < nskus; k++) {
		for (size_t h = 0; h < c->nhubs; h++) {
			sp[k * c->nhubs + h].y = &y[k * per + h * nb];
			sp[k * c->nhubs + h].n = nb;
		}
	}
	if (rv == 0) {
		rv = forecast_panel_fit(&w->panel, o->horizon, o->service, sp, nskus * c->nhubs);
		if (rv == DN_EINVAL) {
			log_warn("rebalance.panel_refused", "skus=%zu hubs=%zu buckets=%zu",
			    nskus, c->nhubs, nb);
			rv = forecast_panel_fit(&w->panel, o->horizon, o->service, NULL, 0);
		}
	}
	free(sp);
	return rv;
}

/* Plans (and with apply, carries out) every SKU; fills the plan. Applied,
 * inside the transaction coord_txn_run runs. */
static int rebal_run_body(coord *c, void *arg)
{
	const rebal_run_args *ra = arg;
	const char *only = ra->only;
	const rebal_opts *o = ra->o;
	bool apply = ra->apply;
	Dropnet__RebalancePlan *out = ra->out;
	rebal_scratch *w = &c->signals->run;
	size_t nskus = rebal_skus(c, only, w->skus, &w->skus_cut);
	int64_t now = coord_now_wall_ms(c);
	out->bucket_ms = o->bucket_ms;
	out->horizon = o->horizon;
	out->service = o->service;
	out->actions = w->actp;
	out->forecasts = w->fcp;
	rebal_panel_hist *hist = malloc(sizeof(*hist));
	if (hist == NULL) {
		return DN_ENOMEM;
	}
	int rv = rebal_panel_fit(c, w, o, hist);
	if (rv != 0) {
		free(hist->y);
		free(hist);
		return rv;
	}
	out->panel_series = (uint32_t)w->panel.series;
	out->panel_cases = w->panel.cases;
	out->panel_learned = w->panel.learned != 0;
	for (size_t k = 0; rv == 0 && k < nskus; k++) {
		const char *sku = w->skus[k];
		size_t nph = 0;
		rv = rebal_plan_sku(c, sku, rebal_panel_of(hist, sku), o, &w->plan, w->ph,
		    w->why, w->idx, &nph);
		if (rv == 0) {
			rebal_forecasts_add(w, sku, nph, out);
		}
		/* The totals count what the plan carries: only the actions that
		 * fit the reply (REBAL_ACTIONS_MAX) are listed and applied. */
		size_t a = 0;
		for (; rv == 0 && a < w->plan.n && out->n_actions < REBAL_ACTIONS_MAX; a++) {
			const planner_action *pa = &w->plan.action[a];
			rv = rebal_action_add(c, w, sku, pa, apply, now, out);
			bool move = pa->kind == PLANNER_TRANSFER;
			out->trips += move ? 1u : 0u;
			out->units_released += move ? 0 : pa->qty;
			out->units_moved += move ? pa->qty : 0;
			out->value += pa->value;
			out->cost += pa->cost;
		}
		if (rv == 0 && a < w->plan.n) {
			log_warn("rebalance.actions_capped", "sku=%s planned=%zu listed=%zu max=%u", sku,
			    w->plan.n, a, (unsigned)REBAL_ACTIONS_MAX);
		}
	}
	free(hist->y);
	free(hist);
	return rv;
}

/* Plans every SKU (or only); with apply, carries the plan out in one
 * transaction (undone whole if it fails). Fills out. */
static int rebal_run(coord *c, const char *only, const rebal_opts *o, bool apply,
    Dropnet__RebalancePlan *out)
{
	rebal_run_args a = {only, o, apply, out};
	if (!apply) {
		return rebal_run_body(c, &a);
	}
	int rv = coord_txn_run(c, "rebalance", rebal_run_body, &a);
	if (rv == 0 && out->n_actions > 0) {
		c->metrics.plans_applied++;
		c->metrics.plan_units_released += (uint64_t)out->units_released;
		c->metrics.plan_units_moved += (uint64_t)out->units_moved;
		log_info("rebalance.applied", "actions=%zu released=%lld moved=%lld trips=%u",
		    out->n_actions, (long long)out->units_released,
		    (long long)out->units_moved, out->trips);
	}
	return rv;
}

/* OPS_DEMAND's rows; the reply points into them. */
typedef struct {
	Dropnet__DemandRow rows[REBAL_DEMAND_ROWS_MAX];
	Dropnet__DemandRow *rp[REBAL_DEMAND_ROWS_MAX];
	char names[REBAL_DEMAND_ROWS_MAX][2][DN_ID_MAX + 1];
	size_t n;
} rebal_demand_rows;

static int rebal_demand_row(void *arg, const coord_store_demand_row *r)
{
	rebal_demand_rows *d = arg;
	size_t i = d->n++;
	dropnet__demand_row__init(&d->rows[i]);
	snprintf(d->names[i][0], DN_ID_MAX + 1, "%s", r->hub);
	snprintf(d->names[i][1], DN_ID_MAX + 1, "%s", r->sku);
	d->rows[i].hub = d->names[i][0];
	d->rows[i].sku = d->names[i][1];
	d->rows[i].bucket_ms = r->bucket_ms;
	d->rows[i].sold = (uint32_t)r->sold;
	d->rows[i].turned_away = (uint32_t)r->turned_away;
	d->rp[i] = &d->rows[i];
	return 0;
}

static void rebal_demand(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	int64_t bucket = q->bucket_ms >= DN_BUCKET_MS_MIN && q->bucket_ms <= DN_BUCKET_MS_MAX ?
	    q->bucket_ms : c->cfg.bucket_ms;
	rebal_demand_rows *d = calloc(1, sizeof(*d));
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	if (d == NULL || coord_store_demand_list(c->store, q->sku, bucket,
	    REBAL_DEMAND_ROWS_MAX, rebal_demand_row, d) != 0) {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory or storage";
	} else {
		rep.status = DROPNET__STATUS__OK;
		rep.n_demand = d->n;
		rep.demand = d->rp;
		if (d->n == REBAL_DEMAND_ROWS_MAX) {
			/* Said, not cut silently: an operator reading totals off
			 * it would be off. */
			log_warn("demand.cut", "rows=%zu sku=\"%.64s\"", d->n, q->sku);
			rep.message = "the first " REBAL_STR(REBAL_DEMAND_ROWS_MAX) " rows only (the"
			    " bound of one reply); there may be more: filter with --sku";
		}
	}
	coord_ops_send(r, &rep);
	free(d);
}

/* OPS_TRANSFERS' rows; the reply points into them. */
typedef struct {
	Dropnet__Transfer t[REBAL_TRANSFERS_MAX];
	Dropnet__Transfer *tp[REBAL_TRANSFERS_MAX];
	char txt[REBAL_TRANSFERS_MAX][5][DN_ID_MAX + 1];
	size_t n;
} rebal_transfer_rows;

static int rebal_transfer_row(void *arg, const coord_store_transfer_row *r)
{
	rebal_transfer_rows *l = arg;
	size_t i = l->n++;
	Dropnet__Transfer *t = &l->t[i];
	dropnet__transfer__init(t);
	const char *txt[5] = {r->id, r->sku, r->from_hub, r->to_hub, r->state};
	for (int k = 0; k < 5; k++) {
		snprintf(l->txt[i][k], DN_ID_MAX + 1, "%s", txt[k]);
	}
	t->id = l->txt[i][0];
	t->sku = l->txt[i][1];
	t->from_hub = l->txt[i][2];
	t->to_hub = l->txt[i][3];
	t->qty = r->qty;
	t->state = l->txt[i][4];
	t->created_ms = r->created_ms;
	t->shipped_ms = r->shipped_ms;
	t->received_ms = r->received_ms;
	l->tp[i] = t;
	return 0;
}

static void rebal_transfers(coord *c, mreq *r)
{
	rebal_transfer_rows *l = calloc(1, sizeof(*l));
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	if (l == NULL || coord_store_transfers_list(c->store, REBAL_TRANSFERS_MAX,
	    rebal_transfer_row, l) != 0) {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory or storage";
	} else {
		rep.status = DROPNET__STATUS__OK;
		rep.n_transfers = l->n;
		rep.transfers = l->tp;
	}
	coord_ops_send(r, &rep);
	free(l);
}

void coord_ops_rebalance(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	if (q->kind == DROPNET__OPS_KIND__OPS_DEMAND) {
		rebal_demand(c, q, r);
		return;
	}
	if (q->kind == DROPNET__OPS_KIND__OPS_TRANSFERS) {
		rebal_transfers(c, r);
		return;
	}
	if (q->kind != DROPNET__OPS_KIND__OPS_REBALANCE_PLAN &&
	    q->kind != DROPNET__OPS_KIND__OPS_REBALANCE_APPLY) {
		rep.status = DROPNET__STATUS__INVALID;
		rep.message = "unknown ops kind";
		coord_ops_send(r, &rep);
		return;
	}
	rebal_opts o;
	rebal_opts_of(c, q, &o);
	Dropnet__RebalancePlan plan = DROPNET__REBALANCE_PLAN__INIT;
	int rv = rebal_run(c, q->sku, &o, q->kind == DROPNET__OPS_KIND__OPS_REBALANCE_APPLY,
	    &plan);
	rep.status = rv == 0 ? DROPNET__STATUS__OK : DROPNET__STATUS__UNAVAILABLE;
	rep.message = rv == 0 ? "" : "planning failed";
	if (rv == 0 && c->signals->run.skus_cut) {
		/* Said, not cut silently: the plan covers part of the catalogue. */
		log_warn("rebalance.skus_cut", "planned=%d", REBAL_SKUS_MAX);
		rep.message = "planned the first " REBAL_STR(REBAL_SKUS_MAX) " SKUs with stock"
		    " only (the bound of one plan); plan others with --sku";
	}
	rep.plan = &plan;
	coord_ops_send(r, &rep);
}

static rebal_watch *rebal_watch_get(coord_signals *s, int hub, const char *sku,
    int64_t open_ms)
{
	for (size_t i = 0; i < s->nwatch; i++) {
		if (s->watch[i].hub == hub && strcmp(s->watch[i].sku, sku) == 0) {
			return &s->watch[i];
		}
	}
	if (s->nwatch == REBAL_WATCH_MAX) {
		return NULL;
	}
	rebal_watch *w = &s->watch[s->nwatch++];
	w->hub = hub;
	snprintf(w->sku, sizeof(w->sku), "%s", sku);
	spike_init(&w->st, &s->sp, open_ms);
	return w;
}

double coord_demand_ratio(coord *c, int hub, const char *sku)
{
	coord_signals *s = c->signals;
	for (size_t i = 0; s != NULL && i < s->nwatch; i++) {
		rebal_watch *w = &s->watch[i];
		if (w->hub == hub && strcmp(w->sku, sku) == 0) {
			return w->st.cooldown > 0 && w->spike_ratio > 1.0 ? w->spike_ratio : 1.0;
		}
	}
	return 1.0;
}

static void rebal_publish(coord *c, const Dropnet__RegionSignal *sig)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	if (codec_region_signal_pack(sig, &buf, &n) != 0) {
		c->metrics.outbox_dropped++;
		return;
	}
	/* Published by the shell after this tick's commits (outbox.c). */
	coord_outbox_push(c, COORD_SIGNAL_TOPIC, buf, n);
	free(buf);
}

typedef struct {
	coord *c;
	double *n;                    /* per hub index */
	double total;
} rebal_region_sum;

static int rebal_region_row(void *arg, const coord_store_region_units *r)
{
	rebal_region_sum *a = arg;
	int h = coord_hub_find(a->c, r->hub);
	if (h >= 0) {
		a->n[h] = (double)r->units;
		a->total += a->n[h];
	}
	return 0;
}

/* Units of sku per region in [start_ms, end_ms) into n (zeroed by the
 * caller); *total their sum. */
static int rebal_region_units(coord *c, const char *sku, int64_t start_ms,
    int64_t end_ms, double *n, double *total)
{
	rebal_region_sum a = {c, n, 0};
	int rv = coord_store_demand_regions(c->store, sku, start_ms, end_ms,
	    rebal_region_row, &a);
	*total = a.total;
	return rv;
}

/* Tests region h's count cnt (expected: expected) for sku of drop d in
 * the spike bucket starting at bucket, publishes the region's signal and,
 * on a declared spike, rebalances the sku. */
static void rebal_spike_hub(coord *c, const coord_drop *d, const char *sku, size_t h,
    int64_t bucket, double cnt, double expected)
{
	coord_signals *s = c->signals;
	int64_t b = c->cfg.spike_bucket_ms;
	rebal_watch *w = rebal_watch_get(s, (int)h, sku, d->tiers[0].opens_ms);
	if (w == NULL) {
		return;
	}
	spike_evidence ev;
	memset(&ev, 0, sizeof(ev));
	uint32_t obs = cnt > SPIKE_COUNT_MAX ? SPIKE_COUNT_MAX : (uint32_t)cnt;
	int sp = spike_update(&w->st, &s->sp, bucket, obs, expected, &ev);
	coord_stock *row = coord_stock_get(c, (int)h, sku, false);
	Dropnet__RegionSignal sig = DROPNET__REGION_SIGNAL__INIT;
	sig.version = DN_PROTO_VERSION;
	sig.hub = c->hubs[h].id;
	sig.sku = (char *)sku;
	sig.rate_per_min = sp == 1 ? ev.observed_rate : cnt * 60000.0 / (double)b;
	sig.forecast_per_min = sp == 1 ? ev.expected_rate : expected * 60000.0 / (double)b;
	sig.sellable = row != NULL ? ledger_sellable(&row->row) : 0;
	sig.statistic = w->st.stat;
	sig.threshold = spike_threshold(&s->sp);
	sig.time_ms = bucket;
	sig.drop_id = (char *)d->id;
	sig.spike = sp == 1;
	if (sp == 1) {
		sig.statistic = ev.stat;
		w->spike_ratio = ev.expected_rate > 0 ? ev.observed_rate / ev.expected_rate : 1.0;
		metrics_labels_add(&c->metrics.spikes, c->hubs[h].id, 1);
		log_warn("demand.spike", "hub=%s sku=%s drop=%s rate_per_min=%.1f"
		    " forecast_per_min=%.1f statistic=%.2f threshold=%.2f since_ms=%lld"
		    " buckets=%u", c->hubs[h].id, sku, d->id, ev.observed_rate,
		    ev.expected_rate, ev.stat, ev.threshold, (long long)ev.since_ms,
		    ev.run_buckets);
	}
	rebal_publish(c, &sig);
	if (sp == 1 && c->cfg.on_spike) {
		/* Plan on the spike's own time scale, so the burst weighs in the
		 * forecast. */
		rebal_opts o;
		rebal_opts_of(c, NULL, &o);
		o.bucket_ms = c->cfg.spike_bucket_ms;
		Dropnet__RebalancePlan plan = DROPNET__REBALANCE_PLAN__INIT;
		rebal_run(c, sku, &o, true, &plan);
	}
}

/* Tests the last complete spike bucket of every open drop. */
static void rebal_spikes(coord *c, int64_t now)
{
	coord_signals *s = c->signals;
	int64_t b = c->cfg.spike_bucket_ms;
	int64_t bucket = (now / b - 1) * b; /* the last complete bucket */
	if (bucket <= s->last_bucket_ms) {
		return;
	}
	s->last_bucket_ms = bucket;
	for (size_t i = 0; i < c->ndrops; i++) {
		coord_drop *d = &c->drops[i];
		if (d->state != DROP_OPEN || d->ntiers == 0 || now < d->tiers[0].opens_ms) {
			continue;
		}
		for (size_t k = 0; k < d->spec->n_skus; k++) {
			/* A copy: a failed rebalance below reloads the drops, which
			 * frees the spec this name lives in. */
			char sku[DN_ID_MAX + 1];
			snprintf(sku, sizeof(sku), "%.64s", d->spec->skus[k]->sku);
			/* Region counts in the bucket, and each region's share of
			 * all demand for the sku before the drop (equal if none). */
			double *cnt = s->cnt, *share = s->share;
			memset(cnt, 0, c->hubs_max * sizeof(*cnt));
			memset(share, 0, c->hubs_max * sizeof(*share));
			double total = 0, share_total = 0;
			if (rebal_region_units(c, sku, bucket, bucket + b, cnt, &total) != 0 ||
			    rebal_region_units(c, sku, 0, d->tiers[0].opens_ms, share,
			    &share_total) != 0) {
				return;
			}
			for (size_t h = 0; h < c->nhubs; h++) {
				double sh = share_total > 0 ? share[h] / share_total : 1.0 / (double)c->nhubs;
				rebal_spike_hub(c, d, sku, h, bucket, cnt[h], total * sh);
			}
		}
	}
}

void coord_rebalance_tick(coord *c)
{
	if (c->signals == NULL || !coord_ready(c)) {
		return;
	}
	int64_t now = coord_now_wall_ms(c);
	rebal_spikes(c, now);
	if (c->cfg.auto_ms > 0 && now - c->signals->last_auto_ms >= c->cfg.auto_ms) {
		bool open = false;
		for (size_t i = 0; i < c->ndrops && !open; i++) {
			open = c->drops[i].state == DROP_OPEN;
		}
		c->signals->last_auto_ms = now;
		for (size_t i = 0; open && i < c->ndrops; i++) {
			coord_drop *d = &c->drops[i];
			for (size_t k = 0; d->state == DROP_OPEN && k < d->spec->n_skus; k++) {
				rebal_opts o;
				rebal_opts_of(c, NULL, &o);
				Dropnet__RebalancePlan plan = DROPNET__REBALANCE_PLAN__INIT;
				rebal_run(c, d->spec->skus[k]->sku, &o, true, &plan);
			}
		}
	}
}

int coord_transfer_create(coord *c, int src, int dst, const char *sku, int64_t qty,
    int64_t from_holdback, char *id, size_t idlen, int64_t now)
{
	char last[DN_ID_MAX + 1];
	return rebal_transfer(c, src, dst, sku, qty, from_holdback, id, idlen, last,
	    sizeof(last), now);
}

/* The spike watch and the rebalancer's timers are memory the file cannot
 * rebuild (coord_memory_pack, memory.c): every field of every watched
 * series, its hub by id. A field added to spike_state must be added here. */
_Static_assert(sizeof(spike_state) == 80, "coord_rebalance_memory_put writes every"
    " spike_state field");
void coord_rebalance_memory_put(const coord *c, bytes_w *w)
{
	const coord_signals *s = c->signals;
	bytes_put_i64(w, s->last_bucket_ms);
	bytes_put_i64(w, s->last_auto_ms);
	bytes_put_u64(w, s->nwatch);
	for (size_t i = 0; i < s->nwatch; i++) {
		const rebal_watch *x = &s->watch[i];
		bytes_put_str(w, c->hubs[x->hub].id);
		bytes_put_str(w, x->sku);
		bytes_put_i64(w, x->st.open_ms);
		bytes_put_i64(w, x->st.last_ms);
		bytes_put_u64(w, x->st.seen);
		bytes_put_f64(w, x->st.stat);
		bytes_put_i64(w, x->st.run_ms);
		bytes_put_u64(w, x->st.run_buckets);
		bytes_put_f64(w, x->st.run_observed);
		bytes_put_f64(w, x->st.run_expected);
		bytes_put_u64(w, x->st.cooldown);
		bytes_put_u64(w, x->st.spikes);
		bytes_put_f64(w, x->spike_ratio);
	}
}

int coord_rebalance_memory_get(coord *c, bytes_r *r)
{
	coord_signals *s = c->signals;
	char hub[DN_ID_MAX + 1];
	s->last_bucket_ms = bytes_get_i64(r);
	s->last_auto_ms = bytes_get_i64(r);
	s->nwatch = (size_t)bytes_get_max(r, REBAL_WATCH_MAX);
	for (size_t i = 0; i < s->nwatch && !r->bad; i++) {
		rebal_watch *x = &s->watch[i];
		memset(x, 0, sizeof(*x));
		bytes_get_str(r, hub, sizeof(hub));
		x->hub = coord_hub_find(c, hub);
		bytes_get_str(r, x->sku, sizeof(x->sku));
		x->st.open_ms = bytes_get_i64(r);
		x->st.last_ms = bytes_get_i64(r);
		x->st.seen = bytes_get_max(r, 1) != 0;
		x->st.stat = bytes_get_f64(r);
		x->st.run_ms = bytes_get_i64(r);
		x->st.run_buckets = (unsigned)bytes_get_max(r, UINT32_MAX);
		x->st.run_observed = bytes_get_f64(r);
		x->st.run_expected = bytes_get_f64(r);
		x->st.cooldown = (unsigned)bytes_get_max(r, UINT32_MAX);
		x->st.spikes = bytes_get_u64(r);
		x->spike_ratio = bytes_get_f64(r);
		if (x->hub < 0) {
			r->bad = true;
		}
	}
	if (r->bad) {
		s->nwatch = 0;
		return DN_EPROTO;
	}
	return 0;
}
