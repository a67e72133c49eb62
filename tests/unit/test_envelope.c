/*
 * test_envelope.c - the ingest envelope's wire reader and writer
 * (common/io/envelope.c) against protobuf-c's own encoding of the same
 * messages: what protobuf-c packs, envelope_read/items find; what
 * envelope_write frames, protobuf-c unpacks. Bad wire is refused, bounds
 * hold, and a bare SubmitOrder reads as an envelope with no kind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/err.h"
#include "core/limits.h"
#include "io/codec.h"
#include "io/envelope.h"

static Dropnet__OrderLine line = DROPNET__ORDER_LINE__INIT;
static Dropnet__OrderLine *linep = &line;

static void order_init(Dropnet__SubmitOrder *o, const char *key)
{
	Dropnet__SubmitOrder init = DROPNET__SUBMIT_ORDER__INIT;
	*o = init;
	line.sku = "tee";
	line.qty = 2;
	o->version = DN_PROTO_VERSION;
	o->storefront = "shop";
	o->order_key = (char *)key;
	o->customer = "c1";
	o->n_lines = 1;
	o->lines = &linep;
	o->lat = 51.5;
	o->lon = -0.12;
	o->hold_seconds = 30;
	o->action = DROPNET__ORDER_ACTION__ACTION_SUBMIT;
}

/* Goal: every field of a bare SubmitOrder is below 16, so it reads as an
 * envelope with no kind and its own version. */
static void test_bare_order_has_no_kind(void **state)
{
	(void)state;
	Dropnet__SubmitOrder o;
	order_init(&o, "k1");
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_submit_order_pack(&o, &buf, &len), 0);
	envelope e;
	assert_int_equal(envelope_read(buf, len, &e), 0);
	assert_int_equal(e.kind, ENVELOPE_NONE);
	assert_int_equal(e.version, 1);
	free(buf);
}

/* Goal: protobuf-c's IngestRequest{batch} reads as its orders' own bytes,
 * each a SubmitOrder that unpacks with its key. */
static void test_batch_read_matches_protobuf(void **state)
{
	(void)state;
	Dropnet__SubmitOrder o[3];
	Dropnet__SubmitOrder *op[3];
	const char *keys[3] = {"a", "bb", "ccc"};
	for (int i = 0; i < 3; i++) {
		order_init(&o[i], keys[i]);
		op[i] = &o[i];
	}
	Dropnet__SubmitBatch b = DROPNET__SUBMIT_BATCH__INIT;
	b.n_orders = 3;
	b.orders = op;
	Dropnet__IngestRequest q = DROPNET__INGEST_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.kind_case = DROPNET__INGEST_REQUEST__KIND_BATCH;
	q.batch = &b;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_ingest_request_pack(&q, &buf, &len), 0);
	envelope e;
	assert_int_equal(envelope_read(buf, len, &e), 0);
	assert_int_equal(e.kind, ENVELOPE_BATCH);
	assert_int_equal(e.version, 1);
	envelope_slice items[4];
	size_t n = 0;
	assert_int_equal(envelope_items(e.body.buf, e.body.len, 1, items, 4, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		Dropnet__SubmitOrder *m = NULL;
		assert_int_equal(codec_submit_order_unpack(items[i].buf, items[i].len, &m), 0);
		assert_string_equal(m->order_key, keys[i]);
		assert_int_equal(m->lines[0]->qty, 2);
		codec_submit_order_free(m);
	}
	/* One fewer slot than items: refused with max + 1. */
	assert_int_equal(envelope_items(e.body.buf, e.body.len, 1, items, 2, &n), DN_ERANGE);
	assert_int_equal(n, 3);
	free(buf);
}

/* Goal: envelope_write's batch and single framings unpack with protobuf-c
 * as IngestReply.batch / .ack, acks in order. */
static void test_write_unpacks_as_reply(void **state)
{
	(void)state;
	uint8_t *ab[2] = {NULL, NULL};
	size_t al[2] = {0, 0};
	Dropnet__Status st[2] = {DROPNET__STATUS__ACCEPTED, DROPNET__STATUS__SOLD_OUT};
	envelope_slice items[2];
	for (int i = 0; i < 2; i++) {
		Dropnet__OrderAck a = DROPNET__ORDER_ACK__INIT;
		a.version = DN_PROTO_VERSION;
		a.status = st[i];
		a.order_key = i == 0 ? "x" : "y";
		assert_int_equal(codec_order_ack_pack(&a, &ab[i], &al[i]), 0);
		items[i] = (envelope_slice){ab[i], al[i]};
	}
	uint8_t *out = NULL;
	size_t olen = 0;
	assert_int_equal(envelope_write(ENVELOPE_BATCH, items, 2, &out, &olen), 0);
	Dropnet__IngestReply *r = NULL;
	assert_int_equal(codec_ingest_reply_unpack(out, olen, &r), 0);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_BATCH);
	assert_int_equal(r->batch->n_acks, 2);
	assert_int_equal(r->batch->acks[0]->status, DROPNET__STATUS__ACCEPTED);
	assert_string_equal(r->batch->acks[1]->order_key, "y");
	codec_ingest_reply_free(r);
	free(out);
	assert_int_equal(envelope_write(ENVELOPE_ONE, items + 1, 1, &out, &olen), 0);
	assert_int_equal(codec_ingest_reply_unpack(out, olen, &r), 0);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(r->ack->status, DROPNET__STATUS__SOLD_OUT);
	codec_ingest_reply_free(r);
	/* And what we write, we read back. */
	envelope e;
	assert_int_equal(envelope_read(out, olen, &e), 0);
	assert_int_equal(e.kind, ENVELOPE_ONE);
	assert_int_equal(e.body.len, al[1]);
	assert_memory_equal(e.body.buf, ab[1], al[1]);
	free(out);
	free(ab[0]);
	free(ab[1]);
}

/* Goal: bad wire never reads past the end and is refused: a truncated
 * varint, a length beyond the bytes, a group, two kind fields, a kind that
 * is not bytes. */
static void test_bad_wire_refused(void **state)
{
	(void)state;
	const uint8_t trunc[] = {0x08, 0x81};
	const uint8_t overlong[] = {0x82, 0x01, 0x05, 0x01};
	const uint8_t group[] = {0x0b};
	const uint8_t twice[] = {0x82, 0x01, 0x00, 0x8a, 0x01, 0x00};
	const uint8_t notbytes[] = {0x80, 0x01, 0x01};
	const uint8_t zero_field[] = {0x02, 0x00};
	envelope e;
	assert_int_equal(envelope_read(trunc, sizeof(trunc), &e), DN_EPROTO);
	assert_int_equal(envelope_read(overlong, sizeof(overlong), &e), DN_EPROTO);
	assert_int_equal(envelope_read(group, sizeof(group), &e), DN_EPROTO);
	assert_int_equal(envelope_read(twice, sizeof(twice), &e), DN_EPROTO);
	assert_int_equal(envelope_read(notbytes, sizeof(notbytes), &e), DN_EPROTO);
	assert_int_equal(envelope_read(zero_field, sizeof(zero_field), &e), DN_EPROTO);
	/* Empty bytes: an envelope of nothing (the order path says MALFORMED). */
	assert_int_equal(envelope_read(NULL, 0, &e), 0);
	assert_int_equal(e.kind, ENVELOPE_NONE);
	envelope_slice it[2];
	size_t n = 0;
	const uint8_t item_varint[] = {0x08, 0x01};
	assert_int_equal(envelope_items(item_varint, sizeof(item_varint), 1, it, 2, &n),
	    DN_EPROTO);
	assert_int_equal(envelope_items(overlong, sizeof(overlong), 16, it, 2, &n),
	    DN_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_order_has_no_kind),
		cmocka_unit_test(test_batch_read_matches_protobuf),
		cmocka_unit_test(test_write_unpacks_as_reply),
		cmocka_unit_test(test_bad_wire_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
