/*
 * pick.c - pure decisions for the pick queue and the terminal (see pick.h).
 * No I/O: every input comes in as an argument, every outcome goes out
 * through the order, the out-parameters and the verdict.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "core/pick.h"
#include "core/validate.h"

static const char *const state_names[] = {
	[PICK_ORDER_QUEUED] = "queued",
	[PICK_ORDER_PICKING] = "picking",
	[PICK_ORDER_PICKED] = "picked",
	[PICK_ORDER_SHIPPED] = "shipped",
	[PICK_ORDER_SHORTED] = "shorted",
	[PICK_ORDER_PACKED] = "packed",
};
#define STATES_N (sizeof(state_names) / sizeof(state_names[0]))

const char *pick_state_name(pick_order_state s)
{
	if ((size_t)s >= STATES_N) {
		return "unknown";
	}
	return state_names[s];
}

int pick_state_parse(const char *name, pick_order_state *out)
{
	for (size_t i = 0; i < STATES_N; i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (pick_order_state)i;
			return 0;
		}
	}
	return DN_EINVAL;
}

bool pick_state_open(pick_order_state s)
{
	return s == PICK_ORDER_QUEUED || s == PICK_ORDER_PICKING;
}

pick_order_state pick_state_derive(const pick_order *o)
{
	bool all_done = true, any_done = false;
	uint64_t picked = 0;
	for (size_t i = 0; i < o->nlines; i++) {
		const pick_line *l = &o->lines[i];
		if (l->picked + l->shorted < l->qty) {
			all_done = false;
		}
		if (l->picked + l->shorted > 0) {
			any_done = true;
		}
		picked += l->picked;
	}
	if (all_done) {
		return picked > 0 ? PICK_ORDER_PICKED : PICK_ORDER_SHORTED;
	}
	return any_done ? PICK_ORDER_PICKING : PICK_ORDER_QUEUED;
}

static pick_line *line_find(pick_order *o, const char *sku)
{
	for (size_t i = 0; i < o->nlines; i++) {
		if (strcmp(o->lines[i].sku, sku) == 0) {
			return &o->lines[i];
		}
	}
	return NULL;
}

/* Lists the SKUs still needed, "A x2, B x1", for WRONG_SCAN messages. */
static void needs_format(const pick_order *o, const uint32_t *extra, char *buf,
    size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->nlines && off < len; i++) {
		const pick_line *l = &o->lines[i];
		uint32_t left = l->qty - l->picked - l->shorted - extra[i];
		if (left == 0) {
			continue;
		}
		int n = snprintf(buf + off, len - off, "%s%s x%" PRIu32,
		    off > 0 ? ", " : "", l->sku, left);
		if (n < 0) {
			break;
		}
		off += (size_t)n;
	}
	if (buf[0] == '\0') {
		snprintf(buf, len, "nothing");
	}
}

static pick_verdict id_invalid(const char *what, char *msg, size_t msg_len)
{
	snprintf(msg, msg_len, "%s must be 1..%u printable characters without "
	    "spaces, commas or quotes", what, DN_ID_MAX);
	return PICK_INVALID;
}

static pick_verdict qty_invalid(int64_t qty, int64_t min, char *msg,
    size_t msg_len)
{
	if (qty < min || qty > PICK_QTY_MAX) {
		snprintf(msg, msg_len, "qty %" PRId64 " out of range %" PRId64
		    "..%d", qty, min, PICK_QTY_MAX);
		return PICK_INVALID;
	}
	return PICK_OK;
}

pick_verdict pick_receive_check(const char *sku, int64_t qty,
    const char *bin, char *msg, size_t msg_len)
{
	if (!validate_id(sku)) {
		return id_invalid("sku", msg, msg_len);
	}
	if (!validate_id(bin)) {
		return id_invalid("bin", msg, msg_len);
	}
	return qty_invalid(qty, 1, msg, msg_len);
}

pick_verdict pick_owner_check(const pick_order *o, const char *op, char *msg,
    size_t msg_len)
{
	if (o->claimed_by[0] == '\0' || strcmp(o->claimed_by, op) == 0) {
		return PICK_OK;
	}
	snprintf(msg, msg_len, "order %" PRIu64 " is claimed by %s", o->order_id,
	    o->claimed_by);
	return PICK_CLAIMED;
}

pick_verdict pick_claim(pick_order *o, const char *op, char *msg,
    size_t msg_len)
{
	pick_verdict v;
	if (!validate_id(op)) {
		return id_invalid("operator (a claim needs one)", msg, msg_len);
	}
	if ((v = pick_owner_check(o, op, msg, msg_len)) != PICK_OK) {
		return v;
	}
	if (!pick_state_open(o->state) && o->state != PICK_ORDER_PICKED
	    && o->state != PICK_ORDER_PACKED) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s; nothing to "
		    "claim", o->order_id, pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	snprintf(o->claimed_by, sizeof(o->claimed_by), "%s", op);
	snprintf(msg, msg_len, "order %" PRIu64 " claimed by %s", o->order_id,
	    op);
	return PICK_OK;
}

pick_verdict pick_release(pick_order *o, const char *op, char *msg,
    size_t msg_len)
{
	if (o->claimed_by[0] == '\0' || strcmp(o->claimed_by, op) != 0) {
		snprintf(msg, msg_len, "order %" PRIu64 " is not claimed by %s",
		    o->order_id, op[0] != '\0' ? op : "(no operator)");
		return PICK_CONFLICT;
	}
	o->claimed_by[0] = '\0';
	snprintf(msg, msg_len, "order %" PRIu64 " released", o->order_id);
	return PICK_OK;
}

pick_verdict pick_scan(pick_order *o, const char *const *scans,
    size_t nscans, bool *completed, char *msg, size_t msg_len)
{
	uint32_t add[DN_ORDER_LINES_MAX] = { 0 };
	char needs[512];

	*completed = false;
	if (nscans == 0 || nscans > DN_SCANS_MAX) {
		snprintf(msg, msg_len, "scans: need 1..%u, got %zu", DN_SCANS_MAX,
		    nscans);
		return PICK_INVALID;
	}
	if (!pick_state_open(o->state)) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s, not open for "
		    "picking", o->order_id, pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	/* Check every scan before touching the order: one wrong scan refuses
	 * the whole request, so a retry after fixing it cannot double-count. */
	for (size_t s = 0; s < nscans; s++) {
		const char *sku = scans[s] != NULL ? scans[s] : "";
		size_t i;
		if (!validate_id(sku)) {
			snprintf(msg, msg_len, "scan %zu is not a valid sku", s + 1);
			return PICK_INVALID;
		}
		for (i = 0; i < o->nlines; i++) {
			if (strcmp(o->lines[i].sku, sku) == 0) {
				break;
			}
		}
		const pick_line *l = i < o->nlines ? &o->lines[i] : NULL;
		if (l == NULL || l->picked + l->shorted + add[i] >= l->qty) {
			needs_format(o, add, needs, sizeof(needs));
			snprintf(msg, msg_len, "scan %zu: %s %s; expected %s", s + 1,
			    sku, l == NULL ? "is not in this order"
			    : "is more than the line needs", needs);
			return PICK_WRONG_SCAN;
		}
		add[i]++;
	}
	for (size_t i = 0; i < o->nlines; i++) {
		o->lines[i].picked += add[i];
	}
	o->state = pick_state_derive(o);
	*completed = o->state == PICK_ORDER_PICKED;
	snprintf(msg, msg_len, "order %" PRIu64 " %s", o->order_id,
	    pick_state_name(o->state));
	return PICK_OK;
}

pick_verdict pick_short(pick_order *o, const char *sku, int64_t qty,
    bool *completed, char *msg, size_t msg_len)
{
	*completed = false;
	if (!validate_id(sku)) {
		return id_invalid("sku", msg, msg_len);
	}
	if (qty_invalid(qty, 1, msg, msg_len) != PICK_OK) {
		return PICK_INVALID;
	}
	if (!pick_state_open(o->state)) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s, not open for "
		    "picking", o->order_id, pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	pick_line *l = line_find(o, sku);
	if (l == NULL) {
		snprintf(msg, msg_len, "order %" PRIu64 " has no line for %s",
		    o->order_id, sku);
		return PICK_INVALID;
	}
	uint32_t left = l->qty - l->picked - l->shorted;
	if ((uint64_t)qty > left) {
		snprintf(msg, msg_len, "short %" PRId64 " of %s but the line "
		    "needs only %" PRIu32, qty, sku, left);
		return PICK_INVALID;
	}
	l->shorted += (uint32_t)qty;
	o->state = pick_state_derive(o);
	*completed = o->state == PICK_ORDER_PICKED
	    || o->state == PICK_ORDER_SHORTED;
	snprintf(msg, msg_len, "order %" PRIu64 " %s", o->order_id,
	    pick_state_name(o->state));
	return PICK_OK;
}

pick_verdict pick_pack(pick_order *o, const char *const *scans, size_t nscans,
    char *msg, size_t msg_len)
{
	bool seen[DN_ORDER_LINES_MAX] = { false };

	if (o->state != PICK_ORDER_PICKED) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s; only a picked "
		    "order is packed", o->order_id, pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	for (size_t s = 0; s < nscans; s++) {
		const char *sku = scans[s] != NULL ? scans[s] : "";
		size_t i;
		for (i = 0; i < o->nlines; i++) {
			if (strcmp(o->lines[i].sku, sku) == 0) {
				break;
			}
		}
		if (i == o->nlines || o->lines[i].picked == 0 || seen[i]) {
			snprintf(msg, msg_len, "pack: %s %s", sku, i == o->nlines
			    ? "is not in this order" : o->lines[i].picked == 0
			    ? "was not picked (shorted)" : "confirmed twice");
			return PICK_WRONG_SCAN;
		}
		seen[i] = true;
	}
	for (size_t i = 0; i < o->nlines; i++) {
		if (o->lines[i].picked > 0 && !seen[i]) {
			snprintf(msg, msg_len, "pack: %s%s x%" PRIu32 " not confirmed",
			    o->lines[i].gift ? "GIFT " : "", o->lines[i].sku,
			    o->lines[i].picked);
			return PICK_WRONG_SCAN;
		}
	}
	o->state = PICK_ORDER_PACKED;
	snprintf(msg, msg_len, "order %" PRIu64 " packed", o->order_id);
	return PICK_OK;
}

pick_verdict pick_ship(pick_order *o, char *msg, size_t msg_len)
{
	if (o->state != PICK_ORDER_PICKED && o->state != PICK_ORDER_PACKED) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s; only a picked "
		    "or packed order ships", o->order_id,
		    pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	o->state = PICK_ORDER_SHIPPED;
	snprintf(msg, msg_len, "order %" PRIu64 " shipped", o->order_id);
	return PICK_OK;
}

pick_verdict pick_ship_already(pick_order *o, char *msg, size_t msg_len)
{
	if (!o->resent) {
		snprintf(msg, msg_len, "order %" PRIu64 " was not re-sent after a "
		    "data loss; only a resent order can be recorded as already "
		    "shipped", o->order_id);
		return PICK_CONFLICT;
	}
	if (o->state != PICK_ORDER_QUEUED) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s; only a resent "
		    "order with nothing picked or shorted can be recorded as "
		    "already shipped", o->order_id, pick_state_name(o->state));
		return PICK_CONFLICT;
	}
	o->state = PICK_ORDER_SHIPPED;
	snprintf(msg, msg_len, "order %" PRIu64 " recorded as shipped before "
	    "the data loss", o->order_id);
	return PICK_OK;
}

pick_verdict pick_place_check(uint64_t order_id, const char *order_key,
    const char *customer, const pick_line_in *lines, size_t nlines,
    char *msg, size_t msg_len)
{
	if (order_id == 0 || order_id > (uint64_t)INT64_MAX) {
		snprintf(msg, msg_len, "order_id %" PRIu64 " out of range", order_id);
		return PICK_INVALID;
	}
	if (!validate_id(order_key)) {
		return id_invalid("order_key", msg, msg_len);
	}
	if (customer[0] != '\0' && !validate_id(customer)) {
		return id_invalid("customer", msg, msg_len);
	}
	if (nlines == 0 || nlines > DN_ORDER_LINES_MAX) {
		snprintf(msg, msg_len, "lines: need 1..%u, got %zu",
		    DN_ORDER_LINES_MAX, nlines);
		return PICK_INVALID;
	}
	for (size_t i = 0; i < nlines; i++) {
		if (lines[i].sku == NULL || !validate_id(lines[i].sku)) {
			snprintf(msg, msg_len, "lines[%zu].sku is not a valid id", i);
			return PICK_INVALID;
		}
		if (lines[i].qty < 1 || lines[i].qty > DN_LINE_QTY_MAX) {
			snprintf(msg, msg_len, "lines[%zu].qty out of range", i);
			return PICK_INVALID;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(lines[i].sku, lines[j].sku) == 0) {
				snprintf(msg, msg_len, "lines[%zu].sku repeats %s", i,
				    lines[i].sku);
				return PICK_INVALID;
			}
		}
	}
	return PICK_OK;
}

/* ---- priority and claims ---------------------------------------------- */

int pick_tier_rank(const char *tier)
{
	if (tier == NULL) {
		return 1;
	}
	if (strcmp(tier, "insider") == 0) {
		return 0;
	}
	if (strcmp(tier, "restock") == 0) {
		return 2;
	}
	return 1;
}

int64_t pick_due_ms(const pick_order *o)
{
	return o->promised_ms > 0 ? o->promised_ms
	                          : o->received_ms + PICK_PROMISE_DEFAULT_MS;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

int pick_priority_cmp(const pick_order *a, const pick_order *b)
{
	int c = pick_tier_rank(a->tier) - pick_tier_rank(b->tier);
	if (c != 0) {
		return c < 0 ? -1 : 1;
	}
	if ((c = cmp_i64(pick_due_ms(a), pick_due_ms(b))) != 0) {
		return c;
	}
	if ((c = cmp_i64(a->received_ms, b->received_ms)) != 0) {
		return c;
	}
	return a->order_id < b->order_id ? -1 : a->order_id > b->order_id ? 1 : 0;
}

bool pick_is_small(const pick_order *o)
{
	uint64_t units = 0;
	for (size_t i = 0; i < o->nlines; i++) {
		units += o->lines[i].qty;
	}
	return o->nlines <= PICK_SMALL_LINES_MAX && units <= PICK_SMALL_UNITS_MAX;
}

void pick_priority_sort(const pick_order *orders, size_t *idx, size_t n)
{
	/* Insertion sort: n is at most a queue listing (500), the compare is
	 * total, and qsort has no context argument for the orders array. */
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i], j = i;
		while (j > 0 && pick_priority_cmp(&orders[idx[j - 1]],
		    &orders[v]) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

/* Adds to out the open orders of orders[0..n) that pass keep, in priority
 * order, while *nout < want. */
static void claim_pass(const pick_order *orders, size_t n, size_t want, const char *op,
    bool own, size_t *out, size_t *nout)
{
	size_t idx[DN_QUEUE_LIST_MAX];
	size_t m = 0;
	for (size_t i = 0; i < n && m < DN_QUEUE_LIST_MAX; i++) {
		const pick_order *o = &orders[i];
		bool mine = op != NULL && op[0] != '\0' && strcmp(o->claimed_by, op) == 0;
		if (!pick_state_open(o->state) || (own ? !mine : o->claimed_by[0] != '\0')) {
			continue;
		}
		if (want > 1 && !pick_is_small(o)) {
			continue;
		}
		idx[m++] = i;
	}
	pick_priority_sort(orders, idx, m);
	for (size_t i = 0; i < m && *nout < want; i++) {
		out[(*nout)++] = idx[i];
	}
}

void pick_claim_choose(const pick_order *orders, size_t n, size_t want, const char *op,
    size_t *out, size_t *nout)
{
	*nout = 0;
	if (want < 1) {
		want = 1;
	}
	if (want > PICK_BATCH_MAX) {
		want = PICK_BATCH_MAX;
	}
	/* The operator's own open claims first: a claim whose answer was
	 * lost (a reply that never came, a commit reported failed that
	 * landed) comes back to them instead of staying claimed and out of
	 * everyone's reach (found by dropsim, seed 1166). */
	claim_pass(orders, n, want, op, true, out, nout);
	claim_pass(orders, n, want, op, false, out, nout);
}

/* ---- the walk ----------------------------------------------------------- */

bool pick_bin_required(const char *bin)
{
	return bin != NULL && bin[0] != '\0' && strcmp(bin, PICK_BIN_UNSET) != 0;
}

static const char *bin_key(const char *bin)
{
	return bin != NULL && bin[0] != '\0' ? bin : PICK_BIN_UNSET;
}

static int step_cmp(const pick_order *orders, const pick_step *a,
    const pick_step *b)
{
	const pick_line *la = &orders[a->order].lines[a->line];
	const pick_line *lb = &orders[b->order].lines[b->line];
	int c = strcmp(bin_key(la->bin), bin_key(lb->bin));
	if (c != 0) {
		return c;
	}
	if ((c = strcmp(la->sku, lb->sku)) != 0) {
		return c;
	}
	if (a->order != b->order) {
		return a->order < b->order ? -1 : 1;
	}
	return a->line < b->line ? -1 : a->line > b->line ? 1 : 0;
}

size_t pick_walk_build(const pick_order *orders, size_t n, pick_step *steps,
    size_t max)
{
	size_t m = 0;
	for (size_t o = 0; o < n; o++) {
		for (size_t l = 0; l < orders[o].nlines && m < max; l++) {
			steps[m].order = o;
			steps[m].line = l;
			m++;
		}
	}
	for (size_t i = 1; i < m; i++) {
		pick_step v = steps[i];
		size_t j = i;
		while (j > 0 && step_cmp(orders, &steps[j - 1], &v) > 0) {
			steps[j] = steps[j - 1];
			j--;
		}
		steps[j] = v;
	}
	return m;
}

size_t pick_walk_next(const pick_order *orders, const pick_step *steps,
    size_t nsteps)
{
	for (size_t i = 0; i < nsteps; i++) {
		const pick_line *l = &orders[steps[i].order].lines[steps[i].line];
		if (l->picked + l->shorted < l->qty) {
			return i;
		}
	}
	return nsteps;
}

pick_input pick_input_classify(const pick_line *l, bool bin_confirmed,
    const char *input, char *msg, size_t msg_len)
{
	bool need_bin = pick_bin_required(l->bin) && !bin_confirmed;

	if (input == NULL || input[0] == '\0') {
		snprintf(msg, msg_len, "scan %s %s", need_bin ? "bin" : "sku",
		    need_bin ? l->bin : l->sku);
		return PICK_INPUT_EMPTY;
	}
	if (l->picked + l->shorted >= l->qty) {
		snprintf(msg, msg_len, "%s is done (%" PRIu32 "/%" PRIu32 ")",
		    l->sku, l->picked, l->qty);
		return PICK_INPUT_LINE_DONE;
	}
	if (need_bin) {
		if (strcmp(input, l->bin) == 0) {
			snprintf(msg, msg_len, "bin %s ok; scan sku %s", l->bin,
			    l->sku);
			return PICK_INPUT_BIN_OK;
		}
		snprintf(msg, msg_len, "wrong scan %s: expected bin %s", input,
		    l->bin);
		return PICK_INPUT_WRONG_BIN;
	}
	if (strcmp(input, l->sku) == 0) {
		snprintf(msg, msg_len, "%s %" PRIu32 "/%" PRIu32, l->sku,
		    l->picked + 1, l->qty);
		return PICK_INPUT_SKU_OK;
	}
	if (pick_bin_required(l->bin) && strcmp(input, l->bin) == 0) {
		/* Re-scanning the bin already confirmed is harmless. */
		snprintf(msg, msg_len, "bin %s ok; scan sku %s", l->bin, l->sku);
		return PICK_INPUT_BIN_OK;
	}
	snprintf(msg, msg_len, "wrong scan %s: expected sku %s", input, l->sku);
	return PICK_INPUT_WRONG_SKU;
}

/* ---- hub work beyond picking ------------------------------------------ */

pick_verdict pick_move_check(const char *sku, int64_t qty, const char *from,
    const char *to, int64_t have, char *msg, size_t msg_len)
{
	if (!validate_id(sku)) {
		return id_invalid("sku", msg, msg_len);
	}
	if (!validate_id(from) || !validate_id(to)) {
		return id_invalid("bin", msg, msg_len);
	}
	if (strcmp(from, to) == 0) {
		snprintf(msg, msg_len, "move: %s to itself", from);
		return PICK_INVALID;
	}
	if (qty_invalid(qty, 1, msg, msg_len) != PICK_OK) {
		return PICK_INVALID;
	}
	if (qty > have) {
		snprintf(msg, msg_len, "move %" PRId64 " x %s but bin %s holds %"
		    PRId64, qty, sku, from, have);
		return PICK_CONFLICT;
	}
	snprintf(msg, msg_len, "moved %" PRId64 " x %s %s -> %s", qty, sku, from,
	    to);
	return PICK_OK;
}

pick_verdict pick_count_check(const char *sku, const char *bin,
    int64_t counted, int64_t book, int64_t *delta, char *msg, size_t msg_len)
{
	*delta = 0;
	if (!validate_id(sku)) {
		return id_invalid("sku", msg, msg_len);
	}
	if (!validate_id(bin)) {
		return id_invalid("bin", msg, msg_len);
	}
	if (qty_invalid(counted, 0, msg, msg_len) != PICK_OK) {
		return PICK_INVALID;
	}
	*delta = counted - book;
	snprintf(msg, msg_len, "count %s in %s: %" PRId64 " (book %" PRId64
	    ", %+" PRId64 ")", sku, bin, counted, book, *delta);
	return PICK_OK;
}

int64_t pick_day_start_ms(int64_t now_ms)
{
	const int64_t day = 86400000;
	int64_t r = now_ms % day;
	return now_ms - (r < 0 ? r + day : r);
}

void pick_age_format(int64_t age_ms, char *buf, size_t len)
{
	int64_t s = age_ms / 1000;
	if (s < 0) {
		s = 0;
	}
	if (s < 120) {
		snprintf(buf, len, "%" PRId64 "s", s);
	} else if (s < 7200) {
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	} else if (s < 172800) {
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	} else {
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
	}
}

int64_t pick_left(const pick_order *o, const char *sku)
{
	int64_t left = 0;
	for (size_t i = 0; i < o->nlines; i++) {
		const pick_line *l = &o->lines[i];
		if (strcmp(l->sku, sku) == 0) {
			left += (int64_t)l->qty - l->picked - l->shorted;
		}
	}
	return left;
}
