/*
 * kpi_cmd.c - `dropctl kpi --drop D`: a drop's KPIs as the coordinator
 * computes them from what it recorded (DropKpi in proto/dropnet.proto).
 *
 * Human output: a compact report at 80 columns - sell-through per minute,
 * fill per hub and within radius, time to fulfil p50/p90, repeat rate of
 * the buyers the drop acquired, the gift cohort's repeat rate against the
 * other first-time buyers' (the retention lift), rejections by reason, units
 * held back and released. --json: {"kpi":{...}} with every DropKpi field;
 * a ratio or percentile with nothing under it is null, not 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "dropctl.h"

/* Minutes of sell-through printed before "... N more": five lines of six. */
#define KPI_MINUTES_SHOWN 30u
#define KPI_MINUTES_PER_LINE 6u

static void kpi_help(void)
{
	printf("usage: dropctl [global flags] kpi --drop D\n"
	       "\n"
	       "A drop's KPIs: accepted units per minute, fill rate per hub\n"
	       "and within radius, time to fulfil (accept -> ship, p50/p90),\n"
	       "repeat purchase rate of buyers acquired by the drop, gift vs\n"
	       "non-gift first-time buyers' repeat rate (retention lift),\n"
	       "rejections by reason, units held back and released.\n"
	       "A priced drop adds its revenue, and per tier, per hub that took\n"
	       "the order and per region (the order's nearest hub in range) the\n"
	       "orders, units, revenue and average order value (minor units);\n"
	       "per price experiment arm (experiment/arm) the exposures and the\n"
	       "orders, units and revenue of the experiment SKU at the arm's\n"
	       "price, and revenue per exposure; per activation (`dropctl\n"
	       "activation add`) its cost, the orders received in its window,\n"
	       "their revenue and revenue per unit of cost (ROI), and the total\n"
	       "cost of the drop's activations.\n"
	       "--json prints every field; ratios with no base are null.\n");
}

static json_t *kpi_ratio(bool meaningful, double v)
{
	return meaningful ? json_real(v) : json_null();
}

static json_t *kpi_money_json(Dropnet__MoneyRow *const *rows, size_t n, bool arms)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I}", "key", rows[i]->key,
		    "orders", (json_int_t)rows[i]->orders, "units", (json_int_t)rows[i]->units,
		    "revenue_minor", (json_int_t)rows[i]->revenue_minor, "aov_minor",
		    (json_int_t)rows[i]->aov_minor);
		if (o != NULL && arms) {
			json_object_set_new(o, "exposures", json_integer((json_int_t)rows[i]->exposures));
			json_object_set_new(o, "revenue_per_exposure", rows[i]->exposures > 0 ?
			    json_real((double)rows[i]->revenue_minor / (double)rows[i]->exposures) :
			    json_null());
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* Revenue, units and average order value per tier and per hub (priced
 * drops only). */
static int kpi_money(const Dropnet__DropKpi *k)
{
	static const char *const h[] = {"BY", "KEY", "ORDERS", "UNITS", "REVENUE", "AOV",
	    "EXPOSURES", "REV/EXP"};
	if (k->currency[0] == '\0') {
		return DROPCTL_EXIT_OK;
	}
	printf("revenue       %" PRId64 " %s (minor units)\n", k->revenue_minor, k->currency);
	const struct {
		const char *by;
		Dropnet__MoneyRow *const *rows;
		size_t n;
	} g[] = {
		{"tier", k->money_by_tier, k->n_money_by_tier},
		{"hub", k->money_by_hub, k->n_money_by_hub},
		{"region", k->money_by_region, k->n_money_by_region},
		{"arm", k->money_by_arm, k->n_money_by_arm},
	};
	dropctl_table t;
	dropctl_table_init(&t, 8, h, "llrrrrrr");
	for (size_t x = 0; x < sizeof(g) / sizeof(g[0]); x++) {
		bool arm = strcmp(g[x].by, "arm") == 0;
		for (size_t i = 0; i < g[x].n; i++) {
			const Dropnet__MoneyRow *r = g[x].rows[i];
			dropctl_table_cell(&t, "%s", g[x].by);
			dropctl_table_cell(&t, "%s", r->key[0] ? r->key : "(none)");
			dropctl_table_cell(&t, "%u", r->orders);
			dropctl_table_cell(&t, "%u", r->units);
			dropctl_table_cell(&t, "%" PRId64, r->revenue_minor);
			dropctl_table_cell(&t, "%" PRId64, r->aov_minor);
			if (arm) {
				dropctl_table_cell(&t, "%" PRIu64, r->exposures);
				dropctl_table_cell(&t, "%.1f", r->exposures > 0 ?
				    (double)r->revenue_minor / (double)r->exposures : 0.0);
			} else {
				dropctl_table_cell(&t, "-");
				dropctl_table_cell(&t, "-");
			}
		}
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	if (ex != DROPCTL_EXIT_OK || k->n_activations == 0) {
		return ex;
	}
	printf("\nactivations   cost %" PRId64 " %s in all (minor units)\n",
	    k->activation_cost_minor, k->currency);
	return dropctl_activations_print(k->activations, k->n_activations);
}

static json_t *kpi_json(const Dropnet__DropKpi *k)
{
	json_t *st = json_array(), *fill = json_array(), *rej = json_array();
	uint32_t fill_orders = 0;

	if (st == NULL || fill == NULL || rej == NULL) {
		json_decref(st);
		json_decref(fill);
		json_decref(rej);
		return NULL;
	}
	for (size_t i = 0; i < k->n_sell_through; i++) {
		json_array_append_new(st, json_pack("{s:I,s:I}", "minute_ms",
		    (json_int_t)k->sell_through[i]->minute_ms, "units",
		    (json_int_t)k->sell_through[i]->units));
	}
	for (size_t i = 0; i < k->n_fill; i++) {
		const Dropnet__HubFill *f = k->fill[i];
		fill_orders += f->orders;
		json_array_append_new(fill, json_pack("{s:s,s:I,s:I,s:I}",
		    "hub", f->hub, "orders", (json_int_t)f->orders, "filled",
		    (json_int_t)f->filled, "filled_here",
		    (json_int_t)f->filled_here));
	}
	for (size_t i = 0; i < k->n_rejections; i++) {
		json_array_append_new(rej, json_pack("{s:s,s:I}", "reason",
		    k->rejections[i]->reason, "orders",
		    (json_int_t)k->rejections[i]->orders));
	}
	bool shipped = k->shipped_orders > 0;
	json_t *p50 = shipped ? json_integer((json_int_t)k->fulfil_p50_ms)
			      : json_null();
	json_t *p90 = shipped ? json_integer((json_int_t)k->fulfil_p90_ms)
			      : json_null();
	return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:o,s:I,s:o,s:I,"
			 "s:o,s:o,s:I,s:I,s:I,s:I,s:s,s:I,s:o,s:o,s:o,s:o}",
	    "drop_id", k->drop_id, "sell_through", st, "fill", fill,
	    "fill_within_radius", kpi_ratio(fill_orders > 0 ||
		k->fill_within_radius > 0, k->fill_within_radius),
	    "fulfil_p50_ms", p50, "fulfil_p90_ms", p90, "shipped_orders",
	    (json_int_t)k->shipped_orders, "buyers_acquired",
	    (json_int_t)k->buyers_acquired, "repeat_rate",
	    kpi_ratio(k->buyers_acquired > 0, k->repeat_rate), "gift_buyers",
	    (json_int_t)k->gift_buyers, "gift_repeat_rate",
	    kpi_ratio(k->gift_buyers > 0, k->gift_repeat_rate),
	    "nongift_first_buyers", (json_int_t)k->nongift_first_buyers,
	    "nongift_repeat_rate",
	    kpi_ratio(k->nongift_first_buyers > 0, k->nongift_repeat_rate),
	    "rejections", rej, "held_back", (json_int_t)k->held_back,
	    "released", (json_int_t)k->released, "accepted_orders",
	    (json_int_t)k->accepted_orders, "accepted_units",
	    (json_int_t)k->accepted_units, "currency", k->currency, "revenue_minor",
	    (json_int_t)k->revenue_minor, "money_by_tier",
	    kpi_money_json(k->money_by_tier, k->n_money_by_tier, false), "money_by_hub",
	    kpi_money_json(k->money_by_hub, k->n_money_by_hub, false), "money_by_region",
	    kpi_money_json(k->money_by_region, k->n_money_by_region, false), "money_by_arm",
	    kpi_money_json(k->money_by_arm, k->n_money_by_arm, true));
}

/* kpi_json plus the activations (jansson's pack has a bound on its
 * format's length, so they go in after). */
static json_t *kpi_json_all(const Dropnet__DropKpi *k)
{
	json_t *j = kpi_json(k);
	if (j != NULL) {
		json_object_set_new(j, "activations",
		    dropctl_activations_json(k->activations, k->n_activations));
		json_object_set_new(j, "activation_cost_minor",
		    json_integer((json_int_t)k->activation_cost_minor));
	}
	return j;
}

/* "18:05", or "27 18:05" (day of month too) when the drop's sales span
 * more than one UTC day. */
static void kpi_hhmm(int64_t ms, bool with_day, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	strftime(buf, len, with_day ? "%d %H:%M" : "%H:%M", &tm);
}

static void kpi_sell_through(const Dropnet__DropKpi *k)
{
	uint64_t total = 0;
	uint32_t peak = 0;
	int64_t peak_ms = 0;
	char a[48];

	for (size_t i = 0; i < k->n_sell_through; i++) {
		total += k->sell_through[i]->units;
		if (k->sell_through[i]->units > peak) {
			peak = k->sell_through[i]->units;
			peak_ms = k->sell_through[i]->minute_ms;
		}
	}
	if (k->n_sell_through == 0) {
		printf("sell-through  nothing sold yet\n");
		return;
	}
	dropctl_fmt_time(peak_ms, a, sizeof(a));
	a[16] = '\0'; /* "2026-11-27T18:00": the minute is enough */
	printf("sell-through  %" PRIu64 " units in %zu minute%s with sales; "
	       "peak %u/min at %s\n",
	    total, k->n_sell_through, k->n_sell_through == 1 ? "" : "s", peak,
	    a);
	bool with_day = false;
	for (size_t i = 1; i < k->n_sell_through; i++) {
		if (k->sell_through[i]->minute_ms / 86400000 !=
		    k->sell_through[0]->minute_ms / 86400000) {
			with_day = true;
		}
	}
	size_t per_line = with_day ? KPI_MINUTES_PER_LINE - 1
				   : KPI_MINUTES_PER_LINE;
	size_t shown = k->n_sell_through < KPI_MINUTES_SHOWN
	    ? k->n_sell_through : KPI_MINUTES_SHOWN;
	for (size_t i = 0; i < shown; i++) {
		char hm[16];
		kpi_hhmm(k->sell_through[i]->minute_ms, with_day, hm, sizeof(hm));
		printf("  %s %5u", hm, k->sell_through[i]->units);
		if ((i + 1) % per_line == 0 || i + 1 == shown) {
			printf("\n");
		}
	}
	if (shown < k->n_sell_through) {
		printf("  ... %zu more minutes (--json for all)\n",
		    k->n_sell_through - shown);
	}
}

static void kpi_pct(char *buf, size_t len, bool meaningful, double v)
{
	if (meaningful) {
		snprintf(buf, len, "%.1f%%", v * 100.0);
	} else {
		snprintf(buf, len, "-");
	}
}

static int kpi_fill(const Dropnet__DropKpi *k)
{
	static const char *const head[] = { "HUB", "ORDERS", "FILLED",
		"HERE", "FILL" };
	dropctl_table t;
	uint32_t orders = 0;

	if (k->n_fill == 0) {
		printf("fill          no orders routed yet\n");
		return DROPCTL_EXIT_OK;
	}
	printf("\nfill per hub (orders whose nearest in-range hub it is)\n");
	dropctl_table_init(&t, 5, head, "lrrrr");
	for (size_t i = 0; i < k->n_fill; i++) {
		const Dropnet__HubFill *f = k->fill[i];
		char p[16];
		orders += f->orders;
		kpi_pct(p, sizeof(p), f->orders > 0,
		    f->orders > 0 ? (double)f->filled / f->orders : 0.0);
		dropctl_table_cell(&t, "%s", f->hub);
		dropctl_table_cell(&t, "%u", f->orders);
		dropctl_table_cell(&t, "%u", f->filled);
		dropctl_table_cell(&t, "%u", f->filled_here);
		dropctl_table_cell(&t, "%s", p);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	char p[16];
	kpi_pct(p, sizeof(p), orders > 0 || k->fill_within_radius > 0,
	    k->fill_within_radius);
	printf("within radius %s of orders with a hub in range were filled\n",
	    p);
	return ex;
}

static int kpi_rejections(const Dropnet__DropKpi *k)
{
	static const char *const head[] = { "REJECTED", "ORDERS" };
	dropctl_table t;

	if (k->n_rejections == 0) {
		printf("rejections    none\n");
		return DROPCTL_EXIT_OK;
	}
	printf("\n");
	dropctl_table_init(&t, 2, head, "lr");
	for (size_t i = 0; i < k->n_rejections; i++) {
		dropctl_table_cell(&t, "%s", k->rejections[i]->reason);
		dropctl_table_cell(&t, "%u", k->rejections[i]->orders);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

static int kpi_text(const Dropnet__DropKpi *k)
{
	char a[32], b[32], c[16], d[16];
	int ex;

	printf("drop          %s\n", k->drop_id);
	printf("accepted      %u orders, %u units\n", k->accepted_orders,
	    k->accepted_units);
	if ((ex = kpi_money(k)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	kpi_sell_through(k);
	if ((ex = kpi_fill(k)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	printf("\n");
	if (k->shipped_orders > 0) {
		dropctl_fmt_duration(k->fulfil_p50_ms, a, sizeof(a));
		dropctl_fmt_duration(k->fulfil_p90_ms, b, sizeof(b));
		printf("time to fulfil  p50 %s  p90 %s  (accept -> ship, %u "
		       "shipped)\n", a, b, k->shipped_orders);
	} else {
		printf("time to fulfil  - (nothing shipped yet)\n");
	}
	kpi_pct(c, sizeof(c), k->buyers_acquired > 0, k->repeat_rate);
	printf("acquired        %u first-time buyers; %s ordered again\n",
	    k->buyers_acquired, c);
	kpi_pct(c, sizeof(c), k->gift_buyers > 0, k->gift_repeat_rate);
	kpi_pct(d, sizeof(d), k->nongift_first_buyers > 0,
	    k->nongift_repeat_rate);
	printf("retention     gift cohort %u buyers, repeat %s; without gift "
	       "%u, repeat %s\n", k->gift_buyers, c, k->nongift_first_buyers, d);
	if (k->gift_buyers > 0 && k->nongift_first_buyers > 0) {
		printf("              lift %+.1f points\n",
		    (k->gift_repeat_rate - k->nongift_repeat_rate) * 100.0);
	}
	printf("holdback      %" PRId64 " units held back, %" PRId64
	       " released\n", k->held_back, k->released);
	return kpi_rejections(k);
}

int dropctl_kpi(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *drop = NULL;
	int ex;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			kpi_help();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--drop", &drop)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("kpi",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (drop == NULL) {
		return dropctl_usage_error("kpi", "missing --drop D");
	}
	req.kind = DROPNET__OPS_KIND__OPS_KPI;
	req.drop_id = (char *)drop;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		fprintf(stderr, "dropctl: kpi: %s%s%s\n",
		    codec_status_name(r->status),
		    r->message[0] != '\0' ? ": " : "", r->message);
		ex = DROPCTL_EXIT_FAIL;
	} else if (r->kpi == NULL) {
		fprintf(stderr, "dropctl: kpi: reply carried no kpi\n");
		ex = DROPCTL_EXIT_FAIL;
	} else if (o->json) {
		json_t *k = kpi_json_all(r->kpi);
		ex = dropctl_json_emit(k != NULL ? json_pack("{s:o}", "kpi", k)
						 : NULL);
	} else {
		ex = kpi_text(r->kpi);
	}
	codec_ops_reply_free(r);
	return ex;
}
