/*
 * test_resync.c - store incarnations and resync (proto/SEMANTICS.md
 * "Incarnations and resync"), on the real coordinator and hub machines and
 * their real SQLite stores in a temp folder, in one process: the hub's
 * sync request goes straight into coord_hubsync_batch and the reply
 * straight back into hub_sync_on_reply.
 *
 * Goals:
 *  - a hub whose data dir was wiped comes back with a new incarnation: its
 *    new events (seq from 1 again) are applied, not dropped as re-sends; its
 *    open order is sent again, its shipped one is not; its empty book is
 *    seeded with the ledger's on-hand; audit is clean.
 *  - a coordinator restored from an older copy of its file is noticed: the
 *    hub re-sends the events the copy lacks (applied exactly once), orders
 *    the copy knew are not duplicated, and a new order after the restore
 *    takes an id the hub has never seen (it reaches the pick queue).
 *  - a hub that synced with one coordinator store is refused by another;
 *    a hub store restored from an older copy of itself is refused.
 */
#include "harness.h"

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	FILE *out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[65536];
	size_t k;
	while ((k = fread(buf, 1, sizeof(buf), in)) > 0) {
		assert_int_equal(fwrite(buf, 1, k, out), k);
	}
	fclose(in);
	fclose(out);
}

/* A round trip whose reply is lost on the way back: the coordinator
 * committed, the hub learns nothing. */
static void sync_lost(net *n)
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
	hub_sync_on_reply(&n->h, DN_ETIMEDOUT, NULL, 0);
	mreq_fini(&r);
	free(buf);
}

/* The hub's data dir is wiped and it starts again: new incarnation. */
static void test_hub_wiped(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resync");
	receive(&n, "hoodie", 10);
	sync_settle(&n);
	submit(&n, "o1", "hoodie", 2);
	submit(&n, "o2", "hoodie", 3);
	sync_settle(&n);
	uint64_t o1 = hub_order(&n, "o1");
	assert_true(o1 != 0 && hub_order(&n, "o2") != 0);
	do_pick_ship(&n, o1, "hoodie", 2);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 8);
	audit_clean(&n);

	/* Wipe: a new, empty hub.db. Its first event (seq 1 again) happens
	 * before it ever reaches the coordinator. */
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	receive(&n, "hoodie", 5);
	sync_settle(&n);

	/* The receipt was applied, not dropped as a re-send of seq 1. */
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 13);
	assert_int_equal(ledger(&n, "hoodie")->received, 15);
	/* The empty book took the ledger's 8 on top of its own 5. */
	assert_int_equal(hub_on_hand(&n, "hoodie"), 13);
	/* The open order came again; the shipped one did not. */
	uint64_t o2 = hub_order(&n, "o2");
	assert_true(o2 != 0);
	assert_int_equal(hub_order(&n, "o1"), 0);
	audit_clean(&n);

	/* Work goes on: o2 ships from the new book, both books agree. */
	do_pick_ship(&n, o2, "hoodie", 3);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "hoodie")->row.on_hand, 10);
	assert_int_equal(ledger(&n, "hoodie")->row.allocated, 0);
	assert_int_equal(hub_on_hand(&n, "hoodie"), 10);
	audit_clean(&n);
	net_down(&n);
}

/* The coordinator's file is restored from an older copy. */
static void test_coordinator_restored(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resync");
	char backup[320];
	snprintf(backup, sizeof(backup), "%s/backup.db", n.dir);
	receive(&n, "cap", 10);
	sync_settle(&n);
	submit(&n, "r1", "cap", 1);
	sync_settle(&n);
	uint64_t r1 = hub_order(&n, "r1");
	assert_true(r1 != 0);

	/* The backup: a copy of the closed file. */
	coord_close(&n.c);
	copy_file(n.coord_db, backup);
	coord_up(&n);

	/* Life goes on past the copy: a receipt, a new order, a shipment. */
	receive(&n, "cap", 4);
	submit(&n, "r2", "cap", 2);
	sync_settle(&n);
	uint64_t r2 = hub_order(&n, "r2");
	assert_true(r2 != 0);
	do_pick_ship(&n, r1, "cap", 1);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "cap")->row.on_hand, 13);

	/* Restore the copy. */
	coord_close(&n.c);
	rm_db(n.coord_db);
	copy_file(backup, n.coord_db);
	coord_up(&n);
	assert_int_equal(ledger(&n, "cap")->row.on_hand, 10);
	sync_settle(&n);

	/* The receipt and r1's shipment came again and counted once each. */
	assert_int_equal(ledger(&n, "cap")->row.on_hand, 13);
	assert_int_equal(ledger(&n, "cap")->received, 14);
	assert_int_equal(ledger(&n, "cap")->shipped, 1);
	assert_int_equal(hub_on_hand(&n, "cap"), 13);
	audit_clean(&n);

	/* A new order after the restore gets an id the hub never held, and
	 * reaches the pick queue (an id reused from the lost history would
	 * have been taken for a re-send of r2). */
	submit(&n, "r3", "cap", 1);
	sync_settle(&n);
	uint64_t r3 = hub_order(&n, "r3");
	assert_true(r3 != 0);
	assert_true(r3 > r2);
	assert_int_equal(hub_order(&n, "r2"), r2);
	do_pick_ship(&n, r3, "cap", 1);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "cap")->row.on_hand, 12);
	assert_int_equal(hub_on_hand(&n, "cap"), 12);
	net_down(&n);
}

/* The replies that carry a resync are lost, twice each: the decision is
 * taken again from the durable positions, the seed is taken once, events
 * count once. */
static void test_resync_replies_lost(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resync");
	char backup[320];
	snprintf(backup, sizeof(backup), "%s/backup.db", n.dir);
	receive(&n, "tee", 6);
	sync_settle(&n);
	submit(&n, "t1", "tee", 1);
	sync_settle(&n);

	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	hub_up(&n);
	receive(&n, "tee", 2);
	sync_lost(&n);
	sync_lost(&n);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "tee")->row.on_hand, 8);
	assert_int_equal(hub_on_hand(&n, "tee"), 8);
	assert_true(hub_order(&n, "t1") != 0);
	audit_clean(&n);

	coord_close(&n.c);
	copy_file(n.coord_db, backup);
	coord_up(&n);
	receive(&n, "tee", 1);
	sync_settle(&n);
	coord_close(&n.c);
	rm_db(n.coord_db);
	copy_file(backup, n.coord_db);
	coord_up(&n);
	sync_lost(&n);
	sync_lost(&n);
	sync_settle(&n);
	assert_int_equal(ledger(&n, "tee")->row.on_hand, 9);
	assert_int_equal(ledger(&n, "tee")->received, 9);
	assert_int_equal(hub_on_hand(&n, "tee"), 9);
	audit_clean(&n);
	net_down(&n);
}

/* A hub that synced with one coordinator store and meets another. */
static void test_foreign_coordinator(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resync");
	receive(&n, "mug", 3);
	sync_settle(&n);
	coord_close(&n.c);
	rm_db(n.coord_db);
	coord_up(&n);
	assert_int_equal(sync_once(&n), DROPNET__STATUS__CONFLICT);
	assert_false(n.h.coordinator_up);
	net_down(&n);
}

/* A hub's store restored from an older copy of itself (same incarnation):
 * its history ends before events already applied here. Refused loudly
 * (the documented way back is a new data dir), never taken as re-sends. */
static void test_hub_restored_refused(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "resync");
	char backup[320];
	snprintf(backup, sizeof(backup), "%s/backup.db", n.dir);
	receive(&n, "mug", 3);
	sync_settle(&n);
	hub_store_close(n.h.store);
	copy_file(n.hub_db, backup);
	hub_up(&n);
	receive(&n, "mug", 2);
	sync_settle(&n);
	hub_store_close(n.h.store);
	rm_db(n.hub_db);
	copy_file(backup, n.hub_db);
	hub_up(&n);
	assert_int_equal(sync_once(&n), DROPNET__STATUS__CONFLICT);
	assert_int_equal(ledger(&n, "mug")->row.on_hand, 5);
	net_down(&n);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hub_wiped),
	    cmocka_unit_test(test_coordinator_restored),
	    cmocka_unit_test(test_resync_replies_lost),
	    cmocka_unit_test(test_foreign_coordinator),
	    cmocka_unit_test(test_hub_restored_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
