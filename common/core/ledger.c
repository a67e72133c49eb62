/*
 * ledger.c - the arithmetic of one (hub, sku) ledger row (see ledger.h).
 *
 * Every refusal leaves the row untouched: each function checks first and
 * writes last. Sums are computed with overflow checks because a row's values
 * come from storage and from hub events, and a wrapped int64 would turn an
 * oversell into a huge sellable count. Pure; the caller owns the row.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/ledger.h"
#include "core/limits.h"

int64_t ledger_sellable(const ledger_row *r)
{
	__int128 s;

	assert(r != NULL);
	/* Wide arithmetic, then saturate rather than wrap: a corrupt row must
	 * not read as a small plausible number. */
	s = (__int128)r->on_hand - r->allocated - r->holdback;
	if (s < INT64_MIN) {
		return INT64_MIN;
	}
	if (s > INT64_MAX) {
		return INT64_MAX;
	}
	return (int64_t)s;
}

int ledger_allocate(ledger_row *r, int64_t qty)
{
	assert(r != NULL);
	if (qty <= 0) {
		return DN_EINVAL;
	}
	/* This comparison is the no-oversell guarantee. */
	if (qty > ledger_sellable(r)) {
		return DN_ERANGE;
	}
	r->allocated += qty;
	return 0;
}

int ledger_unallocate(ledger_row *r, int64_t qty)
{
	assert(r != NULL);
	if (qty <= 0 || qty > r->allocated) {
		return DN_EINVAL;
	}
	r->allocated -= qty;
	return 0;
}

int ledger_receive(ledger_row *r, int64_t qty)
{
	int64_t n;

	assert(r != NULL);
	if (qty <= 0) {
		return DN_EINVAL;
	}
	if (__builtin_add_overflow(r->on_hand, qty, &n) || n > DN_STOCK_ROW_UNITS_MAX) {
		return DN_ERANGE;
	}
	r->on_hand = n;
	return 0;
}

int ledger_ship(ledger_row *r, int64_t qty)
{
	assert(r != NULL);
	if (qty <= 0 || qty > r->allocated || qty > r->on_hand) {
		return DN_EINVAL;
	}
	r->allocated -= qty;
	r->on_hand -= qty;
	return 0;
}

int ledger_short(ledger_row *r, int64_t qty)
{
	return ledger_short_lost(r, qty, qty);
}

int ledger_short_lost(ledger_row *r, int64_t qty, int64_t lost)
{
	int64_t gone;

	assert(r != NULL);
	if (qty <= 0 || qty > r->allocated || lost < 0 || lost > qty) {
		return DN_EINVAL;
	}
	/* The hub reports what it could not find; on_hand cannot go below
	 * zero because those units were never counted twice. */
	gone = lost < r->on_hand ? lost : r->on_hand;
	if (gone < 0) {
		gone = 0;
	}
	r->allocated -= qty;
	r->on_hand -= gone;
	return 0;
}

int ledger_ship_force(ledger_row *r, int64_t qty, ledger_gap *gap)
{
	assert(r != NULL && gap != NULL);
	assert(r->on_hand >= 0 && r->allocated >= 0);
	gap->found = gap->unallocated = 0;
	if (qty <= 0) {
		return DN_EINVAL;
	}
	if (qty > r->on_hand) {
		gap->found = qty - r->on_hand;
	}
	if (qty > r->allocated) {
		gap->unallocated = qty - r->allocated;
	}
	r->on_hand -= qty - gap->found;
	r->allocated -= qty - gap->unallocated;
	return 0;
}

int ledger_short_force(ledger_row *r, int64_t qty, int64_t lost, int64_t *gone,
    ledger_gap *gap)
{
	assert(r != NULL && gap != NULL && gone != NULL);
	assert(r->on_hand >= 0 && r->allocated >= 0);
	gap->found = gap->unallocated = 0;
	*gone = 0;
	if (qty <= 0 || lost < 0 || lost > qty) {
		return DN_EINVAL;
	}
	if (qty > r->allocated) {
		gap->unallocated = qty - r->allocated;
	}
	*gone = lost < r->on_hand ? lost : r->on_hand;
	r->on_hand -= *gone;
	r->allocated -= qty - gap->unallocated;
	return 0;
}

int ledger_adjust(ledger_row *r, int64_t delta)
{
	int64_t n;

	assert(r != NULL);
	if (__builtin_add_overflow(r->on_hand, delta, &n) || n < 0 ||
	    n > DN_STOCK_ROW_UNITS_MAX) {
		return DN_ERANGE;
	}
	r->on_hand = n;
	return 0;
}

int ledger_count_add(int64_t *counter, int64_t delta)
{
	int64_t n;

	assert(counter != NULL);
	if (__builtin_add_overflow(*counter, delta, &n)) {
		return DN_ERANGE;
	}
	*counter = n;
	return 0;
}

int ledger_hold(ledger_row *r, int64_t delta)
{
	int64_t n;

	assert(r != NULL);
	if (__builtin_add_overflow(r->holdback, delta, &n) || n < 0) {
		return DN_ERANGE;
	}
	/* Holding back more than is sellable would withhold units already
	 * promised to orders. */
	if (delta > 0 && delta > ledger_sellable(r)) {
		return DN_ERANGE;
	}
	r->holdback = n;
	return 0;
}

bool ledger_row_check(const ledger_row *r)
{
	assert(r != NULL);
	return r->on_hand >= 0 && r->allocated >= 0 && r->holdback >= 0 &&
	    ledger_sellable(r) >= 0;
}
