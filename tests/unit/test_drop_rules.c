/*
 * test_drop_rules.c - unit tests for common/core/drop.c: the rules of a drop
 * (tier windows, roll-over, insiders, per-buyer limits, quotas, holdback
 * rounding, gift rules, holdback releases due), every expected value checked
 * by hand. Time is an argument: each test moves it explicitly. Pure: no
 * sockets, no files, no sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "core/drop.h"

/* 2026-11-27T18:00:00Z, the drop's first minute. */
#define T0 1795802400000LL
#define MIN (60LL * 1000LL)
#define HOUR (60LL * MIN)

/* The example drop: insider 18:00-18:30 (quota 100, rolls over), public
 * 18:30 + 48 h (quota 300, rolls over), restock for insiders from day 2 at
 * 18:30+48h for 2 h (quota 50, releases holdback). */
static void drop_example(drop_tier t[3])
{
	memset(t, 0, 3 * sizeof(*t));
	t[0] = (drop_tier){ .name = "insider", .opens_ms = T0,
		.closes_ms = T0 + 30 * MIN, .quota = 100, .rollover = true,
		.insiders_only = true };
	t[1] = (drop_tier){ .name = "public", .opens_ms = T0 + 30 * MIN,
		.closes_ms = T0 + 30 * MIN + 48 * HOUR, .quota = 300,
		.rollover = true };
	t[2] = (drop_tier){ .name = "restock",
		.opens_ms = T0 + 30 * MIN + 48 * HOUR,
		.closes_ms = T0 + 30 * MIN + 50 * HOUR, .quota = 50,
		.insiders_only = true, .release_holdback = true };
}

/* Goal: the window is [opens, closes): one ms before opens is NOT_OPEN,
 * exactly at opens is OK, one ms before closes is OK, exactly at closes is
 * CLOSED. A draft drop is NOT_OPEN and a closed drop CLOSED whatever the
 * clock says. */
static void test_window_boundaries(void **state)
{
	(void)state;
	drop_tier t[3];
	int idx = 99;
	drop_example(t);

	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + 30 * MIN - 1,
	    false, 1, &idx), DROP_NOT_OPEN);
	assert_int_equal(idx, 1);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + 30 * MIN,
	    false, 1, &idx), DROP_OK);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public",
	    t[1].closes_ms - 1, false, 1, &idx), DROP_OK);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", t[1].closes_ms,
	    false, 1, &idx), DROP_WINDOW_CLOSED);

	/* Inside the public window, the drop's own state wins. */
	assert_int_equal(drop_check(DROP_DRAFT, t, 3, "public", T0 + HOUR,
	    false, 1, &idx), DROP_NOT_OPEN);
	assert_int_equal(idx, -1);
	assert_int_equal(drop_check(DROP_CLOSED, t, 3, "public", T0 + HOUR,
	    false, 1, &idx), DROP_WINDOW_CLOSED);
	assert_int_equal(idx, -1);
}

/* Goal: an unknown tier (or NULL) is TIER_NOT_ALLOWED with no index; the
 * name must match exactly (no prefix match). */
static void test_unknown_tier(void **state)
{
	(void)state;
	drop_tier t[3];
	int idx = 7;
	drop_example(t);

	assert_int_equal(drop_check(DROP_OPEN, t, 3, "vip", T0 + HOUR, true, 1,
	    &idx), DROP_TIER_NOT_ALLOWED);
	assert_int_equal(idx, -1);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "pub", T0 + HOUR, true, 1,
	    &idx), DROP_TIER_NOT_ALLOWED);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, NULL, T0 + HOUR, true, 1,
	    &idx), DROP_TIER_NOT_ALLOWED);
	assert_int_equal(drop_tier_find(t, 3, "restock"), 2);
	assert_int_equal(drop_tier_find(t, 3, "Restock"), -1);
	assert_int_equal(drop_tier_find(t, 0, "insider"), -1);
}

/* Goal: an insiders-only tier refuses a non-insider with TIER_NOT_ALLOWED
 * even inside its window, and admits an insider; the insider check comes
 * before the window (a non-insider learns it is not allowed, not that the
 * window is closed). */
static void test_insiders(void **state)
{
	(void)state;
	drop_tier t[3];
	int idx = -1;
	drop_example(t);

	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + MIN, false,
	    1, &idx), DROP_TIER_NOT_ALLOWED);
	assert_int_equal(idx, 0);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + MIN, true,
	    1, &idx), DROP_OK);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + HOUR, false,
	    1, &idx), DROP_TIER_NOT_ALLOWED);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + HOUR, true,
	    1, &idx), DROP_WINDOW_CLOSED);
	/* Public is open to insiders too. */
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + HOUR, true,
	    1, &idx), DROP_OK);
}

/* Goal: unsold quota rolls into the next tier only once the previous tier's
 * window has closed: while insider is open public's quota is its own 300;
 * from insider's close it is 300 + (100 - 40 sold) = 360. */
static void test_rollover_after_close_only(void **state)
{
	(void)state;
	drop_tier t[3];
	drop_example(t);
	t[0].sold = 40;

	assert_int_equal(drop_tier_quota(t, 3, 1, T0 + 29 * MIN), 300);
	assert_int_equal(drop_tier_quota(t, 3, 1, T0 + 30 * MIN - 1), 300);
	assert_int_equal(drop_tier_quota(t, 3, 1, T0 + 30 * MIN), 360);
	/* Restock does not roll over to anything; insider has no previous. */
	assert_int_equal(drop_tier_quota(t, 3, 0, T0 + 40 * HOUR), 100);
	/* Without the flag nothing rolls. */
	t[0].rollover = false;
	assert_int_equal(drop_tier_quota(t, 3, 1, T0 + HOUR), 300);
	/* Out of range index: unlimited by convention. */
	assert_int_equal(drop_tier_quota(t, 3, 3, T0), UINT32_MAX);
}

/* Goal: roll-over chains: after both insider and public closed, restock's
 * quota is 50 + public's unsold effective quota, which itself includes
 * insider's unsold units: 50 + (300 + 60 - 200) = 210. Before public closes
 * only its own 50. */
static void test_rollover_chains(void **state)
{
	(void)state;
	drop_tier t[3];
	drop_example(t);
	t[0].sold = 40;
	t[1].sold = 200;

	assert_int_equal(drop_tier_quota(t, 3, 2, t[1].closes_ms - 1), 50);
	assert_int_equal(drop_tier_quota(t, 3, 2, t[1].closes_ms), 210);
	/* A tier that sold more than its effective quota (a manual release)
	 * rolls nothing, and never a negative amount. */
	t[1].sold = 400;
	assert_int_equal(drop_tier_quota(t, 3, 2, t[1].closes_ms), 50);
}

/* Goal: an unlimited tier (quota 0) rolling into a limited one makes the
 * next one unlimited too; a limited tier's quota is exhausted by the order
 * that would cross it (sold + qty > quota), not by one that reaches it. */
static void test_quota_exhaustion(void **state)
{
	(void)state;
	drop_tier t[3];
	int idx = -1;
	drop_example(t);

	t[0].sold = 98;
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + MIN, true,
	    2, &idx), DROP_OK);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + MIN, true,
	    3, &idx), DROP_QUOTA_EXHAUSTED);
	t[0].sold = 100;
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "insider", T0 + MIN, true,
	    1, &idx), DROP_QUOTA_EXHAUSTED);
	/* Public after insider closed: 300 + 0 rolled. */
	t[1].sold = 300;
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + HOUR, false,
	    1, &idx), DROP_QUOTA_EXHAUSTED);
	/* Insider sold only 90: 10 roll over, so 10 more fit in public. */
	t[0].sold = 90;
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + HOUR, false,
	    10, &idx), DROP_OK);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + HOUR, false,
	    11, &idx), DROP_QUOTA_EXHAUSTED);

	/* Unlimited insider tier rolling over: public becomes unlimited. */
	t[0].quota = 0;
	assert_int_equal(drop_tier_quota(t, 3, 0, T0), UINT32_MAX);
	assert_int_equal(drop_tier_quota(t, 3, 1, T0 + HOUR), UINT32_MAX);
	assert_int_equal(drop_check(DROP_OPEN, t, 3, "public", T0 + HOUR, false,
	    1000, &idx), DROP_OK);
}

/* Goal: the per-buyer limit admits exactly up to the limit (bought + qty ==
 * limit is fine, one more is LIMIT_REACHED); limit 0 means none; large
 * numbers do not wrap. */
static void test_limits(void **state)
{
	(void)state;
	assert_int_equal(drop_check_limit(2, 0, 2), DROP_OK);
	assert_int_equal(drop_check_limit(2, 0, 3), DROP_LIMIT_REACHED);
	assert_int_equal(drop_check_limit(2, 1, 1), DROP_OK);
	assert_int_equal(drop_check_limit(2, 2, 1), DROP_LIMIT_REACHED);
	assert_int_equal(drop_check_limit(2, 1, 2), DROP_LIMIT_REACHED);
	assert_int_equal(drop_check_limit(0, 1000000, 1000000), DROP_OK);
	assert_int_equal(drop_check_limit(UINT32_MAX, UINT32_MAX, 1),
	    DROP_LIMIT_REACHED);
	assert_int_equal(drop_check_limit(UINT32_MAX, UINT32_MAX - 1, 1),
	    DROP_OK);
}

/* Goal: holdback rounds down per hub (20% of 7 = 1.4 -> 1), exact products
 * stay exact despite binary fractions (30% of 10 = 3, 20% of 150 = 30,
 * 14% of 50 = 7), and the edges hold: 0%, 100%, negative or zero units,
 * out-of-range percentages clamp. */
static void test_holdback_rounding(void **state)
{
	(void)state;
	assert_int_equal(drop_holdback_units(7, 20.0), 1);
	assert_int_equal(drop_holdback_units(4, 20.0), 0);
	assert_int_equal(drop_holdback_units(5, 20.0), 1);
	assert_int_equal(drop_holdback_units(10, 30.0), 3);
	assert_int_equal(drop_holdback_units(150, 20.0), 30);
	assert_int_equal(drop_holdback_units(50, 14.0), 7);
	assert_int_equal(drop_holdback_units(100, 33.3), 33);
	assert_int_equal(drop_holdback_units(3, 99.9), 2);
	assert_int_equal(drop_holdback_units(500, 0.0), 0);
	assert_int_equal(drop_holdback_units(500, 100.0), 500);
	assert_int_equal(drop_holdback_units(500, 150.0), 500);
	assert_int_equal(drop_holdback_units(500, -5.0), 0);
	assert_int_equal(drop_holdback_units(0, 20.0), 0);
	assert_int_equal(drop_holdback_units(-10, 20.0), 0);
}

/* Goal: each gift rule by hand: first_order follows the flag only;
 * every_nth gives on the n-th, 2n-th... accepted order (never with n = 0 or
 * before the first order); min_qty from n units up. */
static void test_gift_rules(void **state)
{
	(void)state;
	assert_true(drop_gift_applies(DROP_GIFT_FIRST_ORDER, 0, true, 1, 1));
	assert_false(drop_gift_applies(DROP_GIFT_FIRST_ORDER, 0, false, 1, 1));

	assert_false(drop_gift_applies(DROP_GIFT_EVERY_NTH, 10, true, 9, 1));
	assert_true(drop_gift_applies(DROP_GIFT_EVERY_NTH, 10, false, 10, 1));
	assert_false(drop_gift_applies(DROP_GIFT_EVERY_NTH, 10, true, 11, 1));
	assert_true(drop_gift_applies(DROP_GIFT_EVERY_NTH, 10, false, 20, 1));
	assert_true(drop_gift_applies(DROP_GIFT_EVERY_NTH, 1, false, 1, 1));
	assert_false(drop_gift_applies(DROP_GIFT_EVERY_NTH, 0, true, 10, 1));
	assert_false(drop_gift_applies(DROP_GIFT_EVERY_NTH, 10, true, 0, 1));

	assert_false(drop_gift_applies(DROP_GIFT_MIN_QTY, 3, true, 1, 2));
	assert_true(drop_gift_applies(DROP_GIFT_MIN_QTY, 3, false, 1, 3));
	assert_true(drop_gift_applies(DROP_GIFT_MIN_QTY, 3, false, 1, 4));
	assert_false(drop_gift_applies(DROP_GIFT_MIN_QTY, 0, true, 1, 4));

	assert_false(drop_gift_applies(DROP_GIFT_NONE, 1, true, 1, 10));
}

/* Goal: a tier that releases holdback is due from its opening (not a ms
 * before), only once (the released flag), and several due tiers come back
 * in window order. */
static void test_releases_due(void **state)
{
	(void)state;
	drop_tier t[3];
	bool released[3] = { false, false, false };
	size_t out[DROP_TIERS_MAX];
	drop_example(t);

	assert_int_equal(drop_releases_due(t, 3, released, t[2].opens_ms - 1,
	    out), 0);
	assert_int_equal(drop_releases_due(t, 3, released, t[2].opens_ms, out),
	    1);
	assert_int_equal(out[0], 2);
	/* After the window closed it is still due if never released (a
	 * coordinator that was down at the opening catches up). */
	assert_int_equal(drop_releases_due(t, 3, released,
	    t[2].closes_ms + HOUR, out), 1);
	released[2] = true;
	assert_int_equal(drop_releases_due(t, 3, released, t[2].opens_ms, out),
	    0);

	t[0].release_holdback = true;
	released[2] = false;
	assert_int_equal(drop_releases_due(t, 3, released, T0 - 1, out), 0);
	assert_int_equal(drop_releases_due(t, 3, released, T0, out), 1);
	assert_int_equal(out[0], 0);
	assert_int_equal(drop_releases_due(t, 3, released, t[2].opens_ms, out),
	    2);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 2);
}

/* Goal: every verdict has a stable lowercase name (scripts match on them)
 * and an unknown value is "unknown", not a crash. */
static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(drop_verdict_name(DROP_OK), "ok");
	assert_string_equal(drop_verdict_name(DROP_NOT_OPEN), "not_open");
	assert_string_equal(drop_verdict_name(DROP_WINDOW_CLOSED), "closed");
	assert_string_equal(drop_verdict_name(DROP_TIER_NOT_ALLOWED),
	    "tier_not_allowed");
	assert_string_equal(drop_verdict_name(DROP_LIMIT_REACHED),
	    "limit_reached");
	assert_string_equal(drop_verdict_name(DROP_QUOTA_EXHAUSTED),
	    "quota_exhausted");
	assert_string_equal(drop_verdict_name((drop_verdict)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_boundaries),
		cmocka_unit_test(test_unknown_tier),
		cmocka_unit_test(test_insiders),
		cmocka_unit_test(test_rollover_after_close_only),
		cmocka_unit_test(test_rollover_chains),
		cmocka_unit_test(test_quota_exhaustion),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_holdback_rounding),
		cmocka_unit_test(test_gift_rules),
		cmocka_unit_test(test_releases_due),
		cmocka_unit_test(test_verdict_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
