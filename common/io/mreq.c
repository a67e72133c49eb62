/*
 * mreq.c - requests as data for the machines (mreq.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "io/mreq.h"

void mreq_init(mreq *r, const uint8_t *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->body = body;
	r->len = len;
	r->peer_uid = -1;
}

void mreq_fini(mreq *r)
{
	if (r == NULL) {
		return;
	}
	free(r->reply);
	r->reply = NULL;
	r->reply_len = 0;
}

const uint8_t *mreq_body(const mreq *r, size_t *len)
{
	*len = r->len;
	return r->body;
}

void mreq_reply(mreq *r, const void *buf, size_t len)
{
	assert(!r->replied);
	r->replied = true;
	if (len == 0) {
		return;
	}
	r->reply = malloc(len);
	if (r->reply == NULL) {
		return;
	}
	memcpy(r->reply, buf, len);
	r->reply_len = len;
}

void mreq_reply_take(mreq *r, uint8_t *buf, size_t len)
{
	assert(!r->replied);
	r->replied = true;
	if (len == 0) {
		free(buf);
		return;
	}
	r->reply = buf;
	r->reply_len = len;
}
