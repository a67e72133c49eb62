/*
 * cmd.c - pickterm's command mode: parse one command line, send one
 * TermRequest, print the TermReply for a human (tables) or a script (one
 * JSON object, jansson). Everything for the reader goes to stdout; every
 * complaint goes to stderr, so --json output stays parseable.
 *
 * Single-threaded; one blocking rpc_call per run.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/rpc.h"
#include "pickterm.h"

typedef struct {
	const char *name;
	const char *usage; /* arguments after the command word */
	const char *help;
	int (*run)(const pickterm_opts *o, int argc, char **argv);
} cmd_def;

/* Strict decimal parse: the whole string, within [min, max]. */
static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return DN_EINVAL;
	}
	*out = v;
	return 0;
}

/* `--name V` or `--name=V` at argv[*i]: 1 matched, 0 not, -1 no value. */
static int flag_value(int argc, char **argv, int *i, const char *name,
    const char **val)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0) {
		return 0;
	}
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0') {
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "pickterm: %s needs a value\n", name);
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

static int usage_error(const char *cmd, const char *usage, const char *why)
{
	fprintf(stderr, "pickterm: %s\nusage: pickterm %s %s\n", why, cmd, usage);
	return PICKTERM_EXIT_USAGE;
}

static int order_id_parse(const char *s, uint64_t *out)
{
	int64_t v = 0;
	if (parse_i64(s, 1, INT64_MAX, &v) != 0) {
		return DN_EINVAL;
	}
	*out = (uint64_t)v;
	return 0;
}

int pickterm_call(const pickterm_opts *o, Dropnet__TermRequest *req,
    Dropnet__TermReply **rep)
{
	rpc_conn *c = NULL;
	uint8_t *out = NULL, *in = NULL;
	size_t out_len = 0, in_len = 0;
	int rv;

	*rep = NULL;
	req->version = DN_PROTO_VERSION;
	req->operator_ = (char *)o->operator_;
	/* Without --request-key a write still carries a key of its own (hubd
	 * ignores it on reads): when the hub does not answer, the work may
	 * have been done, and running the command again with this key does
	 * it at most once. */
	char own[40];
	const char *key = o->request_key;
	if (key == NULL || key[0] == '\0') {
		uint64_t r[2] = {0, 0};
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			r[0] = (uint64_t)time(NULL);
			r[1] = (uint64_t)getpid();
		}
		snprintf(own, sizeof(own), "pt-%016" PRIx64 "%016" PRIx64, r[0], r[1]);
		key = own;
	}
	req->request_key = (char *)key;
	if ((rv = codec_term_request_pack(req, &out, &out_len)) != 0) {
		fprintf(stderr, "pickterm: out of memory\n");
		return PICKTERM_EXIT_STATUS;
	}
	if ((rv = rpc_open(&c, o->hub, NETTLS_AS_DEFAULT)) != 0) {
		fprintf(stderr, "pickterm: cannot reach hub at %s (%s)\n", o->hub,
		    dn_strerror(rv));
		free(out);
		return rv == DN_EINVAL ? PICKTERM_EXIT_USAGE
		                       : PICKTERM_EXIT_UNREACHABLE;
	}
	rv = rpc_call(c, out, out_len, PICKTERM_TIMEOUT_MS, &in, &in_len);
	free(out);
	rpc_close(c);
	if (rv != 0) {
		if (codec_term_kind_writes((int)req->kind)) {
			fprintf(stderr, "pickterm: hub at %s did not answer (%s); it may"
			    " have done it: run the same command with --request-key %s to"
			    " do it at most once\n", o->hub, dn_strerror(rv), key);
		} else {
			fprintf(stderr, "pickterm: hub at %s did not answer (%s)\n", o->hub,
			    dn_strerror(rv));
		}
		return PICKTERM_EXIT_UNREACHABLE;
	}
	rv = codec_term_reply_unpack(in, in_len, rep);
	free(in);
	if (rv != 0) {
		fprintf(stderr, "pickterm: the hub's reply did not decode (%s)\n",
		    dn_strerror(rv));
		codec_term_reply_free(*rep);
		*rep = NULL;
		return PICKTERM_EXIT_STATUS;
	}
	return 0;
}

static void json_print(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(j);
}

static json_t *json_status(const Dropnet__TermReply *rep)
{
	return json_pack("{s:s, s:s}", "status", codec_status_name(rep->status),
	    "message", rep->message != NULL ? rep->message : "");
}

/* Sends req; on a non-OK answer prints it and returns 1. On OK returns 0
 * with *rep for the caller to print and free. */
static int call_checked(const pickterm_opts *o, Dropnet__TermRequest *req,
    Dropnet__TermReply **rep)
{
	int rv = pickterm_call(o, req, rep);
	if (rv != 0) {
		return rv;
	}
	if ((*rep)->status != DROPNET__STATUS__OK) {
		if (o->json) {
			json_print(json_status(*rep));
		}
		fprintf(stderr, "pickterm: %s: %s\n",
		    codec_status_name((*rep)->status), (*rep)->message);
		codec_term_reply_free(*rep);
		*rep = NULL;
		return PICKTERM_EXIT_STATUS;
	}
	return 0;
}

/* Prints an OK reply with only a message (receive, pick, short, ship). */
static int print_simple(const pickterm_opts *o, Dropnet__TermReply *rep)
{
	if (o->json) {
		json_print(json_status(rep));
	} else {
		printf("OK %s\n", rep->message);
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static int cmd_receive(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "SKU QTY [--bin B] [--transfer T]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	const char *pos[2], *bin = NULL, *transfer = NULL;
	int npos = 0, rv;

	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--bin", &bin)) != 0
		    || (rv = flag_value(argc, argv, &i, "--transfer",
		    &transfer)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
		} else if (npos < 2 && strncmp(argv[i], "--", 2) != 0) {
			pos[npos++] = argv[i];
		} else {
			return usage_error("receive", use, "unexpected argument");
		}
	}
	if (npos != 2) {
		return usage_error("receive", use, "need SKU and QTY");
	}
	if (parse_i64(pos[1], INT64_MIN, INT64_MAX, &req.qty) != 0) {
		return usage_error("receive", use, "QTY must be an integer");
	}
	req.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	req.sku = (char *)pos[0];
	req.bin = (char *)(bin != NULL ? bin : "");
	req.transfer_id = (char *)(transfer != NULL ? transfer : "");
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static void age_format(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;
	if (s < 0) {
		s = 0;
	}
	if (s < 120) {
		snprintf(buf, len, "%" PRId64 "s", s);
	} else if (s < 7200) {
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	} else if (s < 172800) {
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	} else {
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
	}
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a resent order (sent again after the hub's store was lost) asks of
 * staff before anyone picks it (SEMANTICS.md "Incarnations and resync"). */
#define RESENT_NOTE "RESENT after data loss: check the carrier log before " \
    "picking; if it shipped: pickterm ship ORDER --tracking T --already-shipped"

static void queue_json(const Dropnet__TermReply *rep)
{
	json_t *orders = json_array();
	for (size_t i = 0; i < rep->n_orders; i++) {
		const Dropnet__QueueOrder *q = rep->orders[i];
		json_t *lines = json_array();
		for (size_t k = 0; k < q->n_lines; k++) {
			const Dropnet__QueueLine *l = q->lines[k];
			json_array_append_new(lines, json_pack(
			    "{s:s, s:I, s:I, s:I, s:s, s:b}", "sku", l->sku,
			    "qty", (json_int_t)l->qty, "picked", (json_int_t)l->picked,
			    "shorted", (json_int_t)l->shorted, "bin", l->bin,
			    "gift", l->gift));
		}
		json_array_append_new(orders, json_pack(
		    "{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:b, s:o}",
		    "order_id", (json_int_t)q->order_id, "order_key", q->order_key,
		    "customer", q->customer, "state", q->state,
		    "received_ms", (json_int_t)q->received_ms,
		    "claimed_by", q->claimed_by, "tier", q->tier,
		    "promised_ms", (json_int_t)q->promised_ms, "resent", q->resent,
		    "lines", lines));
	}
	json_print(json_pack("{s:o}", "orders", orders));
}

static void queue_table(const Dropnet__TermReply *rep)
{
	int64_t now = wall_ms();
	size_t resent = 0;
	if (rep->n_orders == 0) {
		printf("no open orders\n");
		return;
	}
	printf("%-10s %-20s %-16s %-8s %-5s %-10s %s\n", "ORDER", "KEY",
	    "CUSTOMER", "STATE", "AGE", "CLAIM", "LINES (sku picked/qty bin)");
	for (size_t i = 0; i < rep->n_orders; i++) {
		const Dropnet__QueueOrder *q = rep->orders[i];
		char age[16];
		age_format(now - q->received_ms, age, sizeof(age));
		printf("%-10" PRIu64 " %-20s %-16s %-8s %-5s %-10s ", q->order_id,
		    q->order_key, q->customer, q->state, age,
		    q->claimed_by[0] != '\0' ? q->claimed_by : "-");
		for (size_t k = 0; k < q->n_lines; k++) {
			const Dropnet__QueueLine *l = q->lines[k];
			printf("%s%s%s %" PRIu32 "/%" PRIu32 " %s", k > 0 ? ", " : "",
			    l->gift ? "GIFT " : "", l->sku, l->picked, l->qty,
			    l->bin[0] != '\0' ? l->bin : "-");
			if (l->shorted > 0) {
				printf(" (short %" PRIu32 ")", l->shorted);
			}
		}
		if (q->resent) {
			printf("  [RESENT]");
			resent++;
		}
		printf("\n");
	}
	if (resent > 0) {
		printf("%zu order%s [RESENT] after data loss: check the carrier log "
		    "before picking; if one shipped: pickterm ship ORDER --tracking "
		    "T --already-shipped\n", resent, resent > 1 ? "s" : "");
	}
}

static int cmd_no_args(const char *name, int argc)
{
	if (argc > 1) {
		fprintf(stderr, "pickterm: %s takes no arguments\n", name);
		return PICKTERM_EXIT_USAGE;
	}
	return 0;
}

static int cmd_queue(const pickterm_opts *o, int argc, char **argv)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	(void)argv;

	if ((rv = cmd_no_args("queue", argc)) != 0) {
		return rv;
	}
	req.kind = DROPNET__TERM_KIND__TERM_QUEUE;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	if (o->json) {
		queue_json(rep);
	} else {
		queue_table(rep);
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static int cmd_pick(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "ORDER --scan SKU [--scan SKU ...]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	char **scans = calloc((size_t)argc, sizeof(*scans));
	const char *order = NULL, *v = NULL;
	size_t nscans = 0;
	int rv;

	if (scans == NULL) {
		return PICKTERM_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--scan", &v)) != 0) {
			if (rv < 0) {
				free(scans);
				return PICKTERM_EXIT_USAGE;
			}
			scans[nscans++] = (char *)v;
		} else if (order == NULL && strncmp(argv[i], "--", 2) != 0) {
			order = argv[i];
		} else {
			free(scans);
			return usage_error("pick", use, "unexpected argument");
		}
	}
	if (order == NULL || order_id_parse(order, &req.order_id) != 0) {
		free(scans);
		return usage_error("pick", use, "ORDER must be a numeric order id");
	}
	if (nscans == 0) {
		free(scans);
		return usage_error("pick", use, "need at least one --scan SKU");
	}
	req.kind = DROPNET__TERM_KIND__TERM_PICK;
	req.scans = scans;
	req.n_scans = nscans;
	rv = call_checked(o, &req, &rep);
	free(scans);
	if (rv != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_short(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "ORDER SKU QTY";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;

	if (argc != 4) {
		return usage_error("short", use, "need ORDER, SKU and QTY");
	}
	if (order_id_parse(argv[1], &req.order_id) != 0) {
		return usage_error("short", use, "ORDER must be a numeric order id");
	}
	if (parse_i64(argv[3], INT64_MIN, INT64_MAX, &req.qty) != 0) {
		return usage_error("short", use, "QTY must be an integer");
	}
	req.kind = DROPNET__TERM_KIND__TERM_SHORT;
	req.sku = argv[2];
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_ship(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "ORDER [--tracking T] [--already-shipped]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	const char *order = NULL, *tracking = NULL;
	int rv;

	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--tracking", &tracking)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--already-shipped") == 0) {
			req.already_shipped = true;
		} else if (order == NULL && strncmp(argv[i], "--", 2) != 0) {
			order = argv[i];
		} else {
			return usage_error("ship", use, "unexpected argument");
		}
	}
	if (order == NULL || order_id_parse(order, &req.order_id) != 0) {
		return usage_error("ship", use, "ORDER must be a numeric order id");
	}
	req.kind = DROPNET__TERM_KIND__TERM_SHIP;
	req.tracking = (char *)(tracking != NULL ? tracking : "");
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_status(const pickterm_opts *o, int argc, char **argv)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	(void)argv;

	if ((rv = cmd_no_args("status", argc)) != 0) {
		return rv;
	}
	req.kind = DROPNET__TERM_KIND__TERM_STATUS;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	if (o->json) {
		json_t *j = json_status(rep);
		json_object_set_new(j, "hub", json_string(rep->hub));
		json_object_set_new(j, "cmd_applied",
		    json_integer((json_int_t)rep->cmd_applied));
		json_object_set_new(j, "event_seq",
		    json_integer((json_int_t)rep->event_seq));
		json_object_set_new(j, "event_acked",
		    json_integer((json_int_t)rep->event_acked));
		json_object_set_new(j, "coordinator_up",
		    json_boolean(rep->coordinator_up));
		json_object_set_new(j, "lease_left_ms",
		    json_integer((json_int_t)rep->lease_left_ms));
		json_object_set_new(j, "queued", json_integer(rep->queued));
		json_object_set_new(j, "in_progress",
		    json_integer(rep->in_progress));
		json_object_set_new(j, "packed", json_integer(rep->packed));
		json_object_set_new(j, "packed_today",
		    json_integer(rep->packed_today));
		json_print(j);
	} else {
		printf("hub          %s\n", rep->hub);
		printf("coordinator  %s\n", rep->coordinator_up ? "up" : "down");
		if (rep->lease_left_ms > 0) {
			printf("lease        %" PRIu64 " ms left\n",
			    rep->lease_left_ms);
		} else {
			printf("lease        none: no new picks until the "
			    "coordinator answers\n");
		}
		printf("cmd_applied  %" PRIu64 "\n", rep->cmd_applied);
		printf("event_seq    %" PRIu64 "\n", rep->event_seq);
		printf("event_acked  %" PRIu64 "\n", rep->event_acked);
		printf("orders       %s\n", rep->message);
		printf("counts       queued=%" PRIu32 " in_progress=%" PRIu32
		    " packed=%" PRIu32 " packed_today=%" PRIu32 "\n", rep->queued,
		    rep->in_progress, rep->packed, rep->packed_today);
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static int cmd_stock(const pickterm_opts *o, int argc, char **argv)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	(void)argv;

	if ((rv = cmd_no_args("stock", argc)) != 0) {
		return rv;
	}
	req.kind = DROPNET__TERM_KIND__TERM_STOCK;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	if (o->json) {
		json_t *j = json_status(rep), *arr = json_array();
		for (size_t i = 0; i < rep->n_stock; i++) {
			json_array_append_new(arr, json_pack("{s:s, s:I}", "sku",
			    rep->stock[i]->sku, "on_hand",
			    (json_int_t)rep->stock[i]->on_hand));
		}
		json_object_set_new(j, "stock", arr);
		json_print(j);
	} else if (rep->n_stock == 0) {
		printf("no stock\n");
	} else {
		printf("%-24s %10s\n", "SKU", "ON_HAND");
		for (size_t i = 0; i < rep->n_stock; i++) {
			printf("%-24s %10" PRId64 "\n", rep->stock[i]->sku,
			    rep->stock[i]->on_hand);
		}
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static int cmd_claim(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "[ORDER] [--batch N]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	const char *batch = NULL;
	int64_t n = 0;
	int rv;

	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--batch", &batch)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
		} else if (req.order_id == 0 && strncmp(argv[i], "--", 2) != 0) {
			if (order_id_parse(argv[i], &req.order_id) != 0) {
				return usage_error("claim", use, "ORDER must be a numeric "
				    "order id");
			}
		} else {
			return usage_error("claim", use, "unexpected argument");
		}
	}
	if (batch != NULL && parse_i64(batch, 1, 1000, &n) != 0) {
		return usage_error("claim", use, "N must be a small number");
	}
	req.kind = DROPNET__TERM_KIND__TERM_CLAIM;
	req.batch = (uint32_t)n;
	rv = pickterm_call(o, &req, &rep);
	if (rv != 0) {
		return rv;
	}
	if (rep->status != DROPNET__STATUS__OK) {
		if (o->json) {
			json_t *j = json_status(rep);
			json_object_set_new(j, "claimed_by", json_string(rep->claimed_by));
			json_print(j);
		}
		fprintf(stderr, "pickterm: %s: %s\n", codec_status_name(rep->status),
		    rep->message);
		codec_term_reply_free(rep);
		return PICKTERM_EXIT_STATUS;
	}
	if (o->json) {
		json_t *j = json_status(rep), *ids = json_array();
		json_t *resent = json_array();
		for (size_t i = 0; i < rep->n_orders; i++) {
			json_t *id = json_integer((json_int_t)rep->orders[i]->order_id);
			if (rep->orders[i]->resent) {
				json_array_append(resent, id);
			}
			json_array_append_new(ids, id);
		}
		json_object_set_new(j, "orders", ids);
		json_object_set_new(j, "resent", resent);
		json_print(j);
	} else {
		printf("OK %s\n", rep->message);
		for (size_t i = 0; i < rep->n_orders; i++) {
			if (rep->orders[i]->resent) {
				printf("order %" PRIu64 ": " RESENT_NOTE "\n",
				    rep->orders[i]->order_id);
			}
		}
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static int cmd_release(const pickterm_opts *o, int argc, char **argv)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	if (argc != 2 || order_id_parse(argv[1], &req.order_id) != 0) {
		return usage_error("release", "ORDER", "need a numeric ORDER");
	}
	req.kind = DROPNET__TERM_KIND__TERM_RELEASE;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_pack(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "ORDER --scan SKU [--scan SKU ...]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	char *scans[DN_ORDER_LINES_MAX];
	const char *order = NULL, *v = NULL;
	size_t nscans = 0;
	int rv;

	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--scan", &v)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
			if (nscans == DN_ORDER_LINES_MAX) {
				return usage_error("pack", use, "too many --scan");
			}
			scans[nscans++] = (char *)v;
		} else if (order == NULL && strncmp(argv[i], "--", 2) != 0) {
			order = argv[i];
		} else {
			return usage_error("pack", use, "unexpected argument");
		}
	}
	if (order == NULL || order_id_parse(order, &req.order_id) != 0) {
		return usage_error("pack", use, "ORDER must be a numeric order id");
	}
	req.kind = DROPNET__TERM_KIND__TERM_PACK;
	req.scans = scans;
	req.n_scans = nscans;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_move(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "SKU QTY --from BIN --to BIN";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	const char *pos[2], *from = NULL, *to = NULL;
	int npos = 0, rv;

	for (int i = 1; i < argc; i++) {
		if ((rv = flag_value(argc, argv, &i, "--from", &from)) != 0
		    || (rv = flag_value(argc, argv, &i, "--to", &to)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
		} else if (npos < 2 && strncmp(argv[i], "--", 2) != 0) {
			pos[npos++] = argv[i];
		} else {
			return usage_error("move", use, "unexpected argument");
		}
	}
	if (npos != 2 || from == NULL || to == NULL) {
		return usage_error("move", use, "need SKU, QTY, --from and --to");
	}
	if (parse_i64(pos[1], INT64_MIN, INT64_MAX, &req.qty) != 0) {
		return usage_error("move", use, "QTY must be an integer");
	}
	req.kind = DROPNET__TERM_KIND__TERM_MOVE;
	req.sku = (char *)pos[0];
	req.bin = (char *)from;
	req.to_bin = (char *)to;
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_count(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "BIN SKU QTY";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	if (argc != 4) {
		return usage_error("count", use, "need BIN, SKU and QTY");
	}
	if (parse_i64(argv[3], INT64_MIN, INT64_MAX, &req.qty) != 0) {
		return usage_error("count", use, "QTY must be an integer");
	}
	req.kind = DROPNET__TERM_KIND__TERM_COUNT;
	req.bin = argv[1];
	req.sku = argv[2];
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_return(const pickterm_opts *o, int argc, char **argv)
{
	static const char use[] = "SKU QTY [--bin B] [--quarantine]";
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	const char *pos[2], *bin = NULL;
	int npos = 0, rv;

	req.to_stock = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quarantine") == 0) {
			req.to_stock = false;
		} else if ((rv = flag_value(argc, argv, &i, "--bin", &bin)) != 0) {
			if (rv < 0) {
				return PICKTERM_EXIT_USAGE;
			}
		} else if (npos < 2 && strncmp(argv[i], "--", 2) != 0) {
			pos[npos++] = argv[i];
		} else {
			return usage_error("return", use, "unexpected argument");
		}
	}
	if (npos != 2 || parse_i64(pos[1], INT64_MIN, INT64_MAX, &req.qty) != 0) {
		return usage_error("return", use, "need SKU and an integer QTY");
	}
	req.kind = DROPNET__TERM_KIND__TERM_RETURN;
	req.sku = (char *)pos[0];
	req.bin = (char *)(bin != NULL ? bin : "");
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	return print_simple(o, rep);
}

static int cmd_bin(const pickterm_opts *o, int argc, char **argv)
{
	Dropnet__TermRequest req = DROPNET__TERM_REQUEST__INIT;
	Dropnet__TermReply *rep = NULL;
	int rv;
	if (argc != 2) {
		return usage_error("bin", "BIN", "need BIN");
	}
	req.kind = DROPNET__TERM_KIND__TERM_BIN;
	req.bin = argv[1];
	if ((rv = call_checked(o, &req, &rep)) != 0) {
		return rv;
	}
	if (o->json) {
		json_t *j = json_status(rep), *arr = json_array();
		for (size_t i = 0; i < rep->n_stock; i++) {
			json_array_append_new(arr, json_pack("{s:s, s:I}", "sku",
			    rep->stock[i]->sku, "qty",
			    (json_int_t)rep->stock[i]->on_hand));
		}
		json_object_set_new(j, "bin", json_string(argv[1]));
		json_object_set_new(j, "stock", arr);
		json_print(j);
	} else {
		printf("%-24s %10s\n", "SKU", "QTY");
		for (size_t i = 0; i < rep->n_stock; i++) {
			printf("%-24s %10" PRId64 "\n", rep->stock[i]->sku,
			    rep->stock[i]->on_hand);
		}
	}
	codec_term_reply_free(rep);
	return PICKTERM_EXIT_OK;
}

static const cmd_def cmds[] = {
	{ "receive", "SKU QTY [--bin B] [--transfer T]",
	    "Stock in: QTY (1..1000000) units of SKU into bin B (default MAIN);\n"
	    "--transfer T when they arrive on transfer T from another hub.",
	    cmd_receive },
	{ "queue", "[--json]",
	    "Orders not yet shipped, oldest first: id, key, customer, state,\n"
	    "age and lines (sku picked/qty bin).", cmd_queue },
	{ "pick", "ORDER --scan SKU [--scan SKU ...]",
	    "Confirm picked units, one --scan per unit. A scan the order does\n"
	    "not need refuses the whole request (WRONG_SCAN).", cmd_pick },
	{ "short", "ORDER SKU QTY",
	    "QTY units of SKU for ORDER cannot be found (at most what the line\n"
	    "still needs).", cmd_short },
	{ "ship", "ORDER [--tracking T] [--already-shipped]",
	    "Ship a picked order. --already-shipped: a RESENT order (sent again\n"
	    "after this hub's data was lost) that the carrier log shows left\n"
	    "before the loss: recorded as shipped with T, nothing picked.",
	    cmd_ship },
	{ "status", "[--json]",
	    "Hub id, stream positions, whether the coordinator answers.",
	    cmd_status },
	{ "stock", "[--json]", "On hand per SKU.", cmd_stock },
	{ "claim", "[ORDER] [--batch N]",
	    "Claim ORDER for --operator, or the next order by priority, or N\n"
	    "small orders for one walk. Another operator's order: CLAIMED.",
	    cmd_claim },
	{ "release", "ORDER", "Give your claim on ORDER back.", cmd_release },
	{ "pack", "ORDER --scan SKU [--scan SKU ...]",
	    "Confirm every picked line once (gift lines too); the order\n"
	    "becomes packed.", cmd_pack },
	{ "move", "SKU QTY --from BIN --to BIN", "Move units between bins.",
	    cmd_move },
	{ "count", "BIN SKU QTY",
	    "Cycle count: QTY units of SKU are in BIN; the difference to the\n"
	    "book becomes an adjustment event.", cmd_count },
	{ "return", "SKU QTY [--bin B] [--quarantine]",
	    "A customer return: back into stock (bin B, default MAIN) or into\n"
	    "quarantine (not on hand).", cmd_return },
	{ "bin", "BIN [--json]", "What the hub's book says BIN holds.", cmd_bin },
};

int pickterm_cmd_run(const pickterm_opts *o, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name) != 0) {
			continue;
		}
		for (int k = 1; k < argc; k++) {
			if (strcmp(argv[k], "--help") == 0
			    || strcmp(argv[k], "-h") == 0) {
				printf("usage: pickterm [--hub URL] [--operator NAME] "
				    "[--json] %s %s\n\n%s\n", cmds[i].name,
				    cmds[i].usage, cmds[i].help);
				return PICKTERM_EXIT_OK;
			}
		}
		return cmds[i].run(o, argc, argv);
	}
	fprintf(stderr, "pickterm: unknown command '%s'\n\n", argv[0]);
	pickterm_usage(stderr);
	return PICKTERM_EXIT_USAGE;
}
