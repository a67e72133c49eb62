/*
 * test_hub_count_books.c - a cycle count (TERM_COUNT) never books at the
 * hub what the coordinator refuses to book, on the real coordinator and hub
 * machines and their real SQLite stores, in one process (harness.h "net").
 *
 * The coordinator rejects (logs, counts, and moves past) a units event
 * outside its bounds (SEMANTICS.md "hubsync", Bounds): a count's delta
 * beyond +-DN_EVENT_UNITS_MAX ("units"), a new SKU past DN_HUB_SKUS_MAX at
 * the hub ("skus"), a row past DN_STOCK_ROW_UNITS_MAX ("row_units"). The
 * hub is not told: whatever it booked stays on its book and never reaches
 * the network's, and no later sync heals it.
 *
 * Goals:
 *  - a count that finds a bin emptier by more than DN_EVENT_UNITS_MAX
 *    (counting 0 in a bin of 15,000,000) reaches the coordinator whole:
 *    both books say 0, nothing rejected;
 *  - a count of a SKU the hub does not hold, at a hub that holds
 *    DN_HUB_SKUS_MAX SKUs, is refused at the terminal (INVALID), as a
 *    receipt is: nothing booked on either side, nothing rejected;
 *  - a count that would take a row past DN_STOCK_ROW_UNITS_MAX is refused
 *    at the terminal; the books stay equal;
 *  - a hub whose data dir was wiped holds only the SKUs the seed gave it
 *    (on hand > 0), while the ledger keeps a row for every SKU the hub
 *    ever held: a receipt of a new SKU the hub may take (it holds fewer
 *    than DN_HUB_SKUS_MAX) is booked by the coordinator too.
 */
#include "harness.h"
#include "core/limits.h"

/* A TERM_COUNT of qty sku in bin; returns the reply's status. */
static Dropnet__Status count(net *n, const char *bin, const char *sku, int64_t qty)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_COUNT;
	q.bin = (char *)bin;
	q.sku = (char *)sku;
	q.qty = qty;
	Dropnet__TermReply *rep = term(n, &q);
	Dropnet__Status st = rep->status;
	codec_term_reply_free(rep);
	return st;
}

/* One terminal batch (one transaction) of k receipts into bin: qty[i] of
 * skus[i]; every one answered OK. */
static void receive_batch(net *n, size_t k, char (*skus)[24], const int64_t *qty,
    const char *bin)
{
	mreq r[256], *rp[256];
	uint8_t *bufs[256];
	assert_true(k <= 256);
	for (size_t i = 0; i < k; i++) {
		Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
		q.version = DN_PROTO_VERSION;
		q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
		q.sku = skus[i];
		q.qty = qty[i];
		q.bin = (char *)bin;
		size_t len = 0;
		assert_int_equal(codec_term_request_pack(&q, &bufs[i], &len), 0);
		mreq_init(&r[i], bufs[i], len);
		rp[i] = &r[i];
	}
	tick(n);
	hub_term_batch(&n->h, rp, k);
	for (size_t i = 0; i < k; i++) {
		Dropnet__TermReply *rep = NULL;
		assert_int_equal(codec_term_reply_unpack(r[i].reply, r[i].reply_len, &rep), 0);
		assert_int_equal(rep->status, DROPNET__STATUS__OK);
		codec_term_reply_free(rep);
		mreq_fini(&r[i]);
		free(bufs[i]);
	}
}

/* Receives 1 unit of each of nskus SKUs "f-<i>" into bin MAIN. */
static void receive_many(net *n, size_t nskus)
{
	char skus[256][24];
	int64_t qty[256];
	for (size_t done = 0; done < nskus;) {
		size_t k = nskus - done < 256 ? nskus - done : 256;
		for (size_t i = 0; i < k; i++) {
			snprintf(skus[i], sizeof(skus[i]), "f-%zu", done + i);
			qty[i] = 1;
		}
		receive_batch(n, k, skus, qty, "MAIN");
		done += k;
	}
}

/* Syncs until the hub's outbox is all acked (a few batches of 256). */
static void settle_all(net *n)
{
	hub_stream sp;
	for (int i = 0; i < 64; i++) {
		assert_int_equal(sync_once(n), DROPNET__STATUS__OK);
		assert_int_equal(hub_store_stream_get(n->h.store, &sp), 0);
		if (sp.event_acked == sp.event_seq) {
			sync_settle(n);
			return;
		}
	}
	fail_msg("the outbox did not drain: acked %llu of %llu",
	    (unsigned long long)sp.event_acked, (unsigned long long)sp.event_seq);
}

/* The coordinator's on_hand of sku at the hub (0: no row). */
static int64_t ledger_on_hand(net *n, const char *sku)
{
	int hi = coord_hub_find(&n->c, "london");
	assert_true(hi >= 0);
	const coord_stock *s = coord_stock_get(&n->c, hi, sku, false);
	return s != NULL ? s->row.on_hand : 0;
}

/* Counting 0 in a bin of 15,000,000 units: a delta of -15,000,000,
 * beyond what one event may carry. */
static void test_count_large_loss(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "count_loss");
	for (int i = 0; i < 15; i++) {
		receive(&n, "tee", 1000000);
	}
	sync_settle(&n);
	assert_int_equal(ledger_on_hand(&n, "tee"), 15000000);
	assert_int_equal(count(&n, "MAIN", "tee", 0), DROPNET__STATUS__OK);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "tee"), 0);
	assert_int_equal(ledger_on_hand(&n, "tee"), 0);
	assert_int_equal(n.c.events_rejected, 0);
	audit_clean(&n);
	net_down(&n);
}

/* A count of a SKU new to a hub that holds DN_HUB_SKUS_MAX SKUs. */
static void test_count_skus_full(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "count_skus");
	receive_many(&n, DN_HUB_SKUS_MAX);
	settle_all(&n);
	assert_int_equal(ledger_on_hand(&n, "f-7"), 1);
	assert_int_equal(count(&n, "MAIN", "found-new", 5), DROPNET__STATUS__INVALID);
	/* A SKU the hub holds is counted as ever. */
	assert_int_equal(count(&n, "MAIN", "f-7", 4), DROPNET__STATUS__OK);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "found-new"), ledger_on_hand(&n, "found-new"));
	assert_int_equal(hub_on_hand(&n, "found-new"), 0);
	assert_int_equal(hub_on_hand(&n, "f-7"), 4);
	assert_int_equal(ledger_on_hand(&n, "f-7"), 4);
	assert_int_equal(n.c.events_rejected, 0);
	net_down(&n);
}

/* A count that would take the SKU's row past DN_STOCK_ROW_UNITS_MAX: the
 * other bins already hold all but 10 of it. */
static void test_count_row_full(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "count_row");
	/* 999 receipts of 1,000,000 and one of 999,990 into bin A: the row
	 * holds DN_STOCK_ROW_UNITS_MAX - 10, as both books agree. */
	char skus[100][24];
	int64_t qty[100];
	for (int b = 0; b < 10; b++) {
		for (int k = 0; k < 100; k++) {
			snprintf(skus[k], sizeof(skus[k]), "tee");
			qty[k] = b == 0 && k == 0 ? 999990 : 1000000;
		}
		receive_batch(&n, 100, skus, qty, "A");
	}
	settle_all(&n);
	assert_int_equal(hub_on_hand(&n, "tee"), DN_STOCK_ROW_UNITS_MAX - 10);
	assert_int_equal(ledger_on_hand(&n, "tee"), DN_STOCK_ROW_UNITS_MAX - 10);
	/* 11 found in bin B: one past the bound. */
	assert_int_equal(count(&n, "B", "tee", 11), DROPNET__STATUS__INVALID);
	assert_int_equal(count(&n, "B", "tee", 10), DROPNET__STATUS__OK);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "tee"), DN_STOCK_ROW_UNITS_MAX);
	assert_int_equal(ledger_on_hand(&n, "tee"), DN_STOCK_ROW_UNITS_MAX);
	assert_int_equal(n.c.events_rejected, 0);
	net_down(&n);
}

/* DN_HUB_SKUS_MAX SKUs, one of them counted out (a row of 0 on both
 * books), then the hub's disk is wiped: the seed brings back the others
 * only, and a new SKU's receipt is taken by both books. */
static void test_wiped_hub_new_sku(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "wiped_skus");
	receive_many(&n, DN_HUB_SKUS_MAX);
	settle_all(&n);
	assert_int_equal(count(&n, "MAIN", "f-0", 0), DROPNET__STATUS__OK);
	sync_settle(&n);
	assert_int_equal(ledger_on_hand(&n, "f-0"), 0);

	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "f-7"), 1);
	receive(&n, "new", 5);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "new"), 5);
	assert_int_equal(ledger_on_hand(&n, "new"), 5);
	assert_int_equal(n.c.events_rejected, 0);
	audit_clean(&n);
	net_down(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_large_loss),
	    cmocka_unit_test(test_count_skus_full),
	    cmocka_unit_test(test_count_row_full),
	    cmocka_unit_test(test_wiped_hub_new_sku),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
