/*
 * test_resent.c - an order re-sent after a hub's store was lost
 * (proto/SEMANTICS.md "Incarnations and resync", "Resent orders"), on the
 * real coordinator and hub machines and their SQLite stores in a temp
 * folder, in one process (the harness of test_resync.c).
 *
 * Goals:
 *  - the hub ships an order and its EV_SHIPPED is lost with its disk: the
 *    coordinator re-sends the order flagged resent, the hub shows it so;
 *    staff record it as already shipped (TERM_SHIP already_shipped): it
 *    ships once on the coordinator's books, no unit is picked, and on_hand
 *    on both books is the truth; audit clean.
 *  - a resent order that had not shipped is picked and shipped as usual;
 *    already_shipped is refused for it once picking started, for an order
 *    that was never re-sent, and a plain ship of an unpicked resent order
 *    stays refused.
 */
#include "harness.h"


static Dropnet__QueueOrder *queue_find(Dropnet__TermReply *rep, const char *key)
{
	for (size_t i = 0; i < rep->n_orders; i++) {
		if (strcmp(rep->orders[i]->order_key, key) == 0) {
			return rep->orders[i];
		}
	}
	return NULL;
}

/* Whether the hub's queue shows order key as resent (-1: not queued). */
static int hub_resent(net *n, const char *key)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_QUEUE;
	Dropnet__TermReply *rep = term(n, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	Dropnet__QueueOrder *o = queue_find(rep, key);
	int r = o == NULL ? -1 : o->resent ? 1 : 0;
	codec_term_reply_free(rep);
	return r;
}

static int ship_already(net *n, uint64_t id, const char *op, const char *trk)
{
	Dropnet__TermRequest s = DROPNET__TERM_REQUEST__INIT;
	s.kind = DROPNET__TERM_KIND__TERM_SHIP;
	s.order_id = id;
	s.tracking = (char *)trk;
	s.operator_ = (char *)op;
	s.already_shipped = true;
	Dropnet__TermReply *rep = term(n, &s);
	int st = rep->status;
	if (st != DROPNET__STATUS__OK) {
		print_message("ship already %llu: %s %s\n", (unsigned long long)id,
		    codec_status_name(rep->status), rep->message);
	}
	codec_term_reply_free(rep);
	return st;
}

static int term_status(net *n, Dropnet__TermRequest *q)
{
	Dropnet__TermReply *rep = term(n, q);
	int st = rep->status;
	codec_term_reply_free(rep);
	return st;
}

static void claim(net *n, uint64_t id, const char *op)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_CLAIM;
	q.order_id = id;
	q.operator_ = (char *)op;
	term_ok(n, &q);
}

/* The placement's "state/tracking" on the coordinator's books. */
static void placement_state(net *n, const char *key, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(n->c.db, "SELECT p.state || '/' || p.tracking FROM placements p"
	    " JOIN orders o ON o.id = p.order_id WHERE o.order_key = ?1", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	assert_int_equal(sqlite3_step(st), SQLITE_DONE); /* one placement */
	sqlite3_finalize(st);
}

/* The hub shipped X; the event died with the disk. */
static void test_resent_already_shipped(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resent");
	receive(&n, "hoodie", 10);
	sync_settle(&n);
	submit(&n, "x1", "hoodie", 2);
	submit(&n, "x2", "hoodie", 1);
	sync_settle(&n);
	uint64_t x1 = hub_order(&n, "x1");
	assert_true(x1 != 0);
	/* A first-time order is not resent. */
	assert_int_equal(hub_resent(&n, "x1"), 0);
	/* A normal order cannot be recorded as already shipped. */
	assert_int_equal(ship_already(&n, x1, "ann", "T0"), DROPNET__STATUS__CONFLICT);

	/* x1 is picked and shipped (2 units leave: the truth is 8 on hand);
	 * the hub never syncs again before its disk is wiped. */
	do_pick_ship(&n, x1, "hoodie", 2);
	assert_int_equal(hub_on_hand(&n, "hoodie"), 8);
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	sync_settle(&n);

	/* Both open orders came again, flagged; the seed still counts the
	 * shipped units (the coordinator never heard of them leaving). */
	assert_int_equal(hub_resent(&n, "x1"), 1);
	assert_int_equal(hub_resent(&n, "x2"), 1);
	assert_int_equal(hub_on_hand(&n, "hoodie"), 10);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 10);
	x1 = hub_order(&n, "x1");
	uint64_t x2 = hub_order(&n, "x2");

	/* A plain ship of the unpicked resent order stays refused. */
	Dropnet__TermRequest s = DROPNET__TERM_REQUEST__INIT;
	s.kind = DROPNET__TERM_KIND__TERM_SHIP;
	s.order_id = x1;
	s.tracking = "T1";
	assert_int_equal(term_status(&n, &s), DROPNET__STATUS__CONFLICT);
	/* Another operator's claim is respected. */
	claim(&n, x1, "bob");
	assert_int_equal(ship_already(&n, x1, "ann", "T1"), DROPNET__STATUS__CLAIMED);

	/* The carrier log shows x1 left: bob records it. */
	assert_int_equal(ship_already(&n, x1, "bob", "T1"), DROPNET__STATUS__OK);
	assert_int_equal(hub_resent(&n, "x1"), -1); /* shipped: off the queue */
	assert_int_equal(hub_on_hand(&n, "hoodie"), 8);
	/* Twice is refused (it is shipped now). */
	assert_int_equal(ship_already(&n, x1, "bob", "T1"), DROPNET__STATUS__CONFLICT);
	sync_settle(&n);

	char st[32];
	placement_state(&n, "x1", st, sizeof(st));
	assert_string_equal(st, "shipped/T1");
	assert_int_equal(ledger(&n, "hoodie")->shipped, 2);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 8);
	assert_int_equal(ledger(&n, "hoodie")->row.allocated, 1); /* x2 */
	audit_clean(&n);

	/* x2 had not shipped: it is picked and shipped as usual. */
	do_pick_ship(&n, x2, "hoodie", 1);
	sync_settle(&n);
	placement_state(&n, "x2", st, sizeof(st));
	assert_string_equal(st, "shipped/TRK");
	assert_int_equal(ledger(&n, "hoodie")->shipped, 3);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 7);
	assert_int_equal(ledger(&n, "hoodie")->row.allocated, 0);
	assert_int_equal(hub_on_hand(&n, "hoodie"), 7);
	audit_clean(&n);
	net_down(&n);
}

/* A resent order that had not shipped: normal work; already_shipped is
 * refused once a unit is picked. */
static void test_resent_not_shipped(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resent");
	receive(&n, "cap", 5);
	sync_settle(&n);
	submit(&n, "y1", "cap", 2);
	sync_settle(&n);
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	sync_settle(&n);
	assert_int_equal(hub_resent(&n, "y1"), 1);
	uint64_t y1 = hub_order(&n, "y1");
	assert_int_equal(hub_on_hand(&n, "cap"), 5);

	/* One unit picked: it is being worked here, not a lost shipment. */
	char *scans[1] = { "cap" };
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_PICK;
	q.order_id = y1;
	q.scans = scans;
	q.n_scans = 1;
	term_ok(&n, &q);
	assert_int_equal(ship_already(&n, y1, "", "T9"), DROPNET__STATUS__CONFLICT);
	term_ok(&n, &q);
	Dropnet__TermRequest s = DROPNET__TERM_REQUEST__INIT;
	s.kind = DROPNET__TERM_KIND__TERM_SHIP;
	s.order_id = y1;
	s.tracking = "T9";
	term_ok(&n, &s);
	sync_settle(&n);
	char st[32];
	placement_state(&n, "y1", st, sizeof(st));
	assert_string_equal(st, "shipped/T9");
	assert_int_equal(ledger(&n, "cap")->shipped, 2);
	assert_int_equal(ledger(&n, "cap")->row.on_hand, 3);
	assert_int_equal(ledger(&n, "cap")->row.allocated, 0);
	assert_int_equal(hub_on_hand(&n, "cap"), 3);
	audit_clean(&n);
	net_down(&n);
}

static void count(net *n, const char *bin, const char *sku, int64_t qty)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_COUNT;
	q.bin = (char *)bin;
	q.sku = (char *)sku;
	q.qty = qty;
	term_ok(n, &q);
}

/* Staff count the shelves after the wipe before they resolve the resent
 * orders: the count already took the shipped units off both books. The
 * mark then takes what the book still holds, never below zero, as the
 * coordinator's ship does; both books stay equal, and a count after the
 * marks gives the truth. */
static void test_resent_counted_first(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resent");
	receive(&n, "mug", 3);
	receive(&n, "tee", 10);
	sync_settle(&n);
	submit(&n, "m1", "mug", 3); /* every mug */
	submit(&n, "t1", "tee", 4);
	sync_settle(&n);
	do_pick_ship(&n, hub_order(&n, "m1"), "mug", 3);
	do_pick_ship(&n, hub_order(&n, "t1"), "tee", 4);
	/* The truth: 0 mugs, 6 tees. The wipe loses both shipments. */
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "mug"), 3);
	assert_int_equal(hub_on_hand(&n, "tee"), 10);
	count(&n, "MAIN", "mug", 0);
	count(&n, "MAIN", "tee", 6);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "mug")->row.on_hand, 0);
	assert_int_equal(ledger(&n, "tee")->row.on_hand, 6);

	assert_int_equal(ship_already(&n, hub_order(&n, "m1"), "", "TM"), DROPNET__STATUS__OK);
	assert_int_equal(ship_already(&n, hub_order(&n, "t1"), "", "TT"), DROPNET__STATUS__OK);
	sync_settle(&n);
	/* Never below zero, and equal on both books. */
	assert_int_equal(hub_on_hand(&n, "mug"), 0);
	assert_int_equal(ledger(&n, "mug")->row.on_hand, 0);
	assert_int_equal(ledger(&n, "mug")->row.allocated, 0);
	assert_int_equal(ledger(&n, "mug")->shipped, 3);
	/* Taken twice (count and mark), on both books alike ... */
	assert_int_equal(hub_on_hand(&n, "tee"), 2);
	assert_int_equal(ledger(&n, "tee")->row.on_hand, 2);
	assert_int_equal(ledger(&n, "tee")->shipped, 4);
	/* ... until the count after the marks. */
	count(&n, "MAIN", "tee", 6);
	count(&n, "MAIN", "mug", 0);
	sync_settle(&n);
	assert_int_equal(hub_on_hand(&n, "tee"), 6);
	assert_int_equal(ledger(&n, "tee")->row.on_hand, 6);
	assert_int_equal(hub_on_hand(&n, "mug"), 0);
	assert_int_equal(ledger(&n, "mug")->row.on_hand, 0);
	audit_clean(&n);
	net_down(&n);
}

/* A sync request of the lost store, sent before the wipe and delivered
 * late, shares a batch with the new store's first one: it names the
 * coordinator too, but it must not count as the new book confirming its
 * seed (the seed was dropped before the new book took it). */
static void test_stale_request_keeps_seed(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resent");
	receive(&n, "hoodie", 10);
	sync_settle(&n);
	uint8_t *old = NULL, *neu = NULL;
	size_t old_len = 0, neu_len = 0;
	tick(&n);
	assert_int_equal(hub_sync_build(&n.h, &old, &old_len), 0);
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	tick(&n);
	assert_int_equal(hub_sync_build(&n.h, &neu, &neu_len), 0);
	mreq r[2];
	mreq_init(&r[0], old, old_len);
	mreq_init(&r[1], neu, neu_len);
	mreq *rp[2] = { &r[0], &r[1] };
	coord_hubsync_batch(&n.c, rp, 2);
	assert_true(r[1].replied);
	hub_sync_on_reply(&n.h, 0, r[1].reply, r[1].reply_len);
	mreq_fini(&r[0]);
	mreq_fini(&r[1]);
	free(old);
	free(neu);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 10);
	assert_int_equal(hub_on_hand(&n, "hoodie"), 10);
	audit_clean(&n);
	net_down(&n);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resent_already_shipped),
	    cmocka_unit_test(test_resent_not_shipped),
	    cmocka_unit_test(test_resent_counted_first),
	    cmocka_unit_test(test_stale_request_keeps_seed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
