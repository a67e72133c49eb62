/*
 * forecast_cmd.c - `dropctl forecast`: reads a demand history CSV
 * (series_id,t,demand; format in common/core/forecast_csv.h), forecasts every
 * series and writes
 *
 *   series_id,h,mean,stock[,point,cluster,candidate]
 *
 * one row per series and h = 1..H: mean is the expected demand in period
 * n+h, stock (the same on every row of a series) the whole units to hold for
 * the H periods at the service level. Needs no network and no config.
 *
 * The default method is the planner's: the adaptive model
 * (common/core/forecast_panel.h) fitted on every series of the file as one
 * panel, as the coordinator fits it on the network's whole history; mean
 * is then the mean behind the stock (the planner's expected demand), and
 * --explain adds the RMSSE point forecast, the cluster and the candidate
 * that won. --method model|naive|... runs common/core/forecast.h instead.
 *
 * Exit codes: 0 ok; 1 bad input (message names the file and line) or an I/O
 * error; 2 usage error. The output is written to OUT.tmp and renamed, so a
 * failed run never leaves a half-written OUT.csv behind.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/forecast_csv.h"
#include "core/forecast_panel.h"
#include "dropctl.h"
#include "forecast_cmd.h"

/* Largest history file read: FORECAST_CSV_ROWS_MAX rows at ~20 bytes each
 * is 1 GB; the whole file is held in memory once while parsing. */
#define FORECAST_CMD_FILE_MAX ((size_t)1 << 30)

static void forecast_help(void)
{
	printf("usage: dropctl forecast --input HISTORY.csv --horizon H\n"
	       "                        [--service 0.9] [--method NAME] [--explain]\n"
	       "                        --output OUT.csv\n"
	       "\n"
	       "Forecasts intermittent demand per series from a CSV history, with\n"
	       "no running network.\n"
	       "\n"
	       "  --input FILE    header series_id,t,demand; t = 1..n oldest first,\n"
	       "                  a series' rows contiguous, demand a non-negative\n"
	       "                  integer; '-' reads stdin\n"
	       "  --horizon H     periods to forecast, 1..%u\n"
	       "  --service S     probability that stock covers the horizon's total\n"
	       "                  demand, %.1f..%.3f (default 0.9)\n"
	       "  --method NAME   adaptive (default: the rebalance planner's model,\n"
	       "                  fitted on all the file's series as one panel;\n"
	       "                  mean is the mean behind its stock), model (the\n"
	       "                  issue-5 model, series by series) or a baseline:\n"
	       "                  naive, mean, ses, croston, sba, tsb, adida\n"
	       "                  (baselines have no distribution: their stock is\n"
	       "                  the rounded-up mean)\n"
	       "  --explain       adaptive only: adds the columns point (its RMSSE\n"
	       "                  point forecast), cluster and candidate (of the\n"
	       "                  stock's mean), and prints what the fit learned\n"
	       "                  on stderr\n"
	       "  --output FILE   series_id,h,mean,stock; '-' writes stdout\n"
	       "\n"
	       "Exit 0 ok, 1 bad input (with file:line) or I/O error, 2 usage.\n",
	    FORECAST_HORIZON_MAX, FORECAST_SERVICE_MIN, FORECAST_SERVICE_MAX);
}

/* Reads the whole file (or stdin for "-") into a malloc'd buffer. Returns
 * 0, or 1 after printing why. */
static int forecast_read(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b;

	if (f == NULL) {
		fprintf(stderr, "dropctl: forecast: %s: %s\n", path, strerror(errno));
		return 1;
	}
	b = malloc(cap);
	for (;;) {
		if (b == NULL) {
			fprintf(stderr, "dropctl: forecast: %s: out of memory\n", path);
			break;
		}
		n += fread(b + n, 1, cap - n, f);
		if (n < cap) {
			break;
		}
		if (cap >= FORECAST_CMD_FILE_MAX) {
			fprintf(stderr, "dropctl: forecast: %s: larger than %zu bytes\n",
			    path, FORECAST_CMD_FILE_MAX);
			free(b);
			b = NULL;
			break;
		}
		char *nb = realloc(b, cap * 2);

		if (nb == NULL) {
			free(b);
		}
		b = nb;
		cap *= 2;
	}
	if (b != NULL && ferror(f)) {
		fprintf(stderr, "dropctl: forecast: %s: read error\n", path);
		free(b);
		b = NULL;
	}
	if (f != stdin) {
		fclose(f);
	}
	if (b == NULL) {
		return 1;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* What to run: a forecast.h method, or the adaptive panel model. */
typedef struct {
	forecast_params p;
	bool adaptive;
	bool explain;
	forecast_panel *panel; /* fitted by forecast_fit when adaptive */
} forecast_opts;

/* One series' rows. why is NULL for a forecast.h method. */
static int forecast_rows(FILE *out, const forecast_opts *o, const char *id,
    const double *mean, const forecast_result *res,
    const forecast_panel_why *why)
{
	char cl[64];

	for (unsigned k = 0; k < o->p.horizon; k++) {
		double m = why != NULL ? why->stock_mean / o->p.horizon : mean[k];
		int r = fprintf(out, "%s,%u,%.4f,%.0f", id, k + 1, m, res->stock);

		if (r >= 0 && why != NULL && o->explain) {
			r = fprintf(out, ",%.4f,%s,%s", mean[k],
			    forecast_panel_cluster_name(why->cluster, cl, sizeof(cl)),
			    forecast_panel_candidate_name(why->stock));
		}
		if (r < 0 || fputc('\n', out) == EOF) {
			return DN_EIO;
		}
	}
	return 0;
}

static int forecast_write(FILE *out, const forecast_csv_history *h,
    const forecast_opts *o)
{
	double mean[FORECAST_HORIZON_MAX];
	forecast_result res;
	forecast_panel_why why;

	if (fprintf(out, "series_id,h,mean,stock%s\n", o->adaptive &&
	    o->explain ? ",point,cluster,candidate" : "") < 0) {
		return DN_EIO;
	}
	for (size_t i = 0; i < h->nseries; i++) {
		const forecast_csv_series *s = &h->series[i];
		/* The parser guarantees what the models check, so a refusal
		 * here is a bug, not bad input. */
		int rv = o->adaptive ? forecast_panel_series(o->panel,
		    h->y + s->start, s->n, mean, &res, &why) :
		    forecast_series(&o->p, h->y + s->start, s->n, mean, &res);

		if (rv != 0) {
			fprintf(stderr, "dropctl: forecast: series '%s' (line %zu) "
			    "refused: %s\n", s->id, s->line, dn_strerror(rv));
			return rv;
		}
		rv = forecast_rows(out, o, s->id, mean, &res,
		    o->adaptive ? &why : NULL);
		if (rv != 0) {
			return rv;
		}
	}
	return 0;
}

/* Fits the adaptive model on every series of h (o->adaptive only).
 * Returns DROPCTL_EXIT_OK, or DROPCTL_EXIT_FAIL after printing why. */
static int forecast_fit(forecast_opts *o, const forecast_csv_history *h)
{
	if (!o->adaptive) {
		return DROPCTL_EXIT_OK;
	}
	forecast_span *sp = calloc(h->nseries ? h->nseries : 1, sizeof(*sp));

	o->panel = malloc(sizeof(*o->panel));
	if (sp == NULL || o->panel == NULL) {
		free(sp);
		fprintf(stderr, "dropctl: forecast: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < h->nseries; i++) {
		sp[i].y = h->y + h->series[i].start;
		sp[i].n = h->series[i].n;
	}
	int rv = forecast_panel_fit(o->panel, o->p.horizon, o->p.service, sp,
	    h->nseries);

	free(sp);
	if (rv != 0) {
		fprintf(stderr, "dropctl: forecast: adaptive fit refused: %s\n",
		    dn_strerror(rv));
		return DROPCTL_EXIT_FAIL;
	}
	if (o->explain) {
		fprintf(stderr, "dropctl: forecast: adaptive model fitted on %zu "
		    "series, %zu validation cases: %s\n", h->nseries,
		    o->panel->cases, o->panel->learned ? "learned (choices per "
		    "cluster, docs/forecast.md)" : "too few to learn from, "
		    "every series gets the issue-5 model");
	}
	return DROPCTL_EXIT_OK;
}

/* Parses the flags into *input, *output and *p (p->horizon set from
 * --horizon). Returns -1 to go on, else an exit code. */
static int forecast_args(int argc, char **argv, const char **input,
    const char **output, forecast_opts *o)
{
	forecast_params *p = &o->p;
	const char *v = NULL;
	int64_t horizon = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (dropctl_is_help(argv[i])) {
			forecast_help();
			return DROPCTL_EXIT_OK;
		}
		if ((r = dropctl_flag(argc, argv, &i, "--input", &v)) != 0) {
			if (r < 0) {
				return DROPCTL_EXIT_USAGE;
			}
			*input = v;
		} else if ((r = dropctl_flag(argc, argv, &i, "--output", &v)) != 0) {
			if (r < 0) {
				return DROPCTL_EXIT_USAGE;
			}
			*output = v;
		} else if ((r = dropctl_flag(argc, argv, &i, "--horizon", &v)) != 0) {
			if (r < 0 || dropctl_parse_i64(v, 1, FORECAST_HORIZON_MAX,
			    &horizon) != 0) {
				return dropctl_usage_error("forecast", "--horizon must "
				    "be an integer 1..%u", FORECAST_HORIZON_MAX);
			}
		} else if ((r = dropctl_flag(argc, argv, &i, "--service", &v)) != 0) {
			if (r < 0 || dropctl_parse_double(v, &p->service) != 0 ||
			    !(p->service >= FORECAST_SERVICE_MIN &&
			    p->service <= FORECAST_SERVICE_MAX)) {
				return dropctl_usage_error("forecast", "--service must "
				    "be a number %.1f..%.3f", FORECAST_SERVICE_MIN,
				    FORECAST_SERVICE_MAX);
			}
		} else if ((r = dropctl_flag(argc, argv, &i, "--method", &v)) != 0) {
			o->adaptive = r > 0 && strcmp(v, "adaptive") == 0;
			if (r < 0 || (!o->adaptive &&
			    forecast_method_parse(v, &p->method) != 0)) {
				return dropctl_usage_error("forecast", "unknown --method "
				    "'%s' (adaptive, model, naive, mean, ses, croston, "
				    "sba, tsb, adida)", r < 0 ? "" : v);
			}
		} else if (strcmp(argv[i], "--explain") == 0) {
			o->explain = true;
		} else {
			return dropctl_usage_error("forecast", "unknown argument '%s'",
			    argv[i]);
		}
	}
	if (*input == NULL || *output == NULL || horizon == 0) {
		return dropctl_usage_error("forecast", "--input, --horizon and "
		    "--output are required");
	}
	if (o->explain && !o->adaptive) {
		return dropctl_usage_error("forecast", "--explain needs --method "
		    "adaptive");
	}
	p->horizon = (unsigned)horizon;
	return -1;
}

/* Reads and parses the history at path into *h, which the caller releases
 * with forecast_csv_fini after DROPCTL_EXIT_OK. Returns DROPCTL_EXIT_OK, or
 * DROPCTL_EXIT_FAIL after printing why (nothing left to release). */
static int forecast_load(const char *path, forecast_csv_history *h)
{
	char *buf = NULL, why[256];
	size_t len = 0, line = 0;
	int r;

	if (forecast_read(path, &buf, &len) != 0) {
		return DROPCTL_EXIT_FAIL;
	}
	r = forecast_csv_parse(buf, len, h, &line, why, sizeof(why));
	free(buf);
	if (r == 0) {
		return DROPCTL_EXIT_OK;
	}
	if (r == DN_ENOMEM) {
		fprintf(stderr, "dropctl: forecast: %s: out of memory\n", path);
	} else if (line > 0) {
		fprintf(stderr, "dropctl: forecast: %s:%zu: %s\n", path, line, why);
	} else {
		fprintf(stderr, "dropctl: forecast: %s: %s\n", path, why);
	}
	forecast_csv_fini(h);
	return DROPCTL_EXIT_FAIL;
}

/* Writes the forecasts to OUT.tmp and renames it to OUT, so a failed run
 * never leaves a half-written OUT behind (the temp file is removed).
 * Returns DROPCTL_EXIT_OK, or DROPCTL_EXIT_FAIL after printing why. */
static int forecast_output_file(const char *output,
    const forecast_csv_history *h, const forecast_opts *o)
{
	size_t tlen = strlen(output) + sizeof(".tmp");
	char *tmp = malloc(tlen);
	FILE *out;
	int r;

	if (tmp == NULL) {
		fprintf(stderr, "dropctl: forecast: out of memory\n");
		return DROPCTL_EXIT_FAIL;
	}
	snprintf(tmp, tlen, "%s.tmp", output);
	out = fopen(tmp, "w");
	if (out == NULL) {
		fprintf(stderr, "dropctl: forecast: %s: %s\n", tmp,
		    strerror(errno));
		free(tmp);
		return DROPCTL_EXIT_FAIL;
	}
	r = forecast_write(out, h, o);
	if (fflush(out) != 0 && r == 0) {
		r = DN_EIO;
	}
	if (fclose(out) != 0 && r == 0) {
		r = DN_EIO;
	}
	if (r == 0 && rename(tmp, output) != 0) {
		fprintf(stderr, "dropctl: forecast: %s: %s\n", output,
		    strerror(errno));
		r = DN_EIO;
	} else if (r == DN_EIO) {
		fprintf(stderr, "dropctl: forecast: %s: write error\n", tmp);
	}
	if (r != 0) {
		remove(tmp);
	}
	free(tmp);
	return r == 0 ? DROPCTL_EXIT_OK : DROPCTL_EXIT_FAIL;
}

/* Writes the forecasts to output, "-" meaning stdout. A write error on
 * stdout shows in the exit code only. Returns DROPCTL_EXIT_OK or
 * DROPCTL_EXIT_FAIL. */
static int forecast_output(const char *output, const forecast_csv_history *h,
    const forecast_opts *o)
{
	if (strcmp(output, "-") != 0) {
		return forecast_output_file(output, h, o);
	}
	int r = forecast_write(stdout, h, o);
	if (fflush(stdout) != 0 && r == 0) {
		r = DN_EIO;
	}
	return r == 0 ? DROPCTL_EXIT_OK : DROPCTL_EXIT_FAIL;
}

int dropctl_forecast(int argc, char **argv)
{
	const char *input = NULL, *output = NULL;
	forecast_opts o = { { FORECAST_MODEL, 0, 0.9 }, true, false, NULL };
	forecast_csv_history h;
	int ex;

	if ((ex = forecast_args(argc, argv, &input, &output, &o)) >= 0) {
		return ex;
	}
	if ((ex = forecast_load(input, &h)) != DROPCTL_EXIT_OK) {
		return ex;
	}
	ex = forecast_fit(&o, &h);
	if (ex == DROPCTL_EXIT_OK) {
		ex = forecast_output(output, &h, &o);
	}
	free(o.panel);
	forecast_csv_fini(&h);
	return ex;
}
