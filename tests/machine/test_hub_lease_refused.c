/*
 * test_hub_lease_refused.c - the claim lease (SEMANTICS.md "Hub health")
 * is renewed only by the coordinator this hub follows.
 *
 * A hub refuses to apply a reply from another coordinator store (a foreign
 * incarnation; hub.coordinator_foreign). It renewed its lease from that
 * reply all the same, before applying it: staff went on claiming new pick
 * work on a lease the network it belongs to never granted - while that
 * network, no longer hearing from the hub, routes its orders elsewhere.
 *
 * Goal, on the hub machine with a real hub.db: after its lease ran out, a
 * refused reply leaves it expired and a claim answers NO_LEASE; the next
 * reply from its own coordinator grants it again.
 */
#include "harness.h"

/* Packs rep (OK, lease_ms) and hands it to the hub as the answer to a
 * request built now. */
static void reply(hub *h, uint64_t incarnation, uint32_t lease_ms)
{
	uint8_t *req = NULL, *buf = NULL;
	size_t req_len = 0, len = 0;
	assert_int_equal(hub_sync_build(h, &req, &req_len), 0);
	free(req);
	Dropnet__HubSyncReply rep = DROPNET__HUB_SYNC_REPLY__INIT;
	rep.version = DN_PROTO_VERSION;
	rep.status = DROPNET__STATUS__OK;
	rep.incarnation = incarnation;
	rep.lease_ms = lease_ms;
	assert_int_equal(codec_hub_sync_reply_pack(&rep, &buf, &len), 0);
	hub_sync_on_reply(h, 0, buf, len);
	free(buf);
}

static void test_refused_reply_grants_no_lease(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	net n;
	net_up_named(&n, "lease_refused");
	n.h.now_mono_ms = 1000;
	reply(&n.h, 0x77, 5000); /* first contact: follows 0x77 */
	assert_true(hub_lease_valid(&n.h));
	n.h.now_mono_ms = 7000;
	assert_false(hub_lease_valid(&n.h));
	reply(&n.h, 0x88, 5000); /* another store: refused */
	assert_false(hub_lease_valid(&n.h));
	/* An order waits to be picked: a claim meets the fence. */
	const pick_line_in line = {"tee", 1, false};
	assert_int_equal(hub_store_begin(n.h.store), 0);
	assert_int_equal(hub_store_order_insert(n.h.store, 1, "k1", "c", n.wall, "", 0,
	    false, &line, 1), 0);
	assert_int_equal(hub_store_commit(n.h.store), 0);
	Dropnet__TermRequest q = DROPNET__TERM_REQUEST__INIT;
	q.kind = DROPNET__TERM_KIND__TERM_CLAIM;
	q.operator_ = "ana";
	Dropnet__TermReply *r = term(&n, &q);
	assert_int_equal(r->status, DROPNET__STATUS__NO_LEASE);
	codec_term_reply_free(r);
	reply(&n.h, 0x77, 5000); /* its own coordinator again */
	assert_true(hub_lease_valid(&n.h));
	net_down(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refused_reply_grants_no_lease),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
