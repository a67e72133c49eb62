/*
 * planner.c - the restock planner: holdback releases and van transfers for
 * one sku (planner.h has the rules; docs/forecast.md "The planner" the
 * reasons).
 *
 * Invariants kept while planning, per hub (asserted after each action):
 *   0 <= sell, 0 <= hb_free, incoming >= 0, and a source's
 *   sell + hb_free never drops below what it started with minus its
 *   surplus, i.e. never below its own cover or its kept holdback.
 */
#include "core/planner.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/forecast.h"
#include "core/geo.h"

/* A P(D > k) below this is treated as the end of the tail: far below the
 * value of any van trip, and it bounds the pmf walk. */
#define TAIL_EPS 1e-12

/* Bisection steps of the variance fit: the bracket is a factor 2 wide,
 * and 60 halvings of its log reach far below 1e-6. */
#define FIT_STEPS 60

/* ---- the demand model ---- */

int planner_demand_fit(double mean, int64_t cover, double service,
    planner_demand *out)
{
	if (out == NULL || !(mean >= 0) || !(mean <= (double)PLANNER_QTY_MAX) ||
	    cover < 0 || cover > PLANNER_QTY_MAX ||
	    !(service >= FORECAST_SERVICE_MIN) ||
	    !(service <= FORECAST_SERVICE_MAX)) {
		return DN_EINVAL;
	}
	if (mean == 0) {
		out->mean = 0;
		out->var = 0;
		return 0;
	}
	double c = (double)cover;

	if (forecast_nbinom_quantile(mean, mean, service) >= c) {
		out->mean = mean;
		out->var = mean;
		return 0;
	}
	/* At a fixed service level the NB quantile first grows with the
	 * variance, then falls (the mass piles up at 0). Walk up by doubling
	 * to the first variance that reaches cover, then bisect on log var;
	 * if the quantile peaks below cover, take the first variance of the
	 * peak: the widest spread an NB of this mean can give the cover. */
	double cap = mean * 1e4 + 1e4;
	double lo = mean, hi = 0;
	double qbest = forecast_nbinom_quantile(mean, mean, service);
	double vbest = mean;

	for (double v = mean * 2; v <= cap; v *= 2) {
		double q = forecast_nbinom_quantile(mean, v, service);

		if (q >= c) {
			hi = v;
			break;
		}
		if (q < qbest) {
			break;
		}
		if (q > qbest) {
			qbest = q;
			vbest = v;
		}
		lo = v;
	}
	if (hi == 0) {
		out->mean = mean;
		out->var = vbest;
		return 0;
	}
	for (int i = 0; i < FIT_STEPS && hi > lo * (1 + 1e-6); i++) {
		double mid = sqrt(lo * hi);

		if (forecast_nbinom_quantile(mean, mid, service) >= c) {
			hi = mid;
		} else {
			lo = mid;
		}
	}
	out->mean = mean;
	out->var = hi;
	return 0;
}

/* Standard normal loss function G(z) = E[(Z - z)^+] = phi(z) - z (1 - Phi(z)). */
static double norm_loss(double z)
{
	double phi = exp(-0.5 * z * z) / sqrt(2 * 3.14159265358979323846);
	double tail = 0.5 * erfc(z / sqrt(2.0));

	return phi - z * tail;
}

double planner_demand_gain(const planner_demand *d, int64_t stock,
    int64_t qty)
{
	if (d == NULL || qty <= 0 || !(d->mean > 0)) {
		return 0;
	}
	if (stock < 0) {
		stock = 0;
	}
	double mean = d->mean;
	double var = d->var < mean ? mean : d->var;

	if (mean > PLANNER_EXACT_MEAN_MAX) {
		/* sum_{k=s}^{s+q-1} P(D > k), P(D > k) ~ 1 - Phi((k + 0.5 - m)
		 * / sd): the midpoint rule of the integral of the normal tail
		 * over [s, s + q], which is sd (G(za) - G(zb)). */
		double sd = sqrt(var);
		double za = ((double)stock - mean) / sd;
		double zb = ((double)stock + (double)qty - mean) / sd;
		double g = sd * (norm_loss(za) - norm_loss(zb));

		return g < 0 ? 0 : (g > (double)qty ? (double)qty : g);
	}
	int poisson = var <= mean * (1 + 1e-9);
	double pmf, ratio, r = 0;

	if (poisson) {
		pmf = exp(-mean);
		ratio = mean;
	} else {
		r = mean * mean / (var - mean);
		double pr = r / (r + mean);

		pmf = exp(r * log(pr));
		ratio = 1 - pr;
	}
	double cdf = pmf;  /* P(D <= k) */
	double sum = 0;
	int64_t end = stock + qty;

	/* Walk k = 0 .. end - 1; past the mean, a tail below TAIL_EPS adds
	 * nothing worth a walk (and ends it for huge stocks). */
	for (int64_t k = 0; k < end; k++) {
		double tail = 1 - cdf;

		if (k >= stock) {
			sum += tail > 0 ? tail : 0;
		}
		if (tail < TAIL_EPS && (double)k > mean) {
			break;
		}
		double kk = (double)k;

		if (poisson) {
			pmf *= ratio / (kk + 1);
		} else {
			pmf *= (kk + r) / (kk + 1) * ratio;
		}
		cdf += pmf;
	}
	return sum > (double)qty ? (double)qty : sum;
}

/* ---- the plan ---- */

void planner_params_default(planner_params *p)
{
	p->unit_value = 10;
	p->trip_cost = 25;
	p->km_cost = 0.5;
	p->trips_max = 8;
	p->km_max = 150;
	p->transfer_min = 5;
	p->trip_max = PLANNER_QTY_MAX;
	p->service = 0.9;
}

const char *planner_kind_name(planner_kind k)
{
	switch (k) {
	case PLANNER_RELEASE:
		return "release";
	case PLANNER_TRANSFER:
		return "transfer";
	}
	return "?";
}

/* Working state of one hub while planning. */
typedef struct {
	int64_t sell;      /* sellable now (after releases, minus sent) */
	int64_t hb_free;   /* holdback the planner may still use */
	int64_t incoming;  /* units planned to arrive */
	planner_demand d;
} work_hub;

static int qty_ok(int64_t q)
{
	return q >= 0 && q <= PLANNER_QTY_MAX;
}

static int params_ok(const planner_params *p)
{
	return isfinite(p->unit_value) && p->unit_value >= 0 &&
	    isfinite(p->trip_cost) && p->trip_cost >= 0 &&
	    isfinite(p->km_cost) && p->km_cost >= 0 &&
	    p->trips_max <= PLANNER_TRIPS_MAX && p->km_max >= 0 &&
	    p->km_max <= PLANNER_KM_MAX && p->transfer_min >= 1 &&
	    p->transfer_min <= PLANNER_QTY_MAX && p->trip_max >= 1 &&
	    p->trip_max <= PLANNER_QTY_MAX &&
	    p->service >= FORECAST_SERVICE_MIN &&
	    p->service <= FORECAST_SERVICE_MAX;
}

/* True when id is at most DN_ID_MAX bytes (read no further than that). */
static int id_ok(const char *id)
{
	if (id == NULL) {
		return 0;
	}
	for (size_t i = 0; i <= DN_ID_MAX; i++) {
		if (id[i] == '\0') {
			return 1;
		}
	}
	return 0;
}

static int hub_ok(const planner_hub *h)
{
	return id_ok(h->id) &&
	    geo_coord_valid(h->lat, h->lon) && qty_ok(h->on_hand) &&
	    qty_ok(h->allocated) && qty_ok(h->holdback) &&
	    qty_ok(h->holdback_keep) && qty_ok(h->cover) &&
	    h->allocated + h->holdback <= h->on_hand &&
	    h->holdback_keep <= h->holdback && qty_ok(h->incoming) &&
	    isfinite(h->mean) &&
	    h->mean >= 0 && h->mean <= (double)PLANNER_QTY_MAX;
}

static int64_t deficit_of(const planner_hub *h, const work_hub *w)
{
	int64_t d = h->cover - w->sell - w->incoming;

	return d > 0 ? d : 0;
}

/* Surplus is free holdback plus sellable above cover; a hub short of cover
 * has no free holdback left after the releases, so its surplus is 0. */
static int64_t surplus_of(const planner_hub *h, const work_hub *w)
{
	int64_t above = w->sell - h->cover;

	return w->hb_free + (above > 0 ? above : 0);
}

/* Prices the transfer of min(deficit, surplus, trip_max) units from s to d
 * into *a.
 * Returns 1 when it is a transfer to plan (size and worth), else 0. */
static int price_transfer(const planner_hub *hubs, const work_hub *w,
    const planner_params *p, size_t s, size_t d, double km,
    planner_action *a)
{
	int64_t def = deficit_of(&hubs[d], &w[d]);
	int64_t sur = surplus_of(&hubs[s], &w[s]);
	int64_t q = def < sur ? def : sur;

	q = q < p->trip_max ? q : p->trip_max;
	if (q < p->transfer_min) {
		return 0;
	}
	int64_t from_hb = q < w[s].hb_free ? q : w[s].hb_free;
	int64_t from_sell = q - from_hb;

	memset(a, 0, sizeof(*a));
	a->kind = PLANNER_TRANSFER;
	a->hub = (uint32_t)d;
	a->src = (uint32_t)s;
	a->qty = q;
	a->from_holdback = from_hb;
	a->km = km;
	a->gained = planner_demand_gain(&w[d].d, w[d].sell + w[d].incoming, q);
	a->lost = planner_demand_gain(&w[s].d, w[s].sell - from_sell,
	    from_sell);
	a->value = p->unit_value * (a->gained - a->lost);
	a->cost = p->trip_cost + p->km_cost * km;
	return a->value > 0 && a->value >= a->cost;
}

static void plan_add(planner_plan *out, const planner_action *a)
{
	assert(out->n < PLANNER_ACTIONS_MAX);
	out->action[out->n++] = *a;
	out->value += a->value;
	out->cost += a->cost;
}

static void plan_releases(const planner_hub *hubs, work_hub *w, size_t n,
    const planner_params *p, planner_plan *out)
{
	for (size_t i = 0; i < n; i++) {
		int64_t def = deficit_of(&hubs[i], &w[i]);
		int64_t r = def < w[i].hb_free ? def : w[i].hb_free;

		if (r <= 0) {
			continue;
		}
		planner_action a;

		memset(&a, 0, sizeof(a));
		a.kind = PLANNER_RELEASE;
		a.hub = a.src = (uint32_t)i;
		a.qty = r;
		a.from_holdback = r;
		a.gained = planner_demand_gain(&w[i].d, w[i].sell, r);
		a.value = p->unit_value * a.gained;
		w[i].sell += r;
		w[i].hb_free -= r;
		out->released += r;
		plan_add(out, &a);
	}
}

/*
 * Transfer phase state. Destinations (hubs short by >= transfer_min after
 * the releases) and sources (surplus >= transfer_min) are fixed sets: a
 * hub only loses deficit or surplus while planning, and the two sets are
 * disjoint. Each destination's sources are sorted nearest first once; a
 * (destination, source) pair priced "not worth it" is remembered until
 * either hub's state changes (only the two hubs of a planned transfer
 * change), so the cache is exact and every pair is priced O(1) times
 * between changes. Sizes: nd x ns <= n^2 / 4 pairs of 2 bytes and a bit
 * (n <= PLANNER_HUBS_MAX, so a position fits 16 bits), allocated per plan.
 */
typedef struct {
	size_t nd, ns;
	uint16_t *dst;      /* hub index of destination i */
	uint16_t *src;      /* hub index of source j */
	uint16_t *order;    /* row i: source positions, nearest first */
	uint8_t *fail;      /* bit (i, j): priced, not worth it */
} xfer_state;

typedef struct {
	double km;
	const char *id;
	uint16_t pos;
} src_rank;

/* Nearest first, ties by id (unique), so the order is total. */
static int src_rank_cmp(const void *a, const void *b)
{
	const src_rank *x = a, *y = b;

	if (x->km != y->km) {
		return x->km < y->km ? -1 : 1;
	}
	return strcmp(x->id, y->id);
}

static int fail_get(const xfer_state *x, size_t i, size_t j)
{
	size_t bit = i * x->ns + j;

	return (x->fail[bit / 8] >> (bit % 8)) & 1;
}

static void fail_set(xfer_state *x, size_t i, size_t j, int on)
{
	size_t bit = i * x->ns + j;
	uint8_t m = (uint8_t)(1u << (bit % 8));

	x->fail[bit / 8] = on ? (uint8_t)(x->fail[bit / 8] | m) :
	    (uint8_t)(x->fail[bit / 8] & ~m);
}

static void xfer_free(xfer_state *x)
{
	free(x->dst);
	free(x->src);
	free(x->order);
	free(x->fail);
}

/* Sets up *x (its arrays allocated here; xfer_free). 0 or DN_ENOMEM. */
static int xfer_setup(const planner_hub *hubs, const work_hub *w,
    size_t n, const planner_params *p, xfer_state *x)
{
	memset(x, 0, sizeof(*x));
	x->dst = malloc((n + 1) * sizeof(*x->dst));
	x->src = malloc((n + 1) * sizeof(*x->src));
	if (x->dst == NULL || x->src == NULL) {
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (deficit_of(&hubs[i], &w[i]) >= p->transfer_min) {
			x->dst[x->nd++] = (uint16_t)i;
		} else if (surplus_of(&hubs[i], &w[i]) >= p->transfer_min) {
			x->src[x->ns++] = (uint16_t)i;
		}
	}
	size_t pairs = x->nd * x->ns;
	assert(pairs <= n * n / 4u);
	x->order = malloc((pairs + 1) * sizeof(*x->order));
	x->fail = calloc(pairs / 8u + 1, 1);
	src_rank *rank = malloc((x->ns + 1) * sizeof(*rank));
	if (x->order == NULL || x->fail == NULL || rank == NULL) {
		free(rank);
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < x->nd; i++) {
		const planner_hub *d = &hubs[x->dst[i]];

		for (size_t j = 0; j < x->ns; j++) {
			const planner_hub *sh = &hubs[x->src[j]];

			rank[j].km = geo_distance_km(d->lat, d->lon, sh->lat,
			    sh->lon);
			rank[j].id = sh->id;
			rank[j].pos = (uint16_t)j;
		}
		qsort(rank, x->ns, sizeof(rank[0]), src_rank_cmp);
		for (size_t j = 0; j < x->ns; j++) {
			x->order[i * x->ns + j] = rank[j].pos;
		}
	}
	free(rank);
	return 0;
}

/* The candidate transfer into destination i: its sources nearest first,
 * within km_max, the first whose transfer is worth it (price_transfer). */
static int candidate_for(const planner_hub *hubs, const work_hub *w,
    const planner_params *p, xfer_state *x, size_t i, planner_action *out)
{
	size_t d = x->dst[i];

	for (size_t k = 0; k < x->ns; k++) {
		size_t j = x->order[i * x->ns + k];
		size_t s = x->src[j];

		if (fail_get(x, i, j)) {
			continue;
		}
		double km = geo_distance_km(hubs[d].lat, hubs[d].lon,
		    hubs[s].lat, hubs[s].lon);

		if (km > p->km_max) {
			return 0; /* the rest are farther still */
		}
		if (price_transfer(hubs, w, p, s, d, km, out)) {
			return 1;
		}
		fail_set(x, i, j, 1);
	}
	return 0;
}

/* The two hubs of a planned transfer changed: forget what was priced for
 * the destination's row and the source's column. */
static void xfer_forget(xfer_state *x, size_t d, size_t s)
{
	for (size_t i = 0; i < x->nd; i++) {
		for (size_t j = 0; j < x->ns; j++) {
			if (x->dst[i] == d || x->src[j] == s) {
				fail_set(x, i, j, 0);
			}
		}
	}
}

static int plan_transfers(const planner_hub *hubs, work_hub *w, size_t n,
    const planner_params *p, planner_plan *out)
{
	xfer_state x;

	if (xfer_setup(hubs, w, n, p, &x) != 0) {
		xfer_free(&x);
		return DN_ENOMEM;
	}
	while (out->trips < p->trips_max) {
		planner_action best, cand;
		int have = 0;

		memset(&best, 0, sizeof(best));
		for (size_t i = 0; i < x.nd; i++) {
			size_t d = x.dst[i];

			if (deficit_of(&hubs[d], &w[d]) < p->transfer_min ||
			    !candidate_for(hubs, w, p, &x, i, &cand)) {
				continue;
			}
			double net = cand.value - cand.cost;
			double best_net = best.value - best.cost;

			if (!have || net > best_net || (net == best_net &&
			    strcmp(hubs[d].id, hubs[best.hub].id) < 0)) {
				best = cand;
				have = 1;
			}
		}
		if (!have) {
			break;
		}
		work_hub *s = &w[best.src];
		int64_t sur_before = surplus_of(&hubs[best.src], s);

		s->hb_free -= best.from_holdback;
		s->sell -= best.qty - best.from_holdback;
		w[best.hub].incoming += best.qty;
		xfer_forget(&x, best.hub, best.src);
		/* The source kept its cover and its kept holdback; the
		 * destination is not filled beyond its cover. */
		assert(s->hb_free >= 0 && s->sell >= 0);
		assert(surplus_of(&hubs[best.src], s) == sur_before - best.qty);
		assert(s->sell + s->hb_free + hubs[best.src].holdback_keep +
		    hubs[best.src].allocated <= hubs[best.src].on_hand);
		assert(w[best.hub].sell + w[best.hub].incoming <=
		    hubs[best.hub].cover || best.qty == 0);
		out->trips++;
		out->moved += best.qty;
		plan_add(out, &best);
	}
	xfer_free(&x);
	return 0;
}

int planner_plan_sku(const planner_hub *hubs, size_t n,
    const planner_params *p, planner_plan *out)
{
	if (out == NULL) {
		return DN_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if ((hubs == NULL && n > 0) || p == NULL || n > PLANNER_HUBS_MAX ||
	    !params_ok(p)) {
		return DN_EINVAL;
	}
	work_hub *w = malloc((n + 1) * sizeof(*w));
	if (w == NULL) {
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const planner_hub *h = &hubs[i];

		if (!hub_ok(h) || planner_demand_fit(h->mean, h->cover,
		    p->service, &w[i].d) != 0) {
			free(w);
			return DN_EINVAL;
		}
		w[i].sell = h->on_hand - h->allocated - h->holdback;
		w[i].hb_free = h->holdback - h->holdback_keep;
		w[i].incoming = h->incoming;
		/* Ties are broken by id, so ids must be unique. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(hubs[j].id, h->id) == 0) {
				free(w);
				return DN_EINVAL;
			}
		}
	}
	plan_releases(hubs, w, n, p, out);
	if (plan_transfers(hubs, w, n, p, out) != 0) {
		free(w);
		memset(out, 0, sizeof(*out));
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		out->short_after += deficit_of(&hubs[i], &w[i]);
	}
	free(w);
	return 0;
}
