/*
 * forecast.c - the classic intermittent-demand methods and the network's
 * model. See forecast.h for the contract and docs/forecast.md for the
 * measurements behind every choice made here.
 *
 * Every method runs in O(n) over the history with O(1) memory, so a whole
 * catalogue is a few passes over memory: 10,000 series x 84 periods take a
 * few milliseconds (tests/eval prints the figure).
 */
#include "core/forecast.h"

#include <math.h>
#include <string.h>

#include "core/err.h"

static const char *const method_names[FORECAST_METHOD_COUNT] = {
	[FORECAST_NAIVE] = "naive",
	[FORECAST_MEAN] = "mean",
	[FORECAST_SES] = "ses",
	[FORECAST_CROSTON] = "croston",
	[FORECAST_SBA] = "sba",
	[FORECAST_TSB] = "tsb",
	[FORECAST_ADIDA] = "adida",
	[FORECAST_MODEL] = "model",
};

const char *forecast_method_name(forecast_method m)
{
	if ((unsigned)m >= FORECAST_METHOD_COUNT) {
		return "?";
	}
	return method_names[m];
}

int forecast_method_parse(const char *name, forecast_method *out)
{
	if (name == NULL || out == NULL) {
		return DN_EINVAL;
	}
	for (unsigned i = 0; i < FORECAST_METHOD_COUNT; i++) {
		if (strcmp(name, method_names[i]) == 0) {
			*out = (forecast_method)i;
			return 0;
		}
	}
	return DN_EINVAL;
}

const char *forecast_class_name(forecast_class c)
{
	switch (c) {
	case FORECAST_CLASS_NONE: return "none";
	case FORECAST_CLASS_SMOOTH: return "smooth";
	case FORECAST_CLASS_ERRATIC: return "erratic";
	case FORECAST_CLASS_INTERMITTENT: return "intermittent";
	case FORECAST_CLASS_LUMPY: return "lumpy";
	}
	return "?";
}

/* Moments of the non-zero sizes and where the demands are. */
typedef struct {
	size_t nz;       /* periods with demand > 0 */
	size_t first;    /* index of the first demand (n when none) */
	size_t last;     /* index of the last demand (n when none) */
	double sum;      /* total demand */
	double sum_sq;   /* sum of squared demands */
} series_stats;

static void stats_compute(const double *y, size_t n, series_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->first = n;
	s->last = n;
	for (size_t i = 0; i < n; i++) {
		if (y[i] > 0) {
			if (s->nz == 0) {
				s->first = i;
			}
			s->last = i;
			s->nz++;
			s->sum += y[i];
			s->sum_sq += y[i] * y[i];
		}
	}
}

forecast_class forecast_class_of(const double *y, size_t n, double *adi,
    double *cv2)
{
	series_stats s;
	double a = 0, c = 0;

	stats_compute(y, n, &s);
	if (s.nz > 0) {
		double mz = s.sum / (double)s.nz;
		double vz = s.sum_sq / (double)s.nz - mz * mz;

		a = (double)n / (double)s.nz;
		c = vz > 0 ? vz / (mz * mz) : 0;
	}
	if (adi != NULL) {
		*adi = a;
	}
	if (cv2 != NULL) {
		*cv2 = c;
	}
	if (s.nz == 0) {
		return FORECAST_CLASS_NONE;
	}
	/* Cut-offs of Syntetos, Boylan & Croston (2005). */
	if (a < 1.32) {
		return c < 0.49 ? FORECAST_CLASS_SMOOTH : FORECAST_CLASS_ERRATIC;
	}
	return c < 0.49 ? FORECAST_CLASS_INTERMITTENT : FORECAST_CLASS_LUMPY;
}

/* SES level after y[0..n-1], started at y[0] (R's initial = "simple"). */
static double ses_level(const double *y, size_t n, double alpha)
{
	double l = y[0];

	for (size_t i = 1; i < n; i++) {
		l += alpha * (y[i] - l);
	}
	return l;
}

/*
 * Croston as R's forecast::croston: SES (initial = first value) on the
 * non-zero sizes and on the intervals between them, the first interval
 * counted from the start of the series. A single demand gives size/interval
 * of that demand. Returns the rate z / p.
 */
static double croston_rate(const double *y, size_t n, double alpha)
{
	double z = 0, p = 0;
	size_t last = 0; /* period number (1-based) of the previous demand */
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (y[i] <= 0) {
			continue;
		}
		double interval = (double)(i + 1 - last);

		if (k == 0) {
			z = y[i];
			p = interval;
		} else {
			z += alpha * (y[i] - z);
			p += alpha * (interval - p);
		}
		last = i + 1;
		k++;
	}
	return k == 0 ? 0 : z / p;
}

/*
 * TSB (Teunter, Syntetos & Babai 2011): the probability of a demand is
 * smoothed every period (so it decays through a run of zeros, which is what
 * lets TSB follow obsolescence), the size only when a demand occurs. Both
 * start at their means over the history.
 */
static double tsb_rate(const double *y, size_t n, double alpha, double beta,
    const series_stats *s)
{
	if (s->nz == 0) {
		return 0;
	}
	double pr = (double)s->nz / (double)n;
	double z = s->sum / (double)s->nz;

	for (size_t i = 0; i < n; i++) {
		if (y[i] > 0) {
			pr += beta * (1 - pr);
			z += alpha * (y[i] - z);
		} else {
			pr -= beta * pr;
		}
	}
	return pr * z;
}

/*
 * ADIDA (Nikolopoulos et al. 2011): sum the history in buckets of k periods
 * (k = the mean interval between demands, rounded, at least 1), counted back
 * from the newest period so the last bucket is whole; SES on the bucket
 * totals; the next bucket's forecast spread evenly over its k periods.
 */
static double adida_rate(const double *y, size_t n, double alpha,
    const series_stats *s)
{
	if (s->nz == 0) {
		return 0;
	}
	size_t k = (size_t)floor((double)n / (double)s->nz + 0.5);

	if (k < 1) {
		k = 1;
	}
	size_t nb = n / k;

	if (nb == 0) {
		return s->sum / (double)n;
	}
	size_t start = n - nb * k;
	double l = 0;

	for (size_t b = 0; b < nb; b++) {
		double tot = 0;

		for (size_t j = 0; j < k; j++) {
			tot += y[start + b * k + j];
		}
		l = b == 0 ? tot : l + alpha * (tot - l);
	}
	return l / (double)k;
}

/* The model's per-period mean (defined with the model below). */
static double model_rate(const double *y, size_t n, const series_stats *s);

double forecast_point(forecast_method m, const double *y, size_t n,
    unsigned horizon)
{
	series_stats s;

	(void)horizon;
	if (y == NULL || n == 0) {
		return 0;
	}
	stats_compute(y, n, &s);
	switch (m) {
	case FORECAST_NAIVE:
		return y[n - 1];
	case FORECAST_MEAN:
		return s.sum / (double)n;
	case FORECAST_SES:
		return ses_level(y, n, FORECAST_ALPHA);
	case FORECAST_CROSTON:
		return croston_rate(y, n, FORECAST_ALPHA);
	case FORECAST_SBA:
		return (1 - FORECAST_ALPHA / 2) * croston_rate(y, n, FORECAST_ALPHA);
	case FORECAST_TSB:
		return tsb_rate(y, n, FORECAST_ALPHA, FORECAST_ALPHA, &s);
	case FORECAST_ADIDA:
		return adida_rate(y, n, FORECAST_ALPHA, &s);
	case FORECAST_MODEL:
		return model_rate(y, n, &s);
	case FORECAST_METHOD_COUNT:
		break;
	}
	return 0;
}

/* ---- the model ---- */

/*
 * The model (docs/forecast.md has the measurements behind each choice):
 *   - each period has a demand with probability p; a demand's size is
 *     1 + Poisson(m1), m1 = the series' mean size - 1;
 *   - p is the average of two estimates of the demand rate divided by the
 *     mean size: the long-run rate (mean of the history) and SBA's (which
 *     follows recent sizes and intervals) - a combination is steadier on
 *     unseen data than either;
 *   - then shrunk by nz / (nz + MODEL_PRIOR_ZEROS): a series with few
 *     demands is weak evidence (a catalogue holds a series because it sold
 *     once), a series with many keeps its rate;
 *   - p is uncertain: the number of demands in the horizon is beta-binomial
 *     with the Beta's weight equal to the history's length, so a short
 *     history gives a wider stock, a long one a tighter.
 * The mean is flat over the horizon; the stock is the service quantile of
 * the horizon total under exactly that distribution.
 */

/* Pseudo-demands of "nothing" that pull a thin history's rate towards 0:
 * 2 halves the rate of a one-demand series, trims a 20-demand one by 9%. */
#define MODEL_PRIOR_ZEROS 2.0

/* Weight of SBA in the rate; the rest is the long-run mean. An equal
 * average: no tuning, and neither estimate dominates on both datasets. */
#define MODEL_SBA_WEIGHT 0.5

/* p is kept inside (0, 1) so the beta-binomial's parameters stay > 0. */
#define MODEL_P_MAX (1 - 1e-6)

typedef struct {
	double p;    /* demand probability per period */
	double m1;   /* mean of (size - 1) */
	double nobs; /* weight of the Beta on p: the history's length */
} model_fit;

static void model_fit_compute(const double *y, size_t n, const series_stats *s,
    model_fit *f)
{
	memset(f, 0, sizeof(*f));
	f->nobs = (double)n;
	if (s->nz == 0) {
		return;
	}
	double nz = (double)s->nz;
	double mz = s->sum / nz;
	double sba = (1 - FORECAST_ALPHA / 2) * croston_rate(y, n, FORECAST_ALPHA);
	double rate = (1 - MODEL_SBA_WEIGHT) * s->sum / (double)n +
	    MODEL_SBA_WEIGHT * sba;

	f->p = nz / (nz + MODEL_PRIOR_ZEROS) * rate / mz;
	if (f->p > MODEL_P_MAX) {
		f->p = MODEL_P_MAX;
	}
	f->m1 = mz > 1 ? mz - 1 : 0;
}

static double model_mean(const model_fit *f)
{
	return f->p * (f->m1 + 1);
}

static double model_rate(const double *y, size_t n, const series_stats *s)
{
	model_fit f;

	model_fit_compute(y, n, s, &f);
	return model_mean(&f);
}

/* ---- quantiles ---- */

/* Standard normal quantile, Acklam's rational approximation: relative
 * error below 1.2e-9, far finer than the whole units it ends up in. */
static double norm_quantile(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
		-2.759285104469687e+02, 1.383577518672690e+02,
		-3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
		-1.556989798598866e+02, 6.680131188771972e+01,
		-1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
		-2.400758277161838e+00, -2.549732539343734e+00,
		4.374664141464968e+00, 2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
		2.445134137142996e+00, 3.754408661907416e+00 };
	double q, r;

	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Above this mean the pmf walk would take too long for a hot loop and the
 * normal approximation with a skew correction is within a unit or two. */
#define NBINOM_EXACT_MEAN_MAX 2000.0

double forecast_nbinom_quantile(double mean, double var, double service)
{
	if (!(mean > 0) || !(service > 0)) {
		return 0;
	}
	if (service >= 1) {
		service = FORECAST_SERVICE_MAX;
	}
	if (var < mean) {
		var = mean;
	}
	if (mean > NBINOM_EXACT_MEAN_MAX) {
		double sd = sqrt(var);
		double z = norm_quantile(service);
		/* Skewness of the NB: (2 var - mean) / (var sd); Cornish-Fisher. */
		double g = (2 * var - mean) / (var * sd);
		double q = mean + sd * (z + g * (z * z - 1) / 6);

		return q > 0 ? ceil(q - 1e-9) : 0;
	}
	double pmf, ratio, r = 0;
	int poisson = var <= mean * (1 + 1e-9);

	if (poisson) {
		pmf = exp(-mean);
		ratio = mean;
	} else {
		r = mean * mean / (var - mean);
		double pr = r / (r + mean);

		pmf = exp(r * log(pr));
		ratio = 1 - pr;
	}
	double cdf = pmf;
	double k = 0;
	/* The walk ends by the mean plus many standard deviations; bound it
	 * anyway so a NaN can never make it spin. */
	double kmax = mean + 50 * sqrt(var) + 10;

	while (cdf < service && k < kmax) {
		if (poisson) {
			pmf *= ratio / (k + 1);
		} else {
			pmf *= (k + r) / (k + 1) * ratio;
		}
		k += 1;
		cdf += pmf;
	}
	return k;
}

/* ---- forecast_series ---- */

/* Above this many units in H periods of demand every period the exact walk
 * below gets long (and exp(-k m1) nears underflow); the total is then
 * smooth enough for the moment-matched NB. */
#define MODEL_EXACT_TOTAL_MAX 500.0

/*
 * The horizon total T of the compound model: K ~ BetaBinomial(H, a, b) with
 * a = p w, b = (1 - p) w (w = the Beta's weight, the history's length), and
 * given K = k, T = k + Poisson(k m1). compound_walk walks x = 0, 1, ... with
 * each k's Poisson pmf kept by its recurrence, until P(T <= x) >= stop_cdf or
 * x = stop_x: O(H x), bounded by MODEL_EXACT_TOTAL_MAX in the callers.
 * Returns x and writes P(T <= x) to *cdf_out.
 */
static double compound_walk(double p, double m1, double w, unsigned H,
    double stop_cdf, double stop_x, double *cdf_out)
{
	double a = p * w, b = (1 - p) * w;
	double mz = m1 + 1;
	double pk[FORECAST_HORIZON_MAX + 1];
	double pmf[FORECAST_HORIZON_MAX + 1]; /* P(Poisson(k m1) = x - k) */
	double cum[FORECAST_HORIZON_MAX + 1]; /* P(Poisson(k m1) <= x - k) */
	double c = 1;

	for (unsigned j = 0; j < H; j++) {
		c *= (b + j) / (a + b + j);
	}
	for (unsigned k = 0; k <= H; k++) {
		pk[k] = c;
		if (k < H) {
			c *= (double)(H - k) / (k + 1) * (a + k) / (b + H - k - 1);
		}
		pmf[k] = exp(-(double)k * m1);
		cum[k] = 0;
	}
	double cdf = pk[0];
	double x = 0;
	/* T <= H mz + many standard deviations; the bound only guards
	 * against rounding keeping cdf a hair below service. */
	double xmax = ceil(H * mz + 20 * sqrt(H * mz * mz) + 10);

	if (stop_x > xmax) {
		stop_x = xmax;
	}
	while (cdf < stop_cdf && x < stop_x) {
		x += 1;
		cdf = pk[0];
		for (unsigned k = 1; k <= H; k++) {
			double j = x - k;

			if (j < 0) {
				break;
			}
			if (j > 0) {
				pmf[k] *= (double)k * m1 / j;
			}
			cum[k] += pmf[k];
			cdf += pk[k] * cum[k];
		}
	}
	*cdf_out = cdf > 1 ? 1 : cdf;
	return x;
}

/* Mean and variance of the horizon total (for the large-total branch). */
static void compound_moments(double p, double m1, double w, unsigned H,
    double *mean, double *var)
{
	double a = p * w, b = (1 - p) * w;
	double mz = m1 + 1;
	double ek = H * p;
	double vk = H * p * (1 - p) * (a + b + H) / (a + b + 1);

	*mean = ek * mz;
	*var = ek * m1 + vk * mz * mz;
}

/* Checks the compound's parameters; 0 when the total is surely 0. */
static int compound_ok(double p, double m1, double w, unsigned H)
{
	return p > 0 && p < 1 && m1 >= 0 && w > 0 && H >= 1 &&
	    H <= FORECAST_HORIZON_MAX && isfinite(m1);
}

double forecast_compound_quantile(double p, double m1, double weight,
    unsigned horizon, double service)
{
	double cdf;

	if (!compound_ok(p, m1, weight, horizon) || !(service > 0)) {
		return 0;
	}
	if (service > FORECAST_SERVICE_MAX) {
		service = FORECAST_SERVICE_MAX;
	}
	if ((double)horizon * (m1 + 1) > MODEL_EXACT_TOTAL_MAX) {
		double mu, var;

		compound_moments(p, m1, weight, horizon, &mu, &var);
		return forecast_nbinom_quantile(mu, var, service);
	}
	return compound_walk(p, m1, weight, horizon, service, HUGE_VAL, &cdf);
}

double forecast_compound_cdf(double p, double m1, double weight,
    unsigned horizon, double x)
{
	double cdf;

	if (!(x >= 0)) {
		return 0;
	}
	if (!compound_ok(p, m1, weight, horizon)) {
		return 1;
	}
	if ((double)horizon * (m1 + 1) > MODEL_EXACT_TOTAL_MAX) {
		double mu, var;

		/* Normal with a continuity correction: the calibration that
		 * uses this only needs the CDF to a percent or so. */
		compound_moments(p, m1, weight, horizon, &mu, &var);
		return 0.5 * erfc(-(floor(x) + 0.5 - mu) / sqrt(2 * var));
	}
	compound_walk(p, m1, weight, horizon, HUGE_VAL, floor(x), &cdf);
	return cdf;
}

static double model_quantile(const model_fit *f, unsigned H, double service)
{
	if (f->p <= 0) {
		return 0;
	}
	return forecast_compound_quantile(f->p, f->m1, f->nobs, H, service);
}

int forecast_series(const forecast_params *p, const double *y, size_t n,
    double *mean, forecast_result *res)
{
	if (p == NULL || y == NULL || mean == NULL || res == NULL || n == 0 ||
	    n > FORECAST_PERIODS_MAX || p->horizon < 1 ||
	    p->horizon > FORECAST_HORIZON_MAX ||
	    (unsigned)p->method >= FORECAST_METHOD_COUNT ||
	    !(p->service >= FORECAST_SERVICE_MIN) ||
	    !(p->service <= FORECAST_SERVICE_MAX)) {
		return DN_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(y[i] >= 0) || !(y[i] <= FORECAST_DEMAND_MAX)) {
			return DN_EINVAL;
		}
	}
	res->cls = forecast_class_of(y, n, NULL, NULL);
	if (p->method == FORECAST_MODEL) {
		series_stats s;
		model_fit f;

		stats_compute(y, n, &s);
		model_fit_compute(y, n, &s, &f);
		res->mean_total = 0;
		for (unsigned h = 0; h < p->horizon; h++) {
			mean[h] = model_mean(&f);
			res->mean_total += mean[h];
		}
		res->stock = model_quantile(&f, p->horizon, p->service);
		return 0;
	}
	double rate = forecast_point(p->method, y, n, p->horizon);

	for (unsigned h = 0; h < p->horizon; h++) {
		mean[h] = rate;
	}
	res->mean_total = rate * p->horizon;
	/* Baselines have no distribution: they hold the horizon mean, rounded
	 * up. The epsilon keeps 3.0000000001 (float noise) at 3; the test is
	 * "not > 0" so that -0 never reaches a CSV as "-0". */
	res->stock = ceil(res->mean_total - 1e-9);
	if (!(res->stock > 0)) {
		res->stock = 0;
	}
	return 0;
}
