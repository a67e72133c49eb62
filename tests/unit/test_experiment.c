/*
 * test_experiment.c - unit tests for common/core/experiment.c: arm
 * assignment (split, stickiness) and the readout against seeded simulated
 * buyers with a stated true price response. Links the core only; seeded,
 * so every run draws the same buyers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/experiment.h"
#include "core/sample.h"

/* Goal: two arms split 10,000 customers 50/50 within 2 points, three arms
 * 1/3 each within 2 points, and the assignment is sticky (same answer
 * every time) and depends on the experiment. */
static void test_split_and_sticky(void **state)
{
	(void)state;
	size_t two[2] = {0}, three[3] = {0}, moved = 0;
	char cust[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(cust, sizeof(cust), "customer-%d", i);
		size_t a = experiment_arm("exp-a", cust, 2);
		assert_int_equal(experiment_arm("exp-a", cust, 2), a);
		two[a]++;
		three[experiment_arm("exp-a", cust, 3)]++;
		moved += experiment_arm("exp-b", cust, 2) != a;
	}
	assert_true(two[0] >= 4800 && two[0] <= 5200);
	for (size_t k = 0; k < 3; k++) {
		assert_true(three[k] >= 3133 && three[k] <= 3533);
	}
	/* Another experiment reshuffles buyers (about half move). */
	assert_true(moved >= 4500 && moved <= 5500);
	assert_int_equal(experiment_arm("e", "c", 1), 0);
}

/* Simulated buyers: willingness to pay ~ normal(mean_wtp, sd), one quote
 * each; a buyer whose WTP is at least the arm's price buys one unit. */
static void simulate(uint64_t seed, const int64_t *price, size_t narms, size_t buyers,
    double mean_wtp, double sd, experiment_counts *c)
{
	sample_rng r;
	memset(c, 0, narms * sizeof(*c));
	char cust[32];
	for (size_t i = 0; i < buyers; i++) {
		sample_rng_seed_stream(&r, seed, i);
		snprintf(cust, sizeof(cust), "b%zu", i);
		size_t a = experiment_arm("sim", cust, narms);
		double wtp = mean_wtp + sd * sample_gauss(&r);
		c[a].exposures++;
		if (wtp >= (double)price[a]) {
			c[a].orders++;
			c[a].revenue += price[a];
			c[a].revenue_sq += (double)price[a] * (double)price[a];
		}
	}
}

/* Goal: 4,000 buyers, WTP ~ N(60.00, 10.00). Arm 0 at 50.00 sells to 84%
 * (RPE ~42.1), arm 1 at 70.00 to 16% (RPE ~11.1): a true difference of
 * ~31 per exposure. The readout names arm 0, significantly. */
static void test_readout_names_winner(void **state)
{
	(void)state;
	const int64_t price[2] = {5000, 7000};
	experiment_counts c[2];
	experiment_readout out;
	simulate(42, price, 2, 4000, 6000, 1000, c);
	experiment_read(c, 2, &out);
	assert_int_equal(out.best, 0);
	assert_int_equal(out.runner_up, 1);
	assert_true(out.significant);
	assert_true(out.arm[0].conversion > 0.80 && out.arm[0].conversion < 0.88);
	assert_true(out.arm[0].conversion_lo < out.arm[0].conversion);
	assert_true(out.arm[0].conversion_hi > out.arm[0].conversion);
	assert_true(out.arm[0].rpe_lo > out.arm[1].rpe_hi);
}

/* Goal: both arms at the same price (a true difference of 0): the readout
 * says not significant, for the seed the test states. */
static void test_readout_equal_not_significant(void **state)
{
	(void)state;
	const int64_t price[2] = {6000, 6000};
	experiment_counts c[2];
	experiment_readout out;
	simulate(7, price, 2, 4000, 6000, 1000, c);
	experiment_read(c, 2, &out);
	assert_false(out.significant);
	assert_true(out.z < EXPERIMENT_Z95);
}

/* Goal: small samples are never significant, whatever the difference; no
 * exposures give no best arm; conversion intervals stay in [0, 1]. */
static void test_readout_small_and_empty(void **state)
{
	(void)state;
	experiment_counts c[2] = {{10, 10, 60000, 10 * 36e6}, {10, 0, 0, 0}};
	experiment_readout out;
	experiment_read(c, 2, &out);
	assert_int_equal(out.best, 0);
	assert_false(out.significant);
	assert_true(out.arm[0].conversion_hi <= 1.0);
	assert_true(out.arm[1].conversion_lo >= 0.0);
	experiment_counts none[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
	experiment_read(none, 2, &out);
	assert_int_equal(out.best, -1);
	assert_false(out.significant);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_and_sticky),
	    cmocka_unit_test(test_readout_names_winner),
	    cmocka_unit_test(test_readout_equal_not_significant),
	    cmocka_unit_test(test_readout_small_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
