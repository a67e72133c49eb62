/*
 * state.c - the coordinator's in-memory state: config table, hub registry,
 * the ledger copy (open-addressing hash on (hub, sku)), and reload from the
 * store. Loop thread only.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/err.h"
#include "io/db.h"
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
        "a hub silent this long is unhealthy and routing skips it"},
    {"coordinator.ingest_contexts", CONF_INT, 1, DN_SERVER_CTX_MAX, "128",
        offsetof(coord_config, ingest_contexts),
        "storefront requests served at once (nng contexts)"},
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
    {"tls.allow_plaintext", CONF_INT, 0, 1, "0",
        offsetof(coord_config, tls_allow_plaintext),
        "1 allows plaintext tcp:// URLs (a private network only); ipc:// always is"},
};
const size_t coord_config_nkeys = sizeof(coord_config_keys) / sizeof(coord_config_keys[0]);

/* Initial slots in the stock table; it doubles past 70% full. */
#define STOCK_CAP_INITIAL 1024u

uint64_t coord_now_mono_ms(const coord *c)
{
	return uv_now(c->loop);
}

int64_t coord_now_wall_ms(const coord *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + c->clock_offset_ms;
}

bool coord_hub_healthy(const coord *c, const coord_hub *h, uint64_t now_mono)
{
	return h->last_seen_mono_ms != 0 &&
	    now_mono - h->last_seen_mono_ms < (uint64_t)c->cfg.hub_timeout_ms;
}

int coord_hub_find(const coord *c, const char *id)
{
	for (size_t i = 0; i < c->nhubs; i++) {
		if (strcmp(c->hubs[i].id, id) == 0) {
			return (int)i;
		}
	}
	return -1;
}

static uint64_t stock_hash(int hub, const char *sku)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(hub + 1);
	for (const unsigned char *p = (const unsigned char *)sku; *p; p++) {
		h = (h ^ *p) * 1099511628211ull;
	}
	return h;
}

static int stock_grow(coord *c)
{
	size_t ncap = c->stock_cap ? c->stock_cap * 2 : STOCK_CAP_INITIAL;
	coord_stock *n = malloc(ncap * sizeof(*n));
	if (n == NULL) {
		return DN_ENOMEM;
	}
	for (size_t i = 0; i < ncap; i++) {
		n[i].hub = -1;
	}
	for (size_t i = 0; i < c->stock_cap; i++) {
		coord_stock *o = &c->stock[i];
		if (o->hub < 0) {
			continue;
		}
		size_t j = stock_hash(o->hub, o->sku) & (ncap - 1);
		while (n[j].hub >= 0) {
			j = (j + 1) & (ncap - 1);
		}
		n[j] = *o;
	}
	free(c->stock);
	c->stock = n;
	c->stock_cap = ncap;
	return 0;
}

coord_stock *coord_stock_get(coord *c, int hub, const char *sku, bool create)
{
	if (c->stock_cap == 0 || (create && (c->stock_len + 1) * 10 > c->stock_cap * 7)) {
		if (stock_grow(c) != 0) {
			return NULL;
		}
	}
	size_t j = stock_hash(hub, sku) & (c->stock_cap - 1);
	while (c->stock[j].hub >= 0) {
		if (c->stock[j].hub == hub && strcmp(c->stock[j].sku, sku) == 0) {
			return &c->stock[j];
		}
		j = (j + 1) & (c->stock_cap - 1);
	}
	if (!create) {
		return NULL;
	}
	coord_stock *s = &c->stock[j];
	memset(s, 0, sizeof(*s));
	s->hub = hub;
	snprintf(s->sku, sizeof(s->sku), "%s", sku);
	c->stock_len++;
	return s;
}

void coord_stock_clear(coord *c)
{
	for (size_t i = 0; i < c->stock_cap; i++) {
		c->stock[i].hub = -1;
	}
	c->stock_len = 0;
}

int coord_reload(coord *c)
{
	sqlite3_stmt *st = NULL;
	/* The registry is rebuilt from the file, so a hub registered by a
	 * transaction that rolled back does not linger in memory; health (last
	 * seen) and the last stock report carry over for hubs that remain. */
	static coord_hub old[DN_HUBS_MAX];
	size_t nold = c->nhubs;
	memcpy(old, c->hubs, nold * sizeof(old[0]));
	c->nhubs = 0;
	int rc = SQLITE_ERROR;
	if (sqlite3_prepare_v2(c->db, "SELECT id, name, lat, lon, radius_km, term_url,"
	    " cmd_seq, cmd_acked, event_applied FROM hubs ORDER BY rowid", -1, &st,
	    NULL) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW && c->nhubs < DN_HUBS_MAX) {
			const char *id = db_col_text(st, 0);
			coord_hub *h = &c->hubs[c->nhubs++];
			memset(h, 0, sizeof(*h));
			for (size_t k = 0; k < nold; k++) {
				if (strcmp(old[k].id, id) == 0) {
					*h = old[k];
					old[k].report = NULL; /* moved */
					break;
				}
			}
			snprintf(h->id, sizeof(h->id), "%s", id);
			snprintf(h->name, sizeof(h->name), "%s", db_col_text(st, 1));
			h->lat = sqlite3_column_double(st, 2);
			h->lon = sqlite3_column_double(st, 3);
			h->radius_km = sqlite3_column_double(st, 4);
			snprintf(h->term_url, sizeof(h->term_url), "%s", db_col_text(st, 5));
			h->cmd_seq = (uint64_t)sqlite3_column_int64(st, 6);
			h->cmd_acked = (uint64_t)sqlite3_column_int64(st, 7);
			h->event_applied = (uint64_t)sqlite3_column_int64(st, 8);
		}
	}
	sqlite3_finalize(st);
	for (size_t k = 0; k < nold; k++) {
		free(old[k].report);
	}
	coord_stock_clear(c);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		c->degraded = true;
		return DN_EIO;
	}
	rc = SQLITE_ERROR;
	int rv = 0;
	if (sqlite3_prepare_v2(c->db, "SELECT hub, sku, on_hand, allocated, holdback,"
	    " received, shipped, lost, adjusted, returned, transfer_in, transfer_out"
	    " FROM stock", -1, &st, NULL) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int hub = coord_hub_find(c, db_col_text(st, 0));
			if (hub < 0) {
				log_error("coord.orphan_stock", "hub=%s sku=%s", db_col_text(st, 0),
				    db_col_text(st, 1));
				continue;
			}
			coord_stock *s = coord_stock_get(c, hub, db_col_text(st, 1), true);
			if (s == NULL) {
				rv = DN_ENOMEM;
				break;
			}
			s->row.on_hand = sqlite3_column_int64(st, 2);
			s->row.allocated = sqlite3_column_int64(st, 3);
			s->row.holdback = sqlite3_column_int64(st, 4);
			s->received = sqlite3_column_int64(st, 5);
			s->shipped = sqlite3_column_int64(st, 6);
			s->lost = sqlite3_column_int64(st, 7);
			s->adjusted = sqlite3_column_int64(st, 8);
			s->returned = sqlite3_column_int64(st, 9);
			s->transfer_in = sqlite3_column_int64(st, 10);
			s->transfer_out = sqlite3_column_int64(st, 11);
		}
	}
	sqlite3_finalize(st);
	if (rv == 0 && rc != SQLITE_DONE) {
		rv = DN_EIO;
	}
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
