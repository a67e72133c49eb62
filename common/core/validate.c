/*
 * validate.c - checks on everything that comes from outside (see
 * validate.h). Fields are checked in wire order (storefront, order_key,
 * customer, lines, lat, lon) so the first fault reported is stable.
 * Pure; reasons are static strings.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/limits.h"
#include "core/validate.h"

bool validate_id(const char *s)
{
	size_t n;

	if (s == NULL) {
		return false;
	}
	/* Bounded scan: an unterminated or huge string costs at most
	 * DN_ID_MAX + 1 reads. */
	for (n = 0; n <= DN_ID_MAX && s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		/* Printable ASCII minus space; commas and quotes would break
		 * the CSV and JSON that ids end up in. */
		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '"' || c == '\'') {
			return false;
		}
	}
	return n >= 1 && n <= DN_ID_MAX;
}

/* Records a fault on the named field and returns DN_EINVAL. */
static int validate_fail(char *field, size_t field_len, const char **why,
    const char *name, const char *reason)
{
	if (field != NULL && field_len > 0) {
		snprintf(field, field_len, "%s", name);
	}
	if (why != NULL) {
		*why = reason;
	}
	return DN_EINVAL;
}

/* Records a fault on lines[idx].part and returns DN_EINVAL. */
static int validate_fail_line(char *field, size_t field_len, const char **why,
    size_t idx, const char *part, const char *reason)
{
	if (field != NULL && field_len > 0) {
		snprintf(field, field_len, "lines[%zu].%s", idx, part);
	}
	if (why != NULL) {
		*why = reason;
	}
	return DN_EINVAL;
}

static void validate_ok(char *field, size_t field_len, const char **why)
{
	if (field != NULL && field_len > 0) {
		field[0] = '\0';
	}
	if (why != NULL) {
		*why = "";
	}
}

static bool validate_lat(double lat)
{
	return isfinite(lat) && lat >= -90.0 && lat <= 90.0;
}

static bool validate_lon(double lon)
{
	return isfinite(lon) && lon >= -180.0 && lon <= 180.0;
}

/* Checks lines[] and returns 0 or the DN_EINVAL of the first fault. */
static int validate_lines(const validate_order_in *in, char *field,
    size_t field_len, const char **why)
{
	if (in->nlines == 0 || in->lines == NULL) {
		return validate_fail(field, field_len, why, "lines",
		    "order has no lines");
	}
	if (in->nlines > DN_ORDER_LINES_MAX) {
		return validate_fail(field, field_len, why, "lines",
		    "too many lines (max 32)");
	}
	for (size_t i = 0; i < in->nlines; i++) {
		const route_line *l = &in->lines[i];
		if (!validate_id(l->sku)) {
			return validate_fail_line(field, field_len, why, i, "sku",
			    "sku must be 1..64 printable characters without "
			    "spaces, commas or quotes");
		}
		if (l->qty < 1 || l->qty > DN_LINE_QTY_MAX) {
			return validate_fail_line(field, field_len, why, i, "qty",
			    "qty must be 1..10000");
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(in->lines[j].sku, l->sku) == 0) {
				return validate_fail_line(field, field_len, why,
				    i, "sku", "sku appears on more than one line");
			}
		}
	}
	return 0;
}

int validate_order(const validate_order_in *in, char *field, size_t field_len,
    const char **why)
{
	int rv;

	if (in == NULL) {
		return validate_fail(field, field_len, why, "order", "no order");
	}
	/* An empty storefront means "default" (SEMANTICS.md); a named one
	 * must be a valid id. */
	if (in->storefront != NULL && in->storefront[0] != '\0' &&
	    !validate_id(in->storefront)) {
		return validate_fail(field, field_len, why, "storefront",
		    "storefront must be 1..64 printable characters without "
		    "spaces, commas or quotes");
	}
	if (!validate_id(in->order_key)) {
		return validate_fail(field, field_len, why, "order_key",
		    "order_key must be 1..64 printable characters without "
		    "spaces, commas or quotes");
	}
	if (!validate_id(in->customer)) {
		return validate_fail(field, field_len, why, "customer",
		    "customer must be 1..64 printable characters without "
		    "spaces, commas or quotes");
	}
	if ((rv = validate_lines(in, field, field_len, why)) != 0) {
		return rv;
	}
	if (!validate_lat(in->lat)) {
		return validate_fail(field, field_len, why, "lat",
		    "lat must be a number in [-90, 90]");
	}
	if (!validate_lon(in->lon)) {
		return validate_fail(field, field_len, why, "lon",
		    "lon must be a number in [-180, 180]");
	}
	validate_ok(field, field_len, why);
	return 0;
}

int validate_hub(const char *id, double lat, double lon, double radius_km,
    char *field, size_t field_len, const char **why)
{
	if (!validate_id(id)) {
		return validate_fail(field, field_len, why, "id",
		    "hub id must be 1..64 printable characters without spaces, "
		    "commas or quotes");
	}
	if (!validate_lat(lat)) {
		return validate_fail(field, field_len, why, "lat",
		    "lat must be a number in [-90, 90]");
	}
	if (!validate_lon(lon)) {
		return validate_fail(field, field_len, why, "lon",
		    "lon must be a number in [-180, 180]");
	}
	/* Negated so NaN is refused. */
	if (!(radius_km >= DN_RADIUS_KM_MIN && radius_km <= DN_RADIUS_KM_MAX)) {
		return validate_fail(field, field_len, why, "radius_km",
		    "radius_km must be in [1, 1000]");
	}
	validate_ok(field, field_len, why);
	return 0;
}
