/*
 * submit_cmd.c - `dropctl order submit`: sends one SubmitOrder on the ingest
 * socket, exactly as a storefront would, and prints the OrderAck.
 *
 * The CLI checks only that flags are present and that numbers are numbers
 * that fit the wire types (qty: uint32, lat/lon: double). Everything else -
 * qty 0, lat 91, a duplicate SKU, too many lines - is sent as typed so the
 * coordinator's own validation answers INVALID: one validator, on the
 * server, is the one that matters.
 *
 * Exit 0 whenever an answer came back, whatever its status (a SOLD_OUT is
 * a fact, not a failure of the tool); 3 when no answer came.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/rpc.h"
#include "dropctl.h"

#define SUBMIT_CMD "order submit"

static void submit_help(void)
{
	printf("usage: dropctl [global flags] order submit --key K --customer C\n"
	       "           --sku S [--qty N] --lat LAT --lon LON\n"
	       "           [--storefront F] [--line SKU:QTY ...]\n"
	       "           [--drop D --tier T] [--hold SECONDS]\n"
	       "           [--token SKU:TOKEN ...]\n"
	       "\n"
	       "Sends one order to the ingest socket (--ingest URL or\n"
	       "$DROPNET_INGEST) as a storefront would, and prints the answer:\n"
	       "ACCEPTED with the hub, or the reason (SOLD_OUT, NO_HUB_IN_RANGE,\n"
	       "INVALID with the field at fault, ...). --qty defaults to 1.\n"
	       "--line adds further lines. Re-sending the same --key returns the\n"
	       "first answer marked duplicate. Exit 0 whenever an answer came.\n"
	       "\n"
	       "--drop and --tier buy in a drop's tier: the answer may also be\n"
	       "NOT_OPEN, CLOSED, TIER_NOT_ALLOWED, LIMIT_REACHED, and an\n"
	       "ACCEPTED order may carry a gift. --hold SECONDS holds the units\n"
	       "for a cart (HELD, until hold_expires); then `order confirm` or\n"
	       "`order release` with the same --key (and --storefront).\n"
	       "\n"
	       "In a priced drop the answer carries each line's unit price, the\n"
	       "rule that set it, the total and the currency. --token SKU:TOKEN\n"
	       "presents a quote token (`dropctl quote`) for that SKU's line: while\n"
	       "valid, the line pays the quoted price (rule \"quote\").\n");
}

static void hold_help(void)
{
	printf("usage: dropctl [global flags] order confirm --key K "
	       "[--storefront F]\n"
	       "       dropctl [global flags] order release --key K "
	       "[--storefront F]\n"
	       "\n"
	       "For an order submitted with --hold: confirm turns the HELD cart\n"
	       "into ACCEPTED (or says EXPIRED if the hold lapsed); release\n"
	       "gives the units back now (EXPIRED). Exit 0 whenever an answer\n"
	       "came.\n");
}

typedef struct {
	const char *key, *customer, *storefront, *sku, *qty_s, *lat_s, *lon_s;
	const char *drop, *tier, *hold_s;
	uint32_t hold_seconds;
	Dropnet__OrderLine line_mem[DROPCTL_LINES_MAX];
	Dropnet__OrderLine *lines[DROPCTL_LINES_MAX];
	char *line_sku[DROPCTL_LINES_MAX]; /* heap copies from --line */
	size_t nlines;
	const char *tokens[DROPCTL_LINES_MAX]; /* --token SKU:TOKEN */
	size_t ntokens;
	double lat, lon;
} submit_args;

static void submit_args_fini(submit_args *a)
{
	for (size_t k = 0; k < a->nlines; k++) {
		free(a->line_sku[k]);
	}
}

/* Appends a line; sku is copied. Returns 0 or an exit code. */
static int submit_line_add(submit_args *a, const char *sku, size_t sku_len,
    uint32_t qty)
{
	if (a->nlines >= DROPCTL_LINES_MAX) {
		return dropctl_usage_error(SUBMIT_CMD, "more than %u lines",
		    DROPCTL_LINES_MAX);
	}
	char *copy = strndup(sku, sku_len);
	if (copy == NULL) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	Dropnet__OrderLine init = DROPNET__ORDER_LINE__INIT;
	size_t k = a->nlines++;
	a->line_mem[k] = init;
	a->line_mem[k].sku = copy;
	a->line_mem[k].qty = qty;
	a->line_sku[k] = copy;
	a->lines[k] = &a->line_mem[k];
	return 0;
}

static int submit_qty_parse(const char *s, const char *what, uint32_t *out)
{
	int rv = dropctl_parse_u32(s, out);
	if (rv == DN_EINVAL) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "%s '%s' is not a whole number", what, s);
	}
	if (rv != 0) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "%s '%s' does not fit an unsigned 32-bit quantity", what, s);
	}
	return 0;
}

/* "SKU:QTY", split at the last colon so the quantity is unambiguous. */
static int submit_line_flag(submit_args *a, const char *v)
{
	const char *colon = strrchr(v, ':');
	uint32_t qty = 0;
	int ex;

	if (colon == NULL) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "--line wants SKU:QTY, not '%s'", v);
	}
	if ((ex = submit_qty_parse(colon + 1, "--line quantity", &qty)) != 0) {
		return ex;
	}
	return submit_line_add(a, v, (size_t)(colon - v), qty);
}

static int submit_coord_parse(const char *s, const char *flag, double *out)
{
	if (s == NULL) {
		return dropctl_usage_error(SUBMIT_CMD, "missing %s", flag);
	}
	int rv = dropctl_parse_double(s, out);
	if (rv != 0) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "%s '%s' is not a number", flag, s);
	}
	return 0;
}

/* Returns -1 to go on, or an exit code. --line values are added to
 * a->lines as they come; the --sku line is put first afterwards. */
static int submit_args_parse(dropctl_opts *o, int argc, char **argv,
    submit_args *a, const char **line_vals, size_t *nline_vals)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m;
		if (dropctl_is_help(argv[i])) {
			submit_help();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--line", &v)) > 0) {
			if (*nline_vals >= DROPCTL_LINES_MAX) {
				return dropctl_usage_error(SUBMIT_CMD,
				    "more than %u lines", DROPCTL_LINES_MAX);
			}
			line_vals[(*nline_vals)++] = v;
			continue;
		}
		if (m == 0 && (m = dropctl_flag(argc, argv, &i, "--token", &v)) > 0) {
			if (a->ntokens >= DROPCTL_LINES_MAX || strrchr(v, ':') == NULL) {
				return dropctl_usage_error(SUBMIT_CMD,
				    "--token SKU:TOKEN, at most one per line");
			}
			a->tokens[a->ntokens++] = v;
			continue;
		}
		if (m == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--key", &a->key)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--customer",
			 &a->customer)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--storefront",
			 &a->storefront)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", &a->sku)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--qty", &a->qty_s)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--lat", &a->lat_s)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--lon", &a->lon_s)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--drop", &a->drop)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--tier", &a->tier)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--hold", &a->hold_s)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error(SUBMIT_CMD,
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	return -1;
}

static int submit_args_build(submit_args *a, const char **line_vals,
    size_t nline_vals)
{
	int ex;

	if (a->key == NULL) {
		return dropctl_usage_error(SUBMIT_CMD, "missing --key");
	}
	if (a->customer == NULL) {
		return dropctl_usage_error(SUBMIT_CMD, "missing --customer");
	}
	if (a->sku == NULL && a->qty_s != NULL) {
		return dropctl_usage_error(SUBMIT_CMD, "--qty needs --sku");
	}
	if (a->sku == NULL && nline_vals == 0) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "missing --sku (or --line SKU:QTY)");
	}
	if (a->hold_s != NULL &&
	    (ex = submit_qty_parse(a->hold_s, "--hold", &a->hold_seconds)) != 0) {
		return ex;
	}
	if ((ex = submit_coord_parse(a->lat_s, "--lat", &a->lat)) != 0 ||
	    (ex = submit_coord_parse(a->lon_s, "--lon", &a->lon)) != 0) {
		return ex;
	}
	if (a->sku != NULL) {
		uint32_t qty = 1;
		if (a->qty_s != NULL &&
		    (ex = submit_qty_parse(a->qty_s, "--qty", &qty)) != 0) {
			return ex;
		}
		if ((ex = submit_line_add(a, a->sku, strlen(a->sku), qty)) != 0) {
			return ex;
		}
	}
	for (size_t k = 0; k < nline_vals; k++) {
		if ((ex = submit_line_flag(a, line_vals[k])) != 0) {
			return ex;
		}
	}
	return -1;
}

/* Gives each line the token its --token names (the SKU before the last
 * ':'). */
static void submit_tokens(submit_args *a)
{
	for (size_t t = 0; t < a->ntokens; t++) {
		const char *colon = strrchr(a->tokens[t], ':');
		size_t n = (size_t)(colon - a->tokens[t]);
		for (size_t k = 0; k < a->nlines; k++) {
			if (strlen(a->line_mem[k].sku) == n &&
			    strncmp(a->line_mem[k].sku, a->tokens[t], n) == 0) {
				a->line_mem[k].quote_token = (char *)colon + 1;
			}
		}
	}
}

static json_t *submit_prices_json(const Dropnet__OrderAck *ack)
{
	json_t *a = json_array();
	for (size_t k = 0; a != NULL && k < ack->n_prices; k++) {
		const Dropnet__LinePrice *p = ack->prices[k];
		json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:s,s:s}", "sku", p->sku,
		    "qty", (json_int_t)p->qty, "unit_minor", (json_int_t)p->unit_minor,
		    "rule", p->rule, "arm", p->arm));
	}
	return a;
}

static json_t *submit_ack_json(const Dropnet__OrderAck *ack)
{
	json_t *places = json_array();
	for (size_t k = 0; places != NULL && k < ack->n_placements; k++) {
		const Dropnet__Placement *p = ack->placements[k];
		json_array_append_new(places,
		    json_pack("{s:s,s:s,s:I}", "hub", p->hub, "sku", p->sku,
			"qty", (json_int_t)p->qty));
	}
	if (places == NULL) {
		return NULL;
	}
	json_t *prices = submit_prices_json(ack);
	if (prices == NULL) {
		json_decref(places);
		return NULL;
	}
	return json_pack("{s:s,s:s,s:I,s:s,s:b,s:s,s:s,s:o,s:I,s:s,s:o,s:I,s:s}",
	    "status", codec_status_name(ack->status), "hub", ack->hub, "order_id",
	    (json_int_t)ack->order_id, "order_key", ack->order_key,
	    "duplicate", (int)ack->duplicate, "field", ack->field, "message",
	    ack->message, "placements", places, "hold_expires_ms",
	    (json_int_t)ack->hold_expires_ms, "gift_sku", ack->gift_sku,
	    "prices", prices, "total_minor", (json_int_t)ack->total_minor,
	    "currency", ack->currency);
}

static void submit_ack_text(const Dropnet__OrderAck *ack)
{
	printf("%s", codec_status_name(ack->status));
	if (ack->status == DROPNET__STATUS__ACCEPTED) {
		printf("  order %" PRIu64 " (key %s) at hub %s", ack->order_id,
		    ack->order_key, ack->hub);
	} else if (ack->order_key[0] != '\0') {
		printf("  key %s", ack->order_key);
	}
	if (ack->duplicate) {
		printf("  [duplicate: first answer]");
	}
	printf("\n");
	if (ack->field[0] != '\0') {
		printf("field       %s\n", ack->field);
	}
	if (ack->message[0] != '\0') {
		printf("message     %s\n", ack->message);
	}
	if (ack->hold_expires_ms > 0) {
		char t[48];
		dropctl_fmt_time(ack->hold_expires_ms, t, sizeof(t));
		printf("held until  %s\n", t);
	}
	if (ack->gift_sku[0] != '\0') {
		printf("gift        %s (added at the same hub)\n", ack->gift_sku);
	}
	for (size_t k = 0; k < ack->n_placements; k++) {
		const Dropnet__Placement *p = ack->placements[k];
		printf("placement   %s  %s x%u\n", p->hub, p->sku, p->qty);
	}
	for (size_t k = 0; k < ack->n_prices; k++) {
		const Dropnet__LinePrice *p = ack->prices[k];
		printf("price       %s x%u at %" PRId64 " %s each (%s)\n", p->sku, p->qty,
		    p->unit_minor, ack->currency, p->rule);
	}
	if (ack->n_prices > 0) {
		printf("total       %" PRId64 " %s (minor units)\n", ack->total_minor,
		    ack->currency);
	}
}

/* Sends msg (version filled in) on the ingest socket and prints the ack. */
static int submit_exchange(const dropctl_opts *o, Dropnet__SubmitOrder *msg)
{
	Dropnet__OrderAck *ack = NULL;
	const char *url = rpc_endpoint(o->ingest, DROPCTL_ENV_INGEST);
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, rep_len = 0;
	int ex;

	if (url == NULL) {
		return dropctl_usage_error(SUBMIT_CMD,
		    "no ingest socket: pass --ingest URL or set %s",
		    DROPCTL_ENV_INGEST);
	}
	msg->version = DN_PROTO_VERSION;
	if (codec_submit_order_pack(msg, &buf, &len) != 0) {
		fprintf(stderr, "dropctl: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	ex = dropctl_call(url, "ingest socket", o->timeout_ms, buf, len, &rep,
	    &rep_len);
	free(buf);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	int rv = codec_order_ack_unpack(rep, rep_len, &ack);
	free(rep);
	if (rv != 0 && rv != DN_ERANGE) {
		fprintf(stderr, "dropctl: coordinator's reply did not decode\n");
		return DROPCTL_EXIT_FAIL;
	}
	if (rv == DN_ERANGE) {
		fprintf(stderr,
		    "dropctl: warning: reply has protocol version %u, this "
		    "dropctl speaks %u\n",
		    ack->version, DN_PROTO_VERSION);
	}
	if (o->json) {
		ex = dropctl_json_emit(submit_ack_json(ack));
	} else {
		submit_ack_text(ack);
	}
	codec_order_ack_free(ack);
	return ex;
}

static int submit_send(const dropctl_opts *o, submit_args *a)
{
	Dropnet__SubmitOrder msg = DROPNET__SUBMIT_ORDER__INIT;

	msg.order_key = (char *)a->key;
	msg.customer = (char *)a->customer;
	if (a->storefront != NULL) {
		msg.storefront = (char *)a->storefront;
	}
	submit_tokens(a);
	msg.n_lines = a->nlines;
	msg.lines = a->lines;
	msg.lat = a->lat;
	msg.lon = a->lon;
	if (a->drop != NULL) {
		msg.drop_id = (char *)a->drop;
	}
	if (a->tier != NULL) {
		msg.tier = (char *)a->tier;
	}
	msg.hold_seconds = a->hold_seconds;
	msg.action = DROPNET__ORDER_ACTION__ACTION_SUBMIT;
	return submit_exchange(o, &msg);
}

int dropctl_order_hold_action(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__SubmitOrder msg = DROPNET__SUBMIT_ORDER__INIT;
	bool confirm = strcmp(argv[0], "confirm") == 0;
	const char *cmd = confirm ? "order confirm" : "order release";
	const char *key = NULL, *storefront = NULL;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			hold_help();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--key", &key)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--storefront",
			 &storefront)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error(cmd,
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (key == NULL) {
		return dropctl_usage_error(cmd, "missing --key");
	}
	msg.order_key = (char *)key;
	if (storefront != NULL) {
		msg.storefront = (char *)storefront;
	}
	msg.action = confirm ? DROPNET__ORDER_ACTION__ACTION_CONFIRM
			     : DROPNET__ORDER_ACTION__ACTION_RELEASE;
	return submit_exchange(o, &msg);
}

int dropctl_order_submit(dropctl_opts *o, int argc, char **argv)
{
	static submit_args a; /* ~12 KiB of line slots: keep it off the stack */
	const char *line_vals[DROPCTL_LINES_MAX];
	size_t nline_vals = 0;
	int ex;

	memset(&a, 0, sizeof(a));
	ex = submit_args_parse(o, argc, argv, &a, line_vals, &nline_vals);
	if (ex < 0) {
		ex = submit_args_build(&a, line_vals, nline_vals);
	}
	if (ex < 0) {
		ex = submit_send(o, &a);
	}
	submit_args_fini(&a);
	return ex;
}
