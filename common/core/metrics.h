/*
 * metrics.h - counters, gauges and fixed-bucket histograms, written out in
 * the Prometheus text exposition format (version 0.0.4), into a bounded
 * buffer.
 *
 * Pure: no clock, no I/O, no allocation. The owner of a metric (the
 * coordinator machine, a daemon's shell) increments it on its own thread;
 * the shell renders a text snapshot (metrics_text) on that same thread and
 * hands a copy to the HTTP server (io/metrics_http.h), whose threads never
 * read a live metric.
 *
 * Label sets are bounded: a metrics_labels holds at most METRICS_LABELS_MAX
 * distinct values seen first; any later value is counted under "other", so
 * a peer cannot grow a scrape by inventing names.
 */
#ifndef DN_METRICS_H
#define DN_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Buckets of one histogram (without +Inf): enough for a latency range of
 * 50 us .. 10 s in roughly x2.5 steps. */
#define METRICS_BUCKETS_MAX 16
/* Distinct label values one bounded label keeps before "other": the top
 * storefronts of a network fit; a scrape stays a few kB. */
#define METRICS_LABELS_MAX 16
/* Longest label value kept (longer ones are cut). */
#define METRICS_LABEL_LEN 64

/* A cumulative histogram over fixed upper bounds (ascending, in the
 * metric's base unit). counts[i] counts observations <= bounds[i];
 * observations above the last bound only reach count. */
typedef struct {
	const double *bounds;
	size_t nbounds;
	uint64_t counts[METRICS_BUCKETS_MAX];
	uint64_t count;
	double sum;
} metrics_hist;

/* bounds must outlive h, be ascending and hold 1..METRICS_BUCKETS_MAX. */
void metrics_hist_init(metrics_hist *h, const double *bounds, size_t nbounds);
void metrics_hist_observe(metrics_hist *h, double v);
/* The q-quantile (0 < q < 1) by the bucket bounds, linear inside a bucket
 * as Prometheus's histogram_quantile does; 0 when empty; the last bound
 * when it falls beyond it. */
double metrics_hist_quantile(const metrics_hist *h, double q);

/* Shared bucket sets: latencies in seconds, batch sizes in requests. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_nbounds;
extern const double metrics_batch_bounds[];
extern const size_t metrics_batch_nbounds;

/* A counter per label value, the first METRICS_LABELS_MAX values kept
 * apart and the rest summed under "other". */
typedef struct {
	char names[METRICS_LABELS_MAX][METRICS_LABEL_LEN + 1];
	uint64_t counts[METRICS_LABELS_MAX];
	size_t n;
	uint64_t other;
} metrics_labels;

/* Adds v to the counter of label value name (cut to METRICS_LABEL_LEN). */
void metrics_labels_add(metrics_labels *l, const char *name, uint64_t v);

/* A text exposition being written. The buffer is the caller's; once it is
 * full further writes are dropped and `truncated` is set (the caller sizes
 * it so that never happens, and counts it when it does). */
typedef struct {
	char *buf;
	size_t cap, len;
	bool truncated;
} metrics_text;

void metrics_text_init(metrics_text *t, char *buf, size_t cap);
/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void metrics_text_head(metrics_text *t, const char *name, const char *type,
    const char *help);
/* One sample: name{labels} value. labels is NULL or a list of
 * key/value pairs ("status", "ACCEPTED", ..., NULL); values are escaped. */
void metrics_text_sample(metrics_text *t, const char *name,
    const char *const *labels, double v);
/* A whole counter with one label: head, one sample per value, "other"
 * when anything was counted there. */
void metrics_text_labels(metrics_text *t, const char *name, const char *help,
    const char *label, const metrics_labels *l);
/* A histogram's _bucket (le, +Inf), _sum and _count samples; labels as
 * metrics_text_sample (without le). No head: call metrics_text_head. */
void metrics_text_hist(metrics_text *t, const char *name,
    const char *const *labels, const metrics_hist *h);

#endif
