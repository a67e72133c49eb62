/*
 * feed.c - the price and availability feed (issue 12; proto/STOREFRONT.md
 * "The feed"): which (drop, SKU, region) answers changed, as FeedChange
 * messages in the outbox (outbox.c) for the shell to publish.
 *
 * A region is a hub's: the addresses whose nearest hub it is. For each
 * SKU of each drop in memory and each region the feed follows two things,
 * both read from memory exactly as a quote reads them (prices.c):
 *  - the price answer of every tier on sale now (coord_price_line for no
 *    particular buyer, with the region's demand signal): price and rule,
 *    which tiers are on sale, the running experiment;
 *  - the availability class for an address at the region's hub (sellable
 *    units at routable hubs whose radius covers it: IN_STOCK, LOW at
 *    prices.low_units or fewer, SOLD_OUT_HERE at none).
 * A scan compares them with what the feed last said (a hash of the prices,
 * the class) and queues a message only for a row that differs, so a burst
 * of orders costs a message only when a class or a rule's price crosses a
 * line. Scans run at the end of each machine call, after its commits:
 * after an ingest or hub sync batch over the SKUs it touched (stock.c notes
 * them), after ops and on every tick over everything (live prices, windows,
 * the demand signal and hub health move with time).
 *
 * Each row's seq counts its messages (1, 2, ...); a message the outbox
 * could not hold still takes its seq, so a subscriber sees the gap. The
 * rows are memory only: a restart (a new coord.feed_epoch, set by the
 * shell) starts every seq again, and the first scan after coord_open only
 * records the state it finds. Rows are never removed while the machine is
 * open; a closed drop gets one last message per row (closed = true).
 *
 * Bounds: FEED_ROWS_MAX rows; past it a row is not followed (logged once).
 * The machine's thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "core/geo.h"
#include "core/price.h"
#include "io/log.h"
#include "coord.h"

/* (drop, SKU, region) rows followed: 16 SKUs in 256 regions for 16 drops,
 * far past a network's open drops; a power of two (the table's size). */
#define FEED_ROWS_MAX 65536u
/* "feed " sku " " region " ". */
#define FEED_TOPIC_MAX (5u + 2u * (DN_ID_MAX + 1u) + 1u)

typedef struct {
	bool used;
	bool closed;                  /* said closed: nothing more follows */
	int avail;                    /* Dropnet__Availability last said */
	uint64_t seq;                 /* messages of this row so far */
	uint64_t price_hash;          /* of the prices last said */
	char drop[DN_ID_MAX + 1];
	char sku[DN_ID_MAX + 1];
	char hub[DN_ID_MAX + 1];
} feed_row;

struct coord_feed {
	feed_row *rows;               /* open addressing, cap a power of two */
	size_t cap, len;
	bool primed;                  /* the baseline scan ran */
	bool full_logged;
	/* A scan's view of the hubs: routable now, and by_list[by_start[h] ..
	 * by_start[h + 1]) the hubs g whose radius covers hub h's position,
	 * ascending (recomputed whenever the registry's size changed, and by a
	 * full scan when a hub's position or radius differs from cover_of, what
	 * they were computed from), found through the hubs' spatial index
	 * (c->hubix over view): a few hubs measured per hub, not every hub. */
	bool *routable;               /* hubs_max of each (coord_feed_init) */
	int64_t *sellable;
	size_t ncover;                /* hubs by_start covers; SIZE_MAX: none */
	uint32_t *by_start;           /* hubs_max + 1 */
	uint32_t *by_list;
	size_t by_cap;
	double (*cover_of)[3];        /* lat, lon, radius_km */
	route_hub *view;              /* positions and radii, for c->hubix */
	route_candidate *hit;         /* one hubindex_query's answer */
};

/* One region's prices as a message carries them. */
typedef struct {
	size_t n;
	Dropnet__FeedPrice p[DROP_TIERS_MAX];
	Dropnet__FeedPrice *pp[DROP_TIERS_MAX];
	char rule[DROP_TIERS_MAX][PRICE_RULE_NAME_MAX];
	uint64_t hash;
} feed_prices;

static uint64_t feed_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 1099511628211ull;
	}
	return h;
}

static uint64_t feed_fnv_str(uint64_t h, const char *s)
{
	return feed_fnv(h, s, strlen(s) + 1);
}

int coord_feed_init(coord *c)
{
	c->feed = calloc(1, sizeof(*c->feed));
	if (c->feed == NULL) {
		return DN_ENOMEM;
	}
	c->feed->routable = calloc(c->hubs_max, sizeof(*c->feed->routable));
	c->feed->sellable = calloc(c->hubs_max, sizeof(*c->feed->sellable));
	c->feed->cover_of = calloc(c->hubs_max, sizeof(*c->feed->cover_of));
	c->feed->by_start = calloc(c->hubs_max + 1, sizeof(*c->feed->by_start));
	c->feed->view = calloc(c->hubs_max, sizeof(*c->feed->view));
	c->feed->hit = calloc(c->hubs_max, sizeof(*c->feed->hit));
	c->feed->ncover = SIZE_MAX;
	if (c->feed->routable == NULL || c->feed->sellable == NULL ||
	    c->feed->cover_of == NULL || c->feed->by_start == NULL ||
	    c->feed->view == NULL || c->feed->hit == NULL) {
		coord_feed_fini(c);
		return DN_ENOMEM;
	}
	return 0;
}

void coord_feed_fini(coord *c)
{
	if (c->feed != NULL) {
		free(c->feed->rows);
		free(c->feed->view);
		free(c->feed->hit);
		free(c->feed->by_start);
		free(c->feed->by_list);
		free(c->feed->routable);
		free(c->feed->sellable);
		free(c->feed->cover_of);
		free(c->feed);
		c->feed = NULL;
	}
	c->feed_dirty.n = 0;
	c->feed_dirty.all = false;
}

/* The hash of a row's (drop, sku), which its hub's id continues (feed_slot):
 * a scan hashes it once for every hub. */
static uint64_t feed_key(const char *drop, const char *sku)
{
	return feed_fnv_str(feed_fnv_str(1469598103934665603ull, drop), sku);
}

static size_t feed_slot(const struct coord_feed *f, uint64_t key, const char *drop,
    const char *sku, const char *hub)
{
	uint64_t h = feed_fnv_str(key, hub);
	size_t j = (size_t)h & (f->cap - 1);
	while (f->rows[j].used && (strcmp(f->rows[j].drop, drop) != 0 ||
	    strcmp(f->rows[j].sku, sku) != 0 || strcmp(f->rows[j].hub, hub) != 0)) {
		j = (j + 1) & (f->cap - 1);
	}
	return j;
}

/* Doubles the table (rows keep their contents). 0 or DN_ENOMEM/DN_ERANGE. */
static int feed_grow(struct coord_feed *f)
{
	size_t ncap = f->cap != 0 ? f->cap * 2 : 256;
	if (ncap > FEED_ROWS_MAX) {
		return DN_ERANGE;
	}
	feed_row *old = f->rows;
	size_t ocap = f->cap;
	f->rows = calloc(ncap, sizeof(*f->rows));
	if (f->rows == NULL) {
		f->rows = old;
		return DN_ENOMEM;
	}
	f->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].used) {
			f->rows[feed_slot(f, feed_key(old[i].drop, old[i].sku), old[i].drop,
			    old[i].sku, old[i].hub)] = old[i];
		}
	}
	free(old);
	return 0;
}

/* The row of (drop, sku, hub); a new one (*fresh) when create. NULL when
 * absent and not created, or when the table is full (logged once). */
static feed_row *feed_row_get(coord *c, uint64_t key, const char *drop, const char *sku,
    const char *hub, bool create, bool *fresh)
{
	struct coord_feed *f = c->feed;
	*fresh = false;
	if (f->cap != 0) {
		feed_row *r = &f->rows[feed_slot(f, key, drop, sku, hub)];
		if (r->used || !create) {
			return r->used ? r : NULL;
		}
	}
	if (!create) {
		return NULL;
	}
	if ((f->len + 1) * 10 > f->cap * 7 && feed_grow(f) != 0) {
		if (!f->full_logged) {
			log_warn("feed.rows_full", "rows=%zu drop=%s sku=%s hub=%s", f->len, drop,
			    sku, hub);
			f->full_logged = true;
		}
		return NULL;
	}
	feed_row *r = &f->rows[feed_slot(f, key, drop, sku, hub)];
	memset(r, 0, sizeof(*r));
	r->used = true;
	snprintf(r->drop, sizeof(r->drop), "%s", drop);
	snprintf(r->sku, sizeof(r->sku), "%s", sku);
	snprintf(r->hub, sizeof(r->hub), "%s", hub);
	f->len++;
	*fresh = true;
	return r;
}

/* Whether every hub's position and radius are those the cover lists were
 * computed from (a tick's full scan finds them so but for a hub's new
 * hello). */
static bool feed_cover_same(const coord *c)
{
	const struct coord_feed *f = c->feed;
	for (size_t g = 0; g < c->nhubs; g++) {
		const coord_hub *b = &c->hubs[g];
		if (f->cover_of[g][0] != b->lat || f->cover_of[g][1] != b->lon ||
		    f->cover_of[g][2] != b->radius_km) {
			return false;
		}
	}
	return true;
}

static int feed_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Appends g to by_list (grown as needed). 0 or DN_ENOMEM. */
static int feed_by_push(struct coord_feed *f, size_t *nby, uint32_t g)
{
	if (*nby == f->by_cap) {
		size_t ncap = f->by_cap != 0 ? f->by_cap * 2 : 1024;
		uint32_t *p = realloc(f->by_list, ncap * sizeof(*p));
		if (p == NULL) {
			return DN_ENOMEM;
		}
		f->by_list = p;
		f->by_cap = ncap;
	}
	f->by_list[(*nby)++] = g;
	return 0;
}

/* Hub h's cover list by measuring every hub: for a position the index
 * does not take (geo_coord_valid; the registry's hubs are validated, so
 * never in practice). */
static int feed_cover_brute(coord *c, size_t h, size_t *nby)
{
	const coord_hub *a = &c->hubs[h];
	for (size_t g = 0; g < c->nhubs; g++) {
		const coord_hub *b = &c->hubs[g];
		if (geo_distance_km(a->lat, a->lon, b->lat, b->lon) <= b->radius_km &&
		    feed_by_push(c->feed, nby, (uint32_t)g) != 0) {
			return DN_ENOMEM;
		}
	}
	return 0;
}

/* Which hubs cover which hub's position (by their radius): hub h's list
 * is what hubindex_query answers at h's position - exactly the hubs g
 * with geo_distance_km(h, g) <= g's radius (hubindex.h), sorted back into
 * index order. O(hubs x hubs near one), where measuring every pair was
 * O(hubs^2): 16.7 M distances at 4,096 hubs, on every coord_open. */
static int feed_cover(coord *c, bool full)
{
	struct coord_feed *f = c->feed;
	size_t n = c->nhubs;
	if (f->ncover == n && (!full || feed_cover_same(c))) {
		return 0;
	}
	for (size_t g = 0; g < n; g++) {
		f->view[g] = (route_hub){.id = c->hubs[g].id, .lat = c->hubs[g].lat,
		    .lon = c->hubs[g].lon, .radius_km = c->hubs[g].radius_km};
	}
	/* The index routing uses (coord_route_order rebuilds it on the same
	 * test), so an order after this finds it built. */
	if (!hubindex_matches(&c->hubix, f->view, n)) {
		int rv = hubindex_build(&c->hubix, f->view, n);
		if (rv != 0) {
			return rv;
		}
	}
	f->ncover = SIZE_MAX;   /* until the lists are whole */
	size_t nby = 0;
	for (size_t h = 0; h < n; h++) {
		f->by_start[h] = (uint32_t)nby;
		size_t nhit = 0;
		if (hubindex_query(&c->hubix, f->view, n, f->view[h].lat, f->view[h].lon, f->hit,
		    n, &nhit) != 0) {
			if (feed_cover_brute(c, h, &nby) != 0) {
				return DN_ENOMEM;
			}
			continue;
		}
		for (size_t k = 0; k < nhit; k++) {
			if (feed_by_push(f, &nby, (uint32_t)f->hit[k].hub) != 0) {
				return DN_ENOMEM;
			}
		}
		qsort(f->by_list + f->by_start[h], nhit, sizeof(*f->by_list), feed_u32_cmp);
	}
	f->by_start[n] = (uint32_t)nby;
	f->ncover = n;
	for (size_t g = 0; g < n; g++) {
		f->cover_of[g][0] = c->hubs[g].lat;
		f->cover_of[g][1] = c->hubs[g].lon;
		f->cover_of[g][2] = c->hubs[g].radius_km;
	}
	return 0;
}

const uint32_t *coord_feed_cover(const coord *c, size_t h, size_t *n)
{
	const struct coord_feed *f = c->feed;
	*n = 0;
	if (f == NULL || f->ncover != c->nhubs || h >= c->nhubs) {
		return NULL;
	}
	*n = f->by_start[h + 1] - f->by_start[h];
	return f->by_list + f->by_start[h];
}

/* f->sellable: each routable hub's sellable units of sku (0 otherwise). */
static void feed_sellable(coord *c, const char *sku)
{
	struct coord_feed *f = c->feed;
	for (size_t g = 0; g < c->nhubs; g++) {
		coord_stock *s = f->routable[g] ? coord_stock_get(c, (int)g, sku, false) : NULL;
		int64_t v = s != NULL ? ledger_sellable(&s->row) : 0;
		f->sellable[g] = v > 0 ? v : 0;
	}
}

/* The availability class at region h's hub (f->sellable filled). */
static int feed_avail(coord *c, size_t h)
{
	struct coord_feed *f = c->feed;
	int64_t n = 0;
	for (uint32_t k = f->by_start[h]; k < f->by_start[h + 1]; k++) {
		n += f->sellable[f->by_list[k]];
	}
	return n <= 0 ? DROPNET__AVAILABILITY__SOLD_OUT_HERE :
	    n <= c->cfg.quote_low_units ? DROPNET__AVAILABILITY__LOW :
	    DROPNET__AVAILABILITY__IN_STOCK;
}

/* Every tier of d on sale now with its price for sku in region (-1: no
 * demand signal), and their hash (with the experiment's id). */
static void feed_prices_of(coord *c, const coord_drop *d, const char *sku, int region,
    int64_t now, feed_prices *fp)
{
	const coord_experiment *x = coord_experiment_find(c, d->id, sku);
	fp->n = 0;
	fp->hash = feed_fnv_str(1469598103934665603ull, x != NULL ? x->id : "");
	for (size_t t = 0; t < d->ntiers; t++) {
		int idx = -1;
		if (drop_check(d->state, d->tiers, d->ntiers, d->tiers[t].name, now, true, 1,
		    &idx) != DROP_OK) {
			continue;
		}
		Dropnet__FeedPrice *p = &fp->p[fp->n];
		dropnet__feed_price__init(p);
		p->tier = (char *)d->tiers[t].name;
		p->rule = fp->rule[fp->n];
		if (coord_price_line(c, d, (int)t, sku, region, "", NULL, now, &p->unit_minor,
		    fp->rule[fp->n], NULL) != 0) {
			p->unit_minor = 0;
			snprintf(fp->rule[fp->n], PRICE_RULE_NAME_MAX, "unpriced");
		}
		fp->hash = feed_fnv_str(fp->hash, p->tier);
		fp->hash = feed_fnv(fp->hash, &p->unit_minor, sizeof(p->unit_minor));
		fp->hash = feed_fnv_str(fp->hash, p->rule);
		fp->pp[fp->n] = p;
		fp->n++;
	}
}

/* Queues row r's message (its seq taken even when the outbox is full). */
static void feed_emit(coord *c, const coord_drop *d, feed_row *r, const feed_prices *fp,
    int avail, bool price_changed, bool avail_changed)
{
	const coord_experiment *x = coord_experiment_find(c, d->id, r->sku);
	Dropnet__FeedChange m = DROPNET__FEED_CHANGE__INIT;
	m.version = DN_PROTO_VERSION;
	m.sku = r->sku;
	m.region = r->hub;
	m.drop_id = r->drop;
	m.seq = ++r->seq;
	m.epoch = c->feed_epoch;
	m.time_ms = coord_now_wall_ms(c);
	m.availability = (Dropnet__Availability)avail;
	m.n_prices = fp->n;
	m.prices = (Dropnet__FeedPrice **)fp->pp;
	m.currency = d->spec->currency;
	m.price_changed = price_changed;
	m.availability_changed = avail_changed;
	m.experiment = x != NULL ? (char *)x->id : (char *)"";
	m.closed = d->state == DROP_CLOSED;
	c->metrics.feed_changes++;
	char topic[FEED_TOPIC_MAX];
	snprintf(topic, sizeof(topic), "feed %s %s ", r->sku, r->hub);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (codec_feed_change_pack(&m, &buf, &len) != 0) {
		c->metrics.outbox_dropped++;
		return;
	}
	coord_outbox_push(c, topic, buf, len);
	free(buf);
}

/* One SKU (index k) of drop d in every region. */
static void feed_scan_sku(coord *c, const coord_drop *d, size_t k, int64_t now)
{
	struct coord_feed *f = c->feed;
	const char *sku = d->spec->skus[k]->sku;
	feed_prices base, own;
	bool closed = d->state == DROP_CLOSED;
	const uint64_t key = feed_key(d->id, sku);
	feed_prices_of(c, d, sku, -1, now, &base);
	feed_sellable(c, sku);
	for (size_t h = 0; h < c->nhubs; h++) {
		bool fresh = false;
		feed_row *r = feed_row_get(c, key, d->id, sku, c->hubs[h].id, !closed, &fresh);
		if (r == NULL || r->closed) {
			continue;
		}
		/* The demand signal is per region; without one every region
		 * has the network's prices. */
		const feed_prices *fp = &base;
		if (coord_demand_ratio(c, (int)h, sku) != 1.0) {
			feed_prices_of(c, d, sku, (int)h, now, &own);
			fp = &own;
		}
		int avail = feed_avail(c, h);
		bool pc = fresh || fp->hash != r->price_hash, ac = fresh || avail != r->avail;
		r->price_hash = fp->hash;
		r->avail = avail;
		r->closed = closed;
		if ((pc || ac || closed) && f->primed) {
			feed_emit(c, d, r, fp, avail, pc, ac);
		}
	}
}

static bool feed_dirty(const coord *c, const char *sku)
{
	for (size_t i = 0; i < c->feed_dirty.n; i++) {
		if (strcmp(c->feed_dirty.sku[i], sku) == 0) {
			return true;
		}
	}
	return false;
}

void coord_feed_scan(coord *c, bool all)
{
	struct coord_feed *f = c->feed;
	if (f == NULL || c->degraded || !c->clock_started) {
		return;
	}
	all = all || c->feed_dirty.all || !f->primed;
	if (!all && c->feed_dirty.n == 0) {
		return;
	}
	if (feed_cover(c, all) != 0) {
		return; /* out of memory: the next scan tries again */
	}
	uint64_t mono = coord_now_mono_ms(c);
	int64_t now = coord_now_wall_ms(c);
	for (size_t g = 0; g < c->nhubs; g++) {
		f->routable[g] = coord_hub_routable(c, &c->hubs[g], mono);
	}
	for (size_t i = 0; i < c->ndrops; i++) {
		const coord_drop *d = &c->drops[i];
		if (d->spec == NULL || d->state == DROP_DRAFT) {
			continue;
		}
		for (size_t k = 0; k < d->spec->n_skus && k < DROP_SKUS_MAX; k++) {
			if (all || feed_dirty(c, d->spec->skus[k]->sku)) {
				feed_scan_sku(c, d, k, now);
			}
		}
	}
	f->primed = true;
	c->feed_dirty.n = 0;
	c->feed_dirty.all = false;
}
