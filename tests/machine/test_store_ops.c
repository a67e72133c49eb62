/*
 * test_store_ops.c - the ops area of the coordinator's typed store
 * (store_ops.c: ops.c, rebalance.c and state.c's loads), driven as a
 * machine: hub syncs, orders and ops requests go in as codec-packed bytes
 * (mreq) on a real SQLite file in a fresh temp folder, with a clock the
 * test sets.
 *
 * Goal (issue 8, item 2): every statement is prepared once, at open, never
 * on the way of a request. A trace callback counts every statement run that
 * coord_open did not prepare, while the ops reads (order show, audit,
 * demand, transfers, a rebalance plan), the transfer writes and a reload
 * run: it must see none. With the ad-hoc sqlite3_prepare_v2 calls this
 * replaced, it sees one per query. The replies are checked too, so the typed calls read what the SQL
 * read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/mreq.h"
#include "coord.h"

#define T_HUBS 2

typedef struct {
	char dir[128];
	char path[192];
	coord c;
	uint64_t mono;
	int64_t wall;
	uint64_t seq[T_HUBS];
	sqlite3_stmt *at_open[512];   /* the statements prepared by coord_open */
	size_t nopen;
	int prepares;                 /* statements compiled while counting */
	int ledger_reads;             /* of them, reads of hubs or stock */
	bool counting;
} t_net;

static const struct {
	const char *id;
	double lat, lon;
} t_hubs[T_HUBS] = {{"london", 51.5072, -0.1276}, {"reading", 51.4543, -0.9781}};

static void t_clock(t_net *n)
{
	n->mono += 10;
	n->wall += 10;
	coord_clock_set(&n->c, n->mono, n->wall);
}

static bool t_prefix(const char *sql, const char *p)
{
	return strncmp(sql, p, strlen(p)) == 0;
}

/* Called by SQLite each time a statement starts to run: one that was not
 * prepared at open was compiled on the way. BEGIN, COMMIT and savepoints
 * are left out: transactions run through db_exec, as in hubd's store. */
static int t_trace(unsigned type, void *arg, void *p, void *x)
{
	(void)x;
	t_net *n = arg;
	if (type != SQLITE_TRACE_STMT || !n->counting) {
		return 0;
	}
	for (size_t i = 0; i < n->nopen; i++) {
		if (n->at_open[i] == p) {
			return 0;
		}
	}
	const char *sql = sqlite3_sql(p);
	if (t_prefix(sql, "BEGIN") || t_prefix(sql, "COMMIT") || t_prefix(sql, "ROLLBACK") ||
	    t_prefix(sql, "SAVEPOINT") || t_prefix(sql, "RELEASE")) {
		return 0;
	}
	print_message("compiled on the way: %.100s\n", sql);
	n->prepares++;
	if (strstr(sql, " FROM hubs") != NULL || strstr(sql, " FROM stock") != NULL) {
		n->ledger_reads++;
	}
	return 0;
}

static t_net *t_open(void)
{
	t_net *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	snprintf(n->dir, sizeof(n->dir), "/tmp/dn_machine_XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	snprintf(n->path, sizeof(n->path), "%s/coordinator.db", n->dir);
	char err[256];
	const char *sets[] = {"coordinator.hub_timeout_ms=600000"};
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &n->c.cfg, NULL,
	    sets, 1, err, sizeof(err)), 0);
	n->c.split = ROUTE_SPLIT_NEVER;
	n->mono = 1000;
	n->wall = 1800000000000LL;
	coord_clock_set(&n->c, n->mono, n->wall);
	assert_int_equal(coord_open(&n->c, n->path, NULL), 0);
	for (sqlite3_stmt *st = sqlite3_next_stmt(n->c.db, NULL); st != NULL;
	    st = sqlite3_next_stmt(n->c.db, st)) {
		assert_true(n->nopen < sizeof(n->at_open) / sizeof(n->at_open[0]));
		n->at_open[n->nopen++] = st;
	}
	sqlite3_trace_v2(n->c.db, SQLITE_TRACE_STMT, t_trace, n);
	return n;
}

static void t_close(t_net *n)
{
	coord_close(&n->c);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", n->dir);
	assert_int_equal(system(cmd), 0);
	free(n);
}

/* One hub sync with at most one event (NULL: a hello); asserts OK. */
static void t_sync(t_net *n, int hi, Dropnet__HubEvent *ev)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = (char *)t_hubs[hi].id;
	hello.name = (char *)t_hubs[hi].id;
	hello.lat = t_hubs[hi].lat;
	hello.lon = t_hubs[hi].lon;
	hello.radius_km = 20;
	Dropnet__HubSyncRequest req = DROPNET__HUB_SYNC_REQUEST__INIT;
	req.version = DN_PROTO_VERSION;
	req.hello = &hello;
	req.events = &ev;
	req.n_events = ev != NULL ? 1 : 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_hub_sync_request_pack(&req, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	t_clock(n);
	coord_hubsync_batch(&n->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__HubSyncReply *rep = NULL;
	assert_int_equal(codec_hub_sync_reply_unpack(r.reply, r.reply_len, &rep), 0);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_hub_sync_reply_free(rep);
	mreq_fini(&r);
	free(buf);
}

static void t_receive(t_net *n, int hi, const char *sku, int64_t qty)
{
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	e.seq = ++n->seq[hi];
	e.kind = DROPNET__EVENT_KIND__EV_RECEIVED;
	e.time_ms = n->wall;
	e.sku = (char *)sku;
	e.qty = qty;
	e.bin = "MAIN";
	t_sync(n, hi, &e);
}

/* Submits an order of qty sku shipped to hub hi's own location; asserts
 * ACCEPTED and returns the order id. */
static uint64_t t_order(t_net *n, int hi, const char *key, const char *sku, uint32_t qty)
{
	Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
	line.sku = (char *)sku;
	line.qty = qty;
	Dropnet__OrderLine *lp = &line;
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	o.version = DN_PROTO_VERSION;
	o.order_key = (char *)key;
	o.customer = "buyer";
	o.lines = &lp;
	o.n_lines = 1;
	o.lat = t_hubs[hi].lat;
	o.lon = t_hubs[hi].lon;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_submit_order_pack(&o, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	t_clock(n);
	coord_ingest_batch(&n->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__OrderAck *ack = NULL;
	assert_int_equal(codec_order_ack_unpack(r.reply, r.reply_len, &ack), 0);
	assert_int_equal(ack->status, DROPNET__STATUS__ACCEPTED);
	uint64_t id = ack->order_id;
	codec_order_ack_free(ack);
	mreq_fini(&r);
	free(buf);
	return id;
}

static Dropnet__OpsReply *t_ops(t_net *n, Dropnet__OpsRequest *q)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	q->version = DN_PROTO_VERSION;
	assert_int_equal(codec_ops_request_pack(q, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	mreq *rp = &r;
	t_clock(n);
	coord_ops_batch(&n->c, &rp, 1);
	assert_true(r.replied);
	Dropnet__OpsReply *rep = NULL;
	assert_int_equal(codec_ops_reply_unpack(r.reply, r.reply_len, &rep), 0);
	mreq_fini(&r);
	free(buf);
	return rep;
}

static Dropnet__OpsReply *t_ops_kind(t_net *n, Dropnet__OpsKind kind)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = kind;
	return t_ops(n, &q);
}

/* Two hubs with stock, one order at london, and a transfer of 5 from
 * london to reading (as OPS_REBALANCE_APPLY makes one). */
static t_net *t_network(uint64_t *order_id, char *tid, size_t tidlen)
{
	t_net *n = t_open();
	t_receive(n, 0, "tee", 40);
	t_receive(n, 1, "tee", 3);
	*order_id = t_order(n, 0, "k1", "tee", 2);
	t_clock(n);
	assert_int_equal(db_begin(n->c.db), 0);
	assert_int_equal(coord_transfer_create(&n->c, 0, 1, "tee", 5, 0, tid, tidlen,
	    n->wall), 0);
	assert_int_equal(db_commit(n->c.db), 0);
	assert_string_equal(tid, "T1-reading");
	return n;
}

/* OPS_ORDER_SHOW: the order, its line and its placement; an unknown key
 * is NOT_FOUND. */
static void t_check_order_show(t_net *n, uint64_t order_id)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_ORDER_SHOW;
	q.order_key = "k1";
	Dropnet__OpsReply *rep = t_ops(n, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	Dropnet__OrderInfo *o = rep->order;
	assert_non_null(o);
	assert_int_equal(o->order_id, order_id);
	assert_string_equal(o->storefront, "default");
	assert_string_equal(o->customer, "buyer");
	assert_string_equal(o->hub, "london");
	assert_int_equal(o->status, DROPNET__STATUS__ACCEPTED);
	assert_int_equal(o->n_lines, 1);
	assert_string_equal(o->lines[0]->sku, "tee");
	assert_int_equal(o->lines[0]->qty, 2);
	assert_int_equal(o->n_placements, 1);
	assert_string_equal(o->placements[0]->hub, "london");
	assert_int_equal(o->placements[0]->qty, 2);
	assert_true(o->n_candidates >= 1);
	assert_int_equal(o->shipped_ms, 0);
	codec_ops_reply_free(rep);
	q.order_key = "nope";
	rep = t_ops(n, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__NOT_FOUND);
	codec_ops_reply_free(rep);
}

/* OPS_DEMAND, OPS_TRANSFERS and a dry-run plan. */
static void t_check_rebalance_reads(t_net *n, const char *tid)
{
	Dropnet__OpsReply *rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_DEMAND);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->n_demand, 1);
	assert_string_equal(rep->demand[0]->hub, "london");
	assert_string_equal(rep->demand[0]->sku, "tee");
	assert_int_equal(rep->demand[0]->sold, 2);
	assert_int_equal(rep->demand[0]->turned_away, 0);
	codec_ops_reply_free(rep);
	rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_TRANSFERS);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->n_transfers, 1);
	assert_string_equal(rep->transfers[0]->id, tid);
	assert_string_equal(rep->transfers[0]->from_hub, "london");
	assert_string_equal(rep->transfers[0]->to_hub, "reading");
	assert_string_equal(rep->transfers[0]->state, "picking");
	assert_int_equal(rep->transfers[0]->qty, 5);
	codec_ops_reply_free(rep);
	rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_REBALANCE_PLAN);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_non_null(rep->plan);
	codec_ops_reply_free(rep);
}

/* The transfer's life through its typed writes: shipped, received. */
static void t_check_transfer_writes(t_net *n, const char *tid)
{
	int64_t pid = 0;
	sqlite3_stmt *st = NULL;
	n->counting = false;
	assert_int_equal(sqlite3_prepare_v2(n->c.db, "SELECT placement_id FROM transfers",
	    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	n->counting = true;
	assert_int_equal(db_begin(n->c.db), 0);
	assert_int_equal(coord_transfer_shipped(&n->c, 0, pid, n->wall), 0);
	int64_t surplus = -1;
	assert_int_equal(coord_transfer_received(&n->c, 1, tid, "tee", 5, n->wall, &surplus),
	    0);
	assert_int_equal(surplus, 0);
	assert_int_equal(coord_transfer_received(&n->c, 1, tid, "tee", 1, n->wall, &surplus),
	    DN_ENOENT);
	assert_int_equal(db_commit(n->c.db), 0);
	Dropnet__OpsReply *rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_TRANSFERS);
	assert_int_equal(rep->n_transfers, 1);
	assert_string_equal(rep->transfers[0]->state, "received");
	codec_ops_reply_free(rep);
}

static void test_ops_paths_prepare_nothing(void **state)
{
	(void)state;
	uint64_t order_id = 0;
	char tid[DN_ID_MAX + 1];
	t_net *n = t_network(&order_id, tid, sizeof(tid));
	n->counting = true;
	t_check_order_show(n, order_id);
	Dropnet__OpsReply *rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_AUDIT);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->checks_run, 9);
	assert_int_equal(rep->n_findings, 0);
	codec_ops_reply_free(rep);
	t_check_rebalance_reads(n, tid);
	t_check_transfer_writes(n, tid);
	assert_int_equal(n->prepares, 0);
	assert_int_equal(coord_reload(&n->c), 0);
	assert_int_equal(n->c.nhubs, 2);
	assert_int_equal(n->ledger_reads, 0);
	assert_int_equal(n->prepares, 0);
	n->counting = false;
	t_close(n);
}

/* The audit's store checks find what was done to the file behind the
 * machine's back, and name it; a reload keeps the hubs, their order and
 * their last stock report. */
static void test_audit_and_reload(void **state)
{
	(void)state;
	uint64_t order_id = 0;
	char tid[DN_ID_MAX + 1];
	t_net *n = t_network(&order_id, tid, sizeof(tid));
	coord_report *rep0 = calloc(1, sizeof(*rep0));
	assert_non_null(rep0);
	snprintf(rep0->sku, sizeof(rep0->sku), "tee");
	rep0->on_hand = 40;
	n->c.hubs[1].report = rep0;
	n->c.hubs[1].nreport = 1;
	assert_int_equal(db_exec(n->c.db, "UPDATE stock SET allocated = allocated + 1"
	    " WHERE hub = 'london'"), 0);
	Dropnet__OpsReply *rep = t_ops_kind(n, DROPNET__OPS_KIND__OPS_AUDIT);
	assert_int_equal(rep->status, DROPNET__STATUS__CONFLICT);
	assert_int_equal(rep->checks_run, 9);
	bool cache = false, allocation = false;
	for (size_t i = 0; i < rep->n_findings; i++) {
		const Dropnet__AuditFinding *f = rep->findings[i];
		cache |= strcmp(f->check, "ledger_cache_mismatch") == 0 &&
		    strcmp(f->detail, "hub=london sku=tee") == 0;
		allocation |= strcmp(f->check, "allocation_mismatch") == 0 &&
		    strcmp(f->detail, "hub=london sku=tee allocated=8 open=7") == 0;
	}
	assert_true(cache);
	assert_true(allocation);
	codec_ops_reply_free(rep);
	assert_int_equal(coord_reload(&n->c), 0);
	assert_int_equal(n->c.nhubs, 2);
	assert_string_equal(n->c.hubs[0].id, "london");
	assert_string_equal(n->c.hubs[1].id, "reading");
	assert_ptr_equal(n->c.hubs[1].report, rep0);
	assert_int_equal(n->c.hubs[1].nreport, 1);
	coord_stock *s = coord_stock_get(&n->c, 0, "tee", false);
	assert_non_null(s);
	assert_int_equal(s->row.on_hand, 40);
	assert_int_equal(s->row.allocated, 8);
	t_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_paths_prepare_nothing),
	    cmocka_unit_test(test_audit_and_reload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
