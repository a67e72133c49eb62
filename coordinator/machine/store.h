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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "core/limits.h"

/* The ingest area's statements (store_ingest.c, prepared by
 * coord_store_ingest_init; db_close finalizes them). */
typedef struct store_ingest_stmts {
	sqlite3 *db;
	sqlite3_stmt *order_find, *order_ack, *order_status, *order_insert,
	    *line_insert, *line_backorder, *placement_insert, *pline_insert,
	    *placement_state, *placements_held, *placement_send, *cmd_insert,
	    *hub_cmd_seq, *stock_upsert, *buyer_get, *buyer_add, *tier_sold,
	    *drop_counts, *customer_get, *customer_add;
} store_ingest_stmts;

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
	store_ingest_stmts ingest;       /* store_ingest.c */
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

/* Appends a packed command at seq to hub's stream and sets hubs.cmd_seq. */
int coord_store_command_append(store *s, const char *hub, uint64_t seq,
    const uint8_t *buf, size_t len);

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

#endif
