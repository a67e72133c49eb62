/*
 * test_hub_rewind_bounds.c - a rewind reply moves the hub's stream
 * positions only to where a coordinator restored from an older copy can
 * be (SEMANTICS.md "Incarnations and resync", case 5): its event_applied
 * names events this hub sent (at most its event_seq), its cmd_base
 * commands this hub applied (at most its cmd_applied).
 *
 * A reply past them (a damaged or buggy coordinator's) set event_acked
 * beyond event_seq: the hub's next events took seqs at or below it and
 * were never sent - units received at the hub that the network never
 * heard of, with nothing logged after the rewind; or cmd_applied beyond
 * the commands it had, skipping orders for good.
 *
 * Goal, on the hub machine with a real hub.db: such a reply is not
 * applied (logged hub.rewind_invalid), the positions stay, and a receipt
 * after it is in the next sync request.
 */
#include "harness.h"

/* Packs rep and hands it to the hub as the answer to its last request. */
static void reply(hub *h, Dropnet__HubSyncReply *rep)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint8_t *req = NULL;
	size_t req_len = 0;
	assert_int_equal(hub_sync_build(h, &req, &req_len), 0);
	free(req);
	rep->version = DN_PROTO_VERSION;
	rep->status = DROPNET__STATUS__OK;
	assert_int_equal(codec_hub_sync_reply_pack(rep, &buf, &len), 0);
	hub_sync_on_reply(h, 0, buf, len);
	free(buf);
}

/* The events of the hub's next sync request. */
static size_t request_events(hub *h)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(hub_sync_build(h, &buf, &len), 0);
	Dropnet__HubSyncRequest *req = NULL;
	assert_int_equal(codec_hub_sync_request_unpack(buf, len, &req), 0);
	size_t n = req->n_events;
	codec_hub_sync_request_free(req);
	free(buf);
	return n;
}

static void test_rewind_past_the_stream(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	net n;
	net_up_named(&n, "rewind_bounds");
	/* First contact with coordinator 0x77; two receipts acked. */
	Dropnet__HubSyncReply first = DROPNET__HUB_SYNC_REPLY__INIT;
	first.incarnation = 0x77;
	reply(&n.h, &first);
	receive(&n, "tee", 5);
	receive(&n, "tee", 6);
	Dropnet__HubSyncReply ack = DROPNET__HUB_SYNC_REPLY__INIT;
	ack.incarnation = 0x77;
	ack.event_applied = 2;
	reply(&n.h, &ack);
	hub_stream sp;
	assert_int_equal(hub_store_stream_get(n.h.store, &sp), 0);
	assert_int_equal(sp.event_acked, 2);

	/* A rewind naming events the hub never sent. */
	Dropnet__HubSyncReply bad = DROPNET__HUB_SYNC_REPLY__INIT;
	bad.incarnation = 0x77;
	bad.rewind = true;
	bad.event_applied = 12;
	reply(&n.h, &bad);
	assert_int_equal(hub_store_stream_get(n.h.store, &sp), 0);
	assert_int_equal(sp.event_acked, 2);
	/* The next receipt goes out. */
	receive(&n, "tee", 7);
	assert_int_equal(request_events(&n.h), 1);
	/* A rewind naming commands it never applied. */
	bad.event_applied = 1;
	bad.cmd_base = 9;
	reply(&n.h, &bad);
	assert_int_equal(hub_store_stream_get(n.h.store, &sp), 0);
	assert_int_equal(sp.event_acked, 2);
	assert_int_equal(sp.cmd_applied, 0);

	/* A rewind within the stream is applied: event 2 goes out again. */
	bad.cmd_base = 0;
	reply(&n.h, &bad);
	assert_int_equal(hub_store_stream_get(n.h.store, &sp), 0);
	assert_int_equal(sp.event_acked, 1);
	assert_int_equal(request_events(&n.h), 2); /* events 2 and 3 */
	net_down(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rewind_past_the_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
