/*
 * replica.h - one replica of a replicated coordinator group: the coordinator
 * machine driven by committed log entries instead of by sockets
 * (docs/replication.md).
 *
 * What is replicated is the machine's *inputs*, never its state: an entry
 * (proto ReplicaEntry) is one machine call - a batch of ingest, hub sync or
 * ops request bodies, or a tick - with the group's clock reading. Applying
 * it on any replica is coord_clock_set(mono, wall) followed by that call,
 * in log order, so every replica's store goes through the same
 * transactions. The leader's replies are released only by the apply of its
 * own entry, that is after the entry was committed on a majority.
 *
 * The first entry of a group is its genesis: a store image every replica
 * adopts, so the store's incarnation id belongs to the group, not to one
 * replica's file. A snapshot is the same kind of image (SQLite's backup
 * API) behind a small header; a restore replaces the store file and reopens
 * the machine.
 *
 * Consensus is not here: coordinator/replica/raft_glue.c adapts this to
 * libraft, and is the only file that knows it.
 *
 * Thread model: the owner's loop thread (the raft instance's), like the
 * machine it drives.
 */
#ifndef DN_REPLICA_H
#define DN_REPLICA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "coord.h"
#include "io/mreq.h"

/* Called for every applied entry that carried requests, on every replica:
 * origin and proposal say who proposed it (replica.nonce, its counter);
 * reqs[i] holds the machine's reply to request i. Only the proposer (origin
 * == its own nonce) has clients to answer; the others ignore it. The mreqs
 * and their replies are freed when the hook returns. */
typedef void (*replica_replies_fn)(void *arg, uint64_t origin, uint64_t proposal,
    mreq *reqs, size_t n);

/* One member of the group and its URLs (ingest, hub sync, ops), as the
 * daemon's --replica flags and REPLICA_MEMBERS entries carry them. */
#define REPLICA_URLS 3
#define REPLICA_MEMBERS_MAX 7
typedef struct {
	uint64_t id;                          /* > 0, unique in the group */
	char raft[DN_CONF_STR_MAX];           /* "IP:port", replication (plaintext) */
	char url[REPLICA_URLS][DN_CONF_STR_MAX]; /* ingest, hub, ops URLs */
} replica_member;

/* The books checksum is taken at the first entry whose group clock is in a
 * new period of sum_ms (books.c; default this, group.checksum_ms): at the
 * same entry on every replica of one config, so replicas that agree at one
 * index print one checksum. */
#define REPLICA_SUM_MS 5000
/* ... and the period grows by sum_ms for every this many orders in the
 * store (a scan's cost grows with the store; books.c). */
#define REPLICA_SUM_ORDERS 25000

typedef struct replica {
	coord *c;                 /* the machine; cfg and split set by the owner */
	char path[DN_CONF_STR_MAX + 32]; /* the store file */
	bool open;                /* c holds an open store */
	uint64_t nonce;           /* this process's origin id, never 0 */
	uint64_t proposal_last;   /* proposals made by this process */
	/* The group clock as of the last applied entry. */
	uint64_t applied_mono_ms;
	int64_t applied_wall_ms;
	/* Leading: group mono = local mono + offset, never below a stamp
	 * already given (replica_lead_begin, replica_stamp). */
	int64_t lead_offset_ms;
	uint64_t stamp_mono_ms;
	uint64_t applied;         /* entries applied since replica_init */
	uint64_t restores;        /* genesis and snapshot images adopted */
	replica_replies_fn on_replies;
	void *replies_arg;
	/* The consensus library's instance (raft_glue.c sets it; NULL: the
	 * Raft index is not known, index stays 0). */
	void *glue;
	uint64_t index;           /* Raft index of the entry applied last */
	/* The latest books checksum (books.c) and where it was taken. */
	uint64_t sum;
	uint64_t sum_index;
	uint64_t sum_mono_ms;
	uint64_t members_gen;     /* bumped when group_members may have changed */
	/* The libuv loop (a uv_loop_t) the checksum's scan is queued on, off
	 * the loop thread; NULL (the tests' fixture): scanned in the apply. */
	void *loop;
	bool sum_busy;            /* a scan is running */
	uint64_t sum_ms;          /* checksum period, group clock ms (0: none) */
	/* The group's secret (group.secret_file): replication connections are
	 * authenticated with it (raft_transport.c). Unset: libraft's own
	 * plaintext transport. */
	uint8_t raft_key[DN_AUTH_KEY_BYTES];
	bool raft_key_set;
	/* The snapshot being taken off the loop thread (raft_glue.c; at most
	 * one at a time), NULL: none. */
	struct replica_snap *snap;
	/* raft_glue.c's snapshot interval (raft_glue_snapshot_every): the
	 * configured one (0: fixed, as the tests keep it), and the entries
	 * applied since start with their bytes. */
	unsigned snapshot_base;
	uint64_t log_bytes, log_entries;
} replica;

/* Entry kinds (proto ReplicaEntryKind). */
enum {
	REPLICA_KIND_GENESIS = 1,
	REPLICA_KIND_INGEST = 2,
	REPLICA_KIND_HUBSYNC = 3,
	REPLICA_KIND_OPS = 4,
	REPLICA_KIND_TICK = 5,
	REPLICA_KIND_REOPEN = 6,
	REPLICA_KIND_MEMBERS = 7,
	REPLICA_KIND_PEERS = 8,
};

/* Starts a replica over machine c (cfg and split set, not open) whose store
 * lives at path; nonce identifies this process's proposals (the shell draws
 * it at start; never 0). Opens nothing: the machine opens on a genesis or
 * snapshot entry, or by replica_machine_open. 0 or DN_EINVAL. */
int replica_init(replica *r, coord *c, const char *path, uint64_t nonce);
/* Closes the machine (a process death keeps the file). NULL-safe. */
void replica_fini(replica *r);

/* Opens the machine on the store file as it is: a process that restarts
 * with its file and the applied position the file stands at. 0 or the
 * machine's DN_E* code. */
int replica_machine_open(replica *r);
/* Closes the machine, keeping the file (a process death, in tests). */
void replica_machine_close(replica *r);

/* The leader's side. replica_lead_begin: this replica became leader at
 * local monotonic time local_mono and wall time wall; the group clock goes
 * on from the last applied entry (plus the wall time that passed since,
 * never less). replica_stamp: the group clock for a new entry, never below
 * one given or applied before. */
void replica_lead_begin(replica *r, uint64_t local_mono, int64_t wall);
void replica_stamp(replica *r, uint64_t local_mono, int64_t wall,
    uint64_t *mono_out, int64_t *wall_out);

/* How many of the n requests (lens[i] bytes each) from the first fit in one
 * entry of at most DN_REPLICA_ENTRY_MAX_BYTES: at least 1 when n > 0 (one
 * request is at most DN_MSG_MAX_BYTES). */
size_t replica_batch_fit(const size_t *lens, size_t n);

/* Starts entry e of kind at group time (mono, wall) as this process's next
 * proposal (e->proposal): the fields every entry carries. */
void replica_entry_head(replica *r, Dropnet__ReplicaEntry *e, int kind, uint64_t mono,
    int64_t wall);
/* Packs one entry of kind (INGEST, HUBSYNC, OPS over n request bodies, or
 * TICK or REOPEN with n = 0; a new leader proposes REOPEN first) at group time (mono, wall) as this process's next
 * proposal (*proposal). *buf is malloc'd for the caller. 0, DN_EINVAL (n
 * too large for one entry, or a kind without requests given some) or
 * DN_ENOMEM. */
int replica_entry_pack(replica *r, int kind, const uint8_t *const *bodies,
    const size_t *lens, size_t n, uint64_t mono, int64_t wall, uint64_t *proposal,
    uint8_t **buf, size_t *len);
/* Packs the genesis entry: an image of the machine's open store (the
 * bootstrapping replica's, new or an existing single node's). */
int replica_genesis_pack(replica *r, uint64_t mono, int64_t wall, uint8_t **buf,
    size_t *len);

/* Applies one committed entry. 0; DN_EPROTO when the bytes are not an entry
 * of this version; DN_ESTATE for a machine entry before any genesis; DN_EIO
 * when the machine could not commit it (its store refused a transaction).
 * Any error means this replica can no longer follow the log: the caller
 * stops it (docs/replication.md "A committed entry is never discarded"). */
int replica_apply(replica *r, const uint8_t *buf, size_t len);

/* A snapshot: header + an image of the machine's memory (coord_memory_pack)
 * + an image of the store taken with SQLite's backup API. Layout
 * (little-endian): "DNRSNAP2" (8 bytes), applied mono ms (u64), applied
 * wall ms (i64), memory image length (u64; 0: none, as in a genesis, whose
 * replicas start from coord_open's memory), the memory image, then the
 * SQLite database image. */
#define REPLICA_SNAPSHOT_MAGIC "DNRSNAP2"
#define REPLICA_SNAPSHOT_HEADER 32
/* A snapshot is made in two halves, so the store's copy - the long part -
 * runs off the loop thread while entries go on being applied:
 * replica_snapshot_begin (the loop thread, between two applies) packs the
 * memory image and pins a read transaction of its own on the store, both
 * as of the last applied entry; replica_snapshot_image (any one thread,
 * once) copies the pinned store and makes the snapshot (*buf malloc'd);
 * replica_snapshot_end (any thread, after it; NULL-safe) lets it go.
 * begin: 0, DN_ESTATE, DN_EIO or DN_ENOMEM; image: 0, DN_EIO or DN_ENOMEM. */
typedef struct replica_snap replica_snap;
int replica_snapshot_begin(replica *r, replica_snap **out);
int replica_snapshot_image(replica_snap *s, uint8_t **buf, size_t *len);
void replica_snapshot_end(replica_snap *s);
/* A read-only connection to r's store with a read transaction open on its
 * current state (WAL: the writer goes on); NULL on failure, logged as
 * event. The caller COMMITs and closes it. */
struct sqlite3 *replica_pin(const replica *r, const char *event);
/* Replaces the store with a snapshot's image, reopens the machine on it and
 * gives it the snapshot's memory. 0, DN_EPROTO (not a snapshot, or its
 * memory image does not fit its store), DN_EINVAL (the image carries another
 * machine config digest than this replica's: replica.config_mismatch), DN_EIO
 * or the machine's code (then the machine is closed). */
int replica_restore(replica *r, const uint8_t *buf, size_t len);

/* ---- books checksum and members (books.c) ---- */

/* The books checksum of machine c's open store: FNV-1a 64 over every row
 * (all columns, in full column order) of every table but the clock and
 * the operators' counters (coord_clock, peer_counters: written outside
 * the log), tables by name. 0 or DN_EIO. */
int replica_books_sum(coord *c, uint64_t *sum);
/* After an entry at group time mono was applied (prev: the group time of
 * the entry before): takes the checksum when mono starts a new
 * r->sum_ms period (0: never). With a loop: pins the store as it is now (a read
 * transaction on a connection of its own; WAL keeps that view while the
 * machine writes on) and scans it on libuv's thread pool; r->sum and
 * r->sum_index are set when the scan is done. A checksum that cannot be
 * taken is logged and skipped (replica.sum_failed, replica.sum_skipped:
 * the previous scan still runs); it never stops the replica. */
void replica_sum_maybe(replica *r, uint64_t prev_mono, uint64_t mono);
/* The checksum's period as of the entry applied last (open machine, sum_ms
 * > 0): sum_ms times (1 + the store's orders / REPLICA_SUM_ORDERS). */
uint64_t replica_sum_period_ms(const replica *r);
/* Packs a REPLICA_MEMBERS entry of members[0..n). */
int replica_members_pack(replica *r, const replica_member *m, size_t n, uint64_t mono,
    int64_t wall, uint8_t **buf, size_t *len);
/* Applies one (records the members in the store's group_members). 0 or
 * DN_EIO. */
int replica_members_apply(replica *r, const Dropnet__ReplicaEntry *e);
/* The members recorded in the store (0: none recorded yet, or no store:
 * the daemon's flags stand). */
size_t replica_members_get(replica *r, replica_member *out, size_t max);

/* ---- the peers table (peers.c) ----
 * Who may speak is the group's, not each replica's: requests are checked
 * at apply, so a revocation each replica read from its own file at its own
 * moment would part the books. The leader proposes the peers file's text
 * (REPLICA_PEERS, at SIGHUP); each replica applies it at that index, keeps
 * it in its store (secrets, name 'peers'), and so a genesis and every
 * snapshot carry it. A store with no such row (a group made before this)
 * keeps each replica's own file. */
/* Packs a REPLICA_PEERS entry of text (a peers file; it must parse). 0,
 * DN_EINVAL (it does not parse, or is too large) or DN_ENOMEM. */
int replica_peers_pack(replica *r, const char *text, size_t len, uint64_t mono,
    int64_t wall, uint64_t *proposal, uint8_t **buf, size_t *blen);
/* Applies one: the machine checks requests against it from here on, each
 * operator keeping its replay state. A text that does not parse changes
 * nothing (logged; the same on every replica). 0 or DN_EIO (the store
 * refused the write: the replica stops). */
int replica_peers_apply(replica *r, const Dropnet__ReplicaEntry *e);
/* Writes the machine's peers table as the group's (a genesis; an anonymous
 * machine writes an empty text: the group runs anonymous). 0 or DN_EIO. */
int replica_peers_save(replica *r);
/* After a restore: the machine's peers table becomes the store's (none
 * kept: this replica's own stands). 0, or DN_EIO / DN_ENOMEM. */
int replica_peers_load(replica *r);

#endif
