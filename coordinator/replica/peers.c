/*
 * peers.c - the group's peers table (replica.h, docs/replication.md "Who
 * may speak, in a group").
 *
 * Every replica checks each request's signature and role at apply, against
 * the machine's peers table (c->peers). Were that table each replica's own
 * file, reloaded at each replica's own SIGHUP, a storefront revoked on two
 * replicas before the third reloads would be refused there and accepted on
 * the third: the books part. So the table is replicated state: the leader
 * proposes its file's text (REPLICA_PEERS), every replica swaps its table
 * at that index, and the text lives in the store (secrets, name 'peers'),
 * so the genesis image and every snapshot carry it.
 *
 * Thread model: the replica's loop thread (libraft's apply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "core/err.h"
#include "io/auth.h"
#include "io/codec.h"
#include "io/log.h"
#include "replica.h"

#define PEERS_ROW "peers"

int replica_peers_pack(replica *r, const char *text, size_t len, uint64_t mono,
    int64_t wall, uint64_t *proposal, uint8_t **buf, size_t *blen)
{
	*buf = NULL;
	char err[160] = "";
	auth_table *t = NULL;
	if (len + 256 > DN_REPLICA_ENTRY_MAX_BYTES) {
		return DN_EINVAL;
	}
	int rv = auth_table_parse(text, len, &t, err, sizeof(err));
	auth_table_destroy(t);
	if (rv != 0) {
		return rv;
	}
	Dropnet__ReplicaEntry e;
	replica_entry_head(r, &e, REPLICA_KIND_PEERS, mono, wall);
	e.peers.data = (uint8_t *)text;
	e.peers.len = len;
	*proposal = e.proposal;
	return codec_replica_entry_pack(&e, buf, blen);
}

/* Writes text as the group's peers row, in a transaction of its own. */
static int peers_row_put(sqlite3 *db, const char *text, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO secrets(name, value)"
		    " VALUES('" PEERS_ROW "', ?1)", -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		/* A zero-length blob binds as NULL: zeroblob(0) keeps NOT NULL. */
		rc = len > 0 ? sqlite3_bind_blob(st, 1, text, (int)len, SQLITE_STATIC) :
		    sqlite3_bind_zeroblob(st, 1, 0);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		log_error("replica.peers_write_failed", "err=\"%s\"", sqlite3_errmsg(db));
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return DN_EIO;
	}
	return 0;
}

/* The group's row for table t: its text, or an empty value for no table
 * (anonymous); an empty table (no peer at all) is kept as one newline. */
static int peers_row_put_table(sqlite3 *db, const auth_table *t)
{
	if (t == NULL) {
		return peers_row_put(db, "", 0);
	}
	return t->text_len > 0 ? peers_row_put(db, t->text, t->text_len) :
	    peers_row_put(db, "\n", 1);
}

/* The machine's table becomes t (NULL: anonymous), each operator keeping
 * the replay state it had. */
static void peers_swap(replica *r, auth_table *t)
{
	auth_table_carry(r->c->peers, t);
	auth_table_destroy(r->c->peers);
	r->c->peers = t;
}

int replica_peers_apply(replica *r, const Dropnet__ReplicaEntry *e)
{
	char err[160] = "";
	auth_table *t = NULL;
	int rv = auth_table_parse((const char *)e->peers.data, e->peers.len, &t, err,
	    sizeof(err));
	if (rv == DN_EINVAL) {
		/* The leader parsed it before proposing: not reached but by a
		 * bug; every replica refuses the same bytes alike. */
		log_error("replica.peers_bad", "err=\"%s\" kept=old", err);
		return 0;
	}
	if (rv != 0) {
		return DN_EIO;   /* out of memory: this replica cannot follow */
	}
	rv = peers_row_put_table(r->c->db, t);
	if (rv != 0) {
		auth_table_destroy(t);
		return rv;
	}
	peers_swap(r, t);
	log_info("replica.peers", "peers=%zu bytes=%zu", t->n, t->text_len);
	return 0;
}

int replica_peers_save(replica *r)
{
	return peers_row_put_table(r->c->db, r->c->peers);
}

int replica_peers_load(replica *r)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = r->c->db;
	if (sqlite3_prepare_v2(db, "SELECT value FROM secrets WHERE name = '" PEERS_ROW "'",
	    -1, &st, NULL) != SQLITE_OK) {
		log_error("replica.peers_read_failed", "err=\"%s\"", sqlite3_errmsg(db));
		return DN_EIO;
	}
	int rc = sqlite3_step(st), rv = 0;
	if (rc == SQLITE_ROW) {
		const char *text = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		auth_table *t = NULL;
		char err[160] = "";
		rv = len > 0 ? auth_table_parse(text, len, &t, err, sizeof(err)) : 0;
		if (rv == 0) {
			if (t == NULL && r->c->peers != NULL) {
				log_warn("replica.peers_anonymous", "hint=\"the group's genesis ran"
				    " without auth.peers_file: this replica checks no signature\"");
			}
			peers_swap(r, t);
		} else {
			log_error("replica.peers_bad", "err=\"%s\" kept=own", err);
			rv = rv == DN_EINVAL ? DN_EIO : rv;
		}
	} else if (rc != SQLITE_DONE) {
		log_error("replica.peers_read_failed", "err=\"%s\"", sqlite3_errmsg(db));
		rv = DN_EIO;
	} else {
		log_info("replica.peers_own", "reason=\"the group's store keeps no peers"
		    " table (made before it did): this replica's auth.peers_file stands\"");
	}
	sqlite3_finalize(st);
	return rv;
}
