/*
 * peercount.c - requests in flight per peer (see peercount.h).
 */
#include <assert.h>
#include "core/peercount.h"

size_t peercount_slots(size_t holds)
{
	size_t n = 2;
	while (n < 2 * holds) {
		n *= 2;
	}
	return n;
}

void peercount_init(peercount *pc, peercount_slot *slots, size_t nslots, uint32_t max)
{
	assert(nslots >= 2 && (nslots & (nslots - 1)) == 0);
	pc->slots = slots;
	pc->nslots = nslots;
	pc->max = max;
	pc->held = 0;
	pc->used = 0;
}

/* A multiplicative hash: nng hands out pipe ids in sequence. */
static size_t pc_home(const peercount *pc, uint32_t id)
{
	return (size_t)((id * 2654435761u) & (uint32_t)(pc->nslots - 1));
}

/* The slot of id, or the empty slot that ends its probe. */
static size_t pc_find(const peercount *pc, uint32_t id)
{
	size_t mask = pc->nslots - 1;
	size_t i = pc_home(pc, id);
	while (pc->slots[i].id != 0 && pc->slots[i].id != id) {
		i = (i + 1) & mask;
	}
	return i;
}

bool peercount_take(peercount *pc, uint32_t id)
{
	assert(id != 0);
	size_t i = pc_find(pc, id);
	peercount_slot *s = &pc->slots[i];
	if (s->id == 0) {
		/* The caller's bound: an empty slot always remains, so
		 * pc_find ends. */
		assert(pc->used + 1 < pc->nslots);
		pc->used++;
		s->id = id;
		s->count = 0;
	} else if (pc->max != 0 && s->count >= pc->max) {
		return false;
	}
	s->count++;
	pc->held++;
	return true;
}

/* Removes slot i and shifts the rest of its run back over it, so every
 * entry stays reachable from its home slot without a tombstone. */
static void pc_remove(peercount *pc, size_t i)
{
	size_t mask = pc->nslots - 1;
	size_t j = i;
	for (;;) {
		pc->slots[i].id = 0;
		pc->slots[i].count = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (pc->slots[j].id == 0) {
				return;
			}
			size_t home = pc_home(pc, pc->slots[j].id);
			/* j's entry may move to i only if its home is not in the
			 * cyclic range (i, j]. */
			bool in_range = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (!in_range) {
				break;
			}
		}
		pc->slots[i] = pc->slots[j];
		i = j;
	}
}

void peercount_put(peercount *pc, uint32_t id)
{
	size_t i = pc_find(pc, id);
	/* Only what peercount_take counted comes back. */
	assert(pc->slots[i].id == id && pc->slots[i].count > 0 && pc->held > 0);
	pc->held--;
	if (--pc->slots[i].count == 0) {
		pc->used--;
		pc_remove(pc, i);
	}
}

uint32_t peercount_get(const peercount *pc, uint32_t id)
{
	if (id == 0) {
		return 0;
	}
	return pc->slots[pc_find(pc, id)].count;
}
