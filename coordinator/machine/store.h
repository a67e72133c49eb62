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

#endif
