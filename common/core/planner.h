/*
 * planner.h - the restock planner (issue 5): for ONE sku, from each hub's
 * stock and its region's forecast, a plan of holdback releases and
 * hub-to-hub van transfers that puts units where the next buyers will be.
 *
 * Pure logic: no I/O, no clock, no randomness, no allocation (the working
 * state lives on the stack, < 48 KiB). The plan is a deterministic function
 * of the hubs' *contents* and the parameters: ties are broken by hub id, not
 * by the order of the input array, so the coordinator may load hubs in any
 * order and still get the same plan.
 *
 * Quantities per hub (the ledger's, docs/forecast.md "The planner"):
 *   sellable = on_hand - allocated - holdback     (must be >= 0)
 *   cover    = the units the hub should have for sale over the horizon: the
 *              forecaster's service-level stock (forecast_result.stock)
 *   deficit  = cover - sellable - units already planned to arrive
 *   surplus  = free holdback + max(0, sellable - cover)
 *              (free holdback = holdback - holdback_keep)
 * Allocated units are in neither sellable nor holdback, so they are never
 * released or moved; a source never gives away units it needs for its own
 * cover, so no transfer leaves it short of its service level.
 *
 * The rules, in the order the planner applies them:
 *  1. Release first. A hub whose sellable is below its cover releases its
 *     own free holdback, up to the deficit: a release costs nothing and
 *     needs no van. Releases come out in input order.
 *  2. Then transfers, one van trip each, at most trips_max. Each round looks
 *     at every hub still short by >= transfer_min and, for it, at sources
 *     with surplus, NEAREST FIRST (ties: smaller id), within km_max; the
 *     first source whose transfer of q = min(deficit, surplus, trip_max)
 *     units (q >= transfer_min) is worth its cost becomes that hub's candidate. Of all
 *     candidates, the one with the largest value - cost is planned (ties:
 *     smaller destination id); repeat until no candidate or no trips left.
 *     A destination is filled up to its cover, never beyond, and a hub that
 *     receives never sends (they are disjoint: a hub short of cover has no
 *     surplus), so there are no chains and no round trips.
 *  3. Worth its cost: value >= cost and value > 0, where
 *       cost  = trip_cost + km_cost x km
 *       value = unit_value x (gained - lost)
 *       gained = expected extra units sold at the destination over the
 *                horizon thanks to the q units: E[min(D, s + q)] - E[min(D, s)]
 *                with D the destination's horizon demand and s its sellable
 *                plus what is already planned to arrive;
 *       lost   = the same at the source for the SELLABLE units it gives up
 *                (moved holdback was not for sale there, so it loses none).
 *     D is a negative binomial (a Poisson when that already reaches the
 *     cover) whose mean is the forecast mean and whose service quantile is
 *     the forecaster's cover (planner_demand_fit): the two numbers the
 *     forecaster hands over pin down a two-parameter distribution, and the
 *     NB is the one the forecaster itself uses for large totals.
 *  4. A source gives its free holdback first, then sellable surplus: moving
 *     holdback loses no sale at the source (it was withheld anyway), and
 *     holdback cannot be taken by an order arriving between plan and apply,
 *     so a plan built on it stays executable; sellable surplus can be sold
 *     from under the plan.
 *
 * Cost: each destination's sources are sorted by distance once; a pair
 * found not worth a trip is not priced again until one of its two hubs
 * changes; a pricing walks the demand distributions up to their tails
 * (O(1) above PLANNER_EXACT_MEAN_MAX). 256 hubs, 43 trips: 2.5 ms at -O2.
 *
 * Thread model: no shared state; call from any thread.
 */
#ifndef DN_PLANNER_H
#define DN_PLANNER_H
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

/* Van trips in one plan (per sku): a plan is reviewed by a person
 * (`dropctl rebalance plan`) and executed by hub staff; more than this in
 * one go is a replenishment, not a rebalance. Also sizes planner_plan. */
#define PLANNER_TRIPS_MAX 64u

/* Hubs one plan covers: the largest registry (DN_HUBS_CAP); a hub's
 * position in the transfer phase's pair table is 16 bits (planner.c). */
#define PLANNER_HUBS_MAX DN_HUBS_CAP

/* Actions in one plan: a release per hub plus the trips. */
#define PLANNER_ACTIONS_MAX (PLANNER_HUBS_MAX + PLANNER_TRIPS_MAX)

/* Largest quantity (units on hand, cover, forecast mean): far above any
 * drop, and far below 2^53 so sums in double stay exact. */
#define PLANNER_QTY_MAX 1000000000LL

/* Largest max-transfer distance, km: a van day's drive. */
#define PLANNER_KM_MAX 2000.0

/* Above this forecast mean the demand distribution is handled by a normal
 * approximation in O(1) instead of a walk of its pmf (the same switch point
 * as the forecaster's quantile). */
#define PLANNER_EXACT_MEAN_MAX 500.0

/* One hub's state for the sku being planned. */
typedef struct {
	const char *id;        /* hub id, borrowed; ties are broken by it */
	double lat, lon;       /* WGS84 degrees (geo_coord_valid) */
	int64_t on_hand;       /* units physically in the hub */
	int64_t allocated;     /* promised to accepted orders: never touched */
	int64_t holdback;      /* withheld from sale */
	int64_t holdback_keep; /* of holdback, units the planner must leave in
	                        * place (e.g. held for a tier not open yet);
	                        * 0 lets it release or move all of it */
	double mean;           /* forecast demand over the horizon, hub region */
	int64_t cover;         /* service-level stock for the horizon (the
	                        * forecaster's `stock`) */
	int64_t incoming;      /* units already on their way here (open
	                        * transfers): they count toward cover, and are
	                        * never a source */
} planner_hub;

typedef struct {
	double unit_value;   /* value of one protected sale (margin), >= 0 */
	double trip_cost;    /* fixed cost of one van trip, >= 0 */
	double km_cost;      /* van cost per km of the trip, >= 0 */
	unsigned trips_max;  /* van trips allowed, 0..PLANNER_TRIPS_MAX */
	double km_max;       /* no transfer between hubs farther apart,
	                      * 0..PLANNER_KM_MAX */
	int64_t transfer_min; /* smallest transfer, units, 1..PLANNER_QTY_MAX */
	int64_t trip_max;     /* most units one van trip carries,
	                       * 1..PLANNER_QTY_MAX: a larger deficit takes
	                       * more trips */
	double service;      /* the service level the covers were computed at,
	                      * FORECAST_SERVICE_MIN..MAX (used to fit D) */
} planner_params;

typedef enum {
	PLANNER_RELEASE = 0, /* release holdback to sale at `hub` */
	PLANNER_TRANSFER,    /* move units from `src` to `hub` */
} planner_kind;

typedef struct {
	planner_kind kind;
	uint32_t hub;          /* index into the hubs array: where the units
	                        * become sellable (release) / arrive (transfer) */
	uint32_t src;          /* transfer: index of the source hub; release:
	                        * equal to hub */
	int64_t qty;           /* units released or moved, >= 1 */
	int64_t from_holdback; /* of qty, units taken from the source's holdback
	                        * (release: all of them); the rest is sellable */
	double km;             /* transfer distance; 0 for a release */
	double gained;         /* expected extra units sold at `hub` */
	double lost;           /* expected units no longer sold at `src` */
	double value;          /* unit_value x (gained - lost) */
	double cost;           /* trip_cost + km_cost x km; 0 for a release */
} planner_action;

/* A plan, owned by the caller (about 300 KiB: keep it static or on the heap
 * in a daemon). Releases come first, then transfers in the order planned. */
typedef struct {
	size_t n;                                   /* actions used */
	planner_action action[PLANNER_ACTIONS_MAX];
	unsigned trips;          /* transfers planned (<= trips_max) */
	int64_t released;        /* units released in place */
	int64_t moved;           /* units transferred */
	double value;            /* sum of the actions' value */
	double cost;             /* sum of the actions' cost */
	int64_t short_after;     /* units still short of cover after the plan,
	                          * over all hubs (what no release or worthwhile
	                          * transfer within reach could supply) */
} planner_plan;

/* Fills params with defaults meant as a starting point: unit value 10, trip
 * 25 + 0.5/km, 8 trips, 150 km, min 5 units, no trip cap (PLANNER_QTY_MAX),
 * service 0.9. */
void planner_params_default(planner_params *p);

/* Plans one sku over hubs[0..n-1] (n <= PLANNER_HUBS_MAX; 0 gives an empty
 * plan). Allocates its working memory (n work rows, and a pair table of
 * destinations x sources, n^2/4 at most) and frees it before it returns.
 * Writes *out (always fully: on error it is an empty plan). Returns 0,
 * DN_ENOMEM, or DN_EINVAL when an argument is out of its documented range:
 * a NULL pointer or id, an id longer than DN_ID_MAX, an invalid coordinate, a negative or
 * over-large quantity, allocated + holdback > on_hand, holdback_keep >
 * holdback, two hubs with the same id, a non-finite number, or a parameter
 * outside its bounds.
 * The hubs array is only read; the plan refers to hubs by index into it. */
int planner_plan_sku(const planner_hub *hubs, size_t n,
    const planner_params *p, planner_plan *out);

/* Short stable name of a kind ("release", "transfer"); never NULL. */
const char *planner_kind_name(planner_kind k);

/*
 * The demand model, public so that tests (and the coordinator's dry-run
 * explanations) can check it.
 */

/* Horizon demand D of one hub: negative binomial with this mean and
 * variance (Poisson when var == mean; 0 when mean == 0). */
typedef struct {
	double mean;
	double var;
} planner_demand;

/* Fits D to the forecaster's two numbers: the smallest variance >= mean
 * (to 1e-6 relative) whose service quantile, by forecast_nbinom_quantile,
 * reaches cover; var = mean (Poisson) when the Poisson quantile already
 * does. At a fixed service level an NB's quantile rises with the variance
 * and then falls (the mass piles up at 0), so a cover above every NB's of
 * this mean gets the variance where the quantile peaks (the widest spread
 * an NB can give it); variances stop at mean x 10^4 + 10^4. mean == 0
 * gives {0, 0}. Returns 0 or DN_EINVAL (mean or cover negative, over
 * PLANNER_QTY_MAX or not finite, service out of range; *out untouched). */
int planner_demand_fit(double mean, int64_t cover, double service,
    planner_demand *out);

/* Expected extra units sold over the horizon when `qty` units are added to
 * `stock` units for sale: E[min(D, stock + qty)] - E[min(D, stock)]
 * = sum over k = stock .. stock+qty-1 of P(D > k). In [0, qty]; 0 when qty
 * <= 0. Exact walk of the pmf for mean <= PLANNER_EXACT_MEAN_MAX, else a
 * normal approximation with continuity correction (the loss function). */
double planner_demand_gain(const planner_demand *d, int64_t stock,
    int64_t qty);

#endif
