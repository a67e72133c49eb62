/*
 * test_pick.c - unit tests for common/core/pick.c: the pick queue's rules
 * (scans, shorts, pack, ship, claims), priority order, batch choice, the
 * pick walk along bins, and what one scan means on the pick screen. Pure
 * functions: no sockets, files or clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/pick.h"

static char msg[512];

/* An order with the given lines "sku:qty:bin" (bin may be empty). */
static pick_order mk(uint64_t id, int64_t received_ms, size_t n,
    const char *const *skus, const uint32_t *qty, const char *const *bins)
{
	pick_order o;
	memset(&o, 0, sizeof(o));
	o.order_id = id;
	o.received_ms = received_ms;
	o.nlines = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(o.lines[i].sku, sizeof(o.lines[i].sku), "%s", skus[i]);
		snprintf(o.lines[i].bin, sizeof(o.lines[i].bin), "%s",
		    bins != NULL ? bins[i] : "");
		o.lines[i].qty = qty[i];
	}
	return o;
}

static pick_order one(uint64_t id, int64_t received_ms, const char *sku,
    uint32_t qty)
{
	const char *s[] = { sku };
	uint32_t q[] = { qty };
	return mk(id, received_ms, 1, s, q, NULL);
}

/* Goal: state names round-trip, including the new "packed"; an unknown name
 * is refused. */
static void test_state_names(void **st)
{
	(void)st;
	for (int s = PICK_ORDER_QUEUED; s <= PICK_ORDER_PACKED; s++) {
		pick_order_state back;
		assert_int_equal(pick_state_parse(pick_state_name(s), &back), 0);
		assert_int_equal(back, s);
	}
	pick_order_state x;
	assert_int_equal(pick_state_parse("lost", &x), DN_EINVAL);
	assert_string_equal(pick_state_name((pick_order_state)99), "unknown");
}

/* Goal: a wrong scan refuses the whole request and leaves the order as it
 * was, naming what was expected; right scans count up and complete it. */
static void test_scan_wrong_then_right(void **st)
{
	(void)st;
	const char *skus[] = { "tee", "cap" };
	uint32_t qty[] = { 2, 1 };
	pick_order o = mk(7, 0, 2, skus, qty, NULL);
	bool done = true;
	const char *bad[] = { "tee", "mug" };
	assert_int_equal(pick_scan(&o, bad, 2, &done, msg, sizeof(msg)),
	    PICK_WRONG_SCAN);
	assert_false(done);
	assert_int_equal(o.lines[0].picked, 0);
	/* The message counts the scans before the wrong one as taken. */
	assert_non_null(strstr(msg, "scan 2: mug is not in this order"));
	assert_non_null(strstr(msg, "expected tee x1, cap x1"));
	const char *good[] = { "tee", "cap" };
	assert_int_equal(pick_scan(&o, good, 2, &done, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(o.state, PICK_ORDER_PICKING);
	const char *last[] = { "tee" };
	assert_int_equal(pick_scan(&o, last, 1, &done, msg, sizeof(msg)), PICK_OK);
	assert_true(done);
	assert_int_equal(o.state, PICK_ORDER_PICKED);
	/* One more unit than the line needs is a wrong scan, not a count. */
	assert_int_equal(pick_scan(&o, last, 1, &done, msg, sizeof(msg)),
	    PICK_CONFLICT);
}

/* Goal: a short takes at most what the line still needs, and shorting
 * everything with nothing picked leaves the order shorted (nothing to
 * ship), while a partial pick plus short is picked. */
static void test_short(void **st)
{
	(void)st;
	pick_order o = one(1, 0, "tee", 3);
	bool done = false;
	assert_int_equal(pick_short(&o, "tee", 4, &done, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_short(&o, "cap", 1, &done, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_short(&o, "tee", 3, &done, msg, sizeof(msg)),
	    PICK_OK);
	assert_true(done);
	assert_int_equal(o.state, PICK_ORDER_SHORTED);

	pick_order p = one(2, 0, "tee", 3);
	const char *s1[] = { "tee" };
	assert_int_equal(pick_scan(&p, s1, 1, &done, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(pick_short(&p, "tee", 2, &done, msg, sizeof(msg)),
	    PICK_OK);
	assert_true(done);
	assert_int_equal(p.state, PICK_ORDER_PICKED);
}

/* Goal: pack needs every picked line once, gift included; a missing gift
 * line is named; ship then works from packed (and still from picked, for
 * command-mode scripts), never from queued. */
static void test_pack_gift_and_ship(void **st)
{
	(void)st;
	const char *skus[] = { "tee", "sticker" };
	uint32_t qty[] = { 1, 1 };
	pick_order o = mk(3, 0, 2, skus, qty, NULL);
	o.lines[1].gift = true;
	bool done;
	assert_int_equal(pick_ship(&o, msg, sizeof(msg)), PICK_CONFLICT);
	const char *all[] = { "tee", "sticker" };
	assert_int_equal(pick_pack(&o, all, 2, msg, sizeof(msg)), PICK_CONFLICT);
	assert_int_equal(pick_scan(&o, all, 2, &done, msg, sizeof(msg)), PICK_OK);
	const char *no_gift[] = { "tee" };
	assert_int_equal(pick_pack(&o, no_gift, 1, msg, sizeof(msg)),
	    PICK_WRONG_SCAN);
	assert_non_null(strstr(msg, "GIFT sticker"));
	const char *twice[] = { "tee", "tee" };
	assert_int_equal(pick_pack(&o, twice, 2, msg, sizeof(msg)),
	    PICK_WRONG_SCAN);
	assert_int_equal(o.state, PICK_ORDER_PICKED);
	assert_int_equal(pick_pack(&o, all, 2, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(o.state, PICK_ORDER_PACKED);
	assert_int_equal(pick_ship(&o, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(o.state, PICK_ORDER_SHIPPED);

	pick_order p = one(4, 0, "tee", 1);
	assert_int_equal(pick_scan(&p, no_gift, 1, &done, msg, sizeof(msg)),
	    PICK_OK);
	assert_int_equal(pick_ship(&p, msg, sizeof(msg)), PICK_OK);
}

/* Goal: already-shipped only for a resent order with nothing picked or
 * shorted; it moves it to shipped. */
static void test_ship_already(void **st)
{
	(void)st;
	bool done;
	pick_order o = one(6, 0, "tee", 2);
	assert_int_equal(pick_ship_already(&o, msg, sizeof(msg)), PICK_CONFLICT);
	o.resent = true;
	assert_int_equal(pick_ship(&o, msg, sizeof(msg)), PICK_CONFLICT);
	pick_order p = o;
	assert_int_equal(pick_ship_already(&o, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(o.state, PICK_ORDER_SHIPPED);
	assert_int_equal(pick_ship_already(&o, msg, sizeof(msg)), PICK_CONFLICT);
	const char *s1[] = { "tee" };
	assert_int_equal(pick_scan(&p, s1, 1, &done, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(pick_ship_already(&p, msg, sizeof(msg)), PICK_CONFLICT);
	assert_int_equal(p.state, PICK_ORDER_PICKING);
	pick_order q = one(7, 0, "tee", 2);
	q.resent = true;
	assert_int_equal(pick_short(&q, "tee", 1, &done, msg, sizeof(msg)), PICK_OK);
	assert_int_equal(pick_ship_already(&q, msg, sizeof(msg)), PICK_CONFLICT);
}

/* Goal: two operators cannot hold one order: the second gets CLAIMED and
 * is refused picking too; the holder may re-claim and release; only the
 * holder releases; an unclaimed order is open to anyone. */
static void test_claims(void **st)
{
	(void)st;
	pick_order o = one(5, 0, "tee", 1);
	assert_int_equal(pick_owner_check(&o, "bob", msg, sizeof(msg)), PICK_OK);
	assert_int_equal(pick_claim(&o, "", msg, sizeof(msg)), PICK_INVALID);
	assert_int_equal(pick_claim(&o, "alice", msg, sizeof(msg)), PICK_OK);
	assert_string_equal(o.claimed_by, "alice");
	assert_int_equal(pick_claim(&o, "bob", msg, sizeof(msg)), PICK_CLAIMED);
	assert_non_null(strstr(msg, "claimed by alice"));
	assert_int_equal(pick_owner_check(&o, "bob", msg, sizeof(msg)),
	    PICK_CLAIMED);
	assert_int_equal(pick_claim(&o, "alice", msg, sizeof(msg)), PICK_OK);
	assert_int_equal(pick_release(&o, "bob", msg, sizeof(msg)), PICK_CONFLICT);
	assert_int_equal(pick_release(&o, "alice", msg, sizeof(msg)), PICK_OK);
	assert_string_equal(o.claimed_by, "");
	o.state = PICK_ORDER_SHIPPED;
	assert_int_equal(pick_claim(&o, "bob", msg, sizeof(msg)), PICK_CONFLICT);
}

/* Goal: priority is tier first (insider before public before restock),
 * then promised time (or received + default promise), then age, then id. */
static void test_priority(void **st)
{
	(void)st;
	pick_order o[4];
	o[0] = one(10, 5000, "a", 1);                      /* public, newest */
	o[1] = one(11, 1000, "a", 1);                      /* public, oldest */
	o[2] = one(12, 9000, "a", 1);
	snprintf(o[2].tier, sizeof(o[2].tier), "insider"); /* insider wins */
	o[3] = one(13, 500, "a", 1);
	snprintf(o[3].tier, sizeof(o[3].tier), "restock"); /* oldest but last */
	size_t idx[] = { 0, 1, 2, 3 };
	pick_priority_sort(o, idx, 4);
	assert_int_equal(o[idx[0]].order_id, 12);
	assert_int_equal(o[idx[1]].order_id, 11);
	assert_int_equal(o[idx[2]].order_id, 10);
	assert_int_equal(o[idx[3]].order_id, 13);
	/* A promised time earlier than another's default due time wins. */
	o[0].promised_ms = 2000;
	assert_true(pick_priority_cmp(&o[0], &o[1]) < 0);
	/* Ties fall to the order id: total order. */
	pick_order a = one(1, 0, "a", 1), b = one(2, 0, "a", 1);
	assert_true(pick_priority_cmp(&a, &b) < 0);
	assert_true(pick_priority_cmp(&b, &a) > 0);
	assert_int_equal(pick_priority_cmp(&a, &a), 0);
}

/* Goal: a claim takes free open orders in priority order; a batch takes
 * only small orders, at most PICK_BATCH_MAX; claimed and closed ones are
 * skipped, except that an operator's own open claim comes back first. */
static void test_claim_choose(void **st)
{
	(void)st;
	pick_order o[6];
	o[0] = one(1, 100, "a", 1);
	o[1] = one(2, 50, "a", 9);        /* big: not for a batch */
	o[2] = one(3, 10, "a", 1);
	snprintf(o[2].claimed_by, sizeof(o[2].claimed_by), "bob");
	o[3] = one(4, 20, "a", 2);
	o[4] = one(5, 5, "a", 1);
	o[4].state = PICK_ORDER_PICKED;   /* not open */
	o[5] = one(6, 30, "a", 4);
	size_t out[PICK_BATCH_MAX], n = 0;
	pick_claim_choose(o, 6, 1, "amy", out, &n);
	assert_int_equal(n, 1);
	assert_int_equal(o[out[0]].order_id, 4); /* oldest free open */
	pick_claim_choose(o, 6, 1, "bob", out, &n);
	assert_int_equal(n, 1);
	assert_int_equal(o[out[0]].order_id, 3); /* bob's own claim first */
	pick_claim_choose(o, 6, 5, "amy", out, &n);
	assert_int_equal(n, 3);                  /* 4, 6, 1: small ones only */
	assert_int_equal(o[out[0]].order_id, 4);
	assert_int_equal(o[out[1]].order_id, 6);
	assert_int_equal(o[out[2]].order_id, 1);
	pick_claim_choose(o, 6, 1000, "amy", out, &n);  /* clamped, no overflow */
	assert_true(n <= PICK_BATCH_MAX);
	pick_claim_choose(o, 0, 1, "amy", out, &n);
	assert_int_equal(n, 0);
}

/* Goal: a batch walk merges the lines of every order and sorts them along
 * the pick path by bin name (no bin = MAIN), then SKU; the cursor is the
 * first line not done. */
static void test_walk(void **st)
{
	(void)st;
	const char *s1[] = { "tee", "cap" };
	uint32_t q1[] = { 1, 1 };
	const char *b1[] = { "C-03", "A-01" };
	const char *s2[] = { "mug", "tee" };
	uint32_t q2[] = { 1, 1 };
	const char *b2[] = { "", "C-03" };
	pick_order o[2] = { mk(1, 0, 2, s1, q1, b1), mk(2, 0, 2, s2, q2, b2) };
	pick_step steps[PICK_WALK_MAX];
	size_t n = pick_walk_build(o, 2, steps, PICK_WALK_MAX);
	assert_int_equal(n, 4);
	const char *want_sku[] = { "cap", "tee", "tee", "mug" };
	const size_t want_order[] = { 0, 0, 1, 1 };
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(o[steps[i].order].lines[steps[i].line].sku,
		    want_sku[i]);
		assert_int_equal(steps[i].order, want_order[i]);
	}
	assert_int_equal(pick_walk_next(o, steps, n), 0);
	o[0].lines[1].picked = 1; /* cap done */
	o[0].lines[0].shorted = 1; /* first tee shorted */
	assert_int_equal(pick_walk_next(o, steps, n), 2);
	o[1].lines[1].picked = 1;
	o[1].lines[0].picked = 1;
	assert_int_equal(pick_walk_next(o, steps, n), n);
	/* The capacity bounds the walk. */
	assert_int_equal(pick_walk_build(o, 2, steps, 3), 3);
}

/* Goal: on the pick screen the bin must be scanned before the SKU unless
 * the line's bin is MAIN/unset; a wrong scan says what was expected; a
 * done line counts nothing. */
static void test_input_classify(void **st)
{
	(void)st;
	pick_line l = { .sku = "tee", .bin = "A-01", .qty = 2 };
	assert_int_equal(pick_input_classify(&l, false, "tee", msg, sizeof(msg)),
	    PICK_INPUT_WRONG_BIN);
	assert_non_null(strstr(msg, "expected bin A-01"));
	assert_int_equal(pick_input_classify(&l, false, "A-01", msg, sizeof(msg)),
	    PICK_INPUT_BIN_OK);
	assert_int_equal(pick_input_classify(&l, true, "cap", msg, sizeof(msg)),
	    PICK_INPUT_WRONG_SKU);
	assert_non_null(strstr(msg, "expected sku tee"));
	assert_int_equal(pick_input_classify(&l, true, "tee", msg, sizeof(msg)),
	    PICK_INPUT_SKU_OK);
	assert_int_equal(pick_input_classify(&l, true, "A-01", msg, sizeof(msg)),
	    PICK_INPUT_BIN_OK);
	assert_int_equal(pick_input_classify(&l, true, "", msg, sizeof(msg)),
	    PICK_INPUT_EMPTY);
	pick_line m = { .sku = "mug", .bin = "MAIN", .qty = 1 };
	assert_false(pick_bin_required(m.bin));
	assert_false(pick_bin_required(""));
	assert_int_equal(pick_input_classify(&m, false, "mug", msg, sizeof(msg)),
	    PICK_INPUT_SKU_OK);
	m.picked = 1;
	assert_int_equal(pick_input_classify(&m, false, "mug", msg, sizeof(msg)),
	    PICK_INPUT_LINE_DONE);
}

/* Goal: moves need distinct valid bins and enough units in the source;
 * a count's delta is counted - book, and a negative count is refused. */
static void test_move_and_count(void **st)
{
	(void)st;
	int64_t d = 99;
	assert_int_equal(pick_move_check("tee", 2, "A", "B", 2, msg, sizeof(msg)),
	    PICK_OK);
	assert_int_equal(pick_move_check("tee", 3, "A", "B", 2, msg, sizeof(msg)),
	    PICK_CONFLICT);
	assert_int_equal(pick_move_check("tee", 1, "A", "A", 2, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_move_check("tee", 0, "A", "B", 2, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_move_check("t e", 1, "A", "B", 2, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_count_check("tee", "A", 7, 10, &d, msg, sizeof(msg)),
	    PICK_OK);
	assert_int_equal(d, -3);
	assert_int_equal(pick_count_check("tee", "A", 12, 10, &d, msg,
	    sizeof(msg)), PICK_OK);
	assert_int_equal(d, 2);
	assert_int_equal(pick_count_check("tee", "A", -1, 10, &d, msg,
	    sizeof(msg)), PICK_INVALID);
	assert_int_equal(d, 0);
}

/* Goal: orders from the command stream are checked (ids, lines, qty,
 * duplicates) and a gift line is an ordinary line there. */
static void test_place_check(void **st)
{
	(void)st;
	pick_line_in ok[] = { { "tee", 1, false }, { "sticker", 1, true } };
	assert_int_equal(pick_place_check(1, "k", "c", ok, 2, msg, sizeof(msg)),
	    PICK_OK);
	pick_line_in dup[] = { { "tee", 1, false }, { "tee", 1, true } };
	assert_int_equal(pick_place_check(1, "k", "c", dup, 2, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_place_check(0, "k", "c", ok, 2, msg, sizeof(msg)),
	    PICK_INVALID);
	assert_int_equal(pick_place_check(1, "k", "c", ok, 0, msg, sizeof(msg)),
	    PICK_INVALID);
	pick_line_in big[] = { { "tee", DN_LINE_QTY_MAX + 1, false } };
	assert_int_equal(pick_place_check(1, "k", "c", big, 1, msg, sizeof(msg)),
	    PICK_INVALID);
}

/* Goal: "packed today" starts at UTC midnight, also for times before
 * 1970; ages print in the largest sensible unit. */
static void test_day_and_age(void **st)
{
	(void)st;
	assert_int_equal(pick_day_start_ms(86400000LL * 3 + 5), 86400000LL * 3);
	assert_int_equal(pick_day_start_ms(86400000LL * 3), 86400000LL * 3);
	assert_int_equal(pick_day_start_ms(-1), -86400000LL);
	char b[16];
	pick_age_format(-5, b, sizeof(b));
	assert_string_equal(b, "0s");
	pick_age_format(119999, b, sizeof(b));
	assert_string_equal(b, "119s");
	pick_age_format(120000, b, sizeof(b));
	assert_string_equal(b, "2m");
	pick_age_format(3 * 3600 * 1000LL, b, sizeof(b));
	assert_string_equal(b, "3h");
	pick_age_format(3 * 86400 * 1000LL, b, sizeof(b));
	assert_string_equal(b, "3d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_scan_wrong_then_right),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_pack_gift_and_ship),
		cmocka_unit_test(test_ship_already),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_claim_choose),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_input_classify),
		cmocka_unit_test(test_move_and_count),
		cmocka_unit_test(test_place_check),
		cmocka_unit_test(test_day_and_age),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
