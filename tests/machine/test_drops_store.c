/*
 * test_drops_store.c - the drops' answers and rows through the typed store
 * (store_drops.c; issue 8 item 2: "same replies, same journal rows").
 *
 * Goal: pin down, figure by figure, what drops read back from and write to
 * the file - so moving their SQL (drops.c, drops_ops.c -> store_drops.c)
 * is checked to change no reply:
 *  - holdback at receipt, a manual release, and the holdback_log rows;
 *  - drop show (held back, released, tier sold, accepted) and KPIs (sell
 *    through per minute, fill per hub, rejections per status, buyers
 *    acquired and repeat rates, holdback totals, acceptances);
 *  - a lapsing hold gives its units back to the tier and the buyer's count
 *    in the file;
 *  - the same drop read back after a restart (drops and drop_tiers);
 *  - a proportional placement from past demand.
 * The figures were taken from the code before the move and hold after it.
 */
#include "harness.h"

#define HOUR_MS 3600000LL

static Dropnet__Status hold_release(mt *m, const char *drop, const char *sku, int64_t qty)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_HOLDBACK_RELEASE;
	q.drop_id = (char *)drop;
	q.sku = (char *)sku;
	q.qty = qty;
	q.hub = "london";
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	codec_ops_reply_free(rep);
	return st;
}

static Dropnet__Status order(mt *m, const char *key, const char *customer, uint32_t qty,
    uint32_t hold_seconds)
{
	Dropnet__OrderAck *a = mt_order(m, key, customer, "k", "pub", "k-tee", qty,
	    hold_seconds, DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	Dropnet__Status st = a->status;
	codec_order_ack_free(a);
	return st;
}

/* Drop "k" (k-tee, 20 units, 50% holdback) open at london with 10
 * received (5 held back), 2 released by hand; orders: a1 (a, 2), b1 (b, 1),
 * a2 (a, 1) accepted; x1 (x, 50) sold out; h1 (h, 1) held 60 s, lapsed. */
static void setup_k(mt *m)
{
	mt_open(m);
	mt_hub_sync(m, NULL, 0);
	assert_int_equal(mt_drop_create(m, "k", "Kay", "k-tee", 20, 50, MT_WALL0 - 1000,
	    MT_WALL0 + HOUR_MS, false, NULL, 0), DROPNET__STATUS__OK);
	mt_hub_sync(m, "k-tee", 10);
	assert_int_equal(mt_stock(m, "k-tee", "holdback"), 5);
	assert_int_equal(mt_ops_drop(m, DROPNET__OPS_KIND__OPS_DROP_OPEN, "k", NULL, 0),
	    DROPNET__STATUS__OK);
	assert_int_equal(hold_release(m, "k", "k-tee", 2), DROPNET__STATUS__OK);
	assert_int_equal(hold_release(m, "k", "k-tee", 4), DROPNET__STATUS__CONFLICT);
	assert_int_equal(mt_stock(m, "k-tee", "holdback"), 3);
	assert_int_equal(order(m, "a1", "a", 2, 0), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(order(m, "b1", "b", 1, 0), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(order(m, "a2", "a", 1, 0), DROPNET__STATUS__ACCEPTED);
	assert_int_equal(order(m, "x1", "x", 50, 0), DROPNET__STATUS__SOLD_OUT);
	assert_int_equal(order(m, "h1", "h", 1, 60), DROPNET__STATUS__HELD);
	assert_int_equal(mt_stock(m, "k-tee", "allocated"), 5);
	assert_int_equal(mt_sql_int(m, "SELECT sold FROM drop_tiers WHERE drop_id=?1", "k"), 5);
	for (int i = 0; i < 4; i++) {
		mt_pass(m, 16000);
		mt_hub_sync(m, NULL, 0);
		coord_tick(m->c);
	}
	assert_int_equal(mt_sql_int(m, "SELECT status FROM orders WHERE order_key=?1", "h1"),
	    DROPNET__STATUS__EXPIRED);
}

static void test_holdback_rows(void **state)
{
	(void)state;
	mt m;
	setup_k(&m);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM holdback_log WHERE drop_id=?1",
	    "k"), 2);
	assert_int_equal(mt_sql_int(&m, "SELECT qty FROM holdback_log WHERE drop_id=?1 AND"
	    " reason='drop_holdback' AND time_ms > 0", "k"), 5);
	assert_int_equal(mt_sql_int(&m, "SELECT qty FROM holdback_log WHERE drop_id=?1 AND"
	    " reason='manual'", "k"), -2);
	assert_int_equal(mt_sql_int(&m, "SELECT basis * 100 + held FROM drop_holdback"
	    " WHERE drop_id=?1 AND hub='london' AND sku='k-tee'", "k"), 1005);
	/* The lapsed hold gave its unit back to the tier and to h's count. */
	assert_int_equal(mt_sql_int(&m, "SELECT sold FROM drop_tiers WHERE drop_id=?1", "k"), 4);
	assert_int_equal(mt_sql_int(&m, "SELECT qty FROM buyer_counts WHERE drop_id=?1"
	    " AND customer='h'", "k"), 0);
	assert_int_equal(mt_sql_int(&m, "SELECT qty FROM buyer_counts WHERE drop_id=?1"
	    " AND customer='a'", "k"), 3);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM placements WHERE"
	    " state='lapsed'", NULL), 1);
	assert_int_equal(mt_stock(&m, "k-tee", "allocated"), 4);
	mt_close(&m);
}

static void check_show(mt *m, Dropnet__OpsKind kind)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = kind;
	q.drop_id = "k";
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->n_drops, 1);
	Dropnet__Drop *d = rep->drops[0];
	assert_string_equal(d->id, "k");
	assert_string_equal(d->name, "Kay");
	assert_string_equal(d->state, "open");
	assert_int_equal(d->accepted_orders, 3);
	assert_int_equal(d->held_back, 3);
	assert_int_equal(d->released, 2);
	assert_int_equal(d->n_tiers, 1);
	assert_int_equal(d->tiers[0]->sold, 4);
	assert_int_equal(d->created_ms, MT_WALL0);
	codec_ops_reply_free(rep);
}

static void test_show_and_reload(void **state)
{
	(void)state;
	mt m;
	setup_k(&m);
	check_show(&m, DROPNET__OPS_KIND__OPS_DROP_SHOW);
	check_show(&m, DROPNET__OPS_KIND__OPS_DROP_LIST);
	/* A restart reads drops and drop_tiers back: the same answers. */
	coord_config cfg = m.c->cfg;
	coord_close(m.c);
	memset(m.c, 0, sizeof(*m.c));
	m.c->cfg = cfg;
	m.c->split = ROUTE_SPLIT_NEVER;
	mt_clock(&m, 5, m.wall + 1000);
	mt_open_at(&m);
	mt_hub_sync(&m, NULL, 0);
	assert_non_null(coord_drop_find(m.c, "k"));
	check_show(&m, DROPNET__OPS_KIND__OPS_DROP_SHOW);
	check_show(&m, DROPNET__OPS_KIND__OPS_DROP_LIST);
	/* Closed, and still shown from memory with the same figures. */
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_CLOSE, "k", NULL, 0),
	    DROPNET__STATUS__OK);
	assert_int_equal(mt_sql_int(&m, "SELECT state FROM drops WHERE id=?1", "k"), 2);
	mt_close(&m);
}

static void test_kpi(void **state)
{
	(void)state;
	mt m;
	setup_k(&m);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_KPI;
	q.drop_id = "k";
	Dropnet__OpsReply *rep = mt_ops(&m, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	Dropnet__DropKpi *k = rep->kpi;
	assert_non_null(k);
	assert_string_equal(k->drop_id, "k");
	assert_int_equal(k->n_sell_through, 1);
	assert_int_equal(k->sell_through[0]->minute_ms, MT_WALL0 / 60000 * 60000);
	assert_int_equal(k->sell_through[0]->units, 4);
	/* a1, b1, a2 accepted and x1 sold out, all nearest london. */
	assert_int_equal(k->n_fill, 1);
	assert_string_equal(k->fill[0]->hub, "london");
	assert_int_equal(k->fill[0]->orders, 4);
	assert_int_equal(k->fill[0]->filled, 3);
	assert_int_equal(k->fill[0]->filled_here, 3);
	assert_true(k->fill_within_radius > 0.749 && k->fill_within_radius < 0.751);
	assert_int_equal(k->shipped_orders, 0);
	assert_int_equal(k->fulfil_p50_ms, 0);
	/* a and b came with this drop; a ordered again. */
	assert_int_equal(k->buyers_acquired, 2);
	assert_true(k->repeat_rate > 0.499 && k->repeat_rate < 0.501);
	assert_int_equal(k->gift_buyers, 0);
	assert_true(k->gift_repeat_rate == 0);
	assert_int_equal(k->nongift_first_buyers, 2);
	assert_true(k->nongift_repeat_rate > 0.499 && k->nongift_repeat_rate < 0.501);
	assert_int_equal(k->n_rejections, 2);
	assert_int_equal(k->rejections[0]->orders, 1);
	assert_int_equal(k->rejections[1]->orders, 1);
	bool sold_out = false, expired = false;
	for (size_t i = 0; i < 2; i++) {
		sold_out |= strcmp(k->rejections[i]->reason, "SOLD_OUT") == 0;
		expired |= strcmp(k->rejections[i]->reason, "EXPIRED") == 0;
	}
	assert_true(sold_out && expired);
	assert_int_equal(k->held_back, 5);
	assert_int_equal(k->released, 2);
	assert_int_equal(k->accepted_orders, 3);
	assert_int_equal(k->accepted_units, 4);
	codec_ops_reply_free(rep);
	mt_close(&m);
}

/* A second drop placed in proportion to past demand: every order so far
 * was nearest london, the only hub, so london gets every unit. */
static void test_proportional(void **state)
{
	(void)state;
	mt m;
	setup_k(&m);
	Dropnet__DropSku s = DROPNET__DROP_SKU__INIT;
	s.sku = "p-tee";
	s.units = 7;
	s.placement_proportional = true;
	Dropnet__Tier t = DROPNET__TIER__INIT;
	t.name = "pub";
	t.opens_ms = MT_WALL0;
	t.closes_ms = MT_WALL0 + HOUR_MS;
	Dropnet__OpsReply *rep = mt_drop_send(&m, "p", NULL, NULL, &s, &t);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
	Dropnet__OpsRequest sq = DROPNET__OPS_REQUEST__INIT;
	sq.kind = DROPNET__OPS_KIND__OPS_DROP_SHOW;
	sq.drop_id = "p";
	rep = mt_ops(&m, &sq);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_string_equal(rep->drops[0]->state, "draft");
	assert_int_equal(rep->drops[0]->skus[0]->n_placement, 1);
	assert_string_equal(rep->drops[0]->skus[0]->placement[0]->hub, "london");
	assert_int_equal(rep->drops[0]->skus[0]->placement[0]->units, 7);
	codec_ops_reply_free(rep);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM drop_tiers WHERE drop_id=?1",
	    "p"), 1);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_holdback_rows),
	    cmocka_unit_test(test_show_and_reload),
	    cmocka_unit_test(test_kpi),
	    cmocka_unit_test(test_proportional),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
