/*
 * state.c - the coordinator's in-memory state: config table, hub registry,
 * reload of the ledger copy (stock.c) from the
 * store. Loop thread only.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "io/db.h"   /* db_open_vfs, db_close: the store's life */
#include "io/log.h"
#include "coord.h"
#include "store.h"

const conf_key coord_config_keys[] = {
    {"coordinator.data_dir", CONF_STR, 0, 0, "var/coordinator",
        offsetof(coord_config, data_dir),
        "folder for coordinator.db (created if missing)"},
    {"coordinator.ingest_url", CONF_STR, 0, 0, "tls+tcp://127.0.0.1:7400",
        offsetof(coord_config, ingest_url), "storefront socket (SubmitOrder)"},
    {"coordinator.ops_url", CONF_STR, 0, 0, "tls+tcp://127.0.0.1:7401",
        offsetof(coord_config, ops_url), "operations socket (dropctl)"},
    {"coordinator.hub_url", CONF_STR, 0, 0, "tls+tcp://127.0.0.1:7402",
        offsetof(coord_config, hub_url), "hub sync socket (hubd dials it)"},
    {"coordinator.split_policy", CONF_STR, 0, 0, "never",
        offsetof(coord_config, split_policy),
        "never: one hub fills a whole order; allowed: split over nearest hubs"},
    {"coordinator.hub_timeout_ms", CONF_INT, 100, 600000, "1500",
        offsetof(coord_config, hub_timeout_ms),
        "a hub silent this long is shown silent (dropctl hubs, hub.silent)"},
    {"coordinator.hub_grace_ms", CONF_INT, 0, 600000, "10000",
        offsetof(coord_config, hub_grace_ms),
        "a silent hub is still routed to until silent this long (at least"
        " hub_timeout_ms); its commands wait in its stream"},
    {"coordinator.hub_lease_ms", CONF_INT, 1000, DN_LEASE_MAX_MS, "10000",
        offsetof(coord_config, hub_lease_ms),
        "claim lease granted on every sync: a hub starts no new pick without one"},
    {"coordinator.hubs_max", CONF_INT, 1, DN_HUBS_CAP, "256",
        offsetof(coord_config, hubs_max),
        "hubs the registry holds (memory is reserved for all at start); a hub"
        " beyond it is refused at its first sync (hubsync.bad_hello). At most"
        " 4096: every hub needs a name in the peers table, which holds 4096"},
    {"coordinator.ingest_contexts", CONF_INT, 1, DN_SERVER_CTX_MAX, "128",
        offsetof(coord_config, ingest_contexts),
        "storefront requests served at once (nng contexts)"},
    {"coordinator.ingest_peer_inflight_max", CONF_INT, 0, DN_SERVER_CTX_MAX, "64",
        offsetof(coord_config, ingest_peer_inflight_max),
        "requests one storefront connection may have in flight (0: no cap); more are"
        " answered UNAVAILABLE at once"},
    {"coordinator.hub_peer_inflight_max", CONF_INT, 0, COORD_HUB_CTX, "4",
        offsetof(coord_config, hub_peer_inflight_max),
        "syncs one hub connection may have in flight (0: no cap; a hub sends one)"},
    {"coordinator.ops_peer_inflight_max", CONF_INT, 0, COORD_OPS_CTX, "2",
        offsetof(coord_config, ops_peer_inflight_max),
        "requests one dropctl connection may have in flight (0: no cap)"},
    {"coordinator.test_clock", CONF_INT, 0, 1, "0",
        offsetof(coord_config, test_clock),
        "1 lets `dropctl clock set` move this coordinator's clock (tests, demos)"},
    {"coordinator.ship_promise_ms", CONF_INT, 60000, 30LL * 86400000, "86400000",
        offsetof(coord_config, ship_promise_ms),
        "promised ship time after acceptance; hubs pick the earliest first"},
    {"coordinator.signal_url", CONF_STR, 0, 0, "tls+tcp://127.0.0.1:7403",
        offsetof(coord_config, signal_url),
        "pub socket for regional demand signals (topic \"signal\")"},
    {"rebalance.bucket_ms", CONF_INT, 1000, 86400000, "60000",
        offsetof(coord_config, bucket_ms),
        "demand history bucket: minutes during a live drop, days between drops"},
    {"rebalance.history_buckets", CONF_INT, 1, 20160, "120",
        offsetof(coord_config, history_buckets), "buckets of history the forecast reads"},
    {"rebalance.horizon", CONF_INT, 1, 366, "30", offsetof(coord_config, horizon),
        "buckets ahead the stock must cover"},
    {"rebalance.service", CONF_DOUBLE, 0.5, 0.999, "0.9", offsetof(coord_config, service),
        "service level the cover quantity meets"},
    {"rebalance.unit_value", CONF_DOUBLE, 0, 1e9, "10",
        offsetof(coord_config, unit_value), "value of one protected sale"},
    {"rebalance.trip_cost", CONF_DOUBLE, 0, 1e9, "20",
        offsetof(coord_config, trip_cost), "fixed cost of one van trip"},
    {"rebalance.km_cost", CONF_DOUBLE, 0, 1e6, "0.5",
        offsetof(coord_config, km_cost), "van cost per km"},
    {"rebalance.km_max", CONF_DOUBLE, 0, 2000, "300", offsetof(coord_config, km_max),
        "no transfer between hubs farther apart, km"},
    {"rebalance.trips_max", CONF_INT, 0, 64, "8", offsetof(coord_config, trips_max),
        "van trips one plan may use, per SKU"},
    {"rebalance.transfer_min", CONF_INT, 1, 1000000, "5",
        offsetof(coord_config, transfer_min), "smallest transfer worth a van, units"},
    {"rebalance.auto_ms", CONF_INT, 0, 86400000, "0", offsetof(coord_config, auto_ms),
        "plan and apply automatically this often while a drop is open (0: off)"},
    {"rebalance.spike_bucket_ms", CONF_INT, 1000, 3600000, "60000",
        offsetof(coord_config, spike_bucket_ms),
        "bucket of the live spike test"},
    {"rebalance.on_spike", CONF_INT, 0, 1, "1", offsetof(coord_config, on_spike),
        "1: a declared spike triggers a rebalance of its SKU at once"},
    {"prices.quote_ttl_ms", CONF_INT, 1000, 86400000, "600000",
        offsetof(coord_config, quote_ttl_ms),
        "how long a quote's price lock (its token) holds, ms"},
    {"prices.low_units", CONF_INT, 0, 1000000, "5",
        offsetof(coord_config, quote_low_units),
        "a quote says LOW when hubs in range have this many units or fewer"},
    {"group.snapshot_entries", CONF_INT, 16, 100000000, "1024",
        offsetof(coord_config, group_snapshot_entries),
        "a replicated group's replica snapshots its store every this many applied"
        " log entries and compacts its log (keeping a quarter of them, at most 128)"},
    {"group.checksum_ms", CONF_INT, 0, 86400000, "5000",
        offsetof(coord_config, group_checksum_ms),
        "a replica takes its books checksum (dropctl replicas) at the first entry of"
        " every this many ms of the group clock (0: none); the same on every replica"},
    {"group.secret_file", CONF_STR, 0, 0, "", offsetof(coord_config, group_secret_file),
        "a replicated group's shared secret (64 hex digits; deploy/pki.sh group-secret):"
        " a replication connection reaches libraft only once its peer proved it holds"
        " it. Empty: libraft's own unauthenticated transport (warned at start)"},
    {"log.level", CONF_STR, 0, 0, "info", offsetof(coord_config, log_level),
        "debug, info, warn or error"},
    {"tls.ca_file", CONF_STR, 0, 0, "", offsetof(coord_config, tls_ca_file),
        "PEM CA certificate(s) every peer's certificate must chain to"},
    {"tls.crl_file", CONF_STR, 0, 0, "", offsetof(coord_config, tls_crl_file),
        "PEM CRL(s) of those CAs: revoked peers are refused (read at start)"},
    {"tls.cert_file", CONF_STR, 0, 0, "", offsetof(coord_config, tls_cert_file),
        "this coordinator's PEM certificate (its name in a SAN)"},
    {"tls.key_file", CONF_STR, 0, 0, "", offsetof(coord_config, tls_key_file),
        "PEM private key of tls.cert_file (unencrypted; mode 0600)"},
    {"tls.storefront_ca_file", CONF_STR, 0, 0, "",
        offsetof(coord_config, tls_storefront_ca_file),
        "CA for the ingest socket only (storefronts); empty: tls.ca_file"},
    {"tls.hub_ca_file", CONF_STR, 0, 0, "", offsetof(coord_config, tls_hub_ca_file),
        "CA for the hub sync socket only (hubs); empty: tls.ca_file"},
    {"tls.operator_ca_file", CONF_STR, 0, 0, "",
        offsetof(coord_config, tls_operator_ca_file),
        "CA for the ops and signal sockets only (operators); empty: tls.ca_file"},
    {"auth.peers_file", CONF_STR, 0, 0, "", offsetof(coord_config, auth_peers_file),
        "who may speak: ROLE NAME KEYHEX a line (deploy/pki.sh writes PKI/peers);"
        " read at start and on SIGHUP"},
    {"auth.anonymous", CONF_INT, 0, 1, "0", offsetof(coord_config, auth_anonymous),
        "1 runs without auth.peers_file: any peer of a socket's role may speak"
        " for any name (a private test network only)"},
    {"tls.allow_plaintext", CONF_INT, 0, 1, "0",
        offsetof(coord_config, tls_allow_plaintext),
        "1 allows plaintext tcp:// URLs (a private network only); ipc:// always is"},
    {"metrics.listen", CONF_STR, 0, 0, "", offsetof(coord_config, metrics_listen),
        "http://HOST:PORT or https://HOST:PORT serving GET /metrics (Prometheus"
        " text); empty: off"},
    {"metrics.allow_public", CONF_INT, 0, 1, "0",
        offsetof(coord_config, metrics_allow_public),
        "1 allows an http:// metrics.listen on a non-loopback address (plain HTTP:"
        " a private network only); https:// may listen anywhere"},
    {"metrics.cert_file", CONF_STR, 0, 0, "", offsetof(coord_config, metrics_cert_file),
        "https: the PEM certificate /metrics presents; empty: tls.cert_file"},
    {"metrics.key_file", CONF_STR, 0, 0, "", offsetof(coord_config, metrics_key_file),
        "https: PEM private key of metrics.cert_file; empty: tls.key_file"},
    {"metrics.client_ca_file", CONF_STR, 0, 0, "",
        offsetof(coord_config, metrics_client_ca_file),
        "https: CA every scraper's client certificate must chain to; empty:"
        " tls.operator_ca_file, else tls.ca_file"},
};
const size_t coord_config_nkeys = sizeof(coord_config_keys) / sizeof(coord_config_keys[0]);

bool coord_config_key_local(const char *name)
{
	static const char *const local[] = {
		"coordinator.data_dir", "coordinator.ingest_url", "coordinator.ops_url",
		"coordinator.hub_url", "coordinator.signal_url", "coordinator.ingest_contexts",
		"coordinator.ingest_peer_inflight_max", "coordinator.hub_peer_inflight_max",
		"coordinator.ops_peer_inflight_max", "group.snapshot_entries", "group.secret_file",
		"auth.peers_file", "log.", "tls.", "metrics.",
	};
	for (size_t k = 0; k < sizeof(local) / sizeof(local[0]); k++) {
		size_t n = strlen(local[k]);
		if (local[k][n - 1] == '.' ? strncmp(name, local[k], n) == 0 :
		    strcmp(name, local[k]) == 0) {
			return true;
		}
	}
	return false;
}

uint64_t coord_config_digest(const coord_config *cfg)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < coord_config_nkeys; i++) {
		const conf_key *k = &coord_config_keys[i];
		if (coord_config_key_local(k->name) || (cfg->hubs_max == DN_HUBS_DEFAULT &&
		    strcmp(k->name, "coordinator.hubs_max") == 0)) {
			/* hubs_max at its default: the digest of a genesis made
			 * before the key existed (it ran at the default). */
			continue;
		}
		const char *field = (const char *)cfg + k->offset;
		char line[DN_CONF_STR_MAX + 128];
		int n = k->type == CONF_STR ? snprintf(line, sizeof(line), "%s=%s\n", k->name, field) :
		    k->type == CONF_INT ? snprintf(line, sizeof(line), "%s=%lld\n", k->name,
		    *(const long long *)(const void *)field) :
		    snprintf(line, sizeof(line), "%s=%.17g\n", k->name,
		    *(const double *)(const void *)field);
		for (int b = 0; b < n && b < (int)sizeof(line); b++) {
			h = (h ^ (uint8_t)line[b]) * 1099511628211ULL;
		}
	}
	return h;
}

int coord_config_digest_save(coord *c)
{
	return store_meta_int_set(c->db, "config_digest",
	    (int64_t)coord_config_digest(&c->cfg));
}

int coord_config_digest_check(coord *c)
{
	int64_t v = 0;
	bool found = false;
	if (store_meta_int_get(c->db, "config_digest", &v, &found) != 0) {
		return DN_EIO;
	}
	uint64_t ours = coord_config_digest(&c->cfg);
	if (!found) {
		log_warn("replica.config_unchecked", "ours=%016llx reason=\"the group's genesis"
		    " carries no config digest (made before digests)\"", (unsigned long long)ours);
		return 0;
	}
	if ((uint64_t)v != ours) {
		log_error("replica.config_mismatch", "ours=%016llx group=%016llx hint=\"every"
		    " replica must run the machine with the same config: compare the"
		    " config.value lines of the keys other than urls, data_dir, tls.*, metrics.*,"
		    " log.*, *_contexts, *_inflight_max, group.snapshot_entries,"
		    " auth.peers_file\"", (unsigned long long)ours, (unsigned long long)(uint64_t)v);
		return DN_EINVAL;
	}
	return 0;
}

/* Moves the machine's wall time after a reading r, dm monotonic ms after
 * the last one (proto/SEMANTICS.md "Time"): time passing and small drift
 * are followed; a forward step is followed at the monotonic rate until it
 * has held for COORD_CLOCK_CONFIRM_MS, then taken; a reading below the
 * machine's wall time (a backward step) is never taken: the machine waits
 * for the wall clock to catch up. */
static void clock_follow(coord *c, int64_t r, uint64_t dm)
{
	int64_t predicted = c->wall_ms + (int64_t)dm;
	if (r > predicted + COORD_CLOCK_STEP_MS) {
		if (c->step_since_mono_ms == 0) {
			c->step_since_mono_ms = c->now_mono_ms;
			log_warn("clock.step", "dir=forward step_ms=%lld confirm_ms=%d",
			    (long long)(r - predicted), COORD_CLOCK_CONFIRM_MS);
		}
		if (c->now_mono_ms - c->step_since_mono_ms >= COORD_CLOCK_CONFIRM_MS) {
			log_warn("clock.step_taken", "dir=forward step_ms=%lld",
			    (long long)(r - predicted));
			c->step_since_mono_ms = 0;
			c->wall_ms = r;
		} else {
			c->wall_ms = predicted;
		}
		return;
	}
	if (c->step_since_mono_ms != 0) {
		log_warn("clock.step_gone", "dir=forward");
		c->step_since_mono_ms = 0;
	}
	if (r >= c->wall_ms) {
		c->wall_ms = r;
		c->step_back_logged = false;
	} else if (c->wall_ms - r > COORD_CLOCK_STEP_MS && !c->step_back_logged) {
		log_warn("clock.step", "dir=back step_ms=%lld", (long long)(c->wall_ms - r));
		c->step_back_logged = true;
	}
}



void coord_clock_set(coord *c, uint64_t mono_ms, int64_t wall_ms)
{
	assert(mono_ms >= c->now_mono_ms);
	uint64_t gap = mono_ms - c->now_mono_ms;
	if (c->now_mono_ms != 0 && gap > DN_COORD_STALL_MS) {
		/* The machine did not run for this gap, so the hubs' syncs of
		 * that time may still wait in the shell's queues, behind or
		 * after the orders queued with them: silence counts only while
		 * the coordinator listened. Any hub may have synced during the
		 * stall, one that was down before it too, so, as after a
		 * restart, every hub counts as heard when the machine stopped
		 * listening (the first DN_COORD_STALL_MS of the gap count as
		 * listening). The lease clock (lease_sent_mono_ms) is not
		 * moved: the hubs' leases ran on. */
		uint64_t credit = gap - DN_COORD_STALL_MS;
		for (size_t i = 0; i < c->nhubs; i++) {
			coord_hub *h = &c->hubs[i];
			if (h->last_seen_mono_ms == 0) {
				continue;
			}
			bool was_down = coord_hub_health(c, h, c->now_mono_ms) == COORD_HUB_DOWN;
			h->last_seen_mono_ms = credit + (h->last_seen_mono_ms >
			    c->now_mono_ms ? h->last_seen_mono_ms : c->now_mono_ms);
			int health = coord_hub_health(c, h, mono_ms);
			if (was_down && health != COORD_HUB_DOWN) {
				/* Routed to again without having been heard: say so,
				 * and let the tick log it down again if it stays away. */
				log_warn("hub.revived", "hub=%s by=stall health=%s", h->id,
				    health == COORD_HUB_OK ? "ok" : "silent");
				h->health_logged = health;
			}
		}
		log_warn("coord.stall", "gap_ms=%llu credited_ms=%llu",
		    (unsigned long long)gap, (unsigned long long)credit);
	}
	uint64_t dm = gap;
	c->now_mono_ms = mono_ms;
	c->now_wall_ms = wall_ms;
	int64_t r = wall_ms + c->clock_offset_ms;
	if (!c->clock_started) {
		/* The duration clock starts at the wall time, so expiries in a
		 * file from before it existed keep their meaning. */
		c->wall_ms = r;
		c->elapsed_ms = r;
		c->clock_started = true;
		/* Opened before the first reading: the file's clocks now. */
		if (c->db != NULL && coord_clock_load(c) != 0) {
			log_error("clock.load_failed", "%s", "");
		}
		return;
	}
	c->elapsed_ms += (int64_t)dm;
	clock_follow(c, r, dm);
}

void coord_clock_move(coord *c, int64_t wall_ms)
{
	c->clock_offset_ms = wall_ms - c->now_wall_ms;
	if (wall_ms > c->wall_ms) {
		c->elapsed_ms += wall_ms - c->wall_ms;
	}
	c->wall_ms = wall_ms;
	c->step_since_mono_ms = 0;
	c->step_back_logged = false;
	c->clock_moved = true;
}

uint64_t coord_now_mono_ms(const coord *c)
{
	return c->now_mono_ms;
}

int64_t coord_now_wall_ms(const coord *c)
{
	return c->wall_ms;
}

int64_t coord_now_elapsed_ms(const coord *c)
{
	return c->elapsed_ms;
}

int coord_clock_save(coord *c)
{
	return coord_store_clock_save(c->store, c->wall_ms, c->elapsed_ms);
}

void coord_clock_saved(coord *c)
{
	c->clock_saved_ms = c->wall_ms;
	c->clock_moved = false;
}

bool coord_clock_save_due(const coord *c)
{
	int64_t from = c->clock_saved_ms, to = c->wall_ms;
	if (c->clock_moved || to - from >= COORD_CLOCK_SAVE_LAG_MS) {
		return true;
	}
	for (size_t i = 0; i < c->ndrops && to > from; i++) {
		const coord_drop *d = &c->drops[i];
		for (size_t t = 0; d->state != DROP_CLOSED && t < d->ntiers; t++) {
			int64_t o = d->tiers[t].opens_ms, e = d->tiers[t].closes_ms;
			if ((o > from && o <= to) || (e > from && e <= to)) {
				return true;
			}
		}
	}
	return false;
}

/* At open: the machine never acts below the wall time it reached before
 * the restart, and the downtime counts on the duration clock as the wall
 * clock measured it (never negative). */
int coord_clock_load(coord *c)
{
	int64_t wall = 0, elapsed = 0;
	int rv = coord_store_clock_load(c->store, &wall, &elapsed);
	if (rv == 0) {
		int64_t r = c->now_wall_ms + c->clock_offset_ms;
		c->elapsed_ms = elapsed + (r > wall ? r - wall : 0);
		c->wall_ms = r > wall ? r : wall;
		c->clock_saved_ms = wall;
		if (wall - r > COORD_CLOCK_STEP_MS) {
			log_warn("clock.behind", "wall_ms=%lld file_wall_ms=%lld",
			    (long long)r, (long long)wall);
		}
	}
	c->step_since_mono_ms = 0;
	return rv == 0 || rv == DN_ENOENT ? 0 : DN_EIO;
}

int coord_hub_health(const coord *c, const coord_hub *h, uint64_t now_mono)
{
	if (h->last_seen_mono_ms == 0) {
		return COORD_HUB_DOWN;
	}
	/* Seen "after now" only when the machine opened before its clock was
	 * first set (last_seen 1 at clock 0): not silent. */
	uint64_t silent = now_mono > h->last_seen_mono_ms ?
	    now_mono - h->last_seen_mono_ms : 0;
	uint64_t timeout = (uint64_t)c->cfg.hub_timeout_ms;
	uint64_t grace = (uint64_t)c->cfg.hub_grace_ms;
	if (silent < timeout) {
		return COORD_HUB_OK;
	}
	return silent < (grace > timeout ? grace : timeout) ? COORD_HUB_SILENT
	    : COORD_HUB_DOWN;
}

bool coord_hub_healthy(const coord *c, const coord_hub *h, uint64_t now_mono)
{
	return coord_hub_health(c, h, now_mono) == COORD_HUB_OK;
}

bool coord_hub_routable(const coord *c, const coord_hub *h, uint64_t now_mono)
{
	return coord_hub_health(c, h, now_mono) != COORD_HUB_DOWN;
}

bool coord_hub_lease_expired(const coord *c, const coord_hub *h, uint64_t now_mono)
{
	(void)c;
	return now_mono - h->lease_sent_mono_ms >= h->lease_granted_ms + DN_LEASE_SKEW_MS;
}

void coord_stock_assert(const coord *c, const coord_stock *s, const char *when)
{
	/* Wide arithmetic: a corrupt row must not wrap into a plausible sum. */
	__int128 expect = (__int128)s->received + s->returned + s->transfer_in - s->shipped -
	    s->transfer_out - s->lost + s->adjusted;
	bool ok = s->hub >= 0 && (size_t)s->hub < c->nhubs && s->row.on_hand >= 0 &&
	    s->row.allocated >= 0 && s->row.holdback >= 0 && expect == s->row.on_hand;
	if (ok) {
		return;
	}
	log_error("ledger.invariant_broken", "when=%s hub=%s sku=%s on_hand=%lld"
	    " allocated=%lld holdback=%lld received=%lld returned=%lld transfer_in=%lld"
	    " shipped=%lld transfer_out=%lld lost=%lld adjusted=%lld: stopping rather than"
	    " keep a wrong book", when,
	    s->hub >= 0 && (size_t)s->hub < c->nhubs ? c->hubs[s->hub].id : "?", s->sku,
	    (long long)s->row.on_hand, (long long)s->row.allocated,
	    (long long)s->row.holdback, (long long)s->received, (long long)s->returned,
	    (long long)s->transfer_in, (long long)s->shipped, (long long)s->transfer_out,
	    (long long)s->lost, (long long)s->adjusted);
	abort();
}

void coord_gap_note(coord *c, int hub, const char *sku, const char *what, int64_t ref,
    const ledger_gap *gap)
{
	if (gap->found == 0 && gap->unallocated == 0) {
		return;
	}
	c->stream_discrepancies++;
	log_warn("stream.books_uncovered", "hub=%s sku=%s event=%s placement=%lld"
	    " found=%lld unallocated=%lld count=%llu", c->hubs[hub].id, sku, what,
	    (long long)ref, (long long)gap->found, (long long)gap->unallocated,
	    (unsigned long long)c->stream_discrepancies);
}

/* The registry as it was before a reload (c->reload_old, nold hubs). */
typedef struct {
	coord *c;
	size_t nold;
} reload_hubs_arg;

static int reload_hub(void *arg, const coord_store_hub_row *r)
{
	reload_hubs_arg *a = arg;
	coord *c = a->c;
	if (c->nhubs == c->hubs_max) {
		/* Not a silent cut: a hub left out would lose its stock rows. */
		log_error("coord.hubs_over_max", "hubs_max=%zu hint=\"the file holds more"
		    " hubs than coordinator.hubs_max: raise it\"", c->hubs_max);
		return DN_ERANGE;
	}
	coord_hub *h = &c->hubs[c->nhubs++];
	memset(h, 0, sizeof(*h));
	/* c->hubid still names the old registry, reload_old's copy. */
	int k = coord_hubid_find_in(c, c->reload_old, r->id);
	if (k >= 0) {
		*h = c->reload_old[k];
		c->reload_old[k].report = NULL; /* moved */
	}
	snprintf(h->id, sizeof(h->id), "%s", r->id);
	snprintf(h->name, sizeof(h->name), "%s", r->name);
	h->lat = r->lat;
	h->lon = r->lon;
	h->radius_km = r->radius_km;
	snprintf(h->term_url, sizeof(h->term_url), "%s", r->term_url);
	h->cmd_seq = r->cmd_seq;
	h->cmd_acked = r->cmd_acked;
	h->event_applied = r->event_applied;
	h->incarnation = r->incarnation;
	h->cmd_offered = r->cmd_offered;
	h->seed_pending = r->seed_pending;
	return 0;
}

/* The registry is rebuilt from the file, so a hub registered by a
 * transaction that rolled back does not linger in memory; health (last
 * seen) and the last stock report carry over for hubs that remain. */
static int reload_hubs(coord *c)
{
	assert(c->reload_old != NULL);
	reload_hubs_arg a = {c, c->nhubs};
	memcpy(c->reload_old, c->hubs, a.nold * sizeof(c->hubs[0]));
	c->nhubs = 0;
	int rv = coord_store_hubs_list(c->store, c->hubs_max + 1, reload_hub, &a);
	coord_hubid_rebuild(c);
	for (size_t k = 0; k < a.nold; k++) {
		free(c->reload_old[k].report);
	}
	return rv;
}

static int reload_stock_row(void *arg, const coord_store_stock_row *r)
{
	coord *c = arg;
	int hub = coord_hub_find(c, r->hub);
	if (hub < 0) {
		log_error("coord.orphan_stock", "hub=%s sku=%s", r->hub, r->sku);
		return 0;
	}
	coord_stock *s = coord_stock_get(c, hub, r->sku, true);
	if (s == NULL) {
		return DN_ENOMEM;
	}
	s->row.on_hand = r->on_hand;
	s->row.allocated = r->allocated;
	s->row.holdback = r->holdback;
	s->received = r->received;
	s->shipped = r->shipped;
	s->lost = r->lost;
	s->adjusted = r->adjusted;
	s->returned = r->returned;
	s->transfer_in = r->transfer_in;
	s->transfer_out = r->transfer_out;
	coord_stock_assert(c, s, "load");
	return 0;
}

int coord_reload(coord *c)
{
	int rv = reload_hubs(c);
	coord_stock_clear(c);
	if (rv != 0) {
		c->degraded = true;
		/* More hubs than hubs_max is the config's, not the file's. */
		return rv == DN_ERANGE ? DN_ERANGE : DN_EIO;
	}
	rv = coord_store_stock_list(c->store, reload_stock_row, c);
	if (rv == 0) {
		rv = coord_drops_load(c);
	}
	/* A partial ledger must never route or be written back: until a reload
	 * succeeds every batch is answered UNAVAILABLE (coord_ready). */
	c->degraded = rv != 0;
	if (rv != 0) {
		log_error("coord.reload_failed", "err=%s", dn_strerror(rv));
	}
	return rv;
}

bool coord_ready(coord *c)
{
	if (c->degraded && coord_reload(c) != 0) {
		return false;
	}
	return true;
}
