/*
 * pack.h - the machine tests' inputs, packed with the real codec: a hub sync
 * from test hub "london" and a one-line storefront order. Pure builders that
 * return the codec's status and assert nothing, so the cmocka harness
 * (harness.h) and the replica tests (tests/replica/inputs.h) share them.
 * Every *buf is malloc'd by the codec; the caller frees it.
 */
#ifndef MACHINE_PACK_H
#define MACHINE_PACK_H
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "io/codec.h"

/* Where the test hub sits, and a ship-to inside its radius. */
#define MT_LAT 51.5074
#define MT_LON -0.1278

/* An EV_RECEIVED event: qty of sku into bin MAIN, as event seq at wall. */
static inline void mt_event_received(Dropnet__HubEvent *e, uint64_t seq, const char *sku,
    int64_t qty, int64_t wall)
{
	e->seq = seq;
	e->kind = DROPNET__EVENT_KIND__EV_RECEIVED;
	e->sku = (char *)sku;
	e->qty = qty;
	e->bin = "MAIN";
	e->time_ms = wall;
}

/* A hub sync from "london" (its hello registers it, 50 km around the test
 * ship-to) carrying events[0..n). 0 or the codec's error. */
static inline int mt_pack_hub_sync(Dropnet__HubEvent **events, size_t n, uint8_t **buf,
    size_t *len)
{
	Dropnet__HubHello hello = DROPNET__HUB_HELLO__INIT;
	hello.id = "london";
	hello.name = "london";
	hello.lat = MT_LAT;
	hello.lon = MT_LON;
	hello.radius_km = 50;
	Dropnet__HubSyncRequest q = DROPNET__HUB_SYNC_REQUEST__INIT;
	q.version = DN_PROTO_VERSION;
	q.hello = &hello;
	q.n_events = n;
	q.events = n > 0 ? events : NULL;
	return codec_hub_sync_request_pack(&q, buf, len);
}

/* One SubmitOrder line and its envelope; NULL drop and tier are "". */
typedef struct {
	const char *key;
	const char *customer;
	const char *drop;
	const char *tier;
	const char *sku;
	uint32_t qty;
	uint32_t hold_seconds;
	Dropnet__OrderAction action;
	double lat;
	double lon;
} mt_order_spec;

/* A one-line SubmitOrder as spec says. 0 or the codec's error. */
static inline int mt_pack_order(const mt_order_spec *s, uint8_t **buf, size_t *len)
{
	Dropnet__OrderLine l = DROPNET__ORDER_LINE__INIT;
	Dropnet__OrderLine *lp = &l;
	l.sku = (char *)s->sku;
	l.qty = s->qty;
	Dropnet__SubmitOrder o = DROPNET__SUBMIT_ORDER__INIT;
	o.version = DN_PROTO_VERSION;
	o.order_key = (char *)s->key;
	o.customer = (char *)s->customer;
	o.n_lines = 1;
	o.lines = &lp;
	o.lat = s->lat;
	o.lon = s->lon;
	o.drop_id = (char *)(s->drop != NULL ? s->drop : "");
	o.tier = (char *)(s->tier != NULL ? s->tier : "");
	o.hold_seconds = s->hold_seconds;
	o.action = s->action;
	return codec_submit_order_pack(&o, buf, len);
}

#endif
