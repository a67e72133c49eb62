/*
 * test_forecast_panel.c - unit tests for common/core/forecast_panel.c (the
 * adaptive model of issue 11) and the compound distribution it shares with
 * forecast.c: clusters and candidates against hand-worked values, what a
 * fit learns on panels whose truth is known (a dying panel is forecast low,
 * a steady one near its mean, the stock covers about the service level),
 * determinism, and the argument checks. Links the core library only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/forecast_panel.h"

#define EPS 1e-9

static const double y5[] = { 0, 3, 0, 0, 2 };

/* Goal: clusters by hand. Every cluster name is distinct. */
static void test_panel_clusters(void **state)
{
	(void)state;
	char name[64];
	const double ones[] = { 1, 1, 1, 1, 1, 1 };
	const double zeros[] = { 0, 0, 0 };
	/* One demand in 12 periods: ADI 12, gap 8 <= 12 (due), sparse,
	 * thin, nothing in the last third (down). */
	const double one[] = { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* Four demands then 36 zeros: ADI 10, gap 36 > 30: stale. */
	double stale[40] = { 1, 1, 1, 1 };
	/* Dense, and the last third at 4x the history's rate: up. */
	const double up[] = { 1, 1, 1, 1, 1, 1, 6, 6, 6 };

	assert_int_equal(forecast_panel_cluster_of(zeros, 3), 0);
	assert_string_equal(forecast_panel_cluster_name(0, name, sizeof(name)),
	    "none");
	assert_string_equal(forecast_panel_cluster_name(
	    forecast_panel_cluster_of(ones, 6), name, sizeof(name)),
	    "due/dense/rich/flat");
	assert_string_equal(forecast_panel_cluster_name(
	    forecast_panel_cluster_of(one, 12), name, sizeof(name)),
	    "due/sparse/thin/down");
	assert_string_equal(forecast_panel_cluster_name(
	    forecast_panel_cluster_of(stale, 40), name, sizeof(name)),
	    "stale/sparse/rich/down");
	assert_string_equal(forecast_panel_cluster_name(
	    forecast_panel_cluster_of(up, 9), name, sizeof(name)),
	    "due/dense/rich/up");
	for (unsigned a = 0; a < FORECAST_PANEL_CLUSTERS; a++) {
		char na[64], nb[64];

		forecast_panel_cluster_name(a, na, sizeof(na));
		assert_string_not_equal(na, "?");
		for (unsigned b = a + 1; b < FORECAST_PANEL_CLUSTERS; b++) {
			assert_string_not_equal(na,
			    forecast_panel_cluster_name(b, nb, sizeof(nb)));
		}
	}
	assert_string_equal(forecast_panel_cluster_name(FORECAST_PANEL_CLUSTERS,
	    name, sizeof(name)), "?");
}

/* Goal: the candidates new to the panel, by hand on 0,3,0,0,2:
 *   ses_fast (0.3): 0 -> 0.9 -> 0.63 -> 0.441 -> 0.9087;
 *   tsb_fast (alpha 0.1, beta 0.3; p 0.4, z 2.5): p 0.28, 0.496 (z 2.55),
 *     0.3472, 0.24304, 0.470128 (z 2.495) -> 1.17296936;
 *   recent (H 3: last max(3, 6) periods, all 5 here): 1;
 *   imapa: ADI 2.5 -> levels 1..3: SES 0.4187; buckets of 2 from the end
 *     (3, 2): 2.9 / 2 = 1.45; one bucket of 3 (2): 2/3; mean 0.845122...;
 *   naive 2, zero 0, and the shared ones equal forecast_point's. */
static void test_panel_candidates(void **state)
{
	(void)state;
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_SES_FAST,
	    y5, 5, 3) - 0.9087) < EPS);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_TSB_FAST,
	    y5, 5, 3) - 0.470128 * 2.495) < 1e-8);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_RECENT,
	    y5, 5, 3) - 1) < EPS);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_IMAPA,
	    y5, 5, 3) - (0.4187 + 1.45 + 2.0 / 3) / 3) < EPS);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_NAIVE,
	    y5, 5, 3) - 2) < EPS);
	assert_true(forecast_panel_candidate_rate(FORECAST_CAND_ZERO, y5, 5,
	    3) == 0);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_TSB, y5, 5,
	    3) - forecast_point(FORECAST_TSB, y5, 5, 3)) < EPS);
	assert_true(fabs(forecast_panel_candidate_rate(FORECAST_CAND_MODEL, y5,
	    5, 3) - forecast_point(FORECAST_MODEL, y5, 5, 3)) < EPS);
	assert_string_equal(forecast_panel_candidate_name(FORECAST_CAND_TSB_FAST),
	    "tsb_fast");
	assert_string_equal(forecast_panel_candidate_name(
	    FORECAST_PANEL_CANDIDATES), "?");
}

/* Goal: the compound total's CDF and quantile agree with each other and,
 * on 1,1,1,1 (forecast.c's hand-worked case: p 0.65, sizes 1, weight 4,
 * H 2), with the beta-binomial by hand: CDF 0.168, 0.532, 1. */
static void test_compound(void **state)
{
	(void)state;
	assert_true(fabs(forecast_compound_cdf(0.65, 0, 4, 2, 0) - 0.168) < 1e-12);
	assert_true(fabs(forecast_compound_cdf(0.65, 0, 4, 2, 1) - 0.532) < 1e-12);
	assert_true(fabs(forecast_compound_cdf(0.65, 0, 4, 2, 2) - 1) < 1e-12);
	assert_true(forecast_compound_cdf(0.65, 0, 4, 2, -1) == 0);
	assert_true(forecast_compound_quantile(0.65, 0, 4, 2, 0.6) == 2);
	assert_true(forecast_compound_quantile(0, 3, 4, 2, 0.9) == 0);
	for (double s = 0.5; s < 0.999; s += 0.07) {
		double q = forecast_compound_quantile(0.2, 2.5, 30, 6, s);

		assert_true(q >= 1);
		assert_true(forecast_compound_cdf(0.2, 2.5, 30, 6, q) >= s - 1e-12);
		assert_true(forecast_compound_cdf(0.2, 2.5, 30, 6, q - 1) < s);
	}
}

/* A seeded LCG: the panels below are the same on every machine. */
static double unif(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) * 0x1.0p-53;
}

static double poisson(uint64_t *s, double m)
{
	double L = exp(-m), p = 1, k = 0;

	do {
		k += 1;
		p *= unif(s);
	} while (p > L);
	return k - 1;
}

#define NS 2000u
#define NT 48u
#define H 6u

/* Steady panel: each series Poisson with its own rate U(0.2, 4). */
static void make_steady(double *y, forecast_span *sp, uint64_t seed)
{
	uint64_t s = seed;

	for (size_t i = 0; i < NS; i++) {
		double l = 0.2 + 3.8 * unif(&s);

		for (size_t t = 0; t < NT; t++) {
			y[i * NT + t] = poisson(&s, l);
		}
		sp[i].y = y + i * NT;
		sp[i].n = NT;
	}
}

/* Goal: on a steady panel the stock, fitted on the first NT - H periods,
 * covers the next H periods' total for 0.85..0.95 of the series at
 * service 0.9, and the point forecast is within 15 % of the long-run mean
 * on average (nothing in the data says to move away from it). */
static void test_panel_steady_calibrated(void **state)
{
	(void)state;
	double *y = malloc(sizeof(double) * NS * NT);
	forecast_span *sp = malloc(sizeof(*sp) * NS);
	forecast_panel *m = malloc(sizeof(*m));
	double mean[H];
	size_t covered = 0;
	double ratio = 0;

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(m);
	make_steady(y, sp, 7);
	for (size_t i = 0; i < NS; i++) {
		sp[i].n = NT - H;
	}
	assert_int_equal(forecast_panel_fit(m, H, 0.9, sp, NS), 0);
	assert_true(m->cases == (size_t)NS * forecast_panel_origins(H));
	assert_int_equal(m->learned, 1);
	assert_int_equal(forecast_panel_origins(6), 6);
	assert_int_equal(forecast_panel_origins(3), 9);
	assert_int_equal(forecast_panel_origins(12), 3);
	/* The budget-aware stock is used only when its validation fill beat
	 * the calibrated quantiles', with a finite positive factor. */
	assert_true(m->alloc_tau >= 0.2 && m->alloc_tau <= 0.95);
	if (m->alloc) {
		assert_true(isfinite(m->alloc_k) && m->alloc_k > 0);
		assert_true(m->alloc_fill > m->scheme_fill[m->scheme]);
	}
	/* Stock candidates per cluster or one for the panel: chosen by the
	 * cross-fit's held-out fills (both halves have cases enough), and
	 * one for the panel means the same candidate in every cluster. */
	assert_int_equal(m->stock_crossed, 1);
	assert_true(m->stock_xfill[0] > 0 && m->stock_xfill[0] <= 1);
	assert_true(m->stock_xfill[1] > 0 && m->stock_xfill[1] <= 1);
	assert_int_equal(m->stock_panel, m->stock_xfill[1] > m->stock_xfill[0]);
	for (unsigned c = 2; m->stock_panel && c < FORECAST_PANEL_CLUSTERS; c++) {
		assert_int_equal(m->cluster[c].stock, m->cluster[1].stock);
	}
	for (size_t i = 0; i < NS; i++) {
		forecast_result r;
		forecast_panel_why why;
		double tot = 0;

		assert_int_equal(forecast_panel_series(m, sp[i].y, NT - H, mean,
		    &r, &why), 0);
		assert_true(r.stock == floor(r.stock) && r.stock >= 0);
		assert_true(why.level >= 0.01 && why.level <= 0.999);
		/* The stock is the NB quantile of the distribution it
		 * reports, or that quantile times the panel's factor. */
		double q = forecast_nbinom_quantile(why.stock_mean,
		    why.stock_var, why.level);

		assert_true(r.stock == (why.factor > 0 ?
		    floor(why.factor * q + 0.5) : q));
		assert_true(why.stock_var >= why.stock_mean);
		for (unsigned h = 0; h < H; h++) {
			tot += sp[i].y[NT - H + h];
		}
		covered += tot <= r.stock;
		ratio += mean[0] / forecast_point(FORECAST_MEAN, sp[i].y, NT - H, H);
	}
	double cover = (double)covered / NS;

	assert_true(cover >= 0.85 && cover <= 0.95);
	assert_true(fabs(ratio / NS - 1) < 0.15);
	free(y);
	free(sp);
	free(m);
}

/* Goal: a history with no demand yet is forecast what the panel's own
 * validation cases in that state went on to sell. In a catalogue of new
 * products (each starts selling Poisson(2) at a period 0..29 of 36) a
 * silent history learns a positive rate and gets a stock; in a catalogue
 * where the silent series never sell, it learns 0 and stocks nothing. */
static void test_panel_silent_learned(void **state)
{
	(void)state;
	enum { N = 400, T = 36 };
	double *y = calloc(N * T, sizeof(double));
	forecast_span *sp = malloc(sizeof(*sp) * N);
	forecast_panel *m = malloc(sizeof(*m));
	const double silent[10] = { 0 };
	double mean[H];
	forecast_result r;
	forecast_panel_why why;
	uint64_t s = 5;

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(m);
	for (size_t i = 0; i < N; i++) {
		for (size_t t = i % 30; t < T; t++) {
			y[i * T + t] = poisson(&s, 2);
		}
		sp[i].y = y + i * T;
		sp[i].n = T;
	}
	assert_int_equal(forecast_panel_fit(m, H, 0.9, sp, N), 0);
	assert_true(m->cluster[0].cases >= 50);
	/* Some silent cases start within their target, some do not. */
	assert_true(m->none_rate > 0.1 && m->none_rate < 2);
	assert_int_equal(forecast_panel_series(m, silent, 10, mean, &r, &why), 0);
	assert_int_equal(why.cluster, 0);
	assert_true(r.stock > 0 && mean[0] == m->none_rate);
	assert_true(fabs(why.stock_mean - H * m->none_rate) < EPS);
	/* Half never sell, half sell Poisson(2) from the start. */
	memset(y, 0, sizeof(double) * N * T);
	for (size_t i = 0; i < N; i += 2) {
		for (size_t t = 0; t < T; t++) {
			y[i * T + t] = poisson(&s, 2);
		}
	}
	assert_int_equal(forecast_panel_fit(m, H, 0.9, sp, N), 0);
	assert_true(m->cluster[0].cases >= 50);
	assert_true(m->none_rate == 0);
	assert_int_equal(forecast_panel_series(m, silent, 10, mean, &r, &why), 0);
	assert_true(r.stock == 0 && mean[0] == 0 && why.stock_mean == 0);
	free(y);
	free(sp);
	free(m);
}

/* Goal: a panel where demand dies out (half the series stop selling for
 * good somewhere in periods 12..35 of 48) learns from its own validation
 * cuts that a series silent for long stays silent: the dead ones are
 * forecast well below their long-run mean and stocked far less than the
 * live ones, which keep a forecast near their mean. */
static void test_panel_dying_learned(void **state)
{
	(void)state;
	double *y = malloc(sizeof(double) * NS * NT);
	forecast_span *sp = malloc(sizeof(*sp) * NS);
	forecast_panel *m = malloc(sizeof(*m));
	uint64_t s = 99;
	double mean[H];
	double dead_ratio = 0, live_ratio = 0, dead_stock = 0, live_stock = 0;

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(m);
	for (size_t i = 0; i < NS; i++) {
		size_t end = i % 2 ? NT : 12 + (size_t)(24 * unif(&s));

		for (size_t t = 0; t < NT; t++) {
			y[i * NT + t] = t < end && unif(&s) < 0.5 ? 2 : 0;
		}
		sp[i].y = y + i * NT;
		sp[i].n = NT;
	}
	assert_int_equal(forecast_panel_fit(m, H, 0.9, sp, NS), 0);
	for (size_t i = 0; i < NS; i++) {
		forecast_result r;
		double lr = forecast_point(FORECAST_MEAN, sp[i].y, NT, H);

		assert_int_equal(forecast_panel_series(m, sp[i].y, NT, mean, &r,
		    NULL), 0);
		if (i % 2) {
			live_ratio += mean[0] / lr;
			live_stock += r.stock;
		} else {
			dead_ratio += mean[0] / lr;
			dead_stock += r.stock;
		}
	}
	dead_ratio /= NS / 2;
	live_ratio /= NS / 2;
	assert_true(dead_ratio < 0.5);
	assert_true(live_ratio > 0.8 && live_ratio < 1.2);
	assert_true(dead_stock < 0.5 * live_stock);
	free(y);
	free(sp);
	free(m);
}

/* Goal: the fit is a pure function of its input: twice the same panel
 * gives byte-identical models and forecasts. */
static void test_panel_deterministic(void **state)
{
	(void)state;
	double *y = malloc(sizeof(double) * NS * NT);
	forecast_span *sp = malloc(sizeof(*sp) * NS);
	forecast_panel *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(a);
	assert_non_null(b);
	make_steady(y, sp, 3);
	assert_int_equal(forecast_panel_fit(a, 3, 0.95, sp, NS), 0);
	assert_int_equal(forecast_panel_fit(b, 3, 0.95, sp, NS), 0);
	assert_memory_equal(a, b, sizeof(*a));
	free(y);
	free(sp);
	free(a);
	free(b);
}

/* Goal: bad arguments are refused with DN_EINVAL and nothing learned from
 * an empty panel: defaults (issue-5 model at the nominal level). */
static void test_panel_bad_args_and_empty(void **state)
{
	(void)state;
	forecast_panel m;
	forecast_span sp = { y5, 5 };
	const double neg[] = { 1, -1, 2 };
	forecast_span bad = { neg, 3 };
	double mean[4];
	forecast_result r;
	forecast_panel_why why;

	assert_int_equal(forecast_panel_fit(NULL, 3, 0.9, &sp, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, 0, 0.9, &sp, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, FORECAST_HORIZON_MAX + 1, 0.9,
	    &sp, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, 3, 0.3, &sp, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, 3, NAN, &sp, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, 3, 0.9, NULL, 1), DN_EINVAL);
	assert_int_equal(forecast_panel_fit(&m, 3, 0.9, &bad, 1), DN_EINVAL);
	sp.n = 0;
	assert_int_equal(forecast_panel_fit(&m, 3, 0.9, &sp, 1), DN_EINVAL);

	assert_int_equal(forecast_panel_fit(&m, 4, 0.9, NULL, 0), 0);
	assert_int_equal(forecast_panel_series(&m, y5, 5, mean, &r, &why), 0);
	assert_int_equal(why.point, FORECAST_CAND_MODEL);
	assert_true(why.level == 0.9 && why.scale == 1);
	assert_true(fabs(mean[0] - forecast_point(FORECAST_MODEL, y5, 5, 4)) <
	    EPS);
	assert_int_equal(forecast_panel_series(&m, neg, 3, mean, &r, NULL),
	    DN_EINVAL);
	assert_int_equal(forecast_panel_series(&m, y5, 0, mean, &r, NULL),
	    DN_EINVAL);
	assert_int_equal(forecast_panel_series(NULL, y5, 5, mean, &r, NULL),
	    DN_EINVAL);
	assert_int_equal(m.learned, 0);
	/* Too few validation cases to learn from (a new network): the issue-5
	 * model whole, stock included. */
	double hist[40], mean2[4];
	forecast_span few[2] = { { hist, 40 }, { hist, 40 } };
	forecast_params fp = { FORECAST_MODEL, 4, 0.9 };
	forecast_result r2;

	for (size_t t = 0; t < 40; t++) {
		hist[t] = (double)((t * 7) % 5 == 0 ? t % 4 : 0);
	}
	assert_int_equal(forecast_panel_fit(&m, 4, 0.9, few, 2), 0);
	assert_true(m.cases > 0 && m.cases < FORECAST_PANEL_CASES_MIN);
	assert_int_equal(m.learned, 0);
	assert_int_equal(forecast_panel_series(&m, hist, 40, mean, &r, &why), 0);
	assert_int_equal(forecast_series(&fp, hist, 40, mean2, &r2), 0);
	assert_true(r.stock == r2.stock && r.stock > 0);
	assert_true(fabs(why.stock_mean - r2.mean_total) < EPS);
	assert_int_equal(why.stock, FORECAST_CAND_MODEL);
	/* Enough to learn from (8 series x 8 origins) but not to split in
	 * halves of 50 cases: the stock's scope is chosen in sample. */
	forecast_span eight[8];

	for (size_t i = 0; i < 8; i++) {
		eight[i] = few[0];
	}
	assert_int_equal(forecast_panel_fit(&m, 4, 0.9, eight, 8), 0);
	assert_true(m.cases == 64 && m.learned == 1);
	assert_int_equal(m.stock_crossed, 0);
	assert_int_equal(m.stock_panel, m.stock_fill[1] > m.stock_fill[0]);
	/* No demand: nothing forecast, nothing stocked. */
	const double z[] = { 0, 0, 0, 0 };

	assert_int_equal(forecast_panel_series(&m, z, 4, mean, &r, &why), 0);
	assert_true(r.stock == 0 && r.mean_total == 0 && why.cluster == 0);
}

/* Goal: a panel of short histories forecast over a longer horizon (every
 * validation target is cut short by the history) still forecasts near the
 * mean: the missing periods of a short target are completed with the
 * history's own scatter, so the per-series RMSSE of a 5-period window
 * (which rewards forecasting low) does not set a 12-period forecast. On
 * steady sparse Poisson series the point forecast stays within 15 % of
 * the long-run mean on average (0.98; 0.78 before the completion). */
static void test_panel_short_targets_completed(void **state)
{
	(void)state;
	enum { N = 3000, T = 10, HL = 12 };
	double *y = malloc(sizeof(double) * N * T);
	forecast_span *sp = malloc(sizeof(*sp) * N);
	forecast_panel *m = malloc(sizeof(*m));
	double mean[HL], ratio = 0;
	size_t k = 0;
	uint64_t s = 17;

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(m);
	for (size_t i = 0; i < N; i++) {
		double l = 0.1 + 0.9 * unif(&s);

		for (size_t t = 0; t < T; t++) {
			y[i * T + t] = poisson(&s, l);
		}
		sp[i].y = y + i * T;
		sp[i].n = T;
	}
	assert_int_equal(forecast_panel_fit(m, HL, 0.9, sp, N), 0);
	assert_int_equal(m->learned, 1);
	for (size_t i = 0; i < N; i++) {
		forecast_result r;
		double mu = forecast_point(FORECAST_MEAN, sp[i].y, T, HL);

		assert_int_equal(forecast_panel_series(m, sp[i].y, T, mean, &r,
		    NULL), 0);
		if (mu > 0) {
			ratio += mean[0] / mu;
			k++;
		}
	}
	assert_true(k > N / 2);
	assert_true(fabs(ratio / (double)k - 1) < 0.15);
	free(y);
	free(sp);
	free(m);
}

/* Goal: when no quantile level can cover the service share of the
 * validation cases (drop-like series: a burst of 1-3 periods of
 * Poisson(10..50), quiet before and after, so a stock mean that follows
 * the last period is often 0 where demand comes), the level aims at the
 * cover that can be reached instead of the highest level: the stock stays
 * under 8x the held-out demand (4.0; 23.6 at the highest level) and the cover
 * within 0.05 of the service level. */
static void test_panel_unreachable_service(void **state)
{
	(void)state;
	enum { N = 1000, T = 60, HB = 3 };
	double *y = malloc(sizeof(double) * N * T);
	forecast_span *sp = malloc(sizeof(*sp) * N);
	forecast_panel *m = malloc(sizeof(*m));
	double mean[HB], stock = 0, demand = 0;
	size_t covered = 0;
	uint64_t s = 23;

	assert_non_null(y);
	assert_non_null(sp);
	assert_non_null(m);
	for (size_t i = 0; i < N; i++) {
		double b = 0.1 * unif(&s);
		size_t tau = (size_t)(T * (0.2 + 0.75 * unif(&s)));
		size_t w = 1 + (size_t)(3 * unif(&s));

		for (size_t t = 0; t < T; t++) {
			double p = t < tau ? b : 0.02;

			y[i * T + t] = t >= tau && t < tau + w ?
			    poisson(&s, 10 + 40 * unif(&s)) : unif(&s) < p;
		}
		sp[i].y = y + i * T;
		sp[i].n = T - HB;
	}
	assert_int_equal(forecast_panel_fit(m, HB, 0.9, sp, N), 0);
	assert_int_equal(m->learned, 1);
	for (size_t i = 0; i < N; i++) {
		forecast_result r;
		double tot = 0;

		assert_int_equal(forecast_panel_series(m, sp[i].y, T - HB, mean,
		    &r, NULL), 0);
		for (unsigned h = 0; h < HB; h++) {
			tot += sp[i].y[T - HB + h];
		}
		stock += r.stock;
		demand += tot;
		covered += tot <= r.stock;
	}
	assert_true(demand > 0);
	assert_true(stock / demand < 8);
	assert_true(fabs((double)covered / N - 0.9) <= 0.05);
	free(y);
	free(sp);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_panel_clusters),
		cmocka_unit_test(test_panel_candidates),
		cmocka_unit_test(test_compound),
		cmocka_unit_test(test_panel_steady_calibrated),
		cmocka_unit_test(test_panel_dying_learned),
		cmocka_unit_test(test_panel_silent_learned),
		cmocka_unit_test(test_panel_short_targets_completed),
		cmocka_unit_test(test_panel_unreachable_service),
		cmocka_unit_test(test_panel_deterministic),
		cmocka_unit_test(test_panel_bad_args_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
