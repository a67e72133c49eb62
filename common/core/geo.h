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

/* True when lat is in [-90, 90], lon in [-180, 180] and both are finite. */
bool geo_coord_valid(double lat, double lon);

#endif
