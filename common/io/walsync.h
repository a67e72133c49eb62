/*
 * walsync.h - make a WAL database's commits durable off the loop thread.
 *
 * With synchronous=FULL every COMMIT waits for its fsync on the thread that
 * commits: the coordinator's loop spent three quarters of each ingest batch
 * there (1.9 ms of 2.5 ms), doing nothing else. walsync moves that wait off
 * the loop: the connection runs with synchronous=NORMAL (a COMMIT writes its
 * WAL frames and returns; SQLite still syncs the WAL before every checkpoint
 * and the database after it), and whoever must not answer before a commit
 * is durable asks walsync for it first. One fdatasync of the -wal file
 * makes every frame written before it started durable, so many commits share
 * one sync (group commit across batches, while the loop runs the next).
 *
 * The rule it serves: nothing a commit decided leaves the process before
 * that commit is on disk. The loop takes a ticket after a batch committed
 * (walsync_mark); the thread that sends the batch's replies calls
 * walsync_upto(ticket) first. An fdatasync that fails aborts the process:
 * the kernel may have dropped the pages, so no later sync can vouch for them
 * (PostgreSQL's "fsyncgate"); on restart SQLite recovers what is on disk and
 * no reply for what is not was ever sent.
 *
 * Thread model: walsync_create/destroy and walsync_mark on the connection's
 * thread (the loop); walsync_upto on any thread, concurrently.
 * The -wal file is opened by name (it exists once the connection has written;
 * SQLite keeps it while a connection is open) with the default (unix) VFS.
 */
#ifndef DN_WALSYNC_H
#define DN_WALSYNC_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct walsync walsync;

/* Opens db_path's -wal file, makes its directory entry durable, and only
 * then switches db to synchronous=NORMAL. 0, or DN_EIO / DN_ENOMEM (logged;
 * db is left at its synchronous setting, which the caller keeps using). */
int walsync_create(walsync **out, sqlite3 *db, const char *db_path);

/* Closes the file. No walsync_upto may be running or start. Safe with
 * NULL. db (if not NULL) goes back to synchronous=FULL. */
void walsync_destroy(walsync *w, sqlite3 *db);

/* A ticket for everything committed so far (loop thread). */
uint64_t walsync_mark(walsync *w);
/* The last ticket issued (loop thread): for a batch that wrote nothing but
 * may reply with what earlier commits decided. Waiting for it costs no
 * fdatasync when those are on disk already. */
uint64_t walsync_last(walsync *w);

/* Returns once everything committed before ticket was issued is on disk:
 * at once if a sync that started after the ticket has finished, else after
 * one (its own, or one another thread started after the ticket). */
void walsync_upto(walsync *w, uint64_t ticket);

/* True while a sync runs: work committed now waits for the next one. */
bool walsync_busy(walsync *w);

/* fn(arg) is called on the syncing thread after each sync, outside the
 * lock (the shell wakes its loop with it). Set before any walsync_upto;
 * walsync_set_done(w, NULL, NULL) returns once no call of the old fn runs,
 * and none starts after (the shell does it before freeing what fn uses). */
void walsync_set_done(walsync *w, void (*fn)(void *arg), void *arg);

/* Syncs done so far (each one fdatasync of the -wal file). */
uint64_t walsync_count(walsync *w);

#endif
