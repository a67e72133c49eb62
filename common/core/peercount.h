/*
 * peercount.h - requests in flight per peer (a client connection's id),
 * with a cap: one peer must not hold every context of a socket, so the
 * others still get served (issue 9, "a cap on requests in flight per
 * peer"). Pure logic: the caller provides the table's memory and its
 * lock (common/io/bridge.c holds it under the bridge's mutex).
 *
 * An open-addressing hash of (id, count) with linear probing; an entry
 * whose count falls to 0 is removed by shifting its run back (no
 * tombstones), so the table never fills with dead ids. Invariant: the
 * table has more slots than ids can have a count at once (the caller
 * sizes it from the takes it can hold - its context count - with
 * peercount_slots), so a probe always ends at an empty slot.
 */
#ifndef DN_PEERCOUNT_H
#define DN_PEERCOUNT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t id;    /* 0: empty slot */
	uint32_t count; /* > 0 when id != 0 */
} peercount_slot;

typedef struct {
	peercount_slot *slots;
	size_t nslots;  /* a power of two, > the takes that can be held */
	uint32_t max;   /* the cap per id; 0: no cap (count only) */
	size_t held;    /* takes not yet put back, all ids */
	size_t used;    /* ids with a count (slots in use) */
} peercount;

/* Slots for a table that holds at most `holds` takes at once (a power of
 * two of at least 2 x holds, so probes stay short). */
size_t peercount_slots(size_t holds);

/* slots: nslots (from peercount_slots) zeroed entries, owned by the
 * caller and outliving pc. max: the cap per id (0: none). */
void peercount_init(peercount *pc, peercount_slot *slots, size_t nslots, uint32_t max);

/* One more request of peer id (id != 0): true and counted, or false
 * (the peer already has max in flight; nothing counted). */
bool peercount_take(peercount *pc, uint32_t id);

/* A request of id counted by peercount_take has ended. */
void peercount_put(peercount *pc, uint32_t id);

/* Requests of id in flight now (0 if none). */
uint32_t peercount_get(const peercount *pc, uint32_t id);

#endif
