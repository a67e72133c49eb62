/*
 * seeded.h - seeded hub sets for the tests that compare the spatial index
 * (core/hubindex.h) with measuring every hub: one splitmix64 stream per
 * seed, and the point at a distance and bearing from another.
 */
#ifndef DN_TEST_SEEDED_H
#define DN_TEST_SEEDED_H
#include <math.h>
#include <stdint.h>
#include "core/geo.h"

#define SEEDED_PI 3.14159265358979323846

/* splitmix64: one seed, one sequence. */
static inline uint64_t seeded_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double seeded_unif(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(seeded_next(s) >> 11) / 9007199254740992.0);
}

/* The point at angular distance km and bearing deg from (lat, lon), its
 * longitude in [-180, 180]. */
static inline void seeded_dest(double lat, double lon, double km, double bearing,
    double *olat, double *olon)
{
	double p1 = lat * SEEDED_PI / 180.0, l1 = lon * SEEDED_PI / 180.0;
	double d = km / GEO_EARTH_RADIUS_KM, t = bearing * SEEDED_PI / 180.0;
	double s = sin(p1) * cos(d) + cos(p1) * sin(d) * cos(t);
	s = s > 1.0 ? 1.0 : (s < -1.0 ? -1.0 : s);
	double p2 = asin(s);
	double l2 = l1 + atan2(sin(t) * sin(d) * cos(p1), cos(d) - sin(p1) * s);
	*olat = p2 * 180.0 / SEEDED_PI;
	*olon = remainder(l2 * 180.0 / SEEDED_PI, 360.0);
	if (*olon < -180.0 || *olon > 180.0) {
		*olon = 180.0;
	}
}

#endif
