/*
 * rebalance_cmd.c - dropctl's forecast-and-rebalancing commands (issue 5):
 * demand history, the rebalance plan (dry run) and its application,
 * hub-to-hub transfers, and the coordinator's regional demand signals.
 *
 * demand, rebalance and transfers are one OpsRequest each, printed as an
 * aligned table (80 columns for typical ids) or one JSON object, like the
 * other ops commands. signals is different: it subscribes to the
 * coordinator's nng pub socket (topic "signal") and prints each message as
 * it comes, one line (or one JSON object per line), until it has --count of
 * them or --timeout-ms has passed.
 *
 * A signal is the 6 topic bytes followed by a packed dropnet.RegionSignal,
 * decoded with codec_region_signal_unpack.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include "core/err.h"
#include "core/forecast.h"
#include "core/limits.h"
#include "io/nettls.h"
#include "dropctl.h"
#include "drop_spec.h"

/* The pub socket's topic: every message starts with these bytes. */
#define REBAL_CMD_TOPIC "signal"
#define REBAL_CMD_TOPIC_LEN 6u
/* A signal message is one small RegionSignal: refuse anything bigger. */
#define REBAL_CMD_SIGNAL_MSG_MAX (64u * 1024u)

/* Most signals one `signals` run waits for: a storefront keeps its own
 * subscription; this is an operator's look (and a test's probe). */
#define REBAL_CMD_SIGNALS_MAX 100000u

/* Bucket bounds: those of the coordinator's rebalance.bucket_ms key, so a
 * bad value is refused here with a clear message instead of silently
 * replaced by the configured one. */
#define REBAL_CMD_BUCKET_MS_MIN 1000
#define REBAL_CMD_BUCKET_MS_MAX 86400000

/* Environment variable naming the signal socket (deploy/local-net.sh
 * writes it into net.env). */
#define REBAL_CMD_ENV_SIGNAL "DROPNET_SIGNAL"

static int rebal_status_fail(const char *cmd, const Dropnet__OpsReply *r)
{
	fprintf(stderr, "dropctl: %s: %s%s%s\n", cmd,
	    codec_status_name(r->status), r->message[0] != '\0' ? ": " : "",
	    r->message);
	return DROPCTL_EXIT_FAIL;
}

/* "1m", "1h", "1d", "90s" or plain milliseconds. */
static int rebal_bucket_parse(const char *cmd, const char *v, int64_t *out)
{
	int64_t ms = 0;
	if (dropctl_parse_i64(v, REBAL_CMD_BUCKET_MS_MIN,
		REBAL_CMD_BUCKET_MS_MAX, &ms) != 0 &&
	    (drop_spec_duration_parse(v, &ms) != 0 ||
		ms < REBAL_CMD_BUCKET_MS_MIN || ms > REBAL_CMD_BUCKET_MS_MAX)) {
		return dropctl_usage_error(cmd, "--bucket wants 1s..1d as 1m, "
		    "1h, 1d, 90s or milliseconds, not '%s'", v);
	}
	*out = ms;
	return DROPCTL_EXIT_OK;
}

/* "HH:MM:SS" (UTC) of ms, or "-". */
static void rebal_fmt_clock(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "%" PRId64, ms);
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- demand ---- */

static void rebal_help_demand(void)
{
	printf("usage: dropctl [global flags] demand [--sku S] [--bucket B]\n"
	       "\n"
	       "The coordinator's demand history per (hub region, sku, time\n"
	       "bucket): units sold and units turned away SOLD_OUT (demand the\n"
	       "region had but could not be served: the real signal once a\n"
	       "region sells out). A region is the nearest healthy hub in range\n"
	       "of the ship-to point. B: 1m, 1h, 1d, 90s or milliseconds\n"
	       "(default: the coordinator's rebalance.bucket_ms).\n"
	       "--json: {\"demand\":[{hub,sku,bucket_ms,sold,turned_away}]}\n");
}

static int rebal_demand_json(const Dropnet__OpsReply *r)
{
	json_t *arr = json_array();
	for (size_t k = 0; arr != NULL && k < r->n_demand; k++) {
		const Dropnet__DemandRow *d = r->demand[k];
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I,s:I}",
		    "hub", d->hub, "sku", d->sku, "bucket_ms",
		    (json_int_t)d->bucket_ms, "sold", (json_int_t)d->sold,
		    "turned_away", (json_int_t)d->turned_away));
	}
	return dropctl_json_emit(arr != NULL ? json_pack("{s:o}", "demand",
	    arr) : NULL);
}

static int rebal_demand_table(const Dropnet__OpsReply *r)
{
	static const char *const head[] = { "HUB", "SKU", "BUCKET", "SOLD",
		"TURNED_AWAY" };
	dropctl_table t;
	uint64_t sold = 0, away = 0;

	if (r->n_demand == 0) {
		printf("no demand recorded\n");
		return DROPCTL_EXIT_OK;
	}
	dropctl_table_init(&t, 5, head, "lllrr");
	for (size_t k = 0; k < r->n_demand; k++) {
		const Dropnet__DemandRow *d = r->demand[k];
		char when[40];
		dropctl_fmt_time(d->bucket_ms, when, sizeof(when));
		dropctl_table_cell(&t, "%s", d->hub);
		dropctl_table_cell(&t, "%s", d->sku);
		dropctl_table_cell(&t, "%s", when);
		dropctl_table_cell(&t, "%" PRIu32, d->sold);
		dropctl_table_cell(&t, "%" PRIu32, d->turned_away);
		sold += d->sold;
		away += d->turned_away;
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	printf("total: %" PRIu64 " sold, %" PRIu64 " turned away in %zu "
	       "buckets\n", sold, away, r->n_demand);
	return ex;
}

int dropctl_demand(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *sku = NULL, *bucket = NULL;
	int ex;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			rebal_help_demand();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--sku", &sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--bucket", &bucket)) ==
			0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("demand",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	req.kind = DROPNET__OPS_KIND__OPS_DEMAND;
	if (bucket != NULL && (ex = rebal_bucket_parse("demand", bucket,
	    &req.bucket_ms)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	/* The casts only satisfy protobuf-c's non-const field type. */
	if (sku != NULL) {
		req.sku = (char *)sku;
	}
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = rebal_status_fail("demand", r);
	} else {
		ex = o->json ? rebal_demand_json(r) : rebal_demand_table(r);
		if (r->message[0] != '\0') {
			fprintf(stderr, "dropctl: demand: %s\n", r->message);
		}
	}
	codec_ops_reply_free(r);
	return ex;
}

/* ---- rebalance plan / apply ---- */

static void rebal_help_rebalance(void)
{
	printf("usage: dropctl [global flags] rebalance plan|apply [--sku S]\n"
	       "               [--horizon N] [--service P] [--bucket B]\n"
	       "\n"
	       "plan: a dry run. Forecasts each hub region's demand over the\n"
	       "next N buckets of B (mean, and the cover that meets service\n"
	       "level P), and shows the plan: holdback releases where a hub is\n"
	       "below its cover, then hub-to-hub transfers from the nearest\n"
	       "surplus, each only when the sales it protects are worth the van.\n"
	       "Allocated units never move. The forecast is the adaptive model\n"
	       "(docs/forecast.md), fitted at each plan on the network's whole\n"
	       "demand history (every region and SKU): MODEL is the candidate\n"
	       "that won by rolling-origin validation in the series' CLUSTER;\n"
	       "with too little history it is the issue-5 model.\n"
	       "apply: the same plan, carried out:\n"
	       "releases at once, each transfer becomes pick work at the source\n"
	       "(its id is the order key in the hub's queue), in transit once\n"
	       "shipped, and is received at the destination with\n"
	       "`pickterm receive SKU QTY --transfer ID`.\n"
	       "Defaults: every SKU with stock, and the coordinator's\n"
	       "rebalance.horizon, rebalance.service, rebalance.bucket_ms.\n"
	       "N: 1..%u; P: %.3g..%.3g; B: 1m, 1h, 1d, 90s or milliseconds.\n"
	       "--json: {\"plan\":{...,\"forecasts\":[...],\"actions\":[...]},"
	       "\n        \"applied\":BOOL}\n",
	    (unsigned)FORECAST_HORIZON_MAX, FORECAST_SERVICE_MIN,
	    FORECAST_SERVICE_MAX);
}

static json_t *rebal_plan_json(const Dropnet__RebalancePlan *p)
{
	json_t *fc = json_array(), *acts = json_array();
	if (fc == NULL || acts == NULL) {
		json_decref(fc);
		json_decref(acts);
		return NULL;
	}
	for (size_t k = 0; k < p->n_forecasts; k++) {
		const Dropnet__HubForecast *f = p->forecasts[k];
		json_array_append_new(fc, json_pack(
		    "{s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:f,s:f}", "hub",
		    f->hub, "sku", f->sku, "mean", f->mean, "cover",
		    (json_int_t)f->cover, "on_hand", (json_int_t)f->on_hand,
		    "allocated", (json_int_t)f->allocated, "holdback",
		    (json_int_t)f->holdback, "sellable", (json_int_t)f->sellable,
		    "model", f->model, "cluster", f->cluster, "level", f->level,
		    "factor", f->factor));
	}
	for (size_t k = 0; k < p->n_actions; k++) {
		const Dropnet__PlanAction *a = p->actions[k];
		json_array_append_new(acts, json_pack(
		    "{s:s,s:s,s:s,s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:b,s:s,s:s}", "kind",
		    a->kind, "sku", a->sku, "from_hub", a->from_hub, "to_hub",
		    a->to_hub, "qty", (json_int_t)a->qty, "km", a->km, "gained",
		    a->gained, "lost", a->lost, "value", a->value, "cost",
		    a->cost, "from_holdback", (int)a->from_holdback,
		    "transfer_id", a->transfer_id, "transfer_id_last",
		    a->transfer_id_last));
	}
	return json_pack("{s:I,s:I,s:f,s:I,s:b,s:I,s:I,s:I,s:I,s:f,s:f,s:o,s:o}",
	    "bucket_ms", (json_int_t)p->bucket_ms, "horizon",
	    (json_int_t)p->horizon, "service", p->service, "panel_series",
	    (json_int_t)p->panel_series, "panel_learned",
	    (int)p->panel_learned, "panel_cases",
	    (json_int_t)p->panel_cases, "trips",
	    (json_int_t)p->trips, "units_released",
	    (json_int_t)p->units_released, "units_moved",
	    (json_int_t)p->units_moved, "value", p->value, "cost", p->cost,
	    "forecasts", fc, "actions", acts);
}

static int rebal_plan_table(const Dropnet__RebalancePlan *p, bool applied)
{
	static const char *const fhead[] = { "HUB", "SKU", "MEAN", "COVER",
		"ON_HAND", "ALLOC", "HOLD", "SELLABLE", "MODEL", "CLUSTER" };
	static const char *const ahead[] = { "ACTION", "SKU", "FROM", "TO",
		"QTY", "KM", "GAINED", "LOST", "VALUE", "COST" };
	char bucket[32];
	int ex = DROPCTL_EXIT_OK;

	dropctl_fmt_duration(p->bucket_ms, bucket, sizeof(bucket));
	printf("%s: horizon %u x %s buckets, service %.3g\n",
	    applied ? "applied" : "plan (dry run)", p->horizon, bucket,
	    p->service);
	if (p->panel_learned) {
		printf("model: adaptive, fitted on the network's %u series "
		    "(%" PRIu64 " validation cases); MODEL won in its CLUSTER\n",
		    p->panel_series, p->panel_cases);
	} else {
		printf("model: issue-5 (the network's %u series give %" PRIu64
		    " validation cases, too few to learn from)\n",
		    p->panel_series, p->panel_cases);
	}
	if (p->n_forecasts == 0) {
		printf("\nno forecasts: no stock and no demand\n");
	} else {
		dropctl_table t;
		printf("\n");
		dropctl_table_init(&t, 10, fhead, "llrrrrrrll");
		for (size_t k = 0; k < p->n_forecasts; k++) {
			const Dropnet__HubForecast *f = p->forecasts[k];
			dropctl_table_cell(&t, "%s", f->hub);
			dropctl_table_cell(&t, "%s", f->sku);
			dropctl_table_cell(&t, "%.1f", f->mean);
			dropctl_table_cell(&t, "%" PRId64, f->cover);
			dropctl_table_cell(&t, "%" PRId64, f->on_hand);
			dropctl_table_cell(&t, "%" PRId64, f->allocated);
			dropctl_table_cell(&t, "%" PRId64, f->holdback);
			dropctl_table_cell(&t, "%" PRId64, f->sellable);
			dropctl_table_cell(&t, "%s", f->model);
			dropctl_table_cell(&t, "%s", f->cluster);
		}
		ex = dropctl_table_print(&t);
		dropctl_table_fini(&t);
	}
	printf("\n");
	if (p->n_actions == 0) {
		printf("no actions: every hub covers its forecast, or no move "
		       "is worth its cost\n");
	} else {
		dropctl_table t;
		bool star = false;
		dropctl_table_init(&t, 10, ahead, "llllrrrrrr");
		for (size_t k = 0; k < p->n_actions; k++) {
			const Dropnet__PlanAction *a = p->actions[k];
			bool tr = strcmp(a->kind, "transfer") == 0;
			dropctl_table_cell(&t, "%s%s", a->kind,
			    tr && a->from_holdback ? "*" : "");
			star = star || (tr && a->from_holdback);
			dropctl_table_cell(&t, "%s", a->sku);
			dropctl_table_cell(&t, "%s", tr ? a->from_hub : "-");
			dropctl_table_cell(&t, "%s", a->to_hub);
			dropctl_table_cell(&t, "%" PRId64, a->qty);
			dropctl_table_cell(&t, tr ? "%.0f" : "-", a->km);
			dropctl_table_cell(&t, "%.1f", a->gained);
			dropctl_table_cell(&t, "%.1f", a->lost);
			dropctl_table_cell(&t, "%.1f", a->value);
			dropctl_table_cell(&t, "%.1f", a->cost);
		}
		int e2 = dropctl_table_print(&t);
		dropctl_table_fini(&t);
		ex = ex != DROPCTL_EXIT_OK ? ex : e2;
		if (star) {
			printf("* the source's holdback goes first\n");
		}
	}
	printf("total: %" PRId64 " released, %" PRId64 " moved in %u trips, "
	       "value %.1f, cost %.1f\n", p->units_released, p->units_moved,
	    p->trips, p->value, p->cost);
	for (size_t k = 0; applied && k < p->n_actions; k++) {
		const Dropnet__PlanAction *a = p->actions[k];
		if (a->transfer_id[0] != '\0') {
			/* A trip over 10,000 units went out as several. */
			bool split = a->transfer_id_last[0] != '\0';
			printf("transfer %s%s%s: %" PRId64 " %s %s -> %s (pick at "
			       "%s)\n", a->transfer_id, split ? ".." : "",
			    a->transfer_id_last, a->qty, a->sku, a->from_hub,
			    a->to_hub, a->from_hub);
		}
	}
	return ex;
}

int dropctl_rebalance(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *sku = NULL, *horizon = NULL, *service = NULL;
	const char *bucket = NULL, *sub = NULL;
	int ex;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			rebal_help_rebalance();
			return DROPCTL_EXIT_OK;
		}
		if (sub == NULL && (strcmp(argv[i], "plan") == 0 ||
		    strcmp(argv[i], "apply") == 0)) {
			sub = argv[i];
			continue;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--sku", &sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--horizon", &horizon)) ==
			0 &&
		    (m = dropctl_flag(argc, argv, &i, "--service", &service)) ==
			0 &&
		    (m = dropctl_flag(argc, argv, &i, "--bucket", &bucket)) ==
			0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("rebalance",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (sub == NULL) {
		return dropctl_usage_error("rebalance", "missing subcommand "
		    "(plan, apply)");
	}
	bool apply = strcmp(sub, "apply") == 0;
	req.kind = apply ? DROPNET__OPS_KIND__OPS_REBALANCE_APPLY :
	    DROPNET__OPS_KIND__OPS_REBALANCE_PLAN;
	if (horizon != NULL) {
		int64_t h = 0;
		if (dropctl_parse_i64(horizon, 1, FORECAST_HORIZON_MAX,
		    &h) != 0) {
			return dropctl_usage_error("rebalance", "--horizon wants "
			    "1..%u buckets, not '%s'",
			    (unsigned)FORECAST_HORIZON_MAX, horizon);
		}
		req.horizon = (uint32_t)h;
	}
	if (service != NULL) {
		double s = 0;
		if (dropctl_parse_double(service, &s) != 0 ||
		    !(s >= FORECAST_SERVICE_MIN &&
			s <= FORECAST_SERVICE_MAX)) {
			return dropctl_usage_error("rebalance", "--service wants "
			    "%.3g..%.3g, not '%s'", FORECAST_SERVICE_MIN,
			    FORECAST_SERVICE_MAX, service);
		}
		req.service = s;
	}
	if (bucket != NULL && (ex = rebal_bucket_parse("rebalance", bucket,
	    &req.bucket_ms)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (sku != NULL) {
		req.sku = (char *)sku;
	}
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = rebal_status_fail("rebalance", r);
	} else if (r->plan == NULL) {
		fprintf(stderr, "dropctl: rebalance: the reply has no plan\n");
		ex = DROPCTL_EXIT_FAIL;
	} else if (o->json) {
		json_t *p = rebal_plan_json(r->plan);
		ex = dropctl_json_emit(p != NULL ? json_pack("{s:o,s:b}", "plan",
		    p, "applied", (int)apply) : NULL);
	} else {
		ex = rebal_plan_table(r->plan, apply);
	}
	if (r->status == DROPNET__STATUS__OK && r->message[0] != '\0') {
		fprintf(stderr, "dropctl: rebalance: %s\n", r->message);
	}
	codec_ops_reply_free(r);
	return ex;
}

/* ---- transfers ---- */

static void rebal_help_transfers(void)
{
	printf("usage: dropctl [global flags] transfers\n"
	       "\n"
	       "Hub-to-hub transfers, newest first: picking (pick work at the\n"
	       "source), in_transit (shipped), received (at the destination).\n"
	       "SINCE: when it entered that state (UTC).\n"
	       "--json: {\"transfers\":[{id,sku,from_hub,to_hub,qty,state,\n"
	       "         created_ms,shipped_ms,received_ms}]}\n");
}

static int rebal_transfers_json(const Dropnet__OpsReply *r)
{
	json_t *arr = json_array();
	for (size_t k = 0; arr != NULL && k < r->n_transfers; k++) {
		const Dropnet__Transfer *t = r->transfers[k];
		json_array_append_new(arr, json_pack(
		    "{s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:I}", "id", t->id, "sku",
		    t->sku, "from_hub", t->from_hub, "to_hub", t->to_hub, "qty",
		    (json_int_t)t->qty, "state", t->state, "created_ms",
		    (json_int_t)t->created_ms, "shipped_ms",
		    (json_int_t)t->shipped_ms, "received_ms",
		    (json_int_t)t->received_ms));
	}
	return dropctl_json_emit(arr != NULL ? json_pack("{s:o}", "transfers",
	    arr) : NULL);
}

static int rebal_transfers_table(const Dropnet__OpsReply *r)
{
	static const char *const head[] = { "ID", "SKU", "FROM", "TO", "QTY",
		"STATE", "SINCE" };
	dropctl_table t;

	if (r->n_transfers == 0) {
		printf("no transfers\n");
		return DROPCTL_EXIT_OK;
	}
	/* One time column keeps the table at 80 columns: when the transfer
	 * entered its current state (--json has all three). */
	dropctl_table_init(&t, 7, head, "llllrll");
	for (size_t k = 0; k < r->n_transfers; k++) {
		const Dropnet__Transfer *x = r->transfers[k];
		int64_t since = x->received_ms > 0 ? x->received_ms :
		    x->shipped_ms > 0 ? x->shipped_ms : x->created_ms;
		char when[32];
		rebal_fmt_clock(since, when, sizeof(when));
		dropctl_table_cell(&t, "%s", x->id);
		dropctl_table_cell(&t, "%s", x->sku);
		dropctl_table_cell(&t, "%s", x->from_hub);
		dropctl_table_cell(&t, "%s", x->to_hub);
		dropctl_table_cell(&t, "%" PRId64, x->qty);
		dropctl_table_cell(&t, "%s", x->state);
		dropctl_table_cell(&t, "%s", when);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

int dropctl_transfers(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	int ex;

	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			rebal_help_transfers();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g == 0) {
			return dropctl_usage_error("transfers",
			    "unexpected argument '%s'", argv[i]);
		}
	}
	req.kind = DROPNET__OPS_KIND__OPS_TRANSFERS;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = rebal_status_fail("transfers", r);
	} else {
		ex = o->json ? rebal_transfers_json(r) :
		    rebal_transfers_table(r);
	}
	codec_ops_reply_free(r);
	return ex;
}

/* ---- signals ---- */

static void rebal_help_signals(void)
{
	printf("usage: dropctl [global flags] signals [--url URL] [--count N]\n"
	       "               [--spikes] [--hub H] [--sku S]\n"
	       "\n"
	       "Subscribes to the coordinator's regional demand signals (nng\n"
	       "pub socket, topic \"signal\"; --url or $%s) and prints\n"
	       "N of them (default 1) as they arrive, one line each (--json:\n"
	       "one JSON object per line). During an open drop the coordinator\n"
	       "publishes every spike bucket's figures per (region, sku): the\n"
	       "observed rate, the forecast rate, the region's sellable units\n"
	       "and the spike test's statistic against its threshold; SPIKE\n"
	       "marks a declared spike (statistic >= threshold). --spikes\n"
	       "prints only those; --hub / --sku keep one region / SKU.\n"
	       "Waits at most --timeout-ms (default %d) in all; exit 1 when\n"
	       "fewer than N signals came in that time.\n",
	    REBAL_CMD_ENV_SIGNAL, DROPCTL_TIMEOUT_MS_DEFAULT);
}

/* A declared spike. RegionSignal has no flag of its own: the statistic of
 * a declared spike is at its threshold, and core/spike.c declares within a
 * relative 1e-12 of it, so the comparison allows for that rounding. */
static bool rebal_signal_spike(const Dropnet__RegionSignal *s)
{
	return s->threshold > 0 && s->statistic >= s->threshold * (1 - 1e-9);
}

static int rebal_signal_print(const Dropnet__RegionSignal *s, bool json)
{
	if (json) {
		return dropctl_json_emit(json_pack(
		    "{s:s,s:s,s:s,s:f,s:f,s:I,s:f,s:f,s:I,s:b}", "hub", s->hub,
		    "sku", s->sku, "drop_id", s->drop_id, "rate_per_min",
		    s->rate_per_min, "forecast_per_min", s->forecast_per_min,
		    "sellable", (json_int_t)s->sellable, "statistic",
		    s->statistic, "threshold", s->threshold, "time_ms",
		    (json_int_t)s->time_ms, "spike",
		    (int)rebal_signal_spike(s)));
	}
	char when[32];
	rebal_fmt_clock(s->time_ms, when, sizeof(when));
	/* One line of at most ~80 columns for typical ids. */
	printf("%s %-10s %-10s %6.1f/min (fc %5.1f) sellable %4" PRId64
	       " S %.2f/%.2f%s\n", when, s->hub, s->sku, s->rate_per_min,
	    s->forecast_per_min, s->sellable, s->statistic, s->threshold,
	    rebal_signal_spike(s) ? " SPIKE" : "");
	fflush(stdout);
	return DROPCTL_EXIT_OK;
}

/* Which signals `signals` prints: --spikes, --hub, --sku. */
typedef struct {
	bool spikes;     /* declared spikes only */
	const char *hub; /* one region, or NULL for all */
	const char *sku; /* one SKU, or NULL for all */
} rebal_signal_filter;

static bool rebal_signal_keep(const rebal_signal_filter *f,
    const Dropnet__RegionSignal *s)
{
	return (!f->spikes || rebal_signal_spike(s)) &&
	    (f->hub == NULL || strcmp(f->hub, s->hub) == 0) &&
	    (f->sku == NULL || strcmp(f->sku, s->sku) == 0);
}

/* Parses the flags into *f, *want (--count) and *url (--url, else
 * $DROPNET_SIGNAL). Returns -1 to go on, else an exit code. */
static int rebal_signals_args(dropctl_opts *o, int argc, char **argv,
    rebal_signal_filter *f, int64_t *want, const char **url)
{
	const char *count = NULL;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			rebal_help_signals();
			return DROPCTL_EXIT_OK;
		}
		if (strcmp(argv[i], "--spikes") == 0) {
			f->spikes = true;
			continue;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--url", url)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--count", &count)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--hub", &f->hub)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", &f->sku)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("signals",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (count != NULL && dropctl_parse_i64(count, 1,
	    REBAL_CMD_SIGNALS_MAX, want) != 0) {
		return dropctl_usage_error("signals", "--count wants 1..%u, "
		    "not '%s'", REBAL_CMD_SIGNALS_MAX, count);
	}
	if (*url == NULL) {
		*url = getenv(REBAL_CMD_ENV_SIGNAL);
	}
	if (*url == NULL || (*url)[0] == '\0') {
		fprintf(stderr, "dropctl: signals: no signal socket: pass --url "
				"URL or set %s\n", REBAL_CMD_ENV_SIGNAL);
		return DROPCTL_EXIT_USAGE;
	}
	return -1;
}

/* Opens a sub socket on the signal topic and starts dialling url. Returns
 * DROPCTL_EXIT_OK with *sock set, or an exit code after printing why. */
static int rebal_signals_open(const char *url, nng_socket *sock)
{
	int rv = nng_sub0_open(sock);
	if (rv == 0) {
		rv = nng_socket_set(*sock, NNG_OPT_SUB_SUBSCRIBE,
		    REBAL_CMD_TOPIC, REBAL_CMD_TOPIC_LEN);
	}
	if (rv != 0) {
		fprintf(stderr, "dropctl: signals: %s\n", nng_strerror(rv));
		return DROPCTL_EXIT_FAIL;
	}
	/* Non-blocking dial: nng keeps redialling in the background, so a
	 * coordinator that comes up during the wait is still heard. */
	nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, REBAL_CMD_SIGNAL_MSG_MAX);
	nettls_files tls;
	nettls_files_from_env(&tls, NETTLS_AS_DEFAULT);
	rv = nettls_dial(*sock, url, &tls, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_close(*sock); /* no pipe yet: closing cannot hang */
		fprintf(stderr, "dropctl: bad signal address '%s' or TLS setup (%s)\n",
		    url, dn_strerror(rv));
		return DROPCTL_EXIT_USAGE;
	}
	return DROPCTL_EXIT_OK;
}

/* Waits until deadline (wall-clock ms) for the next signal. Returns 0 with
 * *out set (free it with codec_region_signal_free); DN_ETIMEDOUT when the
 * deadline passed; DN_EPROTO for a message that did not decode (reported
 * on stderr; skip it); DN_ENET or DN_ERANGE after printing why the run
 * must stop (a socket error, another protocol version). */
static int rebal_signal_recv(nng_socket sock, int64_t deadline,
    Dropnet__RegionSignal **out)
{
	nng_msg *m = NULL;
	int rv = dropctl_sub_recv(sock, deadline, "signals", &m);
	if (rv != 0) {
		return rv;
	}
	size_t len = nng_msg_len(m);
	const uint8_t *body = nng_msg_body(m);
	Dropnet__RegionSignal *s = NULL;
	int cr = len >= REBAL_CMD_TOPIC_LEN ?
	    codec_region_signal_unpack(body + REBAL_CMD_TOPIC_LEN,
		len - REBAL_CMD_TOPIC_LEN, &s) : DN_EPROTO;
	nng_msg_free(m);
	if (cr == DN_ERANGE) {
		fprintf(stderr, "dropctl: signals: coordinator speaks "
		    "protocol version %u, this dropctl speaks %u\n",
		    s->version, DN_PROTO_VERSION);
		codec_region_signal_free(s);
		return DN_ERANGE;
	}
	if (cr != 0) {
		fprintf(stderr, "dropctl: signals: a message did not "
				"decode as RegionSignal (skipped)\n");
		return DN_EPROTO;
	}
	*out = s;
	return 0;
}

/* Prints the signals that pass f as they arrive, until *got reaches want
 * or the deadline passes. Returns DROPCTL_EXIT_OK (whatever *got is) or
 * DROPCTL_EXIT_FAIL after printing why. */
static int rebal_signals_follow(nng_socket sock, const rebal_signal_filter *f,
    bool json, int64_t want, int64_t deadline, int64_t *got)
{
	int ex = DROPCTL_EXIT_OK;

	while (*got < want && ex == DROPCTL_EXIT_OK) {
		Dropnet__RegionSignal *s = NULL;
		int rv = rebal_signal_recv(sock, deadline, &s);
		if (rv == DN_ETIMEDOUT) {
			break;
		}
		if (rv == DN_EPROTO) {
			continue;
		}
		if (rv != 0) {
			ex = DROPCTL_EXIT_FAIL;
			break;
		}
		if (rebal_signal_keep(f, s)) {
			ex = rebal_signal_print(s, json);
			*got += 1;
		}
		codec_region_signal_free(s);
	}
	return ex;
}

int dropctl_signals(dropctl_opts *o, int argc, char **argv)
{
	rebal_signal_filter f = { false, NULL, NULL };
	const char *url = NULL;
	int64_t want = 1, got = 0;
	nng_socket sock;
	int ex;

	if ((ex = rebal_signals_args(o, argc, argv, &f, &want, &url)) >= 0) {
		return ex;
	}
	if ((ex = rebal_signals_open(url, &sock)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	int64_t deadline = dropctl_now_ms() + o->timeout_ms;
	ex = rebal_signals_follow(sock, &f, o->json, want, deadline, &got);
	/* No nng_close: libnng 1.5.2 can deadlock closing a socket whose pipe
	 * is still receiving (nanomsg/nng#1543, fixed after 1.5.2), and a
	 * busy pub socket makes that likely here. The process ends right
	 * after; exit releases the socket. */
	if (ex == DROPCTL_EXIT_OK && got < want) {
		fprintf(stderr, "dropctl: signals: %" PRId64 " of %" PRId64
		    " signals from %s within %d ms\n", got, want, url,
		    o->timeout_ms);
		ex = DROPCTL_EXIT_FAIL;
	}
	return ex;
}
