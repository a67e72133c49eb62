/*
 * test_planner.c - unit tests for common/core/planner.c: the demand model
 * against hand-worked values, and each planning rule of planner.h on small
 * networks laid out along a meridian (0.1 degree of latitude = 11.1 km),
 * then the invariants on many seeded random networks.
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
#include "core/forecast.h"
#include "core/geo.h"
#include "core/planner.h"
#include "core/sample.h"

#define EPS 1e-9

/* A hub at latitude lat on the Greenwich meridian. */
static planner_hub hub(const char *id, double lat, int64_t on_hand,
    int64_t allocated, int64_t holdback, double mean, int64_t cover)
{
	planner_hub h = { id, lat, 0.0, on_hand, allocated, holdback, 0, mean,
	    cover, 0 };
	return h;
}


/* Parameters where any sensible transfer pays: a sale is worth 100, a trip
 * costs 10 + 0.1/km. */
static planner_params generous(void)
{
	planner_params p;

	planner_params_default(&p);
	p.unit_value = 100;
	p.trip_cost = 10;
	p.km_cost = 0.1;
	p.trips_max = 8;
	p.km_max = 150;
	p.transfer_min = 1;
	return p;
}

static size_t count_kind(const planner_plan *pl, planner_kind k)
{
	size_t c = 0;

	for (size_t i = 0; i < pl->n; i++) {
		c += pl->action[i].kind == k;
	}
	return c;
}

/* ---- the demand model ---- */

/* Goal: Poisson(2) by hand. P(D=0..2) = e^-2 (1, 2, 2), so
 *   P(D>0) = 1 - e^-2 = 0.8646647, P(D>1) = 1 - 3e^-2 = 0.5939942,
 *   P(D>2) = 1 - 5e^-2 = 0.3233236;
 * gain(0,1) = P(D>0); gain(0,2) = P(D>0) + P(D>1); gain(2,1) = P(D>2);
 * and adding unbounded stock to none sells the mean, 2. */
static void test_planner_gain_poisson(void **state)
{
	(void)state;
	planner_demand d = { 2, 2 };
	double e2 = exp(-2);

	assert_true(fabs(planner_demand_gain(&d, 0, 1) - (1 - e2)) < EPS);
	assert_true(fabs(planner_demand_gain(&d, 0, 2) -
	    (2 - 4 * e2)) < EPS);
	assert_true(fabs(planner_demand_gain(&d, 2, 1) - (1 - 5 * e2)) < EPS);
	assert_true(fabs(planner_demand_gain(&d, 0, 1000) - 2) < 1e-9);
	assert_true(planner_demand_gain(&d, 5, 0) == 0);
	assert_true(planner_demand_gain(&d, 5, -3) == 0);
	/* Far in the tail, nothing is gained, and the walk ends early. */
	assert_true(planner_demand_gain(&d, 900000000, 1000) < 1e-9);
	planner_demand zero = { 0, 0 };
	assert_true(planner_demand_gain(&zero, 0, 10) == 0);
}

/* Goal: a negative binomial with mean 2 and variance 6 (r = 1, p = 1/3: a
 * geometric, P(D>k) = (2/3)^(k+1)) by hand: gain(0,2) = 2/3 + 4/9 =
 * 1.1111111, gain(3,1) = (2/3)^4 = 0.1975309; the whole mean is 2. */
static void test_planner_gain_negbin(void **state)
{
	(void)state;
	planner_demand d = { 2, 6 };

	assert_true(fabs(planner_demand_gain(&d, 0, 2) - 10.0 / 9) < 1e-9);
	assert_true(fabs(planner_demand_gain(&d, 3, 1) - 16.0 / 81) < 1e-9);
	assert_true(fabs(planner_demand_gain(&d, 0, 100000) - 2) < 1e-6);
}

/* Goal: above PLANNER_EXACT_MEAN_MAX the normal approximation: a unit at
 * the mean sells with probability ~1/2, all the stock one could want sells
 * the mean, and the gain is never above the units added. */
static void test_planner_gain_normal(void **state)
{
	(void)state;
	planner_demand d = { 1000, 4000 };

	assert_true(fabs(planner_demand_gain(&d, 1000, 1) - 0.5) < 0.01);
	assert_true(fabs(planner_demand_gain(&d, 0, 5000) - 1000) < 1e-6);
	assert_true(planner_demand_gain(&d, 0, 10) <= 10);
	assert_true(planner_demand_gain(&d, 2000, 10) < 1e-6);
}

/* Goal: the fit. The Poisson(2) 0.9-quantile is 4 (P(D<=3) = 0.857,
 * P(D<=4) = 0.947), so a cover of 4 or less keeps var = mean; a cover of 6
 * needs a wider NB, the narrowest whose 0.9-quantile is 6; the 0.9-quantile
 * of an NB of mean 2 never passes 6 (it falls again as the mass piles up
 * at 0), so a cover of 8 gets the peak's variance; mean 0 is no demand;
 * bad arguments are refused. */
static void test_planner_demand_fit(void **state)
{
	(void)state;
	planner_demand d;

	assert_int_equal(planner_demand_fit(2, 4, 0.9, &d), 0);
	assert_true(d.mean == 2 && d.var == 2);
	assert_int_equal(planner_demand_fit(2, 0, 0.9, &d), 0);
	assert_true(d.var == 2);
	assert_int_equal(planner_demand_fit(2, 6, 0.9, &d), 0);
	assert_true(d.var > 2);
	assert_true(forecast_nbinom_quantile(2, d.var, 0.9) == 6);
	assert_true(forecast_nbinom_quantile(2, d.var * 0.999, 0.9) < 6);
	assert_int_equal(planner_demand_fit(2, 8, 0.9, &d), 0);
	assert_true(forecast_nbinom_quantile(2, d.var, 0.9) == 6);
	assert_true(d.var > 2 && d.var < 100);
	assert_int_equal(planner_demand_fit(0, 3, 0.9, &d), 0);
	assert_true(d.mean == 0 && d.var == 0);
	assert_int_equal(planner_demand_fit(-1, 3, 0.9, &d), DN_EINVAL);
	assert_int_equal(planner_demand_fit(NAN, 3, 0.9, &d), DN_EINVAL);
	assert_int_equal(planner_demand_fit(2, -1, 0.9, &d), DN_EINVAL);
	assert_int_equal(planner_demand_fit(2, 3, 0.2, &d), DN_EINVAL);
	assert_int_equal(planner_demand_fit(2, 3, 0.9, NULL), DN_EINVAL);
}

/* ---- the rules ---- */

/* Goal: release first. A is 6 short of its cover and holds 10 back: it
 * releases 6 of them and nothing moves, although B next door has plenty. */
static void test_planner_release_first(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("a", 52.0, 20, 0, 10, 12, 16),
		hub("b", 52.1, 100, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].kind, PLANNER_RELEASE);
	assert_int_equal(pl.action[0].hub, 0);
	assert_int_equal(pl.action[0].qty, 6);
	assert_int_equal(pl.action[0].from_holdback, 6);
	assert_true(pl.action[0].cost == 0 && pl.action[0].gained > 0);
	assert_int_equal(pl.released, 6);
	assert_int_equal(count_kind(&pl, PLANNER_TRANSFER), 0);
	assert_int_equal(pl.trips, 0);
	assert_int_equal(pl.short_after, 0);
}

/* Goal: when the local holdback is not enough, it is all released first
 * and only the rest comes by van: A is 6 short with 3 held back. */
static void test_planner_release_then_transfer(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("b", 52.1, 100, 0, 0, 10, 15),
		hub("a", 52.0, 13, 0, 3, 12, 16),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.action[0].kind, PLANNER_RELEASE);
	assert_int_equal(pl.action[0].hub, 1);
	assert_int_equal(pl.action[0].qty, 3);
	assert_int_equal(pl.action[1].kind, PLANNER_TRANSFER);
	assert_int_equal(pl.action[1].src, 0);
	assert_int_equal(pl.action[1].hub, 1);
	assert_int_equal(pl.action[1].qty, 3);
	assert_true(fabs(pl.action[1].km - 11.12) < 0.05);
	assert_int_equal(pl.moved, 3);
	assert_int_equal(count_kind(&pl, PLANNER_RELEASE), 1);
	assert_int_equal(pl.short_after, 0);
}

/* Goal: nearest surplus first. D is 15 short; s1 (55 km, listed first)
 * and s2 (22 km) both have plenty, s3 (11 km) only 3 spare, under the
 * minimum of 5: s2 sends all 15. */
static void test_planner_nearest_first(void **state)
{
	(void)state;
	planner_hub h[4] = {
		hub("s1", 52.5, 60, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 10, 15),
		hub("s3", 51.9, 18, 0, 0, 10, 15),
		hub("s2", 52.2, 60, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	p.transfer_min = 5;
	assert_int_equal(planner_plan_sku(h, 4, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].src, 3);
	assert_int_equal(pl.action[0].hub, 1);
	assert_int_equal(pl.action[0].qty, 15);
}

/* Goal: a plan over more than 256 hubs (the planner's hub positions were
 * 8 bits and its pair table sized for 256): 600 hubs 0.2 degrees apart,
 * from index 256 on every even one short and every odd one in surplus (172
 * x 172 pairs); every transfer goes from a neighbour into an even hub of
 * index 256 or more, by its true index. */
static void test_planner_many_hubs(void **state)
{
	(void)state;
	enum { N = 600 };
	static planner_hub h[N];
	static char ids[N][8];
	static planner_plan pl;
	planner_params p = generous();

	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "h%03zu", i);
		int64_t on_hand = i < 256 ? 15 : i % 2 == 0 ? 0 : 60;
		h[i] = hub(ids[i], -60.0 + 0.2 * (double)i, on_hand, 0, 0, 10, 15);
	}
	assert_int_equal(planner_plan_sku(h, N, &p, &pl), 0);
	assert_int_equal(pl.trips, p.trips_max);
	assert_int_equal(count_kind(&pl, PLANNER_TRANSFER), p.trips_max);
	for (size_t a = 0; a < pl.n; a++) {
		const planner_action *x = &pl.action[a];
		assert_true(x->hub >= 256 && x->hub % 2 == 0);
		assert_true(x->src == x->hub + 1 || x->src + 1 == x->hub);
		assert_int_equal(x->qty, 15);
	}
}

/* Goal: when the nearest source cannot fill the gap, it gives what it can
 * spare and the next nearest sends the rest, one trip each. */
static void test_planner_next_nearest(void **state)
{
	(void)state;
	planner_hub h[3] = {
		hub("s1", 52.5, 60, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 10, 15),
		hub("s2", 52.2, 25, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 3, &p, &pl), 0);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.action[0].src, 2);
	assert_int_equal(pl.action[0].qty, 10);
	assert_int_equal(pl.action[1].src, 0);
	assert_int_equal(pl.action[1].qty, 5);
	assert_int_equal(pl.trips, 2);
	assert_int_equal(pl.moved, 15);
}

/* Goal: allocated units never move, nor units the source needs for its own
 * cover. S has 100 on hand, 95 allocated and a cover of 3: only 2 can go.
 * Fully allocated, nothing goes and D stays 15 short (and S 3). */
static void test_planner_never_moves_allocated(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.1, 100, 95, 0, 2, 3),
		hub("d", 52.0, 0, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 2);
	assert_int_equal(pl.short_after, 13);

	h[0].allocated = 100;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
	assert_int_equal(pl.short_after, 15 + 3); /* s is short of its own 3 */
}

/* Goal: a source keeps its own cover: sellable 30, cover 25 -> 5 move. */
static void test_planner_source_keeps_cover(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.1, 30, 0, 0, 20, 25),
		hub("d", 52.0, 0, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 5);
	assert_int_equal(pl.action[0].from_holdback, 0);
	assert_true(pl.action[0].lost > 0);
}

/* Goal: a source gives its free holdback first (losing no sale there),
 * then sellable surplus; kept holdback never moves. */
static void test_planner_holdback_first(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.1, 40, 0, 10, 20, 20), /* sellable 30: 10 spare */
		hub("d", 52.0, 7, 0, 0, 10, 15),   /* 8 short */
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 8);
	assert_int_equal(pl.action[0].from_holdback, 8);
	assert_true(pl.action[0].lost == 0);

	h[1].on_hand = 0; /* 15 short: 10 holdback + 5 sellable */
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.action[0].qty, 15);
	assert_int_equal(pl.action[0].from_holdback, 10);
	assert_true(pl.action[0].lost > 0);

	h[0].holdback_keep = 10; /* only the 10 sellable spare may go */
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.action[0].qty, 10);
	assert_int_equal(pl.action[0].from_holdback, 0);
}

/* Goal: kept holdback is not released either. */
static void test_planner_keep_blocks_release(void **state)
{
	(void)state;
	planner_hub h[1] = { hub("a", 52.0, 20, 0, 10, 12, 16) };
	planner_params p = generous();
	planner_plan pl;

	h[0].holdback_keep = 7;
	assert_int_equal(planner_plan_sku(h, 1, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 3);
	assert_int_equal(pl.short_after, 3);
}

/* Goal: only hubs within km_max: a source 222 km away is out of reach at
 * 150 km and in reach at 250 km. */
static void test_planner_radius(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 54.0, 60, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
	p.km_max = 250;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_true(pl.action[0].km > 222 && pl.action[0].km < 223);
}

/* Goal: no transfer costs more than the sales it protects. D (Poisson(2),
 * cover 4, nothing on hand) would gain E[min(D, 4)] units from 4 moved
 * holdback units (no loss at the source); a trip costing a cent more than
 * their value is not planned, a cent less is. */
static void test_planner_cost_bound(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.0, 10, 0, 10, 0, 0),
		hub("d", 52.0, 0, 0, 0, 2, 4),
	};
	planner_params p = generous();
	planner_demand dd = { 2, 2 };
	double value;
	planner_plan pl;

	h[0].lon = 0.1;
	p.unit_value = 10;
	p.km_cost = 0;
	value = 10 * planner_demand_gain(&dd, 0, 4);
	/* E[min(D, 4)] = sum_{k<4} P(D > k) = 4 - (1 + 3 + 5 + 19/3) e^-2. */
	assert_true(fabs(value - 10 * (4 - 46.0 / 3 * exp(-2))) < 1e-9);
	p.trip_cost = value + 0.01;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
	p.trip_cost = value - 0.01;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_true(fabs(pl.action[0].value - value) < 1e-9);
	assert_true(pl.action[0].value >= pl.action[0].cost);
	/* Nothing to gain: a destination with no forecast gets nothing. */
	h[1].mean = 0;
	p.trip_cost = 0;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
}

/* Goal: trips are bounded, and the bounded trips go where they are worth
 * most: five equal destinations 11..55 km from one big source, 2 trips ->
 * the two nearest (cheapest) get them. */
static void test_planner_trips_bounded(void **state)
{
	(void)state;
	planner_hub h[6] = {
		hub("d5", 52.5, 0, 0, 0, 10, 15),
		hub("d4", 52.4, 0, 0, 0, 10, 15),
		hub("d3", 52.3, 0, 0, 0, 10, 15),
		hub("d2", 52.2, 0, 0, 0, 10, 15),
		hub("d1", 52.1, 0, 0, 0, 10, 15),
		hub("src", 52.0, 500, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	p.trips_max = 2;
	assert_int_equal(planner_plan_sku(h, 6, &p, &pl), 0);
	assert_int_equal(pl.trips, 2);
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.action[0].hub, 4);
	assert_int_equal(pl.action[1].hub, 3);
	assert_int_equal(pl.short_after, 45);
	p.trips_max = 0;
	assert_int_equal(planner_plan_sku(h, 6, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
}

/* Goal: deterministic tie-breaks by id, whatever the input order: two
 * sources exactly as far (0.1 degree east and west) -> "alpha" sends; two
 * equal destinations and one trip -> "d-a" receives. */
static void test_planner_ties(void **state)
{
	(void)state;
	planner_hub h[3] = {
		hub("zeta", 52.0, 60, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 10, 15),
		hub("alpha", 52.0, 60, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	h[0].lon = 0.1;
	h[2].lon = -0.1;
	assert_int_equal(planner_plan_sku(h, 3, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].src, 2);
	planner_hub t = h[0];
	h[0] = h[2];
	h[2] = t;
	assert_int_equal(planner_plan_sku(h, 3, &p, &pl), 0);
	assert_int_equal(pl.action[0].src, 0);

	planner_hub g[3] = {
		hub("d-b", 52.0, 0, 0, 0, 10, 15),
		hub("s", 52.0, 60, 0, 0, 10, 15),
		hub("d-a", 52.0, 0, 0, 0, 10, 15),
	};
	g[0].lon = 0.1;
	g[2].lon = -0.1;
	p.trips_max = 1;
	assert_int_equal(planner_plan_sku(g, 3, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].hub, 2);
}

/* Goal: the minimum transfer size: a gap of 3 is not worth a van at a
 * minimum of 5, nor is a source with only 4 spare. */
static void test_planner_transfer_min(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.1, 60, 0, 0, 10, 15),
		hub("d", 52.0, 12, 0, 0, 10, 15),
	};
	planner_params p = generous();
	planner_plan pl;

	p.transfer_min = 5;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
	h[1].on_hand = 0;
	h[0].on_hand = 19;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 0);
	h[0].on_hand = 20;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 5);
}

/* Goal: trip_max caps one trip; the destination still short takes another
 * trip (same source) while trips remain, and the units planned stay the
 * same as without the cap. */
static void test_planner_trip_max(void **state)
{
	(void)state;
	planner_hub h[2] = {
		hub("s", 52.1, 100, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 40, 50),
	};
	planner_params p = generous();
	planner_plan pl;

	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	int64_t whole = pl.action[0].qty;
	assert_true(whole > 20);
	p.trip_max = 20;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_true(pl.n >= 2);
	int64_t moved = 0;
	for (size_t i = 0; i < pl.n; i++) {
		assert_int_equal(pl.action[i].kind, PLANNER_TRANSFER);
		assert_int_equal(pl.action[i].src, 0);
		assert_true(pl.action[i].qty >= 1 && pl.action[i].qty <= 20);
		moved += pl.action[i].qty;
	}
	assert_int_equal(moved, whole);
	assert_int_equal(pl.moved, whole);
	/* One trip allowed: 20 units go, the rest stays short. */
	p.trips_max = 1;
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.action[0].qty, 20);
	assert_int_equal(pl.short_after, 50 - 20);
}

/* Goal: bad input is refused with DN_EINVAL and an empty plan. */
static void test_planner_invalid(void **state)
{
	(void)state;
	planner_hub ok[2] = {
		hub("s", 52.1, 60, 0, 0, 10, 15),
		hub("d", 52.0, 0, 0, 0, 10, 15),
	};
	planner_hub h[2];
	planner_params p = generous();
	planner_params q;
	planner_plan pl;
	char longid[DN_ID_MAX + 2];

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(planner_plan_sku(ok, 2, &p, NULL), DN_EINVAL);
	assert_int_equal(planner_plan_sku(NULL, 2, &p, &pl), DN_EINVAL);
	assert_int_equal(planner_plan_sku(ok, 2, NULL, &pl), DN_EINVAL);
	assert_int_equal(planner_plan_sku(ok, PLANNER_HUBS_MAX + 1, &p, &pl),
	    DN_EINVAL);
	assert_int_equal(planner_plan_sku(NULL, 0, &p, &pl), 0);
	assert_int_equal(pl.n, 0);

#define BAD_HUB(stmt) do { \
	memcpy(h, ok, sizeof(h)); \
	stmt; \
	assert_int_equal(planner_plan_sku(h, 2, &p, &pl), DN_EINVAL); \
	assert_int_equal(pl.n, 0); \
} while (0)
	BAD_HUB(h[0].allocated = 50; h[0].holdback = 11);
	BAD_HUB(h[0].on_hand = -1);
	BAD_HUB(h[0].allocated = -1);
	BAD_HUB(h[0].holdback = 5; h[0].holdback_keep = 6);
	BAD_HUB(h[0].cover = -1);
	BAD_HUB(h[0].on_hand = PLANNER_QTY_MAX + 1);
	BAD_HUB(h[0].mean = NAN);
	BAD_HUB(h[0].mean = -0.5);
	BAD_HUB(h[0].lat = 91);
	BAD_HUB(h[0].id = NULL);
	BAD_HUB(h[0].id = longid);
	BAD_HUB(h[0].id = "d");
#undef BAD_HUB

#define BAD_PARAM(stmt) do { \
	q = p; \
	stmt; \
	assert_int_equal(planner_plan_sku(ok, 2, &q, &pl), DN_EINVAL); \
} while (0)
	BAD_PARAM(q.unit_value = -1);
	BAD_PARAM(q.unit_value = INFINITY);
	BAD_PARAM(q.trip_cost = NAN);
	BAD_PARAM(q.km_cost = -0.1);
	BAD_PARAM(q.trips_max = PLANNER_TRIPS_MAX + 1);
	BAD_PARAM(q.km_max = PLANNER_KM_MAX + 1);
	BAD_PARAM(q.km_max = NAN);
	BAD_PARAM(q.transfer_min = 0);
	BAD_PARAM(q.trip_max = 0);
	BAD_PARAM(q.trip_max = PLANNER_QTY_MAX + 1);
	BAD_PARAM(q.service = 0.3);
	BAD_PARAM(q.service = 1.0);
#undef BAD_PARAM
	assert_string_equal(planner_kind_name(PLANNER_RELEASE), "release");
	assert_string_equal(planner_kind_name(PLANNER_TRANSFER), "transfer");
	assert_string_equal(planner_kind_name((planner_kind)9), "?");
}

/* Goal: the rules hold on 500 seeded random networks of 1..16 hubs with
 * random stock, holdback, allocations, forecasts and parameters: per hub,
 * what leaves (released or sent) never exceeds its free holdback plus its
 * sellable above cover, allocated and kept units never move, a destination
 * never gets beyond its cover, no hub both sends and receives, every
 * transfer is in reach, big enough and worth its cost, the trips are
 * bounded; and the plan is the same for the hubs in reverse order. */
static void test_planner_random_invariants(void **state)
{
	(void)state;
	static const char *ids[16] = { "h00", "h01", "h02", "h03", "h04",
		"h05", "h06", "h07", "h08", "h09", "h10", "h11", "h12", "h13",
		"h14", "h15" };
	sample_rng r;
	static planner_plan pl, pr;
	size_t transfers = 0;

	sample_rng_seed(&r, 20240605);
	for (int it = 0; it < 500; it++) {
		size_t n = 1 + (size_t)sample_rng_below(&r, 16);
		planner_hub h[16], rev[16];
		planner_params p;

		planner_params_default(&p);
		p.unit_value = 1 + 50 * sample_rng_unit(&r);
		p.trip_cost = 40 * sample_rng_unit(&r);
		p.km_cost = sample_rng_unit(&r);
		p.trips_max = (unsigned)sample_rng_below(&r, 10);
		p.km_max = 300 * sample_rng_unit(&r);
		p.transfer_min = 1 + (int64_t)sample_rng_below(&r, 8);
		/* Every third network caps its trips (no draw: the rest of
		 * the stream is as before). */
		p.trip_max = it % 3 == 0 ? 1 + it % 20 : PLANNER_QTY_MAX;
		for (size_t i = 0; i < n; i++) {
			planner_hub *x = &h[i];

			x->id = ids[i];
			x->lat = 51 + 3 * sample_rng_unit(&r);
			x->lon = -2 + 3 * sample_rng_unit(&r);
			x->on_hand = (int64_t)sample_rng_below(&r, 80);
			x->allocated = (int64_t)sample_rng_below(&r,
			    (uint64_t)x->on_hand + 1);
			x->holdback = (int64_t)sample_rng_below(&r,
			    (uint64_t)(x->on_hand - x->allocated) + 1);
			x->holdback_keep = (int64_t)sample_rng_below(&r,
			    (uint64_t)x->holdback + 1) / 2;
			x->mean = 40 * sample_rng_unit(&r) *
			    sample_rng_unit(&r);
			x->cover = (int64_t)ceil(x->mean * (1 +
			    sample_rng_unit(&r)));
			x->incoming = 0;
			rev[n - 1 - i] = *x;
		}
		assert_int_equal(planner_plan_sku(h, n, &p, &pl), 0);
		assert_int_equal(planner_plan_sku(rev, n, &p, &pr), 0);

		int64_t out_hb[16] = { 0 }, out_sell[16] = { 0 }, in[16] = { 0 };
		int64_t rel[16] = { 0 };
		assert_true(pl.trips <= p.trips_max);
		for (size_t k = 0; k < pl.n; k++) {
			const planner_action *a = &pl.action[k];

			assert_true(a->qty >= 1);
			assert_true(a->from_holdback >= 0 &&
			    a->from_holdback <= a->qty);
			if (a->kind == PLANNER_RELEASE) {
				rel[a->hub] += a->qty;
				continue;
			}
			transfers++;
			assert_true(a->qty >= p.transfer_min);
			assert_true(a->qty <= p.trip_max);
			assert_true(a->km <= p.km_max);
			assert_true(a->value > 0 && a->value >= a->cost);
			out_hb[a->src] += a->from_holdback;
			out_sell[a->src] += a->qty - a->from_holdback;
			in[a->hub] += a->qty;
			/* Same transfer, by ids, in the reversed plan. */
			const planner_action *b = &pr.action[k];
			assert_int_equal(b->kind, PLANNER_TRANSFER);
			assert_string_equal(rev[b->src].id, h[a->src].id);
			assert_string_equal(rev[b->hub].id, h[a->hub].id);
			assert_int_equal(b->qty, a->qty);
		}
		assert_int_equal(pr.n, pl.n);
		for (size_t i = 0; i < n; i++) {
			const planner_hub *x = &h[i];
			int64_t sell = x->on_hand - x->allocated - x->holdback;
			int64_t above = sell + rel[i] - x->cover;

			assert_true(rel[i] + out_hb[i] <=
			    x->holdback - x->holdback_keep);
			assert_true(out_sell[i] <= (above > 0 ? above : 0));
			assert_true(rel[i] + out_hb[i] + out_sell[i] <=
			    x->on_hand - x->allocated - x->holdback_keep);
			assert_true(in[i] == 0 ||
			    (out_hb[i] == 0 && out_sell[i] == 0));
			assert_true(in[i] == 0 ||
			    sell + rel[i] + in[i] <= x->cover);
		}
	}
	/* The generator must actually exercise transfers. */
	assert_true(transfers > 100);
}

/* Goal: units already on their way count toward the destination's cover,
 * so a plan made while a transfer is open sends no second van for the same
 * gap, and incoming units are never a source. */
static void test_planner_incoming_counts(void **state)
{
	(void)state;
	static planner_plan plan;
	planner_params p = generous();
	planner_hub h[2] = {
	    hub("dst", 53.0, 0, 0, 0, 40.0, 50),
	    hub("src", 52.0, 200, 0, 0, 5.0, 10),
	};
	assert_int_equal(planner_plan_sku(h, 2, &p, &plan), 0);
	assert_int_equal(plan.moved, 50);
	h[0].incoming = 50;
	assert_int_equal(planner_plan_sku(h, 2, &p, &plan), 0);
	assert_int_equal(plan.moved, 0);
	h[0].incoming = 30;
	assert_int_equal(planner_plan_sku(h, 2, &p, &plan), 0);
	assert_int_equal(plan.moved, 20);
	/* Incoming at a would-be source adds nothing it could send. */
	h[0].incoming = 0;
	h[1].on_hand = 10;
	h[1].incoming = 500;
	assert_int_equal(planner_plan_sku(h, 2, &p, &plan), 0);
	assert_int_equal(plan.moved, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_planner_gain_poisson),
		cmocka_unit_test(test_planner_gain_negbin),
		cmocka_unit_test(test_planner_gain_normal),
		cmocka_unit_test(test_planner_demand_fit),
		cmocka_unit_test(test_planner_release_first),
		cmocka_unit_test(test_planner_release_then_transfer),
		cmocka_unit_test(test_planner_nearest_first),
		cmocka_unit_test(test_planner_next_nearest),
		cmocka_unit_test(test_planner_many_hubs),
		cmocka_unit_test(test_planner_never_moves_allocated),
		cmocka_unit_test(test_planner_source_keeps_cover),
		cmocka_unit_test(test_planner_holdback_first),
		cmocka_unit_test(test_planner_keep_blocks_release),
		cmocka_unit_test(test_planner_radius),
		cmocka_unit_test(test_planner_cost_bound),
		cmocka_unit_test(test_planner_trips_bounded),
		cmocka_unit_test(test_planner_ties),
		cmocka_unit_test(test_planner_transfer_min),
		cmocka_unit_test(test_planner_trip_max),
		cmocka_unit_test(test_planner_invalid),
		cmocka_unit_test(test_planner_random_invariants),
	    cmocka_unit_test(test_planner_incoming_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
