/*
 * test_replica_uv.c - one replica on libraft's real backend (raft/uv.h):
 * its Raft log in segment files on disk, its TCP listener on 127.0.0.1. A
 * group of one commits on its own, so this runs without peers.
 *
 * Goals, each asserted:
 * - entries of any length survive a clean stop and a restart (libraft
 *   0.15 cannot reload a segment with an entry whose length is not a
 *   multiple of 8; raft_glue.c frames every entry);
 * - a restarted replica rebuilds its store from the log alone - genesis,
 *   then every committed entry again - into the same books, and goes on
 *   taking orders.
 * Waits are readiness probes on the loop (bounded), never sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <uv.h>
#include "core/err.h"
#include "io/log.h"
#include "raft_glue.h"
#include "books.h"
#include "inputs.h"

#define U_WALL0 1800000000000LL
/* Longest any wait may take (real ms) before the test fails. */
#define U_WAIT_MS 20000

typedef struct {
	uv_loop_t loop;
	char dir[64], raft_dir[96], path[96], address[32];
	coord *c;
	replica r;
	raft_glue_node *node;
	int last_status;             /* first reply of our last applied ingest */
	bool closed;
} u_world;

static void u_on_replies(void *arg, uint64_t origin, uint64_t proposal, mreq *reqs,
    size_t n)
{
	u_world *w = arg;
	(void)proposal;
	if (origin != w->r.nonce || n == 0) {
		return;
	}
	Dropnet__OrderAck *a = NULL;
	if (codec_order_ack_unpack(reqs[0].reply, reqs[0].reply_len, &a) == 0) {
		w->last_status = (int)a->status;
	}
	codec_order_ack_free(a);
}

/* A port nobody listens on now (the kernel's pick). */
static int u_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Runs the loop until done(w) or U_WAIT_MS of real time. */
static bool u_wait(u_world *w, bool (*done)(u_world *w, uint64_t arg), uint64_t arg)
{
	uv_update_time(&w->loop);
	uint64_t until = uv_now(&w->loop) + U_WAIT_MS;
	while (!done(w, arg)) {
		uv_update_time(&w->loop);
		if (uv_now(&w->loop) > until) {
			return false;
		}
		uv_run(&w->loop, UV_RUN_ONCE);
	}
	return true;
}

static bool u_leading(u_world *w, uint64_t arg)
{
	(void)arg;
	return raft_glue_node_leading(w->node);
}

static bool u_applied(u_world *w, uint64_t n)
{
	return w->r.applied >= n;
}

static bool u_closed(u_world *w, uint64_t arg)
{
	(void)arg;
	return w->closed;
}

/* A new process: machine, replica (nonce), member; waits until it leads. */
static void u_start(u_world *w, uint64_t nonce)
{
	w->c = calloc(1, sizeof(*w->c));
	assert_non_null(w->c);
	char err[200];
	assert_int_equal(conf_load(coord_config_keys, coord_config_nkeys, &w->c->cfg, NULL, NULL,
	    0, err, sizeof(err)), 0);
	w->c->split = ROUTE_SPLIT_NEVER;
	assert_int_equal(replica_init(&w->r, w->c, w->path, nonce), 0);
	w->r.on_replies = u_on_replies;
	w->r.replies_arg = w;
	raft_glue_peer self = {.id = 1, .address = w->address};
	assert_int_equal(raft_glue_node_create(&w->node, &w->loop, w->raft_dir, 1, &self, 1, false,
	    &w->r), 0);
	assert_true(u_wait(w, u_leading, 0));
	uv_update_time(&w->loop);
	replica_lead_begin(&w->r, uv_now(&w->loop), U_WALL0 + (int64_t)uv_now(&w->loop));
}

static void u_on_closed(void *arg)
{
	((u_world *)arg)->closed = true;
}

/* A clean stop: the member closes, the machine closes (file kept). */
static void u_stop(u_world *w)
{
	w->closed = false;
	raft_glue_node_close(w->node, u_on_closed, w);
	assert_true(u_wait(w, u_closed, 0));
	raft_glue_node_destroy(w->node);
	w->node = NULL;
	replica_fini(&w->r);
	free(w->c);
	w->c = NULL;
}

/* Proposes one entry of kind over n bodies (or the genesis, kind 0) and
 * waits until it is applied. Returns the entry's length. */
static size_t u_commit(u_world *w, int kind, uint8_t **bodies, size_t *lens, size_t n)
{
	uv_update_time(&w->loop);
	uint64_t mono, proposal = 0, index = 0;
	int64_t wall;
	replica_stamp(&w->r, uv_now(&w->loop), U_WALL0 + (int64_t)uv_now(&w->loop), &mono,
	    &wall);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (kind == 0) {
		assert_int_equal(replica_genesis_pack(&w->r, mono, wall, &buf, &len), 0);
	} else {
		assert_int_equal(replica_entry_pack(&w->r, kind, (const uint8_t *const *)bodies, lens,
		    n, mono, wall, &proposal, &buf, &len), 0);
	}
	uint64_t want = w->r.applied + 1;
	assert_int_equal(raft_glue_propose(raft_glue_node_raft(w->node), buf, len, proposal, NULL,
	    NULL, &index), 0);
	free(buf);
	assert_true(u_wait(w, u_applied, want));
	return len;
}

static size_t u_order(u_world *w, const char *key)
{
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(in_order(key, "hoodie", 1, &b, &len), 0);
	w->last_status = -1;
	size_t elen = u_commit(w, REPLICA_KIND_INGEST, &b, &len, 1);
	free(b);
	assert_int_equal(w->last_status, DROPNET__STATUS__ACCEPTED);
	return elen;
}

static void test_restart_replays(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	u_world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(uv_loop_init(&w->loop), 0);
	snprintf(w->dir, sizeof(w->dir), "/tmp/dropnet-replica-uv-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->raft_dir, sizeof(w->raft_dir), "%s/raft", w->dir);
	assert_int_equal(mkdir(w->raft_dir, 0700), 0);
	snprintf(w->path, sizeof(w->path), "%s/coordinator.db", w->dir);
	snprintf(w->address, sizeof(w->address), "127.0.0.1:%d", u_free_port());

	u_start(w, 11);
	assert_int_equal(replica_machine_open(&w->r), 0);   /* the genesis store */
	u_commit(w, 0, NULL, NULL, 0);
	uint8_t *b = NULL;
	size_t len = 0;
	assert_int_equal(in_hubsync(1, "hoodie", 50, U_WALL0, &b, &len), 0);
	u_commit(w, REPLICA_KIND_HUBSYNC, &b, &len, 1);
	free(b);
	/* Keys of several lengths: some entries are not 8-byte multiples. */
	const char *keys[] = {"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh"};
	unsigned odd = 0;
	for (size_t k = 0; k < 8; k++) {
		odd += u_order(w, keys[k]) % 8 != 0;
	}
	assert_true(odd > 0);
	int64_t orders = 0, orders2 = 0;
	uint64_t before = books_digest(w->c->db, &orders);
	uint64_t applied = w->r.applied;
	assert_int_equal(orders, 8);
	u_stop(w);

	/* Restart: the store is rebuilt from the genesis and the log. */
	u_start(w, 12);
	assert_true(u_wait(w, u_applied, applied));
	assert_true(w->r.open);
	assert_int_equal(books_digest(w->c->db, &orders2), before);
	assert_int_equal(orders2, 8);
	u_order(w, "after-restart");
	assert_int_equal(books_digest(w->c->db, &orders2) != before, true);
	assert_int_equal(orders2, 9);
	u_stop(w);

	uv_loop_close(&w->loop);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	assert_int_equal(system(cmd), 0);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_replays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
