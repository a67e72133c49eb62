/*
 * forecast_eval.c - measures every forecasting method on a demand history
 * with the protocol of ../shared/data/forecast/README.md:
 *   drop the last `origin` periods of every series (0: the README's
 *   protocol), hold out the next H periods before them (default 6), train
 *   on the rest, forecast h = 1..H, then per method
 *   - MASE: mean |error| / in-sample mean |one-step naive error|, averaged
 *     over series with a non-zero scale;
 *   - RMSSE (M5): sqrt(MSE / in-sample mean squared one-step difference
 *     counted from the first non-zero demand), averaged over series with a
 *     defined, non-zero scale;
 *   - fill at own stock: sum min(stock, demand) / sum demand over the
 *     horizon totals, with sum stock / sum demand beside it;
 *   - fill at a budget of 1.0x: every stock scaled by one constant so the
 *     total equals the held-out total, then the fill;
 *   - cover: the share of series whose held-out total is <= their stock
 *     (a calibrated quantile at service s gives about s).
 * Baselines' stock is the sum of their H forecasts (as the README's R
 * figures); the models' is their service-level quantile. "model" is the
 * issue-5 model (forecast_series), "adaptive" the issue-11 panel model
 * (forecast_panel.h), fitted on the training parts of the whole panel.
 *
 * Modes:
 *   forecast_eval --input F.csv | --synth FAMILY [--holdout 6] [--origin 0]
 *       [--service 0.9] [--json] [--explain]       one table, every method
 *   forecast_eval --grid [--input F.csv]... [--service 0.9] [--json]
 *       the harder evaluation: every input and every synthetic family at
 *       origins 0, 3, 6 and horizons 3, 6, 12; per cell the adaptive model
 *       against the best baseline on RMSSE and on fill @ budget 1.0x
 *   forecast_eval --bench                           the speed figure only
 *   forecast_eval --synth FAMILY --dump            the family as CSV
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/forecast_csv.h"
#include "core/forecast_panel.h"
#include "synth.h"

/* Rows: every forecast_method, then the panel model, then zero. */
#define ROW_ADAPTIVE FORECAST_METHOD_COUNT
#define ROW_ZERO (FORECAST_METHOD_COUNT + 1)
#define ROWS (FORECAST_METHOD_COUNT + 2)
/* The baselines to beat: naive .. adida (not the models, not zero). */
#define BASELINES FORECAST_MODEL

/* Synthetic speed test: the figure. */
#define BENCH_SERIES 10000u
#define BENCH_PERIODS 84u

/* Seed of the synthetic families (docs/forecast.md). */
#define SYNTH_SEED 11ULL

typedef struct {
	double mase_sum, rmsse_sum;
	size_t mase_n, rmsse_n;
	double fill_num, stock_sum, demand_sum;
	size_t covered, nseries;
	double *stock, *demand; /* per series, for the budget fill */
	double seconds;
} row_stats;

typedef struct {
	double mase, rmsse, fill, ratio, budget, cover;
} row_figs;

/* CPU time of this thread: the speed figure is "on one core", and the
 * machine is shared, so wall time would measure the neighbours too. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(stderr, "forecast_eval: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 20, n = 0;
	char *b = malloc(cap);

	while (b != NULL) {
		size_t r = fread(b + n, 1, cap - n, f);

		n += r;
		if (n < cap) {
			break;
		}
		char *nb = realloc(b, cap * 2);

		if (nb == NULL) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	fclose(f);
	if (b == NULL) {
		fprintf(stderr, "forecast_eval: out of memory\n");
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

static void score_series(row_stats *r, const double *train, size_t nt,
    const double *test, unsigned H, const double *mean, double stock)
{
	double ae = 0, se = 0, dem = 0;

	for (unsigned h = 0; h < H; h++) {
		double e = test[h] - mean[h];

		ae += fabs(e);
		se += e * e;
		dem += test[h];
	}
	double mscale = 0;

	for (size_t i = 1; i < nt; i++) {
		mscale += fabs(train[i] - train[i - 1]);
	}
	if (nt > 1 && mscale > 0) {
		r->mase_sum += (ae / H) / (mscale / (double)(nt - 1));
		r->mase_n++;
	}
	size_t first = 0;

	while (first < nt && train[first] <= 0) {
		first++;
	}
	double rscale = 0;
	size_t rn = 0;

	for (size_t i = first + 1; i < nt; i++) {
		double d = train[i] - train[i - 1];

		rscale += d * d;
		rn++;
	}
	if (rn > 0 && rscale > 0) {
		r->rmsse_sum += sqrt((se / H) / (rscale / (double)rn));
		r->rmsse_n++;
	}
	r->fill_num += fmin(stock, dem);
	r->stock_sum += stock;
	r->demand_sum += dem;
	r->covered += dem <= stock;
	r->stock[r->nseries] = stock;
	r->demand[r->nseries] = dem;
	r->nseries++;
}

static double budget_fill(const row_stats *r)
{
	if (r->stock_sum <= 0 || r->demand_sum <= 0) {
		return 0;
	}
	double k = r->demand_sum / r->stock_sum, num = 0;

	for (size_t i = 0; i < r->nseries; i++) {
		num += fmin(k * r->stock[i], r->demand[i]);
	}
	return num / r->demand_sum;
}

static row_figs figs_of(const row_stats *r)
{
	row_figs f;

	f.mase = r->mase_n ? r->mase_sum / (double)r->mase_n : 0;
	f.rmsse = r->rmsse_n ? r->rmsse_sum / (double)r->rmsse_n : 0;
	f.fill = r->demand_sum > 0 ? r->fill_num / r->demand_sum : 0;
	f.ratio = r->demand_sum > 0 ? r->stock_sum / r->demand_sum : 0;
	f.budget = budget_fill(r);
	f.cover = r->nseries ? (double)r->covered / (double)r->nseries : 0;
	return f;
}

static const char *row_name(unsigned m)
{
	return m == ROW_ZERO ? "zero" : m == ROW_ADAPTIVE ? "adaptive" :
	    forecast_method_name((forecast_method)m);
}

static void rows_free(row_stats *rows)
{
	for (unsigned m = 0; m < ROWS; m++) {
		free(rows[m].stock);
		free(rows[m].demand);
	}
}

/* Per candidate/cluster tallies of the panel's choices, for --explain. */
typedef struct {
	size_t point[FORECAST_PANEL_CANDIDATES];
	size_t stock[FORECAST_PANEL_CANDIDATES];
	size_t cluster[FORECAST_PANEL_CLUSTERS];
} why_tally;

/*
 * Runs every method on spans[0..count-1]: each series loses its last
 * `origin` periods, the next H before them are the target, the rest is
 * training; series with fewer than 2 training periods are skipped. rows
 * is zeroed and allocated here (rows_free after). Returns 0 or -1.
 */
static int evaluate(const forecast_span *spans, size_t count, unsigned origin,
    unsigned H, double service, row_stats *rows, size_t *skipped,
    forecast_panel *panel, why_tally *tally)
{
	double mean[FORECAST_HORIZON_MAX], zeros[FORECAST_HORIZON_MAX] = { 0 };
	forecast_span *train = calloc(count ? count : 1, sizeof(*train));
	size_t *idx = calloc(count ? count : 1, sizeof(*idx));
	size_t nk = 0;

	memset(rows, 0, sizeof(*rows) * ROWS);
	*skipped = 0;
	if (train == NULL || idx == NULL) {
		free(train);
		free(idx);
		return -1;
	}
	for (unsigned m = 0; m < ROWS; m++) {
		rows[m].stock = calloc(count ? count : 1, sizeof(double));
		rows[m].demand = calloc(count ? count : 1, sizeof(double));
		if (rows[m].stock == NULL || rows[m].demand == NULL) {
			free(train);
			free(idx);
			return -1;
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (spans[i].n < (size_t)origin + H + 2) {
			(*skipped)++;
			continue;
		}
		train[nk].y = spans[i].y;
		train[nk].n = spans[i].n - origin - H;
		idx[nk++] = i;
	}
	for (unsigned m = 0; m < ROWS; m++) {
		forecast_params p = { (forecast_method)(m < FORECAST_METHOD_COUNT ?
		    m : 0), H, service };
		double t0 = now_s();

		if (m == ROW_ADAPTIVE &&
		    forecast_panel_fit(panel, H, service, train, nk) != 0) {
			fprintf(stderr, "forecast_eval: panel fit refused\n");
			free(train);
			free(idx);
			return -1;
		}
		for (size_t j = 0; j < nk; j++) {
			const double *y = train[j].y;
			size_t nt = train[j].n;
			forecast_result res;
			forecast_panel_why why;
			int rv = 0;

			if (m == ROW_ZERO) {
				score_series(&rows[m], y, nt, y + nt, H, zeros, 0);
				continue;
			}
			if (m == ROW_ADAPTIVE) {
				rv = forecast_panel_series(panel, y, nt, mean, &res, &why);
				if (rv == 0 && tally != NULL) {
					tally->point[why.point]++;
					tally->stock[why.stock]++;
					tally->cluster[why.cluster]++;
				}
			} else {
				rv = forecast_series(&p, y, nt, mean, &res);
			}
			if (rv != 0) {
				fprintf(stderr, "forecast_eval: series %zu refused\n",
				    idx[j]);
				free(train);
				free(idx);
				return -1;
			}
			/* Baselines hold the unrounded sum of their forecasts,
			 * as the README's R figures do. */
			double stock = m >= FORECAST_MODEL ? res.stock : res.mean_total;

			score_series(&rows[m], y, nt, y + nt, H, mean, stock);
		}
		rows[m].seconds = now_s() - t0;
	}
	free(train);
	free(idx);
	return 0;
}

/* Times the panel model (fit + forecast) and the issue-5 model over a
 * synthetic lumpy catalogue (fixed LCG seed). */
static void bench(double service, unsigned H, double *model_s,
    double *adaptive_s, double *adaptive_wall_s)
{
	double *y = malloc(sizeof(double) * BENCH_SERIES * BENCH_PERIODS);
	forecast_span *sp = malloc(sizeof(*sp) * BENCH_SERIES);
	forecast_panel *panel = malloc(sizeof(*panel));
	double mean[FORECAST_HORIZON_MAX];
	forecast_result res;
	forecast_params p = { FORECAST_MODEL, H, service };
	unsigned long long s = 42;
	volatile double sink = 0;

	*model_s = *adaptive_s = *adaptive_wall_s = 0;
	if (y == NULL || sp == NULL || panel == NULL) {
		free(y);
		free(sp);
		free(panel);
		return;
	}
	for (size_t i = 0; i < (size_t)BENCH_SERIES * BENCH_PERIODS; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned u = (unsigned)(s >> 33);
		y[i] = (u % 100) < 25 ? (double)(1 + (u >> 8) % 20) : 0;
	}
	for (size_t i = 0; i < BENCH_SERIES; i++) {
		sp[i].y = y + i * BENCH_PERIODS;
		sp[i].n = BENCH_PERIODS;
	}
	double t0 = cpu_s();

	for (size_t i = 0; i < BENCH_SERIES; i++) {
		forecast_series(&p, sp[i].y, sp[i].n, mean, &res);
		sink += res.stock;
	}
	*model_s = cpu_s() - t0;
	t0 = cpu_s();
	double w0 = now_s();

	if (forecast_panel_fit(panel, H, service, sp, BENCH_SERIES) == 0) {
		for (size_t i = 0; i < BENCH_SERIES; i++) {
			forecast_panel_series(panel, sp[i].y, sp[i].n, mean, &res,
			    NULL);
			sink += res.stock;
		}
	}
	*adaptive_s = cpu_s() - t0;
	*adaptive_wall_s = now_s() - w0;
	free(y);
	free(sp);
	free(panel);
}

/* Prints s as a JSON string (quotes, backslashes and controls escaped). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			printf("\\%c", c);
		} else if (c < 0x20) {
			printf("\\u%04x", c);
		} else {
			putchar(c);
		}
	}
	putchar('"');
}

static void usage(FILE *f)
{
	fprintf(f, "usage: forecast_eval --input FILE.csv | --synth FAMILY "
	    "[--holdout 6] [--origin 0] [--service 0.9] [--json] [--explain]\n"
	    "       forecast_eval --grid [--input FILE.csv]... [--service 0.9] "
	    "[--json]\n"
	    "       forecast_eval --bench [--holdout 6] [--service 0.9]\n"
	    "       forecast_eval --synth FAMILY --dump\n"
	    "  --change-hi X  latest change time of the shift_up, shift_down and "
	    "burst\n"
	    "                 families as a share of their 60 periods (0.5..3; "
	    "default %.2f,\n"
	    "                 the standard grid; above 1 some series never change "
	    "in view)\n"
	    "families:", SYNTH_CHANGE_HI);
	for (unsigned i = 0; i < SYNTH_FAMILIES; i++) {
		fprintf(f, " %s", synth_name((synth_family)i));
	}
	fprintf(f, "\n");
}

/* A loaded dataset: a CSV or a synthetic family, as spans. */
typedef struct {
	char name[256];
	forecast_csv_history hist;
	double *synth_y;
	forecast_span *spans;
	size_t count;
} dataset;

static void dataset_fini(dataset *d)
{
	forecast_csv_fini(&d->hist);
	free(d->synth_y);
	free(d->spans);
	memset(d, 0, sizeof(*d));
}

static int dataset_csv(dataset *d, const char *path)
{
	char *buf, why[256];
	size_t len, line;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", path);
	if (read_file(path, &buf, &len) != 0) {
		return -1;
	}
	int rv = forecast_csv_parse(buf, len, &d->hist, &line, why, sizeof(why));

	free(buf);
	if (rv != 0) {
		fprintf(stderr, "forecast_eval: %s:%zu: %s\n", path, line, why);
		return -1;
	}
	d->count = d->hist.nseries;
	d->spans = calloc(d->count ? d->count : 1, sizeof(*d->spans));
	if (d->spans == NULL) {
		return -1;
	}
	for (size_t i = 0; i < d->count; i++) {
		d->spans[i].y = d->hist.y + d->hist.series[i].start;
		d->spans[i].n = d->hist.series[i].n;
	}
	return 0;
}

/* --change-hi: latest change time of the shift and burst families. */
static double change_hi = SYNTH_CHANGE_HI;

static int dataset_synth(dataset *d, synth_family f)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "synthetic:%s", synth_name(f));
	d->count = SYNTH_SERIES;
	d->synth_y = calloc((size_t)SYNTH_SERIES * SYNTH_PERIODS, sizeof(double));
	d->spans = calloc(SYNTH_SERIES, sizeof(*d->spans));
	if (d->synth_y == NULL || d->spans == NULL) {
		return -1;
	}
	synth_generate(f, SYNTH_SEED, change_hi, d->synth_y, d->spans);
	return 0;
}

static int synth_parse(const char *name, synth_family *f)
{
	for (unsigned i = 0; i < SYNTH_FAMILIES; i++) {
		if (strcmp(name, synth_name((synth_family)i)) == 0) {
			*f = (synth_family)i;
			return 0;
		}
	}
	return -1;
}

static void print_explain(const forecast_panel *panel, const why_tally *t)
{
	char name[64];

	printf("\nadaptive model: %zu validation cases; levels: scheme %u of "
	    "0 (per cluster) .. %u (one for the panel), validation fill @ 1.0x",
	    panel->cases, panel->scheme, FORECAST_PANEL_SCHEMES - 1);
	for (unsigned k = 0; k < FORECAST_PANEL_SCHEMES; k++) {
		printf(" %.3f", panel->scheme_fill[k]);
	}
	printf("; stock candidates %s (validation fill of their means: "
	    "per cluster %.3f, one for the panel %.3f",
	    panel->stock_panel ? "one for the panel" : "per cluster",
	    panel->stock_fill[0], panel->stock_fill[1]);
	if (panel->stock_crossed) {
		printf("; cross-fit, held out: %.3f, %.3f", panel->stock_xfill[0],
		    panel->stock_xfill[1]);
	}
	printf(")");
	printf("; histories without demand: %.4f per period (from %.0f "
	    "cases)", panel->none_rate, panel->cluster[0].cases);
	printf("; budget-aware stock %s (round(%.3f x the %s quantile at "
	    "%.2f), validation fill @ 1.0x %.3f)", panel->alloc ? "used" :
	    "not used", panel->alloc_k, panel->alloc_cal ? "calibrated" : "raw",
	    panel->alloc_tau, panel->alloc_fill);
	printf("; per cluster "
	    "(series forecast): point candidate x scale (validation RMSSE; "
	    "mean's), stock candidate (validation fill @ 1.0x), NB2 dispersion, "
	    "level, level from (0 own, 1 parent, 2 panel)\n\n");
	printf("| cluster | series | cases | point | RMSSE | mean's | stock | "
	    "fill | dispersion | level | from |\n"
	    "|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned c = 0; c < FORECAST_PANEL_CLUSTERS; c++) {
		const forecast_panel_choice *ch = &panel->cluster[c];

		if (t->cluster[c] == 0 && ch->cases == 0) {
			continue;
		}
		printf("| %s | %zu | %.0f | %s x %.2f | %.3f | %.3f | %s | %.3f | "
		    "%.3f | %.3f | %u |\n", forecast_panel_cluster_name(c, name,
		    sizeof(name)), t->cluster[c], ch->cases,
		    forecast_panel_candidate_name(ch->point), ch->scale,
		    ch->point_loss, ch->plain_loss,
		    forecast_panel_candidate_name(ch->stock), ch->stock_fill,
		    ch->dispersion, ch->level, ch->level_from);
	}
	printf("\nseries by point candidate:");
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		printf(" %s %zu", forecast_panel_candidate_name(k), t->point[k]);
	}
	printf("\nseries by stock candidate:");
	for (unsigned k = 0; k < FORECAST_PANEL_CANDIDATES; k++) {
		printf(" %s %zu", forecast_panel_candidate_name(k), t->stock[k]);
	}
	printf("\n");
}

static int run_table(const dataset *d, unsigned H, unsigned origin,
    double service, int json, int explain)
{
	row_stats rows[ROWS];
	size_t skipped;
	forecast_panel *panel = malloc(sizeof(*panel));
	why_tally tally;

	memset(&tally, 0, sizeof(tally));
	if (panel == NULL || evaluate(d->spans, d->count, origin, H, service,
	    rows, &skipped, panel, &tally) != 0) {
		free(panel);
		return 1;
	}
	if (json) {
		printf("{\"input\":");
		json_str(d->name);
		printf(",\"holdout\":%u,\"origin\":%u,\"service\":%g,\"series\":%zu,"
		    "\"skipped\":%zu,\"methods\":[", H, origin, service,
		    rows[0].nseries, skipped);
	} else {
		printf("%s: %zu series (%zu too short), holdout %u, origin %u, "
		    "service %.3g\n\n", d->name, rows[0].nseries, skipped, H,
		    origin, service);
		printf("| method | MASE | RMSSE | fill (units) at own stock | "
		    "stock / demand | fill @ budget 1.0x | cover | series/s |\n");
		printf("|---|---|---|---|---|---|---|---|\n");
	}
	for (unsigned m = 0; m < ROWS; m++) {
		row_figs f = figs_of(&rows[m]);
		double sps = rows[m].seconds > 0 ?
		    (double)rows[m].nseries / rows[m].seconds : 0;

		if (json) {
			printf("%s{\"method\":\"%s\",\"mase\":%.4f,\"rmsse\":%.4f,"
			    "\"fill\":%.4f,\"stock_ratio\":%.4f,\"fill_budget\":%.4f,"
			    "\"cover\":%.4f,\"series_per_s\":%.0f}", m ? "," : "",
			    row_name(m), f.mase, f.rmsse, f.fill, f.ratio, f.budget,
			    f.cover, sps);
		} else {
			printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |\n",
			    row_name(m), f.mase, f.rmsse, f.fill, f.ratio, f.budget,
			    f.cover, sps);
		}
	}
	if (json) {
		printf("]}\n");
	} else if (explain) {
		print_explain(panel, &tally);
	}
	rows_free(rows);
	free(panel);
	return 0;
}

/* ---- the harder evaluation ---- */

static const unsigned grid_origins[] = { 0, 3, 6 };
static const unsigned grid_horizons[] = { 3, 6, 12 };
#define GRID_TOL 0.02

typedef struct {
	size_t cells, rmsse_bad, budget_bad, cover_bad;
	double d_rmsse, d_budget; /* sums of (best baseline - adaptive) and
	                           * (adaptive - best baseline) */
} grid_sum;

static int run_grid_dataset(const dataset *d, double service, int json,
    grid_sum *g, int *first_json)
{
	forecast_panel *panel = malloc(sizeof(*panel));

	if (panel == NULL) {
		return 1;
	}
	if (!json) {
		printf("### %s\n\n| origin | H | series | adaptive RMSSE | best "
		    "baseline RMSSE | Δ | adaptive fill @ 1.0x | best baseline "
		    "fill @ 1.0x | Δ | cover | stock / demand | model (issue 5) "
		    "RMSSE / fill |\n|---|---|---|---|---|---|---|---|---|---|---|"
		    "---|\n", d->name);
	}
	for (size_t oi = 0; oi < sizeof(grid_origins) / sizeof(*grid_origins);
	    oi++) {
		for (size_t hi = 0;
		    hi < sizeof(grid_horizons) / sizeof(*grid_horizons); hi++) {
			unsigned o = grid_origins[oi], H = grid_horizons[hi];
			row_stats rows[ROWS];
			size_t skipped;

			if (evaluate(d->spans, d->count, o, H, service, rows,
			    &skipped, panel, NULL) != 0) {
				free(panel);
				return 1;
			}
			if (rows[0].nseries == 0) {
				rows_free(rows);
				continue;
			}
			unsigned br = 0, bb = 0;
			row_figs fb[ROWS];

			for (unsigned m = 0; m < ROWS; m++) {
				fb[m] = figs_of(&rows[m]);
			}
			for (unsigned m = 1; m < BASELINES; m++) {
				if (fb[m].rmsse < fb[br].rmsse) {
					br = m;
				}
				if (fb[m].budget > fb[bb].budget) {
					bb = m;
				}
			}
			const row_figs *a = &fb[ROW_ADAPTIVE];
			double dr = fb[br].rmsse - a->rmsse;
			double db = a->budget - fb[bb].budget;

			g->cells++;
			g->rmsse_bad += dr < -GRID_TOL;
			g->budget_bad += db < -GRID_TOL;
			g->cover_bad += fabs(a->cover - service) > 0.05;
			g->d_rmsse += dr;
			g->d_budget += db;
			if (json) {
				printf("%s{\"dataset\":", *first_json ? "" : ",");
				json_str(d->name);
				printf(",\"origin\":%u,\"horizon\":%u,\"series\":%zu,"
				    "\"rmsse\":%.4f,\"best_rmsse\":%.4f,"
				    "\"best_rmsse_method\":\"%s\",\"fill_budget\":%.4f,"
				    "\"best_fill_budget\":%.4f,\"best_fill_method\":"
				    "\"%s\",\"cover\":%.4f,\"stock_ratio\":%.4f}", o, H,
				    rows[0].nseries, a->rmsse, fb[br].rmsse,
				    row_name(br), a->budget, fb[bb].budget,
				    row_name(bb), a->cover, a->ratio);
				*first_json = 0;
			} else {
				printf("| %u | %u | %zu | %.3f | %.3f %s | %+.3f%s | "
				    "%.3f | %.3f %s | %+.3f%s | %.3f | %.2f | "
				    "%.3f / %.3f |\n", o, H, rows[0].nseries,
				    a->rmsse, fb[br].rmsse, row_name(br), dr,
				    dr < -GRID_TOL ? " ✗" : "", a->budget,
				    fb[bb].budget, row_name(bb), db,
				    db < -GRID_TOL ? " ✗" : "", a->cover, a->ratio,
				    fb[FORECAST_MODEL].rmsse, fb[FORECAST_MODEL].budget);
			}
			rows_free(rows);
		}
	}
	if (!json) {
		printf("\n");
	}
	free(panel);
	return 0;
}

static int run_grid(const char *const *inputs, size_t ninputs,
    double service, int json)
{
	grid_sum g;
	int first = 1, rv = 0;

	memset(&g, 0, sizeof(g));
	if (json) {
		printf("{\"service\":%g,\"change_hi\":%g,\"cells\":[", service,
		    change_hi);
	} else {
		printf("Harder evaluation, service %.3g: Δ RMSSE = best baseline − "
		    "adaptive, Δ fill = adaptive − best baseline (positive is a "
		    "win; ✗ = worse by more than %.2f). Baselines: naive, mean, ses, "
		    "croston, sba, tsb, adida.\n", service, GRID_TOL);
		if (change_hi != SYNTH_CHANGE_HI) {
			printf("Not the standard grid: shift and burst changes "
			    "drawn up to %.2f T (--change-hi).\n", change_hi);
		}
		printf("\n");
	}
	for (size_t i = 0; i <= ninputs + SYNTH_FAMILIES - 1 && rv == 0; i++) {
		dataset d;

		if (i < ninputs) {
			rv = dataset_csv(&d, inputs[i]);
		} else {
			rv = dataset_synth(&d, (synth_family)(i - ninputs));
		}
		if (rv == 0) {
			rv = run_grid_dataset(&d, service, json, &g, &first);
		}
		dataset_fini(&d);
	}
	if (rv != 0) {
		return 1;
	}
	double c = g.cells ? (double)g.cells : 1;

	if (json) {
		printf("],\"summary\":{\"cells\":%zu,\"rmsse_worse\":%zu,"
		    "\"fill_worse\":%zu,\"cover_off\":%zu,\"mean_d_rmsse\":%.4f,"
		    "\"mean_d_fill\":%.4f}}\n", g.cells, g.rmsse_bad, g.budget_bad,
		    g.cover_bad, g.d_rmsse / c, g.d_budget / c);
	} else {
		printf("Summary: %zu cells; worse than the best baseline by > %.2f: "
		    "RMSSE in %zu, fill @ 1.0x in %zu; cover off 0.9 by > 0.05 in "
		    "%zu; mean Δ RMSSE %+.4f, mean Δ fill %+.4f\n", g.cells,
		    GRID_TOL, g.rmsse_bad, g.budget_bad, g.cover_bad,
		    g.d_rmsse / c, g.d_budget / c);
	}
	return 0;
}

static void dump(const dataset *d)
{
	printf("series_id,t,demand\n");
	for (size_t i = 0; i < d->count; i++) {
		for (size_t t = 0; t < d->spans[i].n; t++) {
			printf("s%zu,%zu,%.0f\n", i + 1, t + 1, d->spans[i].y[t]);
		}
	}
}

#define INPUTS_MAX 16

int main(int argc, char **argv)
{
	const char *inputs[INPUTS_MAX];
	size_t ninputs = 0;
	const char *synth = NULL;
	unsigned H = 6, origin = 0;
	double service = 0.9;
	int json = 0, grid = 0, bench_only = 0, do_dump = 0, explain = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc &&
		    ninputs < INPUTS_MAX) {
			inputs[ninputs++] = argv[++i];
		} else if (strcmp(argv[i], "--synth") == 0 && i + 1 < argc) {
			synth = argv[++i];
		} else if (strcmp(argv[i], "--holdout") == 0 && i + 1 < argc) {
			H = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--origin") == 0 && i + 1 < argc) {
			origin = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
			service = atof(argv[++i]);
		} else if (strcmp(argv[i], "--change-hi") == 0 && i + 1 < argc) {
			change_hi = atof(argv[++i]);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--grid") == 0) {
			grid = 1;
		} else if (strcmp(argv[i], "--bench") == 0) {
			bench_only = 1;
		} else if (strcmp(argv[i], "--dump") == 0) {
			do_dump = 1;
		} else if (strcmp(argv[i], "--explain") == 0) {
			explain = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!(change_hi >= 0.5 && change_hi <= 3)) {
		fprintf(stderr, "forecast_eval: --change-hi must be in 0.5..3\n");
		return 2;
	}
	if (H < 1 || H > FORECAST_HORIZON_MAX ||
	    !(service >= FORECAST_SERVICE_MIN && service <= FORECAST_SERVICE_MAX)) {
		usage(stderr);
		return 2;
	}
	if (bench_only) {
		double ms, as, aw;

		bench(service, H, &ms, &as, &aw);
		printf("speed, %u series x %u periods, H %u, one core (CPU time): "
		    "issue-5 model %.4f s; adaptive model (fit with validation + "
		    "forecast) %.4f s (%.0f series/s; wall %.4f s)\n", BENCH_SERIES,
		    BENCH_PERIODS, H, ms, as, as > 0 ? BENCH_SERIES / as : 0, aw);
		return 0;
	}
	if (grid) {
		return run_grid(inputs, ninputs, service, json);
	}
	if ((ninputs == 1) == (synth != NULL)) {
		usage(stderr);
		return 2;
	}
	dataset d;
	int rv;

	if (synth != NULL) {
		synth_family f;

		if (synth_parse(synth, &f) != 0) {
			usage(stderr);
			return 2;
		}
		rv = dataset_synth(&d, f);
	} else {
		rv = dataset_csv(&d, inputs[0]);
	}
	if (rv != 0) {
		dataset_fini(&d);
		return 1;
	}
	if (do_dump) {
		dump(&d);
		rv = 0;
	} else {
		rv = run_table(&d, H, origin, service, json, explain);
	}
	dataset_fini(&d);
	return rv;
}
