/*
 * ledger.h - the rules of one (hub, sku) row of the coordinator's ledger
 * (DESIGN.md "The ledger"). Pure arithmetic with its invariants:
 *
 *   on_hand >= 0, allocated >= 0, holdback >= 0,
 *   sellable = on_hand - allocated - holdback >= 0 after every accept.
 *
 * Hub events report physical facts, so receive/ship/short/adjust always
 * apply (the hub is the book of record for physical stock) and can leave
 * sellable negative after a short or a negative count; ledger_row_check
 * reports that for audit. Only allocation refuses to break the invariant.
 */
#ifndef DN_LEDGER_H
#define DN_LEDGER_H
#include <stdint.h>
#include <stdbool.h>

typedef struct {
	int64_t on_hand;
	int64_t allocated;
	int64_t holdback;
} ledger_row;

/* on_hand - allocated - holdback. */
int64_t ledger_sellable(const ledger_row *r);

/* Promise qty units to an order. DN_EINVAL if qty <= 0, DN_ERANGE if
 * qty > sellable (row untouched). */
int ledger_allocate(ledger_row *r, int64_t qty);

/* Undo an allocation (order cancelled). DN_EINVAL if qty <= 0 or
 * qty > allocated. */
int ledger_unallocate(ledger_row *r, int64_t qty);

/* Units arrived. DN_EINVAL if qty <= 0; DN_ERANGE if on_hand would pass
 * DN_STOCK_ROW_UNITS_MAX (row untouched). */
int ledger_receive(ledger_row *r, int64_t qty);

/* Allocated units left the hub: allocated -= qty, on_hand -= qty.
 * DN_EINVAL if qty <= 0 or qty > allocated or qty > on_hand. */
int ledger_ship(ledger_row *r, int64_t qty);

/* The hub could not find qty allocated units: they are not there.
 * allocated -= qty, on_hand -= min(qty, on_hand). DN_EINVAL if qty <= 0
 * or qty > allocated. */
int ledger_short(ledger_row *r, int64_t qty);
/* A short of qty allocated units of which only lost are gone from the
 * building (the rest are in totes or still to pick): allocated -= qty,
 * on_hand -= min(lost, on_hand). DN_EINVAL unless 0 <= lost <= qty and
 * 0 < qty <= allocated. */
int ledger_short_lost(ledger_row *r, int64_t qty, int64_t lost);

/* What the books lacked when a physical fact had to be booked anyway. */
typedef struct {
	int64_t found;        /* units on_hand lacked: the books had counted
	                       * them gone, yet they left; the caller books them
	                       * as a count correction (adjusted) */
	int64_t unallocated;  /* units allocated lacked (a book error) */
} ledger_gap;

/* Units left the hub whatever the books say (a shipment is a physical
 * fact, and refusing it would wedge the stream): on_hand is first raised by
 * what it lacks (gap->found), then on_hand -= qty and allocated -= the
 * part of qty it covers (gap->unallocated: the rest). Equals ledger_ship
 * when the books cover qty. DN_EINVAL if qty <= 0 (row untouched). */
int ledger_ship_force(ledger_row *r, int64_t qty, ledger_gap *gap);

/* The hub could not find qty units, whatever the books say: allocated -=
 * the part of qty it covers (gap->unallocated: the rest), on_hand -=
 * min(lost, on_hand) (*gone): lost is what the hub wrote off (EV_SHORT:
 * qty - kept). Equals ledger_short_lost when allocated covers qty.
 * DN_EINVAL if qty <= 0 or lost is outside 0..qty (row untouched). */
int ledger_short_force(ledger_row *r, int64_t qty, int64_t lost, int64_t *gone,
    ledger_gap *gap);

/* Count correction: on_hand += delta. DN_ERANGE if on_hand would go below
 * zero or past DN_STOCK_ROW_UNITS_MAX (row untouched). */
int ledger_adjust(ledger_row *r, int64_t delta);

/* A lifetime counter (received, shipped, ...) += delta, checked: DN_ERANGE
 * on int64 overflow (counter untouched). */
int ledger_count_add(int64_t *counter, int64_t delta);

/* Move between sellable and holdback: holdback += delta. DN_ERANGE if
 * holdback would go negative or (delta > 0) exceed sellable. */
int ledger_hold(ledger_row *r, int64_t delta);

/* True when every field is >= 0 and sellable >= 0. */
bool ledger_row_check(const ledger_row *r);

#endif
