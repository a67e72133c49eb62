/*
 * metrics.c - counters, histograms and the Prometheus text format
 * (metrics.h). Pure: the caller's buffer, no clock, no allocation.
 */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/metrics.h"

const double metrics_latency_bounds[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};
const size_t metrics_latency_nbounds =
    sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);
const double metrics_batch_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256,
};
const size_t metrics_batch_nbounds =
    sizeof(metrics_batch_bounds) / sizeof(metrics_batch_bounds[0]);

void metrics_hist_init(metrics_hist *h, const double *bounds, size_t nbounds)
{
	assert(nbounds >= 1 && nbounds <= METRICS_BUCKETS_MAX);
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds;
	for (size_t i = 1; i < nbounds; i++) {
		assert(bounds[i - 1] < bounds[i]);
	}
}

void metrics_hist_observe(metrics_hist *h, double v)
{
	if (isnan(v)) {
		return;
	}
	for (size_t i = 0; i < h->nbounds; i++) {
		if (v <= h->bounds[i]) {
			h->counts[i]++;
			break;
		}
	}
	h->count++;
	h->sum += v;
}

double metrics_hist_quantile(const metrics_hist *h, double q)
{
	if (h->count == 0 || !(q > 0 && q < 1)) {
		return 0;
	}
	double rank = q * (double)h->count;
	uint64_t below = 0;
	for (size_t i = 0; i < h->nbounds; i++) {
		uint64_t c = h->counts[i];
		if ((double)(below + c) >= rank && c > 0) {
			double lo = i == 0 ? 0 : h->bounds[i - 1];
			return lo + (h->bounds[i] - lo) * (rank - (double)below) / (double)c;
		}
		below += c;
	}
	return h->bounds[h->nbounds - 1];
}

void metrics_labels_add(metrics_labels *l, const char *name, uint64_t v)
{
	size_t len = strnlen(name, METRICS_LABEL_LEN);
	for (size_t i = 0; i < l->n; i++) {
		if (strncmp(l->names[i], name, len) == 0 && l->names[i][len] == '\0') {
			l->counts[i] += v;
			return;
		}
	}
	if (l->n < METRICS_LABELS_MAX && strcmp(name, "other") != 0) {
		memcpy(l->names[l->n], name, len);
		l->names[l->n][len] = '\0';
		l->counts[l->n++] = v;
		return;
	}
	l->other += v;
}

void metrics_text_init(metrics_text *t, char *buf, size_t cap)
{
	assert(cap > 0);
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->truncated = false;
	buf[0] = '\0';
}

static void text_put(metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_put(metrics_text *t, const char *fmt, ...)
{
	if (t->truncated) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		/* Cut back to the last whole line: a scrape never ends mid-line. */
		t->truncated = true;
		while (t->len > 0 && t->buf[t->len - 1] != '\n') {
			t->len--;
		}
		t->buf[t->len] = '\0';
		return;
	}
	t->len += (size_t)n;
}

/* A label value with \, " and newline escaped (the format's rule). */
static void text_escaped(metrics_text *t, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			text_put(t, "\\%c", *s);
		} else if (*s == '\n') {
			text_put(t, "\\n");
		} else {
			text_put(t, "%c", *s);
		}
	}
}

void metrics_text_head(metrics_text *t, const char *name, const char *type,
    const char *help)
{
	text_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void text_value(metrics_text *t, double v)
{
	if (isinf(v)) {
		text_put(t, " %s\n", v > 0 ? "+Inf" : "-Inf");
	} else if (isnan(v)) {
		text_put(t, " NaN\n");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		text_put(t, " %.0f\n", v);
	} else {
		text_put(t, " %.9g\n", v);
	}
}

/* name{k="v",...[,le="x"]} without the value. */
static void text_series(metrics_text *t, const char *name, const char *suffix,
    const char *const *labels, const char *le)
{
	text_put(t, "%s%s", name, suffix);
	bool any = false;
	for (size_t i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
		text_put(t, "%s%s=\"", any ? "," : "{", labels[i]);
		text_escaped(t, labels[i + 1]);
		text_put(t, "\"");
		any = true;
	}
	if (le != NULL) {
		text_put(t, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any) {
		text_put(t, "}");
	}
}

void metrics_text_sample(metrics_text *t, const char *name,
    const char *const *labels, double v)
{
	text_series(t, name, "", labels, NULL);
	text_value(t, v);
}

void metrics_text_labels(metrics_text *t, const char *name, const char *help,
    const char *label, const metrics_labels *l)
{
	metrics_text_head(t, name, "counter", help);
	for (size_t i = 0; i < l->n; i++) {
		const char *lab[] = {label, l->names[i], NULL};
		metrics_text_sample(t, name, lab, (double)l->counts[i]);
	}
	if (l->other > 0) {
		const char *lab[] = {label, "other", NULL};
		metrics_text_sample(t, name, lab, (double)l->other);
	}
}

void metrics_text_hist(metrics_text *t, const char *name,
    const char *const *labels, const metrics_hist *h)
{
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i < h->nbounds; i++) {
		cum += h->counts[i];
		snprintf(le, sizeof(le), "%.9g", h->bounds[i]);
		text_series(t, name, "_bucket", labels, le);
		text_value(t, (double)cum);
	}
	text_series(t, name, "_bucket", labels, "+Inf");
	text_value(t, (double)h->count);
	text_series(t, name, "_sum", labels, NULL);
	text_value(t, h->sum);
	text_series(t, name, "_count", labels, NULL);
	text_value(t, (double)h->count);
}
