/*
 * drops_harness.h - drives the coordinator machine in-process for the
 * machine tests of drops, holds and the clock: a real SQLite file in a
 * fresh temp folder, requests packed with the real codec and handed over
 * as mreqs, the clock set by the test (coord_clock_set), replies unpacked.
 * Nothing here is a fake: it is the shell's job done by a test.
 *
 * Every helper asserts with cmocka, so a test reads as a story.
 */
#ifndef DROPS_HARNESS_H
#define DROPS_HARNESS_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include <sqlite3.h>
#include "coord.h"

/* A UTC instant far from the epoch, as a real clock would give. */
#define MT_WALL0 1800000000000LL
/* Where the test hub sits, and a ship-to inside its radius. */
#define MT_LAT 51.5074
#define MT_LON -0.1278

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

/* Opens the machine on a store in a fresh temp folder, through vfs (NULL:
 * the default VFS). */
static inline void mt_open_vfs(mt *m, const char *vfs)
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
	Dropnet__Drop d = DROPNET__DROP__INIT;
	d.id = (char *)id;
	d.name = (char *)(name != NULL ? name : "");
	d.n_skus = 1;
	d.skus = &sp;
	d.n_tiers = 1;
	d.tiers = &tp;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_DROP_CREATE;
	q.drop = &d;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	if (msg != NULL) {
		snprintf(msg, msg_len, "%s", rep->message);
	}
	codec_ops_reply_free(rep);
	return st;
}

/* One SubmitOrder (action, hold_seconds as given) of qty sku to the test
 * ship-to. Returns the unpacked ack; free it with codec_order_ack_free. */
static inline Dropnet__OrderAck *mt_order(mt *m, const char *key, const char *customer,
    const char *drop, const char *tier, const char *sku, uint32_t qty,
    uint32_t hold_seconds, Dropnet__OrderAction action)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lp = &l;
	l.sku = (char *)sku;
	l.qty = qty;
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	o.version = DN_PROTO_VERSION;
	o.order_key = (char *)key;
	o.customer = (char *)customer;
	o.n_lines = 1;
	o.lines = &lp;
	o.lat = MT_LAT;
	o.lon = MT_LON;
	o.drop_id = (char *)(drop != NULL ? drop : "");
	o.tier = (char *)(tier != NULL ? tier : "");
	o.hold_seconds = hold_seconds;
	o.action = action;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_submit_order_pack(&o, &buf, &len), 0);
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_ingest_batch(m->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__OrderAck *ack = NULL;
	assert_int_equal(codec_order_ack_unpack(r.reply, r.reply_len, &ack), 0);
	mreq_fini(&r);
	free(buf);
	return ack;
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

/* A sync from test hub "london" (registers it, keeps it healthy); with
 * qty > 0 it also reports qty of sku received. */
static inline void mt_hub_sync(mt *m, const char *sku, int64_t qty)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = "london";
	hello.name = "london";
	hello.lat = MT_LAT;
	hello.lon = MT_LON;
	hello.radius_km = 50;
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	if (qty > 0) {
		e.seq = ++m->hub_seq;
		e.kind = DROPNET__EVENT_KIND__EV_RECEIVED;
		e.sku = (char *)sku;
		e.qty = qty;
		e.bin = "MAIN";
		e.time_ms = m->wall;
		q.n_events = 1;
		q.events = &ep;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_hub_sync_request_pack(&q, &buf, &len), 0);
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_hubsync_batch(m->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__HubSyncReply *rep = NULL;
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->event_applied, m->hub_seq);
	codec_hub_sync_reply_free(rep);
	mreq_fini(&r);
	free(buf);
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
	int hub = coord_hub_find(m->c, "london");
	assert_true(hub >= 0);
	coord_stock *s = coord_stock_get(m->c, hub, sku, false);
	assert_non_null(s);
	if (strcmp(field, "on_hand") == 0) {
		return s->row.on_hand;
	}
	if (strcmp(field, "allocated") == 0) {
		return s->row.allocated;
	}
	return s->row.holdback;
}

#endif
