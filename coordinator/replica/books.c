/*
 * books.c - a replica's books checksum and the group's members in its store
 * (replica.h, docs/replication.md "Members and checksums").
 *
 * The checksum is taken inside the apply of one entry, chosen by the group
 * clock every replica gets from the log (the first entry of every period:
 * group.checksum_ms, times one more for every REPLICA_SUM_ORDERS orders in
 * the store, replica_sum_period_ms), so two replicas hold a checksum of the same
 * books at the same Raft index: equal when their books are equal.
 *
 * The members (ids, replication addresses, client URLs) live in the store's
 * group_members table, written only by REPLICA_MEMBERS entries: a snapshot
 * or a genesis image carries them, so a replica restored from empty knows
 * the URLs of members added after the daemon's flags were written.
 *
 * Thread model: the replica's loop thread; a checksum's scan runs on
 * libuv's thread pool over a connection of its own (books_job).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include <uv.h>
#include "core/err.h"
#include "io/codec.h"
#include "io/log.h"
#include "replica.h"

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t k = 0; k < n; k++) {
		h = (h ^ b[k]) * FNV_PRIME;
	}
	return h;
}

/* One value with its type: integers and reals by their 8 bytes (no
 * conversion to text), text and blobs by their bytes. */
static uint64_t books_value(sqlite3_stmt *st, int col, uint64_t r)
{
	uint8_t type = (uint8_t)sqlite3_column_type(st, col);
	r = fnv(r, &type, 1);
	if (type == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(st, col);
		r = fnv(r, &v, sizeof(v));
	} else if (type == SQLITE_FLOAT) {
		double v = sqlite3_column_double(st, col);
		r = fnv(r, &v, sizeof(v));
	} else if (type != SQLITE_NULL) {
		const void *p = sqlite3_column_blob(st, col);
		int n = sqlite3_column_bytes(st, col);
		r = fnv(r, p, p != NULL ? (size_t)n : 0);
	}
	return (r ^ 0xffu) * FNV_PRIME;   /* column end */
}

/* Every row of table into *h: each row hashed on its own (every column,
 * with its SQLite type), the rows combined by a sum, so the scan order
 * does not matter and nothing is sorted; then the row count. */
static int books_table(sqlite3 *db, const char *table, uint64_t *h)
{
	char sql[320];
	sqlite3_stmt *st = NULL;
	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	int ncol = sqlite3_column_count(st);
	uint64_t rows = 0, acc = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t r = FNV_OFFSET;
		for (int col = 0; col < ncol; col++) {
			r = books_value(st, col, r);
		}
		/* A final mix, so that sums of rows differing in one byte
		 * differ in many bits. */
		r ^= r >> 33;
		r *= 0xff51afd7ed558ccdULL;
		r ^= r >> 33;
		acc += r;
		rows++;
	}
	sqlite3_finalize(st);
	*h = fnv(*h, table, strlen(table) + 1);
	*h = fnv(*h, &rows, sizeof(rows));
	*h = fnv(*h, &acc, sizeof(acc));
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

/* The checksum over db's tables (see replica.h). */
static int books_sum_db(sqlite3 *db, uint64_t *sum)
{
	sqlite3_stmt *st = NULL;
	uint64_t h = FNV_OFFSET;
	*sum = 0;
	if (db == NULL || sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE"
	    " type = 'table' AND name NOT IN ('coord_clock', 'peer_counters') AND name NOT LIKE"
	    " 'sqlite_%' ORDER BY name", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	int rv = 0;
	while (rv == 0 && sqlite3_step(st) == SQLITE_ROW) {
		rv = books_table(db, (const char *)sqlite3_column_text(st, 0), &h);
	}
	sqlite3_finalize(st);
	if (rv == 0) {
		*sum = h;
	}
	return rv;
}

int replica_books_sum(coord *c, uint64_t *sum)
{
	return books_sum_db(c->db, sum);
}

static void books_set(replica *r, uint64_t sum, uint64_t index, uint64_t mono)
{
	r->sum = sum;
	r->sum_index = index;
	r->sum_mono_ms = mono;
	log_debug("replica.sum", "index=%llu mono_ms=%llu sum=%016llx",
	    (unsigned long long)index, (unsigned long long)mono, (unsigned long long)sum);
}

/* One scan off the loop thread: its own connection, in a read
 * transaction opened at the checksum's entry. */
typedef struct {
	uv_work_t work;
	replica *r;
	sqlite3 *db;
	uint64_t index, mono, restores, sum;
	uint64_t started_ns, took_ns;
	int rv;
} books_job;

static uint64_t books_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void books_job_run(uv_work_t *w)
{
	books_job *j = w->data;
	uint64_t t0 = books_now_ns();
	j->rv = books_sum_db(j->db, &j->sum);
	j->took_ns = books_now_ns() - t0;
}

static void books_job_done(uv_work_t *w, int status)
{
	books_job *j = w->data;
	replica *r = j->r;
	(void)sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(j->db);
	r->sum_busy = false;
	/* A restore since: that store is gone, and so is this index's view. */
	if (status == 0 && j->rv == 0 && j->restores == r->restores) {
		books_set(r, j->sum, j->index, j->mono);
		log_debug("replica.sum_scan", "index=%llu ms=%.1f", (unsigned long long)j->index,
		    (double)j->took_ns / 1e6);
	} else if (j->restores == r->restores) {
		log_warn("replica.sum_failed", "index=%llu err=%s", (unsigned long long)j->index,
		    dn_strerror(j->rv != 0 ? j->rv : DN_ECLOSED));
	}
	free(j);
}

/* The checksum's period at the entry just applied: sum_ms times one more
 * for every REPLICA_SUM_ORDERS orders in the store. A scan reads the whole
 * store, so at a fixed period its cost grew with the store without bound
 * (measured on a 3-replica local network with 150,000 orders, about 40 MB:
 * 20-40 us of CPU per order summed over the replicas, 9-26 % of the
 * group's rate); with the period growing as the store does, a scan's share
 * of a core stays about what it is at REPLICA_SUM_ORDERS. The orders are
 * the journal's highest id: the same on every replica after the same
 * entry, so every replica picks the same entries. */
uint64_t replica_sum_period_ms(const replica *r)
{
	sqlite3_stmt *st = NULL;
	uint64_t orders = 0;
	if (sqlite3_prepare_v2(r->c->db, "SELECT max(id) FROM orders", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		orders = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return r->sum_ms * (1u + orders / REPLICA_SUM_ORDERS);
}

void replica_sum_maybe(replica *r, uint64_t prev_mono, uint64_t mono)
{
	/* A period is a multiple of sum_ms: its boundaries are among sum_ms's,
	 * so the store is asked only at those. */
	if (r->sum_ms == 0 || prev_mono / r->sum_ms == mono / r->sum_ms) {
		return;
	}
	uint64_t period = replica_sum_period_ms(r);
	if (prev_mono / period == mono / period) {
		return;
	}
	if (r->loop == NULL) {
		uint64_t sum = 0;
		if (replica_books_sum(r->c, &sum) == 0) {
			books_set(r, sum, r->index, mono);
		} else {
			log_warn("replica.sum_failed", "index=%llu", (unsigned long long)r->index);
		}
		return;
	}
	if (r->sum_busy) {
		log_warn("replica.sum_skipped", "index=%llu reason=\"the previous scan still runs\"",
		    (unsigned long long)r->index);
		return;
	}
	books_job *j = calloc(1, sizeof(*j));
	if (j == NULL || (j->db = replica_pin(r, "replica.sum_failed")) == NULL) {
		free(j);
		return;
	}
	j->work.data = j;
	j->r = r;
	j->index = r->index;
	j->mono = mono;
	j->restores = r->restores;
	if (uv_queue_work(r->loop, &j->work, books_job_run, books_job_done) != 0) {
		sqlite3_close(j->db);
		free(j);
		return;
	}
	r->sum_busy = true;
}

int replica_members_pack(replica *r, const replica_member *m, size_t n, uint64_t mono,
    int64_t wall, uint8_t **buf, size_t *len)
{
	Dropnet__ReplicaInfo info[REPLICA_MEMBERS_MAX];
	Dropnet__ReplicaInfo *ip[REPLICA_MEMBERS_MAX];
	*buf = NULL;
	if (n == 0 || n > REPLICA_MEMBERS_MAX) {
		return DN_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		dropnet__replica_info__init(&info[i]);
		info[i].id = m[i].id;
		info[i].raft = (char *)m[i].raft;
		info[i].ingest = (char *)m[i].url[0];
		info[i].hub = (char *)m[i].url[1];
		info[i].ops = (char *)m[i].url[2];
		ip[i] = &info[i];
	}
	Dropnet__ReplicaEntry e;
	replica_entry_head(r, &e, REPLICA_KIND_MEMBERS, mono, wall);
	e.n_members = n;
	e.members = ip;
	return codec_replica_entry_pack(&e, buf, len);
}

static int members_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : DN_EIO;
}

static int members_insert(sqlite3 *db, const Dropnet__ReplicaInfo *m)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO group_members (id, raft, ingest, hub, ops)"
	    " VALUES (?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		return DN_EIO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)m->id);
	sqlite3_bind_text(st, 2, m->raft, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->ingest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->hub, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->ops, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : DN_EIO;
}

int replica_members_apply(replica *r, const Dropnet__ReplicaEntry *e)
{
	sqlite3 *db = r->c->db;
	if (e->n_members == 0 || e->n_members > REPLICA_MEMBERS_MAX) {
		return DN_EPROTO;
	}
	int rv = members_exec(db, "BEGIN IMMEDIATE");
	if (rv == 0) {
		rv = members_exec(db, "CREATE TABLE IF NOT EXISTS group_members (id INTEGER"
		    " PRIMARY KEY, raft TEXT NOT NULL, ingest TEXT NOT NULL, hub TEXT NOT NULL,"
		    " ops TEXT NOT NULL); DELETE FROM group_members");
		for (size_t i = 0; rv == 0 && i < e->n_members; i++) {
			rv = members_insert(db, e->members[i]);
		}
		rv = rv == 0 ? members_exec(db, "COMMIT") : rv;
		if (rv != 0) {
			log_error("replica.members_failed", "err=\"%s\"", sqlite3_errmsg(db));
			(void)members_exec(db, "ROLLBACK");
		}
	}
	r->members_gen++;
	log_info("replica.members", "members=%zu err=%s", e->n_members, dn_strerror(rv));
	return rv;
}

size_t replica_members_get(replica *r, replica_member *out, size_t max)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	if (!r->open || sqlite3_prepare_v2(r->c->db, "SELECT id, raft, ingest, hub, ops FROM"
	    " group_members ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		return 0;      /* none recorded: no table yet */
	}
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		replica_member *m = &out[n++];
		memset(m, 0, sizeof(*m));
		m->id = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(m->raft, sizeof(m->raft), "%s", (const char *)sqlite3_column_text(st, 1));
		for (int k = 0; k < REPLICA_URLS; k++) {
			snprintf(m->url[k], sizeof(m->url[k]), "%s",
			    (const char *)sqlite3_column_text(st, 2 + k));
		}
	}
	sqlite3_finalize(st);
	return n;
}
