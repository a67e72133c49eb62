/*
 * geo.c - great-circle distance on the mean sphere (see geo.h).
 *
 * Haversine rather than the spherical law of cosines: it stays accurate for
 * the short distances routing cares about (a few km) where acos loses digits.
 * Pure: no state, safe from any thread.
 */
#include <math.h>
#include "core/geo.h"

#define GEO_PI 3.14159265358979323846

static double geo_rad(double deg)
{
	return deg * (GEO_PI / 180.0);
}

double geo_cos_lat(double lat)
{
	return cos(geo_rad(lat));
}

double geo_distance_km_cos(double lat1, double lon1, double cos1, double lat2,
    double lon2, double cos2)
{
	double dlat = geo_rad(lat2 - lat1);
	double dlon = geo_rad(lon2 - lon1);
	double s1 = sin(dlat / 2.0);
	double s2 = sin(dlon / 2.0);
	double a = s1 * s1 + cos1 * cos2 * s2 * s2;

	/* Rounding can push a a hair outside [0, 1] for antipodal points;
	 * clamp so asin stays defined and the result stays in [0, pi * R]. */
	if (a < 0.0) {
		a = 0.0;
	} else if (a > 1.0) {
		a = 1.0;
	}
	return 2.0 * GEO_EARTH_RADIUS_KM * asin(sqrt(a));
}

double geo_distance_km(double lat1, double lon1, double lat2, double lon2)
{
	return geo_distance_km_cos(lat1, lon1, geo_cos_lat(lat1), lat2, lon2,
	    geo_cos_lat(lat2));
}

bool geo_coord_valid(double lat, double lon)
{
	/* Written so that NaN fails every comparison and is refused. */
	return isfinite(lat) && isfinite(lon) && lat >= -90.0 && lat <= 90.0 &&
	    lon >= -180.0 && lon <= 180.0;
}
