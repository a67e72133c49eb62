/*
 * outbox.c - what the coordinator machine has decided to publish on its
 * pub socket (region signals, rebalance.c; price and availability
 * changes, feed.c), held as data until the shell takes it.
 *
 * The machine never sends: a call queues messages here, and the shell
 * publishes them after the call returned and its commits are durable
 * (coordinator/daemon/main.c: walsync first), so no subscriber hears of
 * something a crash could still undo. Every message is its topic followed
 * by the packed protobuf, exactly the bytes the pub socket sends.
 *
 * Also here, because stock.c sits below every other machine file: the
 * note of which SKUs a transaction touched (coord.feed_dirty), which tells
 * feed.c where to look after a batch.
 *
 * Bounds: COORD_OUTBOX_MAX messages; a message over it is dropped and
 * counted (metrics.outbox_dropped). The machine's thread only.
 */
#include <stdlib.h>
#include <string.h>
#include "coord.h"

typedef struct {
	uint8_t *buf;
	size_t len;
} outbox_msg;

struct coord_outbox {
	outbox_msg msgs[COORD_OUTBOX_MAX];
	size_t n;
};

void coord_outbox_push(coord *c, const char *topic, const uint8_t *body, size_t len)
{
	size_t tl = strlen(topic);
	if (c->outbox == NULL) {
		c->outbox = calloc(1, sizeof(*c->outbox));
	}
	struct coord_outbox *o = c->outbox;
	uint8_t *buf = o != NULL && o->n < COORD_OUTBOX_MAX ? malloc(tl + len) : NULL;
	if (buf == NULL) {
		c->metrics.outbox_dropped++;
		return;
	}
	memcpy(buf, topic, tl);
	memcpy(buf + tl, body, len);
	o->msgs[o->n++] = (outbox_msg){buf, tl + len};
}

size_t coord_outbox_len(const coord *c)
{
	return c->outbox != NULL ? c->outbox->n : 0;
}

void coord_outbox_take(coord *c, void (*fn)(void *arg, const uint8_t *msg, size_t len),
    void *arg)
{
	struct coord_outbox *o = c->outbox;
	for (size_t i = 0; o != NULL && i < o->n; i++) {
		if (fn != NULL) {
			fn(arg, o->msgs[i].buf, o->msgs[i].len);
		}
		free(o->msgs[i].buf);
	}
	if (o != NULL) {
		o->n = 0;
	}
}

void coord_outbox_free(coord *c)
{
	coord_outbox_take(c, NULL, NULL);
	free(c->outbox);
	c->outbox = NULL;
}

void coord_feed_touch(coord *c, const char *sku)
{
	if (c->feed_dirty.all) {
		return;
	}
	for (size_t i = 0; i < c->feed_dirty.n; i++) {
		if (strcmp(c->feed_dirty.sku[i], sku) == 0) {
			return;
		}
	}
	if (c->feed_dirty.n == COORD_FEED_DIRTY_MAX) {
		c->feed_dirty.all = true;
		return;
	}
	/* Ledger SKUs are validated ids of at most DN_ID_MAX bytes. */
	size_t n = strlen(sku);
	n = n > DN_ID_MAX ? DN_ID_MAX : n;
	memcpy(c->feed_dirty.sku[c->feed_dirty.n], sku, n);
	c->feed_dirty.sku[c->feed_dirty.n++][n] = '\0';
}
