/*
 * test_drops_evicted.c - the 128-drop memory cap (COORD_DROPS_MAX) never
 * changes an answer (issue 8: "a recreated evicted id fails with a
 * misleading error, a hold in an evicted drop can be confirmed, an old retry
 * gets INVALID instead of its journalled answer").
 *
 * Goal: with drop "old" pushed out of memory by 130 newer (closed) drops,
 *  - a retry of an order journalled in it gets its journalled answer;
 *  - CONFIRM of a hold in it is EXPIRED (the drop is closed), its units go
 *    back to sale and its tier's sold count is given back in the file;
 *  - creating "old" again is INVALID "already exists" (not UNAVAILABLE);
 *  - a new order naming it is CLOSED, and `drop show old` finds it.
 */
#include "harness.h"

static void evict_old(mt *m)
{
	for (int i = 0; i < 130; i++) {
		char id[16], sku[16];
		snprintf(id, sizeof(id), "n%03d", i);
		snprintf(sku, sizeof(sku), "s%03d", i);
		assert_int_equal(mt_drop_create(m, id, NULL, sku, 10, 0, MT_WALL0 - 1000,
		    MT_WALL0 + 3600000, false, NULL, 0), DROPNET__STATUS__OK);
		assert_int_equal(mt_ops_drop(m, DROPNET__OPS_KIND__OPS_DROP_CLOSE, id, NULL, 0),
		    DROPNET__STATUS__OK);
	}
	/* The premise: memory no longer holds the drop. */
	assert_null(coord_drop_find(m->c, "old"));
}

/* Drop "old" (sku a-tee, 10 units at london) with one accepted order
 * "k-acc" and one hold "k-hold" (1 h), closed, then pushed out of memory. */
static void setup_old(mt *m)
{
	mt_open(m);
	mt_hub_sync(m, "a-tee", 10);
	assert_int_equal(mt_drop_create(m, "old", NULL, "a-tee", 10, 0, MT_WALL0 - 1000,
	    MT_WALL0 + 3600000, false, NULL, 0), DROPNET__STATUS__OK);
	assert_int_equal(mt_ops_drop(m, DROPNET__OPS_KIND__OPS_DROP_OPEN, "old", NULL, 0),
	    DROPNET__STATUS__OK);
	assert_int_equal(mt_submit(m, "k-acc", "old", "a-tee", 1), DROPNET__STATUS__ACCEPTED);
	Dropnet__OrderAck *a = mt_order(m, "k-hold", "holder", "old", "pub", "a-tee", 1,
	    3600, DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__HELD);
	codec_order_ack_free(a);
	assert_int_equal(mt_stock(m, "a-tee", "allocated"), 2);
	assert_int_equal(mt_ops_drop(m, DROPNET__OPS_KIND__OPS_DROP_CLOSE, "old", NULL, 0),
	    DROPNET__STATUS__OK);
	evict_old(m);
}

static void test_old_retry_gets_journal(void **state)
{
	(void)state;
	mt m;
	setup_old(&m);
	Dropnet__OrderAck *a = mt_order(&m, "k-acc", "k-acc", "old", "pub", "a-tee", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	assert_true(a->duplicate);
	assert_string_equal(a->hub, "london");
	codec_order_ack_free(a);
	mt_close(&m);
}

static void test_evicted_hold_not_confirmed(void **state)
{
	(void)state;
	mt m;
	setup_old(&m);
	Dropnet__OrderAck *a = mt_order(&m, "k-hold", "holder", "", "", "a-tee", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_CONFIRM);
	assert_int_equal(a->status, DROPNET__STATUS__EXPIRED);
	codec_order_ack_free(a);
	assert_int_equal(mt_stock(&m, "a-tee", "allocated"), 1);
	assert_int_equal(mt_sql_int(&m, "SELECT status FROM orders WHERE order_key=?1",
	    "k-hold"), DROPNET__STATUS__EXPIRED);
	/* The tier gets its unit back in the file, as for a drop in memory. */
	assert_int_equal(mt_sql_int(&m, "SELECT sold FROM drop_tiers WHERE drop_id=?1"
	    " AND idx=0", "old"), 1);
	mt_close(&m);
}

static void test_evicted_id_exists(void **state)
{
	(void)state;
	mt m;
	setup_old(&m);
	char msg[200];
	assert_int_equal(mt_drop_create(&m, "old", NULL, "z-tee", 10, 0, MT_WALL0 - 1000,
	    MT_WALL0 + 3600000, false, msg, sizeof(msg)), DROPNET__STATUS__INVALID);
	assert_non_null(strstr(msg, "already exists"));
	mt_close(&m);
}

static void test_evicted_drop_answers(void **state)
{
	(void)state;
	mt m;
	setup_old(&m);
	/* A new order naming it: the drop is closed (journalled refusal). */
	assert_int_equal(mt_submit(&m, "k-new", "old", "a-tee", 1), DROPNET__STATUS__CLOSED);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders WHERE drop_id=?1",
	    "old"), 3);
	char msg[200];
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_SHOW, "old", NULL, 0),
	    DROPNET__STATUS__OK);
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_OPEN, "old", msg,
	    sizeof(msg)), DROPNET__STATUS__CONFLICT);
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_KPI, "old", NULL, 0),
	    DROPNET__STATUS__OK);
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_SHOW, "nope", NULL, 0),
	    DROPNET__STATUS__NOT_FOUND);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_old_retry_gets_journal),
	    cmocka_unit_test(test_evicted_hold_not_confirmed),
	    cmocka_unit_test(test_evicted_id_exists),
	    cmocka_unit_test(test_evicted_drop_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
