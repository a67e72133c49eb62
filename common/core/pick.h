/*
 * pick.h - the hub's decisions about orders and terminal actions: which scans
 * are valid, how much may be shorted, which state follows, who may claim
 * what, in which order orders are worked and lines walked, and what one
 * scanned string means on the pick screen.
 *
 * Pure (DESIGN.md "A deterministic core"): plain functions of (order, input);
 * no clock, no SQL, no logging. hubd loads an order from SQLite into a
 * pick_order, asks here and stores what comes back; pickterm asks here what
 * a scan means in its current state. Both sides share one rule book.
 *
 * Order states and transitions (SEMANTICS.md "term"):
 *
 *   queued --pick/short--> picking --every line picked or shorted--> picked
 *   picked --pack (every picked line confirmed, gift lines too)--> packed
 *   picked|packed --ship--> shipped
 *   (every line shorted with no unit picked) -> shorted: nothing to ship
 *
 * A claim (claimed_by, an operator name) is orthogonal to the state: it says
 * who works the order. An open order claimed by someone else refuses claim,
 * pick, short, pack and ship from anyone else (PICK_CLAIMED); an unclaimed
 * order may be worked by anyone (command mode, scripts).
 *
 * Invariant per line: picked + shorted <= qty. A line is done when
 * picked + shorted == qty.
 */
#ifndef DN_PICK_H
#define DN_PICK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

/* Largest quantity one terminal request may move (SEMANTICS.md: receive
 * qty 1..1,000,000): a bigger number is a typo, not a delivery. */
#define PICK_QTY_MAX 1000000

/* A "small" order for batch picking: one walk carries its units by hand. */
#define PICK_SMALL_UNITS_MAX 4u
#define PICK_SMALL_LINES_MAX 4u

/* Orders one batch claim takes: a picker's cart has this many totes. */
#define PICK_BATCH_MAX 10u

/* Orders without a promised ship time are due this long after they came
 * in (the network's default next-day promise), for priority only. */
#define PICK_PROMISE_DEFAULT_MS (24 * 3600 * 1000LL)

/* The bin name that means "no bin": stock lives in one bulk area, so the
 * picker scans only the SKU. */
#define PICK_BIN_UNSET "MAIN"

/* Lines of one batch walk: every line of every order of the batch. */
#define PICK_WALK_MAX (PICK_BATCH_MAX * DN_ORDER_LINES_MAX)

typedef enum {
	PICK_ORDER_QUEUED = 0,
	PICK_ORDER_PICKING,
	PICK_ORDER_PICKED,
	PICK_ORDER_SHIPPED,
	PICK_ORDER_SHORTED,
	PICK_ORDER_PACKED,
} pick_order_state;

/* Outcome of a decision; the daemon maps it to the wire Status. */
typedef enum {
	PICK_OK = 0,
	PICK_INVALID,    /* a field is missing or out of bounds */
	PICK_WRONG_SCAN, /* a scan does not match what the order needs */
	PICK_CONFLICT,   /* the order's state does not allow the action */
	PICK_CLAIMED,    /* another operator holds the order's claim */
} pick_verdict;

typedef struct {
	char sku[DN_ID_MAX + 1];
	char bin[DN_ID_MAX + 1]; /* where to pick it; "" or MAIN: no bin */
	uint32_t qty, picked, shorted;
	bool gift;
} pick_line;

typedef struct {
	uint64_t order_id;
	pick_order_state state;
	char claimed_by[DN_ID_MAX + 1]; /* "" when free */
	char tier[DN_ID_MAX + 1];       /* "" when unknown */
	int64_t received_ms, promised_ms; /* promised 0: none */
	bool resent; /* sent again after the hub's store was lost */
	size_t nlines;
	pick_line lines[DN_ORDER_LINES_MAX];
} pick_order;

/* "queued", "picking", ... ; never NULL. */
const char *pick_state_name(pick_order_state s);
/* Parses a state name; returns 0 or DN_EINVAL. */
int pick_state_parse(const char *name, pick_order_state *out);
/* Queued or picking: scans and shorts are still possible. */
bool pick_state_open(pick_order_state s);

/* Units of sku the order's lines still need (qty - picked - shorted). */
int64_t pick_left(const pick_order *o, const char *sku);

/* The state an order's lines imply: queued (nothing done), picking (some
 * done), picked (all done, at least one unit picked) or shorted (all done,
 * nothing picked). Never returns shipped or packed. */
pick_order_state pick_state_derive(const pick_order *o);

/* Checks a receipt: sku and bin valid ids, qty in 1..PICK_QTY_MAX. */
pick_verdict pick_receive_check(const char *sku, int64_t qty,
    const char *bin, char *msg, size_t msg_len);

/* OK when op may work o: o is unclaimed or claimed by op. Otherwise
 * PICK_CLAIMED with msg naming the holder. */
pick_verdict pick_owner_check(const pick_order *o, const char *op, char *msg,
    size_t msg_len);

/* Claims o for op (a valid id): only an open order, free or already op's.
 * On OK o->claimed_by = op. */
pick_verdict pick_claim(pick_order *o, const char *op, char *msg,
    size_t msg_len);

/* Gives op's claim back: CONFLICT when op does not hold it. */
pick_verdict pick_release(pick_order *o, const char *op, char *msg,
    size_t msg_len);

/* Applies scans (one SKU per unit) to o. All scans are checked first: a SKU
 * not in the order or beyond what its line still needs refuses the whole
 * request (WRONG_SCAN, o untouched, msg names what was expected). On OK the
 * lines' picked counts and o->state are updated; *completed is true when this
 * request moved the order to picked. */
pick_verdict pick_scan(pick_order *o, const char *const *scans,
    size_t nscans, bool *completed, char *msg, size_t msg_len);

/* Records that qty units of sku cannot be found: qty in 1..what the line
 * still needs. On OK updates the line and o->state; *completed as above
 * (true when the order became picked or shorted by this request). */
pick_verdict pick_short(pick_order *o, const char *sku, int64_t qty,
    bool *completed, char *msg, size_t msg_len);

/* Pack: only a picked order; scans must name every line with a picked unit
 * exactly once (gift lines included) and nothing else. On OK o->state
 * becomes packed. WRONG_SCAN names the first line not confirmed. */
pick_verdict pick_pack(pick_order *o, const char *const *scans, size_t nscans,
    char *msg, size_t msg_len);

/* Ship: only a picked or packed order. On OK o->state becomes shipped. */
pick_verdict pick_ship(pick_order *o, char *msg, size_t msg_len);

/* Already shipped: a resent order (sent again after the hub's store was
 * lost) that left the building before the loss is recorded as shipped
 * without a pick. Only a resent order still queued (nothing picked or
 * shorted); otherwise PICK_CONFLICT. On OK o->state becomes shipped. */
pick_verdict pick_ship_already(pick_order *o, char *msg, size_t msg_len);

/* Checks an order arriving in a CMD_PLACE_ORDER command: 1..DN_ORDER_LINES_MAX
 * lines, valid distinct SKUs, qty 1..DN_LINE_QTY_MAX. */
typedef struct {
	const char *sku;
	uint32_t qty;
	bool gift;
} pick_line_in;
pick_verdict pick_place_check(uint64_t order_id, const char *order_key,
    const char *customer, const pick_line_in *lines, size_t nlines,
    char *msg, size_t msg_len);

/* ---- priority and claims ---------------------------------------------- */

/* Urgency of a drop tier: lower is sooner. "insider" 0, unknown/public 1,
 * "restock" 2 (restock buyers were promised later dispatch). */
int pick_tier_rank(const char *tier);

/* When o is due: promised_ms, else received_ms + PICK_PROMISE_DEFAULT_MS. */
int64_t pick_due_ms(const pick_order *o);

/* Priority order: tier rank, then due time, then age (received_ms), then
 * order id. <0 when a comes first. A total order: ties never depend on
 * input order. */
int pick_priority_cmp(const pick_order *a, const pick_order *b);

/* A small order: at most PICK_SMALL_LINES_MAX lines and
 * PICK_SMALL_UNITS_MAX units. */
bool pick_is_small(const pick_order *o);

/* Sorts idx[0..n) (indexes into orders) by pick_priority_cmp. Stable for
 * equal keys by construction (the compare is total). */
void pick_priority_sort(const pick_order *orders, size_t *idx, size_t n);

/* Chooses what a claim by operator op takes: the open orders op already
 * holds, then the first open unclaimed ones, each in priority order, up to
 * want; when want > 1 (a batch) only small orders. Writes indexes into out (capacity want), *nout the
 * count. want is clamped to 1..PICK_BATCH_MAX. */
void pick_claim_choose(const pick_order *orders, size_t n, size_t want, const char *op,
    size_t *out, size_t *nout);

/* ---- the pick walk: lines of one or more orders along the pick path -- */

typedef struct {
	size_t order;  /* index into the orders given to pick_walk_build */
	size_t line;   /* index into that order's lines */
} pick_step;

/* True when scanning the bin is required: bin set and not MAIN. */
bool pick_bin_required(const char *bin);

/* Merges every line of orders[0..n) into steps, sorted along the pick path:
 * bin name (no bin sorts as MAIN), then SKU, then order priority position.
 * Returns the number of steps (at most max). */
size_t pick_walk_build(const pick_order *orders, size_t n, pick_step *steps,
    size_t max);

/* Index of the first step whose line is not done, or nsteps when all are. */
size_t pick_walk_next(const pick_order *orders, const pick_step *steps,
    size_t nsteps);

/* What one scanned (or typed) string means at a line of the walk. */
typedef enum {
	PICK_INPUT_BIN_OK = 0, /* it is the line's bin: now scan the SKU */
	PICK_INPUT_SKU_OK,     /* it is the SKU: count one unit */
	PICK_INPUT_WRONG_BIN,  /* a bin was needed and this is not it */
	PICK_INPUT_WRONG_SKU,  /* not the SKU the line needs */
	PICK_INPUT_LINE_DONE,  /* the line needs nothing more */
	PICK_INPUT_EMPTY,      /* nothing scanned */
} pick_input;

/* Classifies input at line l given whether its bin was confirmed. msg says
 * what happens or what was expected ("expected bin A-01", ...). Pure: the
 * caller sends the request for SKU_OK and moves its cursor. */
pick_input pick_input_classify(const pick_line *l, bool bin_confirmed,
    const char *input, char *msg, size_t msg_len);

/* ---- hub work beyond picking ------------------------------------------ */

/* Move: valid sku and bins, from != to, qty in 1..have. */
pick_verdict pick_move_check(const char *sku, int64_t qty, const char *from,
    const char *to, int64_t have, char *msg, size_t msg_len);

/* Cycle count: valid sku and bin, counted in 0..PICK_QTY_MAX. *delta
 * returns counted - book (the adjustment; 0: no event). */
pick_verdict pick_count_check(const char *sku, const char *bin,
    int64_t counted, int64_t book, int64_t *delta, char *msg, size_t msg_len);

/* Start (UTC midnight) of the day holding now_ms, for "packed today". */
int64_t pick_day_start_ms(int64_t now_ms);

/* Compact age: "42s", "17m", "5h", "3d". */
void pick_age_format(int64_t age_ms, char *buf, size_t len);

#endif
