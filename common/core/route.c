/*
 * route.c - choose the hub(s) that fill an order (see route.h).
 *
 * Invariants of a result:
 *   - cand[] lists every hub exactly once (route_order) or every hub whose
 *     radius covers the ship-to exactly once (route_order_indexed), nearest
 *     first, ties by lower index;
 *   - ACCEPTED: the takes sum to each line's qty, every take's hub is CHOSEN,
 *     no hub takes more of a line than its sellable, at most
 *     DN_SPLIT_HUBS_MAX hubs are CHOSEN (exactly one under SPLIT_NEVER);
 *   - SOLD_OUT / NO_HUB_IN_RANGE: no take, no CHOSEN hub.
 * Verdict precedence for a hub: UNHEALTHY, then OUT_OF_RANGE, then (for the
 * in-range candidates) CHOSEN / NO_STOCK / NOT_NEEDED.
 *
 * Pure and deterministic: no clock, no allocation (the candidates live in
 * the caller's route_result, the rest is bounded by DN_ORDER_LINES_MAX and
 * lives on the stack).
 */
#include <assert.h>
#include <math.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/hubindex.h"
#include "core/route.h"

const char *route_verdict_name(route_verdict v)
{
	switch (v) {
	case ROUTE_VERDICT_CHOSEN: return "chosen";
	case ROUTE_VERDICT_OUT_OF_RANGE: return "out_of_range";
	case ROUTE_VERDICT_UNHEALTHY: return "unhealthy";
	case ROUTE_VERDICT_NO_STOCK: return "no_stock";
	case ROUTE_VERDICT_NOT_NEEDED: return "not_needed";
	}
	return "unknown";
}

void route_result_init(route_result *out, route_candidate *cand, size_t cap)
{
	memset(out, 0, sizeof(*out));
	out->cand = cand;
	out->cand_cap = cand != NULL ? cap : 0;
}

/* Sellable units of line i at hub h, never below zero: a row left negative
 * by a short pick has nothing to sell. */
static int64_t route_avail(const route_hub *h, size_t i)
{
	return h->sellable[i] > 0 ? h->sellable[i] : 0;
}

static bool route_cand_before(const route_candidate *a, const route_candidate *b)
{
	if (a->distance_km != b->distance_km) {
		return a->distance_km < b->distance_km;
	}
	return a->hub < b->hub;
}

/* Fills cand[] with every hub, its distance and its health/range verdict,
 * sorted nearest first. In-range healthy hubs get NO_STOCK for now: the
 * fill passes upgrade them. Returns how many are in range and healthy. */
static size_t route_rank(const route_hub *hubs, size_t nhubs, double lat,
    double lon, route_result *out)
{
	size_t n_in = 0;

	for (size_t i = 0; i < nhubs; i++) {
		const route_hub *h = &hubs[i];
		route_candidate c = { .hub = i };

		/* A hub with impossible coordinates cannot be measured: it sorts
		 * last and is never in range, rather than poisoning the sort
		 * with NaN. */
		if (geo_coord_valid(h->lat, h->lon)) {
			c.distance_km = geo_distance_km(lat, lon, h->lat, h->lon);
		} else {
			c.distance_km = INFINITY;
		}
		if (!h->healthy) {
			c.verdict = ROUTE_VERDICT_UNHEALTHY;
		} else if (!(c.distance_km <= h->radius_km)) {
			/* Written negated so a NaN radius counts as out of range. */
			c.verdict = ROUTE_VERDICT_OUT_OF_RANGE;
		} else {
			c.verdict = ROUTE_VERDICT_NO_STOCK;
			n_in++;
		}
		/* Insertion sort: n <= cand_cap and stable by construction. */
		size_t j = i;
		while (j > 0 && route_cand_before(&c, &out->cand[j - 1])) {
			out->cand[j] = out->cand[j - 1];
			j--;
		}
		out->cand[j] = c;
	}
	out->ncand = nhubs;
	return n_in;
}

static bool route_hub_fills(const route_hub *h, const route_line *lines,
    size_t nlines)
{
	for (size_t i = 0; i < nlines; i++) {
		if (route_avail(h, i) < (int64_t)lines[i].qty) {
			return false;
		}
	}
	return true;
}

/* Marks every in-range candidate after position k as NOT_NEEDED. */
static void route_rest_not_needed(route_result *out, size_t k)
{
	for (size_t p = k + 1; p < out->ncand; p++) {
		if (out->cand[p].verdict == ROUTE_VERDICT_NO_STOCK) {
			out->cand[p].verdict = ROUTE_VERDICT_NOT_NEEDED;
		}
	}
}

/* Policy NEVER (and the first try of ALLOWED): the nearest candidate that
 * fills every line takes the whole order. */
static bool route_fill_single(const route_hub *hubs, const route_line *lines,
    size_t nlines, route_result *out)
{
	for (size_t p = 0; p < out->ncand; p++) {
		route_candidate *c = &out->cand[p];
		if (c->verdict != ROUTE_VERDICT_NO_STOCK ||
		    !route_hub_fills(&hubs[c->hub], lines, nlines)) {
			continue;
		}
		c->verdict = ROUTE_VERDICT_CHOSEN;
		for (size_t i = 0; i < nlines; i++) {
			if (lines[i].qty == 0) {
				continue;
			}
			out->take[out->ntake++] = (route_take){
				.hub = c->hub, .line = i, .qty = lines[i].qty };
		}
		route_rest_not_needed(out, p);
		return true;
	}
	return false;
}

/* Policy ALLOWED when no single hub fills: nearest candidates each take what
 * they can of what is still missing, line by line. A candidate that can add
 * nothing is not a parcel and does not count toward DN_SPLIT_HUBS_MAX.
 * On failure the result is left with no take and no CHOSEN hub. */
static bool route_fill_split(const route_hub *hubs, const route_line *lines,
    size_t nlines, route_result *out)
{
	uint32_t missing[DN_ORDER_LINES_MAX];
	uint64_t total = 0;
	size_t nchosen = 0;

	for (size_t i = 0; i < nlines; i++) {
		missing[i] = lines[i].qty;
		total += lines[i].qty;
	}
	for (size_t p = 0; p < out->ncand && total > 0 &&
	    nchosen < DN_SPLIT_HUBS_MAX; p++) {
		route_candidate *c = &out->cand[p];
		if (c->verdict != ROUTE_VERDICT_NO_STOCK) {
			continue;
		}
		const route_hub *h = &hubs[c->hub];
		for (size_t i = 0; i < nlines; i++) {
			int64_t avail = route_avail(h, i);
			uint32_t q = avail < (int64_t)missing[i] ?
			    (uint32_t)avail : missing[i];
			if (q == 0) {
				continue;
			}
			out->take[out->ntake++] = (route_take){
				.hub = c->hub, .line = i, .qty = q };
			missing[i] -= q;
			total -= q;
			c->verdict = ROUTE_VERDICT_CHOSEN;
		}
		if (c->verdict == ROUTE_VERDICT_CHOSEN) {
			nchosen++;
			if (total == 0) {
				route_rest_not_needed(out, p);
			}
		}
	}
	if (total == 0) {
		return true;
	}
	/* Never partly accepted: undo the tentative takes. */
	out->ntake = 0;
	for (size_t p = 0; p < out->ncand; p++) {
		if (out->cand[p].verdict == ROUTE_VERDICT_CHOSEN) {
			out->cand[p].verdict = ROUTE_VERDICT_NO_STOCK;
		}
	}
	return false;
}

/* The fill passes over a ranked result: status and takes. */
static void route_fill(const route_hub *hubs, const route_line *lines,
    size_t nlines, route_split_policy policy, route_result *out)
{
	if (route_fill_single(hubs, lines, nlines, out) ||
	    (policy == ROUTE_SPLIT_ALLOWED &&
	    route_fill_split(hubs, lines, nlines, out))) {
		out->status = ROUTE_ACCEPTED;
	} else {
		out->status = ROUTE_SOLD_OUT;
	}
	assert(out->status == ROUTE_ACCEPTED || out->ntake == 0);
}

/* The arguments both entries share; out is reset first. */
static bool route_args_ok(const route_hub *hubs, size_t nhubs,
    const route_line *lines, size_t nlines, double lat, double lon,
    route_result *out)
{
	out->status = ROUTE_NO_HUB_IN_RANGE;
	out->ncand = 0;
	out->ntake = 0;
	return !((hubs == NULL && nhubs > 0) || lines == NULL || nlines == 0 ||
	    nlines > DN_ORDER_LINES_MAX || !geo_coord_valid(lat, lon));
}

int route_order(const route_hub *hubs, size_t nhubs, const route_line *lines,
    size_t nlines, double lat, double lon, route_split_policy policy,
    route_result *out)
{
	if (out == NULL) {
		return DN_EINVAL;
	}
	if (!route_args_ok(hubs, nhubs, lines, nlines, lat, lon, out) ||
	    nhubs > out->cand_cap) {
		return DN_EINVAL;
	}
	for (size_t i = 0; i < nhubs; i++) {
		if (hubs[i].sellable == NULL) {
			return DN_EINVAL;
		}
	}
	if (route_rank(hubs, nhubs, lat, lon, out) == 0) {
		return 0;
	}
	route_fill(hubs, lines, nlines, policy, out);
	return 0;
}

int route_order_indexed(const route_hub *hubs, size_t nhubs,
    const struct hubindex *ix, const route_line *lines, size_t nlines,
    double lat, double lon, route_split_policy policy, route_result *out)
{
	if (out == NULL || ix == NULL) {
		return DN_EINVAL;
	}
	if (!route_args_ok(hubs, nhubs, lines, nlines, lat, lon, out)) {
		return DN_EINVAL;
	}
	int rv = hubindex_query(ix, hubs, nhubs, lat, lon, out->cand,
	    out->cand_cap, &out->ncand);
	if (rv != 0) {
		out->ncand = 0;
		return rv;
	}
	size_t n_in = 0;
	for (size_t p = 0; p < out->ncand; p++) {
		route_candidate *c = &out->cand[p];
		if (hubs[c->hub].sellable == NULL) {
			out->ncand = 0;
			return DN_EINVAL;
		}
		/* Same precedence as route_rank: health first. */
		if (!hubs[c->hub].healthy) {
			c->verdict = ROUTE_VERDICT_UNHEALTHY;
		} else {
			c->verdict = ROUTE_VERDICT_NO_STOCK;
			n_in++;
		}
	}
	if (n_in > 0) {
		route_fill(hubs, lines, nlines, policy, out);
	}
	return 0;
}
