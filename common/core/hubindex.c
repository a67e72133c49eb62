/*
 * hubindex.c - the hubs' spatial index (see hubindex.h).
 *
 * Layout: a compressed cell table. start[c]..start[c + 1] is the run of
 * entry[] that lists cell c's hubs, in ascending hub index (the build
 * walks hubs in order). Cell c = row * HUBINDEX_NCOLS + col, row counted
 * from latitude -90, col from longitude -180, both in HUBINDEX_CELL_DEG.
 *
 * Invariant the routing rule rests on: for every hub h and every valid
 * point p with geo_distance_km(p, h) <= h.radius_km, h is in p's cell or
 * in global[]. The box of a hub is computed from its cap with a margin
 * (HUBINDEX_MARGIN) far above the rounding of the cap formulas, and the
 * point and the box edges go through the same monotonic cell mapping, so
 * a point inside the true box is inside the listed cells.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/hubindex.h"

#define HUBINDEX_PI 3.14159265358979323846
#define HUBINDEX_NROWS ((size_t)180 * HUBINDEX_CELLS_PER_DEG)
#define HUBINDEX_NCOLS ((size_t)360 * HUBINDEX_CELLS_PER_DEG)
#define HUBINDEX_NCELLS (HUBINDEX_NROWS * HUBINDEX_NCOLS)
/* Widening of a cap's box, in degrees: ~1 mm, some 10^6 times the
 * rounding error of the formulas below, and harmless (the exact test
 * follows). */
#define HUBINDEX_MARGIN 1e-8

_Static_assert(HUBINDEX_CELLS_PER_DEG >= 1, "whole rows and columns");

/* Where a hub goes: nowhere (never in range), global[], or the cells of
 * rows r0..r1 by columns x0..x1 (taken modulo HUBINDEX_NCOLS). */
typedef enum { BOX_NONE, BOX_GLOBAL, BOX_CELLS } box_kind;

typedef struct {
	box_kind kind;
	size_t r0, r1;
	long x0, x1;
} hub_box;

static size_t hubindex_row(double lat)
{
	double r = floor((lat + 90.0) / HUBINDEX_CELL_DEG);
	if (r < 0.0) {
		return 0;
	}
	if (r >= (double)HUBINDEX_NROWS) {
		return HUBINDEX_NROWS - 1;
	}
	return (size_t)r;
}

/* The unwrapped column of a longitude: may be below 0 or at or above
 * HUBINDEX_NCOLS for a box edge past the antimeridian. */
static long hubindex_x(double lon)
{
	return (long)floor((lon + 180.0) / HUBINDEX_CELL_DEG);
}

static size_t hubindex_col(long x)
{
	long n = (long)HUBINDEX_NCOLS;
	return (size_t)(((x % n) + n) % n);
}

/* The box of hub h's cap. Mirrors route.c's test: a hub with impossible
 * coordinates is at an infinite distance (in range only of an infinite
 * radius), a NaN or negative radius is never in range (-0.0 covers the
 * hub's own spot). */
static hub_box hubindex_box(const route_hub *h)
{
	hub_box b = { .kind = BOX_NONE };
	double r = h->radius_km;

	if (!(r >= 0.0)) {
		return b;
	}
	if (!geo_coord_valid(h->lat, h->lon)) {
		b.kind = isinf(r) ? BOX_GLOBAL : BOX_NONE;
		return b;
	}
	double d_rad = r / GEO_EARTH_RADIUS_KM;
	double d_deg = d_rad * (180.0 / HUBINDEX_PI) * (1.0 + 1e-9) + HUBINDEX_MARGIN;
	if (!(d_deg < 90.0)) {
		b.kind = BOX_GLOBAL;
		return b;
	}
	double lat_lo = h->lat - d_deg, lat_hi = h->lat + d_deg;
	b.r0 = hubindex_row(lat_lo < -90.0 ? -90.0 : lat_lo);
	b.r1 = hubindex_row(lat_hi > 90.0 ? 90.0 : lat_hi);
	b.kind = BOX_CELLS;
	b.x0 = 0;
	b.x1 = (long)HUBINDEX_NCOLS - 1;
	if (lat_hi < 90.0 && lat_lo > -90.0) {
		/* The cap holds no pole: its widest longitude is
		 * asin(sin d / cos lat) away (d widened above). */
		double s = sin(d_deg * (HUBINDEX_PI / 180.0)) /
		    cos(h->lat * (HUBINDEX_PI / 180.0));
		if (s < 1.0) {
			double w = asin(s) * (180.0 / HUBINDEX_PI) * (1.0 + 1e-9) +
			    HUBINDEX_MARGIN;
			long x0 = hubindex_x(h->lon - w), x1 = hubindex_x(h->lon + w);
			if (x1 - x0 + 1 < (long)HUBINDEX_NCOLS) {
				b.x0 = x0;
				b.x1 = x1;
			}
		}
	}
	size_t cells = (b.r1 - b.r0 + 1) * (size_t)(b.x1 - b.x0 + 1);
	if (cells > HUBINDEX_CELLS_PER_HUB_MAX) {
		b.kind = BOX_GLOBAL;
	}
	return b;
}

void hubindex_init(hubindex *ix)
{
	memset(ix, 0, sizeof(*ix));
}

void hubindex_fini(hubindex *ix)
{
	if (ix == NULL) {
		return;
	}
	free(ix->start);
	free(ix->entry);
	free(ix->global);
	free(ix->site);
	hubindex_init(ix);
}

/* Grows *arr to hold want uint32s. */
static int hubindex_reserve_u32(uint32_t **arr, size_t *cap, size_t want)
{
	if (want <= *cap) {
		return 0;
	}
	uint32_t *p = realloc(*arr, want * sizeof(*p));
	if (p == NULL) {
		return DN_ENOMEM;
	}
	*arr = p;
	*cap = want;
	return 0;
}

/* The site of hub h. The dot product of two unit vectors is the cosine of
 * their angle to ~1e-15; dot_min is the cosine of the radius' angle
 * widened by 1e-9 (relative) + 1e-9 rad (6 mm) and lowered by 1e-12, so
 * no point route.c finds in range is ever below it. A hub the test cannot
 * judge (impossible coordinates, a radius of half the globe or more, NaN)
 * gets -2: always measured. */
static hubindex_site hubindex_site_of(const route_hub *h)
{
	hubindex_site s = { .dot_min = -2.0, .cos_lat = NAN, .lat = h->lat,
		.lon = h->lon, .radius_km = h->radius_km };
	if (!geo_coord_valid(h->lat, h->lon)) {
		return s;
	}
	double p = h->lat * (HUBINDEX_PI / 180.0), l = h->lon * (HUBINDEX_PI / 180.0);
	s.x = cos(p) * cos(l);
	s.y = cos(p) * sin(l);
	s.z = sin(p);
	s.cos_lat = geo_cos_lat(h->lat);
	double a = h->radius_km / GEO_EARTH_RADIUS_KM * (1.0 + 1e-9) + 1e-9;
	if (a < HUBINDEX_PI - 1e-6) {
		s.dot_min = cos(a) - 1e-12;
	}
	return s;
}

static int hubindex_site_reserve(hubindex *ix, size_t want)
{
	if (want <= ix->site_cap) {
		return 0;
	}
	hubindex_site *p = realloc(ix->site, want * sizeof(*p));
	if (p == NULL) {
		return DN_ENOMEM;
	}
	ix->site = p;
	ix->site_cap = want;
	return 0;
}

/* Counts (fill == false: start[c + 1] += 1) or places (fill: entry at
 * start[c]++, start then points one cell on) hub i in each cell of b. */
static void hubindex_walk(hubindex *ix, const hub_box *b, uint32_t i, bool fill)
{
	for (size_t row = b->r0; row <= b->r1; row++) {
		for (long x = b->x0; x <= b->x1; x++) {
			size_t c = row * HUBINDEX_NCOLS + hubindex_col(x);
			if (fill) {
				ix->entry[ix->start[c]++] = i;
			} else {
				ix->start[c + 1]++;
			}
		}
	}
}

/* First pass: counts each cell's hubs into start[c + 1] and the global
 * hubs into *nglobal, and returns the total of cell entries. */
static size_t hubindex_count(hubindex *ix, const route_hub *hubs, size_t n,
    size_t *nglobal)
{
	size_t total = 0;
	*nglobal = 0;
	memset(ix->start, 0, (HUBINDEX_NCELLS + 1) * sizeof(*ix->start));
	for (size_t i = 0; i < n; i++) {
		hub_box b = hubindex_box(&hubs[i]);
		if (b.kind == BOX_GLOBAL) {
			(*nglobal)++;
		} else if (b.kind == BOX_CELLS) {
			hubindex_walk(ix, &b, (uint32_t)i, false);
			total += (b.r1 - b.r0 + 1) * (size_t)(b.x1 - b.x0 + 1);
		}
	}
	return total;
}

static int hubindex_start_alloc(hubindex *ix)
{
	if (ix->start == NULL) {
		ix->start = calloc(HUBINDEX_NCELLS + 1, sizeof(*ix->start));
	}
	return ix->start == NULL ? DN_ENOMEM : 0;
}

int hubindex_reserve(hubindex *ix, size_t nhubs_max)
{
	if (ix == NULL || nhubs_max > HUBINDEX_HUBS_MAX) {
		return DN_EINVAL;
	}
	if (hubindex_start_alloc(ix) != 0 ||
	    hubindex_reserve_u32(&ix->entry, &ix->entry_cap,
	    nhubs_max * HUBINDEX_CELLS_PER_HUB_MAX) != 0 ||
	    hubindex_reserve_u32(&ix->global, &ix->global_cap, nhubs_max) != 0 ||
	    hubindex_site_reserve(ix, nhubs_max) != 0) {
		return DN_ENOMEM;
	}
	return 0;
}

static bool same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

bool hubindex_matches(const hubindex *ix, const route_hub *hubs, size_t n)
{
	if (ix == NULL || ix->start == NULL || n != ix->nhubs) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const hubindex_site *s = &ix->site[i];
		if (!same_bits(s->lat, hubs[i].lat) || !same_bits(s->lon, hubs[i].lon) ||
		    !same_bits(s->radius_km, hubs[i].radius_km)) {
			return false;
		}
	}
	return true;
}

int hubindex_build(hubindex *ix, const route_hub *hubs, size_t n)
{
	if (ix == NULL || (hubs == NULL && n > 0) || n > HUBINDEX_HUBS_MAX) {
		return DN_EINVAL;
	}
	ix->nhubs = 0;
	ix->nentry = ix->nglobal = 0;
	if (hubindex_start_alloc(ix) != 0) {
		return DN_ENOMEM;
	}
	size_t nglobal = 0;
	size_t total = hubindex_count(ix, hubs, n, &nglobal);
	/* At most HUBINDEX_HUBS_MAX * HUBINDEX_CELLS_PER_HUB_MAX: fits. */
	if (hubindex_reserve_u32(&ix->entry, &ix->entry_cap, total) != 0 ||
	    hubindex_reserve_u32(&ix->global, &ix->global_cap, nglobal) != 0 ||
	    hubindex_site_reserve(ix, n) != 0) {
		memset(ix->start, 0, (HUBINDEX_NCELLS + 1) * sizeof(*ix->start));
		return DN_ENOMEM;
	}
	/* Prefix sums: start[c] is where cell c's run begins. */
	for (size_t c = 1; c <= HUBINDEX_NCELLS; c++) {
		ix->start[c] += ix->start[c - 1];
	}
	for (size_t i = 0; i < n; i++) {
		ix->site[i] = hubindex_site_of(&hubs[i]);
		hub_box b = hubindex_box(&hubs[i]);
		if (b.kind == BOX_GLOBAL) {
			ix->global[ix->nglobal++] = (uint32_t)i;
		} else if (b.kind == BOX_CELLS) {
			hubindex_walk(ix, &b, (uint32_t)i, true);
		}
	}
	/* Each start[c] moved to the end of its run, the next cell's begin:
	 * shift back by one cell. */
	memmove(ix->start + 1, ix->start, HUBINDEX_NCELLS * sizeof(*ix->start));
	ix->start[0] = 0;
	ix->nentry = total;
	ix->nhubs = n;
	return 0;
}

static bool hubindex_before(const route_candidate *a, const route_candidate *b)
{
	if (a->distance_km != b->distance_km) {
		return a->distance_km < b->distance_km;
	}
	return a->hub < b->hub;
}

/* The point a query is about: its coordinates, unit vector and the
 * cosine of its latitude. */
typedef struct {
	double lat, lon, x, y, z, cos_lat;
} query_point;

/* Measures hub i as route.c does (unless its dot product puts it surely
 * out of range) and, if its radius covers the point, inserts it in hit[]
 * by (distance, index). Returns DN_ERANGE when hit[] is full. */
static int hubindex_consider(const hubindex *ix, const route_hub *hubs,
    uint32_t i, const query_point *q, route_candidate *hit, size_t cap,
    size_t *nhit)
{
	const hubindex_site *s = &ix->site[i];
	if (q->x * s->x + q->y * s->y + q->z * s->z < s->dot_min) {
		return 0;
	}
	const route_hub *h = &hubs[i];
	double d = isnan(s->cos_lat) ? INFINITY : geo_distance_km_cos(q->lat,
	    q->lon, q->cos_lat, h->lat, h->lon, s->cos_lat);
	if (!(d <= h->radius_km)) {
		return 0;
	}
	if (*nhit == cap) {
		return DN_ERANGE;
	}
	route_candidate c = { .hub = i, .distance_km = d };
	size_t j = (*nhit)++;
	while (j > 0 && hubindex_before(&c, &hit[j - 1])) {
		hit[j] = hit[j - 1];
		j--;
	}
	hit[j] = c;
	return 0;
}

/* The query's checks and its point; 0 or DN_EINVAL. */
static int hubindex_point(const hubindex *ix, const route_hub *hubs, size_t n,
    double lat, double lon, query_point *q)
{
	if (ix == NULL || (hubs == NULL && n > 0) || n != ix->nhubs ||
	    !geo_coord_valid(lat, lon)) {
		return DN_EINVAL;
	}
	double p = lat * (HUBINDEX_PI / 180.0), l = lon * (HUBINDEX_PI / 180.0);
	*q = (query_point){ .lat = lat, .lon = lon, .x = cos(p) * cos(l),
		.y = cos(p) * sin(l), .z = sin(p), .cos_lat = geo_cos_lat(lat) };
	return 0;
}

static size_t hubindex_cell(double lat, double lon)
{
	return hubindex_row(lat) * HUBINDEX_NCOLS + hubindex_col(hubindex_x(lon));
}

int hubindex_query(const hubindex *ix, const route_hub *hubs, size_t n,
    double lat, double lon, route_candidate *hit, size_t cap, size_t *nhit)
{
	query_point q;
	if (nhit != NULL) {
		*nhit = 0;
	}
	if (nhit == NULL || (hit == NULL && cap > 0) ||
	    hubindex_point(ix, hubs, n, lat, lon, &q) != 0) {
		return DN_EINVAL;
	}
	if (n == 0) {
		return 0;
	}
	size_t c = hubindex_cell(lat, lon);
	int rv = 0;
	for (uint32_t k = ix->start[c]; rv == 0 && k < ix->start[c + 1]; k++) {
		rv = hubindex_consider(ix, hubs, ix->entry[k], &q, hit, cap, nhit);
	}
	for (size_t k = 0; rv == 0 && k < ix->nglobal; k++) {
		rv = hubindex_consider(ix, hubs, ix->global[k], &q, hit, cap, nhit);
	}
	return rv;
}

/* Slack on the dot product when ruling a hub out as farther than the best
 * so far: the dot products and the haversine distances each round at
 * ~1e-15, so a hub 1e-12 below the best one's dot is surely farther. */
#define HUBINDEX_DOT_SLACK 1e-12

/* hubindex_nearest's step for hub i: measured exactly only when its dot
 * product may match or beat the best covering hub so far (*best_dot). */
static void hubindex_nearer(const hubindex *ix, const route_hub *hubs,
    uint32_t i, const query_point *q, bool healthy_only, route_candidate *best,
    double *best_dot)
{
	const hubindex_site *s = &ix->site[i];
	double dot = q->x * s->x + q->y * s->y + q->z * s->z;
	const route_hub *h = &hubs[i];
	if (dot < s->dot_min || dot < *best_dot - HUBINDEX_DOT_SLACK ||
	    (healthy_only && !h->healthy)) {
		return;
	}
	double d = isnan(s->cos_lat) ? INFINITY : geo_distance_km_cos(q->lat,
	    q->lon, q->cos_lat, h->lat, h->lon, s->cos_lat);
	if (!(d <= h->radius_km)) {
		return;
	}
	route_candidate c = { .hub = i, .distance_km = d };
	if (best->hub == SIZE_MAX || hubindex_before(&c, best)) {
		*best = c;
	}
	/* An infinite-distance hub (impossible coordinates, infinite radius)
	 * rules nothing out. */
	if (!isnan(s->cos_lat) && dot > *best_dot) {
		*best_dot = dot;
	}
}

int hubindex_nearest(const hubindex *ix, const route_hub *hubs, size_t n,
    double lat, double lon, bool healthy_only, route_candidate *out)
{
	query_point q;
	if (out == NULL || hubindex_point(ix, hubs, n, lat, lon, &q) != 0) {
		return DN_EINVAL;
	}
	route_candidate best = { .hub = SIZE_MAX, .distance_km = INFINITY };
	double best_dot = -2.0;
	if (n > 0) {
		size_t c = hubindex_cell(lat, lon);
		for (uint32_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
			hubindex_nearer(ix, hubs, ix->entry[k], &q, healthy_only, &best, &best_dot);
		}
		for (size_t k = 0; k < ix->nglobal; k++) {
			hubindex_nearer(ix, hubs, ix->global[k], &q, healthy_only, &best, &best_dot);
		}
	}
	if (best.hub == SIZE_MAX) {
		return DN_ENOENT;
	}
	*out = best;
	return 0;
}
