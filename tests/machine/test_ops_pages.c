/*
 * test_ops_pages.c - an ops reply never goes over one message
 * (DN_MSG_MAX_BYTES), which every client's socket would drop unread: a
 * list that long is paged (OpsRequest.after / limit, OpsReply.next) and
 * every row arrives exactly once, in order; asked whole (limit 0, an old
 * client) it is answered INVALID with its size, never sent. Here: 8 hubs
 * with 64-character ids each stock 1,600 SKUs (12,800 stock rows, ~1.5 MB
 * as one reply).
 *
 * The real coordinator machine on a real SQLite file (tests/machine/harness.h).
 */
#include "harness.h"

#define HUBS 8u
#define SKUS 1600u   /* per hub: within DN_HUB_SKUS_MAX */

static void hub_id(size_t k, char *id, size_t len)
{
	/* 64 characters: the longest id, the biggest rows. */
	snprintf(id, len, "hub-%02zu-%057d", k, 0);
}

static void sku_name(size_t s, char *sku, size_t len)
{
	snprintf(sku, len, "sku-%05zu-long-enough-to-weigh-something", s);
}

/* Hub k's sync carrying the receipt of SKUs [from, from + n), events
 * seq from + 1 on. */
static void sync_receipts(mt *m, size_t k, size_t from, size_t n)
{
	char id[DN_ID_MAX + 1], skus[DN_STREAM_BATCH_MAX][64];
	hub_id(k, id, sizeof(id));
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = id;
	hello.name = id;
	hello.lat = 51.0 + 0.1 * (double)k;
	hello.lon = -1.0;
	hello.radius_km = 50.0;
	Dropnet__HubEvent e[DN_STREAM_BATCH_MAX], *ep[DN_STREAM_BATCH_MAX];
	assert_true(n <= DN_STREAM_BATCH_MAX);
	for (size_t i = 0; i < n; i++) {
		dropnet__hub_event__init(&e[i]);
		sku_name(from + i, skus[i], sizeof(skus[i]));
		mt_event_received(&e[i], from + i + 1, skus[i], 7, MT_WALL0);
		ep[i] = &e[i];
	}
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	q.event_acked = from;
	q.n_events = n;
	q.events = ep;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(codec_hub_sync_request_pack(&q, &buf, &len), 0);
	Dropnet__HubSyncReply *rep = mt_hub_sync_bytes(m, buf, len);
	assert_int_equal(rep->status, DROPNET__STATUS__OK);
	assert_int_equal(rep->event_applied, from + n);
	codec_hub_sync_reply_free(rep);
	free(buf);
}

static void open_stocked(mt *m)
{
	mt_prepare(m, NULL);
	m->c->cfg.hubs_max = 64;
	mt_open_at(m);
	for (size_t k = 0; k < HUBS; k++) {
		for (size_t s = 0; s < SKUS; s += DN_STREAM_BATCH_MAX) {
			size_t n = SKUS - s < DN_STREAM_BATCH_MAX ? SKUS - s : DN_STREAM_BATCH_MAX;
			sync_receipts(m, k, s, n);
		}
	}
	assert_int_equal(m->c->stock_len, HUBS * SKUS);
}

/* One OPS_STOCK (or OPS_HUBS) request; mt_ops asserts that its reply
 * unpacks, which a reply over DN_MSG_MAX_BYTES would not. */
static Dropnet__OpsReply *ask(mt *m, Dropnet__OpsKind kind, const char *only_hub,
    const char *after, uint32_t limit)
{
	Dropnet__OpsRequest q = DROPNET__OPS_REQUEST__INIT;
	q.kind = kind;
	q.hub = (char *)(only_hub != NULL ? only_hub : "");
	q.after = (char *)(after != NULL ? after : "");
	q.limit = limit;
	return mt_ops(m, &q);
}

/* Goal: every stock row arrives once, in (sku, hub) order, over pages
 * that each fit one message; the last page has no cursor. Also with a
 * small limit: pages of exactly that many rows. */
static void test_stock_pages(void **state)
{
	(void)state;
	mt m;
	open_stocked(&m);
	const uint32_t limits[] = {100000, 1000};
	for (size_t l = 0; l < 2; l++) {
		char after[2 * DN_ID_MAX + 2] = "", prev_sku[64] = "", prev_hub[DN_ID_MAX + 1] = "";
		size_t rows = 0, pages = 0;
		for (;;) {
			Dropnet__OpsReply *r = ask(&m, DROPNET__OPS_KIND__OPS_STOCK, NULL, after,
			    limits[l]);
			assert_int_equal(r->status, DROPNET__STATUS__OK);
			assert_true(r->n_stock > 0 && r->n_stock <= limits[l]);
			for (size_t i = 0; i < r->n_stock; i++) {
				int d = strcmp(prev_sku, r->stock[i]->sku);
				assert_true(d < 0 || (d == 0 && strcmp(prev_hub, r->stock[i]->hub) < 0));
				snprintf(prev_sku, sizeof(prev_sku), "%s", r->stock[i]->sku);
				snprintf(prev_hub, sizeof(prev_hub), "%s", r->stock[i]->hub);
				assert_int_equal(r->stock[i]->on_hand, 7);
			}
			rows += r->n_stock;
			pages++;
			bool last = r->next[0] == '\0';
			if (!last) {
				assert_true(strlen(r->next) < sizeof(after));
				snprintf(after, sizeof(after), "%s", r->next);
				if (limits[l] == 1000) {
					assert_int_equal(r->n_stock, 1000);
				}
			}
			codec_ops_reply_free(r);
			if (last) {
				break;
			}
		}
		assert_int_equal(rows, HUBS * SKUS);
		assert_true(pages >= 2);
		if (limits[l] == 1000) {
			assert_int_equal(pages, (HUBS * SKUS + 999) / 1000);
		}
	}
	/* One hub's rows fit one message: a filter works page-less too. */
	char id[DN_ID_MAX + 1];
	hub_id(3, id, sizeof(id));
	Dropnet__OpsReply *r = ask(&m, DROPNET__OPS_KIND__OPS_STOCK, id, NULL, 0);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_int_equal(r->n_stock, SKUS);
	assert_string_equal(r->next, "");
	codec_ops_reply_free(r);
	mt_close(&m);
}

/* Goal: asked whole (limit 0: a client from before paging), a list over
 * one message is answered INVALID with its size - not sent and dropped;
 * a cursor that is not one is INVALID too. */
static void test_stock_too_large(void **state)
{
	(void)state;
	mt m;
	open_stocked(&m);
	Dropnet__OpsReply *r = ask(&m, DROPNET__OPS_KIND__OPS_STOCK, NULL, NULL, 0);
	assert_int_equal(r->status, DROPNET__STATUS__INVALID);
	assert_int_equal(r->n_stock, 0);
	assert_non_null(strstr(r->message, "over the 1048576-byte message limit"));
	assert_non_null(strstr(r->message, "--hub"));
	codec_ops_reply_free(r);
	const char *bad[] = {"no-space", " hub", "sku ", "sku a,b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = ask(&m, DROPNET__OPS_KIND__OPS_STOCK, NULL, bad[i], 10);
		assert_int_equal(r->status, DROPNET__STATUS__INVALID);
		assert_non_null(strstr(r->message, "after"));
		codec_ops_reply_free(r);
	}
	/* A cursor past every row: an empty last page. */
	r = ask(&m, DROPNET__OPS_KIND__OPS_STOCK, NULL, "~ ~", 10);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_int_equal(r->n_stock, 0);
	assert_string_equal(r->next, "");
	codec_ops_reply_free(r);
	mt_close(&m);
}

/* Goal: OPS_HUBS pages in registry order, its cursor the last hub's id;
 * an unknown cursor is INVALID; limit 0 is the whole registry. */
static void test_hubs_pages(void **state)
{
	(void)state;
	mt m;
	mt_prepare(&m, NULL);
	m.c->cfg.hubs_max = 64;
	mt_open_at(&m);
	for (size_t k = 0; k < HUBS; k++) {
		sync_receipts(&m, k, 0, 1);
	}
	char after[DN_ID_MAX + 1] = "", id[DN_ID_MAX + 1];
	size_t seen = 0, pages = 0;
	for (;;) {
		Dropnet__OpsReply *r = ask(&m, DROPNET__OPS_KIND__OPS_HUBS, NULL, after, 3);
		assert_int_equal(r->status, DROPNET__STATUS__OK);
		for (size_t i = 0; i < r->n_hubs; i++) {
			hub_id(seen++, id, sizeof(id));
			assert_string_equal(r->hubs[i]->id, id);
		}
		pages++;
		bool last = r->next[0] == '\0';
		if (!last) {
			assert_int_equal(r->n_hubs, 3);
			assert_string_equal(r->next, r->hubs[2]->id);
			snprintf(after, sizeof(after), "%s", r->next);
		}
		codec_ops_reply_free(r);
		if (last) {
			break;
		}
	}
	assert_int_equal(seen, HUBS);
	assert_int_equal(pages, 3);
	Dropnet__OpsReply *r = ask(&m, DROPNET__OPS_KIND__OPS_HUBS, NULL, "nobody", 3);
	assert_int_equal(r->status, DROPNET__STATUS__INVALID);
	codec_ops_reply_free(r);
	r = ask(&m, DROPNET__OPS_KIND__OPS_HUBS, NULL, NULL, 0);
	assert_int_equal(r->status, DROPNET__STATUS__OK);
	assert_int_equal(r->n_hubs, HUBS);
	assert_string_equal(r->next, "");
	codec_ops_reply_free(r);
	mt_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stock_pages),
		cmocka_unit_test(test_stock_too_large),
		cmocka_unit_test(test_hubs_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
