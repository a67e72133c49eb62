/*
 * db.h - SQLite helpers shared by the daemons.
 *
 * db_open sets WAL mode, synchronous=FULL (an ack depends on the commit; in a
 * power-cut test WAL+NORMAL lost acked commits, WAL+FULL lost none; the
 * coordinator daemon goes to NORMAL only with walsync.h, which syncs the
 * WAL itself before any reply), a busy
 * timeout and foreign keys, then runs the schema. SQLite codes are translated
 * to DN_E*: a failed COMMIT is DN_EIO and its outcome is unknown - callers
 * must resolve it by re-reading, never assume it did not happen.
 * Not thread-safe: one connection belongs to one thread (the loop).
 */
#ifndef DN_DB_H
#define DN_DB_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Makes path and its -wal and -shm files readable by their owner only
 * (0600; SQLite creates them 0644): the coordinator's store holds the
 * network's secrets (the quote secret, a group's peers table). Files not
 * there yet are skipped; a failure is logged, not fatal. */
void db_files_private(const char *path);
/* Opens (creating) path and executes schema_sql (may hold many statements).
 * Returns 0 or DN_EIO, logging the reason. */
/* Process-wide SQLite settings for a daemon, before its first SQLite call:
 * no memory statistics (each of SQLite's allocations otherwise takes a
 * global mutex to count itself; nothing here reads the counts). Later
 * calls change nothing. */
void db_lib_init(void);
int db_open(const char *path, const char *schema_sql, sqlite3 **out);
/* The same through a named VFS (NULL: the default); the simulator opens the
 * daemons' real stores through its fault-injecting one. */
int db_open_vfs(const char *path, const char *schema_sql, const char *vfs,
    sqlite3 **out);
void db_close(sqlite3 *db);

/* Runs sql with no result rows. Returns 0 or DN_EIO (logged). */
int db_exec(sqlite3 *db, const char *sql);

/* Prepares a statement meant to live as long as the connection
 * (SQLITE_PREPARE_PERSISTENT). Returns 0 or DN_EIO (logged with sql). */
int db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. db_commit returns DN_EIO when the
 * commit's outcome is unknown. */
int db_begin(sqlite3 *db);
int db_commit(sqlite3 *db);
/* The process's commit timer (/metrics: the shell sets it; NULL: off, and
 * db_commit reads no clock). fn gets the duration of each COMMIT in ns
 * (the WAL append and its fsync), on the thread that committed. */
typedef void (*db_commit_observer)(void *arg, uint64_t ns);
void db_commit_observe(db_commit_observer fn, void *arg);
void db_rollback(sqlite3 *db);

/* A connection's transaction statements, prepared once: sqlite3_exec parses
 * BEGIN, COMMIT and savepoint text on every call, about a tenth of a small
 * transaction's CPU. The same semantics as db_begin/db_commit (a failed
 * commit is DN_EIO, outcome unknown, and the transaction is closed);
 * savepoint names the request savepoint (NULL: none). db_close finalizes
 * the statements. */
typedef struct {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *savepoint, *release, *rollback_to;
} db_txn;
int db_txn_init(db_txn *t, sqlite3 *db, const char *savepoint);
int db_txn_begin(db_txn *t);
int db_txn_commit(db_txn *t);
/* SAVEPOINT / RELEASE / ROLLBACK TO (which keeps the savepoint open). */
int db_txn_savepoint(db_txn *t);
int db_txn_release(db_txn *t);
int db_txn_rollback_to(db_txn *t);

/* One numbered schema migration: version N (1-based: entry i of the
 * array makes version i + 1) upgrades version N - 1 to N. sql (may hold
 * many statements) runs first, then fn, both inside one transaction that
 * also sets PRAGMA user_version = N; either may be NULL. */
typedef struct {
	const char *what;              /* one line for the log */
	const char *sql;
	int (*fn)(sqlite3 *db);        /* 0 or DN_E* */
} db_migration;

/* Brings the file to version n: reads PRAGMA user_version (0 for a new file
 * and for files made before versioning) and runs every later migration in
 * order, each in its own transaction. A file whose version is above n was
 * written by newer code: DN_ERANGE and an error log naming both versions,
 * nothing changed. Returns 0, DN_ERANGE or DN_EIO. store names the file in
 * logs. */
int db_migrate(sqlite3 *db, const char *store, const db_migration *m, size_t n);

/* Translate a SQLite result code: OK/DONE/ROW -> 0, else DN_EIO. */
int db_rc(int sqlite_rc);

/* Bind helpers (1-based index like SQLite); text is copied (TRANSIENT). */
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
/* The same without the copy (SQLITE_STATIC): for a statement stepped, reset
 * and cleared (sqlite3_clear_bindings) before s or b goes away - the hot
 * path's single-row writes and reads, where a copy per bound string was a
 * malloc, a memcpy and a free each. */
void db_bind_text_ref(sqlite3_stmt *st, int i, const char *s);
void db_bind_blob_ref(sqlite3_stmt *st, int i, const void *b, size_t len);
void db_bind_i64(sqlite3_stmt *st, int i, int64_t v);
void db_bind_double(sqlite3_stmt *st, int i, double v);
/* Column text never NULL ("" for NULL). */
const char *db_col_text(sqlite3_stmt *st, int i);

#endif
