/*
 * hub_pick.c - pure decisions for the pick queue (see hub_pick.h). No I/O:
 * every input comes in as an argument, every outcome goes out through the
 * order and the verdict.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "core/validate.h"
#include "hub_pick.h"

static const char *const state_names[] = {
	[HUB_ORDER_QUEUED] = "queued",
	[HUB_ORDER_PICKING] = "picking",
	[HUB_ORDER_PICKED] = "picked",
	[HUB_ORDER_SHIPPED] = "shipped",
	[HUB_ORDER_SHORTED] = "shorted",
};

const char *hub_pick_state_name(hub_order_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0])) {
		return "unknown";
	}
	return state_names[s];
}

int hub_pick_state_parse(const char *name, hub_order_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*out = (hub_order_state)i;
			return 0;
		}
	}
	return DN_EINVAL;
}

hub_order_state hub_pick_state_derive(const hub_order *o)
{
	bool all_done = true, any_done = false;
	uint64_t picked = 0;
	for (size_t i = 0; i < o->nlines; i++) {
		const hub_line *l = &o->lines[i];
		if (l->picked + l->shorted < l->qty) {
			all_done = false;
		}
		if (l->picked + l->shorted > 0) {
			any_done = true;
		}
		picked += l->picked;
	}
	if (all_done) {
		return picked > 0 ? HUB_ORDER_PICKED : HUB_ORDER_SHORTED;
	}
	return any_done ? HUB_ORDER_PICKING : HUB_ORDER_QUEUED;
}

static hub_line *line_find(hub_order *o, const char *sku)
{
	for (size_t i = 0; i < o->nlines; i++) {
		if (strcmp(o->lines[i].sku, sku) == 0) {
			return &o->lines[i];
		}
	}
	return NULL;
}

/* Lists the SKUs still needed, "A x2, B x1", for WRONG_SCAN messages. */
static void needs_format(const hub_order *o, const uint32_t *extra, char *buf,
    size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->nlines && off < len; i++) {
		const hub_line *l = &o->lines[i];
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

static bool state_open(hub_order_state s)
{
	return s == HUB_ORDER_QUEUED || s == HUB_ORDER_PICKING;
}

hub_pick_verdict hub_pick_receive_check(const char *sku, int64_t qty,
    const char *bin, char *msg, size_t msg_len)
{
	if (!validate_id(sku)) {
		snprintf(msg, msg_len, "sku must be 1..%u printable characters "
		    "without spaces, commas or quotes", DN_ID_MAX);
		return HUB_PICK_INVALID;
	}
	if (!validate_id(bin)) {
		snprintf(msg, msg_len, "bin must be 1..%u printable characters "
		    "without spaces, commas or quotes", DN_ID_MAX);
		return HUB_PICK_INVALID;
	}
	if (qty < 1 || qty > HUB_TERM_QTY_MAX) {
		snprintf(msg, msg_len, "qty %" PRId64 " out of range 1..%d", qty,
		    HUB_TERM_QTY_MAX);
		return HUB_PICK_INVALID;
	}
	return HUB_PICK_OK;
}

hub_pick_verdict hub_pick_scan(hub_order *o, const char *const *scans,
    size_t nscans, bool *completed, char *msg, size_t msg_len)
{
	uint32_t add[DN_ORDER_LINES_MAX] = { 0 };
	char needs[512];

	*completed = false;
	if (nscans == 0 || nscans > DN_SCANS_MAX) {
		snprintf(msg, msg_len, "scans: need 1..%u, got %zu", DN_SCANS_MAX,
		    nscans);
		return HUB_PICK_INVALID;
	}
	if (!state_open(o->state)) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s, not open for "
		    "picking", o->order_id, hub_pick_state_name(o->state));
		return HUB_PICK_CONFLICT;
	}
	/* Check every scan before touching the order: one wrong scan refuses
	 * the whole request, so a retry after fixing it cannot double-count. */
	for (size_t s = 0; s < nscans; s++) {
		const char *sku = scans[s] != NULL ? scans[s] : "";
		size_t i;
		if (!validate_id(sku)) {
			snprintf(msg, msg_len, "scan %zu is not a valid sku", s + 1);
			return HUB_PICK_INVALID;
		}
		for (i = 0; i < o->nlines; i++) {
			if (strcmp(o->lines[i].sku, sku) == 0) {
				break;
			}
		}
		const hub_line *l = i < o->nlines ? &o->lines[i] : NULL;
		if (l == NULL || l->picked + l->shorted + add[i] >= l->qty) {
			needs_format(o, add, needs, sizeof(needs));
			snprintf(msg, msg_len, "scan %zu: %s %s; expected %s", s + 1,
			    sku, l == NULL ? "is not in this order"
			    : "is more than the line needs", needs);
			return HUB_PICK_WRONG_SCAN;
		}
		add[i]++;
	}
	for (size_t i = 0; i < o->nlines; i++) {
		o->lines[i].picked += add[i];
	}
	o->state = hub_pick_state_derive(o);
	*completed = o->state == HUB_ORDER_PICKED;
	snprintf(msg, msg_len, "order %" PRIu64 " %s", o->order_id,
	    hub_pick_state_name(o->state));
	return HUB_PICK_OK;
}

hub_pick_verdict hub_pick_short(hub_order *o, const char *sku, int64_t qty,
    bool *completed, char *msg, size_t msg_len)
{
	*completed = false;
	if (!validate_id(sku)) {
		snprintf(msg, msg_len, "sku is not a valid id");
		return HUB_PICK_INVALID;
	}
	if (qty < 1 || qty > HUB_TERM_QTY_MAX) {
		snprintf(msg, msg_len, "qty %" PRId64 " out of range 1..%d", qty,
		    HUB_TERM_QTY_MAX);
		return HUB_PICK_INVALID;
	}
	if (!state_open(o->state)) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s, not open for "
		    "picking", o->order_id, hub_pick_state_name(o->state));
		return HUB_PICK_CONFLICT;
	}
	hub_line *l = line_find(o, sku);
	if (l == NULL) {
		snprintf(msg, msg_len, "order %" PRIu64 " has no line for %s",
		    o->order_id, sku);
		return HUB_PICK_INVALID;
	}
	uint32_t left = l->qty - l->picked - l->shorted;
	if ((uint64_t)qty > left) {
		snprintf(msg, msg_len, "short %" PRId64 " of %s but the line "
		    "needs only %" PRIu32, qty, sku, left);
		return HUB_PICK_INVALID;
	}
	l->shorted += (uint32_t)qty;
	o->state = hub_pick_state_derive(o);
	*completed = o->state == HUB_ORDER_PICKED
	    || o->state == HUB_ORDER_SHORTED;
	snprintf(msg, msg_len, "order %" PRIu64 " %s", o->order_id,
	    hub_pick_state_name(o->state));
	return HUB_PICK_OK;
}

hub_pick_verdict hub_pick_ship(hub_order *o, char *msg, size_t msg_len)
{
	if (o->state != HUB_ORDER_PICKED) {
		snprintf(msg, msg_len, "order %" PRIu64 " is %s; only a picked "
		    "order ships", o->order_id, hub_pick_state_name(o->state));
		return HUB_PICK_CONFLICT;
	}
	o->state = HUB_ORDER_SHIPPED;
	snprintf(msg, msg_len, "order %" PRIu64 " shipped", o->order_id);
	return HUB_PICK_OK;
}

hub_pick_verdict hub_pick_place_check(uint64_t order_id, const char *order_key,
    const char *customer, const hub_pick_line_in *lines, size_t nlines,
    char *msg, size_t msg_len)
{
	if (order_id == 0 || order_id > (uint64_t)INT64_MAX) {
		snprintf(msg, msg_len, "order_id %" PRIu64 " out of range", order_id);
		return HUB_PICK_INVALID;
	}
	if (!validate_id(order_key)) {
		snprintf(msg, msg_len, "order_key is not a valid id");
		return HUB_PICK_INVALID;
	}
	if (customer[0] != '\0' && !validate_id(customer)) {
		snprintf(msg, msg_len, "customer is not a valid id");
		return HUB_PICK_INVALID;
	}
	if (nlines == 0 || nlines > DN_ORDER_LINES_MAX) {
		snprintf(msg, msg_len, "lines: need 1..%u, got %zu",
		    DN_ORDER_LINES_MAX, nlines);
		return HUB_PICK_INVALID;
	}
	for (size_t i = 0; i < nlines; i++) {
		if (lines[i].sku == NULL || !validate_id(lines[i].sku)) {
			snprintf(msg, msg_len, "lines[%zu].sku is not a valid id", i);
			return HUB_PICK_INVALID;
		}
		if (lines[i].qty < 1 || lines[i].qty > DN_LINE_QTY_MAX) {
			snprintf(msg, msg_len, "lines[%zu].qty out of range", i);
			return HUB_PICK_INVALID;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(lines[i].sku, lines[j].sku) == 0) {
				snprintf(msg, msg_len, "lines[%zu].sku repeats %s", i,
				    lines[i].sku);
				return HUB_PICK_INVALID;
			}
		}
	}
	return HUB_PICK_OK;
}
