/*
 * test_ledger.c - unit tests for common/core/ledger.c: the effect of each
 * operation on a (hub, sku) row, each refusal and its code, and that a
 * refused operation leaves the row exactly as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/ledger.h"
#include "core/limits.h"

static ledger_row row(int64_t on_hand, int64_t allocated, int64_t holdback)
{
	ledger_row r = { .on_hand = on_hand, .allocated = allocated,
		.holdback = holdback };
	return r;
}

static void assert_row(const ledger_row *r, int64_t on_hand,
    int64_t allocated, int64_t holdback)
{
	assert_int_equal(r->on_hand, on_hand);
	assert_int_equal(r->allocated, allocated);
	assert_int_equal(r->holdback, holdback);
}

/* Goal: sellable is on_hand - allocated - holdback and may be negative. */
static void test_ledger_sellable(void **state)
{
	(void)state;
	ledger_row r = row(10, 3, 2);
	assert_int_equal(ledger_sellable(&r), 5);
	r = row(0, 0, 0);
	assert_int_equal(ledger_sellable(&r), 0);
	r = row(2, 5, 0);
	assert_int_equal(ledger_sellable(&r), -3);
	/* Absurd values saturate instead of wrapping to a positive count. */
	r = row(0, INT64_MAX, INT64_MAX);
	assert_int_equal(ledger_sellable(&r), INT64_MIN);
}

/* Goal: allocate up to exactly sellable succeeds and moves only allocated;
 * one more unit is DN_ERANGE with the row untouched (no oversell). */
static void test_ledger_allocate(void **state)
{
	(void)state;
	ledger_row r = row(10, 3, 2);
	assert_int_equal(ledger_allocate(&r, 2), 0);
	assert_row(&r, 10, 5, 2);
	assert_int_equal(ledger_allocate(&r, 3), 0);
	assert_row(&r, 10, 8, 2);
	assert_int_equal(ledger_sellable(&r), 0);
	assert_int_equal(ledger_allocate(&r, 1), DN_ERANGE);
	assert_row(&r, 10, 8, 2);
	assert_true(ledger_row_check(&r));
}

/* Goal: allocate refuses qty <= 0 with DN_EINVAL, and more than sellable
 * (holdback counts as not sellable) with DN_ERANGE; row untouched. */
static void test_ledger_allocate_refusals(void **state)
{
	(void)state;
	ledger_row r = row(10, 0, 4);
	assert_int_equal(ledger_allocate(&r, 0), DN_EINVAL);
	assert_int_equal(ledger_allocate(&r, -1), DN_EINVAL);
	assert_int_equal(ledger_allocate(&r, 7), DN_ERANGE);
	assert_int_equal(ledger_allocate(&r, INT64_MAX), DN_ERANGE);
	assert_row(&r, 10, 0, 4);
	/* A row already oversold (after a short) refuses every allocation. */
	r = row(1, 3, 0);
	assert_int_equal(ledger_allocate(&r, 1), DN_ERANGE);
	assert_row(&r, 1, 3, 0);
}

/* Goal: unallocate gives units back; more than allocated or <= 0 is
 * DN_EINVAL with the row untouched. */
static void test_ledger_unallocate(void **state)
{
	(void)state;
	ledger_row r = row(10, 4, 1);
	assert_int_equal(ledger_unallocate(&r, 4), 0);
	assert_row(&r, 10, 0, 1);
	r = row(10, 4, 1);
	assert_int_equal(ledger_unallocate(&r, 5), DN_EINVAL);
	assert_int_equal(ledger_unallocate(&r, 0), DN_EINVAL);
	assert_int_equal(ledger_unallocate(&r, -2), DN_EINVAL);
	assert_row(&r, 10, 4, 1);
}

/* Goal: receive adds to on_hand only; qty <= 0 is DN_EINVAL and a sum past
 * INT64_MAX is refused rather than wrapped; row untouched on refusal. */
static void test_ledger_receive(void **state)
{
	(void)state;
	ledger_row r = row(0, 0, 0);
	assert_int_equal(ledger_receive(&r, 100), 0);
	assert_row(&r, 100, 0, 0);
	assert_int_equal(ledger_receive(&r, 0), DN_EINVAL);
	assert_int_equal(ledger_receive(&r, -5), DN_EINVAL);
	assert_row(&r, 100, 0, 0);
	r = row(INT64_MAX - 1, 0, 0);
	assert_int_equal(ledger_receive(&r, 2), DN_ERANGE);
	assert_row(&r, INT64_MAX - 1, 0, 0);
}

/* Goal: ship takes units out of allocated and on_hand together, leaving
 * sellable unchanged; refuses qty <= 0, > allocated, > on_hand. */
static void test_ledger_ship(void **state)
{
	(void)state;
	ledger_row r = row(10, 4, 2);
	assert_int_equal(ledger_ship(&r, 3), 0);
	assert_row(&r, 7, 1, 2);
	assert_int_equal(ledger_sellable(&r), 4);
	assert_int_equal(ledger_ship(&r, 2), DN_EINVAL);
	assert_int_equal(ledger_ship(&r, 0), DN_EINVAL);
	assert_int_equal(ledger_ship(&r, -1), DN_EINVAL);
	assert_row(&r, 7, 1, 2);
	/* More allocated than on hand (after a count): ship past on_hand. */
	r = row(2, 5, 0);
	assert_int_equal(ledger_ship(&r, 3), DN_EINVAL);
	assert_row(&r, 2, 5, 0);
	assert_int_equal(ledger_ship(&r, 2), 0);
	assert_row(&r, 0, 3, 0);
}

/* Goal: a short drops the missing units from allocated and from on_hand,
 * but on_hand never below zero; refuses qty <= 0 or > allocated. */
/* A short whose units are partly spoken for (in totes, or the ones the
 * picker is about to pick) unallocates the whole short but writes off only
 * what the hub wrote off: both books keep the units that exist. */
static void test_ledger_short_lost(void **state)
{
	(void)state;
	ledger_row r = {1, 2, 0};
	assert_int_equal(ledger_short_lost(&r, 1, 0), 0);
	assert_int_equal(r.allocated, 1);
	assert_int_equal(r.on_hand, 1);
	r = (ledger_row){5, 3, 0};
	assert_int_equal(ledger_short_lost(&r, 2, 1), 0);
	assert_int_equal(r.allocated, 1);
	assert_int_equal(r.on_hand, 4);
	assert_int_equal(ledger_short_lost(&r, 1, 2), DN_EINVAL);
	assert_int_equal(ledger_short_lost(&r, 1, -1), DN_EINVAL);
	r = (ledger_row){0, 2, 0};
	assert_int_equal(ledger_short_lost(&r, 2, 2), 0);
	assert_int_equal(r.on_hand, 0);
}

static void test_ledger_short(void **state)
{
	(void)state;
	ledger_row r = row(10, 4, 0);
	assert_int_equal(ledger_short(&r, 2), 0);
	assert_row(&r, 8, 2, 0);
	r = row(1, 4, 0);
	assert_int_equal(ledger_short(&r, 3), 0);
	assert_row(&r, 0, 1, 0);
	r = row(10, 4, 0);
	assert_int_equal(ledger_short(&r, 5), DN_EINVAL);
	assert_int_equal(ledger_short(&r, 0), DN_EINVAL);
	assert_int_equal(ledger_short(&r, -1), DN_EINVAL);
	assert_row(&r, 10, 4, 0);
}

/* Goal: hub events are physical facts: a count below what is allocated
 * still applies (sellable goes negative) and ledger_row_check reports it;
 * a short, which removes the units from on_hand and allocated together,
 * leaves sellable as it was. */
static void test_ledger_events_break_invariant(void **state)
{
	(void)state;
	ledger_row r = row(3, 3, 0);
	assert_true(ledger_row_check(&r));
	assert_int_equal(ledger_adjust(&r, -2), 0);
	assert_row(&r, 1, 3, 0);
	assert_int_equal(ledger_sellable(&r), -2);
	assert_false(ledger_row_check(&r));
	r = row(5, 3, 2);
	assert_int_equal(ledger_short(&r, 1), 0);
	assert_row(&r, 4, 2, 2);
	assert_int_equal(ledger_sellable(&r), 0);
	assert_true(ledger_row_check(&r));
}

/* Goal: adjust adds a signed delta to on_hand; going below zero or past
 * INT64_MAX is DN_ERANGE with the row untouched; 0 is a no-op. */
static void test_ledger_adjust(void **state)
{
	(void)state;
	ledger_row r = row(5, 1, 1);
	assert_int_equal(ledger_adjust(&r, 3), 0);
	assert_row(&r, 8, 1, 1);
	assert_int_equal(ledger_adjust(&r, -8), 0);
	assert_row(&r, 0, 1, 1);
	assert_int_equal(ledger_adjust(&r, -1), DN_ERANGE);
	assert_row(&r, 0, 1, 1);
	assert_int_equal(ledger_adjust(&r, 0), 0);
	assert_row(&r, 0, 1, 1);
	r = row(INT64_MAX, 0, 0);
	assert_int_equal(ledger_adjust(&r, 1), DN_ERANGE);
	assert_row(&r, INT64_MAX, 0, 0);
	r = row(4, 0, 0);
	assert_int_equal(ledger_adjust(&r, INT64_MIN), DN_ERANGE);
	assert_row(&r, 4, 0, 0);
}

/* Goal: hold moves units between sellable and holdback; holding exactly
 * sellable works, one more does not; releasing more than is held does not;
 * refusals leave the row untouched. */
static void test_ledger_hold(void **state)
{
	(void)state;
	ledger_row r = row(10, 4, 0);
	assert_int_equal(ledger_hold(&r, 6), 0);
	assert_row(&r, 10, 4, 6);
	assert_int_equal(ledger_sellable(&r), 0);
	assert_int_equal(ledger_hold(&r, 1), DN_ERANGE);
	assert_row(&r, 10, 4, 6);
	assert_int_equal(ledger_hold(&r, -2), 0);
	assert_row(&r, 10, 4, 4);
	assert_int_equal(ledger_hold(&r, -5), DN_ERANGE);
	assert_row(&r, 10, 4, 4);
	assert_int_equal(ledger_hold(&r, -4), 0);
	assert_row(&r, 10, 4, 0);
	assert_int_equal(ledger_hold(&r, INT64_MAX), DN_ERANGE);
	assert_row(&r, 10, 4, 0);
}

/* Goal: row_check is true only when every field and sellable are >= 0. */
static void test_ledger_row_check(void **state)
{
	(void)state;
	ledger_row r = row(0, 0, 0);
	assert_true(ledger_row_check(&r));
	r = row(10, 5, 5);
	assert_true(ledger_row_check(&r));
	r = row(10, 6, 5);
	assert_false(ledger_row_check(&r));
	r = row(-1, 0, 0);
	assert_false(ledger_row_check(&r));
	r = row(10, -1, 0);
	assert_false(ledger_row_check(&r));
	r = row(10, 0, -1);
	assert_false(ledger_row_check(&r));
}

/* Goal: a whole life of a row keeps the invariant and conserves stock:
 * received = on_hand + shipped + shorted. */
static void test_ledger_lifecycle(void **state)
{
	(void)state;
	ledger_row r = row(0, 0, 0);
	assert_int_equal(ledger_receive(&r, 20), 0);
	assert_int_equal(ledger_hold(&r, 5), 0);
	assert_int_equal(ledger_allocate(&r, 15), 0);
	assert_int_equal(ledger_allocate(&r, 1), DN_ERANGE);
	assert_int_equal(ledger_hold(&r, -5), 0);
	assert_int_equal(ledger_allocate(&r, 5), 0);
	assert_int_equal(ledger_ship(&r, 12), 0);
	assert_int_equal(ledger_short(&r, 2), 0);
	assert_int_equal(ledger_unallocate(&r, 6), 0);
	assert_row(&r, 6, 0, 0);
	assert_int_equal(20, r.on_hand + 12 + 2);
	assert_true(ledger_row_check(&r));
}

/* Goal: a shipment the books cannot cover is booked anyway, by a defined
 * rule: on_hand lacked -> found, allocated lacked -> unallocated; covered
 * shipments equal ledger_ship; qty <= 0 refused with the row untouched. */
static void test_ledger_ship_force(void **state)
{
	(void)state;
	ledger_gap g;
	ledger_row r = row(10, 4, 0);
	assert_int_equal(ledger_ship_force(&r, 4, &g), 0);
	assert_row(&r, 6, 0, 0);
	assert_int_equal(g.found, 0);
	assert_int_equal(g.unallocated, 0);
	r = row(5, 10, 0);  /* a count took 15 of 20 while 10 sat in a tote */
	assert_int_equal(ledger_ship_force(&r, 10, &g), 0);
	assert_row(&r, 0, 0, 0);
	assert_int_equal(g.found, 5);
	assert_int_equal(g.unallocated, 0);
	r = row(10, 2, 1);
	assert_int_equal(ledger_ship_force(&r, 3, &g), 0);
	assert_row(&r, 7, 0, 1);
	assert_int_equal(g.unallocated, 1);
	assert_int_equal(ledger_ship_force(&r, 0, &g), DN_EINVAL);
	assert_row(&r, 7, 0, 1);
}

/* Goal: a short the allocation cannot cover releases what is allocated and
 * reports the rest; units gone never exceed on_hand. */
static void test_ledger_short_force(void **state)
{
	(void)state;
	ledger_gap g;
	int64_t gone = -1;
	ledger_row r = row(2, 5, 0);
	assert_int_equal(ledger_short_force(&r, 3, 3, &gone, &g), 0);
	assert_row(&r, 0, 2, 0);
	assert_int_equal(gone, 2);
	assert_int_equal(g.unallocated, 0);
	assert_int_equal(ledger_short_force(&r, 4, 4, &gone, &g), 0);
	assert_row(&r, 0, 0, 0);
	assert_int_equal(gone, 0);
	assert_int_equal(g.unallocated, 2);
	assert_int_equal(ledger_short_force(&r, -1, 0, &gone, &g), DN_EINVAL);
}

/* Goal: a row never holds more than DN_STOCK_ROW_UNITS_MAX (receive and
 * adjust refuse, row untouched); counters add with an overflow check. */
static void test_ledger_bounds(void **state)
{
	(void)state;
	ledger_row r = row(DN_STOCK_ROW_UNITS_MAX - 1, 0, 0);
	assert_int_equal(ledger_receive(&r, 2), DN_ERANGE);
	assert_int_equal(ledger_adjust(&r, 2), DN_ERANGE);
	assert_row(&r, DN_STOCK_ROW_UNITS_MAX - 1, 0, 0);
	assert_int_equal(ledger_receive(&r, 1), 0);
	assert_row(&r, DN_STOCK_ROW_UNITS_MAX, 0, 0);
	int64_t c = INT64_MAX - 1;
	assert_int_equal(ledger_count_add(&c, 2), DN_ERANGE);
	assert_int_equal(c, INT64_MAX - 1);
	assert_int_equal(ledger_count_add(&c, -5), 0);
	assert_int_equal(c, INT64_MAX - 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ledger_sellable),
		cmocka_unit_test(test_ledger_allocate),
		cmocka_unit_test(test_ledger_allocate_refusals),
		cmocka_unit_test(test_ledger_unallocate),
		cmocka_unit_test(test_ledger_receive),
		cmocka_unit_test(test_ledger_ship),
		cmocka_unit_test(test_ledger_short),
		cmocka_unit_test(test_ledger_events_break_invariant),
		cmocka_unit_test(test_ledger_adjust),
		cmocka_unit_test(test_ledger_hold),
		cmocka_unit_test(test_ledger_row_check),
		cmocka_unit_test(test_ledger_short_lost),
		cmocka_unit_test(test_ledger_lifecycle),
		cmocka_unit_test(test_ledger_ship_force),
		cmocka_unit_test(test_ledger_short_force),
		cmocka_unit_test(test_ledger_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
