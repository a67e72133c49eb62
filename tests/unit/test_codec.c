/*
 * test_codec.c - unit tests for common/io/codec.c: round trips of the
 * ingest messages, refusal of garbage, truncated and oversized input with
 * DN_EPROTO, a wrong version as DN_ERANGE with the message still returned,
 * the version-free inner messages, status names, and the unpack budgets
 * (a bomb of empty sub-messages refused, the largest valid sync batch
 * accepted, the process-wide live budget enforced and given back).
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

/* A two-line order with every field set. Strings point at literals. */
static Dropnet__SubmitOrder g_so;
static Dropnet__OrderLine g_l0, g_l1;
static Dropnet__OrderLine *g_lines[2];

static Dropnet__SubmitOrder *sample_order(void)
{
	g_so = (Dropnet__SubmitOrder)DROPNET__SUBMIT_ORDER__INIT;
	g_l0 = (Dropnet__OrderLine)DROPNET__ORDER_LINE__INIT;
	g_l1 = (Dropnet__OrderLine)DROPNET__ORDER_LINE__INIT;
	g_l0.sku = "tee-black-m";
	g_l0.qty = 2;
	g_l1.sku = "cap";
	g_l1.qty = 10000;
	g_lines[0] = &g_l0;
	g_lines[1] = &g_l1;
	g_so.version = DN_PROTO_VERSION;
	g_so.storefront = "shopA";
	g_so.order_key = "order-0001";
	g_so.customer = "cust-77";
	g_so.n_lines = 2;
	g_so.lines = g_lines;
	g_so.lat = 51.5074;
	g_so.lon = -0.1278;
	g_so.tier = "insider";
	g_so.drop_id = "drop-9";
	return &g_so;
}

static void pack_order(const Dropnet__SubmitOrder *m, uint8_t **buf,
    size_t *len)
{
	assert_int_equal(codec_submit_order_pack(m, buf, len), 0);
	assert_non_null(*buf);
	assert_true(*len > 0);
}

/* Goal: every SubmitOrder field survives pack then unpack. */
static void test_codec_submit_order_round_trip(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len = 0;
	Dropnet__SubmitOrder *m = NULL;
	pack_order(sample_order(), &buf, &len);
	assert_int_equal(codec_submit_order_unpack(buf, len, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->version, DN_PROTO_VERSION);
	assert_string_equal(m->storefront, "shopA");
	assert_string_equal(m->order_key, "order-0001");
	assert_string_equal(m->customer, "cust-77");
	assert_int_equal(m->n_lines, 2);
	assert_string_equal(m->lines[0]->sku, "tee-black-m");
	assert_int_equal(m->lines[0]->qty, 2);
	assert_string_equal(m->lines[1]->sku, "cap");
	assert_int_equal(m->lines[1]->qty, 10000);
	assert_true(m->lat == 51.5074);
	assert_true(m->lon == -0.1278);
	assert_string_equal(m->tier, "insider");
	assert_string_equal(m->drop_id, "drop-9");
	codec_submit_order_free(m);
	free(buf);
}

/* Goal: every OrderAck field, including repeated placements and a 64-bit
 * order id, survives pack then unpack. */
static void test_codec_order_ack_round_trip(void **state)
{
	(void)state;
	Dropnet__OrderAck a = DROPNET__ORDER_ACK__INIT;
	Dropnet__Placement p0 = DROPNET__PLACEMENT__INIT;
	Dropnet__Placement p1 = DROPNET__PLACEMENT__INIT;
	Dropnet__Placement *ps[2] = { &p0, &p1 };
	p0.hub = "leeds";
	p0.sku = "tee";
	p0.qty = 3;
	p1.hub = "york";
	p1.sku = "tee";
	p1.qty = 1;
	a.version = DN_PROTO_VERSION;
	a.status = DROPNET__STATUS__ACCEPTED;
	a.order_key = "order-0001";
	a.hub = "leeds";
	a.message = "placed";
	a.duplicate = 1;
	a.order_id = UINT64_C(1) << 40;
	a.n_placements = 2;
	a.placements = ps;

	uint8_t *buf = NULL;
	size_t len = 0;
	Dropnet__OrderAck *m = NULL;
	assert_int_equal(codec_order_ack_pack(&a, &buf, &len), 0);
	assert_int_equal(codec_order_ack_unpack(buf, len, &m), 0);
	assert_non_null(m);
	assert_int_equal(m->status, DROPNET__STATUS__ACCEPTED);
	assert_string_equal(m->order_key, "order-0001");
	assert_string_equal(m->hub, "leeds");
	assert_string_equal(m->field, "");
	assert_string_equal(m->message, "placed");
	assert_true(m->duplicate);
	assert_true(m->order_id == (UINT64_C(1) << 40));
	assert_int_equal(m->n_placements, 2);
	assert_string_equal(m->placements[1]->hub, "york");
	assert_string_equal(m->placements[1]->sku, "tee");
	assert_int_equal(m->placements[1]->qty, 1);
	codec_order_ack_free(m);
	free(buf);
}

/* Goal: bytes that are not a protobuf message are DN_EPROTO with *out
 * NULL: an over-long varint, an invalid wire type, a length running past
 * the end. */
static void test_codec_garbage(void **state)
{
	(void)state;
	static const uint8_t long_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t bad_wire[] = { 0x0f, 0x01, 0x02 };
	static const uint8_t past_end[] = { 0x08, 0x01, 0x12, 0x7f, 'a' };
	static const uint8_t text[] = "GET / HTTP/1.1\r\n\r\n";
	const uint8_t *cases[] = { long_varint, bad_wire, past_end, text };
	size_t lens[] = { sizeof(long_varint), sizeof(bad_wire),
		sizeof(past_end), sizeof(text) - 1 };

	for (size_t i = 0; i < 4; i++) {
		Dropnet__SubmitOrder *m = (Dropnet__SubmitOrder *)&g_so;
		Dropnet__OrderAck *a = (Dropnet__OrderAck *)&g_so;
		assert_int_equal(codec_submit_order_unpack(cases[i], lens[i], &m),
		    DN_EPROTO);
		assert_null(m);
		assert_int_equal(codec_order_ack_unpack(cases[i], lens[i], &a),
		    DN_EPROTO);
		assert_null(a);
	}
	/* NULL bytes with a length are refused without being read. */
	Dropnet__SubmitOrder *m = NULL;
	assert_int_equal(codec_submit_order_unpack(NULL, 10, &m), DN_EPROTO);
	assert_null(m);
}

/* Goal: a message cut inside a length-delimited field (the storefront
 * string) or inside a varint is DN_EPROTO. Cutting exactly between fields
 * is NOT detectable by protobuf (it decodes as a shorter message): that is
 * shown too, so nobody relies on truncation being caught in general. */
static void test_codec_truncated(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len = 0;
	Dropnet__SubmitOrder *m = NULL;
	pack_order(sample_order(), &buf, &len);

	/* Bytes: 08 01 | 12 05 's' 'h' 'o' 'p' 'A' | 1a ... */
	assert_int_equal(buf[0], 0x08);
	assert_int_equal(buf[2], 0x12);
	assert_int_equal(buf[3], 5);
	assert_memory_equal(buf + 4, "shopA", 5);
	assert_int_equal(codec_submit_order_unpack(buf, 6, &m), DN_EPROTO);
	assert_null(m);
	/* Just the length byte, no string. */
	assert_int_equal(codec_submit_order_unpack(buf, 4, &m), DN_EPROTO);
	assert_null(m);
	/* The tag of version without its value. */
	assert_int_equal(codec_submit_order_unpack(buf, 1, &m), DN_EPROTO);
	assert_null(m);
	/* One byte short of the whole: inside the last string (drop_id). */
	assert_int_equal(codec_submit_order_unpack(buf, len - 1, &m),
	    DN_EPROTO);
	assert_null(m);

	/* At a field boundary the prefix is a valid, shorter message. */
	assert_int_equal(codec_submit_order_unpack(buf, 9, &m), 0);
	assert_non_null(m);
	assert_string_equal(m->storefront, "shopA");
	assert_string_equal(m->order_key, "");
	codec_submit_order_free(m);
	free(buf);
}

/* Goal: a version this build does not speak is DN_ERANGE, and the decoded
 * message is still returned so the reply can echo its order_key; a missing
 * version (0, also what empty input decodes to) is refused the same way. */
static void test_codec_wrong_version(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len = 0;
	Dropnet__SubmitOrder *m = NULL;
	Dropnet__SubmitOrder *so = sample_order();

	so->version = DN_PROTO_VERSION + 1;
	pack_order(so, &buf, &len);
	assert_int_equal(codec_submit_order_unpack(buf, len, &m), DN_ERANGE);
	assert_non_null(m);
	assert_int_equal(m->version, DN_PROTO_VERSION + 1);
	assert_string_equal(m->order_key, "order-0001");
	codec_submit_order_free(m);
	free(buf);

	so->version = 0;
	pack_order(so, &buf, &len);
	assert_int_equal(codec_submit_order_unpack(buf, len, &m), DN_ERANGE);
	assert_non_null(m);
	codec_submit_order_free(m);
	free(buf);

	Dropnet__OrderAck *a = NULL;
	static const uint8_t empty[1] = { 0 };
	assert_int_equal(codec_order_ack_unpack(empty, 0, &a), DN_ERANGE);
	assert_non_null(a);
	assert_int_equal(a->version, 0);
	codec_order_ack_free(a);
}

/* Builds a valid SubmitOrder whose encoding is exactly total bytes, using
 * a customer string of the right length (total >= 2^14 + 6). */
static void pack_order_of_size(size_t total, uint8_t **buf, size_t *len,
    char **pad)
{
	/* version (2 bytes) + customer tag (1) + length varint (3 bytes for
	 * lengths in [2^14, 2^21)) + the string. */
	size_t n = total - 6;
	assert_true(n >= (1u << 14) && n < (1u << 21));
	*pad = malloc(n + 1);
	assert_non_null(*pad);
	memset(*pad, 'c', n);
	(*pad)[n] = '\0';
	Dropnet__SubmitOrder m = DROPNET__SUBMIT_ORDER__INIT;
	m.version = DN_PROTO_VERSION;
	m.customer = *pad;
	pack_order(&m, buf, len);
	assert_int_equal(*len, total);
}

/* Goal: a well-formed message of exactly DN_MSG_MAX_BYTES decodes; one
 * byte more is DN_EPROTO before any decoding. */
static void test_codec_size_cap(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *pad = NULL;
	Dropnet__SubmitOrder *m = NULL;

	pack_order_of_size(DN_MSG_MAX_BYTES, &buf, &len, &pad);
	assert_int_equal(codec_submit_order_unpack(buf, len, &m), 0);
	assert_non_null(m);
	assert_int_equal(strlen(m->customer), DN_MSG_MAX_BYTES - 6);
	codec_submit_order_free(m);
	free(buf);
	free(pad);

	pack_order_of_size(DN_MSG_MAX_BYTES + 1, &buf, &len, &pad);
	assert_int_equal(codec_submit_order_unpack(buf, len, &m), DN_EPROTO);
	assert_null(m);
	free(buf);
	free(pad);
}

/* Goal: the inner messages (events, commands) carry no version and
 * decode with 0; their garbage is still DN_EPROTO. */
static void test_codec_inner_messages(void **state)
{
	(void)state;
	Dropnet__HubEvent ev = DROPNET__HUB_EVENT__INIT;
	ev.seq = 42;
	ev.kind = DROPNET__EVENT_KIND__EV_ADJUSTED;
	ev.sku = "tee";
	ev.qty = -3;
	uint8_t *buf = NULL;
	size_t len = 0;
	Dropnet__HubEvent *out = NULL;
	assert_int_equal(codec_hub_event_pack(&ev, &buf, &len), 0);
	assert_int_equal(codec_hub_event_unpack(buf, len, &out), 0);
	assert_non_null(out);
	assert_int_equal(out->seq, 42);
	assert_int_equal(out->kind, DROPNET__EVENT_KIND__EV_ADJUSTED);
	assert_int_equal(out->qty, -3);
	assert_string_equal(out->sku, "tee");
	codec_hub_event_free(out);
	free(buf);

	static const uint8_t bad[] = { 0x0a, 0x09, 'x' };
	Dropnet__HubCommand *c = NULL;
	assert_int_equal(codec_hub_command_unpack(bad, sizeof(bad), &c),
	    DN_EPROTO);
	assert_null(c);
	/* Free functions accept NULL. */
	codec_hub_command_free(NULL);
	codec_submit_order_free(NULL);
	codec_order_ack_free(NULL);
}

/* The largest valid hub sync request: DN_STREAM_BATCH_MAX events of
 * DN_ORDER_LINES_MAX lines with DN_ID_MAX-long SKUs, DN_STOCK_REPORT_MAX
 * stock levels. Packed into *buf (caller frees). */
static void pack_full_sync(uint8_t **buf, size_t *len)
{
	static char sku[DN_ID_MAX + 1];
	memset(sku, 's', DN_ID_MAX);
	static Dropnet__OrderLine line;
	static Dropnet__OrderLine *lines[DN_ORDER_LINES_MAX];
	static Dropnet__HubEvent ev[DN_STREAM_BATCH_MAX];
	static Dropnet__HubEvent *evp[DN_STREAM_BATCH_MAX];
	static Dropnet__StockLevel st[DN_STOCK_REPORT_MAX];
	static Dropnet__StockLevel *stp[DN_STOCK_REPORT_MAX];
	line = (Dropnet__OrderLine)DROPNET__ORDER_LINE__INIT;
	line.sku = sku;
	line.qty = DN_LINE_QTY_MAX;
	for (size_t i = 0; i < DN_ORDER_LINES_MAX; i++) {
		lines[i] = &line;
	}
	for (size_t i = 0; i < DN_STREAM_BATCH_MAX; i++) {
		ev[i] = (Dropnet__HubEvent)DROPNET__HUB_EVENT__INIT;
		ev[i].seq = 1000000 + i;
		ev[i].sku = sku;
		ev[i].n_lines = DN_ORDER_LINES_MAX;
		ev[i].lines = lines;
		evp[i] = &ev[i];
	}
	for (size_t i = 0; i < DN_STOCK_REPORT_MAX; i++) {
		st[i] = (Dropnet__StockLevel)DROPNET__STOCK_LEVEL__INIT;
		st[i].sku = sku;
		stp[i] = &st[i];
	}
	Dropnet__HubSyncRequest r = DROPNET__HUB_SYNC_REQUEST__INIT;
	r.version = DN_PROTO_VERSION;
	r.n_events = DN_STREAM_BATCH_MAX;
	r.events = evp;
	r.n_stock = DN_STOCK_REPORT_MAX;
	r.stock = stp;
	assert_int_equal(codec_hub_sync_request_pack(&r, buf, len), 0);
}

/* Goal: a small message cannot unpack into a huge one. 1 MiB of empty
 * repeated events (protobuf-c would allocate ~80 MiB) is refused as
 * DN_EPROTO and leaves nothing allocated; the largest valid sync batch
 * still unpacks; holding such batches stops at DN_UNPACK_LIVE_MAX and
 * works again once they are freed. */
static void test_codec_unpack_budget(void **state)
{
	(void)state;
	size_t bomb_len = DN_MSG_MAX_BYTES;
	uint8_t *bomb = malloc(bomb_len);
	assert_non_null(bomb);
	bomb[0] = 0x08; /* version = 1 */
	bomb[1] = 0x01;
	for (size_t i = 2; i + 1 < bomb_len; i += 2) {
		bomb[i] = 0x22; /* field 4 (events), length-delimited */
		bomb[i + 1] = 0x00;
	}
	unsigned long long refused = codec_refusals_get();
	Dropnet__HubSyncRequest *m = NULL;
	assert_int_equal(codec_hub_sync_request_unpack(bomb, bomb_len, &m), DN_EPROTO);
	assert_null(m);
	assert_int_equal(codec_live_bytes_get(), 0);
	assert_int_equal(codec_refusals_get(), refused + 1);
	free(bomb);

	uint8_t *buf = NULL;
	size_t len = 0;
	pack_full_sync(&buf, &len);
	assert_true(len <= DN_HUBSYNC_MSG_MAX);
	enum { HELD_MAX = 64 };
	Dropnet__HubSyncRequest *held[HELD_MAX] = { 0 };
	size_t n = 0;
	int rv = 0;
	while (n < HELD_MAX && (rv = codec_hub_sync_request_unpack(buf, len, &held[n])) == 0) {
		assert_int_equal(held[n]->n_events, DN_STREAM_BATCH_MAX);
		n++;
	}
	/* At least one fits, and the live budget stops them well before 64. */
	assert_true(n >= 1);
	assert_true(n < HELD_MAX);
	assert_int_equal(rv, DN_EPROTO);
	assert_true(codec_live_bytes_get() <= DN_UNPACK_LIVE_MAX);
	for (size_t i = 0; i < n; i++) {
		codec_hub_sync_request_free(held[i]);
	}
	assert_int_equal(codec_live_bytes_get(), 0);
	assert_int_equal(codec_hub_sync_request_unpack(buf, len, &held[0]), 0);
	codec_hub_sync_request_free(held[0]);
	assert_int_equal(codec_live_bytes_get(), 0);
	free(buf);
}

/* Goal: status names are the .proto names, unknown values are "UNKNOWN",
 * and parse is the exact inverse (case-sensitive, no partial names). */
static void test_codec_status_names(void **state)
{
	(void)state;
	Dropnet__Status s = DROPNET__STATUS__STATUS_UNSPECIFIED;
	assert_string_equal(codec_status_name(DROPNET__STATUS__ACCEPTED),
	    "ACCEPTED");
	assert_string_equal(codec_status_name(DROPNET__STATUS__NO_HUB_IN_RANGE),
	    "NO_HUB_IN_RANGE");
	assert_string_equal(codec_status_name((Dropnet__Status)99), "UNKNOWN");
	assert_string_equal(codec_status_name((Dropnet__Status)-1), "UNKNOWN");
	for (int v = 0; v <= DROPNET__STATUS__OK; v++) {
		const char *name = codec_status_name((Dropnet__Status)v);
		assert_string_not_equal(name, "UNKNOWN");
		assert_int_equal(codec_status_parse(name, &s), 0);
		assert_int_equal(s, v);
	}
	assert_int_equal(codec_status_parse("SOLD_OUT", &s), 0);
	assert_int_equal(s, DROPNET__STATUS__SOLD_OUT);
	s = DROPNET__STATUS__OK;
	assert_int_equal(codec_status_parse("sold_out", &s), DN_EINVAL);
	assert_int_equal(codec_status_parse("SOLD", &s), DN_EINVAL);
	assert_int_equal(codec_status_parse("", &s), DN_EINVAL);
	assert_int_equal(codec_status_parse("UNKNOWN", &s), DN_EINVAL);
	assert_int_equal(s, DROPNET__STATUS__OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_submit_order_round_trip),
		cmocka_unit_test(test_codec_order_ack_round_trip),
		cmocka_unit_test(test_codec_garbage),
		cmocka_unit_test(test_codec_truncated),
		cmocka_unit_test(test_codec_wrong_version),
		cmocka_unit_test(test_codec_size_cap),
		cmocka_unit_test(test_codec_inner_messages),
		cmocka_unit_test(test_codec_status_names),
		cmocka_unit_test(test_codec_unpack_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
