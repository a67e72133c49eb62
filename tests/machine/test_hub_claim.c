/*
 * test_hub_claim.c - a claim reads its candidates through two indexes
 * (hub store migration 5: orders_free in pick priority, orders_claimed per
 * operator) instead of scanning the open queue, and still takes what
 * pick_claim_choose takes from every open order.
 *
 * Goal, on a real hub.db in a temp folder holding 1,200 orders of every
 * tier, promise, size, state and claim (seeded, so the same every run):
 *  - for four operators (three with claims, one without) and claims of 1,
 *    2, 3 and PICK_BATCH_MAX orders, pick_claim_choose over the store's
 *    candidates chooses exactly what it chooses over all the orders;
 *  - the most urgent free order, an insider order received after every
 *    other, is what a one-order claim takes (the queue's oldest 500 by
 *    arrival, what a claim read before, did not hold it);
 *  - a one-order claim reads the operator's own unfinished orders and one
 *    free order, not the queue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "core/limits.h"
#include "core/pick.h"
#include "io/log.h"
#include "hub_store.h"

#define NORDERS 1200u
#define NOPS 4u

static const char *const ops[NOPS] = { "ann", "bob", "cy", "dee" };
static const char *const tiers[] = { "", "insider", "restock", "public", "vip" };
static const char *const skus[] = { "s0", "s1", "s2", "s3" };

typedef struct {
	hub_store *s;
	char dir[64];
	char path[128];
	pick_order *all; /* what the store holds, as loaded */
	uint64_t rng;
} ct;

static uint32_t rnd(ct *t, uint32_t n)
{
	t->rng = t->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(t->rng >> 33) % n;
}

/* Order i+1: random tier, promise, lines; then a random state and claim. */
static void order_make(ct *t, uint32_t i)
{
	pick_line_in lines[4];
	size_t n = 1 + rnd(t, 4);
	uint64_t id = i + 1;
	int64_t received = 1000000 + (int64_t)rnd(t, 600000);
	int64_t promised = rnd(t, 3) == 0 ? received + (int64_t)rnd(t, 3600000) : 0;
	const char *tier = tiers[rnd(t, 5)];
	char key[32];

	if (i == NORDERS - 1) {
		/* The most urgent, and the newest. */
		tier = "insider";
		received = 5000000;
		promised = 1;
		n = 1;
	}
	for (size_t l = 0; l < n; l++) {
		lines[l] = (pick_line_in){ skus[l], 1 + rnd(t, l == 0 ? 2 : 3), false };
	}
	snprintf(key, sizeof(key), "k%u", i);
	assert_int_equal(hub_store_order_insert(t->s, id, key, "c", received,
	    tier, promised, false, lines, n), 0);
	uint32_t fate = i == NORDERS - 1 ? 0 : rnd(t, 10);
	if (fate >= 4) {
		assert_int_equal(hub_store_order_claim_set(t->s, id,
		    ops[rnd(t, NOPS - 1)]), 0);
	}
	if (fate >= 6) {
		pick_order o;
		static const pick_order_state st[] = { PICK_ORDER_PICKING,
		    PICK_ORDER_PICKED, PICK_ORDER_PACKED, PICK_ORDER_SHIPPED };
		assert_int_equal(hub_store_order_load(t->s, id, &o), 0);
		o.state = st[fate - 6];
		assert_int_equal(hub_store_order_save(t->s, &o, received), 0);
	}
	if (fate == 3) {
		pick_order o;
		assert_int_equal(hub_store_order_load(t->s, id, &o), 0);
		o.state = PICK_ORDER_PICKING;
		assert_int_equal(hub_store_order_save(t->s, &o, received), 0);
	}
	assert_int_equal(hub_store_order_load(t->s, id, &t->all[i]), 0);
}

static void ct_open(ct *t)
{
	log_set_level(LOG_WARN);
	memset(t, 0, sizeof(*t));
	t->rng = 8;
	snprintf(t->dir, sizeof(t->dir), "/tmp/dropnet-hc-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/hub.db", t->dir);
	assert_int_equal(hub_store_open(&t->s, t->path), 0);
	t->all = calloc(NORDERS, sizeof(*t->all));
	assert_non_null(t->all);
	assert_int_equal(hub_store_begin(t->s), 0);
	for (uint32_t i = 0; i < NORDERS; i++) {
		order_make(t, i);
	}
	assert_int_equal(hub_store_commit(t->s), 0);
}

static void ct_close(ct *t)
{
	hub_store_close(t->s);
	const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
	free(t->all);
}

/* The own unfinished orders of op. */
static size_t own_count(const ct *t, const char *op)
{
	size_t n = 0;
	for (uint32_t i = 0; i < NORDERS; i++) {
		const pick_order *o = &t->all[i];
		n += strcmp(o->claimed_by, op) == 0 && o->state != PICK_ORDER_SHIPPED
		    && o->state != PICK_ORDER_SHORTED ? 1 : 0;
	}
	return n;
}

static void test_claims_match_full_choice(void **state)
{
	(void)state;
	ct t;
	const size_t wants[] = { 1, 2, 3, PICK_BATCH_MAX };
	ct_open(&t);
	for (size_t k = 0; k < NOPS; k++) {
		for (size_t w = 0; w < sizeof(wants) / sizeof(wants[0]); w++) {
			size_t exp[PICK_BATCH_MAX], got[PICK_BATCH_MAX];
			size_t nexp = 0, ngot = 0, ncand = 0;
			const pick_order *cand = NULL;
			pick_claim_choose(t.all, NORDERS, wants[w], ops[k], exp, &nexp);
			assert_int_equal(hub_store_claim_candidates(t.s,
			    DN_QUEUE_LIST_MAX, ops[k], wants[w], &cand, &ncand), 0);
			pick_claim_choose(cand, ncand, wants[w], ops[k], got, &ngot);
			assert_true(nexp > 0);
			assert_int_equal(ngot, nexp);
			for (size_t i = 0; i < nexp; i++) {
				assert_int_equal(cand[got[i]].order_id,
				    t.all[exp[i]].order_id);
			}
			if (wants[w] == 1) {
				/* Own ones and the one free order: no scan. */
				assert_int_equal(ncand, own_count(&t, ops[k]) + 1);
			}
			if (k == NOPS - 1 && wants[w] == 1) {
				/* No claims of its own: the newest order. */
				assert_int_equal(cand[got[0]].order_id, NORDERS);
			}
		}
	}
	ct_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_claims_match_full_choice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
