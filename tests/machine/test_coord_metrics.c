/*
 * test_coord_metrics.c - the coordinator machine's own counters
 * (coord.metrics, read by /metrics: docs/metrics.md), driven in-process on
 * a real SQLite file (harness.h).
 */
#include "harness.h"

/* Goal: every ingest answer is counted once by its status - accepted,
 * sold out, invalid, malformed - a retry with a known key is a replay (not
 * a second ACCEPTED), refusals are the answers that refused, the
 * storefront is counted per request, each batch's size is observed, and
 * hub syncs and ops requests are counted by socket. */
static void test_counts_by_status(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 2);
	const coord_metrics *mc = &m.c->metrics;
	uint64_t syncs = mc->hubsync_requests;
	assert_true(syncs >= 1);

	assert_int_equal(mt_submit(&m, "k1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(mt_submit(&m, "k2", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(mt_submit(&m, "k3", NULL, "tee", 1), DROPNET__STATUS__SOLD_OUT);
	assert_int_equal(mt_submit(&m, "k1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(mt_submit(&m, "k4", NULL, "tee", 0), DROPNET__STATUS__INVALID);
	/* Bytes that are no SubmitOrder, in a batch of two with a good one. */
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	mreq r[2], *rp[2] = {&r[0], &r[1]};
	mreq_init(&r[0], junk, sizeof(junk));
	mreq_init(&r[1], junk, 1);
	coord_ingest_batch(m.c, rp, 2);
	mreq_fini(&r[0]);
	mreq_fini(&r[1]);

	assert_int_equal(mc->orders[DROPNET__STATUS__ACCEPTED], 2);
	assert_int_equal(mc->orders[DROPNET__STATUS__SOLD_OUT], 1);
	assert_int_equal(mc->orders[DROPNET__STATUS__INVALID], 1);
	assert_int_equal(mc->orders[DROPNET__STATUS__MALFORMED], 2);
	assert_int_equal(mc->replays, 1);
	assert_int_equal(mc->refusals[DROPNET__STATUS__ACCEPTED], 0);
	assert_int_equal(mc->refusals[DROPNET__STATUS__SOLD_OUT], 1);
	assert_int_equal(mc->refusals[DROPNET__STATUS__MALFORMED], 2);
	/* Five decoded requests, all from the default storefront. */
	assert_int_equal(mc->storefronts.n, 1);
	assert_string_equal(mc->storefronts.names[0], "default");
	assert_int_equal(mc->storefronts.counts[0], 5);
	/* Six batches: five of one, one of two. */
	assert_int_equal(mc->ingest_batch.count, 6);
	assert_int_equal(mc->ingest_batch.counts[0], 5);
	assert_int_equal(mc->ingest_batch.counts[1], 1);

	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_HUBS;
	codec_ops_reply_free(mt_ops(&m, &q));
	assert_int_equal(mc->ops_requests, 1);
	mt_hub_sync(&m, "tee", 0);
	assert_int_equal(mc->hubsync_requests, syncs + 1);
	mt_close(&m);
}

/* Goal: the counters outlive a close and open of the machine (a restart
 * in the simulator), and the batch histogram is set up once. */
static void test_counts_survive_reopen(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 1);
	assert_int_equal(mt_submit(&m, "k1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	coord_close(m.c);
	mt_open_at(&m);
	assert_int_equal(m.c->metrics.orders[DROPNET__STATUS__ACCEPTED], 1);
	assert_int_equal(mt_submit(&m, "k1", NULL, "tee", 1), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(m.c->metrics.replays, 1);
	assert_int_equal(m.c->metrics.ingest_batch.count, 2);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_by_status),
		cmocka_unit_test(test_counts_survive_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
