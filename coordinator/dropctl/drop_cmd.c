/*
 * drop_cmd.c - `dropctl drop create|show|list|open|close`, `holdback
 * release` and `clock` over the ops socket (proto/dropnet.proto "drops").
 *
 * Human output fits 80 columns for typical ids; --json prints one object
 * mirroring the proto: drop show -> {"drop":{...}}, drop list ->
 * {"drops":[...]}. A status other than OK goes to stderr with the server's
 * message and exit 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "dropctl.h"
#include "drop_spec.h"

static void drop_help(void)
{
	printf(
	    "usage: dropctl [global flags] drop create [--file DROP.ini] [flags]\n"
	    "       dropctl [global flags] drop show ID\n"
	    "       dropctl [global flags] drop list\n"
	    "       dropctl [global flags] drop open ID\n"
	    "       dropctl [global flags] drop close ID\n"
	    "\n"
	    "A drop: SKUs with their units, placement and holdback, tiers with\n"
	    "their windows (UTC), quotas and roll-over, a gift rule, insiders.\n"
	    "It starts as a draft; `open` starts selling within the tiers'\n"
	    "windows, `close` stops it for good.\n"
	    "\n"
	    "create flags (added to, or overriding, what --file says):\n"
	    "  --file F                INI file: [drop] [sku NAME] [tier NAME]\n"
	    "                          [gift] (see deploy/drops/hoodie.ini)\n"
	    "  --id ID  --name TEXT\n"
	    "  --sku S:UNITS[:HOLDBACK_PCT[:LIMIT]]       repeatable\n"
	    "  --placement HUB:UNITS,...|proportional     for the --sku before\n"
	    "  --tier NAME:OPENS:CLOSES[:QUOTA[:FLAGS]]   repeatable, in window\n"
	    "                          order; FLAGS: rollover,insiders,release\n"
	    "  --gift SKU:first_order | SKU:every_nth:N | SKU:min_qty:N\n"
	    "  --insiders a,b,c\n"
	    "  --currency GBP          ISO 4217; required with prices\n"
	    "  --price SKU:TIER:MINOR  price in minor units (pence); one per\n"
	    "                          tier for every SKU, or none at all\n"
	    "  --bounds SKU:FLOOR:CEILING   no rule crosses them (default:\n"
	    "                          the lowest and highest tier price)\n"
	    "  --rule SKU:early_bird:MINUTES:PCT_OFF | SKU:last_units:N:PCT |\n"
	    "         SKU:demand:MAX_PCT   price rules (docs/prices.md)\n"
	    "  --dry-run               print the drop as JSON, send nothing\n"
	    "\n"
	    "times: 2026-11-27T18:00:00Z (UTC), epoch ms, now, +DUR (from the\n"
	    "coordinator's clock; DUR like 90s, 30m, 2h, 1d, 1h30m, 500ms);\n"
	    "OPENS may be @ or @+DUR (when the previous tier closes, + DUR);\n"
	    "CLOSES may be +DUR (the window's length after OPENS).\n"
	    "  e.g. --tier insider:now:+30m:100:rollover,insiders\n"
	    "       --tier public:@:+48h\n");
}

static void holdback_help(void)
{
	printf("usage: dropctl [global flags] holdback release --drop D --sku S\n"
	       "           --qty N [--hub H]\n"
	       "\n"
	       "Makes N held-back units of SKU S in drop D sellable, at hub H\n"
	       "or spread over every hub holding some back. Each release is a\n"
	       "ledger movement with a reason (see `dropctl stock`, audit).\n"
	       "CONFLICT (exit 1) when less than N is held back.\n");
}

static void clock_help(void)
{
	printf("usage: dropctl [global flags] clock [now]\n"
	       "       dropctl [global flags] clock set TIME\n"
	       "\n"
	       "Shows the coordinator's wall clock, or moves it (tests and\n"
	       "demos only: the coordinator must run with coordinator.test_clock\n"
	       "= 1, else CONFLICT). TIME: 2026-11-27T18:00:00Z, epoch ms, or\n"
	       "+DUR from the coordinator's current clock (+30m, +2h, +90s).\n");
}

static int drop_status_fail(const char *cmd, const Dropnet__OpsReply *r)
{
	fprintf(stderr, "dropctl: %s: %s%s%s\n", cmd,
	    codec_status_name(r->status), r->message[0] != '\0' ? ": " : "",
	    r->message);
	return DROPCTL_EXIT_FAIL;
}

/* ---- the coordinator's clock ---- */

int dropctl_coord_clock(const dropctl_opts *o, int64_t *out)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	int ex;

	req.kind = DROPNET__OPS_KIND__OPS_CLOCK;
	req.clock_ms = 0;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status == DROPNET__STATUS__OK && r->clock_ms > 0) {
		*out = r->clock_ms;
	} else {
		/* An older coordinator without OPS_CLOCK: our own clock is
		 * the best base there is. */
		*out = dropctl_now_ms();
	}
	codec_ops_reply_free(r);
	return DROPCTL_EXIT_OK;
}

/* ---- JSON ---- */

json_t *dropctl_drop_json(const Dropnet__Drop *d)
{
	json_t *skus = json_array(), *tiers = json_array(),
	       *ins = json_array();
	if (skus == NULL || tiers == NULL || ins == NULL) {
		goto oom;
	}
	for (size_t k = 0; k < d->n_skus; k++) {
		const Dropnet__DropSku *s = d->skus[k];
		json_t *pl = json_array();
		for (size_t h = 0; pl != NULL && h < s->n_placement; h++) {
			json_array_append_new(pl, json_pack("{s:s,s:I}", "hub",
			    s->placement[h]->hub, "units",
			    (json_int_t)s->placement[h]->units));
		}
		if (pl == NULL) {
			goto oom;
		}
		json_t *pr = json_object();
		for (size_t t = 0; pr != NULL && t < s->n_prices; t++) {
			json_object_set_new(pr, s->prices[t]->tier,
			    json_integer((json_int_t)s->prices[t]->price_minor));
		}
		if (pr == NULL) {
			json_decref(pl);
			goto oom;
		}
		json_array_append_new(skus,
		    json_pack("{s:s,s:I,s:f,s:I,s:o,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:i,s:I}",
			"sku", s->sku,
			"units", (json_int_t)s->units, "holdback_pct",
			s->holdback_pct, "limit_per_buyer",
			(json_int_t)s->limit_per_buyer, "placement", pl,
			"placement_proportional",
			(int)s->placement_proportional, "prices", pr,
			"floor_minor", (json_int_t)s->floor_minor,
			"ceiling_minor", (json_int_t)s->ceiling_minor,
			"early_bird_minutes", (json_int_t)s->early_bird_minutes,
			"early_bird_off_pct", (json_int_t)s->early_bird_off_pct,
			"last_units", (json_int_t)s->last_units,
			"last_units_pct", (int)s->last_units_pct,
			"demand_max_pct", (json_int_t)s->demand_max_pct));
	}
	for (size_t k = 0; k < d->n_tiers; k++) {
		const Dropnet__Tier *t = d->tiers[k];
		json_array_append_new(tiers,
		    json_pack("{s:s,s:I,s:I,s:I,s:b,s:b,s:b,s:I,s:I}", "name",
			t->name, "opens_ms", (json_int_t)t->opens_ms,
			"closes_ms", (json_int_t)t->closes_ms, "quota",
			(json_int_t)t->quota, "rollover", (int)t->rollover,
			"insiders_only", (int)t->insiders_only,
			"release_holdback", (int)t->release_holdback, "sold",
			(json_int_t)t->sold, "quota_effective",
			(json_int_t)t->quota_effective));
	}
	for (size_t k = 0; k < d->n_insiders; k++) {
		json_array_append_new(ins, json_string(d->insiders[k]));
	}
	json_t *gift = d->gift != NULL && d->gift->sku[0] != '\0'
	    ? json_pack("{s:s,s:s,s:I}", "sku", d->gift->sku, "kind",
		  drop_spec_gift_kind_name(d->gift->kind), "n",
		  (json_int_t)d->gift->n)
	    : json_null();
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I}",
	    "currency", d->currency,
	    "id", d->id, "name", d->name, "state", d->state, "created_ms",
	    (json_int_t)d->created_ms, "skus", skus, "tiers", tiers, "gift",
	    gift, "insiders", ins, "held_back", (json_int_t)d->held_back,
	    "released", (json_int_t)d->released, "accepted_orders",
	    (json_int_t)d->accepted_orders, "gifts_given",
	    (json_int_t)d->gifts_given);
oom:
	json_decref(skus);
	json_decref(tiers);
	json_decref(ins);
	return NULL;
}

/* ---- text ---- */

/* "11-27 18:00:05": month, day and time of day in UTC; the year is in the
 * header line. */
static void drop_fmt_short(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%m-%d %H:%M:%S", &tm);
}

static void drop_tier_flags(const Dropnet__Tier *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s",
	    t->rollover ? "roll" : "",
	    t->rollover && (t->insiders_only || t->release_holdback) ? "," : "",
	    t->insiders_only ? "ins" : "",
	    t->insiders_only && t->release_holdback ? "," : "",
	    t->release_holdback ? "rel" : "");
	if (buf[0] == '\0') {
		snprintf(buf, len, "-");
	}
}

/* Where we are relative to a tier's window, by the coordinator's clock. */
static const char *drop_tier_phase(const Dropnet__Tier *t, int64_t now)
{
	if (now <= 0) {
		return "";
	}
	if (now < t->opens_ms) {
		return "soon";
	}
	return now < t->closes_ms ? "OPEN" : "over";
}

/* The lines above the tables: id, name, state, times, counters, gift. */
static void drop_text_summary(const Dropnet__Drop *d, int64_t now)
{
	char a[48];

	printf("drop        %s", d->id);
	if (d->name[0] != '\0') {
		printf("  \"%s\"", d->name);
	}
	printf("  [%s]\n", d->state);
	dropctl_fmt_time(d->created_ms, a, sizeof(a));
	printf("created     %s\n", a);
	if (now > 0) {
		dropctl_fmt_time(now, a, sizeof(a));
		printf("clock       %s (coordinator)\n", a);
	}
	printf("orders      %u accepted, %u gift%s given\n", d->accepted_orders,
	    d->gifts_given, d->gifts_given == 1 ? "" : "s");
	printf("holdback    %" PRId64 " held back now, %" PRId64 " released\n",
	    d->held_back, d->released);
	if (d->gift != NULL && d->gift->sku[0] != '\0') {
		printf("gift        %s: %s", d->gift->sku,
		    drop_spec_gift_kind_name(d->gift->kind));
		if (d->gift->kind != DROPNET__GIFT_KIND__GIFT_FIRST_ORDER) {
			printf(" %u", d->gift->n);
		}
		printf("\n");
	}
}

/* The insider list on one line: as many ids as fit, then a count of the
 * rest. Nothing when the drop has no insiders. */
static void drop_text_insiders(const Dropnet__Drop *d)
{
	if (d->n_insiders == 0) {
		return;
	}
	printf("insiders    %zu:", d->n_insiders);
	size_t col = 17;
	for (size_t k = 0; k < d->n_insiders; k++) {
		size_t w = strlen(d->insiders[k]) + 1;
		if (col + w > 74 && k > 0) {
			printf(" ... (%zu more)", d->n_insiders - k);
			break;
		}
		printf(" %s", d->insiders[k]);
		col += w;
	}
	printf("\n");
}

/* One tier's row: window, quotas ("-" for none), sold, flags, phase. */
static void drop_tier_row(dropctl_table *t, const Dropnet__Tier *tr,
    int64_t now)
{
	char o[24], c[24], f[24];

	drop_fmt_short(tr->opens_ms, o, sizeof(o));
	drop_fmt_short(tr->closes_ms, c, sizeof(c));
	drop_tier_flags(tr, f, sizeof(f));
	dropctl_table_cell(t, "%s", tr->name);
	dropctl_table_cell(t, "%s", o);
	dropctl_table_cell(t, "%s", c);
	if (tr->quota == 0) {
		dropctl_table_cell(t, "-");
	} else {
		dropctl_table_cell(t, "%u", tr->quota);
	}
	if (tr->quota_effective == 0 || tr->quota_effective == UINT32_MAX) {
		dropctl_table_cell(t, "-");
	} else {
		dropctl_table_cell(t, "%u", tr->quota_effective);
	}
	dropctl_table_cell(t, "%u", tr->sold);
	dropctl_table_cell(t, "%s", f);
	dropctl_table_cell(t, "%s", drop_tier_phase(tr, now));
}

/* The tiers table, headed by the year of the first tier's opening (the
 * rows show month and day only). Nothing when the drop has no tiers. */
static int drop_text_tiers(const Dropnet__Drop *d, int64_t now)
{
	static const char *const th[] = { "TIER", "OPENS", "CLOSES", "QUOTA",
		"EFFECTIVE", "SOLD", "FLAGS", "NOW" };
	dropctl_table t;
	char y[16] = "UTC";
	int ex;

	if (d->n_tiers == 0) {
		return DROPCTL_EXIT_OK;
	}
	time_t secs = (time_t)(d->tiers[0]->opens_ms / 1000);
	struct tm tm;
	if (gmtime_r(&secs, &tm) != NULL) {
		snprintf(y, sizeof(y), "%04d", tm.tm_year + 1900);
	}
	printf("\ntiers (UTC, %s)\n", y);
	dropctl_table_init(&t, 8, th, "lllrrrll");
	for (size_t k = 0; k < d->n_tiers; k++) {
		drop_tier_row(&t, d->tiers[k], now);
	}
	ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* One SKU's row; its placement is summarised as a hub count here and
 * listed in full by drop_text_placement. */
static void drop_sku_row(dropctl_table *t, const Dropnet__DropSku *s)
{
	char pl[64];

	if (s->n_placement > 0) {
		snprintf(pl, sizeof(pl), "%zu hub%s%s", s->n_placement,
		    s->n_placement == 1 ? "" : "s",
		    s->placement_proportional ? " (proportional)" : "");
	} else {
		snprintf(pl, sizeof(pl), "%s",
		    s->placement_proportional ? "proportional" : "-");
	}
	dropctl_table_cell(t, "%s", s->sku);
	dropctl_table_cell(t, "%u", s->units);
	dropctl_table_cell(t, "%g%%", s->holdback_pct);
	if (s->limit_per_buyer == 0) {
		dropctl_table_cell(t, "-");
	} else {
		dropctl_table_cell(t, "%u", s->limit_per_buyer);
	}
	dropctl_table_cell(t, "%s", pl);
}

/* The skus table, printed even when empty (a draft may have no SKU yet). */
static int drop_text_skus(const Dropnet__Drop *d)
{
	static const char *const sh[] = { "SKU", "UNITS", "HOLDBACK", "LIMIT",
		"PLACEMENT" };
	dropctl_table t;

	printf("\nskus\n");
	dropctl_table_init(&t, 5, sh, "lrrrl");
	for (size_t k = 0; k < d->n_skus; k++) {
		drop_sku_row(&t, d->skus[k]);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* Placement as one table of hub rows: readable however many SKUs. Nothing
 * when no SKU has a placement. */
static int drop_text_placement(const Dropnet__Drop *d)
{
	static const char *const ph[] = { "HUB", "SKU", "UNITS" };
	dropctl_table t;
	size_t rows = 0;

	for (size_t k = 0; k < d->n_skus; k++) {
		rows += d->skus[k]->n_placement;
	}
	if (rows == 0) {
		return DROPCTL_EXIT_OK;
	}
	printf("\nplacement\n");
	dropctl_table_init(&t, 3, ph, "llr");
	for (size_t k = 0; k < d->n_skus; k++) {
		const Dropnet__DropSku *s = d->skus[k];
		for (size_t h = 0; h < s->n_placement; h++) {
			dropctl_table_cell(&t, "%s", s->placement[h]->hub);
			dropctl_table_cell(&t, "%s", s->sku);
			dropctl_table_cell(&t, "%u", s->placement[h]->units);
		}
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* Prices as one table of (sku, tier) rows with the SKU's bounds and
 * rules. Nothing when the drop has no prices. */
static int drop_text_prices(const Dropnet__Drop *d)
{
	static const char *const ph[] = { "SKU", "TIER", "PRICE", "FLOOR", "CEILING",
	    "RULES" };
	dropctl_table t;
	bool any = false;
	for (size_t k = 0; k < d->n_skus; k++) {
		any = any || d->skus[k]->n_prices > 0;
	}
	if (!any) {
		return DROPCTL_EXIT_OK;
	}
	printf("\nprices (%s, minor units)\n", d->currency);
	dropctl_table_init(&t, 6, ph, "llrrrl");
	for (size_t k = 0; k < d->n_skus; k++) {
		const Dropnet__DropSku *s = d->skus[k];
		char rules[160];
		snprintf(rules, sizeof(rules), "early_bird %um -%u%%, last_units %u %+d%%,"
		    " demand <= +%u%%", s->early_bird_minutes, s->early_bird_off_pct,
		    s->last_units, s->last_units_pct, s->demand_max_pct);
		for (size_t p = 0; p < s->n_prices; p++) {
			dropctl_table_cell(&t, "%s", s->sku);
			dropctl_table_cell(&t, "%s", s->prices[p]->tier);
			dropctl_table_cell(&t, "%lld", (long long)s->prices[p]->price_minor);
			dropctl_table_cell(&t, "%lld", (long long)s->floor_minor);
			dropctl_table_cell(&t, "%lld", (long long)s->ceiling_minor);
			dropctl_table_cell(&t, "%s", rules);
		}
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* `drop show` for humans: the summary lines, then the tiers, skus and
 * placement tables. Returns an exit code (tables can run out of memory). */
static int drop_text(const Dropnet__Drop *d, int64_t now)
{
	int ex;

	drop_text_summary(d, now);
	drop_text_insiders(d);
	if ((ex = drop_text_tiers(d, now)) != 0) {
		return ex;
	}
	if ((ex = drop_text_skus(d)) != 0) {
		return ex;
	}
	if ((ex = drop_text_prices(d)) != 0) {
		return ex;
	}
	return drop_text_placement(d);
}

static int drop_list_text(const Dropnet__OpsReply *r)
{
	static const char *const head[] = { "ID", "NAME", "STATE", "TIERS",
		"SKUS", "ORDERS", "GIFTS", "HELD" };
	dropctl_table t;

	if (r->n_drops == 0) {
		printf("no drops\n");
		return DROPCTL_EXIT_OK;
	}
	dropctl_table_init(&t, 8, head, "lllrrrrr");
	for (size_t k = 0; k < r->n_drops; k++) {
		const Dropnet__Drop *d = r->drops[k];
		dropctl_table_cell(&t, "%s", d->id);
		dropctl_table_cell(&t, "%.*s", (int)DROPCTL_NAME_COL_MAX,
		    d->name[0] != '\0' ? d->name : "-");
		dropctl_table_cell(&t, "%s", d->state);
		dropctl_table_cell(&t, "%zu", d->n_tiers);
		dropctl_table_cell(&t, "%zu", d->n_skus);
		dropctl_table_cell(&t, "%u", d->accepted_orders);
		dropctl_table_cell(&t, "%u", d->gifts_given);
		dropctl_table_cell(&t, "%" PRId64, d->held_back);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* ---- commands ---- */

/* Parses "ID" plus global flags; returns -1 to go on, else an exit code. */
static int drop_args_id(dropctl_opts *o, int argc, char **argv,
    const char *cmd, const char **id)
{
	*id = NULL;
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			drop_help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g > 0) {
			continue;
		}
		if (argv[i][0] == '-' || *id != NULL) {
			return dropctl_usage_error(cmd, "unexpected argument '%s'",
			    argv[i]);
		}
		*id = argv[i];
	}
	if (*id == NULL && strcmp(cmd, "drop list") != 0) {
		return dropctl_usage_error(cmd, "missing drop ID");
	}
	return -1;
}

static int drop_show(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *id = NULL;
	int64_t now = 0;
	int ex = drop_args_id(o, argc, argv, "drop show", &id);

	if (ex >= 0) {
		return ex;
	}
	if (!o->json && dropctl_coord_clock(o, &now) != DROPCTL_EXIT_OK) {
		now = 0;
	}
	req.kind = DROPNET__OPS_KIND__OPS_DROP_SHOW;
	req.drop_id = (char *)id;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail("drop show", r);
	} else if (r->n_drops == 0) {
		fprintf(stderr, "dropctl: drop show: reply carried no drop\n");
		ex = DROPCTL_EXIT_FAIL;
	} else if (o->json) {
		json_t *d = dropctl_drop_json(r->drops[0]);
		ex = dropctl_json_emit(d != NULL ? json_pack("{s:o}", "drop", d)
						 : NULL);
	} else {
		ex = drop_text(r->drops[0], now);
	}
	codec_ops_reply_free(r);
	return ex;
}

static int drop_list(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *id = NULL;
	int ex = drop_args_id(o, argc, argv, "drop list", &id);

	if (ex >= 0) {
		return ex;
	}
	if (id != NULL) {
		return dropctl_usage_error("drop list", "takes no ID");
	}
	req.kind = DROPNET__OPS_KIND__OPS_DROP_LIST;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail("drop list", r);
	} else if (o->json) {
		json_t *arr = json_array();
		for (size_t k = 0; arr != NULL && k < r->n_drops; k++) {
			json_array_append_new(arr, dropctl_drop_json(r->drops[k]));
		}
		ex = dropctl_json_emit(arr != NULL
			? json_pack("{s:o}", "drops", arr) : NULL);
	} else {
		ex = drop_list_text(r);
	}
	codec_ops_reply_free(r);
	return ex;
}

static int drop_open_close(dropctl_opts *o, int argc, char **argv, bool open)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *cmd = open ? "drop open" : "drop close";
	const char *id = NULL;
	int ex = drop_args_id(o, argc, argv, cmd, &id);

	if (ex >= 0) {
		return ex;
	}
	req.kind = open ? DROPNET__OPS_KIND__OPS_DROP_OPEN
			: DROPNET__OPS_KIND__OPS_DROP_CLOSE;
	req.drop_id = (char *)id;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail(cmd, r);
	} else if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:s,s:s,s:s,s:s}", "status",
		    codec_status_name(r->status), "drop_id", id, "state",
		    open ? "open" : "closed", "message", r->message));
	} else {
		printf("drop %s %s\n", id, open ? "open" : "closed");
	}
	codec_ops_reply_free(r);
	return ex;
}

/* create: flags in argv order, --file first whatever its position so the
 * flags can override it. Returns -1 to go on, else an exit code. */

/* The price flags of drop create: 1 with *rv the setter's answer when
 * argv[*i] is one, 0 when not, < 0 on a usage error (dropctl_flag). */
static int drop_price_flag(drop_spec *s, int argc, char **argv, int *i, int *rv)
{
	static const struct {
		const char *flag;
		int (*set)(drop_spec *, const char *);
	} f[] = {
	    {"--currency", drop_spec_set_currency}, {"--price", drop_spec_price_flag},
	    {"--bounds", drop_spec_bounds_flag}, {"--rule", drop_spec_rule_flag},
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		const char *v = NULL;
		int m = dropctl_flag(argc, argv, i, f[k].flag, &v);
		if (m > 0) {
			*rv = f[k].set(s, v);
		}
		if (m != 0) {
			return m;
		}
	}
	return 0;
}

static int drop_create_args(dropctl_opts *o, int argc, char **argv,
    drop_spec *s, bool *dry_run)
{
	const char *file = NULL, *v = NULL;
	int m, rv = 0;

	for (int i = 1; i < argc; i++) {
		if (dropctl_flag(argc, argv, &i, "--file", &v) > 0) {
			file = v;
		}
	}
	if (file != NULL && (rv = drop_spec_load_file(s, file)) != 0) {
		fprintf(stderr, "dropctl: drop create: %s\n", s->err);
		return DROPCTL_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			drop_help();
			return DROPCTL_EXIT_OK;
		}
		if (strcmp(argv[i], "--dry-run") == 0) {
			*dry_run = true;
			continue;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--file", &v)) > 0) {
			continue;
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--id",
		    &v)) > 0) {
			rv = drop_spec_set_id(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--name",
		    &v)) > 0) {
			rv = drop_spec_set_name(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--sku",
		    &v)) > 0) {
			rv = drop_spec_sku_flag(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i,
		    "--placement", &v)) > 0) {
			rv = drop_spec_placement_flag(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--tier",
		    &v)) > 0) {
			rv = drop_spec_tier_flag(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--gift",
		    &v)) > 0) {
			rv = drop_spec_gift_flag(s, v);
		} else if (m == 0 && (m = dropctl_flag(argc, argv, &i,
		    "--insiders", &v)) > 0) {
			rv = drop_spec_insiders_add(s, v);
		} else if (m == 0 && (m = drop_price_flag(s, argc, argv, &i, &rv)) > 0) {
			/* rv: drop_price_flag's setter */
		} else if (m == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("drop create",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (rv == DN_ENOMEM) {
			fprintf(stderr, "dropctl: out of memory\n");
			return DROPCTL_EXIT_FAIL;
		}
		if (rv != 0) {
			return dropctl_usage_error("drop create", "%s", s->err);
		}
	}
	return -1;
}

static int drop_create(dropctl_opts *o, int argc, char **argv)
{
	static drop_spec s; /* tier time strings: keep it off the stack */
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	bool dry_run = false;
	int64_t base = 0;
	int ex;

	drop_spec_init(&s);
	if ((ex = drop_create_args(o, argc, argv, &s, &dry_run)) >= 0) {
		goto out;
	}
	if (dry_run) {
		base = dropctl_now_ms();
	} else if ((ex = dropctl_coord_clock(o, &base)) != DROPCTL_EXIT_OK) {
		goto out;
	}
	if (drop_spec_resolve(&s, base) != 0) {
		ex = dropctl_usage_error("drop create", "%s", s.err);
		goto out;
	}
	if (dry_run) {
		json_t *d = dropctl_drop_json(&s.drop);
		ex = dropctl_json_emit(d != NULL ? json_pack("{s:o}", "drop", d)
						 : NULL);
		goto out;
	}
	req.kind = DROPNET__OPS_KIND__OPS_DROP_CREATE;
	req.drop = &s.drop;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		goto out;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail("drop create", r);
	} else if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:s,s:s,s:s}", "status",
		    codec_status_name(r->status), "drop_id", s.drop.id,
		    "message", r->message));
	} else {
		char a[48];
		printf("drop %s created (draft) with %zu sku%s, %zu tier%s\n",
		    s.drop.id, s.drop.n_skus, s.drop.n_skus == 1 ? "" : "s",
		    s.drop.n_tiers, s.drop.n_tiers == 1 ? "" : "s");
		for (size_t k = 0; k < s.drop.n_tiers; k++) {
			char c[48];
			dropctl_fmt_time(s.tiers[k]->opens_ms, a, sizeof(a));
			dropctl_fmt_time(s.tiers[k]->closes_ms, c, sizeof(c));
			printf("  %-10s %s .. %s\n", s.tiers[k]->name, a, c);
		}
	}
	codec_ops_reply_free(r);
out:
	drop_spec_fini(&s);
	return ex;
}

int dropctl_drop(dropctl_opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			drop_help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g > 0) {
			continue;
		}
		const char *sub = argv[i];
		if (strcmp(sub, "create") == 0) {
			return drop_create(o, argc - i, argv + i);
		}
		if (strcmp(sub, "show") == 0) {
			return drop_show(o, argc - i, argv + i);
		}
		if (strcmp(sub, "list") == 0) {
			return drop_list(o, argc - i, argv + i);
		}
		if (strcmp(sub, "open") == 0) {
			return drop_open_close(o, argc - i, argv + i, true);
		}
		if (strcmp(sub, "close") == 0) {
			return drop_open_close(o, argc - i, argv + i, false);
		}
		return dropctl_usage_error("drop", "unknown subcommand '%s' "
		    "(create, show, list, open, close)", sub);
	}
	return dropctl_usage_error("drop", "missing subcommand (create, show, "
	    "list, open, close)");
}

/* ---- holdback release ---- */

int dropctl_holdback(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *drop = NULL, *hub = NULL, *sku = NULL, *qty_s = NULL;
	bool release = false;
	int64_t qty = 0;
	int ex;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			holdback_help();
			return DROPCTL_EXIT_OK;
		}
		if (!release && strcmp(argv[i], "release") == 0) {
			release = true;
			continue;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--drop", &drop)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--hub", &hub)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", &sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--qty", &qty_s)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("holdback release",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (!release) {
		return dropctl_usage_error("holdback", "missing subcommand "
		    "(release)");
	}
	if (drop == NULL || sku == NULL || qty_s == NULL) {
		return dropctl_usage_error("holdback release",
		    "--drop, --sku and --qty are required");
	}
	if (dropctl_parse_i64(qty_s, 1, UINT32_MAX, &qty) != 0) {
		return dropctl_usage_error("holdback release",
		    "--qty '%s' is not a whole number >= 1", qty_s);
	}
	req.kind = DROPNET__OPS_KIND__OPS_HOLDBACK_RELEASE;
	req.drop_id = (char *)drop;
	req.sku = (char *)sku;
	req.qty = qty;
	if (hub != NULL) {
		req.hub = (char *)hub;
	}
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail("holdback release", r);
	} else if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}",
		    "status", codec_status_name(r->status), "drop_id", drop,
		    "hub", hub != NULL ? hub : "", "sku", sku, "qty",
		    (json_int_t)qty, "message", r->message));
	} else {
		printf("released %" PRId64 " x %s of drop %s%s%s%s%s\n", qty,
		    sku, drop, hub != NULL ? " at " : " (all hubs)",
		    hub != NULL ? hub : "",
		    r->message[0] != '\0' ? ": " : "", r->message);
	}
	codec_ops_reply_free(r);
	return ex;
}

/* ---- clock ---- */

int dropctl_clock(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	const char *set = NULL;
	int64_t ms = 0;
	int ex;

	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			clock_help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g > 0 || strcmp(argv[i], "now") == 0) {
			continue;
		}
		if (strcmp(argv[i], "set") == 0 && i + 1 < argc && set == NULL) {
			set = argv[++i];
			continue;
		}
		return dropctl_usage_error("clock", "unexpected argument '%s'",
		    argv[i]);
	}
	if (set != NULL) {
		int64_t base = 0;
		if (set[0] == '+' &&
		    (ex = dropctl_coord_clock(o, &base)) != DROPCTL_EXIT_OK) {
			return ex;
		}
		if (drop_spec_time_parse(set, base, &ms) != 0 || ms <= 0) {
			return dropctl_usage_error("clock", "'%s' is not a time "
			    "(RFC 3339 UTC, epoch ms, +DURATION)", set);
		}
	}
	req.kind = DROPNET__OPS_KIND__OPS_CLOCK;
	req.clock_ms = ms;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		ex = drop_status_fail("clock", r);
	} else if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:I}", "clock_ms",
		    (json_int_t)r->clock_ms));
	} else {
		char a[48];
		dropctl_fmt_time(r->clock_ms, a, sizeof(a));
		printf("%s  (%" PRId64 ")\n", a, r->clock_ms);
	}
	codec_ops_reply_free(r);
	return ex;
}
