/*
 * test_term_uid.c - the terminal's OS user is recorded next to the
 * operator's name (issue 9): a terminal write's HubEvent carries the uid
 * the shell read off the ipc:// socket (mreq.peer_uid), and no uid when
 * the shell could not tell; a request without one after a request with one
 * does not inherit it. The real hub machine on its real SQLite store.
 */
#include "harness.h"

/* Sends a TERM_RECEIVE as OS user uid (-1: unknown); asserts OK. */
static void receive_as(net *n, const char *sku, int64_t qty, const char *op, int64_t uid)
{
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_RECEIVE;
	q.sku = (char *)sku;
	q.qty = qty;
	q.operator_ = (char *)op;
	Dropnet__TermReply *rep = term_as(n, &q, uid);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	codec_term_reply_free(rep);
}

typedef struct {
	size_t n;
	char op[3][32];
	bool known[3];
	uint32_t uid[3];
} seen_events;

static int on_event(void *arg, uint64_t seq, const uint8_t *buf, size_t len)
{
	seen_events *s = arg;
	(void)seq;
	Dropnet__HubEvent *ev = dropnet__hub_event__unpack(NULL, len, buf);
	assert_non_null(ev);
	assert_true(s->n < 3);
	snprintf(s->op[s->n], sizeof(s->op[0]), "%s", ev->operator_);
	s->known[s->n] = ev->term_uid_known;
	s->uid[s->n] = ev->term_uid;
	s->n++;
	dropnet__hub_event__free_unpacked(ev, NULL);
	return 0;
}

static void test_event_records_terminal_uid(void **state)
{
	(void)state;
	net n;
	net_up_named(&n, "termuid");
	receive_as(&n, "tee", 5, "alice", 1000);
	receive_as(&n, "tee", 3, "bob", -1);
	receive_as(&n, "tee", 2, "root-at-desk", 0);

	seen_events s = { 0 };
	assert_int_equal(hub_store_events_list(n.h.store, 0, 16, on_event, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.op[0], "alice");
	assert_true(s.known[0]);
	assert_int_equal(s.uid[0], 1000);
	/* No uid known: none recorded, and none carried over from alice's. */
	assert_string_equal(s.op[1], "bob");
	assert_false(s.known[1]);
	assert_int_equal(s.uid[1], 0);
	/* uid 0 (root) is a uid, not "unknown". */
	assert_true(s.known[2]);
	assert_int_equal(s.uid[2], 0);
	assert_int_equal(hub_on_hand(&n, "tee"), 10);
	net_down(&n);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_records_terminal_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
