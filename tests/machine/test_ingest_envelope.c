/*
 * test_ingest_envelope.c - the ingest socket's envelope on the real
 * coordinator machine (coord_ingest_request over a real SQLite file):
 * a bare SubmitOrder still gets a bare OrderAck (storefronts written before
 * the envelope work unchanged); an envelope's order gets IngestReply.ack; a
 * batch gets one ack per order, in order, each with its own key and its own
 * exactly-once retry; a bad batch is refused as a whole with a clear status
 * and journals nothing; orders of several batches past one call's bound
 * are all answered.
 */
#include "harness.h"
#include "core/limits.h"
#include "io/envelope.h"

static uint8_t *pack_order(const char *key, uint32_t qty, size_t *len)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lp = &l;
	l.sku = "tee";
	l.qty = qty;
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	o.version = DN_PROTO_VERSION;
	o.order_key = (char *)key;
	o.customer = "c1";
	o.n_lines = 1;
	o.lines = &lp;
	o.lat = MT_LAT;
	o.lon = MT_LON;
	uint8_t *buf = NULL;
	assert_int_equal(codec_submit_order_pack(&o, &buf, len), 0);
	return buf;
}

/* Sends one request's bytes through coord_ingest_request; returns the reply
 * bytes (malloc'd) in *out. */
static size_t send_raw(mt *m, const uint8_t *buf, size_t len, uint8_t **out)
{
	mreq r, *rp = &r;
	mreq_init(&r, buf, len);
	coord_ingest_request(m->c, &rp, 1);
	assert_true(r.replied);
	size_t n = r.reply_len;
	*out = malloc(n + 1);
	assert_non_null(*out);
	memcpy(*out, r.reply, n);
	mreq_fini(&r);
	return n;
}

/* A batch of n orders keyed prefix-0.. (qty 1, or 0 for the one at bad). */
static uint8_t *pack_batch(const char *prefix, size_t n, size_t bad, size_t *len)
{
	envelope_slice *it = calloc(n + 1, sizeof(*it));
	uint8_t **bufs = calloc(n + 1, sizeof(*bufs));
	assert_non_null(it);
	assert_non_null(bufs);
	for (size_t i = 0; i < n; i++) {
		char key[64];
		snprintf(key, sizeof(key), "%s-%zu", prefix, i);
		bufs[i] = pack_order(key, i == bad ? 0 : 1, &it[i].len);
		it[i].buf = bufs[i];
	}
	uint8_t *out = NULL;
	assert_int_equal(envelope_write(ENVELOPE_BATCH, it, n, &out, len), 0);
	for (size_t i = 0; i < n; i++) {
		free(bufs[i]);
	}
	free(bufs);
	free(it);
	return out;
}

static Dropnet__IngestReply *reply_of(const uint8_t *buf, size_t len)
{
	Dropnet__IngestReply *r = NULL;
	assert_int_equal(codec_ingest_reply_unpack(buf, len, &r), 0);
	return r;
}

/* Goal: a bare SubmitOrder is answered a bare OrderAck, as before. */
static void test_bare_order_bare_ack(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 10);
	size_t len = 0;
	uint8_t *req = pack_order("bare-1", 1, &len), *rep = NULL;
	size_t rlen = send_raw(&m, req, len, &rep);
	Dropnet__OrderAck *a = NULL;
	assert_int_equal(codec_order_ack_unpack(rep, rlen, &a), 0);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	assert_string_equal(a->order_key, "bare-1");
	codec_order_ack_free(a);
	/* Not an envelope: no kind in it. */
	envelope e;
	assert_int_equal(envelope_read(rep, rlen, &e), 0);
	assert_int_equal(e.kind, ENVELOPE_NONE);
	free(rep);
	/* Garbage is MALFORMED, bare, as before. */
	const uint8_t junk[] = {0xff, 0xff, 0xff};
	rlen = send_raw(&m, junk, sizeof(junk), &rep);
	assert_int_equal(codec_order_ack_unpack(rep, rlen, &a), 0);
	assert_int_equal(a->status, DROPNET__STATUS__MALFORMED);
	codec_order_ack_free(a);
	free(rep);
	free(req);
	mt_close(&m);
}

/* Goal: IngestRequest.order is answered IngestReply.ack; a retry of it is
 * the journalled first answer. */
static void test_envelope_order(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 10);
	size_t olen = 0, len = 0;
	uint8_t *o = pack_order("one-1", 1, &olen), *req = NULL, *rep = NULL;
	envelope_slice s = {o, olen};
	assert_int_equal(envelope_write(ENVELOPE_ONE, &s, 1, &req, &len), 0);
	for (int pass = 0; pass < 2; pass++) {
		size_t rlen = send_raw(&m, req, len, &rep);
		Dropnet__IngestReply *r = reply_of(rep, rlen);
		assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
		assert_int_equal(r->ack->status, DROPNET__STATUS__ACCEPTED);
		assert_int_equal(r->ack->duplicate, pass == 1);
		codec_ingest_reply_free(r);
		free(rep);
	}
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 1);
	free(req);
	free(o);
	mt_close(&m);
}

/* Goal: a batch's orders are answered one ack each, in order, each on its
 * own merits (a bad one INVALID, the rest ACCEPTED); the same batch again
 * is every first answer with duplicate set and nothing new reserved. */
static void test_batch_acks_and_retry(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 100);
	size_t len = 0;
	uint8_t *req = pack_batch("b", 5, 2, &len), *rep = NULL;
	uint64_t ids[5] = {0};
	for (int pass = 0; pass < 2; pass++) {
		size_t rlen = send_raw(&m, req, len, &rep);
		Dropnet__IngestReply *r = reply_of(rep, rlen);
		assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_BATCH);
		assert_int_equal(r->batch->n_acks, 5);
		for (size_t i = 0; i < 5; i++) {
			Dropnet__OrderAck *a = r->batch->acks[i];
			if (i == 2) {
				assert_int_equal(a->status, DROPNET__STATUS__INVALID);
				continue;
			}
			char key[16];
			snprintf(key, sizeof(key), "b-%zu", i);
			assert_string_equal(a->order_key, key);
			assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
			assert_int_equal(a->duplicate, pass == 1);
			if (pass == 0) {
				ids[i] = a->order_id;
			}
			assert_int_equal(a->order_id, ids[i]);
		}
		codec_ingest_reply_free(r);
		free(rep);
	}
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 4);
	free(req);
	mt_close(&m);
}

/* Goal: a batch over DN_INGEST_BATCH_MAX, an empty one, and an envelope of
 * an unknown version are refused whole with a clear status; nothing is
 * journalled. */
static void test_bad_batches_refused(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 1000);
	size_t len = 0, rlen;
	uint8_t *req = pack_batch("big", DN_INGEST_BATCH_MAX + 1, SIZE_MAX, &len), *rep = NULL;
	rlen = send_raw(&m, req, len, &rep);
	Dropnet__IngestReply *r = reply_of(rep, rlen);
	assert_int_equal(r->kind_case, DROPNET__INGEST_REPLY__KIND_ACK);
	assert_int_equal(r->ack->status, DROPNET__STATUS__INVALID);
	assert_string_equal(r->ack->field, "batch");
	codec_ingest_reply_free(r);
	free(rep);
	free(req);
	assert_int_equal(envelope_write(ENVELOPE_BATCH, NULL, 0, &req, &len), 0);
	rlen = send_raw(&m, req, len, &rep);
	r = reply_of(rep, rlen);
	assert_int_equal(r->ack->status, DROPNET__STATUS__INVALID);
	codec_ingest_reply_free(r);
	free(rep);
	free(req);
	/* version 2 in the envelope (0x08 0x02), a batch of nothing. */
	const uint8_t v2[] = {0x08, 0x02, 0x8a, 0x01, 0x00};
	rlen = send_raw(&m, v2, sizeof(v2), &rep);
	r = reply_of(rep, rlen);
	assert_int_equal(r->ack->status, DROPNET__STATUS__UNSUPPORTED_VERSION);
	codec_ingest_reply_free(r);
	free(rep);
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 0);
	mt_close(&m);
}

/* Goal: two full batches and a bare order in one wake-up (more orders than
 * one machine call takes) are all answered, each batch whole. */
static void test_many_batches_one_wakeup(void **state)
{
	(void)state;
	mt m;
	mt_open(&m);
	mt_hub_sync(&m, "tee", 1000);
	size_t l1 = 0, l2 = 0, l3 = 0;
	uint8_t *b1 = pack_batch("x", 200, SIZE_MAX, &l1);
	uint8_t *b2 = pack_batch("y", 200, SIZE_MAX, &l2);
	uint8_t *b3 = pack_order("z", 1, &l3);
	mreq r[3], *rp[3] = {&r[0], &r[1], &r[2]};
	mreq_init(&r[0], b1, l1);
	mreq_init(&r[1], b3, l3);
	mreq_init(&r[2], b2, l2);
	coord_ingest_request(m.c, rp, 3);
	for (int i = 0; i < 3; i += 2) {
		Dropnet__IngestReply *q = reply_of(r[i].reply, r[i].reply_len);
		assert_int_equal(q->batch->n_acks, 200);
		for (size_t k = 0; k < 200; k++) {
			assert_int_equal(q->batch->acks[k]->status, DROPNET__STATUS__ACCEPTED);
		}
		codec_ingest_reply_free(q);
	}
	Dropnet__OrderAck *a = NULL;
	assert_int_equal(codec_order_ack_unpack(r[1].reply, r[1].reply_len, &a), 0);
	assert_int_equal(a->status, DROPNET__STATUS__ACCEPTED);
	codec_order_ack_free(a);
	for (int i = 0; i < 3; i++) {
		mreq_fini(&r[i]);
	}
	assert_int_equal(mt_sql_int(&m, "SELECT COUNT(*) FROM orders", NULL), 401);
	free(b1);
	free(b2);
	free(b3);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_order_bare_ack),
		cmocka_unit_test(test_envelope_order),
		cmocka_unit_test(test_batch_acks_and_retry),
		cmocka_unit_test(test_bad_batches_refused),
		cmocka_unit_test(test_many_batches_one_wakeup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
