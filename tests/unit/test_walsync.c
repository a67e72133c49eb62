/*
 * test_walsync.c - common/io/walsync on a real SQLite file in a temp folder:
 * the connection goes to synchronous=NORMAL only once the -wal file is open
 * (and back to FULL at destroy); a ticket is covered by one sync started
 * after it, so waiting again for a covered ticket syncs nothing, and one
 * sync covers every ticket issued before it started; many threads waiting
 * for one ticket share one sync;
 * a database without a -wal file is refused and keeps FULL; a -wal file
 * made anew under the same name is the one synced from then on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/err.h"
#include "io/db.h"
#include "io/walsync.h"

typedef struct {
	char dir[64];
	char path[128];
	sqlite3 *db;
} fixture;

static int synchronous(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/dropnet-walsync-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(db_open(f->path, "CREATE TABLE t(x INTEGER);", &f->db), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(1)"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	db_close(f->db);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_normal_while_open(void **state)
{
	fixture *f = *state;
	assert_int_equal(synchronous(f->db), 2); /* FULL, from db_open */
	walsync *w = NULL;
	assert_int_equal(walsync_create(&w, f->db, f->path), 0);
	assert_int_equal(synchronous(f->db), 1); /* NORMAL */
	walsync_destroy(w, f->db);
	assert_int_equal(synchronous(f->db), 2);
}

static void test_tickets(void **state)
{
	fixture *f = *state;
	walsync *w = NULL;
	assert_int_equal(walsync_create(&w, f->db, f->path), 0);
	assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(2)"), 0);
	uint64_t t1 = walsync_mark(w);
	walsync_upto(w, t1);
	assert_int_equal(walsync_count(w), 1);
	walsync_upto(w, t1); /* covered: no second sync */
	assert_int_equal(walsync_count(w), 1);
	uint64_t t2 = walsync_mark(w);
	uint64_t t3 = walsync_mark(w);
	assert_true(t3 > t2 && t2 > t1);
	walsync_upto(w, t3);
	assert_int_equal(walsync_count(w), 2);
	walsync_upto(w, t2); /* the sync for t3 started after t2 */
	assert_int_equal(walsync_count(w), 2);
	assert_false(walsync_busy(w));
	walsync_destroy(w, f->db);
}

typedef struct {
	walsync *w;
	uint64_t ticket;
} waiter;

static atomic_int done_calls;

static void on_done(void *arg)
{
	(void)arg;
	atomic_fetch_add(&done_calls, 1);
}

static void *wait_thread(void *arg)
{
	waiter *wt = arg;
	walsync_upto(wt->w, wt->ticket);
	return NULL;
}

static void test_threads_share(void **state)
{
	fixture *f = *state;
	walsync *w = NULL;
	assert_int_equal(walsync_create(&w, f->db, f->path), 0);
	atomic_store(&done_calls, 0);
	walsync_set_done(w, on_done, NULL);
	assert_int_equal(db_exec(f->db, "INSERT INTO t VALUES(3)"), 0);
	waiter wt = {w, walsync_mark(w)};
	pthread_t th[8];
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, wait_thread, &wt), 0);
	}
	for (size_t i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
	}
	uint64_t n = walsync_count(w);
	assert_int_equal(n, 1); /* the first waiter's sync covers every one */
	assert_int_equal(atomic_load(&done_calls), (int)n);
	walsync_destroy(w, f->db);
}

static void test_no_wal_refused(void **state)
{
	fixture *f = *state;
	char other[160];
	snprintf(other, sizeof(other), "%s/none.db", f->dir);
	walsync *w = NULL;
	assert_int_equal(walsync_create(&w, f->db, other), DN_EIO);
	assert_null(w);
	assert_int_equal(synchronous(f->db), 2);
	walsync_destroy(NULL, f->db); /* NULL is a no-op */
}

/* True if one of this process's descriptors is the file st describes. */
static bool fd_open_on(const struct stat *want)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d)) != NULL) {
		char p[300];
		struct stat st;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		found = stat(p, &st) == 0 && st.st_dev == want->st_dev &&
		    st.st_ino == want->st_ino;
	}
	closedir(d);
	return found;
}

static void test_follows_a_new_wal(void **state)
{
	fixture *f = *state;
	walsync *w = NULL;
	assert_int_equal(walsync_create(&w, f->db, f->path), 0);
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(unlink(wal), 0);
	int fd = open(wal, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_false(fd_open_on(&st)); /* nobody holds the new file yet */
	walsync_upto(w, walsync_mark(w));
	assert_int_equal(walsync_count(w), 1);
	assert_true(fd_open_on(&st));  /* walsync followed the name */
	walsync_destroy(w, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_normal_while_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tickets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_share, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_wal_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_follows_a_new_wal, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
