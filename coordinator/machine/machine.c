/*
 * machine.c - the coordinator machine's life, the top of its files: open
 * (store, memory, rebalancing state, the known hubs' grace), close, and the
 * periodic tick (hub health, tier openings and lapsed holds, spike tests and
 * automatic rebalancing). Nothing else in the machine calls into this file;
 * it calls down into state.c, drops.c and rebalance.c, so the machine's
 * files call each other in one direction only (docs/ARCHITECTURE.md).
 *
 * The machine's thread only.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "store.h"

void coord_tick(coord *c)
{
	uint64_t now = coord_now_mono_ms(c);
	for (size_t i = 0; i < c->nhubs; i++) {
		coord_hub *h = &c->hubs[i];
		int health = coord_hub_health(c, h, now);
		if (health > h->health_logged) {
			/* hub.silent: past hub_timeout_ms, still routed to;
			 * hub.down: past the grace, routing skips it. */
			log_warn(health == COORD_HUB_SILENT ? "hub.silent" : "hub.down",
			    "hub=%s silent_ms=%llu", h->id, h->last_seen_mono_ms != 0 ?
			    (unsigned long long)(now - h->last_seen_mono_ms) : 0ULL);
		}
		h->health_logged = health;
	}
	coord_drops_tick(c);
	coord_rebalance_tick(c);
	coord_clock_tick(c);
	/* Windows, live prices, the demand signal and hub health move with
	 * time: the feed looks at everything. */
	coord_feed_scan(c, true);
}

/* Routing's working memory for hubs_max hubs (coord.route): made once, so
 * routing an order allocates nothing. 0 or DN_ENOMEM. */
static int machine_route_scratch_make(coord *c)
{
	size_t n = c->hubs_max;
	for (int k = 0; k < COORD_ROUTE_N; k++) {
		coord_route_scratch *w = &c->route[k];
		w->hubs = calloc(n, sizeof(*w->hubs));
		w->sellable = calloc(n * DN_ORDER_LINES_MAX, sizeof(*w->sellable));
		w->cand = calloc(n, sizeof(*w->cand));
		w->pack = calloc(n, sizeof(*w->pack));
		w->packp = calloc(n, sizeof(*w->packp));
		if (w->hubs == NULL || w->sellable == NULL || w->cand == NULL ||
		    w->pack == NULL || w->packp == NULL) {
			return DN_ENOMEM;
		}
		route_result_init(&w->rr, w->cand, n);
	}
	return 0;
}

static void machine_route_scratch_free(coord *c)
{
	for (int k = 0; k < COORD_ROUTE_N; k++) {
		coord_route_scratch *w = &c->route[k];
		free(w->hubs);
		free(w->sellable);
		free(w->cand);
		free(w->pack);
		free(w->packp);
		memset(w, 0, sizeof(*w));
	}
}

int coord_open(coord *c, const char *db_path, const char *vfs)
{
	assert(c->db == NULL && c->store == NULL);
	if (c->metrics.ingest_batch.bounds == NULL) {
		/* Counters outlive a close + open (a restart in the simulator). */
		metrics_hist_init(&c->metrics.ingest_batch, metrics_batch_bounds,
		    metrics_batch_nbounds);
	}
	/* 0: a config not loaded through conf_load (the default). */
	c->hubs_max = c->cfg.hubs_max > 0 ? (size_t)c->cfg.hubs_max : DN_HUBS_DEFAULT;
	if (c->hubs_max > DN_HUBS_CAP) {
		log_error("coord.hubs_max_bad", "hubs_max=%zu max=%u", c->hubs_max, DN_HUBS_CAP);
		return DN_EINVAL;
	}
	c->store = calloc(1, sizeof(*c->store));
	c->hubs = calloc(c->hubs_max, sizeof(*c->hubs));
	c->reload_old = calloc(c->hubs_max, sizeof(*c->reload_old));
	c->hubid_cap = 2;
	while (c->hubid_cap < 2 * c->hubs_max) {
		c->hubid_cap *= 2;
	}
	c->hubid = calloc(c->hubid_cap, sizeof(*c->hubid));
	if (c->store == NULL || c->hubs == NULL || c->reload_old == NULL || c->hubid == NULL ||
	    machine_route_scratch_make(c) != 0 ||
	    hubindex_reserve(&c->hubix, c->hubs_max) != 0) {
		coord_close(c);
		return DN_ENOMEM;
	}
	int rv = db_open_vfs(db_path, NULL, vfs, &c->db);
	if (rv == 0 && vfs == NULL) {
		db_files_private(db_path);   /* it holds secrets (quote, peers) */
	}
	if (rv == 0) {
		rv = store_migrate(c->db);
	}
	if (rv == 0) {
		rv = store_incarnation_get(c->db, &c->incarnation);
	}
	if (rv == 0) {
		rv = store_init(c->store, c->db);
	}
	if (rv == 0) {
		rv = coord_undo_init(c);
	}
	if (rv == 0) {
		rv = coord_store_secret_get(c->store, "quote", c->quote_secret,
		    sizeof(c->quote_secret), &c->quote_secret_len);
	}
	if (rv == 0) {
		rv = coord_reload(c);
	}
	if (rv == 0 && c->clock_started) {
		/* Else the first coord_clock_set loads it. */
		rv = coord_clock_load(c);
	}
	if (rv == 0) {
		rv = coord_rebalance_init(c);
	}
	if (rv == 0) {
		rv = coord_feed_init(c);
	}
	if (rv != 0) {
		coord_close(c);
		return rv;
	}
	/* Hubs known from before a restart count as seen now: they sync
	 * within a heartbeat, and without it the first orders after a restart
	 * would be journalled NO_HUB_IN_RANGE for good. A hub that does not
	 * return is silent, then down, as if it had synced at the restart. A
	 * lease the last incarnation granted may still run: assume the longest
	 * one a hub accepts, granted now. */
	for (size_t i = 0; i < c->nhubs; i++) {
		c->hubs[i].last_seen_mono_ms = c->now_mono_ms ? c->now_mono_ms : 1;
		c->hubs[i].health_logged = COORD_HUB_OK;
		c->hubs[i].lease_sent_mono_ms = c->now_mono_ms;
		c->hubs[i].lease_granted_ms = DN_LEASE_MAX_MS;
	}
	/* The feed's baseline: what the file says now is not news. */
	coord_feed_scan(c, true);
	return 0;
}

void coord_close(coord *c)
{
	if (c == NULL) {
		return;
	}
	coord_rebalance_fini(c);
	coord_feed_fini(c);
	coord_outbox_free(c);
	db_close(c->db);   /* finalizes the store's statements */
	c->db = NULL;
	store_ops_fini(c->store);
	free(c->store);
	c->store = NULL;
	free(c->reload_old);
	c->reload_old = NULL;
	hubindex_fini(&c->hubix);
	machine_route_scratch_free(c);
	for (size_t i = 0; c->hubs != NULL && i < c->nhubs; i++) {
		free(c->hubs[i].report);
	}
	free(c->hubs);
	c->hubs = NULL;
	c->nhubs = 0;
	free(c->hubid);
	c->hubid = NULL;
	c->hubid_cap = 0;
	free(c->stock);
	c->stock = NULL;
	c->stock_cap = c->stock_len = 0;
	coord_drops_free(c);
	coord_undo_fini(c);
	coord_scratch_free(c);
}
