/*
 * validate.h - checks on everything that comes from outside: order fields,
 * ids, coordinates, quantities. Pure. Bounds come from core/limits.h.
 */
#ifndef DN_VALIDATE_H
#define DN_VALIDATE_H
#include <stddef.h>
#include <stdbool.h>
#include "core/route.h"

/* An id (sku, key, customer, hub id, bin, storefront): 1..DN_ID_MAX bytes of
 * printable ASCII without spaces, commas or quotes. */
bool validate_id(const char *s);

typedef struct {
	const char *storefront;
	const char *order_key;
	const char *customer;
	const route_line *lines;
	size_t nlines;
	double lat, lon;
} validate_order_in;

/* Checks an order. Returns 0, or DN_EINVAL and writes the field at fault
 * ("order_key", "lines", "lines[2].qty", "lines[0].sku", "lat", "lon", ...)
 * into field (always NUL-terminated, field_len >= 1) and a static human
 * reason into *why. Duplicate SKUs across lines are refused ("lines[i].sku"). */
int validate_order(const validate_order_in *in, char *field, size_t field_len,
    const char **why);

/* Checks a hub's hello: id valid, coordinates valid, radius within
 * [DN_RADIUS_KM_MIN, DN_RADIUS_KM_MAX]. Same out-parameters. */
int validate_hub(const char *id, double lat, double lon, double radius_km,
    char *field, size_t field_len, const char **why);

#endif
