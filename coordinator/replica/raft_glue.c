/*
 * raft_glue.c - libraft 0.15 behind one file (see raft_glue.h).
 *
 * libraft's FSM contract, as the 0.15 sources implement it:
 * - apply(buf): buf is borrowed; *result goes to the proposer's raft_apply
 *   callback only, and nobody frees it on a follower, so it stays NULL here
 *   (replies travel through the replica's hook instead).
 * - snapshot(bufs, n), snapshot_async(bufs, n), snapshot_finalize(bufs, n):
 *   version 3; snapshot on the loop thread, snapshot_async on a worker (io
 *   async_work), finalize on the loop thread once the snapshot is stored
 *   or failed; the buffers are the FSM's (finalize frees them).
 * - restore(buf): on success the FSM owns buf->base (raft_free it).
 *
 * Entry framing. libraft 0.15's disk backend (raft/uv.h) pads an entry to
 * 8 bytes when it writes a segment but, reading a finalized segment back,
 * expects the next batch right after the unpadded payload: a group whose
 * entries are not a multiple of 8 bytes long cannot restart ("read
 * preamble: short read: 3 bytes instead of 8", measured with a 5-byte
 * entry; an 8-byte one reloads). So every entry this glue proposes is
 *
 *   u64 payload length (little-endian) | payload | zeros to a multiple of 8
 *
 * and apply strips the frame. A frame that does not parse is a corrupt
 * committed entry: the replica stops.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <raft.h>
#include <raft/uv.h>
#include <uv.h>
#include "core/err.h"
#include "io/log.h"
#include "raft_glue.h"
#include "raft_transport.h"

int raft_glue_err(int raft_rv)
{
	switch (raft_rv) {
	case 0:
		return 0;
	case RAFT_NOMEM:
		return DN_ENOMEM;
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
	case RAFT_SHUTDOWN:
	case RAFT_CANCELED:
		return DN_ESTATE;
	case RAFT_BUSY:
	case RAFT_TOOMANY:
		return DN_EFULL;
	case RAFT_MALFORMED:
	case RAFT_CORRUPT:
		return DN_EPROTO;
	default:
		return DN_EIO;
	}
}

#define GLUE_FRAME_HDR 8

/* The payload inside a frame; DN_EPROTO if buf is no frame. */
static int glue_unframe(const struct raft_buffer *buf, const uint8_t **p, size_t *len)
{
	const uint8_t *b = buf->base;
	if (buf->len < GLUE_FRAME_HDR || buf->len % 8 != 0) {
		return DN_EPROTO;
	}
	uint64_t n = 0;
	for (int i = 0; i < 8; i++) {
		n |= (uint64_t)b[i] << (8 * i);
	}
	if (n > buf->len - GLUE_FRAME_HDR || buf->len - GLUE_FRAME_HDR - n >= 8) {
		return DN_EPROTO;
	}
	*p = b + GLUE_FRAME_HDR;
	*len = (size_t)n;
	return 0;
}

/* This replica cannot take the group's store as it is (DN_EINVAL): its
 * machine config is not the group's (the genesis's digest,
 * replica.config_mismatch logged), or its file holds books of another
 * store that a genesis would replace (replica.genesis_refused). No rebuild
 * can fix either, so the process stops with EX_CONFIG (78) instead of
 * crashing in a loop; the operator fixes it and starts it again. */
static void glue_config_stop(const replica *r)
{
	log_error("replica.stopped", "reason=refused applied=%llu path=%s exit=78"
	    " see=\"replica.config_mismatch or replica.genesis_refused above\"",
	    (unsigned long long)r->applied, r->path);
	exit(78);
}

static int glue_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	replica *r = fsm->data;
	const uint8_t *p = NULL;
	size_t len = 0;
	*result = NULL;
	if (r->glue != NULL) {
		/* libraft sets last_applied after each apply returns. */
		r->index = raft_last_applied(r->glue) + 1;
	}
	r->log_bytes += buf->len;
	r->log_entries++;
	int rv = glue_unframe(buf, &p, &len);
	if (rv == 0) {
		rv = replica_apply(r, p, len);
	}
	if (rv == DN_EINVAL) {
		glue_config_stop(r);
	}
	if (rv != 0) {
		/* A committed entry cannot be discarded; this store can no
		 * longer follow the group. Stop; the operator (later: the
		 * replica itself) rebuilds it from a snapshot plus the log. */
		log_error("replica.stopped", "err=%s applied=%llu path=%s", dn_strerror(rv),
		    (unsigned long long)r->applied, r->path);
		abort();
	}
	return 0;
}

/* Snapshots (libraft's fsm version 3). glue_snapshot runs on the loop
 * thread between two applies: it packs the machine's memory and pins a read
 * transaction on the store, both as of the last applied entry, and gives
 * libraft one empty buffer. glue_snapshot_async runs on a libuv worker
 * while the loop goes on applying entries: it copies the pinned store into
 * that buffer (the long part: the whole store; synchronous, it stopped the
 * loop for the copy every group.snapshot_entries entries). libraft writes
 * the buffer, then calls glue_snapshot_finalize on the loop thread, which
 * frees it and lets the read transaction go. libraft takes one snapshot at
 * a time, and refuses to install a leader's snapshot while one is taken
 * (RAFT_BUSY), so the store under the pinned read is never replaced. */
static int glue_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	replica *r = fsm->data;
	uint8_t *snap = NULL;
	size_t len = 0;
	assert(*n == 1 && r->snap != NULL);
	int rv = replica_snapshot_image(r->snap, &snap, &len);
	if (rv != 0) {
		return rv == DN_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
	}
	(*bufs)[0].base = snap;
	(*bufs)[0].len = len;
	return 0;
}

static int glue_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
    unsigned *n)
{
	replica *r = fsm->data;
	if (*bufs != NULL && *n > 0 && (*bufs)[0].len > 0 && r->snapshot_base > 0 &&
	    r->glue != NULL) {
		struct raft *raft = r->glue;
		unsigned every = raft_glue_snapshot_every(r->snapshot_base, (*bufs)[0].len,
		    r->log_bytes, r->log_entries);
		if (every != raft->snapshot.threshold) {
			log_info("replica.snapshot_every", "entries=%u snapshot_bytes=%zu"
			    " entry_bytes_mean=%llu", every, (*bufs)[0].len,
			    (unsigned long long)(r->log_bytes / r->log_entries));
			raft_set_snapshot_threshold(raft, every);
		}
	}
	if (*bufs != NULL) {
		for (unsigned i = 0; i < *n; i++) {
			free((*bufs)[i].base);
		}
		raft_free(*bufs);
	}
	*bufs = NULL;
	*n = 0;
	replica_snapshot_end(r->snap);
	r->snap = NULL;
	return 0;
}

static int glue_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	replica *r = fsm->data;
	if (r->snap != NULL) {
		return RAFT_BUSY;
	}
	struct raft_buffer *b = raft_malloc(sizeof(*b));
	if (b == NULL) {
		return RAFT_NOMEM;
	}
	int rv = replica_snapshot_begin(r, &r->snap);
	if (rv != 0) {
		/* Logged; libraft tries again after the next apply. An error
		 * here can reach libraft's receive path on a follower, which
		 * then stops the whole replica (RAFT_UNAVAILABLE). */
		raft_free(b);
		return RAFT_BUSY;
	}
	b->base = NULL;
	b->len = 0;
	*bufs = b;
	*n = 1;
	if (fsm->snapshot_async == NULL) {
		/* An io without async work: the copy here, on the loop. */
		rv = glue_snapshot_async(fsm, bufs, n);
		if (rv != 0) {
			glue_snapshot_finalize(fsm, bufs, n);
		}
		return rv;
	}
	return 0;
}

static int glue_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	replica *r = fsm->data;
	int rv = replica_restore(r, buf->base, buf->len);
	if (rv == DN_EINVAL) {
		glue_config_stop(r);
	}
	if (rv != 0) {
		return rv == DN_EPROTO ? RAFT_MALFORMED : RAFT_IOERR;
	}
	raft_free(buf->base);
	return 0;
}

void raft_glue_fsm_init(struct raft_fsm *fsm, replica *r)
{
	memset(fsm, 0, sizeof(*fsm));
	fsm->version = 3;
	fsm->data = r;
	fsm->apply = glue_apply;
	fsm->snapshot = glue_snapshot;
	fsm->restore = glue_restore;
	fsm->snapshot_finalize = glue_snapshot_finalize;
	fsm->snapshot_async = glue_snapshot_async;
}

unsigned raft_glue_snapshot_every(unsigned base, size_t snapshot_bytes, uint64_t log_bytes,
    uint64_t log_entries)
{
	uint64_t mean = log_entries > 0 ? log_bytes / log_entries : 0;
	uint64_t every = mean > 0 ? (uint64_t)snapshot_bytes / (RAFT_GLUE_SNAPSHOT_RATIO * mean) : 0;
	if (every > RAFT_GLUE_SNAPSHOT_EVERY_MAX) {
		every = RAFT_GLUE_SNAPSHOT_EVERY_MAX;
	}
	return every < base ? base : (unsigned)every;
}

void raft_glue_tune(struct raft *raft, unsigned snapshot_threshold, unsigned trailing)
{
	raft_set_pre_vote(raft, true);
	raft_set_snapshot_threshold(raft, snapshot_threshold);
	raft_set_snapshot_trailing(raft, trailing);
	raft_set_install_snapshot_timeout(raft, RAFT_GLUE_INSTALL_SNAPSHOT_MS);
}

/* One proposal in flight: libraft holds req until its callback. */
typedef struct {
	struct raft_apply req;
	uint64_t proposal;
	raft_glue_failed_fn failed;
	void *arg;
} glue_apply_req;

static void glue_applied(struct raft_apply *req, int status, void *result)
{
	glue_apply_req *g = req->data;
	(void)result;
	if (status != 0 && g->failed != NULL) {
		g->failed(g->arg, g->proposal, raft_glue_err(status));
	}
	free(g);
}

int raft_glue_propose(struct raft *raft, const uint8_t *buf, size_t len,
    uint64_t proposal, raft_glue_failed_fn failed, void *arg, uint64_t *index)
{
	if (raft_state(raft) != RAFT_LEADER) {
		return DN_ESTATE;
	}
	size_t framed = GLUE_FRAME_HDR + (len + 7) / 8 * 8;
	glue_apply_req *g = calloc(1, sizeof(*g));
	uint8_t *copy = raft_calloc(1, framed);
	if (g == NULL || copy == NULL) {
		free(g);
		raft_free(copy);
		return DN_ENOMEM;
	}
	for (int i = 0; i < 8; i++) {
		copy[i] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memcpy(copy + GLUE_FRAME_HDR, buf, len);
	g->req.data = g;
	g->proposal = proposal;
	g->failed = failed;
	g->arg = arg;
	struct raft_buffer b = {.base = copy, .len = framed};
	int rv = raft_apply(raft, &g->req, &b, 1, glue_applied);
	if (rv != 0) {
		log_warn("replica.propose_refused", "proposal=%llu err=\"%s\"",
		    (unsigned long long)proposal, raft_strerror(rv));
		raft_free(copy);
		free(g);
		return raft_glue_err(rv);
	}
	*index = g->req.index;
	return 0;
}

typedef struct {
	struct raft_barrier req;
	raft_glue_barrier_fn cb;
	void *arg;
} glue_barrier;

static void glue_barrier_done(struct raft_barrier *req, int status)
{
	glue_barrier *b = req->data;
	b->cb(b->arg, status == 0 ? 0 : raft_glue_err(status));
	free(b);
}

int raft_glue_barrier(struct raft *raft, raft_glue_barrier_fn cb, void *arg)
{
	glue_barrier *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		return DN_ENOMEM;
	}
	b->req.data = b;
	b->cb = cb;
	b->arg = arg;
	int rv = raft_barrier(raft, &b->req, glue_barrier_done);
	if (rv != 0) {
		free(b);
		return raft_glue_err(rv);
	}
	return 0;
}

typedef struct {
	struct raft_change req;
	raft_glue_change_fn cb;
	void *arg;
} glue_change;

static void glue_change_done(struct raft_change *req, int status)
{
	glue_change *c = req->data;
	c->cb(c->arg, status == 0 ? 0 : raft_glue_err(status));
	free(c);
}

int raft_glue_change(struct raft *raft, int op, uint64_t id, const char *address,
    raft_glue_change_fn cb, void *arg)
{
	glue_change *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return DN_ENOMEM;
	}
	c->req.data = c;
	c->cb = cb;
	c->arg = arg;
	int rv;
	if (op == RAFT_GLUE_ADD) {
		rv = raft_add(raft, &c->req, id, address, glue_change_done);
	} else if (op == RAFT_GLUE_VOTER) {
		rv = raft_assign(raft, &c->req, id, RAFT_VOTER, glue_change_done);
	} else {
		rv = raft_remove(raft, &c->req, id, glue_change_done);
	}
	if (rv != 0) {
		log_warn("replica.change_refused", "op=%d id=%llu err=\"%s\"", op,
		    (unsigned long long)id, raft_errmsg(raft));
		free(c);
		if (rv == RAFT_BADID || rv == RAFT_DUPLICATEID || rv == RAFT_DUPLICATEADDRESS) {
			return DN_EINVAL;
		}
		return rv == RAFT_CANTCHANGE ? DN_EFULL : raft_glue_err(rv);
	}
	return 0;
}

/* ---- a member on raft/uv.h ---- */

struct raft_glue_node {
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct raft_fsm fsm;
	bool transport_init, io_init, raft_init;
	bool own_transport;      /* raft_transport.c's (the group's secret) */
	bool closing;            /* raft_glue_node_close called */
	bool holding;            /* restarted: not standing for election yet */
	int last_state;          /* raft_state at the last poll (log lines) */
	uint64_t last_term;
	void (*closed)(void *arg);
	void *closed_arg;
	/* The uv backend's close and raft's callback for it (glue_io_close). */
	void (*uv_close)(struct raft_io *io, raft_io_close_cb cb);
	raft_io_close_cb io_closed_cb;
	bool io_closed;
};

/* libraft 0.15's uv backend calls its close callback each time a handle's
 * close completes once nothing is left open (uvMaybeFireCloseCb clears
 * nothing after firing; upstream's one-line fix, c042b4e, was reverted),
 * so a stream whose close came last fired it a second time and raft's
 * ioCloseCb freed its address and log again: a double free at a replica's
 * stop (test_replica_uv under ASan, about 1 run in 90; a clean-clone CI
 * run once). raft's callback is passed on once; a repeat is logged. */
static void glue_io_closed(struct raft_io *io)
{
	raft_glue_node *g = (raft_glue_node *)((char *)io - offsetof(raft_glue_node, io));
	if (g->io_closed) {
		log_warn("replica.io_close_repeat", "hint=\"libraft 0.15 uv backend fired its"
		    " close callback again; ignored\"");
		return;
	}
	g->io_closed = true;
	g->io_closed_cb(io);
}

static void glue_io_close(struct raft_io *io, raft_io_close_cb cb)
{
	raft_glue_node *g = (raft_glue_node *)((char *)io - offsetof(raft_glue_node, io));
	g->io_closed_cb = cb;
	g->io_closed = false;
	g->uv_close(io, glue_io_closed);
}

/* The group's configuration of n peers. 0 or a RAFT_* code. */
static int glue_conf(struct raft_configuration *conf, const raft_glue_peer *peers, size_t n)
{
	raft_configuration_init(conf);
	for (size_t i = 0; i < n; i++) {
		int rv = raft_configuration_add(conf, peers[i].id, peers[i].address, RAFT_VOTER);
		if (rv != 0) {
			raft_configuration_close(conf);
			return rv;
		}
	}
	return 0;
}

/* Bootstraps a new dir (an existing one refuses, which is fine) and
 * starts. A joining member does not bootstrap: it waits, with an empty
 * configuration, for the leader that adds it. */
static int glue_node_start(raft_glue_node *g, const raft_glue_peer *peers, size_t n,
    bool join)
{
	struct raft_configuration conf;
	int rv = join ? 0 : glue_conf(&conf, peers, n);
	if (rv != 0) {
		return rv;
	}
	if (!join) {
		rv = raft_bootstrap(&g->raft, &conf);
		raft_configuration_close(&conf);
	}
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		return rv;
	}
	/* A restarted member (its dir existed) holds back from elections until
	 * it has heard of a leader (raft_glue_node_poll): see raft_glue.h. */
	g->holding = rv == RAFT_CANTBOOTSTRAP;
	raft_glue_tune(&g->raft, 1024, 128);
	raft_set_election_timeout(&g->raft, g->holding ?
	    RAFT_GLUE_ELECTION_MS * RAFT_GLUE_RESTART_HOLD : RAFT_GLUE_ELECTION_MS);
	raft_set_heartbeat_timeout(&g->raft, RAFT_GLUE_HEARTBEAT_MS);
	return raft_start(&g->raft);
}

int raft_glue_node_create(raft_glue_node **out, struct uv_loop_s *loop, const char *dir,
    uint64_t self, const raft_glue_peer *peers, size_t n, bool join, replica *r)
{
	const char *address = NULL;
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (peers[i].id == self) {
			address = peers[i].address;
		}
	}
	raft_glue_node *g = calloc(1, sizeof(*g));
	if (address == NULL || g == NULL) {
		free(g);
		return address == NULL ? DN_EINVAL : DN_ENOMEM;
	}
	raft_glue_fsm_init(&g->fsm, r);
	/* With the group's secret, libraft reads only connections whose peer
	 * proved it holds it (raft_transport.c); without, its own plaintext
	 * transport (a warning: any process that reaches the port can crash
	 * the replica). */
	g->own_transport = r->raft_key_set;
	int rv = g->own_transport ? raft_transport_init(&g->transport, loop, r->raft_key) :
	    raft_uv_tcp_init(&g->transport, loop);
	if (!g->own_transport) {
		log_warn("group.replication_unauthenticated", "hint=\"set group.secret_file on"
		    " every replica (deploy/pki.sh group-secret): without it any process that"
		    " reaches the replication port can crash this replica\"");
	}
	g->transport_init = rv == 0;
	if (rv == 0) {
		rv = raft_uv_init(&g->io, loop, dir, &g->transport);
		g->io_init = rv == 0;
	}
	if (rv == 0) {
		g->uv_close = g->io.close;
		g->io.close = glue_io_close;
	}
	if (rv == 0) {
		raft_uv_set_connect_retry_delay(&g->io, RAFT_GLUE_CONNECT_RETRY_MS);
		/* libraft 0.15's disk backend implements async_work (uv_work.c,
		 * on libuv's worker pool) but still says io version 1, so
		 * raft_init refuses the fsm's async snapshots; upstream's fix is
		 * this one line (canonical/raft 269e541, "uv: set io version to
		 * 2", in 0.16; uv_work.c unchanged). */
		if (g->io.version < 2) {
			g->io.version = 2;
		}
	}
	if (rv == 0) {
		rv = raft_init(&g->raft, &g->io, &g->fsm, self, address);
		g->raft_init = rv == 0;
	}
	if (rv == 0) {
		r->glue = &g->raft;
		rv = glue_node_start(g, peers, n, join);
	}
	if (rv != 0) {
		/* raft_start leaves io->start's failures (a listen that cannot
		 * bind) in the io's or the transport's message, not in raft's. */
		log_error("replica.raft_start", "dir=%s id=%llu address=%s err=\"%s\" detail=\"%s\""
		    " io=\"%s\" transport=\"%s\"", dir, (unsigned long long)self, address,
		    raft_strerror(rv), g->raft_init ? raft_errmsg(&g->raft) : "", g->io.errmsg,
		    g->transport.errmsg);
		*out = g;      /* the caller closes what started */
		return raft_glue_err(rv);
	}
	*out = g;
	return 0;
}

struct raft *raft_glue_node_raft(raft_glue_node *node)
{
	return &node->raft;
}

bool raft_glue_node_leading(raft_glue_node *node)
{
	return raft_state(&node->raft) == RAFT_LEADER;
}

uint64_t raft_glue_node_leader(raft_glue_node *node, const char **address)
{
	raft_id id = 0;
	const char *a = NULL;
	raft_leader(&node->raft, &id, &a);
	*address = a != NULL ? a : "";
	return id;
}

void raft_glue_node_info(raft_glue_node *node, const char **role, uint64_t *term,
    uint64_t *applied)
{
	switch (raft_state(&node->raft)) {
	case RAFT_LEADER:
		*role = "leader";
		break;
	case RAFT_CANDIDATE:
		*role = "candidate";
		break;
	case RAFT_FOLLOWER:
		*role = "follower";
		break;
	default:
		*role = "unavailable";
		break;
	}
	*term = node->raft.current_term;
	*applied = raft_last_applied(&node->raft);
}

/* One line per change of libraft's state or term (elections, seen from
 * each member: when a follower stood, for which term, and who won). */
static void glue_node_trace(raft_glue_node *node)
{
	int st = raft_state(&node->raft);
	uint64_t term = node->raft.current_term;
	if (st == node->last_state && term == node->last_term) {
		return;
	}
	raft_id id = 0;
	const char *a = NULL;
	raft_leader(&node->raft, &id, &a);
	log_info("replica.raft_state", "state=%s term=%llu leader=%llu",
	    st == RAFT_LEADER ? "leader" : st == RAFT_CANDIDATE ? "candidate" :
	    st == RAFT_FOLLOWER ? "follower" : "unavailable",
	    (unsigned long long)term, (unsigned long long)id);
	node->last_state = st;
	node->last_term = term;
}

/* libraft 0.15's progress states (src/progress.h; struct raft_progress is
 * public in its raft.h). */
enum { GLUE_PROGRESS_PROBE = 0, GLUE_PROGRESS_SNAPSHOT = 2 };

unsigned raft_glue_unstick(struct raft *raft)
{
	unsigned n = 0;
	if (raft_state(raft) != RAFT_LEADER) {
		return 0;
	}
	for (unsigned i = 0; i < raft->configuration.n; i++) {
		struct raft_progress *p = &raft->leader_state.progress[i];
		if (p->state != GLUE_PROGRESS_SNAPSHOT || p->snapshot_index == 0 ||
		    p->match_index < p->snapshot_index) {
			continue;
		}
		/* Probe from the end of the log: the follower's refusal names
		 * its last index, and the next probe is right after it. */
		p->next_index = raft_last_index(raft) + 1;
		p->snapshot_index = 0;
		p->state = GLUE_PROGRESS_PROBE;
		n++;
		log_warn("replica.follower_unstuck", "peer=%llu match=%llu next=%llu",
		    (unsigned long long)raft->configuration.servers[i].id,
		    (unsigned long long)p->match_index, (unsigned long long)p->next_index);
	}
	return n;
}

void raft_glue_node_poll(raft_glue_node *node)
{
	raft_id id = 0;
	const char *a = NULL;
	glue_node_trace(node);
	if (!node->closing && node->raft_init) {
		(void)raft_glue_unstick(&node->raft);
	}
	if (!node->closing && node->raft_init && raft_state(&node->raft) == RAFT_UNAVAILABLE) {
		/* libraft stopped for good: an I/O error, or an entry it
		 * applied that a later leader replaces (0.15's Figure-8 defect,
		 * docs/replication.md). A member that stays up this way holds
		 * its vote and answers nothing. A restart reloads the last
		 * snapshot and the log - the store is rebuilt from them, so what
		 * it applied wrongly is gone - and follows the leader again. */
		log_error("replica.raft_unavailable", "term=%llu applied=%llu exit=75 hint=\"the"
		    " supervisor restarts it (systemd Restart=on-failure); it rebuilds from its"
		    " snapshot and log\"", (unsigned long long)node->raft.current_term,
		    (unsigned long long)raft_last_applied(&node->raft));
		exit(75);
	}
	if (!node->holding) {
		return;
	}
	raft_leader(&node->raft, &id, &a);
	if (id != 0) {
		node->holding = false;
		raft_set_election_timeout(&node->raft, RAFT_GLUE_ELECTION_MS);
		/* libraft 0.15 draws a follower's timer from the timeout only when
		 * it converts (measured: the held-back 2-4 s stayed in force), so
		 * the draw in [E, 2E) is made here (the field is public). */
		uint32_t r = 0;
		(void)getrandom(&r, sizeof(r), 0);
		if (raft_state(&node->raft) == RAFT_FOLLOWER) {
			node->raft.follower_state.randomized_election_timeout =
			    RAFT_GLUE_ELECTION_MS + r % RAFT_GLUE_ELECTION_MS;
		}
		log_info("replica.standing", "leader=%llu election_timeout_ms=%u",
		    (unsigned long long)id, RAFT_GLUE_ELECTION_MS);
	}
}

static void glue_node_closed(struct raft *raft)
{
	raft_glue_node *g = (raft_glue_node *)((char *)raft - offsetof(raft_glue_node, raft));
	if (g->closed != NULL) {
		g->closed(g->closed_arg);
	}
}

void raft_glue_node_close(raft_glue_node *node, void (*closed)(void *arg), void *arg)
{
	node->closed = closed;
	node->closed_arg = arg;
	node->closing = true;
	if (node->raft_init) {
		raft_close(&node->raft, glue_node_closed);
	} else if (closed != NULL) {
		closed(arg);
	}
}

void raft_glue_node_destroy(raft_glue_node *node)
{
	if (node == NULL) {
		return;
	}
	/* raft_close closed the io and the transport; these free memory. */
	if (node->io_init) {
		raft_uv_close(&node->io);
	}
	if (node->transport_init && node->own_transport) {
		raft_transport_fini(&node->transport);
	} else if (node->transport_init) {
		raft_uv_tcp_close(&node->transport);
	}
	free(node);
}
