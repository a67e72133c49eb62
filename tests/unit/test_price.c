/*
 * test_price.c - unit tests for common/core/price.c: each price rule alone,
 * their combinations, the live price, and the bounds (no rule and no
 * combination crosses the floor or the ceiling). Expected values worked by
 * hand. Pure: links the core only; no sockets, no files, no sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/price.h"

#define MIN (60LL * 1000LL)

/* A hoodie at 60.00 GBP, floor 45.00, ceiling 90.00; early bird 10% off in
 * the first 30 minutes, last 20 units +10%, demand up to +25%. */
static price_rules rules_example(void)
{
	price_rules r = {.base_minor = 6000, .floor_minor = 4500, .ceiling_minor = 9000,
	    .early_bird_minutes = 30, .early_bird_off_pct = 10, .last_units = 20,
	    .last_units_pct = 10, .demand_max_pct = 25};
	return r;
}

/* Inputs where no rule applies: late in the tier, plenty left, demand as
 * forecast. */
static price_input input_plain(void)
{
	price_input in = {.since_tier_open_ms = 2 * 60 * MIN, .units_left = 400,
	    .demand_ratio = 1.0};
	return in;
}

static const char *rule_text(unsigned rules)
{
	static char buf[PRICE_RULE_NAME_MAX];
	return price_rule_name(rules, buf, sizeof(buf));
}

/* Goal: with no rule applying, the answer is the tier's base price and says
 * "base". */
static void test_base(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = input_plain();
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 6000);
	assert_int_equal(a.rules, PRICE_RULE_BASE);
	assert_string_equal(rule_text(a.rules), "base");
}

/* Goal: early bird applies in [opens, opens + N min) only: 10% off 60.00 is
 * 54.00 at 0 ms and at N min - 1 ms; base at N min and before the opening. */
static void test_early_bird_window(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = input_plain();
	in.since_tier_open_ms = 0;
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 5400);
	assert_string_equal(rule_text(a.rules), "early_bird");
	in.since_tier_open_ms = 30 * MIN - 1;
	assert_int_equal(price_decide(&r, &in).price_minor, 5400);
	in.since_tier_open_ms = 30 * MIN;
	a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 6000);
	assert_int_equal(a.rules, PRICE_RULE_BASE);
	in.since_tier_open_ms = -1;
	assert_int_equal(price_decide(&r, &in).price_minor, 6000);
}

/* Goal: the last-units rule starts when units_left <= N (20 left: on; 21:
 * off) and moves the price by its percent, up or down. */
static void test_last_units(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = input_plain();
	in.units_left = 21;
	assert_int_equal(price_decide(&r, &in).price_minor, 6000);
	in.units_left = 20;
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 6600);
	assert_string_equal(rule_text(a.rules), "last_units");
	r.last_units_pct = -20;
	a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 4800);
	in.units_left = 0;
	assert_int_equal(price_decide(&r, &in).price_minor, 4800);
}

/* Goal: the demand ratio multiplies the price up to its bound: 1.1 -> 66.00,
 * 3.0 -> capped at +25% = 75.00; a ratio <= 1, NaN or infinity has no
 * effect (a region below forecast is never a discount by this rule). */
static void test_demand(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = input_plain();
	in.demand_ratio = 1.1;
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 6600);
	assert_string_equal(rule_text(a.rules), "demand");
	in.demand_ratio = 3.0;
	assert_int_equal(price_decide(&r, &in).price_minor, 7500);
	in.demand_ratio = 0.5;
	assert_int_equal(price_decide(&r, &in).price_minor, 6000);
	in.demand_ratio = NAN;
	assert_int_equal(price_decide(&r, &in).rules, PRICE_RULE_BASE);
	in.demand_ratio = INFINITY;
	assert_int_equal(price_decide(&r, &in).rules, PRICE_RULE_BASE);
	r.demand_max_pct = 0;
	in.demand_ratio = 3.0;
	assert_int_equal(price_decide(&r, &in).price_minor, 6000);
}

/* Goal: a live price replaces every other rule, and is still clamped: 50.00
 * stays, 10.00 becomes the floor, 1000.00 the ceiling. */
static void test_live(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = input_plain();
	in.since_tier_open_ms = 0;
	in.units_left = 1;
	in.demand_ratio = 5;
	in.live = true;
	in.live_minor = 5000;
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 5000);
	assert_string_equal(rule_text(a.rules), "live");
	in.live_minor = 1000;
	a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 4500);
	assert_string_equal(rule_text(a.rules), "live+floor");
	in.live_minor = 100000;
	a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 9000);
	assert_string_equal(rule_text(a.rules), "live+ceiling");
}

/* Goal: combinations apply in order: early bird then last units then demand
 * (60.00 -10% = 54.00, +10% = 59.40, x1.2 = 71.28), and the name lists all
 * three. */
static void test_combination(void **state)
{
	(void)state;
	price_rules r = rules_example();
	price_input in = {.since_tier_open_ms = 5 * MIN, .units_left = 3,
	    .demand_ratio = 1.2};
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 7128);
	assert_string_equal(rule_text(a.rules), "early_bird+last_units+demand");
}

/* Goal: combinations that would cross a bound are clamped and say so: a
 * deep early bird with last units down stops at the floor; last units up
 * with full demand stops at the ceiling. */
static void test_combination_bounds(void **state)
{
	(void)state;
	price_rules r = rules_example();
	r.early_bird_off_pct = 30;
	r.last_units_pct = -30;
	price_input in = {.since_tier_open_ms = 0, .units_left = 1, .demand_ratio = 1.0};
	price_answer a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 4500);
	assert_string_equal(rule_text(a.rules), "early_bird+last_units+floor");
	r = rules_example();
	r.last_units_pct = 100;
	r.demand_max_pct = 900;
	in = (price_input){.since_tier_open_ms = 60 * MIN, .units_left = 1,
	    .demand_ratio = 10.0};
	a = price_decide(&r, &in);
	assert_int_equal(a.price_minor, 9000);
	assert_string_equal(rule_text(a.rules), "last_units+demand+ceiling");
}

/* Goal: a sweep over every rule's extremes and their combinations never
 * answers outside [floor, ceiling], and clamps exactly when it says so. */
static void test_bounds_sweep(void **state)
{
	(void)state;
	const int32_t pcts[] = {-100, -50, 0, 50, 100};
	const uint32_t offs[] = {0, 1, 50, 100};
	const double ratios[] = {0.0, 1.0, 1.5, 10.0, 1e300};
	const int64_t lives[] = {-1, 0, 4499, 6000, 9001, PRICE_MINOR_MAX};
	size_t n = 0;
	for (size_t a = 0; a < 5; a++) {
		for (size_t b = 0; b < 4; b++) {
			for (size_t c = 0; c < 5; c++) {
				for (size_t l = 0; l < 7; l++) {
					price_rules r = rules_example();
					r.last_units_pct = pcts[a];
					r.early_bird_off_pct = offs[b];
					r.demand_max_pct = 900;
					price_input in = {.since_tier_open_ms = 0, .units_left = 0,
					    .demand_ratio = ratios[c], .live = l < 6,
					    .live_minor = l < 6 ? lives[l] : 0};
					price_answer ans = price_decide(&r, &in);
					assert_true(ans.price_minor >= r.floor_minor);
					assert_true(ans.price_minor <= r.ceiling_minor);
					bool clamped = (ans.rules &
					    (PRICE_RULE_FLOOR | PRICE_RULE_CEILING)) != 0;
					bool at_bound = ans.price_minor == r.floor_minor ||
					    ans.price_minor == r.ceiling_minor;
					assert_true(!clamped || at_bound);
					n++;
				}
			}
		}
	}
	assert_int_equal(n, 5 * 4 * 5 * 7);
}

/* Goal: rules that contradict their bounds are refused with a reason. */
static void test_rules_check(void **state)
{
	(void)state;
	const char *why = NULL;
	price_rules r = rules_example();
	assert_int_equal(price_rules_check(&r, &why), 0);
	assert_string_equal(why, "");
	r.base_minor = 9001;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	assert_non_null(strstr(why, "within floor and ceiling"));
	r = rules_example();
	r.floor_minor = 9500;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	r = rules_example();
	r.floor_minor = -1;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	r = rules_example();
	r.ceiling_minor = PRICE_MINOR_MAX + 1;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	r = rules_example();
	r.early_bird_off_pct = 101;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	r = rules_example();
	r.last_units_pct = -101;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
	r = rules_example();
	r.demand_max_pct = 901;
	assert_int_equal(price_rules_check(&r, &why), DN_EINVAL);
}

/* Goal: currencies are three upper-case letters; anything else is refused. */
static void test_currency(void **state)
{
	(void)state;
	assert_true(price_currency_valid("GBP"));
	assert_true(price_currency_valid("EUR"));
	assert_false(price_currency_valid("gbp"));
	assert_false(price_currency_valid("GB"));
	assert_false(price_currency_valid("GBPX"));
	assert_false(price_currency_valid(""));
	assert_false(price_currency_valid(NULL));
	assert_false(price_currency_valid("G1P"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base),
	    cmocka_unit_test(test_early_bird_window),
	    cmocka_unit_test(test_last_units),
	    cmocka_unit_test(test_demand),
	    cmocka_unit_test(test_live),
	    cmocka_unit_test(test_combination),
	    cmocka_unit_test(test_combination_bounds),
	    cmocka_unit_test(test_bounds_sweep),
	    cmocka_unit_test(test_rules_check),
	    cmocka_unit_test(test_currency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
