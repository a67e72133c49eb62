/*
 * test_bridge.c - the loop's nng bridge drops a request whose client has
 * gone (issue 9: abandoned requests are not executed), and still serves a
 * client that waits.
 *
 * A real REP bridge on an ipc:// socket in a temp folder, a real libuv loop
 * and real nng REQ clients. The bridge's gate holds requests in its queue,
 * as the coordinator's shell does while a WAL sync runs, until the test has
 * closed the first client; readiness is probed on the bridge's counters.
 */
#include <setjmp.h>
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
		bridge_req_reply(reqs[i], "ok", 2);
	}
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_abandoned_request_not_executed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
