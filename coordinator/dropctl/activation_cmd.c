/*
 * activation_cmd.c - `dropctl activation add|list`: what the operator paid
 * to sell a drop (a livestream, a pop-up, a van trip), and per activation
 * the revenue of the drop's orders received in its window and revenue per
 * unit of cost (docs/prices.md "Activations"). `dropctl kpi` shows the same
 * rows (dropctl_activations_print, dropctl_activations_json).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "dropctl.h"
#include "drop_spec.h"

static void activation_help(void)
{
	printf("usage: dropctl [global flags] activation add --drop D\n"
	       "           --kind livestream|popup|van|other --name N --cost MINOR\n"
	       "           --from TIME --to TIME\n"
	       "       dropctl [global flags] activation list --drop D\n"
	       "\n"
	       "add records what an activation of a priced drop cost, in the\n"
	       "drop's currency's minor units (0..1000000000000), and its window\n"
	       "[from, to). TIME: RFC 3339 UTC (2026-11-27T18:00:00Z), epoch ms,\n"
	       "now or +DUR (+90m), against the coordinator's clock. N: 1..64\n"
	       "characters, no spaces, commas or quotes; unique within the drop;\n"
	       "at most 256 activations per drop. Needs the operator role.\n"
	       "\n"
	       "list (and `dropctl kpi`) shows each activation's cost, the drop's\n"
	       "accepted orders received in its window and their revenue, revenue\n"
	       "per unit of cost (ROI; - when the cost is 0) and, for a van, the\n"
	       "hub-to-hub transfers shipped in its window. --json prints all.\n");
}

json_t *dropctl_activations_json(Dropnet__Activation *const *a, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I}",
		    "name", a[i]->name, "kind", a[i]->kind, "cost_minor",
		    (json_int_t)a[i]->cost_minor, "from_ms", (json_int_t)a[i]->from_ms, "to_ms",
		    (json_int_t)a[i]->to_ms, "created_ms", (json_int_t)a[i]->created_ms,
		    "orders", (json_int_t)a[i]->orders, "revenue_minor",
		    (json_int_t)a[i]->revenue_minor, "roi",
		    a[i]->has_roi ? json_real(a[i]->roi) : json_null(), "transfers",
		    (json_int_t)a[i]->transfers));
	}
	return arr;
}

int dropctl_activations_print(Dropnet__Activation *const *a, size_t n)
{
	static const char *const h[] = {"ACTIVATION", "KIND", "FROM", "TO", "COST", "ORDERS",
	    "REVENUE", "ROI", "TRANSFERS"};
	dropctl_table t;
	dropctl_table_init(&t, 9, h, "llllrrrrr");
	for (size_t i = 0; i < n; i++) {
		char f[32], to[32];
		dropctl_fmt_time(a[i]->from_ms, f, sizeof(f));
		dropctl_fmt_time(a[i]->to_ms, to, sizeof(to));
		f[16] = to[16] = '\0'; /* the minute is enough */
		dropctl_table_cell(&t, "%s", a[i]->name);
		dropctl_table_cell(&t, "%s", a[i]->kind);
		dropctl_table_cell(&t, "%s", f);
		dropctl_table_cell(&t, "%s", to);
		dropctl_table_cell(&t, "%" PRId64, a[i]->cost_minor);
		dropctl_table_cell(&t, "%u", a[i]->orders);
		dropctl_table_cell(&t, "%" PRId64, a[i]->revenue_minor);
		if (a[i]->has_roi) {
			dropctl_table_cell(&t, "%.2f", a[i]->roi);
		} else {
			dropctl_table_cell(&t, "-");
		}
		if (strcmp(a[i]->kind, "van") == 0) {
			dropctl_table_cell(&t, "%u", a[i]->transfers);
		} else {
			dropctl_table_cell(&t, "-");
		}
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

/* Parses --cost: a whole number (its bounds are the coordinator's). */
static int activation_cost(const char *v, int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0') {
		return DN_EINVAL;
	}
	*out = (int64_t)x;
	return 0;
}

/* The add flags into a; times resolved against the coordinator's clock.
 * -1 when all went well, else the exit code. */
static int activation_add_args(dropctl_opts *o, int argc, char **argv,
    Dropnet__Activation *a)
{
	const char *cost = NULL, *from = NULL, *to = NULL;
	for (int i = 1; i < argc; i++) {
		int m;
		if ((m = dropctl_flag(argc, argv, &i, "--drop", (const char **)&a->drop_id)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--kind", (const char **)&a->kind)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--name", (const char **)&a->name)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--cost", &cost)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--from", &from)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--to", &to)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("activation add", "unexpected argument '%s'",
			    argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (a->drop_id[0] == '\0' || a->kind[0] == '\0' || a->name[0] == '\0' ||
	    cost == NULL || from == NULL || to == NULL) {
		return dropctl_usage_error("activation add", "needs --drop, --kind, --name,"
		    " --cost, --from and --to");
	}
	if (activation_cost(cost, &a->cost_minor) != 0) {
		return dropctl_usage_error("activation add", "--cost '%s' is not a whole number"
		    " of minor units", cost);
	}
	int64_t base = 0;
	int ex = dropctl_coord_clock(o, &base);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (drop_spec_time_parse(from, base, &a->from_ms) != 0) {
		return dropctl_usage_error("activation add", "bad --from time '%s'", from);
	}
	if (drop_spec_time_parse(to, base, &a->to_ms) != 0) {
		return dropctl_usage_error("activation add", "bad --to time '%s'", to);
	}
	return -1;
}

static int activation_list_args(dropctl_opts *o, int argc, char **argv, const char **drop)
{
	for (int i = 1; i < argc; i++) {
		int m;
		if ((m = dropctl_flag(argc, argv, &i, "--drop", drop)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("activation list", "unexpected argument '%s'",
			    argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	if (*drop == NULL) {
		return dropctl_usage_error("activation list", "missing --drop D");
	}
	return -1;
}

static int activation_reply(const dropctl_opts *o, const Dropnet__OpsRequest *req,
    const Dropnet__OpsReply *r)
{
	if (r->status != DROPNET__STATUS__OK) {
		fprintf(stderr, "dropctl: activation: %s: %s\n", codec_status_name(r->status),
		    r->message);
		return DROPCTL_EXIT_FAIL;
	}
	if (req->kind == DROPNET__OPS_KIND__OPS_ACTIVATION_ADD) {
		if (o->json) {
			return dropctl_json_emit(json_pack("{s:s,s:s}", "status", "OK", "message",
			    r->message));
		}
		printf("%s\n", r->message);
		return DROPCTL_EXIT_OK;
	}
	if (o->json) {
		return dropctl_json_emit(json_pack("{s:s,s:o}", "currency", r->currency,
		    "activations", dropctl_activations_json(r->activations, r->n_activations)));
	}
	if (r->n_activations == 0) {
		printf("no activations recorded\n");
		return DROPCTL_EXIT_OK;
	}
	printf("money in %s minor units\n", r->currency);
	return dropctl_activations_print(r->activations, r->n_activations);
}

int dropctl_activation(dropctl_opts *o, int argc, char **argv)
{
	if (argc < 2 || dropctl_is_help(argv[1])) {
		activation_help();
		return argc < 2 ? DROPCTL_EXIT_USAGE : DROPCTL_EXIT_OK;
	}
	for (int i = 2; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			activation_help();
			return DROPCTL_EXIT_OK;
		}
	}
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__Activation a = DROPNET__ACTIVATION__INIT;
	const char *drop = NULL;
	int ex;
	if (strcmp(argv[1], "add") == 0) {
		if ((ex = activation_add_args(o, argc - 1, argv + 1, &a)) >= 0) {
			return ex;
		}
		req.kind = DROPNET__OPS_KIND__OPS_ACTIVATION_ADD;
		req.activation = &a;
	} else if (strcmp(argv[1], "list") == 0) {
		if ((ex = activation_list_args(o, argc - 1, argv + 1, &drop)) >= 0) {
			return ex;
		}
		req.kind = DROPNET__OPS_KIND__OPS_ACTIVATION_LIST;
		req.drop_id = (char *)drop;
	} else {
		return dropctl_usage_error("activation", "unknown subcommand '%s'", argv[1]);
	}
	Dropnet__OpsReply *r = NULL;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	ex = activation_reply(o, &req, r);
	codec_ops_reply_free(r);
	return ex;
}
