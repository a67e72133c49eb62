/*
 * simvfs.c - the in-memory fault-injecting SQLite VFS (see simvfs.h for what
 * it models and what it does not).
 *
 * Invariants, per file:
 *   - live == durable with every pending op applied in order (an op is a
 *     write of bytes at an offset, or a truncate);
 *   - the lock state (nshared, writer, shm locks) is the sum of the live
 *     handles' own state; a dead handle holds nothing and points at no file;
 *   - a file is in vfs->files (linked) or is unlinked and kept alive only by
 *     its open handles, freed at the last close;
 *   - the WAL index (sv_shm) lives while any handle maps it; a crash takes
 *     it from the file but leaves it to the dead handles that still map it,
 *     as SQLite keeps writing through the pointers it was given until it
 *     closes them.
 * One thread; SQLite calls in here only from the sim's thread.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "core/err.h"
#include "simvfs.h"

/* Longest VFS name: a short label like "simvfs". */
#define SIMVFS_NAME_MAX 64u
/* Julian day of the Unix epoch in ms, for xCurrentTimeInt64. */
#define SV_UNIX_EPOCH_JD_MS INT64_C(210866760000000)

/* Where a buffer starts growing x4 instead of x2 (buf_reserve). */
#define SIMVFS_GROW_FAST_BYTES (64u * 1024u)

typedef struct sv_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} sv_buf;

/* A pending op: a write of len bytes at off, or (trunc) a truncate to off.
 * A write's bytes are where it put them in the live image until a later
 * pending op would overwrite or cut them; they are then copied (saved) to
 * offset at of the file's arena (sv_file.pend), as a crash may keep this
 * write and not the later one. Most writes (WAL appends, a checkpoint's
 * pages in order) are never overwritten before the next sync, so a write
 * costs two copies (live, then durable at sync) and no allocation. */
typedef struct sv_op {
	size_t off;
	size_t len;
	size_t at;
	bool trunc;
	bool saved;
} sv_op;

typedef struct sv_handle sv_handle;

/* One file's shared memory: heap regions and the handles mapping them. */
typedef struct sv_shm {
	uint8_t *region[SIMVFS_SHM_REGIONS_MAX];
	uint32_t region_bytes;
	uint32_t refs;
} sv_shm;

typedef struct sv_file {
	char path[SIMVFS_PATH_MAX + 1];
	sv_buf live;
	sv_buf durable;
	/* Saved bytes of pending writes (sv_op), one after the other: an
	 * arena emptied at every sync and crash. */
	sv_buf pend;
	/* Every pending write lies within [ops_lo, ops_hi) (empty: lo > hi),
	 * so a write past them (an append) skips the overlap scan. */
	size_t ops_lo, ops_hi;
	sv_op *ops;
	uint32_t nops;
	uint32_t ops_cap;
	bool linked;      /* in vfs->files (has a name) */
	bool synced_once; /* existence is durable */
	uint32_t nopen;   /* live handles on it */
	uint32_t nshared; /* handles at SHARED or above */
	sv_handle *writer; /* the handle at RESERVED or above, if any */
	sv_shm *shm; /* NULL while no live handle maps it */
	uint32_t shm_nshared[SQLITE_SHM_NLOCK];
	sv_handle *shm_excl[SQLITE_SHM_NLOCK];
} sv_file;

struct sv_handle {
	sqlite3_file base; /* first: SQLite hands us back this pointer */
	simvfs *vfs;
	sv_file *file; /* NULL once dead */
	char path[SIMVFS_PATH_MAX + 1];
	int lock;
	bool dead;
	bool delete_on_close;
	sv_shm *shm; /* mapped by this handle (kept when it dies) */
	uint8_t shm_shared; /* bit i: shared shm lock i held */
	uint8_t shm_excl;   /* bit i: exclusive shm lock i held */
	sv_handle *prev;
	sv_handle *next;
};

typedef struct sv_scope {
	char prefix[SIMVFS_PATH_MAX + 1];
	simvfs_faults f;
} sv_scope;

struct simvfs {
	sqlite3_vfs base;
	char name[SIMVFS_NAME_MAX + 1];
	uint64_t prng;      /* faults and crash choices */
	uint64_t prng_rand; /* xRandomness, a separate stream */
	sv_file *files[SIMVFS_FILES_MAX];
	uint32_t nfiles;
	sv_handle *handles; /* every open handle, live or dead */
	sv_scope scopes[SIMVFS_SCOPES_MAX];
	uint32_t nscopes;
	bool faults_on;
	simvfs_crash_policy crash;
	int64_t time_ms;
	uint64_t tmp_seq;
	simvfs_stats stats;
};

/* ---- PRNG: splitmix64 (small, fast, good enough for fault dice) ---- */

static uint64_t sv_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double sv_unit(simvfs *v)
{
	return (double)(sv_next(&v->prng) >> 11) * 0x1.0p-53;
}

static bool sv_prefix_of(const char *prefix, const char *path)
{
	return strncmp(path, prefix, strlen(prefix)) == 0;
}

/* ---- byte buffers ---- */

/* Freed file buffers, kept for the next new file: the simulator makes
 * every store's files afresh at every seed (and wipe, and WAL reset), and
 * a new file's buffer that grows from a sector by realloc copied ~24 MiB
 * a seed. A new buffer takes the largest one kept instead (most reach
 * MiBs). Bytes past a buffer's len are never read, so what a reused one
 * held changes nothing. Shared by every simvfs of the process (one
 * thread, simvfs.h); at most SIMVFS_POOL_MAX buffers. */
#define SIMVFS_POOL_MAX 64u
static sv_buf buf_pool[SIMVFS_POOL_MAX];
static uint32_t buf_pool_n;

/* Gives b's memory to the pool (or frees it when the pool is full). */
static void buf_release(sv_buf *b)
{
	if (b->data != NULL && buf_pool_n < SIMVFS_POOL_MAX) {
		uint32_t i = buf_pool_n++;
		/* Kept sorted by cap, largest last. */
		while (i > 0 && buf_pool[i - 1].cap > b->cap) {
			buf_pool[i] = buf_pool[i - 1];
			i--;
		}
		buf_pool[i] = (sv_buf){ b->data, 0, b->cap };
	} else {
		free(b->data);
	}
	*b = (sv_buf){ NULL, 0, 0 };
}

static int buf_reserve(sv_buf *b, size_t n)
{
	assert(n <= SIMVFS_FILE_BYTES_MAX);
	if (n <= b->cap) {
		return 0;
	}
	if (b->data == NULL && buf_pool_n > 0) {
		*b = buf_pool[--buf_pool_n];
		if (n <= b->cap) {
			return 0;
		}
	}
	/* x4 from 64 KiB: a store's files grow to a few MiB, and every
	 * step copies the whole buffer (profiled: x2 copied 70 MB a seed). */
	size_t cap = b->cap != 0 ? b->cap : SIMVFS_SECTOR_BYTES;
	while (cap < n) {
		cap *= cap < SIMVFS_GROW_FAST_BYTES ? 2 : 4;
	}
	if (cap > SIMVFS_FILE_BYTES_MAX) {
		cap = SIMVFS_FILE_BYTES_MAX;
	}
	uint8_t *d = realloc(b->data, cap);
	if (d == NULL) {
		return DN_ENOMEM;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

/* Sets the length to n, zero-filling when it grows (ftruncate semantics). */
static int buf_resize(sv_buf *b, size_t n)
{
	if (n > b->len) {
		int rv = buf_reserve(b, n);
		if (rv != 0) {
			return rv;
		}
		memset(b->data + b->len, 0, n - b->len);
	}
	b->len = n;
	return 0;
}

static int buf_write(sv_buf *b, size_t off, const uint8_t *src, size_t n)
{
	assert(off + n <= SIMVFS_FILE_BYTES_MAX);
	if (off + n > b->len) {
		/* Zero only a hole before off: the write covers the rest. */
		int rv = buf_resize(b, off > b->len ? off : b->len);
		if (rv == 0) {
			rv = buf_reserve(b, off + n);
		}
		if (rv != 0) {
			return rv;
		}
		b->len = off + n;
	}
	memcpy(b->data + off, src, n);
	return 0;
}

static int buf_copy(sv_buf *dst, const sv_buf *src)
{
	int rv = buf_reserve(dst, src->len);
	if (rv != 0) {
		return rv;
	}
	if (src->len != 0) {
		memcpy(dst->data, src->data, src->len);
	}
	dst->len = src->len;
	return 0;
}

/* Where pending write op's bytes are now (sv_op). */
static const uint8_t *op_data(const struct sv_file *f, const sv_op *op);

/* Applies op of file f to b (f's durable image). */
static int op_apply(sv_buf *b, const struct sv_file *f, const sv_op *op)
{
	return op->trunc ? buf_resize(b, op->off)
			 : buf_write(b, op->off, op_data(f, op), op->len);
}

/* ---- files ---- */

static const uint8_t *op_data(const sv_file *f, const sv_op *op)
{
	assert(!op->trunc);
	return op->saved ? f->pend.data + op->at : f->live.data + op->off;
}

static void file_ops_clear(sv_file *f)
{
	f->nops = 0;
	f->pend.len = 0;
	f->ops_lo = SIZE_MAX;
	f->ops_hi = 0;
}

/* Drops one handle's mapping; the last one frees the regions. */
static void shm_unref(sv_shm *m)
{
	assert(m->refs > 0);
	if (--m->refs > 0) {
		return;
	}
	for (uint32_t i = 0; i < SIMVFS_SHM_REGIONS_MAX; i++) {
		free(m->region[i]);
	}
	free(m);
}

static void file_free(sv_file *f)
{
	assert(f->nopen == 0 && !f->linked);
	file_ops_clear(f);
	free(f->ops);
	assert(f->shm == NULL);
	buf_release(&f->live);
	buf_release(&f->durable);
	buf_release(&f->pend);
	free(f);
}

static sv_file *file_find(const simvfs *v, const char *path)
{
	for (uint32_t i = 0; i < v->nfiles; i++) {
		if (strcmp(v->files[i]->path, path) == 0) {
			return v->files[i];
		}
	}
	return NULL;
}

static sv_file *file_create(simvfs *v, const char *path)
{
	if (v->nfiles == SIMVFS_FILES_MAX || strlen(path) > SIMVFS_PATH_MAX) {
		return NULL;
	}
	sv_file *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return NULL;
	}
	strcpy(f->path, path);
	f->linked = true;
	f->ops_lo = SIZE_MAX;
	v->files[v->nfiles++] = f;
	return f;
}

/* Removes the name; the bytes live on while handles are open. */
static void file_unlink(simvfs *v, sv_file *f)
{
	assert(f->linked);
	for (uint32_t i = 0; i < v->nfiles; i++) {
		if (v->files[i] == f) {
			v->files[i] = v->files[--v->nfiles];
			break;
		}
	}
	f->linked = false;
	if (f->nopen == 0) {
		file_free(f);
	}
}

/* Appends op to the pending list (a write's bytes must be in live by the
 * time anything reads them). When the list is full the oldest op goes to
 * the durable image first (saved bytes stay in the arena until the next
 * sync). */
static int file_push_op(sv_file *f, sv_op op)
{
	if (f->nops == SIMVFS_PENDING_MAX) {
		int rv = op_apply(&f->durable, f, &f->ops[0]);
		if (rv != 0) {
			return rv;
		}
		memmove(&f->ops[0], &f->ops[1], (f->nops - 1) * sizeof(sv_op));
		f->nops--;
	}
	if (f->nops == f->ops_cap) {
		uint32_t cap = f->ops_cap != 0 ? f->ops_cap * 2 : 16;
		if (cap > SIMVFS_PENDING_MAX) {
			cap = SIMVFS_PENDING_MAX;
		}
		sv_op *ops = realloc(f->ops, cap * sizeof(sv_op));
		if (ops == NULL) {
			return DN_ENOMEM;
		}
		f->ops = ops;
		f->ops_cap = cap;
	}
	f->ops[f->nops++] = op;
	return 0;
}

static int file_sync(sv_file *f);

/* Saves (sv_op) every pending write whose bytes in live a write or
 * truncate of [off, end) is about to change. When the arena is full the
 * disk writes every pending op back on its own instead (as file_push_op
 * does one op at a time), which leaves nothing to save. */
static int file_save_overlapped(sv_file *f, size_t off, size_t end)
{
	if (off >= f->ops_hi || end <= f->ops_lo) {
		return 0;
	}
	for (uint32_t i = 0; i < f->nops; i++) {
		sv_op *op = &f->ops[i];
		if (op->trunc || op->saved || op->off >= end || op->off + op->len <= off) {
			continue;
		}
		if (f->pend.len + op->len > SIMVFS_FILE_BYTES_MAX) {
			bool once = f->synced_once;
			int rv = file_sync(f);
			f->synced_once = once; /* the name is not durable by this */
			return rv;
		}
		size_t at = f->pend.len;
		int rv = buf_write(&f->pend, at, f->live.data + op->off, op->len);
		if (rv != 0) {
			return rv;
		}
		op->at = at;
		op->saved = true;
	}
	return 0;
}

/* Writes n bytes at off: live at once, durable at the next sync. Every
 * fallible step comes before live changes, so a failure changes nothing
 * but what was saved (which stays correct). */
static int file_write(sv_file *f, size_t off, const void *src, size_t n)
{
	int rv = file_save_overlapped(f, off, off + n);
	if (rv == 0) {
		rv = buf_reserve(&f->live, off + n);
	}
	if (rv == 0) {
		rv = file_push_op(f, (sv_op){ .off = off, .len = n });
	}
	if (rv != 0) {
		return rv;
	}
	rv = buf_write(&f->live, off, src, n);
	assert(rv == 0); /* reserved above */
	f->ops_lo = off < f->ops_lo ? off : f->ops_lo;
	f->ops_hi = off + n > f->ops_hi ? off + n : f->ops_hi;
	return rv;
}

static int file_truncate(sv_file *f, size_t n)
{
	int rv = file_save_overlapped(f, n, SIZE_MAX);
	if (rv == 0) {
		rv = buf_reserve(&f->live, n);
	}
	if (rv == 0) {
		rv = file_push_op(f, (sv_op){ .off = n, .trunc = true });
	}
	if (rv != 0) {
		return rv;
	}
	return buf_resize(&f->live, n);
}

/* Makes every pending op durable. */
static int file_sync(sv_file *f)
{
	for (uint32_t i = 0; i < f->nops; i++) {
		int rv = op_apply(&f->durable, f, &f->ops[i]);
		if (rv != 0) {
			return rv;
		}
	}
	file_ops_clear(f);
	f->synced_once = true;
	assert(f->durable.len == f->live.len);
	return 0;
}

/* ---- policies ---- */

static const simvfs_faults *policy_for(const simvfs *v, const char *path)
{
	if (!v->faults_on) {
		return NULL;
	}
	const sv_scope *best = NULL;
	for (uint32_t i = 0; i < v->nscopes; i++) {
		const sv_scope *s = &v->scopes[i];
		if (sv_prefix_of(s->prefix, path) &&
		    (best == NULL || strlen(s->prefix) > strlen(best->prefix))) {
			best = s;
		}
	}
	return best != NULL ? &best->f : NULL;
}

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0;
}

/* ---- handles: locks and death ---- */

static void handle_shm_release(sv_handle *h)
{
	sv_file *f = h->file;
	for (int i = 0; i < SQLITE_SHM_NLOCK; i++) {
		if (h->shm_shared & (1u << i)) {
			assert(f->shm_nshared[i] > 0);
			f->shm_nshared[i]--;
		}
		if (h->shm_excl & (1u << i)) {
			assert(f->shm_excl[i] == h);
			f->shm_excl[i] = NULL;
		}
	}
	h->shm_shared = 0;
	h->shm_excl = 0;
}

static void handle_shm_unmap(sv_handle *h)
{
	sv_file *f = h->file;
	handle_shm_release(h);
	if (h->shm != NULL) {
		assert(f->shm == h->shm);
		if (h->shm->refs == 1) {
			/* The unix VFS truncates the -shm of a database nobody
			 * has open; SQLite rebuilds it from the WAL. */
			f->shm = NULL;
		}
		shm_unref(h->shm);
		h->shm = NULL;
	}
}

static void handle_unlock_all(sv_handle *h)
{
	sv_file *f = h->file;
	if (f->writer == h) {
		f->writer = NULL;
	}
	if (h->lock >= SQLITE_LOCK_SHARED) {
		assert(f->nshared > 0);
		f->nshared--;
	}
	h->lock = SQLITE_LOCK_NONE;
}

/* Detaches a handle from its file: it holds nothing and every later I/O on
 * it fails. A temp file (delete on close) goes with it. */
static void handle_kill(simvfs *v, sv_handle *h)
{
	sv_file *f = h->file;
	assert(f != NULL);
	handle_shm_release(h);
	if (h->shm != NULL) {
		/* The regions stay with the dead handles mapping them; the
		 * file starts afresh (shm is not durable). */
		f->shm = NULL;
	}
	handle_unlock_all(h);
	h->file = NULL;
	h->dead = true;
	f->nopen--;
	v->stats.handles_killed++;
	if (h->delete_on_close && f->linked) {
		file_unlink(v, f);
	} else if (!f->linked && f->nopen == 0) {
		file_free(f);
	}
}

static void handles_kill_under(simvfs *v, const char *prefix)
{
	for (sv_handle *h = v->handles; h != NULL; h = h->next) {
		if (h->file != NULL && sv_prefix_of(prefix, h->file->path)) {
			handle_kill(v, h);
		}
	}
}

static bool dead_handle_on(const simvfs *v, const char *path)
{
	for (const sv_handle *h = v->handles; h != NULL; h = h->next) {
		if (h->dead && sv_prefix_of(h->path, path)) {
			return true;
		}
	}
	return false;
}

/* ---- io methods ---- */

static int sv_close(sqlite3_file *pf)
{
	sv_handle *h = (sv_handle *)pf;
	simvfs *v = h->vfs;
	if (h->file == NULL && h->shm != NULL) {
		shm_unref(h->shm); /* dead: its orphaned WAL index */
		h->shm = NULL;
	}
	if (h->file != NULL) {
		sv_file *f = h->file;
		handle_shm_unmap(h);
		handle_unlock_all(h);
		f->nopen--;
		if (h->delete_on_close && f->linked) {
			file_unlink(v, f);
		} else if (!f->linked && f->nopen == 0) {
			file_free(f);
		}
		h->file = NULL;
	}
	if (h->prev != NULL) {
		h->prev->next = h->next;
	} else {
		v->handles = h->next;
	}
	if (h->next != NULL) {
		h->next->prev = h->prev;
	}
	return SQLITE_OK;
}

static int sv_read(sqlite3_file *pf, void *dst, int amt, sqlite3_int64 ofst)
{
	sv_handle *h = (sv_handle *)pf;
	if (h->file == NULL) {
		return SQLITE_IOERR_READ;
	}
	const sv_buf *b = &h->file->live;
	size_t want = (size_t)amt;
	size_t off = (size_t)ofst;
	size_t got = off < b->len ? b->len - off : 0;
	if (got > want) {
		got = want;
	}
	if (got != 0) {
		memcpy(dst, b->data + off, got);
	}
	if (got < want) {
		/* SQLite requires the unread tail zeroed on a short read. */
		memset((uint8_t *)dst + got, 0, want - got);
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}

static int sv_write(sqlite3_file *pf, const void *src, int amt, sqlite3_int64 ofst)
{
	sv_handle *h = (sv_handle *)pf;
	simvfs *v = h->vfs;
	if (h->file == NULL) {
		return SQLITE_IOERR_WRITE;
	}
	v->stats.writes++;
	if (ofst < 0 || (uint64_t)ofst + (uint64_t)amt > SIMVFS_FILE_BYTES_MAX) {
		return SQLITE_FULL;
	}
	const simvfs_faults *p = policy_for(v, h->file->path);
	bool landed = false;
	if (p != NULL) {
		double r = sv_unit(v);
		if (r < p->write_error) {
			v->stats.writes_failed++;
			return SQLITE_IOERR_WRITE;
		}
		if (r < p->write_error + p->write_full) {
			v->stats.writes_full++;
			return SQLITE_FULL;
		}
		landed = r < p->write_error + p->write_full + p->write_landed_error;
	}
	if (file_write(h->file, (size_t)ofst, src, (size_t)amt) != 0) {
		return SQLITE_IOERR_NOMEM;
	}
	if (landed) {
		v->stats.writes_landed++;
		return SQLITE_IOERR_WRITE;
	}
	return SQLITE_OK;
}

static int sv_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
	sv_handle *h = (sv_handle *)pf;
	if (h->file == NULL) {
		return SQLITE_IOERR_TRUNCATE;
	}
	if (size < 0 || (uint64_t)size > SIMVFS_FILE_BYTES_MAX) {
		return SQLITE_FULL;
	}
	return file_truncate(h->file, (size_t)size) == 0 ? SQLITE_OK
							 : SQLITE_IOERR_NOMEM;
}

static int sv_sync(sqlite3_file *pf, int flags)
{
	(void)flags; /* DATAONLY or not: one image per file here */
	sv_handle *h = (sv_handle *)pf;
	simvfs *v = h->vfs;
	if (h->file == NULL) {
		return SQLITE_IOERR_FSYNC;
	}
	v->stats.syncs++;
	const simvfs_faults *p = policy_for(v, h->file->path);
	bool landed = false;
	if (p != NULL) {
		double r = sv_unit(v);
		if (r < p->sync_error) {
			v->stats.syncs_failed++;
			return SQLITE_IOERR_FSYNC;
		}
		landed = r < p->sync_error + p->sync_landed_error;
	}
	if (file_sync(h->file) != 0) {
		return SQLITE_IOERR_NOMEM;
	}
	if (landed) {
		v->stats.syncs_landed++;
		return SQLITE_IOERR_FSYNC;
	}
	return SQLITE_OK;
}

static int sv_file_size(sqlite3_file *pf, sqlite3_int64 *out)
{
	sv_handle *h = (sv_handle *)pf;
	if (h->file == NULL) {
		return SQLITE_IOERR_FSTAT;
	}
	*out = (sqlite3_int64)h->file->live.len;
	return SQLITE_OK;
}

/* Lock levels across handles of one file, as the unix VFS keeps them per
 * inode: many SHARED, one RESERVED/PENDING/EXCLUSIVE writer, PENDING stops
 * new readers, EXCLUSIVE waits for the other readers to leave. */
static int sv_lock(sqlite3_file *pf, int level)
{
	sv_handle *h = (sv_handle *)pf;
	sv_file *f = h->file;
	if (f == NULL) {
		return SQLITE_IOERR_LOCK;
	}
	if (h->lock >= level) {
		return SQLITE_OK;
	}
	if (level == SQLITE_LOCK_SHARED) {
		assert(h->lock == SQLITE_LOCK_NONE);
		if (f->writer != NULL && f->writer->lock >= SQLITE_LOCK_PENDING) {
			return SQLITE_BUSY;
		}
		f->nshared++;
		h->lock = SQLITE_LOCK_SHARED;
		return SQLITE_OK;
	}
	assert(h->lock >= SQLITE_LOCK_SHARED);
	if (f->writer != NULL && f->writer != h) {
		return SQLITE_BUSY;
	}
	f->writer = h;
	if (level == SQLITE_LOCK_RESERVED) {
		h->lock = SQLITE_LOCK_RESERVED;
		return SQLITE_OK;
	}
	if (f->nshared > 1) {
		h->lock = SQLITE_LOCK_PENDING;
		return SQLITE_BUSY;
	}
	h->lock = level;
	return SQLITE_OK;
}

static int sv_unlock(sqlite3_file *pf, int level)
{
	sv_handle *h = (sv_handle *)pf;
	sv_file *f = h->file;
	if (f == NULL || h->lock <= level) {
		return SQLITE_OK;
	}
	if (h->lock > SQLITE_LOCK_SHARED) {
		assert(f->writer == h);
		f->writer = NULL;
		h->lock = SQLITE_LOCK_SHARED;
	}
	if (level == SQLITE_LOCK_NONE) {
		assert(f->nshared > 0);
		f->nshared--;
		h->lock = SQLITE_LOCK_NONE;
	}
	return SQLITE_OK;
}

static int sv_check_reserved(sqlite3_file *pf, int *out)
{
	sv_handle *h = (sv_handle *)pf;
	*out = h->file != NULL && h->file->writer != NULL;
	return SQLITE_OK;
}

static int sv_file_control(sqlite3_file *pf, int op, void *arg)
{
	(void)pf;
	(void)op;
	(void)arg;
	return SQLITE_NOTFOUND;
}

static int sv_sector_size(sqlite3_file *pf)
{
	(void)pf;
	return (int)SIMVFS_SECTOR_BYTES;
}

/* POWERSAFE_OVERWRITE only, as the unix VFS on Linux: no ATOMIC, no
 * SAFE_APPEND, no SEQUENTIAL - a crash may keep later writes and lose
 * earlier ones, and may extend a file with holes. */
static int sv_device_characteristics(sqlite3_file *pf)
{
	(void)pf;
	return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static int sv_shm_map(sqlite3_file *pf, int region, int region_bytes, int extend,
    void volatile **pp)
{
	sv_handle *h = (sv_handle *)pf;
	sv_file *f = h->file;
	*pp = NULL;
	if (f == NULL) {
		return SQLITE_IOERR_SHMMAP;
	}
	if (region < 0 || (uint32_t)region >= SIMVFS_SHM_REGIONS_MAX) {
		return SQLITE_IOERR_SHMSIZE;
	}
	if (h->shm == NULL) {
		if (f->shm == NULL) {
			f->shm = calloc(1, sizeof(*f->shm));
			if (f->shm == NULL) {
				return SQLITE_IOERR_NOMEM;
			}
			f->shm->region_bytes = (uint32_t)region_bytes;
		}
		h->shm = f->shm;
		h->shm->refs++;
	}
	sv_shm *m = h->shm;
	assert(m->region_bytes == (uint32_t)region_bytes);
	if (m->region[region] == NULL && extend) {
		for (int i = 0; i <= region; i++) {
			if (m->region[i] == NULL) {
				m->region[i] = calloc(1, (size_t)region_bytes);
				if (m->region[i] == NULL) {
					return SQLITE_IOERR_NOMEM;
				}
			}
		}
	}
	*pp = m->region[region];
	return SQLITE_OK;
}

static int sv_shm_lock(sqlite3_file *pf, int ofst, int n, int flags)
{
	sv_handle *h = (sv_handle *)pf;
	sv_file *f = h->file;
	assert(ofst >= 0 && n >= 1 && ofst + n <= SQLITE_SHM_NLOCK);
	if (f == NULL) {
		return (flags & SQLITE_SHM_UNLOCK) ? SQLITE_OK : SQLITE_IOERR_SHMLOCK;
	}
	uint8_t mask = (uint8_t)(((1u << n) - 1u) << ofst);
	if (flags & SQLITE_SHM_UNLOCK) {
		for (int i = ofst; i < ofst + n; i++) {
			if (h->shm_shared & (1u << i)) {
				f->shm_nshared[i]--;
			}
			if (h->shm_excl & (1u << i)) {
				f->shm_excl[i] = NULL;
			}
		}
		h->shm_shared &= (uint8_t)~mask;
		h->shm_excl &= (uint8_t)~mask;
		return SQLITE_OK;
	}
	if (flags & SQLITE_SHM_SHARED) {
		assert(n == 1);
		if (h->shm_shared & mask) {
			return SQLITE_OK;
		}
		if (f->shm_excl[ofst] != NULL && f->shm_excl[ofst] != h) {
			return SQLITE_BUSY;
		}
		f->shm_nshared[ofst]++;
		h->shm_shared |= mask;
		return SQLITE_OK;
	}
	for (int i = ofst; i < ofst + n; i++) {
		uint32_t others = f->shm_nshared[i] - ((h->shm_shared >> i) & 1u);
		if ((f->shm_excl[i] != NULL && f->shm_excl[i] != h) || others > 0) {
			return SQLITE_BUSY;
		}
	}
	for (int i = ofst; i < ofst + n; i++) {
		f->shm_excl[i] = h;
	}
	h->shm_excl |= mask;
	return SQLITE_OK;
}

static void sv_shm_barrier(sqlite3_file *pf)
{
	(void)pf; /* one thread: program order is enough */
}

static int sv_shm_unmap(sqlite3_file *pf, int delete_flag)
{
	(void)delete_flag; /* the regions go at the last unmap either way */
	sv_handle *h = (sv_handle *)pf;
	if (h->file != NULL) {
		handle_shm_unmap(h);
	} else if (h->shm != NULL) {
		shm_unref(h->shm);
		h->shm = NULL;
	}
	return SQLITE_OK;
}

static const sqlite3_io_methods sv_io = {
	.iVersion = 2,
	.xClose = sv_close,
	.xRead = sv_read,
	.xWrite = sv_write,
	.xTruncate = sv_truncate,
	.xSync = sv_sync,
	.xFileSize = sv_file_size,
	.xLock = sv_lock,
	.xUnlock = sv_unlock,
	.xCheckReservedLock = sv_check_reserved,
	.xFileControl = sv_file_control,
	.xSectorSize = sv_sector_size,
	.xDeviceCharacteristics = sv_device_characteristics,
	.xShmMap = sv_shm_map,
	.xShmLock = sv_shm_lock,
	.xShmBarrier = sv_shm_barrier,
	.xShmUnmap = sv_shm_unmap,
};

/* ---- vfs methods ---- */

static int sv_open(sqlite3_vfs *pv, const char *name, sqlite3_file *pf, int flags,
    int *out_flags)
{
	simvfs *v = pv->pAppData;
	sv_handle *h = (sv_handle *)pf;
	memset(h, 0, sizeof(*h));
	char tmp[64];
	if (name == NULL) {
		/* Temp files get a deterministic name of their own. */
		snprintf(tmp, sizeof(tmp), "/simvfs-tmp/%llu",
		    (unsigned long long)++v->tmp_seq);
		name = tmp;
		flags |= SQLITE_OPEN_DELETEONCLOSE | SQLITE_OPEN_CREATE;
	}
	if (strlen(name) > SIMVFS_PATH_MAX) {
		return SQLITE_CANTOPEN;
	}
	/* Caller contract (simvfs_crash): old connections are closed before
	 * their paths are opened again. */
	for (const sv_handle *d = v->handles; d != NULL; d = d->next) {
		assert(!(d->dead && strcmp(d->path, name) == 0));
	}
	sv_file *f = file_find(v, name);
	if (f != NULL && (flags & SQLITE_OPEN_EXCLUSIVE)) {
		return SQLITE_CANTOPEN;
	}
	if (f == NULL) {
		if (!(flags & SQLITE_OPEN_CREATE)) {
			return SQLITE_CANTOPEN;
		}
		f = file_create(v, name);
		if (f == NULL) {
			return SQLITE_CANTOPEN;
		}
	}
	h->vfs = v;
	h->file = f;
	strcpy(h->path, name);
	h->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
	f->nopen++;
	h->next = v->handles;
	if (v->handles != NULL) {
		v->handles->prev = h;
	}
	v->handles = h;
	h->base.pMethods = &sv_io;
	if (out_flags != NULL) {
		*out_flags = flags;
	}
	return SQLITE_OK;
}

static int sv_delete(sqlite3_vfs *pv, const char *path, int dir_sync)
{
	(void)dir_sync; /* deletes are durable at once (simvfs.h) */
	simvfs *v = pv->pAppData;
	if (dead_handle_on(v, path)) {
		return SQLITE_IOERR_DELETE;
	}
	sv_file *f = file_find(v, path);
	if (f == NULL) {
		return SQLITE_IOERR_DELETE_NOENT;
	}
	file_unlink(v, f);
	return SQLITE_OK;
}

static int sv_access(sqlite3_vfs *pv, const char *path, int flags, int *out)
{
	simvfs *v = pv->pAppData;
	const sv_file *f = file_find(v, path);
	/* As the unix VFS: an empty file does not "exist" (a zero-length
	 * journal is not hot). */
	if (flags == SQLITE_ACCESS_EXISTS) {
		*out = f != NULL && f->live.len > 0;
	} else {
		*out = f != NULL;
	}
	return SQLITE_OK;
}

static int sv_full_pathname(sqlite3_vfs *pv, const char *name, int n, char *out)
{
	(void)pv;
	size_t len = strlen(name);
	if (len + 1 > (size_t)n || len > SIMVFS_PATH_MAX) {
		return SQLITE_CANTOPEN;
	}
	memcpy(out, name, len + 1);
	return SQLITE_OK;
}

static void *sv_dl_open(sqlite3_vfs *pv, const char *path)
{
	(void)pv;
	(void)path;
	return NULL;
}

static void sv_dl_error(sqlite3_vfs *pv, int n, char *msg)
{
	(void)pv;
	snprintf(msg, (size_t)n, "simvfs: no extensions");
}

static void (*sv_dl_sym(sqlite3_vfs *pv, void *lib, const char *sym))(void)
{
	(void)pv;
	(void)lib;
	(void)sym;
	return NULL;
}

static void sv_dl_close(sqlite3_vfs *pv, void *lib)
{
	(void)pv;
	(void)lib;
}

static int sv_randomness(sqlite3_vfs *pv, int n, char *out)
{
	simvfs *v = pv->pAppData;
	for (int i = 0; i < n; i++) {
		out[i] = (char)(sv_next(&v->prng_rand) & 0xff);
	}
	return n;
}

static int sv_sleep(sqlite3_vfs *pv, int us)
{
	(void)pv;
	return us; /* sim time does not pass by sleeping */
}

static int sv_current_time_i64(sqlite3_vfs *pv, sqlite3_int64 *out)
{
	simvfs *v = pv->pAppData;
	*out = SV_UNIX_EPOCH_JD_MS + v->time_ms;
	return SQLITE_OK;
}

static int sv_current_time(sqlite3_vfs *pv, double *out)
{
	sqlite3_int64 ms;
	sv_current_time_i64(pv, &ms);
	*out = (double)ms / 86400000.0;
	return SQLITE_OK;
}

static int sv_get_last_error(sqlite3_vfs *pv, int n, char *msg)
{
	(void)pv;
	(void)n;
	(void)msg;
	return 0;
}

/* ---- public ---- */

int simvfs_create(const char *vfs_name, uint64_t seed, simvfs **out)
{
	*out = NULL;
	if (strlen(vfs_name) > SIMVFS_NAME_MAX) {
		return DN_EINVAL;
	}
	if (sqlite3_initialize() != SQLITE_OK) {
		return DN_EIO;
	}
	if (sqlite3_vfs_find(vfs_name) != NULL) {
		return DN_EINVAL;
	}
	simvfs *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		return DN_ENOMEM;
	}
	strcpy(v->name, vfs_name);
	v->prng = seed;
	v->prng_rand = sv_next(&v->prng);
	v->crash = (simvfs_crash_policy){ .sector_survives = 0.5,
		.new_file_survives = 0.5 };
	v->base = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(sv_handle),
		.mxPathname = (int)SIMVFS_PATH_MAX,
		.zName = v->name,
		.pAppData = v,
		.xOpen = sv_open,
		.xDelete = sv_delete,
		.xAccess = sv_access,
		.xFullPathname = sv_full_pathname,
		.xDlOpen = sv_dl_open,
		.xDlError = sv_dl_error,
		.xDlSym = sv_dl_sym,
		.xDlClose = sv_dl_close,
		.xRandomness = sv_randomness,
		.xSleep = sv_sleep,
		.xCurrentTime = sv_current_time,
		.xGetLastError = sv_get_last_error,
		.xCurrentTimeInt64 = sv_current_time_i64,
	};
	if (sqlite3_vfs_register(&v->base, 0) != SQLITE_OK) {
		free(v);
		return DN_EIO;
	}
	/* SQLite's own PRNG (WAL salts, journal nonces, temp names) is seeded
	 * from the default VFS unless a test seed is set; set one. */
	int sqlite_seed = (int)(sv_next(&v->prng) & 0x7fffffff) | 1;
	sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, sqlite_seed, (sqlite3 *)NULL);
	*out = v;
	return 0;
}

void simvfs_destroy(simvfs *v)
{
	if (v == NULL) {
		return;
	}
	assert(v->handles == NULL && "close every connection on the simvfs first");
	sqlite3_vfs_unregister(&v->base);
	sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, 0, (sqlite3 *)NULL);
	while (v->nfiles > 0) {
		file_unlink(v, v->files[v->nfiles - 1]);
	}
	free(v);
}

int simvfs_faults_set(simvfs *v, const char *prefix, const simvfs_faults *f)
{
	if (strlen(prefix) > SIMVFS_PATH_MAX || !prob_ok(f->write_error) ||
	    !prob_ok(f->write_full) || !prob_ok(f->write_landed_error) ||
	    !prob_ok(f->sync_error) || !prob_ok(f->sync_landed_error) ||
	    f->write_error + f->write_full + f->write_landed_error > 1.0 ||
	    f->sync_error + f->sync_landed_error > 1.0) {
		return DN_EINVAL;
	}
	for (uint32_t i = 0; i < v->nscopes; i++) {
		if (strcmp(v->scopes[i].prefix, prefix) == 0) {
			v->scopes[i].f = *f;
			return 0;
		}
	}
	if (v->nscopes == SIMVFS_SCOPES_MAX) {
		return DN_EFULL;
	}
	sv_scope *s = &v->scopes[v->nscopes++];
	strcpy(s->prefix, prefix);
	s->f = *f;
	return 0;
}

void simvfs_faults_clear(simvfs *v, const char *prefix)
{
	for (uint32_t i = 0; i < v->nscopes; i++) {
		if (strcmp(v->scopes[i].prefix, prefix) == 0) {
			v->scopes[i] = v->scopes[--v->nscopes];
			return;
		}
	}
}

void simvfs_faults_enable(simvfs *v, bool on)
{
	v->faults_on = on;
}

int simvfs_crash_policy_set(simvfs *v, const simvfs_crash_policy *p)
{
	if (!prob_ok(p->sector_survives) || !prob_ok(p->new_file_survives)) {
		return DN_EINVAL;
	}
	v->crash = *p;
	return 0;
}

/* Rebuilds one file after power loss from durable + surviving sectors. */
static void crash_file(simvfs *v, sv_file *f)
{
	assert(f->nopen == 0 && f->shm == NULL);
	if (!f->synced_once && sv_unit(v) >= v->crash.new_file_survives) {
		v->stats.files_vanished++;
		file_unlink(v, f);
		return;
	}
	for (uint32_t i = 0; i < f->nops; i++) {
		const sv_op *op = &f->ops[i];
		if (op->trunc) {
			if (sv_unit(v) < v->crash.sector_survives) {
				(void)buf_resize(&f->durable, op->off);
			}
			continue;
		}
		/* Tear at absolute sector boundaries: each piece survives or
		 * not on its own. */
		size_t at = op->off;
		size_t end = op->off + op->len;
		while (at < end) {
			size_t next = (at / SIMVFS_SECTOR_BYTES + 1) * SIMVFS_SECTOR_BYTES;
			if (next > end) {
				next = end;
			}
			if (sv_unit(v) < v->crash.sector_survives) {
				v->stats.sectors_kept++;
				(void)buf_write(&f->durable, at,
				    op_data(f, op) + (at - op->off), next - at);
			} else {
				v->stats.sectors_lost++;
			}
			at = next;
		}
	}
	file_ops_clear(f);
	(void)buf_copy(&f->live, &f->durable);
	f->synced_once = true;
}

/* Files under prefix, sorted by path, so choices do not depend on the
 * order files happened to be created or deleted in. */
static uint32_t files_under(const simvfs *v, const char *prefix, sv_file **out)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < v->nfiles; i++) {
		if (sv_prefix_of(prefix, v->files[i]->path)) {
			sv_file *f = v->files[i];
			uint32_t j = n++;
			while (j > 0 && strcmp(out[j - 1]->path, f->path) > 0) {
				out[j] = out[j - 1];
				j--;
			}
			out[j] = f;
		}
	}
	return n;
}

void simvfs_crash(simvfs *v, const char *path_prefix)
{
	sv_file *files[SIMVFS_FILES_MAX];
	v->stats.crashes++;
	handles_kill_under(v, path_prefix);
	uint32_t n = files_under(v, path_prefix, files);
	for (uint32_t i = 0; i < n; i++) {
		crash_file(v, files[i]);
	}
}

void simvfs_wipe(simvfs *v, const char *path_prefix)
{
	sv_file *files[SIMVFS_FILES_MAX];
	v->stats.wipes++;
	handles_kill_under(v, path_prefix);
	uint32_t n = files_under(v, path_prefix, files);
	for (uint32_t i = 0; i < n; i++) {
		file_unlink(v, files[i]);
	}
}

void simvfs_time_set(simvfs *v, int64_t unix_ms)
{
	v->time_ms = unix_ms;
}

void simvfs_stats_get(const simvfs *v, simvfs_stats *out)
{
	*out = v->stats;
}

int simvfs_file_get(const simvfs *v, const char *path, const uint8_t **data,
    size_t *len)
{
	const sv_file *f = file_find(v, path);
	if (f == NULL) {
		return DN_ENOENT;
	}
	*data = f->live.data;
	*len = f->live.len;
	return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	}
	return h;
}

uint64_t simvfs_digest(const simvfs *v, const char *path_prefix)
{
	sv_file *files[SIMVFS_FILES_MAX];
	uint32_t n = files_under(v, path_prefix, files);
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (uint32_t i = 0; i < n; i++) {
		const sv_file *f = files[i];
		uint64_t lens[2] = { f->durable.len, f->live.len };
		h = fnv(h, f->path, strlen(f->path) + 1);
		h = fnv(h, lens, sizeof(lens));
		if (f->durable.len != 0) {
			h = fnv(h, f->durable.data, f->durable.len);
		}
		if (f->live.len != 0) {
			h = fnv(h, f->live.data, f->live.len);
		}
	}
	return h;
}
