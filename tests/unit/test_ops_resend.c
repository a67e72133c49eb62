/*
 * test_ops_resend.c - dropctl against a replicated group whose replica dies
 * with a write in flight: the write is resent to the next replica with the
 * first try's request counter (the same signed bytes), so a group that took
 * the first try refuses the copy as a replay instead of acting twice, and
 * dropctl says the request was acted on at most once. A read is resent with
 * a fresh counter (replaying a read changes nothing; a used counter would be
 * refused).
 *
 * Two scripted ops servers on ipc:// stand in for the replicas: A takes one
 * request and never answers (its replica died after taking it), B answers
 * the copy. The real dropctl binary (DROPCTL in the environment, set by
 * CMake) runs against "A,B".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include "core/limits.h"
#include "io/auth.h"
#include "io/codec.h"

extern char **environ;

typedef struct {
	char url[160];
	nng_socket sock;
	pthread_t th;
	bool answer;              /* false: take the request, never answer */
	Dropnet__Status status;   /* the answer's */
	const char *message;
	uint8_t first[256];       /* the answer's first_answer (0 bytes: none) */
	size_t first_len;
	uint8_t got[4096];
	size_t got_len;
	uint64_t counter;         /* the Signed envelope's */
} fake;

static void *fake_main(void *arg)
{
	fake *f = arg;
	char *buf = NULL;
	size_t len = 0;
	if (nng_recv(f->sock, &buf, &len, NNG_FLAG_ALLOC) != 0) {
		return NULL;
	}
	f->got_len = len < sizeof(f->got) ? len : sizeof(f->got);
	memcpy(f->got, buf, f->got_len);
	Dropnet__Signed *env = NULL;
	if (codec_signed_req_unpack((const uint8_t *)buf, len, &env) == 0) {
		f->counter = env->counter;
		codec_signed_req_free(env);
	}
	nng_free(buf, len);
	if (!f->answer) {
		return NULL;
	}
	Dropnet__OpsReply r = DROPNET__OPS_REPLY__INIT;
	r.version = DN_PROTO_VERSION;
	r.status = f->status;
	r.message = (char *)f->message;
	r.first_answer.data = f->first;
	r.first_answer.len = f->first_len;
	uint8_t *out = NULL;
	size_t olen = 0;
	assert_int_equal(codec_ops_reply_pack(&r, &out, &olen), 0);
	nng_send(f->sock, out, olen, 0);
	free(out);
	return NULL;
}

static void fake_start(fake *f, const char *dir, const char *name, bool answer,
    Dropnet__Status status, const char *message)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->url, sizeof(f->url), "ipc://%s/%s.sock", dir, name);
	f->answer = answer;
	f->status = status;
	f->message = message;
	assert_int_equal(nng_rep0_open(&f->sock), 0);
	nng_socket_set_ms(f->sock, NNG_OPT_RECVTIMEO, 20000);
	assert_int_equal(nng_listen(f->sock, f->url, NULL, 0), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f)
{
	pthread_join(f->th, NULL);
	nng_close(f->sock);
}

static char dir[] = "/tmp/dn-opsresend.XXXXXX";

/* Runs dropctl with args against "a,b" as the operator `ops1`; its exit
 * code, its stderr in err. */
static int run_dropctl(const fake *a, const fake *b, const char *const *args,
    char *err, size_t err_len)
{
	const char *bin = getenv("DROPCTL");
	assert_non_null(bin);
	char coord[400], errf[200];
	snprintf(coord, sizeof(coord), "%s,%s", a->url, b->url);
	snprintf(errf, sizeof(errf), "%s/stderr", dir);
	char *argv[32];
	size_t n = 0;
	argv[n++] = (char *)bin;
	argv[n++] = "--coordinator";
	argv[n++] = coord;
	argv[n++] = "--timeout-ms";
	argv[n++] = "500";
	for (size_t k = 0; args[k] != NULL; k++) {
		argv[n++] = (char *)args[k];
	}
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	FILE *fp = fopen(errf, "r");
	assert_non_null(fp);
	size_t got = fread(err, 1, err_len - 1, fp);
	err[got] = '\0';
	fclose(fp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	char key[200];
	snprintf(key, sizeof(key), "%s/ops1.key", dir);
	FILE *fp = fopen(key, "w");
	assert_non_null(fp);
	fprintf(fp, "%064d\n", 7);
	fclose(fp);
	setenv("DROPNET_AUTH_NAME", "ops1", 1);
	setenv("DROPNET_AUTH_KEY", key, 1);
	return 0;
}

/* Goal: a write whose first try went unanswered is resent with the same
 * counter (the same bytes); the group's replay refusal of the copy is said
 * as "acted on at most once", exit 1 (the refusal carries no first
 * answer: the coordinator could not keep it). */
static void test_write_resent_same_counter(void **state)
{
	(void)state;
	fake a, b;
	fake_start(&a, dir, "w-a", false, 0, NULL);
	fake_start(&b, dir, "w-b", true, DROPNET__STATUS__UNAUTHENTICATED,
	    "request counter already used (replayed?)");
	const char *args[] = {"holdback", "release", "--drop", "d1", "--sku", "tee",
	    "--qty", "3", "--hub", "london", NULL};
	char err[4096];
	int ex = run_dropctl(&a, &b, args, err, sizeof(err));
	fake_stop(&a);
	fake_stop(&b);
	assert_int_equal(ex, 1);
	assert_true(a.got_len > 0 && a.counter != 0);
	assert_int_equal(b.got_len, a.got_len);
	assert_memory_equal(b.got, a.got, a.got_len);
	assert_non_null(strstr(err, "at most once"));
}

/* Goal: the same, when the refusal carries the first try's answer: dropctl
 * hands on that answer (exit 0 for an OK) and says where it came from. */
static void test_write_first_answer(void **state)
{
	(void)state;
	fake a, b;
	fake_start(&a, dir, "f-a", false, 0, NULL);
	fake_start(&b, dir, "f-b", true, DROPNET__STATUS__UNAUTHENTICATED,
	    "request counter already used (replayed?)");
	Dropnet__OpsReply first = DROPNET__OPS_REPLY__INIT;
	first.version = DN_PROTO_VERSION;
	first.status = DROPNET__STATUS__OK;
	first.message = "released";
	b.first_len = dropnet__ops_reply__get_packed_size(&first);
	assert_true(b.first_len <= sizeof(b.first));
	dropnet__ops_reply__pack(&first, b.first);
	const char *args[] = {"holdback", "release", "--drop", "d1", "--sku", "tee",
	    "--qty", "3", "--hub", "london", NULL};
	char err[4096];
	int ex = run_dropctl(&a, &b, args, err, sizeof(err));
	fake_stop(&a);
	fake_stop(&b);
	assert_int_equal(ex, 0);
	assert_memory_equal(b.got, a.got, a.got_len);
	assert_non_null(strstr(err, "kept it"));
}

/* Goal: a read is resent with a fresh counter (a used one would be
 * refused), and its answer is passed on. */
static void test_read_resent_fresh_counter(void **state)
{
	(void)state;
	fake a, b;
	fake_start(&a, dir, "r-a", false, 0, NULL);
	fake_start(&b, dir, "r-b", true, DROPNET__STATUS__OK, "");
	const char *args[] = {"hubs", NULL};
	char err[4096];
	int ex = run_dropctl(&a, &b, args, err, sizeof(err));
	fake_stop(&a);
	fake_stop(&b);
	assert_int_equal(ex, 0);
	assert_true(a.counter != 0 && b.counter != 0);
	assert_true(b.counter != a.counter);
	assert_null(strstr(err, "at most once"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_resent_same_counter),
		cmocka_unit_test(test_write_first_answer),
		cmocka_unit_test(test_read_resent_fresh_counter),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
