/*
 * test_store_ingest.c - the typed store calls of the storefront path and of
 * placements (coordinator/machine/store_ingest.c), on a real coordinator
 * file opened by the machine (coord_open) in a temp folder.
 *
 * Goals:
 *  - what a call writes is what the matching read gives back, field by
 *    field (orders, acks, held placements, a placement's command lines,
 *    buyer counts, customers), and what the raw rows hold (stock, commands
 *    and hubs.cmd_seq, tiers, drops, backorders);
 *  - a missing row is DN_ENOENT, never a zeroed success;
 *  - coord_store_rollback discards what the transaction wrote and
 *    coord_store_commit keeps it.
 */
#include "harness.h"
#include <sqlite3.h>
#include "store.h"

/* One integer from the file (raw SQL: the test checks the rows). */
static int64_t raw_int(mt *m, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(m->c->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void raw_exec(mt *m, const char *sql)
{
	assert_int_equal(sqlite3_exec(m->c->db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static const uint8_t ack_bytes[] = {1, 2, 3, 0, 4};

static int64_t insert_order(mt *m, const char *key, int status, int64_t expires)
{
	coord_store_order_row row = {
	    .storefront = "shop", .order_key = key, .customer = "ann",
	    .status = status, .hub = "h1", .lat = 51.5, .lon = -0.1,
	    .received_ms = MT_WALL0, .ack = ack_bytes, .ack_len = sizeof(ack_bytes),
	    .route = ack_bytes, .route_len = 2, .drop_id = "d1", .tier = "pub",
	    .nearest_hub = "h1", .gift_sku = "pin", .hold_expires_ms = expires,
	    .units = 3,
	};
	int64_t id = 0;
	assert_int_equal(coord_store_order_insert(m->c->store, &row, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Goal: an order reads back as written; its ack can be rewritten; an
 * unknown key or id is DN_ENOENT. */
static void order_round_trip(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	store *s = m.c->store;
	assert_int_equal(coord_store_begin(s), 0);
	int64_t id = insert_order(&m, "k1", 16, 4242);
	coord_store_order o;
	assert_int_equal(coord_store_order_find(s, "shop", "k1", &o), 0);
	assert_int_equal(o.id, id);
	assert_int_equal(o.status, 16);
	assert_int_equal(o.hold_expires_ms, 4242);
	assert_string_equal(o.drop_id, "d1");
	assert_string_equal(o.customer, "ann");
	assert_string_equal(o.gift_sku, "pin");
	assert_int_equal(o.ack_len, sizeof(ack_bytes));
	assert_memory_equal(o.ack, ack_bytes, sizeof(ack_bytes));
	free(o.ack);
	assert_int_equal(coord_store_order_find(s, "shop", "nope", &o), DN_ENOENT);
	assert_null(o.ack);
	assert_int_equal(coord_store_order_find(s, "other", "k1", &o), DN_ENOENT);

	const uint8_t new_ack[] = {9, 8};
	assert_int_equal(coord_store_order_status_set(s, id, 1, new_ack, 2), 0);
	uint8_t *ack = NULL;
	size_t len = 0;
	assert_int_equal(coord_store_order_ack_get(s, id, &ack, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(ack, new_ack, 2);
	free(ack);
	assert_int_equal(coord_store_order_ack_get(s, id + 100, &ack, &len), DN_ENOENT);
	assert_null(ack);
	assert_int_equal(raw_int(&m, "SELECT status FROM orders WHERE order_key='k1'"), 1);

	assert_int_equal(coord_store_order_line_insert(s, id, "tee", 2), 0);
	assert_int_equal(coord_store_order_line_backorder(s, id, "tee", 5), 0);
	assert_int_equal(raw_int(&m, "SELECT qty * 100 + backordered FROM order_lines"
	    " WHERE sku='tee'"), 205);
	coord_store_commit(s);
	mt_close(&m);
}

/* Goal: held placements list in id order; a placement's command joins its
 * order and lines; an unknown placement is DN_ENOENT. */
static void placement_round_trip(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	store *s = m.c->store;
	assert_int_equal(coord_store_begin(s), 0);
	int64_t id = insert_order(&m, "k2", 16, 0);
	int64_t p1 = 0, p2 = 0, p3 = 0;
	assert_int_equal(coord_store_placement_insert(s, id, "h1", true, 77, &p1), 0);
	assert_int_equal(coord_store_placement_insert(s, id, "h2", true, 78, &p2), 0);
	assert_int_equal(coord_store_placement_insert(s, id, "h3", false, 79, &p3), 0);
	assert_true(p1 > 0 && p2 > p1 && p3 > p2);
	int64_t pids[4];
	size_t n = 0;
	assert_int_equal(coord_store_placements_held(s, id, pids, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], p1);
	assert_int_equal(pids[1], p2);
	assert_int_equal(coord_store_placements_held(s, id, pids, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(coord_store_placement_state_set(s, p1, "open"), 0);
	assert_int_equal(coord_store_placements_held(s, id, pids, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], p2);

	assert_int_equal(coord_store_placement_line_insert(s, p1, "tee", 2, false), 0);
	assert_int_equal(coord_store_placement_line_insert(s, p1, "pin", 1, true), 0);
	coord_store_send ps;
	assert_int_equal(coord_store_placement_send_get(s, p1, &ps), 0);
	assert_string_equal(ps.hub, "h1");
	assert_string_equal(ps.order_key, "k2");
	assert_string_equal(ps.customer, "ann");
	assert_string_equal(ps.tier, "pub");
	assert_int_equal(ps.received_ms, MT_WALL0);
	assert_int_equal(ps.nlines, 2);
	/* placement_lines is keyed (placement_id, sku): sku order. */
	assert_string_equal(ps.lines[0].sku, "pin");
	assert_int_equal(ps.lines[0].qty, 1);
	assert_true(ps.lines[0].gift);
	assert_string_equal(ps.lines[1].sku, "tee");
	assert_int_equal(ps.lines[1].qty, 2);
	assert_false(ps.lines[1].gift);
	/* No lines, or no placement at all: nothing to send. */
	assert_int_equal(coord_store_placement_send_get(s, p2, &ps), DN_ENOENT);
	assert_int_equal(coord_store_placement_send_get(s, p3 + 10, &ps), DN_ENOENT);
	coord_store_commit(s);
	mt_close(&m);
}

/* Goal: the command stream, the ledger row, the drop's counters, buyer
 * counts and customers land in their rows. */
static void counters_and_rows(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	store *s = m.c->store;
	raw_exec(&m, "INSERT INTO hubs(id, name, lat, lon, radius_km) VALUES('h1','h1',0,0,5);"
	    "INSERT INTO drops(id, state, created_ms, spec) VALUES('d1', 1, 0, x'');"
	    "INSERT INTO drop_tiers(drop_id, idx) VALUES('d1', 0)");
	assert_int_equal(coord_store_begin(s), 0);
	const uint8_t cmd[] = {7, 7, 7};
	assert_int_equal(coord_store_command_append(s, "h1", 5, 0, cmd, 3), 0);
	/* hubs.cmd_seq is the transaction runner's to write, once (txn.c). */
	assert_int_equal(raw_int(&m, "SELECT cmd_seq FROM hubs WHERE id='h1'"), 0);
	assert_int_equal(coord_store_hub_cmd_seq_set(s, "h1", 5), 0);
	assert_int_equal(raw_int(&m, "SELECT cmd_seq FROM hubs WHERE id='h1'"), 5);
	assert_int_equal(raw_int(&m, "SELECT length(payload) FROM commands"
	    " WHERE hub='h1' AND seq=5"), 3);
	/* The same seq twice is a storage error, not a silent overwrite. */
	assert_int_equal(coord_store_command_append(s, "h1", 5, 0, cmd, 3), DN_EIO);

	coord_store_stock_row r = {.hub = "h1", .sku = "tee", .on_hand = 10,
	    .allocated = 3, .holdback = 2, .received = 11, .shipped = 1, .lost = 0,
	    .adjusted = 0, .returned = 0, .transfer_in = 0, .transfer_out = 0};
	assert_int_equal(coord_store_stock_upsert(s, &r), 0);
	r.allocated = 4;
	assert_int_equal(coord_store_stock_upsert(s, &r), 0);
	assert_int_equal(raw_int(&m, "SELECT count(*) * 1000 + on_hand * 100 + allocated * 10"
	    " + holdback FROM stock WHERE hub='h1' AND sku='tee'"), 1000 + 1042);

	assert_int_equal(coord_store_tier_sold_add(s, "d1", 0, 4), 0);
	assert_int_equal(coord_store_drop_counts_add(s, "d1", 1, 1), 0);
	assert_int_equal(raw_int(&m, "SELECT sold FROM drop_tiers WHERE drop_id='d1'"), 4);
	assert_int_equal(raw_int(&m, "SELECT accepted * 10 + gifts FROM drops"), 11);

	uint32_t bought = 99;
	assert_int_equal(coord_store_buyer_count_get(s, "d1", "ann", "tee", &bought), 0);
	assert_int_equal(bought, 0);
	assert_int_equal(coord_store_buyer_count_add(s, "d1", "ann", "tee", 2), 0);
	assert_int_equal(coord_store_buyer_count_add(s, "d1", "ann", "tee", 3), 0);
	assert_int_equal(coord_store_buyer_count_get(s, "d1", "ann", "tee", &bought), 0);
	assert_int_equal(bought, 5);

	bool known = true;
	assert_int_equal(coord_store_customer_known(s, "ann", &known), 0);
	assert_false(known);
	assert_int_equal(coord_store_customer_add(s, "ann", 12, "d1", true), 0);
	assert_int_equal(coord_store_customer_add(s, "ann", 13, "d2", false), 0);
	assert_int_equal(coord_store_customer_known(s, "ann", &known), 0);
	assert_true(known);
	assert_int_equal(raw_int(&m, "SELECT first_order_id * 10 + orders FROM customers"
	    " WHERE customer='ann' AND first_drop='d1' AND gifted=1"), 122);
	assert_int_equal(coord_store_commit(s), 0);
	mt_close(&m);
}

/* Goal: rollback discards the transaction's rows, commit keeps them. */
static void transactions(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	store *s = m.c->store;
	coord_store_order o;
	assert_int_equal(coord_store_begin(s), 0);
	insert_order(&m, "gone", 1, 0);
	coord_store_rollback(s);
	assert_int_equal(coord_store_order_find(s, "shop", "gone", &o), DN_ENOENT);
	assert_int_equal(coord_store_begin(s), 0);
	int64_t id = insert_order(&m, "kept", 1, 0);
	assert_int_equal(coord_store_commit(s), 0);
	assert_int_equal(coord_store_order_find(s, "shop", "kept", &o), 0);
	assert_int_equal(o.id, id);
	free(o.ack);
	/* A second begin inside an open transaction is refused. */
	assert_int_equal(coord_store_begin(s), 0);
	assert_int_not_equal(coord_store_begin(s), 0);
	coord_store_rollback(s);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(order_round_trip),
	    cmocka_unit_test(placement_round_trip),
	    cmocka_unit_test(counters_and_rows),
	    cmocka_unit_test(transactions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
