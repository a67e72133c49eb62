/*
 * test_validate.c - unit tests for common/core/validate.c: ids, orders
 * (every field, its bounds and the exact field name reported) and hub
 * hellos, with valid, invalid and boundary input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/limits.h"
#include "core/validate.h"

static route_line g_lines[DN_ORDER_LINES_MAX + 1];
static char g_skus[DN_ORDER_LINES_MAX + 1][16];
static char g_field[64];
static const char *g_why;

/* A valid order with n distinct lines of qty 1. */
static validate_order_in order(size_t n)
{
	for (size_t i = 0; i < DN_ORDER_LINES_MAX + 1; i++) {
		snprintf(g_skus[i], sizeof(g_skus[i]), "SKU-%zu", i);
		g_lines[i] = (route_line){ .sku = g_skus[i], .qty = 1 };
	}
	return (validate_order_in){ .storefront = "shop1", .order_key = "k-1",
		.customer = "c42", .lines = g_lines, .nlines = n,
		.lat = 51.5074, .lon = -0.1278 };
}

/* Validates in; on failure asserts the reported field is want_field and a
 * reason is given; on success that field is empty. */
static void expect(const validate_order_in *in, int want_rv,
    const char *want_field)
{
	memset(g_field, 'x', sizeof(g_field));
	g_why = NULL;
	assert_int_equal(validate_order(in, g_field, sizeof(g_field), &g_why),
	    want_rv);
	assert_non_null(memchr(g_field, '\0', sizeof(g_field)));
	if (want_rv != 0) {
		assert_string_equal(g_field, want_field);
		assert_non_null(g_why);
		assert_true(strlen(g_why) > 0);
	} else {
		assert_string_equal(g_field, "");
	}
}

/* Goal: ordinary ids, a 1-byte id and a DN_ID_MAX-byte id are accepted,
 * and every printable non-space character other than , " ' is allowed. */
static void test_validate_id_valid(void **state)
{
	(void)state;
	char max[DN_ID_MAX + 1];
	memset(max, 'a', DN_ID_MAX);
	max[DN_ID_MAX] = '\0';
	assert_true(validate_id("leeds-1"));
	assert_true(validate_id("A"));
	assert_true(validate_id(max));
	assert_true(validate_id("sku_01.x:y/z#!~@"));
}

/* Goal: empty, NULL, one byte too long, spaces, commas, quotes, control
 * and non-ASCII bytes are refused. */
static void test_validate_id_invalid(void **state)
{
	(void)state;
	char over[DN_ID_MAX + 2];
	memset(over, 'a', DN_ID_MAX + 1);
	over[DN_ID_MAX + 1] = '\0';
	assert_false(validate_id(""));
	assert_false(validate_id(NULL));
	assert_false(validate_id(over));
	assert_false(validate_id("has space"));
	assert_false(validate_id(" lead"));
	assert_false(validate_id("a,b"));
	assert_false(validate_id("a\"b"));
	assert_false(validate_id("a'b"));
	assert_false(validate_id("tab\there"));
	assert_false(validate_id("nl\n"));
	assert_false(validate_id("del\x7f"));
	assert_false(validate_id("caf\xc3\xa9"));
}

/* Goal: a well-formed order passes, with one line and with the maximum
 * number of lines, at the coordinate bounds, and with an empty storefront
 * (which means "default"). */
static void test_validate_order_valid(void **state)
{
	(void)state;
	validate_order_in in = order(1);
	expect(&in, 0, "");
	assert_non_null(g_why);
	in = order(DN_ORDER_LINES_MAX);
	expect(&in, 0, "");
	in.lat = 90.0;
	in.lon = -180.0;
	expect(&in, 0, "");
	in.lat = -90.0;
	in.lon = 180.0;
	expect(&in, 0, "");
	in.storefront = "";
	expect(&in, 0, "");
	in.storefront = NULL;
	expect(&in, 0, "");
}

/* Goal: each bad id field is named exactly. */
static void test_validate_order_ids(void **state)
{
	(void)state;
	validate_order_in in = order(2);
	in.storefront = "my shop";
	expect(&in, DN_EINVAL, "storefront");
	in = order(2);
	in.order_key = "";
	expect(&in, DN_EINVAL, "order_key");
	in.order_key = NULL;
	expect(&in, DN_EINVAL, "order_key");
	in = order(2);
	in.customer = "a,b";
	expect(&in, DN_EINVAL, "customer");
	in = order(3);
	g_lines[2].sku = "bad sku";
	expect(&in, DN_EINVAL, "lines[2].sku");
	in = order(3);
	g_lines[0].sku = "";
	expect(&in, DN_EINVAL, "lines[0].sku");
}

/* Goal: qty bounds are 1..DN_LINE_QTY_MAX, reported as lines[i].qty. */
static void test_validate_order_qty(void **state)
{
	(void)state;
	validate_order_in in = order(3);
	g_lines[2].qty = 0;
	expect(&in, DN_EINVAL, "lines[2].qty");
	g_lines[2].qty = 1000000000u;
	expect(&in, DN_EINVAL, "lines[2].qty");
	g_lines[2].qty = DN_LINE_QTY_MAX + 1;
	expect(&in, DN_EINVAL, "lines[2].qty");
	g_lines[2].qty = DN_LINE_QTY_MAX;
	expect(&in, 0, "");
	g_lines[2].qty = 1;
	g_lines[0].qty = UINT32_MAX;
	expect(&in, DN_EINVAL, "lines[0].qty");
}

/* Goal: no lines, too many lines, or a NULL line array are "lines". */
static void test_validate_order_line_count(void **state)
{
	(void)state;
	validate_order_in in = order(0);
	expect(&in, DN_EINVAL, "lines");
	in = order(DN_ORDER_LINES_MAX + 1);
	expect(&in, DN_EINVAL, "lines");
	in = order(1);
	in.lines = NULL;
	expect(&in, DN_EINVAL, "lines");
}

/* Goal: the same SKU on two lines is refused at the later line. */
static void test_validate_order_duplicate_sku(void **state)
{
	(void)state;
	validate_order_in in = order(4);
	g_lines[3].sku = g_skus[1];
	expect(&in, DN_EINVAL, "lines[3].sku");
	assert_non_null(strstr(g_why, "more than one"));
	/* Equal text in different buffers is still a duplicate. */
	in = order(2);
	g_lines[0].sku = "tee";
	g_lines[1].sku = (char[]){ 't', 'e', 'e', '\0' };
	expect(&in, DN_EINVAL, "lines[1].sku");
}

/* Goal: lat 91, lon 181, NaN and infinities are refused by name. */
static void test_validate_order_coords(void **state)
{
	(void)state;
	validate_order_in in = order(1);
	in.lat = 91.0;
	expect(&in, DN_EINVAL, "lat");
	in.lat = -90.5;
	expect(&in, DN_EINVAL, "lat");
	in.lat = NAN;
	expect(&in, DN_EINVAL, "lat");
	in.lat = 0.0;
	in.lon = 180.5;
	expect(&in, DN_EINVAL, "lon");
	in.lon = NAN;
	expect(&in, DN_EINVAL, "lon");
	in.lon = -INFINITY;
	expect(&in, DN_EINVAL, "lon");
}

/* Goal: with several faults, the first in wire order is reported. */
static void test_validate_order_first_fault(void **state)
{
	(void)state;
	validate_order_in in = order(2);
	in.customer = "";
	in.lat = 100.0;
	g_lines[1].qty = 0;
	expect(&in, DN_EINVAL, "customer");
	in.customer = "c1";
	expect(&in, DN_EINVAL, "lines[1].qty");
}

/* Goal: a short field buffer still gets a NUL-terminated (truncated)
 * name; a NULL order is refused. */
static void test_validate_order_small_buffer(void **state)
{
	(void)state;
	char small[4];
	const char *why = NULL;
	validate_order_in in = order(12);
	g_lines[11].qty = 0;
	assert_int_equal(validate_order(&in, small, sizeof(small), &why),
	    DN_EINVAL);
	assert_string_equal(small, "lin");
	char one[1] = { 'x' };
	assert_int_equal(validate_order(&in, one, 1, &why), DN_EINVAL);
	assert_int_equal(one[0], '\0');
	char big[32];
	assert_int_equal(validate_order(&in, big, sizeof(big), &why), DN_EINVAL);
	assert_string_equal(big, "lines[11].qty");
	assert_int_equal(validate_order(NULL, big, sizeof(big), &why),
	    DN_EINVAL);
}

/* Goal: a hub hello needs a valid id, coordinates and a radius within
 * [DN_RADIUS_KM_MIN, DN_RADIUS_KM_MAX], each refused by name. */
static void test_validate_hub(void **state)
{
	(void)state;
	char f[32];
	const char *why = NULL;
	assert_int_equal(validate_hub("leeds", 53.8, -1.55, 75.0, f, sizeof(f),
	    &why), 0);
	assert_string_equal(f, "");
	assert_int_equal(validate_hub("h", 0, 0, DN_RADIUS_KM_MIN, f, sizeof(f),
	    &why), 0);
	assert_int_equal(validate_hub("h", 0, 0, DN_RADIUS_KM_MAX, f, sizeof(f),
	    &why), 0);
	assert_int_equal(validate_hub("le eds", 0, 0, 50, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "id");
	assert_int_equal(validate_hub("h", 91, 0, 50, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "lat");
	assert_int_equal(validate_hub("h", 0, NAN, 50, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "lon");
	assert_int_equal(validate_hub("h", 0, 0, 0.999, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "radius_km");
	assert_int_equal(validate_hub("h", 0, 0, 1000.001, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "radius_km");
	assert_int_equal(validate_hub("h", 0, 0, NAN, f, sizeof(f), &why),
	    DN_EINVAL);
	assert_string_equal(f, "radius_km");
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_id_valid),
		cmocka_unit_test(test_validate_id_invalid),
		cmocka_unit_test(test_validate_order_valid),
		cmocka_unit_test(test_validate_order_ids),
		cmocka_unit_test(test_validate_order_qty),
		cmocka_unit_test(test_validate_order_line_count),
		cmocka_unit_test(test_validate_order_duplicate_sku),
		cmocka_unit_test(test_validate_order_coords),
		cmocka_unit_test(test_validate_order_first_fault),
		cmocka_unit_test(test_validate_order_small_buffer),
		cmocka_unit_test(test_validate_hub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
