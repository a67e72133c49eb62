/*
 * route_bench.c - the nearest-hub query at 256, 1,000 and 10,000 hubs,
 * brute force against the spatial index (common/core/hubindex.c), in one
 * run on the same hubs and the same points. Prints figures; asserts
 * nothing but that both answer the same (a bench, not a test:
 * tests/unit/test_hubindex.c is the test).
 *
 * The network: hubs around 100 cities in a box of some 2,000 km (lat 42-60,
 * lon -5..25), each within 120 km of its city, radius 50-100 km. Ship-to
 * points: around the same cities, within 200 km (some in no hub's range).
 *
 * Timed per query with CLOCK_MONOTONIC (its own cost, ~20-30 ns, is in
 * every figure), every point R times in interleaved rounds: "min" is the
 * percentiles over points of each point's least timing (the query's own
 * cost, without what a shared machine's scheduler adds), "raw" those of
 * every timing. "brute" measures every hub and keeps the covering ones
 * sorted, as route.c's ranking does for the in-range hubs; "index" is
 * hubindex_query (the same list); "nearest" is hubindex_nearest (the
 * first of that list: the nearest covering hub); "route" and "route_ix" are whole route_order and
 * route_order_indexed calls (one line, SPLIT_NEVER; route_order only up to
 * BENCH_CAND hubs).
 *
 *   route_bench [--queries N] [--rounds R] [--seed S]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/hubindex.h"
#include "core/route.h"

#define CITIES 100
/* Candidates one answer holds (the route result's room): the default
 * registry's size, far above the covering hubs of any point here. */
#define BENCH_CAND 256u
#define PI 3.14159265358979323846

static uint64_t rng = 1;

static double unif(double lo, double hi)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return lo + (hi - lo) * ((double)(z >> 11) / 9007199254740992.0);
}

static double city[CITIES][2];

/* A point within km of a random city (uniform over the disc, flat
 * approximation: good enough for a spread). */
static void near_city(double km, double *lat, double *lon)
{
	int c = (int)unif(0.0, CITIES);
	double r = km * sqrt(unif(0.0, 1.0)), t = unif(0.0, 2.0 * PI);
	*lat = city[c][0] + r * cos(t) / 111.2;
	*lon = city[c][1] + r * sin(t) / (111.2 * cos(city[c][0] * PI / 180.0));
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ns[r * q + k]: round r's timing of point k. Prints the percentiles of
 * every timing ("raw": what a loaded machine's scheduler adds is in it)
 * and of each point's least timing over the rounds ("min"): the cost of
 * the query itself, point by point. */
static void report(const char *what, size_t n, uint64_t *ns, size_t q, size_t rounds)
{
	uint64_t *least = calloc(q, sizeof(*least));
	if (least == NULL) {
		return;
	}
	for (size_t k = 0; k < q; k++) {
		least[k] = ns[k];
		for (size_t r = 1; r < rounds; r++) {
			least[k] = ns[r * q + k] < least[k] ? ns[r * q + k] : least[k];
		}
	}
	qsort(least, q, sizeof(*least), cmp_u64);
	qsort(ns, q * rounds, sizeof(*ns), cmp_u64);
	size_t t = q * rounds;
	printf("%-8s hubs=%-6zu points=%-6zu min: p50=%8.2f p99=%8.2f max=%8.2f us"
	    "   raw: p50=%8.2f p99=%8.2f max=%9.2f us\n", what, n, q,
	    (double)least[q / 2] / 1e3, (double)least[q * 99 / 100] / 1e3,
	    (double)least[q - 1] / 1e3, (double)ns[t / 2] / 1e3,
	    (double)ns[t * 99 / 100] / 1e3, (double)ns[t - 1] / 1e3);
	free(least);
}

/* The brute force: every hub measured, the covering ones kept sorted. */
static size_t brute(const route_hub *h, size_t n, double lat, double lon,
    route_candidate *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		double d = geo_distance_km(lat, lon, h[i].lat, h[i].lon);
		if (!(d <= h[i].radius_km) || k == BENCH_CAND) {
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

typedef struct {
	route_hub *hub;
	int64_t *sell;
	double (*pt)[2];
	uint64_t *ns_brute, *ns_index, *ns_nearest, *ns_route, *ns_route_ix;
	route_candidate a[BENCH_CAND], b[BENCH_CAND], rc[BENCH_CAND];
	route_result rr;
	hubindex ix;
} bench;

/* Round r of the index queries over q points and of the brute force over
 * the first qb of them, checking they agree; returns 0 or 1 (they
 * differ). */
static int run_query(bench *b, size_t n, size_t q, size_t qb, size_t r,
    size_t *covered)
{
	for (size_t k = 0; k < q; k++) {
		size_t na = 0, nb = 0;
		uint64_t t0 = now_ns();
		int rv = hubindex_query(&b->ix, b->hub, n, b->pt[k][0], b->pt[k][1], b->b,
		    BENCH_CAND, &nb);
		uint64_t t1 = now_ns();
		route_candidate near;
		int rn = hubindex_nearest(&b->ix, b->hub, n, b->pt[k][0], b->pt[k][1],
		    false, &near);
		uint64_t t2 = now_ns();
		b->ns_index[r * q + k] = t1 - t0;
		b->ns_nearest[r * q + k] = t2 - t1;
		if (rv != 0 || (nb == 0 ? rn != DN_ENOENT : rn != 0 || near.hub != b->b[0].hub)) {
			fprintf(stderr, "route_bench: nearest is not the list's first at %zu\n", k);
			return 1;
		}
		*covered += nb;
		if (k >= qb) {
			continue;
		}
		t0 = now_ns();
		na = brute(b->hub, n, b->pt[k][0], b->pt[k][1], b->a);
		b->ns_brute[r * qb + k] = now_ns() - t0;
		if (na != nb || memcmp(b->a, b->b, na * sizeof(b->a[0])) != 0) {
			fprintf(stderr, "route_bench: index and brute force differ at point %zu\n", k);
			return 1;
		}
	}
	return 0;
}

/* Round r of whole route calls over q points. */
static int run_route(bench *b, size_t n, size_t q, size_t r)
{
	route_line line = { "a", 1 };
	for (size_t k = 0; k < q; k++) {
		uint64_t t0 = now_ns();
		int rv = route_order_indexed(b->hub, n, &b->ix, &line, 1, b->pt[k][0],
		    b->pt[k][1], ROUTE_SPLIT_NEVER, &b->rr);
		b->ns_route_ix[r * q + k] = now_ns() - t0;
		if (rv != 0) {
			return 1;
		}
		if (n <= BENCH_CAND) {
			t0 = now_ns();
			rv = route_order(b->hub, n, &line, 1, b->pt[k][0], b->pt[k][1],
			    ROUTE_SPLIT_NEVER, &b->rr);
			b->ns_route[r * q + k] = now_ns() - t0;
		}
	}
	return 0;
}

static int run_size(bench *b, size_t n, size_t q, size_t rounds)
{
	for (size_t i = 0; i < n; i++) {
		near_city(120.0, &b->hub[i].lat, &b->hub[i].lon);
		b->hub[i].radius_km = unif(50.0, 100.0);
		b->hub[i].healthy = true;
		b->sell[i] = (int64_t)unif(0.0, 3.0);
		b->hub[i].sellable = &b->sell[i];
	}
	uint64_t t0 = now_ns();
	if (hubindex_build(&b->ix, b->hub, n) != 0) {
		return 1;
	}
	printf("build    hubs=%-6zu %.2f ms, %zu cell entries, %zu hubs checked"
	    " for every point\n", n, (double)(now_ns() - t0) / 1e6, b->ix.nentry,
	    b->ix.nglobal);
	/* The brute force at 10,000 hubs costs ~0.3 ms a point: fewer points
	 * (the first ones; the index is checked against it on those). */
	size_t qb = q < 4000000 / n ? q : 4000000 / n, covered = 0;
	for (size_t r = 0; r < rounds; r++) {
		if (run_query(b, n, q, qb, r, &covered) != 0 || run_route(b, n, q, r) != 0) {
			return 1;
		}
	}
	printf("answers  hubs=%-6zu %.1f covering hubs per point on average\n", n,
	    (double)covered / (double)(q * rounds));
	report("brute", n, b->ns_brute, qb, rounds);
	report("index", n, b->ns_index, q, rounds);
	report("nearest", n, b->ns_nearest, q, rounds);
	if (n <= BENCH_CAND) {
		report("route", n, b->ns_route, q, rounds);
	}
	report("route_ix", n, b->ns_route_ix, q, rounds);
	return 0;
}

int main(int argc, char **argv)
{
	size_t q = 20000, rounds = 5;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc) {
			q = strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			rng = strtoull(argv[++i], NULL, 10);
		} else {
			printf("usage: route_bench [--queries N] [--rounds R] [--seed S]\n"
			    "  times the nearest-hub query (brute force and spatial index)\n"
			    "  and whole route calls at 256, 1,000 and 10,000 hubs, each\n"
			    "  point R times (default 20000 points, 5 rounds)\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (q < 100) {
		q = 100;
	}
	if (rounds < 1) {
		rounds = 1;
	}
	static const size_t sizes[] = { 256, 1000, 10000 };
	bench *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return 1;
	}
	route_result_init(&b->rr, b->rc, BENCH_CAND);
	b->hub = calloc(10000, sizeof(*b->hub));
	b->sell = calloc(10000, sizeof(*b->sell));
	b->pt = calloc(q, sizeof(*b->pt));
	b->ns_brute = calloc(q * rounds, sizeof(uint64_t));
	b->ns_index = calloc(q * rounds, sizeof(uint64_t));
	b->ns_nearest = calloc(q * rounds, sizeof(uint64_t));
	b->ns_route = calloc(q * rounds, sizeof(uint64_t));
	b->ns_route_ix = calloc(q * rounds, sizeof(uint64_t));
	if (b->hub == NULL || b->sell == NULL || b->pt == NULL || b->ns_brute == NULL ||
	    b->ns_index == NULL || b->ns_nearest == NULL || b->ns_route == NULL || b->ns_route_ix == NULL) {
		return 1;
	}
	for (int c = 0; c < CITIES; c++) {
		city[c][0] = unif(42.0, 60.0);
		city[c][1] = unif(-5.0, 25.0);
	}
	for (size_t k = 0; k < q; k++) {
		near_city(200.0, &b->pt[k][0], &b->pt[k][1]);
	}
	hubindex_init(&b->ix);
	int rv = 0;
	for (size_t s = 0; rv == 0 && s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		rv = run_size(b, sizes[s], q, rounds);
	}
	hubindex_fini(&b->ix);
	free(b->hub);
	free(b->sell);
	free(b->pt);
	free(b->ns_brute);
	free(b->ns_index);
	free(b->ns_nearest);
	free(b->ns_route);
	free(b->ns_route_ix);
	free(b);
	return rv;
}
