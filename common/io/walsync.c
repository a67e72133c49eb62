/*
 * walsync.c - group fsync of a WAL database's -wal file (see walsync.h).
 *
 * Tickets: `written` counts walsync_mark calls; `synced` is the highest
 * value of `written` read by a sync before it started, once that sync has
 * finished. A ticket t is durable when synced >= t. At most one fdatasync
 * runs at a time (`busy`); a caller whose ticket it does not cover waits for
 * it and then starts the next one, so under load each sync covers every
 * commit made while the previous one ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/err.h"
#include "io/db.h"
#include "io/log.h"
#include "io/walsync.h"

/* Pages in the WAL before a commit checkpoints it (SQLite's default is
 * 1000). A checkpoint runs on the committing thread - the loop - and ends
 * with an fsync of the database; the hot pages (the journal's indexes, the
 * ledger, the streams) are in the WAL many times over and copied once. */
#define WALSYNC_CKPT_PAGES_S "4000"

struct walsync {
	int fd;               /* the -wal file, read-only: fdatasync only */
	dev_t dev;            /* which file fd is (walsync_reopen) */
	ino_t ino;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	uint64_t written;     /* under mtx */
	uint64_t synced;      /* under mtx */
	uint64_t syncs;       /* under mtx */
	bool busy;            /* under mtx: a sync is running */
	/* done_fn runs under cb_mtx, so walsync_set_done(NULL) returns only
	 * once no call of the old one runs (the shell then frees what it
	 * touches). */
	pthread_mutex_t cb_mtx;
	void (*done_fn)(void *arg);
	void *done_arg;
	char path[PATH_MAX];
};

/* fsync of the folder that holds path: the -wal file's name survives a
 * power cut (SQLite does this itself on the first sync of a new -wal; with
 * NORMAL that first sync may come only at the first checkpoint). */
static int walsync_dir(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Opens w->path as w->fd and makes its name durable. 0 or -1 (errno). */
static int walsync_open(walsync *w)
{
	struct stat st;
	w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
	if (w->fd < 0 || fstat(w->fd, &st) != 0 || walsync_dir(w->path) != 0) {
		return -1;
	}
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	return 0;
}

/* SQLite keeps the -wal file while a connection is open, but if it ever
 * made a new one (another process's close, a journal mode change), an
 * fdatasync of the old one would vouch for nothing: follow the name. Only
 * the thread that holds `busy` calls this. */
static void walsync_follow(walsync *w)
{
	struct stat st;
	if (stat(w->path, &st) != 0 || (st.st_dev == w->dev && st.st_ino == w->ino)) {
		return;
	}
	log_warn("walsync.reopen", "path=%s", w->path);
	int old = w->fd;
	if (walsync_open(w) != 0) {
		log_error("walsync.reopen_failed", "path=%s err=\"%s\"", w->path, strerror(errno));
		abort();
	}
	close(old);
}

int walsync_create(walsync **out, sqlite3 *db, const char *db_path)
{
	*out = NULL;
	walsync *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return DN_ENOMEM;
	}
	if ((size_t)snprintf(w->path, sizeof(w->path), "%s-wal", db_path) >= sizeof(w->path)) {
		free(w);
		return DN_EINVAL;
	}
	if (walsync_open(w) != 0 || fdatasync(w->fd) != 0) {
		log_error("walsync.open_failed", "path=%s err=\"%s\"", w->path, strerror(errno));
		if (w->fd >= 0) {
			close(w->fd);
		}
		free(w);
		return DN_EIO;
	}
	pthread_mutex_init(&w->mtx, NULL);
	pthread_mutex_init(&w->cb_mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (db_exec(db, "PRAGMA synchronous=NORMAL") != 0 ||
	    db_exec(db, "PRAGMA wal_autocheckpoint=" WALSYNC_CKPT_PAGES_S) != 0) {
		walsync_destroy(w, NULL);
		return DN_EIO;
	}
	*out = w;
	return 0;
}

void walsync_destroy(walsync *w, sqlite3 *db)
{
	if (w == NULL) {
		return;
	}
	if (db != NULL) {
		(void)db_exec(db, "PRAGMA synchronous=FULL");
	}
	/* Whatever was committed is made durable before the file is let go
	 * (the close's checkpoint would sync it too). */
	if (fdatasync(w->fd) != 0) {
		log_error("walsync.sync_failed", "path=%s err=\"%s\"", w->path, strerror(errno));
		abort();
	}
	close(w->fd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
	pthread_mutex_destroy(&w->cb_mtx);
	free(w);
}

uint64_t walsync_mark(walsync *w)
{
	pthread_mutex_lock(&w->mtx);
	uint64_t t = ++w->written;
	pthread_mutex_unlock(&w->mtx);
	return t;
}

uint64_t walsync_last(walsync *w)
{
	pthread_mutex_lock(&w->mtx);
	uint64_t t = w->written;
	pthread_mutex_unlock(&w->mtx);
	return t;
}

void walsync_upto(walsync *w, uint64_t ticket)
{
	pthread_mutex_lock(&w->mtx);
	while (w->synced < ticket) {
		if (w->busy) {
			pthread_cond_wait(&w->cv, &w->mtx);
			continue;
		}
		w->busy = true;
		uint64_t covers = w->written;
		pthread_mutex_unlock(&w->mtx);
		walsync_follow(w);
		if (fdatasync(w->fd) != 0) {
			/* Not retried: a failed fsync may have dropped the pages. */
			log_error("walsync.sync_failed", "path=%s err=\"%s\"", w->path,
			    strerror(errno));
			abort();
		}
		pthread_mutex_lock(&w->mtx);
		w->busy = false;
		w->syncs++;
		if (covers > w->synced) {
			w->synced = covers;
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mtx);
		pthread_mutex_lock(&w->cb_mtx);
		if (w->done_fn != NULL) {
			w->done_fn(w->done_arg);
		}
		pthread_mutex_unlock(&w->cb_mtx);
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
}

bool walsync_busy(walsync *w)
{
	pthread_mutex_lock(&w->mtx);
	bool busy = w->busy;
	pthread_mutex_unlock(&w->mtx);
	return busy;
}

void walsync_set_done(walsync *w, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&w->cb_mtx);
	w->done_fn = fn;
	w->done_arg = arg;
	pthread_mutex_unlock(&w->cb_mtx);
}

uint64_t walsync_count(walsync *w)
{
	pthread_mutex_lock(&w->mtx);
	uint64_t n = w->syncs;
	pthread_mutex_unlock(&w->mtx);
	return n;
}
