/*
 * forecast_panel.h - the adaptive restock model (issue 11): a forecaster that
 * learns, from the panel of histories it is handed and from nothing else,
 * which candidate method to trust for which kind of series, and how wide
 * the stock must be to cover the service level.
 *
 * A panel is many series observed over the same kind of period (a dataset,
 * or the network's whole demand history: every region and SKU). Fitting:
 *   1. every series is cut at up to forecast_panel_origins(H) origins in its own
 *      last periods (rolling origin); the part before a cut is a training
 *      history, the next periods its validation target;
 *   2. each training history falls in a cluster by its shape (recency of its
 *      last demand, density, evidence, trend: forecast_panel_cluster_name);
 *   3. per cluster, the point forecast is the candidate x scale factor with
 *      the lowest validation RMSSE (a target cut shorter than the horizon
 *      by the history is completed with the history's own scatter around
 *      the forecast), and the stock's mean is the candidate
 *      whose horizon means, scaled to the cluster's validation demand,
 *      would have filled the most units (the placement of a fixed stock);
 *      clusters with few cases lean on their parent (shrinkage); whether
 *      each cluster keeps its own stock candidate or the panel's best one
 *      serves all is decided by cross-fit (each half of the series chooses
 *      on its own cases and is scored on the other half's); a history with
 *      no demand yet is forecast the demand per period that the panel's
 *      validation cases in that state went on to have (none_rate);
 *   4. per cluster, the stock's distribution is a negative binomial around
 *      that mean whose dispersion is fitted to the validation errors; its
 *      quantile level is calibrated on the validation targets so that the
 *      share covered equals the service level, per cluster, for the whole
 *      panel, or a blend of the two: whichever would have placed a fixed
 *      stock best on the validation targets; where no level reaches the
 *      service share (cases no stock covers), the reachable cover less
 *      0.5 % of the cases;
 *   5. a budget-aware stock: the quantile at one common placement level
 *      (raw or calibrated per cluster, chosen by validation fill at a 1.0x
 *      budget) times the factor that brings the validation cover to the
 *      service level; used when its validation fill beats step 4's.
 * A panel with fewer than FORECAST_PANEL_CASES_MIN validation cases learns
 * nothing and forecasts with the issue-5 model. Forecasting a series then
 * applies its cluster's choice to its whole history. docs/forecast.md has
 * the reasons and the measurements.
 *
 * Pure: no I/O, no clock, no randomness; the result is a deterministic
 * function of the panel, the horizon and the service level. Fitting
 * allocates a scratch table (freed before it returns). Cost: O(total
 * periods x candidates) plus one quantile walk per validation case and
 * candidate. Thread model: a fitted panel is read-only; share it freely.
 */
#ifndef DN_FORECAST_PANEL_H
#define DN_FORECAST_PANEL_H
#include <stddef.h>

#include "core/forecast.h"

/* Candidates the validation chooses among (forecast_panel_candidate_name). */
enum {
	FORECAST_CAND_ZERO = 0, /* nothing: a dead series */
	FORECAST_CAND_MEAN,     /* long-run mean */
	FORECAST_CAND_SES,      /* SES, alpha 0.1 */
	FORECAST_CAND_SES_FAST, /* SES, alpha 0.3: follows a level shift */
	FORECAST_CAND_SBA,      /* Croston x (1 - alpha / 2), alpha 0.1 */
	FORECAST_CAND_TSB,      /* TSB, alpha = beta = 0.1 */
	FORECAST_CAND_TSB_FAST, /* TSB, beta 0.3: the probability decays fast */
	FORECAST_CAND_IMAPA,    /* SES averaged over aggregation levels */
	FORECAST_CAND_RECENT,   /* mean of the last max(H, 6) periods */
	FORECAST_CAND_MODEL,    /* the issue-5 model's rate (forecast.h) */
	FORECAST_CAND_NAIVE,    /* the last period: a burst still under way */
	FORECAST_PANEL_CANDIDATES
};

/* Scale factors tried on the point candidate (0.5 .. 1.5): a cluster whose
 * demand is dying learns to forecast less than any smoother says. */
#define FORECAST_PANEL_SCALES 9

/* Clusters: 0 holds histories with no demand at all; the others are
 * recency (3) x density (2) x evidence (2) x trend (3). */
#define FORECAST_PANEL_CLUSTERS 37

/* Rolling origins per series, and the shortest training history a cut may
 * leave: fewer than 6 periods say little about a series' shape (a history
 * shorter than 12 is cut at its half, and never below 2 periods). */
#define FORECAST_PANEL_ORIGINS_MIN 3u
/* Adjacent origins are added until the targets span 12 periods (9 origins
 * at H = 3, 6 at H = 6, 3 from H = 9 on): a short horizon's windows are
 * few periods each and need more of them to say anything. */
#define FORECAST_PANEL_TARGET_SPAN 12u
#define FORECAST_PANEL_TRAIN_MIN 6

/* Calibrations of the stock's level tried: blends of each cluster's own
 * level and one level for the panel, in steps of a quarter. */
#define FORECAST_PANEL_SCHEMES 5u

/* Placement levels tried for the budget-aware stock (0.20 .. 0.95 in steps
 * of 0.05), raw and calibrated per cluster: forecast_panel.alloc. */
#define FORECAST_PANEL_TAUS 16u

/* Validation cases a panel needs before it learns anything: with fewer
 * (a network's first hours, a tiny test network) it forecasts with the
 * issue-5 model whole, as the live system did before (learned = 0). */
#define FORECAST_PANEL_CASES_MIN 50u

typedef struct {
	const double *y; /* oldest first, values as forecast_series accepts */
	size_t n;        /* 1..FORECAST_PERIODS_MAX */
} forecast_span;

/* What one cluster learned. */
typedef struct {
	double cases;       /* validation cases that fell in this cluster */
	unsigned point;     /* candidate of the point forecast (never zero) */
	double scale;       /* factor on it */
	double point_loss;  /* its validation RMSSE (shrunk towards the parent) */
	double plain_loss;  /* the same for the mean (scale 1), for comparison */
	unsigned stock;     /* candidate of the stock's mean */
	double stock_fill;  /* its validation fill at a 1.0x budget (shrunk) */
	double dispersion;  /* NB2: variance of a total = mu + dispersion mu^2 */
	double level;       /* calibrated quantile level of the stock */
	unsigned level_from; /* 0 this cluster, 1 its parent, 2 the panel, 3 none */
	double alloc_level; /* placement quantile level (when alloc) */
} forecast_panel_choice;

typedef struct {
	unsigned horizon;
	double service;
	size_t series;      /* series in the panel */
	size_t cases;       /* validation cases over all clusters */
	unsigned learned;   /* 1: cases >= FORECAST_PANEL_CASES_MIN */
	unsigned stock_panel; /* 1: one stock candidate for every cluster */
	/* Demand per period of a history with no demand yet (cluster 0),
	 * learned from the validation cases in that state (their targets'
	 * demand over their periods; 0 under 50 such cases). */
	double none_rate;
	double stock_fill[2]; /* validation fill of the means: per cluster, one */
	/* 1: per cluster or one was chosen by cross-fit (each half of the
	 * series chooses on its own cases, scored on the other half's):
	 * stock_xfill holds those held-out fills; 0: by stock_fill. */
	unsigned stock_crossed;
	double stock_xfill[2];
	unsigned scheme;    /* levels: 0 per cluster .. SCHEMES-1 one level */
	double scheme_fill[FORECAST_PANEL_SCHEMES]; /* validation fill @ 1.0x */
	/* Budget-aware stock: stock = round(alloc_k x the quantile at the
	 * cluster's alloc_level), used when alloc is 1 (its validation fill
	 * alloc_fill beat the scheme's at the same calibrated cover). */
	unsigned alloc;
	unsigned alloc_cal;  /* 1: levels calibrated per cluster, 0: raw */
	double alloc_tau;    /* the common placement level */
	double alloc_k;      /* factor that brings the cover to the service */
	double alloc_fill;   /* its validation fill @ 1.0x */
	forecast_panel_choice cluster[FORECAST_PANEL_CLUSTERS];
} forecast_panel;

/* Why a series got its forecast, and the stock's distribution: the point
 * forecast (mean[]) is chosen for RMSSE and is shrunk on sparse data; a
 * planner that needs the expected horizon total should read stock_mean. */
typedef struct {
	unsigned cluster;
	unsigned point, stock; /* candidates */
	double scale, level;   /* level: of the quantile behind the stock */
	double factor;         /* stock = round(factor x that quantile) when
	                        * > 0 (the budget-aware stock), else the
	                        * quantile itself */
	double stock_mean;     /* mean of the horizon total behind the stock */
	double stock_var;      /* its variance (NB2) */
} forecast_panel_why;

/* Fits *m on spans[0..count-1] for the given horizon (1..FORECAST_
 * HORIZON_MAX) and service (FORECAST_SERVICE_MIN..MAX). count may be 0,
 * or the spans too short or too few to give FORECAST_PANEL_CASES_MIN
 * validation cases: then nothing is learned (m->learned 0) and every
 * series gets the issue-5 model's forecast (forecast_series). Returns 0,
 * DN_EINVAL on a bad argument or value, DN_ENOMEM. */
int forecast_panel_fit(forecast_panel *m, unsigned horizon, double service,
    const forecast_span *spans, size_t count);

/* Forecasts one series with a fitted panel (any series, in the panel or
 * not): mean[0..horizon-1] (flat) and res (stock, mean_total, class). why
 * may be NULL. Returns 0 or DN_EINVAL (nothing written). */
int forecast_panel_series(const forecast_panel *m, const double *y, size_t n,
    double *mean, forecast_result *res, forecast_panel_why *why);

/* Rolling origins per series for a horizon (forecast_panel.h's rule). */
unsigned forecast_panel_origins(unsigned horizon);

/* The cluster a history falls in (0..FORECAST_PANEL_CLUSTERS-1). */
unsigned forecast_panel_cluster_of(const double *y, size_t n);

/* "mean", "tsb_fast", ...; "?" out of range. */
const char *forecast_panel_candidate_name(unsigned cand);

/* Writes a cluster's name ("active/sparse/rich/down", "none") into buf
 * (always NUL-terminated when len > 0). Returns buf. */
char *forecast_panel_cluster_name(unsigned cluster, char *buf, size_t len);

/* The point candidate's rate per period for a history, before the scale
 * (public for tests). n >= 1. */
double forecast_panel_candidate_rate(unsigned cand, const double *y, size_t n,
    unsigned horizon);

#endif
