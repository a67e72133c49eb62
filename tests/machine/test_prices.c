/*
 * test_prices.c - prices in the coordinator machine (issue 12), driven
 * in-process on a real SQLite file (harness.h):
 *  - a quote is answered from memory: the coordinator's connection makes no
 *    change to the file (sqlite3_total_changes) and opens no transaction;
 *  - the ingest envelope: an order in an IngestRequest gets an IngestReply
 *    with its ack; a bare SubmitOrder still gets a bare OrderAck; a batch
 *    is refused per order (INVALID, not journalled); garbage is MALFORMED;
 *  - the price is journalled with the order (order_lines.unit_minor,
 *    orders.total_minor, currency) and a retry returns it unchanged;
 *  - a quote token survives a restart (its key is in the file) and locks
 *    the price across a live price change.
 */
#include "harness.h"
#include "core/price.h"
#include "io/qtoken.h"

#define MIN_MS 60000LL

/* Drop "pd": p-tee at 6000 GBP in tier "pub" (open an hour from now),
 * floor 4000, ceiling 9000; 20 units at london; open. */
static void setup(mt *m)
{
	mt_open(m);
	mt_hub_sync(m, "p-tee", 20);
	mt_drop_priced(m, "pd", "p-tee", 20, 6000);
}

/* A quote of p-tee for customer; the reply (free with
 * codec_ingest_reply_free). */
static Dropnet__IngestReply *quote(mt *m, const char *customer)
{
	return mt_quote(m, "pd", "pub", "p-tee", customer);
}

/* A SubmitOrder of qty p-tee for key/customer with token (may be ""). */
static void order_fill(Dropnet__SubmitOrder *o, Dropnet__OrderLine *l,
    Dropnet__OrderLine **lp, const char *key, const char *token, uint32_t qty)
{
	dropnet__order_line__init(l);
	l->sku = "p-tee";
	l->qty = qty;
	l->quote_token = (char *)token;
	*lp = l;
	dropnet__submit_order__init(o);
	o->version = DN_PROTO_VERSION;
	o->order_key = (char *)key;
	o->customer = (char *)key;
	o->n_lines = 1;
	o->lines = lp;
	o->lat = MT_LAT;
	o->lon = MT_LON;
	o->drop_id = "pd";
	o->tier = "pub";
}

/* A bare SubmitOrder; the bare ack (free with codec_order_ack_free). */
static Dropnet__OrderAck *order_bare(mt *m, const char *key, const char *token,
    uint32_t qty)
{
	Dropnet__OrderLine l, *lp;
	Dropnet__SubmitOrder o;
	order_fill(&o, &l, &lp, key, token, qty);
	uint8_t *buf = NULL, *rep = NULL;
	size_t len = 0, rlen = 0;
	assert_int_equal(codec_submit_order_pack(&o, &buf, &len), 0);
	rep = mt_ingest_raw(m, buf, len, &rlen);
	Dropnet__OrderAck *ack = NULL;
	assert_int_equal(codec_order_ack_unpack(rep, rlen, &ack), 0);
	free(buf);
	free(rep);
	return ack;
}

/* Goal: a quote changes nothing in the file (the machine's connection
 * makes no change) and answers the price, IN_STOCK and a token. */
static void test_quote_writes_nothing(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	int before = sqlite3_total_changes(m.c->db);
	Dropnet__IngestReply *r = quote(&m, "ann");
	assert_int_equal(sqlite3_total_changes(m.c->db), before);
	assert_true(sqlite3_get_autocommit(m.c->db));
	assert_int_equal(r->quote->status, DROPNET__STATUS__OK);
	assert_string_equal(r->quote->currency, "GBP");
	assert_int_equal(r->quote->n_prices, 1);
	assert_int_equal(r->quote->prices[0]->unit_minor, 6000);
	assert_string_equal(r->quote->prices[0]->rule, "base");
	assert_int_equal(r->quote->prices[0]->availability, DROPNET__AVAILABILITY__IN_STOCK);
	assert_true(strlen(r->quote->prices[0]->token) > 64);
	assert_int_equal(r->quote->prices[0]->expires_ms, m.wall + 600000);
	codec_ingest_reply_free(r);
	/* Counted for /metrics: one quote answered OK, no other status. */
	assert_int_equal(m.c->metrics.quotes[DROPNET__STATUS__OK], 1);
	assert_int_equal(m.c->metrics.quotes[DROPNET__STATUS__NOT_FOUND], 0);
	mt_close(&m);
}

/* Goal: the envelope's shapes. An enveloped order gets an IngestReply with
 * its ack (and the price); a bare one a bare OrderAck; a batch's orders
 * priced and journalled each; garbage MALFORMED. */
static void test_envelope(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	Dropnet__OrderLine l, *lp;
	Dropnet__SubmitOrder o;
	order_fill(&o, &l, &lp, "env-1", "", 2);
	Dropnet__IngestRequest e = DROPNET__INGEST_REQUEST__INIT;
	e.kind_case = DROPNET__INGEST_REQUEST__KIND_ORDER;
	e.order = &o;
	Dropnet__IngestReply *r = mt_ingest_env(&m, &e);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(r->ack->status, DROPNET__STATUS__ACCEPTED);
	assert_int_equal(r->ack->n_prices, 1);
	assert_int_equal(r->ack->prices[0]->unit_minor, 6000);
	assert_int_equal(r->ack->total_minor, 12000);
	codec_ingest_reply_free(r);

	Dropnet__OrderAck *a = order_bare(&m, "bare-1", "", 1);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	assert_int_equal(a->total_minor, 6000);
	assert_string_equal(a->currency, "GBP");
	codec_order_ack_free(a);

	Dropnet__SubmitOrder *ops[1] = {&o};
	o.order_key = "batch-1";
	Dropnet__SubmitBatch b = DROPNET__SUBMIT_BATCH__INIT;
	b.n_orders = 1;
	b.orders = ops;
	Dropnet__IngestRequest eb = DROPNET__INGEST_REQUEST__INIT;
	eb.kind_case = DROPNET__INGEST_REQUEST__KIND_BATCH;
	eb.batch = &b;
	r = mt_ingest_env(&m, &eb);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_BATCH);
	assert_int_equal(r->batch->n_acks, 1);
	assert_int_equal(r->batch->acks[0]->status, DROPNET__STATUS__ACCEPTED);
	assert_string_equal(r->batch->acks[0]->order_key, "batch-1");
	/* A batched order is priced and journalled like any other. */
	assert_int_equal(r->batch->acks[0]->total_minor, 12000);
	codec_ingest_reply_free(r);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders WHERE order_key=?1",
	    "batch-1"), 1);

	const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
	size_t rlen = 0;
	uint8_t *rep = mt_ingest_raw(&m, junk, sizeof(junk), &rlen);
	a = NULL;
	assert_int_equal(codec_order_ack_unpack(rep, rlen, &a), 0);
	assert_int_equal(a->status, DROPNET__STATUS__MALFORMED);
	codec_order_ack_free(a);
	free(rep);
	mt_close(&m);
}

/* Goal: the price is journalled with the order, and a retry after the
 * price moved (a live price) returns the first price. */
static void test_journal_and_retry(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	Dropnet__OrderAck *a = order_bare(&m, "j-1", "", 3);
	assert_int_equal(a->prices[0]->unit_minor, 6000);
	codec_order_ack_free(a);
	assert_int_equal(mt_sql_int(&m, "SELECT o.total_minor FROM orders o WHERE"
	    " o.order_key=?1", "j-1"), 18000);
	assert_int_equal(mt_sql_int(&m, "SELECT l.unit_minor FROM orders o JOIN order_lines l"
	    " ON l.order_id=o.id WHERE o.order_key=?1", "j-1"), 6000);
	assert_int_equal(mt_sql_int(&m, "SELECT currency='GBP' FROM orders WHERE"
	    " order_key=?1", "j-1"), 1);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_PRICE_LIVE;
	q.drop_id = "pd";
	q.sku = "p-tee";
	q.price_minor = 4500;
	q.minutes = 10;
	Dropnet__OpsReply *rep = mt_ops(&m, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
	a = order_bare(&m, "j-1", "", 3);
	assert_true(a->duplicate);
	assert_int_equal(a->prices[0]->unit_minor, 6000);
	assert_int_equal(a->total_minor, 18000);
	codec_order_ack_free(a);
	a = order_bare(&m, "j-2", "", 1);
	assert_int_equal(a->prices[0]->unit_minor, 4500);
	assert_string_equal(a->prices[0]->rule, "live");
	codec_order_ack_free(a);
	mt_close(&m);
}

/* Goal: a token made before a restart locks its price after it, across a
 * live price; the same token with another customer's order does not. */
static void test_token_survives_restart(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	Dropnet__IngestReply *r = quote(&m, "tok-1");
	char token[QTOKEN_MAX];
	snprintf(token, sizeof(token), "%s", r->quote->prices[0]->token);
	codec_ingest_reply_free(r);
	coord_close(m.c);
	mt_pass(&m, 1000);
	mt_open_at(&m);
	mt_hub_sync(&m, "p-tee", 0);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_PRICE_LIVE;
	q.drop_id = "pd";
	q.sku = "p-tee";
	q.price_minor = 8000;
	q.minutes = 10;
	Dropnet__OpsReply *rep = mt_ops(&m, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
	Dropnet__OrderAck *a = order_bare(&m, "tok-1", token, 1);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	assert_int_equal(a->prices[0]->unit_minor, 6000);
	assert_string_equal(a->prices[0]->rule, "quote");
	codec_order_ack_free(a);
	assert_int_equal(m.c->metrics.quote_tokens_invalid, 0);
	a = order_bare(&m, "tok-2", token, 1);
	assert_int_equal(a->prices[0]->unit_minor, 8000);
	assert_string_equal(a->prices[0]->rule, "live");
	codec_order_ack_free(a);
	/* Another buyer's token is counted refused (invalid), not lapsed. */
	assert_int_equal(m.c->metrics.quote_tokens_invalid, 1);
	assert_int_equal(m.c->metrics.quote_tokens_lapsed, 0);
	mt_close(&m);
}

static Dropnet__Status experiment_op(mt *m, Dropnet__OpsKind kind, const char *id,
    Dropnet__OpsReply **out)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = kind;
	q.experiment_id = (char *)id;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	Dropnet__Status st = rep->status;
	if (out != NULL) {
		*out = rep;
	} else {
		codec_ops_reply_free(rep);
	}
	return st;
}

/* Goal: an experiment of two arms (5000, 7000) over 10,000 customers'
 * quotes: exposures split 50/50 within 2 points (counted in memory, then
 * written with the next group commit); a customer's arm is sticky from
 * quote to order; outcomes counted per arm; arms outside the bounds are
 * refused; after stop, quotes carry no arm. */
static void test_experiment(void **state)
{
	(void)state;
	mt m;
	setup(&m);
	/* 9500 is over the ceiling; then the id is taken. */
	assert_int_equal(mt_experiment_create(&m, "x1", "pd", "p-tee", 5000, 9500),
	    DROPNET__STATUS__INVALID);
	assert_int_equal(mt_experiment_create(&m, "x1", "pd", "p-tee", 5000, 7000),
	    DROPNET__STATUS__OK);
	assert_int_equal(mt_experiment_create(&m, "x1", "pd", "p-tee", 5000, 7000),
	    DROPNET__STATUS__CONFLICT);
	Dropnet__OpsReply *rep = NULL;

	char cust[32];
	size_t low = 0;
	for (int i = 0; i < 10000; i++) {
		snprintf(cust, sizeof(cust), "c%d", i);
		Dropnet__IngestReply *r = quote(&m, cust);
		const Dropnet__QuotePrice *p = r->quote->prices[0];
		bool is_low = strcmp(p->arm, "low") == 0;
		assert_true(is_low || strcmp(p->arm, "high") == 0);
		assert_int_equal(p->unit_minor, is_low ? 5000 : 7000);
		assert_string_equal(p->rule, "arm");
		low += is_low;
		codec_ingest_reply_free(r);
	}
	assert_true(low >= 4800 && low <= 5200);
	/* Sticky: c7's order pays its quote's arm price and counts for it. */
	Dropnet__IngestReply *r = quote(&m, "c7");
	int64_t c7 = r->quote->prices[0]->unit_minor;
	char c7arm[16];
	snprintf(c7arm, sizeof(c7arm), "%s", r->quote->prices[0]->arm);
	codec_ingest_reply_free(r);
	Dropnet__OrderAck *a = order_bare(&m, "c7", "", 2);
	assert_int_equal(a->prices[0]->unit_minor, c7);
	assert_string_equal(a->prices[0]->arm, c7arm);
	codec_order_ack_free(a);
	assert_int_equal(experiment_op(&m, DROPNET__OPS_KIND__OPS_EXPERIMENT_SHOW, "x1", &rep),
	    DROPNET__STATUS__OK);
	const Dropnet__Experiment *x = rep->experiments[0];
	assert_int_equal(x->arms[0]->exposures + x->arms[1]->exposures, 10001);
	assert_int_equal(x->arms[0]->exposures, low + (strcmp(c7arm, "low") == 0));
	size_t won = strcmp(c7arm, "low") == 0 ? 0 : 1;
	assert_int_equal(x->arms[won]->orders, 1);
	assert_int_equal(x->arms[won]->units, 2);
	assert_int_equal(x->arms[won]->revenue_minor, 2 * c7);
	assert_int_equal(x->arms[1 - won]->orders, 0);
	assert_false(x->significant);
	assert_non_null(strstr(x->verdict, "not significant yet"));
	/* /metrics counts the same per (experiment, arm), in the order seen. */
	const coord_metrics *mc = &m.c->metrics;
	assert_int_equal(mc->narms, 2);
	for (size_t i = 0; i < 2; i++) {
		const coord_metrics_arm *ma = &mc->arms[i];
		size_t k = strcmp(ma->arm, x->arms[0]->name) == 0 ? 0 : 1;
		assert_string_equal(ma->experiment, "x1");
		assert_string_equal(ma->arm, x->arms[k]->name);
		assert_int_equal(ma->exposures, x->arms[k]->exposures);
		assert_int_equal(ma->outcomes, x->arms[k]->orders);
		assert_int_equal(ma->outcomes_txn, 0);
	}
	codec_ops_reply_free(rep);
	/* The exposures reached the file with the order's commit. */
	assert_int_equal(mt_sql_int(&m, "SELECT SUM(exposures) FROM experiment_arms WHERE"
	    " experiment_id=?1", "x1"), 10001);
	assert_int_equal(experiment_op(&m, DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP, "x1", NULL),
	    DROPNET__STATUS__OK);
	assert_int_equal(experiment_op(&m, DROPNET__OPS_KIND__OPS_EXPERIMENT_STOP, "x1", NULL),
	    DROPNET__STATUS__CONFLICT);
	r = quote(&m, "c7");
	assert_string_equal(r->quote->prices[0]->arm, "");
	assert_int_equal(r->quote->prices[0]->unit_minor, 6000);
	codec_ingest_reply_free(r);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote_writes_nothing),
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_journal_and_retry),
	    cmocka_unit_test(test_token_survives_restart),
	    cmocka_unit_test(test_experiment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
