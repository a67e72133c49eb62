/*
 * ops.c - the operations socket (dropctl): hubs, stock, one order's
 * journey, and the audit of the ledger's invariants (read-only); and the
 * hub registry's one write, OPS_HUB_SET (admin: a hub's position and
 * radius, which its own hello cannot change).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Findings listed in one audit reply; more are counted, not listed. */
#define OPS_FINDINGS_MAX 200u

typedef struct {
	Dropnet__AuditFinding items[OPS_FINDINGS_MAX];
	Dropnet__AuditFinding *ptrs[OPS_FINDINGS_MAX];
	char details[OPS_FINDINGS_MAX][200];
	size_t n, total;
} ops_findings;

static void ops_finding(ops_findings *f, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ops_finding(ops_findings *f, const char *check, const char *fmt, ...)
{
	f->total++;
	if (f->n == OPS_FINDINGS_MAX) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->details[f->n], sizeof(f->details[0]), fmt, ap);
	va_end(ap);
	dropnet__audit_finding__init(&f->items[f->n]);
	f->items[f->n].check = (char *)check;
	f->items[f->n].detail = f->details[f->n];
	f->ptrs[f->n] = &f->items[f->n];
	f->n++;
}

static void ops_hubs(coord *c, Dropnet__OpsReply *rep, Dropnet__HubInfo *info,
    Dropnet__HubInfo **ptrs)
{
	uint64_t now = coord_now_mono_ms(c);
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		dropnet__hub_info__init(&info[i]);
		info[i].id = h->id;
		info[i].name = h->name;
		info[i].lat = h->lat;
		info[i].lon = h->lon;
		info[i].radius_km = h->radius_km;
		info[i].healthy = coord_hub_healthy(c, h, now);
		info[i].routable = coord_hub_routable(c, h, now);
		info[i].last_seen_ms = h->last_seen_wall_ms;
		info[i].cmd_seq = h->cmd_seq;
		info[i].cmd_acked = h->cmd_acked;
		info[i].event_applied = h->event_applied;
		info[i].term_url = h->term_url;
		ptrs[i] = &info[i];
	}
	rep->n_hubs = c->nhubs;
	rep->hubs = ptrs;
}

static int ops_stock_cmp(const void *a, const void *b)
{
	const Dropnet__StockRow *x = *(Dropnet__StockRow *const *)a;
	const Dropnet__StockRow *y = *(Dropnet__StockRow *const *)b;
	int d = strcmp(x->sku, y->sku);
	return d != 0 ? d : strcmp(x->hub, y->hub);
}

/* A page's rows, with the reply's other fields, stay this far under one
 * message (status, the cursor: a few hundred bytes). */
#define OPS_PAGE_BYTES (DN_MSG_MAX_BYTES - 4096u)

/* Rows [from, n) of a paged list (limit > 0): how many fit the page, at
 * most limit and OPS_PAGE_BYTES of rows (each: its size plus a tag and a
 * length, at most 4 bytes). size(rows, i) is row i's packed size. */
static size_t ops_page_rows(void *const *rows, size_t from, size_t n, uint32_t limit,
    size_t (*size)(const void *))
{
	size_t bytes = 0, k = from;
	for (; k < n && k - from < limit; k++) {
		size_t b = size(rows[k]) + 4;
		if (bytes + b > OPS_PAGE_BYTES) {
			break;
		}
		bytes += b;
	}
	return k - from;
}

static size_t ops_stock_row_size(const void *row)
{
	return dropnet__stock_row__get_packed_size(row);
}

static size_t ops_hub_info_size(const void *row)
{
	return dropnet__hub_info__get_packed_size(row);
}

/* The first of n sorted rows after the cursor "SKU HUB" (ids hold no
 * space); DN_EINVAL when after is not such a cursor. */
static int ops_stock_after(Dropnet__StockRow **ptrs, size_t n, const char *after,
    size_t *from)
{
	char sku[DN_ID_MAX + 1], hub[DN_ID_MAX + 1];
	const char *sp = strchr(after, ' ');
	if (sp == NULL || sp == after || (size_t)(sp - after) > DN_ID_MAX ||
	    !validate_id(sp + 1)) {
		return DN_EINVAL;
	}
	snprintf(sku, sizeof(sku), "%.*s", (int)(sp - after), after);
	snprintf(hub, sizeof(hub), "%s", sp + 1);
	Dropnet__StockRow key = DROPNET__STOCK_ROW__INIT, *kp = &key;
	key.sku = sku;
	key.hub = hub;
	size_t lo = 0, hi = n;  /* the first row > key */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ops_stock_cmp(&ptrs[mid], &kp) <= 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*from = lo;
	return 0;
}

static void ops_stock(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	Dropnet__StockRow *rows = calloc(c->stock_len + 1, sizeof(*rows));
	Dropnet__StockRow **ptrs = calloc(c->stock_len + 1, sizeof(*ptrs));
	char next[2 * DN_ID_MAX + 2];
	if (rows == NULL || ptrs == NULL) {
		free(rows);
		free(ptrs);
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory";
		coord_ops_send(r, &rep);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *s = &c->stock[i];
		if (s->hub < 0 || (q->hub[0] && strcmp(q->hub, c->hubs[s->hub].id) != 0) ||
		    (q->sku[0] && strcmp(q->sku, s->sku) != 0)) {
			continue;
		}
		dropnet__stock_row__init(&rows[n]);
		rows[n].hub = c->hubs[s->hub].id;
		rows[n].sku = s->sku;
		rows[n].on_hand = s->row.on_hand;
		rows[n].allocated = s->row.allocated;
		rows[n].holdback = s->row.holdback;
		rows[n].sellable = ledger_sellable(&s->row);
		rows[n].shipped = s->shipped;
		rows[n].received = s->received;
		ptrs[n] = &rows[n];
		n++;
	}
	qsort(ptrs, n, sizeof(*ptrs), ops_stock_cmp);
	rep.status = DROPNET__STATUS__OK;
	rep.n_stock = n;
	rep.stock = ptrs;
	size_t from = 0;
	if (q->limit > 0 && q->after[0] && ops_stock_after(ptrs, n, q->after, &from) != 0) {
		log_warn("ops.bad_cursor", "kind=stock after=\"%.140s\"", q->after);
		rep.status = DROPNET__STATUS__INVALID;
		rep.message = "after: not a stock cursor (\"SKU HUB\", a page's next)";
		rep.n_stock = 0;
	} else if (q->limit > 0) {
		rep.n_stock = ops_page_rows((void *const *)ptrs, from, n, q->limit,
		    ops_stock_row_size);
		rep.stock = ptrs + from;
		if (from + rep.n_stock < n && rep.n_stock > 0) {
			const Dropnet__StockRow *last = ptrs[from + rep.n_stock - 1];
			snprintf(next, sizeof(next), "%s %s", last->sku, last->hub);
			rep.next = next;
		}
	}
	coord_ops_send(r, &rep);
	free(rows);
	free(ptrs);
}

/* One order's journey as OPS_ORDER_SHOW shows it; the reply points into
 * it. */
enum { OPS_PLACED_MAX = DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX };
typedef struct {
	Dropnet__OrderInfo o;
	Dropnet__OrderInfo *route;    /* unpacked; owns the candidates */
	char customer[DN_ID_MAX + 1], hub[DN_ID_MAX + 1];
	Dropnet__OrderLine lines[DN_ORDER_LINES_MAX];
	Dropnet__OrderLine *lp[DN_ORDER_LINES_MAX];
	char skus[DN_ORDER_LINES_MAX][DN_ID_MAX + 1];
	Dropnet__Placement pl[OPS_PLACED_MAX];
	Dropnet__Placement *plp[OPS_PLACED_MAX];
	char plhub[OPS_PLACED_MAX][DN_ID_MAX + 1], plsku[OPS_PLACED_MAX][DN_ID_MAX + 1];
	char tracking[DN_CONF_STR_MAX];
	int64_t picked_ms, shipped_ms, shorted;
	int64_t queued_ms, delivered_ms;
	bool all_shipped, all_delivered, any;
} ops_order_view;

static int ops_order_row(void *arg, const coord_store_order_view *r)
{
	ops_order_view *v = arg;
	Dropnet__OrderInfo *o = &v->o;
	o->order_id = (uint64_t)r->id;
	snprintf(v->customer, sizeof(v->customer), "%s", r->customer);
	snprintf(v->hub, sizeof(v->hub), "%s", r->hub);
	o->customer = v->customer;
	o->status = (Dropnet__Status)r->status;
	o->hub = v->hub;
	o->lat = r->lat;
	o->lon = r->lon;
	o->received_ms = r->received_ms;
	o->arrived_ms = r->arrived_ms;
	codec_order_info_unpack(r->route, r->route_len, &v->route);
	if (v->route != NULL) {
		o->n_candidates = v->route->n_candidates;
		o->candidates = v->route->candidates;
	}
	return 0;
}

static int ops_order_line(void *arg, const coord_store_line_row *r)
{
	ops_order_view *v = arg;
	size_t i = v->o.n_lines++;
	dropnet__order_line__init(&v->lines[i]);
	snprintf(v->skus[i], sizeof(v->skus[i]), "%s", r->sku);
	v->lines[i].sku = v->skus[i];
	v->lines[i].qty = (uint32_t)r->qty;
	v->lp[i] = &v->lines[i];
	return 0;
}

/* Placements: where each line went, and the hub's progress. */
static int ops_order_placed(void *arg, const coord_store_placed_row *r)
{
	ops_order_view *v = arg;
	size_t i = v->o.n_placements++;
	dropnet__placement__init(&v->pl[i]);
	snprintf(v->plhub[i], sizeof(v->plhub[i]), "%s", r->hub);
	snprintf(v->plsku[i], sizeof(v->plsku[i]), "%s", r->sku);
	v->pl[i].hub = v->plhub[i];
	v->pl[i].sku = v->plsku[i];
	v->pl[i].qty = (uint32_t)r->qty;
	v->plp[i] = &v->pl[i];
	v->shorted += r->shorted;
	if (r->picked_ms > v->picked_ms) {
		v->picked_ms = r->picked_ms;
	}
	if (strcmp(r->state, "shorted") != 0 && strcmp(r->state, "refused") != 0) {
		v->any = true;
		/* Delivered and queued: when the last live placement was. */
		if (r->delivered_ms == 0) {
			v->all_delivered = false;
		} else if (r->delivered_ms > v->delivered_ms) {
			v->delivered_ms = r->delivered_ms;
		}
		if (r->queued_ms > v->queued_ms) {
			v->queued_ms = r->queued_ms;
		}
		if (r->shipped_ms == 0) {
			v->all_shipped = false;
		} else if (r->shipped_ms > v->shipped_ms) {
			v->shipped_ms = r->shipped_ms;
		}
	}
	if (r->tracking[0]) {
		snprintf(v->tracking, sizeof(v->tracking), "%s", r->tracking);
	}
	return 0;
}

/* Reads the order, its lines and its placements into v. 0, DN_ENOENT or
 * DN_EIO. */
static int ops_order_load(coord *c, const char *storefront, const char *order_key,
    ops_order_view *v)
{
	dropnet__order_info__init(&v->o);
	v->o.storefront = (char *)storefront;
	v->o.order_key = (char *)order_key;
	v->o.tracking = "";
	v->o.field = "";
	v->o.lines = v->lp;
	v->o.placements = v->plp;
	v->all_shipped = true;
	v->all_delivered = true;
	int rv = coord_store_order_by_key(c->store, storefront, order_key, ops_order_row, v);
	if (rv == 0) {
		rv = coord_store_order_lines_list(c->store, (int64_t)v->o.order_id,
		    DN_ORDER_LINES_MAX, ops_order_line, v);
	}
	if (rv == 0) {
		rv = coord_store_order_placements_list(c->store, (int64_t)v->o.order_id,
		    OPS_PLACED_MAX, ops_order_placed, v);
	}
	v->o.picked_ms = v->picked_ms;
	/* Shipped means every live placement shipped. */
	v->o.shipped_ms = v->any && v->all_shipped ? v->shipped_ms : 0;
	v->o.delivered_ms = v->any && v->all_delivered ? v->delivered_ms : 0;
	v->o.queued_ms = v->o.delivered_ms != 0 ? v->queued_ms : 0;
	v->o.tracking = v->tracking;
	v->o.shorted = v->shorted;
	return rv;
}

static void ops_order_show(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	const char *storefront = q->storefront[0] ? q->storefront : "default";
	ops_order_view *v = calloc(1, sizeof(*v));
	int rv = v != NULL ? ops_order_load(c, storefront, q->order_key, v) : DN_ENOMEM;
	if (rv == 0) {
		rep.status = DROPNET__STATUS__OK;
		rep.order = &v->o;
	} else if (rv == DN_ENOENT) {
		rep.status = DROPNET__STATUS__NOT_FOUND;
		rep.message = "no order with that key";
	} else {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory or storage";
	}
	coord_ops_send(r, &rep);
	if (v != NULL) {
		codec_order_info_free(v->route);
	}
	free(v);
}

static int ops_finding_add(void *arg, const char *check, const char *detail)
{
	ops_finding(arg, check, "%s", detail);
	return 0;
}

/* 1. No negative quantity, no negative sellable (in memory). */
static void ops_audit_rows(coord *c, ops_findings *f)
{
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *s = &c->stock[i];
		if (s->hub >= 0 && !ledger_row_check(&s->row)) {
			ops_finding(f, "sellable_negative",
			    "hub=%s sku=%s on_hand=%lld allocated=%lld holdback=%lld",
			    c->hubs[s->hub].id, s->sku, (long long)s->row.on_hand,
			    (long long)s->row.allocated, (long long)s->row.holdback);
		}
	}
}

typedef struct {
	coord *c;
	ops_findings *f;
	size_t rows;
} ops_cache_check;

static int ops_audit_cache_row(void *arg, const coord_store_stock_row *r)
{
	ops_cache_check *k = arg;
	k->rows++;
	int h = coord_hub_find(k->c, r->hub);
	coord_stock *s = h >= 0 ? coord_stock_get(k->c, h, r->sku, false) : NULL;
	if (s == NULL || s->row.on_hand != r->on_hand || s->row.allocated != r->allocated ||
	    s->row.holdback != r->holdback) {
		ops_finding(k->f, "ledger_cache_mismatch", "hub=%s sku=%s", r->hub, r->sku);
	}
	return 0;
}

/* 2. The in-memory ledger equals the durable one. */
static void ops_audit_cache(coord *c, ops_findings *f)
{
	ops_cache_check k = {c, f, 0};
	if (coord_store_stock_list(c->store, ops_audit_cache_row, &k) != 0) {
		log_error("audit.query_failed", "check=%s", "ledger_cache_mismatch");
		ops_finding(f, "audit_error", "check %s could not run", "ledger_cache_mismatch");
		return;
	}
	if (k.rows != c->stock_len) {
		ops_finding(f, "ledger_cache_mismatch", "rows=%zu in memory=%zu", k.rows,
		    c->stock_len);
	}
}

/* Both books agree for hub h: its last consistent snapshot equals the
 * coordinator's on_hand, both ways. */
static void ops_audit_hub_books(coord *c, size_t h, ops_findings *f)
{
	coord_hub *hub = &c->hubs[h];
	for (size_t k = 0; k < hub->nreport; k++) {
		coord_stock *s = coord_stock_get(c, (int)h, hub->report[k].sku, false);
		int64_t ours = s != NULL ? s->row.on_hand : 0;
		if (ours != hub->report[k].on_hand) {
			ops_finding(f, "hub_books_differ", "hub=%s sku=%s hub_on_hand=%lld"
			    " coordinator_on_hand=%lld", hub->id, hub->report[k].sku,
			    (long long)hub->report[k].on_hand, (long long)ours);
		}
	}
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *s = &c->stock[i];
		if (s->hub != (int)h || s->row.on_hand == 0) {
			continue;
		}
		bool found = false;
		for (size_t k = 0; k < hub->nreport && !found; k++) {
			found = strcmp(hub->report[k].sku, s->sku) == 0;
		}
		if (!found) {
			ops_finding(f, "hub_books_differ", "hub=%s sku=%s hub_on_hand=0"
			    " coordinator_on_hand=%lld", hub->id, s->sku,
			    (long long)s->row.on_hand);
		}
	}
}

/* An audit whose durable checks run later (coord.h "reads off the loop"). */
struct coord_audit_job {
	ops_findings f;
	uint32_t checks;              /* run so far */
};

static void ops_audit_reply(ops_findings *f, uint32_t checks, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = f->total == 0 ? DROPNET__STATUS__OK : DROPNET__STATUS__CONFLICT;
	rep.checks_run = checks;
	rep.n_findings = f->n;
	rep.findings = f->ptrs;
	char msg[96];
	snprintf(msg, sizeof(msg), "%zu finding(s)", f->total);
	rep.message = msg;
	if (f->total > 0) {
		log_warn("audit.findings", "count=%zu first=%s", f->total, f->items[0].check);
	}
	/* On every replica of a group too (the audit is a log entry): each
	 * says what its own books showed. */
	log_info("audit.done", "checks=%u findings=%zu", checks, f->total);
	coord_ops_send(r, &rep);
}

/* 3-8: the durable books (store_ops.c), in one read transaction. */
static uint32_t ops_audit_durable(struct store *s, ops_findings *f)
{
	uint32_t sql_checks = 0;
	if (s == NULL || coord_store_read_begin(s) != 0) {
		ops_finding(f, "audit_error", "the durable checks could not open the store");
		return 0;
	}
	coord_store_audit_ledger(s, ops_finding_add, f, &sql_checks);
	coord_store_read_end(s);
	return sql_checks;
}

/* The checks: 1-2 and 9 from memory, 3-8 from the file - here, or off the
 * loop when reads are deferred. */
static void ops_audit(coord *c, mreq *r)
{
	coord_read_job *job = NULL;
	ops_findings *f;
	if (c->reads_deferred) {
		job = calloc(1, sizeof(*job));
		if (job != NULL && (job->audit = malloc(sizeof(*job->audit))) == NULL) {
			free(job);
			job = NULL;
		}
		f = job != NULL ? &job->audit->f : NULL;
	} else {
		f = coord_scratch(c, COORD_SCRATCH_AUDIT, sizeof(*f));
	}
	if (f == NULL) {
		Dropnet__OpsReply err = DROPNET__OPS_REPLY__INIT;
		err.status = DROPNET__STATUS__UNAVAILABLE;
		err.message = "out of memory";
		coord_ops_send(r, &err);
		return;
	}
	memset(f, 0, sizeof(*f));
	uint32_t checks = 3;
	ops_audit_rows(c, f);
	ops_audit_cache(c, f);
	/* 9. Both books agree, for every hub with a consistent snapshot. */
	for (size_t h = 0; h < c->nhubs; h++) {
		if (c->hubs[h].report_valid) {
			ops_audit_hub_books(c, h, f);
		}
	}
	if (job != NULL) {
		job->audit->checks = checks;
		r->deferred = job;
		return;
	}
	/* The machine's own connection: no write is open between inputs. */
	checks += ops_audit_durable(c->store, f);
	ops_audit_reply(f, checks, r);
}

void coord_set_deferred_reads(coord *c, bool on)
{
	c->reads_deferred = on;
}

void coord_read_job_run(coord_read_job *j, struct store *reader)
{
	if (j->kpi != NULL) {
		coord_kpi_job_run(j->kpi, reader);
	} else {
		j->audit->checks += ops_audit_durable(reader, &j->audit->f);
	}
}

void coord_read_job_busy(coord_read_job *j)
{
	if (j->kpi != NULL) {
		coord_kpi_job_busy(j->kpi);
	} else {
		ops_finding(&j->audit->f, "audit_error", "busy: other journal reads (audits,"
		    " KPIs) already wait; the durable checks were not run, try again");
	}
}

void coord_read_job_reply(coord_read_job *j, mreq *r)
{
	if (j->kpi != NULL) {
		coord_kpi_job_reply(j->kpi, r);
	} else {
		ops_audit_reply(&j->audit->f, j->audit->checks, r);
		free(j->audit);
	}
	free(j);
}

void coord_read_job_free(coord_read_job *j)
{
	if (j != NULL) {
		coord_kpi_job_free(j->kpi);
		free(j->audit);
		free(j);
	}
}

/* OPS_HUBS: every hub, its health and stream positions, in registry order
 * (a hub is never removed, so a page's cursor - its last hub's id - stays
 * valid); the rows in the machine's scratch (COORD_SCRATCH_OPS_HUBS):
 * hubs_max of each. q's after and limit page it (limit 0: every hub). */
static void ops_hubs_reply(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	Dropnet__HubInfo *info = coord_scratch(c, COORD_SCRATCH_OPS_HUBS,
	    c->hubs_max * (sizeof(Dropnet__HubInfo) + sizeof(Dropnet__HubInfo *)));
	int after = q->limit > 0 && q->after[0] ? coord_hub_find(c, q->after) : -1;
	if (info == NULL) {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "out of memory";
	} else if (q->limit > 0 && q->after[0] && after < 0) {
		log_warn("ops.bad_cursor", "kind=hubs after=\"%.70s\"", q->after);
		rep.status = DROPNET__STATUS__INVALID;
		rep.message = "after: no such hub (a page's next is a hub id)";
	} else {
		rep.status = DROPNET__STATUS__OK;
		ops_hubs(c, &rep, info, (Dropnet__HubInfo **)(void *)(info + c->hubs_max));
	}
	if (rep.status == DROPNET__STATUS__OK && q->limit > 0) {
		size_t from = (size_t)(after + 1), n = rep.n_hubs;
		rep.n_hubs = ops_page_rows((void *const *)rep.hubs, from, n, q->limit,
		    ops_hub_info_size);
		rep.hubs += from;
		if (from + rep.n_hubs < n && rep.n_hubs > 0) {
			rep.next = rep.hubs[rep.n_hubs - 1]->id;
		}
	}
	coord_ops_send(r, &rep);
}

/* OPS_HUB_SET as coord_txn_run applies it. */
static int ops_hub_set_apply(coord *c, void *arg)
{
	const Dropnet__OpsRequest *q = arg;
	int i = coord_hub_find(c, q->hub);
	coord_hub *h = &c->hubs[i];
	coord_undo_hub(c, i); /* a failed transaction puts it back */
	h->lat = q->lat;
	h->lon = q->lon;
	h->radius_km = q->radius_km;
	h->hello_differs = false; /* its next hello is compared anew */
	store_stream_hub row = {h->id, h->name, h->term_url, h->lat, h->lon, h->radius_km};
	return store_stream_hub_upsert(c->store, &row) != 0 ? DN_EIO : 0;
}

/* OPS_HUB_SET: moves a registered hub or changes its radius (routing uses
 * the new values from the next order on); answers with every hub. */
static void ops_hub_set(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	char field[64];
	const char *why = "";

	if (validate_hub(q->hub, q->lat, q->lon, q->radius_km, field, sizeof(field),
	    &why) != 0) {
		log_warn("ops.hub_set_invalid", "hub=\"%.64s\" field=%s why=\"%s\"",
		    q->hub != NULL ? q->hub : "", field, why);
		char msg[160];
		snprintf(msg, sizeof(msg), "%s: %s", field, why);
		rep.status = DROPNET__STATUS__INVALID;
		rep.message = msg;
		coord_ops_send(r, &rep);
		return;
	}
	int i = coord_hub_find(c, q->hub);
	if (i < 0) {
		rep.status = DROPNET__STATUS__NOT_FOUND;
		rep.message = "no such hub (a hub registers with its first sync)";
		coord_ops_send(r, &rep);
		return;
	}
	double lat = c->hubs[i].lat, lon = c->hubs[i].lon, radius = c->hubs[i].radius_km;
	if (coord_txn_run(c, "hub_set", ops_hub_set_apply, (void *)q) != 0) {
		rep.status = DROPNET__STATUS__UNAVAILABLE;
		rep.message = "storage failed; nothing changed";
		coord_ops_send(r, &rep);
		return;
	}
	log_info("hub.moved", "hub=%s lat=%.4f lon=%.4f radius_km=%.1f "
	    "was_lat=%.4f was_lon=%.4f was_radius_km=%.1f", q->hub, q->lat, q->lon,
	    q->radius_km, lat, lon, radius);
	/* The move is done: a registry longer than one message is answered
	 * with its first page and a cursor (an old client, limit 0, too),
	 * never refused after the write. */
	Dropnet__OpsRequest page = *q;
	if (page.limit == 0) {
		page.limit = UINT32_MAX;
		page.after = "";
	}
	ops_hubs_reply(c, &page, r);
}

void coord_ops_batch(coord *c, mreq **reqs, size_t n)
{
	c->metrics.ops_requests += n;
	for (size_t i = 0; i < n; i++) {
		Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
		coord_ident id;
		Dropnet__Status ast = DROPNET__STATUS__STATUS_UNSPECIFIED;
		const char *why = "";
		if (coord_ident_open(c, AUTH_SOCKET_OPS, reqs[i], &id, &ast, &why) != 0) {
			rep.status = ast;
			rep.message = (char *)why;
			coord_ops_send(reqs[i], &rep);
			continue;
		}
		size_t len = id.len;
		Dropnet__OpsRequest *q = NULL;
		int urv = codec_ops_request_unpack(id.body, len, &q);
		bool write = urv == 0 && auth_ops_role((int)q->kind) >= AUTH_ROLE_OPERATOR;
		uint64_t replays = c->refusals.replayed;
		if (urv == 0 && coord_ident_ops(c, &id, (int)q->kind, &ast, &why) != 0) {
			rep.status = ast;
			rep.message = (char *)why;
			uint8_t *first = NULL;
			if (write && c->refusals.replayed != replays) {
				coord_ops_first_answer(c, &id, &first, &rep.first_answer.len);
				rep.first_answer.data = first;
			}
			coord_ops_send(reqs[i], &rep);
			free(first);
		} else if (urv == 0 && !coord_ready(c)) {
			rep.status = DROPNET__STATUS__UNAVAILABLE;
			rep.message = "storage failed; the coordinator is reloading its ledger";
			coord_ops_send(reqs[i], &rep);
		} else if (urv == DN_EPROTO) {
			log_warn("ops.malformed", "bytes=%zu", len);
			rep.status = DROPNET__STATUS__MALFORMED;
			rep.message = "bytes are not an OpsRequest";
			coord_ops_send(reqs[i], &rep);
		} else if (urv == DN_ERANGE) {
			rep.status = DROPNET__STATUS__UNSUPPORTED_VERSION;
			rep.message = "this coordinator speaks version 1";
			coord_ops_send(reqs[i], &rep);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_HUBS) {
			ops_hubs_reply(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_STOCK) {
			ops_stock(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_ORDER_SHOW) {
			ops_order_show(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_AUDIT) {
			ops_audit(c, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_HUB_SET) {
			ops_hub_set(c, q, reqs[i]);
		} else if (q->kind >= DROPNET__OPS_KIND__OPS_DROP_CREATE &&
		    q->kind <= DROPNET__OPS_KIND__OPS_CLOCK) {
			coord_ops_drops(c, q, reqs[i]);
		} else if (q->kind >= DROPNET__OPS_KIND__OPS_DEMAND &&
		    q->kind <= DROPNET__OPS_KIND__OPS_TRANSFERS) {
			coord_ops_rebalance(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_ACTIVATION_ADD ||
		    q->kind == DROPNET__OPS_KIND__OPS_ACTIVATION_LIST) {
			coord_ops_activations(c, q, reqs[i]);
		} else if (q->kind >= DROPNET__OPS_KIND__OPS_PRICE_LIVE &&
		    q->kind <= DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP) {
			coord_ops_prices(c, q, reqs[i]);
		} else {
			rep.status = DROPNET__STATUS__INVALID;
			rep.message = "unknown ops kind";
			coord_ops_send(reqs[i], &rep);
		}
		if (write && ast == DROPNET__STATUS__STATUS_UNSPECIFIED && coord_ready(c)) {
			coord_ops_keep(c, &id, reqs[i]);  /* it passed coord_ident_ops */
		}
		codec_ops_request_free(q);
		coord_ident_close(&id);
	}
	/* Live prices, drops opened or closed, experiments, hubs moved, the
	 * test clock: the feed looks at everything. */
	coord_feed_scan(c, true);
}
