/*
 * main.c - the coordinator daemon: the shell around the coordinator machine
 * (coordinator/machine): arguments, config, signals, sockets, the clock.
 *
 * One libuv loop owns everything. Three nng REP sockets feed the machine
 * through common/io/bridge: ingest (storefronts), hubsync (hubd), ops
 * (dropctl); a pub socket carries its region signals and the price and
 * availability feed (what the machine queued in its outbox, published
 * once the commits that decided it are durable). For each batch the
 * shell sets the machine's clock, turns the bridge's requests into mreqs,
 * calls the machine (which commits before it returns) and only then queues
 * the replies; each bridge's sender thread makes the commit durable
 * (common/io/walsync: one fdatasync of the WAL for every commit made while
 * the last one ran) before the replies leave, so the loop never waits for
 * the disk and no reply leaves before its commit is on disk. A timer drives coord_tick. SIGINT/SIGTERM close every handle,
 * run the loop until it is empty, and close the database. SIGHUP re-reads
 * the peers table and the listeners' TLS files (a revocation).
 */
#include <assert.h>
#include <signal.h>
#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/bridge.h"
#include "io/nettls.h"
#include "io/tls_engine.h"
#include "io/netguard.h"
#include "io/walsync.h"
#include "io/db.h"
#include "io/log.h"
#include "coord.h"
#include "group.h"
#include "reads.h"
#include "obs.h"

/* How often hub health is re-evaluated for logging. It also bounds the gap
 * between two clock settings of the machine while the loop runs: a gap over
 * DN_COORD_STALL_MS is taken for a stall (coord_clock_set). */
#define COORD_HEALTH_TICK_MS 250
_Static_assert(COORD_HEALTH_TICK_MS * 2 <= DN_COORD_STALL_MS,
    "the tick must be well inside the stall bound");
/* Most --set overrides on one command line. */
#define COORD_SETS_MAX 64

/* Pub batches (one machine call's outbox each) waiting for their commits
 * to be durable; past this many the loop waits for the sync itself (a
 * disk that slow is slowing every reply anyway). */
#define SHELL_PUB_BATCHES_MAX 64

struct shell;
/* One machine call's pub messages, published in call order once a
 * threadpool worker saw its walsync ticket durable. */
typedef struct shell_pub_batch {
	uv_work_t work;
	struct shell *sh;
	uint64_t ticket;
	bool synced;
	size_t n;
	nng_msg **msgs;
	struct shell_pub_batch *next;
} shell_pub_batch;

/* The shell: what the machine must not see. */
typedef struct shell {
	coord c;
	uv_loop_t *loop;
	bridge *ingest, *ops, *hubsync;
	uv_timer_t health_timer;
	uv_signal_t sigint, sigterm, sighup;
	nng_socket pub;
	bool pub_open;
	netguard *pub_guard;     /* the signal listener, kept alive (netguard.h) */
	unsigned health_ticks;
	obs obs;                      /* /metrics and the shell's timings */
	/* A replicated group (--replica-id): NULL runs the single node. */
	group *grp;
	bool grp_closing;             /* group_close called */
	uint64_t replica_id;
	group_replica reps[GROUP_MEMBERS_MAX];
	bool join;                    /* --join: a new member, not bootstrapped */
	size_t nreps;
	walsync *ws;                  /* NULL: commits sync on the loop (FULL) */
	int64_t rows_marked;          /* coord_rows_written at the last ticket */
	shell_pub_batch *pub_head, *pub_tail; /* waiting to publish, in order */
	reads *reads;                 /* audits' durable reads off the loop (single node) */
	uint64_t ckpt_asked_ms;       /* uv_now of the last checkpoint asked for */
	size_t pub_batches;
} shell;

static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void shell_clock(shell *sh)
{
	uv_update_time(sh->loop);
	uint64_t mono = uv_now(sh->loop);
	/* uv_now starts near 0 at loop start; 0 means "never seen" to the
	 * machine's hub table, so the machine's clock starts at 1. */
	coord_clock_set(&sh->c, mono + 1, wall_now_ms());
}

typedef void (*machine_batch_fn)(coord *c, mreq **reqs, size_t n);
static void shell_outbox(shell *sh, uint64_t ticket);

/* The walsync ticket for everything the machine committed so far, taken
 * after each batch and tick: a new one when rows were written since the
 * last (its fdatasync covers them, the tick's commits too), else the last
 * one - an idle network's batches and ticks wait for no fdatasync of their
 * own, yet never reply before an earlier commit (whose commands or answer
 * they may carry) is on disk. */
static uint64_t shell_ticket(shell *sh)
{
	if (sh->ws == NULL) {
		return 0;
	}
	int64_t rows = coord_rows_written(&sh->c);
	if (rows != sh->rows_marked) {
		sh->rows_marked = rows;
		return walsync_mark(sh->ws);
	}
	return walsync_last(sh->ws);
}

/* Runs one machine batch over bridge requests and sends its replies;
 * with /metrics on, times the call and each request's ack, and publishes
 * a snapshot (at most every OBS_PUBLISH_MS). */
static void shell_run(shell *sh, machine_batch_fn fn, obs_path path, bridge_req **reqs,
    size_t n)
{
	mreq m[DN_SERVER_CTX_MAX];
	mreq *mp[DN_SERVER_CTX_MAX];
	uint64_t recv_ns[DN_SERVER_CTX_MAX];
	bool timed = obs_on(&sh->obs);
	assert(n <= DN_SERVER_CTX_MAX);
	shell_clock(sh);
	/* Arrival on the wall clock: the wall now less how long ago on the
	 * monotonic clock the bridge took the request (the order trace). */
	int64_t wall = wall_now_ms();
	uint64_t mono_ns = obs_now_ns();
	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		const uint8_t *body = bridge_req_body(reqs[i], &len);
		mreq_init(&m[i], body, len);
		mp[i] = &m[i];
		recv_ns[i] = bridge_req_received_ns(reqs[i]);
		uint64_t ago_ns = mono_ns > recv_ns[i] ? mono_ns - recv_ns[i] : 0;
		m[i].arrived_ms = wall - (int64_t)(ago_ns / 1000000u);
	}
	uint64_t t0 = timed ? obs_now_ns() : 0;
	fn(&sh->c, mp, n);
	uint64_t t1 = timed ? obs_now_ns() : 0;
	/* Whatever fn committed is durable once the ticket is synced. */
	uint64_t ticket = shell_ticket(sh);
	size_t acked = 0;
	for (size_t i = 0; i < n; i++) {
		if (!m[i].replied) {
			/* Reads that run off the loop (reads.h); their ack is
			 * timed when they are answered (shell_read_done). */
			assert(m[i].deferred != NULL && sh->reads != NULL);
			reads_submit(sh->reads, reqs[i], m[i].deferred);
		} else {
			bridge_req_reply_after(reqs[i], m[i].reply, m[i].reply_len, ticket);
			recv_ns[acked++] = recv_ns[i];
		}
		mreq_fini(&m[i]);
	}
	shell_outbox(sh, ticket);
	if (timed) {
		obs_batch(&sh->obs, path, t0, t1);
		obs_acks(&sh->obs, path, recv_ns, acked, obs_now_ns());
		obs_publish(&sh->obs, &sh->c, false);
	}
}

/* A deferred read is done (reads.h): answer it once what it read is
 * durable, like any reply. */
static void shell_read_done(void *arg, bridge_req *req, coord_read_job *job)
{
	shell *sh = arg;
	mreq m;
	uint64_t recv_ns = bridge_req_received_ns(req);
	mreq_init(&m, NULL, 0);
	coord_read_job_reply(job, &m);
	bridge_req_reply_after(req, m.reply, m.reply_len, shell_ticket(sh));
	mreq_fini(&m);
	if (obs_on(&sh->obs)) {
		obs_acks(&sh->obs, OBS_OPS, &recv_ns, 1, obs_now_ns());
	}
}

/* SQLite calls this on the loop after each commit with the WAL's size in
 * pages: past SHELL_CKPT_PAGES it asks for a checkpoint off the loop
 * (reads_checkpoint), at most every SHELL_CKPT_GAP_MS while it stays
 * there (a long read keeps what it needs in the WAL). */
#define SHELL_CKPT_PAGES 4000
#define SHELL_CKPT_GAP_MS 100
static int shell_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	shell *sh = arg;
	uint64_t now = uv_now(sh->loop);
	if (pages >= SHELL_CKPT_PAGES && now - sh->ckpt_asked_ms >= SHELL_CKPT_GAP_MS) {
		sh->ckpt_asked_ms = now;
		reads_checkpoint(sh->reads);
	}
	return SQLITE_OK;
}

/* A request over its connection's in-flight cap (bridge_set_peer_max):
 * UNAVAILABLE in its socket's reply shape, before any machine or group
 * sees it, counted as refusal peer_inflight (the bridge logs
 * bridge.peer_busy). */
static void shell_refuse_busy(shell *sh, int socket, bridge_req *r, uint32_t max,
    const char *key)
{
	char why[192];
	snprintf(why, sizeof(why), "busy: this connection already has %" PRIu32
	    " requests in flight (%s); retry once one is answered", max, key);
	sh->c.refusals.peer_inflight++;
	group_refuse(socket, r, DROPNET__STATUS__UNAVAILABLE, why, "");
}

static void on_ingest_busy(void *arg, bridge_req *r, uint32_t max)
{
	shell_refuse_busy(arg, GROUP_INGEST, r, max, "coordinator.ingest_peer_inflight_max");
}

static void on_hubsync_busy(void *arg, bridge_req *r, uint32_t max)
{
	shell_refuse_busy(arg, GROUP_HUBSYNC, r, max, "coordinator.hub_peer_inflight_max");
}

static void on_ops_busy(void *arg, bridge_req *r, uint32_t max)
{
	shell_refuse_busy(arg, GROUP_OPS, r, max, "coordinator.ops_peer_inflight_max");
}

/* In a group the batch becomes a log entry (group.c): the machine runs it
 * when it is committed, on every replica. */
static void on_ingest(void *arg, bridge_req **reqs, size_t n)
{
	shell *sh = arg;
	if (sh->grp != NULL) {
		group_submit(sh->grp, GROUP_INGEST, reqs, n);
		return;
	}
	shell_run(arg, coord_ingest_request, OBS_INGEST, reqs, n);
}

static void on_hubsync(void *arg, bridge_req **reqs, size_t n)
{
	shell *sh = arg;
	if (sh->grp != NULL) {
		group_submit(sh->grp, GROUP_HUBSYNC, reqs, n);
		return;
	}
	shell_run(arg, coord_hubsync_batch, OBS_HUBSYNC, reqs, n);
}

static void on_ops(void *arg, bridge_req **reqs, size_t n)
{
	shell *sh = arg;
	if (sh->grp != NULL) {
		group_submit(sh->grp, GROUP_OPS, reqs, n);
		return;
	}
	bridge_req *rest[DN_SERVER_CTX_MAX];
	n = group_ops_local(NULL, &sh->c, reqs, n, rest);
	if (n > 0) {
		shell_run(arg, coord_ops_batch, OBS_OPS, rest, n);
	}
}

/* One outbox message (topic and body, built by the machine) on the pub
 * socket. */
static void on_publish(void *arg, const uint8_t *buf, size_t len)
{
	shell *sh = arg;
	nng_msg *m = NULL;
	/* Every replica runs the machine; only the leader speaks for it. */
	if (sh->grp != NULL && !group_leading(sh->grp)) {
		return;
	}
	if (!sh->pub_open || nng_msg_alloc(&m, len) != 0) {
		return;
	}
	memcpy(nng_msg_body(m), buf, len);
	/* pub never blocks; with no subscriber the message is dropped. */
	if (nng_sendmsg(sh->pub, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
	}
}

/* Sends every batch at the head of the queue whose commits are durable,
 * in call order (a later batch waits for an earlier one). */
static void shell_pub_flush(shell *sh)
{
	while (sh->pub_head != NULL && sh->pub_head->synced) {
		shell_pub_batch *b = sh->pub_head;
		bool send = sh->pub_open && (sh->grp == NULL || group_leading(sh->grp));
		for (size_t i = 0; i < b->n; i++) {
			/* pub never blocks; with no subscriber the message is dropped. */
			if (!send || nng_sendmsg(sh->pub, b->msgs[i], NNG_FLAG_NONBLOCK) != 0) {
				nng_msg_free(b->msgs[i]);
			}
		}
		sh->pub_head = b->next;
		if (sh->pub_head == NULL) {
			sh->pub_tail = NULL;
		}
		sh->pub_batches--;
		free(b->msgs);
		free(b);
	}
}

/* A threadpool worker: waits until the batch's commits are on disk. */
static void shell_pub_work(uv_work_t *w)
{
	shell_pub_batch *b = w->data;
	walsync_upto(b->sh->ws, b->ticket);
}

static void shell_pub_after(uv_work_t *w, int status)
{
	shell_pub_batch *b = w->data;
	(void)status; /* cancelled only at shutdown: nothing left to wait for */
	b->synced = true;
	shell_pub_flush(b->sh);
}

/* One outbox message into the batch being filled. */
static void shell_pub_collect(void *arg, const uint8_t *buf, size_t len)
{
	shell_pub_batch *b = arg;
	nng_msg *m = NULL;
	if (nng_msg_alloc(&m, len) == 0) {
		memcpy(nng_msg_body(m), buf, len);
		b->msgs[b->n++] = m;
	}
}

/* Publishes what the last machine call queued (region signals, feed
 * changes) once everything it committed is durable: ticket is the walsync
 * mark taken after the call. The loop never waits for the disk: a
 * threadpool worker waits for the ticket and the loop then sends, batches
 * in call order. Without walsync (a group: entries were committed by the
 * log before they were applied; or commits synced on the loop) it sends
 * at once. */
static void shell_outbox(shell *sh, uint64_t ticket)
{
	size_t n = coord_outbox_len(&sh->c);
	if (n == 0) {
		return;
	}
	if (sh->ws == NULL) {
		coord_outbox_take(&sh->c, on_publish, sh);
		return;
	}
	shell_pub_batch *b = calloc(1, sizeof(*b));
	nng_msg **msgs = calloc(n, sizeof(*msgs));
	if (b == NULL || msgs == NULL || sh->pub_batches == SHELL_PUB_BATCHES_MAX) {
		free(b);
		free(msgs);
		walsync_upto(sh->ws, ticket);
		coord_outbox_take(&sh->c, on_publish, sh);
		return;
	}
	b->sh = sh;
	b->ticket = ticket;
	b->msgs = msgs;
	b->work.data = b;
	coord_outbox_take(&sh->c, shell_pub_collect, b);
	if (sh->pub_tail != NULL) {
		sh->pub_tail->next = b;
	} else {
		sh->pub_head = b;
	}
	sh->pub_tail = b;
	sh->pub_batches++;
	if (uv_queue_work(sh->loop, &b->work, shell_pub_work, shell_pub_after) != 0) {
		walsync_upto(sh->ws, ticket);
		b->synced = true;
		shell_pub_flush(sh);
	}
}

/* TLS files of a listener whose peers hold certificates of one role:
 * role_ca if set (a CA per role), else the network's tls.ca_file. */
static nettls_files coord_tls_files(const coord_config *cfg, const char *role_ca)
{
	nettls_files f = {
		.ca_file = role_ca[0] != '\0' ? role_ca : cfg->tls_ca_file,
		.crl_file = cfg->tls_crl_file,
		.cert_file = cfg->tls_cert_file,
		.key_file = cfg->tls_key_file,
		.allow_plaintext = cfg->tls_allow_plaintext != 0,
	};
	return f;
}

/* Every socket URL against the TLS policy (nettls.h), before anything
 * starts: a plaintext tcp:// without tls.allow_plaintext, or TLS without
 * its files, is a config error. */
static int coord_tls_check(const coord_config *cfg)
{
	const struct {
		const char *key, *url, *role_ca;
	} socks[] = {
		{"coordinator.ingest_url", cfg->ingest_url, cfg->tls_storefront_ca_file},
		{"coordinator.hub_url", cfg->hub_url, cfg->tls_hub_ca_file},
		{"coordinator.ops_url", cfg->ops_url, cfg->tls_operator_ca_file},
		{"coordinator.signal_url", cfg->signal_url, cfg->tls_operator_ca_file},
	};
	char err[512];
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
		nettls_files f = coord_tls_files(cfg, socks[i].role_ca);
		if (nettls_check(socks[i].url, &f, err, sizeof(err)) != 0) {
			fprintf(stderr, "coordinator: config: %s: %s\n", socks[i].key, err);
			return DN_EINVAL;
		}
	}
	return 0;
}

static int shell_pub_open(shell *sh)
{
	int rv = nng_pub0_open(&sh->pub);
	if (rv == 0) {
		nettls_files tls = coord_tls_files(&sh->c.cfg, sh->c.cfg.tls_operator_ca_file);
		rv = netguard_listen(&sh->pub_guard, sh->pub, sh->c.cfg.signal_url, &tls);
		if (rv != 0) {
			log_error("signal.listen_failed", "url=%s err=%s", sh->c.cfg.signal_url,
			    dn_strerror(rv));
			nng_close(sh->pub);
			return DN_ENET;
		}
		sh->pub_open = true;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: coordinator [--config FILE] [--set section.key=value]... [--help]\n"
	    "\n"
	    "The dropnet coordinator: takes storefront orders, routes each to the\n"
	    "nearest hub in range that can fill it, never oversells, and keeps the\n"
	    "command/event streams with every hub. Logs go to stderr; it prints a\n"
	    "line with 'coordinator.ready' once every socket is listening.\n"
	    "Every TCP socket is tls+tcp:// and requires a client certificate of\n"
	    "its role's CA (tls.* keys below; deploy/pki.sh makes them); tcp://\n"
	    "only with tls.allow_plaintext=1. Every request is signed by a peer of\n"
	    "auth.peers_file (proto/SEMANTICS.md \"Transport and identity\").\n"
	    "SIGHUP re-reads auth.peers_file and the TLS files (a revocation; in a group\n"
	    "the leader proposes the peers file to every replica).\n"
	    "\n"
	    "A replicated group (docs/replication.md; off by default):\n"
	    "  --replica-id N      this process is replica N of the group\n"
	    "  --replica ID,RAFT_ADDR,INGEST_URL,HUB_URL,OPS_URL\n"
	    "                      one per replica, this one too: its replication\n"
	    "                      address (IP:port, plaintext TCP: a private\n"
	    "                      network only) and its client URLs, which a\n"
	    "                      follower names in its NOT_LEADER answers.\n"
	    "  --join              a new member (empty DATA_DIR) joining a running\n"
	    "                      group: its log is not bootstrapped; it waits for\n"
	    "                      `dropctl replicas add` on the leader, then catches\n"
	    "                      up (snapshot, then log). --replica lists every\n"
	    "                      member and itself.\n"
	    "The Raft log lives in DATA_DIR/raft. `dropctl replicas` prints every\n"
	    "replica's role, term, applied index and books checksum.\n\n");
}

static void coord_health_tick(uv_timer_t *t)
{
	shell *sh = t->data;
	/* The bridges guard their own listeners; the signal listener's guard
	 * looks about once a second. */
	if (++sh->health_ticks % (1000 / COORD_HEALTH_TICK_MS) == 0) {
		(void)netguard_tick(sh->pub_guard, uv_now(sh->loop));
	}
	if (sh->grp != NULL) {
		/* The group's clock and ticks come from the log. */
		group_tick(sh->grp);
		if (group_machine_open(sh->grp)) {
			shell_outbox(sh, 0);
			obs_publish(&sh->obs, &sh->c, true);
		}
		return;
	}
	shell_clock(sh);
	coord_tick(&sh->c);
	shell_outbox(sh, shell_ticket(sh));
	obs_publish(&sh->obs, &sh->c, true);
}

static void coord_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void coord_stop(shell *sh)
{
	coord *c = &sh->c;
	log_info("coordinator.stopping", "orders_seen=%llu batches=%llu commit_failures=%llu",
	    (unsigned long long)c->orders_seen, (unsigned long long)c->ingest_batches,
	    (unsigned long long)c->commit_failures);
	if (sh->grp != NULL) {
		/* The bridges drop what waits (clients retry, same keys). */
		group_forget(sh->grp);
	}
	reads_close(sh->reads); /* before the ops bridge drops its requests */
	sh->reads = NULL;
	if (sh->ws != NULL) {
		/* A sync ending on another sender's thread would kick the
		 * ingest bridge being freed. */
		walsync_set_done(sh->ws, NULL, NULL);
	}
	bridge_destroy(sh->ingest);
	bridge_destroy(sh->hubsync);
	bridge_destroy(sh->ops);
	sh->ingest = sh->hubsync = sh->ops = NULL;
	uv_timer_stop(&sh->health_timer);
	uv_close((uv_handle_t *)&sh->health_timer, NULL);
	uv_close((uv_handle_t *)&sh->sigint, NULL);
	uv_close((uv_handle_t *)&sh->sigterm, NULL);
	uv_close((uv_handle_t *)&sh->sighup, NULL);
	if (sh->grp != NULL) {
		sh->grp_closing = true;
		group_close(sh->grp, NULL, NULL);
	}
}

static void coord_on_signal(uv_signal_t *s, int signum)
{
	shell *sh = s->data;
	log_info("coordinator.signal", "signal=%d", signum);
	coord_stop(sh);
}

/* In a group the peers table is the group's (replica/peers.c): the leader
 * proposes its file's text, which every replica takes at one log index; a
 * follower's own file is not used (a SIGHUP to every replica is fine). A
 * replica that holds no group state yet (a --join before its first
 * snapshot) has nothing to keep in step: it reloads its file as a single
 * node does, and the snapshot it restores from brings the group's. */
/* Logs what fresh changes against old: how many peers are added, removed
 * or change role or key, and the first names of each (auth.peers_diff). */
static void shell_peers_diff(const auth_table *old, const auth_table *fresh)
{
	char names[3][160] = {"", "", ""};
	size_t n[3] = {0, 0, 0};   /* added, removed, changed */
	const auth_table *from[3] = {fresh, old, fresh};
	const auth_table *to[3] = {old, fresh, old};
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; from[k] != NULL && i < from[k]->n; i++) {
			const auth_peer *p = &from[k]->peers[i];
			const auth_peer *q = auth_table_find(to[k], p->name);
			bool hit = k < 2 ? q == NULL : q != NULL && (q->role != p->role ||
			    memcmp(q->key, p->key, sizeof(p->key)) != 0);
			if (hit && n[k]++ < 4) {
				size_t at = strlen(names[k]);
				snprintf(names[k] + at, sizeof(names[k]) - at, "%s%s", at ? "," : "",
				    p->name);
			}
		}
	}
	log_info("auth.peers_diff", "added=%zu removed=%zu changed=%zu added_names=%s"
	    " removed_names=%s changed_names=%s", n[0], n[1], n[2], names[0][0] ? names[0] : "-",
	    names[1][0] ? names[1] : "-", names[2][0] ? names[2] : "-");
}

static void shell_peers_propose(shell *sh, auth_table *fresh)
{
	const auth_table *now = sh->c.peers;
	int rv = 0;
	if (fresh->n == 0) {
		/* A truncated or emptied file would lock out every peer of
		 * the group, admins included. */
		log_error("auth.reload_refused", "reason=\"the peers file names no peer\" kept=old");
	} else if (now != NULL && now->text_len == fresh->text_len &&
	    memcmp(now->text, fresh->text, now->text_len) == 0) {
		log_info("auth.reload_same", "peers=%zu", fresh->n);   /* a TLS-only SIGHUP */
	} else if ((rv = group_peers_propose(sh->grp, fresh->text, fresh->text_len)) == 0) {
		shell_peers_diff(now, fresh);
	} else if (rv == DN_ESTATE) {
		log_info("auth.reload_follower", "peers=%zu hint=\"a group's peers table is the"
		    " leader's: send SIGHUP to the leader (dropctl replicas)\"", fresh->n);
	} else {
		log_error("auth.reload_failed", "err=%s kept=old", dn_strerror(rv));
	}
	auth_table_destroy(fresh);
}

/* SIGHUP: re-reads the peers table and every listener's TLS files (a
 * revocation: pki.sh revoke rewrites PKI/peers and PKI/crl.pem). A file
 * that does not load keeps what was loaded before; both are logged. */
static void coord_on_hup(uv_signal_t *s, int signum)
{
	shell *sh = s->data;
	coord *c = &sh->c;
	(void)signum;
	if (c->cfg.auth_peers_file[0] != '\0') {
		char err[512];
		auth_table *fresh = NULL;
		if (auth_table_load(c->cfg.auth_peers_file, &fresh, err, sizeof(err)) != 0) {
			log_error("auth.reload_failed", "err=\"%s\" kept=old", err);
		} else if (sh->grp != NULL && group_machine_open(sh->grp)) {
			shell_peers_propose(sh, fresh);
		} else {
			auth_table_carry(c->peers, fresh);
			auth_table_destroy(c->peers);
			c->peers = fresh;
			log_info("auth.reloaded", "peers=%zu", fresh->n);
		}
	}
	nettls_files tls_store = coord_tls_files(&c->cfg, c->cfg.tls_storefront_ca_file);
	nettls_files tls_hub = coord_tls_files(&c->cfg, c->cfg.tls_hub_ca_file);
	nettls_files tls_op = coord_tls_files(&c->cfg, c->cfg.tls_operator_ca_file);
	(void)bridge_relisten(sh->ingest, &tls_store);
	(void)bridge_relisten(sh->hubsync, &tls_hub);
	(void)bridge_relisten(sh->ops, &tls_op);
	if (sh->pub_open) {
		(void)netguard_restart(sh->pub_guard, &tls_op, "reload");
	}
	log_info("coordinator.reloaded", "signal=%d", SIGHUP);
}

static int mkdir_p(const char *path)
{
	char buf[DN_CONF_STR_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
				return -1;
			}
			*p = '/';
		}
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Parses the command line and the config into c. Returns -1 to go on,
 * else the exit code (0 after --help, 2 on a bad argument or config). */
/* The peers table (auth.peers_file) into c->peers: required unless the
 * operator asked for auth.anonymous. 0 or DN_EINVAL (said on stderr). */
static int shell_peers_load(coord *c)
{
	char err[512];
	if (c->cfg.auth_peers_file[0] == '\0') {
		if (c->cfg.auth_anonymous) {
			return 0;
		}
		fprintf(stderr, "coordinator: config: auth.peers_file is required (deploy/pki.sh"
		    " writes PKI/peers), or auth.anonymous=1 on a private test network\n");
		return DN_EINVAL;
	}
	if (auth_table_load(c->cfg.auth_peers_file, &c->peers, err, sizeof(err)) != 0) {
		fprintf(stderr, "coordinator: config: auth.peers_file: %s\n", err);
		return DN_EINVAL;
	}
	return 0;
}

/* --replica-id and --replica: both or neither; this id among the replicas. */
static int shell_group_check(shell *sh)
{
	if (sh->replica_id == 0 && sh->nreps == 0 && !sh->join) {
		return 0;
	}
	for (size_t i = 0; i < sh->nreps; i++) {
		for (size_t k = 0; k < i; k++) {
			if (sh->reps[k].id == sh->reps[i].id) {
				fprintf(stderr, "coordinator: --replica: id %llu given twice\n",
				    (unsigned long long)sh->reps[i].id);
				return DN_EINVAL;
			}
		}
		if (sh->reps[i].id == sh->replica_id) {
			return 0;
		}
	}
	fprintf(stderr, "coordinator: --replica-id %llu must be one of the --replica ids\n",
	    (unsigned long long)sh->replica_id);
	return DN_EINVAL;
}

/* A group flag at argv[*i] (consumed): 1, 0 (not one), or -1 (bad). */
static int shell_group_arg(shell *sh, int argc, char **argv, int *i)
{
	if (strcmp(argv[*i], "--join") == 0) {
		sh->join = true;
		return 1;
	}
	if (*i + 1 >= argc) {
		return 0;
	}
	if (strcmp(argv[*i], "--replica-id") == 0) {
		char *end = NULL;
		sh->replica_id = strtoull(argv[++*i], &end, 10);
		return sh->replica_id > 0 && *end == '\0' ? 1 : -1;
	}
	if (strcmp(argv[*i], "--replica") == 0) {
		if (sh->nreps == GROUP_MEMBERS_MAX ||
		    group_replica_parse(argv[++*i], &sh->reps[sh->nreps]) != 0) {
			return -1;
		}
		sh->nreps++;
		return 1;
	}
	return 0;
}

static int shell_config(int argc, char **argv, shell *sh, log_level *lvl)
{
	coord *c = &sh->c;
	const char *config = NULL;
	const char *sets[COORD_SETS_MAX];
	size_t nsets = 0;
	int g;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			conf_print_help(coord_config_keys, coord_config_nkeys);
			return 0;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < COORD_SETS_MAX) {
			sets[nsets++] = argv[++i];
		} else if ((g = shell_group_arg(sh, argc, argv, &i)) != 0) {
			if (g < 0) {
				fprintf(stderr, "coordinator: bad %s '%s' (see --help)\n", argv[i - 1],
				    argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "coordinator: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	char err[512];
	if (conf_load(coord_config_keys, coord_config_nkeys, &c->cfg, config, sets, nsets,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "coordinator: config: %s\n", err);
		return 2;
	}
	if (log_level_parse(c->cfg.log_level, lvl) != 0) {
		fprintf(stderr, "coordinator: config: log.level '%s' is not debug|info|warn|error\n",
		    c->cfg.log_level);
		return 2;
	}
	if (strcmp(c->cfg.split_policy, "never") == 0) {
		c->split = ROUTE_SPLIT_NEVER;
	} else if (strcmp(c->cfg.split_policy, "allowed") == 0) {
		c->split = ROUTE_SPLIT_ALLOWED;
	} else {
		fprintf(stderr, "coordinator: config: coordinator.split_policy must be never or allowed\n");
		return 2;
	}
	if (shell_group_check(sh) != 0 || obs_config_check(&c->cfg) != 0 ||
	    coord_tls_check(&c->cfg) != 0) {
		return 2;
	}
	return shell_peers_load(c) != 0 ? 2 : -1;
}

static void shell_sync(void *arg, uint64_t ticket)
{
	walsync_upto(arg, ticket);
}

/* Ingest batches wait while the WAL sync runs (bridge_set_gate). */
static bool shell_ingest_gate(void *arg)
{
	shell *sh = arg;
	return !walsync_busy(sh->ws);
}

/* A sync ended (a sender thread): take what ingest held meanwhile. */
static void shell_sync_done(void *arg)
{
	shell *sh = arg;
	bridge_kick(sh->ingest);
}

/* Opens the three REP sockets and the pub socket. 0 or a DN_E* code
 * (logged; what was opened is closed again). */
static int shell_listen(shell *sh)
{
	coord *c = &sh->c;
	nettls_files tls_store = coord_tls_files(&c->cfg, c->cfg.tls_storefront_ca_file);
	nettls_files tls_hub = coord_tls_files(&c->cfg, c->cfg.tls_hub_ca_file);
	nettls_files tls_op = coord_tls_files(&c->cfg, c->cfg.tls_operator_ca_file);
	int rv = bridge_create(&sh->ingest, sh->loop, c->cfg.ingest_url, &tls_store,
	    DN_INGEST_MSG_MAX + DN_AUTH_ENVELOPE_MAX, (size_t)c->cfg.ingest_contexts,
	    on_ingest, sh);
	if (rv == 0) {
		rv = bridge_create(&sh->hubsync, sh->loop, c->cfg.hub_url, &tls_hub,
		    DN_HUBSYNC_MSG_MAX, COORD_HUB_CTX, on_hubsync, sh);
	}
	if (rv == 0) {
		rv = bridge_create(&sh->ops, sh->loop, c->cfg.ops_url, &tls_op, DN_OPS_MSG_MAX,
		    COORD_OPS_CTX, on_ops, sh);
	}
	if (rv == 0) {
		rv = shell_pub_open(sh);
	}
	if (rv == 0) {
		bridge_set_peer_max(sh->ingest, (uint32_t)c->cfg.ingest_peer_inflight_max,
		    on_ingest_busy, sh);
		bridge_set_peer_max(sh->hubsync, (uint32_t)c->cfg.hub_peer_inflight_max,
		    on_hubsync_busy, sh);
		bridge_set_peer_max(sh->ops, (uint32_t)c->cfg.ops_peer_inflight_max,
		    on_ops_busy, sh);
	}
	if (rv == 0 && sh->ws != NULL) {
		bridge_set_sync(sh->ingest, shell_sync, sh->ws);
		bridge_set_sync(sh->hubsync, shell_sync, sh->ws);
		bridge_set_sync(sh->ops, shell_sync, sh->ws);
		bridge_set_gate(sh->ingest, shell_ingest_gate, sh);
		walsync_set_done(sh->ws, shell_sync_done, sh);
	}
	if (rv != 0) {
		log_error("coordinator.listen_failed", "err=%s", dn_strerror(rv));
		bridge_destroy(sh->ops);
		bridge_destroy(sh->ingest);
		bridge_destroy(sh->hubsync);
		sh->ops = sh->ingest = sh->hubsync = NULL;
	}
	return rv;
}

/* Closes the machine (single node) or the group (its node closed first,
 * unless coord_stop began that). */
static void shell_close(shell *sh)
{
	reads_close(sh->reads); /* no request reached it (a failed start) */
	sh->reads = NULL;
	if (sh->grp == NULL) {
		/* The bridges' senders are gone (bridge_destroy joined them). */
		walsync_destroy(sh->ws, sh->c.db);
		sh->ws = NULL;
		coord_close(&sh->c);
		return;
	}
	if (!sh->grp_closing) {
		sh->grp_closing = true;
		group_close(sh->grp, NULL, NULL);
		uv_run(sh->loop, UV_RUN_DEFAULT);
	}
	group_destroy(sh->grp);
	sh->grp = NULL;
}

/* The single node opens its store; a replica starts its group member (the
 * genesis or a snapshot opens the machine). 0 or 1 (logged). */
static int shell_open(shell *sh, const char *path)
{
	coord *c = &sh->c;
	if (sh->replica_id == 0) {
		shell_clock(sh);
		if (coord_open(c, path, NULL) != 0) {
			log_error("coordinator.db_failed", "path=%s", path);
			return 1;
		}
		return 0;
	}
	/* libraft writes to its peers through libuv streams: a peer that died
	 * mid-write must be an error on that stream, not SIGPIPE killing the
	 * replica (measured: both followers died with the leader's kill -9). */
	signal(SIGPIPE, SIG_IGN);
	char raft_dir[DN_CONF_STR_MAX + 8];
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", c->cfg.data_dir);
	if (mkdir_p(raft_dir) != 0) {
		log_error("coordinator.raft_dir", "path=%s err=\"%s\"", raft_dir, strerror(errno));
		return 1;
	}
	if (group_create(&sh->grp, sh->loop, c, path, raft_dir, sh->replica_id, sh->reps,
	    sh->nreps, sh->join) != 0) {
		shell_close(sh);
		return 1;
	}
	return 0;
}

/* The tick timer and the signals. */
static void shell_handles(shell *sh)
{
	uv_timer_init(sh->loop, &sh->health_timer);
	sh->health_timer.data = sh;
	uv_timer_start(&sh->health_timer, coord_health_tick, COORD_HEALTH_TICK_MS,
	    COORD_HEALTH_TICK_MS);
	uv_signal_init(sh->loop, &sh->sigint);
	uv_signal_init(sh->loop, &sh->sigterm);
	sh->sigint.data = sh->sigterm.data = sh;
	uv_signal_start(&sh->sigint, coord_on_signal, SIGINT);
	uv_signal_start(&sh->sigterm, coord_on_signal, SIGTERM);
	uv_signal_init(sh->loop, &sh->sighup);
	sh->sighup.data = sh;
	uv_signal_start(&sh->sighup, coord_on_hup, SIGHUP);
}

int main(int argc, char **argv)
{
	static shell sh;
	coord *c = &sh.c;
	log_level lvl;
	db_lib_init(); /* before the first SQLite call */
	int rv = shell_config(argc, argv, &sh, &lvl);
	if (rv >= 0) {
		return rv;
	}
	log_set_level(lvl);
	conf_log(coord_config_keys, coord_config_nkeys, &c->cfg);
	tls_engine_announce(); /* which TLS engine every socket uses */
	if (mkdir_p(c->cfg.data_dir) != 0) {
		log_error("coordinator.data_dir", "path=%s err=\"%s\"", c->cfg.data_dir, strerror(errno));
		auth_table_destroy(c->peers);
		return 1;
	}
	char path[DN_CONF_STR_MAX + 32];
	snprintf(path, sizeof(path), "%s/coordinator.db", c->cfg.data_dir);
	sh.loop = uv_default_loop();
	/* The feed's epoch: one per process, so a subscriber of the feed sees
	 * every seq start again after a restart (proto/STOREFRONT.md). */
	c->feed_epoch = (uint64_t)wall_now_ms();
	if (shell_open(&sh, path) != 0) {
		auth_table_destroy(c->peers);
		return 1;
	}
	/* The single node syncs its WAL off the loop; a replica's commits are
	 * the group's (its store is rebuilt from the log and snapshots). */
	if (sh.grp == NULL && walsync_create(&sh.ws, c->db, path) != 0) {
		log_warn("coordinator.walsync_off", "path=%s commits=fsync_on_loop", path);
	}
	/* The single node's audits read the journal off the loop; a replica
	 * answers them in its apply, from its own store. */
	if (sh.grp == NULL && reads_create(&sh.reads, sh.loop, path, shell_read_done, &sh) == 0) {
		coord_set_deferred_reads(c, true);
		/* Checkpoints off the loop too (reads.h), with walsync's NORMAL. */
		if (sh.ws != NULL && db_exec(c->db, "PRAGMA wal_autocheckpoint=0") == 0) {
			sqlite3_wal_hook(c->db, shell_wal_hook, &sh);
			/* A long read lets the WAL grow past the checkpoint's
			 * threshold; once it starts over it goes back to this. */
			(void)db_exec(c->db, "PRAGMA journal_size_limit=67108864");
		}
	}
	if (shell_listen(&sh) != 0) {
		uv_run(sh.loop, UV_RUN_DEFAULT);
		shell_close(&sh);
		auth_table_destroy(c->peers);
		return 1;
	}
	if (obs_open(&sh.obs, &c->cfg) != 0) {
		bridge_destroy(sh.ingest);
		bridge_destroy(sh.hubsync);
		bridge_destroy(sh.ops);
		if (sh.pub_open) {
			nng_close(sh.pub);
			netguard_destroy(sh.pub_guard);
		}
		uv_run(sh.loop, UV_RUN_DEFAULT);
		shell_close(&sh);
		return 1;
	}
	obs_set_sockets(&sh.obs, sh.ingest, sh.hubsync, sh.ops, sh.pub_guard);
	if (sh.grp == NULL) {
		obs_publish(&sh.obs, c, true);
	}
	shell_handles(&sh);
	log_info("coordinator.ready", "ingest=%s ops=%s hub=%s signal=%s metrics=%s hubs=%zu"
	    " stock_rows=%zu db=%s peers=%zu feed_epoch=%llu%s", c->cfg.ingest_url, c->cfg.ops_url,
	    c->cfg.hub_url, c->cfg.signal_url,
	    c->cfg.metrics_listen[0] ? c->cfg.metrics_listen : "off", c->nhubs,
	    c->stock_len, path, c->peers != NULL ? c->peers->n : 0,
	    (unsigned long long)c->feed_epoch, c->peers == NULL ? " anonymous=1" : "");
	if (sh.grp != NULL) {
		log_info("coordinator.group", "replica=%llu replicas=%zu",
		    (unsigned long long)sh.replica_id, sh.nreps);
	}
	uv_run(sh.loop, UV_RUN_DEFAULT);
	uv_walk(sh.loop, coord_close_walk, NULL);
	uv_run(sh.loop, UV_RUN_DEFAULT);
	uv_loop_close(sh.loop);
	if (sh.pub_open) {
		nng_close(sh.pub);
		netguard_destroy(sh.pub_guard);
	}
	obs_close(&sh.obs);
	shell_close(&sh);
	auth_table_destroy(c->peers);
	c->peers = NULL;
	log_info("coordinator.stopped", "clean=1");
	return 0;
}
