/*
 * test_hub_key_clock.c - hubd's terminal request keys are kept 24 h of
 * monotonic time (issue 8: "hub request keys expire by wall clock"; rule in
 * proto/SEMANTICS.md "Time").
 *
 * Goal, on the hub machine with a real hub.db in a temp folder:
 *  - a wall-clock step forward of 25 h does not forget a key: the retry is
 *    replayed, the receipt is not booked twice;
 *  - 25 h of monotonic time do forget it (keys are bounded);
 *  - after a restart (a new process: monotonic count from near 0) a key is
 *    still known and a retry replayed.
 * And a receipt the coordinator would refuse (one SKU past DN_HUB_SKUS_MAX
 * at this hub) is refused at the terminal, not booked (test_receive_skus_full).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/log.h"
#include "hub.h"

#define WALL0 1800000000000LL
#define H25_MS (25LL * 3600 * 1000)

typedef struct {
	hub h;
	char dir[64];
	char path[128];
} ht;

static void ht_start(ht *t, uint64_t mono, int64_t wall)
{
	memset(&t->h, 0, sizeof(t->h));
	const char *sets[] = {"hub.id=london", "hub.lat=51.5", "hub.lon=-0.12"};
	char err[200];
	assert_int_equal(hub_conf_load(&t->h.cfg, NULL, sets, 3, err, sizeof(err)), 0);
	assert_int_equal(hub_store_open(&t->h.store, t->path), 0);
	t->h.now_mono_ms = mono;
	t->h.now_ms = wall;
}

static void ht_open(ht *t)
{
	log_set_level(LOG_WARN);
	snprintf(t->dir, sizeof(t->dir), "/tmp/dropnet-hk-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/hub.db", t->dir);
	ht_start(t, 1000, WALL0);
}

static void ht_close(ht *t, bool remove)
{
	hub_store_close(t->h.store);
	t->h.store = NULL;
	if (!remove) {
		return;
	}
	const char *sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < 4; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

/* TERM_RECEIVE of qty sku with request_key key; returns the status. */
static Dropnet__Status receive_sku(ht *t, const char *sku, const char *key, int64_t qty)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	q.sku = (char *)sku;
	q.qty = qty;
	q.bin = "MAIN";
	q.request_key = (char *)key;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_term_request_pack(&q, &buf, &len), 0);
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	hub_term_batch(&t->h, &rp, 1);
	assert_true(r.replied);
	Dropnet__TermReply *rep = NULL;
	assert_int_equal(codec_term_reply_unpack(r.reply, r.reply_len, &rep), 0);
	Dropnet__Status st = rep->status;
	codec_term_reply_free(rep);
	mreq_fini(&r);
	free(buf);
	return st;
}

static Dropnet__Status receive(ht *t, const char *key, int64_t qty)
{
	return receive_sku(t, "k-tee", key, qty);
}

static int64_t on_hand(ht *t)
{
	int64_t v = -1;
	assert_int_equal(hub_store_stock_get(t->h.store, "k-tee", &v), 0);
	return v;
}

static void test_keys_survive_wall_step(void **state)
{
	(void)state;
	ht t;
	ht_open(&t);
	assert_int_equal(receive(&t, "rk-1", 5), DROPNET__STATUS__OK);
	assert_int_equal(on_hand(&t), 5);
	/* The wall clock jumps 25 h ahead; one second really passes. */
	t.h.now_mono_ms += 1000;
	t.h.now_ms += H25_MS;
	assert_int_equal(receive(&t, "rk-2", 1), DROPNET__STATUS__OK); /* trims */
	assert_int_equal(receive(&t, "rk-1", 5), DROPNET__STATUS__OK);
	assert_int_equal(on_hand(&t), 6);
	/* 25 h really pass: the key is forgotten, as documented. */
	t.h.now_mono_ms += H25_MS;
	t.h.now_ms += H25_MS;
	assert_int_equal(receive(&t, "rk-3", 1), DROPNET__STATUS__OK); /* trims */
	assert_int_equal(receive(&t, "rk-1", 5), DROPNET__STATUS__OK);
	assert_int_equal(on_hand(&t), 12);
	/* A restart: a new process counts monotonic time from near 0, and the
	 * wall clock is stepped back a day on top. The key is still known. */
	ht_close(&t, false);
	ht_start(&t, 3, t.h.now_ms - 24 * 3600 * 1000LL);
	assert_int_equal(receive(&t, "rk-3", 1), DROPNET__STATUS__OK);
	assert_int_equal(on_hand(&t), 12);
	t.h.now_mono_ms += 1000;
	assert_int_equal(receive(&t, "rk-4", 1), DROPNET__STATUS__OK); /* trims */
	assert_int_equal(receive(&t, "rk-3", 1), DROPNET__STATUS__OK);
	assert_int_equal(on_hand(&t), 13);
	ht_close(&t, true);
}

/* Goal: a hub holding DN_HUB_SKUS_MAX SKUs refuses a receipt of one more
 * (INVALID, nothing booked, no event), as the coordinator would refuse its
 * event: taken, the units would sit on the hub's book and never on the
 * network's. A SKU it holds is still received. */
static void test_receive_skus_full(void **state)
{
	(void)state;
	ht t;
	ht_open(&t);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
	char sql[200];
	snprintf(sql, sizeof(sql), "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1"
	    " FROM k WHERE i < %u) INSERT INTO stock(sku, on_hand) SELECT 'sku-' || i, 1"
	    " FROM k", (unsigned)DN_HUB_SKUS_MAX);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(receive_sku(&t, "sku-new", "r1", 5), DROPNET__STATUS__INVALID);
	int64_t v = -1;
	assert_int_equal(hub_store_stock_get(t.h.store, "sku-new", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(receive_sku(&t, "sku-7", "r2", 5), DROPNET__STATUS__OK);
	assert_int_equal(hub_store_stock_get(t.h.store, "sku-7", &v), 0);
	assert_int_equal(v, 6);
	ht_close(&t, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_survive_wall_step),
	    cmocka_unit_test(test_receive_skus_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
