/*
 * test_activations.c - activations in the coordinator machine (issue 12,
 * "Money KPIs"), driven in-process on a real SQLite file (harness.h):
 *  - add and list: each activation's cost, the drop's accepted orders
 *    received in its window [from, to) and their revenue, and revenue per
 *    unit of cost (ROI); the same rows and the total cost in OPS_KPI; they
 *    survive a restart;
 *  - bounds: kind, name, cost 0..10^12, from < to, a known priced drop, a
 *    name unique in the drop, at most 256 per drop; every refusal writes
 *    nothing;
 *  - a van's transfers shipped in its window are counted;
 *  - the ROI arithmetic (coord_activation_roi).
 */
#include "harness.h"

#define MIN_MS 60000LL

/* Drop "pd": p-tee at 6000 GBP in tier "pub" (open now for an hour);
 * 50 units at london. */
static void setup(mt *m)
{
	mt_open(m);
	mt_hub_sync(m, "p-tee", 50);
	mt_drop_priced(m, "pd", "p-tee", 50, 6000);
}

static Dropnet__Status act_add(mt *m, const char *drop, const char *kind, const char *name,
    int64_t cost, int64_t from, int64_t to)
{
	Dropnet__Activation a = DROPNET__ACTIVATION__INIT;
	a.drop_id = (char *)drop;
	a.kind = (char *)kind;
	a.name = (char *)name;
	a.cost_minor = cost;
	a.from_ms = from;
	a.to_ms = to;
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_ACTIVATION_ADD;
	q.activation = &a;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	codec_ops_reply_free(rep);
	return st;
}

static Dropnet__OpsReply *act_list(mt *m, const char *drop)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_ACTIVATION_LIST;
	q.drop_id = (char *)drop;
	return mt_ops(m, &q);
}

static int64_t act_rows(mt *m)
{
	return mt_sql_int(m, "SELECT COUNT(*) FROM activations", NULL);
}

/* Submits qty p-tee as order key; returns the total it was charged. */
static int64_t buy(mt *m, const char *key, uint32_t qty)
{
	Dropnet__OrderAck *a = mt_order(m, key, key, "pd", "pub", "p-tee", qty, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	int64_t total = a->total_minor;
	assert_true(total > 0);
	codec_order_ack_free(a);
	return total;
}

/* Checks the two activations of test_add_list: "stream" (3000, one order
 * of ra) then "popup" (cost 0, one order of rb). */
static void check_rows(Dropnet__Activation *const *a, size_t n, int64_t ra, int64_t rb)
{
	assert_int_equal(n, 2);
	assert_string_equal(a[0]->name, "stream");
	assert_string_equal(a[0]->kind, "livestream");
	assert_string_equal(a[0]->drop_id, "pd");
	assert_int_equal(a[0]->cost_minor, 3000);
	assert_int_equal(a[0]->orders, 1);
	assert_int_equal(a[0]->revenue_minor, ra);
	assert_true(a[0]->has_roi);
	assert_true(a[0]->roi > (double)ra / 3000.0 - 1e-9 &&
	    a[0]->roi < (double)ra / 3000.0 + 1e-9);
	assert_string_equal(a[1]->name, "popup");
	assert_int_equal(a[1]->cost_minor, 0);
	assert_int_equal(a[1]->orders, 1);
	assert_int_equal(a[1]->revenue_minor, rb);
	assert_false(a[1]->has_roi);
}

/* Goal: revenue lands in the activation whose [from, to) holds the
 * order's arrival - an order at exactly the popup's start belongs to the
 * popup, not to the stream that ends there; one after both belongs to
 * none; KPI and list agree and survive a restart. */
static void test_add_list(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	int64_t t0 = m.wall;
	assert_int_equal(act_add(&m, "pd", "livestream", "stream", 3000, t0, t0 + 10 * MIN_MS),
	    DROPNET__STATUS__OK);
	assert_int_equal(act_add(&m, "pd", "popup", "popup", 0, t0 + 10 * MIN_MS,
	    t0 + 20 * MIN_MS), DROPNET__STATUS__OK);
	int64_t ra = buy(&m, "o-a", 1);
	mt_pass(&m, 10 * MIN_MS);
	int64_t rb = buy(&m, "o-b", 2);
	assert_int_equal(rb, 2 * ra);
	mt_pass(&m, 15 * MIN_MS);
	(void)buy(&m, "o-c", 1);

	Dropnet__OpsReply *r = act_list(&m, "pd");
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_string_equal(r->currency, "GBP");
	check_rows(r->activations, r->n_activations, ra, rb);
	codec_ops_reply_free(r);

	coord_close(m.c);
	mt_pass(&m, 1000);
	mt_open_at(&m);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_KPI;
	q.drop_id = "pd";
	r = mt_ops(&m, &q);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_non_null(r->kpi);
	check_rows(r->kpi->activations, r->kpi->n_activations, ra, rb);
	assert_int_equal(r->kpi->activation_cost_minor, 3000);
	assert_int_equal(r->kpi->revenue_minor, 4 * ra);
	codec_ops_reply_free(r);
	mt_close(&m);
}

/* Goal: every out-of-bounds activation is refused with INVALID (or
 * NOT_FOUND / CONFLICT) and nothing is written; the bounds themselves
 * are accepted; the 257th activation of a drop is refused. */
static void test_bounds(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	int64_t t = m.wall;
	const Dropnet__Status inv = DROPNET__STATUS__INVALID;
	assert_int_equal(act_add(&m, "pd", "tv", "x", 1, t, t + 1), inv);
	assert_int_equal(act_add(&m, "pd", "", "x", 1, t, t + 1), inv);
	assert_int_equal(act_add(&m, "pd", "van", "", 1, t, t + 1), inv);
	assert_int_equal(act_add(&m, "pd", "van", "a b", 1, t, t + 1), inv);
	assert_int_equal(act_add(&m, "pd", "van",
	    "x123456789x123456789x123456789x123456789x123456789x123456789abcde", 1, t, t + 1),
	    inv);
	assert_int_equal(act_add(&m, "pd", "van", "x", -1, t, t + 1), inv);
	assert_int_equal(act_add(&m, "pd", "van", "x", COORD_ACTIVATION_COST_MAX + 1, t, t + 1),
	    inv);
	assert_int_equal(act_add(&m, "pd", "van", "x", 1, t, t), inv);
	assert_int_equal(act_add(&m, "pd", "van", "x", 1, t + 1, t), inv);
	assert_int_equal(act_add(&m, "pd", "van", "x", 1, -5, t), inv);
	assert_int_equal(act_add(&m, "nope", "van", "x", 1, t, t + 1),
	    DROPNET__STATUS__NOT_FOUND);
	char msg[200];
	mt_hub_sync(&m, "f-tee", 5);
	assert_int_equal(mt_drop_create(&m, "free", NULL, "f-tee", 1, 0, t, t + 3600000, false,
	    msg, sizeof(msg)), DROPNET__STATUS__OK);
	assert_int_equal(act_add(&m, "free", "van", "x", 1, t, t + 1), inv);
	assert_int_equal(act_rows(&m), 0);

	/* The bounds themselves, 64-character name included. */
	assert_int_equal(act_add(&m, "pd", "other",
	    "x123456789x123456789x123456789x123456789x123456789x123456789abcd",
	    COORD_ACTIVATION_COST_MAX, 0, t + 1), DROPNET__STATUS__OK);
	assert_int_equal(act_add(&m, "pd", "van", "v", 0, t, t + 1), DROPNET__STATUS__OK);
	assert_int_equal(act_add(&m, "pd", "popup", "v", 5, t, t + 1), DROPNET__STATUS__CONFLICT);
	assert_int_equal(act_rows(&m), 2);
	for (unsigned i = 2; i < COORD_ACTIVATIONS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "a%u", i);
		assert_int_equal(act_add(&m, "pd", "other", name, 1, t, t + 1), DROPNET__STATUS__OK);
	}
	assert_int_equal(act_add(&m, "pd", "other", "one-more", 1, t, t + 1), inv);
	assert_int_equal(act_rows(&m), COORD_ACTIVATIONS_MAX);
	Dropnet__OpsReply *r = act_list(&m, "pd");
	assert_int_equal(r->n_activations, COORD_ACTIVATIONS_MAX);
	codec_ops_reply_free(r);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_KPI;
	q.drop_id = "pd";
	r = mt_ops(&m, &q);
	assert_int_equal(r->kpi->n_activations, COORD_ACTIVATIONS_MAX);
	assert_int_equal(r->kpi->activation_cost_minor,
	    COORD_ACTIVATION_COST_MAX + (int64_t)COORD_ACTIVATIONS_MAX - 2);
	codec_ops_reply_free(r);
	r = act_list(&m, "nope");
	assert_int_equal(r->status, DROPNET__STATUS__NOT_FOUND);
	codec_ops_reply_free(r);
	mt_close(&m);
}

/* Goal: a van trip shows the transfers shipped in its window (seeded
 * straight into the file: one in, one at its end, one not shipped); a
 * livestream over the same window shows none. */
static void test_van_transfers(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	int64_t t = m.wall;
	char sql[512];
	snprintf(sql, sizeof(sql), "INSERT INTO transfers(id, sku, from_hub, to_hub, qty, state,"
	    " placement_id, created_ms, shipped_ms) VALUES"
	    " ('t1','p-tee','london','leeds',3,'shipped',0,%lld,%lld),"
	    " ('t2','p-tee','london','leeds',3,'shipped',0,%lld,%lld),"
	    " ('t3','p-tee','london','leeds',3,'planned',0,%lld,0)",
	    (long long)t, (long long)(t + MIN_MS), (long long)t, (long long)(t + 10 * MIN_MS),
	    (long long)t);
	assert_int_equal(sqlite3_exec(m.c->db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(act_add(&m, "pd", "van", "van-1", 1500, t, t + 10 * MIN_MS),
	    DROPNET__STATUS__OK);
	assert_int_equal(act_add(&m, "pd", "livestream", "ls", 1500, t, t + 10 * MIN_MS),
	    DROPNET__STATUS__OK);
	Dropnet__OpsReply *r = act_list(&m, "pd");
	assert_int_equal(r->n_activations, 2);
	assert_string_equal(r->activations[0]->name, "ls");
	assert_int_equal(r->activations[0]->transfers, 0);
	assert_string_equal(r->activations[1]->name, "van-1");
	assert_int_equal(r->activations[1]->transfers, 1);
	assert_int_equal(r->activations[1]->orders, 0);
	assert_true(r->activations[1]->has_roi);
	assert_true(r->activations[1]->roi == 0.0);
	codec_ops_reply_free(r);
	mt_close(&m);
}

/* Goal: ROI is revenue / cost; no ROI for a cost of 0. */
static void test_roi(void **state)
{
	(void)state;
	double roi = -1;
	assert_true(coord_activation_roi(5000, 2000, &roi));
	assert_true(roi == 2.5);
	assert_true(coord_activation_roi(0, 2000, &roi));
	assert_true(roi == 0.0);
	assert_false(coord_activation_roi(5000, 0, &roi));
	assert_true(roi == 0.0);
	assert_true(coord_activation_roi(INT64_MAX / 2, 1, &roi));
	assert_true(roi > 4.6e18);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_list),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_van_transfers),
	    cmocka_unit_test(test_roi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
