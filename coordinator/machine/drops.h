/*
 * drops.h - what drops.c (the life of a drop) gives drops_ops.c (the ops
 * requests about drops). Internal to coordinator/machine. Loop thread only.
 */
#ifndef DN_COORD_DROPS_H
#define DN_COORD_DROPS_H
#include <stdint.h>
#include "coord.h"

/* Fills d's tiers from its spec, none sold or released yet. */
void drops_fill_tiers(coord_drop *d);
/* The drop that is not closed and sells sku, or NULL. */
coord_drop *drops_active_for(coord *c, const char *sku);
/* Adds add_basis units to the holdback basis of (drop, hub, sku) and holds
 * back up to its target, as far as sellable allows; inside a transaction.
 * 0 or a DN_E* code. */
int drops_hold_basis(coord *c, const coord_drop *d, const Dropnet__DropSku *ds,
    int hub, int64_t add_basis, int64_t now);
/* Releases up to qty of sku held back at hub (-1: the hubs holding most
 * first), logged with reason; inside a transaction. Returns the units
 * released, or a DN_E* code. */
int64_t drops_release(coord *c, const coord_drop *d, int hub, const char *sku,
    int64_t qty, const char *reason, int64_t now);

#endif
