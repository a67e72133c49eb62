/*
 * test_feed.c - the price and availability feed's change detection in the
 * coordinator machine (feed.c, outbox.c; proto/STOREFRONT.md "The feed"),
 * driven in-process on a real SQLite file (harness.h). The test takes the
 * outbox after every machine call, as the shell does, and decodes it:
 *  - a drop opening is news (one message per SKU and region, seq 1);
 *  - nothing changed, nothing said: ticks, reads, empty hub syncs and an
 *    order that moves no class and no price queue no message;
 *  - a live price is one message with its price and rule, and its end
 *    (by the clock, at a tick) another; seq counts up by one;
 *  - selling down crosses IN_STOCK -> LOW -> SOLD_OUT_HERE, one message
 *    each, price untouched;
 *  - closing the drop says closed once, then nothing more;
 *  - a hub that goes down takes its units out of its region's class
 *    (SOLD_OUT_HERE at the tick that sees it down) and back when it syncs;
 *  - the first scan after a restart only records (no message).
 */
#include "harness.h"

#define MIN_MS 60000LL
#define FEED_GOT_MAX 16

/* The outbox's feed messages of one take (region signals skipped). */
typedef struct {
	Dropnet__FeedChange *m[FEED_GOT_MAX];
	char topic[FEED_GOT_MAX][160];
	size_t n;
} feed_got;

static void collect(void *arg, const uint8_t *msg, size_t len)
{
	feed_got *g = arg;
	if (len < 5 || memcmp(msg, "feed ", 5) != 0) {
		return;
	}
	/* The topic is "feed <sku> <region> ": three spaces. */
	size_t spaces = 0, i = 0;
	while (i < len && spaces < 3) {
		spaces += msg[i++] == ' ';
	}
	assert_int_equal(spaces, 3);
	assert_true(g->n < FEED_GOT_MAX);
	snprintf(g->topic[g->n], sizeof(g->topic[g->n]), "%.*s", (int)i, (const char *)msg);
	assert_int_equal(codec_feed_change_unpack(msg + i, len - i, &g->m[g->n]), 0);
	g->n++;
}

/* Takes the outbox into g (emptied first). */
static void take(mt *m, feed_got *g)
{
	for (size_t i = 0; i < g->n; i++) {
		codec_feed_change_free(g->m[i]);
	}
	g->n = 0;
	coord_outbox_take(m->c, collect, g);
}

static void mt_tick(mt *m)
{
	coord_tick(m->c);
}

static void live(mt *m, int64_t price, uint32_t minutes)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_PRICE_LIVE;
	q.drop_id = "fd";
	q.sku = "f-tee";
	q.price_minor = price;
	q.minutes = minutes;
	Dropnet__OpsReply *rep = mt_ops(m, &q);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_ops_reply_free(rep);
}

/* Drop "fd": 20 f-tee at 6000 GBP in tier "pub", open now; the drop's
 * opening is taken and checked. */
static void setup(mt *m, feed_got *g)
{
	mt_open(m);
	m->c->feed_epoch = 77;
	mt_hub_sync(m, "f-tee", 20);
	take(m, g);
	assert_int_equal(g->n, 0); /* stock with no drop is no feed's business */
	mt_drop_priced(m, "fd", "f-tee", 20, 6000);
	take(m, g);
	assert_int_equal(g->n, 1);
	Dropnet__FeedChange *f = g->m[0];
	assert_string_equal(g->topic[0], "feed f-tee london ");
	assert_string_equal(f->sku, "f-tee");
	assert_string_equal(f->region, "london");
	assert_string_equal(f->drop_id, "fd");
	assert_int_equal(f->seq, 1);
	assert_int_equal(f->epoch, 77);
	assert_int_equal(f->availability, DROPNET__AVAILABILITY__IN_STOCK);
	assert_int_equal(f->n_prices, 1);
	assert_string_equal(f->prices[0]->tier, "pub");
	assert_int_equal(f->prices[0]->unit_minor, 6000);
	assert_string_equal(f->prices[0]->rule, "base");
	assert_string_equal(f->currency, "GBP");
	assert_false(f->closed);
}

static void teardown(mt *m, feed_got *g)
{
	take(m, g);
	mt_close(m);
}

/* Goal: no message when nothing changed - ticks as time passes, reads,
 * an empty hub sync, an order that leaves the class and the price alone. */
static void test_quiet(void **state)
{
	(void)state;
	mt m;
	feed_got g = {0};
	setup(&m, &g);
	for (int i = 0; i < 5; i++) {
		mt_pass(&m, 250);
		mt_tick(&m);
	}
	mt_hub_sync(&m, "f-tee", 0);
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = DROPNET__OPS_KIND__OPS_HUBS;
	codec_ops_reply_free(mt_ops(&m, &q));
	assert_int_equal(mt_submit(&m, "q-1", "fd", "f-tee", 2), DROPNET__STATUS__ACCEPTED);
	take(&m, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(m.c->metrics.feed_changes, 1);
	teardown(&m, &g);
}

/* Goal: a live price is one message with the price and rule "live"; its
 * end by the clock is another at the next tick, back to "base"; seq
 * counts 2, 3. */
static void test_live_price(void **state)
{
	(void)state;
	mt m;
	feed_got g = {0};
	setup(&m, &g);
	live(&m, 5000, 10);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->seq, 2);
	assert_int_equal(g.m[0]->prices[0]->unit_minor, 5000);
	assert_string_equal(g.m[0]->prices[0]->rule, "live");
	assert_true(g.m[0]->price_changed);
	assert_false(g.m[0]->availability_changed);
	mt_pass(&m, 9 * MIN_MS);
	mt_tick(&m);
	take(&m, &g);
	assert_int_equal(g.n, 0);
	mt_pass(&m, MIN_MS);
	mt_tick(&m);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->seq, 3);
	assert_int_equal(g.m[0]->prices[0]->unit_minor, 6000);
	assert_string_equal(g.m[0]->prices[0]->rule, "base");
	teardown(&m, &g);
}

/* Goal: selling down crosses IN_STOCK -> LOW (prices.low_units, 5) ->
 * SOLD_OUT_HERE, a message at each crossing and none between; then the
 * drop's close says closed once and nothing follows. */
static void test_sell_out_and_close(void **state)
{
	(void)state;
	mt m;
	feed_got g = {0};
	setup(&m, &g);
	assert_int_equal(mt_submit(&m, "s-1", "fd", "f-tee", 14), DROPNET__STATUS__ACCEPTED);
	take(&m, &g);
	assert_int_equal(g.n, 0); /* 6 left: still in stock */
	assert_int_equal(mt_submit(&m, "s-2", "fd", "f-tee", 1), DROPNET__STATUS__ACCEPTED);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->availability, DROPNET__AVAILABILITY__LOW);
	assert_true(g.m[0]->availability_changed);
	assert_false(g.m[0]->price_changed);
	assert_int_equal(mt_submit(&m, "s-3", "fd", "f-tee", 5), DROPNET__STATUS__ACCEPTED);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->availability, DROPNET__AVAILABILITY__SOLD_OUT_HERE);
	assert_int_equal(g.m[0]->seq, 3);
	/* A refused order changes nothing. */
	assert_int_equal(mt_submit(&m, "s-4", "fd", "f-tee", 1), DROPNET__STATUS__SOLD_OUT);
	take(&m, &g);
	assert_int_equal(g.n, 0);
	assert_int_equal(mt_ops_drop(&m, DROPNET__OPS_KIND__OPS_DROP_CLOSE, "fd", NULL, 0),
	    DROPNET__STATUS__OK);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_true(g.m[0]->closed);
	assert_int_equal(g.m[0]->n_prices, 0);
	mt_tick(&m);
	take(&m, &g);
	assert_int_equal(g.n, 0);
	teardown(&m, &g);
}

/* Goal: a hub down past its grace (coordinator.hub_grace_ms, ticking as
 * the shell does) is SOLD_OUT_HERE for its region, once; its next sync
 * brings IN_STOCK back at the next tick. */
static void test_hub_down(void **state)
{
	(void)state;
	mt m;
	feed_got g = {0};
	setup(&m, &g);
	size_t said = 0;
	for (int i = 0; i < 60; i++) {
		mt_pass(&m, 250);
		mt_tick(&m);
		take(&m, &g);
		assert_true(said + g.n <= 1);
		if (g.n == 1) {
			assert_int_equal(g.m[0]->availability, DROPNET__AVAILABILITY__SOLD_OUT_HERE);
			assert_true(g.m[0]->availability_changed);
			assert_int_equal(g.m[0]->prices[0]->unit_minor, 6000);
		}
		said += g.n;
	}
	assert_int_equal(said, 1);
	mt_hub_sync(&m, "f-tee", 0);
	mt_tick(&m);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->availability, DROPNET__AVAILABILITY__IN_STOCK);
	assert_int_equal(g.m[0]->seq, 3);
	teardown(&m, &g);
}

/* Goal: after a restart the first scan records the state it finds and
 * says nothing; a change after it is said again from seq 1. */
static void test_restart_baseline(void **state)
{
	(void)state;
	mt m;
	feed_got g = {0};
	setup(&m, &g);
	coord_close(m.c);
	mt_open_at(&m);
	mt_hub_sync(&m, "f-tee", 0);
	mt_tick(&m);
	take(&m, &g);
	assert_int_equal(g.n, 0);
	live(&m, 7000, 5);
	take(&m, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.m[0]->seq, 1);
	assert_int_equal(g.m[0]->prices[0]->unit_minor, 7000);
	teardown(&m, &g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_live_price),
		cmocka_unit_test(test_sell_out_and_close),
		cmocka_unit_test(test_hub_down),
		cmocka_unit_test(test_restart_baseline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
