/*
 * walbuf.c - a commit's WAL writes gathered into one (see walbuf.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "io/log.h"
#include "io/walbuf.h"

/* A WAL frame's header (SQLite's file format, "WAL File Format"): bytes
 * 4-7 are the database size in pages after a commit, 0 in other frames. */
#define WB_FRAME_HDR 24
/* Gathered bytes written at once when a commit is larger. */
#define WB_CAP_MAX (1u << 20)
/* The most one underlying xWrite is given: SQLite's unix VFS writes
 * (n & 0x1ffff) bytes a call, so a write of exactly 128 KiB writes nothing
 * and fails as SQLITE_FULL. */
#define WB_WRITE_MAX (64u * 1024u)
/* Shims, one per underlying VFS (the daemons use one; dropsim one more). */
#define WB_SHIMS_MAX 8

typedef struct {
	sqlite3_vfs base;
	char name[96];
	char under[64];   /* "" for the default VFS */
} wb_vfs;

typedef struct {
	sqlite3_file base;       /* pMethods: wb_methods */
	sqlite3_file *real;      /* the underlying WAL file, after this struct */
	uint8_t *buf;
	size_t len, cap;
	sqlite3_int64 off;       /* where buf[0] goes in the file */
	bool commit_pending;     /* a commit frame's header is in buf */
} wb_file;

#define WB_REAL_OFF ((sizeof(wb_file) + 15u) & ~(size_t)15u)

static pthread_mutex_t wb_mtx = PTHREAD_MUTEX_INITIALIZER;
static wb_vfs wb_shims[WB_SHIMS_MAX];
static size_t wb_nshims;

static sqlite3_vfs *wb_under(sqlite3_vfs *v)
{
	const wb_vfs *w = (const wb_vfs *)v;
	return sqlite3_vfs_find(w->under[0] ? w->under : NULL);
}

/* ---- the WAL file ---- */

static int wb_flush(wb_file *f)
{
	if (f->len == 0) {
		return SQLITE_OK;
	}
	int rc = SQLITE_OK;
	for (size_t at = 0; at < f->len && rc == SQLITE_OK; at += WB_WRITE_MAX) {
		size_t n = f->len - at < WB_WRITE_MAX ? f->len - at : WB_WRITE_MAX;
		rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n,
		    f->off + (sqlite3_int64)at);
	}
	/* Written or failed, the bytes are SQLite's again: a failed commit is
	 * rolled back and its frames written anew (or never referenced). */
	f->len = 0;
	f->commit_pending = false;
	return rc;
}

static int wb_close(sqlite3_file *p)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	free(f->buf);
	f->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

/* Makes room for amt more bytes; false when it cannot (write directly). */
static bool wb_room(wb_file *f, size_t amt)
{
	if (f->len + amt <= f->cap) {
		return true;
	}
	if (f->len + amt > WB_CAP_MAX) {
		return false;
	}
	size_t cap = f->cap ? f->cap : 64u * 1024u;
	while (cap < f->len + amt) {
		cap *= 2;
	}
	uint8_t *b = realloc(f->buf, cap);
	if (b == NULL) {
		return false;
	}
	f->buf = b;
	f->cap = cap;
	return true;
}

static int wb_write(sqlite3_file *p, const void *data, int amt, sqlite3_int64 off)
{
	wb_file *f = (wb_file *)p;
	int rc;
	if (f->len > 0 && off != f->off + (sqlite3_int64)f->len &&
	    (rc = wb_flush(f)) != SQLITE_OK) {
		return rc;
	}
	if (amt <= 0 || !wb_room(f, (size_t)amt)) {
		/* Too much for one gathered write (or no memory): what is
		 * gathered goes first, then this as SQLite wrote it. */
		if ((rc = wb_flush(f)) != SQLITE_OK) {
			return rc;
		}
		return f->real->pMethods->xWrite(f->real, data, amt, off);
	}
	if (f->len == 0) {
		f->off = off;
	}
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	if (f->commit_pending) {
		return wb_flush(f); /* the commit frame's page: the commit is whole */
	}
	const uint8_t *h = data;
	f->commit_pending = amt == WB_FRAME_HDR && (h[4] | h[5] | h[6] | h[7]) != 0;
	return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *p, sqlite3_int64 size)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *p, int flags)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock(sqlite3_file *p, int lock)
{
	wb_file *f = (wb_file *)p;
	return f->real->pMethods->xLock(f->real, lock);
}

static int wb_unlock(sqlite3_file *p, int lock)
{
	wb_file *f = (wb_file *)p;
	return f->real->pMethods->xUnlock(f->real, lock);
}

static int wb_check_reserved(sqlite3_file *p, int *out)
{
	wb_file *f = (wb_file *)p;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wb_file_control(sqlite3_file *p, int op, void *arg)
{
	wb_file *f = (wb_file *)p;
	int rc = wb_flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector_size(sqlite3_file *p)
{
	wb_file *f = (wb_file *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int wb_device(sqlite3_file *p)
{
	wb_file *f = (wb_file *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1 methods: SQLite uses neither shared memory nor memory maps
 * on a WAL file. */
static const sqlite3_io_methods wb_methods = {
    .iVersion = 1,
    .xClose = wb_close,
    .xRead = wb_read,
    .xWrite = wb_write,
    .xTruncate = wb_truncate,
    .xSync = wb_sync,
    .xFileSize = wb_file_size,
    .xLock = wb_lock,
    .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_check_reserved,
    .xFileControl = wb_file_control,
    .xSectorSize = wb_sector_size,
    .xDeviceCharacteristics = wb_device,
};

/* ---- the VFS: WAL files wrapped, every other file the underlying's ---- */

static int wb_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *p, int flags,
    int *out_flags)
{
	sqlite3_vfs *u = wb_under(v);
	if (u == NULL || WB_REAL_OFF + (size_t)u->szOsFile > (size_t)v->szOsFile) {
		p->pMethods = NULL; /* gone, or another of its name since */
		return SQLITE_CANTOPEN;
	}
	if (!(flags & SQLITE_OPEN_WAL)) {
		return u->xOpen(u, name, p, flags, out_flags); /* in place */
	}
	wb_file *f = (wb_file *)p;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)((char *)p + WB_REAL_OFF);
	int rc = u->xOpen(u, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		if (f->real->pMethods != NULL) {
			f->real->pMethods->xClose(f->real);
		}
		p->pMethods = NULL;
		return rc;
	}
	p->pMethods = &wb_methods;
	return SQLITE_OK;
}

static int wb_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xDelete(u, name, sync_dir) : SQLITE_IOERR_DELETE;
}

static int wb_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xAccess(u, name, flags, out) : SQLITE_IOERR_ACCESS;
}

static int wb_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xFullPathname(u, name, n, out) : SQLITE_CANTOPEN;
}

static void *wb_dl_open(sqlite3_vfs *v, const char *name)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL && u->xDlOpen != NULL ? u->xDlOpen(u, name) : NULL;
}

static void wb_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	sqlite3_vfs *u = wb_under(v);
	if (u != NULL && u->xDlError != NULL) {
		u->xDlError(u, n, msg);
	} else if (n > 0) {
		snprintf(msg, (size_t)n, "no extensions");
	}
}

static void (*wb_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL && u->xDlSym != NULL ? u->xDlSym(u, h, sym) : NULL;
}

static void wb_dl_close(sqlite3_vfs *v, void *h)
{
	sqlite3_vfs *u = wb_under(v);
	if (u != NULL && u->xDlClose != NULL) {
		u->xDlClose(u, h);
	}
}

static int wb_randomness(sqlite3_vfs *v, int n, char *out)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xRandomness(u, n, out) : 0;
}

static int wb_sleep(sqlite3_vfs *v, int us)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xSleep(u, us) : 0;
}

static int wb_current_time(sqlite3_vfs *v, double *out)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL ? u->xCurrentTime(u, out) : SQLITE_ERROR;
}

static int wb_last_error(sqlite3_vfs *v, int n, char *out)
{
	sqlite3_vfs *u = wb_under(v);
	return u != NULL && u->xGetLastError != NULL ? u->xGetLastError(u, n, out) : 0;
}

static int wb_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	sqlite3_vfs *u = wb_under(v);
	if (u == NULL) {
		return SQLITE_ERROR;
	}
	if (u->iVersion >= 2 && u->xCurrentTimeInt64 != NULL) {
		return u->xCurrentTimeInt64(u, out);
	}
	double d = 0;
	int rc = u->xCurrentTime(u, &d);
	*out = (sqlite3_int64)(d * 86400000.0);
	return rc;
}

const char *walbuf_vfs(const char *under)
{
	const char *key = under != NULL ? under : "";
	const char *name = NULL;
	pthread_mutex_lock(&wb_mtx);
	for (size_t i = 0; i < wb_nshims && name == NULL; i++) {
		if (strcmp(wb_shims[i].under, key) == 0) {
			name = wb_shims[i].name;
		}
	}
	sqlite3_vfs *u = name == NULL ? sqlite3_vfs_find(under) : NULL;
	if (name == NULL && u != NULL && wb_nshims < WB_SHIMS_MAX &&
	    strlen(key) < sizeof(wb_shims[0].under)) {
		wb_vfs *w = &wb_shims[wb_nshims];
		snprintf(w->under, sizeof(w->under), "%s", key);
		snprintf(w->name, sizeof(w->name), "walbuf-%s", key[0] ? key : u->zName);
		w->base = (sqlite3_vfs){
		    .iVersion = 2,
		    .szOsFile = (int)(WB_REAL_OFF + (size_t)u->szOsFile),
		    .mxPathname = u->mxPathname,
		    .zName = w->name,
		    .xOpen = wb_open,
		    .xDelete = wb_delete,
		    .xAccess = wb_access,
		    .xFullPathname = wb_full_pathname,
		    .xDlOpen = wb_dl_open,
		    .xDlError = wb_dl_error,
		    .xDlSym = wb_dl_sym,
		    .xDlClose = wb_dl_close,
		    .xRandomness = wb_randomness,
		    .xSleep = wb_sleep,
		    .xCurrentTime = wb_current_time,
		    .xGetLastError = wb_last_error,
		    .xCurrentTimeInt64 = wb_current_time64,
		};
		if (sqlite3_vfs_register(&w->base, 0) == SQLITE_OK) {
			wb_nshims++;
			name = w->name;
		}
	}
	pthread_mutex_unlock(&wb_mtx);
	if (name == NULL) {
		log_warn("db.walbuf_unavailable", "vfs=%s", key[0] ? key : "default");
	}
	return name;
}
