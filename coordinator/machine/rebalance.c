/*
 * rebalance.c - the coordinator's second job (issue 5): demand history,
 * forecasts per hub region, the rebalance plan (holdback releases and
 * hub-to-hub transfers), transfers as hub work, live spike detection, and
 * the regional signals published for storefronts.
 *
 * The decisions are pure (common/core/forecast.c, planner.c, spike.c); this
 * file gathers their inputs from the ledger and the journal and carries out
 * what they return.
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
 * bucket's figures are published through coord.publish (the shell's pub socket, topic "signal"); a
 * declared spike is logged with its evidence and triggers a rebalance of
 * that SKU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/forecast.h"
#include "core/geo.h"
#include "core/planner.h"
#include "core/spike.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

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
} rebal_watch;

typedef struct coord_signals {
	spike_params sp;
	rebal_watch watch[REBAL_WATCH_MAX];
	size_t nwatch;
	int64_t last_bucket_ms;   /* start of the last spike bucket tested */
	int64_t last_auto_ms;
	uint64_t transfers_made;
} coord_signals;

int coord_rebalance_init(coord *c)
{
	coord_signals *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DN_ENOMEM;
	}
	spike_params_default(&s->sp);
	s->sp.bucket_s = (double)c->cfg.spike_bucket_ms / 1000.0;
	/* Expected counts are the region's share of the live network count,
	 * which already carries the opening rush: no rush profile on top. */
	s->sp.rush_peak = 1.0;
	if (spike_params_check(&s->sp) != 0) {
		free(s);
		return DN_EINVAL;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT COUNT(*) FROM transfers", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		s->transfers_made = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	c->signals = s;
	return 0;
}

void coord_rebalance_fini(coord *c)
{
	if (c->signals == NULL) {
		return;
	}
	free(c->signals);
	c->signals = NULL;
}

/* Fills y[h * nb + b] with the demand units of sku in hub h's region for
 * bucket b of the nb buckets ending at end_ms. */
static int rebal_history(coord *c, const char *sku, int64_t end_ms, int64_t bucket_ms,
    size_t nb, double *y)
{
	memset(y, 0, c->nhubs * nb * sizeof(*y));
	int64_t start = end_ms - (int64_t)nb * bucket_ms;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT o.nearest_hub, (o.received_ms - ?2) / ?3,"
	    " SUM(l.qty) FROM orders o JOIN order_lines l ON l.order_id = o.id"
	    " WHERE l.sku = ?1 AND o.received_ms >= ?2 AND o.received_ms < ?4 AND"
	    " o.nearest_hub <> '' AND o.status IN (1, 2, 16, 17) GROUP BY 1, 2", -1, &st,
	    NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, sku);
	db_bind_i64(st, 2, start);
	db_bind_i64(st, 3, bucket_ms);
	db_bind_i64(st, 4, end_ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int h = coord_hub_find(c, db_col_text(st, 0));
		int64_t b = sqlite3_column_int64(st, 1);
		if (h >= 0 && b >= 0 && (size_t)b < nb) {
			y[(size_t)h * nb + (size_t)b] += (double)sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

typedef struct {
	int64_t bucket_ms;
	unsigned horizon;
	double service;
} rebal_opts;

static void rebal_opts_of(coord *c, const Dropnet__OpsRequest *q, rebal_opts *o)
{
	o->bucket_ms = q != NULL && q->bucket_ms > 0 ? q->bucket_ms : c->cfg.bucket_ms;
	o->horizon = q != NULL && q->horizon > 0 && q->horizon <= FORECAST_HORIZON_MAX ?
	    q->horizon : (unsigned)c->cfg.horizon;
	o->service = q != NULL && q->service >= FORECAST_SERVICE_MIN &&
	    q->service <= FORECAST_SERVICE_MAX ? q->service : c->cfg.service;
}

/* Units of sku on open transfers to hub (picking or in transit). */
static int64_t rebal_incoming(coord *c, int hub, const char *sku)
{
	sqlite3_stmt *st = NULL;
	int64_t n = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(SUM(qty - received), 0) FROM"
	    " transfers WHERE to_hub=?1 AND sku=?2 AND state IN ('picking', 'in_transit')",
	    -1, &st, NULL) == SQLITE_OK) {
		db_bind_text(st, 1, c->hubs[hub].id);
		db_bind_text(st, 2, sku);
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_finalize(st);
	return n;
}

/* Plans one sku. hubs_out/idx map planner indices to coordinator hubs. */
static int rebal_plan_sku(coord *c, const char *sku, const rebal_opts *o,
    planner_plan *plan, planner_hub *ph, int *idx, size_t *nph)
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
	int rv = rebal_history(c, sku, now, o->bucket_ms, nb, y);
	uint64_t mono = coord_now_mono_ms(c);
	*nph = 0;
	for (size_t h = 0; rv == 0 && h < c->nhubs; h++) {
		if (!coord_hub_healthy(c, &c->hubs[h], mono)) {
			continue; /* neither a source nor a destination while down */
		}
		forecast_params fp = {FORECAST_MODEL, o->horizon, o->service};
		forecast_result fr;
		if (forecast_series(&fp, &y[h * nb], nb, mean, &fr) != 0) {
			rv = DN_EINVAL;
			break;
		}
		coord_stock *s = coord_stock_get(c, (int)h, sku, false);
		planner_hub *p = &ph[*nph];
		memset(p, 0, sizeof(*p));
		p->id = c->hubs[h].id;
		p->lat = c->hubs[h].lat;
		p->lon = c->hubs[h].lon;
		p->on_hand = s != NULL ? s->row.on_hand : 0;
		p->allocated = s != NULL ? s->row.allocated : 0;
		p->holdback = s != NULL ? s->row.holdback : 0;
		p->mean = fr.mean_total;
		p->cover = (int64_t)ceil(fr.stock);
		/* Units already on their way here count: without them every new
		 * plan would send another van for the same gap. */
		p->incoming = rebal_incoming(c, (int)h, sku);
		if (p->allocated + p->holdback > p->on_hand) {
			/* A count took stock below what is promised: this hub can
			 * neither give nor be planned for until audit is resolved. */
			log_warn("rebalance.hub_skipped", "hub=%s sku=%s on_hand=%lld"
			    " allocated=%lld holdback=%lld", p->id, sku, (long long)p->on_hand,
			    (long long)p->allocated, (long long)p->holdback);
			continue;
		}
		idx[*nph] = (int)h;
		(*nph)++;
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
	pp.service = o->service;
	return planner_plan_sku(ph, *nph, &pp, plan);
}

/* Creates a transfer of qty sku from src to dst (inside a tx). */
static int rebal_transfer(coord *c, int src, int dst, const char *sku, int64_t qty,
    int64_t from_holdback, char *id, size_t idlen, int64_t now)
{
	store *s = c->store;
	/* Numbered inside the transaction: a rolled-back transfer leaves no gap
	 * that a later id could collide with. */
	sqlite3_stmt *cnt = NULL;
	int64_t nth = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT COUNT(*) FROM transfers", -1, &cnt, NULL) ==
	    SQLITE_OK && sqlite3_step(cnt) == SQLITE_ROW) {
		nth = sqlite3_column_int64(cnt, 0);
	}
	sqlite3_finalize(cnt);
	snprintf(id, idlen, "T%lld-%s", (long long)(nth + 1), c->hubs[dst].id);
	c->signals->transfers_made = (uint64_t)(nth + 1);
	char reason[DN_ID_MAX + 16];
	snprintf(reason, sizeof(reason), "transfer:%s", id);
	if (from_holdback > 0) {
		int rv = coord_holdback_adjust(c, src, sku, -from_holdback, reason, now);
		if (rv != 0) {
			return rv;
		}
	}
	coord_stock *row = coord_stock_get(c, src, sku, false);
	if (row == NULL || ledger_allocate(&row->row, qty) != 0) {
		log_error("transfer.allocate_failed", "src=%s sku=%s qty=%lld", c->hubs[src].id,
		    sku, (long long)qty);
		return DN_ESTATE;
	}
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "INSERT INTO placements(id, order_id, hub, state,"
	    " placed_ms, kind) VALUES(" STORE_PLACEMENT_NEXT_ID ", 0, ?1, 'open', ?2,"
	    " 'transfer')", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, c->hubs[src].id);
	db_bind_i64(st, 2, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return DN_EIO;
	}
	int64_t pid = sqlite3_last_insert_rowid(c->db);
	db_bind_i64(s->pline_insert, 1, pid);
	db_bind_text(s->pline_insert, 2, sku);
	db_bind_i64(s->pline_insert, 3, qty);
	db_bind_i64(s->pline_insert, 4, 0);
	if (store_step_done(s->pline_insert) != 0) {
		return DN_EIO;
	}
	if (sqlite3_prepare_v2(c->db, "INSERT INTO transfers(id, sku, from_hub, to_hub, qty,"
	    " state, placement_id, created_ms) VALUES(?1,?2,?3,?4,?5,'picking',?6,?7)", -1,
	    &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, sku);
	db_bind_text(st, 3, c->hubs[src].id);
	db_bind_text(st, 4, c->hubs[dst].id);
	db_bind_i64(st, 5, qty);
	db_bind_i64(st, 6, pid);
	db_bind_i64(st, 7, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return DN_EIO;
	}
	/* The source's pick work. */
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
	cmd.order_key = id;
	cmd.customer = to;
	cmd.n_lines = 1;
	cmd.lines = &lp;
	cmd.time_ms = now;
	int rv = coord_command_queue(c, src, &cmd);
	if (rv != 0) {
		return rv;
	}
	log_info("transfer.created", "id=%s sku=%s from=%s to=%s qty=%lld", id, sku,
	    c->hubs[src].id, c->hubs[dst].id, (long long)qty);
	return 0;
}

int coord_transfer_shipped(coord *c, int hub, int64_t pid, int64_t now)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT id, sku, qty, state FROM transfers WHERE"
	    " placement_id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	if (sqlite3_step(st) != SQLITE_ROW || strcmp(db_col_text(st, 3), "picking") != 0) {
		sqlite3_finalize(st);
		log_warn("transfer.ship_ignored", "hub=%s placement=%lld", c->hubs[hub].id,
		    (long long)pid);
		return 0;
	}
	char id[DN_ID_MAX + 1], sku[DN_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", db_col_text(st, 0));
	snprintf(sku, sizeof(sku), "%s", db_col_text(st, 1));
	int64_t qty = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	if (qty <= 0) {
		return 0; /* every unit was shorted: nothing leaves */
	}
	/* The units are on the van whatever the source's books say (a count
	 * taken while they sat in a tote took them off): booked by the rule of
	 * ledger_ship_force, never refused - a refusal would fail the hub's
	 * sync for good, since the hub sends the same event again. */
	coord_stock *row = coord_stock_get(c, hub, sku, true);
	if (row == NULL) {
		return DN_ENOMEM;
	}
	ledger_gap gap;
	ledger_ship_force(&row->row, qty, &gap);
	row->adjusted += gap.found;
	coord_gap_note(c, hub, sku, "transfer_ship", pid, &gap);
	row->transfer_out += qty;
	if (coord_stock_save(c, row) != 0) {
		return DN_EIO;
	}
	if (sqlite3_prepare_v2(c->db, "UPDATE placement_lines SET shipped=qty-shorted WHERE"
	    " placement_id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(c->db, "UPDATE transfers SET"
	    " state=CASE WHEN received >= qty THEN 'received' ELSE 'in_transit' END,"
	    " shipped_ms=?2 WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(c->db, "UPDATE placements SET"
	    " state='shipped', shipped_ms=?2 WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	db_bind_i64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	log_info("transfer.shipped", "id=%s qty=%lld", id, (long long)qty);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

int coord_transfer_received(coord *c, int hub, const char *id, const char *sku,
    int64_t qty, int64_t now, int64_t *surplus)
{
	sqlite3_stmt *st = NULL;
	*surplus = qty;
	if (sqlite3_prepare_v2(c->db, "SELECT qty - received FROM transfers WHERE id=?1"
	    " AND to_hub=?2 AND sku=?3 AND state IN ('picking', 'in_transit')", -1, &st,
	    NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, c->hubs[hub].id);
	db_bind_text(st, 3, sku);
	int64_t open = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		open = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
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
	if (coord_stock_save(c, row) != 0 ||
	    sqlite3_prepare_v2(c->db, "UPDATE transfers SET received=received+?2,"
	    " state=CASE WHEN state='in_transit' AND received+?2 >= qty THEN 'received'"
	    " ELSE state END, received_ms=?3 WHERE id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, q);
	db_bind_i64(st, 3, now);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	log_info("transfer.received", "id=%s hub=%s qty=%lld", id, c->hubs[hub].id,
	    (long long)q);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

int coord_transfer_shorted(coord *c, int hub, int64_t pid, const char *sku, int64_t qty)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT id, qty FROM transfers WHERE placement_id=?1"
	    " AND state='picking' AND sku=?2", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	db_bind_text(st, 2, sku);
	char id[DN_ID_MAX + 1] = "";
	int64_t tq = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id, sizeof(id), "%s", db_col_text(st, 0));
		tq = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
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
	int64_t gone = 0;
	ledger_gap gap;
	ledger_short_force(&row->row, q, q, &gone, &gap);
	coord_gap_note(c, hub, sku, "transfer_short", pid, &gap);
	row->lost += gone;
	if (coord_stock_save(c, row) != 0 ||
	    sqlite3_prepare_v2(c->db, "UPDATE placement_lines SET shorted=shorted+?2 WHERE"
	    " placement_id=?1", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_i64(st, 1, pid);
	db_bind_i64(st, 2, q);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(c->db, "UPDATE transfers SET qty=qty-?2,"
	    " state=CASE WHEN qty-?2 <= 0 THEN 'cancelled' ELSE state END WHERE id=?1", -1,
	    &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	db_bind_text(st, 1, id);
	db_bind_i64(st, 2, q);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	log_info("transfer.shorted", "id=%s qty=%lld", id, (long long)q);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

/* Distinct SKUs with stock anywhere (or just `only`). */
static size_t rebal_skus(coord *c, const char *only, char (*skus)[DN_ID_MAX + 1])
{
	size_t n = 0;
	if (only != NULL && only[0]) {
		snprintf(skus[0], DN_ID_MAX + 1, "%s", only);
		return 1;
	}
	for (size_t i = 0; i < c->stock_cap && n < REBAL_SKUS_MAX; i++) {
		coord_stock *s = &c->stock[i];
		if (s->hub < 0) {
			continue;
		}
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++) {
			seen = strcmp(skus[k], s->sku) == 0;
		}
		if (!seen) {
			snprintf(skus[n++], DN_ID_MAX + 1, "%s", s->sku);
		}
	}
	return n;
}

/* Plans (and with apply, carries out) every SKU; fills rep->plan. */
static int rebal_run(coord *c, const char *only, const rebal_opts *o, bool apply,
    Dropnet__RebalancePlan *out)
{
	static char skus[REBAL_SKUS_MAX][DN_ID_MAX + 1];
	static planner_plan plan;
	static planner_hub ph[DN_HUBS_MAX];
	static int idx[DN_HUBS_MAX];
	static Dropnet__PlanAction acts[REBAL_SKUS_MAX * 8];
	static Dropnet__PlanAction *actp[REBAL_SKUS_MAX * 8];
	static char tids[REBAL_SKUS_MAX * 8][DN_ID_MAX + 1];
	static char askus[REBAL_SKUS_MAX * 8][DN_ID_MAX + 1];
	static Dropnet__HubForecast fc[DN_HUBS_MAX * 8];
	static Dropnet__HubForecast *fcp[DN_HUBS_MAX * 8];
	static char fskus[DN_HUBS_MAX * 8][DN_ID_MAX + 1];
	const size_t acts_max = sizeof(acts) / sizeof(acts[0]);
	const size_t fc_max = sizeof(fc) / sizeof(fc[0]);
	size_t nskus = rebal_skus(c, only, skus);
	int64_t now = coord_now_wall_ms(c);
	out->bucket_ms = o->bucket_ms;
	out->horizon = o->horizon;
	out->service = o->service;
	out->actions = actp;
	out->forecasts = fcp;
	int rv = apply ? db_begin(c->db) : 0;
	for (size_t k = 0; rv == 0 && k < nskus; k++) {
		size_t nph = 0;
		rv = rebal_plan_sku(c, skus[k], o, &plan, ph, idx, &nph);
		for (size_t h = 0; rv == 0 && h < nph && out->n_forecasts < fc_max; h++) {
			if (ph[h].on_hand == 0 && ph[h].mean == 0) {
				continue;
			}
			Dropnet__HubForecast *f = &fc[out->n_forecasts];
			dropnet__hub_forecast__init(f);
			snprintf(fskus[out->n_forecasts], DN_ID_MAX + 1, "%.64s", skus[k]);
			f->hub = (char *)ph[h].id;
			f->sku = fskus[out->n_forecasts];
			f->mean = ph[h].mean;
			f->cover = ph[h].cover;
			f->on_hand = ph[h].on_hand;
			f->allocated = ph[h].allocated;
			f->holdback = ph[h].holdback;
			f->sellable = ph[h].on_hand - ph[h].allocated - ph[h].holdback;
			fcp[out->n_forecasts] = f;
			out->n_forecasts++;
		}
		for (size_t a = 0; rv == 0 && a < plan.n && out->n_actions < acts_max; a++) {
			const planner_action *pa = &plan.action[a];
			size_t i = out->n_actions++;
			Dropnet__PlanAction *x = &acts[i];
			dropnet__plan_action__init(x);
			snprintf(askus[i], DN_ID_MAX + 1, "%.64s", skus[k]);
			x->kind = (char *)planner_kind_name(pa->kind);
			x->sku = askus[i];
			x->from_hub = pa->kind == PLANNER_TRANSFER ? c->hubs[idx[pa->src]].id : "";
			x->to_hub = c->hubs[idx[pa->hub]].id;
			x->qty = pa->qty;
			x->km = pa->km;
			x->gained = pa->gained;
			x->lost = pa->lost;
			x->value = pa->value;
			x->cost = pa->cost;
			x->from_holdback = pa->from_holdback > 0;
			x->transfer_id = "";
			actp[i] = x;
			if (!apply) {
				continue;
			}
			if (pa->kind == PLANNER_RELEASE) {
				rv = coord_holdback_adjust(c, idx[pa->hub], skus[k], -pa->qty,
				    "rebalance", now);
			} else {
				rv = rebal_transfer(c, idx[pa->src], idx[pa->hub], skus[k], pa->qty,
				    pa->from_holdback, tids[i], sizeof(tids[i]), now);
				x->transfer_id = tids[i];
			}
		}
		out->trips += plan.trips;
		out->units_released += plan.released;
		out->units_moved += plan.moved;
		out->value += plan.value;
		out->cost += plan.cost;
	}
	if (apply) {
		rv = rv == 0 ? db_commit(c->db) : (db_rollback(c->db), rv);
		if (rv != 0) {
			c->commit_failures++;
			coord_reload(c);
		} else if (out->n_actions > 0) {
			log_info("rebalance.applied", "actions=%zu released=%lld moved=%lld trips=%u",
			    out->n_actions, (long long)out->units_released,
			    (long long)out->units_moved, out->trips);
		}
	}
	return rv;
}


static void rebal_demand(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	int64_t bucket = q->bucket_ms > 0 ? q->bucket_ms : c->cfg.bucket_ms;
	Dropnet__DemandRow *rows = calloc(REBAL_DEMAND_ROWS_MAX, sizeof(*rows));
	Dropnet__DemandRow **rp = calloc(REBAL_DEMAND_ROWS_MAX, sizeof(*rp));
	char (*names)[2][DN_ID_MAX + 1] = calloc(REBAL_DEMAND_ROWS_MAX, sizeof(*names));
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	sqlite3_stmt *st = NULL;
	if (rows == NULL || rp == NULL || names == NULL ||
	    sqlite3_prepare_v2(c->db, "SELECT o.nearest_hub, l.sku, o.received_ms / ?2 * ?2,"
	    " SUM(CASE WHEN o.status = 2 THEN 0 ELSE l.qty END),"
	    " SUM(CASE WHEN o.status = 2 THEN l.qty ELSE 0 END)"
	    " FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE"
	    " o.nearest_hub <> '' AND o.status IN (1, 2, 16, 17) AND (?1 = '' OR l.sku = ?1)"
	    " GROUP BY 1, 2, 3 ORDER BY 2, 1, 3", -1, &st, NULL) != SQLITE_OK) {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory or storage";
	} else {
		db_bind_text(st, 1, q->sku);
		db_bind_i64(st, 2, bucket);
		while (rep.n_demand < REBAL_DEMAND_ROWS_MAX && sqlite3_step(st) == SQLITE_ROW) {
			size_t i = rep.n_demand++;
			dropnet__demand_row__init(&rows[i]);
			snprintf(names[i][0], DN_ID_MAX + 1, "%s", db_col_text(st, 0));
			snprintf(names[i][1], DN_ID_MAX + 1, "%s", db_col_text(st, 1));
			rows[i].hub = names[i][0];
			rows[i].sku = names[i][1];
			rows[i].bucket_ms = sqlite3_column_int64(st, 2);
			rows[i].sold = (uint32_t)sqlite3_column_int64(st, 3);
			rows[i].turned_away = (uint32_t)sqlite3_column_int64(st, 4);
			rp[i] = &rows[i];
		}
		rep.status = DROPNET__STATUS__OK;
		rep.demand = rp;
	}
	sqlite3_finalize(st);
	coord_ops_send(r, &rep);
	free(rows);
	free(rp);
	free(names);
}

static void rebal_transfers(coord *c, mreq *r)
{
	static Dropnet__Transfer t[REBAL_TRANSFERS_MAX];
	static Dropnet__Transfer *tp[REBAL_TRANSFERS_MAX];
	static char txt[REBAL_TRANSFERS_MAX][5][DN_ID_MAX + 1];
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	sqlite3_stmt *st = NULL;
	sqlite3_prepare_v2(c->db, "SELECT id, sku, from_hub, to_hub, qty, state, created_ms,"
	    " shipped_ms, received_ms FROM transfers ORDER BY created_ms DESC LIMIT ?1", -1,
	    &st, NULL);
	db_bind_i64(st, 1, REBAL_TRANSFERS_MAX);
	while (st != NULL && rep.n_transfers < REBAL_TRANSFERS_MAX && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = rep.n_transfers++;
		dropnet__transfer__init(&t[i]);
		for (int k = 0; k < 4; k++) {
			snprintf(txt[i][k], DN_ID_MAX + 1, "%s", db_col_text(st, k));
		}
		snprintf(txt[i][4], DN_ID_MAX + 1, "%s", db_col_text(st, 5));
		t[i].id = txt[i][0];
		t[i].sku = txt[i][1];
		t[i].from_hub = txt[i][2];
		t[i].to_hub = txt[i][3];
		t[i].qty = sqlite3_column_int64(st, 4);
		t[i].state = txt[i][4];
		t[i].created_ms = sqlite3_column_int64(st, 6);
		t[i].shipped_ms = sqlite3_column_int64(st, 7);
		t[i].received_ms = sqlite3_column_int64(st, 8);
		tp[i] = &t[i];
	}
	sqlite3_finalize(st);
	rep.status = DROPNET__STATUS__OK;
	rep.transfers = tp;
	coord_ops_send(r, &rep);
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

static void rebal_publish(coord *c, const Dropnet__RegionSignal *sig)
{
	if (c->publish == NULL) {
		return;
	}
	uint8_t *buf = NULL;
	size_t n = 0;
	if (codec_region_signal_pack(sig, &buf, &n) != 0) {
		return;
	}
	c->publish(c->publish_arg, buf, n);
	free(buf);
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
			double cnt[DN_HUBS_MAX] = {0}, share[DN_HUBS_MAX] = {0};
			double total = 0, share_total = 0;
			sqlite3_stmt *st = NULL;
			if (sqlite3_prepare_v2(c->db, "SELECT o.nearest_hub, SUM(l.qty) FROM orders o"
			    " JOIN order_lines l ON l.order_id = o.id WHERE l.sku = ?1 AND"
			    " o.received_ms >= ?2 AND o.received_ms < ?3 AND o.nearest_hub <> '' AND"
			    " o.status IN (1, 2, 16, 17) GROUP BY 1", -1, &st, NULL) != SQLITE_OK) {
				return;
			}
			db_bind_text(st, 1, sku);
			db_bind_i64(st, 2, bucket);
			db_bind_i64(st, 3, bucket + b);
			while (sqlite3_step(st) == SQLITE_ROW) {
				int h = coord_hub_find(c, db_col_text(st, 0));
				if (h >= 0) {
					cnt[h] = (double)sqlite3_column_int64(st, 1);
					total += cnt[h];
				}
			}
			sqlite3_reset(st);
			db_bind_i64(st, 2, 0);
			db_bind_i64(st, 3, d->tiers[0].opens_ms);
			while (sqlite3_step(st) == SQLITE_ROW) {
				int h = coord_hub_find(c, db_col_text(st, 0));
				if (h >= 0) {
					share[h] = (double)sqlite3_column_int64(st, 1);
					share_total += share[h];
				}
			}
			sqlite3_finalize(st);
			for (size_t h = 0; h < c->nhubs; h++) {
				double sh = share_total > 0 ? share[h] / share_total : 1.0 / (double)c->nhubs;
				double expected = total * sh;
				rebal_watch *w = rebal_watch_get(s, (int)h, sku, d->tiers[0].opens_ms);
				if (w == NULL) {
					continue;
				}
				spike_evidence ev;
				memset(&ev, 0, sizeof(ev));
				uint32_t obs = cnt[h] > SPIKE_COUNT_MAX ? SPIKE_COUNT_MAX : (uint32_t)cnt[h];
				int sp = spike_update(&w->st, &s->sp, bucket, obs, expected, &ev);
				coord_stock *row = coord_stock_get(c, (int)h, sku, false);
				Dropnet__RegionSignal sig = DROPNET__REGION_SIGNAL__INIT;
				sig.version = DN_PROTO_VERSION;
				sig.hub = c->hubs[h].id;
				sig.sku = (char *)sku;
				sig.rate_per_min = sp == 1 ? ev.observed_rate : cnt[h] * 60000.0 / (double)b;
				sig.forecast_per_min = sp == 1 ? ev.expected_rate : expected * 60000.0 / (double)b;
				sig.sellable = row != NULL ? ledger_sellable(&row->row) : 0;
				sig.statistic = w->st.stat;
				sig.threshold = spike_threshold(&s->sp);
				sig.time_ms = bucket;
				sig.drop_id = d->id;
				sig.spike = sp == 1;
				if (sp == 1) {
					sig.statistic = ev.stat;
					log_warn("demand.spike", "hub=%s sku=%s drop=%s rate_per_min=%.1f"
					    " forecast_per_min=%.1f statistic=%.2f threshold=%.2f since_ms=%lld"
					    " buckets=%u", c->hubs[h].id, sku, d->id, ev.observed_rate,
					    ev.expected_rate, ev.stat, ev.threshold, (long long)ev.since_ms,
					    ev.run_buckets);
				}
				rebal_publish(c, &sig);
				if (sp == 1 && c->cfg.on_spike) {
					/* Plan on the spike's own time scale, so the burst
					 * weighs in the forecast. */
					rebal_opts o;
					rebal_opts_of(c, NULL, &o);
					o.bucket_ms = c->cfg.spike_bucket_ms;
					Dropnet__RebalancePlan plan = DROPNET__REBALANCE_PLAN__INIT;
					rebal_run(c, sku, &o, true, &plan);
				}
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
	return rebal_transfer(c, src, dst, sku, qty, from_holdback, id, idlen, now);
}
