/*
 * test_drops_bounds.c - nothing a storefront or an operator sends can put an
 * unbounded string into the coordinator's journal (issue 8: "SubmitOrder.tier
 * is journalled without validation (a 1 MiB tier name per refused order)").
 *
 * Goal: a refused order with a 1 MiB tier is answered INVALID (field tier)
 * and leaves no row; a valid but unknown tier is still refused
 * TIER_NOT_ALLOWED and journalled with its (bounded) tier; a drop spec with
 * a 1 MiB name is refused and not stored; a hub's EV_SHIPPED with a 1 MiB
 * tracking id still ships the order but stores no tracking.
 */
#include "harness.h"

/* Close to the 1 MiB message cap, so the SubmitOrder still decodes. */
#define HUGE_LEN (1024u * 1024u - 4096u)

static char *huge_string(void)
{
	char *s = malloc(HUGE_LEN + 1);
	assert_non_null(s);
	memset(s, 't', HUGE_LEN);
	s[HUGE_LEN] = '\0';
	return s;
}

static void test_huge_tier_refused_not_journalled(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	assert_int_equal(mt_drop_create(&m, "d1", NULL, "tee", 100, 0, MT_WALL0 - 1000,
	    MT_WALL0 + 3600000, false, NULL, 0), DROPNET__STATUS__OK);
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_OPEN, "d1", NULL, 0),
	    DROPNET__STATUS__OK);
	char *tier = huge_string();
	for (int i = 0; i < 3; i++) {
		char key[16];
		snprintf(key, sizeof(key), "huge-%d", i);
		Dropnet__OrderAck *a = mt_order(&m, key, "c1", "d1", tier, "tee", 1, 0,
		    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
		assert_int_equal(a->status, DROPNET__STATUS__INVALID);
		assert_string_equal(a->field, "tier");
		codec_order_ack_free(a);
	}
	/* 65 characters: one over the bound. */
	char t65[66];
	memset(t65, 'a', 65);
	t65[65] = '\0';
	Dropnet__OrderAck *a = mt_order(&m, "long-65", "c1", "d1", t65, "tee", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__INVALID);
	assert_string_equal(a->field, "tier");
	codec_order_ack_free(a);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 0);
	/* A bounded unknown tier is a journalled refusal, as before. */
	a = mt_order(&m, "unknown-tier", "c1", "d1", "vip", "tee", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__TIER_NOT_ALLOWED);
	codec_order_ack_free(a);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 1);
	assert_true(mt_sql_int(&m, "SELECT MAX(length(tier) + length(ack) +"
	    " length(route)) FROM orders", NULL) < 4096);
	free(tier);
	mt_close(&m);
}

static void test_huge_drop_name_refused(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	char *name = huge_string();
	char msg[200];
	assert_int_equal(mt_drop_create(&m, "d-huge", name, "tee", 100, 0, MT_WALL0 - 1000,
	    MT_WALL0 + 3600000, false, msg, sizeof(msg)), DROPNET__STATUS__INVALID);
	assert_non_null(strstr(msg, "name"));
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM drops", NULL), 0);
	free(name);
	/* A title is fine. */
	assert_int_equal(mt_drop_create(&m, "d-ok", "Winter capsule, 2026", "tee", 100, 0,
	    MT_WALL0 - 1000, MT_WALL0 + 3600000, false, NULL, 0), DROPNET__STATUS__OK);
	mt_close(&m);
}

/* Hub london reports placement pid shipped (one line) with tracking. */
static void ship(mt *m, int64_t pid, const char *sku, uint32_t qty, const char *tracking)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lp = &l;
	l.sku = (char *)sku;
	l.qty = qty;
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	e.seq = m->hub_seq + 1;
	e.kind = DROPNET__EVENT_KIND__EV_SHIPPED;
	e.order_id = (uint64_t)pid;
	e.n_lines = 1;
	e.lines = &lp;
	e.tracking = (char *)tracking;
	e.time_ms = m->wall;
	assert_int_equal(mt_hub_sync_events(m, &ep, 1), DROPNET__STATUS__OK);
}

static void test_huge_tracking_not_journalled(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 5);
	assert_int_equal(mt_submit(&m, "ship-1", NULL, "tee", 2), DROPNET__STATUS__ACCEPTED);
	int64_t pid = mt_sql_int(&m, "SELECT MAX(id) FROM placements", NULL);
	char *tracking = huge_string();
	ship(&m, pid, "tee", 2, tracking);
	free(tracking);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM placements WHERE"
	    " state='shipped'", NULL), 1);
	assert_true(mt_sql_int(&m, "SELECT MAX(length(tracking)) FROM placements", NULL)
	    <= DN_ID_MAX);
	assert_int_equal(mt_stock(&m, "tee", "on_hand"), 3);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_huge_tier_refused_not_journalled),
	    cmocka_unit_test(test_huge_drop_name_refused),
	    cmocka_unit_test(test_huge_tracking_not_journalled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
