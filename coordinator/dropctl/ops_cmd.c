/*
 * ops_cmd.c - dropctl's read-only views of the network over the ops socket
 * (proto/SEMANTICS.md "ops"): hubs, stock, order show, audit.
 *
 * Each command parses its flags, sends one OpsRequest, and prints either an
 * aligned table (80 columns for typical ids) or one JSON object. A status
 * other than OK is printed on stderr with the server's message and gives
 * exit 1; audit findings give exit 1 too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "dropctl.h"

static void ops_help_hubs(void)
{
	printf("usage: dropctl [global flags] hubs\n"
	       "\n"
	       "Every registered hub: position, service radius, health, when it\n"
	       "last synced, and how far each stream has got (commands queued /\n"
	       "acked by the hub, events applied by the coordinator). UP is\n"
	       "yes, silent (no sync for coordinator.hub_timeout_ms, still\n"
	       "routed to within coordinator.hub_grace_ms) or NO (down for\n"
	       "routing). A registry longer than one reply (1 MiB) is read\n"
	       "page by page and printed whole.\n"
	       "\n"
	       "  dropctl hubs set ID [--lat X] [--lon Y] [--radius-km R]\n"
	       "      moves a hub or changes its radius (admin; see --help)\n");
}

static void ops_help_stock(void)
{
	printf("usage: dropctl [global flags] stock [--hub H] [--sku S]\n"
	       "\n"
	       "The coordinator's ledger per (hub, sku): on hand, allocated,\n"
	       "held back, sellable (= on_hand - allocated - holdback), and the\n"
	       "running totals received and shipped, by SKU then hub. More rows\n"
	       "than one reply holds (1 MiB, ~20,000 rows) are read page by\n"
	       "page and printed whole; a page is read at its own moment, so\n"
	       "rows of different pages may be a few orders apart (each\n"
	       "(hub, sku) shows once). A coordinator from before paging\n"
	       "answers such a list INVALID with its size: filter with --hub\n"
	       "or --sku.\n");
}

static void ops_help_audit(void)
{
	printf("usage: dropctl [global flags] audit\n"
	       "\n"
	       "Runs every invariant check on the coordinator (sellable >= 0,\n"
	       "stock conserved, both books agree). Exit 0 when clean, 1 with\n"
	       "one line per finding otherwise.\n");
}

static void ops_help_order_show(void)
{
	printf("usage: dropctl [global flags] order show KEY... [--storefront F]\n"
	       "\n"
	       "An order's whole journey: how it was routed (every candidate\n"
	       "hub with distance and verdict), where it was placed, time to\n"
	       "fulfil, and its trace: the time of each step and how long\n"
	       "after it was received - received (at the coordinator's\n"
	       "socket), journalled (the coordinator's transaction), queued\n"
	       "(in the hub's pick queue, on the hub's clock), delivered (the\n"
	       "hub's ack back at the coordinator), picked and shipped (the\n"
	       "hub's event times); '-' = not yet or not known.\n"
	       "The storefront defaults to \"default\". Several keys are shown\n"
	       "in turn over one connection (with --json: one line each;\n"
	       "an unknown key prints {\"key\":K,\"error\":\"not_found\"}).\n"
	       "Exit 1 if any key is unknown.\n");
}

/* Parses a command that takes only global flags plus the listed ones.
 * Returns -1 to go on, else an exit code. */
static int ops_args_none(dropctl_opts *o, int argc, char **argv,
    void (*help)(void))
{
	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			help();
			return DROPCTL_EXIT_OK;
		}
		int g = dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g == 0) {
			return dropctl_usage_error(argv[0],
			    "unexpected argument '%s'", argv[i]);
		}
	}
	return -1;
}

/* Prints a non-OK ops status; returns DROPCTL_EXIT_FAIL. */
static int ops_status_fail(const char *cmd, const Dropnet__OpsReply *r)
{
	fprintf(stderr, "dropctl: %s: %s%s%s\n", cmd,
	    codec_status_name(r->status), r->message[0] != '\0' ? ": " : "",
	    r->message);
	return DROPCTL_EXIT_FAIL;
}

/* ---- hubs ---- */

/* Sends req, paged (dropctl_ops_paged; then: the kind of every next
 * page), and prints every page's rows with json or table. */
static int ops_paged(dropctl_opts *o, Dropnet__OpsRequest *req, Dropnet__OpsKind then,
    const char *cmd, int (*json)(const dropctl_pages *), int (*table)(const dropctl_pages *))
{
	dropctl_pages p;
	int ex = dropctl_ops_paged(o, req, then, &p);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	const Dropnet__OpsReply *last = dropctl_pages_last(&p);
	if (last->status != DROPNET__STATUS__OK) {
		ex = ops_status_fail(cmd, last);
	} else {
		ex = o->json ? json(&p) : table(&p);
	}
	dropctl_pages_free(&p);
	return ex;
}

static int ops_hubs_json(const dropctl_pages *p)
{
	json_t *arr = json_array();
	for (size_t pg = 0; pg < p->n; pg++)
	for (size_t k = 0; arr != NULL && k < p->page[pg]->n_hubs; k++) {
		const Dropnet__HubInfo *h = p->page[pg]->hubs[k];
		json_array_append_new(arr,
		    json_pack("{s:s,s:s,s:f,s:f,s:f,s:b,s:b,s:I,s:I,s:I,s:I,s:s}",
			"id", h->id, "name", h->name, "lat", h->lat, "lon",
			h->lon, "radius_km", h->radius_km, "healthy",
			(int)h->healthy, "routable", (int)h->routable,
			"last_seen_ms",
			(json_int_t)h->last_seen_ms, "cmd_seq",
			(json_int_t)h->cmd_seq, "cmd_acked",
			(json_int_t)h->cmd_acked, "event_applied",
			(json_int_t)h->event_applied, "term_url", h->term_url));
	}
	return dropctl_json_emit(arr != NULL ? json_pack("{s:o}", "hubs", arr)
					     : NULL);
}

static int ops_hubs_table(const dropctl_pages *p)
{
	static const char *const head[] = { "ID", "NAME", "LAT", "LON",
		"RADIUS", "UP", "SEEN", "CMD/ACK", "EVENTS" };
	dropctl_table t;
	int64_t now = dropctl_now_ms();

	if (p->page[0]->n_hubs == 0) {
		printf("no hubs registered\n");
		return DROPCTL_EXIT_OK;
	}
	dropctl_table_init(&t, 9, head, "llrrrlrrr");
	for (size_t pg = 0; pg < p->n; pg++)
	for (size_t k = 0; k < p->page[pg]->n_hubs; k++) {
		const Dropnet__HubInfo *h = p->page[pg]->hubs[k];
		char seen[32];
		if (h->last_seen_ms <= 0) {
			snprintf(seen, sizeof(seen), "never");
		} else {
			int64_t age = now - h->last_seen_ms;
			dropctl_fmt_duration(age < 0 ? 0 : age, seen,
			    sizeof(seen));
		}
		dropctl_table_cell(&t, "%s", h->id);
		dropctl_table_cell(&t, "%.*s", (int)DROPCTL_NAME_COL_MAX,
		    h->name);
		dropctl_table_cell(&t, "%.4f", h->lat);
		dropctl_table_cell(&t, "%.4f", h->lon);
		dropctl_table_cell(&t, "%.1f", h->radius_km);
		/* silent: past hub_timeout_ms, still routed to (grace);
		 * NO: down for routing. */
		dropctl_table_cell(&t, "%s", h->healthy ? "yes"
		    : h->routable ? "silent" : "NO");
		dropctl_table_cell(&t, "%s", seen);
		dropctl_table_cell(&t, "%" PRIu64 "/%" PRIu64, h->cmd_seq,
		    h->cmd_acked);
		dropctl_table_cell(&t, "%" PRIu64, h->event_applied);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

static void ops_help_hubs_set(void)
{
	printf("usage: dropctl [global flags] hubs set ID [--lat X] [--lon Y]"
	       " [--radius-km R]\n"
	       "\n"
	       "Moves a registered hub or changes its service radius (admin\n"
	       "role). A hub registers itself with its first sync; after that\n"
	       "its own hello cannot move it or widen its radius (the\n"
	       "coordinator logs hub.position_ignored when the hub's config\n"
	       "disagrees). Flags left out keep the hub's current value.\n"
	       "Routing uses the new values from the next order on. Prints\n"
	       "the hubs as 'dropctl hubs' does.\n");
}

/* Reads a hub's registry row into *lat, *lon, *radius. */
static int ops_hub_current(dropctl_opts *o, const char *id, double *lat,
    double *lon, double *radius)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	dropctl_pages p;
	int ex;

	req.kind = DROPNET__OPS_KIND__OPS_HUBS;
	if ((ex = dropctl_ops_paged(o, &req, req.kind, &p)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	const Dropnet__OpsReply *last = dropctl_pages_last(&p);
	bool ok = last->status == DROPNET__STATUS__OK;
	ex = !ok ? ops_status_fail("hubs set", last) : DROPCTL_EXIT_FAIL;
	for (size_t pg = 0; ok && pg < p.n; pg++) {
		const Dropnet__OpsReply *r = p.page[pg];
		for (size_t k = 0; k < r->n_hubs; k++) {
			if (strcmp(r->hubs[k]->id, id) == 0) {
				*lat = r->hubs[k]->lat;
				*lon = r->hubs[k]->lon;
				*radius = r->hubs[k]->radius_km;
				ex = DROPCTL_EXIT_OK;
			}
		}
	}
	if (ok && ex != DROPCTL_EXIT_OK) {
		fprintf(stderr, "dropctl: hubs set: no hub '%s'\n", id);
	}
	dropctl_pages_free(&p);
	return ex;
}

/* `hubs set ID [--lat X] [--lon Y] [--radius-km R]`: argv[0] is "set". */
static int ops_hubs_set(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	const char *id = NULL, *v[3] = { NULL, NULL, NULL };
	static const char *const flags[3] = { "--lat", "--lon", "--radius-km" };
	double val[3];

	for (int i = 1; i < argc; i++) {
		int m = 0;
		if (dropctl_is_help(argv[i])) {
			ops_help_hubs_set();
			return DROPCTL_EXIT_OK;
		}
		for (int f = 0; f < 3 && m == 0; f++) {
			m = dropctl_flag(argc, argv, &i, flags[f], &v[f]);
		}
		if (m == 0) {
			m = dropctl_global_flag(o, argc, argv, &i);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (m > 0) {
			continue;
		}
		if (argv[i][0] == '-' || id != NULL) {
			return dropctl_usage_error("hubs set",
			    "unexpected argument '%s'", argv[i]);
		}
		id = argv[i];
	}
	if (id == NULL) {
		return dropctl_usage_error("hubs set", "missing hub ID");
	}
	if (v[0] == NULL && v[1] == NULL && v[2] == NULL) {
		return dropctl_usage_error("hubs set",
		    "nothing to change (--lat, --lon, --radius-km)");
	}
	int ex = ops_hub_current(o, id, &val[0], &val[1], &val[2]);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	for (int f = 0; f < 3; f++) {
		if (v[f] != NULL && dropctl_parse_double(v[f], &val[f]) != 0) {
			return dropctl_usage_error("hubs set",
			    "%s: '%s' is not a number", flags[f], v[f]);
		}
	}
	req.kind = DROPNET__OPS_KIND__OPS_HUB_SET;
	req.hub = (char *)id;
	req.lat = val[0];
	req.lon = val[1];
	req.radius_km = val[2];
	return ops_paged(o, &req, DROPNET__OPS_KIND__OPS_HUBS, "hubs set", ops_hubs_json,
	    ops_hubs_table);
}

int dropctl_hubs(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;

	for (int i = 1; i < argc; i++) {
		int g = dropctl_is_help(argv[i]) ? 0 : dropctl_global_flag(o, argc, argv, &i);
		if (g < 0) {
			return DROPCTL_EXIT_USAGE;
		}
		if (g == 0 && strcmp(argv[i], "set") == 0) {
			return ops_hubs_set(o, argc - i, argv + i);
		}
		if (g == 0) {
			break;
		}
	}
	int ex = ops_args_none(o, argc, argv, ops_help_hubs);

	if (ex >= 0) {
		return ex;
	}
	req.kind = DROPNET__OPS_KIND__OPS_HUBS;
	return ops_paged(o, &req, req.kind, "hubs", ops_hubs_json, ops_hubs_table);
}

/* ---- stock ---- */

static int ops_stock_json(const dropctl_pages *p)
{
	json_t *arr = json_array();
	for (size_t pg = 0; pg < p->n; pg++)
	for (size_t k = 0; arr != NULL && k < p->page[pg]->n_stock; k++) {
		const Dropnet__StockRow *s = p->page[pg]->stock[k];
		json_array_append_new(arr,
		    json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "hub",
			s->hub, "sku", s->sku, "on_hand",
			(json_int_t)s->on_hand, "allocated",
			(json_int_t)s->allocated, "holdback",
			(json_int_t)s->holdback, "sellable",
			(json_int_t)s->sellable, "received",
			(json_int_t)s->received, "shipped",
			(json_int_t)s->shipped));
	}
	return dropctl_json_emit(arr != NULL ? json_pack("{s:o}", "stock", arr)
					     : NULL);
}

static int ops_stock_table(const dropctl_pages *p)
{
	static const char *const head[] = { "HUB", "SKU", "ON_HAND", "ALLOC",
		"HOLD", "SELLABLE", "RECEIVED", "SHIPPED" };
	dropctl_table t;

	if (p->page[0]->n_stock == 0) {
		printf("no stock rows\n");
		return DROPCTL_EXIT_OK;
	}
	dropctl_table_init(&t, 8, head, "llrrrrrr");
	for (size_t pg = 0; pg < p->n; pg++)
	for (size_t k = 0; k < p->page[pg]->n_stock; k++) {
		const Dropnet__StockRow *s = p->page[pg]->stock[k];
		dropctl_table_cell(&t, "%s", s->hub);
		dropctl_table_cell(&t, "%s", s->sku);
		dropctl_table_cell(&t, "%" PRId64, s->on_hand);
		dropctl_table_cell(&t, "%" PRId64, s->allocated);
		dropctl_table_cell(&t, "%" PRId64, s->holdback);
		dropctl_table_cell(&t, "%" PRId64, s->sellable);
		dropctl_table_cell(&t, "%" PRId64, s->received);
		dropctl_table_cell(&t, "%" PRId64, s->shipped);
	}
	int ex = dropctl_table_print(&t);
	dropctl_table_fini(&t);
	return ex;
}

int dropctl_stock(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	const char *hub = NULL, *sku = NULL;

	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			ops_help_stock();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--hub", &hub)) == 0 &&
		    (m = dropctl_flag(argc, argv, &i, "--sku", &sku)) == 0 &&
		    (m = dropctl_global_flag(o, argc, argv, &i)) == 0) {
			return dropctl_usage_error("stock",
			    "unexpected argument '%s'", argv[i]);
		}
		if (m < 0) {
			return DROPCTL_EXIT_USAGE;
		}
	}
	req.kind = DROPNET__OPS_KIND__OPS_STOCK;
	/* protobuf-c's INIT points strings at a shared empty string; the
	 * casts only satisfy its non-const field type, nothing is written. */
	if (hub != NULL) {
		req.hub = (char *)hub;
	}
	if (sku != NULL) {
		req.sku = (char *)sku;
	}
	return ops_paged(o, &req, req.kind, "stock", ops_stock_json, ops_stock_table);
}

/* ---- audit ---- */

int dropctl_audit(dropctl_opts *o, int argc, char **argv)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	int ex = ops_args_none(o, argc, argv, ops_help_audit);

	if (ex >= 0) {
		return ex;
	}
	req.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	/* CONFLICT is the audit's way of saying "findings follow"; any other
	 * non-OK status means the audit itself did not run. */
	if (r->status != DROPNET__STATUS__OK &&
	    r->status != DROPNET__STATUS__CONFLICT) {
		ex = ops_status_fail("audit", r);
		codec_ops_reply_free(r);
		return ex;
	}
	bool ok = r->status == DROPNET__STATUS__OK && r->n_findings == 0;
	if (o->json) {
		json_t *arr = json_array();
		for (size_t k = 0; arr != NULL && k < r->n_findings; k++) {
			json_array_append_new(arr,
			    json_pack("{s:s,s:s}", "check",
				r->findings[k]->check, "detail",
				r->findings[k]->detail));
		}
		ex = dropctl_json_emit(arr != NULL
			? json_pack("{s:b,s:I,s:o}", "ok", (int)ok,
			      "checks_run", (json_int_t)r->checks_run,
			      "findings", arr)
			: NULL);
	} else if (ok) {
		printf("audit clean (%u checks)\n", r->checks_run);
	} else {
		for (size_t k = 0; k < r->n_findings; k++) {
			printf("%s: %s\n", r->findings[k]->check,
			    r->findings[k]->detail);
		}
		if (r->n_findings == 0) {
			printf("audit failed: %s\n", r->message);
		}
		printf("%zu finding%s (%u checks)\n", r->n_findings,
		    r->n_findings == 1 ? "" : "s", r->checks_run);
	}
	codec_ops_reply_free(r);
	if (ex != DROPCTL_EXIT_OK) {
		return ex;
	}
	return ok ? DROPCTL_EXIT_OK : DROPCTL_EXIT_FAIL;
}

/* ---- order show ---- */

/* The order's trace: each step, its time (0: not known or not yet) and
 * whose clock it is on, in the order they happen. */
enum { OPS_STEPS = 6 };
typedef struct {
	const char *name, *what;
	int64_t ms;
} ops_step;

static void ops_order_steps(const Dropnet__OrderInfo *oi, ops_step st[OPS_STEPS])
{
	/* An order journalled before arrival times were kept (or by a
	 * replicated group, whose log carries none): it arrived as its
	 * transaction ran. */
	int64_t arrived = oi->arrived_ms > 0 ? oi->arrived_ms : oi->received_ms;
	const ops_step s[OPS_STEPS] = {
		{"received", "request at the coordinator", arrived},
		{"journalled", "coordinator transaction", oi->received_ms},
		{"queued", "in the hub's pick queue, hub clock", oi->queued_ms},
		{"delivered", "hub's ack at the coordinator", oi->delivered_ms},
		{"picked", "hub clock", oi->picked_ms},
		{"shipped", "hub clock", oi->shipped_ms},
	};
	memcpy(st, s, sizeof(s));
}

/* "2026-11-26T18:00:00.123Z  (+1.2s)": a step's time and how long after
 * the order was received it happened (a hub clock behind ours: "-5ms"). */
static void ops_step_time(int64_t ms, int64_t received_ms, char *buf,
    size_t len)
{
	char t[48], d[32];
	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	dropctl_fmt_time(ms, t, sizeof(t));
	if (received_ms <= 0) {
		snprintf(buf, len, "%s", t);
		return;
	}
	int64_t after = ms - received_ms;
	dropctl_fmt_duration(after < 0 ? -after : after, d, sizeof(d));
	snprintf(buf, len, "%s  (%s%s)", t, after < 0 ? "-" : "+", d);
}

/* The trace as JSON: [{"step", "ms", "after_ms"}], ms and after_ms null
 * when not known or not yet. */
static json_t *ops_trace_json(const Dropnet__OrderInfo *oi)
{
	ops_step st[OPS_STEPS];
	ops_order_steps(oi, st);
	json_t *a = json_array();
	for (size_t k = 0; a != NULL && k < OPS_STEPS; k++) {
		bool known = st[k].ms > 0;
		json_array_append_new(a, json_pack("{s:s,s:o,s:o,s:s}", "step", st[k].name,
		    "ms", known ? json_integer((json_int_t)st[k].ms) : json_null(),
		    "after_ms", known && st[0].ms > 0
			? json_integer((json_int_t)(st[k].ms - st[0].ms)) : json_null(),
		    "clock", st[k].what));
	}
	return a;
}

static json_t *ops_order_json(const Dropnet__OrderInfo *oi)
{
	json_t *lines = json_array();
	json_t *cands = json_array();
	json_t *places = json_array();
	if (lines == NULL || cands == NULL || places == NULL) {
		json_decref(lines);
		json_decref(cands);
		json_decref(places);
		return NULL;
	}
	for (size_t k = 0; k < oi->n_lines; k++) {
		json_array_append_new(lines,
		    json_pack("{s:s,s:I}", "sku", oi->lines[k]->sku, "qty",
			(json_int_t)oi->lines[k]->qty));
	}
	for (size_t k = 0; k < oi->n_candidates; k++) {
		const Dropnet__RouteCandidate *c = oi->candidates[k];
		json_array_append_new(cands,
		    json_pack("{s:s,s:f,s:s}", "hub", c->hub, "distance_km",
			c->distance_km, "verdict", c->verdict));
	}
	for (size_t k = 0; k < oi->n_placements; k++) {
		const Dropnet__Placement *p = oi->placements[k];
		json_array_append_new(places,
		    json_pack("{s:s,s:s,s:I}", "hub", p->hub, "sku", p->sku,
			"qty", (json_int_t)p->qty));
	}
	json_t *ttf = oi->shipped_ms > 0 && oi->received_ms > 0
	    ? json_integer((json_int_t)(oi->shipped_ms - oi->received_ms))
	    : json_null();
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:o,"
			 "s:I,s:I,s:I,s:o,s:s,s:I,s:s}",
	    "order_id", (json_int_t)oi->order_id, "storefront",
	    oi->storefront, "order_key", oi->order_key, "customer",
	    oi->customer, "status", codec_status_name(oi->status), "hub",
	    oi->hub, "lat", oi->lat, "lon", oi->lon, "lines", lines,
	    "candidates", cands, "placements", places, "received_ms",
	    (json_int_t)oi->received_ms, "picked_ms",
	    (json_int_t)oi->picked_ms, "shipped_ms",
	    (json_int_t)oi->shipped_ms, "time_to_fulfil_ms", ttf, "tracking",
	    oi->tracking, "shorted", (json_int_t)oi->shorted, "field",
	    oi->field);
	if (o != NULL) {
		json_object_set_new(o, "arrived_ms", json_integer((json_int_t)oi->arrived_ms));
		json_object_set_new(o, "queued_ms", json_integer((json_int_t)oi->queued_ms));
		json_object_set_new(o, "delivered_ms",
		    json_integer((json_int_t)oi->delivered_ms));
		json_object_set_new(o, "trace", ops_trace_json(oi));
	}
	return o;
}

static int ops_order_text(const Dropnet__OrderInfo *oi)
{
	char buf[128];

	printf("order       %s  (storefront %s, id %" PRIu64 ")\n",
	    oi->order_key, oi->storefront, oi->order_id);
	printf("customer    %s\n", oi->customer);
	printf("status      %s", codec_status_name(oi->status));
	if (oi->hub[0] != '\0') {
		printf("  at hub %s", oi->hub);
	}
	if (oi->field[0] != '\0') {
		printf("  (field %s)", oi->field);
	}
	printf("\n");
	printf("ship to     %.4f, %.4f\n", oi->lat, oi->lon);
	printf("lines      ");
	for (size_t k = 0; k < oi->n_lines; k++) {
		printf(" %s x%u%s", oi->lines[k]->sku, oi->lines[k]->qty,
		    k + 1 < oi->n_lines ? "," : "");
	}
	printf("\n");
	ops_step st[OPS_STEPS];
	ops_order_steps(oi, st);
	for (size_t k = 0; k < OPS_STEPS; k++) {
		ops_step_time(st[k].ms, st[0].ms, buf, sizeof(buf));
		printf("%-11s %-36s %s\n", st[k].name, buf, st[k].ms > 0 ? st[k].what : "");
	}
	if (oi->shipped_ms > 0 && oi->received_ms > 0) {
		dropctl_fmt_duration(oi->shipped_ms - oi->received_ms, buf,
		    sizeof(buf));
		printf("fulfilled   in %s (%" PRId64 " ms)\n", buf,
		    oi->shipped_ms - oi->received_ms);
	} else {
		printf("fulfilled   not yet\n");
	}
	printf("tracking    %s\n", oi->tracking[0] != '\0' ? oi->tracking : "-");
	printf("shorted     %" PRId64 "\n", oi->shorted);

	int ex = DROPCTL_EXIT_OK;
	if (oi->n_candidates > 0) {
		static const char *const head[] = { "HUB", "DISTANCE_KM",
			"VERDICT" };
		dropctl_table t;
		printf("\nrouting\n");
		dropctl_table_init(&t, 3, head, "lrl");
		for (size_t k = 0; k < oi->n_candidates; k++) {
			const Dropnet__RouteCandidate *c = oi->candidates[k];
			dropctl_table_cell(&t, "%s", c->hub);
			dropctl_table_cell(&t, "%.1f", c->distance_km);
			dropctl_table_cell(&t, "%s", c->verdict);
		}
		ex = dropctl_table_print(&t);
		dropctl_table_fini(&t);
	}
	if (ex == DROPCTL_EXIT_OK && oi->n_placements > 0) {
		static const char *const head[] = { "HUB", "SKU", "QTY" };
		dropctl_table t;
		printf("\nplacements\n");
		dropctl_table_init(&t, 3, head, "llr");
		for (size_t k = 0; k < oi->n_placements; k++) {
			const Dropnet__Placement *p = oi->placements[k];
			dropctl_table_cell(&t, "%s", p->hub);
			dropctl_table_cell(&t, "%s", p->sku);
			dropctl_table_cell(&t, "%u", p->qty);
		}
		ex = dropctl_table_print(&t);
		dropctl_table_fini(&t);
	}
	return ex;
}

/* One key's order: printed as text (a blank line between orders), or as
 * one line of JSON: {"order": {...}}, or {"key": K, "error": "not_found"}
 * when there are several keys and this one is unknown. */
static int ops_order_show_one(dropctl_opts *o, const char *key,
    const char *storefront, bool first, bool several)
{
	Dropnet__OpsRequest req = DROPNET__OPS_REQUEST__INIT;
	Dropnet__OpsReply *r = NULL;
	int ex;

	req.kind = DROPNET__OPS_KIND__OPS_ORDER_SHOW;
	req.order_key = (char *)key;
	if (storefront != NULL) {
		req.storefront = (char *)storefront;
	}
	if ((ex = dropctl_ops_call(o, &req, &r)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	if (r->status == DROPNET__STATUS__NOT_FOUND) {
		fprintf(stderr, "dropctl: order show: no order '%s' from "
				"storefront '%s'\n",
		    key, storefront != NULL && storefront[0] != '\0'
			? storefront : "default");
		if (o->json && several) {
			dropctl_json_emit(json_pack("{s:s,s:s}", "key", key,
			    "error", "not_found"));
		}
		ex = DROPCTL_EXIT_FAIL;
	} else if (r->status != DROPNET__STATUS__OK) {
		ex = ops_status_fail("order show", r);
	} else if (r->order == NULL) {
		fprintf(stderr, "dropctl: order show: reply carried no order\n");
		ex = DROPCTL_EXIT_FAIL;
	} else if (o->json) {
		json_t *oj = ops_order_json(r->order);
		ex = dropctl_json_emit(oj != NULL ? json_pack("{s:o}", "order", oj)
						  : NULL);
	} else {
		if (!first) {
			printf("\n");
		}
		ex = ops_order_text(r->order);
	}
	codec_ops_reply_free(r);
	return ex;
}

int dropctl_order_show(dropctl_opts *o, int argc, char **argv)
{
	const char *storefront = NULL;
	int nkeys = 0;

	/* Keys are collected in place at the front of argv (flags are all
	 * read before the first call goes out). */
	for (int i = 1; i < argc; i++) {
		int m;
		if (dropctl_is_help(argv[i])) {
			ops_help_order_show();
			return DROPCTL_EXIT_OK;
		}
		if ((m = dropctl_flag(argc, argv, &i, "--storefront",
			 &storefront)) != 0 ||
		    (m = dropctl_global_flag(o, argc, argv, &i)) != 0) {
			if (m < 0) {
				return DROPCTL_EXIT_USAGE;
			}
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			return dropctl_usage_error("order show",
			    "unknown flag '%s'", argv[i]);
		}
		argv[nkeys++] = argv[i];
	}
	if (nkeys == 0) {
		return dropctl_usage_error("order show", "missing order KEY");
	}
	/* Each key in order, over one connection. An unreachable coordinator
	 * stops the run; an unknown key is reported and the rest are still
	 * shown. */
	int ex = DROPCTL_EXIT_OK;
	for (int k = 0; k < nkeys; k++) {
		int e = ops_order_show_one(o, argv[k], storefront, k == 0, nkeys > 1);
		if (e == DROPCTL_EXIT_FAIL) {
			ex = DROPCTL_EXIT_FAIL;
		} else if (e != DROPCTL_EXIT_OK) {
			return e;
		}
	}
	return ex;
}
