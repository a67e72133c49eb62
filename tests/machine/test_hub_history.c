/*
 * test_hub_history.c - what a terminal asks often costs the same whatever
 * the hub shipped before: the hub keeps every order it ever shipped in
 * hub.db, and a status poll (every terminal, every 500 ms) or a count that
 * read all of them grew slower with the hub's history until the loop could
 * not keep up (a scan of 300,000 orders: ~100 ms of CPU per poll).
 *
 * Goal, on the hub machine with a real hub.db holding 300,000 shipped
 * orders and a few open ones in every state:
 *  - TERM_STATUS answers the right counts (queued, in progress, packed,
 *    packed today), and TERM_COUNT takes the tote's units into account
 *    as before;
 *  - each takes under 10 ms of this thread's CPU (CLOCK_THREAD_CPUTIME_ID:
 *    other processes on the machine do not count), where reading the
 *    history took ~10 times that.
 */
#include <time.h>
#include "harness.h"

#define HISTORY 300000
#define DAY_MS 86400000LL

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fail_msg("sql: %s", err);
	}
	sqlite3_close(db);
}

/* The hub's history and its open orders, written straight into hub.db:
 * HISTORY orders shipped (and packed) yesterday, one line of 'tee' each;
 * open: 1 queued, 2 queued and claimed, 3 picking, 4 picked, 5 packed
 * today, plus 6 shipped today; 'tee' picked into totes: 3 + 4 + 5. */
static void history_fill(const char *path, int64_t now)
{
	char sql[2048];
	snprintf(sql, sizeof(sql),
	    "BEGIN;"
	    "WITH RECURSIVE k(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM k"
	    " WHERE i < %d + 99)"
	    " INSERT INTO orders(order_id, order_key, customer, state, received_ms,"
	    " packed_ms, shipped_ms) SELECT i, 'h' || i, 'c', 'shipped', %lld, %lld,"
	    " %lld FROM k;"
	    "INSERT INTO order_lines(order_id, line, sku, qty, picked)"
	    " SELECT order_id, 0, 'tee', 1, 1 FROM orders;"
	    "INSERT INTO orders(order_id, order_key, customer, state, received_ms,"
	    " claimed_by, packed_ms) VALUES"
	    " (1, 'o1', 'c', 'queued', %lld, '', NULL),"
	    " (2, 'o2', 'c', 'queued', %lld, 'ann', NULL),"
	    " (3, 'o3', 'c', 'picking', %lld, 'ann', NULL),"
	    " (4, 'o4', 'c', 'picked', %lld, 'bob', NULL),"
	    " (5, 'o5', 'c', 'packed', %lld, 'bob', %lld),"
	    " (6, 'o6', 'c', 'shipped', %lld, 'bob', %lld);"
	    "INSERT INTO order_lines(order_id, line, sku, qty, picked) VALUES"
	    " (1, 0, 'tee', 2, 0), (2, 0, 'tee', 2, 0), (3, 0, 'tee', 5, 3),"
	    " (4, 0, 'tee', 4, 4), (5, 0, 'tee', 5, 5), (6, 0, 'tee', 6, 6);"
	    "INSERT INTO stock(sku, on_hand) VALUES ('tee', 40);"
	    "INSERT INTO bins(bin, sku, qty) VALUES ('MAIN', 'tee', 40);"
	    "UPDATE meta SET value = 7 WHERE key = 'coordinator';"
	    "COMMIT;",
	    HISTORY, (long long)(now - DAY_MS), (long long)(now - DAY_MS),
	    (long long)(now - DAY_MS), (long long)now, (long long)now, (long long)now,
	    (long long)now, (long long)now, (long long)now, (long long)now, (long long)now);
	raw_exec(path, sql);
}

/* term() (harness.h), and the CPU it took in *ms. */
static Dropnet__TermReply *timed_term(net *n, Dropnet__TermRequest *q, double *ms)
{
	double t0 = cpu_ms();
	Dropnet__TermReply *rep = term(n, q);
	*ms = cpu_ms() - t0;
	return rep;
}

static void test_status_and_count_with_history(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	net n;
	net_up_named(&n, "history");
	hub_store_close(n.h.store);
	history_fill(n.hub_db, n.wall);
	hub_up(&n);

	double worst = 0, ms = 0;
	for (int i = 0; i < 5; i++) {
		Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
		q.kind = DROPNET__TERM_KIND__TERM_STATUS;
		Dropnet__TermReply *rep = timed_term(&n, &q, &ms);
		assert_int_equal(rep->status, DROPNET__STATUS__OK);
		assert_int_equal(rep->queued, 1);
		assert_int_equal(rep->in_progress, 3); /* claimed, picking, picked */
		assert_int_equal(rep->packed, 1);
		assert_int_equal(rep->packed_today, 2); /* packed, shipped today */
		codec_term_reply_free(rep);
		worst = ms > worst ? ms : worst;
	}
	print_message("status: worst %.2f ms of CPU with %d orders shipped\n", worst,
	    HISTORY);
	assert_true(worst < 10.0);

	/* 28 counted on the shelf; 12 sit in totes (3 + 4 + 5): the book of
	 * 40 was right, no event. Then 27: one lost. */
	worst = 0;
	for (int i = 0; i < 2; i++) {
		Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
		q.kind = DROPNET__TERM_KIND__TERM_COUNT;
		q.bin = "MAIN";
		q.sku = "tee";
		q.qty = 28 - i;
		Dropnet__TermReply *rep = timed_term(&n, &q, &ms);
		assert_int_equal(rep->status, DROPNET__STATUS__OK);
		codec_term_reply_free(rep);
		worst = ms > worst ? ms : worst;
	}
	hub_stream sp;
	assert_int_equal(hub_store_stream_get(n.h.store, &sp), 0);
	assert_int_equal(sp.event_seq, 1);
	assert_int_equal(hub_on_hand(&n, "tee"), 39);
	print_message("count: worst %.2f ms of CPU\n", worst);
	assert_true(worst < 10.0);
	net_down(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_and_count_with_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
