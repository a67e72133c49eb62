/*
 * test_route.c - unit tests for common/core/route.c: which hub(s) take an
 * order, the verdict every hub gets, the split policy and its cap, the
 * radius boundary, SOLD_OUT versus NO_HUB_IN_RANGE, determinism on ties,
 * and refusal of out-of-bounds arguments.
 *
 * Most tests put the ship-to at (51.0, 0.0) and hub k at latitude
 * 51.0 + 0.1 * (k + 1) on the same meridian, ~11.1 km per step, so hub k
 * is the k-th nearest unless a test moves it.
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
#include "core/geo.h"
#include "core/route.h"

#define SHIP_LAT 51.0
#define SHIP_LON 0.0
/* The candidates the fixture's result has room for (route_result_init). */
#define CAND_CAP 256u
#define NHUB_MAX (CAND_CAP + 1)

/* Test fixture: hubs with per-line sellable counts owned here. */
typedef struct {
	route_hub hub[NHUB_MAX];
	int64_t sell[NHUB_MAX][DN_ORDER_LINES_MAX];
	char id[NHUB_MAX][16];
	size_t n;
	route_result res;
	route_candidate cand[CAND_CAP];
} fixture;

static fixture fx;

/* Adds hub k on the meridian, healthy, 100 km radius, no stock. */
static size_t hub_add(void)
{
	size_t k = fx.n++;
	snprintf(fx.id[k], sizeof(fx.id[k]), "h%zu", k);
	fx.hub[k] = (route_hub){ .id = fx.id[k],
		.lat = SHIP_LAT + 0.1 * (double)(k + 1), .lon = SHIP_LON,
		.radius_km = 100.0, .healthy = true, .sellable = fx.sell[k] };
	memset(fx.sell[k], 0, sizeof(fx.sell[k]));
	return k;
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	route_result_init(&fx.res, fx.cand, CAND_CAP);
	return 0;
}

static int route(const route_line *lines, size_t nlines,
    route_split_policy policy)
{
	return route_order(fx.hub, fx.n, lines, nlines, SHIP_LAT, SHIP_LON,
	    policy, &fx.res);
}

/* Verdict of hub index h in the last result. */
static route_verdict verdict_of(size_t h)
{
	for (size_t p = 0; p < fx.res.ncand; p++) {
		if (fx.res.cand[p].hub == h) {
			return fx.res.cand[p].verdict;
		}
	}
	fail_msg("hub %zu missing from cand[]", h);
	return ROUTE_VERDICT_CHOSEN;
}

/* Checks what every result must satisfy: every hub listed once, nearest
 * first with ties by lower index, and for ACCEPTED takes that sum to each
 * line's qty, come only from CHOSEN hubs within their stock, over at most
 * DN_SPLIT_HUBS_MAX hubs; otherwise no take and no CHOSEN hub. */
static void check_result(const route_line *lines, size_t nlines)
{
	const route_result *r = &fx.res;
	bool seen[NHUB_MAX] = { false };
	size_t nchosen = 0;

	assert_int_equal(r->ncand, fx.n);
	for (size_t p = 0; p < r->ncand; p++) {
		const route_candidate *c = &r->cand[p];
		assert_true(c->hub < fx.n);
		assert_false(seen[c->hub]);
		seen[c->hub] = true;
		if (p > 0) {
			const route_candidate *b = &r->cand[p - 1];
			assert_true(b->distance_km < c->distance_km ||
			    (b->distance_km == c->distance_km && b->hub < c->hub));
		}
		if (c->verdict == ROUTE_VERDICT_CHOSEN) {
			nchosen++;
		}
	}
	if (r->status != ROUTE_ACCEPTED) {
		assert_int_equal(r->ntake, 0);
		assert_int_equal(nchosen, 0);
		return;
	}
	assert_true(nchosen >= 1 && nchosen <= DN_SPLIT_HUBS_MAX);
	for (size_t i = 0; i < nlines; i++) {
		uint64_t sum = 0;
		for (size_t t = 0; t < r->ntake; t++) {
			const route_take *tk = &r->take[t];
			assert_true(tk->line < nlines);
			assert_true(tk->qty > 0);
			assert_int_equal(verdict_of(tk->hub), ROUTE_VERDICT_CHOSEN);
			assert_true((int64_t)tk->qty <= fx.sell[tk->hub][tk->line]);
			if (tk->line == i) {
				sum += tk->qty;
			}
		}
		assert_int_equal(sum, lines[i].qty);
	}
}

/* Goal: the nearest hub that can fill every line takes the whole order;
 * a nearer hub short of one line is NO_STOCK, farther in-range hubs are
 * NOT_NEEDED, a hub beyond its radius is OUT_OF_RANGE. */
static void test_route_nearest_that_fills(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 2 }, { "cap", 1 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add(), d = hub_add();
	fx.sell[a][0] = 5;                      /* no caps */
	fx.sell[b][0] = 2; fx.sell[b][1] = 1;   /* exactly enough */
	fx.sell[c][0] = 9; fx.sell[c][1] = 9;
	fx.sell[d][0] = 9; fx.sell[d][1] = 9;
	fx.hub[d].radius_km = 10.0;             /* ~44 km away */
	assert_int_equal(route(lines, 2, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 2);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_NO_STOCK);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_NOT_NEEDED);
	assert_int_equal(verdict_of(d), ROUTE_VERDICT_OUT_OF_RANGE);
	assert_int_equal(fx.res.ntake, 2);
	assert_int_equal(fx.res.take[0].hub, b);
	assert_int_equal(fx.res.take[1].hub, b);
	assert_true(fabs(fx.res.cand[0].distance_km - 11.12) < 0.05);
}

/* Goal: candidate order is by distance, not by array index, and the
 * distances reported are the great-circle ones (real cities: a London
 * ship-to prefers the Reading hub over the Oxford one listed first). */
static void test_route_sorted_by_distance(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	size_t ox = hub_add(), rd = hub_add(), mc = hub_add();
	fx.hub[ox].lat = 51.7520; fx.hub[ox].lon = -1.2577;
	fx.hub[rd].lat = 51.4543; fx.hub[rd].lon = -0.9781;
	fx.hub[mc].lat = 53.4808; fx.hub[mc].lon = -2.2426;
	fx.sell[ox][0] = fx.sell[rd][0] = fx.sell[mc][0] = 1;
	assert_int_equal(route_order(fx.hub, fx.n, lines, 1, 51.5074, -0.1278,
	    ROUTE_SPLIT_NEVER, &fx.res), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.res.cand[0].hub, rd);
	assert_int_equal(fx.res.cand[1].hub, ox);
	assert_int_equal(fx.res.cand[2].hub, mc);
	assert_int_equal(fx.res.cand[0].verdict, ROUTE_VERDICT_CHOSEN);
	assert_int_equal(fx.res.cand[1].verdict, ROUTE_VERDICT_NOT_NEEDED);
	assert_int_equal(fx.res.cand[2].verdict, ROUTE_VERDICT_OUT_OF_RANGE);
	assert_true(fabs(fx.res.cand[2].distance_km - 262.0) < 1.0);
}

/* Goal: an unhealthy hub is skipped even when nearest and stocked, and is
 * reported UNHEALTHY even when it is also out of range. */
static void test_route_skips_unhealthy(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 3 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add();
	fx.sell[a][0] = fx.sell[b][0] = fx.sell[c][0] = 10;
	fx.hub[a].healthy = false;
	fx.hub[c].healthy = false;
	fx.hub[c].radius_km = 1.0;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_UNHEALTHY);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_UNHEALTHY);
	assert_int_equal(fx.res.take[0].hub, b);
	assert_int_equal(fx.res.take[0].qty, 3);
}

/* Goal: a hub whose radius equals the distance covers the ship-to; one
 * a hair smaller does not. */
static void test_route_radius_boundary(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	size_t a = hub_add();
	double d = geo_distance_km(SHIP_LAT, SHIP_LON, fx.hub[a].lat,
	    fx.hub[a].lon);
	fx.sell[a][0] = 1;
	fx.hub[a].radius_km = d;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_true(fx.res.cand[0].distance_km == d);
	fx.hub[a].radius_km = nextafter(d, 0.0);
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_NO_HUB_IN_RANGE);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_OUT_OF_RANGE);
	/* A NaN radius never covers anything. */
	fx.hub[a].radius_km = NAN;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	assert_int_equal(fx.res.status, ROUTE_NO_HUB_IN_RANGE);
}

/* Goal: hubs in range without stock give SOLD_OUT (each NO_STOCK, no
 * take); a negative sellable counts as none. */
static void test_route_sold_out(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 2 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add();
	fx.sell[a][0] = 1;
	fx.sell[b][0] = -5;
	fx.sell[c][0] = 9;
	fx.hub[c].radius_km = 5.0;
	for (int p = 0; p < 2; p++) {
		assert_int_equal(route(lines, 1, p == 0 ? ROUTE_SPLIT_NEVER :
		    ROUTE_SPLIT_ALLOWED), 0);
		check_result(lines, 1);
		assert_int_equal(fx.res.status, ROUTE_SOLD_OUT);
		assert_int_equal(fx.res.ntake, 0);
		assert_int_equal(verdict_of(a), ROUTE_VERDICT_NO_STOCK);
		assert_int_equal(verdict_of(b), ROUTE_VERDICT_NO_STOCK);
		assert_int_equal(verdict_of(c), ROUTE_VERDICT_OUT_OF_RANGE);
	}
}

/* Goal: a negative sellable (a row oversold by a short) gives nothing to a
 * split either: the hubs around it fill the order, it stays NO_STOCK. */
static void test_route_split_negative_sellable(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 2 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add();
	fx.sell[a][0] = 1;
	fx.sell[b][0] = -5;
	fx.sell[c][0] = 1;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.res.ntake, 2);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_NO_STOCK);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_CHOSEN);
}

/* Goal: no healthy hub covering the ship-to is NO_HUB_IN_RANGE, whatever
 * stock exists elsewhere, and so is an empty network. */
static void test_route_no_hub_in_range(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	assert_int_equal(fx.res.status, ROUTE_NO_HUB_IN_RANGE);
	assert_int_equal(fx.res.ncand, 0);
	size_t a = hub_add(), b = hub_add();
	fx.sell[a][0] = fx.sell[b][0] = 100;
	fx.hub[a].healthy = false;
	fx.hub[b].radius_km = 1.0;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_NO_HUB_IN_RANGE);
	assert_int_equal(fx.res.ntake, 0);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_UNHEALTHY);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_OUT_OF_RANGE);
}

/* Goal: an order no single hub can fill is SOLD_OUT under NEVER, and
 * under ALLOWED is split line by line over the nearest hubs, farther ones
 * NOT_NEEDED. */
static void test_route_split_allowed(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 4 }, { "cap", 2 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add();
	fx.sell[a][0] = 3;
	fx.sell[b][0] = 5; fx.sell[b][1] = 1;
	fx.sell[c][1] = 7;
	assert_int_equal(route(lines, 2, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 2);
	assert_int_equal(fx.res.status, ROUTE_SOLD_OUT);

	size_t d = hub_add();
	fx.sell[d][0] = 9; fx.sell[d][1] = 9;
	fx.hub[d].radius_km = 30.0;             /* ~44 km: out of range */
	assert_int_equal(route(lines, 2, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 2);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_CHOSEN);
	assert_int_equal(verdict_of(d), ROUTE_VERDICT_OUT_OF_RANGE);
	/* a: 3 tees; b: 1 tee + 1 cap; c: 1 cap - nearest first, in order. */
	assert_int_equal(fx.res.ntake, 4);
	assert_int_equal(fx.res.take[0].hub, a);
	assert_int_equal(fx.res.take[0].qty, 3);
	assert_int_equal(fx.res.take[1].hub, b);
	assert_int_equal(fx.res.take[1].line, 0);
	assert_int_equal(fx.res.take[1].qty, 1);
	assert_int_equal(fx.res.take[2].hub, b);
	assert_int_equal(fx.res.take[2].line, 1);
	assert_int_equal(fx.res.take[2].qty, 1);
	assert_int_equal(fx.res.take[3].hub, c);
	assert_int_equal(fx.res.take[3].qty, 1);

	/* Once the split is complete, farther in-range hubs are NOT_NEEDED. */
	fx.hub[d].radius_km = 100.0;
	fx.sell[c][1] = 0;
	fx.sell[b][1] = 2;
	assert_int_equal(route(lines, 2, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 2);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_NOT_NEEDED);
	assert_int_equal(verdict_of(d), ROUTE_VERDICT_NOT_NEEDED);
}

/* Goal: under ALLOWED a single farther hub that fills everything is
 * preferred to splitting over nearer partial hubs. */
static void test_route_split_prefers_single(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 4 } };
	size_t a = hub_add(), b = hub_add(), c = hub_add();
	fx.sell[a][0] = 2;
	fx.sell[b][0] = 2;
	fx.sell[c][0] = 4;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.res.ntake, 1);
	assert_int_equal(fx.res.take[0].hub, c);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_NO_STOCK);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_NO_STOCK);
	assert_int_equal(verdict_of(c), ROUTE_VERDICT_CHOSEN);
}

/* Goal: a split uses at most DN_SPLIT_HUBS_MAX hubs: exactly that many
 * can fill; when one more would be needed the order is SOLD_OUT and
 * nothing is taken. A hub with nothing to give does not use up a slot. */
static void test_route_split_cap(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 3 * DN_SPLIT_HUBS_MAX } };
	size_t empty = SIZE_MAX;
	for (size_t k = 0; k < DN_SPLIT_HUBS_MAX + 2; k++) {
		size_t h = hub_add();
		fx.sell[h][0] = 3;
		if (k == 1) {
			fx.sell[h][0] = 0;
			empty = h;
		}
	}
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.res.ntake, DN_SPLIT_HUBS_MAX);
	assert_int_equal(verdict_of(empty), ROUTE_VERDICT_NO_STOCK);
	assert_int_equal(verdict_of(fx.n - 1), ROUTE_VERDICT_NOT_NEEDED);

	/* One unit more than DN_SPLIT_HUBS_MAX hubs hold, though the hubs in
	 * range hold plenty between them. */
	lines[0].qty = 3 * DN_SPLIT_HUBS_MAX + 1;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_ALLOWED), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.status, ROUTE_SOLD_OUT);
	assert_int_equal(fx.res.ntake, 0);
	for (size_t p = 0; p < fx.res.ncand; p++) {
		assert_int_equal(fx.res.cand[p].verdict, ROUTE_VERDICT_NO_STOCK);
	}
}

/* Goal: hubs at the same distance are ranked by lower index, so the same
 * input always gives the same answer. */
static void test_route_ties_deterministic(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	size_t far = hub_add(), t1 = hub_add(), t2 = hub_add();
	fx.hub[far].lat = 51.5;
	fx.hub[t1].lat = fx.hub[t2].lat = 51.2;
	fx.sell[far][0] = fx.sell[t1][0] = fx.sell[t2][0] = 5;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 1);
	route_result first = fx.res;
	route_candidate first_cand[CAND_CAP];
	memcpy(first_cand, fx.res.cand, fx.res.ncand * sizeof(first_cand[0]));
	first.cand = first_cand; /* fx.res.cand is overwritten below */
	assert_int_equal(fx.res.cand[0].hub, t1);
	assert_int_equal(fx.res.cand[1].hub, t2);
	assert_int_equal(fx.res.cand[2].hub, far);
	assert_int_equal(fx.res.take[0].hub, t1);
	assert_int_equal(verdict_of(t2), ROUTE_VERDICT_NOT_NEEDED);
	for (int run = 0; run < 3; run++) {
		assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
		assert_int_equal(fx.res.status, first.status);
		assert_int_equal(fx.res.ntake, first.ntake);
		for (size_t p = 0; p < fx.res.ncand; p++) {
			assert_int_equal(fx.res.cand[p].hub, first.cand[p].hub);
			assert_int_equal(fx.res.cand[p].verdict,
			    first.cand[p].verdict);
		}
	}
	/* The lower index wins the tie even when it cannot fill alone. */
	fx.sell[t1][0] = 0;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	assert_int_equal(fx.res.take[0].hub, t2);
	assert_int_equal(verdict_of(t1), ROUTE_VERDICT_NO_STOCK);
}

/* Goal: a full network of CAND_CAP hubs is routed, and every hub is
 * listed; all at one spot, the only stocked one (the last) is chosen. */
static void test_route_max_hubs(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	for (size_t k = 0; k < CAND_CAP; k++) {
		size_t h = hub_add();
		fx.hub[h].lat = 51.1;
	}
	fx.sell[CAND_CAP - 1][0] = 1;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.ncand, CAND_CAP);
	assert_int_equal(fx.res.take[0].hub, CAND_CAP - 1);
	assert_int_equal(fx.res.cand[CAND_CAP - 1].verdict,
	    ROUTE_VERDICT_CHOSEN);
}

/* Goal: out-of-bounds arguments are DN_EINVAL: more hubs than the result
 * has candidates for, no lines,
 * too many lines, NULL pointers, a hub without its sellable array, and an
 * impossible ship-to. */
static void test_route_invalid_args(void **state)
{
	(void)state;
	route_line lines[DN_ORDER_LINES_MAX + 1];
	for (size_t i = 0; i < DN_ORDER_LINES_MAX + 1; i++) {
		lines[i] = (route_line){ "tee", 1 };
	}
	for (size_t k = 0; k < CAND_CAP + 1; k++) {
		hub_add();
	}
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), DN_EINVAL);
	fx.n = CAND_CAP;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	fx.n = 2;
	assert_int_equal(route(lines, 0, ROUTE_SPLIT_NEVER), DN_EINVAL);
	assert_int_equal(route(lines, DN_ORDER_LINES_MAX + 1,
	    ROUTE_SPLIT_NEVER), DN_EINVAL);
	assert_int_equal(route(lines, DN_ORDER_LINES_MAX, ROUTE_SPLIT_NEVER), 0);
	assert_int_equal(route(NULL, 1, ROUTE_SPLIT_NEVER), DN_EINVAL);
	assert_int_equal(route_order(NULL, 1, lines, 1, SHIP_LAT, SHIP_LON,
	    ROUTE_SPLIT_NEVER, &fx.res), DN_EINVAL);
	assert_int_equal(route_order(fx.hub, 1, lines, 1, SHIP_LAT, SHIP_LON,
	    ROUTE_SPLIT_NEVER, NULL), DN_EINVAL);
	assert_int_equal(route_order(fx.hub, 1, lines, 1, 91.0, SHIP_LON,
	    ROUTE_SPLIT_NEVER, &fx.res), DN_EINVAL);
	assert_int_equal(route_order(fx.hub, 1, lines, 1, SHIP_LAT, NAN,
	    ROUTE_SPLIT_NEVER, &fx.res), DN_EINVAL);
	fx.hub[1].sellable = NULL;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), DN_EINVAL);
	assert_int_equal(fx.res.ntake, 0);
}

/* Goal: a hub with impossible coordinates sorts last and is never in
 * range, instead of corrupting the order with NaN distances. */
static void test_route_bad_hub_coords(void **state)
{
	(void)state;
	route_line lines[] = { { "tee", 1 } };
	size_t a = hub_add(), b = hub_add();
	fx.hub[a].lat = NAN;
	fx.sell[a][0] = fx.sell[b][0] = 1;
	assert_int_equal(route(lines, 1, ROUTE_SPLIT_NEVER), 0);
	check_result(lines, 1);
	assert_int_equal(fx.res.cand[0].hub, b);
	assert_int_equal(verdict_of(a), ROUTE_VERDICT_OUT_OF_RANGE);
	assert_int_equal(verdict_of(b), ROUTE_VERDICT_CHOSEN);
}

/* Goal: verdict names are the stable strings the ops reply carries. */
static void test_route_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(route_verdict_name(ROUTE_VERDICT_CHOSEN), "chosen");
	assert_string_equal(route_verdict_name(ROUTE_VERDICT_OUT_OF_RANGE),
	    "out_of_range");
	assert_string_equal(route_verdict_name(ROUTE_VERDICT_UNHEALTHY),
	    "unhealthy");
	assert_string_equal(route_verdict_name(ROUTE_VERDICT_NO_STOCK),
	    "no_stock");
	assert_string_equal(route_verdict_name(ROUTE_VERDICT_NOT_NEEDED),
	    "not_needed");
	assert_string_equal(route_verdict_name((route_verdict)99), "unknown");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_route_nearest_that_fills),
		T(test_route_sorted_by_distance),
		T(test_route_skips_unhealthy),
		T(test_route_radius_boundary),
		T(test_route_sold_out),
		T(test_route_split_negative_sellable),
		T(test_route_no_hub_in_range),
		T(test_route_split_allowed),
		T(test_route_split_prefers_single),
		T(test_route_split_cap),
		T(test_route_ties_deterministic),
		T(test_route_max_hubs),
		T(test_route_invalid_args),
		T(test_route_bad_hub_coords),
		T(test_route_verdict_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
