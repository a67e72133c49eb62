/*
 * group.c - the coordinator shell's side of a replicated group (group.h,
 * docs/replication.md "The daemon in a group").
 *
 * Invariants: a request is in exactly one place - answered, or in one
 * pending slot waiting for its proposal's apply (or failure); a pending
 * slot is freed by the apply of its entry on this member (replies hook),
 * by the proposal's failure (UNAVAILABLE: the outcome is unknown, the
 * client's retry with the same key is answered once), or forgotten at
 * shutdown. The machine is called only through replica_apply (libraft's
 * apply): a request is never run before its entry is committed.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/envelope.h"
#include "io/log.h"
#include "group.h"
#include "raft_glue.h"

typedef struct {
	bool used;
	uint64_t proposal;
	int socket;
	size_t n;
	bridge_req *reqs[DN_SERVER_CTX_MAX];
} group_pending;

/* Requests that came while their socket had GROUP_PIPELINE proposals in
 * flight: proposed together, as one entry, when one of those is applied. */
typedef struct {
	size_t n;
	bridge_req *reqs[DN_SERVER_CTX_MAX];
} group_stage;

struct group {
	uv_loop_t *loop;
	coord *c;
	replica r;
	raft_glue_node *node;
	group_replica members[GROUP_MEMBERS_MAX];
	size_t nmembers;
	uint64_t self;
	bool was_leading;        /* leader at the last group_tick */
	bool barrier_pending;
	uint64_t barrier_after;  /* group_mono before which no barrier starts (a failed take-over) */
	/* A peers file this leader was asked to make the group's (SIGHUP),
	 * kept until the group's table is that text: proposed once ready,
	 * again if a proposal fails; dropped (logged) if leadership goes. */
	char *peers_want;
	size_t peers_want_len;
	bool peers_inflight;
	bool ready;              /* leading, barrier done, genesis or reopen proposed */
	uint64_t term_gen;       /* bumped at every leadership change */
	uint64_t known_leader;   /* the leader's id at the last group_tick, 0: none */
	int64_t last_ack_wall_ms; /* wall time of the last reply from an apply here */
	uv_timer_t role_timer;   /* group_role every GROUP_ROLE_MS */
	uv_timer_t flush_timer;  /* the stages, on the next loop turn */
	bool role_timer_on;
	group_pending pend[GROUP_PENDING_MAX];
	size_t inflight[GROUP_SOCKETS];   /* proposals waiting, per socket */
	group_stage stage[GROUP_SOCKETS];
	uint64_t members_gen;    /* replica.members_gen as last read */
	/* The one membership change in progress (dropctl replicas add/remove). */
	bridge_req *change_req;
	int change_op;           /* RAFT_GLUE_ADD, _VOTER, _REMOVE */
	group_replica change_m;
};

/* A take-over whose genesis or reopen failed is tried again after this
 * (ms), not at every role check. */
#define GROUP_RETAKE_MS 250

static const int group_kind[GROUP_SOCKETS] = {
	[GROUP_INGEST] = REPLICA_KIND_INGEST,
	[GROUP_HUBSYNC] = REPLICA_KIND_HUBSYNC,
	[GROUP_OPS] = REPLICA_KIND_OPS,
};

int group_replica_parse(const char *s, group_replica *m)
{
	char buf[5 * DN_CONF_STR_MAX];
	char *f[5];
	size_t nf = 0;
	memset(m, 0, sizeof(*m));
	if (strlen(s) >= sizeof(buf)) {
		return DN_EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	char *p = buf, *tok;
	while (nf < 5 && (tok = strsep(&p, ",")) != NULL) {
		f[nf++] = tok;
	}
	char *end = NULL;
	unsigned long long id = nf == 5 ? strtoull(f[0], &end, 10) : 0;
	if (id == 0 || end == NULL || *end != '\0' || p != NULL) {
		return DN_EINVAL;   /* not five fields, or a bad id */
	}
	for (size_t i = 1; i < 5; i++) {
		if (f[i][0] == '\0' || strlen(f[i]) >= DN_CONF_STR_MAX) {
			return DN_EINVAL;
		}
	}
	m->id = id;
	snprintf(m->raft, sizeof(m->raft), "%s", f[1]);
	for (int k = 0; k < GROUP_SOCKETS; k++) {
		snprintf(m->url[k], sizeof(m->url[k]), "%s", f[2 + k]);
	}
	return 0;
}

static uint64_t group_mono(group *g)
{
	uv_update_time(g->loop);
	return uv_now(g->loop) + 1;
}

static int64_t group_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The leader's URL for socket, "" when no leader is known. */
static const char *group_leader_url(group *g, int socket)
{
	const char *addr = NULL;
	uint64_t id = raft_glue_node_leader(g->node, &addr);
	for (size_t i = 0; id != 0 && i < g->nmembers; i++) {
		if (g->members[i].id == id) {
			return g->members[i].url[socket];
		}
	}
	return "";
}

void group_refuse(int socket, bridge_req *req, Dropnet__Status st, const char *why,
    const char *leader)
{
	uint8_t *out = NULL;
	size_t olen = 0;
	if (socket == GROUP_INGEST) {
		size_t len = 0;
		const uint8_t *body = bridge_req_body(req, &len);
		mreq m;
		mreq_init(&m, body, len);
		coord_ingest_refuse(&m, st, why, leader);
		bridge_req_reply(req, m.reply, m.reply_len);
		mreq_fini(&m);
		return;
	}
	int rv;
	if (socket == GROUP_HUBSYNC) {
		Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
		rep.version = DN_PROTO_VERSION;
		rep.status = st;
		rep.message = (char *)why;
		rep.leader = (char *)leader;
		rv = codec_hub_sync_reply_pack(&rep, &out, &olen);
	} else {
		Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
		rep.version = DN_PROTO_VERSION;
		rep.status = st;
		rep.message = (char *)why;
		rep.leader = (char *)leader;
		rv = codec_ops_reply_pack(&rep, &out, &olen);
	}
	/* Empty on out-of-memory: the client retries. */
	bridge_req_reply(req, rv == 0 ? out : NULL, rv == 0 ? olen : 0);
	free(out);
}

static void group_refuse_all(int socket, bridge_req **reqs, size_t n, Dropnet__Status st,
    const char *why, const char *leader)
{
	for (size_t i = 0; i < n; i++) {
		group_refuse(socket, reqs[i], st, why, leader);
	}
}

static group_pending *group_pending_find(group *g, uint64_t proposal)
{
	for (size_t i = 0; i < GROUP_PENDING_MAX; i++) {
		if (g->pend[i].used && g->pend[i].proposal == proposal) {
			return &g->pend[i];
		}
	}
	return NULL;
}

static void group_on_flush_timer(uv_timer_t *t);

/* Frees slot p (answered or failed); the requests staged behind it go on
 * the next loop turn (not from inside libraft's apply or its callback). */
static void group_pending_done(group *g, group_pending *p)
{
	p->used = false;
	assert(g->inflight[p->socket] > 0);
	g->inflight[p->socket]--;
	if (g->stage[p->socket].n > 0 && g->role_timer_on) {
		uv_timer_start(&g->flush_timer, group_on_flush_timer, 0, 0);
	}
}

/* The apply of an entry on this member: ours are answered now. */
static void group_on_replies(void *arg, uint64_t origin, uint64_t proposal, mreq *reqs,
    size_t n)
{
	group *g = arg;
	if (origin != g->r.nonce) {
		return;
	}
	group_pending *p = group_pending_find(g, proposal);
	if (p == NULL) {
		return;     /* forgotten, or failed here and committed later */
	}
	assert(p->n == n);
	for (size_t i = 0; i < n; i++) {
		bridge_req_reply(p->reqs[i], reqs[i].reply, reqs[i].reply_len);
	}
	g->last_ack_wall_ms = group_wall();
	group_pending_done(g, p);
}

static void group_on_failed(void *arg, uint64_t proposal, int status)
{
	group *g = arg;
	group_pending *p = group_pending_find(g, proposal);
	if (p == NULL) {
		return;
	}
	log_warn("group.proposal_failed", "proposal=%llu requests=%zu err=%s",
	    (unsigned long long)proposal, p->n, dn_strerror(status));
	group_refuse_all(p->socket, p->reqs, p->n, DROPNET__STATUS__UNAVAILABLE,
	    "leadership changed; retry with the same key", group_leader_url(g, p->socket));
	group_pending_done(g, p);
}

/* Proposes one entry of kind over reqs (all fit one entry); the requests
 * wait in a pending slot. Refuses them UNAVAILABLE when it cannot. */
static void group_propose(group *g, int socket, bridge_req **reqs, size_t n)
{
	group_pending *p = NULL;
	for (size_t i = 0; i < GROUP_PENDING_MAX && p == NULL; i++) {
		p = g->pend[i].used ? NULL : &g->pend[i];
	}
	if (p == NULL) {
		log_warn("group.pending_full", "requests=%zu max=%d", n, GROUP_PENDING_MAX);
		group_refuse_all(socket, reqs, n, DROPNET__STATUS__UNAVAILABLE, "busy", "");
		return;
	}
	const uint8_t *bodies[DN_SERVER_CTX_MAX];
	size_t lens[DN_SERVER_CTX_MAX];
	for (size_t i = 0; i < n; i++) {
		bodies[i] = bridge_req_body(reqs[i], &lens[i]);
	}
	uint64_t mono, proposal = 0, index = 0;
	int64_t wall;
	replica_stamp(&g->r, group_mono(g), group_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv = replica_entry_pack(&g->r, group_kind[socket], bodies, lens, n, mono, wall,
	    &proposal, &buf, &len);
	if (rv == 0) {
		p->used = true;
		p->proposal = proposal;
		p->socket = socket;
		p->n = n;
		memcpy(p->reqs, reqs, n * sizeof(reqs[0]));
		rv = raft_glue_propose(raft_glue_node_raft(g->node), buf, len, proposal,
		    group_on_failed, g, &index);
		if (rv != 0) {
			p->used = false;
		} else {
			g->inflight[socket]++;
		}
	}
	free(buf);
	if (rv != 0) {
		group_refuse_all(socket, reqs, n, rv == DN_ESTATE ? DROPNET__STATUS__NOT_LEADER :
		    DROPNET__STATUS__UNAVAILABLE, dn_strerror(rv), group_leader_url(g, socket));
	}
}

/* Proposes what is staged for socket (several entries if it does not fit
 * one), unless GROUP_PIPELINE proposals of it are still in flight and not
 * forced. */
static void group_flush(group *g, int socket, bool force)
{
	group_stage *st = &g->stage[socket];
	if (st->n == 0 || (!force && g->inflight[socket] >= GROUP_PIPELINE)) {
		return;
	}
	size_t lens[DN_SERVER_CTX_MAX];
	for (size_t i = 0; i < st->n; i++) {
		(void)bridge_req_body(st->reqs[i], &lens[i]);
	}
	bridge_req *reqs[DN_SERVER_CTX_MAX];
	size_t n = st->n;
	memcpy(reqs, st->reqs, n * sizeof(reqs[0]));
	st->n = 0;
	for (size_t off = 0; off < n;) {
		size_t k = replica_batch_fit(lens + off, n - off);
		group_propose(g, socket, reqs + off, k);
		off += k;
	}
}

static void group_on_flush_timer(uv_timer_t *t)
{
	group *g = t->data;
	for (int k = 0; k < GROUP_SOCKETS; k++) {
		group_flush(g, k, false);
	}
}

void group_submit(group *g, int socket, bridge_req **reqs, size_t n)
{
	bridge_req *rest[DN_SERVER_CTX_MAX];
	if (socket == GROUP_OPS) {
		n = group_ops_local(g, g->c, reqs, n, rest);
		reqs = rest;
		if (n == 0) {
			return;
		}
	}
	if (!raft_glue_node_leading(g->node)) {
		group_refuse_all(socket, reqs, n, DROPNET__STATUS__NOT_LEADER,
		    "not the leader of the coordinator group", group_leader_url(g, socket));
		return;
	}
	if (!g->ready) {
		group_refuse_all(socket, reqs, n, DROPNET__STATUS__UNAVAILABLE,
		    "the new leader is taking over; retry with the same key", "");
		return;
	}
	/* Staged behind the proposals in flight: what comes while an entry
	 * commits goes out as one entry after it (one log write per replica
	 * for many socket batches). A full stage goes out at once. */
	group_stage *st = &g->stage[socket];
	for (size_t i = 0; i < n; i++) {
		if (st->n == DN_SERVER_CTX_MAX) {
			group_flush(g, socket, true);
		}
		st->reqs[st->n++] = reqs[i];
	}
	group_flush(g, socket, false);
}

/* Proposes an entry with no requests (TICK, REOPEN) or the genesis. */
static int group_propose_bare(group *g, int kind)
{
	uint64_t mono, proposal = 0, index = 0;
	int64_t wall;
	replica_stamp(&g->r, group_mono(g), group_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv = kind == REPLICA_KIND_GENESIS ?
	    replica_genesis_pack(&g->r, mono, wall, &buf, &len) :
	    replica_entry_pack(&g->r, kind, NULL, NULL, 0, mono, wall, &proposal, &buf, &len);
	if (rv == 0) {
		rv = raft_glue_propose(raft_glue_node_raft(g->node), buf, len, proposal, NULL, NULL,
		    &index);
	}
	free(buf);
	if (rv != 0 && kind != REPLICA_KIND_TICK) {
		log_warn("group.propose_failed", "kind=%d err=%s", kind, dn_strerror(rv));
	}
	return rv;
}

/* Frees a wanted peers text, wiping it (it holds every peer's secret). */
static void group_peers_forget(group *g)
{
	if (g->peers_want != NULL) {
		memset(g->peers_want, 0, g->peers_want_len);
		free(g->peers_want);
	}
	g->peers_want = NULL;
	g->peers_want_len = 0;
	g->peers_inflight = false;
}

static void group_peers_failed(void *arg, uint64_t proposal, int status)
{
	group *g = arg;
	log_warn("group.peers_failed", "proposal=%llu err=%s retry=%s",
	    (unsigned long long)proposal, dn_strerror(status),
	    g->peers_want != NULL ? "yes" : "no");
	g->peers_inflight = false;
}

/* Proposes the wanted peers text while leading and ready, until the
 * machine's table is that text (then it is the group's: done). */
static void group_peers_flush(group *g)
{
	const auth_table *t = g->c->peers;
	if (g->peers_want == NULL || !g->ready || !raft_glue_node_leading(g->node)) {
		return;
	}
	if (t != NULL && t->text_len == g->peers_want_len &&
	    memcmp(t->text, g->peers_want, t->text_len) == 0) {
		log_info("auth.reloaded", "peers=%zu group=yes", t->n);
		group_peers_forget(g);
		return;
	}
	if (g->peers_inflight) {
		return;
	}
	uint64_t mono, proposal = 0, index = 0;
	int64_t wall;
	replica_stamp(&g->r, group_mono(g), group_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t blen = 0;
	int rv = replica_peers_pack(&g->r, g->peers_want, g->peers_want_len, mono, wall,
	    &proposal, &buf, &blen);
	if (rv == 0) {
		rv = raft_glue_propose(raft_glue_node_raft(g->node), buf, blen, proposal,
		    group_peers_failed, g, &index);
	}
	if (buf != NULL) {
		memset(buf, 0, blen);
	}
	free(buf);
	g->peers_inflight = rv == 0;
	log_info("group.peers_proposed", "bytes=%zu index=%llu err=%s", g->peers_want_len,
	    (unsigned long long)index, dn_strerror(rv));
	if (rv == DN_EINVAL) {
		group_peers_forget(g);   /* it will never parse: said above */
	}
}

int group_peers_propose(group *g, const char *text, size_t len)
{
	if (!raft_glue_node_leading(g->node)) {
		return DN_ESTATE;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		return DN_ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	group_peers_forget(g);
	g->peers_want = copy;
	g->peers_want_len = len;
	if (!g->ready) {
		log_info("group.peers_deferred", "bytes=%zu reason=\"taking over: proposed once"
		    " ready\"", len);
	}
	group_peers_flush(g);
	return 0;
}

/* A new leader's barrier is done: every earlier entry is applied here. No
 * genesis applied in this process's history (restores 0): the group has
 * none, and this member's own store becomes the group's. */
static void group_on_barrier(void *arg, int status)
{
	group *g = arg;
	g->barrier_pending = false;
	if (status != 0 || !raft_glue_node_leading(g->node)) {
		log_info("group.barrier_lost", "err=%s", dn_strerror(status));
		return;
	}
	int rv;
	if (g->r.restores == 0) {
		if (!g->r.open) {
			coord_clock_set(g->c, group_mono(g), group_wall());
			rv = replica_machine_open(&g->r);
			if (rv != 0) {
				log_error("group.genesis_open", "path=%s err=%s retry_ms=%d", g->r.path,
				    dn_strerror(rv), GROUP_RETAKE_MS);
				g->barrier_after = group_mono(g) + GROUP_RETAKE_MS;
				return;
			}
		}
		replica_lead_begin(&g->r, group_mono(g), group_wall());
		rv = group_propose_bare(g, REPLICA_KIND_GENESIS);
		log_info("group.genesis", "incarnation=%llu hubs=%zu err=%s",
		    (unsigned long long)g->c->incarnation, g->c->nhubs, dn_strerror(rv));
		if (rv == DN_ERANGE) {
			/* Its image is over one entry: it never will fit. Leading on
			 * without a genesis would keep the group unavailable; another
			 * member's genesis cannot replace this file (the genesis
			 * check keeps a store with books). */
			log_error("group.genesis_too_large", "path=%s max_bytes=%u exit=78"
			    " hint=\"docs/replication.md, 'A single node becomes a group'\"",
			    g->r.path, DN_REPLICA_ENTRY_MAX_BYTES);
			exit(78);
		}
	} else {
		replica_lead_begin(&g->r, group_mono(g), group_wall());
		rv = group_propose_bare(g, REPLICA_KIND_REOPEN);
	}
	g->ready = rv == 0;
	if (!g->ready) {
		g->barrier_after = group_mono(g) + GROUP_RETAKE_MS;
	}
	if (g->ready) {
		group_peers_flush(g);
		log_info("group.leading", "id=%llu applied=%llu", (unsigned long long)g->self,
		    (unsigned long long)g->r.applied);
	}
}

static void group_members_reload(group *g);

/* Notices a leadership change and starts a new leader's barrier. Runs
 * every GROUP_ROLE_MS and from group_tick: a new leader takes over within
 * a few ms of its election, not at the next tick. Logs the changes as
 * this member sees them; a leader that steps down (another leader, or
 * libraft's check that it still reaches a majority every election
 * timeout) says when it last answered a client from an apply: the
 * partition tests hold that against the cut. */
static void group_role(group *g)
{
	raft_glue_node_poll(g->node);
	bool leading = raft_glue_node_leading(g->node);
	const char *addr = NULL;
	uint64_t id = raft_glue_node_leader(g->node, &addr);
	if (leading != g->was_leading) {
		g->was_leading = leading;
		g->ready = false;
		if (!leading && g->peers_want != NULL) {
			log_warn("auth.reload_lost", "hint=\"leadership changed before the peers file"
			    " became the group's: send SIGHUP to the new leader\"");
			group_peers_forget(g);
		}
		g->term_gen++;
		if (leading) {
			log_info("group.elected", "id=%llu leader=%llu", (unsigned long long)g->self,
			    (unsigned long long)id);
		} else {
			log_info("group.follower", "id=%llu leader=%llu last_ack_wall_ms=%lld",
			    (unsigned long long)g->self, (unsigned long long)id,
			    (long long)g->last_ack_wall_ms);
		}
		for (int k = 0; k < GROUP_SOCKETS; k++) {
			group_refuse_all(k, g->stage[k].reqs, g->stage[k].n,
			    DROPNET__STATUS__NOT_LEADER, "leadership changed; retry with the same key",
			    group_leader_url(g, k));
			g->stage[k].n = 0;
		}
	}
	if (id != g->known_leader) {
		g->known_leader = id;
		log_info("group.leader_known", "id=%llu leader=%llu", (unsigned long long)g->self,
		    (unsigned long long)id);
	}
	if (leading && !g->ready && !g->barrier_pending && group_mono(g) >= g->barrier_after) {
		g->barrier_pending = raft_glue_barrier(raft_glue_node_raft(g->node),
		    group_on_barrier, g) == 0;
	}
}

static void group_on_role_timer(uv_timer_t *t)
{
	group_role(t->data);
}

void group_tick(group *g)
{
	group_members_reload(g);
	group_role(g);
	if (raft_glue_node_leading(g->node) && g->ready) {
		(void)group_propose_bare(g, REPLICA_KIND_TICK);
		group_peers_flush(g);
	}
}

bool group_leading(const group *g)
{
	return g->ready && raft_glue_node_leading(g->node);
}

bool group_machine_open(const group *g)
{
	return g->r.open;
}

void group_forget(group *g)
{
	g->change_req = NULL;
	for (size_t i = 0; i < GROUP_PENDING_MAX; i++) {
		g->pend[i].used = false;
	}
	for (int k = 0; k < GROUP_SOCKETS; k++) {
		g->stage[k].n = 0;
		g->inflight[k] = 0;
	}
}

int group_create(group **out, uv_loop_t *loop, coord *c, const char *db_path,
    const char *raft_dir, uint64_t self, const group_replica *members, size_t n,
    bool join)
{
	*out = NULL;
	if (n == 0 || n > GROUP_MEMBERS_MAX) {
		return DN_EINVAL;
	}
	group *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return DN_ENOMEM;
	}
	g->loop = loop;
	g->c = c;
	g->self = self;
	g->nmembers = n;
	memcpy(g->members, members, n * sizeof(members[0]));
	uint64_t nonce = 0;
	while (nonce == 0) {
		if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
			free(g);
			return DN_EIO;
		}
	}
	int rv = replica_init(&g->r, c, db_path, nonce);
	if (rv != 0) {
		free(g);
		return rv;
	}
	g->r.on_replies = group_on_replies;
	g->r.replies_arg = g;
	g->r.loop = loop;
	g->r.sum_ms = (uint64_t)c->cfg.group_checksum_ms;
	if (c->cfg.group_secret_file[0] != '\0') {
		rv = auth_key_load(c->cfg.group_secret_file, g->r.raft_key);
		if (rv != 0) {
			log_error("group.secret_bad", "path=%s err=%s hint=\"64 hex digits"
			    " (deploy/pki.sh group-secret)\"", c->cfg.group_secret_file,
			    dn_strerror(rv));
			free(g);
			return DN_EINVAL;
		}
		g->r.raft_key_set = true;
	}
	raft_glue_peer peers[GROUP_MEMBERS_MAX];
	for (size_t i = 0; i < n; i++) {
		peers[i].id = members[i].id;
		peers[i].address = members[i].raft;
	}
	*out = g;
	rv = raft_glue_node_create(&g->node, loop, raft_dir, self, peers, n, join, &g->r);
	if (rv == 0) {
		unsigned every = (unsigned)c->cfg.group_snapshot_entries;
		raft_glue_tune(raft_glue_node_raft(g->node), every, every / 4 < 128 ? every / 4 : 128);
		g->r.snapshot_base = every;      /* grows with the store from there */
		uv_timer_init(loop, &g->role_timer);
		g->role_timer.data = g;
		uv_timer_init(loop, &g->flush_timer);
		g->flush_timer.data = g;
		uv_timer_start(&g->role_timer, group_on_role_timer, GROUP_ROLE_MS, GROUP_ROLE_MS);
		g->role_timer_on = true;
		log_info("group.started", "id=%llu members=%zu raft_dir=%s applied=%llu",
		    (unsigned long long)self, n, raft_dir, (unsigned long long)g->r.applied);
	}
	return rv;
}

void group_close(group *g, void (*closed)(void *arg), void *arg)
{
	group_forget(g);
	if (g->role_timer_on) {
		g->role_timer_on = false;
		uv_timer_stop(&g->role_timer);
		uv_close((uv_handle_t *)&g->role_timer, NULL);
		uv_timer_stop(&g->flush_timer);
		uv_close((uv_handle_t *)&g->flush_timer, NULL);
	}
	if (g->node != NULL) {
		raft_glue_node_close(g->node, closed, arg);
	} else if (closed != NULL) {
		closed(arg);
	}
}

void group_destroy(group *g)
{
	if (g == NULL) {
		return;
	}
	raft_glue_node_destroy(g->node);
	replica_fini(&g->r);
	group_peers_forget(g);
	free(g);
}

/* ---- members and checksums (OPS_REPLICAS, OPS_REPLICA_ADD/REMOVE) ----
 * docs/replication.md "Members and checksums". The members' URLs are
 * replicated state (REPLICA_MEMBERS entries into the store's
 * group_members); until one is applied the --replica flags stand. */

static void group_members_reload(group *g)
{
	if (g->members_gen == g->r.members_gen) {
		return;
	}
	g->members_gen = g->r.members_gen;
	group_replica m[GROUP_MEMBERS_MAX];
	size_t n = replica_members_get(&g->r, m, GROUP_MEMBERS_MAX);
	if (n > 0) {
		memcpy(g->members, m, n * sizeof(m[0]));
		g->nmembers = n;
		log_info("group.members", "id=%llu members=%zu", (unsigned long long)g->self, n);
	}
}

/* The OpsRequest kind in req's bytes, nothing verified (0: none read):
 * only to pick the requests the shell answers itself. */
static int group_ops_peek(const coord *c, bridge_req *req)
{
	size_t len = 0;
	const uint8_t *b = bridge_req_body(req, &len);
	envelope_slice s = {.buf = b, .len = len};
	size_t n = 0;
	if (c->peers != NULL && (envelope_items(b, len, 2, &s, 1, &n) != 0 || n != 1)) {
		return 0;
	}
	Dropnet__OpsRequest *q = NULL;
	int kind = codec_ops_request_unpack(s.buf, s.len, &q) == 0 ? (int)q->kind : 0;
	codec_ops_request_free(q);
	return kind;
}

/* req's OpsRequest once its envelope verifies and its peer has role need;
 * NULL when refused (answered, logged auth.refused). The operator's
 * counter is not taken: that is the machine's state, and these requests
 * never reach the machine (a replayed add or remove of a member that is
 * already in or out is refused). */
static Dropnet__OpsRequest *group_ops_open(coord *c, bridge_req *req, auth_role need)
{
	size_t len = 0;
	const uint8_t *b = bridge_req_body(req, &len);
	mreq m;
	mreq_init(&m, b, len);
	coord_ident id;
	Dropnet__Status st = DROPNET__STATUS__MALFORMED;
	const char *why = "bytes are not an OpsRequest";
	Dropnet__OpsRequest *q = NULL;
	if (coord_ident_open(c, AUTH_SOCKET_OPS, &m, &id, &st, &why) == 0) {
		if (id.peer != NULL && id.peer->role < need) {
			log_warn("auth.refused", "socket=ops reason=forbidden peer=%s role=%s",
			    id.peer->name, auth_role_name(id.peer->role));
			st = DROPNET__STATUS__FORBIDDEN;
			why = "needs the admin role";
		} else if (codec_ops_request_unpack(id.body, id.len, &q) != 0) {
			codec_ops_request_free(q);
			q = NULL;
			st = DROPNET__STATUS__MALFORMED;
		}
		coord_ident_close(&id);
	}
	mreq_fini(&m);
	if (q == NULL) {
		group_refuse(GROUP_OPS, req, st, why, "");
	}
	return q;
}

static void group_info_member(const group_replica *m, Dropnet__ReplicaInfo *i)
{
	dropnet__replica_info__init(i);
	i->id = m->id;
	i->raft = (char *)m->raft;
	i->ingest = (char *)m->url[GROUP_INGEST];
	i->hub = (char *)m->url[GROUP_HUBSYNC];
	i->ops = (char *)m->url[GROUP_OPS];
}

/* This replica's own row: role, term, applied index, latest checksum. */
static void group_info_self(group *g, coord *c, Dropnet__ReplicaInfo *i)
{
	dropnet__replica_info__init(i);
	i->self = true;
	if (g == NULL) {
		/* The single node: its books now; it has no log. */
		i->ingest = c->cfg.ingest_url;
		i->hub = c->cfg.hub_url;
		i->ops = c->cfg.ops_url;
		i->role = "single";
		(void)replica_books_sum(c, &i->sum);
		return;
	}
	for (size_t k = 0; k < g->nmembers; k++) {
		if (g->members[k].id == g->self) {
			group_info_member(&g->members[k], i);
			i->self = true;
		}
	}
	i->id = g->self;
	const char *role = "", *addr = "";
	raft_glue_node_info(g->node, &role, &i->term, &i->applied);
	i->role = (char *)role;
	i->leader = raft_glue_node_leader(g->node, &addr);
	i->sum = g->r.sum;
	i->sum_index = g->r.sum_index;
	i->sum_mono_ms = g->r.sum_mono_ms;
}

static void group_ops_replicas(group *g, coord *c, bridge_req *req)
{
	Dropnet__ReplicaInfo info[GROUP_MEMBERS_MAX + 1];
	Dropnet__ReplicaInfo *ip[GROUP_MEMBERS_MAX + 1];
	size_t n = 1;
	if (g != NULL) {
		group_members_reload(g);
	}
	group_info_self(g, c, &info[0]);
	for (size_t k = 0; g != NULL && k < g->nmembers; k++) {
		group_info_member(&g->members[k], &info[n++]);
	}
	for (size_t k = 0; k < n; k++) {
		ip[k] = &info[k];
	}
	Dropnet__OpsReply rep = DROPNET__OPS_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.status = DROPNET__STATUS__OK;
	rep.n_replicas = n;
	rep.replicas = ip;
	uint8_t *out = NULL;
	size_t olen = 0;
	int rv = codec_ops_reply_pack(&rep, &out, &olen);
	bridge_req_reply(req, rv == 0 ? out : NULL, rv == 0 ? olen : 0);
	free(out);
}

static void group_change_answer(group *g, Dropnet__Status st, const char *why)
{
	if (g->change_req != NULL) {
		group_refuse(GROUP_OPS, g->change_req, st, why, "");
		g->change_req = NULL;
	}
	log_info("group.change_done", "op=%d id=%llu status=%d why=\"%s\"", g->change_op,
	    (unsigned long long)g->change_m.id, (int)st, why);
}

/* Proposes the members with change_m added (add) or without it. */
static int group_members_propose(group *g, bool add)
{
	group_replica m[GROUP_MEMBERS_MAX];
	size_t n = 0;
	for (size_t k = 0; k < g->nmembers; k++) {
		if (g->members[k].id != g->change_m.id) {
			m[n++] = g->members[k];
		}
	}
	if (add && n < GROUP_MEMBERS_MAX) {
		m[n++] = g->change_m;
	}
	uint64_t mono;
	int64_t wall;
	replica_stamp(&g->r, group_mono(g), group_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t index = 0;
	int rv = replica_members_pack(&g->r, m, n, mono, wall, &buf, &len);
	if (rv == 0) {
		rv = raft_glue_propose(raft_glue_node_raft(g->node), buf, len, 0, NULL, NULL,
		    &index);
	}
	free(buf);
	return rv;
}

/* A step of the change is committed (or failed): the next one. */
static void group_change_step(void *arg, int status)
{
	group *g = arg;
	char why[160];
	if (status != 0) {
		snprintf(why, sizeof(why), "membership change failed: %s; see `dropctl replicas`",
		    dn_strerror(status));
		group_change_answer(g, DROPNET__STATUS__UNAVAILABLE, why);
		return;
	}
	int rv = 0;
	if (g->change_op == RAFT_GLUE_ADD) {
		/* In the configuration as a spare: record its URLs, then make it
		 * a voter (libraft catches it up first: snapshot, then log). */
		rv = group_members_propose(g, true);
		g->change_op = RAFT_GLUE_VOTER;
		rv = rv != 0 ? rv : raft_glue_change(raft_glue_node_raft(g->node), RAFT_GLUE_VOTER,
		    g->change_m.id, g->change_m.raft, group_change_step, g);
	} else if (g->change_op == RAFT_GLUE_REMOVE) {
		rv = group_members_propose(g, false);
		snprintf(why, sizeof(why), "replica %llu removed", (unsigned long long)g->change_m.id);
		group_change_answer(g, rv == 0 ? DROPNET__STATUS__OK :
		    DROPNET__STATUS__UNAVAILABLE, rv == 0 ? why : dn_strerror(rv));
		return;
	} else {
		snprintf(why, sizeof(why), "replica %llu added: a voter, caught up",
		    (unsigned long long)g->change_m.id);
		group_change_answer(g, DROPNET__STATUS__OK, why);
		return;
	}
	if (rv != 0) {
		group_change_step(g, rv);
	}
}

/* dropctl replicas add / remove on this member: checks, then the first
 * step (the request is answered when the last one is committed). */
static void group_change_begin(group *g, bridge_req *req, const Dropnet__OpsRequest *q)
{
	bool add = q->kind == DROPNET__OPS_KIND__OPS_REPLICA_ADD;
	const Dropnet__ReplicaInfo *in = q->replica;
	group_replica m;
	memset(&m, 0, sizeof(m));
	const char *bad = NULL;
	if (in == NULL || in->id == 0) {
		bad = "replica.id is required";
	} else if (add) {
		const char *f[] = {in->raft, in->ingest, in->hub, in->ops};
		for (size_t k = 0; k < 4 && bad == NULL; k++) {
			if (f[k][0] == '\0' || strlen(f[k]) >= DN_CONF_STR_MAX) {
				bad = "replica add needs ID,RAFT_ADDR,INGEST,HUB,OPS";
			}
		}
	}
	if (bad == NULL) {
		m.id = in->id;
		if (add) {
			snprintf(m.raft, sizeof(m.raft), "%s", in->raft);
			snprintf(m.url[GROUP_INGEST], DN_CONF_STR_MAX, "%s", in->ingest);
			snprintf(m.url[GROUP_HUBSYNC], DN_CONF_STR_MAX, "%s", in->hub);
			snprintf(m.url[GROUP_OPS], DN_CONF_STR_MAX, "%s", in->ops);
		}
		bool known = false;
		for (size_t k = 0; k < g->nmembers; k++) {
			known = known || g->members[k].id == m.id;
		}
		bad = add && (known || g->nmembers == GROUP_MEMBERS_MAX) ?
		    "that id is a member already, or the group is full" :
		    !add && !known ? "no member has that id" :
		    !add && m.id == g->self ? "this replica leads: stop it (another one takes "
		    "over) and remove it there" : NULL;
	}
	if (bad != NULL) {
		group_refuse(GROUP_OPS, req, DROPNET__STATUS__INVALID, bad, "");
		return;
	}
	if (g->change_req != NULL) {
		group_refuse(GROUP_OPS, req, DROPNET__STATUS__UNAVAILABLE,
		    "another membership change is in progress", "");
		return;
	}
	int op = add ? RAFT_GLUE_ADD : RAFT_GLUE_REMOVE;
	int rv = raft_glue_change(raft_glue_node_raft(g->node), op, m.id, m.raft,
	    group_change_step, g);
	if (rv != 0) {
		group_refuse(GROUP_OPS, req, rv == DN_EINVAL ? DROPNET__STATUS__INVALID :
		    DROPNET__STATUS__UNAVAILABLE, dn_strerror(rv), "");
		return;
	}
	g->change_req = req;
	g->change_op = op;
	g->change_m = m;
	log_info("group.change", "op=%s id=%llu raft=%s", add ? "add" : "remove",
	    (unsigned long long)m.id, m.raft);
}

/* Add or remove: the leader, taken over, does it; others say who does. */
static void group_ops_change(group *g, coord *c, bridge_req *req)
{
	if (g == NULL) {
		group_refuse(GROUP_OPS, req, DROPNET__STATUS__INVALID,
		    "a single coordinator has no replicas to change (docs/replication.md)", "");
		return;
	}
	Dropnet__OpsRequest *q = group_ops_open(c, req, AUTH_ROLE_ADMIN);
	if (q == NULL) {
		return;
	}
	if (!raft_glue_node_leading(g->node)) {
		group_refuse(GROUP_OPS, req, DROPNET__STATUS__NOT_LEADER,
		    "not the leader of the coordinator group", group_leader_url(g, GROUP_OPS));
	} else if (!g->ready) {
		group_refuse(GROUP_OPS, req, DROPNET__STATUS__UNAVAILABLE,
		    "the new leader is taking over; retry", "");
	} else {
		group_members_reload(g);
		group_change_begin(g, req, q);
	}
	codec_ops_request_free(q);
}

size_t group_ops_local(group *g, coord *c, bridge_req **reqs, size_t n, bridge_req **rest)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int kind = group_ops_peek(c, reqs[i]);
		if (kind == DROPNET__OPS_KIND__OPS_REPLICAS) {
			Dropnet__OpsRequest *q = group_ops_open(c, reqs[i], AUTH_ROLE_READ_ONLY);
			if (q != NULL) {
				group_ops_replicas(g, c, reqs[i]);
			}
			codec_ops_request_free(q);
		} else if (kind == DROPNET__OPS_KIND__OPS_REPLICA_ADD ||
		    kind == DROPNET__OPS_KIND__OPS_REPLICA_REMOVE) {
			group_ops_change(g, c, reqs[i]);
		} else {
			rest[k++] = reqs[i];
		}
	}
	return k;
}
