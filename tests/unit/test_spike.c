/*
 * test_spike.c - unit tests for common/core/spike.c: the statistic worked
 * by hand on a tiny sequence, the rush profile by hand, and on seeded
 * Poisson counts: no alarm at the forecast rate or through an opening rush
 * of the expected shape, an alarm within a few buckets of a sustained 3x
 * jump, none for a single outlier bucket, the cool-down, bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/sample.h"
#include "core/spike.h"

#define MIN_MS 60000LL

/* Poisson(m) by Knuth's product of uniforms (m is small in these tests). */
static uint32_t poisson(sample_rng *r, double m)
{
	double limit = exp(-m), prod = 1;
	uint32_t k = 0;

	assert_true(m < 100);
	for (;;) {
		prod *= sample_rng_unit(r);
		if (prod <= limit) {
			return k;
		}
		k++;
	}
}

/* Goal: the statistic by hand. k = 2, h = 6 (arl0 = e^6), m = 3 so a
 * bucket adds at most 2, no rush, no floor, cool-down 2, e = 2 a bucket.
 * Steps are x ln 2 - 2:
 *   x = 3:  +0.0794415 -> S = 0.0794415 (run of 1)
 *   x = 0:  -2         -> S = 0 (run over)
 *   x = 5:  +1.4657359 -> S = 1.4657359 (a new run starts here)
 *   x = 20: +11.863 clipped to +2 -> S = 3.4657359
 *   x = 4:  +0.7725887 -> S = 4.2383246
 *   x = 6:  +2.158883 clipped to +2 -> S = 6.2383246 >= 6: spike.
 * Evidence: the run is 4 buckets from the third, 35 units against 8, i.e.
 * 8.75 and 2 a minute. Then two cool-down buckets ignore even x = 100. */
static void test_spike_by_hand(void **state)
{
	(void)state;
	spike_params p;
	spike_state s;
	spike_evidence ev;
	static const uint32_t xs[] = { 3, 0, 5, 20, 4 };
	static const double stat[] = { 0.0794415, 0, 1.4657359, 3.4657359,
		4.2383246 };

	spike_params_default(&p);
	p.ratio = 2;
	p.arl0_buckets = exp(6.0);
	p.min_buckets = 3;
	p.cooldown_buckets = 2;
	p.rush_peak = 1;
	p.expected_min = 0;
	assert_true(fabs(spike_threshold(&p) - 6) < 1e-12);
	assert_int_equal(spike_init(&s, &p, 0), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(spike_update(&s, &p, i * MIN_MS, xs[i], 2, &ev),
		    0);
		assert_true(fabs(s.stat - stat[i]) < 1e-7);
	}
	assert_int_equal(s.run_buckets, 3);
	assert_int_equal(spike_update(&s, &p, 5 * MIN_MS, 6, 2, &ev), 1);
	assert_true(fabs(ev.stat - 6.2383246) < 1e-7);
	assert_true(fabs(ev.threshold - 6) < 1e-12);
	assert_int_equal(ev.bucket_ms, 5 * MIN_MS);
	assert_int_equal(ev.since_ms, 2 * MIN_MS);
	assert_int_equal(ev.run_buckets, 4);
	assert_true(ev.observed == 6 && ev.expected == 2);
	assert_true(fabs(ev.observed_rate - 8.75) < 1e-12);
	assert_true(fabs(ev.expected_rate - 2) < 1e-12);
	assert_true(s.stat == 0 && s.spikes == 1);
	/* Cool-down: two buckets ignored, then evidence counts again. */
	assert_int_equal(spike_update(&s, &p, 6 * MIN_MS, 100, 2, &ev), 0);
	assert_int_equal(spike_update(&s, &p, 7 * MIN_MS, 100, 2, &ev), 0);
	assert_true(s.stat == 0);
	assert_int_equal(spike_update(&s, &p, 8 * MIN_MS, 100, 2, &ev), 0);
	assert_true(fabs(s.stat - 2) < 1e-12);
}

/* Goal: the rush profile by hand, P = 3, tau = 120 s, minute buckets:
 * the first bucket averages 1 + 2 x 120/60 x (1 - e^-0.5) = 2.5738773;
 * a bucket starting 30 s before the opening has its first half at 1 and
 * its second at the rush: 1 + 2 x 2 x (1 - e^-0.25) = 1.8847968; a bucket
 * wholly before the opening is 1, and so is any bucket when P = 1. */
static void test_spike_rush_factor(void **state)
{
	(void)state;
	spike_params p;

	spike_params_default(&p);
	p.rush_peak = 3;
	p.rush_tau_s = 120;
	p.bucket_s = 60;
	assert_true(fabs(spike_rush_factor(&p, 0) - 2.5738773) < 1e-7);
	assert_true(fabs(spike_rush_factor(&p, -30) - 1.8847968) < 1e-7);
	assert_true(fabs(spike_rush_factor(&p, 60) -
	    (1 + 4 * (exp(-0.5) - exp(-1)))) < 1e-12);
	assert_true(spike_rush_factor(&p, -60) == 1);
	assert_true(spike_rush_factor(&p, -600) == 1);
	assert_true(fabs(spike_rush_factor(&p, 86400) - 1) < 1e-12);
	p.rush_peak = 1;
	assert_true(spike_rush_factor(&p, 0) == 1);
}

/* Goal: counts at the forecast rate raise no alarm over 5,000 buckets (3.5
 * days of minutes) at each of several rates, and over 200,000 buckets at
 * 1 a bucket the alarms stay below the stated rate (one per 10,080
 * buckets would be 19; the bound is conservative, ~3 are expected). */
static void test_spike_steady_no_alarm(void **state)
{
	(void)state;
	static const double rates[] = { 0.05, 0.3, 1, 3, 10, 40 };
	spike_params p;
	spike_state s;
	sample_rng r;

	spike_params_default(&p);
	sample_rng_seed(&r, 7);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		/* Opened long ago: no rush in these buckets. */
		assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
		for (int64_t t = 0; t < 5000; t++) {
			assert_int_equal(spike_update(&s, &p, t * MIN_MS,
			    poisson(&r, rates[i]), rates[i], NULL), 0);
		}
	}
	assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
	for (int64_t t = 0; t < 200000; t++) {
		assert_true(spike_update(&s, &p, t * MIN_MS, poisson(&r, 1), 1,
		    NULL) >= 0);
	}
	assert_true(s.spikes < 200000 / 10080);
}

/* Goal: an opening rush of the expected shape (3x at the opening, decaying
 * with tau = 120 s, the defaults) raises no alarm in the first hour over
 * 200 seeded drops; a longer rush (4x, tau 300 s) is no alarm either when
 * the profile says so, and is an alarm in most drops when the profile is
 * turned off -- the profile is what makes the test robust to the rush. */
static void test_spike_opening_rush(void **state)
{
	(void)state;
	spike_params p, q, off;
	spike_state s;
	sample_rng r;
	int alarms_off = 0;

	spike_params_default(&p);
	sample_rng_seed(&r, 11);
	for (int drop = 0; drop < 200; drop++) {
		assert_int_equal(spike_init(&s, &p, 0), 0);
		for (int64_t t = 0; t < 60; t++) {
			double m = 3 * spike_rush_factor(&p, (double)t * 60);

			assert_int_equal(spike_update(&s, &p, t * MIN_MS,
			    poisson(&r, m), 3, NULL), 0);
		}
	}
	q = p;
	q.rush_peak = 4;
	q.rush_tau_s = 300;
	off = q;
	off.rush_peak = 1;
	for (int drop = 0; drop < 200; drop++) {
		spike_state so;

		assert_int_equal(spike_init(&s, &q, 0), 0);
		assert_int_equal(spike_init(&so, &off, 0), 0);
		int hit = 0;
		for (int64_t t = 0; t < 60; t++) {
			uint32_t x = poisson(&r,
			    3 * spike_rush_factor(&q, (double)t * 60));

			assert_int_equal(spike_update(&s, &q, t * MIN_MS, x, 3,
			    NULL), 0);
			hit |= spike_update(&so, &off, t * MIN_MS, x, 3,
			    NULL) == 1;
		}
		alarms_off += hit;
	}
	assert_true(alarms_off > 150);
}

/* Goal: a sustained 3x jump at 4 a bucket is declared within 6 buckets of
 * its start (3 is the least possible with m = 3), in each of 100 seeded
 * runs, and the evidence shows it: a run of excess ending at the alarm,
 * its observed rate well above the expected (less than 3x when the run
 * began on noise before the jump). */
static void test_spike_jump_detected(void **state)
{
	(void)state;
	spike_params p;
	spike_state s;
	spike_evidence ev;
	sample_rng r;
	int worst = 0;

	spike_params_default(&p);
	sample_rng_seed(&r, 13);
	for (int run = 0; run < 100; run++) {
		int64_t t = 0;

		assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
		for (; t < 30; t++) {
			assert_int_equal(spike_update(&s, &p, t * MIN_MS,
			    poisson(&r, 4), 4, &ev), 0);
		}
		int rv = 0;
		int64_t jump = t;
		for (; t < jump + 6 && rv == 0; t++) {
			rv = spike_update(&s, &p, t * MIN_MS, poisson(&r, 12),
			    4, &ev);
		}
		assert_int_equal(rv, 1);
		if (t - jump > worst) {
			worst = (int)(t - jump);
		}
		assert_true(t - jump >= 3);
		assert_true(ev.bucket_ms == (t - 1) * MIN_MS);
		/* The run is the buckets since S was last 0: it ends here and
		 * may start a few buckets before the jump, on noise. */
		assert_true(ev.since_ms <= ev.bucket_ms);
		assert_int_equal(ev.run_buckets,
		    (ev.bucket_ms - ev.since_ms) / MIN_MS + 1);
		assert_true(ev.since_ms >= (jump - 30) * MIN_MS);
		assert_true(ev.observed_rate > 1.5 * ev.expected_rate);
		assert_true(fabs(ev.expected_rate - 4) < 1e-9);
		assert_true(ev.stat >= ev.threshold * (1 - 1e-9));
	}
	assert_true(worst <= 6);
}

/* Goal: one outlier bucket, however large, is not a spike (a bucket adds
 * at most h / 3), and the evidence it left decays under normal counts. */
static void test_spike_single_outlier(void **state)
{
	(void)state;
	spike_params p;
	spike_state s;
	sample_rng r;

	spike_params_default(&p);
	sample_rng_seed(&r, 17);
	assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
	for (int64_t t = 0; t < 500; t++) {
		uint32_t x = t == 250 ? 5000 : poisson(&r, 3);

		assert_int_equal(spike_update(&s, &p, t * MIN_MS, x, 3, NULL),
		    0);
		if (t == 250) {
			assert_true(s.stat <= spike_threshold(&p) * 2 / 3);
		}
	}
	assert_true(s.spikes == 0);
}

/* Goal: a jump that lasts is declared again after each cool-down, never
 * sooner than cool-down + m buckets after the last declaration. */
static void test_spike_cooldown_repeat(void **state)
{
	(void)state;
	spike_params p;
	spike_state s;
	sample_rng r;
	int64_t last = -1;

	spike_params_default(&p);
	sample_rng_seed(&r, 19);
	assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
	for (int64_t t = 0; t < 100; t++) {
		int rv = spike_update(&s, &p, t * MIN_MS, poisson(&r, 15), 3,
		    NULL);

		assert_true(rv >= 0);
		if (rv == 1) {
			if (last >= 0) {
				assert_true(t - last >= p.cooldown_buckets +
				    p.min_buckets);
			}
			last = t;
		}
	}
	assert_true(s.spikes >= 5);
}

/* Goal: a forecast of 0 is floored at expected_min: sales where none were
 * forecast are evidence, but a bounded amount per sale (ln 2 - 0.05 with
 * k = 2), so one sale a bucket takes ceil(9.22 / 0.643) = 15 buckets. */
static void test_spike_floor(void **state)
{
	(void)state;
	spike_params p;
	spike_state s;
	spike_evidence ev;
	int64_t t;

	spike_params_default(&p);
	assert_int_equal(spike_init(&s, &p, -1000000000LL), 0);
	for (t = 0; t < 100; t++) {
		if (spike_update(&s, &p, t * MIN_MS, 1, 0, &ev) == 1) {
			break;
		}
	}
	assert_int_equal(t + 1, 15);
	assert_true(fabs(ev.expected - 0.05) < 1e-12);
	assert_true(fabs(ev.expected_rate - 0.05) < 1e-12);
	assert_true(fabs(ev.observed_rate - 1) < 1e-12);
}

/* Goal: bad parameters and bad buckets are refused, leaving the state as
 * it was. */
static void test_spike_invalid(void **state)
{
	(void)state;
	spike_params p, q;
	spike_state s, before;

	spike_params_default(&p);
	assert_int_equal(spike_params_check(&p), 0);
	assert_int_equal(spike_params_check(NULL), DN_EINVAL);
	assert_int_equal(spike_init(NULL, &p, 0), DN_EINVAL);
#define BAD(stmt) do { \
	q = p; \
	stmt; \
	assert_int_equal(spike_init(&s, &q, 0), DN_EINVAL); \
} while (0)
	BAD(q.bucket_s = 0.5);
	BAD(q.bucket_s = NAN);
	BAD(q.ratio = 1.0);
	BAD(q.ratio = 101);
	BAD(q.arl0_buckets = 5);
	BAD(q.arl0_buckets = INFINITY);
	BAD(q.min_buckets = 0);
	BAD(q.cooldown_buckets = SPIKE_BUCKETS_MAX + 1);
	BAD(q.rush_peak = 0.9);
	BAD(q.rush_tau_s = 0);
	BAD(q.expected_min = -1);
#undef BAD
	assert_int_equal(spike_init(&s, &p, 0), 0);
	assert_int_equal(spike_update(&s, &p, MIN_MS, 9, 3, NULL), 0);
	before = s;
	assert_int_equal(spike_update(&s, &p, MIN_MS, 1, 3, NULL), DN_EINVAL);
	assert_int_equal(spike_update(&s, &p, 0, 1, 3, NULL), DN_EINVAL);
	assert_int_equal(spike_update(&s, &p, 2 * MIN_MS, 1, NAN, NULL),
	    DN_EINVAL);
	assert_int_equal(spike_update(&s, &p, 2 * MIN_MS, 1, -1, NULL),
	    DN_EINVAL);
	assert_int_equal(spike_update(&s, &p, 2 * MIN_MS,
	    SPIKE_COUNT_MAX + 1, 3, NULL), DN_EINVAL);
	assert_int_equal(spike_update(NULL, &p, 2 * MIN_MS, 1, 3, NULL),
	    DN_EINVAL);
	assert_int_equal(spike_update(&s, NULL, 2 * MIN_MS, 1, 3, NULL),
	    DN_EINVAL);
	assert_true(s.last_ms == before.last_ms && s.stat == before.stat &&
	    s.run_buckets == before.run_buckets &&
	    s.run_observed == before.run_observed &&
	    s.run_expected == before.run_expected && s.spikes == before.spikes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spike_by_hand),
		cmocka_unit_test(test_spike_rush_factor),
		cmocka_unit_test(test_spike_steady_no_alarm),
		cmocka_unit_test(test_spike_opening_rush),
		cmocka_unit_test(test_spike_jump_detected),
		cmocka_unit_test(test_spike_single_outlier),
		cmocka_unit_test(test_spike_cooldown_repeat),
		cmocka_unit_test(test_spike_floor),
		cmocka_unit_test(test_spike_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
