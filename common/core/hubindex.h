/*
 * hubindex.h - a spatial index of hubs for routing: which hubs' service
 * radius may cover a ship-to point, without measuring the distance to
 * every hub. Pure and deterministic: no clock, no I/O; memory is allocated
 * by hubindex_build only (never by a query), so a caller that builds when
 * its registry changes queries without allocating.
 *
 * The structure: a latitude/longitude grid of HUBINDEX_CELL_DEG cells.
 * Each hub is listed in every cell its service area's bounding box touches
 * (the spherical cap of radius_km around it, widened by a small margin so
 * rounding can never leave a covering hub out); a hub whose box touches
 * more than HUBINDEX_CELLS_PER_HUB_MAX cells (a cap over a pole, a huge or
 * infinite radius) is kept in a short list checked for every point
 * instead. A query looks at one cell and that list, skips the hubs a dot
 * product of unit vectors puts surely out of range, and measures the
 * distance to the others only, with the exact test route.c uses
 * (geo_distance_km <= radius_km, a hub with impossible coordinates at an
 * infinite distance, a NaN radius never in range). So it answers exactly
 * the hubs the brute force finds in range, nearest first, ties by lower
 * hub index - the order route.h states.
 *
 * Longitude wraps: cell columns are taken modulo 360 degrees, so a cap
 * that crosses the antimeridian is listed on both sides and lon -180 and
 * lon 180 fall in the same column. Latitude does not wrap: a cap that
 * reaches a pole covers every column of its rows.
 *
 * Thread model: a built index is read-only; queries on it may run from
 * any number of threads. Build and fini need the caller's exclusion.
 */
#ifndef DN_HUBINDEX_H
#define DN_HUBINDEX_H
#include <stddef.h>
#include <stdint.h>
#include "core/route.h"

/* Cell edge, degrees: about 55 km of latitude, under the 50-100 km service
 * radius hubs typically have, so a cell lists few hubs a point is outside
 * of, while a hub of 100 km touches some 15-30 cells. */
/* Cells per degree (an integer, so the grid's size is a constant
 * expression for every compiler); HUBINDEX_CELL_DEG is its inverse. */
#define HUBINDEX_CELLS_PER_DEG 2
#define HUBINDEX_CELL_DEG (1.0 / HUBINDEX_CELLS_PER_DEG)

/* Hubs one index holds: entries are 32-bit hub indices, and 65,536 is
 * far above the 10,000 hubs the scale target names. */
#define HUBINDEX_HUBS_MAX 65536u

/* Cells one hub may be listed in before it goes to the all-points list:
 * a cap over a pole touches every column (720) of its rows, and a radius
 * of DN_RADIUS_KM_MAX at 60 degrees some 40 x 75 cells; either is better
 * checked once per query than copied into thousands of cells. */
#define HUBINDEX_CELLS_PER_HUB_MAX 1024u

/* What a query needs of one hub besides its cells: its unit vector and
 * the least dot product with a point it may cover (a cheap test that
 * only ever lets too many through, never too few), and the cosine of its
 * latitude for geo_distance_km_cos (NaN: impossible coordinates). */
typedef struct {
	double x, y, z, dot_min, cos_lat;
	double lat, lon, radius_km; /* as built: hubindex_matches */
} hubindex_site;

typedef struct hubindex {
	size_t nhubs;        /* the hubs it was built over */
	uint32_t *start;     /* per cell, where its hubs begin in entry[];
	                      * HUBINDEX_NCELLS + 1 offsets */
	uint32_t *entry;     /* hub indices, ascending within a cell */
	size_t nentry, entry_cap;
	uint32_t *global;    /* hubs checked for every point, ascending */
	size_t nglobal, global_cap;
	hubindex_site *site; /* nhubs of them */
	size_t site_cap;
} hubindex;

/* Makes an empty index (no memory yet). */
void hubindex_init(hubindex *ix);

/* Frees what the index holds; accepts NULL. The index is empty after. */
void hubindex_fini(hubindex *ix);

/* Allocates, once, all the memory builds over up to nhubs_max hubs can
 * need (worst case: every hub in HUBINDEX_CELLS_PER_HUB_MAX cells; 1 MB of
 * cell table plus 4 KB per hub), so those builds never allocate: for a
 * caller that must not allocate per input. Returns 0, DN_EINVAL over
 * HUBINDEX_HUBS_MAX, or DN_ENOMEM. */
int hubindex_reserve(hubindex *ix, size_t nhubs_max);

/* True when the index was built over n hubs with exactly these positions
 * and radii (bit for bit), i.e. needs no rebuild. O(n), no distance. */
bool hubindex_matches(const hubindex *ix, const route_hub *hubs, size_t n);

/* (Re)builds the index over hubs[0..n-1]: only their lat, lon and
 * radius_km are read, and the index must be rebuilt whenever any of
 * those, or n, change. Returns 0, DN_EINVAL for n > HUBINDEX_HUBS_MAX or a
 * NULL pointer, or DN_ENOMEM (the index is then empty, nhubs 0). */
int hubindex_build(hubindex *ix, const route_hub *hubs, size_t n);

/* Finds every hub of hubs[] (the array the index was built over, same n)
 * whose radius covers (lat, lon): fills hit[0..*nhit-1] with its index and
 * distance (verdict left 0), nearest first, ties by lower index. Returns 0;
 * DN_EINVAL for an invalid point (geo_coord_valid), a NULL pointer or an
 * index built over another count; DN_ERANGE when more than cap hubs cover
 * the point (hit[] then holds cap of them, in no defined order). Never
 * allocates. */
int hubindex_query(const hubindex *ix, const route_hub *hubs, size_t n,
    double lat, double lon, route_candidate *hit, size_t cap, size_t *nhit);

/* The nearest hub whose radius covers (lat, lon), healthy ones only if
 * healthy_only: *out gets its index and distance - exactly hit[0] of
 * hubindex_query (of its healthy hits), ties by lower index - with one
 * exact distance for only the few hubs a dot product cannot rule out.
 * Returns 0; DN_ENOENT when no hub covers the point; DN_EINVAL as
 * hubindex_query. Never allocates. */
int hubindex_nearest(const hubindex *ix, const route_hub *hubs, size_t n,
    double lat, double lon, bool healthy_only, route_candidate *out);

#endif
