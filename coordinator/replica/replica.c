/*
 * replica.c - the coordinator machine driven by committed log entries (see
 * replica.h for the model and the snapshot layout).
 *
 * Nothing here decides anything of the machine's: an entry is decoded and
 * handed to the machine's public entry points exactly as the single node's
 * shell (coordinator/daemon/main.c) hands it a socket batch. What this file
 * adds is what a group needs on top: the group clock, the genesis and
 * snapshot images, and the rule that a replica which cannot commit a
 * committed entry stops instead of answering UNAVAILABLE.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "replica.h"

_Static_assert(REPLICA_KIND_GENESIS == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_GENESIS &&
    REPLICA_KIND_INGEST == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_INGEST &&
    REPLICA_KIND_HUBSYNC == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_HUBSYNC &&
    REPLICA_KIND_OPS == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_OPS &&
    REPLICA_KIND_TICK == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_TICK &&
    REPLICA_KIND_REOPEN == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_REOPEN &&
    REPLICA_KIND_MEMBERS == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_MEMBERS &&
    REPLICA_KIND_PEERS == (int)DROPNET__REPLICA_ENTRY_KIND__REPLICA_PEERS,
    "replica.h's kinds are proto ReplicaEntryKind's");

/* A pinned read waits at most this long for a lock (on the loop thread). */
#define REPLICA_PIN_BUSY_MS 100
/* Protobuf framing of one request inside an entry: tag + length varint. */
#define REPLICA_REQ_OVERHEAD 16
/* Room for the entry's own fields beside its requests. */
#define REPLICA_ENTRY_OVERHEAD 128

int replica_init(replica *r, coord *c, const char *path, uint64_t nonce)
{
	memset(r, 0, sizeof(*r));
	if (c == NULL || path == NULL || nonce == 0 ||
	    strlen(path) >= sizeof(r->path)) {
		return DN_EINVAL;
	}
	r->c = c;
	r->nonce = nonce;
	r->sum_ms = REPLICA_SUM_MS;
	snprintf(r->path, sizeof(r->path), "%s", path);
	return 0;
}

void replica_machine_close(replica *r)
{
	if (r != NULL && r->open) {
		coord_close(r->c);
		r->open = false;
	}
}

void replica_fini(replica *r)
{
	if (r == NULL) {
		return;
	}
	replica_machine_close(r);
	/* A snapshot libraft began but never finalized (closed meanwhile):
	 * libraft is closed before this, so no worker holds it any more. */
	replica_snapshot_end(r->snap);
	r->snap = NULL;
}

int replica_machine_open(replica *r)
{
	assert(!r->open);
	int rv = coord_open(r->c, r->path, NULL);
	r->open = rv == 0;
	return rv;
}

/* Opens the machine on a file the group wrote (a snapshot's or the
 * genesis's image, or the same file again at a REOPEN) with no fsync per
 * commit: such a file is never reopened after a crash - a restart replaces
 * it with the last snapshot (or the genesis) and replays the Raft log,
 * whose entries libraft made durable before they were committed
 * (docs/replication.md "Durability"). At FULL every applied entry waited
 * for an fsync on the loop thread (a restarted member replaying its log
 * too). (A bootstrapper's own file, perhaps an existing single node's, is
 * opened by replica_machine_open at FULL.) */
static int replica_machine_open_group(replica *r)
{
	int rv = replica_machine_open(r);
	if (rv == DN_ERANGE) {
		/* The group's file holds more hubs than this replica's
		 * coordinator.hubs_max: a config to fix (DN_EINVAL: the
		 * replica stops with exit 78), not a store to rebuild. */
		log_error("replica.config_mismatch", "why=hubs_max hubs_max=%zu path=%s"
		    " hint=\"every replica must run with the same coordinator.hubs_max\"",
		    r->c->hubs_max, r->path);
		return DN_EINVAL;
	}
	if (rv == 0 && db_exec(r->c->db, "PRAGMA synchronous=OFF") != 0) {
		log_warn("replica.sync_full", "path=%s", r->path);
	}
	return rv;
}

void replica_lead_begin(replica *r, uint64_t local_mono, int64_t wall)
{
	uint64_t base = r->applied_mono_ms > r->stamp_mono_ms ? r->applied_mono_ms :
	    r->stamp_mono_ms;
	/* The time an election took passes on the group clock too, by the
	 * wall clock (the old leader's monotonic clock is gone with it). */
	if (r->applied_wall_ms != 0 && wall > r->applied_wall_ms) {
		base += (uint64_t)(wall - r->applied_wall_ms);
	}
	r->lead_offset_ms = (int64_t)(base - local_mono);
}

void replica_stamp(replica *r, uint64_t local_mono, int64_t wall,
    uint64_t *mono_out, int64_t *wall_out)
{
	int64_t m = (int64_t)local_mono + r->lead_offset_ms;
	uint64_t mono = m > 0 ? (uint64_t)m : 1;
	if (mono < r->stamp_mono_ms) {
		mono = r->stamp_mono_ms;
	}
	if (mono < r->applied_mono_ms) {
		mono = r->applied_mono_ms;
	}
	r->stamp_mono_ms = mono;
	*mono_out = mono;
	*wall_out = wall;
}

size_t replica_batch_fit(const size_t *lens, size_t n)
{
	size_t total = REPLICA_ENTRY_OVERHEAD, i = 0;
	for (; i < n; i++) {
		size_t one = lens[i] + REPLICA_REQ_OVERHEAD;
		if (i > 0 && one > DN_REPLICA_ENTRY_MAX_BYTES - total) {
			break;
		}
		total += one;
	}
	return i;
}

static bool replica_kind_valid(int kind, size_t n)
{
	switch (kind) {
	case REPLICA_KIND_INGEST:
	case REPLICA_KIND_HUBSYNC:
	case REPLICA_KIND_OPS:
		return n > 0 && n <= DN_SERVER_CTX_MAX;
	case REPLICA_KIND_TICK:
	case REPLICA_KIND_REOPEN:
	case REPLICA_KIND_MEMBERS:
	case REPLICA_KIND_PEERS:
		return n == 0;
	default:
		return false;
	}
}

void replica_entry_head(replica *r, Dropnet__ReplicaEntry *e, int kind, uint64_t mono,
    int64_t wall)
{
	dropnet__replica_entry__init(e);
	e->version = DN_PROTO_VERSION;
	e->kind = (Dropnet__ReplicaEntryKind)kind;
	e->mono_ms = mono;
	e->wall_ms = wall;
	e->origin = r->nonce;
	e->proposal = ++r->proposal_last;
}

int replica_entry_pack(replica *r, int kind, const uint8_t *const *bodies,
    const size_t *lens, size_t n, uint64_t mono, int64_t wall, uint64_t *proposal,
    uint8_t **buf, size_t *len)
{
	*buf = NULL;
	/* PEERS and MEMBERS carry a payload: their own pack functions. */
	if (kind == REPLICA_KIND_PEERS || kind == REPLICA_KIND_MEMBERS ||
	    !replica_kind_valid(kind, n) || replica_batch_fit(lens, n) != n) {
		return DN_EINVAL;
	}
	ProtobufCBinaryData reqs[DN_SERVER_CTX_MAX];
	for (size_t i = 0; i < n; i++) {
		reqs[i].data = (uint8_t *)bodies[i];
		reqs[i].len = lens[i];
	}
	Dropnet__ReplicaEntry e;
	replica_entry_head(r, &e, kind, mono, wall);
	e.n_requests = n;
	e.requests = n > 0 ? reqs : NULL;
	*proposal = e.proposal;
	return codec_replica_entry_pack(&e, buf, len);
}

/* An image of the open store, taken with the backup API into memory and
 * serialized: a consistent copy whatever the WAL holds. *img is
 * sqlite3_malloc'd. */
static int replica_image(sqlite3 *src, const char *path, unsigned char **img,
    sqlite3_int64 *len)
{
	sqlite3 *mem = NULL;
	*img = NULL;
	if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(mem);
		return DN_ENOMEM;
	}
	int rv = DN_EIO;
	sqlite3_backup *b = sqlite3_backup_init(mem, "main", src, "main");
	if (b != NULL) {
		int rc = sqlite3_backup_step(b, -1);
		if (sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE) {
			*img = sqlite3_serialize(mem, "main", len, 0);
			rv = *img != NULL ? 0 : DN_ENOMEM;
		}
	}
	if (rv != 0) {
		log_error("replica.image_failed", "path=%s err=\"%s\"", path,
		    sqlite3_errmsg(mem));
	}
	sqlite3_close(mem);
	return rv;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

/* A snapshot's header and memory image (none for a genesis), as of the
 * last applied entry: *head is malloc'd, REPLICA_SNAPSHOT_HEADER + mlen. */
static int replica_snapshot_head(replica *r, bool memory, uint8_t **head, size_t *len)
{
	*head = NULL;
	uint8_t *mem = NULL;
	size_t mlen = 0;
	int rv = memory ? coord_memory_pack(r->c, &mem, &mlen) : 0;
	if (rv != 0) {
		return rv;
	}
	uint8_t *b = malloc(REPLICA_SNAPSHOT_HEADER + mlen);
	if (b == NULL) {
		free(mem);
		return DN_ENOMEM;
	}
	memcpy(b, REPLICA_SNAPSHOT_MAGIC, 8);
	put_u64(b + 8, r->applied_mono_ms);
	put_u64(b + 16, (uint64_t)r->applied_wall_ms);
	put_u64(b + 24, mlen);
	if (mlen > 0) {
		memcpy(b + REPLICA_SNAPSHOT_HEADER, mem, mlen);
	}
	free(mem);
	*head = b;
	*len = REPLICA_SNAPSHOT_HEADER + mlen;
	return 0;
}

/* The whole snapshot: head (taken over: freed or grown into *buf) and an
 * image of store src (path: for the log). */
static int replica_snapshot_join(uint8_t *head, size_t hlen, sqlite3 *src, const char *path,
    uint8_t **buf, size_t *len)
{
	*buf = NULL;
	unsigned char *img = NULL;
	sqlite3_int64 ilen = 0;
	int rv = replica_image(src, path, &img, &ilen);
	uint8_t *b = rv == 0 ? realloc(head, hlen + (size_t)ilen) : NULL;
	if (b == NULL) {
		free(head);
		sqlite3_free(img);
		return rv != 0 ? rv : DN_ENOMEM;
	}
	memcpy(b + hlen, img, (size_t)ilen);
	sqlite3_free(img);
	*buf = b;
	*len = hlen + (size_t)ilen;
	return 0;
}

/* A genesis image: the snapshot layout without the machine's memory, from
 * the machine's own connection. */
static int replica_genesis_take(replica *r, uint8_t **buf, size_t *len)
{
	*buf = NULL;
	if (!r->open) {
		return DN_ESTATE;
	}
	uint8_t *head = NULL;
	size_t hlen = 0;
	int rv = replica_snapshot_head(r, false, &head, &hlen);
	return rv != 0 ? rv : replica_snapshot_join(head, hlen, r->c->db, r->path, buf, len);
}

sqlite3 *replica_pin(const replica *r, const char *event)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	/* The busy timeout rides out a checkpoint's brief lock. */
	if (sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK || sqlite3_busy_timeout(db, REPLICA_PIN_BUSY_MS) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		log_warn(event, "index=%llu err=\"%s\"", (unsigned long long)r->index,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_finalize(st);
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_finalize(st);
	return db;
}

struct replica_snap {
	sqlite3 *db;             /* pinned at the snapshot's entry */
	uint8_t *head;           /* header and memory image */
	size_t hlen;
	char path[DN_CONF_STR_MAX + 32];
	uint64_t index;          /* Raft index of the entry it stands at */
	uint64_t loop_ns, copy_ns; /* spent in begin (the loop), in image */
	size_t bytes;            /* the snapshot's size, once made */
};

static uint64_t snap_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int replica_snapshot_begin(replica *r, replica_snap **out)
{
	*out = NULL;
	if (!r->open) {
		return DN_ESTATE;
	}
	uint64_t t0 = snap_now_ns();
	replica_snap *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DN_ENOMEM;
	}
	snprintf(s->path, sizeof(s->path), "%s", r->path);
	s->index = r->index;
	int rv = replica_snapshot_head(r, true, &s->head, &s->hlen);
	if (rv == 0 && (s->db = replica_pin(r, "replica.snapshot_failed")) == NULL) {
		rv = DN_EIO;
	}
	if (rv != 0) {
		replica_snapshot_end(s);
		return rv;
	}
	s->loop_ns = snap_now_ns() - t0;
	*out = s;
	return 0;
}

int replica_snapshot_image(replica_snap *s, uint8_t **buf, size_t *len)
{
	uint64_t t0 = snap_now_ns();
	uint8_t *head = s->head;
	s->head = NULL;
	int rv = replica_snapshot_join(head, s->hlen, s->db, s->path, buf, len);
	s->copy_ns = snap_now_ns() - t0;
	s->bytes = rv == 0 ? *len : 0;
	return rv;
}

void replica_snapshot_end(replica_snap *s)
{
	if (s != NULL) {
		if (s->bytes > 0) {
			log_info("replica.snapshot", "index=%llu bytes=%zu loop_ms=%.2f copy_ms=%.2f",
			    (unsigned long long)s->index, s->bytes, (double)s->loop_ns / 1e6,
			    (double)s->copy_ns / 1e6);
		}
		if (s->db != NULL) {
			(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		}
		sqlite3_close(s->db);
		free(s->head);
		free(s);
	}
}

int replica_genesis_pack(replica *r, uint64_t mono, int64_t wall, uint8_t **buf,
    size_t *len)
{
	uint8_t *snap = NULL;
	size_t slen = 0;
	r->applied_mono_ms = mono;
	r->applied_wall_ms = wall;
	/* The machine config's digest goes into the image: every replica
	 * checks it at each restore (coord_config_digest_check). */
	int rv = r->open ? coord_config_digest_save(r->c) : DN_ESTATE;
	/* So is who may speak: the group's from here on (peers.c). */
	if (rv == 0) {
		rv = replica_peers_save(r);
	}
	if (rv != 0) {
		return rv;
	}
	/* No memory: the bootstrapper's is on its own clock, not the group's;
	 * every replica starts from coord_open's at the genesis. */
	rv = replica_genesis_take(r, &snap, &slen);
	if (rv != 0) {
		return rv;
	}
	Dropnet__ReplicaEntry e;
	replica_entry_head(r, &e, REPLICA_KIND_GENESIS, mono, wall);
	e.genesis.data = snap;
	e.genesis.len = slen;
	rv = slen + REPLICA_ENTRY_OVERHEAD > DN_REPLICA_ENTRY_MAX_BYTES ? DN_ERANGE :
	    codec_replica_entry_pack(&e, buf, len);
	free(snap);
	return rv;
}

/* Writes len bytes to path, durably. */
static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return DN_EIO;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			close(fd);
			return DN_EIO;
		}
		off += (size_t)w;
	}
	int rv = fsync(fd) == 0 ? 0 : DN_EIO;
	return close(fd) == 0 ? rv : DN_EIO;
}

/* Replaces the store file with image (the machine is closed): the old WAL
 * and shared-memory files go first, or SQLite would replay them over it. */
static int replica_replace_file(replica *r, const uint8_t *img, size_t len)
{
	char p[sizeof(r->path) + 8];
	const char *sfx[] = {"-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", r->path, sfx[i]);
		if (unlink(p) != 0 && errno != ENOENT) {
			return DN_EIO;
		}
	}
	snprintf(p, sizeof(p), "%s.tmp", r->path);
	int rv = write_file(p, img, len);
	if (rv == 0 && rename(p, r->path) != 0) {
		rv = DN_EIO;
	}
	if (rv != 0) {
		log_error("replica.restore_write", "path=%s err=\"%s\"", r->path, strerror(errno));
		unlink(p);
	}
	return rv;
}

int replica_restore(replica *r, const uint8_t *buf, size_t len)
{
	/* The header, the memory image, then an SQLite file: its own 100-byte
	 * header first. */
	uint64_t mlen = len >= REPLICA_SNAPSHOT_HEADER ? get_u64(buf + 24) : 0;
	if (len < REPLICA_SNAPSHOT_HEADER + 100 || memcmp(buf, REPLICA_SNAPSHOT_MAGIC, 8) != 0 ||
	    mlen > len - REPLICA_SNAPSHOT_HEADER - 100 ||
	    memcmp(buf + REPLICA_SNAPSHOT_HEADER + mlen, "SQLite format 3", 16) != 0) {
		log_error("replica.snapshot_bad", "len=%zu", len);
		return DN_EPROTO;
	}
	uint64_t mono = get_u64(buf + 8);
	int64_t wall = (int64_t)get_u64(buf + 16);
	const uint8_t *mem = buf + REPLICA_SNAPSHOT_HEADER;
	size_t skip = REPLICA_SNAPSHOT_HEADER + (size_t)mlen;
	replica_machine_close(r);
	int rv = replica_replace_file(r, buf + skip, len - skip);
	if (rv != 0) {
		return rv;
	}
	r->applied_mono_ms = mono;
	r->applied_wall_ms = wall;
	/* The machine starts again on the group's clock (the image's, or the
	 * genesis's): the one this replica ran on before is history - no
	 * stall to credit, nothing to filter, and it may be ahead of the
	 * group's (a bootstrapper opened its store on its local clock). */
	r->c->now_mono_ms = 0;
	r->c->clock_started = false;
	coord_clock_set(r->c, mono, wall);
	rv = replica_machine_open_group(r);
	/* Who may speak is the image's (peers.c), before the replay state
	 * below is set on it. */
	if (rv == 0 && (rv = replica_peers_load(r)) != 0) {
		replica_machine_close(r);
	}
	if (rv == 0) {
		/* The request counters this process saw belong to the history
		 * the image replaces (the image's own come with its memory). */
		coord_memory_peers_reset(r->c);
	}
	if (rv == 0 && (rv = coord_config_digest_check(r->c)) != 0) {
		replica_machine_close(r);
	} else if (rv == 0 && mlen > 0 &&
	    (rv = coord_memory_unpack(r->c, mem, (size_t)mlen)) != 0) {
		replica_machine_close(r);
	}
	if (rv != 0) {
		log_error("replica.restore_open", "path=%s err=%s", r->path, dn_strerror(rv));
		return rv;
	}
	r->restores++;
	r->members_gen++;
	log_info("replica.restored", "path=%s bytes=%zu memory_bytes=%llu incarnation=%llu"
	    " hubs=%zu", r->path, len, (unsigned long long)mlen,
	    (unsigned long long)r->c->incarnation, r->c->nhubs);
	return 0;
}

/* Runs the machine call of e and hands its replies to the hook. */
static int replica_run(replica *r, const Dropnet__ReplicaEntry *e)
{
	static void (*const calls[])(coord *, mreq **, size_t) = {
		[REPLICA_KIND_INGEST] = coord_ingest_request,
		[REPLICA_KIND_HUBSYNC] = coord_hubsync_batch,
		[REPLICA_KIND_OPS] = coord_ops_batch,
	};
	size_t n = e->n_requests;
	if (!replica_kind_valid((int)e->kind, n)) {
		return DN_EPROTO;
	}
	if ((int)e->kind == REPLICA_KIND_TICK) {
		coord_tick(r->c);
		return 0;
	}
	if ((int)e->kind == REPLICA_KIND_MEMBERS) {
		return replica_members_apply(r, e);
	}
	if ((int)e->kind == REPLICA_KIND_PEERS) {
		return replica_peers_apply(r, e);
	}
	if ((int)e->kind == REPLICA_KIND_REOPEN) {
		/* Hub health is not replicated state: a new leader gives every
		 * hub its grace, and every replica does the same at this index,
		 * so their memories stay equal. */
		replica_machine_close(r);
		int rv = replica_machine_open_group(r);
		return rv == 0 || rv == DN_EINVAL ? rv : DN_EIO;
	}
	mreq m[DN_SERVER_CTX_MAX];
	mreq *mp[DN_SERVER_CTX_MAX];
	for (size_t i = 0; i < n; i++) {
		mreq_init(&m[i], e->requests[i].data, e->requests[i].len);
		mp[i] = &m[i];
	}
	calls[e->kind](r->c, mp, n);
	if (r->on_replies != NULL) {
		r->on_replies(r->replies_arg, e->origin, e->proposal, m, n);
	}
	for (size_t i = 0; i < n; i++) {
		assert(m[i].replied);
		mreq_fini(&m[i]);
	}
	return 0;
}

/* A store's incarnation and how many orders and hubs it holds (0 each
 * when it has no such table yet). */
static void store_peek(sqlite3 *db, int64_t *incarnation, int64_t *orders, int64_t *hubs)
{
	sqlite3_stmt *st = NULL;
	*incarnation = *orders = *hubs = 0;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT value FROM meta WHERE key = 'incarnation'),"
	    " (SELECT count(*) FROM orders), (SELECT count(*) FROM hubs)", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*incarnation = sqlite3_column_int64(st, 0);
		*orders = sqlite3_column_int64(st, 1);
		*hubs = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
}

/* The incarnation of a genesis's store image (0: unreadable). */
static int64_t genesis_incarnation(const uint8_t *buf, size_t len)
{
	uint64_t mlen = len >= REPLICA_SNAPSHOT_HEADER ? get_u64(buf + 24) : 0;
	if (len < REPLICA_SNAPSHOT_HEADER + 100 || mlen > len - REPLICA_SNAPSHOT_HEADER - 100) {
		return 0;
	}
	size_t off = REPLICA_SNAPSHOT_HEADER + (size_t)mlen, n = len - off;
	unsigned char *img = sqlite3_malloc64(n);
	sqlite3 *db = NULL;
	int64_t inc = 0, orders, hubs;
	if (img == NULL || sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		sqlite3_free(img);
		sqlite3_close(db);
		return 0;
	}
	memcpy(img, buf + off, n);
	img[18] = img[19] = 1;   /* a rollback-journal header: memdb has no WAL */
	if (sqlite3_deserialize(db, "main", img, (sqlite3_int64)n, (sqlite3_int64)n,
	    SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) == SQLITE_OK) {
		store_peek(db, &inc, &orders, &hubs);
	}
	sqlite3_close(db);
	return inc;
}

/* A genesis replaces this replica's store file. Refused (DN_EINVAL: the
 * process stops, exit 78) when that file holds books of another store -
 * orders or hubs under another incarnation: a single node's being turned
 * into a group, whose group was started from another member's (empty)
 * store. Replacing it would lose every order it acknowledged. */
static int replica_genesis_check(replica *r, const uint8_t *buf, size_t len)
{
	sqlite3 *db = NULL;
	if (r->open || sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return 0;    /* no file: nothing to lose (open: the bootstrapper's own) */
	}
	int64_t own, orders, hubs;
	store_peek(db, &own, &orders, &hubs);
	sqlite3_close(db);
	int64_t group = genesis_incarnation(buf, len);
	if ((orders == 0 && hubs == 0) || own == 0 || own == group) {
		return 0;
	}
	log_error("replica.genesis_refused", "path=%s orders=%lld hubs=%lld incarnation=%lld"
	    " group_incarnation=%lld hint=\"this file holds another store's books (a single"
	    " node's?): the group was started from another member's store. Nothing was"
	    " replaced. Start the group from this store: wipe the other members' data dirs"
	    " and start this member first (docs/replication.md, 'A single node becomes a"
	    " group'); or move this file away to join the group as it is\"", r->path,
	    (long long)orders, (long long)hubs, (long long)own, (long long)group);
	return DN_EINVAL;
}

int replica_apply(replica *r, const uint8_t *buf, size_t len)
{
	Dropnet__ReplicaEntry *e = NULL;
	int rv = codec_replica_entry_unpack(buf, len, &e);
	if (rv != 0) {
		log_error("replica.entry_bad", "len=%zu err=%s", len, dn_strerror(rv));
		codec_replica_entry_free(e);
		return DN_EPROTO;
	}
	if (e->kind == DROPNET__REPLICA_ENTRY_KIND__REPLICA_GENESIS) {
		rv = replica_genesis_check(r, e->genesis.data, e->genesis.len);
		rv = rv != 0 ? rv : replica_restore(r, e->genesis.data, e->genesis.len);
	} else if (!r->open) {
		log_error("replica.no_genesis", "kind=%d", (int)e->kind);
		rv = DN_ESTATE;
	} else {
		uint64_t failures = r->c->commit_failures;
		uint64_t prev_mono = r->applied_mono_ms;
		coord_clock_set(r->c, e->mono_ms, e->wall_ms);
		r->applied_mono_ms = e->mono_ms;
		r->applied_wall_ms = e->wall_ms;
		rv = replica_run(r, e);
		/* The single node discards a batch whose commit failed and
		 * answers UNAVAILABLE; a replica that did so would hold other
		 * books than the group's. It stops instead. */
		if (rv == 0 && (r->c->commit_failures != failures || r->c->degraded)) {
			log_error("replica.commit_failed", "kind=%d proposal=%llu", (int)e->kind,
			    (unsigned long long)e->proposal);
			rv = DN_EIO;
		}
		if (rv == 0) {
			replica_sum_maybe(r, prev_mono, e->mono_ms);
		}
	}
	if (e->peers.len > 0) {
		memset(e->peers.data, 0, e->peers.len);   /* every peer's secret */
	}
	codec_replica_entry_free(e);
	if (rv == 0) {
		r->applied++;
	}
	return rv;
}
