/*
 * store.h - the coordinator's SQLite file: schema and the statements the
 * hot paths use, prepared once at start.
 *
 * Disk format (coordinator.db, WAL, synchronous=FULL):
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
 *                                          new placement ids stay above it
 *   hubs.incarnation                       the hub store incarnation these
 *                                          books follow (0: not known yet)
 *   hubs.cmd_offered                       highest command seq any sync reply
 *                                          could have carried to the hub
 *   hub_seed(hub, sku, on_hand)            on-hand given to a new hub
 *                                          incarnation, until it confirms
 * 3 adds coord_clock (above).
 */
#ifndef DN_COORD_STORE_H
#define DN_COORD_STORE_H
#include <stdint.h>
#include <sqlite3.h>

typedef struct store {
	sqlite3_stmt *order_find, *order_insert, *line_insert, *placement_insert,
	    *pline_insert, *cmd_insert, *hub_cmd_seq, *stock_upsert, *hub_upsert,
	    *hub_stream, *cmd_select, *cmd_delete_acked, *placement_get,
	    *placement_picked, *placement_shipped, *pline_get, *pline_ship,
	    *pline_short, *order_get, *line_backorder, *placement_close,
	    *order_set_status, *buyer_get, *buyer_add, *tier_sold, *drop_counts,
	    *customer_get, *customer_add, *hold_log, *placement_state;
	sqlite3_stmt *clock_save;
	/* incarnations and resync (resync.c) */
	sqlite3_stmt *hub_offered, *hub_incarnation, *hub_reset, *cmd_delete_hub,
	    *seed_delete, *seed_fill, *seed_select, *placements_live, *resend_lines,
	    *placement_floor;
	sqlite3_stmt *stream[32]; /* store_stream.c's, by its SS_* index */
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

extern const char store_schema_sql[];

/* Prepares every statement. Returns 0 or DN_EIO. */
int store_init(store *s, sqlite3 *db);

/* Steps a statement that returns no row, then resets it. 0 or DN_EIO. */
int store_step_done(sqlite3_stmt *st);

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

#endif
