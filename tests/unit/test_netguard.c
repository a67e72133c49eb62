/*
 * test_netguard.c - a listener that libnng 1.5.2 stopped is made again
 * (netguard.h), and the /proc/net/tcp reader it uses.
 *
 * The stop is real: peers that connect to an ipc:// bridge and close at
 * once make nng's handshake write fail with EPIPE (NNG_ECLOSED), which ends
 * 1.5.2's accept loop. Each round floods, then a real REQ client must be
 * served by the same bridge; rounds go on until the guard has made the
 * listener again. Without the guard the client waits forever (checked by
 * hand: the test then fails on its deadline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <uv.h>
#include "io/bridge.h"
#include "io/netguard.h"

static void test_parse_tcp_lines(void **state)
{
	(void)state;
	uint8_t peer[16];
	uint16_t pport = 0;
	uint64_t inode = 0;
	bool unread = false;
	/* 127.0.0.1:27400 <- 127.0.0.1:41298, CLOSE_WAIT, 175 bytes unread. */
	const char *v4 = "  12: 0100007F:6B08 0100007F:A152 08 00000000:000000AF 00:00000000 "
	                 "00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1\n";
	assert_true(netguard_parse_tcp_line(v4, 27400, peer, &pport, &inode, &unread));
	static const uint8_t want4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
	assert_memory_equal(peer, want4, 16);
	assert_int_equal(pport, 41298);
	assert_int_equal(inode, 4242);
	assert_true(unread);
	/* Another local port, and the listening socket itself: not ours. */
	assert_false(netguard_parse_tcp_line(v4, 27401, peer, &pport, &inode, &unread));
	const char *listen = "   0: 0100007F:6B08 00000000:0000 0A 00000000:00000000 00:00000000 "
	                     "00000000  1000        0 77 1 0000000000000000 100 0 0 10 0\n";
	assert_false(netguard_parse_tcp_line(listen, 27400, peer, &pport, &inode, &unread));
	/* ::1:7400 <- ::1:50000, ESTABLISHED, nothing unread. */
	const char *v6 = "   3: 00000000000000000000000001000000:1CE8 "
	                 "00000000000000000000000001000000:C350 01 00000000:00000000 00:00000000 "
	                 "00000000  1000        0 99 1 0000000000000000 20 4 30 10 -1\n";
	assert_true(netguard_parse_tcp_line(v6, 7400, peer, &pport, &inode, &unread));
	static const uint8_t want6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	assert_memory_equal(peer, want6, 16);
	assert_int_equal(pport, 50000);
	assert_int_equal(inode, 99);
	assert_false(unread);
	/* The header line and garbage. */
	assert_false(netguard_parse_tcp_line("  sl  local_address rem_address   st tx_queue "
	                                     "rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
	    7400, peer, &pport, &inode, &unread));
	assert_false(netguard_parse_tcp_line("", 7400, peer, &pport, &inode, &unread));
}

static void t_batch(void *arg, bridge_req **reqs, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		bridge_req_reply(reqs[i], "ok", 2);
	}
}

/* Connects to the ipc socket at path and closes at once, n times. */
static void t_flood(const char *path, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	}
}

typedef struct {
	const char *url;
	atomic_bool done;
	int rv;
} t_call;

static void t_call_thread(void *arg)
{
	t_call *c = arg;
	nng_socket s;
	c->rv = nng_req0_open(&s);
	if (c->rv == 0) {
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 20000); /* > the guard's 6 s */
		c->rv = nng_dial(s, c->url, NULL, NNG_FLAG_NONBLOCK);
	}
	if (c->rv == 0) {
		c->rv = nng_send(s, "hi", 2, 0);
	}
	if (c->rv == 0) {
		char *rep = NULL;
		size_t len = 0;
		c->rv = nng_recv(s, &rep, &len, NNG_FLAG_ALLOC);
		if (c->rv == 0) {
			c->rv = len == 2 && memcmp(rep, "ok", 2) == 0 ? 0 : -1;
			nng_free(rep, len);
		}
	}
	nng_close(s);
	atomic_store(&c->done, true);
}

/* One REQ call from another thread while the loop runs: 0 if answered. */
static int t_call_once(uv_loop_t *loop, const char *url)
{
	t_call c = {.url = url, .rv = -1};
	atomic_init(&c.done, false);
	nng_thread *th = NULL;
	assert_int_equal(nng_thread_create(&th, t_call_thread, &c), 0);
	for (int i = 0; i < 25000 && !atomic_load(&c.done); i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		nng_msleep(1);
	}
	nng_thread_destroy(th);
	return c.rv;
}

static void test_stopped_ipc_listener_comes_back(void **state)
{
	(void)state;
	char dir[] = "/tmp/dn-guard-XXXXXX", url[96], path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.ipc", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	bridge *b = NULL;
	assert_int_equal(bridge_create(&b, &loop, url, NULL, 1024, 4, t_batch, NULL), 0);

	/* Rounds of a flood, then a real client that must be served: once
	 * nng has stopped the listener, that client waits in nng's queue until
	 * the guard sees it (6 s) and makes the listener again. */
	int round = 0;
	while (bridge_listener_restarts(b) == 0) {
		assert_true(++round <= 10);
		t_flood(path, 200);
		assert_int_equal(t_call_once(&loop, url), 0);
	}

	bridge_destroy(b);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(path);
	rmdir(dir);
}

/* A listener that cannot be made again at once (here: its directory moved
 * away while it restarted) is tried again on every tick, and listens once
 * it can. Before, it stayed gone for good. */
static void test_gone_listener_is_retried(void **state)
{
	(void)state;
	char dir[] = "/tmp/dn-guard-XXXXXX", sub[64], moved[64], url[128];
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	snprintf(url, sizeof(url), "ipc://%s/s.ipc", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	nng_socket s;
	assert_int_equal(nng_rep0_open(&s), 0);
	netguard *g = NULL;
	assert_int_equal(netguard_listen(&g, s, url, NULL), 0);

	assert_int_equal(rename(sub, moved), 0);
	assert_int_not_equal(netguard_restart(g, NULL, "test"), 0);
	assert_false(netguard_tick(g, 10000)); /* still no directory */
	/* A reload (SIGHUP) meanwhile must not take it for made again. */
	nettls_files files = {0};
	assert_int_not_equal(netguard_restart(g, &files, "reload"), 0);
	assert_false(netguard_tick(g, 15000));
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_true(netguard_tick(g, 20000));

	nng_socket c;
	assert_int_equal(nng_req0_open(&c), 0);
	assert_int_equal(nng_dial(c, url, NULL, 0), 0); /* someone listens */
	nng_close(c);
	nng_close(s);
	netguard_destroy(g);
	char path[160];
	snprintf(path, sizeof(path), "%s/s.ipc", sub);
	unlink(path);
	snprintf(path, sizeof(path), "%s/s.ipc", moved);
	unlink(path);
	rmdir(sub);
	rmdir(moved);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tcp_lines),
		cmocka_unit_test(test_stopped_ipc_listener_comes_back),
		cmocka_unit_test(test_gone_listener_is_retried),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
