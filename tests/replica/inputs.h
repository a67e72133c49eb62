/*
 * inputs.h - real machine inputs for the replica tests, packed with the real
 * codec: a hub sync from test hub "london" and a one-line storefront order
 * to a ship-to inside its radius, built by the machine tests' packers
 * (tests/machine/pack.h).
 */
#ifndef DN_TEST_INPUTS_H
#define DN_TEST_INPUTS_H
#include <stdint.h>
#include "../machine/pack.h"

/* A hub sync from "london" (registering it); with seq > 0 it also reports
 * qty of sku received as event seq. *buf is malloc'd; 0 or DN_ENOMEM. */
static inline int in_hubsync(uint64_t seq, const char *sku, int64_t qty, int64_t wall,
    uint8_t **buf, size_t *len)
{
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	if (seq > 0) {
		mt_event_received(&e, seq, sku, qty, wall);
	}
	return mt_pack_hub_sync(&ep, seq > 0 ? 1 : 0, buf, len);
}

/* A one-line order (customer = key) of qty sku. */
static inline int in_order(const char *key, const char *sku, uint32_t qty, uint8_t **buf,
    size_t *len)
{
	const mt_order_spec spec = {.key = key, .customer = key, .sku = sku, .qty = qty,
	    .lat = MT_LAT, .lon = MT_LON};
	return mt_pack_order(&spec, buf, len);
}

#endif
