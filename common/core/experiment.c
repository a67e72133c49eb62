/*
 * experiment.c - arm assignment and the readout (see experiment.h).
 */
#include <assert.h>
#include <math.h>
#include <string.h>
#include "experiment.h"
#include "sample.h"

size_t experiment_arm(const char *exp, const char *customer, size_t narms)
{
	assert(narms >= 1);
	uint64_t h = 1469598103934665603ULL;
	const char *parts[2] = {exp, customer};
	for (size_t p = 0; p < 2; p++) {
		for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++) {
			h = (h ^ *s) * 1099511628211ULL;
		}
		h = (h ^ 0u) * 1099511628211ULL;
	}
	return (size_t)(sample_mix64(h) % narms);
}

/* 95% Wilson score interval of k successes in n. */
static void experiment_wilson(uint64_t k, uint64_t n, double *lo, double *hi)
{
	double z = EXPERIMENT_Z95, nn = (double)n, p = (double)k / nn;
	double den = 1 + z * z / nn;
	double mid = (p + z * z / (2 * nn)) / den;
	double half = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
	*lo = mid - half < 0 ? 0 : mid - half;
	*hi = mid + half > 1 ? 1 : mid + half;
}

static void experiment_arm_read(const experiment_counts *c, experiment_arm_readout *a)
{
	memset(a, 0, sizeof(*a));
	if (c->exposures == 0) {
		return;
	}
	double n = (double)c->exposures;
	a->conversion = (double)c->orders / n;
	experiment_wilson(c->orders < c->exposures ? c->orders : c->exposures, c->exposures,
	    &a->conversion_lo, &a->conversion_hi);
	a->rpe = (double)c->revenue / n;
	double var = n > 1 ? (c->revenue_sq - (double)c->revenue * (double)c->revenue / n) /
	    (n - 1) : 0;
	a->rpe_var = (var > 0 ? var : 0) / n;
	double half = EXPERIMENT_Z95 * sqrt(a->rpe_var);
	a->rpe_lo = a->rpe - half;
	a->rpe_hi = a->rpe + half;
}

void experiment_read(const experiment_counts *c, size_t narms, experiment_readout *out)
{
	assert(narms >= 1 && narms <= EXPERIMENT_ARMS_MAX);
	memset(out, 0, sizeof(*out));
	out->best = out->runner_up = -1;
	for (size_t i = 0; i < narms; i++) {
		experiment_arm_read(&c[i], &out->arm[i]);
		if (c[i].exposures == 0) {
			continue;
		}
		if (out->best < 0 || out->arm[i].rpe > out->arm[out->best].rpe) {
			out->runner_up = out->best;
			out->best = (int)i;
		} else if (out->runner_up < 0 || out->arm[i].rpe > out->arm[out->runner_up].rpe) {
			out->runner_up = (int)i;
		}
	}
	if (out->best < 0 || out->runner_up < 0) {
		return;
	}
	const experiment_arm_readout *b = &out->arm[out->best], *r = &out->arm[out->runner_up];
	double se = sqrt(b->rpe_var + r->rpe_var);
	out->z = se > 0 ? (b->rpe - r->rpe) / se : 0;
	out->significant = c[out->best].exposures >= EXPERIMENT_MIN_EXPOSURES &&
	    c[out->runner_up].exposures >= EXPERIMENT_MIN_EXPOSURES &&
	    out->z >= EXPERIMENT_Z95;
}
