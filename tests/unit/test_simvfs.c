/*
 * test_simvfs.c - unit tests for tests/sim/simvfs.c, the simulator's
 * in-memory fault-injecting SQLite VFS, driven through db_open_vfs exactly
 * as the daemons' stores open their databases (WAL, synchronous=FULL).
 *
 * The property that matters to the simulator: whatever the faults and
 * crashes, SQLite on this VFS reports errors and never corrupts - after any
 * crash and reopen, integrity_check is ok, every transaction whose COMMIT
 * returned OK is there, none that was rolled back or cut short by a crash
 * is, and each transaction is all there or not at all. And the same seed
 * gives the same bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "simvfs.h"

#define VFS "simvfs"
#define DB_A "/node-a/store.db"
#define DB_B "/node-b/store.db"

/* t holds one row per transaction (id = its number, v = a blob derived
 * from id); total sums the ids and counts the rows in the same
 * transaction, so a half-applied transaction shows as a mismatch. */
static const char *schema =
    "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS total(k INTEGER PRIMARY KEY CHECK (k = 0),"
    " sum INTEGER NOT NULL, n INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO total VALUES (0, 0, 0);";

/* Longest row blob: a few rows fill a page, some span pages. */
#define BLOB_MAX 6000
/* Reopen attempts after a crash while faults stay on. */
#define REOPEN_TRIES 200

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
	*s = mix(*s);
	return (uint32_t)(*s % n);
}

static size_t blob_len(int64_t id)
{
	return (size_t)(mix((uint64_t)id) % BLOB_MAX) + 1;
}

static void blob_fill(int64_t id, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		b[i] = (uint8_t)(mix((uint64_t)id * 7919u + i / 8) >> (8 * (i % 8)));
	}
}

static sqlite3 *open_ok(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(db_open_vfs(path, schema, VFS, &db), 0);
	assert_non_null(db);
	return db;
}

static int64_t query_i64(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void assert_integrity(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* One transaction: row id and its share of total. Returns the first
 * failing step's DN code, leaving the transaction open on failure. */
static int tx_body(sqlite3 *db, int64_t id)
{
	static uint8_t blob[BLOB_MAX];
	size_t n = blob_len(id);
	blob_fill(id, blob, n);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES (?1, ?2)", -1, &st,
		NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, blob, (int)n, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return DN_EIO;
	}
	if (sqlite3_prepare_v2(db, "UPDATE total SET sum = sum + ?1, n = n + 1", -1, &st,
		NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

static void commit_ok(sqlite3 *db, int64_t id)
{
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(tx_body(db, id), 0);
	assert_int_equal(db_commit(db), 0);
}

/* What the test knows of transaction id. */
enum { TX_ABSENT = 0, TX_ACKED = 1, TX_UNKNOWN = 2 };

/* Checks db against the expected fate of each transaction 1..n: integrity,
 * acked present, absent absent, blobs intact, total consistent. Returns the
 * number of rows. */
static int64_t verify(sqlite3 *db, const uint8_t *fate, int64_t n)
{
	static uint8_t want[BLOB_MAX];
	assert_integrity(db);
	uint8_t *seen = calloc((size_t)n + 1, 1);
	assert_non_null(seen);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, v FROM t", -1, &st, NULL),
	    SQLITE_OK);
	int64_t rows = 0, sum = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		assert_true(id >= 1 && id <= n);
		assert_int_not_equal(fate[id], TX_ABSENT);
		size_t len = blob_len(id);
		blob_fill(id, want, len);
		assert_int_equal(sqlite3_column_bytes(st, 1), (int)len);
		assert_memory_equal(sqlite3_column_blob(st, 1), want, len);
		seen[id] = 1;
		rows++;
		sum += id;
	}
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(st);
	for (int64_t id = 1; id <= n; id++) {
		if (fate[id] == TX_ACKED && !seen[id]) {
			fail_msg("acked transaction %lld lost", (long long)id);
		}
	}
	free(seen);
	assert_int_equal(query_i64(db, "SELECT sum FROM total"), sum);
	assert_int_equal(query_i64(db, "SELECT n FROM total"), rows);
	return rows;
}

static simvfs *vfs_new(uint64_t seed)
{
	simvfs *v = NULL;
	/* A test that failed half-way left its VFS registered; drop it (and
	 * leak it) so the next test still runs. */
	sqlite3_vfs *stale = sqlite3_vfs_find(VFS);
	if (stale != NULL) {
		sqlite3_vfs_unregister(stale);
	}
	assert_int_equal(simvfs_create(VFS, seed, &v), 0);
	return v;
}

/* Goal: a WAL database opened through db_open_vfs works on the simvfs:
 * create, insert, commit, close, reopen, read back; it is in WAL mode and
 * the bytes live in the VFS, not on the real disk. */
static void test_simvfs_roundtrip(void **state)
{
	(void)state;
	simvfs *v = vfs_new(1);
	sqlite3 *db = open_ok(DB_A);
	assert_string_equal(sqlite3_db_filename(db, "main"), DB_A);
	for (int64_t id = 1; id <= 50; id++) {
		commit_ok(db, id);
	}
	const uint8_t *bytes = NULL;
	size_t len = 0;
	assert_int_equal(simvfs_file_get(v, DB_A "-wal", &bytes, &len), 0);
	assert_true(len > 0);
	db_close(db);
	/* The last close checkpoints and deletes the WAL. */
	assert_int_equal(simvfs_file_get(v, DB_A "-wal", &bytes, &len), DN_ENOENT);
	assert_int_equal(simvfs_file_get(v, DB_A, &bytes, &len), 0);
	assert_memory_equal(bytes, "SQLite format 3", 16);

	db = open_ok(DB_A);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	uint8_t fate[51];
	memset(fate, TX_ACKED, sizeof(fate));
	assert_int_equal(verify(db, fate, 50), 50);
	db_close(db);
	simvfs_destroy(v);
}

/* Goal: two connections on one file in the process behave as across
 * processes in WAL mode: a reader keeps its snapshot while the writer
 * commits, sees the commit in its next transaction, and a second writer
 * gets SQLITE_BUSY while the first holds the write lock. */
static void test_simvfs_two_connections(void **state)
{
	(void)state;
	simvfs *v = vfs_new(2);
	sqlite3 *w = open_ok(DB_A);
	sqlite3 *r = open_ok(DB_A);
	sqlite3_busy_timeout(w, 0);
	sqlite3_busy_timeout(r, 0);
	commit_ok(w, 1);
	assert_int_equal(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 1);
	commit_ok(w, 2);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 1);
	assert_int_equal(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 2);

	assert_int_equal(db_begin(w), 0);
	assert_int_equal(sqlite3_exec(r, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_BUSY);
	assert_int_equal(tx_body(w, 3), 0);
	assert_int_equal(db_commit(w), 0);
	assert_int_equal(sqlite3_exec(r, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(tx_body(r, 4), 0);
	assert_int_equal(db_commit(r), 0);
	assert_int_equal(query_i64(w, "SELECT count(*) FROM t"), 4);
	/* A checkpoint with a reader open, then the reader sees it all. */
	assert_int_equal(sqlite3_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL,
			     NULL),
	    SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT sum FROM total"), 10);
	/* A reader's snapshot stops a checkpoint from overwriting pages it
	 * has yet to read (its shm read lock against the checkpointer's
	 * exclusive one): r reads total, w commits and checkpoints, r then
	 * reads t for the first time and must still see its snapshot. */
	assert_int_equal(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT n FROM total"), 4);
	commit_ok(w, 5);
	assert_int_equal(sqlite3_exec(w, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL,
			     NULL),
	    SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 4);
	assert_int_equal(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 5);
	db_close(r);
	db_close(w);
	simvfs_destroy(v);
}

/* Opens path on the simvfs in rollback-journal mode (DELETE), which uses
 * the file lock levels that WAL mode does not. */
static sqlite3 *open_journal(const char *path)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE, VFS),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 0);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=DELETE;"
					  "PRAGMA synchronous=FULL;", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	return db;
}

/* Goal: the file lock levels hold across two connections in rollback mode:
 * readers share; one RESERVED writer; its commit waits (PENDING) for a
 * reader to leave, and PENDING keeps new readers out meanwhile. */
static void test_simvfs_lock_levels(void **state)
{
	(void)state;
	simvfs *v = vfs_new(9);
	sqlite3 *w = open_journal(DB_A);
	sqlite3 *r = open_journal(DB_A);
	assert_int_equal(sqlite3_exec(r, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 0); /* SHARED */
	assert_int_equal(db_begin(w), 0); /* RESERVED beside a reader */
	assert_int_equal(sqlite3_exec(r, "INSERT INTO t VALUES (9, x'00')", NULL,
			     NULL, NULL),
	    SQLITE_BUSY); /* a second writer */
	assert_int_equal(tx_body(w, 1), 0);
	assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_BUSY);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 0);
	assert_int_equal(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	/* w holds PENDING: a new reader is refused. */
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(r, "SELECT count(*) FROM t", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_BUSY);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(query_i64(r, "SELECT count(*) FROM t"), 1);
	sqlite3_close(r);
	sqlite3_close(w);
	simvfs_destroy(v);
}

/* Goal: rollback-journal mode recovers too: a big transaction that wrote
 * into the database file before its commit is rolled back from the hot
 * journal after a crash, whatever of the unsynced writes landed. */
static void test_simvfs_journal_crash(void **state)
{
	(void)state;
	simvfs *v = vfs_new(10);
	for (int policy = 0; policy < 3; policy++) {
		simvfs_crash_policy p = { .sector_survives = policy * 0.5,
			.new_file_survives = policy * 0.5 };
		assert_int_equal(simvfs_crash_policy_set(v, &p), 0);
		sqlite3 *db = open_journal(DB_A);
		assert_int_equal(db_exec(db, "PRAGMA cache_size=8"), 0);
		int64_t base = policy * 1000;
		commit_ok(db, base + 1);
		assert_int_equal(db_begin(db), 0);
		for (int64_t id = base + 2; id <= base + 300; id++) {
			assert_int_equal(tx_body(db, id), 0);
		}
		const uint8_t *bytes;
		size_t len;
		assert_int_equal(simvfs_file_get(v, DB_A "-journal", &bytes, &len), 0);
		simvfs_crash(v, "/node-a/");
		sqlite3_close_v2(db);
		db = open_journal(DB_A);
		uint8_t fate[3001] = { 0 };
		for (int k = 0; k <= policy; k++) {
			fate[k * 1000 + 1] = TX_ACKED;
		}
		assert_int_equal(verify(db, fate, 3000), policy + 1);
		sqlite3_close(db);
	}
	simvfs_destroy(v);
}

/* Raw VFS calls, below SQLite, to pin the storage model itself. */
typedef struct raw_file {
	sqlite3_vfs *vfs;
	sqlite3_file *f;
} raw_file;

static raw_file raw_open(const char *path)
{
	raw_file r = { .vfs = sqlite3_vfs_find(VFS) };
	assert_non_null(r.vfs);
	r.f = calloc(1, (size_t)r.vfs->szOsFile);
	assert_non_null(r.f);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB;
	assert_int_equal(r.vfs->xOpen(r.vfs, path, r.f, flags, &flags), SQLITE_OK);
	return r;
}

static void raw_close(raw_file *r)
{
	assert_int_equal(r->f->pMethods->xClose(r->f), SQLITE_OK);
	free(r->f);
}

static void raw_write(raw_file *r, char c, size_t n, int64_t off)
{
	static char buf[3 * SIMVFS_SECTOR_BYTES];
	assert_true(n <= sizeof(buf));
	memset(buf, c, n);
	assert_int_equal(r->f->pMethods->xWrite(r->f, buf, (int)n, off), SQLITE_OK);
}

static size_t file_len(simvfs *v, const char *path)
{
	const uint8_t *bytes;
	size_t len;
	return simvfs_file_get(v, path, &bytes, &len) == 0 ? len : (size_t)-1;
}

/* Goal: the model as specified in simvfs.h: a crash keeps synced bytes,
 * drops or keeps unsynced ones per policy (whole sectors, so a write over
 * three sectors can come back partly), makes a never-synced file vanish
 * per policy, and makes an open handle dead (its I/O fails, its close is
 * harmless); short reads zero-fill. */
static void test_simvfs_model(void **state)
{
	(void)state;
	simvfs *v = vfs_new(11);
	simvfs_crash_policy keep_none = { 0.0, 0.0 }, keep_all = { 1.0, 1.0 };

	raw_file r = raw_open("/m/a");
	raw_write(&r, 'A', 100, 0);
	assert_int_equal(r.f->pMethods->xSync(r.f, SQLITE_SYNC_FULL), SQLITE_OK);
	raw_write(&r, 'B', 50, 0);
	raw_write(&r, 'C', 3 * SIMVFS_SECTOR_BYTES, 100);
	raw_close(&r);
	assert_int_equal(simvfs_crash_policy_set(v, &keep_none), 0);
	simvfs_crash(v, "/m/");
	const uint8_t *bytes;
	size_t len;
	assert_int_equal(simvfs_file_get(v, "/m/a", &bytes, &len), 0);
	assert_int_equal(len, 100);
	assert_int_equal(bytes[0], 'A');
	assert_int_equal(bytes[99], 'A');

	/* Half the sectors: over many crashes some writes come back torn. */
	simvfs_crash_policy half = { 0.5, 0.5 };
	assert_int_equal(simvfs_crash_policy_set(v, &half), 0);
	bool torn = false;
	for (int i = 0; i < 20 && !torn; i++) {
		r = raw_open("/m/a");
		raw_write(&r, 'D', 3 * SIMVFS_SECTOR_BYTES, 0);
		raw_close(&r);
		simvfs_crash(v, "/m/");
		assert_int_equal(simvfs_file_get(v, "/m/a", &bytes, &len), 0);
		size_t d = 0;
		for (size_t k = 0; k < len; k++) {
			d += bytes[k] == 'D';
		}
		torn = d != 0 && d != 3 * SIMVFS_SECTOR_BYTES;
		if (torn) {
			assert_int_equal(d % SIMVFS_SECTOR_BYTES, 0);
		}
	}
	assert_true(torn);

	/* Never synced: gone, or kept with its unsynced bytes. */
	r = raw_open("/m/new");
	raw_write(&r, 'N', 10, 0);
	raw_close(&r);
	assert_int_equal(simvfs_crash_policy_set(v, &keep_all), 0);
	simvfs_crash(v, "/m/new");
	assert_int_equal(file_len(v, "/m/new"), 10);
	assert_int_equal(simvfs_crash_policy_set(v, &keep_none), 0);
	r = raw_open("/m/new2");
	raw_write(&r, 'N', 10, 0);
	raw_close(&r);
	simvfs_crash(v, "/m/new2");
	assert_int_equal(file_len(v, "/m/new2"), (size_t)-1);

	/* A handle open at the crash is dead. */
	r = raw_open("/m/a");
	simvfs_crash(v, "/m/");
	char buf[8] = { 1 };
	assert_int_equal(r.f->pMethods->xRead(r.f, buf, 8, 0), SQLITE_IOERR_READ);
	assert_int_equal(r.f->pMethods->xWrite(r.f, buf, 8, 0), SQLITE_IOERR_WRITE);
	assert_int_equal(r.f->pMethods->xSync(r.f, 0), SQLITE_IOERR_FSYNC);
	assert_int_equal(r.vfs->xDelete(r.vfs, "/m/a", 0), SQLITE_IOERR_DELETE);
	raw_close(&r);
	/* Short read past the end: zero-filled. */
	r = raw_open("/m/a");
	memset(buf, 1, sizeof(buf));
	assert_int_equal(r.f->pMethods->xRead(r.f, buf, 8, (int64_t)len - 4),
	    SQLITE_IOERR_SHORT_READ);
	assert_int_equal(buf[4], 0);
	assert_int_equal(buf[7], 0);
	raw_close(&r);
	assert_int_equal(r.vfs->xDelete(r.vfs, "/m/a", 0), SQLITE_OK);
	assert_int_equal(file_len(v, "/m/a"), (size_t)-1);
	simvfs_stats s;
	simvfs_stats_get(v, &s);
	assert_int_equal(s.files_vanished, 1);
	assert_int_equal(s.handles_killed, 1);
	simvfs_destroy(v);
}

/* Goal: a pending write that a later pending write overwrites, or a later
 * truncate cuts, can still come back at a crash on its own (simvfs keeps
 * its bytes aside then, sv_op): over many crashes a sector is seen as the
 * durable 'A', the first write 'X' and the second 'Y', never anything else;
 * and a cut-off write 'Z' comes back whole when the truncate is lost. */
static void test_simvfs_overwritten_pending(void **state)
{
	(void)state;
	simvfs *v = vfs_new(12);
	simvfs_crash_policy half = { 0.5, 1.0 };
	assert_int_equal(simvfs_crash_policy_set(v, &half), 0);
	raw_file r = raw_open("/o/a");
	raw_write(&r, 'A', SIMVFS_SECTOR_BYTES, 0);
	assert_int_equal(r.f->pMethods->xSync(r.f, SQLITE_SYNC_FULL), SQLITE_OK);
	raw_close(&r);
	bool seen_a = false, seen_x = false, seen_y = false, seen_z = false;
	for (int i = 0; i < 64 && !(seen_a && seen_x && seen_y && seen_z); i++) {
		r = raw_open("/o/a");
		raw_write(&r, 'X', SIMVFS_SECTOR_BYTES, 0);
		raw_write(&r, 'Z', SIMVFS_SECTOR_BYTES, SIMVFS_SECTOR_BYTES);
		raw_write(&r, 'Y', SIMVFS_SECTOR_BYTES, 0);
		assert_int_equal(r.f->pMethods->xTruncate(r.f, SIMVFS_SECTOR_BYTES), SQLITE_OK);
		raw_close(&r);
		simvfs_crash(v, "/o/");
		const uint8_t *bytes;
		size_t len;
		assert_int_equal(simvfs_file_get(v, "/o/a", &bytes, &len), 0);
		assert_true(len == SIMVFS_SECTOR_BYTES || len == 2 * SIMVFS_SECTOR_BYTES);
		for (size_t k = 1; k < SIMVFS_SECTOR_BYTES; k++) {
			assert_int_equal(bytes[k], bytes[0]);
		}
		assert_true(bytes[0] == 'A' || bytes[0] == 'X' || bytes[0] == 'Y');
		seen_a = seen_a || bytes[0] == 'A';
		seen_x = seen_x || bytes[0] == 'X';
		seen_y = seen_y || bytes[0] == 'Y';
		if (len == 2 * SIMVFS_SECTOR_BYTES) {
			uint8_t c = bytes[SIMVFS_SECTOR_BYTES];
			assert_true(c == 'Z' || c == 0);
			for (size_t k = SIMVFS_SECTOR_BYTES; k < len; k++) {
				assert_int_equal(bytes[k], c);
			}
			seen_z = seen_z || c == 'Z';
		}
		/* Back to the durable 'A' alone for the next round. */
		r = raw_open("/o/a");
		raw_write(&r, 'A', SIMVFS_SECTOR_BYTES, 0);
		assert_int_equal(r.f->pMethods->xTruncate(r.f, SIMVFS_SECTOR_BYTES), SQLITE_OK);
		assert_int_equal(r.f->pMethods->xSync(r.f, SQLITE_SYNC_FULL), SQLITE_OK);
		raw_close(&r);
	}
	assert_true(seen_a && seen_x && seen_y && seen_z);
	simvfs_destroy(v);
}

/* Goal: committed transactions survive power loss, whether the crash cuts
 * the connection off (handles die, closed after) or follows a clean close;
 * the old connection's close after the crash changes nothing. */
static void test_simvfs_crash_keeps_committed(void **state)
{
	(void)state;
	simvfs *v = vfs_new(3);
	uint8_t fate[201];
	memset(fate, TX_ACKED, sizeof(fate));
	for (int policy = 0; policy < 3; policy++) {
		/* Keep nothing, half, everything of what was not synced. */
		simvfs_crash_policy p = { .sector_survives = policy * 0.5,
			.new_file_survives = policy * 0.5 };
		assert_int_equal(simvfs_crash_policy_set(v, &p), 0);
		sqlite3 *db = open_ok(DB_A);
		for (int64_t id = policy * 60 + 1; id <= policy * 60 + 60; id++) {
			commit_ok(db, id);
		}
		simvfs_crash(v, "/node-a/");
		uint64_t after_crash = simvfs_digest(v, "/node-a/");
		db_close(db); /* dead handles: nothing lands */
		assert_int_equal(simvfs_digest(v, "/node-a/"), after_crash);
		db = open_ok(DB_A);
		assert_int_equal(verify(db, fate, policy * 60 + 60), policy * 60 + 60);
		db_close(db);
	}
	/* And after a clean close. */
	sqlite3 *db = open_ok(DB_A);
	for (int64_t id = 181; id <= 200; id++) {
		commit_ok(db, id);
	}
	db_close(db);
	simvfs_crash(v, "/node-a/");
	db = open_ok(DB_A);
	assert_int_equal(verify(db, fate, 200), 200);
	db_close(db);
	simvfs_stats s;
	simvfs_stats_get(v, &s);
	assert_int_equal(s.crashes, 4);
	assert_true(s.handles_killed >= 3);
	simvfs_destroy(v);
}

/* Goal: a transaction cut short by a crash never appears - even when every
 * unsynced write reaches the disk and the transaction was big enough to
 * spill pages into the WAL before its commit. */
static void test_simvfs_crash_drops_uncommitted(void **state)
{
	(void)state;
	simvfs *v = vfs_new(4);
	for (int policy = 0; policy < 3; policy++) {
		simvfs_crash_policy p = { .sector_survives = policy * 0.5,
			.new_file_survives = policy * 0.5 };
		assert_int_equal(simvfs_crash_policy_set(v, &p), 0);
		sqlite3 *db = open_ok(DB_A);
		assert_int_equal(db_exec(db, "PRAGMA cache_size=8"), 0);
		int64_t base = policy * 1000;
		commit_ok(db, base + 1);
		simvfs_stats s0;
		simvfs_stats_get(v, &s0);
		assert_int_equal(db_begin(db), 0);
		for (int64_t id = base + 2; id <= base + 400; id++) {
			assert_int_equal(tx_body(db, id), 0);
		}
		simvfs_stats s1;
		simvfs_stats_get(v, &s1);
		assert_true(s1.writes > s0.writes); /* the cache spilled */
		simvfs_crash(v, "/node-a/");
		db_close(db);
		db = open_ok(DB_A);
		uint8_t fate[3001] = { 0 };
		for (int k = 0; k <= policy; k++) {
			fate[k * 1000 + 1] = TX_ACKED;
		}
		assert_int_equal(verify(db, fate, 3000), policy + 1);
		db_close(db);
	}
	simvfs_destroy(v);
}

/* Goal: injected faults come back to the caller as errors (DN_EIO from
 * db_commit), only on the scoped node: node B is untouched while node A's
 * every write fails; with faults off again node A works and is intact. */
static void test_simvfs_faults_scoped(void **state)
{
	(void)state;
	simvfs *v = vfs_new(5);
	sqlite3 *a = open_ok(DB_A);
	sqlite3 *b = open_ok(DB_B);
	commit_ok(a, 1);
	simvfs_faults always = { .write_error = 1.0 };
	assert_int_equal(simvfs_faults_set(v, "/node-a/", &always), 0);
	simvfs_faults_enable(v, true);
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(tx_body(a, 2), 0);
	assert_int_equal(db_commit(a), DN_EIO);
	commit_ok(b, 1);
	commit_ok(b, 2);

	simvfs_faults sync_fails = { .sync_error = 1.0 };
	assert_int_equal(simvfs_faults_set(v, "/node-a/", &sync_fails), 0);
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(tx_body(a, 3), 0);
	assert_int_equal(db_commit(a), DN_EIO);

	simvfs_faults full = { .write_full = 1.0 };
	assert_int_equal(simvfs_faults_set(v, "/node-a/", &full), 0);
	assert_int_equal(db_begin(a), 0);
	assert_int_equal(tx_body(a, 4), 0);
	assert_int_equal(db_commit(a), DN_EIO);

	simvfs_faults bad = { .write_error = 0.7, .write_full = 0.7 };
	assert_int_equal(simvfs_faults_set(v, "/node-a/", &bad), DN_EINVAL);
	simvfs_faults_enable(v, false);
	simvfs_stats s;
	simvfs_stats_get(v, &s);
	assert_true(s.writes_failed >= 1);
	assert_true(s.syncs_failed >= 1);
	assert_true(s.writes_full >= 1);

	commit_ok(a, 5);
	uint8_t fate[6] = { 0, TX_ACKED, TX_UNKNOWN, TX_UNKNOWN, TX_UNKNOWN, TX_ACKED };
	verify(a, fate, 5);
	uint8_t fate_b[3] = { 0, TX_ACKED, TX_ACKED };
	assert_int_equal(verify(b, fate_b, 2), 2);
	db_close(a);
	db_close(b);
	simvfs_crash(v, "");
	a = open_ok(DB_A);
	verify(a, fate, 5);
	db_close(a);
	simvfs_destroy(v);
}

/* Goal: a wiped node starts from an empty store; other nodes keep theirs. */
static void test_simvfs_wipe(void **state)
{
	(void)state;
	simvfs *v = vfs_new(6);
	sqlite3 *a = open_ok(DB_A);
	sqlite3 *b = open_ok(DB_B);
	commit_ok(a, 1);
	commit_ok(b, 1);
	simvfs_wipe(v, "/node-a/");
	db_close(a);
	const uint8_t *bytes;
	size_t len;
	assert_int_equal(simvfs_file_get(v, DB_A, &bytes, &len), DN_ENOENT);
	a = open_ok(DB_A);
	assert_int_equal(query_i64(a, "SELECT count(*) FROM t"), 0);
	assert_int_equal(query_i64(b, "SELECT count(*) FROM t"), 1);
	db_close(a);
	db_close(b);
	simvfs_destroy(v);
}

/* Goal: xCurrentTime is the sim's clock. */
static void test_simvfs_time(void **state)
{
	(void)state;
	simvfs *v = vfs_new(7);
	simvfs_time_set(v, INT64_C(1700000000000));
	sqlite3 *db = open_ok(DB_A);
	assert_int_equal(query_i64(db, "SELECT unixepoch('now')"), 1700000000);
	simvfs_time_set(v, INT64_C(1700000060000));
	assert_int_equal(query_i64(db, "SELECT unixepoch('now')"), 1700000060);
	db_close(db);
	simvfs_destroy(v);
}

typedef struct torture_result {
	uint64_t digest_wal; /* every file before the last crash, WAL included */
	uint64_t digest;
	uint8_t *db_bytes; /* DB_A at the end (after its last close), heap */
	size_t db_len;
	simvfs_stats stats;
	int64_t rows;
	int64_t acked;
} torture_result;

/* Opens DB_A with faults on, retrying: recovery after a crash may itself
 * meet a fault. */
static sqlite3 *reopen(void)
{
	for (int i = 0; i < REOPEN_TRIES; i++) {
		sqlite3 *db = NULL;
		if (db_open_vfs(DB_A, schema, VFS, &db) == 0) {
			assert_int_equal(db_exec(db, "PRAGMA wal_autocheckpoint=64"), 0);
			return db;
		}
	}
	fail_msg("could not reopen after %d tries", REOPEN_TRIES);
	return NULL;
}

/* Verifies with faults off (the check must not itself be faulted). */
static int64_t verify_quiet(simvfs *v, sqlite3 *db, const uint8_t *fate, int64_t n)
{
	simvfs_faults_enable(v, false);
	int64_t rows = verify(db, fate, n);
	simvfs_faults_enable(v, true);
	return rows;
}

/* Power loss on node A: the open connection dies and is closed after. */
static sqlite3 *crash_reopen(simvfs *v, sqlite3 *db)
{
	simvfs_crash(v, "/node-a/");
	db_close(db);
	return reopen();
}

/* The seeded run: ntx transactions on node A under faults; some rolled
 * back, some cut by a crash, commits that fail marked unknown; crashes and
 * clean reopens at random, each followed by a full verify. */
static void torture(uint64_t seed, int64_t ntx, torture_result *res)
{
	simvfs *v = vfs_new(seed);
	simvfs_faults f = { .write_error = 0.01, .write_full = 0.005,
		.write_landed_error = 0.01, .sync_error = 0.02,
		.sync_landed_error = 0.02 };
	assert_int_equal(simvfs_faults_set(v, "/node-a/", &f), 0);
	simvfs_faults_enable(v, true);
	uint8_t *fate = calloc((size_t)ntx + 1, 1);
	assert_non_null(fate);
	uint64_t r = mix(seed ^ UINT64_C(0x5eed));
	sqlite3 *db = reopen();
	for (int64_t id = 1; id <= ntx; id++) {
		simvfs_time_set(v, id * 1000);
		if (db_begin(db) != 0) {
			continue; /* nothing written: stays absent */
		}
		if (tx_body(db, id) != 0) {
			db_rollback(db);
			continue;
		}
		uint32_t dice = rnd(&r, 100);
		if (dice < 4) {
			db_rollback(db);
		} else if (dice < 7) {
			db = crash_reopen(v, db); /* mid-transaction */
			verify_quiet(v, db, fate, id);
		} else {
			fate[id] = db_commit(db) == 0 ? TX_ACKED : TX_UNKNOWN;
		}
		dice = rnd(&r, 100);
		if (dice < 3) {
			db = crash_reopen(v, db);
			verify_quiet(v, db, fate, id);
		} else if (dice < 4) {
			db_close(db); /* checkpoint and WAL delete, faulted */
			db = reopen();
			verify_quiet(v, db, fate, id);
		}
	}
	res->digest_wal = simvfs_digest(v, "");
	db = crash_reopen(v, db);
	simvfs_faults_enable(v, false);
	res->rows = verify(db, fate, ntx);
	db_close(db);
	res->acked = 0;
	for (int64_t id = 1; id <= ntx; id++) {
		res->acked += fate[id] == TX_ACKED;
	}
	free(fate);
	res->digest = simvfs_digest(v, "");
	const uint8_t *bytes;
	assert_int_equal(simvfs_file_get(v, DB_A, &bytes, &res->db_len), 0);
	res->db_bytes = malloc(res->db_len);
	assert_non_null(res->db_bytes);
	memcpy(res->db_bytes, bytes, res->db_len);
	simvfs_stats_get(v, &res->stats);
	simvfs_destroy(v);
}

/* Goal: 2,000 transactions under write, full, sync and landed-but-errored
 * faults with crashes: never corrupt, never lose an acked commit, never
 * show a rolled-back one (checked at every reopen inside torture), and the
 * faults really happened. */
static void test_simvfs_torture(void **state)
{
	(void)state;
	torture_result res;
	torture(42, 2000, &res);
	const simvfs_stats *s = &res.stats;
	assert_true(res.acked > 1000);
	assert_true(res.rows >= res.acked);
	assert_true(s->writes_failed > 0 && s->writes_full > 0 && s->writes_landed > 0);
	assert_true(s->syncs_failed > 0 && s->syncs_landed > 0);
	assert_true(s->crashes > 20);
	assert_true(s->sectors_kept > 0 && s->sectors_lost > 0);
	free(res.db_bytes);
	print_message("torture: acked=%lld rows=%lld writes=%llu syncs=%llu "
		      "wfail=%llu wfull=%llu wlanded=%llu sfail=%llu slanded=%llu "
		      "crashes=%llu kept=%llu lost=%llu vanished=%llu\n",
	    (long long)res.acked, (long long)res.rows,
	    (unsigned long long)s->writes, (unsigned long long)s->syncs,
	    (unsigned long long)s->writes_failed, (unsigned long long)s->writes_full,
	    (unsigned long long)s->writes_landed, (unsigned long long)s->syncs_failed,
	    (unsigned long long)s->syncs_landed, (unsigned long long)s->crashes,
	    (unsigned long long)s->sectors_kept, (unsigned long long)s->sectors_lost,
	    (unsigned long long)s->files_vanished);
}

/* Goal: the same seed gives identical bytes and counters; another seed
 * gives different ones. */
static void test_simvfs_determinism(void **state)
{
	(void)state;
	torture_result a, b, c;
	torture(7, 300, &a);
	torture(7, 300, &b);
	torture(8, 300, &c);
	/* The WAL holds SQLite's random salts: seeded too. */
	assert_int_equal(a.digest_wal, b.digest_wal);
	assert_int_equal(a.digest, b.digest);
	assert_int_equal(a.db_len, b.db_len);
	assert_memory_equal(a.db_bytes, b.db_bytes, a.db_len);
	assert_memory_equal(&a.stats, &b.stats, sizeof(a.stats));
	assert_int_equal(a.rows, b.rows);
	assert_int_not_equal(a.digest_wal, c.digest_wal);
	assert_int_not_equal(a.digest, c.digest);
	assert_true(a.db_len != c.db_len ||
	    memcmp(a.db_bytes, c.db_bytes, a.db_len) != 0);
	free(a.db_bytes);
	free(b.db_bytes);
	free(c.db_bytes);
}

int main(void)
{
	/* Faulted commits log db.exec_failed by design; keep the output to
	 * cmocka's (errors still fail the asserts). */
	log_set_level((log_level)(LOG_ERROR + 1));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simvfs_model),
		cmocka_unit_test(test_simvfs_overwritten_pending),
		cmocka_unit_test(test_simvfs_roundtrip),
		cmocka_unit_test(test_simvfs_two_connections),
		cmocka_unit_test(test_simvfs_lock_levels),
		cmocka_unit_test(test_simvfs_journal_crash),
		cmocka_unit_test(test_simvfs_crash_keeps_committed),
		cmocka_unit_test(test_simvfs_crash_drops_uncommitted),
		cmocka_unit_test(test_simvfs_faults_scoped),
		cmocka_unit_test(test_simvfs_wipe),
		cmocka_unit_test(test_simvfs_time),
		cmocka_unit_test(test_simvfs_torture),
		cmocka_unit_test(test_simvfs_determinism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
