/*
 * test_sample.c - unit tests for common/core/sample.c: the seeded PRNG,
 * city sampling, scatter and percentiles that loadgen's results rest on.
 * Pure: no sockets, no files, no sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/sample.h"

/* Goal: the same seed replays the same sequence, and different seeds or
 * streams do not (determinism is what makes a loadgen run repeatable). */
static void test_rng_deterministic(void **state)
{
	(void)state;
	sample_rng a, b, c;
	sample_rng_seed(&a, 42);
	sample_rng_seed(&b, 42);
	sample_rng_seed(&c, 43);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = sample_rng_next(&a);
		assert_int_equal(x, sample_rng_next(&b));
		differ += x != sample_rng_next(&c);
	}
	assert_true(differ > 990);

	sample_rng s1, s2, s3;
	sample_rng_seed_stream(&s1, 1, 2);
	sample_rng_seed_stream(&s2, 2, 1);
	sample_rng_seed_stream(&s3, 1, 2);
	uint64_t x1 = sample_rng_next(&s1);
	assert_int_not_equal(x1, sample_rng_next(&s2));
	assert_int_equal(x1, sample_rng_next(&s3));
}

/* Goal: seed 0 is a valid seed (splitmix64 never gives an all-zero state,
 * which would make xoshiro return zeros forever). */
static void test_rng_seed_zero(void **state)
{
	(void)state;
	sample_rng r;
	sample_rng_seed(&r, 0);
	uint64_t or_all = 0;
	for (int i = 0; i < 8; i++) {
		or_all |= sample_rng_next(&r);
	}
	assert_true(or_all != 0);
}

/* Goal: unit() stays in [0, 1) with a mean near 1/2; below() stays in
 * range, handles n = 0 and 1, and is roughly uniform. */
static void test_rng_ranges(void **state)
{
	(void)state;
	sample_rng r;
	sample_rng_seed(&r, 7);
	double sum = 0.0;
	for (int i = 0; i < 100000; i++) {
		double u = sample_rng_unit(&r);
		assert_true(u >= 0.0 && u < 1.0);
		sum += u;
	}
	assert_true(fabs(sum / 100000.0 - 0.5) < 0.01);

	assert_int_equal(sample_rng_below(&r, 0), 0);
	assert_int_equal(sample_rng_below(&r, 1), 0);
	unsigned counts[6] = { 0 };
	for (int i = 0; i < 60000; i++) {
		uint64_t x = sample_rng_below(&r, 6);
		assert_true(x < 6);
		counts[x]++;
	}
	for (int i = 0; i < 6; i++) {
		assert_true(counts[i] > 9000 && counts[i] < 11000);
	}
	/* A bound near 2^64 exercises the rejection path. */
	uint64_t big = UINT64_MAX - 5;
	for (int i = 0; i < 100; i++) {
		assert_true(sample_rng_below(&r, big) < big);
	}
}

/* Goal: Box-Muller gives finite values with mean ~0 and sd ~1. */
static void test_gauss_moments(void **state)
{
	(void)state;
	sample_rng r;
	sample_rng_seed(&r, 99);
	double sum = 0.0, sq = 0.0;
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		double g = sample_gauss(&r);
		assert_true(isfinite(g));
		sum += g;
		sq += g * g;
	}
	double mean = sum / n;
	double sd = sqrt(sq / n - mean * mean);
	assert_true(fabs(mean) < 0.02);
	assert_true(fabs(sd - 1.0) < 0.02);
}

/* Goal: the city table holds the required centres with valid coordinates,
 * and picking follows population (London, the biggest, wins most often;
 * a zero-population city is never picked). */
static void test_city_pick(void **state)
{
	(void)state;
	size_t n = 0;
	const sample_city *c = sample_uk_cities(&n);
	assert_true(n >= 16);
	const char *need[] = { "london", "birmingham", "manchester", "leeds",
		"glasgow", "edinburgh", "bristol", "liverpool", "sheffield",
		"newcastle", "cardiff", "nottingham", "southampton", "norwich",
		"plymouth", "aberdeen" };
	for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
		int found = 0;
		for (size_t i = 0; i < n; i++) {
			found |= strcmp(c[i].name, need[k]) == 0;
		}
		assert_true(found);
	}
	for (size_t i = 0; i < n; i++) {
		assert_true(geo_coord_valid(c[i].lat, c[i].lon));
		assert_true(c[i].population > 0);
	}

	const sample_city three[] = { { "a", 0, 0, 1 }, { "b", 0, 0, 0 },
		{ "c", 0, 0, 3 } };
	sample_rng r;
	sample_rng_seed(&r, 5);
	unsigned hits[3] = { 0 };
	for (int i = 0; i < 40000; i++) {
		hits[sample_city_pick(three, 3, &r)]++;
	}
	assert_int_equal(hits[1], 0);
	assert_true(hits[0] > 9000 && hits[0] < 11000);
	assert_true(hits[2] > 29000 && hits[2] < 31000);

	const sample_city none[] = { { "z", 0, 0, 0 } };
	assert_int_equal(sample_city_pick(none, 1, &r), 0);
	assert_int_equal(sample_city_pick(NULL, 0, &r), 0);
}

/* Goal: scatter is ~sigma km from the centre on average (mean distance of
 * a 2-D gaussian is sigma * sqrt(pi/2)), and stays valid near the poles
 * and the antimeridian. */
static void test_scatter(void **state)
{
	(void)state;
	sample_rng r;
	sample_rng_seed(&r, 11);
	double sum = 0.0;
	const int n = 20000;
	for (int i = 0; i < n; i++) {
		double lat, lon;
		sample_scatter(51.5074, -0.1278, 15.0, &r, &lat, &lon);
		assert_true(geo_coord_valid(lat, lon));
		sum += geo_distance_km(51.5074, -0.1278, lat, lon);
	}
	double mean = sum / n;
	double want = 15.0 * sqrt(3.14159265358979 / 2.0);
	assert_true(fabs(mean - want) < 0.5);

	for (int i = 0; i < 1000; i++) {
		double lat, lon;
		sample_scatter(89.999, 179.999, 500.0, &r, &lat, &lon);
		assert_true(geo_coord_valid(lat, lon));
		sample_scatter(-90.0, -180.0, 500.0, &r, &lat, &lon);
		assert_true(geo_coord_valid(lat, lon));
	}
	double lat, lon;
	sample_scatter(10.0, 20.0, 0.0, &r, &lat, &lon);
	assert_true(lat == 10.0 && lon == 20.0);
}

/* Goal: ship-to points are deterministic per (seed, stream) and land in
 * the UK around a real centre. */
static void test_ship_to(void **state)
{
	(void)state;
	size_t n = 0;
	const sample_city *c = sample_uk_cities(&n);
	for (uint64_t buyer = 1; buyer <= 200; buyer++) {
		sample_rng a, b;
		sample_rng_seed_stream(&a, 1, buyer);
		sample_rng_seed_stream(&b, 1, buyer);
		double la, loa, lb, lob;
		size_t ca, cb;
		sample_ship_to(c, n, 15.0, &a, &la, &loa, &ca);
		sample_ship_to(c, n, 15.0, &b, &lb, &lob, &cb);
		assert_true(la == lb && loa == lob && ca == cb);
		assert_true(ca < n);
		assert_true(la > 49.0 && la < 59.5 && loa > -9.0 && loa < 3.0);
		/* 15 km sd: beyond 100 km is a > 6 sigma event. */
		assert_true(geo_distance_km(c[ca].lat, c[ca].lon, la, loa) < 100.0);
	}
}

/* Goal: nearest-rank percentiles on known data, boundaries and bad input. */
static void test_percentile(void **state)
{
	(void)state;
	uint32_t v[100];
	for (uint32_t i = 0; i < 100; i++) {
		v[i] = 100 - i; /* 100..1, unsorted */
	}
	sample_sort_u32(v, 100);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[99], 100);
	uint32_t out = 0;
	assert_int_equal(sample_percentile_u32(v, 100, 50.0, &out), 0);
	assert_int_equal(out, 50);
	assert_int_equal(sample_percentile_u32(v, 100, 90.0, &out), 0);
	assert_int_equal(out, 90);
	assert_int_equal(sample_percentile_u32(v, 100, 99.0, &out), 0);
	assert_int_equal(out, 99);
	assert_int_equal(sample_percentile_u32(v, 100, 99.9, &out), 0);
	assert_int_equal(out, 100);
	assert_int_equal(sample_percentile_u32(v, 100, 100.0, &out), 0);
	assert_int_equal(out, 100);
	assert_int_equal(sample_percentile_u32(v, 100, 0.0, &out), 0);
	assert_int_equal(out, 1);
	assert_int_equal(sample_percentile_u32(v, 100, -5.0, &out), 0);
	assert_int_equal(out, 1);
	assert_int_equal(sample_percentile_u32(v, 100, 250.0, &out), 0);
	assert_int_equal(out, 100);

	uint32_t one[1] = { 7 };
	assert_int_equal(sample_percentile_u32(one, 1, 50.0, &out), 0);
	assert_int_equal(out, 7);
	uint32_t ten[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	assert_int_equal(sample_percentile_u32(ten, 10, 90.0, &out), 0);
	assert_int_equal(out, 9);
	assert_int_equal(sample_percentile_u32(ten, 10, 91.0, &out), 0);
	assert_int_equal(out, 10);

	out = 12345;
	assert_int_equal(sample_percentile_u32(v, 0, 50.0, &out), DN_EINVAL);
	assert_int_equal(sample_percentile_u32(v, 100, NAN, &out), DN_EINVAL);
	assert_int_equal(out, 12345);
	sample_sort_u32(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_deterministic),
		cmocka_unit_test(test_rng_seed_zero),
		cmocka_unit_test(test_rng_ranges),
		cmocka_unit_test(test_gauss_moments),
		cmocka_unit_test(test_city_pick),
		cmocka_unit_test(test_scatter),
		cmocka_unit_test(test_ship_to),
		cmocka_unit_test(test_percentile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
