/*
 * ops.c - the operations socket (dropctl): hubs, stock, one order's
 * journey, and the audit of the ledger's invariants. Read-only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/db.h"
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

void coord_ops_send(mreq *r, Dropnet__OpsReply *rep)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	rep->version = DN_PROTO_VERSION;
	if (codec_ops_reply_pack(rep, &buf, &len) != 0) {
		mreq_reply(r, "", 0);
		return;
	}
	mreq_reply(r, buf, len);
	free(buf);
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

static void ops_stock(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	Dropnet__StockRow *rows = calloc(c->stock_len + 1, sizeof(*rows));
	Dropnet__StockRow **ptrs = calloc(c->stock_len + 1, sizeof(*ptrs));
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
	coord_ops_send(r, &rep);
	free(rows);
	free(ptrs);
}

static void ops_order_show(coord *c, const Dropnet__OpsRequest *q, mreq *r)
{
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	const char *storefront = q->storefront[0] ? q->storefront : "default";
	sqlite3_stmt *st = NULL;
	sqlite3_prepare_v2(c->db, "SELECT id, customer, status, hub, lat, lon,"
	    " received_ms, ack, route FROM orders WHERE storefront=?1 AND order_key=?2",
	    -1, &st, NULL);
	db_bind_text(st, 1, storefront);
	db_bind_text(st, 2, q->order_key);
	if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		rep.status = DROPNET__STATUS__NOT_FOUND;
		rep.message = "no order with that key";
		coord_ops_send(r, &rep);
		return;
	}
	Dropnet__OrderInfo o = DROPNET__ORDER_INFO__INIT;
	o.order_id = (uint64_t)sqlite3_column_int64(st, 0);
	o.storefront = (char *)storefront;
	o.order_key = q->order_key;
	char customer[DN_ID_MAX + 1], hub[DN_ID_MAX + 1];
	snprintf(customer, sizeof(customer), "%s", db_col_text(st, 1));
	snprintf(hub, sizeof(hub), "%s", db_col_text(st, 3));
	o.customer = customer;
	o.status = (Dropnet__Status)sqlite3_column_int(st, 2);
	o.hub = hub;
	o.lat = sqlite3_column_double(st, 4);
	o.lon = sqlite3_column_double(st, 5);
	o.received_ms = sqlite3_column_int64(st, 6);
	o.tracking = "";
	o.field = "";
	Dropnet__OrderInfo *route = NULL;
	codec_order_info_unpack(sqlite3_column_blob(st, 8),
	    (size_t)sqlite3_column_bytes(st, 8), &route);
	if (route != NULL) {
		o.n_candidates = route->n_candidates;
		o.candidates = route->candidates;
	}
	sqlite3_finalize(st);
	/* Lines. */
	Dropnet__OrderLine lines[DN_ORDER_LINES_MAX];
	Dropnet__OrderLine *lp[DN_ORDER_LINES_MAX];
	char skus[DN_ORDER_LINES_MAX][DN_ID_MAX + 1];
	sqlite3_prepare_v2(c->db, "SELECT sku, qty, backordered FROM order_lines"
	    " WHERE order_id=?1", -1, &st, NULL);
	db_bind_i64(st, 1, (int64_t)o.order_id);
	while (o.n_lines < DN_ORDER_LINES_MAX && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = o.n_lines++;
		dropnet__order_line__init(&lines[i]);
		snprintf(skus[i], sizeof(skus[i]), "%s", db_col_text(st, 0));
		lines[i].sku = skus[i];
		lines[i].qty = (uint32_t)sqlite3_column_int64(st, 1);
		lp[i] = &lines[i];
	}
	o.lines = lp;
	sqlite3_finalize(st);
	/* Placements: where each line went, and the hub's progress. */
	enum { PL_MAX = DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX };
	Dropnet__Placement pl[PL_MAX];
	Dropnet__Placement *plp[PL_MAX];
	char plhub[PL_MAX][DN_ID_MAX + 1], plsku[PL_MAX][DN_ID_MAX + 1];
	static char tracking[DN_CONF_STR_MAX];
	tracking[0] = '\0';
	int64_t picked_ms = 0, shipped_ms = 0, shorted = 0;
	bool all_shipped = true, any = false;
	sqlite3_prepare_v2(c->db, "SELECT p.hub, l.sku, l.qty, l.shipped, l.shorted,"
	    " p.picked_ms, p.shipped_ms, p.tracking, p.state FROM placements p JOIN"
	    " placement_lines l ON l.placement_id = p.id WHERE p.order_id=?1"
	    " ORDER BY p.id", -1, &st, NULL);
	db_bind_i64(st, 1, (int64_t)o.order_id);
	while (o.n_placements < PL_MAX && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = o.n_placements++;
		dropnet__placement__init(&pl[i]);
		snprintf(plhub[i], sizeof(plhub[i]), "%s", db_col_text(st, 0));
		snprintf(plsku[i], sizeof(plsku[i]), "%s", db_col_text(st, 1));
		pl[i].hub = plhub[i];
		pl[i].sku = plsku[i];
		pl[i].qty = (uint32_t)sqlite3_column_int64(st, 2);
		plp[i] = &pl[i];
		shorted += sqlite3_column_int64(st, 4);
		int64_t pk = sqlite3_column_int64(st, 5), sh = sqlite3_column_int64(st, 6);
		const char *state = db_col_text(st, 8);
		if (pk > picked_ms) {
			picked_ms = pk;
		}
		if (strcmp(state, "shorted") != 0 && strcmp(state, "refused") != 0) {
			any = true;
			if (sh == 0) {
				all_shipped = false;
			} else if (sh > shipped_ms) {
				shipped_ms = sh;
			}
		}
		if (db_col_text(st, 7)[0]) {
			snprintf(tracking, sizeof(tracking), "%s", db_col_text(st, 7));
		}
	}
	sqlite3_finalize(st);
	o.placements = plp;
	o.picked_ms = picked_ms;
	/* Shipped means every live placement shipped. */
	o.shipped_ms = any && all_shipped ? shipped_ms : 0;
	o.tracking = tracking;
	o.shorted = shorted;
	rep.status = DROPNET__STATUS__OK;
	rep.order = &o;
	coord_ops_send(r, &rep);
	codec_order_info_free(route);
}

/* Runs one SQL check whose rows are violations; column 0 is the detail. */
static int ops_sql_check(coord *c, ops_findings *f, const char *check, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("audit.query_failed", "check=%s err=\"%s\"", check, sqlite3_errmsg(c->db));
		ops_finding(f, "audit_error", "check %s could not run", check);
		return DN_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		ops_finding(f, check, "%s", db_col_text(st, 0));
	}
	sqlite3_finalize(st);
	return 0;
}

static void ops_audit(coord *c, mreq *r)
{
	static ops_findings f;
	memset(&f, 0, sizeof(f));
	uint32_t checks = 0;
	/* 1. No negative quantity, no negative sellable (in memory). */
	checks++;
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *s = &c->stock[i];
		if (s->hub >= 0 && !ledger_row_check(&s->row)) {
			ops_finding(&f, "sellable_negative",
			    "hub=%s sku=%s on_hand=%lld allocated=%lld holdback=%lld",
			    c->hubs[s->hub].id, s->sku, (long long)s->row.on_hand,
			    (long long)s->row.allocated, (long long)s->row.holdback);
		}
	}
	/* 2. The in-memory ledger equals the durable one. */
	checks++;
	sqlite3_stmt *st = NULL;
	sqlite3_prepare_v2(c->db, "SELECT hub, sku, on_hand, allocated, holdback FROM stock",
	    -1, &st, NULL);
	size_t rows = 0;
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		rows++;
		int h = coord_hub_find(c, db_col_text(st, 0));
		coord_stock *s = h >= 0 ? coord_stock_get(c, h, db_col_text(st, 1), false) : NULL;
		if (s == NULL || s->row.on_hand != sqlite3_column_int64(st, 2) ||
		    s->row.allocated != sqlite3_column_int64(st, 3) ||
		    s->row.holdback != sqlite3_column_int64(st, 4)) {
			ops_finding(&f, "ledger_cache_mismatch", "hub=%s sku=%s",
			    db_col_text(st, 0), db_col_text(st, 1));
		}
	}
	sqlite3_finalize(st);
	if (rows != c->stock_len) {
		ops_finding(&f, "ledger_cache_mismatch", "rows=%zu in memory=%zu", rows, c->stock_len);
	}
	/* 3. Allocated equals what open placements still need, in both
	 * directions: every (hub, sku) of a stock row or of a placement line,
	 * so a placement whose hub has no stock row at all is checked too. */
	checks++;
	ops_sql_check(c, &f, "allocation_mismatch",
	    "SELECT 'hub=' || k.hub || ' sku=' || k.sku || ' allocated='"
	    " || COALESCE(s.allocated, 0) || ' open=' || COALESCE(o.open, 0)"
	    " || CASE WHEN s.hub IS NULL THEN ' (no stock row)' ELSE '' END"
	    " FROM (SELECT hub, sku FROM stock UNION SELECT p.hub, l.sku FROM placements p"
	    "  JOIN placement_lines l ON l.placement_id = p.id) k"
	    " LEFT JOIN stock s ON s.hub = k.hub AND s.sku = k.sku LEFT JOIN"
	    " (SELECT p.hub, l.sku, SUM(l.qty - l.shipped - l.shorted) AS open"
	    "  FROM placements p JOIN placement_lines l ON l.placement_id = p.id"
	    "  WHERE p.state NOT IN ('lapsed', 'refused')"
	    "  GROUP BY p.hub, l.sku) o ON o.hub = k.hub AND o.sku = k.sku"
	    " WHERE COALESCE(s.allocated, 0) <> COALESCE(o.open, 0)");
	/* 4. Every accepted order line is allocated exactly once: placed units
	 * minus shorted ones plus backordered ones equal what was ordered. */
	checks++;
	ops_sql_check(c, &f, "order_allocation",
	    "SELECT 'order=' || o.id || ' key=' || o.order_key || ' sku=' || ol.sku"
	    " || ' ordered=' || ol.qty || ' placed=' || COALESCE(p.placed, 0)"
	    " FROM orders o JOIN order_lines ol ON ol.order_id = o.id LEFT JOIN"
	    " (SELECT p.order_id, l.sku, SUM(l.qty - l.shorted) AS placed FROM placements p"
	    "  JOIN placement_lines l ON l.placement_id = p.id"
	    "  WHERE p.state NOT IN ('lapsed', 'refused')"
	    "  GROUP BY p.order_id, l.sku) p"
	    " ON p.order_id = o.id AND p.sku = ol.sku"
	    " WHERE (o.status IN (1, 16) AND COALESCE(p.placed, 0) + ol.backordered <> ol.qty)"
	    " OR (o.status NOT IN (1, 16) AND COALESCE(p.placed, 0) <> 0)");
	/* 5. Stock is conserved: on hand = received - shipped - lost + adjusted,
	 * and shipped matches the shipped placement lines. */
	checks++;
	ops_sql_check(c, &f, "stock_not_conserved",
	    "SELECT 'hub=' || hub || ' sku=' || sku || ' on_hand=' || on_hand ||"
	    " ' expected=' || (received + returned + transfer_in - shipped - transfer_out"
	    " - lost + adjusted) FROM stock WHERE on_hand <> received + returned"
	    " + transfer_in - shipped - transfer_out - lost + adjusted");
	/* Units in transit equal what left on transfers and has not arrived. */
	checks++;
	ops_sql_check(c, &f, "transit_mismatch",
	    "SELECT 'sku=' || s.sku || ' out-in=' || (s.o - s.i) || ' in_transit='"
	    " || COALESCE(t.n, 0) FROM (SELECT sku, SUM(transfer_out) AS o,"
	    " SUM(transfer_in) AS i FROM stock GROUP BY sku) s LEFT JOIN"
	    " (SELECT sku, SUM(CASE WHEN state IN ('picking', 'cancelled') THEN 0 ELSE qty END"
	    "  - received)"
	    "  AS n FROM transfers GROUP BY sku) t ON t.sku = s.sku"
	    " WHERE s.o - s.i <> COALESCE(t.n, 0)");
	/* Holdback equals the sum of its logged holds and releases. */
	checks++;
	ops_sql_check(c, &f, "holdback_unexplained",
	    "SELECT 'hub=' || s.hub || ' sku=' || s.sku || ' holdback=' || s.holdback ||"
	    " ' logged=' || COALESCE(x.n, 0) FROM stock s LEFT JOIN"
	    " (SELECT hub, sku, SUM(qty) AS n FROM holdback_log GROUP BY hub, sku) x"
	    " ON x.hub = s.hub AND x.sku = s.sku WHERE s.holdback <> COALESCE(x.n, 0)");
	checks++;
	ops_sql_check(c, &f, "shipped_mismatch",
	    "SELECT 'hub=' || s.hub || ' sku=' || s.sku || ' shipped=' || s.shipped ||"
	    " ' placements=' || COALESCE(x.n, 0) FROM stock s LEFT JOIN"
	    " (SELECT p.hub, l.sku, SUM(l.shipped) AS n FROM placements p"
	    "  JOIN placement_lines l ON l.placement_id = p.id WHERE p.kind = 'order'"
	    "  GROUP BY p.hub, l.sku) x"
	    " ON x.hub = s.hub AND x.sku = s.sku WHERE s.shipped <> COALESCE(x.n, 0)");
	/* 6. Both books agree: each hub's last consistent snapshot equals the
	 * coordinator's on_hand for that hub. */
	checks++;
	for (size_t h = 0; h < c->nhubs; h++) {
		coord_hub *hub = &c->hubs[h];
		if (!hub->report_valid) {
			continue;
		}
		size_t matched = 0;
		for (size_t k = 0; k < hub->nreport; k++) {
			coord_stock *s = coord_stock_get(c, (int)h, hub->report[k].sku, false);
			int64_t ours = s != NULL ? s->row.on_hand : 0;
			if (s != NULL) {
				matched++;
			}
			if (ours != hub->report[k].on_hand) {
				ops_finding(&f, "hub_books_differ", "hub=%s sku=%s hub_on_hand=%lld"
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
				ops_finding(&f, "hub_books_differ", "hub=%s sku=%s hub_on_hand=0"
				    " coordinator_on_hand=%lld", hub->id, s->sku,
				    (long long)s->row.on_hand);
			}
		}
		(void)matched;
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.status = f.total == 0 ? DROPNET__STATUS__OK : DROPNET__STATUS__CONFLICT;
	rep.checks_run = checks;
	rep.n_findings = f.n;
	rep.findings = f.ptrs;
	char msg[96];
	snprintf(msg, sizeof(msg), "%zu finding(s)", f.total);
	rep.message = msg;
	if (f.total > 0) {
		log_warn("audit.findings", "count=%zu first=%s", f.total, f.items[0].check);
	}
	coord_ops_send(r, &rep);
}

void coord_ops_batch(coord *c, mreq **reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		const uint8_t *body = mreq_body(reqs[i], &len);
		Dropnet__OpsRequest *q = NULL;
		int urv = codec_ops_request_unpack(body, len, &q);
		Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
		if (urv == 0 && !coord_ready(c)) {
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
			static Dropnet__HubInfo info[DN_HUBS_MAX];
			static Dropnet__HubInfo *ptrs[DN_HUBS_MAX];
			rep.status = DROPNET__STATUS__OK;
			ops_hubs(c, &rep, info, ptrs);
			coord_ops_send(reqs[i], &rep);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_STOCK) {
			ops_stock(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_ORDER_SHOW) {
			ops_order_show(c, q, reqs[i]);
		} else if (q->kind == DROPNET__OPS_KIND__OPS_AUDIT) {
			ops_audit(c, reqs[i]);
		} else if (q->kind >= DROPNET__OPS_KIND__OPS_DROP_CREATE &&
		    q->kind <= DROPNET__OPS_KIND__OPS_CLOCK) {
			coord_ops_drops(c, q, reqs[i]);
		} else if (q->kind >= DROPNET__OPS_KIND__OPS_DEMAND &&
		    q->kind <= DROPNET__OPS_KIND__OPS_TRANSFERS) {
			coord_ops_rebalance(c, q, reqs[i]);
		} else {
			rep.status = DROPNET__STATUS__INVALID;
			rep.message = "unknown ops kind";
			coord_ops_send(reqs[i], &rep);
		}
		codec_ops_request_free(q);
	}
}
