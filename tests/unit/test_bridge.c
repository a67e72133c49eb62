/*
 * test_bridge.c - the loop's nng bridge drops a request whose client has
 * gone (issue 9: abandoned requests are not executed), and still serves a
 * client that waits.
 *
 * A second test: one connection's requests beyond the per-peer cap
 * (bridge_set_peer_max) go to the refuse function, not to the batch, while
 * another connection is still served, and a reply gives its place back.
 *
 * A real REP bridge on an ipc:// socket in a temp folder, a real libuv loop
 * and real nng REQ clients. The bridge's gate holds requests in its queue,
 * as the coordinator's shell does while a WAL sync runs, until the test has
 * closed the first client; readiness is probed on the bridge's counters.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <uv.h>
#include "io/bridge.h"

typedef struct {
	bool hold;       /* the gate keeps requests queued */
	size_t executed; /* requests the loop was handed */
	bool keep;       /* the batch keeps requests unanswered (in kept) */
	bridge_req *kept[16];
	size_t nkept;
	size_t refused;  /* requests handed to the refuse function */
	uint32_t refused_max;
} t_state;

static bool t_gate(void *arg)
{
	return !((t_state *)arg)->hold;
}

static void t_batch(void *arg, bridge_req **reqs, size_t n)
{
	t_state *st = arg;
	for (size_t i = 0; i < n; i++) {
		st->executed++;
		if (st->keep) {
			assert_true(st->nkept < 16);
			st->kept[st->nkept++] = reqs[i];
		} else {
			bridge_req_reply(reqs[i], "ok", 2);
		}
	}
}

static void t_refuse(void *arg, bridge_req *r, uint32_t max)
{
	t_state *st = arg;
	st->refused++;
	st->refused_max = max;
	bridge_req_reply(r, "busy", 4);
}

/* Runs the loop until field of the bridge's stats reaches want (10 s). */
static void t_wait(uv_loop_t *loop, bridge *b, size_t off, uint64_t want)
{
	for (int i = 0; i < 10000; i++) {
		bridge_stats s;
		uv_run(loop, UV_RUN_NOWAIT);
		bridge_get_stats(b, &s);
		if (*(uint64_t *)((char *)&s + off) >= want) {
			return;
		}
		nng_msleep(1);
	}
	fail_msg("bridge counter at offset %zu never reached %llu", off, (unsigned long long)want);
}

static void t_client(nng_socket *s, const char *url)
{
	assert_int_equal(nng_req0_open(s), 0);
	assert_int_equal(nng_dial(*s, url, NULL, 0), 0);
	assert_int_equal(nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 10000), 0);
}

static void test_abandoned_request_not_executed(void **state)
{
	(void)state;
	char dir[] = "/tmp/dn-bridge-XXXXXX", url[64];
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/s.ipc", dir);
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	t_state st = {.hold = true};
	bridge *b = NULL;
	assert_int_equal(bridge_create(&b, &loop, url, NULL, 1024, 4, t_batch, &st), 0);
	bridge_set_gate(b, t_gate, &st);

	/* A client sends and gives up (closes) while its request is queued. */
	nng_socket gone;
	t_client(&gone, url);
	assert_int_equal(nng_send(gone, "audit", 5, 0), 0);
	t_wait(&loop, b, offsetof(bridge_stats, received), 1);
	assert_int_equal(nng_close(gone), 0);
	t_wait(&loop, b, offsetof(bridge_stats, pipes_closed), 1);

	/* The loop takes the queue: the request is dropped, not executed. */
	st.hold = false;
	bridge_kick(b);
	t_wait(&loop, b, offsetof(bridge_stats, abandoned), 1);
	assert_int_equal(st.executed, 0);

	/* A client that waits is served as before. */
	nng_socket live;
	t_client(&live, url);
	assert_int_equal(nng_send(live, "hubs", 4, 0), 0);
	t_wait(&loop, b, offsetof(bridge_stats, replied), 1);
	char *rep = NULL;
	size_t len = 0;
	assert_int_equal(nng_recv(live, &rep, &len, NNG_FLAG_ALLOC), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(rep, "ok", 2);
	nng_free(rep, len);
	assert_int_equal(st.executed, 1);
	bridge_stats s;
	bridge_get_stats(b, &s);
	assert_int_equal(s.abandoned, 1);
	assert_int_equal(nng_close(live), 0);

	bridge_destroy(b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	char path[80];
	snprintf(path, sizeof(path), "%s/s.ipc", dir);
	unlink(path);
	rmdir(dir);
}

/* Runs the loop until *n (a t_state count) reaches want (10 s). */
static void t_wait_n(uv_loop_t *loop, const size_t *n, size_t want)
{
	for (int i = 0; i < 10000 && *n < want; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		nng_msleep(1);
	}
	assert_int_equal(*n, want);
}

/* A client request on its own context: done once its send and its
 * receive have completed (nng 1.5.2 has no nng_aio_busy). */
typedef struct {
	nng_ctx ctx;
	nng_aio *aio;
	atomic_int ops;
} t_call;

static void t_call_cb(void *arg)
{
	atomic_fetch_add(&((t_call *)arg)->ops, 1);
}

static bool t_busy(t_call *c)
{
	return atomic_load(&c->ops) < 2;
}

/* Sends body on each of n contexts of socket s at once (one connection). */
static void t_send_all(nng_socket s, t_call *c, size_t n, const char *body)
{
	for (size_t i = 0; i < n; i++) {
		nng_msg *m = NULL;
		atomic_init(&c[i].ops, 0);
		assert_int_equal(nng_ctx_open(&c[i].ctx, s), 0);
		assert_int_equal(nng_aio_alloc(&c[i].aio, t_call_cb, &c[i]), 0);
		nng_aio_set_timeout(c[i].aio, 10000);
		assert_int_equal(nng_msg_alloc(&m, 0), 0);
		assert_int_equal(nng_msg_append(m, body, strlen(body)), 0);
		nng_aio_set_msg(c[i].aio, m);
		nng_ctx_send(c[i].ctx, c[i].aio);
	}
	for (size_t i = 0; i < n; i++) {
		nng_aio_wait(c[i].aio);
		assert_int_equal(nng_aio_result(c[i].aio), 0);
		nng_ctx_recv(c[i].ctx, c[i].aio);
	}
}

/* Context i's reply ("" if none yet): the loop runs until it came. */
static bool t_reply_is(uv_loop_t *loop, t_call *c, const char *want)
{
	for (int k = 0; k < 10000 && t_busy(c); k++) {
		uv_run(loop, UV_RUN_NOWAIT);
		nng_msleep(1);
	}
	if (t_busy(c) || nng_aio_result(c->aio) != 0) {
		return false;
	}
	nng_msg *m = nng_aio_get_msg(c->aio);
	bool same = nng_msg_len(m) == strlen(want) &&
	    memcmp(nng_msg_body(m), want, strlen(want)) == 0;
	nng_msg_free(m);
	return same;
}

/* Goal: with a cap of 2 per connection and 8 contexts, a client sending 5
 * at once on one connection has 2 executed and 3 refused (refuse_fn, with
 * the cap); another connection is still executed; once the kept requests
 * are answered, the first connection's next 2 are executed again (the
 * count went back). */
static void test_peer_cap(void **state)
{
	(void)state;
	char dir[] = "/tmp/dn-bridge-XXXXXX", url[64];
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/s.ipc", dir);
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	t_state st = {.keep = true};
	bridge *b = NULL;
	assert_int_equal(bridge_create(&b, &loop, url, NULL, 1024, 8, t_batch, &st), 0);
	bridge_set_peer_max(b, 2, t_refuse, &st);

	nng_socket greedy, other;
	t_call ga[5], oa[1];
	t_client(&greedy, url);
	t_client(&other, url);
	t_send_all(greedy, ga, 5, "order");
	t_wait(&loop, b, offsetof(bridge_stats, peer_busy), 3);
	t_wait_n(&loop, &st.refused, 3);
	t_wait_n(&loop, &st.executed, 2);
	assert_int_equal(st.refused, 3);
	assert_int_equal(st.refused_max, 2);
	/* The refusals' replies arrive (the sender thread sends them). */
	size_t busy = 0;
	for (int k = 0; k < 10000 && busy < 3; k++) {
		busy = 0;
		for (size_t i = 0; i < 5; i++) {
			busy += t_busy(&ga[i]) ? 0 : 1;
		}
		nng_msleep(1);
	}
	assert_int_equal(busy, 3);
	for (size_t i = 0; i < 5; i++) {
		if (!t_busy(&ga[i])) {
			assert_true(t_reply_is(&loop, &ga[i], "busy"));
		}
	}

	/* Another connection is served while the first is at its cap. */
	t_send_all(other, oa, 1, "order");
	t_wait_n(&loop, &st.executed, 3);

	/* Answering the kept requests frees the first connection's places. */
	bool waiting[5];
	size_t ok = 0;
	for (size_t i = 0; i < 5; i++) {
		waiting[i] = t_busy(&ga[i]);
	}
	for (size_t i = 0; i < st.nkept; i++) {
		bridge_req_reply(st.kept[i], "ok", 2);
	}
	st.nkept = 0;
	for (size_t i = 0; i < 5; i++) {
		if (waiting[i]) {
			assert_true(t_reply_is(&loop, &ga[i], "ok"));
			ok++;
		}
	}
	assert_int_equal(ok, 2);
	assert_true(t_reply_is(&loop, &oa[0], "ok"));
	/* Replied and sent: the count is back at 0, so two more fit. */
	t_wait(&loop, b, offsetof(bridge_stats, replied), 6);
	t_call ga2[2];
	st.keep = false;
	/* The sends complete on nng's threads, after the client has read. */
	bridge_stats bs = {0};
	for (int k = 0; k < 10000; k++) {
		bridge_get_stats(b, &bs);
		if (bs.peer_inflight == 0) {
			break;
		}
		nng_msleep(1);
	}
	assert_int_equal(bs.peer_inflight, 0);
	t_send_all(greedy, ga2, 2, "order");
	assert_true(t_reply_is(&loop, &ga2[0], "ok"));
	assert_true(t_reply_is(&loop, &ga2[1], "ok"));
	assert_int_equal(st.executed, 5);
	assert_int_equal(st.refused, 3);

	for (size_t i = 0; i < 5; i++) {
		nng_aio_free(ga[i].aio);
	}
	nng_aio_free(oa[0].aio);
	nng_aio_free(ga2[0].aio);
	nng_aio_free(ga2[1].aio);
	assert_int_equal(nng_close(greedy), 0);
	assert_int_equal(nng_close(other), 0);
	bridge_destroy(b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	char path[80];
	snprintf(path, sizeof(path), "%s/s.ipc", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_abandoned_request_not_executed),
	    cmocka_unit_test(test_peer_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
