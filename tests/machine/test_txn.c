/*
 * test_txn.c - the transaction runner (coordinator/machine/txn.c) when the
 * commit fails: the real coordinator machine on a real SQLite store opened
 * through the fault-injecting VFS of the simulator (tests/sim/simvfs.h),
 * every fsync failing for the length of one batch.
 *
 * Goals, for an order batch, a hub sync batch (a new hub, a new stock row)
 * and an ops request (a drop create):
 *  - every request of the failed batch is answered UNAVAILABLE;
 *  - memory is put back by the undo log: ledger rows, the hub registry and
 *    stream positions and the drops equal the file, row by row;
 *  - nothing is read back from the file to get there: the ledger and the
 *    hub registry are never listed after open (this test is linked with
 *    -Wl,--wrap for both, and counts; the old runner rebuilt memory from
 *    the file with coord_reload, which lists both);
 *  - the same requests succeed once the disk is back, as if the failed
 *    batch had never run.
 */
#include "harness.h"
#include "simvfs.h"
#include "store.h"

#define VFS_NAME "txn-simvfs"

/* Calls of the store's full listings (coord_reload's reads). */
static unsigned stock_lists, hub_lists;

int __real_coord_store_stock_list(store *s, coord_store_stock_fn fn, void *arg);
int __wrap_coord_store_stock_list(store *s, coord_store_stock_fn fn, void *arg);
int __wrap_coord_store_stock_list(store *s, coord_store_stock_fn fn, void *arg)
{
	stock_lists++;
	return __real_coord_store_stock_list(s, fn, arg);
}

int __real_coord_store_hubs_list(store *s, size_t max, coord_store_hub_fn fn, void *arg);
int __wrap_coord_store_hubs_list(store *s, size_t max, coord_store_hub_fn fn, void *arg);
int __wrap_coord_store_hubs_list(store *s, size_t max, coord_store_hub_fn fn, void *arg)
{
	hub_lists++;
	return __real_coord_store_hubs_list(s, max, fn, arg);
}

static simvfs *vfs;

/* Every fsync fails (on) or none (off). */
static void disk_fails(bool on)
{
	simvfs_faults f = {0};
	f.sync_error = 1.0;
	assert_int_equal(simvfs_faults_set(vfs, "", &f), 0);
	simvfs_faults_enable(vfs, on);
}

static void open_machine(mt *m)
{
	assert_int_equal(simvfs_create(VFS_NAME, 8, &vfs), 0);
	mt_open_vfs(m, VFS_NAME);
}

static void close_machine(mt *m)
{
	mt_close(m);
	simvfs_destroy(vfs);
	vfs = NULL;
}

/* A batch of n orders of 1 sku each (keys k0, k1, ...); statuses in st. */
static void order_batch(mt *m, const char *sku, size_t n, Dropnet__Status *st)
{
	uint8_t *buf[4];
	size_t len[4];
	Dropnet__OrderAck *ack[4];
	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++) {
		char key[24];
		snprintf(key, sizeof(key), "k%zu", i);
		const mt_order_spec spec = {.key = key, .customer = key, .sku = sku, .qty = 1,
		    .lat = MT_LAT, .lon = MT_LON};
		assert_int_equal(mt_pack_order(&spec, &buf[i], &len[i]), 0);
	}
	mt_ingest(m, buf, len, n, ack);
	for (size_t i = 0; i < n; i++) {
		st[i] = ack[i]->status;
		/* The reply is the journalled ack with the row's id appended
		 * (ingest.c, ingest_reply_new): it reads back as that id. */
		if (st[i] == DROPNET__STATUS__ACCEPTED) {
			char key[24];
			snprintf(key, sizeof(key), "k%zu", i);
			assert_int_equal(ack[i]->order_id, mt_sql_int(m,
			    "SELECT id FROM orders WHERE order_key = ?1", key));
			assert_true(ack[i]->order_id > 0);
		}
		codec_order_ack_free(ack[i]);
		free(buf[i]);
	}
}

/* Memory equals the file: every ledger row, every hub, every drop. Reads
 * through the store without counting as the machine's reads. */
static void assert_memory_is_file(mt *m)
{
	coord *c = m->c;
	unsigned sl = stock_lists, hl = hub_lists;
	assert_int_equal(mt_sql_int(m, "SELECT count(*) FROM stock", NULL), (int64_t)c->stock_len);
	assert_int_equal(mt_sql_int(m, "SELECT count(*) FROM hubs", NULL), (int64_t)c->nhubs);
	assert_int_equal(mt_sql_int(m, "SELECT count(*) FROM drops", NULL), (int64_t)c->ndrops);
	for (size_t i = 0; i < c->stock_cap; i++) {
		const coord_stock *s = &c->stock[i];
		if (s->hub < 0) {
			continue;
		}
		char q[256];
		snprintf(q, sizeof(q), "SELECT on_hand * 1000000 + allocated * 1000 + holdback"
		    " FROM stock WHERE hub = '%s' AND sku = ?1", c->hubs[s->hub].id);
		assert_int_equal(mt_sql_int(m, q, s->sku), s->row.on_hand * 1000000 +
		    s->row.allocated * 1000 + s->row.holdback);
	}
	for (size_t i = 0; i < c->nhubs; i++) {
		const coord_hub *h = &c->hubs[i];
		assert_int_equal(mt_sql_int(m, "SELECT cmd_seq FROM hubs WHERE id = ?1", h->id),
		    (int64_t)h->cmd_seq);
		assert_int_equal(mt_sql_int(m, "SELECT event_applied FROM hubs WHERE id = ?1",
		    h->id), (int64_t)h->event_applied);
	}
	stock_lists = sl;
	hub_lists = hl;
}

static void test_failed_hub_sync_is_undone(void **state)
{
	(void)state;
	mt m;
	open_machine(&m);
	stock_lists = hub_lists = 0;
	/* A new hub and its first stock row, in a batch whose commit fails. */
	disk_fails(true);
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 5), DROPNET__STATUS__UNAVAILABLE);
	disk_fails(false);
	assert_int_equal(m.c->nhubs, 0);
	assert_int_equal(m.c->stock_len, 0);
	assert_memory_is_file(&m);
	static const char *const gone[] = {"london"};
	mt_assert_hub_find(m.c, gone, 1);
	/* Again, the disk back: as if the failed batch had never run. */
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 5), DROPNET__STATUS__OK);
	assert_int_equal(m.c->nhubs, 1);
	mt_assert_hub_find(m.c, NULL, 0);
	assert_int_equal(coord_hub_find(m.c, "london"), 0);
	coord_stock *s = coord_stock_get(m.c, 0, "TEE", false);
	assert_non_null(s);
	assert_int_equal(s->row.on_hand, 5);
	/* A known hub's next receipt fails: its row and position go back. */
	disk_fails(true);
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 3), DROPNET__STATUS__UNAVAILABLE);
	disk_fails(false);
	s = coord_stock_get(m.c, 0, "TEE", false);
	assert_int_equal(s->row.on_hand, 5);
	assert_int_equal(s->received, 5);
	assert_int_equal(m.c->hubs[0].event_applied, 1);
	assert_memory_is_file(&m);
	assert_int_equal(stock_lists, 0);
	assert_int_equal(hub_lists, 0);
	assert_true(m.c->commit_failures >= 2);
	close_machine(&m);
}

static void test_failed_order_batch_is_undone(void **state)
{
	(void)state;
	mt m;
	open_machine(&m);
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 10), DROPNET__STATUS__OK);
	uint64_t cmd_seq = m.c->hubs[0].cmd_seq;
	stock_lists = hub_lists = 0;
	Dropnet__Status st[3];
	disk_fails(true);
	order_batch(&m, "TEE", 3, st);
	disk_fails(false);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(st[i], DROPNET__STATUS__UNAVAILABLE);
	}
	coord_stock *s = coord_stock_get(m.c, 0, "TEE", false);
	assert_int_equal(s->row.allocated, 0);
	assert_int_equal(m.c->hubs[0].cmd_seq, cmd_seq);
	assert_false(m.c->hubs[0].cmd_seq_dirty);
	assert_memory_is_file(&m);
	assert_int_equal(stock_lists, 0);
	assert_int_equal(hub_lists, 0);
	/* The retries (same keys) are new orders: nothing of them landed. */
	order_batch(&m, "TEE", 3, st);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(st[i], DROPNET__STATUS__ACCEPTED);
	}
	s = coord_stock_get(m.c, 0, "TEE", false);
	assert_int_equal(s->row.allocated, 3);
	assert_int_equal(m.c->hubs[0].cmd_seq, cmd_seq + 3);
	/* hubs.cmd_seq was written once, before the commit (txn.c): no mark
	 * outlives its transaction, committed or not. */
	assert_false(m.c->hubs[0].cmd_seq_dirty);
	assert_memory_is_file(&m);
	close_machine(&m);
}

static void test_failed_drop_create_is_undone(void **state)
{
	(void)state;
	mt m;
	open_machine(&m);
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 10), DROPNET__STATUS__OK);
	stock_lists = hub_lists = 0;
	char msg[160];
	disk_fails(true);
	assert_int_equal(mt_drop_create(&m, "d1", "one", "TEE", 10, 20, MT_WALL0 + 60000,
	    MT_WALL0 + 3600000, false, msg, sizeof(msg)), DROPNET__STATUS__UNAVAILABLE);
	disk_fails(false);
	assert_int_equal(m.c->ndrops, 0);
	coord_stock *s = coord_stock_get(m.c, 0, "TEE", false);
	assert_int_equal(s->row.holdback, 0);
	assert_memory_is_file(&m);
	assert_int_equal(stock_lists, 0);
	assert_int_equal(hub_lists, 0);
	assert_int_equal(mt_drop_create(&m, "d1", "one", "TEE", 10, 20, MT_WALL0 + 60000,
	    MT_WALL0 + 3600000, false, msg, sizeof(msg)), DROPNET__STATUS__OK);
	assert_int_equal(m.c->ndrops, 1);
	s = coord_stock_get(m.c, 0, "TEE", false);
	assert_int_equal(s->row.holdback, 2);
	assert_memory_is_file(&m);
	close_machine(&m);
}

/* Goal: an experiment outcome counted for /metrics by an order whose
 * batch then fails to commit is not counted (the order is answered
 * UNAVAILABLE); its retry counts once. */
static void test_failed_outcome_not_counted(void **state)
{
	(void)state;
	mt m;
	open_machine(&m);
	assert_int_equal(mt_hub_sync_status(&m, "TEE", 10), DROPNET__STATUS__OK);
	mt_drop_priced(&m, "pd", "TEE", 10, 6000);
	assert_int_equal(mt_experiment_create(&m, "x1", "pd", "TEE", 5000, 7000),
	    DROPNET__STATUS__OK);
	disk_fails(true);
	Dropnet__OrderAck *a = mt_order(&m, "o1", "c1", "pd", "pub", "TEE", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	disk_fails(false);
	assert_int_equal(a->status, DROPNET__STATUS__UNAVAILABLE);
	codec_order_ack_free(a);
	const coord_metrics *mc = &m.c->metrics;
	assert_int_equal(mc->narms, 1);
	assert_int_equal(mc->arms[0].outcomes, 0);
	assert_int_equal(mc->arms[0].outcomes_txn, 0);
	assert_false(mc->arms_txn);
	a = mt_order(&m, "o1", "c1", "pd", "pub", "TEE", 1, 0,
	    DROPNET__ORDER_ACTION__ACTION_SUBMIT);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	assert_string_equal(a->prices[0]->arm, mc->arms[0].arm);
	codec_order_ack_free(a);
	assert_int_equal(mc->arms[0].outcomes, 1);
	assert_string_equal(mc->arms[0].experiment, "x1");
	close_machine(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_hub_sync_is_undone),
		cmocka_unit_test(test_failed_order_batch_is_undone),
		cmocka_unit_test(test_failed_drop_create_is_undone),
		cmocka_unit_test(test_failed_outcome_not_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
