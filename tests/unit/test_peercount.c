/*
 * test_peercount.c - unit tests for common/core/peercount.c: the per-peer
 * in-flight count behind the sockets' per-connection cap (bridge.c). The
 * cap holds per id and not across ids; counts come back to zero and the
 * slot is reused; removal keeps colliding ids reachable; a random
 * take/put sequence agrees with a plain array model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/peercount.h"

/* Goal: peercount_slots gives a power of two of at least twice the holds. */
static void test_slots(void **state)
{
	(void)state;
	assert_int_equal(peercount_slots(0), 2);
	assert_int_equal(peercount_slots(1), 2);
	assert_int_equal(peercount_slots(3), 8);
	assert_int_equal(peercount_slots(256), 512);
	assert_int_equal(peercount_slots(257), 1024);
}

/* Goal: one peer gets max takes and no more; another peer is not
 * affected by the first being at its cap; a put frees one place. */
static void test_cap_per_peer(void **state)
{
	(void)state;
	peercount_slot s[16] = {{0, 0}};
	peercount pc;
	peercount_init(&pc, s, 16, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(peercount_take(&pc, 7));
	}
	assert_false(peercount_take(&pc, 7));
	assert_int_equal(peercount_get(&pc, 7), 3);
	assert_true(peercount_take(&pc, 8));
	assert_int_equal(peercount_get(&pc, 8), 1);
	assert_int_equal(pc.held, 4);
	peercount_put(&pc, 7);
	assert_int_equal(peercount_get(&pc, 7), 2);
	assert_true(peercount_take(&pc, 7));
	assert_false(peercount_take(&pc, 7));
	assert_int_equal(pc.held, 4);
}

/* Goal: a count that returns to 0 empties its slot (the table does not
 * fill with closed connections' ids), and max 0 counts without a cap. */
static void test_back_to_zero(void **state)
{
	(void)state;
	peercount_slot s[8] = {{0, 0}};
	peercount pc;
	peercount_init(&pc, s, 8, 0);
	for (uint32_t id = 1; id <= 1000; id++) {
		for (int k = 0; k < 3; k++) {
			assert_true(peercount_take(&pc, id));
		}
		for (int k = 0; k < 3; k++) {
			peercount_put(&pc, id);
		}
	}
	assert_int_equal(pc.held, 0);
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(s[i].id, 0);
		assert_int_equal(s[i].count, 0);
	}
	assert_int_equal(peercount_get(&pc, 5), 0);
	assert_int_equal(peercount_get(&pc, 0), 0);
}

/* Goal: with a table nearly full of colliding ids, removing any one
 * leaves every other reachable with its own count (the backward shift). */
static void test_remove_keeps_runs(void **state)
{
	(void)state;
	for (uint32_t victim = 1; victim <= 7; victim++) {
		peercount_slot s[8] = {{0, 0}};
		peercount pc;
		peercount_init(&pc, s, 8, 100);
		for (uint32_t id = 1; id <= 7; id++) {
			for (uint32_t k = 0; k < id; k++) {
				assert_true(peercount_take(&pc, id * 8));
			}
		}
		for (uint32_t k = 0; k < victim; k++) {
			peercount_put(&pc, victim * 8);
		}
		for (uint32_t id = 1; id <= 7; id++) {
			assert_int_equal(peercount_get(&pc, id * 8), id == victim ? 0 : id);
		}
	}
}

/* Goal: 200,000 random takes and puts over 40 ids (at most 64 held,
 * max 5 each) agree at every step with an array of counts. */
static void test_random_model(void **state)
{
	(void)state;
	enum { IDS = 40, HOLDS = 64 };
	size_t n = peercount_slots(HOLDS);
	peercount_slot *s = calloc(n, sizeof(*s));
	assert_non_null(s);
	peercount pc;
	peercount_init(&pc, s, n, 5);
	uint32_t model[IDS + 1] = {0};
	size_t held = 0;
	srand(9);
	for (int step = 0; step < 200000; step++) {
		uint32_t id = (uint32_t)(rand() % IDS) + 1;
		/* sparse ids, as nng's pipe ids grow */
		uint32_t key = id * 1009u + 0x40000000u;
		if (rand() % 2 == 0 && held < HOLDS) {
			bool ok = peercount_take(&pc, key);
			assert_int_equal(ok, model[id] < 5);
			if (ok) {
				model[id]++;
				held++;
			}
		} else if (model[id] > 0) {
			peercount_put(&pc, key);
			model[id]--;
			held--;
		}
		assert_int_equal(peercount_get(&pc, key), model[id]);
		assert_int_equal(pc.held, held);
	}
	for (uint32_t id = 1; id <= IDS; id++) {
		assert_int_equal(peercount_get(&pc, id * 1009u + 0x40000000u), model[id]);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_cap_per_peer),
		cmocka_unit_test(test_back_to_zero),
		cmocka_unit_test(test_remove_keeps_runs),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
