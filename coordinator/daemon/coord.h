/*
 * coord.h - the coordinator's state, owned by the libuv loop thread.
 *
 * The coordinator is the book of record for allocation (DESIGN.md). Its
 * durable state is the SQLite file (store.c); `stock` below is an in-memory
 * copy of the ledger table, written through inside the same transaction and
 * reloaded from the file whenever a transaction fails, so it can never drift
 * from what is durable. Hubs are registered by their first hello.
 *
 * Thread model: everything here is touched only on the loop thread. nng's
 * threads reach it only through common/io/bridge.
 */
#ifndef DN_COORD_H
#define DN_COORD_H
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <uv.h>
#include "core/drop.h"
#include "core/ledger.h"
#include "core/limits.h"
#include "core/route.h"
#include "io/bridge.h"
#include "io/codec.h"
#include "io/conf.h"

typedef struct {
	char data_dir[DN_CONF_STR_MAX];
	char ingest_url[DN_CONF_STR_MAX];
	char ops_url[DN_CONF_STR_MAX];
	char hub_url[DN_CONF_STR_MAX];
	char split_policy[DN_CONF_STR_MAX];
	long long hub_timeout_ms;
	long long ingest_contexts;
	long long test_clock;
	long long ship_promise_ms;
	char signal_url[DN_CONF_STR_MAX];
	long long bucket_ms;
	long long history_buckets;
	long long horizon;
	double service;
	double unit_value, trip_cost, km_cost, km_max;
	long long trips_max, transfer_min;
	long long auto_ms;
	long long spike_bucket_ms;
	long long on_spike;
	char log_level[DN_CONF_STR_MAX];
	/* TLS (common/io/nettls.h): one CA by default, or one per role. */
	char tls_ca_file[DN_CONF_STR_MAX];
	char tls_crl_file[DN_CONF_STR_MAX];
	char tls_cert_file[DN_CONF_STR_MAX];
	char tls_key_file[DN_CONF_STR_MAX];
	char tls_storefront_ca_file[DN_CONF_STR_MAX];
	char tls_hub_ca_file[DN_CONF_STR_MAX];
	char tls_operator_ca_file[DN_CONF_STR_MAX];
	long long tls_allow_plaintext;
} coord_config;

extern const conf_key coord_config_keys[];
extern const size_t coord_config_nkeys;

/* TLS files of a listener whose peers hold certificates of one role:
 * role_ca if set (a CA per role), else the network's tls.ca_file. */
static inline nettls_files coord_tls_files(const coord_config *cfg,
    const char *role_ca)
{
	nettls_files f = {
		.ca_file = role_ca[0] != '\0' ? role_ca : cfg->tls_ca_file,
		.crl_file = cfg->tls_crl_file,
		.cert_file = cfg->tls_cert_file,
		.key_file = cfg->tls_key_file,
		.allow_plaintext = cfg->tls_allow_plaintext != 0,
	};
	return f;
}

/* Stock SKUs a hub may report in one snapshot, kept for audit. */
typedef struct {
	char sku[DN_ID_MAX + 1];
	int64_t on_hand;
} coord_report;

typedef struct {
	char id[DN_ID_MAX + 1];
	char name[DN_ID_MAX + 1];
	char term_url[DN_CONF_STR_MAX];
	double lat, lon, radius_km;
	uint64_t last_seen_mono_ms;   /* 0: not seen since start */
	int64_t last_seen_wall_ms;
	bool healthy_logged;          /* health as last logged */
	uint64_t cmd_seq;             /* last command queued */
	uint64_t cmd_acked;           /* last command the hub applied */
	uint64_t event_applied;       /* last hub event applied here */
	coord_report *report;         /* last consistent stock snapshot */
	size_t nreport;
	bool report_valid;
} coord_hub;

/* One (hub, sku) row of the ledger plus its lifetime counters. */
typedef struct {
	int hub;                      /* index into hubs; -1: empty slot */
	char sku[DN_ID_MAX + 1];
	ledger_row row;
	int64_t received, shipped, lost, adjusted, returned;
	int64_t transfer_in, transfer_out;
} coord_stock;

/* Drops kept in memory: every drop ever created, up to this many (a
 * creator runs a few a month; older ones are closed and only in the file). */
#define COORD_DROPS_MAX 128

typedef struct {
	char id[DN_ID_MAX + 1];
	drop_state state;
	Dropnet__Drop *spec;          /* as created (placement filled in); owned */
	drop_tier tiers[DROP_TIERS_MAX];
	size_t ntiers;
	bool released[DROP_TIERS_MAX];
	uint64_t accepted, gifts;
} coord_drop;

typedef struct coord {
	coord_config cfg;
	route_split_policy split;
	uv_loop_t *loop;
	sqlite3 *db;
	struct store *store;
	bridge *ingest, *ops, *hubsync;
	uv_timer_t health_timer;
	uv_signal_t sigint, sigterm;
	coord_hub hubs[DN_HUBS_MAX];
	size_t nhubs;
	coord_stock *stock;           /* open-addressing table */
	size_t stock_cap, stock_len;
	coord_drop drops[COORD_DROPS_MAX];
	size_t ndrops;
	int64_t clock_offset_ms;      /* test clock (coordinator.test_clock) */
	struct coord_signals *signals; /* spike detection and the pub socket */
	bool degraded;                /* the last reload failed: serve nothing */
	uint64_t orders_seen;
	uint64_t ingest_batches;
	uint64_t commit_failures;
} coord;

/* ---- state helpers (state.c) ---- */
uint64_t coord_now_mono_ms(const coord *c);
/* Wall-clock UTC ms, moved by the test clock when enabled. */
int64_t coord_now_wall_ms(const coord *c);
bool coord_hub_healthy(const coord *c, const coord_hub *h, uint64_t now_mono);
int coord_hub_find(const coord *c, const char *id);
/* Finds or inserts the (hub, sku) row; NULL on out-of-memory. */
coord_stock *coord_stock_get(coord *c, int hub, const char *sku, bool create);
/* Rebuilds the hub registry, the stock table and the drops from the store
 * (after any failed transaction). On failure the coordinator is degraded. */
int coord_reload(coord *c);
/* False while degraded and a fresh reload still fails: the caller answers
 * UNAVAILABLE instead of routing on a partial ledger. */
bool coord_ready(coord *c);
void coord_stock_clear(coord *c);

/* ---- request handlers (ingest.c, hubsync.c, ops.c) ---- */
void coord_ingest_batch(void *arg, bridge_req **reqs, size_t n);
void coord_hubsync_batch(void *arg, bridge_req **reqs, size_t n);
void coord_ops_batch(void *arg, bridge_req **reqs, size_t n);
/* Packs and sends an ops reply (version filled in). */
void coord_ops_send(bridge_req *r, Dropnet__OpsReply *rep);
/* Appends cmd to hub's command stream: assigns the next seq, journals it and
 * advances the hub's cmd_seq (inside a tx). */
int coord_command_queue(coord *c, int hub, Dropnet__HubCommand *cmd);

/* Places `qty` more of one line for an existing order (re-route after a
 * short), excluding hub `exclude`. Returns 1 if placed, 0 if backordered,
 * or a DN_E* code. Runs inside the caller's transaction. */
int coord_reroute(coord *c, int64_t order_id, const char *order_key,
    const char *customer, double lat, double lon, const char *sku,
    uint32_t qty, int exclude, int64_t now_wall);

/* Creates a placement of `takes` at hub `hub` for an order: allocates in the
 * ledger, writes placement rows and the hub command. Inside a transaction. */
int coord_place(coord *c, int64_t order_id, const char *order_key,
    const char *customer, int hub, const route_line *lines,
    const uint32_t *qty, size_t nlines, const char *gift_sku, bool held,
    int64_t now_wall);

/* Rewrites a journalled order's status and ack (confirm, lapse). */
int coord_order_set_status(coord *c, int64_t id, Dropnet__Status status,
    const char *message);

/* Queues the hub command for placement pid (state becomes open). */
int coord_placement_send(coord *c, int64_t pid, int64_t now_wall);

/* Writes one ledger row through to the store. */
int coord_stock_save(coord *c, const coord_stock *s);

/* ---- drops (drops.c) ---- */
int coord_drops_load(coord *c);
void coord_drops_free(coord *c);
coord_drop *coord_drop_find(coord *c, const char *id);
const Dropnet__DropSku *coord_drop_sku(const coord_drop *d, const char *sku);
bool coord_drop_is_insider(const coord_drop *d, const char *customer);
/* Holdback top-up after units of sku arrived at hub (inside a tx). */
int coord_drops_on_receive(coord *c, int hub, const char *sku, int64_t qty,
    int64_t now_wall);
/* Tier-opening releases and lapsed holds; runs its own transaction. */
void coord_drops_tick(coord *c);
/* Lapses/releases one held order (inside a tx); status EXPIRED. */
int coord_hold_lapse(coord *c, int64_t order_id, int64_t now_wall, const char *why);
/* Ops kinds 10..17. */
void coord_ops_drops(coord *c, const Dropnet__OpsRequest *q, bridge_req *r);
/* Moves holdback at (hub, sku) by delta (< 0 releases), logged with reason
 * against the SKU's drop (inside a tx). */
int coord_holdback_adjust(coord *c, int hub, const char *sku, int64_t delta,
    const char *reason, int64_t now);

/* ---- forecast, rebalancing, transfers, signals (rebalance.c) ---- */
int coord_rebalance_init(coord *c);
void coord_rebalance_fini(coord *c);
/* The source hub shipped transfer pick pid: units leave on the van. */
int coord_transfer_shipped(coord *c, int hub, int64_t pid, int64_t now);
/* qty of sku arrived at hub on transfer id (before or after the source's
 * shipment reached us: the two hubs' streams are not ordered). Books up to
 * what the transfer still expects and sets *surplus to the rest (a plain
 * receipt for the caller). DN_ENOENT if no open transfer matches. */
int coord_transfer_received(coord *c, int hub, const char *id, const char *sku,
    int64_t qty, int64_t now, int64_t *surplus);
/* The source could not find qty of a transfer's units: they are lost, and
 * the transfer carries that many fewer (cancelled at zero). */
int coord_transfer_shorted(coord *c, int hub, int64_t pid, const char *sku,
    int64_t qty);
/* Ops kinds 30..33. */
void coord_ops_rebalance(coord *c, const Dropnet__OpsRequest *q, bridge_req *r);
/* Per-bucket spike detection and signals; automatic rebalancing. */
void coord_rebalance_tick(coord *c);

#endif
