/*
 * synth.c - the synthetic families of synth.h. U(a, b) is uniform, Po(m)
 * Poisson, B(p) Bernoulli; t = 0..T-1, T = SYNTH_PERIODS. A "demand" is
 * 1 + Po(m - 1) units, m the series' mean size.
 */
#include "synth.h"

#include <math.h>

typedef struct {
	unsigned long long s;
} rng;

static unsigned long long next(rng *r)
{
	unsigned long long z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unif(rng *r, double a, double b)
{
	return a + (b - a) * (double)(next(r) >> 11) * 0x1.0p-53;
}

static double poisson(rng *r, double m)
{
	if (m <= 0) {
		return 0;
	}
	if (m > 40) {
		/* Normal approximation, rounded: exact enough at that size. */
		double u1 = unif(r, 1e-12, 1), u2 = unif(r, 0, 1);
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		double v = floor(m + sqrt(m) * z + 0.5);

		return v > 0 ? v : 0;
	}
	double L = exp(-m), p = 1;
	double k = 0;

	do {
		k += 1;
		p *= unif(r, 0, 1);
	} while (p > L);
	return k - 1;
}

static double demand(rng *r, double p, double msize)
{
	if (unif(r, 0, 1) >= p) {
		return 0;
	}
	return 1 + poisson(r, msize - 1);
}

static const char *const names[SYNTH_FAMILIES] = {
	"steady", "dying", "new", "shift_up", "shift_down", "lumpy",
	"seasonal", "burst",
};

const char *synth_name(synth_family f)
{
	return (unsigned)f < SYNTH_FAMILIES ? names[f] : "?";
}

/* One series of family f into y[0..T-1]; returns its length. */
static size_t series(synth_family f, rng *r, double hi, double *y)
{
	const double T = SYNTH_PERIODS;
	size_t n = SYNTH_PERIODS;

	switch (f) {
	case SYNTH_STEADY: {
		/* p ~ U(0.05, 0.6), m ~ U(1, 6). */
		double p = unif(r, 0.05, 0.6), m = unif(r, 1, 6);

		for (size_t t = 0; t < n; t++) {
			y[t] = demand(r, p, m);
		}
		break;
	}
	case SYNTH_DYING: {
		/* p0 ~ U(0.1, 0.6), m ~ U(1, 5); from tau ~ U(0.3T, 1.2T)
		 * p = p0 exp(-(t - tau) / d), d ~ U(1, 6). */
		double p0 = unif(r, 0.1, 0.6), m = unif(r, 1, 5);
		double tau = unif(r, 0.3 * T, 1.2 * T), d = unif(r, 1, 6);

		for (size_t t = 0; t < n; t++) {
			double p = (double)t < tau ? p0 :
			    p0 * exp(-((double)t - tau) / d);

			y[t] = demand(r, p, m);
		}
		break;
	}
	case SYNTH_NEW: {
		/* n ~ 8..24 periods since launch; p ~ U(0.1, 0.7),
		 * m ~ U(1, 5), stationary after launch. */
		double p = unif(r, 0.1, 0.7), m = unif(r, 1, 5);

		n = 8 + (size_t)(next(r) % 17);
		for (size_t t = 0; t < n; t++) {
			y[t] = demand(r, p, m);
		}
		break;
	}
	case SYNTH_SHIFT_UP:
	case SYNTH_SHIFT_DOWN: {
		/* p0 ~ U(0.05, 0.4), m ~ U(1, 5); from tau ~ U(0.5T, hi T)
		 * the rate is x k (up) or / k (down), k ~ U(2, 4), through
		 * p while p <= 0.9, then through the size. */
		double p0 = unif(r, 0.05, 0.4), m = unif(r, 1, 5);
		double tau = unif(r, 0.5 * T, hi * T), k = unif(r, 2, 4);
		double f1 = f == SYNTH_SHIFT_UP ? k : 1 / k;
		double p1 = p0 * f1, m1 = m;

		if (p1 > 0.9) {
			m1 = m * p1 / 0.9;
			p1 = 0.9;
		}
		for (size_t t = 0; t < n; t++) {
			y[t] = (double)t < tau ? demand(r, p0, m) :
			    demand(r, p1, m1);
		}
		break;
	}
	case SYNTH_LUMPY: {
		/* p ~ U(0.03, 0.3); size 1 + Po(G) with G ~ Gamma(0.5, mean
		 * M - 1) drawn per demand (so CV^2 of sizes ~ 2),
		 * M ~ U(2, 20). */
		double p = unif(r, 0.03, 0.3), M = unif(r, 2, 20);

		for (size_t t = 0; t < n; t++) {
			if (unif(r, 0, 1) >= p) {
				y[t] = 0;
				continue;
			}
			/* Gamma(0.5) = N(0,1)^2 / 2. */
			double u1 = unif(r, 1e-12, 1), u2 = unif(r, 0, 1);
			double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
			double g = z * z / 2 / 0.5 * (M - 1);

			y[t] = 1 + poisson(r, g);
		}
		break;
	}
	case SYNTH_SEASONAL: {
		/* Po(l (1 + 0.8 sin(2 pi t / 12 + phi))), l ~ U(0.2, 3),
		 * phi ~ U(0, 2 pi). */
		double l = unif(r, 0.2, 3), phi = unif(r, 0, 2 * M_PI);

		for (size_t t = 0; t < n; t++) {
			y[t] = poisson(r, l * (1 + 0.8 * sin(2 * M_PI *
			    (double)t / 12 + phi)));
		}
		break;
	}
	case SYNTH_BURST: {
		/* Before: B(b) x 1 unit, b ~ U(0, 0.1); a burst at tau ~
		 * U(0.2T, hi T) of w ~ 1..3 periods, each Po(U(10, 50));
		 * after: B(0.02) x 1 unit. */
		double b = unif(r, 0, 0.1);
		size_t tau = (size_t)unif(r, 0.2 * T, hi * T);
		size_t w = 1 + (size_t)(next(r) % 3);

		for (size_t t = 0; t < n; t++) {
			if (t < tau) {
				y[t] = demand(r, b, 1);
			} else if (t < tau + w) {
				y[t] = poisson(r, unif(r, 10, 50));
			} else {
				y[t] = demand(r, 0.02, 1);
			}
		}
		break;
	}
	case SYNTH_FAMILIES:
		break;
	}
	return n;
}

void synth_generate(synth_family f, unsigned long long seed, double change_hi,
    double *y, forecast_span *spans)
{
	rng r = { seed * 1000003ULL + (unsigned long long)f };

	for (size_t i = 0; i < SYNTH_SERIES; i++) {
		double *yi = y + i * SYNTH_PERIODS;

		spans[i].y = yi;
		spans[i].n = series(f, &r, change_hi, yi);
	}
}
