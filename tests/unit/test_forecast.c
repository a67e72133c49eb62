/*
 * test_forecast.c - unit tests for common/core/forecast.c (every method
 * against values worked by hand, the stock quantile at its boundaries, the
 * argument checks) and common/core/forecast_csv.c (valid histories and each
 * kind of bad input reported with its line number).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/forecast_csv.h"

#define EPS 1e-9

/* The hand-worked series: demand in periods 2 and 5. */
static const double y5[] = { 0, 3, 0, 0, 2 };

/* Goal: naive is the last value, mean the mean, SES (alpha 0.1, started at
 * the first value) the smoothed level:
 *   l = 0 -> 0.3 -> 0.27 -> 0.243 -> 0.243 + 0.1 (2 - 0.243) = 0.4187. */
static void test_forecast_naive_mean_ses(void **state)
{
	(void)state;
	assert_true(fabs(forecast_point(FORECAST_NAIVE, y5, 5, 3) - 2) < EPS);
	assert_true(fabs(forecast_point(FORECAST_MEAN, y5, 5, 3) - 1) < EPS);
	assert_true(fabs(forecast_point(FORECAST_SES, y5, 5, 3) - 0.4187) < EPS);
}

/* Goal: Croston and SBA, alpha 0.1, by hand (R's forecast::croston rules):
 *   first demand 3 in period 2: z = 3, p = 2 (interval from the start);
 *   next demand 2 in period 5, interval 3:
 *     z = 3 + 0.1 (2 - 3) = 2.9, p = 2 + 0.1 (3 - 2) = 2.1;
 *   Croston = 2.9 / 2.1 = 1.3809524; SBA = 0.95 x that = 1.3119048. */
static void test_forecast_croston_sba(void **state)
{
	(void)state;
	assert_true(fabs(forecast_point(FORECAST_CROSTON, y5, 5, 3) -
	    2.9 / 2.1) < EPS);
	assert_true(fabs(forecast_point(FORECAST_SBA, y5, 5, 3) -
	    0.95 * 2.9 / 2.1) < EPS);
}

/* Goal: TSB, alpha = beta = 0.1, started at the history's means
 * (p = 2/5 = 0.4, z = 5/2 = 2.5):
 *   0: p = 0.36
 *   3: p = 0.36 + 0.1 x 0.64 = 0.424, z = 2.5 + 0.1 x 0.5 = 2.55
 *   0: p = 0.3816;  0: p = 0.34344
 *   2: p = 0.34344 + 0.1 x 0.65656 = 0.409096, z = 2.55 - 0.055 = 2.495
 *   TSB = 0.409096 x 2.495 = 1.02069452. */
static void test_forecast_tsb(void **state)
{
	(void)state;
	assert_true(fabs(forecast_point(FORECAST_TSB, y5, 5, 3) - 1.02069452) <
	    1e-8);
}

/* Goal: ADIDA: 2 demands in 5 periods, mean interval 2.5 -> buckets of 3
 * counted back from the newest period: one bucket y[2..4] = 2, so SES on
 * it is 2 and the per-period forecast 2/3. */
static void test_forecast_adida(void **state)
{
	(void)state;
	assert_true(fabs(forecast_point(FORECAST_ADIDA, y5, 5, 3) - 2.0 / 3) <
	    EPS);
}

/* Goal: the model's rate by hand: nz = 2, mean size 2.5, mean 1,
 * SBA 1.3119048; rate = (1 + 1.3119048) / 2 = 1.1559524; shrunk by
 * nz / (nz + 2) = 0.5 -> 0.5779762 per period, flat over the horizon. */
static void test_forecast_model_mean(void **state)
{
	(void)state;
	forecast_params p = { FORECAST_MODEL, 3, 0.9 };
	double mean[3];
	forecast_result r;
	double want = 0.5 * (1 + 0.95 * 2.9 / 2.1) / 2;

	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), 0);
	for (int h = 0; h < 3; h++) {
		assert_true(fabs(mean[h] - want) < EPS);
	}
	assert_true(fabs(r.mean_total - 3 * want) < EPS);
	assert_true(r.stock >= 1 && r.stock == floor(r.stock));
}

/* Goal: the model's stock by hand on 1,1,1,1 (sizes always 1, so the total
 * is the number of demands K): rate = (1 + 0.95) / 2 = 0.975, p = 4/6 x
 * 0.975 = 0.65, Beta weight 4 -> a = 2.6, b = 1.4. For H = 2, K is
 * beta-binomial: P(0) = 1.4 x 2.4 / (4 x 5) = 0.168, P(1) = 2 x 2.6 x 1.4 /
 * 20 = 0.364, P(2) = 0.468; CDF 0.168, 0.532, 1. So stock is 1 at service
 * 0.5 and 2 at 0.6 and 0.9. */
static void test_forecast_model_stock_by_hand(void **state)
{
	(void)state;
	const double y[] = { 1, 1, 1, 1 };
	forecast_params p = { FORECAST_MODEL, 2, 0.5 };
	double mean[2];
	forecast_result r;

	assert_int_equal(forecast_series(&p, y, 4, mean, &r), 0);
	assert_true(fabs(mean[0] - 0.65) < EPS);
	assert_true(r.stock == 1);
	p.service = 0.6;
	assert_int_equal(forecast_series(&p, y, 4, mean, &r), 0);
	assert_true(r.stock == 2);
	p.service = 0.9;
	assert_int_equal(forecast_series(&p, y, 4, mean, &r), 0);
	assert_true(r.stock == 2);
}

/* Goal: an all-zero history gives mean 0 and stock 0 for every method. */
static void test_forecast_all_zero(void **state)
{
	(void)state;
	const double y[12] = { 0 };
	double mean[6];
	forecast_result r;

	for (unsigned m = 0; m < FORECAST_METHOD_COUNT; m++) {
		forecast_params p = { (forecast_method)m, 6, 0.99 };

		assert_int_equal(forecast_series(&p, y, 12, mean, &r), 0);
		assert_true(r.mean_total == 0);
		assert_true(r.stock == 0);
		assert_false(signbit(r.stock)); /* never printed as "-0" */
		assert_int_equal(r.cls, FORECAST_CLASS_NONE);
	}
}

/* Goal: a constant history: every smoothing baseline forecasts the
 * constant; the model's stock covers at least its own mean at 0.9 and
 * grows (weakly) with the service level: 0.5 <= 0.9 <= 0.99. */
static void test_forecast_constant_and_monotone(void **state)
{
	(void)state;
	double y[24];
	double mean[6];
	forecast_result r;

	for (int i = 0; i < 24; i++) {
		y[i] = 5;
	}
	for (unsigned m = FORECAST_NAIVE; m <= FORECAST_ADIDA; m++) {
		if (m == FORECAST_SBA) {
			continue; /* SBA deflates by design */
		}
		assert_true(fabs(forecast_point((forecast_method)m, y, 24, 6) - 5) <
		    EPS);
	}
	assert_int_equal(forecast_class_of(y, 24, NULL, NULL),
	    FORECAST_CLASS_SMOOTH);
	double prev = -1;
	const double levels[] = { 0.5, 0.7, 0.9, 0.95, 0.99, 0.999 };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		forecast_params p = { FORECAST_MODEL, 6, levels[i] };

		assert_int_equal(forecast_series(&p, y, 24, mean, &r), 0);
		assert_true(r.stock >= prev);
		if (levels[i] >= 0.9) {
			assert_true(r.stock >= r.mean_total);
		}
		prev = r.stock;
	}
	/* And a lumpy series' stock is strictly larger at 0.99 than 0.5. */
	forecast_params lo = { FORECAST_MODEL, 6, 0.5 }, hi = lo;
	double s_lo, s_hi;

	hi.service = 0.99;
	assert_int_equal(forecast_series(&lo, y5, 5, mean, &r), 0);
	s_lo = r.stock;
	assert_int_equal(forecast_series(&hi, y5, 5, mean, &r), 0);
	s_hi = r.stock;
	assert_true(s_hi > s_lo);
}

/* Goal: the NB/Poisson quantile against exact values:
 *   Poisson(2): CDF 0.135, 0.406, 0.677, 0.857, 0.947 -> 0.9 gives 4;
 *   NB mean 2 var 6 is geometric with success 1/3: CDF(k) = 1 - (2/3)^(k+1)
 *   >= 0.9 first at k = 5; mean 0 gives 0; a huge mean is near its mean at
 *   0.5 (normal branch). */
static void test_forecast_nbinom_quantile(void **state)
{
	(void)state;
	assert_true(forecast_nbinom_quantile(2, 2, 0.9) == 4);
	assert_true(forecast_nbinom_quantile(2, 1, 0.9) == 4); /* var < mean */
	assert_true(forecast_nbinom_quantile(2, 6, 0.9) == 5);
	assert_true(forecast_nbinom_quantile(1, 1, 0.5) == 1);
	assert_true(forecast_nbinom_quantile(0, 0, 0.9) == 0);
	double q = forecast_nbinom_quantile(10000, 10000, 0.5);

	assert_true(q >= 9995 && q <= 10005);
	assert_true(forecast_nbinom_quantile(10000, 10000, 0.99) > 10200);
}

/* Goal: bad arguments are refused with DN_EINVAL and nothing else. */
static void test_forecast_bad_args(void **state)
{
	(void)state;
	double mean[FORECAST_HORIZON_MAX];
	forecast_result r;
	forecast_params p = { FORECAST_MODEL, 6, 0.9 };
	const double neg[] = { 1, -1 };
	const double nan_y[] = { 1, NAN };

	assert_int_equal(forecast_series(&p, y5, 0, mean, &r), DN_EINVAL);
	assert_int_equal(forecast_series(&p, neg, 2, mean, &r), DN_EINVAL);
	assert_int_equal(forecast_series(&p, nan_y, 2, mean, &r), DN_EINVAL);
	assert_int_equal(forecast_series(NULL, y5, 5, mean, &r), DN_EINVAL);
	p.horizon = 0;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), DN_EINVAL);
	p.horizon = FORECAST_HORIZON_MAX + 1;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), DN_EINVAL);
	p.horizon = FORECAST_HORIZON_MAX;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), 0);
	p.service = 0.3;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), DN_EINVAL);
	p.service = 1.0;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), DN_EINVAL);
	p.service = 0.9;
	p.method = FORECAST_METHOD_COUNT;
	assert_int_equal(forecast_series(&p, y5, 5, mean, &r), DN_EINVAL);
}

/* Goal: names round-trip and unknown names are refused. */
static void test_forecast_method_names(void **state)
{
	(void)state;
	forecast_method m;

	for (unsigned i = 0; i < FORECAST_METHOD_COUNT; i++) {
		assert_int_equal(forecast_method_parse(
		    forecast_method_name((forecast_method)i), &m), 0);
		assert_int_equal(m, i);
	}
	assert_int_equal(forecast_method_parse("ets", &m), DN_EINVAL);
	assert_string_equal(forecast_method_name(FORECAST_METHOD_COUNT), "?");
}

/* Goal: ADI / CV^2 classes at the Syntetos-Boylan-Croston cut-offs. */
static void test_forecast_classes(void **state)
{
	(void)state;
	const double erratic[] = { 1, 10, 1, 10 };
	const double intermittent[] = { 0, 3, 0, 3, 0, 3 };
	double adi, cv2;

	assert_int_equal(forecast_class_of(erratic, 4, &adi, &cv2),
	    FORECAST_CLASS_ERRATIC);
	assert_int_equal(forecast_class_of(intermittent, 6, &adi, &cv2),
	    FORECAST_CLASS_INTERMITTENT);
	assert_true(fabs(adi - 2) < EPS && cv2 == 0);
	assert_int_equal(forecast_class_of(y5, 5, &adi, &cv2),
	    FORECAST_CLASS_INTERMITTENT); /* sizes 3, 2: CV^2 = 0.04 */
	const double lumpy[] = { 0, 1, 0, 0, 20, 0 };

	assert_int_equal(forecast_class_of(lumpy, 6, NULL, NULL),
	    FORECAST_CLASS_LUMPY);
}

/* ---- CSV ---- */

static int parse(const char *text, forecast_csv_history *h, size_t *line,
    char *why)
{
	return forecast_csv_parse(text, strlen(text), h, line, why, 200);
}

/* Goal: a valid history with CRLF endings and no final newline parses into
 * its series, in order, with their periods. */
static void test_forecast_csv_valid(void **state)
{
	(void)state;
	forecast_csv_history h;
	size_t line;
	char why[200];
	const char *text = "series_id,t,demand\r\nA,1,0\r\nA,2,3\r\nB-2,1,7";

	assert_int_equal(parse(text, &h, &line, why), 0);
	assert_int_equal(h.nseries, 2);
	assert_string_equal(h.series[0].id, "A");
	assert_int_equal(h.series[0].n, 2);
	assert_string_equal(h.series[1].id, "B-2");
	assert_int_equal(h.series[1].n, 1);
	assert_int_equal(h.series[1].line, 4);
	assert_true(h.y[h.series[0].start + 1] == 3);
	assert_true(h.y[h.series[1].start] == 7);
	forecast_csv_fini(&h);
	forecast_csv_fini(NULL);
}

/* Each bad input and the line it must be reported on. */
static void expect_error(const char *text, int rv, size_t want_line,
    const char *want_in_why)
{
	forecast_csv_history h;
	size_t line = 99;
	char why[200];

	assert_int_equal(parse(text, &h, &line, why), rv);
	assert_int_equal(line, want_line);
	if (strstr(why, want_in_why) == NULL) {
		fail_msg("message '%s' lacks '%s'", why, want_in_why);
	}
	forecast_csv_fini(&h);
}

/* Goal: every kind of bad input is refused with the right line number and
 * a message that says what is wrong. */
static void test_forecast_csv_errors(void **state)
{
	(void)state;
	forecast_csv_history h;
	size_t line = 99;
	char why[200];

	assert_int_equal(forecast_csv_parse("", 0, &h, &line, why, 200),
	    DN_EINVAL);
	assert_int_equal(line, 0);
	assert_non_null(strstr(why, "empty"));
	forecast_csv_fini(&h);

	expect_error("series,t,demand\nA,1,0\n", DN_EINVAL, 1, "header");
	expect_error("series_id,t\nA,1\n", DN_EINVAL, 1, "header");
	expect_error("series_id,t,demand\n", DN_EINVAL, 1, "no data");
	expect_error("series_id,t,demand\nA,1,0\nA,2,-4\n", DN_EINVAL, 3,
	    "negative");
	expect_error("series_id,t,demand\nA,1,0\nA,2,1.5\n", DN_EINVAL, 3,
	    "not a non-negative integer");
	expect_error("series_id,t,demand\nA,1,abc\n", DN_EINVAL, 2,
	    "not a non-negative integer");
	expect_error("series_id,t,demand\nA,1,\n", DN_EINVAL, 2,
	    "not a non-negative integer");
	expect_error("series_id,t,demand\nA,1,0\nA,3,0\n", DN_EINVAL, 3, "gap");
	expect_error("series_id,t,demand\nA,1,0\nA,2,0\nA,2,0\n", DN_EINVAL, 4,
	    "gap or disorder");
	expect_error("series_id,t,demand\nA,2,0\n", DN_EINVAL, 2, "t=1");
	expect_error("series_id,t,demand\nA,x,0\n", DN_EINVAL, 2, "period");
	expect_error("series_id,t,demand\nA,1,0\nB,1,0\nA,1,0\n", DN_EINVAL, 4,
	    "contiguous");
	expect_error("series_id,t,demand\n\"A\",1,0\n", DN_EINVAL, 2, "quote");
	expect_error("series_id,t,demand\nA,B,1,0\n", DN_EINVAL, 2, "comma");
	expect_error("series_id,t,demand\nA,1\n", DN_EINVAL, 2, "3 fields");
	expect_error("series_id,t,demand\nA,1,0\n\nA,2,0\n", DN_EINVAL, 3,
	    "blank");
	expect_error("series_id,t,demand\n,1,0\n", DN_EINVAL, 2, "series_id");
	expect_error("series_id,t,demand\nA,1,99999999999\n", DN_ERANGE, 2,
	    "demand above");

	char longline[FORECAST_CSV_LINE_MAX + 64];

	strcpy(longline, "series_id,t,demand\nA,1,");
	size_t l = strlen(longline);

	memset(longline + l, '1', FORECAST_CSV_LINE_MAX);
	longline[l + FORECAST_CSV_LINE_MAX] = '\0';
	expect_error(longline, DN_ERANGE, 2, "longer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forecast_naive_mean_ses),
		cmocka_unit_test(test_forecast_croston_sba),
		cmocka_unit_test(test_forecast_tsb),
		cmocka_unit_test(test_forecast_adida),
		cmocka_unit_test(test_forecast_model_mean),
		cmocka_unit_test(test_forecast_model_stock_by_hand),
		cmocka_unit_test(test_forecast_all_zero),
		cmocka_unit_test(test_forecast_constant_and_monotone),
		cmocka_unit_test(test_forecast_nbinom_quantile),
		cmocka_unit_test(test_forecast_bad_args),
		cmocka_unit_test(test_forecast_method_names),
		cmocka_unit_test(test_forecast_classes),
		cmocka_unit_test(test_forecast_csv_valid),
		cmocka_unit_test(test_forecast_csv_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
