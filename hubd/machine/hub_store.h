/*
 * hub_store.h - hubd's SQLite store: physical stock, bins, the pick queue,
 * the event outbox and the two stream positions.
 *
 * Invariants kept by the callers' transactions:
 *  - every state change a terminal action makes and its outbox event commit
 *    together (one transaction), before the reply is sent;
 *  - per sku, stock.on_hand == sum(bins.qty) while on_hand >= 0;
 *  - outbox rows exist for every seq in (event_acked, event_seq], and are
 *    kept down to event_acked - DN_OUTBOX_KEEP (a restored coordinator may
 *    ask for them again: SEMANTICS.md "Incarnations and resync");
 *  - a command with seq <= cmd_applied has been applied, once.
 *
 * Thread model: the loop thread owns the store and its sqlite3 *.
 * Statements are prepared once at open.
 */
#ifndef HUB_STORE_H
#define HUB_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "io/codec.h"
#include "core/pick.h"

typedef struct hub_store hub_store;

typedef struct {
	uint64_t cmd_applied; /* highest command seq applied */
	uint64_t event_seq;   /* highest event seq ever assigned */
	uint64_t event_acked; /* highest event seq the coordinator applied */
} hub_stream;

/* Opens (creating) the database at path and prepares every statement.
 * Returns 0, DN_EIO or DN_ENOMEM. */
int hub_store_open(hub_store **out, const char *path);
/* The same through a named SQLite VFS (NULL: the default; the simulator's
 * fault-injecting one). */
int hub_store_open_vfs(hub_store **out, const char *path, const char *vfs);
/* NULL-safe. Finalizes statements and closes the connection. */
void hub_store_close(hub_store *s);

/* Transactions: BEGIN IMMEDIATE / COMMIT (DN_EIO = outcome unknown) /
 * ROLLBACK; savepoints nest inside to undo one request of a batch. */
int hub_store_begin(hub_store *s);
int hub_store_commit(hub_store *s);
void hub_store_rollback(hub_store *s);
/* A read transaction (BEGIN, no lock until the first read): the reads
 * between see one snapshot and share one read lock instead of taking one
 * each. read_end ends it (COMMIT; ROLLBACK should that fail). */
int hub_store_read_begin(hub_store *s);
void hub_store_read_end(hub_store *s);
int hub_store_savepoint(hub_store *s);
int hub_store_release(hub_store *s);
void hub_store_rollback_to(hub_store *s);

int hub_store_stream_get(hub_store *s, hub_stream *out);

/* The store's identity (meta): its own incarnation, made once with the
 * file, and the coordinator incarnation it follows (0: none yet). */
typedef struct {
	uint64_t incarnation;
	uint64_t coordinator;
} hub_meta;
int hub_store_meta_get(hub_store *s, hub_meta *out);
int hub_store_coordinator_set(hub_store *s, uint64_t incarnation);
/* Highest order id held (0: none). */
int hub_store_order_id_max(hub_store *s, uint64_t *out);
/* hub_store_stream_get, hub_store_meta_get and, when order_id_max is not
 * NULL, hub_store_order_id_max in one statement: what every sync reads. */
int hub_store_sync_head(hub_store *s, hub_stream *sp, hub_meta *meta,
    uint64_t *order_id_max);
/* Moves both positions back to a restored coordinator's: event_acked (the
 * outbox after it is sent again) and cmd_applied. DN_ERANGE when events
 * after event_acked were already trimmed from the outbox (nothing
 * changed). */
int hub_store_stream_rewind(hub_store *s, uint64_t event_acked,
    uint64_t cmd_applied);
/* The order_key of an order; DN_ENOENT when unknown. */
int hub_store_order_key(hub_store *s, uint64_t order_id, char *key, size_t len);
int hub_store_cmd_applied_set(hub_store *s, uint64_t seq);
/* Records the coordinator's ack and deletes the outbox up to seq. */
int hub_store_event_acked_set(hub_store *s, uint64_t seq);

/* Assigns ev->seq = event_seq + 1, packs ev and appends it to the outbox. */
int hub_store_event_append(hub_store *s, Dropnet__HubEvent *ev);
/* Calls fn for each outbox event with seq > after, ascending, at most max.
 * The bytes are valid only during the call. */
typedef int (*hub_store_event_fn)(void *arg, uint64_t seq, const uint8_t *buf,
    size_t len);
int hub_store_events_list(hub_store *s, uint64_t after, size_t max,
    hub_store_event_fn fn, void *arg);

/* on_hand += qty and the bin's qty += qty. */
int hub_store_stock_add(hub_store *s, const char *sku, const char *bin,
    int64_t qty);
/* on_hand -= qty; takes the units out of the fullest bins first (a bin never
 * goes below 0). *on_hand_after returns the new on_hand (may be negative
 * when the book was wrong). */
/* On-hand units of sku (0 when unknown). Returns 0 or DN_EIO. */
int hub_store_stock_get(hub_store *s, const char *sku, int64_t *on_hand);

int hub_store_stock_take(hub_store *s, const char *sku, int64_t qty,
    int64_t *on_hand_after);
/* Whether sku has a stock row, and how many SKUs have one. 0 or DN_EIO. */
int hub_store_stock_skus(hub_store *s, const char *sku, bool *known, size_t *n);
typedef int (*hub_store_stock_fn)(void *arg, const char *sku, int64_t on_hand);
/* Every sku with a stock row, by sku, at most max. */
int hub_store_stock_list(hub_store *s, size_t max, hub_store_stock_fn fn,
    void *arg);
/* The bin holding most of sku, "" when none holds any. */
int hub_store_bin_best(hub_store *s, const char *sku, char *bin, size_t len);

/* Loads an order and its lines; DN_ENOENT when unknown. */
int hub_store_order_load(hub_store *s, uint64_t order_id, pick_order *o);
/* Writes o's state and its lines' picked/shorted counts; now_ms is stamped
 * as picked_ms when the state is picked or shorted. */
int hub_store_order_save(hub_store *s, const pick_order *o, int64_t now_ms);
/* Marks a picked order shipped with tracking at now_ms. */
int hub_store_order_ship(hub_store *s, uint64_t order_id, const char *tracking,
    int64_t now_ms);
/* Marks a resent order still queued shipped with tracking at now_ms, with
 * nothing picked (it left before the hub's store was lost); DN_ESTATE when
 * it is not a queued resent order. */
int hub_store_order_ship_already(hub_store *s, uint64_t order_id,
    const char *tracking, int64_t now_ms);
/* Inserts a queued order (resent: sent again after this hub's store was
 * lost); DN_EEXIST when the id is present (no change). */
int hub_store_order_insert(hub_store *s, uint64_t order_id,
    const char *order_key, const char *customer, int64_t received_ms,
    const char *tier, int64_t promised_ms, bool resent,
    const pick_line_in *lines, size_t nlines);
/* Removes an order that has not shipped; DN_ENOENT / DN_ESTATE. */
int hub_store_order_delete(hub_store *s, uint64_t order_id);

typedef struct {
	pick_order order;
	const char *order_key, *customer;
	int64_t received_ms;
} hub_store_queue_row;
typedef int (*hub_store_queue_fn)(void *arg, const hub_store_queue_row *row);
/* Orders not yet shipped (queued, picking, picked), oldest first, at most
 * max. */
int hub_store_queue_list(hub_store *s, size_t max, hub_store_queue_fn fn,
    void *arg);
/* A claim's candidates, at most max <= DN_QUEUE_LIST_MAX, summarised for
 * pick_claim_choose: id, state, claim, tier, times, the number of lines
 * and, in lines[0].qty, all their units (nothing else of the lines: load
 * a chosen order with hub_store_order_load_keyed). First op's own
 * unfinished orders (queued to packed), then the free open ones in pick
 * priority (pick_priority_cmp) until want of them a claim of want orders
 * could take (pick_is_small ones when want > 1): a superset of what
 * pick_claim_choose takes from all the open orders, read through two
 * indexes without a scan. *out is the store's own array, valid until the
 * next call. 0 or DN_E*. */
int hub_store_claim_candidates(hub_store *s, size_t max, const char *op,
    size_t want, const pick_order **out, size_t *n);
/* hub_store_order_load, with the order's key and customer (id_len bytes
 * each). */
int hub_store_order_load_keyed(hub_store *s, uint64_t order_id, pick_order *o,
    char *key, char *customer, size_t id_len);
/* Orders per state, for status. */
int hub_store_order_count(hub_store *s, pick_order_state st, int64_t *out);

/* Sets (op) or clears ("") an order's claim. */
int hub_store_order_claim_set(hub_store *s, uint64_t order_id, const char *op);

/* The status bar's counts (see TermReply queued .. packed_today). */
typedef struct {
	int64_t queued, in_progress, packed, packed_today;
} hub_store_tally;
int hub_store_counts(hub_store *s, int64_t day_start_ms, hub_store_tally *out);

/* Units of sku in bin (0 when none). */
int hub_store_bin_qty(hub_store *s, const char *bin, const char *sku,
    int64_t *qty);
/* Moves qty units of sku from one bin to another (caller checked from
 * holds them); on_hand does not change. */
int hub_store_bin_move(hub_store *s, const char *sku, const char *from,
    const char *to, int64_t qty);
/* Every sku with units in bin, by sku, at most max. */
int hub_store_bin_list(hub_store *s, const char *bin, size_t max,
    hub_store_stock_fn fn, void *arg);
/* A cycle count: the bin holds counted units of sku, on_hand += delta
 * (counted - the bin's book). */
/* Units of sku picked into totes and not yet shipped (orders picking,
 * picked or packed): still on the books and in their bins until shipped. */
int hub_store_sku_in_totes(hub_store *s, const char *sku, int64_t *qty);
int hub_store_count_apply(hub_store *s, const char *sku, const char *bin,
    int64_t counted, int64_t delta);
/* Returned units set aside (not on hand, not for sale). */
int hub_store_quarantine_add(hub_store *s, const char *sku, int64_t qty);

/* The first answer given to a terminal request_key: a retry after a lost
 * reply gets it again instead of doing the action twice. */
#define HUB_TERM_KEY_KEEP_MS (24 * 3600 * 1000LL)
/* DN_ENOENT when the key is unknown. */
int hub_store_key_get(hub_store *s, const char *key, int *status, char *msg,
    size_t msg_len);
/* Records key's answer and forgets keys older than HUB_TERM_KEY_KEEP_MS.
 * now_ms is the key clock's time (hub_term.c), not the wall clock. */
int hub_store_key_put(hub_store *s, const char *key, int status,
    const char *msg, int64_t now_ms);
/* The newest key's time (0 when there is none). 0 or DN_EIO. */
int hub_store_key_latest(hub_store *s, int64_t *at_ms);

#endif
