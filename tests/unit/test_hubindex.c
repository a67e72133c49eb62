/*
 * test_hubindex.c - unit tests for common/core/hubindex.c and
 * route_order_indexed: the index finds exactly the hubs the brute force
 * finds in range (none missed, none extra, same distances, same order),
 * and routing through it gives route_order's answer, over many seeded hub
 * sets and points - around cities, across the antimeridian, at and near
 * the poles, on the very edge of a radius - plus the odd hubs route.c
 * handles (impossible coordinates, NaN, negative, -0.0 and infinite
 * radii) and the refusals.
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
#include "core/hubindex.h"
#include "core/route.h"
#include "seeded.h"

#define PI 3.14159265358979323846
#define NHUB DN_HUBS_DEFAULT
#define SEEDS 400
#define POINTS 300

typedef struct {
	route_hub hub[NHUB];
	int64_t sell[NHUB][DN_ORDER_LINES_MAX];
	size_t n;
	hubindex ix;
	route_result a, b;
	route_candidate acand[NHUB], bcand[NHUB];
	route_candidate want[NHUB], got[NHUB];
} fixture;

static fixture fx;

static uint64_t rng;

static uint64_t rnd(void)
{
	return seeded_next(&rng);
}

static double unif(double lo, double hi)
{
	return seeded_unif(&rng, lo, hi);
}

/* A hub centre: around one of a few "cities", among them places on the
 * antimeridian and near both poles, or anywhere. */
static void centre(double *lat, double *lon)
{
	static const double city[][2] = { { 51.5, -0.1 }, { 48.9, 2.35 },
		{ -17.8, 179.9 }, { 65.0, -179.95 }, { 89.7, 10.0 },
		{ -89.9, -120.0 }, { 0.0, 0.0 }, { 0.0, 180.0 } };
	uint64_t k = rnd() % 10;
	if (k >= 8) {
		*lat = unif(-90.0, 90.0);
		*lon = unif(-180.0, 180.0);
		return;
	}
	seeded_dest(city[k][0], city[k][1], unif(0.0, 400.0), unif(0.0, 360.0), lat, lon);
}

/* Mostly 50-100 km; sometimes the bounds, the odd values route.c handles,
 * impossible coordinates or an exact pole or antimeridian. */
static void hub_make(route_hub *h)
{
	centre(&h->lat, &h->lon);
	h->radius_km = unif(50.0, 100.0);
	switch (rnd() % 40) {
	case 0: h->radius_km = DN_RADIUS_KM_MIN; break;
	case 1: h->radius_km = DN_RADIUS_KM_MAX; break;
	case 2: h->radius_km = NAN; break;
	case 3: h->radius_km = -5.0; break;
	case 4: h->radius_km = -0.0; break;
	case 5: h->radius_km = INFINITY; break;
	case 6: h->lat = NAN; break;
	case 7: h->lon = 200.0; h->radius_km = INFINITY; break;
	case 8: h->lat = 90.0; break;
	case 9: h->lon = (rnd() & 1) ? 180.0 : -180.0; break;
	case 10: h->radius_km = 5000.0; break;
	default: break;
	}
	h->healthy = rnd() % 5 != 0;
}

static void hubs_make(size_t n)
{
	fx.n = n;
	for (size_t i = 0; i < n; i++) {
		hub_make(&fx.hub[i]);
		fx.hub[i].sellable = fx.sell[i];
		for (size_t l = 0; l < DN_ORDER_LINES_MAX; l++) {
			fx.sell[i][l] = (int64_t)(rnd() % 4);
		}
	}
	/* Duplicated spots: ties broken by index. */
	if (n > 4) {
		fx.hub[n - 1].lat = fx.hub[0].lat;
		fx.hub[n - 1].lon = fx.hub[0].lon;
	}
	assert_int_equal(hubindex_build(&fx.ix, fx.hub, n), 0);
}

/* A query point: on the edge of a hub's radius (a hair in or out), at
 * a hub, at a pole, on the antimeridian, or anywhere. */
static void point_make(double *lat, double *lon)
{
	const route_hub *h = &fx.hub[rnd() % fx.n];
	uint64_t k = rnd() % 12;
	if (k < 6 && geo_coord_valid(h->lat, h->lon) && isfinite(h->radius_km)) {
		double km = fabs(h->radius_km) * (1.0 + unif(-1e-9, 1e-9));
		seeded_dest(h->lat, h->lon, k < 4 ? km : unif(0.0, km), unif(0.0, 360.0), lat, lon);
	} else if (k == 6 && geo_coord_valid(h->lat, h->lon)) {
		*lat = h->lat;
		*lon = h->lon;
	} else if (k == 7) {
		*lat = (rnd() & 1) ? 90.0 : -90.0;
		*lon = unif(-180.0, 180.0);
	} else if (k == 8) {
		*lat = unif(-90.0, 90.0);
		*lon = (rnd() & 1) ? 180.0 : -180.0;
	} else {
		centre(lat, lon);
	}
}

/* The brute force: every hub route.c counts in range, sorted. */
static size_t brute(double lat, double lon, route_candidate *out)
{
	size_t k = 0;
	for (size_t i = 0; i < fx.n; i++) {
		const route_hub *h = &fx.hub[i];
		double d = geo_coord_valid(h->lat, h->lon) ?
		    geo_distance_km(lat, lon, h->lat, h->lon) : INFINITY;
		if (!(d <= h->radius_km)) {
			continue;
		}
		size_t j = k++;
		while (j > 0 && (out[j - 1].distance_km > d ||
		    (out[j - 1].distance_km == d && out[j - 1].hub > i))) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = (route_candidate){ .hub = i, .distance_km = d };
	}
	return k;
}

/* hubindex_nearest against the brute force's list want[0..nw-1]: its
 * first hub, and its first healthy one. */
static void check_nearest(double lat, double lon, size_t nw)
{
	for (int healthy_only = 0; healthy_only <= 1; healthy_only++) {
		size_t k = 0;
		while (healthy_only && k < nw && !fx.hub[fx.want[k].hub].healthy) {
			k++;
		}
		route_candidate c;
		int rv = hubindex_nearest(&fx.ix, fx.hub, fx.n, lat, lon, healthy_only, &c);
		if (k == nw) {
			assert_int_equal(rv, DN_ENOENT);
			continue;
		}
		if (rv != 0 || c.hub != fx.want[k].hub ||
		    !(c.distance_km == fx.want[k].distance_km ||
		    (isinf(c.distance_km) && isinf(fx.want[k].distance_km)))) {
			fail_msg("nearest at (%.17g, %.17g) healthy_only %d: %d hub %zu,"
			    " brute force hub %zu", lat, lon, healthy_only, rv, c.hub,
			    fx.want[k].hub);
		}
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	route_result_init(&fx.a, fx.acand, NHUB);
	route_result_init(&fx.b, fx.bcand, NHUB);
	hubindex_init(&fx.ix);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hubindex_fini(&fx.ix);
	return 0;
}

/* Goal: over many seeded hub sets and points, the index answers exactly
 * the brute force's hubs, distances and order: a covering hub the index
 * misses (or an extra one) fails here, with the seed and point; and the
 * nearest covering hub (healthy or any) is the brute force's first. */
static void test_hubindex_matches_brute_force(void **state)
{
	(void)state;
	size_t checked = 0, covered = 0;
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		rng = seed;
		hubs_make(1 + rnd() % NHUB);
		for (size_t p = 0; p < POINTS; p++) {
			double lat, lon;
			point_make(&lat, &lon);
			size_t nw = brute(lat, lon, fx.want), ng = 0;
			int rv = hubindex_query(&fx.ix, fx.hub, fx.n, lat, lon, fx.got, NHUB, &ng);
			if (rv != 0 || ng != nw ||
			    memcmp(fx.want, fx.got, nw * sizeof(fx.want[0])) != 0) {
				fail_msg("seed %llu point %zu (%.17g, %.17g): index %d/%zu hubs,"
				    " brute force %zu", (unsigned long long)seed, p, lat, lon,
				    rv, ng, nw);
			}
			check_nearest(lat, lon, nw);
			checked++;
			covered += nw > 0;
		}
	}
	/* The points do exercise coverage, not only empty answers. */
	assert_true(covered > checked / 3);
}

/* Places hub i so that its cap's northern, southern, eastern or western
 * extreme lies a hair past a cell edge (the place a box cut too tight
 * would lose it), some across the antimeridian, and sets (*lat, *lon) to
 * that extreme pulled a hair inward. */
static void hub_at_cell_edge(size_t i, double *lat, double *lon)
{
	route_hub *h = &fx.hub[i];
	double r = unif(DN_RADIUS_KM_MIN, DN_RADIUS_KM_MAX);
	double d = r / GEO_EARTH_RADIUS_KM, d_deg = d * 180.0 / PI;
	double edge = HUBINDEX_CELL_DEG * (double)(long)unif(-100.0, 100.0);
	double past = unif(1e-12, 1e-9), in = 1.0 - 1e-12;
	uint64_t dir = rnd() % 4;
	*h = (route_hub){ .radius_km = r, .healthy = true, .sellable = fx.sell[i] };
	if (dir < 2) {
		/* North (0) or south (1): the extreme is d away on the meridian. */
		double s = dir == 0 ? 1.0 : -1.0;
		h->lat = edge + s * past - s * d_deg;
		h->lon = unif(-180.0, 180.0);
		*lat = h->lat + s * d_deg * in;
		*lon = h->lon;
		return;
	}
	/* East (2) or west (3): at the latitude of the widest point. */
	double s = dir == 2 ? 1.0 : -1.0;
	h->lat = unif(-80.0, 80.0);
	double p0 = h->lat * PI / 180.0;
	double w = asin(sin(d) / cos(p0)) * 180.0 / PI;
	double at = (rnd() % 4 == 0) ? s * 180.0 : remainder(edge * 3.0, 360.0);
	h->lon = remainder(at + s * past - s * w, 360.0);
	*lat = asin(sin(p0) / cos(d)) * 180.0 / PI;
	*lon = remainder(h->lon + s * w * in, 360.0);
}

/* Goal: a hub whose cap reaches a hair past a cell edge is found from a
 * point in that last sliver, whichever side, also across lon +-180: the
 * margin of the index's boxes is what keeps it, and a box cut even a
 * millionth too tight fails here. */
static void test_hubindex_cell_edges(void **state)
{
	(void)state;
	double plat[NHUB], plon[NHUB];
	size_t in_range = 0;
	for (uint64_t seed = 1; seed <= 100; seed++) {
		rng = seed * 104729;
		fx.n = NHUB;
		for (size_t i = 0; i < NHUB; i++) {
			hub_at_cell_edge(i, &plat[i], &plon[i]);
		}
		assert_int_equal(hubindex_build(&fx.ix, fx.hub, NHUB), 0);
		for (size_t i = 0; i < NHUB; i++) {
			size_t nw = brute(plat[i], plon[i], fx.want), ng = 0;
			assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, plat[i], plon[i],
			    fx.got, NHUB, &ng), 0);
			if (ng != nw || memcmp(fx.want, fx.got, nw * sizeof(fx.want[0])) != 0) {
				fail_msg("seed %llu hub %zu: index %zu hubs, brute force %zu",
				    (unsigned long long)seed, i, ng, nw);
			}
			check_nearest(plat[i], plon[i], nw);
			for (size_t k = 0; k < nw; k++) {
				in_range += fx.want[k].hub == i;
			}
		}
	}
	/* Nearly every sliver point is in its own hub's range. */
	assert_true(in_range > 100 * NHUB * 9 / 10);
}

/* Checks the indexed route against route_order: status and takes equal,
 * and cand[] the brute force's list without its out-of-range hubs. */
static void check_same_route(const route_result *a, const route_result *b)
{
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->ntake, b->ntake);
	assert_memory_equal(a->take, b->take, a->ntake * sizeof(a->take[0]));
	size_t k = 0;
	for (size_t p = 0; p < a->ncand; p++) {
		const route_candidate *c = &a->cand[p];
		if (c->verdict == ROUTE_VERDICT_OUT_OF_RANGE ||
		    !(c->distance_km <= fx.hub[c->hub].radius_km)) {
			continue;
		}
		assert_true(k < b->ncand);
		assert_int_equal(c->hub, b->cand[k].hub);
		assert_true(c->distance_km == b->cand[k].distance_km);
		assert_int_equal(c->verdict, b->cand[k].verdict);
		k++;
	}
	assert_int_equal(k, b->ncand);
}

/* Goal: routing through the index gives route_order's answer for every
 * seeded network, order and policy, stock and health varied. */
static void test_route_indexed_matches_route(void **state)
{
	(void)state;
	static const char *skus[] = { "a", "b", "c" };
	size_t accepted = 0;
	for (uint64_t seed = 1; seed <= SEEDS / 2; seed++) {
		rng = seed * 7919;
		hubs_make(1 + rnd() % NHUB);
		for (size_t p = 0; p < POINTS; p++) {
			route_line lines[3];
			size_t nl = 1 + rnd() % 3;
			for (size_t l = 0; l < nl; l++) {
				lines[l] = (route_line){ skus[l], (uint32_t)(1 + rnd() % 4) };
			}
			route_split_policy pol = (rnd() & 1) ? ROUTE_SPLIT_ALLOWED :
			    ROUTE_SPLIT_NEVER;
			double lat, lon;
			point_make(&lat, &lon);
			assert_int_equal(route_order(fx.hub, fx.n, lines, nl, lat, lon, pol,
			    &fx.a), 0);
			assert_int_equal(route_order_indexed(fx.hub, fx.n, &fx.ix, lines, nl,
			    lat, lon, pol, &fx.b), 0);
			check_same_route(&fx.a, &fx.b);
			accepted += fx.a.status == ROUTE_ACCEPTED;
		}
	}
	assert_true(accepted > 1000);
}

/* Goal: the named edges, one by one - a cap across the antimeridian seen
 * from the other side and from lon +-180, a cap over the north pole seen
 * from the pole and from across it, -0.0 covering only the hub's spot,
 * NaN and negative radii never in range, an infinite radius in range
 * even with impossible coordinates (as route.c ranks it). */
static void test_hubindex_edges(void **state)
{
	(void)state;
	route_hub h[6] = {
		{ .lat = 10.0, .lon = 179.9, .radius_km = 50.0 },
		{ .lat = 89.8, .lon = 45.0, .radius_km = 60.0 },
		{ .lat = 40.0, .lon = 5.0, .radius_km = -0.0 },
		{ .lat = 40.0, .lon = 5.0, .radius_km = NAN },
		{ .lat = NAN, .lon = 5.0, .radius_km = INFINITY },
		{ .lat = 40.0, .lon = 5.0, .radius_km = -1.0 },
	};
	size_t n = 0;
	assert_int_equal(hubindex_build(&fx.ix, h, 6), 0);
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 10.0, -179.8, fx.got, NHUB, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fx.got[0].hub, 0);
	assert_int_equal(fx.got[1].hub, 4);
	assert_true(isinf(fx.got[1].distance_km));
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 10.0, 180.0, fx.got, NHUB, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 10.0, -180.0, fx.got, NHUB, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fx.got[0].hub, 0);
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 90.0, -170.0, fx.got, NHUB, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fx.got[0].hub, 1);
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 89.9, -135.0, fx.got, NHUB, &n), 0);
	assert_int_equal(fx.got[0].hub, 1);
	assert_int_equal(hubindex_query(&fx.ix, h, 6, 40.0, 5.0, fx.got, NHUB, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fx.got[0].hub, 2);
	assert_true(fx.got[0].distance_km == 0.0);
	assert_int_equal(fx.got[1].hub, 4);
}

/* Goal: refusals - a count other than the index's, a bad point, NULLs,
 * more hubs than HUBINDEX_HUBS_MAX, more covering hubs than the caller's
 * room (DN_ERANGE, and route_order_indexed passes it on); and a listed hub
 * without sellable. */
static void test_hubindex_refusals(void **state)
{
	(void)state;
	size_t n = 0;
	route_line line = { "a", 1 };
	for (size_t i = 0; i < NHUB; i++) {
		fx.hub[i] = (route_hub){ .lat = 50.0, .lon = 0.0, .radius_km = 10.0,
			.healthy = true, .sellable = fx.sell[i] };
	}
	assert_int_equal(hubindex_build(&fx.ix, fx.hub, HUBINDEX_HUBS_MAX + 1), DN_EINVAL);
	assert_int_equal(hubindex_build(NULL, fx.hub, 1), DN_EINVAL);
	assert_int_equal(hubindex_build(&fx.ix, NULL, 1), DN_EINVAL);
	assert_int_equal(hubindex_build(&fx.ix, fx.hub, NHUB), 0);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB - 1, 50.0, 0.0, fx.got,
	    NHUB, &n), DN_EINVAL);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, 91.0, 0.0, fx.got,
	    NHUB, &n), DN_EINVAL);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, 50.0, NAN, fx.got,
	    NHUB, &n), DN_EINVAL);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, 50.0, 0.0, fx.got,
	    NHUB - 1, &n), DN_ERANGE);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, 50.0, 0.0, fx.got,
	    NHUB, &n), 0);
	assert_int_equal(n, NHUB);
	assert_int_equal(hubindex_query(&fx.ix, fx.hub, NHUB, 50.0, 0.0, NULL,
	    NHUB, &n), DN_EINVAL);
	assert_int_equal(route_order_indexed(fx.hub, NHUB, &fx.ix, &line, 1, 50.0, 0.0,
	    ROUTE_SPLIT_NEVER, &fx.b), 0);
	assert_int_equal(fx.b.status, ROUTE_SOLD_OUT);
	assert_int_equal(fx.b.ncand, NHUB);
	assert_int_equal(route_order_indexed(fx.hub, NHUB, NULL, &line, 1, 50.0, 0.0,
	    ROUTE_SPLIT_NEVER, &fx.b), DN_EINVAL);
	fx.hub[3].sellable = NULL;
	assert_int_equal(route_order_indexed(fx.hub, NHUB, &fx.ix, &line, 1, 50.0, 0.0,
	    ROUTE_SPLIT_NEVER, &fx.b), DN_EINVAL);
	/* Far away, the hub without sellable is not listed and not read. */
	assert_int_equal(route_order_indexed(fx.hub, NHUB, &fx.ix, &line, 1, 10.0, 0.0,
	    ROUTE_SPLIT_NEVER, &fx.b), 0);
	assert_int_equal(fx.b.status, ROUTE_NO_HUB_IN_RANGE);
	assert_int_equal(fx.b.ncand, 0);
}

/* Goal: after hubindex_reserve, builds up to its count never allocate
 * (the arrays stay where they are, even for hubs over a pole); and
 * hubindex_matches says when a rebuild is due - a moved hub, a changed
 * radius (also to NaN, or -0.0 from 0.0), another count. */
static void test_hubindex_reserve_matches(void **state)
{
	(void)state;
	rng = 99;
	assert_int_equal(hubindex_reserve(&fx.ix, HUBINDEX_HUBS_MAX + 1), DN_EINVAL);
	assert_int_equal(hubindex_reserve(&fx.ix, NHUB), 0);
	uint32_t *start = fx.ix.start, *entry = fx.ix.entry, *global = fx.ix.global;
	hubindex_site *site = fx.ix.site;
	for (int round = 0; round < 20; round++) {
		hubs_make(NHUB - (size_t)round);
		for (size_t i = 0; round % 2 == 0 && i < fx.n; i++) {
			fx.hub[i].lat = 89.0; /* many cells each: up to the global list */
			fx.hub[i].radius_km = unif(1.0, 1000.0);
		}
		assert_int_equal(hubindex_build(&fx.ix, fx.hub, fx.n), 0);
		assert_ptr_equal(fx.ix.start, start);
		assert_ptr_equal(fx.ix.entry, entry);
		assert_ptr_equal(fx.ix.global, global);
		assert_ptr_equal(fx.ix.site, site);
	}
	assert_true(hubindex_matches(&fx.ix, fx.hub, fx.n));
	assert_false(hubindex_matches(&fx.ix, fx.hub, fx.n - 1));
	fx.hub[7].lon += 1e-12;
	assert_false(hubindex_matches(&fx.ix, fx.hub, fx.n));
	fx.hub[7].lon -= 1e-12;
	fx.hub[7].lon = fx.ix.site[7].lon;
	assert_true(hubindex_matches(&fx.ix, fx.hub, fx.n));
	fx.hub[3].radius_km = 0.0;
	assert_int_equal(hubindex_build(&fx.ix, fx.hub, fx.n), 0);
	fx.hub[3].radius_km = -0.0;
	assert_false(hubindex_matches(&fx.ix, fx.hub, fx.n));
	fx.hub[3].radius_km = NAN;
	assert_false(hubindex_matches(&fx.ix, fx.hub, fx.n));
	assert_int_equal(hubindex_build(&fx.ix, fx.hub, fx.n), 0);
	assert_true(hubindex_matches(&fx.ix, fx.hub, fx.n));
	hubindex_fini(&fx.ix);
	assert_false(hubindex_matches(&fx.ix, fx.hub, 0));
}

/* Goal: a network beyond the result's room (what the brute force refuses) is
 * routed through the index: 10,000 hubs on a grid, the point's nearest
 * covering hub with stock takes the order. */
static void test_route_indexed_many_hubs(void **state)
{
	(void)state;
	enum { N = 10000 };
	static route_hub big[N];
	static int64_t sell[N];
	for (size_t i = 0; i < N; i++) {
		big[i] = (route_hub){ .lat = 40.0 + 0.2 * (double)(i / 100),
			.lon = -5.0 + 0.2 * (double)(i % 100), .radius_km = 30.0,
			.healthy = true, .sellable = &sell[i] };
		sell[i] = i % 2 == 0 ? 0 : 1;
	}
	route_line line = { "a", 1 };
	assert_int_equal(hubindex_build(&fx.ix, big, N), 0);
	/* At hub 5051 (odd: stocked) itself. */
	assert_int_equal(route_order_indexed(big, N, &fx.ix, &line, 1, big[5051].lat,
	    big[5051].lon, ROUTE_SPLIT_NEVER, &fx.b), 0);
	assert_int_equal(fx.b.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.b.take[0].hub, 5051);
	/* At hub 5050 (even: none): a neighbour 0.2 degrees away takes it. */
	assert_int_equal(route_order_indexed(big, N, &fx.ix, &line, 1, big[5050].lat,
	    big[5050].lon, ROUTE_SPLIT_NEVER, &fx.b), 0);
	assert_int_equal(fx.b.status, ROUTE_ACCEPTED);
	assert_int_equal(fx.b.cand[0].hub, 5050);
	assert_int_equal(fx.b.cand[0].verdict, ROUTE_VERDICT_NO_STOCK);
	assert_true(fx.b.ncand > 1 && fx.b.ncand < 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hubindex_matches_brute_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hubindex_cell_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_indexed_matches_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hubindex_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hubindex_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hubindex_reserve_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_indexed_many_hubs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
