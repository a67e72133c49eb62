/*
 * test_metrics.c - unit tests for common/core/metrics.c: histograms,
 * bounded label sets and the Prometheus text format they are written in.
 * Pure: no sockets, no files, no sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/metrics.h"

/* Goal: observations land in the first bucket whose bound holds them,
 * +Inf counts everything, the sum adds up, and the text shows cumulative
 * buckets (le is "less or equal"). */
static void test_hist_buckets(void **state)
{
	(void)state;
	static const double b[] = {1, 2, 5};
	metrics_hist h;
	metrics_hist_init(&h, b, 3);
	metrics_hist_observe(&h, 0.5);
	metrics_hist_observe(&h, 1);   /* on the bound: counts in le="1" */
	metrics_hist_observe(&h, 1.5);
	metrics_hist_observe(&h, 9);   /* beyond the last bound */
	metrics_hist_observe(&h, NAN); /* ignored */
	assert_int_equal(h.counts[0], 2);
	assert_int_equal(h.counts[1], 1);
	assert_int_equal(h.counts[2], 0);
	assert_int_equal(h.count, 4);
	assert_true(fabs(h.sum - 12.0) < 1e-9);
	char buf[1024];
	metrics_text t;
	metrics_text_init(&t, buf, sizeof(buf));
	const char *lab[] = {"op", "ingest", NULL};
	metrics_text_hist(&t, "x_seconds", lab, &h);
	assert_false(t.truncated);
	assert_string_equal(buf,
	    "x_seconds_bucket{op=\"ingest\",le=\"1\"} 2\n"
	    "x_seconds_bucket{op=\"ingest\",le=\"2\"} 3\n"
	    "x_seconds_bucket{op=\"ingest\",le=\"5\"} 3\n"
	    "x_seconds_bucket{op=\"ingest\",le=\"+Inf\"} 4\n"
	    "x_seconds_sum{op=\"ingest\"} 12\n"
	    "x_seconds_count{op=\"ingest\"} 4\n");
}

/* Goal: quantiles interpolate inside the bucket that holds the rank, are 0
 * for an empty histogram, and stop at the last bound. */
static void test_hist_quantile(void **state)
{
	(void)state;
	static const double b[] = {1, 2, 4};
	metrics_hist h;
	metrics_hist_init(&h, b, 3);
	assert_true(metrics_hist_quantile(&h, 0.5) == 0);
	for (int i = 0; i < 10; i++) {
		metrics_hist_observe(&h, 1.5); /* all in (1, 2] */
	}
	double p50 = metrics_hist_quantile(&h, 0.5);
	assert_true(p50 > 1.4 && p50 < 1.6);
	metrics_hist_observe(&h, 100);
	assert_true(metrics_hist_quantile(&h, 0.99) == 4);
	assert_true(metrics_hist_quantile(&h, 0) == 0); /* out of range */
}

/* Goal: a label set keeps the first METRICS_LABELS_MAX values apart and
 * sums the rest under "other" (a peer cannot grow the scrape); a long
 * value is cut, and a value literally named "other" joins "other". */
static void test_labels_bounded(void **state)
{
	(void)state;
	metrics_labels l;
	memset(&l, 0, sizeof(l));
	char name[32];
	for (int i = 0; i < METRICS_LABELS_MAX + 5; i++) {
		snprintf(name, sizeof(name), "shop%d", i);
		metrics_labels_add(&l, name, 1);
	}
	metrics_labels_add(&l, "shop0", 2);
	metrics_labels_add(&l, "other", 1);
	assert_int_equal(l.n, METRICS_LABELS_MAX);
	assert_int_equal(l.counts[0], 3);
	assert_int_equal(l.other, 6);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	metrics_labels l2;
	memset(&l2, 0, sizeof(l2));
	metrics_labels_add(&l2, longname, 1);
	metrics_labels_add(&l2, longname, 1);
	assert_int_equal(l2.n, 1);
	assert_int_equal(strlen(l2.names[0]), METRICS_LABEL_LEN);
	assert_int_equal(l2.counts[0], 2);
}

/* Goal: the text format - HELP/TYPE heads, label values escaped (\\, \",
 * \n), integers without a fraction, others with one, an "other" line only
 * when something was counted there. */
static void test_text_format(void **state)
{
	(void)state;
	char buf[2048];
	metrics_text t;
	metrics_text_init(&t, buf, sizeof(buf));
	metrics_text_head(&t, "dn_up", "gauge", "1 when up.");
	const char *lab[] = {"hub", "a\"b\\c\nd", NULL};
	metrics_text_sample(&t, "dn_up", lab, 1);
	metrics_text_sample(&t, "dn_ratio", NULL, 0.25);
	metrics_labels l;
	memset(&l, 0, sizeof(l));
	metrics_labels_add(&l, "shop", 7);
	metrics_text_labels(&t, "dn_orders_total", "Orders.", "storefront", &l);
	assert_false(t.truncated);
	assert_string_equal(buf,
	    "# HELP dn_up 1 when up.\n# TYPE dn_up gauge\n"
	    "dn_up{hub=\"a\\\"b\\\\c\\nd\"} 1\n"
	    "dn_ratio 0.25\n"
	    "# HELP dn_orders_total Orders.\n# TYPE dn_orders_total counter\n"
	    "dn_orders_total{storefront=\"shop\"} 7\n");
}

/* Goal: a full buffer never ends mid-line: the last partial line is cut
 * and truncated is set; later writes are dropped. */
static void test_text_truncated(void **state)
{
	(void)state;
	char buf[40];
	metrics_text t;
	metrics_text_init(&t, buf, sizeof(buf));
	metrics_text_sample(&t, "a_total", NULL, 1);      /* 10 bytes */
	metrics_text_sample(&t, "b_total", NULL, 2);      /* 20 */
	metrics_text_sample(&t, "c_long_name_total", NULL, 3); /* too long */
	metrics_text_sample(&t, "d", NULL, 4);
	assert_true(t.truncated);
	assert_string_equal(buf, "a_total 1\nb_total 2\n");
	assert_int_equal(t.len, strlen(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_hist_quantile),
		cmocka_unit_test(test_labels_bounded),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_text_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
