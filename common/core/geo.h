/*
 * geo.h - great-circle geometry on the WGS84 mean sphere. Pure.
 */
#ifndef DN_GEO_H
#define DN_GEO_H
#include <stdbool.h>

/* Mean Earth radius (IUGG), km. */
#define GEO_EARTH_RADIUS_KM 6371.0088

/* Haversine distance between two points in degrees, in km. Inputs must be
 * valid (geo_coord_valid); the result is in [0, pi * R]. */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

/* cos of a latitude in degrees, as geo_distance_km computes it. */
double geo_cos_lat(double lat);

/* geo_distance_km with each point's geo_cos_lat given: the same result,
 * bit for bit (geo_distance_km is this call), for a caller that measures
 * many points against one and keeps the cosines. */
double geo_distance_km_cos(double lat1, double lon1, double cos1, double lat2,
    double lon2, double cos2);

/* True when lat is in [-90, 90], lon in [-180, 180] and both are finite. */
bool geo_coord_valid(double lat, double lon);

#endif
