/*
 * hub_pick.h - the hub's decisions about one order and one terminal action:
 * which scans are valid, how much may be shorted, which state follows.
 *
 * Pure (DESIGN.md "A deterministic core"): plain functions of (order, input);
 * no clock, no SQL, no logging, so they can be unit-tested as they are. The
 * daemon loads an order from SQLite into a hub_order, asks here, and stores
 * what comes back.
 *
 * Order states and transitions (SEMANTICS.md "term"):
 *
 *   queued --pick/short--> picking --every line picked or shorted--> picked
 *   picked --ship--> shipped
 *   (every line shorted with no unit picked) -> shorted: nothing to ship
 *
 * Invariant per line: picked + shorted <= qty. A line is done when
 * picked + shorted == qty.
 */
#ifndef HUB_PICK_H
#define HUB_PICK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

/* Largest quantity one terminal request may move (SEMANTICS.md: receive
 * qty 1..1,000,000): a bigger number is a typo, not a delivery. */
#define HUB_TERM_QTY_MAX 1000000

typedef enum {
	HUB_ORDER_QUEUED = 0,
	HUB_ORDER_PICKING,
	HUB_ORDER_PICKED,
	HUB_ORDER_SHIPPED,
	HUB_ORDER_SHORTED,
} hub_order_state;

/* Outcome of a decision; the daemon maps it to the wire Status. */
typedef enum {
	HUB_PICK_OK = 0,
	HUB_PICK_INVALID,    /* a field is missing or out of bounds */
	HUB_PICK_WRONG_SCAN, /* a scan does not match what the order needs */
	HUB_PICK_CONFLICT,   /* the order's state does not allow the action */
} hub_pick_verdict;

typedef struct {
	char sku[DN_ID_MAX + 1];
	uint32_t qty, picked, shorted;
} hub_line;

typedef struct {
	uint64_t order_id;
	hub_order_state state;
	size_t nlines;
	hub_line lines[DN_ORDER_LINES_MAX];
} hub_order;

/* "queued", "picking", ... ; never NULL. */
const char *hub_pick_state_name(hub_order_state s);
/* Parses a state name; returns 0 or DN_EINVAL. */
int hub_pick_state_parse(const char *name, hub_order_state *out);

/* The state an order's lines imply: queued (nothing done), picking (some
 * done), picked (all done, at least one unit picked) or shorted (all done,
 * nothing picked). Never returns shipped. */
hub_order_state hub_pick_state_derive(const hub_order *o);

/* Checks a receipt: sku and bin valid ids, qty in 1..HUB_TERM_QTY_MAX. */
hub_pick_verdict hub_pick_receive_check(const char *sku, int64_t qty,
    const char *bin, char *msg, size_t msg_len);

/* Applies scans (one SKU per unit) to o. All scans are checked first: a SKU
 * not in the order or beyond what its line still needs refuses the whole
 * request (WRONG_SCAN, o untouched, msg names what was expected). On OK the
 * lines' picked counts and o->state are updated; *completed is true when this
 * request moved the order to picked. */
hub_pick_verdict hub_pick_scan(hub_order *o, const char *const *scans,
    size_t nscans, bool *completed, char *msg, size_t msg_len);

/* Records that qty units of sku cannot be found: qty in 1..what the line
 * still needs. On OK updates the line and o->state; *completed as above
 * (true when the order became picked or shorted by this request). */
hub_pick_verdict hub_pick_short(hub_order *o, const char *sku, int64_t qty,
    bool *completed, char *msg, size_t msg_len);

/* Ship: only a picked order. On OK o->state becomes shipped. */
hub_pick_verdict hub_pick_ship(hub_order *o, char *msg, size_t msg_len);

/* Checks an order arriving in a CMD_PLACE_ORDER command: 1..DN_ORDER_LINES_MAX
 * lines, valid distinct SKUs, qty 1..DN_LINE_QTY_MAX. */
typedef struct {
	const char *sku;
	uint32_t qty;
} hub_pick_line_in;
hub_pick_verdict hub_pick_place_check(uint64_t order_id, const char *order_key,
    const char *customer, const hub_pick_line_in *lines, size_t nlines,
    char *msg, size_t msg_len);

#endif
