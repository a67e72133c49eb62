/*
 * ingest.c - storefront orders: validate, deduplicate, route, allocate,
 * journal and queue the hub command, all in one transaction per batch
 * (group commit); acks leave only after that commit is durable.
 *
 * A batch is every request the bridge had queued when the loop woke. If the
 * commit fails, its outcome is unknown (a failed fsync may still have
 * persisted it): every journalled request in the batch is answered
 * UNAVAILABLE, the in-memory ledger is reloaded from the file, and the
 * storefront's retry with the same key finds out what really happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Reply prepared for one request of the batch. */
typedef struct {
	uint8_t *buf;
	size_t len;
	bool journalled;   /* depends on the batch commit */
	bool accepted;
} ingest_out;

static int stock_save(coord *c, const coord_stock *s)
{
	sqlite3_stmt *st = c->store->stock_upsert;
	db_bind_text(st, 1, c->hubs[s->hub].id);
	db_bind_text(st, 2, s->sku);
	db_bind_i64(st, 3, s->row.on_hand);
	db_bind_i64(st, 4, s->row.allocated);
	db_bind_i64(st, 5, s->row.holdback);
	db_bind_i64(st, 6, s->received);
	db_bind_i64(st, 7, s->shipped);
	db_bind_i64(st, 8, s->lost);
	db_bind_i64(st, 9, s->adjusted);
	return store_step_done(st);
}

int coord_place(coord *c, int64_t order_id, const char *order_key,
    const char *customer, int hub, const route_line *lines, const uint32_t *qty,
    size_t nlines, int64_t now_wall)
{
	store *s = c->store;
	coord_hub *h = &c->hubs[hub];
	db_bind_i64(s->placement_insert, 1, order_id);
	db_bind_text(s->placement_insert, 2, h->id);
	db_bind_i64(s->placement_insert, 3, now_wall);
	if (store_step_done(s->placement_insert) != 0) {
		return DN_EIO;
	}
	int64_t pid = sqlite3_last_insert_rowid(c->db);
	Dropnet__OrderLine cl[DN_ORDER_LINES_MAX];
	Dropnet__OrderLine *clp[DN_ORDER_LINES_MAX];
	size_t ncl = 0;
	for (size_t i = 0; i < nlines; i++) {
		if (qty[i] == 0) {
			continue;
		}
		coord_stock *row = coord_stock_get(c, hub, lines[i].sku, false);
		/* Routing only offers hubs whose sellable covers the take. */
		if (row == NULL || ledger_allocate(&row->row, qty[i]) != 0) {
			log_error("coord.allocate_failed", "hub=%s sku=%s qty=%u", h->id,
			    lines[i].sku, qty[i]);
			return DN_ESTATE;
		}
		if (stock_save(c, row) != 0) {
			return DN_EIO;
		}
		db_bind_i64(s->pline_insert, 1, pid);
		db_bind_text(s->pline_insert, 2, lines[i].sku);
		db_bind_i64(s->pline_insert, 3, qty[i]);
		if (store_step_done(s->pline_insert) != 0) {
			return DN_EIO;
		}
		dropnet__order_line__init(&cl[ncl]);
		cl[ncl].sku = (char *)lines[i].sku;
		cl[ncl].qty = qty[i];
		clp[ncl] = &cl[ncl];
		ncl++;
	}
	Dropnet__HubCommand cmd = DROPNET__HUB_COMMAND__INIT;
	cmd.seq = h->cmd_seq + 1;
	cmd.kind = DROPNET__COMMAND_KIND__CMD_PLACE_ORDER;
	cmd.order_id = (uint64_t)pid;
	cmd.order_key = (char *)order_key;
	cmd.customer = (char *)customer;
	cmd.n_lines = ncl;
	cmd.lines = clp;
	cmd.time_ms = now_wall;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_command_pack(&cmd, &buf, &len) != 0) {
		return DN_ENOMEM;
	}
	db_bind_text(s->cmd_insert, 1, h->id);
	db_bind_i64(s->cmd_insert, 2, (int64_t)cmd.seq);
	sqlite3_bind_blob(s->cmd_insert, 3, buf, (int)len, SQLITE_TRANSIENT);
	int rv = store_step_done(s->cmd_insert);
	free(buf);
	if (rv != 0) {
		return rv;
	}
	db_bind_text(s->hub_cmd_seq, 1, h->id);
	db_bind_i64(s->hub_cmd_seq, 2, (int64_t)cmd.seq);
	if (store_step_done(s->hub_cmd_seq) != 0) {
		return DN_EIO;
	}
	h->cmd_seq = cmd.seq;
	return 0;
}

/* Builds the route_hub view of every hub for the given lines. sellable is
 * nhubs * nlines, row-major by hub. */
static void ingest_route_view(coord *c, const route_line *lines, size_t nlines,
    route_hub *hubs, int64_t *sellable, uint64_t now_mono, int exclude)
{
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		hubs[i].id = h->id;
		hubs[i].lat = h->lat;
		hubs[i].lon = h->lon;
		hubs[i].radius_km = h->radius_km;
		hubs[i].healthy = coord_hub_healthy(c, h, now_mono) && (int)i != exclude;
		hubs[i].sellable = &sellable[i * nlines];
		for (size_t l = 0; l < nlines; l++) {
			coord_stock *s = coord_stock_get(c, (int)i, lines[l].sku, false);
			sellable[i * nlines + l] = s != NULL ? ledger_sellable(&s->row) : 0;
		}
	}
}

/* Places every take of a routing result, one placement per hub. */
static int ingest_place_takes(coord *c, const route_result *rr, int64_t order_id,
    const char *key, const char *customer, const route_line *lines,
    size_t nlines, int64_t now_wall)
{
	bool done[DN_HUBS_MAX] = {false};
	for (size_t t = 0; t < rr->ntake; t++) {
		size_t hub = rr->take[t].hub;
		if (done[hub]) {
			continue;
		}
		done[hub] = true;
		uint32_t qty[DN_ORDER_LINES_MAX] = {0};
		for (size_t u = t; u < rr->ntake; u++) {
			if (rr->take[u].hub == hub) {
				qty[rr->take[u].line] += rr->take[u].qty;
			}
		}
		int rv = coord_place(c, order_id, key, customer, (int)hub, lines, qty,
		    nlines, now_wall);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

int coord_reroute(coord *c, int64_t order_id, const char *order_key,
    const char *customer, double lat, double lon, const char *sku, uint32_t qty,
    int exclude, int64_t now_wall)
{
	route_line line = {sku, qty};
	static route_hub hubs[DN_HUBS_MAX];
	static int64_t sellable[DN_HUBS_MAX];
	static route_result rr;
	ingest_route_view(c, &line, 1, hubs, sellable, coord_now_mono_ms(c), exclude);
	if (route_order(hubs, c->nhubs, &line, 1, lat, lon, c->split, &rr) != 0) {
		return DN_EINVAL;
	}
	if (rr.status != ROUTE_ACCEPTED) {
		db_bind_i64(c->store->line_backorder, 1, order_id);
		db_bind_text(c->store->line_backorder, 2, sku);
		db_bind_i64(c->store->line_backorder, 3, qty);
		return store_step_done(c->store->line_backorder) != 0 ? DN_EIO : 0;
	}
	int rv = ingest_place_takes(c, &rr, order_id, order_key, customer, &line, 1,
	    now_wall);
	return rv != 0 ? rv : 1;
}

static void ingest_reply_simple(ingest_out *o, Dropnet__Status status,
    const char *key, const char *field, const char *msg)
{
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.order_key = (char *)(key ? key : "");
	ack.field = (char *)(field ? field : "");
	ack.message = (char *)(msg ? msg : "");
	if (codec_order_ack_pack(&ack, &o->buf, &o->len) != 0) {
		o->buf = NULL;
		o->len = 0;
	}
}

static Dropnet__Status route_status_wire(route_status s)
{
	switch (s) {
	case ROUTE_ACCEPTED: return DROPNET__STATUS__ACCEPTED;
	case ROUTE_SOLD_OUT: return DROPNET__STATUS__SOLD_OUT;
	default: return DROPNET__STATUS__NO_HUB_IN_RANGE;
	}
}

/* Routing scratch: big, so kept off the stack; loop thread only. */
static route_hub ingest_hubs[DN_HUBS_MAX];
static int64_t ingest_sellable[DN_HUBS_MAX * DN_ORDER_LINES_MAX];
static route_result ingest_rr;

/* Handles one decoded, version-checked order inside the open transaction.
 * Returns 0 with o filled, or DN_EIO/DN_ENOMEM/DN_ESTATE (batch must fail). */
static int ingest_one(coord *c, const Dropnet__SubmitOrder *m, ingest_out *o,
    int64_t now_wall, uint64_t now_mono)
{
	store *s = c->store;
	const char *storefront = m->storefront[0] ? m->storefront : "default";
	route_line lines[DN_ORDER_LINES_MAX];
	size_t nlines = m->n_lines <= DN_ORDER_LINES_MAX ? m->n_lines : DN_ORDER_LINES_MAX + 1;
	for (size_t i = 0; i < nlines && i < DN_ORDER_LINES_MAX; i++) {
		lines[i].sku = m->lines[i]->sku;
		lines[i].qty = m->lines[i]->qty;
	}
	validate_order_in vin = {storefront, m->order_key, m->customer, lines,
	    nlines, m->lat, m->lon};
	char field[64];
	const char *why = "";
	if (validate_order(&vin, field, sizeof(field), &why) != 0) {
		log_info("order.invalid", "storefront=%.64s key=%.64s field=%s why=\"%s\"",
		    storefront, m->order_key, field, why);
		ingest_reply_simple(o, DROPNET__STATUS__INVALID, m->order_key, field, why);
		return 0;
	}
	/* Idempotency: the journal (our own uncommitted rows included). */
	db_bind_text(s->order_find, 1, storefront);
	db_bind_text(s->order_find, 2, m->order_key);
	int rc = sqlite3_step(s->order_find);
	if (rc == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s->order_find, 0);
		Dropnet__OrderAck *first = NULL;
		const void *blob = sqlite3_column_blob(s->order_find, 1);
		int blen = sqlite3_column_bytes(s->order_find, 1);
		int urv = codec_order_ack_unpack(blob, (size_t)blen, &first);
		sqlite3_reset(s->order_find);
		if (urv != 0) {
			codec_order_ack_free(first);
			log_error("order.journal_corrupt", "id=%lld", (long long)id);
			return DN_EIO;
		}
		first->duplicate = true;
		first->order_id = (uint64_t)id;
		int prv = codec_order_ack_pack(first, &o->buf, &o->len);
		o->accepted = first->status == DROPNET__STATUS__ACCEPTED;
		codec_order_ack_free(first);
		o->journalled = true; /* the first answer may be uncommitted yet */
		return prv;
	}
	sqlite3_reset(s->order_find);
	if (rc != SQLITE_DONE) {
		return DN_EIO;
	}
	/* Route against the in-memory ledger. */
	ingest_route_view(c, lines, nlines, ingest_hubs, ingest_sellable, now_mono, -1);
	route_result *rr = &ingest_rr;
	if (route_order(ingest_hubs, c->nhubs, lines, nlines, m->lat, m->lon,
	    c->split, rr) != 0) {
		return DN_ESTATE;
	}
	Dropnet__Status status = route_status_wire(rr->status);
	/* Candidates, for `dropctl order show`. */
	Dropnet__RouteCandidate cand[DN_HUBS_MAX];
	Dropnet__RouteCandidate *candp[DN_HUBS_MAX];
	for (size_t i = 0; i < rr->ncand; i++) {
		dropnet__route_candidate__init(&cand[i]);
		cand[i].hub = c->hubs[rr->cand[i].hub].id;
		cand[i].distance_km = rr->cand[i].distance_km;
		cand[i].verdict = (char *)route_verdict_name(rr->cand[i].verdict);
		candp[i] = &cand[i];
	}
	Dropnet__OrderInfo route = DROPNET__ORDER_INFO__INIT;
	route.n_candidates = rr->ncand;
	route.candidates = candp;
	uint8_t *route_buf = NULL;
	size_t route_len = 0;
	if (codec_order_info_pack(&route, &route_buf, &route_len) != 0) {
		return DN_ENOMEM;
	}
	/* The ack, journalled without order_id (the row id supplies it). */
	Dropnet__Placement pl[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__Placement *plp[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	Dropnet__OrderAck ack = DROPNET__ORDER_ACK__INIT;
	ack.version = DN_PROTO_VERSION;
	ack.status = status;
	ack.order_key = m->order_key;
	ack.hub = "";
	ack.field = "";
	ack.message = "";
	if (rr->status == ROUTE_ACCEPTED) {
		ack.hub = c->hubs[rr->take[0].hub].id;
		for (size_t t = 0; t < rr->ntake; t++) {
			dropnet__placement__init(&pl[t]);
			pl[t].hub = c->hubs[rr->take[t].hub].id;
			pl[t].sku = (char *)lines[rr->take[t].line].sku;
			pl[t].qty = rr->take[t].qty;
			plp[t] = &pl[t];
		}
		ack.n_placements = rr->ntake;
		ack.placements = plp;
	} else {
		ack.message = rr->status == ROUTE_SOLD_OUT ?
		    "no hub in range has the stock" : "no healthy hub serves this address";
	}
	uint8_t *ack_buf = NULL;
	size_t ack_len = 0;
	if (codec_order_ack_pack(&ack, &ack_buf, &ack_len) != 0) {
		free(route_buf);
		return DN_ENOMEM;
	}
	db_bind_text(s->order_insert, 1, storefront);
	db_bind_text(s->order_insert, 2, m->order_key);
	db_bind_text(s->order_insert, 3, m->customer);
	db_bind_i64(s->order_insert, 4, status);
	db_bind_text(s->order_insert, 5, ack.hub);
	db_bind_double(s->order_insert, 6, m->lat);
	db_bind_double(s->order_insert, 7, m->lon);
	db_bind_i64(s->order_insert, 8, now_wall);
	sqlite3_bind_blob(s->order_insert, 9, ack_buf, (int)ack_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s->order_insert, 10, route_buf, (int)route_len, SQLITE_TRANSIENT);
	int rv = store_step_done(s->order_insert);
	free(route_buf);
	free(ack_buf);
	if (rv != 0) {
		return rv;
	}
	int64_t order_id = sqlite3_last_insert_rowid(c->db);
	for (size_t i = 0; i < nlines; i++) {
		db_bind_i64(s->line_insert, 1, order_id);
		db_bind_text(s->line_insert, 2, lines[i].sku);
		db_bind_i64(s->line_insert, 3, lines[i].qty);
		if (store_step_done(s->line_insert) != 0) {
			return DN_EIO;
		}
	}
	if (rr->status == ROUTE_ACCEPTED) {
		rv = ingest_place_takes(c, rr, order_id, m->order_key, m->customer,
		    lines, nlines, now_wall);
		if (rv != 0) {
			return rv;
		}
	}
	ack.order_id = (uint64_t)order_id;
	o->journalled = true;
	o->accepted = rr->status == ROUTE_ACCEPTED;
	log_debug("order.routed", "id=%lld key=%.64s status=%s hub=%s",
	    (long long)order_id, m->order_key, codec_status_name(status), ack.hub);
	return codec_order_ack_pack(&ack, &o->buf, &o->len);
}

void coord_ingest_batch(void *arg, bridge_req **reqs, size_t n)
{
	coord *c = arg;
	static ingest_out outs[DN_SERVER_CTX_MAX];
	memset(outs, 0, n * sizeof(outs[0]));
	int64_t now_wall = coord_now_wall_ms();
	uint64_t now_mono = coord_now_mono_ms(c);
	int rv = db_begin(c->db);
	bool in_tx = rv == 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		size_t len = 0;
		const uint8_t *body = bridge_req_body(reqs[i], &len);
		Dropnet__SubmitOrder *m = NULL;
		int urv = codec_submit_order_unpack(body, len, &m);
		if (urv == DN_EPROTO || (urv == DN_ERANGE && m->version == 0)) {
			/* No version at all (e.g. empty bytes) is not a newer peer. */
			log_warn("order.malformed", "bytes=%zu", len);
			ingest_reply_simple(&outs[i], DROPNET__STATUS__MALFORMED, "", "",
			    "bytes are not a SubmitOrder");
		} else if (urv == DN_ERANGE) {
			log_warn("order.bad_version", "version=%u", m->version);
			ingest_reply_simple(&outs[i], DROPNET__STATUS__UNSUPPORTED_VERSION,
			    m->order_key, "version", "this coordinator speaks version 1");
		} else {
			rv = ingest_one(c, m, &outs[i], now_wall, now_mono);
		}
		codec_submit_order_free(m);
	}
	if (rv == 0 && in_tx) {
		rv = db_commit(c->db);
	} else if (in_tx) {
		db_rollback(c->db);
	}
	if (rv != 0) {
		c->commit_failures++;
		log_error("order.batch_failed", "orders=%zu err=%s", n, dn_strerror(rv));
		coord_reload(c);
	}
	for (size_t i = 0; i < n; i++) {
		ingest_out *o = &outs[i];
		if (rv != 0 && (o->journalled || o->buf == NULL)) {
			free(o->buf);
			o->buf = NULL;
			ingest_reply_simple(o, DROPNET__STATUS__UNAVAILABLE, "", "",
			    "storage failed; retry with the same key");
		}
		bridge_req_reply(reqs[i], o->buf, o->len);
		free(o->buf);
	}
	c->orders_seen += n;
	c->ingest_batches++;
}
