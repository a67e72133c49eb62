/*
 * test_order_trace.c - the order trace `dropctl order show` prints (issue
 * 13): each step's time, stored by the coordinator machine as the order
 * goes (orders.arrived_ms and received_ms, placements.queued_ms and
 * delivered_ms through commands.placement_id, picked_ms and shipped_ms
 * from the hub's events), driven with a real coordinator and a real hub
 * machine on their own files, the clock set by the test.
 *
 * Goals:
 *  - every step is stored with the time it happened: arrival (the mreq's),
 *    the journalling transaction's clock, the hub's clock when it applied
 *    the command (HubSyncRequest.cmd_applied_ms), the coordinator's when
 *    that ack arrived, the hub's pick and ship event times; in that order;
 *  - a later ack of the same command does not move the first times;
 *  - a hub that cannot say when it queued the command (restarted since:
 *    cmd_applied_ms 0, as an older hub) still gives the delivery, queued
 *    stays 0 (not known), never a made-up time.
 */
#include "harness.h"

/* One order for 1 tee, whose request arrived at arrived_ms; returns the
 * clock of the transaction that journalled it. */
static int64_t submit_arrived(net *n, const char *key, int64_t arrived_ms)
{
	const mt_order_spec spec = {.key = key, .customer = "ann", .sku = "tee", .qty = 1,
	    .lat = 51.45, .lon = -0.2};
	uint8_t *buf = NULL;
	size_t len = 0;
	tick(n);
	assert_int_equal(mt_pack_order(&spec, &buf, &len), 0);
	mreq r;
	mreq_init(&r, buf, len);
	r.arrived_ms = arrived_ms;
	mreq *rp = &r;
	coord_ingest_batch(&n->c, &rp, 1);
	Dropnet__OrderAck *ack = NULL;
	assert_int_equal(codec_order_ack_unpack(r.reply, r.reply_len, &ack), 0);
	assert_int_equal(ack->status, DROPNET__STATUS__ACCEPTED);
	codec_order_ack_free(ack);
	mreq_fini(&r);
	free(buf);
	return n->wall;
}

/* OPS_ORDER_SHOW of key (caller frees). */
static Dropnet__OpsReply *order_show(net *n, const char *key)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_ORDER_SHOW;
	q.order_key = (char *)key;
	Dropnet__OpsReply *rep = net_ops(n, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_non_null(rep->order);
	return rep;
}

static void stocked_net(net *n, const char *name)
{
	net_up_named(n, name);
	sync_settle(n);
	receive(n, "tee", 5);
	sync_settle(n);
}

/* Goal: each step's time as it happened, in order; a repeated ack moves
 * nothing. */
static void test_trace_steps(void **state)
{
	(void)state;
	net n;
	stocked_net(&n, "trace");
	int64_t journalled = submit_arrived(&n, "t-1", n.wall + 10 - 3);
	Dropnet__OpsReply *rep = order_show(&n, "t-1");
	assert_int_equal(rep->order->arrived_ms, journalled - 3);
	assert_int_equal(rep->order->received_ms, journalled);
	assert_int_equal(rep->order->queued_ms, 0);
	assert_int_equal(rep->order->delivered_ms, 0);
	codec_ops_reply_free(rep);

	/* The reply carries the command; the hub applies it on its clock. */
	assert_int_equal(sync_once(&n), DROPNET__STATUS__OK);
	int64_t queued = n.wall;
	assert_true(hub_order(&n, "t-1") != 0);
	/* The next request acks it: delivered on the coordinator's clock. */
	assert_int_equal(sync_once(&n), DROPNET__STATUS__OK);
	int64_t delivered = n.wall;
	assert_true(delivered > queued);
	sync_settle(&n);
	do_pick_ship(&n, hub_order(&n, "t-1"), "tee", 1);
	sync_settle(&n);

	rep = order_show(&n, "t-1");
	const Dropnet__OrderInfo *o = rep->order;
	assert_int_equal(o->queued_ms, queued);
	assert_int_equal(o->delivered_ms, delivered);
	const int64_t steps[] = {o->arrived_ms, o->received_ms, o->queued_ms, o->delivered_ms,
	    o->picked_ms, o->shipped_ms};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_true(steps[i] > 0);
		if (i > 0) {
			assert_true(steps[i] >= steps[i - 1]);
		}
	}
	assert_true(o->picked_ms > delivered);
	assert_true(o->shipped_ms > o->picked_ms);
	codec_ops_reply_free(rep);
	/* The command rows are gone once acked; the times stay. */
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(n.c.db, "SELECT count(*) FROM commands",
	    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 0);
	sqlite3_finalize(st);
	net_down(&n);
}

/* Goal: a hub restarted between applying and acking (it no longer knows
 * when it applied it) gives the delivery; queued stays unknown. */
static void test_trace_hub_restarted(void **state)
{
	(void)state;
	net n;
	stocked_net(&n, "trace_rs");
	(void)submit_arrived(&n, "t-2", 0);
	assert_int_equal(sync_once(&n), DROPNET__STATUS__OK);
	assert_true(hub_order(&n, "t-2") != 0);
	hub_store_close(n.h.store);
	hub_up(&n);
	assert_int_equal(sync_once(&n), DROPNET__STATUS__OK);
	int64_t delivered = n.wall;
	Dropnet__OpsReply *rep = order_show(&n, "t-2");
	assert_int_equal(rep->order->arrived_ms, 0);
	assert_int_equal(rep->order->delivered_ms, delivered);
	assert_int_equal(rep->order->queued_ms, 0);
	codec_ops_reply_free(rep);
	net_down(&n);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_steps),
	    cmocka_unit_test(test_trace_hub_restarted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
