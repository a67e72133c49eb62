/*
 * forecast_eval.c - measures every forecasting method on a demand-history
 * CSV with the protocol of ../shared/data/forecast/README.md:
 *   hold out the last H periods of every series (default 6), train on the
 *   rest, forecast h = 1..H, then per method
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
 * figures); the model's is its service-level quantile.
 * It also times the model on a synthetic 10,000 x 84 catalogue.
 *
 * Usage: forecast_eval --input FILE.csv [--holdout 6] [--service 0.9] [--json]
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

/* The "zero" row: forecast 0 everywhere, the README's warning case. */
#define ROW_ZERO FORECAST_METHOD_COUNT
#define ROWS (FORECAST_METHOD_COUNT + 1)

/* Synthetic speed test: the figure. */
#define BENCH_SERIES 10000u
#define BENCH_PERIODS 84u

typedef struct {
	double mase_sum, rmsse_sum;
	size_t mase_n, rmsse_n;
	double fill_num, stock_sum, demand_sum;
	size_t covered, nseries;
	double *stock, *demand; /* per series, for the budget fill */
	double seconds;
} row_stats;

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

static void score_series(row_stats *r, size_t idx, const double *train,
    size_t nt, const double *test, unsigned H, const double *mean, double stock)
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
	r->stock[idx] = stock;
	r->demand[idx] = dem;
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

/* Times the model over a synthetic lumpy catalogue (fixed LCG seed). */
static double bench(double service, unsigned H)
{
	double *y = malloc(sizeof(double) * BENCH_SERIES * BENCH_PERIODS);
	double mean[FORECAST_HORIZON_MAX];
	forecast_result res;
	forecast_params p = { FORECAST_MODEL, H, service };
	unsigned long long s = 42;
	double sink = 0;

	if (y == NULL) {
		return 0;
	}
	for (size_t i = 0; i < (size_t)BENCH_SERIES * BENCH_PERIODS; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned u = (unsigned)(s >> 33);
		y[i] = (u % 100) < 25 ? (double)(1 + (u >> 8) % 20) : 0;
	}
	double t0 = now_s();

	for (size_t i = 0; i < BENCH_SERIES; i++) {
		forecast_series(&p, y + i * BENCH_PERIODS, BENCH_PERIODS, mean, &res);
		sink += res.stock;
	}
	double dt = now_s() - t0;

	free(y);
	return sink >= 0 ? dt : dt;
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
	fprintf(f, "usage: forecast_eval --input FILE.csv [--holdout 6] "
	    "[--service 0.9] [--json]\n");
}

int main(int argc, char **argv)
{
	const char *input = NULL;
	unsigned H = 6;
	double service = 0.9;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
			input = argv[++i];
		} else if (strcmp(argv[i], "--holdout") == 0 && i + 1 < argc) {
			H = (unsigned)atoi(argv[++i]);
		} else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc) {
			service = atof(argv[++i]);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (input == NULL || H < 1 || H > FORECAST_HORIZON_MAX ||
	    !(service >= FORECAST_SERVICE_MIN && service <= FORECAST_SERVICE_MAX)) {
		usage(stderr);
		return 2;
	}
	char *buf;
	size_t len, line;
	char why[256];
	forecast_csv_history hist;

	if (read_file(input, &buf, &len) != 0) {
		return 1;
	}
	int rv = forecast_csv_parse(buf, len, &hist, &line, why, sizeof(why));

	free(buf);
	if (rv != 0) {
		fprintf(stderr, "forecast_eval: %s:%zu: %s\n", input, line, why);
		forecast_csv_fini(&hist);
		return 1;
	}
	row_stats rows[ROWS];

	memset(rows, 0, sizeof(rows));
	for (unsigned m = 0; m < ROWS; m++) {
		rows[m].stock = calloc(hist.nseries, sizeof(double));
		rows[m].demand = calloc(hist.nseries, sizeof(double));
		if (rows[m].stock == NULL || rows[m].demand == NULL) {
			fprintf(stderr, "forecast_eval: out of memory\n");
			return 1;
		}
	}
	double mean[FORECAST_HORIZON_MAX], zeros[FORECAST_HORIZON_MAX] = { 0 };
	size_t skipped = 0;

	for (unsigned m = 0; m < ROWS; m++) {
		forecast_params p = { (forecast_method)m, H, service };
		double t0 = now_s();

		for (size_t i = 0; i < hist.nseries; i++) {
			const forecast_csv_series *s = &hist.series[i];
			const double *y = hist.y + s->start;
			forecast_result res;

			if (s->n <= H + 1) {
				skipped += m == 0;
				continue;
			}
			size_t nt = s->n - H;

			if (m == ROW_ZERO) {
				score_series(&rows[m], rows[m].nseries, y, nt, y + nt,
				    H, zeros, 0);
				continue;
			}
			if (forecast_series(&p, y, nt, mean, &res) != 0) {
				fprintf(stderr, "forecast_eval: series %s refused\n",
				    s->id);
				return 1;
			}
			/* Baselines hold the unrounded sum of their forecasts,
			 * as the README's R figures do. */
			double stock = m == FORECAST_MODEL ? res.stock : res.mean_total;

			score_series(&rows[m], rows[m].nseries, y, nt, y + nt, H,
			    mean, stock);
		}
		rows[m].seconds = now_s() - t0;
	}
	double bsec = bench(service, H);

	if (json) {
		printf("{\"input\":");
		json_str(input);
		printf(",\"holdout\":%u,\"service\":%g,\"series\":%zu,"
		    "\"skipped\":%zu,\"methods\":[", H, service, rows[0].nseries,
		    skipped);
	} else {
		printf("%s: %zu series (%zu too short), holdout %u, service %.3g\n\n",
		    input, rows[0].nseries, skipped, H, service);
		printf("| method | MASE | RMSSE | fill (units) at own stock | "
		    "stock / demand | fill @ budget 1.0x | cover | series/s |\n");
		printf("|---|---|---|---|---|---|---|---|\n");
	}
	for (unsigned m = 0; m < ROWS; m++) {
		const row_stats *r = &rows[m];
		const char *name = m == ROW_ZERO ? "zero" :
		    forecast_method_name((forecast_method)m);
		double mase = r->mase_n ? r->mase_sum / (double)r->mase_n : 0;
		double rmsse = r->rmsse_n ? r->rmsse_sum / (double)r->rmsse_n : 0;
		double fill = r->demand_sum > 0 ? r->fill_num / r->demand_sum : 0;
		double ratio = r->demand_sum > 0 ? r->stock_sum / r->demand_sum : 0;
		double cover = r->nseries ? (double)r->covered / (double)r->nseries : 0;
		double sps = r->seconds > 0 ? (double)r->nseries / r->seconds : 0;

		if (json) {
			printf("%s{\"method\":\"%s\",\"mase\":%.4f,\"rmsse\":%.4f,"
			    "\"fill\":%.4f,\"stock_ratio\":%.4f,\"fill_budget\":%.4f,"
			    "\"cover\":%.4f,\"series_per_s\":%.0f}", m ? "," : "",
			    name, mase, rmsse, fill, ratio, budget_fill(r), cover, sps);
		} else {
			printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |\n",
			    name, mase, rmsse, fill, ratio, budget_fill(r), cover, sps);
		}
	}
	if (json) {
		printf("],\"bench\":{\"series\":%u,\"periods\":%u,\"seconds\":%.4f}}\n",
		    BENCH_SERIES, BENCH_PERIODS, bsec);
	} else {
		printf("\nmodel speed: %u series x %u periods in %.4f s (%.0f series/s)\n",
		    BENCH_SERIES, BENCH_PERIODS, bsec,
		    bsec > 0 ? BENCH_SERIES / bsec : 0);
	}
	for (unsigned m = 0; m < ROWS; m++) {
		free(rows[m].stock);
		free(rows[m].demand);
	}
	forecast_csv_fini(&hist);
	return 0;
}
