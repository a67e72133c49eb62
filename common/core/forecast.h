/*
 * forecast.h - forecasting of intermittent, lumpy demand (issue 5).
 *
 * Pure logic: no I/O, no clock, no randomness, no allocation. Every function
 * is a deterministic function of its arguments, so the same history always
 * gives the same forecast and the same stock, on every machine.
 *
 * A series is y[0..n-1], one non-negative demand per period, oldest first.
 * For a horizon H a forecast gives
 *   - mean[h-1], the expected demand in period n+h (h = 1..H), and
 *   - stock, the whole units to hold for all H periods so that the horizon's
 *     total demand is covered with probability >= service: a quantile of the
 *     forecast distribution of the horizon total, not mean plus a guess.
 *
 * The classic methods (naive, mean, SES, Croston, SBA, TSB, ADIDA) are here
 * as baselines and give a point forecast only; their stock is the rounded-up
 * horizon mean (they have no distribution). FORECAST_MODEL is the model the
 * network uses; docs/forecast.md says what it is and why, with the numbers.
 *
 * Thread model: no shared state; call from any thread.
 */
#ifndef DN_FORECAST_H
#define DN_FORECAST_H
#include <stddef.h>

/* Longest horizon: a year of days, or 6 hours of minute buckets. Bounds the
 * caller's mean[] array and the quantile search. */
#define FORECAST_HORIZON_MAX 366u

/* Longest history one series may have: two weeks of minute buckets during a
 * live drop, or 50 years of days. Bounds the work per series. */
#define FORECAST_PERIODS_MAX 20160u

/* Largest demand in one period. Counts beyond this are a data error (no drop
 * sells a billion units a period) and stay far from double's 2^53 exactness
 * even when summed over FORECAST_PERIODS_MAX periods. */
#define FORECAST_DEMAND_MAX 1000000000.0

/* Service levels accepted: outside [0.5, 0.999] a quantile stops meaning
 * "cover demand" (below the median) or chases noise in the far tail. */
#define FORECAST_SERVICE_MIN 0.5
#define FORECAST_SERVICE_MAX 0.999

/* Smoothing constant of the classic baselines (SES, Croston, SBA, TSB,
 * ADIDA): 0.1, the usual fixed value in the literature and R's default. */
#define FORECAST_ALPHA 0.1

typedef enum {
	FORECAST_NAIVE = 0, /* last value */
	FORECAST_MEAN,      /* mean of the whole history */
	FORECAST_SES,       /* simple exponential smoothing, alpha 0.1 */
	FORECAST_CROSTON,   /* Croston 1972, alpha 0.1 on sizes and intervals */
	FORECAST_SBA,       /* Syntetos-Boylan approximation: Croston x (1 - a/2) */
	FORECAST_TSB,       /* Teunter-Syntetos-Babai: smoothed probability x size */
	FORECAST_ADIDA,     /* aggregate by mean interval, SES, disaggregate */
	FORECAST_MODEL,     /* the network's model (docs/forecast.md) */
	FORECAST_METHOD_COUNT
} forecast_method;

/* Demand class after Syntetos, Boylan & Croston (2005): ADI (mean interval
 * between demands) against 1.32 and CV^2 of the non-zero sizes against 0.49. */
typedef enum {
	FORECAST_CLASS_NONE = 0, /* no demand in the history */
	FORECAST_CLASS_SMOOTH,
	FORECAST_CLASS_ERRATIC,
	FORECAST_CLASS_INTERMITTENT,
	FORECAST_CLASS_LUMPY,
} forecast_class;

/* Lower-case name ("croston"); never NULL ("?" if out of range). */
const char *forecast_method_name(forecast_method m);

/* Parses a name as printed by forecast_method_name ("model" included).
 * Returns 0 or DN_EINVAL. */
int forecast_method_parse(const char *name, forecast_method *out);

/* Name of a class ("lumpy"); never NULL. */
const char *forecast_class_name(forecast_class c);

/* Classifies y[0..n-1]; writes ADI and CV^2 (0 when undefined) if the
 * pointers are not NULL. Returns the class. */
forecast_class forecast_class_of(const double *y, size_t n, double *adi,
    double *cv2);

typedef struct {
	forecast_method method;
	unsigned horizon; /* 1..FORECAST_HORIZON_MAX */
	double service;   /* FORECAST_SERVICE_MIN..MAX; used by FORECAST_MODEL */
} forecast_params;

typedef struct {
	double mean_total;    /* sum of mean[0..H-1] */
	double stock;         /* whole units for the horizon, >= 0 */
	forecast_class cls;   /* class of the history */
} forecast_result;

/* Forecasts one series. y[0..n-1] with 1 <= n <= FORECAST_PERIODS_MAX, every
 * value finite, in [0, FORECAST_DEMAND_MAX]. mean has room for p->horizon
 * values. Returns 0, or DN_EINVAL on a bad argument (nothing written). */
int forecast_series(const forecast_params *p, const double *y, size_t n,
    double *mean, forecast_result *res);

/*
 * The parts, public so that tests can check them against hand-worked values.
 */

/* Point forecast of a classic method for every future period (they are all
 * flat). FORECAST_MODEL is accepted too. n >= 1. */
double forecast_point(forecast_method m, const double *y, size_t n,
    unsigned horizon);

/* Smallest integer k with P(X <= k) >= service where X is negative binomial
 * with the given mean and variance (Poisson when var <= mean; 0 when
 * mean <= 0). Large means use a normal approximation with a skew correction
 * (Cornish-Fisher), exact enough at that size and bounded in time. */
double forecast_nbinom_quantile(double mean, double var, double service);

/* The model's distribution of a horizon total, public for the adaptive
 * panel model (forecast_panel.h) and for tests: over H periods each has a
 * demand with probability P, P ~ Beta(p w, (1 - p) w) shared by the H
 * periods (so the number of demands K is beta-binomial), and a demand's
 * size is 1 + Poisson(m1). 0 < p < 1, m1 >= 0, w > 0; any other p gives a
 * total of 0 (quantile 0, CDF 1 at x >= 0).
 * forecast_compound_quantile: smallest integer x with P(T <= x) >= service.
 * forecast_compound_cdf: P(T <= x) (0 for x < 0); exact below 500 units of
 * mean-size x H, a continuity-corrected normal above. */
double forecast_compound_quantile(double p, double m1, double weight,
    unsigned horizon, double service);
double forecast_compound_cdf(double p, double m1, double weight,
    unsigned horizon, double x);

#endif
