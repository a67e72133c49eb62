/*
 * forecast_csv.c - parser of the demand-history CSV (format in
 * forecast_csv.h). One pass over the buffer, line by line; every field is
 * checked and the first fault is reported with its line number.
 */
#include "core/forecast_csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/validate.h"

static const char header[] = "series_id,t,demand";

static int fail(int rv, size_t line, size_t *err_line, char *why,
    size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (err_line != NULL) {
		*err_line = line;
	}
	if (why != NULL && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return rv;
}

/* Parses a non-negative decimal integer of the whole field. Returns 0, or
 * -1 if it is not one, -2 if it has a minus sign, -3 if above max. */
static int parse_count(const char *s, size_t len, double max, double *out)
{
	double v = 0;

	if (len == 0) {
		return -1;
	}
	if (s[0] == '-') {
		/* "-0" is still written by a program that produced negatives. */
		for (size_t i = 1; i < len; i++) {
			if (s[i] < '0' || s[i] > '9') {
				return -1;
			}
		}
		return len > 1 ? -2 : -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return -1;
		}
		v = v * 10 + (s[i] - '0');
		if (v > max) {
			return -3;
		}
	}
	*out = v;
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap) {
		return 0;
	}
	size_t nc = *cap ? *cap * 2 : 1024;

	while (nc < need) {
		nc *= 2;
	}
	void *np = realloc(*p, nc * elem);

	if (np == NULL) {
		return DN_ENOMEM;
	}
	*p = np;
	*cap = nc;
	return 0;
}

static const forecast_csv_history *sort_ctx;

static int cmp_series_id(const void *a, const void *b)
{
	const forecast_csv_series *s = sort_ctx->series;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = strcmp(s[ia].id, s[ib].id);

	if (c != 0) {
		return c;
	}
	return ia < ib ? -1 : ia > ib;
}

/* A series' rows must be contiguous: an id seen twice is refused. */
static int check_unique(const forecast_csv_history *h, size_t *err_line,
    char *why, size_t why_len)
{
	size_t *idx = malloc(h->nseries * sizeof(*idx));
	int rv = 0;

	if (idx == NULL) {
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < h->nseries; i++) {
		idx[i] = i;
	}
	/* qsort has no context argument in C11; the parser is documented as
	 * not thread-safe per object, and this static is only read inside. */
	sort_ctx = h;
	qsort(idx, h->nseries, sizeof(*idx), cmp_series_id);
	sort_ctx = NULL;
	for (size_t i = 1; i < h->nseries; i++) {
		const forecast_csv_series *a = &h->series[idx[i - 1]];
		const forecast_csv_series *b = &h->series[idx[i]];

		if (strcmp(a->id, b->id) == 0) {
			rv = fail(DN_EINVAL, b->line, err_line, why, why_len,
			    "series '%s' appears again (first at line %zu): a "
			    "series' rows must be contiguous", b->id, a->line);
			break;
		}
	}
	free(idx);
	return rv;
}

static int parse_row(const char *p, size_t len, size_t line,
    forecast_csv_history *h, size_t *err_line, char *why, size_t why_len)
{
	const char *c1 = memchr(p, ',', len);
	const char *c2 = c1 ? memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - p)) : NULL;

	if (c2 == NULL) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "expected 3 fields series_id,t,demand");
	}
	if (memchr(c2 + 1, ',', len - (size_t)(c2 + 1 - p)) != NULL) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "more than 3 fields (a series_id may not contain a comma)");
	}
	size_t idlen = (size_t)(c1 - p);
	char id[DN_ID_MAX + 1];

	if (idlen == 0 || idlen > DN_ID_MAX) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "series_id must be 1..%u bytes", DN_ID_MAX);
	}
	memcpy(id, p, idlen);
	id[idlen] = '\0';
	if (!validate_id(id)) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "series_id '%s' has a space, quote or non-printable byte", id);
	}
	const char *ts = c1 + 1, *ds = c2 + 1;
	size_t tlen = (size_t)(c2 - ts), dlen = len - (size_t)(ds - p);
	double t = 0, d = 0;

	if (parse_count(ts, tlen, (double)FORECAST_PERIODS_MAX, &t) == -3) {
		return fail(DN_ERANGE, line, err_line, why, why_len,
		    "t beyond %u periods per series", FORECAST_PERIODS_MAX);
	}
	if (parse_count(ts, tlen, (double)FORECAST_PERIODS_MAX, &t) != 0 || t < 1) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "t '%.*s' is not a period number 1, 2, ...", (int)tlen, ts);
	}
	switch (parse_count(ds, dlen, FORECAST_DEMAND_MAX, &d)) {
	case 0:
		break;
	case -2:
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "negative demand '%.*s'", (int)dlen, ds);
	case -3:
		return fail(DN_ERANGE, line, err_line, why, why_len,
		    "demand above %.0f", FORECAST_DEMAND_MAX);
	default:
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "demand '%.*s' is not a non-negative integer", (int)dlen, ds);
	}
	forecast_csv_series *cur = h->nseries ? &h->series[h->nseries - 1] : NULL;
	int rv;

	if (cur == NULL || strcmp(cur->id, id) != 0) {
		if (t != 1) {
			return fail(DN_EINVAL, line, err_line, why, why_len,
			    "series '%s' starts at t=%.0f, expected t=1", id, t);
		}
		if (h->nseries >= FORECAST_CSV_SERIES_MAX) {
			return fail(DN_ERANGE, line, err_line, why, why_len,
			    "more than %u series", FORECAST_CSV_SERIES_MAX);
		}
		rv = grow((void **)&h->series, &h->series_cap, h->nseries + 1,
		    sizeof(*h->series));
		if (rv != 0) {
			return rv;
		}
		cur = &h->series[h->nseries++];
		memcpy(cur->id, id, idlen + 1);
		cur->start = h->ny;
		cur->n = 0;
		cur->line = line;
	} else if (t != (double)cur->n + 1) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "series '%s': t=%.0f after t=%zu (gap or disorder; expected "
		    "t=%zu)", id, t, cur->n, cur->n + 1);
	}
	if (h->ny >= FORECAST_CSV_ROWS_MAX) {
		return fail(DN_ERANGE, line, err_line, why, why_len,
		    "more than %u data rows", FORECAST_CSV_ROWS_MAX);
	}
	rv = grow((void **)&h->y, &h->y_cap, h->ny + 1, sizeof(*h->y));
	if (rv != 0) {
		return rv;
	}
	h->y[h->ny++] = d;
	cur->n++;
	return 0;
}

int forecast_csv_parse(const char *buf, size_t len, forecast_csv_history *out,
    size_t *err_line, char *why, size_t why_len)
{
	size_t line = 0, pos = 0;
	int rv;

	if (out == NULL) {
		return DN_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (err_line != NULL) {
		*err_line = 0;
	}
	if (why != NULL && why_len > 0) {
		why[0] = '\0';
	}
	if (buf == NULL || len == 0) {
		return fail(DN_EINVAL, 0, err_line, why, why_len, "empty file");
	}
	while (pos < len) {
		const char *p = buf + pos;
		const char *nl = memchr(p, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - p) : len - pos;

		line++;
		pos += l + (nl ? 1 : 0);
		if (l > FORECAST_CSV_LINE_MAX) {
			return fail(DN_ERANGE, line, err_line, why, why_len,
			    "line longer than %u bytes", FORECAST_CSV_LINE_MAX);
		}
		if (l > 0 && p[l - 1] == '\r') {
			l--;
		}
		if (memchr(p, '\0', l) != NULL) {
			return fail(DN_EINVAL, line, err_line, why, why_len,
			    "NUL byte (not a text file?)");
		}
		if (line == 1) {
			if (l != sizeof(header) - 1 || memcmp(p, header, l) != 0) {
				return fail(DN_EINVAL, 1, err_line, why, why_len,
				    "header must be '%s', got '%.*s'", header,
				    (int)(l > 80 ? 80 : l), p);
			}
			continue;
		}
		if (l == 0) {
			return fail(DN_EINVAL, line, err_line, why, why_len,
			    "blank line");
		}
		rv = parse_row(p, l, line, out, err_line, why, why_len);
		if (rv != 0) {
			return rv;
		}
	}
	if (out->nseries == 0) {
		return fail(DN_EINVAL, line, err_line, why, why_len,
		    "no data rows after the header");
	}
	return check_unique(out, err_line, why, why_len);
}

void forecast_csv_fini(forecast_csv_history *h)
{
	if (h == NULL) {
		return;
	}
	free(h->series);
	free(h->y);
	memset(h, 0, sizeof(*h));
}
