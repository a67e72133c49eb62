/*
 * harness.h - drives the real machines in-process for the machine tests:
 * real SQLite files in a fresh temp folder, requests packed with the real
 * codec and handed over as mreqs, the clock set by the test, replies
 * unpacked. Nothing here is a fake: it is the shells' job done by a test.
 *
 *   mt   one coordinator machine and a test hub "london" that exists only
 *        as the sync requests the test sends (drops, holds, the clock,
 *        failed commits);
 *   net  a coordinator machine and a real hub machine, each sync request
 *        going straight into coord_hubsync_batch and its reply straight
 *        back into hub_sync_on_reply (streams, resync, resent orders).
 *
 * Every helper asserts with cmocka, so a test reads as a story. All are
 * static inline: a test uses the ones it needs.
 */
#ifndef MACHINE_HARNESS_H
#define MACHINE_HARNESS_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include "coord.h"
#include "hub.h"
#include "pack.h"

/* ---- mt: one coordinator ---- */

/* A UTC instant far from the epoch, as a real clock would give. */
#define MT_WALL0 1800000000000LL

typedef struct {
	coord *c;
	char dir[64];
	char path[128];
	uint64_t mono;
	int64_t wall;
	uint64_t hub_seq;     /* last event seq sent by the test hub */
	const char *vfs;      /* SQLite VFS of the store; NULL: the default */
} mt;

static inline void mt_clock(mt *m, uint64_t mono, int64_t wall)
{
	m->mono = mono;
	m->wall = wall;
	coord_clock_set(m->c, mono, wall);
}

/* Moves both clocks forward by ms, as time passing does. */
static inline void mt_pass(mt *m, uint64_t ms)
{
	mt_clock(m, m->mono + ms, m->wall + (int64_t)ms);
}

static inline void mt_open_at(mt *m)
{
	assert_int_equal(coord_open(m->c, m->path, m->vfs), 0);
}

/* Makes the machine (config defaults, clock) for a store in a fresh temp
 * folder, through vfs (NULL: the default VFS), without opening it: a test
 * changes m->c->cfg, then mt_open_at. */
static inline void mt_prepare(mt *m, const char *vfs)
{
	memset(m, 0, sizeof(*m));
	m->vfs = vfs;
	log_set_level(LOG_WARN);
	snprintf(m->dir, sizeof(m->dir), "/tmp/dropnet-mt-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->path, sizeof(m->path), "%s/coordinator.db", m->dir);
	m->c = calloc(1, sizeof(*m->c));
	assert_non_null(m->c);
	char err[200];
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &m->c->cfg,
	    NULL, NULL, 0, err, sizeof(err)), 0);
	m->c->split = ROUTE_SPLIT_NEVER;
	mt_clock(m, 1000, MT_WALL0);
}

/* Opens the machine on a store in a fresh temp folder, through vfs (NULL:
 * the default VFS). */
static inline void mt_open_vfs(mt *m, const char *vfs)
{
	mt_prepare(m, vfs);
	mt_open_at(m);
}

static inline void mt_open(mt *m)
{
	mt_open_vfs(m, NULL);
}

static inline void mt_close(mt *m)
{
	coord_close(m->c);
	free(m->c);
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%s", m->path, sfx[i]);
		unlink(p);
	}
	rmdir(m->dir);
}

static inline Dropnet__OpsReply *mt_ops(mt *m, Dropnet__OpsRequest *q)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	q->version = DN_PROTO_VERSION;
	assert_int_equal(codec_ops_request_pack(q, &buf, &len), 0);
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_ops_batch(m->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__OpsReply *rep = NULL;
	assert_int_equal(codec_ops_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(buf);
	return rep;
}

/* An ops request naming a drop; returns its status. */
static inline Dropnet__Status mt_ops_drop(mt *m, Dropnet__OpsKind kind, const char *id,
    char *msg, size_t msg_len)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = kind;
	q.drop_id = (char *)id;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	if (msg != NULL) {
		snprintf(msg, msg_len, "%s", rep->message);
	}
	codec_ops_reply_free(rep);
	return st;
}

/* OPS_DROP_CREATE of drop id (name and currency: NULL for none) selling
 * one SKU in one tier; returns the reply (free with codec_ops_reply_free). */
static inline Dropnet__OpsReply *mt_drop_send(mt *m, const char *id, const char *name,
    const char *currency, Dropnet__DropSku *sku, Dropnet__Tier *tier)
{
	Dropnet__Drop d = DROPNET__DROP__INIT;
	d.id = (char *)id;
	d.name = (char *)(name != NULL ? name : "");
	d.currency = (char *)(currency != NULL ? currency : "");
	d.n_skus = 1;
	d.skus = &sku;
	d.n_tiers = 1;
	d.tiers = &tier;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_DROP_CREATE;
	q.drop = &d;
	return mt_ops(m, &q);
}

/* Creates drop id selling sku (units, holdback_pct) with one tier "pub"
 * open over [opens, closes), release_holdback as given. Returns the status;
 * the reply's message goes to msg. */
static inline Dropnet__Status mt_drop_create(mt *m, const char *id, const char *name,
    const char *sku, uint32_t units, double holdback_pct, int64_t opens, int64_t closes,
    bool release, char *msg, size_t msg_len)
{
	Dropnet__DropSku s = DROPNET__DROP_SKU__INIT;
	Dropnet__DropSku *sp = &s;
	s.sku = (char *)sku;
	s.units = units;
	s.holdback_pct = holdback_pct;
	Dropnet__Tier t = DROPNET__TIER__INIT;
	Dropnet__Tier *tp = &t;
	t.name = "pub";
	t.opens_ms = opens;
	t.closes_ms = closes;
	t.release_holdback = release;
	Dropnet__OpsReply *rep = mt_drop_send(m, id, name, NULL, sp, tp);
	Dropnet__Status st = rep->status;
	if (msg != NULL) {
		snprintf(msg, msg_len, "%s", rep->message);
	}
	codec_ops_reply_free(rep);
	return st;
}

/* The most orders a test hands over in one batch. */
#define MT_INGEST_MAX 8u

/* Creates and opens drop id: units of sku at price_minor GBP in tier "pub"
 * (open now, for an hour), floor 4000, ceiling 9000. */
static inline void mt_drop_priced(mt *m, const char *id, const char *sku, uint32_t units,
    int64_t price_minor)
{
	Dropnet__TierPrice tp = DROPNET__TIER_PRICE__INIT;
	Dropnet__TierPrice *tpp = &tp;
	tp.tier = "pub";
	tp.price_minor = price_minor;
	Dropnet__DropSku s = DROPNET__DROP_SKU__INIT;
	s.sku = (char *)sku;
	s.units = units;
	s.n_prices = 1;
	s.prices = &tpp;
	s.floor_minor = 4000;
	s.ceiling_minor = 9000;
	Dropnet__Tier t = DROPNET__TIER__INIT;
	t.name = "pub";
	t.opens_ms = m->wall;
	t.closes_ms = m->wall + 3600000;
	Dropnet__OpsReply *rep = mt_drop_send(m, id, NULL, "GBP", &s, &t);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
	assert_int_equal(mt_ops_drop(m, DROPNET__OPS_KIND__OPS_DROP_OPEN, id, NULL, 0),
	    DROPNET__STATUS__OK);
}

/* Creates experiment id on (drop, sku) with arms "low" and "high" at
 * those prices; returns the status. */
static inline Dropnet__Status mt_experiment_create(mt *m, const char *id, const char *drop,
    const char *sku, int64_t low, int64_t high)
{
	Dropnet__ExperimentArm a0 = DROPNET__EXPERIMENT_ARM__INIT, a1 = a0;
	Dropnet__ExperimentArm *arms[2] = {&a0, &a1};
	a0.name = "low";
	a0.price_minor = low;
	a1.name = "high";
	a1.price_minor = high;
	Dropnet__Experiment e = DROPNET__EXPERIMENT__INIT;
	e.id = (char *)id;
	e.drop_id = (char *)drop;
	e.sku = (char *)sku;
	e.n_arms = 2;
	e.arms = arms;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_EXPERIMENT_CREATE;
	q.experiment = &e;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	codec_ops_reply_free(rep);
	return st;
}

/* Hands n packed orders (bufs[i], lens[i]) to the machine as one ingest
 * batch; acks[i] is order i's unpacked ack (free each with
 * codec_order_ack_free). */
static inline void mt_ingest(mt *m, uint8_t **bufs, const size_t *lens, size_t n,
    Dropnet__OrderAck **acks)
{
	mreq r[MT_INGEST_MAX], *rp[MT_INGEST_MAX];
	assert_true(n <= MT_INGEST_MAX);
	for (size_t i = 0; i < n; i++) {
		mreq_init(&r[i], bufs[i], lens[i]);
		rp[i] = &r[i];
	}
	coord_ingest_batch(m->c, rp, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(r[i].replied);
		acks[i] = NULL;
		assert_int_equal(codec_order_ack_unpack(r[i].reply, r[i].reply_len, &acks[i]), 0);
		mreq_fini(&r[i]);
	}
}

/* One SubmitOrder (action, hold_seconds as given) of qty sku to the test
 * ship-to. Returns the unpacked ack; free it with codec_order_ack_free. */
/* Sends raw bytes on the ingest path; returns the reply bytes (malloc'd). */
static inline uint8_t *mt_ingest_raw(mt *m, const uint8_t *buf, size_t len, size_t *rlen)
{
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_ingest_request(m->c, &rp, 1);
	assert_true(r.replied);
	uint8_t *out = malloc(r.reply_len ? r.reply_len : 1);
	assert_non_null(out);
	memcpy(out, r.reply, r.reply_len);
	*rlen = r.reply_len;
	mreq_fini(&r);
	return out;
}

/* An IngestRequest envelope on the ingest path; its reply (free with
 * codec_ingest_reply_free). */
static inline Dropnet__IngestReply *mt_ingest_env(mt *m, Dropnet__IngestRequest *e)
{
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, rlen = 0;
	e->version = DN_PROTO_VERSION;
	assert_int_equal(codec_ingest_request_pack(e, &buf, &len), 0);
	rep = mt_ingest_raw(m, buf, len, &rlen);
	Dropnet__IngestReply *r = NULL;
	assert_int_equal(codec_ingest_reply_unpack(rep, rlen, &r), 0);
	free(buf);
	free(rep);
	return r;
}

/* A quote of sku in drop/tier for customer at MT_LAT/MT_LON; its reply. */
static inline Dropnet__IngestReply *mt_quote(mt *m, const char *drop, const char *tier,
    const char *sku, const char *customer)
{
	char *skus[1] = {(char *)sku};
	Dropnet__QuoteRequest q = DROPNET__QUOTE_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.customer = (char *)customer;
	q.drop_id = (char *)drop;
	q.tier = (char *)tier;
	q.n_skus = 1;
	q.skus = skus;
	q.lat = MT_LAT;
	q.lon = MT_LON;
	Dropnet__IngestRequest e = DROPNET__INGEST_REQUEST__INIT;
	e.kind_case = DROPNET__INGEST_REQUEST__KIND_QUOTE;
	e.quote = &q;
	Dropnet__IngestReply *r = mt_ingest_env(m, &e);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_QUOTE);
	return r;
}

/* The order spec says, alone in its batch; returns the unpacked ack (free
 * it with codec_order_ack_free). */
static inline Dropnet__OrderAck *mt_order_spec_send(mt *m, const mt_order_spec *spec)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(mt_pack_order(spec, &buf, &len), 0);
	Dropnet__OrderAck *ack = NULL;
	mt_ingest(m, &buf, &len, 1, &ack);
	free(buf);
	return ack;
}

static inline Dropnet__OrderAck *mt_order(mt *m, const char *key, const char *customer,
    const char *drop, const char *tier, const char *sku, uint32_t qty,
    uint32_t hold_seconds, Dropnet__OrderAction action)
{
	const mt_order_spec spec = {.key = key, .customer = customer, .drop = drop,
	    .tier = tier, .sku = sku, .qty = qty, .hold_seconds = hold_seconds,
	    .action = action, .lat = MT_LAT, .lon = MT_LON};
	return mt_order_spec_send(m, &spec);
}

/* Status of a plain submit (no hold); the ack is freed. */
static inline Dropnet__Status mt_submit(mt *m, const char *key, const char *drop,
    const char *sku, uint32_t qty)
{
	Dropnet__OrderAck *a = mt_order(m, key, key, drop, drop != NULL ? "pub" : "", sku, qty, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	Dropnet__Status st = a->status;
	codec_order_ack_free(a);
	return st;
}

/* One packed HubSyncRequest through the machine; its reply (free with
 * codec_hub_sync_reply_free). */
static inline Dropnet__HubSyncReply *mt_hub_sync_bytes(mt *m, const uint8_t *buf, size_t len)
{
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_hubsync_batch(m->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__HubSyncReply *rep = NULL;
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	return rep;
}

/* A sync from test hub "london" carrying events[0..n), whose seqs follow
 * m->hub_seq. Returns the reply's status; when OK, the coordinator has
 * applied every event and m->hub_seq moves on to the last. */
static inline Dropnet__Status mt_hub_sync_events(mt *m, Dropnet__HubEvent **events, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(mt_pack_hub_sync(events, n, &buf, &len), 0);
	Dropnet__HubSyncReply *rep = mt_hub_sync_bytes(m, buf, len);
	Dropnet__Status st = rep->status;
	if (st == DROPNET__STATUS__OK) {
		uint64_t last = n > 0 ? events[n - 1]->seq : m->hub_seq;
		assert_int_equal(rep->event_applied, last);
		m->hub_seq = last;
	}
	codec_hub_sync_reply_free(rep);
	free(buf);
	return st;
}

/* A sync from test hub "london" (registers it, keeps it healthy); with
 * qty > 0 it also reports qty of sku received. Returns the reply's status. */
static inline Dropnet__Status mt_hub_sync_status(mt *m, const char *sku, int64_t qty)
{
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	if (qty > 0) {
		mt_event_received(&e, m->hub_seq + 1, sku, qty, m->wall);
	}
	return mt_hub_sync_events(m, &ep, qty > 0 ? 1 : 0);
}

/* As mt_hub_sync_status, and the sync must succeed. */
static inline void mt_hub_sync(mt *m, const char *sku, int64_t qty)
{
	assert_int_equal(mt_hub_sync_status(m, sku, qty), DROPNET__STATUS__OK);
}

/* The registry's id table (c->hubid) is in step with hubs[0..nhubs):
 * coord_hub_find answers every hub's index as a linear scan finds it;
 * exactly nhubs slots are used, each naming a hub in use (an entry left by
 * a dropped hub would fill the table); and no id of gone[0..ngone) (hubs
 * not registered) is found. */
static inline void mt_assert_hub_find(const coord *c, const char *const *gone,
    size_t ngone)
{
	for (size_t i = 0; i < c->nhubs; i++) {
		size_t first = 0;
		while (strcmp(c->hubs[first].id, c->hubs[i].id) != 0) {
			first++;
		}
		assert_int_equal(coord_hub_find(c, c->hubs[i].id), (int)first);
	}
	size_t used = 0;
	for (size_t k = 0; k < c->hubid_cap; k++) {
		if (c->hubid[k] != 0) {
			assert_in_range(c->hubid[k], 1, c->nhubs);
			used++;
		}
	}
	assert_int_equal(used, c->nhubs);
	for (size_t k = 0; k < ngone; k++) {
		assert_int_equal(coord_hub_find(c, gone[k]), -1);
	}
}

/* One integer from the coordinator's file (the first column of sql, with
 * an optional text parameter ?1). */
static inline int64_t mt_sql_int(mt *m, const char *sql, const char *p1)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(m->c->db, sql, -1, &st, NULL), SQLITE_OK);
	if (p1 != NULL) {
		sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The ledger row of (london, sku): field is on_hand, allocated or holdback. */
static inline int64_t mt_stock(mt *m, const char *sku, const char *field)
{
	int hi = coord_hub_find(m->c, "london");
	assert_true(hi >= 0);
	coord_stock *s = coord_stock_get(m->c, hi, sku, false);
	assert_non_null(s);
	if (strcmp(field, "on_hand") == 0) {
		return s->row.on_hand;
	}
	if (strcmp(field, "allocated") == 0) {
		return s->row.allocated;
	}
	return s->row.holdback;
}

/* ---- net: a coordinator and a real hub ---- */

typedef struct {
	char dir[256];
	char coord_db[300];
	char hub_db[300];
	coord c;
	hub h;
	uint64_t mono;
	int64_t wall;
} net;

static inline void tick(net *n)
{
	n->mono += 10;
	n->wall += 10;
	coord_clock_set(&n->c, n->mono, n->wall);
	n->h.now_ms = n->wall;
}

static inline void rm_db(const char *path)
{
	char p[320];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static inline void coord_up(net *n)
{
	char err[256];
	memset(&n->c, 0, sizeof(n->c));
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &n->c.cfg, NULL,
	    NULL, 0, err, sizeof(err)), 0);
	n->c.split = ROUTE_SPLIT_NEVER;
	coord_clock_set(&n->c, n->mono, n->wall);
	assert_int_equal(coord_open(&n->c, n->coord_db, NULL), 0);
}

static inline void hub_up(net *n)
{
	static const char *const sets[] = {"hub.id=london", "hub.lat=51.5", "hub.lon=-0.12",
	    "hub.radius_km=80"};
	char err[256];
	memset(&n->h, 0, sizeof(n->h));
	assert_int_equal(hub_conf_load(&n->h.cfg, NULL, sets, 4, err, sizeof(err)), 0);
	assert_int_equal(hub_store_open(&n->h.store, n->hub_db), 0);
	n->h.now_ms = n->wall;
}

/* Opens both machines on fresh files in /tmp/dn_<name>_XXXXXX. */
static inline void net_up_named(net *n, const char *name)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "/tmp/dn_%s_XXXXXX", name);
	assert_non_null(mkdtemp(n->dir));
	snprintf(n->coord_db, sizeof(n->coord_db), "%s/coordinator.db", n->dir);
	snprintf(n->hub_db, sizeof(n->hub_db), "%s/hub.db", n->dir);
	n->mono = 1000;
	n->wall = 1700000000000LL;
	coord_up(n);
	hub_up(n);
}

/* Closes both machines and removes their files (and a backup.db). */
static inline void net_down(net *n)
{
	coord_close(&n->c);
	hub_store_close(n->h.store);
	rm_db(n->coord_db);
	rm_db(n->hub_db);
	char p[320];
	snprintf(p, sizeof(p), "%s/backup.db", n->dir);
	unlink(p);
	rmdir(n->dir);
}

/* One sync round trip; returns the reply's status. */
static inline int sync_once(net *n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	tick(n);
	assert_int_equal(hub_sync_build(&n->h, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	coord_hubsync_batch(&n->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__HubSyncReply *rep = NULL;
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	int st = rep->status;
	codec_hub_sync_reply_free(rep);
	hub_sync_on_reply(&n->h, 0, r.reply, r.reply_len);
	mreq_fini(&r);
	free(buf);
	return st;
}

static inline void sync_settle(net *n)
{
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sync_once(n), DROPNET__STATUS__OK);
	}
}

/* A terminal request; returns the reply (caller frees). */
/* One terminal request from OS user uid (mreq.peer_uid; -1: unknown). */
static inline Dropnet__TermReply *term_as(net *n, Dropnet__TermRequest *q, int64_t uid)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	q->version = DN_PROTO_VERSION;
	tick(n);
	assert_int_equal(codec_term_request_pack(q, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	r.peer_uid = uid;
	mreq *rp = &r;
	hub_term_batch(&n->h, &rp, 1);
	Dropnet__TermReply *rep = NULL;
	assert_int_equal(codec_term_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(buf);
	return rep;
}

static inline Dropnet__TermReply *term(net *n, Dropnet__TermRequest *q)
{
	return term_as(n, q, -1);
}

static inline void term_ok(net *n, Dropnet__TermRequest *q)
{
	Dropnet__TermReply *rep = term(n, q);
	if (rep->status != DROPNET__STATUS__OK) {
		fail_msg("term kind %d: %s %s", q->kind, codec_status_name(rep->status),
		    rep->message);
	}
	codec_term_reply_free(rep);
}

static inline void receive(net *n, const char *sku, int64_t qty)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	q.sku = (char *)sku;
	q.qty = qty;
	term_ok(n, &q);
}

/* The hub's order id for order_key, 0 when not in its queue. */
static inline uint64_t hub_order(net *n, const char *key)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_QUEUE;
	Dropnet__TermReply *rep = term(n, &q);
	uint64_t id = 0;
	for (size_t i = 0; i < rep->n_orders; i++) {
		if (strcmp(rep->orders[i]->order_key, key) == 0) {
			id = rep->orders[i]->order_id;
		}
	}
	codec_term_reply_free(rep);
	return id;
}

static inline void do_pick_ship(net *n, uint64_t id, const char *sku, int qty)
{
	char *scans[16];
	assert_true(qty <= 16);
	for (int i = 0; i < qty; i++) {
		scans[i] = (char *)sku;
	}
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_PICK;
	q.order_id = id;
	q.scans = scans;
	q.n_scans = (size_t)qty;
	term_ok(n, &q);
	Dropnet__TermRequest s = DROPNET__TERM_REQUEST__INIT;
	s.kind = DROPNET__TERM_KIND__TERM_SHIP;
	s.order_id = id;
	s.tracking = "TRK";
	term_ok(n, &s);
}

static inline void submit(net *n, const char *key, const char *sku, uint32_t qty)
{
	const mt_order_spec spec = {.key = key, .customer = "alice", .sku = sku, .qty = qty,
	    .lat = 51.45, .lon = -0.2};
	uint8_t *buf = NULL;
	size_t len = 0;
	tick(n);
	assert_int_equal(mt_pack_order(&spec, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	coord_ingest_batch(&n->c, &rp, 1);
	Dropnet__OrderAck *ack = NULL;
	assert_int_equal(codec_order_ack_unpack(r.reply, r.reply_len, &ack), 0);
	if (ack->status != DROPNET__STATUS__ACCEPTED) {
		fail_msg("order %s: %s %s", key, codec_status_name(ack->status), ack->message);
	}
	codec_order_ack_free(ack);
	mreq_fini(&r);
	free(buf);
}

/* One ops request q against the net's coordinator machine; the unpacked
 * reply (caller frees). */
static inline Dropnet__OpsReply *net_ops(net *n, Dropnet__OpsRequest *q)
{
	q->version = DN_PROTO_VERSION;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_ops_request_pack(q, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	coord_ops_batch(&n->c, &rp, 1);
	Dropnet__OpsReply *rep = NULL;
	assert_int_equal(codec_ops_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(buf);
	return rep;
}

static inline void audit_clean(net *n)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	Dropnet__OpsReply *rep = net_ops(n, &q);
	for (size_t i = 0; i < rep->n_findings; i++) {
		print_message("finding: %s %s\n", rep->findings[i]->check,
		    rep->findings[i]->detail);
	}
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
}

static inline coord_stock *ledger(net *n, const char *sku)
{
	int hi = coord_hub_find(&n->c, "london");
	assert_true(hi >= 0);
	coord_stock *s = coord_stock_get(&n->c, hi, sku, false);
	assert_non_null(s);
	return s;
}

static inline int64_t hub_on_hand(net *n, const char *sku)
{
	int64_t q = -1;
	assert_int_equal(hub_store_stock_get(n->h.store, sku, &q), 0);
	return q;
}

#endif
