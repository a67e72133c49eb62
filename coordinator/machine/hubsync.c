/*
 * hubsync.c - both streams with the hubs, one round trip each (see
 * proto/SEMANTICS.md "hubsync"). Hubs dial in; a batch of sync requests is
 * applied in one transaction. Events at or below the hub's event_applied
 * are ignored (they are re-sends); a gap stops that hub's batch, since
 * applying out of order could ship stock that was never received. Before
 * any of a hub's events, resync.c checks that both stores still share one
 * history (their incarnations and positions) and resynchronises or refuses
 * when one went back in time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

/* Looks a placement up; it must belong to hub. Returns 0 or DN_ENOENT;
 * *transfer is set when it is the pick of a hub-to-hub transfer. */
static int hubsync_placement_kind(coord *c, int hub, uint64_t pid, int64_t *order_id,
    bool *transfer)
{
	sqlite3_stmt *st = c->store->placement_get;
	db_bind_i64(st, 1, (int64_t)pid);
	int rc = sqlite3_step(st);
	int rv = DN_ENOENT;
	if (rc == SQLITE_ROW && strcmp(db_col_text(st, 1), c->hubs[hub].id) == 0) {
		*order_id = sqlite3_column_int64(st, 0);
		*transfer = strcmp(db_col_text(st, 3), "transfer") == 0;
		rv = 0;
	}
	sqlite3_reset(st);
	return rv;
}

static int hubsync_placement(coord *c, int hub, uint64_t pid, int64_t *order_id)
{
	bool transfer = false;
	int rv = hubsync_placement_kind(c, hub, pid, order_id, &transfer);
	return rv == 0 && transfer ? DN_ENOENT : rv;
}

/* Units of sku a placement still needs (qty - shipped - shorted); 0 if none. */
static int64_t hubsync_open_qty(coord *c, uint64_t pid, const char *sku)
{
	sqlite3_stmt *st = c->store->pline_get;
	db_bind_i64(st, 1, (int64_t)pid);
	db_bind_text(st, 2, sku);
	int64_t open = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		open = sqlite3_column_int64(st, 0) - sqlite3_column_int64(st, 1) -
		    sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return open;
}

/* Applies one event. Physical facts always apply; an event that names
 * something unknown is logged and skipped (it still counts as applied, so
 * the stream cannot wedge on it). Returns 0 or DN_EIO. */
static int hubsync_event(coord *c, int hub, const Dropnet__HubEvent *e, int64_t now_wall)
{
	store *s = c->store;
	const char *hid = c->hubs[hub].id;
	int64_t order_id = 0;
	switch (e->kind) {
	case DROPNET__EVENT_KIND__EV_RECEIVED:
	case DROPNET__EVENT_KIND__EV_ADJUSTED: {
		if (!validate_id(e->sku) || (e->kind == DROPNET__EVENT_KIND__EV_RECEIVED && e->qty <= 0)) {
			log_warn("hubsync.bad_event", "hub=%s seq=%llu kind=%d", hid,
			    (unsigned long long)e->seq, e->kind);
			return 0;
		}
		coord_stock *row = coord_stock_get(c, hub, e->sku, true);
		if (row == NULL) {
			return DN_ENOMEM;
		}
		int64_t plain = e->qty;
		if (e->kind == DROPNET__EVENT_KIND__EV_RECEIVED && e->transfer_id[0]) {
			int trv = coord_transfer_received(c, hub, e->transfer_id, e->sku, e->qty,
			    now_wall, &plain);
			if (trv != 0 && trv != DN_ENOENT) {
				return trv;
			}
			if (trv == DN_ENOENT || plain > 0) {
				log_warn("hubsync.unmatched_transfer", "hub=%s transfer=%s sku=%s"
				    " units=%lld: counted as a plain receipt", hid, e->transfer_id,
				    e->sku, (long long)plain);
			}
			if (plain == 0) {
				return 0;
			}
		}
		if (e->kind == DROPNET__EVENT_KIND__EV_RECEIVED) {
			ledger_receive(&row->row, plain);
			row->received += plain;
			if (coord_stock_save(c, row) != 0) {
				return DN_EIO;
			}
			return coord_drops_on_receive(c, hub, e->sku, plain, now_wall);
		} else {
			/* A count can only take away what is there. */
			int64_t d = e->qty;
			if (row->row.on_hand + d < 0) {
				d = -row->row.on_hand;
			}
			if (d != 0) {
				ledger_adjust(&row->row, d);
			}
			row->adjusted += d;
		}
		return coord_stock_save(c, row);
	}
	case DROPNET__EVENT_KIND__EV_PICKED:
		if (hubsync_placement(c, hub, e->order_id, &order_id) != 0) {
			log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", hid,
			    (unsigned long long)e->seq, (unsigned long long)e->order_id);
			return 0;
		}
		db_bind_i64(s->placement_picked, 1, (int64_t)e->order_id);
		db_bind_i64(s->placement_picked, 2, e->time_ms ? e->time_ms : now_wall);
		return store_step_done(s->placement_picked);
	case DROPNET__EVENT_KIND__EV_SHIPPED: {
		bool transfer = false;
		if (hubsync_placement_kind(c, hub, e->order_id, &order_id, &transfer) == 0 &&
		    transfer) {
			return coord_transfer_shipped(c, hub, (int64_t)e->order_id, now_wall);
		}
		if (hubsync_placement(c, hub, e->order_id, &order_id) != 0) {
			log_warn("hubsync.unknown_order", "hub=%s seq=%llu order=%llu", hid,
			    (unsigned long long)e->seq, (unsigned long long)e->order_id);
			return 0;
		}
		for (size_t i = 0; i < e->n_lines; i++) {
			const Dropnet__OrderLine *l = e->lines[i];
			int64_t open = hubsync_open_qty(c, e->order_id, l->sku);
			int64_t q = l->qty;
			if (q > open) {
				log_warn("hubsync.overship", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
				    hid, (unsigned long long)e->order_id, l->sku,
				    (long long)q, (long long)open);
				q = open;
			}
			if (q <= 0) {
				continue;
			}
			coord_stock *row = coord_stock_get(c, hub, l->sku, false);
			if (row == NULL || ledger_ship(&row->row, q) != 0) {
				log_error("hubsync.ship_failed", "hub=%s sku=%s qty=%lld", hid,
				    l->sku, (long long)q);
				continue;
			}
			row->shipped += q;
			db_bind_i64(s->pline_ship, 1, (int64_t)e->order_id);
			db_bind_text(s->pline_ship, 2, l->sku);
			db_bind_i64(s->pline_ship, 3, q);
			if (store_step_done(s->pline_ship) != 0 || coord_stock_save(c, row) != 0) {
				return DN_EIO;
			}
		}
		db_bind_i64(s->placement_shipped, 1, (int64_t)e->order_id);
		db_bind_i64(s->placement_shipped, 2, e->time_ms ? e->time_ms : now_wall);
		db_bind_text(s->placement_shipped, 3, e->tracking);
		return store_step_done(s->placement_shipped);
	}
	case DROPNET__EVENT_KIND__EV_SHORT: {
		bool transfer = false;
		if (e->qty > 0 && hubsync_placement_kind(c, hub, e->order_id, &order_id,
		    &transfer) == 0 && transfer) {
			return coord_transfer_shorted(c, hub, (int64_t)e->order_id, e->sku, e->qty);
		}
		if (hubsync_placement(c, hub, e->order_id, &order_id) != 0 || e->qty <= 0) {
			log_warn("hubsync.bad_short", "hub=%s seq=%llu order=%llu", hid,
			    (unsigned long long)e->seq, (unsigned long long)e->order_id);
			return 0;
		}
		int64_t open = hubsync_open_qty(c, e->order_id, e->sku);
		int64_t q = e->qty < open ? e->qty : open;
		coord_stock *row = coord_stock_get(c, hub, e->sku, false);
		/* Only what was on the books can go missing from them. */
		int64_t gone = row != NULL && q > row->row.on_hand ? row->row.on_hand : q;
		if (q <= 0 || row == NULL || ledger_short(&row->row, q) != 0) {
			log_warn("hubsync.bad_short", "hub=%s order=%llu sku=%s qty=%lld open=%lld",
			    hid, (unsigned long long)e->order_id, e->sku, (long long)e->qty,
			    (long long)open);
			return 0;
		}
		row->lost += gone;
		db_bind_i64(s->pline_short, 1, (int64_t)e->order_id);
		db_bind_text(s->pline_short, 2, e->sku);
		db_bind_i64(s->pline_short, 3, q);
		if (store_step_done(s->pline_short) != 0 || coord_stock_save(c, row) != 0) {
			return DN_EIO;
		}
		db_bind_i64(s->placement_close, 1, (int64_t)e->order_id);
		if (store_step_done(s->placement_close) != 0) {
			return DN_EIO;
		}
		/* Re-route what is missing, or backorder it. */
		db_bind_i64(s->order_get, 1, order_id);
		if (sqlite3_step(s->order_get) != SQLITE_ROW) {
			sqlite3_reset(s->order_get);
			return DN_EIO;
		}
		char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
		snprintf(key, sizeof(key), "%s", db_col_text(s->order_get, 0));
		snprintf(customer, sizeof(customer), "%s", db_col_text(s->order_get, 1));
		double lat = sqlite3_column_double(s->order_get, 2);
		double lon = sqlite3_column_double(s->order_get, 3);
		sqlite3_reset(s->order_get);
		int rr = coord_reroute(c, order_id, key, customer, lat, lon, e->sku,
		    (uint32_t)q, hub, now_wall);
		if (rr < 0) {
			return rr;
		}
		log_info("order.short", "hub=%s order=%lld sku=%s qty=%lld outcome=%s", hid,
		    (long long)order_id, e->sku, (long long)q, rr == 1 ? "rerouted" : "backordered");
		return 0;
	}
	case DROPNET__EVENT_KIND__EV_RETURNED: {
		if (!validate_id(e->sku) || e->qty <= 0) {
			log_warn("hubsync.bad_event", "hub=%s seq=%llu kind=%d", hid,
			    (unsigned long long)e->seq, e->kind);
			return 0;
		}
		if (!e->to_stock) {
			return 0; /* quarantined: never back on sale */
		}
		coord_stock *row = coord_stock_get(c, hub, e->sku, true);
		if (row == NULL) {
			return DN_ENOMEM;
		}
		ledger_receive(&row->row, e->qty);
		row->returned += e->qty;
		return coord_stock_save(c, row);
	}
	case DROPNET__EVENT_KIND__EV_MOVED:
	case DROPNET__EVENT_KIND__EV_CLAIMED:
	case DROPNET__EVENT_KIND__EV_PACKED:
	case DROPNET__EVENT_KIND__EV_UNCLAIMED:
		return 0; /* hub-internal work: no ledger effect */
	default:
		log_warn("hubsync.unknown_event", "hub=%s seq=%llu kind=%d", hid,
		    (unsigned long long)e->seq, e->kind);
		return 0;
	}
}

static void hubsync_reply_error(mreq *r, Dropnet__Status st, const char *msg)
{
	Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.status = st;
	rep.message = (char *)msg;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_hub_sync_reply_pack(&rep, &buf, &len) == 0) {
		mreq_reply(r, buf, len);
		free(buf);
	} else {
		mreq_reply(r, "", 0);
	}
}

/* Registers or refreshes a hub from its hello. Returns the index or -1. */
static int hubsync_hello(coord *c, const Dropnet__HubHello *hello, const char **why)
{
	char field[64];
	if (hello == NULL) {
		*why = "missing hello";
		return -1;
	}
	if (validate_hub(hello->id, hello->lat, hello->lon, hello->radius_km, field,
	    sizeof(field), why) != 0) {
		return -1;
	}
	int i = coord_hub_find(c, hello->id);
	coord_hub *h = i >= 0 ? &c->hubs[i] : NULL;
	bool changed = h == NULL || h->lat != hello->lat || h->lon != hello->lon ||
	    h->radius_km != hello->radius_km || strcmp(h->term_url, hello->term_url) != 0 ||
	    strcmp(h->name, hello->name[0] ? hello->name : hello->id) != 0;
	if (!changed) {
		return i;
	}
	if (h == NULL) {
		if (c->nhubs == DN_HUBS_MAX) {
			*why = "hub registry full";
			return -1;
		}
		i = (int)c->nhubs++;
		h = &c->hubs[i];
		memset(h, 0, sizeof(*h));
		snprintf(h->id, sizeof(h->id), "%s", hello->id);
		log_info("hub.registered", "hub=%s lat=%.4f lon=%.4f radius_km=%.1f", h->id,
		    hello->lat, hello->lon, hello->radius_km);
	}
	snprintf(h->name, sizeof(h->name), "%s", hello->name[0] ? hello->name : hello->id);
	snprintf(h->term_url, sizeof(h->term_url), "%s", hello->term_url);
	h->lat = hello->lat;
	h->lon = hello->lon;
	h->radius_km = hello->radius_km;
	sqlite3_stmt *st = c->store->hub_upsert;
	db_bind_text(st, 1, h->id);
	db_bind_text(st, 2, h->name);
	db_bind_double(st, 3, h->lat);
	db_bind_double(st, 4, h->lon);
	db_bind_double(st, 5, h->radius_km);
	db_bind_text(st, 6, h->term_url);
	if (store_step_done(st) != 0) {
		*why = "storage failed";
		return -2;
	}
	return i;
}

static void hubsync_report(coord_hub *h, const Dropnet__HubSyncRequest *m)
{
	h->report_valid = false;
	if (!m->stock_valid || m->n_events != 0 || m->n_stock > DN_STOCK_REPORT_MAX) {
		return;
	}
	coord_report *r = realloc(h->report, (m->n_stock ? m->n_stock : 1) * sizeof(*r));
	if (r == NULL) {
		return;
	}
	h->report = r;
	h->nreport = 0;
	for (size_t i = 0; i < m->n_stock; i++) {
		if (!validate_id(m->stock[i]->sku)) {
			continue;
		}
		snprintf(r[h->nreport].sku, sizeof(r[0].sku), "%s", m->stock[i]->sku);
		r[h->nreport].on_hand = m->stock[i]->on_hand;
		h->nreport++;
	}
	h->report_valid = true;
}

void coord_hubsync_batch(coord *c, mreq **reqs, size_t n)
{
	Dropnet__HubSyncRequest *msgs[DN_SERVER_CTX_MAX] = {0};
	int hub_of[DN_SERVER_CTX_MAX];
	coord_sync_verdict verdict[DN_SERVER_CTX_MAX];
	int64_t now_wall = coord_now_wall_ms(c);
	uint64_t now_mono = coord_now_mono_ms(c);
	int rv = coord_ready(c) ? db_begin(c->db) : DN_EIO;
	for (size_t i = 0; i < n; i++) {
		hub_of[i] = -1;
		verdict[i] = COORD_SYNC_OK;
		size_t len = 0;
		const uint8_t *body = mreq_body(reqs[i], &len);
		int urv = codec_hub_sync_request_unpack(body, len, &msgs[i]);
		if (urv != 0 || rv != 0) {
			continue;
		}
		const char *why = "";
		int h = hubsync_hello(c, msgs[i]->hello, &why);
		if (h == -2) {
			rv = DN_EIO;
			continue;
		}
		if (h < 0) {
			log_warn("hubsync.bad_hello", "why=\"%s\"", why);
			continue;
		}
		hub_of[i] = h;
		coord_hub *hub = &c->hubs[h];
		/* Either store gone back in time: decided before any event. */
		verdict[i] = coord_resync_check(c, h, msgs[i], now_wall, &rv);
		if (rv != 0 || verdict[i] != COORD_SYNC_OK) {
			continue;
		}
		for (size_t e = 0; e < msgs[i]->n_events && rv == 0; e++) {
			const Dropnet__HubEvent *ev = msgs[i]->events[e];
			if (ev->seq <= hub->event_applied) {
				continue;
			}
			if (ev->seq != hub->event_applied + 1) {
				log_warn("hubsync.gap", "hub=%s have=%llu got=%llu", hub->id,
				    (unsigned long long)hub->event_applied,
				    (unsigned long long)ev->seq);
				break;
			}
			rv = hubsync_event(c, h, ev, now_wall);
			if (rv == 0) {
				hub->event_applied = ev->seq;
			}
		}
		if (msgs[i]->cmd_applied > hub->cmd_seq) {
			log_warn("hubsync.ack_ahead", "hub=%s acked=%llu seq=%llu", hub->id,
			    (unsigned long long)msgs[i]->cmd_applied,
			    (unsigned long long)hub->cmd_seq);
		} else if (msgs[i]->cmd_applied > hub->cmd_acked) {
			hub->cmd_acked = msgs[i]->cmd_applied;
			db_bind_text(c->store->cmd_delete_acked, 1, hub->id);
			db_bind_i64(c->store->cmd_delete_acked, 2, (int64_t)hub->cmd_acked);
			if (rv == 0) {
				rv = store_step_done(c->store->cmd_delete_acked);
			}
		}
		db_bind_text(c->store->hub_stream, 1, hub->id);
		db_bind_i64(c->store->hub_stream, 2, (int64_t)hub->cmd_acked);
		db_bind_i64(c->store->hub_stream, 3, (int64_t)hub->event_applied);
		if (rv == 0) {
			rv = store_step_done(c->store->hub_stream);
		}
	}
	/* After every request: a later one may have queued commands for an
	 * earlier hub (a re-route), and the replies carry them. */
	for (size_t i = 0; i < n && rv == 0; i++) {
		if (hub_of[i] >= 0 && verdict[i] != COORD_SYNC_REFUSE) {
			rv = coord_resync_finish(c, hub_of[i], msgs[i]);
		}
	}
	if (rv == 0) {
		rv = db_commit(c->db);
	} else {
		db_rollback(c->db);
	}
	if (rv != 0) {
		c->commit_failures++;
		log_error("hubsync.batch_failed", "requests=%zu err=%s", n, dn_strerror(rv));
		coord_reload(c);
	}
	for (size_t i = 0; i < n; i++) {
		Dropnet__HubSyncRequest *m = msgs[i];
		if (m == NULL) {
			log_warn("hubsync.malformed", "request=%zu", i);
			hubsync_reply_error(reqs[i], DROPNET__STATUS__MALFORMED, "not a HubSyncRequest");
			continue;
		}
		if (m->version != DN_PROTO_VERSION) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__UNSUPPORTED_VERSION,
			    "this coordinator speaks version 1");
		} else if (rv != 0) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__UNAVAILABLE, "storage failed");
		} else if (hub_of[i] < 0) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__INVALID, "bad hello");
		} else if (verdict[i] == COORD_SYNC_REFUSE) {
			hubsync_reply_error(reqs[i], DROPNET__STATUS__CONFLICT, "the hub's store and"
			    " this coordinator's do not share a history (see the coordinator's"
			    " log: hub.resync_refused)");
		} else {
			coord_hub *hub = &c->hubs[hub_of[i]];
			if (!coord_hub_healthy(c, hub, now_mono)) {
				log_info("hub.up", "hub=%s", hub->id);
				hub->healthy_logged = true;
			}
			hub->last_seen_mono_ms = now_mono ? now_mono : 1;
			hub->last_seen_wall_ms = now_wall;
			/* A snapshot counts only from a book that follows ours: not
			 * during a rewind, nor from a new book not yet seeded. */
			if (verdict[i] == COORD_SYNC_OK && !hub->seed_pending) {
				hubsync_report(hub, m);
			} else {
				hub->report_valid = false;
			}
			/* Commands after what the hub applied. */
			Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
			rep.version = DN_PROTO_VERSION;
			rep.status = DROPNET__STATUS__OK;
			rep.event_applied = hub->event_applied;
			rep.message = "";
			rep.incarnation = c->incarnation;
			rep.hub_incarnation = hub->incarnation;
			uint64_t after = m->cmd_applied > hub->cmd_acked ? m->cmd_applied :
			    hub->cmd_acked;
			if (verdict[i] == COORD_SYNC_REWIND) {
				rep.rewind = true;
				rep.cmd_base = hub->cmd_acked;
				after = hub->cmd_acked;
			}
			Dropnet__StockLevel **seed = NULL;
			size_t nseed = 0;
			if (coord_resync_seed(c, hub_of[i], m, &seed, &nseed) != 0) {
				/* Never answer a first contact without its seed: the hub
				 * would confirm us with an empty book. */
				log_error("hubsync.seed_failed", "hub=%s", hub->id);
				hubsync_reply_error(reqs[i], DROPNET__STATUS__UNAVAILABLE,
				    "storage failed");
				codec_hub_sync_request_free(m);
				continue;
			}
			rep.stock_seed = seed;
			rep.n_stock_seed = nseed;
			Dropnet__HubCommand *cmds[DN_STREAM_BATCH_MAX];
			size_t ncmd = 0;
			sqlite3_stmt *st = c->store->cmd_select;
			db_bind_text(st, 1, hub->id);
			db_bind_i64(st, 2, (int64_t)after);
			db_bind_i64(st, 3, DN_STREAM_BATCH_MAX);
			while (ncmd < DN_STREAM_BATCH_MAX && sqlite3_step(st) == SQLITE_ROW) {
				const void *b = sqlite3_column_blob(st, 0);
				int bl = sqlite3_column_bytes(st, 0);
				if (codec_hub_command_unpack(b, (size_t)bl, &cmds[ncmd]) == 0) {
					ncmd++;
				}
			}
			sqlite3_reset(st);
			rep.n_commands = ncmd;
			rep.commands = cmds;
			uint8_t *buf = NULL;
			size_t len = 0;
			if (codec_hub_sync_reply_pack(&rep, &buf, &len) == 0) {
				mreq_reply(reqs[i], buf, len);
				free(buf);
			} else {
				hubsync_reply_error(reqs[i], DROPNET__STATUS__UNAVAILABLE, "out of memory");
			}
			for (size_t k = 0; k < ncmd; k++) {
				codec_hub_command_free(cmds[k]);
			}
			coord_resync_seed_free(seed, nseed);
		}
		codec_hub_sync_request_free(m);
	}
}
