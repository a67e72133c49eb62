/*
 * test_geo.c - unit tests for common/core/geo.c: great-circle distances
 * against known city pairs and exact geometric cases (poles, antimeridian,
 * antipodes), and coordinate validation at and beyond its bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>
#include "core/geo.h"

#define PI 3.14159265358979323846

/* Goal: the London-Manchester distance matches the published ~262 km, in
 * both directions (distance is symmetric). */
static void test_geo_london_manchester(void **state)
{
	(void)state;
	double ab = geo_distance_km(51.5074, -0.1278, 53.4808, -2.2426);
	double ba = geo_distance_km(53.4808, -2.2426, 51.5074, -0.1278);
	assert_true(fabs(ab - 262.0) < 1.0);
	assert_true(fabs(ab - ba) < 1e-9);
}

/* Goal: a long transatlantic pair (Paris-New York ~5837 km) and a
 * southern-hemisphere pair (Sydney-Auckland ~2156 km) are right too. */
static void test_geo_long_pairs(void **state)
{
	(void)state;
	assert_true(fabs(geo_distance_km(48.8566, 2.3522, 40.7128, -74.0060) -
	    5837.2) < 2.0);
	assert_true(fabs(geo_distance_km(-33.8688, 151.2093, -36.8485,
	    174.7633) - 2155.9) < 2.0);
}

/* Goal: a point is 0 km from itself, and a small offset gives a small,
 * positive distance (no cancellation to zero). */
static void test_geo_same_and_tiny(void **state)
{
	(void)state;
	assert_true(geo_distance_km(51.5074, -0.1278, 51.5074, -0.1278) == 0.0);
	double d = geo_distance_km(51.5074, -0.1278, 51.5074, -0.1268);
	assert_true(d > 0.068 && d < 0.070);
}

/* Goal: pole to pole is half the circumference; pole to equator a
 * quarter; two points at the same pole with different longitudes are the
 * same point. */
static void test_geo_poles(void **state)
{
	(void)state;
	double half = PI * GEO_EARTH_RADIUS_KM;
	assert_true(fabs(geo_distance_km(90.0, 0.0, -90.0, 0.0) - half) < 1e-6);
	assert_true(fabs(geo_distance_km(90.0, 0.0, 0.0, 37.0) - half / 2.0) <
	    1e-6);
	assert_true(geo_distance_km(90.0, 0.0, 90.0, 120.0) < 1e-6);
	assert_true(geo_distance_km(-90.0, -180.0, -90.0, 180.0) < 1e-6);
}

/* Goal: crossing the antimeridian takes the short way: 179.5E to 179.5W
 * on the equator is one degree (~111.2 km), not 359 degrees; and -180 and
 * 180 are the same meridian. */
static void test_geo_antimeridian(void **state)
{
	(void)state;
	double d = geo_distance_km(0.0, 179.5, 0.0, -179.5);
	assert_true(fabs(d - 111.195) < 0.01);
	assert_true(geo_distance_km(10.0, -180.0, 10.0, 180.0) < 1e-6);
}

/* Goal: antipodal points give exactly the upper bound pi * R, never NaN
 * (the haversine term can round above 1). */
static void test_geo_antipodes(void **state)
{
	(void)state;
	double half = PI * GEO_EARTH_RADIUS_KM;
	double d1 = geo_distance_km(0.0, 0.0, 0.0, 180.0);
	double d2 = geo_distance_km(45.0, 30.0, -45.0, -150.0);
	assert_false(isnan(d1));
	assert_false(isnan(d2));
	assert_true(d1 <= half + 1e-9 && d1 > half - 1e-6);
	assert_true(d2 <= half + 1e-9 && d2 > half - 1e-6);
}

/* Goal: the bounds themselves are valid coordinates. */
static void test_geo_valid_boundaries(void **state)
{
	(void)state;
	assert_true(geo_coord_valid(0.0, 0.0));
	assert_true(geo_coord_valid(90.0, 180.0));
	assert_true(geo_coord_valid(-90.0, -180.0));
	assert_true(geo_coord_valid(51.5074, -0.1278));
}

/* Goal: anything just past a bound, NaN or infinite is refused, in either
 * coordinate. */
static void test_geo_invalid(void **state)
{
	(void)state;
	assert_false(geo_coord_valid(90.000001, 0.0));
	assert_false(geo_coord_valid(-90.000001, 0.0));
	assert_false(geo_coord_valid(91.0, 0.0));
	assert_false(geo_coord_valid(0.0, 180.000001));
	assert_false(geo_coord_valid(0.0, -180.000001));
	assert_false(geo_coord_valid(NAN, 0.0));
	assert_false(geo_coord_valid(0.0, NAN));
	assert_false(geo_coord_valid(INFINITY, 0.0));
	assert_false(geo_coord_valid(0.0, -INFINITY));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geo_london_manchester),
		cmocka_unit_test(test_geo_long_pairs),
		cmocka_unit_test(test_geo_same_and_tiny),
		cmocka_unit_test(test_geo_poles),
		cmocka_unit_test(test_geo_antimeridian),
		cmocka_unit_test(test_geo_antipodes),
		cmocka_unit_test(test_geo_valid_boundaries),
		cmocka_unit_test(test_geo_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
