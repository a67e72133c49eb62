/*
 * route.h - choose the hub(s) that fill an order. Pure and deterministic:
 * the same hubs, stock and ship-to always give the same answer.
 *
 * Rule (DESIGN.md, step 4): candidates are the healthy hubs whose service
 * radius covers the ship-to point, nearest first by great-circle distance
 * (ties broken by the lower hub index). Policy NEVER: the first candidate that
 * can fill every line takes the whole order. Policy ALLOWED: if no single
 * candidate can, the nearest candidates each take what they can, line by line,
 * over at most DN_SPLIT_HUBS_MAX hubs; if that still cannot fill everything
 * the order is SOLD_OUT (orders are never partly accepted).
 * No candidate at all -> NO_HUB_IN_RANGE. Candidates but no stock -> SOLD_OUT.
 */
#ifndef DN_ROUTE_H
#define DN_ROUTE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/limits.h"

typedef enum {
	ROUTE_SPLIT_NEVER = 0,
	ROUTE_SPLIT_ALLOWED = 1,
} route_split_policy;

typedef struct {
	const char *sku;
	uint32_t qty;
} route_line;

/* One hub as routing sees it. sellable[i] is the hub's sellable units of the
 * SKU of line i of the order being routed (caller-owned, nlines long). */
typedef struct {
	const char *id;
	double lat, lon, radius_km;
	bool healthy;
	const int64_t *sellable;
} route_hub;

typedef enum {
	ROUTE_VERDICT_CHOSEN = 0,       /* takes (part of) the order */
	ROUTE_VERDICT_OUT_OF_RANGE = 1, /* ship-to outside its radius */
	ROUTE_VERDICT_UNHEALTHY = 2,    /* missed heartbeats */
	ROUTE_VERDICT_NO_STOCK = 3,     /* in range, cannot fill */
	ROUTE_VERDICT_NOT_NEEDED = 4,   /* in range, a nearer hub took it */
} route_verdict;

/* Stable lowercase name of a verdict ("chosen", "out_of_range", ...). */
const char *route_verdict_name(route_verdict v);

typedef struct {
	size_t hub;          /* index into the hubs array */
	double distance_km;
	route_verdict verdict;
} route_candidate;

typedef struct {
	size_t hub;          /* index into the hubs array */
	size_t line;         /* index into the lines array */
	uint32_t qty;
} route_take;

typedef enum {
	ROUTE_ACCEPTED = 0,
	ROUTE_SOLD_OUT = 1,
	ROUTE_NO_HUB_IN_RANGE = 2,
} route_status;

typedef struct {
	route_status status;
	/* route_order: every hub, nearest first. route_order_indexed: only
	 * the hubs whose radius covers the ship-to (healthy or not), nearest
	 * first; out-of-range hubs are not listed. The caller owns cand and
	 * sets cand_cap (route_result_init); routing never allocates. */
	route_candidate *cand;
	size_t cand_cap;
	size_t ncand;
	route_take take[DN_ORDER_LINES_MAX * DN_SPLIT_HUBS_MAX];
	size_t ntake;        /* 0 unless ACCEPTED; sums to each line's qty */
} route_result;

/* Gives out the caller's candidate array cand[0..cap-1]; the rest of *out
 * is reset. */
void route_result_init(route_result *out, route_candidate *cand, size_t cap);

/* Routes one order. Returns 0 and fills *out, or DN_EINVAL when nhubs >
 * out->cand_cap, nlines is 0 or > DN_ORDER_LINES_MAX, or a pointer is NULL.
 * Inputs are assumed validated (validate_order). */
int route_order(const route_hub *hubs, size_t nhubs, const route_line *lines,
    size_t nlines, double lat, double lon, route_split_policy policy,
    route_result *out);

struct hubindex;

/* Routes one order as route_order does, finding the candidates through ix
 * (hubindex.h, built over these hubs' positions and radii): the same
 * status, the same takes, and for every hub whose radius covers the
 * ship-to the same verdict in the same order - but cand[] lists only those
 * hubs (an unhealthy one among them as UNHEALTHY, so a trace still says
 * why a near hub was passed over); the out-of-range ones, at thousands of
 * hubs, would be noise. nhubs may be up to HUBINDEX_HUBS_MAX; only the
 * listed hubs' sellable is read. Returns 0; DN_EINVAL as route_order (but
 * for nhubs), also for an index built over another count or a listed hub
 * without sellable; DN_ERANGE when more than out->cand_cap hubs cover
 * the ship-to (no result then). Never allocates. */
int route_order_indexed(const route_hub *hubs, size_t nhubs,
    const struct hubindex *ix, const route_line *lines, size_t nlines,
    double lat, double lon, route_split_policy policy, route_result *out);

#endif
