/*
 * spike.c - the clipped Poisson CUSUM of spike.h, with the opening-rush
 * profile folded into the expected counts.
 *
 * Invariants after every call: stat >= 0; run_buckets == 0 exactly when
 * stat == 0; stat < threshold unless a spike was just declared (then it is
 * back at 0).
 */
#include "core/spike.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

#include "core/err.h"

void spike_params_default(spike_params *p)
{
	p->bucket_s = 60;
	p->ratio = 2;
	p->arl0_buckets = 10080;
	p->min_buckets = 3;
	p->cooldown_buckets = 10;
	p->rush_peak = 3;
	p->rush_tau_s = 120;
	p->expected_min = 0.05;
}

int spike_params_check(const spike_params *p)
{
	if (p == NULL || !(p->bucket_s >= 1) ||
	    !(p->bucket_s <= SPIKE_BUCKET_S_MAX) ||
	    !(p->ratio >= SPIKE_RATIO_MIN) || !(p->ratio <= SPIKE_RATIO_MAX) ||
	    !(p->arl0_buckets >= SPIKE_ARL0_MIN) ||
	    !(p->arl0_buckets <= SPIKE_ARL0_MAX) || p->min_buckets < 1 ||
	    p->min_buckets > SPIKE_BUCKETS_MAX ||
	    p->cooldown_buckets > SPIKE_BUCKETS_MAX ||
	    !(p->rush_peak >= 1) || !(p->rush_peak <= SPIKE_RUSH_PEAK_MAX) ||
	    !(p->rush_tau_s > 0) || !(p->rush_tau_s <= SPIKE_RUSH_TAU_S_MAX) ||
	    !(p->expected_min >= 0) ||
	    !(p->expected_min <= SPIKE_EXPECTED_MAX)) {
		return DN_EINVAL;
	}
	return 0;
}

double spike_threshold(const spike_params *p)
{
	return log(p->arl0_buckets);
}

double spike_rush_factor(const spike_params *p, double since_open_s)
{
	double b = p->bucket_s;
	double t0 = since_open_s, t1 = since_open_s + b;

	if (!(t1 > 0) || p->rush_peak <= 1) {
		return 1;
	}
	if (t0 < 0) {
		t0 = 0; /* the part before the opening has no rush */
	}
	double tau = p->rush_tau_s;

	return 1 + (p->rush_peak - 1) * tau / b *
	    (exp(-t0 / tau) - exp(-t1 / tau));
}

int spike_init(spike_state *s, const spike_params *p, int64_t open_ms)
{
	if (s == NULL || spike_params_check(p) != 0) {
		return DN_EINVAL;
	}
	*s = (spike_state){ 0 };
	s->open_ms = open_ms;
	return 0;
}

static void run_clear(spike_state *s)
{
	s->stat = 0;
	s->run_buckets = 0;
	s->run_observed = 0;
	s->run_expected = 0;
}

int spike_update(spike_state *s, const spike_params *p, int64_t bucket_ms,
    uint32_t observed, double expected, spike_evidence *ev)
{
	if (s == NULL || p == NULL || observed > SPIKE_COUNT_MAX ||
	    !(expected >= 0) || !(expected <= SPIKE_EXPECTED_MAX) ||
	    (s->seen && bucket_ms <= s->last_ms)) {
		return DN_EINVAL;
	}
	s->seen = true;
	s->last_ms = bucket_ms;

	double h = spike_threshold(p);
	double since_s = (double)(bucket_ms - s->open_ms) / 1000.0;
	double e = expected * spike_rush_factor(p, since_s);
	double x = (double)observed;

	if (e < p->expected_min) {
		e = p->expected_min;
	}
	if (s->cooldown > 0) {
		/* Rebalancing is under way; evidence starts afresh after. */
		s->cooldown--;
		return 0;
	}
	double step = x * log(p->ratio) - (p->ratio - 1) * e;
	double step_max = h / p->min_buckets;

	if (step > step_max) {
		step = step_max;
	}
	if (s->stat + step <= 0) {
		run_clear(s);
		return 0;
	}
	if (s->run_buckets == 0) {
		s->run_ms = bucket_ms;
	}
	s->stat += step;
	s->run_buckets++;
	s->run_observed += x;
	s->run_expected += e;
	/* A relative slack: m clipped steps of h / m must reach h even when
	 * rounding leaves their sum a hair below it. */
	if (s->stat < h * (1 - 1e-12)) {
		return 0;
	}
	if (ev != NULL) {
		double minutes = s->run_buckets * p->bucket_s / 60.0;

		ev->bucket_ms = bucket_ms;
		ev->since_ms = s->run_ms;
		ev->run_buckets = s->run_buckets;
		ev->observed = x;
		ev->expected = e;
		ev->observed_rate = s->run_observed / minutes;
		ev->expected_rate = s->run_expected / minutes;
		ev->stat = s->stat;
		ev->threshold = h;
	}
	s->spikes++;
	s->cooldown = p->cooldown_buckets;
	run_clear(s);
	assert(s->stat == 0 && s->run_buckets == 0);
	return 1;
}
