/*
 * test_replica_group.c - a replicated coordinator group of three replicas on
 * libraft's deterministic fixture (raft/fixture.h: in-memory network and
 * log, a simulated clock; no sockets, no sleeps). Each replica is a real
 * coordinator machine on its own SQLite file in a temp folder, driven only
 * by committed entries (coordinator/replica).
 *
 * Goals, each asserted:
 * - the genesis entry gives every replica the same store, so the store's
 *   incarnation id is the group's;
 * - real inputs (a hub registering and reporting stock through hub sync,
 *   orders through ingest, ticks, an ops audit) applied in log order leave
 *   all three stores identical, row for row, and audit clean everywhere;
 * - the proposer's clients get their replies only from the apply of a
 *   committed entry;
 * - a replica killed (its machine closed, file kept) while the others
 *   commit and compact their logs comes back through a snapshot (SQLite
 *   backup image plus the machine's memory image) and ends identical, its
 *   memory too, and routes the next order as the others do;
 * - a leader cut off from the majority keeps nothing it proposed alone:
 *   those entries are reported failed, applied nowhere, and the group,
 *   healed, agrees again;
 * - under seeded schedules of partitions (leader or follower, random
 *   moments) with orders to whoever leads and retries by key, every
 *   answer is the journal's, every order journalled once everywhere, and
 *   the healed group agrees (test_random_partitions).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/auth.h"
#include "io/codec.h"
#include "io/db.h"
#include "io/log.h"
#include "raft_glue.h"
#include "books.h"
#include "inputs.h"
#include "replica.h"

#define G_N 3
/* Replicas a test may grow the group to (test_replica_added). */
#define G_MAX 4
#define G_WALL0 1800000000000LL
/* Simulated ms any one wait may take before the test fails. */
#define G_WAIT_MS 20000
/* Proposals of one test (test_random_crashes makes the most). */
#define G_PROPOSALS_MAX 1024

typedef struct {
	coord *c;
	replica r;
	struct raft_fsm fsm;
	char path[128];
	unsigned idx;
} g_node;

/* What became of one proposal, as the replies hook saw it. */
typedef struct {
	uint64_t origin, proposal;
	int kind;
	unsigned applied_mask;       /* replicas that applied it */
	int status;                  /* the proposer's first reply status; -1: none */
	int statuses[G_MAX];         /* each replica's first reply status; -1: none */
	int findings[G_MAX];         /* OPS: audit findings per replica; -1: none */
	int rows[G_MAX];             /* OPS: stock rows in each replica's reply */
	char next[G_MAX][2 * DN_ID_MAX + 2]; /* OPS: each reply's page cursor */
	int failed;                  /* DN_E* from the failed hook; 0: not failed */
} g_prop;

typedef struct {
	struct raft_fixture f;
	g_node n[G_MAX];
	char dir[64];
	g_prop props[G_PROPOSALS_MAX];
	size_t nprops;
	uint64_t hub_seq;
} g_group;

static g_group *G;
/* A restarted replica replays entries it applied before its crash
 * (test_random_crashes): no client waits for those replies. */
static bool g_replaying;
/* The seed of test_random_crashes being run; 0: none. */
static uint64_t g_seed_running;
/* Steps call raft_glue_unstick on every replica, as the daemon's poll
 * does (test_random_crashes); g_unstuck counts what it moved. */
static bool g_unstick;
static unsigned g_unstuck;

static void g_poll(void)
{
	for (unsigned i = 0; g_unstick && i < raft_fixture_n(&G->f); i++) {
		g_unstuck += raft_glue_unstick(raft_fixture_get(&G->f, i));
	}
}

static g_prop *g_prop_find(uint64_t origin, uint64_t proposal)
{
	for (size_t i = 0; i < G->nprops; i++) {
		if (G->props[i].origin == origin && G->props[i].proposal == proposal) {
			return &G->props[i];
		}
	}
	return NULL;
}

static int g_reply_status(int kind, const mreq *m, g_prop *p, unsigned node)
{
	int st = -1;
	if (kind == REPLICA_KIND_INGEST) {
		Dropnet__OrderAck *a = NULL;
		assert_int_equal(codec_order_ack_unpack(m->reply, m->reply_len, &a), 0);
		st = (int)a->status;
		codec_order_ack_free(a);
	} else if (kind == REPLICA_KIND_HUBSYNC) {
		Dropnet__HubSyncReply *h = NULL;
		assert_int_equal(codec_hub_sync_reply_unpack(m->reply, m->reply_len, &h), 0);
		st = (int)h->status;
		codec_hub_sync_reply_free(h);
	} else if (kind == REPLICA_KIND_OPS) {
		Dropnet__OpsReply *o = NULL;
		assert_int_equal(codec_ops_reply_unpack(m->reply, m->reply_len, &o), 0);
		st = (int)o->status;
		p->findings[node] = (int)o->n_findings;
		p->rows[node] = (int)o->n_stock;
		snprintf(p->next[node], sizeof(p->next[node]), "%s", o->next);
		codec_ops_reply_free(o);
	}
	return st;
}

static void g_on_replies(void *arg, uint64_t origin, uint64_t proposal, mreq *reqs, size_t n)
{
	g_node *nd = arg;
	if (g_replaying) {
		return;
	}
	g_prop *p = g_prop_find(origin, proposal);
	assert_non_null(p);
	assert_true(n > 0);
	assert_false(p->applied_mask & (1u << nd->idx));   /* applied once */
	p->applied_mask |= 1u << nd->idx;
	int st = g_reply_status(p->kind, &reqs[0], p, nd->idx);
	p->statuses[nd->idx] = st;
	if (origin == nd->r.nonce) {
		p->status = st;
	}
}

/* arg: the proposal's record (its proposer may have restarted since, with
 * another nonce). */
static void g_on_failed(void *arg, uint64_t proposal, int status)
{
	g_prop *p = arg;
	assert_int_equal(p->proposal, proposal);
	p->failed = status;
}

static void g_node_init(g_node *nd, unsigned i)
{
	nd->idx = i;
	nd->c = calloc(1, sizeof(*nd->c));
	assert_non_null(nd->c);
	char err[200];
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &nd->c->cfg,
	    NULL, NULL, 0, err, sizeof(err)), 0);
	nd->c->split = ROUTE_SPLIT_NEVER;
	snprintf(nd->path, sizeof(nd->path), "%s/replica%u.db", G->dir, i + 1);
	/* A process nonce: any non-zero value unique in the group. */
	assert_int_equal(replica_init(&nd->r, nd->c, nd->path, 0x5eed0000u + i + 1), 0);
	nd->r.on_replies = g_on_replies;
	nd->r.replies_arg = nd;
	raft_glue_fsm_init(&nd->fsm, &nd->r);
}

/* Adds nd to the fixture. libraft 0.15's fixture io runs async work (at a
 * later step, so entries are applied between a snapshot's start and its
 * copy: what the disk backend's worker does) but, like the disk backend,
 * leaves its io version below 2, and raft_init refuses an fsm with async
 * snapshots then: it is given the fsm without, and the async half back
 * once initialised (libraft reads it at each snapshot). */
static void g_grow(g_node *nd)
{
	int (*async)(struct raft_fsm *, struct raft_buffer *[], unsigned *) =
	    nd->fsm.snapshot_async;
	nd->fsm.snapshot_async = NULL;
	assert_int_equal(raft_fixture_grow(&G->f, &nd->fsm), 0);
	nd->fsm.snapshot_async = async;
}

/* Three replicas bootstrapped into one group, not yet started. */
static int g_setup(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	G = calloc(1, sizeof(*G));
	assert_non_null(G);
	/* REPLICA_TEST_DIR: where the stores go (a tmpfs spares the seeds of
	 * test_random_crashes their fsyncs); /tmp by default. */
	const char *base = getenv("REPLICA_TEST_DIR");
	if (base == NULL || *base == '\0' || access(base, W_OK) != 0) {
		base = "/tmp";
	}
	snprintf(G->dir, sizeof(G->dir), "%s/dropnet-replica-XXXXXX", base);
	assert_non_null(mkdtemp(G->dir));
	assert_int_equal(raft_fixture_initialize(&G->f), 0);
	for (unsigned i = 0; i < G_N; i++) {
		g_node_init(&G->n[i], i);
		g_grow(&G->n[i]);
		G->n[i].r.glue = raft_fixture_get(&G->f, i);   /* Raft indexes */
		/* Compact early, so a replica that was away needs a snapshot. */
		raft_glue_tune(raft_fixture_get(&G->f, i), 8, 2);
	}
	struct raft_configuration conf;
	assert_int_equal(raft_fixture_configuration(&G->f, G_N, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&G->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&G->f), 0);
	return 0;
}

static int g_teardown(void **state)
{
	(void)state;
	if (g_seed_running != 0) {
		/* A seed of test_random_crashes failed: how to run it alone. */
		fprintf(stderr, "replay: REPLICA_CRASH_SEED=%llu REPLICA_CRASH_SEEDS=1 "
		    "build/test_replica_group\n", (unsigned long long)g_seed_running);
		g_seed_running = 0;
	}
	raft_fixture_close(&G->f);
	for (unsigned i = 0; i < G_MAX; i++) {
		if (G->n[i].c == NULL) {
			continue;
		}
		replica_fini(&G->n[i].r);
		auth_table_destroy(G->n[i].c->peers);
		free(G->n[i].c);
		const char *sfx[] = {"", "-wal", "-shm", "-journal", ".tmp"};
		for (size_t k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++) {
			char p[160];
			snprintf(p, sizeof(p), "%s%s", G->n[i].path, sfx[k]);
			unlink(p);
		}
	}
	rmdir(G->dir);
	free(G);
	return 0;
}

/* The leader's local clocks: the fixture's simulated time. */
static uint64_t g_mono(void)
{
	return raft_fixture_time(&G->f) + 1;
}

static int64_t g_wall(void)
{
	return G_WALL0 + (int64_t)raft_fixture_time(&G->f);
}

static g_prop *g_prop_add(uint64_t origin, uint64_t proposal, int kind)
{
	assert_true(G->nprops < G_PROPOSALS_MAX);
	g_prop *p = &G->props[G->nprops++];
	memset(p, 0, sizeof(*p));
	p->origin = origin;
	p->proposal = proposal;
	p->kind = kind;
	p->status = -1;
	for (unsigned i = 0; i < G_MAX; i++) {
		p->findings[i] = -1;
		p->statuses[i] = -1;
	}
	return p;
}

/* Proposes one machine call on replica `leader`; returns its log index and
 * its record in *out. */
static uint64_t g_propose(unsigned leader, int kind, uint8_t **bodies, size_t *lens,
    size_t n, g_prop **out)
{
	g_node *nd = &G->n[leader];
	uint64_t mono, proposal, index = 0;
	int64_t wall;
	replica_stamp(&nd->r, g_mono(), g_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(replica_entry_pack(&nd->r, kind, (const uint8_t *const *)bodies, lens, n,
	    mono, wall, &proposal, &buf, &len), 0);
	g_prop *p = g_prop_add(nd->r.nonce, proposal, kind);
	assert_int_equal(raft_glue_propose(raft_fixture_get(&G->f, leader), buf, len, proposal,
	    g_on_failed, p, &index), 0);
	free(buf);
	if (out != NULL) {
		*out = p;
	}
	return index;
}

/* Steps the group until every replica in mask applied index. */
static void g_settle(uint64_t index, unsigned mask)
{
	for (unsigned i = 0; i < G_MAX; i++) {
		if (!(mask & (1u << i))) {
			continue;
		}
		bool done = false;
		unsigned slice = g_unstick ? 50 : G_WAIT_MS;
		for (unsigned t = 0; !done && t < G_WAIT_MS; t += slice) {
			done = raft_fixture_step_until_applied(&G->f, i, index, slice);
			g_poll();
		}
		if (!done) {
			fail_msg("replica %u did not apply index %llu within %u ms: state %d, applied %llu",
			    i + 1, (unsigned long long)index, G_WAIT_MS,
			    raft_state(raft_fixture_get(&G->f, i)),
			    (unsigned long long)raft_last_applied(raft_fixture_get(&G->f, i)));
		}
	}
}

/* Proposes one hub sync; returns its index. */
static uint64_t g_sync(unsigned leader, const char *sku, int64_t qty, g_prop **out)
{
	size_t len = 0;
	uint8_t *b = NULL;
	assert_int_equal(in_hubsync(qty > 0 ? ++G->hub_seq : 0, sku, qty, g_wall(), &b, &len), 0);
	uint64_t idx = g_propose(leader, REPLICA_KIND_HUBSYNC, &b, &len, 1, out);
	free(b);
	return idx;
}

/* Proposes one ingest batch of n one-unit orders "<prefix>-<k>"; returns
 * its index. */
static uint64_t g_orders(unsigned leader, const char *prefix, size_t n, g_prop **out)
{
	uint8_t *b[16];
	size_t lens[16];
	char key[64];
	assert_true(n <= 16);
	for (size_t k = 0; k < n; k++) {
		snprintf(key, sizeof(key), "%s-%zu", prefix, k);
		assert_int_equal(in_order(key, "hoodie", 1, &b[k], &lens[k]), 0);
	}
	uint64_t idx = g_propose(leader, REPLICA_KIND_INGEST, b, lens, n, out);
	for (size_t k = 0; k < n; k++) {
		free(b[k]);
	}
	return idx;
}

/* The books of replica i (books.h). */
static uint64_t g_digest(unsigned i, int64_t *orders)
{
	assert_non_null(G->n[i].c->db);
	uint64_t d = books_digest(G->n[i].c->db, orders);
	assert_int_not_equal(d, 0);
	return d;
}

/* The books of every replica in mask are identical; returns the orders. */
static int64_t g_assert_agree(unsigned mask)
{
	int64_t orders0 = -1, orders = 0;
	uint64_t d0 = 0;
	for (unsigned i = 0; i < G_MAX; i++) {
		if (!(mask & (1u << i))) {
			continue;
		}
		uint64_t d = g_digest(i, &orders);
		if (orders0 < 0) {
			d0 = d;
			orders0 = orders;
		}
		if (d != d0) {
			fail_msg("replica %u's books differ from the first's", i + 1);
		}
		assert_int_equal(orders, orders0);
		assert_int_equal(G->n[i].c->incarnation, G->n[0].c->incarnation);
	}
	return orders0;
}

/* The machine memory that is not in the file - hub health, leases, stock
 * reports, the clocks, the spike watch and rebalance timers - is equal on
 * every replica in mask: what routes the next order is the same
 * everywhere. Checked field by field where it matters most and as a whole
 * through the machine's own image of it (coord_memory_pack). */
static void g_assert_memory_agree(unsigned mask)
{
	const coord *a = NULL;
	uint8_t *img0 = NULL;
	size_t len0 = 0;
	for (unsigned i = 0; i < G_MAX; i++) {
		if (!(mask & (1u << i))) {
			continue;
		}
		const coord *c = G->n[i].c;
		uint8_t *img = NULL;
		size_t len = 0;
		assert_int_equal(coord_memory_pack(c, &img, &len), 0);
		if (a == NULL) {
			a = c;
			img0 = img;
			len0 = len;
			continue;
		}
		assert_int_equal(c->nhubs, a->nhubs);
		assert_int_equal(c->now_mono_ms, a->now_mono_ms);
		assert_int_equal(c->wall_ms, a->wall_ms);
		assert_int_equal(c->elapsed_ms, a->elapsed_ms);
		for (size_t h = 0; h < c->nhubs; h++) {
			assert_string_equal(c->hubs[h].id, a->hubs[h].id);
			assert_int_equal(c->hubs[h].last_seen_mono_ms, a->hubs[h].last_seen_mono_ms);
			assert_int_equal(c->hubs[h].lease_sent_mono_ms, a->hubs[h].lease_sent_mono_ms);
			assert_int_equal(c->hubs[h].lease_granted_ms, a->hubs[h].lease_granted_ms);
			assert_int_equal(c->hubs[h].cmd_offered, a->hubs[h].cmd_offered);
			assert_int_equal(c->hubs[h].health_logged, a->hubs[h].health_logged);
		}
		assert_int_equal(len, len0);
		if (memcmp(img, img0, len) != 0) {
			fail_msg("replica %u's memory image differs from the first's", i + 1);
		}
		free(img);
	}
	assert_non_null(a);
	free(img0);
}

/* Whether replica i's journal holds an order with this key. */
static bool g_has_order(unsigned i, const char *key)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(G->n[i].c->db,
	    "SELECT count(*) FROM orders WHERE order_key = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	bool has = sqlite3_column_int64(st, 0) > 0;
	sqlite3_finalize(st);
	return has;
}

/* An audit through the log; every replica in mask answers it clean. */
static void g_audit_clean(unsigned leader, unsigned mask)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.kind = DROPNET__OPS_KIND__OPS_AUDIT;
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(codec_ops_request_pack(&q, &b, &len), 0);
	g_prop *p = NULL;
	uint64_t idx = g_propose(leader, REPLICA_KIND_OPS, &b, &len, 1, &p);
	free(b);
	g_settle(idx, mask);
	assert_int_equal(p->status, DROPNET__STATUS__OK);
	for (unsigned i = 0; i < G_MAX; i++) {
		if (mask & (1u << i)) {
			assert_int_equal(p->findings[i], 0);
		}
	}
}

/* Replica 0's genesis entry, stamped now (its machine open). *buf is
 * malloc'd. */
static void g_genesis_pack(uint8_t **buf, size_t *len)
{
	g_node *l = &G->n[0];
	uint64_t mono;
	int64_t wall;
	replica_stamp(&l->r, g_mono(), g_wall(), &mono, &wall);
	*buf = NULL;
	*len = 0;
	assert_int_equal(replica_genesis_pack(&l->r, mono, wall, buf, len), 0);
}

/* Elects replica 0 and commits the genesis (replica 0's new store). Every
 * replica ends with the same incarnation. */
static void g_genesis(void)
{
	raft_fixture_elect(&G->f, 0);
	g_node *l = &G->n[0];
	replica_lead_begin(&l->r, g_mono(), g_wall());
	assert_int_equal(replica_machine_open(&l->r), 0);
	uint64_t incarnation = l->c->incarnation, index = 0;
	uint8_t *buf;
	size_t len;
	g_genesis_pack(&buf, &len);
	assert_int_equal(raft_glue_propose(raft_fixture_get(&G->f, 0), buf, len, 0, NULL, NULL,
	    &index), 0);
	free(buf);
	g_settle(index, 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_true(G->n[i].r.open);
		assert_int_equal(G->n[i].r.restores, 1);
		assert_int_equal(G->n[i].c->incarnation, incarnation);
	}
}

/* The genesis, then a hub with 100 hoodies. */
static void g_start(void)
{
	g_genesis();
	g_prop *p = NULL;
	g_settle(g_sync(0, NULL, 0, NULL), 7);
	g_settle(g_sync(0, "hoodie", 100, &p), 7);
	assert_int_equal(p->status, DROPNET__STATUS__OK);
	assert_int_equal(p->applied_mask, 7);
}

/* Goal: a replica whose machine config differs from the genesis's (a key
 * that decides what the machine does) refuses the genesis, DN_EINVAL; one
 * that differs only in a key of its own (where it listens) takes it. */
static void test_config_digest(void **state)
{
	(void)state;
	coord_config a = G->n[0].c->cfg;
	coord_config b = a;
	snprintf(b.ingest_url, sizeof(b.ingest_url), "tls+tcp://10.0.0.2:7400");
	b.group_snapshot_entries = a.group_snapshot_entries + 1;
	assert_true(coord_config_digest(&a) == coord_config_digest(&b));
	b.hub_grace_ms = a.hub_grace_ms + 1;
	assert_true(coord_config_digest(&a) != coord_config_digest(&b));
	assert_true(coord_config_key_local("tls.cert_file"));
	assert_false(coord_config_key_local("coordinator.hub_grace_ms"));
	/* The registry's size is the group's: left out only at its default. */
	b = a;
	assert_int_equal(a.hubs_max, DN_HUBS_DEFAULT);
	b.hubs_max = 1200;
	assert_true(coord_config_digest(&a) != coord_config_digest(&b));
	coord_config b2 = b;
	b2.hubs_max = 1201;
	assert_true(coord_config_digest(&b) != coord_config_digest(&b2));

	snprintf(G->n[1].c->cfg.ops_url, sizeof(G->n[1].c->cfg.ops_url), "tls+tcp://10.0.0.2:7401");
	G->n[2].c->cfg.hub_grace_ms += 1;
	g_node *l = &G->n[0];
	assert_int_equal(replica_machine_open(&l->r), 0);
	uint8_t *buf;
	size_t len;
	g_genesis_pack(&buf, &len);
	assert_int_equal(replica_apply(&G->n[0].r, buf, len), 0);
	assert_int_equal(replica_apply(&G->n[1].r, buf, len), 0);
	assert_true(G->n[1].r.open);
	assert_int_equal(replica_apply(&G->n[2].r, buf, len), DN_EINVAL);
	assert_false(G->n[2].r.open);
	free(buf);
}

/* Goal: a replica whose coordinator.hubs_max is below the number of hubs the
 * group's store holds refuses the genesis as a config mismatch (DN_EINVAL:
 * its process stops with exit 78), not as a broken store (DN_EIO aborted
 * it, in a loop under systemd): the machine's open fails on the registry's
 * size before the config digest is compared. */
static void test_hubs_max_mismatch(void **state)
{
	(void)state;
	G->n[2].c->cfg.hubs_max = 3;
	g_node *l = &G->n[0];
	assert_int_equal(replica_machine_open(&l->r), 0);
	for (int i = 0; i < 5; i++) {
		char sql[160];
		snprintf(sql, sizeof(sql), "INSERT INTO hubs(id, name, lat, lon, radius_km)"
		    " VALUES('hub%d', 'hub%d', 51.5, %d.0, 50.0)", i, i, i);
		assert_int_equal(db_exec(l->c->db, sql), 0);
	}
	uint8_t *buf;
	size_t len;
	g_genesis_pack(&buf, &len);
	assert_int_equal(replica_apply(&G->n[1].r, buf, len), 0);
	assert_int_equal(G->n[1].c->nhubs, 5);
	assert_int_equal(replica_apply(&G->n[2].r, buf, len), DN_EINVAL);
	assert_false(G->n[2].r.open);
	free(buf);
}

/* Goal: the same inputs through the log leave three identical books, and
 * the proposer's acks come from committed entries only. */
static void test_group_agrees(void **state)
{
	(void)state;
	g_start();
	g_prop *p = NULL;
	uint64_t idx = g_orders(0, "web", 10, &p);
	/* Appended on the leader, not yet committed: no reply exists. */
	assert_int_equal(p->status, -1);
	assert_int_equal(p->applied_mask, 0);
	g_settle(idx, 7);
	assert_int_equal(p->status, DROPNET__STATUS__ACCEPTED);
	assert_int_equal(p->applied_mask, 7);
	g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
	g_settle(g_sync(0, NULL, 0, NULL), 7);
	g_audit_clean(0, 7);
	assert_int_equal(g_assert_agree(7), 10);
	g_assert_memory_agree(7);
	/* A reopen (a new leader's first entry) resets hub health on every
	 * replica at one index: their memories stay equal. */
	uint64_t seen = G->n[0].c->hubs[0].last_seen_mono_ms;
	raft_fixture_step_until_elapsed(&G->f, 500);
	g_settle(g_propose(0, REPLICA_KIND_REOPEN, NULL, NULL, 0, NULL), 7);
	assert_true(G->n[0].c->hubs[0].last_seen_mono_ms > seen);
	g_assert_memory_agree(7);
	g_settle(g_orders(0, "post", 2, NULL), 7);
	assert_int_equal(g_assert_agree(7), 12);
	int hub = coord_hub_find(G->n[2].c, "london");
	assert_true(hub >= 0);
	coord_stock *s = coord_stock_get(G->n[2].c, hub, "hoodie", false);
	assert_non_null(s);
	assert_int_equal(s->row.on_hand, 100);
	assert_int_equal(s->row.allocated, 12);
}

/* Goal: a paged list (OPS_STOCK with limit, test_ops_pages) works through
 * the log: each page is an entry every replica answers alike, the same
 * rows and the same cursor, and the pages hold every row once. */
static void test_group_pages(void **state)
{
	(void)state;
	g_start();
	const char *skus[] = {"a1", "a2", "a3", "a4", "a5"};
	for (size_t k = 0; k < 5; k++) {
		g_settle(g_sync(0, skus[k], 3, NULL), 7);
	}
	size_t want = G->n[0].c->stock_len, got = 0, pages = 0;
	assert_true(want >= 5);
	char after[2 * DN_ID_MAX + 2] = "";
	do {
		Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
		q.version = DN_PROTO_VERSION;
		q.kind = DROPNET__OPS_KIND__OPS_STOCK;
		q.limit = 2;
		q.after = after;
		uint8_t *b = NULL;
		size_t len = 0;
		assert_int_equal(codec_ops_request_pack(&q, &b, &len), 0);
		g_prop *p = NULL;
		uint64_t idx = g_propose(0, REPLICA_KIND_OPS, &b, &len, 1, &p);
		free(b);
		g_settle(idx, 7);
		assert_int_equal(p->status, DROPNET__STATUS__OK);
		for (unsigned i = 1; i < G_N; i++) {
			assert_int_equal(p->statuses[i], DROPNET__STATUS__OK);
			assert_int_equal(p->rows[i], p->rows[0]);
			assert_string_equal(p->next[i], p->next[0]);
		}
		assert_true(p->rows[0] >= 1 && p->rows[0] <= 2);
		got += (size_t)p->rows[0];
		pages++;
		snprintf(after, sizeof(after), "%s", p->next[0]);
	} while (after[0] != '\0');
	assert_int_equal(got, want);
	assert_int_equal(pages, (want + 1) / 2);
}

/* Goal: the books checksum `dropctl replicas` prints is taken at the same
 * entry on every replica (the first of a REPLICA_SUM_MS period of the group
 * clock) and is equal there; it covers the books (one changed row changes
 * it). */
static void test_books_sum(void **state)
{
	(void)state;
	g_start();
	g_settle(g_orders(0, "sum", 5, NULL), 7);
	raft_fixture_step_until_elapsed(&G->f, REPLICA_SUM_MS);
	uint64_t idx = g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL);
	g_settle(idx, 7);
	g_assert_agree(7);
	uint64_t now = 0;
	assert_int_equal(replica_books_sum(G->n[0].c, &now), 0);
	for (unsigned i = 0; i < G_N; i++) {
		const replica *r = &G->n[i].r;
		assert_int_equal(r->sum_index, idx);
		assert_int_equal(r->sum_mono_ms, G->n[0].r.sum_mono_ms);
		assert_int_equal(r->sum, G->n[0].r.sum);
		assert_int_equal(r->sum, now);
	}
	/* The period grows with the store: an order numbered past twice
	 * REPLICA_SUM_ORDERS (the journal's highest id counts) makes it three
	 * times sum_ms, the same on every replica, and checksums are then
	 * taken only where the group clock crosses a multiple of it. */
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(replica_sum_period_ms(&G->n[i].r), REPLICA_SUM_MS);
		char sql[200];
		snprintf(sql, sizeof(sql), "INSERT INTO orders(id, storefront, order_key, customer,"
		    " status, hub, lat, lon, received_ms) VALUES(%d, 'sf', 'big', 'c', 1, 'london',"
		    " 51.5, -0.1, 1)", 2 * REPLICA_SUM_ORDERS + 7);
		assert_int_equal(sqlite3_exec(G->n[i].c->db, sql, NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(replica_sum_period_ms(&G->n[i].r), 3 * REPLICA_SUM_MS);
	}
	int taken = 0;
	uint64_t last = G->n[0].r.sum_index;
	for (int k = 0; k < 9; k++) {
		uint64_t before = G->n[0].r.applied_mono_ms;
		raft_fixture_step_until_elapsed(&G->f, REPLICA_SUM_MS);
		idx = g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL);
		g_settle(idx, 7);
		uint64_t mono = G->n[0].r.applied_mono_ms;
		bool crossed = before / (3 * REPLICA_SUM_MS) != mono / (3 * REPLICA_SUM_MS);
		assert_int_equal(G->n[0].r.sum_index != last, crossed);
		taken += G->n[0].r.sum_index != last;
		last = G->n[0].r.sum_index;
		for (unsigned i = 1; i < G_N; i++) {
			assert_int_equal(G->n[i].r.sum_index, last);
			assert_int_equal(G->n[i].r.sum, G->n[0].r.sum);
		}
	}
	/* About 45 s of group clock: 3 checksums at 15 s (9 at 5 s). */
	assert_true(taken >= 2 && taken <= 4);
	/* One row changed behind the machine's back: another checksum. */
	assert_int_equal(sqlite3_exec(G->n[2].c->db, "UPDATE stock SET on_hand = on_hand + 1",
	    NULL, NULL, NULL), SQLITE_OK);
	uint64_t other = 0;
	assert_int_equal(replica_books_sum(G->n[2].c, &other), 0);
	assert_int_not_equal(other, now);
}

/* Goal: a replica that was down (process gone, file kept) while the
 * others committed and compacted their logs catches up through a snapshot
 * - the leader's store image - and ends with the same books. */
static void test_follower_restarts_from_snapshot(void **state)
{
	(void)state;
	g_start();
	g_settle(g_orders(0, "before", 4, NULL), 7);
	raft_fixture_kill(&G->f, 2);
	replica_machine_close(&G->n[2].r);
	uint64_t idx = 0;
	char prefix[32];
	for (int k = 0; k < 12; k++) {
		snprintf(prefix, sizeof(prefix), "away%d", k);
		g_prop *p = NULL;
		idx = g_orders(0, prefix, 2, &p);
		g_settle(idx, 3);
		/* Committed on two of three: the ack is out. */
		assert_int_equal(p->status, DROPNET__STATUS__ACCEPTED);
	}
	g_settle(g_sync(0, NULL, 0, NULL), 3);
	struct raft *leader = raft_fixture_get(&G->f, 0);
	/* The leader compacted past what replica 3 has. */
	raft_fixture_step_until_elapsed(&G->f, 200);
	assert_true(leader->log.snapshot.last_index > G->n[2].r.applied);
	uint64_t restores = G->n[2].r.restores;
	assert_int_equal(replica_machine_open(&G->n[2].r), 0);
	raft_fixture_revive(&G->f, 2);
	idx = g_orders(0, "back", 3, NULL);
	g_settle(idx, 7);
	assert_int_equal(G->n[2].r.restores, restores + 1);
	assert_true(g_has_order(2, "away5-1"));
	g_audit_clean(0, 7);
	assert_int_equal(g_assert_agree(7), 4 + 24 + 3);
	/* Its memory came with the snapshot: the same as the others'. */
	g_assert_memory_agree(7);
}

/* Goal: the daemon's snapshot interval grows with the store so a
 * snapshot writes about RAFT_GLUE_SNAPSHOT_RATIO times what the log does,
 * within [base, RAFT_GLUE_SNAPSHOT_EVERY_MAX] (raft_glue.h). */
static void test_snapshot_every(void **state)
{
	(void)state;
	/* Nothing known yet, or a small store: the configured interval. */
	assert_int_equal(raft_glue_snapshot_every(1024, 56000000, 0, 0), 1024);
	assert_int_equal(raft_glue_snapshot_every(1024, 8000000, 6000 * 100, 100), 1024);
	/* 56 MB of store, 6 kB entries: a quarter of it in the log. */
	assert_int_equal(raft_glue_snapshot_every(1024, 56 * 1000 * 1000, 6000 * 100, 100),
	    56 * 1000 * 1000 / (RAFT_GLUE_SNAPSHOT_RATIO * 6000));
	/* Bounded above, unless configured above the bound. */
	assert_int_equal(raft_glue_snapshot_every(1024, (size_t)1 << 40, 100, 1),
	    RAFT_GLUE_SNAPSHOT_EVERY_MAX);
	assert_int_equal(raft_glue_snapshot_every(100000, (size_t)1 << 40, 100, 1), 100000);
}

static int64_t g_count_orders(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM orders", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Goal: a snapshot is the store as of the entry it was begun at, although
 * the store is copied later (on a worker, while the loop goes on applying):
 * what is applied in between follows the snapshot's index in the log, and
 * a copy that held it would have it applied twice after a restore. Here
 * the halves are called by hand around three more orders; libraft's own
 * snapshots on that replica meanwhile are refused as busy (it retries). */
static void test_snapshot_pinned(void **state)
{
	(void)state;
	g_start();
	g_settle(g_orders(0, "before", 4, NULL), 7);
	g_node *nd = &G->n[1];
	struct raft_buffer *bufs = NULL;
	unsigned n = 0;
	assert_non_null(nd->fsm.snapshot_async);
	/* libraft's own snapshot of that replica, if one is under way, ends
	 * first (one at a time: ours would be refused as busy). */
	for (int k = 0; k < 1000 && nd->r.snap != NULL; k++) {
		raft_fixture_step(&G->f);
	}
	assert_null(nd->r.snap);
	assert_int_equal(nd->fsm.snapshot(&nd->fsm, &bufs, &n), 0);
	int64_t at = g_count_orders(nd->c->db);
	g_settle(g_orders(0, "after", 3, NULL), 7);
	assert_int_equal(g_count_orders(nd->c->db), at + 3);
	assert_int_equal(nd->fsm.snapshot_async(&nd->fsm, &bufs, &n), 0);
	assert_int_equal(n, 1);
	const uint8_t *b = bufs[0].base;
	size_t len = bufs[0].len;
	assert_true(len > REPLICA_SNAPSHOT_HEADER);
	assert_memory_equal(b, REPLICA_SNAPSHOT_MAGIC, 8);
	uint64_t mlen = 0;
	for (int i = 0; i < 8; i++) {
		mlen |= (uint64_t)b[24 + i] << (8 * i);
	}
	assert_true(mlen > 0 && REPLICA_SNAPSHOT_HEADER + mlen < len);
	size_t ilen = len - REPLICA_SNAPSHOT_HEADER - (size_t)mlen;
	unsigned char *img = sqlite3_malloc64(ilen);
	assert_non_null(img);
	memcpy(img, b + REPLICA_SNAPSHOT_HEADER + mlen, ilen);
	/* A WAL store's image says so (header bytes 18-19 = 2), which an
	 * in-memory database cannot open: read it as a rollback one. */
	assert_true(ilen > 100);
	img[18] = img[19] = 1;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_deserialize(db, "main", img, (sqlite3_int64)ilen,
	    (sqlite3_int64)ilen, SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY),
	    SQLITE_OK);
	assert_int_equal(g_count_orders(db), at);
	sqlite3_close(db);
	assert_int_equal(nd->fsm.snapshot_finalize(&nd->fsm, &bufs, &n), 0);
	assert_null(bufs);
	assert_null(nd->r.snap);
	/* libraft snapshots again once let: the group goes on agreeing. */
	g_settle(g_orders(0, "later", 2, NULL), 7);
	assert_int_equal(g_assert_agree(7), 4 + 3 + 2);
}

/* Goal: a replica restored from a snapshot holds the group's memory, not
 * coord_open's, and so routes the next order as the others do. The hub
 * falls silent while replica 3 is away, past its grace: the group's
 * memory says DOWN. A restore that rebuilt memory from the file alone
 * would give the hub a fresh grace and accept the order the others turn
 * away (NO_HUB_IN_RANGE): the books would fork. */
static void test_restored_memory_routes(void **state)
{
	(void)state;
	g_start();
	raft_fixture_kill(&G->f, 2);
	replica_machine_close(&G->n[2].r);
	const coord *c0 = G->n[0].c;
	uint64_t grace = (uint64_t)c0->cfg.hub_grace_ms;
	uint64_t seen = c0->hubs[0].last_seen_mono_ms;
	/* Ticks inside DN_COORD_STALL_MS keep the machine listening: the
	 * silence counts. */
	while (coord_now_mono_ms(c0) < seen + grace + 2 * DN_COORD_STALL_MS) {
		raft_fixture_step_until_elapsed(&G->f, DN_COORD_STALL_MS / 2);
		g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 3);
	}
	assert_int_equal(coord_hub_health(c0, &c0->hubs[0], coord_now_mono_ms(c0)),
	    COORD_HUB_DOWN);
	struct raft *leader = raft_fixture_get(&G->f, 0);
	raft_fixture_step_until_elapsed(&G->f, 200);
	assert_true(leader->log.snapshot.last_index > G->n[2].r.applied);
	uint64_t restores = G->n[2].r.restores;
	assert_int_equal(replica_machine_open(&G->n[2].r), 0);
	raft_fixture_revive(&G->f, 2);
	/* Ticks again until replica 3 is back (through the snapshot). */
	while (G->n[2].r.restores == restores) {
		raft_fixture_step_until_elapsed(&G->f, DN_COORD_STALL_MS / 2);
		g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 3);
	}
	g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
	g_assert_memory_agree(7);
	g_prop *p = NULL;
	g_settle(g_orders(0, "late", 2, &p), 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__NO_HUB_IN_RANGE);
	}
	g_assert_memory_agree(7);
	g_audit_clean(0, 7);
	assert_int_equal(g_assert_agree(7), 2);
	/* A damaged image is refused (truncated, wrong magic), never half
	 * taken silently; the whole image puts the memory back. */
	uint8_t *img = NULL;
	size_t len = 0;
	assert_int_equal(coord_memory_pack(G->n[0].c, &img, &len), 0);
	assert_int_equal(coord_memory_unpack(G->n[1].c, img, len - 3), DN_EPROTO);
	assert_int_equal(coord_memory_unpack(G->n[1].c, img + 1, len - 1), DN_EPROTO);
	img[len - 1] ^= 1;
	img[0] ^= 1;
	assert_int_equal(coord_memory_unpack(G->n[1].c, img, len), DN_EPROTO);
	img[0] ^= 1;
	img[len - 1] ^= 1;
	assert_int_equal(coord_memory_unpack(G->n[1].c, img, len), 0);
	free(img);
	g_assert_memory_agree(7);
}

/* The replica in [from, to) in leader state; to if none. (The fixture's
 * own leader detection waits for acks from every connected server.) */
static unsigned g_leader_among(unsigned from, unsigned to)
{
	for (unsigned j = from; j < to; j++) {
		if (raft_state(raft_fixture_get(&G->f, j)) == RAFT_LEADER) {
			return j;
		}
	}
	return to;
}

static bool g_leader_not_0(struct raft_fixture *f, void *arg)
{
	(void)f;
	(void)arg;
	return g_leader_among(1, G_N) < G_N;
}

/* Goal: a leader partitioned from the majority keeps nothing it proposed
 * alone: its proposals fail, no replica applies them, no client was
 * acked, and after the heal all three books agree without them. */
static void test_partitioned_leader(void **state)
{
	(void)state;
	/* No compaction here: replica 1 comes back through entries (the
	 * snapshot path is test_restored_memory_routes's). */
	for (unsigned i = 0; i < G_N; i++) {
		raft_glue_tune(raft_fixture_get(&G->f, i), 1024, 128);
	}
	g_start();
	/* raft_fixture_elect pushed the others' election timeouts far out;
	 * give them back ordinary ones (taken at their next heartbeat). */
	for (unsigned j = 1; j < G_N; j++) {
		raft_fixture_set_randomized_election_timeout(&G->f, j, 1000 + j * 200);
	}
	g_settle(g_orders(0, "web", 3, NULL), 7);
	raft_fixture_step_until_elapsed(&G->f, 300);
	for (unsigned j = 1; j < G_N; j++) {
		raft_fixture_disconnect(&G->f, 0, j);
		raft_fixture_disconnect(&G->f, j, 0);
	}
	g_prop *lost = NULL;
	g_orders(0, "lost", 2, &lost);
	assert_true(raft_fixture_step_until(&G->f, g_leader_not_0, NULL, G_WAIT_MS));
	/* The old leader stepped down (it may be campaigning, in vain). */
	assert_int_not_equal(raft_state(raft_fixture_get(&G->f, 0)), RAFT_LEADER);
	unsigned nl = g_leader_among(1, G_N);
	assert_int_equal(lost->failed, DN_ESTATE);
	assert_int_equal(lost->status, -1);
	replica_lead_begin(&G->n[nl].r, g_mono(), g_wall());
	g_propose(nl, REPLICA_KIND_REOPEN, NULL, NULL, 0, NULL);
	g_prop *after = NULL;
	uint64_t idx = g_orders(nl, "after", 2, &after);
	g_settle(idx, 6);
	assert_int_equal(after->status, DROPNET__STATUS__ACCEPTED);
	for (unsigned j = 1; j < G_N; j++) {
		raft_fixture_reconnect(&G->f, 0, j);
		raft_fixture_reconnect(&G->f, j, 0);
	}
	g_settle(g_sync(nl, NULL, 0, NULL), 7);
	assert_int_equal(lost->applied_mask, 0);
	for (unsigned i = 0; i < G_N; i++) {
		assert_false(g_has_order(i, "lost-0"));
		assert_true(g_has_order(i, "after-1"));
	}
	g_audit_clean(nl, 7);
	assert_int_equal(g_assert_agree(7), 5);
	g_assert_memory_agree(7);
}

static void g_changed(struct raft_change *req, int status)
{
	*(int *)req->data = status == 0 ? 1 : -1;
}

static bool g_change_done(struct raft_fixture *f, void *arg)
{
	(void)f;
	return *(int *)arg != 0;
}

/* Goal: a replica added online from nothing - an empty folder, no store -
 * catches up from the leader's snapshot plus the log, becomes a voter and
 * holds the same books (how a wiped replica rejoins, and the base of
 * `dropctl replicas add`). */
static void test_replica_added(void **state)
{
	(void)state;
	g_start();
	for (int k = 0; k < 6; k++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "early%d", k);
		g_settle(g_orders(0, prefix, 2, NULL), 7);
	}
	raft_fixture_step_until_elapsed(&G->f, 200);
	struct raft *leader = raft_fixture_get(&G->f, 0);
	assert_true(leader->log.snapshot.last_index > 2);   /* the genesis is compacted */
	g_node_init(&G->n[3], 3);
	g_grow(&G->n[3]);
	raft_glue_tune(raft_fixture_get(&G->f, 3), 8, 2);
	assert_int_equal(raft_start(raft_fixture_get(&G->f, 3)), 0);
	struct raft_change add = {0}, assign = {0};
	int added = 0, assigned = 0;
	add.data = &added;
	assign.data = &assigned;
	assert_int_equal(raft_add(leader, &add, 4, "4", g_changed), 0);
	assert_true(raft_fixture_step_until(&G->f, g_change_done, &added, G_WAIT_MS));
	assert_int_equal(added, 1);
	assert_int_equal(raft_assign(leader, &assign, 4, RAFT_VOTER, g_changed), 0);
	assert_true(raft_fixture_step_until(&G->f, g_change_done, &assigned, G_WAIT_MS));
	assert_int_equal(assigned, 1);
	g_settle(g_orders(0, "late", 3, NULL), 15);
	assert_true(G->n[3].r.open);
	assert_int_equal(G->n[3].r.restores, 1);        /* a snapshot, not the genesis entry */
	assert_true(g_has_order(3, "early0-0"));
	g_audit_clean(0, 15);
	assert_int_equal(g_assert_agree(15), 12 + 3);
}

/* Goal: the group clock never goes back across leaders, and entries too
 * big for one entry are refused, never truncated. */
static void test_clock_and_bounds(void **state)
{
	(void)state;
	replica r;
	coord c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(replica_init(&r, &c, "/nonexistent/x.db", 9), 0);
	uint64_t m;
	int64_t w;
	replica_lead_begin(&r, 5000, G_WALL0);
	replica_stamp(&r, 5000, G_WALL0, &m, &w);
	assert_int_equal(m, 1);
	replica_stamp(&r, 5100, G_WALL0 + 100, &m, &w);
	assert_int_equal(m, 100);
	/* Another leader whose own monotonic clock is far behind: the group
	 * clock goes on from what was applied, plus the wall time since. */
	r.applied_mono_ms = 100;
	r.applied_wall_ms = G_WALL0 + 100;
	r.stamp_mono_ms = 0;
	replica_lead_begin(&r, 10, G_WALL0 + 600);
	replica_stamp(&r, 10, G_WALL0 + 600, &m, &w);
	assert_int_equal(m, 600);
	replica_stamp(&r, 5, G_WALL0 + 600, &m, &w);   /* never back */
	assert_int_equal(m, 600);
	size_t lens[8] = {DN_MSG_MAX_BYTES, DN_MSG_MAX_BYTES, DN_MSG_MAX_BYTES,
	    DN_MSG_MAX_BYTES, DN_MSG_MAX_BYTES, 10, 10, 10};
	assert_int_equal(replica_batch_fit(lens, 8), 3);
	assert_int_equal(replica_batch_fit(lens + 5, 3), 3);
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t prop = 0;
	assert_int_equal(replica_entry_pack(&r, REPLICA_KIND_TICK, NULL, lens, 1, 1, 1, &prop,
	    &buf, &len), DN_EINVAL);
	assert_int_equal(replica_apply(&r, (const uint8_t *)"\xff\xff", 2), DN_EPROTO);
	/* A machine entry before any genesis cannot be applied. */
	assert_int_equal(replica_entry_pack(&r, REPLICA_KIND_TICK, NULL, NULL, 0, 1, 1, &prop,
	    &buf, &len), 0);
	assert_int_equal(replica_apply(&r, buf, len), DN_ESTATE);
	free(buf);
	assert_int_equal(replica_restore(&r, (const uint8_t *)"DNRSNAP0", 8), DN_EPROTO);
	/* The right magic over something that is not an SQLite file. */
	uint8_t fake[REPLICA_SNAPSHOT_HEADER + 200];
	memset(fake, 'x', sizeof(fake));
	memcpy(fake, REPLICA_SNAPSHOT_MAGIC, 8);
	assert_int_equal(replica_restore(&r, fake, sizeof(fake)), DN_EPROTO);
	assert_false(r.open);
}

/* ---- a seeded schedule of partitions (test_random_partitions) ---- */

#define R_STEPS 80
/* Keys one schedule sends: fewer than the 100 hoodies in stock. */
#define R_KEYS 96

typedef struct {
	uint64_t s;
} r_rng;

static uint64_t r_next(r_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned r_below(r_rng *r, unsigned n)
{
	return (unsigned)(r_next(r) % n);
}

/* What the storefront of one key saw. */
typedef struct {
	int first;          /* the first answer's status; -1: none yet */
	unsigned sent;      /* proposals carrying the key */
	g_prop *last;       /* the latest of them */
} r_key;

typedef struct {
	uint64_t led_term[G_N];     /* the term each replica last took over in */
	bool barrier[G_N];          /* a barrier pending on it */
	bool cut[G_N];
	r_key keys[R_KEYS];
	unsigned nkeys;
	unsigned cuts, cut_leaders, takeovers, retries;
	/* test_random_crashes */
	bool dead[G_N];
	unsigned crashes, crash_leaders, wipes, restores;
	uint64_t hash;              /* the history: every entry applied, every answer */
} r_world;

static r_world *W;

/* The shell's take-over (group.c): barrier, then the clock and REOPEN. */
static void r_on_barrier(void *arg, int status)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	W->barrier[i] = false;
	struct raft *r = raft_fixture_get(&G->f, i);
	if (status != 0 || raft_state(r) != RAFT_LEADER || !raft_fixture_alive(&G->f, i)) {
		return;
	}
	replica_lead_begin(&G->n[i].r, g_mono(), g_wall());
	g_propose(i, REPLICA_KIND_REOPEN, NULL, NULL, 0, NULL);
	W->led_term[i] = r->current_term;
	W->takeovers++;
}

/* A replica leading and taken over in its term; G_N if none. */
static unsigned r_ready_leader(void)
{
	for (unsigned i = 0; i < G_N; i++) {
		struct raft *r = raft_fixture_get(&G->f, i);
		/* A dead replica's instance may still say leader (the fixture
		 * keeps it as it was): its process is gone. */
		if (raft_state(r) != RAFT_LEADER || !raft_fixture_alive(&G->f, i)) {
			continue;
		}
		if (W->led_term[i] == r->current_term) {
			return i;
		}
		if (!W->barrier[i]) {
			W->barrier[i] = raft_glue_barrier(r, r_on_barrier, (void *)(uintptr_t)i) == 0;
		}
	}
	return G_N;
}

static void r_step(unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 50) {
		raft_fixture_step_until_elapsed(&G->f, 50);
		g_poll();
		(void)r_ready_leader();
	}
}

static void r_connect(unsigned i, bool on)
{
	for (unsigned j = 0; j < G_N; j++) {
		if (j == i) {
			continue;
		}
		if (on) {
			raft_fixture_reconnect(&G->f, i, j);
			raft_fixture_reconnect(&G->f, j, i);
		} else {
			raft_fixture_disconnect(&G->f, i, j);
			raft_fixture_disconnect(&G->f, j, i);
		}
	}
	W->cut[i] = !on;
}

/* A storefront sends key k (a new one, or the retry of one whose answer
 * it does not have) to replica l, one order per entry. */
static void r_send(unsigned l, unsigned k)
{
	char key[32];
	snprintf(key, sizeof(key), "rnd-%u", k);
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(in_order(key, "hoodie", 1, &b, &len), 0);
	g_prop *p = NULL;
	g_propose(l, REPLICA_KIND_INGEST, &b, &len, 1, &p);
	free(b);
	W->retries += W->keys[k].sent > 0;
	W->keys[k].sent++;
	W->keys[k].last = p;
}

/* Every answer a storefront got: the first is the journal's, a retry's is
 * the same (exactly once). */
static void r_collect(void)
{
	for (unsigned k = 0; k < W->nkeys; k++) {
		r_key *rk = &W->keys[k];
		if (rk->last == NULL || rk->last->status < 0) {
			continue;
		}
		if (rk->first < 0) {
			rk->first = rk->last->status;
		}
		assert_int_equal(rk->last->status, rk->first);
	}
}

static bool r_unanswered(unsigned k)
{
	return W->keys[k].first < 0 && W->keys[k].last != NULL && W->keys[k].last->status < 0;
}

/* One action of a round: what < 6 sends an order to leader l (none if
 * l == G_N), 6 and 7 cut the leader or a replica off (one at a time), 8
 * heals the cut, 9 nothing. */
static void r_act(r_rng *rng, unsigned what, unsigned l)
{
	if (what < 6 && l < G_N) {
		/* Half of the sends retry a key whose proposal failed. */
		unsigned k = W->nkeys;
		for (unsigned j = 0; j < W->nkeys && r_below(rng, 2) == 0 && k == W->nkeys; j++) {
			if (r_unanswered(j) && W->keys[j].last->failed != 0) {
				k = j;
			}
		}
		if (k == W->nkeys && W->nkeys < R_KEYS) {
			W->keys[W->nkeys++].first = -1;
		}
		if (k < W->nkeys) {
			r_send(l, k);
		}
	} else if (what == 6 || what == 7) {
		/* One replica cut off at a time: the leader or a follower. */
		unsigned i = what == 6 && l < G_N ? l : r_below(rng, G_N);
		bool any = W->dead[i];
		for (unsigned j = 0; j < G_N; j++) {
			any = any || W->cut[j];
		}
		if (!any) {
			W->cuts++;
			W->cut_leaders += i == l;
			r_connect(i, false);
		}
	} else if (what == 8) {
		for (unsigned j = 0; j < G_N; j++) {
			if (W->cut[j]) {
				r_connect(j, true);
			}
		}
	}
}

static void r_round(r_rng *rng)
{
	unsigned what = r_below(rng, 10), l = r_ready_leader();
	r_act(rng, what, l);
	r_step(50 + 50 * r_below(rng, 30));
	r_collect();
}

/* ---- a restarted replica (test_random_crashes) ----
 * A member that restarts does not reopen its store file: it replaces it
 * with its last snapshot (or, before any, the genesis) and replays the log
 * it holds after it (docs/replication.md "Durability"). libraft's fixture
 * cannot restart an instance (raft_fixture_kill and _revive keep it in
 * memory, applied index and all), so each replica's "disk" is kept here,
 * beside the glue: the last snapshot it took or installed and every entry
 * it applied since. A restart replays them through the glue into a new
 * process's replica (new nonce, new memory), the way libraft replays its
 * disk at raft_start. */

typedef struct {
	uint64_t index;
	uint8_t *buf;
	size_t len;
} k_entry;

typedef struct {
	/* The glue's own callbacks (raft_glue_fsm_init), wrapped. */
	int (*apply)(struct raft_fsm *, const struct raft_buffer *, void **);
	int (*snapshot)(struct raft_fsm *, struct raft_buffer *[], unsigned *);
	int (*restore)(struct raft_fsm *, struct raft_buffer *);
	uint8_t *snap;              /* the last snapshot; NULL: none yet */
	size_t snap_len;
	k_entry *log;               /* entries applied after it, in order */
	size_t nlog, cap;
	unsigned gen;               /* restarts: a new nonce each */
	/* The fixture's in-memory log, wrapped (k_truncate). */
	int (*truncate)(struct raft_io *, raft_index);
	int (*snapshot_put)(struct raft_io *, unsigned, struct raft_io_snapshot_put *,
	    const struct raft_snapshot *, raft_io_snapshot_put_cb);
	raft_index io_base;         /* index before the fixture log's first entry */
	raft_index io_pending;      /* an installed snapshot's index, not yet put */
} k_disk;

static k_disk K[G_N];

static g_node *k_node(struct raft_fsm *fsm)
{
	return (g_node *)((char *)fsm - offsetof(g_node, fsm));
}

static void k_hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++) {
		W->hash = (W->hash ^ b[i]) * 0x100000001b3ull;
	}
}

static void k_log_clear(k_disk *d)
{
	for (size_t i = 0; i < d->nlog; i++) {
		free(d->log[i].buf);
	}
	d->nlog = 0;
}

static int k_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	g_node *nd = k_node(fsm);
	k_disk *d = &K[nd->idx];
	uint64_t index = raft_last_applied(raft_fixture_get(&G->f, nd->idx)) + 1;
	if (d->nlog == d->cap) {
		d->cap = d->cap == 0 ? 64 : 2 * d->cap;
		d->log = realloc(d->log, d->cap * sizeof(*d->log));
		assert_non_null(d->log);
	}
	k_entry *e = &d->log[d->nlog++];
	e->index = index;
	e->len = buf->len;
	e->buf = malloc(buf->len);
	assert_non_null(e->buf);
	memcpy(e->buf, buf->base, buf->len);
	/* The genesis (each replica's first entry) carries the store's
	 * random incarnation: the history is the rest. */
	if (nd->r.applied > 0) {
		uint64_t who = ((uint64_t)nd->idx << 56) | index;
		k_hash(&who, sizeof(who));
		k_hash(buf->base, buf->len);
	}
	*result = NULL;
	/* The fixture completes a dead server's disk writes, and libraft
	 * then applies what they commit: the entry is on its disk, and the
	 * restart replays it. */
	return W->dead[nd->idx] ? 0 : d->apply(fsm, buf, result);
}

/* The snapshot libraft takes (at its last applied index) or installs
 * becomes the disk's; the entries it covers are dropped. */
static void k_snap_keep(k_disk *d, const struct raft_buffer *b)
{
	free(d->snap);
	d->snap = malloc(b->len);
	assert_non_null(d->snap);
	memcpy(d->snap, b->base, b->len);
	d->snap_len = b->len;
	k_log_clear(d);
}

static int k_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	k_disk *d = &K[k_node(fsm)->idx];
	if (W->dead[k_node(fsm)->idx]) {
		return RAFT_BUSY;       /* no process to take it */
	}
	int rv = d->snapshot(fsm, bufs, n);
	if (rv == 0) {
		assert_int_equal(*n, 1);
		k_snap_keep(d, bufs[0]);
	}
	return rv;
}

static int k_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	g_node *nd = k_node(fsm);
	k_disk *d = &K[nd->idx];
	struct raft_buffer copy = *buf;         /* the glue frees buf->base */
	k_snap_keep(d, &copy);
	W->restores++;
	if (W->dead[nd->idx]) {
		raft_free(buf->base);   /* on its disk: the restart takes it */
		return 0;
	}
	return d->restore(fsm, buf);
}

/* libraft 0.15's fixture keeps each server's log in an array it indexes
 * from 1 (fixture.c, ioMethodTruncate: n = index - 1), but an installed
 * snapshot empties it (ioFlushSnapshotPut: truncate(1) when trailing is
 * 0) and the entries appended after it start at the snapshot's index + 1.
 * A later truncation of a conflicting tail (a crashed leader's entries)
 * then copies index - 1 entries out of a shorter array: a read past its
 * end (valgrind), and raft_fixture_close frees garbage (SIGSEGV). Still
 * so in 0.18.1. The fixture's disk only, not raft/uv.h's; so the tests
 * give it indexes from where its array starts. */
static k_disk *k_disk_of(struct raft_io *io)
{
	for (unsigned i = 0; i < G_N; i++) {
		if (raft_fixture_get(&G->f, i)->io == io) {
			return &K[i];
		}
	}
	fail_msg("no replica has this raft_io");
	return NULL;
}

static int k_snapshot_put(struct raft_io *io, unsigned trailing,
    struct raft_io_snapshot_put *req, const struct raft_snapshot *snap,
    raft_io_snapshot_put_cb cb)
{
	k_disk *d = k_disk_of(io);
	if (trailing == 0) {
		d->io_pending = snap->index;
	}
	return d->snapshot_put(io, trailing, req, snap, cb);
}

static int k_truncate(struct raft_io *io, raft_index index)
{
	k_disk *d = k_disk_of(io);
	if (index == 1 && d->io_pending != 0) {
		/* The fixture's own call, as it stores an installed snapshot. */
		d->io_base = d->io_pending;
		d->io_pending = 0;
		return d->truncate(io, 1);
	}
	return d->truncate(io, index > d->io_base ? index - d->io_base : 1);
}

static void k_attach(unsigned i)
{
	k_disk *d = &K[i];
	struct raft_fsm *fsm = &G->n[i].fsm;
	struct raft_io *io = raft_fixture_get(&G->f, i)->io;
	memset(d, 0, sizeof(*d));
	d->truncate = io->truncate;
	d->snapshot_put = io->snapshot_put;
	io->truncate = k_truncate;
	io->snapshot_put = k_snapshot_put;
	d->apply = fsm->apply;
	d->snapshot = fsm->snapshot;
	d->restore = fsm->restore;
	fsm->apply = k_apply;
	fsm->snapshot = k_snapshot;
	fsm->restore = k_restore;
	/* The store is copied inside snapshot here (the glue's path for an
	 * io without async work), so the disk holds a snapshot as libraft
	 * takes it: a fixture kill keeps libraft's memory, a copy still
	 * queued included, across the revive, which a real restart does not
	 * (the daemon's replicas copy off the loop: test_snapshot_pinned). */
	fsm->snapshot_async = NULL;
}

static void k_detach(void)
{
	for (unsigned i = 0; i < G_N; i++) {
		k_log_clear(&K[i]);
		free(K[i].log);
		free(K[i].snap);
		memset(&K[i], 0, sizeof(K[i]));
	}
}

static void k_unlink_store(const char *path)
{
	const char *sfx[] = {"", "-wal", "-shm", "-journal", ".tmp"};
	for (size_t k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%s", path, sfx[k]);
		unlink(p);
	}
}

/* kill -9 of replica i: its instance stops (no messages, no ticks), its
 * machine closes, and every client waiting on it times out (a retry goes
 * to whoever leads then). */
static void k_crash(unsigned i, bool leader)
{
	g_node *nd = &G->n[i];
	raft_fixture_kill(&G->f, i);
	for (size_t p = 0; p < G->nprops; p++) {
		g_prop *gp = &G->props[p];
		if (gp->origin == nd->r.nonce && gp->status < 0 && gp->failed == 0) {
			gp->failed = DN_ETIMEDOUT;
		}
	}
	replica_fini(&nd->r);
	W->dead[i] = true;
	W->crashes++;
	W->crash_leaders += leader;
}

/* Replica i's process starts again, with its disk or (wipe) its store file
 * gone: the store is the last snapshot plus the entries after it, whatever
 * the file held. Then its instance runs again. */
static void k_revive(unsigned i, bool wipe)
{
	g_node *nd = &G->n[i];
	k_disk *d = &K[i];
	struct raft *raft = raft_fixture_get(&G->f, i);
	if (wipe) {
		k_unlink_store(nd->path);
		W->wipes++;
	}
	d->gen++;
	assert_int_equal(replica_init(&nd->r, nd->c, nd->path,
	    0x5eed0000u + d->gen * 16u + i + 1), 0);
	nd->r.on_replies = g_on_replies;
	nd->r.replies_arg = nd;
	g_replaying = true;
	if (d->snap != NULL) {
		struct raft_buffer b = {.len = d->snap_len};
		b.base = raft_malloc(d->snap_len);
		assert_non_null(b.base);
		memcpy(b.base, d->snap, d->snap_len);
		assert_int_equal(d->restore(&nd->fsm, &b), 0);
	}
	for (size_t k = 0; k < d->nlog; k++) {
		struct raft_buffer b = {d->log[k].buf, d->log[k].len};
		void *result = NULL;
		nd->r.index = d->log[k].index;
		assert_int_equal(d->apply(&nd->fsm, &b, &result), 0);
	}
	g_replaying = false;
	assert_true(nd->r.open);
	/* Barrier entries move the applied index without the machine. */
	assert_true(d->nlog == 0 || d->log[d->nlog - 1].index <= raft_last_applied(raft));
	nd->r.glue = raft;
	raft_fixture_revive(&G->f, i);
	W->dead[i] = false;
	W->led_term[i] = 0;     /* a new process takes over anew */
}

/* A schedule's start: every replica compacting every threshold entries
 * (keeping trailing), the genesis and a hub, ordinary election timeouts
 * (raft_fixture_elect pushed them out), replica 1 leading. */
static void r_begin(unsigned threshold, unsigned trailing)
{
	for (unsigned i = 0; i < G_N; i++) {
		raft_glue_tune(raft_fixture_get(&G->f, i), threshold, trailing);
	}
	g_start();
	for (unsigned j = 0; j < G_N; j++) {
		raft_fixture_set_randomized_election_timeout(&G->f, j, 1000 + j * 300);
	}
	W->led_term[0] = raft_fixture_get(&G->f, 0)->current_term;
}

/* A replica leading and taken over in its term, after stepping the group
 * if need be. */
static unsigned r_wait_leader(void)
{
	unsigned l = G_N;
	for (unsigned t = 0; t < 200 && (l = r_ready_leader()) == G_N; t++) {
		r_step(100);
	}
	assert_true(l < G_N);
	return l;
}

/* A hub sync through whoever leads, the group stepped until all three
 * applied it; proposed again to the next leader if leadership moves
 * first (its entry may then be replaced). Returns the leader. */
static unsigned r_sync_all(void)
{
	for (unsigned tries = 0; tries < 20; tries++) {
		unsigned l = r_wait_leader();
		struct raft *raft = raft_fixture_get(&G->f, l);
		uint64_t term = raft->current_term;
		g_prop *p = NULL;
		(void)g_sync(l, NULL, 0, &p);
		for (unsigned t = 0; t < G_WAIT_MS; t += 100) {
			if (p->applied_mask == 7) {
				return l;
			}
			if (raft_state(raft) != RAFT_LEADER || raft->current_term != term) {
				break;
			}
			r_step(100);
		}
	}
	fail_msg("no hub sync applied on every replica under 20 leaders");
	return G_N;
}

/* The schedule is over: the cut healed, the dead started again (files
 * kept), a leader takes over, and every storefront retries until it has
 * its answer. Then every answer is the journal's, every accepted order is
 * journalled once on every replica, the audit is clean, books and memories
 * identical. Returns the orders journalled; *accepted: keys acked
 * ACCEPTED. */
static int64_t r_heal_and_check(unsigned *accepted)
{
	for (unsigned j = 0; j < G_N; j++) {
		if (W->cut[j]) {
			r_connect(j, true);
		}
	}
	for (unsigned j = 0; j < G_N; j++) {
		if (W->dead[j]) {
			k_revive(j, false);
		}
	}
	*accepted = 0;
	/* Every storefront retries until it has its answer, to whoever leads
	 * (leadership may still move while the returned settle). */
	unsigned l = G_N;
	for (unsigned round = 0, left = 1; left > 0 && round < 10; round++) {
		(void)r_sync_all();
		r_collect();
		l = r_wait_leader();
		left = 0;
		for (unsigned k = 0; k < W->nkeys; k++) {
			if (W->keys[k].first < 0) {
				r_send(l, k);
				left++;
			}
		}
	}
	l = r_sync_all();
	r_collect();
	for (unsigned k = 0; k < W->nkeys; k++) {
		char key[32];
		snprintf(key, sizeof(key), "rnd-%u", k);
		for (unsigned i = 0; i < G_N; i++) {
			if (W->keys[k].first == DROPNET__STATUS__ACCEPTED) {
				assert_true(g_has_order(i, key));
			}
		}
		*accepted += W->keys[k].first == DROPNET__STATUS__ACCEPTED;
		assert_true(W->keys[k].first >= 0);
	}
	g_audit_clean(l, 7);
	int64_t orders = g_assert_agree(7);
	g_assert_memory_agree(7);
	/* 100 hoodies, at most R_KEYS orders: every key accepted, once. */
	assert_int_equal(*accepted, W->nkeys);
	assert_int_equal(orders, (int64_t)W->nkeys);
	return orders;
}

/* Goal: under a seeded schedule of partitions - the leader or a follower
 * cut off and healed at random moments, orders sent to whoever leads and
 * retried with the same key when their proposal failed, every new leader
 * taking over as the shell does (barrier, then REOPEN) - every answer a
 * storefront got is the journal's (a retry gets the first answer), every
 * accepted order is journalled once on every replica, and once healed the
 * three books and memories are identical and the audit is clean. A first
 * mode of "the simulator driving a group": the machine's own simulator
 * (tests/sim) does not drive a group yet. */
static void test_random_partitions(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		if (seed > 1) {
			g_teardown(NULL);
			g_setup(NULL);
		}
		W = calloc(1, sizeof(*W));
		assert_non_null(W);
		/* No compaction: with snapshots on (8/2) this schedule makes
		 * libraft 0.15's fixture read past an array (valgrind) and
		 * crash in raft_fixture_close (its in-memory log after an
		 * installed snapshot: k_truncate); the snapshot path is the
		 * other tests'. */
		r_begin(1024, 128);
		r_rng rng = {.s = seed};
		for (unsigned step = 0; step < R_STEPS; step++) {
			r_round(&rng);
		}
		unsigned accepted = 0;
		int64_t orders = r_heal_and_check(&accepted);
		print_message("seed %llu: %u cuts (%u of the leader), %u take-overs, %u keys "
		    "(%u retries), %u acked ACCEPTED, %lld journalled\n", (unsigned long long)seed,
		    W->cuts, W->cut_leaders, W->takeovers, W->nkeys, W->retries, accepted,
		    (long long)orders);
		/* The schedule did what it is for: leaders were cut off and
		 * replaced, and storefronts retried. */
		assert_true(W->cut_leaders > 0 && W->takeovers > 0);
		/* Quiet before the fixture closes: raft_fixture_close crashes
		 * (0.15) on a message or write still in flight. */
		r_step(1000);
		free(W);
		W = NULL;
	}
}

/* ---- seeded leader crashes (test_random_crashes) ---- */

#define K_STEPS 120
/* Seeds a plain run takes; REPLICA_CRASH_SEEDS=n runs n (ctest
 * replica.random_crashes), REPLICA_CRASH_SEED=s starts at s. */
#define K_SEEDS_DEFAULT 6

/* After every round: no answer a storefront got was lost or changed by a
 * fail-over - the ready leader's journal holds every order acked ACCEPTED
 * so far - and, every fourth round (the scans were a third of the run),
 * live replicas that applied up to one index hold one book. */
static void k_check(unsigned round)
{
	r_collect();
	unsigned l = r_ready_leader();
	for (unsigned k = 0; l < G_N && k < W->nkeys; k++) {
		char key[32];
		snprintf(key, sizeof(key), "rnd-%u", k);
		if (W->keys[k].first == DROPNET__STATUS__ACCEPTED && !g_has_order(l, key)) {
			fail_msg("seed %llu: %s acked ACCEPTED, not in leader %u's journal",
			    (unsigned long long)g_seed_running, key, l + 1);
		}
	}
	uint64_t at[G_N], dig[G_N];
	int64_t orders = 0;
	for (unsigned i = 0; round % 4 == 0 && i < G_N; i++) {
		at[i] = W->dead[i] ? 0 : raft_last_applied(raft_fixture_get(&G->f, i));
		dig[i] = at[i] == 0 ? 0 : books_digest(G->n[i].c->db, &orders);
		for (unsigned j = 0; j < i; j++) {
			if (at[i] != 0 && at[j] == at[i] && dig[j] != dig[i]) {
				fail_msg("seed %llu: replicas %u and %u applied to %llu, books differ",
				    (unsigned long long)g_seed_running, j + 1, i + 1,
				    (unsigned long long)at[i]);
			}
		}
	}
}

/* A crash (what 0: the leader, 1: another replica; one replica dead at a
 * time) or a restart of the dead one (2), its store file kept or (one in
 * three) wiped. */
static void k_fault(r_rng *rng, unsigned what)
{
	unsigned dead = G_N;
	for (unsigned j = 0; j < G_N; j++) {
		dead = W->dead[j] ? j : dead;
	}
	if (what == 2) {
		if (dead < G_N) {
			k_revive(dead, r_below(rng, 3) == 0);
		}
		return;
	}
	unsigned leader = G_N, i = r_below(rng, G_N);
	for (unsigned j = 0; j < G_N; j++) {
		if (raft_state(raft_fixture_get(&G->f, j)) == RAFT_LEADER && !W->dead[j]) {
			leader = j;
		}
	}
	i = what == 0 ? leader : i;
	if (dead == G_N && i < G_N && !W->cut[i]) {
		k_crash(i, i == leader);
	}
}

/* Storefronts whose request failed or timed out (their replica crashed)
 * send it again, with its key, to leader l, each with odds of one in two
 * a round. */
static void k_retry(r_rng *rng, unsigned l)
{
	for (unsigned k = 0; l < G_N && k < W->nkeys; k++) {
		if (r_unanswered(k) && W->keys[k].last->failed != 0 && r_below(rng, 2) == 0) {
			r_send(l, k);
		}
	}
}

/* One round: storefronts send up to three orders (new keys, or retries of
 * failed ones) to the ready leader; the group runs a few ms, so a fault
 * may strike entries appended on the leader alone, on a follower, or
 * committed but not yet answered; then one action - the leader or a
 * replica cut off, the cut healed, the leader or another replica killed,
 * the dead one restarted, or nothing - and the group runs on. */
static void k_round(r_rng *rng, unsigned round)
{
	unsigned l = r_ready_leader();
	for (unsigned b = r_below(rng, 4); b > 0; b--) {
		r_act(rng, 0, l);
	}
	k_retry(rng, l);
	raft_fixture_step_until_elapsed(&G->f, r_below(rng, 40));
	unsigned what = r_below(rng, 10);
	uint64_t h[2] = {what, raft_fixture_time(&G->f)};
	k_hash(h, sizeof(h));
	if (what < 4) {
		r_act(rng, 6 + (what & 1), r_ready_leader());
	} else if (what == 4) {
		r_act(rng, 8, l);
	} else if (what < 8) {
		k_fault(rng, what - 5);
	}
	r_step(50 + 50 * r_below(rng, 30));
	k_check(round);
}

static uint64_t k_env(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? strtoull(v, NULL, 10) : dflt;
}

/* One seed on a fresh group; returns its history hash. */
static uint64_t k_run_seed(uint64_t seed, unsigned *totals)
{
	W = calloc(1, sizeof(*W));
	assert_non_null(W);
	W->hash = 0xcbf29ce484222325ull;
	g_seed_running = seed;
	/* REPLICA_CRASH_UNSTICK=0 shows what libraft 0.15 does alone. */
	g_unstick = k_env("REPLICA_CRASH_UNSTICK", 1) != 0;
	for (unsigned i = 0; i < G_N; i++) {
		k_attach(i);
	}
	/* Compact often: a restart replays a snapshot plus a few entries,
	 * and a replica away long enough needs the leader's. */
	r_begin(16, 4);
	r_rng rng = {.s = seed};
	for (unsigned step = 0; step < K_STEPS; step++) {
		k_round(&rng, step);
	}
	unsigned accepted = 0;
	int64_t orders = r_heal_and_check(&accepted);
	k_hash(&orders, sizeof(orders));
	totals[0] += W->crashes;
	totals[1] += W->crash_leaders;
	totals[2] += W->wipes;
	totals[3] += W->restores;
	totals[4] += W->cuts;
	totals[5] += W->retries;
	totals[6] += accepted;
	r_step(1000);      /* quiet before raft_fixture_close (see above) */
	uint64_t hash = W->hash;
	k_detach();
	free(W);
	W = NULL;
	g_seed_running = 0;
	g_unstick = false;
	return hash;
}

/* Goal: seeded schedules of leader crashes (kill -9: the instance stops,
 * the machine closes, waiting clients time out) and restarts - the
 * restarted replica rebuilt from its last snapshot plus its log, its store
 * file kept or wiped - interleaved with the leader or a follower cut off,
 * orders to whoever leads, retried by key. After every round: no acked
 * order missing from the leader's journal, no answer changed, replicas at
 * one index with one book. Healed: every answer the journal's, every order
 * journalled once everywhere, books and memories identical, audit clean.
 * The first seed runs twice and must give the same history (every entry
 * each replica applied, every round's action). */
static void test_random_crashes(void **state)
{
	(void)state;
	uint64_t first = k_env("REPLICA_CRASH_SEED", 1);
	uint64_t n = k_env("REPLICA_CRASH_SEEDS", K_SEEDS_DEFAULT);
	unsigned totals[7] = {0};
	uint64_t again = 0;
	for (uint64_t seed = first; seed < first + n; seed++) {
		uint64_t hash = k_run_seed(seed, totals);
		g_teardown(NULL);
		g_setup(NULL);
		if (seed == first) {
			again = k_run_seed(seed, (unsigned[7]){0});
			g_teardown(NULL);
			g_setup(NULL);
			assert_int_equal(again, hash);
		}
	}
	print_message("%llu seeds from %llu: %u crashes (%u of the leader), %u restarts on a"
	    " wiped store, %u snapshots installed, %u cuts, %u retries, %u acked ACCEPTED,"
	    " %u followers unstuck\n", (unsigned long long)n, (unsigned long long)first,
	    totals[0], totals[1], totals[2], totals[3], totals[4], totals[5], totals[6],
	    g_unstuck);
	/* The schedules did what they are for (over a few seeds; one replayed
	 * alone may not). */
	assert_true(n < K_SEEDS_DEFAULT || (totals[1] > 0 && totals[2] > 0 && totals[3] > 0));
}

/* Goal: a follower whose own snapshot is past its leader's, cut off while
 * a new leader took over, gets entries again once back (raft_glue_unstick;
 * libraft 0.15 left it behind until leadership moved, see raft_glue.h).
 * The new leader's sends to it fail, so libraft probes it from index 1
 * (progressToProbe: match + 1), sends its snapshot, the follower answers
 * "have more recent snapshot", refuses every probe inside its own
 * snapshot, and the leader cycles between probing down and resending the
 * snapshot. Found by test_random_crashes. */
static void test_follower_past_snapshot(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		raft_glue_tune(raft_fixture_get(&G->f, i), 16, 2);
	}
	raft_glue_tune(raft_fixture_get(&G->f, 2), 4, 1);
	g_start();
	for (unsigned j = 1; j < G_N; j++) {
		raft_fixture_set_randomized_election_timeout(&G->f, j, 1000 + j * 200);
	}
	for (int k = 0; k < 16; k++) {
		g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
	}
	raft_fixture_step_until_elapsed(&G->f, 200);
	struct raft *f3 = raft_fixture_get(&G->f, 2);
	/* Snapshots are taken off the loop (fsm version 3): one due while
	 * another is under way waits for the next apply. A few more entries
	 * until replica 3's is past replica 2's. */
	for (int k = 0; k < 8 && f3->log.snapshot.last_index <=
	    raft_fixture_get(&G->f, 1)->log.snapshot.last_index; k++) {
		g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
		raft_fixture_step_until_elapsed(&G->f, 50);
	}
	assert_true(raft_fixture_get(&G->f, 1)->log.snapshot.last_index > 0);
	assert_true(raft_fixture_get(&G->f, 1)->log.snapshot.last_index <
	    f3->log.snapshot.last_index);
	/* Replica 3 cut off; replica 2 takes over (its sends to 3 fail). */
	for (unsigned j = 0; j < 2; j++) {
		raft_fixture_disconnect(&G->f, 2, j);
		raft_fixture_disconnect(&G->f, j, 2);
	}
	struct raft_transfer req;
	assert_int_equal(raft_transfer(raft_fixture_get(&G->f, 0), &req, 2, NULL), 0);
	assert_true(raft_fixture_step_until_state_is(&G->f, 1, RAFT_LEADER, G_WAIT_MS));
	struct raft *l = raft_fixture_get(&G->f, 1);
	replica_lead_begin(&G->n[1].r, g_mono(), g_wall());
	g_settle(g_propose(1, REPLICA_KIND_REOPEN, NULL, NULL, 0, NULL), 3);
	raft_fixture_step_until_elapsed(&G->f, 500);
	for (unsigned j = 0; j < 2; j++) {
		raft_fixture_reconnect(&G->f, 2, j);
		raft_fixture_reconnect(&G->f, j, 2);
	}
	uint64_t idx = g_propose(1, REPLICA_KIND_TICK, NULL, NULL, 0, NULL);
	g_settle(idx, 3);
	/* libraft alone: replica 3 gets nothing (30 s is its install-snapshot
	 * timeout; the round only starts again after it). */
	assert_false(raft_fixture_step_until_applied(&G->f, 2, idx, 10000));
	assert_int_equal(l->leader_state.progress[2].state, 2);   /* snapshot */
	assert_true(l->leader_state.progress[2].match_index >=
	    l->leader_state.progress[2].snapshot_index);
	/* The glue's poll: probed from the end, it catches up by entries. */
	assert_int_equal(raft_glue_unstick(l), 1);
	assert_true(raft_fixture_step_until_applied(&G->f, 2, idx, 2000));
	assert_int_equal(raft_glue_unstick(l), 0);
	g_settle(g_sync(1, NULL, 0, NULL), 7);
	g_audit_clean(1, 7);
	g_assert_agree(7);
	g_assert_memory_agree(7);
}

static const char rv_peers[] =
    "admin boss 0505050505050505050505050505050505050505050505050505050505050505\n";

/* Proposes text as the group's peers table on replica `leader` (what its
 * shell does at SIGHUP); returns the entry's index. */
static uint64_t g_peers(unsigned leader, const char *text)
{
	g_node *nd = &G->n[leader];
	uint64_t mono, proposal, index = 0;
	int64_t wall;
	replica_stamp(&nd->r, g_mono(), g_wall(), &mono, &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(replica_peers_pack(&nd->r, text, strlen(text), mono, wall, &proposal,
	    &buf, &len), 0);
	assert_int_equal(raft_glue_propose(raft_fixture_get(&G->f, leader), buf, len, proposal,
	    NULL, NULL, &index), 0);
	free(buf);
	return index;
}

/* An OPS_HUB_SET from admin `name` whose key is 32 bytes of `keybyte`,
 * sealed with counter ctr. */
static void rv_hub_set_as(const char *name, uint8_t keybyte, double radius, uint64_t ctr,
    uint8_t **out, size_t *olen)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.kind = DROPNET__OPS_KIND__OPS_HUB_SET;
	q.hub = "london";
	q.lat = 51.5;
	q.lon = -0.12;
	q.radius_km = radius;
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(codec_ops_request_pack(&q, &b, &len), 0);
	uint8_t key[DN_AUTH_KEY_BYTES];
	memset(key, keybyte, sizeof(key));
	assert_int_equal(auth_seal(AUTH_SOCKET_OPS, name, key, ctr, b, len, out, olen), 0);
	free(b);
}

/* An OPS_HUB_SET from rv_peers' admin. */
static void rv_hub_set(double radius, uint64_t ctr, uint8_t **out, size_t *olen)
{
	rv_hub_set_as("boss", 0x05, radius, ctr, out, olen);
}

/* Goal: a replica restored from a snapshot takes and refuses operators'
 * request counters as the replicas that applied the log do (the replay
 * state is in the snapshot's memory image): a write resent with a counter
 * the group took (dropctl after a lost answer) is refused on every replica,
 * carries the first answer, and the books stay one. Found by review: the
 * restored replica kept its own stale state and applied the write again. */
static void test_restored_replica_counters(void **state)
{
	(void)state;
	g_start();
	g_settle(g_peers(0, rv_peers), 7);
	uint8_t *w0, *w1, *w2;
	size_t l0, l1, l2;
	g_prop *p = NULL;
	/* W0: all three load their counter state. */
	rv_hub_set(50, (uint64_t)g_wall() * 1000u, &w0, &l0);
	g_settle(g_propose(0, REPLICA_KIND_OPS, &w0, &l0, 1, &p), 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__OK);
	}
	/* Replica 3 is cut off (its process lives on). */
	raft_fixture_kill(&G->f, 2);
	raft_fixture_step_until_elapsed(&G->f, 10);
	rv_hub_set(100, (uint64_t)g_wall() * 1000u, &w1, &l1);
	g_settle(g_propose(0, REPLICA_KIND_OPS, &w1, &l1, 1, &p), 3);
	assert_int_equal(p->status, DROPNET__STATUS__OK);
	raft_fixture_step_until_elapsed(&G->f, 10);
	rv_hub_set(200, (uint64_t)g_wall() * 1000u, &w2, &l2);
	g_settle(g_propose(0, REPLICA_KIND_OPS, &w2, &l2, 1, &p), 3);
	assert_int_equal(p->status, DROPNET__STATUS__OK);
	uint64_t idx = 0;
	for (int k = 0; k < 12; k++) {
		idx = g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL);
		g_settle(idx, 3);
	}
	raft_fixture_step_until_elapsed(&G->f, 200);
	assert_true(raft_fixture_get(&G->f, 0)->log.snapshot.last_index > G->n[2].r.applied);
	uint64_t restores = G->n[2].r.restores;
	raft_fixture_revive(&G->f, 2);
	g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
	assert_int_equal(G->n[2].r.restores, restores + 1);
	g_assert_agree(7);
	/* dropctl's resend of W1 with its first try's counter (its answer
	 * was lost). */
	g_settle(g_propose(0, REPLICA_KIND_OPS, &w1, &l1, 1, &p), 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__UNAUTHENTICATED);
		int hi = coord_hub_find(G->n[i].c, "london");
		assert_true(G->n[i].c->hubs[hi].radius_km == 200);
	}
	g_assert_agree(7);
	free(w0);
	free(w1);
	free(w2);
	for (unsigned i = 0; i < G_N; i++) {
		auth_table_destroy(G->n[i].c->peers);
		G->n[i].c->peers = NULL;
	}
}

static const char rv_peers2[] =
    "# boss revoked, boss2 issued\n"
    "admin boss2 0606060606060606060606060606060606060606060606060606060606060606\n";

/* Proposes OPS_HUB_SET radius from admin name/keybyte on replica 0 and
 * settles it on mask; returns the proposal's record. */
static g_prop *rv_write(const char *name, uint8_t keybyte, double radius, unsigned mask)
{
	uint8_t *w = NULL;
	size_t l = 0;
	g_prop *p = NULL;
	rv_hub_set_as(name, keybyte, radius, (uint64_t)g_wall() * 1000u, &w, &l);
	g_settle(g_propose(0, REPLICA_KIND_OPS, &w, &l, 1, &p), mask);
	free(w);
	return p;
}

static void rv_assert_radius(unsigned mask, double radius)
{
	for (unsigned i = 0; i < G_N; i++) {
		if (mask & (1u << i)) {
			int hi = coord_hub_find(G->n[i].c, "london");
			assert_true(hi >= 0 && G->n[i].c->hubs[hi].radius_km == radius);
		}
	}
}

/* Goal: who may speak is the group's, changed only at a log index: a
 * revocation proposed while a replica is away (its own file still naming
 * the revoked admin) reaches it through the snapshot it restores from, so
 * it refuses the revoked admin's write exactly as the others do and the
 * books stay one. Before the peers table was replicated each replica used
 * its own file (reloaded at its own SIGHUP): the restored replica here
 * would have applied the revoked admin's write alone. */
static void test_peers_entry(void **state)
{
	(void)state;
	g_start();
	g_settle(g_peers(0, rv_peers), 7);
	assert_int_equal(rv_write("boss", 0x05, 50, 7)->statuses[2], DROPNET__STATUS__OK);
	rv_assert_radius(7, 50);
	/* Replica 3 is cut off; its process keeps its table (boss). */
	raft_fixture_kill(&G->f, 2);
	raft_fixture_step_until_elapsed(&G->f, 10);
	g_settle(g_peers(0, rv_peers2), 3);
	for (unsigned i = 0; i < 2; i++) {
		assert_null(auth_table_find(G->n[i].c->peers, "boss"));
		assert_non_null(auth_table_find(G->n[i].c->peers, "boss2"));
	}
	g_prop *p = rv_write("boss", 0x05, 300, 3);
	assert_int_equal(p->status, DROPNET__STATUS__UNAUTHENTICATED);
	assert_int_equal(rv_write("boss2", 0x06, 100, 3)->status, DROPNET__STATUS__OK);
	rv_assert_radius(3, 100);
	/* Compact the log past the peers entry: replica 3 needs a snapshot. */
	for (int k = 0; k < 12; k++) {
		g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 3);
	}
	raft_fixture_step_until_elapsed(&G->f, 200);
	assert_non_null(auth_table_find(G->n[2].c->peers, "boss"));
	uint64_t restores = G->n[2].r.restores;
	raft_fixture_revive(&G->f, 2);
	g_settle(g_propose(0, REPLICA_KIND_TICK, NULL, NULL, 0, NULL), 7);
	assert_int_equal(G->n[2].r.restores, restores + 1);
	assert_null(auth_table_find(G->n[2].c->peers, "boss"));
	assert_non_null(auth_table_find(G->n[2].c->peers, "boss2"));
	p = rv_write("boss", 0x05, 400, 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__UNAUTHENTICATED);
	}
	rv_assert_radius(7, 100);
	g_assert_agree(7);
}

/* Goal: the genesis carries the bootstrapper's peers table: replicas that
 * start with none (or another) take the group's, and check as it does. */
static void test_peers_genesis(void **state)
{
	(void)state;
	char err[200];
	assert_int_equal(auth_table_parse(rv_peers, strlen(rv_peers), &G->n[0].c->peers, err,
	    sizeof(err)), 0);
	assert_int_equal(auth_table_parse(rv_peers2, strlen(rv_peers2), &G->n[1].c->peers, err,
	    sizeof(err)), 0);
	g_genesis();
	for (unsigned i = 0; i < G_N; i++) {
		assert_non_null(G->n[i].c->peers);
		assert_non_null(auth_table_find(G->n[i].c->peers, "boss"));
		assert_null(auth_table_find(G->n[i].c->peers, "boss2"));
	}
	/* No hub london yet: boss is heard (and told so), boss2 is not. */
	g_prop *p = rv_write("boss", 0x05, 60, 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__NOT_FOUND);
	}
	p = rv_write("boss2", 0x06, 70, 7);
	for (unsigned i = 0; i < G_N; i++) {
		assert_int_equal(p->statuses[i], DROPNET__STATUS__UNAUTHENTICATED);
	}
	g_assert_agree(7);
}

/* Goal: a genesis never replaces a store that holds another store's books.
 * Turning a single node into a group, a member with an empty data dir may
 * win the first election and propose its empty store as the genesis; the
 * single node's replica then refuses it (DN_EINVAL: its process stops,
 * exit 78) and its file keeps every order; moved away, the same genesis is
 * taken. (Found by review: the file was replaced and its orders lost.) */
static void test_genesis_keeps_books(void **state)
{
	(void)state;
	g_genesis();
	g_node *x = &G->n[3];
	g_node_init(x, 3);
	/* A single node's store with a hub on it. */
	assert_int_equal(replica_machine_open(&x->r), 0);
	uint64_t own = x->c->incarnation;
	uint8_t *b = NULL;
	size_t l = 0;
	assert_int_equal(in_hubsync(0, NULL, 0, g_wall(), &b, &l), 0);
	mreq m;
	mreq *mp = &m;
	mreq_init(&m, b, l);
	coord_clock_set(x->c, g_mono(), g_wall());
	coord_hubsync_batch(x->c, &mp, 1);
	mreq_fini(&m);
	free(b);
	assert_int_equal(x->c->nhubs, 1);
	replica_machine_close(&x->r);
	/* The group's genesis: replica 1's store (no hub yet). */
	uint64_t mono;
	int64_t wall;
	replica_stamp(&G->n[0].r, g_mono(), g_wall(), &mono, &wall);
	uint8_t *gen = NULL;
	size_t glen = 0;
	assert_int_equal(replica_genesis_pack(&G->n[0].r, mono, wall, &gen, &glen), 0);
	assert_true(G->n[0].c->incarnation != own);
	assert_int_equal(replica_apply(&x->r, gen, glen), DN_EINVAL);
	assert_false(x->r.open);
	assert_int_equal(replica_machine_open(&x->r), 0);
	assert_int_equal(x->c->incarnation, own);
	assert_int_equal(x->c->nhubs, 1);
	replica_machine_close(&x->r);
	/* Moved away: the genesis is taken. */
	char p[160];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (size_t k = 0; k < 3; k++) {
		snprintf(p, sizeof(p), "%s%s", x->path, sfx[k]);
		unlink(p);
	}
	assert_int_equal(replica_apply(&x->r, gen, glen), 0);
	assert_true(x->r.open);
	assert_int_equal(x->c->incarnation, G->n[0].c->incarnation);
	assert_int_equal(x->c->nhubs, 0);
	/* A replica replaying the genesis over the group's own file takes it. */
	replica_machine_close(&x->r);
	assert_int_equal(replica_apply(&x->r, gen, glen), 0);
	free(gen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_pages, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_group_agrees, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_restored_memory_routes, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_follower_restarts_from_snapshot, g_setup,
		    g_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_pinned, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_restored_replica_counters, g_setup,
		    g_teardown),
		cmocka_unit_test_setup_teardown(test_peers_entry, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_peers_genesis, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_genesis_keeps_books, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_partitioned_leader, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_replica_added, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_books_sum, g_setup, g_teardown),
		cmocka_unit_test(test_clock_and_bounds),
		cmocka_unit_test(test_snapshot_every),
		cmocka_unit_test_setup_teardown(test_config_digest, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_hubs_max_mismatch, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_random_partitions, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_follower_past_snapshot, g_setup, g_teardown),
		cmocka_unit_test_setup_teardown(test_random_crashes, g_setup, g_teardown),
	};
	/* REPLICA_CRASH_SEEDS: the crash schedules alone (their ctest, a
	 * replay). */
	if (getenv("REPLICA_CRASH_SEEDS") != NULL) {
		cmocka_set_test_filter("test_random_crashes");
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
