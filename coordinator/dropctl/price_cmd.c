/*
 * price_cmd.c - `dropctl price live|show` (ops socket) and `dropctl quote`
 * (ingest socket, as a storefront would ask): a drop's prices now, an
 * operator's live price, and a signed quote (docs/prices.md).
 *
 * Exit 0 whenever the coordinator answered OK; 1 for an error answer; 2
 * usage; 3 unreachable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/rpc.h"
#include "dropctl.h"

static void price_help(void)
{
	printf("usage: dropctl [global flags] price live --drop D --sku S\n"
	       "           --price MINOR --minutes M [--tier T]\n"
	       "       dropctl [global flags] price live --drop D --sku S --end\n"
	       "       dropctl [global flags] price show --drop D [--tier T]"
	       " [--hub H]\n"
	       "\n"
	       "live: from now on, SKU S of drop D costs MINOR (minor units of\n"
	       "the drop's currency) for M minutes (1..10080), in tier T or in\n"
	       "every tier; it replaces every other rule but stays within the\n"
	       "SKU's floor and ceiling. --end ends it now. Survives a restart.\n"
	       "show: what each SKU costs in each tier now, and the rules that\n"
	       "set it; --hub H prices for that hub's region (its demand).\n");
}

static void quote_help(void)
{
	printf("usage: dropctl [global flags] quote --customer C --drop D\n"
	       "           --tier T --sku S [--sku S2 ...] --lat LAT --lon LON\n"
	       "           [--storefront F]\n"
	       "\n"
	       "Asks the ingest socket (--ingest URL or $DROPNET_INGEST) for a\n"
	       "quote as a storefront would: per SKU the price, the rule that\n"
	       "set it, the availability near the address (IN_STOCK, LOW,\n"
	       "SOLD_OUT_HERE) and a token that locks the price until it\n"
	       "expires (`order submit --token SKU:TOKEN`). Nothing is written.\n");
}

static int price_answer(const dropctl_opts *o, const char *cmd, Dropnet__OpsReply *r)
{
	int ex = DROPCTL_EXIT_OK;
	if (r->status != DROPNET__STATUS__OK) {
		fprintf(stderr, "dropctl: %s: %s%s%s\n", cmd, codec_status_name(r->status),
		    r->message[0] ? ": " : "", r->message);
		ex = DROPCTL_EXIT_FAIL;
	} else if (o->json) {
		json_t *rows = json_array();
		for (size_t i = 0; rows != NULL && i < r->n_prices; i++) {
			const Dropnet__PriceRow *p = r->prices[i];
			json_array_append_new(rows, json_pack("{s:s,s:s,s:I,s:s,s:I,s:I}",
			    "sku", p->sku, "tier", p->tier, "unit_minor",
			    (json_int_t)p->unit_minor, "rule", p->rule, "floor_minor",
			    (json_int_t)p->floor_minor, "ceiling_minor",
			    (json_int_t)p->ceiling_minor));
		}
		ex = dropctl_json_emit(rows != NULL ? json_pack("{s:s,s:s,s:s,s:o}",
		    "status", "OK", "message", r->message, "currency", r->currency,
		    "prices", rows) : NULL);
	} else if (r->n_prices == 0) {
		printf("%s\n", r->message);
	} else {
		static const char *const h[] = {"SKU", "TIER", "PRICE", "RULE", "FLOOR",
		    "CEILING"};
		dropctl_table t;
		printf("prices now (%s, minor units)\n", r->currency);
		dropctl_table_init(&t, 6, h, "llrlrr");
		for (size_t i = 0; i < r->n_prices; i++) {
			const Dropnet__PriceRow *p = r->prices[i];
			dropctl_table_cell(&t, "%s", p->sku);
			dropctl_table_cell(&t, "%s", p->tier);
			dropctl_table_cell(&t, "%" PRId64, p->unit_minor);
			dropctl_table_cell(&t, "%s", p->rule);
			dropctl_table_cell(&t, "%" PRId64, p->floor_minor);
			dropctl_table_cell(&t, "%" PRId64, p->ceiling_minor);
		}
		ex = dropctl_table_print(&t);
		dropctl_table_fini(&t);
	}
	return ex;
}

/* Parses price live/show's flags into req. -1 to go on, or an exit code. */
static int price_args(dropctl_opts *o, int argc, char **argv, Dropnet__OpsRequest *req,
    bool live)
{
	const char *drop = NULL, *price = NULL, *minutes = NULL;
	bool end = false;
	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			price_help();
			return DROPCTL_EXIT_OK;
		}
		if (live && strcmp(argv[i], "--end") == 0) {
			end = true;
			continue;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--drop", &drop)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", (const char **)&req->sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--tier", (const char **)&req->tier)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--hub", (const char **)&req->hub)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--price", &price)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--minutes", &minutes)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("price", "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (drop == NULL) {
		return dropctl_usage_error("price", "missing --drop D");
	}
	req->drop_id = (char *)drop;
	if (!live) {
		return -1;
	}
	if (req->sku[0] == '\0') {
		return dropctl_usage_error("price live", "missing --sku S");
	}
	if (end) {
		return -1;
	}
	if (price == NULL || minutes == NULL ||
	    dropctl_parse_i64(price, 0, INT64_MAX, &req->price_minor) != 0 ||
	    dropctl_parse_u32(minutes, &req->minutes) != 0 || req->minutes == 0) {
		return dropctl_usage_error("price live", "want --price MINOR (>= 0) and "
		    "--minutes M (>= 1), or --end");
	}
	return -1;
}

int dropctl_price(dropctl_opts *o, int argc, char **argv)
{
	if (argc < 2 || dropctl_is_help(argv[1])) {
		price_help();
		return argc < 2 ? DROPCTL_EXIT_USAGE : DROPCTL_EXIT_OK;
	}
	bool live = strcmp(argv[1], "live") == 0;
	if (!live && strcmp(argv[1], "show") != 0) {
		return dropctl_usage_error("price", "unknown subcommand '%s'", argv[1]);
	}
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	int ex = price_args(o, argc - 1, argv + 1, &req, live);
	if (ex >= 0) {
		return ex;
	}
	req.kind = live ? DROPNET__OPS_KIND__OPS_PRICE_LIVE : DROPNET__OPS_KIND__OPS_PRICE_SHOW;
	Dropnet__OpsReply *r = NULL;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	ex = price_answer(o, live ? "price live" : "price show", r);
	codec_ops_reply_free(r);
	return ex;
}

static const char *quote_avail_name(Dropnet__Availability a)
{
	switch (a) {
	case DROPNET__AVAILABILITY__IN_STOCK: return "IN_STOCK";
	case DROPNET__AVAILABILITY__LOW: return "LOW";
	case DROPNET__AVAILABILITY__SOLD_OUT_HERE: return "SOLD_OUT_HERE";
	default: return "UNKNOWN";
	}
}

static int quote_print(const dropctl_opts *o, const Dropnet__QuoteReply *q)
{
	if (o->json) {
		json_t *rows = json_array();
		for (size_t i = 0; rows != NULL && i < q->n_prices; i++) {
			const Dropnet__QuotePrice *p = q->prices[i];
			json_array_append_new(rows, json_pack("{s:s,s:I,s:s,s:s,s:s,s:I,s:s}",
			    "sku", p->sku, "unit_minor", (json_int_t)p->unit_minor, "rule",
			    p->rule, "availability", quote_avail_name(p->availability),
			    "token", p->token, "expires_ms", (json_int_t)p->expires_ms, "arm",
			    p->arm));
		}
		return dropctl_json_emit(rows != NULL ? json_pack("{s:s,s:s,s:s,s:s,s:o}",
		    "status", codec_status_name(q->status), "field", q->field, "message",
		    q->message, "currency", q->currency, "prices", rows) : NULL);
	}
	printf("%s", codec_status_name(q->status));
	printf("%s%s%s%s\n", q->field[0] ? "  field " : "", q->field,
	    q->message[0] ? "  " : "", q->message);
	for (size_t i = 0; i < q->n_prices; i++) {
		const Dropnet__QuotePrice *p = q->prices[i];
		char t[48];
		dropctl_fmt_time(p->expires_ms, t, sizeof(t));
		printf("%s  %" PRId64 " %s (%s)  %s  until %s\n  token %s\n", p->sku,
		    p->unit_minor, q->currency, p->rule, quote_avail_name(p->availability),
		    t, p->token);
	}
	return DROPCTL_EXIT_OK;
}

/* Sends the quote in an IngestRequest and prints the IngestReply's quote. */
static int quote_exchange(const dropctl_opts *o, Dropnet__QuoteRequest *q)
{
	const char *url = rpc_endpoint(o->ingest, DROPCTL_ENV_INGEST);
	if (url == NULL) {
		return dropctl_usage_error("quote", "no ingest socket: pass --ingest URL"
		    " or set %s", DROPCTL_ENV_INGEST);
	}
	q->version = DN_PROTO_VERSION;
	Dropnet__IngestRequest env = DROPNET__INGEST_REQUEST__INIT;
	env.version = DN_PROTO_VERSION;
	env.kind_case = DROPNET__INGEST_REQUEST__KIND_QUOTE;
	env.quote = q;
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, rep_len = 0;
	if (codec_ingest_request_pack(&env, &buf, &len) != 0) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	int ex = dropctl_call(url, "ingest socket", o->timeout_ms, buf, len, &rep, &rep_len);
	free(buf);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	Dropnet__IngestReply *r = NULL;
	int rv = codec_ingest_reply_unpack(rep, rep_len, &r);
	free(rep);
	if (rv != 0 || r->kind_case != DROPNET__INGEST_REPLY__KIND_QUOTE) {
		fprintf(stderr, "dropctl: quote: the reply is not a QuoteReply\n");
		codec_ingest_reply_free(r);
		return DROPCTL_EXIT_FAIL;
	}
	ex = quote_print(o, r->quote);
	if (ex == DROPCTL_EXIT_OK && r->quote->status != DROPNET__STATUS__OK) {
		ex = DROPCTL_EXIT_FAIL;
	}
	codec_ingest_reply_free(r);
	return ex;
}

int dropctl_quote(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__QuoteRequest q = DROPNET__QUOTE_REQUEST__INIT;
	char *skus[DN_ORDER_LINES_MAX];
	const char *lat = NULL, *lon = NULL;
	for (int i = 1; i < argc; i++) {
		int m;
		const char *v = NULL;
		if (dropctl_is_help(argv[i])) {
			quote_help();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--sku", &v)) > 0) {
			if (q.n_skus >= DN_ORDER_LINES_MAX) {
				return dropctl_usage_error("quote", "at most %u SKUs",
				    DN_ORDER_LINES_MAX);
			}
			skus[q.n_skus++] = (char *)v;
			continue;
		}
		if (m == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--customer", (const char **)&q.customer)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--storefront", (const char **)&q.storefront)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--drop", (const char **)&q.drop_id)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--tier", (const char **)&q.tier)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--lat", &lat)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--lon", &lon)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("quote", "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (lat == NULL || lon == NULL || dropctl_parse_double(lat, &q.lat) != 0 ||
	    dropctl_parse_double(lon, &q.lon) != 0) {
		return dropctl_usage_error("quote", "want --lat LAT --lon LON");
	}
	q.skus = skus;
	return quote_exchange(o, &q);
}

/* ---- experiments ---- */

static void experiment_help(void)
{
	printf("usage: dropctl [global flags] experiment create --id E --drop D --sku S\n"
	       "           --arm NAME:PRICE --arm NAME:PRICE [--arm ...]\n"
	       "       dropctl [global flags] experiment show E\n"
	       "       dropctl [global flags] experiment stop E\n"
	       "\n"
	       "A price experiment on one SKU of a priced drop: 2..8 arms, each a\n"
	       "base price (minor units, within the SKU's floor and ceiling).\n"
	       "Buyers are assigned by hash(E, customer): sticky across quotes,\n"
	       "orders and retries. Quotes count as exposures, accepted orders\n"
	       "as outcomes. show: per arm exposures, orders, conversion and\n"
	       "revenue per exposure with 95%% intervals, and whether the best\n"
	       "arm is significantly ahead (\"not significant yet\" until it is).\n");
}

static int experiment_print(const dropctl_opts *o, const Dropnet__Experiment *e)
{
	if (o->json) {
		json_t *arms = json_array();
		for (size_t a = 0; arms != NULL && a < e->n_arms; a++) {
			const Dropnet__ExperimentArm *x = e->arms[a];
			json_array_append_new(arms, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,"
			    "s:f,s:f,s:f}", "name", x->name, "price_minor", (json_int_t)x->price_minor,
			    "exposures", (json_int_t)x->exposures, "orders", (json_int_t)x->orders,
			    "units", (json_int_t)x->units, "revenue_minor", (json_int_t)x->revenue_minor,
			    "conversion", x->conversion, "conversion_lo", x->conversion_lo,
			    "conversion_hi", x->conversion_hi, "rpe", x->rpe, "rpe_lo", x->rpe_lo,
			    "rpe_hi", x->rpe_hi));
		}
		return dropctl_json_emit(arms != NULL ? json_pack("{s:{s:s,s:s,s:s,s:s,s:o,s:s,"
		    "s:b,s:s,s:f}}", "experiment", "id", e->id, "drop_id", e->drop_id, "sku",
		    e->sku, "state", e->state, "arms", arms, "verdict", e->verdict, "significant",
		    (int)e->significant, "best_arm", e->best_arm, "z", e->z) : NULL);
	}
	printf("experiment  %s  (%s, drop %s, sku %s)\n", e->id, e->state, e->drop_id, e->sku);
	static const char *const h[] = {"ARM", "PRICE", "EXPOSURES", "ORDERS", "CONVERSION",
	    "95% CI", "REV/EXPOSURE", "95% CI"};
	dropctl_table t;
	dropctl_table_init(&t, 8, h, "lrrrrlrl");
	for (size_t a = 0; a < e->n_arms; a++) {
		const Dropnet__ExperimentArm *x = e->arms[a];
		dropctl_table_cell(&t, "%s", x->name);
		dropctl_table_cell(&t, "%" PRId64, x->price_minor);
		dropctl_table_cell(&t, "%" PRIu64, x->exposures);
		dropctl_table_cell(&t, "%" PRIu64, x->orders);
		dropctl_table_cell(&t, "%.1f%%", x->conversion * 100);
		dropctl_table_cell(&t, "%.1f-%.1f%%", x->conversion_lo * 100,
		    x->conversion_hi * 100);
		dropctl_table_cell(&t, "%.1f", x->rpe);
		dropctl_table_cell(&t, "%.1f-%.1f", x->rpe_lo, x->rpe_hi);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	printf("readout     %s\n", e->verdict);
	return ex;
}

/* --arm NAME:PRICE into arms[*n]. -1 to go on, or an exit code. */
static int experiment_arm_flag(const char *v, Dropnet__ExperimentArm *arms, size_t *n,
    char names[][DN_ID_MAX + 1])
{
	const char *colon = strrchr(v, ':');
	if (*n >= 8 || colon == NULL || (size_t)(colon - v) > DN_ID_MAX) {
		return dropctl_usage_error("experiment create", "--arm NAME:PRICE, at most 8");
	}
	dropnet__experiment_arm__init(&arms[*n]);
	snprintf(names[*n], DN_ID_MAX + 1, "%.*s", (int)(colon - v), v);
	arms[*n].name = names[*n];
	if (dropctl_parse_i64(colon + 1, 0, INT64_MAX, &arms[*n].price_minor) != 0) {
		return dropctl_usage_error("experiment create", "bad price in '%s'", v);
	}
	(*n)++;
	return -1;
}

static int experiment_create_args(dropctl_opts *o, int argc, char **argv,
    Dropnet__Experiment *e, Dropnet__ExperimentArm *arms, char names[][DN_ID_MAX + 1])
{
	size_t n = 0;
	for (int i = 1; i < argc; i++) {
		int m, ex;
		const char *v = NULL;
		if ((m = dropctl_flag(argc, argv, &i, "--arm", &v)) > 0) {
			if ((ex = experiment_arm_flag(v, arms, &n, names)) >= 0) {
				return ex;
			}
			continue;
		}
		if (m == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--id", (const char **)&e->id)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--drop", (const char **)&e->drop_id)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", (const char **)&e->sku)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("experiment create", "unexpected argument '%s'",
			    argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	e->n_arms = n;
	return -1;
}

int dropctl_experiment(dropctl_opts *o, int argc, char **argv)
{
	if (argc < 2 || dropctl_is_help(argv[1])) {
		experiment_help();
		return argc < 2 ? DROPCTL_EXIT_USAGE : DROPCTL_EXIT_OK;
	}
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__Experiment e = DROPNET__EXPERIMENT__INIT;
	Dropnet__ExperimentArm arms[8], *armp[8];
	char names[8][DN_ID_MAX + 1];
	int ex;
	if (strcmp(argv[1], "create") == 0) {
		if ((ex = experiment_create_args(o, argc - 1, argv + 1, &e, arms, names)) >= 0) {
			return ex;
		}
		for (size_t a = 0; a < e.n_arms; a++) {
			armp[a] = &arms[a];
		}
		e.arms = armp;
		req.kind = DROPNET__OPS_KIND__OPS_EXPERIMENT_CREATE;
		req.experiment = &e;
	} else if (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "stop") == 0) {
		const char *id = NULL;
		for (int i = 2; i < argc; i++) {
			int m = dropctl_global_flag(o, argc, argv, &i);
			if (m < 0) {
				return DROPCTL_EXIT_USAGE;
			}
			if (m == 0 && id == NULL && argv[i][0] != '-') {
				id = argv[i];
			} else if (m == 0) {
				return dropctl_usage_error("experiment", "unexpected argument '%s'",
				    argv[i]);
			}
		}
		if (id == NULL) {
			return dropctl_usage_error("experiment", "missing the experiment id");
		}
		req.kind = argv[1][1] == 'h' ? DROPNET__OPS_KIND__OPS_EXPERIMENT_SHOW :
		    DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP;
		req.experiment_id = (char *)id;
	} else {
		return dropctl_usage_error("experiment", "unknown subcommand '%s'", argv[1]);
	}
	Dropnet__OpsReply *r = NULL;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status != DROPNET__STATUS__OK) {
		fprintf(stderr, "dropctl: experiment: %s: %s\n", codec_status_name(r->status),
		    r->message);
		ex = DROPCTL_EXIT_FAIL;
	} else if (r->n_experiments == 1) {
		ex = experiment_print(o, r->experiments[0]);
	} else if (o->json) {
		ex = dropctl_json_emit(json_pack("{s:s,s:s}", "status", "OK", "message",
		    r->message));
	} else {
		printf("%s\n", r->message);
	}
	codec_ops_reply_free(r);
	return ex;
}
