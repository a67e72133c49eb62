/*
 * test_walbuf.c - walbuf (common/io/walbuf.h) gathers a commit's WAL writes
 * into one, and changes nothing else: what a COMMIT returned is in the file
 * for any other connection, a failed gathered write fails the COMMIT and
 * leaves nothing of it, and commits larger than the underlying VFS writes
 * at once still land. On simvfs (tests/sim: its counters and faults) and on
 * the real default VFS.
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
#include "io/db.h"
#include "io/log.h"
#include "io/walbuf.h"
#include "simvfs.h"

#define VFS "simvfs-walbuf"
#define DB "/wb/store.db"
#define ROWS 300

static const char *schema =
    "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL);";

static void exec_ok(sqlite3 *db, const char *sql)
{
	assert_int_equal(db_exec(db, sql), 0);
}

/* Inserts rows [from, from + n) of len-byte blobs in one transaction;
 * returns the COMMIT's result (0 or DN_EIO). */
static int insert_rows(sqlite3 *db, int from, int n, int len)
{
	exec_ok(db, "BEGIN");
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES(?1, zeroblob(?2))",
	    -1, &st, NULL), SQLITE_OK);
	for (int i = from; i < from + n; i++) {
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_int(st, 2, len);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	int rv = db_exec(db, "COMMIT");
	if (rv != 0) {
		db_exec(db, "ROLLBACK");
	}
	return rv;
}

static int64_t count_rows(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		print_error("count: %s\n", sqlite3_errmsg(db));
	}
	assert_int_equal(rc, SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A second connection straight on simvfs (not through walbuf). */
static sqlite3 *open_plain(void)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(DB, &db, SQLITE_OPEN_READWRITE, VFS), SQLITE_OK);
	return db;
}

static size_t wal_bytes(const simvfs *v)
{
	const uint8_t *data = NULL;
	size_t len = 0;
	return simvfs_file_get(v, DB "-wal", &data, &len) == 0 ? len : 0;
}

static simvfs *sim_up(void)
{
	log_set_level(LOG_ERROR);
	simvfs *v = NULL;
	assert_int_equal(simvfs_create(VFS, 7, &v), 0);
	return v;
}

/* Goal: a commit of hundreds of WAL frames reaches the file as one write
 * (SQLite alone writes two per frame), and a connection that does not go
 * through walbuf reads every row as soon as the COMMIT returned. */
static void test_commit_is_one_write(void **state)
{
	(void)state;
	simvfs *v = sim_up();
	const char *wb = walbuf_vfs(VFS);
	assert_non_null(wb);
	sqlite3 *db = NULL;
	assert_int_equal(db_open_vfs(DB, schema, wb, &db), 0);
	exec_ok(db, "PRAGMA synchronous=NORMAL"); /* no xSync in the count */
	exec_ok(db, "PRAGMA wal_autocheckpoint=0");
	simvfs_stats a, b;
	simvfs_stats_get(v, &a);
	size_t before = wal_bytes(v);
	assert_int_equal(insert_rows(db, 0, ROWS, 200), 0);
	simvfs_stats_get(v, &b);
	/* One write, or one per WB_WRITE_MAX (64 KiB) of it. */
	size_t grew = wal_bytes(v) - before;
	assert_true(grew > 64u * 1024u); /* more than one chunk: both rules */
	assert_int_equal(b.writes - a.writes, (grew + 64u * 1024u - 1) / (64u * 1024u));
	sqlite3 *other = open_plain();
	assert_int_equal(count_rows(other), ROWS);
	sqlite3_close(other);
	/* The same through simvfs alone: a write per frame header and page. */
	db_close(db);
	assert_int_equal(db_open_vfs(DB, NULL, VFS, &db), 0);
	exec_ok(db, "PRAGMA synchronous=NORMAL");
	simvfs_stats_get(v, &a);
	assert_int_equal(insert_rows(db, ROWS, ROWS, 200), 0);
	simvfs_stats_get(v, &b);
	assert_true(b.writes - a.writes > 2 * 50);
	db_close(db);
	simvfs_destroy(v);
}

/* Goal: when the gathered write fails, the COMMIT fails (as when one of
 * SQLite's own writes failed), no reader ever sees a row of it, and the
 * next transaction commits and is read back whole. */
static void test_failed_write_fails_commit(void **state)
{
	(void)state;
	simvfs *v = sim_up();
	const char *wb = walbuf_vfs(VFS);
	sqlite3 *db = NULL;
	assert_int_equal(db_open_vfs(DB, schema, wb, &db), 0);
	assert_int_equal(insert_rows(db, 0, 10, 100), 0);
	const simvfs_faults all = {.write_error = 1.0};
	assert_int_equal(simvfs_faults_set(v, DB "-wal", &all), 0);
	simvfs_faults_enable(v, true);
	assert_int_equal(insert_rows(db, 10, ROWS, 200), DN_EIO);
	simvfs_faults_enable(v, false);
	sqlite3 *other = open_plain();
	assert_int_equal(count_rows(other), 10);
	assert_int_equal(count_rows(db), 10);
	assert_int_equal(insert_rows(db, 1000, ROWS, 200), 0);
	assert_int_equal(count_rows(other), 10 + ROWS);
	sqlite3_close(other);
	db_close(db);
	/* Reopened (recovery reads the WAL): the same rows. */
	assert_int_equal(db_open_vfs(DB, NULL, wb, &db), 0);
	assert_int_equal(count_rows(db), 10 + ROWS);
	db_close(db);
	simvfs_destroy(v);
}

/* Goal: commits larger than one underlying write (SQLite's unix VFS writes
 * at most 128 KiB a call, and a gathered commit is bigger than that), on
 * the real default VFS: every size commits and reads back. */
static void test_large_commits_default_vfs(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	char dir[] = "/tmp/dropnet-walbuf-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/store.db", dir);
	sqlite3 *db = NULL;
	assert_int_equal(db_open(path, schema, &db), 0); /* through walbuf */
	int id = 0, want = 0;
	/* 1 row of 100 B to 2,000 rows of 1 KiB (about 4 MiB of frames). */
	for (int n = 1; n <= 2000; n *= 3) {
		for (int len = 100; len <= 1000; len += 450) {
			assert_int_equal(insert_rows(db, id, n, len), 0);
			id += n;
			want += n;
		}
	}
	sqlite3 *other = NULL;
	assert_int_equal(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(count_rows(other), want);
	sqlite3_close(other);
	db_close(db);
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[80];
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_is_one_write),
	    cmocka_unit_test(test_failed_write_fails_commit),
	    cmocka_unit_test(test_large_commits_default_vfs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
