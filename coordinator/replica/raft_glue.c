/*
 * raft_glue.c - libraft 0.15 behind one file (see raft_glue.h).
 *
 * libraft's FSM contract, as the 0.15 sources implement it:
 * - apply(buf): buf is borrowed; *result goes to the proposer's raft_apply
 *   callback only, and nobody frees it on a follower, so it stays NULL here
 *   (replies travel through the replica's hook instead).
 * - snapshot(bufs, n): version 1; the buffers are raft_malloc'd and libraft
 *   frees them once stored.
 * - restore(buf): on success the FSM owns buf->base (raft_free it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <raft.h>
#include "core/err.h"
#include "io/log.h"
#include "raft_glue.h"

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

static int glue_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	replica *r = fsm->data;
	*result = NULL;
	int rv = replica_apply(r, buf->base, buf->len);
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

static int glue_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	replica *r = fsm->data;
	uint8_t *snap = NULL;
	size_t len = 0;
	int rv = replica_snapshot(r, &snap, &len);
	if (rv != 0) {
		return RAFT_IOERR;
	}
	struct raft_buffer *b = raft_malloc(sizeof(*b));
	void *copy = raft_malloc(len);
	if (b == NULL || copy == NULL) {
		raft_free(b);
		raft_free(copy);
		free(snap);
		return RAFT_NOMEM;
	}
	memcpy(copy, snap, len);
	free(snap);
	b->base = copy;
	b->len = len;
	*bufs = b;
	*n = 1;
	return 0;
}

static int glue_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	replica *r = fsm->data;
	int rv = replica_restore(r, buf->base, buf->len);
	if (rv != 0) {
		return rv == DN_EPROTO ? RAFT_MALFORMED : RAFT_IOERR;
	}
	raft_free(buf->base);
	return 0;
}

void raft_glue_fsm_init(struct raft_fsm *fsm, replica *r)
{
	memset(fsm, 0, sizeof(*fsm));
	fsm->version = 1;
	fsm->data = r;
	fsm->apply = glue_apply;
	fsm->snapshot = glue_snapshot;
	fsm->restore = glue_restore;
}

void raft_glue_tune(struct raft *raft, unsigned snapshot_threshold, unsigned trailing)
{
	raft_set_pre_vote(raft, true);
	raft_set_snapshot_threshold(raft, snapshot_threshold);
	raft_set_snapshot_trailing(raft, trailing);
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
	glue_apply_req *g = calloc(1, sizeof(*g));
	void *copy = raft_malloc(len > 0 ? len : 1);
	if (g == NULL || copy == NULL) {
		free(g);
		raft_free(copy);
		return DN_ENOMEM;
	}
	memcpy(copy, buf, len);
	g->req.data = g;
	g->proposal = proposal;
	g->failed = failed;
	g->arg = arg;
	struct raft_buffer b = {.base = copy, .len = len};
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
