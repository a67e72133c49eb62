/*
 * store.h - the coordinator's SQLite file: schema and the statements the
 * hot paths use, prepared once at start.
 *
 * Disk format (coordinator.db, WAL, synchronous=FULL; the daemon runs it at
 * NORMAL and syncs the WAL before any reply: common/io/walsync.h):
 *   hubs(id, name, lat, lon, radius_km, term_url, cmd_seq, cmd_acked,
 *        event_applied)                    registry + stream positions
 *   stock(hub, sku, on_hand, allocated, holdback, received, shipped, lost,
 *         adjusted)                        the ledger (DESIGN.md)
 *   orders(id, storefront, order_key, customer, status, hub, lat, lon,
 *          received_ms, ack, route)        the journal; (storefront,
 *                                          order_key) unique; ack = packed
 *                                          OrderAck without order_id; route =
 *                                          packed OrderInfo with candidates
 *   order_lines(order_id, sku, qty, backordered)   what was asked for (also
 *                                          the demand history, turned-away
 *                                          orders included)
 *   placements(id, order_id, hub, state, placed_ms, picked_ms, shipped_ms,
 *              tracking)                   one per (order, hub) attempt; its
 *                                          id is the hub's order id
 *   placement_lines(placement_id, sku, qty, shipped, shorted)
 *   commands(hub, seq, payload)            command stream outbox; rows up to
 *                                          the hub's ack are deleted
 *   drops(id, state, created_ms, spec, accepted, gifts)   spec = packed Drop
 *   drop_tiers(drop_id, idx, sold, released)
 *   drop_holdback(drop_id, hub, sku, basis, held)   units counted toward
 *                                          holdback at a hub, units held
 *   holdback_log(drop_id, hub, sku, qty, reason, time_ms)   every hold (+)
 *                                          and release (-) with its reason
 *   buyer_counts(drop_id, customer, sku, qty)   per-buyer limits
 *   customers(customer, first_order_id, first_drop, gifted, orders)
 *   transfers(id, sku, from_hub, to_hub, qty, received, state, placement_id,
 *             created_ms, shipped_ms, received_ms)   hub-to-hub moves; the
 *                                          source's pick is a placement of
 *                                          kind 'transfer' (order_id 0)
 * stock also counts transfer_in/transfer_out; per hub, on_hand = received +
 * returned + transfer_in - shipped - transfer_out - lost + adjusted.
 * orders also carry drop_id, tier, nearest_hub (nearest healthy hub in
 * range: the region the demand belongs to), gift_sku, hold_expires_ms and
 * units; placements.state is held|open|picked|shipped|shorted|lapsed|
 * refused (the hub refused its command: nothing allocated any more).
 * orders.hold_expires_ms is on the duration clock (coord_now_elapsed_ms),
 * the ack's on the wall clock.
 *   coord_clock(id = 1, wall_ms, elapsed_ms)   the machine's wall time
 *                                          (highest acted on) and duration
 *                                          clock, saved by each transaction
 *                                          that acts on time
 *
 * Versions (PRAGMA user_version, store.c store_migrations): 1 = the schema
 * above as it stood before versioning; 2 adds
 *   meta(key, value)                       'incarnation': random id made
 *                                          once (SEMANTICS.md "Incarnations
 *                                          and resync"); 'placement_floor':
 *                                          new placement ids stay above it;
 *                                          'config_digest': a group's machine
 *                                          config (coord_config_digest)
 *   hubs.incarnation                       the hub store incarnation these
 *                                          books follow (0: not known yet)
 *   hubs.cmd_offered                       highest command seq any sync reply
 *                                          could have carried to the hub
 *   hub_seed(hub, sku, on_hand)            on-hand given to a new hub
 *                                          incarnation, until it confirms
 * 3 adds coord_clock (above).
 * 4 adds the demand indexes order_lines_sku(sku, order_id) and
 * orders_received(received_ms).
 * 5 adds prices (store_prices.c, docs/prices.md):
 *   price_live(drop_id, sku, tier, price_minor, starts_ms, ends_ms)   an
 *                                          operator's live price per SKU
 *                                          (tier '' = every tier)
 *   order_lines.unit_minor, .price_rule    what one unit of the line cost
 *                                          and the rules that set it
 *   orders.total_minor, .currency          the order's total, ISO 4217
 *   secrets(name, value)                   'quote': 32 random bytes, the
 *                                          quote tokens' HMAC key
 *   experiments(id, drop_id, sku, state, created_ms, stopped_ms, spec)
 *                                          price experiments; spec = packed
 *                                          Experiment as created
 *   experiment_arms(experiment_id, idx, exposures, orders, units,
 *                   revenue_minor, revenue_sq)   counts per arm
 * A drop's price rules (per SKU and tier, floor, ceiling) are part of its
 * spec (drops.spec, the packed Drop).
 * 6 adds
 *   peer_counters(peer, counter)           each operator's highest accepted
 *                                          request counter (replay, SEMANTICS.md
 *                                          "Transport and identity")
 * 7 adds the order trace (`dropctl order show`; 0 = not known):
 *   orders.arrived_ms                      when the order's request reached
 *                                          the socket (wall; received_ms is
 *                                          the journalling transaction's)
 *   commands.placement_id                  the placement a command carries
 *                                          (0: none, e.g. a cancel)
 *   placements.delivered_ms, .queued_ms    when the hub's ack of its command
 *                                          arrived (coordinator's clock), and
 *                                          when the hub queued it (the hub's)
 * 8 adds activations (store_activations.c, docs/prices.md "Activations"):
 *   activations(drop_id, name, kind, cost_minor, from_ms, to_ms,
 *               created_ms)                what the operator paid to sell
 *                                          a drop, window [from_ms, to_ms)
 * 9 adds
 *   ops_replies(peer, counter, reply)      an operator write's first answer
 *                                          (the packed OpsReply), the last
 *                                          STORE_OPS_REPLIES_KEEP per peer: a
 *                                          resend with the same counter gets
 *                                          it again (store_auth.c)
 */
#ifndef DN_COORD_STORE_H
#define DN_COORD_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "core/limits.h"
#include "io/db.h"

/* The ingest area's statements (store_ingest.c, prepared by
 * coord_store_ingest_init; db_close finalizes them). */
typedef struct store_ingest_stmts {
	sqlite3 *db;
	sqlite3_stmt *order_find, *order_ack, *order_status, *order_insert,
	    *line_insert, *line_backorder, *placement_insert, *pline_insert,
	    *placement_state, *placements_held, *placement_send, *cmd_insert,
	    *hub_cmd_seq, *stock_upsert, *buyer_get, *buyer_add, *tier_sold,
	    *drop_counts, *customer_get, *customer_add;
	db_txn txn;                    /* BEGIN / COMMIT, prepared once */
} store_ingest_stmts;


typedef struct store {
	sqlite3_stmt *drops[32];      /* drops (store_drops.c) */
	sqlite3_stmt *stream[40]; /* store_stream.c's, by its SS_* index */
	store_ingest_stmts ingest;       /* store_ingest.c */
	struct store_ops_stmts *ops;   /* store_ops.c */
	sqlite3_stmt *prices[16];     /* store_prices.c, by its SP_* index */
	sqlite3 *auth_db;              /* store_auth.c: peer counters */
	sqlite3_stmt *auth[5];
	sqlite3_stmt *activations[4]; /* store_activations.c, by its SA_* index */
} store;

/* The id a new placement takes: above every placement and above the floor
 * a coordinator restored from backup raised past the ids its hubs had seen
 * (a hub's order id is the placement id, so one must never be reused). */
#define STORE_PLACEMENT_NEXT_ID \
	"(SELECT max(COALESCE(max(id), 0), COALESCE((SELECT value FROM meta" \
	" WHERE key = 'placement_floor'), 0)) + 1 FROM placements)"

/* Brings the file to the current schema version (store_migrations); a
 * file from newer code is DN_ERANGE. 0, DN_ERANGE or DN_EIO. */
int store_migrate(sqlite3 *db);
/* The file's incarnation id (meta). 0 or DN_EIO. */
int store_incarnation_get(sqlite3 *db, uint64_t *out);
/* An integer of meta by key (*found false, *out 0 when there is none), and
 * its setting (in the caller's transaction, or on its own). 0 or DN_EIO. */
int store_meta_int_get(sqlite3 *db, const char *key, int64_t *out, bool *found);
int store_meta_int_set(sqlite3 *db, const char *key, int64_t value);

extern const char store_schema_sql[];

/* Prepares every statement. Returns 0 or DN_EIO. */
int store_init(store *s, sqlite3 *db);

/* Steps a statement that returns no row, then resets it. 0 or DN_EIO. */
int store_step_done(sqlite3_stmt *st);

/* ---- activations (store_activations.c, version 8) ---- */
int store_activations_init(store *s, sqlite3 *db);
/* An activation as stored; the list adds its window's accepted orders of
 * the drop, their revenue (minor units) and, for kind "van", the transfers
 * shipped in the window. Strings are valid during the callback only. */
typedef struct coord_store_activation {
	const char *drop_id, *name, *kind;
	int64_t cost_minor, from_ms, to_ms, created_ms;
	uint64_t orders;
	int64_t revenue_minor;
	uint64_t transfers;
} coord_store_activation;
typedef int (*coord_store_activation_fn)(void *arg, const coord_store_activation *r);
/* Inserts r (its counts are ignored); the caller has checked that the
 * drop has no activation of that name. 0 or DN_EIO. */
int coord_store_activation_insert(store *s, const coord_store_activation *r);
/* drop_id's activations in window order (from_ms, then name), with their
 * counts; fn may return COORD_STORE_STOP. 0, fn's error or DN_EIO. */
int coord_store_activation_list(store *s, const char *drop_id,
    coord_store_activation_fn fn, void *arg);

/* ---- identity (store_auth.c) ---- */
int store_auth_init(store *s, sqlite3 *db);
/* The highest counter saved for peer; 0 when none. 0 or DN_EIO. */
int coord_store_peer_counter_get(store *s, const char *peer, uint64_t *out);
/* Saves counter for peer (never lowers it), inside the caller's
 * transaction (coord_txn_run). 0 or DN_EIO. */
int coord_store_peer_counter_save(store *s, const char *peer, uint64_t counter);
/* An operator write's first answer (ops_replies): get copies it into a
 * malloc'd *out (*out NULL when there is none); put stores it and keeps the
 * peer's last STORE_OPS_REPLIES_KEEP, inside the caller's transaction.
 * 0, DN_ENOMEM or DN_EIO. */
#define STORE_OPS_REPLIES_KEEP 32
int coord_store_ops_reply_get(store *s, const char *peer, uint64_t counter,
    uint8_t **out, size_t *len);
int coord_store_ops_reply_put(store *s, const char *peer, uint64_t counter,
    const uint8_t *reply, size_t len);

/* ---- drops (store_drops.c) ---- */
/* The drops, drop_tiers, drop_holdback, holdback_log and buyer_counts
 * tables, the reads of orders, placements and customers that cart holds,
 * placement and the KPIs need, and the transaction calls. Every call
 * returns 0 or a DN_E* code (DN_EIO when SQLite failed, logged). A scan
 * calls fn once per row; the row's pointers are valid only during the call;
 * fn returns 0 to go on, COORD_STORE_STOP to end the scan early (the scan
 * then returns 0) or a DN_E* code, which the scan returns. */

#include <stdbool.h>
#include <stddef.h>

/* Prepares the statements of store_drops.c (store_init calls it). */
int store_drops_init(store *s, sqlite3 *db);

#define COORD_STORE_STOP 1

/* Transactions: coord_store_begin/commit/rollback (ingest block). */

/* A drops row; spec is the packed Drop as created. */
typedef struct {
	const char *id;
	int state;                    /* drop_state */
	const uint8_t *spec;
	size_t spec_len;
	uint64_t accepted, gifts;
} coord_store_drop_row;
typedef int (*coord_store_drop_fn)(void *arg, const coord_store_drop_row *row);
/* Every drop: those not closed first, then the newest. */
int coord_store_drop_list(store *s, coord_store_drop_fn fn, void *arg);
/* Calls fn with drop id and returns what fn returned; DN_ENOENT (fn not
 * called) when there is no such drop. */
int coord_store_drop_get(store *s, const char *id, coord_store_drop_fn fn, void *arg);
/* A new drop in state 0 (draft), its spec packed. */
int coord_store_drop_insert(store *s, const char *id, int64_t created_ms,
    const uint8_t *spec, size_t len);
int coord_store_drop_state_set(store *s, const char *id, int state);

/* A drop_tiers row: the tier at idx of the drop's spec. */
typedef struct {
	const char *drop_id;
	int64_t idx;
	uint32_t sold;
	bool released;                /* its holdback release has run */
} coord_store_tier_row;
typedef int (*coord_store_tier_fn)(void *arg, const coord_store_tier_row *row);
/* The tiers of drop_id, or of every drop when drop_id is NULL. */
int coord_store_drop_tier_list(store *s, const char *drop_id, coord_store_tier_fn fn,
    void *arg);
/* A tier row with nothing sold, not released. */
int coord_store_drop_tier_insert(store *s, const char *drop_id, size_t idx);
int coord_store_drop_tier_released_set(store *s, const char *drop_id, size_t idx);
/* sold += delta (delta < 0 gives units back). */
int coord_store_drop_tier_sold_add(store *s, const char *drop_id, int64_t idx,
    int64_t delta);
/* The units a buyer has of sku in the drop (per-buyer limits) += delta. */
int coord_store_drop_buyer_add(store *s, const char *drop_id, const char *customer,
    const char *sku, int64_t delta);

/* The holdback basis and units held of (drop, hub, sku); 0 and 0 when it
 * has no row. */
int coord_store_holdback_get(store *s, const char *drop_id, const char *hub,
    const char *sku, int64_t *basis, int64_t *held);
int coord_store_holdback_set(store *s, const char *drop_id, const char *hub,
    const char *sku, int64_t basis, int64_t held);
/* One holdback_log row: qty > 0 held, qty < 0 released, with its reason. */
typedef struct {
	const char *drop_id, *hub, *sku;
	int64_t qty;
	const char *reason;
	int64_t time_ms;
} coord_store_holdback_log_row;
int coord_store_holdback_log_add(store *s, const coord_store_holdback_log_row *row);
/* Units ever held back (the sum of holds) and released (of releases, > 0)
 * by a drop, from holdback_log. */
int coord_store_holdback_held_sum(store *s, const char *drop_id, int64_t *out);
int coord_store_holdback_released_sum(store *s, const char *drop_id, int64_t *out);

/* A line of a held placement (state 'held') of an order in a cart hold. */
typedef struct {
	int64_t placement_id;
	const char *hub, *sku;
	int64_t qty;
	bool gift;
} coord_store_hold_line;
typedef int (*coord_store_hold_line_fn)(void *arg, const coord_store_hold_line *row);
int coord_store_hold_lines(store *s, int64_t order_id, coord_store_hold_line_fn fn,
    void *arg);
/* placements.state = 'lapsed'. */
int coord_store_hold_placement_lapse(store *s, int64_t placement_id);
/* A line an order asked for, with the order's drop, tier and buyer. */
typedef struct {
	const char *drop_id, *tier, *customer, *sku;
	int64_t qty;
} coord_store_hold_order_line;
typedef int (*coord_store_hold_order_line_fn)(void *arg,
    const coord_store_hold_order_line *row);
int coord_store_hold_order_lines(store *s, int64_t order_id,
    coord_store_hold_order_line_fn fn, void *arg);
/* Fills ids with at most max orders on hold whose hold expired by
 * now_elapsed_ms (the duration clock), soonest expiry first; *n of them. */
int coord_store_hold_expired(store *s, int64_t now_elapsed_ms, int64_t *ids,
    size_t max, size_t *n);

typedef int (*coord_store_hub_count_fn)(void *arg, const char *hub, uint64_t n);
/* Past demand: orders per nearest hub in range (turned-away ones too). */
int coord_store_drop_demand_list(store *s, coord_store_hub_count_fn fn, void *arg);

/* KPIs of one drop (proto OpsReply.kpi). Units accepted per minute of
 * receipt, ascending. */
typedef int (*coord_store_kpi_minute_fn)(void *arg, int64_t minute_ms, uint64_t units);
int coord_store_kpi_sell_through(store *s, const char *drop_id,
    coord_store_kpi_minute_fn fn, void *arg);
/* Per nearest hub (by name), of the orders accepted or refused with a hub
 * in range: how many, how many accepted, how many accepted at that hub. */
typedef struct {
	const char *hub;
	uint64_t orders, filled, filled_here;
} coord_store_kpi_fill_row;
typedef int (*coord_store_kpi_fill_fn)(void *arg, const coord_store_kpi_fill_row *row);
int coord_store_kpi_fill(store *s, const char *drop_id, coord_store_kpi_fill_fn fn,
    void *arg);
/* Accept-to-ship times of shipped placements, ascending, at most max. */
int coord_store_kpi_fulfil_times(store *s, const char *drop_id, int64_t *ms,
    size_t max, size_t *n);
/* Buyers whose first order was in the drop, and the share that ordered
 * again: all of them, those given a gift, the others. */
typedef struct {
	uint64_t acquired;
	double repeat_rate;
	uint64_t gift_buyers;
	double gift_repeat_rate;
	uint64_t nongift_buyers;
	double nongift_repeat_rate;
} coord_store_kpi_buyers;
int coord_store_kpi_buyers_get(store *s, const char *drop_id, coord_store_kpi_buyers *out);
/* Orders neither accepted nor on hold, per status, most first. */
typedef int (*coord_store_kpi_reason_fn)(void *arg, int status, uint64_t orders);
int coord_store_kpi_rejections(store *s, const char *drop_id,
    coord_store_kpi_reason_fn fn, void *arg);
/* Accepted orders and their units. */
int coord_store_kpi_accepted(store *s, const char *drop_id, uint64_t *orders,
    uint64_t *units);
/* ---- stream (store_stream.c) ---- */
/* The hub streams' SQL (hubsync.c, resync.c). Each call returns 0 or
 * DN_EIO (logged) unless it says otherwise; hub is a hub id. */
#include <stdbool.h>
#include <stddef.h>
#include "core/limits.h"

/* Prepares the statements below into s->stream (from store_init). */
int store_stream_init(store *s, sqlite3 *db);

/* The hubsync batch's transaction (BEGIN IMMEDIATE; commit DN_EIO = the
 * outcome is unknown; rollback when one is open), and the savepoint each
 * request of the batch runs in. request_undo rolls the request back and
 * closes its savepoint; DN_EIO when the whole transaction was lost (some
 * errors end it in SQLite), and then nothing of the batch can commit. */
int store_stream_batch_begin(store *s);
int store_stream_batch_commit(store *s);
void store_stream_batch_rollback(store *s);
int store_stream_request_open(store *s);
int store_stream_request_close(store *s);
int store_stream_request_undo(store *s);

/* hubs: the registry row a hello writes, and the stream positions. */
typedef struct {
	const char *id, *name, *term_url;
	double lat, lon, radius_km;
} store_stream_hub;
int store_stream_hub_upsert(store *s, const store_stream_hub *h);
int store_stream_hub_positions_set(store *s, const char *hub, uint64_t cmd_acked,
    uint64_t event_applied);
int store_stream_hub_offered_set(store *s, const char *hub, uint64_t cmd_offered);
int store_stream_hub_incarnation_set(store *s, const char *hub, uint64_t incarnation);
/* A new hub incarnation: incarnation set, every position back to 0. */
int store_stream_hub_reset(store *s, const char *hub, uint64_t incarnation);

/* commands: fn gets each packed HubCommand with seq > after, by seq, at
 * most max; the bytes live only during the call; a non-zero return from fn
 * stops the walk and is returned. trim deletes seq <= acked; clear all. */
typedef int (*store_stream_cmd_fn)(void *arg, const uint8_t *payload, size_t len);
int store_stream_cmds_list(store *s, const char *hub, uint64_t after, size_t max,
    store_stream_cmd_fn fn, void *arg);
int store_stream_cmds_trim(store *s, const char *hub, uint64_t acked);
/* The hub acked every command up to acked (call before trimming them): the
 * placements those commands carry (commands.placement_id) that had no
 * delivery yet get delivered_ms (the coordinator's clock) and queued_ms
 * (the hub's, HubSyncRequest.cmd_applied_ms; 0 when not known). */
int store_stream_cmds_delivered(store *s, const char *hub, uint64_t acked,
    int64_t delivered_ms, int64_t queued_ms);
int store_stream_cmds_clear(store *s, const char *hub);

/* placements as hub events touch them. get: 0, DN_ENOENT or DN_EIO. */
typedef struct {
	int64_t order_id;             /* 0 for a transfer's pick */
	char hub[DN_ID_MAX + 1];
	char state[16];               /* held|open|picked|shipped|... (store.h) */
	bool transfer;                /* kind 'transfer' */
} store_stream_placement;
int store_stream_placement_get(store *s, int64_t id, store_stream_placement *out);
/* picked_ms = time_ms; an open placement becomes picked. */
int store_stream_placement_picked(store *s, int64_t id, int64_t time_ms);
int store_stream_placement_shipped(store *s, int64_t id, int64_t time_ms,
    const char *tracking);
/* 'shorted' when no line is left open and it has not shipped. */
int store_stream_placement_close(store *s, int64_t id);
int store_stream_placement_refused(store *s, int64_t id);
/* fn gets the id of each placement at hub still open or picked, by id; a
 * non-zero return from fn stops the walk and is returned. */
typedef int (*store_stream_id_fn)(void *arg, int64_t id);
int store_stream_placements_live(store *s, const char *hub, store_stream_id_fn fn,
    void *arg);
/* meta 'placement_floor' = max(itself, floor) (STORE_PLACEMENT_NEXT_ID). */
int store_stream_placement_floor_raise(store *s, uint64_t floor);

/* placement_lines: open = qty - shipped - shorted. */
typedef struct {
	char sku[DN_ID_MAX + 1];
	int64_t open;
	bool gift;
} store_stream_pline;
/* The open units of one line; 0 when there is no such line. */
int store_stream_pline_open(store *s, int64_t placement, const char *sku,
    int64_t *open);
/* The placement's lines (at most max, any order) into lines[0..*n). */
int store_stream_plines_get(store *s, int64_t placement, store_stream_pline *lines,
    size_t max, size_t *n);
int store_stream_pline_ship(store *s, int64_t placement, const char *sku, int64_t qty);
int store_stream_pline_short(store *s, int64_t placement, const char *sku, int64_t qty);

/* What a placement still needs, to queue its command again: its lines with
 * units open (by sku; n = 0 when none), the order's key, customer and tier
 * (a transfer's id, "to:" + its destination, ""), and since_ms: an order's
 * acceptance, a transfer's creation. */
typedef struct {
	bool transfer;
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 8], tier[DN_ID_MAX + 1];
	int64_t since_ms;
	size_t n;
	store_stream_pline lines[DN_ORDER_LINES_MAX + 1];
} store_stream_resend;
int store_stream_resend_get(store *s, int64_t placement, store_stream_resend *out);

/* The order a placement serves (DN_EIO when it is missing). */
typedef struct {
	char key[DN_ID_MAX + 1], customer[DN_ID_MAX + 1];
	double lat, lon;
} store_stream_order;
int store_stream_order_get(store *s, int64_t id, store_stream_order *out);
/* The transfer picked by this placement, if still picking, is cancelled. */
int store_stream_transfer_cancel(store *s, int64_t placement);

/* hub_seed: clear; fill from the hub's ledger rows with on_hand > 0 (the
 * first max by sku; *seeded rows); list them (by sku, at most max; a
 * non-zero return from fn stops the walk and is returned). */
int store_stream_seed_clear(store *s, const char *hub);
int store_stream_seed_fill(store *s, const char *hub, size_t max, size_t *seeded);
typedef int (*store_stream_seed_fn)(void *arg, const char *sku, int64_t on_hand);
int store_stream_seed_list(store *s, const char *hub, size_t max,
    store_stream_seed_fn fn, void *arg);

/* ---- ingest (store_ingest.c) ----
 * The storefront path and placements: orders, order_lines, placements,
 * placement_lines, commands and hubs.cmd_seq, stock rows, buyer_counts,
 * drop_tiers.sold, drops' counts and customers, as ingest and placement.c
 * use them. Every call runs inside the caller's transaction unless it is
 * one of the transaction calls; each returns 0 or a negative DN_E* (DN_EIO
 * when SQLite failed, logged). Blobs handed out are malloc'd copies the
 * caller frees. */

/* Prepares the ingest statements into s->ingest (db_close finalizes
 * them). 0 or DN_EIO. */
int coord_store_ingest_init(store *s, sqlite3 *db);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on the store's file. commit returns
 * DN_EIO when the outcome is unknown (the transaction is then closed). */
int coord_store_begin(store *s);
int coord_store_commit(store *s);
void coord_store_rollback(store *s);
/* Rows changed on the store's connection since it opened (a counter that
 * only grows): equal before and after a transaction's work when it wrote
 * nothing. */
int64_t coord_store_changes(store *s);

/* One journalled order, as the storefront path reads it back. */
typedef struct {
	int64_t id;
	int status;                     /* Dropnet__Status */
	int64_t hold_expires_ms;        /* duration clock */
	char drop_id[DN_ID_MAX + 1];
	char customer[DN_ID_MAX + 1];
	char gift_sku[DN_ID_MAX + 1];
	uint8_t *ack;                   /* packed OrderAck; caller frees */
	size_t ack_len;
} coord_store_order;

/* The order journalled under (storefront, order_key). 0, DN_ENOENT,
 * DN_ENOMEM or DN_EIO. */
int coord_store_order_find(store *s, const char *storefront, const char *key,
    coord_store_order *out);
/* The packed ack of order id (*ack malloc'd, caller frees). 0, DN_ENOENT,
 * DN_ENOMEM or DN_EIO. */
int coord_store_order_ack_get(store *s, int64_t id, uint8_t **ack, size_t *len);
/* Rewrites order id's status and ack. */
int coord_store_order_status_set(store *s, int64_t id, int status,
    const uint8_t *ack, size_t ack_len);

/* A new journal row (orders). */
typedef struct {
	const char *storefront, *order_key, *customer;
	int status;                     /* Dropnet__Status */
	const char *hub;                /* first hub, or "" */
	double lat, lon;
	int64_t received_ms;            /* wall clock */
	int64_t arrived_ms;             /* at the socket (wall); 0: not known */
	const uint8_t *ack;             /* OrderAck without order_id */
	size_t ack_len;
	const uint8_t *route;           /* OrderInfo with candidates */
	size_t route_len;
	const char *drop_id, *tier, *nearest_hub, *gift_sku;
	int64_t hold_expires_ms;        /* duration clock; 0: not held */
	int64_t units;
} coord_store_order_row;

/* Inserts an order; *id gets its row id. */
int coord_store_order_insert(store *s, const coord_store_order_row *o, int64_t *id);
/* Inserts one order line (what was asked for). */
int coord_store_order_line_insert(store *s, int64_t order_id, const char *sku,
    int64_t qty);
/* Adds qty to an order line's backordered count. */
int coord_store_order_line_backorder(store *s, int64_t order_id, const char *sku,
    int64_t qty);

/* Inserts a placement of order_id at hub (state held or open, placed at
 * placed_ms); *pid gets its id (STORE_PLACEMENT_NEXT_ID). */
int coord_store_placement_insert(store *s, int64_t order_id, const char *hub,
    bool held, int64_t placed_ms, int64_t *pid);
/* Inserts one placement line. */
int coord_store_placement_line_insert(store *s, int64_t pid, const char *sku,
    int64_t qty, bool gift);
/* Sets a placement's state (held, open, ...). */
int coord_store_placement_state_set(store *s, int64_t pid, const char *state);
/* Up to max ids of order_id's held placements, in id order. */
int coord_store_placements_held(store *s, int64_t order_id, int64_t *pids,
    size_t max, size_t *n);

/* What a place-order command carries: placement pid joined with its order
 * and its lines (at most COORD_STORE_SEND_LINES). */
#define COORD_STORE_SEND_LINES (DN_ORDER_LINES_MAX + 1) /* lines + a gift */
typedef struct {
	char hub[DN_ID_MAX + 1];
	char order_key[DN_ID_MAX + 1];
	char customer[DN_ID_MAX + 1];
	char tier[DN_ID_MAX + 1];
	int64_t received_ms;
	size_t nlines;
	struct {
		char sku[DN_ID_MAX + 1];
		uint32_t qty;
		bool gift;
	} lines[COORD_STORE_SEND_LINES];
} coord_store_send;
/* Loads placement pid for its command. 0, DN_ENOENT (no order or no line)
 * or DN_EIO. */
int coord_store_placement_send_get(store *s, int64_t pid, coord_store_send *out);

/* Appends a packed command at seq to hub's stream; placement_id is the
 * placement the command carries to the hub (its delivery is traced:
 * store_stream_cmds_delivered), 0 for none. hubs.cmd_seq is written apart
 * (coord_store_hub_cmd_seq_set), once per transaction. */
int coord_store_command_append(store *s, const char *hub, uint64_t seq,
    int64_t placement_id, const uint8_t *buf, size_t len);
/* Sets hubs.cmd_seq of hub to seq. 0 or DN_EIO. */
int coord_store_hub_cmd_seq_set(store *s, const char *hub, uint64_t seq);

/* One stock row with its lifetime counters. */
typedef struct {
	const char *hub, *sku;
	int64_t on_hand, allocated, holdback;
	int64_t received, shipped, lost, adjusted, returned;
	int64_t transfer_in, transfer_out;
} coord_store_stock_row;
/* Inserts or overwrites a (hub, sku) stock row. */
int coord_store_stock_upsert(store *s, const coord_store_stock_row *r);

/* Units customer has bought of sku in drop_id (0 if none). */
int coord_store_buyer_count_get(store *s, const char *drop_id,
    const char *customer, const char *sku, uint32_t *bought);
/* Adds qty to those units. */
int coord_store_buyer_count_add(store *s, const char *drop_id,
    const char *customer, const char *sku, int64_t qty);
/* Adds units to tier idx's sold count. */
int coord_store_tier_sold_add(store *s, const char *drop_id, int64_t idx,
    int64_t units);
/* Adds to a drop's accepted and gifts counts. */
int coord_store_drop_counts_add(store *s, const char *drop_id, int64_t accepted,
    int64_t gifts);
/* Whether customer has a customers row. */
int coord_store_customer_known(store *s, const char *customer, bool *known);
/* Counts an accepted order for customer (first order, first drop and
 * gifted are kept from the first). */
int coord_store_customer_add(store *s, const char *customer, int64_t order_id,
    const char *first_drop, bool gifted);


/* ---- ops (store_ops.c) ----
 * The typed calls of the ops area: the machine's clock, the
 * loads coord_reload makes (hub registry, ledger), the ops reads (one
 * order's journey, the audit's ledger checks), demand history and
 * transfers. Their SQL, and the column numbers that go with it, live in
 * store_ops.c; every statement is prepared once by store_ops_init (called
 * from store_init) and reset after every call, so no call leaves a read
 * open. Transactions: coord_store_begin/commit/rollback (ingest, above).
 * Scans call fn once per row; text and bytes in a row are valid only
 * during that call; fn returns 0 to go on, COORD_STORE_STOP to end the
 * scan early (the scan returns 0) or a DN_E* code, which the scan returns.
 * Errors: DN_EIO (logged with the statement), DN_ENOENT where a single row
 * is looked up and none matches. */
#include <stdbool.h>
#include <stddef.h>
#include "core/limits.h"

struct store_ops_stmts;
/* Prepares the ops statements (owned by s->ops). 0, DN_ENOMEM or DN_EIO.
 * store_ops_fini frees what init made; NULL-safe, and the statements
 * themselves are finalized by db_close. */
int store_ops_init(store *s, sqlite3 *db);
void store_ops_fini(store *s);

/* The machine's clocks (coord_clock). load: DN_ENOENT when never saved. */
int coord_store_clock_save(store *s, int64_t wall_ms, int64_t elapsed_ms);
int coord_store_clock_load(store *s, int64_t *wall_ms, int64_t *elapsed_ms);

/* The hub registry, in registration order, at most max hubs. */
typedef struct {
	const char *id, *name, *term_url;
	double lat, lon, radius_km;
	uint64_t cmd_seq, cmd_acked, event_applied, incarnation, cmd_offered;
	bool seed_pending;            /* hub_seed rows wait for the hub */
} coord_store_hub_row;
typedef int (*coord_store_hub_fn)(void *arg, const coord_store_hub_row *row);
int coord_store_hubs_list(store *s, size_t max, coord_store_hub_fn fn, void *arg);

/* Every ledger row (stock; coord_store_stock_row: ingest, above), in the
 * table's order. */
typedef int (*coord_store_stock_fn)(void *arg, const coord_store_stock_row *row);
int coord_store_stock_list(store *s, coord_store_stock_fn fn, void *arg);

/* One journalled order by (storefront, order_key), for `dropctl order`:
 * fn is called once; route is the packed OrderInfo with its candidates
 * (NULL, 0 when none). DN_ENOENT when no such order. */
typedef struct {
	int64_t id;
	const char *customer, *hub;
	int status;                   /* Dropnet__Status */
	double lat, lon;
	int64_t received_ms;          /* the journalling transaction's clock */
	const void *route;
	size_t route_len;
	int64_t arrived_ms;           /* at the socket; 0: not known */
} coord_store_order_view;
typedef int (*coord_store_order_fn)(void *arg, const coord_store_order_view *row);
int coord_store_order_by_key(store *s, const char *storefront, const char *order_key,
    coord_store_order_fn fn, void *arg);
/* The order's lines, at most max. */
typedef struct {
	const char *sku;
	int64_t qty, backordered;
} coord_store_line_row;
typedef int (*coord_store_line_fn)(void *arg, const coord_store_line_row *row);
int coord_store_order_lines_list(store *s, int64_t order_id, size_t max,
    coord_store_line_fn fn, void *arg);
/* Each (placement, line) of the order, by placement id, at most max. */
typedef struct {
	const char *hub, *sku, *state, *tracking;
	int64_t qty, shipped, shorted, picked_ms, shipped_ms;
	int64_t queued_ms, delivered_ms;  /* store_stream_cmds_delivered; 0 */
} coord_store_placed_row;
typedef int (*coord_store_placed_fn)(void *arg, const coord_store_placed_row *row);
int coord_store_order_placements_list(store *s, int64_t order_id, size_t max,
    coord_store_placed_fn fn, void *arg);

/* The audit's checks of the durable ledger and journal (allocation_mismatch,
 * order_allocation, stock_not_conserved, transit_mismatch,
 * holdback_unexplained, shipped_mismatch, in that order): fn gets one
 * finding per violation, with a one-line detail. A check that fails to run
 * is reported as an "audit_error" finding naming it, and the rest still
 * run. *checks is the number of checks run. 0, or what fn returned. */
typedef int (*coord_store_finding_fn)(void *arg, const char *check, const char *detail);
int coord_store_audit_ledger(store *s, coord_store_finding_fn fn, void *arg,
    uint32_t *checks);

/* A read-only store on the file at path, for reads off the loop thread
 * (coord.h "reads off the loop"): its own connection (SQLITE_OPEN_READONLY:
 * a WAL reader, it never blocks the writer nor waits for it) with only
 * the ops statements of this area prepared. One thread at a time. 0,
 * DN_ENOMEM or DN_EIO (logged). */
int coord_store_reader_open(const char *path, store **out);
/* NULL-safe. */
void coord_store_reader_close(store *s);
/* False when the reader is stuck inside a transaction (a RELEASE that
 * failed): every later read would see that old snapshot and pin the WAL,
 * so the caller closes it and opens another. */
bool coord_store_reader_ok(store *s);
/* Stops the reader's running statement (SQLITE_INTERRUPT): any thread. */
void coord_store_reader_interrupt(store *s);
/* One snapshot for several reads: a SAVEPOINT, so it nests inside a
 * transaction already open on the connection. 0 or DN_EIO. */
int coord_store_read_begin(store *s);
void coord_store_read_end(store *s);

/* Demand history (orders accepted, refused SOLD_OUT, held or lapsed, with a
 * nearest hub), units of sku ordered in [start_ms, end_ms) per region:
 * _buckets per region and bucket (bucket = (received_ms - start_ms) /
 * bucket_ms), _regions per region (bucket 0); _panel per SKU, region and
 * bucket, every SKU at once (one pass over the window's orders, where
 * _buckets makes one per SKU). */
typedef struct {
	const char *hub;              /* the region's nearest hub */
	int64_t bucket;
	int64_t units;
	const char *sku;              /* _panel only; NULL otherwise */
} coord_store_region_units;
typedef int (*coord_store_units_fn)(void *arg, const coord_store_region_units *row);
int coord_store_demand_buckets(store *s, const char *sku, int64_t start_ms,
    int64_t end_ms, int64_t bucket_ms, coord_store_units_fn fn, void *arg);
int coord_store_demand_regions(store *s, const char *sku, int64_t start_ms,
    int64_t end_ms, coord_store_units_fn fn, void *arg);
int coord_store_demand_panel(store *s, int64_t start_ms, int64_t end_ms,
    int64_t bucket_ms, coord_store_units_fn fn, void *arg);
/* OPS_DEMAND: per (sku, region, bucket start), sold and turned away
 * (SOLD_OUT) units, of one sku ("" every sku), at most max rows. */
typedef struct {
	const char *hub, *sku;
	int64_t bucket_ms, sold, turned_away;
} coord_store_demand_row;
typedef int (*coord_store_demand_fn)(void *arg, const coord_store_demand_row *row);
int coord_store_demand_list(store *s, const char *sku, int64_t bucket_ms, size_t max,
    coord_store_demand_fn fn, void *arg);

/* Transfers (hub-to-hub moves; their source pick is a placement of kind
 * 'transfer'). */
int coord_store_transfer_count(store *s, int64_t *n);
/* Units of sku still expected at to_hub on open transfers (picking or in
 * transit). */
int coord_store_transfer_incoming(store *s, const char *to_hub, const char *sku,
    int64_t *n);
typedef struct {
	const char *id, *sku, *from_hub, *to_hub;
	int64_t qty, created_ms;
} coord_store_transfer_new;
/* Writes the transfer ('picking'), its pick placement at from_hub ('open',
 * a new placement id, returned) and the placement's one line. Inside a
 * transaction. */
int coord_store_transfer_insert(store *s, const coord_store_transfer_new *t,
    int64_t *placement_id);
typedef struct {
	char id[DN_ID_MAX + 1], sku[DN_ID_MAX + 1];
	char state[16];               /* picking|in_transit|received|cancelled */
	int64_t qty;
} coord_store_transfer;
/* The transfer picked by placement pid. DN_ENOENT when none. */
int coord_store_transfer_by_placement(store *s, int64_t pid, coord_store_transfer *out);
/* Units transfer id (of sku, to to_hub, open) still expects. DN_ENOENT when
 * no such open transfer. */
int coord_store_transfer_open_get(store *s, const char *id, const char *to_hub,
    const char *sku, int64_t *open);
/* The pick (placement pid) left: its lines ship whole (less what was
 * shorted), the transfer goes in transit (received if the destination
 * already booked every unit), the placement is shipped. */
int coord_store_transfer_ship(store *s, const char *id, int64_t pid, int64_t now_ms);
/* qty units of transfer id arrived (received once in transit and whole). */
int coord_store_transfer_receive(store *s, const char *id, int64_t qty, int64_t now_ms);
/* The source could not find qty units: the pick's line shorts them and the
 * transfer carries that many fewer (cancelled at zero). */
int coord_store_transfer_short(store *s, const char *id, int64_t pid, int64_t qty);
/* The newest transfers first, at most max. */
typedef struct {
	const char *id, *sku, *from_hub, *to_hub, *state;
	int64_t qty, created_ms, shipped_ms, received_ms;
} coord_store_transfer_row;
typedef int (*coord_store_transfer_fn)(void *arg, const coord_store_transfer_row *row);
int coord_store_transfers_list(store *s, size_t max, coord_store_transfer_fn fn,
    void *arg);

/* ---- prices (store_prices.c) ---- */
int store_prices_init(store *s, sqlite3 *db);
/* One price_live row. */
typedef struct {
	const char *drop_id, *sku, *tier;
	int64_t price_minor, starts_ms, ends_ms;
} coord_store_price_live;
typedef int (*coord_store_price_live_fn)(void *arg, const coord_store_price_live *r);
/* Sets (replaces) the live price of (drop, sku). */
int coord_store_price_live_set(store *s, const coord_store_price_live *r);
/* Every live price row. */
int coord_store_price_live_list(store *s, coord_store_price_live_fn fn, void *arg);
/* Records an accepted order's prices: one line's unit price and rule, then
 * the order's total and currency. */
int coord_store_order_line_price(store *s, int64_t order_id, const char *sku,
    int64_t unit_minor, const char *rule);
int coord_store_order_price(store *s, int64_t order_id, int64_t total_minor,
    const char *currency);
/* The secret called name (32 bytes at most) into buf; *len its length.
 * 0, DN_ENOENT or DN_EIO. */
int coord_store_secret_get(store *s, const char *name, uint8_t *buf, size_t cap,
    size_t *len);
/* Accepted orders of a drop grouped by tier, by the hub that took them,
 * or by their region (orders.nearest_hub; "" for none): orders, units and
 * revenue (sum of totals, minor units). */
typedef enum { COORD_MONEY_TIER, COORD_MONEY_HUB, COORD_MONEY_REGION } coord_store_money_by;
typedef struct {
	const char *key;
	uint64_t orders, units;
	int64_t revenue_minor;
} coord_store_money_row;
typedef int (*coord_store_money_fn)(void *arg, const coord_store_money_row *r);
int coord_store_money_scan(store *s, const char *drop_id, coord_store_money_by by,
    coord_store_money_fn fn, void *arg);
/* Every arm of every experiment of a drop, oldest experiment first, arms
 * by index: the arm's counters and its experiment's spec (packed
 * Experiment, for the arm's name); pointers valid during fn only. */
typedef struct {
	const char *experiment;
	int idx;
	uint64_t exposures, orders, units;
	int64_t revenue_minor;
	const uint8_t *spec;
	size_t spec_len;
} coord_store_money_arm;
typedef int (*coord_store_money_arm_fn)(void *arg, const coord_store_money_arm *r);
int coord_store_money_arms(store *s, const char *drop_id, coord_store_money_arm_fn fn,
    void *arg);
/* Experiments: a row (spec = packed Experiment as created) and its arms. */
typedef struct {
	const char *id, *drop_id, *sku, *state;
	int64_t created_ms, stopped_ms;
	const uint8_t *spec;
	size_t spec_len;
} coord_store_experiment_row;
typedef int (*coord_store_experiment_fn)(void *arg, const coord_store_experiment_row *r);
int coord_store_experiment_insert(store *s, const coord_store_experiment_row *r,
    size_t narms);
int coord_store_experiment_stop(store *s, const char *id, int64_t stopped_ms);
/* id NULL: every running experiment; else that one (DN_ENOENT if none). */
int coord_store_experiment_get(store *s, const char *id, coord_store_experiment_fn fn,
    void *arg);
typedef struct {
	int idx;
	uint64_t exposures, orders, units;
	int64_t revenue_minor;
	double revenue_sq;
} coord_store_arm_row;
typedef int (*coord_store_arm_fn)(void *arg, const coord_store_arm_row *r);
int coord_store_arm_list(store *s, const char *id, coord_store_arm_fn fn, void *arg);
/* Adds r's counts to arm r->idx of experiment id. */
int coord_store_arm_add(store *s, const char *id, const coord_store_arm_row *r);

#endif
