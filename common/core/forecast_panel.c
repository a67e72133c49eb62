/*
 * forecast_panel.c - the adaptive restock model: candidates, clusters,
 * rolling-origin validation and the calibration of the stock's level. See
 * forecast_panel.h for the contract and docs/forecast.md for the reasons.
 *
 * Invariants: a fitted panel names a valid candidate, a scale from scales[]
 * and a level in [PANEL_LEVEL_MIN, FORECAST_SERVICE_MAX] for every cluster;
 * cluster 0 (no demand in the history) names the zero candidate: it
 * forecasts the panel's learned none_rate (0 when unlearned).
 */
#include "core/forecast_panel.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const char *const cand_names[FORECAST_PANEL_CANDIDATES] = {
	[FORECAST_CAND_ZERO] = "zero",
	[FORECAST_CAND_MEAN] = "mean",
	[FORECAST_CAND_SES] = "ses",
	[FORECAST_CAND_SES_FAST] = "ses_fast",
	[FORECAST_CAND_SBA] = "sba",
	[FORECAST_CAND_TSB] = "tsb",
	[FORECAST_CAND_TSB_FAST] = "tsb_fast",
	[FORECAST_CAND_IMAPA] = "imapa",
	[FORECAST_CAND_RECENT] = "recent",
	[FORECAST_CAND_MODEL] = "model",
	[FORECAST_CAND_NAIVE] = "naive",
};

/* Scale factors on the point candidate; index SCALE_ONE is 1. */
static const double scales[FORECAST_PANEL_SCALES] = { 0.5, 0.6, 0.7, 0.8,
	0.9, 1, 1.15, 1.3, 1.5 };
#define SCALE_ONE 5u

/* Fast smoothing constants: 0.3 is the usual "reactive" end of the range
 * quoted for SES and TSB (the slow end, 0.1, is FORECAST_ALPHA). */
#define PANEL_ALPHA_FAST 0.3

/* Weight, in validation cases, of a parent's loss in a cluster's: a
 * cluster with 200 cases trusts them half. A cluster's validation fill is
 * a noisy figure (a few heavy series move it), so its own choice needs a
 * few hundred cases to overrule its parent's (20 was measured too: one more
 * cell of the harder evaluation lost, docs/forecast.md). */
#define PANEL_PRIOR_CASES 200.0

/* Cases a cluster needs to calibrate its own level (else its parent's):
 * with 50 the share covered is known to about +-0.04 at 0.9. */
#define PANEL_CAL_MIN 50u

/* Resolution of the calibration: levels are found to 0.001. */
#define PANEL_BINS 1000u

/* When no level reaches the service share of a node's validation cases, the
 * level aims at the best cover reachable less this share of the cases: the
 * last few tenths of a percent of cover would cost a stock of 10-20x the
 * demand (the highest level) and buy nothing a planner can use. */
#define PANEL_REACH_TOL 0.005

/* Lowest calibrated level: a cluster where almost nothing sells may need a
 * quantile far below the median of a distribution fitted to its sales. */
#define PANEL_LEVEL_MIN 0.01

/* Longest aggregation level of iMAPA: a year of months. */
#define PANEL_IMAPA_LEVELS_MAX 12u

const char *forecast_panel_candidate_name(unsigned cand)
{
	return cand < FORECAST_PANEL_CANDIDATES ? cand_names[cand] : "?";
}

typedef struct {
	size_t nz;   /* periods with demand */
	size_t last; /* index of the last demand */
	double sum;
} shape;

static void shape_of(const double *y, size_t n, shape *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		if (y[i] > 0) {
			s->nz++;
			s->last = i;
			s->sum += y[i];
		}
	}
}

/* Cluster index: 1 + ((recency * 2 + density) * 2 + evidence) * 3 + trend,
 * 0 for no demand. The parent of cluster c > 0 is (c - 1) / 6. */
unsigned forecast_panel_cluster_of(const double *y, size_t n)
{
	shape s;

	if (y == NULL || n == 0) {
		return 0;
	}
	shape_of(y, n, &s);
	if (s.nz == 0) {
		return 0;
	}
	double adi = (double)n / (double)s.nz;
	double gap = (double)(n - 1 - s.last);
	/* Recency in units of the series' own mean interval: "due", "late",
	 * "stale" (three intervals without the demand it usually has). */
	unsigned rec = gap <= adi ? 0 : gap <= 3 * adi ? 1 : 2;
	/* Syntetos-Boylan's ADI cut-off. */
	unsigned dens = adi < 1.32 ? 0 : 1;
	/* Fewer than 4 demands: too little to trust a size or an interval. */
	unsigned evid = s.nz <= 3 ? 0 : 1;
	/* Trend: the rate over the last third against the whole history. */
	unsigned trend = 1;
	size_t L = n / 3;

	if (L >= 1) {
		double recent = 0;

		for (size_t i = n - L; i < n; i++) {
			recent += y[i];
		}
		double ratio = (recent / (double)L) / (s.sum / (double)n);

		trend = ratio < 0.5 ? 0 : ratio > 1.5 ? 2 : 1;
	}
	return 1 + ((rec * 2 + dens) * 2 + evid) * 3 + trend;
}

char *forecast_panel_cluster_name(unsigned c, char *buf, size_t len)
{
	static const char *const rec[] = { "due", "late", "stale" };
	static const char *const dens[] = { "dense", "sparse" };
	static const char *const evid[] = { "thin", "rich" };
	static const char *const trend[] = { "down", "flat", "up" };

	if (buf == NULL || len == 0) {
		return buf;
	}
	if (c == 0) {
		snprintf(buf, len, "none");
	} else if (c >= FORECAST_PANEL_CLUSTERS) {
		snprintf(buf, len, "?");
	} else {
		unsigned i = c - 1;

		snprintf(buf, len, "%s/%s/%s/%s", rec[i / 12], dens[(i / 6) % 2],
		    evid[(i / 3) % 2], trend[i % 3]);
	}
	return buf;
}

/* SES level started at y[0]. */
static double ses(const double *y, size_t n, double alpha)
{
	double l = y[0];

	for (size_t i = 1; i < n; i++) {
		l += alpha * (y[i] - l);
	}
	return l;
}

/* TSB with its own beta, started at the history's means. */
static double tsb(const double *y, size_t n, double alpha, double beta,
    const shape *s)
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
 * iMAPA (Petropoulos & Kourentzes 2015): for every aggregation level k = 1
 * .. K (K = the mean interval between demands, rounded, at most 12 and at
 * most n), SES on the totals of buckets of k periods counted back from the
 * newest period, divided by k; the average over the levels.
 */
static double imapa(const double *y, size_t n, const shape *s)
{
	if (s->nz == 0) {
		return 0;
	}
	size_t K = (size_t)floor((double)n / (double)s->nz + 0.5);

	if (K < 1) {
		K = 1;
	}
	if (K > PANEL_IMAPA_LEVELS_MAX) {
		K = PANEL_IMAPA_LEVELS_MAX;
	}
	if (K > n) {
		K = n;
	}
	double acc = 0;

	for (size_t k = 1; k <= K; k++) {
		size_t nb = n / k, start = n - nb * k;
		double l = 0;

		for (size_t b = 0; b < nb; b++) {
			double tot = 0;

			for (size_t j = 0; j < k; j++) {
				tot += y[start + b * k + j];
			}
			l = b == 0 ? tot : l + FORECAST_ALPHA * (tot - l);
		}
		acc += l / (double)k;
	}
	return acc / (double)K;
}

static double recent_mean(const double *y, size_t n, unsigned horizon)
{
	size_t L = horizon > 6 ? horizon : 6;
	double t = 0;

	if (L > n) {
		L = n;
	}
	for (size_t i = n - L; i < n; i++) {
		t += y[i];
	}
	return t / (double)L;
}

static double cand_rate(unsigned cand, const double *y, size_t n,
    unsigned horizon, const shape *s)
{
	switch (cand) {
	case FORECAST_CAND_ZERO:
		return 0;
	case FORECAST_CAND_MEAN:
		return s->sum / (double)n;
	case FORECAST_CAND_SES:
		return ses(y, n, FORECAST_ALPHA);
	case FORECAST_CAND_SES_FAST:
		return ses(y, n, PANEL_ALPHA_FAST);
	case FORECAST_CAND_SBA:
		return forecast_point(FORECAST_SBA, y, n, horizon);
	case FORECAST_CAND_TSB:
		return tsb(y, n, FORECAST_ALPHA, FORECAST_ALPHA, s);
	case FORECAST_CAND_TSB_FAST:
		return tsb(y, n, FORECAST_ALPHA, PANEL_ALPHA_FAST, s);
	case FORECAST_CAND_IMAPA:
		return imapa(y, n, s);
	case FORECAST_CAND_RECENT:
		return recent_mean(y, n, horizon);
	case FORECAST_CAND_MODEL:
		return forecast_point(FORECAST_MODEL, y, n, horizon);
	case FORECAST_CAND_NAIVE:
		return y[n - 1];
	}
	return 0;
}

double forecast_panel_candidate_rate(unsigned cand, const double *y, size_t n,
    unsigned horizon)
{
	shape s;

	if (y == NULL || n == 0 || cand >= FORECAST_PANEL_CANDIDATES) {
		return 0;
	}
	shape_of(y, n, &s);
	return cand_rate(cand, y, n, horizon, &s);
}

static void cand_rates(const double *y, size_t n, unsigned horizon,
    const shape *s, double *r)
{
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		r[k] = s->nz == 0 ? 0 : cand_rate(k, y, n, horizon, s);
	}
}

/* Standard normal CDF. */
static double norm_cdf(double z)
{
	return 0.5 * erfc(-z / sqrt(2));
}

/* Above this mean the NB is treated as normal (as forecast_nbinom_quantile
 * does above its own threshold). */
#define PANEL_NB_EXACT_MEAN_MAX 2000.0

/* P(X <= x), X negative binomial with this mean and variance (Poisson when
 * var <= mean); 1 when mean <= 0 and x >= 0. */
static double nb_cdf(double mean, double var, double x)
{
	if (x < 0) {
		return 0;
	}
	if (!(mean > 0)) {
		return 1;
	}
	if (var < mean) {
		var = mean;
	}
	if (mean > PANEL_NB_EXACT_MEAN_MAX) {
		return norm_cdf((floor(x) + 0.5 - mean) / sqrt(var));
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

	/* The walk stops where the tail no longer matters, so a surprise
	 * far above the mean costs no more than the distribution's bulk. */
	for (double k = 0; k < floor(x) && cdf < 1 - 1e-12; k += 1) {
		if (poisson) {
			pmf *= ratio / (k + 1);
		} else {
			pmf *= (k + r) / (k + 1) * ratio;
		}
		cdf += pmf;
	}
	return cdf > 1 ? 1 : cdf;
}

/* Variance of a horizon total with mean mu: NB2, mu + disp mu^2. */
static double nb_var(double mu, double disp)
{
	return mu + disp * mu * mu;
}

/*
 * Quantiles of the NB (mean, var) at the ascending levels lv[0..nlv-1]
 * into out[], in one walk: the same values forecast_nbinom_quantile gives
 * level by level (which it calls above its exact range).
 */
static void nb_quantiles(double mean, double var, const double *lv,
    unsigned nlv, double *out)
{
	unsigned j = 0;

	if (!(mean > 0) || mean > PANEL_NB_EXACT_MEAN_MAX) {
		for (; j < nlv; j++) {
			out[j] = forecast_nbinom_quantile(mean, var, lv[j]);
		}
		return;
	}
	if (var < mean) {
		var = mean;
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
	double cdf = pmf, k = 0, kmax = mean + 50 * sqrt(var) + 10;

	for (; j < nlv; j++) {
		double want = lv[j] >= 1 ? FORECAST_SERVICE_MAX : lv[j];

		while (cdf < want && k < kmax) {
			pmf *= poisson ? ratio / (k + 1) : (k + r) / (k + 1) * ratio;
			k += 1;
			cdf += pmf;
		}
		out[j] = want > 0 ? k : 0;
	}
}

/* ---- fitting ---- */

/* Budget factors g = 2^(i/2 - 4), i = 0..16 (1/16 .. 16): the fill of a
 * candidate's means scaled to the demand is interpolated between them. */
#define PANEL_BUDGET_GRID 17u

static const double budget_factors[PANEL_BUDGET_GRID] = { 1.0 / 16,
	M_SQRT2 / 16, 1.0 / 8, M_SQRT2 / 8, 1.0 / 4, M_SQRT2 / 4, 1.0 / 2,
	M_SQRT2 / 2, 1, M_SQRT2, 2, 2 * M_SQRT2, 4, 4 * M_SQRT2, 8, 8 * M_SQRT2,
	16 };

static double budget_factor(unsigned i)
{
	return budget_factors[i];
}

/* Adds one case (its stock and its demand) to a fill grid f and the
 * stock's total *S (the one place every fill of the fit is summed). */
static void grid_add(double *f, double *S, double stock, double demand)
{
	for (unsigned g = 0; g < PANEL_BUDGET_GRID; g++) {
		f[g] += fmin(budget_factor(g) * stock, demand);
	}
	*S += stock;
}

/*
 * The validation fill of stocks scaled by one factor so that their total S
 * equals the demand D: f[g] holds sum min(budget_factor(g) x stock, demand)
 * over the cases, and the fill at the factor D / S is interpolated between
 * the grid's points (the one place every fill of the fit is read).
 */
static double grid_fill(const double *f, double S, double D)
{
	if (!(D > 0) || !(S > 0)) {
		return 0;
	}
	double x = (log2(D / S) + 4) * 2;

	if (x <= 0) {
		return f[0] / D;
	}
	if (x >= PANEL_BUDGET_GRID - 1) {
		return f[PANEL_BUDGET_GRID - 1] / D;
	}
	unsigned i = (unsigned)x;
	double w = x - i;

	return ((1 - w) * f[i] + w * f[i + 1]) / D;
}

typedef struct {
	double pt[FORECAST_PANEL_CANDIDATES][FORECAST_PANEL_SCALES];
	double npt;
	double nst;
	double bf[FORECAST_PANEL_CANDIDATES][PANEL_BUDGET_GRID]; /* sum min(g mu, D) */
	double bs[FORECAST_PANEL_CANDIDATES]; /* sum mu */
	double bd; /* sum D */
	double nh; /* sum of the targets' periods */
	double d1, d2, nd; /* dispersion: sums of (D - mu)^2 - mu and mu^2 */
	unsigned hist[PANEL_BINS];
	double nhist;
} panel_acc;

#define COARSE 6u
#define ACC_COARSE FORECAST_PANEL_CLUSTERS
#define ACC_GLOBAL (FORECAST_PANEL_CLUSTERS + COARSE)
#define ACC_COUNT (ACC_GLOBAL + 1)

static unsigned parent_of(unsigned c)
{
	return c == 0 ? ACC_GLOBAL : ACC_COARSE + (c - 1) / 6;
}

/* Squared scale of RMSSE: mean squared one-step difference from the first
 * demand on; 0 when undefined. */
static double rmsse_scale2(const double *y, size_t n)
{
	size_t first = 0, k = 0;
	double ss = 0;

	while (first < n && y[first] <= 0) {
		first++;
	}
	for (size_t i = first + 1; i < n; i++) {
		double d = y[i] - y[i - 1];

		ss += d * d;
		k++;
	}
	return k > 0 ? ss / (double)k : 0;
}

/* A validation case: history y[0..o-1], target y[o..o+hv-1]. A target
 * shorter than the horizon (a short history) is completed for the point
 * loss: its wm = horizon - hv missing periods are taken to scatter around
 * a forecast as the history's own periods do (mean m1, mean square m2). */
typedef struct {
	unsigned cluster;
	shape s;
	double r[FORECAST_PANEL_CANDIDATES];
	double a1, a2; /* sum and sum of squares of the target */
	double wm, m1, m2;
} vcase;

static void vcase_make(vcase *v, const double *y, size_t o, unsigned hv,
    unsigned horizon)
{
	v->cluster = forecast_panel_cluster_of(y, o);
	shape_of(y, o, &v->s);
	cand_rates(y, o, horizon, &v->s, v->r);
	v->a1 = v->a2 = 0;
	for (unsigned h = 0; h < hv; h++) {
		v->a1 += y[o + h];
		v->a2 += y[o + h] * y[o + h];
	}
	v->wm = hv < horizon ? (double)(horizon - hv) : 0;
	v->m1 = v->m2 = 0;
	for (size_t t = 0; v->wm > 0 && t < o; t++) {
		v->m1 += y[t] / (double)o;
		v->m2 += y[t] * y[t] / (double)o;
	}
}

static void acc_losses(panel_acc *a, const vcase *v, const double *y,
    size_t o, unsigned hv)
{
	double sc2 = rmsse_scale2(y, o);

	if (sc2 > 0) {
		for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
			for (unsigned j = 0; j < FORECAST_PANEL_SCALES; j++) {
				double f = scales[j] * v->r[k];
				double mse = (v->a2 - 2 * f * v->a1 + hv * f * f +
				    v->wm * (v->m2 - 2 * f * v->m1 + f * f)) /
				    (hv + v->wm);

				a->pt[k][j] += sqrt((mse > 0 ? mse : 0) / sc2);
			}
		}
		a->npt += 1;
	}
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		/* The fill this candidate's means would buy if its stock
		 * were scaled to the demand: decomposable per case at each
		 * fixed factor, interpolated at the right one after. */
		double mu = hv * v->r[k], d = v->a1;

		grid_add(a->bf[k], &a->bs[k], mu, d);
	}
	a->bd += v->a1;
	a->nh += hv;
	a->nst += 1;
}

/* Calls fn for every validation case of every span. */
typedef void (*case_fn)(void *ctx, const double *y, size_t o, unsigned hv,
    size_t series);

static void each_case(const forecast_span *spans, size_t count, unsigned H,
    case_fn fn, void *ctx)
{
	for (size_t i = 0; i < count; i++) {
		size_t n = spans[i].n;
		/* A short history (a new product, a short dataset) still
		 * validates on its second half: a weak signal beats none. */
		size_t tmin = n >= 2 * FORECAST_PANEL_TRAIN_MIN ?
		    FORECAST_PANEL_TRAIN_MIN : n / 2 > 2 ? n / 2 : 2;

		if (n <= tmin) {
			continue;
		}
		size_t room = n - tmin;
		unsigned hv = room < H ? (unsigned)room : H;
		/* Adjacent origins: the cuts nearest the end are the most
		 * like the history the forecast will be made from. */
		size_t step = 1;

		size_t origins = forecast_panel_origins(H);
		/* Later origins keep at least two thirds of the history, so
		 * the validation errors are those of histories about as long
		 * as the one the forecast will come from (the first origin is
		 * always taken). */
		size_t omin = (2 * n + 2) / 3 > tmin ? (2 * n + 2) / 3 : tmin;

		for (size_t j = 0; j < origins; j++) {
			if (n < hv + j * step + (j == 0 ? tmin : omin)) {
				break;
			}
			fn(ctx, spans[i].y, n - hv - j * step, hv, i);
		}
	}
}

unsigned forecast_panel_origins(unsigned horizon)
{
	return horizon + FORECAST_PANEL_ORIGINS_MIN >= FORECAST_PANEL_TARGET_SPAN ?
	    FORECAST_PANEL_ORIGINS_MIN :
	    FORECAST_PANEL_TARGET_SPAN - horizon;
}

/* What the later passes need of a case, kept from the first pass so the
 * candidates are computed once per case (64 bytes). */
typedef struct {
	float r[FORECAST_PANEL_CANDIDATES];
	double a1;
	unsigned cluster;
	unsigned hv;
} pcase;

/* Cases kept in memory at most (64 MB); a larger panel recomputes them in
 * each pass instead, slower but the same result. */
#define PANEL_CACHE_MAX (1u << 20)

typedef struct fit_ctx fit_ctx;
typedef void (*pcase_fn)(fit_ctx *f, const pcase *c);

struct fit_ctx {
	panel_acc *acc;
	panel_acc *half; /* the same per half of the series (index & 1):
	                  * 2 x ACC_COUNT, NULL when out of memory */
	double *pt, *st;  /* fit_choices' scratch */
	forecast_panel *m;
	pcase *cache;
	size_t ncache, cache_cap;
	pcase_fn fn; /* the pass run on a recomputed case */
	/* The two calibrations and the validation fill each would buy. */
	double own[FORECAST_PANEL_CLUSTERS];
	unsigned own_from[FORECAST_PANEL_CLUSTERS];
	double panel_level;
	double sf[FORECAST_PANEL_SCHEMES][PANEL_BUDGET_GRID];
	double ss[FORECAST_PANEL_SCHEMES], sd;
	/* The budget-aware stock: levels per cluster and tau (calibrated),
	 * the fills of both level sets, the factors each case needs. */
	double lev[FORECAST_PANEL_CLUSTERS][FORECAST_PANEL_TAUS];
	double af[2][FORECAST_PANEL_TAUS][PANEL_BUDGET_GRID];
	double as[2][FORECAST_PANEL_TAUS];
	double *kn;
	size_t nk, kcap;
	double kf[PANEL_BUDGET_GRID], ks;
};

static void pcase_of(pcase *c, const vcase *v, unsigned hv)
{
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		c->r[k] = (float)v->r[k];
	}
	c->a1 = v->a1;
	c->cluster = v->cluster;
	c->hv = hv;
}

static void count_case(void *ctx, const double *y, size_t o, unsigned hv,
    size_t series)
{
	(void)y;
	(void)o;
	(void)hv;
	(void)series;
	(*(size_t *)ctx)++;
}

static void recompute_case(void *ctx, const double *y, size_t o, unsigned hv,
    size_t series)
{
	fit_ctx *f = ctx;
	vcase v;
	pcase c;

	(void)series;
	vcase_make(&v, y, o, hv, f->m->horizon);
	pcase_of(&c, &v, hv);
	f->fn(f, &c);
}

/* Runs a later pass over every case: from the cache when there is one. */
static void each_pcase(fit_ctx *f, const forecast_span *spans, size_t count,
    pcase_fn fn)
{
	if (f->cache != NULL) {
		for (size_t i = 0; i < f->ncache; i++) {
			fn(f, &f->cache[i]);
		}
		return;
	}
	f->fn = fn;
	each_case(spans, count, f->m->horizon, recompute_case, f);
}

static void pass_losses(void *ctx, const double *y, size_t o, unsigned hv,
    size_t series)
{
	fit_ctx *f = ctx;
	vcase v;

	vcase_make(&v, y, o, hv, f->m->horizon);
	acc_losses(&f->acc[v.cluster], &v, y, o, hv);
	if (f->half != NULL) {
		acc_losses(&f->half[(series & 1) * ACC_COUNT + v.cluster], &v, y,
		    o, hv);
	}
	f->m->cases++;
	if (f->cache != NULL && f->ncache < f->cache_cap) {
		pcase_of(&f->cache[f->ncache++], &v, hv);
	}
}

/* The mean of a case's horizon total behind its stock: its cluster's stock
 * candidate, or for a history without demand the panel's learned rate. */
static double case_mu(const forecast_panel *m, const pcase *v)
{
	return v->cluster == 0 ? v->hv * m->none_rate :
	    v->hv * (double)v->r[m->cluster[v->cluster].stock];
}

static void pass_dispersion(fit_ctx *f, const pcase *v)
{
	double mu = case_mu(f->m, v);

	if (mu > 0) {
		double e = v->a1 - mu;
		panel_acc *a = &f->acc[v->cluster];

		a->d1 += e * e - mu;
		a->d2 += mu * mu;
		a->nd += 1;
	}
}

static void pass_calibrate(fit_ctx *f, const pcase *v)
{
	const forecast_panel_choice *ch = &f->m->cluster[v->cluster];
	double mu = case_mu(f->m, v);
	/* Covered at level s iff the total <= Q(s) iff F(total - 1) < s. */
	double u = nb_cdf(mu, nb_var(mu, ch->dispersion), v->a1 - 1);
	unsigned bin = (unsigned)(u * PANEL_BINS);

	if (bin >= PANEL_BINS) {
		bin = PANEL_BINS - 1;
	}
	f->acc[v->cluster].hist[bin]++;
	f->acc[v->cluster].nhist += 1;
}

static void acc_add(panel_acc *dst, const panel_acc *src)
{
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		for (unsigned j = 0; j < FORECAST_PANEL_SCALES; j++) {
			dst->pt[k][j] += src->pt[k][j];
		}
		for (unsigned g = 0; g < PANEL_BUDGET_GRID; g++) {
			dst->bf[k][g] += src->bf[k][g];
		}
		dst->bs[k] += src->bs[k];
	}
	dst->npt += src->npt;
	dst->nst += src->nst;
	dst->bd += src->bd;
	dst->nh += src->nh;
	for (unsigned b = 0; b < PANEL_BINS; b++) {
		dst->hist[b] += src->hist[b];
	}
	dst->nhist += src->nhist;
	dst->d1 += src->d1;
	dst->d2 += src->d2;
	dst->nd += src->nd;
}

/* Fill of candidate k's means scaled to the node's demand; fallback when
 * the node has no demand or the candidate no mean. */
static double budget_fill(const panel_acc *a, unsigned k, double fallback)
{
	if (!(a->bd > 0) || !(a->bs[k] > 0)) {
		return fallback;
	}
	return grid_fill(a->bf[k], a->bs[k], a->bd);
}

/* Shrunk losses: a node's mean loss pulled towards its parent's by
 * PANEL_PRIOR_CASES pseudo-cases. parent_pt/st NULL at the root. */
static void shrink(const panel_acc *a, const double *parent_pt,
    const double *parent_st, double *pt, double *st)
{
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		for (unsigned j = 0; j < FORECAST_PANEL_SCALES; j++) {
			size_t i = k * FORECAST_PANEL_SCALES + j;

			if (parent_pt == NULL) {
				pt[i] = a->npt > 0 ? a->pt[k][j] / a->npt : 0;
			} else {
				pt[i] = (a->pt[k][j] + PANEL_PRIOR_CASES * parent_pt[i]) /
				    (a->npt + PANEL_PRIOR_CASES);
			}
		}
		/* Loss = minus the fill at a budget equal to the demand. */
		double own = -budget_fill(a, k, parent_st ? -parent_st[k] : 0);

		if (parent_st == NULL) {
			st[k] = own;
		} else {
			st[k] = (a->nst * own + PANEL_PRIOR_CASES * parent_st[k]) /
			    (a->nst + PANEL_PRIOR_CASES);
		}
	}
}

#define NPT (FORECAST_PANEL_CANDIDATES * FORECAST_PANEL_SCALES)

static void choose(forecast_panel_choice *ch, const double *pt,
    const double *st)
{
	unsigned best = FORECAST_CAND_MODEL * FORECAST_PANEL_SCALES + SCALE_ONE;

	/* Zero is never the point forecast of a series that has sold. */
	for (unsigned i = FORECAST_PANEL_SCALES; i < NPT; i++) {
		if (pt[i] < pt[best]) {
			best = i;
		}
	}
	ch->point = best / FORECAST_PANEL_SCALES;
	ch->scale = scales[best % FORECAST_PANEL_SCALES];
	ch->point_loss = pt[best];
	ch->plain_loss = pt[FORECAST_CAND_MEAN * FORECAST_PANEL_SCALES + SCALE_ONE];
	unsigned bs = FORECAST_CAND_MODEL;

	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		if (st[k] < st[bs]) {
			bs = k;
		}
	}
	ch->stock = bs;
	ch->stock_fill = -st[bs];
}

/* Scheme s's level for a cluster: a blend of the cluster's own level and
 * the panel's, from all own (s = 0) to all panel (the last). */
static double scheme_level(double own, double panel, unsigned s)
{
	double t = (double)s / (FORECAST_PANEL_SCHEMES - 1);

	return (1 - t) * own + t * panel;
}

static void pass_scheme(fit_ctx *f, const pcase *v)
{
	const forecast_panel_choice *ch = &f->m->cluster[v->cluster];
	double mu = case_mu(f->m, v);
	double var = nb_var(mu, ch->dispersion);

	for (unsigned s = 0; s < FORECAST_PANEL_SCHEMES; s++) {
		double q = forecast_nbinom_quantile(mu, var,
		    scheme_level(f->own[v->cluster], f->panel_level, s));

		grid_add(f->sf[s], &f->ss[s], q, v->a1);
	}
	f->sd += v->a1;
}

/* Validation fill of a calibration's stocks scaled to the demand. */
static double scheme_fill(const fit_ctx *f, unsigned s)
{
	return grid_fill(f->sf[s], f->ss[s], f->sd);
}

/*
 * Fill of the panel's validation demand by the candidates' means, one
 * candidate per cluster (cand[c]), all scaled by one factor so that their
 * total equals the demand: the cross-cluster placement that a choice
 * within each cluster cannot see.
 */
static double panel_fill(const panel_acc *acc, const unsigned *cand)
{
	double f[PANEL_BUDGET_GRID] = { 0 }, S = 0, D = acc[0].bd;

	for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
		for (unsigned g = 0; g < PANEL_BUDGET_GRID; g++) {
			f[g] += acc[c].bf[cand[c]][g];
		}
		S += acc[c].bs[cand[c]];
		D += acc[c].bd;
	}
	return grid_fill(f, S, D);
}

/* The best single stock candidate for the whole panel on acc (its fill
 * in *fill when not NULL). */
static unsigned panel_best(const panel_acc *acc, double *fill)
{
	unsigned cand[FORECAST_PANEL_CLUSTERS] = { 0 }, best = 0;
	double bf = 0;

	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
			cand[c] = k;
		}
		double f = panel_fill(acc, cand);

		if (f > bf) {
			bf = f;
			best = k;
		}
	}
	if (fill != NULL) {
		*fill = bf;
	}
	return best;
}

/* The stock candidates chosen per cluster, or one for the whole panel if
 * that would have placed the panel's validation demand better: by the
 * cross-fit's held-out fills when there are (crossed, stock_crossed), else
 * by the in-sample ones. */
static void stock_scope(forecast_panel *m, const panel_acc *acc,
    const double *crossed)
{
	unsigned cand[FORECAST_PANEL_CLUSTERS] = { 0 };

	for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
		cand[c] = m->cluster[c].stock;
	}
	m->stock_fill[0] = panel_fill(acc, cand);
	unsigned best = panel_best(acc, &m->stock_fill[1]);

	m->stock_panel = 0;
	if (crossed != NULL) {
		m->stock_crossed = 1;
		m->stock_xfill[0] = crossed[0];
		m->stock_xfill[1] = crossed[1];
	}
	if (crossed != NULL ? crossed[1] > crossed[0] :
	    m->stock_fill[1] > m->stock_fill[0]) {
		m->stock_panel = 1;
		for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
			forecast_panel_choice *ch = &m->cluster[c];

			/* Its fill is now the panel candidate's (unshrunk). */
			ch->stock = best;
			ch->stock_fill = budget_fill(&acc[c], best, ch->stock_fill);
		}
	}
}

/* Smallest level s (to 1 / PANEL_BINS) covering >= service of the cases. */
static double level_of(const panel_acc *a, double service)
{
	double need = service * a->nhist, cum = 0, reach = 0;

	/* Cases in the top bin are covered by no level below 1 (a stock
	 * mean of 0 and a demand, or nearly): when they put the service
	 * share out of reach, aim at the cover that can be reached, less
	 * PANEL_REACH_TOL of the cases, not at the highest level. */
	for (unsigned b = 0; b + 1 < PANEL_BINS; b++) {
		reach += a->hist[b];
	}
	if (need > reach - PANEL_REACH_TOL * a->nhist) {
		need = reach - PANEL_REACH_TOL * a->nhist;
	}

	for (unsigned b = 0; b < PANEL_BINS; b++) {
		cum += a->hist[b];
		if (cum >= need - 1e-9) {
			double s = (double)(b + 1) / PANEL_BINS;

			return s < PANEL_LEVEL_MIN ? PANEL_LEVEL_MIN :
			    s > FORECAST_SERVICE_MAX ? FORECAST_SERVICE_MAX : s;
		}
	}
	return FORECAST_SERVICE_MAX;
}

static void defaults(forecast_panel *m)
{
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		forecast_panel_choice *ch = &m->cluster[c];

		memset(ch, 0, sizeof(*ch));
		ch->point = c == 0 ? FORECAST_CAND_ZERO : FORECAST_CAND_MODEL;
		ch->stock = ch->point;
		ch->scale = 1;
		ch->level = m->service;
		ch->level_from = 3;
	}
}

static int spans_valid(const forecast_span *spans, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (spans[i].y == NULL || spans[i].n == 0 ||
		    spans[i].n > FORECAST_PERIODS_MAX) {
			return 0;
		}
		for (size_t t = 0; t < spans[i].n; t++) {
			double v = spans[i].y[t];

			if (!(v >= 0) || !(v <= FORECAST_DEMAND_MAX)) {
				return 0;
			}
		}
	}
	return 1;
}

/* Sums a fit's per-cluster accumulators up the hierarchy (parents, panel). */
static void acc_roll_up(panel_acc *acc)
{
	for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
		acc_add(&acc[parent_of(c)], &acc[c]);
	}
	for (unsigned p = ACC_COARSE; p < ACC_GLOBAL; p++) {
		acc_add(&acc[ACC_GLOBAL], &acc[p]);
	}
	acc_add(&acc[ACC_GLOBAL], &acc[0]);
}

/* Step 1: losses of every candidate per cluster (and the case cache). */
static void fit_losses(fit_ctx *ctx, const forecast_span *spans,
    size_t count)
{
	panel_acc *acc = ctx->acc;

	each_case(spans, count, ctx->m->horizon, pass_losses, ctx);
	acc_roll_up(acc);
}

/* Step 2: the point and stock candidates per cluster, the losses shrunk
 * down the hierarchy panel -> parent -> cluster; pt and st are scratch
 * (NPT and FORECAST_PANEL_CANDIDATES per node). */
static void fit_choices(forecast_panel *m, const panel_acc *acc, double *pt,
    double *st)
{
	if (!(acc[ACC_GLOBAL].npt > 0) || !(acc[ACC_GLOBAL].nst > 0)) {
		return; /* nothing to learn from: the defaults stay */
	}
	double *gpt = pt + ACC_GLOBAL * NPT;
	double *gst = st + ACC_GLOBAL * FORECAST_PANEL_CANDIDATES;

	shrink(&acc[ACC_GLOBAL], NULL, NULL, gpt, gst);
	for (unsigned p = ACC_COARSE; p < ACC_GLOBAL; p++) {
		shrink(&acc[p], gpt, gst, pt + p * NPT,
		    st + p * FORECAST_PANEL_CANDIDATES);
	}
	for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
		unsigned p = parent_of(c);

		shrink(&acc[c], pt + p * NPT, st + p * FORECAST_PANEL_CANDIDATES,
		    pt + c * NPT, st + c * FORECAST_PANEL_CANDIDATES);
		choose(&m->cluster[c], pt + c * NPT,
		    st + c * FORECAST_PANEL_CANDIDATES);
		m->cluster[c].cases = acc[c].nst;
	}
	m->cluster[0].cases = acc[0].nst;
}

/*
 * Step 2b: one stock candidate per cluster, or one for the panel? Each
 * cluster's choice is the best of eleven on its own cases, and the fill is
 * weighted by units, so a few heavy series can decide it: the in-sample
 * fill flatters the per-cluster choices. So each half of the series
 * (by index) chooses both ways on its own cases and is scored on the other
 * half's; crossed[0] (per cluster) and [1] (one for the panel) are the
 * mean of the two held-out fills. Returns 0 (nothing written) when a half
 * has fewer than FORECAST_PANEL_CASES_MIN cases.
 */
static int stock_crossed(fit_ctx *ctx, double *crossed)
{
	forecast_panel *tmp;
	unsigned cand[FORECAST_PANEL_CLUSTERS] = { 0 };

	crossed[0] = crossed[1] = 0;
	if (ctx->half == NULL) {
		return 0;
	}
	for (unsigned e = 0; e < 2; e++) {
		acc_roll_up(ctx->half + e * ACC_COUNT);
		if (ctx->half[e * ACC_COUNT + ACC_GLOBAL].nst <
		    FORECAST_PANEL_CASES_MIN) {
			return 0;
		}
	}
	tmp = malloc(sizeof(*tmp));
	if (tmp == NULL) {
		return 0;
	}
	for (unsigned e = 0; e < 2; e++) {
		const panel_acc *tr = ctx->half + (1 - e) * ACC_COUNT;
		const panel_acc *te = ctx->half + e * ACC_COUNT;

		memset(tmp, 0, sizeof(*tmp));
		tmp->service = ctx->m->service;
		defaults(tmp);
		fit_choices(tmp, tr, ctx->pt, ctx->st);
		for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
			cand[c] = tmp->cluster[c].stock;
		}
		crossed[0] += 0.5 * panel_fill(te, cand);
		unsigned k = panel_best(tr, NULL);

		for (unsigned c = 1; c < FORECAST_PANEL_CLUSTERS; c++) {
			cand[c] = k;
		}
		crossed[1] += 0.5 * panel_fill(te, cand);
	}
	free(tmp);
	return 1;
}

/*
 * Step 2c: a history with no demand yet (cluster 0). Dead or not started?
 * The panel's validation cases in the same state say: their targets' demand
 * per period is the rate such a history is forecast (a catalogue of new
 * products sells; a catalogue of retired parts does not). Its dispersion
 * and level are fitted like any cluster's (the panel is its parent). Under
 * PANEL_CAL_MIN such cases nothing is learned and the rate stays 0.
 */
static void fit_none(forecast_panel *m, const panel_acc *acc)
{
	m->none_rate = acc[0].nst >= PANEL_CAL_MIN && acc[0].nh > 0 ?
	    acc[0].bd / acc[0].nh : 0;
}

/* Step 3: the NB2 dispersion of the chosen stock candidate's validation
 * totals (method of moments), per cluster or from its parent or the panel
 * when it has few cases. */
static void fit_dispersion(fit_ctx *ctx, const forecast_span *spans,
    size_t count)
{
	panel_acc *acc = ctx->acc;

	for (unsigned i = 0; i < ACC_COUNT; i++) {
		acc[i].d1 = acc[i].d2 = acc[i].nd = 0;
	}
	each_pcase(ctx, spans, count, pass_dispersion);
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		if (c > 0) {
			acc[parent_of(c)].d1 += acc[c].d1;
			acc[parent_of(c)].d2 += acc[c].d2;
			acc[parent_of(c)].nd += acc[c].nd;
		}
		acc[ACC_GLOBAL].d1 += acc[c].d1;
		acc[ACC_GLOBAL].d2 += acc[c].d2;
		acc[ACC_GLOBAL].nd += acc[c].nd;
	}
	/* Cluster 0 (no demand yet) has the panel as its parent. */
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		const panel_acc *a = &acc[c];

		if (a->nd < PANEL_CAL_MIN) {
			a = &acc[parent_of(c)];
		}
		if (a->nd < PANEL_CAL_MIN) {
			a = &acc[ACC_GLOBAL];
		}
		ctx->m->cluster[c].dispersion = a->d2 > 0 && a->d1 > 0 ?
		    a->d1 / a->d2 : 0;
	}
}

/*
 * Step 4: the levels. Each cluster's own level covers the service level of
 * its cases (its parent's or the panel's when it has few); one level for
 * the panel covers it overall. One common level is the optimal placement
 * of a fixed stock when the distributions are right (equal quantile levels
 * equalise the marginal unit's chance of selling); per-cluster levels are
 * safer when they are not. FORECAST_PANEL_SCHEMES blends of the two are
 * tried and the validation fill of their stocks chooses.
 */
static void fit_levels(fit_ctx *ctx, const forecast_span *spans, size_t count)
{
	panel_acc *acc = ctx->acc;
	forecast_panel *m = ctx->m;
	double service = m->service;

	for (unsigned i = 0; i < ACC_COUNT; i++) {
		memset(acc[i].hist, 0, sizeof(acc[i].hist));
		acc[i].nhist = 0;
	}
	each_pcase(ctx, spans, count, pass_calibrate);
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		for (unsigned b = 0; b < PANEL_BINS; b++) {
			if (c > 0) {
				acc[parent_of(c)].hist[b] += acc[c].hist[b];
			}
			acc[ACC_GLOBAL].hist[b] += acc[c].hist[b];
		}
		if (c > 0) {
			acc[parent_of(c)].nhist += acc[c].nhist;
		}
		acc[ACC_GLOBAL].nhist += acc[c].nhist;
	}
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		unsigned p = parent_of(c);

		if (acc[c].nhist >= PANEL_CAL_MIN) {
			ctx->own[c] = level_of(&acc[c], service);
			ctx->own_from[c] = 0;
		} else if (acc[p].nhist >= PANEL_CAL_MIN) {
			ctx->own[c] = level_of(&acc[p], service);
			ctx->own_from[c] = 1;
		} else if (acc[ACC_GLOBAL].nhist > 0) {
			ctx->own[c] = level_of(&acc[ACC_GLOBAL], service);
			ctx->own_from[c] = 2;
		} else {
			ctx->own[c] = service;
			ctx->own_from[c] = 3;
		}
	}
	ctx->panel_level = acc[ACC_GLOBAL].nhist > 0 ?
	    level_of(&acc[ACC_GLOBAL], service) : service;
	memset(ctx->sf, 0, sizeof(ctx->sf));
	memset(ctx->ss, 0, sizeof(ctx->ss));
	ctx->sd = 0;
	each_pcase(ctx, spans, count, pass_scheme);
	m->scheme = 0;
	for (unsigned k = 0; k < FORECAST_PANEL_SCHEMES; k++) {
		m->scheme_fill[k] = scheme_fill(ctx, k);
		if (m->scheme_fill[k] > m->scheme_fill[m->scheme]) {
			m->scheme = k;
		}
	}
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		forecast_panel_choice *ch = &m->cluster[c];

		ch->level = scheme_level(ctx->own[c], ctx->panel_level, m->scheme);
		ch->level_from = m->scheme == FORECAST_PANEL_SCHEMES - 1 ? 2 :
		    ctx->own_from[c];
	}
}

/* ---- the budget-aware stock ---- */

static double alloc_tau(unsigned j)
{
	return 0.2 + 0.05 * j;
}

static void case_moments(const fit_ctx *f, const pcase *v, double *mu,
    double *var)
{
	const forecast_panel_choice *ch = &f->m->cluster[v->cluster];

	*mu = case_mu(f->m, v);
	*var = nb_var(*mu, ch->dispersion);
}

/* Fill of the quantiles at every tau, raw (0) and calibrated (1). */
static void pass_alloc(fit_ctx *f, const pcase *v)
{
	double mu, var, raw[FORECAST_PANEL_TAUS], q[2][FORECAST_PANEL_TAUS];

	case_moments(f, v, &mu, &var);
	for (unsigned j = 0; j < FORECAST_PANEL_TAUS; j++) {
		raw[j] = alloc_tau(j);
	}
	nb_quantiles(mu, var, raw, FORECAST_PANEL_TAUS, q[0]);
	nb_quantiles(mu, var, f->lev[v->cluster], FORECAST_PANEL_TAUS, q[1]);
	for (unsigned c = 0; c < 2; c++) {
		for (unsigned j = 0; j < FORECAST_PANEL_TAUS; j++) {
			grid_add(f->af[c][j], &f->as[c][j], q[c][j], v->a1);
		}
	}
}

static double alloc_q(const fit_ctx *f, const pcase *v)
{
	double mu, var, q;

	case_moments(f, v, &mu, &var);
	nb_quantiles(mu, var, &f->m->cluster[v->cluster].alloc_level, 1, &q);
	return q;
}

/* The factor on the placement quantile this case needs to be covered:
 * round(k q) >= D iff k >= (D - 0.5) / q. */
static void pass_kneed(fit_ctx *f, const pcase *v)
{
	double q = alloc_q(f, v);
	double k = v->a1 <= 0 ? 0 : q > 0 ? (v->a1 - 0.5) / q : HUGE_VAL;

	if (f->nk < f->kcap) {
		f->kn[f->nk++] = k;
	}
}

static void pass_kfill(fit_ctx *f, const pcase *v)
{
	double st = floor(f->m->alloc_k * alloc_q(f, v) + 0.5);

	grid_add(f->kf, &f->ks, st, v->a1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The calibrated placement levels of each cluster (its parent's or the
 * panel's when it has few cases), from the histograms fit_levels left. */
static void alloc_levels(fit_ctx *ctx)
{
	const panel_acc *acc = ctx->acc;

	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		const panel_acc *a = &acc[c];

		if (a->nhist < PANEL_CAL_MIN) {
			a = &acc[parent_of(c)];
		}
		if (a->nhist < PANEL_CAL_MIN) {
			a = &acc[ACC_GLOBAL];
		}
		for (unsigned j = 0; j < FORECAST_PANEL_TAUS; j++) {
			ctx->lev[c][j] = a->nhist > 0 ? level_of(a, alloc_tau(j)) :
			    alloc_tau(j);
		}
	}
}

/*
 * Step 5: the budget-aware stock. The best placement of a fixed stock puts
 * every series at one common quantile level of its distribution (the last
 * unit then has the same chance of selling everywhere); which level, and
 * whether the clusters' calibrated levels or the raw ones, the validation
 * fill at a 1.0x budget decides. The stock is that quantile times one
 * factor k, the smallest that covers the service level of the validation
 * cases, so the cover stays calibrated while the stock is placed for the
 * budget. Used when its validation fill beats step 4's.
 */
static void fit_alloc(fit_ctx *ctx, const forecast_span *spans, size_t count)
{
	forecast_panel *m = ctx->m;
	unsigned bc = 0, bj = 0;
	double best = -1;

	alloc_levels(ctx);
	each_pcase(ctx, spans, count, pass_alloc);
	for (unsigned c = 0; c < 2; c++) {
		for (unsigned j = 0; j < FORECAST_PANEL_TAUS; j++) {
			double fl = grid_fill(ctx->af[c][j], ctx->as[c][j], ctx->sd);

			if (fl > best) {
				best = fl;
				bc = c;
				bj = j;
			}
		}
	}
	m->alloc_cal = bc;
	m->alloc_tau = alloc_tau(bj);
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		m->cluster[c].alloc_level = bc ? ctx->lev[c][bj] : alloc_tau(bj);
	}
	ctx->kcap = m->cases;
	ctx->kn = ctx->kcap > 0 ? malloc(sizeof(double) * ctx->kcap) : NULL;
	if (ctx->kn == NULL) {
		return;
	}
	each_pcase(ctx, spans, count, pass_kneed);
	qsort(ctx->kn, ctx->nk, sizeof(double), cmp_double);
	size_t at = (size_t)ceil(m->service * (double)ctx->nk);

	m->alloc_k = at > 0 && at <= ctx->nk ? ctx->kn[at - 1] : HUGE_VAL;
	free(ctx->kn);
	ctx->kn = NULL;
	if (!isfinite(m->alloc_k) || !(m->alloc_k > 0)) {
		return;
	}
	each_pcase(ctx, spans, count, pass_kfill);
	m->alloc_fill = grid_fill(ctx->kf, ctx->ks, ctx->sd);
	m->alloc = m->alloc_fill > m->scheme_fill[m->scheme];
}

int forecast_panel_fit(forecast_panel *m, unsigned horizon, double service,
    const forecast_span *spans, size_t count)
{
	if (m == NULL || (spans == NULL && count > 0) || horizon < 1 ||
	    horizon > FORECAST_HORIZON_MAX || !(service >= FORECAST_SERVICE_MIN) ||
	    !(service <= FORECAST_SERVICE_MAX) || !spans_valid(spans, count)) {
		return DN_EINVAL;
	}
	panel_acc *acc = calloc(ACC_COUNT, sizeof(*acc));
	double *pt = malloc(sizeof(double) * NPT * ACC_COUNT);
	double *st = malloc(sizeof(double) * FORECAST_PANEL_CANDIDATES * ACC_COUNT);
	fit_ctx ctx;
	size_t ncases = 0;

	if (acc == NULL || pt == NULL || st == NULL) {
		free(acc);
		free(pt);
		free(st);
		return DN_ENOMEM;
	}
	memset(m, 0, sizeof(*m));
	m->horizon = horizon;
	m->service = service;
	m->series = count;
	defaults(m);
	memset(&ctx, 0, sizeof(ctx));
	ctx.acc = acc;
	ctx.m = m;
	ctx.pt = pt;
	ctx.st = st;
	/* The halves only inform one choice (stock_crossed): without the
	 * memory for them the in-sample fills decide it. */
	ctx.half = calloc(2 * ACC_COUNT, sizeof(*ctx.half));
	/* The cache is an optimisation only: without it (too many cases, or
	 * no memory) the passes recompute each case, to the same result. */
	each_case(spans, count, horizon, count_case, &ncases);
	if (ncases > 0 && ncases <= PANEL_CACHE_MAX) {
		ctx.cache = malloc(sizeof(pcase) * ncases);
		ctx.cache_cap = ctx.cache != NULL ? ncases : 0;
	}
	fit_losses(&ctx, spans, count);
	m->learned = m->cases >= FORECAST_PANEL_CASES_MIN;
	if (m->learned) {
		double crossed[2];

		fit_choices(m, acc, pt, st);
		fit_none(m, acc);
		stock_scope(m, acc, stock_crossed(&ctx, crossed) ? crossed :
		    NULL);
		fit_dispersion(&ctx, spans, count);
		fit_levels(&ctx, spans, count);
		fit_alloc(&ctx, spans, count);
	}
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		const forecast_panel_choice *ch = &m->cluster[c];

		assert(ch->point < FORECAST_PANEL_CANDIDATES);
		assert(ch->stock < FORECAST_PANEL_CANDIDATES);
		assert(ch->level >= PANEL_LEVEL_MIN &&
		    ch->level <= FORECAST_SERVICE_MAX);
		assert(c > 0 || (ch->point == FORECAST_CAND_ZERO &&
		    ch->stock == FORECAST_CAND_ZERO));
	}
	free(ctx.cache);
	free(ctx.half);
	free(acc);
	free(pt);
	free(st);
	return 0;
}

/* A panel that learned nothing: the issue-5 model, whole. */
static int series_unlearned(const forecast_panel *m, unsigned c,
    const double *y, size_t n, double *mean, forecast_result *res,
    forecast_panel_why *why)
{
	forecast_params fp = { FORECAST_MODEL, m->horizon, m->service };
	int rv = forecast_series(&fp, y, n, mean, res);

	if (rv == 0 && why != NULL) {
		memset(why, 0, sizeof(*why));
		why->cluster = c;
		why->point = why->stock = c == 0 ? FORECAST_CAND_ZERO :
		    FORECAST_CAND_MODEL;
		why->scale = 1;
		why->level = m->service;
		why->stock_mean = res->mean_total;
		why->stock_var = res->mean_total;
	}
	return rv;
}

int forecast_panel_series(const forecast_panel *m, const double *y, size_t n,
    double *mean, forecast_result *res, forecast_panel_why *why)
{
	if (m == NULL || y == NULL || mean == NULL || res == NULL || n == 0 ||
	    n > FORECAST_PERIODS_MAX || m->horizon < 1 ||
	    m->horizon > FORECAST_HORIZON_MAX) {
		return DN_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(y[i] >= 0) || !(y[i] <= FORECAST_DEMAND_MAX)) {
			return DN_EINVAL;
		}
	}
	unsigned c = forecast_panel_cluster_of(y, n);
	const forecast_panel_choice *ch = &m->cluster[c];
	shape s;

	if (!m->learned) {
		return series_unlearned(m, c, y, n, mean, res, why);
	}

	shape_of(y, n, &s);
	double rate = 0, stock = 0, mu = 0;

	if (s.nz > 0) {
		rate = ch->scale * cand_rate(ch->point, y, n, m->horizon, &s);
		mu = m->horizon * cand_rate(ch->stock, y, n, m->horizon, &s);
	} else {
		rate = m->none_rate;
		mu = m->horizon * rate;
	}
	if (mu > 0) {
		if (m->alloc) {
			double q;

			nb_quantiles(mu, nb_var(mu, ch->dispersion),
			    &ch->alloc_level, 1, &q);
			stock = floor(m->alloc_k * q + 0.5);
		} else {
			stock = forecast_nbinom_quantile(mu,
			    nb_var(mu, ch->dispersion), ch->level);
		}
	}
	res->mean_total = 0;
	for (unsigned h = 0; h < m->horizon; h++) {
		mean[h] = rate;
		res->mean_total += rate;
	}
	res->stock = stock > 0 ? stock : 0;
	res->cls = forecast_class_of(y, n, NULL, NULL);
	if (why != NULL) {
		why->cluster = c;
		why->point = ch->point;
		why->stock = ch->stock;
		why->scale = ch->scale;
		why->level = m->alloc ? ch->alloc_level : ch->level;
		why->factor = m->alloc ? m->alloc_k : 0;
		why->stock_mean = mu;
		why->stock_var = nb_var(mu, ch->dispersion);
	}
	return 0;
}
