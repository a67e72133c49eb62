/*
 * spike.h - online spike detection on the live demand counts of one
 * (region, sku) series during an open drop (issue 5).
 *
 * The test is a one-sided Poisson CUSUM (Page 1954; Lucas 1985) on the
 * per-bucket counts x_t against their expected counts e_t:
 *
 *   S_t = max(0, S_{t-1} + min(x_t ln k - (k - 1) e_t, h / m))
 *
 * x ln k - (k - 1) e is the log-likelihood ratio of "the rate is k times
 * the forecast" against "the rate is the forecast" for a Poisson count, so
 * S is the evidence for a k-fold jump accumulated since the last time the
 * evidence was nil; a spike is declared when S >= h.
 *
 *  - False alarms: for Poisson counts at the expected rate the mean number
 *    of buckets between false alarms is at least e^h, whatever e_t does
 *    (Lorden's bound for the CUSUM of a likelihood ratio), so
 *    h = ln(arl0_buckets) states the false-alarm rate directly. The clip
 *    and the expected-count floor only lower S, so the bound still holds.
 *  - Sustained excess: each bucket adds at most h / m, so a spike needs at
 *    least m buckets of excess. One outlier bucket (a bulk buyer, a bot,
 *    a late batch of events) never alarms on its own, however large.
 *  - Opening rush: the expected count is the caller's forecast per bucket
 *    times the opening-rush profile 1 + (P - 1) exp(-t / tau) averaged
 *    over the bucket (t = time since the window opened), so the normal
 *    rush is expected and not evidence. P = 1 turns the profile off (for a
 *    caller whose forecast already has the rush in it).
 *
 * After a declared spike S restarts at 0 and no spike is declared for
 * cooldown_buckets buckets (the caller is rebalancing); a rate that stays
 * high is declared again after that, as a fresh spike with fresh evidence.
 *
 * Pure logic: no I/O, no clock (times are the caller's bucket starts), no
 * allocation. The caller keeps one spike_state per series, updates it once
 * per bucket, in time order, including buckets with no demand.
 *
 * Thread model: a spike_state belongs to one thread; params are read-only.
 */
#ifndef DN_SPIKE_H
#define DN_SPIKE_H
#include <stdbool.h>
#include <stdint.h>

/* Largest count in one bucket: beyond any drop's demand in a bucket, and
 * far from double's exact range. */
#define SPIKE_COUNT_MAX 10000000u

/* Largest expected count in one bucket (same reason). */
#define SPIKE_EXPECTED_MAX 10000000.0

/* Bounds of the parameters, each with its reason:
 * ratio: below 1.1 the test hunts noise; above 100 no spike is "k-fold";
 * arl0: at least 10 buckets (h > 2.3), at most 10^12 (h < 28);
 * buckets: 1 s to 1 day; rush time constant up to 1 day; the peak up to
 * 100x; at most 10^4 buckets of minimum run or cool-down. */
#define SPIKE_RATIO_MIN 1.1
#define SPIKE_RATIO_MAX 100.0
#define SPIKE_ARL0_MIN 10.0
#define SPIKE_ARL0_MAX 1e12
#define SPIKE_BUCKET_S_MAX 86400.0
#define SPIKE_RUSH_PEAK_MAX 100.0
#define SPIKE_RUSH_TAU_S_MAX 86400.0
#define SPIKE_BUCKETS_MAX 10000u

typedef struct {
	double bucket_s;          /* bucket length, s (1..SPIKE_BUCKET_S_MAX) */
	double ratio;             /* k: the jump the test is tuned for, as a
	                           * multiple of the forecast; larger jumps are
	                           * caught faster, smaller ones slower */
	double arl0_buckets;      /* wanted mean buckets between false alarms
	                           * at the forecast rate; h = ln(arl0) */
	unsigned min_buckets;     /* m: a spike needs >= m buckets of excess
	                           * (1..SPIKE_BUCKETS_MAX) */
	unsigned cooldown_buckets; /* quiet buckets after a spike (0..MAX) */
	double rush_peak;         /* P: expected-rate multiplier at the
	                           * opening, 1..SPIKE_RUSH_PEAK_MAX (1: off) */
	double rush_tau_s;        /* tau: the rush's decay time, s (> 0) */
	double expected_min;      /* floor on the expected count per bucket,
	                           * >= 0: a forecast of 0 would make every
	                           * sale evidence */
} spike_params;

/* Per-series state, owned by the caller; set up by spike_init. */
typedef struct {
	int64_t open_ms;      /* when the drop window opened */
	int64_t last_ms;      /* start of the last bucket seen */
	bool seen;            /* a bucket has been seen */
	double stat;          /* S, the CUSUM statistic, >= 0 */
	int64_t run_ms;       /* start of the first bucket of the run (S > 0) */
	unsigned run_buckets; /* buckets in the run, 0 when S == 0 */
	double run_observed;  /* counts over the run */
	double run_expected;  /* expected counts over the run */
	unsigned cooldown;    /* buckets left before spikes are declared */
	uint64_t spikes;      /* spikes declared so far */
} spike_state;

/* What made a spike: for the log line and the pub socket. */
typedef struct {
	int64_t bucket_ms;     /* start of the bucket where S crossed h */
	int64_t since_ms;      /* start of the run of excess that led to it */
	unsigned run_buckets;  /* buckets in that run */
	double observed;       /* count in the bucket */
	double expected;       /* expected count in the bucket (rush, floor) */
	double observed_rate;  /* observed units per minute over the run */
	double expected_rate;  /* expected units per minute over the run */
	double stat;           /* S when declared (>= threshold, up to a
	                        * relative 1e-12 of rounding) */
	double threshold;      /* h */
} spike_evidence;

/* Defaults: minute buckets, tuned for a doubling (k = 2), a false alarm
 * at most once a week of minute buckets per series (arl0 = 10080,
 * h = 9.22), 3 buckets of excess at least, 10 quiet buckets after a spike,
 * an opening rush of 3x decaying with tau = 120 s, floor 0.05/bucket.
 * docs/forecast.md "Spike detection" says why. */
void spike_params_default(spike_params *p);

/* Returns 0 when every parameter is in its documented range, else
 * DN_EINVAL. */
int spike_params_check(const spike_params *p);

/* The threshold h = ln(arl0_buckets). */
double spike_threshold(const spike_params *p);

/* The opening-rush multiplier averaged over the bucket that starts
 * since_open_s seconds after the opening (1 for a bucket wholly before
 * it; the part of a bucket before the opening counts as 1):
 * 1 + (P - 1) tau / b (e^(-t0 / tau) - e^(-t1 / tau)) for the bucket
 * [t0, t1) of length b. */
double spike_rush_factor(const spike_params *p, double since_open_s);

/* Starts a series for a window that opened at open_ms (the caller's clock,
 * ms). Returns 0, or DN_EINVAL for NULL or bad params (*s untouched). */
int spike_init(spike_state *s, const spike_params *p, int64_t open_ms);

/* Feeds the bucket starting at bucket_ms (strictly after the previous
 * one) with `observed` units of demand (sold and turned away) against
 * `expected`, the forecast count for a bucket of this series before the
 * rush profile. p must be the params the state was started with (they are
 * not checked again here). Returns 1 when a spike is declared (then *ev, if not NULL,
 * gets the evidence and the state restarts with its cool-down), 0 when
 * not, DN_EINVAL for a bad argument (NULL s or p, observed >
 * SPIKE_COUNT_MAX, expected negative, over SPIKE_EXPECTED_MAX or not
 * finite, a bucket not after the last; the state is left untouched). */
int spike_update(spike_state *s, const spike_params *p, int64_t bucket_ms,
    uint32_t observed, double expected, spike_evidence *ev);

#endif
