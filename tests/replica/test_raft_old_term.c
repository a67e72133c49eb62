/*
 * test_raft_old_term.c - pins a safety defect of Debian's libraft 0.15 that
 * a partitioned or killed leader can reach (docs/replication.md, "libraft
 * behind one file").
 *
 * Raft commits an entry of an earlier term only through an entry of the
 * leader's own term (Ongaro's thesis 3.6.2, "Figure 8"): counting the
 * replicas that hold an old entry is not enough, because a candidate with
 * a later-term entry at the same index can still win an election and
 * overwrite it. libraft 0.15's replicationQuorum counts replicas at the
 * leader's last stored index whatever that entry's term; upstream fixed
 * it after 0.15 ("replication: Don't commit entries from old terms by
 * counting", canonical/raft 524f735, in 0.17.1). A new leader whose log
 * ends in another term's entries therefore commits and applies them as
 * soon as one follower stores them - before our shell's barrier (an entry
 * of the new term, proposed on the shell's next 250 ms tick) exists.
 *
 * The scenario, on the deterministic fixture with a plain FSM that records
 * what it applies (no coordinator: this is about the library):
 *   1. S1 leads (term 2), "a" is committed everywhere; S1 stores "x"
 *      alone (cut off) and dies.
 *   2. S2 leads (a later term, with S3's vote), stores "y" alone, dies.
 *   3. S1 returns and wins a later term still with S3's vote; it
 *      proposes nothing.
 *      libraft 0.15 then commits and applies S1's term-2 "x" once S3 holds
 *      it: asserted below (the defect). Raft forbids it: S2, whose log ends
 *      in a later term than "x", can still be elected by S3.
 *   4. S1 dies, S2 returns and wins a later term with S3's vote (its
 *      last entry's term beats S3's) - the election that makes step 3
 *      unsafe. S2 then sends "y" for the index S3 applied "x" at; 0.15
 *      does not overwrite an applied entry: S3 stops (RAFT_UNAVAILABLE),
 *      and S2 commits nothing more. S1, holding "x" applied too, would do
 *      the same: the group is stuck until an operator rebuilds replicas
 *      (asserted: S3 unavailable, S2's commit index below that index).
 *      With the defect fixed, step 3 commits nothing, S2's "y" replaces
 *      "x" (never applied anywhere) and the group goes on.
 *
 * In a dropnet group the window is a new leader's first ~250 ms: the
 * shell proposes its barrier on its next tick, and only from then on does
 * the new leader's log end in its own term. Step 1's "x" is an entry the
 * cut-off leader proposed alone (a tick, a batch whose clients got
 * UNAVAILABLE at the step-down): no client was ever acked for it, but the
 * replicas that apply it can no longer follow a leader without it.
 *
 * When this test fails at step 3 the library in use commits old-term
 * entries correctly: remove the warning from docs/replication.md.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#define N 3
#define APPLIED_MAX 16
#define WAIT_MS 20000

typedef struct {
	char applied[APPLIED_MAX];   /* the first byte of each command applied */
	unsigned n;
} rec_fsm;

static int rec_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	rec_fsm *r = fsm->data;
	*result = NULL;
	if (r->n < APPLIED_MAX && buf->len > 0) {
		r->applied[r->n++] = ((const char *)buf->base)[0];
	}
	return 0;
}

static int rec_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	(void)fsm;
	(void)bufs;
	(void)n;
	return RAFT_NOMEM;   /* never asked: the threshold is far out */
}

static int rec_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	(void)fsm;
	(void)buf;
	return RAFT_NOMEM;
}

static struct raft_fixture F;
static struct raft_fsm FSM[N];
static rec_fsm REC[N];

static void propose(unsigned i, char c)
{
	static struct raft_apply reqs[8];
	static unsigned nreq;
	assert_true(nreq < 8);
	struct raft_buffer b = {.base = raft_malloc(8), .len = 8};
	assert_non_null(b.base);
	memset(b.base, 0, 8);
	((char *)b.base)[0] = c;
	assert_int_equal(raft_apply(raft_fixture_get(&F, i), &reqs[nreq++], &b, 1, NULL), 0);
}

static void cut(unsigned i)
{
	for (unsigned j = 0; j < N; j++) {
		if (j != i) {
			raft_fixture_disconnect(&F, i, j);
			raft_fixture_disconnect(&F, j, i);
		}
	}
}

static void join(unsigned i)
{
	for (unsigned j = 0; j < N; j++) {
		if (j != i) {
			raft_fixture_reconnect(&F, i, j);
			raft_fixture_reconnect(&F, j, i);
		}
	}
}

static bool not_leader(struct raft_fixture *f, void *arg)
{
	return raft_state(raft_fixture_get(f, *(unsigned *)arg)) != RAFT_LEADER;
}

/* Cuts leader i off until it has stepped down (libraft's contact check),
 * then kills it: its log keeps what it stored alone. */
static void step_down_and_kill(unsigned i)
{
	assert_true(raft_fixture_step_until(&F, not_leader, &i, WAIT_MS));
	raft_fixture_kill(&F, i);
	join(i);
}

static bool stored_last(struct raft_fixture *f, void *arg)
{
	unsigned i = *(unsigned *)arg;
	struct raft *r = raft_fixture_get(f, i);
	return r->last_stored == raft_last_index(r);
}

/* Leaves server i the leader, the others' timers far out. Its first
 * campaign may lose to a voter with a higher term; the next one wins. */
static void elect(unsigned i)
{
	raft_fixture_elect(&F, i);
	assert_true(raft_fixture_step_until_state_is(&F, i, RAFT_LEADER, WAIT_MS));
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(raft_fixture_initialize(&F), 0);
	for (unsigned i = 0; i < N; i++) {
		memset(&FSM[i], 0, sizeof(FSM[i]));
		FSM[i].version = 1;
		FSM[i].data = &REC[i];
		FSM[i].apply = rec_apply;
		FSM[i].snapshot = rec_snapshot;
		FSM[i].restore = rec_restore;
		assert_int_equal(raft_fixture_grow(&F, &FSM[i]), 0);
		raft_set_snapshot_threshold(raft_fixture_get(&F, i), 1000);
	}
	struct raft_configuration conf;
	assert_int_equal(raft_fixture_configuration(&F, N, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&F, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&F), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	raft_fixture_close(&F);
	return 0;
}

/* Goal: the defect and the election that makes it unsafe, as described in
 * the file's header. */
static void test_old_term_committed_by_counting(void **state)
{
	(void)state;
	/* 1. S1 (index 0) leads; "a" everywhere; "x" on S1 alone; S1 dies. */
	elect(0);
	propose(0, 'a');
	for (unsigned i = 0; i < N; i++) {
		assert_true(raft_fixture_step_until_applied(&F, i, 2, WAIT_MS));
	}
	cut(0);
	propose(0, 'x');
	unsigned s = 0;
	assert_true(raft_fixture_step_until(&F, stored_last, &s, WAIT_MS));
	step_down_and_kill(0);
	raft_term term_x = raft_fixture_get(&F, 0)->current_term;
	raft_index idx_x = raft_last_index(raft_fixture_get(&F, 0));
	assert_int_equal(idx_x, 3);

	/* 2. S2 leads (term 3), stores "y" alone, dies. */
	raft_fixture_step_until_has_no_leader(&F, WAIT_MS);
	elect(1);
	assert_true(raft_fixture_get(&F, 1)->current_term > term_x);
	cut(1);
	propose(1, 'y');
	s = 1;
	assert_true(raft_fixture_step_until(&F, stored_last, &s, WAIT_MS));
	assert_int_equal(raft_last_index(raft_fixture_get(&F, 1)), idx_x);
	step_down_and_kill(1);

	/* 3. S1 back; it wins with S3's vote and proposes nothing. */
	raft_fixture_revive(&F, 0);
	raft_fixture_step_until_has_no_leader(&F, WAIT_MS);
	elect(0);
	struct raft *s1 = raft_fixture_get(&F, 0);
	assert_true(s1->current_term > raft_fixture_get(&F, 1)->current_term);
	assert_int_equal(raft_last_index(s1), idx_x);   /* no entry of its term yet */
	/* The defect: "x" (term 2) is committed and applied on S1 and S3 with
	 * no entry of S1's term in any log. */
	assert_true(raft_fixture_step_until_applied(&F, 0, idx_x, WAIT_MS));
	assert_true(raft_fixture_step_until_applied(&F, 2, idx_x, WAIT_MS));
	assert_int_equal(raft_last_index(s1), idx_x);
	assert_int_equal(REC[0].n, 2);
	assert_int_equal(REC[0].applied[1], 'x');
	assert_int_equal(REC[2].applied[1], 'x');

	/* 4. S1 dies; S2 returns and S3 elects it: its log ends in term 3,
	 * later than S3's term 2, so Raft's vote rule lets it win, and its
	 * "y" sits at the index S1 and S3 applied "x" at. */
	raft_fixture_kill(&F, 0);
	raft_fixture_revive(&F, 1);
	/* Ordinary timers again (elect pushed them far out): S3 gives up on
	 * its dead leader first (0.15 refuses votes while it knows one), then
	 * S2 campaigns. */
	struct raft *s3 = raft_fixture_get(&F, 2);
	raft_fixture_set_randomized_election_timeout(&F, 2, 1000);
	raft_fixture_set_randomized_election_timeout(&F, 1, 1500);
	s3->follower_state.randomized_election_timeout = 1000;
	raft_fixture_get(&F, 1)->follower_state.randomized_election_timeout = 1500;
	assert_true(raft_fixture_step_until_state_is(&F, 1, RAFT_LEADER, WAIT_MS));
	struct raft *s2 = raft_fixture_get(&F, 1);
	assert_int_equal(raft_last_index(s2), idx_x);
	/* S2 sends "y" for that index; S3, which applied "x" there, stops
	 * (RAFT_UNAVAILABLE), and S2 can commit nothing more: the group is
	 * stuck (S1, which applied "x" too, would do the same). */
	raft_fixture_step_until_elapsed(&F, 3000);
	assert_int_equal(raft_state(s3), RAFT_UNAVAILABLE);
	assert_true(s2->commit_index < idx_x);
	assert_int_equal(REC[1].n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_old_term_committed_by_counting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
