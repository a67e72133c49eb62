/*
 * experiment.h - price experiments (issue 12): which arm a buyer is in, and
 * an honest readout of the arms. Pure: counts come in as arguments.
 *
 * Assignment: arm = H(experiment id, customer) mod arms, H a 64-bit
 * FNV-1a over both ids (NUL-separated) finished by the splitmix64 mixer,
 * so it is sticky (the same buyer gets the same arm on every quote, order
 * and retry, and on every storefront that uses the same customer id) and
 * close to uniform; one buyer never sees two arms of one experiment.
 *
 * Readout, per arm over its exposures n (quotes shown):
 *   conversion   orders / n with a 95% Wilson score interval;
 *   revenue per exposure (RPE)   revenue / n with a 95% normal interval:
 *                each exposure earns its order's total or 0, so with R the
 *                revenue and Q the sum of squared order totals the sample
 *                variance is (Q - R^2 / n) / (n - 1).
 * The verdict compares the two arms with the highest RPE by Welch's z
 * (difference over the root of the summed variances of the means): |z| >=
 * 1.96 names the arm that earns more per exposure, otherwise it says "not
 * significant yet". Fewer than EXPERIMENT_MIN_EXPOSURES per arm is never
 * significant (the normal approximation needs a sample).
 *
 * Thread model: none.
 */
#ifndef DN_EXPERIMENT_H
#define DN_EXPERIMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Arms of one experiment: an A/B/n test of prices, not a sweep. */
#define EXPERIMENT_ARMS_MAX 8u
/* Exposures each arm needs before the readout may call a winner. */
#define EXPERIMENT_MIN_EXPOSURES 30u
/* Two-sided 95%. */
#define EXPERIMENT_Z95 1.959963984540054

/* The arm (0..narms-1) of customer in experiment exp; narms >= 1. */
size_t experiment_arm(const char *exp, const char *customer, size_t narms);

typedef struct {
	uint64_t exposures;
	uint64_t orders;
	int64_t revenue;       /* sum of order totals, minor units */
	double revenue_sq;     /* sum of squared order totals */
} experiment_counts;

typedef struct {
	double conversion, conversion_lo, conversion_hi;
	double rpe, rpe_lo, rpe_hi;          /* minor units per exposure */
	double rpe_var;                      /* variance of the RPE estimate */
} experiment_arm_readout;

typedef struct {
	experiment_arm_readout arm[EXPERIMENT_ARMS_MAX];
	bool significant;
	int best;             /* arm with the highest RPE; -1 with no exposures */
	int runner_up;        /* the next; -1 with fewer than two arms */
	double z;             /* Welch's z of best over runner_up */
} experiment_readout;

/* Reads out narms arms (1..EXPERIMENT_ARMS_MAX). */
void experiment_read(const experiment_counts *c, size_t narms, experiment_readout *out);

#endif
