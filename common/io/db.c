/*
 * db.c - SQLite helpers (see db.h). Every failure is logged here with the
 * SQLite message, so callers only decide what to undo.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <string.h>
#include "core/err.h"
#include "io/db.h"
#include "io/walbuf.h"
#include "io/log.h"

/* How long a writer waits for another connection's lock (pickterm reads,
 * sqlite3 CLI) before giving up: long enough to ride out a checkpoint. */
#define DB_BUSY_TIMEOUT_MS 5000
/* The page size of a new store file (db_open_vfs). */
#define DB_PAGE_SIZE "1024"

int db_rc(int rc)
{
	return (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : DN_EIO;
}

void db_lib_init(void)
{
	/* SQLITE_MISUSE once SQLite is initialised: then it stays as it is. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int db_open(const char *path, const char *schema_sql, sqlite3 **out)
{
	return db_open_vfs(path, schema_sql, NULL, out);
}

int db_open_vfs(const char *path, const char *schema_sql, const char *vfs,
    sqlite3 **out)
{
	sqlite3 *db = NULL;
	*out = NULL;
	/* The default VFS through walbuf: a commit's WAL frames are one write
	 * (walbuf.h). A named VFS (the simulator's) is used as named: dropsim
	 * --walbuf puts walbuf over it itself. */
	const char *wb = vfs == NULL ? walbuf_vfs(NULL) : NULL;
	int rc = sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    wb != NULL ? wb : vfs);
	if (rc != SQLITE_OK) {
		log_error("db.open_failed", "path=%s err=\"%s\"", path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return DN_EIO;
	}
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	/* 1 KiB pages for a new file (an existing one keeps its own: WAL
	 * files cannot change it): a commit writes every page it touched
	 * whole, and the stores' commits touch a few small rows in several
	 * tables and indexes each; 4 KiB pages wrote four times the WAL
	 * bytes for the same rows (dropsim: the WAL was a quarter of a
	 * compressed seed's CPU). Rows stay far below a page (a command of
	 * DN_ORDER_LINES_MAX lines is the largest, ~1 KiB, on an overflow
	 * page then).
	 * WAL + FULL: an acknowledged commit survives power loss (issue 2's
	 * measurement: NORMAL lost acked commits, FULL lost none). */
	if (db_exec(db, "PRAGMA page_size=" DB_PAGE_SIZE) != 0 ||
	    db_exec(db, "PRAGMA journal_mode=WAL") != 0 ||
	    db_exec(db, "PRAGMA synchronous=FULL") != 0 ||
	    db_exec(db, "PRAGMA foreign_keys=ON") != 0 ||
	    (schema_sql != NULL && db_exec(db, schema_sql) != 0)) {
		sqlite3_close(db);
		return DN_EIO;
	}
	/* Confirm WAL really took effect (it cannot on some filesystems). */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		log_error("db.not_wal", "path=%s mode=%s", path,
		    (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
		return DN_EIO;
	}
	sqlite3_finalize(st);
	*out = db;
	return 0;
}

void db_files_private(const char *path)
{
	const char *sfx[] = {"", "-wal", "-shm"};
	char p[4096];
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (chmod(p, 0600) != 0 && errno != ENOENT) {
			log_warn("db.chmod_failed", "path=%s err=\"%s\"", p, strerror(errno));
		}
	}
}

void db_close(sqlite3 *db)
{
	if (db == NULL) {
		return;
	}
	/* Persistent statements must be finalized before close_v2 frees. */
	sqlite3_stmt *st;
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL) {
		sqlite3_finalize(st);
	}
	sqlite3_close_v2(db);
}

int db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("db.exec_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    msg ? msg : sqlite3_errstr(rc), sql);
		sqlite3_free(msg);
		return DN_EIO;
	}
	return 0;
}

int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK) {
		log_error("db.prepare_failed", "err=\"%s\" sql=\"%.120s\"",
		    sqlite3_errmsg(db), sql);
		return DN_EIO;
	}
	return 0;
}

int db_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

static db_commit_observer commit_observer;
static void *commit_observer_arg;

void db_commit_observe(db_commit_observer fn, void *arg)
{
	commit_observer = fn;
	commit_observer_arg = arg;
}

static uint64_t db_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After a COMMIT that started at t0 (0: untimed) returned rc: the timer,
 * and a connection left inside the transaction rolled back. */
static int commit_done(sqlite3 *db, int rc, uint64_t t0)
{
	if (commit_observer != NULL) {
		commit_observer(commit_observer_arg, db_mono_ns() - t0);
	}
	if (rc != 0 && !sqlite3_get_autocommit(db)) {
		/* Still inside the transaction: the commit did not happen. Roll
		 * back so the connection is usable; the caller still treats the
		 * outcome as unknown, as a failed fsync may have persisted it. */
		db_rollback(db);
	}
	return rc;
}

int db_commit(sqlite3 *db)
{
	uint64_t t0 = commit_observer != NULL ? db_mono_ns() : 0;
	return commit_done(db, db_exec(db, "COMMIT"), t0);
}

int db_txn_init(db_txn *t, sqlite3 *db, const char *savepoint)
{
	char sp[3][96];
	memset(t, 0, sizeof(*t));
	t->db = db;
	if (db_prepare(db, "BEGIN IMMEDIATE", &t->begin) != 0 ||
	    db_prepare(db, "COMMIT", &t->commit) != 0) {
		return DN_EIO;
	}
	if (savepoint == NULL) {
		return 0;
	}
	snprintf(sp[0], sizeof(sp[0]), "SAVEPOINT %s", savepoint);
	snprintf(sp[1], sizeof(sp[1]), "RELEASE %s", savepoint);
	snprintf(sp[2], sizeof(sp[2]), "ROLLBACK TO %s", savepoint);
	if (db_prepare(db, sp[0], &t->savepoint) != 0 ||
	    db_prepare(db, sp[1], &t->release) != 0 ||
	    db_prepare(db, sp[2], &t->rollback_to) != 0) {
		return DN_EIO;
	}
	return 0;
}

/* Steps a statement with no rows and resets it; 0 or DN_EIO (logged). */
static int txn_step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("db.exec_failed", "rc=%d err=\"%s\" sql=\"%.80s\"", rc,
		    sqlite3_errmsg(db), sqlite3_sql(st));
		return DN_EIO;
	}
	return 0;
}

int db_txn_begin(db_txn *t)
{
	return txn_step(t->db, t->begin);
}

int db_txn_commit(db_txn *t)
{
	uint64_t t0 = commit_observer != NULL ? db_mono_ns() : 0;
	return commit_done(t->db, txn_step(t->db, t->commit), t0);
}

int db_txn_savepoint(db_txn *t)
{
	return txn_step(t->db, t->savepoint);
}

int db_txn_release(db_txn *t)
{
	return txn_step(t->db, t->release);
}

int db_txn_rollback_to(db_txn *t)
{
	return txn_step(t->db, t->rollback_to);
}

void db_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
}

int db_migrate(sqlite3 *db, const char *store, const db_migration *m, size_t n)
{
	sqlite3_stmt *st = NULL;
	int64_t version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		version = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (version < 0) {
		log_error("db.version_unreadable", "store=%s err=\"%s\"", store,
		    sqlite3_errmsg(db));
		return DN_EIO;
	}
	if ((uint64_t)version > n) {
		log_error("db.version_too_new", "store=%s version=%lld known=%zu:"
		    " written by newer code; refusing to open it", store,
		    (long long)version, n);
		return DN_ERANGE;
	}
	for (size_t i = (size_t)version; i < n; i++) {
		char set[64];
		snprintf(set, sizeof(set), "PRAGMA user_version = %zu", i + 1);
		if (db_begin(db) != 0) {
			return DN_EIO;
		}
		int rv = 0;
		if (m[i].sql != NULL) {
			rv = db_exec(db, m[i].sql);
		}
		if (rv == 0 && m[i].fn != NULL) {
			rv = m[i].fn(db);
		}
		if (rv == 0) {
			rv = db_exec(db, set);
		}
		if (rv == 0) {
			rv = db_commit(db);
		} else {
			db_rollback(db);
		}
		if (rv != 0) {
			log_error("db.migration_failed", "store=%s version=%zu what=\"%s\"",
			    store, i + 1, m[i].what);
			return rv == DN_ERANGE ? rv : DN_EIO;
		}
		log_info("db.migrated", "store=%s version=%zu what=\"%s\"", store, i + 1,
		    m[i].what);
	}
	return 0;
}

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_TRANSIENT);
}

void db_bind_text_ref(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

void db_bind_blob_ref(sqlite3_stmt *st, int i, const void *b, size_t len)
{
	sqlite3_bind_blob(st, i, b, (int)len, SQLITE_STATIC);
}

void db_bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

void db_bind_double(sqlite3_stmt *st, int i, double v)
{
	sqlite3_bind_double(st, i, v);
}

const char *db_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t != NULL ? (const char *)t : "";
}
