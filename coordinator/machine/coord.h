/*
 * coord.h - the coordinator's state, owned by the libuv loop thread.
 *
 * The coordinator is the book of record for allocation (DESIGN.md). Its
 * durable state is the SQLite file (store.c); `stock` below is an in-memory
 * copy of the ledger table, written through inside the same transaction and
 * put back by the undo log whenever a transaction fails (txn.c), so it never
 * drifts from what is durable. Hubs are registered by their first hello.
 *
 * Thread model: everything here is touched only on the loop thread. nng's
 * threads reach it only through common/io/bridge.
 */
#ifndef DN_COORD_H
#define DN_COORD_H
#include <stdbool.h>
#include <stdint.h>
#include "core/bytes.h"
#include "core/drop.h"
#include "core/experiment.h"
#include "core/hubindex.h"
#include "core/ledger.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/route.h"
#include "io/mreq.h"
#include "io/codec.h"
#include "io/conf.h"

/* Contexts for the hub and ops sockets (the shell's): few peers, short
 * requests. The per-connection caps on them are at most these. */
#define COORD_HUB_CTX 32
#define COORD_OPS_CTX 8

typedef struct {
	char data_dir[DN_CONF_STR_MAX];
	char ingest_url[DN_CONF_STR_MAX];
	char ops_url[DN_CONF_STR_MAX];
	char hub_url[DN_CONF_STR_MAX];
	char split_policy[DN_CONF_STR_MAX];
	long long hub_timeout_ms;
	long long hub_grace_ms;
	long long hub_lease_ms;
	long long hubs_max;           /* coordinator.hubs_max: the registry's size */
	long long ingest_contexts;
	/* Per-connection caps on each socket (common/io/bridge.h,
	 * bridge_set_peer_max; the shell applies them). */
	long long ingest_peer_inflight_max;
	long long hub_peer_inflight_max;
	long long ops_peer_inflight_max;
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
	long long quote_ttl_ms;       /* prices.quote_ttl_ms */
	long long quote_low_units;    /* prices.low_units */
	long long group_snapshot_entries; /* group.snapshot_entries (a group only) */
	long long group_checksum_ms;      /* group.checksum_ms */
	char group_secret_file[DN_CONF_STR_MAX]; /* group.secret_file (a group only) */
	char log_level[DN_CONF_STR_MAX];
	/* TLS (common/io/nettls.h, used by the shell in daemon/main.c): one
	 * CA by default, or one per role. */
	char tls_ca_file[DN_CONF_STR_MAX];
	char tls_crl_file[DN_CONF_STR_MAX];
	char tls_cert_file[DN_CONF_STR_MAX];
	char tls_key_file[DN_CONF_STR_MAX];
	char tls_storefront_ca_file[DN_CONF_STR_MAX];
	char tls_hub_ca_file[DN_CONF_STR_MAX];
	char tls_operator_ca_file[DN_CONF_STR_MAX];
	long long tls_allow_plaintext;
	/* /metrics (the shell; docs/metrics.md): empty listen is off. */
	char metrics_listen[DN_CONF_STR_MAX];
	long long metrics_allow_public;
	/* https:// only (metrics_http.h): empty files default as each key's
	 * help says. */
	char metrics_cert_file[DN_CONF_STR_MAX];
	char metrics_key_file[DN_CONF_STR_MAX];
	char metrics_client_ca_file[DN_CONF_STR_MAX];
	/* Identity (io/auth.h), loaded by the shell into coord.peers. */
	char auth_peers_file[DN_CONF_STR_MAX];
	long long auth_anonymous;
} coord_config;

extern const conf_key coord_config_keys[];
extern const size_t coord_config_nkeys;

/* A digest (FNV-1a 64) of the keys that decide what the machine does:
 * every key but those a replica sets for itself (coord_config_key_local:
 * where it listens and stores, TLS, metrics, logging, socket capacity,
 * when it snapshots). Every replica of a group must run the machine with
 * the same config, or their books part. */
uint64_t coord_config_digest(const coord_config *cfg);
bool coord_config_key_local(const char *name);

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
	/* Last sync, on the machine's clock, moved forward by the machine's
	 * own stalls (coord_clock_set: at least to when the machine stopped
	 * listening): silence counts only while the coordinator listened.
	 * 0: not seen since start. */
	uint64_t last_seen_mono_ms;
	int64_t last_seen_wall_ms;
	int health_logged;            /* coord_hub_health as last logged */
	/* The last claim lease granted (an OK reply): when it was sent, on the
	 * machine's clock (never moved by stalls: the hub's lease ran on), and
	 * how long. After coord_open an unknown lease may be out: as if one
	 * of DN_LEASE_MAX_MS had been granted at open. */
	uint64_t lease_sent_mono_ms;
	uint64_t lease_granted_ms;
	uint64_t cmd_seq;             /* last command queued */
	/* cmd_seq moved in the open transaction: hubs.cmd_seq is written once,
	 * just before the commit (txn.c), not once per command. */
	bool cmd_seq_dirty;
	uint64_t cmd_acked;           /* last command the hub applied */
	uint64_t event_applied;       /* last hub event applied here */
	coord_report *report;         /* last consistent stock snapshot */
	size_t nreport;
	bool report_valid;
	uint32_t nskus;               /* stock rows of this hub in memory */
	uint64_t incarnation;         /* hub store incarnation followed; 0: unknown */
	uint64_t cmd_offered;         /* highest command seq a reply could carry */
	bool seed_pending;            /* hub_seed rows wait for its confirmation */
	/* Its hello declares another position or radius than the registry's
	 * (which only OPS_HUB_SET changes): logged once per difference. */
	bool hello_differs;
} coord_hub;

/* One (hub, sku) row of the ledger plus its lifetime counters. */
typedef struct {
	int hub;                      /* index into hubs; -1: empty slot */
	char sku[DN_ID_MAX + 1];
	ledger_row row;
	int64_t received, shipped, lost, adjusted, returned;
	int64_t transfer_in, transfer_out;
	uint32_t undo_gen;            /* stock.c's undo log: noted at this level */
} coord_stock;

/* Drops kept in memory: every drop ever created, up to this many (a
 * creator runs a few a month; older ones are closed and only in the file).
 * Every drop that is not closed is in memory (creation refuses a 129th);
 * a closed drop that is only in the file is read back on demand into one
 * spare slot (coord_drop_get), so no decision depends on what memory holds. */
#define COORD_DROPS_MAX 128

typedef struct {
	char id[DN_ID_MAX + 1];
	drop_state state;
	Dropnet__Drop *spec;          /* as created (placement filled in); owned */
	drop_tier tiers[DROP_TIERS_MAX];
	size_t ntiers;
	bool released[DROP_TIERS_MAX];
	uint64_t accepted, gifts;
	/* The operator's live price per SKU (index as in spec->skus), on
	 * while starts_ms <= now < ends_ms; tier "" is every tier. */
	struct {
		char tier[DN_ID_MAX + 1];
		int64_t price_minor, starts_ms, ends_ms;
	} live[DROP_SKUS_MAX];
} coord_drop;

/* Running price experiments kept in memory (prices.c; at most one per
 * drop and SKU): a handful run at once; creation refuses more. */
#define COORD_EXPERIMENTS_MAX 64

typedef struct {
	char id[DN_ID_MAX + 1];
	char drop_id[DN_ID_MAX + 1];
	char sku[DN_ID_MAX + 1];
	size_t narms;
	char arm[EXPERIMENT_ARMS_MAX][DN_ID_MAX + 1];
	int64_t price[EXPERIMENT_ARMS_MAX];
	/* Exposures counted since the last group commit wrote them. */
	uint64_t pending[EXPERIMENT_ARMS_MAX];
} coord_experiment;
/* Status values an order answer can carry (Dropnet__Status < this). */
#define COORD_METRICS_STATUS_MAX 32

/* Experiment counters are kept apart for the first this many (experiment,
 * arm) pairs the process sees; later pairs count under ("other", "other"),
 * so a scrape stays bounded whatever experiments operators create. */
#define COORD_METRICS_ARMS_MAX 32

/* One (experiment, arm) pair's counters in coord_metrics. */
typedef struct {
	char experiment[DN_ID_MAX + 1];
	char arm[DN_ID_MAX + 1];
	uint64_t exposures;           /* quote lines priced by the arm */
	uint64_t outcomes;            /* orders placed at its price, committed */
	uint64_t outcomes_txn;        /* of the running transaction: folded into
	                               * outcomes at its commit, dropped at a
	                               * rollback (txn.c) */
} coord_metrics_arm;

/* The machine's own counters, for /metrics (docs/metrics.md): written only
 * by the machine on its thread; the shell renders them there into a text
 * snapshot for the HTTP threads. They survive coord_close/coord_open (a
 * counter restarts only with the process). Gauges (hub health and lag, the
 * ledger per drop SKU) are read from the state at render time. */
typedef struct {
	/* Ingest answers that decided something (journal replays apart), by
	 * status; of them the refusals (neither ACCEPTED nor HELD). */
	uint64_t orders[COORD_METRICS_STATUS_MAX];
	uint64_t refusals[COORD_METRICS_STATUS_MAX];
	uint64_t replays;             /* answers repeated from the journal */
	metrics_labels storefronts;   /* orders received, by storefront */
	metrics_hist ingest_batch;    /* requests per ingest batch */
	uint64_t hubsync_requests, ops_requests;
	/* Prices (prices.c): quotes answered by the price path, by status;
	 * quote tokens an order carried that did not lock its price, counted
	 * as checked (invalid: tampered or for another line, buyer or drop;
	 * lapsed: past its expiry); experiment counts per (experiment, arm). */
	uint64_t quotes[COORD_METRICS_STATUS_MAX];
	uint64_t quote_tokens_invalid, quote_tokens_lapsed;
	coord_metrics_arm arms[COORD_METRICS_ARMS_MAX + 1]; /* the last: "other" */
	size_t narms;
	bool arms_txn;                /* an arm has outcomes_txn (txn.c folds) */
	/* The planner (rebalance.c): demand spikes declared, by hub; plans
	 * carried out (committed, at least one action) and their units. */
	metrics_labels spikes;
	uint64_t plans_applied, plan_units_released, plan_units_moved;
	/* The pub socket (outbox.c, feed.c): feed changes decided, and
	 * messages dropped because the outbox was full. */
	uint64_t feed_changes, outbox_dropped;
} coord_metrics;

/* The machine's time (state.c; proto/SEMANTICS.md "Time"). A wall reading
 * further than this from where the monotonic clock says it should be is a
 * step, not drift: uv's loop time and CLOCK_REALTIME agree to a few ms. */
#define COORD_CLOCK_STEP_MS 1000
/* A forward step is acted on only once the wall clock has stayed ahead for
 * this long (monotonic): a glitch that steps back within it changes no
 * window, a real correction opens them 10 s late. */
#define COORD_CLOCK_CONFIRM_MS 10000

/* Messages waiting in the outbox for the shell (coord_outbox_take runs
 * after every machine call, so this holds one call's worth): a bound on
 * memory when no shell drains it (the simulator, a follower's ticks); a
 * message past it is dropped and counted, and a feed subscriber sees the
 * gap in seq. */
#define COORD_OUTBOX_MAX 4096
/* The pub topic of region signals (rebalance.c); subscribers strip it
 * before decoding. Feed changes have "feed <sku> <region> " (feed.c). */
#define COORD_SIGNAL_TOPIC "signal"
/* SKUs a feed scan looks at after a batch before it looks at all of them
 * (a batch of 256 orders touches few SKUs of one drop). */
#define COORD_FEED_DIRTY_MAX 64

/* The machine's scratch blocks (coord_scratch), one per user. */
enum {
	COORD_SCRATCH_INGEST,         /* ingest.c: a batch's answers */
	COORD_SCRATCH_HUBSYNC,        /* hubsync.c: a batch's requests */
	COORD_SCRATCH_OPS_HUBS,       /* ops.c: OPS_HUBS's reply */
	COORD_SCRATCH_AUDIT,          /* ops.c: the audit's findings */
	COORD_SCRATCH_DROP_PLACE,     /* drops_ops.c: a new drop's placement */
	COORD_SCRATCH_DROP_VIEWS,     /* drops_ops.c: OPS_DROP_SHOW's reply */
	COORD_SCRATCH_DROP_KPI,       /* drops_ops.c: OPS_DROP_KPI's reply */
	COORD_SCRATCH_QUOTE,          /* prices.c: a QuoteReply's prices and tokens */
	COORD_SCRATCH_PRICE_SHOW,     /* prices.c: OPS_PRICE_SHOW's rows */
	COORD_SCRATCH_KPI_MONEY,      /* prices.c: OPS_DROP_KPI's money rows */
	COORD_SCRATCH_ENVELOPE,       /* ingest_envelope.c: a wake-up's orders */
	COORD_SCRATCH_ACTIVATIONS,    /* activations.c: list and KPI rows */
	COORD_SCRATCH_N
};

/* Routing's working memory: the view of every hub (placement.c) and
 * route_order's result, each array hubs_max long (sellable: hubs_max x
 * DN_ORDER_LINES_MAX), made by coord_open; pack/packp hold an order's
 * candidates for its trace (ingest.c). */
typedef struct {
	route_hub *hubs;
	int64_t *sellable;
	route_candidate *cand;
	Dropnet__RouteCandidate *pack;
	Dropnet__RouteCandidate **packp;
	route_result rr;
} coord_route_scratch;

/* The two users of a coord_route_scratch (coord.route). */
enum { COORD_ROUTE_ORDER, COORD_ROUTE_REROUTE, COORD_ROUTE_N };

/* Requests refused before a handler acted on them, per reason (identity.c;
 * SEMANTICS.md "Transport and identity"). One struct so they can be shown
 * and exported together. */
typedef struct {
	uint64_t malformed;     /* not a Signed envelope */
	uint64_t unsigned_req;  /* no peer name or no 32-byte MAC */
	uint64_t unknown_peer;  /* the name is not in the peers table */
	uint64_t bad_mac;       /* the MAC does not match the name's key */
	uint64_t wrong_role;    /* a peer of another role on this socket */
	uint64_t wrong_name;    /* speaks for another hub or storefront */
	uint64_t forbidden;     /* an operator's role is below the request's */
	uint64_t replayed;      /* an operator counter not above the last */
	uint64_t stale;         /* an operator counter outside the window */
	/* A request over its connection's in-flight cap, refused by the
	 * shell before the machine saw it (daemon/main.c). */
	uint64_t peer_inflight;
} coord_refusals;

typedef struct coord {
	coord_config cfg;
	route_split_policy split;
	struct sqlite3 *db;           /* the store's connection (store.h) */
	struct store *store;
	bool reads_deferred;          /* coord_set_deferred_reads (ops.c) */
	uint64_t incarnation;         /* this store's (meta), read at open */
	uint8_t quote_secret[32];     /* the quote tokens' HMAC key (secrets) */
	size_t quote_secret_len;
	/* The clock, set by the shell before every call into the machine
	 * (coord_clock_set): the machine reads no clock of its own. */
	uint64_t now_mono_ms;
	int64_t now_wall_ms;          /* the shell's last wall reading, raw */
	/* The machine's wall time: windows (tier opens/closes) and records.
	 * It never goes back, also across restarts (kept in the file); a
	 * forward step is followed only after COORD_CLOCK_CONFIRM_MS. */
	int64_t wall_ms;
	/* The duration clock: hold lifetimes. It moves by the monotonic
	 * clock only (and by `dropctl clock set`), never by a wall step;
	 * kept in the file, it counts a restart's downtime by the wall. */
	int64_t elapsed_ms;
	uint64_t step_since_mono_ms;  /* a forward step pending since; 0: none */
	bool clock_started;           /* wall_ms and elapsed_ms are set */
	/* The wall time the file holds (the last clock save that committed,
	 * or the load), and whether `dropctl clock set` moved the clock since:
	 * coord_clock_save_due. */
	int64_t clock_saved_ms;
	bool clock_moved;
	bool step_back_logged;        /* the current backward step is logged */
	/* What the machine has decided to publish on the pub socket (region
	 * signals, feed changes), each message its topic and packed bytes:
	 * the shell takes them after the call that decided them, once its
	 * commits are durable (coord_outbox_take; outbox.c). */
	struct coord_outbox *outbox;
	/* The price and availability feed's change detection (feed.c). */
	struct coord_feed *feed;
	/* The feed's epoch, set by the shell before coord_open (a new one per
	 * process, so a subscriber sees every seq restart); survives close. */
	uint64_t feed_epoch;
	/* SKUs whose ledger rows were looked up inside a transaction since
	 * the last feed scan (stock.c notes them, feed.c reads and clears):
	 * the SKUs a batch may have moved. all: more than fit. */
	struct {
		char sku[COORD_FEED_DIRTY_MAX][DN_ID_MAX + 1];
		size_t n;
		bool all;
	} feed_dirty;
	/* The hub registry: hubs_max slots (cfg.hubs_max, fixed at
	 * coord_open, which makes it; coord_close frees it), nhubs in use. */
	coord_hub *hubs;
	size_t nhubs;
	size_t hubs_max;
	/* The registry's ids (coord_hub_find): open addressing over hubid_cap
	 * slots (a power of two, at least 2 x hubs_max), each a hub's index + 1
	 * (0: empty), made by coord_open. Kept in step with hubs[0..nhubs) by
	 * every change of the registry's ids: a hub appended (coord_hubid_add),
	 * a reload or an undo that drops hubs (coord_hubid_rebuild). Derived
	 * from the ids alone: the same on every replica. */
	uint32_t *hubid;
	size_t hubid_cap;
	/* Routing's working memory ([COORD_ROUTE_ORDER]: an order's,
	 * [COORD_ROUTE_REROUTE]: a re-route's), made by coord_open. */
	coord_route_scratch route[COORD_ROUTE_N];
	/* The hubs' spatial index (core/hubindex.h), for routing: its memory
	 * reserved for hubs_max hubs by coord_open, rebuilt (without
	 * allocating) by coord_route_order when the registry's positions or
	 * radii no longer match it. Derived: never in the file or a
	 * snapshot. */
	hubindex hubix;
	coord_hub *reload_old;        /* coord_reload's copy of hubs
	                               * (hubs_max, made by coord_open) */
	coord_stock *stock;           /* open-addressing table (stock.c) */
	struct coord_undo *undo;      /* the running transaction's undo log */
	void *scratch[COORD_SCRATCH_N]; /* coord_scratch's blocks */
	size_t scratch_size[COORD_SCRATCH_N];
	size_t stock_cap, stock_len;
	coord_drop drops[COORD_DROPS_MAX];
	size_t ndrops;
	coord_experiment exps[COORD_EXPERIMENTS_MAX]; /* running ones */
	size_t nexps;
	coord_drop drop_cold;         /* the last closed drop read back from the
	                               * file (coord_drop_get); spec NULL: none */
	int64_t clock_offset_ms;      /* test clock (coordinator.test_clock) */
	struct coord_signals *signals; /* spike detection and the pub socket */
	bool degraded;                /* the last reload failed: serve nothing */
	uint64_t orders_seen;
	uint64_t ingest_batches;
	uint64_t commit_failures;
	/* Hub events the books could not cover, booked by a defined rule
	 * (coord_gap_note), and hub events rejected outright (bounds). */
	uint64_t stream_discrepancies;
	uint64_t events_rejected;
	/* Hub sync requests rolled back alone (their savepoint), the rest of
	 * their batch committed. */
	uint64_t sync_requests_failed;
	coord_metrics metrics;
	/* Who may speak (io/auth.h): set by the shell before coord_open and
	 * owned by it; NULL runs anonymous (the simulator, machine tests):
	 * requests are plain messages. */
	struct auth_table *peers;
	coord_refusals refusals;
} coord;

/* ---- life (state.c) ----
 * coord_open: cfg, split and the clock are set; opens the store at db_path
 * through the SQLite VFS vfs (NULL: the default), loads the machine's memory
 * from it and gives known hubs their grace; the registry and every per-hub
 * working array are made here for cfg.hubs_max hubs (coord_close frees
 * them). 0, DN_EIO, DN_ERANGE (the file holds more hubs than hubs_max,
 * logged coord.hubs_over_max), DN_EINVAL (hubs_max over DN_HUBS_CAP) or DN_ENOMEM
 * (then everything is closed again). coord_close frees all the machine holds and
 * accepts a machine that never opened; cfg and split survive it, so a
 * simulated restart is coord_close + coord_open. */
int coord_open(coord *c, const char *db_path, const char *vfs);
void coord_close(coord *c);

/* ---- the memory image (memory.c; docs/replication.md) ----
 * coord_memory_pack: an image of the memory an open machine holds that
 * coord_open cannot rebuild from its file (clocks, hub health and leases,
 * stock reports, unwritten exposures, spike watch, rebalance timers).
 * *buf is malloc'd. 0 or DN_ENOMEM (also over DN_COORD_MEMORY_MAX_BYTES).
 * coord_memory_unpack: after coord_open on the file the image was taken
 * with, makes the machine's memory the image's. 0, DN_EPROTO (not an
 * image, or one of another file: then the memory is partly set and the
 * caller must close the machine), DN_EINVAL (an image of a machine with
 * another hubs_max: a config mismatch) or DN_ENOMEM. */
int coord_memory_pack(const coord *c, uint8_t **buf, size_t *len);
int coord_memory_unpack(coord *c, const uint8_t *buf, size_t len);
/* Forgets every operator's replay state (io/auth.h): each starts again
 * from the floor saved in the file. A restore from an image without
 * memory (a genesis) does it, as coord_memory_unpack does for the peers
 * its image does not name. */
void coord_memory_peers_reset(coord *c);

/* ---- state helpers (state.c) ---- */
/* Sets the machine's clock: mono is a monotonic ms count (never goes back),
 * wall is UTC ms. The shell calls it before each batch and tick, and ticks
 * at least every DN_COORD_STALL_MS: a longer gap is a stall (the machine
 * did not run, the hubs' syncs may wait in the queues), and every hub's
 * last_seen becomes at least the last setting before it, plus the part of
 * the gap beyond DN_COORD_STALL_MS: a stall never makes a hub look silent,
 * and a hub down before it counts as heard then (as after a restart). */
void coord_clock_set(coord *c, uint64_t mono_ms, int64_t wall_ms);
uint64_t coord_now_mono_ms(const coord *c);
/* The machine's wall time, UTC ms: the shell's reading (moved by the test
 * clock when enabled) with steps filtered: never below a time already acted
 * on, a forward step only once confirmed (proto/SEMANTICS.md "Time"). */
int64_t coord_now_wall_ms(const coord *c);
/* The duration clock, ms: hold expiries are stored on it. */
int64_t coord_now_elapsed_ms(const coord *c);
/* `dropctl clock set` (test_clock only): the machine's wall time becomes
 * wall_ms at once, backwards too; the duration clock moves forward by the
 * same amount (never back). */
void coord_clock_move(coord *c, int64_t wall_ms);
/* Writes both clocks to the file (inside the caller's transaction): every
 * transaction that acts on the wall time calls it. 0 or DN_EIO. */
int coord_clock_save(coord *c);
/* A transaction must save the clock even if it writes nothing else: the
 * clock was moved (OPS_CLOCK), a tier window opened or closed since the
 * file's wall time (a restart below it would reopen a closed tier), or
 * the file is COORD_CLOCK_SAVE_LAG_MS behind (what a restart after a
 * backward step can lose of the duration clock). The tick runs such a
 * transaction when nothing else did. */
#define COORD_CLOCK_SAVE_LAG_MS 60000
bool coord_clock_save_due(const coord *c);
/* On every tick, after its other work: the clock save when due. */
void coord_clock_tick(coord *c);
/* The clock saved by a transaction has committed. */
void coord_clock_saved(coord *c);
/* Loads both clocks from the file at the current reading (coord_open, or
 * the first coord_clock_set of a machine opened before it). 0 or DN_EIO. */
int coord_clock_load(coord *c);
/* A group's genesis: the bootstrapper writes its digest into the store
 * (meta 'config_digest'), so the genesis and every later snapshot carry it.
 * Each restore checks it against this replica's own: DN_EINVAL (logged
 * replica.config_mismatch with the keys to compare) when they differ; 0
 * when equal or the store carries none (a group made before digests: a
 * warning). DN_EIO when the store cannot be read or written. */
int coord_config_digest_save(coord *c);
int coord_config_digest_check(coord *c);
/* Hub health (proto/SEMANTICS.md "Hub health"), judged from the hub's own
 * traffic: OK (synced within hub_timeout_ms), SILENT (not, but within the
 * routing grace: still routed to, its commands wait in its stream) or DOWN
 * (silent past the grace, or never seen: routing skips it). */
enum { COORD_HUB_OK = 0, COORD_HUB_SILENT = 1, COORD_HUB_DOWN = 2 };
int coord_hub_health(const coord *c, const coord_hub *h, uint64_t now_mono);
/* Health OK: synced within hub_timeout_ms (transfers, demand regions). */
bool coord_hub_healthy(const coord *c, const coord_hub *h, uint64_t now_mono);
/* Routing may still place orders at the hub: not DOWN. */
bool coord_hub_routable(const coord *c, const coord_hub *h, uint64_t now_mono);
/* The hub's last claim lease has surely run out (lease + DN_LEASE_SKEW_MS
 * since the reply that granted it): it starts no new pick until it syncs. */
bool coord_hub_lease_expired(const coord *c, const coord_hub *h, uint64_t now_mono);
/* The index of the hub of that id, or -1: O(1) (c->hubid). */
int coord_hub_find(const coord *c, const char *id);
/* The same over hubs, a copy of the registry c->hubid was made for
 * (coord_reload's reload_old while it rebuilds the registry). */
int coord_hubid_find_in(const coord *c, const coord_hub *hubs, const char *id);
/* Notes hubs[i], just appended, in c->hubid. */
void coord_hubid_add(coord *c, size_t i);
/* Makes c->hubid again from hubs[0..nhubs) (after a reload or an undo
 * that dropped hubs): O(nhubs). */
void coord_hubid_rebuild(coord *c);
/* Finds or inserts the (hub, sku) row; NULL on out-of-memory. Only an
 * insert of a new row can grow the table, and growing moves every row: a
 * row pointer must not be held across any call that may insert one (look
 * the row up again after it). */
coord_stock *coord_stock_get(coord *c, int hub, const char *sku, bool create);
/* Rebuilds the hub registry, the stock table and the drops from the store
 * (at open). On failure the coordinator is degraded. */
int coord_reload(coord *c);
/* False while degraded and a fresh reload still fails: the caller answers
 * UNAVAILABLE instead of routing on a partial ledger. */
bool coord_ready(coord *c);
void coord_stock_clear(coord *c);
/* The rows of hub that hold anything (on hand, allocated or held back):
 * what the hub's own book holds SKUs for. O(the whole stock table). */
uint32_t coord_stock_held(const coord *c, int hub);
/* Stops the process (log line, abort) when row s breaks the ledger's
 * invariants: on_hand, allocated, holdback >= 0, its hub registered, and
 * stock conserved (on_hand = received + returned + transfer_in - shipped -
 * transfer_out - lost + adjusted). sellable may be negative (a short or a
 * count can leave it so; audit reports it). Called after every load and
 * before every write (coord_stock_save). */
void coord_stock_assert(const coord *c, const coord_stock *s, const char *when);
/* Logs (stream.books_uncovered) and counts a hub event that the books of
 * (hub, sku) could not cover (what: "ship", "transfer_ship", "short"...,
 * ref: the placement), when gap has anything in it. */
void coord_gap_note(coord *c, int hub, const char *sku, const char *what, int64_t ref,
    const ledger_gap *gap);

/* ---- the transaction runner (txn.c) ----
 * Every input that writes (an order batch, a hub sync batch, an ops request
 * that changes anything, a tick's work) runs through coord_txn_run: begin,
 * apply (the caller's function: decisions, store writes, memory),
 * hubs.cmd_seq written for every hub whose stream grew (once, not once per
 * command), the clock saved (when apply wrote anything: an idle hub's sync
 * writes nothing), commit; the caller answers its requests only after it returns. On
 * any failure (apply's, the commit's, or the undo log's) the file is rolled
 * back and so is memory, from the undo log (stock.c): memory equals the
 * file again, nothing is read back, and the caller answers every request
 * of the batch UNAVAILABLE (the outcome is unknown to the client: a failed
 * commit may have landed, and a retry with the same key gets the journalled
 * answer). Returns 0 or the DN_E* code; what names the input in the log. */
typedef int (*coord_txn_fn)(coord *c, void *arg);
int coord_txn_run(coord *c, const char *what, coord_txn_fn apply, void *arg);
/* Rows written to the store since it opened (only grows; a reopened store
 * counts from 0): unchanged across an input that wrote nothing. */
int64_t coord_rows_written(coord *c);

/* ---- scratch (stock.c) ----
 * A block of size bytes for user which (COORD_SCRATCH_*): large working
 * memory of one call (routing views, a batch's answers, ops replies) that
 * is neither static nor on the stack. Allocated zeroed at its first use,
 * then the same block (contents as the last call left them) until
 * coord_close frees it. NULL when out of memory. */
void *coord_scratch(coord *c, int which, size_t size);
void coord_scratch_free(coord *c);

/* ---- the undo log (stock.c), driven by the runner ----
 * A savepoint inside the transaction (a hub sync request's): mark_set
 * before the request, to_mark undoes memory back to it when the request's
 * savepoint is rolled back. coord_undo_hub notes hub i's identity before a
 * hello changes it; coord_undo_spec_free frees a drop spec at commit (now
 * when no transaction runs). */
typedef struct {
	size_t nrows, nident;
} coord_undo_mark;
int coord_undo_init(coord *c);
void coord_undo_fini(coord *c);
void coord_undo_begin(coord *c);
void coord_undo_mark_set(coord *c, coord_undo_mark *m);
void coord_undo_to_mark(coord *c, const coord_undo_mark *m);
void coord_undo_rollback(coord *c);
void coord_undo_commit(coord *c);
bool coord_undo_failed(const coord *c);
void coord_undo_hub(coord *c, int i);
void coord_undo_spec_free(coord *c, Dropnet__Drop *spec);

/* ---- identity at the handlers' entry (identity.c) ---- */
#include "io/auth.h"
/* One request's opened envelope. */
typedef struct {
	Dropnet__Signed *env;         /* the unpacked envelope when body points
	                               * into it; NULL when anonymous or when
	                               * body is borrowed from the request */
	auth_peer *peer;              /* NULL when anonymous */
	uint64_t counter;             /* the envelope's counter (0: anonymous) */
	const uint8_t *body;          /* the request message's bytes: valid
	                               * while the request and id are */
	size_t len;
} coord_ident;
/* Opens r for socket (AUTH_SOCKET_*): anonymous machines pass the bytes
 * through; otherwise the envelope must verify and its peer's role suit the
 * socket. 0 with *id set (coord_ident_close it), or -1 with the refusal
 * counted and logged (auth.refused) and *status, *why for the reply. */
int coord_ident_open(coord *c, const char *socket, const mreq *r, coord_ident *id,
    Dropnet__Status *status, const char **why);
void coord_ident_close(coord_ident *id);
/* The peer may speak for name on socket (a hub for its own id, a storefront
 * for its own orders; "" counts as "default"): true, or false counted and
 * logged. Always true when anonymous. */
bool coord_ident_speaks_for(coord *c, const coord_ident *id, const char *socket,
    const char *name);
/* The same for a peer already opened (NULL: anonymous, always true). */
bool coord_peer_speaks_for(coord *c, const auth_peer *peer, const char *socket,
    const char *name);
/* An operator's request of kind: its role suffices and its counter is
 * fresh (above the last, within DN_AUTH_WINDOW_MS of the wall clock);
 * the counter of a write is saved before it acts (a transaction of its
 * own through coord_txn_run, committed before the write's). 0, or -1 with
 * *status (UNAUTHENTICATED, FORBIDDEN, UNAVAILABLE) and *why. Call with no
 * transaction open. */
int coord_ident_ops(coord *c, const coord_ident *id, int kind,
    Dropnet__Status *status, const char **why);
/* An operator write's first answer, kept per (peer, counter): a write
 * resent with a used counter is still refused as a replay (nothing
 * changes), and the refusal carries that first answer (OpsReply
 * .first_answer) for a client that lost it in a fail-over or a crash
 * (proto/SEMANTICS.md "Transport and identity").
 * coord_ops_first_answer: the kept answer of id's (peer, counter) in a
 * malloc'd *out, or *out NULL. coord_ops_keep: keeps r's answer for id (a
 * write that passed coord_ident_ops) unless it is UNAVAILABLE (nothing
 * changed); a failure to keep it is logged (the resend then gets a bare
 * refusal: at most once). Both no-ops when anonymous. Call with no
 * transaction open. */
void coord_ops_first_answer(coord *c, const coord_ident *id, uint8_t **out, size_t *len);
void coord_ops_keep(coord *c, const coord_ident *id, const mreq *r);

/* ---- request handlers (ingest.c, hubsync.c, ops.c) ----
 * Each answers every request of the batch (mreq_reply) before it returns;
 * the shell sends the replies afterwards. */
/* Orders: each request's bytes are one bare SubmitOrder (no Signed
 * envelope, no IngestRequest), all in one transaction. signers[i] is the
 * peer that signed order i (coord_ingest_request opened its envelope): each
 * order must speak for its signer's storefront. An anonymous machine
 * (c->peers NULL) checks nothing; an authenticating one refuses an order
 * with no signer (signers NULL: coord_ingest_batch). */
void coord_ingest_orders(coord *c, mreq **reqs, auth_peer *const *signers, size_t n);
void coord_ingest_batch(coord *c, mreq **reqs, size_t n);
/* The ingest socket's requests (ingest_envelope.c), the daemon's entry:
 * each request's Signed envelope is opened first (coord_ident_open; none
 * when anonymous), then what it carries is read: a bare SubmitOrder, an
 * IngestRequest with one order, a batch or a quote. Every order goes
 * through coord_ingest_orders with its signer, at most DN_SERVER_CTX_MAX
 * at a time; a quote must speak for its signer too. Refusals are answered
 * in the request's own shape. */
void coord_ingest_request(coord *c, mreq **reqs, size_t n);
/* Answers an ingest request r, without running it, with status and why in
 * the shape of what it carries (a bare order, an envelope, a quote), and
 * leader (NULL: "") in the reply's `leader` field: a follower of a group
 * answers NOT_LEADER so (coordinator/daemon/group.c). Reads no state. */
void coord_ingest_refuse(mreq *r, Dropnet__Status status, const char *why,
    const char *leader);
void coord_hubsync_batch(coord *c, mreq **reqs, size_t n);
void coord_ops_batch(coord *c, mreq **reqs, size_t n);

/* ---- reads off the loop (ops.c; the single node's shell) ----
 * The audit's durable checks (3-8 in ops.c) scan the whole journal, which
 * grows with every order: run on the loop they would stall every order
 * for as long. With coord_set_deferred_reads(c, true) (the single node's
 * shell; a replica, the simulator and the machine tests leave it off and
 * get the answer at once), OPS_AUDIT runs its in-memory checks (1, 2 and 9)
 * in the batch, then leaves the request unanswered with r->deferred set to
 * a coord_read_job. The shell runs coord_read_job_run on a worker thread
 * against a read-only connection (coord_store_reader_open) - a WAL reader
 * sees the last commit and never blocks the writer - and answers with
 * coord_read_job_reply on the loop. Each check is consistent on its own:
 * the memory checks at the batch, the durable ones at the reader's
 * snapshot (one transaction for all six). */
struct coord_kpi_job;
struct coord_audit_job;
typedef struct coord_read_job {
	struct coord_kpi_job *kpi;     /* a drop's KPIs (drops_ops.c), or */
	struct coord_audit_job *audit; /* the audit's durable checks (ops.c) */
} coord_read_job;
void coord_set_deferred_reads(coord *c, bool on);
/* Any thread; touches only the job and reader (a store from
 * coord_store_reader_open; NULL: the checks are reported as not run). */
void coord_read_job_run(coord_read_job *j, struct store *reader);
/* Instead of running it: too many reads wait (the shell's cap); the answer
 * says busy (an audit_error finding, or a KPI's UNAVAILABLE). */
void coord_read_job_busy(coord_read_job *j);
/* Loop thread: answers r with the audit and frees the job. */
void coord_read_job_reply(coord_read_job *j, mreq *r);
/* Frees a job never answered (its request was dropped). NULL-safe. */
void coord_read_job_free(coord_read_job *j);
/* The KPI kind's steps (drops_ops.c); coord_read_job_* call them. */
void coord_kpi_job_run(struct coord_kpi_job *j, struct store *reader);
void coord_kpi_job_busy(struct coord_kpi_job *j);
void coord_kpi_job_reply(struct coord_kpi_job *j, mreq *r);
void coord_kpi_job_free(struct coord_kpi_job *j);
/* The periodic work: hub health logging, tier openings, lapsed holds,
 * spike tests and automatic rebalancing. */
void coord_tick(coord *c);
/* Packs and sends an ops reply (version filled in). */
void coord_ops_send(mreq *r, Dropnet__OpsReply *rep);
/* Appends cmd to hub's command stream: assigns the next seq, journals it and
 * advances the hub's cmd_seq (inside a tx). */
int coord_command_queue(coord *c, int hub, Dropnet__HubCommand *cmd);

/* Places `qty` more of one line for an existing order (re-route after a
 * short), excluding hub `exclude`. Returns 1 if placed, 0 if backordered,
 * or a DN_E* code. Runs inside the caller's transaction. */
int coord_reroute(coord *c, int64_t order_id, const char *order_key,
    const char *customer, double lat, double lon, const char *sku,
    uint32_t qty, int exclude, int64_t now_wall);

/* The order a placement is for. With tier set, the hub command is built
 * from these fields (the journal row just written holds the same); with
 * tier NULL it is read back from the journal (a re-route). */
typedef struct {
	int64_t id;
	const char *key, *customer, *tier;
	int64_t received_ms;
} coord_place_order;

/* Creates a placement of `takes` at hub `hub` for an order: allocates in the
 * ledger, writes placement rows and the hub command. Inside a transaction. */
int coord_place(coord *c, const coord_place_order *o, int hub,
    const route_line *lines, const uint32_t *qty, size_t nlines,
    const char *gift_sku, bool held, int64_t now_wall);

/* Routes one order over w's view (coord_route_view) through c->hubix,
 * rebuilt first if the view's positions or radii are not those it was
 * built over: route_order_indexed's answer, which is route_order's with
 * cand[] listing only the hubs whose radius covers the ship-to. Fills the
 * view's sellable rows of those hubs only (lines' units): an order looks
 * up the ledger rows of the hubs in range, not of every hub. Returns its
 * code. */
int coord_route_order(coord *c, coord_route_scratch *w, const route_line *lines,
    size_t nlines, double lat, double lon, route_result *rr);
/* Builds the route_hub view of every hub for an order of nlines lines
 * (placement.c): position, radius, health (hub `exclude`, or -1, is
 * offered as unhealthy) and its row of sellable (nhubs * nlines, row-major
 * by hub), which coord_route_order fills for the hubs in range. */
void coord_route_view(coord *c, size_t nlines, route_hub *hubs, int64_t *sellable,
    uint64_t now_mono, int exclude);

/* Places every take of a routing result, one placement per hub (the gift
 * with the first). Inside a transaction. */
int coord_place_takes(coord *c, const route_result *rr, const coord_place_order *o,
    const route_line *lines, size_t nlines, const char *gift_sku, bool held,
    int64_t now_wall);

/* Rewrites a journalled order's status and ack (confirm, lapse). */
int coord_order_set_status(coord *c, int64_t id, Dropnet__Status status,
    const char *message);

/* Queues the hub command for placement pid (state becomes open). */
int coord_placement_send(coord *c, int64_t pid, int64_t now_wall);

/* Writes one ledger row through to the store. */
int coord_stock_save(coord *c, const coord_stock *s);

/* ---- store incarnations and resync (resync.c; SEMANTICS.md
 * "Incarnations and resync") ---- */
typedef enum {
	COORD_SYNC_OK,      /* apply the request as usual */
	COORD_SYNC_REWIND,  /* our books are behind the hub's: apply nothing,
	                     * answer rewind (event_applied, cmd_base) */
	COORD_SYNC_REFUSE,  /* answer CONFLICT: an operator must act */
} coord_sync_verdict;
/* Judges a hub's sync against the books, inside the batch transaction,
 * before its events: adopts a hub's first incarnation; for a new one (the
 * hub's store was wiped) resets that hub's streams, re-queues every open
 * placement and keeps the on-hand seed; flags a rewind when the hub has
 * applied or been acked more than this file knows (we were restored);
 * refuses a hub that synced with another coordinator store or whose own
 * store went back. Every decision but OK is logged loudly. *rv gets a DN_E*
 * storage error (then the verdict is meaningless). */
coord_sync_verdict coord_resync_check(coord *c, int hub,
    const Dropnet__HubSyncRequest *m, int64_t now_wall, int *rv);
/* Before the commit: records cmd_offered = cmd_seq for a hub synced in the
 * batch, and drops its seed once the hub confirmed this coordinator. */
int coord_resync_finish(coord *c, int hub, const Dropnet__HubSyncRequest *m);
/* The seed rows a reply to m carries (none unless the hub has not yet
 * confirmed this coordinator). *out is malloc'd, NULL when none; free each
 * row's sku with the array: coord_resync_seed_free. 0 or DN_E*. */
int coord_resync_seed(coord *c, int hub, const Dropnet__HubSyncRequest *m,
    Dropnet__StockLevel ***out, size_t *n);
void coord_resync_seed_free(Dropnet__StockLevel **rows, size_t n);

/* ---- drops (drops.c) ---- */
int coord_drops_load(coord *c);
void coord_drops_free(coord *c);
/* The drop id if it is in memory, else NULL (a closed drop may be only in
 * the file: decisions use coord_drop_get). */
coord_drop *coord_drop_find(coord *c, const char *id);
/* The drop id, read back from the file into the spare slot when memory does
 * not hold it. 0 with *out set; DN_ENOENT (no such drop), DN_EPROTO (its
 * stored spec does not decode) or DN_EIO with *out NULL. A pointer to the
 * spare slot stays valid until the next coord_drop_get of another drop that
 * is not in memory, or a reload: callers hold one drop at a time. */
int coord_drop_get(coord *c, const char *id, coord_drop **out);
const Dropnet__DropSku *coord_drop_sku(const coord_drop *d, const char *sku);
/* The running experiment on (drop, sku), or NULL (drops_book.c). */
coord_experiment *coord_experiment_find(coord *c, const char *drop_id, const char *sku);
bool coord_drop_is_insider(const coord_drop *d, const char *customer);
/* Holdback top-up after units of sku arrived at hub (inside a tx). */
int coord_drops_on_receive(coord *c, int hub, const char *sku, int64_t qty,
    int64_t now_wall);
/* After units of sku left hub's books by a physical fact (a count found
 * fewer, a short wrote units off): holdback above what is still there and
 * unallocated is released with reason "lost" (inside a tx). Without it the
 * row's sellable stayed below zero for good, as no short resolves a hold
 * (found by dropsim with a drop: a count below the holdback). */
int coord_drops_on_loss(coord *c, int hub, const char *sku, int64_t now_wall);
/* Tier-opening releases and lapsed holds; runs its own transaction. */
void coord_drops_tick(coord *c);
/* Lapses/releases one held order (inside a tx); status EXPIRED. */
int coord_hold_lapse(coord *c, int64_t order_id, int64_t now_wall, const char *why);
/* Ops kinds 10..17 (drops_ops.c). */
void coord_ops_drops(coord *c, const Dropnet__OpsRequest *q, mreq *r);
/* Moves holdback at (hub, sku) by delta (< 0 releases), logged with reason
 * against the SKU's drop (inside a tx). */
int coord_holdback_adjust(coord *c, int hub, const char *sku, int64_t delta,
    const char *reason, int64_t now);

/* ---- prices (prices.c; docs/prices.md) ---- */
/* One line's price: the drop d's rules for sku in tier tier_idx at now,
 * for an address whose region is hub `region` (-1: none). qtoken (NULL or
 * "": none) is a quote token: valid for (drop, sku, tier, customer) and
 * unexpired, its price is charged (rule "quote"). Reads memory only. 0
 * with *unit_minor and rule (PRICE_RULE_NAME_MAX) set; DN_ENOENT when the
 * SKU has no prices. */
int coord_price_line(coord *c, const coord_drop *d, int tier_idx, const char *sku,
    int region, const char *customer, const char *qtoken, int64_t now,
    int64_t *unit_minor, char *rule, int *arm);
/* (above) *arm (may be NULL) gets the experiment arm that priced the line,
 * or -1. */
/* Writes every running experiment's exposures counted in memory since the
 * last call (inside the caller's transaction) and zeroes them. A crash or
 * failed commit loses those counted since the last group commit. */
int coord_experiments_flush(coord *c);
/* Counts an accepted line of an experiment's SKU (inside a tx). */
int coord_experiment_outcome(coord *c, const coord_drop *d, const char *sku, int arm,
    uint32_t qty, int64_t unit_minor);
/* True when the drop sells at prices (its SKUs have them). */
bool coord_drop_priced(const coord_drop *d);
/* What a drop's KPIs read besides the file, so that they can be read on
 * the machine's own store in its batch or off the loop on a reader
 * (coord.h "reads off the loop"): the drop's id, currency and whether it
 * is priced, the running experiments (exposures still in memory), and the
 * working memory the lists are built in. Off the loop, every field is a
 * copy the job owns. */
typedef struct coord_kpi_src {
	struct store *s;              /* the machine's store, or a reader */
	const char *drop_id;
	const char *currency;
	bool priced;
	const coord_experiment *exps;
	size_t nexps;
	void *money;                  /* coord_kpi_money_size() bytes */
	void *acts;                   /* coord_kpi_activations_size() bytes */
} coord_kpi_src;
size_t coord_kpi_money_size(void);
size_t coord_kpi_activations_size(void);
/* The money KPIs of src's drop into k (currency, revenue, per tier and
 * hub); k's arrays point into src->money. 0, DN_ENOMEM or DN_EIO. */
int coord_kpi_money(const coord_kpi_src *src, Dropnet__DropKpi *k);
/* The most activations one drop records: each is a row in `dropctl kpi`
 * and its list, both one ops reply (DN_OPS_MSG_MAX). */
#define COORD_ACTIVATIONS_MAX 256u
/* The most an activation may cost, minor units (10^12: 10 billion in a
 * two-decimal currency; the sum of 256 stays far inside int64). */
#define COORD_ACTIVATION_COST_MAX 1000000000000LL
/* Revenue per unit of cost; false (and *roi 0) when the cost is 0. */
bool coord_activation_roi(int64_t revenue_minor, int64_t cost_minor, double *roi);
/* The activations of src's drop into k (rows with revenue and ROI, total
 * cost); k's arrays point into src->acts. 0, DN_ENOMEM or DN_EIO. */
int coord_kpi_activations(const coord_kpi_src *src, Dropnet__DropKpi *k);
/* Ops kinds OPS_ACTIVATION_ADD and OPS_ACTIVATION_LIST. */
void coord_ops_activations(coord *c, const Dropnet__OpsRequest *q, mreq *r);
/* Ops kinds 50..59 (prices and experiments). */
void coord_ops_prices(coord *c, const Dropnet__OpsRequest *q, mreq *r);
/* Answers a QuoteRequest from memory (no transaction, nothing written):
 * rep gets the prices, availability and tokens. rep's strings point into
 * q, d and the machine's scratch (COORD_SCRATCH_QUOTE) until the next
 * call; out of memory, rep is UNAVAILABLE. */
void coord_quote(coord *c, const Dropnet__QuoteRequest *q, Dropnet__QuoteReply *rep);
/* Checks a drop's prices at creation (currency, one price per tier, the
 * rules within their bounds) and fills in the default floor and ceiling
 * (both 0: the lowest and highest tier price) and clears the reply-only
 * fields. 0, or DN_EINVAL with *field (the SKU or "currency") and *why. */
int coord_prices_prepare(Dropnet__Drop *d, const char **field, const char **why);

/* The spike detector's demand ratio for (hub, sku): observed over expected
 * demand of the last spike bucket while the series is in a run of excess
 * (its CUSUM statistic above 0), else 1 (rebalance.c). */
double coord_demand_ratio(coord *c, int hub, const char *sku);

/* ---- the pub socket's outbox (outbox.c) and the feed (feed.c;
 * proto/STOREFRONT.md "The feed") ---- */
/* Appends topic followed by body[0..len) to the outbox (copied). Counted
 * and dropped when the outbox is full or memory is short: a pub message
 * is at most once anyway. */
void coord_outbox_push(coord *c, const char *topic, const uint8_t *body, size_t len);
/* Messages waiting. */
size_t coord_outbox_len(const coord *c);
/* Calls fn(arg, msg, len) for every waiting message, oldest first, then
 * empties the outbox; msg is valid during the call only. The shell calls
 * it after a machine call, once that call's commits are durable: nothing
 * leaves before the commit that decided it. */
void coord_outbox_take(coord *c, void (*fn)(void *arg, const uint8_t *msg, size_t len),
    void *arg);
void coord_outbox_free(coord *c);
/* Notes that a transaction looked up sku's ledger rows (stock.c). */
void coord_feed_touch(coord *c, const char *sku);

/* Compares each (drop, SKU, region)'s price answers and availability
 * class now with what the feed last said, and queues a FeedChange in the
 * outbox for each that differs (topic "feed <sku> <region> "). all: every
 * SKU of every drop in memory (the tick, ops); else only the SKUs touched
 * since the last scan (an ingest or hub sync batch). Runs after the
 * batch's commits, on memory that equals the file. The first scan after
 * coord_open only records (no message). Reads memory only. */
void coord_feed_scan(coord *c, bool all);
/* The hubs whose radius covers hub h's position, ascending, as the last
 * scan computed them (*n of them; tests/machine/test_hub_find.c checks
 * them against measuring every pair). NULL when no scan computed them for
 * the registry's present size. */
const uint32_t *coord_feed_cover(const coord *c, size_t h, size_t *n);
int coord_feed_init(coord *c);
void coord_feed_fini(coord *c);

/* ---- forecast, rebalancing, transfers, signals (rebalance.c) ---- */
int coord_rebalance_init(coord *c);
void coord_rebalance_fini(coord *c);
/* Creates transfer `T<n>-<dst>` (written into id) of qty sku from src to
 * dst, qty 1..DN_TRIP_UNITS_MAX: allocates at src (taking from_holdback of
 * its holdback first), writes the transfer and its placement and queues
 * CMD_TRANSFER_OUT at src; over DN_LINE_QTY_MAX units it is split into
 * consecutively numbered transfers of at most DN_LINE_QTY_MAX (id names the
 * first). Inside the caller's transaction; what OPS_REBALANCE_APPLY does
 * per planned trip. */
int coord_transfer_create(coord *c, int src, int dst, const char *sku, int64_t qty,
    int64_t from_holdback, char *id, size_t idlen, int64_t now);
/* The source hub shipped transfer pick pid: units leave on the van. */
int coord_transfer_shipped(coord *c, int hub, int64_t pid, int64_t now);
/* qty of sku arrived at hub on transfer id (before or after the source's
 * shipment reached us: the two hubs' streams are not ordered). Books up to
 * what the transfer still expects and sets *surplus to the rest (a plain
 * receipt for the caller). DN_ENOENT if no open transfer matches. */
int coord_transfer_received(coord *c, int hub, const char *id, const char *sku,
    int64_t qty, int64_t now, int64_t *surplus);
/* The source could not find qty of a transfer's units: the transfer
 * carries that many fewer (cancelled at zero), and all but the kept ones
 * (EV_SHORT.kept: the hub's book kept them for units spoken for) are lost. */
int coord_transfer_shorted(coord *c, int hub, int64_t pid, const char *sku,
    int64_t qty, int64_t kept);
/* Ops kinds 30..33. */
void coord_ops_rebalance(coord *c, const Dropnet__OpsRequest *q, mreq *r);
/* Per-bucket spike detection and signals; automatic rebalancing. */
void coord_rebalance_tick(coord *c);
/* rebalance.c's part of the memory image (memory.c): the spike watch and
 * the timers. get: 0 or DN_EPROTO (r bad, the watch emptied). */
void coord_rebalance_memory_put(const coord *c, bytes_w *w);
int coord_rebalance_memory_get(coord *c, bytes_r *r);

#endif
