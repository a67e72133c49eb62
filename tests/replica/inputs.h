/*
 * inputs.h - real machine inputs for the replica tests, packed with the real
 * codec: a hub sync from test hub "london" and a one-line storefront order
 * to a ship-to inside its radius.
 */
#ifndef DN_TEST_INPUTS_H
#define DN_TEST_INPUTS_H
#include <stdint.h>
#include "core/limits.h"
#include "io/codec.h"

#define IN_LAT 51.5074
#define IN_LON -0.1278

/* A hub sync from "london" (registering it); with seq > 0 it also reports
 * qty of sku received as event seq. *buf is malloc'd; 0 or DN_ENOMEM. */
static inline int in_hubsync(uint64_t seq, const char *sku, int64_t qty, int64_t wall,
    uint8_t **buf, size_t *len)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = "london";
	hello.name = "london";
	hello.lat = IN_LAT;
	hello.lon = IN_LON;
	hello.radius_km = 50;
	Dropnet__HubEvent e = DROPNET__HUB_EVENT__INIT;
	Dropnet__HubEvent *ep = &e;
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	if (seq > 0) {
		e.seq = seq;
		e.kind = DROPNET__EVENT_KIND__EV_RECEIVED;
		e.sku = (char *)sku;
		e.qty = qty;
		e.bin = "MAIN";
		e.time_ms = wall;
		q.n_events = 1;
		q.events = &ep;
	}
	return codec_hub_sync_request_pack(&q, buf, len);
}

/* A one-line order (customer = key) of qty sku. */
static inline int in_order(const char *key, const char *sku, uint32_t qty, uint8_t **buf,
    size_t *len)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lp = &l;
	l.sku = (char *)sku;
	l.qty = qty;
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	o.version = DN_PROTO_VERSION;
	o.order_key = (char *)key;
	o.customer = (char *)key;
	o.n_lines = 1;
	o.lines = &lp;
	o.lat = IN_LAT;
	o.lon = IN_LON;
	return codec_submit_order_pack(&o, buf, len);
}

#endif
